#!/usr/bin/env bash
# cli_ulimit.sh - issue 21 item 15: under a small address-space limit
# (ulimit -v 200 MB) commands that need no matrix products (--help, gen,
# summary, rules, run) start and finish, none hangs in OpenBLAS's start-up
# (which maps 128 MB per processor and retries for ever when a map fails).
# OpenBLAS is loaded at the first matrix product only; when it would not fit,
# `train` computes with GSL's CBLAS instead of hanging. No OMP_NUM_THREADS or
# OPENBLAS_NUM_THREADS: the defaults are what users get. Every command runs
# under `timeout`, so a hang fails (status 124). Skipped under ASan (it
# reserves terabytes of address space).
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
if [ -n "${OQ_SANITIZE:-}" ]; then echo "skipped (sanitizer build)"; exit 77; fi
unset OMP_NUM_THREADS OPENBLAS_NUM_THREADS GOTO_NUM_THREADS

"$BIN" gen --customers 300 --seed 3 --no-events --quiet --out "$T/log.csv" 2>/dev/null || die gen
printf 'bread,butter\nbread,milk\nbread,butter,milk\nbeer,chips\nbread,butter\n' >"$T/baskets.csv"
limited() { # limited KB SECONDS ARGS...: run offerq under ulimit -v KB and timeout
  local kb=$1 s=$2; shift 2
  (ulimit -v "$kb"; exec timeout "$s" "$BIN" "$@" >/dev/null 2>"$T/err")
}
for args in "--help" "gen --customers 200 --seed 1 --quiet --out $T/g.csv" "summary $T/log.csv" \
  "rules --baskets $T/baskets.csv --min-support 0.2 --min-confidence 0.5 --out $T/r.csv" \
  "run --log $T/log.csv --out-dir $T/run --epochs 1 --quiet"; do
  limited 200000 30 $args; rc=$?
  check "ulimit -v 200 MB: offerq ${args%% *} exits 0 (got $rc$([ $rc -eq 124 ] && echo ', a hang'))" test $rc -eq 0
done
check "  gen wrote its log" test -s "$T/g.csv"
check "  rules wrote its rules" grep -q "bread" "$T/r.csv"
check "  run wrote its list" test -s "$T/run/recommendations.csv"
# train multiplies matrices: with 300 MB OpenBLAS's buffers do not fit; GSL's
# CBLAS trains the same model up to float rounding
limited 300000 120 train --log "$T/log.csv" --out "$T/m300.ofq" --epochs 1 --quiet; rc=$?
check "ulimit -v 300 MB: offerq train exits 0 (got $rc$([ $rc -eq 124 ] && echo ', a hang'))" test $rc -eq 0
"$BIN" train --log "$T/log.csv" --out "$T/m.ofq" --epochs 1 --quiet 2>/dev/null
check "  its model predicts like the unlimited one's (r^ within 1e-3)" python3 - "$BIN" "$T" <<'PY'
import csv, subprocess, sys
b, t = sys.argv[1], sys.argv[2]
out = []
for m in ("m", "m300"):
    subprocess.run([b, "predict", "--model", f"{t}/{m}.ofq", "--log", f"{t}/log.csv",
                    "--out", f"{t}/{m}.pred.csv"], check=True, stderr=subprocess.DEVNULL)
    out.append([float(r["predicted_reward"]) for r in csv.DictReader(open(f"{t}/{m}.pred.csv"))])
assert len(out[0]) == len(out[1]) > 0
worst = max(abs(a - c) / (1 + abs(a)) for a, c in zip(*out))
print(f"largest relative difference {worst:.2e} over {len(out[0])} predictions")
sys.exit(worst > 1e-3)
PY

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
