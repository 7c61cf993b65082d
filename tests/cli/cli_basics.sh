#!/usr/bin/env bash
# cli_basics.sh - the command-line program as a user meets it: help texts,
# gen's byte-exact determinism and schema, summary, and clean failures that
# name file:line:column and write nothing.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
fails=0; passes=0
check() { # check "what" command...
  local what=$1; shift
  if "$@"; then echo "ok   $what"; passes=$((passes + 1)); else echo "FAIL $what"; fails=$((fails + 1)); fi
}

check "offerq --help exits 0 and lists commands" bash -c "'$BIN' --help | grep -q 'gen '"
check "offerq gen --help shows an example" bash -c "'$BIN' gen --help | grep -q 'Example'"
check "offerq summary --help" bash -c "'$BIN' summary --help | grep -q 'Usage'"
check "unknown command fails with 2" bash -c "'$BIN' frobnicate 2>/dev/null; test \$? -eq 2"
check "gen without --out fails with 2" bash -c "'$BIN' gen 2>/dev/null; test \$? -eq 2"
check "gen rejects a bad number" bash -c "'$BIN' gen --customers x --out '$T/z.csv' 2>&1 | grep -q 'customers expects'"

"$BIN" gen --seed 1 --quiet --out "$T/x.csv" || { echo "FAIL gen"; exit 1; }
"$BIN" gen --seed 1 --quiet --out "$T/y.csv" || { echo "FAIL gen"; exit 1; }
"$BIN" gen --seed 2 --quiet --out "$T/w.csv" || { echo "FAIL gen"; exit 1; }
check "gen --seed 1 writes 70,000 data rows" test "$(($(wc -l < "$T/x.csv") - 1))" -eq 70000
check "gen writes exactly the header" test "$(head -1 "$T/x.csv")" = \
  "user_id,snapshot_date,days_since_last_purchase,purchases_last_30d,avg_order_value,category,remaining_budget_pct,coupon_offered,order_placed,order_profit"
check "same seed gives the same bytes" cmp -s "$T/x.csv" "$T/y.csv"
check "same seed gives the same events" cmp -s "$T/x.events.csv" "$T/y.events.csv"
check "another seed differs" bash -c "! cmp -s '$T/x.csv' '$T/w.csv'"
check "gen writes the sidecars" test -s "$T/x.events.csv" -a -s "$T/x.orders.csv" -a -s "$T/x.truth.json"
check "no temporary files left" bash -c "! ls '$T' | grep -q tmp"
check "summary prints rows and customers" bash -c "'$BIN' summary '$T/x.csv' | grep -q 'customers  10000'"
check "summary prints coupon table" bash -c "'$BIN' summary '$T/x.csv' | grep -qE '^20 +[0-9]+'"

# A broken row: the error names file:line:column and the exit code is 1.
head -100 "$T/x.csv" > "$T/bad.csv"
echo "5,2025-01-05,3,2,45.50,baby,0.9,15,1,30.25" >> "$T/bad.csv"
out=$("$BIN" summary "$T/bad.csv" 2>&1); rc=$?
check "bad coupon exits 1" test $rc -eq 1
check "bad coupon names line 101 column 8" grep -q "bad.csv:101:8:" <<< "$out"
printf 'user_id,snapshot_date\n' > "$T/short.csv"
check "missing header columns rejected" bash -c "'$BIN' summary '$T/short.csv' 2>&1 | grep -q 'missing column'"
check "missing file rejected" bash -c "'$BIN' summary '$T/nope.csv' 2>/dev/null; test \$? -eq 1"

echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
