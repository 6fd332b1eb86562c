"""The remediation plan: affected hosts only, unhealthy first, leader last, from -> to."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.etcd_kernel.plugins.filter.remediation import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_plan import (
    batch_size,
    node_plan,
    remediation_plan,
    snapshot_host,
    unknown_hosts,
)


def health(leader="etcd2", unhealthy=()):
    """An etcd_health result of three members (only the fields the plan reads vary)."""
    leader_id = "%016x" % (["etcd1", "etcd2", "etcd3"].index(leader) + 1)
    members = []
    for index, name in enumerate(["etcd1", "etcd2", "etcd3"], start=1):
        healthy = name not in unhealthy
        members.append({"name": name, "id": "%016x" % index, "healthy": healthy,
                        "is_leader": name == leader and healthy,
                        "leader_id": leader_id if healthy else None,
                        "raft_index": 100 if healthy else None,
                        "errors": [] if healthy else ["connection refused"]})
    return {"members": members,
            "cluster": {"leader_id": leader_id, "member_count": 3, "alarms": []}}


def report(host, affected=True, target="5.4.0-136-generic"):
    return {"host": host, "member": "etcd" + host[-1], "kernel": "5.4.0-132-generic",
            "affected": affected, "target": target}


def test_leader_goes_last_and_followers_keep_inventory_order():
    plan = remediation_plan([report("master1"), report("master2"), report("master3")], health())
    assert [(s["order"], s["host"], s["role"]) for s in plan] == [
        (1, "master1", "follower"), (2, "master3", "follower"), (3, "master2", "leader")]
    assert plan[0]["from"] == "5.4.0-132-generic" and plan[0]["to"] == "5.4.0-136-generic"


def test_an_unhealthy_member_goes_first():
    plan = remediation_plan([report("master1"), report("master2"), report("master3")],
                            health(leader="etcd1", unhealthy=("etcd3",)))
    assert [(s["host"], s["role"]) for s in plan] == [
        ("master3", "unhealthy"), ("master2", "follower"), ("master1", "leader")]


def test_fixed_hosts_are_left_out_and_a_missing_target_is_kept_visible():
    plan = remediation_plan([report("master1", affected=False), report("master2", target=None),
                             report("master3")], health(leader="etcd3"))
    assert [s["host"] for s in plan] == ["master2", "master3"]
    assert plan[0]["to"] is None


def fixed(host):
    return dict(report(host, affected=False, target=None), kernel="5.4.0-136-generic", status="fixed")


def test_a_member_left_out_on_a_fixed_kernel_is_recovered_first():
    # An earlier run stopped between master1's reboot and its member's recovery.
    plan = remediation_plan([fixed("master1"), report("master2"), report("master3")],
                            health(leader="etcd2", unhealthy=("etcd1",)))
    assert [(s["host"], s["action"], s["role"]) for s in plan] == [
        ("master1", "recover", "unhealthy"), ("master3", "upgrade", "follower"), ("master2", "upgrade", "leader")]
    assert plan[0]["from"] == plan[0]["to"] == "5.4.0-136-generic"


def test_a_healthy_member_on_a_fixed_kernel_is_left_alone():
    plan = remediation_plan([fixed("master1"), report("master2"), report("master3")], health(leader="etcd2"))
    assert [s["host"] for s in plan] == ["master3", "master2"]
    assert {s["action"] for s in plan} == {"upgrade"}


def test_an_unhealthy_member_on_an_unaffected_or_unknown_kernel_is_not_the_kits_to_recover():
    reports = [dict(report("master1", affected=False), status="unaffected"),
               dict(report("master2", affected=False), status="unknown"), report("master3")]
    plan = remediation_plan(reports, health(leader="etcd3", unhealthy=("etcd1", "etcd2")))
    assert [s["host"] for s in plan] == ["master3"]


def test_nothing_affected_is_an_empty_plan():
    assert remediation_plan([report("master1", affected=False)], health()) == []


UNKNOWN_REASON = ("the status of 5.4.0-1093-aws is unknown: no known range for flavour aws; "
                  "add one via etcd_kernel_affected_ranges")


def cloud_report(host, affected=False, status="unknown", reason=UNKNOWN_REASON):
    return dict(report(host, affected=affected, target=None), kernel="5.4.0-1093-aws",
                status=status, reason=reason)


def test_hosts_of_unknown_status_are_not_planned():
    reports = [report("master1"), cloud_report("master2"), dict(report("master3"), status="affected")]
    plan = remediation_plan(reports, health(leader="etcd3"))
    assert [(s["order"], s["host"], s["role"]) for s in plan] == [(1, "master1", "follower"), (2, "master3", "leader")]


def test_an_unknown_status_wins_over_a_stray_affected_flag():
    # Only kernel_status decides; a report saying both is not planned.
    assert remediation_plan([cloud_report("master1", affected=True)], health()) == []


def test_reports_without_status_are_planned_as_before():
    assert [s["host"] for s in remediation_plan([report("master1")], health())] == ["master1"]


def test_unknown_hosts_lists_host_member_kernel_and_reason():
    reports = [report("master1"), cloud_report("master2"), cloud_report("master3", reason=None),
               dict(report("master1", affected=False), status="fixed")]
    assert unknown_hosts(reports) == [
        {"host": "master2", "member": "etcd2", "kernel": "5.4.0-1093-aws", "reason": UNKNOWN_REASON},
        {"host": "master3", "member": "etcd3", "kernel": "5.4.0-1093-aws", "reason": ""},
    ]


def test_no_unknown_hosts():
    assert unknown_hosts([report("master1"), dict(report("master2"), status="affected")]) == []
    assert unknown_hosts([]) == []


@pytest.mark.parametrize("reports, message", [
    ("master1", "must be a list"),
    ([{"host": "master1", "status": "unknown"}], "lacks member, kernel, affected, target"),
])
def test_unknown_hosts_refuses_bad_reports(reports, message):
    with pytest.raises(ValueError, match=message):
        unknown_hosts(reports)


@pytest.mark.parametrize("reports, message", [
    ("master1", "must be a list"),
    ([{"host": "master1"}], "lacks member, kernel, affected, target"),
])
def test_bad_reports_are_refused_by_name(reports, message):
    plan_filter = FilterModule().filters()["remediation_plan"]
    with pytest.raises(AnsibleFilterError, match="^remediation_plan: .*" + message):
        plan_filter(reports, health())


def test_a_host_whose_member_is_not_in_the_cluster_is_refused():
    stray = dict(report("master1"), member="etcd9")
    with pytest.raises(ValueError, match="etcd9"):
        remediation_plan([stray], health())


# Per-host detection reports as the plays record them

def detected(host, affected=True):
    kernel = "5.4.0-132-generic" if affected else "5.4.0-136-generic"
    return dict(report(host, affected=affected), kernel=kernel)


# The member the others cannot reach ----------------------------------------------

def complaining(host, *peer_ids):
    return dict(detected(host), symptoms={"peers_unreachable": {peer: 3 for peer in peer_ids}})


def test_the_member_the_others_cannot_reach_goes_first_even_before_followers():
    # etcd3 (id 3) flaps: etcd1 and etcd2 fail to reach it; etcd3 itself complains about both.
    reports = [complaining("master1", "%016x" % 3), complaining("master2", "%016x" % 3),
               complaining("master3", "%016x" % 1, "%016x" % 2)]
    plan = remediation_plan(reports, health(leader="etcd2"))
    assert [(s["host"], s["role"]) for s in plan] == [
        ("master3", "symptomatic"), ("master1", "follower"), ("master2", "leader")]


def test_one_complaint_is_not_enough_to_suspect_a_member():
    reports = [complaining("master1", "%016x" % 3), detected("master2"), detected("master3")]
    plan = remediation_plan(reports, health(leader="etcd2"))
    assert [s["role"] for s in plan] == ["follower", "follower", "leader"]


def test_an_unhealthy_member_still_comes_before_a_suspected_one():
    reports = [complaining("master1", "%016x" % 3), complaining("master2", "%016x" % 3), detected("master3")]
    plan = remediation_plan(reports, health(leader="etcd2", unhealthy=("etcd1",)))
    assert [(s["host"], s["role"]) for s in plan][:2] == [("master1", "unhealthy"), ("master3", "symptomatic")]


def test_the_operators_index_gap_decides_who_lags():
    # etcd3 is 500 entries behind: with a gap of 100 it lags and goes first among the followers.
    lagging = health(leader="etcd2")
    for member in lagging["members"]:
        member["raft_index"] = 1000 if member["name"] != "etcd3" else 500
    reports = [report("master1"), report("master2"), report("master3")]
    assert [s["host"] for s in remediation_plan(reports, lagging)] == ["master1", "master3", "master2"]
    assert [s["host"] for s in remediation_plan(reports, lagging, max_index_gap=100)] == ["master3", "master1", "master2"]
    assert [s["host"] for s in FilterModule().filters()["remediation_plan"](reports, lagging, "100")] == [
        "master3", "master1", "master2"]


def test_a_fixed_host_whose_member_etcd_does_not_know_is_left_to_the_membership_check():
    stranger = dict(fixed("master1"), member="etcd9")
    assert remediation_plan([stranger], health()) == []


# kubespray's etcd-events cluster ---------------------------------------------------

def events_health():
    """The etcd-events cluster: members etcdN-events, ids 0x1N, all healthy, leader etcd1-events."""
    result = health(leader="etcd1")
    for member in result["members"]:
        member["name"] += "-events"
        member["id"] = "%016x" % (0x10 + int(member["id"], 16))
    return result


def with_events(report_, *peer_ids):
    events = {"member": report_["member"] + "-events",
              "symptoms": {"peers_unreachable": {peer: 2 for peer in peer_ids}}}
    return dict(report_, events=events)


def test_a_host_whose_events_member_the_others_cannot_reach_goes_first():
    # etcd3-events (id 0x13) is the one etcd1-events and etcd2-events fail to reach; the main
    # cluster is quiet. Each reboot stops both members of a host: master3 is the one to fix first.
    reports = [with_events(detected("master1"), "%016x" % 0x13), with_events(detected("master2"), "%016x" % 0x13),
               with_events(detected("master3"))]
    plan = remediation_plan(reports, health(leader="etcd3"), events_health=events_health())
    assert [(s["host"], s["role"]) for s in plan] == [
        ("master3", "symptomatic"), ("master1", "follower"), ("master2", "follower")]
    # Without the events cluster's health, the events symptoms name no member: the main order.
    assert [s["host"] for s in remediation_plan(reports, health(leader="etcd3"))] == ["master1", "master2", "master3"]


def test_main_cluster_ids_in_the_events_logs_name_no_events_member():
    # A complaint names a peer by its id in that cluster: the main cluster's ids mean nothing there.
    reports = [with_events(detected("master1"), "%016x" % 3), with_events(detected("master2"), "%016x" % 3),
               with_events(detected("master3"))]
    plan = remediation_plan(reports, health(leader="etcd2"), events_health=events_health())
    assert [s["role"] for s in plan] == ["follower", "follower", "leader"]


def test_a_broken_events_health_is_refused_by_name():
    with pytest.raises(ValueError, match="health must be the etcd_health result"):
        remediation_plan([with_events(detected("master1"))], health(), events_health={"members": "etcd1"})


def member_seen(host, healthy=True, is_leader=False):
    return {"host": host, "member": "etcd" + host[-1], "member_state": {"healthy": healthy, "is_leader": is_leader}}


def test_the_snapshot_comes_from_a_healthy_follower_in_play_order():
    records = [member_seen("master1", is_leader=True), member_seen("master2", healthy=False), member_seen("master3")]
    assert snapshot_host(records) == "master3"
    assert FilterModule().filters()["snapshot_host"](records[:2] + [member_seen("master4")]) == "master4"


def test_the_leader_takes_the_snapshot_when_it_is_the_only_healthy_member():
    assert snapshot_host([member_seen("master1", healthy=False), member_seen("master2", is_leader=True)]) == "master2"


def test_no_healthy_member_at_hand_means_no_snapshot_host():
    # A member detect could not find in etcd's membership has no state.
    assert snapshot_host([member_seen("master1", healthy=False), {"host": "master2", "member_state": {}}]) is None
    assert snapshot_host([]) is None


def worker(host, role="worker", affected=True, status="affected", target="5.4.0-136-generic"):
    return {"host": host, "member": None, "role": role, "kernel": "5.4.0-132-generic", "affected": affected,
            "status": status, "target": target}


@pytest.mark.parametrize("serial, total, size", [
    (1, 10, 1), ("2", 10, 2), (" 3 ", 10, 3), (25, 10, 25),
    ("25%", 10, 2), ("20%", 20, 4), ("20%", 4, 1), ("100%", 7, 7), ("1%", 3, 1), ("50 %", 5, 2)])
def test_a_batch_is_a_count_or_a_percentage_rounded_down_and_never_empty(serial, total, size):
    assert batch_size(serial, total) == size


@pytest.mark.parametrize("serial", [0, "0", -1, "-2", "0%", "101%", "x", "", None, True, "2.5", "1e3", "%", "１"])
def test_a_batch_setting_that_is_no_count_or_percentage_is_refused_with_its_value(serial):
    with pytest.raises(ValueError, match="etcd_kernel_worker_serial"):
        batch_size(serial, 10)


def test_the_nodes_go_in_batches_control_plane_alone_first_and_only_affected_judged_nodes():
    reports = [worker("worker1"), worker("cp1", role="control_plane"), worker("worker2"), worker("worker3"),
               worker("worker4", affected=False, status="fixed"), worker("worker5", status="unknown"),
               worker("worker6", target=None)]
    plan = node_plan(reports, "2")
    assert [(step["batch"], step["host"]) for step in plan] == [
        (1, "cp1"), (2, "worker1"), (2, "worker2"), (3, "worker3"), (3, "worker6")]
    assert [step["order"] for step in plan] == [1, 2, 3, 4, 5]
    assert plan[-1]["to"] is None
    assert plan[0] == {"order": 1, "batch": 1, "host": "cp1", "role": "control_plane", "action": "upgrade",
                       "from": "5.4.0-132-generic", "to": "5.4.0-136-generic"}


def test_a_percentage_is_of_the_workers_to_do_and_no_node_means_no_plan():
    plan = node_plan([worker("worker%d" % n) for n in range(1, 11)], "25%")
    assert [len([s for s in plan if s["batch"] == batch]) for batch in (1, 2, 3, 4, 5)] == [2, 2, 2, 2, 2]
    assert node_plan([], "25%") == []
    with pytest.raises(ValueError, match="needs host, role"):
        node_plan([{"host": "worker1"}])


def test_no_batch_is_planned_larger_than_the_nodes_budget():
    workers = [worker("worker%d" % n) for n in range(1, 11)]
    assert [step["batch"] for step in node_plan(workers, "50%", budget=3)] == [1, 1, 1, 2, 2, 2, 3, 3, 3, 4]
    assert [step["batch"] for step in node_plan(workers[:4], 2, budget=5)] == [1, 1, 2, 2]
    with pytest.raises(ValueError, match="etcd_kernel_node_budget"):
        node_plan(workers, 2, budget=0)
