"""Unit tests for module_utils/kernel_release.py: the kernel decisions."""
import ast
import copy
import random

import pytest

from ansible_collections.sre.etcd_kernel.plugins.module_utils import kernel_release
from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_release import (
    DEFAULT_AFFECTED_RANGES,
    GENERIC_ABI_FLAVOURS,
    VERDICTS,
    IncomparableReleases,
    InvalidAffectedRanges,
    InvalidKernelRelease,
    InvalidTargetRelease,
    KernelRelease,
    check_affected,
    choose_target_release,
    compare_releases,
    effective_ranges,
    is_affected,
    kernel_verdict,
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
    ("6.1.0-56-amd64", (6, 1, 0), 56, "amd64"),  # Debian's
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


@pytest.mark.parametrize("not_ascii", [
    "\uff15.\uff14.\uff10-\uff11\uff13\uff12-generic",  # full-width 5.4.0-132
    "5.4.0-\uff11\uff13\uff12-generic",
    "5.4.0-\u0661\u0663\u0662-generic",  # Arabic-Indic 132
    "\U0001d7d3.4.0-132-generic",  # mathematical bold 5
])
def test_parse_release_accepts_ascii_digits_only(not_ascii):
    # int() reads all of these as 132 or 5; the parser must not.
    with pytest.raises(InvalidKernelRelease, match="is not an Ubuntu kernel release"):
        parse_release(not_ascii)
    assert release_from_package_name("linux-image-" + not_ascii) is None


def test_parse_release_rejects_a_trailing_newline_inside_the_flavour_check():
    # Only surrounding whitespace is ignored, not a newline in the middle.
    with pytest.raises(InvalidKernelRelease):
        parse_release("5.4.0-132-generic\nx")


@pytest.mark.parametrize("release, message", [
    ("5.4.0-" + "1" * 5000 + "-generic", "its ABI number has 5000 digits, at most 6 are expected"),
    ("5.4.0-1234567-generic", "its ABI number has 7 digits"),
    ("12345.4.0-132-generic", "upstream version '12345.4.0' has a number of more than 4 digits"),
    ("5.4." + "9" * 5000 + "-132-generic", "has a number of more than 4 digits"),
])
def test_parse_release_rejects_absurd_numbers_cleanly(release, message):
    with pytest.raises(InvalidKernelRelease, match=message) as raised:
        parse_release(release)
    # The message quotes the input cut short, not 5000 characters of it.
    assert len(str(raised.value)) < 400
    assert "5.4.0-132-generic" in str(raised.value)


def test_parse_release_accepts_the_longest_numbers_allowed():
    parsed = parse_release("1000.9999.0-999999-generic")
    assert (parsed.upstream, parsed.abi) == ((1000, 9999, 0), 999999)


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


# --- verdicts ----------------------------------------------------------------

LP_REFERENCE = "(LP#1996678 epoll: autoremove wakers even more aggressively)"


@pytest.mark.parametrize("release, status, fixed_from, reason", [
    ("5.4.0-132-generic", "affected", "5.4.0-135-generic",
     "5.4.0-132-generic is in the affected range 5.4.0-132..134 %s; fixed from 5.4.0-135-generic" % LP_REFERENCE),
    ("5.4.0-134-lowlatency", "affected", "5.4.0-135-lowlatency",
     "5.4.0-134-lowlatency is in the affected range 5.4.0-132..134 %s; fixed from 5.4.0-135-lowlatency"
     % LP_REFERENCE),
    ("5.4.0-135-generic", "fixed", "5.4.0-135-generic",
     "5.4.0-135-generic is fixed: it is at or above the fix for 5.4.0-132..134 %s" % LP_REFERENCE),
    ("5.4.0-200-generic-lpae", "fixed", "5.4.0-135-generic-lpae",
     "5.4.0-200-generic-lpae is fixed: it is at or above the fix for 5.4.0-132..134 %s" % LP_REFERENCE),
    ("5.4.0-131-generic", "unaffected", None,
     "5.4.0-131-generic is not affected: it predates 5.4.0-132..134 %s" % LP_REFERENCE),
    ("5.15.0-56-generic", "unaffected", None,
     "5.15.0-56-generic is not affected: no affected range covers upstream 5.15.0, "
     "so the bug never reached that series"),
    # No range names 5.15.0 for any flavour: the bug never reached the series.
    ("5.15.0-1030-aws", "unaffected", None,
     "5.15.0-1030-aws is not affected: no affected range covers upstream 5.15.0, "
     "so the bug never reached that series"),
    ("5.4.0-1093-aws", "unknown", None,
     "the status of 5.4.0-1093-aws is unknown: no known range for flavour aws; the 5.4.0 ranges cover "
     "generic, generic-lpae, lowlatency, whose ABI numbers say nothing about aws; "
     "add one via etcd_kernel_affected_ranges"),
])
def test_every_verdict_with_the_built_in_ranges(release, status, fixed_from, reason):
    verdict = kernel_verdict(release)
    assert verdict == {"status": status, "affected": status == "affected", "reason": reason,
                       "fixed_from": fixed_from}
    assert verdict["status"] in VERDICTS
    assert check_affected(release) == (verdict["affected"], reason)


@pytest.mark.parametrize("flavour", [
    "aws", "azure", "gcp", "gke", "gkeop", "oracle", "kvm", "ibm", "raspi", "oem", "intel-iotg", "bluefield"])
@pytest.mark.parametrize("abi", [132, 133, 135, 1093])
def test_cloud_flavours_are_unknown_with_the_built_in_ranges(flavour, abi):
    # 5.4.0-133-aws and 5.4.0-1093-aws alike: their numbering is not generic's.
    release = "5.4.0-%d-%s" % (abi, flavour)
    verdict = kernel_verdict(release)
    assert verdict["status"] == "unknown"
    assert verdict["affected"] is False
    assert verdict["fixed_from"] is None
    assert "no known range for flavour %s; " % flavour in verdict["reason"]
    assert verdict["reason"].endswith("add one via etcd_kernel_affected_ranges")


@pytest.mark.parametrize("flavour", GENERIC_ABI_FLAVOURS)
def test_the_generic_numbered_flavours_share_the_built_in_range(flavour):
    assert kernel_verdict("5.4.0-133-%s" % flavour)["status"] == "affected"
    assert kernel_verdict("5.4.0-135-%s" % flavour)["status"] == "fixed"
    assert kernel_verdict("5.4.0-131-%s" % flavour)["status"] == "unaffected"


def test_the_built_in_range_names_its_flavours_and_sources():
    seed = DEFAULT_AFFECTED_RANGES[0]
    assert (seed["upstream"], seed["from_abi"], seed["fixed_abi"]) == ("5.4.0", 132, 135)
    assert seed["flavours"] == ["generic", "generic-lpae", "lowlatency"]
    assert seed["reference"].startswith("LP#1996678")
    sources = " ".join(seed["sources"])
    assert "https://bugs.launchpad.net/ubuntu/+source/linux/+bug/1996678" in sources
    assert "5.4.0-135" in sources
    assert "5.4.211" in sources and "epoll: autoremove wakers even more aggressively" in sources


AWS_RANGE = {"upstream": "5.4.0", "from_abi": 1090, "fixed_abi": 1094, "flavours": ["aws"], "reference": "INC-7"}


@pytest.mark.parametrize("release, status, fixed_from", [
    ("5.4.0-1089-aws", "unaffected", None),
    ("5.4.0-1090-aws", "affected", "5.4.0-1094-aws"),
    ("5.4.0-1093-aws", "affected", "5.4.0-1094-aws"),
    ("5.4.0-1094-aws", "fixed", "5.4.0-1094-aws"),
    ("5.4.0-1100-aws", "fixed", "5.4.0-1094-aws"),
    # The aws range says nothing about azure, nor changes generic.
    ("5.4.0-1093-azure", "unknown", None),
    ("5.4.0-133-generic", "affected", "5.4.0-135-generic"),
    ("5.4.0-137-generic", "fixed", "5.4.0-135-generic"),
])
def test_an_operator_range_gives_a_cloud_flavour_a_verdict(release, status, fixed_from):
    verdict = kernel_verdict(release, [AWS_RANGE])
    assert (verdict["status"], verdict["fixed_from"]) == (status, fixed_from)


def test_an_operator_range_reason_names_its_flavour_and_reference():
    assert kernel_verdict("5.4.0-1093-aws", [AWS_RANGE])["reason"] == (
        "5.4.0-1093-aws is in the affected range 5.4.0-1090..1093 [aws] (INC-7); fixed from 5.4.0-1094-aws")
    assert "the 5.4.0 ranges cover aws, generic, generic-lpae, lowlatency" in \
        kernel_verdict("5.4.0-1093-azure", [AWS_RANGE])["reason"]


@pytest.mark.parametrize("abi, status, fixed_from", [
    (131, "unaffected", None),
    (133, "affected", "5.4.0-138-generic"),  # the built-in fix at 135 is not the end any more
    (135, "affected", "5.4.0-138-generic"),
    (137, "affected", "5.4.0-138-generic"),
    (138, "fixed", "5.4.0-138-generic"),
])
def test_an_operator_range_widens_the_generic_range(abi, status, fixed_from):
    ranges = [{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 138, "reference": "INC-9"}]
    verdict = kernel_verdict("5.4.0-%d-generic" % abi, ranges)
    assert (verdict["status"], verdict["fixed_from"]) == (status, fixed_from)


def test_fixed_from_follows_adjoining_ranges():
    ranges = [{"upstream": "5.4.0", "from_abi": 135, "fixed_abi": 137},
              {"upstream": "5.4.0", "from_abi": 137, "fixed_abi": 140}]
    assert kernel_verdict("5.4.0-133-generic", ranges)["fixed_from"] == "5.4.0-140-generic"
    verdict = kernel_verdict("5.4.0-141-generic", ranges)
    assert (verdict["status"], verdict["fixed_from"]) == ("fixed", "5.4.0-140-generic")


def test_between_two_ranges_is_fixed_by_the_earlier_one():
    ranges = [{"upstream": "5.4.0", "from_abi": 150, "fixed_abi": 152, "reference": "INC-2"}]
    verdict = kernel_verdict("5.4.0-140-generic", ranges)
    assert verdict["status"] == "fixed"
    assert verdict["fixed_from"] == "5.4.0-135-generic"
    assert verdict["reason"] == (
        "5.4.0-140-generic is fixed: it is at or above the fix for 5.4.0-132..134 %s; "
        "it predates 5.4.0-150..151 (INC-2)" % LP_REFERENCE)


def test_an_operator_range_cannot_narrow_the_built_in_one():
    # Operator ranges are added: a narrower range for 5.4.0 leaves 133 affected.
    ranges = [{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 133}]
    assert kernel_verdict("5.4.0-133-generic", ranges)["status"] == "affected"


def test_an_operator_range_without_flavours_means_the_generic_numbering():
    # The old default entry (flavours: []) repeated by an operator must not make
    # 5.4.0-1093-aws "at or above the fix" again.
    old_default = {"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "flavours": [], "reference": "LP#1996678"}
    assert kernel_verdict("5.4.0-1093-aws", [old_default])["status"] == "unknown"
    assert kernel_verdict("5.4.0-133-lowlatency", [old_default])["status"] == "affected"
    # A new series' range without flavours: generic is judged, aws is not.
    new_series = {"upstream": "5.15.0", "from_abi": 56, "fixed_abi": 58}
    assert kernel_verdict("5.15.0-57-generic", [new_series])["status"] == "affected"
    assert kernel_verdict("5.15.0-1030-aws", [new_series])["status"] == "unknown"


def test_custom_range_with_flavours():
    ranges = [{"upstream": "5.15.0", "from_abi": 56, "fixed_abi": 58, "flavours": ["generic"], "reference": "INC-1"}]
    assert is_affected("5.15.0-57-generic", ranges)
    assert not is_affected("5.15.0-58-generic", ranges)
    verdict = kernel_verdict("5.15.0-57-lowlatency", ranges)
    assert verdict["status"] == "unknown"
    assert "no known range for flavour lowlatency; the 5.15.0 ranges cover generic," in verdict["reason"]
    assert is_affected(RUNNING, ranges)


def test_empty_and_none_ranges_mean_the_built_in_ones():
    assert kernel_verdict(RUNNING, []) == kernel_verdict(RUNNING, None) == kernel_verdict(RUNNING)
    assert check_affected(RUNNING, []) == check_affected(RUNNING)
    assert effective_ranges([]) == effective_ranges(None) == validate_affected_ranges(DEFAULT_AFFECTED_RANGES)


def test_operator_ranges_come_after_the_built_in_ones():
    ranges = effective_ranges([AWS_RANGE])
    assert [r["flavours"] for r in ranges] == [list(GENERIC_ABI_FLAVOURS), ["aws"]]


def test_verdict_does_not_modify_the_built_in_or_operator_ranges():
    built_in = copy.deepcopy(DEFAULT_AFFECTED_RANGES)
    operator = [dict(AWS_RANGE, flavours=[])]
    kernel_verdict("5.4.0-1093-aws", operator)
    assert DEFAULT_AFFECTED_RANGES == built_in
    assert operator == [dict(AWS_RANGE, flavours=[])]


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
    assert normalised == [{"upstream": (5, 4, 0), "from_abi": 1, "fixed_abi": 2,
                           "flavours": ["generic", "generic-lpae", "lowlatency"], "reference": "", "sources": []}]


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
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "sources": "LP#1996678"}], "sources must be a list"),
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "sources": [1996678]}], "sources must be a list"),
    ([{"upstream": "\uff15.4.0", "from_abi": 132, "fixed_abi": 135}], "upstream must be a version string"),
    ([{"upstream": "5.4.0\n", "from_abi": 132, "fixed_abi": 135}], "upstream must be a version string"),
    ([{"upstream": "12345.4.0", "from_abi": 132, "fixed_abi": 135}], "upstream must be a version string"),
    ([{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 135, "flavours": ["aws\n"]}], "flavours must be a list"),
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


def test_no_target_for_a_cloud_flavour_without_a_range():
    # Every aws release is unknown with the built-in ranges: none is "fixed".
    offered = ["5.4.0-1093-aws", "5.4.0-1094-aws", "5.4.0-1100-aws", "5.4.0-137-generic"]
    assert newest_fixed_release("5.4.0-1093-aws", offered) is None
    assert choose_target_release("5.4.0-1093-aws", offered) is None


def test_target_for_a_cloud_flavour_with_an_operator_range():
    offered = ["5.4.0-1091-aws", "5.4.0-1093-aws", "5.4.0-1094-aws", "5.4.0-1100-aws", "5.4.0-137-generic"]
    assert newest_fixed_release("5.4.0-1091-aws", offered, [AWS_RANGE]) == "5.4.0-1100-aws"
    assert newest_fixed_release("5.4.0-1091-aws", offered[:2], [AWS_RANGE]) is None  # 1093 is still affected


def test_target_skips_releases_an_operator_range_widens_into():
    ranges = [{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 138}]
    offered = ["5.4.0-135-generic", "5.4.0-137-generic"]
    assert newest_fixed_release(RUNNING, offered, ranges) is None
    assert newest_fixed_release(RUNNING, offered + ["5.4.0-138-generic"], ranges) == "5.4.0-138-generic"


def test_target_of_a_series_no_range_covers_is_the_newest_offered():
    # Unaffected targets stay acceptable, as before.
    assert newest_fixed_release("5.15.0-56-generic", ["5.15.0-57-generic", "5.15.0-60-generic"]) == "5.15.0-60-generic"


def test_pinning_a_cloud_release_without_a_range_is_an_error():
    with pytest.raises(InvalidTargetRelease, match="^pinned target 5.4.0-1100-aws cannot be judged: no known range "
                       "for flavour aws; add one via etcd_kernel_affected_ranges$"):
        choose_target_release("5.4.0-1093-aws", ["5.4.0-1100-aws"], pinned_release="5.4.0-1100-aws")


def test_pinning_a_cloud_release_with_an_operator_range():
    assert choose_target_release("5.4.0-1093-aws", [], [AWS_RANGE], "5.4.0-1094-aws") == {
        "release": "5.4.0-1094-aws", "pinned": True, "offered": False}
    with pytest.raises(InvalidTargetRelease, match="5.4.0-1090..1093 \\[aws\\] \\(INC-7\\); pin 5.4.0-1094-aws or newer"):
        choose_target_release("5.4.0-1091-aws", [], [AWS_RANGE], "5.4.0-1093-aws")


def test_pinning_into_a_widened_range_names_the_real_fix():
    ranges = [{"upstream": "5.4.0", "from_abi": 132, "fixed_abi": 138}]
    with pytest.raises(InvalidTargetRelease, match="pin 5.4.0-138-generic or newer"):
        choose_target_release(RUNNING, OFFERED, ranges, "5.4.0-134-generic")


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


def test_debian_kernels_are_judged_by_an_operator_range_for_their_flavour():
    ranges = [{"upstream": "6.1.0", "from_abi": 1, "fixed_abi": 57, "flavours": ["amd64"]}]
    assert kernel_verdict("6.1.0-56-amd64", ranges)["status"] == "affected"
    assert kernel_verdict("6.1.0-56-amd64", ranges)["fixed_from"] == "6.1.0-57-amd64"
    assert kernel_verdict("6.1.0-57-amd64", ranges)["status"] == "fixed"
    # Without a range for 6.1.0 the built-in one does not reach it.
    assert kernel_verdict("6.1.0-56-amd64")["status"] == "unaffected"
