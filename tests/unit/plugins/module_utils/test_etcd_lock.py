"""EtcdLock against a fake etcd JSON gateway: refresh never retakes, release reports what happened.

The races (the key lapses, is deleted or is taken between the read and the transaction) are
only reachable here; tests/unit/plugins/modules/test_etcd_lock_local.py runs the module
against real etcd.
"""
import base64
import json

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import EtcdError, EtcdRequestError
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_lock import (
    CHANGE_ATTEMPTS,
    DEFAULT_LOCK_KEY,
    EtcdLock,
    LockHeld,
    LockLost,
    lock_value,
)


def b64(text):
    return base64.b64encode(text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


class FakeGateway:
    """One etcd keyspace and its leases, spoken to like EtcdGatewayClient.request.

    before_txn, when set, runs before each transaction is judged: a concurrent writer."""

    def __init__(self):
        self.revision = 1
        self.keys = {}     # key -> {"value", "lease", "mod_revision", "create_revision"}
        self.leases = {}   # lease id -> ttl
        self.next_lease = 100
        self.requests = []
        self.before_txn = None

    # -- what another writer (or the test) does ---------------------------
    def grant(self, ttl):
        self.next_lease += 1
        lease_id = str(self.next_lease)
        self.leases[lease_id] = ttl
        return lease_id

    def put(self, key, value, lease_id="0"):
        self.revision += 1
        created = self.keys.get(key, {}).get("create_revision", str(self.revision))
        self.keys[key] = {"value": value, "lease": lease_id, "mod_revision": str(self.revision),
                          "create_revision": created}

    def revoke(self, lease_id):
        """A lease that lapses or is revoked takes its keys with it."""
        self.leases.pop(lease_id, None)
        for key in [k for k, entry in self.keys.items() if entry["lease"] == lease_id]:
            self.delete(key)

    def delete(self, key):
        if self.keys.pop(key, None) is not None:
            self.revision += 1

    def hold(self, run_id, holder="someone", ttl=60, key=DEFAULT_LOCK_KEY):
        lease_id = self.grant(ttl)
        self.put(key, json.dumps(lock_value(run_id, holder, ttl)), lease_id)
        return lease_id

    def value(self, key=DEFAULT_LOCK_KEY):
        entry = self.keys.get(key)
        return json.loads(entry["value"]) if entry else None

    # -- the gateway ------------------------------------------------------
    def request(self, operation, method, path, body):
        self.requests.append((operation, path))
        if path == "/v3/kv/range":
            entry = self.keys.get(unb64(body["key"]))
            if entry is None:
                return {"header": {}}
            return {"kvs": [{"key": body["key"], "value": b64(entry["value"]), "lease": entry["lease"],
                             "mod_revision": entry["mod_revision"]}]}
        if path == "/v3/lease/grant":
            return {"ID": self.grant(int(body["TTL"]))}
        if path == "/v3/lease/timetolive":
            return {"TTL": str(self.leases.get(body["ID"], -1))}
        if path == "/v3/lease/revoke":
            if body["ID"] not in self.leases:
                raise EtcdRequestError("etcdserver: requested lease not found")
            self.revoke(body["ID"])
            return {}
        if path == "/v3/kv/txn":
            if self.before_txn is not None:
                self.before_txn()
            if not all(self._holds(compare) for compare in body["compare"]):
                return {"succeeded": False}
            for operation_body in body["success"]:
                if "request_put" in operation_body:
                    put = operation_body["request_put"]
                    self.put(unb64(put["key"]), unb64(put["value"]), put.get("lease", "0"))
                if "request_delete_range" in operation_body:
                    self.delete(unb64(operation_body["request_delete_range"]["key"]))
            return {"succeeded": True}
        raise AssertionError("unexpected request %s %s" % (method, path))

    def _holds(self, compare):
        entry = self.keys.get(unb64(compare["key"]))
        if compare["target"] == "CREATE":
            return (entry["create_revision"] if entry else "0") == compare["create_revision"]
        if compare["target"] == "MOD":
            return (entry["mod_revision"] if entry else "0") == compare["mod_revision"]
        raise AssertionError("unexpected compare %r" % compare)

    def writes(self):
        return [operation for operation, _path in self.requests
                if operation in ("lease grant", "lock acquire", "lock refresh", "lock release")]


@pytest.fixture
def etcd():
    return FakeGateway()


@pytest.fixture
def lock(etcd):
    return EtcdLock(etcd)


# -- refresh: only ever this run's own lock ------------------------------------

def test_refresh_moves_this_runs_lock_to_a_fresh_lease(etcd, lock):
    old_lease = etcd.hold("run-a", "alice@laptop", ttl=60)
    before = etcd.value()
    assert lock.refresh("run-a", 90) == "refreshed"
    entry = etcd.keys[DEFAULT_LOCK_KEY]
    assert entry["lease"] != old_lease and etcd.leases[entry["lease"]] == 90
    assert old_lease not in etcd.leases  # the old lease is revoked, not left to linger
    assert etcd.value() == dict(before, ttl=90)  # same holder, same since


def test_refresh_of_a_free_lock_stops_and_does_not_retake_it(etcd, lock):
    with pytest.raises(LockLost) as lost:
        lock.refresh("run-a", 60)
    assert lost.value.outcome == "lost" and lost.value.holder is None
    message = str(lost.value)
    assert "remediation lock of run run-a is gone" in message
    assert "lease lapsed (ttl 60s)" in message and DEFAULT_LOCK_KEY in message
    assert "does not retake it" in message and "run the kit again" in message
    assert etcd.keys == {} and etcd.leases == {} and etcd.writes() == []


def test_refresh_of_a_lock_another_run_holds_names_it_and_leaves_it(etcd, lock):
    lease = etcd.hold("run-b", "awx job 7", ttl=60)
    entry = dict(etcd.keys[DEFAULT_LOCK_KEY])
    with pytest.raises(LockLost) as lost:
        lock.refresh("run-a", 60)
    assert lost.value.outcome == "held_by_other" and lost.value.holder["run_id"] == "run-b"
    message = str(lost.value)
    assert "lock of run run-a is no longer this run's" in message
    assert "held by awx job 7 (run run-b) since" in message and "expires in 60s" in message
    assert "This run stops here" in message
    assert etcd.keys[DEFAULT_LOCK_KEY] == entry and lease in etcd.leases and etcd.writes() == []


def test_refresh_stops_when_the_lease_lapses_between_read_and_move(etcd, lock):
    lease = etcd.hold("run-a")
    etcd.before_txn = lambda: etcd.revoke(lease)
    with pytest.raises(LockLost) as lost:
        lock.refresh("run-a", 60)
    assert lost.value.outcome == "lost"
    assert etcd.keys == {} and etcd.leases == {}  # not recreated, and the fresh lease was revoked


def test_refresh_stops_when_another_run_takes_the_lock_between_read_and_move(etcd, lock):
    def taken_over():
        etcd.before_txn = None
        etcd.delete(DEFAULT_LOCK_KEY)
        etcd.hold("run-b", "awx job 7")

    etcd.hold("run-a")
    etcd.before_txn = taken_over
    with pytest.raises(LockLost) as lost:
        lock.refresh("run-a", 60)
    assert lost.value.outcome == "held_by_other" and "awx job 7" in str(lost.value)
    assert etcd.value()["run_id"] == "run-b"


def test_refresh_gives_up_when_the_lock_keeps_changing_under_it(etcd, lock):
    lease = etcd.hold("run-a")

    def touched_by_this_run_elsewhere():
        etcd.put(DEFAULT_LOCK_KEY, etcd.keys[DEFAULT_LOCK_KEY]["value"], lease)

    etcd.before_txn = touched_by_this_run_elsewhere
    with pytest.raises(EtcdError) as changing:
        lock.refresh("run-a", 60)
    assert not isinstance(changing.value, LockLost)
    assert "changed %d times" % CHANGE_ATTEMPTS in str(changing.value) and "run id run-a" in str(changing.value)
    assert sorted(etcd.leases) == [lease]  # every fresh lease it granted was revoked


def test_check_held_raises_for_free_and_foreign_locks_only(etcd, lock):
    with pytest.raises(LockLost) as lost:
        lock.check_held(lock.read(), "run-a", 60)
    assert lost.value.outcome == "lost"
    etcd.hold("run-b")
    with pytest.raises(LockLost) as taken:
        lock.check_held(lock.read(), "run-a", 60)
    assert taken.value.outcome == "held_by_other"
    etcd.delete(DEFAULT_LOCK_KEY)
    etcd.hold("run-a")
    lock.check_held(lock.read(), "run-a", 60)  # ours: no error
    assert etcd.writes() == []


# -- acquire is unchanged: it still takes a free lock --------------------------

def test_acquire_still_takes_a_free_lock_and_refreshes_its_own(etcd, lock):
    assert lock.acquire("run-a", "alice@laptop", 60) == "acquired"
    assert etcd.value()["holder"] == "alice@laptop"
    assert lock.acquire("run-a", "alice@laptop", 60) == "refreshed"
    etcd.delete(DEFAULT_LOCK_KEY)
    etcd.hold("run-b")
    with pytest.raises(LockHeld):
        lock.acquire("run-a", "alice@laptop", 60)


def test_acquire_refusing_when_its_own_lock_changes_hands_mid_refresh(etcd, lock):
    lease = etcd.hold("run-a")
    etcd.before_txn = lambda: etcd.revoke(lease)
    with pytest.raises(LockHeld) as changed:
        lock.acquire("run-a", "alice@laptop", 60)
    assert "changed hands" in str(changed.value)


# -- release: "released" only when the delete went through ---------------------

def test_release_frees_this_runs_lock_and_revokes_its_lease(etcd, lock):
    lease = etcd.hold("run-a")
    assert lock.release("run-a") == "released"
    assert etcd.keys == {} and lease not in etcd.leases


def test_release_reports_a_free_lock_and_one_held_by_another_run(etcd, lock):
    assert lock.release("run-a") == "free"
    lease = etcd.hold("run-b")
    assert lock.release("run-a") == "held_by_other"
    assert etcd.value()["run_id"] == "run-b" and lease in etcd.leases


def test_release_whose_delete_misses_a_lapsed_lock_reports_free(etcd, lock):
    lease = etcd.hold("run-a")
    etcd.before_txn = lambda: etcd.revoke(lease)
    assert lock.release("run-a") == "free"


def test_release_whose_delete_misses_a_taken_lock_reports_it_and_leaves_it(etcd, lock):
    holder = {}

    def taken_over():
        etcd.before_txn = None
        etcd.delete(DEFAULT_LOCK_KEY)
        holder["lease"] = etcd.hold("run-b", "awx job 7")

    etcd.hold("run-a")
    etcd.before_txn = taken_over
    assert lock.release("run-a") == "held_by_other"
    assert etcd.value()["run_id"] == "run-b" and holder["lease"] in etcd.leases


def test_release_retries_when_this_run_refreshed_the_lock_in_between(etcd, lock):
    lease = etcd.hold("run-a")

    def refreshed_elsewhere_once():
        etcd.before_txn = None
        etcd.put(DEFAULT_LOCK_KEY, etcd.keys[DEFAULT_LOCK_KEY]["value"], lease)

    etcd.before_txn = refreshed_elsewhere_once
    assert lock.release("run-a") == "released"
    assert etcd.keys == {}
