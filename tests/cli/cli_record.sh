#!/usr/bin/env bash
# cli_record.sh - issue 17 item 3: the contacts written back keep the
# propensity (`offerq record`). A generated shop (offerq gen + convert,
# 300 customers) gets a run with --explore 0.2 (`offerq run --contacts`);
# its offers "go out" on 2025-07-01 and hand-made orders come in. Checked:
#   - one contact per recommended customer, the control's ("none") too, each
#     with the run's offer and propensity cell unchanged;
#   - ordered / value against hand-computed values (two orders on the day
#     summed, one the day after: counted with --window 2 only, one the day
#     before: never, a negative value, a customer the run did not recommend
#     for: ignored) and, for every row, against an independent computation;
#   - --append: rows added after the old bytes, the file's permissions kept;
#     a missing file refused (nothing written); a day recorded twice, a
#     foreign header or a bad date in the file are refused by file:line and
#     leave the file byte-identical (and --out unwritten);
#   - offerq eval --contacts on the recorded file with --run: "propensity":
#     "logged", and IPS of the run and of every fixed offer equal to
#     (1/n) sum 1[a_i = pi(x_i)] r_i / p_i computed here from the file;
#   - bad input: a run without propensity, a propensity outside (0, 1], a
#     customer recommended twice, a bad order date, --contacted naming a
#     stranger: file:line:column and nothing written; bad options exit 2;
#   - PostgreSQL (a server started here on loopback; skipped, said, when
#     the server binaries are absent): record --pg loads the rows into
#     contacts (one per customer, a second load changes nothing) and db
#     dump --table contacts gives back the same rows with their propensity.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
chmod 755 "$T"
# shellcheck source=servers.sh
source "$SRC/tests/cli/servers.sh"
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
trap 'pg_stop; rm -rf "$T"' EXIT
export OMP_NUM_THREADS=1
# refused RC PATTERN CMD...: CMD exits RC and says PATTERN on stderr (counted)
refused() {
  local want=$1 pat=$2 rc
  shift 2
  "$@" >"$T/out" 2>"$T/err"
  rc=$?
  if [ $rc -eq "$want" ] && grep -qE -- "$pat" "$T/err"; then
    echo "ok   refused (exit $rc): $pat"; passes=$((passes + 1))
  else
    echo "FAIL exit $rc, not $want, or no /$pat/ in:"; cat "$T/err"; fails=$((fails + 1))
  fi
}

"$BIN" gen --customers 300 --snapshots 4 --seed 5 --quiet --out "$T/log.csv" 2>/dev/null || die "gen"
"$BIN" convert --log "$T/log.csv" --out-dir "$T/raw" >/dev/null || die "convert"
R=$T/raw
"$BIN" run --contacts "$R/contacts.csv" --customers "$R/customers.csv" --offers "$R/offers.csv" \
  --orders "$R/orders.csv" --explore 0.2 --trees 40 --seed 3 --quiet --out-dir "$T/run" \
  >"$T/run.out" 2>"$T/run.err" || { cat "$T/run.err"; die "run --contacts"; }
RECO=$T/run/recommendations.csv
check "the run shows the control to some and explores (propensities 0.85 and 0.05)" bash -c \
  "cut -d, -f2 '$RECO' | grep -qx none && cut -d, -f4 '$RECO' | grep -qx 0.050000 &&
   cut -d, -f4 '$RECO' | grep -qx 0.850000"

# ---- the orders of the response window (the day after the log) -----------------------------
{
  echo "user_id,date,value"
  echo "1,2025-07-01,10.10"
  echo "1,2025-07-01,5.05"    # two orders on the day: 15.15
  echo "2,2025-07-02,7"       # the next day: only with --window 2
  echo "3,2025-06-30,9"       # the day before: never
  echo "4,2025-07-01,-1.5"    # a return: ordered, value -1.5
  echo "stranger,2025-07-01,4" # no recommendation: ignored
  # more orders, so that eval's model has some to learn from
  tail -n +2 "$R/customers.csv" | awk -F, '$1 >= 10 && $1 % 3 == 0 {printf "%s,2025-07-01,%.2f\n", $1, ($1 % 7) * 3.5 + 20}
                                           $1 >= 10 && $1 % 5 == 0 {printf "%s,2025-07-01,12.25\n", $1}'
  echo "8,2025-07-03,1"       # after every window
} >"$T/orders.csv"

"$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/new.csv" \
  >"$T/rec.out" 2>"$T/rec.err" || { cat "$T/rec.err"; die "record"; }
check "record: the header and one contact per recommended customer" bash -c \
  "head -1 '$T/new.csv' | grep -qx 'user_id,date,offer,ordered,value,propensity' &&
   [ \$(wc -l < '$T/new.csv') = \$(wc -l < '$RECO') ]"
row() { grep "^$1,2025-07-01," "$T/new.csv" | cut -d, -f4,5; }
check "  user 1: two orders on the day summed (1, 15.15)" test "$(row 1)" = "1,15.15"
check "  user 2: the next day's order is outside a 1-day window (0, 0)" test "$(row 2)" = "0,0"
check "  user 3: the day before's order never counts (0, 0)" test "$(row 3)" = "0,0"
check "  user 4: a negative value is still an order (1, -1.5)" test "$(row 4)" = "1,-1.5"
check "  stranger: not a contact" bash -c "! grep -q '^stranger,' '$T/new.csv'"
check "  summary: 4 orders outside the window or of nobody recommended" \
  grep -q "4 others ignored" "$T/rec.out"
"$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --window 2 \
  --out "$T/new2.csv" --quiet 2>/dev/null || die "record --window 2"
check "  --window 2: user 2's order counts (1, 7)" \
  test "$(grep '^2,' "$T/new2.csv" | cut -d, -f4,5)" = "1,7"
# every row against an independent computation from the files
check_rows() { # new.csv window
  python3 - "$RECO" "$T/orders.csv" "$1" "$2" <<'PY'
import csv, sys, datetime
reco, orders, new, window = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
day = datetime.date(2025, 7, 1)
rec = list(csv.DictReader(open(reco)))
got = list(csv.DictReader(open(new)))
val, n = {}, {}
for o in csv.DictReader(open(orders)):
    d = datetime.date.fromisoformat(o["date"])
    if day <= d < day + datetime.timedelta(days=window):
        val[o["user_id"]] = val.get(o["user_id"], 0) + float(o["value"])
        n[o["user_id"]] = n.get(o["user_id"], 0) + 1
assert len(got) == len(rec), (len(got), len(rec))
for r, g in zip(rec, got):
    assert g["user_id"] == r["user_id"] and g["offer"] == r["offer"], (r, g)
    assert g["propensity"] == r["propensity"], (r, g)  # the run's cell, unchanged
    assert g["date"] == "2025-07-01"
    u = r["user_id"]
    assert int(g["ordered"]) == (1 if u in n else 0), (u, g)
    assert abs(float(g["value"]) - val.get(u, 0)) < 1e-9, (u, g, val.get(u))
none = sum(1 for g in got if g["offer"] == "none")
assert none > 0 and sum(1 for r in rec if r["offer"] == "none") == none
print("rows ok: %d contacts, %d of the control, %d ordered" % (len(got), none, len(n)))
PY
}
check "  every row: offer, propensity, ordered, value as computed from the files (window 1)" \
  check_rows "$T/new.csv" 1
check "  every row (window 2)" check_rows "$T/new2.csv" 2

# ---- --append -------------------------------------------------------------------------------
cp "$T/new.csv" "$T/all.csv"
chmod 640 "$T/all.csv"
printf 'user_id,date,value\n1,2025-07-02,3\n' >"$T/orders2.csv"
"$BIN" record --run "$T/run" --date 2025-07-02 --orders "$T/orders2.csv" --out "$T/day2.csv" \
  --append "$T/all.csv" --quiet 2>"$T/err" || { cat "$T/err"; die "record --append"; }
check "--append: the old bytes, then the new rows" bash -c \
  "cat '$T/new.csv' <(tail -n +2 '$T/day2.csv') | cmp -s - '$T/all.csv'"
check "  the file keeps its permissions (640)" test "$(stat -c %a "$T/all.csv")" = 640
check "  the appended day: user 1 ordered 3" grep -qx "1,2025-07-02,[^,]*,1,3,[0-9.]*" "$T/all.csv"
cp "$T/all.csv" "$T/all.before"
refused 1 "all.csv:2:1: customer \"1\" already has a contact on 2025-07-01" \
  "$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/again.csv" \
  --append "$T/all.csv"
check "  a day recorded twice: the file byte-identical, --out not written" bash -c \
  "cmp -s '$T/all.csv' '$T/all.before' && test ! -e '$T/again.csv' && ! ls '$T'/all.csv.tmp.* 2>/dev/null"
printf 'user_id,date,offer,ordered,value\n1,2025-06-01,none,0,0\n' >"$T/foreign.csv"
cp "$T/foreign.csv" "$T/foreign.before"
refused 1 "foreign.csv:1:6: the header is not user_id,date,offer,ordered,value,propensity" \
  "$BIN" record --run "$T/run" --date 2025-07-05 --orders "$T/orders.csv" --out "$T/x.csv" \
  --append "$T/foreign.csv"
check "  a foreign header: the file byte-identical" cmp -s "$T/foreign.csv" "$T/foreign.before"
printf 'user_id,date,offer,ordered,value,propensity\n1,2025-06-31,none,0,0,0.5' >"$T/baddate.csv"
refused 1 "baddate.csv:2:2: column 2 \(date\): got \"2025-06-31\"" \
  "$BIN" record --run "$T/run" --date 2025-07-05 --orders "$T/orders.csv" --out "$T/x.csv" \
  --append "$T/baddate.csv"
refused 1 "nothing was written; --append adds to an existing contacts file" \
  "$BIN" record --run "$T/run" --date 2025-07-05 --orders "$T/orders.csv" --out "$T/x.csv" \
  --append "$T/absent.csv"
check "  --out not written either" test ! -e "$T/x.csv"
# an export without a final newline: the new rows start on a line of their own
printf 'user_id,date,offer,ordered,value,propensity\r\nold,2025-06-01,none,0,0,0.5' >"$T/nonl.csv"
"$BIN" record --run "$T/run" --date 2025-07-05 --orders "$T/orders.csv" --out "$T/x.csv" \
  --append "$T/nonl.csv" --quiet 2>/dev/null
check "--append to a file without a final newline: its last row kept whole" bash -c \
  "sed -n 2p '$T/nonl.csv' | grep -q '^old,2025-06-01,none,0,0,0.5' &&
   sed -n 3p '$T/nonl.csv' | grep -q '^1,2025-07-05,'"

# ---- eval on the recorded log: IPS with the recorded propensities ---------------------------
"$BIN" eval --contacts "$T/new.csv" --customers "$R/customers.csv" --offers "$R/offers.csv" \
  --run "$T/run" --trees 40 --json "$T/est.json" --quiet >"$T/eval.out" 2>"$T/eval.err" ||
  { cat "$T/eval.err"; die "eval --contacts on the recorded file"; }
check "eval --contacts on the recorded file: propensities logged, IPS = sum 1[a = pi] r / p / n" \
  python3 - "$T/new.csv" "$R/offers.csv" "$RECO" "$T/est.json" <<'PY'
import csv, json, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cost = {o["offer"]: (float(o["redeem_cost"]), float(o["contact_cost"]))
        for o in csv.DictReader(open(sys.argv[2]))}
run = {r["user_id"]: r["offer"] for r in csv.DictReader(open(sys.argv[3]))}
est = json.load(open(sys.argv[4]))["crossfit"]
assert est["propensity"] == "logged", est["propensity"]
def reward(r):
    rc, cc = cost[r["offer"]]
    return float(r["value"]) - rc * int(r["ordered"]) - cc
def ips(pick):
    return sum(reward(r) / float(r["propensity"]) for r in rows if pick(r) == r["offer"]) / len(rows)
want = {"run": ips(lambda r: run[r["user_id"]])}
for a in cost:
    want["offer:" + a] = ips(lambda r, a=a: a)
got = {p["policy"]: p["ips"] for p in est["policies"]}
for k, v in want.items():
    assert abs(got[k] - v) < 1e-9 * max(1, abs(v)), (k, got[k], v)
print("IPS:", ", ".join("%s %.4f" % kv for kv in sorted(want.items())))
PY

# ---- bad input ------------------------------------------------------------------------------
mkdir -p "$T/noprop" "$T/badprop" "$T/twice"
cut -d, -f1-3 "$RECO" >"$T/noprop/recommendations.csv"
refused 1 "recommendations.csv:1: the run has no propensity column" \
  "$BIN" record --run "$T/noprop" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/x1.csv"
awk -F, -v OFS=, 'NR == 3 {$4 = "1.5"} 1' "$RECO" >"$T/badprop/recommendations.csv"
refused 1 "recommendations.csv:3:4: column 4 \(propensity\): got \"1.5\", expected a probability" \
  "$BIN" record --run "$T/badprop" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/x1.csv"
{ cat "$RECO"; sed -n 2p "$RECO"; } >"$T/twice/recommendations.csv"
refused 1 "recommendations.csv:302:1: customer \"1\" is recommended twice \(first on line 2\)" \
  "$BIN" record --run "$T/twice" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/x1.csv"
printf 'user_id,date,value\n1,2025-07-01,3\n2,07/01/2025,4\n' >"$T/badorders.csv"
refused 1 "badorders.csv:3:2: column 2 \(date\): got \"07/01/2025\", expected a date" \
  "$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/badorders.csv" --out "$T/x1.csv"
printf 'user_id\n1\nstranger\n' >"$T/reached.csv"
refused 1 "reached.csv:3:1: customer \"stranger\" has no recommendation" \
  "$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/x1.csv" \
  --contacted "$T/reached.csv"
check "  nothing written by a refused record" test ! -e "$T/x1.csv"
refused 2 "--date: got \"2025-7-1\"" \
  "$BIN" record --run "$T/run" --date 2025-7-1 --orders "$T/orders.csv" --out "$T/x1.csv"
refused 2 "--window" \
  "$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/x1.csv" \
  --window 0
refused 2 "--run, --date, --orders and --out are required" \
  "$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv"
printf 'user_id\n1\n4\n' >"$T/reached.csv"
"$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/reached_new.csv" \
  --contacted "$T/reached.csv" --quiet 2>/dev/null
check "--contacted: only the customers reached" \
  test "$(tail -n +2 "$T/reached_new.csv" | cut -d, -f1,4,5 | tr '\n' ' ')" = "1,1,15.15 4,1,-1.5 "
refused 0 "warning: .*orders.csv ends on 2025-07-03, before the window's last day 2025-07-09" \
  "$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/x2.csv" \
  --window 9
check "record --help has an example" bash -c "'$BIN' record --help | grep -q 'Example'"
check "offerq --help lists record" bash -c "'$BIN' --help | grep -q '^  record '"

# ---- PostgreSQL -----------------------------------------------------------------------------
if ! [ -x "$(pg_bindir)/initdb" ]; then
  echo "skip the PostgreSQL half: no PostgreSQL server binaries (install postgresql)"
  echo "$passes passed, $fails failed"
  [ "$fails" -eq 0 ]
  exit
fi
pg_start "$T" || die "PostgreSQL"
PSQL="$(pg_bindir)/psql"
"$BIN" db init --pg "$PG_URL" 2>/dev/null || die "db init"
"$BIN" db load --pg "$PG_URL" --table offers "$R/offers.csv" 2>/dev/null || die "db load offers"
"$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/pg_new.csv" \
  --pg "$PG_URL" >/dev/null 2>"$T/pg.err" || { cat "$T/pg.err"; die "record --pg"; }
check "record --pg: every row loaded" grep -q "loaded 300 rows .* into contacts .*: 300 new" \
  "$T/pg.err"
check "  the same file as without --pg" cmp -s "$T/pg_new.csv" "$T/new.csv"
check "  one row per customer, propensities there" test \
  "$("$PSQL" "$PG_URL" -Atc "SELECT count(DISTINCT user_id) || ',' || count(propensity) FROM contacts")" = "300,300"
"$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/pg_new.csv" \
  --pg "$PG_URL" >/dev/null 2>"$T/pg.err"
check "  recording the day again changes nothing" grep -q ": 0 new, 0 changed, 300 already there" \
  "$T/pg.err"
"$BIN" db dump --pg "$PG_URL" --table contacts --out "$T/dump.csv" 2>/dev/null || die "db dump"
check "db dump --table contacts: the recorded rows with their propensity" \
  python3 - "$T/new.csv" "$T/dump.csv" <<'PY'
import csv, sys
def norm(x):
    try:
        return repr(float(x))
    except ValueError:
        return x
def rows(p):
    return [[norm(x) for x in r] for r in csv.reader(open(p, newline=""))]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
assert a[0] == b[0] == ["user_id", "date", "offer", "ordered", "value", "propensity"], (a[0], b[0])
assert a == b, [(x, y) for x, y in zip(a, b) if x != y][:3]
PY
printf 'offer,redeem_cost,contact_cost\nnone,0,0\n5,5,0\n' >"$T/few_offers.csv"
"$PSQL" "$PG_URL" -qc "CREATE DATABASE few" || die "CREATE DATABASE"
FEW=${PG_URL%/postgres}/few
"$BIN" db init --pg "$FEW" 2>/dev/null && "$BIN" db load --pg "$FEW" --table offers \
  "$T/few_offers.csv" 2>/dev/null || die "few offers"
refused 1 "contacts are in --out, not in --pg" \
  "$BIN" record --run "$T/run" --date 2025-07-01 --orders "$T/orders.csv" --out "$T/few.csv" \
  --pg "$FEW"
check "  an offer not in the offers table: nothing loaded" test \
  "$("$PSQL" "$FEW" -Atc "SELECT count(*) FROM contacts")" = 0

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
