"""Integration tests run against the real lab; they fail (never skip) when it is down."""
import pytest

from lab import cluster, kernels
from lab.config import LabError
from lab.docker import exec_in


@pytest.fixture(scope="session")
def lab():
    try:
        return cluster.current_config()
    except LabError as error:
        pytest.fail("integration tests need the lab: %s (make test-integration brings it up)" % error)


@pytest.fixture
def clean_lab(lab):
    """A healthy lab with no faults. Each test asks for one before it starts, so nothing
    is cleaned after a test: the next one's `up` does it (and `make lab-up` or molecule's
    create after the last one)."""
    cluster.up(log=lambda *_: None)
    return lab


@pytest.fixture
def affected_lab(lab):
    """A healthy lab with no faults and every node on the affected kernel: a fresh lab
    when a run fixed one, since only a new node boots the affected kernel again."""
    booted = {exec_in(lab.master(h), "cat", "/var/lib/lab/osrelease", check=False).stdout.strip()
              for h in lab.nodes}
    if booted != {kernels.release(kernels.BOOT_ABI)}:
        cluster.down(log=lambda *_: None)
    cluster.up(log=lambda *_: None)
    return lab
