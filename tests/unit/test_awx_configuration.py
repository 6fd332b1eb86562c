"""The AWX configuration points at playbooks that exist and asks only for variables the kit knows."""
import os

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def role_options():
    options = {}
    for role in os.listdir(os.path.join(ROOT, "roles")):
        specs = load(os.path.join("roles", role, "meta", "argument_specs.yml"))["argument_specs"]
        for entry in specs.values():
            options.update(entry.get("options") or {})
    return options


def test_job_templates_run_existing_playbooks():
    config = load("awx/controller_configuration.yml")
    playbooks = {t["name"]: t["playbook"] for t in config["controller_templates"]}
    assert set(playbooks.values()) == {"playbooks/detect.yml", "remediate.yml", "playbooks/mitigate.yml"}
    for playbook in playbooks.values():
        assert os.path.exists(os.path.join(ROOT, playbook)), playbook


def test_survey_questions_set_documented_role_variables_with_valid_choices():
    config = load("awx/controller_configuration.yml")
    options = role_options()
    remediate = next(t for t in config["controller_templates"] if t["playbook"] == "remediate.yml")
    for question in remediate["survey_spec"]["spec"]:
        variable = question["variable"]
        assert variable in options, "%s is no role option" % variable
        if question["type"] == "multiselect":
            assert set(question["choices"]) <= set(options[variable]["choices"])


def test_the_schedule_and_inventory_source_point_at_defined_objects():
    config = load("awx/controller_configuration.yml")
    templates = {t["name"] for t in config["controller_templates"]}
    assert {s["unified_job_template"] for s in config["controller_schedules"]} <= templates
    for source in config["controller_inventory_sources"]:
        assert os.path.exists(os.path.join(ROOT, source["source_path"]))
