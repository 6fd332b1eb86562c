# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""etcd decision filters: thin wrappers over module_utils (etcd_decisions,
etcd_health_result, etcd_symptoms).

The decisions live in module_utils so that the modules (on the managed node)
and the playbooks (on the controller) make them the same way. Each filter's
documentation is in the adjacent <filter_name>.yml file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_decisions import (
    disruption_check,
    health_remediation_order,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import (
    DEFAULT_MAX_INDEX_GAP,
    describe_problems,
)
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_symptoms import classify_symptoms


def etcd_disruption_check(health, member_name, max_index_gap=DEFAULT_MAX_INDEX_GAP, allow_sole_member=False):
    """{safe, reasons}: may member_name be disrupted now, given an etcd_health result."""
    try:
        return disruption_check(health, member_name, max_index_gap, allow_sole_member)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("etcd_disruption_check: %s" % error) from error


def etcd_remediation_order(hosts, health, member_names):
    """hosts reordered: unhealthy members first, then healthy followers, the leader last."""
    try:
        return health_remediation_order(hosts, health, member_names)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("etcd_remediation_order: %s" % error) from error


def etcd_symptoms(log_lines, leader_changes=None, window_hours=1.0, members=None, metrics=None,
                  peer_restarts=None):
    """Counts of the epoll bug's symptoms in one member's etcd log (and counters), and a verdict."""
    try:
        return classify_symptoms(log_lines, leader_changes, window_hours, members=members, metrics=metrics,
                                 peer_restarts=peer_restarts)
    except (ValueError, TypeError) as error:
        raise AnsibleFilterError("etcd_symptoms: %s" % error) from error


def etcd_problems(health):
    """One line per unhealthy member or cluster-wide problem (empty for a healthy cluster)."""
    try:
        return describe_problems(health)
    except (ValueError, KeyError, TypeError) as error:
        raise AnsibleFilterError("etcd_problems: %s" % error) from error


class FilterModule(object):
    """etcd quorum safety, remediation order and symptom detection."""

    def filters(self):
        return {
            "etcd_disruption_check": etcd_disruption_check,
            "etcd_problems": etcd_problems,
            "etcd_remediation_order": etcd_remediation_order,
            "etcd_symptoms": etcd_symptoms,
        }
