"""etcd_lock against a real etcd 3.4 cluster on 127.0.0.1: take, refuse, refresh, expire, release,
the mid-run refresh (require_held) that never retakes a lost lock, keys this kit did not write, a lost
reply, and the wait for a leader."""
import base64
import json
import threading
import time

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils import etcd_gateway
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import timeout_error
from ansible_collections.sre.etcd_kernel.plugins.modules import etcd_lock

import module_harness


def run(args, check_mode=False):
    """(failed, result) of etcd_lock.main() with args, through the shared harness."""
    outcome, result = module_harness.run_module(etcd_lock.main, args, check_mode=check_mode)
    return outcome == "fail", result


def b64(text):
    return base64.b64encode(text if isinstance(text, bytes) else text.encode()).decode()


def stored(cluster, key):
    """(value dict, lease id, mod_revision) of key as etcd holds it, or None; read without the module."""
    answer = cluster._post(cluster.members[0], "/v3/kv/range", {"key": b64(key)})
    kvs = answer.get("kvs") or []
    if not kvs:
        return None
    entry = kvs[0]
    return json.loads(base64.b64decode(entry["value"]).decode()), entry["lease"], entry["mod_revision"]


def lease_ttl(cluster, lease_id):
    """Seconds left on a lease; -1 once it is revoked or expired."""
    return int(cluster._post(cluster.members[0], "/v3/lease/timetolive", {"ID": lease_id}).get("TTL", -1))


def revoke(cluster, lease_id):
    """What a lapsed lease does to the lock, without waiting for it: the key goes with the lease."""
    cluster._post(cluster.members[0], "/v3/lease/revoke", {"ID": lease_id})


def delete(cluster, key):
    cluster._post(cluster.members[0], "/v3/kv/deleterange", {"key": b64(key)})


@pytest.fixture
def lock_args(cluster, request):
    key = "/test/lock/%s" % request.node.name
    return cluster.connection_args(key=key, run_id="run-a", holder="alice@laptop", ttl=60)


def test_take_refuse_refresh_release(lock_args):
    failed, taken = run(lock_args)
    assert not failed and taken["changed"] and taken["lock"] == "acquired" and taken["holder"] is None

    failed, refused = run(dict(lock_args, run_id="run-b", holder="awx job 7"))
    assert failed
    assert "held by alice@laptop (run run-a) since" in refused["msg"] and "expires in" in refused["msg"]

    failed, refreshed = run(lock_args)
    assert not failed and refreshed["lock"] == "refreshed" and refreshed["holder"]["run_id"] == "run-a"

    failed, left = run(dict(lock_args, run_id="run-b", state="absent"))
    assert not failed and not left["changed"] and left["lock"] == "held_by_other"

    failed, released = run(dict(lock_args, state="absent"))
    assert not failed and released["changed"] and released["lock"] == "released"

    failed, again = run(dict(lock_args, state="absent"))
    assert not failed and not again["changed"] and again["lock"] == "free"


def test_check_mode_writes_nothing(lock_args):
    failed, would = run(lock_args, check_mode=True)
    assert not failed and would["lock"] == "would_acquire"
    failed, taken = run(dict(lock_args, run_id="run-b"))
    assert not failed and taken["lock"] == "acquired"  # check mode left the key free
    failed, refused = run(lock_args, check_mode=True)
    assert failed and "held by" in refused["msg"]
    run(dict(lock_args, run_id="run-b", state="absent"))


def test_a_dead_runs_lock_expires_with_its_lease(lock_args):
    failed, taken = run(dict(lock_args, ttl=10))
    assert not failed and taken["lock"] == "acquired"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        failed, result = run(dict(lock_args, run_id="run-b"))
        if not failed:
            break
        time.sleep(1)
    assert not failed and result["lock"] == "acquired", result
    run(dict(lock_args, run_id="run-b", state="absent"))


def test_bad_input_and_unreachable_etcd_are_clear_errors(lock_args):
    failed, result = run(dict(lock_args, ttl=2))
    assert failed and "ttl must be at least 10 seconds" in result["msg"]
    for run_id in ("", "  "):
        failed, result = run(dict(lock_args, run_id=run_id))
        assert failed and "run_id must not be empty" in result["msg"]
    failed, result = run(dict(lock_args, endpoints=["https://127.0.0.1:1"], timeout=0.5, leader_wait=1))
    assert failed and "no etcd endpoint answered the lock read within leader_wait (1 s)" in result["msg"]
    assert "no quorum: only 0 of 1 members answer" in result["msg"] and "127.0.0.1:1" in result["msg"]
    for leader_wait in (-1, float("nan"), float("inf")):
        failed, result = run(dict(lock_args, leader_wait=leader_wait))
        assert failed and "leader_wait must be a finite number of seconds, 0 or more" in result["msg"]


# -- require_held: mid-run, refresh only ----------------------------------------

def test_require_held_refreshes_this_runs_lock_on_a_fresh_lease(cluster, lock_args):
    run(lock_args)
    value, old_lease, _revision = stored(cluster, lock_args["key"])
    failed, refreshed = run(dict(lock_args, require_held=True, ttl=90))
    assert not failed and refreshed["changed"] and refreshed["lock"] == "refreshed"
    assert refreshed["holder"] == value
    now_value, new_lease, _revision = stored(cluster, lock_args["key"])
    assert new_lease != old_lease and 80 < lease_ttl(cluster, new_lease) <= 90
    assert lease_ttl(cluster, old_lease) == -1  # the old lease is revoked, not left to linger
    assert now_value == dict(value, ttl=90)  # same holder, same since
    run(dict(lock_args, state="absent"))


@pytest.mark.parametrize("how", ["lease lapsed", "key deleted"])
def test_require_held_on_a_free_lock_stops_the_run_and_does_not_retake_it(cluster, lock_args, how):
    run(lock_args)
    _value, lease, _revision = stored(cluster, lock_args["key"])
    if how == "lease lapsed":
        revoke(cluster, lease)
    else:
        delete(cluster, lock_args["key"])
    failed, lost = run(dict(lock_args, require_held=True))
    assert failed and lost["lock"] == "lost" and lost["holder"] is None
    assert "remediation lock of run run-a is gone" in lost["msg"]
    assert "lease lapsed (ttl 60s)" in lost["msg"] and lock_args["key"] in lost["msg"]
    assert "This run stops here and does not retake it" in lost["msg"]
    assert stored(cluster, lock_args["key"]) is None  # not created again

    failed, lost_again = run(dict(lock_args, require_held=True), check_mode=True)
    assert failed and lost_again["lock"] == "lost" and lost_again["msg"] == lost["msg"]
    assert stored(cluster, lock_args["key"]) is None


def test_require_held_on_a_lock_another_run_took_names_it_and_leaves_it(cluster, lock_args):
    run(lock_args)
    delete(cluster, lock_args["key"])
    failed, _taken = run(dict(lock_args, run_id="run-b", holder="awx job 7"))
    assert not failed
    before = stored(cluster, lock_args["key"])

    failed, refused = run(dict(lock_args, require_held=True))
    assert failed and refused["lock"] == "held_by_other" and refused["holder"]["run_id"] == "run-b"
    assert "lock of run run-a is no longer this run's" in refused["msg"]
    assert "held by awx job 7 (run run-b) since" in refused["msg"] and "This run stops here" in refused["msg"]
    assert stored(cluster, lock_args["key"]) == before  # same value, lease and revision

    failed, refused_check = run(dict(lock_args, require_held=True), check_mode=True)
    assert failed and refused_check["lock"] == "held_by_other" and "awx job 7" in refused_check["msg"]
    assert stored(cluster, lock_args["key"]) == before
    run(dict(lock_args, run_id="run-b", state="absent"))


def test_require_held_in_check_mode_when_ours_writes_nothing(cluster, lock_args):
    run(lock_args)
    before = stored(cluster, lock_args["key"])
    failed, would = run(dict(lock_args, require_held=True), check_mode=True)
    assert not failed and would["lock"] == "would_refresh" and would["holder"] == before[0]
    assert stored(cluster, lock_args["key"]) == before
    run(dict(lock_args, state="absent"))


def test_require_held_is_refused_with_state_absent(cluster, lock_args):
    failed, result = run(dict(lock_args, require_held=True, state="absent"))
    assert failed and "require_held applies to state=present only" in result["msg"]


def test_release_says_what_happened(cluster, lock_args):
    failed, free = run(dict(lock_args, state="absent"))
    assert not failed and not free["changed"] and free["lock"] == "free"

    run(lock_args)
    _value, lease, _revision = stored(cluster, lock_args["key"])
    failed, would = run(dict(lock_args, state="absent"), check_mode=True)
    assert not failed and would["lock"] == "would_release" and stored(cluster, lock_args["key"]) is not None

    failed, released = run(dict(lock_args, state="absent"))
    assert not failed and released["changed"] and released["lock"] == "released"
    assert stored(cluster, lock_args["key"]) is None and lease_ttl(cluster, lease) == -1

    run(dict(lock_args, run_id="run-b", holder="awx job 7"))
    before = stored(cluster, lock_args["key"])
    failed, other = run(dict(lock_args, state="absent"))
    assert not failed and not other["changed"] and other["lock"] == "held_by_other"
    assert stored(cluster, lock_args["key"]) == before
    run(dict(lock_args, run_id="run-b", state="absent"))


# -- keys this kit did not write ------------------------------------------------

def put(cluster, key, value, lease="0"):
    """What etcdctl put does (with --lease when lease is given)."""
    body = {"key": b64(key), "value": b64(value)}
    if lease != "0":
        body["lease"] = lease
    cluster._post(cluster.members[0], "/v3/kv/put", body)


def raw_entry(cluster, key):
    answer = cluster._post(cluster.members[0], "/v3/kv/range", {"key": b64(key)})
    return (answer.get("kvs") or [None])[0]


def grant(cluster, ttl):
    return cluster._post(cluster.members[0], "/v3/lease/grant", {"TTL": str(ttl)})["ID"]


def leases(cluster):
    return {lease["ID"] for lease in cluster._post(cluster.members[0], "/v3/lease/leases", {}).get("leases", [])}


def test_a_value_that_is_not_utf8_is_held_by_someone_else(cluster, lock_args):
    lease = grant(cluster, 60)
    put(cluster, lock_args["key"], b"\xff\xfe\x1b[2J garbage", lease)
    before = raw_entry(cluster, lock_args["key"])

    failed, refused = run(lock_args)
    assert failed and "held by someone else: a value this kit does not write (not UTF-8, 14 bytes: " \
        "\"???[2J garbage\")" in refused["msg"]
    assert "etcdctl del %s" % lock_args["key"] in refused["msg"]
    failed, held = run(dict(lock_args, require_held=True))
    assert failed and held["lock"] == "held_by_other" and held["holder"]["unreadable"] == "not UTF-8"
    failed, left = run(dict(lock_args, state="absent"))
    assert not failed and left["lock"] == "held_by_other" and not left["changed"]
    assert raw_entry(cluster, lock_args["key"]) == before
    revoke(cluster, lease)


def test_a_key_without_a_lease_is_refused_with_the_command_that_clears_it(cluster, lock_args):
    put(cluster, lock_args["key"], json.dumps({"run_id": "run-a", "holder": "bob", "since": "x", "ttl": 60}))
    before = raw_entry(cluster, lock_args["key"])
    failed, refused = run(lock_args)
    assert failed and "without a lease, so it never expires" in refused["msg"]
    assert refused["msg"].endswith("no run is in progress against this cluster, delete the key: etcdctl del %s."
                                   % lock_args["key"])
    failed, left = run(dict(lock_args, state="absent"))
    assert not failed and left["lock"] == "held_by_other" and not left["changed"]
    assert raw_entry(cluster, lock_args["key"]) == before

    delete(cluster, lock_args["key"])
    failed, taken = run(lock_args)
    assert not failed and taken["lock"] == "acquired"
    run(dict(lock_args, state="absent"))


def test_an_acquire_whose_reply_is_lost_is_adopted(cluster, lock_args, monkeypatch):
    really_request = etcd_gateway.EtcdGatewayClient.request
    lost = []

    def reply_lost_once(client, operation, method, path, body=None, timeout=None):
        answer = really_request(client, operation, method, path, body, timeout)
        if operation == "lock acquire" and not lost:
            lost.append(answer)
            raise timeout_error(client.endpoint, operation, 1.0)
        return answer

    leases_before = leases(cluster)
    monkeypatch.setattr(etcd_gateway.EtcdGatewayClient, "request", reply_lost_once)
    failed, taken = run(lock_args)
    monkeypatch.undo()
    assert lost and lost[0]["succeeded"]  # etcd applied it; the module never saw that answer
    assert not failed and taken["lock"] == "acquired", taken
    value, lease, _revision = stored(cluster, lock_args["key"])
    assert value["run_id"] == "run-a" and leases(cluster) - leases_before == {lease}  # one lease, the key's
    failed, released = run(dict(lock_args, state="absent"))
    assert not failed and released["lock"] == "released"


# -- waiting for a leader --------------------------------------------------------

def test_a_dead_endpoint_before_a_live_one_costs_one_try(cluster, lock_args):
    started = time.monotonic()
    failed, taken = run(dict(lock_args, endpoints=["https://127.0.0.1:1"] + cluster.endpoints))
    assert not failed and taken["lock"] == "acquired" and time.monotonic() - started < 5
    run(dict(lock_args, state="absent"))


@pytest.mark.usefixtures("restored")
def test_a_run_started_as_the_leader_freezes_waits_for_the_election(cluster, lock_args):
    leader = cluster.member(cluster.leader_name())
    endpoints = [leader.client_url] + [url for url in cluster.endpoints if url != leader.client_url]
    leader.freeze()
    failed, taken = run(dict(lock_args, endpoints=endpoints, timeout=0.5))
    assert not failed and taken["lock"] == "acquired", taken
    failed, released = run(dict(lock_args, endpoints=endpoints, timeout=0.5, state="absent"))
    assert not failed and released["lock"] == "released", released


@pytest.mark.usefixtures("restored")
def test_without_quorum_the_wait_ends_and_says_so(cluster, lock_args):
    for member in cluster.members[1:]:
        member.stop()
    failed, result = run(dict(lock_args, timeout=0.5, leader_wait=2))
    assert failed
    assert result["msg"].startswith("no etcd endpoint answered the lock read within leader_wait (2 s): no quorum: "
                                    "only 1 of 3 members answer;"), result["msg"]


@pytest.mark.usefixtures("restored")
def test_a_run_waits_for_members_that_come_back(cluster, lock_args):
    stopped = cluster.members[1:]
    for member in stopped:
        member.stop()
    restart = threading.Timer(2.0, lambda: [member.start(cluster.initial_cluster) for member in stopped])
    restart.start()
    try:
        failed, taken = run(dict(lock_args, timeout=0.5))
    finally:
        restart.join()
    assert not failed and taken["lock"] == "acquired", taken
    run(dict(lock_args, state="absent"))
