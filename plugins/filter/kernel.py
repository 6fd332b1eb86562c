# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""Ubuntu kernel release filters: thin wrappers over module_utils.kernel_release.

The decisions live in module_utils so that the kernel_status module (on the
managed node) and the playbooks (on the controller) make them the same way.
Each filter's documentation is in the adjacent <filter_name>.yml file.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

from ansible.errors import AnsibleFilterError

from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_release import (
    choose_target_release,
    compare_releases,
    kernel_verdict,
    parse_release,
    sort_releases,
)


def _require_list(filter_name, value, what):
    # A bare string would otherwise be iterated character by character.
    if not isinstance(value, (list, tuple)):
        raise AnsibleFilterError(
            "%s: %s must be a list of releases, got %s" % (filter_name, what, type(value).__name__)
        )


def ubuntu_kernel_parse(release):
    """'5.4.0-132-generic' -> {release, upstream, abi, flavour}."""
    try:
        return parse_release(release).to_dict()
    except ValueError as error:
        raise AnsibleFilterError("ubuntu_kernel_parse: %s" % error) from error


def ubuntu_kernel_compare(left, right):
    """-1, 0 or 1 as left is older than, equal to or newer than right (same flavour only)."""
    try:
        return compare_releases(left, right)
    except ValueError as error:
        raise AnsibleFilterError("ubuntu_kernel_compare: %s" % error) from error


def ubuntu_kernel_sort(releases):
    """Releases sorted oldest first, ABI numerically (Jinja's sort would sort text)."""
    _require_list("ubuntu_kernel_sort", releases, "the input")
    try:
        return sort_releases(releases)
    except ValueError as error:
        raise AnsibleFilterError("ubuntu_kernel_sort: %s" % error) from error


def ubuntu_kernel_affected(release, affected_ranges=None):
    """{affected: bool, status: affected|fixed|unaffected|unknown, reason: str} for one release;
    affected_ranges are added to the built-in ones."""
    try:
        verdict = kernel_verdict(release, affected_ranges)
    except ValueError as error:
        raise AnsibleFilterError("ubuntu_kernel_affected: %s" % error) from error
    return {"affected": verdict["affected"], "status": verdict["status"], "reason": verdict["reason"]}


def ubuntu_kernel_target(running_release, offered_releases, affected_ranges=None, pinned=None):
    """The release to install (the valid pin, or the newest fixed offered one), or None."""
    _require_list("ubuntu_kernel_target", offered_releases, "the offered releases")
    try:
        choice = choose_target_release(running_release, offered_releases, affected_ranges, pinned)
    except ValueError as error:
        raise AnsibleFilterError("ubuntu_kernel_target: %s" % error) from error
    return None if choice is None else choice["release"]


class FilterModule(object):
    """Ubuntu kernel release filters."""

    def filters(self):
        return {
            "ubuntu_kernel_parse": ubuntu_kernel_parse,
            "ubuntu_kernel_compare": ubuntu_kernel_compare,
            "ubuntu_kernel_sort": ubuntu_kernel_sort,
            "ubuntu_kernel_affected": ubuntu_kernel_affected,
            "ubuntu_kernel_target": ubuntu_kernel_target,
        }
