#!/usr/bin/env bash
# make test: every stage CI runs, each timed, so that a slow stage shows in the log.
#
# The lab's stages (integration, then molecule) take turns on the one lab. The flow tier
# runs beside molecule: molecule mostly waits (reboots, etcd's own timings, the
# scenarios' watches; about a third of a core on average), the flow tier is CPU-bound
# (its playbook runs), and they share nothing (the flow tier's hosts are namespaces of
# this machine on loopback, the lab is containers on its own bridge). Its output is kept
# and printed once both have ended, so the log reads one stage at a time.
set -uo pipefail
cd "$(dirname "$0")/.."

stage() {  # stage TARGET: make TARGET, then say how long it took; its status
  local started status
  started=$(date +%s)
  make --no-print-directory "$1"
  status=$?
  if [ "$status" = 0 ]; then
    echo "[test] $1 passed in $(( $(date +%s) - started )) s"
  else
    echo "[test] $1 failed after $(( $(date +%s) - started )) s"
  fi
  return "$status"
}

started=$(date +%s)
stage test-unit && stage lint && stage test-integration || exit 1

mkdir -p .cache
flow_log=.cache/test-flow.log
stage test-flow > "$flow_log" 2>&1 &
flow=$!
stage test-molecule
molecule=$?
wait "$flow"
flow_status=$?
echo "=== make test-flow (it ran beside make test-molecule)"
cat "$flow_log"
echo "[test] all stages took $(( $(date +%s) - started )) s"
[ "$molecule" = 0 ] && [ "$flow_status" = 0 ]
