#!/usr/bin/env python3
"""The table of bench/clv.sh from its runs' JSON (DIR/WORLD-SEED.json).
  clv_table.py DIR OUT.md OUT.json CUSTOMERS WEIGHT MODEL "WORLDS" SEEDS..."""
import json
import sys

t, out, out_json, n, w, model, worlds, seeds = sys.argv[1], sys.argv[2], sys.argv[3], \
    sys.argv[4], sys.argv[5], sys.argv[6], sys.argv[7].split(), sys.argv[8:]
runs, lines = {}, [
    f"CLV term in the 30-day closed loop, {n} customers, nightly job re-run every 7 days, "
    f"--clv-weight {w} --clv-model {model} "
    f"(`MODEL={model} bash bench/clv.sh build/offerq {n} {' '.join(seeds)}`).",
    "Profit = true net profit over 30 days; % = per cent of the rollout oracle's uplift over "
    "no coupon; clv - myopic in money and in % of myopic's uplift over no coupon.", "",
    "| world | seed | no coupon | myopic | clv | oracle | myopic % | clv % | clv - myopic | "
    "% of myopic's uplift | dyna-q % | truth-myopic % |",
    "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
for wd in worlds:
    for s in seeds:
        try:
            r = json.load(open(f"{t}/{wd}-{s}.json"))
        except FileNotFoundError:
            lines.append(f"| {wd} | {s} | no result: the evaluation failed (bench/clv.sh "
                         "printed why) |" + " |" * 9)
            continue
        runs[f"{wd}-{s}"] = r
        p = {q["name"]: q for q in r["policies"]}
        none, my, clv, orc = (p[k]["profit"] for k in ("no coupon", "myopic", "clv", "oracle"))
        lines.append(
            f"| {wd} | {s} | {none:,.0f} | {my:,.0f} | {clv:,.0f} | {orc:,.0f} | "
            f"{p['myopic']['pct_of_oracle_uplift']:.1f} | {p['clv']['pct_of_oracle_uplift']:.1f} | "
            f"{clv - my:+,.0f} | {100 * (clv - my) / (my - none):+.1f} | "
            f"{p['dyna-q']['pct_of_oracle_uplift']:.1f} | "
            f"{p['truth-myopic']['pct_of_oracle_uplift']:.1f} |")
open(out, "w").write("\n".join(lines) + "\n")
json.dump(runs, open(out_json, "w"), indent=1)
print("\n".join(lines))
