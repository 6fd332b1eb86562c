#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_node_slot
short_description: Take, keep or free the slots of the nodes' budget kept in etcd, one per node out of service
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - The nodes outside the etcd group go in batches, and several runs (the slices of an AWX job, two
    operators' runs of their halves of the workers) may work on them side by side. What holds across all
    of them is a budget of O(budget) nodes out of service at once, kept in etcd as a semaphore of leased
    slots under O(prefix).
  - O(state=present) takes a free slot for each of O(nodes), all or none, bound to one lease of O(ttl)
    seconds, each with a key naming the run that has that node out, in one transaction. A batch goes out
    together, so it never holds some slots while it waits for the rest (two runs waiting on each other's
    half-taken batches would wait forever). While too few slots are free it looks again every 2 seconds,
    for up to O(wait) seconds, then fails naming the holders.
  - The slots this O(run_id) already holds for O(nodes) are adopted (a repeat, or a reply lost after etcd
    applied it) and their lease kept alive for a fresh O(ttl); taking again is how a run keeps its slots
    through a long drain and a reboot.
  - It refuses when another run has one of O(nodes) out, when a slot is held under another budget than
    O(budget) (every run must count against the same one), when O(nodes) are more than O(budget), and at
    once when this run's own other nodes (a failed node keeps its slot) leave too few slots.
  - O(state=absent) frees the slots of O(nodes) this O(run_id) holds; with O(nodes) empty, every slot this
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
    description: V(present) takes (or keeps) the slots of O(nodes), V(absent) frees them.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: Identifies this run; only the run that holds a slot frees it.
    type: str
    required: true
  nodes:
    description: The nodes the slots are for (their inventory names); at least one with O(state=present).
    type: list
    elements: str
    default: []
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
- name: Take a slot of the nodes' budget for each node of a batch, before draining them
  sre.etcd_kernel.etcd_node_slot:
    endpoints: [https://10.0.0.11:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    run_id: 20261124T221845Z-4f2a
    nodes: [worker3, worker4]
    budget: 2
    ttl: 2700

- name: Free one once its node is back in service
  sre.etcd_kernel.etcd_node_slot:
    endpoints: [https://10.0.0.11:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    run_id: 20261124T221845Z-4f2a
    nodes: [worker3]
    state: absent
"""

RETURN = r"""
slots:
  description: The slot each of O(nodes) holds (with O(state=present)).
  returned: always
  type: dict
  sample: {"worker3": 0, "worker4": 1}
outcome:
  description: V(taken), V(adopted) (this run held them all already; their lease kept alive), V(freed), V(free)
    (nothing to free),
    V(refused), or V(would_take) and V(would_free) in check mode. A node another run holds is never freed.
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
  returned: with O(state=absent), and in check mode
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
        nodes=dict(type="list", elements="str", default=[]),
        holder=dict(type="str", default="ansible"),
        budget=dict(type="int", default=1),
        ttl=dict(type="int", default=1800),
        wait=dict(type="float", default=1800.0),
        leader_wait=dict(type="float", default=30.0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    nodes = [node for node in params["nodes"] if node.strip()]
    if not params["run_id"].strip():
        module.fail_json(msg="run_id must not be empty")
    if params["state"] == "present" and not nodes:
        module.fail_json(msg="nodes is required to take slots: give the nodes' inventory names")
    if params["budget"] < 1:
        module.fail_json(msg="budget must be at least 1 node out at a time, got %d" % params["budget"])
    if params["ttl"] < 10:
        module.fail_json(msg="ttl must be at least 10 seconds, got %d" % params["ttl"])
    for name in ("wait", "leader_wait"):
        if not 0 <= params[name] < float("inf"):  # also refuses NaN
            module.fail_json(msg="%s must be a finite number of seconds, 0 or more, got %s" % (name, params[name]))
    done = dict(slots={}, waited_s=0.0, freed=[])
    try:
        slots = slots_over_endpoints(client_factory(params), params["endpoints"], params["budget"],
                                     params["prefix"], params["leader_wait"])
        if params["state"] == "present" and not module.check_mode:
            hold = slots.take_waiting(params["run_id"], nodes, params["holder"], params["ttl"], params["wait"])
            module.exit_json(changed=bool(hold.taken), outcome="taken" if hold.taken else "adopted",
                             **dict(done, slots=hold.slots, waited_s=round(hold.waited_s, 1)))
        held = [entry["value"] for entry in slots.held()]
        mine = sorted(set(value["node"] for value in held if value and value["run_id"] == params["run_id"]))
        if params["state"] == "present":
            adopted = all(node in mine for node in nodes)
            module.exit_json(changed=not adopted, outcome="adopted" if adopted else "would_take", held=held, **done)
        wanted = [node for node in mine if node in nodes] if nodes else mine
        if module.check_mode:
            module.exit_json(changed=bool(wanted), outcome="would_free" if wanted else "free", held=held,
                             **dict(done, freed=wanted))
        freed = [node for node in wanted if slots.free(params["run_id"], node) == "freed"]
        module.exit_json(changed=bool(freed), outcome="freed" if freed else "free", held=held,
                         **dict(done, freed=freed))
    except EtcdError as error:
        module.fail_json(msg=str(error), outcome="refused", **done)


if __name__ == "__main__":
    main()
