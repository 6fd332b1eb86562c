"""sre.etcd_kernel.run_id, the lookup run in-process: one new run id and its moment."""
import re

import pytest
from ansible.errors import AnsibleError
from ansible_collections.sre.etcd_kernel.plugins.lookup.run_id import LookupModule


@pytest.fixture
def run_id():
    return LookupModule()


def test_the_lookup_gives_one_run_id_with_the_moment_it_names(run_id):
    [run] = run_id.run([], variables={})
    assert re.match(r"^\d{8}T\d{6}Z-[a-z0-9]{12}$", run["id"])
    # The id's time and the moment are the same second, in the run id's and the report's forms.
    day, clock = run["id"][:8], run["id"][9:15]
    assert run["started"] == "%s-%s-%sT%s:%s:%sZ" % (day[:4], day[4:6], day[6:], clock[:2], clock[2:4], clock[4:])


def test_a_prefix_names_what_the_id_is_for(run_id):
    [run] = run_id.run([], variables={}, prefix="mitigate")
    assert run["id"].startswith("mitigate-")


@pytest.mark.parametrize("terms, options", [(["x"], {}), ([], {"prefx": "mitigate"}), ([], {"prefix": 3})])
def test_anything_but_a_prefix_is_refused(run_id, terms, options):
    with pytest.raises(AnsibleError, match="takes no terms, only prefix="):
        run_id.run(terms, variables={}, **options)
