"""The kit's safety promises that can be read from its source: TLS verification is
never turned off, key material never passes through a task that could log it, and
snapshots are written into a root-only folder and kept root-only.
(The molecule scenario `default` checks the snapshot's mode on a real host.)"""
import os
import re

import pytest
import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KIT = ("remediate.yml", "playbooks", "roles", "plugins", "inventory/example", "awx", "examples", "README.md")

# Ways to switch TLS verification off in the languages and tools the kit uses.
TLS_OFF = re.compile(
    r"CERT_NONE|check_hostname\s*=\s*False|_create_unverified_context|verify\s*=\s*False"
    r"|validate_certs\s*:\s*(false|no)|--insecure|insecure-skip-tls-verify|insecure_skip_tls_verify"
    r"|PYTHONHTTPSVERIFY|grpc\.experimental\.insecure|insecure_channel", re.IGNORECASE)
# Tasks that read a file's content onto the controller or into a result.
CONTENT_READERS = ("slurp", "ansible.builtin.slurp", "fetch", "ansible.builtin.fetch")
KEY_FILE = re.compile(r"key\.pem|-key|_key_file|key_file|\.key\b")


def kit_files(suffixes):
    for entry in KIT:
        path = os.path.join(ROOT, entry)
        if os.path.isfile(path):
            yield path
        for folder, _, files in os.walk(path):
            if "__pycache__" in folder:
                continue
            for name in files:
                if name.endswith(suffixes):
                    yield os.path.join(folder, name)


def tasks_in(node):
    """Every task dict in a parsed task file or playbook, blocks and rescues included."""
    if isinstance(node, list):
        for item in node:
            yield from tasks_in(item)
    elif isinstance(node, dict):
        if any(key in node for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks")):
            for key in ("block", "rescue", "always", "tasks", "pre_tasks", "post_tasks"):
                yield from tasks_in(node.get(key) or [])
        else:
            yield node


def task_files():
    for path in kit_files((".yml", ".yaml")):
        relative = os.path.relpath(path, ROOT)
        if "/tasks/" in path or relative.startswith("playbooks/") or relative == "remediate.yml":
            yield relative, path


def test_nothing_turns_tls_verification_off():
    offenders = []
    for path in kit_files((".py", ".yml", ".yaml", ".j2", ".md", ".cfg")):
        with open(path) as handle:
            for number, line in enumerate(handle, start=1):
                if TLS_OFF.search(line):
                    offenders.append("%s:%d: %s" % (os.path.relpath(path, ROOT), number, line.strip()))
    assert offenders == []


def test_the_pattern_catches_what_it_is_meant_to():
    # The scan above passes only if the pattern can match; prove it on the usual spellings.
    for spelled in ("ctx.verify_mode = ssl.CERT_NONE", "validate_certs: false", "etcdctl --insecure-transport",
                    "requests.get(url, verify=False)", "ssl._create_unverified_context()"):
        assert TLS_OFF.search(spelled), spelled


@pytest.mark.parametrize("relative, path", sorted(task_files()))
def test_no_task_reads_key_material_without_no_log(relative, path):
    with open(path) as handle:
        parsed = yaml.safe_load(handle)
    for task in tasks_in(parsed or []):
        readers = [module for module in CONTENT_READERS if module in task]
        reads_keys = any(KEY_FILE.search(str(task[module])) for module in readers)
        reads_keys = reads_keys or bool(re.search(r"lookup\(['\"](ansible\.builtin\.)?file['\"][^)]*key",
                                                  str(task)))
        if reads_keys:
            name = task.get("name")
            assert task.get("no_log") is True, "%s: %s reads key material without no_log" % (relative, name)


def test_no_module_returns_key_material():
    # The modules take key files by path and hand them to the TLS library; none returns their content.
    for path in kit_files((".py",)):
        if "/plugins/modules/" not in path:
            continue
        with open(path) as handle:
            source = handle.read()
        assert not re.search(r"open\(\s*params\[\"key_file\"\]", source), path
        assert "BEGIN PRIVATE KEY" not in source, path


def test_snapshots_are_written_into_a_root_only_folder_and_kept_root_only():
    # snapshot_folder creates the kit's folder 0700 root (tests/unit/plugins/modules/test_snapshot_folder_module.py).
    with open(os.path.join(ROOT, "roles", "etcd_kernel", "tasks", "preflight", "04-lock-snapshot.yml")) as handle:
        tasks = list(tasks_in(yaml.safe_load(handle)))
    folder = next(t for t in tasks if t.get("sre.etcd_kernel.snapshot_folder", {}).get("step", "prepare") == "prepare")
    save = next(i for i, t in enumerate(tasks) if "ansible.builtin.command" in t)
    keep = next(t for t in tasks[save:] if "ansible.builtin.file" in t)
    assert tasks.index(folder) < save, "the folder must be root-only before the snapshot is written"
    assert (keep["ansible.builtin.file"]["mode"], keep["ansible.builtin.file"]["owner"]) == ("0600", "root")
