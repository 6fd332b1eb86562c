# -*- coding: utf-8 -*-
# The benchmark's own callback (not part of the kit): where a run's time goes.
"""Writes {task name: seconds summed over hosts} to $BENCH_TASK_TIMES at the end of a run."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: Seconds per task, summed over hosts, as JSON for bench/rollout.py
description:
  - Enabled only by the benchmark, through ANSIBLE_CALLBACKS_ENABLED.
  - Writes the file named by the BENCH_TASK_TIMES environment variable.
"""

import json
import os
import time

from ansible.plugins.callback import CallbackBase


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "task_times"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.started = {}
        self.seconds = {}

    def v2_runner_on_start(self, host, task):
        self.started[(host.get_name(), task._uuid)] = time.monotonic()

    def _finished(self, result, *_args, **_kwargs):
        key = (result._host.get_name(), result._task._uuid)
        if key in self.started:
            name = result._task.get_name()
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - self.started.pop(key)

    v2_runner_on_ok = v2_runner_on_failed = v2_runner_on_skipped = v2_runner_on_unreachable = _finished

    def v2_playbook_on_stats(self, stats):
        path = os.environ.get("BENCH_TASK_TIMES")
        if path:
            with open(path, "w") as handle:
                json.dump(self.seconds, handle, indent=2, sort_keys=True)
