"""Waiting for a state of etcd: readiness per condition and the polling loop."""
import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import build_health
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_wait import (
    member_progress,
    readiness,
    timeout_message,
    wait_until,
)
from test_etcd_health_result import make_health

HEALTHY = {"etcd1": "leader", "etcd2": "follower", "etcd3": "follower"}
ETCD2_DOWN = {"etcd1": "leader", "etcd2": "down", "etcd3": "follower"}


class FakeClock:
    """time.monotonic and time.sleep for a loop that must not really sleep."""

    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def clock(self):
        return self.now

    def sleep(self, seconds):
        self.sleeps.append(seconds)
        self.now += seconds


def test_healthy_needs_the_whole_cluster():
    assert readiness(make_health(HEALTHY), "healthy") == (True, [])
    ready, reasons = readiness(make_health(ETCD2_DOWN), "healthy")
    assert not ready and any("etcd2" in reason for reason in reasons)


def test_member_healthy_is_about_that_member_and_the_sync():
    assert readiness(make_health(ETCD2_DOWN), "member_healthy", "etcd1")[0]
    ready, reasons = readiness(make_health(ETCD2_DOWN), "member_healthy", "etcd2")
    assert not ready and reasons == ["etcd2: connection refused by https://etcd2:2379 (status)"]
    behind = make_health({"etcd1": "leader", "etcd2": {"raft_index": 90000}, "etcd3": "follower"})
    ready, reasons = readiness(behind, "member_healthy", "etcd2")
    assert not ready and reasons == ["members are 89900 raft entries apart (allowed 1000)"]


def test_disruptable_is_the_disruption_check():
    assert readiness(make_health(ETCD2_DOWN), "disruptable", "etcd2") == (True, [])
    ready, reasons = readiness(make_health(ETCD2_DOWN), "disruptable", "etcd1")
    assert not ready and reasons[0].startswith("etcd2 is unhealthy")


def test_no_answer_at_all_is_not_ready_rather_than_an_unknown_member():
    nothing = build_health([], {}, [], {"https://etcd1:2379": "connection refused"})
    ready, reasons = readiness(nothing, "member_healthy", "etcd1")
    assert not ready and "connection refused" in reasons[0]


def test_a_misspelt_member_or_condition_is_an_error_not_a_wait():
    with pytest.raises(ValueError, match="unknown etcd member 'etcd9'"):
        readiness(make_health(HEALTHY), "member_healthy", "etcd9")
    with pytest.raises(ValueError, match="unknown condition"):
        readiness(make_health(HEALTHY), "quorum")


def test_wait_returns_as_soon_as_the_state_is_reached():
    clock = FakeClock()
    looks = iter([make_health(ETCD2_DOWN), make_health(ETCD2_DOWN), make_health(HEALTHY)])
    result = wait_until(lambda: next(looks), lambda h: readiness(h, "healthy"), timeout=60,
                        clock=clock.clock, sleep=clock.sleep)
    assert result["ready"] and result["reasons"] == [] and result["waited_s"] == 0.5
    assert clock.sleeps == [0.25, 0.25]


def test_wait_gives_up_after_the_timeout_with_the_last_reasons():
    clock = FakeClock()
    result = wait_until(lambda: make_health(ETCD2_DOWN), lambda h: readiness(h, "member_healthy", "etcd2"),
                        timeout=3, clock=clock.clock, sleep=clock.sleep)
    assert not result["ready"] and 2.75 <= result["waited_s"] <= 3
    assert result["health"]["cluster"]["healthy_count"] == 2
    message = timeout_message("member_healthy", "etcd2", 3.04, 3, result["reasons"])
    assert message == ("etcd2 is not healthy and in sync after waiting 3.0s (wait_timeout 3s): "
                       "etcd2: connection refused by https://etcd2:2379 (status)")


def test_a_zero_timeout_looks_once():
    clock = FakeClock()
    result = wait_until(lambda: make_health(ETCD2_DOWN), lambda h: readiness(h, "healthy"), timeout=0,
                        clock=clock.clock, sleep=clock.sleep)
    assert not result["ready"] and clock.sleeps == []


@pytest.mark.parametrize("timeout", [float("nan"), float("inf"), -1, "30", True, None])
def test_a_timeout_that_would_never_end_or_is_not_a_number_is_refused_before_looking(timeout):
    looked = []
    with pytest.raises(ValueError, match="wait_timeout must be a finite number of seconds"):
        wait_until(lambda: looked.append(1), lambda h: (False, []), timeout=timeout)
    assert looked == []


def catching_up(clock, rate, until_s=None, ready_at_s=None):
    """etcd2 answering far behind, applying `rate` more entries per look until until_s, in sync from ready_at_s."""
    def look():
        if ready_at_s is not None and clock.now >= ready_at_s:
            return make_health(HEALTHY)
        moving = until_s is None or clock.now < until_s
        applied = 1000 + int((clock.now if moving else until_s) * 4) * rate
        return make_health({"etcd1": "leader", "etcd2": {"raft_index": 900000, "applied_index": applied},
                            "etcd3": {"raft_index": 900000}})
    return look


def wait_for_etcd2(clock, look, timeout=5, progress_timeout=0):
    return wait_until(look, lambda h: readiness(h, "member_healthy", "etcd2"), timeout=timeout, clock=clock.clock,
                      sleep=clock.sleep, progress=member_progress("etcd2"), progress_timeout=progress_timeout)


def test_a_member_visibly_catching_up_is_waited_for_past_the_timeout():
    clock = FakeClock()
    result = wait_for_etcd2(clock, catching_up(clock, rate=50, ready_at_s=40), timeout=5, progress_timeout=60)
    assert result["ready"] and result["waited_s"] == 40 and result["kept_waiting_s"] == 35


def test_the_extra_wait_is_bounded():
    clock = FakeClock()
    result = wait_for_etcd2(clock, catching_up(clock, rate=50), timeout=5, progress_timeout=20)
    assert not result["ready"] and 24.5 <= result["waited_s"] <= 25 and 19.5 <= result["kept_waiting_s"] <= 20
    message = timeout_message("member_healthy", "etcd2", result["waited_s"], 5, result["reasons"],
                              result["kept_waiting_s"])
    assert "(wait_timeout 5s, %.1fs of them past it while the member was catching up)" % result["kept_waiting_s"] in message


def test_a_member_that_stops_moving_is_given_up_on_once_progress_is_stale():
    clock = FakeClock()
    result = wait_for_etcd2(clock, catching_up(clock, rate=50, until_s=8), timeout=5, progress_timeout=300)
    # Last progress at 8 s; given up PROGRESS_WINDOW_S (10 s) later, not at 305 s.
    assert not result["ready"] and 18 <= result["waited_s"] <= 18.5


@pytest.mark.parametrize("look", [lambda: make_health(ETCD2_DOWN),
                                  lambda: make_health({"etcd1": "leader", "etcd2": {"raft_index": 900000},
                                                       "etcd3": {"raft_index": 900000}})])
def test_a_stuck_or_still_member_gets_no_extra_time(look):
    clock = FakeClock()
    result = wait_for_etcd2(clock, look, timeout=5, progress_timeout=300)
    assert not result["ready"] and result["waited_s"] <= 5 and result["kept_waiting_s"] == 0


def test_a_last_look_that_answers_late_is_not_called_catching_up():
    # A busy machine: each look takes 0.7 s, so the last one ends past the timeout.
    clock = FakeClock()

    def slow_look():
        clock.now += 0.7
        return make_health(ETCD2_DOWN)
    result = wait_for_etcd2(clock, slow_look, timeout=1, progress_timeout=300)
    assert not result["ready"] and result["waited_s"] > 1 and result["kept_waiting_s"] == 0
    message = timeout_message("member_healthy", "etcd2", result["waited_s"], 1, result["reasons"],
                              result["kept_waiting_s"])
    assert "catching up" not in message and "(wait_timeout 1s): " in message


def test_progress_is_an_answering_member_applying_more():
    progress = member_progress("etcd2")
    before = make_health({"etcd1": "leader", "etcd2": {"applied_index": 10}, "etcd3": "follower"})
    after = make_health({"etcd1": "leader", "etcd2": {"applied_index": 11}, "etcd3": "follower"})
    assert progress(before, after) and not progress(after, before) and not progress(after, after)
    assert not progress(make_health(ETCD2_DOWN), after) and not progress(after, make_health(ETCD2_DOWN))


@pytest.mark.parametrize("progress_timeout", [float("nan"), -1, "30"])
def test_a_progress_timeout_that_is_not_a_number_of_seconds_is_refused(progress_timeout):
    with pytest.raises(ValueError, match="progress_timeout must be a finite number of seconds"):
        wait_until(lambda: None, lambda h: (False, []), timeout=1, progress_timeout=progress_timeout)
