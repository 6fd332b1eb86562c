"""The phases' refusals: start's, before any host is contacted, preflight's on the
settings an etcd host's inventory gives, on what each host showed, on the cluster as a
whole and its plan, and a host's step as it goes."""
import os

import pytest
import yaml
from ansible.errors import AnsibleFilterError

from ansible_collections.sre.etcd_kernel.plugins.filter.remediation import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.phase_checks import (
    member_problems,
    node_preflight_problems,
    node_recovery_problems,
    plan_problems,
    preflight_host_problems,
    preflight_setting_problems,
    snapshot_problems,
    start_problems,
)
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_plan import remediation_plan
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
             "recover_wait_s", "recover_progress_wait_s", "gate_wait_s", "install_timeout_s", "command_timeout_s",
             "node_budget", "node_slot_wait_s", "node_max_fail_percentage")
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


def test_a_budget_of_no_node_and_a_slot_wait_that_never_ends_are_refused():
    assert setting_checks(node_budget=0) == ["node_budget"]
    assert setting_checks(node_slot_wait_s=float("nan")) == ["node_slot_wait"]
    assert setting_checks(node_slot_wait_s=-1) == ["node_slot_wait"]
    assert setting_checks(node_budget=5, node_slot_wait_s=0) == []


def test_a_max_fail_percentage_outside_0_to_100_is_refused():
    assert setting_checks(node_max_fail_percentage=101) == ["node_max_fail_percentage"]
    assert setting_checks(node_max_fail_percentage=float("nan")) == ["node_max_fail_percentage"]
    assert setting_checks(node_max_fail_percentage=100) == setting_checks(node_max_fail_percentage=0) == []


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


GROUP = ["master1", "master2", "master3"]
URLS = ["https://10.0.0.%d:2379" % number for number in (1, 2, 3)]


def step(host, member):
    return {"order": 1, "host": host, "member": member, "action": "upgrade", "from": "5.4.0-132-generic",
            "to": "5.4.0-136-generic", "role": "follower"}


def plan_facts(**changes):
    facts = {"etcd_group": "etcd", "group_hosts": list(GROUP),
             "hosts": [{"host": host, "member": "etcd%d" % number} for number, host in enumerate(GROUP, start=1)],
             "endpoints": list(URLS), "members": make_health(HEALTHY)["members"],
             "plan": [step(host, "etcd%d" % number) for number, host in enumerate(GROUP, start=1)]}
    facts.update(changes)
    return facts


def plan_checks(**changes):
    return [problem["check"] for problem in plan_problems(plan_facts(**changes))]


def test_a_membership_that_matches_the_inventory_with_every_member_healthy_has_no_problem():
    assert plan_problems(plan_facts()) == []
    assert plan_checks(plan=[]) == []
    assert plan_checks(plan=None) == []


def test_more_members_than_hosts_is_refused_naming_both_and_saying_what_to_fix():
    members = make_health(dict(HEALTHY, etcd4="follower"))["members"]
    [problem] = plan_problems(plan_facts(members=members))
    assert problem["check"] == "membership"
    assert problem["message"].startswith(
        "etcd has 4 members (etcd1, etcd2, etcd3, etcd4) and the inventory's etcd group 3 hosts; "
        "member names here: etcd1, etcd2, etcd3; addresses: " + ", ".join(URLS) + ". ")
    assert problem["message"].endswith(
        "Each etcd member must be one inventory host with its own etcd_member_name and address: fix the inventory "
        "(or etcd's membership) first.")


def test_fewer_members_than_hosts_is_refused():
    members = make_health({"etcd1": "follower", "etcd2": "leader"})["members"]
    [problem] = plan_problems(plan_facts(members=members))
    assert problem["check"] == "membership" and "etcd has 2 members (etcd1, etcd2)" in problem["message"]
    # The whole group counts, not the hosts --limit leaves in the play.
    assert plan_checks(hosts=[{"host": "master2", "member": "etcd2"}], members=members) == ["membership"]
    assert plan_checks(hosts=[{"host": "master2", "member": "etcd2"}]) == []


def test_two_hosts_with_one_member_name_are_refused_naming_it():
    hosts = [{"host": "master1", "member": "etcd1"}, {"host": "master2", "member": "etcd2"},
             {"host": "master3", "member": "ETCD1"}]
    [problem] = plan_problems(plan_facts(hosts=hosts))
    assert problem["check"] == "membership"
    assert "member names here: etcd1, etcd2, ETCD1; " in problem["message"]
    assert "; more than once: etcd1. Each etcd member must be" in problem["message"]


def test_two_hosts_with_one_address_are_refused_naming_it():
    # A URL's host name ignores case.
    endpoints = ["https://master1:2379", "https://Master2:2379", "https://master2:2379"]
    [problem] = plan_problems(plan_facts(endpoints=endpoints))
    assert problem["check"] == "membership"
    assert "addresses: %s; more than once: https://Master2:2379. Each etcd member must be" % ", ".join(endpoints) \
        in problem["message"]
    assert plan_checks(endpoints=URLS[:2] + ["https://10.0.0.33:2379"]) == []


def test_an_unnamed_member_is_named_by_where_it_was_looked_for():
    members = make_health(HEALTHY)["members"] + [{"name": None, "id": None, "endpoint": "https://10.0.0.9:2379",
                                                  "healthy": False}]
    [problem] = plan_problems(plan_facts(members=members))
    assert "(etcd1, etcd2, etcd3, an unnamed member (https://10.0.0.9:2379))" in problem["message"]


def test_the_membership_comes_first_and_alone_even_with_a_member_out_and_no_plan():
    members = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "down", "etcd4": "follower"})["members"]
    for plan in (None, [], [step("master1", "etcd1")]):
        assert plan_checks(members=members, plan=plan) == ["membership"]


def test_a_member_out_that_the_plan_leaves_out_is_refused_saying_to_bring_it_back_or_include_its_host():
    members = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "down"})["members"]
    [problem] = plan_problems(plan_facts(members=members, plan=[step("master2", "etcd2")]))
    assert problem["check"] == "member_out"
    assert problem["message"].startswith("etcd3 is out and not in this run's plan (--limit leaves its host out, "
                                         "or its kernel is neither affected nor fixed), so no other member may be disrupted")
    assert problem["message"].endswith("bring it back first (the mitigate playbook restarts a stuck member's etcd), "
                                       "or include its host.")
    assert plan_checks(members=members, plan=[]) == ["member_out"]


def test_a_member_out_that_the_plan_remediates_is_no_problem():
    members = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "down"})["members"]
    assert plan_checks(members=members, plan=[step("master3", "etcd3"), step("master2", "etcd2")]) == []


def test_before_the_plan_is_made_the_membership_alone_is_judged():
    members = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "down"})["members"]
    assert plan_checks(members=members, plan=None) == []


def test_every_member_out_the_plan_leaves_out_is_named_in_one_problem():
    members = make_health({"etcd1": "down", "etcd2": "leader", "etcd3": "down"})["members"]
    [problem] = plan_problems(plan_facts(members=members, plan=[step("master2", "etcd2")]))
    assert problem["message"].startswith("etcd1, etcd3 are out and not in this run's plan")


def test_the_plan_checks_take_what_remediation_plan_makes_for_a_limited_run():
    # --limit master2 while etcd3 is down: the plan holds master2 alone, so the run is refused.
    health = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "down"})
    report = {"host": "master2", "member": "etcd2", "kernel": "5.4.0-132-generic", "affected": True,
              "target": "5.4.0-136-generic"}
    plan = remediation_plan([report], health)
    assert plan_checks(hosts=[report], members=health["members"], plan=plan) == ["member_out"]
    etcd3 = dict(report, host="master3", member="etcd3")
    plan = remediation_plan([report, etcd3], health)
    assert plan_checks(hosts=[report, etcd3], members=health["members"], plan=plan) == []


def test_the_filter_names_itself_on_bad_input():
    plan_filter = FilterModule().filters()["plan_problems"]
    assert plan_filter(plan_facts()) == []
    facts = plan_facts()
    del facts["members"]
    with pytest.raises(AnsibleFilterError, match="^plan_problems: "):
        plan_filter(facts)


# member_problems: results as Ansible registers them in the member phase.
UPGRADE = {"action": "upgrade", "to": "5.4.0-136-generic"}
AFFECTED = {"changed": False, "status": "affected", "running_release": "5.4.0-132-generic",
            "reason": "5.4.0-132 is in an affected range",
            "running_packages": ["linux-image-5.4.0-132-generic", "linux-modules-5.4.0-132-generic"],
            "target_packages": ["linux-image-5.4.0-136-generic", "linux-modules-5.4.0-136-generic"],
            "target_packages_missing": []}
FIXED = dict(AFFECTED, status="fixed", running_release="5.4.0-136-generic", reason="5.4.0-136 is fixed",
             target_packages=[], running_packages=["linux-image-5.4.0-136-generic"])
BOOT_FILES = ["/boot/vmlinuz-5.4.0-136-generic", "/boot/initrd.img-5.4.0-136-generic", "/lib/modules/5.4.0-136-generic"]
INSTALLED = {"changed": True, "failed": False}
SKIPPED = {"changed": False, "skipped": True, "skip_reason": "Conditional result was False"}
UNREACHABLE = {"unreachable": True, "changed": False, "msg": "Failed to connect to the host via ssh: timed out"}


def found(*paths):
    return {"changed": False, "files": [{"path": path} for path in paths], "matched": len(paths)}


def member_facts(**changes):
    facts = {"host": "master1", "step": UPGRADE, "before": AFFECTED, "install": None, "boot_files": BOOT_FILES,
             "boot_found": None, "after": None, "install_timeout_s": 1200, "dpkg_lock_wait_s": 600}
    facts.update(changes)
    return facts


def member_check(**changes):
    return [(problem["check"], problem["message"]) for problem in member_problems(member_facts(**changes))]


def test_a_step_that_goes_well_has_no_problem_at_any_point():
    assert member_check() == []
    assert member_check(install=INSTALLED) == []
    assert member_check(install=INSTALLED, boot_found=found(*BOOT_FILES)) == []
    assert member_check(install=INSTALLED, boot_found=found(*BOOT_FILES), after=FIXED) == []


def test_a_host_already_fixed_skips_the_install_and_is_read_back_on_its_own_kernel():
    recover = {"action": "recover", "to": None}
    assert member_check(step=recover, before=FIXED, install=SKIPPED, boot_found=SKIPPED, after=FIXED) == []


@pytest.mark.parametrize("before, advice", [
    (dict(AFFECTED, status="unknown", reason="not an Ubuntu kernel"), "the plan no longer applies: run the kit again"),
    (dict(AFFECTED, status="unaffected"), "the plan no longer applies"),
])
def test_a_host_whose_kernel_changed_since_the_plan_is_stopped(before, advice):
    [(check, message)] = member_check(before=before)
    assert check == "still_planned" and advice in message
    assert message.startswith("master1 runs 5.4.0-132-generic (%s), and" % before["reason"])


def test_an_affected_host_with_no_fixed_kernel_offered_is_told_where_to_get_one():
    [(check, message)] = member_check(step={"action": "upgrade", "to": None})
    assert check == "still_planned"
    assert message.endswith("no fixed kernel is offered to it: add a mirror that carries one, or pin one with "
                            "etcd_kernel_target_release")


def test_an_unreachable_host_fails_the_check_whose_task_could_not_reach_it():
    assert member_check(before=UNREACHABLE) == [("still_planned", "unreachable: " + UNREACHABLE["msg"])]
    [(check, message)] = member_check(install=UNREACHABLE)
    assert check == "installed" and message.endswith("failed: it became unreachable (%s)" % UNREACHABLE["msg"])
    [(check, message)] = member_check(install=INSTALLED, boot_found=UNREACHABLE)
    assert (check, message) == ("bootable", "master1 became unreachable after the install, before its reboot: "
                                + UNREACHABLE["msg"])
    [(check, message)] = member_check(install=INSTALLED, boot_found=found(*BOOT_FILES), after=UNREACHABLE)
    assert (check, message) == ("read_back", "master1 became unreachable after its reboot")


def test_a_package_of_the_fixed_kernel_apt_no_longer_offers_stops_before_the_install():
    before = dict(AFFECTED, target_packages_missing=["linux-modules-5.4.0-136-generic"])
    [(check, message)] = member_check(before=before)
    assert check == "packages_offered"
    assert message.startswith("master1 was not rebooted: apt no longer offers linux-modules-5.4.0-136-generic, which "
                              "5.4.0-136-generic needs (the host runs linux-image-5.4.0-132-generic, "
                              "linux-modules-5.4.0-132-generic)")


@pytest.mark.parametrize("install, advice", [
    # ansible-core's task timeout marks the result timedout.
    ({"failed": True, "msg": "Task failed: Timed out after 1200 second(s).", "timedout": {"period": 1200}},
     "took longer than etcd_kernel_install_timeout_s (1200s); apt may still be running there"),
    ({"failed": True, "msg": "The apt action failed to execute in the expected time frame (1200) and was terminated"},
     "took longer than etcd_kernel_install_timeout_s (1200s)"),
    ({"failed": True, "msg": "Failed to lock apt for exclusive operation: Failed to lock directory /var/lib/apt/lists/"},
     "waited more than etcd_kernel_dpkg_lock_wait_s (600s) for the dpkg lock: another apt run holds it"),
    ({"failed": True, "msg": "'/usr/bin/apt-get -y install' failed: E: Could not get lock /var/lib/dpkg/lock-frontend"},
     "waited more than etcd_kernel_dpkg_lock_wait_s (600s) for the dpkg lock"),
    ({"failed": True, "msg": "'/usr/bin/apt-get -y install' failed: E: Sub-process /usr/bin/dpkg returned an error code (1)"},
     "failed: '/usr/bin/apt-get -y install' failed: E: Sub-process /usr/bin/dpkg returned an error code (1). "
     "Fix apt on the host (dpkg --audit; apt-get -f install)"),
    ({"failed": True}, "failed: no message. Fix apt on the host"),
])
def test_a_failed_install_says_what_to_do_about_it(install, advice):
    [(check, message)] = member_check(install=install)
    assert check == "installed"
    assert message.startswith("master1 was not rebooted: installing linux-image-5.4.0-136-generic, "
                              "linux-modules-5.4.0-136-generic ")
    assert advice in message


def test_a_fixed_kernel_missing_a_boot_file_is_not_rebooted_into():
    [(check, message)] = member_check(install=INSTALLED, boot_found=found(BOOT_FILES[0], BOOT_FILES[2]))
    assert check == "bootable"
    assert message.startswith("master1 was not rebooted: /boot/initrd.img-5.4.0-136-generic missing after the install "
                              "of 5.4.0-136-generic")
    assert "update-initramfs -c -k 5.4.0-136-generic" in message
    [(check, message)] = member_check(install=INSTALLED, boot_found=found())
    assert ", ".join(BOOT_FILES) + " missing" in message


@pytest.mark.parametrize("after", [
    dict(AFFECTED),  # the reboot came back on the affected kernel
    dict(FIXED, running_release="5.4.0-135-generic"),  # a fixed kernel, not the planned one
])
def test_a_host_that_came_back_on_another_kernel_is_stopped_with_where_to_look(after):
    [(check, message)] = member_check(install=INSTALLED, boot_found=found(*BOOT_FILES), after=after)
    assert check == "read_back"
    assert message == ("master1 runs %s (%s), not 5.4.0-136-generic: check the default boot entry (grub-set-default / "
                       "GRUB_DEFAULT) and that the package installed a bootable image"
                       % (after["running_release"], after["reason"]))


def test_only_the_first_problem_is_told_since_the_step_stops_there():
    before = dict(AFFECTED, target_packages_missing=["linux-modules-5.4.0-136-generic"])
    assert [check for check, _ in member_check(before=before, install={"failed": True}, after=AFFECTED)] == [
        "packages_offered"]


def test_the_member_filter_names_itself_on_bad_input():
    member_filter = FilterModule().filters()["member_problems"]
    assert member_filter(member_facts()) == []
    with pytest.raises(AnsibleFilterError, match="^member_problems: "):
        member_filter({"host": "master1"})


# snapshot_problems: preflight's snapshot, results as Ansible registers them.
FOLDER = {"changed": False, "folder": "/var/backups/etcd-kernel", "snapshot_path": "/var/backups/etcd-kernel/s.db",
          "free_bytes": 10 * 1024 * 1024}
SAVED = {"changed": True, "rc": 0, "stdout": "Snapshot saved at /var/backups/etcd-kernel/s.db"}
STATUS = {"changed": False, "rc": 0, "stdout": '{"hash":3158531468,"revision":1042,"totalKey":77,"totalSize":2121728}'}


def snapshot_facts(**changes):
    facts = {"hosts": ["master1", "master2", "master3"], "source": "master2", "host": "master2", "folder": None,
             "db_size": 2 * 1024 * 1024, "saved": None, "kept": None, "status": None,
             "path": FOLDER["snapshot_path"], "reader": "/usr/local/bin/etcdutl"}
    facts.update(changes)
    return facts


def snapshot_check(**changes):
    return [(problem["check"], problem["message"]) for problem in snapshot_problems(snapshot_facts(**changes))]


def test_a_snapshot_that_goes_well_has_no_problem_at_any_point():
    assert snapshot_check() == []
    assert snapshot_check(folder=FOLDER) == []
    assert snapshot_check(folder=FOLDER, saved=SAVED, kept={"changed": False}, status=STATUS) == []


def test_no_healthy_member_at_hand_refuses_naming_the_hosts_reached():
    assert snapshot_check(source=None) == [("snapshot_source", (
        "No healthy etcd member among the hosts this run reaches (master1, master2, master3) to take the snapshot "
        "from: include a healthy member's host (--limit), or bring the members back first."))]


def test_a_folder_without_room_for_twice_the_database_refuses_with_the_sizes():
    [(check, message)] = snapshot_check(folder=dict(FOLDER, free_bytes=3 * 1024 * 1024))
    assert check == "snapshot_room"
    assert message.startswith("/var/backups/etcd-kernel on master2 has 3.00 MB free; the snapshot of a 2.00 MB "
                              "database needs twice that.")
    assert snapshot_check(folder=dict(FOLDER, free_bytes=4 * 1024 * 1024)) == []


@pytest.mark.parametrize("stdout", ['{"hash":0,"revision":0,"totalKey":0}', "", "Error: snapshot file has wrong size",
                                    "[]"])
def test_a_snapshot_that_does_not_read_back_refuses(stdout):
    [(check, message)] = snapshot_check(folder=FOLDER, saved=SAVED, kept={}, status=dict(STATUS, stdout=stdout))
    assert check == "snapshot_read_back"
    assert message == ("the snapshot /var/backups/etcd-kernel/s.db on master2 does not read back (etcdutl snapshot "
                       "status: %s): check the disk, then run the kit again" % stdout)


def test_a_host_lost_during_the_snapshot_says_when():
    assert snapshot_check(folder=UNREACHABLE) == [("snapshot_room", "master2 became unreachable before the snapshot")]
    assert snapshot_check(folder=FOLDER, saved=UNREACHABLE, kept=UNREACHABLE, status=UNREACHABLE) == [
        ("snapshot_read_back", "master2 became unreachable while the snapshot was taken")]


def test_the_snapshot_filter_names_itself_on_bad_input():
    with pytest.raises(AnsibleFilterError, match="^snapshot_problems: "):
        FilterModule().filters()["snapshot_problems"]({"hosts": []})


# --- the other nodes -------------------------------------------------------------------

def node_entry(**changes):
    entry = {"host": "worker1", "role": "worker", "kernel": "5.4.0-132-generic", "affected": True, "status": "affected",
             "target": "5.4.0-136-generic", "installed": ["5.4.0-132-generic"], "target_packages_missing": [],
             "running_packages": ["linux-image-5.4.0-132-generic"], "claim_problems": []}
    entry.update(changes)
    return entry


def test_a_node_that_runs_an_etcd_member_is_refused_first_and_alone():
    claim = {"check": "etcd_group", "message": "worker1: runs the etcd member etcd9. Nothing was changed."}
    assert node_preflight_problems(node_entry(claim_problems=[claim], target=None)) == [claim]


def test_a_node_without_its_fixed_kernel_in_full_is_refused_as_an_etcd_host_is():
    assert node_preflight_problems(node_entry()) == []
    assert node_preflight_problems(node_entry(affected=False, status="fixed", target=None)) == []
    assert [p["check"] for p in node_preflight_problems(node_entry(target=None))] == ["fixed_kernel"]
    missing = node_entry(target_packages_missing=["linux-modules-extra-5.4.0-136-generic"])
    assert [p["check"] for p in node_preflight_problems(missing)] == ["fixed_kernel_packages"]


RUNNING = {"present": True, "answering": True, "kubelet": "active", "error": ""}


def test_a_node_back_from_its_reboot_must_run_what_it_ran_before():
    facts = {"host": "worker1", "before": RUNNING, "after": RUNNING}
    assert node_recovery_problems(facts) == []
    hung = node_recovery_problems(dict(facts, after=dict(RUNNING, answering=False, error="no answer within 10s")))
    assert [p["check"] for p in hung] == ["runtime"]
    assert "its containerd does not answer (no answer within 10s)" in hung[0]["message"]
    assert "it resumes with this node" in hung[0]["message"]
    kubelet = node_recovery_problems(dict(facts, after=dict(RUNNING, kubelet="failed")))
    assert [p["check"] for p in kubelet] == ["kubelet"] and "kubelet.service is failed" in kubelet[0]["message"]
    unreachable = node_recovery_problems(dict(facts, after={"unreachable": True, "msg": "ssh: timed out"}))
    assert [p["check"] for p in unreachable] == ["runtime"] and "unreachable" in unreachable[0]["message"]


def test_a_node_that_ran_no_runtime_and_no_kubelet_needs_neither_after():
    none = {"present": False, "answering": None, "kubelet": None, "error": ""}
    assert node_recovery_problems({"host": "worker1", "before": none, "after": none}) == []
