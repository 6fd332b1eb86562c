#!/usr/bin/env bash
# make test: every stage CI runs, each timed, so that a slow stage shows in the log.
#
# Two paths run side by side. The lab's stages (integration, then molecule) take turns on
# the one lab: they are the run's long path, and mostly wait (reboots, etcd's own
# timings, the scenarios' watches; about a third of a core on average). The stages that
# need no lab (unit, lint, then the flow tier) are CPU-bound and share nothing with it
# (the flow tier's hosts are namespaces of this machine on loopback, the lab is
# containers on its own bridge); they run beside it in a CPU control group that weighs
# little, with their temporary files on a tmpfs (tests/run_aside.sh), so that they never
# slow the lab's etcd. Their output is kept and printed once both paths have ended, so
# the log reads one stage at a time. A CI log is read from its end: when a stage fails,
# the tasks that failed are printed again last (task name and Ansible's message, cut to a
# screenful).
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

failed_tasks() {  # failed_tasks LOG: each failed task in LOG (not the ignored ones), its name first
  awk '
    { gsub(/\033\[[0-9;]*m/, ""); sub(/^ *\342\224\202 ?/, "") }  # colours and molecule frame
    function flush() { if (block != "" && !ignored) print block "\n"; block = ""; ignored = 0; lines = 0 }
    /^TASK \[/ { flush(); task = $0; next }
    /^(PLAY|RUNNING HANDLER) / || /^$/ { flush(); next }
    /^\.\.\.ignoring/ { ignored = 1; next }
    /^(fatal|failed): \[/ { flush(); block = task "\n" $0; lines = 1; next }
    block != "" && lines < 40 { block = block "\n" substr($0, 1, 300); lines++ }
    END { flush() }
  ' "$1"
}

aside_stages() {  # unit, lint, the flow tier: each runs even if the one before it failed
  local status=0
  stage test-unit || status=1
  stage lint || status=1
  stage test-flow || status=1
  return "$status"
}

lab_stages() {  # integration, then molecule: the lab's
  stage test-integration && stage test-molecule
}

# tests/run_stages.sh --aside: the aside stages alone, as tests/run_aside.sh runs them below.
if [ "${1:-}" = --aside ]; then
  aside_stages
  exit
fi

started=$(date +%s)
mkdir -p .cache
aside_log=.cache/test-aside.log
lab_log=.cache/test-lab.log
bash tests/run_aside.sh bash tests/run_stages.sh --aside > "$aside_log" 2>&1 &
aside=$!
lab_stages 2>&1 | tee "$lab_log"
lab_status=${PIPESTATUS[0]}
wait "$aside"
aside_status=$?
echo "=== make test-unit, lint and make test-flow (they ran beside the lab's stages)"
cat "$aside_log"
if [ "$lab_status" != 0 ] || [ "$aside_status" != 0 ]; then
  echo "=== the tasks that failed (the lab's stages, then the others)"
  failed_tasks "$lab_log"
  failed_tasks "$aside_log"
  grep -h -E "^(FAILED|ERROR) " "$lab_log" "$aside_log" | cut -c1-300
fi
echo "[test] all stages took $(( $(date +%s) - started )) s"
[ "$lab_status" = 0 ] && [ "$aside_status" = 0 ]
