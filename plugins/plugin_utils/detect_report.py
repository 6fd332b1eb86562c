# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""One host's entry in the detection report, from what detect read on the host.

Detect reads an etcd host's kernels (kernel_status), which member it runs (etcd_node, the
observe step), the cluster as its member sees it (etcd_health, once with the members'
own counters), the etcd-events cluster where kubespray runs one, and the recent log of
each of its members. detected_host() puts them into the one host schema both reports
share: who the host is first (remediation_run.HOST_IDENTITY), then where the inventory's
word disagrees, the kernel verdict, each member's state and the epoll bug's symptoms.

Controller-side only (Python 3.11).
"""

from __future__ import annotations

from typing import Any

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_host_claims import host_claim_problems, node_claim_problems
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_symptoms import classify_symptoms
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_plan import (
    batch_size,
    node_plan,
    remediation_plan,
    unknown_hosts,
)

# What the report keeps of kernel_status's result, under the report's names.
_KERNEL_FIELDS = (
    ("kernel", "running_release"),
    ("status", "status"),
    ("affected", "affected"),
    ("reason", "reason"),
    ("installed", "installed_releases"),
    ("fixed_available", "fixed_release_available"),
    ("target", "target_release"),
    ("running_packages", "running_packages"),
    ("target_packages", "target_packages"),
    ("target_packages_missing", "target_packages_missing"),
    ("reboot_required", "reboot_required"),
    ("boot_warnings", "boot_warnings"),
)


# What the report keeps of runtime_status's result: the same keys, checked.
RUNTIME_FIELDS = ("present", "active", "kubelet", "answering", "answer_s", "version", "error", "journal",
                  "symptomatic", "reasons")
NODE_ROLES = ("control_plane", "worker")


def runtime_entry(runtime: dict[str, Any] | None) -> dict[str, Any] | None:
    """The node's container runtime as the report keeps it (runtime_status's result), or
    None where it was not read (a host preflight reached before the probe)."""
    if runtime is None:
        return None
    missing = [field for field in RUNTIME_FIELDS if field not in runtime]
    if missing:
        raise ValueError("expected sre.etcd_kernel.runtime_status's result, missing %s" % ", ".join(missing))
    return dict((field, runtime[field]) for field in RUNTIME_FIELDS)


def detected_node(host: str, role: str, etcd_group: str, node: dict[str, Any], kernel: dict[str, Any],
                  runtime: dict[str, Any]) -> dict[str, Any]:
    """The detection report's entry for a node outside the etcd group (a worker, or a
    control-plane node with its etcd elsewhere): who it is, in the same identity keys as
    an etcd host's (no member, layout or client URL), where it runs an etcd member all the
    same (claim_problems), its kernel verdict, and its runtime, whose symptoms (containerd
    not answering, timeouts in its journal) are the node's. node: etcd_node's result."""
    if role not in NODE_ROLES:
        raise ValueError("a node's role is one of %s, got %r" % (", ".join(NODE_ROLES), role))
    entry = {"host": host, "member": None, "layout": None, "client_url": None,
             "observed": {"default_ipv4": node.get("default_ipv4"), "etcd_layout": node.get("layout"),
                          "etcd_member_name": node.get("member_name"), "etcd_files": node.get("files") or []},
             "role": role, "claim_problems": node_claim_problems(host, etcd_group, node)}
    entry.update((name, kernel[field]) for name, field in _KERNEL_FIELDS)
    entry["runtime"] = runtime_entry(runtime)
    entry["symptoms"] = {"symptomatic": bool(runtime["symptomatic"]), "reasons": list(runtime["reasons"])}
    return entry


def _member(members: list[dict[str, Any]] | None, name: str) -> dict[str, Any]:
    """The entry for member name in an etcd_health members list, or {}."""
    return next((entry for entry in members or [] if entry.get("name") == name), {})


def _log_lines(read: dict[str, Any]) -> list[str]:
    return list(read.get("stdout_lines") or []) + list(read.get("stderr_lines") or [])


def _log_error(read: dict[str, Any]) -> str:
    """Why a member's log could not be read (or not in time); empty when it was."""
    if not read.get("failed"):
        return ""
    return read.get("stderr") or read.get("msg") or ""


def _symptoms(read: dict[str, Any], window_s: int, members: list[dict[str, Any]] | None,
              metrics: dict[str, Any] | None) -> dict[str, Any]:
    # Complaints about a peer whose etcd (re)started just then (a planned reboot, by this
    # kit or anyone) are explained by that restart, read from the peers' own metrics.
    return classify_symptoms(_log_lines(read), None, window_s / 3600, members=members, metrics=metrics)


def detected_host(host: str, member: str, layout: str, node: dict[str, Any], claims: dict[str, Any],
                  health: dict[str, Any], counters: dict[str, Any], kernel: dict[str, Any],
                  logs: list[dict[str, Any]], window_s: int, events: dict[str, Any] | None = None,
                  events_member: str | None = None, events_health: dict[str, Any] | None = None,
                  runtime: dict[str, Any] | None = None) -> dict[str, Any]:
    """The detection report's entry for host.

    member, layout: the member and layout the kit acts on (observed where the host said).
    node: etcd_node's result (the observe step's, {} where it was not read); claims: the
    inventory's word ({member_name, layout, endpoint}). health: etcd_health asked with the
    host's local endpoint; counters: etcd_health with metrics, read once for the cluster
    ({} where it was not). kernel: kernel_status's result. logs: the log reads of the
    host's members, the main one first and its etcd-events one second, as Ansible registers
    a loop's results. events: the host's etcd-events member as observed (None where it runs
    none), events_member its name, events_health the events cluster's etcd_health with metrics.
    window_s: how many seconds of log were read. runtime: runtime_status's result on the
    host (its containerd, where it runs one), kept apart from its members' symptoms.
    """
    state = _member(health.get("members"), member)
    main_log = logs[0] if logs else {}
    entry = {
        "host": host,
        "member": member,
        "layout": layout,
        # The URL the kit reaches this member at: kubespray's address for the host.
        "client_url": claims["endpoint"],
        "observed": {
            "default_ipv4": node.get("default_ipv4"),
            "member_name": node.get("member_name"),
            "name_source": node.get("name_source"),
            "layout": node.get("layout"),
            "container": node.get("container"),
            "advertise_client_urls": node.get("advertise_client_urls") or [],
            "local_member": health.get("local"),
            "etcd_version": state.get("version"),
            "tools": node.get("tools") or {},
            "events": events,
        },
        # Where the inventory's word and the host disagree: preflight and mitigate refuse then, detect reports it.
        "claim_problems": host_claim_problems(host, claims, node, health),
    }
    entry.update((name, kernel[field]) for name, field in _KERNEL_FIELDS)
    entry.update({
        "member_state": state,
        "symptoms": _symptoms(main_log, window_s, counters.get("members") or health.get("members"),
                              _member(counters.get("members"), member).get("metrics")),
        "log_error": _log_error(main_log),
        "events": None,
        "runtime": runtime_entry(runtime),
    })
    if events is not None:
        events_state = _member((events_health or {}).get("members"), events_member)
        events_log = logs[1] if len(logs) > 1 else {}
        entry["events"] = {
            "member": events_member,
            "member_state": events_state,
            "symptoms": _symptoms(events_log, window_s, (events_health or {}).get("members"),
                                  events_state.get("metrics")),
            "log_error": _log_error(events_log),
        }
    return entry


def detection_report(run: dict[str, Any], group: str, limit: str | None, detected: list[dict[str, Any]],
                     health: list[dict[str, Any] | None], events_health: list[dict[str, Any] | None],
                     max_index_gap: int, worker_serial: Any = 1, node_budget: Any = None) -> dict[str, Any]:
    """The detection report: the cluster as the etcd hosts saw it, one entry per etcd host
    (hosts) and per other node (nodes), and the plans a remediation would follow: the etcd
    members' (plan) and, after them, the other nodes' batches (node_plan, in batches of
    worker_serial, etcd_kernel_worker_serial, never more than node_budget, etcd_kernel_node_budget).

    run: {"id", "started"} (the run_id lookup's). detected: every host's entry, in play
    order (detected_host's or detected_node's). health, events_health: each host's
    etcd_health results in the same order, None (or skipped) where the host read none (a
    node, a host without an events member); the first host's that read one are the
    cluster's, as a remediation's plan takes them.
    """
    if not (len(detected) == len(health) == len(events_health)):
        raise ValueError("detected, health and events_health must have one item per host, got %d, %d and %d"
                         % (len(detected), len(health), len(events_health)))
    etcd_hosts = [entry for entry in detected if "role" not in entry]
    nodes = [entry for entry in detected if "role" in entry]
    batch_size(worker_serial, 1)  # a bad setting is refused even where no worker needs it
    cluster_health = next((read for read in health if read and not read.get("skipped")), None)
    cluster_events = next((read for read in events_health if read and not read.get("skipped")), None)
    plan = []
    if etcd_hosts and cluster_health:
        plan = remediation_plan(etcd_hosts, cluster_health, max_index_gap, cluster_events)
    return {
        "kind": "detect",
        "run_id": run["id"],
        "generated": run["started"],
        "group": group,
        "limit": limit or None,
        "cluster": cluster_health["cluster"] if cluster_health else None,
        "members": cluster_health["members"] if cluster_health else [],
        "hosts": etcd_hosts,
        "nodes": nodes,
        "plan": plan,
        "worker_serial": str(worker_serial),
        "node_plan": node_plan(nodes, worker_serial, node_budget),
        "unknown": unknown_hosts(etcd_hosts + nodes),
    }
