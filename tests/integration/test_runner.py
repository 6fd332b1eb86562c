"""remediate.yml through ansible-runner, as AWX runs it: the set_stats summary is the job's artifact."""
import os

import ansible_runner
import pytest

from lab.config import REPO_ROOT

pytestmark = pytest.mark.lab


def test_ansible_runner_reports_the_plan_as_artifact_data(affected_lab, tmp_path, monkeypatch):
    # ansible-runner looks for ansible-playbook on PATH, as AWX's execution environment has it.
    monkeypatch.setenv("PATH", os.path.join(REPO_ROOT, ".venv", "bin") + os.pathsep + os.environ["PATH"])
    runner = ansible_runner.run(
        private_data_dir=str(tmp_path),
        project_dir=REPO_ROOT,
        playbook="remediate.yml",
        inventory=os.path.join(REPO_ROOT, "inventory", "lab"),
        cmdline="--check",  # AWX's "check" job type: plan only
        envvars={"ANSIBLE_CONFIG": os.path.join(REPO_ROOT, "ansible.cfg")},
        quiet=True,
    )
    assert runner.status == "successful", runner.stdout.read()[-3000:]
    stats = [event for event in runner.events if event["event"] == "playbook_on_stats"]
    summary = stats[-1]["event_data"]["artifact_data"]["etcd_kernel_remediation"]
    assert summary["result"] == "planned" and summary["stopped_at"] is None
    assert [host["status"] for host in summary["hosts"]] == ["planned"] * 3
    assert summary["summary"] == "planned: 3 planned"
