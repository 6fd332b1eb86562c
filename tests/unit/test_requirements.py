"""requirements.yml lists every collection the kit's playbooks, roles and scenarios use."""
import os
import re

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SCANNED = ("remediate.yml", "playbooks", "roles", "extensions/molecule", "bench")
# ansible.builtin ships with ansible-core; sre.etcd_kernel is this repository.
BUILT_IN = {"ansible.builtin", "sre.etcd_kernel"}
FQCN = re.compile(r"\b([a-z][a-z0-9_]*)\.([a-z][a-z0-9_]*)\.[a-z][a-z0-9_]*\b")


def yaml_files():
    for entry in SCANNED:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            yield path
        for folder, _, files in os.walk(path):
            for name in files:
                if name.endswith((".yml", ".yaml", ".j2")):
                    yield os.path.join(folder, name)


def collections_used():
    used = set()
    for path in yaml_files():
        with open(path) as handle:
            text = handle.read()
        for namespace, name in FQCN.findall(text):
            if namespace in COLLECTION_NAMESPACES:
                used.add("%s.%s" % (namespace, name))
    return used


# Namespaces of Ansible collections; anything else matching a.b.c (a file name, a
# dotted variable) is not a collection reference.
COLLECTION_NAMESPACES = {"ansible", "community", "awx", "kubernetes", "containers", "sre", "cloud",
                         "amazon", "google", "azure", "openstack", "netcommon", "redhat", "infra"}


def listed_collections():
    with open(os.path.join(ROOT, "requirements.yml")) as handle:
        requirements = yaml.safe_load(handle) or {}
    listed = {}
    for entry in requirements.get("collections") or []:
        listed[entry["name"]] = entry.get("version")
    return listed


def test_every_collection_used_is_listed_and_pinned():
    listed = listed_collections()
    missing = sorted(collections_used() - BUILT_IN - set(listed))
    assert not missing, "add these to requirements.yml, pinned: %s" % missing
    unpinned = sorted(name for name, version in listed.items() if not version or any(c in str(version) for c in "<>*"))
    assert not unpinned, "pin an exact version in requirements.yml for: %s" % unpinned


def test_the_scan_sees_collection_references():
    assert {"ansible.builtin", "sre.etcd_kernel"} <= collections_used()


def test_the_supported_ansible_core_is_the_one_ci_tests():
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        pinned = re.search(r"^ansible-core==(\d+)\.(\d+)\.\d+$", handle.read(), re.M).groups()
    with open(os.path.join(ROOT, "meta", "runtime.yml")) as handle:
        requires = yaml.safe_load(handle)["requires_ansible"]
    with open(os.path.join(ROOT, "roles", "etcd_kernel", "defaults", "main.yml")) as handle:
        minimum = yaml.safe_load(handle)["etcd_kernel_min_ansible_version"]
    major, minor = pinned
    assert requires == ">=%s.%s.0,<%s.%d.0" % (major, minor, major, int(minor) + 1)
    assert minimum == "%s.%s" % (major, minor)
