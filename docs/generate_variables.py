"""Write docs/variables.md from the role's meta/argument_specs.yml and defaults/main.yml.

python docs/generate_variables.py          rewrite docs/variables.md
tests/unit/test_docs.py fails when the file and the role disagree.
"""
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE = os.path.join(ROOT, "roles", "etcd_kernel")
TARGET = os.path.join(ROOT, "docs", "variables.md")
# The entry point that checks every setting; the others check all or a part of them.
FULL_ENTRY_POINT = "preflight"


def load_role():
    with open(os.path.join(ROLE, "meta", "argument_specs.yml")) as handle:
        specs = yaml.safe_load(handle)["argument_specs"]
    with open(os.path.join(ROLE, "defaults", "main.yml")) as handle:
        defaults = yaml.safe_load(handle) or {}
    return specs, defaults


def _text(value):
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


def _default(value):
    if isinstance(value, str):
        text = " ".join(value.split()) or '""'
    else:
        text = yaml.safe_dump(value, default_flow_style=True).strip().replace("\n...", "")
    # A Jinja filter's bar would end the table cell.
    return "`%s`" % text.replace("|", "\\|")


def render():
    specs, defaults = load_role()
    options = specs[FULL_ENTRY_POINT]["options"]
    lines = ["# Settings", "",
             "Generated from `roles/etcd_kernel/meta/argument_specs.yml` and `defaults/main.yml` by",
             "`python docs/generate_variables.py`; a test keeps this file and the role in step. Every",
             "setting has one home, the role's defaults; set them in the inventory (group_vars) or with",
             "`-e`. kubespray's own variables (`etcd_member_name`, `etcd_cert_dir`, `etcd_deployment_type`,",
             "`etcd_client_port`, `ip`, `access_ip`) are read as they are; the member name and the layout",
             "are claims, checked against what each host runs.", "",
             "| variable | type | default | description |", "|---|---|---|---|"]
    for name, option in sorted(options.items()):
        kind = option.get("type", "str")
        if option.get("elements"):
            kind += " of " + option["elements"]
        if option.get("choices"):
            kind += " (%s)" % ", ".join(str(c) for c in option["choices"])
        description = _text(option.get("description", "")).replace("|", "/")
        lines.append("| `%s` | %s | %s | %s |" % (name, kind, _default(defaults[name]), description))
    lines += ["", "## Entry points", "",
              "One role, `sre.etcd_kernel.etcd_kernel`, with one entry point per phase; Ansible checks",
              "the settings each one reads before it runs.", "",
              "| entry point | what it does | settings it checks |", "|---|---|---|"]
    for entry_point, spec in sorted(specs.items()):
        checked = sorted(spec.get("options") or {})
        scope = "all" if checked == sorted(options) else (", ".join("`%s`" % n for n in checked) or "none")
        lines.append("| `%s` | %s | %s |" % (entry_point, _text(spec.get("short_description", "")), scope))
    lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    with open(TARGET, "w") as handle:
        handle.write(render())
    sys.stdout.write("written: %s\n" % os.path.relpath(TARGET, ROOT))
