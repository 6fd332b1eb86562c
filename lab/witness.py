"""Start the writer and the monitor in the background, and stop them.

Tests, molecule scenarios and the benchmark wrap a run with
`python -m lab witness start` and `python -m lab witness stop`; stop waits for
both to write their JSON and prints where it is.
"""
import json
import os
import signal
import subprocess
import sys
import time

from lab.config import LabError, REPO_ROOT

WITNESSES = ("writer", "monitor")
# With kubespray's etcd-events cluster (LAB_EVENTS=1), a monitor of its own watches it.
EVENTS_MONITOR = "events-monitor"


def _witnesses(config):
    return WITNESSES + ((EVENTS_MONITOR,) if config.events else ())


def _paths(config, name):
    folder = config.path("witness")
    return os.path.join(folder, name + ".pid"), os.path.join(folder, name + ".json")


def start(config, rate=50.0, interval=0.2):
    """Start both witnesses (stopping any left running); returns their JSON paths."""
    stop(config, quiet=True)
    os.makedirs(config.path("witness"), exist_ok=True)
    outputs = {}
    for name in _witnesses(config):
        pid_file, out = _paths(config, name)
        if os.path.exists(out):
            os.remove(out)
        option = ["--rate", str(rate)] if name == "writer" else ["--interval", str(interval)]
        command = ["writer"] if name == "writer" else ["monitor"] + (["--cluster", "events"] if name == EVENTS_MONITOR else [])
        with open(config.path("witness", name + ".log"), "w") as log:
            process = subprocess.Popen([sys.executable, "-m", "lab", *command, "--out", out, *option],
                                       cwd=REPO_ROOT, stdout=log, stderr=subprocess.STDOUT,
                                       start_new_session=True)
        with open(pid_file, "w") as handle:
            handle.write(str(process.pid))
        outputs[name] = out
    return outputs


def stop(config, quiet=False, timeout=60.0):
    """Stop both witnesses and return {name: their JSON report}."""
    reports = {}
    for name in WITNESSES + (EVENTS_MONITOR,):
        pid_file, out = _paths(config, name)
        if not os.path.exists(pid_file):
            continue
        with open(pid_file) as handle:
            pid = int(handle.read())
        os.remove(pid_file)
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + timeout
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.1)
        if not os.path.exists(out):
            if quiet:
                continue
            raise LabError("the %s wrote no report; see %s" % (name, config.path("witness", name + ".log")))
        with open(out) as handle:
            reports[name] = json.load(handle)
    return reports


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child
    except ChildProcessError:
        pass
    return os.path.exists("/proc/%d" % pid) and "zombie" not in _state(pid)


def _state(pid):
    try:
        with open("/proc/%d/status" % pid) as handle:
            return next((line for line in handle if line.startswith("State:")), "").lower()
    except OSError:
        return ""
