#!/usr/bin/env bash
# cli_run_lock.sh - issue 21 item 8 (remaining part) and a minor:
#   one writer per run folder: `offerq run --out-dir DIR` takes an exclusive
#   flock(2) on DIR.runs for the whole run; a second run into the same DIR
#   fails at once (exit 1, "another offerq run ... is writing this folder"),
#   it does not wait. 8 trials of two runs started together into one DIR:
#   DIR is always one complete run (every file byte-identical to the same
#   reference run), never a mix, and no partial folder is left;
#   temporaries "<file>.tmp.<pid>" of killed writers are removed by the next
#   write of that file, a live writer's never.
# About 30 s (16 runs of 2,500-3,000 customers, two at a time).
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
HOLD=""
trap '[ -n "$HOLD" ] && kill $HOLD 2>/dev/null; rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
command -v flock >/dev/null || die "flock (util-linux) is not installed"

"$BIN" gen --customers 3000 --seed 1 --quiet --out "$T/a.csv" 2>/dev/null || die "gen a"
"$BIN" gen --customers 2500 --seed 2 --quiet --out "$T/b.csv" 2>/dev/null || die "gen b"
# reference runs, one at a time
"$BIN" run --log "$T/a.csv" --out-dir "$T/refA" --quiet 2>/dev/null || die "run a"
"$BIN" run --log "$T/b.csv" --out-dir "$T/refB" --quiet 2>/dev/null || die "run b"
FILES="recommendations.csv qtable.ofq params.json learning_curve.svg bgnbd.json"
# whole RUN REF: every file of run folder RUN is REF's, and report.json is
# REF's (its log_rows; the timings inside differ from run to run)
whole() {
  for f in $FILES; do cmp -s "$1/$f" "$2/$f" || return 1; done
  python3 - "$1/report.json" "$2/report.json" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
sys.exit(a["run"]["log_rows"] != b["run"]["log_rows"])
PY
}

# ---- a held lock: the run fails at once, DIR untouched -------------------------
"$BIN" run --log "$T/a.csv" --out-dir "$T/held" --quiet 2>/dev/null || die "run held"
# another writer's lock, held by a process we can kill (flock(1)'s child would keep it)
python3 -c 'import fcntl, os, sys, time
fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX); time.sleep(30)' "$T/held.runs" &
HOLD=$!
for _ in $(seq 100); do flock -n "$T/held.runs" true || break; sleep 0.05; done
t0=$(date +%s.%N)
"$BIN" run --log "$T/b.csv" --out-dir "$T/held" --quiet 2>"$T/held.err"; rc=$?
t1=$(date +%s.%N)
kill $HOLD; wait $HOLD 2>/dev/null; HOLD=""
check "run into a locked DIR exits 1 (got $rc)" test $rc -eq 1
check "  at once (< 1 s, not waiting for the lock)" python3 -c "import sys; sys.exit(not float(sys.argv[2]) - float(sys.argv[1]) < 1)" "$t0" "$t1"
check "  saying another run is writing the folder" grep -q "another offerq run.* is writing this folder; wait for it to finish, or choose another --out-dir" "$T/held.err"
check "  DIR still the earlier run" whole "$T/held" "$T/refA"
check "  no partial folder left" test -z "$(ls -A "$T/held.runs" | grep '^\.')"
check "run into DIR once the lock is released works" "$BIN" run --log "$T/b.csv" --out-dir "$T/held" --quiet
check "  DIR is the new run" whole "$T/held" "$T/refB"

# ---- two runs started together, 8 trials ---------------------------------------
mixed=0 refused=0 bad_msg=0 none_ok=0 left=0
for trial in $(seq 8); do
  D=$T/two$trial
  "$BIN" run --log "$T/a.csv" --out-dir "$D" --quiet 2>"$T/ea" & pa=$!
  "$BIN" run --log "$T/b.csv" --out-dir "$D" --quiet 2>"$T/eb" & pb=$!
  wait $pa; ra=$?
  wait $pb; rb=$?
  [ $ra -ne 0 ] && [ $rb -ne 0 ] && none_ok=$((none_ok + 1))
  for x in "$ra:$T/ea" "$rb:$T/eb"; do
    [ "${x%%:*}" -eq 0 ] && continue
    refused=$((refused + 1))
    grep -q "another offerq run.* is writing this folder" "${x#*:}" || { bad_msg=$((bad_msg + 1)); cat "${x#*:}"; }
  done
  if whole "$D" "$T/refA"; then w=A; elif whole "$D" "$T/refB"; then w=B; else w=mix; mixed=$((mixed + 1)); fi
  ls -A "$D.runs" | grep -q '^\.' && left=$((left + 1))
  echo "trial $trial: run A exit $ra, run B exit $rb, DIR is $w"
done
check "8 trials: DIR never a mix ($mixed mixed)" test $mixed -eq 0
check "8 trials: at least one run completes each time" test $none_ok -eq 0
check "8 trials: runs that overlapped were refused by the lock ($refused of 8 trials)" test $refused -ge 4
check "  each refusal says why ($bad_msg without the message)" test $bad_msg -eq 0
check "  no partial folder left ($left trials)" test $left -eq 0

# ---- temporaries of dead writers ----------------------------------------------
sh -c 'exit 0' & dead=$!; wait $dead # a pid that is gone
sleep 30 & live=$!
mkdir -p "$T/tmp"
touch "$T/tmp/log.csv.tmp.$dead" "$T/tmp/log.csv.tmp.$live" "$T/tmp/other.csv.tmp.$dead"
"$BIN" gen --customers 50 --quiet --out "$T/tmp/log.csv" 2>/dev/null
check "gen removes its file's temporary of a dead writer" test ! -e "$T/tmp/log.csv.tmp.$dead"
check "  keeps a live writer's" test -e "$T/tmp/log.csv.tmp.$live"
check "  and other files' temporaries" test -e "$T/tmp/other.csv.tmp.$dead"
kill $live; wait $live 2>/dev/null
# a real kill: gen killed mid-write leaves its temporary at most until the next gen
for i in $(seq 20); do
  "$BIN" gen --customers 20000 --quiet --out "$T/tmp/big.csv" 2>/dev/null & g=$!
  sleep "0.$((RANDOM % 4 + 1))"
  kill -9 $g 2>/dev/null; wait $g 2>/dev/null
  ls "$T/tmp" | grep -q '^big.csv.tmp.' && break
done
had=$(ls "$T/tmp" | grep -c '^big.csv.tmp.')
"$BIN" gen --customers 50 --quiet --out "$T/tmp/big.csv" 2>/dev/null
echo "kill -9 of gen left $had temporaries; after the next gen: $(ls "$T/tmp" | grep -c '^big.csv.tmp.')"
check "after a killed gen, the next gen leaves no temporary of big.csv" test -z "$(ls "$T/tmp" | grep '^big.csv.tmp.')"

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
