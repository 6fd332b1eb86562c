"""The phases' refusals: start's, before any host is contacted, and preflight's on the
settings an etcd host's inventory gives."""
import os

import pytest
import yaml

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.phase_checks import (
    preflight_host_problems,
    preflight_setting_problems,
    start_problems,
)
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import lock_ttl_needed
from tests.unit.plugins.module_utils.test_etcd_health_result import make_health

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))

FINE = {"ansible_version": "2.19.14", "min_ansible_version": "2.19.0", "lock_key": None, "window": None,
        "etcd_group": "etcd", "etcd_hosts": ["master1", "master2", "master3"], "force_cluster_size": False,
        "request_timeout_s": 5}


def checks(**changes):
    return [problem["check"] for problem in start_problems(dict(FINE, **changes))]


def test_a_sound_start_has_no_problem():
    assert start_problems(FINE) == []


@pytest.mark.parametrize("version, too_old", [
    ("2.18.9", True), ("2.19.0", False), ("2.19.14", False), ("2.20.0rc1", False), ("2.9.27", True)])
def test_the_ansible_version_is_compared_as_numbers(version, too_old):
    assert checks(ansible_version=version) == (["ansible_version"] if too_old else [])


def test_a_lock_key_of_the_runs_own_is_refused_naming_the_kits_key():
    [problem] = start_problems(dict(FINE, lock_key="/elsewhere"))
    assert problem["check"] == "lock_key"
    assert "(to /elsewhere)" in problem["message"] and "/sre.etcd_kernel/remediation-lock" in problem["message"]


def test_an_empty_lock_key_is_still_a_key_of_the_runs_own():
    assert checks(lock_key="") == ["lock_key"]


def test_outside_the_window_is_refused_with_the_windows_reason():
    window = {"inside": False, "reason": "Wed 12:00 UTC is outside the maintenance window 02:00-05:00 UTC on Sat"}
    [problem] = start_problems(dict(FINE, window=window))
    assert problem["message"].startswith(window["reason"] + ". The remediation starts only inside")
    assert checks(window={"inside": True, "reason": "inside"}) == []


@pytest.mark.parametrize("hosts", [None, []])
def test_no_etcd_group_with_hosts_is_refused_saying_how_to_name_it(hosts):
    [problem] = start_problems(dict(FINE, etcd_hosts=hosts, etcd_group="kube_etcd"))
    assert problem["check"] == "etcd_group" and "no kube_etcd group" in problem["message"]
    assert "-e etcd_kernel_etcd_group=" in problem["message"]


@pytest.mark.parametrize("size, refused", [(1, True), (2, True), (3, False), (4, True), (5, False)])
def test_a_cluster_that_cannot_lose_a_member_is_refused_unless_forced(size, refused):
    hosts = ["m%d" % n for n in range(size)]
    assert checks(etcd_hosts=hosts) == (["cluster_size"] if refused else [])
    assert checks(etcd_hosts=hosts, force_cluster_size=True) == []
    assert checks(etcd_hosts=hosts, force_cluster_size="yes") == []


@pytest.mark.parametrize("timeout", [0, -1, 61, "nan", "inf", "soon", None, [1]])
def test_a_request_timeout_out_of_bounds_is_refused(timeout):
    assert checks(request_timeout_s=timeout) == ["request_timeout"]


@pytest.mark.parametrize("timeout", [0.5, 60, "5"])
def test_a_request_timeout_within_bounds_is_taken(timeout):
    assert checks(request_timeout_s=timeout) == []


def test_every_problem_is_reported_at_once_and_each_says_nothing_was_touched():
    problems = start_problems(dict(FINE, ansible_version="2.18.0", lock_key="/x", etcd_hosts=["a", "b"],
                                   request_timeout_s=0, window={"inside": False, "reason": "closed"}))
    assert [p["check"] for p in problems] == ["ansible_version", "lock_key", "window", "cluster_size", "request_timeout"]
    assert all("nothing was touched" in p["message"] for p in problems)


def role_settings():
    """The role's defaults, without the prefix, as preflight passes them."""
    with open(os.path.join(ROOT, "roles", "etcd_kernel", "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle)
    names = ("lock_ttl", "dpkg_lock_wait_s", "pre_disruption_tasks", "post_recovery_tasks", "reboot_timeout_s",
             "recover_wait_s", "recover_progress_wait_s", "gate_wait_s", "install_timeout_s", "command_timeout_s")
    return {name: defaults["etcd_kernel_" + name] for name in names}


def setting_checks(**changes):
    return [problem["check"] for problem in preflight_setting_problems(dict(role_settings(), **changes))]


def test_the_roles_defaults_pass_preflights_setting_checks():
    assert preflight_setting_problems(role_settings()) == []


def test_a_lock_ttl_shorter_than_one_hosts_stretch_is_refused_naming_the_ttl_it_needs():
    settings = role_settings()
    needed = lock_ttl_needed(**{name: settings[name] for name in ("reboot_timeout_s", "recover_wait_s",
                                                                  "recover_progress_wait_s", "gate_wait_s",
                                                                  "install_timeout_s", "command_timeout_s")})
    assert setting_checks(lock_ttl=needed) == []
    [problem] = preflight_setting_problems(dict(settings, lock_ttl=needed - 1))
    assert problem["check"] == "lock_ttl" and "Raise etcd_kernel_lock_ttl to at least %d" % needed in problem["message"]
    # A longer reboot timeout needs a longer TTL: the check follows the host's own settings.
    assert setting_checks(reboot_timeout_s=int(settings["reboot_timeout_s"]) * 10) == ["lock_ttl"]


def test_a_dpkg_lock_wait_as_long_as_the_install_is_refused():
    assert setting_checks(dpkg_lock_wait_s=1200, install_timeout_s=1200) == ["dpkg_lock_wait"]
    assert setting_checks(dpkg_lock_wait_s=1199, install_timeout_s=1200) == []


def test_hooks_must_be_existing_files_by_absolute_path(tmp_path):
    hook = tmp_path / "drain.yml"
    hook.write_text("[]\n")
    assert setting_checks(pre_disruption_tasks=str(hook), post_recovery_tasks=str(hook)) == []
    [problem] = preflight_setting_problems(dict(role_settings(), pre_disruption_tasks="hooks/drain.yml",
                                                post_recovery_tasks=str(tmp_path / "missing.yml")))
    assert problem["check"] == "hooks"
    assert "hooks/drain.yml, %s." % (tmp_path / "missing.yml") in problem["message"]
    # A folder is not a task file.
    assert setting_checks(post_recovery_tasks=str(tmp_path)) == ["hooks"]


def detected(**changes):
    record = {"claim_problems": [], "affected": True, "kernel": "5.4.0-132-generic", "target": "5.4.0-136-generic",
              "installed": ["5.4.0-132-generic"], "target_packages_missing": [],
              "running_packages": ["linux-image-5.4.0-132-generic", "linux-modules-extra-5.4.0-132-generic"]}
    record.update(changes)
    return record


HEALTHY = {"etcd1": "follower", "etcd2": "leader", "etcd3": "follower"}


def host_facts(**changes):
    facts = {"host": "master1", "member": "etcd1", "layout": "host", "detected": detected(),
             "health": make_health(HEALTHY), "max_index_gap": 1000, "events": None, "events_health": None}
    facts.update(changes)
    return facts


def host_checks(**changes):
    return [problem["check"] for problem in preflight_host_problems(host_facts(**changes))]


def test_a_sound_host_has_no_problem():
    assert preflight_host_problems(host_facts()) == []


def test_the_inventorys_claims_come_alone_since_every_other_check_reads_through_them():
    claims = [{"check": "member_name", "message": "master1: the inventory gives it the member etcd3 ..."}]
    problems = preflight_host_problems(host_facts(detected=detected(claim_problems=claims, target=None),
                                                  health=make_health({"etcd1": "down", "etcd2": "leader",
                                                                      "etcd3": "down"})))
    assert problems == claims


def test_one_member_out_is_allowed_while_the_others_are_healthy_and_in_sync():
    assert host_checks(health=make_health({"etcd1": "down", "etcd2": "leader", "etcd3": "follower"})) == []
    lagging = {"etcd1": "down", "etcd2": "leader", "etcd3": {"raft_index": 5000}}
    assert host_checks(health=make_health(lagging)) == ["cluster"]


def test_two_members_out_or_an_alarm_refuse_naming_what_is_wrong():
    [problem] = preflight_host_problems(host_facts(health=make_health({"etcd1": "down", "etcd2": "leader",
                                                                       "etcd3": "down"})))
    assert problem["check"] == "cluster" and "Seen from master1, the etcd cluster cannot afford a rollout" in problem["message"]
    assert "no quorum" in problem["message"]
    [alarm] = preflight_host_problems(host_facts(health=make_health(HEALTHY, alarms=[("etcd2", "NOSPACE")])))
    assert "alarm NOSPACE on etcd2" in alarm["message"] and "etcdctl alarm disarm" in alarm["message"]


def test_an_unhealthy_events_cluster_refuses_saying_to_bring_it_back_first():
    events = {"member_name": "etcd1-events", "name_source": "/etc/etcd-events.env (ETCD_NAME)", "layout": "host",
              "advertise_client_urls": ["https://etcd1-events:2383"], "problems": []}
    events_health = make_health({"etcd1-events": "follower", "etcd2-events": "leader", "etcd3-events": "down"})
    [problem] = preflight_host_problems(host_facts(events=events, events_health=events_health))
    assert problem["check"] == "events_cluster"
    assert "kubespray's etcd-events cluster is not healthy: etcd3-events" in problem["message"]
    assert host_checks(events=events, events_health=make_health({"etcd1-events": "follower", "etcd2-events": "leader",
                                                                 "etcd3-events": "follower"})) == []


def test_an_events_member_not_named_after_the_hosts_member_is_refused():
    events = {"member_name": "etcd3-events", "name_source": "/etc/etcd-events.env (ETCD_NAME)", "layout": "host",
              "advertise_client_urls": [], "problems": []}
    healthy = make_health({"etcd1-events": "follower", "etcd2-events": "leader", "etcd3-events": "follower"})
    assert host_checks(events=events, events_health=healthy) == ["events_member_name"]


def test_no_fixed_kernel_offered_refuses_naming_what_is_installed():
    [problem] = preflight_host_problems(host_facts(detected=detected(target=None)))
    assert problem["check"] == "fixed_kernel"
    assert "apt offers no fixed kernel for it (installed: 5.4.0-132-generic)" in problem["message"]
    assert host_checks(detected=detected(target=None, affected=False)) == []


def test_a_fixed_kernel_offered_without_its_modules_extra_or_image_is_refused_saying_which():
    missing = ["linux-modules-extra-5.4.0-136-generic"]
    [problem] = preflight_host_problems(host_facts(detected=detected(target_packages_missing=missing)))
    assert problem["check"] == "fixed_kernel_packages"
    assert "does not offer linux-modules-extra-5.4.0-136-generic, which 5.4.0-136-generic needs: the host runs" in problem["message"]
    image = preflight_host_problems(host_facts(detected=detected(
        target_packages_missing=["linux-image-5.4.0-136-generic"])))
    assert "needs: not even its image is offered." in image[0]["message"]
