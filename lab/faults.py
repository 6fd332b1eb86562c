"""Faults to inject into, and clear from, one lab host.

Each fault leaves a marker file in .lab/faults/<host>/ (mounted read-only at
/lab/faults on the master and on its etcd container), so the boot and the etcd
entry script see it and `lab status` can list it. Faults that act at once (stop,
freeze, alarm, mirror) also do and undo their action here.
"""
import os
import time

from lab import kernels
from lab.config import LabError
from lab.docker import docker, exec_in, is_running
from lab.etcd_http import Client, EtcdHTTPError

FAULTS = {
    "stuck_after_boot": "after each reboot etcd comes up stuck (alive, TCP accepts, nothing "
                        "answers) until etcd.service is restarted",
    "never_recovers": "etcd does not start again, from its next start (reboot or restart) on",
    "member_stopped": "etcd.service is stopped now",
    "member_frozen": "etcd is SIGSTOPped now: Up, but it answers nothing",
    "events_member_frozen": "the etcd-events member (LAB_EVENTS=1) is SIGSTOPped now: Up, but it answers nothing",
    "events_stuck_after_boot": "after each reboot the etcd-events member (LAB_EVENTS=1) comes up stuck until "
                               "etcd-events.service is restarted",
    "nospace_alarm": "a NOSPACE alarm is raised for the member now",
    "kernel_missing": "the host's apt mirror stops offering the fixed kernels",
    "modules_extra_missing": "the host's apt mirror offers the fixed kernels without their linux-modules-extra",
    "boot_never_returns": "the next boot hangs until the fault is cleared",
    "slow_boot": "the next boot takes --seconds (default 20) instead of the boot delay",
    "slow_install": "installing a fixed kernel takes --seconds (default 20) more (its postinst)",
    "dpkg_lock_held": "another apt (as unattended-upgrades would) holds dpkg's lock until the fault is cleared",
    "unattended_upgrade_running": "apt-daily-upgrade.service starts now and runs --seconds (default 20) before "
                                  "its unattended-upgrade, as a long upgrade would",
    "grub_pinned": "GRUB_DEFAULT in /etc/default/grub pins the running kernel's entry: the next boot "
                   "comes back on it whatever is installed",
    "flapping": "the epoll symptom: etcd freezes for --freeze s (default 4) every "
                "--period s (default 20) while its master runs an affected kernel",
    "containerd_frozen": "a worker's containerd is SIGSTOPped now: its socket accepts connections and "
                         "nothing answers, as the bug hangs it",
    "containerd_stuck_after_boot": "after each boot (and each start) a worker's containerd comes up frozen, its "
                                   "unit active and nothing answering, until the fault is cleared",
    "runtime_timeouts": "a worker's containerd logs --count (default 3) runtime timeouts now (a client's deadline "
                        "running out, in containerd's words); clearing the fault empties its journal",
}
# What only a master has (an etcd member), and what only a worker has (containerd); the
# other faults are the machine's (its boot, its apt, its mirror) and fit either.
MASTER_FAULTS = {"stuck_after_boot", "never_recovers", "member_stopped", "member_frozen", "events_member_frozen",
                 "events_stuck_after_boot", "nospace_alarm", "flapping"}
WORKER_FAULTS = {"containerd_frozen", "containerd_stuck_after_boot", "runtime_timeouts"}

# What containerd logs when the bug hangs it under a client (a CRI call, a shim's exit
# event): the client's deadline runs out. Written from inside containerd.service's own
# cgroup (both hierarchies of a hybrid host), so the journal files it under the unit,
# as it files containerd's own lines.
RUNTIME_TIMEOUT_LINE = ('time="%s" level=error msg="failed to handle container TaskExit event '
                        '&TaskExit{ContainerID:lab%d}" error="failed to stop container: context deadline exceeded: '
                        'unknown"')
_LOG_AS_CONTAINERD = (
    'unit="$(grep \'^0::\' /proc/$(pidof containerd)/cgroup | cut -d: -f3)"; '
    'for tree in unified systemd; do echo $$ > "/sys/fs/cgroup/$tree$unit/cgroup.procs"; done; '
    # The shell writes each line itself (builtins) and stays a moment: journald reads
    # the writing process's cgroup when the line arrives, and a process gone by then has none.
    'exec systemd-cat -t containerd -p err sh -c \'while IFS= read -r line; do printf "%s\\n" "$line"; done; sleep 1\'')


DPKG_LOCK_HOLDER = ("import fcntl, time  # lab-dpkg-lock-holder\n"
                    "lock = open('/var/lib/dpkg/lock-frontend', 'w')\n"
                    "fcntl.lockf(lock, fcntl.LOCK_EX)\n"
                    "time.sleep(86400)\n")


UPGRADE_DROP_IN_DIR = "/run/systemd/system/apt-daily-upgrade.service.d"
# Ends the unattended_upgrade_running fault's upgrade and drops its drop-in.
_END_THE_UPGRADE = ("systemctl stop apt-daily-upgrade.service; systemctl reset-failed apt-daily-upgrade.service;"
                    " rm -rf %s; systemctl daemon-reload" % UPGRADE_DROP_IN_DIR)


# Faults of the etcd-events member that its entry script reads, in its own folder
# (/lab/faults/events, LAB_FAULTS_DIR in etcd-events.env).
EVENTS_MARKERS = {"events_stuck_after_boot": os.path.join("events", "stuck_after_boot")}


def _marker(config, host, fault):
    return os.path.join(config.faults_dir(host), EVENTS_MARKERS.get(fault, fault))


def check(config, host, fault, allow_all=False):
    if host not in config.nodes:
        raise LabError("unknown host %r; the lab's hosts are %s" % (host, ", ".join(config.nodes)))
    if fault == "all" and allow_all:
        return
    if fault not in FAULTS:
        raise LabError("unknown fault %r; known faults:\n%s" % (fault, describe()))
    if config.is_worker(host) and fault in MASTER_FAULTS:
        raise LabError("%s is a worker: %r is a fault of a master's etcd" % (host, fault))
    if not config.is_worker(host) and fault in WORKER_FAULTS:
        raise LabError("%s is a master: %r is a fault of a worker's containerd" % (host, fault))


def describe():
    return "\n".join("  %-19s %s" % item for item in FAULTS.items())


def is_active(config, host, fault):
    return os.path.exists(_marker(config, host, fault))


def active(config, host):
    folder = config.faults_dir(host)
    if not os.path.isdir(folder):
        return []
    return sorted([name for name in os.listdir(folder) if name in FAULTS]
                  + [name for name in EVENTS_MARKERS if os.path.exists(_marker(config, host, name))])


def inject(config, host, fault, seconds=20, period=20, freeze=4, count=3):
    check(config, host, fault)
    content = {"slow_boot": "%g" % seconds, "slow_install": "%g" % seconds, "unattended_upgrade_running": "%g" % seconds,
               "flapping": "%d %d" % (period, freeze)}.get(fault, "")
    if fault in ("member_stopped", "member_frozen") and not _etcd_active(config, host):
        raise LabError("etcd.service on %s is not running; clear its faults first ('lab clear %s all')"
                       % (host, host))
    if fault.startswith("events_") and not config.events:
        raise LabError("this lab runs no etcd-events cluster: bring it up with LAB_EVENTS=1 (make lab-down first)")
    if fault == "nospace_alarm":
        _set_alarm(config, host, active=True)
    os.makedirs(os.path.dirname(_marker(config, host, fault)), exist_ok=True)
    with open(_marker(config, host, fault), "w") as handle:
        handle.write(content + "\n" if content else "")
    if fault == "member_stopped":
        _systemctl(config, host, "stop")
    elif fault == "member_frozen":
        _signal_etcd(config, host, "STOP", "main")
    elif fault == "events_member_frozen":
        _signal_etcd(config, host, "STOP", "events")
    elif fault == "containerd_frozen":
        exec_in(config.master(host), "pkill", "-STOP", "-x", "containerd")
    elif fault == "runtime_timeouts":
        now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
        lines = "".join(RUNTIME_TIMEOUT_LINE % (now, number) + "\n" for number in range(count))
        docker("exec", "-i", config.master(host), "sh", "-c", _LOG_AS_CONTAINERD, input=lines)
    elif fault in ("kernel_missing", "modules_extra_missing"):
        _rewrite_mirror(config, host)
    elif fault == "dpkg_lock_held":
        # apt locks with fcntl (lockf), which flock(1) would not conflict with.
        docker("exec", "-d", config.master(host), "python3", "-c", DPKG_LOCK_HOLDER)
    elif fault == "unattended_upgrade_running":
        # A runtime drop-in: gone at the next boot, like the run it stands for.
        exec_in(config.master(host), "sh", "-c",
                "mkdir -p %s && printf '[Service]\\nExecStartPre=/bin/sleep %g\\n' > %s/lab-long-upgrade.conf"
                " && systemctl daemon-reload && systemctl start --no-block apt-daily-upgrade.service"
                % (UPGRADE_DROP_IN_DIR, seconds, UPGRADE_DROP_IN_DIR))
    elif fault == "grub_pinned":
        running = exec_in(config.master(host), "cat", "/var/lib/lab/osrelease").stdout.strip()
        _write_grub_default(config, host, '"Advanced options for Ubuntu>Ubuntu, with Linux %s"' % running)


def clear(config, host, fault):
    """Clear one fault, or every fault with fault='all'; clearing an inactive fault is harmless."""
    check(config, host, fault, allow_all=True)
    for name in (active(config, host) if fault == "all" else [fault]):
        if is_active(config, host, name):
            os.remove(_marker(config, host, name))
        if name == "member_stopped" and is_running(config.master(host)):
            _systemctl(config, host, "start")
        elif name in ("member_frozen", "events_member_frozen", "containerd_frozen", "containerd_stuck_after_boot"):
            thaw(config, host)
        elif name == "runtime_timeouts" and is_running(config.master(host)):
            exec_in(config.master(host), "sh", "-c", "journalctl --rotate --quiet && journalctl --vacuum-time=1s --quiet")
        elif name == "nospace_alarm":
            _set_alarm(config, host, active=False)
        elif name in ("kernel_missing", "modules_extra_missing"):
            _rewrite_mirror(config, host)
        elif name == "dpkg_lock_held" and is_running(config.master(host)):
            exec_in(config.master(host), "pkill", "-f", "lab-dpkg-lock-holder", check=False)
        elif name == "unattended_upgrade_running" and is_running(config.master(host)):
            exec_in(config.master(host), "sh", "-c", _END_THE_UPGRADE, check=False)
        elif name == "grub_pinned" and is_running(config.master(host)):
            _write_grub_default(config, host, "0")
        elif name == "never_recovers" and is_running(config.master(host)):
            _systemctl(config, host, "restart")  # the entry script starts etcd again


def remove_markers(config, host):
    """Forget every fault of host without undoing anything (lab up rebuilds the rest)."""
    for name in active(config, host):
        os.remove(_marker(config, host, name))


def reset_apt_timers(config, host):
    """Leave no upgrade running and the apt timers running, as on a fresh master."""
    if is_running(config.master(host)):
        exec_in(config.master(host), "sh", "-c", "if [ -d %s ]; then %s; fi; systemctl start apt-daily.timer"
                " apt-daily-upgrade.timer" % (UPGRADE_DROP_IN_DIR, _END_THE_UPGRADE))


def thaw(config, host):
    """Let what a freeze stopped run again: a worker's containerd, a master's members."""
    if config.is_worker(host):
        if is_running(config.master(host)):
            exec_in(config.master(host), "pkill", "-CONT", "-x", "containerd", check=False)
        return
    for cluster in config.clusters():
        _signal_etcd(config, host, "CONT", cluster, check=False)


def _signal_etcd(config, host, signal, cluster, check=True):
    """Send signal to the etcd process of one cluster's member on host: in its own
    container (docker layout), or the etcd child of that cluster's unit (host layout,
    where both clusters' etcd run on the master)."""
    if config.layout == "docker":
        container = config.etcd_container(host) if cluster == "main" else config.events_container(host)
        if is_running(container):
            exec_in(container, "pkill", "-" + signal, "-x", "etcd", check=check)
    elif is_running(config.master(host)):
        unit = "etcd" if cluster == "main" else "etcd-events"
        exec_in(config.master(host), "sh", "-c", 'pkill -%s -x etcd -P "$(systemctl show -p MainPID --value %s)"'
                % (signal, unit), check=check)


def _etcd_active(config, host):
    return is_running(config.master(host)) and exec_in(
        config.master(host), "systemctl", "is-active", "--quiet", "etcd", check=False).returncode == 0


def _systemctl(config, host, action):
    exec_in(config.master(host), "systemctl", action, "etcd", timeout=60)


def disarm_all_alarms(config):
    """Deactivate every alarm in the cluster (a fresh lab has none)."""
    client = Client(config.client_tls, timeout=2.0)
    for host in config.hosts:
        try:
            for alarm in client.alarms(config.client_url(host)):
                client.set_alarm(config.client_url(host), alarm["memberID"], alarm["alarm"], False)
            return
        except EtcdHTTPError:
            continue


def _set_alarm(config, host, active):
    client = Client(config.client_tls, timeout=2.0)
    errors = []
    for endpoint_host in config.hosts:
        url = config.client_url(endpoint_host)
        try:
            members = {m.get("name"): m["ID"] for m in client.members(url)}
            client.set_alarm(url, members[config.member(host)], "NOSPACE", active)
            return
        except (EtcdHTTPError, KeyError) as error:
            errors.append("%s: %s" % (endpoint_host, error))
    raise LabError("could not %s the NOSPACE alarm of %s: %s"
                   % ("raise" if active else "clear", host, "; ".join(errors)))


def _write_grub_default(config, host, value):
    """Set GRUB_DEFAULT as an operator would in /etc/default/grub (the lab's boot reads it)."""
    exec_in(config.master(host), "bash", "-c",
            "mkdir -p /etc/default && printf 'GRUB_DEFAULT=%%s\\nGRUB_TIMEOUT=0\\n' '%s' > /etc/default/grub" % value)


def _rewrite_mirror(config, host):
    debs = kernels.build_pool(config.path("mirror", "pool"))
    kernels.write_host_repo(config.path("mirror"), host, debs,
                            hide_fixed=is_active(config, host, "kernel_missing"),
                            hide_extra=is_active(config, host, "modules_extra_missing"))
    if is_running(config.master(host)):
        # What the host's apt sees changes with its lists, as after an apt-get update.
        exec_in(config.master(host), "apt-get", "update", "-qq", check=False)
