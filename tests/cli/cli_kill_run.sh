#!/usr/bin/env bash
# cli_kill_run.sh - crash safety of the nightly job: SIGKILL `offerq run` at
# random moments spread over its whole run (training, planning and the
# writes at the end) and check that each of its outputs is then either the
# old complete file or the new complete file, never a torn one.
# recommendations.csv, qtable.ofq, params.json and learning_curve.svg are
# deterministic and compared byte for byte; report.json holds wall-clock
# timings, so "new" means a complete JSON document other than the old one.
# KILLS kills in a row (default 100), about 30 s.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
KILLS=${KILLS:-100}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
det=(recommendations.csv qtable.ofq params.json learning_curve.svg bgnbd.json)
run() { "$BIN" run --log "$1" --out-dir "$2" --budget 500 --epochs 2 --interim --quiet 2>/dev/null; }
json_ok() { # complete JSON object: python3 if present, else first/last byte
  if command -v python3 >/dev/null; then
    python3 -c 'import json, sys; json.load(open(sys.argv[1]))' "$1" 2>/dev/null
  else
    [ "$(head -c 1 "$1")" = "{" ] && [ "$(tail -c 2 "$1" | tr -d '\n')" = "}" ]
  fi
}

"$BIN" gen --customers 1500 --quiet --seed 1 --out "$T/a.csv" &&
"$BIN" gen --customers 1500 --quiet --seed 2 --out "$T/b.csv" || { echo "FAIL setup"; exit 1; }
run "$T/a.csv" "$T/old" || { echo "FAIL setup: run"; exit 1; }
t0=$(date +%s%N)
run "$T/b.csv" "$T/new" || { echo "FAIL setup: run"; exit 1; }
ms=$(( ($(date +%s%N) - t0) / 1000000 * 9 / 10 + 1 ))
for f in "${det[@]}"; do
  cmp -s "$T/old/$f" "$T/new/$f" && { echo "FAIL setup: $f does not change between logs"; exit 1; }
done
mkdir -p "$T/live" && cp "$T"/old/* "$T/live/"

torn=0 old=0 new=0 finished=0
for i in $(seq 1 "$KILLS"); do
  "$BIN" run --log "$T/b.csv" --out-dir "$T/live" --budget 500 --epochs 2 --interim --quiet 2>/dev/null &
  pid=$!
  # A random moment in [0, 90% of the run's duration]: the writes come last.
  d=$((RANDOM * 32768 + RANDOM)); d=$((d % ms))
  sleep "$((d / 1000)).$(printf '%03d' $((d % 1000)))"
  kill -9 $pid 2>/dev/null || finished=$((finished + 1))
  wait $pid 2>/dev/null
  for f in "${det[@]}"; do
    if cmp -s "$T/live/$f" "$T/old/$f"; then old=$((old + 1))
    elif cmp -s "$T/live/$f" "$T/new/$f"; then new=$((new + 1))
    else echo "FAIL kill $i (at ${d} ms): $f is neither the old nor the new file"; torn=$((torn + 1)); fi
  done
  f=report.json
  if cmp -s "$T/live/$f" "$T/old/$f"; then old=$((old + 1))
  elif json_ok "$T/live/$f"; then new=$((new + 1))
  else echo "FAIL kill $i (at ${d} ms): $f is torn"; torn=$((torn + 1)); fi
  # Temporaries of a killed writer may stay behind, never under a final name.
  rm -f "$T"/live/*.tmp.*
  [ -z "$(ls "$T/live" | grep -v -x -e recommendations.csv -e qtable.ofq -e params.json \
         -e learning_curve.svg -e report.json -e bgnbd.json -e model.ofq)" ] || { echo "FAIL kill $i: stray files:"; ls "$T/live"; torn=$((torn + 1)); }
  cp "$T"/old/* "$T/live/"
done
echo "kills: $KILLS (run ${ms} ms; $finished finished before the kill); files seen old: $old, new: $new, torn: $torn"
if [ $torn -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
