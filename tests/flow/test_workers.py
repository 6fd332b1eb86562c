"""The other nodes of the cluster (kubespray's kube_node), after the etcd members, in the
same run and one report: batch by batch, each node's kernel step, drain hook, reboot and
read-back; a node that fails stops the run before the next batch, and a re-run resumes.

The flow workers have no container runtime (the machine runs none): the runtime's answer
after a reboot is the lab's (tests/integration/test_workers_lab.py)."""
import time

import pytest

from lab import kernels

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


@pytest.mark.workers(3)
def test_a_worker_that_does_not_come_back_stops_the_run_before_the_next_batch_and_a_rerun_resumes(flow, playbook):
    flow.faults["worker1"]["boot_never_returns"] = True
    started = time.monotonic()
    run = playbook("remediate.yml", "-e", "etcd_kernel_reboot_timeout_s=6")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    assert report["stopped_at"] == "worker1" and "worker1" in report["reason"]
    assert [h["status"] for h in report["hosts"]] == ["remediated"] * 3
    assert nodes_of(report) == [("worker1", 1, "failed"), ("worker2", 2, "not_started"),
                                ("worker3", 3, "not_started")]
    assert report["lock"] == "released" and time.monotonic() - started < 240
    assert flow.rebooted() == ["master1", "master2", "master3"]
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


@pytest.mark.workers(2)
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
