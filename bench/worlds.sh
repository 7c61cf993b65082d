#!/usr/bin/env bash
# worlds.sh - the default response model in world variants (issue 16, items 4
# and 5): for the default world and each bench/worlds/NAME.json, several seeds,
# a log of CUSTOMERS customers (x 7 contact rows) from `offerq gen`, then
# `offerq run` with the response model's features all (the default),
# no-evidence and raw (no feature built around the generator's story;
# docs/readme/worlds.md), each scored by `offerq eval` (true next-day profit,
# % of the oracle's uplift over no coupon) beside the fixed coupons 5/10/20.
# Writes the summary to bench/results/worlds.md (or $OUT) and every run's
# figures to bench/results/worlds.json (or $OUT_JSON).
#   bash bench/worlds.sh [OFFERQ] [CUSTOMERS] [SEEDS...]
# Example (what docs/readme/worlds.md's table comes from):
#   bash bench/worlds.sh build/offerq 10000 1 2 3 4 101 202
# Environment: WORLDS (default: "default alike drift02 cat16 cat64
# fewpersuadable order combined"), FEATURES (default: "all no-evidence raw";
# the name "sequence" runs --reward sequence, the sequence response model,
# instead of a feature set of the default one; SET+seq, e.g. all+seq or
# raw+seq, runs the response model with --features SET --seq-features, the
# sequence model's cross-fitted logits as 4 more inputs of its trees;
# sequence-full runs --reward sequence --seq-state full, the sequence model
# with the response model's 12 features in its state),
# HELDOUT (seeds not used for tuning, reported apart; default "101 202"),
# JOBS (runs at once, each with OMP_NUM_THREADS=1; default 2).
set -euo pipefail
B=$(realpath "${1:-build/offerq}"); N=${2:-10000}
shift $(( $# < 2 ? $# : 2 ))
SEEDS=("$@"); [ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 3 4 101 202)
D=$(cd "$(dirname "$0")" && pwd)
WORLDS=${WORLDS:-default alike drift02 cat16 cat64 fewpersuadable order combined}
FEATURES=${FEATURES:-all no-evidence raw}
HELDOUT=${HELDOUT:-101 202}
JOBS=${JOBS:-2}
OUT=${OUT:-$D/results/worlds.md}
OUT_JSON=${OUT_JSON:-$D/results/worlds.json}
T=$(mktemp -d /tmp/offerq-worlds-XXXXXX)
trap 'rm -rf "$T"' EXIT

# One (world, seed): the log, then a run and an eval per feature set.
one() {
  local w=$1 s=$2 opt=() f
  [ "$w" = default ] || opt=(--world "$D/worlds/$w.json")
  export OMP_NUM_THREADS=1
  "$B" gen "${opt[@]}" --customers "$N" --seed "$s" --quiet --out "$T/$w-$s.csv" 2>/dev/null
  for f in $FEATURES; do
    local how=(--features "$f")
    [ "$f" != sequence ] || how=(--reward sequence)
    [ "$f" != sequence-full ] || how=(--reward sequence --seq-state full)
    [ "${f%+seq}" = "$f" ] || how=(--features "${f%+seq}" --seq-features)
    "$B" run --log "$T/$w-$s.csv" --out-dir "$T/run-$w-$s-$f" --seed "$s" "${how[@]}" \
      --quiet >/dev/null 2>&1
    local t0=$SECONDS
    "$B" eval --log "$T/$w-$s.csv" --run "$T/run-$w-$s-$f" --quiet --json "$T/e-$w-$s-$f.json" \
      >/dev/null
    echo "$w seed $s $f: eval $((SECONDS - t0)) s" >&2
    rm -rf "$T/run-$w-$s-$f" "$T/run-$w-$s-$f.runs"
  done
  rm -f "$T/$w-$s".*
}
export -f one
export B N T D FEATURES
# shellcheck disable=SC2016 # $0 and $1 below are the child shell's
for w in $WORLDS; do
  [ "$w" = default ] || [ -f "$D/worlds/$w.json" ] || { echo "no world $w" >&2; exit 2; }
  for s in "${SEEDS[@]}"; do echo "$w $s"; done
done | xargs -P "$JOBS" -L 1 bash -c 'one "$0" "$1"'

python3 - "$T" "$OUT" "$OUT_JSON" "$N" "$WORLDS" "$FEATURES" "$HELDOUT" "${SEEDS[@]}" <<'PY'
import json, sys, statistics as st
t, out, out_json, n, worlds, feats, held = sys.argv[1:8]
seeds = sys.argv[8:]
worlds, feats, held = worlds.split(), feats.split(), [s for s in held.split() if s in seeds]
tuned = [s for s in seeds if s not in held]
data = {}
for w in worlds:
    for s in seeds:
        for f in feats:
            r = json.load(open(f"{t}/e-{w}-{s}-{f}.json"))
            p = {q["name"]: q for q in r["policies"]}
            d = data.setdefault(w, {}).setdefault(s, {})
            d[f] = p["offerq"]["pct_of_oracle_uplift"]
            for c in ("5", "10", "20"):
                d["coupon " + c] = p[c]["pct_of_oracle_uplift"]
            d["best fixed"] = max(d["coupon 5"], d["coupon 10"], d["coupon 20"])
            d["oracle uplift"] = p["oracle"]["profit"] - p["no coupon"]["profit"]
json.dump({"customers": int(n), "seeds": seeds, "heldout": held, "worlds": data},
          open(out_json, "w"), indent=1)

def cell(w, k, ss):
    xs = [data[w][s][k] for s in ss]
    return f"{st.mean(xs):.1f} ({min(xs):.1f} to {max(xs):.1f})" if len(xs) > 1 else f"{xs[0]:.1f}"

cols = feats + ["best fixed"]
lines = [f"World variants, next-day evaluation (`offerq eval`), {n} customers x 7 rows, seeds "
         f"{', '.join(seeds)} (`bash bench/worlds.sh build/offerq {n} {' '.join(seeds)}`).",
         f"Per cent of the oracle's uplift over no coupon: mean (min to max) over the seeds; "
         f"held-out = mean over seeds {', '.join(held) or '-'} alone (never used for tuning). "
         "all = the default response model; no-evidence = without feature 11; raw = without "
         "the features built around the generator's story (no evidence, g's category mix "
         "from earlier orders instead of the favourite filter); sequence = `--reward sequence`, "
         "the sequence response model on the raw daily history; SET+seq = the response model "
         "with --features SET --seq-features (the sequence model's cross-fitted logits as 4 "
         "more inputs of the trees); sequence-full = `--reward sequence --seq-state full`; best fixed = the best of "
         "coupons 5/10/20 per seed.", "",
         "| world | oracle uplift | " + " | ".join(cols) + " | " +
         " | ".join(f"{f} held-out" for f in feats) + " | raw - all (min to max) |",
         "|---|---:|" + "---:|" * (len(cols) + len(feats) + 1)]
for w in worlds:
    up = st.mean(data[w][s]["oracle uplift"] for s in seeds)
    row = [w, f"{up:.0f}"] + [cell(w, k, seeds) for k in cols]
    row += [cell(w, f, held) if held else "-" for f in feats]
    if "raw" in feats and "all" in feats:
        dd = [data[w][s]["raw"] - data[w][s]["all"] for s in seeds]
        row.append(f"{st.mean(dd):+.1f} ({min(dd):+.1f} to {max(dd):+.1f})")
    else:
        row.append("-")
    lines.append("| " + " | ".join(row) + " |")
lines += ["", "Per seed (% of the oracle's uplift):", "",
          "| world | features | " + " | ".join(f"seed {s}" for s in seeds) + " |",
          "|---|---|" + "---:|" * len(seeds)]
for w in worlds:
    for k in feats + ["best fixed"]:
        lines.append(f"| {w} | {k} | " + " | ".join(f"{data[w][s][k]:.1f}" for s in seeds) + " |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
