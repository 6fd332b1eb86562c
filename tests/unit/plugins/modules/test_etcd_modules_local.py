"""etcd_health and etcd_leader against a real three-member etcd 3.4 cluster on 127.0.0.1.

The modules' main() runs in-process with exit_json/fail_json patched to raise.
One cluster serves the whole file; after each test `restore()` continues frozen
members, restarts stopped ones and waits until the cluster is healthy again.
"""
import copy
import os
import shutil
import threading
import time

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdTLSError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_gateway import EtcdGatewayClient
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_pyclient import EtcdGrpcClient
from ansible_collections.sre.etcd_kernel.plugins.modules import etcd_health, etcd_leader

import local_etcd
import module_harness
from lab import certs

pytestmark = [
    pytest.mark.skipif(shutil.which("etcd") is None and not os.path.exists(local_etcd.ETCD_BINARY),
                       reason="needs the etcd 3.4 binary (Debian's etcd-server)"),
    pytest.mark.usefixtures("restored"),
]

BACKENDS = ["gateway", "etcd3"]
# A stopped or frozen member is reported after one request timeout (1 s by default: the
# error says so), the members being asked side by side. The wall-clock bound only catches a
# hang (a serial wait, a retry loop): it is loose, so that a busy machine does not fail it;
# how fast a check is comes from make bench-health.
HANG_BOUND_S = 15.0
VOLATILE_MEMBER_FIELDS = ("raft_index", "applied_index", "db_size")


def run_module(module, args, check_mode=False):
    """(failed, result) of module.main() with args, through the shared harness."""
    outcome, result = module_harness.run_module(module.main, args, check_mode=check_mode)
    return outcome == "fail", result


def health(cluster, **extra):
    failed, result = run_module(etcd_health, cluster.connection_args(**extra))
    assert not failed, result["msg"]
    return result


def member_entry(result, name):
    return next(member for member in result["members"] if member["name"] == name)


def a_follower(cluster):
    leader = cluster.leader_name()
    return next(member for member in cluster.members if member.name != leader)


# --------------------------------------------------------------------------
# Fixtures
# --------------------------------------------------------------------------
@pytest.fixture(scope="module")
def foreign_pki(tmp_path_factory):
    """A CA and client certificate etcd has never heard of."""
    base = tmp_path_factory.mktemp("foreign")
    return certs.make_client_cert(str(base / "ca"), str(base / "client"))


# --------------------------------------------------------------------------
# etcd_health
# --------------------------------------------------------------------------
def test_healthy_cluster(cluster):
    result = health(cluster)
    assert result["changed"] is False
    assert [m["name"] for m in result["members"]] == ["etcd1", "etcd2", "etcd3"]
    assert [m["endpoint"] for m in result["members"]] == cluster.endpoints
    for member in result["members"]:
        assert member["healthy"] is True and member["errors"] == [] and member["alarms"] == []
        assert len(member["id"]) == 16 and int(member["id"], 16) == int(cluster.member_id(member["name"]))
        assert member["version"] == "3.4.23"
        assert member["raft_index"] > 0 and member["applied_index"] > 0 and member["db_size"] > 0
    leader = cluster.leader_name()
    assert [m["name"] for m in result["members"] if m["is_leader"]] == [leader]
    assert result["cluster"]["leader_name"] == leader
    assert {m["leader_id"] for m in result["members"]} == {result["cluster"]["leader_id"]}
    assert result["cluster"]["healthy"] is True and result["cluster"]["member_count"] == 3


def test_both_backends_give_the_same_result(cluster):
    def stable(result):
        result = copy.deepcopy(result)
        for member in result["members"]:
            for field in VOLATILE_MEMBER_FIELDS:
                assert isinstance(member[field], int)
                member[field] = "volatile"
        result["cluster"]["max_index_gap"] = "volatile"
        return result

    gateway = health(cluster, backend="gateway")
    grpc = health(cluster, backend="etcd3")
    assert stable(gateway) == stable(grpc)


def test_both_backends_agree_with_an_alarm_and_a_stopped_member(cluster):
    stopped = a_follower(cluster)
    others = [m.name for m in cluster.members if m is not stopped]
    cluster.alarm("ACTIVATE", others[0])
    try:
        stopped.stop()
        gateway = health(cluster, backend="gateway")
        grpc = health(cluster, backend="etcd3")
    finally:
        cluster.alarm("DEACTIVATE", others[0])
    for result in (gateway, grpc):
        for member in result["members"]:
            for field in VOLATILE_MEMBER_FIELDS:
                member[field] = None
        result["cluster"]["max_index_gap"] = None
    assert gateway == grpc


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_frozen_member_is_unhealthy_after_one_request_timeout(cluster, backend):
    frozen = a_follower(cluster)
    frozen.freeze()
    try:
        started = time.monotonic()
        result = health(cluster, backend=backend)
        elapsed = time.monotonic() - started
    finally:
        frozen.thaw()
    assert elapsed < HANG_BOUND_S
    entry = member_entry(result, frozen.name)
    assert entry["healthy"] is False
    assert "within 1.0 s (timeout)" in entry["errors"][0] and frozen.client_url in entry["errors"][0]
    assert entry["raft_index"] is None
    assert result["cluster"]["healthy_count"] == 2 and result["cluster"]["quorum"] is True
    assert result["cluster"]["healthy"] is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_stopped_member_is_unhealthy_and_refuses_connections(cluster, backend):
    stopped = a_follower(cluster)
    stopped.stop()
    started = time.monotonic()
    result = health(cluster, backend=backend)
    assert time.monotonic() - started < HANG_BOUND_S
    entry = member_entry(result, stopped.name)
    assert entry["healthy"] is False
    assert entry["errors"][0].startswith("connection refused by %s" % stopped.client_url)
    assert result["cluster"]["quorum"] is True and result["cluster"]["healthy"] is False


@pytest.mark.parametrize("backend", BACKENDS)
def test_nospace_alarm_is_reported_and_makes_the_cluster_unhealthy(cluster, backend):
    cluster.alarm("ACTIVATE", "etcd2")
    try:
        result = health(cluster, backend=backend)
        failed, failure = run_module(etcd_health, cluster.connection_args(backend=backend, fail_on="healthy"))
    finally:
        cluster.alarm("DEACTIVATE", "etcd2")
    assert member_entry(result, "etcd2")["alarms"] == ["NOSPACE"]
    assert member_entry(result, "etcd1")["alarms"] == []
    assert result["cluster"]["alarms"] == [{"member": "etcd2", "alarm": "NOSPACE"}]
    # The alarm is a cluster problem, not a member failure: quorum still holds.
    assert all(m["healthy"] for m in result["members"]) and result["cluster"]["quorum"] is True
    assert result["cluster"]["healthy"] is False
    assert failed and "alarm NOSPACE on etcd2" in failure["msg"]
    assert health(cluster, backend=backend)["cluster"]["healthy"] is True


@pytest.mark.parametrize("backend", BACKENDS)
def test_fail_on_quorum_and_healthy(cluster, backend):
    stopped = a_follower(cluster)
    stopped.stop()
    failed, result = run_module(etcd_health, cluster.connection_args(backend=backend, fail_on="quorum"))
    assert not failed, result["msg"]
    failed, result = run_module(etcd_health, cluster.connection_args(backend=backend, fail_on="healthy"))
    assert failed
    assert result["msg"].startswith("etcd cluster is not healthy (fail_on=healthy): %s: connection refused"
                                    % stopped.name)
    assert result["cluster"]["healthy_count"] == 2 and len(result["members"]) == 3

    second = next(m for m in cluster.members if m is not stopped and m.name != cluster.leader_name())
    second.stop()
    failed, result = run_module(etcd_health, cluster.connection_args(backend=backend, fail_on="quorum"))
    assert failed
    assert result["msg"].startswith("etcd cluster is without quorum (fail_on=quorum): ")
    assert "no quorum: 1 of 3 members healthy" in result["msg"]
    assert result["cluster"]["quorum"] is False


# --------------------------------------------------------------------------
# Waiting inside the module (the rollout's gates)
# --------------------------------------------------------------------------
def test_wait_for_member_healthy_returns_soon_after_the_member_is_back(cluster):
    stopped = a_follower(cluster)
    stopped.stop()
    restarter = threading.Timer(1.0, stopped.start, args=(cluster.initial_cluster,))
    restarter.start()
    try:
        failed, result = run_module(etcd_health, cluster.connection_args(
            wait_for="member_healthy", member=stopped.name, wait_timeout=30))
    finally:
        restarter.join()
    assert not failed, result["msg"]
    assert result["ready"] is True and result["reasons"] == []
    assert 1.0 <= result["waited_s"] < 30
    assert member_entry(result, stopped.name)["healthy"] is True


def test_wait_for_disruptable_gives_up_with_the_reasons(cluster):
    stopped = a_follower(cluster)
    stopped.stop()
    other = next(m for m in cluster.members if m is not stopped)
    failed, result = run_module(etcd_health, cluster.connection_args(
        wait_for="disruptable", member=other.name, wait_timeout=1))
    assert failed and result["ready"] is False
    assert result["msg"].startswith("%s may not be disrupted after waiting " % other.name)
    assert "s (wait_timeout 1s): %s is unhealthy: connection refused" % stopped.name in result["msg"]
    # The stopped member itself may go: it is out already and the others keep quorum.
    failed, result = run_module(etcd_health, cluster.connection_args(
        wait_for="disruptable", member=stopped.name, wait_timeout=1))
    assert not failed and result["ready"] is True and result["waited_s"] < 0.5  # one look, no wait


def test_wait_needs_a_known_member(cluster):
    failed, result = run_module(etcd_health, cluster.connection_args(wait_for="member_healthy"))
    assert failed and result["msg"] == "wait_for is member_healthy but all of the following are missing: member"
    failed, result = run_module(etcd_health, cluster.connection_args(wait_for="disruptable", member="etcd9"))
    assert failed and result["msg"].startswith("unknown etcd member 'etcd9'; known members: etcd1, etcd2, etcd3")


# --------------------------------------------------------------------------
# TLS and option errors: clear messages, never a traceback
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_wrong_ca_says_check_ca_file(cluster, foreign_pki, backend):
    failed, result = run_module(etcd_health, cluster.connection_args(backend=backend, ca_file=foreign_pki["ca"]))
    assert failed
    assert "certificate verify failed" in result["msg"]
    assert "check ca_file %s" % foreign_pki["ca"] in result["msg"]
    assert "Traceback" not in result["msg"] and "members" not in result


@pytest.mark.parametrize("backend", BACKENDS)
def test_client_certificate_from_another_ca_is_not_accepted(cluster, foreign_pki, backend):
    args = cluster.connection_args(backend=backend, cert_file=foreign_pki["cert"], key_file=foreign_pki["key"])
    failed, result = run_module(etcd_health, args)
    assert failed
    assert "did not accept the client certificate %s" % foreign_pki["cert"] in result["msg"]
    assert "Traceback" not in result["msg"]


@pytest.mark.parametrize("client_class", [EtcdGatewayClient, EtcdGrpcClient])
def test_missing_client_certificate_is_named(cluster, client_class):
    client = client_class(cluster.endpoints[0], cluster.ca_file, None, None, timeout=1.0)
    try:
        with pytest.raises(EtcdTLSError, match="requires a client certificate and none was given"):
            client.status()
    finally:
        client.close()


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("option", ["ca_file", "cert_file", "key_file"])
def test_missing_file_names_the_option(cluster, tmp_path, backend, option):
    missing = str(tmp_path / "no-such.pem")
    failed, result = run_module(etcd_health, cluster.connection_args(backend=backend, **{option: missing}))
    assert failed
    assert result["msg"] == "%s: %s does not exist or is not a file" % (option, missing)


@pytest.mark.parametrize("module, extra", [(etcd_health, {}), (etcd_leader, {"away_from": "etcd1"})])
@pytest.mark.parametrize("timeout, shown", [(0, "0.0"), ("nan", "nan"), ("inf", "inf")])
def test_a_timeout_that_is_not_positive_and_finite_is_refused(cluster, module, extra, timeout, shown):
    failed, result = run_module(module, cluster.connection_args(timeout=timeout, **extra))
    assert failed and result["msg"] == "timeout must be a positive, finite number of seconds, got %s" % shown


@pytest.mark.parametrize("wait_timeout, shown", [(-1, "-1.0"), ("nan", "nan"), ("inf", "inf")])
def test_a_wait_timeout_that_would_never_end_is_refused(cluster, wait_timeout, shown):
    # NaN compares false with everything: unchecked, the wait would loop for ever.
    failed, result = run_module(etcd_health, cluster.connection_args(wait_for="healthy", wait_timeout=wait_timeout))
    assert failed and result["msg"] == "wait_timeout must be a finite number of seconds, 0 or more, got %s" % shown


def test_key_that_does_not_match_the_certificate(cluster, foreign_pki):
    failed, result = run_module(etcd_health, cluster.connection_args(key_file=foreign_pki["key"]))
    assert failed and result["msg"].startswith("key_file: %s is not the key of cert_file" % foreign_pki["key"])


def test_nothing_listening(cluster):
    endpoint = "https://127.0.0.1:%d" % local_etcd.free_port()
    failed, result = run_module(etcd_health, cluster.connection_args(endpoints=[endpoint]))
    assert not failed
    assert result["members"][0]["endpoint"] == endpoint and result["members"][0]["healthy"] is False
    assert "connection refused by %s" % endpoint in result["members"][0]["errors"][0]
    assert result["cluster"]["healthy"] is False and result["cluster"]["member_count"] == 1


# --------------------------------------------------------------------------
# etcd_leader
# --------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_transfer_to_target_then_unchanged(cluster, backend):
    before = cluster.leader_name()
    target = a_follower(cluster).name
    args = cluster.connection_args(backend=backend, target=target)
    failed, result = run_module(etcd_leader, args)
    assert not failed, result["msg"]
    assert (result["changed"], result["previous_leader"], result["leader"]) == (True, before, target)
    assert cluster.leader_name() == target

    failed, again = run_module(etcd_leader, args)
    assert not failed and again["changed"] is False
    assert again["previous_leader"] == again["leader"] == target


@pytest.mark.parametrize("backend", BACKENDS)
def test_away_from_the_leader_moves_and_away_from_a_follower_does_not(cluster, backend):
    leader = cluster.leader_name()
    failed, result = run_module(etcd_leader, cluster.connection_args(backend=backend, away_from=leader))
    assert not failed, result["msg"]
    assert result["changed"] is True and result["previous_leader"] == leader
    assert result["leader"] != leader and cluster.leader_name() == result["leader"]

    failed, again = run_module(etcd_leader, cluster.connection_args(backend=backend, away_from=leader))
    assert not failed and again["changed"] is False and again["leader"] == result["leader"]


def test_check_mode_moves_nothing(cluster):
    before = cluster.leader_name()
    target = a_follower(cluster).name
    failed, result = run_module(etcd_leader, cluster.connection_args(target=target), check_mode=True)
    assert not failed
    assert (result["changed"], result["previous_leader"], result["leader"]) == (True, before, target)
    time.sleep(0.5)
    assert cluster.leader_name() == before


def test_check_mode_health_is_the_same_read(cluster):
    failed, result = run_module(etcd_health, cluster.connection_args(), check_mode=True)
    assert not failed and result["changed"] is False and result["cluster"]["healthy"] is True


@pytest.mark.parametrize("option", ["target", "away_from"])
def test_unknown_member_fails_listing_known_names(cluster, option):
    failed, result = run_module(etcd_leader, cluster.connection_args(**{option: "etcd9"}))
    assert failed
    assert result["msg"] == "unknown etcd member 'etcd9'; known members: etcd1, etcd2, etcd3"


def test_target_and_away_from_are_exclusive(cluster):
    failed, result = run_module(etcd_leader, cluster.connection_args(target="etcd1", away_from="etcd2"))
    assert failed and "mutually exclusive" in result["msg"]
    failed, result = run_module(etcd_leader, cluster.connection_args())
    assert failed and "one of the following is required" in result["msg"]


def test_refuses_to_hand_leadership_to_a_stopped_member(cluster):
    stopped = a_follower(cluster)
    stopped.stop()
    failed, result = run_module(etcd_leader, cluster.connection_args(target=stopped.name))
    assert failed
    assert result["msg"].startswith("%s cannot take over leadership: it is not healthy and in sync" % stopped.name)
