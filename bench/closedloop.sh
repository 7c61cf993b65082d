#!/usr/bin/env bash
# closedloop.sh - the 30-day closed loop (issue 15) on 10,000 customers: every
# policy of `offerq eval --horizon` on the default world (lasting effects on)
# and on the same world with every lasting effect off (no tomorrow), several
# seeds each. Prints each run's table and a summary, and writes the summary
# (with the time each policy's loop took) to bench/results/closedloop.md (or $OUT).
#   bash bench/closedloop.sh [OFFERQ] [CUSTOMERS] [HORIZON] [REFIT_EVERY] [SEEDS...]
# Example (what the README's table comes from):
#   bash bench/closedloop.sh build/offerq 10000 30 7 1 2 3 4 5 6
set -euo pipefail
B=$(realpath "${1:-build/offerq}"); N=${2:-10000}; H=${3:-30}; K=${4:-7}
shift $(( $# < 4 ? $# : 4 ))
SEEDS=("$@"); [ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 3 4 5 6)
OUT=${OUT:-$(dirname "$0")/results/closedloop.md}
T=$(mktemp -d /tmp/offerq-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
for s in "${SEEDS[@]}"; do
  for w in on off; do
    opt=""; [ $w = off ] && opt=--no-lasting
    "$B" gen --customers "$N" --seed "$s" $opt --quiet --out "$T/$w$s.csv" 2>/dev/null
    echo "== seed $s, lasting $w"
    "$B" eval --log "$T/$w$s.csv" --horizon "$H" --refit-every "$K" --seed "$s" --quiet \
      --json "$T/$w$s.json"
  done
done
python3 - "$T" "$OUT" "$N" "$H" "$K" "${SEEDS[@]}" <<'PY'
import json, sys, statistics as st
t, out, n, h, k, seeds = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6:]
lines = [f"Closed loop, {n} customers, {h} days, nightly job re-run every {k} days "
         f"(`bash bench/closedloop.sh build/offerq {n} {h} {k} {' '.join(seeds)}`).",
         "Per cent of the rollout oracle's uplift over no coupon; seconds = one policy's loop.", ""]
for w in ("on", "off"):
    runs = [json.load(open(f"{t}/{w}{s}.json")) for s in seeds]
    names = [p["name"] for p in runs[0]["policies"]]
    lines.append(f"World: lasting effects {w}" + (" (default)" if w == "on" else " (no tomorrow)"))
    lines.append("")
    lines.append("| policy | " + " | ".join(f"seed {s}" for s in seeds) + " | mean | seconds (mean) |")
    lines.append("|---|" + "---:|" * (len(seeds) + 2))
    for i, name in enumerate(names):
        pct = [r["policies"][i]["pct_of_oracle_uplift"] for r in runs]
        sec = [r["policies"][i]["seconds"] for r in runs]
        lines.append(f"| {name} | " + " | ".join(f"{x:.1f}" for x in pct) +
                     f" | {st.mean(pct):.1f} | {st.mean(sec):.1f} |")
    gain = [100 * (r["policies"][names.index("dyna-q")]["profit"] -
                   r["policies"][names.index("myopic")]["profit"]) /
            (r["policies"][names.index("myopic")]["profit"] - r["policies"][0]["profit"])
            for r in runs]
    lines.append("")
    lines.append("dyna-q vs myopic, % of myopic's uplift: " + ", ".join(f"{g:+.1f}" for g in gain) +
                 f" (mean {st.mean(gain):+.1f})")
    lines.append("")
open(out, "w").write("\n".join(lines) + "\n")
print("\n".join(lines))
PY
