"""The lab's one container image, built locally and never pulled.

A Debian bookworm rootfs from debootstrap with systemd (PID 1 of a master), sshd,
sudo, unattended-upgrades with its apt timers, python3 (with python3-apt for
Ansible's apt module), apt/dpkg, etcd (Debian's etcd-server/etcd-client: bookworm's
3.4, or trixie's 3.5 packages installed over them), the docker CLI (talking to the
lab's engine through its socket) and the affected kernel package installed, imported
with `docker import`. Masters, etcd containers and the apt mirror all run it. The tag
is a hash of what goes in (the etcd version among it), so a changed recipe builds a
new image and an unchanged one is reused (cached between runs).

A master is an Ubuntu control-plane node as kubespray leaves it: ssh as the normal
user `ubuntu` with passwordless sudo (root login off), etcd under `etcd.service`
(the unit itself is mounted per lab, as the layout wants it). A worker is the same
machine with Debian's containerd as its container runtime (containerd.service, which
`lab up` enables on the workers alone, as kubespray's container-engine role enables
it) and no etcd. The lab's own unit,
lab-boot.service, is the simulated part of the boot: it picks the kernel and the
boot id before anything else starts.
"""
import hashlib
import os
import shutil
import subprocess
import tempfile
import time

from lab import kernels
from lab.config import STATE_DIR, LabError, run_command, write_file
from lab.docker import image_exists

SUITE = "bookworm"
DEBIAN_MIRROR = os.environ.get("LAB_DEBIAN_MIRROR", "http://deb.debian.org/debian")
PACKAGES = ["systemd", "systemd-sysv", "dbus", "sudo", "openssh-server", "python3", "python3-apt",
            "etcd-server", "etcd-client", "procps", "iproute2", "curl", "unattended-upgrades", "containerd"]
# Where each etcd version comes from: bookworm's own packages, or trixie's (etcd-server
# carries etcdutl from 3.5 on), downloaded and installed over them.
ETCD_SUITES = {"3.4": None, "3.5": "trixie"}
ETCD_PACKAGES = ("etcd-server", "etcd-client")
SSH_USER = "ubuntu"
SSHD_CONFIG = """\
# etcd lab: key-only login as the normal user, never as root; the host key is
# mounted per master.
PermitRootLogin no
PasswordAuthentication no
KbdInteractiveAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
UseDNS no
PrintMotd no
"""
SUDOERS = "%s ALL=(ALL) NOPASSWD:ALL\n" % SSH_USER
# As Ubuntu Server ships it: apt-daily.timer refreshes the lists and apt-daily-upgrade.timer
# runs unattended-upgrade, every day.
AUTO_UPGRADES = """\
APT::Periodic::Update-Package-Lists "1";
APT::Periodic::Unattended-Upgrade "1";
"""
LAB_BOOT_UNIT = """\
[Unit]
Description=etcd lab: the simulated part of the boot (kernel, boot id, boot faults)
DefaultDependencies=no
Before=sysinit.target

[Service]
Type=oneshot
RemainAfterExit=yes
EnvironmentFile=/etc/default/lab
ExecStart=/lab/bin/boot
TimeoutStartSec=infinity
StandardOutput=journal+console

[Install]
WantedBy=sysinit.target
"""
# A worker's boot-time runtime fault (lab/faults.py, containerd_stuck_after_boot): while
# its marker is there, containerd is frozen right after each start, as the bug leaves it
# (the unit active, its socket accepting, nothing answering).
CONTAINERD_FAULTS_DROP_IN = """\
[Service]
ExecStartPost=/bin/sh -c 'if [ -e /lab/faults/containerd_stuck_after_boot ]; then kill -STOP $MAINPID; fi'
"""
# The lab's engine socket is mounted at /lab/docker.sock (a mount under /run would sit
# beneath the /run tmpfs); the docker CLI finds it where it looks, /var/run/docker.sock.
TMPFILES = "L+ /run/docker.sock - - - - /lab/docker.sock\n"
# Units that have nothing to do in a container and would leave the system "degraded".
MASKED_UNITS = ["getty@tty1.service", "console-getty.service", "systemd-udevd.service",
                "systemd-udev-trigger.service", "systemd-modules-load.service",
                "systemd-remount-fs.service", "sys-kernel-config.mount", "sys-kernel-debug.mount",
                "sys-kernel-tracing.mount", "systemd-sysctl.service", "systemd-firstboot.service",
                "e2scrub_reap.service", "e2scrub_all.timer", "fstrim.timer"]
REPOSITORY = "etcdlab-node"


def _docker_cli():
    path = shutil.which("docker", path="/usr/bin") or shutil.which("docker")
    if not path:
        raise LabError("no docker CLI to copy into the image; run 'make setup'")
    return path


def image_tag(etcd_version="3.4"):
    recipe = hashlib.sha256()
    if ETCD_SUITES[etcd_version] is not None:
        recipe.update(b"etcd from %s\0" % ETCD_SUITES[etcd_version].encode())
    for part in (SUITE, " ".join(PACKAGES), SSHD_CONFIG, SUDOERS, AUTO_UPGRADES, LAB_BOOT_UNIT, TMPFILES,
                 CONTAINERD_FAULTS_DROP_IN,
                 " ".join(MASKED_UNITS), " ".join(kernels.release_packages(kernels.BOOT_ABI)),
                 kernels.POSTINST, kernels.POSTRM, kernels.NIC_DRIVER):
        recipe.update(part.encode() + b"\0")
    with open(_docker_cli(), "rb") as handle:
        recipe.update(hashlib.sha256(handle.read()).digest())
    return "%s:%s" % (REPOSITORY, recipe.hexdigest()[:12])


def ensure_image(kernel_debs, etcd_version="3.4", log=print):
    """Return the image tag, building the image first when it is not cached."""
    tag = image_tag(etcd_version)
    if image_exists(tag):
        return tag
    if os.geteuid() != 0:
        raise LabError("building the lab image needs root (debootstrap, chroot)")
    started = time.monotonic()
    log("building image %s (debootstrap %s, etcd %s, about a minute, once)" % (tag, SUITE, etcd_version))
    os.makedirs(STATE_DIR, exist_ok=True)
    work = tempfile.mkdtemp(prefix="image-", dir=STATE_DIR)
    rootfs = os.path.join(work, "rootfs")
    try:
        run_command(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES),
                     SUITE, rootfs, DEBIAN_MIRROR],
                    "debootstrap from %s (set LAB_DEBIAN_MIRROR to use another mirror)" % DEBIAN_MIRROR)
        _customise(rootfs, [kernel_debs[name] for name in kernels.release_packages(kernels.BOOT_ABI)])
        if ETCD_SUITES[etcd_version] is not None:
            _install_etcd_from(rootfs, ETCD_SUITES[etcd_version], os.path.join(work, "etcd"))
        tar = subprocess.Popen(["tar", "-C", rootfs, "--numeric-owner", "-c", "."],
                               stdout=subprocess.PIPE)
        imported = subprocess.run(["docker", "import", "--change", 'CMD ["/sbin/init"]',
                                   "-", tag], stdin=tar.stdout, capture_output=True, text=True)
        tar.stdout.close()
        if tar.wait() != 0 or imported.returncode != 0:
            raise LabError("docker import failed: %s" % imported.stderr.strip())
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log("image %s built in %.0fs" % (tag, time.monotonic() - started))
    return tag


def _install_etcd_from(rootfs, suite, folder):
    """Debian's etcd packages of another suite, downloaded on this machine with an apt of
    its own (a sources list naming that suite alone) and installed over bookworm's."""
    state = {"lists": os.path.join(folder, "lists"), "cache": os.path.join(folder, "cache")}
    os.makedirs(os.path.join(state["lists"], "partial"))
    os.makedirs(os.path.join(state["cache"], "archives", "partial"))
    sources = os.path.join(folder, "sources.list")
    write_file(sources, "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] %s %s main\n"
               % (DEBIAN_MIRROR, suite))
    apt = ["-o", "Dir::Etc::SourceList=" + sources, "-o", "Dir::Etc::SourceParts=/dev/null",
           "-o", "Dir::State::Lists=" + state["lists"], "-o", "Dir::Cache=" + state["cache"],
           "-o", "APT::Sandbox::User=root"]
    run_command(["apt-get", *apt, "update", "-qq"], "apt-get update for Debian %s's etcd" % suite)
    debs = os.path.join(rootfs, "tmp/etcd")
    os.makedirs(debs)
    run_command(["apt-get", *apt, "download", *ETCD_PACKAGES], "downloading etcd from Debian %s" % suite, cwd=debs)
    run_command(["chroot", rootfs, "sh", "-c", "dpkg -i /tmp/etcd/*.deb"], "installing etcd from Debian %s" % suite)
    shutil.rmtree(debs)


def _customise(rootfs, boot_kernel_debs):
    for stale in ("etc/apt/sources.list", "etc/apt/sources.list.d/debian.sources"):
        if os.path.exists(os.path.join(rootfs, stale)):
            os.remove(os.path.join(rootfs, stale))
    with open(os.path.join(rootfs, "etc/ssh/sshd_config.d/lab.conf"), "w") as handle:
        handle.write(SSHD_CONFIG)
    for name in os.listdir(os.path.join(rootfs, "etc/ssh")):
        if name.startswith("ssh_host_"):
            os.remove(os.path.join(rootfs, "etc/ssh", name))
    run_command(["chroot", rootfs, "useradd", "--create-home", "--shell", "/bin/bash", SSH_USER],
                "adding the ssh user")
    run_command(["chroot", rootfs, "install", "-d", "-m", "0700", "-o", SSH_USER, "-g", SSH_USER,
                 "/home/%s/.ssh" % SSH_USER], "creating the ssh user's .ssh")
    write_file(os.path.join(rootfs, "etc/sudoers.d/" + SSH_USER), SUDOERS, 0o440)
    write_file(os.path.join(rootfs, "etc/apt/apt.conf.d/20auto-upgrades"), AUTO_UPGRADES)
    write_file(os.path.join(rootfs, "etc/systemd/system/lab-boot.service"), LAB_BOOT_UNIT)
    write_file(os.path.join(rootfs, "etc/tmpfiles.d/lab-docker.conf"), TMPFILES)
    write_file(os.path.join(rootfs, "etc/systemd/system/containerd.service.d/lab-faults.conf"),
               CONTAINERD_FAULTS_DROP_IN)
    systemd = os.path.join(rootfs, "etc/systemd/system")
    for target, unit in (("sysinit.target.wants", "lab-boot.service"),
                         ("multi-user.target.wants", "etcd.service")):
        link = os.path.join(systemd, target, unit)
        os.makedirs(os.path.dirname(link), exist_ok=True)
        if os.path.lexists(link):
            os.remove(link)  # Debian's etcd-server enables its own etcd.service
        os.symlink("/etc/systemd/system/" + unit, link)
    # Debian's containerd enables itself; only a worker's lab up enables it (its /etc keeps that).
    run_command(["chroot", rootfs, "systemctl", "disable", "--quiet", "containerd.service"],
                "disabling containerd in the image")
    for unit in MASKED_UNITS:
        link = os.path.join(systemd, unit)
        if os.path.lexists(link):
            os.remove(link)
        os.symlink("/dev/null", link)
    os.makedirs(os.path.join(rootfs, "var/lib/lab"), exist_ok=True)
    shutil.copy2(_docker_cli(), os.path.join(rootfs, "usr/bin/docker"))
    # The boot kernel as a host with linux-generic has it: image, modules, modules-extra, headers.
    os.makedirs(os.path.join(rootfs, "tmp/kernel"))
    for deb in boot_kernel_debs:
        shutil.copy2(deb, os.path.join(rootfs, "tmp/kernel"))
    run_command(["chroot", rootfs, "sh", "-c", "dpkg -i /tmp/kernel/*.deb"], "installing the boot kernel's packages")
    shutil.rmtree(os.path.join(rootfs, "tmp/kernel"))
    run_command(["chroot", rootfs, "apt-get", "clean"], "apt-get clean")
    shutil.rmtree(os.path.join(rootfs, "var/lib/apt/lists"), ignore_errors=True)
    os.makedirs(os.path.join(rootfs, "var/lib/apt/lists/partial"), exist_ok=True)
