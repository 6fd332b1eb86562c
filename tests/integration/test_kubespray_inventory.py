"""The kit runs unchanged on an inventory shaped like kubespray's: INI hosts file, its
group names and host variables, group_vars/all/*.yml, ssh as a normal user, and
kubespray's defaults for what the inventory leaves out (the etcd certificate path and
the member names etcd1..3)."""
import json
import os
import shutil

import pytest

from lab import cluster
from lab.config import REPO_ROOT

from lab_helpers import run_playbook

pytestmark = pytest.mark.lab


def kubespray_inventory(lab, folder):
    lines = ["[all]"]
    for host in lab.hosts:
        lines.append("%s ansible_host=%s ip=%s" % (host, lab.ip(host), lab.ip(host)))
    lines += ["", "[kube_control_plane]"] + lab.hosts
    lines += ["", "[etcd]"] + lab.hosts
    lines += ["", "[kube_node]", "", "[calico_rr]", "",
              "[k8s_cluster:children]", "kube_control_plane", "kube_node", "calico_rr", ""]
    (folder / "inventory.ini").write_text("\n".join(lines))
    group_vars = folder / "group_vars" / "all"
    group_vars.mkdir(parents=True)
    # kubespray's group_vars/all/etcd.yml
    (group_vars / "etcd.yml").write_text("---\netcd_deployment_type: %s\netcd_data_dir: /var/lib/etcd\n"
                                         % lab.layout)
    # What only the lab needs: how to reach it, and its kernel and reboot seams.
    (group_vars / "lab.yml").write_text("\n".join([
        "---",
        "ansible_user: ubuntu",
        "ansible_python_interpreter: /usr/bin/python3",
        *["%s: %s" % item for item in cluster.ssh_connection_vars(lab).items()],
        "etcd_kernel_osrelease_path: /var/lib/lab/osrelease",
        "etcd_kernel_boot_time_command: cat /var/lib/lab/boot_id",
        "",
    ]))
    # The controller's temporary files stay in the checkout, as in the lab's inventory.
    shutil.copytree(os.path.join(REPO_ROOT, "inventory", "lab", "host_vars"), folder / "host_vars")
    return str(folder / "inventory.ini")


def test_detect_and_a_planning_run_work_on_a_kubespray_inventory(affected_lab, tmp_path):
    inventory = kubespray_inventory(affected_lab, tmp_path)
    detect = run_playbook("playbooks/detect.yml", "-i", inventory)
    assert detect.returncode == 0, detect.stdout[-3000:]
    with open(os.path.join(REPO_ROOT, "reports", "latest-detect.json")) as handle:
        report = json.load(handle)
    assert [h["host"] for h in report["hosts"] if h["affected"]] == affected_lab.hosts
    plan = run_playbook("remediate.yml", "-i", inventory, "--check")
    assert plan.returncode == 0, plan.stdout[-3000:]
    with open(os.path.join(REPO_ROOT, "reports", "latest.json")) as handle:
        assert json.load(handle)["result"] == "planned"
