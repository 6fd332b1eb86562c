# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The decisions made from an etcd health result: may a member be disrupted now,
in which order to work on the hosts, and who takes over leadership.

Pure functions; Python 3.8, standard library only (modules run them on managed
nodes, filters on the controller).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import (
    DEFAULT_MAX_INDEX_GAP,
    check_health_shape,
    find_member,
    member_label,
)

# The order the kit works in: a member already out cannot be made worse; a member
# showing the symptom is the one hurting the cluster; followers next; the leader
# last, so leadership moves once.
REMEDIATION_ROLES = ("unhealthy", "symptomatic", "follower", "leader")


def highest_raft_index(health):
    """The highest raft index a healthy member reports, or None."""
    return max((m["raft_index"] for m in health["members"] if m["healthy"] and m["raft_index"] is not None),
               default=None)


def index_gap(member, highest_index):
    """How many raft entries member is behind highest_index; None when either is unknown."""
    if member["raft_index"] is None or highest_index is None:
        return None
    return highest_index - member["raft_index"]


def _check_index_gap(max_index_gap):
    if not isinstance(max_index_gap, int) or isinstance(max_index_gap, bool) or max_index_gap < 0:
        raise ValueError("max_index_gap must be a non-negative integer, got %r" % (max_index_gap,))


def disruption_check(health, member_name, max_index_gap=DEFAULT_MAX_INDEX_GAP, allow_sole_member=False):
    """May member_name be stopped now? {"safe": bool, "reasons": [str]}.

    The kit's invariant is stricter than quorum arithmetic: every OTHER member
    must be healthy and in sync, with no alarms, and the others alone must hold
    quorum. So a one-member cluster is never safe, and a five-member cluster
    needs all four others. The member itself may be unhealthy (it is often the
    one being repaired).

    allow_sole_member: the operator accepts that a one-member cluster goes down
    with its member (etcd_kernel_force_cluster_size). Then that member must be
    healthy, with no alarm, so that what goes down is a cluster that works.
    """
    check_health_shape(health)
    _check_index_gap(max_index_gap)
    member = find_member(health, member_name)
    others = [other for other in health["members"] if other is not member]
    reasons = []
    if allow_sole_member and not others:
        if not member["healthy"]:
            reasons.append("%s, the cluster's only member, is unhealthy: %s"
                           % (member_label(member), "; ".join(member["errors"]) or "unknown"))
        reasons.extend("alarm %s is active on %s" % (alarm["alarm"], alarm["member"])
                       for alarm in health["cluster"]["alarms"])
        return {"safe": not reasons, "reasons": reasons}

    highest_index = highest_raft_index(health)
    for other in others:
        if not other["healthy"]:
            reasons.append("%s is unhealthy: %s" % (member_label(other), "; ".join(other["errors"]) or "unknown"))
            continue
        gap = index_gap(other, highest_index)
        if gap is None or gap > max_index_gap:
            reasons.append("%s is not in sync: %s raft entries behind (allowed %d)"
                           % (member_label(other), "unknown" if gap is None else gap, max_index_gap))

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


def member_roles(hosts, health, member_names, symptomatic_members=()):
    """{host: role} with role one of REMEDIATION_ROLES, read from an etcd health result.

    hosts: inventory hostnames. member_names: {host: etcd member name}.
    symptomatic_members: member names the symptoms point at (e.g.
    remediation_plan.suspected_members()); a healthy one is "symptomatic".
    """
    check_health_shape(health)
    if not isinstance(hosts, (list, tuple)):
        raise ValueError("hosts must be a list of inventory hostnames, got %s" % type(hosts).__name__)
    if not isinstance(member_names, dict):
        raise ValueError("member_names must map inventory hosts to etcd member names, got %s"
                         % type(member_names).__name__)
    roles = {}
    for host in hosts:
        if host not in member_names:
            raise ValueError("host %r has no etcd member name in member_names" % (host,))
        member = find_member(health, member_names[host])
        if not member["healthy"]:
            roles[host] = "unhealthy"
        elif member["name"] in symptomatic_members:
            roles[host] = "symptomatic"
        else:
            roles[host] = "leader" if member["is_leader"] else "follower"
    return roles


def member_raft_indexes(hosts, health, member_names):
    """{host: raft index its member reports, or None}."""
    return {host: find_member(health, member_names[host])["raft_index"] for host in hosts}


def remediation_order(hosts, roles, raft_indexes=None, max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """The order to work on hosts: the one place the kit decides it.

    hosts: inventory hostnames in inventory order. roles: {host: one of
    REMEDIATION_ROLES}. raft_indexes: {host: raft index or None}, optional.
    Hosts go by role (unhealthy, symptomatic, follower, leader); within a role
    they keep the input order, except that a member more than max_index_gap
    entries behind the most advanced one goes first: while it lags, the gate
    refuses every other member (they need it in sync) but not this one.
    """
    if not isinstance(hosts, (list, tuple)):
        raise ValueError("hosts must be a list of inventory hostnames, got %s" % type(hosts).__name__)
    if not isinstance(roles, dict):
        raise ValueError("roles must map each host to one of %s, got %s"
                         % (", ".join(REMEDIATION_ROLES), type(roles).__name__))
    for host in hosts:
        if roles.get(host) not in REMEDIATION_ROLES:
            raise ValueError("host %r has role %r; expected one of %s"
                             % (host, roles.get(host), ", ".join(REMEDIATION_ROLES)))
    _check_index_gap(max_index_gap)
    indexes = raft_indexes or {}
    known = [indexes[host] for host in hosts if indexes.get(host) is not None]
    highest = max(known) if known else None

    def lagging(host):
        index = indexes.get(host)
        return index is not None and highest - index > max_index_gap

    position = {host: number for number, host in enumerate(hosts)}
    return sorted(hosts, key=lambda host: (REMEDIATION_ROLES.index(roles[host]), not lagging(host),
                                           position[host]))


def health_remediation_order(hosts, health, member_names, symptomatic_members=(),
                             max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """remediation_order() with the roles and raft indexes read from an etcd health result."""
    roles = member_roles(hosts, health, member_names, symptomatic_members)
    return remediation_order(hosts, roles, member_raft_indexes(hosts, health, member_names), max_index_gap)


def choose_successor(health, leaving_name, max_index_gap=DEFAULT_MAX_INDEX_GAP):
    """The member to hand leadership to when leaving_name leads: the healthy,
    in-sync follower with the highest raft index (ties broken by name), or None."""
    check_health_shape(health)
    find_member(health, leaving_name)
    highest_index = highest_raft_index(health)
    candidates = [m for m in health["members"]
                  if m["healthy"] and m["raft_index"] is not None
                  and m["name"] and m["name"] != leaving_name and not m["is_leader"]
                  and index_gap(m, highest_index) <= max_index_gap]
    if not candidates:
        return None
    candidates.sort(key=lambda m: (-m["raft_index"], m["name"]))
    return candidates[0]["name"]
