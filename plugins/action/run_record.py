# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""sre.etcd_kernel.run_record: the one writer of a run's state.

Appends one record to the run's journal on the controller (<report dir>/journal/<run id>.jsonl,
see plugin_utils/run_journal.py), then folds the whole journal into the run record and
returns it as the fact etcd_kernel_run (with delegate_to: localhost and delegate_facts, the
controller's fact every phase reads). The finished record also returns the report
(etcd_kernel_report). Nothing else writes either fact.
"""

from __future__ import annotations

import fcntl
import glob
import json
import os
import time

from ansible.module_utils.common.text.converters import to_text
from ansible.plugins.action import ActionBase
from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import new_run_id, utc_stamp
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.remediation_run import run_report
from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.run_journal import (
    fold_run,
    parse_journal,
    record_problem,
    unfinished_run,
)

FOLDER_MODE = 0o750
FILE_MODE = 0o640


def earlier_unfinished_runs(folder: str) -> list[dict]:
    """The runs since the last real run that finished whose journal has no end, newest
    first. A check-mode run that finished does not end the list: the next real run's
    report (the one handed on) still names a run that never finished before it."""
    unfinished = []
    for path in sorted(glob.glob(os.path.join(folder, "*.jsonl")), reverse=True):
        try:
            with open(path, encoding="utf-8") as stream:
                records = parse_journal(stream.read())
            verdict = unfinished_run(records)
        except (OSError, ValueError, TypeError, KeyError) as error:
            # Evidence, not a reason to refuse: the report names the file to look at.
            unfinished.append({"run_id": os.path.basename(path)[:-len(".jsonl")], "started": None, "phase": None,
                               "in_progress": None, "lock": None, "note": "its journal could not be read: %s" % error})
            continue
        if verdict is None:
            if records[0].get("check_mode"):
                continue
            break
        unfinished.append(verdict)
    return unfinished


def append_record(path: str, record: dict) -> list[dict]:
    """Append one record to the journal at path, flushed to disk; return all its records.
    A record the run cannot take (the fold refuses it) is not written: one bad record must
    not stop the rescue's and finish's records that follow it. The journal is locked from
    its read to the append: a batch of nodes records side by side, and each record is
    judged against every record before it."""
    line = json.dumps(record, sort_keys=True, default=str) + "\n"
    handle = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX)
        records = parse_journal(_read_all(handle))
        fold_run(records + [json.loads(line)])
        os.write(handle, line.encode("utf-8"))
        os.fsync(handle)
        return parse_journal(_read_all(handle))
    finally:
        os.close(handle)  # and with it the lock


def _read_all(handle: int) -> str:
    size = os.fstat(handle).st_size
    return os.pread(handle, size, 0).decode("utf-8") if size else ""


class ActionModule(ActionBase):

    TRANSFERS_FILES = False
    # A check-mode run has a journal and a report too: planning is its output.
    _supports_check_mode = True
    _requires_connection = False

    def run(self, tmp=None, task_vars=None):
        result = super(ActionModule, self).run(tmp, task_vars)
        fields = dict(self._task.args)
        event = fields.pop("event", None)
        moment = time.time()
        try:
            if event == "started":
                journal, fields = self._start(fields, moment, task_vars)
            else:
                journal = self._journal_of_this_run(task_vars)
            if event == "finished":
                fields["finished"] = utc_stamp(moment)
            problem = record_problem(event, fields)
            if problem:
                raise ValueError(problem)
            records = append_record(journal, dict(fields, event=event, time=round(moment, 3)))
            run = fold_run(records)
        except (OSError, ValueError, TypeError, KeyError) as error:
            result.update(failed=True, msg="run_record %s: %s" % (event, to_text(error)))
            return result
        facts = {"etcd_kernel_run": run, "etcd_kernel_journal": journal}
        if event == "finished":
            facts["etcd_kernel_report"] = run_report(run, fields["finished"])
        result.update(changed=False, ansible_facts=facts, journal=journal)
        return result

    def _start(self, fields, moment, task_vars):
        report_dir = fields.pop("report_dir", None)
        if fields:
            raise ValueError("started takes only report_dir (the run's id, times, mode and limit are its own), got %s"
                             % ", ".join(sorted(fields)))
        if not report_dir or not isinstance(report_dir, str):
            raise ValueError("give report_dir, the folder the run's reports go in (etcd_kernel_report_dir)")
        folder = os.path.join(os.path.expanduser(report_dir), "journal")
        try:
            os.makedirs(folder, mode=FOLDER_MODE, exist_ok=True)
        except OSError as error:
            raise OSError("could not make %s (%s): set etcd_kernel_report_dir to a folder the user running "
                          "Ansible can write" % (folder, error)) from error
        unfinished = earlier_unfinished_runs(folder)
        run_id = new_run_id(moment)
        fields.update(run_id=run_id, started=utc_stamp(moment),
                      check_mode=bool(self._task.check_mode), limit=task_vars.get("ansible_limit") or None,
                      unfinished=unfinished)
        return os.path.join(folder, run_id + ".jsonl"), fields

    @staticmethod
    def _journal_of_this_run(task_vars):
        journal = task_vars["hostvars"]["localhost"].get("etcd_kernel_journal")
        if not journal:
            raise ValueError("the run has no journal yet: record started first (the role's start does)")
        return journal
