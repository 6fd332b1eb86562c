"""Detection and etcd health against the lab: modules run on the masters and the controller."""
import json
import os
import time

import pytest

from lab import cluster, faults
from lab.config import REPO_ROOT
from lab.docker import exec_in

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_client_ops import collect_health
from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_gateway import (
    gateway_client_factory)

from lab_helpers import recap, run_module, run_playbook

pytestmark = pytest.mark.lab

VOLATILE = ("raft_index", "applied_index", "raft_term", "db_size")


def node_tls(host):
    cert_dir = "/etc/ssl/etcd/ssl"
    return {"ca_file": cert_dir + "/ca.pem", "cert_file": "%s/admin-%s.pem" % (cert_dir, host),
            "key_file": "%s/admin-%s-key.pem" % (cert_dir, host)}


def controller_tls(lab):
    tls = lab.client_tls
    return {"ca_file": tls["ca"], "cert_file": tls["cert"], "key_file": tls["key"]}


def endpoints(lab):
    return [lab.client_url(host) for host in lab.hosts]


def health_on_master(tmp_path, lab, host="master1", **extra):
    args = dict(endpoints=endpoints(lab), **node_tls(host))
    args.update(extra)
    return run_module(tmp_path, host, "sre.etcd_kernel.etcd_health", args)


def stable(result):
    members = [dict((k, v) for k, v in m.items() if k not in VOLATILE) for m in result["members"]]
    cluster_view = dict((k, v) for k, v in result["cluster"].items() if k != "max_index_gap")
    return members, cluster_view


def test_both_backends_see_the_same_cluster(clean_lab, tmp_path):
    on_node = health_on_master(tmp_path, clean_lab)
    from_controller = run_module(tmp_path, "localhost", "sre.etcd_kernel.etcd_health",
                                 dict(endpoints=endpoints(clean_lab), backend="etcd3",
                                      **controller_tls(clean_lab)))
    assert stable(on_node) == stable(from_controller)
    assert on_node["cluster"]["healthy"] and on_node["cluster"]["member_count"] == 3
    assert [m["name"] for m in on_node["members"]] == ["etcd1", "etcd2", "etcd3"]


@pytest.mark.parametrize("fault", ["member_stopped", "member_frozen"])
def test_a_stopped_or_frozen_member_is_unhealthy_within_3s(clean_lab, tmp_path, fault):
    faults.inject(clean_lab, "master3", fault)
    started = time.monotonic()
    tls = clean_lab.client_tls
    result = collect_health(gateway_client_factory(tls["ca"], tls["cert"], tls["key"], 1.0),
                            endpoints(clean_lab), 1.0, 1000)
    elapsed = time.monotonic() - started
    etcd3 = [m for m in result["members"] if m["name"] == "etcd3"][0]
    assert not etcd3["healthy"] and etcd3["errors"]
    assert elapsed < 3.0, "the check took %.2fs" % elapsed
    assert result["cluster"]["quorum"] and not result["cluster"]["healthy"]
    on_node = health_on_master(tmp_path, clean_lab, "master1")
    assert [m["healthy"] for m in on_node["members"]] == [True, True, False]


def test_a_nospace_alarm_is_reported(clean_lab, tmp_path):
    faults.inject(clean_lab, "master2", "nospace_alarm")
    result = health_on_master(tmp_path, clean_lab)
    assert result["cluster"]["alarms"] == [{"member": "etcd2", "alarm": "NOSPACE"}]
    assert not result["cluster"]["healthy"]
    failed = health_on_master(tmp_path, clean_lab, fail_on="healthy")
    assert failed.get("failed") and "NOSPACE" in failed["msg"]


def test_wrong_ca_or_missing_client_certificate_is_a_clear_tls_error(clean_lab, tmp_path):
    # A real certificate, but not the CA that signed the members' certificates.
    wrong_ca = dict(node_tls("master1"), ca_file="/etc/ssl/etcd/ssl/node-master1.pem")
    result = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_health",
                        dict(endpoints=endpoints(clean_lab), **wrong_ca))
    assert result.get("failed") and "certificate verify failed" in result["msg"]
    assert "ca_file" in result["msg"] and "Traceback" not in json.dumps(result)
    missing = dict(node_tls("master1"), cert_file="/etc/ssl/etcd/ssl/admin-nobody.pem")
    result = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_health",
                        dict(endpoints=endpoints(clean_lab), **missing))
    assert result.get("failed") and "admin-nobody.pem" in result["msg"]
    assert "cert_file" in result["msg"]


def test_leadership_transfer_moves_the_leader_and_then_reports_unchanged(clean_lab, tmp_path):
    before = health_on_master(tmp_path, clean_lab)
    leader = before["cluster"]["leader_name"]
    target = [m["name"] for m in before["members"] if m["name"] != leader][0]
    args = dict(endpoints=endpoints(clean_lab), target=target, **node_tls("master1"))
    dry = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_leader", args, check=True)
    assert dry["changed"] and health_on_master(tmp_path, clean_lab)["cluster"]["leader_name"] == leader
    moved = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_leader", args)
    assert moved["changed"] and moved["leader"] == target and moved["previous_leader"] == leader
    assert health_on_master(tmp_path, clean_lab)["cluster"]["leader_name"] == target
    again = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_leader", args)
    assert not again["changed"] and again["leader"] == target
    unknown = run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_leader",
                         dict(args, target="etcd9"))
    assert unknown.get("failed") and "etcd1" in unknown["msg"]


def test_kernel_status_on_a_lab_master(affected_lab, tmp_path):
    result = run_module(tmp_path, "master2", "sre.etcd_kernel.kernel_status",
                        {"osrelease_path": "/var/lib/lab/osrelease"})
    assert result["running_release"] == "5.4.0-132-generic" and result["affected"]
    assert result["fixed_release_available"] == "5.4.0-136-generic"
    assert result["installed_releases"] == ["5.4.0-132-generic"]
    assert not result["changed"]


def kernels_and_packages(lab):
    return {host: (exec_in(lab.master(host), "cat", "/var/lib/lab/osrelease").stdout,
                   exec_in(lab.master(host), "dpkg-query", "-W", "linux-image-*").stdout,
                   cluster.boot_id_of(lab, host)) for host in lab.hosts}


@pytest.mark.parametrize("mode", [[], ["--check"]])
def test_detect_lists_three_affected_masters_and_changes_nothing(affected_lab, mode):
    clean_lab = affected_lab
    before = kernels_and_packages(clean_lab)
    result = run_playbook("playbooks/detect.yml", *mode)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    totals = recap(result.stdout)
    assert all(totals[host]["changed"] == 0 for host in clean_lab.hosts), totals
    assert kernels_and_packages(clean_lab) == before
    with open(os.path.join(REPO_ROOT, "reports", "latest-detect.json")) as handle:
        report = json.load(handle)
    assert [h["host"] for h in report["hosts"] if h["affected"]] == clean_lab.hosts
    assert [step["host"] for step in report["plan"]][-1] == [
        h["host"] for h in report["hosts"] if h["member_state"]["is_leader"]][0]
    assert all(step["to"] == "5.4.0-136-generic" for step in report["plan"])


def test_detect_covers_the_workers_and_calls_a_hung_or_timing_out_runtime_symptomatic(affected_lab):
    lab = affected_lab
    assert len(lab.worker_hosts) >= 2, "the lab runs two workers unless LAB_WORKERS says otherwise"
    hung, timing_out = lab.worker_hosts[:2]
    faults.inject(lab, hung, "containerd_frozen")
    faults.inject(lab, timing_out, "runtime_timeouts", count=3)
    try:
        result = run_playbook("playbooks/detect.yml", "-e", "etcd_kernel_runtime_timeout_s=2",
                              "-e", "etcd_kernel_worker_serial=50%")
    finally:
        faults.clear(lab, hung, "containerd_frozen")
        faults.clear(lab, timing_out, "runtime_timeouts")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert all(totals["changed"] == 0 for totals in recap(result.stdout).values())
    with open(os.path.join(REPO_ROOT, "reports", "latest-detect.json")) as handle:
        report = json.load(handle)
    assert [h["host"] for h in report["hosts"]] == lab.hosts
    nodes = dict((node["host"], node) for node in report["nodes"])
    assert sorted(nodes) == sorted(lab.worker_hosts)
    for host, node in nodes.items():
        assert (node["role"], node["member"], node["status"], node["target"]) == (
            "worker", None, "affected", "5.4.0-136-generic"), node
        assert node["runtime"]["present"] and node["runtime"]["active"] == "active"
        # A worker's masked etcd unit (the package is the masters') runs no member: no claim to refuse.
        assert node["claim_problems"] == [] and node["observed"]["etcd_layout"] is None, node
    assert nodes[hung]["runtime"]["answering"] is False and nodes[hung]["symptoms"]["symptomatic"]
    assert nodes[hung]["runtime"]["answer_s"] == 2
    assert nodes[timing_out]["runtime"]["answering"] is True
    assert nodes[timing_out]["runtime"]["journal"]["timeouts"] == 3
    assert nodes[timing_out]["symptoms"]["reasons"] == ["runtime timeouts in the journal: 3"]
    for host in lab.worker_hosts[2:]:
        assert nodes[host]["symptoms"] == {"symptomatic": False, "reasons": []}
    # The masters' containerd is installed, not their runtime: nothing to judge there.
    assert all(host["runtime"]["present"] is False for host in report["hosts"])
    # The etcd members' plan is theirs alone; the workers come after them, half at a time.
    assert sorted(step["host"] for step in report["plan"]) == sorted(lab.hosts)
    half = max(1, len(lab.worker_hosts) // 2)
    assert [(step["batch"], step["host"]) for step in report["node_plan"]] == [
        (index // half + 1, host) for index, host in enumerate(lab.worker_hosts)]
