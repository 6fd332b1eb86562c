"""Integration tests run against the real lab; they fail (never skip) when it is down."""
import pytest

from lab import cluster
from lab.config import LabError


@pytest.fixture(scope="session")
def lab():
    try:
        return cluster.current_config()
    except LabError as error:
        pytest.fail("integration tests need the lab: %s (make test-integration brings it up)" % error)


@pytest.fixture
def clean_lab(lab):
    """A healthy lab with no faults before and after the test."""
    cluster.up(log=lambda *_: None)
    yield lab
    cluster.up(log=lambda *_: None)


@pytest.fixture
def affected_lab(clean_lab):
    """The lab with every master on the affected kernel (a fresh lab when a run fixed one)."""
    from lab.docker import exec_in
    kernels = {exec_in(clean_lab.master(h), "cat", "/var/lib/lab/osrelease").stdout.strip()
               for h in clean_lab.hosts}
    if kernels != {"5.4.0-132-generic"}:
        cluster.down(log=lambda *_: None)
        cluster.up(log=lambda *_: None)
    return clean_lab
