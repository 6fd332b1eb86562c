"""Dummy Ubuntu kernel packages and the per-host apt mirror that serves them.

The packages are real .deb files (dpkg-deb), split as Ubuntu splits a kernel:
  linux-image-<rel>          /boot/vmlinuz-<rel>; depends on linux-modules-<rel>; its
                             postinst builds /boot/initrd.img-<rel> (update-initramfs)
                             and flags a pending reboot, as Ubuntu's does
  linux-modules-<rel>        /lib/modules/<rel>, the base modules
  linux-modules-extra-<rel>  the drivers outside the base list, among them the lab's
                             NIC driver (labnic.ko): a master booted without it has
                             no network
  linux-headers-<rel>        depends on linux-headers-<upstream>-<abi>
and the meta packages linux-image-generic (image and modules-extra of the newest),
linux-headers-generic and linux-generic. The lab's boot "runs" the newest image.
Each master has its own flat repository on the mirror, so that faults can hide
packages from one host.
"""
import email.utils
import functools
import gzip
import hashlib
import os
import shutil
import subprocess
import tempfile

SERIES = "5.4.0"
FLAVOUR = "generic"
BOOT_ABI = 132          # what the masters boot on: the affected kernel
FIXED_ABIS = (135, 136)  # what the mirror offers as fixes
ALL_ABIS = (BOOT_ABI,) + FIXED_ABIS


def release(abi):
    return "%s-%d-%s" % (SERIES, abi, FLAVOUR)


def image_package(abi):
    return "linux-image-" + release(abi)


NIC_DRIVER = "kernel/drivers/net/ethernet/lab/labnic.ko"


def release_packages(abi):
    """The packages of one release, as a host with linux-generic has them."""
    return [image_package(abi), "linux-modules-" + release(abi), "linux-modules-extra-" + release(abi),
            "linux-headers-" + release(abi), "linux-headers-%s-%d" % (SERIES, abi)]


def _deb_version(abi):
    # Ubuntu numbers its 5.4 kernels <abi>.<upload>; the upload number only needs to grow.
    return "%s-%d.%d" % (SERIES, abi, abi + 16)


POSTINST = """#!/bin/sh
set -e
[ "$1" = configure ] || exit 0
# The lab's slow_install fault: a real postinst builds an initramfs and runs
# update-grub, which takes minutes on a busy host.
if [ -s /lab/faults/slow_install ]; then
  echo "lab fault slow_install: postinst takes $(cat /lab/faults/slow_install)s" >&2
  sleep "$(cat /lab/faults/slow_install)"
fi
# As /etc/kernel/postinst.d/initramfs-tools does: an initramfs from the modules.
if [ -d /lib/modules/{release} ]; then
  echo "update-initramfs: Generating /boot/initrd.img-{release}"
  ls -R /lib/modules/{release} > /boot/initrd.img-{release}
fi
# As Ubuntu's kernel packages do: ask for a reboot.
touch /run/reboot-required
echo "{package}" >> /run/reboot-required.pkgs
"""
POSTRM = """#!/bin/sh
set -e
# As Ubuntu's kernel postrm does: the initramfs goes with the image.
[ "$1" = remove ] || [ "$1" = purge ] || exit 0
rm -f /boot/initrd.img-{release}
"""


def _build_deb(pool_dir, package, version, depends=None, files=None, postinst=None, postrm=None, fields=None):
    with tempfile.TemporaryDirectory() as root:
        debian = os.path.join(root, "DEBIAN")
        os.makedirs(debian)
        control = [
            "Package: " + package,
            "Version: " + version,
            "Architecture: amd64",
            "Maintainer: etcd lab <lab@localhost>",
            "Section: kernel",
            "Priority: optional",
        ]
        if depends:
            control.append("Depends: " + depends)
        control.append("Description: %s (etcd lab dummy: installs no real kernel)" % package)
        with open(os.path.join(debian, "control"), "w") as handle:
            handle.write("\n".join(control) + "\n")
        for name, script in (("postinst", postinst), ("postrm", postrm)):
            if script:
                path = os.path.join(debian, name)
                with open(path, "w") as handle:
                    handle.write(script.format(package=package, **(fields or {})))
                os.chmod(path, 0o755)
        for relative, content in (files or {}).items():
            path = os.path.join(root, relative)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as handle:
                handle.write(content)
        deb = os.path.join(pool_dir, "%s_%s_amd64.deb" % (package, version))
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zxz", "--build", root, deb],
                       check=True, capture_output=True)
    return deb


def build_pool(pool_dir):
    """Build every lab kernel package into pool_dir (skipped when already there,
    unless the packages' recipe changed since). Returns {package name: .deb path}."""
    recipe = hashlib.sha256((POSTINST + POSTRM + NIC_DRIVER + "split-v1").encode("utf-8")).hexdigest()
    stamp = os.path.join(pool_dir, ".recipe")
    if os.path.isdir(pool_dir) and (not os.path.exists(stamp) or open(stamp).read() != recipe):
        shutil.rmtree(pool_dir)
    os.makedirs(pool_dir, exist_ok=True)
    with open(stamp, "w") as handle:
        handle.write(recipe)
    debs = {}

    def deb(package, version, **build):
        path = os.path.join(pool_dir, "%s_%s_amd64.deb" % (package, version))
        if not os.path.exists(path):
            _build_deb(pool_dir, package, version, **build)
        debs[package] = path

    for abi in ALL_ABIS:
        rel, version = release(abi), _deb_version(abi)
        modules = "/lib/modules/" + rel
        deb("linux-modules-" + rel, version,
            files={modules[1:] + "/modules.dep": "", modules[1:] + "/kernel/fs/ext4/ext4.ko": "lab module\n"})
        deb(image_package(abi), version, depends="linux-modules-%s (= %s)" % (rel, version),
            files={"boot/vmlinuz-" + rel: "lab kernel %s\n" % rel},
            postinst=POSTINST, postrm=POSTRM, fields={"release": rel})
        deb("linux-modules-extra-" + rel, version, depends="%s (= %s)" % (image_package(abi), version),
            files={modules[1:] + "/" + NIC_DRIVER: "lab NIC driver\n"})
        common = "linux-headers-%s-%d" % (SERIES, abi)
        deb(common, version, files={"usr/src/%s/Makefile" % common: "# lab\n"})
        deb("linux-headers-" + rel, version, depends="%s (= %s)" % (common, version),
            files={"usr/src/linux-headers-%s/.config" % rel: "# lab\n"})
    newest = max(ALL_ABIS)
    meta_version = "%s.%d.%d" % (SERIES, newest, newest + 16)
    deb("linux-image-generic", meta_version,
        depends="%s, linux-modules-extra-%s" % (image_package(newest), release(newest)))
    deb("linux-headers-generic", meta_version, depends="linux-headers-" + release(newest))
    deb("linux-generic", meta_version, depends="linux-image-generic (= %s), linux-headers-generic (= %s)"
        % (meta_version, meta_version))
    return debs


def _deb_fields(deb):
    """(control, size, md5, sha256) of a .deb, for its Packages stanza."""
    status = os.stat(deb)
    return _deb_fields_of(deb, status.st_mtime_ns, status.st_size)


@functools.lru_cache(maxsize=None)
def _deb_fields_of(deb, mtime_ns, size):
    # Cached by path, time and size: every `lab up` rewrites each host's repository
    # from the same few files, and dpkg-deb is a process per file.
    control = subprocess.run(["dpkg-deb", "-f", deb], check=True, capture_output=True,
                             text=True).stdout.rstrip("\n")
    return control, size, _digest(deb, "md5"), _digest(deb, "sha256")


def _digest(path, algorithm):
    with open(path, "rb") as handle:
        return hashlib.new(algorithm, handle.read()).hexdigest()


def write_host_repo(mirror_dir, host, debs, hide_fixed=False, hide_extra=False):
    """(Re)write the flat repository <mirror_dir>/<host>/ from the pool.

    hide_fixed leaves out every package of the fixed kernels and the meta packages
    (the "fixed kernel missing" fault); hide_extra only the fixed kernels'
    modules-extra (the "modules_extra_missing" fault).
    """
    hidden = set()
    if hide_fixed:
        hidden |= {name for abi in FIXED_ABIS for name in release_packages(abi)}
        hidden |= {"linux-image-generic", "linux-headers-generic", "linux-generic"}
    if hide_extra:
        hidden |= {"linux-modules-extra-" + release(abi) for abi in FIXED_ABIS}
    offered = {package: deb for package, deb in debs.items() if package not in hidden}
    return write_flat_repo(os.path.join(mirror_dir, host), offered)


def write_flat_repo(repo, debs):
    """(Re)write a flat apt repository (`deb [trusted=yes] URL ./`) in repo offering debs
    ({package: path}), each linked by a path relative to repo (the lab's mirror container
    sees the same tree at another place)."""
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    stanzas = []
    for package, deb in sorted(debs.items()):
        name = os.path.basename(deb)
        os.symlink(os.path.relpath(deb, repo), os.path.join(repo, name))
        control, size, md5, sha256 = _deb_fields(deb)
        stanzas.append("\n".join([
            control,
            "Filename: ./" + name,
            "Size: %d" % size,
            "MD5sum: " + md5,
            "SHA256: " + sha256,
        ]))
    packages = os.path.join(repo, "Packages")
    with open(packages, "w") as handle:
        handle.write("\n\n".join(stanzas) + "\n")
    with open(packages, "rb") as src, gzip.open(packages + ".gz", "wb") as dst:
        dst.write(src.read())
    release_lines = ["Origin: etcdlab", "Label: etcdlab", "Suite: lab", "Codename: lab",
                     "Date: " + email.utils.formatdate(usegmt=True),
                     "Architectures: amd64", "SHA256:"]
    for name in ("Packages", "Packages.gz"):
        path = os.path.join(repo, name)
        release_lines.append(" %s %d %s" % (_digest(path, "sha256"), os.path.getsize(path), name))
    with open(os.path.join(repo, "Release"), "w") as handle:
        handle.write("\n".join(release_lines) + "\n")
    return repo
