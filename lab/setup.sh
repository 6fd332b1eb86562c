#!/usr/bin/env bash
# make setup: install what the kit and its lab need, idempotently.
#   Debian packages (docker engine, debootstrap, etcd binaries, ssh client),
#   a running dockerd, and .venv with the pinned Python dependencies.
# Safe to run again: each step checks first and does nothing when satisfied.
set -euo pipefail
cd "$(dirname "$0")/.."

# python3-apt: the flow tier's hosts run Ansible's apt module with the system Python.
APT_PACKAGES=(docker.io debootstrap debian-archive-keyring etcd-server etcd-client openssh-client openssl iproute2 ca-certificates
  python3-apt util-linux)
# `setup.sh vm` (make setup-vm): the real-kernel VM's tools, on top (lab/vm.py).
VM_PACKAGES=(qemu-system-x86 qemu-utils ovmf gdisk dosfstools mtools grub-common grub-efi-amd64-bin socat)
[ "${1:-}" = vm ] && APT_PACKAGES+=("${VM_PACKAGES[@]}")
DOCKERD_LOG=/var/log/etcdlab-dockerd.log

say() { printf '[setup] %s\n' "$*"; }
die() { printf '[setup] ERROR: %s\n' "$*" >&2; exit 1; }

missing_packages() {
  local pkg
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}\n' "$pkg" 2>/dev/null | grep -q 'install ok installed' || printf '%s\n' "$pkg"
  done
}

install_packages() {
  local missing
  missing=$(missing_packages)
  [ -z "$missing" ] && return 0
  [ "$(id -u)" = 0 ] || die "missing Debian packages: $(echo $missing). Run 'make setup' as root, or install them: apt-get install $(echo $missing)"
  say "installing Debian packages: $(echo $missing)"
  apt-get update -qq
  # shellcheck disable=SC2086
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing >/dev/null
}

start_dockerd() {
  docker info >/dev/null 2>&1 && return 0
  [ "$(id -u)" = 0 ] || die "no Docker engine answers and only root can start one. Start dockerd (or run 'make setup' as root)."
  command -v dockerd >/dev/null || die "dockerd not found although docker.io is installed; reinstall it: apt-get install --reinstall docker.io"
  if pgrep -x dockerd >/dev/null; then
    say "dockerd is running but not answering yet; waiting"
  else
    say "starting dockerd (no systemd here); log: $DOCKERD_LOG"
    # No iptables and no default bridge: the lab uses its own user-defined
    # bridge and must not rewrite the machine's firewall.
    setsid nohup dockerd --iptables=false --bridge=none >"$DOCKERD_LOG" 2>&1 < /dev/null &
  fi
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 0.5
  done
  die "dockerd did not answer within 30 s; see $DOCKERD_LOG"
}

create_venv() {
  local stamp=.venv/.requirements.sha256 want
  want=$(sha256sum requirements.txt | cut -d' ' -f1)
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -x .venv/bin/ansible-playbook ]; then
    return 0
  fi
  python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || die "Python 3.11 or newer is needed on the controller (ansible-core 2.19); found $(python3 --version)"
  say "creating .venv with the pinned Python dependencies"
  python3 -m venv .venv
  # The machine's pip config may name local indexes that are absent: drop that noise only.
  .venv/bin/pip install -q --upgrade pip 2>&1 | grep -v 'is ignored' >&2 || true
  .venv/bin/pip install -q -r requirements.txt 2>&1 | grep -v 'is ignored' >&2 || true
  .venv/bin/python -c 'import ansible, ansible_runner, pyetcd, paramiko, pytest' \
    || die "the pinned Python dependencies did not install; see pip's messages above"
  echo "$want" > "$stamp"
}

install_packages
start_dockerd
create_venv
say "ready: $(docker version --format 'docker engine {{.Server.Version}}'), $(.venv/bin/ansible --version | sed -n 1p)"
