"""The lab's command line refuses bad input clearly, without docker."""
import pytest

from lab import __main__ as cli
from lab import config as lab_config
from lab import faults, load
from lab.config import LabConfig, LabError


def test_commands_need_the_lab_up(monkeypatch, tmp_path, capsys):
    monkeypatch.setattr(lab_config, "CONFIG_FILE", str(tmp_path / "absent.json"))
    assert cli.main(["fault", "master1", "stuck_after_boot"]) == 2
    assert "the lab is down: run 'make lab-up' first" in capsys.readouterr().err


@pytest.mark.parametrize("host, fault, message", [
    ("master4", "slow_boot", "unknown host 'master4'"),
    ("master1", "meteor", "unknown fault 'meteor'"),
    ("master1", "all", "unknown fault 'all'"),
    ("worker3", "slow_boot", "unknown host 'worker3'"),
    ("worker1", "stuck_after_boot", "worker1 is a worker"),
    ("master2", "containerd_frozen", "master2 is a master"),
])
def test_fault_names_and_hosts_are_checked(host, fault, message):
    with pytest.raises(LabError, match=message):
        faults.check(LabConfig(), host, fault)


@pytest.mark.parametrize("variable, value, message", [
    ("LAB_SUBNET", "not-a-net", "is not a network"),
    ("LAB_SUBNET", "8.8.8.0/24", "not a private range"),
    ("LAB_SUBNET", "172.29.87.0/28", "/24 or larger"),
    ("LAB_PREFIX", "bad name", "letters, digits"),
    ("LAB_BOOT_DELAY", "soon", "number of seconds"),
    ("LAB_ETCD", "3.6", "use one of 3.4, 3.5"),
    ("LAB_LAYOUT", "kubeadm", "use one of docker, host"),
    ("LAB_WORKERS", "many", "a whole number"),
    ("LAB_WORKERS", "41", "from 0 to 40"),
    ("LAB_WORKERS", "-1", "a whole number"),
])
def test_settings_are_validated(monkeypatch, variable, value, message):
    monkeypatch.setenv(variable, value)
    with pytest.raises(LabError, match=message):
        LabConfig.from_environment()


def test_addresses_follow_the_subnet():
    config = LabConfig(prefix="x-", subnet="10.77.3.0/24")
    assert config.ip("master2") == "10.77.3.12" and config.mirror_ip == "10.77.3.10"
    assert config.etcd_container("master2") == "x-etcd2" and config.member("master3") == "etcd3"


def test_workers_are_kube_node_hosts_beside_the_masters():
    config = LabConfig(prefix="x-", subnet="10.77.3.0/24", workers=20)
    assert config.worker_hosts[0] == "worker1" and config.worker_hosts[-1] == "worker20"
    assert config.nodes == config.hosts + config.worker_hosts
    assert config.ip("worker1") == "10.77.3.21" and config.ip("worker20") == "10.77.3.40"
    assert config.master("worker3") == "x-worker3" and config.is_worker("worker3") and not config.is_worker("master1")
    assert LabConfig().worker_hosts == ["worker1", "worker2"] and LabConfig(workers=0).nodes == LabConfig().hosts
    assert len({config.ip(host) for host in config.nodes} | {config.mirror_ip}) == len(config.nodes) + 1


def test_the_events_cluster_and_the_second_network_are_kubesprays_and_the_labs_own():
    config = LabConfig(prefix="x-", subnet="10.77.3.0/24", events=True)
    assert config.clusters() == {
        "main": {"etcd1": "https://10.77.3.11:2379", "etcd2": "https://10.77.3.12:2379", "etcd3": "https://10.77.3.13:2379"},
        "events": {"etcd1-events": "https://10.77.3.11:2383", "etcd2-events": "https://10.77.3.12:2383",
                   "etcd3-events": "https://10.77.3.13:2383"}}
    assert config.events_container("master2") == "x-etcd2-events" and config.events_peer_url("master1").endswith(":2382")
    assert list(LabConfig().clusters()) == ["main"]
    assert config.second_subnet == "10.77.4.0/24" and config.second_ip("master1") == "10.77.4.11"


def test_monitor_summary_counts_downtime_quorum_and_leader_changes():
    samples = [
        {"t": 0.0, "up": {"a": True, "b": True, "c": True}, "down": 0, "leader": "1", "quorum": True},
        {"t": 1.0, "up": {"a": False, "b": True, "c": True}, "down": 1, "leader": "2", "quorum": True},
        {"t": 2.0, "up": {"a": False, "b": False, "c": True}, "down": 2, "leader": None, "quorum": False},
        {"t": 2.5, "up": {"a": True, "b": True, "c": True}, "down": 0, "leader": "2", "quorum": True},
    ]
    summary = load.summarise(samples, ["a", "b", "c"])
    assert summary["downtime_s"] == {"a": 1.5, "b": 0.5, "c": 0.0}
    assert summary["seconds_without_quorum"] == 0.5
    assert summary["leader_changes"] == 1 and summary["max_down"] == 2


class FakeClient:
    def __init__(self, answer):
        self.answer, self.asked = answer, 0

    def status(self, url):
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


def test_a_member_that_misses_the_quick_probe_is_out_only_if_it_misses_the_second_look_too():
    slow, patient = FakeClient(load.EtcdHTTPError("timed out")), FakeClient({"leader": 2})
    assert load.probe_member((slow, patient), "https://m1:2379") == {"answered": True, "leader": "%016x" % 2}
    out, still_out = FakeClient(load.EtcdHTTPError("refused")), FakeClient(load.EtcdHTTPError("refused"))
    assert load.probe_member((out, still_out), "https://m1:2379") == {"answered": False, "leader": None}
    quick, unasked = FakeClient({"leader": 0}), FakeClient({"leader": 2})
    assert load.probe_member((quick, unasked), "https://m1:2379") == {"answered": True, "leader": None}
    assert unasked.asked == 0
