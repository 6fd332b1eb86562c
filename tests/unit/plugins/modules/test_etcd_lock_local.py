"""etcd_lock against a real etcd 3.4 cluster on 127.0.0.1: take, refuse, refresh, expire, release."""
import time

import pytest

from ansible_collections.sre.etcd_kernel.plugins.modules import etcd_lock

import module_harness


def run(args, check_mode=False):
    """(failed, result) of etcd_lock.main() with args, through the shared harness."""
    outcome, result = module_harness.run_module(etcd_lock.main, args, check_mode=check_mode)
    return outcome == "fail", result


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
    failed, result = run(dict(lock_args, endpoints=["https://127.0.0.1:1"], timeout=0.5))
    assert failed and "no etcd endpoint answered" in result["msg"] and "127.0.0.1:1" in result["msg"]
