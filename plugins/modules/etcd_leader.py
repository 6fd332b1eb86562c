#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_leader
short_description: Move etcd leadership to a member, or away from a member before it is disrupted
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - With O(target), makes that member the leader (unchanged when it already leads).
  - With O(away_from), hands leadership to the healthy, in-sync follower with the highest raft index
    when that member leads, and changes nothing when it does not. Use it before rebooting or restarting
    a member, so the cluster does not sit through an election.
  - Sends etcd's MoveLeader request to the current leader, then polls the new leader's status about
    every 0.2 s until it reports itself leader, for up to O(confirm_timeout) seconds.
  - Refuses to hand leadership to a member that is not healthy and in sync, and fails when the cluster
    has no agreed leader.
options:
  max_index_gap:
    description: Largest raft index gap behind the most advanced healthy member for a new leader.
    type: int
    default: 1000
  target:
    description: Name of the member that should lead.
    type: str
  away_from:
    description: Name of a member that should not lead.
    type: str
  confirm_timeout:
    description: Seconds to wait for the transfer and for the new leader to confirm it.
    type: float
    default: 10.0
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sre.etcd_kernel.etcd
  - sre.etcd_kernel.etcd.backend
attributes:
  check_mode:
    support: full
    details: Reports whether leadership would move and to whom, and moves nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - etcd v3.4 with TLS on the client port.
  - For O(backend=etcd3), C(etcd-sdk-python) (or C(etcd3)) where the module runs.
notes:
  - O(target) and O(away_from) are mutually exclusive and one of them is required.
  - An unknown member name fails with the list of known member names.
seealso:
  - module: sre.etcd_kernel.etcd_health
"""

EXAMPLES = r"""
- name: Hand leadership away from this host before rebooting it
  sre.etcd_kernel.etcd_leader:
    endpoints: "{{ etcd_endpoints }}"
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: "/etc/ssl/etcd/ssl/admin-{{ inventory_hostname }}.pem"
    key_file: "/etc/ssl/etcd/ssl/admin-{{ inventory_hostname }}-key.pem"
    away_from: "{{ etcd_member_name }}"
  register: etcd_leader

- name: Make etcd1 the leader
  sre.etcd_kernel.etcd_leader:
    endpoints: [https://10.0.0.11:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    target: etcd1
"""

RETURN = r"""
changed:
  description: Whether leadership moved (in check mode, whether it would move).
  returned: always
  type: bool
  sample: true
previous_leader:
  description: Name of the member that led before.
  returned: success
  type: str
  sample: etcd2
leader:
  description: Name of the member that leads now (in check mode, the one that would lead).
  returned: success
  type: str
  sample: etcd3
msg:
  description: What happened, in words.
  returned: always
  type: str
  sample: moved leadership from etcd2 to etcd3
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import transfer_leadership
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import DEFAULT_MAX_INDEX_GAP
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_backends import (
    client_factory,
    connection_argument_spec,
)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        max_index_gap=dict(type="int", default=DEFAULT_MAX_INDEX_GAP),
        target=dict(type="str"),
        away_from=dict(type="str"),
        confirm_timeout=dict(type="float", default=10.0),
    )
    module = AnsibleModule(
        argument_spec=argument_spec,
        mutually_exclusive=[("target", "away_from")],
        required_one_of=[("target", "away_from")],
        supports_check_mode=True,
    )
    params = module.params
    if params["confirm_timeout"] <= 0:
        module.fail_json(msg="confirm_timeout must be a positive number of seconds, got %s" % params["confirm_timeout"])

    try:
        result = transfer_leadership(
            client_factory(params), params["endpoints"], target=params["target"], away_from=params["away_from"],
            check_mode=module.check_mode, timeout=params["timeout"],
            confirm_timeout=params["confirm_timeout"], max_index_gap=params["max_index_gap"])
    except (EtcdError, ValueError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
