#!/usr/bin/env bash
# clv.sh - the CLV term of the coupon plan (`offerq run --clv-weight W`,
# docs/readme/bgnbd.md) in the 30-day closed loop: myopic (tomorrow's r~)
# against clv (r~ plus the caused change in P(order) times the BG/NBD value
# of an order's future), in the default world, the same world with every
# lasting effect off (no tomorrow: the no-regret check) and variants of
# bench/worlds/, on several seeds. Writes the table to bench/results/clv.md
# (or $OUT) and every run's JSON to bench/results/clv.json (or $OUT_JSON).
#   [WORLDS="default off fewpersuadable"] [W=1] [MODEL=bgnbd|log] [JOBS=2] \
#     bash bench/clv.sh [OFFERQ] [CUSTOMERS] [SEEDS...]
# Example (what docs/readme/bgnbd.md's table comes from):
#   bash bench/clv.sh build/offerq 4000 1 2 101
set -euo pipefail
B=$(realpath "${1:-build/offerq}"); N=${2:-4000}
shift $(( $# < 2 ? $# : 2 ))
SEEDS=("$@"); [ ${#SEEDS[@]} -gt 0 ] || SEEDS=(1 2 101)
WORLDS=${WORLDS:-default off fewpersuadable}; W=${W:-1}; MODEL=${MODEL:-bgnbd}; JOBS=${JOBS:-2}
D=$(cd "$(dirname "$0")" && pwd)
OUT=${OUT:-$D/results/clv.md}; OUT_JSON=${OUT_JSON:-$D/results/clv.json}
T=$(mktemp -d /tmp/offerq-clv-XXXXXX)
trap 'rm -rf "$T"' EXIT
one() { # world seed
  local w=$1 s=$2 opt=()
  case $w in default) ;; off) opt=(--no-lasting) ;; *) opt=(--world "$D/worlds/$w.json") ;; esac
  "$B" gen "${opt[@]}" --customers "$N" --seed "$s" --quiet --out "$T/$w-$s.csv" 2>/dev/null
  OMP_NUM_THREADS=1 nice -n 10 "$B" eval --log "$T/$w-$s.csv" --horizon 30 --refit-every 7 \
    --seed "$s" --clv-weight "$W" --clv-model "$MODEL" --quiet --json "$T/$w-$s.json" >"$T/$w-$s.txt"
  echo "== $w seed $s"; cat "$T/$w-$s.txt"
}
export -f one; export B N W MODEL T D
for w in $WORLDS; do for s in "${SEEDS[@]}"; do echo "$w $s"; done; done |
  xargs -P "$JOBS" -n 2 bash -c 'one "$0" "$1"'
/usr/bin/python3 "$D/clv_table.py" "$T" "$OUT" "$OUT_JSON" "$N" "$W" "$MODEL" "$WORLDS" "${SEEDS[@]}"
