#!/usr/bin/env bash
# raw_vs_log.sh - issue 17: the seed's log through the raw-table path
# (offerq convert -> offerq run --contacts ... --orders --events) against the
# log path (offerq run --log, sidecars), as % of the oracle's uplift from
# offerq eval's truth. The raw path's recommendations are judged by putting
# them in a copy of the log-path run folder (eval re-reads
# recommendations.csv; its offer column is the coupon).
# Usage: bash bench/raw_vs_log.sh [OFFERQ] [CUSTOMERS] [SEEDS...]
# Environment: RAW_OPTS  extra options of the raw path's run (e.g. --explore 0)
#              GEN_OPTS  extra options of offerq gen (e.g. --world bench/worlds/alike.json)
#              BEFORE    another offerq binary (e.g. an earlier build) whose raw
#                        path is measured on the same logs, in its own column
set -euo pipefail
B=${1:-build/offerq}
N=${2:-10000}
shift 2 || true
SEEDS=${*:-1 2 3 4}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
pct() { # run folder -> % of the oracle's uplift
    "$B" eval --log "$d/log.csv" --run "$1" --quiet 2>/dev/null |
        awk '$1 == "offerq" {print $NF; exit}'
}
raw() { # binary, out-dir -> the raw path's % (its recommendations in a copy of the log path's run)
    # shellcheck disable=SC2086
    "$1" run --contacts "$d/raw/contacts.csv" --customers "$d/raw/customers.csv" \
        --offers "$d/raw/offers.csv" --orders "$d/raw/orders.csv" --events "$d/raw/events.csv" \
        --out-dir "$2" --no-crossfit --quiet ${RAW_OPTS:-} > /dev/null 2>&1
    cp -rL "$d/side" "$2.hyb"
    cp "$2/recommendations.csv" "$2.hyb/recommendations.csv"
    pct "$2.hyb"
}
printf '%-5s %10s %10s %10s' seed log_path raw_path diff
[ -n "${BEFORE:-}" ] && printf ' %10s %10s' raw_before diff
printf ' %s\n' "raw options: ${RAW_OPTS:-}; gen options: ${GEN_OPTS:-}"
for s in $SEEDS; do
    d=$T/s$s
    mkdir -p "$d"
    # shellcheck disable=SC2086
    "$B" gen --customers "$N" --seed "$s" --quiet ${GEN_OPTS:-} --out "$d/log.csv"
    "$B" run --log "$d/log.csv" --out-dir "$d/side" --quiet > /dev/null 2>&1
    "$B" convert --log "$d/log.csv" --out-dir "$d/raw" > /dev/null
    a=$(pct "$d/side")
    b=$(raw "$B" "$d/rawrun")
    printf '%-5s %10s %10s %10.1f' "$s" "$a" "$b" "$(echo "${b%\%} - ${a%\%}" | bc -l)"
    if [ -n "${BEFORE:-}" ]; then
        c=$(raw "$BEFORE" "$d/rawbefore")
        printf ' %10s %10.1f' "$c" "$(echo "${c%\%} - ${a%\%}" | bc -l)"
    fi
    printf '\n'
done
