"""Each module's documentation loads with ansible-doc and matches its argument spec."""
import importlib
import json
import os
import subprocess
import sys

import pytest
from ansible.module_utils import basic

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))))
MODULES = ["apt_timers", "etcd_health", "etcd_leader", "etcd_lock", "kernel_status"]
# sre.etcd_kernel.reboot is the builtin reboot's action with another wait loop: docs only.
DOCS_ONLY = ["reboot"]


class SpecCaptured(Exception):
    pass


def argument_spec_of(name, monkeypatch):
    """The argument_spec the module gives AnsibleModule, without running it."""
    captured = {}

    def capture(self, argument_spec, **kwargs):
        captured["spec"] = argument_spec
        raise SpecCaptured()

    monkeypatch.setattr(basic.AnsibleModule, "__init__", capture)
    module = importlib.import_module("ansible_collections.sre.etcd_kernel.plugins.modules." + name)
    with pytest.raises(SpecCaptured):
        module.main()
    return captured["spec"]


def documented_options(name):
    env = dict(os.environ, ANSIBLE_CONFIG=os.path.join(ROOT, "ansible.cfg"))
    result = subprocess.run([os.path.join(os.path.dirname(sys.executable), "ansible-doc"), "-t", "module",
                             "--json", "sre.etcd_kernel." + name], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)["sre.etcd_kernel." + name]["doc"]
    assert doc["short_description"] and doc.get("attributes", {}).get("check_mode")
    return doc.get("options", {})


@pytest.mark.parametrize("name", MODULES)
def test_documentation_matches_the_argument_spec(name, monkeypatch):
    spec = argument_spec_of(name, monkeypatch)
    options = documented_options(name)
    assert sorted(options) == sorted(spec)
    for option, rules in spec.items():
        doc = options[option]
        assert doc.get("type", "str") == rules.get("type", "str"), option
        assert bool(doc.get("required")) == bool(rules.get("required")), option
        assert doc.get("choices") in (None, rules.get("choices")) or \
            sorted(doc["choices"]) == sorted(rules.get("choices") or []), option
        if "default" in rules and rules["default"] is not None:
            assert doc.get("default") == rules["default"], option


@pytest.mark.parametrize("name", DOCS_ONLY)
def test_action_backed_module_documentation_loads(name):
    assert "reboot_timeout" in documented_options(name)
