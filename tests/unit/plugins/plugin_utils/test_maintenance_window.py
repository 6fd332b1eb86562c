"""The maintenance window: inside, outside, across midnight, bad windows."""
import datetime

import pytest

from ansible.errors import AnsibleFilterError
from ansible_collections.sre.etcd_kernel.plugins.filter.remediation import FilterModule
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.maintenance_window import (
    InvalidWindow, check_window)

SATURDAY_3AM = datetime.datetime(2026, 11, 28, 3, 0)
WEEKEND_NIGHTS = {"days": ["Sat", "Sun"], "start": "02:00", "end": "05:00"}


@pytest.mark.parametrize("window, now, inside", [
    (None, SATURDAY_3AM, True),
    ({}, SATURDAY_3AM, True),
    (WEEKEND_NIGHTS, SATURDAY_3AM, True),
    (WEEKEND_NIGHTS, SATURDAY_3AM.replace(hour=5), False),          # end is exclusive
    (WEEKEND_NIGHTS, SATURDAY_3AM.replace(hour=1, minute=59), False),
    (WEEKEND_NIGHTS, SATURDAY_3AM - datetime.timedelta(days=1), False),  # Friday
    ({"days": [], "start": "02:00", "end": "05:00"}, SATURDAY_3AM - datetime.timedelta(days=3), True),
    ({"days": ["Fri"], "start": "22:00", "end": "02:00"}, SATURDAY_3AM.replace(hour=1), True),   # Fri night
    ({"days": ["Fri"], "start": "22:00", "end": "02:00"}, SATURDAY_3AM.replace(hour=23), False),  # Sat night
    (WEEKEND_NIGHTS, datetime.datetime(2026, 11, 28, 4, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=2))), True),
])
def test_inside_or_outside(window, now, inside):
    verdict = check_window(window, now)
    assert verdict["inside"] is inside
    if window and not inside:
        assert "outside the maintenance window 02:00-05:00 UTC" in verdict["reason"] or "22:00" in verdict["reason"]


@pytest.mark.parametrize("window, message", [
    ({"days": ["Saturday"], "start": "02:00", "end": "05:00"}, "days must be among"),
    ({"start": "2am", "end": "05:00"}, "start must be HH:MM"),
    ({"start": "02:00", "end": "24:00"}, "end must be HH:MM"),
    ({"start": "02:00", "end": "02:00"}, "both 02:00"),
    ({"start": "02:00", "end": "05:00", "tz": "CET"}, "unknown maintenance window keys"),
    ({"days": ["Sat"], "start": "02:00", "end": ""}, "give both start and end"),
    ({"start": "", "end": "05:00"}, "give both start and end"),
    ("weekends", "must be a dict"),
])
def test_bad_windows_are_refused(window, message):
    with pytest.raises(InvalidWindow, match=message):
        check_window(window, SATURDAY_3AM)


def test_filter_judges_a_given_time_and_names_itself_in_errors():
    window_filter = FilterModule().filters()["maintenance_window"]
    assert window_filter(WEEKEND_NIGHTS, "2026-11-28T03:00:00Z")["inside"] is True
    assert window_filter(WEEKEND_NIGHTS, "2026-11-27T03:00:00Z")["inside"] is False
    with pytest.raises(AnsibleFilterError, match="^maintenance_window: "):
        window_filter({"start": "x", "end": "05:00"})


def test_days_without_hours_are_whole_days_not_ignored():
    weekend = {"days": ["Sat", "Sun"], "start": "", "end": ""}
    assert check_window(weekend, SATURDAY_3AM)["inside"] is True
    friday = check_window(weekend, SATURDAY_3AM - datetime.timedelta(days=1))
    assert friday["inside"] is False
    assert friday["reason"] == "Fri 03:00 UTC is outside the maintenance window (all day on Sat, Sun)"
    assert check_window({"days": ["Sat"]}, SATURDAY_3AM)["inside"] is True


@pytest.mark.parametrize("window, message", [
    ({"days": 5, "start": "02:00", "end": "05:00"}, "days must be a list of day names"),
    ({"days": "Sat", "start": "02:00", "end": "05:00"}, "days must be a list of day names"),
    ({"days": ["Sat", 6]}, "days must be a list of day names"),
    ({"days": {"Sat": 1}}, "days must be a list of day names"),
    ({"start": "2:00", "end": "05:00"}, "start must be HH:MM"),
    ({"start": " 02:00", "end": "05:00"}, "start must be HH:MM"),
    ({"start": "+2:00", "end": "05:00"}, "start must be HH:MM"),
    ({"start": "0_2:00", "end": "05:00"}, "start must be HH:MM"),
    ({"start": "\u0660\u0662:00", "end": "05:00"}, "start must be HH:MM"),   # Arabic-Indic digits
    ({"start": "02:00:00", "end": "05:00"}, "start must be HH:MM"),
    ({"start": "02:60", "end": "05:00"}, "start must be HH:MM"),
    ({"start": 200, "end": "05:00"}, "start must be HH:MM"),
    ({"start": "02:00", "end": "05:00\n"}, "end must be HH:MM"),
])
def test_only_ascii_hh_mm_and_a_list_of_days_are_accepted(window, message):
    with pytest.raises(InvalidWindow, match=message):
        check_window(window, SATURDAY_3AM)
