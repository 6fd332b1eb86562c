"""Unit tests for the apt_timers module: what it stops, waits for, starts and reports."""
import pytest

from module_harness import FakeCommands, run_module

from ansible_collections.sre.etcd_kernel.plugins.modules import apt_timers

TIMERS = ["apt-daily.timer", "apt-daily-upgrade.timer"]


def unit_block(unit, load="loaded", active="inactive", sub="dead", triggers=""):
    return "Id=%s\nLoadState=%s\nActiveState=%s\nSubState=%s\nUnit=%s\n" % (unit, load, active, sub, triggers)


def timer(name, active=True, load="loaded"):
    return unit_block(name, load=load, active="active" if active else "inactive",
                      sub="waiting" if active else "dead", triggers=name.replace(".timer", ".service"))


class FakeSystemd(object):
    """systemctl as a host answers it: one show answer for the timers, then one per poll
    of their services (the last repeats), and rc 0 for stop and start."""

    def __init__(self, timers, service_polls=("",)):
        self.timers = timers
        self.service_polls = list(service_polls)
        self.commands = FakeCommands({"systemctl": self})

    def __call__(self, argv):
        if argv[1] != "show":
            return 0, "", ""
        if argv[-1].endswith(".timer"):
            return 0, "\n".join(self.timers), ""
        return 0, self.service_polls.pop(0) if len(self.service_polls) > 1 else self.service_polls[0], ""

    def actions(self):
        return [argv[1:] for argv in self.commands.argvs if argv[1] != "show"]


@pytest.fixture(autouse=True)
def no_scheduled_shutdown(tmp_path, monkeypatch):
    # Never read the test machine's own /run.
    path = tmp_path / "scheduled"
    monkeypatch.setattr(apt_timers, "SCHEDULED_SHUTDOWN_PATH", str(path))
    monkeypatch.setattr(apt_timers, "POLL_INTERVAL_S", 0)
    return path


def idle(*services):
    return "\n".join(unit_block(name) for name in services)


def test_pause_stops_the_active_timers_only_and_reports_them():
    systemd = FakeSystemd([timer(TIMERS[0], active=False), timer(TIMERS[1])],
                          [idle("apt-daily.service", "apt-daily-upgrade.service")])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS, "state": "paused"}, systemd.commands)

    assert outcome == "exit"
    assert result["changed"] is True
    assert result["paused"] == ["apt-daily-upgrade.timer"]
    assert systemd.actions() == [["stop", "--", "apt-daily-upgrade.timer"]]
    assert result["running"] == [] and result["waited_s"] == 0.0 and result["scheduled_shutdown"] is None


def test_pause_waits_for_an_upgrade_under_way_after_stopping_the_timers():
    running = unit_block("apt-daily-upgrade.service", active="activating", sub="start")
    systemd = FakeSystemd([timer(TIMERS[0]), timer(TIMERS[1])],
                          [idle("apt-daily.service") + "\n" + running] * 3 + [idle("apt-daily.service", "apt-daily-upgrade.service")])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS, "state": "paused"}, systemd.commands)

    assert outcome == "exit"
    assert result["paused"] == TIMERS
    shows = [argv for argv in systemd.commands.argvs if argv[1] == "show"]
    assert len(shows) == 1 + 4  # the timers, then four polls of their services
    assert systemd.commands.argvs.index(["/usr/bin/systemctl", "stop", "--"] + TIMERS) < \
        systemd.commands.argvs.index(shows[1])
    assert result["running"] == []


def test_pause_fails_when_the_upgrade_outlasts_the_wait_and_still_names_what_it_stopped():
    running = unit_block("apt-daily-upgrade.service", active="activating", sub="start")
    systemd = FakeSystemd([timer(TIMERS[0]), timer(TIMERS[1])], [running])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS, "state": "paused", "wait_timeout": 0},
                                 systemd.commands)

    assert outcome == "fail"
    assert result["msg"] == "apt-daily-upgrade.service still running after 0s"
    assert result["paused"] == TIMERS
    assert result["running"] == ["apt-daily-upgrade.service"]


def test_a_finished_remain_after_exit_service_does_not_count_as_running():
    exited = unit_block("apt-daily-upgrade.service", active="active", sub="exited")
    systemd = FakeSystemd([timer(TIMERS[1])], [exited])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS[1:], "state": "paused", "wait_timeout": 0},
                                 systemd.commands)
    assert outcome == "exit" and result["running"] == []


def test_missing_and_masked_timers_are_absent_and_left_alone():
    systemd = FakeSystemd([unit_block(TIMERS[0], load="masked"), unit_block(TIMERS[1], load="not-found")])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS, "state": "paused"}, systemd.commands)

    assert outcome == "exit"
    assert result["changed"] is False
    assert result["absent"] == TIMERS
    assert systemd.actions() == []


def test_pause_reports_a_scheduled_reboot(no_scheduled_shutdown):
    no_scheduled_shutdown.write_text("USEC=1795936420651921\nWARN_WALL=1\nMODE=reboot\nUID=0\n")
    systemd = FakeSystemd([timer(TIMERS[1])], [idle("apt-daily-upgrade.service")])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS[1:], "state": "paused"}, systemd.commands)

    assert outcome == "exit"
    assert result["scheduled_shutdown"] == {"mode": "reboot", "at": "2026-11-29T07:13:40Z"}


def test_check_mode_stops_nothing_and_does_not_wait():
    running = unit_block("apt-daily-upgrade.service", active="activating", sub="start")
    systemd = FakeSystemd([timer(TIMERS[1])], [running])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS[1:], "state": "paused"}, systemd.commands,
                                 check_mode=True)

    assert outcome == "exit"
    assert result["changed"] is True and result["paused"] == TIMERS[1:]
    assert result["running"] == ["apt-daily-upgrade.service"]
    assert systemd.actions() == []


def test_start_starts_the_stopped_timers_only():
    systemd = FakeSystemd([timer(TIMERS[0]), timer(TIMERS[1], active=False)])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS, "state": "started"}, systemd.commands)

    assert outcome == "exit"
    assert result["changed"] is True
    assert result["started"] == ["apt-daily-upgrade.timer"]
    assert systemd.actions() == [["start", "--", "apt-daily-upgrade.timer"]]


def test_start_again_changes_nothing():
    systemd = FakeSystemd([timer(TIMERS[0]), timer(TIMERS[1])])
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS, "state": "started"}, systemd.commands)
    assert outcome == "exit" and result["changed"] is False and systemd.actions() == []


def test_no_timers_runs_nothing():
    systemd = FakeSystemd([])
    outcome, result = run_module(apt_timers.main, {"timers": [], "state": "paused"}, systemd.commands)
    assert outcome == "exit" and result["changed"] is False and systemd.commands.argvs == []


def test_a_failing_systemctl_fails_with_its_words():
    commands = FakeCommands({"systemctl": (1, "", "Failed to connect to bus: No such file or directory\n")})
    outcome, result = run_module(apt_timers.main, {"timers": TIMERS, "state": "paused"}, commands)
    assert outcome == "fail"
    assert "Failed to connect to bus" in result["msg"]
