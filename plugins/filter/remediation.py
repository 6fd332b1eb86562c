# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Remediation helpers: etcd_commands (log and restart argv per layout),
remediation_plan (which hosts, in which order, from which kernel to which) and the
run record (run_new, run_update, run_report)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.errors import AnsibleFilterError
from jinja2 import Undefined

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_layout import (
    client_urls,
    etcd_commands,
    events_client_urls,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.maintenance_window import check_window
from ansible_collections.sre.etcd_kernel.plugins.module_utils.remediation_plan import remediation_plan, unknown_hosts
from ansible_collections.sre.etcd_kernel.plugins.module_utils.remediation_run import (
    lock_ttl_needed,
    new_run,
    run_report,
    run_update,
)


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


def remediation_plan_filter(host_reports, health, max_index_gap=1000, events_health=None):
    try:
        return remediation_plan(host_reports, health, int(max_index_gap), events_health)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("remediation_plan: %s" % error) from error


def remediation_unknown_filter(host_reports):
    """[{host, member, kernel, reason}] for the hosts whose kernel the kit cannot judge."""
    try:
        return unknown_hosts(host_reports)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("remediation_unknown: %s" % error) from error


def lock_ttl_needed_filter(timeouts):
    """The shortest lock TTL for these timeouts (see module_utils.remediation_run.lock_ttl_needed)."""
    try:
        return lock_ttl_needed(**dict(timeouts))
    except (ValueError, TypeError) as error:
        raise AnsibleFilterError("lock_ttl_needed: %s" % error) from error


def run_new_filter(fields):
    """A fresh run record from {run_id, started, check_mode, limit}."""
    try:
        return new_run(**dict(fields))
    except (ValueError, TypeError) as error:
        raise AnsibleFilterError("run_new: %s" % error) from error


def run_update_filter(run, **changes):
    """The run record with changes applied (see module_utils.remediation_run.run_update)."""
    try:
        return run_update(run, **changes)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("run_update: %s" % error) from error


def run_report_filter(run, finished):
    """The run's report, its result decided from the run record alone."""
    try:
        return run_report(run, finished)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("run_report: %s" % error) from error


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
        verdict["judged_at"] = moment.strftime("%Y-%m-%dT%H:%M:%SZ")
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
            "lock_ttl_needed": lock_ttl_needed_filter,
            "maintenance_window": maintenance_window_filter,
            "remediation_plan": remediation_plan_filter,
            "remediation_unknown": remediation_unknown_filter,
            "run_new": run_new_filter,
            "run_report": run_report_filter,
            "run_update": run_update_filter,
        }
