# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What the etcd modules do to a cluster, through a backend client: ask every
member at once (collect_health, collect_metrics) and move leadership
(transfer_leadership).

They do their I/O only through open_client(endpoint) -> client, so both backends
give the same result and the orchestration is tested once. A backend client has
these methods, all returning normalized data (ids as 16-digit lower-case hex
strings, 64-bit integers as int):
  member_list() -> {"responder_id": hex, "members": [{"id", "name" (None when the
                   member never started), "peer_urls", "client_urls"}]}
  status()      -> {"responder_id", "version", "db_size", "leader_id" (None for no
                   leader), "raft_index", "raft_term", "applied_index", "errors"}
  alarms()      -> [{"member_id": hex, "alarm": "NOSPACE"}]
  metrics()     -> etcd_metrics.parse_etcd_metrics() of the member's /metrics
  move_leader(target_id, timeout=None)   (must be called on the leader)
  close()

Python 3.8, standard library only: modules run this on managed nodes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import threading
import time

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_decisions import (
    choose_successor,
    highest_raft_index,
    index_gap,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import (
    EtcdClientUnavailable,
    EtcdConfigError,
    EtcdError,
    EtcdTimeoutError,
    EtcdTLSError,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import (
    DEFAULT_MAX_INDEX_GAP,
    build_health,
    describe_problems,
    find_member,
)

DEFAULT_TIMEOUT = 1.0
# run_parallel() waits this much longer than the per-request timeout for its
# worker threads, so a request that hangs below the socket layer is still
# reported as a timeout and never holds the whole check.
THREAD_GRACE_SECONDS = 0.25
LEADER_POLL_INTERVAL = 0.2
# collect_health's key for the local status call (no endpoint URL can be this).
_LOCAL = object()


def _call_with_client(open_client, endpoint, method, *args):
    client = open_client(endpoint)
    try:
        return getattr(client, method)(*args)
    finally:
        client.close()


def run_parallel(calls, timeout):
    """Run {key: zero-argument callable} in threads; {key: (result, EtcdError or None)}.

    Every call ends within timeout + grace: a call still running then is
    reported as a timeout and left behind in its daemon thread. Config errors
    are re-raised, since every call would hit them.
    """
    results = {}
    lock = threading.Lock()

    def worker(key, call):
        try:
            outcome = (call(), None)
        except EtcdError as error:
            outcome = (None, error)
        except Exception as error:  # a backend bug must still end as a readable message
            outcome = (None, EtcdError("unexpected %s: %s" % (type(error).__name__, error)))
        with lock:
            results[key] = outcome

    threads = []
    for key, call in calls.items():
        thread = threading.Thread(target=worker, args=(key, call), daemon=True)
        thread.start()
        threads.append(thread)
    deadline = time.monotonic() + timeout + THREAD_GRACE_SECONDS
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    with lock:
        finished = dict(results)
    for key in calls:
        if key not in finished:
            finished[key] = (None, EtcdTimeoutError("no answer within %.1f s (timeout)" % timeout))
        error = finished[key][1]
        if isinstance(error, (EtcdConfigError, EtcdClientUnavailable)):
            raise error
    return finished


def _same_url(left, right):
    return left.rstrip("/").lower() == right.rstrip("/").lower()


def collect_health(open_client, endpoints, timeout=DEFAULT_TIMEOUT, max_index_gap=DEFAULT_MAX_INDEX_GAP,
                   local_endpoint=None):
    """Ask the cluster about itself; the normalized result (see etcd_health_result.build_health).

    1. member/list on every given endpoint at once; the first endpoint (in the
       given order) that answers provides the membership. With local_endpoint (the
       host's own loopback client URL), its status is asked at the same time, and
       "local" in the result names the member that answered there (see local_member).
    2. status on every member's first client URL, and the alarm list from that
       endpoint, at once. An endpoint that already failed in step 1 is not asked
       again, so a frozen member costs one timeout, not two.
    Raises EtcdTLSError when no endpoint answers and one of them failed TLS (most
    likely a configuration problem, not a cluster state), EtcdConfigError for
    bad options.
    """
    if not endpoints:
        raise EtcdConfigError("endpoints is empty: give at least one client URL, e.g. https://127.0.0.1:2379")
    endpoints = list(endpoints)
    calls = {endpoint: (lambda e=endpoint: _call_with_client(open_client, e, "member_list")) for endpoint in endpoints}
    if local_endpoint:
        calls[_LOCAL] = lambda: _call_with_client(open_client, local_endpoint, "status")
    listings = run_parallel(calls, timeout)
    local_answer = listings.pop(_LOCAL, None)
    health = _collect_statuses(open_client, endpoints, listings, timeout, max_index_gap)
    if local_endpoint:
        health["local"] = local_member(health, local_endpoint, *local_answer)
    return health


def local_member(health, endpoint, status, error):
    """{"endpoint", "id", "name", "version", "error"}: the member that answered status on
    the host's own loopback URL (name None when the membership does not list its id),
    or the error when it did not answer."""
    if error is not None:
        return {"endpoint": endpoint, "id": None, "name": None, "version": None, "error": str(error)}
    member_id = status["responder_id"]
    name = next((member["name"] for member in health["members"] if member["id"] == member_id), None)
    return {"endpoint": endpoint, "id": member_id, "name": name, "version": status.get("version"), "error": ""}


def _collect_statuses(open_client, endpoints, listings, timeout, max_index_gap):
    """Step 2 of collect_health, from the member/list answers of step 1."""
    failures = {endpoint: str(error) for endpoint, (_, error) in listings.items() if error is not None}
    source = next((endpoint for endpoint in endpoints if listings[endpoint][1] is None), None)
    if source is None:
        tls_errors = [listings[e][1] for e in endpoints if isinstance(listings[e][1], EtcdTLSError)]
        if tls_errors:
            raise tls_errors[0]
        return build_health([], {}, [], failures, max_index_gap)

    members = listings[source][0]["members"]
    answered_ids = {listings[e][0]["responder_id"] for e in endpoints if listings[e][1] is None}
    client_urls = [url for member in members for url in member["client_urls"]]
    unmatched = {endpoint: "%s did not answer (%s) and is not a client URL of any member listed by %s"
                           % (endpoint, message, source)
                 for endpoint, message in failures.items()
                 if not any(_same_url(endpoint, url) for url in client_urls)}

    calls = {"alarms": lambda: _call_with_client(open_client, source, "alarms")}
    statuses = {}
    for member in members:
        if not member["client_urls"]:
            continue
        url = member["client_urls"][0]
        earlier_failure = next((message for endpoint, message in failures.items() if _same_url(endpoint, url)), None)
        if earlier_failure is not None and member["id"] not in answered_ids:
            statuses[member["id"]] = earlier_failure
        else:
            calls[member["id"]] = (lambda u=url: _call_with_client(open_client, u, "status"))
    answers = run_parallel(calls, timeout)
    alarms, alarm_error = answers.pop("alarms")
    # Without quorum the alarm request (a raft request in 3.4) fails; the
    # statuses still carry every alarm the member knows of.
    alarms = alarms if alarm_error is None else []
    for member_id, (status, error) in answers.items():
        statuses[member_id] = status if error is None else str(error)
    return build_health(members, statuses, alarms, unmatched, max_index_gap)


def collect_metrics(open_client, health, timeout=DEFAULT_TIMEOUT):
    """Add each member's etcd counters to health, in place, and return it.

    Every member with an id and a client URL is asked at once. A member that
    answers gets "metrics" (etcd_metrics.parse_etcd_metrics()); one that does
    not gets "metrics_error" instead. Metrics only add evidence, so no failure
    here is raised: the health result stays what it was.
    """
    asked = [member for member in health["members"] if member["id"] and member["endpoint"]]
    calls = {member["id"]: (lambda e=member["endpoint"]: _call_with_client(open_client, e, "metrics"))
             for member in asked}
    try:
        answers = run_parallel(calls, timeout)
    except EtcdError as error:  # a backend that cannot read metrics at all
        answers = {member_id: (None, error) for member_id in calls}
    for member in asked:
        metrics, error = answers[member["id"]]
        if error is None:
            member["metrics"] = metrics
        else:
            member["metrics_error"] = str(error)
    return health


def _leader_seen_by(open_client, endpoint):
    return _call_with_client(open_client, endpoint, "status").get("leader_id")


def transfer_leadership(open_client, endpoints, target=None, away_from=None, check_mode=False,
                        timeout=DEFAULT_TIMEOUT, confirm_timeout=10.0, max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """Move leadership to member `target`, or away from member `away_from` if it leads.

    Returns {"changed", "previous_leader", "leader", "msg"}. In check
    mode nothing moves and "leader" is the member that would lead. Raises
    ValueError for unknown names, EtcdError when the move is unsafe or fails.
    """
    if (target is None) == (away_from is None):
        raise ValueError("give exactly one of target and away_from")
    health = collect_health(open_client, endpoints, timeout, max_index_gap)
    wanted = target if target is not None else away_from
    find_member(health, wanted)
    cluster = health["cluster"]
    leader_name = cluster["leader_name"]
    if leader_name is None:
        raise EtcdError("the cluster has no agreed leader, so leadership cannot be moved safely: %s"
                        % "; ".join(describe_problems(health)))

    def unchanged(msg):
        return {"changed": False, "previous_leader": leader_name, "leader": leader_name, "msg": msg}

    if target is not None:
        if leader_name == target:
            return unchanged("%s already leads" % target)
        new_leader = find_member(health, target)
        gap = index_gap(new_leader, highest_raft_index(health))
        if not new_leader["healthy"] or gap is None or gap > max_index_gap:
            raise EtcdError("%s cannot take over leadership: it is not healthy and in sync (%s)"
                            % (target, "; ".join(new_leader["errors"]) or "%s entries behind" % gap))
    else:
        if leader_name != away_from:
            return unchanged("%s does not lead (%s does)" % (away_from, leader_name))
        if len(health["members"]) == 1:
            return unchanged("%s is the only member: there is no one to hand leadership to" % away_from)
        successor = choose_successor(health, away_from, max_index_gap)
        if successor is None:
            raise EtcdError("no healthy, in-sync follower can take over leadership from %s: %s"
                            % (away_from, "; ".join(describe_problems(health)) or "no other member"))
        new_leader = find_member(health, successor)

    result = {"changed": True, "previous_leader": leader_name, "leader": new_leader["name"]}
    if check_mode:
        result["msg"] = "would move leadership from %s to %s" % (leader_name, new_leader["name"])
        return result

    leader = find_member(health, leader_name)
    # MoveLeader returns once the transfer is done; give it the whole confirm time.
    _call_with_client(open_client, leader["endpoint"], "move_leader", new_leader["id"], confirm_timeout)
    deadline = time.monotonic() + confirm_timeout
    seen = None
    while True:
        try:
            seen = _leader_seen_by(open_client, new_leader["endpoint"])
        except EtcdError as error:
            seen = "unknown (%s)" % error
        if seen == new_leader["id"]:
            break
        if time.monotonic() >= deadline:
            raise EtcdError("leadership did not move from %s to %s within %.1f s (confirm_timeout); "
                            "%s reports leader %s" % (leader_name, new_leader["name"], confirm_timeout,
                                                      new_leader["name"], seen))
        time.sleep(LEADER_POLL_INTERVAL)
    result["msg"] = "moved leadership from %s to %s" % (leader_name, new_leader["name"])
    return result
