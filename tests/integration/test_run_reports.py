"""--limit on the lab: only the named host is remediated, into a snapshot folder other
tools share, with the hooks seeing unattended-upgrades paused around the real reboot and
every member gated under load. The other report paths run in the flow tier
(tests/flow/test_runs.py)."""
import os

import pytest

from lab import docker
from lab.config import REPO_ROOT
from lab.hooks import APT_PAUSED

from lab_helpers import Scenario, apt_timers_state, hooks, latest_report, run_playbook

pytestmark = pytest.mark.lab

APT_TIMERS = ["apt-daily.timer", "apt-daily-upgrade.timer"]


def test_limit_remediates_only_the_named_host_and_gates_on_every_member(affected_lab, tmp_path):
    log, extra = hooks(tmp_path)
    # The snapshot goes to a folder the kit did not create (/var/backups, with other tools'
    # snapshot-*.db in it, which an older kit pruned): the kit works in its own folder inside.
    # (Not /tmp: Ubuntu empties it at every boot, systemd-tmpfiles' "D /tmp".)
    master2 = affected_lab.master("master2")
    others = ["/var/backups/snapshot-%d.db" % number for number in range(4)]
    docker.exec_in(master2, "sh", "-c", "for f in %s; do echo another tool > $f; done" % " ".join(others))
    with Scenario(affected_lab) as scenario:
        result = run_playbook("remediate.yml", "--limit", "master2", "-e", "etcd_kernel_snapshot_dir=/var/backups",
                              *extra)
    report = latest_report()
    assert result.returncode == 0, result.stdout[-3000:]
    assert report["snapshot"] == "master2:/var/backups/sre.etcd_kernel-snapshots/snapshot-%s.db" % report["run_id"]
    # The report files are named after the run (two runs finishing in the same second keep both).
    assert all(os.path.isfile(os.path.join(REPO_ROOT, "reports", report["run_id"] + suffix)) for suffix in (".json", ".md"))
    assert docker.exec_in(master2, "stat", "-c", "%a", "/var/backups", "/var/backups/sre.etcd_kernel-snapshots",
                          *others).stdout.split() == ["755", "700"] + ["644"] * len(others)
    # The hooks ran on master2 only: before its reboot, and after it on the new boot. Both
    # times unattended-upgrades was paused: the boot started its timers and the kit stopped
    # them again.
    assert log.read_text().splitlines() == [
        "pre_disruption master2 %s %s" % (scenario.boots_before["master2"], APT_PAUSED),
        "post_recovery master2 %s %s" % (scenario.boots_after["master2"], APT_PAUSED)]
    # The run paused the hosts it worked on only, and started their timers again.
    assert report["apt_timers"] == [{"host": "master2", "paused": APT_TIMERS, "waited_s": 0.0, "resumed": True}]
    assert [apt_timers_state(affected_lab, host) for host in affected_lab.hosts] == ["active,active"] * 3
    assert report["result"] == "remediated" and report["limit"] == "master2"
    assert [step["host"] for step in report["plan"]] == ["master2"]
    assert [h["host"] for h in report["hosts"]] == ["master2"]
    assert scenario.rebooted() == ["master2"]
    assert scenario.kernels_after == {"master1": "5.4.0-132-generic", "master2": "5.4.0-136-generic",
                                      "master3": "5.4.0-132-generic"}
    scenario.assert_invariants()
