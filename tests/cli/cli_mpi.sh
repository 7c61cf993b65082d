#!/usr/bin/env bash
# cli_mpi.sh - issue 20 items 1 and 2: `offerq run` in parts.
#   --shards N runs the job in N parts (threads), every fit a sum over the
#   parts added in rank order; in a build with -DOQ_MPI=ON,
#   `mpirun -np N offerq run` runs the same parts as ranks and writes the
#   same bytes: recommendations.csv, qtable.ofq, bgnbd.json, params.json,
#   learning_curve.svg, and report.json but for its timings, for N = 1, 2, 3
#   (with a budget, so the plan's multiplier and tail are exercised), and
#   -np 1 / --shards 1 are the one-process job. A rank killed mid-run
#   (OQ_MPI_TEST_DIE: SIGKILL at its 12th collective, and at its last, the
#   barrier before rank 0 switches the run in) fails the run (non-zero exit)
#   and leaves the previous run in place, byte for byte.
#   Each part reads only its rows (the reader drops another part's row after
#   its user_id, date and category): the log's checks stay exact in parts (a
#   duplicate (user, day) and a date beyond the horizon are refused with the
#   one-process job's message and lines). Under MPI no rank holds the whole
#   list: recommendations.csv is merged in rounds to rank 0 (the same bytes
#   as --shards N); a rank killed in the middle of that merge leaves no run.
#   `offerq split --parts N` writes the log and its sidecars in N parts by
#   shard; `mpirun -np N run --parts` has each rank read only its part and
#   writes the same bytes as --shards N.
#   (`offerq eval` in parts: cli_mpi_eval.sh.)
# Without MPI (no OQ_MPI=1 from CMake, or no mpirun) only the --shards half
# runs. A 20,000-customer log of 4 snapshots each (80,000 rows), learners
# cut down (30 trees, 2 epochs of 5 planning steps) to keep it short: 7 runs
# of 1-3 parts, about 15 s of CPU, under 60 s on a 2-core machine loaded 3x.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
# root allowed; the parts share 2 cores: one OpenMP thread each keeps them from spinning
mpi_setup
"$BIN" gen --customers 20000 --snapshots 4 --seed 5 --quiet --out "$T/log.csv" 2>/dev/null ||
  die "gen"
COMMON=(--budget 1500 --trees 30 --plan-k 5 --epochs 2 --quiet)
ARGS=(--log "$T/log.csv" "${COMMON[@]}")
FILES="recommendations.csv qtable.ofq bgnbd.json params.json learning_curve.svg"
# same A B: every file of run A is B's, report.json too but for what is
# measured (timings, the run's clock, the learner's seconds) and the bytes of
# the write stage (threads gather the list once, MPI ranks merge it in
# rounds, each round 8 more bytes from rank 0)
same() {
  for f in $FILES; do cmp -s "$1/$f" "$2/$f" || { echo "  $f differs" >&2; return 1; }; done
  python3 - "$1/report.json" "$2/report.json" <<'PY'
import json, re, sys
def strip(r):
    r.pop("timings_s", None); r.pop("run", None)
    r.get("response_model", {}).get("p_model", {}).pop("seconds", None)
    for per in r.get("parts", {}).get("bytes_sent_per_stage", []):
        per.pop("write", None)
    return r
# with --parts, rank 0 names its part's sidecars as the files it read
part = re.compile(r"\.part-0-of-[0-9]+")
a, b = (strip(json.loads(part.sub("", open(p).read()))) for p in sys.argv[1:3])
sys.exit(a != b)
PY
}

# ---- --shards N: parts as threads -------------------------------------------------
for n in 1 2 3; do
  "$BIN" run "${ARGS[@]}" --shards "$n" --out-dir "$T/s$n" 2>"$T/err" || { cat "$T/err"; die "--shards $n"; }
done
check "--shards 2 and 3 plan every customer within the budget" python3 - "$T" <<'PY'
import json, sys
for n in (2, 3):
    p = json.load(open(f"{sys.argv[1]}/s{n}/report.json"))["plan"]
    if p["customers"] != 20000 or p["expected_spend"] > 1500 + 1e-6: sys.exit(1)
    r = json.load(open(f"{sys.argv[1]}/s{n}/report.json"))["parts"]
    if r["n"] != n or len(r["bytes_sent_per_stage"]) != n: sys.exit(1)
PY

# ---- the log's checks in parts: one process's message, lines and all --------------
cp "$T/log.csv" "$T/dup.csv"
sed -n 5p "$T/log.csv" >> "$T/dup.csv" # line 5 again, as line 80002
cp "$T/log.csv" "$T/far.csv"
sed -n 7p "$T/log.csv" | awk -F, -v OFS=, '{ $2 = "2999-01-01"; print }' >> "$T/far.csv"
for bad in dup far; do
  expect 1 "line" "$BIN" run --log "$T/$bad.csv" "${COMMON[@]}" --out-dir "$T/x" --shards 1
  grep "$bad.csv" "$T/err" > "$T/want.$bad"
  for n in 2 3; do
    expect 1 "line" "$BIN" run --log "$T/$bad.csv" "${COMMON[@]}" --out-dir "$T/x" --shards "$n"
    grep "$bad.csv" "$T/err" > "$T/got.$bad"
    check "$bad.csv in $n parts: the one-process message" cmp -s "$T/want.$bad" "$T/got.$bad"
  done
done
check "  duplicate: both lines named" grep -q "lines 5 and 80002" "$T/want.dup"
check "  beyond the horizon: the line named" grep -q "2999-01-01 is more than 366 days.*at line 80002" "$T/want.far"
check "  no run was written" test ! -e "$T/x"

# ---- offerq split: the log and its sidecars in parts by shard --------------
"$BIN" split --log "$T/log.csv" --parts 3 --quiet || die "split --parts 3"
check "split --parts 3: each line of the log and its sidecars in the part of its user's shard, in order" \
  python3 - "$T" "$SRC/tools" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from shard_of import shard_of
t = sys.argv[1]
for suffix in (".csv", ".orders.csv", ".events.csv"):
    whole = open(f"{t}/log{suffix}").read().splitlines()
    parts = [open(f"{t}/log.part-{k}-of-3{suffix}").read().splitlines() for k in range(3)]
    want = [[whole[0]] for _ in range(3)]
    for line in whole[1:]:
        want[shard_of(int(line.split(",")[0]), 3)].append(line)
    if parts != want: sys.exit(f"{suffix}: parts differ")
PY
mkdir -p "$T/st" && cp "$T/log.csv" "$T/log.orders.csv" "$T/log.events.csv" "$T/st/" &&
  "$BIN" split --log "$T/st/log.csv" --parts 2 --quiet && rm "$T/st/log.events.csv" &&
  "$BIN" split --log "$T/st/log.csv" --parts 2 2>"$T/err" || die "split of st"
check "a second split after the events file is gone removes the older split's events parts" \
  bash -c "test ! -e '$T/st/log.part-0-of-2.events.csv' -a ! -e '$T/st/log.part-1-of-2.events.csv' \
    -a -e '$T/st/log.part-1-of-2.orders.csv' && grep -q 'removed .*log.part-0-of-2.events.csv' '$T/err'"
printf 'user_id,snapshot_date\n1,2024-01-01\nx7,2024-01-01\n' >"$T/badid.csv"
expect 1 "badid.csv:3:1: user_id: expected an integer" "$BIN" split --log "$T/badid.csv" --parts 2
check "  split of a log with a bad user_id: no part written" \
  test -z "$(find "$T" -name 'badid.part-*')"
expect 2 "--parts is for mpirun" "$BIN" run "${ARGS[@]}" --parts --out-dir "$T/p1"
set +e

mpi_or_finish

# ---- mpirun -np N: the same parts as ranks --------------------------------------------
# (OQ_MPI_TEST_DIE=1:0 kills nobody; the ranks say how many collectives they ran)
for n in 1 2 3; do
  OQ_MPI_TEST_DIE=1:0 mpirun --oversubscribe -np "$n" "$BIN" run "${ARGS[@]}" \
    --out-dir "$T/m$n" 2>"$T/err$n" || { cat "$T/err$n"; die "mpirun -np $n"; }
  check "mpirun -np $n = --shards $n, byte for byte" same "$T/m$n" "$T/s$n"
done
last=$(sed -n 's/^offerq: rank 1: \([0-9]*\) collectives$/\1/p' "$T/err2")
[ -n "$last" ] || die "rank 1 did not count its collectives"
expect 2 "must be the number of ranks" mpirun --oversubscribe -np 2 "$BIN" run "${ARGS[@]}" \
  --shards 3 --out-dir "$T/bad"
check "a refused run writes nothing" test ! -e "$T/bad"

# ---- a rank that dies: the run fails, the previous run stays --------------------------
# at its 12th collective (the BG/NBD fit), and at its last ($last): the
# barrier where rank 0, every file written, waits to switch the run in
before=$(readlink "$T/m2")
cp -r "$T/m2.runs/$(basename "$before")" "$T/prev"
ls "$T/m2.runs" > "$T/runs.before"
for at in 12 "$last"; do
  set +e # (expect leaves -e on)
  OQ_MPI_TEST_DIE=1:$at mpirun --oversubscribe -np 2 "$BIN" run "${ARGS[@]}" \
    --out-dir "$T/m2" >"$T/out" 2>"$T/err"
  rc=$?
  check "rank 1 killed at its collective $at: non-zero exit ($rc)" test "$rc" -ne 0
  check "  it said so" grep -q "killing myself at collective $at" "$T/err"
  check "  the link still names the previous run" test "$(readlink "$T/m2")" = "$before"
  check "  the previous run is whole, byte for byte" same "$T/m2" "$T/prev"
  ls "$T/m2.runs" > "$T/runs.after"
  check "  no other run was switched in or left" cmp -s "$T/runs.before" "$T/runs.after"
done
# in the middle of the list's merge (its last collectives: the merge's
# rounds, the bytes for the report, the barrier): rank 0 has
# recommendations.csv half written in the new run's folder
mid=$((last - 3))
set +e
OQ_MPI_TEST_DIE=1:$mid mpirun --oversubscribe -np 2 "$BIN" run "${ARGS[@]}" \
  --out-dir "$T/m2" >"$T/out" 2>"$T/err"
rc=$?
set -e
check "rank 1 killed in the list's merge ($mid): non-zero exit ($rc)" test "$rc" -ne 0
check "  the link still names the previous run" test "$(readlink "$T/m2")" = "$before"
check "  the previous run is whole, byte for byte" same "$T/m2" "$T/prev"
ls "$T/m2.runs" > "$T/runs.after"
check "  no other run was switched in or left" cmp -s "$T/runs.before" "$T/runs.after"
# what rank 0 had written lies in the hidden folder of the run being
# written (DIR.runs/.partial.PID.*, io.h), which the next run removes
find "$T/m2.runs" -name 'recommendations.csv*' -newer "$T/runs.before" > "$T/half"
check "  rank 0's half-written list is only in the hidden partial folder" \
  test "$(grep -c . "$T/half")" -ge 1 -a "$(grep -vc '/\.partial\.' "$T/half")" -eq 0

# ---- parts on logs with errors under MPI: the one-process message -----------------
for bad in dup far; do
  expect 1 "line" mpirun --oversubscribe -np 2 "$BIN" run --log "$T/$bad.csv" "${COMMON[@]}" \
    --out-dir "$T/x"
  check "mpirun -np 2 on $bad.csv: the one-process message" grep -qF "$(sed 's/^offerq: error: //' "$T/want.$bad" | head -c 150)" "$T/err"
done

# a failure with a message (a missing orders file): every rank stops, exit 1
expect 1 "cannot open|No such file" mpirun --oversubscribe -np 2 "$BIN" run "${ARGS[@]}" \
  --orders "$T/none.csv" --out-dir "$T/m2"
check "  the link still names the previous run" test "$(readlink "$T/m2")" = "$before"

# the next run: whole, the same bytes, and the dead ranks' partial folders gone
mpirun --oversubscribe -np 2 "$BIN" run "${ARGS[@]}" --out-dir "$T/m2" 2>"$T/err" ||
  { cat "$T/err"; die "mpirun -np 2 after the kills"; }
check "the next mpirun -np 2 = --shards 2" same "$T/m2" "$T/s2"
check "  no partial folder left" test -z "$(find "$T/m2.runs" -name '.partial.*')"

# ---- --parts under mpirun: each rank reads only its part ----------------------------
mpirun --oversubscribe -np 3 "$BIN" run "${ARGS[@]}" --parts --out-dir "$T/p3" 2>"$T/err" ||
  { cat "$T/err"; die "mpirun -np 3 run --parts"; }
check "mpirun -np 3 run --parts (each rank its part and its part's sidecars) = --shards 3" \
  same "$T/p3" "$T/s3"
expect 1 "log.part-0-of-2.csv: no such part" mpirun --oversubscribe -np 2 "$BIN" run "${ARGS[@]}" \
  --parts --out-dir "$T/p2"
check "  parts of another split: refused, nothing written" test ! -e "$T/p2"
expect 2 "--parts 3: the log was split for 3 ranks, this is mpirun -np 2" \
  mpirun --oversubscribe -np 2 "$BIN" run "${ARGS[@]}" --parts 3 --out-dir "$T/p2"
mpirun --oversubscribe -np 3 "$BIN" run "${ARGS[@]}" --parts 3 --out-dir "$T/p3n" 2>"$T/err" ||
  { cat "$T/err"; die "mpirun -np 3 run --parts 3"; }
check "  --parts 3 (N as split takes it) under -np 3: the same run" same "$T/p3n" "$T/s3"
touch -d '+1 minute' "$T/log.csv"
expect 1 "log.part-0-of-3.csv: older than" mpirun --oversubscribe -np 3 "$BIN" run "${ARGS[@]}" \
  --parts --out-dir "$T/p3old"
check "  parts older than their log: refused, nothing written" test ! -e "$T/p3old"
set +e

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
