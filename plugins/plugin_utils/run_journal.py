# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The run's journal: what each step did, recorded when it did it, and the fold that makes
the run record (and so the report and the exit status) from those records alone.

The journal is a file of JSON lines on the controller, <report dir>/journal/<run id>.jsonl,
written only by the run_record action (one line per record, appended and flushed as the
step happens). A run's state is nothing but the fold of its journal: no task rebuilds a
step from another file's registers, and a controller that dies mid-run leaves the journal
behind, which the next run's start reads (unfinished_run) and reports.

Each record is {"event": <name>, "time": <controller epoch seconds>, <the event's fields>}.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable

from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import utc_stamp
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import (
    failed_nodes,
    flag,
    new_run,
    node_failures_allowed,
    run_update,
)

# Each event and the fields it carries (all of them, each time).
EVENTS: dict[str, tuple[str, ...]] = {
    # The run begins: start makes it (or stop, when a failure came first). unfinished: the
    # earlier runs since the last finished one whose journal has no end (still running
    # elsewhere, or their controller died or was killed).
    "started": ("run_id", "started", "check_mode", "limit", "unfinished"),
    # The maintenance window as start judged it (see maintenance_window).
    "window": ("window",),
    # The run moves on: preflight, finish (the rollout begins with the first host_started).
    "phase": ("phase",),
    # Preflight's plan, the hosts the kit cannot judge, and what every host detected.
    "planned": ("plan", "unknown", "detected"),
    "lock_taken": (),
    # A nodes-only run found no run holding the lock (it takes none: see LOCK_STATES).
    "lock_checked_free": (),
    # outcome: the lock field of etcd_lock's release (released, free, held_by_other), or ""
    # when no member could be asked.
    "lock_released": ("outcome",),
    "snapshot_saved": ("host", "path"),
    # results: {host: the apt_timers module's result there}.
    "apt_paused": ("results",),
    "apt_resumed": ("hosts",),
    # One host's step, in the order it happens.
    "host_started": ("host",),
    # transferred: whether this member led and gave the leadership away.
    "leader_handoff": ("host", "transferred"),
    "rebooting": ("host",),
    "fallback_used": ("host",),
    "member_healthy": ("host", "kept_waiting_s"),
    "kernel_read_back": ("host", "kernel"),
    # The step's end, read back: kernel_before as the step read it, rebooted whether it
    # needed the reboot (an affected kernel), left_cordoned what the operator's hooks left.
    "host_done": ("host", "kernel_before", "rebooted", "left_cordoned"),
    # The nodes after the etcd members (outside the etcd group): their plan, batch by
    # batch, what each detected, and etcd_kernel_node_max_fail_percentage.
    "nodes_planned": ("plan", "detected", "max_fail_percentage"),
    # One node's step; a batch's nodes go side by side. runtime: what the node's container
    # runtime answered after the reboot ({answering, version, answer_s, kubelet}), None
    # where the node has none.
    "node_started": ("host",),
    "node_rebooting": ("host",),
    "node_read_back": ("host", "kernel", "runtime"),
    "node_done": ("host", "kernel_before", "rebooted", "left_cordoned"),
    # The maintenance window closed at a host (moment: before its step, before its
    # disruption); verdict: the window's reason. The host is untouched.
    "window_closed": ("host", "moment", "verdict"),
    # The rescue: one record for every host that failed in the same task, or one per node
    # whose own step failed. host: the host whose step failed (rollout), or None; detected:
    # what the hosts had detected by then; tolerable: a node's own failure, which
    # etcd_kernel_node_max_fail_percentage may let the run go on past.
    "failed": ("host", "reason", "detected", "left_cordoned", "tolerable"),
    "finished": ("finished",),
}

# The etcd_lock release's word for the lock, as the report says it.
_RELEASED = {"released": "released", "free": "lapsed", "held_by_other": "held_by_other"}
_NO_REASON = "a task failed without a message (see the log above)"


def record_problem(event: Any, fields: Any) -> str | None:
    """Why a record cannot go into the journal, or None."""
    if event not in EVENTS:
        return "unknown journal event %r; known: %s" % (event, ", ".join(sorted(EVENTS)))
    if not isinstance(fields, dict):
        return "the fields of %s must be a mapping, got %r" % (event, fields)
    wanted = set(EVENTS[event])
    if set(fields) != wanted:
        missing = sorted(wanted - set(fields))
        extra = sorted(set(fields) - wanted)
        return "%s takes exactly %s%s%s" % (
            event, ", ".join(EVENTS[event]) or "no fields",
            "; missing " + ", ".join(missing) if missing else "",
            "; unknown " + ", ".join(extra) if extra else "")
    return None


def parse_journal(text: str) -> list[dict[str, Any]]:
    """The records of a journal file. A last line cut short (the controller died while
    writing it) is left out; any other bad line is an error."""
    records = []
    lines = text.split("\n")
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError as error:
            if number == len(lines) and not text.endswith("\n"):
                break
            raise ValueError("journal line %d is not JSON: %s" % (number, error)) from error
        if not isinstance(record, dict) or "event" not in record or "time" not in record:
            raise ValueError("journal line %d is not a record ({event, time, ...}): %r" % (number, line[:200]))
        records.append(record)
    return records


def fold_run(records: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The run record the journal's records make, in their order (see remediation_run)."""
    run = None
    steps: dict[str, dict[str, Any]] = {}
    for record in records:
        event = record.get("event")
        fields = dict((key, value) for key, value in record.items() if key not in ("event", "time"))
        problem = record_problem(event, fields)
        if problem:
            raise ValueError(problem)
        if event == "started":
            if run is not None:
                raise ValueError("the journal starts its run twice")
            run = new_run(fields["run_id"], fields["started"], fields["check_mode"], fields["limit"])
            run["unfinished"] = list(fields["unfinished"] or [])
            continue
        if run is None:
            raise ValueError("the journal's first record must be started, got %s" % event)
        run = _apply(run, steps, event, fields, _time(record))
    if run is None:
        raise ValueError("the journal has no record")
    return run


def _time(record: dict[str, Any]) -> float:
    moment = record["time"]
    if isinstance(moment, bool) or not isinstance(moment, (int, float)) or not math.isfinite(moment):
        raise ValueError("a record's time must be epoch seconds, got %r" % (moment,))
    return float(moment)


def _apply(run: dict[str, Any], steps: dict[str, dict[str, Any]], event: str, fields: dict[str, Any],
           moment: float) -> dict[str, Any]:
    host = fields.get("host")
    if event in ("host_started", "leader_handoff", "rebooting", "fallback_used", "member_healthy",
                 "kernel_read_back", "host_done"):
        step = _planned_step(run, host)
        if event == "host_started":
            steps[host] = {"member": step["member"], "kernel_before": step["from"], "kernel_after": None,
                           "leader_transferred": False, "fallback_used": False, "reboot_at": None,
                           "healthy_at": None, "kept_waiting_s": 0}
            return run_update(run, phase="rollout", in_progress=host)
        if host not in steps or run["in_progress"] != host:
            raise ValueError("%s for %s, whose step has not started" % (event, host))
        seen = steps[host]
        if event == "leader_handoff":
            seen["leader_transferred"] = seen["leader_transferred"] or flag(fields["transferred"])
        elif event == "rebooting":
            seen["reboot_at"] = moment
        elif event == "fallback_used":
            seen["fallback_used"] = True
        elif event == "member_healthy":
            seen["healthy_at"] = moment
            seen["kept_waiting_s"] = fields["kept_waiting_s"] or 0
        elif event == "kernel_read_back":
            seen["kernel_after"] = fields["kernel"]
        else:
            return run_update(run, host=_host_done(run, step, seen, fields))
        return run
    if event in ("node_started", "node_rebooting", "node_read_back", "node_done"):
        return _node_event(run, steps, event, fields, moment)
    if event == "nodes_planned":
        return run_update(run, node_plan=fields["plan"], node_detected=fields["detected"],
                          node_failures_allowed=node_failures_allowed(fields["plan"], fields["max_fail_percentage"]))
    if event == "window":
        return run_update(run, window=fields["window"])
    if event == "phase":
        return run_update(run, phase=fields["phase"])
    if event == "planned":
        return run_update(run, plan=fields["plan"], unknown=fields["unknown"], detected=fields["detected"])
    if event == "lock_taken":
        return run_update(run, lock="held")
    if event == "lock_checked_free":
        return run_update(run, lock="nodes_only")
    if event == "lock_released":
        return run_update(run, lock=_RELEASED.get(fields["outcome"] or "", "not_released"))
    if event == "snapshot_saved":
        return run_update(run, snapshot="%s:%s" % (host, fields["path"]))
    if event == "apt_paused":
        return run_update(run, apt_paused=fields["results"])
    if event == "apt_resumed":
        return run_update(run, apt_resumed=fields["hosts"])
    if event == "window_closed":
        return run_update(run, stop={"at": host, "reason": (
            "%s: the window closed %s on %s, so the run stopped there and touched no host after it. Run the kit "
            "again inside the next window: it resumes with %s." % (fields["verdict"], fields["moment"], host, host))})
    if event == "failed":
        return _failed(run, steps, fields)
    # finished: the report's time is the record's field; nothing in the run changes.
    return run


def _node_event(run: dict[str, Any], steps: dict[str, dict[str, Any]], event: str, fields: dict[str, Any],
                moment: float) -> dict[str, Any]:
    host = fields["host"]
    step = next((step for step in run["node_plan"] if step["host"] == host), None)
    if step is None:
        raise ValueError("%r is not in the run's node plan" % (host,))
    if event == "node_started":
        steps[host] = {"node": True, "role": step["role"], "batch": step["batch"], "kernel_before": step["from"],
                       "kernel_after": None, "runtime": None, "reboot_at": None, "back_at": None}
        return run_update(run, phase="rollout", node_started=host)
    if host not in steps or host not in run["nodes_in_progress"]:
        raise ValueError("%s for %s, whose step has not started" % (event, host))
    seen = steps[host]
    if event == "node_rebooting":
        seen["reboot_at"] = moment
    elif event == "node_read_back":
        seen["kernel_after"] = fields["kernel"]
        seen["runtime"] = fields["runtime"] or None
        seen["back_at"] = moment
    else:
        rebooted = flag(fields["rebooted"])
        if rebooted and (seen["reboot_at"] is None or seen["back_at"] is None):
            raise ValueError("%s was rebooted but the journal has no node_rebooting and node_read_back for it" % host)
        return run_update(run, node={
            "host": host, "role": seen["role"], "batch": seen["batch"], "kernel_before": fields["kernel_before"],
            "kernel_after": seen["kernel_after"], "status": "remediated" if rebooted else "already_fixed",
            "verified": True, "runtime": seen["runtime"], "left_cordoned": fields["left_cordoned"] or None,
            "downtime_s": round(seen["back_at"] - seen["reboot_at"], 1) if rebooted else 0.0,
            "reboot_at": round(seen["reboot_at"], 2) if rebooted else None,
            "back_at": round(seen["back_at"], 2) if rebooted else None})
    return run


def _planned_step(run: dict[str, Any], host: Any) -> dict[str, Any]:
    for step in run["plan"]:
        if step["host"] == host:
            return step
    raise ValueError("%r is not in the run's plan" % (host,))


def _host_done(run: dict[str, Any], step: dict[str, Any], seen: dict[str, Any], fields: dict[str, Any]) -> dict[str, Any]:
    """A host's read-back result: its status, and how long its member was out."""
    rebooted = flag(fields["rebooted"])
    if rebooted:
        status = "remediated"
    else:
        status = "recovered" if step.get("action") == "recover" else "already_fixed"
    downtime = 0.0
    if rebooted:
        if seen["reboot_at"] is None or seen["healthy_at"] is None:
            raise ValueError("%s was rebooted but the journal has no rebooting and member_healthy for it" % step["host"])
        downtime = round(seen["healthy_at"] - seen["reboot_at"], 1)
    return {
        "host": step["host"], "member": seen["member"], "kernel_before": fields["kernel_before"],
        "kernel_after": seen["kernel_after"], "status": status, "verified": True,
        "leader_transferred": seen["leader_transferred"], "fallback_used": seen["fallback_used"],
        "kept_waiting_s": seen["kept_waiting_s"], "left_cordoned": fields["left_cordoned"] or None,
        "downtime_s": downtime,
        "reboot_at": round(seen["reboot_at"], 2) if rebooted else None,
        "healthy_at": round(seen["healthy_at"], 2) if rebooted else None,
    }


def _failed(run: dict[str, Any], steps: dict[str, dict[str, Any]], fields: dict[str, Any]) -> dict[str, Any]:
    """The rescue's record: where the run stopped, and the failed host's partial result."""
    reason = str(fields["reason"] or "").strip() or _NO_REASON
    host = fields["host"]
    in_rollout = run["phase"] == "rollout" and host is not None
    # A refusal in preflight comes before the plan records what the hosts detected.
    detected = run["detected"] or list(fields["detected"] or [])
    seen = steps.get(host) if in_rollout else None
    if seen is not None and seen.get("node"):
        run = run_update(run, detected=detected, node={
            "host": host, "role": seen["role"], "batch": seen["batch"], "kernel_before": seen["kernel_before"],
            "kernel_after": seen["kernel_after"], "status": "failed", "runtime": seen["runtime"],
            "left_cordoned": fields["left_cordoned"] or None, "reboot_at": seen["reboot_at"], "reason": reason})
        # A worker within the failures allowed: the run goes on past it (its batch-mates and the next batches).
        tolerated = (flag(fields["tolerable"]) and seen["role"] != "control_plane"
                     and len(failed_nodes(run)) <= run["node_failures_allowed"])
        return run if tolerated and run["stop"] is None else run_update(run, stop={"at": host, "reason": reason})
    run = run_update(run, detected=detected, stop={"at": host if in_rollout else run["phase"], "reason": reason})
    if seen is None:
        return run
    return run_update(run, host={
        "host": host, "member": seen["member"], "kernel_before": seen["kernel_before"],
        "kernel_after": seen["kernel_after"], "status": "failed",
        "leader_transferred": seen["leader_transferred"], "fallback_used": seen["fallback_used"],
        "left_cordoned": fields["left_cordoned"] or None, "reboot_at": seen["reboot_at"]})


def unfinished_run(records: list[dict[str, Any]]) -> dict[str, Any] | None:
    """What an earlier run's journal says, when it has no finished record: its id, when it
    started, the phase it was in, the host whose step it was in, and whether it held the
    lock. None for a run that finished."""
    if any(record.get("event") == "finished" for record in records):
        return None
    run = fold_run(records)
    last = records[-1]
    return {"run_id": run["run_id"], "started": run["started"], "phase": run["phase"],
            "in_progress": run["in_progress"] or ", ".join(run["nodes_in_progress"]) or None, "lock": run["lock"],
            "note": "its last record was %s at %s" % (last["event"], utc_stamp(_time(last)))}
