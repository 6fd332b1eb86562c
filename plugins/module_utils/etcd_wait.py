# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Waiting for etcd to reach a state, inside one module call.

A gate that polls with a task-level `until` pays an SSH round trip and a task per
look, so it notices a recovered member a second or more late. Polling here, a few
times a second, lets the rollout move on within a fraction of a second.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import time

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_decisions import disruption_check
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import (
    DEFAULT_MAX_INDEX_GAP,
    describe_problems,
    find_member,
    known_member_names,
)

# What a caller can wait for:
#   healthy         the whole cluster is healthy (etcd_health's cluster.healthy);
#   member_healthy  one member answers with a leader and the cluster is in sync;
#   disruptable     one member may be stopped now (every other member healthy and in sync).
CONDITIONS = ("healthy", "member_healthy", "disruptable")
MEMBER_CONDITIONS = ("member_healthy", "disruptable")
POLL_INTERVAL_S = 0.25
# A member counts as coming back while its applied index moved within this many
# seconds: etcd applies entries in batches, and a member receiving a snapshot or
# replaying its log answers status between them.
PROGRESS_WINDOW_S = 10.0

CONDITION_WORDS = {
    "healthy": "the etcd cluster is not healthy",
    "member_healthy": "{member} is not healthy and in sync",
    "disruptable": "{member} may not be disrupted",
}


def readiness(health, condition, member=None, max_index_gap=DEFAULT_MAX_INDEX_GAP, allow_sole_member=False):
    """(ready, reasons): whether health meets condition, and what is missing if not."""
    if condition not in CONDITIONS:
        raise ValueError("unknown condition %r; expected one of %s" % (condition, ", ".join(CONDITIONS)))
    if condition == "healthy":
        return health["cluster"]["healthy"], describe_problems(health)
    if not known_member_names(health):
        # No endpoint answered, so the membership is unknown: not ready yet.
        return False, describe_problems(health) or ["no etcd endpoint answered"]
    if condition == "disruptable":
        verdict = disruption_check(health, member, max_index_gap, allow_sole_member)
        return verdict["safe"], verdict["reasons"]
    # member_healthy
    state = find_member(health, member)
    reasons = []
    if not state["healthy"]:
        reasons.append("%s: %s" % (member, "; ".join(state["errors"]) or "unhealthy"))
    if not health["cluster"]["in_sync"]:
        reasons.append("members are %s raft entries apart (allowed %d)"
                       % (health["cluster"]["max_index_gap"], max_index_gap))
    return not reasons, reasons


def member_progress(member):
    """progress(before, after) for wait_until: member answered both looks and applied more
    entries in the second, so it is catching up (a snapshot from the leader, its log)."""
    def applied(health):
        state = next((m for m in health["members"] if m.get("name") == member), None)
        return None if state is None else state.get("applied_index")

    def progress(before, after):
        earlier, later = applied(before), applied(after)
        return earlier is not None and later is not None and later > earlier
    return progress


def _check_seconds(name, value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
        # NaN compares false with everything: the loop below would never end.
        raise ValueError("%s must be a finite number of seconds, 0 or more, got %r" % (name, value))


def wait_until(collect, check, timeout, interval=POLL_INTERVAL_S, clock=time.monotonic, sleep=time.sleep,
               progress=None, progress_timeout=0):
    """Call collect() until check(its result) is ready or timeout seconds pass.

    check returns (ready, reasons). Errors from collect or check (TLS, an unknown
    member) are raised at once, since waiting cannot fix them. With progress
    (progress(previous look, this look) -> bool) and progress_timeout, a wait that
    reaches timeout goes on while progress was seen in the last PROGRESS_WINDOW_S,
    up to progress_timeout seconds more: a member visibly coming back is not given up on.
    Returns {"health", "ready", "reasons", "waited_s", "kept_waiting_s"} from the last
    look; kept_waiting_s is how far past timeout the wait went for a member's progress
    (0 when none was seen: a last look that answered late on a busy machine is no catching up).
    """
    _check_seconds("wait_timeout", timeout)
    _check_seconds("progress_timeout", progress_timeout)
    started = clock()
    previous, progressed_at, extended = None, None, False
    while True:
        health = collect()
        ready, reasons = check(health)
        waited = clock() - started
        if progress is not None and previous is not None and progress(previous, health):
            progressed_at = waited
        previous = health
        limit = timeout
        if progressed_at is not None and waited - progressed_at <= PROGRESS_WINDOW_S:
            limit = timeout + progress_timeout
            extended = True
        if ready or waited + interval > limit:
            return {"health": health, "ready": ready, "reasons": reasons, "waited_s": round(waited, 2),
                    "kept_waiting_s": round(max(0.0, waited - timeout), 2) if extended else 0.0}
        sleep(interval)


def timeout_message(condition, member, waited_s, wait_timeout, reasons, kept_waiting_s=0):
    """The failure message when the wait gave up."""
    kept = (", %.1fs of them past it while the member was catching up" % kept_waiting_s) if kept_waiting_s else ""
    return "%s after waiting %.1fs (wait_timeout %gs%s): %s" % (
        CONDITION_WORDS[condition].format(member=member), waited_s, wait_timeout, kept,
        "; ".join(reasons) or "no reason given")
