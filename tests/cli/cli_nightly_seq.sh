#!/usr/bin/env bash
# cli_nightly_seq.sh - issue 16: `offerq nightly` with [run] reward = sequence
# on a CSV log (no servers): two nights in a row, the first trains the
# sequence model from scratch, the second warm-starts from the first's
# model.ofq (the run's progress line, report.json and the status file say
# so) and its run folder is complete; then a model of another shape fails
# the night (exit 6, the served run unchanged) unless warm_fallback = true,
# and cold_start = true trains from scratch. Also `offerq run --warm-start`'s
# usage errors and its determinism. About 30 s.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap '[ -n "${KEEP_T:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

"$BIN" gen --customers 600 --seed 5 --quiet --out "$T/all.csv" 2>/dev/null || die "gen"
# yesterday's log: the days before June (log, events and orders)
for f in all all.events all.orders; do
  awk -F, 'NR == 1 || $2 < "2025-06-01"' "$T/$f.csv" >"$T/y${f#all}.csv"
done
cp "$T/y.csv" "$T/log.csv"
cp "$T/y.events.csv" "$T/log.events.csv"
cp "$T/y.orders.csv" "$T/log.orders.csv"
C=$T/nightly.conf
cat >"$C" <<EOF
[source]
log = log.csv
[run]
reward = sequence
seed = 3
budget = 300
profit_epochs = 2
seq_len = 12
[output]
dir = nout/run
keep_runs = 5
EOF
ST=$T/nout/run.nightly.json
# status.json's sequence_model field, or the report's warm start
js() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); print(eval(sys.argv[2]))" "$@"; }
complete() { # a run folder: every file, one list row per customer
  local d=$1 f n
  for f in recommendations.csv qtable.ofq params.json report.json learning_curve.svg bgnbd.json \
    model.ofq; do
    [ -s "$d/$f" ] || return 1
  done
  n=$(tail -n +2 "$T/log.csv" | cut -d, -f1 | sort -u | wc -l)
  [ "$(($(wc -l <"$d/recommendations.csv") - 1))" -eq "$n" ]
}

# night 1: no earlier run: from scratch
"$BIN" nightly --config "$C" >"$T/n1.out" 2>"$T/n1.err" || { cat "$T/n1.err"; die "night 1"; }
check "night 1: the run line says from scratch" grep -q "sequence model trained from scratch (no model.ofq in" "$T/n1.err"
check "night 1: status says cold" test "$(js "$ST" 'd["sequence_model"]["start"]')" = cold
check "night 1: report has no warm start" test "$(js "$T/nout/run/report.json" 'd["sequence_model"]["warm_start"]')" = None
check "night 1: run folder complete" complete "$T/nout/run"
RUN1=$(readlink -f "$T/nout/run")
# night 2: the whole log; warm start from night 1's model
cp "$T/all.csv" "$T/log.csv"
cp "$T/all.events.csv" "$T/log.events.csv"
cp "$T/all.orders.csv" "$T/log.orders.csv"
"$BIN" nightly --config "$C" >"$T/n2.out" 2>"$T/n2.err" || { cat "$T/n2.err"; die "night 2"; }
RUN2=$(readlink -f "$T/nout/run")
check "night 2 is a new run" test "$RUN1" != "$RUN2"
check "night 2: the run line says warm-started from night 1" grep -q "sequence model warm-started from $RUN1/model.ofq" "$T/n2.err"
check "night 2: status says warm, from night 1" test "$(js "$ST" 'd["sequence_model"]["start"] + " " + d["sequence_model"]["warm_from"]')" = "warm $RUN1/model.ofq"
check "night 2: report's warm start" test "$(js "$RUN2/report.json" '(lambda w: (w["from"], w["trained_to"], w["fresh_rows"] > 0, w["replay_rows"] > 0))(d["sequence_model"]["warm_start"])')" = "('$RUN1/model.ofq', '2025-05-31', True, True)"
check "night 2: warm epochs 0..2 in the report" test "$(js "$RUN2/report.json" '[e["epoch"] for e in d["sequence_model"]["epochs"]][:2]')" = "[0, 1]"
check "night 2: params.json names the warm start" test "$(js "$RUN2/params.json" 'd["scorer"]["warm_start"]')" = "$RUN1"
check "night 2: run folder complete" complete "$RUN2"
check "night 2: status ok" test "$(js "$ST" 'd["status"]')" = ok
# the same warm start by hand gives the same list (deterministic given --seed)
"$BIN" run --log "$T/log.csv" --out-dir "$T/byhand" --reward sequence --seed 3 --budget 300 \
  --seq-len 12 --warm-start "$RUN1" --quiet 2>"$T/err" || { cat "$T/err"; die "run --warm-start"; }
check "run --warm-start = the night's warm start" cmp -s "$T/byhand/recommendations.csv" "$RUN2/recommendations.csv"
check "the warm-started model is saved" cmp -s "$T/byhand/model.ofq" "$RUN2/model.ofq"
# night 3: another shape (seq_len 10 against 12): refused, nothing served changes
OFFERQ_RUN_SEQ_LEN=10 "$BIN" nightly --config "$C" >"$T/n3.out" 2>"$T/n3.err"
rc=$?
check "night 3: another shape exits 6" test $rc -eq 6
check "night 3: the error names the shape and the way out" grep -q "another shape: days of history (seq_len) 12, this run's model 10.*warm_fallback = true" "$T/n3.err"
check "night 3: the served run is night 2's" test "$(readlink -f "$T/nout/run")" = "$RUN2"
check "night 3: status failed at run" test "$(js "$ST" 'd["status"] + " " + d["failed_stage"]')" = "failed run"
# ... with warm_fallback: from scratch, and the reason in the status
OFFERQ_RUN_SEQ_LEN=10 OFFERQ_RUN_WARM_FALLBACK=true "$BIN" nightly --config "$C" >/dev/null 2>"$T/n4.err" || { cat "$T/n4.err"; die "night 4"; }
check "night 4: fallback to from scratch, with the reason" grep -q "sequence model trained from scratch (.*another shape" "$T/n4.err"
check "night 4: status cold with the reason" test "$(js "$ST" 'd["sequence_model"]["start"] + " " + str("another shape" in d["sequence_model"]["cold_reason"])')" = "cold True"
# cold_start = true: no warm start although the last run has a model
OFFERQ_RUN_SEQ_LEN=10 OFFERQ_RUN_COLD_START=true "$BIN" nightly --config "$C" >/dev/null 2>"$T/n5.err" || { cat "$T/n5.err"; die "night 5"; }
check "night 5: cold_start = true trains from scratch" test "$(js "$ST" 'd["sequence_model"]["start"]')" = cold
# offerq run's usage errors
expect 2 "need --reward sequence" "$BIN" run --log "$T/log.csv" --out-dir "$T/x" --warm-start "$RUN1"
expect 2 "not with --model" "$BIN" run --log "$T/log.csv" --out-dir "$T/x" --reward sequence --warm-start "$RUN1" --model "$RUN1/model.ofq"
expect 2 "expected a run folder" "$BIN" run --log "$T/log.csv" --out-dir "$T/x" --reward sequence --warm-start ""
expect 1 "no warm start from it" "$BIN" run --log "$T/log.csv" --out-dir "$T/x" --reward sequence --warm-start "$T/nothing" --quiet
check "a failed warm start writes nothing" test ! -e "$T/x"
check "--help names --warm-start" sh -c "'$BIN' run --help | grep -q -- '--warm-start DIR'"
check "nightly --help names the warm start" sh -c "'$BIN' nightly --help | grep -q 'warm-starts the sequence model'"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
