"""The fault matrix: the real remediate.yml against the lab, one fault per scenario,
under the writer and the monitor. Each scenario asserts the invariants from their
records (at most one member down, quorum held, no acknowledged write lost), the
run's exit status and report, and which hosts were touched.

CI runs the scenarios not marked `faults_full`; `make test-faults` runs them all.
The newer ones left out of CI say beside their mark what covers the same path."""
import datetime
import json
import os
import signal
import subprocess
import threading
import time

import pytest

from lab import cluster, faults
from lab.config import REPO_ROOT
from lab.docker import exec_in
from lab.hooks import APT_PAUSED
from lab_helpers import (Scenario, ansible_env, apt_timers_state, expire_lock, hooks, latest_report,
                         run_playbook, wait_for)

pytestmark = pytest.mark.lab


def first_follower(lab):
    states = cluster.member_states(lab)
    return next(h for h in lab.hosts if states[h]["leader"] != states[h]["id"])


@pytest.mark.faults_full  # in CI, molecule's abort scenario stops at a member that never recovers
def test_a_member_down_that_does_not_come_back_stops_the_run_there(affected_lab):
    faults.inject(affected_lab, "master3", "member_stopped")
    faults.inject(affected_lab, "master3", "never_recovers")
    with Scenario(affected_lab) as scenario:
        result = run_playbook("remediate.yml", "-e", "etcd_kernel_recover_wait_s=10")
    report = latest_report()
    assert result.returncode != 0
    assert report["result"] == "stopped" and report["stopped_at"] == "master3"
    assert "after the restart: etcd3 is not healthy" in report["reason"]
    assert scenario.rebooted() == ["master3"]
    assert scenario.kernels_after["master1"] == scenario.kernels_after["master2"] == "5.4.0-132-generic"
    scenario.assert_invariants()


def test_the_flapping_member_is_planned_first(affected_lab):
    # The order is the point: a check-mode run plans exactly as a real one does.
    flapper = first_follower(affected_lab)
    faults.inject(affected_lab, flapper, "flapping", period=6, freeze=3)
    time.sleep(20)  # let the symptom show in the logs, as it would for 20-30 minutes
    result = run_playbook("remediate.yml", "--check")
    report = latest_report()
    assert result.returncode == 0, result.stdout[-3000:]
    assert report["result"] == "planned"
    assert report["plan"][0]["host"] == flapper, report["plan"]


@pytest.mark.faults_full
def test_a_slow_boot_within_the_timeout_completes(affected_lab):
    target = first_follower(affected_lab)
    faults.inject(affected_lab, target, "slow_boot", seconds=15)
    with Scenario(affected_lab) as scenario:
        result = run_playbook("remediate.yml", "-e", "etcd_kernel_reboot_timeout_s=60")
    assert result.returncode == 0, result.stdout[-3000:]
    assert latest_report()["result"] == "remediated"
    assert set(scenario.kernels_after.values()) == {"5.4.0-136-generic"}
    scenario.assert_invariants()


@pytest.mark.faults_full
def test_a_killed_run_frees_its_lock_by_ttl_and_a_rerun_resumes(affected_lab):
    target = first_follower(affected_lab)
    before = cluster.boot_id_of(affected_lab, target)
    with Scenario(affected_lab) as scenario:
        run = subprocess.Popen(["ansible-playbook", "remediate.yml"],
                               cwd=REPO_ROOT, env=ansible_env(), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
        # Each look is a docker exec, which costs the machine: twice a second is soon enough.
        wait_for(lambda: cluster.boot_id_of(affected_lab, target) not in (None, before), 120, interval=0.5,
                 what="the first reboot")
        os.killpg(run.pid, signal.SIGKILL)  # the controller dies mid-host
        run.wait()
        refused = run_playbook("remediate.yml")
        assert refused.returncode != 0
        assert "remediation lock is held by" in " ".join(refused.stdout.split())
        expire_lock(affected_lab)  # the dead run's lease runs out (etcd_kernel_lock_ttl later)
        resumed = run_playbook("remediate.yml")
    assert resumed.returncode == 0, resumed.stdout[-3000:]
    report = latest_report()
    assert report["result"] == "remediated"
    statuses = {h["host"]: h["status"] for h in report["hosts"]}
    assert statuses[target] in ("already_fixed", "recovered")
    assert set(scenario.kernels_after.values()) == {"5.4.0-136-generic"}
    scenario.assert_invariants()


@pytest.mark.faults_full
def test_two_runs_started_together_one_stops_with_a_clear_message(affected_lab):
    with Scenario(affected_lab) as scenario:
        runs = [subprocess.Popen(["ansible-playbook", "remediate.yml"], cwd=REPO_ROOT, env=ansible_env(),
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
                for _ in range(2)]
        outputs = [run.communicate()[0] for run in runs]
    codes = sorted(run.returncode for run in runs)
    assert codes[0] == 0 and codes[1] != 0, outputs
    loser = outputs[[run.returncode for run in runs].index(codes[1])]
    assert "remediation lock is held by" in " ".join(loser.split())
    assert set(scenario.kernels_after.values()) == {"5.4.0-136-generic"}
    scenario.assert_invariants()


# The safety holes: the gate after the install, the lock kept and never retaken, the
# resume of a member left out on its fixed kernel, a boot into the wrong kernel.

def test_a_member_frozen_during_the_install_stops_the_run_before_the_reboot(affected_lab):
    target = first_follower(affected_lab)  # the plan's first host
    # The other follower: a frozen leader would make the others elect a new one, and the
    # monitor would rightly count the election as members out, whatever the kit does.
    states = cluster.member_states(affected_lab)
    victim = next(h for h in affected_lab.hosts if h != target and states[h]["leader"] != states[h]["id"])
    faults.inject(affected_lab, target, "slow_install", seconds=20)

    frozen, run_over = threading.Event(), threading.Event()

    def freeze_another_member_mid_install():
        # The install starts after preflight, the snapshot and the handoff, whose pace is the
        # machine's: watch for it as long as the run lasts (once a second: each look is a
        # docker exec), not for a guess at how soon, and never after the run.
        while not run_over.wait(1):
            installing = exec_in(affected_lab.master(target), "pgrep", "-f", "postinst", check=False).returncode == 0
            if installing and not run_over.is_set():
                faults.inject(affected_lab, victim, "member_frozen")
                frozen.set()
                return

    saboteur = threading.Thread(target=freeze_another_member_mid_install, daemon=True)
    with Scenario(affected_lab) as scenario:
        saboteur.start()
        try:
            result = run_playbook("remediate.yml", "-e", "etcd_kernel_gate_wait_s=5")
        finally:
            run_over.set()
            saboteur.join(timeout=10)
    assert not saboteur.is_alive()
    assert frozen.is_set(), "the saboteur never saw %s's postinst, so it froze nothing: %s" % (target, result.stdout[-3000:])
    report = latest_report()
    assert result.returncode != 0 and report["result"] == "stopped", result.stdout[-3000:]
    assert report["stopped_at"] == target, report
    assert "may not be disrupted" in report["reason"] and affected_lab.member(victim) in report["reason"]
    assert scenario.rebooted() == []
    assert set(scenario.kernels_after.values()) == {"5.4.0-132-generic"}
    installed = exec_in(affected_lab.master(target), "dpkg-query", "-W", "-f", "${Status}",
                        "linux-image-5.4.0-136-generic", check=False).stdout
    assert installed == "install ok installed"  # installed, then the gate said no
    assert report["lock"] == "released"
    scenario.assert_invariants()  # the frozen member is the only one out


def test_a_rerun_recovers_first_the_member_an_earlier_run_left_out_on_its_fixed_kernel(affected_lab):
    target = first_follower(affected_lab)
    faults.inject(affected_lab, target, "stuck_after_boot")
    # --limit: the path is one host's (stopped after its reboot, then recovered by the next run);
    # the other hosts would only add reboots, and a leader that changes after the fixture's
    # fresh lab came up would put another host first. The re-run needs one more (healthy)
    # host, for the snapshot.
    other = next(host for host in affected_lab.hosts if host != target)
    with Scenario(affected_lab) as scenario:
        first = run_playbook("remediate.yml", "--limit", target, "-e", "etcd_kernel_fallback_enabled=false",
                             "-e", "etcd_kernel_recover_wait_s=8")
        stopped = latest_report()
        # Its etcd stays stuck (up, answering nothing): clearing the marker revives nothing.
        faults.clear(affected_lab, target, "stuck_after_boot")
        second = run_playbook("remediate.yml", "--limit", "%s,%s" % (target, other), "-e", "etcd_kernel_recover_wait_s=8")
    assert first.returncode != 0 and stopped["result"] == "stopped" and stopped["stopped_at"] == target
    assert "etcd_kernel_fallback_enabled is false" in stopped["reason"]
    report = latest_report()
    assert second.returncode == 0, second.stdout[-3000:]
    assert report["result"] == "remediated"
    assert (report["plan"][0]["host"], report["plan"][0]["action"]) == (target, "recover")
    hosts = {h["host"]: h for h in report["hosts"]}
    assert hosts[target]["status"] == "recovered" and hosts[target]["fallback_used"]
    assert scenario.kernels_after[target] == scenario.kernels_after[other] == "5.4.0-136-generic"
    assert scenario.rebooted() == sorted([target, other])
    assert all(state["up"] for state in cluster.member_states(affected_lab).values())
    scenario.assert_invariants()


@pytest.mark.faults_full
def test_a_boot_into_the_wrong_kernel_recovers_etcd_then_stops_naming_the_boot_loader(affected_lab):
    target = first_follower(affected_lab)
    faults.inject(affected_lab, target, "grub_pinned")
    try:
        with Scenario(affected_lab) as scenario:
            result = run_playbook("remediate.yml")
    finally:
        faults.clear(affected_lab, target, "grub_pinned")
    report = latest_report()
    assert result.returncode != 0 and report["result"] == "stopped"
    assert report["stopped_at"] == target and "check the default boot entry" in report["reason"]
    assert any(w["host"] == target and "GRUB_DEFAULT is pinned" in w["warning"] for w in report["warnings"])
    assert scenario.rebooted() == [target]
    assert set(scenario.kernels_after.values()) == {"5.4.0-132-generic"}
    assert all(state["up"] for state in cluster.member_states(affected_lab).values())  # etcd recovered first
    scenario.assert_invariants()


@pytest.mark.faults_full
def test_a_dpkg_lock_held_past_the_wait_stops_the_run_before_any_reboot(affected_lab):
    target = first_follower(affected_lab)
    faults.inject(affected_lab, target, "dpkg_lock_held")
    try:
        with Scenario(affected_lab) as scenario:
            # --limit: on a lab just brought up the leader may still change (a member that
            # started late campaigns with a higher term), and then the plan's first host
            # would be the other follower, rebooted before the run reaches the target.
            result = run_playbook("remediate.yml", "--limit", target, "-e", "etcd_kernel_dpkg_lock_wait_s=5")
    finally:
        faults.clear(affected_lab, target, "dpkg_lock_held")
    report = latest_report()
    assert result.returncode != 0 and report["result"] == "stopped"
    assert report["stopped_at"] == target
    reason = " ".join(report["reason"].split())
    assert "waited more than etcd_kernel_dpkg_lock_wait_s (5s) for the dpkg lock" in reason, reason
    assert scenario.rebooted() == []
    assert set(scenario.kernels_after.values()) == {"5.4.0-132-generic"}
    scenario.assert_invariants()


def test_limit_waits_for_an_unattended_upgrade_then_remediates_only_that_host_under_load(affected_lab, tmp_path):
    target = first_follower(affected_lab)
    log, extra = hooks(tmp_path)
    # The upgrade runs until the test ends it, 5 s after the kit stopped the timers and began
    # to wait for it: however long the run takes to get there, it has to wait.
    faults.inject(affected_lab, target, "unattended_upgrade_running", seconds=600)
    # The snapshot goes to a folder the kit did not create (/var/backups, with other tools'
    # snapshot-*.db in it, which an older kit pruned): the kit works in its own folder inside.
    # (Not /tmp: Ubuntu empties it at every boot, systemd-tmpfiles' "D /tmp".)
    others = ["/var/backups/snapshot-%d.db" % number for number in range(4)]
    exec_in(affected_lab.master(target), "sh", "-c", "for f in %s; do echo another tool > $f; done" % " ".join(others))

    def end_the_upgrade_once_the_kit_waits():
        wait_for(lambda: apt_timers_state(affected_lab, target) == "inactive,inactive", 300, interval=1,
                 what="the kit to stop the apt timers on " + target)
        time.sleep(5)
        faults.clear(affected_lab, target, "unattended_upgrade_running")

    upgrade_ender = threading.Thread(target=end_the_upgrade_once_the_kit_waits, daemon=True)
    upgrade_ender.start()
    try:
        with Scenario(affected_lab) as scenario:
            result = run_playbook("remediate.yml", "--limit", target, "-e", "etcd_kernel_snapshot_dir=/var/backups",
                                  *extra)
    finally:
        upgrade_ender.join(timeout=1)
        faults.clear(affected_lab, target, "unattended_upgrade_running")
    report = latest_report()
    assert result.returncode == 0, result.stdout[-3000:]
    assert report["result"] == "remediated" and report["limit"] == target
    assert [step["host"] for step in report["plan"]] == [target] == [h["host"] for h in report["hosts"]]
    assert scenario.rebooted() == [target]
    assert scenario.kernels_after == {host: "5.4.0-136-generic" if host == target else "5.4.0-132-generic"
                                      for host in affected_lab.hosts}
    assert report["snapshot"] == "%s:/var/backups/sre.etcd_kernel-snapshots/snapshot-%s.db" % (target, report["run_id"])
    assert exec_in(affected_lab.master(target), "stat", "-c", "%a", "/var/backups", "/var/backups/sre.etcd_kernel-snapshots",
                   *others).stdout.split() == ["755", "700"] + ["644"] * len(others)
    # The report files are named after the run (two runs finishing in the same second keep both).
    assert all(os.path.isfile(os.path.join(REPO_ROOT, "reports", report["run_id"] + suffix)) for suffix in (".json", ".md"))
    # The kit paused the timers of the host it worked on only, waited for the upgrade, and
    # started them again after the run.
    [paused] = report["apt_timers"]
    assert paused["host"] == target and paused["paused"] == ["apt-daily.timer", "apt-daily-upgrade.timer"], paused
    assert paused["resumed"] and paused["waited_s"] >= 5, paused
    assert [apt_timers_state(affected_lab, host) for host in affected_lab.hosts] == ["active,active"] * 3
    # The hooks ran on the target only: before its reboot, once the upgrade had ended and
    # with the timers stopped, and after it on the new boot, where the boot had started the
    # timers and the kit stopped them again.
    assert log.read_text().splitlines() == [
        "pre_disruption %s %s %s" % (target, scenario.boots_before[target], APT_PAUSED),
        "post_recovery %s %s %s" % (target, scenario.boots_after[target], APT_PAUSED)]
    scenario.assert_invariants()


# A pre_disruption hook that logs the apt timers of every etcd host, not only its own.
TIMERS_EVERYWHERE_HOOK = """\
- name: Read the apt timers of every etcd host
  ansible.builtin.command: systemctl is-active apt-daily.timer apt-daily-upgrade.timer
  delegate_to: "{{{{ item }}}}"
  loop: "{{{{ groups['etcd'] }}}}"
  register: hook_timers
  changed_when: false
  failed_when: false

- name: Record them on the controller
  ansible.builtin.lineinfile:
    path: {log}
    line: >-
      {{{{ inventory_hostname }}}} is out next;{{% for read in hook_timers.results %}}
      {{{{ read.item }}}}={{{{ read.stdout_lines | join(',') }}}}{{% endfor %}}
    create: true
    mode: "0600"
  delegate_to: localhost
  become: false
"""


@pytest.mark.faults_full  # two reboots; CI's runs cover the pause of timers that were active
def test_timers_a_killed_run_left_stopped_stay_stopped_after_the_reboot_while_the_next_host_is_out(
        affected_lab, tmp_path):
    states = cluster.member_states(affected_lab)
    first, second = [h for h in affected_lab.hosts if states[h]["leader"] != states[h]["id"]]
    log = tmp_path / "timers.log"
    (tmp_path / "pre.yml").write_text(TIMERS_EVERYWHERE_HOOK.format(log=log))
    # What a killed earlier run leaves: the timers stopped (not disabled), on every host.
    for host in affected_lab.hosts:
        exec_in(affected_lab.master(host), "systemctl", "stop", "apt-daily.timer", "apt-daily-upgrade.timer")
    with Scenario(affected_lab) as scenario:
        result = run_playbook("remediate.yml", "--limit", "%s,%s" % (first, second),
                              "-e", "etcd_kernel_pre_disruption_tasks=%s" % (tmp_path / "pre.yml"))
    report = latest_report()
    assert result.returncode == 0 and report["result"] == "remediated", result.stdout[-3000:]
    # The boot started the first host's timers; the kit stopped them again before the
    # second host went out, and recorded them, so that finish starts them.
    second_out = next(line for line in log.read_text().splitlines() if line.startswith(second + " is out next"))
    assert " %s=inactive,inactive" % first in second_out, second_out
    paused = {entry["host"]: entry for entry in report["apt_timers"]}
    assert set(paused) == {first, second}
    assert all(sorted(entry["paused"]) == ["apt-daily-upgrade.timer", "apt-daily.timer"] and entry["resumed"]
               for entry in paused.values()), paused
    # A rebooted host ends with its enabled timers running, as its boot started them.
    assert apt_timers_state(affected_lab, first) == apt_timers_state(affected_lab, second) == "active,active"
    assert scenario.rebooted() == [first, second]
    scenario.assert_invariants()


# A pre_disruption hook that moves the kit's clock past the window's end, for every etcd
# host: the next host's step then judges the window closed (the first one already passed).
CLOCK_PAST_THE_WINDOW_HOOK = """\
- name: Move every host's clock for the window past its end
  ansible.builtin.set_fact:
    etcd_kernel_maintenance_now: "{later}"
  delegate_to: "{{{{ item }}}}"
  delegate_facts: true
  loop: "{{{{ groups['etcd'] }}}}"
"""


@pytest.mark.faults_full  # three reboots over two runs
def test_a_window_that_closes_mid_run_stops_before_the_next_host_and_the_next_run_resumes(affected_lab, tmp_path):
    now = datetime.datetime.now(datetime.timezone.utc)
    window = {"etcd_kernel_maintenance_days": [],
              "etcd_kernel_maintenance_start": (now - datetime.timedelta(hours=1)).strftime("%H:%M"),
              "etcd_kernel_maintenance_end": (now + datetime.timedelta(hours=1)).strftime("%H:%M")}
    later = (now + datetime.timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M:%SZ")
    (tmp_path / "pre.yml").write_text(CLOCK_PAST_THE_WINDOW_HOOK.format(later=later))
    with Scenario(affected_lab) as scenario:
        stopped = run_playbook("remediate.yml", "-e", json.dumps(window),
                               "-e", "etcd_kernel_pre_disruption_tasks=%s" % (tmp_path / "pre.yml"))
    report = latest_report()
    first, second = report["plan"][0]["host"], report["plan"][1]["host"]
    assert stopped.returncode != 0 and report["result"] == "stopped", stopped.stdout[-3000:]
    assert report["stopped_at"] == second
    assert "outside the maintenance window" in report["reason"] and "it resumes with %s" % second in report["reason"]
    assert report["window"]["inside"] and not report["window"]["override"]
    statuses = {host["host"]: host["status"] for host in report["hosts"]}
    assert statuses[first] == "remediated" and statuses[second] == "not_started", statuses
    assert scenario.rebooted() == [first]
    scenario.assert_invariants()
    # The next run inside the window (the clock as it is) resumes with the host the first stopped at.
    with Scenario(affected_lab) as scenario:
        resumed = run_playbook("remediate.yml", "-e", json.dumps(window))
    report = latest_report()
    assert resumed.returncode == 0 and report["result"] == "remediated", resumed.stdout[-3000:]
    assert report["plan"][0]["host"] == second and first not in [step["host"] for step in report["plan"]]
    assert set(scenario.kernels_after.values()) == {"5.4.0-136-generic"}
    scenario.assert_invariants()


def test_a_fixed_kernel_without_its_initramfs_is_not_booted(affected_lab):
    # The target is installed already, and its initramfs was deleted to free /boot: apt has
    # nothing to do, and the kit must not reboot into a kernel that cannot mount its root.
    target = first_follower(affected_lab)
    master = affected_lab.master(target)
    exec_in(master, "apt-get", "install", "-y", "-qq", "linux-image-5.4.0-136-generic",
            "linux-modules-extra-5.4.0-136-generic", "linux-headers-5.4.0-136-generic")
    exec_in(master, "rm", "-f", "/boot/initrd.img-5.4.0-136-generic")
    try:
        with Scenario(affected_lab) as scenario:
            result = run_playbook("remediate.yml", "--limit", target)
    finally:
        exec_in(master, "sh", "-c", "apt-get purge -y -qq $(dpkg-query -W -f '${Package} ' 'linux-*-5.4.0-136*')")
    report = latest_report()
    assert result.returncode != 0 and report["result"] == "stopped" and report["stopped_at"] == target
    reason = " ".join(report["reason"].split())
    assert "/boot/initrd.img-5.4.0-136-generic missing after the install of 5.4.0-136-generic" in reason, reason
    assert "update-initramfs -c -k 5.4.0-136-generic" in reason
    assert scenario.rebooted() == []
    scenario.assert_invariants()
