"""Everything the kit ships to the etcd hosts runs on Ubuntu 20.04's Python 3.8.

plugins/modules and plugins/module_utils travel to the hosts. Their syntax is checked
against 3.8's grammar here for every file, and, where this machine has a Python 3.8
(pyenv's, or LAB_PYTHON38), each file is compiled and each module_utils file imported by
that interpreter: an import fails on a name 3.8's standard library lacks at import time.
"""
import ast
import glob
import os
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SHIPPED = sorted(glob.glob(os.path.join(ROOT, "plugins", "module_utils", "*.py"))
                 + glob.glob(os.path.join(ROOT, "plugins", "modules", "*.py")))
MODULE_UTILS = [path for path in SHIPPED if os.sep + "module_utils" + os.sep in path and not path.endswith("__init__.py")]


def python38():
    candidates = [os.environ.get("LAB_PYTHON38", ""), shutil.which("python3.8") or "",
                  os.path.expanduser("~/.pyenv/versions/3.8.18/bin/python3.8")]
    candidates += sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.8.*/bin/python3.8")))
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            version = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                     capture_output=True, text=True)
            if version.returncode == 0 and version.stdout.strip() == "(3, 8)":
                return candidate
    return None


def test_the_shipped_files_are_all_found():
    assert len(SHIPPED) > 20 and len(MODULE_UTILS) > 15


@pytest.mark.parametrize("path", SHIPPED, ids=lambda path: os.path.relpath(path, ROOT))
def test_a_shipped_file_parses_with_python_3_8_grammar(path):
    with open(path) as handle:
        ast.parse(handle.read(), filename=path, feature_version=(3, 8))


def test_python_3_8_compiles_every_shipped_file_and_imports_every_module_util():
    interpreter = python38()
    if interpreter is None:
        pytest.skip("no Python 3.8 on this machine (set LAB_PYTHON38); the grammar checks above still ran")
    compiled = subprocess.run([interpreter, "-c", "import sys\nfor path in sys.argv[1:]:\n"
                               "    compile(open(path).read(), path, 'exec')"] + SHIPPED,
                              capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    names = ["ansible_collections.sre.etcd_kernel.plugins.module_utils." + os.path.basename(path)[:-3]
             for path in MODULE_UTILS]
    env = dict(os.environ, PYTHONPATH=os.path.join(ROOT, "collections"), PYTHONDONTWRITEBYTECODE="1")
    imported = subprocess.run([interpreter, "-c", "import importlib, sys\nfor name in sys.argv[1:]:\n"
                               "    importlib.import_module(name)"] + names,
                              capture_output=True, text=True, env=env)
    assert imported.returncode == 0, imported.stderr
