"""The etcd filters: thin wrappers that turn bad input into AnsibleFilterError naming the filter."""
import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.sre.etcd_kernel.plugins.filter.etcd import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import build_health
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_ids import format_member_id

FILTERS = FilterModule().filters()


def health_of(states):
    """states: {name: "leader" | "follower" | "down"} -> an etcd_health-shaped result."""
    names = sorted(states)
    ids = {name: format_member_id(index + 1) for index, name in enumerate(names)}
    leader = next(name for name, state in states.items() if state == "leader")
    members = [{"id": ids[n], "name": n, "peer_urls": ["https://%s:2380" % n], "client_urls": ["https://%s:2379" % n]}
               for n in names]
    statuses = {}
    for name in names:
        if states[name] == "down":
            statuses[ids[name]] = "no answer from https://%s:2379 (status) within 1.0 s (timeout)" % name
        else:
            statuses[ids[name]] = {"responder_id": ids[name], "version": "3.4.23", "db_size": 1,
                                   "leader_id": ids[leader], "raft_index": 42, "raft_term": 3,
                                   "applied_index": 42, "errors": []}
    result = build_health(members, statuses)
    # A registered module result carries these too; the filters must not mind.
    result.update({"changed": False, "failed": False})
    return result


def test_filter_names():
    assert sorted(FILTERS) == ["etcd_disruption_check", "etcd_problems", "etcd_remediation_order", "etcd_symptoms"]


class TestDisruptionCheckFilter:
    check = staticmethod(FILTERS["etcd_disruption_check"])

    def test_one_member(self):
        assert self.check(health_of({"etcd1": "leader"}), "etcd1")["safe"] is False

    def test_three_members(self):
        healthy = health_of({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        assert self.check(healthy, "etcd1") == {"safe": True, "reasons": []}
        one_down = health_of({"etcd1": "leader", "etcd2": "follower", "etcd3": "down"})
        assert self.check(one_down, "etcd1")["safe"] is False
        assert self.check(one_down, "etcd2")["safe"] is False
        assert self.check(one_down, "etcd3")["safe"] is True

    def test_five_members_need_all_four_others(self):
        states = {"etcd1": "leader", "etcd2": "follower", "etcd3": "follower", "etcd4": "follower",
                  "etcd5": "follower"}
        assert self.check(health_of(states), "etcd4")["safe"] is True
        states["etcd2"] = "down"
        for name in ("etcd1", "etcd3", "etcd4", "etcd5"):
            verdict = self.check(health_of(states), name)
            assert verdict["safe"] is False
            assert verdict["reasons"] == ["etcd2 is unhealthy: no answer from https://etcd2:2379 (status) "
                                          "within 1.0 s (timeout)"]
        assert self.check(health_of(states), "etcd2")["safe"] is True

    def test_threshold_is_passed_through(self):
        healthy = health_of({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        assert self.check(healthy, "etcd1", max_index_gap=0)["safe"] is True

    def test_unknown_member_names_the_filter_and_the_known_members(self):
        with pytest.raises(AnsibleFilterError) as caught:
            self.check(health_of({"etcd1": "leader"}), "etcd7")
        assert str(caught.value).startswith("etcd_disruption_check: unknown etcd member 'etcd7'")
        assert "known members: etcd1" in str(caught.value)
        assert isinstance(caught.value.__cause__, ValueError)

    @pytest.mark.parametrize("health", [None, "text", {"members": []}, {"members": [{}], "cluster": {}}])
    def test_not_a_health_result(self, health):
        with pytest.raises(AnsibleFilterError, match="^etcd_disruption_check: "):
            self.check(health, "etcd1")


class TestRemediationOrderFilter:
    order = staticmethod(FILTERS["etcd_remediation_order"])
    names = {"master1": "etcd1", "master2": "etcd2", "master3": "etcd3"}

    def test_unhealthy_first_leader_last_stable(self):
        health = health_of({"etcd1": "leader", "etcd2": "follower", "etcd3": "down"})
        assert self.order(["master1", "master2", "master3"], health, self.names) == ["master3", "master2", "master1"]
        healthy = health_of({"etcd1": "follower", "etcd2": "leader", "etcd3": "follower"})
        assert self.order(["master3", "master1", "master2"], healthy, self.names) == ["master3", "master1", "master2"]
        assert self.order(["master1", "master3", "master2"], healthy, self.names) == ["master1", "master3", "master2"]

    def test_unknown_member_name(self):
        health = health_of({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        with pytest.raises(AnsibleFilterError, match="^etcd_remediation_order: unknown etcd member 'etcd9'"):
            self.order(["master1"], health, {"master1": "etcd9"})

    def test_bad_types(self):
        health = health_of({"etcd1": "leader"})
        with pytest.raises(AnsibleFilterError, match="^etcd_remediation_order: member_names must map"):
            self.order(["master1"], health, ["etcd1"])


class TestSymptomsFilter:
    symptoms = staticmethod(FILTERS["etcd_symptoms"])

    def test_counts_lines(self):
        log = [
            "2022-11-30 10:12:01.123456 W | rafthttp: health check for peer 8e9e05c52164694d could not connect: "
            "dial tcp 10.0.0.12:2380: i/o timeout (prober \"ROUND_TRIPPER_RAFT_MESSAGE\")",
            "2022-11-30 10:12:04.700000 I | raft: raft.node: 91bc3c398fb3c146 elected leader 91bc3c398fb3c146 at term 8",
            "2022-11-30 10:40:04.700000 I | raft: raft.node: 91bc3c398fb3c146 elected leader 8e9e05c52164694d at term 9",
        ]
        result = self.symptoms(log)
        assert (result["peer_io_timeouts"], result["leader_elections"], result["symptomatic"]) == (1, 2, True)

    def test_a_string_is_split_into_lines(self):
        assert self.symptoms("a\nb\nc")["lines_scanned"] == 3

    def test_bad_window(self):
        with pytest.raises(AnsibleFilterError, match="^etcd_symptoms: window_hours must be a positive number"):
            self.symptoms([], window_hours=0)

    def test_members_put_a_rejected_connection_on_its_peer(self):
        health = health_of({"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"})
        line = ('{"level":"warn","ts":"2022-11-30T10:00:00.000Z","caller":"embed/config_logging.go:287","msg":'
                '"rejected connection","remote-addr":"etcd3:45678","server-name":"","error":"read tcp '
                '10.0.0.11:2380->10.0.0.13:45678: i/o timeout"}')
        result = self.symptoms([line], members=health["members"])
        assert result["peers_rejected"] == {format_member_id(3): 1}
        assert result["peers_unreachable"] == {format_member_id(3): 1}

    def test_peer_restarts_and_metrics_are_passed_through(self):
        health = health_of({"etcd1": "leader", "etcd2": "follower"})
        line = ("2022-11-30 10:00:30.000000 W | rafthttp: health check for peer %s could not connect: "
                "dial tcp 10.0.0.12:2380: i/o timeout" % format_member_id(2))
        restarted = 1669802400  # 2022-11-30 10:00:00 UTC
        result = self.symptoms([line], members=health["members"], peer_restarts={"etcd2": restarted})
        assert result["explained_by_restart"] == 1 and result["peer_io_timeouts"] == 0
        no_leader = {"leader_changes_seen_total": 1, "has_leader": False, "process_start_time_seconds": 0.0,
                     "peer_round_trip_time_seconds": {}}
        assert self.symptoms([], metrics=no_leader)["symptomatic"] is True

    def test_a_peer_name_without_members_names_the_filter(self):
        with pytest.raises(AnsibleFilterError, match="^etcd_symptoms: peer_restarts names 'etcd2'"):
            self.symptoms([], peer_restarts={"etcd2": 1.0})


def test_etcd_problems_names_each_problem_and_is_empty_when_healthy():
    problems = FILTERS["etcd_problems"]
    member = {"name": "etcd1", "id": "01", "endpoint": "https://a:2379", "healthy": True,
              "is_leader": True, "leader_id": "01", "raft_term": 2, "raft_index": 9,
              "applied_index": 9, "db_size": 1, "version": "3.4.23", "errors": [], "alarms": []}
    down = dict(member, name="etcd2", id="02", healthy=False, is_leader=False, leader_id=None,
                raft_index=None, errors=["no answer from https://b:2379 (status) within 1.0 s"])
    healthy = {"members": [member], "cluster": {"healthy_count": 1, "member_count": 1, "leaders_agree": True,
                                                "max_index_gap": 0, "in_sync": True, "quorum": True,
                                                "alarms": []}}
    assert problems(healthy) == []
    broken = {"members": [member, down],
              "cluster": dict(healthy["cluster"], member_count=2, quorum=False,
                              alarms=[{"member": "etcd1", "alarm": "NOSPACE"}])}
    lines = problems(broken)
    assert "etcd2: no answer from https://b:2379 (status) within 1.0 s" in lines
    assert "alarm NOSPACE on etcd1" in lines and any("no quorum" in line for line in lines)
    with pytest.raises(AnsibleFilterError, match="^etcd_problems: "):
        problems({"members": []})
