# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The normalized etcd health result (what etcd_health returns), and reading it.

build_health() turns per-member raw observations (from either backend) into
{"members": [...], "cluster": {...}}; the decisions (etcd_decisions), the
symptoms (etcd_symptoms) and the waits (etcd_wait) all read this one shape.

Python 3.8, standard library only: modules run this on managed nodes, filters on
the controller.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_ids import format_member_id

# etcd keeps 5000 entries after a snapshot for slow followers
# (--snapshot-catchup-entries); a follower within 1000 is receiving appends
# normally, even under a steady write load, while one thousands behind is still
# catching up and must not be counted on for quorum yet.
DEFAULT_MAX_INDEX_GAP = 1000

# etcd 3.4 adds every active alarm to each member's status errors as the text
# form of its AlarmMember message, e.g. "memberID:7604965497571432693 alarm:NOSPACE ".
_ALARM_IN_STATUS_ERROR = re.compile(r"memberID:\s*(\d+)\s+alarm:\s*([A-Z_]+)")

# The member fields the decisions read; a result without them was not made by etcd_health.
_MEMBER_KEYS_USED = ("name", "id", "healthy", "is_leader", "leader_id", "raft_index", "errors")


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


def _member_sort_key(member):
    # Members that never started have no name: after the named ones, by id.
    return (member["name"] is None, member["name"] or "", member["id"] or "", member["endpoint"] or "")


def _empty_entry(name, member_id, endpoint, peer_urls):
    return {
        "name": name,
        "id": member_id,
        "endpoint": endpoint,
        "peer_urls": peer_urls,
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


def build_health(members, statuses, alarms=None, unmatched_endpoints=None,
                 max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """The normalized health result from raw observations.

    members: a backend's member_list()["members"] (see etcd_client_ops).
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
        # Peer URLs let the symptoms name the member behind an address in etcd's log.
        entry = _empty_entry(member.get("name") or None, member_id, client_urls[0] if client_urls else None,
                             list(member.get("peer_urls") or []))
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
        entry = _empty_entry(None, None, endpoint, [])
        entry["errors"].append(message)
        entries.append(entry)

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
            problems.append("%s: %s" % (member_label(member), "; ".join(member["errors"]) or "unhealthy"))
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


def member_label(member):
    """How messages name a member: its name, else its id, else the endpoint asked."""
    return member["name"] or member["id"] or member["endpoint"]


def check_health_shape(health):
    """ValueError unless health looks like an etcd_health result (filters get it from playbooks)."""
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
