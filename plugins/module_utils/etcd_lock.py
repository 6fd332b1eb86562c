# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""A cluster-wide run lock kept in etcd itself: one key bound to a lease.

Two runs (a scheduled AWX job and a manual run) must never work on the same
cluster at once. The lock is a key created only if absent, in one transaction,
and attached to a lease with a TTL: a run that dies frees it when the lease
expires; a live run refreshes it by moving the key to a fresh lease.
The value records who holds it: {"run_id", "holder", "since", "ttl"}.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import base64
import json
import time

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError

DEFAULT_LOCK_KEY = "/sre.etcd_kernel/remediation-lock"


class LockHeld(EtcdError):
    """Another run holds the lock."""


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
            self._move_to_new_lease(current, ttl)
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

    def _move_to_new_lease(self, current, ttl):
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
            raise LockHeld("the remediation lock changed hands while this run refreshed it; stop "
                           "and check who runs against this cluster")
        self._revoke(old_lease)

    def release(self, run_id):
        """Free the lock if this run holds it. Returns "released", "free" or "held_by_other"."""
        current = self.read()
        if current is None:
            return "free"
        value, lease_id, revision = current
        if value.get("run_id") != run_id:
            return "held_by_other"
        self.client.request("lock release", "POST", "/v3/kv/txn", {
            "compare": [{"key": _b64(self.key), "target": "MOD", "result": "EQUAL",
                         "mod_revision": revision}],
            "success": [{"request_delete_range": {"key": _b64(self.key)}}],
        })
        self._revoke(lease_id)
        return "released"
