"""etcd_node_slot against a real etcd 3.4 cluster on 127.0.0.1: the nodes' budget as leased slots,
taken and freed, never more holders than the budget (also when runs race for the last slot), a node
another run has out, a budget that differs between runs, a lapsed holder, and the wait for a slot."""
import base64
import threading
import time

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_backends import client_factory
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_slots import slots_over_endpoints
from ansible_collections.sre.etcd_kernel.plugins.modules import etcd_node_slot

import module_harness


def run(args, check_mode=False):
    outcome, result = module_harness.run_module(etcd_node_slot.main, args, check_mode=check_mode)
    return outcome == "fail", result


@pytest.fixture
def slot_args(cluster, request):
    prefix = "/test/slots/%s/" % request.node.name
    return cluster.connection_args(prefix=prefix, run_id="run-a", holder="alice@laptop", budget=2, ttl=60, wait=0)


def held_nodes(cluster, prefix):
    """The nodes holding a slot, read without the module."""
    start = prefix + "node/"
    answer = cluster._post(cluster.members[0], "/v3/kv/range", {
        "key": base64.b64encode(start.encode()).decode(),
        "range_end": base64.b64encode((start[:-1] + "0").encode()).decode()})
    return sorted(base64.b64decode(kv["key"]).decode()[len(start):] for kv in answer.get("kvs") or [])


def test_take_up_to_the_budget_then_free(cluster, slot_args):
    failed, first = run(dict(slot_args, node="worker1"))
    assert not failed and first["outcome"] == "taken" and first["slot"] == 0
    failed, second = run(dict(slot_args, node="worker2", run_id="run-b"))
    assert not failed and second["slot"] == 1 and [entry["node"] for entry in second["held"]] == ["worker1"]

    failed, full = run(dict(slot_args, node="worker3"))
    assert failed and "no slot of the nodes' budget (2) came free within 0s, so worker3 was not disrupted" in full["msg"]
    assert "worker1 of run run-a (alice@laptop)" in full["msg"] and "worker2 of run run-b" in full["msg"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker1", "worker2"]

    failed, again = run(dict(slot_args, node="worker1"))
    assert not failed and again["outcome"] == "adopted" and again["slot"] == 0 and not again["changed"]

    failed, other = run(dict(slot_args, node="worker2", state="absent"))
    assert not failed and other["outcome"] == "held_by_other" and not other["changed"]
    failed, freed = run(dict(slot_args, node="worker1", state="absent"))
    assert not failed and freed["outcome"] == "freed" and freed["changed"]
    failed, nothing = run(dict(slot_args, node="worker1", state="absent"))
    assert not failed and nothing["outcome"] == "free"

    failed, third = run(dict(slot_args, node="worker3"))
    assert not failed and third["slot"] == 0
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker2", "worker3"]


def test_a_node_another_run_has_out_is_refused(cluster, slot_args):
    assert not run(dict(slot_args, node="worker1"))[0]
    failed, refused = run(dict(slot_args, node="worker1", run_id="run-b"))
    assert failed and refused["outcome"] == "refused"
    assert "worker1 is out of service under run run-a (alice@laptop)" in refused["msg"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker1"]


def test_every_run_counts_against_the_same_budget(cluster, slot_args):
    assert not run(dict(slot_args, node="worker1"))[0]
    failed, refused = run(dict(slot_args, node="worker2", run_id="run-b", budget=3))
    assert failed and "the nodes' budget of this run is 3" in refused["msg"]
    assert "worker1 of run run-a (alice@laptop)" in refused["msg"] and "etcd_kernel_node_budget" in refused["msg"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker1"]


def test_check_mode_takes_nothing(cluster, slot_args):
    failed, would = run(dict(slot_args, node="worker1"), check_mode=True)
    assert not failed and would["outcome"] == "would_take" and held_nodes(cluster, slot_args["prefix"]) == []


def test_a_dead_holders_slot_lapses_with_its_lease(cluster, slot_args):
    assert not run(dict(slot_args, node="worker1", ttl=10))[0]
    assert not run(dict(slot_args, node="worker2", ttl=10))[0]
    failed, waited = run(dict(slot_args, node="worker3", run_id="run-b", wait=30))
    assert not failed and waited["outcome"] == "taken" and waited["waited_s"] >= 5
    assert "worker3" in held_nodes(cluster, slot_args["prefix"])


def test_a_slot_freed_meanwhile_ends_the_wait(cluster, slot_args):
    for node in ("worker1", "worker2"):
        assert not run(dict(slot_args, node=node))[0]
    open_client = client_factory(dict(slot_args, timeout=1.0))
    slots = slots_over_endpoints(open_client, cluster.endpoints, 2, slot_args["prefix"])
    threading.Timer(3.0, lambda: slots.free("run-a", "worker2")).start()
    index, waited = slots.take_waiting("run-b", "worker3", "bob", 60, wait=30)
    assert index == 1 and 2.5 <= waited < 20


def test_racing_runs_never_hold_more_than_the_budget(cluster, slot_args):
    """Six runs, one node each, take and free at once for a while: no moment shows three holders."""
    open_client = client_factory(dict(slot_args, timeout=2.0))
    seen = []
    errors = []
    stop = time.monotonic() + 8

    def worker(number):
        slots = slots_over_endpoints(open_client, cluster.endpoints, 2, slot_args["prefix"])
        node = "worker%d" % number
        try:
            while time.monotonic() < stop:
                if slots.take("run-%d" % number, node, "racer", 30) is not None:
                    seen.append(len(held_nodes(cluster, slot_args["prefix"])))
                    slots.free("run-%d" % number, node)
        except Exception as error:  # noqa: BLE001 - the test reports it below
            errors.append(error)

    threads = [threading.Thread(target=worker, args=(number,)) for number in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert seen and max(seen) <= 2
    assert held_nodes(cluster, slot_args["prefix"]) == []


def test_the_end_of_a_run_frees_every_slot_it_holds(cluster, slot_args):
    assert not run(dict(slot_args, node="worker1"))[0]
    assert not run(dict(slot_args, node="worker2", run_id="run-b"))[0]
    failed, ended = run(dict(slot_args, state="absent"))
    assert not failed and ended["freed"] == ["worker1"] and ended["changed"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker2"]
    failed, again = run(dict(slot_args, state="absent"))
    assert not failed and again["freed"] == [] and again["outcome"] == "free"


def test_a_slot_needs_a_node(slot_args):
    failed, refused = run(dict(slot_args))
    assert failed and "node is required" in refused["msg"]
