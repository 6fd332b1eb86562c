# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Where etcd runs: its client URLs, and the commands that read its log and restart
it, per deployment layout.

Layouts use kubespray's words for etcd_deployment_type:
  docker   etcd in a docker container that kubespray's etcd.service runs (a foreground
           `docker run`, Restart=always, `docker rm -f` before each start)
  host     the etcd binary under kubespray's etcd.service
  kubeadm  etcd as a static pod under containerd, reached with crictl
etcd restarts through whatever manages it. A bare `docker restart` under kubespray's
unit ends the unit's foreground client, and 15 s later the unit removes and recreates
the container: a second outage. So both kubespray layouts restart the unit; kubelet
starts a stopped static-pod container again, so kubeadm's restart is a stop.
A static pod's container id changes with every restart, so kubeadm needs a lookup
first, by the pod too (kube-system/etcd-<node>): a workload's own container named etcd on
an untainted master must never be the one restarted. Its commands carry CONTAINER_ID
where the looked-up id goes. `crictl stop` without --timeout is an immediate SIGKILL, so
the stop gives etcd kubelet's default grace period to shut down cleanly.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

LAYOUTS = ("docker", "kubeadm", "host")
CONTAINER_ID = "{container_id}"
# kubelet's default terminationGracePeriodSeconds.
KUBEADM_STOP_GRACE_SECONDS = 30
# A container or unit name, as docker, crictl and systemd accept them. It goes into argv
# (never a shell), but a leading "-" would still read as an option and "*" or "?" as a
# systemd glob that restarts every match.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:-]*$")


def etcd_commands(layout: str, container_name: str, service_name: str = "etcd", since_seconds: int = 3600,
                  member_name: str | None = None) -> dict[str, list[str] | None]:
    """{"lookup": argv or None, "logs": argv, "restart": argv} for one etcd member.

    container_name: the docker container (docker) or the container name crictl
    filters on (kubeadm, "etcd"); service_name: the systemd unit of the docker and
    host layouts (kubespray's is "etcd"); member_name: kubeadm's member, named after
    the node, whose static pod is kube-system/etcd-<node>.
    """
    if layout not in LAYOUTS:
        raise ValueError("unknown etcd layout %r: use one of %s (kubespray's etcd_deployment_type)"
                         % (layout, ", ".join(LAYOUTS)))
    for what, name in (("container", container_name), ("service", service_name)):
        if not isinstance(name, str) or not _NAME.match(name):
            raise ValueError("the etcd %s name must start with a letter or digit and hold only letters, "
                             "digits and _ . @ : - (no globs, no leading -), got %r" % (what, name))
    if isinstance(since_seconds, bool) or not isinstance(since_seconds, int) or since_seconds <= 0:
        raise ValueError("since_seconds must be a positive whole number, got %r" % (since_seconds,))
    since = "%ds" % since_seconds
    if layout == "docker":
        return {"lookup": None,
                "logs": ["docker", "logs", "--since", since, container_name],
                "restart": ["systemctl", "restart", service_name]}
    if layout == "kubeadm":
        if not isinstance(member_name, str) or not _NAME.match(member_name):
            raise ValueError("the kubeadm layout needs the member name (the node's, as in etcd-<node>, the static "
                             "pod), got %r" % (member_name,))
        # kubelet starts a stopped static-pod container again: stopping it is the restart.
        # crictl's --name is a regular expression: anchored, "etcd" does not also match "etcd-backup".
        return {"lookup": ["crictl", "ps", "--name", "^%s$" % re.escape(container_name),
                           "--label", "io.kubernetes.pod.namespace=kube-system",
                           "--label", "io.kubernetes.pod.name=etcd-%s" % member_name, "--quiet", "--latest"],
                "logs": ["crictl", "logs", "--since", since, CONTAINER_ID],
                "restart": ["crictl", "stop", "--timeout", str(KUBEADM_STOP_GRACE_SECONDS), CONTAINER_ID]}
    return {"lookup": None,
            "logs": ["journalctl", "--unit", service_name, "--since", "-%d seconds" % since_seconds,
                     # short-iso keeps each line's time, which tells a peer's restart from a stuck link.
                     "--no-pager", "--output", "short-iso"],
            "restart": ["systemctl", "restart", service_name]}


# Where observe.yml registers the etcd_node result: its default_ipv4 is kubespray's
# fallback address (ansible_default_ipv4), read from the host.
OBSERVED_NODE = "__etcd_kernel_node"


def client_address(variables: Mapping[str, Any]) -> str | None:
    """The address kubespray gives a host's etcd (etcd_access_address): access_ip, else ip,
    else (an IPv6-only inventory) access_ip6, else ip6, else the host's default IPv4
    address as etcd_node read it. ansible_host is only how Ansible reaches the host
    (kubespray's sample inventory puts a public address there): it is used only for a
    host whose default address has not been read yet, and preflight checks the result
    against the URLs etcd advertises."""
    for name in ("access_ip", "ip", "access_ip6", "ip6"):
        if variables.get(name):
            return str(variables[name])
    observed = variables.get(OBSERVED_NODE) or {}
    if isinstance(observed, dict) and observed.get("default_ipv4"):
        return str(observed["default_ipv4"])
    return None


def client_urls(hosts: list[str], hostvars: Mapping[str, Mapping[str, Any]], port: int | str = 2379) -> list[str]:
    """etcd client URLs of inventory hosts, at the address kubespray gives each (client_address),
    else ansible_host, else the inventory name."""
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise ValueError("hosts must be a list of inventory hostnames, got %r" % (hosts,))
    urls = []
    for host in hosts:
        variables = hostvars[host]
        address = str(client_address(variables) or variables.get("ansible_host") or host)
        if ":" in address and not address.startswith("["):
            address = "[%s]" % address  # an IPv6 address in a URL goes in brackets (RFC 3986)
        urls.append("https://%s:%d" % (address, int(port)))
    return urls


def events_client_urls(hosts: list[str], hostvars: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The client URL of each host's kubespray etcd-events member, as the host's own
    /etc/etcd-events.env advertises it (kubespray moved its port from 2381 to 2383 in
    v2.18, so it is read, not assumed); hosts that run no events member are left out."""
    if isinstance(hosts, str) or not isinstance(hosts, (list, tuple)):
        raise ValueError("hosts must be a list of inventory hostnames, got %r" % (hosts,))
    urls = []
    for host in hosts:
        observed = hostvars[host].get(OBSERVED_NODE) or {}
        events = observed.get("events") if isinstance(observed, dict) else None
        if events and events.get("advertise_client_urls"):
            urls.append(events["advertise_client_urls"][0])
    return urls


def with_container_id(argv: list[str], container_id: str) -> list[str]:
    """argv with the looked-up container id in place of CONTAINER_ID."""
    return [container_id if part == CONTAINER_ID else part for part in argv]
