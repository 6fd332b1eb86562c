# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""sre.etcd_kernel.reboot: ansible.builtin.reboot, polling twice a second.

The builtin backs off exponentially (2, 4, 8, then 12 s between attempts) while it
waits for the new boot. With one etcd member out at a time, every second the kit
waits after the host is back is a second of reduced redundancy and of rollout time,
and a handful of control-plane hosts cannot be overwhelmed by two probes a second.
Everything else (commands, boot detection, timeouts, messages) is the builtin's.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import time

from ansible.errors import AnsibleConnectionFailure
from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action.reboot import ActionModule as BuiltinReboot
from ansible.plugins.action.reboot import TimedOutException
from ansible.utils.display import Display

display = Display()

POLL_INTERVAL_SECONDS = 0.5


class ActionModule(BuiltinReboot):

    def do_until_success_or_timeout(self, action, reboot_timeout, action_desc, distribution, action_kwargs=None):
        deadline = time.monotonic() + reboot_timeout
        last_error = ""
        while time.monotonic() < deadline:
            try:
                action(distribution=distribution, **(action_kwargs or {}))
                return
            except Exception as error:  # the builtin retries on any failure too
                if isinstance(error, AnsibleConnectionFailure):
                    try:
                        self._connection.reset()
                    except AnsibleConnectionFailure:
                        pass
                lines = to_text(error).splitlines()
                last_error = "%s: %s fail '%s'" % (self._task.action, action_desc, lines[-1] if lines else "")
                display.vvv("%s, retrying in %.1f seconds..." % (last_error, POLL_INTERVAL_SECONDS))
                time.sleep(POLL_INTERVAL_SECONDS)
        if last_error:
            display.vvv("Last error message before the timeout exception - %s" % last_error)
        raise TimedOutException("Timed out waiting for %s (timeout=%s)" % (action_desc, reboot_timeout))
