"""Bring the lab up (or adopt what an earlier run left), take it down, report on it."""
import concurrent.futures
import ipaddress
import json
import os
import shutil
import socket
import subprocess
import time

from lab import certs, faults, image, kernels
from lab.config import ID_LABEL, LABEL, REPO_ROOT, LabConfig, LabError, lab_id, write_file
from lab.docker import docker, exec_in, inspect, is_running, require_engine
from lab.etcd_http import Client, EtcdHTTPError

NODE_SCRIPTS = os.path.join(REPO_ROOT, "lab", "node")
INVENTORY_FILE = os.path.join(REPO_ROOT, "inventory", "lab", "hosts.yml")
CERT_DIR = certs.CERT_DIR_ON_HOST
# kubespray's etcd timing (etcd_heartbeat_interval, etcd_election_timeout).
HEARTBEAT_MS = 250
ELECTION_MS = 5000
SSH_USER = image.SSH_USER


def current_config():
    """The settings of the lab that is up; a clear error when it is down."""
    config = LabConfig.load()
    if config is None or not is_running(config.mirror):
        raise LabError("the lab is down: run 'make lab-up' first")
    return config


# Files on the controller -------------------------------------------------------

def _prepare_files(config):
    """PKI, ssh keys, kernel packages, mirror repositories, fault and boot folders."""
    ssh_dir = config.path("ssh")
    os.makedirs(ssh_dir, mode=0o700, exist_ok=True)
    _ssh_key(os.path.join(ssh_dir, "id_ed25519"), "etcdlab-controller")
    ca_dir = config.path("pki", "ca")
    certs.make_ca(ca_dir)
    if not os.path.exists(config.client_tls["cert"]):
        certs.make_client_cert(ca_dir, config.path("pki", "client"))
    known_hosts = []
    for host in config.nodes:
        host_key = os.path.join(ssh_dir, host + "_host_ed25519_key")
        _ssh_key(host_key, host)
        with open(host_key + ".pub") as handle:
            key_type, key = handle.read().split()[:2]
        known_hosts.append("%s %s %s" % (config.ip(host), key_type, key))
        if not config.is_worker(host) and not os.path.exists(os.path.join(config.host_pki(host), "member-%s.pem" % host)):
            certs.make_host_certs(ca_dir, config.host_pki(host), host, config.ip(host))
        os.makedirs(os.path.join(config.faults_dir(host), "events"), exist_ok=True)
        os.makedirs(config.boot_state_dir(host), exist_ok=True)
    with open(os.path.join(ssh_dir, "known_hosts"), "w") as handle:
        handle.write("\n".join(known_hosts) + "\n")
    debs = kernels.build_pool(config.path("mirror", "pool"))
    for host in config.nodes:
        kernels.write_host_repo(config.path("mirror"), host, debs,
                                hide_fixed=faults.is_active(config, host, "kernel_missing"),
                                hide_extra=faults.is_active(config, host, "modules_extra_missing"))
    return debs


def _ssh_key(path, comment):
    if not os.path.exists(path):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", path],
                       check=True)


def kubespray_etcd_env(member, host, ip, initial_cluster):
    """A member's settings as kubespray's etcd.env gives them (its roles/etcd/templates/
    etcd.env.j2), with kubespray's timing and certificate names; initial_cluster is
    "name=peer URL,...". The lab's masters and the VM both use it."""
    return {
        "ETCD_NAME": member,
        "ETCD_DATA_DIR": "/var/lib/etcd",
        "ETCD_ADVERTISE_CLIENT_URLS": "https://%s:2379" % ip,
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": "https://%s:2380" % ip,
        "ETCD_INITIAL_CLUSTER_STATE": "new",
        "ETCD_INITIAL_CLUSTER_TOKEN": "k8s_etcd",
        "ETCD_INITIAL_CLUSTER": initial_cluster,
        "ETCD_LISTEN_CLIENT_URLS": "https://%s:2379,https://127.0.0.1:2379" % ip,
        "ETCD_LISTEN_PEER_URLS": "https://%s:2380" % ip,
        "ETCD_HEARTBEAT_INTERVAL": str(HEARTBEAT_MS),
        "ETCD_ELECTION_TIMEOUT": str(ELECTION_MS),
        # Pre-vote is not set, as in kubespray: etcd 3.4 leaves it off.
        "ETCD_METRICS": "basic",
        "ETCD_TRUSTED_CA_FILE": CERT_DIR + "/ca.pem",
        "ETCD_CERT_FILE": "%s/member-%s.pem" % (CERT_DIR, host),
        "ETCD_KEY_FILE": "%s/member-%s-key.pem" % (CERT_DIR, host),
        "ETCD_CLIENT_CERT_AUTH": "true",
        "ETCD_PEER_TRUSTED_CA_FILE": CERT_DIR + "/ca.pem",
        "ETCD_PEER_CERT_FILE": "%s/member-%s.pem" % (CERT_DIR, host),
        "ETCD_PEER_KEY_FILE": "%s/member-%s-key.pem" % (CERT_DIR, host),
        "ETCD_PEER_CLIENT_CERT_AUTH": "true",
    }


def kubespray_etcd_events_env(member, host, ip, initial_cluster):
    """The events member's settings, as kubespray's etcd-events.env.j2 gives them (from
    v2.18: client port 2383, peer port 2382); initial_cluster names the events members."""
    settings = kubespray_etcd_env(member + "-events", host, ip, initial_cluster)
    settings.update({
        "ETCD_DATA_DIR": "/var/lib/etcd-events",
        "ETCD_ADVERTISE_CLIENT_URLS": "https://%s:2383" % ip,
        "ETCD_INITIAL_ADVERTISE_PEER_URLS": "https://%s:2382" % ip,
        "ETCD_INITIAL_CLUSTER_TOKEN": "k8s_events_etcd",
        "ETCD_LISTEN_CLIENT_URLS": "https://%s:2383,https://127.0.0.1:2383" % ip,
        "ETCD_LISTEN_PEER_URLS": "https://%s:2382" % ip,
    })
    return settings


def env_file(settings):
    return "".join("%s=%s\n" % item for item in settings.items())


def _write_etcd_env(config, host):
    """The member's etcd.env, plus etcdctl's settings for `docker exec`."""
    initial_cluster = ",".join("%s=%s" % (config.member(h), config.peer_url(h)) for h in config.hosts)
    settings = kubespray_etcd_env(config.member(host), host, config.ip(host), initial_cluster)
    settings.update({
        "ETCD_STRICT_RECONFIG_CHECK": "true",  # kubespray's too; the VM's one member needs none
        "ETCDCTL_API": "3",
        "ETCDCTL_ENDPOINTS": "https://127.0.0.1:2379",
        "ETCDCTL_CACERT": CERT_DIR + "/ca.pem",
        "ETCDCTL_CERT": "%s/admin-%s.pem" % (CERT_DIR, host),
        "ETCDCTL_KEY": "%s/admin-%s-key.pem" % (CERT_DIR, host),
    })
    _write(config, host, "etcd.env", env_file(settings), 0o640)
    if config.events:
        events_cluster = ",".join("%s=%s" % (config.events_member(h), config.events_peer_url(h)) for h in config.hosts)
        events = kubespray_etcd_events_env(config.member(host), host, config.ip(host), events_cluster)
        events["ETCDCTL_ENDPOINTS"] = "https://127.0.0.1:2383"
        events.update({key: value for key, value in settings.items() if key.startswith("ETCDCTL_") and key not in events})
        # The lab's entry script reads this member's faults from their own folder.
        events["LAB_FAULTS_DIR"] = "/lab/faults/events"
        _write(config, host, "etcd-events.env", env_file(events), 0o640)


# kubespray's roles/etcd/templates/etcd-docker.service.j2 and etcd.j2: the unit runs a
# foreground `docker run` and recreates the container whenever it ends. The lab's
# differences: the master's network namespace instead of --net=host, the engine's
# own paths for the mounts, the lab's labels and entry script (for its faults).
DOCKER_UNIT = """\
[Unit]
Description=etcd docker wrapper
Wants=docker.socket
After=docker.service

[Service]
User=root
PermissionsStartOnly=true
EnvironmentFile=-/etc/environment
ExecStart=/usr/local/bin/etcd
ExecStartPre=-/usr/bin/docker rm -f {container}
ExecStop=/usr/bin/docker stop {container}
Restart=always
RestartSec=15s
TimeoutStartSec=30s

[Install]
WantedBy=multi-user.target
"""
DOCKER_WRAPPER = """\
#!/bin/bash
/usr/bin/docker run \\
  --restart=on-failure:5 \\
  --env-file={env} \\
  --network=container:{master} \\
  -v {pki}:{cert_dir}:ro \\
  -v {volume}:{data_dir}:rw \\
  -v {scripts}:/lab/bin:ro \\
  -v {faults}:/lab/faults:ro \\
  -v {boot}:/lab/boot \\
  {labels} \\
  --name={container} \\
  {image} \\
  /lab/bin/etcd-entry \\
  "$@"
"""
# kubespray's etcd-events-docker.service.j2 and etcd-events.j2: the same wrapper around
# the events member's container.
EVENTS_DOCKER_UNIT = DOCKER_UNIT.replace("EnvironmentFile=-/etc/environment", "EnvironmentFile=-/etc/etcd-events.env") \
    .replace("ExecStart=/usr/local/bin/etcd", "ExecStart=/usr/local/bin/etcd-events")
# kubespray's roles/etcd/templates/etcd-host.service.j2; the lab starts the binary
# through its entry script (for its faults).
HOST_UNIT = """\
[Unit]
Description=etcd
After=network.target

[Service]
Type=notify
User=root
EnvironmentFile=/etc/etcd.env
Environment=LAB_BOOT_DIR=/var/lib/lab
ExecStart=/lab/bin/etcd-entry
NotifyAccess=all
Restart=always
RestartSec=10s
LimitNOFILE=40000

[Install]
WantedBy=multi-user.target
"""


# kubespray's etcd-events-host.service.j2.
def _events_host_unit():
    return HOST_UNIT.replace("EnvironmentFile=/etc/etcd.env", "EnvironmentFile=/etc/etcd-events.env")


def _write_node_files(config, host, tag):
    """etcd.env, etcd.service (and the docker layout's wrapper) and the boot's settings,
    as the master sees them at /etc/etcd.env, /etc/systemd/system/etcd.service,
    /usr/local/bin/etcd (docker layout) and /etc/default/lab."""
    _write_etcd_env(config, host)
    _write(config, host, "lab", "LAB_BOOT_DELAY=%g\n" % config.boot_delay)
    if config.layout == "host":
        _write(config, host, "etcd.service", HOST_UNIT)
        if config.events:
            _write(config, host, "etcd-events.service", _events_host_unit())
        return
    clusters = [("etcd", DOCKER_UNIT, config.etcd_container(host), config.data_volume(host))]
    if config.events:
        clusters.append(("etcd-events", EVENTS_DOCKER_UNIT, config.events_container(host),
                         config.events_data_volume(host)))
    for name, unit, container, volume in clusters:
        _write(config, host, name + ".service", unit.format(container=container))
        _write(config, host, name, DOCKER_WRAPPER.format(
            master=config.master(host), pki=config.host_pki(host), cert_dir=CERT_DIR, env="/etc/%s.env" % name,
            volume=volume, data_dir="/var/lib/" + name, scripts=NODE_SCRIPTS, faults=config.faults_dir(host),
            boot=config.boot_state_dir(host), labels=" ".join(_labels("etcd")), container=container, image=tag),
            0o755)


def _write_worker_files(config, host):
    """The boot's settings, as the worker sees them at /etc/default/lab."""
    _write(config, host, "lab", "LAB_BOOT_DELAY=%g\n" % config.boot_delay)


def _write(config, host, name, content, mode=0o644):
    write_file(os.path.join(config.node_dir(host), name), content, mode)


# Ownership and collisions --------------------------------------------------------

def _owner(info):
    """'ours', 'stale' (an earlier lab's: replace it) or 'foreign' (never touch it)."""
    labels = (info.get("Config") or info).get("Labels") or {}
    if LABEL not in labels:
        return "foreign"
    return "ours" if labels.get(ID_LABEL) == lab_id() else "stale"


def _labels(role):
    return ["--label", "%s=%s" % (LABEL, role), "--label", "%s=%s" % (ID_LABEL, lab_id())]


def _container_names(config):
    # Masters first: a running master's etcd.service would recreate its etcd container.
    return [config.master(h) for h in config.nodes] + \
        [config.etcd_container(h) for h in config.hosts] + \
        [config.events_container(h) for h in config.hosts] + [config.mirror]


def _check_collisions(config):
    """Refuse, changing nothing, when a name or the subnet belongs to someone else."""
    for name in _container_names(config):
        info = inspect(name)
        if info and _owner(info) == "foreign":
            raise LabError("a container named %r exists and is not the lab's; remove it or "
                           "set LAB_PREFIX to give the lab other names" % name)
    subnet = ipaddress.ip_network(config.subnet)
    ours = inspect(config.network, "network")
    if ours:
        if _owner(ours) == "foreign":
            raise LabError("a docker network named %r exists and is not the lab's; remove it or "
                           "set LAB_PREFIX" % config.network)
        configured = [c["Subnet"] for c in (ours.get("IPAM") or {}).get("Config") or []]
        if config.subnet not in configured:
            raise LabError("the lab network %r has subnet %s, not %s: run 'make lab-down' first"
                           % (config.network, configured, config.subnet))
        return
    for line in docker("network", "ls", "--format", "{{.Name}}").stdout.split():
        other = inspect(line, "network") or {}
        for entry in (other.get("IPAM") or {}).get("Config") or []:
            if "Subnet" in entry and ipaddress.ip_network(entry["Subnet"]).overlaps(subnet):
                raise LabError("LAB_SUBNET %s overlaps docker network %r (%s); choose another, "
                               "e.g. LAB_SUBNET=172.29.88.0/24" % (subnet, line, entry["Subnet"]))
    routes = subprocess.run(["ip", "-4", "-o", "route", "show"], capture_output=True, text=True)
    for route in routes.stdout.splitlines():
        destination = route.split()[0]
        if destination == "default":
            continue
        if ipaddress.ip_network(destination, strict=False).overlaps(subnet):
            raise LabError("LAB_SUBNET %s is already in use on this machine (route: %s); choose "
                           "another, e.g. LAB_SUBNET=172.29.88.0/24" % (subnet, route.strip()))


def _remove_lab_objects(config, owners):
    """Remove the lab's containers, data volumes and network whose owner is in owners."""
    for name in _container_names(config):
        info = inspect(name)
        if info and _owner(info) in owners:
            docker("rm", "-f", "-v", name)
    for name in [config.data_volume(h) for h in config.hosts] + [config.events_data_volume(h) for h in config.hosts]:
        volume = inspect(name, "volume")
        if volume and _owner(volume) in owners:
            docker("volume", "rm", name)
    for name in (config.second_network, config.network):
        network = inspect(name, "network")
        if network and _owner(network) in owners:
            docker("network", "rm", name)


# Containers -----------------------------------------------------------------------

def _ensure_network(config):
    if not inspect(config.network, "network"):
        docker("network", "create", "--driver", "bridge", "--subnet", config.subnet,
               "--gateway", config.gateway, *_labels("network"), config.network)


def _ensure_running(name, create_args):
    """Create the container, or start it when an earlier run left it stopped.

    Returns True when it was created."""
    info = inspect(name)
    if info is None:
        docker("run", "-d", "--name", name, *create_args)
        return True
    if not info["State"]["Running"]:
        docker("start", name)
    return False


def _ensure_mirror(config, tag):
    _ensure_running(config.mirror, [
        "--network", config.network, "--ip", config.mirror_ip, "--restart", "always",
        *_labels("mirror"),
        "-v", "%s:/srv/mirror:ro" % config.path("mirror"),
        "-v", "%s:/lab/bin:ro" % NODE_SCRIPTS,
        tag, "/lab/bin/mirror", config.mirror_ip, "/srv/mirror"])


def _ensure_master(config, host, tag):
    """A master: systemd as PID 1 (/sys/fs/cgroup read-only, tmpfs /run and /run/lock,
    stop signal SIGRTMIN+3; no extra capabilities), the restart policy as its power
    button. etcd.service inside it runs the member."""
    ssh_dir = config.path("ssh")
    host_key = os.path.join(ssh_dir, host + "_host_ed25519_key")
    node = config.node_dir(host)
    if inspect(config.master(host)) is None:
        # A new machine has never booted, and a new member starts with no data.
        shutil.rmtree(config.boot_state_dir(host), ignore_errors=True)
        os.makedirs(config.boot_state_dir(host))
        for container in (config.etcd_container(host), config.events_container(host)):
            if inspect(container) is not None:
                docker("rm", "-f", container)
        for volume in (config.data_volume(host), config.events_data_volume(host)):
            if inspect(volume, "volume") is not None:
                docker("volume", "rm", "-f", volume)
    volumes = [config.data_volume(host)] + ([config.events_data_volume(host)] if config.events else [])
    for volume in volumes if config.layout == "docker" else []:
        if inspect(volume, "volume") is None:
            docker("volume", "create", *_labels("data"), volume)
    mounts = [
        ("/sys/fs/cgroup", "/sys/fs/cgroup", "ro"),
        ("/var/run/docker.sock", "/lab/docker.sock", "rw"),
        (NODE_SCRIPTS, "/lab/bin", "ro"),
        (config.faults_dir(host), "/lab/faults", "ro"),
        (config.boot_state_dir(host), "/var/lib/lab", "rw"),
        (config.host_pki(host), CERT_DIR, "ro"),
        (os.path.join(node, "lab"), "/etc/default/lab", "ro"),
        (os.path.join(node, "etcd.env"), "/etc/etcd.env", "ro"),
        (os.path.join(node, "etcd.service"), "/etc/systemd/system/etcd.service", "ro"),
        (os.path.join(ssh_dir, "id_ed25519.pub"), "/home/%s/.ssh/authorized_keys" % SSH_USER, "ro"),
        (host_key, "/etc/ssh/ssh_host_ed25519_key", "ro"),
        (host_key + ".pub", "/etc/ssh/ssh_host_ed25519_key.pub", "ro"),
    ]
    if config.layout == "docker":
        # kubespray's wrapper script, which the docker layout's etcd.service runs.
        mounts.append((os.path.join(node, "etcd"), "/usr/local/bin/etcd", "ro"))
    if config.events:
        mounts += [(os.path.join(node, "etcd-events.env"), "/etc/etcd-events.env", "ro"),
                   (os.path.join(node, "etcd-events.service"), "/etc/systemd/system/etcd-events.service", "ro")]
        if config.layout == "docker":
            mounts.append((os.path.join(node, "etcd-events"), "/usr/local/bin/etcd-events", "ro"))
    return _ensure_running(config.master(host), [
        "--hostname", host, "--network", config.network, "--ip", config.ip(host),
        "--restart", "always", *_labels("master"),
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--stop-signal", "SIGRTMIN+3",
        # Only for the boot to take the network down when the booted kernel lacks the
        # lab's NIC driver (linux-modules-extra); systemd itself needs no capability.
        "--cap-add", "NET_ADMIN",
        "-e", "container=docker",
        *[arg for source, target, mode in mounts for arg in ("-v", "%s:%s:%s" % (source, target, mode))],
        tag])


def _ensure_worker(config, host, tag):
    """A worker: the same machine as a master (systemd as PID 1, sshd, the sudo user, the
    kernel packages, the apt timers, the restart policy as its power button) with
    containerd as its runtime and no etcd."""
    ssh_dir = config.path("ssh")
    host_key = os.path.join(ssh_dir, host + "_host_ed25519_key")
    if inspect(config.master(host)) is None:
        shutil.rmtree(config.boot_state_dir(host), ignore_errors=True)
        os.makedirs(config.boot_state_dir(host))
    mounts = [
        ("/sys/fs/cgroup", "/sys/fs/cgroup", "ro"),
        (NODE_SCRIPTS, "/lab/bin", "ro"),
        (config.faults_dir(host), "/lab/faults", "ro"),
        (config.boot_state_dir(host), "/var/lib/lab", "rw"),
        (os.path.join(config.node_dir(host), "lab"), "/etc/default/lab", "ro"),
        # Masked from the first boot: the image carries Debian's etcd-server for the masters.
        ("/dev/null", "/etc/systemd/system/etcd.service", "ro"),
        (os.path.join(ssh_dir, "id_ed25519.pub"), "/home/%s/.ssh/authorized_keys" % SSH_USER, "ro"),
        (host_key, "/etc/ssh/ssh_host_ed25519_key", "ro"),
        (host_key + ".pub", "/etc/ssh/ssh_host_ed25519_key.pub", "ro"),
    ]
    return _ensure_running(config.master(host), [
        "--hostname", host, "--network", config.network, "--ip", config.ip(host),
        "--restart", "always", *_labels("worker"),
        "--tmpfs", "/run", "--tmpfs", "/run/lock", "--stop-signal", "SIGRTMIN+3",
        "--cap-add", "NET_ADMIN",  # as a master's: the boot without the NIC's driver
        "-e", "container=docker",
        *[arg for source, target, mode in mounts for arg in ("-v", "%s:%s:%s" % (source, target, mode))],
        tag])


def containerd_answers(config, host, timeout=5.0):
    """Whether the worker's containerd answers its API (`ctr version`) within timeout:
    the bug's symptom on a worker is a runtime whose socket accepts and that answers nothing."""
    if not is_running(config.master(host)):
        return False
    result = exec_in(config.master(host), "timeout", "%g" % timeout, "ctr", "version", check=False,
                     timeout=timeout + 10)
    return result.returncode == 0


def wait_containerd(config, host, timeout=60.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if containerd_answers(config, host):
            return
        time.sleep(0.5)
    raise LabError("containerd on %s did not answer within %.0fs; see 'docker exec %s journalctl -u containerd'"
                   % (host, timeout, config.master(host)))


def connect_second_network(config, host):
    """Give host an address on the lab's second bridge (created when absent); etcd keeps
    listening on the lab network, which keeps the default route. Returns the address."""
    if not inspect(config.second_network, "network"):
        docker("network", "create", "--driver", "bridge", "--subnet", config.second_subnet,
               *_labels("network"), config.second_network)
    attached = (inspect(config.master(host)) or {}).get("NetworkSettings", {}).get("Networks", {})
    if config.second_network not in attached:
        docker("network", "connect", "--ip", config.second_ip(host), config.second_network, config.master(host))
    return config.second_ip(host)


def disconnect_second_network(config, host):
    attached = (inspect(config.master(host)) or {}).get("NetworkSettings", {}).get("Networks", {})
    if config.second_network in attached:
        docker("network", "disconnect", config.second_network, config.master(host))


def wait_booted(config, host, timeout=60.0, previous_boot_id=None):
    """Wait until host has booted (a boot id other than previous_boot_id) and sshd answers."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        boot_id = boot_id_of(config, host)
        if boot_id and boot_id != previous_boot_id and _port_open(config.ip(host), 22):
            return boot_id
        time.sleep(0.25)
    raise LabError("%s did not boot within %.0fs; see 'docker logs %s'"
                   % (host, timeout, config.master(host)))


def boot_id_of(config, host):
    if not is_running(config.master(host)):
        return None
    # Booted once lab-boot.service is done: the boot id of a boot still in progress is
    # the previous one.
    result = exec_in(config.master(host), "bash", "-c",
                     "systemctl is-active --quiet lab-boot.service && cat /var/lib/lab/boot_id",
                     check=False)
    return result.stdout.strip() if result.returncode == 0 else None


def _port_open(ip, port):
    try:
        with socket.create_connection((ip, port), timeout=0.5):
            return True
    except OSError:
        return False


def _configure_apt(config, host):
    source = "deb [trusted=yes] http://%s/%s ./\n" % (config.mirror_ip, host)
    exec_in(config.master(host), "sh", "-c",
            "printf '%s' > /etc/apt/sources.list.d/etcdlab.list" % source)
    refresh_apt(config, host)


def refresh_apt(config, host):
    result = exec_in(config.master(host), "apt-get", "update", "-qq", check=False)
    if result.returncode != 0:
        raise LabError("apt-get update on %s failed: %s" % (host, result.stderr.strip()))


# Health ---------------------------------------------------------------------------

# The unit that runs each cluster's member on a master (kubespray's names).
UNITS = {"main": "etcd", "events": "etcd-events"}


def member_states(config, timeout=1.0, cluster="main"):
    """{host: {"up": bool, "leader": hex id or None, "id": hex id or None, "error": str}}
    for the members of one of the lab's etcd clusters (main, or kubespray's events)."""
    client = Client(config.client_tls, timeout=timeout)
    urls = list(config.clusters()[cluster].values())
    states = {}
    for host, url in zip(config.hosts, urls):
        try:
            status = client.status(url)
            leader = int(status.get("leader", 0))
            states[host] = {"up": leader != 0, "leader": "%016x" % leader if leader else None,
                            "id": "%016x" % int(status["header"]["member_id"]),
                            "version": status.get("version"), "error": ""}
        except EtcdHTTPError as error:
            states[host] = {"up": False, "leader": None, "id": None, "version": None,
                            "error": str(error)}
    return states


def cluster_is_healthy(states):
    leaders = {state["leader"] for state in states.values()}
    return all(state["up"] for state in states.values()) and len(leaders) == 1


def wait_cluster_healthy(config, timeout=90.0):
    """Wait until every etcd cluster of the lab is healthy; the main cluster's states."""
    deadline = time.monotonic() + timeout
    for cluster in config.clusters():
        states = {}
        while time.monotonic() < deadline:
            states = member_states(config, cluster=cluster)
            if cluster_is_healthy(states):
                break
            time.sleep(0.5)
        else:
            problems = "; ".join("%s: %s" % (h, s["error"] or "no leader") for h, s in states.items()
                                 if not s["up"])
            raise LabError("etcd (%s cluster) did not become healthy within %.0fs (%s); see 'journalctl -u %s' "
                           "on the masters" % (cluster, timeout, problems, UNITS[cluster]))
    return member_states(config)


def _revive_unreachable_members(config):
    """A member that does not answer (stuck, stopped or not started by a fault that up
    has cleared) is restarted through its unit, as an operator would."""
    for cluster in config.clusters():
        for host, state in member_states(config, cluster=cluster).items():
            if not state["up"]:
                restart_etcd(config, host, cluster)


def restart_etcd(config, host, cluster="main"):
    exec_in(config.master(host), "systemctl", "restart", UNITS[cluster], timeout=60)


# Commands ---------------------------------------------------------------------------

def _on_each(hosts, action):
    """action(host) on every host at once (each is a few docker execs); the first error
    is raised once all are done."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, len(hosts))) as pool:
        for future in [pool.submit(action, host) for host in hosts]:
            future.result()


def up(log=print):
    started = time.monotonic()
    require_engine()
    existing = LabConfig.load()
    config = existing or LabConfig.from_environment()
    if existing and existing != LabConfig.from_environment():
        log("note: keeping the settings of the lab that is up (.lab/config.json); "
            "run 'make lab-down' first to change them")
    _check_collisions(config)
    _remove_lab_objects(config, owners=("stale",))
    config.save()
    for host in config.nodes:
        faults.remove_markers(config, host)  # up means a clean lab: no fault survives it
    debs = _prepare_files(config)
    tag = image.ensure_image(debs, config.etcd_version, log=log)
    _ensure_network(config)
    _ensure_mirror(config, tag)
    for host in config.hosts:
        _write_node_files(config, host, tag)
    for host in config.worker_hosts:
        _write_worker_files(config, host)
    created = [host for host in config.hosts if _ensure_master(config, host, tag)]
    created_workers = [host for host in config.worker_hosts if _ensure_worker(config, host, tag)]
    # Every node boots at once on a machine of two cores: twenty-three systemd boots take
    # longer than a few, so the wait grows with the nodes.
    boot_wait = max(60.0, 5.0 * len(config.nodes))
    _on_each(config.nodes, lambda host: wait_booted(config, host, timeout=boot_wait))
    _on_each(created + created_workers, lambda host: _configure_apt(config, host))
    if config.events:
        # Enabled once, as kubespray enables it: the master's own /etc keeps it across reboots.
        _on_each(created, lambda host: exec_in(config.master(host), "systemctl", "enable", "--now", "--quiet",
                                               "etcd-events.service", timeout=60))
    adopted = [host for host in config.nodes if host not in created + created_workers]
    _on_each(adopted, lambda host: (faults.thaw(config, host), faults.reset_apt_timers(config, host)))
    if not created:
        _revive_unreachable_members(config)
    # A worker's runtime: enabled on a new worker as kubespray's container-engine role does
    # (its /etc keeps it across reboots), started again where something stopped it.
    _on_each(config.worker_hosts, lambda host: (
        exec_in(config.master(host), "systemctl", *(["enable", "--now"] if host in created_workers else ["start"]),
                "--quiet", "containerd.service", timeout=60),
        wait_containerd(config, host)))
    wait_cluster_healthy(config)
    faults.disarm_all_alarms(config)
    write_inventory(config)
    took = time.monotonic() - started
    log("lab up in %.1fs: %s (%s)" % (took, ", ".join(config.nodes), config.subnet))
    return config


def down(log=print):
    require_engine()
    config = LabConfig.load() or LabConfig.from_environment()
    _remove_lab_objects(config, owners=("ours", "stale"))
    shutil.rmtree(config.path("boot"), ignore_errors=True)
    for stale in (INVENTORY_FILE, config.path("config.json")):
        if os.path.exists(stale):
            os.remove(stale)
    log("lab down (images kept: %s)" % image.REPOSITORY)


def status():
    config = current_config()
    states = member_states(config)
    hosts = {}
    for host in config.hosts:
        hosts[host] = dict(_node_status(config, host, "etcd"),
                           member=config.member(host), member_up=states[host]["up"],
                           is_leader=states[host]["up"] and states[host]["leader"] == states[host]["id"])
    workers = {host: dict(_node_status(config, host, "containerd"),
                          containerd_answers=containerd_answers(config, host, timeout=2.0))
               for host in config.worker_hosts}
    # Healthy means every cluster the lab runs (kubespray's events one too, with LAB_EVENTS=1)
    # and every worker's containerd answering.
    clusters_healthy = {cluster: cluster_is_healthy(states if cluster == "main" else member_states(config, cluster=cluster))
                        for cluster in config.clusters()}
    healthy = all(clusters_healthy.values()) and all(w["containerd_answers"] for w in workers.values())
    return {"subnet": config.subnet, "layout": config.layout, "etcd_version": config.etcd_version,
            "healthy": healthy, "clusters_healthy": clusters_healthy, "hosts": hosts, "workers": workers}


def _node_status(config, host, unit):
    """What any node shows: its address, systemd's state, the state of its unit (etcd on a
    master, containerd on a worker), the kernel it booted, its boot id and its faults."""
    running = is_running(config.master(host))

    def ask(*command):
        return exec_in(config.master(host), *command, check=False).stdout.strip() if running else None

    return {"ip": config.ip(host), "systemd": ask("systemctl", "is-system-running") or "stopped",
            unit + "_service": ask("systemctl", "is-active", unit), "kernel": ask("cat", "/var/lib/lab/osrelease"),
            "boot_id": boot_id_of(config, host), "faults": faults.active(config, host)}


def ssh_connection_vars(config):
    """How Ansible reaches the masters: this checkout's lab key, their host keys pinned,
    and ssh's control sockets kept beside them (absolute paths, so a copy of an inventory
    elsewhere finds them too; Ansible's default for the sockets is ~/.ansible/cp, whatever
    ANSIBLE_HOME says)."""
    ssh_dir = config.path("ssh")
    return {
        "ansible_ssh_private_key_file": os.path.join(ssh_dir, "id_ed25519"),
        "ansible_ssh_common_args": "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes"
                                   % os.path.join(ssh_dir, "known_hosts"),
        "ansible_control_path_dir": os.path.join(ssh_dir, "cp"),
    }


def write_inventory(config):
    """inventory/lab/hosts.yml with kubespray's group names; values live in group_vars."""
    lines = ["---", "# Written by `make lab-up` for the local lab; do not edit.", "all:",
             "  vars:",
             "    # This checkout's lab key, the masters' host keys pinned and ssh's control sockets",
             "    # (absolute paths, so molecule's copy of the inventory finds them too)."]
    lines += ["    %s: %s" % item for item in ssh_connection_vars(config).items()]
    if config.layout == "docker":
        # As an inventory of kubespray up to v2.17 says it; a host-layout lab's inventory
        # leaves it out, as one relying on kubespray's default from v2.18 does, and the
        # kit reads the layout from the hosts.
        lines += ["    etcd_deployment_type: docker"]
    if config.events:
        lines += ["    # kubespray's second etcd cluster, for the API server's events (LAB_EVENTS=1).",
                  "    etcd_events_cluster_enabled: true"]
    lines += ["  hosts:"]
    for host in config.nodes:
        # etcd_member_name is left to the kit, which derives etcd<index> as kubespray does.
        lines += ["    %s:" % host,
                  "      ansible_host: %s" % config.ip(host),
                  "      ip: %s" % config.ip(host)]
    lines += ["  children:", "    etcd:", "      hosts:"]
    lines += ["        %s:" % host for host in config.hosts]
    lines += ["    kube_control_plane:", "      hosts:"]
    lines += ["        %s:" % host for host in config.hosts]
    lines += ["    kube_node:", "      hosts:" + ("" if config.worker_hosts else " {}")]
    lines += ["        %s:" % host for host in config.worker_hosts]
    lines += ["    k8s_cluster:", "      children:", "        kube_control_plane:", "        kube_node:"]
    os.makedirs(os.path.dirname(INVENTORY_FILE), exist_ok=True)
    with open(INVENTORY_FILE, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return INVENTORY_FILE


def reboot(config, host, wait=True):
    """Reboot a master (systemd shuts it down, the restart policy powers it back on)."""
    previous = boot_id_of(config, host)
    exec_in(config.master(host), "systemctl", "reboot")
    if wait:
        return wait_booted(config, host, timeout=120, previous_boot_id=previous)
    return None


def print_status(report):
    print("lab %s on %s (etcd %s, layout: %s)" % ("healthy" if report["healthy"] else "NOT healthy",
                                                  report["subnet"], report["etcd_version"], report["layout"]))
    print("%-8s %-14s %-9s %-12s %-20s %-6s %-7s %s" % (
        "host", "ip", "systemd", "etcd.service", "kernel", "member", "leader", "faults"))
    for host, info in report["hosts"].items():
        print("%-8s %-14s %-9s %-12s %-20s %-6s %-7s %s" % (
            host, info["ip"], info["systemd"], info["etcd_service"] or "-", info["kernel"] or "-",
            "up" if info["member_up"] else "DOWN", "yes" if info["is_leader"] else "",
            ",".join(info["faults"]) or "-"))
    if report["workers"]:
        print("%-8s %-14s %-9s %-12s %-20s %-11s %s" % (
            "worker", "ip", "systemd", "containerd", "kernel", "ctr version", "faults"))
    for host, info in report["workers"].items():
        print("%-8s %-14s %-9s %-12s %-20s %-11s %s" % (
            host, info["ip"], info["systemd"], info["containerd_service"] or "-", info["kernel"] or "-",
            "answers" if info["containerd_answers"] else "NO ANSWER", ",".join(info["faults"]) or "-"))


def status_json():
    return json.dumps(status(), indent=2)
