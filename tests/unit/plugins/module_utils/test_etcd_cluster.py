"""Pure logic of module_utils.etcd_cluster: the health result, the decisions and the symptoms.

The orchestration (collect_health, transfer_leadership) is tested here against
a fake backend; tests/unit/plugins/modules/test_etcd_modules_local.py runs it
against real etcd.
"""
import itertools
import random
import time

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils import etcd_cluster
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_cluster import (
    EtcdConfigError,
    EtcdError,
    EtcdTLSError,
    alarms_from_status_errors,
    build_health,
    choose_successor,
    classify_symptoms,
    collect_health,
    describe_problems,
    disruption_check,
    format_member_id,
    parse_member_id,
    remediation_order,
    transfer_leadership,
)


# --------------------------------------------------------------------------
# Building health results from observations
# --------------------------------------------------------------------------
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


class TestIds:
    def test_ids_are_16_lower_case_hex_digits_like_etcdctl(self):
        assert format_member_id("7604965497571432693") == "698a43d3c3d8d8f5"
        assert format_member_id(1) == "0000000000000001"

    def test_parse_is_the_inverse(self):
        assert parse_member_id("698a43d3c3d8d8f5") == 7604965497571432693
        assert parse_member_id(format_member_id(2 ** 64 - 1)) == 2 ** 64 - 1

    @pytest.mark.parametrize("bad", ["", "xyz", "0x12", "1" * 17])
    def test_parse_rejects_what_is_not_an_id(self, bad):
        with pytest.raises(ValueError, match="16 hex digits"):
            parse_member_id(bad)


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
            "name", "id", "endpoint", "healthy", "is_leader", "leader_id", "raft_term", "raft_index",
            "applied_index", "db_size", "version", "errors", "alarms"])

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


# --------------------------------------------------------------------------
# Disruption safety
# --------------------------------------------------------------------------
class TestDisruptionCheck:
    def test_one_member_cluster_is_never_safe(self):
        verdict = disruption_check(make_health({"etcd1": "leader"}), "etcd1")
        assert verdict["safe"] is False
        assert verdict["reasons"] == ["without etcd1, 0 of 1 members would be healthy; quorum needs 1"]

    @pytest.mark.parametrize("name", ["etcd1", "etcd2", "etcd3"])
    def test_three_healthy_members_each_may_go(self, name):
        health = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "follower"})
        assert disruption_check(health, name) == {"safe": True, "reasons": []}

    def test_three_members_need_both_others_healthy(self):
        health = make_health({"etcd1": "leader", "etcd2": "down", "etcd3": "follower"})
        verdict = disruption_check(health, "etcd1")
        assert verdict["safe"] is False
        assert verdict["reasons"][0].startswith("etcd2 is unhealthy: connection refused")
        assert "without etcd1, 1 of 3 members would be healthy; quorum needs 2" in verdict["reasons"]

    def test_the_member_itself_may_be_unhealthy(self):
        health = make_health({"etcd1": "leader", "etcd2": "down", "etcd3": "follower"})
        assert disruption_check(health, "etcd2") == {"safe": True, "reasons": []}

    def test_five_members_need_all_four_others_even_though_quorum_math_would_allow(self):
        spec = {"etcd%d" % i: "follower" for i in range(1, 6)}
        spec["etcd1"] = "leader"
        assert disruption_check(make_health(spec), "etcd3")["safe"] is True
        spec["etcd5"] = "down"
        verdict = disruption_check(make_health(spec), "etcd3")
        assert verdict["safe"] is False
        # Three of five would still hold quorum: the refusal is the kit's stricter rule.
        assert len(verdict["reasons"]) == 1 and verdict["reasons"][0].startswith("etcd5 is unhealthy")
        assert disruption_check(make_health(spec), "etcd5")["safe"] is True

    def test_a_lagging_other_member_blocks(self):
        health = make_health({"etcd1": "leader", "etcd2": {"raft_index": 100}, "etcd3": {"raft_index": 5000}},
                             max_index_gap=10000)
        assert disruption_check(health, "etcd1", max_index_gap=10000)["safe"] is True
        verdict = disruption_check(health, "etcd1", max_index_gap=1000)
        assert verdict == {"safe": False, "reasons": ["etcd2 is not in sync: 4900 raft entries behind (allowed 1000)"]}

    def test_alarms_block(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"},
                             alarms=[("etcd3", "NOSPACE")])
        assert disruption_check(health, "etcd2") == {
            "safe": False, "reasons": ["alarm NOSPACE is active on etcd3"]}

    def test_others_disagreeing_on_the_leader_block(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": {"leader_id": member_id(2)}})
        assert "the other members do not agree on a leader" in disruption_check(health, "etcd1")["reasons"]

    def test_unknown_member_lists_known_names(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower"})
        with pytest.raises(ValueError, match=r"unknown etcd member 'etcd9'; known members: etcd1, etcd2"):
            disruption_check(health, "etcd9")

    @pytest.mark.parametrize("bad", [-1, "10", 1.5, True])
    def test_bad_threshold_is_an_error(self, bad):
        with pytest.raises(ValueError, match="max_index_gap"):
            disruption_check(make_health({"etcd1": "leader"}), "etcd1", bad)

    def test_not_a_health_result_is_an_error(self):
        with pytest.raises(ValueError, match="etcd_health result"):
            disruption_check({"members": "x"}, "etcd1")


# --------------------------------------------------------------------------
# Remediation order
# --------------------------------------------------------------------------
HOSTS = {"master1": "etcd1", "master2": "etcd2", "master3": "etcd3"}


class TestRemediationOrder:
    def test_leader_last(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        assert remediation_order(["master1", "master2", "master3"], health, HOSTS) == [
            "master2", "master3", "master1"]

    def test_unhealthy_first_then_followers_then_leader(self):
        health = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "down"})
        assert remediation_order(["master1", "master2", "master3"], health, HOSTS) == [
            "master3", "master1", "master2"]

    def test_input_order_is_kept_within_groups(self):
        health = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "follower"})
        assert remediation_order(["master3", "master2", "master1"], health, HOSTS) == [
            "master3", "master1", "master2"]

    def test_properties_hold_for_random_clusters(self):
        rng = random.Random(1996678)
        for _ in range(200):
            size = rng.choice([1, 3, 5, 7])
            names = ["etcd%d" % i for i in range(1, size + 1)]
            leader = rng.choice(names)
            spec = {name: ("leader" if name == leader else rng.choice(["follower", "follower", "down"]))
                    for name in names}
            health = make_health(spec)
            member_names = {"host-%s" % name: name for name in names}
            hosts = list(member_names)
            rng.shuffle(hosts)
            order = remediation_order(hosts, health, member_names)
            healthy = {m["name"]: m["healthy"] for m in health["members"]}
            group = [0 if not healthy[member_names[h]] else 2 if member_names[h] == leader else 1 for h in order]
            assert sorted(order) == sorted(hosts)                       # a permutation
            assert group == sorted(group)                                # unhealthy, followers, leader
            assert group.count(2) == 1 and group[-1] == 2               # one leader, last
            for number in (0, 1):                                        # stable within a group
                in_group = [h for h, g in zip(order, group) if g == number]
                assert in_group == [h for h in hosts if h in in_group]

    def test_unknown_member_name_is_an_error(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        with pytest.raises(ValueError, match="unknown etcd member 'etcd4'; known members: etcd1, etcd2, etcd3"):
            remediation_order(["master1"], health, {"master1": "etcd4"})

    def test_host_without_member_name_is_an_error(self):
        health = make_health({"etcd1": "leader"})
        with pytest.raises(ValueError, match="host 'master2' has no etcd member name"):
            remediation_order(["master2"], health, {"master1": "etcd1"})

    def test_hosts_must_be_a_list(self):
        with pytest.raises(ValueError, match="hosts must be a list"):
            remediation_order("master1", make_health({"etcd1": "leader"}), {"master1": "etcd1"})


class TestChooseSuccessor:
    def test_highest_raft_index_in_sync_follower(self):
        health = make_health({"etcd1": "leader", "etcd2": {"raft_index": 99}, "etcd3": {"raft_index": 100}})
        assert choose_successor(health, "etcd1") == "etcd3"

    def test_ties_go_to_the_first_name(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        assert choose_successor(health, "etcd1") == "etcd2"

    def test_none_when_no_follower_is_healthy_and_in_sync(self):
        health = make_health({"etcd1": {"raft_index": 9000}, "etcd2": "down", "etcd3": {"raft_index": 10},
                              "etcd4": "leader", "etcd5": "down"})
        # etcd4 leads, etcd1 is the only candidate; etcd3 is 8990 behind.
        assert choose_successor(health, "etcd4") == "etcd1"
        health = make_health({"etcd1": "leader", "etcd2": "down", "etcd3": {"raft_index": 10, "leader_id": None}})
        assert choose_successor(health, "etcd1") is None


# --------------------------------------------------------------------------
# Symptoms in etcd 3.4 logs
# --------------------------------------------------------------------------
# capnslog, etcd 3.4's default text logger (kubespray's docker etcd), as seen in the seed incident.
CAPNSLOG_INCIDENT = """\
2022-11-30 10:12:01.123456 W | rafthttp: health check for peer 8e9e05c52164694d could not connect: dial tcp 10.0.0.12:2380: i/o timeout (prober "ROUND_TRIPPER_SNAPSHOT")
2022-11-30 10:12:01.123789 W | rafthttp: health check for peer 8e9e05c52164694d could not connect: dial tcp 10.0.0.12:2380: i/o timeout (prober "ROUND_TRIPPER_RAFT_MESSAGE")
2022-11-30 10:12:03.000001 W | rafthttp: lost the TCP streaming connection with peer 8e9e05c52164694d (stream MsgApp v2 reader)
2022-11-30 10:12:03.000002 E | rafthttp: failed to read 8e9e05c52164694d on stream MsgApp v2 (read tcp 10.0.0.11:2380->10.0.0.12:41234: i/o timeout)
2022-11-30 10:12:03.000003 I | rafthttp: peer 8e9e05c52164694d became inactive (message send to peer failed)
2022-11-30 10:12:04.500000 I | raft: 91bc3c398fb3c146 is starting a new election at term 7
2022-11-30 10:12:04.600000 I | raft: raft.node: 91bc3c398fb3c146 lost leader 8e9e05c52164694d at term 8
2022-11-30 10:12:04.700000 I | raft: raft.node: 91bc3c398fb3c146 elected leader 91bc3c398fb3c146 at term 8
2022-11-30 10:12:05.000000 I | embed: rejected connection from "10.0.0.13:51234" (error "tls: first record does not look like a TLS handshake", ServerName "")
2022-11-30 10:12:06.000000 W | etcdserver: read-only range request "key:\\"/registry/leases/kube-node-lease/master1\\" " with result "error:etcdserver: leader changed" took too long (1.2s) to execute
2022-11-30 10:12:07.000000 I | embed: rejected connection from "10.0.0.12:40000" (error "read tcp 10.0.0.11:2379->10.0.0.12:40000: i/o timeout", ServerName "") http: TLS handshake error from 10.0.0.12:40000: read tcp 10.0.0.11:2379->10.0.0.12:40000: i/o timeout
2022-11-30 10:12:08.000000 I | etcdserver/api/etcdhttp: /health OK (status code 200)
"""

# zap JSON (--logger=zap), as etcd 3.4.23 writes it (lines taken from a local cluster with a frozen peer).
ZAP_FROZEN_PEER = [
    '{"level":"info","ts":"2026-11-24T22:13:33.001Z","caller":"raft/node.go:333","msg":"raft.node: c6935e2b62aeacdd lost leader 18ad0e1b4d2eae4c at term 3"}',
    '{"level":"info","ts":"2026-11-24T22:13:33.002Z","caller":"raft/node.go:327","msg":"raft.node: c6935e2b62aeacdd elected leader 93a0668b6c7c7b75 at term 3"}',
    '{"level":"warn","ts":"2026-11-24T22:13:36.971Z","caller":"rafthttp/stream.go:436","msg":"lost TCP streaming connection with remote peer","stream-reader-type":"stream Message","local-member-id":"c6935e2b62aeacdd","remote-peer-id":"18ad0e1b4d2eae4c","error":"read tcp 127.0.0.1:56404->127.0.0.1:50343: i/o timeout"}',
    '{"level":"warn","ts":"2026-11-24T22:13:36.971Z","caller":"rafthttp/peer_status.go:68","msg":"peer became inactive (message send to peer failed)","peer-id":"18ad0e1b4d2eae4c","error":"failed to read 18ad0e1b4d2eae4c on stream Message (read tcp 127.0.0.1:56404->127.0.0.1:50343: i/o timeout)"}',
    '{"level":"info","ts":"2026-11-24T22:13:40.034Z","caller":"raft/node.go:329","msg":"raft.node: 18ad0e1b4d2eae4c changed leader from 18ad0e1b4d2eae4c to 93a0668b6c7c7b75 at term 3"}',
    '{"level":"warn","ts":"2026-11-24T22:13:41.000Z","caller":"rafthttp/probing_status.go:70","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"18ad0e1b4d2eae4c","rtt":"0s","error":"dial tcp 127.0.0.1:50343: i/o timeout"}',
    '{"level":"info","ts":"2026-11-24T22:13:42.000Z","caller":"etcdserver/server.go:2069","msg":"published local member to cluster through raft"}',
]

QUIET_LOG = [
    "2022-11-30 09:00:00.000000 I | etcdserver: saved snapshot at index 1200000",
    "2022-11-30 09:00:00.000001 I | mvcc: finished scheduled compaction at 1000 (took 1.2ms)",
    '{"level":"info","ts":"2026-11-24T22:13:42.000Z","caller":"etcdserver/server.go:2069","msg":"published local member to cluster through raft"}',
]


class TestClassifySymptoms:
    def test_capnslog_incident(self):
        result = classify_symptoms(CAPNSLOG_INCIDENT, window_hours=0.5)
        assert result["peer_io_timeouts"] == 3
        assert result["tls_handshake_timeouts"] == 1
        assert result["leader_elections"] == 2     # "elected leader" and the request failing with "leader changed"
        assert result["leader_lost"] == 1
        assert result["leader_changes"] == 2 and result["leader_changes_per_hour"] == 4.0
        assert result["symptomatic"] is True
        assert result["reasons"] == ["4.0 leader changes per hour (threshold 2.0)"]
        assert result["lines_scanned"] == 12
        assert len(result["evidence"]) == 5 and "health check for peer" in result["evidence"][0]

    def test_zap_frozen_peer(self):
        result = classify_symptoms(ZAP_FROZEN_PEER)
        assert (result["peer_io_timeouts"], result["leader_elections"], result["leader_lost"]) == (3, 2, 1)
        assert result["tls_handshake_timeouts"] == 0
        assert result["symptomatic"] is True

    def test_one_election_an_hour_is_not_symptomatic(self):
        result = classify_symptoms(QUIET_LOG + [ZAP_FROZEN_PEER[1]])
        assert result["leader_changes_per_hour"] == 1.0 and result["symptomatic"] is False
        assert result["reasons"] == [] and result["evidence"] == [ZAP_FROZEN_PEER[1]]

    def test_quiet_log(self):
        result = classify_symptoms(QUIET_LOG)
        assert result["symptomatic"] is False
        assert result["peer_io_timeouts"] == result["leader_elections"] == 0

    def test_many_peer_timeouts_alone_are_symptomatic(self):
        lines = [ZAP_FROZEN_PEER[5]] * 10
        result = classify_symptoms(lines, window_hours=1)
        assert result["leader_changes"] == 0
        assert result["reasons"] == ["10.0 peer i/o timeouts per hour (threshold 10.0)"]

    def test_client_side_timeouts_are_not_peer_timeouts(self):
        line = "W | etcdserver: failed to send out heartbeat on time (exceeded the 100ms timeout for 40ms)"
        apiserver = "E | grpc: dial tcp 10.0.0.11:2379: i/o timeout"
        assert classify_symptoms([line, apiserver])["peer_io_timeouts"] == 0

    def test_given_leader_change_count_wins(self):
        result = classify_symptoms(QUIET_LOG, leader_changes=6, window_hours=2.0)
        assert result["leader_changes"] == 6 and result["leader_changes_per_hour"] == 3.0
        assert result["symptomatic"] is True

    @pytest.mark.parametrize("kwargs, message", [
        ({"log_lines": 5}, "log_lines"),
        ({"log_lines": [], "window_hours": 0}, "window_hours"),
        ({"log_lines": [], "leader_changes": -1}, "leader_changes"),
    ])
    def test_bad_input(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            classify_symptoms(**kwargs)


# --------------------------------------------------------------------------
# Orchestration against a fake backend
# --------------------------------------------------------------------------
class FakeCluster:
    """Members by URL; each either answers, raises, or hangs."""

    def __init__(self, names, leader, hang=(), refuse=(), tls=()):
        self.ids = {name: member_id(index) for index, name in enumerate(names)}
        self.urls = {name: "https://%s:2379" % name for name in names}
        self.leader = leader
        self.hang, self.refuse, self.tls = set(hang), set(refuse), set(tls)
        self.moves = []

    def open_client(self, endpoint):
        if endpoint == "config-error":
            raise EtcdConfigError("cert_file: /nope does not exist or is not a file")
        return FakeClient(self, endpoint)


class FakeClient:
    def __init__(self, cluster, endpoint):
        self.cluster = cluster
        self.name = next((n for n, url in cluster.urls.items() if url == endpoint), None)

    def _answer(self):
        cluster = self.cluster
        if self.name is None or self.name in cluster.refuse:
            raise etcd_cluster.EtcdConnectionError("connection refused")
        if self.name in cluster.tls:
            raise EtcdTLSError("TLS: certificate verify failed; check ca_file")
        if self.name in cluster.hang:
            time.sleep(5)

    def member_list(self):
        self._answer()
        return {"responder_id": self.cluster.ids[self.name],
                "members": [{"id": self.cluster.ids[n], "name": n, "peer_urls": [], "client_urls": [url]}
                            for n, url in self.cluster.urls.items()]}

    def status(self):
        self._answer()
        return {"responder_id": self.cluster.ids[self.name], "version": "3.4.23", "db_size": 1,
                "leader_id": self.cluster.ids[self.cluster.leader], "raft_index": 10, "raft_term": 2,
                "applied_index": 10, "errors": []}

    def alarms(self):
        self._answer()
        return []

    def move_leader(self, target_id, timeout=None):
        assert self.name == self.cluster.leader, "MoveLeader must go to the leader"
        self.cluster.moves.append(target_id)
        self.cluster.leader = next(n for n, i in self.cluster.ids.items() if i == target_id)

    def close(self):
        pass


class TestCollectHealth:
    def test_healthy(self):
        fake = FakeCluster(["etcd1", "etcd2", "etcd3"], "etcd2")
        health = collect_health(fake.open_client, ["https://etcd1:2379"])
        assert health["cluster"]["healthy"] is True and health["cluster"]["leader_name"] == "etcd2"

    def test_a_hanging_member_costs_one_timeout(self):
        fake = FakeCluster(["etcd1", "etcd2", "etcd3"], "etcd2", hang=["etcd3"])
        started = time.monotonic()
        health = collect_health(fake.open_client, list(fake.urls.values()), timeout=0.3)
        assert time.monotonic() - started < 1.0
        assert [m["healthy"] for m in health["members"]] == [True, True, False]
        assert "no answer within 0.3 s" in health["members"][2]["errors"][0]

    def test_unreachable_unknown_endpoints_count(self):
        fake = FakeCluster(["etcd1", "etcd2", "etcd3"], "etcd2")
        health = collect_health(fake.open_client, ["https://etcd1:2379", "https://typo:2379"])
        assert health["cluster"]["member_count"] == 4
        assert "not a client URL of any member" in health["members"][-1]["errors"][0]

    def test_nothing_answers(self):
        fake = FakeCluster(["etcd1"], "etcd1", refuse=["etcd1"])
        health = collect_health(fake.open_client, ["https://etcd1:2379"])
        assert health["cluster"]["member_count"] == 1 and health["cluster"]["healthy"] is False

    def test_tls_everywhere_is_raised_not_reported(self):
        fake = FakeCluster(["etcd1", "etcd2"], "etcd1", tls=["etcd1", "etcd2"])
        with pytest.raises(EtcdTLSError, match="ca_file"):
            collect_health(fake.open_client, list(fake.urls.values()))

    def test_config_errors_are_raised(self):
        with pytest.raises(EtcdConfigError, match="cert_file"):
            collect_health(FakeCluster([], None).open_client, ["config-error"])

    def test_no_endpoints(self):
        with pytest.raises(EtcdConfigError, match="endpoints is empty"):
            collect_health(FakeCluster([], None).open_client, [])


class TestTransferLeadership:
    def cluster(self, leader="etcd1"):
        return FakeCluster(["etcd1", "etcd2", "etcd3"], leader)

    def test_target_moves_and_is_confirmed(self):
        fake = self.cluster()
        result = transfer_leadership(fake.open_client, ["https://etcd2:2379"], target="etcd3")
        assert (result["changed"], result["previous_leader"], result["leader"]) == (True, "etcd1", "etcd3")
        assert fake.moves == [fake.ids["etcd3"]]

    def test_target_already_leading_is_unchanged(self):
        fake = self.cluster()
        result = transfer_leadership(fake.open_client, ["https://etcd2:2379"], target="etcd1")
        assert (result["changed"], result["leader"]) == (False, "etcd1") and fake.moves == []

    def test_away_from_a_follower_is_unchanged(self):
        fake = self.cluster()
        result = transfer_leadership(fake.open_client, ["https://etcd2:2379"], away_from="etcd3")
        assert result["changed"] is False and fake.moves == []

    def test_away_from_the_leader_picks_a_follower(self):
        fake = self.cluster()
        result = transfer_leadership(fake.open_client, ["https://etcd2:2379"], away_from="etcd1")
        assert result["changed"] is True and result["leader"] == "etcd2"

    def test_check_mode_moves_nothing(self):
        fake = self.cluster()
        result = transfer_leadership(fake.open_client, ["https://etcd2:2379"], target="etcd2", check_mode=True)
        assert result["changed"] is True and result["leader"] == "etcd2" and fake.moves == []
        assert result["msg"] == "would move leadership from etcd1 to etcd2"

    def test_unknown_target(self):
        with pytest.raises(ValueError, match="known members: etcd1, etcd2, etcd3"):
            transfer_leadership(self.cluster().open_client, ["https://etcd1:2379"], target="etcd7")

    def test_refuses_an_unhealthy_target(self):
        fake = self.cluster()
        fake.refuse.add("etcd3")
        with pytest.raises(EtcdError, match="etcd3 cannot take over leadership"):
            transfer_leadership(fake.open_client, ["https://etcd1:2379"], target="etcd3")

    def test_exactly_one_of_target_and_away_from(self):
        for kwargs in ({}, {"target": "etcd1", "away_from": "etcd2"}):
            with pytest.raises(ValueError, match="exactly one"):
                transfer_leadership(self.cluster().open_client, ["https://etcd1:2379"], **kwargs)

    def test_unconfirmed_transfer_fails_with_what_was_seen(self, monkeypatch):
        fake = self.cluster()
        monkeypatch.setattr(FakeClient, "move_leader", lambda self, target_id, timeout=None: None)
        monkeypatch.setattr(etcd_cluster, "LEADER_POLL_INTERVAL", 0.05)
        with pytest.raises(EtcdError, match=r"did not move from etcd1 to etcd2 within 0.3 s"):
            transfer_leadership(fake.open_client, ["https://etcd1:2379"], target="etcd2", confirm_timeout=0.3)


def test_every_pair_of_states_gives_a_consistent_verdict():
    """cluster.healthy implies quorum and in_sync; quorum implies leaders_agree."""
    for states in itertools.product(["leader", "follower", "down", {"raft_index": 9000}], repeat=3):
        spec = dict(zip(["etcd1", "etcd2", "etcd3"], states))
        if sum(1 for s in states if s == "leader") > 1:
            continue
        cluster = make_health(spec)["cluster"]
        assert not cluster["healthy"] or (cluster["quorum"] and cluster["in_sync"])
        assert not cluster["quorum"] or cluster["leaders_agree"]
