# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Remediation helpers: etcd_commands (log and restart argv per layout) and
remediation_plan (which hosts, in which order, from which kernel to which)."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import datetime

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from jinja2 import Undefined

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_layout import (
    client_urls,
    etcd_commands,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.maintenance_window import check_window
from ansible_collections.sre.etcd_kernel.plugins.module_utils.remediation_plan import remediation_plan
from ansible_collections.sre.etcd_kernel.plugins.module_utils.remediation_run import remediation_report


def etcd_commands_filter(layout, container_name, since_seconds=3600):
    try:
        return etcd_commands(layout, container_name, since_seconds)
    except ValueError as error:
        raise AnsibleFilterError("etcd_commands: %s" % error) from error


def etcd_client_urls_filter(hosts, hostvars, port=2379):
    if isinstance(hosts, Undefined):
        return hosts  # let Ansible report the undefined variable itself
    try:
        return client_urls(hosts, hostvars, port)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("etcd_client_urls: %s" % error) from error


def remediation_plan_filter(host_reports, health):
    try:
        return remediation_plan(host_reports, health)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("remediation_plan: %s" % error) from error


def remediation_report_filter(run, plan, detect_reports, host_reports):
    try:
        return remediation_report(run, plan, detect_reports, host_reports)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("remediation_report: %s" % error) from error


def maintenance_window_filter(window, now=None):
    """{inside, reason} for now (UTC), or for an ISO 8601 time given as now."""
    try:
        moment = datetime.datetime.now(datetime.timezone.utc) if not now \
            else datetime.datetime.fromisoformat(str(now).replace("Z", "+00:00"))
        return check_window(window, moment)
    except ValueError as error:
        raise AnsibleFilterError("maintenance_window: %s" % error) from error


def role_variable_errors(provided, options_by_role):
    """Messages for kit variables of a wrong type or value, checked before anything runs.

    provided: {variable: value} as set in the inventory or with -e. options_by_role:
    {role: the options of its meta/argument_specs.yml}. A role checks its own
    variables only when it runs, which for the late roles is after the lock and the
    snapshot; preflight checks them all at the start instead.
    """
    if not isinstance(provided, dict) or not isinstance(options_by_role, dict):
        raise AnsibleFilterError("role_variable_errors: give the provided variables and the options "
                                 "by role as dicts")
    errors = []
    for role, options in sorted(options_by_role.items()):
        given = dict((name, provided[name]) for name in options if name in provided)
        if not given:
            continue
        # Required options with role defaults are checked when the role runs.
        spec = dict((name, dict(option, required=False)) for name, option in options.items())
        result = ArgumentSpecValidator(spec).validate(given)
        errors.extend("%s: %s" % (role, message) for message in result.error_messages)
    return errors


class FilterModule(object):
    def filters(self):
        return {
            "etcd_client_urls": etcd_client_urls_filter,
            "etcd_commands": etcd_commands_filter,
            "maintenance_window": maintenance_window_filter,
            "remediation_plan": remediation_plan_filter,
            "remediation_report": remediation_report_filter,
            "role_variable_errors": role_variable_errors,
        }
