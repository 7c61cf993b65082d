#!/usr/bin/env bash
# pg_shards.sh - the log in PostgreSQL on one server, on two, and partitioned
# (issue 20 item 3): `db load` and `db dump` wall time per layout, then
# `run` from one server against `mpirun -np 2 run` from two (each rank reads
# its own server) and from the CSV (each rank parses the whole file): wall
# time, peak memory per process, and the check that the outputs are the same
# bytes. Two throwaway servers on loopback (tests/cli/servers.sh), on the
# same machine as offerq: this measures the work, not a network.
#   bash bench/pg_shards.sh                 100,000 customers x 4 snapshots
#   CUSTOMERS=250000 bash bench/pg_shards.sh
# Needs PostgreSQL server binaries, an -DOQ_MPI=ON build (OQ_BIN, default
# build/offerq), mpirun, /usr/bin/time; writes bench/results/pg_shards.md.
set -euo pipefail
cd "$(dirname "$0")/.."
SRC=$(pwd)
BIN=${OQ_BIN:-build/offerq}
CUST=${CUSTOMERS:-100000}
SNAP=${SNAPSHOTS:-4}
OUT=${OUT:-bench/results/pg_shards.md}
T=$(mktemp -d /tmp/offerq-bench-pg-XXXXXX)
chmod 755 "$T"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# shellcheck source=../tests/cli/servers.sh
source tests/cli/servers.sh
DA= DB=
trap 'PG_DIR=$DA pg_stop; PG_DIR=$DB pg_stop; rm -rf "$T"' EXIT
mkdir -p "$T/a" "$T/b"
pg_start "$T/a" && A=$PG_URL DA=$PG_DIR
pg_start "$T/b" && B=$PG_URL DB=$PG_DIR
"$(pg_bindir)/psql" "$A" -qc "CREATE DATABASE one" -c "CREATE DATABASE parts"
ONE=${A%/postgres}/one PARTS=${A%/postgres}/parts
"$BIN" gen --customers "$CUST" --snapshots "$SNAP" --seed 1 --no-events --quiet --out "$T/log.csv"
rows=$(($(wc -l < "$T/log.csv") - 1))
secs() { python3 -c "import sys; print(f'{float(sys.argv[2]) - float(sys.argv[1]):.2f}')" "$@"; }
timed() { # timed VAR CMD...: wall seconds of CMD into VAR
  local v=$1 t0 t1
  shift
  t0=$(date +%s.%N)
  "$@" >/dev/null 2>>"$T/stderr"
  t1=$(date +%s.%N)
  printf -v "$v" '%s' "$(secs "$t0" "$t1")"
}
"$BIN" db init --pg "$ONE" 2>/dev/null
"$BIN" db init --pg "$A" --pg "$B" 2>/dev/null
"$BIN" db init --pg "$PARTS" --partitions 4 2>/dev/null
timed load1 "$BIN" db load --pg "$ONE" "$T/log.csv"
timed load2 "$BIN" db load --pg "$A" --pg "$B" "$T/log.csv"
timed loadp "$BIN" db load --pg "$PARTS" "$T/log.csv"
timed dump1 "$BIN" db dump --pg "$ONE" --out "$T/d1.csv"
timed dump2 "$BIN" db dump --pg "$A,$B" --out "$T/d2.csv"
timed dumpp "$BIN" db dump --pg "$PARTS" --out "$T/dp.csv"
cmp -s "$T/d1.csv" "$T/d2.csv" && cmp -s "$T/d1.csv" "$T/dp.csv" && dumps=yes || dumps=no

ARGS=(--orders "$T/log.orders.csv" --budget 3000 --trees 50 --epochs 2 --quiet)
TIME=(/usr/bin/time -f "peak_rss_kib %M")
run() { # run NAME THREADS CMD...
  local name=$1 th=$2 t0 t1
  shift 2
  t0=$(date +%s.%N)
  OMP_NUM_THREADS=$th "$@" "${ARGS[@]}" --out-dir "$T/$name" >/dev/null 2>"$T/$name.err"
  t1=$(date +%s.%N)
  echo "$(secs "$t0" "$t1") $(grep -o 'peak_rss_kib [0-9]*' "$T/$name.err" | cut -d' ' -f2 | tr '\n' ' ')" > "$T/$name.res"
}
run one 2 "${TIME[@]}" "$BIN" run --pg "$ONE"
run csv2 1 mpirun --oversubscribe -np 2 "${TIME[@]}" "$BIN" run --log "$T/log.csv"
run pg2 1 mpirun --oversubscribe -np 2 "${TIME[@]}" "$BIN" run --pg "$A,$B"
run pp2 1 mpirun --oversubscribe -np 2 "${TIME[@]}" "$BIN" run --pg "$PARTS"
same() {
  for f in recommendations.csv qtable.ofq bgnbd.json; do
    cmp -s "$T/$1/$f" "$T/$2/$f" || { echo no; return; }
  done
  echo yes
}
s_pg2=$(same pg2 csv2) s_pp2=$(same pp2 csv2)
load=$(uptime | sed 's/.*load average: //')
{
  echo "# PostgreSQL shards and partitions (bench/pg_shards.sh)"
  echo
  echo "\`bash bench/pg_shards.sh\` on $(date -u +%Y-%m-%d), $(nproc) cores shared with other jobs"
  echo "(load average at the end: $load); PostgreSQL $("$(pg_bindir)/postgres" --version | awk '{print $3}'),"
  echo "two servers on loopback on the same machine (fsync off); $CUST customers x $SNAP"
  echo "snapshots = $rows rows, no events file; runs with \`--trees 50 --epochs 2 --budget 3000\`."
  echo
  echo "| layout | db load s | db dump s (one process reads all) |"
  echo "|---|---|---|"
  echo "| one server | $load1 | $dump1 |"
  echo "| two servers (\`--pg A --pg B\`) | $load2 | $dump2 |"
  echo "| one server, 4 partitions | $loadp | $dumpp |"
  echo
  echo "The three dumps are the same bytes: $dumps."
  echo
  echo "| run | wall s | peak RSS per process, MiB |"
  echo "|---|---|---|"
  for r in "one:\`run --pg\` one server (2 OpenMP threads)" \
           "csv2:\`mpirun -np 2 run --log\` (each rank parses the whole CSV)" \
           "pg2:\`mpirun -np 2 run --pg A,B\` (rank r reads server r)" \
           "pp2:\`mpirun -np 2 run --pg\` 4 partitions (rank r reads 2)"; do
    n=${r%%:*} what=${r#*:}
    read -r wall rss < "$T/$n.res"
    echo "| $what | $wall | $(for k in $rss; do printf '%d ' $((k / 1024)); done) |"
  done
  echo
  echo "\`mpirun -np 2 --pg A,B\` = \`mpirun -np 2 --log\`, byte for byte: $s_pg2; on 4 partitions: $s_pp2."
} > "$OUT"
cat "$OUT"
