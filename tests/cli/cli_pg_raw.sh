#!/usr/bin/env bash
# cli_pg_raw.sh - issue 17 item 5: PostgreSQL holds every table. Two real
# PostgreSQL servers on loopback (tests/cli/servers.sh), A and B, and more
# databases on A: "one" (plain tables), "parts" (db init --partitions 4) and
# "artea". Checked:
#   - a generated log converted to raw tables (offerq convert), each loaded
#     with db load --table into one, into A,B and into parts: a second load
#     changes nothing; rows on server splitmix64(u) mod 2 and in partition
#     splitmix64(u) mod 4 (tools/shard_of.py); db dump --table gives back
#     the same rows;
#   - run --pg X --contacts-from-db equals run --contacts on the CSVs
#     (recommendations.csv and estimates.json byte-identical) for the three;
#   - the Artea A/B test (BOM, CRLF, no final newline) loaded through
#     --columns; its attributes are numeric codes, so channel_acq is written
#     as text names (and a few cells as NA) to have a text attribute:
#     customers keeps the attributes' names, order and types (text / double
#     precision), and the run equals the CSV run;
#   - run --pg on the seed's log reads the orders and events tables: equal
#     to run --log with its sidecars (recommendations.csv, qtable.ofq,
#     bgnbd.json), on one server and on A,B; under mpirun -np 2 (an MPI
#     build) equal to run --log --shards 2;
#   - a propensity column is kept (dump), a malformed row is named by
#     file:line:column and loads nothing, contacts whose offer is not in
#     the offers table are refused, customers with other attributes are
#     refused, bad options exit 2.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
D=${OQ_SHARED:-$SRC/../shared}/data
# shellcheck source=servers.sh
source "$SRC/tests/cli/servers.sh"
pg_pair_setup
"$PSQL" "$A" -qc "CREATE DATABASE one" -c "CREATE DATABASE parts" -c "CREATE DATABASE artea" \
  -c "CREATE DATABASE bad" || die "CREATE DATABASE"
ONE=${A%/postgres}/one
PARTS=${A%/postgres}/parts
ARTEA=${A%/postgres}/artea
BAD=${A%/postgres}/bad
q() { "$PSQL" "$1" -AtF, -c "$2"; }
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

"$BIN" gen --customers 500 --snapshots 4 --seed 5 --quiet --out "$T/log.csv" 2>/dev/null || die "gen"
"$BIN" convert --log "$T/log.csv" --out-dir "$T/raw" >/dev/null || die "convert"
R=$T/raw
TABLES="offers contacts customers orders events"

# ---- init and load ------------------------------------------------------------------
"$BIN" db init --pg "$ONE" 2>/dev/null || die "init one"
"$BIN" db init --pg "$A" --pg "$B" 2>/dev/null || die "init A,B"
"$BIN" db init --pg "$PARTS" --partitions 4 2>/dev/null || die "init parts"
load_all() { # url
  local t
  for t in $TABLES; do
    "$BIN" db load --pg "$1" --table "$t" "$R/$t.csv" 2>>"$T/load.err" || return 1
  done
  "$BIN" db load --pg "$1" "$T/log.csv" 2>>"$T/load.err"
}
check "load every raw table (and the log) into one, A,B and parts" \
  bash -c "$(declare -f load_all); BIN='$BIN' R='$R' T='$T' TABLES='$TABLES';
           load_all '$ONE' && load_all '$A,$B' && load_all '$PARTS'"
rows_of() { echo $(($(wc -l < "$R/$1.csv") - 1)); }
for t in $TABLES; do
  check "  $t: a second load changes nothing" bash -c \
    "'$BIN' db load --pg '$ONE' --table $t '$R/$t.csv' 2>&1 |
       grep -q 'loaded $(rows_of "$t") rows from .* into $t .*: 0 new, 0 changed, $(rows_of "$t") already there'"
  n1=$(q "$ONE" "SELECT count(*) FROM $t")
  check "  $t: every row once ($n1 = $(rows_of "$t"))" test "$n1" = "$(rows_of "$t")"
done
# sharding: contacts and events on server splitmix64(u) mod 2, and in partition mod 4
q "$A" "SELECT DISTINCT user_id FROM contacts" > "$T/on_a"
q "$B" "SELECT DISTINCT user_id FROM contacts" > "$T/on_b"
check "  contacts: each customer on server splitmix64(u) mod 2 (tools/shard_of.py)" bash -c \
  "test -s '$T/on_a' && test -s '$T/on_b' &&
   python3 '$SRC/tools/shard_of.py' 2 < '$T/on_a' | sort -u | tr '\n' ' ' | grep -qx '0 ' &&
   python3 '$SRC/tools/shard_of.py' 2 < '$T/on_b' | sort -u | tr '\n' ' ' | grep -qx '1 '"
check "  events on B: only shard 1's customers" bash -c \
  "q() { '$PSQL' \"\$1\" -AtF, -c \"\$2\"; }; q '$B' 'SELECT DISTINCT user_id FROM events' |
   python3 '$SRC/tools/shard_of.py' 2 | sort -u | tr '\n' ' ' | grep -qx '1 '"
check "  offers on the first server only" test "$(q "$B" "SELECT count(*) FROM offers")" = 0
for t in contacts customers orders events; do
  q "$PARTS" "SELECT user_id, shard FROM $t" > "$T/parts_$t"
  check "  $t in parts: partition = splitmix64(u) mod 4" bash -c \
    "cut -d, -f1 '$T/parts_$t' | python3 '$SRC/tools/shard_of.py' 4 > '$T/want_$t' &&
     cut -d, -f2 '$T/parts_$t' | cmp -s - '$T/want_$t'"
done
check "  contacts_p2 holds only partition 2's rows" test \
  "$(q "$PARTS" "SELECT count(*) FROM contacts_p2 WHERE shard <> 2")" = 0
# dump: the same rows back (numbers in their shortest form)
for t in $TABLES; do
  "$BIN" db dump --pg "$A,$B" --table "$t" --out "$T/dump_$t.csv" 2>/dev/null
  check "  db dump --table $t from A,B: the file's rows, in its order" python3 - "$R/$t.csv" \
    "$T/dump_$t.csv" <<'PY'
import csv, sys
def norm(x):
    try:
        return repr(float(x))
    except ValueError:
        return x
def rows(p):
    return [[norm(x) for x in r] for r in csv.reader(open(p, newline=""))]
a, b = rows(sys.argv[1]), rows(sys.argv[2])
sys.exit(0 if a == b else 1)
PY
done

# ---- run --contacts-from-db == run --contacts ------------------------------------------
OPTS=(--trees 40 --seed 3 --quiet)
"$BIN" run --contacts "$R/contacts.csv" --customers "$R/customers.csv" --offers "$R/offers.csv" \
  --orders "$R/orders.csv" --events "$R/events.csv" "${OPTS[@]}" --out-dir "$T/csv" \
  >"$T/csv.out" 2>"$T/csv.err" || { cat "$T/csv.err"; die "run --contacts"; }
for x in one pair parts; do
  case $x in one) U=$ONE ;; pair) U="$A,$B" ;; parts) U=$PARTS ;; esac
  "$BIN" run --pg "$U" --contacts-from-db "${OPTS[@]}" --out-dir "$T/db_$x" >"$T/db_$x.out" \
    2>"$T/db_$x.err" || { cat "$T/db_$x.err"; die "run --pg $x --contacts-from-db"; }
  check "run --pg ($x) --contacts-from-db: recommendations.csv as run --contacts" \
    cmp "$T/csv/recommendations.csv" "$T/db_$x/recommendations.csv"
  check "  estimates.json too" cmp "$T/csv/estimates.json" "$T/db_$x/estimates.json"
done
check "  a recommendation for each of the 500 customers" \
  test "$(tail -n +2 "$T/db_one/recommendations.csv" | cut -d, -f1 | sort -u | wc -l)" = 500

# ---- Artea: an export with BOM, CRLF, no final newline and text attributes ---------------
COLS=user_id=id,offer=test_coupon,ordered=trans_after,value=revenue_after
python3 - "$D/artea_ab.csv" "$T/artea.csv" <<'PY' || die "artea with a text attribute"
import sys
raw = open(sys.argv[1], "rb").read()
assert raw.startswith(b"\xef\xbb\xbf") and b"\r\n" in raw and not raw.endswith(b"\n")
lines = raw.split(b"\r\n")
k = lines[0].split(b",").index(b"channel_acq")
names = {b"1": b"search", b"2": b"social", b"3": b"referral", b"4": b"e-mail", b"5": b"direct"}
for i in range(1, len(lines)):
    f = lines[i].split(b",")
    f[k] = b"NA" if i % 97 == 0 else names.get(f[k], b"other " + f[k])
    lines[i] = b",".join(f)
open(sys.argv[2], "wb").write(b"\r\n".join(lines))
PY
"$BIN" db init --pg "$ARTEA" 2>/dev/null || die "init artea"
"$BIN" db load --pg "$ARTEA" --table offers "$SRC/examples/artea_offers.csv" 2>/dev/null ||
  die "artea offers"
check "artea: contacts load through --columns" \
  "$BIN" db load --pg "$ARTEA" --table contacts --columns "$COLS" "$T/artea.csv"
check "artea: customers load through --columns" \
  "$BIN" db load --pg "$ARTEA" --table customers --columns "$COLS" "$T/artea.csv"
# the attributes as the CSV reader types them, in the file's order
python3 - "$T/artea.csv" > "$T/artea_want" <<'PY'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], encoding="utf-8-sig", newline="")))
skip = {"id", "test_coupon", "trans_after", "revenue_after"}
def num(x):
    try:
        float(x)
        return True
    except ValueError:
        return x.strip().lower() in ("", "na", "n/a", "nan", "null")
for k, name in enumerate(rows[0]):
    if name in skip:
        continue
    text = any(not num(r[k]) for r in rows[1:])
    print("%s,%s" % (name, "text" if text else "double precision"))
PY
q "$ARTEA" "SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
            WHERE attrelid = 'customers'::regclass AND attnum > 0 AND NOT attisdropped
            AND attname NOT IN ('user_id', 'seq') ORDER BY attnum" > "$T/artea_have"
check "artea: customers' columns = the file's attributes, order and types" \
  cmp "$T/artea_want" "$T/artea_have"
check "  channel_acq is text, a NA cell NULL" bash -c \
  "grep -qx 'channel_acq,text' '$T/artea_have' &&
   test \"\$('$PSQL' '$ARTEA' -Atc 'SELECT count(*) FROM customers WHERE channel_acq IS NULL')\" = 51"
AOPTS=(--control 0 --trees 40 --seed 2 --quiet)
"$BIN" run --contacts "$T/artea.csv" --customers "$T/artea.csv" \
  --offers "$SRC/examples/artea_offers.csv" --columns "$COLS" "${AOPTS[@]}" --out-dir "$T/acsv" \
  >"$T/acsv.out" 2>"$T/acsv.err" || { cat "$T/acsv.err"; die "artea run --contacts"; }
"$BIN" run --pg "$ARTEA" --contacts-from-db "${AOPTS[@]}" --out-dir "$T/adb" >"$T/adb.out" \
  2>"$T/adb.err" || { cat "$T/adb.err"; die "artea run --pg"; }
check "artea: run --pg --contacts-from-db == run --contacts (recommendations.csv)" \
  cmp "$T/acsv/recommendations.csv" "$T/adb/recommendations.csv"
check "  estimates.json too" cmp "$T/acsv/estimates.json" "$T/adb/estimates.json"

# ---- the seed's log: orders and events from their tables ---------------------------------
LOPTS=(--trees 40 --epochs 1 --plan-k 2 --quiet)
"$BIN" run --log "$T/log.csv" "${LOPTS[@]}" --out-dir "$T/log" 2>"$T/log.err" ||
  { cat "$T/log.err"; die "run --log"; }
for x in one pair; do
  case $x in one) U=$ONE ;; pair) U="$A,$B" ;; esac
  "$BIN" run --pg "$U" "${LOPTS[@]}" --out-dir "$T/pg_$x" >"$T/pg_$x.out" 2>"$T/pg_$x.err" ||
    { cat "$T/pg_$x.err"; die "run --pg $x"; }
  for f in recommendations.csv qtable.ofq bgnbd.json; do
    check "run --pg ($x) with the orders and events tables: $f as run --log with its sidecars" \
      cmp "$T/log/$f" "$T/pg_$x/$f"
  done
done
# without the tables the run differs (the check above can fail)
"$PSQL" "$ONE" -qc "ALTER TABLE orders RENAME TO orders_off" -c "ALTER TABLE events RENAME TO events_off"
"$BIN" run --pg "$ONE" "${LOPTS[@]}" --out-dir "$T/pg_none" >/dev/null 2>&1 || die "run --pg, no tables"
check "  without the orders and events tables the list differs" \
  bash -c "! cmp -s '$T/log/recommendations.csv' '$T/pg_none/recommendations.csv'"
"$PSQL" "$ONE" -qc "ALTER TABLE orders_off RENAME TO orders" -c "ALTER TABLE events_off RENAME TO events"
if [ $MPI = 1 ]; then
  "$BIN" run --log "$T/log.csv" "${LOPTS[@]}" --shards 2 --out-dir "$T/log2" 2>/dev/null ||
    die "run --log --shards 2"
  mpirun --oversubscribe -np 2 "$BIN" run --pg "$A,$B" "${LOPTS[@]}" --out-dir "$T/m2" \
    >"$T/m2.out" 2>"$T/m2.err" || { cat "$T/m2.err"; die "mpirun -np 2 run --pg A,B"; }
  check "mpirun -np 2 run --pg A,B (each rank its shard of orders, events): = --shards 2" \
    cmp "$T/log2/recommendations.csv" "$T/m2/recommendations.csv"
  mpirun --oversubscribe -np 2 "$BIN" run --pg "$PARTS" "${LOPTS[@]}" --out-dir "$T/m2p" \
    >"$T/m2p.out" 2>"$T/m2p.err" || { cat "$T/m2p.err"; die "mpirun -np 2 run --pg parts"; }
  check "mpirun -np 2 run --pg parts (partitions per rank): = --shards 2" \
    cmp "$T/log2/recommendations.csv" "$T/m2p/recommendations.csv"
else
  echo "skip the mpirun half: not an MPI build (cmake -DOQ_MPI=ON) or no mpirun"
fi

# ---- propensity kept, bad input ------------------------------------------------------------
"$BIN" db init --pg "$BAD" 2>/dev/null || die "init bad"
"$BIN" db load --pg "$BAD" --table offers "$R/offers.csv" 2>/dev/null || die "bad: offers"
printf 'user_id,date,offer,ordered,value,propensity\r\nC-1,2025-01-02,5,1,12.5,0.25\r\n"C,2",2025-01-02,none,0,0,0.5' \
  > "$T/prop.csv"
check "contacts with a propensity column (CRLF, quotes, no final newline) load" \
  "$BIN" db load --pg "$BAD" --table contacts "$T/prop.csv"
"$BIN" db dump --pg "$BAD" --table contacts --out "$T/prop_back.csv" 2>/dev/null
check "  and come back with their propensity" bash -c \
  "printf 'user_id,date,offer,ordered,value,propensity\nC-1,2025-01-02,5,1,12.5,0.25\n\"C,2\",2025-01-02,none,0,0,0.5\n' |
   cmp -s - '$T/prop_back.csv'"
printf 'user_id,date,offer,ordered,value,propensity\nC-1,2025-01-02,5,1,12.75,0.25\n"C,2",2025-01-02,none,0,0,0.5\n' \
  > "$T/prop2.csv"
check "  a reload with one value changed updates that row only" bash -c \
  "'$BIN' db load --pg '$BAD' --table contacts '$T/prop2.csv' 2>&1 |
     grep -q ': 0 new, 1 changed, 1 already there' &&
   test \"\$('$PSQL' '$BAD' -Atc \"SELECT value FROM contacts WHERE user_id = 'C-1'\")\" = 12.75"
awk 'NR == 5 { $0 = "4,2025-01-05,10,yes,3" } { print }' "$R/contacts.csv" > "$T/badrow.csv"
before=$(q "$BAD" "SELECT count(*) FROM contacts")
refused 1 "badrow.csv:5:4: column 4 \(ordered\)" "$BIN" db load --pg "$BAD" --table contacts "$T/badrow.csv"
check "  the malformed row loads nothing" test "$(q "$BAD" "SELECT count(*) FROM contacts")" = "$before"
sed 's/,20,/,25,/' "$R/contacts.csv" > "$T/badoffer.csv"
refused 1 "badoffer.csv:[0-9]+:3: .*an offer of the catalogue" \
  "$BIN" db load --pg "$BAD" --table contacts "$T/badoffer.csv"
printf 'user_id,age\n1,30\n' > "$T/c1.csv"
printf 'user_id,region\n2,north\n' > "$T/c2.csv"
"$BIN" db load --pg "$BAD" --table customers "$T/c1.csv" 2>/dev/null || die "c1"
refused 1 "the customers table holds 1 customers with the attributes age \(number\); this file has region \(text\)" \
  "$BIN" db load --pg "$BAD" --table customers "$T/c2.csv"
# attribute names with a comma, a space after it, and a quote: loaded, updated, dumped
"$PSQL" "$A" -qc "CREATE DATABASE names" || die "CREATE DATABASE names"
NAMES=${A%/postgres}/names
"$BIN" db init --pg "$NAMES" 2>/dev/null || die "init names"
printf 'user_id,"seg,ment","a, b","say ""hi""",age\n1,x,2,q,30\n2,y,3,r,40\n' > "$T/names1.csv"
printf 'user_id,"seg,ment","a, b","say ""hi""",age\n1,x,2,q,31\n2,y,3,r,40\n' > "$T/names2.csv"
"$BIN" db load --pg "$NAMES" --table customers "$T/names1.csv" 2>"$T/err" || cat "$T/err"
"$BIN" db load --pg "$NAMES" --table customers "$T/names2.csv" 2>"$T/err" || cat "$T/err"
"$BIN" db dump --pg "$NAMES" --table customers --out "$T/names.out" 2>/dev/null
check "customers whose attribute names hold a comma, ', ' and a quote: loaded, one value updated, dumped" \
  python3 -c "
import csv, sys
a = list(csv.reader(open('$T/names2.csv', newline='')))
b = list(csv.reader(open('$T/names.out', newline='')))
sys.exit(not (a[0] == b[0] and [r[:4] for r in a[1:]] == [r[:4] for r in b[1:]]
              and [float(r[4]) for r in b[1:]] == [31.0, 40.0]))"
refused 2 "--table: expected contacts, customers, orders, events or offers" \
  "$BIN" db load --pg "$BAD" --table nope "$T/c1.csv"
refused 2 "--contacts-from-db needs --pg URL" "$BIN" run --contacts-from-db --out-dir "$T/x"
refused 2 "drop --contacts" "$BIN" run --pg "$BAD" --contacts-from-db --contacts "$R/contacts.csv" \
  --out-dir "$T/x"
"$BIN" run --help | grep -q -- "--contacts-from-db" && passes=$((passes + 1)) ||
  { echo "FAIL run --help"; fails=$((fails + 1)); }

echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
