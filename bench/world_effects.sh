#!/usr/bin/env bash
# world_effects.sh - what each lasting effect of the default world changes
# (issue 15, item 2): for the world with no lasting effect, each effect alone
# at its default strength, and all of them (the default world), the 30-day
# closed loop's truth policies (`offerq eval --horizon 30 --no-job`) on
# CUSTOMERS customers, several seeds: the best achievable profit (the rollout
# oracle), truth-myopic's, and how much looking ahead is worth (oracle minus
# truth-myopic, in % of the oracle's uplift over no coupon). Writes the table
# to bench/results/world_effects.md (or $OUT).
#   bash bench/world_effects.sh [OFFERQ] [CUSTOMERS] [SEEDS...]
# Example: bash bench/world_effects.sh build/offerq 10000 1 2 3
set -euo pipefail
B=$(realpath "${1:-build/offerq}"); N=${2:-10000}
shift $(( $# < 2 ? $# : 2 ))
SEEDS=("$@"); [ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 3)
OUT=${OUT:-$(dirname "$0")/results/world_effects.md}
T=$(mktemp -d /tmp/offerq-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$B" gen --print-world >"$T/default.json"
python3 - "$T" <<'PY'
import json, sys
t = sys.argv[1]
d = json.load(open(f"{t}/default.json"))
L = d["lasting"]
off = {k: 0 for k in ("lapse", "deal", "weekly")}
worlds = {"none": off,
          "lapse only": dict(off, lapse=L["lapse"]),
          "deal only": dict(off, deal=L["deal"]),
          "weekly only": dict(off, weekly=L["weekly"]),
          "default (all)": {}}
for i, (name, las) in enumerate(worlds.items()):
    json.dump({"lasting": las}, open(f"{t}/w{i}.json", "w"))
open(f"{t}/names", "w").write("\n".join(worlds) + "\n")
PY
i=0
while read -r name; do
  for s in "${SEEDS[@]}"; do
    "$B" gen --world "$T/w$i.json" --customers "$N" --seed "$s" --quiet --out "$T/l$i-$s.csv" 2>/dev/null
    "$B" eval --log "$T/l$i-$s.csv" --horizon 30 --no-job --quiet --json "$T/r$i-$s.json" >/dev/null
  done
  i=$((i + 1))
done <"$T/names"
python3 - "$T" "$OUT" "$N" "${SEEDS[@]}" <<'PY'
import json, sys, statistics as st
t, out, n, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
names = open(f"{t}/names").read().split("\n")[:-1]
lines = [f"Lasting effects of the default world, 30-day closed loop, {n} customers, seeds "
         f"{', '.join(seeds)} (`bash bench/world_effects.sh build/offerq {n} {' '.join(seeds)}`).",
         "Profits are means over the seeds; look-ahead = (oracle - truth-myopic) / "
         "(oracle - no coupon), per seed, then the mean and range.", "",
         "| world | no coupon | truth-myopic | oracle (best achievable) | oracle vs none | look-ahead worth |",
         "|---|---:|---:|---:|---:|---:|"]
for i, name in enumerate(names):
    rs = [{p["name"]: p["profit"] for p in json.load(open(f"{t}/r{i}-{s}.json"))["policies"]}
          for s in seeds]
    la = [100 * (r["oracle"] - r["truth-myopic"]) / (r["oracle"] - r["no coupon"]) for r in rs]
    m = lambda k: st.mean(r[k] for r in rs)
    lines.append(f"| {name} | {m('no coupon'):.0f} | {m('truth-myopic'):.0f} | {m('oracle'):.0f} | "
                 f"{m('oracle') - m('no coupon'):+.0f} | {st.mean(la):+.1f} % ({min(la):+.1f} to {max(la):+.1f}) |")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
