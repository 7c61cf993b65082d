#!/usr/bin/env bash
# cli_kill_run.sh - crash safety of the nightly job's run folder: SIGKILL
# `offerq run --out-dir DIR` at random moments spread over its whole run
# (training, planning and the writes at the end), alternating between two
# logs, and check that DIR then names one complete run, the previous one or
# the new one, with every file of that one run and nothing else (io.h,
# oq_rundir). recommendations.csv, qtable.ofq, params.json, bgnbd.json and
# learning_curve.svg are deterministic and compared byte for byte;
# report.json holds wall-clock timings, so it must be a complete JSON
# document. At the end one run that finishes must remove the folders the
# killed runs left half-written and keep at most --keep-runs runs.
# KILLS kills in a row (default 100), about 60 s.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
KILLS=${KILLS:-100}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
det=(recommendations.csv qtable.ofq params.json learning_curve.svg bgnbd.json)
all="bgnbd.json learning_curve.svg params.json qtable.ofq recommendations.csv report.json"
run() { "$BIN" run --log "$1" --out-dir "$2" --budget 500 --epochs 2 --interim --quiet 2>/dev/null; }
json_ok() { # complete JSON object: python3 if present, else first/last byte
  if command -v python3 >/dev/null; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
  else
    [ "$(head -c 1 "$1")" = "{" ] && [ "$(tail -c 2 "$1" | tr -d '\n')" = "}" ]
  fi
}
# which RUN_FOLDER: "a" or "b" if every deterministic file is that log's
# run, "mix" otherwise; "torn" if a file is missing or report.json is cut.
which() {
  local d=$1 x
  [ "$(ls "$d" | tr '\n' ' ')" = "$all " ] || { echo torn; return; }
  json_ok "$d/report.json" || { echo torn; return; }
  for x in a b; do
    local same=1 f
    for f in "${det[@]}"; do cmp -s "$d/$f" "$T/$x/$f" || same=0; done
    [ $same = 1 ] && { echo $x; return; }
  done
  echo mix
}

"$BIN" gen --customers 1500 --quiet --seed 1 --out "$T/a.csv" &&
"$BIN" gen --customers 1500 --quiet --seed 2 --out "$T/b.csv" || { echo "FAIL setup"; exit 1; }
run "$T/a.csv" "$T/a" || { echo "FAIL setup: run"; exit 1; }
t0=$(date +%s%N)
run "$T/b.csv" "$T/b" || { echo "FAIL setup: run"; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 * 9 / 10 + 1 ))
[ -L "$T/a" ] || { echo "FAIL setup: the run folder is not a link to the run"; exit 1; }
for f in "${det[@]}"; do
  cmp -s "$T/a/$f" "$T/b/$f" && { echo "FAIL setup: $f does not change between logs"; exit 1; }
done
run "$T/a.csv" "$T/live" || { echo "FAIL setup: run"; exit 1; }

bad=0 kept=0 switched=0 finished=0 cur=a
for i in $(seq 1 "$KILLS"); do
  next=b; [ $cur = b ] && next=a
  "$BIN" run --log "$T/$next.csv" --out-dir "$T/live" --budget 500 --epochs 2 --interim \
    --quiet 2>/dev/null &
  pid=$!
  # A random moment in [0, 90% of the run's duration]: the writes come last.
  d=$((RANDOM * 32768 + RANDOM)); d=$((d % ms))
  sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))"
  kill -9 $pid 2>/dev/null || finished=$((finished + 1))
  wait $pid 2>/dev/null
  got=$(which "$T/live")
  if [ "$got" = $cur ]; then kept=$((kept + 1))
  elif [ "$got" = $next ]; then switched=$((switched + 1)); cur=$next
  else echo "FAIL kill $i (at ${d} ms): DIR is $got (was $cur, writing $next)"; ls -la "$T/live/"; bad=$((bad + 1)); fi
done
echo "kills: $KILLS (run ${ms} ms; $finished finished before the kill);" \
     "DIR kept the previous run $kept times, switched whole to the new one $switched times, bad: $bad"
# A run that finishes cleans up after the killed ones.
"$BIN" run --log "$T/a.csv" --out-dir "$T/live" --budget 500 --epochs 2 --interim --quiet \
  --keep-runs 2 || { echo "FAIL: final run"; bad=$((bad + 1)); }
[ "$(which "$T/live")" = a ] || { echo "FAIL: final run not in place"; bad=$((bad + 1)); }
left=$(ls -A "$T/live.runs" | tr '\n' ' ')
n=$(ls "$T/live.runs" | wc -l)
if [ "$n" -gt 2 ] || ls -A "$T/live.runs" | grep -q '^\.'; then
  echo "FAIL: after a clean run with --keep-runs 2, live.runs holds: $left"; bad=$((bad + 1))
fi
# A folder that is not a run is never taken over.
mkdir "$T/mine" && echo keep > "$T/mine/notes.txt"
if run "$T/a.csv" "$T/mine"; then echo "FAIL: a folder of other files became a run"; bad=$((bad + 1)); fi
[ "$(cat "$T/mine/notes.txt")" = keep ] || { echo "FAIL: the user's folder changed"; bad=$((bad + 1)); }
if [ $bad -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
