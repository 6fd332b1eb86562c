"""collect_health, collect_metrics and transfer_leadership against a fake backend.

tests/unit/plugins/modules/test_etcd_modules_local.py runs them against real etcd.
"""
import time

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils import etcd_client_ops
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import (
    collect_health,
    collect_metrics,
    transfer_leadership,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import (
    EtcdConfigError,
    EtcdConnectionError,
    EtcdError,
    EtcdTLSError,
)
from test_etcd_health_result import member_id


class FakeCluster:
    """Members by URL; each either answers, raises, or hangs."""

    def __init__(self, names, leader, hang=(), refuse=(), tls=()):
        self.ids = {name: member_id(index) for index, name in enumerate(names)}
        self.urls = {name: "https://%s:2379" % name for name in names}
        self.leader = leader
        self.hang, self.refuse, self.tls = set(hang), set(refuse), set(tls)
        self.no_metrics = set()
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
            raise EtcdConnectionError("connection refused")
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

    def metrics(self):
        self._answer()
        if self.name in self.cluster.no_metrics:
            raise EtcdError("%s (metrics) failed: HTTP 404" % self.name)
        return {"leader_changes_seen_total": 1, "has_leader": True, "process_start_time_seconds": 1669716000.0,
                "peer_round_trip_time_seconds": {}}

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


class TestCollectMetrics:
    def test_each_member_gets_its_metrics_or_the_reason(self):
        fake = FakeCluster(["etcd1", "etcd2", "etcd3"], "etcd1", refuse=["etcd3"])
        fake.no_metrics.add("etcd2")
        health = collect_health(fake.open_client, ["https://etcd1:2379"])
        assert collect_metrics(fake.open_client, health) is health
        etcd1, etcd2, etcd3 = health["members"]
        assert etcd1["metrics"]["has_leader"] is True and "metrics_error" not in etcd1
        assert etcd2["metrics_error"] == "etcd2 (metrics) failed: HTTP 404" and "metrics" not in etcd2
        assert etcd3["metrics_error"] == "connection refused" and "metrics" not in etcd3
        # The health verdict is untouched: metrics only add evidence.
        assert health["cluster"]["healthy_count"] == 2

    def test_a_hanging_member_costs_one_timeout(self):
        fake = FakeCluster(["etcd1", "etcd2"], "etcd1")
        health = collect_health(fake.open_client, ["https://etcd1:2379"])
        fake.hang.add("etcd2")
        started = time.monotonic()
        collect_metrics(fake.open_client, health, timeout=0.3)
        assert time.monotonic() - started < 1.0
        assert "no answer within 0.3 s" in health["members"][1]["metrics_error"]

    def test_a_backend_that_cannot_read_metrics_fails_no_one(self):
        fake = FakeCluster(["etcd1"], "etcd1")
        health = collect_health(fake.open_client, ["https://etcd1:2379"])

        def broken(endpoint):
            raise EtcdConfigError("metrics need cert_file")

        collect_metrics(broken, health)
        assert health["members"][0]["metrics_error"] == "metrics need cert_file"

    def test_unmatched_endpoints_are_not_asked(self):
        fake = FakeCluster(["etcd1"], "etcd1")
        health = collect_health(fake.open_client, ["https://etcd1:2379", "https://typo:2379"])
        collect_metrics(fake.open_client, health)
        assert [sorted(set(m) & {"metrics", "metrics_error"}) for m in health["members"]] == [["metrics"], []]


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

    def test_away_from_the_only_member_is_unchanged(self):
        fake = FakeCluster(["etcd1"], "etcd1")
        result = transfer_leadership(fake.open_client, ["https://etcd1:2379"], away_from="etcd1")
        assert result["changed"] is False and fake.moves == []
        assert result["msg"] == "etcd1 is the only member: there is no one to hand leadership to"

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
        monkeypatch.setattr(etcd_client_ops, "LEADER_POLL_INTERVAL", 0.05)
        with pytest.raises(EtcdError, match=r"did not move from etcd1 to etcd2 within 0.3 s"):
            transfer_leadership(fake.open_client, ["https://etcd1:2379"], target="etcd2", confirm_timeout=0.3)


def test_the_member_answering_on_the_local_url_is_named_by_its_id():
    cluster = FakeCluster(["etcd1", "etcd2", "etcd3"], leader="etcd1")
    # The fake's "local" URL of a host is its member's own URL.
    health = collect_health(cluster.open_client, list(cluster.urls.values()), timeout=0.5,
                            local_endpoint=cluster.urls["etcd2"])
    assert health["local"] == {"endpoint": cluster.urls["etcd2"], "id": cluster.ids["etcd2"], "name": "etcd2",
                               "version": "3.4.23", "error": ""}


def test_a_frozen_local_member_costs_one_timeout_and_says_so():
    cluster = FakeCluster(["etcd1", "etcd2", "etcd3"], leader="etcd1", hang=["etcd2"])
    started = time.monotonic()
    health = collect_health(cluster.open_client, list(cluster.urls.values()), timeout=0.3,
                            local_endpoint=cluster.urls["etcd2"])
    assert time.monotonic() - started < 1.5
    local = health["local"]
    assert local["name"] is None and local["id"] is None and "no answer" in local["error"]
    assert "local" not in collect_health(cluster.open_client, [cluster.urls["etcd1"]], timeout=0.3)
