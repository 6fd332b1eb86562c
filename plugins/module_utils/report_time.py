# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The one form of a moment in what the kit writes, and of a run's id.

Every time in a report, in a run's journal and record, in the run lock and in what the
kit reads back from a host (a scheduled shutdown) is UTC, ISO 8601, to the second:
TIME_FORMAT. A run's id (a remediation's, a detection's, a mitigation's hold on the lock)
is its UTC start, so that journals and reports sort by time, and a random tail, so that
two runs started in the same second differ; it names the lock, the snapshot and the
report files.

Shipped to managed nodes by the etcd_lock module: Python 3.8, standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import secrets
import string
import time

TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
RUN_ID_TIME_FORMAT = "%Y%m%dT%H%M%SZ"
RUN_ID_TAIL = 12


def utc_stamp(seconds=None):
    """seconds since the epoch (now, if None) in TIME_FORMAT."""
    return time.strftime(TIME_FORMAT, time.gmtime(time.time() if seconds is None else seconds))


def new_run_id(seconds, prefix=""):
    """A new run id for a run started at seconds since the epoch: [prefix-]<UTC start>-<random tail>."""
    alphabet = string.ascii_lowercase + string.digits
    run_id = time.strftime(RUN_ID_TIME_FORMAT, time.gmtime(seconds)) + "-" + "".join(
        secrets.choice(alphabet) for _ in range(RUN_ID_TAIL))
    return prefix + "-" + run_id if prefix else run_id
