"""How long one full etcd cluster health check takes, per backend, on the lab.

Prints the median (and spread) of:
  gateway   the kit's check over etcd's JSON gateway (what etcd_health runs on a node)
  etcd3     the kit's check through the python-etcd3 API (gRPC, from the controller)
  ansible   `ansible master1 -m sre.etcd_kernel.etcd_health`: the same check with
            Ansible's ssh round trip and module transfer around it
  etcdctl   `docker exec etcd1 etcdctl endpoint health --cluster`, for comparison
The kit's checks also read member list, status (raft index, leader) and alarms,
which `etcdctl endpoint health` does not. A benchmark prints; it never fails on a
slow machine. Usage: python -m bench.health_check [--runs N]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path[:0] = [os.path.join(ROOT, "collections"), ROOT]

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import collect_health  # noqa: E402
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_gateway import gateway_client_factory  # noqa: E402
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_pyclient import grpc_client_factory  # noqa: E402
from lab import cluster  # noqa: E402


def timed(action, runs):
    action()  # warm-up: imports, first TLS session
    durations = []
    for _ in range(runs):
        started = time.perf_counter()
        action()
        durations.append(time.perf_counter() - started)
    return durations


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    lab = cluster.current_config()
    tls = lab.client_tls
    endpoints = [lab.client_url(host) for host in lab.hosts]
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    env["PATH"] = os.path.join(ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    node_args = json.dumps({"endpoints": endpoints, "ca_file": "/etc/ssl/etcd/ssl/ca.pem",
                            "cert_file": "/etc/ssl/etcd/ssl/admin-master1.pem",
                            "key_file": "/etc/ssl/etcd/ssl/admin-master1-key.pem",
                            "fail_on": "healthy"})

    def kit_check(factory):
        def check():
            health = collect_health(factory(tls["ca"], tls["cert"], tls["key"], 1.0), endpoints)
            assert health["cluster"]["healthy"], health["cluster"]
        return check

    def command(argv):
        def run():
            subprocess.run(argv, check=True, capture_output=True, env=env, cwd=ROOT)
        return run

    variants = [
        ("gateway", "kit check, JSON gateway (stdlib)", kit_check(gateway_client_factory)),
        ("etcd3", "kit check, python-etcd3 API (gRPC)", kit_check(grpc_client_factory)),
        ("ansible", "ansible master1 -m etcd_health", command(
            ["ansible", "master1", "-m", "sre.etcd_kernel.etcd_health", "-a", node_args])),
        ("etcdctl", "docker exec etcd1 etcdctl endpoint health --cluster", command(
            ["docker", "exec", lab.etcd_container("master1"), "etcdctl", "endpoint", "health",
             "--cluster"])),
    ]
    results = {}
    print("one full cluster health check on the lab, %d runs each" % args.runs)
    print("%-8s %-52s %9s %9s %9s" % ("variant", "what", "median", "min", "max"))
    for name, what, action in variants:
        durations = timed(action, args.runs)
        results[name] = {"what": what, "runs": args.runs,
                         "median_s": round(statistics.median(durations), 4),
                         "min_s": round(min(durations), 4), "max_s": round(max(durations), 4)}
        print("%-8s %-52s %8.3fs %8.3fs %8.3fs" % (name, what, results[name]["median_s"],
                                                   results[name]["min_s"], results[name]["max_s"]))
    os.makedirs(os.path.join(ROOT, "reports"), exist_ok=True)
    with open(os.path.join(ROOT, "reports", "bench-health.json"), "w") as handle:
        json.dump(results, handle, indent=2)
    print("written: reports/bench-health.json")


if __name__ == "__main__":
    main()
