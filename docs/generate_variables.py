"""Write docs/variables.md from the roles' meta/argument_specs.yml (the one source).

python docs/generate_variables.py          rewrite docs/variables.md
tests/unit/test_docs.py fails when the file and the argument specs disagree.
"""
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = os.path.join(ROOT, "docs", "variables.md")


def _text(value):
    if isinstance(value, list):
        return " ".join(str(item) for item in value)
    return str(value)


def _default(option):
    if "default" not in option:
        return "required" if option.get("required") else "-"
    value = option["default"]
    return "`%s`" % (yaml.safe_dump(value, default_flow_style=True).strip().replace("\n...", "")
                     if not isinstance(value, str) else (value or '""'))


def render():
    lines = ["# Role variables", "",
             "Generated from each role's `meta/argument_specs.yml` by `python docs/generate_variables.py`;",
             "a test keeps this file and the specs in step. Set these in the inventory (group_vars) or",
             "with `-e`; kubespray's own variables (`etcd_cert_dir`, `etcd_member_name`,",
             "`etcd_deployment_type`, `ip`, `access_ip`, `etcd_client_port`) are read as they are.", ""]
    for role in sorted(os.listdir(os.path.join(ROOT, "roles"))):
        path = os.path.join(ROOT, "roles", role, "meta", "argument_specs.yml")
        with open(path) as handle:
            specs = yaml.safe_load(handle)["argument_specs"]
        for entry_point, spec in sorted(specs.items()):
            title = role if entry_point == "main" else "%s (%s)" % (role, entry_point)
            lines += ["## %s" % title, "", _text(spec.get("short_description", "")), ""]
            options = spec.get("options") or {}
            if not options:
                lines += ["No options.", ""]
                continue
            lines += ["| variable | type | default | description |", "|---|---|---|---|"]
            for name, option in sorted(options.items()):
                kind = option.get("type", "str")
                if option.get("elements"):
                    kind += " of " + option["elements"]
                if option.get("choices"):
                    kind += " (%s)" % ", ".join(str(c) for c in option["choices"])
                lines.append("| `%s` | %s | %s | %s |" % (name, kind, _default(option),
                                                           _text(option.get("description", "")).replace("|", "/")))
            lines.append("")
    return "\n".join(lines)


if __name__ == "__main__":
    with open(TARGET, "w") as handle:
        handle.write(render())
    sys.stdout.write("written: %s\n" % os.path.relpath(TARGET, ROOT))
