"""Documentation that cannot drift: the settings reference and the role's own specs."""
import os
import runpy

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
generate_variables = runpy.run_path(os.path.join(ROOT, "docs", "generate_variables.py"))


def test_the_settings_reference_matches_the_role():
    with open(generate_variables["TARGET"]) as handle:
        assert handle.read() == generate_variables["render"](), \
            "docs/variables.md is stale: run python docs/generate_variables.py"


def test_the_roles_readme_matches_its_specs():
    with open(generate_variables["ROLE_README"]) as handle:
        assert handle.read() == generate_variables["render_role_readme"](), \
            "roles/etcd_kernel/README.md is stale: run python docs/generate_variables.py"


def test_every_setting_has_one_home_and_one_spec():
    specs, defaults = generate_variables["load_role"]()
    options = specs[generate_variables["FULL_ENTRY_POINT"]]["options"]
    assert set(defaults) == set(options), "defaults and specs differ: %s" % (set(defaults) ^ set(options))
    assert all(name.startswith("etcd_kernel_") for name in options), "settings without the etcd_kernel_ prefix"
    for entry_point, spec in specs.items():
        assert set(spec.get("options") or {}) <= set(options), "%s checks a setting with no home" % entry_point


def test_a_literal_default_in_the_specs_is_the_one_in_defaults():
    specs, defaults = generate_variables["load_role"]()
    for name, option in specs[generate_variables["FULL_ENTRY_POINT"]]["options"].items():
        if "default" in option:
            assert option["default"] == defaults[name], name
        else:
            # Only derived settings (templates over kubespray's names) go without a spec default.
            assert "{{" in str(defaults[name]), "%s needs a default in the specs" % name


def test_the_kit_has_one_role():
    assert os.listdir(os.path.join(ROOT, "roles")) == ["etcd_kernel"]
    with open(os.path.join(ROOT, "roles", "etcd_kernel", "meta", "argument_specs.yml")) as handle:
        entry_points = set(yaml.safe_load(handle)["argument_specs"])
    # The files directly in tasks/ are the public entry points, each with its spec; the
    # folders hold their pieces.
    tasks = os.path.join(ROOT, "roles", "etcd_kernel", "tasks")
    files = {name[:-len(".yml")] for name in os.listdir(tasks) if name.endswith(".yml")}
    assert files == entry_points, "entry points without a spec, or specs without a file: %s" % (files ^ entry_points)
    assert all(os.path.isdir(os.path.join(tasks, name)) for name in os.listdir(tasks) if not name.endswith(".yml"))


def test_a_setting_the_modules_also_default_has_the_same_value_in_both():
    from ansible_collections.sre.etcd_kernel.plugins.module_utils.etcd_health_result import DEFAULT_MAX_INDEX_GAP

    _, defaults = generate_variables["load_role"]()
    assert defaults["etcd_kernel_max_index_gap"] == DEFAULT_MAX_INDEX_GAP
