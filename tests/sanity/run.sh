#!/usr/bin/env bash
# ansible-test sanity on this collection, for the tests that run offline (no docker,
# no other Python than the controller's). ansible-test must run inside a path
# ansible_collections/<namespace>/<name>, so it runs on a copy of the tracked files
# under .cache/sanity, with a HOME of its own there for its virtual environments.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
work=$root/.cache/sanity
collection=$work/ansible_collections/sre/etcd_kernel
pip_version=$(python -c 'from ansible_test._internal.python_requirements import get_venv_packages as p; print(p(type("P", (), {"version": ""})())["pip"])')

rm -rf "$work/ansible_collections"
mkdir -p "$collection" "$work/home/.ansible/test/cache"
# The links that make the project importable as the collection would loop here.
(cd "$root" && git ls-files --cached --others --exclude-standard \
  | grep -v -e '^collections/' -e '^playbooks/collections$' \
  | xargs -d '\n' cp -P --parents -t "$collection")
cp "$root/tests/sanity/get_pip.py" "$work/home/.ansible/test/cache/get_pip_${pip_version//./_}.py"

cd "$collection"
# ansible-test finds the files to check through git.
git init -q && git add -A
HOME=$work/home ansible-test sanity --color no --python 3.11 \
  --test compile --test import --test validate-modules --test pep8 --test yamllint \
  --test ansible-doc --test runtime-metadata "$@"
