"""sre.etcd_kernel.run_record, the action plugin run in-process with a fake task: it
appends one record to the run's journal on the controller and returns the fold."""
import json
import os
import re
import stat
import types

import pytest
from ansible_collections.sre.etcd_kernel.plugins.action.run_record import (
    ActionModule,
    append_record,
    earlier_unfinished_runs,
)

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[a-z0-9]{12}$")


@pytest.fixture(autouse=True)
def usual_umask():
    # The journal's modes are the plugin's, under the usual umask.
    earlier = os.umask(0o022)
    yield
    os.umask(earlier)


def run_action(args, task_vars=None, check_mode=False):
    task = types.SimpleNamespace(args=dict(args), async_val=0, check_mode=check_mode, action="sre.etcd_kernel.run_record")
    connection = types.SimpleNamespace(_shell=types.SimpleNamespace(tmpdir=None))
    action = ActionModule(task, connection, play_context=None, loader=None, templar=None, shared_loader_obj=None)
    return action.run(task_vars=task_vars if task_vars is not None else {})


def controller_vars(journal):
    # Every later record reads the journal's path from the controller's fact.
    return {"hostvars": {"localhost": {"etcd_kernel_journal": journal}}}


def start(tmp_path, check_mode=False, task_vars=None):
    result = run_action({"event": "started", "report_dir": str(tmp_path / "reports")},
                        task_vars=task_vars, check_mode=check_mode)
    assert not result.get("failed"), result
    return result


def journal_records(path):
    with open(path, encoding="utf-8") as stream:
        return [json.loads(line) for line in stream.read().splitlines()]


PLAN = [{"order": 1, "host": "master1", "member": "etcd1", "action": "upgrade", "from": "5.4.0-132-generic",
         "to": "5.4.0-136-generic", "role": "follower"}]
DETECTED = [{"host": "master1", "member": "etcd1", "kernel": "5.4.0-132-generic", "status": "affected",
             "reason": "a reason"}]


def test_started_makes_the_journal_and_returns_the_new_run(tmp_path):
    result = start(tmp_path, task_vars={"ansible_limit": "master1"})
    facts = result["ansible_facts"]
    run = facts["etcd_kernel_run"]
    assert RUN_ID.match(run["run_id"]), run["run_id"]
    folder = tmp_path / "reports" / "journal"
    journal = str(folder / (run["run_id"] + ".jsonl"))
    assert facts["etcd_kernel_journal"] == result["journal"] == journal
    assert "etcd_kernel_report" not in facts
    assert run["phase"] == "start" and run["check_mode"] is False and run["limit"] == "master1"
    assert run["unfinished"] == [] and run["lock"] == "not_taken"
    assert result["changed"] is False and not result.get("failed")
    [first] = journal_records(journal)
    assert first["event"] == "started" and first["run_id"] == run["run_id"] and first["started"] == run["started"]
    assert run["run_id"].startswith(run["started"].replace("-", "").replace(":", ""))
    assert sorted(first) == ["check_mode", "event", "limit", "run_id", "started", "time", "unfinished"]
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE(os.stat(journal).st_mode) == 0o640


def test_started_takes_check_mode_from_the_task_and_no_limit_as_none(tmp_path):
    run = start(tmp_path, check_mode=True, task_vars={"ansible_limit": ""})["ansible_facts"]["etcd_kernel_run"]
    assert run["check_mode"] is True and run["limit"] is None


def test_later_records_append_to_the_journal_the_controllers_fact_names(tmp_path):
    journal = start(tmp_path)["journal"]
    steps = [
        {"event": "phase", "phase": "preflight"},
        {"event": "planned", "plan": PLAN, "unknown": [], "detected": DETECTED},
        {"event": "lock_taken"},
        {"event": "snapshot_saved", "host": "master1", "path": "/var/backups/etcd/r1.db"},
        {"event": "host_started", "host": "master1"},
    ]
    for args in steps:
        result = run_action(args, controller_vars(journal))
        assert not result.get("failed"), result
        assert result["changed"] is False and result["journal"] == journal
        assert result["ansible_facts"]["etcd_kernel_journal"] == journal
        assert "etcd_kernel_report" not in result["ansible_facts"]
    run = result["ansible_facts"]["etcd_kernel_run"]
    assert run["phase"] == "rollout" and run["in_progress"] == "master1" and run["lock"] == "held"
    assert run["snapshot"] == "master1:/var/backups/etcd/r1.db" and run["plan"] == PLAN
    records = journal_records(journal)
    assert [one["event"] for one in records] == ["started", "phase", "planned", "lock_taken", "snapshot_saved",
                                                 "host_started"]
    assert records[2]["plan"] == PLAN
    times = [one["time"] for one in records]
    assert times == sorted(times) and all(isinstance(moment, float) for moment in times)


def test_finished_returns_the_report_of_the_whole_journal(tmp_path):
    journal = start(tmp_path, task_vars={"ansible_limit": "master1"})["journal"]
    for args in [
        {"event": "phase", "phase": "preflight"},
        {"event": "planned", "plan": PLAN, "unknown": [], "detected": DETECTED},
        {"event": "lock_taken"},
        {"event": "host_started", "host": "master1"},
        {"event": "rebooting", "host": "master1"},
        {"event": "member_healthy", "host": "master1", "kept_waiting_s": 0},
        {"event": "kernel_read_back", "host": "master1", "kernel": "5.4.0-136-generic"},
        {"event": "host_done", "host": "master1", "kernel_before": "5.4.0-132-generic", "rebooted": "True",
         "left_cordoned": None},
        {"event": "phase", "phase": "finish"},
        {"event": "lock_released", "outcome": "released"},
    ]:
        assert not run_action(args, controller_vars(journal)).get("failed")
    result = run_action({"event": "finished"}, controller_vars(journal))
    assert result["changed"] is False and not result.get("failed")
    facts = result["ansible_facts"]
    report = facts["etcd_kernel_report"]
    assert report["result"] == "remediated" and report["lock"] == "released" and report["limit"] == "master1"
    assert report["run_id"] == facts["etcd_kernel_run"]["run_id"]
    assert report["started"] == facts["etcd_kernel_run"]["started"]
    last = journal_records(journal)[-1]
    assert last["event"] == "finished" and last["finished"] == report["finished"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", report["finished"])
    [host] = report["hosts"]
    assert host["status"] == "remediated" and host["downtime_s"] >= 0 and host["reboot_at"] is not None
    json.dumps(report, allow_nan=False)


@pytest.mark.parametrize("args, message", [
    ({"event": "rebooted", "host": "master1"}, "run_record rebooted: unknown journal event 'rebooted'; known: "),
    ({"event": "phase"}, "run_record phase: phase takes exactly phase; missing phase"),
    ({"event": "lock_taken", "host": "master1"}, "run_record lock_taken: lock_taken takes exactly no fields; unknown host"),
    ({"event": "finished", "finished": "t1", "result": "remediated"},
     "run_record finished: finished takes exactly finished; unknown result"),
    ({"phase": "preflight"}, "run_record None: unknown journal event None"),
])
def test_a_bad_event_or_field_fails_with_its_reason_and_writes_nothing(tmp_path, args, message):
    journal = start(tmp_path)["journal"]
    before = open(journal, encoding="utf-8").read()
    result = run_action(args, controller_vars(journal))
    assert result["failed"] is True and result["msg"].startswith(message), result["msg"]
    assert "ansible_facts" not in result and not result.get("changed")
    assert open(journal, encoding="utf-8").read() == before


@pytest.mark.parametrize("field", ["host", "run_id", "started"])
def test_a_started_with_a_field_of_its_own_writes_nothing(tmp_path, field):
    result = run_action({"event": "started", "report_dir": str(tmp_path / "reports"), field: "x"})
    assert result["failed"] is True
    assert result["msg"] == ("run_record started: started takes only report_dir (the run's id, times, mode and limit "
                             "are its own), got %s" % field)
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("report_dir", [None, "", 5])
def test_started_needs_the_report_folder(tmp_path, report_dir):
    args = {"event": "started"} if report_dir is None else {"event": "started", "report_dir": report_dir}
    result = run_action(args)
    assert result["failed"] is True
    assert result["msg"] == "run_record started: give report_dir, the folder the run's reports go in (etcd_kernel_report_dir)"


def test_a_report_folder_that_cannot_be_made_says_what_to_set(tmp_path):
    (tmp_path / "reports").write_text("a file where the folder should be")
    result = run_action({"event": "started", "report_dir": str(tmp_path / "reports")})
    assert result["failed"] is True and "could not make " + str(tmp_path / "reports" / "journal") in result["msg"]
    assert "set etcd_kernel_report_dir to a folder the user running Ansible can write" in result["msg"]


@pytest.mark.parametrize("task_vars", [{"hostvars": {"localhost": {}}}, controller_vars(""), controller_vars(None)])
def test_a_record_before_started_fails_saying_to_record_started_first(task_vars):
    result = run_action({"event": "lock_taken"}, task_vars)
    assert result["failed"] is True and not result.get("changed")
    assert result["msg"] == ("run_record lock_taken: the run has no journal yet: record started first "
                             "(the role's start does)")


def test_a_record_the_run_cannot_take_fails_with_the_folds_reason(tmp_path):
    journal = start(tmp_path)["journal"]
    result = run_action({"event": "rebooting", "host": "master1"}, controller_vars(journal))
    assert result["failed"] is True and result["msg"] == "run_record rebooting: 'master1' is not in the run's plan"


def test_a_journal_that_is_gone_fails_the_record(tmp_path):
    gone = tmp_path / "gone" / "r1.jsonl"
    result = run_action({"event": "lock_taken"}, controller_vars(str(gone)))
    assert result["failed"] is True and result["msg"].startswith("run_record lock_taken: ")
    assert "ansible_facts" not in result and not gone.exists()


def test_a_record_the_fold_refuses_is_not_kept_so_the_run_can_still_finish(tmp_path):
    journal = start(tmp_path)["journal"]
    assert run_action({"event": "phase", "phase": "bogus"}, controller_vars(journal))["failed"] is True
    assert [one["event"] for one in journal_records(journal)] == ["started"]
    result = run_action({"event": "finished"}, controller_vars(journal))
    assert not result.get("failed"), result
    assert result["ansible_facts"]["etcd_kernel_report"]["result"] == "nothing_to_do"


# The run id and the journal file ---------------------------------------------------

def test_append_record_appends_one_sorted_line_and_returns_every_record(tmp_path):
    path = str(tmp_path / "r1.jsonl")
    first = {"event": "started", "time": 1.5, "run_id": "r1", "started": "2026-11-29T00:00:00Z", "check_mode": False,
             "limit": None, "unfinished": [{"run_id": "r0", "lock": "held"}]}
    assert append_record(path, first) == [first]
    records = append_record(path, {"time": 2.0, "event": "lock_taken"})
    assert records == [first, {"event": "lock_taken", "time": 2.0}]
    text = open(path, encoding="utf-8").read()
    assert text.endswith("\n") and text.count("\n") == 2
    assert text.splitlines()[0] == (
        '{"check_mode": false, "event": "started", "limit": null, "run_id": "r1", "started": "2026-11-29T00:00:00Z", '
        '"time": 1.5, "unfinished": [{"lock": "held", "run_id": "r0"}]}')
    assert text.splitlines()[1] == '{"event": "lock_taken", "time": 2.0}'
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640


# Earlier runs that never finished --------------------------------------------------

def write_journal(folder, run_id, events, start_time=1795910400.0, check_mode=False):
    records = [{"event": "started", "time": start_time, "run_id": run_id, "started": "2026-11-29T00:00:00Z",
                "check_mode": check_mode, "limit": None, "unfinished": []}]
    for offset, event in enumerate(events, start=1):
        one = {"event": event, "time": start_time + offset}
        if event == "phase":
            one["phase"] = "preflight"
        if event == "finished":
            one["finished"] = "2026-11-29T00:10:00Z"
        records.append(one)
    (folder / (run_id + ".jsonl")).write_text("".join(json.dumps(one) + "\n" for one in records))


def test_earlier_unfinished_runs_lists_them_newest_first_and_stops_at_the_last_finished(tmp_path):
    write_journal(tmp_path, "20201101T000000Z-aaaaaaaaaaaa", ["phase"])
    write_journal(tmp_path, "20201102T000000Z-bbbbbbbbbbbb", ["phase", "finished"])
    write_journal(tmp_path, "20201103T000000Z-cccccccccccc", ["phase", "lock_taken"])
    write_journal(tmp_path, "20201104T000000Z-dddddddddddd", [])
    (tmp_path / "20201105T000000Z-eeeeeeeeeeee.json").write_text("not a journal")
    unfinished = earlier_unfinished_runs(str(tmp_path))
    assert [run["run_id"] for run in unfinished] == ["20201104T000000Z-dddddddddddd", "20201103T000000Z-cccccccccccc"]
    assert unfinished[0]["phase"] == "start" and unfinished[0]["lock"] == "not_taken"
    assert unfinished[1] == {"run_id": "20201103T000000Z-cccccccccccc", "started": "2026-11-29T00:00:00Z",
                             "phase": "preflight", "in_progress": None, "lock": "held",
                             "note": "its last record was lock_taken at 2026-11-29T00:00:02Z"}


def test_a_finished_check_mode_run_does_not_end_the_list_of_unfinished_runs(tmp_path):
    write_journal(tmp_path, "20201101T000000Z-aaaaaaaaaaaa", ["phase", "finished"])
    write_journal(tmp_path, "20201102T000000Z-bbbbbbbbbbbb", ["phase", "lock_taken"])
    write_journal(tmp_path, "20201103T000000Z-cccccccccccc", ["phase", "finished"], check_mode=True)
    write_journal(tmp_path, "20201104T000000Z-dddddddddddd", ["phase"], check_mode=True)
    unfinished = earlier_unfinished_runs(str(tmp_path))
    assert [run["run_id"] for run in unfinished] == ["20201104T000000Z-dddddddddddd", "20201102T000000Z-bbbbbbbbbbbb"]


def test_earlier_unfinished_runs_is_empty_after_a_finished_run_and_in_an_empty_folder(tmp_path):
    assert earlier_unfinished_runs(str(tmp_path)) == []
    assert earlier_unfinished_runs(str(tmp_path / "missing")) == []
    write_journal(tmp_path, "20201102T000000Z-bbbbbbbbbbbb", ["finished"])
    assert earlier_unfinished_runs(str(tmp_path)) == []


def test_an_unreadable_journal_is_reported_as_a_note_not_a_failure(tmp_path):
    write_journal(tmp_path, "20201101T000000Z-aaaaaaaaaaaa", ["finished"])
    (tmp_path / "20201102T000000Z-bbbbbbbbbbbb.jsonl").write_text('{"event": "started"\n{"event": "x", "time": 1}\n')
    (tmp_path / "20201103T000000Z-cccccccccccc.jsonl").write_text("")
    unfinished = earlier_unfinished_runs(str(tmp_path))
    assert [run["run_id"] for run in unfinished] == ["20201103T000000Z-cccccccccccc", "20201102T000000Z-bbbbbbbbbbbb"]
    for run in unfinished:
        assert run["started"] is None and run["phase"] is None and run["in_progress"] is None and run["lock"] is None
    assert unfinished[0]["note"] == "its journal could not be read: the journal has no record"
    assert unfinished[1]["note"].startswith("its journal could not be read: journal line 1 is not JSON")


def test_a_journal_that_is_a_folder_is_reported_as_a_note(tmp_path):
    (tmp_path / "20201102T000000Z-bbbbbbbbbbbb.jsonl").mkdir()
    [run] = earlier_unfinished_runs(str(tmp_path))
    assert run["run_id"] == "20201102T000000Z-bbbbbbbbbbbb" and run["note"].startswith("its journal could not be read: ")


def test_started_lists_the_earlier_unfinished_runs_and_the_report_carries_them(tmp_path):
    folder = tmp_path / "reports" / "journal"
    folder.mkdir(parents=True)
    write_journal(folder, "20201101T000000Z-aaaaaaaaaaaa", ["phase", "finished"])
    write_journal(folder, "20201102T000000Z-bbbbbbbbbbbb", ["phase", "lock_taken"])
    (folder / "20201103T000000Z-cccccccccccc.jsonl").write_text("{broken\n{}\n")
    result = start(tmp_path)
    run = result["ansible_facts"]["etcd_kernel_run"]
    assert [one["run_id"] for one in run["unfinished"]] == ["20201103T000000Z-cccccccccccc",
                                                            "20201102T000000Z-bbbbbbbbbbbb"]
    assert run["unfinished"][1]["lock"] == "held"
    assert journal_records(result["journal"])[0]["unfinished"] == run["unfinished"]
    finished = run_action({"event": "finished"}, controller_vars(result["journal"]))
    assert finished["ansible_facts"]["etcd_kernel_report"]["unfinished_runs"] == run["unfinished"]
    # The next run starts after a finished one: nothing earlier is unfinished for it.
    assert start(tmp_path)["ansible_facts"]["etcd_kernel_run"]["unfinished"] == []
