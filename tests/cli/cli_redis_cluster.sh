#!/usr/bin/env bash
# cli_redis_cluster.sh - issue 20 item 4: `offerq publish` and `serve --redis`
# on a real Redis Cluster (3 masters + 3 replicas, redis-server
# --cluster-enabled yes on free loopback ports, made by `redis-cli --cluster
# create`, tests/cli/servers.sh rcluster_start):
#   - two runs published; every user of each answered from its version, users
#     of the other run's list only a 404, rollback both ways;
#   - every key of offerq in one slot ({offerq}), on the one master serving it;
#   - the slot moved to another master by hand (CLUSTER SETSLOT MIGRATING /
#     IMPORTING + MIGRATE, then SETSLOT NODE): every user answered fresh and
#     right through ASK while it moves and through MOVED after, and a publish
#     in the middle of the move;
#   - the master of the slot killed (kill -9) under a request loop, its
#     replica promoted by the cluster: every answer 200 and from the right
#     version (stale ones flagged X-Offerq-Stale), fresh again after the
#     promotion, and the next publish served;
#   - URLs: one seed (a replica) finds the whole cluster, a dead first seed is
#     skipped, a plain Redis given as a cluster is refused with the reason.
# Skipped (77) only when redis-server is not installed.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
if ! command -v redis-server >/dev/null; then
  echo "SKIP: redis-server is not installed (apt-get install redis-server; tools/install-deps.sh)"
  exit 77
fi
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
PIDS=()
# shellcheck source=servers.sh
source "$SRC/tests/cli/servers.sh"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  rcluster_stop
  redis_stop
  rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
for tool in curl python3 redis-cli; do command -v $tool >/dev/null || die "$tool is not installed"; done

rc() { local p=$1; shift; redis-cli -p "$p" --raw "$@"; } # rc PORT COMMAND...
# mkrun DIR SEED USERS: a valid run folder (list + Q table + report.json) whose
# coupons and profits depend on SEED, so that two runs differ for every user.
mkrun() {
  mkdir -p "$1"
  awk -v s="$2" -v n="$3" 'BEGIN { print "user_id,snapshot_date,state,coupon,expected_profit,p_alive";
    split("none 5 10 20", c, " ");
    for (u = 1; u <= n; u++) printf "%d,2025-03-01,s%d,%s,%.2f,%.3f\n", u, u % 7, c[(u + s) % 4 + 1], u * 0.5 + s, (u % 10) / 10 }' \
    >"$1/recommendations.csv"
  mkqtable "$1/qtable.ofq" "$2" 60
  echo '{"plan": {"customers": '"$3"'}}' >"$1/report.json"
}
# owner SLOT: the port of the master serving SLOT, from CLUSTER NODES of the
# first live node (ranges "a-b" or "a"; "[slot->-id]" migration marks skipped)
owner() {
  local p
  for p in "${RCLUSTER_PORTS[@]}"; do
    redis-cli -p "$p" cluster nodes 2>/dev/null | awk -v s="$1" '
      $3 ~ /master/ && $3 !~ /fail/ { for (i = 9; i <= NF; i++) { if ($i ~ /^\[/) continue
        n = split($i, r, "-"); lo = r[1] + 0; hi = (n > 1 ? r[2] : r[1]) + 0
        if (lo <= s && s <= hi) { split($2, a, "[:@]"); print a[2]; exit } } }' | grep . && return 0
  done
  return 1
}
start_serve() { # start_serve ARGS... (waits until /healthz answers)
  PORT=$(free_port)
  "$BIN" serve --port "$PORT" "$@" 2>"$T/serve.log" &
  SERVE_PID=$!
  PIDS+=("$SERVE_PID")
  for _ in $(seq 300); do
    curl -s -o /dev/null "http://127.0.0.1:$PORT/healthz" && return 0
    sleep 0.05
  done
  cat "$T/serve.log"
  return 1
}
# every_user RUN VERSION [fresh]: /v1/recommend of every user of RUN's list
# answers 200 with its coupon, profit and P(alive) and VERSION; up to 200
# users above the list answer 404 (with "fresh": no X-Offerq-Stale header).
every_user() {
  python3 - "$PORT" "$1/recommendations.csv" "$2" "${3:-}" <<'PY'
import csv, http.client, json, sys
port, path, version, fresh = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4] == "fresh"
rows = list(csv.DictReader(open(path)))
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
bad = []
def get(u):
    c.request("GET", "/v1/recommend/%d" % u)
    r = c.getresponse()
    return r.status, r.getheader("X-Offerq-Stale"), r.read()
for w in rows:
    st, stale, body = get(int(w["user_id"]))
    d = json.loads(body) if st == 200 else {}
    ok = (st == 200 and d.get("version") == version and d.get("coupon") == w["coupon"]
          and d.get("expected_profit") == float(w["expected_profit"])
          and d.get("p_alive") == float(w["p_alive"]) and not (fresh and stale))
    if not ok: bad.append((w["user_id"], st, stale, body[:120]))
n = len(rows)
for u in range(n + 1, n + 201):
    st, stale, body = get(u)
    if st != 404: bad.append((u, st, stale, body[:120]))
if bad:
    print("%d wrong answers, first: %s" % (len(bad), bad[:3]), file=sys.stderr)
    sys.exit(1)
PY
}
ver() { "$BIN" publish --redis "$1" --status 2>/dev/null | awk '$1 == "current" { print $2 }'; }

rcluster_start "$T" 3 1 || die "the Redis Cluster did not start (see above)"
URL=$RCLUSTER_URL
P1=${RCLUSTER_PORTS[0]}
check "a real cluster: 3 masters + 3 replicas, all 16384 slots, state ok" \
  bash -c "redis-cli -p $P1 cluster info | grep -q '^cluster_state:ok' &&
    redis-cli -p $P1 cluster info | grep -q '^cluster_slots_assigned:16384' &&
    test \$(redis-cli -p $P1 cluster nodes | grep -c master) = 3 &&
    test \$(redis-cli -p $P1 cluster nodes | grep -c slave) = 3"
check "redis-cli agrees: slot of {offerq}:current = 31 = slot of offerq (test_rcluster's table)" \
  test "$(rc "$P1" cluster keyslot '{offerq}:current') $(rc "$P1" cluster keyslot offerq)" = "31 31"

mkrun "$T/runA" 0 3000
mkrun "$T/runB" 1 2500
mkrun "$T/runC" 2 2800

# ---- publish and serve -----------------------------------------------------
check "publish run A: version 1" bash -c "'$BIN' publish --redis '$URL' '$T/runA' 2>'$T/pub.err' | head -1 | grep -qx 'current 1'"
OWN=$(owner 31)
check "slot 31 has a master ($OWN)" test -n "$OWN"
check "every key of offerq is on that master, under {offerq}" \
  bash -c "keys_on() { redis-cli -p \$1 --raw --scan --pattern '*' | sort | tr '\n' ' '; }
    test \"\$(keys_on $OWN)\" = '{offerq}:current {offerq}:seq {offerq}:v:1:files {offerq}:v:1:list {offerq}:v:1:meta {offerq}:v:1:qtable {offerq}:versions '"
others=0
for p in "${RCLUSTER_PORTS[@]}"; do
  [ "$p" = "$OWN" ] && continue
  [ "$(rc "$p" role | head -1)" = master ] && others=$((others + $(rc "$p" dbsize)))
done
check "the other masters hold no key" test "$others" = 0
rc "$OWN" get '{offerq}:v:1:qtable' | head -c "$(stat -c %s "$T/runA/qtable.ofq")" >"$T/qt.got"
check "the Q table in the cluster is the file's bytes" cmp -s "$T/qt.got" "$T/runA/qtable.ofq"
check "the list has 3000 users" test "$(rc "$OWN" hlen '{offerq}:v:1:list')" = 3000

start_serve --redis "$URL" || die "serve --redis $URL did not start"
check "serve: every user of run A from version 1 (fresh), users above it 404" every_user "$T/runA" 1 fresh
check "publish run B: version 2" bash -c "'$BIN' publish --redis '$URL' '$T/runB' 2>>'$T/pub.err' | head -1 | grep -qx 'current 2'"
check "serve: every user of run B from version 2, run A's users 2501-3000 now 404" every_user "$T/runB" 2 fresh
check "rollback: version 1 again" bash -c "'$BIN' publish --redis '$URL' --rollback | head -1 | grep -qx 'current 1'"
check "serve: every user of run A from version 1" every_user "$T/runA" 1 fresh
check "rollback again: version 2" bash -c "'$BIN' publish --redis '$URL' --rollback | head -1 | grep -qx 'current 2'"
check "serve: every user of run B from version 2" every_user "$T/runB" 2 fresh

# ---- URLs ---------------------------------------------------------------------
REPL=
for p in "${RCLUSTER_PORTS[@]}"; do [ "$(rc "$p" role | head -1)" = slave ] && { REPL=$p; break; }; done
check "a URL naming one replica finds the cluster (current 2)" test "$(ver "redis+cluster://127.0.0.1:$REPL")" = 2
check "a dead first seed is skipped (current 2)" test "$(ver "redis+cluster://127.0.0.1:1,127.0.0.1:$REPL")" = 2
redis_start "$T" || die "redis-server did not start"
"$BIN" publish --redis "redis+cluster://127.0.0.1:$REDIS_PORT" "$T/runA" >/dev/null 2>"$T/plain.err"
prc=$?
check "a plain Redis given as a cluster: exit 1, 'not a cluster' ($(head -c 150 "$T/plain.err"))" \
  bash -c "test $prc = 1 && grep -q 'not a cluster' '$T/plain.err' && test \"\$(redis-cli -p $REDIS_PORT dbsize)\" = 0"
redis_stop

# ---- the slot moves to another master: ASK while it moves, MOVED after --------
DST=
for p in "${RCLUSTER_PORTS[@]}"; do
  [ "$p" != "$OWN" ] && [ "$(rc "$p" role | head -1)" = master ] && { DST=$p; break; }
done
SRC_ID=$(rc "$OWN" cluster myid)
DST_ID=$(rc "$DST" cluster myid)
asks() { rc "$DST" info commandstats | sed -n 's/^cmdstat_asking:calls=\([0-9]*\).*/\1/p'; }
rc "$DST" cluster setslot 31 importing "$SRC_ID" >/dev/null
rc "$OWN" cluster setslot 31 migrating "$DST_ID" >/dev/null
mapfile -t KEYS < <(rc "$OWN" cluster getkeysinslot 31 1000)
check "the slot's ${#KEYS[@]} keys migrated to $DST (MIGRATE)" \
  test "$(rc "$OWN" migrate 127.0.0.1 "$DST" "" 0 10000 keys "${KEYS[@]}")" = OK
A0=$(asks)
check "mid-move: every user of run B from version 2, fresh, through ASK" every_user "$T/runB" 2 fresh
check "  the destination saw ASKING ($(asks) calls)" test "$(asks)" -gt "${A0:-0}"
# A publish while the slot moves: its claim (a script over three keys, some
# still missing on the destination) gets TRYAGAIN until the move completes.
"$BIN" publish --redis "$URL" "$T/runC" >"$T/pubC.out" 2>>"$T/pub.err" &
PUBC=$!
sleep 1
for p in "${RCLUSTER_PORTS[@]}"; do
  [ "$(rc "$p" role | head -1)" = master ] && rc "$p" cluster setslot 31 node "$DST_ID" >/dev/null
done
wait $PUBC
pubc=$?
check "a publish of run C started mid-move completes once the move does: version 3" \
  test "$pubc $(head -1 "$T/pubC.out")" = "0 current 3"
for _ in $(seq 100); do [ "$(owner 31)" = "$DST" ] && break; sleep 0.1; done
check "the move is complete: slot 31 on $DST, no key left on $OWN" \
  test "$(owner 31) $(rc "$OWN" dbsize)" = "$DST 0"
check "after the move: every user of run C from version 3, fresh, through MOVED" every_user "$T/runC" 3 fresh
check "after the move: publish run B with --wait-replicas 1: version 4, its replica acknowledged it" \
  bash -c "'$BIN' publish --redis '$URL' --wait-replicas 1 '$T/runB' 2>'$T/pubB.err' | head -1 | grep -qx 'current 4' &&
    grep -q '1 replicas acknowledged it' '$T/pubB.err'"
expect 2 "wait-timeout-ms must be below --redis-timeout-ms" \
  "$BIN" publish --redis "$URL" --wait-replicas 1 --wait-timeout-ms 5000 "$T/runA"
set +e # expect (lib.sh) leaves set -e on; this test counts its failures instead
check "  a --wait-timeout-ms not below the command timeout is refused before Redis is touched" \
  test "$(ver "$URL")" = 4
check "serve: every user of run B from version 4" every_user "$T/runB" 4 fresh
check "after the move: old versions collected (versions 3 and 4 left)" \
  test "$(rc "$DST" smembers '{offerq}:versions' | sort -n | tr '\n' ' ')" = "3 4 "

# ---- the master dies, its replica takes over ---------------------------------
OWN=$DST
OWN_ID=$(rc "$OWN" cluster myid)
REPL=$(rc "$OWN" cluster nodes | awk -v m="$OWN_ID" '$3 ~ /slave/ && $4 == m { split($2, a, "[:@]"); print a[2] }')
check "slot 31's master $OWN has a replica ($REPL), in sync (WAIT 1)" \
  test "$(rc "$OWN" wait 1 10000)" = 1
# A request loop over every user of run B (version 4) while the master dies:
# every answer must be 200, version 4 and that user's coupon and profit;
# stale answers (X-Offerq-Stale: 1) are allowed while the cluster fails over.
python3 - "$PORT" "$T/runB/recommendations.csv" 4 "$T/stop" >"$T/loop.json" 2>"$T/loop.err" <<'PY' &
import csv, http.client, json, os, random, sys, time
port, path, version, stop = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
rows = {int(w["user_id"]): w for w in csv.DictReader(open(path))}
users = list(rows)
random.seed(20)
n = stale = wrong = 0
first_wrong = None
t_stale = [0, 0]  # first and last stale answer
c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
t_end = time.time() + 120
while not os.path.exists(stop) and time.time() < t_end:
    u = random.choice(users)
    try:
        c.request("GET", "/v1/recommend/%d" % u)
        r = c.getresponse()
        st, s, body = r.status, r.getheader("X-Offerq-Stale"), r.read()
    except Exception as e:
        st, s, body = -1, None, repr(e).encode()
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    d = json.loads(body) if st == 200 else {}
    w = rows[u]
    n += 1
    stale += s == "1"
    if s == "1":
        t_stale = [t_stale[0] or time.time(), time.time()]
    if not (st == 200 and d.get("version") == version and d.get("coupon") == w["coupon"]
            and d.get("expected_profit") == float(w["expected_profit"])):
        wrong += 1
        first_wrong = first_wrong or (u, st, body[:160].decode(errors="replace"))
    time.sleep(0.002)
print(json.dumps({"answers": n, "stale": stale, "stale_s": round(t_stale[1] - t_stale[0], 2),
                  "wrong": wrong, "first_wrong": first_wrong}))
PY
LOOP=$!
PIDS+=("$LOOP")
sleep 1
kill -9 "$(rcluster_pid "$OWN")"
promoted=no
for _ in $(seq 300); do
  [ "$(rc "$REPL" role 2>/dev/null | head -1)" = master ] && { promoted=yes; break; }
  sleep 0.1
done
check "the replica $REPL is promoted to master by the cluster" test $promoted = yes
for _ in $(seq 300); do [ "$(owner 31)" = "$REPL" ] && break; sleep 0.1; done
check "the cluster map names it as slot 31's master" test "$(owner 31)" = "$REPL"
fresh=no
for _ in $(seq 300); do
  curl -s -D "$T/hdr" -o /dev/null "http://127.0.0.1:$PORT/v1/recommend/7" &&
    ! grep -qi '^X-Offerq-Stale' "$T/hdr" && { fresh=yes; break; }
  sleep 0.1
done
check "serve answers fresh again after the promotion" test $fresh = yes
sleep 1
touch "$T/stop"
wait "$LOOP"
cat "$T/loop.err" >&2
check "under the failover: $(cat "$T/loop.json")" python3 -c "
import json; d = json.load(open('$T/loop.json'))
assert d['answers'] > 100 and d['wrong'] == 0, d"
check "  the outage was seen (stale answers > 0) and logged once" \
  bash -c "python3 -c \"import json; assert json.load(open('$T/loop.json'))['stale'] > 0\" &&
    test \$(grep -c 'Redis unreachable' '$T/serve.log') -ge 1 && grep -q 'reachable again' '$T/serve.log'"
check "after the failover: every user of run B from version 4, fresh" every_user "$T/runB" 4 fresh
# The promoted replica has no replica of its own (its master is dead): a
# publish that asks for one switches, then says the switch is not replicated.
expect 1 "version 5 is live but only 0 of 1 replicas acknowledged it within 400 ms" \
  "$BIN" publish --redis "$URL" --wait-replicas 1 --wait-timeout-ms 400 "$T/runA"
set +e
check "after the failover, the dead master first in the URL: publish run A: version 5 live, exit 1 (no replica acknowledged it)" \
  bash -c "test \"\$('$BIN' publish --redis '$URL' --status | head -1)\" = 'current 5' && grep -q 'publish again once the replicas' '$T/err'"
check "serve: every user of run A from version 5" every_user "$T/runA" 5 fresh
check "/healthz ok, version 5" bash -c "curl -s http://127.0.0.1:$PORT/healthz | grep -q '\"status\":\"ok\".*\"version\":\"5\"'"
kill "$SERVE_PID"
wait "$SERVE_PID"
src=$?
check "serve stops cleanly on SIGTERM (exit $src)" test $src -eq 0

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
