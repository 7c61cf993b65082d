#!/usr/bin/env bash
# fuzz_seeds.sh - (re)create the seed corpora of the fuzz targets from real
# examples: excerpts of ../shared/data, outputs of a small `offerq gen` +
# `offerq run` + `offerq crosssell learn`, the tests' inputs, edge cases.
# Regression inputs (regress-*) are kept; everything else is rewritten.
#   bash tools/fuzz_seeds.sh [OFFERQ_BIN]   (default build/offerq)
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${1:-build/offerq}
D=../shared/data
C=tests/fuzz/corpus
T=$(mktemp -d /tmp/offerq-seeds-XXXXXX)
trap 'rm -rf "$T"' EXIT
for t in baskets rock bgnbd_summary bgnbd_tx qtable xsell_table xsell_csv reco gen_truth serve profit; do
  mkdir -p "$C/$t"; find "$C/$t" -type f ! -name 'regress-*' -delete
done
# Prefix byte + file (targets whose first byte is a mode).
pre() { printf "$1" > "$3"; cat "$2" >> "$3"; }

# Real artefacts.
"$BIN" gen --customers 5 --quiet --seed 3 --out "$T/x.csv"
"$BIN" run --log "$T/x.csv" --out-dir "$T/run" --epochs 1 --quiet --budget 20
printf 'item,price,cost,inventory\nbread,2.5,1,2\nmilk,1.2,0.8,2\n' > "$T/items.csv"
printf 'type,lhs,rhs,support,confidence,lift,count\npositive,bread,milk,0.1,0.62,1.8,40\nnegative,butter,bread,0.05,0.9,0.4,20\n' > "$T/rules.csv"
"$BIN" crosssell learn --items "$T/items.csv" --rules "$T/rules.csv" --out "$T/t.oxq" --episodes 20 --discounts 0,0.1 --quiet

# baskets
head -30 $D/groceries.csv > $C/baskets/groceries30
printf 'a,b,c\n\n\na,b\n"x, y",a\n' > $C/baskets/blank_quoted
printf 'a,a,a, a ,b\r\nb,,c\r\n' > $C/baskets/dups_crlf
printf '\xef\xbb\xbfmilk\n' > $C/baskets/bom
: > $C/baskets/empty
# rock (first byte: label column none/class/missing/empty)
{ printf '\x01'; head -25 $D/mushroom.csv; } > $C/rock/mushroom25_class
{ printf '\x00'; head -25 $D/votes.csv; } > $C/rock/votes25
printf '\x01class,a,b\np,x,\ne, ,y\np,x,y,z\n' > $C/rock/long_row
printf '\x02a,b\n1,2\n' > $C/rock/missing_label
printf '\x00a\n\n' > $C/rock/one_col
# bgnbd_summary
head -40 $D/cdnow_summary.csv > $C/bgnbd_summary/cdnow40
printf 'customer_id,frequency_cal,recency_cal,T_cal,frequency_holdout,duration_holdout\n1,2,10,20,1,39\n2,0,0,5,0,39\n' > $C/bgnbd_summary/holdout
printf 'id,frequency,recency,T\n1,5000,30000,30000\n2,0,0,1e-9\n3,1,0,40000\n4,3000,0,1e6\n' > $C/bgnbd_summary/extreme
printf 'id,frequency,recency,T\n1,2,10,20\n2,1,30,20\n' > $C/bgnbd_summary/bad_recency
printf 'id,frequency,recency,T\n1,1,2,nan\n2,inf,1,2\n' > $C/bgnbd_summary/nan_inf
# bgnbd_tx (first byte: bits 0-1 id column - 1, bits 2-4 date column, bit 5 weeks)
{ printf '\x00'; head -40 $D/cdnow_master.txt; } > $C/bgnbd_tx/cdnow_master40
{ printf '\x21'; head -40 $D/cdnow_sample.txt; } > $C/bgnbd_tx/cdnow_sample40_weeks
{ printf '\x08'; head -40 "$T/x.orders.csv"; } > $C/bgnbd_tx/orders40
printf '\x00id date\n1 19970101\n1 99999999\n2 2025-02-30\n' > $C/bgnbd_tx/bad_dates
# qtable (first byte odd: CRC appended by the target)
pre '\x00' "$T/run/qtable.ofq" $C/qtable/real
head -c $(( $(stat -c %s "$T/run/qtable.ofq") - 4 )) "$T/run/qtable.ofq" > "$T/q.body"
pre '\x01' "$T/q.body" $C/qtable/real_body_crc
head -c 100 "$T/run/qtable.ofq" > "$T/q.cut"; pre '\x00' "$T/q.cut" $C/qtable/truncated
# xsell_table
pre '\x00' "$T/t.oxq" $C/xsell_table/real
head -c $(( $(stat -c %s "$T/t.oxq") - 4 )) "$T/t.oxq" > "$T/t.body"
pre '\x01' "$T/t.body" $C/xsell_table/real_body_crc
# xsell_csv (first byte even: items; odd: rules)
pre '\x00' "$T/items.csv" $C/xsell_csv/items
printf '\x00item,price,cost,inventory,arrival\nbread,2.5,1,3,0.2\nmilk,1.2,0.8,2,\n' > $C/xsell_csv/items_arrival
printf '\x00item,price,cost,inventory\nbread,2.5,3,6\nmilk,1,0.5,70000\n' > $C/xsell_csv/items_bad
pre '\x01' "$T/rules.csv" $C/xsell_csv/rules
printf '\x01type,lhs,rhs,support,confidence,lift,count\npositive,bread,"milk, whole",0.1,0.62,1.8,40\npositive,bread & milk,butter,0.1,0.6,1.1,3\npositive,bread,jam,0.02,0.7,2.1,8\n' > $C/xsell_csv/rules_mixed
# profit (first byte odd: CRC appended by the target); a tiny model (T 4,
# C 4, one layer: 1.1 KB) so the fuzzer's 4 KB inputs can hold a whole one.
"$BIN" train --log "$T/x.csv" --out "$T/p.ofq" --epochs 1 --seq 4 --dim 4 --heads 1 --layers 1 \
  --ff 4 --hidden 4 --quiet
pre '\x00' "$T/p.ofq" $C/profit/tiny
head -c $(( $(stat -c %s "$T/p.ofq") - 4 )) "$T/p.ofq" > "$T/p.body"
pre '\x01' "$T/p.body" $C/profit/tiny_body_crc
head -c 300 "$T/p.body" > "$T/p.cut"; pre '\x01' "$T/p.cut" $C/profit/truncated_crc
head -c 100 "$T/p.ofq" > "$T/p.cut"; pre '\x00' "$T/p.cut" $C/profit/truncated
{ printf '\x01OQPROFIX'; tail -c +9 "$T/p.body"; } > $C/profit/bad_magic
{ printf '\x01OQPROFIT\x02\x00\x00\x00'; tail -c +13 "$T/p.body"; } > $C/profit/version2
printf '\x01OQPROFIT' > $C/profit/magic_only
# reco
head -20 "$T/run/recommendations.csv" > $C/reco/real20
printf 'user_id,snapshot_date,state,coupon,expected_profit,p_alive\n1,2025-07-01,s,10,1,0.5\n2,2025-07-01,s,10,1,0.5\n1,2025-07-01,s,5,1,0.5\n' > $C/reco/duplicate
printf 'user_id,snapshot_date,state,coupon,expected_profit,p_alive\n9223372036854775807,2025-07-01,"a,b",none,-1e308,1\n' > $C/reco/extremes
# gen_truth
cp "$T/x.truth.json" $C/gen_truth/real
sed 's/"customers": *[0-9]*/"customers": 2147483648/' "$T/x.truth.json" > $C/gen_truth/big_customers
sed 's/"birth_window": *[0-9]*/"birth_window": 2147483647/' "$T/x.truth.json" > $C/gen_truth/regress-birth-window-overflow
printf '{"seed": 1}' > $C/gen_truth/partial
# serve: METHOD \n PATH?QUERY \n BODY
printf 'GET\n/v1/recommend/1\n' > $C/serve/recommend
printf 'GET\n/v1/recommend/abc\n' > $C/serve/recommend_bad
printf 'POST\n/v1/alive\n{"x": 2, "t_x": 30.43, "T": 38.86}' > $C/serve/alive
printf 'POST\n/v1/alive\n{"x": 1e7, "t_x": 0, "T": 1e7}' > $C/serve/alive_extreme
printf 'POST\n/v1/profit\n{"sequence": ["baby", "toys"], "features": [3, 2, 45.5, 1, 0.9], "coupon": 10}' > $C/serve/profit
printf 'GET\n/v1/crosssell?item=1&inventory=3,10,0%%2C5\n' > $C/serve/crosssell
printf 'GET\n/v1/crosssell?item=0&inventory=\n' > $C/serve/crosssell_empty
printf 'GET\n/v1/dashboard.json\n' > $C/serve/dashjson
printf 'GET\n/v1/files/curve.svg\n' > $C/serve/files
printf 'GET\n/v1/files/../recommendations.csv\n' > $C/serve/files_traversal
printf 'DELETE\n/v1/alive\n' > $C/serve/method
printf 'GET\n/metrics\n' > $C/serve/metrics
printf 'GET\n/healthz\n' > $C/serve/healthz
printf 'HEAD\n/\n' > $C/serve/dashboard
printf 'POST\n/v1/alive\n{"x": ' > $C/serve/alive_truncated
echo "seeds: $(find $C -type f | wc -l) files"
