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

# etcd's sample lines are under 200 characters (its label values are peer ids,
# gRPC method names and versions). A line longer than this is not one of them: it
# is skipped and counted, so that one bad line cannot cost more than a few real ones.
MAX_METRICS_LINE = 4096

# One sample line of the text format: name{label="value",...} value [timestamp].
# Each part is matched where the previous one ended, so that no expression is
# retried at every position of a line (a label set matched with "\{(.*)\}" and
# then searched for name="value" pairs took 77 s on a 100 kB label value).
# ASCII only: names and numbers are ASCII in the format.
_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")
_LABEL = re.compile(r'[ \t]*([a-zA-Z_][a-zA-Z0-9_]*)[ \t]*=[ \t]*"((?:[^"\\]|\\.)*)"[ \t]*')
_LABELS_END = re.compile(r"[ \t]*\}")
_VALUE_AND_TIMESTAMP = re.compile(r"[ \t]+(\S+)(?:[ \t]+(\S+))?[ \t]*\Z")
# A value as Prometheus reads it (Go's ParseFloat without its hex and "_" forms), NaN
# and infinities included. Python's float() is not used alone: it also reads "1_000"
# and other scripts' digits.
_FINITE_VALUE = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_SPECIAL_VALUE = re.compile(r"[+-]?(?:inf|infinity)|nan", re.IGNORECASE)
# Milliseconds since the epoch, an int64.
_TIMESTAMP = re.compile(r"-?[0-9]{1,19}")
_PEER_RTT = "etcd_network_peer_round_trip_time_seconds"
# The samples the kit reads. The others (most of etcd's ~1500 lines) are left
# unparsed: a bad one among them cannot change the result, so it is not counted.
_COUNTERS = ("etcd_server_leader_changes_seen_total", "etcd_server_has_leader", "process_start_time_seconds",
             _PEER_RTT + "_sum", _PEER_RTT + "_count")


def _labels(line, position):
    """({label: value}, where the label set ends) of the label set opening at position, or None when it is
    malformed. Values are kept as written (escapes included): the kit compares peer ids only."""
    labels = {}
    position += 1  # the "{"
    while True:
        end = _LABELS_END.match(line, position)
        if end:
            return labels, end.end()
        pair = _LABEL.match(line, position)
        if pair is None:
            return None
        labels[pair.group(1)] = pair.group(2)
        position = pair.end()
        if line.startswith(",", position):
            position += 1
        elif not line.startswith("}", position):
            return None


def _value(text):
    """The float a sample value stands for, or None when Prometheus would not read it."""
    if _SPECIAL_VALUE.fullmatch(text):
        return float(text)
    if not _FINITE_VALUE.fullmatch(text):
        return None
    value = float(text)
    # Beyond a double's range: Go's ParseFloat refuses it (Python's float() gives infinity).
    return value if not math.isinf(value) else None


def _labels_and_value(line, position):
    """({label: value}, float) of the sample line whose name ends at position, or None when Prometheus would
    not read it."""
    labels = {}
    if line.startswith("{", position):
        label_set = _labels(line, position)
        if label_set is None:
            return None
        labels, position = label_set
    rest = _VALUE_AND_TIMESTAMP.match(line, position)
    if rest is None or (rest.group(2) is not None and not _TIMESTAMP.fullmatch(rest.group(2))):
        return None
    value = _value(rest.group(1))
    return None if value is None else (labels, value)


def parse_etcd_metrics(text):
    """The counters the kit reads from etcd's /metrics text.

    {"leader_changes_seen_total": int, "has_leader": bool,
     "process_start_time_seconds": float (epoch seconds),
     "peer_round_trip_time_seconds": {peer id: mean seconds since the process started}}
    A counter etcd did not report is None. The round trip is the histogram's
    sum/count: the process's lifetime mean, enough to tell a slow peer link.

    Bad lines never fail the read: a line longer than MAX_METRICS_LINE is skipped
    and counted in "lines_too_long", and a line of one of these counters that
    Prometheus would not read either (a value such as "1_000" or "fast", a broken
    label set) in "lines_unreadable". Each key is there only when its count is not
    0, so that etcd's own text gives the four counters alone. NaN and infinite
    values are valid, but none of these counters is one: such a counter is None.
    """
    if not isinstance(text, str):
        raise ValueError("metrics text must be a string (etcd's /metrics body), got %s" % type(text).__name__)
    result = {"leader_changes_seen_total": None, "has_leader": None, "process_start_time_seconds": None,
              "peer_round_trip_time_seconds": {}}
    too_long = unreadable = 0
    sums, counts = {}, {}
    # Lines end in "\n" in the format; str.splitlines() would also split a label value at "\x85" or "\u2028".
    for line in text.split("\n"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if len(line) > MAX_METRICS_LINE:
            too_long += 1
            continue
        match = _NAME.match(line)
        name = match.group(0) if match else None
        if name not in _COUNTERS:
            continue
        sample = _labels_and_value(line, match.end())
        if sample is None:
            unreadable += 1
            continue
        labels, value = sample
        if math.isnan(value) or math.isinf(value):
            continue
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
    if too_long:
        result["lines_too_long"] = too_long
    if unreadable:
        result["lines_unreadable"] = unreadable
    return result
