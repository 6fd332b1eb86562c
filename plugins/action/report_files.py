# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""sre.etcd_kernel.report_files: write a run's report files on the controller, in one step.

The report is the run's output on the controller, where AWX and the operator read it.
Writing it with file + copy + template delegated to localhost costs five module runs
(a Python start each, about 3.5 s a run on a small controller); this plugin writes the
files from Ansible's own process, as ansible.builtin.fetch writes what it fetches.
Each file is replaced atomically, so a reader never sees half a report.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import tempfile

from ansible.module_utils.common.text.converters import to_bytes, to_text
from ansible.plugins.action import ActionBase

FOLDER_MODE = 0o750
FILE_MODE = 0o640


def write_atomically(path, content):
    """Write content to path through a temporary file in the same folder."""
    handle, temporary = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".report-")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(to_bytes(content))
        os.chmod(temporary, FILE_MODE)
        os.replace(temporary, path)
    except BaseException:
        if os.path.exists(temporary):
            os.remove(temporary)
        raise


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    # Reports are written in check mode too: a planning run's report is its output.
    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        _, args = self.validate_argument_spec(argument_spec=dict(
            path=dict(type="path", required=True),
            files=dict(type="list", elements="dict", required=True, options=dict(
                name=dict(type="str", required=True),
                content=dict(type="str", required=True),
            )),
        ))
        folder = args["path"]
        written = []
        for entry in args["files"]:
            if os.path.basename(entry["name"]) != entry["name"] or entry["name"] in ("", ".", ".."):
                result.update(failed=True, msg="report file name %r must be a plain file name "
                                               "inside %s" % (entry["name"], folder))
                return result
        try:
            os.makedirs(folder, mode=FOLDER_MODE, exist_ok=True)
            for entry in args["files"]:
                path = os.path.join(folder, entry["name"])
                write_atomically(path, entry["content"])
                written.append(path)
        except OSError as error:
            result.update(failed=True, written=written,
                          msg="could not write the report in %s: %s; set etcd_kernel_report_dir to a "
                              "folder the user running Ansible can write" % (folder, to_text(error)))
            return result
        # A report is the run's output, not managed state: writing it is not a change (so
        # a second run, and molecule's idempotence check, report changed=0).
        result.update(changed=False, written=written)
        return result
