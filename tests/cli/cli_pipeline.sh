#!/bin/bash
# cli_pipeline.sh - `offerq run` and `offerq eval` end to end on a small generated log.
set -u
BIN=${OQ_BIN:-./offerq}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$BIN" run --help | grep -q "Example" || fail "run --help"
"$BIN" eval --help | grep -q "Example" || fail "eval --help"
"$BIN" run --log x.csv >/dev/null 2>&1; [ $? -eq 2 ] || fail "run without --out-dir must exit 2"
"$BIN" run --log x.csv --out-dir "$T/r" --budget -1 >/dev/null 2>&1; [ $? -eq 2 ] || fail "negative budget must exit 2"
"$BIN" run --log x.csv --out-dir "$T/r" --reward magic 2>"$T/err"; [ $? -eq 2 ] || fail "unknown --reward must exit 2"
grep -q "expected response, sequence, transformer or empirical" "$T/err" || fail "--reward error names the choices"
"$BIN" run --log x.csv --out-dir "$T/r" --p-model forest 2>"$T/err"; [ $? -eq 2 ] || fail "unknown --p-model must exit 2"
grep -q "expected boost or logistic, got 'forest'" "$T/err" || fail "--p-model error names the choices"
"$BIN" run --log x.csv --out-dir "$T/r" --trees 0 2>/dev/null; [ $? -eq 2 ] || fail "--trees 0 must exit 2"
"$BIN" run --log x.csv --out-dir "$T/r" --features story 2>"$T/err"; [ $? -eq 2 ] || fail "unknown --features must exit 2"
grep -q "expected all, no-evidence or raw, got 'story'" "$T/err" || fail "--features error names the choices"
"$BIN" run --log x.csv --out-dir "$T/r" --tree-depth 17 2>/dev/null; [ $? -eq 2 ] || fail "--tree-depth 17 must exit 2"
"$BIN" run --log x.csv --out-dir "$T/r" --reward response --model m.ofq >/dev/null 2>&1; [ $? -eq 2 ] || fail "--model with --reward response must exit 2"
"$BIN" run --log x.csv --out-dir "$T/r" --shards 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--shards 0 must exit 2"
"$BIN" run --log "$T/missing.csv" --out-dir "$T/r" --quiet 2>"$T/err"; [ $? -eq 1 ] || fail "missing log must exit 1"
grep -q "missing.csv" "$T/err" || fail "error names the file"

"$BIN" gen --customers 1500 --seed 3 --quiet --no-events --no-orders --out "$T/log.csv" || fail gen
"$BIN" run --log "$T/log.csv" --out-dir "$T/run" --budget 300 --seed 2 --interim --quiet 2>"$T/run.err" || fail run
# the log alone (10 columns, no sidecars): warnings that name what is missing and its
# cost, and a BG/NBD fit at a boundary is not "converged" (issue 17)
grep -q "warning: no orders file" "$T/run.err" || fail "no warning about the orders file"
"$BIN" run --log "$T/log.csv" --out-dir "$T/run_resp" --quiet 2>"$T/resp.err" || fail "run (response model)"
grep -q "warning: no browsing events.*% of the oracle's uplift without events" "$T/resp.err" ||
    fail "no warning about the events, with the cost"
python3 - "$T/run/report.json" "$T/run.err" <<'PY' || fail "BG/NBD boundary warning"
import json, sys
b = json.load(open(sys.argv[1]))["bgnbd"]
boundary = b["a"] + b["b"] >= 1e4 or b["r"] >= 1e4
assert (b["warning"] is not None) == (boundary or not b["converged"]), b
if boundary:
    assert b["converged"] is False and "ran to a boundary" in b["warning"], b
    assert "ran to a boundary" in open(sys.argv[2]).read()
PY
for f in recommendations.csv qtable.ofq params.json report.json learning_curve.svg; do
    [ -s "$T/run/$f" ] || fail "missing $f"
done
ls "$T/run" | grep -q tmp && fail "temporary files left behind"
head -1 "$T/run/recommendations.csv" | grep -qx "user_id,snapshot_date,state,coupon,expected_profit,p_alive,expected_profit_none,expected_profit_5,expected_profit_10,expected_profit_20" || fail "recommendations header"
[ "$(wc -l < "$T/run/recommendations.csv")" -eq 1501 ] || fail "one recommendation per customer"
grep -q "r^ is the empirical baseline" "$T/run.err" || fail "the empirical baseline must be announced"
python3 - "$T" <<'PY' || fail "report/params content"
import json, sys
t = sys.argv[1]
rep = json.load(open(t + "/run/report.json"))
par = json.load(open(t + "/run/params.json"))
assert rep["scorer"]["baseline"] is True and "baseline" in rep["scorer"]["note"]
assert rep["plan"]["expected_spend"] <= 300 + 1e-9
eps = [e["epsilon"] for e in rep["dynaq"]["per_epoch"]]
assert abs(eps[0] - 0.30) < 1e-12 and abs(eps[-1] - 0.05) < 1e-12, eps
assert par["dynaq"]["plan_k"] == 20 and par["dynaq"]["gamma"] == 0.95 and par["seed"] == 2
assert set(rep["timings_s"]) >= {"ingest", "alive", "reward_fit", "reward_score", "value", "plan", "write"}
# The value split (issue 15): per coupon, today's r~ and Dyna-Q's continuation.
vs = rep["value_split"]
assert vs["continuation_in_plan"] is False
assert set(vs["per_coupon"]) == {"none", "5", "10", "20"}, vs
for c, v in vs["per_coupon"].items():
    assert set(v) == {"r_tilde", "continuation"} and abs(v["continuation"]) < 1e6, (c, v)
assert any(v["continuation"] > 0 for v in vs["per_coupon"].values()), vs
PY
# same seed, same bytes
"$BIN" run --log "$T/log.csv" --out-dir "$T/run2" --budget 300 --seed 2 --interim --quiet 2>/dev/null || fail run2
cmp -s "$T/run/recommendations.csv" "$T/run2/recommendations.csv" || fail "not deterministic"
cmp -s "$T/run/qtable.ofq" "$T/run2/qtable.ofq" || fail "Q table not deterministic"

"$BIN" eval --log "$T/log.csv" --run "$T/run" --json "$T/eval.json" --quiet > "$T/eval.txt" || fail eval
grep -q "oracle" "$T/eval.txt" || fail "eval table"
python3 - "$T" <<'PY' || fail "eval JSON"
import json, sys
j = json.load(open(sys.argv[1] + "/eval.json"))
names = [p["name"] for p in j["policies"]]
for n in ["no coupon", "5", "10", "20", "random (logging)", "seed-faithful", "offerq", "oracle"]:
    assert n in names, n
for p in j["policies"]:
    assert set(p) == {"name", "profit", "spend", "pct_of_oracle_uplift"}
assert j["policies"][names.index("oracle")]["pct_of_oracle_uplift"] == 100
for k, o in j["ope"].items():
    if "in-sample" in k: continue
    assert abs(o["ips"] - o["true"]) < 0.15 * abs(o["true"]), (k, o)
PY
# The same log without its truth file (a shop's own log): the estimates alone,
# propensities estimated as coupon shares, with 95 % intervals; equal to the
# estimates above when the shares equal the logging policy's propensities,
# so here within a few standard errors of them (issue 17).
mkdir -p "$T/nt" && cp "$T/log.csv" "$T/nt/"
"$BIN" eval --log "$T/nt/log.csv" --run "$T/run" --json "$T/nt.json" --quiet > "$T/nt.txt" 2>/dev/null ||
    fail "eval without a truth file"
grep -q "No truth file: estimates from the log alone" "$T/nt.txt" || fail "log-only eval says so"
python3 - "$T/eval.json" "$T/nt.json" <<'PY' || fail "log-only eval JSON"
import json, sys
a, b = (json.load(open(f)) for f in sys.argv[1:3])
assert b["log_only"] is True and b["propensity"].startswith("estimated") and b["policies"] == []
assert a["log_only"] is False
for k in ("no coupon", "5", "10", "20", "offerq (2-fold cross-fit)"):
    x, y = a["ope"][k], b["ope"][k]
    assert y["true"] is None and y["ips_se"] > 0 and y["dr_se"] > 0, y
    assert abs(x["ips"] - y["ips"]) < 3 * y["ips_se"], (k, x, y)
PY
"$BIN" eval --log "$T/nt/log.csv" --run "$T/run" --truth "$T/nt/none.json" --quiet >/dev/null 2>"$T/err"
[ $? -eq 1 ] && grep -q "no such truth file" "$T/err" || fail "a --truth that is not there must exit 1"
# a run directory without its files
mkdir -p "$T/empty"
"$BIN" eval --log "$T/log.csv" --run "$T/empty" --quiet >/dev/null 2>&1; [ $? -eq 1 ] || fail "eval of an empty dir must exit 1"
# The product's scorer: BG/NBD P(alive) x the profit Transformer (trained here
# for one epoch on a small log), saved as model.ofq and reused by --model / eval.
"$BIN" gen --customers 300 --quiet --seed 3 --out "$T/small.csv" 2>/dev/null || fail "gen small"
"$BIN" run --log "$T/small.csv" --out-dir "$T/prun" --profit-epochs 1 --budget 200 --quiet \
  2>"$T/prun.err" || fail "run with the profit model"
[ -s "$T/prun/model.ofq" ] || fail "the trained profit model is saved as model.ofq"
python3 - "$T/prun" <<'PY' || fail "report of the profit-model run"
import json, sys
rep = json.load(open(sys.argv[1] + "/report.json"))
assert rep["scorer"]["baseline"] is False, rep["scorer"]
assert "Transformer" in rep["scorer"]["name"], rep["scorer"]
PY
"$BIN" run --log "$T/small.csv" --out-dir "$T/prun2" --model "$T/prun/model.ofq" --budget 200 \
  --quiet 2>/dev/null || fail "run --model"
cmp -s "$T/prun/recommendations.csv" "$T/prun2/recommendations.csv" || fail "--model reproduces the run's list"
"$BIN" eval --log "$T/small.csv" --run "$T/prun" --quiet >/dev/null 2>&1 || fail "eval of a profit-model run"

# The sequence response model: trained by `offerq train --reward sequence`
# (held-out log-loss and DR report, early stopping on DR), reused by run
# --model; a run that trains it saves model.ofq, which eval reuses.
"$BIN" run --log x.csv --out-dir "$T/r" --seq-len 20 >/dev/null 2>&1; [ $? -eq 2 ] || fail "--seq-len without --reward sequence must exit 2"
"$BIN" train --log "$T/small.csv" --out "$T/seq.ofq" --reward sequence --epochs 2 --seq 12 \
  --bands 3 2>"$T/strain.err" || fail "train --reward sequence"
grep -q "held-out log-loss" "$T/strain.err" && grep -q "DR value of the greedy policy" "$T/strain.err" ||
    fail "the sequence model's validation report"
grep -q "kept epoch 2" "$T/strain.err" || fail "with 2 epochs the last one is kept"
"$BIN" train --log "$T/small.csv" --out "$T/x.ofq" --patience 2 2>/dev/null; [ $? -eq 2 ] || fail "--patience without --reward sequence must exit 2"
"$BIN" run --log "$T/small.csv" --out-dir "$T/srun" --reward sequence --model "$T/seq.ofq" \
  --budget 200 --quiet 2>/dev/null || fail "run --reward sequence --model"
"$BIN" run --log "$T/small.csv" --out-dir "$T/srun2" --reward sequence --model "$T/seq.ofq" \
  --budget 200 --quiet 2>/dev/null || fail "run --reward sequence --model again"
cmp -s "$T/srun/recommendations.csv" "$T/srun2/recommendations.csv" || fail "the sequence model's list is deterministic"
"$BIN" run --log "$T/small.csv" --out-dir "$T/srun3" --reward sequence --profit-epochs 1 \
  --seq-len 10 --quiet 2>/dev/null || fail "run --reward sequence (training)"
[ -s "$T/srun3/model.ofq" ] || fail "the trained sequence model is saved as model.ofq"
python3 - "$T/srun3" <<'PY' || fail "report of the sequence-model run"
import json, sys
rep = json.load(open(sys.argv[1] + "/report.json"))
sm = rep["sequence_model"]
assert sm["config"]["seq_len"] == 10 and sm["best_epoch"] == 1 and len(sm["epochs"]) == 1, sm
e = sm["epochs"][0]
assert 0 < e["val_logloss"] < 1 and e["val_dr"] == e["val_dr"], e
assert "sequence model" in rep["scorer"]["name"], rep["scorer"]
PY
"$BIN" eval --log "$T/small.csv" --run "$T/srun3" --quiet >/dev/null 2>&1 || fail "eval of a sequence-model run"
"$BIN" run --log "$T/small.csv" --out-dir "$T/srun4" --reward sequence --model "$T/prun/model.ofq" \
  --quiet 2>"$T/err"; [ $? -eq 1 ] || fail "a profit model is not a sequence model"
grep -q "not an offerq sequence model" "$T/err" || fail "the wrong model file is named"

# The default response model (boosted trees, category-aware g): deterministic,
# and a purchases file without values falls back to g from the log's order rows.
"$BIN" gen --customers 1000 --seed 4 --quiet --out "$T/resp.csv" || fail "gen resp"
"$BIN" run --log "$T/resp.csv" --out-dir "$T/b1" --quiet 2>/dev/null || fail "run boost"
"$BIN" run --log "$T/resp.csv" --out-dir "$T/b2" --quiet 2>/dev/null || fail "run boost 2"
cmp -s "$T/b1/recommendations.csv" "$T/b2/recommendations.csv" || fail "boosted run not deterministic"
python3 - "$T/b1/report.json" <<'PY' || fail "boosted report"
import json, sys
rm = json.load(open(sys.argv[1]))["response_model"]
assert rm["p_model"]["kind"] == "boost" and rm["p_model"]["rows_used"] == rm["p_model"]["rows"]
assert 0 < rm["p_model"]["train_logloss"] < 0.7, rm["p_model"]
assert rm["gross"]["source"] == "purchases file" and 0 < rm["gross"]["drift"] < 1 and 0 < rm["gross"]["concentration"] < 1 and 0 < rm["gross"]["alpha"] < 1
PY
cut -d, -f1,2 "$T/resp.orders.csv" > "$T/novalue.csv"
"$BIN" run --log "$T/resp.csv" --orders "$T/novalue.csv" --out-dir "$T/b3" 2>"$T/b3.err" ||
    fail "run with a purchases file without values"
grep -q "g from the log's order rows" "$T/b3.err" || fail "the fallback of g is announced"
grep -q '"source": "log order rows"' "$T/b3/report.json" || fail "report names g's source"
"$BIN" run --log "$T/resp.csv" --out-dir "$T/b4" --p-model logistic --quiet 2>/dev/null || fail "run logistic"
grep -q '"kind": "logistic"' "$T/b4/params.json" || fail "params name the learner"
"$BIN" eval --log "$T/resp.csv" --run "$T/b4" --quiet >/dev/null 2>&1 || fail "eval of a logistic run"
# --features (docs/readme/worlds.md): all is the default, to the byte; raw and
# no-evidence are named in params.json and report.json, and eval re-fits the
# run's model with the run's features (the cross-fitted estimate differs).
"$BIN" run --log "$T/resp.csv" --out-dir "$T/f1" --features all --quiet 2>/dev/null || fail "run --features all"
cmp -s "$T/b1/recommendations.csv" "$T/f1/recommendations.csv" || fail "--features all is not the default"
grep -q '"features": "all"' "$T/b1/params.json" || fail "params name the default features"
for f in raw no-evidence; do
    "$BIN" run --log "$T/resp.csv" --out-dir "$T/f-$f" --features $f --quiet 2>/dev/null || fail "run --features $f"
    grep -q "\"features\": \"$f\"" "$T/f-$f/params.json" || fail "params name --features $f"
    "$BIN" eval --log "$T/resp.csv" --run "$T/f-$f" --quiet --json "$T/f-$f.json" >/dev/null 2>&1 || fail "eval of a --features $f run"
done
"$BIN" eval --log "$T/resp.csv" --run "$T/f1" --quiet --json "$T/f-all.json" >/dev/null 2>&1 || fail "eval of the default run"
python3 - "$T" <<'PY' || fail "--features reports"
import json, sys
t = sys.argv[1]
for f, mix in (("all", "favourite filter"), ("no-evidence", "favourite filter"), ("raw", "earlier orders")):
    rm = json.load(open(f"{t}/f{'1' if f == 'all' else '-' + f}/report.json"))["response_model"]
    assert rm["features"] == f and rm["gross"]["mix"] == mix, (f, rm["features"], rm["gross"])
    if f == "raw":  # no filter is fitted
        assert rm["gross"]["drift"] == 0 and rm["gross"]["alpha"] == 0, rm["gross"]
ope = {f: json.load(open(f"{t}/f-{f}.json"))["ope"]["offerq (2-fold cross-fit)"]
       for f in ("all", "raw", "no-evidence")}
assert ope["raw"] != ope["all"] and ope["no-evidence"] != ope["all"], ope
PY
echo OK
