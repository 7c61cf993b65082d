#!/usr/bin/env bash
# cli_bgnbd.sh - `offerq bgnbd fit|score` end to end: CDNOW fit, scores,
# holdout plot, the log's orders sidecar, and clear errors on bad input.
set -euo pipefail
B=${OQ_BIN:-./offerq}
D=${OQ_SHARED:-../shared}/data
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$B" bgnbd --help | grep -q "offerq bgnbd fit" || fail "help"
"$B" bgnbd fit --summary "$D/cdnow_summary.csv" --quiet --out "$T/c.json"
python3 - "$T/c.json" <<'PY' || fail "CDNOW estimates"
import json, sys
p = json.load(open(sys.argv[1]))
pub = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
assert all(abs(p[k] - v) <= 0.0005 for k, v in pub.items()), p
assert abs(p["ll"] + 9582.4) <= 0.05 and p["n_customers"] == 2357 and p["converged"], p
PY
"$B" bgnbd score --params "$T/c.json" --unit weeks --transactions "$D/cdnow_sample.txt" \
    --id-column 2 --calibration-end 1997-09-30 --observation-end 1998-06-30 \
    --plot "$T/h.svg" --out "$T/s.csv" 2>"$T/err"
head -1 "$T/s.csv" | grep -qx "id,frequency,recency,T,p_alive,expected_purchases" || fail "header"
[ "$(wc -l <"$T/s.csv")" -eq 2358 ] || fail "rows"
grep -q "</svg>" "$T/h.svg" || fail "svg"
grep -q "correlation" "$T/err" || fail "holdout table"
# Customer 1 of the sample: x=2, t_x=30.43, T=38.86 weeks.
awk -F, '$1==1 {exit !($5 > 0.70 && $5 < 0.75)}' "$T/s.csv" || fail "p_alive of customer 1"

# A generated log: its orders sidecar is used.
mkdir -p "$T/g"
"$B" gen --customers 500 --contact-effect 0 --quiet --out "$T/g/log.csv"
"$B" bgnbd fit --log "$T/g/log.csv" --out "$T/g.json" 2>"$T/err"
grep -q "log.orders.csv" "$T/err" || fail "sidecar not used"
grep -q '"time_unit": "days"' "$T/g.json" || fail "unit"

# Bad input: exit 1 and file:line:col.
printf 'id,frequency,recency,T\n1,2,10,20\n2,1,30,20\n' >"$T/bad.csv"
set +e
"$B" bgnbd fit --summary "$T/bad.csv" --out "$T/x.json" 2>"$T/err"; rc=$?
set -e
[ $rc -eq 1 ] || fail "bad summary rc $rc"
grep -q "bad.csv:3:3: recency 30 is larger than T 20" "$T/err" || fail "bad summary message"
[ ! -e "$T/x.json" ] || fail "output written on error"
set +e
"$B" bgnbd fit --summary "$T/bad.csv" --unit fortnights --out "$T/x.json" 2>/dev/null; rc=$?
set -e
[ $rc -eq 2 ] || fail "usage rc $rc"
echo "cli_bgnbd: ok"
