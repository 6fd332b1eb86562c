"""Bad input that only a real host shows: remediate.yml refuses with a clear message and
touches no host. The other refusals run in the flow tier (tests/flow/test_refusals.py)."""
import os
import shutil
import time

import pytest
import yaml

from lab import cluster, faults
from lab.config import REPO_ROOT
from lab.docker import exec_in

from lab_helpers import apt_timers_state, latest_report, run_playbook

pytestmark = pytest.mark.lab

LAB_INVENTORY = os.path.join(REPO_ROOT, "inventory", "lab")


def host_state(lab):
    """What a refused run must leave as it was: kernels, packages, boots, snapshots, apt timers,
    and each member's etcd process (a restart gives it another pid)."""
    state = {}
    for host in lab.hosts:
        master = lab.master(host)
        state[host] = (
            exec_in(master, "cat", "/var/lib/lab/osrelease").stdout,
            exec_in(master, "dpkg-query", "-W", "linux-image-*").stdout,
            cluster.boot_id_of(lab, host),
            exec_in(master, "sh", "-c", "ls /var/backups/etcd-kernel-remediation 2>/dev/null || true").stdout,
            apt_timers_state(lab, host),
            exec_in(lab.etcd_process_container(host), "pgrep", "-x", "etcd", check=False).stdout,
        )
    return state


def inventory_variant(tmp_path, change):
    """A copy of the lab inventory, changed by change(inventory_dict) (test_addresses and
    test_mitigate use it too)."""
    with open(os.path.join(LAB_INVENTORY, "hosts.yml")) as handle:
        inventory = yaml.safe_load(handle)
    change(inventory)
    folder = tmp_path / "inventory"
    folder.mkdir()
    for vars_folder in ("group_vars", "host_vars"):
        shutil.copytree(os.path.join(LAB_INVENTORY, vars_folder), folder / vars_folder)
    (folder / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    return str(folder)


def swap_member_names(inventory):
    inventory["all"]["hosts"]["master1"]["etcd_member_name"] = "etcd2"
    inventory["all"]["hosts"]["master2"]["etcd_member_name"] = "etcd1"


def refused(lab, *args):
    """Run remediate.yml, which must refuse: nothing touched, and a report of its own."""
    before = host_state(lab)
    started = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    result = run_playbook("remediate.yml", *args)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-3000:]
    assert host_state(lab) == before
    report = latest_report()
    assert report["result"] == "refused" and report["lock"] in ("not_taken", "released"), report
    assert report["started"] >= started, "latest.json is an earlier run's: %s" % report
    # The YAML callback folds long messages over lines and doubles quotes: compare words.
    return " ".join(output.replace("''", "'").split())


def test_an_escalation_that_fails_is_refused_saying_what_to_do(clean_lab):
    # The kit escalates with sudo on every host it reads (the flow tier's hosts need none);
    # the other nodes are checked first, before the etcd hosts' lock.
    output = refused(clean_lab, "-e", "ansible_become_exe=/nonexistent/sudo")
    first = (clean_lab.worker_hosts or clean_lab.hosts)[0]
    assert "The kit could not work as root on %s" % first in output


def test_an_unattended_upgrade_that_outlasts_the_wait_is_refused_and_the_timers_run_again(affected_lab):
    faults.inject(affected_lab, "master2", "unattended_upgrade_running", seconds=120)
    try:
        message = refused(affected_lab, "-e", "etcd_kernel_dpkg_lock_wait_s=4")
    finally:
        faults.clear(affected_lab, "master2", "unattended_upgrade_running")
    assert ("unattended-upgrades (apt-daily-upgrade.service) still ran on master2 after "
            "etcd_kernel_dpkg_lock_wait_s (4s)") in message, message[-3000:]
    # Every host's timers were paused under the lock, and started again by finish.
    report = latest_report()
    assert [(t["host"], t["resumed"]) for t in report["apt_timers"]] == [(h, True) for h in affected_lab.hosts]


def test_a_reboot_scheduled_on_a_member_is_refused(affected_lab):
    # As unattended-upgrades schedules one with Automatic-Reboot-Time.
    exec_in(affected_lab.master("master3"), "shutdown", "-r", "+120")
    try:
        message = refused(affected_lab)
    finally:
        exec_in(affected_lab.master("master3"), "shutdown", "-c", check=False)
    assert "a reboot is scheduled on master3 at" in message, message[-3000:]
    assert "Cancel it (sudo shutdown -c)" in message
