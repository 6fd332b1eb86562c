# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The remediation plan: which hosts to fix, in which order, from which kernel to which."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_cluster import (
    find_member,
    remediation_order,
)

REQUIRED_KEYS = ("host", "member", "kernel", "affected", "target")


def suspected_members(host_reports, health):
    """Members that most of the other members fail to reach, by their logs: the epoll
    bug's victims. A member that flaps complains about every peer too, but only it is
    complained about by (a majority of) the others."""
    names_by_id = dict((m["id"], m["name"]) for m in health["members"] if m.get("id") and m.get("name"))
    complainers = {}
    for report in host_reports:
        for peer_id in ((report.get("symptoms") or {}).get("peers_unreachable") or {}):
            name = names_by_id.get(peer_id)
            if name and name != report["member"]:
                complainers.setdefault(name, set()).add(report["member"])
    others = len(names_by_id) - 1
    return sorted(name for name, who in complainers.items() if others > 0 and len(who) >= others // 2 + 1)


def remediation_plan(host_reports, health):
    """Ordered plan steps for the affected hosts: unhealthy members first, then the
    members the others cannot reach (the symptom), then followers, the leader last.

    host_reports: one dict per host with at least host, member, kernel (running
    release), affected (bool) and target (release or None), as the detect role
    records them. health: an etcd_health result. Each step is
    {"order", "host", "member", "from", "to", "role"}; "to" is None when no fixed
    kernel is offered (the host cannot be fixed until the mirror has one).
    """
    if not isinstance(host_reports, (list, tuple)):
        raise ValueError("host_reports must be a list of per-host reports, got %s"
                         % type(host_reports).__name__)
    for report in host_reports:
        missing = [key for key in REQUIRED_KEYS if not isinstance(report, dict) or key not in report]
        if missing:
            raise ValueError("a host report lacks %s: %r" % (", ".join(missing), report))
    by_host = dict((report["host"], report) for report in host_reports)
    affected = [report["host"] for report in host_reports if report["affected"]]
    member_names = dict((host, by_host[host]["member"]) for host in affected)
    suspects = set(suspected_members(host_reports, health))
    roles = {}
    for host in affected:
        member = find_member(health, member_names[host])
        if not member["healthy"]:
            roles[host] = "unhealthy"
        elif member_names[host] in suspects:
            roles[host] = "symptomatic"
        else:
            roles[host] = "leader" if member["is_leader"] else "follower"
    ordered = remediation_order(affected, health, member_names)
    ordered = [h for h in ordered if roles[h] == "unhealthy"] + \
        [h for h in ordered if roles[h] == "symptomatic"] + \
        [h for h in ordered if roles[h] in ("follower", "leader")]
    steps = []
    for position, host in enumerate(ordered, start=1):
        report = by_host[host]
        role = roles[host]
        steps.append({"order": position, "host": host, "member": report["member"],
                      "from": report["kernel"], "to": report["target"], "role": role})
    return steps


HOST_REPORT_KEYS = ("name", "kernel_before", "kernel_after", "leader_transferred", "fallback_used",
                    "downtime_s", "status")
NUMBER_KEYS = ("downtime_s", "reboot_at", "healthy_at")
FLAG_KEYS = ("leader_transferred", "fallback_used")


def typed_host_entry(entry):
    """The host entry with numbers as numbers and flags as booleans: Ansible's
    set_fact hands nested values over as strings ("8.0", "False"), and a report that
    tools read must not."""
    typed = dict(entry)
    for key in NUMBER_KEYS:
        if key in typed:
            typed[key] = None if typed[key] in (None, "", "None") else float(typed[key])
    for key in FLAG_KEYS:
        if isinstance(typed.get(key), str):
            typed[key] = typed[key].strip().lower() in ("true", "yes", "1")
    return typed


def remediation_report(run, plan, detect_reports, host_reports):
    """The run's report: its result and one entry per etcd host.

    run: {"run_id", "started", "finished", "check_mode", "stopped_at", "reason",
    "snapshot"}; stopped_at is None unless something stopped the run.
    plan: the preflight plan. detect_reports: the detect role's per-host reports
    (every etcd host). host_reports: {host: report} for the hosts the run worked
    on, each with HOST_REPORT_KEYS.
    result: "planned" (check mode), "stopped", "nothing_to_do" or "remediated".
    """
    if not isinstance(run, dict) or not isinstance(host_reports, dict):
        raise ValueError("run and host_reports must be dicts")
    planned = dict((step["host"], step) for step in plan)
    hosts = []
    for detected in detect_reports:
        name = detected["host"]
        if name in host_reports:
            entry = dict(host_reports[name])
        elif name in planned:
            step = planned[name]
            entry = {"name": name, "kernel_before": step["from"], "kernel_after": None,
                     "leader_transferred": False, "fallback_used": False, "downtime_s": None,
                     "status": "planned" if run.get("check_mode") else "not_started"}
        else:
            entry = {"name": name, "kernel_before": detected["kernel"], "kernel_after": detected["kernel"],
                     "leader_transferred": False, "fallback_used": False, "downtime_s": 0,
                     "status": "already_fixed"}
        entry = typed_host_entry(entry)
        entry["member"] = detected["member"]
        entry["order"] = planned[name]["order"] if name in planned else None
        hosts.append(entry)
    # Plan order first (the order the run works in), then the hosts it had nothing to do on.
    hosts.sort(key=lambda entry: entry["order"] if entry["order"] is not None else len(hosts) + 1)
    if run.get("stopped_at"):
        result = "stopped"
    elif not plan:
        result = "nothing_to_do"
    elif run.get("check_mode"):
        result = "planned"
    else:
        result = "remediated"
    report = {
        "result": result,
        "run_id": run.get("run_id"),
        "started": run.get("started"),
        "finished": run.get("finished"),
        # Ansible renders an unset value as "": the report says null.
        "stopped_at": run.get("stopped_at") or None,
        "reason": run.get("reason") or None,
        "snapshot": run.get("snapshot") or None,
        "plan": list(plan),
        "hosts": hosts,
    }
    report["summary"] = summary_line(report)
    return report


def summary_line(report):
    """One sentence for a chat message or a job's description."""
    counts = {}
    for host in report["hosts"]:
        counts[host["status"]] = counts.get(host["status"], 0) + 1
    parts = ", ".join("%d %s" % (count, status) for status, count in sorted(counts.items()))
    text = "%s: %s" % (report["result"], parts)
    if report["stopped_at"]:
        text += "; stopped at %s: %s" % (report["stopped_at"], report["reason"])
    return text
