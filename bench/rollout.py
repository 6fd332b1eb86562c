"""How available etcd stays during a rollout, and how little time the kit adds.

For each variant, from the same fresh lab (three masters on 5.4.0-132), under the
writer (50 writes/s through all members) and the monitor:
  kit          ansible-playbook remediate.yml (the masters alone)
  kit-no-lead  the same with etcd_kernel_leader_handoff_enabled=false
  naive        bench/naive.yml: serial 1, install, reboot, wait for port 2379
Prints a table and writes reports/bench.json: per variant the median and worst of
wall time, summed member downtime (monitor), overhead (wall time minus the time
members were necessarily out), failed writes, max and p99 write latency, leader
changes, the leadership transfers the kit made, seconds without quorum and gate lag
(member healthy again -> the kit moves on; kit variants only). Below the table, the
tasks that took the most wall time. A benchmark prints figures; it never fails on a slow machine.
Usage: python -m bench.rollout [--runs N] [--variants kit,naive]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)

from lab import cluster, witness  # noqa: E402

# The control plane alone, as naive.yml does it: no node outside the etcd group is in the
# kit's run (etcd_kernel_node_group=etcd leaves none; bench/workers.py measures the workers).
VARIANTS = {
    "kit": ["remediate.yml", "-e", "etcd_kernel_node_group=etcd"],
    "kit-no-lead": ["remediate.yml", "-e", "etcd_kernel_node_group=etcd", "-e", "etcd_kernel_leader_handoff_enabled=false"],
    "naive": ["bench/naive.yml"],
}
METRICS = ("wall_s", "downtime_s", "overhead_s", "overhead_per_host_s", "failed_writes", "max_latency_ms",
           "p99_latency_ms", "leader_changes", "transfers", "no_quorum_s", "gate_lag_s")
TOP_TASKS = 12
TASK_TIMES = os.path.join(ROOT, ".lab", "bench-task-times.json")


def member_up_times(monitor):
    """{member: [epoch seconds when a down stretch ended]} from the monitor's samples."""
    ups = {}
    previous = {}
    for sample in monitor["samples"]:
        for member, is_up in sample["up"].items():
            if is_up and previous.get(member) is False:
                ups.setdefault(member, []).append(monitor["started"] + sample["t"])
            previous[member] = is_up
    return ups


def gate_lags(report, monitor):
    """Seconds from each member being healthy again (monitor) to the kit seeing it (report)."""
    ups = member_up_times(monitor)
    lags = []
    for host in report.get("hosts", []):
        healthy_at = host.get("healthy_at")  # epoch seconds (a number)
        if healthy_at is None:
            continue
        candidates = [t for t in ups.get(host["member"], []) if t <= healthy_at + 0.5]
        if candidates:
            lags.append(max(0.0, healthy_at - candidates[-1]))
    return lags


def task_at(timeline, moment):
    """The task that had started last at moment (epoch seconds), or "before the play"."""
    name = "before the first task"
    for started, task in timeline:
        if started > moment:
            break
        name = task
    return name


def one_run(variant, log):
    cluster.down(log=lambda *_: None)
    config = cluster.up(log=lambda *_: None)
    witness.start(config, rate=50.0)
    time.sleep(2)  # a baseline before the rollout starts
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"),
               ANSIBLE_CALLBACK_PLUGINS=os.path.join(ROOT, "bench", "callback_plugins"),
               ANSIBLE_CALLBACKS_ENABLED="task_times", BENCH_TASK_TIMES=TASK_TIMES)
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    try:
        started = time.monotonic()
        result = subprocess.run(["ansible-playbook", *VARIANTS[variant]], cwd=ROOT, env=env,
                                capture_output=True, text=True)
        wall = time.monotonic() - started
        time.sleep(2)
    finally:
        records = witness.stop(config)
    with open(TASK_TIMES) as handle:
        task_times = json.load(handle)
    task_seconds = task_times["seconds"]
    monitor, writer = records["monitor"], records["writer"]
    for write in writer["slowest"]:
        write["during"] = task_at(task_times["timeline"], writer["started"] + write["t"])
    downtime = sum(monitor["downtime_s"].values())
    figures = {
        "rc": result.returncode,
        "wall_s": round(wall, 1),
        "downtime_s": round(downtime, 1),
        "overhead_s": round(wall - downtime, 1),
        "overhead_per_host_s": round((wall - downtime) / len(config.hosts), 1),
        "failed_writes": writer["failed"],
        "lost_writes": writer["lost"],
        "max_latency_ms": writer["latency_ms"]["max"],
        "p99_latency_ms": writer["latency_ms"]["p99"],
        "leader_changes": monitor["leader_changes"],
        "no_quorum_s": monitor["seconds_without_quorum"],
        "max_down": monitor["max_down"],
        "gate_lag_s": None,
        "transfers": None,
        "slowest_writes": writer["slowest"],
        "task_seconds": task_seconds,
    }
    if variant.startswith("kit"):
        with open(os.path.join(ROOT, "reports", "latest.json")) as handle:
            report = json.load(handle)
        lags = gate_lags(report, monitor)
        figures["gate_lag_s"] = round(statistics.median(lags), 2) if lags else None
        figures["transfers"] = sum(1 for h in report["hosts"] if h.get("leader_transferred"))
    log("  %-12s %s" % (variant, json.dumps({k: v for k, v in figures.items() if k != "task_seconds"})))
    return figures


def summarise(runs):
    summary = {}
    for metric in METRICS:
        values = [r[metric] for r in runs if r.get(metric) is not None]
        summary[metric] = {"median": round(statistics.median(values), 2) if values else None,
                           "worst": max(values) if values else None}
    tasks = set(name for r in runs for name in r["task_seconds"])
    medians = {name: round(statistics.median(r["task_seconds"].get(name, 0.0) for r in runs), 2) for name in tasks}
    summary["slowest_tasks"] = dict(sorted(medians.items(), key=lambda item: -item[1])[:TOP_TASKS])
    return summary


def print_table(table, variants):
    print()
    print("%-20s" % "median (worst)" + "".join("%18s" % v for v in variants))
    for metric in METRICS:
        cells = []
        for variant in variants:
            cell = table[variant][metric]
            cells.append("-" if cell["median"] is None else "%s (%s)" % (cell["median"], cell["worst"]))
        print("%-20s" % metric + "".join("%18s" % c for c in cells))
    for variant in variants:
        print()
        print("where %s's time goes (median wall seconds per run, per task):" % variant)
        for name, seconds in table[variant]["slowest_tasks"].items():
            print("  %7.2f  %s" % (seconds, name))


def main():
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args()
    variants = args.variants.split(",")
    results = {variant: [] for variant in variants}
    for run in range(1, args.runs + 1):
        print("run %d of %d" % (run, args.runs), flush=True)
        for variant in variants:  # interleaved, so a slow spell hits every variant alike
            results[variant].append(one_run(variant, lambda line: print(line, flush=True)))
    table = {variant: summarise(runs) for variant, runs in results.items()}
    print_table(table, variants)
    os.makedirs(os.path.join(ROOT, "reports"), exist_ok=True)
    with open(os.path.join(ROOT, "reports", "bench.json"), "w") as handle:
        json.dump({"summary": table, "runs": results}, handle, indent=2)
    print("written: reports/bench.json")
    cluster.down(log=lambda *_: None)
    cluster.up(log=lambda *_: None)  # leave the lab as a fresh one, as make lab-up would


if __name__ == "__main__":
    main()
