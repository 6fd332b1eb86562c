"""Write docs/variables.md and the role's README.md from its meta/argument_specs.yml and
defaults/main.yml.

python docs/generate_variables.py          rewrite both
tests/unit/test_docs.py fails when a file and the role disagree.
"""
import os
import sys

import yaml

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ROLE = os.path.join(ROOT, "roles", "etcd_kernel")
TARGET = os.path.join(ROOT, "docs", "variables.md")
ROLE_README = os.path.join(ROLE, "README.md")
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


# The role's sequence, as playbooks/remediate.yml runs it: which hosts each entry point
# runs on. A playbook of the operator's own follows the same plays.
REMEDIATION_PLAYS = [
    ("start", "`etcd:localhost`", "", "`stop`"),
    ("preflight", "`etcd`", "become; only while `hostvars['localhost'].etcd_kernel_run.stop is none`", "`stop`"),
    ("member", "`etcd_kernel_targets` (the group preflight builds, in plan order)", "become, `serial: 1`", "`stop`"),
    ("finish", "`etcd:localhost`", "", ""),
]


def render_role_readme():
    specs, _ = load_role()
    lines = ["# Role sre.etcd_kernel.etcd_kernel", "",
             "Generated from `meta/argument_specs.yml` by `python docs/generate_variables.py`; a test",
             "keeps this file and the role in step. Every setting is in the project's `docs/variables.md`;",
             "`docs/design.md` explains the phases and what each reads and writes.", "",
             "## Entry points", "",
             "Each file directly in `tasks/` is a public entry point, for `include_role` or `import_role`",
             "with `tasks_from`; Ansible checks the settings it reads before it runs. Each brings its own",
             "etcd connection (endpoints, certificates, timeout, from the role's settings), so a playbook",
             "of your own needs nothing from the kit's playbooks. The folders in `tasks/` (`common/`,",
             "`detect/`, `member/`, `preflight/`) are pieces of the entry points, not entry points.", ""]
    for entry_point, spec in sorted(specs.items()):
        lines += ["### `%s`" % entry_point, "", _text(spec.get("short_description", "")) + ".", ""]
        for paragraph in spec.get("description") or []:
            lines += [paragraph, ""]
    lines += ["## A remediation from a playbook of your own", "",
              "`playbooks/remediate.yml` is the reference. The run's state is its journal, folded into",
              "the fact `etcd_kernel_run` on `localhost`, so `start` and `finish` run on the etcd hosts and `localhost`",
              "together; wrap each phase in a block whose rescue includes `stop`, which records why it",
              "stopped. `finish` always runs: it releases the lock, writes the report and fails the",
              "play unless the run remediated, had nothing to do, or planned (check mode).", "",
              "| play | hosts | play settings | rescue |", "|---|---|---|---|"]
    for entry_point, hosts, settings, rescue in REMEDIATION_PLAYS:
        lines.append("| `%s` | %s | %s | %s |" % (entry_point, hosts, settings or "", rescue))
    lines += ["", "`detect` and `mitigate` (after `observe` on every host, as `playbooks/mitigate.yml` does)",
              "run on their own, on the etcd hosts with become.", ""]
    return "\n".join(lines)


if __name__ == "__main__":
    for target, text in ((TARGET, render()), (ROLE_README, render_role_readme())):
        with open(target, "w") as handle:
            handle.write(text)
        sys.stdout.write("written: %s\n" % os.path.relpath(target, ROOT))
