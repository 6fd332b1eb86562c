"""Unit tests for module_utils/kernel_release.py: the kernel decisions."""
import ast
import copy
import random

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils import kernel_release
from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_release import (
    DEFAULT_AFFECTED_RANGES,
    IncomparableReleases,
    InvalidAffectedRanges,
    InvalidKernelRelease,
    InvalidTargetRelease,
    KernelRelease,
    check_affected,
    choose_target_release,
    compare_releases,
    is_affected,
    newest_fixed_release,
    parse_release,
    release_from_package_name,
    release_sort_key,
    sort_releases,
    validate_affected_ranges,
    validate_pinned_target,
)

RUNNING = "5.4.0-132-generic"


# --- parsing ---------------------------------------------------------------

@pytest.mark.parametrize("release, upstream, abi, flavour", [
    ("5.4.0-132-generic", (5, 4, 0), 132, "generic"),
    ("5.4.0-135-generic", (5, 4, 0), 135, "generic"),
    ("5.4.0-132-lowlatency", (5, 4, 0), 132, "lowlatency"),
    ("5.4.0-1093-aws", (5, 4, 0), 1093, "aws"),
    ("5.4.0-1098-azure", (5, 4, 0), 1098, "azure"),
    ("5.15.0-56-lowlatency", (5, 15, 0), 56, "lowlatency"),
    ("5.4.0-132-generic-lpae", (5, 4, 0), 132, "generic-lpae"),
    ("5.15.0-1030-intel-iotg", (5, 15, 0), 1030, "intel-iotg"),
    ("5.4.0-132-generic\n", (5, 4, 0), 132, "generic"),  # as read from /proc
])
def test_parse_release_splits_upstream_abi_and_flavour(release, upstream, abi, flavour):
    parsed = parse_release(release)
    assert (parsed.upstream, parsed.abi, parsed.flavour) == (upstream, abi, flavour)
    assert parsed.release == release.strip()


def test_parse_release_to_dict():
    assert parse_release("5.4.0-1093-aws").to_dict() == {
        "release": "5.4.0-1093-aws", "upstream": "5.4.0", "abi": 1093, "flavour": "aws"}


def test_parse_release_passes_a_parsed_release_through():
    parsed = parse_release(RUNNING)
    assert parse_release(parsed) is parsed


@pytest.mark.parametrize("garbage", [
    "", "   ", "5.4", "5.4.0", "5.4.0-132", "abc", "5.4.0-x-generic", "5.4.0-132-",
    "5.4.0-132-Generic", "linux-image-5.4.0-132-generic", "5.4.0-132-generic extra",
    "v5.4.0-132-generic", "5.4-132-generic",
])
def test_parse_release_rejects_garbage_with_a_helpful_message(garbage):
    with pytest.raises(InvalidKernelRelease) as raised:
        parse_release(garbage)
    assert "5.4.0-132-generic" in str(raised.value)
    assert isinstance(raised.value, ValueError)


@pytest.mark.parametrize("not_a_string", [None, 132, 5.4, ["5.4.0-132-generic"], {"release": RUNNING}])
def test_parse_release_rejects_non_strings(not_a_string):
    with pytest.raises(InvalidKernelRelease, match="expected a kernel release string"):
        parse_release(not_a_string)


@pytest.mark.parametrize("package, release", [
    ("linux-image-5.4.0-132-generic", "5.4.0-132-generic"),
    ("linux-image-5.4.0-1093-aws", "5.4.0-1093-aws"),
    ("linux-image-5.15.0-56-lowlatency", "5.15.0-56-lowlatency"),
    ("linux-image-generic", None),
    ("linux-image-aws", None),
    ("linux-image-generic-hwe-20.04", None),
    ("linux-image-virtual", None),
    ("linux-image-unsigned-5.4.0-132-generic", None),
    ("linux-image-5.4.0-132-generic-dbgsym", None),
    ("linux-image-6.1.0-47-amd64-dbg", None),
    ("linux-image-6.1.0-47-amd64-unsigned", None),
    ("linux-image-6.12.107+deb12-amd64", None),
    ("linux-headers-5.4.0-132-generic", None),
    ("", None),
    (None, None),
])
def test_release_from_package_name(package, release):
    assert release_from_package_name(package) == release


# --- ordering --------------------------------------------------------------

def test_abi_compares_numerically_not_lexically():
    assert compare_releases("5.4.0-99-generic", "5.4.0-135-generic") == -1
    assert compare_releases("5.4.0-135-generic", "5.4.0-99-generic") == 1
    assert sort_releases(["5.4.0-135-generic", "5.4.0-99-generic"]) == ["5.4.0-99-generic", "5.4.0-135-generic"]


def test_upstream_compares_before_abi_and_numerically():
    assert compare_releases("5.15.0-56-generic", "5.4.0-135-generic") == 1
    assert compare_releases("5.4.0-200-generic", "5.15.0-1-generic") == -1


def test_equal_releases_compare_equal():
    assert compare_releases(RUNNING, RUNNING + "\n") == 0
    assert parse_release(RUNNING) == parse_release(RUNNING)
    assert len({parse_release(RUNNING), parse_release(RUNNING)}) == 1


def test_different_flavours_do_not_compare():
    with pytest.raises(IncomparableReleases, match="flavours"):
        compare_releases("5.4.0-1093-aws", "5.4.0-135-generic")


def test_sorting_agrees_with_comparison():
    releases = ["5.4.0-%d-generic" % abi for abi in (9, 99, 100, 131, 132, 134, 135, 1000)]
    releases += ["5.15.0-%d-generic" % abi for abi in (1, 56)]
    shuffled = list(releases)
    random.Random(1996678).shuffle(shuffled)
    ordered = sort_releases(shuffled)
    for older, newer in zip(ordered, ordered[1:]):
        assert compare_releases(older, newer) == -1
    assert ordered[0] == "5.4.0-9-generic"
    assert ordered[-1] == "5.15.0-56-generic"


def test_sorting_mixed_flavours_is_stable_display_order():
    mixed = ["5.4.0-1093-aws", "5.4.0-135-generic", "5.4.0-135-aws", "5.4.0-99-generic"]
    assert sort_releases(mixed) == ["5.4.0-99-generic", "5.4.0-135-aws", "5.4.0-135-generic", "5.4.0-1093-aws"]
    assert sorted(mixed, key=release_sort_key) == sort_releases(mixed)


def test_sort_rejects_garbage_elements():
    with pytest.raises(InvalidKernelRelease):
        sort_releases([RUNNING, "5.4"])


# --- affected ranges -------------------------------------------------------

@pytest.mark.parametrize("abi, affected", [(131, False), (132, True), (133, True), (134, True), (135, False), (136, False)])
def test_seed_range_boundaries(abi, affected):
    assert is_affected("5.4.0-%d-generic" % abi) is affected


def test_affected_reason_names_range_reference_and_fix():
    affected, reason = check_affected(RUNNING)
    assert affected is True
    assert reason == (
        "5.4.0-132-generic is in the affected range 5.4.0-132..134 "
        "(LP#1996678 epoll: autoremove wakers even more aggressively); fixed from 5.4.0-135-generic")


def test_unaffected_reasons_say_why():
    assert "at or above the fix" in check_affected("5.4.0-135-generic")[1]
    assert "predates" in check_affected("5.4.0-131-generic")[1]
    assert "no affected range covers upstream 5.15.0" in check_affected("5.15.0-56-generic")[1]


def test_seed_range_applies_to_every_flavour():
    assert is_affected("5.4.0-132-lowlatency")
    assert is_affected("5.4.0-133-aws")
    # Cloud ABIs live far above the generic range.
    assert not is_affected("5.4.0-1093-aws")


def test_custom_range_with_flavours():
    ranges = DEFAULT_AFFECTED_RANGES + [
        {"upstream": "5.15.0", "from_abi": 56, "fixed_abi": 58, "flavours": ["generic"], "reference": "INC-1"}]
    assert is_affected("5.15.0-57-generic", ranges)
    assert not is_affected("5.15.0-58-generic", ranges)
    affected, reason = check_affected("5.15.0-57-lowlatency", ranges)
    assert affected is False
    assert "flavour lowlatency is not listed in 5.15.0-56..57 [generic] (INC-1)" in reason
    assert is_affected(RUNNING, ranges)


def test_empty_ranges_mean_nothing_is_affected():
    assert check_affected(RUNNING, []) == (False, "5.4.0-132-generic is not affected: no affected range covers upstream 5.4.0")


def test_none_means_default_ranges():
    assert check_affected(RUNNING, None) == check_affected(RUNNING)


def test_validate_does_not_modify_the_input():
    ranges = copy.deepcopy(DEFAULT_AFFECTED_RANGES)
    validate_affected_ranges(ranges)
    assert ranges == DEFAULT_AFFECTED_RANGES


def test_validate_rejects_none():
    # check_affected() reads None as "the defaults"; validation itself does not.
    with pytest.raises(InvalidAffectedRanges, match="must be a list of dicts, got NoneType"):
        validate_affected_ranges(None)


def test_optional_keys_default():
    normalised = validate_affected_ranges([{"upstream": "5.4.0", "from_abi": 1, "fixed_abi": 2}])
    assert normalised == [{"upstream": (5, 4, 0), "from_abi": 1, "fixed_abi": 2, "flavours": [], "reference": ""}]


@pytest.mark.parametrize("ranges, message", [
    ("5.4.0-132..134", "must be a list of dicts"),
    (["5.4.0"], "affected range #0 must be a dict"),
    ([{"upstream": "5.4.0", "from_abi": 132}], "affected range #0 is missing fixed_abi"),
    ([{"from_abi": 132, "fixed_abi": 135}], "is missing upstream"),
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "flavor": ["generic"]}], "unknown keys flavor"),
    ([{"upstream": "5.4", "from_abi": 132, "fixed_abi": 135}], "upstream must be a version string"),
    ([{"upstream": 5.4, "from_abi": 132, "fixed_abi": 135}], "upstream must be a version string"),
    ([{"upstream": "5.4.0", "from_abi": "132", "fixed_abi": 135}], "from_abi must be a non-negative integer"),
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": True}], "fixed_abi must be a non-negative integer"),
    ([{"upstream": "5.4.0", "from_abi": -1, "fixed_abi": 135}], "from_abi must be a non-negative integer"),
    ([{"upstream": "5.4.0", "from_abi": 135, "fixed_abi": 135}], "from_abi \\(135\\) must be lower than fixed_abi \\(135\\)"),
    ([{"upstream": "5.4.0", "from_abi": 136, "fixed_abi": 135}], "must be lower than fixed_abi"),
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "flavours": "generic"}], "flavours must be a list"),
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "flavours": ["Generic"]}], "flavours must be a list"),
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "reference": 1996678}], "reference must be a string"),
    (DEFAULT_AFFECTED_RANGES + [{"upstream": "5.4.0"}], "affected range #1 is missing from_abi, fixed_abi"),
])
def test_bad_ranges_are_rejected_clearly(ranges, message):
    with pytest.raises(InvalidAffectedRanges, match=message):
        validate_affected_ranges(ranges)
    with pytest.raises(InvalidAffectedRanges):
        check_affected(RUNNING, ranges)


# --- target selection ------------------------------------------------------

OFFERED = [
    "5.4.0-131-generic", "5.4.0-132-generic", "5.4.0-133-generic", "5.4.0-134-generic",
    "5.4.0-135-generic", "5.4.0-137-generic", "5.4.0-99-generic",
    "5.4.0-1093-aws", "5.4.0-200-lowlatency", "5.15.0-56-generic",
]


def test_target_is_the_newest_fixed_release_of_the_same_line():
    assert newest_fixed_release(RUNNING, OFFERED) == "5.4.0-137-generic"
    assert choose_target_release(RUNNING, OFFERED) == {"release": "5.4.0-137-generic", "pinned": False, "offered": True}


def test_target_is_none_when_nothing_fixed_is_offered():
    offered = ["5.4.0-131-generic", "5.4.0-133-generic", "5.4.0-134-generic", "5.4.0-1093-aws", "5.15.0-56-generic"]
    assert choose_target_release(RUNNING, offered) is None
    assert choose_target_release(RUNNING, []) is None
    assert choose_target_release(RUNNING, None) is None


def test_target_must_be_newer_than_running():
    # A host already past the fix only moves forward.
    assert newest_fixed_release("5.4.0-137-generic", OFFERED) is None
    assert newest_fixed_release("5.4.0-135-generic", OFFERED) == "5.4.0-137-generic"


def test_target_respects_custom_ranges():
    ranges = DEFAULT_AFFECTED_RANGES + [{"upstream": "5.4.0", "from_abi": 136, "fixed_abi": 138}]
    assert newest_fixed_release(RUNNING, OFFERED, ranges) == "5.4.0-135-generic"


def test_target_ignores_offered_garbage():
    assert newest_fixed_release(RUNNING, ["junk", "", "5.4.0-135-generic"]) == "5.4.0-135-generic"


def test_target_for_a_cloud_flavour():
    offered = ["5.4.0-1093-aws", "5.4.0-1094-aws", "5.4.0-137-generic"]
    assert newest_fixed_release("5.4.0-1093-aws", offered) == "5.4.0-1094-aws"


def test_pin_ok_and_reports_whether_offered():
    assert choose_target_release(RUNNING, OFFERED, pinned_release="5.4.0-135-generic") == {
        "release": "5.4.0-135-generic", "pinned": True, "offered": True}
    assert choose_target_release(RUNNING, OFFERED, pinned_release="5.4.0-136-generic") == {
        "release": "5.4.0-136-generic", "pinned": True, "offered": False}


def test_pin_equal_to_a_fixed_running_release_is_allowed():
    assert validate_pinned_target("5.4.0-135-generic", "5.4.0-135-generic") == parse_release("5.4.0-135-generic")


def test_empty_pin_means_choose():
    assert choose_target_release(RUNNING, OFFERED, pinned_release="")["pinned"] is False


@pytest.mark.parametrize("pin, message", [
    ("5.4.0-134-generic", "pinned target 5.4.0-134-generic is in the affected range 5.4.0-132..134 .*; pin 5.4.0-135-generic or newer"),
    ("5.4.0-132-generic", "in the affected range"),
    ("5.4.0-1094-aws", "not of the running kernel's series and flavour \\(5.4.0-\\*-generic\\)"),
    ("5.4.0-137-lowlatency", "not of the running kernel's series and flavour"),
    ("5.15.0-60-generic", "not of the running kernel's series and flavour"),
    ("5.4.0-x-generic", "pinned target is malformed: .*5.4.0-132-generic"),
    ("linux-image-5.4.0-135-generic", "pinned target is malformed"),
])
def test_bad_pins_are_errors(pin, message):
    with pytest.raises(InvalidTargetRelease, match=message):
        choose_target_release(RUNNING, OFFERED, pinned_release=pin)


def test_pin_older_than_running_is_an_error():
    with pytest.raises(InvalidTargetRelease, match="older than the running 5.4.0-137-generic"):
        choose_target_release("5.4.0-137-generic", OFFERED, pinned_release="5.4.0-135-generic")


def test_kernel_release_repr_and_str():
    parsed = parse_release(RUNNING)
    assert str(parsed) == RUNNING
    assert repr(parsed) == "KernelRelease('5.4.0-132-generic')"
    assert parsed != KernelRelease((5, 4, 0), 132, "lowlatency")


def test_module_utils_source_is_python_3_8_syntax():
    # It runs on Ubuntu 20.04's Python 3.8; catch newer syntax before a host does.
    with open(kernel_release.__file__) as source:
        ast.parse(source.read(), feature_version=(3, 8))
