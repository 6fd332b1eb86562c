"""The other nodes of the cluster (kubespray's kube_node), after the etcd members, in the
same run and one report: batch by batch, each node's kernel step, drain hook, reboot and
read-back; a node that fails stops the run before the next batch, and a re-run resumes.

The flow workers have no container runtime (the machine runs none): the runtime's answer
after a reboot is the lab's (tests/integration/test_workers_lab.py)."""
import glob
import json
import os
import time

import pytest

from lab import kernels
from flow_hosts import CERT_DIR

RUNNING = kernels.release(kernels.BOOT_ABI)
FIXED = kernels.release(max(kernels.FIXED_ABIS))


def nodes_of(report):
    return [(node["host"], node["batch"], node["status"]) for node in report["nodes"]]


@pytest.mark.workers(4)
def test_the_workers_go_after_the_members_in_batches_and_one_report_covers_both(flow, playbook):
    check = playbook("remediate.yml", "--check", "-e", "etcd_kernel_worker_serial=50%")
    assert check.returncode == 0, check.tail()
    assert check.report()["result"] == "planned" and flow.rebooted() == []
    assert nodes_of(check.report()) == [("worker1", 1, "planned"), ("worker2", 1, "planned"),
                                        ("worker3", 2, "planned"), ("worker4", 2, "planned")]

    run = playbook("remediate.yml", "-e", "etcd_kernel_worker_serial=2")
    assert run.returncode == 0, run.tail()
    report = run.report()
    assert report["result"] == "remediated" and report["lock"] == "released", report["reason"]
    assert [h["status"] for h in report["hosts"]] == ["remediated"] * 3
    assert nodes_of(report) == [("worker1", 1, "remediated"), ("worker2", 1, "remediated"),
                                ("worker3", 2, "remediated"), ("worker4", 2, "remediated")]
    assert set(flow.kernels().values()) == {FIXED}
    assert all(worker.booted == [FIXED] for worker in flow.workers)
    nodes = dict((node["host"], node) for node in report["nodes"])
    # Every node goes after the last member is back; a batch's nodes are out together, and
    # the next batch goes only once both are back.
    last_member_back = max(host["healthy_at"] for host in report["hosts"])
    assert min(node["reboot_at"] for node in nodes.values()) > last_member_back
    assert nodes["worker2"]["reboot_at"] < nodes["worker1"]["back_at"]
    assert nodes["worker1"]["reboot_at"] < nodes["worker2"]["back_at"]
    assert min(nodes[h]["reboot_at"] for h in ("worker3", "worker4")) > max(
        nodes[h]["back_at"] for h in ("worker1", "worker2"))
    assert all(node["kernel_before"] == RUNNING and node["kernel_after"] == FIXED for node in nodes.values())
    assert all(node["downtime_s"] > 0 and node["runtime"] is None for node in nodes.values())
    assert report["summary"] == "remediated: 3 remediated; other nodes: 4 remediated"
    again = playbook("remediate.yml")
    assert again.returncode == 0 and again.report()["result"] == "nothing_to_do", again.tail()


@pytest.mark.workers(3, members_fixed=True)
def test_a_worker_that_does_not_come_back_stops_the_run_before_the_next_batch_and_a_rerun_resumes(flow, playbook):
    flow.faults["worker1"]["boot_never_returns"] = True
    started = time.monotonic()
    run = playbook("remediate.yml", "-e", "etcd_kernel_reboot_timeout_s=6")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    assert report["stopped_at"] == "worker1" and "worker1" in report["reason"]
    assert report["plan"] == [] and [h["status"] for h in report["hosts"]] == ["already_fixed"] * 3
    assert nodes_of(report) == [("worker1", 1, "failed"), ("worker2", 2, "not_started"),
                                ("worker3", 3, "not_started")]
    assert report["lock"] == "released" and time.monotonic() - started < 240
    assert flow.rebooted() == []  # worker1 has not booted yet
    # The slot worker1 took before its drain is freed by finish: the budget is whole again.
    assert flow.node_slots() == []
    # Its boot comes back once the fault clears, on the kernel the run installed.
    del flow.faults["worker1"]["boot_never_returns"]
    deadline = time.monotonic() + 30
    while not flow.host("worker1").booted and time.monotonic() < deadline:
        time.sleep(0.2)
    resumed = playbook("remediate.yml")
    assert resumed.returncode == 0, resumed.tail()
    report = resumed.report()
    assert report["result"] == "remediated" and report["plan"] == []
    # The members are all fixed: the lock is taken for the nodes alone.
    assert report["lock"] == "released"
    assert [step["host"] for step in report["node_plan"]] == ["worker2", "worker3"]
    assert nodes_of(report) == [("worker2", 1, "remediated"), ("worker3", 2, "remediated"),
                                ("worker1", None, "already_fixed")]
    assert set(flow.kernels().values()) == {FIXED}


@pytest.mark.workers(2, members_fixed=True)
def test_a_failing_drain_hook_stops_the_run_before_that_nodes_reboot(flow, playbook, tmp_path):
    (tmp_path / "drain.yml").write_text(
        "- name: Drain the node (the second worker's drain fails, as a PodDisruptionBudget would hold it)\n"
        "  ansible.builtin.fail:\n    msg: cannot evict pod web-0, it would violate the pod's disruption budget\n"
        "  when: inventory_hostname == 'worker2'\n")
    run = playbook("remediate.yml", "-e", "etcd_kernel_pre_disruption_tasks=%s" % (tmp_path / "drain.yml"))
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    assert report["stopped_at"] == "worker2" and "disruption budget" in report["reason"]
    assert nodes_of(report) == [("worker1", 1, "remediated"), ("worker2", 2, "failed")]
    assert "worker2" not in flow.rebooted() and flow.kernels()["worker2"] == RUNNING


@pytest.mark.workers(2)
def test_a_worker_that_runs_an_etcd_member_outside_the_etcd_group_refuses_the_run_before_any_change(flow, playbook):
    flow.host("worker2").write("/etc/etcd.env", "ETCD_NAME=etcd9\n")
    flow.host("worker2").run(["rm", "-f", "/etc/systemd/system/etcd.service"])
    flow.host("worker2").write("/etc/systemd/system/etcd.service", "[Service]\nExecStart=/usr/local/bin/etcd\n")
    before = flow.state()
    run = playbook("remediate.yml")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "refused", run.tail()
    assert "does not put it in the etcd group 'etcd', but it runs the etcd member etcd9" in " ".join(report["reason"].split())
    assert flow.state() == before and report["lock"] == "not_taken"


@pytest.mark.workers(2)
def test_a_limit_without_the_etcd_hosts_leaves_the_run_without_its_lock_and_refuses_it(flow, playbook):
    before = flow.state()
    run = playbook("remediate.yml", "--limit", "worker2")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "refused", run.tail()
    words = " ".join(report["reason"].split())
    assert "The run holds no lock, so no node is disrupted" in words
    assert "--limit 'etcd:worker2'" in words
    assert flow.state() == before and report["lock"] == "not_taken"
    assert [(node["host"], node["status"]) for node in report["nodes"]] == [("worker2", "affected")]


def run_reports(flow):
    """Every remediation report the flow's runs wrote, one per run (latest.json is a copy)."""
    reports = []
    for path in sorted(glob.glob(os.path.join(flow.reports_dir, "*.json"))):
        if os.path.basename(path) != "latest.json":
            with open(path) as handle:
                report = json.load(handle)
            if "nodes" in report and "run_id" in report:
                reports.append(report)
    return reports


def most_out_at_once(nodes):
    """The most nodes out of service together, from their reboot_at and back_at."""
    moments = sorted([(node["reboot_at"], 1) for node in nodes] + [(node["back_at"], -1) for node in nodes],
                     key=lambda moment: (moment[0], moment[1]))
    out = most = 0
    for _moment, change in moments:
        out += change
        most = max(most, out)
    return most


@pytest.mark.workers(4)
def test_two_nodes_only_runs_side_by_side_share_the_budget_and_leave_the_members_alone(flow, start_playbook):
    """The halves of the workers, as two AWX jobs with their limits would run them (each with the
    etcd hosts, through which the budget's slots are reached): both go at once, one node out each,
    and the budget of 2 (the flow inventory's) holds over both."""
    members_before = dict((host.name, flow.kernels()[host.name]) for host in flow.hosts)
    runs = [start_playbook("remediate_nodes.yml", "--limit", "etcd:" + half, "-e", "etcd_kernel_worker_serial=1")
            for half in ("worker1:worker2", "worker3:worker4")]
    assert [run.wait(timeout=400) for run in runs] == [0, 0]
    reports = run_reports(flow)
    assert len(reports) == 2
    assert [report["result"] for report in reports] == ["remediated", "remediated"]
    assert all(report["lock"] == "nodes_only" and report["plan"] == [] for report in reports)
    nodes = [node for report in reports for node in report["nodes"] if node["status"] == "remediated"]
    assert sorted(node["host"] for node in nodes) == ["worker1", "worker2", "worker3", "worker4"]
    assert most_out_at_once(nodes) <= 2
    # Side by side: each run had a node out before the other's last one was back.
    spans = [(min(n["reboot_at"] for n in r["nodes"]), max(n["back_at"] for n in r["nodes"])) for r in reports]
    assert spans[0][0] < spans[1][1] and spans[1][0] < spans[0][1], spans
    assert dict((host.name, flow.kernels()[host.name]) for host in flow.hosts) == members_before
    assert flow.rebooted() == ["worker1", "worker2", "worker3", "worker4"]


@pytest.mark.workers(2)
def test_a_nodes_only_run_never_starts_while_another_run_holds_the_lock(flow, playbook, module):
    held = module("master1", "sre.etcd_kernel.etcd_lock", {
        "endpoints": [host.client_url for host in flow.hosts], "ca_file": CERT_DIR + "/ca.pem",
        "cert_file": CERT_DIR + "/admin-master1.pem", "key_file": CERT_DIR + "/admin-master1-key.pem",
        "run_id": "someone-elses-run", "holder": "bob@laptop", "ttl": 120})
    assert held.get("lock") == "acquired", held
    before = flow.state()
    run = playbook("remediate_nodes.yml")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "refused", run.tail()
    assert "held by bob@laptop (run someone-elses-run)" in " ".join(report["reason"].split())
    assert flow.state() == before and report["lock"] == "not_taken"


@pytest.mark.workers(3, members_fixed=True)
def test_a_worker_within_the_max_fail_percentage_fails_and_the_run_goes_on_to_the_next_batches(flow, playbook):
    """50% of three workers lets one fail: the run goes on past it, reports it failed, and
    ends partly_remediated, which fails the job so that someone looks."""
    flow.faults["worker1"]["boot_never_returns"] = True
    run = playbook("remediate.yml", "-e", "etcd_kernel_reboot_timeout_s=6", "-e", "etcd_kernel_worker_serial=1",
                   "-e", "etcd_kernel_node_max_fail_percentage=50")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "partly_remediated", run.tail()
    assert report["stopped_at"] is None and "1 of the workers failed (worker1" in report["reason"]
    assert nodes_of(report) == [("worker1", 1, "failed"), ("worker2", 2, "remediated"), ("worker3", 3, "remediated")]
    assert "worker1" in report["nodes"][0]["reason"] and report["lock"] == "released"
    assert flow.kernels()["worker2"] == flow.kernels()["worker3"] == FIXED
    assert flow.node_slots() == []
    assert "The run was partly_remediated:" in run.words


@pytest.mark.workers(2, members_fixed=True)
def test_no_slot_in_time_stops_the_run_before_any_drain_whatever_the_max_fail_percentage(flow, playbook, module):
    """Another run holds the whole budget (2): the batch waits its etcd_kernel_node_slot_wait_s, then the run
    stops there with no node disrupted, although every worker would be let fail: it is the batch's failure."""
    held = module("master1", "sre.etcd_kernel.etcd_node_slot", {
        "endpoints": [host.client_url for host in flow.hosts], "ca_file": CERT_DIR + "/ca.pem",
        "cert_file": CERT_DIR + "/admin-master1.pem", "key_file": CERT_DIR + "/admin-master1-key.pem",
        "run_id": "someone-elses-run", "holder": "bob@laptop", "nodes": ["node-a", "node-b"], "budget": 2,
        "ttl": 300})
    assert held.get("outcome") == "taken", held
    run = playbook("remediate.yml", "-e", "etcd_kernel_worker_serial=2", "-e", "etcd_kernel_node_slot_wait_s=3",
                   "-e", "etcd_kernel_node_max_fail_percentage=100")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    words = " ".join(report["reason"].split())
    assert "too few slots of the nodes' budget (2) came free within 3s for worker1, worker2" in words
    assert "node-a of run someone-elses-run (bob@laptop)" in words
    assert not {"worker1", "worker2"} & set(flow.rebooted())
    assert flow.node_slots() == ["node-a", "node-b"]
