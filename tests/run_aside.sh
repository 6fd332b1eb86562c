#!/usr/bin/env bash
# tests/run_aside.sh COMMAND...: run a test stage that needs no lab so that it can run
# beside the lab's stages without slowing them (tests/run_stages.sh runs it so).
#
# The flow tier boots three etcd members per test and installs kernel packages with dpkg,
# the unit tests start local etcd members too, and all of them fsync all the time: on the
# lab's disk they stall the lab's etcd (writes that wait seconds, members that miss their
# heartbeats, a monitor that sees them all down). So the stage's temporary files (TMPDIR,
# where pytest keeps each test's folder) are on a tmpfs, mounted in a mount namespace of
# this run alone: it needs no unmount and is gone when the run ends, however it ends. And
# the stage runs at a lower CPU priority than the lab's time-sensitive etcd.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" != 0 ]; then  # only root may mount: the files stay on disk
  exec nice -n 10 "$@"
fi
mkdir -p .cache/aside-tmp
exec unshare --mount --propagation private -- sh -c '
  mount -t tmpfs -o size=6g,mode=0700 aside-tmp "$1" || exit
  shift
  TMPDIR=$(pwd)/.cache/aside-tmp exec nice -n 10 "$@"
' run-aside .cache/aside-tmp "$@"
