"""Unit tests for the kernel filters: thin wrappers, errors that name the filter."""
import pytest

from ansible.errors import AnsibleFilterError

from ansible_collections.sre.etcd_kernel.plugins.filter.kernel import FilterModule

FILTERS = FilterModule().filters()
RUNNING = "5.4.0-132-generic"
OFFERED = ["5.4.0-133-generic", "5.4.0-135-generic", "5.4.0-137-generic", "5.4.0-1093-aws"]


def test_filters_are_exposed():
    assert sorted(FILTERS) == [
        "ubuntu_kernel_affected", "ubuntu_kernel_compare", "ubuntu_kernel_parse",
        "ubuntu_kernel_sort", "ubuntu_kernel_target"]


def test_parse():
    assert FILTERS["ubuntu_kernel_parse"]("5.4.0-1093-aws") == {
        "release": "5.4.0-1093-aws", "upstream": "5.4.0", "abi": 1093, "flavour": "aws"}


def test_compare():
    compare = FILTERS["ubuntu_kernel_compare"]
    assert compare("5.4.0-99-generic", "5.4.0-135-generic") == -1
    assert compare("5.4.0-135-generic", "5.4.0-135-generic") == 0
    assert compare("5.4.0-135-generic", "5.4.0-99-generic") == 1


def test_sort():
    assert FILTERS["ubuntu_kernel_sort"](["5.4.0-135-generic", "5.4.0-99-generic", RUNNING]) == [
        "5.4.0-99-generic", RUNNING, "5.4.0-135-generic"]


def test_affected():
    verdict = FILTERS["ubuntu_kernel_affected"](RUNNING)
    assert sorted(verdict) == ["affected", "reason", "status"]
    assert verdict["affected"] is True
    assert verdict["status"] == "affected"
    assert "LP#1996678" in verdict["reason"]
    assert FILTERS["ubuntu_kernel_affected"]("5.4.0-135-generic")["affected"] is False


@pytest.mark.parametrize("release, affected, status", [
    (RUNNING, True, "affected"),
    ("5.4.0-135-generic", False, "fixed"),
    ("5.4.0-131-generic", False, "unaffected"),
    ("5.15.0-56-generic", False, "unaffected"),
    ("5.4.0-1093-aws", False, "unknown"),
    ("5.4.0-1098-azure", False, "unknown"),
])
def test_affected_gives_every_status(release, affected, status):
    verdict = FILTERS["ubuntu_kernel_affected"](release)
    assert (verdict["affected"], verdict["status"]) == (affected, status)


def test_an_unknown_verdict_says_which_setting_to_extend():
    reason = FILTERS["ubuntu_kernel_affected"]("5.4.0-1093-gcp")["reason"]
    assert "no known range for flavour gcp; " in reason
    assert reason.endswith("add one via etcd_kernel_affected_ranges")


def test_affected_with_custom_ranges():
    ranges = [{"upstream": "5.15.0", "from_abi": 56, "fixed_abi": 58, "flavours": ["generic"]}]
    assert FILTERS["ubuntu_kernel_affected"]("5.15.0-57-generic", ranges)["affected"] is True
    # Custom ranges are added to the built-in one, which still applies.
    assert FILTERS["ubuntu_kernel_affected"](RUNNING, ranges)["affected"] is True


def test_affected_with_a_range_for_a_cloud_flavour():
    ranges = [{"upstream": "5.4.0", "from_abi": 1090, "fixed_abi": 1094, "flavours": ["aws"]}]
    assert FILTERS["ubuntu_kernel_affected"]("5.4.0-1093-aws", ranges)["status"] == "affected"
    assert FILTERS["ubuntu_kernel_affected"]("5.4.0-1094-aws", ranges)["status"] == "fixed"


def test_target_refuses_unknown_and_widened_releases():
    target = FILTERS["ubuntu_kernel_target"]
    assert target("5.4.0-1093-aws", ["5.4.0-1094-aws"]) is None
    widened = [{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 138}]
    assert target(RUNNING, OFFERED, widened) is None


def test_target():
    target = FILTERS["ubuntu_kernel_target"]
    assert target(RUNNING, OFFERED) == "5.4.0-137-generic"
    assert target(RUNNING, ["5.4.0-133-generic"]) is None
    assert target(RUNNING, OFFERED, pinned="5.4.0-135-generic") == "5.4.0-135-generic"
    assert target(RUNNING, OFFERED, None, "5.4.0-136-generic") == "5.4.0-136-generic"


@pytest.mark.parametrize("name, args, kwargs, message", [
    ("ubuntu_kernel_parse", ["5.4"], {}, "is not an Ubuntu kernel release"),
    ("ubuntu_kernel_parse", [None], {}, "expected a kernel release string"),
    ("ubuntu_kernel_compare", ["5.4.0-1093-aws", RUNNING], {}, "flavours"),
    ("ubuntu_kernel_compare", [RUNNING, "abc"], {}, "is not an Ubuntu kernel release"),
    ("ubuntu_kernel_sort", [[RUNNING, "junk"]], {}, "is not an Ubuntu kernel release"),
    ("ubuntu_kernel_affected", ["5.4.0-x-generic"], {}, "is not an Ubuntu kernel release"),
    ("ubuntu_kernel_affected", ["\uff15.\uff14.\uff10-\uff11\uff13\uff12-generic"], {}, "is not an Ubuntu kernel release"),
    ("ubuntu_kernel_affected", ["5.4.0-" + "1" * 5000 + "-generic"], {}, "its ABI number has 5000 digits"),
    ("ubuntu_kernel_target", ["5.4.0-1093-aws", []], {"pinned": "5.4.0-1094-aws"},
     "no known range for flavour aws"),
    ("ubuntu_kernel_affected", [RUNNING, [{"upstream": "5.4.0", "from_abi": 135, "fixed_abi": 132}]], {},
     "must be lower than fixed_abi"),
    ("ubuntu_kernel_target", [RUNNING, OFFERED], {"pinned": "5.4.0-134-generic"},
     "in the affected range .*pin 5.4.0-135-generic or newer"),
    ("ubuntu_kernel_target", [RUNNING, OFFERED], {"pinned": "5.4.0-137-lowlatency"}, "series and flavour"),
    ("ubuntu_kernel_target", ["garbage", OFFERED], {}, "is not an Ubuntu kernel release"),
])
def test_bad_input_raises_filter_error_naming_the_filter(name, args, kwargs, message):
    with pytest.raises(AnsibleFilterError, match="^%s: .*%s" % (name, message)) as raised:
        FILTERS[name](*args, **kwargs)
    # raise ... from: the original error stays visible with -vvv.
    assert isinstance(raised.value.__cause__, ValueError)


@pytest.mark.parametrize("name, args, message", [
    ("ubuntu_kernel_sort", [RUNNING], "ubuntu_kernel_sort: the input must be a list of releases, got str"),
    ("ubuntu_kernel_target", [RUNNING, "5.4.0-135-generic"],
     "ubuntu_kernel_target: the offered releases must be a list of releases, got str"),
])
def test_a_bare_string_is_not_taken_for_a_list(name, args, message):
    with pytest.raises(AnsibleFilterError, match="^%s$" % message):
        FILTERS[name](*args)
