"""The kit through ansible-runner as AWX runs a job, on the flow hosts.

AWX copies the project into the job's own private data dir and sets the collections
path for every job to folders of its own (requirements_collections, ~/.ansible/...),
which beats ansible.cfg's collections_path. Each entry playbook must still find the
collection, and the set_stats summary is the job's artifact. Nothing here needs sshd or a
real reboot: how AWX finds the kit and reads its outcome is the same on every transport.
The --limit runs with the operator's hooks (one that drains, one that refuses the drain)
are these jobs too: one run shows both the behaviour and its artifact.
"""
import json
import os
import pathlib
import shutil

import ansible_runner
import pytest

from flow_hosts import CONNECTION_PLUGINS
from lab import kernels
from lab.config import REPO_ROOT
from lab.hooks import hook_files

RUNNING = kernels.release(kernels.BOOT_ABI)
FIXED = kernels.release(max(kernels.FIXED_ABIS))

# What the project's checkout does not carry (the controller's own state and tools).
NOT_IN_THE_PROJECT = shutil.ignore_patterns(".git", ".venv", ".lab", ".ansible", ".cache", ".pytest_cache",
                                            "__pycache__", "reports")


@pytest.fixture
def awx_job(flow, tmp_path, monkeypatch):
    """run(playbook, cmdline, extravars): one AWX-like job on the flow inventory; its Runner."""
    private_data_dir = tmp_path / "job"
    project = private_data_dir / "project"
    shutil.copytree(REPO_ROOT, project, symlinks=True, ignore=NOT_IN_THE_PROJECT)
    # AWX's collection folders for the job: empty, since nothing was installed there.
    awx_collections = [str(private_data_dir / "requirements_collections"), str(tmp_path / "home-collections")]
    for folder in awx_collections:
        os.makedirs(folder)
    # The execution environment has ansible-playbook on PATH; the project's ansible.cfg is
    # the one AWX's job reads (it runs in the project's folder).
    monkeypatch.setenv("PATH", os.path.join(REPO_ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"])
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.setenv("ANSIBLE_HOME", os.environ.get("ANSIBLE_HOME", os.path.join(REPO_ROOT, ".ansible")))

    def run(playbook, cmdline="", extravars=None):
        return ansible_runner.run(
            private_data_dir=str(private_data_dir),
            project_dir=str(project),
            playbook=playbook,
            inventory=flow.inventory,
            cmdline=cmdline or None,
            extravars=extravars or {},
            # AWX sets the plural name; newer ansible-core reads the singular one. The flow
            # hosts' connection is the test's, not the project's.
            envvars={"ANSIBLE_COLLECTIONS_PATHS": os.pathsep.join(awx_collections),
                     "ANSIBLE_COLLECTIONS_PATH": os.pathsep.join(awx_collections),
                     "ANSIBLE_CONNECTION_PLUGINS": CONNECTION_PLUGINS},
            quiet=True,
        )
    return run


def artifact(runner):
    stats = [event for event in runner.events if event["event"] == "playbook_on_stats"]
    return stats[-1]["event_data"]["artifact_data"]["etcd_kernel_remediation"]


def output(runner):
    return runner.stdout.read()[-3000:]


def report_of(flow):
    """The run's full report, as the job wrote it on the controller (the artifact is its summary)."""
    return json.loads((pathlib.Path(flow.reports_dir) / "latest.json").read_text())


@pytest.mark.reads_only
def test_detect_and_mitigate_run_as_awx_runs_them(flow, awx_job):
    before = flow.state()
    for playbook in ("playbooks/detect.yml", "playbooks/mitigate.yml"):
        runner = awx_job(playbook)
        assert runner.status == "successful" and runner.rc == 0, (playbook, output(runner))
    # Nothing was stuck: mitigate restarted nothing, and neither job changed a host.
    assert flow.state() == before


@pytest.mark.reads_only
def test_a_check_job_reports_the_plan_as_artifact_data_and_changes_nothing(flow, awx_job):
    before = flow.state()
    runner = awx_job("playbooks/remediate.yml", cmdline="--check")  # AWX's "check" job type
    assert runner.status == "successful", output(runner)
    assert runner.stats["changed"] == {}, runner.stats
    assert flow.state() == before and flow.rebooted() == []
    summary = artifact(runner)
    assert summary["result"] == "planned" and summary["stopped_at"] is None
    assert [host["status"] for host in summary["hosts"]] == ["planned"] * 3
    assert summary["summary"] == "planned: 3 planned"


def test_a_remediation_job_remediates_only_the_limit_and_runs_its_hooks_around_the_reboot(flow, awx_job, tmp_path):
    log, extra = hook_files(tmp_path, apt_state=False)
    before = flow.host("master2").read("/var/lib/lab/boot_id").strip()
    runner = awx_job("playbooks/remediate.yml", cmdline="--limit master2", extravars=json.loads(extra[1]))
    assert runner.status == "successful", output(runner)
    summary = artifact(runner)
    assert summary["result"] == "remediated" and summary["limit"] == "master2"
    assert [(h["host"], h["status"]) for h in summary["hosts"]] == [("master2", "remediated")]
    assert [step["host"] for step in report_of(flow)["plan"]] == ["master2"]
    after = flow.host("master2").read("/var/lib/lab/boot_id").strip()
    assert log.read_text().splitlines() == ["pre_disruption master2 %s" % before, "post_recovery master2 %s" % after]
    assert flow.rebooted() == ["master2"]
    assert flow.kernels() == {"master1": RUNNING, "master2": FIXED, "master3": RUNNING}


@pytest.mark.reads_only
def test_a_refused_job_fails_and_says_why(flow, awx_job):
    before = flow.state()
    # As a survey answer would set it: a window that is closed now.
    runner = awx_job("playbooks/remediate.yml", extravars={
        "etcd_kernel_maintenance_start": "02:00", "etcd_kernel_maintenance_end": "03:00",
        "etcd_kernel_maintenance_now": "2026-11-28T12:00:00Z"})
    assert runner.status == "failed", output(runner)
    summary = artifact(runner)
    assert summary["result"] == "refused" and summary["stopped_at"] == "start"
    assert "maintenance window" in summary["reason"]
    assert flow.state() == before and flow.rebooted() == []


def test_a_stopped_job_fails_names_the_host_and_the_node_its_hook_left_cordoned(flow, awx_job, tmp_path):
    # A drain that a PodDisruptionBudget refuses, in the operator's pre_disruption hook.
    log, extra = hook_files(tmp_path, failing=True, apt_state=False)
    boot_id = flow.host("master2").read("/var/lib/lab/boot_id").strip()
    runner = awx_job("playbooks/remediate.yml", cmdline="--limit master2", extravars=json.loads(extra[1]))
    assert runner.status == "failed", output(runner)
    summary = artifact(runner)
    assert summary["result"] == "stopped" and summary["stopped_at"] == "master2"
    assert "drain refused by a PodDisruptionBudget" in summary["reason"]
    report = report_of(flow)
    assert flow.rebooted() == [] and report["lock"] == "released"
    # The node the hook cordoned is named, for whoever reads the report.
    master2 = next(host for host in report["hosts"] if host["host"] == "master2")
    assert master2["left_cordoned"] == "master2"
    markdown = (pathlib.Path(flow.reports_dir) / (report["run_id"] + ".md")).read_text()
    assert "**master2 is still cordoned** by the pre_disruption hook on master2" in markdown
    assert log.read_text().splitlines() == ["pre_disruption master2 %s" % boot_id]
