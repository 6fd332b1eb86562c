#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: reboot
short_description: Reboot a machine and wait for it, polling twice a second
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - M(ansible.builtin.reboot) with one change; the work is done by the action plugin of the same name.
  - While it waits for the new boot, it checks twice a second instead of backing off
    exponentially (2, 4, 8, then 12 seconds between attempts), so the kit learns that a control-plane
    host is back within half a second of its boot.
  - Takes the same options as M(ansible.builtin.reboot); those the kit uses are listed here.
options:
  msg:
    description: Message shown to users before the reboot.
    type: str
    default: Reboot initiated by Ansible
  reboot_command:
    description: Command that reboots the host, with its arguments (default C(shutdown -r)).
    type: str
  boot_time_command:
    description: Command whose output changes with every boot.
    type: str
    default: cat /proc/sys/kernel/random/boot_id
  reboot_timeout:
    description: Seconds to wait for the host to come back.
    type: int
    default: 600
  pre_reboot_delay:
    description: Seconds to wait before the reboot.
    type: int
    default: 0
  post_reboot_delay:
    description: Seconds to wait after the host came back.
    type: int
    default: 0
  test_command:
    description: Command that must succeed on the rebooted host.
    type: str
    default: whoami
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports a reboot without doing it, as the builtin does.
  diff_mode:
    support: none
  platform:
    platforms: posix
seealso:
  - module: ansible.builtin.reboot
"""

EXAMPLES = r"""
- name: Reboot into the new kernel
  sre.etcd_kernel.reboot:
    msg: Rebooting into 5.4.0-136-generic
    reboot_timeout: 600
"""

RETURN = r"""
rebooted:
  description: Whether the host rebooted.
  returned: always
  type: bool
  sample: true
elapsed:
  description: Seconds from the reboot until the host was back.
  returned: always
  type: int
  sample: 23
"""
