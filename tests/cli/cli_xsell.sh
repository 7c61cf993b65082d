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
# ROCK candidate sets (the paper's section 2): bread and butter are bought
# together, so with 3 clusters they share one and butter is still bundled.
"$BIN" crosssell learn --items "$T/items.csv" --baskets "$T/baskets.csv" --episodes 2000 \
  --quiet --candidates rock --rock-k 3 --out "$T/r.oxq" --summary "$T/r.json" > "$T/rock.out" 2> "$T/rock.err"
check "learn with --candidates rock succeeds" test -s "$T/r.oxq"
check "  naming the item clusters" grep -q 'item clusters:.* bread=2 butter=2' "$T/rock.err"
check "  and the summary says so" grep -q '"candidates": "rock"' "$T/r.json"
check "  bread is still bundled with butter" bash -c "'$BIN' crosssell offer --table '$T/r.oxq' --item bread --inventory 6,6,4,5 --json | grep -q '\"bundle\": *\"butter\"'"
check "--candidates rock without baskets is refused" bash -c "'$BIN' crosssell learn --items '$T/items.csv' --rules '$T/t.rules.csv' --candidates rock --out '$T/z.oxq' 2>/dev/null; test \$? -eq 2"
# Issue 21, items 0 and 13: a price of 1e308 crashed learn (SIGSEGV); a
# non-UTF-8 item name was accepted. Both are input errors: exit 1, named.
printf 'item,price,cost,inventory\na,1e308,1,10\nb,10,5,10\n' > "$T/huge.csv"
printf 'a,b\na\nb\na,b\n' > "$T/ab.csv"
"$BIN" crosssell learn --items "$T/huge.csv" --baskets "$T/ab.csv" --quiet --out "$T/h.oxq" 2> "$T/huge.err"
rc=$?
check "a price of 1e308 is an input error, not a crash (exit $rc)" test $rc -eq 1
check "  naming the file, line and column" grep -q 'huge.csv:2:2' "$T/huge.err"
check "  and writing no table" test ! -e "$T/h.oxq"
printf 'item,price,cost,inventory\na\377,5,1,10\nb,10,5,10\n' > "$T/utf.csv"
"$BIN" crosssell learn --items "$T/utf.csv" --baskets "$T/ab.csv" --quiet --out "$T/u.oxq" 2> "$T/utf.err"
rc=$?
check "a non-UTF-8 item name is refused (exit $rc)" test $rc -eq 1
check "  naming the file, line and column" grep -q 'utf.csv:2:1' "$T/utf.err"
printf 'item,price,cost,inventory\na,5,1,10,x\nb,10,5,10\n' > "$T/extra.csv"
"$BIN" crosssell learn --items "$T/extra.csv" --baskets "$T/ab.csv" --quiet --out "$T/e.oxq" 2> "$T/extra.err"
check "a row with more fields than the header is refused" test $? -eq 1
# Issue 19: profit is the objective by default (revenue on request), K-Q's Q
# is factored so an inventory never seen in training is answered, a
# tabular table answers it from the nearest seen inventory.
check "learn says its objective is profit by default" grep -q 'objective profit' "$T/learn.out"
"$BIN" crosssell learn --items "$T/items.csv" --baskets "$T/baskets.csv" --episodes 2000 \
  --quiet --objective revenue --out "$T/rev.oxq" > "$T/rev.out" 2>&1
check "--objective revenue is taken" grep -q 'objective revenue' "$T/rev.out"
check "  and the gain is reported as a share of the DP optimum's" grep -q "of the DP optimum's gain" "$T/rev.out"
# beer sold out while every other item is full: training (2,000 seasons from
# 6/6/4/5 units) never reaches it; butter is still bundled with bread
low=$("$BIN" crosssell offer --table "$T/t.oxq" --item bread --inventory 6,6,4,0 --json)
check "an unseen inventory is answered by the factored Q" grep -q '"answered": "model"' <<< "$low"
check "  not as learned" grep -q '"learned": false' <<< "$low"
check "  with a bundle" grep -q '"bundle": "butter"' <<< "$low"
txt=$("$BIN" crosssell offer --table "$T/t.oxq" --item bread --inventory 6,6,4,0)
check "  and the text says so" grep -q 'not seen in training: the factored Q' <<< "$txt"
"$BIN" crosssell learn --items "$T/items.csv" --baskets "$T/baskets.csv" --episodes 300 \
  --quiet --method qlearning --out "$T/q.oxq" > /dev/null 2>&1
near=$("$BIN" crosssell offer --table "$T/q.oxq" --item bread --inventory 6,6,4,0 --json)
check "a tabular table answers it from the nearest seen inventory" grep -q '"answered": "nearest"' <<< "$near"
check "  with its distance" grep -q '"distance": [1-9]' <<< "$near"
only=$("$BIN" crosssell offer --table "$T/t.oxq" --item bread --inventory 0,1,0,0 --json)
check "nothing else in stock: no bundle" grep -q '"bundle": null' <<< "$only"
check "--objective cost is refused" bash -c "'$BIN' crosssell learn --items '$T/items.csv' --baskets '$T/baskets.csv' --objective cost --out '$T/z.oxq' 2>/dev/null; test \$? -eq 2"
check "--knowledge with an unknown word is refused" bash -c "'$BIN' crosssell learn --items '$T/items.csv' --baskets '$T/baskets.csv' --knowledge guess --out '$T/z.oxq' 2>/dev/null; test \$? -eq 2"
"$BIN" crosssell learn --items "$T/items.csv" --baskets "$T/baskets.csv" --episodes 500 \
  --quiet --knowledge explore,prior,prune --summary "$T/k.json" --out "$T/k.oxq" > /dev/null 2>&1
check "--knowledge explore,prior,prune is recorded in the summary" grep -q '"knowledge": "explore,prior,prune"' "$T/k.json"
# The experiment's switches (the full run is bench/bench_crosssell.c's).
"$BIN" crosssell experiment --quick --seeds 2 --episodes 200 --rules planted --objective revenue \
  --quiet --out "$T/exp" > "$T/exp.out" 2>&1
check "experiment --rules planted --objective revenue writes its results" \
  grep -q 'revenue objective, 2 runs per point, 200 training seasons, rules planted' "$T/exp/results.md"
check "  and every figure" bash -c "for f in fig2a fig2b fig2b_share fig2b_scenarios; do test -s '$T/exp/'\$f.svg || exit 1; done"
check "  whose axes start at 0 or are broken (zigzag)" bash -c "grep -q '>0</text>' '$T/exp/fig2b.svg' && grep -q polyline '$T/exp/fig2b.svg'"
"$BIN" crosssell experiment --quick --seeds 3 --convergence-only --ablation --quiet --out "$T/conv" > /dev/null 2>&1
check "experiment --convergence-only: the rules' paired saving" grep -q 'saved by the rules (paired)' "$T/conv/results.md"
check "--rules other is refused" bash -c "'$BIN' crosssell experiment --quick --rules other --out '$T/x' 2>/dev/null; test \$? -eq 2"
echo "$passes passed, $fails failed"
[ $fails -eq 0 ]
