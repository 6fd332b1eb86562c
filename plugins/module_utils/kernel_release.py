# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Ubuntu kernel release logic: parsing, ordering, verdicts, target choice.

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

Verdicts (kernel_verdict)
    affected    some range covers the release: same upstream, a flavour the
                range lists, from_abi <= ABI < fixed_abi.
    fixed       not affected, and at or above the fixed_abi of a range of its
                series and flavour.
    unaffected  below the from_abi of every range of its series and flavour, or
                of a series no range names: the bug never reached it.
    unknown     its series has ranges, but none lists its flavour. ABI numbers
                mean nothing across flavours that number them separately
                (5.4.0-1093-aws says nothing about 5.4.0-135-generic), so the kit
                refuses to guess rather than call a cloud kernel fixed.

Ranges
    The built-in ranges (DEFAULT_AFFECTED_RANGES) always apply; operator ranges
    are added to them, never replace them, so an operator range can only widen
    what is affected (or turn an unknown flavour into a known one). A range
    without flavours covers GENERIC_ABI_FLAVOURS, the flavours that share the
    generic ABI numbering, never every flavour.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

import os
import re

VERDICT_AFFECTED = "affected"
VERDICT_FIXED = "fixed"
VERDICT_UNAFFECTED = "unaffected"
VERDICT_UNKNOWN = "unknown"
VERDICTS = (VERDICT_AFFECTED, VERDICT_FIXED, VERDICT_UNAFFECTED, VERDICT_UNKNOWN)

# Where operators add ranges for the whole kit; quoted in "unknown" reasons.
RANGES_SETTING = "etcd_kernel_affected_ranges"

# The flavours built from a series' main linux source package, in one upload,
# so they share its ABI numbers: 5.4.0-132-generic, -lowlatency and
# -generic-lpae are the same code. The meta packages (linux-image-generic,
# -virtual, -generic-hwe-18.04...) install these flavours, so they need no
# entry. Cloud and device flavours (aws, azure, gcp, gke, oracle, kvm, ibm,
# raspi...) come from their own source packages with their own numbering.
GENERIC_ABI_FLAVOURS = ("generic", "generic-lpae", "lowlatency")

# The seed incident. Operators add ranges through the module option or the
# filters' affected_ranges argument; keep entries in this shape.
DEFAULT_AFFECTED_RANGES = [
    {
        "upstream": "5.4.0",
        "from_abi": 132,
        "fixed_abi": 135,
        "flavours": list(GENERIC_ABI_FLAVOURS),
        "reference": "LP#1996678 epoll: autoremove wakers even more aggressively",
        "sources": [
            "https://bugs.launchpad.net/ubuntu/+source/linux/+bug/1996678",
            "Ubuntu linux 5.4.0-135 changelog: the fix for LP#1996678",
            "upstream 5.4.211 commit \"epoll: autoremove wakers even more aggressively\"",
        ],
    },
]

RELEASE_EXAMPLE = "5.4.0-132-generic"
RELEASE_FORMAT_HINT = (
    "a release looks like <upstream>-<abi>-<flavour>, for example "
    "5.4.0-132-generic, 5.4.0-1093-aws or 5.15.0-56-lowlatency"
)

# Upstream is always three numbers on Ubuntu; the flavour is lower-case words
# joined by hyphens (generic, lowlatency, aws, generic-lpae, intel-iotg...).
# [0-9], not \d: \d also matches other scripts' digits, and int() accepts
# them, so a full-width "５.４.０-１３２-generic" would pass for a release.
# The patterns are used with fullmatch(): "$" would also accept a trailing "\n".
_RELEASE_PATTERN = re.compile(
    r"(?P<upstream>[0-9]+\.[0-9]+\.[0-9]+)-(?P<abi>[0-9]+)-(?P<flavour>[a-z][a-z0-9]*(?:-[a-z0-9]+)*)"
)
_UPSTREAM_PATTERN = re.compile(r"[0-9]{1,4}\.[0-9]{1,4}\.[0-9]{1,4}")
_FLAVOUR_PATTERN = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*")

# Far above any real release (ABIs reach four digits, upstream parts three).
# Longer numbers are garbage, and int() of a few thousand digits raises its
# own ValueError on newer Pythons instead of a message that helps.
MAX_ABI_DIGITS = 6
MAX_UPSTREAM_PART_DIGITS = 4
_SHOWN_CHARACTERS = 48

# A kernel release is under 100 bytes. osrelease_path may point at any file (a typo, a key file), and a
# failure message lands in task output, AWX job events and reports: no more of the file is read than
# this, and a message shows at most RELEASE_FILE_EXCERPT_CHARACTERS of it, and nothing of key material.
RELEASE_FILE_READ_LIMIT = 4096
RELEASE_FILE_EXCERPT_CHARACTERS = 64
# PEM blocks (keys and certificates) and private keys of any format (OpenSSH, PGP, PuTTY...).
_KEY_MATERIAL = re.compile(br"-----BEGIN|PRIVATE KEY|PRIVATE-LINES", re.IGNORECASE)

_IMAGE_PACKAGE_PREFIX = "linux-image-"
# Packages named like an image but not a bootable kernel the kit would install:
# debug symbols, and Debian's unsigned twins of signed images.
_NOT_AN_IMAGE_SUFFIXES = ("-dbg", "-dbgsym", "-unsigned")

_RANGE_REQUIRED_KEYS = ("upstream", "from_abi", "fixed_abi")
_RANGE_OPTIONAL_KEYS = ("flavours", "reference", "sources")


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


def _shown(value):
    """repr() of value, cut short: a message must not carry megabytes of garbage."""
    text = repr(value)
    if len(text) <= _SHOWN_CHARACTERS:
        return text
    return "%s... (%d characters)" % (text[:_SHOWN_CHARACTERS], len(text))


def parse_release(release):
    """Parse a release string (or pass a KernelRelease through).

    Surrounding whitespace is ignored because /proc/sys/kernel/osrelease ends
    with a newline. Raises InvalidKernelRelease for anything else, including
    non-ASCII digits and numbers longer than any real release has.
    """
    if isinstance(release, KernelRelease):
        return release
    if not isinstance(release, str):
        raise InvalidKernelRelease(
            "expected a kernel release string, got %s %s; %s"
            % (type(release).__name__, _shown(release), RELEASE_FORMAT_HINT)
        )
    match = _RELEASE_PATTERN.fullmatch(release.strip())
    if match is None:
        raise InvalidKernelRelease(
            "%s is not an Ubuntu kernel release; %s" % (_shown(release), RELEASE_FORMAT_HINT)
        )
    abi_digits = match.group("abi")
    if len(abi_digits) > MAX_ABI_DIGITS:
        raise InvalidKernelRelease(
            "%s is not an Ubuntu kernel release: its ABI number has %d digits, at most %d are "
            "expected; %s" % (_shown(release), len(abi_digits), MAX_ABI_DIGITS, RELEASE_FORMAT_HINT)
        )
    upstream_parts = match.group("upstream").split(".")
    if any(len(part) > MAX_UPSTREAM_PART_DIGITS for part in upstream_parts):
        raise InvalidKernelRelease(
            "%s is not an Ubuntu kernel release: its upstream version %s has a number of more "
            "than %d digits; %s"
            % (_shown(release), _shown(match.group("upstream")), MAX_UPSTREAM_PART_DIGITS,
               RELEASE_FORMAT_HINT)
        )
    upstream = tuple(int(part) for part in upstream_parts)
    return KernelRelease(upstream, int(abi_digits), match.group("flavour"))


def read_release_file(path):
    """(content, size) of a file holding a release, as uname -r prints it: at most
    RELEASE_FILE_READ_LIMIT + 1 bytes of it, and its size in bytes (what was read for a /proc file,
    whose size reads as 0). Raises OSError when it cannot be read."""
    with open(path, "rb") as release_file:
        content = release_file.read(RELEASE_FILE_READ_LIMIT + 1)
        size = os.fstat(release_file.fileno()).st_size
    return content, max(size, len(content))


def release_file_excerpt(content):
    """The start of content (bytes) for a message: at most RELEASE_FILE_EXCERPT_CHARACTERS printable
    ASCII characters, anything else shown as "?"; None when it looks like key material."""
    if _KEY_MATERIAL.search(content):
        return None
    text = content.strip().decode("latin-1")
    shown = "".join(character if " " <= character <= "~" else "?"
                    for character in text[:RELEASE_FILE_EXCERPT_CHARACTERS])
    return shown + "..." if len(text) > RELEASE_FILE_EXCERPT_CHARACTERS else shown


def describe_release_file(content, size):
    """What a message says of a file that does not hold a release: its size and release_file_excerpt()."""
    if not content.strip():
        return "the file holds %d bytes, all blank" % size if size else "the file is empty"
    excerpt = release_file_excerpt(content)
    if excerpt is None:
        return "the file holds %d bytes that look like a PEM file or a private key, so none of it is shown" % size
    if len(content) > RELEASE_FILE_READ_LIMIT:
        return "the file holds %d bytes (a release is under 100), starting \"%s\"" % (size, excerpt)
    return "the file holds %d bytes: \"%s\"" % (size, excerpt)


def parse_release_file(content, size):
    """The KernelRelease in content and size (read_release_file()'s). Raises InvalidKernelRelease whose
    message shows no more of the file than describe_release_file()."""
    if len(content) <= RELEASE_FILE_READ_LIMIT:
        try:
            return parse_release(content.decode("utf-8", errors="replace"))
        except InvalidKernelRelease:
            pass  # its message shows the content unfiltered
    raise InvalidKernelRelease("%s; %s" % (describe_release_file(content, size), RELEASE_FORMAT_HINT))


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
    from_abi < fixed_abi); flavours (list of str), reference (str) and sources
    (list of str) are optional. The returned dicts carry upstream as a tuple of
    ints, and empty flavours as GENERIC_ABI_FLAVOURS: an ABI range is written in
    one numbering, and without flavours that is the generic one. Only the given
    list is checked (effective_ranges() adds the built-in ones). Raises
    InvalidAffectedRanges naming the bad entry.
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
        if not isinstance(upstream, str) or not _UPSTREAM_PATTERN.fullmatch(upstream):
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
            isinstance(flavour, str) and _FLAVOUR_PATTERN.fullmatch(flavour) for flavour in flavours
        ):
            raise InvalidAffectedRanges(
                "%s: flavours must be a list of flavour names like [\"aws\"] or [\"generic\", "
                "\"lowlatency\"] (empty means %s), got %r"
                % (where, ", ".join(GENERIC_ABI_FLAVOURS), entry.get("flavours"))
            )
        reference = entry.get("reference") or ""
        if not isinstance(reference, str):
            raise InvalidAffectedRanges(
                "%s: reference must be a string, got %r" % (where, reference)
            )
        sources = entry.get("sources") or []
        if not isinstance(sources, (list, tuple)) or not all(isinstance(source, str) for source in sources):
            raise InvalidAffectedRanges(
                "%s: sources must be a list of strings (links or citations), got %r"
                % (where, entry.get("sources"))
            )

        normalised.append({
            "upstream": tuple(int(number) for number in upstream.split(".")),
            "from_abi": entry["from_abi"],
            "fixed_abi": entry["fixed_abi"],
            "flavours": list(flavours) or list(GENERIC_ABI_FLAVOURS),
            "reference": reference,
            "sources": list(sources),
        })
    return normalised


def effective_ranges(affected_ranges=None):
    """The ranges every decision uses: the built-in ones, then the operator's.

    None and [] add nothing. Operator ranges are added, never substituted, so
    an operator can widen what is affected but cannot drop the seed incident.
    """
    operator_ranges = [] if affected_ranges is None else validate_affected_ranges(affected_ranges)
    return validate_affected_ranges(DEFAULT_AFFECTED_RANGES) + operator_ranges


def _describe_range(affected_range):
    upstream = ".".join(str(number) for number in affected_range["upstream"])
    text = "%s-%d..%d" % (upstream, affected_range["from_abi"], affected_range["fixed_abi"] - 1)
    # The generic-numbered flavours are what a range means by default; naming
    # them in every reason would only bury the part that matters.
    if sorted(affected_range["flavours"]) != sorted(GENERIC_ABI_FLAVOURS):
        text += " [%s]" % ", ".join(affected_range["flavours"])
    if affected_range["reference"]:
        text += " (%s)" % affected_range["reference"]
    return text


def _covers_line(affected_range, release):
    """True when the range speaks about this release's series and flavour."""
    return release.upstream == affected_range["upstream"] and release.flavour in affected_range["flavours"]


def _in_range(affected_range, release):
    return _covers_line(affected_range, release) and \
        affected_range["from_abi"] <= release.abi < affected_range["fixed_abi"]


def _matching_range(release, normalised_ranges):
    for affected_range in normalised_ranges:
        if _in_range(affected_range, release):
            return affected_range
    return None


def _first_fixed_abi(release, line_ranges):
    """The first ABI at or after release's that no range covers.

    Ranges may overlap or adjoin (an operator's 132..137 over the built-in
    132..134), so stepping to one range's fixed_abi can land in another.
    """
    abi = release.abi
    moved = True
    while moved:
        moved = False
        for affected_range in line_ranges:
            if affected_range["from_abi"] <= abi < affected_range["fixed_abi"]:
                abi = affected_range["fixed_abi"]
                moved = True
    return abi


def _verdict(status, reason, fixed_from=None):
    return {
        "status": status,
        "affected": status == VERDICT_AFFECTED,
        "reason": reason,
        "fixed_from": fixed_from,
    }


def _judge(release, ranges):
    """kernel_verdict() for a parsed release and already effective ranges."""
    series_ranges = [r for r in ranges if r["upstream"] == release.upstream]
    if not series_ranges:
        return _verdict(VERDICT_UNAFFECTED, "%s is not affected: no affected range covers upstream %s, "
                        "so the bug never reached that series" % (release, release.upstream_string))

    line_ranges = [r for r in series_ranges if release.flavour in r["flavours"]]
    if not line_ranges:
        known = sorted(set(flavour for r in series_ranges for flavour in r["flavours"]))
        return _verdict(VERDICT_UNKNOWN, "the status of %s is unknown: no known range for flavour %s; the "
                        "%s ranges cover %s, whose ABI numbers say nothing about %s; add one via %s"
                        % (release, release.flavour, release.upstream_string, ", ".join(known),
                           release.flavour, RANGES_SETTING))

    fixed_from = KernelRelease(release.upstream, _first_fixed_abi(release, line_ranges), release.flavour)
    matched = [r for r in line_ranges if _in_range(r, release)]
    if matched:
        return _verdict(VERDICT_AFFECTED, "%s is in the affected range %s; fixed from %s"
                        % (release, _describe_range(matched[0]), fixed_from), fixed_from.release)

    # Say why each range of the line does not apply, so a surprising verdict
    # is easy to check.
    notes = []
    passed = []
    for affected_range in line_ranges:
        if release.abi < affected_range["from_abi"]:
            notes.append("it predates %s" % _describe_range(affected_range))
        else:
            notes.append("it is at or above the fix for %s" % _describe_range(affected_range))
            passed.append(affected_range)
    if not passed:
        return _verdict(VERDICT_UNAFFECTED, "%s is not affected: %s" % (release, "; ".join(notes)))
    # Not in any range, so the latest fix it is past is where its line became
    # fixed for good.
    latest_fix = max(affected_range["fixed_abi"] for affected_range in passed)
    return _verdict(VERDICT_FIXED, "%s is fixed: %s" % (release, "; ".join(notes)),
                    KernelRelease(release.upstream, latest_fix, release.flavour).release)


def kernel_verdict(release, affected_ranges=None):
    """Judge one release against the built-in ranges plus affected_ranges.

    Returns {"status": one of VERDICTS, "affected": status == "affected",
    "reason": a sentence for reports, "fixed_from": the first release of the
    line that is fixed (for affected and fixed; None otherwise)}. See the
    module docstring for what each status means.
    """
    return _judge(parse_release(release), effective_ranges(affected_ranges))


def check_affected(release, affected_ranges=None):
    """Return (affected, reason) for one release; see kernel_verdict().

    An unknown release is not affected here: callers that must not treat it
    as fine read kernel_verdict()'s status.
    """
    verdict = kernel_verdict(release, affected_ranges)
    return verdict["affected"], verdict["reason"]


def is_affected(release, affected_ranges=None):
    """Just the boolean of check_affected()."""
    return check_affected(release, affected_ranges)[0]


# A target must be known good. "unknown" is excluded: a cloud kernel's ABI
# number alone says nothing about the fix, so without a range for its flavour
# no release of that flavour is picked or accepted.
_TARGET_STATUSES = (VERDICT_FIXED, VERDICT_UNAFFECTED)


def newest_fixed_release(running_release, offered_releases, affected_ranges=None):
    """The newest offered release of the running series and flavour whose
    verdict is fixed or unaffected and that is newer than the running one;
    None when there is none.

    Offered entries that are not releases are ignored: apt lists contain
    unrelated names and a stray one must not hide a good target.
    """
    running = parse_release(running_release)
    ranges = effective_ranges(affected_ranges)
    candidates = []
    for offered in offered_releases or []:
        try:
            candidate = parse_release(offered)
        except InvalidKernelRelease:
            continue
        if not candidate.same_line(running) or candidate.abi <= running.abi:
            continue
        if _judge(candidate, ranges)["status"] not in _TARGET_STATUSES:
            continue
        candidates.append(candidate)
    if not candidates:
        return None
    return max(candidates, key=release_sort_key).release


def validate_pinned_target(running_release, pinned_release, affected_ranges=None):
    """Check a pinned target against the running release; return it parsed.

    The pin must be a release of the same series and flavour, fixed or
    unaffected (not affected, not unknown), and not older than the running one
    (equal is allowed: a host already on its pinned, fixed kernel needs
    nothing). Raises InvalidTargetRelease with a message that says what to pin
    instead.
    """
    running = parse_release(running_release)
    ranges = effective_ranges(affected_ranges)
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
    verdict = _judge(pinned, ranges)
    if verdict["status"] == VERDICT_AFFECTED:
        raise InvalidTargetRelease(
            "pinned target %s is in the affected range %s; pin %s or newer"
            % (pinned.release, _describe_range(_matching_range(pinned, ranges)), verdict["fixed_from"])
        )
    if verdict["status"] == VERDICT_UNKNOWN:
        raise InvalidTargetRelease(
            "pinned target %s cannot be judged: no known range for flavour %s; add one via %s"
            % (pinned.release, pinned.flavour, RANGES_SETTING)
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
