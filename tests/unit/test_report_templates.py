"""The Markdown reports, rendered by Ansible from the role's templates as common/write_report.yml does."""
import json
import os
import subprocess
import sys
import textwrap

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import run_report
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.run_journal import fold_run

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TEMPLATES = os.path.join(ROOT, "roles", "etcd_kernel", "templates")

HOST = {"host": "master1", "member": "etcd1", "kernel": "5.4.0-132-generic", "status": "affected",
        "fixed_available": "5.4.0-136-generic", "member_state": {"healthy": True, "is_leader": False},
        "symptoms": {"symptomatic": False, "reasons": []}, "boot_warnings": [],
        "claim_problems": [{"check": "member_name", "message": "master1: the inventory gives it the member etcd2, "
                                                               "but the host runs etcd1. Nothing was changed."}]}
DETECT = {"generated": "2026-12-01T00:00:00Z", "group": "etcd", "plan": [], "unknown": [], "hosts": [HOST],
          "cluster": {"healthy_count": 3, "member_count": 3, "quorum": True, "leader_name": "etcd3", "in_sync": True,
                      "alarms": []}}


def render(tmp_path, template, report):
    playbook = tmp_path / "render.yml"
    playbook.write_text(textwrap.dedent("""\
        - name: Render a report template
          hosts: localhost
          connection: local
          gather_facts: false
          tasks:
            - name: Render it
              ansible.builtin.copy:
                content: "{{ lookup('ansible.builtin.template', template) }}"
                dest: "{{ out }}"
                mode: "0600"
        """))
    extra = {"template": os.path.join(TEMPLATES, template), "out": str(tmp_path / "out.md"),
             "__etcd_kernel_report": report, "ansible_python_interpreter": sys.executable}
    # Only localhost: its module files go to the test's folder, not ~/.ansible/tmp.
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"), ANSIBLE_REMOTE_TEMP=str(tmp_path / "remote_tmp"))
    completed = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
                                "-e", json.dumps(extra), str(playbook)], cwd=ROOT, env=env, capture_output=True,
                               text=True)
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return (tmp_path / "out.md").read_text()


def test_the_detect_report_names_where_the_inventory_disagrees_with_a_host(tmp_path):
    markdown = render(tmp_path, "detect.md.j2", DETECT)
    assert ("- **The inventory disagrees with master1** (member_name): master1: the inventory gives it the member "
            "etcd2, but the host runs etcd1. Nothing was changed. A remediation or mitigate run refuses") in markdown
    assert "| master1 | etcd1 | 5.4.0-132-generic | affected |" in markdown


def test_a_host_that_agrees_with_the_inventory_adds_no_line(tmp_path):
    markdown = render(tmp_path, "detect.md.j2", dict(DETECT, hosts=[dict(HOST, claim_problems=[])]))
    assert "disagrees" not in markdown


def test_the_detect_report_shows_each_hosts_etcd_events_member(tmp_path):
    events = {"member": "etcd1-events", "member_state": {"healthy": True}, "log_error": "",
              "symptoms": {"symptomatic": True, "peer_io_timeouts": 4, "peers_unreachable": {"13": 4},
                           "reasons": ["fails to reach 1 peer"]}}
    markdown = render(tmp_path, "detect.md.j2", dict(DETECT, hosts=[dict(HOST, claim_problems=[], events=events)]))
    assert ("| master1 | etcd1-events | healthy | yes (4 peer timeouts, 1 peers unreachable): fails to reach 1 peer |"
            in markdown)


def test_a_host_without_etcd_events_gets_no_events_table(tmp_path):
    markdown = render(tmp_path, "detect.md.j2", dict(DETECT, hosts=[dict(HOST, claim_problems=[], events=None)]))
    assert "etcd-events" not in markdown


def test_the_remediation_report_names_an_earlier_run_that_never_finished(tmp_path):
    unfinished = {"run_id": "20261201T020000Z-abc", "started": "2026-12-01T02:00:00Z", "phase": "rollout",
                  "in_progress": "master2", "lock": "held", "note": "its last record was rebooting at 2026-12-01T02:09:00Z"}
    journal = [{"event": "started", "time": 1.0, "run_id": "r2", "started": "2026-12-01T03:00:00Z", "check_mode": False,
                "limit": None, "unfinished": [unfinished]},
               {"event": "phase", "time": 2.0, "phase": "preflight"},
               {"event": "planned", "time": 3.0, "plan": [], "unknown": [], "detected": [HOST]}]
    report = run_report(fold_run(journal), "2026-12-01T03:01:00Z")
    markdown = render(tmp_path, "remediation.md.j2", report)
    assert ("- **Run `20261201T020000Z-abc` never finished** (started 2026-12-01T02:00:00Z, in rollout, during the step "
            "of master2, lock held; its last record was rebooting at 2026-12-01T02:09:00Z)") in markdown
    assert report["result"] == "nothing_to_do"
