"""A real kernel: a Debian VM under qemu that the kit upgrades and reboots, nothing simulated.

The container lab stops at one seam, its kernel is a file its boot writes. This VM has
none: GRUB boots a Debian kernel, apt installs a newer one from a flat repository on
the host's loopback, update-grub makes it the default, and Ansible's builtin reboot
brings the VM back on it; the kit reads /proc/sys/kernel/osrelease and the real boot id.

The image (cached, built once per recipe and Debian's offer):
  debootstrap bookworm with systemd, sshd, sudo, python3 and Debian's etcd; the
  second-newest linux-image-6.1.0-N-amd64 the mirror offers, and the newest one's
  package kept beside the image for the repository; a GPT disk with an EFI system
  partition holding a standalone GRUB that loads the root's /boot/grub/grub.cfg.
  etcd is one member in kubespray's host layout (etcd.service, /etc/etcd.env,
  certificates in /etc/ssl/etcd/ssl). ssh as the normal user with passwordless sudo.
A run (`vm up`): a copy-on-write overlay of the image, qemu (TCG: no KVM here) with
user networking restricted to two forwards (ssh on 127.0.0.1 only, and the guest's
http://10.0.2.100/ to the repository served on the host's loopback), the serial
console in a file, and inventory/vm/hosts.yml.

Settings (environment): LAB_VM_CACHE (where images are kept, default
~/.cache/etcd-kernel-lab/vm), LAB_DEBIAN_MIRROR.
"""
import glob
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid

from lab import certs, kernels
from lab.cluster import env_file, kubespray_etcd_env
from lab.config import REPO_ROOT, STATE_DIR, LabError, run_command, write_file
from lab.image import DEBIAN_MIRROR, SSH_USER, SSHD_CONFIG, SUDOERS, SUITE

HOST = "vm1"
MEMBER = "etcd1"
GUEST_IP = "10.0.2.15"  # qemu's user network gives the guest this address
REPO_ADDRESS = "10.0.2.100"  # the guest's name for the repository (a guestfwd)
CERT_DIR = "/etc/ssl/etcd/ssl"
KERNEL_PATTERN = r"^linux-image-6\.1\.0-[0-9]+-amd64$"
PACKAGES = ["systemd-sysv", "udev", "kmod", "dbus", "openssh-server", "sudo", "python3", "python3-apt",
            "initramfs-tools", "grub2-common", "grub-efi-amd64-bin", "etcd-server", "etcd-client",
            "procps", "iproute2", "curl", "ca-certificates"]
SOURCES = """\
deb {mirror} {suite} main
deb {mirror} {suite}-updates main
deb http://deb.debian.org/debian-security {suite}-security main
"""
# Ansible's apt module on the guest sees only the lab's repository.
GUEST_SOURCES = "deb [trusted=yes] http://%s/ ./\n" % REPO_ADDRESS
GRUB_DEFAULTS = """\
GRUB_DEFAULT=0
GRUB_TIMEOUT=1
GRUB_DISTRIBUTOR=Debian
GRUB_CMDLINE_LINUX_DEFAULT="quiet"
GRUB_CMDLINE_LINUX="console=ttyS0"
GRUB_TERMINAL=console
"""
# Only until the guest's own update-grub (from the kernel's postinst) rewrites it:
# grub-probe cannot work inside a chroot.
FIRST_GRUB_CFG = """\
set default=0
set timeout=1
menuentry "Debian GNU/Linux, {release}" {{
  search --no-floppy --fs-uuid --set=root {uuid}
  linux /boot/vmlinuz-{release} root=UUID={uuid} ro console=ttyS0 quiet
  initrd /boot/initrd.img-{release}
}}
"""
# GRUB does not load partition maps on its own: without part_gpt, search finds no root.
# $prefix stays in the stub's memdisk, which has every module (grub-install would copy
# them to /boot/grub/x86_64-efi; this disk has none there).
EFI_STUB_CFG = """\
insmod part_gpt
insmod ext2
search --no-floppy --fs-uuid --set=root {uuid}
configfile ($root)/boot/grub/grub.cfg
"""
NETWORK = """\
[Match]
Name=en*

[Network]
DHCP=ipv4
"""
# kubespray's etcd-host.service.j2, with Debian's binary.
ETCD_UNIT = """\
[Unit]
Description=etcd
After=network.target

[Service]
Type=notify
User=root
EnvironmentFile=/etc/etcd.env
ExecStart=/usr/bin/etcd
NotifyAccess=all
Restart=always
RestartSec=10s
LimitNOFILE=40000

[Install]
WantedBy=multi-user.target
"""
ETCD_ENV = kubespray_etcd_env(MEMBER, HOST, GUEST_IP, "%s=https://%s:2380" % (MEMBER, GUEST_IP))
ESP_MIB = 64
ROOT_MIB = 2048
MEMORY_MIB = 1024
OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd"
OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd"
HOST_TOOLS = {  # program: the Debian package that has it (lab/setup.sh vm installs them)
    "qemu-system-x86_64": "qemu-system-x86", "qemu-img": "qemu-utils", "sgdisk": "gdisk",
    "mkfs.vfat": "dosfstools", "mcopy": "mtools", "grub-mkstandalone": "grub-common",
    "socat": "socat", "debootstrap": "debootstrap",
}
RUN_DIR = os.path.join(STATE_DIR, "vm")
INVENTORY_DIR = os.path.join(REPO_ROOT, "inventory", "vm")


def cache_root():
    return os.environ.get("LAB_VM_CACHE", os.path.expanduser("~/.cache/etcd-kernel-lab/vm"))


def recipe_id():
    """A hash of what goes into the image: a changed recipe builds a new one."""
    recipe = hashlib.sha256()
    for part in (SUITE, DEBIAN_MIRROR, " ".join(PACKAGES), SOURCES, GRUB_DEFAULTS, FIRST_GRUB_CFG,
                 EFI_STUB_CFG, NETWORK, ETCD_UNIT, json.dumps(ETCD_ENV, sort_keys=True), SSHD_CONFIG, SUDOERS,
                 SSH_USER, str(ROOT_MIB)):
        recipe.update(part.encode() + b"\0")
    return recipe.hexdigest()[:12]


def _chroot(rootfs, command, what):
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive", LC_ALL="C.UTF-8")
    return run_command(["chroot", rootfs] + command, what, env=env).stdout


def check_host_tools():
    missing = sorted({package for program, package in HOST_TOOLS.items() if not shutil.which(program)})
    for firmware in (OVMF_CODE, OVMF_VARS):
        if not os.path.exists(firmware):
            missing.append("ovmf")
            break
    if missing:
        raise LabError("the VM needs Debian packages that are missing: %s. Run 'make setup-vm' "
                       "(or apt-get install %s)" % (" ".join(missing), " ".join(missing)))


# The image ------------------------------------------------------------------------

def ensure_image(log=print):
    """The cached image's folder (base.qcow2, meta.json, the target kernel's package, keys),
    built first when missing."""
    folder = os.path.join(cache_root(), recipe_id())
    if os.path.exists(os.path.join(folder, "meta.json")):
        return folder
    check_host_tools()
    if os.geteuid() != 0:
        raise LabError("building the VM image needs root (debootstrap, chroot)")
    started = time.monotonic()
    log("building the VM image %s (debootstrap %s and a Debian kernel, a few minutes, once)"
        % (recipe_id(), SUITE))
    os.makedirs(cache_root(), exist_ok=True)
    work = tempfile.mkdtemp(prefix="build-", dir=cache_root())
    try:
        meta = _build(work, log)
        meta["built_s"] = round(time.monotonic() - started)
        write_file(os.path.join(work, "meta.json"), json.dumps(meta, indent=2) + "\n")
        shutil.rmtree(folder, ignore_errors=True)
        os.rename(work, folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log("VM image built in %ds: boots %s, the repository offers %s"
        % (meta["built_s"], meta["boot_release"], meta["target_release"]))
    return folder


def _offered_kernels(rootfs):
    listed = _chroot(rootfs, ["apt-cache", "search", "--names-only", KERNEL_PATTERN], "listing Debian's kernels")
    names = [line.split(" ", 1)[0] for line in listed.splitlines() if line.strip()]
    return sorted(names, key=lambda name: int(name.split("-")[3]))


def _build(work, log):
    rootfs = os.path.join(work, "rootfs")
    run_command(["debootstrap", "--variant=minbase", "--include=" + ",".join(PACKAGES), SUITE, rootfs, DEBIAN_MIRROR],
                "debootstrap from %s (set LAB_DEBIAN_MIRROR to use another mirror)" % DEBIAN_MIRROR)
    write_file(os.path.join(rootfs, "etc/apt/sources.list"), SOURCES.format(mirror=DEBIAN_MIRROR, suite=SUITE))
    _chroot(rootfs, ["apt-get", "update", "-q"], "apt-get update in the image")
    offered = _offered_kernels(rootfs)
    if len(offered) < 2:
        raise LabError("Debian's mirror offers fewer than two 6.1 kernels (%s): nothing to upgrade from"
                       % ", ".join(offered))
    boot_image, target_image = offered[-2], offered[-1]
    log("  installing %s (the target will be %s)" % (boot_image, target_image))
    _chroot(rootfs, ["apt-get", "install", "-y", "-q", "--no-install-recommends", boot_image],
            "installing " + boot_image)
    _chroot(rootfs, ["sh", "-c", "cd /root && apt-get download " + target_image], "downloading " + target_image)
    for deb in glob.glob(os.path.join(rootfs, "root", target_image + "_*.deb")):
        shutil.move(deb, work)
    _configure(rootfs, work)
    root_uuid = str(uuid.uuid4())
    write_file(os.path.join(rootfs, "etc/fstab"), "UUID=%s / ext4 errors=remount-ro 0 1\n" % root_uuid)
    write_file(os.path.join(rootfs, "boot/grub/grub.cfg"),
               FIRST_GRUB_CFG.format(release=boot_image[len("linux-image-"):], uuid=root_uuid))
    _chroot(rootfs, ["apt-get", "clean"], "apt-get clean")
    shutil.rmtree(os.path.join(rootfs, "var/lib/apt/lists"), ignore_errors=True)
    os.makedirs(os.path.join(rootfs, "var/lib/apt/lists/partial"))
    log("  writing the disk")
    _write_disk(work, rootfs, root_uuid)
    shutil.rmtree(rootfs)
    return {"boot_release": boot_image[len("linux-image-"):], "target_release": target_image[len("linux-image-"):],
            "target_debs": [os.path.basename(deb) for deb in glob.glob(os.path.join(work, "*.deb"))],
            "user": SSH_USER, "host": HOST, "member": MEMBER}


def _configure(rootfs, work):
    # What a Debian server has after its installer: GRUB's settings, a small initramfs
    # (MODULES=dep, set after the chroot install, which cannot see the VM's disk), a
    # network, a host name, the normal user with sudo, sshd with key login only.
    write_file(os.path.join(rootfs, "etc/default/grub"), GRUB_DEFAULTS)
    run_command(["sed", "-i", "s/^MODULES=.*/MODULES=dep/", os.path.join(rootfs, "etc/initramfs-tools/initramfs.conf")],
                "setting MODULES=dep")
    write_file(os.path.join(rootfs, "etc/systemd/network/20-wired.network"), NETWORK)
    write_file(os.path.join(rootfs, "etc/hostname"), HOST + "\n")
    write_file(os.path.join(rootfs, "etc/hosts"), "127.0.0.1 localhost\n127.0.1.1 %s\n" % HOST)
    _enable(rootfs, "multi-user.target.wants", "systemd-networkd.service", "/lib/systemd/system/")
    write_file(os.path.join(rootfs, "etc/apt/sources.list"), GUEST_SOURCES)
    write_file(os.path.join(rootfs, "etc/ssh/sshd_config.d/lab.conf"), SSHD_CONFIG)
    _chroot(rootfs, ["useradd", "--create-home", "--shell", "/bin/bash", SSH_USER], "adding the ssh user")
    write_file(os.path.join(rootfs, "etc/sudoers.d/" + SSH_USER), SUDOERS, 0o440)
    key = os.path.join(work, "id_ed25519")
    run_command(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "etcd-kernel-vm", "-f", key], "making the ssh key")
    ssh_dir = os.path.join(rootfs, "home", SSH_USER, ".ssh")
    with open(key + ".pub") as handle:
        write_file(os.path.join(ssh_dir, "authorized_keys"), handle.read(), 0o600)
    _chroot(rootfs, ["chown", "-R", "%s:%s" % (SSH_USER, SSH_USER), "/home/%s/.ssh" % SSH_USER], "owning .ssh")
    os.chmod(ssh_dir, 0o700)
    with open(os.path.join(rootfs, "etc/ssh/ssh_host_ed25519_key.pub")) as handle:
        write_file(os.path.join(work, "host_key.pub"), handle.read())
    # etcd: one member, kubespray's host layout.
    ca_dir = os.path.join(work, "ca")
    certs.make_host_certs(ca_dir, os.path.join(rootfs, CERT_DIR.lstrip("/")), HOST, GUEST_IP)
    write_file(os.path.join(rootfs, "etc/etcd.env"), env_file(ETCD_ENV), 0o640)
    write_file(os.path.join(rootfs, "etc/systemd/system/etcd.service"), ETCD_UNIT)
    _enable(rootfs, "multi-user.target.wants", "etcd.service", "/etc/systemd/system/")
    shutil.rmtree(os.path.join(rootfs, "var/lib/etcd"), ignore_errors=True)  # Debian's own member's data
    os.makedirs(os.path.join(rootfs, "var/lib/etcd"), mode=0o700)


def _enable(rootfs, target, unit, unit_dir):
    link = os.path.join(rootfs, "etc/systemd/system", target, unit)
    os.makedirs(os.path.dirname(link), exist_ok=True)
    if os.path.lexists(link):
        os.remove(link)
    os.symlink(unit_dir + unit, link)


def _write_disk(work, rootfs, root_uuid):
    """A GPT disk (ESP, then root) assembled from files: no loop devices needed."""
    esp, root, disk = (os.path.join(work, name) for name in ("esp.img", "root.img", "disk.raw"))
    stub_cfg = os.path.join(work, "stub.cfg")
    write_file(stub_cfg, EFI_STUB_CFG.format(uuid=root_uuid))
    efi = os.path.join(work, "BOOTX64.EFI")
    run_command(["grub-mkstandalone", "-O", "x86_64-efi", "-o", efi, "boot/grub/grub.cfg=" + stub_cfg], "grub-mkstandalone")
    run_command(["mkfs.vfat", "-C", esp, str(ESP_MIB * 1024)], "mkfs.vfat")
    run_command(["mmd", "-i", esp, "::/EFI", "::/EFI/BOOT"], "mmd")
    run_command(["mcopy", "-i", esp, efi, "::/EFI/BOOT/BOOTX64.EFI"], "mcopy")
    run_command(["mke2fs", "-q", "-t", "ext4", "-U", root_uuid, "-d", rootfs, root, "%dM" % ROOT_MIB], "mke2fs")
    first_lba = 2048
    esp_sectors = ESP_MIB * 2048
    root_start = first_lba + esp_sectors
    total_mib = 1 + ESP_MIB + ROOT_MIB + 1
    with open(disk, "wb") as handle:
        handle.truncate(total_mib * 1024 * 1024)
    run_command(["sgdisk", "-n", "1:%d:+%dM" % (first_lba, ESP_MIB), "-t", "1:ef00",
                 "-n", "2:%d:+%dM" % (root_start, ROOT_MIB), "-t", "2:8300", disk], "sgdisk")
    for image, start in ((esp, first_lba), (root, root_start)):
        run_command(["dd", "if=" + image, "of=" + disk, "bs=512", "seek=%d" % start, "conv=notrunc,sparse", "status=none"],
                    "dd " + os.path.basename(image))
    run_command(["qemu-img", "convert", "-c", "-O", "qcow2", disk, os.path.join(work, "base.qcow2")], "qemu-img convert")
    for name in (esp, root, disk, efi, stub_cfg):
        os.remove(name)


# A run ----------------------------------------------------------------------------

def _free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _state():
    path = os.path.join(RUN_DIR, "state.json")
    if not os.path.exists(path):
        return None
    with open(path) as handle:
        return json.load(handle)


def _alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


def _wait_for_ssh(port, timeout, console):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as connection:
                if connection.recv(64).startswith(b"SSH-"):
                    return
        except OSError:
            pass
        time.sleep(1)
    raise LabError("the VM's sshd did not answer on 127.0.0.1:%d within %ds; see its console: %s"
                   % (port, timeout, console))


def up(log=print, boot_timeout=300):
    """Start the VM on a fresh overlay (and the repository), or keep the one running."""
    state = _state()
    if state and _alive(state["qemu_pid"]):
        return state
    down()
    image = ensure_image(log)
    with open(os.path.join(image, "meta.json")) as handle:
        meta = json.load(handle)
    os.makedirs(RUN_DIR, exist_ok=True)
    repo = os.path.join(RUN_DIR, "repo")
    os.makedirs(repo)
    kernels.write_flat_repo(repo, {name.split("_")[0]: os.path.join(image, name) for name in meta["target_debs"]})
    overlay = os.path.join(RUN_DIR, "disk.qcow2")
    run_command(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", os.path.join(image, "base.qcow2"),
                 overlay], "qemu-img create")
    vars_copy = os.path.join(RUN_DIR, "OVMF_VARS.fd")
    shutil.copy(OVMF_VARS, vars_copy)
    repo_port, ssh_port = _free_port(), _free_port()
    console = os.path.join(RUN_DIR, "console.log")
    server = subprocess.Popen(["python3", "-m", "http.server", "--bind", "127.0.0.1", "--directory", repo,
                               str(repo_port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                              start_new_session=True)
    # restrict=on: the guest reaches nothing but these two forwards. Each connection the
    # guest opens to the repository starts its own socat (a tcp: chardev takes only one).
    netdev = ("user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:%d-:22,"
              "guestfwd=tcp:%s:80-cmd:socat - TCP:127.0.0.1:%d" % (ssh_port, REPO_ADDRESS, repo_port))
    qemu_log = open(os.path.join(RUN_DIR, "qemu.log"), "w")
    qemu = subprocess.Popen([
        "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max", "-m", str(MEMORY_MIB),
        "-smp", "2", "-display", "none", "-serial", "file:" + console,
        "-drive", "if=pflash,format=raw,readonly=on,file=" + OVMF_CODE,
        "-drive", "if=pflash,format=raw,file=" + vars_copy,
        "-drive", "if=virtio,format=qcow2,file=" + overlay,
        "-netdev", netdev, "-device", "virtio-net-pci,netdev=net0",
    ], stdout=subprocess.DEVNULL, stderr=qemu_log, start_new_session=True)
    qemu_log.close()
    state = {"qemu_pid": qemu.pid, "server_pid": server.pid, "ssh_port": ssh_port, "repo_port": repo_port,
             "image": image, "console": console, **meta}
    write_file(os.path.join(RUN_DIR, "state.json"), json.dumps(state, indent=2) + "\n")
    started = time.monotonic()
    _wait_for_ssh(ssh_port, boot_timeout, console)
    _write_inventory(state)
    # As apt-daily would have done on a server: the lists know what the repository offers.
    ssh(state, "sudo", "apt-get", "update", "-q")
    took = time.monotonic() - started
    log("VM up in %.0fs: %s on %s, ssh 127.0.0.1:%d" % (took, HOST, meta["boot_release"], ssh_port))
    return state


def ssh(state, *command):
    """Run a command on the VM as the inventory's user, over the pinned host key; its stdout."""
    result = subprocess.run(
        ["ssh", "-p", str(state["ssh_port"]), "-i", os.path.join(RUN_DIR, "id_ed25519"),
         "-o", "UserKnownHostsFile=" + os.path.join(RUN_DIR, "known_hosts"), "-o", "StrictHostKeyChecking=yes",
         "-o", "BatchMode=yes", "%s@127.0.0.1" % SSH_USER, *command],
        capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        error = result.stderr.strip()[-2000:]
        raise LabError("on the VM, %s failed (rc=%d): %s" % (" ".join(command), result.returncode, error))
    return result.stdout.strip()


def _write_inventory(state):
    known_hosts = os.path.join(RUN_DIR, "known_hosts")
    with open(os.path.join(state["image"], "host_key.pub")) as handle:
        write_file(known_hosts, "[127.0.0.1]:%d %s" % (state["ssh_port"], " ".join(handle.read().split()[:2])) + "\n")
    key = os.path.join(RUN_DIR, "id_ed25519")
    shutil.copy(os.path.join(state["image"], "id_ed25519"), key)
    os.chmod(key, 0o600)
    write_file(os.path.join(INVENTORY_DIR, "hosts.yml"), (
        "---\n"
        "# Written by `python -m lab vm up` for the VM on this machine; do not edit.\n"
        "etcd:\n"
        "  hosts:\n"
        "    %s:\n"
        "      ansible_host: 127.0.0.1\n"
        "      ansible_port: %d\n"
        "      # The member's address as the VM sees it (qemu's user network).\n"
        "      ip: %s\n"
        "      ansible_ssh_private_key_file: %s\n"
        "      ansible_ssh_common_args: -o UserKnownHostsFile=%s -o StrictHostKeyChecking=yes\n"
    ) % (HOST, state["ssh_port"], GUEST_IP, key, known_hosts))


def down():
    """Stop the VM and the repository and drop the overlay (the cached image stays)."""
    state = _state()
    if state:
        for pid in (state["qemu_pid"], state["server_pid"]):
            if _alive(pid):
                os.killpg(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        while _alive(state["qemu_pid"]) and time.monotonic() < deadline:
            time.sleep(0.2)
    shutil.rmtree(RUN_DIR, ignore_errors=True)
    if os.path.exists(os.path.join(INVENTORY_DIR, "hosts.yml")):
        os.remove(os.path.join(INVENTORY_DIR, "hosts.yml"))


def status():
    state = _state()
    if not state or not _alive(state["qemu_pid"]):
        return {"running": False}
    return {"running": True, **state}
