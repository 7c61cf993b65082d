#!/usr/bin/env bash
# cli_prod_hard.sh - hardening round 2 (issue 21) of the production path, with
# a real redis-server on loopback (tests/cli/servers.sh):
#   item 1  overlapping publishes: a version being written is never deleted,
#           none goes live hollow, leaked keys are collected;
#   item 2  a second `serve` on a port in use fails with a clear error;
#   item 7  redis-server killed mid-publish: an error, not a silent SIGPIPE;
#   item 9  publish checks every file of the run before writing to Redis;
#   item 6  a frozen Redis or PostgreSQL is an error after a timeout, not a hang.
# Short by design (a few seconds): small lists, one paused publish at a time.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
PIDS=()
# shellcheck source=servers.sh
source "$SRC/tests/cli/servers.sh"
cleanup() {
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
  redis_stop
  rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
for tool in curl python3 redis-cli; do command -v $tool >/dev/null || die "$tool is not installed"; done
rcli() { redis-cli -p "$REDIS_PORT" --raw "$@"; }
has() { test "$(rcli EXISTS "$1")" = 1; } # has KEY
wait_for() { # wait_for SECONDS command...: poll until the command succeeds
  local n=$(($1 * 50)); shift
  for _ in $(seq "$n"); do "$@" && return 0; sleep 0.02; done
  return 1
}
# mkrun DIR SEED USERS: a valid run folder (list + Q table + report.json).
mkrun() {
  mkdir -p "$1"
  awk -v s="$2" -v n="$3" 'BEGIN { print "user_id,snapshot_date,state,coupon,expected_profit,p_alive";
    split("none 5 10 20", c, " ");
    for (u = 1; u <= n; u++) printf "%d,2025-03-01,s%d,%s,%.2f,%.3f\n", u, u % 7, c[(u + s) % 4 + 1], u * 0.5 + s, (u % 10) / 10 }' \
    > "$1/recommendations.csv"
  mkqtable "$1/qtable.ofq" "$2" 60
  echo '{"plan": {"customers": '"$3"'}}' > "$1/report.json"
}
# every key of version $1 is there (qtable, list, meta)
# Each part uses its own key prefix P, so that its version numbers do not
# depend on the parts before it.
P=offerq
complete() { test "$(rcli EXISTS "$P:v:$1:qtable" "$P:v:$1:list" "$P:v:$1:meta")" = 3; }
# versions that own keys: the N of every offerq:v:N:* key, sorted, unique
key_versions() { rcli --scan --pattern "$P:v:*" | cut -d: -f3 | sort -nu | tr '\n' ' '; }

redis_start "$T" || die "redis-server did not start"
mkrun "$T/runA" 0 300
mkrun "$T/runB" 1 200

# ---- item 9: publish validates every file before touching Redis ---------------
check "a valid run publishes (version 1)" bash -c "'$BIN' publish --redis '$REDIS_URL' '$T/runA' 2>/dev/null | head -1 | grep -qx 'current 1'"
bad() { # bad NAME EDIT...: a copy of runA with one file damaged must be refused
  local name=$1; shift
  rm -rf "$T/bad"; cp -r "$T/runA" "$T/bad"
  (cd "$T/bad" && eval "$*")
  out=$("$BIN" publish --redis "$REDIS_URL" "$T/bad" 2>&1); rc=$?
  check "$name: refused with exit 1" test $rc -eq 1
  check "  the message names the file ($(head -1 <<< "$out" | cut -c1-90))" grep -q "bad/${file:-}" <<< "$out"
  check "  nothing written to Redis (seq still 1, keys of version 1 only)" \
    test "$(rcli GET offerq:seq) $(key_versions)" = "1 1 "
}
file=qtable.ofq;          bad "truncated qtable.ofq (1000 bytes)" 'truncate -s 1000 qtable.ofq'
file=qtable.ofq;          bad "qtable.ofq with a flipped byte (CRC)" 'printf "\377" | dd of=qtable.ofq bs=1 seek=200 conv=notrunc 2>/dev/null'
file=recommendations.csv; bad "recommendations.csv with a bad p_alive" "sed -i '5s/,[^,]*\$/,1.5/' recommendations.csv"
file=report.json;         bad "broken report.json" 'echo "{\"plan\": " > report.json'
file=eval.json;           bad "broken eval.json" 'printf "[1, 2" > eval.json'
file=crosssell.json;      bad "broken crosssell.json" 'printf "{\"a\": nan}" > crosssell.json'

# ---- item 1: overlapping publishes -----------------------------------------
P=ov
"$BIN" publish --redis "$REDIS_URL" --prefix "$P" "$T/runB" >/dev/null 2>&1 # version 1
# A claims version 2 and pauses before its switch; B publishes (3) meanwhile.
# B must not delete A's version; A then switches to a complete version 2.
"$BIN" publish --redis "$REDIS_URL" --prefix "$P" --debug-pause-ms 2500 "$T/runA" > "$T/a.out" 2>"$T/a.err" &
PIDS+=($!); pa=$!
check "A has written version 2 and waits" wait_for 10 has $P:v:2:meta
out=$("$BIN" publish --redis "$REDIS_URL" --prefix "$P" "$T/runB" 2>/dev/null); rc=$?
check "B publishes version 3 meanwhile (exit $rc)" test $rc -eq 0 -a "$(head -1 <<< "$out")" = "current 3"
check "  B left A's version 2 complete" complete 2
wait $pa; rc=$?
check "A switches after B (exit $rc)" test $rc -eq 0 -a "$(tr '\n' ' ' < "$T/a.out")" = "current 2 previous 3 "
check "  the live version 2 is complete (not hollow)" complete 2
check "  and its list is A's ($(rcli HLEN $P:v:2:list) users)" test "$(rcli HLEN $P:v:2:list)" = 300
check "  previous (3) is complete for a rollback" complete 3
check "  keys only of current and previous (versions: $(key_versions))" test "$(key_versions)" = "2 3 "
check "  no writer left registered" test "$(rcli HLEN $P:writing)" = 0

# A publish killed (kill -9) mid-way leaves a version with a dead writer; a
# leaked key (a version that is not registered, as older offerq left them)
# is there too: the next publish removes both.
"$BIN" publish --redis "$REDIS_URL" --prefix "$P" --debug-pause-ms 20000 "$T/runA" >/dev/null 2>&1 &
PIDS+=($!); pk=$!
check "killed publish had claimed version 4" wait_for 10 has $P:v:4:meta
kill -9 $pk; wait $pk 2>/dev/null
rcli HSET $P:v:1:list 7 leaked >/dev/null
rcli SET $P:v:0:qtable leaked >/dev/null
out=$("$BIN" publish --redis "$REDIS_URL" --prefix "$P" "$T/runB" 2>/dev/null)
check "next publish -> version 5" test "$(head -1 <<< "$out")" = "current 5"
check "  dead version 4 and leaked keys removed (versions: $(key_versions))" test "$(key_versions)" = "2 5 "
check "  versions set holds current and previous only" test "$(rcli SMEMBERS $P:versions | sort -n | tr '\n' ' ')" = "2 5 "

# ---- item 7: redis-server killed mid-publish --------------------------------
P=ok
# The publish pauses after its Q table, Redis dies, then the list is sent:
# writes to the dead socket fail with EPIPE, which must be reported (exit 1)
# and not kill the process with SIGPIPE (exit 141, nothing said).
mkrun "$T/big" 2 60000
"$BIN" publish --redis "$REDIS_URL" --prefix "$P" --debug-pause-list-ms 2000 "$T/big" >/dev/null 2>"$T/k.err" &
PIDS+=($!); pk=$!
check "the publish has sent its Q table (version 1)" wait_for 10 has $P:v:1:qtable
kill -9 "$(cat "$REDIS_PIDFILE")"; rm -f "$REDIS_PIDFILE"
wait $pk; rc=$?
check "redis-server killed mid-publish: exit 1, not SIGPIPE (exit $rc)" test $rc -eq 1
check "  and the error is reported ($(head -1 "$T/k.err" | cut -c1-80))" grep -q "Redis" "$T/k.err"

# ---- item 2: serve on a port in use -----------------------------------------
redis_start "$T" || die "redis-server did not restart"
"$BIN" publish --redis "$REDIS_URL" "$T/runB" >/dev/null 2>&1
PORT=$(free_port)
"$BIN" serve --port "$PORT" --redis "$REDIS_URL" 2>"$T/s1.err" &
PIDS+=($!); s1=$!
check "first serve answers" wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"
timeout 10 "$BIN" serve --port "$PORT" --redis "$REDIS_URL" 2>"$T/s2.err"; rc=$?
check "second serve on the same port fails with 1 (exit $rc)" test $rc -eq 1
check "  saying the port is in use" grep -q "already in use" "$T/s2.err"
check "  the first one still serves" curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"
kill $s1; wait $s1; rc=$?
check "first serve stops cleanly (exit $rc)" test $rc -eq 0

# ---- item 6: timeouts towards Redis and PostgreSQL ---------------------------
# A frozen redis-server (SIGSTOP) accepts connections (the kernel does) and
# never answers, like a frozen postmaster; pointed at with --pg it is also a
# port that is not PostgreSQL. Every client must give up with an error.
ms() { echo $(($(date +%s%N) / 1000000)); }
"$BIN" serve --port "$PORT" --redis "$REDIS_URL" 2>"$T/s3.err" &
PIDS+=($!); s3=$!
check "serve answers before the freeze" wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$PORT/healthz"
kill -STOP "$(cat "$REDIS_PIDFILE")"
( t0=$(ms); timeout 30 "$BIN" db status --pg "postgresql://offerq@127.0.0.1:$REDIS_PORT/postgres" \
    >"$T/pg.err" 2>&1; echo "$? $(($(ms) - t0))" > "$T/pg.rc" ) &
PIDS+=($!); pgjob=$!
t0=$(ms); timeout 30 "$BIN" publish --redis "$REDIS_URL" --redis-timeout-ms 500 "$T/runA" >/dev/null 2>"$T/f.err"; rc=$?; dt=$(($(ms) - t0))
check "publish to a frozen Redis fails with 1 in ${dt} ms (exit $rc)" test $rc -eq 1 -a $dt -lt 5000
check "  saying Redis did not answer in time" grep -q "did not answer in time" "$T/f.err"
# serve holds the published table in memory (issue 18): /healthz says it
# answers from it (200, "stale") instead of waiting on Redis.
t0=$(ms); code=$(curl -s -o "$T/hz" -w '%{http_code}' --max-time 20 "http://127.0.0.1:$PORT/healthz"); dt=$(($(ms) - t0))
check "/healthz with Redis frozen: 200 stale (held table) in ${dt} ms (code $code)" \
  bash -c "test '$code' = 200 -a $dt -lt 5000 && grep -q '\"status\":\"stale\"' '$T/hz'"
wait $pgjob; read -r rc dt < "$T/pg.rc"
check "db status on a port that never answers fails with 1 in ${dt} ms (exit $rc)" test "$rc" = 1 -a "$dt" -lt 15000
check "  saying so ($(head -1 "$T/pg.err" | cut -c1-90))" grep -q "no answer within connect_timeout" "$T/pg.err"
kill -CONT "$(cat "$REDIS_PIDFILE")"
fresh() { curl -sf "http://127.0.0.1:$PORT/healthz" | grep -q '"status":"ok"'; }
check "after the thaw /healthz is fresh again" wait_for 10 fresh
kill $s3; wait $s3; rc=$?
check "serve stops cleanly (exit $rc)" test $rc -eq 0

echo "$passes passed, $fails failed"
test $fails -eq 0
