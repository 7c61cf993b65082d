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
#      across a Redis restart; the dashboard data is built once per version
#      (issue 21 item 5), not per request;
#   5  job metrics (offerq_run_*, offerq_table_*) on /metrics, equal to the
#      run's report.json, from --dir and from --redis.
# KEEP_T=1 keeps the scratch folder (logs, bodies) for a look after a failure.
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
  [ -n "${KEEP_T:-}" ] && echo "kept $T" || rm -rf "$T"
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
  [ -f "$T/serve.log" ] && cat "$T/serve.log" >> "$T/serve.all.log"
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
# revenue: with 3 units of butter, selling one at 10% off with bread pays in
# revenue but not in profit (its margin is worth more sold alone later), and
# the API check below needs a bundle
"$BIN" crosssell learn --items "$T/items.csv" --rules "$T/rules.csv" --discounts 0.1 --episodes 3000 \
  --objective revenue \
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

# ---- 4: serve --redis through a Redis outage; AUTH; versions across restarts ------------
# Our own redis-server on a port that stays the same across restarts, with a
# data directory: SAVE + kill, then a start on the same dir reloads the data.
RPORT=$(free_port); RPID=
rs_start() { # rs_start DIR [redis-server args...]
  local d=$1; shift; mkdir -p "$d"
  redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no --daemonize yes \
    --pidfile "$d/redis.pid" --dir "$d" --dbfilename dump.rdb --logfile "$d/redis.log" "$@" || return 1
  for _ in $(seq 100); do [ -s "$d/redis.pid" ] && redis-cli -p "$RPORT" --no-auth-warning "${RCLI_AUTH[@]}" ping 2>/dev/null | grep -q PONG && break; sleep 0.05; done
  RPID=$(cat "$d/redis.pid")
}
rs_stop() { # SIGTERM and wait (no save: --save '')
  [ -n "$RPID" ] || return 0
  kill "$RPID" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$RPID" 2>/dev/null || break; sleep 0.05; done
  RPID=
}
RCLI_AUTH=()
rc4() { redis-cli -p "$RPORT" --no-auth-warning "${RCLI_AUTH[@]}" --raw "$@"; }
old_cleanup=$(declare -f cleanup | tail -n +2)
cleanup() { rs_stop; eval "$old_cleanup"; }
hdr() { tr -d '\r' < "$T/hdr" | sed -n "s/^$1: //Ip"; } # hdr NAME: a header of the last answer

rs_start "$T/rd" || die "redis-server did not start"
R="redis://127.0.0.1:$RPORT"
out=$("$BIN" publish --redis "$R" "$T/run1" 2>/dev/null)
check "publish the run folder (sequence 1) -> version 1" test "$(head -1 <<< "$out")" = "current 1"
start_serve --redis "$R" || die "serve --redis did not start"
u=$(awk -F, 'NR == 2 {print $1}' "$T/run1/recommendations.csv")
coupon=$(awk -F, 'NR == 2 {print $4}' "$T/run1/recommendations.csv")
http GET "/v1/recommend/$u"
check "fresh answer: 200, X-Offerq-Version 1, no stale header" \
  test "$CODE|$(hdr X-Offerq-Version)|$(hdr X-Offerq-Stale)" = "200|1|"
check "  the table is held in memory (serve says so)" grep -q "version 1 (.* users) held in memory" "$T/serve.log"

# A bounded request loop on loopback while Redis goes away and comes back.
loop() { # one line per request: code stale version coupon
  local i
  for i in $(seq 1500); do
    [ -e "$T/loop.stop" ] && break
    code=$(curl -s -D "$T/lh" -o "$T/lb" -w '%{http_code}' -m 5 "http://127.0.0.1:$PORT/v1/recommend/$u")
    echo "$code $(tr -d '\r' < "$T/lh" | sed -n 's/^X-Offerq-Stale: //Ip' | head -1)x $(tr -d '\r' < "$T/lh" | sed -n 's/^X-Offerq-Version: //Ip')" \
      "$(sed -n 's/.*"coupon":"\([^"]*\)".*/\1/p' "$T/lb")"
    sleep 0.01
  done > "$T/loop.log"
}
loop & LOOP=$!
sleep 1
rc4 SAVE >/dev/null
rs_stop
sleep 2
http GET "/v1/recommend/$u"
check "Redis down: /v1/recommend still 200, X-Offerq-Stale: 1, version 1" \
  test "$CODE|$(hdr X-Offerq-Stale)|$(hdr X-Offerq-Version)" = "200|1|1"
check "  with the table's age in X-Offerq-Table-Age (${AGE:=$(hdr X-Offerq-Table-Age)} s)" \
  test -n "$AGE" -a "${AGE:-x}" -ge 0 -a "${AGE:-x}" -lt 600
check "  and the same coupon as before ($coupon)" test "$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["coupon"])' "$T/body")" = "$coupon"
http GET /v1/recommend/99999999
check "  an unknown user: 404 from the held table, flagged stale" test "$CODE|$(hdr X-Offerq-Stale)" = "404|1"
http GET /healthz
check "  /healthz: 200 \"stale\", Redis unreachable" \
  python3 -c "import json; d=json.load(open('$T/body')); assert d['status'] == 'stale' and d['redis'] == 'unreachable' and d['version'] == '1', d"
check "  no internal address or Redis error text in any body" \
  bash -c "! grep -qiE '127\.0\.0\.1|$RPORT|refused|redis://' '$T/body' '$T/loop.log'"
check "  stderr says why, once" test "$(grep -c 'Redis unreachable' "$T/serve.log")" = 1
http GET /metrics
check "  metrics: offerq_table_redis_up 0, held version 1, stale answers counted" \
  bash -c "grep -qx 'offerq_table_redis_up 0' '$T/body' && grep -qx 'offerq_table_held_version 1' '$T/body' && grep -q '^offerq_table_stale_answers_total [1-9]' '$T/body'"
http GET /v1/dashboard.json
check "  the dashboard data from the held table (stale)" test "$CODE|$(hdr X-Offerq-Stale)" = "200|1"
rs_start "$T/rd" || die "redis-server did not restart"
check "  Redis reloaded its data (current 1)" test "$(rc4 GET offerq:current)" = 1
fresh() { curl -s -D "$T/fh" -o /dev/null "http://127.0.0.1:$PORT/v1/recommend/$u" && ! grep -qi '^X-Offerq-Stale' "$T/fh"; }
t0=$(date +%s%N)
for _ in $(seq 200); do fresh && break; sleep 0.05; done
dt=$((($(date +%s%N) - t0) / 1000000))
check "Redis back (same data): fresh again within ${dt} ms" fresh
sleep 0.5
touch "$T/loop.stop"; wait $LOOP
n=$(wc -l < "$T/loop.log"); nstale=$(grep -c '^200 1x' "$T/loop.log"); nbad=$(grep -vc '^200 ' "$T/loop.log")
check "request loop: $n requests, none failed ($nbad not 200), $nstale stale" test "$n" -gt 20 -a "$nbad" = 0 -a "$nstale" -gt 0
check "  every answer version 1 with the same coupon" bash -c "! grep -v ' 1 $coupon\$' '$T/loop.log' | grep -q ."
check "  fresh before the outage, stale during it, fresh after" \
  python3 -c "
import re
s = ''.join('s' if l.split()[1] == '1x' else 'f' for l in open('$T/loop.log'))
assert re.fullmatch(r'f+s+f+', s), s"
check "  stderr: Redis reachable again" grep -q "Redis reachable again" "$T/serve.log"

# Versions across a Redis that restarts empty: the run folder's sequence
# number (or --run-id) is the floor, so the version never goes back.
out=$("$BIN" publish --redis "$R" "$T/run1" 2>/dev/null)
check "publish again -> version 2" test "$(head -1 <<< "$out")" = "current 2"
for _ in $(seq 100); do grep -q "version 2 (.* users) held" "$T/serve.log" && break; sleep 0.05; done
# The dashboard data in --redis mode is built once per version held (by the
# keeper), never per request: 20 concurrent requests share one document.
pids=()
for i in $(seq 20); do
  curl -s -o "$T/dj$i" -D "$T/djh$i" "http://127.0.0.1:$PORT/v1/dashboard.json" & pids+=($!)
done
wait "${pids[@]}"
check "dashboard.json (--redis): 20 concurrent answers, version 2, fresh, one body" python3 - "$T" <<'PY'
import json, sys
bodies = {open("%s/dj%d" % (sys.argv[1], i), "rb").read() for i in range(1, 21)}
heads = [open("%s/djh%d" % (sys.argv[1], i)).read().lower() for i in range(1, 21)]
assert len(bodies) == 1, len(bodies)
assert all(" 200" in h.splitlines()[0] and "x-offerq-version: 2" in h and "x-offerq-stale" not in h
           for h in heads), heads[0]
assert json.loads(bodies.pop())["version"] == "2"
PY
http GET /metrics
check "  built twice in all: once for version 1, once for version 2 (offerq_table_dashboard_builds_total)" \
  grep -qx 'offerq_table_dashboard_builds_total 2' "$T/body"
rs_stop; rm -rf "$T/rd"
rs_start "$T/rd" || die "redis-server did not restart empty"
# serve tries Redis again after its backoff (at most 5 s): until then it stays on the held table
redis_up() { curl -s "http://127.0.0.1:$PORT/metrics" | grep -qx 'offerq_table_redis_up 1'; }
for _ in $(seq 200); do redis_up && break; sleep 0.05; done
check "serve reconnected to the restarted Redis (offerq_table_redis_up 1)" redis_up
http GET "/v1/recommend/$u"
check "Redis back but empty: the held version 2, flagged stale" test "$CODE|$(hdr X-Offerq-Stale)|$(hdr X-Offerq-Version)" = "200|1|2"
http GET /healthz
check "  /healthz: stale, Redis empty" python3 -c "import json; d=json.load(open('$T/body')); assert d['status'] == 'stale' and d['redis'] == 'empty', d"
mkdir -p "$T/night.runs"; cp -r "$(readlink -f "$T/run1")" "$T/night.runs/000007-20260101T000000Z"
ln -sfn night.runs/000007-20260101T000000Z "$T/night"
out=$("$BIN" publish --redis "$R" "$T/night" 2>/dev/null)
check "publish run folder 7 into the empty Redis -> version 7, not 1" test "$(head -1 <<< "$out")" = "current 7"
http GET "/v1/recommend/$u"
check "  served fresh as version 7" test "$CODE|$(hdr X-Offerq-Stale)|$(hdr X-Offerq-Version)" = "200||7"
out=$("$BIN" publish --redis "$R" --run-id 42 "$T/night" 2>/dev/null)
check "publish --run-id 42 -> version 42" test "$(head -1 <<< "$out")" = "current 42"
out=$("$BIN" publish --redis "$R" "$T/night" 2>/dev/null)
check "  the next publish -> 43 (never back to 7)" test "$(head -1 <<< "$out")" = "current 43"
stop_serve

# A serve that holds nothing yet (nothing published under its prefix) and
# loses Redis: 503 without Redis's address or error text.
start_serve --redis "$R" --prefix nothing || die "serve --prefix nothing did not start"
rs_stop
http GET "/v1/recommend/$u"
check "no table held, Redis down: 503 with a plain message" test "$CODE|$BODY" = '503|{"error":"recommendation store unavailable, try again later"}'
http GET /healthz
check "  /healthz 503 {\"status\":\"unavailable\"}" test "$CODE|$BODY" = '503|{"status":"unavailable"}'
check "  the reason on stderr (connection refused)" grep -q "Redis unreachable (.*refused" "$T/serve.log"
stop_serve

# ---- Redis AUTH: requirepass and an ACL user ------------------------------------------
PW='p@ss:w/rd' # needs %XX in a URL
rs_start "$T/ra" --requirepass "$PW" --user offerq on '>acl-pw' '~*' '&*' '+@all' || die "redis-server with AUTH did not start"
RCLI_AUTH=(-a "$PW")
check "redis-server requires a password" bash -c "redis-cli -p $RPORT ping | grep -q NOAUTH"
out=$("$BIN" publish --redis "redis://127.0.0.1:$RPORT" "$T/run1" 2>&1); rc=$?
check "publish without a password: exit 1, says how to give one" \
  bash -c "test $rc -eq 1 && grep -q 'NOAUTH' <<< \"\$1\" && grep -q 'OFFERQ_REDIS_PASSWORD' <<< \"\$1\"" _ "$out"
out=$("$BIN" publish --redis "redis://:wrong-secret@127.0.0.1:$RPORT" "$T/run1" 2>&1); rc=$?
check "a wrong password: exit 1, refused, the password not echoed" \
  bash -c "test $rc -eq 1 && grep -q 'refused the credentials' <<< \"\$1\" && ! grep -q wrong-secret <<< \"\$1\"" _ "$out"
out=$("$BIN" publish --redis "redis://:p%40ss%3Aw%2Frd@127.0.0.1:$RPORT" "$T/run1" 2>"$T/pub.err")
check "requirepass password in the URL (%XX-escaped) -> version 1" test "$(head -1 <<< "$out")" = "current 1"
out=$(OFFERQ_REDIS_PASSWORD="$PW" "$BIN" publish --redis "redis://127.0.0.1:$RPORT" "$T/run1" 2>"$T/pub.err")
check "password from \$OFFERQ_REDIS_PASSWORD -> version 2" test "$(head -1 <<< "$out")" = "current 2"
out=$("$BIN" publish --redis "redis://offerq:wrong@127.0.0.1:$RPORT" "$T/run1" 2>&1); rc=$?
check "ACL user with a wrong password: refused, naming the user" \
  bash -c "test $rc -eq 1 && grep -q \"user 'offerq'\" <<< \"\$1\"" _ "$out"
out=$("$BIN" publish --redis "redis://offerq:acl-pw@127.0.0.1:$RPORT" "$T/run1" 2>"$T/pub.err")
check "ACL user offerq -> version 3" test "$(head -1 <<< "$out")" = "current 3"
start_serve --redis "redis://offerq:acl-pw@127.0.0.1:$RPORT" || die "serve with an ACL user did not start"
http GET "/v1/recommend/$u"
check "serve as the ACL user: 200, version 3" test "$CODE|$(hdr X-Offerq-Version)" = "200|3"
check "  its log shows the URL without the password" \
  bash -c "grep -q 'redis://offerq:\*\*\*@127.0.0.1' '$T/serve.log' && ! grep -q acl-pw '$T/serve.log'"
stop_serve
out=$("$BIN" publish --redis "redis://:bad%zzsecret@127.0.0.1:$RPORT" "$T/run1" 2>&1); rc=$?
check "a malformed %XX in the password: refused before connecting, password shown as ***" \
  bash -c "test $rc -eq 1 && grep -q 'bad user or password' <<< \"\$1\" && grep -q 'redis://:\*\*\*@' <<< \"\$1\" && ! grep -q zzsecret <<< \"\$1\"" _ "$out"
rs_stop

# ---- 5: job metrics on /metrics (offerq_run_*, offerq_table_*) -------------------------
# check_metrics MODE: /metrics against the run's own report.json and log.
check_metrics() {
  python3 - "$T/body" "$T/run1/report.json" "$(($(wc -l < "$T/log.csv") - 1))" "$1" <<'PY'
import json, re, sys, time
text, rep, rows, mode = open(sys.argv[1]).read(), json.load(open(sys.argv[2])), int(sys.argv[3]), sys.argv[4]
m = {}
for line in text.splitlines():
    if line.startswith("#"): continue
    k, v = line.rsplit(" ", 1)
    m[k] = float(v)
plan, run, t = rep["plan"], rep["run"], rep["timings_s"]
assert m["offerq_run_customers"] == plan["customers"], m
coupons = {k: m['offerq_run_coupons{coupon="%s"}' % k] for k in plan["coupons"]}
assert coupons == {k: float(v) for k, v in plan["coupons"].items()}, coupons
assert sum(coupons.values()) == plan["customers"]
assert m["offerq_run_budget"] == plan["budget"] == 300, m
assert m["offerq_run_expected_spend"] == plan["expected_spend"], m
assert abs(m["offerq_run_budget_used_ratio"] - plan["expected_spend"] / 300) <= 1e-15, m
for k, v in t.items():
    assert m['offerq_run_stage_seconds{stage="%s"}' % k] == v, k
assert m["offerq_run_log_rows"] == rows == run["log_rows"], (m, rows)
start, end = m["offerq_run_start_timestamp_seconds"], m["offerq_run_end_timestamp_seconds"]
assert start == run["started_at"] and end == run["finished_at"], m
assert start <= end <= time.time() + 1 and time.time() - end < 600, (start, end)
assert end - start >= t["total"] - 0.01, (start, end, t["total"])
assert m["offerq_run_success"] == 1
assert m["offerq_table_users"] == plan["customers"], m
assert 0 <= m["offerq_table_age_seconds"] < 600, m
if mode == "redis":
    assert m["offerq_table_redis_up"] == 1 and m["offerq_table_held_version"] >= 1, m
PY
}
start_serve --dir "$T/run1" || die "serve --dir did not start"
http GET /metrics
check "metrics (--dir): offerq_run_* equal the run's report.json, offerq_table_* the list" check_metrics dir
stop_serve
rs_start "$T/rm" || die "redis-server did not start"
RCLI_AUTH=()
"$BIN" publish --redis "redis://127.0.0.1:$RPORT" "$T/run1" >/dev/null 2>&1 || die "publish"
start_serve --redis "redis://127.0.0.1:$RPORT" || die "serve --redis did not start"
http GET /metrics
check "metrics (--redis): the same, from the published report.json; Redis up" check_metrics redis
stop_serve
rs_stop

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
