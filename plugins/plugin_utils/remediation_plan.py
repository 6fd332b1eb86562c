# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The remediation plan: which hosts to fix, in which order, from which kernel to which;
and, after the etcd members, the plan for every other node: which batch each goes in."""

from __future__ import annotations

from typing import Any

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import (
    DEFAULT_MAX_INDEX_GAP,
    check_health_shape,
    find_member,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_decisions import (
    member_raft_indexes,
    member_roles,
    remediation_order,
)

REQUIRED_KEYS = ("host", "member", "kernel", "affected", "target")

# kernel_status's verdict for a kernel no known range speaks about (a cloud
# flavour with its own ABI numbers): neither fixed nor known to be affected.
UNKNOWN_STATUS = "unknown"
FIXED_STATUS = "fixed"


def suspected_members(host_reports: list[dict[str, Any]], health: dict[str, Any]) -> list[str]:
    """Members that most of the other members fail to reach, by their logs: the epoll
    bug's victims. A member that flaps complains about every peer too, but only it is
    complained about by (a majority of) the others.

    host_reports: [{"member", "symptoms"}] of one cluster; health: that cluster's
    etcd_health result (its members' ids name the peers the symptoms count)."""
    names_by_id = dict((m["id"], m["name"]) for m in health["members"] if m.get("id") and m.get("name"))
    complainers = {}
    for report in host_reports:
        for peer_id in ((report.get("symptoms") or {}).get("peers_unreachable") or {}):
            name = names_by_id.get(peer_id)
            if name and name != report["member"]:
                complainers.setdefault(name, set()).add(report["member"])
    others = len(names_by_id) - 1
    return sorted(name for name, who in complainers.items() if others > 0 and len(who) >= others // 2 + 1)


def _events_reports(host_reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The host reports as kubespray's etcd-events cluster sees them: each host's events
    member and the symptoms its log showed, for the hosts that run one."""
    return [{"host": report["host"], "member": report["events"]["member"],
             "symptoms": report["events"].get("symptoms")}
            for report in host_reports if isinstance(report.get("events"), dict) and report["events"].get("member")]


def suspected_hosts(host_reports: list[dict[str, Any]], health: dict[str, Any],
                    events_health: dict[str, Any] | None = None) -> set[str]:
    """Hosts whose member the others fail to reach, in the main cluster or (with
    events_health) in the etcd-events cluster: each reboot stops both of a host's members,
    so a host whose events member is the victim is as much the one to fix first."""
    suspected = set(suspected_members(host_reports, health))
    hosts = set(report["host"] for report in host_reports if report["member"] in suspected)
    if events_health is not None:
        check_health_shape(events_health)
        events_reports = _events_reports(host_reports)
        events_suspected = set(suspected_members(events_reports, events_health))
        hosts.update(report["host"] for report in events_reports if report["member"] in events_suspected)
    return hosts


def _check_reports(host_reports: Any) -> None:
    if not isinstance(host_reports, (list, tuple)):
        raise ValueError("host_reports must be a list of per-host reports, got %s"
                         % type(host_reports).__name__)
    for report in host_reports:
        missing = [key for key in REQUIRED_KEYS if not isinstance(report, dict) or key not in report]
        if missing:
            raise ValueError("a host report lacks %s: %r" % (", ".join(missing), report))


def remediation_plan(host_reports: list[dict[str, Any]], health: dict[str, Any], max_index_gap: int = DEFAULT_MAX_INDEX_GAP,
                     events_health: dict[str, Any] | None = None) -> list[dict[str, Any]]:
    """Ordered plan steps: unhealthy members first, then the members the others cannot
    reach (the symptom, in either cluster), then followers, the leader last.

    Two kinds of step:
      upgrade  the host runs an affected kernel: install the fixed one and reboot;
      recover  the host already runs a fixed kernel but its member is out (an earlier
               run stopped between its reboot and its recovery): bring the member back
               (wait, then the fallback) before any other member is touched.

    host_reports: one dict per host with at least host, member, kernel (running
    release), affected (bool) and target (release or None), as detection
    records them, and optionally status (kernel_status's verdict). A host whose
    status is "unknown" is never planned, whatever its affected flag says: the
    kit cannot tell a fixed kernel of its flavour from an affected one
    (unknown_hosts() lists them). health: an etcd_health result. Each step is
    {"order", "host", "member", "action", "from", "to", "role"}; "to" is None when
    no fixed kernel is offered (the host cannot be fixed until the mirror has one),
    and the running kernel for a recover step.

    events_health: the etcd-events cluster's etcd_health result, where kubespray runs
    one; each host report then has "events": {"member", "symptoms"} for its events
    member. A host whose events member the other events members cannot reach is
    "symptomatic" too (unless its main member is out: "unhealthy" goes first anyway).
    """
    _check_reports(host_reports)
    by_host = dict((report["host"], report) for report in host_reports)
    member_names = dict((report["host"], report["member"]) for report in host_reports)
    upgrade = [report["host"] for report in host_reports
               if report["affected"] and report.get("status") != UNKNOWN_STATUS]
    fixed = [report["host"] for report in host_reports if report.get("status") == FIXED_STATUS]
    # Any member out on a fixed kernel is brought back first (most often an earlier run
    # stopped between its reboot and its recovery). A member etcd does not know is left
    # to the membership check.
    known = set(member["name"] for member in health["members"])
    recover = [host for host in fixed
               if member_names[host] in known and not find_member(health, member_names[host])["healthy"]]
    planned = [report["host"] for report in host_reports if report["host"] in upgrade + recover]
    suspected = suspected_hosts(host_reports, health, events_health)
    roles = member_roles(planned, health, member_names, [member_names[host] for host in suspected])
    ordered = remediation_order(planned, roles, member_raft_indexes(planned, health, member_names), max_index_gap)
    steps = []
    for position, host in enumerate(ordered, start=1):
        report = by_host[host]
        action = "recover" if host in recover else "upgrade"
        steps.append({"order": position, "host": host, "member": report["member"], "action": action,
                      "from": report["kernel"], "to": report["kernel"] if action == "recover" else report["target"],
                      "role": roles[host]})
    return steps


def unknown_hosts(host_reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The hosts whose kernel has no verdict, in report order, for the plan and
    the report to list: [{"host", "member", "kernel", "reason"}]. reason is the
    report's reason (it says which range to add), or "" when the report has none.
    """
    _check_reports(host_reports)
    return [{"host": report["host"], "member": report["member"], "kernel": report["kernel"],
             "reason": report.get("reason") or ""}
            for report in host_reports if report.get("status") == UNKNOWN_STATUS]


def snapshot_host(host_reports: list[dict[str, Any]]) -> str | None:
    """The host preflight takes the run's etcd snapshot on: one whose member detect saw
    healthy, a follower where there is one (the leader has enough to do), in the play's
    order; None when no host the run reaches has a healthy member."""
    healthy = [report for report in host_reports if (report.get("member_state") or {}).get("healthy")]
    followers_first = sorted(healthy, key=lambda report: bool(report["member_state"].get("is_leader")))
    return followers_first[0]["host"] if followers_first else None


def batch_size(serial: Any, total: int) -> int:
    """How many nodes go out together, from serial as kubespray and Ansible's play keyword
    take it: a whole number of nodes (1 or more), or a percentage of the nodes ("20%",
    kubespray's choice for its workers) rounded down, and never less than one node."""
    text = str(serial).strip()
    if isinstance(serial, bool) or not text:
        raise ValueError("etcd_kernel_worker_serial must be a whole number of nodes (1 or more) or a percentage "
                         "of them (1%% to 100%%), got %r" % (serial,))
    percent = text.endswith("%")
    digits = text[:-1].strip() if percent else text
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 6:
        raise ValueError("etcd_kernel_worker_serial must be a whole number of nodes (1 or more) or a percentage "
                         "of them (1%% to 100%%), got %r" % (serial,))
    number = int(digits)
    if percent:
        if not 1 <= number <= 100:
            raise ValueError("etcd_kernel_worker_serial as a percentage must be from 1%% to 100%%, got %r" % (serial,))
        return max(1, total * number // 100)
    if number < 1:
        raise ValueError("etcd_kernel_worker_serial must be at least 1 node, got %r" % (serial,))
    return number


def node_plan(node_reports: list[dict[str, Any]], serial: Any = 1, budget: Any = None) -> list[dict[str, Any]]:
    """The other nodes' plan (they run no etcd member), for after the etcd members: every
    node on an affected kernel, a control-plane node alone in its batch (one at a time,
    as the masters go), then the workers in batches of batch_size(serial, workers), never
    more than budget (etcd_kernel_node_budget: a batch takes its slots all at once), in
    the report's order. A node whose kernel the kit cannot judge is never planned. Each
    step is {"order", "batch", "host", "role", "action" ("upgrade", as an etcd host's step
    that reboots), "from", "to"}; "to" is None when no fixed kernel is offered."""
    for report in node_reports:
        if not isinstance(report, dict) or not {"host", "role", "kernel", "affected", "target"} <= set(report):
            raise ValueError("each node report needs host, role, kernel, affected and target, got %r" % (report,))
    affected = [report for report in node_reports
                if report["affected"] and report.get("status") != UNKNOWN_STATUS]
    control_plane = [report for report in affected if report["role"] == "control_plane"]
    workers = [report for report in affected if report["role"] != "control_plane"]
    size = batch_size(serial, len(workers))
    if budget is not None:
        if isinstance(budget, bool) or int(budget) < 1:
            raise ValueError("etcd_kernel_node_budget must be at least 1 node, got %r" % (budget,))
        size = min(size, int(budget))
    steps = []
    worker_batches = [workers[start:start + size] for start in range(0, len(workers), size)]
    batches = [[report] for report in control_plane] + worker_batches
    for batch, members in enumerate(batches, start=1):
        for report in members:
            steps.append({"order": len(steps) + 1, "batch": batch, "host": report["host"], "role": report["role"],
                          "action": "upgrade", "from": report["kernel"], "to": report["target"]})
    return steps
