"""The snapshot_folder module on real folders: a folder it did not create keeps its mode and its files."""
import os
import stat

import pytest
from module_harness import run_module

from ansible_collections.sre.etcd_kernel.plugins.module_utils import snapshot_folder as snapshot_folder_utils
from ansible_collections.sre.etcd_kernel.plugins.module_utils.snapshot_folder import FOLDER_NAME, MARKER_NAME
from ansible_collections.sre.etcd_kernel.plugins.modules import snapshot_folder


@pytest.fixture(autouse=True)
def allow_the_test_folders_under_tmp(monkeypatch):
    # pytest's folders are under /tmp, which the module refuses (a boot empties it).
    monkeypatch.setattr(snapshot_folder_utils, "EMPTIED_AT_BOOT", ())


def prepare(path, snapshot="snapshot-run2.db", check_mode=False):
    return run_module(snapshot_folder.main, {"path": str(path), "snapshot": snapshot}, check_mode=check_mode)


def prune(path, keep, snapshot="snapshot-run2.db"):
    return run_module(snapshot_folder.main, {"path": str(path), "snapshot": snapshot, "step": "prune", "keep": keep})


def test_a_missing_folder_is_created_root_only_and_marked(tmp_path):
    folder = tmp_path / "backups" / "kit"
    outcome, result = prepare(folder)
    assert outcome == "exit" and result["changed"] and result["created"]
    assert result["folder"] == str(folder) and result["snapshot_path"] == str(folder / "snapshot-run2.db")
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700 and (folder / MARKER_NAME).is_file()
    assert result["free_bytes"] > 0
    # Prepared again, it is the kit's and unchanged.
    outcome, again = prepare(folder)
    assert outcome == "exit" and not again["changed"] and again["folder"] == str(folder)


def test_a_sticky_shared_folder_keeps_its_mode_and_its_files(tmp_path):
    shared = tmp_path / "tmp"
    shared.mkdir()
    os.chmod(shared, 0o1777)
    (shared / "snapshot-other-tool.db").write_text("another tool's")
    outcome, result = prepare(shared)
    assert outcome == "exit" and result["folder"] == str(shared / FOLDER_NAME)
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o1777
    (shared / FOLDER_NAME / "snapshot-run1.db").write_text("1")
    (shared / FOLDER_NAME / "snapshot-run2.db").write_text("2")
    outcome, result = prune(shared, keep=1)
    assert outcome == "exit" and result["removed"] == ["snapshot-run1.db"]
    assert (shared / "snapshot-other-tool.db").read_text() == "another tool's"
    assert sorted(os.listdir(shared / FOLDER_NAME)) == [MARKER_NAME, "snapshot-run2.db"]


def test_a_half_written_snapshot_of_a_killed_run_is_removed(tmp_path):
    folder = tmp_path / "kit"
    prepare(folder)
    (folder / "snapshot-run1.db.part").write_text("half")
    outcome, result = prepare(folder)
    assert outcome == "exit" and result["removed"] == ["snapshot-run1.db.part"] and result["changed"]
    assert not (folder / "snapshot-run1.db.part").exists()


def test_check_mode_creates_and_removes_nothing(tmp_path):
    folder = tmp_path / "kit"
    outcome, result = prepare(folder, check_mode=True)
    assert outcome == "exit" and result["created"] and not folder.exists()


def test_a_squatted_folder_in_a_shared_place_is_refused(tmp_path):
    shared = tmp_path / "tmp"
    (shared / FOLDER_NAME).mkdir(parents=True)
    outcome, result = prepare(shared)
    assert outcome == "fail" and "was not created by the kit" in result["msg"]


def test_a_symlink_as_the_folder_is_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    os.symlink(tmp_path / "elsewhere", tmp_path / "kit")
    outcome, result = prepare(tmp_path / "kit")
    assert outcome == "fail" and "is not a folder" in result["msg"]


def test_a_relative_folder_or_a_bad_snapshot_name_is_refused(tmp_path):
    outcome, result = prepare("-rf")
    assert outcome == "fail" and "must be an absolute path" in result["msg"]
    outcome, result = prepare(tmp_path / "kit", snapshot="../../etc/passwd")
    assert outcome == "fail" and "snapshot must be a file name like snapshot-<run id>.db" in result["msg"]
