# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A cluster-wide run lock kept in etcd itself: one key bound to a lease.

Two runs (a scheduled AWX job and a manual run) must never work on the same
cluster at once. The lock is a key created only if absent, in one transaction,
and attached to a lease with a TTL: a run that dies frees it when the lease
expires; a live run refreshes it by moving the key to a fresh lease.
The value records who holds it: {"run_id", "holder", "since", "ttl"}.

Mid-run a lock is only ever refreshed (refresh), never taken again: a lock found
free then means this run's lease lapsed or someone deleted the key, and another
run may have started and finished in between. Retaking it would hide that.

A key this kit did not write counts as held by someone else: a value that is not
a lock record (not UTF-8, not JSON, not the object above), and a key without a
lease (etcdctl put writes one), which would never expire.

Every request needs a leader (a lock read is linearizable). LeaderWaitingClient
asks the endpoints in turn and, while the errors are the ones a leader election
explains, goes on asking for up to leader_wait seconds.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import binascii
import json
import shlex
import time

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import collect_health
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import (
    EtcdConfigError,
    EtcdConnectionError,
    EtcdError,
    EtcdRequestError,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import utc_stamp

DEFAULT_LOCK_KEY = "/sre.etcd_kernel/remediation-lock"

# How many times refresh and release read the key and try their transaction. A key that changed
# since the read yet is still this run's was refreshed by this run from elsewhere: try again.
CHANGE_ATTEMPTS = 3

# A freshly frozen or stopped leader leaves the other members without one for an election timeout
# (5 s in kubespray) and a few rounds of voting; 30 s covers that with room to spare.
DEFAULT_LEADER_WAIT = 30.0
# Between rounds over the endpoints: short next to an election, so a run goes on soon after a leader is
# elected, and long enough not to hammer members that are electing one.
LEADER_WAIT_PAUSE = 0.5
# etcd's words (3.4 and 3.5) for a request no leader could serve at that moment. A request that timed
# out may still have been applied; the lock's transactions compare revisions, so a repeat is safe.
_NO_LEADER_PHRASES = ("no leader", "leader changed", "not leader", "request timed out", "proposal dropped")

# How much of a value this kit did not write a message shows.
EXCERPT_CHARACTERS = 64


class LockHeld(EtcdError):
    """Another run holds the lock."""


class LockLost(EtcdError):
    """Mid-run, the lock is no longer this run's: it is gone, or another run holds it.

    outcome is "lost" (the key is gone) or "held_by_other"; holder is the lock's value now
    (None when it is gone)."""

    def __init__(self, message, outcome, holder=None):
        super(LockLost, self).__init__(message)
        self.outcome = outcome
        self.holder = holder


def b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def unb64(text):
    """The bytes of a base64 value; a gateway answer that is not base64 reads as empty."""
    try:
        return base64.b64decode(text or "")
    except (binascii.Error, ValueError):
        return b""


def printable_excerpt(text, limit=EXCERPT_CHARACTERS):
    """text (str or bytes) as printable ASCII, cut to limit characters: someone else's value must not
    fill a message, nor put control characters into a terminal or a report."""
    if isinstance(text, bytes):
        text = text.decode("latin-1")
    text = str(text)
    shown = "".join(character if " " <= character <= "~" else "?" for character in text[:limit])
    return shown + "..." if len(text) > limit else shown


def lock_value(run_id, holder, ttl, now=None):
    return {"run_id": run_id, "holder": holder, "since": utc_stamp(now), "ttl": ttl}


def foreign_value(raw, why):
    """What read() gives for a value this kit did not write: no run_id, so no run takes it for its own."""
    return {"run_id": None, "holder": None, "since": None, "unreadable": why, "size": len(raw),
            "excerpt": printable_excerpt(raw)}


def parse_value(raw):
    """The lock record in raw (bytes), or foreign_value() when raw is not one this kit writes."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return foreign_value(raw, "not UTF-8")
    except ValueError:
        return foreign_value(raw, "not JSON")
    if not isinstance(value, dict) or not all(isinstance(value.get(field), str) and value[field]
                                              for field in ("run_id", "holder", "since")):
        return foreign_value(raw, "not a lock record")
    return value


def has_lease(current):
    """Whether the key read() returned is bound to a lease, and so expires."""
    return current[1] not in (None, "", "0")


def describe_holder(value):
    """Who holds the lock, as the messages name it."""
    if value.get("unreadable"):
        return ("someone else: a value this kit does not write (%s, %d bytes: \"%s\")"
                % (value["unreadable"], value["size"], value["excerpt"]))
    return "%s (run %s) since %s" % (printable_excerpt(value.get("holder", "unknown")),
                                     printable_excerpt(value.get("run_id", "unknown")),
                                     printable_excerpt(value.get("since", "unknown")))


def clear_advice(key):
    return ("after checking that no run is in progress against this cluster, delete the key: etcdctl del %s"
            % shlex.quote(key))


def held_message(value, remaining_ttl, key=DEFAULT_LOCK_KEY, leased=True):
    """Who holds the lock, since when, and what the operator can do."""
    if not leased:
        advice = clear_advice(key)
        return ("the remediation lock %s is held by %s without a lease, so it never expires: this kit always "
                "writes it with a lease (etcdctl put writes one without). %s%s."
                % (key, describe_holder(value), advice[0].upper(), advice[1:]))
    expires = remaining_ttl if remaining_ttl is not None else "?"
    if value.get("unreadable"):
        return ("the remediation lock %s is held by %s; it expires in %ss. Wait for it to expire, or, %s."
                % (key, describe_holder(value), expires, clear_advice(key)))
    return ("the remediation lock is held by %s; it expires in %ss unless that run refreshes it. Wait for "
            "that run to finish, or, if it died, for the lock to expire." % (describe_holder(value), expires))


def lost_message(run_id, key, ttl):
    """The lock this run held is gone: why it can be, and why the run must not take it again."""
    return ("the remediation lock of run %s is gone: its lease lapsed (ttl %ss) or someone deleted %s. "
            "This run stops here and does not retake it: another run may have started. Check who runs "
            "against this cluster, then run the kit again." % (run_id, ttl, key))


def taken_over_message(run_id, held):
    """The lock this run held now belongs to someone else; held is held_message() of what is there."""
    return ("the remediation lock of run %s is no longer this run's: its lease lapsed or someone deleted or "
            "rewrote it, and someone else holds it now. %s%s This run stops here and does not work alongside "
            "that run; run the kit again once the lock is free." % (run_id, held[0].upper(), held[1:]))


def wait_may_help(error):
    """Whether error may go away once the members elect a leader: a member that does not answer (stopped,
    frozen, restarting, or a reply lost on the way) or etcd's own "no leader" errors. Not TLS or bad input."""
    if isinstance(error, EtcdConnectionError):
        return True
    if isinstance(error, EtcdRequestError):
        text = str(error).lower()
        return any(phrase in text for phrase in _NO_LEADER_PHRASES)
    return False


def describe_cluster_answers(health):
    """Why no member served a request that needs a leader, from collect_health's result."""
    members = health["members"]
    answering = [member for member in members if member["raft_term"] is not None]
    if len(answering) <= len(members) // 2:
        return ("no quorum: only %d of %d members answer; the lock can be neither read nor written until a "
                "majority of the members answer again" % (len(answering), len(members)))
    leader = next((member for member in answering if member["is_leader"]), None)
    if leader is None:
        return ("no leader yet: an election is under way among the members that answer (%d of %d answered); "
                "retry in a few seconds, or raise leader_wait" % (len(answering), len(members)))
    return ("%d of %d members answer and %s leads, yet none served the request in time"
            % (len(answering), len(members), leader["name"] or leader["id"]))


class LeaderWaitingClient:
    """request() as one gateway client has it, served by the first of several endpoints that answers.

    While the errors are ones a leader election explains (wait_may_help), it goes on asking, round after
    round, for up to leader_wait seconds per request: a frozen or stopped leader leaves the others without
    one for an election, and no write or linearizable read succeeds meanwhile. diagnose(), when given,
    says why it gave up (describe_cluster_answers)."""

    def __init__(self, clients, leader_wait=DEFAULT_LEADER_WAIT, diagnose=None, sleep=time.sleep,
                 clock=time.monotonic):
        if not clients:
            raise EtcdConfigError("endpoints is empty: give at least one client URL, e.g. https://127.0.0.1:2379")
        self.clients = list(clients)
        self.leader_wait = leader_wait
        self.diagnose = diagnose
        self._sleep = sleep
        self._clock = clock

    def request(self, operation, method, path, body=None):
        deadline = self._clock() + self.leader_wait
        while True:
            errors = []
            for client in list(self.clients):
                try:
                    answer = client.request(operation, method, path, body)
                except EtcdError as error:
                    errors.append(error)
                    continue
                # Ask the one that answered first next time: a dead endpoint costs one timeout, not one per request.
                self.clients.remove(client)
                self.clients.insert(0, client)
                return answer
            if not any(wait_may_help(error) for error in errors):
                raise EtcdError("no etcd endpoint answered the %s: %s" % (operation, "; ".join(map(str, errors))))
            left = deadline - self._clock()
            if left <= 0:
                raise EtcdError(self._gave_up_message(operation, errors))
            self._sleep(min(LEADER_WAIT_PAUSE, left))

    def _gave_up_message(self, operation, errors):
        why = None
        if self.diagnose is not None:
            try:
                why = self.diagnose()
            except EtcdError:
                pass  # the errors below still say what each endpoint answered
        return ("no etcd endpoint answered the %s within leader_wait (%g s): %s%s"
                % (operation, self.leader_wait, why + ". Errors: " if why else "", "; ".join(map(str, errors))))


def lock_over_endpoints(open_client, endpoints, key=DEFAULT_LOCK_KEY, leader_wait=DEFAULT_LEADER_WAIT,
                        timeout=1.0):
    """An EtcdLock whose requests go to the first of endpoints that answers, waiting up to leader_wait for a
    leader; open_client is etcd_backends.client_factory()'s."""
    endpoints = list(endpoints)

    def diagnose():
        return describe_cluster_answers(collect_health(open_client, endpoints, timeout))

    clients = [open_client(endpoint) for endpoint in endpoints]
    return EtcdLock(LeaderWaitingClient(clients, leader_wait, diagnose), key)


def revoke_lease(client, lease_id):
    """Revoke lease_id (and so every key on it) if there is one; an error leaves it to expire with its TTL."""
    if lease_id and lease_id != "0":
        try:
            client.request("lease revoke", "POST", "/v3/lease/revoke", {"ID": lease_id})
        except EtcdError:
            pass  # an expired lease is already gone; one etcd cannot revoke now expires with its TTL


def delete_if_unchanged(client, operation, key, mod_revision, keys):
    """Delete keys in one transaction if key is still at mod_revision; whether it was (and they went)."""
    answer = client.request(operation, "POST", "/v3/kv/txn", {
        "compare": [{"key": b64(key), "target": "MOD", "result": "EQUAL", "mod_revision": mod_revision}],
        "success": [{"request_delete_range": {"key": b64(each)}} for each in keys],
    })
    return bool(answer.get("succeeded"))


class EtcdLock:
    """The lock operations over one etcd JSON-gateway client (etcd_gateway.EtcdGatewayClient, or a
    LeaderWaitingClient over several)."""

    def __init__(self, client, key=DEFAULT_LOCK_KEY):
        self.client = client
        self.key = key

    def read(self):
        """(value dict, lease id str, mod_revision str) or None when the lock is free.

        The value is parse_value()'s: a value this kit did not write reads as foreign_value(), never raises."""
        answer = self.client.request("lock read", "POST", "/v3/kv/range", {"key": b64(self.key)})
        kvs = answer.get("kvs") or []
        if not kvs:
            return None
        entry = kvs[0]
        return parse_value(unb64(entry.get("value"))), str(entry.get("lease") or "0"), entry.get("mod_revision")

    def is_ours(self, current, run_id):
        """Whether current (what read() returned) is run_id's lock. A key without a lease is not: this
        kit never writes one, and it would never expire."""
        return current is not None and has_lease(current) and current[0].get("run_id") == run_id

    def remaining_ttl(self, lease_id):
        """Seconds left on the lease, or None when it has none or etcd does not say (the messages show "?")."""
        if not lease_id or lease_id == "0":
            return None
        try:
            answer = self.client.request("lease ttl", "POST", "/v3/lease/timetolive", {"ID": lease_id})
        except EtcdError:
            return None  # only a message needs it: the refusal matters more than its countdown
        return int(answer.get("TTL", -1))

    def held_message(self, current):
        """held_message() of what read() returned."""
        leased = has_lease(current)
        return held_message(current[0], self.remaining_ttl(current[1]) if leased else None, self.key, leased)

    def _grant(self, ttl):
        return self.client.request("lease grant", "POST", "/v3/lease/grant", {"TTL": str(ttl)})["ID"]

    def _revoke(self, lease_id):
        revoke_lease(self.client, lease_id)

    def acquire(self, run_id, holder, ttl):
        """Take the lock, or refresh it when this run already holds it.

        Returns "acquired" or "refreshed"; raises LockHeld when someone else holds it.

        Safe when a reply is lost: a create that etcd applied but whose answer never came (a timeout or a
        reset after the transaction was sent, or a repeat that then found the key) is recognised by this
        run's run_id on the key, and adopted as it is."""
        current = self.read()
        if self.is_ours(current, run_id):
            if not self._move_to_new_lease(current, ttl):
                raise LockHeld("the remediation lock changed hands while this run refreshed it; stop "
                               "and check who runs against this cluster")
            return "refreshed"
        if current is not None:
            raise LockHeld(self.held_message(current))
        lease_id = self._grant(ttl)
        value = json.dumps(lock_value(run_id, holder, ttl), sort_keys=True)
        lost_reply = None
        for _attempt in range(CHANGE_ATTEMPTS):
            lost_reply = None
            try:
                if self._create(value, lease_id):
                    return "acquired"
            except EtcdError as error:
                lost_reply = error
            # The create did not go through, or its reply was lost: what the key holds now tells.
            try:
                current = self.read()
            except EtcdError as read_error:
                self._revoke(lease_id)  # had the create gone through, the key goes with its lease
                raise lost_reply or read_error
            if self.is_ours(current, run_id):
                if current[1] != lease_id:
                    self._revoke(lease_id)  # the key is on another lease: this one would only linger
                return "acquired"
            if current is not None:
                self._revoke(lease_id)
                raise LockHeld(self.held_message(current))
            # Free: the create never reached etcd, or the key came and went in between. Creating it
            # again is safe: it only ever creates an absent key.
        self._revoke(lease_id)
        if lost_reply is not None:
            raise lost_reply
        raise EtcdError("the remediation lock %s was created and deleted %d times while this run took it: "
                        "check who writes it, then run the kit again" % (self.key, CHANGE_ATTEMPTS))

    def _create(self, value, lease_id):
        """Put the lock on lease_id if the key is absent; whether it did."""
        answer = self.client.request("lock acquire", "POST", "/v3/kv/txn", {
            "compare": [{"key": b64(self.key), "target": "CREATE", "result": "EQUAL",
                         "create_revision": "0"}],
            "success": [{"request_put": {"key": b64(self.key), "value": b64(value),
                                         "lease": lease_id}}],
        })
        return bool(answer.get("succeeded"))

    def check_held(self, current, run_id, ttl):
        """Raise LockLost unless current (what read() returned) is this run's lock.

        ttl is the run's lock ttl, which the message names when the lock is gone."""
        if current is None:
            raise LockLost(lost_message(run_id, self.key, ttl), "lost")
        if not self.is_ours(current, run_id):
            raise LockLost(taken_over_message(run_id, self.held_message(current)), "held_by_other", current[0])

    def refresh(self, run_id, ttl):
        """Move this run's lock to a fresh lease of ttl seconds; never take it.

        Returns "refreshed"; raises LockLost when the lock is free or another run holds it."""
        for _attempt in range(CHANGE_ATTEMPTS):
            current = self.read()
            self.check_held(current, run_id, ttl)
            if self._move_to_new_lease(current, ttl):
                return "refreshed"
            # The key changed between the read and the move (it lapsed, was deleted or taken, or
            # this run refreshed it from elsewhere): judge what is there now.
        raise EtcdError("the remediation lock of run %s changed %d times while this run refreshed it: "
                        "more than one task seems to refresh it with this run id. Check that run id %s "
                        "is used by one run only, then run the kit again."
                        % (run_id, CHANGE_ATTEMPTS, run_id))

    def _move_to_new_lease(self, current, ttl):
        """Put the key on a fresh lease if it has not changed since current was read.

        Returns whether it moved; when it did not, the fresh lease is revoked and the key is left as is."""
        value, old_lease, revision = current
        value = dict(value, ttl=ttl)
        lease_id = self._grant(ttl)
        answer = self.client.request("lock refresh", "POST", "/v3/kv/txn", {
            "compare": [{"key": b64(self.key), "target": "MOD", "result": "EQUAL",
                         "mod_revision": revision}],
            "success": [{"request_put": {"key": b64(self.key),
                                         "value": b64(json.dumps(value, sort_keys=True)),
                                         "lease": lease_id}}],
        })
        if not answer.get("succeeded"):
            # A repeat of a move etcd applied (its first reply was lost) fails its compare too: revoking the
            # fresh lease then would delete the lock. The key on the fresh lease says the move went through.
            now = self.read()
            if now is None or now[1] != lease_id:
                self._revoke(lease_id)
                return False
        self._revoke(old_lease)
        return True

    def release(self, run_id):
        """Free the lock if this run holds it. Returns "released", "free" or "held_by_other".

        "released" only when the delete went through; otherwise what the key holds now."""
        for _attempt in range(CHANGE_ATTEMPTS):
            current = self.read()
            if current is None:
                return "free"
            if not self.is_ours(current, run_id):
                return "held_by_other"
            _value, lease_id, revision = current
            if delete_if_unchanged(self.client, "lock release", self.key, revision, [self.key]):
                self._revoke(lease_id)
                return "released"
            # The key changed since the read (it lapsed, was deleted or taken, or this run
            # refreshed it from elsewhere): read again and report what is there.
        raise EtcdError("the remediation lock of run %s changed %d times while this run released it: "
                        "more than one task seems to use this run id. Check that run id %s is used by "
                        "one run only, then release the lock again."
                        % (run_id, CHANGE_ATTEMPTS, run_id))
