# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""sre.etcd_kernel.run_id: a new run id, and the moment it was made, on the controller."""

from __future__ import annotations

DOCUMENTATION = r"""
name: run_id
author: Control-plane SRE team (!UNKNOWN)
short_description: A new run id and its moment, for a run that keeps no journal
description:
  - Makes a new run id, the UTC moment and a random tail (V(20261203T101749Z-k3v9q0x2m1ab)),
    and returns it with that moment in the kit's report time format (V(2026-12-03T10:17:49Z)).
  - A remediation's run id comes from M(sre.etcd_kernel.run_record); detect and mitigate,
    which keep no journal, name their report and their hold on the lock with this one.
  - A lookup runs each time its value is templated, so keep the result with
    M(ansible.builtin.set_fact) and read that.
options:
  prefix:
    description: Put before the id, with a dash (V(mitigate) gives V(mitigate-20261203T...)).
    type: str
    default: ""
"""

EXAMPLES = r"""
- name: Name this restart's hold on the lock
  ansible.builtin.set_fact:
    restart_run: "{{ lookup('sre.etcd_kernel.run_id', prefix='mitigate') }}"
"""

RETURN = r"""
_raw:
  description: One dictionary.
  type: list
  elements: dict
  contains:
    id:
      description: The run id.
      type: str
    started:
      description: The moment the id names, as the kit writes times.
      type: str
"""

import time

from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase
from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import new_run_id, utc_stamp


class LookupModule(LookupBase):

    def run(self, terms, variables=None, **kwargs):
        prefix = kwargs.pop("prefix", "")
        if terms or kwargs or not isinstance(prefix, str):
            raise AnsibleError("sre.etcd_kernel.run_id takes no terms, only prefix= (a string), got %r %r"
                               % (terms, kwargs or prefix))
        moment = time.time()
        return [{"id": new_run_id(moment, prefix), "started": utc_stamp(moment)}]
