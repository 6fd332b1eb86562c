#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_lock
short_description: Take, refresh or release a cluster-wide run lock kept in etcd
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - Keeps one key in etcd, created only if absent and bound to a lease with O(ttl), so that two runs
    (a scheduled AWX job and a manual run) never work on the same cluster at once, and a run that
    dies frees the lock when the lease expires.
  - O(state=present) takes the lock, or refreshes it (a fresh lease of O(ttl)) when this O(run_id)
    already holds it. When another run holds it, the module fails with who holds it, since when and
    when it expires.
  - O(state=present) with O(require_held=true) only refreshes, for the checks mid-run before each
    disruption. A lock that is free or held by another run then stops the run instead of being taken again.
  - O(state=absent) frees the lock if this O(run_id) holds it; a lock held by another run is left
    alone.
  - A key this module did not write counts as held by someone else, and is never taken, refreshed or
    released. That is a value that is not its lock record (not UTF-8, not JSON, not the object it writes),
    which the message shows as a short printable excerpt, and a key without a lease (C(etcdctl put) writes
    one), which would never expire; the message gives the C(etcdctl del) command that clears it.
  - An acquire whose reply is lost after etcd applied it (a timeout or a reset) is recognised by this
    O(run_id) on the key and adopted, so it does not leave a lock behind that blocks the next run.
  - Talks to etcd's JSON gateway with the Python standard library, so it runs on a managed node.
options:
  key:
    description:
      - The etcd key of the lock. The kit's role never sets it, since two runs exclude each other only
        through the same key; every run of the kit uses this default.
    type: str
    default: /sre.etcd_kernel/remediation-lock
  state:
    description: V(present) takes or refreshes the lock, V(absent) releases it.
    type: str
    choices: [present, absent]
    default: present
  run_id:
    description: Identifies this run; only the run that holds the lock refreshes or releases it.
    type: str
    required: true
  holder:
    description: Who runs, as the refusal message shows it to others (for example V(awx job 42) or V(alice@laptop)).
    type: str
    default: ansible
  ttl:
    description: Seconds the lock outlives a run that stopped refreshing it.
    type: int
    default: 1800
  require_held:
    description:
      - With O(state=present), only refresh the lock, never take it; for the checks mid-run.
      - When the lock is free (this run's lease lapsed, or someone deleted the key) the module fails with
        RV(lock=lost) and leaves the key absent. Another run may have started in between, and taking the
        lock again would hide that.
      - When another run holds it, the module fails with RV(lock=held_by_other) and who holds it.
      - Only for O(state=present); the module refuses it with O(state=absent).
    type: bool
    default: false
  leader_wait:
    description:
      - Seconds each etcd request goes on being retried, over all O(endpoints) in turn with short pauses,
        while the errors are the ones a leader election explains (no leader, leader changed, request
        timed out, no answer or connection refused on some endpoints).
      - Every lock request needs a leader. When the leader's etcd stops or freezes, the other members
        have none for an election timeout (5 s in kubespray) and a few rounds of voting, so a run
        started then would fail although a majority of members is healthy.
      - When no leader comes within it, the message says whether an election is still under way among
        the members that answer, or too few members answer for quorum.
      - V(0) asks each endpoint once.
    type: float
    default: 30
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sre.etcd_kernel.etcd
attributes:
  check_mode:
    support: full
    details: Reports whether the lock could be taken, refreshed or released; writes nothing. With
      O(require_held=true) it fails, as a real run would, when the lock is not this run's.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Take the remediation lock
  sre.etcd_kernel.etcd_lock:
    endpoints: [https://127.0.0.1:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    run_id: "{{ hostvars['localhost'].etcd_kernel_run.run_id }}"
    holder: "{{ lookup('ansible.builtin.env', 'USER') }}@{{ lookup('ansible.builtin.pipe', 'hostname') }}"
    ttl: 1800

- name: Before each disruption, confirm the lock is still this run's and refresh it (never retake it)
  sre.etcd_kernel.etcd_lock:
    endpoints: [https://127.0.0.1:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    run_id: "{{ hostvars['localhost'].etcd_kernel_run.run_id }}"
    ttl: 1800
    require_held: true

- name: Release it
  sre.etcd_kernel.etcd_lock:
    endpoints: [https://127.0.0.1:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    run_id: "{{ hostvars['localhost'].etcd_kernel_run.run_id }}"
    state: absent
"""

RETURN = r"""
lock:
  description:
    - What happened to the lock. V(released) only when this call deleted the key; when it was already
      gone or another run held it, V(free) or V(held_by_other).
    - With O(require_held=true), a failed call returns V(lost) (the lock is gone) or V(held_by_other).
  returned: always
  type: str
  sample: acquired
  choices: [acquired, refreshed, released, free, held_by_other, lost, would_acquire, would_refresh, would_release]
holder:
  description:
    - The lock's value before this call (null when it was free); after a failed O(require_held=true)
      refresh, the value the refresh found.
    - A value this module did not write has C(run_id), C(holder) and C(since) null, C(unreadable) (why it
      is not a lock record, V(not UTF-8), V(not JSON) or V(not a lock record)), C(size) (bytes) and
      C(excerpt) (at most 64 printable ASCII characters of it).
  returned: always
  type: dict
  sample: {"run_id": "20261124T221845Z-4f2a", "holder": "alice@laptop", "since": "2026-11-24T22:18:45Z", "ttl": 1800}
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_backends import (
    client_factory,
    connection_argument_spec,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_lock import (
    DEFAULT_LEADER_WAIT,
    DEFAULT_LOCK_KEY,
    LockHeld,
    LockLost,
    lock_over_endpoints,
)


def main():
    argument_spec = connection_argument_spec(with_backend=False)
    argument_spec.update(
        key=dict(type="str", default=DEFAULT_LOCK_KEY, no_log=False),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        run_id=dict(type="str", required=True),
        holder=dict(type="str", default="ansible"),
        ttl=dict(type="int", default=1800),
        require_held=dict(type="bool", default=False),
        leader_wait=dict(type="float", default=DEFAULT_LEADER_WAIT),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True)
    params = module.params
    if params["ttl"] < 10:
        module.fail_json(msg="ttl must be at least 10 seconds, got %d" % params["ttl"])
    if not params["run_id"].strip():
        # Every run would hold "the same" lock: the one thing the lock is there to prevent.
        module.fail_json(msg="run_id must not be empty: give each run its own id (the kit uses its run record's)")
    if not 0 <= params["leader_wait"] < float("inf"):  # also refuses NaN
        module.fail_json(msg="leader_wait must be a finite number of seconds, 0 or more, got %s"
                             % params["leader_wait"])
    if params["require_held"] and params["state"] != "present":
        module.fail_json(msg="require_held applies to state=present only (it refreshes without taking); "
                             "drop it from the release task")
    try:
        # The JSON gateway, not the backend option: the lock runs on a managed node.
        lock = lock_over_endpoints(client_factory(params), params["endpoints"], params["key"],
                                   params["leader_wait"], params["timeout"])
        current = lock.read()
        value = current[0] if current else None
        ours = lock.is_ours(current, params["run_id"])
        if params["state"] == "present" and params["require_held"]:
            if module.check_mode:
                lock.check_held(current, params["run_id"], params["ttl"])
                module.exit_json(changed=True, lock="would_refresh", holder=value)
            outcome = lock.refresh(params["run_id"], params["ttl"])
            module.exit_json(changed=True, lock=outcome, holder=value)
        if params["state"] == "present":
            if module.check_mode:
                if value is not None and not ours:
                    module.fail_json(msg=lock.held_message(current), holder=value)
                module.exit_json(changed=True, lock="would_refresh" if ours else "would_acquire", holder=value)
            outcome = lock.acquire(params["run_id"], params["holder"], params["ttl"])
            module.exit_json(changed=True, lock=outcome, holder=value)
        if module.check_mode:
            module.exit_json(changed=ours, lock="would_release" if ours else
                             ("free" if value is None else "held_by_other"), holder=value)
        outcome = lock.release(params["run_id"])
        if outcome == "held_by_other":
            if value is not None and not ours:
                module.warn("the lock is not this run's; left alone: %s" % lock.held_message(current))
            else:
                # The first read showed the lock free or ours: someone took it in between.
                module.warn("the lock is held by another run, which took it during this release; left alone")
        module.exit_json(changed=outcome == "released", lock=outcome, holder=value)
    except LockLost as error:
        module.fail_json(msg=str(error), lock=error.outcome, holder=error.holder)
    except LockHeld as error:
        module.fail_json(msg=str(error), holder=None)
    except EtcdError as error:
        module.fail_json(msg=str(error))


if __name__ == "__main__":
    main()
