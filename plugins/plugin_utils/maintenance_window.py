# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Is now inside the maintenance window? A scheduled run must not start outside it.

A window is {"days": ["Sat", "Sun"], "start": "02:00", "end": "05:00"} in UTC;
"days" may be empty for every day, and a window may cross midnight ("22:00" to
"02:00": a day listed is the day the window opens). An empty window (None or {})
means "any time".
"""

from __future__ import annotations

import datetime
import re
from typing import Any

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")


class InvalidWindow(ValueError):
    pass


# Two ASCII digits each: int() would take " 2", "+2", "0_2" or Arabic-Indic digits.
_HH_MM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def _minutes(text: Any, field: str) -> int:
    match = _HH_MM.fullmatch(text) if isinstance(text, str) else None
    if not match:
        raise InvalidWindow("%s must be HH:MM (24-hour, UTC, two digits each, such as 02:00), got %r"
                            % (field, text if not isinstance(text, str) else text[:40]))
    return int(match.group(1)) * 60 + int(match.group(2))


def _days(window: dict[str, Any]) -> list[str]:
    days = window.get("days") or []
    if not isinstance(days, (list, tuple)) or not all(isinstance(day, str) for day in days):
        raise InvalidWindow("maintenance window days must be a list of day names among %s (in YAML: [Sat, Sun]; "
                            "on the command line: -e '{\"etcd_kernel_maintenance_days\": [\"Sat\"]}'), got %r"
                            % (", ".join(DAYS), days))
    bad_days = [day[:20] for day in days if day not in DAYS]
    if bad_days:
        raise InvalidWindow("maintenance window days must be among %s, got %s" % (", ".join(DAYS), bad_days))
    return list(days)


def _utc(now: datetime.datetime) -> datetime.datetime:
    if now.tzinfo is not None:
        return now.astimezone(datetime.timezone.utc).replace(tzinfo=None)
    return now


def _check_days(days: list[str], now: datetime.datetime) -> dict[str, Any]:
    """A window of whole days (no start or end)."""
    now = _utc(now)
    today = DAYS[now.weekday()]
    described = "all day on " + ", ".join(days) if days else "any time"
    inside = not days or today in days
    return {"inside": inside, "reason": "%s %s UTC is %s the maintenance window (%s)"
            % (today, now.strftime("%H:%M"), "inside" if inside else "outside", described)}


def check_window(window: dict[str, Any] | None, now: datetime.datetime) -> dict[str, Any]:
    """{"inside": bool, "reason": str} for now (an aware or UTC-naive datetime)."""
    if not window:
        return {"inside": True, "reason": "no maintenance window is set"}
    if not isinstance(window, dict):
        raise InvalidWindow("the maintenance window must be a dict with days, start and end, got %r" % (window,))
    unknown = sorted(set(window) - {"days", "start", "end"})
    if unknown:
        raise InvalidWindow("unknown maintenance window keys %s: use days, start and end" % unknown)
    days = _days(window)
    if not window.get("start") and not window.get("end"):
        return _check_days(days, now)
    if not window.get("start") or not window.get("end"):
        raise InvalidWindow("give both start and end (HH:MM, UTC), or neither for whole days; got start %r, end %r"
                            % (window.get("start"), window.get("end")))
    start = _minutes(window.get("start"), "start")
    end = _minutes(window.get("end"), "end")
    if start == end:
        raise InvalidWindow("the maintenance window's start and end are both %s: give a window that lasts" % window["start"])
    now = _utc(now)
    minute = now.hour * 60 + now.minute
    today = DAYS[now.weekday()]
    yesterday = DAYS[(now.weekday() - 1) % 7]
    if start < end:
        inside = start <= minute < end and (not days or today in days)
    else:  # crosses midnight: open from start on a listed day until end the next day
        inside = (minute >= start and (not days or today in days)) or \
                 (minute < end and (not days or yesterday in days))
    on_days = (" on " + ", ".join(days)) if days else " every day"
    described = "%s-%s UTC%s" % (window["start"], window["end"], on_days)
    if inside:
        return {"inside": True, "reason": "%s %s UTC is inside the maintenance window %s"
                % (today, now.strftime("%H:%M"), described)}
    return {"inside": False, "reason": "%s %s UTC is outside the maintenance window %s"
            % (today, now.strftime("%H:%M"), described)}
