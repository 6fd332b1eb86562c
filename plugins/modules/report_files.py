#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: report_files
short_description: Write a run's report files on the controller, in one step
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - Writes each file into O(path) on the controller, creating the folder (mode 0750) when it
    is missing; each file (mode 0640) is replaced atomically, so a reader never sees half a report.
  - The work is done by the action plugin of the same name, in Ansible's own process on the
    controller, whatever host the task runs for.
  - Never reports a change, in check mode too, where it writes as well; a report is the run's output,
    not managed state.
options:
  path:
    description: Folder on the controller that holds the reports.
    type: path
    required: true
  files:
    description: The files to write.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: File name inside O(path), without a folder.
        type: str
        required: true
      content:
        description: The file's whole content.
        type: str
        required: true
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Writes the files in check mode too.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Write the report and replace the latest one
  sre.etcd_kernel.report_files:
    path: /var/lib/etcd-kernel/reports
    files:
      - name: 20261129T120000Z.json
        content: "{{ report | to_nice_json(indent=2) }}\n"
      - name: latest.json
        content: "{{ report | to_nice_json(indent=2) }}\n"
"""

RETURN = r"""
written:
  description: The paths written, in order.
  returned: always
  type: list
  elements: str
  sample: [/var/lib/etcd-kernel/reports/latest.json]
"""
