# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Ubuntu kernel release logic: parsing, ordering, affected ranges, target choice.

This file is shipped to managed Ubuntu 20.04 nodes by the kernel_status module,
so it must run on Python 3.8 with the standard library only.

Vocabulary
    release   the string ``uname -r`` prints, e.g. ``5.4.0-132-generic``:
              upstream version ``5.4.0``, ABI number ``132``, flavour ``generic``.
    series    the upstream version; Ubuntu 20.04's GA kernels are the 5.4.0
              series, its HWE kernels the 5.15.0 series.
    flavour   ``generic``, ``lowlatency``, ``aws``, ``azure``, ``generic-lpae``...

Ordering
    Within one flavour, releases order by upstream version, then ABI number
    (numerically: 5.4.0-99 < 5.4.0-135). Releases of different flavours are not
    comparable: cloud flavours are built from their own trees and number their
    ABIs on their own (5.4.0-1093-aws is not "newer" than 5.4.0-135-generic), so
    compare_releases() refuses them instead of guessing. release_sort_key() still
    gives mixed lists a stable order for display (upstream, ABI, then flavour).
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import re

# The seed incident. Users extend this list through the module option or the
# filters' affected_ranges argument; keep entries in this shape.
DEFAULT_AFFECTED_RANGES = [
    {
        "upstream": "5.4.0",
        "from_abi": 132,
        "fixed_abi": 135,
        "flavours": [],
        "reference": "LP#1996678 epoll: autoremove wakers even more aggressively",
    },
]

RELEASE_EXAMPLE = "5.4.0-132-generic"
RELEASE_FORMAT_HINT = (
    "a release looks like <upstream>-<abi>-<flavour>, for example "
    "5.4.0-132-generic, 5.4.0-1093-aws or 5.15.0-56-lowlatency"
)

# Upstream is always three numbers on Ubuntu; the flavour is lower-case words
# joined by hyphens (generic, lowlatency, aws, generic-lpae, intel-iotg...).
_RELEASE_PATTERN = re.compile(
    r"^(?P<upstream>\d+\.\d+\.\d+)-(?P<abi>\d+)-(?P<flavour>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)$"
)
_UPSTREAM_PATTERN = re.compile(r"^\d+\.\d+\.\d+$")
_FLAVOUR_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")

_IMAGE_PACKAGE_PREFIX = "linux-image-"
# Packages named like an image but not a bootable kernel the kit would install:
# debug symbols, and Debian's unsigned twins of signed images.
_NOT_AN_IMAGE_SUFFIXES = ("-dbg", "-dbgsym", "-unsigned")

_RANGE_REQUIRED_KEYS = ("upstream", "from_abi", "fixed_abi")
_RANGE_OPTIONAL_KEYS = ("flavours", "reference")


class InvalidKernelRelease(ValueError):
    """A string that is not an Ubuntu kernel release."""


class IncomparableReleases(ValueError):
    """Two releases of different flavours were compared."""


class InvalidAffectedRanges(ValueError):
    """The affected ranges are not a list of well-formed range dicts."""


class InvalidTargetRelease(ValueError):
    """A pinned target release that must not be installed on this host."""


class KernelRelease(object):
    """One parsed release. Build it with parse_release()."""

    def __init__(self, upstream, abi, flavour):
        self.upstream = upstream  # tuple of ints, e.g. (5, 4, 0)
        self.abi = abi
        self.flavour = flavour

    @property
    def upstream_string(self):
        return ".".join(str(number) for number in self.upstream)

    @property
    def release(self):
        return "%s-%d-%s" % (self.upstream_string, self.abi, self.flavour)

    def same_line(self, other):
        """True when both are the same series and flavour, i.e. comparable upgrades."""
        return self.upstream == other.upstream and self.flavour == other.flavour

    def to_dict(self):
        return {
            "release": self.release,
            "upstream": self.upstream_string,
            "abi": self.abi,
            "flavour": self.flavour,
        }

    def __eq__(self, other):
        if not isinstance(other, KernelRelease):
            return NotImplemented
        return (self.upstream, self.abi, self.flavour) == (other.upstream, other.abi, other.flavour)

    def __hash__(self):
        return hash((self.upstream, self.abi, self.flavour))

    def __repr__(self):
        return "KernelRelease(%r)" % self.release

    def __str__(self):
        return self.release


def parse_release(release):
    """Parse a release string (or pass a KernelRelease through).

    Surrounding whitespace is ignored because /proc/sys/kernel/osrelease ends
    with a newline. Raises InvalidKernelRelease for anything else.
    """
    if isinstance(release, KernelRelease):
        return release
    if not isinstance(release, str):
        raise InvalidKernelRelease(
            "expected a kernel release string, got %s %r; %s"
            % (type(release).__name__, release, RELEASE_FORMAT_HINT)
        )
    match = _RELEASE_PATTERN.match(release.strip())
    if match is None:
        raise InvalidKernelRelease(
            "%r is not an Ubuntu kernel release; %s" % (release, RELEASE_FORMAT_HINT)
        )
    upstream = tuple(int(number) for number in match.group("upstream").split("."))
    return KernelRelease(upstream, int(match.group("abi")), match.group("flavour"))


def release_from_package_name(package_name):
    """Return the release a linux-image-<release> package installs, else None.

    Meta packages (linux-image-generic, linux-image-aws,
    linux-image-generic-hwe-20.04), linux-image-unsigned-<release> and debug
    symbol packages return None: they are not the package the kit installs for
    a release, and counting them would report releases twice or wrongly.
    """
    if not isinstance(package_name, str):
        return None
    name = package_name.strip()
    if not name.startswith(_IMAGE_PACKAGE_PREFIX):
        return None
    if name.endswith(_NOT_AN_IMAGE_SUFFIXES):
        return None
    candidate = name[len(_IMAGE_PACKAGE_PREFIX):]
    try:
        return parse_release(candidate).release
    except InvalidKernelRelease:
        return None


def compare_releases(left, right):
    """Return -1, 0 or 1 as left is older than, equal to or newer than right.

    Both must have the same flavour (see the module docstring for why);
    otherwise IncomparableReleases is raised.
    """
    left = parse_release(left)
    right = parse_release(right)
    if left.flavour != right.flavour:
        raise IncomparableReleases(
            "cannot order %s and %s: flavours %r and %r number their ABIs independently"
            % (left.release, right.release, left.flavour, right.flavour)
        )
    left_key = (left.upstream, left.abi)
    right_key = (right.upstream, right.abi)
    if left_key < right_key:
        return -1
    if left_key > right_key:
        return 1
    return 0


def release_sort_key(release):
    """Sort key: upstream, ABI, then flavour.

    Within one flavour this orders exactly as compare_releases(); across
    flavours it is only a stable display order.
    """
    parsed = parse_release(release)
    return (parsed.upstream, parsed.abi, parsed.flavour)


def sort_releases(releases):
    """Return the release strings sorted oldest first (see release_sort_key)."""
    parsed = [parse_release(release) for release in releases]
    return [release.release for release in sorted(parsed, key=release_sort_key)]


def validate_affected_ranges(affected_ranges):
    """Check user-supplied ranges and return them normalised.

    Each range needs upstream (str like "5.4.0"), from_abi and fixed_abi (ints,
    from_abi < fixed_abi); flavours (list of str, empty = every flavour) and
    reference (str) are optional. The returned dicts carry upstream as a tuple
    of ints. Raises InvalidAffectedRanges naming the bad entry.
    """
    if not isinstance(affected_ranges, (list, tuple)):
        raise InvalidAffectedRanges(
            "affected ranges must be a list of dicts, got %s" % type(affected_ranges).__name__
        )
    normalised = []
    for index, entry in enumerate(affected_ranges):
        where = "affected range #%d" % index
        if not isinstance(entry, dict):
            raise InvalidAffectedRanges(
                "%s must be a dict like %r, got %s %r"
                % (where, DEFAULT_AFFECTED_RANGES[0], type(entry).__name__, entry)
            )
        missing = [key for key in _RANGE_REQUIRED_KEYS if key not in entry]
        if missing:
            raise InvalidAffectedRanges(
                "%s is missing %s; every range needs upstream, from_abi and fixed_abi"
                % (where, ", ".join(missing))
            )
        unknown = sorted(set(entry) - set(_RANGE_REQUIRED_KEYS) - set(_RANGE_OPTIONAL_KEYS))
        if unknown:
            raise InvalidAffectedRanges(
                "%s has unknown keys %s; allowed: %s"
                % (where, ", ".join(unknown), ", ".join(_RANGE_REQUIRED_KEYS + _RANGE_OPTIONAL_KEYS))
            )

        upstream = entry["upstream"]
        if not isinstance(upstream, str) or not _UPSTREAM_PATTERN.match(upstream):
            raise InvalidAffectedRanges(
                "%s: upstream must be a version string like \"5.4.0\", got %r" % (where, upstream)
            )
        for key in ("from_abi", "fixed_abi"):
            value = entry[key]
            # bool is an int subclass; true/false here is always a typo.
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidAffectedRanges(
                    "%s: %s must be a non-negative integer, got %r" % (where, key, value)
                )
        if entry["from_abi"] >= entry["fixed_abi"]:
            raise InvalidAffectedRanges(
                "%s: from_abi (%d) must be lower than fixed_abi (%d); fixed_abi is the first "
                "ABI that is no longer affected"
                % (where, entry["from_abi"], entry["fixed_abi"])
            )

        flavours = entry.get("flavours") or []
        if not isinstance(flavours, (list, tuple)) or not all(
            isinstance(flavour, str) and _FLAVOUR_PATTERN.match(flavour) for flavour in flavours
        ):
            raise InvalidAffectedRanges(
                "%s: flavours must be a list of flavour names like [\"generic\", \"lowlatency\"] "
                "(empty means every flavour), got %r" % (where, entry.get("flavours"))
            )
        reference = entry.get("reference") or ""
        if not isinstance(reference, str):
            raise InvalidAffectedRanges(
                "%s: reference must be a string, got %r" % (where, reference)
            )

        normalised.append({
            "upstream": tuple(int(number) for number in upstream.split(".")),
            "from_abi": entry["from_abi"],
            "fixed_abi": entry["fixed_abi"],
            "flavours": list(flavours),
            "reference": reference,
        })
    return normalised


def _describe_range(affected_range):
    upstream = ".".join(str(number) for number in affected_range["upstream"])
    text = "%s-%d..%d" % (upstream, affected_range["from_abi"], affected_range["fixed_abi"] - 1)
    if affected_range["flavours"]:
        text += " [%s]" % ", ".join(affected_range["flavours"])
    if affected_range["reference"]:
        text += " (%s)" % affected_range["reference"]
    return text


def _fixed_release(release, affected_range):
    """The first release of this release's line that the range no longer covers."""
    return KernelRelease(release.upstream, affected_range["fixed_abi"], release.flavour)


def _matching_range(release, normalised_ranges):
    for affected_range in normalised_ranges:
        if release.upstream != affected_range["upstream"]:
            continue
        if affected_range["flavours"] and release.flavour not in affected_range["flavours"]:
            continue
        if affected_range["from_abi"] <= release.abi < affected_range["fixed_abi"]:
            return affected_range
    return None


def check_affected(release, affected_ranges=None):
    """Return (affected, reason) for one release.

    affected_ranges defaults to DEFAULT_AFFECTED_RANGES. A release is affected
    when some range has the same upstream, from_abi <= ABI < fixed_abi and,
    if the range lists flavours, the release's flavour among them.
    """
    parsed = parse_release(release)
    ranges = validate_affected_ranges(DEFAULT_AFFECTED_RANGES if affected_ranges is None else affected_ranges)

    matched = _matching_range(parsed, ranges)
    if matched is not None:
        return True, "%s is in the affected range %s; fixed from %s" % (
            parsed.release, _describe_range(matched), _fixed_release(parsed, matched).release)

    # Say why each range of the same series does not apply, so a surprising
    # "not affected" is easy to check.
    notes = []
    for affected_range in ranges:
        if parsed.upstream != affected_range["upstream"]:
            continue
        described = _describe_range(affected_range)
        if affected_range["flavours"] and parsed.flavour not in affected_range["flavours"]:
            notes.append("flavour %s is not listed in %s" % (parsed.flavour, described))
        elif parsed.abi < affected_range["from_abi"]:
            notes.append("it predates %s" % described)
        else:
            notes.append("it is at or above the fix for %s" % described)
    if not notes:
        return False, "%s is not affected: no affected range covers upstream %s" % (
            parsed.release, parsed.upstream_string)
    return False, "%s is not affected: %s" % (parsed.release, "; ".join(notes))


def is_affected(release, affected_ranges=None):
    """Just the boolean of check_affected()."""
    return check_affected(release, affected_ranges)[0]


def newest_fixed_release(running_release, offered_releases, affected_ranges=None):
    """The newest offered release of the running series and flavour that is not
    affected and is newer than the running one; None when there is none.

    Offered entries that are not releases are ignored: apt lists contain
    unrelated names and a stray one must not hide a good target.
    """
    running = parse_release(running_release)
    ranges = validate_affected_ranges(DEFAULT_AFFECTED_RANGES if affected_ranges is None else affected_ranges)
    candidates = []
    for offered in offered_releases or []:
        try:
            candidate = parse_release(offered)
        except InvalidKernelRelease:
            continue
        if not candidate.same_line(running) or candidate.abi <= running.abi:
            continue
        if _matching_range(candidate, ranges) is not None:
            continue
        candidates.append(candidate)
    if not candidates:
        return None
    return max(candidates, key=release_sort_key).release


def validate_pinned_target(running_release, pinned_release, affected_ranges=None):
    """Check a pinned target against the running release; return it parsed.

    The pin must be a release of the same series and flavour, not affected,
    and not older than the running one (equal is allowed: a host already on
    its pinned, fixed kernel needs nothing). Raises InvalidTargetRelease with
    a message that says what to pin instead.
    """
    running = parse_release(running_release)
    ranges = validate_affected_ranges(DEFAULT_AFFECTED_RANGES if affected_ranges is None else affected_ranges)
    try:
        pinned = parse_release(pinned_release)
    except InvalidKernelRelease as error:
        raise InvalidTargetRelease("pinned target is malformed: %s" % error) from error

    if not pinned.same_line(running):
        raise InvalidTargetRelease(
            "pinned target %s is not of the running kernel's series and flavour (%s-*-%s); "
            "pin a %s-<abi>-%s release"
            % (pinned.release, running.upstream_string, running.flavour,
               running.upstream_string, running.flavour)
        )
    matched = _matching_range(pinned, ranges)
    if matched is not None:
        raise InvalidTargetRelease(
            "pinned target %s is in the affected range %s; pin %s or newer"
            % (pinned.release, _describe_range(matched), _fixed_release(pinned, matched).release)
        )
    if pinned.abi < running.abi:
        raise InvalidTargetRelease(
            "pinned target %s is older than the running %s; the kit only moves kernels forward"
            % (pinned.release, running.release)
        )
    return pinned


def choose_target_release(running_release, offered_releases, affected_ranges=None, pinned_release=None):
    """Pick the release to install.

    Without a pin: the newest fixed offered release (see newest_fixed_release),
    returned as {"release": ..., "pinned": False, "offered": True}, or None when
    nothing fixed is offered. With a pin: the validated pin as
    {"release": ..., "pinned": True, "offered": <is it in offered_releases>}; a
    pin need not be offered (apt lists may be stale) but callers should say so.
    """
    if pinned_release:
        pinned = validate_pinned_target(running_release, pinned_release, affected_ranges)
        offered = set()
        for release in offered_releases or []:
            try:
                offered.add(parse_release(release))
            except InvalidKernelRelease:
                continue
        return {"release": pinned.release, "pinned": True, "offered": pinned in offered}

    newest = newest_fixed_release(running_release, offered_releases, affected_ranges)
    if newest is None:
        return None
    return {"release": newest, "pinned": False, "offered": True}
