"""sre.etcd_kernel.report_files, run by ansible-playbook on the controller as the kit runs it."""
import json
import os
import stat
import subprocess
import sys
import textwrap

import pytest

REPO_ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..", ".."))


def run_play(tmp_path, files, check=False):
    playbook = tmp_path / "play.yml"
    playbook.write_text(textwrap.dedent("""\
        - hosts: localhost
          connection: local
          gather_facts: false
          tasks:
            - sre.etcd_kernel.report_files:
                path: "{{ folder }}"
                files: "{{ files }}"
              register: written
            - ansible.builtin.copy:
                content: "{{ written | to_json }}"
                dest: "{{ result_file }}"
                mode: "0600"
              check_mode: false
        """))
    extra = {"folder": str(tmp_path / "reports" / "nested"), "files": files,
             "result_file": str(tmp_path / "result.json"), "ansible_python_interpreter": sys.executable}
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(REPO_ROOT, "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=os.path.join(REPO_ROOT, "collections"),
               # Only localhost: its module files go to the test's folder, not ~/.ansible/tmp.
               ANSIBLE_REMOTE_TEMP=str(tmp_path / "remote_tmp"))
    command = [os.path.join(os.path.dirname(sys.executable), "ansible-playbook"), "-i", "localhost,",
               "-e", json.dumps(extra), str(playbook)] + (["--check"] if check else [])
    completed = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True)
    result_file = tmp_path / "result.json"
    return completed, json.loads(result_file.read_text()) if result_file.exists() else None


def test_the_files_are_written_in_a_new_folder_with_the_reports_modes_and_no_change(tmp_path):
    completed, result = run_play(tmp_path, [{"name": "run.json", "content": "{}\n"},
                                            {"name": "run.md", "content": "# report\n"}], check=True)
    assert completed.returncode == 0, completed.stdout[-2000:]
    folder = tmp_path / "reports" / "nested"
    assert (folder / "run.json").read_text() == "{}\n" and (folder / "run.md").read_text() == "# report\n"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o750
    assert stat.S_IMODE((folder / "run.md").stat().st_mode) == 0o640
    assert result["changed"] is False and result["written"] == [str(folder / "run.json"), str(folder / "run.md")]
    assert [p.name for p in folder.iterdir() if p.name.startswith(".")] == []


def test_an_existing_report_is_replaced(tmp_path):
    folder = tmp_path / "reports" / "nested"
    folder.mkdir(parents=True)
    (folder / "latest.json").write_text("old and longer than the new one\n")
    completed, _ = run_play(tmp_path, [{"name": "latest.json", "content": "new\n"}])
    assert completed.returncode == 0, completed.stdout[-2000:]
    assert (folder / "latest.json").read_text() == "new\n"


@pytest.mark.parametrize("name", ["../escape.json", "sub/run.json", ".."])
def test_a_name_with_a_folder_is_refused_and_nothing_is_written(tmp_path, name):
    completed, _ = run_play(tmp_path, [{"name": "ok.json", "content": "{}"}, {"name": name, "content": "{}"}])
    assert completed.returncode != 0
    assert "must be a plain file name" in completed.stdout
    assert not (tmp_path / "reports").exists() and not (tmp_path / "escape.json").exists()


def test_a_folder_that_cannot_be_written_says_what_to_set(tmp_path):
    (tmp_path / "reports").write_text("a file where the folder should be")
    completed, _ = run_play(tmp_path, [{"name": "run.json", "content": "{}"}])
    assert completed.returncode != 0
    assert "could not write the report in" in completed.stdout
    assert "set etcd_kernel_report_dir" in completed.stdout
