"""The collection as an operator installs it: built, installed from the tarball into a
folder of its own, and its playbook run by name from outside the project."""
import json
import os
import subprocess

import pytest

from lab.config import REPO_ROOT

pytestmark = pytest.mark.lab

BIN = os.path.join(REPO_ROOT, ".venv", "bin")


def run(command, cwd, env):
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (command, (result.stdout + result.stderr)[-3000:])
    return result


def test_the_installed_collection_runs_detect_by_name(clean_lab, tmp_path):
    # Outside the project: no ansible.cfg, no collections folder beside the playbook. Ansible's
    # home (galaxy's cache, ssh's control sockets, temporary files) is the test's, not ~/.ansible.
    env = {key: value for key, value in os.environ.items() if not key.startswith("ANSIBLE_")}
    env.update(PATH=BIN + os.pathsep + env["PATH"], ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"),
               ANSIBLE_HOST_KEY_CHECKING="true", ANSIBLE_HOME=str(tmp_path / "ansible-home"))
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "build", "--output-path", str(tmp_path), REPO_ROOT],
        tmp_path, env)
    run([os.path.join(BIN, "ansible-galaxy"), "collection", "install", "-p", str(tmp_path / "collections"),
         str(tmp_path / "sre-etcd_kernel-0.1.0.tar.gz")], tmp_path, env)
    installed = tmp_path / "collections" / "ansible_collections" / "sre" / "etcd_kernel"
    assert (installed / "MANIFEST.json").exists() and not (installed / "lab").exists()

    reports = tmp_path / "reports"
    run([os.path.join(BIN, "ansible-playbook"), "sre.etcd_kernel.detect",
         "-i", os.path.join(REPO_ROOT, "inventory", "lab"), "-e", "etcd_kernel_report_dir=%s" % reports],
        tmp_path, env)
    with open(reports / "latest-detect.json") as handle:
        report = json.load(handle)
    assert sorted(host["host"] for host in report["hosts"]) == ["master1", "master2", "master3"], report
