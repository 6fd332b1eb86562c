# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""What systemd says about timers, the services they start, and a scheduled shutdown.

On Ubuntu, apt-daily.timer refreshes the package lists and apt-daily-upgrade.timer runs
unattended-upgrade, which may install another kernel and, with Automatic-Reboot, reboot
the host at the end of its run or schedule a reboot for later (shutdown -r <time>). The
kit stops those timers for a run, waits for an upgrade already running, refuses a host
with a reboot scheduled, and starts the timers again at the end. The pure part is here:
reading `systemctl show` and /run/systemd/shutdown/scheduled.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import utc_stamp

# The properties `systemctl show` is asked for (-p ...), one block per unit.
SHOW_PROPERTIES = ("Id", "LoadState", "ActiveState", "SubState", "Unit")
# States in which a unit is doing something. A oneshot service (apt-daily-upgrade) is
# "activating" while it runs; "active/exited" is a finished RemainAfterExit service.
_BUSY_STATES = ("activating", "deactivating", "reloading", "active")
# Where systemd-logind keeps a reboot or poweroff scheduled with shutdown <time>.
SCHEDULED_SHUTDOWN_PATH = "/run/systemd/shutdown/scheduled"


def parse_show(text):
    """`systemctl show -p ... unit...` output as {unit id: {property: value}}.

    systemd prints one block of Key=Value lines per unit, blocks separated by an empty
    line, in the order the units were named; a unit it does not know still gets a block
    (LoadState=not-found).
    """
    units = {}
    for block in text.strip().split("\n\n"):
        properties = {}
        for line in block.splitlines():
            key, separator, value = line.partition("=")
            if separator:
                properties[key.strip()] = value.strip()
        if properties.get("Id"):
            units[properties["Id"]] = properties
    return units


def is_present(properties):
    """The unit exists on the host (a masked unit counts as absent: it can never start)."""
    return properties.get("LoadState") not in (None, "", "not-found", "masked")


def is_busy(properties):
    """The unit is running, starting or stopping."""
    return properties.get("ActiveState") in _BUSY_STATES and properties.get("SubState") != "exited"


def parse_scheduled_shutdown(text):
    """A scheduled shutdown file as {"mode": "reboot"|"poweroff"|..., "at": ISO 8601 UTC}, or None."""
    fields = {}
    for line in text.splitlines():
        key, separator, value = line.partition("=")
        if separator:
            fields[key.strip()] = value.strip()
    if not fields.get("USEC", "").isdigit():
        return None
    return {"mode": fields.get("MODE") or "shutdown", "at": utc_stamp(int(fields["USEC"]) // 1000000)}
