#!/usr/bin/env bash
# cli_nightly.sh - issue 18 item 1: `offerq nightly --config FILE`, with a real
# PostgreSQL and redis-server on loopback (tests/cli/servers.sh):
#   0  the config file's rules: _ and -, flags, empty values, indented lines,
#      long lines, misplaced keys, options checked by their own command;
#   1  --check: a good config (each server answers; exit 0; passwords shown
#      as ***), a bad key and a bad value (exit 3, FILE:LINE and the key),
#      environment overrides (shown with their variable; a typo refused),
#      PostgreSQL down (5), Redis down (8), [publish] password right / wrong;
#   2  a night, then rounds of [a night killed with kill -9 at a random time
#      (seeded: OQ_NIGHTLY_SEED), then a complete night] over the same
#      PostgreSQL and Redis: every complete night exits 0, and its run id is
#      PostgreSQL's newest run, the run folder's number and the Redis version;
#      versions increase; nothing is loaded twice (customer_log rows = the
#      log's; a file loaded again: 0 new); a poller finds Redis's current
#      version complete (meta, Q table, every user) at every look; no partial
#      folder is left;
#   3  two nights at once: one runs, the other exits 4 at once ("another
#      night is running"); a lock held by another process likewise;
#   4  failure classes: model run (6), cross-sell (7), Redis down (8),
#      PostgreSQL down (5) leave what is served unchanged, and the status
#      file names the stage; the night after them agrees on its id again;
#   5  `serve --dir` shows the last night from its status file (read at each
#      look): /v1/nightly.json, offerq_nightly_* metrics, the dashboard's
#      banner (headless Chromium; OQ_SKIP_BROWSER=1 skips it), failed then ok.
# About 40 s. KEEP_T=1 keeps the scratch folder.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
SEED=${OQ_NIGHTLY_SEED:-18}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
POLL_PID=
HOLD=
SERVE_PID=
# shellcheck source=servers.sh
source "$SRC/tests/cli/servers.sh"
cleanup() {
  [ -n "$POLL_PID" ] && kill "$POLL_PID" 2>/dev/null && wait "$POLL_PID" 2>/dev/null
  [ -n "$HOLD" ] && kill "$HOLD" 2>/dev/null
  [ -n "$SERVE_PID" ] && kill "$SERVE_PID" 2>/dev/null && wait "$SERVE_PID" 2>/dev/null
  pg_stop
  redis_stop
  [ -n "${KEEP_T:-}" ] && echo "kept $T" || rm -rf "$T"
}
trap cleanup EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
for tool in python3 redis-cli psql; do command -v $tool >/dev/null || die "$tool is not installed"; done
RANDOM=$SEED
echo "seed $SEED (OQ_NIGHTLY_SEED)"

pg_start "$T" || die "PostgreSQL did not start"
redis_start "$T" || die "redis-server did not start"
psqlq() { psql -Atq "$PG_URL" -c "$1"; }
rc4() { redis-cli -p "$REDIS_PORT" "$@"; }

# The log in two exports: a.csv (the days before May) and b.csv (every day;
# it repeats a.csv's rows, as a shop's export of the whole history would).
"$BIN" gen --customers 1000 --seed 11 --quiet --out "$T/log.csv" || die "gen"
mkdir -p "$T/in"
read -r ROWS_A ROWS_B < <(python3 - "$T" <<'PY'
import csv, sys
t = sys.argv[1]
rows = list(csv.reader(open(t + "/log.csv")))
a = [r for r in rows[1:] if r[1] < "2025-05-01"]
for name, part in (("a", a), ("b", rows[1:])):
    w = csv.writer(open(f"{t}/in/{name}.csv", "w", newline=""), lineterminator="\n")
    w.writerow(rows[0]); w.writerows(part)
print(len(a), len(rows) - 1)
PY
)
C=$T/nightly.conf
cat > "$C" <<EOF
; offerq nightly's test config (paths relative to this file's folder)
[source]
pg = $PG_URL
load = in/a.csv
orders = log.orders.csv
pg_keep_runs = 3

[run]
seed = 2
budget = 300
epochs = 2

[crosssell]
items = $SRC/examples/items.csv
baskets = $SRC/examples/baskets.csv
episodes = 1000

[publish]
redis = $REDIS_URL

[output]
dir = out/run
keep_runs = 2
EOF
line_of() { grep -n -- "$1" "$2" | head -1 | cut -d: -f1; }
night() { # night OUT ERR [args...]: runs a night, sets RC
  local o=$1 e=$2; shift 2
  "$BIN" nightly --config "$C" "$@" >"$o" 2>"$e"; RC=$?
}

# ---- 0: the config file's rules (--check of a CSV-file config: no server) ---------------
# conf_case WHAT RC REGEX: the config on stdin, checked; exit RC and REGEX in
# stdout + stderr
conf_case() {
  local what=$1 want=$2 pat=$3 rc
  cat > "$T/case.conf"
  "$BIN" nightly --config "$T/case.conf" --check >"$T/case.out" 2>&1; rc=$?
  if [ $rc -eq "$want" ] && grep -qE -- "$pat" "$T/case.out"; then
    check "config: $what (exit $rc)" true
  else
    cat "$T/case.out"
    check "config: $what (exit $rc, want $want and /$pat/)" false
  fi
}
conf_case "a CSV log and a run folder are enough" 0 "^all checks passed" <<'EOF'
[source]
log = in/b.csv
[output]
dir = cfg/run
EOF
conf_case "plan-k and plan_k are one key; flags take yes/no; an empty value is the default" 0 \
  '\[run\] plan_k = 5 .*case.conf:4' <<'EOF'
[source]
log = in/b.csv
[run]
plan-k = 5
continuation = yes
faithful = no
budget =
[output]
dir = cfg/run
EOF
conf_case "load on indented lines, relative to the file" 0 "ok   load $T/in/b.csv readable" <<EOF
[source]
pg = $PG_URL
load = in/a.csv
  in/b.csv
[output]
dir = cfg/run
EOF
conf_case "a flag with another value" 3 "case.conf:4: \[run\] faithful: expects true or false, got 'maybe'" <<'EOF'
[source]
log = in/b.csv
[run]
faithful = maybe
[output]
dir = cfg/run
EOF
conf_case "an indented line that continues a single value" 3 \
  "case.conf:5: an indented line continues the value of \[run\] seed" <<'EOF'
[source]
log = in/b.csv
[run]
seed = 3
  budget = 5
[output]
dir = cfg/run
EOF
conf_case "a line too long for libinih" 3 "case.conf:2: line longer than 198 characters" <<EOF
[source]
log = in/$(printf 'x%.0s' $(seq 200)).csv
[output]
dir = cfg/run
EOF
conf_case "a key before any section" 3 "case.conf:1: 'seed' before any \[section\]" <<'EOF'
seed = 1
[source]
log = in/b.csv
[output]
dir = cfg/run
EOF
conf_case "an option with its home elsewhere" 3 \
  "case.conf:4: \[run\] orders is not set here: the purchases are \[source\] orders" <<'EOF'
[source]
log = in/b.csv
[run]
orders = log.orders.csv
[output]
dir = cfg/run
EOF
conf_case "both pg and log" 3 "\[source\] has both pg and log" <<EOF
[source]
pg = $PG_URL
log = in/b.csv
[output]
dir = cfg/run
EOF
conf_case "[publish] wait_timeout_ms without wait_replicas" 3 \
  "\[publish\] wait_timeout_ms needs wait_replicas" <<'EOF'
[source]
log = in/b.csv
[publish]
redis = redis://127.0.0.1:1
wait_timeout_ms = 100
[output]
dir = cfg/run
EOF
conf_case "[publish] wait_timeout_ms not below timeout_ms" 3 \
  "\[publish\] wait_timeout_ms must be below timeout_ms" <<'EOF'
[source]
log = in/b.csv
[publish]
redis = redis://127.0.0.1:1
wait_replicas = 1
wait_timeout_ms = 5000
[output]
dir = cfg/run
EOF
conf_case "no [output] dir" 3 "\[output\] dir is required" <<'EOF'
[source]
log = in/b.csv
EOF
conf_case "options that exclude each other, checked by offerq run" 3 \
  "\[run\]: --model and --profit-epochs are for the profit Transformer" <<'EOF'
[source]
log = in/b.csv
[run]
reward = empirical
profit_epochs = 2
[output]
dir = cfg/run
EOF
conf_case "cross-selling without rules or baskets, checked by crosssell learn" 3 \
  "\[crosssell\]: .*one of --rules or --baskets" <<EOF
[source]
log = in/b.csv
[crosssell]
items = $SRC/examples/items.csv
[output]
dir = cfg/run
EOF
conf_case "an input file that is not there: --check fails with the run's code" 6 \
  "FAIL orders .*nothing.csv cannot be read" <<'EOF'
[source]
log = in/b.csv
orders = nothing.csv
[output]
dir = cfg/run
EOF
"$BIN" nightly --config "$T/nothing.conf" >"$T/o" 2>&1; rc=$?
check "config: a file that is not there (exit $rc)" \
  bash -c "test $rc -eq 3 && grep -q 'nothing.conf: cannot read the config file' '$T/o'"
check "config: --check created nothing" test ! -e "$T/cfg"

# ---- 1: --check ------------------------------------------------------------------
night "$T/c.out" "$T/c.err" --check
check "--check of a good config: exit 0 (got $RC)" test $RC -eq 0
check "  PostgreSQL answered (no tables yet: the night creates them)" \
  grep -q "^ok   PostgreSQL .*no offerq tables yet" "$T/c.out"
check "  Redis answered" grep -q "^ok   Redis redis://127.0.0.1:$REDIS_PORT: answered" "$T/c.out"
check "  the load files, the orders and the cross-selling inputs checked" \
  bash -c 'grep -q "^ok   load .*in/a.csv readable" "$1" && grep -q "^ok   orders" "$1" &&
    grep -q "^ok   crosssell: the items and the rules (or baskets) read" "$1"' _ "$T/c.out"
check "  says the night can run" grep -q "^all checks passed" "$T/c.out"
check "  and ran nothing (no run folder, no table)" \
  bash -c "test ! -e '$T/out/run' && test -z \"\$(psql -Atq '$PG_URL' -c '\\dt')\""

cp "$C" "$T/bad.conf"
sed -i 's/^epochs = 2$/epochs = 2\nseeed = 3/' "$T/bad.conf"
L=$(line_of seeed "$T/bad.conf")
"$BIN" nightly --config "$T/bad.conf" --check >"$T/o" 2>"$T/e"; rc=$?
check "a bad key: exit 3 (got $rc)" test $rc -eq 3
check "  named with FILE:LINE and the key" grep -q "bad.conf:$L: unknown key 'seeed' in \[run\]" "$T/e"
cp "$C" "$T/bad.conf"
sed -i 's/^budget = 300$/budget = -5/' "$T/bad.conf"
L=$(line_of "budget = -5" "$T/bad.conf")
"$BIN" nightly --config "$T/bad.conf" >"$T/o" 2>"$T/e"; rc=$?
check "a bad value: exit 3 (got $rc), with FILE:LINE, the key and offerq run's rule" \
  bash -c "test $rc -eq 3 && grep -q 'bad.conf:$L: \[run\] budget: --budget expects a number in' '$T/e'"
check "  and nothing ran" test ! -e "$T/out/run"

OFFERQ_RUN_SEED=9 "$BIN" nightly --config "$C" --check >"$T/o" 2>"$T/e"; rc=$?
check "OFFERQ_RUN_SEED overrides [run] seed, shown with where it came from" \
  bash -c "test $rc -eq 0 && grep -q '\[run\] seed = 9  (\$OFFERQ_RUN_SEED, over .*/nightly.conf:$(line_of 'seed = 2' "$C"))' '$T/o'"
OFFERQ_RUN_SEEED=9 "$BIN" nightly --config "$C" --check >"$T/o" 2>"$T/e"; rc=$?
check "a misspelt OFFERQ_RUN_SEEED is refused (exit $rc), not ignored" \
  bash -c "test $rc -eq 3 && grep -q 'OFFERQ_RUN_SEEED: names no key of \[run\]' '$T/e'"
PG_PORT=${PG_URL##*:}; PG_PORT=${PG_PORT%%/*}
OFFERQ_PG="postgresql://offerq:s3cret@127.0.0.1:$PG_PORT/postgres" \
  "$BIN" nightly --config "$C" --check >"$T/o" 2>"$T/e"; rc=$?
check "a password in OFFERQ_PG: checked (exit $rc), shown as ***, never in clear" \
  bash -c "test $rc -eq 0 && grep -q 'postgresql://offerq:\*\*\*@127.0.0.1' '$T/o' && ! grep -q s3cret '$T/o' '$T/e'"
DEAD=$(free_port)
OFFERQ_PG="postgresql://offerq@127.0.0.1:$DEAD/postgres" \
  "$BIN" nightly --config "$C" --check >"$T/o" 2>"$T/e"; rc=$?
check "PostgreSQL down: --check exits 5 (got $rc) and says so" \
  bash -c "test $rc -eq 5 && grep -q '^FAIL PostgreSQL .*cannot connect' '$T/o' && grep -q '^ok   Redis' '$T/o'"
OFFERQ_REDIS="redis://127.0.0.1:$DEAD" "$BIN" nightly --config "$C" --check >"$T/o" 2>"$T/e"; rc=$?
check "Redis down: --check exits 8 (got $rc) and says so" \
  bash -c "test $rc -eq 8 && grep -q '^FAIL Redis redis://127.0.0.1:$DEAD: .*Connection refused' '$T/o'"
# [publish] password, against a Redis that wants one
rc4 CONFIG SET requirepass 'Pa55-word!' >/dev/null
cp "$C" "$T/pw.conf"
sed -i '/^\[publish\]$/d' "$T/pw.conf"; sed -i "s|^redis = |[publish]\npassword = Pa55-word!\nredis = |" "$T/pw.conf"
chmod 600 "$T/pw.conf"
"$BIN" nightly --config "$T/pw.conf" --check >"$T/o" 2>"$T/e"; rc=$?
check "[publish] password opens a Redis with requirepass (exit $rc), shown as ***" \
  bash -c "test $rc -eq 0 && grep -q '\[publish\] password = \*\*\*' '$T/o' && ! grep -q 'Pa55' '$T/o' '$T/e'"
sed -i 's/^password = .*/password = wrong-one/' "$T/pw.conf"
"$BIN" nightly --config "$T/pw.conf" --check >"$T/o" 2>"$T/e"; rc=$?
check "  a wrong one: exit 8 (got $rc), the password not echoed" \
  bash -c "test $rc -eq 8 && grep -q '^FAIL Redis' '$T/o' && ! grep -q wrong-one '$T/o' '$T/e'"
chmod 644 "$T/pw.conf"
sed -i 's/^password = .*/password = Pa55-word!/' "$T/pw.conf"
"$BIN" nightly --config "$T/pw.conf" --check >"$T/o" 2>"$T/e"
check "  a password in a file others can read: a warning" grep -q "holds a password (\[publish\] password) and others can read it" "$T/e"
REDISCLI_AUTH='Pa55-word!' rc4 CONFIG SET requirepass '' >/dev/null

# ---- 2: nights, some killed ------------------------------------------------------------
# --debug-pause-ms: a pause before each stage, so that a kill at a random
# time lands in each; night 1 takes them too and measures a night's length.
PAUSE=150
t0=$(date +%s%N)
night "$T/n0.out" "$T/n0.err" --debug-pause-ms $PAUSE
D_MS=$((($(date +%s%N) - t0) / 1000000))
cat "$T/n0.err"
check "night 1: exit 0 (got $RC), run 1 ($D_MS ms)" grep -qx "run 1: ok" "$T/n0.out"
check "  ingest: every row of a.csv new ($ROWS_A)" \
  grep -q "ingest .*: 1 file, $ROWS_A rows ($ROWS_A new, 0 changed, 0 already there)" "$T/n0.err"
check "  a progress line with its time for each stage" \
  bash -c "for s in ingest run crosssell save publish prune; do
    grep -qE \"^offerq nightly: \$s [0-9]+\\.[0-9]{2} s: \" '$T/n0.err' || exit 1; done"
# agree ID: the run id is PostgreSQL's newest run, the run folder's number and
# the Redis version now served
agree() {
  local id=$1 link
  link=$(readlink "$T/out/run")
  [ "$(psqlq 'SELECT max(run_id) FROM runs')" = "$id" ] &&
    [ "${link#run.runs/}" != "$link" ] && [ "${link#run.runs/$(printf %06d "$id")-}" != "$link" ] &&
    [ "$(rc4 GET offerq:current)" = "$id" ]
}
check "  run 1 is PostgreSQL's run, the run folder's number and the Redis version" agree 1
check "  the run folder has the cross-selling table and summary" \
  test -f "$T/out/run/crosssell.oxq" -a -f "$T/out/run/crosssell.json"
check "  crosssell.json published with the version (dashboard)" \
  test "$(rc4 HEXISTS offerq:v:1:files crosssell.json)" = 1
check "  status file: ok, run 1, exit 0, every stage timed" \
  python3 - "$T/out/run.nightly.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
assert s["status"] == "ok" and s["run_id"] == 1 and s["exit_code"] == 0 and s["version"] == 1, s
assert set(s["stage_seconds"]) == {"ingest", "run", "crosssell", "save", "publish", "prune"}, s
PY

# From now on b.csv too: its new rows once, a.csv's rows never twice.
sed -i 's|^load = in/a.csv$|load = in/a.csv in/b.csv|' "$C"
LUA='local p = ARGV[1]
local c = redis.call("GET", p .. ":current")
if not c then return {0, 0, 0, 0} end
local u = redis.call("HGET", p .. ":v:" .. c .. ":meta", "users")
return {tonumber(c), tonumber(u or -1), redis.call("HLEN", p .. ":v:" .. c .. ":list"),
        redis.call("EXISTS", p .. ":v:" .. c .. ":qtable")}'
# the poller: what Redis serves, every ~20 ms, until told to stop
( while [ ! -e "$T/poll.stop" ]; do
    rc4 EVAL "$LUA" 0 offerq 2>/dev/null | paste -sd' ' >> "$T/poll.log"
    sleep 0.02
  done ) &
POLL_PID=$!
last=1 rounds=4 stages=""
bad_round="" orphan=""
for r in $(seq $((rounds + 1))); do
  "$BIN" nightly --config "$C" --debug-pause-ms $PAUSE >"$T/k$r.out" 2>"$T/k$r.err" &
  k=$!
  if [ $r -le $rounds ]; then
    # a random time in the r-th of $rounds equal parts of a night's length:
    # early kills and late ones, whatever the seed
    span=$((D_MS / rounds))
    ms=$(((r - 1) * span + RANDOM % span))
    sleep "$(printf '%d.%03d' $((ms / 1000)) $((ms % 1000)))"
  else
    # and one aimed at publish's pause between writing its version and
    # switching to it (after the save line: a pause, the writing, a pause)
    for _ in $(seq 1000); do grep -q "^offerq nightly: save" "$T/k$r.err" && break; sleep 0.01; done
    ms=$((PAUSE + PAUSE / 2 + 30))
    sleep "0.$ms"
    ms="save+$ms"
  fi
  kill -9 $k 2>/dev/null; wait $k 2>/dev/null; krc=$?
  seq_=$(rc4 GET offerq:seq) cur=$(rc4 GET offerq:current)
  [ "${seq_:-0}" -gt "${cur:-0}" ] && orphan="$orphan $seq_"
  # the stage it was in: the one after the last that printed its line
  done_=$(grep -oE '^offerq nightly: [a-z]+ [0-9.]+ s' "$T/k$r.err" | tail -1 | awk '{print $3}')
  case "$done_" in
    "") at=ingest ;; ingest) at=run ;; run) at=crosssell ;; crosssell) at=save ;;
    save) at=publish ;; publish) at=prune ;; *) at=finished ;;
  esac
  [ $krc -eq 0 ] && at=finished
  stages="$stages $at@${ms}ms"
  night "$T/n$r.out" "$T/n$r.err"
  id=$(sed -n 's/^run \([0-9]*\): ok$/\1/p' "$T/n$r.out")
  rows=$(psqlq 'SELECT count(*) FROM customer_log')
  recs=$(psqlq "SELECT count(*) FROM recommendations WHERE run_id = ${id:-0}")
  users=$(rc4 HLEN "offerq:v:${id:-0}:list")
  [ "${seq_:-0}" -gt "${cur:-0}" ] && echo "round $r: the killed night had claimed version $seq_, current was $cur"
  echo "round $r: killed after ${ms} ms (in its $at stage, exit $krc); the next night: exit $RC, run ${id:-?}; customer_log $rows rows; $recs recommendations, $users in Redis"
  ok=1
  # a version claimed by the killed night is collected by the next publish
  [ "${seq_:-0}" -gt "${cur:-0}" ] &&
    [ "$(rc4 EXISTS "offerq:v:$seq_:list" "offerq:v:$seq_:meta" "offerq:v:$seq_:qtable")" != 0 ] && ok=0
  [ $RC -eq 0 ] && [ -n "$id" ] && [ "$id" -gt "$last" ] || ok=0
  agree "${id:-0}" || ok=0
  [ "$rows" = "$ROWS_B" ] || ok=0
  [ "$recs" -gt 0 ] && [ "$recs" = "$users" ] || ok=0
  [ -z "$(ls -A "$T/out/run.runs" | grep '^\.')" ] || ok=0
  [ "$(ls "$T/out/run.runs" | wc -l)" -le 2 ] || ok=0
  [ "$(psqlq 'SELECT count(*) FROM runs')" -le 3 ] || ok=0
  if [ $r -ge 2 ] || grep -q "^offerq nightly: ingest" "$T/k$r.err"; then
    # b.csv's rows were loaded by an earlier night: loading both again adds nothing
    grep -q "ingest .*: 2 files, $((ROWS_A + ROWS_B)) rows (0 new, 0 changed, $((ROWS_A + ROWS_B)) already there)" "$T/n$r.err" ||
      { [ $r -eq 1 ] || ok=0; }
  fi
  [ $ok -eq 1 ] || { bad_round="$bad_round $r"; cat "$T/k$r.err" "$T/n$r.err"; }
  last=${id:-$last}
done
echo "kill points:$stages; versions claimed by killed nights:${orphan:- none}"
check "$((rounds + 1)) rounds: after each kill -9 the next night completes, its id one past the last (PostgreSQL = run folder = Redis version), no row loaded twice ($ROWS_B rows), list whole in PostgreSQL and Redis, no partial folder, runs pruned, versions of killed nights removed (bad rounds:${bad_round:- none})" \
  test -z "$bad_round"
check "  the kills landed in at least two stages ($stages)" \
  test "$(echo "$stages" | tr ' ' '\n' | grep -v '^finished' | sed -n 's/@.*//p' | sort -u | wc -l)" -ge 2
touch "$T/poll.stop"; wait "$POLL_PID" 2>/dev/null; POLL_PID=
check "the poller saw Redis's current version complete at every look, versions never going back" \
  python3 - "$T/poll.log" <<'PY'
import sys
obs = [list(map(int, l.split())) for l in open(sys.argv[1]) if l.strip()]
bad = [o for o in obs if o[0] and not (o[1] == o[2] > 0 and o[3] == 1)]
back = [(a[0], b[0]) for a, b in zip(obs, obs[1:]) if b[0] < a[0]]
vs = sorted({o[0] for o in obs})
print(f"  {len(obs)} looks; versions seen {vs}; incomplete {len(bad)}; going back {len(back)}")
sys.exit(bool(bad or back or len(obs) < 20 or len(vs) < 3))
PY

# ---- 3: one night at a time -----------------------------------------------------------
"$BIN" nightly --config "$C" --debug-pause-ms 200 >"$T/p1.out" 2>"$T/p1.err" & p1=$!
"$BIN" nightly --config "$C" --debug-pause-ms 200 >"$T/p2.out" 2>"$T/p2.err" & p2=$!
wait $p1; r1=$?
wait $p2; r2=$?
echo "two nights at once: exits $r1 and $r2"
check "two nights at once: one completes, the other exits 4" \
  bash -c "[ '$r1 $r2' = '0 4' ] || [ '$r1 $r2' = '4 0' ]"
[ $r1 -eq 4 ] && refused=$T/p1.err || refused=$T/p2.err
check "  saying another night is running, with its pid" \
  grep -q "another night is running (pid [0-9]* since .*; lock .*run.lock): this one exits without doing anything (exit 4)" "$refused"
id=$(cat "$T/p1.out" "$T/p2.out" | sed -n 's/^run \([0-9]*\): ok$/\1/p')
check "  the one that ran agrees on its id ($id)" agree "${id:-0}"
last=${id:-$last}
python3 -c 'import fcntl, os, sys, time
fd = os.open(sys.argv[1], os.O_RDWR)
fcntl.flock(fd, fcntl.LOCK_EX); time.sleep(30)' "$T/out/run.lock" &
HOLD=$!
for _ in $(seq 100); do python3 -c 'import fcntl, os, sys
fcntl.flock(os.open(sys.argv[1], os.O_RDONLY), fcntl.LOCK_EX | fcntl.LOCK_NB)' "$T/out/run.lock" 2>/dev/null || break; sleep 0.05; done
t0=$(date +%s%N)
night "$T/h.out" "$T/h.err"
ms=$((($(date +%s%N) - t0) / 1000000))
check "a lock held by another process: exit 4 (got $RC) in $ms ms, at once (< 1500 ms)" \
  test $RC -eq 4 -a $ms -lt 1500
kill $HOLD; wait $HOLD 2>/dev/null; HOLD=
"$BIN" nightly --config "$C" --check >"$T/o" 2>&1
check "  --check reports the lock free once released" grep -q "^ok   lock .*run.lock: free" "$T/o"

# ---- 4: failure classes ---------------------------------------------------------------
served() { echo "$(readlink "$T/out/run") $(rc4 GET offerq:current) $(psqlq 'SELECT max(run_id) FROM runs')"; }
status_is() { # status_is STAGE CODE
  python3 - "$T/out/run.nightly.json" "$1" "$2" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))
ok = s["status"] == "failed" and s["failed_stage"] == sys.argv[2] and s["exit_code"] == int(sys.argv[3]) and s["error"]
sys.exit(0 if ok else (print(s) or 1))
PY
}
before=$(served)
printf 'user_id,date\nnot-a-number,2025-01-01\n' > "$T/bad_orders.csv"
OFFERQ_SOURCE_ORDERS=$T/bad_orders.csv night "$T/f.out" "$T/f.err"
check "a bad orders file: exit 6, model run (got $RC)" test $RC -eq 6
check "  the message names the file" grep -q "bad_orders.csv" "$T/f.err"
check "  nothing served changed (run folder, Redis, PostgreSQL)" test "$(served)" = "$before"
check "  status file: failed at run, exit 6" status_is run 6
printf 'item,price\nbread,abc\n' > "$T/bad_items.csv"
OFFERQ_CROSSSELL_ITEMS=$T/bad_items.csv night "$T/f.out" "$T/f.err"
check "bad cross-selling items: exit 7 (got $RC)" test $RC -eq 7
check "  nothing served changed, no partial folder left" \
  bash -c "test '$(served)' = '$before' && test -z \"\$(ls -A '$T/out/run.runs' | grep '^\.')\""
check "  status file: failed at crosssell, exit 7" status_is crosssell 7
OFFERQ_REDIS="redis://127.0.0.1:$DEAD" night "$T/f.out" "$T/f.err"
check "Redis down: exit 8 (got $RC), before anything ran" \
  bash -c "test $RC -eq 8 && grep -q 'nothing was run' '$T/f.err' && test '$(served)' = '$before'"
check "  status file: failed at publish, exit 8" status_is publish 8
OFFERQ_PG="postgresql://offerq@127.0.0.1:$DEAD/postgres" night "$T/f.out" "$T/f.err"
check "PostgreSQL down: exit 5 (got $RC), nothing served changed" \
  bash -c "test $RC -eq 5 && test '$(served)' = '$before'"
check "  status file: failed at ingest, exit 5" status_is ingest 5

# ---- 5: serve shows the failed night, then the good one ------------------------------
SPORT=$(free_port)
"$BIN" serve --port "$SPORT" --dir "$T/out/run" 2>"$T/serve.log" &
SERVE_PID=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$SPORT/healthz" && break; sleep 0.05; done
nightly_is() { # nightly_is STATUS [STAGE CODE]: /v1/nightly.json and /metrics agree with the file
  curl -s "http://127.0.0.1:$SPORT/v1/nightly.json" > "$T/nj" && curl -s "http://127.0.0.1:$SPORT/metrics" > "$T/nm" &&
  python3 - "$T/nj" "$T/nm" "$T/out/run.nightly.json" "$@" <<'PY'
import json, re, sys
got, met, f = json.load(open(sys.argv[1])), open(sys.argv[2]).read(), json.load(open(sys.argv[3]))
want = sys.argv[4:]
assert got["status"] == want[0] == f["status"], (got, want)
for k in ("run_id", "exit_code", "failed_stage", "error", "finished_at"):
    assert got[k] == f[k], (k, got, f)
assert 0 <= got["age_seconds"] < 600, got
m = re.search(r'^offerq_nightly_last_success(\{stage="(\w+)"\})? (\d)$', met, re.M)
assert m, met[-800:]
if want[0] == "ok":
    assert m.group(3) == "1" and m.group(1) is None
else:
    assert m.group(3) == "0" and m.group(2) == want[1] and got["exit_code"] == int(want[2]), (m.group(0), got)
assert re.search(r'^offerq_nightly_last_exit_code %d$' % f["exit_code"], met, re.M), met[-800:]
PY
}
check "serve: /v1/nightly.json and metrics say the night failed at ingest (exit 5)" nightly_is failed ingest 5
check "  while yesterday's table is still served" \
  bash -c "test \"\$(curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:$SPORT/v1/recommend/1)\" = 200"
browser_banner() { # browser_banner ID TEXT: the dashboard's nightly line
  [ "${OQ_SKIP_BROWSER:-0}" = 1 ] && return 0
  local chrome; chrome=$(command -v chromium || command -v chromium-browser || command -v google-chrome) || return 1
  timeout 60 "$chrome" --headless --no-sandbox --disable-gpu --no-first-run --disable-background-networking \
    --disable-component-update --disable-sync --user-data-dir="$T/chrome" --virtual-time-budget=5000 \
    --dump-dom "http://127.0.0.1:$SPORT/" > "$T/dom.html" 2>/dev/null
  grep -q 'data-nightly="1"' "$T/dom.html" && grep -q "id=\"$1\"[^>]*>$2" "$T/dom.html"
}
check "  the dashboard says so at the top (browser)" browser_banner nightly-failed "Last night's job FAILED at the ingest stage"
night "$T/f.out" "$T/f.err"
id=$(sed -n 's/^run \([0-9]*\): ok$/\1/p' "$T/f.out")
check "the next night completes (run ${id:-?}, past the ids the failed nights took) and agrees" \
  bash -c "test $RC -eq 0 && test '${id:-0}' -gt '$last' && $(declare -f agree psqlq rc4); T='$T' PG_URL='$PG_URL' REDIS_PORT='$REDIS_PORT' agree '${id:-0}'"
check "serve: the good night is read at the next look: ok, no restart" nightly_is ok
check "  the dashboard says ok (browser)" browser_banner nightly-ok "Last night's job: ok, run ${id:-?}"
kill "$SERVE_PID"; wait "$SERVE_PID"; src=$?; SERVE_PID=
check "serve stops cleanly (exit $src)" test $src -eq 0

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
