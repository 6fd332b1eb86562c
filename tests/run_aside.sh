#!/usr/bin/env bash
# tests/run_aside.sh COMMAND...: run test stages that need no lab so that they can run
# beside the lab's stages without slowing them (tests/run_stages.sh runs them so).
#
# Disk: the flow tier boots three etcd members per test and installs kernel packages with
# dpkg, the unit tests start local etcd members too, and all of them fsync all the time;
# on the lab's disk they stall the lab's etcd (writes that wait seconds, members that miss
# their heartbeats). So the command's temporary files (TMPDIR, where pytest keeps each
# test's folder) are on a tmpfs, mounted in a mount namespace of this run alone: it needs
# no unmount and is gone when the run ends, however it ends.
#
# CPU: nice alone does not protect the lab. The scheduler shares the CPU between control
# groups first, and docker puts all the lab's containers in one group that weighs as much
# as a single process outside it; the stages' dozens of processes would outweigh the
# whole lab. So the command runs in a CPU control group of its own that weighs a
# sixteenth of that (removed when the command ends), and at a lower nice value within it.
#
# Nested calls (a stage's make target calls this again) run the command as they find it.
set -uo pipefail
cd "$(dirname "$0")/.."

if [ -n "${RUN_ASIDE:-}" ]; then
  exec "$@"
fi
export RUN_ASIDE=1

# An earlier run's group that something it left running kept (see leave_cpu_group) goes
# now, if it is empty by now: rmdir takes only an empty group.
rmdir /sys/fs/cgroup/cpu/etcd-kernel-test-aside-* /sys/fs/cgroup/etcd-kernel-test-aside-* 2>/dev/null

cpu_group=""
if [ "$(id -u)" = 0 ] && [ -w /sys/fs/cgroup/cpu/cgroup.procs ]; then  # cgroup v1, as on this machine
  cpu_group=/sys/fs/cgroup/cpu/etcd-kernel-test-aside-$$
  mkdir "$cpu_group" && echo 64 > "$cpu_group/cpu.shares" && echo $$ > "$cpu_group/cgroup.procs" || cpu_group=""
elif [ "$(id -u)" = 0 ] && grep -qw cpu /sys/fs/cgroup/cgroup.subtree_control 2>/dev/null; then  # cgroup v2
  cpu_group=/sys/fs/cgroup/etcd-kernel-test-aside-$$
  mkdir "$cpu_group" && echo 6 > "$cpu_group/cpu.weight" && echo $$ > "$cpu_group/cgroup.procs" || cpu_group=""
fi

leave_cpu_group() {
  [ -n "$cpu_group" ] || return 0
  echo $$ > "$(dirname "$cpu_group")/cgroup.procs"
  # A group something the command left running is still in cannot go: wait a little for
  # it to end, else the group stays behind (empty once it ends, as does the group of a
  # run killed outright) until the next run takes it away.
  for _ in $(seq 1 20); do
    rmdir "$cpu_group" 2>/dev/null && return 0
    sleep 0.5
  done
  return 0
}
trap leave_cpu_group EXIT

if [ "$(id -u)" != 0 ]; then  # only root may mount: the files stay on disk
  nice -n 10 "$@"
  exit
fi
mkdir -p .cache/aside-tmp
unshare --mount --propagation private -- sh -c '
  mount -t tmpfs -o size=6g,mode=0700 aside-tmp "$1" || exit
  shift
  TMPDIR=$(pwd)/.cache/aside-tmp exec nice -n 10 "$@"
' run-aside .cache/aside-tmp "$@"
