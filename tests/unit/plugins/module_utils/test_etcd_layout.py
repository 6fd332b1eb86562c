"""The command each etcd layout runs to read the log and to restart etcd."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.etcd_kernel.plugins.filter.remediation import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_layout import (
    CONTAINER_ID, etcd_commands, with_container_id)


def test_docker_restarts_the_named_container():
    commands = etcd_commands("docker", "etcd2", 600)
    assert commands == {"lookup": None,
                        "logs": ["docker", "logs", "--since", "600s", "etcd2"],
                        "restart": ["docker", "restart", "etcd2"]}


def test_kubeadm_looks_up_the_static_pod_and_stops_it_for_kubelet_to_restart():
    commands = etcd_commands("kubeadm", "etcd")
    assert commands["lookup"] == ["crictl", "ps", "--name", "etcd", "--quiet", "--latest"]
    assert with_container_id(commands["restart"], "abc123") == ["crictl", "stop", "abc123"]
    assert with_container_id(commands["logs"], "abc123") == \
        ["crictl", "logs", "--since", "3600s", "abc123"]
    assert CONTAINER_ID in commands["restart"]


def test_host_layout_uses_the_systemd_unit():
    commands = etcd_commands("host", "etcd", 120)
    assert commands["restart"] == ["systemctl", "restart", "etcd"]
    assert commands["logs"][:3] == ["journalctl", "--unit", "etcd"]
    assert "-120 seconds" in commands["logs"]


@pytest.mark.parametrize("layout, name, since, message", [
    ("podman", "etcd1", 60, "unknown etcd layout 'podman'"),
    ("docker", "", 60, "non-empty string"),
    ("docker", "etcd1", 0, "positive whole number"),
    ("docker", "etcd1", True, "positive whole number"),
])
def test_bad_input_is_refused(layout, name, since, message):
    with pytest.raises(ValueError, match=message):
        etcd_commands(layout, name, since)


def test_filter_names_itself_in_errors():
    etcd_filter = FilterModule().filters()["etcd_commands"]
    assert etcd_filter("docker", "etcd1")["restart"] == ["docker", "restart", "etcd1"]
    with pytest.raises(AnsibleFilterError, match="^etcd_commands: unknown etcd layout"):
        etcd_filter("lxc", "etcd1")
