"""Symptoms of the epoll bug in one etcd 3.4 member's log and counters.

Log lines are etcd 3.4's own, in both of its formats: capnslog (the default,
kubespray's docker etcd; the seed incident's lines) and zap JSON (--logger=zap;
lines taken from the local test cluster with a frozen, then restarted, member).
"""
import calendar
import time

import pytest

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_symptoms import (
    RESTART_DOWNTIME_S,
    RESTART_GRACE_S,
    classify_symptoms,
    log_timestamp,
)

# capnslog, etcd 3.4's default text logger (kubespray's docker etcd), as seen in the seed incident.
CAPNSLOG_INCIDENT = """\
2022-11-30 10:12:01.123456 W | rafthttp: health check for peer 8e9e05c52164694d could not connect: dial tcp 10.0.0.12:2380: i/o timeout (prober "ROUND_TRIPPER_SNAPSHOT")
2022-11-30 10:12:01.123789 W | rafthttp: health check for peer 8e9e05c52164694d could not connect: dial tcp 10.0.0.12:2380: i/o timeout (prober "ROUND_TRIPPER_RAFT_MESSAGE")
2022-11-30 10:12:03.000001 W | rafthttp: lost the TCP streaming connection with peer 8e9e05c52164694d (stream MsgApp v2 reader)
2022-11-30 10:12:03.000002 E | rafthttp: failed to read 8e9e05c52164694d on stream MsgApp v2 (read tcp 10.0.0.11:2380->10.0.0.12:41234: i/o timeout)
2022-11-30 10:12:03.000003 I | rafthttp: peer 8e9e05c52164694d became inactive (message send to peer failed)
2022-11-30 10:12:04.500000 I | raft: 91bc3c398fb3c146 is starting a new election at term 7
2022-11-30 10:12:04.600000 I | raft: raft.node: 91bc3c398fb3c146 lost leader 8e9e05c52164694d at term 8
2022-11-30 10:12:04.700000 I | raft: raft.node: 91bc3c398fb3c146 elected leader 91bc3c398fb3c146 at term 8
2022-11-30 10:12:05.000000 I | embed: rejected connection from "10.0.0.13:51234" (error "tls: first record does not look like a TLS handshake", ServerName "")
2022-11-30 10:12:06.000000 W | etcdserver: read-only range request "key:\\"/registry/leases/kube-node-lease/master1\\" " with result "error:etcdserver: leader changed" took too long (1.2s) to execute
2022-11-30 10:12:07.000000 I | embed: rejected connection from "10.0.0.12:40000" (error "read tcp 10.0.0.11:2379->10.0.0.12:40000: i/o timeout", ServerName "") http: TLS handshake error from 10.0.0.12:40000: read tcp 10.0.0.11:2379->10.0.0.12:40000: i/o timeout
2022-11-30 10:12:08.000000 I | etcdserver/api/etcdhttp: /health OK (status code 200)
"""

# zap JSON (--logger=zap), as etcd 3.4.23 writes it (lines taken from a local cluster with a frozen peer).
ZAP_FROZEN_PEER = [
    '{"level":"info","ts":"2026-11-24T22:13:33.001Z","caller":"raft/node.go:333","msg":"raft.node: c6935e2b62aeacdd lost leader 18ad0e1b4d2eae4c at term 3"}',
    '{"level":"info","ts":"2026-11-24T22:13:33.002Z","caller":"raft/node.go:327","msg":"raft.node: c6935e2b62aeacdd elected leader 93a0668b6c7c7b75 at term 3"}',
    '{"level":"warn","ts":"2026-11-24T22:13:36.971Z","caller":"rafthttp/stream.go:436","msg":"lost TCP streaming connection with remote peer","stream-reader-type":"stream Message","local-member-id":"c6935e2b62aeacdd","remote-peer-id":"18ad0e1b4d2eae4c","error":"read tcp 127.0.0.1:56404->127.0.0.1:50343: i/o timeout"}',
    '{"level":"warn","ts":"2026-11-24T22:13:36.971Z","caller":"rafthttp/peer_status.go:68","msg":"peer became inactive (message send to peer failed)","peer-id":"18ad0e1b4d2eae4c","error":"failed to read 18ad0e1b4d2eae4c on stream Message (read tcp 127.0.0.1:56404->127.0.0.1:50343: i/o timeout)"}',
    '{"level":"info","ts":"2026-11-24T22:13:40.034Z","caller":"raft/node.go:329","msg":"raft.node: 18ad0e1b4d2eae4c changed leader from 18ad0e1b4d2eae4c to 93a0668b6c7c7b75 at term 3"}',
    '{"level":"warn","ts":"2026-11-24T22:13:41.000Z","caller":"rafthttp/probing_status.go:70","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"18ad0e1b4d2eae4c","rtt":"0s","error":"dial tcp 127.0.0.1:50343: i/o timeout"}',
    '{"level":"info","ts":"2026-11-24T22:13:42.000Z","caller":"etcdserver/server.go:2069","msg":"published local member to cluster through raft"}',
]

QUIET_LOG = [
    "2022-11-30 09:00:00.000000 I | etcdserver: saved snapshot at index 1200000",
    "2022-11-30 09:00:00.000001 I | mvcc: finished scheduled compaction at 1000 (took 1.2ms)",
    '{"level":"info","ts":"2026-11-24T22:13:42.000Z","caller":"etcdserver/server.go:2069","msg":"published local member to cluster through raft"}',
]


class TestClassifySymptoms:
    def test_capnslog_incident(self):
        result = classify_symptoms(CAPNSLOG_INCIDENT, window_hours=0.5)
        assert result["peer_io_timeouts"] == 3
        assert result["tls_handshake_timeouts"] == 1
        assert result["leader_elections"] == 2     # "elected leader" and the request failing with "leader changed"
        assert result["leader_lost"] == 1
        assert result["leader_changes"] == 2 and result["leader_changes_per_hour"] == 4.0
        assert result["symptomatic"] is True
        assert result["reasons"] == ["4.0 leader changes per hour (threshold 2.0)"]
        assert result["lines_scanned"] == 12
        assert len(result["evidence"]) == 5 and "health check for peer" in result["evidence"][0]

    def test_zap_frozen_peer(self):
        result = classify_symptoms(ZAP_FROZEN_PEER)
        assert (result["peer_io_timeouts"], result["leader_elections"], result["leader_lost"]) == (3, 2, 1)
        assert result["tls_handshake_timeouts"] == 0
        assert result["symptomatic"] is True

    def test_one_election_an_hour_is_not_symptomatic(self):
        result = classify_symptoms(QUIET_LOG + [ZAP_FROZEN_PEER[1]])
        assert result["leader_changes_per_hour"] == 1.0 and result["symptomatic"] is False
        assert result["reasons"] == [] and result["evidence"] == [ZAP_FROZEN_PEER[1]]

    def test_quiet_log(self):
        result = classify_symptoms(QUIET_LOG)
        assert result["symptomatic"] is False
        assert result["peer_io_timeouts"] == result["leader_elections"] == 0

    def test_many_peer_timeouts_alone_are_symptomatic(self):
        lines = [ZAP_FROZEN_PEER[5]] * 10
        result = classify_symptoms(lines, window_hours=1)
        assert result["leader_changes"] == 0
        assert result["reasons"] == ["10.0 peer i/o timeouts per hour (threshold 10.0)"]

    def test_client_side_timeouts_are_not_peer_timeouts(self):
        line = "W | etcdserver: failed to send out heartbeat on time (exceeded the 100ms timeout for 40ms)"
        apiserver = "E | grpc: dial tcp 10.0.0.11:2379: i/o timeout"
        assert classify_symptoms([line, apiserver])["peer_io_timeouts"] == 0

    def test_given_leader_change_count_wins(self):
        result = classify_symptoms(QUIET_LOG, leader_changes=6, window_hours=2.0)
        assert result["leader_changes"] == 6 and result["leader_changes_per_hour"] == 3.0
        assert result["symptomatic"] is True

    @pytest.mark.parametrize("kwargs, message", [
        ({"log_lines": 5}, "log_lines"),
        ({"log_lines": [], "window_hours": 0}, "window_hours"),
        ({"log_lines": [], "leader_changes": -1}, "leader_changes"),
    ])
    def test_bad_input(self, kwargs, message):
        with pytest.raises(ValueError, match=message):
            classify_symptoms(**kwargs)


# --------------------------------------------------------------------------
# Timestamps in every form the kit reads logs in
# --------------------------------------------------------------------------
T0 = calendar.timegm((2022, 11, 30, 10, 0, 0))


@pytest.mark.parametrize("line, expected", [
    ("2022-11-30 10:00:00.250000 W | rafthttp: health check for peer 8e9e05c52164694d could not connect", T0 + 0.25),
    ('{"level":"warn","ts":"2022-11-30T10:00:00.250Z","caller":"rafthttp/probing_status.go:70","msg":"x"}', T0 + 0.25),
    ('{"level":"warn","ts":1669802400.25,"msg":"prober detected unhealthy status"}', T0 + 0.25),
    # docker logs --timestamps (nanoseconds), in front of a capnslog line with its own time
    ("2022-11-30T10:00:00.250000000Z 2022-11-30 09:59:59.000000 W | rafthttp: ...", T0 + 0.25),
    # journalctl -o short-iso and short-iso-precise, with a zone
    ("2022-11-30T12:00:00+0200 master1 etcd[812]: 2022-11-30 10:00:00.250000 W | rafthttp: ...", T0),
    ("2022-11-30T10:00:00.250000+00:00 master1 etcd[812]: raft: ...", T0 + 0.25),
    # journalctl's default short format has no year: the capnslog time inside is used
    ("Nov 30 10:00:00 master1 etcd[812]: 2022-11-30 10:00:00.250000 W | rafthttp: ...", T0 + 0.25),
    ("W | rafthttp: health check for peer 8e9e05c52164694d could not connect", None),
])
def test_log_timestamp(line, expected):
    assert log_timestamp(line) == (pytest.approx(expected) if expected is not None else None)


# --------------------------------------------------------------------------
# Helpers: a three-member cluster's members (as etcd_health returns them) and log lines
# --------------------------------------------------------------------------
IDS = {"etcd1": "91bc3c398fb3c146", "etcd2": "8e9e05c52164694d", "etcd3": "5a84b05ae0d2e8fb"}
ADDRESSES = {"etcd1": "10.0.0.11", "etcd2": "10.0.0.12", "etcd3": "10.0.0.13"}


def cluster_members(started=None, same_host=False):
    """The `members` of an etcd_health result; started: {name: process start} adds metrics."""
    from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import build_health
    members, statuses = [], {}
    for name, member_id in sorted(IDS.items()):
        address = "10.0.0.11" if same_host else ADDRESSES[name]
        members.append({"id": member_id, "name": name, "peer_urls": ["https://%s:2380" % address],
                        "client_urls": ["https://%s:2379" % address]})
        statuses[member_id] = {"responder_id": member_id, "leader_id": IDS["etcd1"], "raft_index": 9,
                               "raft_term": 7, "errors": []}
    entries = build_health(members, statuses)["members"]
    for entry in entries:
        if started and entry["name"] in started:
            entry["metrics"] = {"leader_changes_seen_total": 1, "has_leader": True,
                                "process_start_time_seconds": started[entry["name"]],
                                "peer_round_trip_time_seconds": {}}
    return entries


def capnslog(at, level, text):
    return "%s.%06d %s | %s" % (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(at)), int(round(at % 1 * 1e6)),
                                level, text)


def zap_time(at):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + ".%03dZ" % int(round(at % 1 * 1e3))


def probe_failure(at, peer):
    return capnslog(at, "W", 'rafthttp: health check for peer %s could not connect: dial tcp %s:2380: i/o timeout '
                             '(prober "ROUND_TRIPPER_RAFT_MESSAGE")' % (IDS[peer], ADDRESSES[peer]))


def zap_probe_failure(at, peer):
    return ('{"level":"warn","ts":"%s","caller":"rafthttp/probing_status.go:70","msg":"prober detected unhealthy '
            'status","round-tripper-name":"ROUND_TRIPPER_SNAPSHOT","remote-peer-id":"%s","rtt":"0s",'
            '"error":"dial tcp %s:2380: i/o timeout"}' % (zap_time(at), IDS[peer], ADDRESSES[peer]))


def rejected(at, peer, port=45678):
    return capnslog(at, "I", 'embed: rejected connection from "%s:%d" (error "read tcp 10.0.0.11:2380->%s:%d: '
                             'i/o timeout", ServerName "")' % (ADDRESSES[peer], port, ADDRESSES[peer], port))


def zap_rejected(at, peer, port=45678):
    return ('{"level":"warn","ts":"%s","caller":"embed/config_logging.go:287","msg":"rejected connection",'
            '"remote-addr":"%s:%d","server-name":"","error":"read tcp 10.0.0.11:2380->%s:%d: i/o timeout"}'
            % (zap_time(at), ADDRESSES[peer], port, ADDRESSES[peer], port))


# --------------------------------------------------------------------------
# Both sides of a broken peer link
# --------------------------------------------------------------------------
class TestBrokenPeerLink:
    def test_outbound_probe_failures_name_the_peer_in_both_formats(self):
        lines = [probe_failure(T0 + i * 30, "etcd2") for i in range(6)] + \
            [zap_probe_failure(T0 + i * 30, "etcd3") for i in range(6)]
        result = classify_symptoms(lines)
        assert result["peer_io_timeouts"] == 12
        assert result["peers_unreachable"] == {IDS["etcd2"]: 6, IDS["etcd3"]: 6}
        assert result["reasons"] == ["12.0 peer i/o timeouts per hour (threshold 10.0)"]

    def test_etcd_35s_version_check_names_the_peer_it_cannot_reach(self):
        # As a peer of a frozen member logs it on the lab's etcd 3.5.16 (the leader's version
        # check, every few seconds), with this file's ids and addresses.
        line = ('{"level":"warn","ts":"%s","caller":"etcdserver/cluster_util.go:294","msg":"failed to reach the peer '
                'URL","address":"https://10.0.0.12:2380/version","remote-member-id":"%s","error":"Get '
                '\\"https://10.0.0.12:2380/version\\": net/http: TLS handshake timeout"}' % (zap_time(T0), IDS["etcd2"]))
        version = line.replace("cluster_util.go:294", "cluster_util.go:158").replace(
            '"msg":"failed to reach the peer URL","address":"https://10.0.0.12:2380/version",', '"msg":"failed to get version",')
        result = classify_symptoms([line, version], now=T0 + 60)
        assert result["peers_unreachable"] == {IDS["etcd2"]: 1}
        assert result["tls_handshake_timeouts"] == 2

    def test_ids_etcd_logs_without_leading_zeros_are_read_as_results_write_them(self):
        # etcd prints ids with %x: this zap line is from the local cluster, whose peer was 0c0382f2a4318f53.
        line = ('{"level":"warn","ts":"2026-11-28T21:39:22.301Z","caller":"rafthttp/stream.go:436","msg":"lost TCP '
                'streaming connection with remote peer","stream-reader-type":"stream MsgApp v2","local-member-id":'
                '"e727712013ff3e01","remote-peer-id":"c0382f2a4318f53","error":"read tcp 127.0.0.1:50868->'
                '127.0.0.1:38763: i/o timeout"}')
        result = classify_symptoms([line], peer_restarts={"c0382f2a4318f53": T0})
        assert result["peers_unreachable"] == {"0c0382f2a4318f53": 1}
        words = "2022-11-30 10:00:00.000000 W | rafthttp: failed to dial peer add (i/o timeout)"
        assert classify_symptoms([words])["peers_unreachable"] == {}

    def test_inbound_rejections_land_on_the_peer_through_its_peer_url(self):
        lines = [rejected(T0 + i * 30, "etcd2", 40000 + i) for i in range(5)] + \
            [zap_rejected(T0 + i * 30, "etcd2", 41000 + i) for i in range(5)]
        result = classify_symptoms(lines, members=cluster_members())
        assert result["rejected_connections"] == 10 and result["peer_io_timeouts"] == 0
        assert result["peers_rejected"] == {IDS["etcd2"]: 10}
        # remediation_plan.suspected_members() reads peers_unreachable: both directions are there.
        assert result["peers_unreachable"] == {IDS["etcd2"]: 10}
        assert result["reasons"] == ["10.0 connections rejected on read timeouts per hour (threshold 10.0)"]

    def test_without_members_rejections_count_by_address(self):
        result = classify_symptoms([rejected(T0, "etcd3"), zap_rejected(T0 + 1, "etcd3")])
        assert result["rejected_connections"] == 2
        assert result["peers_rejected"] == {"10.0.0.13": 2} and result["peers_unreachable"] == {}

    def test_an_address_shared_by_several_members_is_not_guessed(self):
        result = classify_symptoms([rejected(T0, "etcd1")], members=cluster_members(same_host=True))
        assert result["peers_rejected"] == {"10.0.0.11": 1} and result["peers_unreachable"] == {}

    def test_rejections_for_other_reasons_are_not_the_symptom(self):
        # etcd logs these while it shuts down (from the local cluster), and for clients that say nothing useful.
        lines = [
            '{"level":"warn","ts":"2026-11-28T21:30:13.208Z","caller":"embed/config_logging.go:278","msg":'
            '"rejected connection","remote-addr":"127.0.0.1:41816","server-name":"","ip-addresses":["127.0.0.1"],'
            '"dns-names":["etcd3","localhost"],"error":"set tcp 127.0.0.1:60969: use of closed network connection"}',
            '2022-11-30 10:12:05.000000 I | embed: rejected connection from "10.0.0.13:51234" (error "tls: first '
            'record does not look like a TLS handshake", ServerName "")',
        ]
        result = classify_symptoms(lines, members=cluster_members())
        assert result["rejected_connections"] == 0 and result["peers_rejected"] == {}

    def test_a_tls_handshake_timeout_from_a_peer_counts_once_and_names_it(self):
        line = ('2022-11-30 10:12:07.000000 I | embed: rejected connection from "10.0.0.12:40000" (error "read tcp '
                '10.0.0.11:2380->10.0.0.12:40000: i/o timeout", ServerName "") http: TLS handshake error from '
                '10.0.0.12:40000: read tcp 10.0.0.11:2380->10.0.0.12:40000: i/o timeout')
        result = classify_symptoms([line], members=cluster_members())
        assert (result["tls_handshake_timeouts"], result["rejected_connections"]) == (1, 0)
        assert result["peers_rejected"] == {IDS["etcd2"]: 1}


# --------------------------------------------------------------------------
# A member that keeps campaigning
# --------------------------------------------------------------------------
def campaign(at, term, member="etcd3", peers=("etcd1", "etcd2")):
    """raft's lines for one campaign of member at term (capnslog, pre-vote off)."""
    me = IDS[member]
    lines = [capnslog(at, "I", "raft: %s is starting a new election at term %d" % (me, term)),
             capnslog(at, "I", "raft: %s became candidate at term %d" % (me, term + 1)),
             capnslog(at, "I", "raft: %s received MsgVoteResp from %s at term %d" % (me, me, term + 1))]
    for peer in peers:
        lines.append(capnslog(at, "I", "raft: %s [logterm: 6, index: 1200] sent MsgVote request to %s at term %d"
                              % (me, IDS[peer], term + 1)))
    return lines


# The local cluster's first election, in zap: one campaign that wins.
ZAP_FIRST_ELECTION = [
    '{"level":"info","ts":"2026-11-28T21:29:50.883Z","caller":"raft/raft.go:929","msg":"2555dcaf735a274c is starting a new election at term 1"}',
    '{"level":"info","ts":"2026-11-28T21:29:50.883Z","caller":"raft/raft.go:719","msg":"2555dcaf735a274c became candidate at term 2"}',
    '{"level":"info","ts":"2026-11-28T21:29:50.883Z","caller":"raft/raft.go:830","msg":"2555dcaf735a274c received MsgVoteResp from 2555dcaf735a274c at term 2"}',
    '{"level":"info","ts":"2026-11-28T21:29:50.883Z","caller":"raft/raft.go:817","msg":"2555dcaf735a274c [logterm: 1, index: 3] sent MsgVote request to 5fa855e02b53ff5f at term 2"}',
    '{"level":"info","ts":"2026-11-28T21:29:50.883Z","caller":"raft/raft.go:817","msg":"2555dcaf735a274c [logterm: 1, index: 3] sent MsgVote request to 676726e040c546b3 at term 2"}',
    '{"level":"info","ts":"2026-11-28T21:29:50.884Z","caller":"raft/raft.go:771","msg":"2555dcaf735a274c became leader at term 2"}',
    '{"level":"info","ts":"2026-11-28T21:29:50.884Z","caller":"raft/node.go:327","msg":"raft.node: 2555dcaf735a274c elected leader 2555dcaf735a274c at term 2"}',
]


class TestCampaigning:
    def test_a_stuck_campaigner_is_symptomatic_on_its_own(self):
        # The seed incident's isolated member: a campaign every 10 s for an hour, never elected.
        lines = [line for n in range(360) for line in campaign(T0 + n * 10, 7 + n)]
        result = classify_symptoms(lines)
        assert result["campaigns"] == 360 and result["term_climb"] == 360   # term 7 to 367
        assert result["leader_elections"] == 0 and result["peer_io_timeouts"] == 0
        assert result["symptomatic"] is True
        assert result["reasons"] == ["campaigned 360 times and the raft term climbed by 360 (threshold 100), "
                                     "and no leader was elected"]
        assert "is starting a new election at term 7" in result["evidence"][0]

    def test_zap_campaign_lines_count_too(self):
        lines = []
        for n in range(150):
            at = zap_time(T0 + n * 10)
            lines += ['{"level":"info","ts":"%s","caller":"raft/raft.go:929","msg":"5a84b05ae0d2e8fb is starting '
                      'a new election at term %d"}' % (at, 7 + n),
                      '{"level":"info","ts":"%s","caller":"raft/raft.go:719","msg":"5a84b05ae0d2e8fb became '
                      'candidate at term %d"}' % (at, 8 + n)]
        result = classify_symptoms(lines)
        assert (result["campaigns"], result["term_climb"], result["symptomatic"]) == (150, 150, True)

    def test_one_won_election_is_not_a_symptom(self):
        result = classify_symptoms(ZAP_FIRST_ELECTION)
        assert (result["campaigns"], result["term_climb"], result["leader_elections"]) == (1, 1, 1)
        assert result["symptomatic"] is False and result["reasons"] == []

    def test_a_climb_below_the_threshold_is_not_a_symptom(self):
        lines = [line for n in range(5) for line in campaign(T0 + n * 10, 7 + n)]
        assert classify_symptoms(lines)["symptomatic"] is False

    def test_with_pre_vote_the_term_stays_but_the_campaigns_show(self):
        me = IDS["etcd3"]
        lines = []
        for n in range(30):
            lines += [capnslog(T0 + n * 5, "I", "raft: %s is starting a new election at term 7" % me),
                      capnslog(T0 + n * 5, "I", "raft: %s became pre-candidate at term 7" % me),
                      capnslog(T0 + n * 5, "I", "raft: %s [logterm: 6, index: 1200] sent MsgPreVote request to %s "
                                                "at term 7" % (me, IDS["etcd1"]))]
        result = classify_symptoms(lines)
        assert (result["campaigns"], result["term_climb"]) == (30, 0)
        assert result["reasons"] == ["30.0 campaigns per hour and no leader elected (threshold 10.0)"]

    def test_candidate_lines_alone_still_count_campaigns(self):
        lines = [capnslog(T0 + n, "I", "raft: %s became candidate at term %d" % (IDS["etcd3"], 8 + n))
                 for n in range(120)]
        result = classify_symptoms(lines)
        assert (result["campaigns"], result["term_climb"], result["symptomatic"]) == (120, 119, True)


# --------------------------------------------------------------------------
# Restarts explain the complaints they cause
# --------------------------------------------------------------------------
ETCD2_STARTED = T0 + 60      # etcd2 rebooted by the kit: down at T0, etcd back at T0 + 60
ETCD3_STARTED = T0 + 360     # then etcd3: down at T0 + 300


def rolling_reboot_seen_by_etcd1():
    """etcd1's log while the kit reboots etcd2 and then etcd3, both formats mixed."""
    lines = []
    for peer, down, started in (("etcd2", T0, ETCD2_STARTED), ("etcd3", T0 + 300, ETCD3_STARTED)):
        at = down
        while at <= started + 20:
            lines += [probe_failure(at, peer), zap_probe_failure(at + 1, peer), rejected(at + 2, peer)]
            at += 10
    return lines


class TestRestartsExplainComplaints:
    def test_a_rolling_reboot_alone_is_symptomatic_without_restart_times(self):
        # What the kit did before: every member symptomatic for an hour after its own rollout.
        result = classify_symptoms(rolling_reboot_seen_by_etcd1(), members=cluster_members())
        assert result["symptomatic"] is True and result["explained_by_restart"] == 0

    def test_a_rolling_reboot_is_explained_by_the_peers_metrics(self):
        lines = rolling_reboot_seen_by_etcd1()
        members = cluster_members(started={"etcd2": ETCD2_STARTED, "etcd3": ETCD3_STARTED})
        result = classify_symptoms(lines, members=members)
        assert result["explained_by_restart"] == len(lines)
        assert result["symptomatic"] is False and result["reasons"] == []
        assert result["peers_unreachable"] == {} and result["peer_io_timeouts"] == 0
        assert result["rejected_connections"] == 0 and result["evidence"] == []

    def test_peer_restarts_by_name_or_id(self):
        lines = rolling_reboot_seen_by_etcd1()
        by_name = classify_symptoms(lines, members=cluster_members(),
                                    peer_restarts={"etcd2": ETCD2_STARTED, IDS["etcd3"]: ETCD3_STARTED})
        by_id = classify_symptoms(lines, peer_restarts={IDS["etcd2"]: ETCD2_STARTED, IDS["etcd3"]: ETCD3_STARTED})
        assert by_name["symptomatic"] is False and by_name["explained_by_restart"] == len(lines)
        # Without members the inbound lines cannot be put on a peer, so only the outbound ones are explained.
        assert by_id["explained_by_restart"] == len(lines) * 2 // 3
        assert by_id["rejected_connections"] == len(lines) // 3

    def test_complaints_outside_the_restart_still_count(self):
        members = cluster_members(started={"etcd2": ETCD2_STARTED})
        too_late = ETCD2_STARTED + RESTART_GRACE_S + 1
        too_early = ETCD2_STARTED - RESTART_DOWNTIME_S - 1
        in_grace = ETCD2_STARTED + RESTART_GRACE_S
        result = classify_symptoms([probe_failure(too_early, "etcd2"), probe_failure(in_grace, "etcd2"),
                                    probe_failure(too_late, "etcd2"), probe_failure(in_grace, "etcd3")],
                                   members=members)
        assert result["explained_by_restart"] == 1
        assert result["peers_unreachable"] == {IDS["etcd2"]: 2, IDS["etcd3"]: 1}

    def test_a_line_without_a_timestamp_always_counts(self):
        line = probe_failure(ETCD2_STARTED, "etcd2").split(" ", 2)[2]   # "W | rafthttp: ..."
        result = classify_symptoms([line], peer_restarts={"8e9e05c52164694d": ETCD2_STARTED})
        assert result["peer_io_timeouts"] == 1 and result["explained_by_restart"] == 0

    def test_the_restarted_member_learning_the_leader_is_not_a_leader_change(self):
        # etcd2's own log after the reboot: it starts, learns the leader, and later the kit hands
        # leadership over once.
        lines = [
            '{"level":"info","ts":"%s","caller":"embed/etcd.go:305","msg":"starting an etcd server",'
            '"etcd-version":"3.4.23","name":"etcd2"}' % zap_time(ETCD2_STARTED),
            '{"level":"warn","ts":"%s","caller":"rafthttp/peer_status.go:68","msg":"peer became inactive (message '
            'send to peer failed)","peer-id":"%s","error":"failed to dial %s on stream MsgApp v2 (read tcp '
            '10.0.0.12:41810->10.0.0.13:2380: i/o timeout)"}'
            % (zap_time(ETCD2_STARTED + 1), IDS["etcd3"], IDS["etcd3"]),
            '{"level":"info","ts":"%s","caller":"raft/node.go:327","msg":"raft.node: %s elected leader %s at term 7"}'
            % (zap_time(ETCD2_STARTED + 2), IDS["etcd2"], IDS["etcd1"]),
            '{"level":"info","ts":"%s","caller":"raft/node.go:329","msg":"raft.node: %s changed leader from %s to %s '
            'at term 8"}' % (zap_time(ETCD2_STARTED + 900), IDS["etcd2"], IDS["etcd1"], IDS["etcd3"]),
        ]
        result = classify_symptoms(lines)
        assert result["explained_by_restart"] == 2
        assert result["leader_elections"] == 1 and result["peer_io_timeouts"] == 0
        assert result["symptomatic"] is False
        # The same lines with no start line: two elections in the hour is the symptom's rate.
        assert classify_symptoms(lines[1:])["symptomatic"] is True

    def test_a_restart_does_not_explain_complaints_about_another_peer_with_the_same_line(self):
        line = zap_rejected(ETCD2_STARTED, "etcd3")
        result = classify_symptoms([line], members=cluster_members(started={"etcd2": ETCD2_STARTED}))
        assert result["explained_by_restart"] == 0 and result["peers_rejected"] == {IDS["etcd3"]: 1}


# --------------------------------------------------------------------------
# etcd's own counters
# --------------------------------------------------------------------------
def own_metrics(leader_changes=1, has_leader=True, started=T0):
    return {"leader_changes_seen_total": leader_changes, "has_leader": has_leader,
            "process_start_time_seconds": started, "peer_round_trip_time_seconds": {}}


class TestMetrics:
    def test_no_leader_is_a_symptom(self):
        result = classify_symptoms([], metrics=own_metrics(has_leader=False), now=T0 + 600)
        assert result["has_leader"] is False and result["symptomatic"] is True
        assert result["reasons"] == ["etcd_server_has_leader is 0: this member knows no leader"]

    def test_leader_changes_come_from_the_counter_when_the_process_started_in_the_window(self):
        # Started 40 minutes ago, 4 changes seen: the first is the leader it learnt at start.
        result = classify_symptoms(QUIET_LOG, metrics=own_metrics(leader_changes=4), now=T0 + 2400)
        assert (result["leader_changes"], result["leader_changes_source"]) == (3, "metrics")
        assert result["reasons"] == ["3.0 leader changes per hour (threshold 2.0)"]

    def test_an_older_process_leaves_the_count_to_the_log(self):
        result = classify_symptoms([ZAP_FROZEN_PEER[1]], metrics=own_metrics(leader_changes=400),
                                   now=T0 + 7200)
        assert (result["leader_changes"], result["leader_changes_source"]) == (1, "log")
        assert result["symptomatic"] is False

    def test_a_given_count_wins_over_the_counter(self):
        result = classify_symptoms([], leader_changes=0, metrics=own_metrics(leader_changes=9), now=T0 + 60)
        assert (result["leader_changes"], result["leader_changes_source"]) == (0, "argument")

    def test_this_members_own_start_explains_its_first_complaints(self):
        lines = [probe_failure(T0 + 5 + n, "etcd2") for n in range(12)]
        assert classify_symptoms(lines)["symptomatic"] is True
        result = classify_symptoms(lines, metrics=own_metrics(started=T0), now=T0 + 600)
        assert result["explained_by_restart"] == 12 and result["symptomatic"] is False


@pytest.mark.parametrize("kwargs, message", [
    ({"members": "etcd1"}, "members must be the etcd_health result's members list"),
    ({"metrics": [1]}, "metrics must be this member's metrics"),
    ({"peer_restarts": ["etcd2"]}, "peer_restarts must map"),
    ({"peer_restarts": {"etcd2": "yesterday"}}, r"peer_restarts\['etcd2'\] must be a number"),
    ({"peer_restarts": {"etcd9": 1.0}}, "peer_restarts names 'etcd9', which is neither a member id"),
])
def test_bad_new_inputs_say_what_to_pass(kwargs, message):
    kwargs.setdefault("members", cluster_members())
    with pytest.raises(ValueError, match=message):
        classify_symptoms([], **kwargs)
