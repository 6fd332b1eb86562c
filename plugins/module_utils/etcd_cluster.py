# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""etcd cluster health: one normalized result, and the decisions made from it.

Python 3.8, standard library only: the etcd_health and etcd_leader modules run
this on managed nodes, and the filters run it on the controller.

The module has three parts:
  * errors shared by both backends (etcd_gateway, etcd_pyclient);
  * pure functions: build_health() turns per-member raw observations into the
    normalized result, and disruption_check(), remediation_order(),
    choose_successor() and classify_symptoms() decide from it;
  * collect_health() and transfer_leadership(), which do their I/O only through a
    backend client passed in (open_client(endpoint) -> client), so both backends
    give the same result and the orchestration is tested once.

A backend client has these methods, all returning normalized data (ids as
16-digit lower-case hex strings, 64-bit integers as int):
  member_list() -> {"responder_id": hex, "members": [{"id", "name" (None when the
                   member never started), "peer_urls", "client_urls"}]}
  status()      -> {"responder_id", "version", "db_size", "leader_id" (None for no
                   leader), "raft_index", "raft_term", "applied_index", "errors"}
  alarms()      -> [{"member_id": hex, "alarm": "NOSPACE"}]
  move_leader(target_id, timeout=None)   (must be called on the leader)
  close()
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re
import threading
import time

DEFAULT_TIMEOUT = 1.0
# etcd keeps 5000 entries after a snapshot for slow followers
# (--snapshot-catchup-entries); a follower within 1000 is receiving appends
# normally, even under a steady write load, while one thousands behind is still
# catching up and must not be counted on for quorum yet.
DEFAULT_MAX_INDEX_GAP = 1000
# collect_health() waits this much longer than the per-request timeout for its
# worker threads, so a request that hangs below the socket layer is still
# reported as a timeout and never holds the whole check.
THREAD_GRACE_SECONDS = 0.25
LEADER_POLL_INTERVAL = 0.2

# etcd 3.4 adds every active alarm to each member's status errors as the text
# form of its AlarmMember message, e.g. "memberID:7604965497571432693 alarm:NOSPACE ".
_ALARM_IN_STATUS_ERROR = re.compile(r"memberID:\s*(\d+)\s+alarm:\s*([A-Z_]+)")
# etcd's AlarmType enum (3.4); the gRPC backend receives the numbers.
ALARM_NAMES = {0: "NONE", 1: "NOSPACE", 2: "CORRUPT"}


# --------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------
class EtcdError(Exception):
    """Any failure talking to etcd; the message says what to fix."""


class EtcdConfigError(EtcdError):
    """Bad options (a missing certificate file, a malformed endpoint): fix the input."""


class EtcdConnectionError(EtcdError):
    """Nothing answered at the endpoint (refused, unreachable, reset)."""


class EtcdTimeoutError(EtcdConnectionError):
    """The endpoint did not answer within the timeout (stopped, frozen, partitioned)."""


class EtcdTLSError(EtcdError):
    """The TLS handshake failed: wrong CA, rejected client certificate, name mismatch."""


class EtcdRequestError(EtcdError):
    """etcd answered with an error (e.g. 'etcdserver: not leader')."""


class EtcdClientUnavailable(EtcdError):
    """The chosen backend's library is not installed."""


# Failures both backends report, worded once so the result reads the same whatever the backend.
def timeout_error(endpoint, operation, timeout):
    return EtcdTimeoutError("no answer from %s (%s) within %.1f s (timeout): the member may be stopped, "
                            "frozen or cut off" % (endpoint, operation, timeout))


def refused_error(endpoint, operation):
    return EtcdConnectionError("connection refused by %s (%s): is etcd running and listening there?"
                               % (endpoint, operation))


def ca_verify_error(endpoint, operation, detail, ca_file):
    return EtcdTLSError("TLS: certificate verify failed for %s (%s: %s): check ca_file %s is the CA that "
                        "signed etcd's server certificate" % (endpoint, operation, detail, ca_file))


def hostname_mismatch_error(endpoint, operation, detail):
    return EtcdTLSError("TLS: etcd's server certificate at %s (%s) does not name the endpoint's host (%s): use "
                        "an endpoint whose host name or IP address is in the certificate"
                        % (endpoint, operation, detail))


def client_cert_rejected_error(endpoint, operation, detail, cert_file):
    if cert_file is None:
        return EtcdTLSError("TLS: %s (%s) requires a client certificate and none was given (%s): set "
                            "cert_file and key_file" % (endpoint, operation, detail))
    return EtcdTLSError("TLS: %s (%s) did not accept the client certificate %s (%s): cert_file must be a "
                        "client certificate signed by etcd's CA" % (endpoint, operation, cert_file, detail))


# --------------------------------------------------------------------------
# Ids
# --------------------------------------------------------------------------
def format_member_id(number):
    """An etcd member id (an int, or the decimal string the gateway sends) as etcdctl prints it."""
    return "%016x" % int(number)


def parse_member_id(hex_id):
    """A member id from our results (16 hex digits) as the number etcd's requests want."""
    text = str(hex_id).strip()
    if not re.match(r"^[0-9a-fA-F]{1,16}$", text):
        raise ValueError("member id must be up to 16 hex digits as etcdctl prints it, got %r" % (hex_id,))
    return int(text, 16)


def alarms_from_status_errors(errors):
    """Split a status's errors into (alarms [{member_id, alarm}], other errors)."""
    alarms = []
    others = []
    for error in errors or []:
        match = _ALARM_IN_STATUS_ERROR.search(error)
        if match:
            alarms.append({"member_id": format_member_id(match.group(1)), "alarm": match.group(2)})
        else:
            others.append(error.strip())
    return alarms, others


# --------------------------------------------------------------------------
# The normalized result
# --------------------------------------------------------------------------
def _member_sort_key(member):
    # Members that never started have no name: after the named ones, by id.
    return (member["name"] is None, member["name"] or "", member["id"] or "", member["endpoint"] or "")


def build_health(members, statuses, alarms=None, unmatched_endpoints=None,
                 max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """The normalized health result from raw observations.

    members: member_list()["members"] (normalized, see the module docstring).
    statuses: {member id: status() dict or an error message (str)}; a member
        missing here was not queried (it has no client URL).
    alarms: alarms() from any member, [{member_id, alarm}]; alarms found in the
        statuses' errors are added, so a failed alarm request loses nothing.
    unmatched_endpoints: {endpoint: error message} for endpoints that did not
        answer and are not a client URL of any listed member; they count as
        unhealthy members with neither name nor id.
    """
    alarm_set = set()
    for alarm in alarms or []:
        alarm_set.add((alarm["member_id"], alarm["alarm"]))

    entries = []
    for member in members:
        member_id = member["id"]
        client_urls = member.get("client_urls") or []
        entry = {
            "name": member.get("name") or None,
            "id": member_id,
            "endpoint": client_urls[0] if client_urls else None,
            "healthy": False,
            "is_leader": False,
            "leader_id": None,
            "raft_term": None,
            "raft_index": None,
            "applied_index": None,
            "db_size": None,
            "version": None,
            "errors": [],
            "alarms": [],
        }
        status = statuses.get(member_id)
        if status is None:
            entry["errors"].append("member has not started: it has no name and no client URL yet")
        elif isinstance(status, str):
            entry["errors"].append(status)
        else:
            status_alarms, other_errors = alarms_from_status_errors(status.get("errors"))
            for alarm in status_alarms:
                alarm_set.add((alarm["member_id"], alarm["alarm"]))
            leader_id = status.get("leader_id")
            entry.update({
                "leader_id": leader_id,
                "is_leader": leader_id is not None and leader_id == member_id,
                "raft_term": status.get("raft_term"),
                "raft_index": status.get("raft_index"),
                "applied_index": status.get("applied_index"),
                "db_size": status.get("db_size"),
                "version": status.get("version"),
                "errors": other_errors,
            })
            if status.get("responder_id") not in (None, member_id):
                entry["errors"].append("%s answered as member %s, not %s: check the member's client URLs"
                                       % (entry["endpoint"], status["responder_id"], member_id))
            if leader_id is None and not any("no leader" in error for error in other_errors):
                entry["errors"].append("member reports no leader")
            entry["healthy"] = leader_id is not None and not entry["errors"]
        entries.append(entry)

    for endpoint, message in sorted((unmatched_endpoints or {}).items()):
        entries.append({
            "name": None, "id": None, "endpoint": endpoint, "healthy": False, "is_leader": False,
            "leader_id": None, "raft_term": None, "raft_index": None, "applied_index": None,
            "db_size": None, "version": None, "errors": [message], "alarms": [],
        })

    names_by_id = {entry["id"]: entry["name"] for entry in entries if entry["id"]}
    for entry in entries:
        entry["alarms"] = sorted(alarm for member_id, alarm in alarm_set if member_id == entry["id"])
    entries.sort(key=_member_sort_key)

    cluster_alarms = sorted(
        ({"member": names_by_id.get(member_id) or member_id, "alarm": alarm} for member_id, alarm in alarm_set),
        key=lambda item: (item["member"], item["alarm"]),
    )
    return {"members": entries, "cluster": summarize_cluster(entries, cluster_alarms, max_index_gap)}


def summarize_cluster(members, alarms, max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """The `cluster` part of the result from the `members` part."""
    healthy = [member for member in members if member["healthy"]]
    member_count = len(members)
    reported_leaders = {member["leader_id"] for member in healthy}
    leaders_agree = bool(healthy) and len(reported_leaders) == 1 and None not in reported_leaders
    leader_id = reported_leaders.pop() if leaders_agree else None
    leader_name = next((member["name"] for member in members if leader_id and member["id"] == leader_id), None)
    quorum = member_count > 0 and len(healthy) >= member_count // 2 + 1 and leaders_agree
    indexes = [member["raft_index"] for member in healthy if member["raft_index"] is not None]
    observed_gap = (max(indexes) - min(indexes)) if indexes else None
    in_sync = observed_gap is not None and observed_gap <= max_index_gap
    return {
        "member_count": member_count,
        "healthy_count": len(healthy),
        "leader_id": leader_id,
        "leader_name": leader_name,
        "leaders_agree": leaders_agree,
        "quorum": quorum,
        "in_sync": in_sync,
        "max_index_gap": observed_gap,
        "alarms": alarms,
        "healthy": member_count > 0 and len(healthy) == member_count and quorum and in_sync and not alarms,
    }


def describe_problems(health):
    """One line per unhealthy member or cluster-wide problem, for failure messages."""
    problems = []
    for member in health["members"]:
        if not member["healthy"]:
            problems.append("%s: %s" % (_label(member), "; ".join(member["errors"]) or "unhealthy"))
    cluster = health["cluster"]
    for alarm in cluster["alarms"]:
        problems.append("alarm %s on %s" % (alarm["alarm"], alarm["member"]))
    if cluster["healthy_count"] and not cluster["leaders_agree"]:
        problems.append("healthy members do not agree on a leader")
    if cluster["max_index_gap"] is not None and not cluster["in_sync"]:
        problems.append("members are %d raft entries apart" % cluster["max_index_gap"])
    if not cluster["quorum"]:
        problems.append("no quorum: %d of %d members healthy"
                        % (cluster["healthy_count"], cluster["member_count"]))
    return problems


def _label(member):
    return member["name"] or member["id"] or member["endpoint"]


# --------------------------------------------------------------------------
# Decisions
# --------------------------------------------------------------------------
_MEMBER_KEYS_USED = ("name", "id", "healthy", "is_leader", "leader_id", "raft_index", "errors")


def _check_health_shape(health):
    if not isinstance(health, dict) or not isinstance(health.get("members"), list) \
            or not isinstance(health.get("cluster"), dict):
        raise ValueError("health must be the etcd_health result (a dict with 'members' and 'cluster')")
    if not isinstance(health["cluster"].get("alarms"), list):
        raise ValueError("health['cluster'] has no 'alarms' list: pass the etcd_health result unchanged")
    for member in health["members"]:
        missing = [key for key in _MEMBER_KEYS_USED if not isinstance(member, dict) or key not in member]
        if missing:
            raise ValueError("health['members'] entry %r lacks %s: pass the etcd_health result unchanged"
                             % (member, ", ".join(missing)))


def known_member_names(health):
    return sorted(member["name"] for member in health["members"] if member["name"])


def find_member(health, name):
    """The member entry called name; ValueError listing the known names otherwise."""
    for member in health["members"]:
        if member["name"] is not None and member["name"] == name:
            return member
    raise ValueError("unknown etcd member %r; known members: %s"
                     % (name, ", ".join(known_member_names(health)) or "none"))


def _index_gap(member, highest_index):
    if member["raft_index"] is None or highest_index is None:
        return None
    return highest_index - member["raft_index"]


def disruption_check(health, member_name, max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """May member_name be stopped now? {"safe": bool, "reasons": [str]}.

    The kit's invariant is stricter than quorum arithmetic: every OTHER member
    must be healthy and in sync, with no alarms, and the others alone must hold
    quorum. So a one-member cluster is never safe, and a five-member cluster
    needs all four others. The member itself may be unhealthy (it is often the
    one being repaired).
    """
    _check_health_shape(health)
    if not isinstance(max_index_gap, int) or isinstance(max_index_gap, bool) or max_index_gap < 0:
        raise ValueError("max_index_gap must be a non-negative integer, got %r" % (max_index_gap,))
    member = find_member(health, member_name)
    others = [other for other in health["members"] if other is not member]
    reasons = []

    highest_index = max((m["raft_index"] for m in health["members"]
                         if m["healthy"] and m["raft_index"] is not None), default=None)
    for other in others:
        if not other["healthy"]:
            reasons.append("%s is unhealthy: %s" % (_label(other), "; ".join(other["errors"]) or "unknown"))
            continue
        gap = _index_gap(other, highest_index)
        if gap is None or gap > max_index_gap:
            reasons.append("%s is not in sync: %s raft entries behind (allowed %d)"
                           % (_label(other), "unknown" if gap is None else gap, max_index_gap))

    healthy_leaders = {other["leader_id"] for other in others if other["healthy"]}
    if len(healthy_leaders) > 1:
        reasons.append("the other members do not agree on a leader")

    for alarm in health["cluster"]["alarms"]:
        reasons.append("alarm %s is active on %s" % (alarm["alarm"], alarm["member"]))

    member_count = len(health["members"])
    needed = member_count // 2 + 1
    remaining = sum(1 for other in others if other["healthy"])
    if remaining < needed:
        reasons.append("without %s, %d of %d members would be healthy; quorum needs %d"
                       % (member_name, remaining, member_count, needed))
    return {"safe": not reasons, "reasons": reasons}


def remediation_order(hosts, health, member_names):
    """The order to work on hosts: unhealthy members first, then healthy followers, the leader last.

    hosts: inventory hostnames, in the order the inventory gives them (kept
    within each group). member_names: {host: etcd member name}.
    """
    _check_health_shape(health)
    if not isinstance(hosts, (list, tuple)):
        raise ValueError("hosts must be a list of inventory hostnames, got %s" % type(hosts).__name__)
    if not isinstance(member_names, dict):
        raise ValueError("member_names must map inventory hosts to etcd member names, got %s"
                         % type(member_names).__name__)
    unhealthy, followers, leaders = [], [], []
    for host in hosts:
        if host not in member_names:
            raise ValueError("host %r has no etcd member name in member_names" % (host,))
        member = find_member(health, member_names[host])
        if not member["healthy"]:
            unhealthy.append(host)
        elif member["is_leader"]:
            leaders.append(host)
        else:
            followers.append(host)
    return unhealthy + followers + leaders


def choose_successor(health, leaving_name, max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """The member to hand leadership to when leaving_name leads: the healthy,
    in-sync follower with the highest raft index (ties broken by name), or None."""
    _check_health_shape(health)
    find_member(health, leaving_name)
    healthy = [m for m in health["members"] if m["healthy"] and m["raft_index"] is not None]
    highest_index = max((m["raft_index"] for m in healthy), default=None)
    candidates = [m for m in healthy
                  if m["name"] and m["name"] != leaving_name and not m["is_leader"]
                  and _index_gap(m, highest_index) <= max_index_gap]
    if not candidates:
        return None
    candidates.sort(key=lambda m: (-m["raft_index"], m["name"]))
    return candidates[0]["name"]


# --------------------------------------------------------------------------
# Symptoms of the epoll bug in etcd's own log
# --------------------------------------------------------------------------
# A healthy cluster changes leader a handful of times a year; the seed incident
# changed it every 20-30 minutes, i.e. two to three times an hour.
SYMPTOM_LEADER_CHANGES_PER_HOUR = 2.0
# rafthttp logs a failed peer probe or a broken stream every few seconds while a
# peer is stuck; ten an hour is a stuck peer, not one dropped packet.
SYMPTOM_PEER_TIMEOUTS_PER_HOUR = 10.0
SYMPTOM_TLS_TIMEOUTS_PER_HOUR = 10.0
EVIDENCE_LINES = 5

_TLS_HANDSHAKE_TIMEOUT = re.compile(r"tls handshake timeout|handshake error.*i/o timeout|"
                                    r"handshake.*(deadline exceeded|timed out)", re.IGNORECASE)
_PEER_IO_TIMEOUT = re.compile(r"i/o timeout", re.IGNORECASE)
# rafthttp lines about peers (capnslog and zap formats of etcd 3.4).
_PEER_CONTEXT = re.compile(r"rafthttp|peer|prober|stream msgapp|stream message", re.IGNORECASE)
_LEADER_ELECTED = re.compile(r"elected leader|changed leader|leader changed", re.IGNORECASE)
_LEADER_LOST = re.compile(r"lost leader", re.IGNORECASE)
# A line about failing to reach a peer, and the peer it names (capnslog and zap forms):
#   rafthttp: health check for peer e6410efdc5601397 could not connect: ...
#   rafthttp: failed to read e6410efdc5601397 on stream MsgApp v2 (... i/o timeout)
#   {"msg":"prober detected unhealthy status",...,"remote-peer-id":"5a84b05ae0d2e8fb",...}
_PEER_UNREACHABLE = re.compile(
    r"health check for peer|prober detected unhealthy|lost (?:the )?TCP streaming connection|"
    r"failed to (?:read|dial|write|heartbeat)|became inactive", re.IGNORECASE)
_REMOTE_PEER_ID = re.compile(
    r'(?:remote-peer-id"\s*:\s*"|for peer |with peer |failed to (?:read|dial|write|heartbeat) |peer )([0-9a-f]{16})\b')


def classify_symptoms(log_lines, leader_changes=None, window_hours=1.0):
    """Count the seed incident's symptoms in etcd log lines.

    log_lines: etcd's log (a list of lines or one string) covering window_hours.
    leader_changes: a better count of leader changes in the window when known
        (e.g. the delta of etcd_server_leader_changes_seen_total); otherwise the
        elections seen in the log are used.
    symptomatic: leader changes per hour >= SYMPTOM_LEADER_CHANGES_PER_HOUR, or
        peer i/o timeouts per hour >= SYMPTOM_PEER_TIMEOUTS_PER_HOUR, or TLS
        handshake timeouts per hour >= SYMPTOM_TLS_TIMEOUTS_PER_HOUR.
    """
    if isinstance(log_lines, str):
        log_lines = log_lines.splitlines()
    if not isinstance(log_lines, (list, tuple)):
        raise ValueError("log_lines must be a list of lines or a string, got %s" % type(log_lines).__name__)
    if isinstance(window_hours, bool) or not isinstance(window_hours, (int, float)) or window_hours <= 0:
        raise ValueError("window_hours must be a positive number, got %r" % (window_hours,))
    if leader_changes is not None and (isinstance(leader_changes, bool) or not isinstance(leader_changes, int)
                                       or leader_changes < 0):
        raise ValueError("leader_changes must be a non-negative integer or None, got %r" % (leader_changes,))

    counts = {"peer_io_timeouts": 0, "tls_handshake_timeouts": 0, "leader_elections": 0, "leader_lost": 0}
    evidence = []
    peers_unreachable = {}
    for raw in log_lines:
        line = str(raw).rstrip()
        if _PEER_UNREACHABLE.search(line):
            for peer_id in set(_REMOTE_PEER_ID.findall(line)):
                peers_unreachable[peer_id] = peers_unreachable.get(peer_id, 0) + 1
        # One category per line, TLS first: a TLS timeout line also says "i/o timeout".
        if _TLS_HANDSHAKE_TIMEOUT.search(line):
            category = "tls_handshake_timeouts"
        elif _PEER_IO_TIMEOUT.search(line) and _PEER_CONTEXT.search(line):
            category = "peer_io_timeouts"
        elif _LEADER_ELECTED.search(line):
            category = "leader_elections"
        elif _LEADER_LOST.search(line):
            category = "leader_lost"
        else:
            continue
        counts[category] += 1
        if len(evidence) < EVIDENCE_LINES:
            evidence.append(line)

    changes = counts["leader_elections"] if leader_changes is None else leader_changes
    per_hour = {
        "leader_changes": changes / float(window_hours),
        "peer_io_timeouts": counts["peer_io_timeouts"] / float(window_hours),
        "tls_handshake_timeouts": counts["tls_handshake_timeouts"] / float(window_hours),
    }
    reasons = []
    if per_hour["leader_changes"] >= SYMPTOM_LEADER_CHANGES_PER_HOUR:
        reasons.append("%.1f leader changes per hour (threshold %.1f)"
                       % (per_hour["leader_changes"], SYMPTOM_LEADER_CHANGES_PER_HOUR))
    if per_hour["peer_io_timeouts"] >= SYMPTOM_PEER_TIMEOUTS_PER_HOUR:
        reasons.append("%.1f peer i/o timeouts per hour (threshold %.1f)"
                       % (per_hour["peer_io_timeouts"], SYMPTOM_PEER_TIMEOUTS_PER_HOUR))
    if per_hour["tls_handshake_timeouts"] >= SYMPTOM_TLS_TIMEOUTS_PER_HOUR:
        reasons.append("%.1f TLS handshake timeouts per hour (threshold %.1f)"
                       % (per_hour["tls_handshake_timeouts"], SYMPTOM_TLS_TIMEOUTS_PER_HOUR))
    result = dict(counts)
    result.update({
        "leader_changes": changes,
        "leader_changes_per_hour": round(per_hour["leader_changes"], 2),
        "window_hours": window_hours,
        "lines_scanned": len(log_lines),
        "symptomatic": bool(reasons),
        "reasons": reasons,
        # Which peers this member failed to reach, and how often: a member that the
        # others cannot reach is the suspect; remediation_plan() puts it first.
        "peers_unreachable": peers_unreachable,
        "evidence": evidence,
    })
    return result


# --------------------------------------------------------------------------
# Orchestration over a backend
# --------------------------------------------------------------------------
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


def collect_health(open_client, endpoints, timeout=DEFAULT_TIMEOUT, max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """Ask the cluster about itself; the normalized result (see build_health).

    1. member/list on every given endpoint at once; the first endpoint (in the
       given order) that answers provides the membership.
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
    listings = run_parallel(
        {endpoint: (lambda e=endpoint: _call_with_client(open_client, e, "member_list")) for endpoint in endpoints},
        timeout)
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
        highest_index = max((m["raft_index"] for m in health["members"]
                             if m["healthy"] and m["raft_index"] is not None), default=None)
        gap = _index_gap(new_leader, highest_index)
        if not new_leader["healthy"] or gap is None or gap > max_index_gap:
            raise EtcdError("%s cannot take over leadership: it is not healthy and in sync (%s)"
                            % (target, "; ".join(new_leader["errors"]) or "%s entries behind" % gap))
    else:
        if leader_name != away_from:
            return unchanged("%s does not lead (%s does)" % (away_from, leader_name))
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
