#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: run_record
short_description: Record one step of a remediation run in its journal, and return the run
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - The one writer of a run's state. Appends one record (the event, the controller's time and the
    event's fields) to the run's journal on the controller, C(<report dir>/journal/<run id>.jsonl),
    flushed to disk, then folds the whole journal into the run record and returns it as the fact
    C(etcd_kernel_run) (and the journal's path as C(etcd_kernel_journal)). Delegate it to localhost,
    with delegate_facts, so that the controller holds the facts.
  - O(event=started) begins a run. It names the run (its UTC start and a random tail), starts the
    journal in O(report_dir), and lists the earlier runs since the last real run that finished whose journal
    has no end (still running elsewhere, or their controller died); the report shows them.
  - O(event=finished) also returns the report (C(etcd_kernel_report)), made from the journal alone.
  - Every other event's fields are given as options of the same names; each event takes exactly its
    own (see C(plugins/plugin_utils/run_journal.py), EVENTS). The work is done by the action plugin of
    the same name, in Ansible's own process on the controller.
  - Never reports a change, in check mode too, where it records as well.
options:
  event:
    description: What happened.
    type: str
    required: true
    choices: [started, window, phase, planned, lock_taken, lock_released, snapshot_saved, apt_paused,
              apt_resumed, host_started, leader_handoff, rebooting, fallback_used, member_healthy,
              kernel_read_back, host_done, window_closed, failed, finished]
  report_dir:
    description: With O(event=started), the folder on the controller the run's reports go in; the journal goes in its C(journal) folder.
    type: path
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Records in check mode too; a planning run has a journal and a report.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Start the run's journal
  sre.etcd_kernel.run_record:
    event: started
    report_dir: "{{ etcd_kernel_report_dir }}"
  delegate_to: localhost
  delegate_facts: true
  run_once: true

- name: Record that the member goes down (its time starts the downtime)
  sre.etcd_kernel.run_record:
    event: rebooting
    host: "{{ inventory_hostname }}"
  delegate_to: localhost
  delegate_facts: true
"""

RETURN = r"""
journal:
  description: The journal's path on the controller.
  returned: success
  type: str
  sample: reports/journal/20261202T080000Z-0123456789ab.jsonl
ansible_facts:
  description: The run record (etcd_kernel_run), the journal's path (etcd_kernel_journal), and after
    O(event=finished) the report (etcd_kernel_report).
  returned: success
  type: dict
"""
