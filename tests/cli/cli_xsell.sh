#!/usr/bin/env bash
# cli_xsell.sh - cross-selling end to end from baskets: mine rules (positive
# and negative) inside `crosssell learn`, learn a table, and look decisions up;
# an item out of stock is never offered.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
passes=0 fails=0
check() { local what=$1; shift
  if "$@"; then echo "ok   $what"; passes=$((passes + 1)); else echo "FAIL $what"; fails=$((fails + 1)); fi; }

printf 'item,price,cost,inventory\nmilk,2,1.2,6\nbread,3,1.5,6\nbutter,4,2.5,4\nbeer,6,3,5\n' > "$T/items.csv"
# Planted structure: bread => butter (positive), milk => not beer (negative).
awk 'BEGIN { srand(7); for (i = 0; i < 1500; i++) { s = "";
  m = rand() < 0.5; b = rand() < 0.4; u = b && rand() < 0.8; e = !m && rand() < 0.5;
  if (m) s = s ",milk"; if (b) s = s ",bread"; if (u) s = s ",butter"; if (e || s == "") s = s ",beer";
  print substr(s, 2) } }' > "$T/baskets.csv"
"$BIN" crosssell learn --items "$T/items.csv" --baskets "$T/baskets.csv" --episodes 2000 \
  --quiet --out "$T/t.oxq" > "$T/learn.out" 2> "$T/learn.err"
check "learn from baskets succeeds" test -s "$T/t.oxq"
check "mined rules written beside the table" test -s "$T/t.rules.csv"
check "a positive rule bread => butter was mined" grep -q '^positive,bread,butter,' "$T/t.rules.csv"
check "a negative rule milk => not beer was mined" grep -q '^negative,milk,beer,' "$T/t.rules.csv"
check "learned revenue is reported against the DP optimum" grep -q 'DP optimum' "$T/learn.out"
full=$("$BIN" crosssell offer --table "$T/t.oxq" --item bread --inventory 6,6,4,5 --json)
check "the start-of-season state is learned" grep -q '"learned": true' <<< "$full"
# Out of stock: every state with butter at 0 that the table knows, never butter.
out=""
for inv in 6,6,0,5 5,6,0,5 6,5,0,5 6,6,0,4 5,5,0,5 6,6,0,3; do
  out="$out $("$BIN" crosssell offer --table "$T/t.oxq" --item bread --inventory $inv --json)"
done
check "some butter-out-of-stock states were learned" grep -q '"learned": true' <<< "$out"
check "butter out of stock is never offered with bread" bash -c "! grep -q '\"bundle\": *\"butter\"' <<< '$out'"
check "--rules and --baskets together are refused" bash -c "'$BIN' crosssell learn --items '$T/items.csv' --rules x --baskets y --out '$T/z.oxq' 2>/dev/null; test \$? -eq 2"
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
