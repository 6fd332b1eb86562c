#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: runtime_status
short_description: Read whether a node's containerd answers, and the runtime timeouts in its journal
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - Asks containerd for its version (C(ctr version)) on its socket, and waits at most O(timeout)
    seconds for the answer. The epoll bug hangs containerd so that its socket accepts and nothing
    answers, so past the bound the runtime counts as not answering.
  - Reads the last O(journal_window_s) seconds of the journal of containerd and of the kubelet (its
    client, where the node runs one) and counts the runtime timeouts in it, each a client's deadline running
    out (C(context deadline exceeded)).
  - Reads the state of C(containerd.service) and C(kubelet.service) (none where systemd does not run).
    containerd is the node's runtime where its socket exists or its unit runs or is enabled; a node
    where it is not has no runtime to judge (RV(present) is false), and a unit installed but disabled
    and stopped does not count.
  - Changes nothing.
options:
  socket:
    description: containerd's socket.
    type: path
    default: /run/containerd/containerd.sock
  timeout:
    description: Seconds containerd may take to answer before it counts as not answering.
    type: float
    default: 10
  journal_window_s:
    description: Seconds of the runtime's journal to read; 0 reads none.
    type: int
    default: 3600
  journal_timeout:
    description: Seconds the journal read may take; a read that takes longer is reported in the C(error) of RV(journal).
    type: int
    default: 60
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads only; the same in check mode.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: debian
requirements:
  - systemd and journalctl on the managed host; ctr where containerd runs.
notes:
  - Needs root (become) to reach containerd's socket and the system journal.
"""

EXAMPLES = r"""
- name: Read the node's container runtime
  sre.etcd_kernel.runtime_status:
    timeout: 10
    journal_window_s: 3600
  register: runtime
"""

RETURN = r"""
present:
  description: containerd is the node's runtime (its socket exists, or its unit runs or is enabled).
  returned: always
  type: bool
active:
  description: C(containerd.service)'s ActiveState, or null where the unit does not exist.
  returned: always
  type: str
kubelet:
  description: C(kubelet.service)'s ActiveState, or null where the node has no kubelet unit.
  returned: always
  type: str
answering:
  description: containerd answered C(ctr version) within O(timeout); null where the node has none.
  returned: always
  type: bool
answer_s:
  description: Seconds the probe took (O(timeout) when it got no answer).
  returned: always
  type: float
version:
  description: The version containerd's server answered with.
  returned: always
  type: str
error:
  description: Why containerd did not answer (empty when it did).
  returned: always
  type: str
journal:
  description:
    - The runtime's journal as read, with C(lines) (read), C(timeouts) (lines that are a client's deadline
      running out), C(examples) (the first few of them) and C(error) (why it could not be read, empty when
      it was).
  returned: always
  type: dict
symptomatic:
  description: containerd did not answer in time, or its journal holds runtime timeouts.
  returned: always
  type: bool
reasons:
  description: Why the runtime is symptomatic, in words.
  returned: always
  type: list
  elements: str
"""

import os
import subprocess
import time

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.etcd_kernel.plugins.module_utils.container_runtime import (
    DEFAULT_SOCKET,
    KUBELET_UNIT,
    RUNTIME_UNIT,
    journal_command,
    probe_command,
    runtime_timeouts,
    runtime_verdict,
    server_version,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.systemd_units import (
    SHOW_PROPERTIES,
    is_present,
    parse_show,
)

# Where kubespray installs ctr; Debian's containerd package puts it in /usr/bin.
EXTRA_PATHS = ["/usr/local/bin"]


def unit_states(module):
    systemctl = module.get_bin_path("systemctl", required=True)
    properties = SHOW_PROPERTIES + ("UnitFileState",)
    command = [systemctl, "show"] + ["-p%s" % name for name in properties] + ["--", RUNTIME_UNIT, KUBELET_UNIT]
    rc, out, err = module.run_command(command)
    # A node that systemd does not run has no units to read: the socket alone tells then.
    states = parse_show(out) if rc == 0 else {}
    return [states.get(unit, {}) for unit in (RUNTIME_UNIT, KUBELET_UNIT)]


def runs_on_node(runtime, socket):
    """containerd is this node's runtime: its socket is there, or its unit is running or
    set to start at boot (a unit installed and disabled is a package, not a runtime)."""
    return os.path.exists(socket) or (is_present(runtime) and (
        runtime.get("ActiveState") != "inactive" or runtime.get("UnitFileState") in ("enabled", "enabled-runtime")))


def run_bounded(command, timeout):
    """(rc, stdout, stderr, seconds); rc is None when the command had no answer in time."""
    started = time.monotonic()
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout,
                              universal_newlines=True, errors="replace")
    except subprocess.TimeoutExpired:
        return None, "", "", timeout
    except OSError as error:
        return 127, "", "cannot run %s: %s" % (command[0], error), 0.0
    return done.returncode, done.stdout, done.stderr, round(time.monotonic() - started, 3)


def probe(module, socket, timeout):
    if not os.path.exists(socket):
        # ctr would keep dialing until the bound: no socket is no answer, at once.
        return False, 0.0, None, "containerd's socket %s does not exist (containerd is not running)" % socket
    ctr = module.get_bin_path("ctr", opt_dirs=EXTRA_PATHS)
    if ctr is None:
        return None, 0.0, None, "ctr, containerd's client, is not on the node's PATH or in /usr/local/bin"
    rc, out, err, seconds = run_bounded(probe_command(ctr, socket), timeout)
    if rc is None:
        return False, seconds, None, "no answer within %gs on %s" % (timeout, socket)
    version = server_version(out)
    if rc != 0 or version is None:
        return False, seconds, None, (err or out).strip() or "ctr version exited %s without a server version" % rc
    return True, seconds, version, ""


def read_journal(module, window_s, timeout):
    if window_s <= 0:
        return dict(runtime_timeouts([]), error="")
    journalctl = module.get_bin_path("journalctl", required=True)
    rc, out, err, seconds = run_bounded(journal_command(journalctl, [RUNTIME_UNIT, KUBELET_UNIT], window_s), timeout)
    if rc is None:
        return dict(runtime_timeouts([]), error="the journal read took more than %ds" % timeout)
    if rc != 0:
        return dict(runtime_timeouts([]), error=(err or out).strip() or "journalctl exited %d" % rc)
    return dict(runtime_timeouts(out.splitlines()), error="")


def main():
    module = AnsibleModule(
        argument_spec=dict(
            socket=dict(type="path", default=DEFAULT_SOCKET),
            timeout=dict(type="float", default=10),
            journal_window_s=dict(type="int", default=3600),
            journal_timeout=dict(type="int", default=60),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if not 0 < params["timeout"] <= 300:
        module.fail_json(msg="timeout must be more than 0 and at most 300 seconds, got %r" % params["timeout"])
    runtime, kubelet = unit_states(module)
    present = runs_on_node(runtime, params["socket"])
    result = dict(changed=False, present=present, active=runtime.get("ActiveState") if is_present(runtime) else None,
                  kubelet=kubelet.get("ActiveState") if is_present(kubelet) else None,
                  answering=None, answer_s=0.0, version=None, error="",
                  journal=dict(runtime_timeouts([]), error=""))
    if present:
        result["answering"], result["answer_s"], result["version"], result["error"] = probe(
            module, params["socket"], params["timeout"])
        result["journal"] = read_journal(module, params["journal_window_s"], params["journal_timeout"])
    result["symptomatic"], result["reasons"] = runtime_verdict(present, result["answering"], result["journal"],
                                                               params["timeout"])
    module.exit_json(**result)


if __name__ == "__main__":
    main()
