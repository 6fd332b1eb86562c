"""The lab is real: TLS etcd, sshd, apt, reboots and faults do what they say."""
import json
import os
import ssl
import subprocess
import sys
import time

import pytest

from lab import cluster, faults
from lab.config import REPO_ROOT, LabConfig, LabError
from lab.docker import docker, exec_in, inspect, is_running
from lab.etcd_http import Client, EtcdHTTPError

from lab_helpers import apt_timers_state, wait_for

pytestmark = pytest.mark.lab


def member_up(lab, host):
    return cluster.member_states(lab)[host]["up"]


def run_lab(*args):
    return subprocess.run([sys.executable, "-m", "lab", *args], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=300)


def apt_offers(lab, host, package):
    result = exec_in(lab.master(host), "apt-cache", "policy", package)
    return "Candidate: (none)" not in result.stdout and result.stdout.strip() != ""


def test_three_started_healthy_members_with_one_leader(clean_lab):
    states = cluster.member_states(clean_lab)
    assert sorted(states) == ["master1", "master2", "master3"]
    assert all(state["up"] for state in states.values())
    assert len({state["leader"] for state in states.values()}) == 1
    assert all(state["version"].startswith("3.4.") for state in states.values())
    members = Client(clean_lab.client_tls).members(clean_lab.client_url("master1"))
    assert sorted(m["name"] for m in members) == ["etcd1", "etcd2", "etcd3"]


def test_client_without_certificate_is_refused(clean_lab):
    client = Client(clean_lab.client_tls)
    client.context = ssl.create_default_context(cafile=clean_lab.client_tls["ca"])
    with pytest.raises(EtcdHTTPError):
        client.status(clean_lab.client_url("master1"))


def test_kubespray_certificate_layout_on_each_master(clean_lab):
    listing = exec_in(clean_lab.master("master2"), "ls", "/etc/ssl/etcd/ssl").stdout.split()
    for name in ("ca.pem", "member-master2.pem", "member-master2-key.pem", "admin-master2.pem",
                 "admin-master2-key.pem", "node-master2.pem", "node-master2-key.pem"):
        assert name in listing


def test_etcdctl_beside_the_member_sees_the_cluster(clean_lab):
    result = docker("exec", clean_lab.etcd_process_container("master1"), "bash", "-c",
                    "set -a; . /etc/etcd.env; etcdctl endpoint health --cluster")
    output = result.stdout + result.stderr  # etcdctl 3.4 reports health on stderr
    assert output.count("is healthy") == 3, output


def test_masters_run_systemd_with_kubesprays_etcd_unit_and_timing(clean_lab):
    for host in clean_lab.hosts:
        master = clean_lab.master(host)
        assert exec_in(master, "systemctl", "is-system-running", check=False).stdout.strip() == "running"
        assert exec_in(master, "systemctl", "is-active", "etcd").stdout.strip() == "active"
        unit = exec_in(master, "systemctl", "cat", "etcd").stdout
        assert "Restart=always" in unit
        environment = exec_in(master, "cat", "/etc/etcd.env").stdout
        assert "ETCD_HEARTBEAT_INTERVAL=250\n" in environment
        assert "ETCD_ELECTION_TIMEOUT=5000\n" in environment
        assert "ETCD_PRE_VOTE" not in environment
        if clean_lab.layout == "docker":
            # kubespray's wrapper: a foreground docker run, the container removed before each start.
            assert "ExecStartPre=-/usr/bin/docker rm -f %s\n" % clean_lab.etcd_container(host) in unit
            assert is_running(clean_lab.etcd_container(host))
        else:
            assert "Type=notify" in unit
            assert exec_in(master, "pgrep", "-x", "etcd", check=False).returncode == 0


def test_ssh_as_the_normal_user_only_and_the_certificates_need_root(clean_lab):
    ssh = ["ssh", "-i", clean_lab.path("ssh", "id_ed25519"), "-o", "BatchMode=yes",
           "-o", "UserKnownHostsFile=" + clean_lab.path("ssh", "known_hosts")]
    user = subprocess.run(ssh + ["ubuntu@" + clean_lab.ip("master1"), "id -un; ls /etc/ssl/etcd/ssl; sudo -n id -un"],
                          capture_output=True, text=True, timeout=60)
    assert user.stdout.split()[0] == "ubuntu" and user.stdout.split()[-1] == "root", user.stdout + user.stderr
    assert "Permission denied" in user.stderr  # kubespray's certificate folder is root's only
    root = subprocess.run(ssh + ["root@" + clean_lab.ip("master1"), "true"],
                          capture_output=True, text=True, timeout=60)
    assert root.returncode != 0 and "Permission denied" in root.stderr


def test_reboot_changes_boot_id_and_takes_the_member_out_until_boot(clean_lab):
    kernel = exec_in(clean_lab.master("master2"), "cat", "/var/lib/lab/osrelease").stdout.strip()
    before = cluster.boot_id_of(clean_lab, "master2")
    cluster.reboot(clean_lab, "master2", wait=False)
    wait_for(lambda: not member_up(clean_lab, "master2"), 10, what="master2's member to go down")
    after = cluster.wait_booted(clean_lab, "master2", timeout=60, previous_boot_id=before)
    assert after != before
    wait_for(lambda: member_up(clean_lab, "master2"), 30, what="boot to bring etcd2 back")
    # Nothing new installed: the same kernel boots again.
    assert exec_in(clean_lab.master("master2"), "cat", "/var/lib/lab/osrelease").stdout.strip() == kernel


def test_stuck_after_boot_accepts_connections_but_answers_nothing_until_restarted(clean_lab):
    faults.inject(clean_lab, "master3", "stuck_after_boot")
    cluster.reboot(clean_lab, "master3")
    wait_for(lambda: exec_in(clean_lab.master("master3"), "systemctl", "is-active", "--quiet", "etcd",
                             check=False).returncode == 0, 30, what="etcd.service to start")
    time.sleep(3)
    assert cluster._port_open(clean_lab.ip("master3"), 2379)  # TCP accepts...
    assert not member_up(clean_lab, "master3")                # ...and nothing answers
    exec_in(clean_lab.master("master3"), "systemctl", "restart", "etcd", timeout=60)
    wait_for(lambda: member_up(clean_lab, "master3"), 30, what="etcd3 after systemctl restart etcd")


def test_apt_on_a_master_sees_the_fixed_kernels(clean_lab):
    for abi in (135, 136):
        assert apt_offers(clean_lab, "master1", "linux-image-5.4.0-%d-generic" % abi)
    installed = exec_in(clean_lab.master("master1"), "dpkg-query", "-W", "-f",
                        "${Package} ${Status}\n", "linux-image-*").stdout
    assert "linux-image-5.4.0-132-generic install ok installed" in installed


def test_kernel_packages_are_split_as_ubuntu_splits_them(clean_lab):
    master = clean_lab.master("master1")
    installed = exec_in(master, "dpkg-query", "-W", "-f", "${Package} ${Status}\n", "linux-*").stdout
    for package in ("linux-image", "linux-modules", "linux-modules-extra", "linux-headers"):
        assert "%s-5.4.0-132-generic install ok installed" % package in installed
    depends = exec_in(master, "apt-cache", "depends", "linux-image-5.4.0-136-generic").stdout
    assert "Depends: linux-modules-5.4.0-136-generic" in depends
    assert apt_offers(clean_lab, "master1", "linux-generic")
    assert exec_in(master, "test", "-e", "/boot/initrd.img-5.4.0-132-generic", check=False).returncode == 0


def test_installing_a_fixed_kernel_and_rebooting_boots_it(affected_lab):
    master = affected_lab.master("master1")
    exec_in(master, "apt-get", "install", "-y", "-qq", "linux-image-5.4.0-135-generic",
            "linux-modules-extra-5.4.0-135-generic")
    assert exec_in(master, "test", "-e", "/run/reboot-required", check=False).returncode == 0
    assert exec_in(master, "test", "-e", "/boot/initrd.img-5.4.0-135-generic", check=False).returncode == 0
    cluster.reboot(affected_lab, "master1")
    assert exec_in(master, "cat", "/var/lib/lab/osrelease").stdout.strip() == "5.4.0-135-generic"
    assert exec_in(master, "test", "-e", "/run/reboot-required", check=False).returncode != 0
    wait_for(lambda: member_up(affected_lab, "master1"), 30, what="etcd1 after the reboot")
    # Put the lab back on the affected kernel for the tests that follow.
    exec_in(master, "apt-get", "purge", "-y", "-qq", "linux-image-5.4.0-135-generic")
    cluster.reboot(affected_lab, "master1")


def test_a_kernel_booted_without_its_modules_extra_has_no_network(affected_lab):
    master = affected_lab.master("master2")
    before = cluster.boot_id_of(affected_lab, "master2")
    exec_in(master, "apt-get", "install", "-y", "-qq", "linux-image-5.4.0-135-generic")  # image and modules only
    cluster.reboot(affected_lab, "master2", wait=False)
    wait_for(lambda: cluster.boot_id_of(affected_lab, "master2") not in (None, before), 60, what="master2's boot")
    assert exec_in(master, "cat", "/var/lib/lab/osrelease").stdout.strip() == "5.4.0-135-generic"
    time.sleep(2)
    assert not cluster._port_open(affected_lab.ip("master2"), 22)
    assert not member_up(affected_lab, "master2")
    exec_in(master, "apt-get", "purge", "-y", "-qq", "linux-image-5.4.0-135-generic")
    cluster.reboot(affected_lab, "master2")
    wait_for(lambda: member_up(affected_lab, "master2"), 30, what="etcd2 back on 5.4.0-132 with its network")


def test_never_recovers_keeps_etcd_down_even_after_a_restart(clean_lab):
    faults.inject(clean_lab, "master2", "never_recovers")
    cluster.restart_etcd(clean_lab, "master2")
    time.sleep(3)
    assert not member_up(clean_lab, "master2")
    faults.clear(clean_lab, "master2", "never_recovers")
    wait_for(lambda: member_up(clean_lab, "master2"), 30, what="etcd2 after clearing")


def test_member_stopped_and_cleared(clean_lab):
    faults.inject(clean_lab, "master1", "member_stopped")
    assert exec_in(clean_lab.master("master1"), "systemctl", "is-active", "etcd", check=False).stdout.strip() \
        == "inactive"
    assert not member_up(clean_lab, "master1")
    faults.clear(clean_lab, "master1", "member_stopped")
    wait_for(lambda: member_up(clean_lab, "master1"), 30, what="etcd1 after clearing")


def test_member_frozen_is_up_but_answers_nothing(clean_lab):
    faults.inject(clean_lab, "master3", "member_frozen")
    assert exec_in(clean_lab.master("master3"), "systemctl", "is-active", "etcd").stdout.strip() == "active"
    started = time.monotonic()
    assert not member_up(clean_lab, "master3")
    assert time.monotonic() - started < 3
    faults.clear(clean_lab, "master3", "member_frozen")
    wait_for(lambda: member_up(clean_lab, "master3"), 15, what="etcd3 after thawing")


def test_nospace_alarm_raised_and_cleared(clean_lab):
    client = Client(clean_lab.client_tls)
    url = clean_lab.client_url("master1")
    faults.inject(clean_lab, "master2", "nospace_alarm")
    alarms = client.alarms(url)
    assert [a["alarm"] for a in alarms] == ["NOSPACE"]
    with pytest.raises(EtcdHTTPError):
        client.put(url, "/etcdlab/test/nospace", "x")
    faults.clear(clean_lab, "master2", "nospace_alarm")
    assert client.alarms(url) == []
    client.put(url, "/etcdlab/test/nospace", "x")


def test_modules_extra_missing_hides_only_the_fixed_kernels_modules_extra(affected_lab):
    faults.inject(affected_lab, "master3", "modules_extra_missing")
    assert apt_offers(affected_lab, "master3", "linux-image-5.4.0-136-generic")
    assert not apt_offers(affected_lab, "master3", "linux-modules-extra-5.4.0-136-generic")
    faults.clear(affected_lab, "master3", "modules_extra_missing")
    assert apt_offers(affected_lab, "master3", "linux-modules-extra-5.4.0-136-generic")


def test_kernel_missing_hides_the_fixed_kernels_from_that_host_only(affected_lab):
    faults.inject(affected_lab, "master2", "kernel_missing")
    assert not apt_offers(affected_lab, "master2", "linux-image-5.4.0-135-generic")
    assert not apt_offers(affected_lab, "master2", "linux-image-5.4.0-136-generic")
    assert apt_offers(affected_lab, "master1", "linux-image-5.4.0-136-generic")
    faults.clear(affected_lab, "master2", "kernel_missing")
    assert apt_offers(affected_lab, "master2", "linux-image-5.4.0-136-generic")


def test_boot_never_returns_until_cleared(clean_lab):
    before = cluster.boot_id_of(clean_lab, "master3")
    faults.inject(clean_lab, "master3", "boot_never_returns")
    cluster.reboot(clean_lab, "master3", wait=False)
    time.sleep(clean_lab.boot_delay + 4)
    assert not cluster._port_open(clean_lab.ip("master3"), 22)
    faults.clear(clean_lab, "master3", "boot_never_returns")
    assert cluster.wait_booted(clean_lab, "master3", timeout=30, previous_boot_id=before) != before


def test_slow_boot_takes_the_given_time(clean_lab):
    faults.inject(clean_lab, "master1", "slow_boot", seconds=8)
    started = time.monotonic()
    cluster.reboot(clean_lab, "master1")
    assert time.monotonic() - started >= 8


def test_masters_run_unattended_upgrades_timers_and_a_boot_starts_them(clean_lab):
    master = clean_lab.master("master1")
    assert exec_in(master, "dpkg-query", "-W", "-f", "${Status}", "unattended-upgrades").stdout == "install ok installed"
    assert apt_timers_state(clean_lab, "master1") == "active,active"
    exec_in(master, "systemctl", "stop", "apt-daily.timer", "apt-daily-upgrade.timer")
    assert apt_timers_state(clean_lab, "master1") == "inactive,inactive"
    cluster.reboot(clean_lab, "master1")
    assert apt_timers_state(clean_lab, "master1") == "active,active"


def test_unattended_upgrade_running_runs_for_the_given_time_until_cleared(clean_lab):
    master = clean_lab.master("master2")

    def upgrade_state():
        return exec_in(master, "systemctl", "is-active", "apt-daily-upgrade.service", check=False).stdout.strip()

    faults.inject(clean_lab, "master2", "unattended_upgrade_running", seconds=4)
    assert upgrade_state() == "activating"
    wait_for(lambda: upgrade_state() == "inactive", timeout=30, what="the upgrade to end by itself")
    faults.inject(clean_lab, "master2", "unattended_upgrade_running", seconds=60)
    faults.clear(clean_lab, "master2", "unattended_upgrade_running")
    assert upgrade_state() == "inactive"
    assert exec_in(master, "test", "-e", faults.UPGRADE_DROP_IN_DIR, check=False).returncode != 0
    assert exec_in(master, "systemctl", "is-system-running", check=False).stdout.strip() == "running"


def test_flapping_member_goes_down_and_comes_back_repeatedly(affected_lab):
    faults.inject(affected_lab, "master2", "flapping", period=2, freeze=3)
    wait_for(lambda: not member_up(affected_lab, "master2"), 15, what="a flap")
    wait_for(lambda: member_up(affected_lab, "master2"), 15, what="recovery after a flap")
    faults.clear(affected_lab, "master2", "flapping")


def test_writer_and_monitor_write_their_json(clean_lab, tmp_path):
    writer_out, monitor_out = tmp_path / "writer.json", tmp_path / "monitor.json"
    monitor = subprocess.Popen([sys.executable, "-m", "lab", "monitor", "--duration", "6",
                                "--out", str(monitor_out)], cwd=REPO_ROOT)
    writer = run_lab("writer", "--rate", "50", "--duration", "4", "--out", str(writer_out))
    assert monitor.wait(timeout=30) == 0 and writer.returncode == 0, writer.stderr
    written = json.loads(writer_out.read_text())
    assert written["acked"] >= 150 and written["failed"] == 0 and written["lost"] == 0
    assert written["read_back"] is True and written["latency_ms"]["p99"] is not None
    watched = json.loads(monitor_out.read_text())
    assert watched["sample_count"] >= 20
    assert watched["max_down"] == 0 and watched["seconds_without_quorum"] == 0
    assert set(watched["samples"][0]["up"]) == {"etcd1", "etcd2", "etcd3"}


def test_monitor_records_a_member_down(clean_lab, tmp_path):
    out = tmp_path / "monitor.json"
    monitor = subprocess.Popen([sys.executable, "-m", "lab", "monitor", "--duration", "5",
                                "--out", str(out)], cwd=REPO_ROOT)
    time.sleep(1)
    faults.inject(clean_lab, "master3", "member_stopped")
    assert monitor.wait(timeout=30) == 0
    watched = json.loads(out.read_text())
    assert watched["max_down"] == 1 and watched["seconds_without_quorum"] == 0
    assert watched["downtime_s"]["etcd3"] > 1


def test_ansible_connects_as_the_normal_user_with_no_flags(clean_lab):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"))
    env["PATH"] = os.path.join(REPO_ROOT, ".venv", "bin") + os.pathsep + env["PATH"]
    result = subprocess.run(["ansible", "-m", "ansible.builtin.command", "-a", "id -un", "all"], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    nodes = len(clean_lab.nodes)  # the masters and the workers
    assert clean_lab.worker_hosts and nodes > 3
    assert result.stdout.count("CHANGED") == nodes and result.stdout.count("\nubuntu") == nodes, result.stdout


def test_unknown_fault_or_host_is_refused_and_changes_nothing(clean_lab):
    result = run_lab("fault", "master9", "stuck_after_boot")
    assert result.returncode == 2 and "unknown host 'master9'" in result.stderr
    result = run_lab("fault", "master1", "gremlins")
    assert result.returncode == 2 and "unknown fault 'gremlins'" in result.stderr
    assert "stuck_after_boot" in result.stderr
    result = run_lab("fault", "worker1", "member_frozen")
    assert result.returncode == 2 and "worker1 is a worker" in result.stderr
    result = run_lab("fault", "master1", "containerd_frozen")
    assert result.returncode == 2 and "master1 is a master" in result.stderr
    assert all(not faults.active(clean_lab, host) for host in clean_lab.nodes)


def test_names_or_subnet_taken_by_others_are_refused(clean_lab):
    clashing = LabConfig(prefix="clash-", subnet=clean_lab.subnet)
    with pytest.raises(LabError, match="overlaps docker network"):
        cluster._check_collisions(clashing)
    docker("create", "--name", "clash-etcdlab-mirror", cluster.image.image_tag(), "true")
    try:
        with pytest.raises(LabError, match="exists and is not the lab's"):
            cluster._check_collisions(LabConfig(prefix="clash-", subnet="172.29.199.0/24"))
    finally:
        docker("rm", "-f", "clash-etcdlab-mirror")
    assert inspect("clash-etcdlab", "network") is None


# Workers (kubespray's kube_node) ---------------------------------------------------

def ctr_version_over_ssh(lab, host):
    """`sudo ctr version` on host over ssh as the normal user, bounded as a probe must be."""
    ssh = ["ssh", "-i", lab.path("ssh", "id_ed25519"), "-o", "BatchMode=yes",
           "-o", "UserKnownHostsFile=" + lab.path("ssh", "known_hosts"), "ubuntu@" + lab.ip(host)]
    return subprocess.run(ssh + ["sudo -n timeout 5 ctr version"], capture_output=True, text=True, timeout=60)


def test_workers_run_containerd_as_their_runtime_and_no_etcd(clean_lab):
    assert clean_lab.worker_hosts, "the lab runs workers unless LAB_WORKERS=0"
    for host in clean_lab.worker_hosts:
        worker = clean_lab.master(host)
        assert exec_in(worker, "systemctl", "is-system-running", check=False).stdout.strip() == "running"
        assert exec_in(worker, "systemctl", "is-active", "containerd").stdout.strip() == "active"
        assert exec_in(worker, "systemctl", "is-enabled", "etcd", check=False).stdout.strip() == "masked"
        assert exec_in(worker, "pgrep", "-x", "etcd", check=False).returncode != 0
        answer = ctr_version_over_ssh(clean_lab, host)
        assert answer.returncode == 0 and "Server:" in answer.stdout, answer.stdout + answer.stderr
        assert apt_offers(clean_lab, host, "linux-image-5.4.0-135-generic")
    # No master runs containerd: the docker layout's etcd runs in the lab's engine.
    assert exec_in(clean_lab.master("master1"), "systemctl", "is-enabled", "containerd",
                   check=False).stdout.strip() == "disabled"


def test_containerd_frozen_accepts_connections_but_answers_nothing_until_cleared(clean_lab):
    faults.inject(clean_lab, "worker1", "containerd_frozen")
    assert not cluster.containerd_answers(clean_lab, "worker1", timeout=3)
    # The socket still accepts: the kernel queues the connection the stopped daemon never serves.
    connect = ("import socket; s = socket.socket(socket.AF_UNIX); s.settimeout(2);"
               " s.connect('/run/containerd/containerd.sock'); print('accepted')")
    assert exec_in(clean_lab.master("worker1"), "python3", "-c", connect).stdout.strip() == "accepted"
    assert ctr_version_over_ssh(clean_lab, "worker1").returncode != 0
    assert cluster.containerd_answers(clean_lab, "worker2")
    assert cluster.status()["healthy"] is False
    faults.clear(clean_lab, "worker1", "containerd_frozen")
    assert cluster.containerd_answers(clean_lab, "worker1")
    assert cluster.status()["healthy"] is True


def test_containerd_stuck_after_boot_comes_up_active_and_frozen_until_cleared(clean_lab):
    faults.inject(clean_lab, "worker1", "containerd_stuck_after_boot")
    try:
        cluster.reboot(clean_lab, "worker1")
        worker = clean_lab.master("worker1")
        assert exec_in(worker, "systemctl", "is-active", "containerd", check=False).stdout.strip() == "active"
        assert not cluster.containerd_answers(clean_lab, "worker1", timeout=3)
    finally:
        faults.clear(clean_lab, "worker1", "containerd_stuck_after_boot")
    assert cluster.containerd_answers(clean_lab, "worker1")


def test_runtime_timeouts_land_in_containerds_own_journal_until_cleared(clean_lab):
    worker = clean_lab.master("worker2")
    unit_journal = ["journalctl", "--unit", "containerd.service", "--output", "cat", "--no-pager"]
    faults.inject(clean_lab, "worker2", "runtime_timeouts", count=2)
    try:
        logged = exec_in(worker, *unit_journal).stdout
        assert logged.count("context deadline exceeded") == 2, logged[-2000:]
        assert cluster.containerd_answers(clean_lab, "worker2"), "the timeouts are logged, the runtime still answers"
    finally:
        faults.clear(clean_lab, "worker2", "runtime_timeouts")
    assert "context deadline exceeded" not in exec_in(worker, *unit_journal).stdout


def test_a_worker_boots_its_installed_kernel_and_its_runtime_comes_back(clean_lab):
    worker = clean_lab.master("worker2")
    exec_in(worker, "apt-get", "install", "-y", "-qq", "linux-image-5.4.0-135-generic",
            "linux-modules-extra-5.4.0-135-generic")
    before = cluster.boot_id_of(clean_lab, "worker2")
    try:
        assert cluster.reboot(clean_lab, "worker2") != before
        assert exec_in(worker, "cat", "/var/lib/lab/osrelease").stdout.strip() == "5.4.0-135-generic"
        cluster.wait_containerd(clean_lab, "worker2", timeout=30)
    finally:
        # Back on the affected kernel for the tests that follow.
        exec_in(worker, "apt-get", "purge", "-y", "-qq", "linux-image-5.4.0-135-generic")
        cluster.reboot(clean_lab, "worker2")
    assert exec_in(worker, "cat", "/var/lib/lab/osrelease").stdout.strip() == "5.4.0-132-generic"
