#!/usr/bin/env bash
# cli_prod.sh - the production path with real servers (issue 6): a throwaway
# PostgreSQL and redis-server (tests/servers.sh), then
#   db init -> db load (all or nothing, line numbers) -> read back (dump, every
#   field compared with the CSV) -> save-run -> publish -> serve (every
#   endpoint) -> publish v2 -> rollback -> publish killed by kill -9 before its
#   switch (the previous version stays served, the orphan is cleaned) ->
#   serve --dir -> the dashboard in headless Chromium.
# Needs: postgresql, redis-server, curl, python3, chromium (OQ_SKIP_BROWSER=1
# skips the browser part explicitly). Servers are always stopped (trap).
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
SERVE_PID=
# shellcheck source=servers.sh
source "$SRC/tests/servers.sh"
cleanup() {
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  pg_stop
  redis_stop
  rm -rf "$T"
}
trap cleanup EXIT
fails=0; passes=0
check() { # check "what" command...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passes=$((passes + 1)); else echo "FAIL $what"; fails=$((fails + 1)); fi
}
die() { echo "FAIL $*"; exit 1; }
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
check "duplicate reported at dup.csv:9" grep -q "dup.csv:9: row refused" <<< "$out"
check "nothing committed after the duplicate" test "$(count customer_log)" = 0
# A bad field: caught by the reader before anything is sent.
{ head -50 "$T/log.csv"; echo "9999,2025-01-05,3,2,45.50,baby,1.5,10,1,30.25"; } > "$T/bad.csv"
out=$("$BIN" db load --pg "$PG_URL" "$T/bad.csv" 2>&1); rc=$?
check "bad field fails with 1" test $rc -eq 1
check "bad field named bad.csv:51:7" grep -q "bad.csv:51:7:" <<< "$out"
check "nothing committed after the bad field" test "$(count customer_log)" = 0

check "db load the log" "$BIN" db load --pg "$PG_URL" "$T/log.csv"
check "customer_log holds every row ($rows)" test "$(count customer_log)" = "$rows"
out=$("$BIN" db load --pg "$PG_URL" "$T/log.csv" 2>&1); rc=$?
check "loading the same log again is refused" test $rc -eq 1
check "  naming the first row, log.csv:2" grep -q "log.csv:2: row refused.*already exists" <<< "$out"
check "  and leaving the table as it was" test "$(count customer_log)" = "$rows"

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
  printf 'OFQTABLE\001\000\000\000v%s\n' "$2" > "$1/qtable.ofq"
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
http GET '/v1/crosssell?item=1&inventory=10,9,8,7,6';  check "crosssell valid -> 503" test "$CODE" = 503
http GET '/v1/crosssell?item=9&inventory=10,9';        check "crosssell item without inventory -> 400" test "$CODE" = 400
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

# ---- serve --dir and the dashboard ------------------------------------------------
cat > "$T/run1/eval.json" <<'EOF'
{"policies": [{"name": "no coupon", "profit": 100.5, "spend": 0, "pct_of_oracle_uplift": 0},
              {"name": "offerq", "profit": 180.25, "spend": 20.5, "pct_of_oracle_uplift": 93.1}]}
EOF
echo '{"spend": 1234.5, "budget": 5000, "losses": [3.1, 2.2, 1.7, 1.5, 1.4]}' > "$T/run1/report.json"
start_serve --dir "$T/run1" || die "serve --dir did not start"
http GET /v1/recommend/$u
check "dir: recommend 200, version dir-<crc>" bash -c "test '$CODE' = 200 && grep -q '\"version\":\"dir-[0-9a-f]\{8\}\"' '$T/body'"
http GET /v1/dashboard.json
check "dashboard.json: users and rows" test "$(j 'd["users"], len(d["rows"])')" = "$users $users"
check "dashboard.json: coupon mix sums to users" test "$(j 'sum(m["count"] for m in d["coupon_mix"])')" = "$users"
check "dashboard.json: P(alive) histogram sums to users" test "$(j 'sum(d["p_alive_hist"]["counts"])')" = "$users"
check "dashboard.json: eval and report parsed" test "$(j 'd["eval"]["policies"][1]["name"], d["report"]["spend"]')" = "offerq 1234.5"
http GET /
check "dashboard page served" bash -c "test '$CODE' = 200 && grep -q '<table id=\"list\">' '$T/body'"
check "dashboard embed in sync with src/web/dashboard.html" bash -c \
  "python3 '$SRC/tools/embed_html.py' | cmp -s - '$SRC/src/serve_dashboard_html.c'"
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
    check "browser: list table has rows" python3 - "$T/dom.html" "$users" <<'EOF'
import re, sys
dom, users = open(sys.argv[1]).read(), int(sys.argv[2])
body = re.search(r'<table id="list">.*?<tbody>(.*?)</tbody>', dom, re.S).group(1)
n = body.count("<tr>")
assert n == min(500, users), n
assert f"showing {min(500, users)} of {users}" in dom
EOF
    check "browser: coupon mix chart drawn (4 bars)" python3 -c "
import re,sys; d=open('$T/dom.html').read(); s=re.search(r'<svg[^>]*id=\"mix-chart\".*?</svg>', d, re.S).group(0); assert s.count('<rect')==4"
    check "browser: P(alive) chart drawn (10 bars)" python3 -c "
import re,sys; d=open('$T/dom.html').read(); s=re.search(r'<svg[^>]*id=\"palive-chart\".*?</svg>', d, re.S).group(0); assert s.count('<rect')==10"
    check "browser: evaluation table" grep -q '<table id="eval-table">.*offerq' "$T/dom.html"
    check "browser: learning curve from report.json" grep -q 'class="curve"' "$T/dom.html"
    check "browser: budget shows the report's spend" grep -q 'report: spend' "$T/dom.html"
  fi
fi
stop_serve

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
