"""The address the kit reaches each member at is the one kubespray gives etcd, never
ansible_host by default: kubespray's sample inventory reaches hosts at another address."""
import os

import pytest

from lab import cluster

from lab_helpers import latest_report, run_playbook
from test_remediate_refusals import inventory_variant, refused

pytestmark = pytest.mark.lab


@pytest.fixture
def second_address(clean_lab, tmp_path):
    """master1 answers ssh on a second network too, with its host key pinned there."""
    address = cluster.connect_second_network(clean_lab, "master1")
    ssh_dir = clean_lab.path("ssh")
    with open(os.path.join(ssh_dir, "master1_host_ed25519_key.pub")) as handle:
        key = " ".join(handle.read().split()[:2])
    known_hosts = tmp_path / "known_hosts"
    with open(os.path.join(ssh_dir, "known_hosts")) as handle:
        known_hosts.write_text(handle.read() + "%s %s\n" % (address, key))
    try:
        yield address, known_hosts
    finally:
        cluster.disconnect_second_network(clean_lab, "master1")


def reached_at(address, known_hosts, ip=None):
    def change(inventory):
        inventory["all"]["vars"]["ansible_ssh_common_args"] = (
            "-o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes" % known_hosts)
        master1 = inventory["all"]["hosts"]["master1"]
        master1["ansible_host"] = address
        master1.pop("ip")
        if ip:
            master1["ip"] = ip
    return change


def test_without_ip_the_member_is_reached_at_the_hosts_default_address(clean_lab, tmp_path, second_address):
    address, known_hosts = second_address
    result = run_playbook("remediate.yml", "--check", "-i", inventory_variant(tmp_path, reached_at(address, known_hosts)))
    assert result.returncode == 0, result.stdout[-3000:]
    report = latest_report()
    assert report["result"] == "planned", report
    master1 = next(host for host in report["hosts"] if host["host"] == "master1")
    # Ansible reached master1 at its second address; etcd at the lab address, kubespray's fallback_ip.
    assert master1["client_url"] == clean_lab.client_url("master1") != "https://%s:2379" % address
    assert master1["observed"]["default_ipv4"] == clean_lab.ip("master1")


def test_an_ip_etcd_does_not_advertise_is_refused(clean_lab, tmp_path, second_address):
    address, known_hosts = second_address
    output = refused(clean_lab, "-i", inventory_variant(tmp_path, reached_at(address, known_hosts, ip=address)))
    assert ("master1: the kit would reach its member at https://%s:2379" % address) in output
    assert ("but etcd there advertises %s" % clean_lab.client_url("master1")) in output
    assert "Set access_ip (or ip) for master1 to the address etcd advertises" in output
