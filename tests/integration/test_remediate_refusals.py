"""Bad input: remediate.yml refuses with a clear message and touches no host."""
import json
import os
import shutil
import time

import pytest
import yaml

from lab import cluster, faults
from lab.config import REPO_ROOT
from lab.docker import exec_in

from lab_helpers import apt_timers_state, latest_report, run_module, run_playbook

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
    """A copy of the lab inventory, changed by change(inventory_dict)."""
    with open(os.path.join(LAB_INVENTORY, "hosts.yml")) as handle:
        inventory = yaml.safe_load(handle)
    change(inventory)
    folder = tmp_path / "inventory"
    folder.mkdir()
    for vars_folder in ("group_vars", "host_vars"):
        shutil.copytree(os.path.join(LAB_INVENTORY, vars_folder), folder / vars_folder)
    (folder / "hosts.yml").write_text(yaml.safe_dump(inventory, sort_keys=False))
    return str(folder)


def keep_etcd_hosts(names):
    def change(inventory):
        inventory["all"]["children"]["etcd"]["hosts"] = {name: None for name in names}
    return change


def rename_etcd_group(inventory):
    inventory["all"]["children"]["masters_without_etcd"] = inventory["all"]["children"].pop("etcd")


def mismatch_member(inventory):
    inventory["all"]["hosts"]["master3"]["etcd_member_name"] = "etcd9"


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


@pytest.mark.parametrize("change, message", [
    (rename_etcd_group, "no etcd group with hosts"),
    (keep_etcd_hosts(["master1", "master2"]), "has 2 member(s)"),
    (keep_etcd_hosts(["master1"]), "has 1 member(s)"),
])
def test_a_bad_inventory_is_refused(clean_lab, tmp_path, change, message):
    output = refused(clean_lab, "-i", inventory_variant(tmp_path, change))
    assert message in output


def test_a_membership_that_differs_from_the_inventory_is_refused(clean_lab, tmp_path):
    output = refused(clean_lab, "-i", inventory_variant(tmp_path, mismatch_member))
    assert "master3: the inventory gives it the member etcd9" in output
    assert "the host runs etcd3 (/etc/etcd.env (ETCD_NAME) and it answers on https://127.0.0.1:2379)" in output
    assert "Set etcd_member_name: etcd3 for master3" in output


def reorder_etcd_group(inventory):
    # A sorted or regenerated inventory: kubespray named the members in the old order.
    inventory["all"]["children"]["etcd"]["hosts"] = {name: None for name in ("master2", "master1", "master3")}


def swap_member_names(inventory):
    inventory["all"]["hosts"]["master1"]["etcd_member_name"] = "etcd2"
    inventory["all"]["hosts"]["master2"]["etcd_member_name"] = "etcd1"


@pytest.mark.parametrize("change", [reorder_etcd_group, swap_member_names])
def test_an_inventory_that_puts_the_stuck_member_on_another_host_is_refused(clean_lab, tmp_path, change):
    # Believed, either inventory would make the kit reboot master2 (etcd2, healthy) as
    # "the stuck etcd1's host" while etcd1 is out: two of three members down.
    faults.inject(clean_lab, "master1", "member_frozen")
    output = refused(clean_lab, "-i", inventory_variant(tmp_path, change))
    assert "master1: the inventory gives it the member etcd2" in output
    assert "but the host runs etcd1 (/etc/etcd.env (ETCD_NAME))" in output
    assert "master2: the inventory gives it the member etcd1" in output
    assert "Set etcd_member_name: etcd2 for master2" in output and "Nothing was changed" in output


def test_a_pinned_target_that_is_itself_affected_is_refused(clean_lab):
    output = refused(clean_lab, "-e", "etcd_kernel_target_release=5.4.0-133-generic")
    assert "5.4.0-133-generic" in output and "affected" in output


def test_missing_certificate_files_are_refused(clean_lab):
    output = refused(clean_lab, "-e", "etcd_cert_dir=/etc/ssl/nowhere")
    assert "Missing on master1: /etc/ssl/nowhere/ca.pem" in output
    assert "set etcd_cert_dir" in output


def test_a_lock_held_by_another_run_is_refused_naming_its_holder(affected_lab, tmp_path):
    clean_lab = affected_lab
    lock_args = {"endpoints": [clean_lab.client_url(h) for h in clean_lab.hosts],
                 "ca_file": "/etc/ssl/etcd/ssl/ca.pem",
                 "cert_file": "/etc/ssl/etcd/ssl/admin-master1.pem",
                 "key_file": "/etc/ssl/etcd/ssl/admin-master1-key.pem",
                 "run_id": "other-run", "holder": "awx job 42", "ttl": 120}
    taken = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_lock", lock_args)
    assert taken["changed"] and taken["lock"] == "acquired", json.dumps(taken)
    try:
        output = refused(clean_lab)
        assert "held by awx job 42 (run other-run) since" in output
        assert "expires in" in output
    finally:
        released = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_lock",
                              dict(lock_args, state="absent"))
        assert released["lock"] == "released"


def test_a_cluster_with_an_alarm_is_refused(clean_lab):
    faults.inject(clean_lab, "master2", "nospace_alarm")
    output = refused(clean_lab)
    assert "cannot afford a rollout" in output and "alarm NOSPACE on etcd2" in output


def test_a_fixed_kernel_without_its_modules_extra_is_refused(clean_lab):
    faults.inject(clean_lab, "master2", "modules_extra_missing")
    output = refused(clean_lab)
    assert "apt on master2 does not offer linux-modules-extra-5.4.0-136-generic" in output
    assert "linux-modules-extra-5.4.0-132-generic" in output and "Nothing was changed" in output


def test_two_members_out_is_refused(clean_lab):
    faults.inject(clean_lab, "master2", "member_stopped")
    faults.inject(clean_lab, "master3", "member_frozen")
    output = refused(clean_lab)
    assert "cannot afford a rollout" in output and "no quorum" in output


def test_a_run_outside_the_maintenance_window_stops_before_touching_any_host(clean_lab):
    output = refused(clean_lab, "-e", '{"etcd_kernel_maintenance_days": ["Sat"], "etcd_kernel_maintenance_start": '
                     '"02:00", "etcd_kernel_maintenance_end": "05:00", "etcd_kernel_maintenance_now": '
                     '"2026-11-25T12:00:00Z"}')
    assert "Wed 12:00 UTC is outside the maintenance window 02:00-05:00 UTC on Sat" in output
    assert "nothing was touched" in output


def drop_member_names(inventory):
    for host in inventory["all"]["hosts"].values():
        host.pop("etcd_member_name", None)  # the lab inventory sets none either


def duplicate_member_name(inventory):
    inventory["all"]["hosts"]["master3"]["etcd_member_name"] = "etcd1"


def test_member_names_default_as_kubespray_derives_them(clean_lab, tmp_path):
    # kubespray names the members etcd<position in the etcd group>, as the lab does.
    result = run_playbook("remediate.yml", "--check", "-i", inventory_variant(tmp_path, drop_member_names))
    assert result.returncode == 0, result.stdout[-3000:]
    report = latest_report()
    assert report["result"] == "planned"
    assert sorted((step["host"], step["member"]) for step in report["plan"]) == [
        ("master1", "etcd1"), ("master2", "etcd2"), ("master3", "etcd3")]


def test_two_hosts_with_one_member_name_are_refused(clean_lab, tmp_path):
    output = refused(clean_lab, "-i", inventory_variant(tmp_path, duplicate_member_name))
    assert "master3: the inventory gives it the member etcd1" in output


@pytest.mark.parametrize("variable, message", [
    ("etcd_kernel_gate_wait_s=soon", "argument 'etcd_kernel_gate_wait_s' is of type"),
    ("etcd_deployment_type=podman", "value of etcd_kernel_layout must be one of: , docker, host, kubeadm"),
    # The lab runs kubespray's docker layout: a claim of another is checked against the host.
    ("etcd_deployment_type=host", "the inventory says etcd runs in the host layout (etcd_deployment_type), but "
                                  "the host runs it in the docker layout"),
    ("etcd_kernel_force_cluster_size=maybe", "etcd_kernel_force_cluster_size"),
    ("etcd_kernel_reboot_timeout_s=[1]", "argument 'etcd_kernel_reboot_timeout_s' is of type"),
    # Shorter than one host may go between two refreshes: another run could take the lock meanwhile.
    ("etcd_kernel_lock_ttl=300", "Raise etcd_kernel_lock_ttl to at least"),
    # Two runs with different keys would not exclude each other.
    ("etcd_kernel_lock_key=/elsewhere", "the run lock's key is the kit's own, the same for every run"),
    ("etcd_kernel_snapshot_keep=many", "argument 'etcd_kernel_snapshot_keep' is of type"),
    ("etcd_kernel_request_timeout_s=nan", "etcd_kernel_request_timeout_s must be a number of seconds above 0"),
    # The kit escalates on the etcd hosts; an escalation that fails says what to do.
    ("ansible_become_exe=/nonexistent/sudo", "The kit could not work as root on master1"),
    # A hook that is not there would fail after the install; preflight says so first.
    ("etcd_kernel_pre_disruption_tasks=hooks/drain.yml", "These hooks are not task files given by absolute path"),
    ("etcd_kernel_post_recovery_tasks=/nonexistent/uncordon.yml", "/nonexistent/uncordon.yml"),
])
def test_malformed_kit_variables_are_refused_before_anything_runs(clean_lab, variable, message):
    output = refused(clean_lab, "-e", variable)
    assert message in output


def test_certificates_that_are_not_certificates_are_refused(clean_lab):
    for host in clean_lab.hosts:
        exec_in(clean_lab.master(host), "sh", "-c",
                "mkdir -p /tmp/garbage-certs && cd /tmp/garbage-certs && "
                "for f in ca.pem admin-%s.pem admin-%s-key.pem; do echo not a certificate > $f; done"
                % (host, host))
    try:
        output = refused(clean_lab, "-e", "etcd_cert_dir=/tmp/garbage-certs")
    finally:
        for host in clean_lab.hosts:
            exec_in(clean_lab.master(host), "rm", "-rf", "/tmp/garbage-certs")
    assert "ca_file" in output or "cert_file" in output
    assert "Traceback" not in output


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
