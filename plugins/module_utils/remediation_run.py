# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The run: its state while it runs, and the report it ends with."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

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
