#!/usr/bin/env bash
# cli_prod.sh - the production path with real servers (issue 6): a throwaway
# PostgreSQL and redis-server (tests/cli/servers.sh), then
#   db init -> db load (all or nothing, line numbers) -> read back (dump, every
#   field compared with the CSV) -> save-run -> run --pg (the nightly job
#   from PostgreSQL, its list saved back) -> publish -> serve (every
#   endpoint) -> publish v2 -> rollback -> publish killed by kill -9 before its
#   switch (the previous version stays served, the orphan is cleaned) ->
#   serve with the models (BG/NBD from run --pg, a cross-sell table from
#   crosssell learn) -> serve --dir -> the dashboard in headless Chromium.
# Needs: postgresql, redis-server, curl, python3, chromium (OQ_SKIP_BROWSER=1
# skips the browser part explicitly). Servers are always stopped (trap).
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
for tool in curl python3 redis-cli; do command -v $tool >/dev/null || die "$tool is not installed"; done

# http METHOD PATH [curl args...]: sets CODE and BODY ($T/body).
http() {
  local m=$1 p=$2; shift 2
  CODE=$(curl -s -o "$T/body" -w '%{http_code}' -X "$m" "http://127.0.0.1:$PORT$p" "$@")
  BODY=$(cat "$T/body")
}
# jq-like: j 'expr on d' reads $T/body as d and prints the value.
j() { python3 -c "import json,sys; d=json.load(open('$T/body')); print($1)"; }
start_serve() { # start_serve ARGS...  (waits until /healthz answers)
  PORT=$(free_port)
  "$BIN" serve --port "$PORT" "$@" 2>"$T/serve.log" &
  SERVE_PID=$!
  for _ in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
    sleep 0.05
  done
  cat "$T/serve.log"; return 1
}
stop_serve() { # SIGTERM; the server must exit 0 (a sanitizer report would make it fail)
  kill "$SERVE_PID"; wait "$SERVE_PID"; local rc=$?; SERVE_PID=
  check "serve stops cleanly on SIGTERM (exit $rc)" test $rc -eq 0 || cat "$T/serve.log"
}
rcli() { redis-cli -p "$REDIS_PORT" --raw "$@"; }

for c in db publish serve; do
  check "offerq $c --help shows an example" bash -c "'$BIN' $c --help | grep -q Example"
done
check "serve needs exactly one source" bash -c "'$BIN' serve --port 1 2>/dev/null; test \$? -eq 2"
check "db without --pg is a usage error" bash -c "OFFERQ_PG= '$BIN' db status 2>/dev/null; test \$? -eq 2"

pg_start "$T" || die "PostgreSQL did not start"
redis_start "$T" || die "redis-server did not start"
echo "servers: $PG_URL $REDIS_URL"

# ---- PostgreSQL --------------------------------------------------------------
"$BIN" gen --customers 500 --seed 1 --quiet --out "$T/log.csv" || die "gen"
rows=$(($(wc -l < "$T/log.csv") - 1))
check "db init" "$BIN" db init --pg "$PG_URL"
check "db init is idempotent" "$BIN" db init --pg "$PG_URL"
count() { "$BIN" db status --pg "$PG_URL" | awk -v t="$1" '$1 == t {print $2}'; }

# A duplicate (user, day) inside the file: refused by the server, reported by line, nothing kept.
{ head -8 "$T/log.csv"; sed -n 3p "$T/log.csv"; } > "$T/dup.csv"
out=$("$BIN" db load --pg "$PG_URL" "$T/dup.csv" 2>&1); rc=$?
check "in-file duplicate fails with 1" test $rc -eq 1
check "duplicate reported at dup.csv:9" grep -q "dup.csv:9: two rows for user_id" <<< "$out"
check "nothing committed after the duplicate" test "$(count customer_log)" = 0
# A bad field: caught by the reader before anything is sent.
{ head -50 "$T/log.csv"; echo "9999,2025-01-05,3,2,45.50,baby,1.5,10,1,30.25"; } > "$T/bad.csv"
out=$("$BIN" db load --pg "$PG_URL" "$T/bad.csv" 2>&1); rc=$?
check "bad field fails with 1" test $rc -eq 1
check "bad field named bad.csv:51:7" grep -q "bad.csv:51:7:" <<< "$out"
check "nothing committed after the bad field" test "$(count customer_log)" = 0

check "db load the log" "$BIN" db load --pg "$PG_URL" "$T/log.csv"
check "customer_log holds every row ($rows)" test "$(count customer_log)" = "$rows"
# Loading again (tomorrow's log repeats earlier days) replaces the rows of the
# same (user, day): the count stays, a changed value is taken.
check "loading the same log again succeeds" "$BIN" db load --pg "$PG_URL" "$T/log.csv"
check "  and leaves one row per (user, day)" test "$(count customer_log)" = "$rows"
"$BIN" db load --pg "$PG_URL" "$T/log.csv" 2>"$T/load.err"
check "  and says it loaded nothing twice (0 new, 0 changed, $rows already there)" \
  grep -q "loaded $rows rows from .*: 0 new, 0 changed, $rows already there" "$T/load.err"
awk -F, -v OFS=, 'NR == 2 { $5 = "123.25" } { print }' "$T/log.csv" > "$T/changed.csv"
check "a changed row loads" "$BIN" db load --pg "$PG_URL" "$T/changed.csv"
"$BIN" db load --pg "$PG_URL" "$T/log.csv" 2>"$T/load.err" # back to the log: one row differs
check "  counted as the one changed row" grep -q ": 0 new, 1 changed, $((rows - 1)) already there" "$T/load.err"
"$BIN" db load --pg "$PG_URL" "$T/changed.csv" >/dev/null 2>&1 || die "load changed"
check "  and replaces the stored row" bash -c "psql -Atq '$PG_URL' -c \"SELECT avg_order_value FROM customer_log ORDER BY user_id, snapshot_date LIMIT 1\" | grep -qx 123.25"
"$BIN" db load --pg "$PG_URL" "$T/log.csv" >/dev/null 2>&1 || die "reload"

check "db dump reads the log back" "$BIN" db dump --pg "$PG_URL" --out "$T/back.csv"
check "read-back equals the CSV field by field" python3 - "$T/log.csv" "$T/back.csv" <<'EOF'
import csv, struct, sys
def rows(p):
    with open(p, newline="") as f:
        r = list(csv.DictReader(f))
    return sorted(r, key=lambda d: (int(d["user_id"]), d["snapshot_date"]))
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert len(a) == len(b) and len(a) > 0, (len(a), len(b))
f32 = lambda s: struct.unpack("f", struct.pack("f", float(s)))[0]
for x, y in zip(a, b):
    for k in ("user_id", "days_since_last_purchase", "purchases_last_30d", "order_placed"):
        assert int(x[k]) == int(y[k]), (k, x, y)
    for k in ("snapshot_date", "category"):
        assert x[k] == y[k], (k, x, y)
    for k in ("avg_order_value", "order_profit"):
        assert float(x[k]) == float(y[k]), (k, x, y)
    assert f32(x["remaining_budget_pct"]) == f32(y["remaining_budget_pct"]), (x, y)
    assert {"0": "none"}.get(x["coupon_offered"], x["coupon_offered"]) == y["coupon_offered"]
EOF

# ---- a day's list (until `offerq run` writes one) --------------------------------
# One row per customer: the last snapshot day, coupons rotating by user id.
mklist() { # mklist DIR SHIFT
  mkdir -p "$1"
  { echo "user_id,snapshot_date,state,coupon,expected_profit,p_alive"
    awk -F, -v s="$2" 'NR > 1 { last[$1] = $2 } END { split("none 5 10 20", c, " ");
      for (u in last) printf "%d,%s,s%d,%s,%.2f,%.3f\n", u, last[u], u % 7, c[(u + s) % 4 + 1], u * 0.5 + s, (u % 10) / 10 }' \
      "$T/log.csv" | sort -n; } > "$1/recommendations.csv"
  mkqtable "$1/qtable.ofq" "$2"
}
mklist "$T/run1" 0
mklist "$T/run2" 1
users=$(($(wc -l < "$T/run1/recommendations.csv") - 1))
out=$("$BIN" db save-run --pg "$PG_URL" "$T/run1"); rc=$?
check "db save-run records run 1" test $rc -eq 0 -a "$out" = "run 1: $users recommendations saved"
check "recommendations holds the list" test "$(count recommendations)" = "$users"
cp -r "$T/run1" "$T/badrun"
sed -i '5s/,[^,]*$/,1.5/' "$T/badrun/recommendations.csv"
out=$("$BIN" db save-run --pg "$PG_URL" "$T/badrun" 2>&1); rc=$?
check "a bad list is refused at recommendations.csv:5:6" grep -q "recommendations.csv:5:6:" <<< "$out"
check "  and no run is recorded" test "$(count runs)" = 1

# ---- the nightly job from PostgreSQL ---------------------------------------------
check "run needs exactly one of --log / --pg" bash -c \
  "'$BIN' run --pg '$PG_URL' --log '$T/log.csv' --out-dir '$T/x' 2>/dev/null; test \$? -eq 2"
out=$("$BIN" run --pg "$PG_URL" --orders "$T/log.orders.csv" --budget 300 --interim --out-dir "$T/runpg" --quiet 2>"$T/run.err"); rc=$?
check "run --pg: the list saved as run 2" test $rc -eq 0 -a "$out" = "run 2: $users recommendations saved"
check "  runs and recommendations grew by one run" test "$(count runs) $(count recommendations)" = "2 $((2 * users))"
check "  DIR outputs written (list, Q table, bgnbd.json, report)" test -s "$T/runpg/recommendations.csv" -a -s "$T/runpg/qtable.ofq" -a -s "$T/runpg/bgnbd.json" -a -s "$T/runpg/report.json"
"$BIN" run --log "$T/log.csv" --budget 300 --interim --out-dir "$T/runcsv" --quiet 2>/dev/null
check "  same list, Q table and BG/NBD fit as run --log on the CSV" bash -c \
  "cd '$T' && cmp -s runpg/recommendations.csv runcsv/recommendations.csv && cmp -s runpg/qtable.ofq runcsv/qtable.ofq && cmp -s runpg/bgnbd.json runcsv/bgnbd.json"
"$(pg_bindir)/psql" "$PG_URL" -AtF, -c "SELECT user_id, snapshot_date, state, coupon, expected_profit, p_alive FROM recommendations WHERE run_id = 2 ORDER BY user_id" > "$T/db_list.csv"
check "  the saved list equals DIR/recommendations.csv" python3 - "$T/runpg/recommendations.csv" "$T/db_list.csv" <<'EOF2'
import csv, sys
a = list(csv.DictReader(open(sys.argv[1])))
b = list(csv.reader(open(sys.argv[2])))
assert len(a) == len(b) > 0, (len(a), len(b))
for x, y in zip(a, b):
    assert [x["user_id"], x["snapshot_date"], x["state"], x["coupon"]] == y[:4], (x, y)
    # the CSV has 4 decimals, the database full precision
    assert abs(float(x["expected_profit"]) - float(y[4])) <= 5.1e-5, (x, y)
    assert abs(float(x["p_alive"]) - float(y[5])) <= 5.1e-5, (x, y)
EOF2
check "  the run's report stored (customers, source, log rows)" test \
  "$("$(pg_bindir)/psql" "$PG_URL" -At -c "SELECT report->'plan'->>'customers', source, log_rows FROM runs WHERE run_id = 2")" = "$users|offerq run --pg|$rows"
out=$("$BIN" run --pg "postgresql://offerq@127.0.0.1:$(free_port)/postgres" --quiet 2>&1); rc=$?
check "run --pg with the database down fails with 1" test $rc -eq 1
check "  and says so" grep -q "is the database up" <<< "$out"
check "offerq eval on the run" bash -c "'$BIN' eval --log '$T/log.csv' --run '$T/runpg' --json '$T/runpg/eval.json' --quiet >/dev/null"

# ---- a cross-sell table (learned on a tiny items file + rules) --------------------
printf 'item,price,cost,inventory\nbread,20,10,3\nmilk,12,8,3\nbutter,30,20,3\n' > "$T/items.csv"
printf 'type,lhs,rhs,support,confidence,lift,count\npositive,bread,butter,0.1,0.9,1.8,40\n' > "$T/rules.csv"
"$BIN" crosssell learn --items "$T/items.csv" --rules "$T/rules.csv" --episodes 3000 --quiet \
  --out "$T/xs.oxq" --summary "$T/runpg/crosssell.json" > "$T/learn.txt" 2>&1
check "crosssell learn with a dashboard summary" test $? -eq 0 -a -s "$T/runpg/crosssell.json"

# ---- Redis publish ------------------------------------------------------------------
out=$("$BIN" publish --redis "$REDIS_URL" "$T/run1" 2>/dev/null)
check "publish run1 -> version 1" test "$(head -1 <<< "$out")" = "current 1"
check "Q table bytes stored as published" bash -c \
  "redis-cli -p $REDIS_PORT --raw GET offerq:v:1:qtable | head -c $(wc -c < "$T/run1/qtable.ofq") | cmp -s - '$T/run1/qtable.ofq'"
check "list hash holds every user" test "$(rcli HLEN offerq:v:1:list)" = "$users"

start_serve --redis "$REDIS_URL" || die "serve did not start"
u=5
c1=$(awk -F, -v u=$u '$1 == u {print $4}' "$T/run1/recommendations.csv")
c2=$(awk -F, -v u=$u '$1 == u {print $4}' "$T/run2/recommendations.csv")
http GET /v1/recommend/$u
check "recommend 200" test "$CODE" = 200
check "  coupon of run1 ($c1), version 1" test "$(j 'd["coupon"], d["version"], d["user_id"]')" = "$c1 1 $u"
check "  expected_profit and p_alive as in the list" test "$(j 'd["expected_profit"], d["p_alive"]')" = "2.5 0.5"
http GET /v1/recommend/999999;  check "unknown user -> 404 JSON" test "$CODE" = 404 -a "$(j 'd["error"]')" = "unknown user 999999"
http GET /v1/recommend/abc;     check "non-integer user -> 400" test "$CODE" = 400
http GET /healthz;              check "healthz 200 with version" test "$CODE $(j 'd["version"]')" = "200 1"
http POST /v1/recommend/5;      check "wrong method -> 405" test "$CODE" = 405
http GET /nope;                 check "unknown path -> 404" test "$CODE" = 404
http POST /v1/alive -d '{"x": 2, "t_x": 30, "T": 90}'
check "alive valid -> 503 model not loaded" test "$CODE $(j 'd["error"]')" = "503 model not loaded"
http POST /v1/alive -d '{"x": 2, "t_x": 30';        check "alive bad JSON -> 400" test "$CODE" = 400
http POST /v1/alive -d '{"x": 2, "T": 90}';          check "alive missing t_x -> 400" test "$CODE $(j 'd["error"]')" = '400 missing field "t_x"'
http POST /v1/alive -d '{"x": 2, "t_x": 91, "T": 90}'; check "alive t_x > T -> 400" test "$CODE" = 400
http POST /v1/alive -d '{"x": -1, "t_x": 1, "T": 90}'; check "alive x < 0 -> 400" test "$CODE" = 400
http POST /v1/alive -d '[1,2]';                      check "alive non-object -> 400" test "$CODE" = 400
http GET /v1/alive;                                  check "GET alive -> 405" test "$CODE" = 405
seq30=$(python3 -c 'import json; print(json.dumps(["baby"] * 30))')
http POST /v1/profit -d "{\"sequence\": $seq30, \"features\": [3, 1, 45.5, 0.8, 2], \"coupon\": 10}"
check "profit valid -> 503" test "$CODE $(j 'd["model"]')" = "503 profit"
http POST /v1/profit -d "{\"sequence\": $seq30, \"features\": [3, 1, 45.5, 0.8], \"coupon\": 10}"
check "profit 4 features -> 400" test "$CODE" = 400
http POST /v1/profit -d "{\"sequence\": $seq30, \"features\": [3, 1, 45.5, 0.8, 2], \"coupon\": 7}"
check "profit coupon 7 -> 400" test "$CODE" = 400
http GET '/v1/crosssell?item=1&inventory=10,9,8,7,6';  check "crosssell valid -> 503" test "$CODE $(j 'd["model"]')" = "503 crosssell"
http GET '/v1/crosssell?item=&inventory=10,9';         check "crosssell empty item -> 400" test "$CODE" = 400
http GET '/v1/crosssell?item=1&inventory=10,,9';       check "crosssell malformed inventory -> 400" test "$CODE" = 400
http GET '/v1/crosssell?inventory=10,9';               check "crosssell missing item -> 400" test "$CODE" = 400
# A body delivered in chunks (Transfer-Encoding: chunked, ~37 KB) is accumulated whole.
python3 -c 'import json; print(json.dumps({"sequence": ["category-%d" % i for i in range(3000)], "features": [1, 1, 1, 0.5, 1], "coupon": "20"}))' > "$T/big.json"
http POST /v1/profit -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/json' --data-binary @"$T/big.json"
check "chunked 37 KB body parsed whole -> 503" test "$CODE" = 503
head -c 70000 /dev/zero | tr '\0' ' ' > "$T/huge.json"
http POST /v1/profit --data-binary @"$T/huge.json";   check "body over 64 KiB -> 413" test "$CODE" = 413
http POST /v1/profit -H 'Transfer-Encoding: chunked' --data-binary @"$T/huge.json"
check "chunked body over 64 KiB -> 413" test "$CODE" = 413
http GET /metrics
check "metrics: recommend 200 counted" grep -q '^offerq_http_requests_total{endpoint="recommend",code="200"} 1$' <<< "$BODY"
check "metrics: alive 400 counted (5)" grep -q '^offerq_http_requests_total{endpoint="alive",code="400"} 5$' <<< "$BODY"
check "metrics: latency histogram +Inf bucket = 4 (200, 404, 400, 405)" grep -q '^offerq_http_request_duration_seconds_bucket{endpoint="recommend",le="+Inf"} 4$' <<< "$BODY"
check "metrics: latency count = 4" grep -q '^offerq_http_request_duration_seconds_count{endpoint="recommend"} 4$' <<< "$BODY"
check "metrics: version" grep -q '^offerq_model_info{version="1",source="redis"} 1$' <<< "$BODY"

out=$("$BIN" publish --redis "$REDIS_URL" "$T/run2" 2>/dev/null)
check "publish run2 -> current 2, previous 1" test "$(tr '\n' ' ' <<< "$out")" = "current 2 previous 1 "
http GET /v1/recommend/$u
check "served: run2's coupon ($c2), version 2" test "$(j 'd["coupon"], d["version"]')" = "$c2 2"
out=$("$BIN" publish --redis "$REDIS_URL" --rollback)
check "rollback -> current 1, previous 2" test "$(tr '\n' ' ' <<< "$out")" = "current 1 previous 2 "
http GET /v1/recommend/$u
check "served after rollback: run1's coupon, version 1" test "$(j 'd["coupon"], d["version"]')" = "$c1 1"

# kill -9 in the middle of a publish (keys written, pointer not yet switched).
"$BIN" publish --redis "$REDIS_URL" --debug-pause-ms 20000 "$T/run2" >/dev/null 2>&1 &
pub=$!
for _ in $(seq 200); do [ "$(rcli EXISTS offerq:v:3:meta)" = 1 ] && break; sleep 0.05; done
check "interrupted publish had written version 3" test "$(rcli HLEN offerq:v:3:list)" = "$users"
kill -9 $pub; wait $pub 2>/dev/null
http GET /v1/recommend/$u
check "after kill -9 the previous version is served" test "$(j 'd["coupon"], d["version"]')" = "$c1 1"
check "  and current is unchanged" test "$(rcli GET offerq:current)" = 1
out=$("$BIN" publish --redis "$REDIS_URL" "$T/run2" 2>/dev/null)
check "next publish -> version 4" test "$(head -1 <<< "$out")" = "current 4"
check "  removed the orphan of the killed publish" test "$(rcli EXISTS offerq:v:3:list offerq:v:3:meta offerq:v:3:qtable)" = 0
check "  and versions older than previous (2)" test "$(rcli EXISTS offerq:v:2:list)" = 0
check "  keeping previous 1 for rollback" test "$(rcli EXISTS offerq:v:1:list)" = 1
stop_serve


# ---- the models: BG/NBD of run --pg and the cross-sell table ------------------------
# Today's prices: bread up to 22, butter down to 21 at cost 20 (a discounted
# butter add-on would now sell below cost).
printf 'item,price,cost,inventory\nbread,22,10,3\nmilk,12,8,3\nbutter,21,20,3\n' > "$T/items_now.csv"
printf 'item,price,cost,inventory\nmilk,12,8,3\nbread,20,10,3\nbutter,30,20,3\n' > "$T/items_swapped.csv"
echo '{"r": 1, "alpha": -2, "a": 1, "b": 1}' > "$T/bad_bgnbd.json"
out=$("$BIN" serve --port 0 --dir "$T/runpg" --bgnbd "$T/bad_bgnbd.json" 2>&1); rc=$?
check "serve refuses invalid BG/NBD parameters (exit 1)" test $rc -eq 1
out=$("$BIN" serve --port 0 --dir "$T/runpg" --crosssell "$T/xs.oxq" --items "$T/items_swapped.csv" 2>&1); rc=$?
check "serve refuses items in another order than the table" bash -c "test $rc -eq 1 && grep -q \"item 1 is 'bread' in the table but 'milk'\" <<< \"\$1\"" _ "$out"

out=$("$BIN" publish --redis "$REDIS_URL" "$T/runpg" 2>/dev/null)
check "publish the run --pg directory -> version 5" test "$(head -1 <<< "$out")" = "current 5"
start_serve --redis "$REDIS_URL" --bgnbd "$T/runpg/bgnbd.json" --crosssell "$T/xs.oxq" --items "$T/items_now.csv" || die "serve with models did not start"
cpg=$(awk -F, -v u=$u '$1 == u {print $4}' "$T/runpg/recommendations.csv")
http GET /v1/recommend/$u
check "recommend: run --pg's coupon ($cpg), version 5" test "$CODE $(j 'd["coupon"], d["version"]')" = "200 $cpg 5"
# P(alive) and E[X(t)] against an independent evaluation of the formulas
# (Fader, Hardie & Lee 2005, eqs. 10 and the P(alive) of Hardie's note 021;
# 2F1 by its plain power series).
check "alive: P(alive) and expected purchases match the BG/NBD formulas (8 cases)" python3 - "$PORT" "$T/runpg/bgnbd.json" <<'EOF2'
import json, sys, urllib.request
port, p = sys.argv[1], json.load(open(sys.argv[2]))
r, al, a, b = p["r"], p["alpha"], p["a"], p["b"]
def hyp2f1(A, B, C, z):
    s, term, k = 1.0, 1.0, 0
    while abs(term) > 1e-17 * abs(s):
        term *= (A + k) * (B + k) / ((C + k) * (k + 1)) * z
        s += term; k += 1
        assert k < 100000
    return s
def odds(x, tx, T):
    return a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x) if x > 0 else 0.0
def expected(t, x, tx, T):
    z = t / (al + T + t)
    g = ((al + T) / (al + T + t)) ** (r + x) * hyp2f1(r + x, b + x, a + b + x - 1, z)
    return (a + b + x - 1) / (a - 1) * (1 - g) / (1 + odds(x, tx, T))
cases = [(0, 0, 30, 7), (1, 5, 60, 30), (2, 30, 90, 30), (3, 80, 90, 90), (5, 10, 120, 14),
         (1, 1, 1, 1), (10, 200, 365, 365), (4, 0.5, 30.5, 0)]
for x, tx, T, t in cases:
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/alive",
                                 data=json.dumps({"x": x, "t_x": tx, "T": T, "t": t}).encode())
    d = json.load(urllib.request.urlopen(req))
    pa = 1 / (1 + odds(x, tx, T))
    assert abs(d["p_alive"] - pa) <= 1e-12 * pa, (x, tx, T, d, pa)
    e = expected(t, x, tx, T)
    assert abs(d["expected_purchases"] - e) <= 1e-9 * max(e, 1e-300), (x, tx, T, t, d, e)
    assert d["t"] == t and d["unit_days"] == 1, d
EOF2
http POST /v1/alive -d '{"x": 2, "t_x": 30, "T": 90}'
check "alive without t: p_alive only" test "$CODE $(j '"expected_purchases" in d, 0 < d["p_alive"] < 1')" = "200 False True"
pa_bgnbd=$(j 'd["p_alive"]')
http POST /v1/alive -d '{"x": 2, "t_x": 30, "T": 90, "t": -1}'; check "alive t < 0 -> 400" test "$CODE" = 400
http POST /v1/alive -d '{"x": 2, "t_x": 30, "T": 90, "t": "a"}'; check "alive t not a number -> 400" test "$CODE" = 400
http POST /v1/alive -d '{"x": 0, "t_x": 3, "T": 90}'; check "alive t_x > 0 with x = 0 -> 400" test "$CODE" = 400
http POST /v1/alive -d '{"x": 1.5, "t_x": 3, "T": 90}'; check "alive fractional x -> 400" test "$CODE" = 400
http GET '/v1/crosssell?item=bread&inventory=3,3,3'
xs_now=$(cat "$T/body")
check "crosssell with today's items: bread quoted at 22" test "$CODE $(j 'd["item"], d["item_price"]')" = "200 bread 22.0"
check "  a bundle now below cost is not offered, others are priced from today's list" python3 - "$T/body" "$T/xs.oxq" "$BIN" <<'EOF2'
import json, subprocess, sys
now = json.load(open(sys.argv[1]))
table = json.loads(subprocess.check_output([sys.argv[3], "crosssell", "offer", "--table", sys.argv[2],
                                            "--item", "bread", "--inventory", "3,3,3", "--json"]))
price = {"bread": 22.0, "milk": 12.0, "butter": 21.0}
cost = {"bread": 10.0, "milk": 8.0, "butter": 20.0}
j, disc = table["bundle"], table["discount"]
if j is not None and (1 - disc) * price[j] < cost[j]:
    assert now["bundle"] is None and now.get("below_cost") is True and now["bundle_price"] == 22.0, now
else:
    assert now["bundle"] == j and now["discount"] == disc, (now, table)
    assert abs(now["bundle_price"] - (22.0 + (0 if j is None else (1 - disc) * price[j]))) < 1e-12, now
EOF2
http GET /metrics
check "metrics: bgnbd and crosssell loaded" bash -c "grep -q '^offerq_models_loaded{model=\"bgnbd\"} 1$' '$T/body' && grep -q '^offerq_models_loaded{model=\"crosssell\"} 1$' '$T/body'"
stop_serve

# ---- serve --dir: bgnbd.json picked up, the cross-sell table, the dashboard ----------
# A second night with a smaller budget, so the dashboard has a run to compare
# with ("since previous run"); the evaluation and cross-sell summary move along.
"$BIN" run --pg "$PG_URL" --orders "$T/log.orders.csv" --budget 200 --out-dir "$T/runpg" --quiet 2>/dev/null
check "second run into runpg (budget 200)" test $? -eq 0
prevrun=$(ls -d "$T"/runpg.runs/0* | head -1)
cp "$prevrun/crosssell.json" "$T/runpg/"
# the evaluation of this night's run (the response model's: it has a calibration)
check "offerq eval on the second run" bash -c "'$BIN' eval --log '$T/log.csv' --run '$T/runpg' --json '$T/runpg/eval.json' --quiet >/dev/null"
check "eval: calibration bins cover every log row and hold its orders" python3 - "$T/runpg/eval.json" "$T/log.csv" <<'EOF2'
import csv, json, sys
cal = json.load(open(sys.argv[1]))["calibration"]
rows = list(csv.DictReader(open(sys.argv[2])))
orders = sum(r["order_placed"] == "1" for r in rows)
b = cal["bins"]
assert cal["rows"] == len(rows) == sum(x["rows"] for x in b), (cal["rows"], len(rows))
assert abs(sum(x["observed"] * x["rows"] for x in b) - orders) < 1e-6, orders
p = [x["predicted"] for x in b]
assert p == sorted(p) and 0 <= p[0] and p[-1] <= 1, p
EOF2
start_serve --dir "$T/runpg" --crosssell "$T/xs.oxq" || die "serve --dir did not start"
http GET /v1/recommend/$u
check "dir: recommend 200, version dir-<crc>" bash -c "test '$CODE' = 200 && grep -q '\"version\":\"dir-[0-9a-f]\{8\}\"' '$T/body'"
check "dir: /v1/alive answered with DIR/bgnbd.json" grep -q "/v1/alive uses $T/runpg/bgnbd.json" "$T/serve.log"
http POST /v1/alive -d '{"x": 2, "t_x": 30, "T": 90}'
check "  same P(alive) as with --bgnbd" test "$CODE $(j 'd["p_alive"]')" = "200 $pa_bgnbd"
http GET '/v1/crosssell?item=bread&inventory=3,3,3'
check "crosssell: the answer of crosssell offer --json" python3 - "$T/body" "$T/xs.oxq" "$BIN" <<'EOF2'
import json, subprocess, sys
got = json.load(open(sys.argv[1]))
want = json.loads(subprocess.check_output([sys.argv[3], "crosssell", "offer", "--table", sys.argv[2],
                                           "--item", "bread", "--inventory", "3,3,3", "--json"]))
del want["inventory"]
assert got == want, (got, want)
# the planted rule bread => butter (confidence 0.9) with stock to spare: butter is bundled
assert got["bundle"] == "butter" and got["learned"], got
assert abs(got["bundle_price"] - (20 + (1 - got["discount"]) * 30)) < 1e-12, got
EOF2
http GET '/v1/crosssell?item=2&inventory=3,3,3';  check "crosssell item by position: 2 = milk" test "$CODE $(j 'd["item"]')" = "200 milk"
http GET '/v1/crosssell?item=bread&inventory=3,0,0'
check "crosssell: nothing else in stock -> no bundle" test "$CODE $(j 'd["bundle"], d["bundle_price"]')" = "200 None 20.0"
http GET '/v1/crosssell?item=jam&inventory=3,3,3';     check "crosssell unknown item -> 400" test "$CODE $(j 'd["error"]')" = "400 unknown item 'jam' (not an item of the table)"
http GET '/v1/crosssell?item=bread&inventory=3,3';     check "crosssell inventory of 2 items for 3 -> 400" test "$CODE" = 400
http GET '/v1/crosssell?item=bread&inventory=3,3,4';   check "crosssell count over capacity -> 400" test "$CODE" = 400
http GET '/v1/crosssell?item=bread&inventory=0,3,3';   check "crosssell requested item out of stock -> 400" test "$CODE" = 400
http GET '/v1/crosssell?item=bread&inventory=3,x,3';   check "crosssell non-numeric count -> 400" test "$CODE" = 400
http GET '/v1/crosssell?item=bread';                   check "crosssell missing inventory -> 400" test "$CODE" = 400
http GET /v1/dashboard.json
check "dashboard.json: users and rows" test "$(j 'd["users"], len(d["rows"])')" = "$users $users"
check "dashboard.json: coupon mix sums to users" test "$(j 'sum(m["count"] for m in d["coupon_mix"])')" = "$users"
check "dashboard.json: P(alive) histogram sums to users" test "$(j 'sum(d["p_alive_hist"]["counts"])')" = "$users"
check "dashboard.json: eval, crosssell and report parsed" test \
  "$(j '[p["name"] for p in d["eval"]["policies"]].count("offerq"), len(d["crosssell"]["decisions"]), d["report"]["plan"]["customers"]')" = "1 3 $users"
http GET /
check "dashboard page served" bash -c "test '$CODE' = 200 && grep -q '<table id=\"list\">' '$T/body'"
check "dashboard embed in sync with src/prod/web/dashboard.html" bash -c \
  "python3 '$SRC/tools/embed_html.py' | cmp -s - '$SRC/src/prod/dashboard_html.c'"
if [ "${OQ_SKIP_BROWSER:-0}" = 1 ]; then
  echo "SKIP browser test (OQ_SKIP_BROWSER=1)"
else
  CHROME=$(command -v chromium || command -v chromium-browser || command -v google-chrome)
  check "chromium installed (or set OQ_SKIP_BROWSER=1)" test -n "$CHROME"
  if [ -n "$CHROME" ]; then
    timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$T/chrome" --virtual-time-budget=5000 --dump-dom \
      "http://127.0.0.1:$PORT/" > "$T/dom.html" 2>"$T/chrome.log"
    check "browser: page script finished" grep -q 'data-ready="1"' "$T/dom.html"
    check "browser: the list's first page: 50 rows by extra profit, largest first" python3 - "$T/dom.html" "$users" <<'EOF2'
import re, sys
dom, users = open(sys.argv[1]).read(), int(sys.argv[2])
body = re.search(r'<table id="list">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
rows = re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
assert len(rows) == min(50, users), len(rows)
pages = (users + 49) // 50
assert f"rows 1\u2013{min(50, users)} of {users:,} \u00b7 page 1 of {pages}" in dom, re.search(r'id="count"[^>]*>([^<]*)', dom).group(1)
num = lambda t: float(t.replace(",", "").replace("\u2212", "-").replace("\u00b1", ""))
extra = [num(re.findall(r"<td[^>]*>(.*?)</td>", r)[2]) for r in rows]
assert extra == sorted(extra, reverse=True), extra[:5]
EOF2
    check "browser: cards in money terms, spend against the budget (200), compared with the previous run" python3 - "$T/dom.html" "$T/runpg/report.json" <<'EOF2'
import json, re, sys
dom, rep = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
plan = rep["plan"]
card = lambda i: re.sub(r"<[^>]+>", " ", re.search(r'id="%s"[^>]*>(.*?)</div></div>' % i, dom, re.S).group(1))
assert "%.2f" % plan["expected_profit"] in card("card-profit").replace(",", ""), card("card-profit")
x = plan["expected_profit"] - plan["expected_profit_no_coupons"]
assert ("%.2f" % abs(x)).rstrip("0").rstrip(".") in card("card-extra").replace(",", ""), (x, card("card-extra"))
assert "of a budget of 200.00" in dom and "expected spend %.2f" % plan["expected_spend"] in dom.replace(",", "")
assert "previous run:" in card("card-reach") and "compared with the run for" in dom
EOF2
    check "browser: coupon mix chart (4 bars) and table with the change since the previous run" python3 - "$T/dom.html" <<'EOF2'
import re, sys
d = open(sys.argv[1]).read()
s = re.search(r'<svg[^>]*id="mix-chart".*?</svg>', d, re.S).group(0)
assert s.count("<rect") == 4
t = re.search(r'<table id="mix-table">.*?<tbody>(.*?)</tbody>', d, re.S).group(1)
rows = re.findall(r"<tr>(.*?)</tr>", t, re.S)
assert len(rows) == 4 and all("n/a" not in r for r in rows), rows
EOF2
    check "browser: segments by favourite category add up to the list" python3 - "$T/dom.html" "$users" <<'EOF2'
import re, sys
d, users = open(sys.argv[1]).read(), int(sys.argv[2])
t = re.search(r'<table id="seg-table">.*?<tbody>(.*?)</tbody>', d, re.S).group(1)
n = [int(re.findall(r"<td[^>]*>(.*?)</td>", r)[1].replace(",", "")) for r in re.findall(r"<tr>(.*?)</tr>", t, re.S)]
assert sum(n) == users and len(n) > 1, n
assert "category " not in t  # names, not indices
EOF2
    check "browser: model health in words, learning curve explained" bash -c \
      "grep -q 'BG/NBD fitted' '$T/dom.html' && grep -q 'class=\"curve\"' '$T/dom.html' && grep -q 'It settles at the noise' '$T/dom.html'"
    # exact lookup by id (#user=ID) and a later page (#page=2)
    last=$(tail -1 "$T/runpg/recommendations.csv" | cut -d, -f1)
    browse() { timeout 60 "$CHROME" --headless --no-sandbox --disable-gpu --no-first-run \
      --disable-background-networking --disable-component-update --disable-sync \
      --user-data-dir="$T/chrome" --virtual-time-budget=5000 "$@" 2>>"$T/chrome.log"; }
    browse --dump-dom "http://127.0.0.1:$PORT/#user=$last" > "$T/dom_user.html"
    check "browser: customer $last looked up by id: explained, each coupon's value drawn, its row selected" python3 - "$T/dom_user.html" "$last" "$T/runpg/recommendations.csv" <<'EOF2'
import csv, re, sys
d, u = open(sys.argv[1]).read(), sys.argv[2]
row = next(r for r in csv.DictReader(open(sys.argv[3])) if r["user_id"] == u)
assert f"Customer {u}: coupon {row['coupon']}" in d
s = re.search(r'<svg[^>]*id="explain-chart".*?</svg>', d, re.S).group(0)
assert s.count("<rect") == 4
assert re.search(r'id="explain-why"[^>]*>(No coupon: sending nothing|Coupon %s is worth)' % row["coupon"], d)
assert re.search(r'<tr data-user="%s" class="sel">' % u, d)
EOF2
    browse --dump-dom "http://127.0.0.1:$PORT/#page=2" > "$T/dom_p2.html"
    check "browser: page 2 shows rows 51-$((users < 100 ? users : 100))" bash -c "test $users -le 50 || grep -q 'rows 51.*$((users < 100 ? users : 100)) of' '$T/dom_p2.html'"
    browse --screenshot="$T/dashboard.png" --window-size=1280,1600 "http://127.0.0.1:$PORT/#user=$last" >/dev/null
    check "browser: screenshot saved (PNG)" bash -c "head -c 8 '$T/dashboard.png' | grep -q PNG"
    [ -n "${OQ_SCREENSHOT:-}" ] && cp "$T/dashboard.png" "$OQ_SCREENSHOT"
    check "browser: evaluation table (9 policies, offerq among them) and OPE table" python3 - "$T/dom.html" "$T/runpg/eval.json" <<'EOF2'
import json, re, sys
dom, ev = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
t = re.search(r'<table id="eval-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
names = [p["name"] for p in ev["policies"]]
assert t.count("<tr>") == len(names) and "offerq" in names, (t.count("<tr>"), names)
for n in names: assert f'<td class="t">{n}</td>' in t, n
o = re.search(r'<table id="ope-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
assert o.count("<tr>") == len(ev["ope"]), o
EOF2
    check "browser: tomorrow and later value per coupon, as report.json's value_split" python3 - "$T/dom.html" "$T/runpg/report.json" <<'EOF2'
import json, re, sys
dom, rep = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))
vs = rep["value_split"]["per_coupon"]
t = re.search(r'<table id="split-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
rows = [re.findall(r"<td[^>]*>(.*?)</td>", r) for r in re.findall(r"<tr>(.*?)</tr>", t, re.S)]
assert [r[0] for r in rows] == ["none", "5", "10", "20"], rows
num = lambda x: float(x.replace(",", ""))
for r in rows:
    v = vs[r[0]]
    assert abs(num(r[1]) - v["r_tilde"]) <= 0.006 and abs(num(r[2]) - v["continuation"]) <= 0.006, (r, v)
    assert abs(num(r[3]) - (v["r_tilde"] - vs["none"]["r_tilde"])) <= 0.006, (r, v)
assert "uses tomorrow's value only" in dom
EOF2
    check "browser: calibration chart (10 dots) with the top and bottom tenth in words" python3 - "$T/dom.html" "$T/runpg/eval.json" <<'EOF2'
import json, re, sys
dom, cal = open(sys.argv[1]).read(), json.load(open(sys.argv[2]))["calibration"]
s = re.search(r'<svg[^>]*id="calib-chart".*?</svg>', dom, re.S).group(0)
assert s.count("<circle") == sum(b["rows"] > 0 for b in cal["bins"]) == 10, s.count("<circle")
says = re.search(r'id="calib-says"[^>]*>(.*?)</p>', dom, re.S).group(1)
top = cal["bins"][-1]
assert "(%.1f %% on average) ordered %.1f %%" % (100 * top["predicted"], 100 * top["observed"]) in says, says
EOF2
    check "browser: cross-selling table (3 requests, bread -> butter) and its evaluation" python3 - "$T/dom.html" <<'EOF2'
import re, sys
dom = open(sys.argv[1]).read()
t = re.search(r'<table id="xsell-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
rows = re.findall(r"<tr>(.*?)</tr>", t, re.S)
assert len(rows) == 3, rows
assert rows[0].startswith('<td class="t">bread</td><td class="t">butter</td>'), rows[0]
e = re.search(r'<table id="xsell-eval-table">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
assert e.count("<tr>") == 3 and "optimum (DP)" in e, e
EOF2
  fi
fi
stop_serve

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
