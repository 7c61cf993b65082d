#!/usr/bin/env bash
# cli_bgnbd.sh - `offerq bgnbd fit|score` end to end: CDNOW fit, scores,
# holdout plot, the log's orders sidecar, and clear errors on bad input.
set -euo pipefail
B=${OQ_BIN:-./offerq}
D=${OQ_SHARED:-../shared}/data
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$B" bgnbd --help > "$T/help.txt" && grep -q "offerq bgnbd fit" "$T/help.txt" || fail "help"
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

# Standard errors and log-scale intervals in the fit's JSON and on stderr.
"$B" bgnbd fit --summary "$D/cdnow_summary.csv" --out "$T/c.json" 2>"$T/err"
grep -q "std. error" "$T/err" || fail "printed standard errors"
python3 - "$T/c.json" <<'PY' || fail "BG/NBD standard errors"
import json, math, sys
p = json.load(open(sys.argv[1]))
assert p["ci95_scale"] == "log", p
for k in ("r", "alpha", "a", "b"):
    se, lo, hi = p["standard_errors"][k], p["ci95_lower"][k], p["ci95_upper"][k]
    assert 0 < se < p[k] and lo < p[k] < hi, (k, se, lo, hi)
    assert abs(math.log(hi / p[k]) - 1.959963984540054 * se / p[k]) < 1e-9, k
    assert abs(lo * hi - p[k] ** 2) < 1e-9 * p[k] ** 2, k
PY

# The other models: lifetimes' key names, published CDNOW values.
"$B" bgnbd fit --model paretonbd --summary "$D/cdnow_summary.csv" --quiet --out "$T/p.json"
"$B" bgnbd fit --model mbgnbd --summary "$D/cdnow_summary.csv" --quiet --out "$T/m.json"
"$B" bgnbd fit --model gammagamma --transactions "$D/cdnow_sample.txt" --id-column 2 \
    --value-column 5 --unit weeks --calibration-end 1997-09-30 --quiet --out "$T/gg.json"
python3 - "$T/p.json" "$T/m.json" "$T/gg.json" <<'PY' || fail "paretonbd / mbgnbd / gammagamma"
import json, sys
p, m, g = (json.load(open(f)) for f in sys.argv[1:4])
assert p["model"] == "paretonbd" and m["model"] == "mbgnbd" and g["model"] == "gammagamma"
pub = {"r": 0.55, "alpha": 10.58, "s": 0.61, "beta": 11.67}
assert all(round(p[k], 2) == v for k, v in pub.items()), p
assert abs(p["ll"] + 9595.0) < 0.05 and set(p["standard_errors"]) == set(pub), p
assert all(round(g[k], 2) == v for k, v in {"p": 6.25, "q": 3.74, "v": 15.44}.items()), g
assert g["n_customers"] == 946 and set(g["standard_errors"]) == {"p", "q", "v"}, g
assert all(abs(m[k] - v) < 5e-4 for k, v in {"r": 0.525, "alpha": 6.183, "a": 0.891, "b": 1.614}.items()), m
PY

# Scores with the conditional P(n) and CLV; other models score too.
"$B" bgnbd score --params "$T/c.json" --spend "$T/gg.json" --unit weeks --p-n 2 --t 39 \
    --transactions "$D/cdnow_sample.txt" --id-column 2 --value-column 5 \
    --calibration-end 1997-09-30 --quiet --out "$T/clv.csv"
head -1 "$T/clv.csv" | grep -qx "id,frequency,recency,T,p_alive,expected_purchases,p_0,p_1,p_2,monetary_value,expected_average_profit,clv" || fail "clv header"
python3 - "$T/clv.csv" <<'PY' || fail "clv rows"
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
assert len(rows) == 2357
for r in rows:
    ps = [float(r["p_%d" % n]) for n in range(3)]
    assert all(0 <= v <= 1 for v in ps) and sum(ps) <= 1 + 1e-12, r
    assert float(r["clv"]) >= 0 and float(r["expected_average_profit"]) > 0, r
# the paper's customer 1 (x 2, t_x 30.43, T 38.86): more value than a one-off buyer
one = next(r for r in rows if r["id"] == "1")
assert float(one["clv"]) > 20, one
PY
"$B" bgnbd score --params "$T/p.json" --summary "$D/cdnow_summary.csv" --t 39 \
    --quiet --out "$T/ps.csv"
[ "$(wc -l <"$T/ps.csv")" -eq 2358 ] || fail "paretonbd scores"
set +e
"$B" bgnbd fit --model gammagamma --summary "$D/cdnow_summary.csv" --out "$T/x.json" 2>"$T/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "needs purchase values" "$T/err" || fail "gammagamma without values"
# P(n purchases | history) for Pareto/NBD and MBG/NBD: probabilities, p_0 at
# least 1 - P(alive), and sum n p_n below E[X(t)] (the tail n > 2 is left out).
for f in p m; do
    "$B" bgnbd score --params "$T/$f.json" --p-n 2 --t 39 --unit weeks --summary "$D/cdnow_summary.csv" \
        --quiet --out "$T/pn_$f.csv"
done
python3 - "$T/pn_p.csv" "$T/pn_m.csv" <<'PY' || fail "--p-n with paretonbd/mbgnbd"
import csv, sys
for f in sys.argv[1:]:
    rows = list(csv.DictReader(open(f)))
    assert len(rows) == 2357
    for r in rows:
        p = [float(r["p_%d" % n]) for n in range(3)]
        assert all(0 <= v <= 1 for v in p) and sum(p) <= 1 + 1e-9, r
        assert p[0] >= 1 - float(r["p_alive"]) - 1e-12, r
        assert p[1] + 2 * p[2] <= float(r["expected_purchases"]) + 1e-9, r
PY
# A summary CSV with monetary_value and a declared unit gives the same CLV as the
# transactions; without a unit the CLV is refused.
python3 - "$T/clv.csv" "$T/sm.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
with open(sys.argv[2], "w") as f:
    f.write("id,frequency,recency,T,monetary_value\n")
    for r in rows:
        f.write("%s,%s,%s,%s,%s\n" % (r["id"], r["frequency"], r["recency"], r["T"], r["monetary_value"]))
PY
"$B" bgnbd fit --summary "$T/sm.csv" --unit weeks --quiet --out "$T/cw.json"
grep -q '"time_unit": "weeks"' "$T/cw.json" || fail "--unit with --summary"
"$B" bgnbd score --params "$T/c.json" --unit weeks --spend "$T/gg.json" --t 39 \
    --summary "$T/sm.csv" --quiet --out "$T/clv2.csv"
python3 - "$T/clv.csv" "$T/clv2.csv" <<'PY' || fail "CLV from a summary"
import csv, sys
a, b = (list(csv.DictReader(open(f))) for f in sys.argv[1:3])
assert len(a) == len(b) == 2357
assert all(abs(float(x["clv"]) - float(y["clv"])) <= 1e-6 * (1 + float(x["clv"])) for x, y in zip(a, b))
PY
set +e
"$B" bgnbd score --params "$T/p.json" --spend "$T/gg.json" --summary "$T/sm.csv" --out "$T/x.csv" 2>"$T/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "needs the time unit" "$T/err" || fail "CLV without a unit"
# The diagnostic charts (lifetimes' plotting module) on CDNOW: SVGs that
# parse, one cell per grid entry, the period counts adding up to the 2,357
# customers with the actual counts of the summary, and the tracking chart's
# actual total equal to the repeat purchase days counted here from the file.
"$B" bgnbd fit --summary "$D/cdnow_summary.csv" --unit weeks --quiet --out "$T/cw2.json"
"$B" bgnbd plot --params "$T/cw2.json" --kind p-alive --summary "$D/cdnow_summary.csv" \
    --unit weeks --quiet --out "$T/pa.svg"
"$B" bgnbd plot --params "$T/cw2.json" --kind frequency-recency --max-frequency 20 --max-recency 40 \
    --quiet --out "$T/fr.svg"
"$B" bgnbd plot --params "$T/cw2.json" --kind period --summary "$D/cdnow_summary.csv" --unit weeks \
    --out "$T/pt.svg" 2>"$T/pt.txt"
"$B" bgnbd plot --params "$T/cw2.json" --kind cumulative --unit weeks --transactions "$D/cdnow_sample.txt" \
    --id-column 2 --calibration-end 1997-09-30 --out "$T/cu.svg" 2>"$T/cu.txt"
python3 - "$T" "$D" <<'PY' || fail "bgnbd plot"
import csv, re, sys, xml.etree.ElementTree as ET
t, d = sys.argv[1], sys.argv[2]
ns = "{http://www.w3.org/2000/svg}"
cells = lambda f: [r for r in ET.parse(f).getroot().iter(ns + "rect") if r.get("class") == "cell"]
summ = list(csv.DictReader(open(d + "/cdnow_summary.csv")))
maxx = max(int(float(r["frequency"])) for r in summ)
maxt = max(float(r["T"]) for r in summ)
import math
assert len(cells(t + "/pa.svg")) == (maxx + 1) * (math.ceil(maxt) + 1), len(cells(t + "/pa.svg"))
assert len(cells(t + "/fr.svg")) == 21 * 41
rows = [l.split() for l in open(t + "/pt.txt") if re.match(r"\s+(>=)?\s*\d+\s+\d", l)]
act = [float(r[-2]) for r in rows]
model = [float(r[-1]) for r in rows]
assert len(rows) == 8 and sum(act) == 2357 and abs(sum(model) - 2357) < 1, (act, model)
want = [sum(1 for r in summ if int(float(r["frequency"])) == k) for k in range(7)]
assert act[:7] == want, (act, want)
ET.parse(t + "/pt.svg"); ET.parse(t + "/cu.svg")
# repeat purchase days of the customers whose first purchase is on or before 1997-09-30
days = {}
for line in open(d + "/cdnow_sample.txt"):
    f = line.split()
    days.setdefault(f[1], set()).add(f[2])
reps = sum(len(s) - 1 for s in days.values() if min(s) <= "19970930")
m = re.search(r"(\d+) customers; repeat purchases by the last day: actual (\d+), model ([\d.]+)", open(t + "/cu.txt").read())
assert m and int(m.group(1)) == sum(1 for s in days.values() if min(s) <= "19970930") and int(m.group(2)) == reps, (m and m.groups(), reps)
print("plots: period actual", act, "model", [round(x, 1) for x in model], "; tracking actual", reps, "model", m.group(3))
PY
# The charts for MBG/NBD and Pareto/NBD fits: the period counts add up, the
# title names the model; --model must match the fit.
for f in p m; do
    "$B" bgnbd plot --params "$T/$f.json" --kind period --summary "$D/cdnow_summary.csv" --unit weeks \
        --out "$T/pt_$f.svg" 2>"$T/pt_$f.txt"
    "$B" bgnbd plot --params "$T/$f.json" --kind p-alive --max-frequency 10 --max-recency 39 \
        --quiet --out "$T/pa_$f.svg"
    "$B" bgnbd plot --params "$T/$f.json" --kind cumulative --unit weeks --transactions "$D/cdnow_sample.txt" \
        --id-column 2 --calibration-end 1997-09-30 --out "$T/cu_$f.svg" 2>"$T/cu_$f.txt"
done
grep -q "actual vs Pareto/NBD" "$T/pt_p.svg" && grep -q "actual vs MBG/NBD" "$T/cu_m.svg" || fail "plot titles"
python3 - "$T" <<'PY' || fail "plot mbgnbd/paretonbd"
import re, sys, xml.etree.ElementTree as ET
t = sys.argv[1]
for f in "pm":
    rows = [l.split() for l in open(t + "/pt_%s.txt" % f) if re.match(r"\s+(>=)?\s*\d+\s+\d", l)]
    act = [float(r[-2]) for r in rows]
    model = [float(r[-1]) for r in rows]
    assert len(rows) == 8 and sum(act) == 2357 and abs(sum(model) - 2357) < 1, (act, model)
    ns = "{http://www.w3.org/2000/svg}"
    cells = [r for r in ET.parse(t + "/pa_%s.svg" % f).getroot().iter(ns + "rect") if r.get("class") == "cell"]
    assert len(cells) == 11 * 40
    print(f, "period model", [round(x, 1) for x in model], open(t + "/cu_%s.txt" % f).read().strip().splitlines()[0])
PY
set +e
"$B" bgnbd plot --params "$T/p.json" --model mbgnbd --kind p-alive --max-frequency 3 --max-recency 3 \
    --out "$T/x.svg" 2>"$T/err"; rc=$?
set -e
[ $rc -eq 2 ] && grep -q "holds a paretonbd fit" "$T/err" || fail "plot --model mismatch"
echo "cli_bgnbd: ok"
