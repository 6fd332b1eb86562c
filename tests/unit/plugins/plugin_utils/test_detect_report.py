"""One host's entry in the detection report (plugin_utils/detect_report.py)."""
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.detect_report import detected_host
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
