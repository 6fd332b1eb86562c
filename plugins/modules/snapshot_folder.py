#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: snapshot_folder
short_description: Prepare the kit's own folder for the pre-change etcd snapshot, and prune it
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - The kit works only in a snapshot folder it created itself, marked by a file C(.sre.etcd_kernel-snapshots)
    in it. O(path) is that folder when it does not exist yet (the module creates it, root only, 0700) or
    carries the mark. In a folder the kit did not create (V(/var/backups), an operator's own) the
    module changes nothing and uses its own C(sre.etcd_kernel-snapshots) folder inside it.
  - O(step=prepare) makes the folder ready, removes the half-written C(snapshot-*.db.part) files a killed
    run left there, and returns the folder, the snapshot's path and the free space.
  - O(step=prune) removes the oldest C(snapshot-*.db) files of the kit's folder so that O(keep) remain,
    O(snapshot) among them. Nothing else in any folder is ever removed.
options:
  path:
    description:
      - etcd_kernel_snapshot_dir, an absolute folder path (letters, digits and C(. _ - + @ :) only, no C(..)).
    type: str
    required: true
  snapshot:
    description: This run's snapshot file name, C(snapshot-<run id>.db); never pruned.
    type: str
    required: true
  step:
    description: V(prepare) before the snapshot is saved, V(prune) after it was verified.
    type: str
    choices: [prepare, prune]
    default: prepare
  keep:
    description: With O(step=prune), how many snapshots stay, this run's among them.
    type: int
    default: 3
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reports what it would create or remove, and changes nothing.
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Prepare the snapshot folder
  sre.etcd_kernel.snapshot_folder:
    path: /var/backups/etcd-kernel-remediation
    snapshot: snapshot-20261201T020000Z-abc.db
  register: snapshot_folder

- name: Keep the three newest snapshots
  sre.etcd_kernel.snapshot_folder:
    path: /var/backups/etcd-kernel-remediation
    snapshot: snapshot-20261201T020000Z-abc.db
    step: prune
    keep: 3
"""

RETURN = r"""
folder:
  description: The kit's folder the snapshot goes into.
  returned: success
  type: str
  sample: /var/backups/etcd-kernel-remediation
snapshot_path:
  description: The full path of this run's snapshot.
  returned: success
  type: str
  sample: /var/backups/etcd-kernel-remediation/snapshot-20261201T020000Z-abc.db
created:
  description: Whether the folder was created (would be, in check mode) by this call.
  returned: success
  type: bool
free_bytes:
  description: Bytes free to an unprivileged writer in the folder (its parent when not created yet).
  returned: success
  type: int
removed:
  description: The files removed (would be, in check mode), by name.
  returned: success
  type: list
  elements: str
"""

import os

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.sre.etcd_kernel.plugins.module_utils.snapshot_folder import (
    MARKER_NAME,
    MARKER_TEXT,
    SNAPSHOT_PATTERN,
    SnapshotFolderError,
    choose_folder,
    folder_state,
    leftover_parts,
    snapshots_to_prune,
)


def state_of(path):
    try:
        lstat_result = os.lstat(path)
    except FileNotFoundError:
        return folder_state(None, False)
    return folder_state(lstat_result, os.path.isfile(os.path.join(path, MARKER_NAME)))


def free_bytes(path):
    """Free bytes where path is, or will be once created (its nearest existing parent)."""
    while not os.path.isdir(path):
        path = os.path.dirname(path)
    found = os.statvfs(path)
    return found.f_bavail * found.f_frsize


def create_folder(folder):
    parent = os.path.dirname(folder)
    if not os.path.isdir(parent):
        os.makedirs(parent, 0o755)
    os.mkdir(folder, 0o700)
    os.chown(folder, 0, 0)
    os.chmod(folder, 0o700)
    marker = os.open(os.path.join(folder, MARKER_NAME), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(marker, "w") as handle:
        handle.write(MARKER_TEXT)


def main():
    module = AnsibleModule(argument_spec=dict(path=dict(type="str", required=True),
                                              snapshot=dict(type="str", required=True),
                                              step=dict(type="str", choices=["prepare", "prune"], default="prepare"),
                                              keep=dict(type="int", default=3)),
                           supports_check_mode=True)
    params = module.params
    if not SNAPSHOT_PATTERN.match(params["snapshot"]):
        module.fail_json(msg="snapshot must be a file name like snapshot-<run id>.db, got %r" % params["snapshot"][:200])
    try:
        folder, create = choose_folder(params["path"], state_of)
    except (ValueError, SnapshotFolderError) as error:
        module.fail_json(msg=str(error))
    result = dict(folder=folder, snapshot_path=os.path.join(folder, params["snapshot"]), created=False, removed=[])
    try:
        if params["step"] == "prepare":
            if create:
                result["created"] = True
                if not module.check_mode:
                    create_folder(folder)
            names = [] if create else os.listdir(folder)
            result["removed"] = leftover_parts(names, params["snapshot"])
        else:
            if create:
                module.fail_json(msg="the snapshot folder %s is not there to prune: prepare it first" % folder, **result)
            mtimes = [(name, os.lstat(os.path.join(folder, name)).st_mtime) for name in os.listdir(folder)]
            result["removed"] = snapshots_to_prune(mtimes, params["keep"], params["snapshot"])
        if not module.check_mode:
            for name in result["removed"]:
                os.unlink(os.path.join(folder, name))
        result["free_bytes"] = free_bytes(folder)
    except ValueError as error:
        module.fail_json(msg=str(error), **result)
    except OSError as error:
        module.fail_json(msg="could not prepare the snapshot folder %s (%s); the kit works there as root: run it "
                             "with become" % (folder, error), **result)
    module.exit_json(changed=bool(result["created"] or result["removed"]), **result)


if __name__ == "__main__":
    main()
