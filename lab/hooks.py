"""Kubernetes hooks for the tests: task files the kit runs around a host's disruption
(etcd_kernel_pre_disruption_tasks, etcd_kernel_post_recovery_tasks) that log each call on
the controller: its phase, host and boot id, and on the lab the state of the apt timers
and of unattended-upgrade's service (the kit keeps them stopped while it works)."""
import json

READ_BOOT_ID = """\
- name: Read the boot id
  ansible.builtin.slurp:
    src: /var/lib/lab/boot_id
  register: hook_boot
"""

READ_APT_STATE = """
- name: Read the state of the apt timers and of unattended-upgrade's service
  ansible.builtin.command: systemctl is-active apt-daily.timer apt-daily-upgrade.timer apt-daily-upgrade.service
  register: hook_apt
  changed_when: false
  failed_when: false
"""

RECORD = """
- name: Record the hook on the controller
  ansible.builtin.lineinfile:
    path: {log}
    line: "{phase} {{{{ inventory_hostname }}}} {{{{ hook_boot.content | b64decode | trim }}}}{apt}"
    create: true
    mode: "0600"
  delegate_to: localhost
  become: false
"""
APT_IN_THE_LINE = " apt={{ hook_apt.stdout_lines | join(',') }}"
APT_PAUSED = "apt=inactive,inactive,inactive"  # what the line says while the kit works

# The failing hook has cordoned the node first, and says so as examples/hooks/drain.yml does.
CORDON_THEN_FAIL = """
- name: Cordon
  ansible.builtin.set_fact:
    etcd_kernel_cordoned: "{{ inventory_hostname }}"

- name: Drain
  ansible.builtin.fail:
    msg: drain refused by a PodDisruptionBudget
"""


def hook_files(folder, failing=False, apt_state=True):
    """(log, extra args): pre.yml and post.yml written in folder (a pathlib.Path), the
    log they write to, and the -e that hands them to the kit. failing: pre_disruption
    fails as a drain refused by a PodDisruptionBudget. apt_state: the line also says
    what systemd says of unattended-upgrades (not in the flow tier, which has no systemd)."""
    log = folder / "hooks.log"

    def hook(phase):
        return (READ_BOOT_ID + (READ_APT_STATE if apt_state else "")
                + RECORD.format(log=log, phase=phase, apt=APT_IN_THE_LINE if apt_state else ""))
    (folder / "pre.yml").write_text(hook("pre_disruption") + (CORDON_THEN_FAIL if failing else ""))
    (folder / "post.yml").write_text(hook("post_recovery"))
    return log, ["-e", json.dumps({"etcd_kernel_pre_disruption_tasks": str(folder / "pre.yml"),
                                   "etcd_kernel_post_recovery_tasks": str(folder / "post.yml")})]
