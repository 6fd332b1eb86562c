"""The snapshot folder: the kit works only in a folder it created, and prunes only its own snapshots."""
import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils.snapshot_folder import (
    FOLDER_NAME,
    SnapshotFolderError,
    check_snapshot_dir,
    choose_folder,
    leftover_parts,
    snapshots_to_prune,
)


@pytest.mark.parametrize("path", ["/var/backups/etcd-kernel-remediation", "/srv/etcd_snapshots", "/data/a+b@c:1"])
def test_a_plain_absolute_folder_is_accepted(path):
    assert check_snapshot_dir(path) == path


@pytest.mark.parametrize("path, message", [
    ("-rf", "must be an absolute path"),
    ("--output=/tmp", "must be an absolute path"),
    ("relative/folder", "must be an absolute path"),
    ("", "must be an absolute folder path"),
    (None, "must be an absolute folder path"),
    (42, "must be an absolute folder path"),
    ("/", "not '/' itself"),
    ("/var/backups/../../etc", "no '..'"),
    ("/var//backups", "no '//'"),
    ("/var/backups/", "no trailing '/'"),
    ("/var/back ups", "letters, digits"),
    ("/var/backups/$(reboot)", "letters, digits"),
    ("/var/backups/x;y", "letters, digits"),
    ("/var/backups/\u00e9t\u00e9", "letters, digits"),
    ("/var/backups/x\ny", "letters, digits"),
])
def test_a_folder_that_is_not_a_plain_absolute_path_is_refused(path, message):
    with pytest.raises(ValueError, match="etcd_kernel_snapshot_dir") as error:
        check_snapshot_dir(path)
    assert message in str(error.value)


@pytest.mark.parametrize("path", ["/tmp", "/tmp/etcd", "/run/etcd", "/var/run/x", "/dev/shm/x", "/var/lock/x"])
def test_a_folder_that_a_boot_empties_is_refused(path):
    with pytest.raises(ValueError, match="empties at every boot"):
        check_snapshot_dir(path)


def test_a_folder_beside_one_a_boot_empties_is_accepted():
    assert check_snapshot_dir("/tmpfs-not/etcd") == "/tmpfs-not/etcd" and check_snapshot_dir("/var/tmp/x") == "/var/tmp/x"


def states(**by_path):
    return lambda path: by_path.get(path, "missing")


def test_a_missing_folder_is_created_by_the_kit():
    assert choose_folder("/var/backups/kit", states()) == ("/var/backups/kit", True)


def test_a_folder_the_kit_created_is_used_as_it_is():
    assert choose_folder("/var/backups/kit", states(**{"/var/backups/kit": "ours"})) == ("/var/backups/kit", False)


def test_a_folder_of_anyone_else_gets_the_kits_own_folder_inside():
    assert choose_folder("/var/backups", states(**{"/var/backups": "theirs"})) == ("/var/backups/" + FOLDER_NAME, True)
    assert choose_folder("/var/backups", states(**{"/var/backups": "theirs", "/var/backups/" + FOLDER_NAME: "ours"})) == (
        "/var/backups/" + FOLDER_NAME, False)


def test_a_foreign_folder_where_the_kits_own_should_be_is_refused():
    # In a shared folder anyone may create the kit's folder name first (or a symlink): never adopt it.
    for inner in ("theirs", "not_a_folder"):
        with pytest.raises(SnapshotFolderError, match="was not created by the kit"):
            choose_folder("/var/tmp", states(**{"/var/tmp": "theirs", "/var/tmp/" + FOLDER_NAME: inner}))


def test_a_file_or_symlink_as_the_folder_is_refused():
    with pytest.raises(SnapshotFolderError, match="is not a folder"):
        choose_folder("/var/backups/kit", states(**{"/var/backups/kit": "not_a_folder"}))


def test_pruning_keeps_the_newest_and_this_runs_snapshot_and_nothing_else():
    files = [("snapshot-a.db", 1), ("snapshot-b.db", 2), ("snapshot-c.db", 3), ("snapshot-d.db", 4),
             ("notes.txt", 0), ("snapshot-e.db.part", 0), (".sre.etcd_kernel-snapshots", 0), ("snapshot-.db", 0)]
    assert snapshots_to_prune(files, 3, "snapshot-a.db") == ["snapshot-b.db"]
    assert snapshots_to_prune(files, 1, "snapshot-d.db") == ["snapshot-a.db", "snapshot-b.db", "snapshot-c.db"]
    assert snapshots_to_prune(files, 10, "snapshot-z.db") == []


@pytest.mark.parametrize("keep", [0, -1, True, "3", 2.5, None])
def test_a_keep_below_one_or_not_a_whole_number_is_refused(keep):
    with pytest.raises(ValueError, match="etcd_kernel_snapshot_keep must be a whole number of at least 1"):
        snapshots_to_prune([], keep, "snapshot-a.db")


def test_only_the_half_written_snapshots_of_other_runs_are_leftovers():
    names = ["snapshot-old.db.part", "snapshot-now.db.part", "snapshot-old.db", "other.part", "x.db.part"]
    assert leftover_parts(names, "snapshot-now.db") == ["snapshot-old.db.part"]
