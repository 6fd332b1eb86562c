#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: apt_timers
short_description: Pause apt's timers (unattended-upgrades) for a rollout, and start them again after it
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - With O(state=paused), stops the given systemd timers that are active, then waits for the
    services they start (C(apt-daily-upgrade.service) runs unattended-upgrade) to finish a run
    already under way, and reads whether a reboot or poweroff is scheduled (C(shutdown -r <time>),
    as unattended-upgrades' C(Automatic-Reboot-Time) sets one).
  - With O(state=started), starts the given timers that are stopped.
  - Timers are stopped, never disabled or masked, so a run that dies leaves them stopped only until
    the host's next boot. For the same reason a reboot starts them again, so pause again after one.
  - Timers the host does not have (or that are masked) are reported in RV(absent) and otherwise
    left alone.
options:
  timers:
    description: The timer units, for example V(apt-daily.timer) and V(apt-daily-upgrade.timer).
    type: list
    elements: str
    required: true
  state:
    description:
      - V(paused) stops the active timers and waits for their services; V(started) starts the timers.
    type: str
    choices: [paused, started]
    required: true
  wait_timeout:
    description:
      - With O(state=paused), seconds to wait for a service of the timers that is running (an
        unattended-upgrade under way) before the module fails. The timers stay stopped then, and
        RV(paused) still names them, so that the caller can start them again.
    type: int
    default: 600
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: In check mode nothing is stopped or started and nothing is waited for; RV(paused),
      RV(started) and RV(running) say what would be.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: debian
requirements:
  - systemd on the managed host.
notes:
  - Needs root (become) to stop and start units.
"""

EXAMPLES = r"""
- name: Pause unattended-upgrades for the rollout
  sre.etcd_kernel.apt_timers:
    timers: [apt-daily.timer, apt-daily-upgrade.timer]
    state: paused
    wait_timeout: 600
  register: apt_paused

- name: Start the timers the pause stopped
  sre.etcd_kernel.apt_timers:
    timers: "{{ apt_paused.paused }}"
    state: started
  when: apt_paused.paused | length > 0
"""

RETURN = r"""
paused:
  description: The timers that were active and that this call stopped (O(state=paused)).
  returned: always
  type: list
  elements: str
  sample: [apt-daily.timer, apt-daily-upgrade.timer]
started:
  description: The timers this call started (O(state=started)).
  returned: always
  type: list
  elements: str
absent:
  description: The timers the host does not have, or that are masked.
  returned: always
  type: list
  elements: str
running:
  description:
    - The timers' services still running when the call returned (O(state=paused)); empty unless the
      wait timed out (the module then fails) or in check mode.
  returned: always
  type: list
  elements: str
  sample: [apt-daily-upgrade.service]
waited_s:
  description: Seconds spent waiting for the timers' services to finish; 0 when none was running.
  returned: always
  type: float
scheduled_shutdown:
  description:
    - The reboot or poweroff scheduled on the host (C(shutdown -r <time>)), or null when none is.
  returned: always
  type: dict
  sample: {mode: reboot, at: "2026-11-30T02:00:00Z"}
"""

import os
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.etcd_kernel.plugins.module_utils.systemd_units import (
    SCHEDULED_SHUTDOWN_PATH,
    SHOW_PROPERTIES,
    is_busy,
    is_present,
    parse_scheduled_shutdown,
    parse_show,
)

POLL_INTERVAL_S = 2.0


def show(module, units):
    command = [module.get_bin_path("systemctl", required=True), "show"]
    for name in SHOW_PROPERTIES:
        command += ["-p", name]
    rc, out, err = module.run_command(command + ["--"] + list(units))
    if rc != 0:
        module.fail_json(msg="systemctl show %s failed: %s" % (" ".join(units), (err or out).strip()))
    states = parse_show(out)
    return dict((unit, states.get(unit, {"Id": unit, "LoadState": "not-found"})) for unit in units)


def systemctl(module, action, units):
    rc, out, err = module.run_command([module.get_bin_path("systemctl", required=True), action, "--"] + list(units))
    if rc != 0:
        module.fail_json(msg="systemctl %s %s failed: %s" % (action, " ".join(units), (err or out).strip()))


def scheduled_shutdown(module):
    try:
        with open(SCHEDULED_SHUTDOWN_PATH) as handle:
            return parse_scheduled_shutdown(handle.read())
    except (IOError, OSError) as error:
        if os.path.exists(SCHEDULED_SHUTDOWN_PATH):
            module.fail_json(msg="cannot read %s: %s" % (SCHEDULED_SHUTDOWN_PATH, error))
        return None


def main():
    module = AnsibleModule(
        argument_spec=dict(
            timers=dict(type="list", elements="str", required=True),
            state=dict(type="str", choices=["paused", "started"], required=True),
            wait_timeout=dict(type="int", default=600),
        ),
        supports_check_mode=True,
    )
    timers = list(dict.fromkeys(module.params["timers"]))
    result = dict(changed=False, paused=[], started=[], absent=[], running=[], waited_s=0.0, scheduled_shutdown=None)
    if not timers:
        module.exit_json(**result)
    states = show(module, timers)
    present = [timer for timer in timers if is_present(states[timer])]
    result["absent"] = [timer for timer in timers if timer not in present]

    if module.params["state"] == "started":
        result["started"] = [timer for timer in present if states[timer].get("ActiveState") != "active"]
        if result["started"] and not module.check_mode:
            systemctl(module, "start", result["started"])
        result["changed"] = bool(result["started"])
        module.exit_json(**result)

    result["paused"] = [timer for timer in present if states[timer].get("ActiveState") == "active"]
    result["changed"] = bool(result["paused"])
    if result["paused"] and not module.check_mode:
        systemctl(module, "stop", result["paused"])
    # The timers are stopped now, so no new run starts; wait for one under way.
    services = [states[timer]["Unit"] for timer in present if states[timer].get("Unit")]
    started_waiting = time.monotonic()
    while services:
        result["running"] = [unit for unit, state in show(module, services).items() if is_busy(state)]
        if not result["running"] or module.check_mode:
            break
        if time.monotonic() - started_waiting >= module.params["wait_timeout"]:
            result["waited_s"] = round(time.monotonic() - started_waiting, 1)
            still_running = ", ".join(result["running"])
            module.fail_json(msg="%s still running after %ds" % (still_running, module.params["wait_timeout"]), **result)
        time.sleep(POLL_INTERVAL_S)
        result["waited_s"] = round(time.monotonic() - started_waiting, 1)
    result["scheduled_shutdown"] = scheduled_shutdown(module)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
