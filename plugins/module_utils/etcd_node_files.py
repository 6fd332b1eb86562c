# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What a host's own files say about the etcd member it runs.

The inventory says which member should run on a host and how; the host's files say
which does. kubespray fixes the member name into ETCD_NAME when it renders
/etc/etcd.env (etcd<position in the etcd group> at that time, so a later inventory
order proves nothing) and writes etcd.service around a `docker run` wrapper (docker
layout: ExecStop is `docker stop <member>`) or around the etcd binary (host layout).
kubeadm writes the static-pod manifest /etc/kubernetes/manifests/etcd.yaml, whose
command line names the member (--name, the node name).

Pure functions over file contents; observe_member() takes a reader so the module reads
the files and the tests give the texts. Python 3.8, standard library only.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# Where kubespray and kubeadm put what names and runs the member.
KUBESPRAY_ENV_FILE = "/etc/etcd.env"
# kubespray's second cluster (etcd_events_cluster_enabled), for the API server's events.
KUBESPRAY_EVENTS_SERVICE = "etcd-events"
KUBESPRAY_EVENTS_ENV_FILE = "/etc/etcd-events.env"
KUBEADM_MANIFEST = "/etc/kubernetes/manifests/etcd.yaml"
UNIT_DIRS = ("/etc/systemd/system", "/run/systemd/system", "/lib/systemd/system", "/usr/lib/systemd/system")
# kubeadm's static pod runs one container named etcd.
KUBEADM_CONTAINER = "etcd"
# Files larger than this are not kubespray's or kubeadm's: read no further.
MAX_FILE_BYTES = 256 * 1024

_ENV_LINE = re.compile(r"^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_DOCKER_STOP = re.compile(r"\bdocker\s+stop\s+(?:-\S+\s+)*([A-Za-z0-9][A-Za-z0-9_.-]*)")
_DOCKER_RUN_NAME = re.compile(r"--name[= ]([A-Za-z0-9][A-Za-z0-9_.-]*)")
_MANIFEST_FLAG = re.compile(r"^\s*-\s*[\"']?--([a-z0-9-]+)=([^\"'\s]*)[\"']?\s*$")


def parse_env_file(text):
    """A systemd EnvironmentFile (kubespray's etcd.env) as {name: value}; comments and
    lines that set nothing are skipped, one level of quotes is removed."""
    settings = {}
    for line in text.splitlines():
        if line.lstrip().startswith("#"):
            continue
        match = _ENV_LINE.match(line)
        if not match:
            continue
        value = match.group(2).strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        settings[match.group(1)] = value
    return settings


def parse_unit_exec(text):
    """{"ExecStart": [...], "ExecStartPre": [...], "ExecStop": [...]} of a unit's
    [Service] section: each command line, its systemd prefixes (-, @, +, !) removed."""
    commands = {"ExecStart": [], "ExecStartPre": [], "ExecStop": []}
    section = None
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("["):
            section = line
            continue
        key, separator, value = line.partition("=")
        if section == "[Service]" and separator and key.strip() in commands:
            commands[key.strip()].append(value.strip().lstrip("-@+!:"))
    return commands


def docker_container_of_unit(commands, wrapper_text=None):
    """The container a kubespray docker-layout unit runs (its `docker stop <name>`, or the
    wrapper script's `docker run --name`), or None for a unit that runs no container."""
    for line in commands["ExecStop"] + commands["ExecStartPre"]:
        match = _DOCKER_STOP.search(line)
        if match:
            return match.group(1)
    if wrapper_text and re.search(r"\bdocker\s+run\b", wrapper_text):
        match = _DOCKER_RUN_NAME.search(wrapper_text)
        return match.group(1) if match else None
    return None


def parse_manifest_flags(text):
    """The --flag=value arguments of a static-pod manifest's command, as {flag: value}."""
    flags = {}
    for line in text.splitlines():
        match = _MANIFEST_FLAG.match(line)
        if match:
            flags.setdefault(match.group(1), match.group(2))
    return flags


def split_urls(value):
    return [url.strip() for url in (value or "").split(",") if url.strip()]


def loopback_client_url(listen_urls):
    """The client URL etcd listens on at the host's loopback (kubespray and kubeadm both
    listen on https://127.0.0.1:2379), or None."""
    for url in listen_urls:
        if re.match(r"^https?://(127\.\d+\.\d+\.\d+|\[::1\]|localhost)(:\d+)?/?$", url):
            return url.rstrip("/")
    return None


def default_route_device(route_text):
    """The device of the default route in `ip -4 route show default`, or None."""
    for line in route_text.splitlines():
        words = line.split()
        if words[:1] == ["default"] and "dev" in words[:-1]:
            return words[words.index("dev") + 1]
    return None


def first_ipv4(addr_text):
    """The first address in `ip -4 -o addr show dev DEVICE scope global`, or None. With
    the default route's device this is Ansible's ansible_default_ipv4.address, the
    address kubespray gives etcd when the inventory sets no ip."""
    for line in addr_text.splitlines():
        match = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", line)
        if match:
            return match.group(1)
    return None


def _unit_path(read, service):
    """The unit file systemd runs the service from, in systemd's order, or None. A masked
    unit (a link to /dev/null, or an empty file) hides every unit of its name behind it,
    as systemd reads it: the host runs no such service (a worker with the etcd package
    installed and its unit masked, say)."""
    for folder in UNIT_DIRS:
        path = "%s/%s.service" % (folder, service)
        text = read(path)
        if text is not None:
            return path if text.strip() else None
    return None


def observe_events_member(read, service=KUBESPRAY_EVENTS_SERVICE):
    """What the host's files say about its kubespray etcd-events member, or None when the
    host has no etcd-events unit (the cluster is off, or a kubeadm host)."""
    if _unit_path(read, service) is None:
        return None
    return observe_member(read, service, KUBESPRAY_EVENTS_ENV_FILE, kubeadm=False)


def observe_member(read, service="etcd", env_file=KUBESPRAY_ENV_FILE, kubeadm=True):
    """What the host's files say about its etcd member.

    read(path) -> the file's text, or None when it does not exist. Returns
    {"layout": "docker"|"host"|"kubeadm"|None, "member_name", "name_source",
     "container", "service", "advertise_client_urls", "listen_client_urls",
     "local_client_url", "data_dir", "files", "problems"}.
    A host that has both a kubespray unit and a kubeadm manifest, or neither, has no
    layout (problems says why); the caller refuses such a host.
    """
    observed = {"layout": None, "member_name": None, "name_source": None, "container": None,
                "service": None, "advertise_client_urls": [], "listen_client_urls": [],
                "local_client_url": None, "data_dir": None, "files": [], "problems": []}
    unit_path = _unit_path(read, service)
    manifest = read(KUBEADM_MANIFEST) if kubeadm else None
    if unit_path and manifest is not None:
        observed["problems"].append(
            "both %s and %s exist: the host runs etcd under systemd and as a kubeadm static pod, or one is "
            "left over; remove the one that is not in use" % (unit_path, KUBEADM_MANIFEST))
        return observed
    if manifest is not None:
        flags = parse_manifest_flags(manifest)
        observed.update(layout="kubeadm", member_name=flags.get("name") or None,
                        name_source="%s (--name)" % KUBEADM_MANIFEST, container=KUBEADM_CONTAINER,
                        advertise_client_urls=split_urls(flags.get("advertise-client-urls")),
                        listen_client_urls=split_urls(flags.get("listen-client-urls")),
                        data_dir=flags.get("data-dir") or None, files=[KUBEADM_MANIFEST])
    elif unit_path:
        commands = parse_unit_exec(read(unit_path))
        wrapper = None
        if commands["ExecStart"]:
            program = commands["ExecStart"][0].split()[0] if commands["ExecStart"][0].split() else ""
            wrapper = read(program) if program.startswith("/") else None
        container = docker_container_of_unit(commands, wrapper)
        env_text = read(env_file)
        env = parse_env_file(env_text) if env_text is not None else {}
        observed.update(layout="docker" if container else "host", container=container, service=service,
                        member_name=env.get("ETCD_NAME") or None,
                        name_source="%s (ETCD_NAME)" % env_file,
                        advertise_client_urls=split_urls(env.get("ETCD_ADVERTISE_CLIENT_URLS")),
                        listen_client_urls=split_urls(env.get("ETCD_LISTEN_CLIENT_URLS")),
                        data_dir=env.get("ETCD_DATA_DIR") or None,
                        files=[unit_path] + ([env_file] if env_text is not None else []))
        if env_text is None:
            observed["problems"].append("%s runs etcd but %s is missing, so nothing on the host names its member"
                                        % (unit_path, env_file))
    else:
        observed["problems"].append(
            "neither an etcd unit (%s.service under %s) nor a kubeadm manifest (%s) is on the host: it runs no "
            "etcd member the kit knows how to manage" % (service, ", ".join(UNIT_DIRS), KUBEADM_MANIFEST))
        return observed
    if observed["member_name"] is None and not observed["problems"]:
        observed["problems"].append("%s does not name the member" % observed["name_source"])
    observed["local_client_url"] = loopback_client_url(observed["listen_client_urls"])
    return observed
