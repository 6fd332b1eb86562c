"""Unit tests for the runtime_status module: when containerd is the node's runtime, the
bound on its answer, and a node without one."""
import os
import shutil
import socket
import time

import pytest

from module_harness import FakeCommands, run_module

from ansible_collections.sre.etcd_kernel.plugins.modules import runtime_status


def show(containerd=("loaded", "active", "enabled"), kubelet=("not-found", "inactive", "")):
    blocks = []
    for unit, (load, active, file_state) in (("containerd.service", containerd), ("kubelet.service", kubelet)):
        blocks.append("Id=%s\nLoadState=%s\nActiveState=%s\nSubState=x\nUnit=\nUnitFileState=%s\n"
                      % (unit, load, active, file_state))
    return 0, "\n".join(blocks), ""


def test_a_node_without_containerd_has_no_runtime_to_judge(tmp_path):
    outcome, result = run_module(runtime_status.main, {"socket": str(tmp_path / "containerd.sock")},
                                 FakeCommands({"systemctl": show(containerd=("not-found", "inactive", ""))}))
    assert outcome == "exit"
    assert result["present"] is False and result["answering"] is None and result["active"] is None
    assert result["symptomatic"] is False and result["reasons"] == []


def test_an_installed_but_disabled_and_stopped_containerd_is_a_package_not_the_runtime(tmp_path):
    outcome, result = run_module(runtime_status.main, {"socket": str(tmp_path / "containerd.sock")},
                                 FakeCommands({"systemctl": show(containerd=("loaded", "inactive", "disabled"))}))
    assert outcome == "exit" and result["present"] is False


def test_an_enabled_containerd_without_its_socket_does_not_answer_at_once(tmp_path):
    started = time.monotonic()
    outcome, result = run_module(runtime_status.main,
                                 {"socket": str(tmp_path / "containerd.sock"), "timeout": 30, "journal_window_s": 0},
                                 FakeCommands({"systemctl": show(containerd=("loaded", "failed", "enabled"),
                                                                 kubelet=("loaded", "active", "enabled"))}))
    assert outcome == "exit"
    assert time.monotonic() - started < 5, "no socket must not cost the probe's bound"
    assert result["present"] is True and result["active"] == "failed" and result["kubelet"] == "active"
    assert result["answering"] is False and "does not exist" in result["error"]
    assert result["symptomatic"] is True and result["reasons"] == ["containerd did not answer `ctr version` within 30s"]


def test_a_node_that_systemd_does_not_run_is_judged_by_its_socket_alone(tmp_path):
    outcome, result = run_module(runtime_status.main, {"socket": str(tmp_path / "containerd.sock")},
                                 FakeCommands({"systemctl": (1, "", "System has not been booted with systemd")}))
    assert outcome == "exit" and result["present"] is False and result["kubelet"] is None


needs_ctr = pytest.mark.skipif(shutil.which("ctr") is None or not os.path.exists("/usr/bin/ctr"),
                               reason="containerd's ctr (Debian's containerd, which docker.io brings) is not installed")


@needs_ctr
def test_a_socket_that_accepts_and_never_answers_is_a_hung_runtime_after_the_bound(tmp_path, monkeypatch):
    # As the bug leaves containerd: the kernel queues the connection, no one ever answers.
    # A relative path: a socket's path is bounded (108 bytes), and tmp_path may be longer.
    monkeypatch.chdir(tmp_path)
    path = "containerd.sock"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(16)
    try:
        started = time.monotonic()
        outcome, result = run_module(runtime_status.main, {"socket": path, "timeout": 1, "journal_window_s": 0},
                                     FakeCommands({"systemctl": show()}))
        took = time.monotonic() - started
    finally:
        listener.close()
    assert outcome == "exit"
    assert result["answering"] is False and result["error"] == "no answer within 1s on %s" % path
    assert result["answer_s"] == 1 and took < 10
    assert result["symptomatic"] is True


@needs_ctr
def test_a_socket_that_refuses_is_a_runtime_that_does_not_answer_with_ctrs_words(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind("containerd.sock")
    listener.close()  # bound and never listening: a connection is refused, as to a stopped containerd's socket
    outcome, result = run_module(runtime_status.main, {"socket": "containerd.sock", "timeout": 5, "journal_window_s": 0},
                                 FakeCommands({"systemctl": show()}))
    assert outcome == "exit"
    assert result["answering"] is False and "connection refused" in result["error"]
    assert result["journal"] == {"lines": 0, "timeouts": 0, "examples": [], "error": ""}


def test_the_bound_holds_against_a_command_that_never_answers():
    started = time.monotonic()
    rc, out, err, seconds = runtime_status.run_bounded(["sleep", "30"], 0.3)
    assert rc is None and seconds == 0.3
    assert time.monotonic() - started < 5


def test_a_bound_out_of_range_is_refused(tmp_path):
    for timeout in (0, -1, 301):
        outcome, result = run_module(runtime_status.main, {"socket": str(tmp_path / "s"), "timeout": timeout},
                                     FakeCommands({"systemctl": show()}))
        assert outcome == "fail" and "timeout must be" in result["msg"]
