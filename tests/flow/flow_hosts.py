"""The flow tier's etcd hosts: aliases of this machine, each in a mount namespace of its own.

A flow host keeps what the kit reads and writes on a host apart from this machine and
from the other aliases: overlays over /etc, /var, /boot, /usr and /run hold its
kubespray files (etcd.env, the host layout's etcd.service, the certificates), dpkg's and
apt's state, its installed kernels and its snapshots. Everything else is shared: the
network, the processes, this checkout. Ansible reaches a flow host through the
`flow_host` connection (connection_plugins/), which enters its namespace.

Its etcd member is a real etcd with TLS, on the host's own loopback address
(127.A.B.<n>, ports 2379 and 2380 as on a real host), started from the host's etcd.env
as systemd would start kubespray's unit. apt and dpkg are real, installing the lab's
Ubuntu-shaped kernel packages from a flat repository of each host's own.

The seams are the lab's: the running kernel is read from /var/lib/lab/osrelease and a
new boot is told by /var/lib/lab/boot_id. The reboot command asks the harness, which
plays the machine: the host is unreachable, its member stops, the boot "runs" the
newest installed kernel (GRUB_DEFAULT's pin, as the lab's boot does; without the NIC
driver of linux-modules-extra the host stays unreachable), and the member starts again.

What a flow host lacks (systemd and its timers, the journal, sshd and sudo, a real
reboot) the lab proves; the flow tier's inventory sets etcd_kernel_apt_timers to [].
"""
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import threading
import time
import uuid

import yaml

from lab import certs, cluster, kernels
from lab.config import REPO_ROOT
from lab.etcd_http import Client, EtcdHTTPError

OVERLAID = ("etc", "var", "boot", "usr", "run")
CERT_DIR = certs.CERT_DIR_ON_HOST
ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"
CONNECTION_PLUGINS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "connection_plugins")
# Short raft timings keep elections, and so the runs, fast on loopback.
HEARTBEAT_MS = 100
ELECTION_MS = 1000
BOOT_DELAY_S = 0.5
REBOOT_REQUEST = "run/flow/reboot-requested"
LOCK_KEY = "/sre.etcd_kernel/remediation-lock"

# The flow host's reboot command: asks the harness (which watches for the file) to power
# the host off and boot it, as `shutdown -r` asks systemd.
REBOOT_SCRIPT = """#!/bin/sh
mkdir -p /run/flow && date +%s > /{request}
echo "flow host: reboot requested"
""".format(request=REBOOT_REQUEST)

# What the boot does inside the host, as the lab's boot (lab/node/boot) does: /run is
# empty again, the newest installed kernel runs unless GRUB_DEFAULT pins another, a new
# boot id. Prints the kernel it booted, or "no-network" without the NIC's driver.
BOOT_SCRIPT = r"""
set -eu
rm -rf /run/flow /run/reboot-required /run/reboot-required.pkgs /run/systemd/shutdown
kernel=$(ls /boot | sed -n 's/^vmlinuz-//p' | sort -V | tail -n 1)
pinned=$(sed -n 's/^GRUB_DEFAULT=.*with Linux \([^"'"'"']*\).*/\1/p' /etc/default/grub 2>/dev/null | tail -n 1)
if [ -n "$pinned" ] && [ -e "/boot/vmlinuz-$pinned" ]; then kernel=$pinned; fi
echo "$kernel" > /var/lib/lab/osrelease
cat /proc/sys/kernel/random/uuid > /var/lib/lab/boot_id
if [ -e "/lib/modules/$kernel/{nic}" ]; then echo "$kernel"; else echo no-network; fi
""".replace("{nic}", kernels.NIC_DRIVER)


class FlowError(Exception):
    pass


def loopback_block():
    """A /24 of loopback addresses of this run's own (127.A.B.0), so that the flow tier's
    workers, and two checkouts' flow tiers on one machine, do not meet: a block whose first
    peer port is taken is some other cluster's."""
    rng = random.Random(os.getpid() ^ time.monotonic_ns())
    while True:
        block = "127.%d.%d" % (rng.randint(2, 254), rng.randint(0, 255))
        with socket.socket() as probe:
            try:
                probe.bind((block + ".1", 2380))
            except OSError:
                continue
        return block


class FlowHost:
    def __init__(self, name, index, ip, folder, faults, worker=False):
        self.name = name
        self.index = index
        self.ip = ip
        self.folder = folder
        # A worker (kube_node) runs no etcd member: the same machine otherwise.
        self.worker = worker
        self.member = None if worker else "etcd%d" % index
        self.client_url = "https://%s:2379" % ip
        self.peer_url = "https://%s:2380" % ip
        self.faults = faults  # {fault: value}: the cluster's, for this host
        self.holder = None
        self.etcd = None
        self.booted = []  # the kernels of each boot, in order

    # --- the namespace -------------------------------------------------------------

    def upper(self, relative=""):
        return os.path.join(self.folder, "upper", relative)

    def start_namespace(self):
        mounts = []
        for top in OVERLAID:
            for layer in ("upper", "work"):
                os.makedirs(os.path.join(self.folder, layer, top), exist_ok=True)
            mounts.append("mount -t overlay overlay -o lowerdir=/{top},upperdir={upper},workdir={work} /{top}".format(
                top=top, upper=os.path.join(self.folder, "upper", top), work=os.path.join(self.folder, "work", top)))
        script = " && ".join(mounts) + " && echo mounted && exec sleep infinity"
        self.holder = subprocess.Popen(["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", script],
                                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        line = self.holder.stdout.readline().strip()
        if line != "mounted":
            raise FlowError("could not mount %s's overlays: %s" % (self.name, self.holder.stderr.read()))
        with open(os.path.join(self.folder, "pid"), "w") as handle:
            handle.write(str(self.holder.pid))

    def namespace(self):
        return "/proc/%d/ns/mnt" % self.holder.pid

    def run(self, argv, check=True, **kwargs):
        """argv inside the host (its files); the CompletedProcess."""
        result = subprocess.run(["nsenter", "--mount=" + self.namespace(), "--"] + list(argv),
                                capture_output=True, text=True, **kwargs)
        if check and result.returncode != 0:
            raise FlowError("%s on %s: %s" % (" ".join(argv), self.name, result.stderr or result.stdout))
        return result

    def sh(self, script, check=True):
        return self.run(["sh", "-c", script], check=check)

    def read(self, path):
        return self.run(["cat", path]).stdout

    def write(self, path, content, mode=0o644):
        self.run(["sh", "-c", 'mkdir -p "$(dirname "$1")" && cat > "$1" && chmod %o "$1"' % mode, "write", path],
                 input=content)

    def exists(self, path):
        return self.run(["test", "-e", path], check=False).returncode == 0

    # --- etcd, as systemd runs kubespray's host-layout unit ---------------------------

    def start_etcd(self):
        if self.worker or (self.etcd is not None and self.etcd.poll() is None):
            return
        settings = {}
        for line in self.read("/etc/etcd.env").splitlines():
            if "=" in line and not line.startswith("#"):
                key, value = line.split("=", 1)
                settings[key] = value
        log = open(os.path.join(self.folder, "etcd.log"), "ab")
        try:
            self.etcd = subprocess.Popen(["nsenter", "--mount=" + self.namespace(), "--", ETCD_BINARY],
                                         env=dict(settings, PATH=os.environ["PATH"]), stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        finally:
            log.close()

    def stop_etcd(self):
        if self.etcd is None or self.etcd.poll() is not None:
            return
        self.etcd.send_signal(signal.SIGCONT)
        self.etcd.terminate()
        try:
            self.etcd.wait(10)
        except subprocess.TimeoutExpired:
            self.etcd.kill()
            self.etcd.wait()

    def freeze(self):
        self.etcd.send_signal(signal.SIGSTOP)

    def thaw(self):
        self.etcd.send_signal(signal.SIGCONT)

    # --- power ---------------------------------------------------------------------

    def set_powered(self, on):
        marker = os.path.join(self.folder, "powered_off")
        if on and os.path.exists(marker):
            os.remove(marker)
        elif not on:
            open(marker, "w").close()

    def reboot_requested(self):
        return os.path.exists(self.upper(REBOOT_REQUEST))

    def power_cycle(self):
        """The reboot the kit asked for: off, the member stopped, the boot, the member started."""
        self.set_powered(False)
        self.stop_etcd()
        time.sleep(self.faults.get("slow_boot", BOOT_DELAY_S))
        while "boot_never_returns" in self.faults:
            time.sleep(0.2)
        if self.holder.poll() is not None:
            return  # the cluster was taken down meanwhile
        booted = self.sh(BOOT_SCRIPT).stdout.strip()
        self.booted.append(booted)
        if booted == "no-network":
            return  # powered on, but nobody can reach it
        if "never_recovers" not in self.faults:
            self.start_etcd()
            if "stuck_after_boot" in self.faults:
                time.sleep(0.3)
                self.freeze()
        self.set_powered(True)

    def stop(self):
        self.stop_etcd()
        if self.holder is not None and self.holder.poll() is None:
            self.holder.kill()
            self.holder.wait()


class FlowCluster:
    """Three (or more) flow hosts running one etcd cluster, an inventory for them, and the
    harness thread that answers their reboots."""

    def __init__(self, folder, session_dir, block, size=3, running_abi=kernels.BOOT_ABI, workers=0,
                 members_abi=None):
        self.folder = folder
        self.session_dir = session_dir
        self.faults = {}
        self.hosts = [FlowHost("master%d" % n, n, "%s.%d" % (block, n), os.path.join(folder, "master%d" % n),
                               self.faults.setdefault("master%d" % n, {}))
                      for n in range(1, size + 1)]
        # Workers (kubespray's kube_node) at .21 and up, as in the lab.
        self.workers = [FlowHost("worker%d" % n, n, "%s.%d" % (block, 20 + n), os.path.join(folder, "worker%d" % n),
                                 self.faults.setdefault("worker%d" % n, {}), worker=True)
                        for n in range(1, workers + 1)]
        self.by_name = {host.name: host for host in self.hosts + self.workers}
        self.running_abi = running_abi
        # The members' running kernel, if not running_abi: a worker test whose members are
        # already fixed spends no time on the control-plane phase it does not test.
        self.members_abi = running_abi if members_abi is None else members_abi
        self.token = "flow-" + uuid.uuid4().hex[:8]
        self.reports_dir = os.path.join(folder, "reports")
        self.inventory = os.path.join(folder, "inventory", "hosts.yml")
        self.controller_tls = certs.make_client_cert(os.path.join(session_dir, "ca"),
                                                     os.path.join(session_dir, "controller"))
        self._stopping = threading.Event()
        self._power = threading.Thread(target=self._answer_reboots, daemon=True)

    def host(self, name):
        return self.by_name[name]

    # --- bring up ------------------------------------------------------------------

    def start(self):
        pool = kernels.build_pool(os.path.join(self.session_dir, "pool"))
        initial_cluster = ",".join("%s=%s" % (h.member, h.peer_url) for h in self.hosts)
        for host in self.hosts + self.workers:
            self._prepare(host, pool, initial_cluster)
        for host in self.hosts:
            host.start_etcd()
        self.write_inventory()
        self.wait_healthy()
        self._power.start()
        return self

    def _prepare(self, host, pool, initial_cluster):
        os.makedirs(host.folder)
        host.start_namespace()
        if host.worker:
            # The machine's etcd-server package has a unit, as a worker with the package would: masked.
            host.run(["ln", "-sf", "/dev/null", "/etc/systemd/system/etcd.service"])
        else:
            self._prepare_member(host, initial_cluster)
        host.write("/usr/local/sbin/flow-reboot", REBOOT_SCRIPT, 0o755)
        # apt sees only the host's own flat repository (the lab mirror's shape), offline.
        self.write_repo(host)
        host.write("/etc/apt/apt.conf.d/99flow", 'Dir::Etc::SourceList "/etc/apt/flow.list";\n'
                   'Dir::Etc::SourceParts "/etc/apt/flow.list.d";\nAcquire::Languages "none";\n'
                   # The repository is in a folder only root may read.
                   'APT::Sandbox::User "root";\n')
        host.write("/etc/apt/flow.list", "deb [trusted=yes] file:%s ./\n" % self.repo_dir(host))
        host.run(["mkdir", "-p", "/etc/apt/flow.list.d", "/var/lib/etcd", "/var/lib/lab"])
        abi = self.running_abi if host.worker else self.members_abi
        running = [pool[name] for name in kernels.release_packages(abi)
                   if name.startswith(("linux-image-", "linux-modules-"))]
        host.run(["dpkg", "-i"] + running, env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        host.run(["apt-get", "update", "-qq"])
        host.sh(BOOT_SCRIPT)

    def _prepare_member(self, host, initial_cluster):
        settings = cluster.kubespray_etcd_env(host.member, host.name, host.ip, initial_cluster)
        settings.update({
            # Each alias has a loopback address of its own; 127.0.0.1 is the machine's.
            "ETCD_LISTEN_CLIENT_URLS": host.client_url,
            "ETCD_HEARTBEAT_INTERVAL": str(HEARTBEAT_MS),
            "ETCD_ELECTION_TIMEOUT": str(ELECTION_MS),
            "ETCD_INITIAL_CLUSTER_TOKEN": self.token,
        })
        host.write("/etc/etcd.env", cluster.env_file(settings), 0o640)
        host.write("/etc/systemd/system/etcd.service", cluster.HOST_UNIT)
        host.run(["ln", "-sf", ETCD_BINARY, "/usr/local/bin/etcd"])
        cert_source = certs.make_host_certs(os.path.join(self.session_dir, "ca"),
                                            os.path.join(self.session_dir, "certs", host.name), host.name, host.ip)
        host.run(["mkdir", "-p", os.path.dirname(CERT_DIR)])
        host.run(["cp", "-a", cert_source, CERT_DIR])

    def repo_dir(self, host):
        return os.path.join(self.folder, "mirror", host.name)

    def write_repo(self, host, hide_fixed=False, hide_extra=False):
        pool = kernels.build_pool(os.path.join(self.session_dir, "pool"))
        kernels.write_host_repo(os.path.join(self.folder, "mirror"), host.name, pool,
                                hide_fixed=hide_fixed, hide_extra=hide_extra)

    def report_to(self, folder):
        """Write the runs' reports into folder from now on (each test has its own)."""
        self.reports_dir = folder
        self.write_inventory()

    def write_inventory(self, **extra_vars):
        """The flow hosts as an operator's kubespray inventory names them, with the lab's seams."""
        etcd_vars = {
            "ansible_connection": "flow_host",
            "ansible_python_interpreter": "/usr/bin/python3",
            "ansible_become": False,
            # A flow host is this machine: its "remote" temporary files would go to root's
            # ~/.ansible/tmp, outside the checkout.
            "ansible_remote_tmp": os.path.join(REPO_ROOT, ".ansible", "tmp"),
            "etcd_cert_dir": CERT_DIR,
            "etcd_kernel_osrelease_path": "/var/lib/lab/osrelease",
            "etcd_kernel_boot_time_command": "cat /var/lib/lab/boot_id",
            "etcd_kernel_reboot_command": "/usr/local/sbin/flow-reboot",
            "etcd_kernel_reboot_timeout_s": 30,
            "etcd_kernel_recover_wait_s": 20,
            "etcd_kernel_recover_progress_wait_s": 10,
            "etcd_kernel_apt_timers": [],
            # Two nodes out at once over every run, as the lab's inventory sets it.
            "etcd_kernel_node_budget": 2,
        }
        etcd_vars.update(extra_vars)
        inventory = {"all": {
            "vars": {"etcd_kernel_report_dir": self.reports_dir},
            "hosts": dict({"localhost": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                "ansible_remote_tmp": os.path.join(REPO_ROOT, ".ansible", "tmp")}},
                **{h.name: {"ip": h.ip, "ansible_flow_host_dir": h.folder} for h in self.hosts + self.workers}),
            "children": {
                "etcd": {"hosts": {h.name: None for h in self.hosts}, "vars": etcd_vars},
                "kube_control_plane": {"hosts": {h.name: None for h in self.hosts}},
                # The workers are reached and simulated as the masters are.
                "kube_node": {"hosts": {h.name: None for h in self.workers}, "vars": dict(etcd_vars)},
                "k8s_cluster": {"children": {"kube_control_plane": None, "kube_node": None}},
            }}}
        os.makedirs(os.path.dirname(self.inventory), exist_ok=True)
        with open(self.inventory, "w") as handle:
            yaml.safe_dump(inventory, handle, sort_keys=False)
        return self.inventory

    # --- watching -------------------------------------------------------------------

    def client(self):
        return Client({"ca": self.controller_tls["ca"], "cert": self.controller_tls["cert"],
                       "key": self.controller_tls["key"]}, timeout=1.0)

    def member_states(self):
        """{host: status dict or None}, as the controller sees each member."""
        client, states = self.client(), {}
        for host in self.hosts:
            try:
                states[host.name] = client.status(host.client_url)
            except EtcdHTTPError:
                states[host.name] = None
        return states

    def wait_healthy(self, timeout=30.0):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            states = self.member_states()
            leaders = {str(s.get("leader", "0")) for s in states.values() if s}
            if all(states.values()) and len(leaders) == 1 and "0" not in leaders:
                return states
            time.sleep(0.2)
        raise FlowError("the flow cluster is not healthy after %.0fs: %s" % (timeout, json.dumps(
            {name: bool(state) for name, state in self.member_states().items()})))

    def kernels(self):
        return {h.name: h.read("/var/lib/lab/osrelease").strip() for h in self.hosts + self.workers}

    def rebooted(self):
        """The hosts the harness booted since the cluster started, by name."""
        return sorted(h.name for h in self.hosts + self.workers if h.booted)

    def state(self):
        """What a run that touches no host must leave as it was: kernels, packages, boots,
        snapshots, and each member's etcd process."""
        return {h.name: (h.read("/var/lib/lab/osrelease"), h.run(["dpkg-query", "-W", "linux-image-*"]).stdout,
                         h.read("/var/lib/lab/boot_id"),
                         h.sh("ls /var/backups/etcd-kernel-remediation 2>/dev/null || true").stdout,
                         h.etcd.pid if h.etcd is not None and h.etcd.poll() is None else None)
                for h in self.hosts + self.workers}

    def _lock_entry(self):
        client, errors = self.client(), []
        for host in self.hosts:
            try:
                return client, host.client_url, client.get(host.client_url, LOCK_KEY)
            except EtcdHTTPError as error:
                errors.append(str(error))
        raise FlowError("no member answered: %s" % "; ".join(errors))

    def lock_value(self):
        """The run lock's value as a dict, or None when it is free."""
        found = self._lock_entry()[2]
        return json.loads(found[0]) if found else None

    def node_slots(self):
        """The nodes holding a slot of the nodes' budget now, by name."""
        prefix = "/sre.etcd_kernel/node-slots/node/"
        return sorted(key[len(prefix):] for key in self.client().keys_with_prefix(self.hosts[0].client_url, prefix))

    def expire_lock(self):
        """Let the run lock's lease run out now (revoked: etcd drops the key as on expiry)."""
        client, url, found = self._lock_entry()
        if not found:
            raise FlowError("the lock was not held")
        client.revoke(url, found[1])

    def raise_alarm(self, name, alarm="NOSPACE"):
        client, host = self.client(), self.host(name)
        members = {m.get("name"): m["ID"] for m in client.members(host.client_url)}
        client.set_alarm(host.client_url, members[host.member], alarm, True)

    def _answer_reboots(self):
        while not self._stopping.is_set():
            for host in self.hosts + self.workers:
                if host.reboot_requested():
                    host.run(["rm", "-f", "/" + REBOOT_REQUEST])
                    threading.Thread(target=host.power_cycle, daemon=True).start()
            time.sleep(0.1)

    def stop(self):
        self._stopping.set()
        for host in self.hosts + self.workers:
            host.faults.clear()
            host.stop()
            # etcd preallocates 64 MB of WAL per member: drop it, keep the rest for a look.
            shutil.rmtree(host.upper("var/lib/etcd"), ignore_errors=True)
