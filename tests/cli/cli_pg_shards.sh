#!/usr/bin/env bash
# cli_pg_shards.sh - issue 20 item 3: the log in PostgreSQL, sharded by customer.
# Two real PostgreSQL servers on loopback (tests/cli/servers.sh), A and B, and
# two more databases on A: "one" (the whole log, a plain table) and "parts"
# (customer_log partitioned into 4 by offerq's shard, db init --partitions 4).
#   - db load --pg A,B puts every customer's rows on server splitmix64(u) mod 2
#     (checked against tools/shard_of.py, an independent Python splitmix64),
#     and into partition splitmix64(u) mod 4 of "parts"; loading again changes
#     nothing; runs stay on the first server.
#   - run --pg A --pg B, run --pg one, run --pg parts and run --log on the CSV
#     write byte-identical recommendations.csv, qtable.ofq and bgnbd.json;
#     --shards 2 likewise against run --log --shards 2.
#   - under mpirun -np 2 (an MPI build): --pg A,B and --pg parts equal
#     run --log --shards 2, and each server's customer_log (each partition of
#     "parts") is scanned once in all (pg_stat_user_tables.seq_scan): a rank
#     reads only its own shard; -np 3 over 2 plain servers is refused.
#   - bad input: a shard that cannot connect is named (shard 1, URL 2 of 2),
#     the servers in the wrong order are refused, --partitions that differ
#     from the table's are refused, a third server in the list of a nightly
#     --check is named when down; the nightly's [source] pg takes the list (a
#     night loads and reads every server, saves on the first, and writes the
#     list of run --pg A --pg B).
# A 4,000-customer log of 4 snapshots each (16,000 rows), learners cut down.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
# shellcheck source=servers.sh
source "$SRC/tests/cli/servers.sh"
pg_pair_setup
"$PSQL" "$A" -qc "CREATE DATABASE one" -c "CREATE DATABASE parts" || die "CREATE DATABASE"
ONE=${A%/postgres}/one
PARTS=${A%/postgres}/parts
q() { "$PSQL" "$1" -AtF, -c "$2"; }

# no events file: the runs from PostgreSQL and from the CSV see the same inputs
"$BIN" gen --customers 4000 --snapshots 4 --seed 11 --no-events --quiet --out "$T/log.csv" 2>/dev/null ||
  die "gen"
rows=$(($(wc -l < "$T/log.csv") - 1))

# ---- db init / load ----------------------------------------------------------------
check "db init on 2 servers" bash -c "'$BIN' db init --pg '$A' --pg '$B' 2>&1 | grep -q 'schema ready on 2 servers'"
out=$("$BIN" db load --pg "$A,$B" "$T/log.csv" 2>&1)
check "db load --pg A,B: every row, into 2 servers" grep -q "loaded $rows rows .* into 2 servers .*: $rows new" <<< "$out"
q "$A" "SELECT user_id FROM customer_log" > "$T/on_a"
q "$B" "SELECT user_id FROM customer_log" > "$T/on_b"
check "  each customer on server splitmix64(u) mod 2 (tools/shard_of.py)" bash -c \
  "python3 '$SRC/tools/shard_of.py' 2 < '$T/on_a' | sort -u | tr '\n' ' ' | grep -qx '0 ' &&
   python3 '$SRC/tools/shard_of.py' 2 < '$T/on_b' | sort -u | tr '\n' ' ' | grep -qx '1 ' &&
   test \$((\$(wc -l < '$T/on_a') + \$(wc -l < '$T/on_b'))) -eq $rows"
out=$("$BIN" db load --pg "$A" --pg "$B" "$T/log.csv" 2>&1)
check "  loading again changes nothing" grep -q ": 0 new, 0 changed, $rows already there" <<< "$out"
check "  db status sums the servers" bash -c "'$BIN' db status --pg '$A $B' | grep -qx 'customer_log *$rows'"

"$BIN" db init --pg "$ONE" 2>/dev/null && "$BIN" db load --pg "$ONE" "$T/log.csv" 2>/dev/null || die "load one"
check "db init --partitions 4" bash -c "'$BIN' db init --pg '$PARTS' --partitions 4 2>&1 | grep -q 'customer_log in 4 partitions'"
"$BIN" db load --pg "$PARTS" "$T/log.csv" 2>/dev/null || die "load parts"
check "  customer_log partitioned by LIST (shard) into customer_log_p0..p3" test \
  "$(q "$PARTS" "SELECT pg_get_partkeydef('customer_log'::regclass), count(*) FROM pg_inherits WHERE inhparent = 'customer_log'::regclass")" = "LIST (shard),4"
q "$PARTS" "SELECT tableoid::regclass, user_id FROM customer_log" > "$T/parts.txt"
check "  each row in partition splitmix64(u) mod 4" python3 - "$T/parts.txt" "$SRC/tools" <<'PY'
import sys
sys.path.insert(0, sys.argv[2])
from shard_of import shard_of
rows = [l.strip().split(",") for l in open(sys.argv[1])]
assert len(rows) > 0
bad = [r for r in rows if r[0] != f"customer_log_p{shard_of(int(r[1]), 4)}"]
sys.exit(1 if bad else 0)
PY
expect 1 "--partitions 3: customer_log already exists and has 4 partitions" \
  "$BIN" db init --pg "$PARTS" --partitions 3
expect 1 "--partitions 2: customer_log already exists and is a plain table" \
  "$BIN" db init --pg "$ONE" --partitions 2
check "  db init without --partitions keeps the partitioned table" bash -c "'$BIN' db init --pg '$PARTS' 2>/dev/null"

# ---- one process: every layout gives the CSV run's bytes ---------------------------
ARGS=(--orders "$T/log.orders.csv" --budget 400 --trees 30 --plan-k 5 --epochs 2 --quiet)
FILES="recommendations.csv qtable.ofq bgnbd.json"
same() {
  for f in $FILES; do cmp -s "$1/$f" "$2/$f" || { echo "  $f differs" >&2; return 1; }; done
}
run() { # run OUT ARGS...: offerq run ... --out-dir $T/OUT (stdout to $T/OUT.out)
  local o=$1; shift
  "$BIN" run "$@" "${ARGS[@]}" --out-dir "$T/$o" >"$T/$o.out" 2>"$T/$o.err" || { cat "$T/$o.err"; die "run $o"; }
}
run csv --log "$T/log.csv"
run one --pg "$ONE"
run two --pg "$A" --pg "$B"
run parts --pg "$PARTS"
check "run --pg one server = run --log, byte for byte" same "$T/one" "$T/csv"
check "run --pg A --pg B (2 servers) = run --log" same "$T/two" "$T/csv"
check "run --pg partitioned = run --log" same "$T/parts" "$T/csv"
check "  the run is saved on the first server only" test \
  "$(cat "$T/two.out") $(q "$A" "SELECT count(*) FROM runs") $(q "$B" "SELECT count(*) FROM runs")" = "run 1: 4000 recommendations saved 1 0"
run csv2 --log "$T/log.csv" --shards 2
run two2 --pg "$A,$B" --shards 2
check "run --pg A,B --shards 2 = run --log --shards 2" same "$T/two2" "$T/csv2"

# ---- bad input -------------------------------------------------------------------------
dead="postgresql://offerq@127.0.0.1:$(free_port)/postgres"
expect 1 "shard 1 \(URL 2 of 2, postgresql://offerq@127.0.0.1:[0-9]+/postgres\): cannot connect" \
  "$BIN" run --pg "$A" --pg "$dead" "${ARGS[@]}"
expect 1 "shard 1 \(URL 2 of 2, .*\): cannot connect" "$BIN" db load --pg "$A,$dead" "$T/log.csv"
expect 1 "shard 0 \(URL 1 of 2, .*\): user_id [0-9]+ is on this server but belongs to shard 1 of the 2 servers" \
  "$BIN" run --pg "$B" --pg "$A" "${ARGS[@]}"
check "  a failed run saves nothing" test "$(q "$A" "SELECT count(*) FROM runs")" = 2
expect 2 "--pg: no PostgreSQL URL given" "$BIN" run --pg "" "${ARGS[@]}"

# ---- the nightly: [source] pg takes the list ----------------------------------------------
mkdir -p "$T/n"
cat > "$T/n/n.conf" <<EOF
[source]
pg = $A, $B
orders = $T/log.orders.csv
[run]
budget = 400
trees = 30
plan_k = 5
epochs = 2
[output]
dir = out
EOF
check "nightly --check: both servers asked, the log's rows summed" bash -c \
  "'$BIN' nightly --config '$T/n/n.conf' --check 2>&1 | grep -q '(2 servers; runs on the first); customer_log $rows rows'"
runs_a=$(q "$A" "SELECT count(*) FROM runs")
"$BIN" nightly --config "$T/n/n.conf" >"$T/n/out.txt" 2>&1 || { cat "$T/n/out.txt"; die "nightly"; }
check "  a night on the list: the run saved on the first server, the same list as run --pg A --pg B" \
  test "$(q "$A" "SELECT count(*) FROM runs") $(q "$B" "SELECT count(*) FROM runs")" = "$((runs_a + 1)) 0"
check "  (recommendations.csv, qtable.ofq, bgnbd.json byte for byte)" same "$T/n/out" "$T/two"
sed -i "s|^pg = .*|pg = $A, $B, $dead|" "$T/n/n.conf"
check "  a server down is named" bash -c \
  "'$BIN' nightly --config '$T/n/n.conf' --check 2>&1 | grep -q 'shard 2 (URL 3 of 3, .*cannot connect'"

if [ $MPI = 0 ]; then
  echo "skip the mpirun half: not an MPI build (cmake -DOQ_MPI=ON) or no mpirun"
  echo "$passes passed, $fails failed"
  [ $fails -eq 0 ]
  exit
fi

# ---- mpirun -np 2: each rank reads its shard only ---------------------------------------
# seq_scan of each table (cumulative statistics; a backend reports them when it ends)
scans() { q "$1" "SELECT relname, seq_scan FROM pg_stat_user_tables WHERE relname LIKE 'customer_log%' ORDER BY 1" | tr '\n' ' '; }
once() { # once URL BEFORE TABLE...: each TABLE scanned exactly once since BEFORE (the
  # statistics arrive when the readers' backends end: wait for them, at most 10 s)
  local url=$1 before=$2
  shift 2
  for _ in $(seq 50); do
    python3 - "$before" "$(scans "$url")" "$@" <<'PY' && return 0
import sys
def seq(s): return {k: int(v) for k, v in (x.split(",") for x in s.split())}
a, b = seq(sys.argv[1]), seq(sys.argv[2])
sys.exit(not all(b[t] - a[t] == 1 for t in sys.argv[3:]))
PY
    sleep 0.2
  done
  return 1
}
sa=$(scans "$A") sb=$(scans "$B") sp=$(scans "$PARTS")
mpirun --oversubscribe -np 2 "$BIN" run --pg "$A,$B" "${ARGS[@]}" --out-dir "$T/m2" >"$T/m2.out" 2>"$T/m2.err" ||
  { cat "$T/m2.err"; die "mpirun -np 2 --pg A,B"; }
check "mpirun -np 2 --pg A,B = run --log --shards 2, byte for byte" same "$T/m2" "$T/csv2"
check "  saved once, on the first server" test "$(cat "$T/m2.out") $(q "$A" "SELECT count(*) FROM runs")" = "run 4: 4000 recommendations saved 4"
both() { once "$A" "$sa" customer_log && once "$B" "$sb" customer_log; }
check "  each server's customer_log read once in all (rank 0: A, rank 1: B)" both
mpirun --oversubscribe -np 2 "$BIN" run --pg "$PARTS" "${ARGS[@]}" --out-dir "$T/mp2" >/dev/null 2>"$T/mp2.err" ||
  { cat "$T/mp2.err"; die "mpirun -np 2 --pg parts"; }
check "mpirun -np 2 --pg partitioned (4) = run --log --shards 2" same "$T/mp2" "$T/csv2"
check "  each partition read once in all (rank 0: p0, p2; rank 1: p1, p3)" \
  once "$PARTS" "$sp" customer_log_p0 customer_log_p1 customer_log_p2 customer_log_p3
expect 1 "part [0-9] of 3 cannot read only its customers: 3 parts do not divide the 2 servers, and customer_log here is not partitioned" \
  mpirun --oversubscribe -np 3 "$BIN" run --pg "$A,$B" "${ARGS[@]}" --out-dir "$T/m3"
check "  and writes nothing" test ! -e "$T/m3"
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
