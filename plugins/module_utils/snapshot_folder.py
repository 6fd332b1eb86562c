# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The folder that keeps the pre-change etcd snapshots, and only what the kit put there.

etcd_kernel_snapshot_dir names where the snapshots go. The kit works only in a folder it
created itself, which it marks with MARKER_NAME: it may make that folder 0700 and prune
old snapshots there. A folder it did not create (/var/backups, an operator's
own) is never changed: the kit creates its own folder, FOLDER_NAME, inside it.

Python 3.8, standard library only: this runs on the etcd hosts.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re
import stat

MARKER_NAME = ".sre.etcd_kernel-snapshots"
MARKER_TEXT = ("Created by the sre.etcd_kernel kit for its pre-change etcd snapshots. The kit prunes old\n"
               "snapshot-*.db files here (etcd_kernel_snapshot_keep); remove this folder to forget them.\n")
# The kit's own folder inside a folder it did not create.
FOLDER_NAME = "sre.etcd_kernel-snapshots"
SNAPSHOT_PATTERN = re.compile(r"^snapshot-[A-Za-z0-9._-]+\.db$")
# What etcdctl snapshot save writes before it renames the file into place.
PART_SUFFIX = ".part"
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9._/+@:-]*$")
# Folders a boot empties (Ubuntu's systemd-tmpfiles "D /tmp"; tmpfs mounts): a snapshot
# there is gone when its host reboots, which may be the very next step of the run.
EMPTIED_AT_BOOT = ("/tmp", "/run", "/var/run", "/dev/shm", "/var/lock")


class SnapshotFolderError(Exception):
    """The snapshot folder cannot be used; the message says how to fix it."""


def check_snapshot_dir(path):
    """ValueError unless path is a plain absolute folder path: no '..', no '//', no trailing '/', no '/'
    itself, and only characters that a shell, df or etcdctl cannot take for anything else."""
    if not isinstance(path, str) or not path:
        raise ValueError("etcd_kernel_snapshot_dir must be an absolute folder path, got %r" % (path,))
    if not path.startswith("/"):
        raise ValueError("etcd_kernel_snapshot_dir must be an absolute path (starting with /), got %r: a relative "
                         "path depends on the working directory, and one starting with '-' reads as an option"
                         % (path[:200],))
    if path == "/" or os.path.normpath(path) != path or not _SAFE_PATH.match(path):
        raise ValueError("etcd_kernel_snapshot_dir must be a plain absolute folder path (letters, digits and . _ - + @ "
                         ": only, no '..', no '//', no trailing '/', not '/' itself), got %r; for example "
                         "/var/backups/etcd-kernel-remediation" % (path[:200],))
    for emptied in EMPTIED_AT_BOOT:
        if path == emptied or path.startswith(emptied + "/"):
            raise ValueError("etcd_kernel_snapshot_dir %s is under %s, which the host empties at every boot: the "
                             "snapshot would be gone once its host reboots, which may be this run's next step. Use a "
                             "folder on disk, such as /var/backups/etcd-kernel-remediation" % (path, emptied))
    return path


def folder_state(lstat_result, has_marker):
    """What a path is, for choose_folder(): "missing", "ours" (a real folder with the kit's
    marker), "theirs" (a real folder without it), or "not_a_folder" (a file, a symlink...)."""
    if lstat_result is None:
        return "missing"
    if not stat.S_ISDIR(lstat_result.st_mode):
        return "not_a_folder"
    return "ours" if has_marker else "theirs"


def choose_folder(snapshot_dir, state_of):
    """The folder the kit works in, and whether it must create it: (path, create).

    state_of(path) returns folder_state() for a path. The operator's folder is the kit's when
    missing (the kit creates it) or marked; in a folder of anyone else's the kit uses its own
    FOLDER_NAME inside. Anything else refuses with SnapshotFolderError.
    """
    check_snapshot_dir(snapshot_dir)
    state = state_of(snapshot_dir)
    if state == "missing":
        return snapshot_dir, True
    if state == "ours":
        return snapshot_dir, False
    if state == "not_a_folder":
        raise SnapshotFolderError(
            "etcd_kernel_snapshot_dir %s exists and is not a folder (a file or a symbolic link): the kit keeps its "
            "snapshots only in a real folder. Point etcd_kernel_snapshot_dir at a folder, or at a path that does not "
            "exist yet (the kit creates it)." % snapshot_dir)
    inner = snapshot_dir + "/" + FOLDER_NAME
    inner_state = state_of(inner)
    if inner_state == "missing":
        return inner, True
    if inner_state == "ours":
        return inner, False
    raise SnapshotFolderError(
        "%s exists but was not created by the kit (it has no %s): the kit does not take over a folder it did not "
        "create. Remove or rename it if it is left from something else, or point etcd_kernel_snapshot_dir elsewhere."
        % (inner, MARKER_NAME))


def snapshots_to_prune(names_and_mtimes, keep, current):
    """The snapshot files to remove so that `keep` remain, the current run's among them.

    names_and_mtimes: [(file name, mtime)] of the kit's folder. Only snapshot-*.db files count;
    the newest stay. current: this run's file name, never pruned.
    """
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        raise ValueError("etcd_kernel_snapshot_keep must be a whole number of at least 1, got %r" % (keep,))
    others = sorted(((mtime, name) for name, mtime in names_and_mtimes
                     if SNAPSHOT_PATTERN.match(name) and name != current), reverse=True)
    return sorted(name for _mtime, name in others[keep - 1:])


def leftover_parts(names, current):
    """Half-written snapshots (etcdctl's .part files) a killed run left, but not this run's."""
    return sorted(name for name in names if name.endswith(PART_SUFFIX)
                  and SNAPSHOT_PATTERN.match(name[:-len(PART_SUFFIX)]) and name != current + PART_SUFFIX)
