"""etcd_health's metrics option against a real three-member etcd 3.4 cluster on 127.0.0.1,
and the symptoms read from that cluster's own logs and counters."""
import os
import shutil
import time

import pytest

import local_etcd
from module_harness import FakeCommands, run_module

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_symptoms import classify_symptoms
from ansible_collections.sre.etcd_kernel.plugins.modules import etcd_health

pytestmark = [
    pytest.mark.skipif(shutil.which("etcd") is None and not os.path.exists(local_etcd.ETCD_BINARY),
                       reason="needs the etcd 3.4 binary (Debian's etcd-server)"),
    pytest.mark.usefixtures("restored"),
]

BACKENDS = ["gateway", "etcd3"]
METRIC_KEYS = ["has_leader", "leader_changes_seen_total", "peer_round_trip_time_seconds",
               "process_start_time_seconds"]


def health(monkeypatch, cluster, **extra):
    outcome, result = run_module(etcd_health.main, cluster.connection_args(**extra), FakeCommands({}))
    assert outcome == "exit", result.get("msg")
    return result


def entry(result, name):
    return next(member for member in result["members"] if member["name"] == name)


@pytest.mark.parametrize("backend", BACKENDS)
def test_every_member_reports_its_own_counters(monkeypatch, cluster, backend):
    before = time.time()
    result = health(monkeypatch, cluster, backend=backend, metrics=True)
    ids = {member["id"] for member in result["members"]}
    for member in result["members"]:
        metrics = member["metrics"]
        assert sorted(metrics) == METRIC_KEYS and "metrics_error" not in member
        assert metrics["has_leader"] is True and metrics["leader_changes_seen_total"] >= 1
        # The processes started with this test module, a few seconds to a minute ago.
        assert before - 600 < metrics["process_start_time_seconds"] <= before
        assert set(metrics["peer_round_trip_time_seconds"]) <= ids - {member["id"]}
        assert member["peer_urls"] == [cluster.member(member["name"]).peer_url]
    assert result["cluster"]["healthy"] is True


def test_without_the_option_nothing_is_read(monkeypatch, cluster):
    result = health(monkeypatch, cluster)
    assert not any({"metrics", "metrics_error"} & set(member) for member in result["members"])


def test_a_stopped_member_gets_the_reason_and_the_module_does_not_fail(monkeypatch, cluster):
    stopped = next(member for member in cluster.members if member.name != cluster.leader_name())
    stopped.stop()
    result = health(monkeypatch, cluster, metrics=True)
    assert entry(result, stopped.name)["metrics_error"].startswith("connection refused by %s (metrics)"
                                                                   % stopped.client_url)
    assert "metrics" not in entry(result, stopped.name)
    others = [member for member in result["members"] if member["name"] != stopped.name]
    assert all(member["metrics"]["has_leader"] for member in others)


def test_a_restart_explains_the_complaints_it_causes(monkeypatch, cluster):
    # The kit's reboot in small: stop a member, start it again, then read the others' logs.
    restarted = next(member for member in cluster.members if member.name != cluster.leader_name())
    watcher = next(member for member in cluster.members if member is not restarted)
    restarted.stop()
    time.sleep(2)
    restarted.start(cluster.initial_cluster)
    cluster.wait_healthy()
    result = health(monkeypatch, cluster, metrics=True)
    restarted_id = entry(result, restarted.name)["id"]
    with open(watcher.log_path) as handle:
        # The whole cluster started seconds ago: without its start line the watcher's log is
        # judged on its peers' restarts alone.
        log = [line for line in handle.read().splitlines() if "starting an etcd server" not in line]
    blind = classify_symptoms(log, members=[dict(m, metrics=None) for m in result["members"]])
    assert restarted_id in blind["peers_unreachable"]  # the watcher did complain about it
    informed = classify_symptoms(log, members=result["members"])
    assert restarted_id not in informed["peers_unreachable"]
    assert informed["explained_by_restart"] > blind["explained_by_restart"]
    assert informed["symptomatic"] is False, informed["reasons"]
