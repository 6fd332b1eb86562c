# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""etcd's own counters, read from the Prometheus text its client URL serves at /metrics.

Only the few the symptoms use. Python 3.8, standard library only: modules run
this on managed nodes.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import math
import re

# name{label="value",...} value [timestamp]
_SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?\s*$')
_LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*=\s*"((?:[^"\\]|\\.)*)"')
_PEER_RTT = "etcd_network_peer_round_trip_time_seconds"


def _samples(text):
    """(name, {label: value}, float) for every sample line; comments and junk are skipped."""
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        match = _SAMPLE.match(line)
        if not match:
            continue
        try:
            value = float(match.group(3))
        except ValueError:
            continue
        # Prometheus allows NaN and +Inf; none of the counters the kit reads is one.
        if math.isnan(value) or math.isinf(value):
            continue
        yield match.group(1), dict(_LABEL.findall(match.group(2) or "")), value


def parse_etcd_metrics(text):
    """The counters the kit reads from etcd's /metrics text.

    {"leader_changes_seen_total": int, "has_leader": bool,
     "process_start_time_seconds": float (epoch seconds),
     "peer_round_trip_time_seconds": {peer id: mean seconds since the process started}}
    A counter etcd did not report is None. The round trip is the histogram's
    sum/count: the process's lifetime mean, enough to tell a slow peer link.
    """
    if not isinstance(text, str):
        raise ValueError("metrics text must be a string (etcd's /metrics body), got %s" % type(text).__name__)
    result = {"leader_changes_seen_total": None, "has_leader": None, "process_start_time_seconds": None,
              "peer_round_trip_time_seconds": {}}
    sums, counts = {}, {}
    for name, labels, value in _samples(text):
        if name == "etcd_server_leader_changes_seen_total":
            result["leader_changes_seen_total"] = int(value)
        elif name == "etcd_server_has_leader":
            result["has_leader"] = value == 1
        elif name == "process_start_time_seconds":
            result["process_start_time_seconds"] = value
        elif name in (_PEER_RTT + "_sum", _PEER_RTT + "_count") and labels.get("To"):
            (sums if name.endswith("_sum") else counts)[labels["To"]] = value
    for peer_id, count in counts.items():
        if count > 0 and peer_id in sums:
            result["peer_round_trip_time_seconds"][peer_id] = sums[peer_id] / count
    return result
