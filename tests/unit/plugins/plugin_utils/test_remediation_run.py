"""The run record and its report: the result is decided from the record alone, and only
a run whose every planned host was read back is `remediated`."""
import json
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.sre.etcd_kernel.plugins.filter.remediation import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import (
    HOST_IDENTITY,
    LOCK_TTL_MARGIN_S,
    lock_releaser,
    lock_ttl_needed,
    new_run,
    run_report,
    run_update,
    node_phase_problems,
    node_step_blocker,
    step_blocker,
)

DEFAULTS_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "..", "..",
                             "roles", "etcd_kernel", "defaults", "main.yml")

FILTERS = FilterModule().filters()
HOSTS = ("master1", "master2", "master3")


def detected(host, status="affected"):
    return {"host": host, "member": "etcd" + host[-1], "kernel": "5.4.0-132-generic", "status": status,
            "reason": "a reason"}


def plan(*hosts):
    return [{"order": order, "host": host, "member": "etcd" + host[-1], "from": "5.4.0-132-generic",
             "to": "5.4.0-136-generic", "role": "follower"} for order, host in enumerate(hosts, start=1)]


def done(host, status="remediated", verified=True, **extra):
    entry = {"host": host, "member": "etcd" + host[-1], "kernel_before": "5.4.0-132-generic",
             "kernel_after": "5.4.0-136-generic", "status": status, "verified": verified,
             "leader_transferred": False, "fallback_used": False, "downtime_s": 8.0}
    entry.update(extra)
    return entry


def planned_run(*hosts, check_mode=False):
    run = run_update(new_run("r1", "t0", check_mode=check_mode), phase="preflight")
    return run_update(run, detected=[detected(h, "affected" if h in hosts else "unaffected") for h in HOSTS],
                      plan=plan(*hosts), lock="held")


def rolled_out(run, *entries):
    run = run_update(run, phase="rollout")
    for entry in entries:
        run = run_update(run, in_progress=entry["host"])
        run = run_update(run, host=entry)
    return run


def test_every_planned_host_read_back_is_remediated_in_plan_order():
    run = rolled_out(planned_run("master3", "master1", "master2"), *(done(h) for h in ("master3", "master1", "master2")))
    report = run_report(run_update(run, phase="finish", lock="released"), "t1")
    assert report["result"] == "remediated" and report["stopped_at"] is None
    assert [h["host"] for h in report["hosts"]] == ["master3", "master1", "master2"]
    assert report["lock"] == "released" and report["summary"] == "remediated: 3 remediated"
    json.dumps(report, allow_nan=False)


def test_a_planned_host_without_a_result_makes_the_run_stopped_there_not_remediated():
    # The false success: a host the plan named ends without a read-back result.
    run = rolled_out(planned_run("master1", "master2"), done("master1"))
    report = run_report(run, "t1")
    assert report["result"] == "stopped" and report["stopped_at"] == "master2"
    assert "no read-back result" in report["reason"]
    statuses = [(h["host"], h["status"]) for h in report["hosts"]]
    assert statuses[:2] == [("master1", "remediated"), ("master2", "not_started")]


def test_a_step_that_started_and_never_ended_is_where_the_run_stopped():
    run = run_update(rolled_out(planned_run("master1", "master2"), done("master1")), in_progress="master2")
    assert run_report(run, "t1")["stopped_at"] == "master2"


def test_an_unverified_result_is_not_a_success():
    run = rolled_out(planned_run("master1"), done("master1", verified=False))
    assert run_report(run, "t1")["result"] == "stopped"


def test_a_stop_before_the_rollout_is_a_refusal_and_keeps_every_reason():
    run = planned_run("master1")
    run = run_update(run, stop={"at": "preflight", "reason": "master2: no quorum"})
    run = run_update(run, stop={"at": "preflight", "reason": "master3: missing ca.pem"})
    run = run_update(run, stop={"at": "preflight", "reason": "master3: missing ca.pem"})
    report = run_report(run, "t1")
    assert report["result"] == "refused" and report["stopped_at"] == "preflight"
    assert report["reason"] == "master2: no quorum; master3: missing ca.pem"


def test_a_refusal_in_start_has_no_hosts_and_says_so():
    run = run_update(new_run("r1", "t0"), stop={"at": "start", "reason": "outside the window"})
    report = run_report(run, "t1")
    assert report["result"] == "refused" and report["hosts"] == []
    assert report["summary"] == "refused: no host checked; stopped at start: outside the window"


def test_a_stop_in_the_rollout_is_stopped_at_the_host_with_its_partial_result():
    run = rolled_out(planned_run("master1", "master2"), done("master1"))
    run = run_update(run, in_progress="master2", stop={"at": "master2", "reason": "gate: etcd3 is unhealthy"})
    run = run_update(run, host=done("master2", status="failed", verified=False, kernel_after=None, downtime_s=None))
    report = run_report(run, "t1")
    assert report["result"] == "stopped" and report["stopped_at"] == "master2"
    assert [h["status"] for h in report["hosts"]] == ["remediated", "failed", "unaffected"]


def test_check_mode_plans_and_nothing_to_do_wins_over_it():
    assert run_report(planned_run("master1", check_mode=True), "t1")["result"] == "planned"
    assert run_report(planned_run(check_mode=True), "t1")["result"] == "nothing_to_do"
    assert run_report(planned_run(), "t1")["result"] == "nothing_to_do"


def test_hosts_outside_the_plan_keep_their_verdict():
    run = run_update(new_run("r1", "t0"), phase="preflight",
                     detected=[detected("master1", "fixed"), detected("master2", "unknown"),
                               detected("master3", "unaffected")])
    assert [h["status"] for h in run_report(run, "t1")["hosts"]] == ["already_fixed", "unknown", "unaffected"]


def test_a_limited_run_says_so():
    run = run_update(new_run("r1", "t0", limit="master2"), phase="preflight")
    report = run_report(run, "t1")
    assert report["limit"] == "master2" and "(limited to master2)" in report["summary"]


def test_numbers_and_flags_get_their_types_back():
    # set_fact hands nested values over as text.
    run = rolled_out(planned_run("master1"), done("master1", downtime_s="8.0", reboot_at="1795568642.01",
                                                  healthy_at="", leader_transferred="False", fallback_used="True",
                                                  verified="True"))
    entry = run_report(run, "t1")["hosts"][0]
    assert entry["downtime_s"] == 8.0 and entry["reboot_at"] == 1795568642.01 and entry["healthy_at"] is None
    assert entry["leader_transferred"] is False and entry["fallback_used"] is True and entry["verified"] is True


@pytest.mark.parametrize("change, message", [
    ({"phase": "start"}, "cannot go back"),
    ({"phase": "done"}, "phase must be one of"),
    ({"stop": {"at": "master1"}}, "stop must be"),
    ({"stop": {"at": "", "reason": "x"}}, "stop must be"),
    ({"lock": "maybe"}, "lock must be one of"),
    ({"plan": "master1"}, "plan must be a list"),
    ({"run_id": "other"}, "cannot change run_id"),
    ({"host": {"host": "master1", "status": "fine"}}, "host status must be one of"),
    ({"host": {"host": "master1", "status": "failed", "colour": "red"}}, "unknown keys colour"),
    ({"host": {"host": "master1", "status": "failed", "downtime_s": "nan"}}, "finite number"),
    ({"host": {"status": "failed"}}, "needs at least its host"),
    ({"apt_paused": ["master1"]}, "apt_paused must map hosts"),
    ({"apt_paused": {"master1": ["apt-daily.timer"]}}, r"apt_paused\[master1\] must be"),
    ({"apt_paused": {"master1": {"paused": "apt-daily.timer"}}}, r"apt_paused\[master1\] must be"),
    ({"apt_resumed": ["master1"]}, "apt_resumed must list hosts whose timers the run paused"),
])
def test_bad_changes_are_refused_by_name(change, message):
    with pytest.raises(ValueError, match=message):
        run_update(planned_run("master1"), **change)


@pytest.mark.parametrize("fields, message", [
    ({"run_id": "", "started": "t0"}, "run_id must be a non-empty string"),
    ({"run_id": "  ", "started": "t0"}, "run_id must be a non-empty string"),
    ({"run_id": "r1", "started": ""}, "started must be"),
])
def test_a_run_needs_an_id_and_a_start(fields, message):
    with pytest.raises(ValueError, match=message):
        new_run(**fields)


def test_the_report_refuses_anything_but_a_run_record():
    with pytest.raises(ValueError, match="expected the run record"):
        run_report({"result": "remediated"}, "t1")


def test_failure_lines_name_each_failed_host_and_its_task():
    hostvars = {"master1": {"ansible_failed_task": {"name": "Check the certificates"},
                            "ansible_failed_result": {"msg": "Missing on master1:\n  /etc/ssl/etcd/ssl/ca.pem"}},
                "master2": {},
                "master3": {"ansible_failed_result": {"unreachable": True}}}
    assert FILTERS["failure_lines"](["master1", "master2", "master3"], hostvars) == [
        "master1: Check the certificates: Missing on master1: /etc/ssl/etcd/ssl/ca.pem",
        "master3: a task: unreachable"]
    with pytest.raises(AnsibleFilterError, match="failure_lines: give a list"):
        FILTERS["failure_lines"]("master1", hostvars)


def test_failure_lines_give_a_looped_tasks_failed_items_not_ansibles_summary():
    gate = {"msg": "One or more items failed", "failed": True,
            "results": [{"item": {"member": "etcd1"}, "failed": False},
                        {"item": {"member": "etcd1-events"}, "failed": True,
                         "msg": "etcd1-events may not be disrupted: etcd2-events is not healthy"}]}
    hostvars = {"master1": {"ansible_failed_task": {"name": "Wait until every other member is healthy"},
                            "ansible_failed_result": gate}}
    assert FILTERS["failure_lines"](["master1"], hostvars) == [
        "master1: Wait until every other member is healthy: etcd1-events may not be disrupted: "
        "etcd2-events is not healthy"]


def test_failure_lines_name_a_failed_command_and_its_stderr():
    hostvars = {"master1": {"ansible_failed_task": {"name": "Save an etcd snapshot"},
                            "ansible_failed_result": {"msg": "Error executing command.", "rc": 2,
                                                      "cmd": ["/nonexistent/etcdctl", "snapshot", "save"]}},
                "master2": {"ansible_failed_task": {"name": "Save an etcd snapshot"},
                            "ansible_failed_result": {"msg": "non-zero return code", "rc": 1, "cmd": "etcdctl x",
                                                      "stderr": "Error: context deadline\nexceeded"}}}
    assert FILTERS["failure_lines"](["master1", "master2"], hostvars) == [
        "master1: Save an etcd snapshot: Error executing command. (/nonexistent/etcdctl snapshot save)",
        "master2: Save an etcd snapshot: non-zero return code (etcdctl x: Error: context deadline exceeded)"]


# The lock's TTL --------------------------------------------------------------------

DEFAULT_TIMEOUTS = dict(reboot_timeout_s=600, recover_wait_s=120, gate_wait_s=30, install_timeout_s=1200,
                        command_timeout_s=120, recover_progress_wait_s=300)


def test_the_lock_ttl_outlasts_a_reboot_that_waits_its_timeout_twice_and_the_fallback():
    # handoff gate 30 + reboot 2 x 600 + wait 60 + fallback (gate 30, lookup and restart 2 x 120, wait 60)
    # 30 gate + 2 x 600 reboot + (120 + 300) wait + 30 gate + 2 x 120 commands + (120 + 300) wait again.
    assert lock_ttl_needed(**DEFAULT_TIMEOUTS) == 2340 + LOCK_TTL_MARGIN_S <= 2700


def test_a_long_install_sets_the_lock_ttl_when_it_is_the_longest_stretch():
    timeouts = dict(DEFAULT_TIMEOUTS, install_timeout_s=3600)
    assert lock_ttl_needed(**timeouts) == 120 + 3600 + 30 + LOCK_TTL_MARGIN_S


def test_the_kits_default_lock_ttl_is_long_enough_for_its_default_timeouts():
    with open(DEFAULTS_FILE) as handle:
        defaults = yaml.safe_load(handle)
    timeouts = dict((name, defaults["etcd_kernel_" + name]) for name in DEFAULT_TIMEOUTS)
    assert timeouts == DEFAULT_TIMEOUTS
    assert lock_ttl_needed(**timeouts) <= defaults["etcd_kernel_lock_ttl"]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -1, "600", None, True])
def test_lock_ttl_needed_refuses_timeouts_that_are_not_seconds(bad):
    with pytest.raises(ValueError, match="reboot_timeout_s must be a finite number of seconds"):
        lock_ttl_needed(**dict(DEFAULT_TIMEOUTS, reboot_timeout_s=bad))


def test_the_report_carries_the_boot_loader_warnings_of_every_host():
    run = run_update(new_run("r1", "2026-11-29T00:00:00Z"), phase="preflight", detected=[
        dict(detected("master1"), boot_warnings=["GRUB_DEFAULT is pinned"]), detected("master2")])
    report = run_report(run, "2026-11-29T00:01:00Z")
    assert report["warnings"] == [{"host": "master1", "warning": "GRUB_DEFAULT is pinned"}]


def test_the_report_gives_the_runs_wall_time():
    run = new_run("r1", "2026-11-29T23:59:30Z")
    assert run_report(run, "2026-11-30T00:02:05Z")["wall_time_s"] == 155
    # A start or end in another form leaves it out rather than guessing.
    assert run_report(run, "t1")["wall_time_s"] is None


def test_the_report_says_which_apt_timers_the_run_stopped_and_whether_it_started_them_again():
    run = planned_run("master1", "master2")
    run = run_update(run, apt_paused={
        "master1": {"paused": ["apt-daily.timer", "apt-daily-upgrade.timer"], "waited_s": "12.5", "changed": True},
        "master2": {"paused": ["apt-daily-upgrade.timer"], "waited_s": 0},
        "master3": {"paused": [], "waited_s": 0},
        "master4": {"skipped": True}})
    # After its reboot master1 is paused again (the boot started its timers).
    run = run_update(run, apt_paused={"master1": {"paused": ["apt-daily-upgrade.timer"], "waited_s": 3.0}})
    run = run_update(run, apt_resumed=["master2"])
    report = run_report(run, "t1")
    assert report["apt_timers"] == [
        {"host": "master1", "paused": ["apt-daily.timer", "apt-daily-upgrade.timer"], "waited_s": 15.5,
         "resumed": False},
        {"host": "master2", "paused": ["apt-daily-upgrade.timer"], "waited_s": 0.0, "resumed": True}]


def test_a_fresh_run_paused_no_apt_timer():
    assert run_report(new_run("r1", "t0"), "t1")["apt_timers"] == []


# The maintenance window as start judged it ----------------------------------------

WINDOW = {"days": ["Sat"], "start": "02:00", "end": "05:00", "judged_at": "2026-11-28T03:00:00Z",
          "override": False, "inside": True, "reason": "Sat 03:00 UTC is inside the maintenance window"}


def test_the_report_carries_the_window_the_run_started_in():
    run = run_update(planned_run("master1"), window=WINDOW)
    report = run_report(rolled_out(run, done("master1")), "t1")
    assert report["window"] == WINDOW
    assert "not the clock" not in report["summary"]


def test_a_window_judged_at_an_override_time_says_so_in_the_summary():
    run = run_update(planned_run("master1"), window=dict(WINDOW, override="True", inside="true"))
    report = run_report(rolled_out(run, done("master1")), "t1")
    assert report["window"]["override"] is True and report["window"]["inside"] is True
    assert report["summary"].endswith(
        "(maintenance window judged at 2026-11-28T03:00:00Z, etcd_kernel_maintenance_now, not the clock)")


def test_a_run_without_a_window_check_reports_none():
    assert run_report(planned_run("master1", check_mode=True), "t1")["window"] is None


@pytest.mark.parametrize("window", [None, "inside", {"inside": True}, dict(WINDOW, extra=1)])
def test_a_window_record_that_is_not_the_verdict_is_refused(window):
    with pytest.raises(ValueError, match="window must be"):
        run_update(planned_run("master1"), window=window)


def test_a_window_that_closed_before_a_host_stops_the_run_there_and_the_host_is_not_started():
    run = rolled_out(planned_run("master1", "master2"), done("master1"))
    run = run_update(run, in_progress="master2")
    reason = "Sat 05:00 UTC is outside the maintenance window: the window closed before its disruption on master2"
    run = run_update(run, stop={"at": "master2", "reason": reason})
    report = run_report(run, "t1")
    assert report["result"] == "stopped" and report["stopped_at"] == "master2"
    statuses = {host["host"]: host["status"] for host in report["hosts"]}
    assert statuses["master1"] == "remediated" and statuses["master2"] == "not_started"


# The detect report's entry starts with HOST_IDENTITY (detected_host: test_detect_report.py).
def test_a_runs_host_entry_describes_the_host_in_the_detect_reports_words():
    seen = dict(detected("master1"), layout="host", client_url="https://10.0.0.1:2379", observed={"member_name": "etcd1"})
    run = run_update(new_run("r1", "t0"), phase="preflight")
    run = run_update(run, detected=[seen, detected("master2", "unaffected")], plan=plan("master1"))
    entry = run_report(rolled_out(run, done("master1")), "t1")["hosts"][0]
    assert dict((key, entry[key]) for key in HOST_IDENTITY) == dict((key, seen[key]) for key in HOST_IDENTITY)


def test_the_first_planned_host_may_start_and_the_next_only_after_its_read_back():
    run = run_update(planned_run("master1", "master2"), phase="rollout")
    assert step_blocker(run, "master1") is None
    assert step_blocker(run, "master2") == "master1, planned before master2, has no read-back result"
    run = run_update(run, in_progress="master1")
    assert step_blocker(run, "master2") == "the step of master1 has not ended"
    assert step_blocker(run_update(run, host=done("master1")), "master2") is None
    assert step_blocker(run_update(run, host=done("master1", verified=False)), "master2") == (
        "master1, planned before master2, has no read-back result")


def test_no_step_starts_after_a_stop_in_check_mode_or_for_a_host_outside_the_plan():
    run = planned_run("master1", "master2")
    assert step_blocker(run_update(run, stop={"at": "master1", "reason": "x"}), "master1") == "the run stopped at master1"
    assert step_blocker(planned_run("master1", check_mode=True), "master1") == "check mode plans only"
    assert step_blocker(run, "master3") == "master3 is not in the plan"


def test_the_lock_is_released_from_a_host_other_than_the_one_the_run_stopped_at():
    run = run_update(rolled_out(planned_run("master1", "master2")), stop={"at": "master1",
                                                                          "reason": "member etcd1 is not healthy"})
    assert lock_releaser(run, ["master1", "master2", "master3", "localhost"]) == "master2"
    assert FILTERS["run_lock_releaser"](run, ["localhost", "master1", "master3"]) == "master3"


def test_the_host_the_run_stopped_at_releases_the_lock_when_it_is_the_only_one():
    run = run_update(planned_run("master1"), stop={"at": "master1", "reason": "no quorum"})
    assert lock_releaser(run, ["master1", "localhost"]) == "master1"
    assert lock_releaser(run, ["localhost"]) is None


def test_a_run_that_holds_no_lock_releases_none():
    assert lock_releaser(new_run("r1", "t0"), ["master1", "master2"]) is None  # never taken
    assert lock_releaser(run_update(planned_run("master1"), lock="lapsed"), ["master1"]) is None
    assert lock_releaser(rolled_out(planned_run("master1"), done("master1")), ["localhost", "master1"]) == "master1"


def node_steps(*hosts, size=2):
    return [{"order": order, "batch": (order - 1) // size + 1, "host": host, "role": "worker", "action": "upgrade",
             "from": "5.4.0-132-generic", "to": "5.4.0-136-generic"} for order, host in enumerate(hosts, start=1)]


def node_done(host, status="remediated", batch=1):
    return {"host": host, "role": "worker", "batch": batch, "kernel_before": "5.4.0-132-generic",
            "kernel_after": "5.4.0-136-generic", "status": status, "verified": status != "failed"}


def test_a_nodes_step_waits_for_the_members_and_the_batches_before_its_own():
    run = run_update(planned_run("master1"), phase="rollout", lock="held",
                     node_plan=node_steps("worker1", "worker2", "worker3"))
    assert node_step_blocker(run, "worker1") == (
        "master1, an etcd member planned before the other nodes, has no read-back result")
    run = run_update(run, host=done("master1"))
    # A batch goes side by side: its second node may start while its first is under way.
    run = run_update(run, node_started="worker1")
    assert node_step_blocker(run, "worker2") is None
    assert node_step_blocker(run, "worker3") == "worker1, in a batch before that of worker3, has no read-back result"
    run = run_update(run, node=node_done("worker1"), node_started="worker2")
    assert run["nodes_in_progress"] == ["worker2"]
    run = run_update(run, node=node_done("worker2"))
    assert node_step_blocker(run, "worker3") is None
    assert node_step_blocker(run, "worker9") == "worker9 is not in the node plan"


def test_no_nodes_step_starts_after_a_stop_in_check_mode_or_while_a_members_step_is_under_way():
    run = run_update(planned_run("master1"), phase="rollout", lock="held", node_plan=node_steps("worker1"))
    assert node_step_blocker(run_update(run, in_progress="master1"), "worker1") == "the step of master1 has not ended"
    run = run_update(run, host=done("master1"))
    assert node_step_blocker(run_update(run, stop={"at": "master1", "reason": "x"}), "worker1") == (
        "the run stopped at master1")
    checking = run_update(new_run("r1", "t0", check_mode=True), node_plan=node_steps("worker1"))
    assert node_step_blocker(checking, "worker1") == "check mode plans only"
    with pytest.raises(ValueError, match="node plan"):
        run_update(run, node_started="worker9")
    with pytest.raises(ValueError, match="node status"):
        run_update(run, node=dict(node_done("worker1"), status="recovered"))


def test_a_run_with_only_nodes_planned_is_work_and_a_failed_node_is_not_remediated():
    run = run_update(new_run("r1", "t0"), phase="rollout", node_plan=node_steps("worker1"),
                     node_detected=[{"host": "worker1", "role": "worker", "kernel": "5.4.0-132-generic"}])
    assert run_report(run, "t1")["result"] == "stopped"
    assert run_report(run_update(run, node=node_done("worker1")), "t1")["result"] == "remediated"
    report = run_report(run_update(run, node=node_done("worker1", status="failed")), "t1")
    assert (report["result"], report["stopped_at"]) == ("stopped", "worker1")


def test_no_nodes_step_starts_without_the_runs_lock_and_the_reason_says_how_to_get_it():
    run = run_update(new_run("r1", "t0"), phase="rollout", node_plan=node_steps("worker1"))
    assert node_step_blocker(run, "worker1") == "the run holds no lock"
    assert node_step_blocker(run_update(run, lock="held"), "worker1") is None
    problems = node_phase_problems(run, "worker1")
    assert [problem["check"] for problem in problems] == ["lock"]
    assert "Run with the etcd group in --limit too, e.g. --limit 'etcd:worker1'" in problems[0]["message"]
    assert node_phase_problems(run_update(run, lock="held"), "worker1") == []
    assert node_phase_problems(run_update(run, stop={"at": "preflight", "reason": "x"}), "worker1") == []
    assert node_phase_problems(run_update(new_run("r2", "t0", check_mode=True), node_plan=node_steps("worker1")),
                               "worker1") == []


def test_a_nodes_only_run_goes_on_without_the_lock_once_it_found_none_held():
    run = run_update(new_run("r1", "t0"), phase="rollout", node_plan=node_steps("worker1"), lock="nodes_only")
    assert node_step_blocker(run, "worker1") is None
    assert node_phase_problems(run, "worker1") == []
    # Finish frees the run's slots from an etcd host, and releases no lock.
    assert lock_releaser(run, ["localhost", "master1", "master2"]) == "master1"
    assert run_report(run_update(run, node=node_done("worker1")), "t1")["lock"] == "nodes_only"
