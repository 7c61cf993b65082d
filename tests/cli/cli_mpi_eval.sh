#!/usr/bin/env bash
# cli_mpi_eval.sh - issue 20 item 5: `offerq eval --run` in parts.
#   `eval --shards N` evaluates in N parts (threads of one process), each
#   holding the log rows and the truth of one hash shard of the customers;
#   every total is a sum over the parts added in rank order. In a build with
#   -DOQ_MPI=ON, `mpirun -np N offerq eval` runs the same parts as ranks and
#   prints and writes the same bytes (stdout and eval.json) for N = 1, 2, 3;
#   -np 1 and --shards 1 are the one-process eval. What does not depend on
#   how the customers are split (the fixed coupons', the logging policy's,
#   the oracle's true totals, the row counts) equals the one-process eval in
#   every layout (to rounding: other sums). A rank killed mid-eval
#   (OQ_MPI_TEST_DIE) fails the job and leaves the previous eval.json as it
#   was; a run of another reward than the response model and a --shards
#   that is not the number of ranks are refused.
#   The closed loop (`eval --horizon H`) in parts: each part plays its
#   customers, the nightly job is re-run as a run in parts; --shards 1 is
#   the one-process loop, the truth policies' totals equal it in 2 parts,
#   mpirun -np 2 = --shards 2 (timings aside), a killed rank leaves the
#   previous JSON; a world with a campaign budget is refused in parts.
# Without MPI (no OQ_MPI=1 from CMake, or no mpirun) only the --shards half
# runs. A 4,000-customer log of 4 snapshots (16,000 rows), learners cut down
# (30 trees, 2 epochs of 5 planning steps): about 14 evals of 1-2 s each
# and 5 closed loops of 2 days of 5-10 s.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
# the closed loop's working copies (offerq-loop.*) go under $TMPDIR: a rank
# this test kills cannot remove its own, so they go with $T
export TMPDIR="$T"
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
mpi_setup
"$BIN" gen --customers 4000 --snapshots 4 --seed 7 --quiet --out "$T/log.csv" 2>/dev/null ||
  die "gen"
"$BIN" run --log "$T/log.csv" --budget 400 --trees 30 --plan-k 5 --epochs 2 --quiet \
  --out-dir "$T/run" 2>"$T/err" || { cat "$T/err"; die "run"; }
# a copy of the log without its truth sidecar: the log-only estimates
mkdir "$T/lo"
cp "$T/log.csv" "$T/log.orders.csv" "$T/log.events.csv" "$T/lo/"
EV=(eval --log "$T/log.csv" --run "$T/run" --quiet)
LO=(eval --log "$T/lo/log.csv" --run "$T/run" --quiet)

# ---- --shards N: parts as threads ---------------------------------------------------
"$BIN" "${EV[@]}" --json "$T/e.json" >"$T/e.txt" 2>"$T/err" || { cat "$T/err"; die "eval"; }
"$BIN" "${LO[@]}" --json "$T/lo1.json" >"$T/lo1.txt" 2>"$T/err" || { cat "$T/err"; die "eval (no truth)"; }
for n in 1 2 3; do
  "$BIN" "${EV[@]}" --shards "$n" --json "$T/s$n.json" >"$T/s$n.txt" 2>"$T/err" ||
    { cat "$T/err"; die "eval --shards $n"; }
  "$BIN" "${LO[@]}" --shards "$n" --json "$T/lo_s$n.json" >"$T/lo_s$n.txt" 2>"$T/err" ||
    { cat "$T/err"; die "eval --shards $n (no truth)"; }
done
check "eval --shards 1 = eval, byte for byte: eval.json" cmp -s "$T/s1.json" "$T/e.json"
check "  and stdout" cmp -s "$T/s1.txt" "$T/e.txt"
check "  no truth: eval.json" cmp -s "$T/lo_s1.json" "$T/lo1.json"
# what does not depend on the split: the same in every layout (to rounding)
check "--shards 2 and 3: every customer and row counted once; the split-free totals equal" \
  python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
one = json.load(open(f"{t}/e.json"))
lo1 = json.load(open(f"{t}/lo1.json"))
free = ("no coupon", "5", "10", "20", "random (logging)", "oracle")
def close(a, b):
    return abs(a - b) <= 1e-9 * max(1.0, abs(a), abs(b))
for n in (2, 3):
    e = json.load(open(f"{t}/s{n}.json"))
    if e["customers"] != 4000 or len(e["policies"]) != len(one["policies"]): sys.exit(f"{n}: policies")
    pol = {p["name"]: p for p in e["policies"]}
    for p in one["policies"]:
        if p["name"] in free and not (close(p["profit"], pol[p["name"]]["profit"]) and
                                      close(p["spend"], pol[p["name"]]["spend"])):
            sys.exit(f"{n}: {p['name']}")
    for name, o in one["ope"].items():
        q = e["ope"][name]
        if q["rows"] != 16000 or o["rows"] != 16000: sys.exit(f"{n}: rows of {name}")
        # a fixed coupon's estimates do not depend on the learners
        if name in ("no coupon", "5", "10", "20"):
            for k in ("true", "ips", "ips_se"):
                if not close(o[k], q[k]): sys.exit(f"{n}: {name} {k}")
    if e["calibration"]["rows"] != 16000 or sum(b["rows"] for b in e["calibration"]["bins"]) != 16000:
        sys.exit(f"{n}: calibration rows")
    lo = json.load(open(f"{t}/lo_s{n}.json"))
    if not lo["log_only"] or lo["ope"]["5"]["rows"] != 16000: sys.exit(f"{n}: log-only")
    for k in ("ips", "ips_se"):
        if not close(lo["ope"]["5"][k], lo1["ope"]["5"][k]): sys.exit(f"{n}: log-only {k}")
PY
expect 2 "--shards" "$BIN" "${EV[@]}" --shards 0
expect 2 "--shards" "$BIN" "${EV[@]}" --shards two
# a run of another reward model: refused in parts, with the reason
"$BIN" run --log "$T/log.csv" --reward empirical --plan-k 5 --epochs 2 --quiet \
  --out-dir "$T/emp" 2>/dev/null || die "run --reward empirical"
expect 1 "needs a run of the response reward" "$BIN" eval --log "$T/log.csv" --run "$T/emp" \
  --quiet --shards 2 --json "$T/emp.json"
check "  no eval.json" test ! -e "$T/emp.json"

# ---- the closed loop (--horizon) in parts ---------------------------------------------
# 2 days, the nightly job re-run once per job policy: --shards 1 is the
# one-process loop; in 2 parts the truth policies' totals are the same to
# rounding (other sums), the job's policies come from a run in 2 parts
LOOP=(eval --log "$T/log.csv" --horizon 2 --refit-every 2 --rollouts 4 --quiet)
# same_loop A B: the two closed-loop JSONs are equal but for the seconds
same_loop() {
  python3 - "$1" "$2" <<'PY'
import json, sys
def strip(p):
    r = json.load(open(p))
    for q in r["policies"]: q.pop("seconds")
    return r
sys.exit(strip(sys.argv[1]) != strip(sys.argv[2]))
PY
}
"$BIN" "${LOOP[@]}" --json "$T/l.json" >/dev/null 2>"$T/err" || { cat "$T/err"; die "closed loop"; }
for n in 1 2; do
  "$BIN" "${LOOP[@]}" --shards "$n" --json "$T/ls$n.json" >/dev/null 2>"$T/err" ||
    { cat "$T/err"; die "closed loop --shards $n"; }
done
check "closed loop: --shards 1 = the one-process loop" same_loop "$T/ls1.json" "$T/l.json"
check "closed loop: --shards 2 plays every customer; the truth policies' totals equal" \
  python3 - "$T/l.json" "$T/ls2.json" <<'PY'
import json, math, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
if b["customers"] != 4000 or [p["name"] for p in a["policies"]] != [p["name"] for p in b["policies"]]:
    sys.exit(1)
for p, q in zip(a["policies"], b["policies"]):
    if not math.isfinite(q["profit"]): sys.exit(1)
    if p["name"] in ("myopic", "dyna-q"): continue  # the nightly job in 2 parts
    for k in ("profit", "spend"):
        if abs(p[k] - q[k]) > 1e-9 * max(1.0, abs(p[k])): sys.exit(f"{p['name']} {k}")
PY
# a world with a campaign budget: charged customer after customer, refused in parts
python3 - "$T/log.truth.json" "$T/budget.truth.json" <<'PY'
import json, sys
t = json.load(open(sys.argv[1]))
t["world"]["lasting"]["campaign_budget"] = 0.5
json.dump(t, open(sys.argv[2], "w"))
PY
expect 1 "without a campaign budget" "$BIN" "${LOOP[@]}" --truth "$T/budget.truth.json" \
  --shards 2 --json "$T/lb.json"
check "  no json" test ! -e "$T/lb.json"

mpi_or_finish

# ---- mpirun -np N: the same parts as ranks --------------------------------------------
for n in 1 2 3; do
  OQ_MPI_TEST_DIE=1:0 mpirun --oversubscribe -np "$n" "$BIN" "${EV[@]}" --json "$T/m$n.json" \
    >"$T/m$n.txt" 2>"$T/err$n" || { cat "$T/err$n"; die "mpirun -np $n eval"; }
  check "mpirun -np $n eval = eval --shards $n: eval.json, byte for byte" cmp -s "$T/m$n.json" "$T/s$n.json"
  check "  and stdout" cmp -s "$T/m$n.txt" "$T/s$n.txt"
done
mpirun --oversubscribe -np 2 "$BIN" "${LO[@]}" --json "$T/lo_m2.json" >"$T/lo_m2.txt" 2>"$T/err" ||
  { cat "$T/err"; die "mpirun -np 2 eval (no truth)"; }
check "no truth: mpirun -np 2 eval = eval --shards 2" cmp -s "$T/lo_m2.json" "$T/lo_s2.json"
last=$(sed -n 's/^offerq: rank 1: \([0-9]*\) collectives$/\1/p' "$T/err2")
[ -n "$last" ] || die "rank 1 did not count its collectives"

# ---- a rank that dies: the eval fails, the previous eval.json stays -------------------
cp "$T/m2.json" "$T/prev.json"
: >"$T/out"
files=$(ls -a "$T")
for at in 5 $((last / 2)) "$last"; do
  set +e
  OQ_MPI_TEST_DIE=1:$at mpirun --oversubscribe -np 2 "$BIN" "${EV[@]}" --json "$T/m2.json" \
    >"$T/out" 2>"$T/err"
  rc=$?
  set -e
  check "rank 1 killed at its collective $at of $last: non-zero exit ($rc)" test "$rc" -ne 0
  check "  it said so" grep -q "killing myself at collective $at" "$T/err"
  check "  the previous eval.json is whole, byte for byte" cmp -s "$T/m2.json" "$T/prev.json"
  check "  no other file left (no temporary of eval.json)" test "$(ls -a "$T")" = "$files"
done

# ---- refused under mpirun -------------------------------------------------------------
expect 2 "must be the number of ranks" mpirun --oversubscribe -np 2 "$BIN" "${EV[@]}" \
  --shards 3 --json "$T/bad.json"
check "  no eval.json" test ! -e "$T/bad.json"
expect 1 "needs a run of the response reward" mpirun --oversubscribe -np 2 "$BIN" eval \
  --log "$T/log.csv" --run "$T/emp" --quiet --json "$T/emp.json"
check "  no eval.json" test ! -e "$T/emp.json"

# ---- the closed loop under mpirun -------------------------------------------------------
OQ_MPI_TEST_DIE=1:0 mpirun --oversubscribe -np 2 "$BIN" "${LOOP[@]}" --json "$T/lm2.json" \
  >/dev/null 2>"$T/err" || { cat "$T/err"; die "mpirun -np 2 closed loop"; }
check "closed loop: mpirun -np 2 = --shards 2 (but for the seconds)" same_loop "$T/lm2.json" "$T/ls2.json"
last=$(sed -n 's/^offerq: rank 1: \([0-9]*\) collectives$/\1/p' "$T/err")
cp "$T/lm2.json" "$T/lprev.json"
set +e
OQ_MPI_TEST_DIE=1:$((last / 2)) mpirun --oversubscribe -np 2 "$BIN" "${LOOP[@]}" \
  --json "$T/lm2.json" >/dev/null 2>"$T/err"
rc=$?
set -e
check "closed loop: rank 1 killed at its collective $((last / 2)) of $last: non-zero exit ($rc)" test "$rc" -ne 0
check "  the previous JSON is whole, byte for byte" cmp -s "$T/lm2.json" "$T/lprev.json"
expect 1 "without a campaign budget" mpirun --oversubscribe -np 2 "$BIN" "${LOOP[@]}" \
  --truth "$T/budget.truth.json" --json "$T/lb.json"
check "  no json" test ! -e "$T/lb.json"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
