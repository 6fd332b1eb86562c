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


def remediation_plan(host_reports, health):
    """Ordered plan steps for the affected hosts: unhealthy members first, the leader last.

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
    steps = []
    for position, host in enumerate(remediation_order(affected, health, member_names), start=1):
        report = by_host[host]
        member = find_member(health, report["member"])
        if not member["healthy"]:
            role = "unhealthy"
        elif member["is_leader"]:
            role = "leader"
        else:
            role = "follower"
        steps.append({"order": position, "host": host, "member": report["member"],
                      "from": report["kernel"], "to": report["target"], "role": role})
    return steps
