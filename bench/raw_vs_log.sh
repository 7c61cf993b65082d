#!/usr/bin/env bash
# raw_vs_log.sh - issue 17: the seed's log through the raw-table path
# (offerq convert -> offerq run --contacts ... --orders --events) against the
# log path (offerq run --log, sidecars), as % of the oracle's uplift from
# offerq eval's truth. The raw path's recommendations are judged by putting
# them in a copy of the log-path run folder (eval re-reads
# recommendations.csv; its offer column is the coupon).
# Usage: bash bench/raw_vs_log.sh [OFFERQ] [CUSTOMERS] [SEEDS...]
set -euo pipefail
B=${1:-build/offerq}
N=${2:-10000}
shift 2 || true
SEEDS=${*:-1 2 3 4}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
printf '%-5s %10s %10s %10s %s\n' seed log_path raw_path diff "raw options: ${RAW_OPTS:-}"
for s in $SEEDS; do
    d=$T/s$s
    mkdir -p "$d"
    "$B" gen --customers "$N" --seed "$s" --quiet --out "$d/log.csv"
    "$B" run --log "$d/log.csv" --out-dir "$d/side" --quiet > /dev/null 2>&1
    "$B" convert --log "$d/log.csv" --out-dir "$d/raw" > /dev/null
    # shellcheck disable=SC2086
    "$B" run --contacts "$d/raw/contacts.csv" --customers "$d/raw/customers.csv" \
        --offers "$d/raw/offers.csv" --orders "$d/raw/orders.csv" --events "$d/raw/events.csv" \
        --out-dir "$d/rawrun" --no-crossfit --quiet ${RAW_OPTS:-} > /dev/null 2>&1
    a=$("$B" eval --log "$d/log.csv" --run "$d/side" --quiet 2>/dev/null |
        awk '$1 == "offerq" {print $NF; exit}')
    cp -rL "$d/side" "$d/hyb"
    cp "$d/rawrun/recommendations.csv" "$d/hyb/recommendations.csv"
    b=$("$B" eval --log "$d/log.csv" --run "$d/hyb" --quiet 2>/dev/null |
        awk '$1 == "offerq" {print $NF; exit}')
    printf '%-5s %10s %10s %10.1f\n' "$s" "$a" "$b" "$(echo "${b%\%} - ${a%\%}" | bc -l)"
done
