"""The role works from a playbook of the operator's own, not only from the kit's: its public
entry points (detect; start, preflight, member, stop and finish) bring their own etcd
connection settings, so a playbook that includes them needs nothing from the kit's plays."""
import json
import pathlib

# The operator's playbook: their own play names, import_role for detect, their own check
# before the remediation; no module_defaults, no variable of the kit's beyond the inventory.
OPERATOR_PLAYBOOK = """\
- name: Our kernel check
  hosts: etcd
  gather_facts: false
  become: true
  tasks:
    - name: Ask the kit what is affected
      ansible.builtin.import_role:
        name: sre.etcd_kernel.etcd_kernel
        tasks_from: detect

- name: Our remediation, phase by phase
  hosts: etcd:localhost
  gather_facts: false
  tasks:
    - name: Start the kit's run
      block:
        - name: Start
          ansible.builtin.include_role:
            name: sre.etcd_kernel.etcd_kernel
            tasks_from: start
      rescue:
        - name: Refuse
          ansible.builtin.include_role:
            name: sre.etcd_kernel.etcd_kernel
            tasks_from: stop

- name: Our preflight
  hosts: etcd
  gather_facts: false
  become: true
  tasks:
    - name: Preflight
      block:
        - name: Check every member, plan, lock and snapshot
          ansible.builtin.include_role:
            name: sre.etcd_kernel.etcd_kernel
            tasks_from: preflight
          when: hostvars['localhost'].etcd_kernel_run.stop is none
      rescue:
        - name: Refuse
          ansible.builtin.include_role:
            name: sre.etcd_kernel.etcd_kernel
            tasks_from: stop

- name: Our rollout
  hosts: etcd_kernel_targets
  gather_facts: false
  become: true
  serial: 1
  tasks:
    - name: One member
      block:
        - name: Remediate it
          ansible.builtin.include_role:
            name: sre.etcd_kernel.etcd_kernel
            tasks_from: member
      rescue:
        - name: Stop
          ansible.builtin.include_role:
            name: sre.etcd_kernel.etcd_kernel
            tasks_from: stop

- name: Our wrap-up
  hosts: etcd:localhost
  gather_facts: false
  tasks:
    - name: Release the lock and report
      ansible.builtin.include_role:
        name: sre.etcd_kernel.etcd_kernel
        tasks_from: finish
"""


def test_an_operators_own_playbook_runs_detect_and_a_check_mode_remediation(flow, playbook, tmp_path):
    own = tmp_path / "our-etcd-kernel.yml"
    own.write_text(OPERATOR_PLAYBOOK)
    before = flow.state()
    run = playbook(str(own), "--check")
    assert run.returncode == 0, run.tail()
    detected = json.loads((pathlib.Path(flow.reports_dir) / "latest-detect.json").read_text())
    assert sorted(host["host"] for host in detected["hosts"]) == ["master1", "master2", "master3"]
    assert {host["status"] for host in detected["hosts"]} == {"affected"}, detected["hosts"]
    report = run.report()
    assert report["result"] == "planned", run.tail()
    assert sorted(step["host"] for step in report["plan"]) == ["master1", "master2", "master3"]
    assert [step["host"] for step in report["plan"]] == [step["host"] for step in detected["plan"]]
    assert flow.state() == before and report["lock"] != "held"
