"""The load writer and the monitor: the lab's witnesses of a rollout.

writer   puts sequenced keys at a fixed rate, round-robin through the members'
         client URLs, the way etcd's Go client (gRPC round_robin) balances: an
         endpoint whose connection failed is left out of the rotation and probed in
         the background until it answers again, and a write whose attempt failed is
         retried on the next endpoint within a per-write deadline. It records acks,
         failures (no member took the write in time), failovers and latency; at the
         end it reads the keys back and counts acknowledged writes that are missing.
monitor  asks every member for its status about five times a second (once more,
         0.1 s later, when a leadership transfer is in flight; a member that does not
         answer within 0.5 s gets a second look, with 2 s) and records,
         per sample, which members are up, who leads, how many are down and
         whether the cluster has quorum.
Both run until their duration ends or they get SIGTERM/SIGINT, then write JSON.
"""
import json
import signal
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

from lab.etcd_http import Client, EtcdHTTPError

PREFIX = "/etcdlab/writer/"
UNSETTLED_RECHECK_S = 0.1
# A member that misses the monitor's quick probe gets one more look, with a longer timeout,
# before it counts as out: on a loaded machine (CI's two cores, with the other test stages
# beside the lab) a member in service may take a second to answer, while one that is out
# (rebooting, stopped, frozen) misses both. Once, a monitor without it saw two members
# "down" beside a frozen one while they kept quorum and elected no one.
SECOND_LOOK_TIMEOUT_S = 2.0


class Stopper:
    """Stops a loop after a duration or on SIGTERM/SIGINT.

    The signal handler only sets a flag: a handler that took a lock (Event.set)
    could deadlock against the main thread waiting inside the same lock."""

    def __init__(self, duration):
        self.deadline = time.monotonic() + duration if duration else None
        self.stopping = False
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._stop)

    def _stop(self, *_):
        self.stopping = True

    def wait(self, seconds):
        """Sleep up to seconds; True when it is time to stop."""
        until = time.monotonic() + seconds
        if self.deadline is not None:
            until = min(until, self.deadline)
        while not self.stopping and time.monotonic() < until:
            time.sleep(min(0.05, max(0.0, until - time.monotonic())))
        return self.stopping or (self.deadline is not None and time.monotonic() >= self.deadline)


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(fraction * (len(ordered) - 1))))]


def write_json(path, data):
    with open(path, "w") as handle:
        json.dump(data, handle, indent=2)


class EndpointRotation:
    """Round robin over the endpoints that are up, as gRPC's round_robin picks only
    READY connections. A failed endpoint is out until a background probe reaches it;
    when every endpoint is out, all are tried (a client has nothing better to do)."""

    def __init__(self, endpoints, probe, probe_interval=0.25):
        self.endpoints = list(endpoints)
        self.out = set()
        self.lock = threading.Lock()
        self.probe = probe
        self.probe_interval = probe_interval
        self.stopping = False
        self.prober = threading.Thread(target=self._probe_loop, daemon=True)
        self.prober.start()

    def order(self, seq):
        """The endpoints to try for write seq: those up, rotated by seq, then the rest."""
        rotated = self.endpoints[seq % len(self.endpoints):] + self.endpoints[:seq % len(self.endpoints)]
        with self.lock:
            return [e for e in rotated if e not in self.out] + [e for e in rotated if e in self.out]

    def failed(self, endpoint):
        with self.lock:
            self.out.add(endpoint)

    def stop(self):
        self.stopping = True
        self.prober.join()

    def _probe_loop(self):
        while not self.stopping:
            with self.lock:
                out = list(self.out)
            for endpoint in out:
                if self.probe(endpoint):
                    with self.lock:
                        self.out.discard(endpoint)
            time.sleep(self.probe_interval)


def run_writer(endpoints, tls, rate, duration, out, timeout=1.0, deadline=5.0):
    """timeout: per attempt; deadline: per write, across failovers."""
    client = Client(tls, timeout=timeout, keep_alive=True)
    run_id = uuid.uuid4().hex[:8]
    prefix = "%s%s/" % (PREFIX, run_id)
    results = []          # (seq, ok, latency_s, error, failovers, started_s)
    lock = threading.Lock()
    stopper = Stopper(duration)
    started_at, began = time.time(), time.monotonic()

    def answers(url):
        try:
            client.status(url)
            return True
        except EtcdHTTPError:
            return False

    rotation = EndpointRotation(endpoints, answers)

    def put(seq):
        started = time.monotonic()
        attempt, error = 0, None
        while time.monotonic() - started < deadline:
            candidates = rotation.order(seq)
            url = candidates[attempt % len(candidates)]
            try:
                client.put(url, "%s%09d" % (prefix, seq), str(seq))
                outcome = (seq, True, time.monotonic() - started, None, attempt, started - began)
                break
            except EtcdHTTPError as failure:
                error = str(failure)
                if failure.connection_failed:
                    rotation.failed(url)
                attempt += 1
                if attempt % len(endpoints) == 0:
                    time.sleep(0.1)  # every member refused: back off a little, as clients do
        else:
            outcome = (seq, False, time.monotonic() - started, error, attempt, started - began)
        with lock:
            results.append(outcome)

    seq = 0
    # Requests run in a pool so a member that hangs does not slow the rate down.
    with ThreadPoolExecutor(max_workers=32) as pool:
        while True:
            pool.submit(put, seq)
            seq += 1
            next_due = began + seq / rate
            if stopper.wait(max(0.0, next_due - time.monotonic())):
                break
    elapsed = time.monotonic() - began
    rotation.stop()
    acked = sorted(r[0] for r in results if r[1])
    present = _read_back(client, endpoints, prefix)
    client.close()  # the read-back's; the pool's threads have ended, and their connections with them
    lost = [s for s in acked if "%s%09d" % (prefix, s) not in present]
    latencies = [r[2] for r in results if r[1]]
    errors = {}
    for r in results:
        if not r[1]:
            errors[r[3]] = errors.get(r[3], 0) + 1
    report = {
        "run_id": run_id, "prefix": prefix, "started": started_at, "duration_s": round(elapsed, 3),
        "rate": rate, "endpoints": endpoints, "attempted": len(results), "acked": len(acked),
        "failed": len(results) - len(acked), "lost": len(lost), "lost_keys": lost[:20],
        "failovers": sum(r[4] for r in results),
        "read_back": present is not None,
        "latency_ms": {"p50": _ms(percentile(latencies, 0.5)), "p99": _ms(percentile(latencies, 0.99)),
                       "max": _ms(max(latencies) if latencies else None)},
        "errors": dict(sorted(errors.items(), key=lambda item: -item[1])[:10]),
        # Where the worst latencies happened (seconds after started), to line up with the rollout.
        "slowest": [{"t": round(r[5], 2), "latency_ms": _ms(r[2]), "ok": r[1], "failovers": r[4]}
                    for r in sorted(results, key=lambda r: -r[2])[:5]],
    }
    write_json(out, report)
    return report


def _ms(seconds):
    return None if seconds is None else round(seconds * 1000.0, 1)


def _read_back(client, endpoints, prefix, attempts=20):
    for attempt in range(attempts):
        try:
            return set(client.keys_with_prefix(endpoints[attempt % len(endpoints)], prefix))
        except EtcdHTTPError:
            time.sleep(0.5)
    return None


def probe_member(clients, url):
    """{"answered", "leader"}: whether the member answered one of clients (tried in turn,
    the quick one first), and the leader it knows."""
    for client in clients:
        try:
            leader = int(client.status(url).get("leader", 0))
            return {"answered": True, "leader": "%016x" % leader if leader else None}
        except (EtcdHTTPError, KeyError, ValueError):
            continue
    return {"answered": False, "leader": None}


def run_monitor(members, tls, interval, duration, out, timeout=0.5):
    """members: {name: client URL}."""
    clients = (Client(tls, timeout=timeout, keep_alive=True), Client(tls, timeout=SECOND_LOOK_TIMEOUT_S))
    stopper = Stopper(duration)
    samples = []
    began = time.monotonic()
    started_at = time.time()

    def probe(url):
        return probe_member(clients, url)

    def settled(states):
        """Every member that answered knows a leader, and they know the same one."""
        answered = [s for s in states.values() if s["answered"]]
        return all(s["leader"] for s in answered) and len({s["leader"] for s in answered}) <= 1

    with ThreadPoolExecutor(max_workers=len(members)) as pool:
        while True:
            tick = time.monotonic()
            states = dict(zip(members, pool.map(probe, members.values())))
            if not settled(states):
                # A leadership transfer leaves the members without a leader, or
                # disagreeing, for a few milliseconds; a sample that falls into that
                # gap says nothing about members being out, so look once more. A real
                # election takes an election timeout (2.5 s in the lab) and still shows.
                time.sleep(UNSETTLED_RECHECK_S)
                states = dict(zip(members, pool.map(probe, members.values())))
            up = [s for s in states.values() if s["answered"] and s["leader"]]
            leaders = {s["leader"] for s in up}
            samples.append({
                "t": round(tick - began, 3),
                "up": {name: bool(s["answered"] and s["leader"]) for name, s in states.items()},
                "down": len(members) - len(up),
                "leader": leaders.pop() if len(leaders) == 1 else None,
                "quorum": len(up) >= len(members) // 2 + 1 and len({s["leader"] for s in up}) == 1,
            })
            if stopper.wait(max(0.0, interval - (time.monotonic() - tick))):
                break
    report = summarise(samples, list(members))
    report.update({"started": started_at, "interval": interval, "samples": samples})
    write_json(out, report)
    return report


def summarise(samples, names):
    """Totals over monitor samples: each sample stands for the time until the next one."""
    downtime = {name: 0.0 for name in names}
    without_quorum = 0.0
    leader_changes = 0
    previous_leader = None
    for sample, following in zip(samples, samples[1:]):
        span = following["t"] - sample["t"]
        for name, is_up in sample["up"].items():
            if not is_up:
                downtime[name] += span
        if not sample["quorum"]:
            without_quorum += span
    for sample in samples:
        if sample["leader"] and previous_leader and sample["leader"] != previous_leader:
            leader_changes += 1
        if sample["leader"]:
            previous_leader = sample["leader"]
    return {
        "sample_count": len(samples),
        "max_down": max((s["down"] for s in samples), default=0),
        "seconds_without_quorum": round(without_quorum, 2),
        "leader_changes": leader_changes,
        "downtime_s": {name: round(value, 2) for name, value in downtime.items()},
    }
