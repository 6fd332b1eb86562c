"""etcd_node_slot against a real etcd 3.4 cluster on 127.0.0.1: the nodes' budget as leased slots,
taken a batch at a time (all or none) and freed, never more holders than the budget (also when runs
race), a node another run has out, a budget that differs between runs, a lapsed holder, the wait
for slots, the lease kept alive by taking again, and this run's failed nodes holding their slots."""
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


def node_keys(cluster, prefix):
    """{node: lease id} of the nodes holding a slot, read without the module."""
    start = prefix + "node/"
    answer = cluster._post(cluster.members[0], "/v3/kv/range", {
        "key": base64.b64encode(start.encode()).decode(),
        "range_end": base64.b64encode((start[:-1] + "0").encode()).decode()})
    return dict((base64.b64decode(kv["key"]).decode()[len(start):], kv["lease"]) for kv in answer.get("kvs") or [])


def held_nodes(cluster, prefix):
    return sorted(node_keys(cluster, prefix))


def lease_ttl(cluster, lease_id):
    return int(cluster._post(cluster.members[0], "/v3/lease/timetolive", {"ID": lease_id}).get("TTL", -1))


def slots_of(slot_args, cluster, budget=2):
    return slots_over_endpoints(client_factory(dict(slot_args, timeout=2.0)), cluster.endpoints, budget,
                                slot_args["prefix"])


def test_a_batch_takes_its_slots_all_at_once_up_to_the_budget_then_frees_them(cluster, slot_args):
    failed, batch = run(dict(slot_args, nodes=["worker1", "worker2"]))
    assert not failed and batch["outcome"] == "taken" and batch["slots"] == {"worker1": 0, "worker2": 1}

    failed, full = run(dict(slot_args, nodes=["worker3"], run_id="run-b"))
    assert failed and "too few slots of the nodes' budget (2) came free within 0s for worker3" in full["msg"]
    assert "worker1 of run run-a (alice@laptop)" in full["msg"] and "worker2 of run run-a" in full["msg"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker1", "worker2"]

    failed, again = run(dict(slot_args, nodes=["worker2", "worker1"]))
    assert not failed and again["outcome"] == "adopted" and not again["changed"]
    assert again["slots"] == {"worker1": 0, "worker2": 1}

    failed, other = run(dict(slot_args, nodes=["worker1"], run_id="run-b", state="absent"))
    assert not failed and other["freed"] == [] and not other["changed"]
    failed, freed = run(dict(slot_args, nodes=["worker1"], state="absent"))
    assert not failed and freed["freed"] == ["worker1"] and freed["changed"]
    failed, third = run(dict(slot_args, nodes=["worker3"], run_id="run-b"))
    assert not failed and third["slots"] == {"worker3": 0}
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker2", "worker3"]


def test_a_batch_larger_than_the_free_slots_takes_none_and_one_larger_than_the_budget_is_refused(cluster, slot_args):
    assert not run(dict(slot_args, nodes=["worker1"], run_id="run-b"))[0]
    failed, waiting = run(dict(slot_args, nodes=["worker2", "worker3"]))
    assert failed and "came free within 0s for worker2, worker3, so none of them was disrupted" in waiting["msg"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker1"]
    failed, refused = run(dict(slot_args, nodes=["worker4", "worker5", "worker6"]))
    assert failed and "3 nodes cannot go out together within the nodes' budget of 2" in refused["msg"]


def test_a_node_another_run_has_out_is_refused(cluster, slot_args):
    assert not run(dict(slot_args, nodes=["worker1"]))[0]
    failed, refused = run(dict(slot_args, nodes=["worker2", "worker1"], run_id="run-b"))
    assert failed and refused["outcome"] == "refused"
    assert "worker1 is out of service under run run-a (alice@laptop)" in refused["msg"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker1"]


def test_every_run_counts_against_the_same_budget(cluster, slot_args):
    assert not run(dict(slot_args, nodes=["worker1"]))[0]
    failed, refused = run(dict(slot_args, nodes=["worker2"], run_id="run-b", budget=3))
    assert failed and "the nodes' budget of this run is 3" in refused["msg"]
    assert "worker1 of run run-a (alice@laptop)" in refused["msg"] and "etcd_kernel_node_budget" in refused["msg"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker1"]


def test_this_runs_failed_node_keeps_its_slot_and_a_batch_that_can_never_fit_stops_at_once(cluster, slot_args):
    assert not run(dict(slot_args, nodes=["worker1"]))[0]
    failed, stuck = run(dict(slot_args, nodes=["worker2", "worker3"], wait=600))
    assert failed and "this run's own nodes worker1 still hold 1 of the nodes' budget (2)" in stuck["msg"]
    assert stuck["waited_s"] == 0.0
    assert not run(dict(slot_args, nodes=["worker2"]))[0]


def test_check_mode_takes_nothing(cluster, slot_args):
    failed, would = run(dict(slot_args, nodes=["worker1"]), check_mode=True)
    assert not failed and would["outcome"] == "would_take" and held_nodes(cluster, slot_args["prefix"]) == []


def test_taking_again_keeps_the_lease_alive(cluster, slot_args):
    assert not run(dict(slot_args, nodes=["worker1", "worker2"], ttl=20))[0]
    leases = set(node_keys(cluster, slot_args["prefix"]).values())
    assert len(leases) == 2  # one per node
    time.sleep(6)
    assert all(lease_ttl(cluster, lease) <= 15 for lease in leases)
    failed, kept = run(dict(slot_args, nodes=["worker1", "worker2"], ttl=20))
    assert not failed and kept["outcome"] == "adopted"
    assert all(lease_ttl(cluster, lease) >= 18 for lease in node_keys(cluster, slot_args["prefix"]).values())


def test_a_dead_holders_slots_lapse_with_their_lease(cluster, slot_args):
    assert not run(dict(slot_args, nodes=["worker1", "worker2"], ttl=10))[0]
    failed, waited = run(dict(slot_args, nodes=["worker3"], run_id="run-b", wait=30))
    assert not failed and waited["outcome"] == "taken" and waited["waited_s"] >= 5
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker3"]


def test_slots_freed_meanwhile_end_the_wait(cluster, slot_args):
    assert not run(dict(slot_args, nodes=["worker1", "worker2"]))[0]
    slots = slots_of(slot_args, cluster)
    threading.Timer(3.0, lambda: slots.free("run-a", "worker2")).start()
    hold = slots.take_waiting("run-b", ["worker3"], "bob", 60, wait=30)
    assert hold.slots == {"worker3": 1} and hold.taken == ["worker3"] and 2.5 <= hold.waited_s < 20


def test_racing_runs_never_hold_more_than_the_budget(cluster, slot_args):
    """Six runs take and free batches of one or two at once for a while: no moment shows three holders."""
    seen = []
    errors = []
    stop = time.monotonic() + 8

    def worker(number):
        slots = slots_of(slot_args, cluster)
        batch = ["worker%d" % number] + (["extra%d" % number] if number % 2 else [])
        try:
            while time.monotonic() < stop:
                if slots.take("run-%d" % number, batch, "racer", 30) is not None:
                    seen.append(len(held_nodes(cluster, slot_args["prefix"])))
                    for node in batch:
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
    assert not run(dict(slot_args, nodes=["worker1"]))[0]
    assert not run(dict(slot_args, nodes=["worker2"], run_id="run-b"))[0]
    failed, ended = run(dict(slot_args, state="absent"))
    assert not failed and ended["freed"] == ["worker1"] and ended["changed"]
    assert held_nodes(cluster, slot_args["prefix"]) == ["worker2"]
    failed, again = run(dict(slot_args, state="absent"))
    assert not failed and again["freed"] == [] and again["outcome"] == "free"


def test_slots_need_nodes(slot_args):
    failed, refused = run(dict(slot_args))
    assert failed and "nodes is required" in refused["msg"]
