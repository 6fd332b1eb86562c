"""flow_host: Ansible's local connection, entered into one flow host's mount namespace.

The flow tier's etcd hosts are aliases of this machine (tests/flow/flow_hosts.py); each
keeps its own /etc, /var, /boot, /usr and /run in a mount namespace. This connection
runs every command of a task inside that namespace, and reports the host unreachable
while it is powered off (between the reboot command and the end of its boot), as SSH
would. It is not `local` because Ansible's reboot refuses that transport (it would
reboot the controller); the flow host's reboot is the harness's instead.
"""
from __future__ import annotations

DOCUMENTATION = """
    name: flow_host
    short_description: run on a flow-tier host alias (a mount namespace of the controller)
    description:
        - Ansible's local connection, with each command run through nsenter in the alias's mount namespace.
    options:
        flow_host_dir:
            description: The alias's folder; its C(pid) file names the process holding the namespace.
            type: str
            required: true
            vars:
                - name: ansible_flow_host_dir
    extends_documentation_fragment:
        - connection_pipelining
"""

import os
import shlex
import subprocess

from ansible.errors import AnsibleConnectionFailure, AnsibleFileNotFound
from ansible.plugins.connection.local import Connection as LocalConnection


class Connection(LocalConnection):
    transport = "flow_host"

    def _namespace(self):
        folder = self.get_option("flow_host_dir")
        if os.path.exists(os.path.join(folder, "powered_off")):
            raise AnsibleConnectionFailure("flow host %s is powered off" % os.path.basename(folder))
        try:
            with open(os.path.join(folder, "pid")) as handle:
                pid = int(handle.read())
        except (OSError, ValueError) as error:
            raise AnsibleConnectionFailure("flow host %s is not up (%s)" % (folder, error))
        return "/proc/%d/ns/mnt" % pid

    def exec_command(self, cmd, in_data=None, sudoable=True):
        entered = "nsenter --mount=%s -- /bin/sh -c %s" % (self._namespace(), shlex.quote(cmd))
        return super().exec_command(entered, in_data=in_data, sudoable=sudoable)

    def put_file(self, in_path, out_path):
        with open(in_path, "rb") as source:
            result = subprocess.run(["nsenter", "--mount=" + self._namespace(), "--", "/bin/sh", "-c",
                                     "cat > " + shlex.quote(out_path)], stdin=source, capture_output=True)
        if result.returncode != 0:
            raise AnsibleConnectionFailure("could not put %s: %s" % (out_path, result.stderr.decode(errors="replace")))

    def fetch_file(self, in_path, out_path):
        result = subprocess.run(["nsenter", "--mount=" + self._namespace(), "--", "cat", in_path], capture_output=True)
        if result.returncode != 0:
            raise AnsibleFileNotFound("could not fetch %s: %s" % (in_path, result.stderr.decode(errors="replace")))
        with open(out_path, "wb") as target:
            target.write(result.stdout)
