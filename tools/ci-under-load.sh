#!/usr/bin/env bash
# ci-under-load.sh - run .ci/run with a CPU hog beside it: two busy loops (one
# per core of the 2-core CI machine), bounded to LIMIT seconds (default 2700,
# the 45 minutes the whole run must fit in) and stopped when CI ends. It shows
# that the suite's time-outs hold on a machine loaded like a shared one
# (issue 22).   bash tools/ci-under-load.sh [LIMIT]
set -uo pipefail
cd "$(dirname "$0")/.."
LIMIT=${1:-2700}
pids=()
for _ in 1 2; do
  timeout "$LIMIT" bash -c 'while :; do :; done' &
  pids+=($!)
done
trap 'kill "${pids[@]}" 2>/dev/null' EXIT
start=$(date +%s)
timeout "$LIMIT" bash .ci/run
rc=$?
echo "ci-under-load: .ci/run exit $rc after $(( $(date +%s) - start )) s beside two busy loops (limit $LIMIT s)"
exit $rc
