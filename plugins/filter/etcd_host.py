# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A host as detect saw it: the inventory's claims checked against what the host runs
(plugin_utils.etcd_host_claims), and the host's entry in the detection report
(plugin_utils.detect_report), and a node's entry where it runs no etcd member. Each filter's documentation is in the adjacent <filter_name>.yml file."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.detect_report import detected_host as build_detected_host
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.detect_report import detected_node as build_detected_node
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.detect_report import detection_report as build_report
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_host_claims import host_claim_problems


def etcd_host_problems(node, host, claims, health):
    """[{check, message}]: where the inventory and the host disagree about its etcd member."""
    try:
        return host_claim_problems(host, claims, node, health)
    except (KeyError, TypeError, AttributeError) as error:
        raise AnsibleFilterError("etcd_host_problems: %s" % error) from error


def detected_host(node, **read):
    """The detection report's entry for one host, from what detect read on it."""
    try:
        return build_detected_host(node=node, **read)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise AnsibleFilterError("detected_host: %s" % error) from error


def detected_node(node, **read):
    """The detection report's entry for a node outside the etcd group."""
    try:
        return build_detected_node(node=node, **read)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise AnsibleFilterError("detected_node: %s" % error) from error


def detection_report(parts):
    """The detection report from what every host of the play detected."""
    try:
        return build_report(**parts)
    except (KeyError, TypeError, AttributeError, ValueError) as error:
        raise AnsibleFilterError("detection_report: %s" % error) from error


class FilterModule(object):
    """What runs on a host, against what the inventory says."""

    def filters(self):
        return {"detected_host": detected_host, "detected_node": detected_node, "detection_report": detection_report,
                "etcd_host_problems": etcd_host_problems}
