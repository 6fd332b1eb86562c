"""The run's journal: every record is checked against its event's fields, and the run
record (and so the report) is the fold of the journal's records alone."""
import json

import pytest
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import (
    node_failures_allowed,
    node_step_blocker,
    run_report,
)
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.run_journal import (
    EVENTS,
    fold_run,
    parse_journal,
    record_problem,
    unfinished_run,
)

T0 = 1795910400.0  # 2026-11-29T00:00:00Z
HOSTS = ("master1", "master2", "master3")
WINDOW = {"days": ["Sun"], "start": "00:00", "end": "05:00", "judged_at": "2026-11-29T00:00:00Z",
          "override": False, "inside": True, "reason": "Sun 00:00 UTC is inside the maintenance window"}


def record(event, when, **fields):
    if event == "failed":
        fields.setdefault("tolerable", False)  # only a node's own failure in its step may be
    return dict(fields, event=event, time=when)


def detected(host, status="affected"):
    return {"host": host, "member": "etcd" + host[-1], "kernel": "5.4.0-132-generic", "status": status,
            "reason": "a reason"}


def plan(*hosts, recover=()):
    return [{"order": order, "host": host, "member": "etcd" + host[-1],
             "action": "recover" if host in recover else "upgrade", "from": "5.4.0-132-generic",
             "to": "5.4.0-132-generic" if host in recover else "5.4.0-136-generic", "role": "follower"}
            for order, host in enumerate(hosts, start=1)]


def started(unfinished=None, check_mode=False, limit=None):
    return record("started", T0, run_id="20261129T000000Z-abcdefghijkl", started="2026-11-29T00:00:00Z",
                  check_mode=check_mode, limit=limit, unfinished=unfinished or [])


def preflight(*hosts, recover=(), extra=()):
    """The records up to the rollout: started, window, phase, planned, lock, apt, snapshot."""
    return [
        started(),
        record("window", T0 + 1, window=WINDOW),
        record("phase", T0 + 2, phase="preflight"),
        record("planned", T0 + 10, plan=plan(*hosts, recover=recover), unknown=[],
               detected=[detected(h, "affected" if h in hosts else "unaffected") for h in HOSTS]),
        record("lock_taken", T0 + 11),
        record("apt_paused", T0 + 12, results={h: {"paused": ["apt-daily-upgrade.timer"], "waited_s": 0} for h in hosts}),
        record("snapshot_saved", T0 + 13, host=hosts[0] if hosts else "master1", path="/var/backups/etcd/r1.db"),
    ] + list(extra)


def rebooted_step(host, start, leader=False, healthy_after=42.37):
    # Every rebooted host's step hands leadership away; only the leader's transfers it.
    records = [record("host_started", start, host=host),
               record("leader_handoff", start + 5, host=host, transferred=leader)]
    records += [
        record("rebooting", start + 10, host=host),
        record("member_healthy", start + 10 + healthy_after, host=host, kept_waiting_s=3),
        record("kernel_read_back", start + 60, host=host, kernel="5.4.0-136-generic"),
        record("host_done", start + 70, host=host, kernel_before="5.4.0-132-generic", rebooted=True, left_cordoned=None),
    ]
    return records


def unrebooted_step(host, start, rebooted=False):
    return [
        record("host_started", start, host=host),
        record("member_healthy", start + 5, host=host, kept_waiting_s=0),
        record("kernel_read_back", start + 6, host=host, kernel="5.4.0-136-generic"),
        record("host_done", start + 7, host=host, kernel_before="5.4.0-136-generic", rebooted=rebooted,
               left_cordoned=None),
    ]


def finish(*paused, outcome="released"):
    return [
        record("phase", T0 + 900, phase="finish"),
        record("apt_resumed", T0 + 901, hosts=list(paused)),
        record("lock_released", T0 + 902, outcome=outcome),
        record("finished", T0 + 903, finished="2026-11-29T00:15:03Z"),
    ]


def report_of(records):
    return run_report(fold_run(records), "2026-11-29T00:15:03Z")


def hosts_of(report):
    return dict((entry["host"], entry) for entry in report["hosts"])


# A whole run ---------------------------------------------------------------------

def test_a_full_journal_of_a_two_host_remediation_folds_into_a_remediated_run():
    records = (preflight("master1", "master2") + rebooted_step("master1", T0 + 100, leader=True)
               + rebooted_step("master2", T0 + 300, healthy_after=20.04) + finish("master1", "master2"))
    run = fold_run(records)
    assert run["phase"] == "finish" and run["in_progress"] is None and run["stop"] is None
    assert run["window"] == WINDOW
    report = run_report(run, "2026-11-29T00:15:03Z")
    assert report["result"] == "remediated" and report["stopped_at"] is None and report["reason"] is None
    assert report["lock"] == "released" and report["snapshot"] == "master1:/var/backups/etcd/r1.db"
    assert report["run_id"] == "20261129T000000Z-abcdefghijkl" and report["wall_time_s"] == 903
    assert report["summary"] == "remediated: 2 remediated, 1 unaffected"
    assert report["apt_timers"] == [{"host": h, "paused": ["apt-daily-upgrade.timer"], "waited_s": 0.0, "resumed": True}
                                    for h in ("master1", "master2")]
    hosts = hosts_of(report)
    first, second = hosts["master1"], hosts["master2"]
    assert first["status"] == second["status"] == "remediated"
    assert first["verified"] is True and second["verified"] is True
    assert first["downtime_s"] == 42.4 and second["downtime_s"] == 20.0
    assert first["leader_transferred"] is True and second["leader_transferred"] is False
    assert first["fallback_used"] is False and first["kept_waiting_s"] == 3
    assert first["reboot_at"] == T0 + 110 and first["healthy_at"] == round(T0 + 110 + 42.37, 2)
    assert second["reboot_at"] == T0 + 310 and second["healthy_at"] == round(T0 + 310 + 20.04, 2)
    assert first["kernel_before"] == "5.4.0-132-generic" and first["kernel_after"] == "5.4.0-136-generic"
    assert hosts["master3"]["status"] == "unaffected"
    json.dumps(report, allow_nan=False)


def test_the_downtime_runs_from_rebooting_to_member_healthy_whatever_came_between():
    records = preflight("master1") + [
        record("host_started", T0 + 100, host="master1"),
        record("rebooting", T0 + 100.256, host="master1"),
        record("fallback_used", T0 + 150, host="master1"),
        record("member_healthy", T0 + 161.3, host="master1", kept_waiting_s=0),
        record("kernel_read_back", T0 + 170, host="master1", kernel="5.4.0-136-generic"),
        record("host_done", T0 + 171, host="master1", kernel_before="5.4.0-132-generic", rebooted="True",
               left_cordoned="master1"),
    ]
    entry = hosts_of(report_of(records))["master1"]
    assert entry["downtime_s"] == 61.0 and entry["fallback_used"] is True
    assert entry["reboot_at"] == round(T0 + 100.256, 2) and entry["healthy_at"] == round(T0 + 161.3, 2)
    assert entry["status"] == "remediated" and entry["left_cordoned"] == "master1"


@pytest.mark.parametrize("handoffs, transferred", [
    ([], False),
    ([True], True),
    ([False], False),
    (["False"], False),
    (["true"], True),
    # A handoff recorded again (a second gate's retry) keeps a transfer already made.
    ([True, False], True),
    ([False, "True"], True),
])
def test_the_leadership_counts_as_transferred_only_when_a_handoff_said_so(handoffs, transferred):
    step = rebooted_step("master1", T0 + 100)
    step = step[:1] + [record("leader_handoff", T0 + 101 + number, host="master1", transferred=value)
                       for number, value in enumerate(handoffs)] + step[2:]
    entry = hosts_of(report_of(preflight("master1") + step))["master1"]
    assert entry["leader_transferred"] is transferred and entry["status"] == "remediated"


def test_a_host_already_on_a_fixed_kernel_is_already_fixed_with_no_downtime_and_no_reboot_time():
    records = preflight("master1") + unrebooted_step("master1", T0 + 100) + finish("master1")
    report = report_of(records)
    entry = hosts_of(report)["master1"]
    assert report["result"] == "remediated"
    assert entry["status"] == "already_fixed" and entry["downtime_s"] == 0.0
    assert entry["reboot_at"] is None and entry["healthy_at"] is None
    assert entry["kernel_before"] == "5.4.0-136-generic"


def test_a_recover_step_without_a_reboot_is_recovered():
    records = preflight("master1", recover=("master1",)) + unrebooted_step("master1", T0 + 100) + finish("master1")
    report = report_of(records)
    assert report["result"] == "remediated"
    assert hosts_of(report)["master1"]["status"] == "recovered"
    assert hosts_of(report)["master1"]["downtime_s"] == 0.0


@pytest.mark.parametrize("text", ["False", "false", " FALSE ", "no", "0", ""])
def test_rebooted_given_as_text_that_is_not_true_counts_as_false(text):
    records = preflight("master1") + unrebooted_step("master1", T0 + 100, rebooted=text)
    entry = hosts_of(report_of(records))["master1"]
    assert entry["status"] == "already_fixed" and entry["reboot_at"] is None and entry["downtime_s"] == 0.0


def test_a_host_said_rebooted_without_its_reboot_records_is_refused():
    records = preflight("master1") + unrebooted_step("master1", T0 + 100, rebooted="True")
    with pytest.raises(ValueError, match="master1 was rebooted but the journal has no rebooting and member_healthy"):
        fold_run(records)


def test_a_check_mode_journal_plans_and_keeps_the_limit():
    records = [started(check_mode="True", limit="master1"),
               record("phase", T0 + 1, phase="preflight"),
               record("planned", T0 + 2, plan=plan("master1"), unknown=[], detected=[detected("master1")]),
               record("phase", T0 + 3, phase="finish"), record("finished", T0 + 4, finished="t1")]
    report = report_of(records)
    assert report["result"] == "planned" and report["check_mode"] is True and report["limit"] == "master1"
    assert report["lock"] == "not_taken" and hosts_of(report)["master1"]["status"] == "planned"


# Where a run stops ---------------------------------------------------------------

def test_a_failure_during_a_hosts_step_stops_there_and_keeps_what_the_step_recorded():
    records = preflight("master1", "master2") + rebooted_step("master1", T0 + 100) + [
        record("host_started", T0 + 300, host="master2"),
        record("leader_handoff", T0 + 305, host="master2", transferred=True),
        record("rebooting", T0 + 310, host="master2"),
        record("fallback_used", T0 + 400, host="master2"),
        record("kernel_read_back", T0 + 420, host="master2", kernel="5.4.0-132-generic"),
        record("failed", T0 + 421, host="master2", reason="master2 runs 5.4.0-132-generic, not 5.4.0-136-generic",
               detected=[], left_cordoned="master2"),
    ] + finish("master1", "master2")
    run = fold_run(records)
    assert run["in_progress"] is None
    report = run_report(run, "t1")
    assert report["result"] == "stopped" and report["stopped_at"] == "master2"
    assert report["reason"] == "master2 runs 5.4.0-132-generic, not 5.4.0-136-generic"
    hosts = hosts_of(report)
    assert hosts["master1"]["status"] == "remediated"
    failed = hosts["master2"]
    assert failed["status"] == "failed" and failed["verified"] is False
    assert failed["kernel_before"] == "5.4.0-132-generic" and failed["kernel_after"] == "5.4.0-132-generic"
    assert failed["leader_transferred"] is True and failed["fallback_used"] is True
    assert failed["reboot_at"] == T0 + 310 and failed["left_cordoned"] == "master2"
    assert failed["healthy_at"] is None and failed["downtime_s"] is None
    # The plan's detected list is kept: the failed record's (empty) one does not replace it.
    assert sorted(hosts) == list(HOSTS)


def test_a_failure_early_in_a_step_keeps_a_partial_result_with_nothing_done():
    records = preflight("master1") + [
        record("host_started", T0 + 100, host="master1"),
        record("failed", T0 + 101, host="master1", reason="", detected=[], left_cordoned=None),
    ]
    report = report_of(records)
    assert report["result"] == "stopped" and report["stopped_at"] == "master1"
    assert report["reason"] == "a task failed without a message (see the log above)"
    entry = hosts_of(report)["master1"]
    assert entry["status"] == "failed" and entry["kernel_after"] is None and entry["reboot_at"] is None
    assert entry["leader_transferred"] is False and entry["fallback_used"] is False and entry["left_cordoned"] is None


@pytest.mark.parametrize("host", [None, "master2"])
def test_a_failure_in_preflight_refuses_the_run_and_keeps_the_detected_it_carries(host):
    so_far = [detected("master1"), detected("master2", "unknown")]
    records = [started(), record("phase", T0 + 1, phase="preflight"),
               record("failed", T0 + 5, host=host, reason="master2: no quorum", detected=so_far, left_cordoned=None),
               record("failed", T0 + 6, host=host, reason="master3: missing ca.pem", detected=[], left_cordoned=None),
               record("failed", T0 + 7, host=host, reason="master3: missing ca.pem", detected=[], left_cordoned=None)]
    run = fold_run(records)
    assert run["detected"] == so_far
    report = run_report(run, "t1")
    assert report["result"] == "refused" and report["stopped_at"] == "preflight"
    assert report["reason"] == "master2: no quorum; master3: missing ca.pem"
    assert [(h["host"], h["status"]) for h in report["hosts"]] == [("master1", "affected"), ("master2", "unknown")]


def test_a_failure_after_the_plan_keeps_the_plans_detected():
    records = preflight("master1") + [
        record("failed", T0 + 20, host="master1", reason="snapshot failed", detected=[detected("master9")],
               left_cordoned=None)]
    run = fold_run(records)
    assert [entry["host"] for entry in run["detected"]] == list(HOSTS)
    assert run_report(run, "t1")["result"] == "refused"


def test_a_failure_before_preflight_refuses_the_run_at_start():
    records = [started(), record("failed", T0 + 1, host="master1", reason="bad settings", detected=None,
                                 left_cordoned=None)]
    report = report_of(records)
    assert report["result"] == "refused" and report["stopped_at"] == "start" and report["hosts"] == []


def test_a_closed_window_stops_the_run_at_the_host_with_the_verdict_and_the_moment():
    verdict = "Sun 05:00 UTC is outside the maintenance window"
    records = preflight("master1", "master2") + rebooted_step("master1", T0 + 100) + [
        record("host_started", T0 + 300, host="master2"),
        record("window_closed", T0 + 301, host="master2", moment="before its disruption", verdict=verdict),
    ] + finish("master1", "master2")
    report = report_of(records)
    assert report["result"] == "stopped" and report["stopped_at"] == "master2"
    assert report["reason"].startswith(verdict + ": the window closed before its disruption on master2")
    assert report["reason"].endswith("it resumes with master2.")
    hosts = hosts_of(report)
    assert hosts["master1"]["status"] == "remediated" and hosts["master2"]["status"] == "not_started"


def test_a_step_that_started_and_has_no_host_done_is_where_the_run_stopped():
    records = preflight("master1", "master2") + rebooted_step("master1", T0 + 100) + [
        record("host_started", T0 + 300, host="master2"),
        record("rebooting", T0 + 310, host="master2"),
    ] + finish("master1", "master2")
    run = fold_run(records)
    assert run["in_progress"] == "master2"
    report = run_report(run, "t1")
    assert report["result"] == "stopped" and report["stopped_at"] == "master2"
    assert "master2 has no read-back result" in report["reason"]
    assert hosts_of(report)["master2"]["status"] == "not_started"


def test_a_planned_host_whose_step_never_started_stops_the_run_there():
    records = preflight("master1", "master2") + rebooted_step("master1", T0 + 100) + finish("master1", "master2")
    report = report_of(records)
    assert report["result"] == "stopped" and report["stopped_at"] == "master2"


@pytest.mark.parametrize("outcome, lock", [
    ("released", "released"),
    ("free", "lapsed"),
    ("held_by_other", "held_by_other"),
    ("", "not_released"),
    (None, "not_released"),
    ("something else", "not_released"),
])
def test_the_lock_releases_outcome_is_the_reports_lock(outcome, lock):
    records = preflight("master1") + unrebooted_step("master1", T0 + 100) + finish("master1", outcome=outcome)
    assert report_of(records)["lock"] == lock


def test_a_lock_taken_and_never_released_is_held():
    assert fold_run(preflight("master1"))["lock"] == "held"


def test_the_report_carries_the_earlier_unfinished_runs_of_the_started_record():
    earlier = [{"run_id": "20261128T000000Z-aaaaaaaaaaaa", "started": "2026-11-28T00:00:00Z", "phase": "rollout",
                "in_progress": "master2", "lock": "held", "note": "its last record was rebooting at 2026-11-28T00:05:00Z"}]
    run = fold_run([started(unfinished=earlier)])
    assert run["unfinished"] == earlier
    assert run_report(run, "t1")["unfinished_runs"] == earlier
    assert run_report(fold_run([started(unfinished=None)]), "t1")["unfinished_runs"] == []


# Records that cannot go in -------------------------------------------------------

def test_every_event_takes_exactly_its_own_fields():
    for event, fields in EVENTS.items():
        assert record_problem(event, dict((name, None) for name in fields)) is None


def test_record_problem_names_an_unknown_event_and_the_known_ones():
    problem = record_problem("rebooted", {"host": "master1"})
    assert problem.startswith("unknown journal event 'rebooted'; known: ")
    assert "host_done" in problem and "window_closed" in problem
    assert record_problem(None, {}).startswith("unknown journal event None")


def test_record_problem_names_the_missing_and_the_extra_fields():
    assert record_problem("host_done", {"host": "master1", "rebooted": True, "reboot_at": 1}) == (
        "host_done takes exactly host, kernel_before, rebooted, left_cordoned; missing kernel_before, left_cordoned; "
        "unknown reboot_at")
    assert record_problem("snapshot_saved", {"host": "master1"}) == (
        "snapshot_saved takes exactly host, path; missing path")
    assert record_problem("lock_taken", {"host": "master1"}) == "lock_taken takes exactly no fields; unknown host"
    assert record_problem("lock_taken", {}) is None


def test_record_problem_wants_the_fields_as_a_mapping():
    assert record_problem("phase", ["preflight"]) == "the fields of phase must be a mapping, got ['preflight']"


@pytest.mark.parametrize("records, message", [
    ([], "the journal has no record"),
    ([record("phase", T0, phase="preflight")], "the journal's first record must be started, got phase"),
    ([started(), started()], "the journal starts its run twice"),
    ([started(), record("phase", T0, phase="preflight", host="master1")], "phase takes exactly phase; unknown host"),
    ([started(), record("rebooted", T0, host="master1")], "unknown journal event 'rebooted'"),
    ([started(), record("lock_taken", "2026-11-29T00:00:00Z")], "a record's time must be epoch seconds"),
    ([started(), record("lock_taken", float("nan"))], "a record's time must be epoch seconds"),
    ([started(), record("lock_taken", True)], "a record's time must be epoch seconds"),
    ([started(), record("lock_taken", None)], "a record's time must be epoch seconds"),
])
def test_fold_run_refuses_a_journal_that_is_not_a_run(records, message):
    with pytest.raises(ValueError, match=message):
        fold_run(records)


def test_fold_run_refuses_a_step_record_for_a_host_not_in_the_plan():
    with pytest.raises(ValueError, match="'master3' is not in the run's plan"):
        fold_run(preflight("master1") + [record("host_started", T0 + 100, host="master3")])
    with pytest.raises(ValueError, match="'master3' is not in the run's plan"):
        fold_run(preflight("master1") + [record("rebooting", T0 + 100, host="master3")])


@pytest.mark.parametrize("event, fields", [
    ("leader_handoff", {"transferred": True}),
    ("rebooting", {}),
    ("fallback_used", {}),
    ("member_healthy", {"kept_waiting_s": 0}),
    ("kernel_read_back", {"kernel": "5.4.0-136-generic"}),
    ("host_done", {"kernel_before": "5.4.0-132-generic", "rebooted": False, "left_cordoned": None}),
])
def test_fold_run_refuses_a_step_record_for_a_host_whose_step_has_not_started(event, fields):
    with pytest.raises(ValueError, match="%s for master2, whose step has not started" % event):
        fold_run(preflight("master1", "master2") + [record(event, T0 + 100, host="master2", **fields)])
    # Nor while another host's step is the one in progress.
    with pytest.raises(ValueError, match="%s for master2, whose step has not started" % event):
        fold_run(preflight("master1", "master2") + [record("host_started", T0 + 100, host="master2"),
                                                    record("host_started", T0 + 101, host="master1"),
                                                    record(event, T0 + 102, host="master2", **fields)])


def test_fold_run_refuses_a_step_record_after_the_hosts_step_ended():
    records = preflight("master1") + unrebooted_step("master1", T0 + 100)
    with pytest.raises(ValueError, match="rebooting for master1, whose step has not started"):
        fold_run(records + [record("rebooting", T0 + 200, host="master1")])


def test_the_run_record_cannot_go_back_a_phase():
    with pytest.raises(ValueError, match="already in finish and cannot go back to preflight"):
        fold_run([started(), record("phase", T0, phase="finish"), record("phase", T0, phase="preflight")])


# Reading the journal file --------------------------------------------------------

def lines(*records):
    return "".join(json.dumps(one, sort_keys=True) + "\n" for one in records)


def test_parse_journal_reads_every_line_and_skips_blank_ones():
    text = lines(started(), record("lock_taken", T0 + 1)) + "\n  \n" + lines(record("phase", T0 + 2, phase="preflight"))
    assert [one["event"] for one in parse_journal(text)] == ["started", "lock_taken", "phase"]
    assert parse_journal("") == []


def test_parse_journal_drops_a_last_line_cut_short():
    whole = lines(started(), record("lock_taken", T0 + 1))
    cut = json.dumps(record("phase", T0 + 2, phase="preflight"))[:-7]
    assert parse_journal(whole + cut) == parse_journal(whole)
    assert len(parse_journal(whole)) == 2


def test_parse_journal_refuses_a_bad_last_line_that_was_written_whole():
    # With its newline the line was written in full: it is not a cut, so it is an error.
    with pytest.raises(ValueError, match="journal line 2 is not JSON"):
        parse_journal(lines(started()) + "{not json\n")


def test_parse_journal_refuses_a_bad_line_in_the_middle_by_its_number():
    text = lines(started(), record("lock_taken", T0 + 1)) + "{\"event\": \"pha\n" + lines(record("finished", T0, finished="t"))
    with pytest.raises(ValueError, match="journal line 3 is not JSON"):
        parse_journal(text)


@pytest.mark.parametrize("line", ['["started"]', '{"event": "started"}', '{"time": 1}', '"text"'])
def test_parse_journal_refuses_a_line_that_is_not_a_record(line):
    with pytest.raises(ValueError, match=r"journal line 2 is not a record \(\{event, time, \.\.\.\}\)"):
        parse_journal(lines(started()) + line + "\n")


# Earlier runs that never finished ------------------------------------------------

def test_a_journal_with_finished_is_not_unfinished():
    records = preflight("master1") + unrebooted_step("master1", T0 + 100) + finish("master1")
    assert unfinished_run(records) is None


def test_an_unfinished_journal_says_where_its_run_was_and_its_last_record():
    records = preflight("master1", "master2") + rebooted_step("master1", T0 + 100) + [
        record("host_started", T0 + 300, host="master2"), record("rebooting", T0 + 310, host="master2")]
    assert unfinished_run(records) == {
        "run_id": "20261129T000000Z-abcdefghijkl", "started": "2026-11-29T00:00:00Z", "phase": "rollout",
        "in_progress": "master2", "lock": "held", "note": "its last record was rebooting at 2026-11-29T00:05:10Z"}


def test_an_unfinished_journal_of_only_its_start():
    assert unfinished_run([started()]) == {
        "run_id": "20261129T000000Z-abcdefghijkl", "started": "2026-11-29T00:00:00Z", "phase": "start",
        "in_progress": None, "lock": "not_taken", "note": "its last record was started at 2026-11-29T00:00:00Z"}


def test_an_unfinished_journal_that_released_its_lock_says_so():
    records = preflight("master1") + finish("master1", outcome="free")[:-1]
    verdict = unfinished_run(records)
    assert verdict["lock"] == "lapsed" and verdict["phase"] == "finish"
    assert verdict["note"] == "its last record was lock_released at 2026-11-29T00:15:02Z"


def test_unfinished_run_refuses_a_journal_that_is_not_a_run():
    with pytest.raises(ValueError):
        unfinished_run([])
    with pytest.raises(ValueError, match="first record must be started"):
        unfinished_run([record("lock_taken", T0)])


# --- the nodes after the etcd members ---------------------------------------------------

WORKERS = ("worker1", "worker2", "worker3")
RUNTIME = {"answering": True, "version": "1.6.20~ds1", "answer_s": 0.02, "kubelet": None}


def node_plan(*hosts, size=2):
    return [{"order": order, "batch": (order - 1) // size + 1, "host": host, "role": "worker", "action": "upgrade",
             "from": "5.4.0-132-generic", "to": "5.4.0-136-generic"} for order, host in enumerate(hosts, start=1)]


def node_detected(host, status="affected"):
    return {"host": host, "member": None, "layout": None, "client_url": None, "observed": {}, "role": "worker",
            "kernel": "5.4.0-132-generic", "status": status}


def nodes_planned(when, *hosts, size=2, detected_hosts=WORKERS, max_fail_percentage=0):
    return record("nodes_planned", when, plan=node_plan(*hosts, size=size),
                  detected=[node_detected(h, "affected" if h in hosts else "fixed") for h in detected_hosts],
                  max_fail_percentage=max_fail_percentage)


def node_step(host, start, out_for=12.5, runtime=RUNTIME):
    return [record("node_started", start, host=host),
            record("node_rebooting", start + 10, host=host),
            record("node_read_back", start + 10 + out_for, host=host, kernel="5.4.0-136-generic", runtime=runtime),
            record("node_done", start + 30, host=host, kernel_before="5.4.0-132-generic", rebooted=True,
                   left_cordoned=None)]


def interleaved(*steps):
    """The records of several nodes' steps, side by side as a batch writes them (in time order)."""
    return sorted([item for step in steps for item in step], key=lambda item: item["time"])


def test_the_nodes_go_after_the_members_and_a_batch_folds_side_by_side():
    records = preflight("master1", extra=[nodes_planned(T0 + 14, *WORKERS)]) + rebooted_step("master1", T0 + 20)
    records += interleaved(node_step("worker1", T0 + 200), node_step("worker2", T0 + 201, out_for=20))
    records += node_step("worker3", T0 + 300) + finish("master1")
    run = fold_run(records)
    assert run["nodes_in_progress"] == []
    assert {host: (entry["status"], entry["batch"], entry["downtime_s"]) for host, entry in run["nodes"].items()} == {
        "worker1": ("remediated", 1, 12.5), "worker2": ("remediated", 1, 20.0), "worker3": ("remediated", 2, 12.5)}
    report = run_report(run, "2026-11-29T01:00:00Z")
    assert report["result"] == "remediated"
    assert [(node["host"], node["batch"], node["status"]) for node in report["nodes"]] == [
        ("worker1", 1, "remediated"), ("worker2", 1, "remediated"), ("worker3", 2, "remediated")]
    assert report["nodes"][0]["runtime"] == RUNTIME and report["nodes"][0]["kernel_after"] == "5.4.0-136-generic"
    assert report["nodes"][0]["member"] is None and report["nodes"][0]["role"] == "worker"
    assert report["summary"] == "remediated: 1 remediated, 2 unaffected; other nodes: 3 remediated"


def test_a_node_that_fails_stops_the_run_there_its_batch_mate_ends_and_later_batches_are_not_started():
    records = preflight("master1", extra=[nodes_planned(T0 + 14, *WORKERS)]) + rebooted_step("master1", T0 + 20)
    worker1 = node_step("worker1", T0 + 200)
    worker2 = node_step("worker2", T0 + 201)[:2]  # rebooted, never came back in time
    records += interleaved(worker1[:2], worker2) + [
        record("failed", T0 + 230, host="worker2", reason="worker2: containerd did not answer after its reboot",
               detected=[], left_cordoned=None)] + worker1[2:] + finish("master1")
    run = fold_run(records)
    report = run_report(run, "2026-11-29T01:00:00Z")
    assert (report["result"], report["stopped_at"]) == ("stopped", "worker2")
    assert "containerd did not answer" in report["reason"]
    assert [(node["host"], node["status"]) for node in report["nodes"]] == [
        ("worker1", "remediated"), ("worker2", "failed"), ("worker3", "not_started")]
    assert report["nodes"][1]["reboot_at"] == round(T0 + 211, 2) and report["nodes"][1]["verified"] is False


def test_a_node_whose_step_never_ended_is_where_the_run_stopped():
    records = preflight("master1", extra=[nodes_planned(T0 + 14, "worker1")]) + rebooted_step("master1", T0 + 20)
    records += node_step("worker1", T0 + 200)[:2] + finish("master1")
    report = run_report(fold_run(records), "2026-11-29T01:00:00Z")
    assert (report["result"], report["stopped_at"]) == ("stopped", "worker1")
    assert unfinished_run(records[:-2])["in_progress"] == "worker1"


def test_only_nodes_to_do_is_still_work_and_a_node_event_outside_the_plan_or_its_step_is_refused():
    records = preflight(extra=[nodes_planned(T0 + 14, "worker1")]) + node_step("worker1", T0 + 200) + finish()
    assert run_report(fold_run(records), "2026-11-29T01:00:00Z")["result"] == "remediated"
    with pytest.raises(ValueError, match="node plan"):
        fold_run(preflight(extra=[nodes_planned(T0 + 14, "worker1")]) + node_step("worker2", T0 + 200))
    with pytest.raises(ValueError, match="has not started"):
        fold_run(preflight(extra=[nodes_planned(T0 + 14, "worker1")]) + node_step("worker1", T0 + 200)[1:])


def test_a_run_refused_after_the_nodes_were_planned_shows_their_verdict_not_a_step():
    records = preflight()[:3] + [nodes_planned(T0 + 3, "worker1")] + [
        record("failed", T0 + 20, host=None, reason="master1: the cluster cannot afford it", detected=[],
               left_cordoned=None)] + finish()
    report = run_report(fold_run(records), "2026-11-29T01:00:00Z")
    assert report["result"] == "refused"
    assert [(n["host"], n["status"], n["batch"]) for n in report["nodes"]] == [
        ("worker1", "affected", None), ("worker2", "already_fixed", None), ("worker3", "already_fixed", None)]


def test_a_nodes_only_runs_check_of_the_lock_is_its_lock_state():
    run = fold_run([started(), record("lock_checked_free", T0 + 5)])
    assert run["lock"] == "nodes_only"


def node_failed(host, when, reason):
    return record("failed", when, host=host, reason="%s: %s" % (host, reason), detected=[], left_cordoned=None,
                  tolerable=True)


def test_a_worker_within_the_max_fail_percentage_fails_and_the_run_goes_on_partly_remediated():
    # 50% of three workers: one may fail; the run goes on to the next batch past it.
    records = preflight("master1", extra=[nodes_planned(T0 + 14, *WORKERS, size=1, max_fail_percentage=50)])
    records += rebooted_step("master1", T0 + 20)
    records += node_step("worker1", T0 + 200)[:2] + [node_failed("worker1", T0 + 230, "containerd did not answer")]
    run = fold_run(records)
    assert run["stop"] is None and run["node_failures_allowed"] == 1
    assert node_step_blocker(run, "worker2") is None
    records += node_step("worker2", T0 + 300) + node_step("worker3", T0 + 400) + finish("master1")
    report = run_report(fold_run(records), "2026-11-29T01:00:00Z")
    assert report["result"] == "partly_remediated" and report["stopped_at"] is None
    assert "1 of the workers failed (worker1" in report["reason"]
    assert [(node["host"], node["status"]) for node in report["nodes"]] == [
        ("worker1", "failed"), ("worker2", "remediated"), ("worker3", "remediated")]
    assert report["nodes"][0]["reason"] == "worker1: containerd did not answer"
    assert report["summary"].endswith("failed within etcd_kernel_node_max_fail_percentage: worker1")


def test_the_failure_past_the_max_fail_percentage_stops_the_run_there():
    records = preflight("master1", extra=[nodes_planned(T0 + 14, *WORKERS, size=1, max_fail_percentage=50)])
    records += rebooted_step("master1", T0 + 20)
    records += node_step("worker1", T0 + 200)[:2] + [node_failed("worker1", T0 + 230, "did not come back")]
    records += node_step("worker2", T0 + 300)[:2] + [node_failed("worker2", T0 + 330, "did not come back")]
    run = fold_run(records)
    assert run["stop"]["at"] == "worker2"
    assert node_step_blocker(run, "worker3") == "the run stopped at worker2"
    report = run_report(fold_run(records + finish("master1")), "2026-11-29T01:00:00Z")
    assert (report["result"], report["stopped_at"]) == ("stopped", "worker2")
    assert [node["status"] for node in report["nodes"]] == ["failed", "failed", "not_started"]


def test_a_control_plane_nodes_failure_always_stops_the_run():
    plan = [dict(step, role="control_plane") if step["host"] == "worker1" else step
            for step in node_plan(*WORKERS, size=1)]
    planned = record("nodes_planned", T0 + 14, plan=plan, max_fail_percentage=100,
                     detected=[dict(node_detected(h), role="control_plane" if h == "worker1" else "worker")
                               for h in WORKERS])
    records = preflight("master1", extra=[planned]) + rebooted_step("master1", T0 + 20)
    records += node_step("worker1", T0 + 200)[:2] + [node_failed("worker1", T0 + 230, "did not come back")]
    run = fold_run(records)
    assert run["node_failures_allowed"] == 2 and run["stop"]["at"] == "worker1"


def test_the_failures_allowed_round_down_over_the_planned_workers():
    assert node_failures_allowed(node_plan("w1", "w2", "w3"), 0) == 0
    assert node_failures_allowed(node_plan("w1", "w2", "w3"), 33.4) == 1
    assert node_failures_allowed(node_plan(*["w%d" % n for n in range(40)]), 10) == 4
    assert node_failures_allowed(node_plan("w1"), "100") == 1
    with pytest.raises(ValueError, match="from 0 to 100"):
        node_failures_allowed(node_plan("w1"), 120)


def test_a_batchs_own_failure_stops_the_run_whatever_the_max_fail_percentage():
    records = preflight("master1", extra=[nodes_planned(T0 + 14, *WORKERS, size=1, max_fail_percentage=100)])
    records += rebooted_step("master1", T0 + 20) + node_step("worker1", T0 + 200)[:1]
    records += [record("failed", T0 + 230, host="worker1", reason="worker1: Hold a slot of the nodes' budget: no slot came free",
                       detected=[], left_cordoned=None, tolerable=False)]
    run = fold_run(records)
    assert run["stop"]["at"] == "worker1" and run["nodes"]["worker1"]["status"] == "failed"
