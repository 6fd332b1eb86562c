#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_health
short_description: Report every etcd member's health, raft position and alarms, and the cluster's verdict
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - Lists the members through the first endpoint that answers, then asks every member for its status
    on its first client URL, all at once, so a stopped or frozen member costs one O(timeout), not one
    per member.
  - A member is healthy when its status answered within O(timeout), it reports a leader, and its
    status carries no errors other than alarms (alarms are reported apart, in RV(members[].alarms)
    and RV(cluster.alarms)).
  - The cluster is healthy when every member is healthy, the healthy members agree on one leader and
    hold quorum, their raft indexes are within O(max_index_gap) of each other, and no alarm is active.
    C(etcdctl endpoint health) in etcd 3.4 ignores alarms; this module does not.
  - Member ids are 16-digit lower-case hex strings, as C(etcdctl member list) prints them.
  - Only reads; RV(changed) is always V(false).
options:
  max_index_gap:
    description:
      - Largest difference in raft index between healthy members that still counts as in sync.
      - etcd keeps 5000 entries for slow followers after a snapshot; a follower within 1000 is
        receiving appends normally even under steady writes, one thousands behind is still catching up.
    type: int
    default: 1000
  fail_on:
    description:
      - V(none) never fails on the cluster's state (only on bad options or TLS errors).
      - V(quorum) fails when RV(cluster.quorum) is false.
      - V(healthy) fails when RV(cluster.healthy) is false.
      - A failure carries the whole result and a message naming each unhealthy member and why.
    type: str
    choices: [none, healthy, quorum]
    default: none
  wait_for:
    description:
      - Look again, about four times a second, until the cluster reaches this state or O(wait_timeout)
        passes; the result is the last look. Waiting inside the module lets a rollout move on within a
        fraction of a second of etcd being ready, where a task-level C(until) pays a task and a round
        trip per look.
      - V(none) looks once.
      - V(healthy) waits for RV(cluster.healthy).
      - V(member_healthy) waits for O(member) to be healthy and the cluster to be in sync (a member back
        from a reboot).
      - V(disruptable) waits until O(member) may be stopped; every other member healthy and in sync, no
        alarm, and quorum without it (the filter P(sre.etcd_kernel.etcd_disruption_check#filter)).
      - When the wait gives up, the module fails with the reasons and the last look's result.
    type: str
    choices: [none, healthy, member_healthy, disruptable]
    default: none
  member:
    description:
      - The member name that O(wait_for=member_healthy) and O(wait_for=disruptable) are about.
    type: str
  allow_sole_member:
    description:
      - With O(wait_for=disruptable), a cluster whose only member is O(member) may be disrupted once that
        member is healthy with no alarm; the cluster is down until it is back. Without it, such a cluster
        is never disruptable.
    type: bool
    default: false
  wait_timeout:
    description:
      - Seconds O(wait_for) waits before it gives up.
    type: float
    default: 300
  progress_timeout:
    description:
      - With O(wait_for=member_healthy), seconds the wait may go on past O(wait_timeout) while
        O(member) is visibly coming back, that is it answers and its applied raft index moved in the last
        10 s (a member receiving a snapshot from the leader, or replaying a long log). A member that
        answers nothing, or stopped moving, is given up on at O(wait_timeout) as before.
      - RV(kept_waiting_s) says how far past O(wait_timeout) the wait went.
    type: float
    default: 0
  metrics:
    description:
      - Also read every member's own counters from C(/metrics) on its client URL (after the wait, if
        any) into RV(members[].metrics), that is its leader changes, whether it has a leader, when its
        process started, and the round trip to each peer. The filter
        P(sre.etcd_kernel.etcd_symptoms#filter) uses them.
      - A member whose counters cannot be read gets RV(members[].metrics_error) instead; that never
        fails the module.
      - Both backends read them over HTTPS with the same certificates (etcd has no gRPC call for them).
    type: bool
    default: false
  local_endpoint:
    description:
      - The host's own loopback client URL, C(https://127.0.0.1:2379) with kubespray and kubeadm. Its
        status is asked together with the member list, and RV(local) names the member that answers
        there, which is the member this host really runs, whatever the inventory says.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - sre.etcd_kernel.etcd
  - sre.etcd_kernel.etcd.backend
attributes:
  check_mode:
    support: full
    details: The module only reads, so check mode returns exactly what a normal run returns.
  diff_mode:
    support: none
  platform:
    platforms: posix
requirements:
  - etcd v3.4 (the JSON gateway paths C(/v3/...)) with TLS on the client port.
  - For O(backend=etcd3), C(etcd-sdk-python) (or C(etcd3)) where the module runs.
notes:
  - A TLS failure on every endpoint (wrong O(ca_file), a client certificate etcd does not accept) fails
    the module even with O(fail_on=none), because it says nothing about the cluster.
seealso:
  - module: sre.etcd_kernel.etcd_leader
  - plugin: sre.etcd_kernel.etcd_disruption_check
    plugin_type: filter
"""

EXAMPLES = r"""
- name: Read the etcd cluster's health from the first master
  sre.etcd_kernel.etcd_health:
    endpoints: "{{ groups['etcd'] | map('extract', hostvars, 'etcd_client_url') | list }}"
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: "/etc/ssl/etcd/ssl/admin-{{ inventory_hostname }}.pem"
    key_file: "/etc/ssl/etcd/ssl/admin-{{ inventory_hostname }}-key.pem"
  register: etcd_health

- name: Stop unless the cluster is fully healthy
  sre.etcd_kernel.etcd_health:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    fail_on: healthy

- name: Wait up to a minute until etcd2 may be stopped
  sre.etcd_kernel.etcd_health:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    wait_for: disruptable
    member: etcd2
    wait_timeout: 60

- name: Read the health and every member's own counters, for the symptoms
  sre.etcd_kernel.etcd_health:
    endpoints: [https://10.0.0.11:2379, https://10.0.0.12:2379, https://10.0.0.13:2379]
    ca_file: /etc/ssl/etcd/ssl/ca.pem
    cert_file: /etc/ssl/etcd/ssl/admin-master1.pem
    key_file: /etc/ssl/etcd/ssl/admin-master1-key.pem
    metrics: true
  register: etcd_health

- name: Ask from the controller over gRPC
  sre.etcd_kernel.etcd_health:
    endpoints: [https://127.0.0.1:2379]
    ca_file: certs/ca.pem
    cert_file: certs/admin-controller.pem
    key_file: certs/admin-controller-key.pem
    backend: etcd3
  delegate_to: localhost
  run_once: true
  register: etcd_health
"""

RETURN = r"""
changed:
  description: Always V(false); the module only reads.
  returned: always
  type: bool
  sample: false
members:
  description: One entry per member (plus unanswered endpoints that match no member), sorted by name.
  returned: success, and on failure caused by O(fail_on)
  type: list
  elements: dict
  contains:
    name:
      description: Member name; V(null) for a member added but never started, or an unmatched endpoint.
      type: str
      sample: etcd1
    id:
      description: Member id as 16 lower-case hex digits; V(null) for an unmatched endpoint.
      type: str
      sample: 8e9e05c52164694d
    endpoint:
      description: The client URL the member was asked on (its first advertised one).
      type: str
      sample: https://10.0.0.11:2379
    peer_urls:
      description: The member's advertised peer URLs; empty for an unmatched endpoint.
      type: list
      elements: str
      sample: ["https://10.0.0.11:2380"]
    healthy:
      description: Answered in time, reports a leader, no errors.
      type: bool
      sample: true
    is_leader:
      description: This member reports itself as leader.
      type: bool
      sample: false
    leader_id:
      description: Id of the member this member thinks leads; V(null) when it knows no leader or did not answer.
      type: str
      sample: 91bc3c398fb3c146
    raft_term:
      description: Raft term; V(null) when the member did not answer.
      type: int
      sample: 4
    raft_index:
      description: Committed raft index as this member knows it; V(null) when it did not answer.
      type: int
      sample: 120533
    applied_index:
      description: Raft index applied to this member's store; V(null) when it did not answer.
      type: int
      sample: 120533
    db_size:
      description: Backend database size in bytes; V(null) when it did not answer.
      type: int
      sample: 2527232
    version:
      description: etcd server version; V(null) when it did not answer.
      type: str
      sample: 3.4.23
    errors:
      description: Why the member is unhealthy (timeouts, refused connections, no leader, ...).
      type: list
      elements: str
      sample: ["no answer from https://10.0.0.12:2379 (status) within 1.0 s (timeout): the member may be stopped, frozen or cut off"]
    alarms:
      description: Alarms active on this member.
      type: list
      elements: str
      sample: ["NOSPACE"]
    metrics:
      description: The member's own counters, read from its C(/metrics). A counter etcd did not report is V(null).
      returned: when O(metrics=true) and the member answered
      type: dict
      contains:
        leader_changes_seen_total:
          description: C(etcd_server_leader_changes_seen_total), leader changes this process has seen since it started.
          type: int
          sample: 1
        has_leader:
          description: C(etcd_server_has_leader) is 1.
          type: bool
          sample: true
        process_start_time_seconds:
          description: When the etcd process started, in seconds since the epoch.
          type: float
          sample: 1669716000.12
        peer_round_trip_time_seconds:
          description:
            - Mean round trip to each peer (by peer id) since the process started, from the histogram
              C(etcd_network_peer_round_trip_time_seconds); a peer not yet probed is absent.
          type: dict
          sample: {"91bc3c398fb3c146": 0.0011}
        lines_too_long:
          description: Lines of C(/metrics) skipped for being longer than etcd writes (4096 characters).
          returned: when there were some
          type: int
          sample: 1
        lines_unreadable:
          description:
            - Lines of C(/metrics) skipped because Prometheus would not read them either (a broken label set, a
              value such as V(1_000) or V(fast)). NaN and infinite values are valid, and leave their counter V(null).
          returned: when there were some
          type: int
          sample: 1
    metrics_error:
      description: Why the member's counters could not be read.
      returned: when O(metrics=true) and the member's counters could not be read
      type: str
      sample: "no answer from https://10.0.0.12:2379 (metrics) within 1.0 s (timeout): the member may be stopped, frozen or cut off"
cluster:
  description: The verdict over all members.
  returned: success, and on failure caused by O(fail_on)
  type: dict
  contains:
    member_count:
      description: Number of entries in RV(members).
      type: int
      sample: 3
    healthy_count:
      description: Number of healthy members.
      type: int
      sample: 3
    leader_id:
      description: Id of the leader the healthy members agree on; V(null) when they do not agree.
      type: str
      sample: 91bc3c398fb3c146
    leader_name:
      description: Name of that leader.
      type: str
      sample: etcd2
    leaders_agree:
      description: Every healthy member reports the same, non-zero leader.
      type: bool
      sample: true
    quorum:
      description: A majority of members is healthy and they agree on the leader.
      type: bool
      sample: true
    in_sync:
      description: The healthy members' raft indexes are within O(max_index_gap) of the highest.
      type: bool
      sample: true
    max_index_gap:
      description: Observed difference between the highest and lowest raft index of healthy members.
      type: int
      sample: 2
    alarms:
      description: Every active alarm, with the member it is raised on.
      type: list
      elements: dict
      sample: [{"member": "etcd1", "alarm": "NOSPACE"}]
    healthy:
      description: All members healthy, quorum, in sync, no alarm.
      type: bool
      sample: true
local:
  description: The member that answered on O(local_endpoint) (from the last look, when waiting).
  returned: when O(local_endpoint) is given
  type: dict
  contains:
    endpoint:
      description: O(local_endpoint).
      type: str
      sample: https://127.0.0.1:2379
    id:
      description: The id of the member that answered; V(null) when none did.
      type: str
      sample: 8e9e05c52164694d
    name:
      description: Its name in the membership; V(null) when none answered or the membership does not list it.
      type: str
      sample: etcd1
    version:
      description: Its etcd version.
      type: str
      sample: 3.4.23
    error:
      description: Why nothing answered; empty when a member did.
      type: str
      sample: ""
ready:
  description: Whether the state O(wait_for) waited for was reached.
  returned: when O(wait_for) is not V(none)
  type: bool
  sample: true
reasons:
  description: What kept the state O(wait_for) waited for from being reached, at the last look.
  returned: when O(wait_for) is not V(none)
  type: list
  elements: str
  sample: ["etcd2 is unhealthy: connection refused by https://10.0.0.12:2379 (status)"]
kept_waiting_s:
  description: Seconds the wait went past O(wait_timeout) because the member was catching up (O(progress_timeout)).
  returned: when O(wait_for) is not V(none)
  type: float
  sample: 0
waited_s:
  description: Seconds spent waiting.
  returned: when O(wait_for) is not V(none)
  type: float
  sample: 4.52
"""

import math

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import (
    collect_health,
    collect_metrics,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import DEFAULT_MAX_INDEX_GAP, describe_problems
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_backends import (
    client_factory,
    connection_argument_spec,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_wait import (
    MEMBER_CONDITIONS,
    member_progress,
    readiness,
    timeout_message,
    wait_until,
)


def main():
    argument_spec = connection_argument_spec()
    argument_spec.update(
        max_index_gap=dict(type="int", default=DEFAULT_MAX_INDEX_GAP),
        fail_on=dict(type="str", choices=["none", "healthy", "quorum"], default="none"),
        wait_for=dict(type="str", choices=["none", "healthy", "member_healthy", "disruptable"], default="none"),
        allow_sole_member=dict(type="bool", default=False),
        member=dict(type="str"),
        wait_timeout=dict(type="float", default=300),
        metrics=dict(type="bool", default=False),
        local_endpoint=dict(type="str"),
        progress_timeout=dict(type="float", default=0),
    )
    module = AnsibleModule(argument_spec=argument_spec, supports_check_mode=True,
                           required_if=[("wait_for", value, ("member",)) for value in MEMBER_CONDITIONS])
    params = module.params
    if params["max_index_gap"] < 0:
        module.fail_json(msg="max_index_gap must not be negative, got %d" % params["max_index_gap"])
    if not math.isfinite(params["wait_timeout"]) or params["wait_timeout"] < 0:
        module.fail_json(msg="wait_timeout must be a finite number of seconds, 0 or more, got %s"
                         % params["wait_timeout"])

    def look():
        return collect_health(open_client, params["endpoints"], params["timeout"], params["max_index_gap"],
                              local_endpoint=params["local_endpoint"])

    wait_for = params["wait_for"]
    try:
        open_client = client_factory(params)
        if wait_for == "none":
            health, waited = look(), None
        else:
            progress = member_progress(params["member"]) if wait_for == "member_healthy" else None
            waited = wait_until(look, lambda health: readiness(health, wait_for, params["member"],
                                                               params["max_index_gap"], params["allow_sole_member"]),
                                params["wait_timeout"], progress=progress, progress_timeout=params["progress_timeout"])
            health = waited["health"]
    except (EtcdError, ValueError) as error:
        module.fail_json(msg=str(error))
    if params["metrics"]:
        collect_metrics(open_client, health, params["timeout"])

    result = dict(changed=False, members=health["members"], cluster=health["cluster"])
    if "local" in health:
        result["local"] = health["local"]
    if waited is not None:
        result.update(ready=waited["ready"], reasons=waited["reasons"], waited_s=waited["waited_s"],
                      kept_waiting_s=waited["kept_waiting_s"])
        if not waited["ready"]:
            module.fail_json(msg=timeout_message(wait_for, params["member"], waited["waited_s"],
                                                 params["wait_timeout"], waited["reasons"], waited["kept_waiting_s"]),
                             **result)
    cluster = health["cluster"]
    fail_on = params["fail_on"]
    if (fail_on == "healthy" and not cluster["healthy"]) or (fail_on == "quorum" and not cluster["quorum"]):
        verdict = "not healthy" if fail_on == "healthy" else "without quorum"
        module.fail_json(msg="etcd cluster is %s (fail_on=%s): %s"
                         % (verdict, fail_on, "; ".join(describe_problems(health))), **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
