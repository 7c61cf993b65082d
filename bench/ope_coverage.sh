#!/usr/bin/env bash
# ope_coverage.sh - do the intervals of `offerq eval` WITHOUT a truth file
# cover the true values? (issue 17). For each seed: offerq gen, offerq run,
# offerq eval with the truth (the true per-contact value of each policy) and
# without it (the log alone: propensities estimated as coupon shares, 95 %
# intervals estimate +- 1.96 se). Counts, per estimator, how often the
# interval covers the truth, over the fixed coupons and the cross-fitted
# policy.
#   bash bench/ope_coverage.sh [SEEDS (20)] [CUSTOMERS (1500)] [BIN]
# Writes bench/results/ope_coverage.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SEEDS=${1:-20}
N=${2:-1500}
BIN=$(readlink -f "${3:-build/offerq}")
T=$(mktemp -d /tmp/offerq-ope-XXXXXX)
trap 'rm -rf "$T"' EXIT
for s in $(seq "$SEEDS"); do
  d="$T/s$s"
  mkdir -p "$d/bare"
  "$BIN" gen --customers "$N" --seed "$s" --quiet --out "$d/log.csv"
  "$BIN" run --log "$d/log.csv" --out-dir "$d/run" --seed "$s" --quiet 2>/dev/null
  "$BIN" eval --log "$d/log.csv" --run "$d/run" --json "$d/truth.json" --quiet >/dev/null 2>&1
  # the same log and sidecars without the truth file
  cp "$d/log.csv" "$d/log.events.csv" "$d/log.orders.csv" "$d/bare/"
  "$BIN" eval --log "$d/bare/log.csv" --run "$d/run" --json "$d/bare.json" --quiet >/dev/null 2>&1
  echo "seed $s done" >&2
done
mkdir -p bench/results
python3 - "$T" "$SEEDS" "$N" <<'PY' | tee bench/results/ope_coverage.md
import json, sys
t, seeds, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
pols = ["offerq (2-fold cross-fit)", "no coupon", "5", "10", "20"]
cov = {(e, p): 0 for e in ("ips", "dr") for p in pols}
width = {e: 0.0 for e in ("ips", "dr")}
for s in range(1, seeds + 1):
    tr = json.load(open("%s/s%d/truth.json" % (t, s)))["ope"]
    lo = json.load(open("%s/s%d/bare.json" % (t, s)))
    assert lo["log_only"] and lo["propensity"].startswith("estimated"), lo
    for p in pols:
        truth = tr[p]["true"]
        for e in ("ips", "dr"):
            v, se = lo["ope"][p][e], lo["ope"][p][e + "_se"]
            cov[(e, p)] += abs(v - truth) <= 1.96 * se
            width[e] += 2 * 1.96 * se / (seeds * len(pols))
print("# Coverage of `offerq eval`'s intervals without a truth file (bench/ope_coverage.sh)")
print()
print("%d seeds (1..%d), `offerq gen --customers %d` (default world), `offerq run`, then" % (seeds, seeds, n))
print("`offerq eval` on the log alone (propensities estimated as coupon shares) against the")
print("true per-contact value of the same policy from the generator's truth. Nominal: 95 %.")
print()
print("| policy | IPS covers | DR covers |")
print("|---|---:|---:|")
for p in pols:
    print("| %s | %d / %d | %d / %d |" % (p, cov[("ips", p)], seeds, cov[("dr", p)], seeds))
tot = {e: sum(cov[(e, p)] for p in pols) for e in ("ips", "dr")}
k = seeds * len(pols)
print("| **all** | **%d / %d (%.0f %%)** | **%d / %d (%.0f %%)** |" % (tot["ips"], k, 100 * tot["ips"] / k, tot["dr"], k, 100 * tot["dr"] / k))
print()
print("Mean interval width: IPS %.3f, DR %.3f (net reward per contact)." % (width["ips"], width["dr"]))
PY
