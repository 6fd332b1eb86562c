"""The decisions: may a member be disrupted now, in which order, who takes over leadership."""
import random

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_decisions import (
    choose_successor,
    disruption_check,
    health_remediation_order,
    member_roles,
    remediation_order,
)
from test_etcd_health_result import make_health, member_id


# --------------------------------------------------------------------------
# Disruption safety
# --------------------------------------------------------------------------
class TestDisruptionCheck:
    def test_one_member_cluster_is_never_safe(self):
        verdict = disruption_check(make_health({"etcd1": "leader"}), "etcd1")
        assert verdict["safe"] is False
        assert verdict["reasons"] == ["without etcd1, 0 of 1 members would be healthy; quorum needs 1"]

    def test_an_allowed_sole_member_may_go_when_it_is_healthy(self):
        # etcd_kernel_force_cluster_size: the operator accepts the outage, not a broken cluster.
        assert disruption_check(make_health({"etcd1": "leader"}), "etcd1", allow_sole_member=True) == \
            {"safe": True, "reasons": []}
        verdict = disruption_check(make_health({"etcd1": "down"}), "etcd1", allow_sole_member=True)
        assert verdict["safe"] is False
        assert verdict["reasons"][0].startswith("etcd1, the cluster's only member, is unhealthy")

    def test_allowing_a_sole_member_changes_nothing_for_three(self):
        health = make_health({"etcd1": "leader", "etcd2": "down", "etcd3": "follower"})
        assert disruption_check(health, "etcd1", allow_sole_member=True) == disruption_check(health, "etcd1")

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
    """The one ordering decision, from roles and raft indexes."""
    HOSTS = ["master1", "master2", "master3", "master4", "master5"]

    def test_by_role_then_input_order(self):
        roles = {"master1": "leader", "master2": "follower", "master3": "symptomatic", "master4": "unhealthy",
                 "master5": "follower"}
        assert remediation_order(self.HOSTS, roles) == ["master4", "master3", "master2", "master5", "master1"]

    def test_a_lagging_member_goes_first_in_its_role(self):
        roles = {"master1": "follower", "master2": "follower", "master3": "leader"}
        indexes = {"master1": 5000, "master2": 1200, "master3": 5001}
        assert remediation_order(["master1", "master2", "master3"], roles, indexes) == [
            "master2", "master1", "master3"]
        # Within the gap nobody lags: the inventory order stands.
        assert remediation_order(["master1", "master2", "master3"], roles, indexes, max_index_gap=4000) == [
            "master1", "master2", "master3"]

    def test_lagging_never_jumps_a_role(self):
        roles = {"master1": "unhealthy", "master2": "follower", "master3": "leader"}
        indexes = {"master1": None, "master2": 10, "master3": 90000}
        assert remediation_order(["master3", "master2", "master1"], roles, indexes) == [
            "master1", "master2", "master3"]

    @pytest.mark.parametrize("roles, message", [
        ({"master1": "follower"}, "host 'master2' has role None"),
        ({"master1": "follower", "master2": "unknown"}, "host 'master2' has role 'unknown'; expected one of "
                                                        "unhealthy, symptomatic, follower, leader"),
        (["follower"], "roles must map each host"),
    ])
    def test_every_host_needs_a_known_role(self, roles, message):
        with pytest.raises(ValueError, match=message):
            remediation_order(["master1", "master2"], roles)

    def test_member_roles_reads_health_and_suspects(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "down"})
        assert member_roles(["master1", "master2", "master3"], health, HOSTS, ["etcd2", "etcd3"]) == {
            "master1": "leader", "master2": "symptomatic", "master3": "unhealthy"}
        # A symptomatic leader is worked on before the followers; it hands over leadership first.
        assert member_roles(["master1"], health, HOSTS, ["etcd1"]) == {"master1": "symptomatic"}


class TestHealthRemediationOrder:
    def test_leader_last(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        assert health_remediation_order(["master1", "master2", "master3"], health, HOSTS) == [
            "master2", "master3", "master1"]

    def test_unhealthy_first_then_followers_then_leader(self):
        health = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "down"})
        assert health_remediation_order(["master1", "master2", "master3"], health, HOSTS) == [
            "master3", "master1", "master2"]

    def test_input_order_is_kept_within_groups(self):
        health = make_health({"etcd1": "follower", "etcd2": "leader", "etcd3": "follower"})
        assert health_remediation_order(["master3", "master2", "master1"], health, HOSTS) == [
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
            order = health_remediation_order(hosts, health, member_names)
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
            health_remediation_order(["master1"], health, {"master1": "etcd4"})

    def test_host_without_member_name_is_an_error(self):
        health = make_health({"etcd1": "leader"})
        with pytest.raises(ValueError, match="host 'master2' has no etcd member name"):
            health_remediation_order(["master2"], health, {"master1": "etcd1"})

    def test_hosts_must_be_a_list(self):
        with pytest.raises(ValueError, match="hosts must be a list"):
            health_remediation_order("master1", make_health({"etcd1": "leader"}), {"master1": "etcd1"})

    def test_symptomatic_members_come_after_unhealthy_ones_and_before_followers(self):
        health = make_health({"etcd1": "leader", "etcd2": "follower", "etcd3": "down"})
        assert health_remediation_order(["master1", "master2", "master3"], health, HOSTS, ["etcd2"]) == [
            "master3", "master2", "master1"]

    def test_a_follower_far_behind_goes_before_the_other_followers(self):
        health = make_health({"etcd1": "leader", "etcd2": {"raft_index": 5000}, "etcd3": {"raft_index": 100},
                              "etcd4": {"raft_index": 5000}}, max_index_gap=10000)
        hosts = {"master%d" % i: "etcd%d" % i for i in range(1, 5)}
        assert health_remediation_order(sorted(hosts), health, hosts) == ["master3", "master2", "master4", "master1"]


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
