"""Every run reports itself truthfully, and stops rather than guess: the flow tier's runs
with reboots (the harness's), --limit, hooks, a lock that lapses and members that fail.

The lab keeps what needs the real thing: the invariants under a load writer and a
monitor, systemd's apt timers, the fallback restart, sshd going away."""
import json
import os
import pathlib
import signal
import threading
import time

from lab import kernels

RUNNING = kernels.release(kernels.BOOT_ABI)
FIXED = kernels.release(max(kernels.FIXED_ABIS))

# Covers 5.4.0-135, which the built-in range calls fixed; 136 is outside it.
WIDER_RANGE = json.dumps({"etcd_kernel_affected_ranges": [
    {"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 136, "reference": "INC-1 (test)"}]})


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


def test_a_remediation_reboots_one_host_at_a_time_and_reports_each(flow, playbook):
    run = playbook("remediate.yml")
    assert run.returncode == 0, run.tail()
    report = run.report()
    assert report["result"] == "remediated" and report["lock"] == "released"
    assert [h["status"] for h in report["hosts"]] == ["remediated"] * 3
    # The leader goes last, after handing its leadership off.
    assert [h["leader_transferred"] for h in report["hosts"]] == [False, False, True]
    assert flow.kernels() == {h.name: FIXED for h in flow.hosts}
    assert [h.booted for h in flow.hosts] == [[FIXED]] * 3
    assert report["snapshot"].endswith("snapshot-%s.db" % report["run_id"])
    # A second run has nothing to do, and touches nothing.
    before = flow.state()
    again = playbook("remediate.yml")
    assert again.returncode == 0, again.tail()
    assert again.report()["result"] == "nothing_to_do" and flow.state() == before


def test_an_operator_range_is_honoured_from_the_plan_to_the_read_back(flow, playbook):
    first = playbook("remediate.yml", "--limit", "master2", "-e", "etcd_kernel_target_release=5.4.0-135-generic")
    assert first.returncode == 0, first.tail()
    assert flow.kernels()["master2"] == "5.4.0-135-generic"
    second = playbook("remediate.yml", "--limit", "master2", "-e", WIDER_RANGE)
    report = second.report()
    assert second.returncode == 0, second.tail()
    assert [(step["host"], step["from"], step["to"]) for step in report["plan"]] == [
        ("master2", "5.4.0-135-generic", FIXED)]
    assert report["result"] == "remediated"
    assert [(h["host"], h["status"], h["kernel_after"]) for h in report["hosts"]] == [
        ("master2", "remediated", FIXED)]
    assert flow.kernels() == {"master1": RUNNING, "master2": FIXED, "master3": RUNNING}


def test_a_refused_run_writes_its_own_report_and_leaves_the_lock_free(flow, playbook):
    previous = playbook("remediate.yml", "--check").report()
    flow.raise_alarm("master2")
    run = playbook("remediate.yml")
    report = run.report()
    assert run.returncode != 0
    assert report["run_id"] != previous["run_id"]
    assert report["result"] == "refused" and report["stopped_at"] == "preflight"
    assert "alarm NOSPACE on etcd2" in report["reason"]
    assert report["lock"] == "not_taken" and report["plan"] == []
    markdown = (flow_reports(flow) / (report["run_id"] + ".md")).read_text()
    assert "**Result: refused**" in markdown and "alarm NOSPACE on etcd2" in markdown
    assert flow.lock_value() is None


def flow_reports(flow):
    return pathlib.Path(flow.reports_dir)


def test_a_run_refused_after_taking_the_lock_releases_it(flow, playbook):
    # The snapshot fails after the lock was taken: the run is refused and gives the lock back.
    run = playbook("remediate.yml", "-e", "etcd_kernel_etcdctl=/nonexistent/etcdctl")
    report = run.report()
    assert run.returncode != 0
    assert report["result"] == "refused" and "etcdctl" in report["reason"]
    assert report["lock"] == "released" and flow.lock_value() is None
    assert set(flow.kernels().values()) == {RUNNING} and flow.rebooted() == []


def test_a_snapshot_folder_without_room_refuses_the_run_and_releases_the_lock(flow, playbook):
    # A full /var/backups on every host: the snapshot does not fit twice over where it is taken.
    for host in flow.hosts:
        host.run(["mount", "-t", "tmpfs", "-o", "size=4k", "tmpfs", "/var/backups"])
    run = playbook("remediate.yml")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "refused", run.tail()
    reason = " ".join(report["reason"].split())
    assert "/var/backups/etcd-kernel-remediation on master" in reason and "database needs twice that" in reason, reason
    assert "set etcd_kernel_snapshot_dir to a folder with room" in reason
    assert report["lock"] == "released" and flow.lock_value() is None
    assert set(flow.kernels().values()) == {RUNNING} and flow.rebooted() == []


def test_a_limit_to_hosts_whose_members_are_all_out_is_refused_for_want_of_a_snapshot(flow, playbook):
    # master3's member is out and --limit master3 plans it first; the run reaches no healthy
    # member to take the snapshot from.
    flow.host("master3").stop_etcd()
    run = playbook("remediate.yml", "--limit", "master3")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "refused", run.tail()
    assert ("No healthy etcd member among the hosts this run reaches (master3) to take the snapshot from"
            in " ".join(report["reason"].split())), report["reason"]
    assert flow.lock_value() is None and flow.rebooted() == []


def test_an_unreachable_host_in_preflight_refuses_the_run_with_a_report(flow, playbook):
    flow.host("master3").set_powered(False)
    run = playbook("remediate.yml")
    report = run.report()
    assert run.returncode != 0
    assert report["result"] == "refused" and "master3" in report["reason"]
    assert "unreachable" in report["reason"]


def test_a_host_that_goes_unreachable_mid_run_stops_the_run_there(flow, playbook, tmp_path):
    """The second planned host goes away while the first is remediated (its hook runs
    there): the run stops at the second host, reports it, and leaves the third alone."""
    plan = playbook("remediate.yml", "--check").report()["plan"]
    first, second = plan[0]["host"], plan[1]["host"]
    (tmp_path / "post.yml").write_text(
        "- name: Take the next host off the network\n"
        "  ansible.builtin.file:\n    path: %s/powered_off\n    state: touch\n    mode: '0644'\n"
        "  delegate_to: localhost\n" % flow.host(second).folder)
    run = playbook("remediate.yml", "-e", "etcd_kernel_post_recovery_tasks=%s" % (tmp_path / "post.yml"))
    report = run.report()
    assert run.returncode != 0
    assert report["result"] == "stopped" and report["stopped_at"] == second, report
    assert "unreachable" in report["reason"].lower()
    assert [(h["host"], h["status"]) for h in report["hosts"]] == [
        (first, "remediated"), (second, "failed"), (plan[2]["host"], "not_started")]
    assert report["lock"] == "released" and flow.rebooted() == [first]


def test_a_controller_killed_mid_run_leaves_a_journal_the_next_run_reports(flow, playbook, start_playbook):
    """The controller dies (SIGKILL, no rescue, no finish) during the first host's step: its
    journal says how far it got, and the next run's report names it as never finished."""
    journals = pathlib.Path(flow.reports_dir) / "journal"

    def records():
        return [json.loads(line) for path in journals.glob("*.jsonl") for line in path.read_text().splitlines()]

    process = start_playbook("remediate.yml")
    wait_for(lambda: any(record["event"] == "host_started" for record in records()), 240, "the first host's step")
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    killed = records()
    assert killed[0]["event"] == "started" and killed[-1]["event"] != "finished"
    first = next(record["host"] for record in killed if record["event"] == "host_started")
    report = playbook("remediate.yml", "--check").report()
    assert report["result"] == "planned"
    assert report["unfinished_runs"] == [{
        "run_id": killed[0]["run_id"], "started": killed[0]["started"], "phase": "rollout", "in_progress": first,
        "lock": "held", "note": report["unfinished_runs"][0]["note"]}]
    assert report["unfinished_runs"][0]["note"].startswith("its last record was ")
    # A check run that finished does not close the list: the next real run's report still names it.
    assert playbook("remediate.yml", "--check").report()["unfinished_runs"] == report["unfinished_runs"]


def test_limit_still_refuses_when_another_member_is_down(flow, playbook):
    flow.host("master3").stop_etcd()
    run = playbook("remediate.yml", "--limit", "master2")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "refused", run.tail()
    assert "etcd3 is out and not in this run's plan" in report["reason"]
    assert flow.kernels()["master2"] == RUNNING


def test_a_member_already_down_is_remediated_first_and_the_rest_follow(flow, playbook):
    flow.host("master3").stop_etcd()
    run = playbook("remediate.yml")
    report = run.report()
    assert run.returncode == 0, run.tail()
    assert report["result"] == "remediated"
    assert report["plan"][0]["host"] == "master3"
    assert flow.kernels() == {h.name: FIXED for h in flow.hosts}


def after_the_first_reboot(flow, action):
    """Run action() in a thread once the harness has booted a host (the plan's first)."""
    def watch():
        wait_for(lambda: flow.rebooted(), 120, "the first reboot")
        action(flow.rebooted()[0])
    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    return thread


def test_a_lock_that_lapses_mid_run_stops_the_run_and_is_never_taken_again(flow, playbook):
    watcher = after_the_first_reboot(flow, lambda host: flow.expire_lock())
    run = playbook("remediate.yml")
    watcher.join(timeout=10)
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    first = flow.rebooted()
    assert len(first) == 1 and report["stopped_at"] == first[0]
    assert "is gone: its lease lapsed" in report["reason"] and "does not retake it" in report["reason"]
    assert report["lock"] == "lapsed" and flow.lock_value() is None


def test_a_second_member_failing_mid_run_stops_the_kit_before_another_reboot(flow, playbook):
    def stop_another_member(first):
        victim = [h for h in flow.hosts if h.name != first][-1]
        victim.stop_etcd()
    watcher = after_the_first_reboot(flow, stop_another_member)
    run = playbook("remediate.yml", "-e", "etcd_kernel_gate_wait_s=5")
    watcher.join(timeout=10)
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    assert len(flow.rebooted()) == 1 and report["stopped_at"] == flow.rebooted()[0], report
    assert report["lock"] == "released"


def test_a_boot_that_never_returns_stops_the_run_within_the_timeout(flow, playbook):
    plan = playbook("remediate.yml", "--check").report()["plan"]
    flow.faults[plan[0]["host"]]["boot_never_returns"] = True
    started = time.monotonic()
    run = playbook("remediate.yml", "-e", "etcd_kernel_reboot_timeout_s=8")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    assert report["stopped_at"] == plan[0]["host"]
    assert [h["status"] for h in report["hosts"]][1:] == ["not_started", "not_started"]
    assert time.monotonic() - started < 120


def test_an_install_that_runs_past_its_timeout_stops_the_run_before_that_hosts_reboot(flow, playbook):
    plan = playbook("remediate.yml", "--check").report()["plan"]
    # dpkg takes its time on the first host (a slow mirror, a slow postinst): apt outlives
    # etcd_kernel_install_timeout_s, and Ansible's task timeout ends the install.
    flow.host(plan[0]["host"]).write("/etc/apt/apt.conf.d/98slow-dpkg", 'DPkg::Pre-Invoke {"sleep 10";};\n')
    run = playbook("remediate.yml", "-e", "etcd_kernel_install_timeout_s=3", "-e", "etcd_kernel_dpkg_lock_wait_s=1")
    report = run.report()
    assert run.returncode != 0 and report["result"] == "stopped", run.tail()
    assert report["stopped_at"] == plan[0]["host"] and flow.rebooted() == []
    reason = " ".join(report["reason"].split())
    assert "took longer than etcd_kernel_install_timeout_s (3s); apt may still be running there" in reason, reason
    assert set(flow.kernels().values()) == {RUNNING}
