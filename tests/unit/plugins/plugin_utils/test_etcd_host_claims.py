"""The inventory's claims about a host, checked against what the host runs."""
import pytest

from ansible_collections.sre.etcd_kernel.plugins.plugin_utils.etcd_host_claims import host_claim_problems

NODE = {"layout": "docker", "member_name": "etcd1", "name_source": "/etc/etcd.env (ETCD_NAME)",
        "container": "etcd1", "advertise_client_urls": ["https://10.0.0.11:2379"],
        "files": ["/etc/systemd/system/etcd.service", "/etc/etcd.env"], "problems": []}
CLAIMS = {"member_name": "etcd1", "layout": "", "endpoint": "https://10.0.0.11:2379"}


def health(local_name="etcd1", names=("etcd1", "etcd2", "etcd3")):
    local = {"endpoint": "https://127.0.0.1:2379", "id": "01" if local_name else None, "name": local_name,
             "version": "3.4.23", "error": "" if local_name else "no answer within 1.0 s (timeout)"}
    return {"members": [{"name": name} for name in names], "local": local}


def checks(claims=None, node=None, result=None):
    problems = host_claim_problems("master1", dict(CLAIMS, **(claims or {})), dict(NODE, **(node or {})),
                                   result or health())
    for problem in problems:
        assert problem["message"].startswith("master1: ") and problem["message"].endswith("Nothing was changed.")
    return {problem["check"]: problem["message"] for problem in problems}


def test_a_host_that_runs_what_the_inventory_says_has_no_problem():
    assert checks() == {}
    assert checks(claims={"layout": "docker"}) == {}
    # A frozen member does not answer locally: its files still name it.
    assert checks(result=health(local_name=None)) == {}


def test_an_inventory_in_another_order_names_another_member():
    found = checks(claims={"member_name": "etcd2"}, result=health(local_name=None))
    message = found["member_name"]
    assert "the inventory gives it the member etcd2" in message and "the host runs etcd1" in message
    assert "Set etcd_member_name: etcd1 for master1" in message


def test_the_member_answering_locally_is_named_when_it_agrees_with_the_files():
    assert "and it answers on https://127.0.0.1:2379" in checks(claims={"member_name": "etcd2"})["member_name"]


def test_files_and_the_running_member_that_disagree_are_a_problem():
    message = checks(result=health(local_name="etcd3"))["local_member"]
    assert "names the member etcd1, but the member answering on https://127.0.0.1:2379 is etcd3" in message


def test_a_layout_the_host_does_not_run_is_a_problem():
    message = checks(claims={"layout": "host"})["layout"]
    assert "the inventory says etcd runs in the host layout" in message and "in the docker layout" in message
    assert "Set etcd_deployment_type: docker, or leave it out" in message


def test_a_member_etcd_does_not_list_is_a_problem():
    assert "etcd has no member of that name (its members: etcd2, etcd3)" in checks(
        result=health(local_name=None, names=("etcd2", "etcd3")))["membership"]


@pytest.mark.parametrize("endpoint, problem", [
    ("https://10.0.0.11:2379/", False),
    ("HTTPS://10.0.0.11:2379", False),
    ("https://203.0.113.7:2379", True),
])
def test_the_kits_address_must_be_one_etcd_advertises(endpoint, problem):
    found = checks(claims={"endpoint": endpoint})
    assert ("address" in found) == problem
    if problem:
        assert "etcd there advertises https://10.0.0.11:2379" in found["address"]
        assert "Set access_ip (or ip) for master1" in found["address"]


def test_a_host_whose_files_say_nothing_is_a_problem_of_its_own():
    found = checks(node={"layout": None, "member_name": None, "problems": ["neither an etcd unit nor ..."]})
    assert list(found) == ["etcd_files"]
    assert "must read from each host which member it runs" in found["etcd_files"]
