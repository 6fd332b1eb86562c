# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The seed incident's symptoms in one etcd member's log and counters.

The epoll bug shows on both sides of a broken peer link (this member's probes and
streams to a peer time out; connections from a peer are rejected on read
timeouts), as a member that keeps campaigning while its raft term climbs, and as
leader changes every 20-30 minutes. classify_symptoms() counts them and gives a
verdict; complaints that a restart explains (the kit's own reboots) do not count.

Pure functions; Python 3.8, standard library only (the etcd_symptoms filter runs
this on the controller).
"""

from __future__ import annotations

import calendar
import math
import re
import time
from typing import Any
from urllib.parse import urlsplit

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_ids import format_member_id

# A healthy cluster changes leader a handful of times a year; the seed incident
# changed it every 20-30 minutes, i.e. two to three times an hour.
SYMPTOM_LEADER_CHANGES_PER_HOUR = 2.0
# rafthttp logs a failed peer probe or a broken stream every few seconds while a
# peer is stuck; ten an hour is a stuck peer, not one dropped packet.
SYMPTOM_PEER_TIMEOUTS_PER_HOUR = 10.0
SYMPTOM_TLS_TIMEOUTS_PER_HOUR = 10.0
# The same link seen from the other end: a stuck peer's connections are rejected
# on read timeouts about as often as its probes fail.
SYMPTOM_REJECTED_PER_HOUR = 10.0
# Without pre-vote (etcd 3.4's default, and kubespray's) every campaign raises
# the term by one; an election settles in a term or two, so a climb of a hundred
# is a member that cannot reach the others and keeps trying.
SYMPTOM_TERM_CLIMB = 100
# With pre-vote on the term does not climb, but a cut-off member still starts an
# election every election timeout (5 s in kubespray): hundreds an hour.
SYMPTOM_CAMPAIGNS_PER_HOUR = 10.0
# After an etcd process starts, its peers re-dial it and rafthttp's prober
# reports every 30 s: two minutes covers the reconnect and the last reports
# about the old process. A peer still complained about after that is stuck.
RESTART_GRACE_S = 120
# Before a peer's new process starts, its old one was stopped: complaints while it
# was down are the restart's too. Ten minutes covers a server's reboot with its
# firmware POST (the kit's own reboot timeout is 600 s).
RESTART_DOWNTIME_S = 600
EVIDENCE_LINES = 5
# etcd's lines are a few hundred characters; its longest, the slow-request warnings
# that quote the request, a few kB. A longer line is not etcd's: it is cut to this
# many characters (and counted), so that one such line cannot cost more than a few
# real ones.
MAX_LOG_LINE = 16384
# A raft term is an unsigned 64-bit number: 20 digits at most.
_MAX_TERM = 2 ** 64 - 1

# TLS handshake timeouts, in three wordings: "tls handshake timeout", "handshake
# error ... i/o timeout" and "handshake ... deadline exceeded|timed out". The second
# half is looked for after the first occurrence of the first half, rather than with
# one "a.*b" expression, which retries ".*" at every "handshake" of a line
# (quadratic: 10 s for a 100 kB line).
_TLS_HANDSHAKE_TIMEOUT = re.compile(r"tls handshake timeout", re.IGNORECASE)
_HANDSHAKE_ERROR = re.compile(r"handshake error", re.IGNORECASE)
_HANDSHAKE = re.compile(r"handshake", re.IGNORECASE)
_HANDSHAKE_GAVE_UP = re.compile(r"deadline exceeded|timed out", re.IGNORECASE)
_IO_TIMEOUT = re.compile(r"i/o timeout", re.IGNORECASE)
# rafthttp lines about peers (capnslog and zap formats of etcd 3.4).
_PEER_CONTEXT = re.compile(r"rafthttp|peer|prober|stream msgapp|stream message", re.IGNORECASE)
_LEADER_ELECTED = re.compile(r"elected leader|changed leader|leader changed", re.IGNORECASE)
_LEADER_LOST = re.compile(r"lost leader", re.IGNORECASE)
# A line about failing to reach a peer, and the peer it names (capnslog and zap forms):
#   rafthttp: health check for peer e6410efdc5601397 could not connect: ...
#   rafthttp: failed to read e6410efdc5601397 on stream MsgApp v2 (... i/o timeout)
#   {"msg":"prober detected unhealthy status",...,"remote-peer-id":"5a84b05ae0d2e8fb",...}
#   {"msg":"failed to reach the peer URL","address":"https://10.0.0.2:2380/version",
#    "remote-member-id":"5a84b05ae0d2e8fb",...}       (etcd 3.5's version check, every few s)
_PEER_UNREACHABLE = re.compile(
    r"health check for peer|prober detected unhealthy|lost (?:the )?TCP streaming connection|"
    r"failed to (?:read|dial|write|heartbeat|reach the peer URL)|became inactive", re.IGNORECASE)
# etcd logs ids without leading zeros (c0382f2a4318f53); eight digits at least keeps
# words such as "add" out, and only one id in four billion is that short.
_REMOTE_PEER_ID = re.compile(
    r'(?:peer-id"\s*:\s*"|remote-member-id"\s*:\s*"|for peer |with peer |failed to (?:read|dial|write|heartbeat) |peer )'
    r'([0-9a-f]{8,16})\b')
# A connection from elsewhere that this member gave up on, and who it came from:
#   embed: rejected connection from "10.0.0.2:45678" (error "read tcp ...: i/o timeout", ServerName "")
#   {"msg":"rejected connection","remote-addr":"10.0.0.2:45678",...,"error":"read tcp ...: i/o timeout"}
#   http: TLS handshake error from 10.0.0.2:45678: read tcp ...: i/o timeout
_INBOUND_FROM = re.compile(r'rejected connection from "([^"]+)"|handshake error from (\S+?):?\s')
_REJECTED = re.compile(r"rejected connection", re.IGNORECASE)
_REMOTE_ADDR = re.compile(r'"remote-addr"\s*:\s*"([^"]+)"')
# raft's own lines when this member campaigns (it logs only its own campaigns):
#   raft: 91bc3c398fb3c146 is starting a new election at term 7
#   raft: 91bc3c398fb3c146 became candidate at term 8      (or pre-candidate, with pre-vote)
#   raft: 91bc3c398fb3c146 [logterm: 7, index: 1200] sent MsgVote request to 8e9e05c52164694d at term 8
# The term is taken as any word (\w takes every script's digits) and then checked
# for ASCII digits: a term written in other digits makes the line unreadable
# (counted), rather than silently missed or read by int(), which reads
# Arabic-Indic "99" as 99.
_CAMPAIGN = re.compile(r"(is starting a new election|became candidate|became pre-candidate|"
                       r"sent Msg(?:Pre)?Vote request to [0-9a-f]+) at term (\w+)")
_TERM = re.compile(r"[0-9]{1,20}")
# etcd's first lines after a start (zap; capnslog).
_PROCESS_START = re.compile(r'"msg"\s*:\s*"starting an etcd server"|etcdmain: etcd Version:')

# Timestamps: at the start of the line (capnslog "2022-11-29 10:00:00.123456 W | ...",
# `docker logs --timestamps`, journalctl -o short-iso), in zap's "ts" field, or
# capnslog's after another prefix (journalctl's default short format has no year).
# ASCII digits only ([0-9], not \d, which also takes other scripts' digits).
_ISO_TIME = (r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:[.,]([0-9]+))?"
             r"(?:\s?(Z|[+-][0-9]{2}:?[0-9]{2})(?![0-9:]))?")
_LEADING_TIME = re.compile(r"^\s*" + _ISO_TIME)
_ISO_TIME_ALONE = re.compile(_ISO_TIME)
_ZAP_TIME = re.compile(r'"ts"\s*:\s*(?:"([^"]+)"|(-?[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?))')
_CAPNSLOG_TIME = re.compile(_ISO_TIME + r" [DINWEC] \|")
# The times a calendar holds (years 1 to 9999, as the ISO form writes them): a zap
# "ts" of 1e300 seconds is no time either.
_EARLIEST_EPOCH = calendar.timegm((1, 1, 1, 0, 0, 0, 0, 0, 0))
_LATEST_EPOCH = calendar.timegm((9999, 12, 31, 23, 59, 59, 0, 0, 0)) + 1


class _UnreadableLine(ValueError):
    """A line with a timestamp or term that cannot be one (month 13, a 4,300-digit term): skipped and counted."""


def _epoch(match: re.Match[str]) -> float:
    year, month, day, hour, minute, second = (int(match.group(n)) for n in range(1, 7))
    # calendar.timegm() raises on year 0 or month 13, and quietly adds up day 99.
    # Second 60 is a leap second.
    if not (year >= 1 and 1 <= month <= 12 and 1 <= day <= calendar.monthrange(year, month)[1]
            and hour <= 23 and minute <= 59 and second <= 60):
        raise _UnreadableLine("no such time: %s" % match.group(0))
    stamp = calendar.timegm((year, month, day, hour, minute, second, 0, 0, 0))
    if match.group(7):
        stamp += float("0." + match.group(7)[:9])  # nanoseconds are the finest any logger writes
    zone = match.group(8)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        hours, minutes = int(digits[:2]), int(digits[2:])
        if hours > 23 or minutes > 59:
            raise _UnreadableLine("no such time zone: %s" % zone)
        stamp -= sign * (hours * 3600 + minutes * 60)
    return stamp


def _line_time(line: str) -> float | None:
    """Epoch seconds of a log line, None without a timestamp we know; _UnreadableLine
    when it has one that is no time."""
    match = _LEADING_TIME.match(line)
    if match:
        return _epoch(match)
    match = _ZAP_TIME.search(line)
    if match:
        if match.group(2):
            stamp = float(match.group(2))  # ASCII digits only: the expression takes no other
            if not (math.isfinite(stamp) and _EARLIEST_EPOCH <= stamp < _LATEST_EPOCH):
                raise _UnreadableLine("no such time: %s" % match.group(2)[:40])
            return stamp
        inner = _ISO_TIME_ALONE.match(match.group(1))
        return _epoch(inner) if inner else None
    match = _CAPNSLOG_TIME.search(line)
    return _epoch(match) if match else None


def log_timestamp(line: str) -> float | None:
    """Epoch seconds of a log line, or None when it carries no timestamp we know
    (or one that is no time, such as month 13).

    A time without a zone is taken as UTC: etcd's containers and kubespray's
    hosts log in UTC.
    """
    try:
        return _line_time(line)
    except _UnreadableLine:
        return None


def _campaign(line: str) -> tuple[str, int]:
    """(kind, term) of a campaign line; _UnreadableLine when its term is not a raft term."""
    match = _CAMPAIGN.search(line)
    term = match.group(2)
    if not _TERM.fullmatch(term) or int(term) > _MAX_TERM:
        raise _UnreadableLine("no such raft term: %s" % term[:40])
    return match.group(1), int(term)


def _peer_ids(line: str) -> set[str]:
    """The peers a line names, as the results write ids (16 digits)."""
    return {format_member_id(int(found, 16)) for found in _REMOTE_PEER_ID.findall(line)}


def _inbound_address(line: str) -> str | None:
    """The address a connection came from when this member dropped it on a read timeout, else None."""
    if not _IO_TIMEOUT.search(line):
        return None
    match = _INBOUND_FROM.search(line)
    if match:
        return match.group(1) or match.group(2)
    match = _REMOTE_ADDR.search(line) if _REJECTED.search(line) else None
    return match.group(1) if match else None


# Categories that complain about a peer: a restart of that peer can explain them.
_COMPLAINTS = ("tls_handshake_timeouts", "rejected_connections", "peer_io_timeouts")


def _is_tls_handshake_timeout(line: str) -> bool:
    if _TLS_HANDSHAKE_TIMEOUT.search(line):
        return True
    error = _HANDSHAKE_ERROR.search(line)
    if error and _IO_TIMEOUT.search(line, error.end()):
        return True
    handshake = _HANDSHAKE.search(line)
    return bool(handshake and _HANDSHAKE_GAVE_UP.search(line, handshake.end()))


def _category(line: str, inbound: str | None) -> str | None:
    """The one category a line counts in, or None. TLS first: a TLS timeout line
    also says "i/o timeout"."""
    if _is_tls_handshake_timeout(line):
        return "tls_handshake_timeouts"
    if inbound:
        return "rejected_connections"
    if _IO_TIMEOUT.search(line) and _PEER_CONTEXT.search(line):
        return "peer_io_timeouts"
    if _CAMPAIGN.search(line):
        return "campaigns"
    if _LEADER_ELECTED.search(line):
        return "leader_elections"
    if _LEADER_LOST.search(line):
        return "leader_lost"
    return None


def _peer_hosts(members: list[dict[str, Any]]) -> dict[str, set[str]]:
    """{host of a peer URL: {member ids}}, to name the member behind an address."""
    hosts = {}
    for member in members:
        for url in member.get("peer_urls") or []:
            host = urlsplit(url).hostname
            if host and member.get("id"):
                hosts.setdefault(host.lower(), set()).add(member["id"])
    return hosts


def _address_host(address: str) -> str:
    """'10.0.0.2:45678' -> '10.0.0.2'; '[fd00::2]:45678' -> 'fd00::2'."""
    address = address.strip().rstrip(":")
    if address.startswith("["):
        return address[1:].split("]", 1)[0].lower()
    return address.rsplit(":", 1)[0].lower() if address.count(":") == 1 else address.lower()


def _check_number(name: str, value: Any, positive: bool = False) -> None:
    # NaN passes "value <= 0" and compares false with every time: refuse it, and infinity, here.
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or (positive and value <= 0):
        raise ValueError("%s must be a %snumber, got %r" % (name, "positive " if positive else "", value))


def _check_metrics(name: str, metrics: Any) -> None:
    """metrics as etcd_metrics.parse_etcd_metrics() returns them: each counter the symptoms read is None or
    of its type, so that a wrong one is named here rather than failing in float() or int()."""
    if not isinstance(metrics, dict):
        raise ValueError("%s must be this member's metrics from etcd_health (a dict), got %r" % (name, metrics))
    for key in ("process_start_time_seconds", "leader_changes_seen_total"):
        if metrics.get(key) is not None:
            _check_number("%s[%r]" % (name, key), metrics[key])
    if metrics.get("has_leader") not in (None, True, False):
        raise ValueError("%s['has_leader'] must be true, false or null, got %r" % (name, metrics["has_leader"]))


def _check_inputs(log_lines, leader_changes, window_hours, members, metrics, peer_restarts, now):
    if not isinstance(log_lines, (list, tuple)):
        raise ValueError("log_lines must be a list of lines or a string, got %s" % type(log_lines).__name__)
    _check_number("window_hours", window_hours, positive=True)
    if leader_changes is not None and (isinstance(leader_changes, bool) or not isinstance(leader_changes, int)
                                       or leader_changes < 0):
        raise ValueError("leader_changes must be a non-negative integer or None, got %r" % (leader_changes,))
    if members is not None:
        if not isinstance(members, (list, tuple)) or not all(isinstance(m, dict) for m in members):
            raise ValueError("members must be the etcd_health result's members list, got %r" % (members,))
        for member in members:
            if member.get("metrics") is not None:
                _check_metrics("members[%r]['metrics']" % (member.get("name") or member.get("id"),),
                               member["metrics"])
    if metrics is not None:
        _check_metrics("metrics", metrics)
    if peer_restarts is not None:
        if not isinstance(peer_restarts, dict):
            raise ValueError("peer_restarts must map peer ids or names to epoch seconds, got %r"
                             % (peer_restarts,))
        for peer, started in peer_restarts.items():
            _check_number("peer_restarts[%r]" % (peer,), started)
    if now is not None:
        _check_number("now", now)


def _restarts_by_id(members: list[dict[str, Any]], peer_restarts: dict[str, float] | None) -> dict[str, float]:
    """{peer id: epoch seconds its etcd process started}: from the members' metrics,
    then peer_restarts (by id, or by name through members)."""
    restarts = {}
    for member in members:
        started = (member.get("metrics") or {}).get("process_start_time_seconds")
        if member.get("id") and started is not None:
            restarts[member["id"]] = float(started)
    ids_by_name = {m["name"]: m["id"] for m in members if m.get("name") and m.get("id")}
    for peer, started in (peer_restarts or {}).items():
        if peer in ids_by_name:
            restarts[ids_by_name[peer]] = float(started)
        elif re.fullmatch(r"[0-9a-f]{1,16}", str(peer)):
            restarts[format_member_id(int(peer, 16))] = float(started)
        else:
            raise ValueError("peer_restarts names %r, which is neither a member id (16 hex digits) nor the "
                             "name of a member in members" % (peer,))
    return restarts


def _restart_explains(stamp: float, started: float | None) -> bool:
    return started is not None and started - RESTART_DOWNTIME_S <= stamp <= started + RESTART_GRACE_S


def classify_symptoms(log_lines: str | list[str], leader_changes: int | None = None, window_hours: float = 1.0,
                      members: list[dict[str, Any]] | None = None, metrics: dict[str, Any] | None = None,
                      peer_restarts: dict[str, float] | None = None, now: float | None = None) -> dict[str, Any]:
    """Count the seed incident's symptoms in one member's etcd log (and counters).

    log_lines: that member's log (a list of lines or one string) covering
        window_hours; capnslog text or zap JSON, with or without a docker or
        journalctl timestamp in front.
    leader_changes: leader changes in the window when known from elsewhere;
        otherwise from metrics when this process started inside the window,
        otherwise the elections seen in the log.
    members: the etcd_health result's members; their peer_urls name the member
        behind an address that connected to this one, and their metrics'
        process_start_time_seconds say when each peer last restarted.
    metrics: this member's metrics as etcd_health returns them
        (etcd_metrics.parse_etcd_metrics()).
    peer_restarts: {peer id or member name: epoch seconds its etcd started}, in
        addition to (and over) what members' metrics say.
    now: epoch seconds the window ends at (default: now).

    A complaint about a peer (a failed probe, a broken stream, a rejected
    connection) stamped from RESTART_DOWNTIME_S before to RESTART_GRACE_S after
    that peer's process started is explained by the restart and not counted, nor
    is any complaint or election line within RESTART_GRACE_S after this member's
    own start. Lines without a timestamp always count.

    Bad lines never stop the count: one longer than MAX_LOG_LINE is read cut to
    that length (lines_too_long), and one whose timestamp or raft term cannot be
    one (month 13, a 4,300-digit term, digits of another script) is skipped
    (lines_unreadable).

    symptomatic when, per hour over the window, leader changes reach
    SYMPTOM_LEADER_CHANGES_PER_HOUR, peer i/o timeouts, TLS handshake timeouts or
    rejected connections reach theirs, when the member campaigned while its term
    climbed by SYMPTOM_TERM_CLIMB or more (or campaigned SYMPTOM_CAMPAIGNS_PER_HOUR
    with no leader elected), or when its metrics say it has no leader.
    """
    if isinstance(log_lines, str):
        log_lines = log_lines.splitlines()
    _check_inputs(log_lines, leader_changes, window_hours, members, metrics, peer_restarts, now)
    members = list(members or [])
    metrics = metrics or {}
    now = time.time() if now is None else now
    peer_hosts = _peer_hosts(members)
    restarts = _restarts_by_id(members, peer_restarts)
    own_starts = [float(metrics["process_start_time_seconds"])] \
        if metrics.get("process_start_time_seconds") is not None else []

    counts = {"peer_io_timeouts": 0, "tls_handshake_timeouts": 0, "rejected_connections": 0,
              "leader_elections": 0, "leader_lost": 0}
    campaign_kinds = {"is starting a new election": 0, "became candidate": 0, "became pre-candidate": 0}
    campaign_terms = []
    evidence = []
    peers_unreachable = {}
    peers_rejected = {}
    explained = too_long = unreadable = 0
    for raw in log_lines:
        line = str(raw).rstrip()
        if not line:
            continue
        if len(line) > MAX_LOG_LINE:
            line = line[:MAX_LOG_LINE]
            too_long += 1
        starts_process = _PROCESS_START.search(line) is not None
        inbound = _inbound_address(line)
        category = _category(line, inbound)
        outbound = _PEER_UNREACHABLE.search(line) is not None
        complaint = outbound or category in _COMPLAINTS
        if not (starts_process or complaint or category):
            continue  # most lines: their time does not matter
        try:
            stamp = _line_time(line)
            campaign = _campaign(line) if category == "campaigns" else None
        except _UnreadableLine:
            unreadable += 1
            continue
        if stamp is not None and starts_process:
            own_starts.append(stamp)
            continue
        if category is None and not complaint:
            continue

        named = _peer_ids(line) if complaint else set()
        inbound_host = _address_host(inbound) if inbound else None
        inbound_ids = peer_hosts.get(inbound_host, set())
        # Several members behind one address (all on one host) cannot be told apart.
        inbound_peer = next(iter(inbound_ids)) if len(inbound_ids) == 1 else None
        if inbound_peer:
            named.add(inbound_peer)
        if stamp is not None:
            by_peer = complaint and named and all(_restart_explains(stamp, restarts.get(p)) for p in named)
            by_own_start = (complaint or category in ("leader_elections", "leader_lost")) and \
                any(start <= stamp <= start + RESTART_GRACE_S for start in own_starts)
            if by_peer or by_own_start:
                explained += 1
                continue

        if outbound:
            for peer_id in _peer_ids(line):
                peers_unreachable[peer_id] = peers_unreachable.get(peer_id, 0) + 1
        if inbound_host is not None:
            key = inbound_peer or inbound_host
            peers_rejected[key] = peers_rejected.get(key, 0) + 1
            if inbound_peer:
                peers_unreachable[key] = peers_unreachable.get(key, 0) + 1
        if category is None:
            continue
        if category == "campaigns":
            kind, term = campaign
            campaign_terms.append(term)
            if kind in campaign_kinds:
                campaign_kinds[kind] += 1
        else:
            counts[category] += 1
        if len(evidence) < EVIDENCE_LINES:
            evidence.append(line)

    # Each campaign logs "is starting a new election" once; count the candidate
    # lines only when those were filtered out.
    campaigns = (campaign_kinds["is starting a new election"] or campaign_kinds["became pre-candidate"]
                 or campaign_kinds["became candidate"])
    term_climb = (max(campaign_terms) - min(campaign_terms)) if campaign_terms else 0

    window_s = window_hours * 3600.0
    changes, source = leader_changes, "argument"
    counter, own_start = metrics.get("leader_changes_seen_total"), metrics.get("process_start_time_seconds")
    if changes is None and counter is not None and own_start is not None and own_start >= now - window_s:
        # The counter counts since this process started; its first leader is
        # learnt, not a change of the cluster's leader.
        changes, source = max(0, int(counter) - 1), "metrics"
    if changes is None:
        changes, source = counts["leader_elections"], "log"

    hours = float(window_hours)
    per_hour = {
        "leader_changes": changes / hours,
        "peer_io_timeouts": counts["peer_io_timeouts"] / hours,
        "tls_handshake_timeouts": counts["tls_handshake_timeouts"] / hours,
        "rejected_connections": counts["rejected_connections"] / hours,
        "campaigns": campaigns / hours,
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
    if per_hour["rejected_connections"] >= SYMPTOM_REJECTED_PER_HOUR:
        reasons.append("%.1f connections rejected on read timeouts per hour (threshold %.1f)"
                       % (per_hour["rejected_connections"], SYMPTOM_REJECTED_PER_HOUR))
    no_election = counts["leader_elections"] == 0
    if term_climb >= SYMPTOM_TERM_CLIMB:
        reasons.append("campaigned %d times and the raft term climbed by %d (threshold %d)%s"
                       % (campaigns, term_climb, SYMPTOM_TERM_CLIMB,
                          ", and no leader was elected" if no_election else ""))
    elif no_election and per_hour["campaigns"] >= SYMPTOM_CAMPAIGNS_PER_HOUR:
        reasons.append("%.1f campaigns per hour and no leader elected (threshold %.1f)"
                       % (per_hour["campaigns"], SYMPTOM_CAMPAIGNS_PER_HOUR))
    has_leader = metrics.get("has_leader")
    if has_leader is False:
        reasons.append("etcd_server_has_leader is 0: this member knows no leader")

    result = dict(counts)
    result.update({
        "campaigns": campaigns,
        "term_climb": term_climb,
        "leader_changes": changes,
        "leader_changes_source": source,
        "leader_changes_per_hour": round(per_hour["leader_changes"], 2),
        "has_leader": has_leader,
        "window_hours": window_hours,
        "lines_scanned": len(log_lines),
        "lines_too_long": too_long,
        "lines_unreadable": unreadable,
        "explained_by_restart": explained,
        "symptomatic": bool(reasons),
        "reasons": reasons,
        # Which peers this member failed to reach or gave up on, and how often, both
        # directions by peer id: a member that the others complain about is the
        # suspect; remediation_plan() puts it first.
        "peers_unreachable": peers_unreachable,
        # Inbound connections rejected on read timeouts, by peer id (or by address
        # when no single member has it).
        "peers_rejected": peers_rejected,
        "evidence": evidence,
    })
    return result
