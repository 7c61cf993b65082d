#!/usr/bin/env bash
# omp_wait.sh - the nightly job's wall time under OpenMP's wait policies
# (issue 18): offerq's default (threads sleep when idle: OMP_WAIT_POLICY=
# passive unless the user set a policy), active spinning, and a short spin
# (GOMP_SPINCOUNT=10000), R runs each, alternating, on a quiet machine and
# beside two busy loops (a shared cron host). Writes bench/results/omp_wait.md
# (or $OUT).
#   bash bench/omp_wait.sh [OFFERQ] [R] [CUSTOMERS]
# Example: bash bench/omp_wait.sh build/offerq 3 10000
set -euo pipefail
B=$(realpath "${1:-build/offerq}"); R=${2:-3}; N=${3:-10000}
OUT=${OUT:-$(dirname "$0")/results/omp_wait.md}
T=$(mktemp -d /tmp/offerq-bench-XXXXXX)
busy=()
trap 'for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$T"' EXIT
"$B" gen --customers "$N" --seed 1 --quiet --out "$T/log.csv" 2>/dev/null
variants=("default (passive)|" "active|OMP_WAIT_POLICY=active" "spin 10000|GOMP_SPINCOUNT=10000")
declare -A ms
for load in quiet loaded; do
  if [ $load = loaded ]; then
    for k in 1 2; do (while :; do :; done) & busy+=($!); done
  fi
  for i in $(seq 1 "$R"); do
    for v in "${variants[@]}"; do
      name=${v%%|*}; envv=${v#*|}
      rm -rf "$T/run" "$T/run.runs"
      s=$(date +%s%N)
      env $envv "$B" run --log "$T/log.csv" --out-dir "$T/run" --budget 5000 --quiet 2>/dev/null
      t=$(( ($(date +%s%N) - s) / 1000000 ))
      ms["$load|$name"]+="$t "
      echo "$load $name: $t ms"
    done
  done
  for p in "${busy[@]}"; do kill "$p" 2>/dev/null || true; done
  busy=()
done
{
  echo "The nightly job on $N customers ($(( N * 7 )) rows), $R runs per cell, alternating;"
  echo "loaded = beside two busy loops on this 2-core machine (\`bash bench/omp_wait.sh build/offerq $R $N\`)."
  echo
  echo "| wait policy | quiet: median ms (runs) | loaded: median ms (runs) |"
  echo "|---|---|---|"
  for v in "${variants[@]}"; do
    name=${v%%|*}
    row="| $name |"
    for load in quiet loaded; do
      runs=${ms["$load|$name"]}
      med=$(tr ' ' '\n' <<<"$runs" | grep . | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}')
      row+=" $med ($runs) |"
    done
    echo "$row"
  done
} | tee "$OUT"
