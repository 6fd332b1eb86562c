"""Every run reports itself truthfully: an operator's range is honoured from the plan to
the read-back, a refused run writes its own report and frees the lock, a host that goes
unreachable stops the run there, and --limit remediates only the hosts it names."""
import json
import os
import re
import subprocess
import threading

import pytest

from lab import cluster, docker, faults
from lab.config import REPO_ROOT

from lab_helpers import (APT_PAUSED, Scenario, ansible_env, apt_timers_state, hooks, kernels, latest_markdown,
                         latest_report, run_module, run_playbook)

pytestmark = pytest.mark.lab

APT_TIMERS = ["apt-daily.timer", "apt-daily-upgrade.timer"]

# Covers 5.4.0-135, which the built-in range calls fixed; 136 is outside it.
WIDER_RANGE = json.dumps({"etcd_kernel_affected_ranges": [
    {"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 136, "reference": "INC-1 (test)"}]})


def lock_is_free(lab, tmp_path):
    """Take the lock as another run (then give it back): only possible when it is free."""
    args = {"endpoints": [lab.client_url(h) for h in lab.hosts], "ca_file": "/etc/ssl/etcd/ssl/ca.pem",
            "cert_file": "/etc/ssl/etcd/ssl/admin-master1.pem",
            "key_file": "/etc/ssl/etcd/ssl/admin-master1-key.pem",
            "run_id": "probe", "holder": "test", "ttl": 30}
    taken = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_lock", args)
    if taken.get("lock") == "acquired":
        run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_lock", dict(args, state="absent"))
        return True
    return False


def test_an_operator_range_is_honoured_from_the_plan_to_the_read_back(affected_lab):
    # One host is enough to follow the range from the plan to the read-back.
    first = run_playbook("remediate.yml", "--limit", "master2", "-e", "etcd_kernel_target_release=5.4.0-135-generic")
    assert first.returncode == 0, first.stdout[-3000:]
    assert kernels(affected_lab)["master2"] == "5.4.0-135-generic"

    with Scenario(affected_lab) as scenario:
        second = run_playbook("remediate.yml", "--limit", "master2", "-e", WIDER_RANGE)
    report = latest_report()
    assert second.returncode == 0, second.stdout[-3000:]
    assert [(step["host"], step["from"], step["to"]) for step in report["plan"]] == [
        ("master2", "5.4.0-135-generic", "5.4.0-136-generic")]
    assert report["result"] == "remediated"
    assert [(h["name"], h["status"], h["kernel_after"]) for h in report["hosts"]] == [
        ("master2", "remediated", "5.4.0-136-generic")]
    assert scenario.kernels_after == {"master1": "5.4.0-132-generic", "master2": "5.4.0-136-generic",
                                      "master3": "5.4.0-132-generic"}
    scenario.assert_invariants()


def test_a_refused_run_writes_its_own_report_and_leaves_the_lock_free(clean_lab, tmp_path):
    run_playbook("remediate.yml", "--check")
    previous = latest_report()
    faults.inject(clean_lab, "master2", "nospace_alarm")
    try:
        result = run_playbook("remediate.yml")
    finally:
        faults.clear(clean_lab, "master2", "nospace_alarm")
    report = latest_report()
    assert result.returncode != 0
    assert report["run_id"] != previous["run_id"]
    assert report["result"] == "refused" and report["stopped_at"] == "preflight"
    assert "alarm NOSPACE on etcd2" in report["reason"]
    assert report["lock"] == "not_taken" and report["plan"] == []
    assert "**Result: refused**" in latest_markdown() and "alarm NOSPACE on etcd2" in latest_markdown()
    assert lock_is_free(clean_lab, tmp_path)


def test_a_run_refused_after_taking_the_lock_releases_it(affected_lab, tmp_path):
    # The snapshot fails after the lock was taken: the run is refused and gives the lock back.
    result = run_playbook("remediate.yml", "-e", "etcd_kernel_etcdctl=/nonexistent/etcdctl")
    report = latest_report()
    assert result.returncode != 0
    assert report["result"] == "refused" and "etcdctl" in report["reason"]
    assert report["lock"] == "released"
    assert lock_is_free(affected_lab, tmp_path)
    assert set(kernels(affected_lab).values()) == {"5.4.0-132-generic"}


def test_an_unreachable_host_in_preflight_refuses_the_run_with_a_report(clean_lab):
    master = clean_lab.master("master3")
    docker.docker("pause", master)
    try:
        result = run_playbook("remediate.yml", "-e", "ansible_ssh_timeout=3")
    finally:
        docker.docker("unpause", master)
    report = latest_report()
    assert result.returncode != 0
    assert report["result"] == "refused" and "master3" in report["reason"]
    assert "unreachable" in report["reason"]


def test_a_host_that_goes_unreachable_mid_run_stops_the_run_there(affected_lab):
    """The second planned host's sshd freezes while the first is remediated: the run
    stops at the second host, reports it, releases the lock and leaves the third alone."""
    run = subprocess.Popen(["ansible-playbook", "remediate.yml", "-e", "ansible_ssh_timeout=3"], cwd=REPO_ROOT,
                           env=ansible_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output = []
    paused = []
    second = []

    def read_output():
        for line in run.stdout:
            output.append(line)
            planned = re.search(r"2\. (master\d) \(", line)
            if planned:
                second.append(planned.group(1))
            # Once the rollout starts (preflight has paused every host's apt timers).
            if line.startswith("PLAY [Remediate one etcd member at a time") and second and not paused:
                docker.docker("pause", affected_lab.master(second[0]))
                paused.append(second[0])

    reader = threading.Thread(target=read_output, daemon=True)
    with Scenario(affected_lab) as scenario:
        reader.start()
        try:
            run.wait(timeout=600)
            reader.join(timeout=10)
        finally:
            for host in paused:
                docker.docker("unpause", affected_lab.master(host))
    report = latest_report()
    assert paused, "".join(output)[-3000:]
    frozen = paused[0]
    assert run.returncode != 0
    assert report["result"] == "stopped" and report["stopped_at"] == frozen, report
    assert "unreachable" in report["reason"] or "UNREACHABLE" in report["reason"]
    statuses = [(h["name"], h["status"]) for h in report["hosts"]]
    assert statuses[0][1] == "remediated" and statuses[1] == (frozen, "failed") and statuses[2][1] == "not_started"
    assert report["lock"] == "released"
    assert scenario.rebooted() == [statuses[0][0]]
    scenario.assert_invariants()


def test_a_failing_pre_disruption_hook_stops_the_run_before_any_disruption(affected_lab, tmp_path):
    log, extra = hooks(tmp_path, failing=True)
    with Scenario(affected_lab) as scenario:
        result = run_playbook("remediate.yml", "--limit", "master2", *extra)
    report = latest_report()
    assert result.returncode != 0 and report["result"] == "stopped", result.stdout[-3000:]
    assert report["stopped_at"] == "master2" and "drain refused by a PodDisruptionBudget" in report["reason"]
    assert scenario.rebooted() == [] and report["lock"] == "released"
    # The node the hook cordoned is named, for whoever reads the report.
    master2 = next(host for host in report["hosts"] if host["name"] == "master2")
    assert master2["left_cordoned"] == "master2"
    assert "**master2 is still cordoned** by the pre_disruption hook on master2" in latest_markdown()
    assert log.read_text().splitlines() == ["pre_disruption master2 %s %s" % (scenario.boots_before["master2"], APT_PAUSED)]
    # The timers the run paused run again.
    assert report["apt_timers"] == [{"host": "master2", "paused": APT_TIMERS, "waited_s": 0.0, "resumed": True}]
    assert apt_timers_state(affected_lab, "master2") == "active,active"


def test_limit_remediates_only_the_named_host_and_gates_on_every_member(affected_lab, tmp_path):
    log, extra = hooks(tmp_path)
    # The snapshot goes to a folder the kit did not create (/var/backups, with other tools'
    # snapshot-*.db in it, which an older kit pruned): the kit works in its own folder inside.
    # (Not /tmp: Ubuntu empties it at every boot, systemd-tmpfiles' "D /tmp".)
    master2 = affected_lab.master("master2")
    others = ["/var/backups/snapshot-%d.db" % number for number in range(4)]
    docker.exec_in(master2, "sh", "-c", "for f in %s; do echo another tool > $f; done" % " ".join(others))
    with Scenario(affected_lab) as scenario:
        result = run_playbook("remediate.yml", "--limit", "master2", "-e", "etcd_kernel_snapshot_dir=/var/backups",
                              *extra)
    report = latest_report()
    assert result.returncode == 0, result.stdout[-3000:]
    assert report["snapshot"] == "master2:/var/backups/sre.etcd_kernel-snapshots/snapshot-%s.db" % report["run_id"]
    # The report files are named after the run (two runs finishing in the same second keep both).
    assert all(os.path.isfile(os.path.join(REPO_ROOT, "reports", report["run_id"] + suffix)) for suffix in (".json", ".md"))
    assert docker.exec_in(master2, "stat", "-c", "%a", "/var/backups", "/var/backups/sre.etcd_kernel-snapshots",
                          *others).stdout.split() == ["755", "700"] + ["644"] * len(others)
    # The hooks ran on master2 only: before its reboot, and after it on the new boot. Both
    # times unattended-upgrades was paused: the boot started its timers and the kit stopped
    # them again.
    assert log.read_text().splitlines() == [
        "pre_disruption master2 %s %s" % (scenario.boots_before["master2"], APT_PAUSED),
        "post_recovery master2 %s %s" % (scenario.boots_after["master2"], APT_PAUSED)]
    # The run paused the hosts it worked on only, and started their timers again.
    assert report["apt_timers"] == [{"host": "master2", "paused": APT_TIMERS, "waited_s": 0.0, "resumed": True}]
    assert [apt_timers_state(affected_lab, host) for host in affected_lab.hosts] == ["active,active"] * 3
    assert report["result"] == "remediated" and report["limit"] == "master2"
    assert [step["host"] for step in report["plan"]] == ["master2"]
    assert [h["name"] for h in report["hosts"]] == ["master2"]
    assert scenario.rebooted() == ["master2"]
    assert scenario.kernels_after == {"master1": "5.4.0-132-generic", "master2": "5.4.0-136-generic",
                                      "master3": "5.4.0-132-generic"}
    scenario.assert_invariants()


def test_limit_still_refuses_when_another_member_is_down(affected_lab):
    previous = latest_report()["run_id"]
    faults.inject(affected_lab, "master3", "member_stopped")
    try:
        result = run_playbook("remediate.yml", "--limit", "master2")
    finally:
        faults.clear(affected_lab, "master3", "member_stopped")
        cluster.wait_cluster_healthy(affected_lab)
    report = latest_report()
    assert result.returncode != 0 and report["run_id"] != previous, result.stdout[-3000:]
    assert report["result"] == "refused", report
    assert "etcd3 is out and not in this run's plan" in report["reason"]
    assert kernels(affected_lab)["master2"] == "5.4.0-132-generic"
