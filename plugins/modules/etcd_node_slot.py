#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_node_slot
short_description: Take or free one slot of the nodes' budget kept in etcd, for one node out of service
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - The nodes outside the etcd group go in batches, and several runs (the slices of an AWX job, two
    operators' runs of their halves of the workers) may work on them side by side. What holds across all
    of them is a budget of O(budget) nodes out of service at once, kept in etcd as a semaphore of leased
    slots under O(prefix).
  - O(state=present) takes a free slot for O(node), bound to a lease of O(ttl) seconds, together with a
    key naming the run that has O(node) out, in one transaction. While every slot is taken it looks again
    every 2 seconds, for up to O(wait) seconds, then fails naming the holders. A slot this O(run_id)
    already holds for O(node) is adopted (a repeat, or a reply lost after etcd applied it).
  - It refuses when another run has O(node) out, and when a slot is held under another budget than
    O(budget), so that every run counts against the same one.
  - O(state=absent) frees the slot of O(node) if this O(run_id) holds it; without O(node), every slot this
    O(run_id) holds (the end of a run, whatever stopped it).
  - A holder that dies frees its slots when their lease expires.
  - Talks to etcd's JSON gateway with the Python standard library, so it runs on a managed node.
options:
  prefix:
    description:
      - The etcd key prefix of the slots. The kit's role never sets it, since runs share a budget only
        through the same prefix.
    type: str
    default: /sre.etcd_kernel/node-slots/
  state:
    description: V(present) takes a slot for O(node), V(absent) frees it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: Identifies this run; only the run that holds a slot frees it.
    type: str
    required: true
  node:
    description: The node the slot is for (its inventory name). Required with O(state=present).
    type: str
  holder:
    description: Who runs, as the messages show it to others.
    type: str
    default: ansible
  budget:
    description: How many nodes may be out of service at once, over every run against this cluster.
    type: int
    default: 1
  ttl:
    description: Seconds a slot outlives a run that died holding it; at least a node's whole disruption.
    type: int
    default: 1800
  wait:
    description: Seconds to wait for a slot to come free while every slot is taken.
    type: float
    default: 1800
  leader_wait:
    description: Seconds each etcd request goes on being retried while the members elect a leader.
    type: float
    default: 30
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sre.etcd_kernel.etcd
attributes:
  check_mode:
    support: full
    details: Reports the slots as they are; takes or frees none.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Take a slot of the nodes' budget before draining the node
  sre.etcd_kernel.etcd_node_slot:
    endpoints: [https://10.0.0.11:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    run_id: 20261124T221845Z-4f2a
    node: worker3
    budget: 2
    ttl: 2700

- name: Free it once the node is read back
  sre.etcd_kernel.etcd_node_slot:
    endpoints: [https://10.0.0.11:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    run_id: 20261124T221845Z-4f2a
    node: worker3
    state: absent
"""

RETURN = r"""
slot:
  description: The slot number this node holds (with O(state=present)), or null.
  returned: always
  type: int
  sample: 1
outcome:
  description: V(taken), V(adopted) (this run held it already), V(freed), V(free) (nothing to free, or nothing
    held without O(node)),
    V(held_by_other) (another run holds the node's slot; left alone), V(refused), or V(would_take) and V(would_free) in check mode.
  returned: always
  type: str
  sample: taken
waited_s:
  description: Seconds spent waiting for a slot to come free.
  returned: always
  type: float
  sample: 0.0
freed:
  description: The nodes whose slots this call freed.
  returned: always
  type: list
  elements: str
held:
  description: The slots held before this call, each the record its holder wrote (run_id, holder, node, slot,
    budget, since, ttl).
  returned: always
  type: list
  elements: dict
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_backends import (
    client_factory,
    connection_argument_spec,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_slots import (
    DEFAULT_SLOT_PREFIX,
    slots_over_endpoints,
)


def main():
    argument_spec = connection_argument_spec(with_backend=False)
    argument_spec.update(
        prefix=dict(type="str", default=DEFAULT_SLOT_PREFIX),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        run_id=dict(type="str", required=True),
        node=dict(type="str"),
        holder=dict(type="str", default="ansible"),
        budget=dict(type="int", default=1),
        ttl=dict(type="int", default=1800),
        wait=dict(type="float", default=1800.0),
        leader_wait=dict(type="float", default=30.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if not params["run_id"].strip():
        module.fail_json(msg="run_id must not be empty")
    node = params["node"]
    if params["state"] == "present" and not (node or "").strip():
        module.fail_json(msg="node is required to take a slot: give the node's inventory name")
    if params["budget"] < 1:
        module.fail_json(msg="budget must be at least 1 node out at a time, got %d" % params["budget"])
    if params["ttl"] < 10:
        module.fail_json(msg="ttl must be at least 10 seconds, got %d" % params["ttl"])
    for name in ("wait", "leader_wait"):
        if not 0 <= params[name] < float("inf"):  # also refuses NaN
            module.fail_json(msg="%s must be a finite number of seconds, 0 or more, got %s" % (name, params[name]))
    try:
        slots = slots_over_endpoints(client_factory(params), params["endpoints"], params["budget"],
                                     params["prefix"], params["leader_wait"])
        held = [entry["value"] for entry in slots.held()]
        if params["state"] == "absent" and not node:
            mine = sorted(set(value["node"] for value in held if value and value["run_id"] == params["run_id"]))
            freed = mine if module.check_mode else slots.free_all(params["run_id"])
            module.exit_json(changed=bool(freed), slot=None, outcome="freed" if freed else "free", waited_s=0.0,
                             freed=freed, held=held)
        claim = slots.node_holder(node)
        ours = claim is not None and claim.get("run_id") == params["run_id"]
        if params["state"] == "absent":
            if module.check_mode:
                module.exit_json(changed=ours, slot=None, outcome="would_free" if ours else
                                 ("free" if claim is None else "held_by_other"), waited_s=0.0, freed=[], held=held)
            outcome = slots.free(params["run_id"], node)
            module.exit_json(changed=outcome == "freed", slot=None, outcome=outcome, waited_s=0.0,
                             freed=[node] if outcome == "freed" else [], held=held)
        if module.check_mode:
            module.exit_json(changed=not ours, slot=claim["slot"] if ours else None,
                             outcome="adopted" if ours else "would_take", waited_s=0.0, freed=[], held=held)
        index, waited = slots.take_waiting(params["run_id"], node, params["holder"], params["ttl"], params["wait"])
        module.exit_json(changed=not ours, slot=index, outcome="adopted" if ours else "taken",
                         waited_s=round(waited, 1), freed=[], held=held)
    except EtcdError as error:
        module.fail_json(msg=str(error), slot=None, outcome="refused", waited_s=0.0, freed=[])


if __name__ == "__main__":
    main()
