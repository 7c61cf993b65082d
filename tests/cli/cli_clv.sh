#!/usr/bin/env bash
# cli_clv.sh - `offerq run --clv-weight W` (docs/readme/bgnbd.md) changes the
# plan only through its term:
#   - weight 0 writes the recommendations of a run without the option;
#   - with a weight every customer's r~ of each coupon (and P(alive), state)
#     is the run's without it; only the chosen coupon may move, and the
#     report says what the term was built from (a BG/NBD change in later
#     purchases in [-1, 0]);
#   - --clv-model log reports the log's estimate and its standard error;
#   - bad values are refused with the option's name; eval lists the policy
#     clv in the closed loop only when asked.
set -euo pipefail
B=$(realpath "${OQ_BIN:-./offerq}")
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # check, expect, fail

cd "$T"
"$B" gen --customers 1500 --seed 5 --quiet --out log.csv 2>/dev/null
run() { OMP_NUM_THREADS=1 "$B" run --log log.csv --trees 60 --epochs 1 --quiet "$@"; }
run --out-dir r0
run --out-dir rz --clv-weight 0
run --out-dir r2 --clv-weight 2
run --out-dir rl --clv-weight 1 --clv-model log --clv-days 21
check "weight 0 = no option" cmp -s r0/recommendations.csv rz/recommendations.csv
python3 - <<'PY' || fail "the plan moved other than through the term"
import csv, json
a = list(csv.DictReader(open("r0/recommendations.csv")))
b = list(csv.DictReader(open("r2/recommendations.csv")))
assert len(a) == len(b) == 1500
moved = 0
for x, y in zip(a, b):
    for k in x:
        if k not in ("coupon", "expected_profit"):
            assert x[k] == y[k], (k, x, y)
    assert y["expected_profit"] == y["expected_profit_" + y["coupon"]], y
    moved += x["coupon"] != y["coupon"]
assert moved > 0, "the term changed no coupon"
r = json.load(open("r2/report.json"))["clv"]
assert r["weight"] == 2 and r["model"] == "bgnbd", r
assert -1 <= r["mean_purchases_change"] < 0, r
assert r["gamma_gamma"]["q"] > 1 and r["mean_profit_per_order"] > 0, r
p = json.load(open("r2/params.json"))["plan"]["clv"]
assert p == {"weight": 2, "model": "bgnbd", "days": 30, "discount_per_30_days": 0.01}, p
assert "clv" not in json.load(open("r0/report.json"))
assert "clv" not in json.load(open("r0/params.json"))["plan"]
l = json.load(open("rl/report.json"))["clv"]
assert l["model"] == "log" and l["days"] == 21 and l["log"]["contacts"] > 1000, l
assert l["log"]["se"] > 0 and abs(l["mean_purchases_change"]) < 5 * l["log"]["se"] + 1, l
print(f"ok   clv moved {moved} of 1500 coupons, r~ unchanged")
PY
expect 2 "clv-weight expects a number in \[0, 100\]" "$B" run --log log.csv --out-dir x \
    --clv-weight -1
expect 2 "clv-weight expects a number" "$B" run --log log.csv --out-dir x --clv-weight abc
expect 2 "clv-days expects a number in \[1, " "$B" run --log log.csv --out-dir x --clv-days 0
expect 2 "clv-model: expected bgnbd or log, got 'foo'" "$B" run --log log.csv --out-dir x \
    --clv-model foo
expect 2 "faithful" "$B" run --log log.csv --out-dir x --clv-weight 1 --faithful
expect 2 "closed loop" "$B" eval --log log.csv --run r0 --clv-weight 1
expect 2 "give --clv-weight W > 0 too" "$B" run --log log.csv --out-dir x --clv-days 90
expect 2 "give --clv-weight W > 0 too" "$B" eval --log log.csv --horizon 2 --clv-model log
expect 2 "whole log in one part: not with --shards" "$B" run --log log.csv --out-dir x \
    --shards 2 --clv-weight 1
expect 2 "whole log in one part: not with --shards" "$B" eval --log log.csv --horizon 2 \
    --shards 2 --clv-weight 1
expect 2 "not with --no-job" "$B" eval --log log.csv --horizon 2 --no-job --clv-weight 1
test ! -e x || fail "a refused run wrote x"
# (whole output first: grep -q stops reading, and under pipefail the writer's SIGPIPE fails the pipe)
"$B" run --help >help.txt && grep -q -- "--clv-weight W" help.txt || fail "run --help lacks --clv-weight"
"$B" eval --help >help.txt && grep -q -- "--clv-weight W" help.txt || fail "eval --help lacks --clv-weight"
echo "ok   bad values refused, --help documents the options"

"$B" gen --customers 300 --seed 6 --quiet --out s.csv 2>/dev/null
OMP_NUM_THREADS=1 "$B" eval --log s.csv --horizon 2 --refit-every 2 --quiet --json a.json >/dev/null
OMP_NUM_THREADS=1 "$B" eval --log s.csv --horizon 2 --refit-every 2 --clv-weight 1 --quiet \
    --json b.json >/dev/null
python3 - <<'PY' || fail "the closed loop's clv policy"
import json
a = [p["name"] for p in json.load(open("a.json"))["policies"]]
b = [p["name"] for p in json.load(open("b.json"))["policies"]]
assert "clv" not in a and b == a[:7] + ["clv"] + a[7:], (a, b)
print("ok   eval --clv-weight adds the policy clv")
PY
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
