"""The normalized health result: build_health() from raw observations, and reading it.

make_health() builds results for the other tests of this directory.
"""
import itertools

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import (
    alarms_from_status_errors,
    build_health,
    check_health_shape,
    describe_problems,
    find_member,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_ids import format_member_id, parse_member_id


def member_id(index):
    return format_member_id(0x1000 + index)


def make_health(spec, max_index_gap=1000, alarms=()):
    """spec: {name: state}; state is "leader", "follower", "down" or a dict of status overrides.

    Every answering member reports the leader of the spec; raft_index 100 unless overridden.
    """
    names = sorted(spec)
    ids = {name: member_id(index) for index, name in enumerate(names)}
    leader = next((name for name, state in spec.items() if state == "leader"), None)
    members, statuses = [], {}
    for name in names:
        members.append({"id": ids[name], "name": name, "peer_urls": ["https://%s:2380" % name],
                        "client_urls": ["https://%s:2379" % name]})
        state = spec[name]
        if state == "down":
            statuses[ids[name]] = "connection refused by https://%s:2379 (status)" % name
            continue
        status = {"responder_id": ids[name], "version": "3.4.23", "db_size": 20480,
                  "leader_id": ids[leader] if leader else None, "raft_index": 100, "raft_term": 2,
                  "applied_index": 100, "errors": []}
        if isinstance(state, dict):
            status.update(state)
        statuses[ids[name]] = status
    alarm_list = [{"member_id": ids[name], "alarm": alarm} for name, alarm in alarms]
    return build_health(members, statuses, alarm_list, None, max_index_gap)


def names_of(health, predicate):
    return [member["name"] for member in health["members"] if predicate(member)]


class TestBuildHealth:
    def test_a_healthy_cluster(self):
        health = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "follower"})
        assert [m["name"] for m in health["members"]] == ["etcd1", "etcd2", "etcd3"]
        assert all(m["healthy"] for m in health["members"])
        assert names_of(health, lambda m: m["is_leader"]) == ["etcd2"]
        assert health["cluster"] == {
            "member_count": 3, "healthy_count": 3, "leader_id": member_id(1), "leader_name": "etcd2",
            "leaders_agree": True, "quorum": True, "in_sync": True, "max_index_gap": 0, "alarms": [],
            "healthy": True,
        }

    def test_member_schema_is_exactly_this(self):
        health = make_health({"etcd1": "leader"})
        assert sorted(health["members"][0]) == sorted([
            "name", "id", "endpoint", "peer_urls", "healthy", "is_leader", "leader_id", "raft_term", "raft_index",
            "applied_index", "db_size", "version", "errors", "alarms"])

    def test_peer_urls_are_kept_for_every_member_answering_or_not(self):
        health = make_health({"etcd1": "leader", "etcd2": "down"})
        assert [m["peer_urls"] for m in health["members"]] == [["https://etcd1:2380"], ["https://etcd2:2380"]]
        unmatched = build_health([], {}, [], {"https://x:2379": "connection refused"})
        assert unmatched["members"][0]["peer_urls"] == []

    def test_a_member_that_did_not_answer_is_unhealthy_with_the_reason(self):
        health = make_health({"etcd1": "leader", "etcd2": "down", "etcd3": "follower"})
        down = health["members"][1]
        assert down["healthy"] is False
        assert down["errors"] == ["connection refused by https://etcd2:2379 (status)"]
        assert down["raft_index"] is None and down["leader_id"] is None and down["version"] is None
        assert health["cluster"]["quorum"] is True
        assert health["cluster"]["healthy"] is False

    def test_a_member_without_a_leader_is_unhealthy(self):
        health = make_health({"etcd1": "leader", "etcd2": {"leader_id": None, "errors": ["etcdserver: no leader"]},
                              "etcd3": "follower"})
        assert health["members"][1]["healthy"] is False
        assert health["members"][1]["errors"] == ["etcdserver: no leader"]

    def test_no_leader_is_named_even_when_etcd_gives_no_error(self):
        health = make_health({"etcd1": {"leader_id": None}})
        assert health["members"][0]["errors"] == ["member reports no leader"]
        assert health["cluster"]["quorum"] is False

    def test_alarms_are_reported_apart_and_make_the_cluster_unhealthy(self):
        alarm_text = "memberID:%d alarm:NOSPACE " % parse_member_id(member_id(0))
        health = make_health({"etcd1": {"errors": [alarm_text]}, "etcd2": {"errors": [alarm_text]},
                              "etcd3": "leader"})
        assert all(m["healthy"] for m in health["members"])
        assert health["members"][0]["alarms"] == ["NOSPACE"]
        assert health["members"][1]["alarms"] == []
        assert health["cluster"]["alarms"] == [{"member": "etcd1", "alarm": "NOSPACE"}]
        assert health["cluster"]["quorum"] is True
        assert health["cluster"]["healthy"] is False

    def test_alarms_from_the_alarm_list_count_too(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"},
                             alarms=[("etcd3", "CORRUPT")])
        assert health["cluster"]["alarms"] == [{"member": "etcd3", "alarm": "CORRUPT"}]
        assert health["members"][2]["alarms"] == ["CORRUPT"]

    def test_leaders_disagreeing_means_no_quorum(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": {"leader_id": member_id(2)}})
        assert health["cluster"]["leaders_agree"] is False
        assert health["cluster"]["leader_id"] is None and health["cluster"]["leader_name"] is None
        assert health["cluster"]["quorum"] is False

    def test_index_gap_beyond_the_threshold_is_out_of_sync(self):
        spec = {"etcd1": "leader", "etcd2": {"raft_index": 5000}, "etcd3": {"raft_index": 3900}}
        assert make_health(spec, max_index_gap=4900)["cluster"]["in_sync"] is True
        out = make_health(spec, max_index_gap=1000)["cluster"]
        assert out["in_sync"] is False and out["max_index_gap"] == 4900
        assert out["healthy"] is False

    def test_only_healthy_members_count_for_sync(self):
        spec = {"etcd1": "leader", "etcd2": "follower", "etcd3": {"raft_index": 1, "leader_id": None}}
        assert make_health(spec)["cluster"]["max_index_gap"] == 0

    def test_two_of_three_down_is_no_quorum(self):
        cluster = make_health({"etcd1": "leader", "etcd2": "down", "etcd3": "down"})["cluster"]
        assert (cluster["healthy_count"], cluster["quorum"]) == (1, False)

    def test_a_member_that_never_started_appears_with_its_id(self):
        members = [
            {"id": member_id(0), "name": "etcd1", "peer_urls": [], "client_urls": ["https://a:2379"]},
            {"id": member_id(9), "name": None, "peer_urls": ["https://new:2380"], "client_urls": []},
        ]
        status = {"responder_id": member_id(0), "leader_id": member_id(0), "raft_index": 5, "errors": []}
        health = build_health(members, {member_id(0): status})
        unstarted = health["members"][-1]
        assert unstarted["name"] is None and unstarted["id"] == member_id(9)
        assert unstarted["endpoint"] is None and unstarted["healthy"] is False
        assert "not started" in unstarted["errors"][0]
        assert health["cluster"]["member_count"] == 2

    def test_endpoints_that_match_no_member_still_count(self):
        health = build_health([], {}, [], {"https://x:2379": "connection refused", "https://y:2379": "timeout"})
        assert [m["endpoint"] for m in health["members"]] == ["https://x:2379", "https://y:2379"]
        assert health["cluster"]["member_count"] == 2
        assert health["cluster"]["healthy"] is False and health["cluster"]["max_index_gap"] is None

    def test_a_member_answering_as_another_is_unhealthy(self):
        health = make_health({"etcd1": "leader", "etcd2": {"responder_id": member_id(0)}})
        assert health["members"][1]["healthy"] is False
        assert "answered as member" in health["members"][1]["errors"][0]

    def test_describe_problems_names_members_and_reasons(self):
        health = make_health({"etcd1": "leader", "etcd2": "down", "etcd3": "follower"}, alarms=[("etcd1", "NOSPACE")])
        problems = describe_problems(health)
        assert problems[0].startswith("etcd2: connection refused")
        assert "alarm NOSPACE on etcd1" in problems


def test_alarms_from_status_errors_splits_alarms_from_other_errors():
    alarms, others = alarms_from_status_errors(
        ["memberID:7604965497571432693 alarm:NOSPACE ", "etcdserver: no leader"])
    assert alarms == [{"member_id": "698a43d3c3d8d8f5", "alarm": "NOSPACE"}]
    assert others == ["etcdserver: no leader"]


def test_every_pair_of_states_gives_a_consistent_verdict():
    """cluster.healthy implies quorum and in_sync; quorum implies leaders_agree."""
    for states in itertools.product(["leader", "follower", "down", {"raft_index": 9000}], repeat=3):
        spec = dict(zip(["etcd1", "etcd2", "etcd3"], states))
        if sum(1 for s in states if s == "leader") > 1:
            continue
        cluster = make_health(spec)["cluster"]
        assert not cluster["healthy"] or (cluster["quorum"] and cluster["in_sync"])
        assert not cluster["quorum"] or cluster["leaders_agree"]


def test_find_member_names_the_known_members():
    health = make_health({"etcd1": "leader", "etcd2": "follower"})
    assert find_member(health, "etcd2")["id"] == member_id(1)
    with pytest.raises(ValueError, match=r"unknown etcd member 'etcd9'; known members: etcd1, etcd2"):
        find_member(health, "etcd9")


@pytest.mark.parametrize("health, message", [
    ({"members": "x"}, "etcd_health result"),
    ({"members": [], "cluster": {}}, "no 'alarms' list"),
    ({"members": [{"name": "etcd1"}], "cluster": {"alarms": []}}, "lacks id, healthy"),
])
def test_check_health_shape_says_what_is_wrong(health, message):
    with pytest.raises(ValueError, match=message):
        check_health_shape(health)
