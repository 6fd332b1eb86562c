"""Fixtures of the flow tier: a fresh flow cluster per test, and the playbooks run on it."""
import json
import os
import signal
import subprocess
import sys
import time

import pytest
import yaml

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from flow_hosts import CONNECTION_PLUGINS, FlowCluster, loopback_block  # noqa: E402

from lab import kernels  # noqa: E402

from lab.config import REPO_ROOT  # noqa: E402


def pytest_collection_modifyitems(items):
    for item in items:
        item.add_marker(pytest.mark.flow)


@pytest.fixture(scope="session")
def flow_session(tmp_path_factory):
    if os.geteuid() != 0:
        pytest.skip("the flow tier mounts overlays in namespaces of its own: run it as root (make test-flow)")
    return {"dir": str(tmp_path_factory.mktemp("flow-session")), "block": loopback_block()}


@pytest.fixture(scope="module")
def shared_flow(flow_session, tmp_path_factory):
    """One cluster for the module's tests marked reads_only, on loopback addresses of its own
    (the module's other tests start theirs beside it)."""
    cluster = FlowCluster(str(tmp_path_factory.mktemp("shared-flow") / "cluster"), flow_session["dir"],
                          loopback_block())
    try:
        yield cluster.start()
    finally:
        cluster.stop()


@pytest.fixture
def flow(request, flow_session, tmp_path):
    """A fresh flow cluster per test. A test marked reads_only (its run must change nothing, and
    it checks that it did not) shares its module's cluster instead, with a report folder of its own."""
    if request.node.get_closest_marker("reads_only"):
        cluster = request.getfixturevalue("shared_flow")
        cluster.report_to(str(tmp_path / "reports"))
        cluster.wait_healthy()
        yield cluster
        return
    # A test marked workers(n) gets n workers (kube_node) beside the three masters; with
    # members_fixed=True, the masters run a fixed kernel already.
    workers = request.node.get_closest_marker("workers")
    members_fixed = bool(workers and workers.kwargs.get("members_fixed"))
    cluster = FlowCluster(str(tmp_path / "cluster"), flow_session["dir"], flow_session["block"],
                          workers=workers.args[0] if workers else 0,
                          members_abi=max(kernels.FIXED_ABIS) if members_fixed else None)
    try:
        yield cluster.start()
    finally:
        cluster.stop()


class PlaybookRun:
    def __init__(self, completed, cluster):
        self.returncode = completed.returncode
        self.stdout = completed.stdout
        self.stderr = completed.stderr
        self.cluster = cluster
        # The YAML callback folds long messages over lines and doubles quotes: compare words.
        self.words = " ".join((completed.stdout + completed.stderr).replace("''", "'").split())

    def report(self):
        with open(os.path.join(self.cluster.reports_dir, "latest.json")) as handle:
            return json.load(handle)

    def tail(self):
        return (self.stdout + self.stderr)[-4000:]


def ansible_env():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
               ANSIBLE_CONNECTION_PLUGINS=CONNECTION_PLUGINS,
               ANSIBLE_HOME=os.environ.get("ANSIBLE_HOME", os.path.join(REPO_ROOT, ".ansible")))
    env["PATH"] = os.path.join(REPO_ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    return env


@pytest.fixture
def playbook(flow):
    """playbook("remediate.yml", "--check", ...): the run's PlaybookRun, on the flow inventory
    (or on inventory=, a changed copy of it)."""
    def run(name, *args, inventory=None, timeout=900):
        completed = subprocess.run(["ansible-playbook", name, "-i", inventory or flow.inventory, *args],
                                   cwd=REPO_ROOT, env=ansible_env(), capture_output=True, text=True,
                                   timeout=timeout)
        return PlaybookRun(completed, flow)
    return run


@pytest.fixture
def start_playbook(flow):
    """start_playbook("remediate.yml", ...): the run as a process of its own session, which the
    test may kill as a controller dies (whatever is left is killed at the test's end)."""
    processes = []

    def start(name, *args):
        process = subprocess.Popen(["ansible-playbook", name, "-i", flow.inventory, *args], cwd=REPO_ROOT,
                                   env=ansible_env(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                   start_new_session=True)
        processes.append(process)
        return process
    yield start
    for process in processes:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


@pytest.fixture
def inventory_variant(flow, tmp_path):
    """inventory_variant(change): a copy of the flow inventory, changed by change(inventory dict)."""
    def variant(change):
        with open(flow.inventory) as handle:
            inventory = yaml.safe_load(handle)
        change(inventory)
        path = tmp_path / ("inventory-%d.yml" % time.monotonic_ns())
        path.write_text(yaml.safe_dump(inventory, sort_keys=False))
        return str(path)
    return variant


@pytest.fixture
def module(flow, tmp_path):
    """module(host, name, args): one module run on a flow host with `ansible`; its JSON result."""
    def run(host, name, args):
        tree = tmp_path / ("tree-%d" % time.monotonic_ns())
        completed = subprocess.run(["ansible", host, "-i", flow.inventory, "-m", name, "-a", json.dumps(args),
                                    "-t", str(tree)], cwd=REPO_ROOT, env=ansible_env(), capture_output=True,
                                   text=True, timeout=120)
        output = tree / host
        assert output.exists(), completed.stdout + completed.stderr
        result = json.loads(output.read_text())
        result["failed"] = bool(result.get("failed")) or completed.returncode != 0
        return result
    return run
