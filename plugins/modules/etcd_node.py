#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: etcd_node
short_description: Read from a host's own files which etcd member it runs, and how
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - Reads what kubespray and kubeadm leave on an etcd host, without asking etcd, so that it works
    on a host whose member is stuck. The inventory's member name and layout are claims; this is what
    they are checked against.
  - kubespray (docker and host layouts) runs etcd under the systemd unit O(service) and fixes the
    member name into C(ETCD_NAME) in C(/etc/etcd.env) when it renders that file. Its docker layout's
    unit stops a container (C(docker stop <member>)); its host layout's unit runs the binary.
  - kubeadm runs etcd as the static pod C(/etc/kubernetes/manifests/etcd.yaml), whose C(--name)
    names the member.
  - kubespray's second cluster (C(etcd_events_cluster_enabled)) is read the same way from
    C(etcd-events.service) and C(/etc/etcd-events.env), into RV(events).
  - Also reads the host's default IPv4 address, the one kubespray gives etcd when the inventory sets
    no C(ip), and finds C(etcdctl) and C(etcdutl) (etcd 3.6's C(etcdctl) has no C(snapshot status); C(etcdutl)
    checks snapshots from 3.5 on).
  - Only reads; RV(changed) is always V(false).
options:
  service:
    description: The systemd unit of kubespray's layouts.
    type: str
    default: etcd
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so check mode returns exactly what a normal run returns.
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Needs root (become) to read C(/etc/etcd.env) (kubespray makes it 0640).
"""

EXAMPLES = r"""
- name: Read which etcd member this host runs
  sre.etcd_kernel.etcd_node:
  register: etcd_node

- name: Refuse a host whose member is not the one the inventory names
  ansible.builtin.assert:
    that: etcd_node.member_name == etcd_member_name
"""

RETURN = r"""
changed:
  description: Always V(false).
  returned: always
  type: bool
  sample: false
layout:
  description: V(docker), V(host) or V(kubeadm); V(null) when the files do not say (RV(problems) says why).
  returned: always
  type: str
  sample: docker
member_name:
  description: The member name the host's files give etcd; V(null) when they give none.
  returned: always
  type: str
  sample: etcd1
name_source:
  description: Where RV(member_name) was read.
  returned: always
  type: str
  sample: /etc/etcd.env (ETCD_NAME)
container:
  description: The docker container (docker layout) or CRI container name (kubeadm) etcd runs in.
  returned: always
  type: str
  sample: etcd1
service:
  description: The systemd unit that runs etcd (kubespray's layouts); V(null) for kubeadm.
  returned: always
  type: str
  sample: etcd
advertise_client_urls:
  description: The client URLs etcd is told to advertise.
  returned: always
  type: list
  elements: str
  sample: ["https://10.0.0.11:2379"]
listen_client_urls:
  description: The client URLs etcd is told to listen on.
  returned: always
  type: list
  elements: str
  sample: ["https://10.0.0.11:2379", "https://127.0.0.1:2379"]
local_client_url:
  description: The one of RV(listen_client_urls) on the host's loopback, where this host's own member answers.
  returned: always
  type: str
  sample: https://127.0.0.1:2379
data_dir:
  description: etcd's data folder.
  returned: always
  type: str
  sample: /var/lib/etcd
files:
  description: The files read.
  returned: always
  type: list
  elements: str
  sample: ["/etc/systemd/system/etcd.service", "/etc/etcd.env"]
tools:
  description: Paths of C(etcdctl) and C(etcdutl); V(null) for one the host does not have.
  returned: always
  type: dict
  sample: {"etcdctl": "/usr/local/bin/etcdctl", "etcdutl": null}
events:
  description:
    - kubespray's etcd-events member on this host (C(etcd-events.service), C(/etc/etcd-events.env)), with
      the same keys as the main member's (RV(layout), RV(member_name), RV(advertise_client_urls),
      RV(local_client_url)...); V(null) when the host runs no etcd-events cluster.
  returned: always
  type: dict
  sample: {"layout": "docker", "member_name": "etcd1-events", "container": "etcd1-events", "service": "etcd-events"}
default_ipv4:
  description:
    - The host's address on its default route (Ansible's C(ansible_default_ipv4.address)), which
      kubespray gives etcd when the inventory sets neither C(access_ip) nor C(ip); V(null) when the host
      has no default route.
  returned: always
  type: str
  sample: 10.0.0.11
problems:
  description: Why the files do not tell the layout or the member; empty when they do.
  returned: always
  type: list
  elements: str
  sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_node_files import (
    MAX_FILE_BYTES,
    default_route_device,
    first_ipv4,
    observe_events_member,
    observe_member,
)

# kubespray installs etcd's tools in its bin_dir.
TOOL_DIRS = ["/usr/local/bin"]


def read_text(path):
    """The file's text (at most MAX_FILE_BYTES, undecodable bytes replaced), or None if absent."""
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_FILE_BYTES).decode("utf-8", errors="replace")
    except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
        return None


def default_ipv4(module):
    """The address on the default route's device, as Ansible's setup reports ansible_default_ipv4."""
    ip = module.get_bin_path("ip")
    if ip is None:
        return None
    rc, routes, _ = module.run_command([ip, "-4", "route", "show", "default"], environ_update={"LC_ALL": "C"})
    device = default_route_device(routes) if rc == 0 else None
    if device is None:
        return None
    rc, addresses, _ = module.run_command([ip, "-4", "-o", "addr", "show", "dev", device, "scope", "global"],
                                          environ_update={"LC_ALL": "C"})
    return first_ipv4(addresses) if rc == 0 else None


def main():
    module = AnsibleModule(argument_spec=dict(service=dict(type="str", default="etcd")),
                           supports_check_mode=True)
    try:
        observed = observe_member(read_text, module.params["service"])
    except OSError as error:
        module.fail_json(msg="could not read the etcd files on this host (%s); the kit reads them as root: "
                             "run it with become" % error)
    observed["tools"] = {tool: module.get_bin_path(tool, opt_dirs=TOOL_DIRS) for tool in ("etcdctl", "etcdutl")}
    observed["default_ipv4"] = default_ipv4(module)
    observed["events"] = observe_events_member(read_text)
    module.exit_json(changed=False, **observed)


if __name__ == "__main__":
    main()
