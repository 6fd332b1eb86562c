#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)

from __future__ import absolute_import, division, print_function

__metaclass__ = type

DOCUMENTATION = r"""
module: kernel_status
short_description: Report whether an Ubuntu host runs an affected kernel and which fixed kernel to install
version_added: "0.1.0"
author: Control-plane SRE team (!UNKNOWN)
description:
  - Reads the running kernel release, the installed kernel packages (C(dpkg-query)) and the kernel
    packages the host's apt sources offer (C(apt-cache pkgnames)), and gives the running release a
    verdict (RV(status)), which fixed release to install, and whether a reboot is pending.
  - Also says which packages the target needs (RV(target_packages)), the running release's set
    renamed (image, modules, modules-extra, headers...), and which of them apt does not offer
    (RV(target_packages_missing)). A host that boots a release without the modules-extra it ran with
    may come up without the drivers of its network or its disks.
  - Also reads grub's defaults files and warns (RV(boot_warnings)) when the host may not boot the
    target release after a reboot, because C(GRUB_DEFAULT) pins an entry or is V(saved), or because
    a newer kernel of the target's series and flavour is installed.
  - Only reads. It never installs, never runs C(apt-get update) (the offered releases come from the
    package lists already on the host), and always reports RV(changed=false).
  - The seed case is Ubuntu 20.04's V(5.4.0-132-generic) epoll bug (Launchpad bug 1996678) that
    breaks etcd; a V(generic), V(generic-lpae) or V(lowlatency) 5.4.0 kernel with ABI 135 or later
    is fixed. Cloud and other flavours (V(aws), V(azure), V(gcp), V(gke), V(oracle), V(kvm)...)
    number their ABIs on their own scale, so without a range for them their status is V(unknown)
    and no target is chosen for them.
  - Decisions use this module's reading of O(osrelease_path), never the C(ansible_kernel) fact.
options:
  osrelease_path:
    description:
      - File holding the running kernel release, as C(uname -r) prints it.
      - The default is the kernel's own answer. This option is the one seam through which the lab
        simulates kernels; it points this at the file its simulated boot writes. Leave it alone on
        real hosts.
      - At most 4 kB of the file is read. When it does not hold a release, the module fails with the
        file's size (C(osrelease_size)) and at most 64 printable ASCII characters of it
        (C(osrelease_excerpt), others shown as C(?)), and shows nothing of a file that looks like a PEM
        file or a private key (C(osrelease_excerpt) is null), since the message lands in task output,
        AWX job events and reports.
    type: path
    default: /proc/sys/kernel/osrelease
  grub_default_path:
    description:
      - The grub defaults file C(update-grub) sources for C(GRUB_DEFAULT). The files matching
        C(<grub_default_path>.d/*.cfg) are read after it, sorted, as C(update-grub) sources them, so
        their assignments win.
      - A missing file or C(.d) directory counts as not setting C(GRUB_DEFAULT), whose default is
        V(0), the first menu entry (hosts without grub files exist). A file that exists but cannot be
        read, or whose quotes are never closed, fails the module.
      - Like O(osrelease_path), a seam for the lab and tests; leave it alone on real hosts.
    type: path
    default: /etc/default/grub
  affected_ranges:
    description:
      - Known bad kernel ranges, added to the built-in ones (C(5.4.0) ABI V(132) up to, not including,
        V(135) for the generic-numbered flavours, Launchpad bug 1996678). The built-in ranges always
        apply, so a range given here can only widen what is affected, or give a flavour with its own
        ABI numbering (for example V(aws)) a verdict.
      - A release is affected when a range has the same upstream version, its flavour is among the
        range's flavours, and O(affected_ranges[].from_abi) <= ABI < O(affected_ranges[].fixed_abi).
    type: list
    elements: dict
    default: []
    suboptions:
      upstream:
        description: Upstream version of the series, for example V(5.4.0).
        type: str
        required: true
      from_abi:
        description: First affected ABI number.
        type: int
        required: true
      fixed_abi:
        description: First ABI number that is fixed again; must be greater than O(affected_ranges[].from_abi).
        type: int
        required: true
      flavours:
        description:
          - Flavours the range applies to, for example V(aws). ABI numbers are only comparable within one
            numbering, so empty means the flavours that share the generic numbering (V(generic),
            V(generic-lpae), V(lowlatency)), never every flavour.
        type: list
        elements: str
        default: []
      reference:
        description: Bug reference, quoted in RV(reason).
        type: str
        default: ""
      sources:
        description: Links or citations that back the range (changelogs, bug reports).
        type: list
        elements: str
        default: []
  target_release:
    description:
      - Pin the release to install instead of choosing the newest fixed one offered.
      - The module fails when the pin is malformed, affected, of another series or flavour than the
        running release, or older than the running release. The pin does not have to be offered by
        apt; RV(target_offered) says whether it is.
      - Unset or empty means choose automatically.
    type: str
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: The module only reads, so check mode returns exactly what a normal run returns.
  diff_mode:
    support: none
  platform:
    support: full
    platforms: debian
requirements:
  - C(dpkg-query) and C(apt-cache) on the managed host (Ubuntu or Debian).
notes:
  - Installed releases are the C(linux-image-<release>) packages dpkg reports as installed (held
    packages count). Meta packages, C(linux-image-unsigned-*) and debug symbol packages are ignored.
  - The running release's packages are the installed C(linux-*-<release>) packages (RV(running_packages)).
  - Available releases are the C(linux-image-<release>) names in apt's package cache, that is the
    existing package lists plus the dpkg status, so an installed release counts as available too.
  - A reboot is pending when C(/var/run/reboot-required) exists or a release of the running series
    and flavour newer than the running one is installed (the boot loader picks the newest).
  - C(GRUB_DEFAULT) is read as the shell reads plain assignments (quotes, C(export), comments, C(unset));
    conditions are not evaluated, so an assignment inside one counts, and expansions such as C($VAR)
    are reported as written. The module never reads C(/boot/grub/grubenv), so for V(saved) it cannot
    tell which entry is stored and always warns.
  - Only kernels of the target's series and flavour count as newer than the target; other flavours
    and series are not compared, as everywhere in the kit.
seealso:
  - name: Launchpad bug 1996678
    description: The epoll regression in Ubuntu 5.4.0-132 that breaks etcd.
    link: https://bugs.launchpad.net/ubuntu/+source/linux/+bug/1996678
"""

EXAMPLES = r"""
- name: Read the kernel status of the host
  sre.etcd_kernel.kernel_status:
  register: kernel_status

- name: Report the verdict
  ansible.builtin.debug:
    msg: "{{ kernel_status.reason }}; target {{ kernel_status.target_release | default('none', true) }}"

- name: Pin the fixed release and add site-specific ranges to the built-in one
  sre.etcd_kernel.kernel_status:
    target_release: 5.4.0-135-generic
    affected_ranges:
      - upstream: 5.4.0
        from_abi: 1090
        fixed_abi: 1094
        flavours: [aws]
        reference: INC-1233
      - upstream: 5.15.0
        from_abi: 56
        fixed_abi: 58
        flavours: [generic]
        reference: INC-1234
  register: kernel_status

- name: Read the simulated kernel of a lab master
  sre.etcd_kernel.kernel_status:
    osrelease_path: /var/lib/lab/osrelease
  register: kernel_status
"""

RETURN = r"""
changed:
  description: Always V(false); the module only reads.
  returned: always
  type: bool
  sample: false
running_release:
  description: The running kernel release as read from O(osrelease_path).
  returned: success
  type: str
  sample: 5.4.0-132-generic
running:
  description: The running release split into its parts.
  returned: success
  type: dict
  sample: {"release": "5.4.0-132-generic", "upstream": "5.4.0", "abi": 132, "flavour": "generic"}
  contains:
    release:
      description: The release.
      type: str
      sample: 5.4.0-132-generic
    upstream:
      description: Upstream version, which names the series.
      type: str
      sample: 5.4.0
    abi:
      description: Ubuntu ABI number.
      type: int
      sample: 132
    flavour:
      description: Kernel flavour.
      type: str
      sample: generic
affected:
  description: Whether the running release is in an affected range; the same as RV(status) being V(affected).
  returned: success
  type: bool
  sample: true
status:
  description:
    - The verdict on the running release.
    - V(affected) when a range covers it; V(fixed) when it is at or above the fix of a range of its series
      and flavour; V(unaffected) when it predates every range of its series and flavour, or no range names
      its series; V(unknown) when its series has ranges but none for its flavour (a flavour with its own ABI
      numbering, such as V(aws)), which an added O(affected_ranges) entry resolves.
  returned: success
  type: str
  choices: [affected, fixed, unaffected, unknown]
  sample: affected
reason:
  description: Which affected range the running release is in and the first fixed release, or why no range applies.
  returned: success
  type: str
  sample: "5.4.0-132-generic is in the affected range 5.4.0-132..134 (LP#1996678 epoll: autoremove wakers even more aggressively); fixed from 5.4.0-135-generic"
remediation_needed:
  description:
    - Whether the host needs a fixed kernel; the same as RV(affected).
    - V(false) for an V(unknown) RV(status) too; read RV(status) before treating such a host as fine.
  returned: success
  type: bool
  sample: true
installed_releases:
  description: Releases of the installed C(linux-image-<release>) packages, oldest first.
  returned: success
  type: list
  elements: str
  sample: ["5.4.0-131-generic", "5.4.0-132-generic"]
available_releases:
  description: Releases of the C(linux-image-<release>) packages in apt's package cache, oldest first.
  returned: success
  type: list
  elements: str
  sample: ["5.4.0-132-generic", "5.4.0-135-generic", "5.4.0-137-generic"]
fixed_release_available:
  description:
    - The newest available release of the running series and flavour whose verdict is V(fixed) or
      V(unaffected) and that is newer than the running one, or V(null) when apt offers none. Always
      V(null) when RV(status) is V(unknown).
  returned: success
  type: str
  sample: 5.4.0-137-generic
target_release:
  description: The release to install; the pin from O(target_release), else RV(fixed_release_available).
  returned: success
  type: str
  sample: 5.4.0-137-generic
target_pinned:
  description: Whether RV(target_release) comes from the O(target_release) pin.
  returned: success
  type: bool
  sample: false
target_offered:
  description: Whether RV(target_release) is among RV(available_releases); V(false) when there is no target.
  returned: success
  type: bool
  sample: true
target_installed:
  description: Whether RV(target_release) is among RV(installed_releases); V(false) when there is no target.
  returned: success
  type: bool
  sample: false
running_packages:
  description: The installed packages built for the running release, linux-image first.
  returned: success
  type: list
  elements: str
  sample: ["linux-image-5.4.0-132-generic", "linux-headers-5.4.0-132-generic", "linux-modules-5.4.0-132-generic",
           "linux-modules-extra-5.4.0-132-generic"]
target_packages:
  description:
    - The packages to install for RV(target_release), the running release's set renamed, always with
      C(linux-image-<target>); empty when there is no target.
  returned: success
  type: list
  elements: str
  sample: ["linux-image-5.4.0-137-generic", "linux-headers-5.4.0-137-generic", "linux-modules-5.4.0-137-generic",
           "linux-modules-extra-5.4.0-137-generic"]
target_packages_missing:
  description: The RV(target_packages) apt does not offer; the target is not safe to boot while any is missing.
  returned: success
  type: list
  elements: str
  sample: ["linux-modules-extra-5.4.0-137-generic"]
newest_installed_release:
  description: The newest installed release of the running series and flavour, or V(null) when none is installed.
  returned: success
  type: str
  sample: 5.4.0-132-generic
reboot_required:
  description: Whether a reboot is pending (see the notes).
  returned: success
  type: bool
  sample: false
reboot_required_reason:
  description: Why a reboot is pending; empty when none is.
  returned: success
  type: str
  sample: "5.4.0-137-generic is installed but 5.4.0-132-generic is running"
boot_loader_default:
  description:
    - The effective C(GRUB_DEFAULT) from O(grub_default_path) and its C(.d/*.cfg) files, V(0) (the
      first menu entry, the newest kernel) when none sets it or it is empty.
    - A menu entry title or number such as V(1>2) pins an entry; V(saved) boots the entry stored by
      C(grub-set-default), C(grub-reboot) or C(GRUB_SAVEDEFAULT=true).
  returned: success
  type: str
  sample: "0"
boot_warnings:
  description:
    - Why the host may not come back on RV(target_release) after a reboot, each saying what to do
      before remediating; empty when grub will boot it.
    - Empty when there is no target or the target is already running (no reboot is needed). A
      C(GRUB_DEFAULT) that pins the target's own menu entry gives no warning.
  returned: success
  type: list
  elements: str
  sample:
    - "5.4.0-138-generic is installed and newer than the target 5.4.0-137-generic: grub boots the newest, so
      the host would come back on it and the kit would stop after the reboot; pin etcd_kernel_target_release
      to 5.4.0-138-generic or remove it"
"""

import errno
import os

from ansible.module_utils.basic import AnsibleModule

from ansible_collections.sre.etcd_kernel.plugins.module_utils.boot_loader import (
    GRUB_DEFAULTS_PATH,
    InvalidGrubDefaults,
    boot_warnings,
    grub_default_assignment,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_packages import (
    missing_packages,
    release_packages,
    target_packages,
)
from ansible_collections.sre.etcd_kernel.plugins.module_utils.kernel_release import (
    InvalidAffectedRanges,
    InvalidKernelRelease,
    InvalidTargetRelease,
    choose_target_release,
    kernel_verdict,
    newest_fixed_release,
    parse_release,
    parse_release_file,
    read_release_file,
    release_file_excerpt,
    release_from_package_name,
    release_sort_key,
    sort_releases,
    validate_affected_ranges,
)

# Ubuntu's kernel packages write this on install; /var/run is /run, a tmpfs,
# so the next boot clears it.
REBOOT_REQUIRED_FLAG = "/var/run/reboot-required"

ENVIRONMENT = {"LC_ALL": "C"}

AFFECTED_RANGE_OPTIONS = dict(
    upstream=dict(type="str", required=True),
    from_abi=dict(type="int", required=True),
    fixed_abi=dict(type="int", required=True),
    flavours=dict(type="list", elements="str", default=[]),
    reference=dict(type="str", default=""),
    sources=dict(type="list", elements="str", default=[]),
)


def read_running_release(module, osrelease_path):
    try:
        content, size = read_release_file(osrelease_path)
    except (IOError, OSError) as error:
        module.fail_json(
            msg="Cannot read the running kernel release from %s (%s). Set osrelease_path to a readable "
                "file that holds the release, as uname -r prints it; the default is "
                "/proc/sys/kernel/osrelease." % (osrelease_path, error),
            osrelease_path=osrelease_path,
        )
    try:
        return parse_release_file(content, size)
    except InvalidKernelRelease as error:
        # Only a short, printable excerpt: the file may be anything, a key among others, and this
        # message lands in task output, AWX job events and reports.
        module.fail_json(
            msg="The running kernel release read from %s is not an Ubuntu kernel release: %s. Check that "
                "osrelease_path points at the kernel's release file." % (osrelease_path, error),
            osrelease_path=osrelease_path,
            osrelease_excerpt=release_file_excerpt(content),
            osrelease_size=size,
        )


def fail_command(module, argv, rc, stdout, stderr, advice):
    module.fail_json(
        msg="%s failed with rc %d; %s" % (" ".join(argv), rc, advice),
        cmd=argv, rc=rc, stdout=stdout, stderr=stderr,
    )


def installed_packages(module):
    """The names of the installed linux-* packages."""
    dpkg_query = module.get_bin_path("dpkg-query", required=True)
    # dpkg-query expands the \t and \n escapes in the format itself.
    argv = [dpkg_query, "-W", "-f", "${Package}\\t${Status}\\n", "linux-*"]
    rc, stdout, stderr = module.run_command(argv, check_rc=False, environ_update=ENVIRONMENT)
    # dpkg-query -W exits 1 when no package matches the pattern at all.
    if rc == 1 and "no packages found matching" in stderr:
        return []
    if rc != 0:
        fail_command(module, argv, rc, stdout, stderr,
                     "check that dpkg's database is readable and not left broken by an interrupted "
                     "dpkg run (dpkg --audit)")

    packages = []
    for line in stdout.splitlines():
        package, _tab, status = line.partition("\t")
        # Status is "<want> <error> <state>": "install ok installed", or
        # "hold ok installed" for a held kernel, which is installed just the same.
        if status.split()[1:] == ["ok", "installed"]:
            packages.append(package)
    return packages


def releases_of(package_names):
    """The releases of the linux-image-<release> packages among package_names, oldest first."""
    releases = set()
    for package in package_names:
        release = release_from_package_name(package)
        if release is not None:
            releases.add(release)
    return sort_releases(releases)


def available_packages(module):
    """The names of the linux-* packages in apt's package cache."""
    apt_cache = module.get_bin_path("apt-cache", required=True)
    argv = [apt_cache, "pkgnames", "linux-"]
    rc, stdout, stderr = module.run_command(argv, check_rc=False, environ_update=ENVIRONMENT)
    if rc != 0:
        fail_command(module, argv, rc, stdout, stderr,
                     "check the apt configuration (apt-cache policy); this module only reads the "
                     "existing package lists and never runs apt-get update")
    return [line.strip() for line in stdout.splitlines() if line.strip()]


def newest_installed_of_line(running, installed):
    """The newest installed release of the running series and flavour: the one the boot loader picks."""
    same_line = [release for release in map(parse_release, installed) if release.same_line(running)]
    if not same_line:
        return None
    return max(same_line, key=release_sort_key)


def read_grub_defaults(module, grub_default_path):
    """(path, text) of each grub defaults file, in the order update-grub sources them.

    Missing files are left out: a host without grub files (another boot
    loader, a container) has GRUB_DEFAULT unset, which is not an error.
    """
    drop_in_directory = grub_default_path + ".d"
    try:
        # Like sh's *.cfg glob: no hidden files.
        drop_in_names = sorted(name for name in os.listdir(drop_in_directory)
                               if name.endswith(".cfg") and not name.startswith("."))
    except (IOError, OSError) as error:
        if error.errno not in (errno.ENOENT, errno.ENOTDIR):
            fail_unreadable_grub_defaults(module, drop_in_directory, error)
        drop_in_names = []

    sources = []
    for path in [grub_default_path] + [os.path.join(drop_in_directory, name) for name in drop_in_names]:
        try:
            with open(path, "rb") as grub_defaults_file:
                sources.append((path, grub_defaults_file.read().decode("utf-8", errors="replace")))
        except (IOError, OSError) as error:
            # A dangling link is missing too; update-grub skips it the same way.
            if error.errno != errno.ENOENT:
                fail_unreadable_grub_defaults(module, path, error)
    return sources


def fail_unreadable_grub_defaults(module, path, error):
    module.fail_json(
        msg="Cannot read %s (%s), which update-grub sources for GRUB_DEFAULT, so the kernel the host would "
            "boot after the reboot is unknown. Make it readable, or set grub_default_path to the grub "
            "defaults file; the default is %s." % (path, error, GRUB_DEFAULTS_PATH),
        grub_default_path=module.params["grub_default_path"],
    )


def pending_reboot_reason(running, newest_installed):
    if os.path.exists(REBOOT_REQUIRED_FLAG):
        return "%s exists" % REBOOT_REQUIRED_FLAG
    if newest_installed is not None and newest_installed.abi > running.abi:
        return "%s is installed but %s is running" % (newest_installed.release, running.release)
    return ""


def main():
    module = AnsibleModule(
        argument_spec=dict(
            osrelease_path=dict(type="path", default="/proc/sys/kernel/osrelease"),
            grub_default_path=dict(type="path", default=GRUB_DEFAULTS_PATH),
            # Added to the built-in ranges, so the default adds none.
            affected_ranges=dict(type="list", elements="dict", options=AFFECTED_RANGE_OPTIONS, default=[]),
            target_release=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    affected_ranges = module.params["affected_ranges"]
    pinned_release = module.params["target_release"]

    try:
        validate_affected_ranges(affected_ranges)
    except InvalidAffectedRanges as error:
        module.fail_json(msg="affected_ranges is invalid: %s" % error)

    running = read_running_release(module, module.params["osrelease_path"])
    installed_names = installed_packages(module)
    available_names = available_packages(module)
    installed = releases_of(installed_names)
    available = releases_of(available_names)

    verdict = kernel_verdict(running, affected_ranges)
    fixed_available = newest_fixed_release(running, available, affected_ranges)
    try:
        target = choose_target_release(running, available, affected_ranges, pinned_release)
    except InvalidTargetRelease as error:
        if fixed_available:
            advice = "or unset target_release to use the newest fixed release offered, %s" % fixed_available
        else:
            advice = "apt offers no fixed release of this series and flavour right now"
        module.fail_json(
            msg="target_release is not usable on this host: %s (%s)." % (error, advice),
            running_release=running.release,
            fixed_release_available=fixed_available,
        )

    newest_installed = newest_installed_of_line(running, installed)
    reboot_reason = pending_reboot_reason(running, newest_installed)
    target_release = target["release"] if target else None
    running_packages = release_packages(installed_names, running.release)
    wanted_packages = target_packages(running_packages, running.release, target_release) if target_release else []

    try:
        grub_default, grub_default_where = grub_default_assignment(
            read_grub_defaults(module, module.params["grub_default_path"]))
    except InvalidGrubDefaults as error:
        module.fail_json(msg="Cannot tell which kernel the host would boot after the reboot: %s." % error,
                         grub_default_path=module.params["grub_default_path"])
    warnings_about_booting = boot_warnings(grub_default, running, installed, target_release,
                                           grub_default_where or module.params["grub_default_path"])
    for warning in warnings_about_booting:
        # Shown by Ansible after the task, in detect's and preflight's output alike.
        module.warn(warning)

    module.exit_json(
        changed=False,
        running_release=running.release,
        running=running.to_dict(),
        affected=verdict["affected"],
        status=verdict["status"],
        reason=verdict["reason"],
        remediation_needed=verdict["affected"],
        installed_releases=installed,
        available_releases=available,
        fixed_release_available=fixed_available,
        target_release=target_release,
        target_pinned=bool(target and target["pinned"]),
        target_offered=bool(target and target["offered"]),
        target_installed=target_release is not None and target_release in installed,
        running_packages=running_packages,
        target_packages=wanted_packages,
        target_packages_missing=missing_packages(wanted_packages, available_names),
        newest_installed_release=newest_installed.release if newest_installed else None,
        reboot_required=bool(reboot_reason),
        reboot_required_reason=reboot_reason,
        boot_loader_default=grub_default,
        boot_warnings=warnings_about_booting,
    )


if __name__ == "__main__":
    main()
