"""The worker phase on the lab: after the masters, the workers (kubespray's kube_node) go in
batches, each read back with its containerd answering again; a containerd that comes back
frozen after its reboot stops the run at that worker. A monitor polls every worker's
containerd the whole time, and says how many were out at once."""
import threading
import time

import pytest

from lab import cluster, faults, kernels
from lab.docker import exec_in

from lab_helpers import Scenario, latest_markdown, latest_report, reports_since, run_playbook, start_playbook

pytestmark = pytest.mark.lab

FIXED = kernels.release(max(kernels.FIXED_ABIS))


class RuntimeMonitor:
    """Polls each worker's containerd (`ctr version`, bounded) in turn, and keeps, sweep by
    sweep, which workers did not answer."""

    def __init__(self, lab):
        self.lab = lab
        self.sweeps = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        while not self._stop.is_set():
            out = [host for host in self.lab.worker_hosts if not cluster.containerd_answers(self.lab, host, timeout=1)]
            self.sweeps.append((time.monotonic(), out))
            time.sleep(0.2)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)

    def most_out(self):
        return max((len(out) for _, out in self.sweeps), default=0)

    def ever_out(self):
        return sorted({host for _, out in self.sweeps for host in out})


def test_the_workers_go_after_the_masters_two_at_a_time_and_a_frozen_containerd_stops_the_run(affected_lab):
    lab = affected_lab
    workers = lab.worker_hosts
    assert len(workers) >= 2, "the lab runs two workers unless LAB_WORKERS says otherwise"
    stuck = workers[-1]
    faults.inject(lab, stuck, "containerd_stuck_after_boot")
    try:
        with Scenario(lab) as scenario, RuntimeMonitor(lab) as monitor:
            run = run_playbook("remediate.yml", "-e", "etcd_kernel_worker_serial=2",
                               "-e", "etcd_kernel_runtime_timeout_s=2", "-e", "etcd_kernel_recover_wait_s=9",
                               timeout=1500)
        report = latest_report()
        assert run.returncode != 0 and report["result"] == "stopped", run.stdout[-3000:]
        assert report["stopped_at"] == stuck
        assert "its containerd does not answer" in " ".join(report["reason"].split())
        # One report: the masters first, every one remediated under the invariants...
        assert [host["status"] for host in report["hosts"]] == ["remediated"] * len(lab.hosts)
        scenario.assert_invariants()
        # ...then the workers, batch by batch, never more out together than the batch.
        nodes = dict((node["host"], node) for node in report["nodes"])
        assert [nodes[host]["batch"] for host in workers] == [index // 2 + 1 for index in range(len(workers))]
        for host in workers[:-1]:
            assert nodes[host]["status"] == "remediated" and nodes[host]["kernel_after"] == FIXED, nodes[host]
            assert nodes[host]["runtime"]["answering"] is True and nodes[host]["runtime"]["version"]
        assert nodes[stuck]["status"] == "failed"
        assert 1 <= monitor.most_out() <= 2, monitor.sweeps
        assert monitor.ever_out() == sorted(workers)
        # Out of service from the reboot until containerd answered, for a worker that came back.
        assert all(0 < nodes[host]["downtime_s"] < 120 for host in workers[:-1])
        markdown = latest_markdown()
        assert "The other nodes, after the etcd members, batch by batch" in markdown
        assert "| 1 | %s | worker | " % workers[0] in markdown
        # The stuck worker booted its fixed kernel: the unit is active, its containerd answers nothing.
        assert exec_in(lab.master(stuck), "cat", "/var/lib/lab/osrelease").stdout.strip() == FIXED
        assert exec_in(lab.master(stuck), "systemctl", "is-active", "containerd", check=False).stdout.strip() == "active"
    finally:
        faults.clear(lab, stuck, "containerd_stuck_after_boot")
    # Once its containerd runs again, a re-run finds every node on the fixed kernel.
    assert cluster.containerd_answers(lab, stuck)
    again = run_playbook("remediate.yml", "--check")
    assert again.returncode == 0, again.stdout[-3000:]
    assert latest_report()["result"] == "nothing_to_do"


def test_two_runs_of_the_halves_of_the_workers_go_side_by_side_within_the_budget(affected_lab):
    """As two AWX jobs of "remediate nodes" with their limits would: each half in batches of 2,
    started together. The budget is below what the halves' first batches want at once (2 each,
    or 1 where a half has one worker), so only the slots in etcd keep the monitor's count to it."""
    lab = affected_lab
    workers = lab.worker_hosts
    halves = [workers[:len(workers) // 2], workers[len(workers) // 2:]]
    budget = 2 if len(workers) >= 6 else 1
    started = time.time()
    with RuntimeMonitor(lab) as monitor:
        runs = [start_playbook("remediate_nodes.yml", "--limit", ":".join(["etcd"] + half),
                               "-e", "etcd_kernel_worker_serial=2", "-e", "etcd_kernel_node_budget=%d" % budget)
                for half in halves]
        outputs = [run.communicate(timeout=1500)[0] for run in runs]
    assert [run.returncode for run in runs] == [0, 0], outputs[0][-3000:] + outputs[1][-3000:]
    reports = reports_since(started)
    assert len(reports) == 2 and [report["result"] for report in reports] == ["remediated", "remediated"]
    assert all(report["lock"] == "nodes_only" and report["plan"] == [] for report in reports)
    # Side by side: each run started before the other finished.
    assert reports[0]["started"] < reports[1]["finished"] and reports[1]["started"] < reports[0]["finished"]
    nodes = dict((node["host"], node) for report in reports for node in report["nodes"])
    assert sorted(nodes) == sorted(workers)
    assert all(node["status"] == "remediated" and node["kernel_after"] == FIXED for node in nodes.values())
    assert all(node["runtime"]["answering"] is True for node in nodes.values())
    assert monitor.most_out() == budget, monitor.sweeps
    assert monitor.ever_out() == sorted(workers)
    # The masters were left as they were, on the affected kernel.
    assert {exec_in(lab.master(host), "cat", "/var/lib/lab/osrelease").stdout.strip() for host in lab.hosts} == {
        kernels.release(kernels.BOOT_ABI)}
