# -*- coding: utf-8 -*-
# The benchmark's own callback (not part of the kit): where a run's time goes.
"""Writes {"seconds": {task name: wall seconds}, "timeline": [[epoch, task name]]} to
$BENCH_TASK_TIMES at the end of a run; the timeline lets the benchmark name the task
that ran when a write was slow.

A task's wall seconds run from its first host starting to its last host finishing,
summed over the times the task runs (a serial play runs it once per host), so the
figures add up to about the run's wall time."""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
name: task_times
type: aggregate
short_description: Wall seconds per task, as JSON for bench/rollout.py
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
        self.seconds = {}
        self.current = None  # (name, started) of the task running now
        self.timeline = []  # [epoch seconds, task name] as each task starts

    def _close_current(self):
        if self.current is not None:
            name, started = self.current
            self.seconds[name] = self.seconds.get(name, 0.0) + time.monotonic() - started
            self.current = None

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._close_current()
        self.current = (task.get_name(), time.monotonic())
        self.timeline.append([round(time.time(), 3), task.get_name()])

    def v2_playbook_on_handler_task_start(self, task):
        self.v2_playbook_on_task_start(task, False)

    def v2_playbook_on_play_start(self, play):
        self._close_current()

    def v2_playbook_on_stats(self, stats):
        self._close_current()
        path = os.environ.get("BENCH_TASK_TIMES")
        if path:
            with open(path, "w") as handle:
                json.dump({"seconds": self.seconds, "timeline": self.timeline}, handle, indent=2, sort_keys=True)
