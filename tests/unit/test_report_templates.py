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
        "symptoms": {"symptomatic": False, "reasons": []}, "boot_warnings": [], "runtime": None,
        "claim_problems": [{"check": "member_name", "message": "master1: the inventory gives it the member etcd2, "
                                                               "but the host runs etcd1. Nothing was changed."}]}
DETECT = {"generated": "2026-12-01T00:00:00Z", "group": "etcd", "plan": [], "unknown": [], "hosts": [HOST], "nodes": [],
          "node_plan": [], "worker_serial": "1",
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


RUNTIME = {"present": True, "active": "active", "kubelet": None, "answering": True, "answer_s": 0.02,
           "version": "1.6.20~ds1", "error": "", "journal": {"lines": 40, "timeouts": 0, "examples": [], "error": ""},
           "symptomatic": False, "reasons": []}


def test_the_detect_report_shows_every_other_node_with_its_runtime(tmp_path):
    hung = dict(RUNTIME, answering=False, version=None, error="no answer within 10s on /run/containerd/containerd.sock",
                journal=dict(RUNTIME["journal"], timeouts=2), symptomatic=True,
                reasons=["containerd did not answer `ctr version` within 10s", "runtime timeouts in the journal: 2"])
    nodes = [dict(host="worker1", role="worker", kernel="5.4.0-132-generic", status="affected",
                  fixed_available="5.4.0-136-generic", runtime=hung, symptoms={"symptomatic": True, "reasons": hung["reasons"]}),
             dict(host="worker2", role="worker", kernel="5.4.0-136-generic", status="fixed", fixed_available=None,
                  runtime=RUNTIME, symptoms={"symptomatic": False, "reasons": []})]
    master = dict(HOST, claim_problems=[], runtime=dict(RUNTIME, present=False))
    node_plan = [{"order": 1, "batch": 1, "host": "worker1", "role": "worker", "from": "5.4.0-132-generic",
                  "to": "5.4.0-136-generic"}]
    markdown = render(tmp_path, "detect.md.j2", dict(DETECT, hosts=[master], nodes=nodes, node_plan=node_plan,
                                                     worker_serial="20%"))
    assert "In batches of 20% (`etcd_kernel_worker_serial`)" in markdown
    assert "| 1 | 1 | worker1 | worker | 5.4.0-132-generic | 5.4.0-136-generic |" in markdown
    assert "for group `etcd` and 2 other nodes." in markdown
    assert ("| worker1 | worker | 5.4.0-132-generic | affected | 5.4.0-136-generic | NO ANSWER: no answer within 10s on "
            "/run/containerd/containerd.sock, 2 timeouts in its journal | yes: containerd did not answer `ctr version` "
            "within 10s; runtime timeouts in the journal: 2 |") in markdown
    assert "| worker2 | worker | 5.4.0-136-generic | fixed | none | answers (1.6.20~ds1, 0.02 s) | no |" in markdown
    assert "leader changes) | none |" in markdown


def test_a_detection_without_other_nodes_or_a_cluster_says_so(tmp_path):
    markdown = render(tmp_path, "detect.md.j2", dict(DETECT, hosts=[], cluster=None))
    assert "Cluster: not read (no etcd host in this detection)." in markdown
    assert "other nodes" not in markdown and "after the etcd members" not in markdown


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


def test_the_remediation_report_shows_the_other_nodes_batch_by_batch(tmp_path):
    plan = [{"order": 1, "batch": 1, "host": "worker1", "role": "worker", "action": "upgrade",
             "from": "5.4.0-132-generic", "to": "5.4.0-136-generic"},
            {"order": 2, "batch": 2, "host": "worker2", "role": "worker", "action": "upgrade",
             "from": "5.4.0-132-generic", "to": "5.4.0-136-generic"}]
    nodes = [{"host": name, "member": None, "layout": None, "client_url": None, "observed": {}, "role": "worker",
              "kernel": "5.4.0-132-generic", "status": "affected"} for name in ("worker1", "worker2")]
    journal = [{"event": "started", "time": 1.0, "run_id": "r3", "started": "2026-12-01T03:00:00Z", "check_mode": False,
                "limit": None, "unfinished": []},
               {"event": "nodes_planned", "time": 2.0, "plan": plan, "detected": nodes,
                "max_fail_percentage": 0},
               {"event": "planned", "time": 3.0, "plan": [], "unknown": [], "detected": [HOST]},
               {"event": "node_started", "time": 10.0, "host": "worker1"},
               {"event": "node_rebooting", "time": 20.0, "host": "worker1"},
               {"event": "node_read_back", "time": 31.5, "host": "worker1", "kernel": "5.4.0-136-generic",
                "runtime": {"answering": True, "version": "1.6.20~ds1", "answer_s": 0.02, "kubelet": "active"}},
               {"event": "node_done", "time": 33.0, "host": "worker1", "kernel_before": "5.4.0-132-generic",
                "rebooted": True, "left_cordoned": None},
               {"event": "node_started", "time": 40.0, "host": "worker2"},
               {"event": "failed", "time": 45.0, "host": "worker2", "reason": "worker2: drain failed", "detected": [],
                "left_cordoned": "worker2", "tolerable": True}]
    report = run_report(fold_run(journal), "2026-12-01T03:01:00Z")
    markdown = render(tmp_path, "remediation.md.j2", report)
    assert ("| 1 | worker1 | worker | 5.4.0-132-generic | 5.4.0-136-generic | answers (1.6.20~ds1), kubelet active | "
            "11.5 | remediated |") in markdown
    assert "| 2 | worker2 | worker | 5.4.0-132-generic | - | - | - | failed |" in markdown
    assert "- **Stopped at worker2**: worker2: drain failed" in markdown
    assert "- **worker2 is still cordoned** by the pre_disruption hook on worker2" in markdown
