# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What refuses a run, phase by phase: one function per phase, one list of problems.

Each returns [{"check": <name>, "message": <what is wrong and how to fix it>}], empty when
the run may go on; the phase's task file asserts that it is empty.
  start_problems              start, before any host is contacted
  preflight_setting_problems  preflight, the settings of the etcd hosts' own variables
                              (the inventory's etcd group, which localhost does not see)
  preflight_host_problems     preflight, what one host and its member show, after detect
  plan_problems               preflight, once every host passed: etcd's membership against
                              the inventory, then the plan against the members already out
  snapshot_problems           preflight, the snapshot under the lock: a healthy member to take
                              it from, room for it, and a snapshot that reads back whole
  member_problems             a host's step: the plan still applies, the fixed kernel's packages
                              are offered, installed and bootable, and the kernel read back
"""

from __future__ import annotations

import json
import math
import os
import re
from typing import Any

from ansible.module_utils.common.text.formatters import bytes_to_human
from ansible.module_utils.parsing.convert_bool import boolean

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_decisions import disruption_check
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import describe_problems
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_lock import DEFAULT_LOCK_KEY
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_host_claims import host_claim_problems
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import lock_ttl_needed
MAX_REQUEST_TIMEOUT_S = 60


def _version(text: str) -> tuple[int, ...]:
    """The leading numbers of a version ('2.19.14' -> (2, 19, 14); '2.20.0rc1' -> (2, 20, 0))."""
    numbers = []
    for part in str(text).split("."):
        match = re.match(r"\d+", part)
        if match is None:
            break
        numbers.append(int(match.group()))
    return tuple(numbers)


def _seconds(value: Any) -> float | None:
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        return None
    return seconds if math.isfinite(seconds) else None


def start_problems(facts: dict[str, Any]) -> list[dict[str, str]]:
    """start's checks on the controller's facts; nothing was touched when one refuses, and
    each message says so.

    facts: ansible_version, min_ansible_version, lock_key (None where the inventory sets
    none), window (the maintenance window's verdict, as the run recorded it; None where
    it was not judged: in check mode, which may plan at any time), etcd_group and etcd_hosts (None where the inventory has no such group),
    force_cluster_size, request_timeout_s.
    """
    problems = []

    def problem(check: str, message: str) -> None:
        problems.append({"check": check, "message": message})

    if _version(facts["ansible_version"]) < _version(facts["min_ansible_version"]):
        problem("ansible_version", "ansible-core %s is too old: the kit needs %s or newer (make setup installs the "
                "pinned version into .venv); nothing was touched." % (facts["ansible_version"], facts["min_ansible_version"]))
    # Two runs exclude each other only through the same key: a per-run key would let a
    # scheduled job and a manual run with another key pass their gates seconds apart.
    if facts.get("lock_key") is not None:
        problem("lock_key", "etcd_kernel_lock_key is set (to %.80s), but the run lock's key is the kit's own, the same "
                "for every run and every playbook (%s): two runs with different keys would not exclude each other "
                "and could disrupt two members at once. Remove etcd_kernel_lock_key from the inventory, the extra "
                "vars and the AWX template; nothing was touched." % (facts["lock_key"], DEFAULT_LOCK_KEY))
    window = facts.get("window")
    if window is not None and not window["inside"]:
        problem("window", "%s. The remediation starts only inside its maintenance window "
                "(etcd_kernel_maintenance_days/start/end); nothing was touched. Run it again inside the window "
                "(a check-mode run may plan at any time)." % window["reason"])
    group, hosts = facts["etcd_group"], facts.get("etcd_hosts")
    if not hosts:
        problem("etcd_group", "The inventory has no %s group with hosts: list the etcd members under it (kubespray's "
                "group name), or pass -e etcd_kernel_etcd_group=<the group that holds them>; nothing was touched." % group)
    elif not boolean(facts.get("force_cluster_size", False), strict=False) and (len(hosts) < 3 or len(hosts) % 2 == 0):
        problem("cluster_size", "The %s group has %d member(s). With fewer than 3 or an even number, taking one member "
                "out risks quorum. Fix the inventory, or set etcd_kernel_force_cluster_size=true if you accept "
                "that risk; nothing was touched." % (group, len(hosts)))
    # A bound of its own (not etcd_kernel_gate_wait_s, which preflight's spec checks later).
    timeout = _seconds(facts.get("request_timeout_s"))
    if timeout is None or not 0 < timeout <= MAX_REQUEST_TIMEOUT_S:
        problem("request_timeout", "etcd_kernel_request_timeout_s must be a number of seconds above 0 and at most %d; "
                "got %s; nothing was touched." % (MAX_REQUEST_TIMEOUT_S, facts.get("request_timeout_s")))
    return problems


# The settings lock_ttl_needed() weighs, as the role names them without its prefix.
_TTL_SETTINGS = ("reboot_timeout_s", "recover_wait_s", "recover_progress_wait_s", "gate_wait_s",
                 "install_timeout_s", "command_timeout_s")


def preflight_setting_problems(settings: dict[str, Any]) -> list[dict[str, str]]:
    """preflight's checks on the settings as an etcd host sees them (its argument spec has
    checked their types): the lock's TTL against one host's longest stretch between two
    refreshes, apt's dpkg lock wait against the install's timeout, and the Kubernetes hooks.

    settings: lock_ttl, dpkg_lock_wait_s, pre_disruption_tasks, post_recovery_tasks, node_budget,
    node_slot_wait_s, node_max_fail_percentage, and the timeouts lock_ttl_needed() weighs (reboot_timeout_s,
    recover_wait_s, recover_progress_wait_s, gate_wait_s, install_timeout_s, command_timeout_s).
    """
    problems = []
    if int(settings["node_budget"]) < 1:
        problems.append({"check": "node_budget", "message": (
            "etcd_kernel_node_budget is %s: it is how many nodes may be out of service at once over every run, so at "
            "least 1. Set it in the inventory's group_vars (every run against the cluster must use the same)."
            % settings["node_budget"])})
    if not 0 <= float(settings["node_slot_wait_s"]) < float("inf"):
        problems.append({"check": "node_slot_wait", "message": (
            "etcd_kernel_node_slot_wait_s must be a finite number of seconds, 0 or more, got %s"
            % settings["node_slot_wait_s"])})
    if not 0 <= float(settings["node_max_fail_percentage"]) <= 100:
        problems.append({"check": "node_max_fail_percentage", "message": (
            "etcd_kernel_node_max_fail_percentage must be a percentage from 0 (stop at the first failed worker) to "
            "100, got %s" % settings["node_max_fail_percentage"])})
    needed = lock_ttl_needed(**{name: int(settings[name]) for name in _TTL_SETTINGS})
    if int(settings["lock_ttl"]) < needed:
        problems.append({"check": "lock_ttl", "message": (
            "etcd_kernel_lock_ttl is %ss, but one host's step may go %ds without refreshing the lock (the install, or "
            "a reboot that waits etcd_kernel_reboot_timeout_s twice, the waits and the fallback): another run could "
            "take the lock meanwhile. Raise etcd_kernel_lock_ttl to at least %d, or lower those timeouts."
            % (settings["lock_ttl"], needed, needed))})
    if int(settings["dpkg_lock_wait_s"]) >= int(settings["install_timeout_s"]):
        problems.append({"check": "dpkg_lock_wait", "message": (
            "etcd_kernel_dpkg_lock_wait_s (%s) must be shorter than etcd_kernel_install_timeout_s (%s): the install "
            "would time out while apt still waits for the lock, and the run could not say that another apt held it."
            % (settings["dpkg_lock_wait_s"], settings["install_timeout_s"]))})
    # The hooks run on the controller (include_tasks of a file there): a relative path would
    # resolve against the role, and a missing file would fail after the install.
    hooks = [settings[name] for name in ("pre_disruption_tasks", "post_recovery_tasks") if settings.get(name)]
    bad = [hook for hook in hooks if not (os.path.isabs(hook) and os.path.isfile(hook))]
    if bad:
        problems.append({"check": "hooks", "message": (
            "These hooks are not task files given by absolute path on the controller: %s. Give "
            "etcd_kernel_pre_disruption_tasks and etcd_kernel_post_recovery_tasks as absolute paths to existing files "
            "(for example the inventory folder's hooks/drain.yml, by its full path), or leave them empty." % ", ".join(bad))})
    return problems


def _cluster_problems(host: str, health: dict[str, Any], max_index_gap: int) -> list[dict[str, str]]:
    """Can the cluster, seen from this host's member, afford a rollout? Quorum, no alarm, and
    at most one member out (the plan remediates it first) while every other member is
    healthy and in sync."""
    cluster = health["cluster"]
    # An endpoint of the inventory's that no member advertises has no id: the claims judge it.
    unhealthy = [member["name"] for member in health["members"] if member.get("id") and not member["healthy"]]
    if not unhealthy:
        others_fine = cluster["healthy"]
    else:
        others_fine = disruption_check(health, unhealthy[0], max_index_gap)["safe"]
    if cluster["quorum"] and not cluster["alarms"] and len(unhealthy) <= 1 and others_fine:
        return []
    return [{"check": "cluster", "message": (
        "Seen from %s, the etcd cluster cannot afford a rollout: %s. The kit starts only with quorum, no alarm, and at "
        "most one member out while the others are healthy and in sync. Use the mitigate playbook for a stuck member, "
        "and clear alarms (etcdctl alarm disarm) once their cause is fixed." % (host, "; ".join(describe_problems(health))))}]


def _events_problems(host: str, member: str, layout: str, events: dict[str, Any],
                     events_health: dict[str, Any]) -> list[dict[str, str]]:
    """kubespray's etcd-events member on this host: the one kubespray names after the host's
    member, in its cluster, and that cluster whole (each reboot takes it out too)."""
    claims = {"member_name": member + "-events", "layout": layout,
              "endpoint": (events.get("advertise_client_urls") or [""])[0]}
    problems = [{"check": "events_" + problem["check"], "message": problem["message"]}
                for problem in host_claim_problems(host, claims, events, events_health)]
    if not events_health["cluster"]["healthy"]:
        problems.append({"check": "events_cluster", "message": (
            "Seen from %s, kubespray's etcd-events cluster is not healthy: %s. Each reboot takes an events member out "
            "too: bring the events cluster back first (the mitigate playbook restarts a stuck events member), then "
            "re-run." % (host, "; ".join(describe_problems(events_health))))})
    return problems


def _kernel_problems(host: str, detected: dict[str, Any]) -> list[dict[str, str]]:
    """Decided before the lock: a run that stopped at this host would already have rebooted
    the hosts planned before it, and left the cluster half remediated."""
    if not detected["affected"]:
        return []
    if not detected.get("target"):
        installed = ", ".join(detected.get("installed") or []) or "none"
        return [{"check": "fixed_kernel", "message": (
            "%s runs the affected %s, and apt offers no fixed kernel for it (installed: %s). Add the mirror that "
            "carries it (Ubuntu's focal-updates or focal-security), let apt refresh, and run again; or leave the host "
            "out with --limit. Nothing was changed." % (host, detected["kernel"], installed))}]
    missing = detected.get("target_packages_missing") or []
    if not missing:
        return []
    if "linux-image-" + detected["target"] in missing:
        why = "not even its image is offered"
    else:
        why = ("the host runs %s with %s, and a kernel booted without its modules-extra may come up without the "
               "drivers of its network or its disks" % (detected["kernel"], ", ".join(detected.get("running_packages") or [])))
    return [{"check": "fixed_kernel_packages", "message": (
        "apt on %s does not offer %s, which %s needs: %s. Add a mirror that carries the full set, or pin "
        "etcd_kernel_target_release to a release apt offers in full. Nothing was changed."
        % (host, ", ".join(missing), detected["target"], why))}]


def preflight_host_problems(facts: dict[str, Any]) -> list[dict[str, str]]:
    """preflight's checks of one host, after detect read it.

    facts: host (its inventory name), member and layout (as observed, else claimed),
    detected (detect's record of the host: claim_problems, affected, kernel, target,
    installed, target_packages_missing, running_packages), health (etcd_health from this
    host's member), max_index_gap, and events (the host's etcd-events member as etcd_node
    read it, None where it runs none) with events_health.

    The inventory's claims come first and alone: every other check reads the cluster
    through the addresses and the member they name.
    """
    host, detected = facts["host"], facts["detected"]
    claims = detected.get("claim_problems") or []
    if claims:
        return [{"check": problem.get("check", "claims"), "message": problem["message"]} for problem in claims]
    problems = []
    if facts.get("events") is not None:
        problems += _events_problems(host, facts["member"], facts["layout"], facts["events"], facts["events_health"])
    problems += _cluster_problems(host, facts["health"], int(facts["max_index_gap"]))
    problems += _kernel_problems(host, detected)
    return problems


def _member_label(member: dict[str, Any]) -> str:
    """A member as a message names it: its name, else (a member added but not started, or an
    endpoint no member advertises) where it was looked for."""
    if member.get("name"):
        return str(member["name"])
    return "an unnamed member (%s)" % (member.get("endpoint") or member.get("id") or "no client URL")


def _twice(values: list[Any]) -> list[str]:
    """The values that occur more than once, ignoring case (as Ansible's unique filter did
    here, and as a URL's host name is), each once, in their order."""
    keys = [str(value).lower() for value in values]
    return [str(value) for number, (value, key) in enumerate(zip(values, keys))
            if keys.count(key) > 1 and keys.index(key) == number]


def plan_problems(facts: dict[str, Any]) -> list[dict[str, str]]:
    """preflight's checks of the cluster as a whole, once every host passed its own: etcd's
    membership against the inventory, then the plan against the members already out.

    facts: etcd_group (the group's name), group_hosts (its hosts, as the inventory lists
    them, whatever --limit says), hosts (the play's hosts' detect records, each with at
    least host and member), endpoints (etcd_kernel_endpoints: one client URL per host of
    the group, whatever --limit says), members (etcd_health's members, each with at least
    name and healthy) and plan (the plan's steps, each with at least member; None before
    the plan is made).

    The membership comes first and alone: remediation_plan reads each host's member in it,
    and cannot plan for a membership that is not the inventory's. With plan None the
    membership alone is judged, so that a run refused for it records no plan.
    """
    members, group_hosts = facts["members"], facts["group_hosts"]
    names = [host["member"] for host in facts["hosts"]]
    endpoints = list(facts["endpoints"])
    if len(members) != len(group_hosts) or _twice(names) or _twice(endpoints):
        twice = _twice(names) + _twice(endpoints)
        return [{"check": "membership", "message": (
            "etcd has %d members (%s) and the inventory's %s group %d hosts; member names here: %s; addresses: %s%s. "
            "Each etcd member must be one inventory host with its own etcd_member_name and address: fix the "
            "inventory (or etcd's membership) first."
            % (len(members), ", ".join(_member_label(member) for member in members), facts["etcd_group"],
               len(group_hosts), ", ".join(str(name) for name in names), ", ".join(str(url) for url in endpoints),
               "; more than once: " + ", ".join(twice) if twice else ""))}]
    if facts["plan"] is None:
        return []
    planned = set(step["member"] for step in facts["plan"])
    out = [_member_label(member) for member in members if not member["healthy"] and member.get("name") not in planned]
    if not out:
        return []
    return [{"check": "member_out", "message": (
        "%s %s out and not in this run's plan (--limit leaves its host out, or its kernel is neither affected nor "
        "fixed), so no other member may be disrupted: bring it back first (the mitigate playbook restarts a stuck "
        "member's etcd), or include its host." % (", ".join(out), "is" if len(out) == 1 else "are"))}]


def _snapshot_revision(status: dict[str, Any]) -> int:
    """The revision `snapshot status --write-out=json` read from the file; 0 when its output
    is not that."""
    try:
        return int(json.loads(status.get("stdout") or "").get("revision") or 0)
    except (ValueError, TypeError, AttributeError):
        return 0


def snapshot_problems(facts: dict[str, Any]) -> list[dict[str, str]]:
    """preflight's snapshot, as it goes (like member_problems, each check judges the
    results registered so far; the others are None).

    facts: hosts (the play's etcd hosts), source (the snapshot's host, snapshot_host's
    choice; None for none), host (the host judged), folder (snapshot_folder's result),
    db_size (the member's database size, bytes), saved, kept and status (the save, the
    mode change and `snapshot status`), path (the snapshot's) and reader (the tool that
    read it back).
    """
    if facts["source"] is None:
        return [{"check": "snapshot_source", "message": (
            "No healthy etcd member among the hosts this run reaches (%s) to take the snapshot from: include a healthy "
            "member's host (--limit), or bring the members back first." % ", ".join(facts["hosts"]))}]
    host, folder = facts["host"], facts.get("folder")
    if folder is None:
        return []
    if _unreachable(folder):
        return [{"check": "snapshot_room", "message": "%s became unreachable before the snapshot" % host}]
    free, db_size = int(folder.get("free_bytes") or 0), int(facts.get("db_size") or 0)
    if free < 2 * db_size:
        return [{"check": "snapshot_room", "message": (
            "%s on %s has %s free; the snapshot of a %s database needs twice that. Free space there, or set "
            "etcd_kernel_snapshot_dir to a folder with room (old runs: etcd_kernel_snapshot_keep)."
            % (folder.get("folder"), host, bytes_to_human(free), bytes_to_human(db_size)))}]
    status = facts.get("status")
    if status is None:
        return []
    if any(_unreachable(facts.get(result)) for result in ("saved", "kept", "status")):
        return [{"check": "snapshot_read_back", "message": "%s became unreachable while the snapshot was taken" % host}]
    if _snapshot_revision(status) <= 0:
        return [{"check": "snapshot_read_back", "message": (
            "the snapshot %s on %s does not read back (%s snapshot status: %s): check the disk, then run the kit again"
            % (facts["path"], host, os.path.basename(str(facts["reader"])), status.get("stdout") or ""))}]
    return []


def _unreachable(result: dict[str, Any] | None) -> bool:
    """Whether a registered result (ignore_unreachable) says its host could not be reached."""
    return bool(result and result.get("unreachable"))


def _ran(result: dict[str, Any] | None) -> bool:
    """Whether a registered result is there and its task was not skipped."""
    return bool(result) and not result.get("skipped")


def _install_failure(facts: dict[str, Any]) -> str:
    """What went wrong with apt's install of the fixed kernel, and what to do about it. The
    apt module says only in its message that it gave up waiting for the dpkg lock, so for
    that the message is what is read."""
    install = facts["install"]
    message = str(install.get("msg") or "")
    if _unreachable(install):
        return "failed: it became unreachable (%s)" % message
    # The task's timeout: ansible-core marks the result timedout (older cores said only
    # "failed to execute in the expected time frame").
    if install.get("timedout") or "expected time frame" in message:
        return ("took longer than etcd_kernel_install_timeout_s (%ss); apt may still be running there: let it finish "
                "(ps -C apt-get,dpkg), check with dpkg --audit, then run the kit again" % facts["install_timeout_s"])
    if "lock" in message.lower():  # apt's lock_timeout ran out
        return ("waited more than etcd_kernel_dpkg_lock_wait_s (%ss) for the dpkg lock: another apt run holds it "
                "(unattended-upgrades?). Let it finish (ps -C apt,apt-get,dpkg,unattended-upgr), then run the kit "
                "again: %s" % (facts["dpkg_lock_wait_s"], message))
    return ("failed: %s. Fix apt on the host (dpkg --audit; apt-get -f install), raise etcd_kernel_install_timeout_s if "
            "it only took too long, and run the kit again" % (message.rstrip(".") or "no message"))


def _still_planned(facts: dict[str, Any]) -> str | None:
    before, step = facts["before"], facts["step"]
    if _unreachable(before):
        return "unreachable: %s" % (before.get("msg") or "")
    status = before.get("status")
    if status == "fixed" or (status == "affected" and step.get("to")):
        return None
    return "%s runs %s (%s), and %s" % (
        facts["host"], before.get("running_release") or "?", before.get("reason") or "no verdict",
        "no fixed kernel is offered to it: add a mirror that carries one, or pin one with etcd_kernel_target_release"
        if status == "affected" else "the plan no longer applies: run the kit again")


def _packages_offered(facts: dict[str, Any]) -> str | None:
    before = facts["before"]
    if before.get("status") != "affected" or not before.get("target_packages_missing"):
        return None
    return ("%s was not rebooted: apt no longer offers %s, which %s needs (the host runs %s). Add a mirror that "
            "carries the full set, then run the kit again."
            % (facts["host"], ", ".join(before["target_packages_missing"]), facts["step"]["to"],
               ", ".join(before.get("running_packages") or [])))


def _installed(facts: dict[str, Any]) -> str | None:
    install = facts.get("install")
    if not _ran(install) or not (_unreachable(install) or install.get("failed")):
        return None
    return "%s was not rebooted: installing %s %s" % (
        facts["host"], ", ".join(facts["before"].get("target_packages") or []), _install_failure(facts))


def _bootable(facts: dict[str, Any]) -> str | None:
    boot_found, release = facts.get("boot_found"), facts["step"].get("to")
    if not _ran(boot_found):
        return None
    if _unreachable(boot_found):
        return "%s became unreachable after the install, before its reboot: %s" % (facts["host"], boot_found.get("msg") or "")
    found = set(entry["path"] for entry in boot_found.get("files") or [])
    missing = [path for path in facts["boot_files"] if path not in found]
    if not missing:
        return None
    return ("%s was not rebooted: %s missing after the install of %s, so it would not boot (or boot without its "
            "modules). Check the output of the image package (update-initramfs), fix it (update-initramfs -c -k %s), "
            "and run the kit again." % (facts["host"], ", ".join(missing), release, release))


def _read_back(facts: dict[str, Any]) -> str | None:
    after, step = facts.get("after"), facts["step"]
    if after is None:
        return None
    if _unreachable(after):
        return "%s became unreachable after its reboot" % facts["host"]
    rebooted = facts["before"].get("status") == "affected"
    if after.get("status") == "fixed" and (not rebooted or after.get("running_release") == step.get("to")):
        return None
    return ("%s runs %s (%s), not %s: check the default boot entry (grub-set-default / GRUB_DEFAULT) and that the "
            "package installed a bootable image"
            % (facts["host"], after.get("running_release"), after.get("reason"), step.get("to")))


# The member phase's checks in the order its tasks reach them.
_MEMBER_CHECKS = (("still_planned", _still_planned), ("packages_offered", _packages_offered),
                  ("installed", _installed), ("bootable", _bootable), ("read_back", _read_back))


def member_problems(facts: dict[str, Any]) -> list[dict[str, str]]:
    """One host's step, as it goes: each check judges the results registered so far (the
    later ones are None, or skipped on a host already fixed, until their task has run), so
    the member phase asserts the whole list after each of those tasks. The first problem is
    the only one: the step stops there.

    facts: host, step (its plan step: action, to), before (kernel_status's read before the
    step, with the target's packages), install (apt's result), boot_files (the paths the
    fixed kernel boots from) and boot_found (find's result for them), after (kernel_status's
    read after the reboot), install_timeout_s and dpkg_lock_wait_s (the settings, for the
    messages). A result is as Ansible registered it, with ignore_unreachable.
    """
    for check, problem_of in _MEMBER_CHECKS:
        message = problem_of(facts)
        if message:
            return [{"check": check, "message": message}]
    return []


def node_preflight_problems(detected: dict[str, Any]) -> list[dict[str, str]]:
    """preflight's checks of a node outside the etcd group, after detect read it (its
    detected_node entry): an etcd member it runs all the same, first and alone, then the
    fixed kernel apt offers it, as for an etcd host."""
    claims = detected.get("claim_problems") or []
    if claims:
        return [{"check": problem.get("check", "claims"), "message": problem["message"]} for problem in claims]
    return _kernel_problems(detected["host"], detected)


def node_recovery_problems(facts: dict[str, Any]) -> list[dict[str, str]]:
    """A node after its reboot: what it ran before must run again. facts: host, before and
    after (runtime_status's results before the disruption and after the reboot; after is
    the last of its polls). containerd where it was the node's runtime must answer, and
    the kubelet where the node has one must be active."""
    host, before, after = facts["host"], facts["before"], facts["after"]
    if _unreachable(after):
        return [{"check": "runtime", "message": "%s became unreachable after its reboot: %s"
                 % (host, after.get("msg") or "")}]
    problems = []
    if before.get("present") and not after.get("answering"):
        problems.append({"check": "runtime", "message": (
            "%s came back on its fixed kernel, but its containerd does not answer (%s): the node cannot run or stop a "
            "container. See journalctl -u containerd there; restart containerd (systemctl restart containerd) or the "
            "node, then run the kit again: it resumes with this node." % (host, after.get("error") or "no answer"))})
    if before.get("kubelet") is not None and after.get("kubelet") != "active":
        problems.append({"check": "kubelet", "message": (
            "%s came back on its fixed kernel, but kubelet.service is %s: the node is not serving. See journalctl -u "
            "kubelet there, then run the kit again: it resumes with this node." % (host, after.get("kubelet") or "gone"))})
    return problems
