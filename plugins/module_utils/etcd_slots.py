# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The nodes' budget kept in etcd: a semaphore of N leased slots, one per node out of service.

The run lock (etcd_lock) is exclusive: one run at a time on the control plane. The other
nodes go in batches, and several runs (the slices of an AWX job, two operators' runs of
their halves of the workers) may work on them side by side; what must hold across all of
them is how many nodes are out at once. So each node's disruption holds one slot:

  <prefix>slot/<i>     for i in 0 .. budget-1: who holds slot i
  <prefix>node/<node>  which run has that node out (so no two runs take the same node)

A batch's slots are taken with their nodes' keys in one transaction, all created only if
absent, each node's two keys bound to a lease of its own: a holder that dies frees them
when the leases expire, like the lock.
The value records {"run_id", "holder", "node", "slot", "budget", "since", "ttl"}.

Every run must count against the same budget: a slot held under another budget (or a
slot number at or past this run's budget) refuses, naming who holds it.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import collections
import json
import time

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_lock import (
    LeaderWaitingClient,
    b64,
    delete_if_unchanged,
    printable_excerpt,
    revoke_lease,
    unb64,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import utc_stamp

DEFAULT_SLOT_PREFIX = "/sre.etcd_kernel/node-slots/"
# Between looks at the slots while all are taken: a slot frees when a node is read back, which
# takes a reboot; a few seconds late costs nothing next to that.
SLOT_POLL_S = 2.0

# What taking a batch's slots gives: {node: slot} for every node, the nodes newly taken (the
# others this run held already, and kept), and the seconds spent waiting for free slots.
Hold = collections.namedtuple("Hold", "slots taken waited_s")


class SlotRefused(EtcdError):
    """The slots cannot be used as asked: another budget, or the node is out under another run."""


class NoSlotFree(EtcdError):
    """Every slot stayed taken for as long as the caller would wait."""


def prefix_end(prefix):
    """The range end that covers every key starting with prefix (etcd's --prefix)."""
    return prefix[:-1] + chr(ord(prefix[-1]) + 1)


def slot_value(run_id, holder, node, slot, budget, ttl, now=None):
    return {"run_id": run_id, "holder": holder, "node": node, "slot": slot, "budget": budget,
            "since": utc_stamp(now), "ttl": ttl}


def parse_slot(raw):
    """The slot record in raw (bytes), or None for a value this kit does not write."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except ValueError:  # UnicodeDecodeError is one
        return None
    if not isinstance(value, dict) or not all(isinstance(value.get(field), str) and value[field]
                                              for field in ("run_id", "node", "since")):
        return None
    if not all(isinstance(value.get(field), int) for field in ("slot", "budget")):
        return None
    return value


def describe_slot(held):
    """Who holds a slot, as the messages name it."""
    value = held["value"]
    if value is None:
        return "%s: a value this kit does not write (\"%s\")" % (held["key"], held["excerpt"])
    return "%s of run %s (%s) since %s, budget %d" % (
        printable_excerpt(value["node"]), printable_excerpt(value["run_id"]),
        printable_excerpt(value.get("holder") or "unknown"), printable_excerpt(value["since"]), value["budget"])


class NodeSlots:
    """The slot operations over one etcd JSON-gateway client (a LeaderWaitingClient over the members)."""

    def __init__(self, client, budget, prefix=DEFAULT_SLOT_PREFIX):
        if budget < 1:
            raise SlotRefused("the nodes' budget must be at least 1 node out at a time, got %d" % budget)
        self.client = client
        self.budget = budget
        self.prefix = prefix

    def slot_key(self, index):
        return "%sslot/%d" % (self.prefix, index)

    def node_key(self, node):
        return "%snode/%s" % (self.prefix, node)

    def read(self):
        """What the budget's keys hold now, in one read: ({node: its claim}, [held slot]).

        A claim is the node key's slot record (parse_slot's, {} when foreign) with its "mod_revision" and "lease";
        a held slot is {"key", "value" (parse_slot's, None when foreign), "excerpt", "lease"}."""
        answer = self.client.request("slots read", "POST", "/v3/kv/range",
                                     {"key": b64(self.prefix), "range_end": b64(prefix_end(self.prefix))})
        claims, slots = {}, []
        for entry in answer.get("kvs") or []:
            key = unb64(entry.get("key")).decode("utf-8", "replace")
            raw = unb64(entry.get("value"))
            lease = str(entry.get("lease") or "0")
            if key.startswith(self.prefix + "slot/"):
                slots.append({"key": key, "value": parse_slot(raw), "excerpt": printable_excerpt(raw), "lease": lease})
            elif key.startswith(self.prefix + "node/"):
                claim = dict(parse_slot(raw) or {}, lease=lease, mod_revision=entry.get("mod_revision"))
                claims[key[len(self.prefix + "node/"):]] = claim
        return claims, slots

    def held(self):
        """Every slot held now (read()'s)."""
        return self.read()[1]

    def check_budget(self, slots):
        """Refuse when a slot is held under another budget than this run's."""
        others = [held for held in slots
                  if held["value"] is None or held["value"]["budget"] != self.budget
                  or held["value"]["slot"] >= self.budget]
        if others:
            raise SlotRefused(
                "the nodes' budget of this run is %d, but %s: every run against this cluster must count "
                "against the same budget. Give every run the same etcd_kernel_node_budget (set it in the "
                "inventory's group_vars, not as an extra var of one job), or wait for that run to finish."
                % (self.budget, "; ".join("%s holds a slot under another budget" % describe_slot(held)
                                          for held in others)))

    def _refuse_claimed(self, node, claim):
        raise SlotRefused(
            "%s is out of service under run %s (%s) since %s: two runs must not work on the same node. "
            "Let that run finish with it; a re-run then finds it on its fixed kernel and skips it."
            % (node, printable_excerpt(claim.get("run_id") or "unknown"),
               printable_excerpt(claim.get("holder") or "unknown"), printable_excerpt(claim.get("since") or "?")))

    def take(self, run_id, nodes, holder, ttl):
        """Take a slot for each of nodes, all or none, in one transaction (a batch goes out
        together, so it never holds some slots while it waits for more: two runs waiting on
        each other's half-taken batches would wait forever). Returns a Hold (waited_s 0), or
        None while too few slots are free.

        The slots this run already holds for some of nodes (a repeat, or a reply lost after etcd
        applied it) are adopted, and their lease kept alive for a fresh ttl: taking again is how a
        run keeps its slots. Raises SlotRefused for another budget, or when another run has one of
        nodes out; NoSlotFree at once when this run's own other nodes (failed ones keep theirs, as
        they are still out) leave too few slots for nodes ever to go."""
        nodes = list(dict.fromkeys(nodes))
        for _attempt in range(3):
            claims, slots = self.read()
            for node in nodes:
                claim = claims.get(node)
                if claim is not None and claim.get("run_id") != run_id:
                    self._refuse_claimed(node, claim)
            ours = dict((node, claims[node]) for node in nodes if node in claims)
            for lease in sorted(set(claim["lease"] for claim in ours.values())):
                self._keep_alive(lease)
            kept = dict((node, claim["slot"]) for node, claim in ours.items())
            need = [node for node in nodes if node not in ours]
            if not need:
                return Hold(kept, [], 0.0)
            self.check_budget(slots)
            self._refuse_own_budget(run_id, slots, ours, need)
            taken = set(held["value"]["slot"] for held in slots)
            free = [index for index in range(self.budget) if index not in taken]
            if len(free) < len(need):
                return None
            picked = dict(zip(need, free))
            # A lease per node: freeing one node (revoking its lease) must leave its batch-mates' slots.
            leases = dict((node, self.client.request("lease grant", "POST", "/v3/lease/grant",
                                                     {"TTL": str(ttl)})["ID"]) for node in need)
            keys, puts = [], []
            for node, index in picked.items():
                value = b64(json.dumps(slot_value(run_id, holder, node, index, self.budget, ttl), sort_keys=True))
                for key in (self.slot_key(index), self.node_key(node)):
                    keys.append(b64(key))
                    puts.append({"request_put": {"key": b64(key), "value": value, "lease": leases[node]}})
            try:
                answer = self.client.request("slot take", "POST", "/v3/kv/txn", {
                    "compare": [{"key": key, "target": "CREATE", "result": "EQUAL", "create_revision": "0"}
                                for key in keys],
                    "success": puts,
                })
            except EtcdError:
                # The reply may be lost after etcd applied it: the nodes' keys say. Any other error is the error.
                claims = self.read()[0]
                if all(claims.get(node, {}).get("run_id") == run_id for node in need):
                    return Hold(dict(kept, **picked), need, 0.0)
                for lease_id in leases.values():
                    revoke_lease(self.client, lease_id)
                raise
            if answer.get("succeeded"):
                return Hold(dict(kept, **picked), need, 0.0)
            # A slot or a node was taken between the read and the transaction: read again.
            for lease_id in leases.values():
                revoke_lease(self.client, lease_id)
        return None

    def _refuse_own_budget(self, run_id, slots, ours, need):
        """NoSlotFree when this run's other slots leave too few for need, however long it waits."""
        kept = sorted(held["value"]["node"] for held in slots if held["value"]["run_id"] == run_id
                      and held["value"]["node"] not in ours)
        if kept and len(kept) + len(ours) + len(need) > self.budget:
            raise NoSlotFree(
                "this run's own nodes %s still hold %d of the nodes' budget (%d), which leaves too few slots for %s: "
                "a node that failed keeps its slot, since it is still out of service. Bring it back (its slot frees "
                "at the run's end), or raise etcd_kernel_node_budget above the batch size to let a run go on past "
                "failed nodes." % (", ".join(kept), len(kept), self.budget, ", ".join(need)))

    def take_waiting(self, run_id, nodes, holder, ttl, wait, sleep=time.sleep, clock=time.monotonic):
        """take(), looking again every SLOT_POLL_S while too few slots are free, for up to wait seconds.

        Returns take()'s Hold with the seconds waited; raises NoSlotFree naming the holders when too few free in time."""
        if len(set(nodes)) > self.budget:
            raise SlotRefused("%d nodes cannot go out together within the nodes' budget of %d: plan batches of at "
                              "most the budget" % (len(set(nodes)), self.budget))
        started = clock()
        while True:
            hold = self.take(run_id, nodes, holder, ttl)
            if hold is not None:
                return hold._replace(waited_s=clock() - started)
            left = started + wait - clock()
            if left <= 0:
                holders = "; ".join(describe_slot(held) for held in self.held()) or "none now"
                raise NoSlotFree(
                    "too few slots of the nodes' budget (%d) came free within %gs for %s, so none of them was "
                    "disrupted. Held: %s. Each frees when its node is back in service, or its lease lapses (its "
                    "ttl) when its run died. Wait for those runs, or raise etcd_kernel_node_slot_wait_s."
                    % (self.budget, wait, ", ".join(nodes), holders))
            sleep(min(SLOT_POLL_S, left))

    def _keep_alive(self, lease_id):
        """A fresh TTL for lease_id (the lease's own, as granted)."""
        self.client.request("slot keep-alive", "POST", "/v3/lease/keepalive", {"ID": lease_id})

    def free(self, run_id, node):
        """Free node's slot if this run holds it. Returns "freed", "free" or "held_by_other"."""
        for _attempt in range(3):
            claim = self.read()[0].get(node)
            if claim is None:
                return "free"
            if claim.get("run_id") != run_id or not isinstance(claim.get("slot"), int):
                return "held_by_other"
            if delete_if_unchanged(self.client, "slot free", self.node_key(node), claim["mod_revision"],
                                   [self.node_key(node), self.slot_key(claim["slot"])]):
                revoke_lease(self.client, claim["lease"])
                return "freed"
            # The key changed since the read (it lapsed, or was taken again): judge what is there now.
        raise EtcdError("the slot of %s changed 3 times while run %s freed it: check that run id %s is "
                        "used by one run only" % (node, run_id, run_id))

    def free_all(self, run_id):
        """Free every slot this run holds (the run's end, whatever stopped it). Returns the nodes freed."""
        nodes = sorted(set(held["value"]["node"] for held in self.held()
                           if held["value"] is not None and held["value"]["run_id"] == run_id))
        return [node for node in nodes if self.free(run_id, node) == "freed"]


def slots_over_endpoints(open_client, endpoints, budget, prefix=DEFAULT_SLOT_PREFIX, leader_wait=30.0):
    """NodeSlots whose requests go to the first of endpoints that answers, waiting up to leader_wait for a
    leader; open_client is etcd_backends.client_factory()'s."""
    return NodeSlots(LeaderWaitingClient([open_client(endpoint) for endpoint in endpoints], leader_wait),
                     budget, prefix)
