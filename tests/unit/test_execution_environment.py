"""execution-environment.yml makes a build context offline, with the kit's pinned dependencies."""
import os
import subprocess
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILDER = os.path.join(os.path.dirname(sys.executable), "ansible-builder")


def pinned_requirements():
    pins = {}
    with open(os.path.join(ROOT, "requirements.txt")) as handle:
        for line in handle:
            line = line.split("#")[0].strip()
            if "==" in line:
                name, version = line.split("==")
                pins[name.lower()] = version
    return pins


def test_ansible_builder_creates_a_build_context_without_network(tmp_path):
    env = dict(os.environ, no_proxy="*", NO_PROXY="*", PIP_NO_INDEX="1")
    result = subprocess.run([BUILDER, "create", "-f", os.path.join(ROOT, "execution-environment.yml"),
                             "-c", str(tmp_path / "context"), "--output-filename", "Containerfile"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    context = tmp_path / "context"
    assert (context / "Containerfile").exists()
    python_deps = (context / "_build" / "requirements.txt").read_text()
    assert "etcd-sdk-python==0.0.7" in python_deps and "protobuf==" in python_deps
    assert (context / "_build" / "requirements.yml").exists()


def test_the_image_pins_what_the_controller_pins():
    with open(os.path.join(ROOT, "execution-environment.yml")) as handle:
        definition = yaml.safe_load(handle)
    pins = pinned_requirements()
    dependencies = definition["dependencies"]
    assert dependencies["ansible_core"]["package_pip"] == "ansible-core==" + pins["ansible-core"]
    assert dependencies["ansible_runner"]["package_pip"] == "ansible-runner==" + pins["ansible-runner"]
    for requirement in dependencies["python"]:
        name, version = requirement.split("==")
        assert pins[name.lower()] == version, requirement
