"""The runtime probe's pure part: the commands, ctr's answer, the journal's timeouts, the verdict."""
from ansible_collections.sre.etcd_kernel.plugins.module_utils.container_runtime import (
    EXAMPLE_LINES,
    MAX_JOURNAL_LINES,
    MAX_LINE_CHARS,
    journal_command,
    probe_command,
    runtime_timeouts,
    runtime_verdict,
    server_version,
)

# `ctr version` as Debian bookworm's containerd prints it.
CTR_VERSION = """Client:
  Version:  1.6.20~ds1
  Revision: 1.6.20~ds1-1+deb12u3
  Go version: go1.19.8

Server:
  Version:  1.6.20~ds1
  Revision: 1.6.20~ds1-1+deb12u3
  UUID: 5d1c5a3e-0d8e-4bd1-9b7b-2b8e0f2a7c11
"""
# What containerd logs when a client's deadline runs out under it (the bug's symptom).
TASK_EXIT_TIMEOUT = ('time="2022-11-30T10:00:00Z" level=error msg="failed to handle container TaskExit event" '
                     'error="failed to stop container: context deadline exceeded: unknown"')
CRI_TIMEOUT = ('E1130 10:00:01.000000 1234 remote_runtime.go:479] "ListContainers with filter from runtime service '
               'failed" err="rpc error: code = DeadlineExceeded desc = context deadline exceeded"')


def test_the_probe_asks_the_given_socket_for_the_version():
    assert probe_command("/usr/bin/ctr", "/run/containerd/containerd.sock") == [
        "/usr/bin/ctr", "--address", "/run/containerd/containerd.sock", "version"]


def test_the_journal_read_is_bounded_in_time_and_lines_and_names_each_unit():
    command = journal_command("/usr/bin/journalctl", ["containerd.service", "kubelet.service"], 3600.7)
    assert command[:3] == ["/usr/bin/journalctl", "--no-pager", "--quiet"]
    assert command[command.index("--since") + 1] == "-3600s"
    assert command[command.index("--lines") + 1] == str(MAX_JOURNAL_LINES)
    assert command[-4:] == ["--unit", "containerd.service", "--unit", "kubelet.service"]


def test_the_server_version_is_read_from_the_server_block_not_the_client_one():
    assert server_version(CTR_VERSION) == "1.6.20~ds1"
    client_only = CTR_VERSION.split("Server:")[0]
    assert server_version(client_only) is None
    assert server_version("") is None and server_version(None) is None
    assert server_version("Server:\n  Version:\n") is None


def test_runtime_timeouts_count_a_clients_deadline_in_containerd_and_kubelet_words():
    lines = ["level=info msg=\"starting containerd\"", TASK_EXIT_TIMEOUT, CRI_TIMEOUT, "dial tcp: i/o timeout"]
    counted = runtime_timeouts(lines)
    assert counted == {"lines": 4, "timeouts": 2, "examples": [TASK_EXIT_TIMEOUT, CRI_TIMEOUT]}


def test_runtime_timeouts_read_at_most_the_newest_lines_and_quote_a_few_short_ones():
    lines = [TASK_EXIT_TIMEOUT] * (MAX_JOURNAL_LINES + 10)
    counted = runtime_timeouts(lines)
    assert counted["lines"] == MAX_JOURNAL_LINES and counted["timeouts"] == MAX_JOURNAL_LINES
    assert len(counted["examples"]) == EXAMPLE_LINES
    # A marker past the line's bound is not read: a huge line costs no more than its bound.
    long_line = "x" * MAX_LINE_CHARS + " context deadline exceeded"
    assert runtime_timeouts([long_line])["timeouts"] == 0
    assert runtime_timeouts(None) == {"lines": 0, "timeouts": 0, "examples": []}


def test_the_verdict_names_each_symptom_and_a_node_without_containerd_has_none():
    quiet = {"timeouts": 0}
    assert runtime_verdict(True, True, quiet, 10) == (False, [])
    assert runtime_verdict(True, False, quiet, 10) == (True, ["containerd did not answer `ctr version` within 10s"])
    assert runtime_verdict(True, True, {"timeouts": 3}, 10) == (True, ["runtime timeouts in the journal: 3"])
    assert runtime_verdict(True, None, quiet, 10) == (False, [])
    assert runtime_verdict(False, False, {"timeouts": 3}, 10) == (False, [])
