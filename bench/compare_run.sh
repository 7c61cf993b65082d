#!/usr/bin/env bash
# compare_run.sh - wall time of the nightly job of two offerq builds on one
# log, R runs each, alternating (A B A B ...) so that a shared machine's load
# falls on both alike; prints each run, the medians and the ratio, checks that
# both wrote the same recommendations.csv and qtable.ofq, and writes the table
# to bench/results/compare_run.md (or $OUT).
#   bash bench/compare_run.sh OLD_OFFERQ NEW_OFFERQ [R] [CUSTOMERS]
# Example (the redesign against the main before it):
#   git worktree add /tmp/old 163e774 && cmake -S /tmp/old -B /tmp/old/b && \
#   cmake --build /tmp/old/b --target offerq && \
#   bash bench/compare_run.sh /tmp/old/b/offerq build/offerq 5
set -euo pipefail
A=${1:?old offerq binary}; B=${2:?new offerq binary}; R=${3:-5}; N=${4:-10000}
OUT=${OUT:-$(dirname "$0")/results/compare_run.md}
T=$(mktemp -d /tmp/offerq-bench-XXXXXX)
trap 'rm -rf "$T"' EXIT
"$B" gen --customers "$N" --seed 1 --quiet --out "$T/log.csv"
ta=() tb=()
for i in $(seq 1 "$R"); do
  for w in a b; do
    bin=$A; [ $w = b ] && bin=$B
    rm -rf "$T/run$w" "$T/run$w.runs"
    s=$(date +%s%N)
    "$bin" run --log "$T/log.csv" --out-dir "$T/run$w" --budget 5000 --quiet 2>/dev/null
    ms=$(( ($(date +%s%N) - s) / 1000000 ))
    if [ $w = a ]; then ta+=("$ms"); else tb+=("$ms"); fi
    echo "run $i $w: $ms ms"
  done
done
same=yes
for f in recommendations.csv qtable.ofq; do cmp -s "$T/runa/$f" "$T/runb/$f" || same=no; done
med() { printf '%s\n' "$@" | sort -n | awk '{v[NR] = $1} END {print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2}'; }
ma=$(med "${ta[@]}"); mb=$(med "${tb[@]}")
ratio=$(awk -v a="$ma" -v b="$mb" 'BEGIN { printf "%.3f", b / a }')
{
  echo "# offerq run: two builds on one log"
  echo
  echo "\`bash bench/compare_run.sh $A $B $R $N\` on $(date -u +%Y-%m-%d), $(nproc) cores;"
  echo "log: \`offerq gen --customers $N --seed 1\`; \`offerq run --budget 5000\`; $R runs each, alternating."
  echo
  echo "| build | median ms | runs (ms) |"
  echo "|---|---|---|"
  echo "| old ($A) | $ma | ${ta[*]} |"
  echo "| new ($B) | $mb | ${tb[*]} |"
  echo
  echo "new / old = $ratio; identical recommendations.csv and qtable.ofq: $same"
} | tee "$OUT"
[ $same = yes ]
