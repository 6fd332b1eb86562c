# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The inventory's claims about a host, checked against what the host runs
(plugin_utils.etcd_host_claims). The filter's documentation is in etcd_host_problems.yml."""

from __future__ import annotations

from ansible.errors import AnsibleFilterError

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_host_claims import host_claim_problems


def etcd_host_problems(node, host, claims, health):
    """[{check, message}]: where the inventory and the host disagree about its etcd member."""
    try:
        return host_claim_problems(host, claims, node, health)
    except (KeyError, TypeError, AttributeError) as error:
        raise AnsibleFilterError("etcd_host_problems: %s" % error) from error


class FilterModule(object):
    """What runs on a host, against what the inventory says."""

    def filters(self):
        return {"etcd_host_problems": etcd_host_problems}
