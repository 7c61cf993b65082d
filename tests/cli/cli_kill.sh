#!/usr/bin/env bash
# cli_kill.sh - crash safety: SIGKILL a writing command at random moments and
# check that every output is then either the old complete file or the new
# complete file, never a torn one. KILLS kills in a row (default 100).
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
KILLS=${KILLS:-100}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
files=(x.csv x.events.csv x.orders.csv x.truth.json)
gen() { "$BIN" gen --customers 10000 --quiet --seed "$1" --out "$2"; }

mkdir -p "$T/old" "$T/new" "$T/live"
gen 1 "$T/old/x.csv" && gen 2 "$T/new/x.csv" || { echo "FAIL setup"; exit 1; }
cp "$T"/old/* "$T/live/"

torn=0 old=0 new=0
for i in $(seq 1 "$KILLS"); do
  # The binary itself in the background (not a shell function, whose
  # subshell would die while offerq went on writing).
  "$BIN" gen --customers 10000 --quiet --seed 2 --out "$T/live/x.csv" 2>/dev/null &
  pid=$!
  # A random moment inside the run (it takes a few hundred ms).
  sleep "0.$(printf '%03d' $((RANDOM % 250)))"
  kill -9 $pid 2>/dev/null
  wait $pid 2>/dev/null
  for f in "${files[@]}"; do
    if cmp -s "$T/live/$f" "$T/old/$f"; then old=$((old + 1))
    elif cmp -s "$T/live/$f" "$T/new/$f"; then new=$((new + 1))
    else echo "FAIL kill $i: $f is neither the old nor the new file"; torn=$((torn + 1)); fi
  done
  # Leftover temporaries are allowed (a killed writer cannot clean up) but
  # never under a final name; start the next round from the old state.
  rm -f "$T"/live/*.tmp.*
  cp "$T"/old/* "$T/live/"
done
echo "kills: $KILLS; files seen old: $old, new: $new, torn: $torn"
if [ $torn -eq 0 ]; then echo "1 passed, 0 failed"; else echo "0 passed, 1 failed"; exit 1; fi
