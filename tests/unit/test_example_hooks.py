"""examples/hooks: the drain and uncordon pair an operator points the kit's hooks at. The lab
has no Kubernetes, so they are checked here: Ansible parses them, and they drain as
kubespray's upgrade does."""
import os
import subprocess
import sys
import textwrap

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HOOKS = os.path.join(ROOT, "examples", "hooks")


def load(name):
    with open(os.path.join(HOOKS, name)) as handle:
        return yaml.safe_load(handle)


def commands(tasks):
    for task in tasks:
        yield from commands(task.get("block", []))
        if "ansible.builtin.command" in task:
            yield task, task["ansible.builtin.command"]["argv"]


def test_ansible_parses_both_hooks(tmp_path):
    playbook = tmp_path / "hooks.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Include the example hooks as the kit does
          hosts: all
          gather_facts: false
          tasks:
            - name: Drain
              ansible.builtin.import_tasks: {hooks}/drain.yml
            - name: Uncordon
              ansible.builtin.import_tasks: {hooks}/uncordon.yml
        """).format(hooks=HOOKS))
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    completed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "--syntax-check",
                                "-i", "master1,", str(playbook)], cwd=ROOT, env=env, capture_output=True, text=True)
    assert completed.returncode == 0, completed.stdout + completed.stderr


def test_the_drain_is_kubesprays_on_the_node_kubespray_names():
    drain = dict((argv[3], (task, argv)) for task, argv in commands(load("drain.yml")))
    _, argv = drain["drain"]
    assert argv[4:] == ["--force", "--ignore-daemonsets", "--grace-period", "300", "--timeout", "360s",
                        "--delete-emptydir-data", "{{ etcd_kernel_hook_node }}"]
    assert load("drain.yml")[0]["vars"]["etcd_kernel_hook_node"] == \
        "{{ kube_override_hostname | default(inventory_hostname) }}"
    for task, _ in drain.values():
        assert task["delegate_to"] == "{{ groups['kube_control_plane'][0] }}"


def test_only_a_ready_schedulable_node_is_cordoned_and_only_it_is_uncordoned():
    cordon_block = next(task for task in load("drain.yml") if "block" in task)
    assert any("Ready" in condition for condition in cordon_block["when"])
    assert any("unschedulable" in condition for condition in cordon_block["when"])
    assert {"ansible.builtin.set_fact": {"etcd_kernel_cordoned": "{{ etcd_kernel_hook_node }}"}}.items() <= \
        cordon_block["block"][1].items()
    uncordon_block = next(task for task in load("uncordon.yml") if "block" in task)
    assert uncordon_block["when"] == "etcd_kernel_cordoned | default('') == etcd_kernel_hook_node"
    assert uncordon_block["block"][1]["ansible.builtin.set_fact"] == {"etcd_kernel_cordoned": ""}


def test_the_readyz_check_verifies_the_api_servers_certificate():
    readyz = load("uncordon.yml")[-1]["ansible.builtin.uri"]
    assert readyz["ca_path"] == "/etc/kubernetes/ssl/ca.crt" and "validate_certs" not in readyz
