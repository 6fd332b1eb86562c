"""remediate.yml when the cluster is already in trouble: the invariants still hold."""
import json
import os

import pytest

from lab import faults, witness
from lab.config import REPO_ROOT

from lab_helpers import run_playbook

pytestmark = pytest.mark.lab


def test_a_member_already_down_is_remediated_first_and_the_rest_follow(affected_lab):
    faults.inject(affected_lab, "master3", "member_stopped")
    witness.start(affected_lab)
    try:
        # Two hosts show the order (the member out first, then the rest); molecule's default
        # scenario rolls out all three.
        result = run_playbook("remediate.yml", "--limit", "master3,master1")
    finally:
        records = witness.stop(affected_lab)
    assert result.returncode == 0, result.stdout[-4000:]
    with open(os.path.join(REPO_ROOT, "reports", "latest.json")) as handle:
        report = json.load(handle)
    assert report["result"] == "remediated"
    assert report["plan"][0]["host"] == "master3" and report["plan"][0]["role"] == "unhealthy"
    assert [h["status"] for h in report["hosts"]] == ["remediated"] * 2
    monitor, writer = records["monitor"], records["writer"]
    assert monitor["max_down"] == 1 and monitor["seconds_without_quorum"] == 0
    assert writer["lost"] == 0 and writer["failed"] == 0
