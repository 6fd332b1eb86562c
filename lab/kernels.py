"""Dummy Ubuntu kernel packages and the per-host apt mirror that serves them.

The packages are real .deb files (dpkg-deb) that install /boot/vmlinuz-<release>
and flag a pending reboot like Ubuntu's kernel postinst does; the lab's boot
"runs" the newest one. Each master has its own flat repository on the mirror so
that the "fixed kernel missing" fault can hide the fixed kernels from one host.
"""
import email.utils
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


def _deb_version(abi):
    # Ubuntu numbers its 5.4 kernels <abi>.<upload>; the upload number only needs to grow.
    return "%s-%d.%d" % (SERIES, abi, abi + 16)


POSTINST = """#!/bin/sh
set -e
# The lab's slow_install fault: a real postinst builds an initramfs and runs
# update-grub, which takes minutes on a busy host.
if [ -s /lab/faults/slow_install ]; then
  echo "lab fault slow_install: postinst takes $(cat /lab/faults/slow_install)s" >&2
  sleep "$(cat /lab/faults/slow_install)"
fi
# As Ubuntu's kernel packages do: ask for a reboot.
touch /run/reboot-required
echo "{package}" >> /run/reboot-required.pkgs
"""


def _build_deb(pool_dir, package, version, depends=None, files=None, postinst=None):
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
        if postinst:
            path = os.path.join(debian, "postinst")
            with open(path, "w") as handle:
                handle.write(postinst.format(package=package))
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
    unless the packages' recipe changed since)."""
    recipe = hashlib.sha256(POSTINST.encode("utf-8")).hexdigest()
    stamp = os.path.join(pool_dir, ".recipe")
    if os.path.isdir(pool_dir) and (not os.path.exists(stamp) or open(stamp).read() != recipe):
        shutil.rmtree(pool_dir)
    os.makedirs(pool_dir, exist_ok=True)
    with open(stamp, "w") as handle:
        handle.write(recipe)
    debs = {}
    for abi in ALL_ABIS:
        package = image_package(abi)
        deb = os.path.join(pool_dir, "%s_%s_amd64.deb" % (package, _deb_version(abi)))
        if not os.path.exists(deb):
            _build_deb(pool_dir, package, _deb_version(abi),
                       files={"boot/vmlinuz-" + release(abi): "lab kernel %s\n" % release(abi)},
                       postinst=POSTINST)
        debs[package] = deb
    newest = max(ALL_ABIS)
    meta_version = "%s.%d.%d" % (SERIES, newest, newest + 16)
    meta = os.path.join(pool_dir, "linux-image-generic_%s_amd64.deb" % meta_version)
    if not os.path.exists(meta):
        _build_deb(pool_dir, "linux-image-generic", meta_version, depends=image_package(newest))
    debs["linux-image-generic"] = meta
    return debs


def _control_of(deb):
    return subprocess.run(["dpkg-deb", "-f", deb], check=True, capture_output=True,
                          text=True).stdout.rstrip("\n")


def _digest(path, algorithm):
    with open(path, "rb") as handle:
        return hashlib.new(algorithm, handle.read()).hexdigest()


def write_host_repo(mirror_dir, host, debs, hide_fixed=False):
    """(Re)write the flat repository <mirror_dir>/<host>/ from the pool.

    hide_fixed leaves out the fixed kernels and the meta package: the
    "fixed kernel missing" fault.
    """
    repo = os.path.join(mirror_dir, host)
    shutil.rmtree(repo, ignore_errors=True)
    os.makedirs(repo)
    hidden = {image_package(abi) for abi in FIXED_ABIS} | {"linux-image-generic"}
    stanzas = []
    for package, deb in sorted(debs.items()):
        if hide_fixed and package in hidden:
            continue
        name = os.path.basename(deb)
        os.symlink(os.path.join("..", "pool", name), os.path.join(repo, name))
        stanzas.append("\n".join([
            _control_of(deb),
            "Filename: ./" + name,
            "Size: %d" % os.path.getsize(deb),
            "MD5sum: " + _digest(deb, "md5"),
            "SHA256: " + _digest(deb, "sha256"),
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
