# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A node's container runtime as the epoll bug leaves it: does containerd answer, and
what its journal says.

The bug hangs containerd the way it hangs etcd (Launchpad 1996678, "containerd sporadic
timeouts"): the socket accepts a connection and nothing answers, so a client waits until
its own deadline. The kit asks containerd for its version (`ctr version`, which every
containerd ships) and gives it a bound; past the bound the runtime is not answering. The
journal of the runtime and of its client (the kubelet, where the node runs one) shows the
same bug as the clients' deadlines running out. This file holds the pure part: the probe's
command and verdict, and the journal's reading (bounded lines, a bounded count of examples).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

# kubespray's and Debian's containerd listen here.
DEFAULT_SOCKET = "/run/containerd/containerd.sock"
# The runtime, and the kubelet that is its client (the unit exists only where Kubernetes runs).
RUNTIME_UNIT = "containerd.service"
KUBELET_UNIT = "kubelet.service"
# A client's deadline running out, in the words containerd and the kubelet log it with
# (Go's context error, and gRPC's status for it in a CRI call's error).
TIMEOUT_MARKERS = ("context deadline exceeded", "code = DeadlineExceeded")
# The journal read is bounded: a node whose runtime times out all day has huge logs.
MAX_JOURNAL_LINES = 5000
MAX_LINE_CHARS = 2048
# Lines the report quotes, so the operator sees what the kit counted.
EXAMPLE_LINES = 3


def probe_command(ctr, address):
    """The runtime probe: containerd's own client asking the server for its version."""
    return [ctr, "--address", address, "version"]


def journal_command(journalctl, units, window_s):
    """The runtime units' journal of the last window_s seconds, newest MAX_JOURNAL_LINES lines."""
    command = [journalctl, "--no-pager", "--quiet", "--output", "cat", "--since", "-%ds" % int(window_s),
               "--lines", str(MAX_JOURNAL_LINES)]
    for unit in units:
        command += ["--unit", unit]
    return command


def server_version(text):
    """The server's version from `ctr version` output, or None when it printed none.

    ctr prints a Client: block, then a Server: block, each with an indented Version: line.
    """
    section = None
    for line in (text or "").splitlines():
        stripped = line.strip()
        if stripped.endswith(":") and not line.startswith((" ", "\t")):
            section = stripped[:-1].lower()
        elif section == "server" and stripped.startswith("Version:"):
            return stripped[len("Version:"):].strip() or None
    return None


def runtime_timeouts(lines):
    """{"lines", "timeouts", "examples"} for journal lines: how many were read (at most
    MAX_JOURNAL_LINES), how many are a client's deadline running out, and the first few."""
    read = list(lines or [])[-MAX_JOURNAL_LINES:]
    timeouts = 0
    examples = []
    for line in read:
        text = str(line)[:MAX_LINE_CHARS]
        if any(marker in text for marker in TIMEOUT_MARKERS):
            timeouts += 1
            if len(examples) < EXAMPLE_LINES:
                examples.append(text.strip())
    return {"lines": len(read), "timeouts": timeouts, "examples": examples}


def runtime_verdict(present, answering, journal, timeout_s):
    """(symptomatic, reasons) for a node's runtime: containerd not answering within the
    bound, or its journal holding timeouts. A node without containerd has no verdict."""
    if not present:
        return False, []
    reasons = []
    if answering is False:
        reasons.append("containerd did not answer `ctr version` within %gs" % timeout_s)
    if journal.get("timeouts"):
        reasons.append("runtime timeouts in the journal: %d" % journal["timeouts"])
    return bool(reasons), reasons
