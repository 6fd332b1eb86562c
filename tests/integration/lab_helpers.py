"""Helpers for integration tests: polling, and running Ansible the way an operator does."""
import json
import os
import subprocess
import time

import pytest

from lab import cluster, witness
from lab.config import REPO_ROOT
from lab.docker import exec_in
from lab.etcd_http import Client, EtcdHTTPError
from lab.hooks import hook_files


def wait_for(predicate, timeout, interval=0.2, what="condition"):
    """Poll predicate until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail("timed out after %.0fs waiting for %s" % (timeout, what))


def ansible_env():
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    env["PATH"] = os.path.join(REPO_ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    return env


def run_playbook(playbook, *args, timeout=600):
    """ansible-playbook from the repository root with the lab inventory; the CompletedProcess."""
    return subprocess.run(["ansible-playbook", playbook, *args], cwd=REPO_ROOT, env=ansible_env(),
                          capture_output=True, text=True, timeout=timeout)


def start_playbook(playbook, *args):
    """ansible-playbook as run_playbook starts it, without waiting: the Popen (its output in .stdout)."""
    return subprocess.Popen(["ansible-playbook", playbook, *args], cwd=REPO_ROOT, env=ansible_env(),
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def run_module(tmp_path, host, module, args, check=False):
    """Run one module on one host with `ansible`; its JSON result (from the tree callback)."""
    tree = tmp_path / ("tree-%s-%d" % (host, time.monotonic_ns()))
    command = ["ansible", host, "-m", module, "-a", json.dumps(args), "-t", str(tree)]
    if check:
        command.append("--check")
    if host == "localhost":
        command += ["-c", "local", "-e", "ansible_python_interpreter=" + os.path.join(
            REPO_ROOT, ".venv", "bin", "python")]
    else:
        command.append("--become")  # as the kit's host plays: etcd's certificates are root's
    result = subprocess.run(command, cwd=REPO_ROOT, env=ansible_env(), capture_output=True,
                            text=True, timeout=300)
    output = tree / host
    assert output.exists(), result.stdout + result.stderr
    module_result = json.loads(output.read_text())
    # The tree callback does not always record "failed"; ansible's exit code does.
    module_result["failed"] = bool(module_result.get("failed")) or result.returncode != 0
    return module_result


def recap(output):
    """{host: {"ok": n, "changed": n, ...}} from ansible-playbook's PLAY RECAP."""
    totals = {}
    for line in output.split("PLAY RECAP")[-1].splitlines()[1:]:
        parts = line.split()
        if len(parts) > 2 and parts[1] == ":":
            totals[parts[0]] = dict((k, int(v)) for k, v in (p.split("=") for p in parts[2:]))
    return totals


def kernels(lab):
    return {h: exec_in(lab.master(h), "cat", "/var/lib/lab/osrelease").stdout.strip() for h in lab.hosts}


def boot_ids(lab):
    return {h: cluster.boot_id_of(lab, h) for h in lab.hosts}


LOCK_KEY = "/sre.etcd_kernel/remediation-lock"


def _lock_entry(lab):
    """(client, url, (value, lease) or None) from the first member that answers."""
    client = Client(lab.client_tls, timeout=2.0)
    errors = []
    for host in lab.hosts:
        try:
            return client, lab.client_url(host), client.get(lab.client_url(host), LOCK_KEY)
        except EtcdHTTPError as error:
            errors.append(str(error))
    raise AssertionError("no member answered: %s" % "; ".join(errors))


def lock_value(lab):
    """The run lock's value as a dict, or None when it is free."""
    found = _lock_entry(lab)[2]
    return json.loads(found[0]) if found else None


def expire_lock(lab):
    """Let the run lock's lease run out now (revoked: etcd drops the key as on expiry)."""
    client, url, found = _lock_entry(lab)
    assert found, "the lock was not held"
    client.revoke(url, found[1])


def latest_report():
    with open(os.path.join(REPO_ROOT, "reports", "latest.json")) as handle:
        return json.load(handle)


def reports_since(moment):
    """The remediation reports written after moment (epoch seconds), oldest first: one per run."""
    folder = os.path.join(REPO_ROOT, "reports")
    found = []
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        if name[:1].isdigit() and name.endswith(".json") and os.path.getmtime(path) >= moment:
            with open(path) as handle:
                report = json.load(handle)
            if "nodes" in report and "run_id" in report:
                found.append(report)
    return found


def latest_markdown():
    """The Markdown report of the run latest.json describes (the .md beside its own JSON copy)."""
    run_id = latest_report()["run_id"]
    folder = os.path.join(REPO_ROOT, "reports")
    for name in sorted(os.listdir(folder), reverse=True):
        if name[:1].isdigit() and name.endswith(".json"):
            with open(os.path.join(folder, name)) as handle:
                if json.load(handle).get("run_id") == run_id:
                    with open(os.path.join(folder, name[:-len(".json")] + ".md")) as markdown:
                        return markdown.read()
    raise AssertionError("no Markdown report of run %s in %s" % (run_id, folder))


class Scenario:
    """A run under the witnesses, with the lab's state before and after."""

    def __init__(self, lab):
        self.lab = lab

    def __enter__(self):
        self.boots_before = boot_ids(self.lab)
        witness.start(self.lab)
        return self

    def __exit__(self, *exc):
        self.records = witness.stop(self.lab)
        self.boots_after = boot_ids(self.lab)
        self.kernels_after = kernels(self.lab)

    def rebooted(self):
        return sorted(h for h in self.lab.hosts if self.boots_before[h] != self.boots_after[h])

    def assert_invariants(self, quorum=True):
        writer = self.records["writer"]
        assert writer["lost"] == 0, writer
        if quorum:
            # Every etcd cluster the lab runs (kubespray's etcd-events too) kept quorum.
            for name in ("monitor", witness.EVENTS_MONITOR):
                monitor = self.records.get(name)
                if monitor is not None:
                    assert monitor["max_down"] <= 1, (name, monitor)
                    assert monitor["seconds_without_quorum"] == 0, (name, monitor)


def hooks(tmp_path, failing=False):
    """-e for hooks that log their phase, host, boot id and apt state (lab/hooks.py)."""
    return hook_files(tmp_path, failing=failing)


def apt_timers_state(lab, host):
    """systemctl is-active of the two apt timers on host, as "active,active"."""
    return ",".join(exec_in(lab.master(host), "systemctl", "is-active", "apt-daily.timer", "apt-daily-upgrade.timer",
                            check=False).stdout.split())
