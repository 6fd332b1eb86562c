"""Bad input: remediate.yml refuses with a clear message and touches no host.

The flow tier's half of the refusals: the lab keeps those only a real host can show
(sudo that fails, unattended-upgrades under systemd, a reboot systemd has scheduled)."""
import json

import pytest

from lab import kernels

FIXED = kernels.release(max(kernels.FIXED_ABIS))


def refused(flow, playbook, *args, inventory=None, stopped_at=None):
    """Run remediate.yml, which must refuse (at stopped_at, the phase, when given): nothing
    touched, and a report of its own."""
    before = flow.state()
    run = playbook("remediate.yml", *args, inventory=inventory)
    assert run.returncode != 0, run.tail()
    assert flow.state() == before
    report = run.report()
    assert report["result"] == "refused" and report["lock"] in ("not_taken", "released"), report
    assert stopped_at in (None, report["stopped_at"]), report
    return run.words


def keep_etcd_hosts(names):
    def change(inventory):
        inventory["all"]["children"]["etcd"]["hosts"] = {name: None for name in names}
    return change


def rename_etcd_group(inventory):
    inventory["all"]["children"]["masters_without_etcd"] = inventory["all"]["children"].pop("etcd")


def set_host_var(host, name, value):
    def change(inventory):
        inventory["all"]["hosts"][host][name] = value
    return change


@pytest.mark.reads_only
@pytest.mark.parametrize("change, message", [
    (rename_etcd_group, "no etcd group with hosts"),
    (keep_etcd_hosts(["master1", "master2"]), "has 2 member(s)"),
    (keep_etcd_hosts(["master1"]), "has 1 member(s)"),
])
def test_a_bad_inventory_is_refused(flow, playbook, inventory_variant, change, message):
    assert message in refused(flow, playbook, inventory=inventory_variant(change))


@pytest.mark.reads_only
def test_a_membership_that_differs_from_the_inventory_is_refused(flow, playbook, inventory_variant):
    words = refused(flow, playbook, inventory=inventory_variant(set_host_var("master3", "etcd_member_name", "etcd9")))
    assert "master3: the inventory gives it the member etcd9" in words
    assert "the host runs etcd3 (/etc/etcd.env (ETCD_NAME) and it answers on %s)" % flow.host("master3").client_url in words
    assert "Set etcd_member_name: etcd3 for master3" in words


def reorder_etcd_group(inventory):
    # A sorted or regenerated inventory: kubespray named the members in the old order.
    etcd = inventory["all"]["children"]["etcd"]
    etcd["hosts"] = {name: None for name in ("master2", "master1", "master3")}


def swap_member_names(inventory):
    inventory["all"]["hosts"]["master1"]["etcd_member_name"] = "etcd2"
    inventory["all"]["hosts"]["master2"]["etcd_member_name"] = "etcd1"


@pytest.mark.parametrize("change", [reorder_etcd_group, swap_member_names])
def test_an_inventory_that_puts_the_stuck_member_on_another_host_is_refused(flow, playbook, inventory_variant,
                                                                            change):
    # Believed, either inventory would make the kit reboot master2 (etcd2, healthy) as
    # "the stuck etcd1's host" while etcd1 is out: two of three members down.
    flow.host("master1").freeze()
    words = refused(flow, playbook, inventory=inventory_variant(change))
    assert "master1: the inventory gives it the member etcd2" in words
    assert "but the host runs etcd1 (/etc/etcd.env (ETCD_NAME))" in words
    assert "master2: the inventory gives it the member etcd1" in words
    assert "Set etcd_member_name: etcd2 for master2" in words and "Nothing was changed" in words


@pytest.mark.reads_only
def test_two_hosts_with_one_member_name_are_refused(flow, playbook, inventory_variant):
    words = refused(flow, playbook, inventory=inventory_variant(set_host_var("master3", "etcd_member_name", "etcd1")))
    assert "master3: the inventory gives it the member etcd1" in words


@pytest.mark.reads_only
def test_member_names_default_as_kubespray_derives_them(flow, playbook):
    # kubespray names the members etcd<position in the etcd group>; the flow inventory sets none.
    before = flow.state()
    run = playbook("remediate.yml", "--check")
    assert run.returncode == 0, run.tail()
    assert flow.state() == before
    report = run.report()
    assert report["result"] == "planned"
    assert sorted((step["host"], step["member"]) for step in report["plan"]) == [
        ("master1", "etcd1"), ("master2", "etcd2"), ("master3", "etcd3")]


@pytest.mark.reads_only
def test_a_pinned_target_that_is_itself_affected_is_refused(flow, playbook):
    words = refused(flow, playbook, "-e", "etcd_kernel_target_release=5.4.0-133-generic")
    assert "5.4.0-133-generic" in words and "affected" in words


@pytest.mark.reads_only
def test_missing_certificate_files_are_refused(flow, playbook):
    words = refused(flow, playbook, "-e", "etcd_cert_dir=/etc/ssl/nowhere")
    assert "Missing on master1: /etc/ssl/nowhere/ca.pem" in words
    assert "set etcd_cert_dir" in words


def test_certificates_that_are_not_certificates_are_refused(flow, playbook):
    for host in flow.hosts:
        for name in ("ca.pem", "admin-%s.pem" % host.name, "admin-%s-key.pem" % host.name):
            host.write("/etc/ssl/garbage/" + name, "not a certificate\n")
    words = refused(flow, playbook, "-e", "etcd_cert_dir=/etc/ssl/garbage")
    assert "ca_file" in words or "cert_file" in words
    assert "Traceback" not in words


def test_a_lock_held_by_another_run_is_refused_naming_its_holder(flow, playbook, module):
    lock_args = {"endpoints": [h.client_url for h in flow.hosts], "ca_file": "/etc/ssl/etcd/ssl/ca.pem",
                 "cert_file": "/etc/ssl/etcd/ssl/admin-master1.pem",
                 "key_file": "/etc/ssl/etcd/ssl/admin-master1-key.pem",
                 "run_id": "other-run", "holder": "awx job 42", "ttl": 120}
    taken = module("master1", "sre.etcd_kernel.etcd_lock", lock_args)
    assert taken["changed"] and taken["lock"] == "acquired", json.dumps(taken)
    words = refused(flow, playbook)
    assert "held by awx job 42 (run other-run) since" in words and "expires in" in words
    assert flow.lock_value()["run_id"] == "other-run"  # never taken over


def test_a_cluster_with_an_alarm_is_refused(flow, playbook):
    flow.raise_alarm("master2")
    words = refused(flow, playbook)
    assert "cannot afford a rollout" in words and "alarm NOSPACE on etcd2" in words


def test_a_fixed_kernel_without_its_modules_extra_is_refused(flow, playbook):
    flow.write_repo(flow.host("master2"), hide_extra=True)
    words = refused(flow, playbook)
    assert "apt on master2 does not offer linux-modules-extra-%s" % FIXED in words
    assert "linux-modules-extra-5.4.0-132-generic" in words and "Nothing was changed" in words


def test_no_fixed_kernel_offered_is_refused(flow, playbook):
    flow.write_repo(flow.host("master3"), hide_fixed=True)
    words = refused(flow, playbook)
    assert "master3" in words and "Nothing was changed" in words


def test_two_members_out_is_refused(flow, playbook):
    flow.host("master2").stop_etcd()
    flow.host("master3").freeze()
    words = refused(flow, playbook)
    assert "cannot afford a rollout" in words and "no quorum" in words


@pytest.mark.reads_only
def test_a_run_outside_the_maintenance_window_stops_before_touching_any_host(flow, playbook):
    words = refused(flow, playbook, "-e", json.dumps({
        "etcd_kernel_maintenance_days": ["Sat"], "etcd_kernel_maintenance_start": "02:00",
        "etcd_kernel_maintenance_end": "05:00", "etcd_kernel_maintenance_now": "2026-11-25T12:00:00Z"}))
    assert "Wed 12:00 UTC is outside the maintenance window 02:00-05:00 UTC on Sat" in words
    assert "nothing was touched" in words


# Each check names every problem it finds, and the run stops at the first check that
# refuses: one run per check hands it all its bad settings (the checks themselves are
# unit-tested). Start checks its argument spec, then the controller's settings; preflight
# its argument spec, the etcd hosts' settings, the snapshot folder, then each host.
@pytest.mark.reads_only
@pytest.mark.parametrize("settings, stopped_at, messages", [
    pytest.param({"etcd_kernel_force_cluster_size": "maybe"}, "start",
                 ["argument 'etcd_kernel_force_cluster_size' is of type"], id="start-argument-spec"),
    pytest.param(
        {"etcd_kernel_gate_wait_s": "soon", "etcd_kernel_reboot_timeout_s": [1], "etcd_kernel_snapshot_keep": "many",
         "etcd_deployment_type": "podman"}, "preflight",
        ["argument 'etcd_kernel_gate_wait_s' is of type", "argument 'etcd_kernel_reboot_timeout_s' is of type",
         "argument 'etcd_kernel_snapshot_keep' is of type", "value of etcd_kernel_layout must be one of: , docker, host, kubeadm"],
        id="preflight-argument-spec"),
    # A lock key of the run's own: two runs with different keys would not exclude each other.
    pytest.param(
        {"etcd_kernel_request_timeout_s": "nan", "etcd_kernel_lock_key": "/elsewhere"}, "start",
        ["etcd_kernel_request_timeout_s must be a number of seconds above 0",
         "the run lock's key is the kit's own, the same for every run"],
        id="start-settings"),
    # A TTL shorter than one host may go between two refreshes (another run could take the
    # lock meanwhile); hooks that are not there (they would fail after the install).
    pytest.param(
        {"etcd_kernel_lock_ttl": 300, "etcd_kernel_pre_disruption_tasks": "hooks/drain.yml",
         "etcd_kernel_post_recovery_tasks": "/nonexistent/uncordon.yml"}, "preflight",
        ["Raise etcd_kernel_lock_ttl to at least",
         "These hooks are not task files given by absolute path on the controller: hooks/drain.yml, "
         "/nonexistent/uncordon.yml"],
        id="preflight-settings"),
    # A snapshot folder a boot empties would lose the snapshot with its host's reboot.
    pytest.param({"etcd_kernel_snapshot_dir": "/tmp/snapshots"}, "preflight",
                 ["etcd_kernel_snapshot_dir /tmp/snapshots is under /tmp, which the host empties at every boot"],
                 id="snapshot-folder"),
    # The flow hosts run kubespray's host layout: a claim of another is checked against the host.
    pytest.param(
        {"etcd_deployment_type": "docker"}, "preflight",
        ["the inventory says etcd runs in the docker layout (etcd_deployment_type), but the host runs it in the host layout"],
        id="layout-claim"),
])
def test_malformed_kit_variables_are_refused_before_anything_runs(flow, playbook, settings, stopped_at, messages):
    words = refused(flow, playbook, "-e", json.dumps(settings), stopped_at=stopped_at)
    assert [message for message in messages if message not in words] == [], words[-3000:]
