"""The remediation plan: affected hosts only, unhealthy first, leader last, from -> to."""
import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.etcd_kernel.plugins.filter.remediation import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.module_utils.remediation_plan import remediation_plan
from ansible_collections.sre.etcd_kernel.plugins.module_utils.remediation_run import remediation_report


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


def test_nothing_affected_is_an_empty_plan():
    assert remediation_plan([report("master1", affected=False)], health()) == []


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


# The run's report ------------------------------------------------------------

def detected(host, affected=True):
    kernel = "5.4.0-132-generic" if affected else "5.4.0-136-generic"
    return dict(report(host, affected=affected), kernel=kernel)


def worked(host, status="remediated", downtime=9.5, transferred=False):
    return {"name": host, "kernel_before": "5.4.0-132-generic",
            "kernel_after": "5.4.0-136-generic" if status == "remediated" else "5.4.0-132-generic",
            "leader_transferred": transferred, "fallback_used": False,
            "downtime_s": downtime if status == "remediated" else None, "status": status}


RUN = {"run_id": "r1", "started": "t0", "finished": "t1", "check_mode": False,
       "stopped_at": None, "reason": None, "snapshot": "master1:/var/backups/x.db"}


def three_host_plan():
    return remediation_plan([detected("master1"), detected("master2"), detected("master3")], health())


def test_a_complete_run_is_remediated_and_lists_hosts_in_plan_order():
    plan = three_host_plan()
    reports = {h: worked(h, transferred=(h == "master2")) for h in ("master1", "master2", "master3")}
    result = remediation_report(RUN, plan, [detected("master1"), detected("master2"), detected("master3")],
                                reports)
    assert result["result"] == "remediated"
    assert [h["name"] for h in result["hosts"]] == ["master1", "master3", "master2"]
    assert result["hosts"][-1]["leader_transferred"] and result["hosts"][-1]["member"] == "etcd2"
    assert result["summary"] == "remediated: 3 remediated"
    empty = remediation_report(dict(RUN, stopped_at="", reason="", snapshot=""), plan,
                               [detected(h) for h in ("master1", "master2", "master3")], reports)
    assert empty["stopped_at"] is None and empty["reason"] is None and empty["snapshot"] is None


def test_a_stopped_run_says_where_and_marks_later_hosts_not_started():
    plan = three_host_plan()
    run = dict(RUN, stopped_at="master3", reason="Install the fixed kernel: no package")
    result = remediation_report(run, plan, [detected(h) for h in ("master1", "master2", "master3")],
                                {"master1": worked("master1"), "master3": worked("master3", "failed")})
    assert result["result"] == "stopped" and result["stopped_at"] == "master3"
    assert [(h["name"], h["status"]) for h in result["hosts"]] == [
        ("master1", "remediated"), ("master3", "failed"), ("master2", "not_started")]
    assert "stopped at master3: Install the fixed kernel" in result["summary"]


def test_nothing_affected_is_nothing_to_do_even_in_check_mode():
    detections = [detected(h, affected=False) for h in ("master1", "master2", "master3")]
    for check_mode in (False, True):
        result = remediation_report(dict(RUN, check_mode=check_mode), [], detections, {})
        assert result["result"] == "nothing_to_do"
        assert {h["status"] for h in result["hosts"]} == {"already_fixed"}


def test_check_mode_with_work_to_do_is_planned():
    plan = three_host_plan()
    result = remediation_report(dict(RUN, check_mode=True), plan,
                                [detected(h) for h in ("master1", "master2", "master3")], {})
    assert result["result"] == "planned"
    assert {h["status"] for h in result["hosts"]} == {"planned"}


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


def test_the_report_gives_numbers_and_flags_their_types_back():
    # set_fact hands nested values to the report filter as strings.
    plan = three_host_plan()
    as_ansible_gives_them = dict(worked("master1"), downtime_s="8.0", reboot_at="1795568642.01",
                                 healthy_at="", leader_transferred="False", fallback_used="True")
    result = remediation_report(RUN, plan, [detected(h) for h in ("master1", "master2", "master3")],
                                {"master1": as_ansible_gives_them})
    master1 = next(h for h in result["hosts"] if h["name"] == "master1")
    assert master1["downtime_s"] == 8.0 and master1["reboot_at"] == 1795568642.01
    assert master1["healthy_at"] is None
    assert master1["leader_transferred"] is False and master1["fallback_used"] is True
