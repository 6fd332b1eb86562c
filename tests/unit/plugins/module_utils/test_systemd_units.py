from ansible_collections.sre.etcd_kernel.plugins.module_utils.systemd_units import (
    is_busy,
    is_present,
    parse_scheduled_shutdown,
    parse_show,
)

# As systemd 245 (Ubuntu 20.04) prints `systemctl show -p Id -p LoadState -p ActiveState
# -p SubState -p Unit apt-daily.timer nosuch.timer` (its own property order).
SHOW = """Unit=apt-daily.service
Id=apt-daily.timer
LoadState=loaded
ActiveState=active
SubState=waiting

Unit=
Id=nosuch.timer
LoadState=not-found
ActiveState=inactive
SubState=dead
"""


def test_parse_show_gives_one_entry_per_unit():
    units = parse_show(SHOW)
    assert sorted(units) == ["apt-daily.timer", "nosuch.timer"]
    assert units["apt-daily.timer"]["Unit"] == "apt-daily.service"
    assert units["nosuch.timer"]["Unit"] == ""


def test_parse_show_of_nothing_is_empty():
    assert parse_show("") == {}


def test_presence():
    assert is_present({"LoadState": "loaded"})
    for state in ("not-found", "masked", ""):
        assert not is_present({"LoadState": state})
    assert not is_present({})


def test_busy_states():
    assert is_busy({"ActiveState": "activating", "SubState": "start"})
    assert is_busy({"ActiveState": "active", "SubState": "running"})
    assert is_busy({"ActiveState": "deactivating", "SubState": "stop-sigterm"})
    assert not is_busy({"ActiveState": "active", "SubState": "exited"})
    assert not is_busy({"ActiveState": "inactive", "SubState": "dead"})
    assert not is_busy({"ActiveState": "failed", "SubState": "failed"})


def test_scheduled_shutdown_as_logind_writes_it():
    text = "USEC=1795936420651921\nWARN_WALL=1\nMODE=reboot\nUID=0\nWALL_MESSAGE=test\n"
    assert parse_scheduled_shutdown(text) == {"mode": "reboot", "at": "2026-11-29T07:13:40Z"}


def test_scheduled_shutdown_without_a_time_is_none():
    assert parse_scheduled_shutdown("") is None
    assert parse_scheduled_shutdown("MODE=reboot\nUSEC=soon\n") is None


def test_scheduled_shutdown_without_a_mode_is_a_shutdown():
    assert parse_scheduled_shutdown("USEC=0\n")["mode"] == "shutdown"
