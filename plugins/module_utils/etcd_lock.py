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
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import time

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError

DEFAULT_LOCK_KEY = "/sre.etcd_kernel/remediation-lock"

# How many times refresh and release read the key and try their transaction. A key that changed
# since the read yet is still this run's was refreshed by this run from elsewhere: try again.
CHANGE_ATTEMPTS = 3


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


def _b64(text):
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


def _unb64(text):
    return base64.b64decode(text).decode("utf-8")


def lock_value(run_id, holder, ttl, now=None):
    since = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now if now is not None else time.time()))
    return {"run_id": run_id, "holder": holder, "since": since, "ttl": ttl}


def held_message(value, remaining_ttl):
    """Who holds the lock, since when, and what the operator can do."""
    return ("the remediation lock is held by %s (run %s) since %s; it expires in %ss unless that run "
            "refreshes it. Wait for that run to finish, or, if it died, for the lock to expire."
            % (value.get("holder", "unknown"), value.get("run_id", "unknown"),
               value.get("since", "unknown"), remaining_ttl if remaining_ttl is not None else "?"))


def lost_message(run_id, key, ttl):
    """The lock this run held is gone: why it can be, and why the run must not take it again."""
    return ("the remediation lock of run %s is gone: its lease lapsed (ttl %ss) or someone deleted %s. "
            "This run stops here and does not retake it: another run may have started. Check who runs "
            "against this cluster, then run the kit again." % (run_id, ttl, key))


def taken_over_message(run_id, value, remaining_ttl):
    """The lock this run held now belongs to another run."""
    held = held_message(value, remaining_ttl)
    return ("the remediation lock of run %s is no longer this run's: its lease lapsed or someone deleted "
            "it, and another run took it. %s%s This run stops here and does not work alongside that run; "
            "run the kit again once the lock is free." % (run_id, held[0].upper(), held[1:]))


def parse_value(raw):
    try:
        value = json.loads(raw)
    except ValueError:
        return {"holder": raw, "run_id": None}
    return value if isinstance(value, dict) else {"holder": raw, "run_id": None}


class EtcdLock:
    """The lock operations over one etcd JSON-gateway client (etcd_gateway.EtcdGatewayClient)."""

    def __init__(self, client, key=DEFAULT_LOCK_KEY):
        self.client = client
        self.key = key

    def read(self):
        """(value dict, lease id str, mod_revision str) or None when the lock is free."""
        answer = self.client.request("lock read", "POST", "/v3/kv/range", {"key": _b64(self.key)})
        kvs = answer.get("kvs") or []
        if not kvs:
            return None
        entry = kvs[0]
        return parse_value(_unb64(entry.get("value", ""))), entry.get("lease", "0"), entry.get("mod_revision")

    def remaining_ttl(self, lease_id):
        if not lease_id or lease_id == "0":
            return None
        answer = self.client.request("lease ttl", "POST", "/v3/lease/timetolive", {"ID": lease_id})
        return int(answer.get("TTL", -1))

    def _grant(self, ttl):
        return self.client.request("lease grant", "POST", "/v3/lease/grant", {"TTL": str(ttl)})["ID"]

    def _revoke(self, lease_id):
        if lease_id and lease_id != "0":
            try:
                self.client.request("lease revoke", "POST", "/v3/lease/revoke", {"ID": lease_id})
            except EtcdError:
                pass  # an expired lease is already gone: nothing left to free

    def acquire(self, run_id, holder, ttl):
        """Take the lock, or refresh it when this run already holds it.

        Returns "acquired" or "refreshed"; raises LockHeld when another run holds it."""
        current = self.read()
        if current is not None and current[0].get("run_id") == run_id:
            if not self._move_to_new_lease(current, ttl):
                raise LockHeld("the remediation lock changed hands while this run refreshed it; stop "
                               "and check who runs against this cluster")
            return "refreshed"
        if current is not None:
            raise LockHeld(held_message(current[0], self.remaining_ttl(current[1])))
        lease_id = self._grant(ttl)
        value = json.dumps(lock_value(run_id, holder, ttl), sort_keys=True)
        answer = self.client.request("lock acquire", "POST", "/v3/kv/txn", {
            "compare": [{"key": _b64(self.key), "target": "CREATE", "result": "EQUAL",
                         "create_revision": "0"}],
            "success": [{"request_put": {"key": _b64(self.key), "value": _b64(value),
                                         "lease": lease_id}}],
        })
        if not answer.get("succeeded"):
            self._revoke(lease_id)
            current = self.read()
            holder_value = current[0] if current else {"holder": "another run"}
            raise LockHeld(held_message(holder_value, self.remaining_ttl(current[1]) if current else None))
        return "acquired"

    def check_held(self, current, run_id, ttl):
        """Raise LockLost unless current (what read() returned) is this run's lock.

        ttl is the run's lock ttl, which the message names when the lock is gone."""
        if current is None:
            raise LockLost(lost_message(run_id, self.key, ttl), "lost")
        value, lease_id = current[0], current[1]
        if value.get("run_id") != run_id:
            raise LockLost(taken_over_message(run_id, value, self.remaining_ttl(lease_id)),
                           "held_by_other", value)

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
            "compare": [{"key": _b64(self.key), "target": "MOD", "result": "EQUAL",
                         "mod_revision": revision}],
            "success": [{"request_put": {"key": _b64(self.key),
                                         "value": _b64(json.dumps(value, sort_keys=True)),
                                         "lease": lease_id}}],
        })
        if not answer.get("succeeded"):
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
            value, lease_id, revision = current
            if value.get("run_id") != run_id:
                return "held_by_other"
            answer = self.client.request("lock release", "POST", "/v3/kv/txn", {
                "compare": [{"key": _b64(self.key), "target": "MOD", "result": "EQUAL",
                             "mod_revision": revision}],
                "success": [{"request_delete_range": {"key": _b64(self.key)}}],
            })
            if answer.get("succeeded"):
                self._revoke(lease_id)
                return "released"
            # The key changed since the read (it lapsed, was deleted or taken, or this run
            # refreshed it from elsewhere): read again and report what is there.
        raise EtcdError("the remediation lock of run %s changed %d times while this run released it: "
                        "more than one task seems to use this run id. Check that run id %s is used by "
                        "one run only, then release the lock again."
                        % (run_id, CHANGE_ATTEMPTS, run_id))
