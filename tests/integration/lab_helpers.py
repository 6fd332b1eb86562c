"""Polling for integration tests: wait for a condition instead of sleeping a fixed time."""
import time

import pytest


def wait_for(predicate, timeout, interval=0.2, what="condition"):
    """Poll predicate until it returns something truthy; fail with `what` after timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    pytest.fail("timed out after %.0fs waiting for %s" % (timeout, what))
