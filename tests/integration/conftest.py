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
