# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The run: one typed record of what a run has found and done, and the report it ends with.

The plays keep the record as one fact on the controller (etcd_kernel_run) and change it
only through run_update(), so every field keeps its type and meaning; finish builds the
report from it once, with run_report(). The result is decided here and nowhere else:

  refused        stopped before any member was disrupted (start or preflight said no)
  stopped        stopped during the rollout, at a host, or a planned host has no
                 read-back result (it became unreachable, or the run was interrupted)
  remediated     every planned host was read back on a fixed kernel with its member healthy,
                 and every planned node after them on a fixed kernel with its runtime answering
  partly_remediated  as remediated, but for workers that failed within the share of them
                 etcd_kernel_node_max_fail_percentage lets fail before the run stops
  nothing_to_do  no host and no node in the plans
  planned        check mode with work to do
"""

from __future__ import annotations

import copy
import datetime
import math
from typing import Any

from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import TIME_FORMAT

PHASES = ("start", "preflight", "rollout", "finish")
# recovered: a member an earlier run left on a fixed kernel but out, brought back first.
HOST_STATUSES = ("remediated", "recovered", "already_fixed", "failed")
# lapsed: the lock was already gone at release (its lease expired); held_by_other: another
# run had taken it by then; not_released: no member could be asked (it expires by itself);
# nodes_only: a run of the other nodes alone (playbooks/remediate_nodes.yml) takes none, and
# starts only while no run holds it: its nodes count against the budget's slots instead.
LOCK_STATES = ("not_taken", "held", "released", "lapsed", "held_by_other", "not_released", "nodes_only")
# What lets a node's step go: the run's lock, or a nodes-only run's check that none held it.
_NODE_PHASE_LOCKS = ("held", "nodes_only")
# Slack for the moments between the timed steps (ssh round trips, facts, templating).
LOCK_TTL_MARGIN_S = 60

_RUN_FIELDS = ("run_id", "started", "check_mode", "limit", "phase", "stop", "plan", "unknown",
               "detected", "snapshot", "lock", "in_progress", "hosts", "apt_timers", "window", "unfinished",
               "node_plan", "node_detected", "nodes", "nodes_in_progress", "node_failures_allowed")
# What run_update() accepts: every field but hosts (changed through host=...), apt_timers
# (through apt_paused=... and apt_resumed=...) and run_id.
_UPDATABLE = ("phase", "stop", "plan", "unknown", "detected", "snapshot", "lock", "in_progress", "host",
              "apt_paused", "apt_resumed", "window", "node_plan", "node_detected", "node_started", "node",
              "node_failures_allowed")
_WINDOW_KEYS = ("days", "start", "end", "judged_at", "override", "inside", "reason")

# The keys a host's entry has in both reports, the detect report's and a run's, with the
# same meaning: the host, its member, its layout, the URL the kit reaches it at and what
# the kit read from the host. Detect adds its verdict (kernel, status, ...); a run its
# outcome (kernel_before, kernel_after, status, downtime_s, ...).
HOST_IDENTITY = ("host", "member", "layout", "client_url", "observed")
# A summary goes into chat messages and AWX job descriptions: the full reason is in the report.
SUMMARY_REASON_CHARS = 300
_NUMBER_KEYS = ("downtime_s", "reboot_at", "healthy_at")
_FLAG_KEYS = ("leader_transferred", "fallback_used", "verified")
_HOST_KEYS = ("host", "member", "kernel_before", "kernel_after", "status", "verified") + \
    ("leader_transferred", "fallback_used", "downtime_s", "reboot_at", "healthy_at", "kept_waiting_s") + \
    ("left_cordoned",)
# A node's result (the nodes after the etcd members): its batch, its kernels, its runtime
# as read back after the reboot ({answering, version, answer_s, kubelet}, None where the
# node has no runtime), and how long it was out (from its reboot to its runtime answering).
NODE_STATUSES = ("remediated", "already_fixed", "failed")
_NODE_KEYS = ("host", "role", "batch", "kernel_before", "kernel_after", "status", "verified", "runtime",
              "downtime_s", "reboot_at", "back_at", "left_cordoned", "reason")


def lock_ttl_needed(reboot_timeout_s: float, recover_wait_s: float, gate_wait_s: float, install_timeout_s: float,
                    command_timeout_s: float, recover_progress_wait_s: float = 0) -> int:
    """The shortest lock TTL that outlasts one host's longest stretch between two lock
    refreshes, in seconds. A host's step refreshes the lock before the install, after the
    gate and after the recovery, so the two stretches are:
      install:  the kernel read, the apt install and the gate's wait;
      disrupt:  the leader handoff (a gate's wait), the reboot (Ansible's reboot waits up
                to its timeout for the host to go down and again for it to come back),
                the wait for the member, and the fallback (gate, container lookup and
                restart, the wait again); each wait for the member may go on for
                recover_progress_wait_s while the member is catching up.
    """
    values = dict(reboot_timeout_s=reboot_timeout_s, recover_wait_s=recover_wait_s, gate_wait_s=gate_wait_s,
                  install_timeout_s=install_timeout_s, command_timeout_s=command_timeout_s,
                  recover_progress_wait_s=recover_progress_wait_s)
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            raise ValueError("%s must be a finite number of seconds, got %r" % (name, value))
    install = command_timeout_s + install_timeout_s + gate_wait_s
    member_wait = recover_wait_s + recover_progress_wait_s
    disrupt = (gate_wait_s + 2 * reboot_timeout_s + member_wait
               + gate_wait_s + 2 * command_timeout_s + member_wait)
    return int(math.ceil(max(install, disrupt))) + LOCK_TTL_MARGIN_S


def new_run(run_id: str, started: str, check_mode: bool | str = False, limit: str | None = None) -> dict[str, Any]:
    """A fresh run record. run_id must be unique per run (it names the lock and the snapshot)."""
    if not isinstance(run_id, str) or not run_id.strip():
        raise ValueError("run_id must be a non-empty string, got %r" % (run_id,))
    if not isinstance(started, str) or not started:
        raise ValueError("started must be the run's start time as text, got %r" % (started,))
    return {
        "run_id": run_id,
        "started": started,
        "check_mode": flag(check_mode),
        # --limit as given (None without one): the report says the run was narrowed.
        "limit": limit or None,
        "phase": "start",
        "stop": None,
        "plan": [],
        "unknown": [],
        "detected": [],
        "snapshot": None,
        "lock": "not_taken",
        "in_progress": None,
        "hosts": {},
        # {host: {"paused": [timers the run stopped], "waited_s": seconds, "resumed": bool}}
        "apt_timers": {},
        # The maintenance window the run started in, as start judged it (None: no check,
        # as in check mode): the settings, the time judged and whether it was the clock.
        "window": None,
        # Earlier runs whose journal has no end (see run_journal.unfinished_run).
        "unfinished": [],
        # The nodes after the etcd members: their plan (remediation_plan.node_plan), what
        # each detected, their results, and the nodes whose step is under way (a batch).
        "node_plan": [],
        "node_detected": [],
        "nodes": {},
        "nodes_in_progress": [],
        # How many workers may fail before the run stops (etcd_kernel_node_max_fail_percentage
        # of the planned workers; a control-plane node's failure always stops it).
        "node_failures_allowed": 0,
    }


def _check_run(run: Any) -> None:
    if not isinstance(run, dict) or sorted(run) != sorted(_RUN_FIELDS):
        raise ValueError("expected the run record that run_new() made (etcd_kernel_run), got %r" % (run,))


def flag(value: Any) -> bool:
    # Ansible hands nested values over as text ("False", "true"); a report must not.
    if isinstance(value, str):
        return value.strip().lower() in ("true", "yes", "1", "on")
    return bool(value)


def _number(value: Any, key: str) -> float | None:
    if value in (None, "", "None"):
        return None
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        raise ValueError("%s must be a finite number, got %r" % (key, value))
    return number


def _typed_entry(kind: str, entry: Any, keys: tuple[str, ...], statuses: tuple[str, ...],
                 numbers: tuple[str, ...], flags: tuple[str, ...]) -> dict[str, Any]:
    """entry with every one of keys (None where it has none), its numbers as numbers and its
    flags as booleans; kind ("host" or "node") names it in the errors."""
    if not isinstance(entry, dict) or not entry.get("host"):
        raise ValueError("a %s result needs at least its host, got %r" % (kind, entry))
    unknown = sorted(set(entry) - set(keys))
    if unknown:
        raise ValueError("a %s result has unknown keys %s; known: %s" % (kind, ", ".join(unknown), ", ".join(keys)))
    typed = dict((key, None) for key in keys)
    typed.update(entry)
    if typed["status"] not in statuses:
        raise ValueError("%s status must be one of %s, got %r" % (kind, ", ".join(statuses), typed["status"]))
    for key in numbers:
        typed[key] = _number(typed[key], key)
    for key in flags:
        typed[key] = flag(typed[key])
    return typed


def typed_host_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """An etcd host's result, typed (see _typed_entry)."""
    return _typed_entry("host", entry, _HOST_KEYS, HOST_STATUSES, _NUMBER_KEYS, _FLAG_KEYS)


def typed_node_entry(entry: dict[str, Any]) -> dict[str, Any]:
    """A node's result, typed (see _typed_entry)."""
    return _typed_entry("node", entry, _NODE_KEYS, NODE_STATUSES, ("downtime_s", "reboot_at", "back_at"), ("verified",))


def _check_stop(stop: Any, phase: str) -> dict[str, str]:
    if not isinstance(stop, dict) or sorted(stop) != ["at", "reason"] or not stop["at"] or not stop["reason"]:
        raise ValueError("stop must be {'at': <host or phase>, 'reason': <text>}, got %r" % (stop,))
    # The phase it stopped in decides refused (before any disruption) or stopped.
    return {"at": str(stop["at"]), "reason": str(stop["reason"]).strip(), "phase": phase}


def run_update(run: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """The run with changes applied; the input is not modified.

    phase: only forward (start, preflight, rollout, finish).
    stop: {"at", "reason"}. The first stop is where the run stopped; a later one (for
        example a second host's refusal in the same preflight) adds its reason.
    host: one host's result (see typed_host_entry); it also ends in_progress for it.
    lock: one of LOCK_STATES. plan, unknown, detected: lists. snapshot, in_progress: text or None.
    apt_paused: {host: the apt_timers module's result there}: the timers it stopped (paused;
        hosts with none are left out) and how long it waited for a running upgrade (waited_s).
    apt_resumed: the hosts whose paused timers were started again.
    node_plan, node_detected: lists. node_started: a node whose step begins (a batch has
    several under way). node: one node's result (see typed_node_entry); it ends its step.
    """
    _check_run(run)
    unknown = sorted(set(changes) - set(_UPDATABLE))
    if unknown:
        raise ValueError("cannot change %s; changeable: %s" % (", ".join(unknown), ", ".join(_UPDATABLE)))
    updated = copy.deepcopy(run)
    for key, value in sorted(changes.items()):
        if key == "phase":
            if value not in PHASES:
                raise ValueError("phase must be one of %s, got %r" % (", ".join(PHASES), value))
            if PHASES.index(value) < PHASES.index(updated["phase"]):
                raise ValueError("the run is already in %s and cannot go back to %s" % (updated["phase"], value))
            updated["phase"] = value
        elif key == "stop":
            stop = _check_stop(value, updated["phase"])
            if updated["stop"] is None:
                updated["stop"] = stop
            elif stop["reason"] not in updated["stop"]["reason"]:
                updated["stop"]["reason"] += "; " + stop["reason"]
        elif key == "host":
            entry = typed_host_entry(value)
            updated["hosts"][entry["host"]] = entry
            if updated["in_progress"] == entry["host"]:
                updated["in_progress"] = None
        elif key == "lock":
            if value not in LOCK_STATES:
                raise ValueError("lock must be one of %s, got %r" % (", ".join(LOCK_STATES), value))
            updated["lock"] = value
        elif key == "apt_paused":
            for host, paused in _apt_paused(value).items():
                # Paused again after a reboot: the same timers, and the waits add up.
                earlier = updated["apt_timers"].get(host, {"paused": [], "waited_s": 0.0})
                updated["apt_timers"][host] = {
                    "paused": earlier["paused"] + [timer for timer in paused["paused"] if timer not in earlier["paused"]],
                    "waited_s": round(earlier["waited_s"] + paused["waited_s"], 1), "resumed": False}
        elif key == "apt_resumed":
            if not isinstance(value, (list, tuple)) or not set(value) <= set(updated["apt_timers"]):
                raise ValueError("apt_resumed must list hosts whose timers the run paused (%s), got %r"
                                 % (", ".join(sorted(updated["apt_timers"])) or "none", value))
            for host in value:
                updated["apt_timers"][host]["resumed"] = True
        elif key == "window":
            if not isinstance(value, dict) or sorted(value) != sorted(_WINDOW_KEYS):
                raise ValueError("window must be {%s}, got %r" % (", ".join(_WINDOW_KEYS), value))
            updated["window"] = dict(value, override=flag(value["override"]), inside=flag(value["inside"]))
        elif key == "node_started":
            if value not in [step["host"] for step in updated["node_plan"]]:
                raise ValueError("%r is not in the run's node plan" % (value,))
            if value not in updated["nodes_in_progress"]:
                updated["nodes_in_progress"].append(value)
        elif key == "node":
            entry = typed_node_entry(value)
            updated["nodes"][entry["host"]] = entry
            updated["nodes_in_progress"] = [host for host in updated["nodes_in_progress"] if host != entry["host"]]
        elif key == "node_failures_allowed":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError("node_failures_allowed must be a whole number, 0 or more, got %r" % (value,))
            updated[key] = value
        elif key in ("plan", "unknown", "detected", "node_plan", "node_detected"):
            if not isinstance(value, (list, tuple)):
                raise ValueError("%s must be a list, got %r" % (key, value))
            updated[key] = list(value)
        else:
            updated[key] = value or None
    return updated


def _apt_paused(value: Any) -> dict[str, dict[str, Any]]:
    if not isinstance(value, dict):
        raise ValueError("apt_paused must map hosts to their apt_timers result ({'paused': [...], 'waited_s': "
                         "seconds}), got %r" % (value,))
    paused = {}
    for host, result in value.items():
        timers = result.get("paused", []) if isinstance(result, dict) else None
        if not isinstance(timers, (list, tuple)):
            raise ValueError("apt_paused[%s] must be an apt_timers result ({'paused': [...], 'waited_s': seconds}), "
                             "got %r" % (host, result))
        if timers:
            paused[str(host)] = {"paused": [str(timer) for timer in timers],
                                 "waited_s": _number(result.get("waited_s"), "waited_s") or 0.0}
    return paused


def _unfinished_host(run: dict[str, Any]) -> str | None:
    """The first planned host without a read-back result, or None."""
    for step in run["plan"]:
        entry = run["hosts"].get(step["host"])
        if entry is None or entry["status"] == "failed" or not entry["verified"]:
            return step["host"]
    return None


def step_blocker(run: dict[str, Any], host: str) -> str | None:
    """Why host's step must not start, or None: the resume guard. The rollout goes on only
    while nothing has stopped it, no other step is under way, and every host planned before
    this one was read back (a host that left the play without a rescue has no result, and
    no later host may move then)."""
    _check_run(run)
    if run["check_mode"]:
        return "check mode plans only"
    if run["stop"] is not None:
        return "the run stopped at %s" % run["stop"]["at"]
    if run["in_progress"] is not None:
        return "the step of %s has not ended" % run["in_progress"]
    order = [step["host"] for step in run["plan"]]
    if host not in order:
        return "%s is not in the plan" % host
    earlier = _unfinished_host(dict(run, plan=run["plan"][:order.index(host)]))
    if earlier is not None:
        return "%s, planned before %s, has no read-back result" % (earlier, host)
    return None


def _unfinished_node(run: dict[str, Any], before_batch: int | None = None) -> str | None:
    """The first planned node (of the batches before before_batch, or of all) whose step has
    no end: no read-back result, and no failure recorded (a failure stops the run, or is one
    of the node_failures_allowed the run goes on past)."""
    for step in run["node_plan"]:
        if before_batch is not None and step["batch"] >= before_batch:
            break
        entry = run["nodes"].get(step["host"])
        if entry is None or (entry["status"] != "failed" and not entry["verified"]):
            return step["host"]
    return None


def failed_nodes(run: dict[str, Any]) -> list[str]:
    """The nodes whose step failed, in plan order."""
    return [step["host"] for step in run["node_plan"]
            if run["nodes"].get(step["host"], {}).get("status") == "failed"]


def node_failures_allowed(node_plan: list[dict[str, Any]], max_fail_percentage: Any) -> int:
    """How many workers of node_plan may fail before the run stops: max_fail_percentage of
    them, rounded down (0 stops at the first). Control-plane nodes never count."""
    percentage = float(max_fail_percentage)
    if not 0 <= percentage <= 100:
        raise ValueError("etcd_kernel_node_max_fail_percentage must be from 0 to 100, got %r" % (max_fail_percentage,))
    workers = [step for step in node_plan if step["role"] != "control_plane"]
    return int(math.floor(len(workers) * percentage / 100.0 + 1e-9))


def node_step_blocker(run: dict[str, Any], host: str) -> str | None:
    """Why a node's step must not start, or None: the worker phase's resume guard. A node
    goes only after every etcd member of the plan was read back, while nothing has stopped
    the run and the run holds its lock, and once every node of the batches before its own
    was read back (its own batch's nodes go side by side)."""
    _check_run(run)
    if run["check_mode"]:
        return "check mode plans only"
    if run["stop"] is not None:
        return "the run stopped at %s" % run["stop"]["at"]
    if run["in_progress"] is not None:
        return "the step of %s has not ended" % run["in_progress"]
    member = _unfinished_host(run)
    if member is not None:
        return "%s, an etcd member planned before the other nodes, has no read-back result" % member
    if run["lock"] not in _NODE_PHASE_LOCKS:
        return "the run holds no lock"
    steps = dict((step["host"], step) for step in run["node_plan"])
    if host not in steps:
        return "%s is not in the node plan" % host
    earlier = _unfinished_node(run, before_batch=steps[host]["batch"])
    if earlier is not None:
        return "%s, in a batch before that of %s, has no read-back result" % (earlier, host)
    return None


def node_phase_problems(run: dict[str, Any], host: str) -> list[dict[str, str]]:
    """Why the nodes' phase is refused as it begins, before any node is touched: it runs
    under the run's lock, which the etcd hosts' preflight takes. A --limit that leaves
    every etcd host out leaves the run without it."""
    _check_run(run)
    if run["check_mode"] or run["stop"] is not None or not run["node_plan"] or run["lock"] in _NODE_PHASE_LOCKS:
        return []
    return [{"check": "lock", "message": (
        "The run holds no lock, so no node is disrupted: the etcd hosts take it in their preflight, and none was in "
        "the run (a --limit without them). Run with the etcd group in --limit too, e.g. --limit 'etcd:%s' (the "
        "members already on a fixed kernel are left alone), or playbooks/remediate_nodes.yml for the nodes alone "
        "(with the etcd group in its --limit too: the budget's slots are kept in etcd). Nothing was changed." % host)}]


def lock_releaser(run: dict[str, Any], hosts: list[str]) -> str | None:
    """The host finish releases the run's lock and the nodes' slots from, or None when the run
    holds neither lock nor a nodes-only run's slots: any of the play's etcd hosts (hosts, the
    controller among them or not) will do, but not the one the run stopped at where another is
    left, since it may be the reason it stopped."""
    _check_run(run)
    if run["lock"] not in _NODE_PHASE_LOCKS:
        return None
    etcd_hosts = [host for host in hosts if host != "localhost"]
    stopped_at = (run["stop"] or {}).get("at")
    others = [host for host in etcd_hosts if host != stopped_at]
    return (others or etcd_hosts or [None])[0]


def decide_result(run: dict[str, Any]) -> tuple[str, dict[str, Any] | None]:
    """(result, stop) for a finished run; stop is {"at", "reason"} or None."""
    stop = run["stop"]
    if stop is not None:
        return ("refused" if stop["phase"] in ("start", "preflight") else "stopped"), stop
    if not run["plan"] and not run["node_plan"]:
        return "nothing_to_do", None
    if run["check_mode"]:
        return "planned", None
    unfinished = run["in_progress"] or _unfinished_host(run)
    if unfinished is None:
        unfinished = (run["nodes_in_progress"] or [None])[0] or _unfinished_node(run)
    if unfinished is not None:
        return "stopped", {"at": unfinished, "reason": (
            "%s has no read-back result: it became unreachable or the run was interrupted during "
            "its step (see the log above); no later host was touched" % unfinished)}
    failed = failed_nodes(run)
    if len(failed) > run["node_failures_allowed"]:
        # The fold stops the run at that failure; a record built otherwise is judged the same.
        host = failed[run["node_failures_allowed"]]
        return "stopped", {"at": host, "reason": run["nodes"][host]["reason"] or "%s failed its step" % host}
    if failed:
        return "partly_remediated", {"at": None, "reason": (
            "%d of the workers failed (%s; each node's reason is in its entry), within the %d that "
            "etcd_kernel_node_max_fail_percentage lets fail before the run stops: the run went on past them. "
            "Re-running the remediation takes them again, and skips the nodes already fixed."
            % (len(failed), ", ".join(failed), run["node_failures_allowed"]))}
    return "remediated", None


def _entry_for(run: dict[str, Any], detected: dict[str, Any], planned: dict[str, dict[str, Any]]) -> dict[str, Any]:
    name = detected["host"]
    if name in run["hosts"]:
        return dict(run["hosts"][name])
    entry = dict((key, None) for key in _HOST_KEYS)
    entry.update({"host": name, "kernel_before": detected.get("kernel"), "leader_transferred": False,
                  "fallback_used": False, "verified": False})
    if name in planned:
        entry["status"] = "planned" if run["check_mode"] else "not_started"
    else:
        # Hosts outside the plan keep their verdict: fixed, unaffected or unknown.
        entry["status"] = {"fixed": "already_fixed"}.get(detected.get("status"), detected.get("status"))
        entry["kernel_after"] = detected.get("kernel")
    return entry


def _node_entry_for(run: dict[str, Any], detected: dict[str, Any], planned: dict[str, dict[str, Any]]
                    ) -> dict[str, Any]:
    name = detected["host"]
    # A refused run disrupted nothing: its nodes keep their verdict, as its hosts do.
    refused = run["stop"] is not None and run["stop"]["phase"] in ("start", "preflight")
    step = None if refused else planned.get(name)
    if name in run["nodes"]:
        entry = dict(run["nodes"][name])
    else:
        entry = dict((key, None) for key in _NODE_KEYS)
        entry.update({"host": name, "role": detected.get("role"), "kernel_before": detected.get("kernel"),
                      "verified": False})
        if step is not None:
            entry["status"] = "planned" if run["check_mode"] else "not_started"
        else:
            entry["status"] = {"fixed": "already_fixed"}.get(detected.get("status"), detected.get("status"))
            entry["kernel_after"] = detected.get("kernel")
    entry.update((key, detected.get(key)) for key in HOST_IDENTITY)
    entry["batch"] = step["batch"] if step else None
    entry["order"] = step["order"] if step else None
    return entry


def run_report(run: dict[str, Any], finished: str) -> dict[str, Any]:
    """The run's report: result, where and why it stopped, the plan, one entry per host."""
    _check_run(run)
    result, stop = decide_result(run)
    planned = dict((step["host"], step) for step in run["plan"])
    hosts = []
    for detected in run["detected"]:
        entry = _entry_for(run, detected, planned)
        # Who the host is, in the detect report's words (HOST_IDENTITY): what it runs, as
        # preflight read it from the host (the inventory was checked against it).
        entry.update((key, detected.get(key)) for key in HOST_IDENTITY)
        entry["order"] = planned[entry["host"]]["order"] if entry["host"] in planned else None
        hosts.append(entry)
    # Plan order first (the order the run works in), then the hosts it had nothing to do on.
    hosts.sort(key=lambda entry: (entry["order"] is None, entry["order"] or 0, entry["host"]))
    node_steps = dict((step["host"], step) for step in run["node_plan"])
    nodes = [_node_entry_for(run, detected, node_steps) for detected in run["node_detected"]]
    nodes.sort(key=lambda entry: (entry["order"] is None, entry["order"] or 0, entry["host"]))
    report = {
        "result": result,
        "run_id": run["run_id"],
        "started": run["started"],
        "finished": finished,
        "wall_time_s": wall_time_s(run["started"], finished),
        "check_mode": run["check_mode"],
        "limit": run["limit"],
        "stopped_at": stop["at"] if stop else None,
        "reason": stop["reason"] if stop else None,
        "lock": run["lock"],
        "snapshot": run["snapshot"],
        "plan": list(run["plan"]),
        "unknown": list(run["unknown"]),
        # What the hosts' boot loaders may do instead of booting the target (kernel_status's boot_warnings).
        "warnings": [{"host": detected["host"], "warning": warning}
                     for detected in run["detected"] for warning in detected.get("boot_warnings") or []],
        # The apt timers (unattended-upgrades) the run stopped, per host, and whether it started them again.
        "apt_timers": [dict(run["apt_timers"][host], host=host) for host in sorted(run["apt_timers"])],
        # The maintenance window as start judged it; override: judged at etcd_kernel_maintenance_now's
        # time, not the clock's (the report must say when a run was let in that way).
        "window": run["window"],
        # Earlier runs that never finished (the controller died or was killed): their lock
        # may still be held until its lease lapses, and a member may have been left out.
        "unfinished_runs": list(run["unfinished"]),
        "hosts": hosts,
        # The nodes after the etcd members, in plan order (batch by batch), then the others.
        "node_plan": list(run["node_plan"]),
        "nodes": nodes,
    }
    report["summary"] = summary_line(report)
    return report


def wall_time_s(started: str, finished: str) -> int | None:
    """Seconds from started to finished (both as the report writes them), or None when
    either is in another form."""
    try:
        took = datetime.datetime.strptime(finished, TIME_FORMAT) - datetime.datetime.strptime(started, TIME_FORMAT)
    except (TypeError, ValueError):
        return None
    return int(took.total_seconds())


def summary_line(report: dict[str, Any]) -> str:
    """One sentence for a chat message or a job's description."""
    counts = {}
    for host in report["hosts"]:
        counts[host["status"]] = counts.get(host["status"], 0) + 1
    parts = ", ".join("%d %s" % (count, status) for status, count in sorted(counts.items()))
    text = "%s: %s" % (report["result"], parts or "no host checked")
    node_counts = {}
    for node in report.get("nodes") or []:
        node_counts[node["status"]] = node_counts.get(node["status"], 0) + 1
    if node_counts:
        text += "; other nodes: " + ", ".join("%d %s" % (count, status) for status, count in sorted(node_counts.items()))
    if report["limit"]:
        text += " (limited to %s)" % report["limit"]
    if report["stopped_at"]:
        reason = report["reason"]
        if len(reason) > SUMMARY_REASON_CHARS:
            reason = reason[:SUMMARY_REASON_CHARS].rstrip() + "... (see the report)"
        text += "; stopped at %s: %s" % (report["stopped_at"], reason)
    elif report["result"] == "partly_remediated":
        text += "; failed within etcd_kernel_node_max_fail_percentage: %s" % ", ".join(
            node["host"] for node in report["nodes"] if node["status"] == "failed")
    window = report.get("window")
    if window and window["override"]:
        text += " (maintenance window judged at %s, etcd_kernel_maintenance_now, not the clock)" % window["judged_at"]
    return text
