"""The kit on a real kernel (make test-vm): a Debian VM under qemu, nothing simulated.

apt installs the newer Debian kernel from a repository on the host's loopback,
update-grub makes it the default, Ansible's builtin reboot reboots the VM, and the kit
reads /proc/sys/kernel/osrelease and the kernel's boot id. An operator range calls the
VM's kernel affected (Debian's 6.1 kernels have no built-in verdict). The tests run in
order on one VM; the last one starts it again from its image.
"""
import json
import os
import subprocess

import pytest

from lab import vm
from lab.config import REPO_ROOT

pytestmark = pytest.mark.vm


@pytest.fixture(scope="module")
def machine():
    vm.down()
    state = vm.up()
    yield state
    vm.down()


@pytest.fixture(scope="module")
def reports(tmp_path_factory):
    return tmp_path_factory.mktemp("vm-reports")


def affected_range(machine):
    """The boot kernel's ABI up to (not including) the target's is affected."""
    target_abi = int(machine["target_release"].split("-")[1])
    return [{"upstream": "6.1.0", "from_abi": 1, "fixed_abi": target_abi, "flavours": ["amd64"],
             "reference": "make test-vm: an operator range for Debian's kernels"}]


def run_kit(machine, reports, playbook, *extra, timeout=1800):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    env["PATH"] = os.path.join(REPO_ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    extra_vars = {"etcd_kernel_affected_ranges": affected_range(machine), "etcd_kernel_report_dir": str(reports)}
    return subprocess.run(["ansible-playbook", "-i", "inventory/vm", playbook, "-e", json.dumps(extra_vars), *extra],
                          cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


def report(reports, name="latest.json"):
    with open(os.path.join(reports, name)) as handle:
        return json.load(handle)


def test_detect_calls_the_running_debian_kernel_affected(machine, reports):
    assert vm.ssh(machine, "uname", "-r") == machine["boot_release"]
    result = run_kit(machine, reports, "playbooks/detect.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    [host] = report(reports, "latest-detect.json")["hosts"]
    assert (host["kernel"], host["status"]) == (machine["boot_release"], "affected"), host
    assert host["fixed_available"] == machine["target_release"], host


def test_a_target_apt_does_not_offer_stops_before_the_reboot(machine, reports):
    boot_id = vm.ssh(machine, "cat", "/proc/sys/kernel/random/boot_id")
    result = run_kit(machine, reports, "playbooks/remediate.yml", "-e", "etcd_kernel_target_release=6.1.0-999-amd64")
    outcome = report(reports)
    assert result.returncode != 0 and outcome["result"] == "refused", outcome
    assert "6.1.0-999-amd64" in outcome["reason"], outcome["reason"]
    assert vm.ssh(machine, "cat", "/proc/sys/kernel/random/boot_id") == boot_id
    assert vm.ssh(machine, "uname", "-r") == machine["boot_release"]


def test_remediate_installs_boots_and_reads_back_the_newer_kernel(machine, reports):
    boot_id = vm.ssh(machine, "cat", "/proc/sys/kernel/random/boot_id")
    result = run_kit(machine, reports, "playbooks/remediate.yml")
    outcome = report(reports)
    assert result.returncode == 0, result.stdout[-4000:]
    assert outcome["result"] == "remediated", outcome
    [host] = outcome["hosts"]
    assert (host["kernel_before"], host["kernel_after"]) == (machine["boot_release"], machine["target_release"])
    assert host["verified"] is True
    # Read from the VM itself, not from the kit: a new boot, on the new kernel, GRUB's default.
    assert vm.ssh(machine, "uname", "-r") == machine["target_release"]
    assert vm.ssh(machine, "cat", "/proc/sys/kernel/random/boot_id") != boot_id
    assert vm.ssh(machine, "systemctl", "is-active", "etcd") == "active"
    print("remediated %s -> %s in %ss (downtime %ss)" % (host["kernel_before"], host["kernel_after"],
                                                         outcome["wall_time_s"], host["downtime_s"]))


def test_a_second_run_has_nothing_to_do(machine, reports):
    result = run_kit(machine, reports, "playbooks/remediate.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    assert report(reports)["result"] == "nothing_to_do"


def test_a_vm_that_does_not_come_back_in_time_ends_in_a_stopped_report(machine, reports):
    vm.down()
    restarted = vm.up()  # from the image again: the old kernel
    result = run_kit(restarted, reports, "playbooks/remediate.yml", "-e", "etcd_kernel_reboot_timeout_s=10")
    outcome = report(reports)
    assert result.returncode != 0 and outcome["result"] == "stopped", outcome
    assert outcome["stopped_at"] == vm.HOST, outcome
    assert outcome["hosts"][0]["status"] == "failed", outcome["hosts"]
