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
author: Control-plane SRE team
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
  endpoints:
    description:
      - etcd client URLs to ask, for example V(https://10.0.0.11:2379); see M(sre.etcd_kernel.etcd_health).
    type: list
    elements: str
    required: true
  ca_file:
    description: CA certificate that signed etcd's server certificates (kubespray V(/etc/ssl/etcd/ssl/ca.pem)).
    type: path
    required: true
  cert_file:
    description: Client certificate etcd accepts (kubespray V(/etc/ssl/etcd/ssl/admin-<host>.pem)).
    type: path
    required: true
  key_file:
    description: Key of O(cert_file).
    type: path
    required: true
  backend:
    description:
      - V(gateway) (standard library, JSON gateway over HTTPS) or V(etcd3) (gRPC through C(pyetcd) or
        C(etcd3)); see M(sre.etcd_kernel.etcd_health).
    type: str
    choices: [gateway, etcd3]
    default: gateway
  timeout:
    description: Seconds to wait for each health request.
    type: float
    default: 1.0
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
attributes:
  check_mode:
    description: Can run in check_mode and return changed status prediction without modifying target.
    support: full
    details: Reports whether leadership would move and to whom, and moves nothing.
  diff_mode:
    description: Will return details on what has changed (or possibly needs changing in diff mode).
    support: none
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

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_cluster import EtcdError, transfer_leadership
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_gateway import gateway_client_factory
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_pyclient import grpc_client_factory

BACKENDS = {"gateway": gateway_client_factory, "etcd3": grpc_client_factory}


def main():
    module = AnsibleModule(
        argument_spec=dict(
            endpoints=dict(type="list", elements="str", required=True),
            ca_file=dict(type="path", required=True),
            cert_file=dict(type="path", required=True),
            key_file=dict(type="path", required=True),
            backend=dict(type="str", choices=list(BACKENDS), default="gateway"),
            timeout=dict(type="float", default=1.0),
            max_index_gap=dict(type="int", default=1000),
            target=dict(type="str"),
            away_from=dict(type="str"),
            confirm_timeout=dict(type="float", default=10.0),
        ),
        mutually_exclusive=[("target", "away_from")],
        required_one_of=[("target", "away_from")],
        supports_check_mode=True,
    )
    params = module.params
    for option in ("timeout", "confirm_timeout"):
        if params[option] <= 0:
            module.fail_json(msg="%s must be a positive number of seconds, got %s" % (option, params[option]))

    try:
        open_client = BACKENDS[params["backend"]](params["ca_file"], params["cert_file"], params["key_file"],
                                                  params["timeout"])
        result = transfer_leadership(
            open_client, params["endpoints"], target=params["target"], away_from=params["away_from"],
            check_mode=module.check_mode, timeout=params["timeout"],
            confirm_timeout=params["confirm_timeout"], max_index_gap=params["max_index_gap"])
    except (EtcdError, ValueError) as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
