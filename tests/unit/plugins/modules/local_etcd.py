"""A real three-member etcd 3.4 cluster on 127.0.0.1 for component tests.

TLS with client-certificate auth on client and peer ports, certificates in
kubespray's layout (lab.certs), free ports, data under a pytest tmp dir. Tests
may stop, freeze (SIGSTOP) or restart members; `restore()` brings every member
back and waits until the whole cluster is healthy again, so one cluster can
serve a whole test module.
"""
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import time
import urllib.request

from lab import certs

ETCD_BINARY = shutil.which("etcd") or "/usr/bin/etcd"
LOOPBACK = "127.0.0.1"
# Short raft timings keep elections (and so the tests) fast on loopback.
HEARTBEAT_MS = "100"
ELECTION_MS = "1000"
START_TIMEOUT = 30.0


def free_port():
    """A port nobody listens on right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class LocalMember:
    def __init__(self, name, base_dir, ca_dir):
        self.name = name
        self.client_port = free_port()
        self.peer_port = free_port()
        self.client_url = "https://%s:%d" % (LOOPBACK, self.client_port)
        self.peer_url = "https://%s:%d" % (LOOPBACK, self.peer_port)
        self.data_dir = os.path.join(base_dir, name, "data")
        self.cert_dir = certs.make_host_certs(ca_dir, os.path.join(base_dir, name, "ssl"), name, LOOPBACK)
        self.log_path = os.path.join(base_dir, name, "etcd.log")
        self.process = None

    def command(self, initial_cluster):
        ssl_dir = self.cert_dir
        member_cert = os.path.join(ssl_dir, "member-%s.pem" % self.name)
        member_key = os.path.join(ssl_dir, "member-%s-key.pem" % self.name)
        ca_cert = os.path.join(ssl_dir, "ca.pem")
        return [
            ETCD_BINARY,
            "--name", self.name,
            "--data-dir", self.data_dir,
            "--listen-client-urls", self.client_url,
            "--advertise-client-urls", self.client_url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.peer_url,
            "--initial-cluster", initial_cluster,
            "--initial-cluster-token", "local-etcd-test",
            # Ignored once the data dir exists, so restarts rejoin the same cluster.
            "--initial-cluster-state", "new",
            "--cert-file", member_cert, "--key-file", member_key,
            "--trusted-ca-file", ca_cert, "--client-cert-auth",
            "--peer-cert-file", member_cert, "--peer-key-file", member_key,
            "--peer-trusted-ca-file", ca_cert, "--peer-client-cert-auth",
            "--heartbeat-interval", HEARTBEAT_MS, "--election-timeout", ELECTION_MS,
            "--logger", "zap", "--log-outputs", "stderr",
        ]

    def start(self, initial_cluster):
        os.makedirs(self.data_dir, exist_ok=True)
        os.chmod(self.data_dir, 0o700)
        log = open(self.log_path, "ab")
        try:
            self.process = subprocess.Popen(self.command(initial_cluster), stdout=log, stderr=log,
                                            stdin=subprocess.DEVNULL)
        finally:
            log.close()

    @property
    def running(self):
        return self.process is not None and self.process.poll() is None

    def stop(self):
        if not self.running:
            return
        # A frozen process does not act on SIGTERM until it is continued.
        os.kill(self.process.pid, signal.SIGCONT)
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=10)

    def freeze(self):
        os.kill(self.process.pid, signal.SIGSTOP)

    def thaw(self):
        if self.running:
            os.kill(self.process.pid, signal.SIGCONT)


class LocalEtcdCluster:
    """Three etcd members named etcd1..etcd3 on loopback, plus a controller client certificate."""

    def __init__(self, base_dir, size=3):
        self.base_dir = str(base_dir)
        self.ca_dir = os.path.join(self.base_dir, "ca")
        self.members = [LocalMember("etcd%d" % index, self.base_dir, self.ca_dir)
                        for index in range(1, size + 1)]
        client = certs.make_client_cert(self.ca_dir, os.path.join(self.base_dir, "client"))
        self.ca_file, self.cert_file, self.key_file = client["ca"], client["cert"], client["key"]
        self.initial_cluster = ",".join("%s=%s" % (m.name, m.peer_url) for m in self.members)

    # -- addressing -------------------------------------------------------
    @property
    def endpoints(self):
        return [member.client_url for member in self.members]

    def member(self, name):
        return next(member for member in self.members if member.name == name)

    def connection_args(self, **extra):
        args = {"endpoints": self.endpoints, "ca_file": self.ca_file,
                "cert_file": self.cert_file, "key_file": self.key_file}
        args.update(extra)
        return args

    # -- life cycle -------------------------------------------------------
    def start(self):
        for member in self.members:
            if not member.running:
                member.start(self.initial_cluster)
        self.wait_healthy()
        return self

    def stop(self):
        for member in self.members:
            member.stop()

    def restore(self):
        """Undo whatever a test did: continue frozen members, restart stopped ones, wait."""
        for member in self.members:
            member.thaw()
        return self.start()

    # -- observation (independent of the code under test) -------------------
    def _post(self, member, path, body, timeout=1.0):
        context = ssl.create_default_context(cafile=self.ca_file)
        context.load_cert_chain(self.cert_file, self.key_file)
        request = urllib.request.Request(member.client_url + path, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=timeout, context=context) as response:
            return json.loads(response.read().decode())

    def status(self, member):
        return self._post(member, "/v3/maintenance/status", {})

    def leader_name(self):
        """The member every running member agrees leads, or None."""
        leaders = set()
        ids = {}
        for member in self.members:
            try:
                status = self.status(member)
            except (OSError, ValueError):
                return None
            ids[status["header"]["member_id"]] = member.name
            leaders.add(status.get("leader"))
        if len(leaders) != 1:
            return None
        return ids.get(leaders.pop())

    def member_id(self, name):
        """The member's id as the decimal string the gateway speaks."""
        return self.status(self.member(name))["header"]["member_id"]

    def wait_healthy(self, timeout=START_TIMEOUT):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for member in self.members:
                if member.process is not None and member.process.poll() is not None:
                    raise RuntimeError("etcd member %s exited; log: %s" % (member.name, member.log_path))
            if self.leader_name() is not None:
                return
            time.sleep(0.1)
        raise RuntimeError("local etcd cluster not healthy within %.0f s; logs under %s"
                           % (timeout, self.base_dir))

    def alarm(self, action, member_name, alarm="NOSPACE"):
        body = {"action": action, "memberID": self.member_id(member_name), "alarm": alarm}
        return self._post(self.member(member_name), "/v3/maintenance/alarm", body)

    def move_leader(self, to_name):
        leader = self.member(self.leader_name())
        if leader.name == to_name:
            return
        self._post(leader, "/v3/maintenance/transfer-leadership",
                   {"targetID": self.member_id(to_name)}, timeout=5.0)
        deadline = time.monotonic() + 10
        while self.leader_name() != to_name:
            if time.monotonic() > deadline:
                raise RuntimeError("leadership did not move to %s" % to_name)
            time.sleep(0.1)
