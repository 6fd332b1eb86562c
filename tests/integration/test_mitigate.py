"""mitigate.yml: restarts a stuck member's etcd only while every other member is healthy."""
import pytest

from lab import cluster, faults

from lab_helpers import Scenario, lock_value, recap, run_module, run_playbook, wait_for

pytestmark = pytest.mark.lab


def member_up(lab, host):
    return cluster.member_states(lab)[host]["up"]


def stick(lab, host):
    """The seed incident's state: the master rebooted, its etcd is Up but unreachable."""
    faults.inject(lab, host, "stuck_after_boot")
    cluster.reboot(lab, host)
    wait_for(lambda: not member_up(lab, host), 10, what="%s to be stuck" % host)


def test_a_stuck_member_is_restarted_and_the_healthy_ones_are_left_alone(clean_lab):
    stick(clean_lab, "master2")
    result = run_playbook("playbooks/mitigate.yml")
    assert result.returncode == 0, result.stdout[-3000:]
    totals = recap(result.stdout)
    assert totals["master2"]["changed"] >= 1  # the lock taken, the restart, the lock given back
    assert totals["master1"]["changed"] == 0 and totals["master3"]["changed"] == 0
    assert all(state["up"] for state in cluster.member_states(clean_lab).values())
    assert lock_value(clean_lab) is None


def test_nothing_is_restarted_while_another_member_is_down(clean_lab):
    stick(clean_lab, "master2")
    faults.inject(clean_lab, "master3", "member_stopped")
    result = run_playbook("playbooks/mitigate.yml", "-e", "etcd_kernel_gate_wait_s=3")
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    # Two members out of three: no quorum, so not even the lock can be taken (after the
    # lock's wait for a leader, etcd_kernel_gate_wait_s).
    assert "within leader_wait" in output and "no quorum: only" in output
    # Whichever host the serial play reaches first (master1 too has no leader by then), none is changed.
    assert all(totals["changed"] == 0 for totals in recap(result.stdout).values())
    assert not member_up(clean_lab, "master2")


def test_nothing_is_restarted_while_a_remediation_holds_the_lock(clean_lab, tmp_path):
    lock = {"endpoints": [clean_lab.client_url(h) for h in clean_lab.hosts],
            "ca_file": "/etc/ssl/etcd/ssl/ca.pem", "cert_file": "/etc/ssl/etcd/ssl/admin-master1.pem",
            "key_file": "/etc/ssl/etcd/ssl/admin-master1-key.pem",
            "run_id": "remediation-in-its-disruption-window", "holder": "alice@laptop", "ttl": 120}
    assert run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_lock", lock)["lock"] == "acquired"
    try:
        stick(clean_lab, "master2")
        with Scenario(clean_lab) as scenario:
            result = run_playbook("playbooks/mitigate.yml")
        output = " ".join(result.stdout.split())
        assert result.returncode != 0
        assert "the remediation lock is held by alice@laptop (run remediation-in-its-disruption-window)" in output
        assert not member_up(clean_lab, "master2")  # left for the lock's holder
        assert lock_value(clean_lab)["run_id"] == "remediation-in-its-disruption-window"
        assert scenario.rebooted() == []
        scenario.assert_invariants()
    finally:
        run_module(tmp_path, "master1", "sre.etcd_kernel.etcd_lock", dict(lock, state="absent"))


def test_an_inventory_that_puts_the_stuck_member_on_another_host_restarts_nothing(clean_lab, tmp_path):
    # Believed, the swapped names would make mitigate restart master2's healthy etcd2 as
    # "the stuck etcd1" while etcd1 is out.
    from test_remediate_refusals import inventory_variant, swap_member_names
    stick(clean_lab, "master1")
    with Scenario(clean_lab) as scenario:
        result = run_playbook("playbooks/mitigate.yml", "-i", inventory_variant(tmp_path, swap_member_names))
    output = " ".join(result.stdout.split())
    assert result.returncode != 0
    assert "master1: the inventory gives it the member etcd2" in output, output[-3000:]
    assert all(totals["changed"] == 0 for totals in recap(result.stdout).values())
    assert not member_up(clean_lab, "master1") and member_up(clean_lab, "master2")
    assert lock_value(clean_lab) is None
    scenario.assert_invariants()


def test_mitigate_started_as_the_leader_freezes_waits_for_the_election_and_restores_it(clean_lab):
    # The on-call's move in the incident: the leader's etcd stalls, and mitigate runs at once,
    # while the two healthy members are still electing a new leader (5 s election timeout).
    states = cluster.member_states(clean_lab)
    leader = next(host for host in clean_lab.hosts if states[host]["leader"] == states[host]["id"])
    try:
        with Scenario(clean_lab) as scenario:
            faults.inject(clean_lab, leader, "member_frozen")
            result = run_playbook("playbooks/mitigate.yml")
        assert result.returncode == 0, result.stdout[-3000:]
        totals = recap(result.stdout)
        assert totals[leader]["changed"] >= 1
        assert all(totals[host]["changed"] == 0 for host in clean_lab.hosts if host != leader)
        assert all(state["up"] for state in cluster.member_states(clean_lab).values())
        assert lock_value(clean_lab) is None
        # The frozen leader itself costs an election (no member has a leader for a few
        # seconds): quorum is the fault's to lose, not the kit's; no acknowledged write is lost.
        scenario.assert_invariants(quorum=False)
    finally:
        faults.clear(clean_lab, leader, "member_frozen")
