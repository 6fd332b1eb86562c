"""The one form of a time the kit writes, and of a run id (module_utils/report_time.py)."""
import re

from ansible_collections.sre.etcd_kernel.plugins.module_utils.report_time import new_run_id, utc_stamp

RUN_ID = re.compile(r"^\d{8}T\d{6}Z-[a-z0-9]{12}$")


def test_a_time_is_utc_iso_8601_to_the_second():
    assert utc_stamp(1795910400.9) == "2026-11-29T00:00:00Z"
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$", utc_stamp())


def test_a_run_id_is_its_utc_start_and_a_random_tail():
    run_id = new_run_id(1795910400.9)
    assert RUN_ID.match(run_id) and run_id.startswith("20261129T000000Z-")
    assert len(set(new_run_id(1795910400) for _ in range(20))) == 20


def test_a_prefix_goes_before_the_run_id_with_a_dash():
    run_id = new_run_id(1795910400, prefix="mitigate")
    assert run_id.startswith("mitigate-20261129T000000Z-") and RUN_ID.match(run_id[len("mitigate-"):])
