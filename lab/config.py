"""The lab's settings: names, addresses and timings, chosen once at `lab up`.

Everything is configurable through the environment so the lab never collides with
a user's own containers or networks:
  LAB_PREFIX      prefix for container, network and volume names (default: none)
  LAB_SUBNET      the lab bridge's IPv4 /24 (default 172.29.87.0/24)
  LAB_BOOT_DELAY  seconds a master takes to boot after a reboot (default 3)
  LAB_LAYOUT      how etcd runs on the masters, in kubespray's words (etcd_deployment_type):
                  docker (default: etcd.service wraps a `docker run`) or host (etcd.service
                  runs the etcd binary)
  LAB_ETCD        the etcd version the members run: 3.4 (default: Debian bookworm's 3.4.23,
                  as kubespray up to v2.17 ships 3.4.13) or 3.5 (Debian trixie's 3.5.16, as
                  kubespray from v2.18 and kubeadm run 3.5: zap JSON logs, pre-vote on)
  LAB_EVENTS      1 runs kubespray's etcd-events cluster beside the main one on every master
                  (etcd_events_cluster_enabled: etcd-events.service, members <member>-events,
                  peer port 2382, client port 2383 as from kubespray v2.18); default 0
  LAB_WORKERS     how many workers (kubespray's kube_node: worker1..N) run beside the
                  masters, each a node like them with Debian's containerd as its container
                  runtime and no etcd; default 2, at most 40
`lab up` records the settings in .lab/config.json; later commands read them from
there, so a changed environment cannot confuse a running lab.
"""
import ipaddress
import json
import os
import subprocess
import uuid
from dataclasses import asdict, dataclass

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
STATE_DIR = os.path.join(REPO_ROOT, ".lab")
CONFIG_FILE = os.path.join(STATE_DIR, "config.json")
MASTER_COUNT = 3
LABEL = "etcdlab.role"
ID_LABEL = "etcdlab.id"
LAB_ID_FILE = os.path.join(STATE_DIR, "lab-id")
LAYOUTS = ("docker", "host")
ETCD_VERSIONS = ("3.4", "3.5")
MAX_WORKERS = 40
# Addresses on the lab bridge: the mirror at .10, master<n> at .(10+n), worker<n> at .(20+n).
MASTER_OFFSET = 10
WORKER_OFFSET = 20


class LabError(Exception):
    """A problem the user can fix; the message says how."""


def run_command(command, what, **kwargs):
    """Run command; on failure, a LabError naming `what` with the output's last lines."""
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        tail = "\n".join((result.stdout + result.stderr).strip().splitlines()[-15:])
        raise LabError("%s failed (rc=%d):\n%s" % (what, result.returncode, tail))
    return result


def write_file(path, content, mode=0o644):
    """Write content to path (its folder created first) with exactly this mode."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "w") as handle:
        handle.write(content)
    os.chmod(path, mode)


def lab_id():
    """Identity of this checkout's lab state (.lab/): containers, network and volumes
    carry it, so what another checkout or a wiped .lab left behind is replaced, not
    adopted with certificates that no longer match."""
    if not os.path.exists(LAB_ID_FILE):
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(LAB_ID_FILE, "w") as handle:
            handle.write(uuid.uuid4().hex[:12])
    with open(LAB_ID_FILE) as handle:
        return handle.read().strip()


def _whole_number(variable, default):
    value = os.environ.get(variable, str(default))
    if not value.isdigit():
        raise LabError("%s=%r: give a whole number" % (variable, value))
    return int(value)


@dataclass(frozen=True)
class LabConfig:
    prefix: str = ""
    subnet: str = "172.29.87.0/24"
    boot_delay: float = 3.0
    layout: str = "docker"
    etcd_version: str = "3.4"
    events: bool = False
    workers: int = 2

    @classmethod
    def from_environment(cls):
        try:
            config = cls(prefix=os.environ.get("LAB_PREFIX", cls.prefix),
                         subnet=os.environ.get("LAB_SUBNET", cls.subnet),
                         boot_delay=float(os.environ.get("LAB_BOOT_DELAY", cls.boot_delay)),
                         layout=os.environ.get("LAB_LAYOUT", cls.layout),
                         etcd_version=os.environ.get("LAB_ETCD", cls.etcd_version),
                         events=os.environ.get("LAB_EVENTS", "0") == "1",
                         workers=_whole_number("LAB_WORKERS", cls.workers))
        except ValueError as error:
            raise LabError("LAB_BOOT_DELAY must be a number of seconds: %s" % error) from error
        config.validate()
        return config

    @classmethod
    def load(cls):
        """The settings of the lab that is up, or None when no lab was brought up."""
        if not os.path.exists(CONFIG_FILE):
            return None
        with open(CONFIG_FILE) as handle:
            return cls(**json.load(handle))

    def save(self):
        os.makedirs(STATE_DIR, exist_ok=True)
        with open(CONFIG_FILE, "w") as handle:
            json.dump(asdict(self), handle, indent=2)

    def validate(self):
        if self.prefix and not all(c.isalnum() or c in "-_." for c in self.prefix):
            raise LabError("LAB_PREFIX=%r: use letters, digits, '-', '_' or '.' only" % self.prefix)
        try:
            network = ipaddress.ip_network(self.subnet)
        except ValueError as error:
            raise LabError("LAB_SUBNET=%r is not a network: %s" % (self.subnet, error)) from error
        if network.version != 4 or network.prefixlen > 24:
            raise LabError("LAB_SUBNET=%r: give an IPv4 network of /24 or larger" % self.subnet)
        if not network.is_private:
            raise LabError("LAB_SUBNET=%r is not a private range; the lab only uses private "
                           "addresses on its own bridge" % self.subnet)
        if self.boot_delay < 0:
            raise LabError("LAB_BOOT_DELAY must not be negative")
        if self.layout not in LAYOUTS:
            raise LabError("LAB_LAYOUT=%r: use one of %s" % (self.layout, ", ".join(LAYOUTS)))
        if self.etcd_version not in ETCD_VERSIONS:
            raise LabError("LAB_ETCD=%r: use one of %s" % (self.etcd_version, ", ".join(ETCD_VERSIONS)))
        if not 0 <= self.workers <= MAX_WORKERS:
            raise LabError("LAB_WORKERS=%r: give a number of workers from 0 to %d" % (self.workers, MAX_WORKERS))

    # Names -------------------------------------------------------------------
    @property
    def network(self):
        return self.prefix + "etcdlab"

    @property
    def second_network(self):
        """A second bridge a test can give a master (a management network): kubespray's
        sample inventory reaches a host at an address (ansible_host) that is not etcd's."""
        return self.prefix + "etcdlab-second"

    @property
    def second_subnet(self):
        """The /24 right after the lab's (172.29.88.0/24 by default)."""
        network = ipaddress.ip_network(self.subnet)
        return str(ipaddress.ip_network("%s/24" % (network.network_address + network.num_addresses)))

    def second_ip(self, host):
        return str(ipaddress.ip_network(self.second_subnet)[10 + int(host[len("master"):])])

    @property
    def mirror(self):
        return self.prefix + "etcdlab-mirror"

    @property
    def hosts(self):
        """The masters (each an etcd member)."""
        return ["master%d" % i for i in range(1, MASTER_COUNT + 1)]

    @property
    def worker_hosts(self):
        """The workers (kubespray's kube_node): no etcd, containerd as their runtime."""
        return ["worker%d" % i for i in range(1, self.workers + 1)]

    @property
    def nodes(self):
        """Every machine of the lab's cluster: the masters, then the workers."""
        return self.hosts + self.worker_hosts

    @staticmethod
    def is_worker(host):
        return host.startswith("worker")

    def master(self, host):
        """The container of a node (a master's or a worker's: the machine itself)."""
        return self.prefix + host

    def member(self, host):
        """etcd member name of a host, as kubespray's etcd_member_name: etcd1.."""
        return "etcd" + host[len("master"):]

    def etcd_container(self, host):
        """The docker layout's etcd container (kubespray names it after the member)."""
        return self.prefix + self.member(host)

    def etcd_process_container(self, host):
        """The container whose processes include the member's etcd: its own container
        in the docker layout, the master in the host layout."""
        return self.etcd_container(host) if self.layout == "docker" else self.master(host)

    def data_volume(self, host):
        return "%s%s-data" % (self.prefix, self.member(host))

    # kubespray's etcd-events cluster (etcd_events_cluster_enabled) ---------------
    def events_member(self, host):
        return self.member(host) + "-events"

    def events_container(self, host):
        return self.prefix + self.events_member(host)

    def events_data_volume(self, host):
        return "%s%s-data" % (self.prefix, self.events_member(host))

    def events_client_url(self, host):
        return "https://%s:2383" % self.ip(host)

    def events_peer_url(self, host):
        return "https://%s:2382" % self.ip(host)

    def clusters(self):
        """{cluster: {member name: client URL}} of every etcd cluster the lab runs."""
        clusters = {"main": {self.member(h): self.client_url(h) for h in self.hosts}}
        if self.events:
            clusters["events"] = {self.events_member(h): self.events_client_url(h) for h in self.hosts}
        return clusters

    # Addresses ---------------------------------------------------------------
    def _address(self, offset):
        return str(ipaddress.ip_network(self.subnet)[offset])

    @property
    def gateway(self):
        return self._address(1)

    @property
    def mirror_ip(self):
        return self._address(10)

    def ip(self, host):
        if self.is_worker(host):
            return self._address(WORKER_OFFSET + int(host[len("worker"):]))
        return self._address(MASTER_OFFSET + int(host[len("master"):]))

    def client_url(self, host):
        return "https://%s:2379" % self.ip(host)

    def peer_url(self, host):
        return "https://%s:2380" % self.ip(host)

    # Files on the controller ---------------------------------------------------
    @staticmethod
    def path(*parts):
        return os.path.join(STATE_DIR, *parts)

    def host_pki(self, host):
        return self.path("pki", host)

    def node_dir(self, host):
        """Files the lab mounts into a master: etcd.env, etcd.service and its wrapper."""
        return self.path("node", host)

    def faults_dir(self, host):
        return self.path("faults", host)

    def boot_state_dir(self, host):
        """The master's /var/lib/lab: running kernel and boot id, written by its boot."""
        return self.path("boot", host)

    @property
    def client_tls(self):
        """CA, certificate and key the controller uses to talk to etcd."""
        client = self.path("pki", "client")
        return {"ca": self.path("pki", "ca", "ca.pem"),
                "cert": os.path.join(client, "admin-controller.pem"),
                "key": os.path.join(client, "admin-controller-key.pem")}
