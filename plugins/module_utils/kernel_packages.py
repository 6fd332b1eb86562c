# -*- coding: utf-8 -*-
# Copyright: Control-plane SRE team
# Apache License 2.0 (see https://www.apache.org/licenses/LICENSE-2.0)
"""The packages that make up one Ubuntu kernel release, and the same set for another.

Ubuntu splits a kernel release <rel> over several packages: linux-image-<rel> (the
image, which depends on linux-modules-<rel>), linux-modules-extra-<rel> (the drivers
outside the base list: many NICs and storage controllers), linux-headers-<rel> (for
DKMS), and on some hosts linux-tools-<rel> and others. The linux-image-<flavour> meta
package pulls in image and modules-extra; installing linux-image-<rel> alone does not.
A host that boots a release without the modules-extra it ran with may come up without
its network or its disks, so the kit installs, for the target, every package the host
has for its running release.

Debian names its releases the same way (6.1.0-56-amd64: upstream, ABI, flavour) but
keeps the modules inside linux-image-<rel>; its linux-headers-<rel> depends on a
linux-headers-<upstream>-<abi>-common that apt brings along. The same rule gives the
image alone, plus the headers where they are installed.
"""

from __future__ import absolute_import, division, print_function

__metaclass__ = type

IMAGE_PREFIX = "linux-image-"


def release_packages(package_names, release):
    """The names among package_names built for this one release (<name>-<release>),
    sorted, linux-image-<release> first when present."""
    suffix = "-" + release
    names = sorted({name.strip() for name in package_names
                    if isinstance(name, str) and name.strip().endswith(suffix)
                    and len(name.strip()) > len(suffix)})
    image = IMAGE_PREFIX + release
    return ([image] if image in names else []) + [name for name in names if name != image]


def target_packages(running_packages, running_release, target_release):
    """The running release's package set renamed for target_release, always with
    linux-image-<target_release> (the one package every kernel has), image first."""
    suffix = "-" + running_release
    renamed = [name[:-len(suffix)] + "-" + target_release for name in running_packages if name.endswith(suffix)]
    return release_packages(renamed + [IMAGE_PREFIX + target_release], target_release)


def missing_packages(wanted, offered):
    """The wanted names apt does not offer, in wanted's order."""
    offered = set(offered)
    return [name for name in wanted if name not in offered]
