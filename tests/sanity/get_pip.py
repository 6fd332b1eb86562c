"""Stand-in for ansible-test's get-pip bootstrap script, for machines that cannot reach it.

ansible-test creates each sanity test's virtual environment without pip, then runs a
get-pip script it downloads from ci-files.testing.ansible.com (unreachable here; see
ansible/ansible#77304). This does the same job with what Python and PyPI offer:
ensurepip, then pip installs what ansible-test asked for (its pinned pip version).
ansible-test runs it as `python quiet_pip.py <pip options> <packages>` with GET_PIP
pointing here; run.sh copies it to where ansible-test looks for a cached script.
"""
import subprocess
import sys

if __name__ == "__main__":
    # get-pip's own switches; pip install does not know them.
    arguments = [a for a in sys.argv[1:] if a not in ("--no-setuptools", "--no-wheel")]
    subprocess.run([sys.executable, "-m", "ensurepip", "--default-pip"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([sys.executable, "-m", "pip", "install", "--quiet", *arguments], check=True)
