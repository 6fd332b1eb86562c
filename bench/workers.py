"""How the worker phase grows with the workers, and what the kit adds to a plain rolling reboot.

For each number of workers (--workers, default 10 and 20) the lab comes up with that many
(LAB_WORKERS), the masters are remediated once, and then, for each batch setting (--serials,
default 1, 2 and 25%), from every worker on the affected kernel again (the fixed kernel purged,
each worker rebooted back onto 5.4.0-132, RESET_GROUP at a time):
  kit    ansible-playbook remediate.yml -e etcd_kernel_worker_serial=S (only the workers are left),
         with the nodes' budget (etcd_kernel_node_budget) as large as the batch
  naive  bench/naive_workers.yml with the same batch sizes: install, reboot, wait for containerd
Each under a monitor of every worker's containerd: one loop inside each worker asks `ctr version`
every second and stamps the answer, and a worker counts as out from its first unanswered probe
to its last one. Prints per run: wall time, batches, the most workers out at once and the batch
size; per setting the kit's overhead per batch ((kit - naive) / batches); and wall time per
worker as the workers grow. Writes reports/bench-workers.json. A benchmark prints figures; it
never fails on a slow machine. Leaves a fresh lab with the default workers.
Usage: python -m bench.workers [--workers 10,20] [--serials 1,2,25%]
"""
import argparse
import json
import os
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
sys.path.insert(0, os.path.join(ROOT, "collections"))

from lab import cluster, kernels  # noqa: E402
from lab.docker import exec_in, is_running  # noqa: E402

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_plan import batch_size  # noqa: E402

FIXED = kernels.release(max(kernels.FIXED_ABIS))
PROBE_LOOP = 'while :; do if timeout 1 ctr version >/dev/null 2>&1; then s=up; else s=down; fi; echo "$(date +%s.%N) $s"; sleep 1; done'


class RuntimeMonitor:
    """Per worker, a loop inside it that probes containerd every second; while the worker is
    down (its container restarting) the loop is gone, and that counts as not answering."""

    def __init__(self, config):
        self.config = config
        self.samples = dict((host, []) for host in config.worker_hosts)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._watch, args=(host,), daemon=True) for host in config.worker_hosts]

    def _watch(self, host):
        while not self._stop.is_set():
            if not is_running(self.config.master(host)):
                self.samples[host].append((time.time(), False))
                time.sleep(0.5)
                continue
            process = subprocess.Popen(["docker", "exec", self.config.master(host), "sh", "-c", PROBE_LOOP],
                                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
            for line in process.stdout:
                fields = line.split()
                if len(fields) != 2 or fields[1] not in ("up", "down"):
                    continue  # a line cut short as the worker went down
                try:
                    self.samples[host].append((float(fields[0]), fields[1] == "up"))
                except ValueError:
                    continue
                if self._stop.is_set():
                    break
            process.kill()
            process.wait()
            self.samples[host].append((time.time(), False))  # the loop ended: the worker went down

    def __enter__(self):
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout=5)

    def out_intervals(self):
        """[(host, first unanswered probe, last unanswered probe)] for every stretch a worker was out."""
        intervals = []
        for host, samples in self.samples.items():
            start = last = None
            for moment, answered in sorted(samples):
                if not answered:
                    start = moment if start is None else start
                    last = moment
                elif start is not None:
                    intervals.append((host, start, last))
                    start = None
            if start is not None:
                intervals.append((host, start, last))
        return intervals

    def most_out(self):
        events = sorted([(start, 1) for _, start, _ in self.out_intervals()] +
                        [(end, -1) for _, _, end in self.out_intervals()], key=lambda event: (event[0], -event[1]))
        most = current = 0
        for _, change in events:
            current += change
            most = max(most, current)
        return most


def ansible(*args):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    started = time.monotonic()
    result = subprocess.run(["ansible-playbook", *args], cwd=ROOT, env=env, capture_output=True, text=True)
    return result, round(time.monotonic() - started, 1)


# Workers reset at once: twenty systemd boots at a time on two cores outlast any sane wait.
RESET_GROUP = 5


def affect_workers(config):
    """Every worker back on the affected kernel: the fixed one purged, then a reboot, a few at a time."""
    def back(host):
        exec_in(config.master(host), "sh", "-c", "apt-get purge -y -qq 'linux-*-%s' >/dev/null 2>&1; true" % FIXED,
                timeout=300)
        cluster.reboot(config, host)
        cluster.wait_containerd(config, host, timeout=300)
    workers = config.worker_hosts
    for start in range(0, len(workers), RESET_GROUP):
        cluster._on_each(workers[start:start + RESET_GROUP], back)


def one_run(config, variant, serial):
    affect_workers(config)
    workers = len(config.worker_hosts)
    size = batch_size(serial, workers)
    if variant == "kit":
        # The budget as large as the batch: the figures are the batch's, not the lab's budget of 2.
        args = ["remediate.yml", "-e", "etcd_kernel_worker_serial=%s" % serial, "-e", "etcd_kernel_node_budget=%d" % size]
    else:
        args = ["bench/naive_workers.yml", "-e", "naive_serial=%d" % size]
    with RuntimeMonitor(config) as monitor:
        time.sleep(2)  # every worker seen answering before the run
        result, wall = ansible(*args)
        time.sleep(3)
    booted = [exec_in(config.master(host), "cat", "/var/lib/lab/osrelease").stdout.strip() for host in config.worker_hosts]
    figures = {"variant": variant, "workers": workers, "serial": str(serial), "batch": size,
               "batches": -(-workers // size), "rc": result.returncode, "wall_s": wall,
               "most_out": monitor.most_out(), "all_fixed": booted == [FIXED] * workers}
    if result.returncode != 0:
        figures["tail"] = (result.stdout + result.stderr)[-1500:]
    print("  %s" % json.dumps(figures), flush=True)
    return figures


def lab_with(workers):
    cluster.down(log=lambda *_: None)
    os.environ["LAB_WORKERS"] = str(workers)
    config = cluster.up(log=lambda *_: None)
    # The masters once, so that each run below has only the workers to do.
    result, wall = ansible("remediate.yml", "-e", "etcd_kernel_node_group=etcd")
    print("  masters remediated first (rc %d, %.0f s)" % (result.returncode, wall), flush=True)
    return config


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--workers", default="10,20")
    parser.add_argument("--serials", default="1,2,25%")
    args = parser.parse_args()
    runs = []
    for workers in [int(n) for n in args.workers.split(",")]:
        print("%d workers" % workers, flush=True)
        config = lab_with(workers)
        for serial in args.serials.split(","):
            for variant in ("kit", "naive"):  # side by side, so a slow spell hits both alike
                runs.append(one_run(config, variant, serial))
    print()
    columns = ("workers", "serial", "batch", "batches", "kit s", "naive s", "overhead/batch", "kit out", "naive out")
    print("%8s %7s %6s %8s %10s %10s %16s %9s %9s" % columns)
    for kit in [run for run in runs if run["variant"] == "kit"]:
        naive = next(run for run in runs if run["variant"] == "naive" and run["workers"] == kit["workers"]
                     and run["serial"] == kit["serial"])
        print("%8d %7s %6d %8d %10.1f %10.1f %16.1f %9d %9d" % (
            kit["workers"], kit["serial"], kit["batch"], kit["batches"], kit["wall_s"], naive["wall_s"],
            (kit["wall_s"] - naive["wall_s"]) / kit["batches"], kit["most_out"], naive["most_out"]))
    print()
    for serial in args.serials.split(","):
        line = ["%s workers: %.1f s per worker" % (run["workers"], run["wall_s"] / run["workers"])
                for run in runs if run["variant"] == "kit" and run["serial"] == serial]
        print("kit, serial %s: %s" % (serial, "; ".join(line)))
    os.makedirs(os.path.join(ROOT, "reports"), exist_ok=True)
    with open(os.path.join(ROOT, "reports", "bench-workers.json"), "w") as handle:
        json.dump({"runs": runs}, handle, indent=2)
    print("written: reports/bench-workers.json")
    cluster.down(log=lambda *_: None)
    os.environ.pop("LAB_WORKERS", None)
    cluster.up(log=lambda *_: None)


if __name__ == "__main__":
    main()
