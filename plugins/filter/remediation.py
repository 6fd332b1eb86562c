# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Remediation helpers: etcd_commands (log and restart argv per layout),
remediation_plan (which hosts, in which order, from which kernel to which) and the
failure lines of the plays' rescue and the phases' refusals (start_problems, preflight_setting_problems,
preflight_host_problems, plan_problems, snapshot_problems, member_problems), the snapshot's
host and the lock's releaser."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.errors import AnsibleFilterError
from jinja2 import Undefined

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import DEFAULT_MAX_INDEX_GAP
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_layout import (
    client_urls,
    etcd_commands,
    events_client_urls,
)
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.maintenance_window import check_window
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_plan import (
    node_plan,
    remediation_plan,
    snapshot_host,
    unknown_hosts,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import TIME_FORMAT
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import (
    lock_releaser,
    node_phase_problems,
    node_step_blocker,
    step_blocker,
)
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.phase_checks import (
    member_problems,
    node_preflight_problems,
    node_recovery_problems,
    plan_problems,
    preflight_host_problems,
    preflight_setting_problems,
    snapshot_problems,
    start_problems,
)


def _filter(name, function):
    """function as a filter: its ValueError, KeyError or TypeError (bad input) becomes the
    filter's own error, named."""
    def run(*args, **kwargs):
        try:
            return function(*args, **kwargs)
        except (ValueError, KeyError, TypeError) as error:
            raise AnsibleFilterError("%s: %s" % (name, error)) from error
    return run


def etcd_commands_filter(layout, container_name, service_name="etcd", since_seconds=3600, member_name=None):
    try:
        return etcd_commands(layout, container_name, service_name, since_seconds, member_name)
    except ValueError as error:
        raise AnsibleFilterError("etcd_commands: %s" % error) from error


def etcd_client_urls_filter(hosts, hostvars, port=2379):
    if isinstance(hosts, Undefined):
        return hosts  # let Ansible report the undefined variable itself
    try:
        return client_urls(hosts, hostvars, port)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("etcd_client_urls: %s" % error) from error


def etcd_events_client_urls_filter(hosts, hostvars):
    if isinstance(hosts, Undefined):
        return hosts
    try:
        return events_client_urls(hosts, hostvars)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("etcd_events_client_urls: %s" % error) from error


def remediation_plan_filter(host_reports, health, max_index_gap=DEFAULT_MAX_INDEX_GAP, events_health=None):
    try:
        return remediation_plan(host_reports, health, int(max_index_gap), events_health)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("remediation_plan: %s" % error) from error


def failure_lines(hosts, hostvars, limit=1500):
    """One line per host that failed its last task: "<host>: <task>: <message>".

    hosts: inventory names; hostvars: Ansible's hostvars. A rescue reads this to say
    why every host that failed at the same time failed, not just the first.
    """
    if isinstance(hosts, Undefined):
        return hosts  # let Ansible report the undefined variable itself
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise AnsibleFilterError("failure_lines: give a list of hosts, got %r" % (hosts,))
    lines = []
    for host in hosts:
        variables = hostvars[host]
        if "ansible_failed_result" not in variables:
            continue
        result = variables["ansible_failed_result"] or {}
        task = (variables.get("ansible_failed_task") or {}).get("name") or "a task"
        message = result.get("msg") or ("unreachable" if result.get("unreachable") else "failed")
        # A looped task says only "One or more items failed": each failed item's own message
        # is the reason (a gate over a host's clusters names the member that kept it closed).
        failed_items = [item for item in result.get("results") or [] if isinstance(item, dict) and item.get("failed")]
        if failed_items:
            message = "; ".join(str(item.get("msg") or "failed") for item in failed_items)
        # A failed command says only "non-zero return code" or, from ansible-core 2.19 on,
        # "Error executing command." for a missing program: name the command and its stderr.
        command = result.get("cmd")
        if command:
            stderr = " ".join(str(result.get("stderr") or "").split())
            message = "%s (%s%s)" % (message, " ".join(command) if isinstance(command, (list, tuple)) else command,
                                     ": " + stderr if stderr else "")
        message = " ".join(str(message).split())
        if len(message) > limit:
            message = message[:limit] + "..."
        lines.append("%s: %s: %s" % (host, task, message))
    return lines


def maintenance_window_filter(window, now=None):
    """{inside, reason, judged_at} for now (UTC), or for an ISO 8601 time given as now."""
    try:
        moment = datetime.datetime.now(datetime.timezone.utc) if not now \
            else datetime.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
        verdict = check_window(window, moment)
        if moment.tzinfo is not None:
            moment = moment.astimezone(datetime.timezone.utc)
        verdict["judged_at"] = moment.strftime(TIME_FORMAT)
        return verdict
    except ValueError as error:
        raise AnsibleFilterError("maintenance_window: %s" % error) from error


class FilterModule(object):
    def filters(self):
        return {
            "etcd_client_urls": etcd_client_urls_filter,
            "etcd_events_client_urls": etcd_events_client_urls_filter,
            "etcd_commands": etcd_commands_filter,
            "failure_lines": failure_lines,
            "maintenance_window": maintenance_window_filter,
            "member_problems": _filter("member_problems", member_problems),
            "node_phase_problems": _filter("node_phase_problems", node_phase_problems),
            "node_plan": _filter("node_plan", node_plan),
            "node_preflight_problems": _filter("node_preflight_problems", node_preflight_problems),
            "node_recovery_problems": _filter("node_recovery_problems", node_recovery_problems),
            "plan_problems": _filter("plan_problems", plan_problems),
            "preflight_host_problems": _filter("preflight_host_problems", preflight_host_problems),
            "preflight_setting_problems": _filter("preflight_setting_problems", preflight_setting_problems),
            "remediation_plan": remediation_plan_filter,
            # [{host, member, kernel, reason}] for the hosts whose kernel the kit cannot judge.
            "remediation_unknown": _filter("remediation_unknown", unknown_hosts),
            "run_lock_releaser": _filter("run_lock_releaser", lock_releaser),
            "run_node_step_blocker": _filter("run_node_step_blocker", node_step_blocker),
            "run_step_blocker": _filter("run_step_blocker", step_blocker),
            "snapshot_host": _filter("snapshot_host", snapshot_host),
            "snapshot_problems": _filter("snapshot_problems", snapshot_problems),
            "start_problems": _filter("start_problems", start_problems),
        }
