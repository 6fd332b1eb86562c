"""EtcdLock against a fake etcd JSON gateway: refresh never retakes, release reports what happened,
a key this kit did not write is someone else's, a lost reply is adopted, and requests wait for a leader.

The races (the key lapses, is deleted or is taken between the read and the transaction, a reply is
lost after etcd applied it) are only reachable here; tests/unit/plugins/modules/test_etcd_lock_local.py runs the module
against real etcd.
"""
import base64
import json

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_errors import (
    EtcdConnectionError,
    EtcdError,
    EtcdRequestError,
    EtcdTLSError,
    refused_error,
    timeout_error,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import build_health
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_lock import (
    CHANGE_ATTEMPTS,
    DEFAULT_LOCK_KEY,
    LEADER_WAIT_PAUSE,
    EtcdLock,
    LeaderWaitingClient,
    LockHeld,
    LockLost,
    describe_cluster_answers,
    lock_value,
    wait_may_help,
)


def b64(text):
    return base64.b64encode(text if isinstance(text, bytes) else text.encode()).decode()


def unb64(text):
    return base64.b64decode(text).decode()


class FakeGateway:
    """One etcd keyspace and its leases, spoken to like EtcdGatewayClient.request.

    before_txn, when set, runs before each transaction is judged: a concurrent writer. after_txn, when
    set, runs after a transaction was applied and before its answer: raising there is a reply lost."""

    def __init__(self):
        self.revision = 1
        self.keys = {}     # key -> {"value", "lease", "mod_revision", "create_revision"}
        self.leases = {}   # lease id -> ttl
        self.next_lease = 100
        self.requests = []
        self.before_txn = None
        self.after_txn = None

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
            if self.after_txn is not None:
                self.after_txn()
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


# -- a key this kit did not write: someone else's ------------------------------

FOREIGN_VALUES = [
    (b"\xff\xfe\x00binary\x1b[31m", "not UTF-8"),
    (b"hello from etcdctl", "not JSON"),
    (b'["a", "list"]', "not a lock record"),
    (b'{"run_id": 5, "holder": "x", "since": "y"}', "not a lock record"),
    (b'{"run_id": "run-a"}', "not a lock record"),
]


@pytest.mark.parametrize("raw, why", FOREIGN_VALUES)
def test_a_value_this_kit_does_not_write_is_held_by_someone_else(etcd, lock, raw, why):
    lease = etcd.grant(60)
    etcd.put(DEFAULT_LOCK_KEY, raw, lease)
    entry = dict(etcd.keys[DEFAULT_LOCK_KEY])

    with pytest.raises(LockHeld) as held:
        lock.acquire("run-a", "alice@laptop", 60)
    message = str(held.value)
    assert "held by someone else: a value this kit does not write (%s, %d bytes: " % (why, len(raw)) in message
    assert "expires in 60s" in message and "etcdctl del %s" % DEFAULT_LOCK_KEY in message
    assert all(" " <= character <= "~" for character in message)

    with pytest.raises(LockLost) as lost:
        lock.refresh("run-a", 60)
    assert lost.value.outcome == "held_by_other" and lost.value.holder["unreadable"] == why
    assert lock.release("run-a") == "held_by_other"
    assert etcd.keys[DEFAULT_LOCK_KEY] == entry and sorted(etcd.leases) == [lease]  # untouched, nothing leaked


def test_the_excerpt_of_a_foreign_value_is_short_and_printable(etcd, lock):
    raw = b"\x07\x1b]0;pwned\x07" + b"A" * 10000
    etcd.put(DEFAULT_LOCK_KEY, raw, etcd.grant(60))
    value = lock.read()[0]
    assert value["size"] == len(raw) and value["run_id"] is None
    assert value["excerpt"] == "??]0;pwned?" + "A" * 53 + "..."
    with pytest.raises(LockHeld) as held:
        lock.acquire("run-a", "alice@laptop", 60)
    assert len(str(held.value)) < 400


def test_a_long_holder_in_a_lock_record_is_cut_short(etcd, lock):
    etcd.hold("run-b", holder="x" * 5000 + "\n")
    with pytest.raises(LockHeld) as held:
        lock.acquire("run-a", "alice@laptop", 60)
    assert "held by %s... (run run-b)" % ("x" * 64) in str(held.value) and "\n" not in str(held.value)


# -- a key without a lease never expires: someone else's, and how to clear it ---

LEASELESS_MESSAGE = (
    "the remediation lock %s is held by %s without a lease, so it never expires: this kit always writes it "
    "with a lease (etcdctl put writes one without). After checking that no run is in progress against this "
    "cluster, delete the key: etcdctl del %s.")


@pytest.mark.parametrize("run_id", ["run-b", "run-a"])
def test_a_key_without_a_lease_is_held_by_someone_else_even_with_this_run_id(etcd, lock, run_id):
    etcd.put(DEFAULT_LOCK_KEY, json.dumps(lock_value(run_id, "bob@desk", 60, now=0)))  # etcdctl put
    entry = dict(etcd.keys[DEFAULT_LOCK_KEY])
    with pytest.raises(LockHeld) as held:
        lock.acquire("run-a", "alice@laptop", 60)
    who = "bob@desk (run %s) since 1970-01-01T00:00:00Z" % run_id
    assert str(held.value) == LEASELESS_MESSAGE % (DEFAULT_LOCK_KEY, who, DEFAULT_LOCK_KEY)
    with pytest.raises(LockLost) as lost:
        lock.refresh("run-a", 60)
    assert lost.value.outcome == "held_by_other" and "without a lease, so it never expires" in str(lost.value)
    assert lock.release("run-a") == "held_by_other"
    assert etcd.keys[DEFAULT_LOCK_KEY] == entry and etcd.leases == {}
    assert "lease ttl" not in [operation for operation, _path in etcd.requests]  # nothing to count down


def test_the_clearing_command_quotes_the_key(etcd):
    etcd.put("/odd key;rm", b"x")
    with pytest.raises(LockHeld) as held:
        EtcdLock(etcd, "/odd key;rm").acquire("run-a", "alice@laptop", 60)
    assert "etcdctl del '/odd key;rm'." in str(held.value)


# -- an acquire whose reply is lost after etcd applied it ----------------------

def lose_reply_once(etcd, before_applying=False):
    """The next transaction's answer never comes: a timeout after it was sent."""
    def lost():
        setattr(etcd, hook, None)
        raise timeout_error("https://10.0.0.11:2379", "lock acquire", 1.0)
    hook = "before_txn" if before_applying else "after_txn"
    setattr(etcd, hook, lost)


def test_an_acquire_whose_reply_is_lost_is_adopted_on_its_one_lease(etcd, lock):
    lose_reply_once(etcd)
    assert lock.acquire("run-a", "alice@laptop", 60) == "acquired"
    entry = etcd.keys[DEFAULT_LOCK_KEY]
    assert etcd.value()["run_id"] == "run-a" and sorted(etcd.leases) == [entry["lease"]]
    assert etcd.writes().count("lease grant") == 1  # no second lease


def test_an_acquire_repeated_after_a_lost_reply_finds_its_key_and_adopts_it(etcd):
    # Over two endpoints the lost reply is asked again; the repeat fails its compare: the key exists.
    lose_reply_once(etcd)
    lock = EtcdLock(LeaderWaitingClient([etcd, etcd], leader_wait=5, sleep=lambda seconds: None))
    assert lock.acquire("run-a", "alice@laptop", 60) == "acquired"
    assert etcd.writes().count("lock acquire") == 2
    assert sorted(etcd.leases) == [etcd.keys[DEFAULT_LOCK_KEY]["lease"]]


def test_a_lost_acquire_that_etcd_never_applied_is_sent_again(etcd, lock):
    lose_reply_once(etcd, before_applying=True)
    assert lock.acquire("run-a", "alice@laptop", 60) == "acquired"
    assert etcd.value()["run_id"] == "run-a" and len(etcd.leases) == 1


def test_a_lost_acquire_whose_key_is_on_another_lease_revokes_its_own(etcd, lock):
    other = {}

    def this_run_elsewhere_then_lost():
        etcd.after_txn = None
        other["lease"] = etcd.grant(60)
        etcd.put(DEFAULT_LOCK_KEY, etcd.keys[DEFAULT_LOCK_KEY]["value"], other["lease"])
        raise timeout_error("https://10.0.0.11:2379", "lock acquire", 1.0)

    etcd.after_txn = this_run_elsewhere_then_lost
    assert lock.acquire("run-a", "alice@laptop", 60) == "acquired"
    assert sorted(etcd.leases) == [other["lease"]] and etcd.keys[DEFAULT_LOCK_KEY]["lease"] == other["lease"]


def test_a_lost_acquire_that_cannot_be_checked_revokes_its_lease_and_fails(etcd, lock):
    def lost_and_cut_off():
        etcd.after_txn = None
        etcd.request = cut_off
        raise timeout_error("https://10.0.0.11:2379", "lock acquire", 1.0)

    answer = etcd.request

    def cut_off(operation, method, path, body):
        if operation == "lease revoke":
            return answer(operation, method, path, body)  # only the revoke gets through
        raise timeout_error("https://10.0.0.11:2379", operation, 1.0)

    etcd.after_txn = lost_and_cut_off
    with pytest.raises(EtcdError) as failed:
        lock.acquire("run-a", "alice@laptop", 60)
    assert "(lock acquire) within 1.0 s" in str(failed.value)
    assert etcd.keys == {} and etcd.leases == {}  # the key went with its lease: it blocks no one


def test_a_lost_acquire_taken_by_another_run_meanwhile_is_refused(etcd, lock):
    def taken_then_lost():
        etcd.before_txn = None
        etcd.hold("run-b", "awx job 7")
        raise timeout_error("https://10.0.0.11:2379", "lock acquire", 1.0)

    etcd.before_txn = taken_then_lost
    with pytest.raises(LockHeld) as held:
        lock.acquire("run-a", "alice@laptop", 60)
    assert "awx job 7 (run run-b)" in str(held.value) and etcd.value()["run_id"] == "run-b"
    assert len(etcd.leases) == 1  # only run-b's


def test_a_refresh_repeated_after_a_lost_reply_keeps_the_lock(etcd):
    old_lease = etcd.hold("run-a")
    lose_reply_once(etcd)
    lock = EtcdLock(LeaderWaitingClient([etcd, etcd], leader_wait=5, sleep=lambda seconds: None))
    assert lock.refresh("run-a", 90) == "refreshed"
    entry = etcd.keys[DEFAULT_LOCK_KEY]
    assert entry["lease"] != old_lease and sorted(etcd.leases) == [entry["lease"]]


# -- waiting for a leader ------------------------------------------------------

class Clock:
    """time.monotonic and time.sleep for LeaderWaitingClient, without waiting."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


class Endpoint:
    """One endpoint: raises the errors given, one a request, then raises `then` if given, else lets etcd answer.
    Each request costs `cost` seconds on clock (a timeout)."""

    def __init__(self, etcd, errors=(), then=None, cost=0.0, clock=None):
        self.etcd = etcd
        self.errors = list(errors)
        self.then = then
        self.asked = 0
        self.cost = cost
        self.clock = clock

    def request(self, operation, method, path, body=None):
        self.asked += 1
        if self.clock is not None:
            self.clock.now += self.cost
        if self.errors:
            raise self.errors.pop(0)
        if self.then is not None:
            raise self.then
        return self.etcd.request(operation, method, path, body)


def no_leader(endpoint="https://10.0.0.12:2379"):
    return EtcdRequestError("%s (lock read) failed: HTTP 503: etcdserver: no leader" % endpoint)


def waiting(clients, leader_wait=30, diagnose=None, clock=None):
    clock = clock or Clock()
    return LeaderWaitingClient(clients, leader_wait, diagnose, sleep=clock.sleep, clock=clock), clock


def test_errors_an_election_explains_are_waited_through_others_are_not():
    for error in (timeout_error("e", "lock read", 1.0), refused_error("e", "lock read"), no_leader(),
                  EtcdRequestError("e (lock acquire) failed: HTTP 503: etcdserver: leader changed"),
                  EtcdRequestError("e (lock read) failed: HTTP 503: etcdserver: request timed out"),
                  EtcdConnectionError("e (lock read) closed the connection (ConnectionResetError)")):
        assert wait_may_help(error), error
    for error in (EtcdTLSError("TLS: certificate verify failed"), EtcdError("bad"),
                  EtcdRequestError("e (lock read) failed: HTTP 400: etcdserver: key is not provided")):
        assert not wait_may_help(error), error


def test_the_read_waits_while_the_members_elect_a_leader(etcd):
    etcd.hold("run-b")
    clock = Clock()
    frozen = Endpoint(etcd, then=timeout_error("https://10.0.0.11:2379", "lock read", 1.0), cost=1.0, clock=clock)
    electing = [Endpoint(etcd, errors=[no_leader()] * 3) for _ in range(2)]
    client, clock = waiting([frozen] + electing, clock=clock)
    value = EtcdLock(client).read()[0]
    assert value["run_id"] == "run-b"
    assert clock.sleeps and set(clock.sleeps) == {LEADER_WAIT_PAUSE}
    assert frozen.asked >= 2


def test_the_endpoint_that_answered_is_asked_first_next_time(etcd):
    dead = Endpoint(etcd, then=refused_error("https://10.0.0.11:2379", "lock read"))
    live = Endpoint(etcd)
    client, clock = waiting([dead, live])
    lock = EtcdLock(client)
    lock.read()
    lock.read()
    assert (dead.asked, live.asked) == (1, 2) and clock.sleeps == []


def test_errors_no_wait_can_fix_fail_at_once(etcd):
    bad_ca = Endpoint(etcd, then=EtcdTLSError("TLS: certificate verify failed for https://10.0.0.11:2379"))
    client, clock = waiting([bad_ca, bad_ca], diagnose=lambda: pytest.fail("no diagnosis without a wait"))
    with pytest.raises(EtcdError) as failed:
        EtcdLock(client).read()
    assert str(failed.value).startswith("no etcd endpoint answered the lock read: TLS: certificate verify failed")
    assert clock.sleeps == []


def health_of(statuses):
    """A three-member collect_health result; statuses maps a member name to its leader's name, or to an error."""
    names = ["etcd1", "etcd2", "etcd3"]
    ids = {name: "%016x" % (index + 1) for index, name in enumerate(names)}
    members = [{"id": ids[name], "name": name, "peer_urls": [], "client_urls": ["https://%s:2379" % name]}
               for name in names]
    raw = {}
    for name, seen in statuses.items():
        if seen is not None and seen.startswith("error:"):
            raw[ids[name]] = seen
        else:
            raw[ids[name]] = {"responder_id": ids[name], "leader_id": ids.get(seen), "raft_term": 7,
                              "raft_index": 10, "applied_index": 10, "db_size": 1, "version": "3.4.27", "errors": []}
    return build_health(members, raw)


NO_LEADER_YET = ("no leader yet: an election is under way among the members that answer (2 of 3 answered); "
                 "retry in a few seconds, or raise leader_wait")
NO_QUORUM = ("no quorum: only 1 of 3 members answer; the lock can be neither read nor written until a majority "
             "of the members answer again")


def test_the_diagnosis_tells_an_election_from_a_lost_quorum():
    frozen = "error: no answer from https://etcd1:2379 (status) within 1.0 s (timeout)"
    assert describe_cluster_answers(health_of({"etcd1": frozen, "etcd2": None, "etcd3": None})) == NO_LEADER_YET
    # Still following the frozen leader: the election has yet to start.
    assert describe_cluster_answers(health_of({"etcd1": frozen, "etcd2": "etcd1", "etcd3": "etcd1"})) == NO_LEADER_YET
    assert describe_cluster_answers(health_of({"etcd1": frozen, "etcd2": frozen, "etcd3": None})) == NO_QUORUM
    assert describe_cluster_answers(health_of({"etcd1": frozen, "etcd2": frozen, "etcd3": frozen})) == \
        NO_QUORUM.replace("only 1 of 3", "only 0 of 3")
    assert describe_cluster_answers(health_of({"etcd1": "etcd2", "etcd2": "etcd2", "etcd3": frozen})) == \
        "2 of 3 members answer and etcd2 leads, yet none served the request in time"


def test_the_wait_is_bounded_and_its_message_says_why_it_gave_up(etcd):
    frozen = "error: no answer from https://etcd1:2379 (status) within 1.0 s (timeout)"
    electing = [Endpoint(etcd, then=no_leader("https://etcd%d:2379" % index)) for index in (2, 3)]
    client, clock = waiting(electing, leader_wait=5,
                            diagnose=lambda: describe_cluster_answers(health_of({"etcd1": frozen, "etcd2": None,
                                                                                 "etcd3": None})))
    with pytest.raises(EtcdError) as failed:
        EtcdLock(client).read()
    assert str(failed.value) == (
        "no etcd endpoint answered the lock read within leader_wait (5 s): %s. Errors: "
        "https://etcd2:2379 (lock read) failed: HTTP 503: etcdserver: no leader; "
        "https://etcd3:2379 (lock read) failed: HTTP 503: etcdserver: no leader" % NO_LEADER_YET)
    assert clock.now == 5 and len(clock.sleeps) == 10


def test_a_diagnosis_that_fails_leaves_the_errors(etcd):
    def unreachable():
        raise EtcdTLSError("TLS: no endpoint")

    client, clock = waiting([Endpoint(etcd, then=refused_error("https://e:2379", "lock read"))], leader_wait=1,
                            diagnose=unreachable)
    with pytest.raises(EtcdError) as failed:
        EtcdLock(client).read()
    assert str(failed.value) == ("no etcd endpoint answered the lock read within leader_wait (1 s): connection "
                                 "refused by https://e:2379 (lock read): is etcd running and listening there?")


def test_a_leader_wait_of_zero_asks_each_endpoint_once(etcd):
    endpoints = [Endpoint(etcd, then=no_leader()) for _ in range(3)]
    client, clock = waiting(endpoints, leader_wait=0)
    with pytest.raises(EtcdError, match=r"within leader_wait \(0 s\)"):
        EtcdLock(client).read()
    assert [endpoint.asked for endpoint in endpoints] == [1, 1, 1] and clock.sleeps == []


def test_no_endpoints_is_a_config_error():
    with pytest.raises(EtcdError, match="endpoints is empty"):
        LeaderWaitingClient([])
