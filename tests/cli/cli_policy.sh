#!/bin/bash
# cli_policy.sh - the quality of offerq's coupon policy, judged by the
# generator's truth (offerq eval) on full-size generated logs (10,000
# customers, 70,000 rows) of three seeds other than the README's: offerq's
# default policy (response-model r^) must beat every fixed coupon and the
# seed-faithful loop in true next-day profit and reach a share of the
# oracle's uplift of 90 % (the issue's goal): 90.4-92.5 % on seeds 2-4 run
# with --seed equal to the log's, 90.8-93.0 % on seeds 1-6 with the default
# --seed (docs/readme/dynaq.md); checked here as a mean >= 90 % over the
# three seeds and >= 89 % on each (a margin for floating-point differences
# of another CPU in the trees' fit). The off-policy
# estimate (cross-fitted IPS and DR) must lie within 10 % of the true value.
# Under the sanitizers (OQ_SANITIZE=1, 5-20x slower) the same commands run on
# one 2,000-customer log and only what does not depend on the log's size is
# asserted (the files, the model's settings): that run is for memory errors;
# the policy's quality is judged by the normal build's run.
set -u
BIN=${OQ_BIN:-./offerq}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
pass=0
seeds="2 3 4" customers=10000 quality=1
if [ "${OQ_SANITIZE:-0}" = 1 ]; then seeds=2 customers=2000 quality=0; fi
for seed in $seeds; do
    "$BIN" gen --customers $customers --seed "$seed" --quiet --out "$T/log$seed.csv" || fail "gen $seed"
    "$BIN" run --log "$T/log$seed.csv" --out-dir "$T/run$seed" --seed "$seed" --quiet 2>/dev/null ||
        fail "run $seed"
    "$BIN" eval --log "$T/log$seed.csv" --run "$T/run$seed" --json "$T/eval$seed.json" --quiet \
        > /dev/null || fail "eval $seed"
    python3 - "$T/eval$seed.json" "$T/run$seed/report.json" $quality <<'PY' || fail "policy quality, seed $seed"
import json, sys
j = json.load(open(sys.argv[1]))
rep = json.load(open(sys.argv[2]))
quality = sys.argv[3] == "1"
pol = {p["name"]: p for p in j["policies"]}
me = pol["offerq"]
print("seed file %s: offerq %.1f %% of the oracle's uplift" % (sys.argv[1], me["pct_of_oracle_uplift"]))
if quality:
    for name in ["5", "10", "20", "no coupon", "random (logging)", "seed-faithful"]:
        assert me["profit"] > pol[name]["profit"], (name, me, pol[name])
    assert me["pct_of_oracle_uplift"] >= 89, me
    open(sys.argv[1] + ".pct", "w").write("%.6f\n" % me["pct_of_oracle_uplift"])
assert rep["scorer"]["baseline"] is False
rm = rep["response_model"]
assert rm["p_model"]["kind"] == "boost" and rm["p_model"]["trees"] == 400, rm["p_model"]
assert rm["gross"]["source"] == "purchases file" and rm["gross"]["categories"] == 8, rm["gross"]
ope = j["ope"]["offerq (2-fold cross-fit)"]
for k in ("ips", "dr"):
    assert not quality or abs(ope[k] / ope["true"] - 1) <= 0.10, ope
PY
    pass=$((pass + 1))
done
[ $quality = 1 ] || { echo "$pass passed, 0 failed (sanitizer build: quality judged by the normal build)"; exit 0; }
cat "$T"/eval*.json.pct | python3 -c '
import sys
v = [float(x) for x in sys.stdin]
m = sum(v) / len(v)
print("mean over seeds 2-4: %.1f %% of the oracle'"'"'s uplift" % m)
assert len(v) == 3 and m >= 90, v
' || fail "mean share of the oracle's uplift below 90 %"
pass=$((pass + 1))
echo "$pass passed, 0 failed"
