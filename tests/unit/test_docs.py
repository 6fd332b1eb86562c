"""Documentation that cannot drift: the variables reference and the roles' own specs."""
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "docs"))
import generate_variables  # noqa: E402


def test_the_variables_reference_matches_the_argument_specs():
    with open(generate_variables.TARGET) as handle:
        assert handle.read() == generate_variables.render(), \
            "docs/variables.md is stale: run python docs/generate_variables.py"


def test_every_role_default_is_a_documented_option_and_back():
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        with open(os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")) as handle:
            options = set(yaml.safe_load(handle)["argument_specs"]["main"].get("options") or {})
        defaults_file = os.path.join(ROOT, "roles", role, "defaults", "main.yml")
        with open(defaults_file) as handle:
            defaults = set(yaml.safe_load(handle) or {})
        assert defaults <= options, "%s: defaults without a spec: %s" % (role, defaults - options)
        assert all(name.startswith(role + "_") for name in options), "%s: unprefixed options" % role
