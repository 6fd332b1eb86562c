"""Reading etcd's Prometheus text: only the counters the symptoms use."""
import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_metrics import parse_etcd_metrics

# From etcd 3.4.23's /metrics on the local test cluster (cut down: the real body has ~1500 lines).
METRICS_TEXT = """\
# HELP etcd_debugging_mvcc_db_compaction_keys_total Total number of db keys compacted.
# TYPE etcd_debugging_mvcc_db_compaction_keys_total counter
etcd_debugging_mvcc_db_compaction_keys_total 0
# HELP etcd_network_peer_round_trip_time_seconds Round-Trip-Time histogram between peers
# TYPE etcd_network_peer_round_trip_time_seconds histogram
etcd_network_peer_round_trip_time_seconds_bucket{To="5fa855e02b53ff5f",le="0.0001"} 0
etcd_network_peer_round_trip_time_seconds_bucket{To="5fa855e02b53ff5f",le="0.0016"} 2
etcd_network_peer_round_trip_time_seconds_bucket{To="5fa855e02b53ff5f",le="+Inf"} 2
etcd_network_peer_round_trip_time_seconds_sum{To="5fa855e02b53ff5f"} 0.002157097
etcd_network_peer_round_trip_time_seconds_count{To="5fa855e02b53ff5f"} 2
etcd_network_peer_round_trip_time_seconds_bucket{To="676726e040c546b3",le="0.0001"} 0
etcd_network_peer_round_trip_time_seconds_bucket{To="676726e040c546b3",le="+Inf"} 4
etcd_network_peer_round_trip_time_seconds_sum{To="676726e040c546b3"} 0.0017176280000000001
etcd_network_peer_round_trip_time_seconds_count{To="676726e040c546b3"} 4
etcd_network_peer_round_trip_time_seconds_sum{To="0000000000000009"} 0
etcd_network_peer_round_trip_time_seconds_count{To="0000000000000009"} 0
# HELP etcd_server_has_leader Whether or not a leader exists. 1 is existence, 0 is not.
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# HELP etcd_server_leader_changes_seen_total The number of leader changes seen.
# TYPE etcd_server_leader_changes_seen_total counter
etcd_server_leader_changes_seen_total 3
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1.79590139047e+09
"""


def test_the_counters_the_symptoms_use():
    metrics = parse_etcd_metrics(METRICS_TEXT)
    assert metrics["leader_changes_seen_total"] == 3
    assert metrics["has_leader"] is True
    assert metrics["process_start_time_seconds"] == pytest.approx(1795901390.47)
    assert metrics["peer_round_trip_time_seconds"] == {
        "5fa855e02b53ff5f": pytest.approx(0.0010785485), "676726e040c546b3": pytest.approx(0.000429407)}


def test_no_leader_and_missing_counters():
    metrics = parse_etcd_metrics("etcd_server_has_leader 0\nnot a sample line\n# comment\n")
    assert metrics == {"leader_changes_seen_total": None, "has_leader": False,
                       "process_start_time_seconds": None, "peer_round_trip_time_seconds": {}}


def test_samples_with_a_timestamp_and_other_labels():
    text = ('etcd_server_leader_changes_seen_total{instance="a"} 7 1669716000000\n'
            'etcd_network_peer_round_trip_time_seconds_sum{To="91bc3c398fb3c146",x="y"} 3\n'
            'etcd_network_peer_round_trip_time_seconds_count{x="y",To="91bc3c398fb3c146"} 2\n')
    metrics = parse_etcd_metrics(text)
    assert metrics["leader_changes_seen_total"] == 7
    assert metrics["peer_round_trip_time_seconds"] == {"91bc3c398fb3c146": 1.5}


def test_not_text_is_an_error():
    with pytest.raises(ValueError, match="metrics text must be a string"):
        parse_etcd_metrics(None)


def test_a_sample_that_is_not_a_finite_number_is_skipped_not_fatal():
    text = ("etcd_server_leader_changes_seen_total NaN\n"
            "etcd_server_has_leader 1\n"
            "process_start_time_seconds +Inf\n")
    parsed = parse_etcd_metrics(text)
    assert parsed["leader_changes_seen_total"] is None and parsed["process_start_time_seconds"] is None
    assert parsed["has_leader"] is True
