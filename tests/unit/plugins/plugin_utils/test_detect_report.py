"""One host's entry in the detection report (plugin_utils/detect_report.py)."""
import pytest

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.detect_report import (
    detected_host,
    detected_node,
    detection_report,
)
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import HOST_IDENTITY

NODE = {"layout": "host", "member_name": "etcd1", "name_source": "/etc/etcd.env (ETCD_NAME)", "container": None,
        "advertise_client_urls": ["https://10.0.0.11:2379"], "default_ipv4": "10.0.0.11",
        "tools": {"etcdctl": "/usr/local/bin/etcdctl", "etcdutl": None}, "files": [], "problems": []}
CLAIMS = {"member_name": "etcd1", "layout": "", "endpoint": "https://10.0.0.11:2379"}
MEMBERS = [{"name": "etcd%d" % n, "healthy": True, "version": "3.5.9", "peer_urls": ["https://10.0.0.1%d:2380" % n]}
           for n in (1, 2, 3)]
HEALTH = {"members": MEMBERS, "local": {"endpoint": "https://127.0.0.1:2379", "name": "etcd1", "id": "01",
                                        "version": "3.5.9", "error": ""}}
KERNEL = {"running_release": "5.4.0-132-generic", "status": "affected", "affected": True, "reason": "in range",
          "installed_releases": ["5.4.0-132-generic"], "fixed_release_available": True,
          "target_release": "5.4.0-136-generic", "running_packages": ["linux-image-5.4.0-132-generic"],
          "target_packages": ["linux-image-5.4.0-136-generic"], "target_packages_missing": [],
          "reboot_required": False, "boot_warnings": []}
PEER_TIMEOUT = ("2022-11-30 10:12:%02d.000000 W | rafthttp: health check for peer 8e9e05c52164694d could not "
                "connect: dial tcp 10.0.0.12:2380: i/o timeout (prober \"ROUND_TRIPPER_RAFT_MESSAGE\")")


def entry(**changes):
    read = dict(host="master1", member="etcd1", layout="host", node=NODE, claims=CLAIMS, health=HEALTH,
                counters={}, kernel=KERNEL, logs=[{"stdout_lines": [], "stderr_lines": []}], window_s=3600)
    read.update(changes)
    return detected_host(**read)


def test_who_the_host_is_comes_first_then_what_it_runs_and_its_verdict():
    host = entry()
    assert tuple(host)[:len(HOST_IDENTITY)] == HOST_IDENTITY
    assert (host["host"], host["member"], host["layout"], host["client_url"]) == (
        "master1", "etcd1", "host", "https://10.0.0.11:2379")
    assert host["observed"]["etcd_version"] == "3.5.9" and host["observed"]["local_member"]["name"] == "etcd1"
    assert host["observed"]["tools"]["etcdctl"] == "/usr/local/bin/etcdctl" and host["observed"]["events"] is None
    assert (host["kernel"], host["status"], host["target"]) == ("5.4.0-132-generic", "affected", "5.4.0-136-generic")
    assert host["installed"] == ["5.4.0-132-generic"] and host["fixed_available"] is True
    assert host["member_state"]["name"] == "etcd1" and host["claim_problems"] == []
    assert host["symptoms"]["symptomatic"] is False and host["log_error"] == "" and host["events"] is None


def test_a_node_that_was_not_read_is_reported_with_what_is_known():
    host = entry(node={}, member="etcd1", layout="docker")
    assert host["observed"]["member_name"] is None and host["observed"]["advertise_client_urls"] == []
    assert host["observed"]["tools"] == {}


def test_where_the_inventory_disagrees_with_the_host_it_is_a_claim_problem():
    host = entry(claims=dict(CLAIMS, member_name="etcd2"))
    assert [problem["check"] for problem in host["claim_problems"]] == ["member_name"]


def test_the_symptoms_are_counted_in_the_log_stdout_and_stderr_alike():
    lines = [PEER_TIMEOUT % second for second in range(12)]
    host = entry(logs=[{"stdout_lines": lines[:6], "stderr_lines": lines[6:]}])
    assert host["symptoms"]["symptomatic"] is True and host["symptoms"]["lines_scanned"] == 12


def test_a_log_that_could_not_be_read_says_why():
    assert entry(logs=[{"failed": True, "stderr": "journalctl: no such unit", "msg": "non-zero return code"}]
                 )["log_error"] == "journalctl: no such unit"
    assert entry(logs=[{"failed": True, "msg": "The command action failed to execute in the expected time frame"}]
                 )["log_error"].startswith("The command action failed")
    assert entry(logs=[{"failed": False, "stderr": "a warning"}])["log_error"] == ""


def test_the_etcd_events_member_is_read_from_its_own_cluster_and_log():
    events_members = [dict(member, name=member["name"] + "-events", version="3.5.9",
                           metrics={"has_leader": False}) for member in MEMBERS]
    events = {"member_name": "etcd1-events", "service": "etcd-events", "container": None}
    host = entry(events=events, events_member="etcd1-events", events_health={"members": events_members},
                 logs=[{"stdout_lines": []}, {"failed": True, "stderr": "no journal"}])
    assert host["observed"]["events"] == events
    assert host["events"]["member"] == "etcd1-events"
    assert host["events"]["member_state"]["name"] == "etcd1-events"
    # Its own counters: the events member knows no leader, the main one is fine.
    assert host["events"]["symptoms"]["symptomatic"] is True and host["symptoms"]["symptomatic"] is False
    assert host["events"]["log_error"] == "no journal" and host["log_error"] == ""


def test_the_members_own_counters_are_read_from_the_cluster_wide_read():
    counters = {"members": [dict(member, metrics={"has_leader": member["name"] != "etcd1"}) for member in MEMBERS]}
    assert entry(counters=counters)["symptoms"]["has_leader"] is False
    assert entry()["symptoms"]["has_leader"] is None


RUNTIME = {"changed": False, "present": True, "active": "active", "kubelet": None, "answering": True, "answer_s": 0.02,
           "version": "1.6.20~ds1", "error": "", "journal": {"lines": 40, "timeouts": 0, "examples": [], "error": ""},
           "symptomatic": False, "reasons": []}
HUNG = dict(RUNTIME, answering=False, answer_s=10.0, version=None, error="no answer within 10s",
            symptomatic=True, reasons=["containerd did not answer `ctr version` within 10s"])
CLUSTER_HEALTH = dict(HEALTH, cluster={"healthy": True, "member_count": 3, "alarms": [], "quorum": True}, members=[
    dict(member, id="0%d" % n, is_leader=n == 1, leader_id="01", errors=[], raft_index=100, applied_index=100)
    for n, member in
    enumerate(MEMBERS, 1)])


WORKER_FILES = {"layout": None, "member_name": None, "name_source": None, "container": None, "files": [],
                "default_ipv4": "10.0.0.21", "problems": ["neither an etcd unit nor a kubeadm manifest is on the host"]}


def node(**changes):
    read = dict(host="worker1", role="worker", etcd_group="etcd", node=WORKER_FILES, kernel=KERNEL, runtime=RUNTIME)
    read.update(changes)
    return detected_node(**read)


def test_a_node_without_etcd_has_the_same_identity_keys_and_verdict_and_its_runtime():
    worker = node()
    assert tuple(worker)[:len(HOST_IDENTITY)] == HOST_IDENTITY
    assert (worker["member"], worker["layout"], worker["client_url"], worker["role"]) == (None, None, None, "worker")
    assert (worker["kernel"], worker["status"], worker["target"]) == ("5.4.0-132-generic", "affected", "5.4.0-136-generic")
    assert worker["runtime"]["version"] == "1.6.20~ds1" and "changed" not in worker["runtime"]
    assert worker["symptoms"] == {"symptomatic": False, "reasons": []}
    assert worker["claim_problems"] == [] and worker["observed"]["default_ipv4"] == "10.0.0.21"


def test_a_node_outside_the_etcd_group_that_runs_a_member_is_a_claim_problem():
    worker = node(node=dict(NODE, files=["/etc/systemd/system/etcd.service", "/etc/etcd.env"]))
    assert [problem["check"] for problem in worker["claim_problems"]] == ["etcd_group"]
    message = worker["claim_problems"][0]["message"]
    assert message.startswith("worker1: the inventory does not put it in the etcd group 'etcd', but it runs the etcd "
                              "member etcd1 (/etc/systemd/system/etcd.service, /etc/etcd.env, host layout).")
    assert message.endswith("Nothing was changed.")
    assert worker["observed"]["etcd_member_name"] == "etcd1" and worker["observed"]["etcd_layout"] == "host"


def test_a_hung_runtime_is_the_nodes_symptom():
    assert node(runtime=HUNG)["symptoms"] == {"symptomatic": True, "reasons": HUNG["reasons"]}


def test_a_node_role_or_runtime_result_the_kit_does_not_know_is_refused():
    with pytest.raises(ValueError, match="role"):
        node(role="etcd")
    with pytest.raises(ValueError, match="runtime_status"):
        node(runtime={"present": True})


def test_an_etcd_hosts_runtime_is_kept_apart_from_its_members_symptoms():
    master = entry(runtime=HUNG)
    assert master["runtime"]["answering"] is False and master["symptoms"]["symptomatic"] is False
    assert entry()["runtime"] is None


def report(detected, health, events=None, **changes):
    parts = dict(run={"id": "20261206T210000Z-abcd", "started": "2026-12-06T21:00:00Z"}, group="etcd", limit=None,
                 detected=detected, health=health, events_health=events or [None] * len(detected), max_index_gap=1000)
    parts.update(changes)
    return detection_report(**parts)


def test_the_report_keeps_etcd_hosts_and_other_nodes_apart_and_plans_the_etcd_hosts():
    masters = [entry(host="master%d" % n, member="etcd%d" % n,
                     claims=dict(CLAIMS, member_name="etcd%d" % n), health=CLUSTER_HEALTH) for n in (1, 2, 3)]
    workers = [node(host="worker1"), node(host="worker2", runtime=HUNG, kernel=dict(KERNEL, status="unknown"))]
    # A node's health is not read, an events cluster not run: neither is the cluster's view.
    made = report(masters + workers, [CLUSTER_HEALTH] * 3 + [None, None],
                  events=[{"skipped": True}] * 3 + [None, None])
    assert [host["host"] for host in made["hosts"]] == ["master1", "master2", "master3"]
    assert [host["host"] for host in made["nodes"]] == ["worker1", "worker2"]
    assert made["cluster"] == CLUSTER_HEALTH["cluster"] and made["members"] == CLUSTER_HEALTH["members"]
    assert sorted(step["host"] for step in made["plan"]) == ["master1", "master2", "master3"]
    assert [host["host"] for host in made["unknown"]] == ["worker2"]
    assert [(step["batch"], step["host"]) for step in made["node_plan"]] == [(1, "worker1")]
    assert made["worker_serial"] == "1"
    assert (made["kind"], made["run_id"], made["generated"]) == ("detect", "20261206T210000Z-abcd", "2026-12-06T21:00:00Z")


def test_a_detection_of_nodes_alone_has_no_cluster_and_no_plan():
    made = report([node()], [None])
    assert made["cluster"] is None and made["members"] == [] and made["plan"] == [] and made["hosts"] == []


def test_a_batch_setting_that_is_no_count_or_percentage_is_refused_even_with_no_worker_to_do():
    with pytest.raises(ValueError, match="etcd_kernel_worker_serial"):
        report([], [], worker_serial="two")


def test_the_report_refuses_lists_that_do_not_line_up():
    with pytest.raises(ValueError, match="one item per host"):
        report([node()], [])
