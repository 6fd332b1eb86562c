"""The built collection holds the collection only, with its licence."""
import os
import subprocess
import sys
import tarfile

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GALAXY = os.path.join(os.path.dirname(sys.executable), "ansible-galaxy")
# What a collection is made of; anything else at the top of the tarball is a leak.
TOP_LEVEL = {"MANIFEST.json", "FILES.json", "README.md", "CHANGELOG.md", "LICENSE", "meta", "plugins", "roles",
             "playbooks", "docs", "inventory", "examples", "awx", "changelogs", "execution-environment.yml",
             "requirements.yml"}


def build(tmp_path):
    result = subprocess.run([GALAXY, "collection", "build", "--output-path", str(tmp_path), ROOT],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    [tarball] = [name for name in os.listdir(tmp_path) if name.endswith(".tar.gz")]
    with tarfile.open(os.path.join(tmp_path, tarball)) as archive:
        return archive.getnames()


def test_the_built_collection_holds_the_collection_only(tmp_path):
    names = build(tmp_path)
    assert {name.split("/")[0] for name in names} == TOP_LEVEL
    assert "LICENSE" in names and "meta/runtime.yml" in names and "playbooks/detect.yml" in names
    # Neither the lab's inventory (absolute key paths) nor the links back to the project.
    assert not [name for name in names if name.startswith(("inventory/lab", "inventory/vm", "playbooks/collections"))]
    assert not [name for name in names if "__pycache__" in name or name.endswith(".pyc")]
