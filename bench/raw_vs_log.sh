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
#              MODEL_SEEDS  e.g. "1 2 3 4": both paths run once per model seed
#                        (`run --seed M`: trees, folds) on each log, one line per
#                        seed (SEED/M) and their mean (SEED/mean): a single run's
#                        gap also holds the models' run-to-run spread
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
raw() { # binary, out-dir[, more options] -> the raw path's % (its recommendations in a copy of the log path's run)
    local bin=$1 out=$2
    shift 2
    # shellcheck disable=SC2086
    "$bin" run --contacts "$d/raw/contacts.csv" --customers "$d/raw/customers.csv" \
        --offers "$d/raw/offers.csv" --orders "$d/raw/orders.csv" --events "$d/raw/events.csv" \
        --out-dir "$out" --no-crossfit --quiet ${RAW_OPTS:-} "$@" > /dev/null 2>&1
    cp -rL "$d/side" "$out.hyb"
    cp "$out/recommendations.csv" "$out.hyb/recommendations.csv"
    pct "$out.hyb"
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
    if [ -n "${MODEL_SEEDS:-}" ]; then
        sa=0 sb=0 k=0
        for m in $MODEL_SEEDS; do
            "$B" run --log "$d/log.csv" --out-dir "$d/side" --seed "$m" --quiet > /dev/null 2>&1
            a=$(pct "$d/side")
            b=$(raw "$B" "$d/raw$m" --seed "$m")
            printf '%-9s %10s %10s %10.1f\n' "$s/$m" "$a" "$b" "$(echo "${b%\%} - ${a%\%}" | bc -l)"
            sa=$(echo "$sa + ${a%\%}" | bc -l) sb=$(echo "$sb + ${b%\%}" | bc -l) k=$((k + 1))
        done
        printf '%-9s %9.2f%% %9.2f%% %10.2f\n' "$s/mean" "$(echo "$sa / $k" | bc -l)" \
            "$(echo "$sb / $k" | bc -l)" "$(echo "($sb - $sa) / $k" | bc -l)"
        continue
    fi
    a=$(pct "$d/side")
    b=$(raw "$B" "$d/rawrun")
    printf '%-5s %10s %10s %10.1f' "$s" "$a" "$b" "$(echo "${b%\%} - ${a%\%}" | bc -l)"
    if [ -n "${BEFORE:-}" ]; then
        c=$(raw "$BEFORE" "$d/rawbefore")
        printf ' %10s %10.1f' "$c" "$(echo "${c%\%} - ${a%\%}" | bc -l)"
    fi
    printf '\n'
done
