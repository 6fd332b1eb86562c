"""How much the role's YAML decides: the figures issue 25's redesign is measured by.

python bench/yaml_metrics.py [checkout]     (make yaml-metrics)

Prints, for the role's task files: the tasks, the reads of the run state on localhost
(hostvars['localhost']), the Jinja characters (templates, and the expressions in when,
that, until, failed_when and changed_when), the inline if/else inside templates, and
how many places write a setting's default or a constant (max_index_gap's 1000, the lock
key, the report's time format) across plugins/ and roles/.
"""
import os
import re
import sys

import yaml

CONDITIONALS = ("when", "that", "until", "failed_when", "changed_when")
TEMPLATE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
INLINE_IF = re.compile(r"\bif\b")
CONSTANTS = {
    "max_index_gap default (1000)": re.compile(r"max_index_gap[^\n]{0,40}?\b1000\b|\b1000\b[^\n]{0,40}?max_index_gap", re.I),
    "run lock key": re.compile(r"/sre\.etcd_kernel/remediation-lock"),
    "report time format": re.compile(r"%Y-%m-%dT%H:%M:%SZ"),
}


def _strings(node, key=None):
    """(key, string) for every string in a loaded task file, with the key it sits under."""
    if isinstance(node, dict):
        for name, value in node.items():
            yield from _strings(value, name)
    elif isinstance(node, list):
        for value in node:
            yield from _strings(value, key)
    elif isinstance(node, str):
        yield key, node


def _tasks(node):
    if isinstance(node, list):
        for item in node:
            yield from _tasks(item)
    elif isinstance(node, dict):
        if "block" in node:
            for part in ("block", "rescue", "always"):
                yield from _tasks(node.get(part) or [])
        else:
            yield node


def task_metrics(root):
    figures = {"task files": 0, "tasks": 0, "hostvars['localhost'] reads": 0, "Jinja characters": 0,
               "inline if/else": 0}
    tasks_dir = os.path.join(root, "roles", "etcd_kernel", "tasks")
    for folder, _, names in os.walk(tasks_dir):
        for name in sorted(names):
            if not name.endswith(".yml"):
                continue
            with open(os.path.join(folder, name)) as handle:
                text = handle.read()
            figures["task files"] += 1
            figures["hostvars['localhost'] reads"] += text.count("hostvars['localhost']")
            loaded = yaml.safe_load(text) or []
            figures["tasks"] += sum(1 for _ in _tasks(loaded))
            for key, value in _strings(loaded):
                spans = TEMPLATE.findall(value)
                if key in CONDITIONALS and not spans:
                    spans = [value]
                figures["Jinja characters"] += sum(len(span) for span in spans)
                figures["inline if/else"] += sum(len(INLINE_IF.findall(span)) for span in spans if key not in CONDITIONALS
                                                 or TEMPLATE.search(value))
    return figures


def constant_homes(root):
    homes = {name: [] for name in CONSTANTS}
    for top in ("plugins", "roles"):
        for folder, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                if not name.endswith((".py", ".yml", ".j2")):
                    continue
                path = os.path.join(folder, name)
                with open(path) as handle:
                    text = handle.read()
                for constant, pattern in CONSTANTS.items():
                    count = len(pattern.findall(text))
                    if count:
                        homes[constant].append("%s (%d)" % (os.path.relpath(path, root), count))
    return homes


def main(root):
    for name, value in task_metrics(root).items():
        print("%-30s %8d" % (name, value))
    for constant, places in constant_homes(root).items():
        print("%-30s %8d  %s" % (constant, sum(int(p.rsplit("(", 1)[1][:-1]) for p in places), ", ".join(places)))


if __name__ == "__main__":
    main(os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
