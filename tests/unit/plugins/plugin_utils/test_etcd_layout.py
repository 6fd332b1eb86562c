"""The command each etcd layout runs to read the log and to restart etcd."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.etcd_kernel.plugins.filter.remediation import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_layout import (
    CONTAINER_ID, client_urls, etcd_commands, with_container_id)


def test_docker_reads_the_container_and_restarts_kubesprays_unit():
    # A bare `docker restart` under kubespray's etcd.service would end the unit's
    # foreground `docker run`; 15 s later the unit recreates the container.
    commands = etcd_commands("docker", "etcd2", "etcd", 600)
    assert commands == {"lookup": None,
                        "logs": ["docker", "logs", "--since", "600s", "etcd2"],
                        "restart": ["systemctl", "restart", "etcd"]}
    assert "docker" not in etcd_commands("docker", "etcd2")["restart"]


def test_kubeadm_looks_up_the_static_pod_and_stops_it_for_kubelet_to_restart():
    commands = etcd_commands("kubeadm", "etcd", member_name="cp-1")
    # crictl's --name is a regular expression: anchored, so etcd-backup does not match; and the
    # pod's labels keep a workload's own container named etcd out (kubeadm's static pod is
    # kube-system/etcd-<node>, the member named after the node).
    assert commands["lookup"] == ["crictl", "ps", "--name", "^etcd$",
                                  "--label", "io.kubernetes.pod.namespace=kube-system",
                                  "--label", "io.kubernetes.pod.name=etcd-cp-1", "--quiet", "--latest"]
    assert etcd_commands("kubeadm", "etcd.main", member_name="cp-1")["lookup"][3] == r"^etcd\.main$"
    # Without --timeout crictl stop kills at once: etcd gets kubelet's default grace period.
    assert with_container_id(commands["restart"], "abc123") == ["crictl", "stop", "--timeout", "30", "abc123"]
    assert with_container_id(commands["logs"], "abc123") == \
        ["crictl", "logs", "--since", "3600s", "abc123"]
    assert CONTAINER_ID in commands["restart"]


@pytest.mark.parametrize("member_name", [None, "", "-rf", "cp*"])
def test_kubeadm_needs_the_node_name_of_its_static_pod(member_name):
    with pytest.raises(ValueError, match="needs the member name"):
        etcd_commands("kubeadm", "etcd", member_name=member_name)


def test_host_layout_uses_the_systemd_unit():
    commands = etcd_commands("host", "unused", "etcd-main", 120)
    assert commands["restart"] == ["systemctl", "restart", "etcd-main"]
    assert commands["logs"][:3] == ["journalctl", "--unit", "etcd-main"]
    assert "-120 seconds" in commands["logs"]


@pytest.mark.parametrize("layout, name, service, since, message", [
    ("podman", "etcd1", "etcd", 60, "unknown etcd layout 'podman'"),
    ("docker", "", "etcd", 60, "etcd container name must start with a letter or digit"),
    ("docker", None, "etcd", 60, "must start with a letter or digit"),
    ("host", "etcd", "etcd*", 60, "etcd service name .*no globs"),
    ("host", "etcd", "etcd?", 60, "no globs"),
    ("host", "etcd", "etcd[12]", 60, "no globs"),
    ("docker", "-v", "etcd", 60, "no leading -"),
    ("docker", "--privileged", "etcd", 60, "no leading -"),
    ("docker", "etcd1", "--all", 60, "no leading -"),
    ("docker", "etcd 1", "etcd", 60, "must start with a letter or digit"),
    ("docker", "etcd1", "etcd", 0, "positive whole number"),
    ("docker", "etcd1", "etcd", True, "positive whole number"),
])
def test_bad_input_is_refused(layout, name, service, since, message):
    with pytest.raises(ValueError, match=message):
        etcd_commands(layout, name, service, since)


@pytest.mark.parametrize("layout, service", [("host", "etcd"), ("host", "etcd@main.service"), ("docker", "etcd"),
                                             ("docker", "etcd-events")])
def test_real_unit_names_are_accepted(layout, service):
    assert service in etcd_commands(layout, "etcd1", service)["restart"]


def test_real_container_names_are_accepted():
    assert "k8s_etcd_etcd-master1_kube-system_0" in etcd_commands(
        "docker", "k8s_etcd_etcd-master1_kube-system_0")["logs"]


def test_client_urls_use_the_address_kubespray_gives_etcd():
    observed = {"default_ipv4": "10.0.0.9"}
    hostvars = {
        # kubespray's sample inventory: a public ansible_host, ip commented out.
        "sample": {"ansible_host": "203.0.113.5", "__etcd_kernel_node": observed},
        "with_ip": {"ansible_host": "203.0.113.6", "ip": "10.0.0.6", "__etcd_kernel_node": observed},
        "with_access_ip": {"ip": "10.0.0.7", "access_ip": "192.0.2.7"},
        "ipv6_only": {"ansible_host": "203.0.113.8", "ip6": "fd00::8"},
        "not_yet_read": {"ansible_host": "203.0.113.9"},
    }
    assert client_urls(list(hostvars), hostvars) == [
        "https://10.0.0.9:2379", "https://10.0.0.6:2379", "https://192.0.2.7:2379", "https://[fd00::8]:2379",
        "https://203.0.113.9:2379"]


def test_client_urls_bracket_ipv6_addresses():
    hostvars = {"m1": {"ip": "10.0.0.1"}, "m2": {"access_ip": "fd00::2"}, "m3": {"ansible_host": "[fd00::3]"},
                "m4": {}}
    assert client_urls(["m1", "m2", "m3", "m4"], hostvars, 2379) == [
        "https://10.0.0.1:2379", "https://[fd00::2]:2379", "https://[fd00::3]:2379", "https://m4:2379"]


def test_filter_names_itself_in_errors():
    etcd_filter = FilterModule().filters()["etcd_commands"]
    assert etcd_filter("docker", "etcd1", "etcd")["restart"] == ["systemctl", "restart", "etcd"]
    with pytest.raises(AnsibleFilterError, match="^etcd_commands: unknown etcd layout"):
        etcd_filter("lxc", "etcd1")


def test_events_client_urls_are_what_each_host_advertises():
    from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_layout import events_client_urls
    hostvars = {
        "m1": {"__etcd_kernel_node": {"events": {"advertise_client_urls": ["https://10.0.0.1:2383"]}}},
        "m2": {"__etcd_kernel_node": {"events": {"advertise_client_urls": ["https://10.0.0.2:2381"]}}},
        "m3": {"__etcd_kernel_node": {"events": None}},
        "m4": {},
    }
    assert events_client_urls(["m1", "m2", "m3", "m4"], hostvars) == ["https://10.0.0.1:2383", "https://10.0.0.2:2381"]
