"""The AWX configuration runs playbooks that exist and asks only for settings the kit declares.

Every survey variable must be a setting of the role sre.etcd_kernel.etcd_kernel, as its
preflight entry point declares it (the one that checks every setting), with answers of the
type and choices the spec allows. No question has a default: AWX sends a default as an
extra var, which would beat the inventory. The weekly schedule must start inside the
example inventory's window.
"""
import datetime
import os
import re

import yaml

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.maintenance_window import DAYS, check_window

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SPECS = os.path.join("roles", "etcd_kernel", "meta", "argument_specs.yml")
ENTRY_POINT = "preflight"
PLAYBOOKS = {
    "etcd kernel - detect": "playbooks/detect.yml",
    "etcd kernel - remediate": "playbooks/remediate.yml",
    "etcd kernel - remediate nodes": "playbooks/remediate_nodes.yml",
    "etcd kernel - mitigate": "playbooks/mitigate.yml",
}
# AWX question types, and the argument spec types an answer of that type can satisfy.
SURVEY_TYPES = {"text": {"str", "path"}, "multiplechoice": {"bool", "str"}, "multiselect": {"list"}}


def load(path):
    with open(os.path.join(ROOT, path)) as handle:
        return yaml.safe_load(handle)


def config():
    return load("awx/controller_configuration.yml")


def settings():
    """The options of the role's preflight entry point: every setting of the kit."""
    return load(SPECS)["argument_specs"][ENTRY_POINT]["options"]


def templates():
    return {template["name"]: template for template in config()["controller_templates"]}


def survey():
    return templates()["etcd kernel - remediate"]["survey_spec"]["spec"]


def included_entry_points(playbook):
    """The role entry points a playbook includes, anywhere in its plays."""
    found = set()

    def walk(node):
        if isinstance(node, dict):
            include = node.get("ansible.builtin.include_role")
            if isinstance(include, dict) and include.get("name") == "sre.etcd_kernel.etcd_kernel":
                found.add(include.get("tasks_from", "main"))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(load(playbook))
    return found


def test_job_templates_run_the_collection_playbooks_and_they_exist():
    playbooks = {name: template["playbook"] for name, template in templates().items()}
    assert playbooks == PLAYBOOKS
    for playbook in playbooks.values():
        assert os.path.isfile(os.path.join(ROOT, playbook)), "%s does not exist" % playbook


def test_the_remediate_template_runs_the_entry_points_that_check_its_survey():
    # The survey's answers are extra vars; the entry points validate them before they act.
    entry_points = included_entry_points(templates()["etcd kernel - remediate"]["playbook"])
    assert {"start", ENTRY_POINT, "member", "finish", "stop"} <= entry_points
    assert set(load(SPECS)["argument_specs"]) >= entry_points


def test_every_survey_variable_is_a_declared_setting():
    declared = settings()
    variables = [question["variable"] for question in survey()]
    assert len(variables) == len(set(variables)), "a survey asks twice for one variable"
    assert set(variables) == {"etcd_kernel_target_release", "etcd_kernel_fallback_enabled",
                              "etcd_kernel_maintenance_days", "etcd_kernel_maintenance_start",
                              "etcd_kernel_maintenance_end"}
    for variable in variables:
        assert variable.startswith("etcd_kernel_"), variable
        assert variable in declared, "%s is not an option of the %s entry point in %s" % (variable, ENTRY_POINT, SPECS)


def test_survey_answers_fit_the_settings_types_and_choices():
    declared = settings()
    for question in survey():
        option = declared[question["variable"]]
        assert option["type"] in SURVEY_TYPES[question["type"]], question["variable"]
        if question["type"] == "multiselect":
            assert set(question["choices"]) <= set(option["choices"]), question["variable"]
        if question["type"] == "multiplechoice" and option["type"] == "bool":
            assert set(question["choices"]) == {"true", "false"}, question["variable"]


def test_no_survey_question_sends_a_value_unless_answered():
    # AWX adds every default that is not None to the job's extra vars, on a launch and on
    # a schedule alike, and extra vars beat the inventory.
    for question in survey():
        assert "default" not in question, question["variable"]
        assert not question["required"], question["variable"]


def test_the_schedule_starts_inside_the_inventorys_window_and_sends_no_variables():
    inventory = load("inventory/example/group_vars/etcd.yml")
    window = {"days": inventory["etcd_kernel_maintenance_days"], "start": inventory["etcd_kernel_maintenance_start"],
              "end": inventory["etcd_kernel_maintenance_end"]}
    for schedule in config()["controller_schedules"]:
        assert "extra_data" not in schedule, schedule["name"]
        start = re.search(r"DTSTART:(\d{8}T\d{6})Z", schedule["rrule"])
        assert start, schedule["rrule"]
        moment = datetime.datetime.strptime(start.group(1), "%Y%m%dT%H%M%S")
        assert check_window(window, moment)["inside"], (schedule["name"], check_window(window, moment))
        weekdays = re.search(r"BYDAY=([A-Z,]+)", schedule["rrule"])
        if weekdays:
            for day in weekdays.group(1).split(","):
                name = next(d for d in DAYS if d.upper().startswith(day))
                assert name in window["days"], "%s runs on %s, outside the window's days" % (schedule["name"], name)


def test_the_schedule_and_inventory_source_point_at_defined_objects():
    data = config()
    names = set(templates())
    assert {s["unified_job_template"] for s in data["controller_schedules"]} <= names
    projects = {p["name"] for p in data["controller_projects"]}
    inventories = {i["name"] for i in data["controller_inventories"]}
    credentials = {c["name"] for c in data["controller_credentials"]}
    environments = {e["name"] for e in data["controller_execution_environments"]}
    for template in data["controller_templates"]:
        assert template["project"] in projects and template["inventory"] in inventories
        assert set(template["credentials"]) <= credentials
        assert template["execution_environment"] in environments
    for source in data["controller_inventory_sources"]:
        assert source["source_project"] in projects and source["inventory"] in inventories
        assert os.path.exists(os.path.join(ROOT, source["source_path"]))


def test_the_configure_playbook_applies_this_file_with_a_listed_collection():
    play = load("awx/configure.yml")[0]
    assert play["vars_files"] == ["controller_configuration.yml"]
    listed = {entry["name"] for entry in load("awx/requirements.yml")["collections"]}
    assert "awx.awx" in listed  # the dispatch role drives awx.awx's modules
    for entry in play["roles"]:
        collection = entry["role"].rsplit(".", 1)[0]
        assert collection in listed, f"{entry['role']} needs {collection} in awx/requirements.yml"


def test_the_awx_project_is_the_collections_repository():
    repository = load("galaxy.yml")["repository"]
    [project] = config()["controller_projects"]
    assert project["scm_url"] in (repository, repository + ".git")


def test_the_workflow_runs_detect_then_an_approval_then_remediate_and_names_defined_templates():
    (workflow,) = config()["controller_workflows"]
    nodes = dict((node["identifier"], node) for node in workflow["workflow_nodes"])
    order, identifier = [], "detect"
    while identifier:
        order.append(identifier)
        successors = nodes[identifier].get("related", {}).get("success_nodes", [])
        assert len(successors) <= 1, "a straight line: %s" % identifier
        identifier = successors[0]["identifier"] if successors else None
    assert order == ["detect", "approve the plan", "remediate"] and sorted(order) == sorted(nodes)
    kinds = [nodes[name]["unified_job_template"]["type"] for name in order]
    assert kinds == ["job_template", "workflow_approval", "job_template"]
    assert [nodes[name]["unified_job_template"]["name"] for name in ("detect", "remediate")] == [
        "etcd kernel - detect", "etcd kernel - remediate"]
    assert {nodes[name]["unified_job_template"]["name"] for name in ("detect", "remediate")} <= set(templates())
    assert nodes["approve the plan"]["unified_job_template"]["timeout"] > 0
    assert workflow["inventory"] in {i["name"] for i in config()["controller_inventories"]}
