#!/usr/bin/env bash
# cli_rawtables.sh - issue 17: a shop's raw tables on the contacts path.
# A generated log is written as contacts + customers + offers + orders +
# events (offerq convert); `offerq run --contacts ... --orders --events`
# derives each contact's features as of its date. Checked: every customer
# gets one recommendation; exports' quirks (BOM, CRLF, quotes, no final
# newline) give the same bytes; the gross-profit model's features and fit
# said; orders and events dated after every contact change nothing learnt
# from the contacts, that fit included (no look-ahead); without orders the
# missing part is said on stderr and stdout; contacts without a date and a
# bad cell in orders or events are refused with file:line:column.
set -euo pipefail
B=${OQ_BIN:-./offerq}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$B" gen --customers 600 --seed 3 --quiet --out "$T/log.csv"
"$B" convert --log "$T/log.csv" --out-dir "$T/raw" > "$T/conv" || fail "convert"
for f in contacts customers offers orders events; do
    [ -s "$T/raw/$f.csv" ] || fail "convert did not write $f.csv"
done
[ "$(head -1 "$T/raw/contacts.csv")" = "user_id,date,offer,ordered,value" ] || fail "contacts header"
[ "$(wc -l < "$T/raw/contacts.csv")" -eq "$(wc -l < "$T/log.csv")" ] || fail "one contact per log row"

R="$T/raw"
run() { # out-dir, then extra options
    local out=$1
    shift
    "$B" run --contacts "$R/contacts.csv" --customers "$R/customers.csv" --offers "$R/offers.csv" \
        --out-dir "$out" --trees 60 "$@"
}
run "$T/a" --orders "$R/orders.csv" --events "$R/events.csv" > "$T/a.out" 2> "$T/a.err" ||
    fail "run: $(cat "$T/a.err")"
# the default (--history-features compact): one feature per kind of evidence,
# the five that repeat them named as left out
grep -q "derived: recency_days monetary_mean orders_30d visits_30d browse_repeat visit_rate" "$T/a.out" ||
    fail "derived: $(grep derived "$T/a.out")"
grep -q "contacts_control contacts_offered order_rate_control order_rate_offered" "$T/a.out" ||
    fail "response history"
grep -q "left out (they repeat the above; --history-features full keeps them): orders_before tenure_days days_since_visit fav_share browse_focus$" "$T/a.out" ||
    fail "left-out features said: $(grep "left out" "$T/a.out")"
if grep "derived:" "$T/a.out" | grep -Eq "orders_before|tenure_days|days_since_visit|fav_share|browse_focus"; then
    fail "a left-out feature is derived"
fi
# the gross-profit model (gross.h) fitted from the raw tables (orders take
# their day's event's category): its two features and its fit said, and its
# g is the value of an order
grep -q "visit_rate browse_evidence gross_value contacts_control" "$T/a.out" || fail "gross features"
grep -q "value of an order: gross_value, g of that model" "$T/a.out" || fail "order value said"
# --history-features full: every feature, other recommendations
run "$T/full" --orders "$R/orders.csv" --events "$R/events.csv" --history-features full \
    > "$T/full.out" 2>&1 || fail "--history-features full: $(cat "$T/full.out")"
grep -q "derived: recency_days orders_before monetary_mean tenure_days orders_30d" "$T/full.out" ||
    fail "full: derived"
grep -q "visits_30d days_since_visit fav_share browse_repeat visit_rate browse_focus browse_evidence gross_value" "$T/full.out" ||
    fail "full: browsing features"
if grep -q "left out" "$T/full.out"; then fail "full: something left out"; fi
if cmp -s "$T/a/recommendations.csv" "$T/full/recommendations.csv"; then
    fail "--history-features full gave the default's recommendations"
fi
# --order-value trees: the value trees, said, other expected profits
run "$T/vt" --orders "$R/orders.csv" --events "$R/events.csv" --order-value trees \
    > "$T/vt.out" 2>&1 || fail "--order-value trees: $(cat "$T/vt.out")"
grep -q "value of an order: the value trees (--order-value trees)" "$T/vt.out" || fail "trees said"
if cmp -s "$T/a/recommendations.csv" "$T/vt/recommendations.csv"; then
    fail "--order-value trees gave the default's recommendations"
fi
# --discount-ladder (the seed's catalogue none/5/10/20 is one): said, other recommendations
run "$T/lad" --orders "$R/orders.csv" --events "$R/events.csv" --discount-ladder \
    > "$T/lad.out" 2>&1 || fail "--discount-ladder: $(cat "$T/lad.out")"
grep -q "model: the offers as a discount ladder (--discount-ladder)" "$T/lad.out" || fail "ladder said"
if cmp -s "$T/a/recommendations.csv" "$T/lad/recommendations.csv"; then
    fail "--discount-ladder gave the default's recommendations"
fi
for bad in "--history-features most" "--order-value mean"; do
    # shellcheck disable=SC2086
    if run "$T/x" --orders "$R/orders.csv" $bad > /dev/null 2> "$T/x.err"; then fail "$bad accepted"; fi
    grep -q "expected" "$T/x.err" || fail "$bad message: $(cat "$T/x.err")"
done
grep -Eq "gross-profit model \(gross.h\) on the orders and events before [0-9-]+ \([0-9]+ orders with a category, [0-9]+ ordered contact days for the margins\): favourite filter drift [0-9.]+, conc [0-9.]+, alpha [0-9.]+" "$T/a.out" ||
    fail "gross fit said: $(grep gross-profit "$T/a.out")"
# BG/NBD: either fitted or said why not (the generated log's campaign starts
# with its first orders, so there is little before it)
grep -Eq "BG/NBD on the orders before|P\(alive\) not used" "$T/a.out" || fail "BG/NBD said"
n=$(tail -n +2 "$T/a/recommendations.csv" | cut -d, -f1 | sort -u | wc -l)
[ "$n" -eq 600 ] || fail "recommendations for $n of 600 customers"
[ "$(head -1 "$T/a/recommendations.csv" | cut -d, -f1-4)" = "user_id,offer,expected_profit,propensity" ] ||
    fail "recommendations header"
grep -q '"learned"' "$T/a/estimates.json" || fail "estimates.json"

# exports as they come: BOM, CRLF, quoted ids, no final newline, other column order
python3 - "$R" "$T/q" <<'PY' || fail "quirks"
import sys, os
src, dst = sys.argv[1], sys.argv[2]
os.makedirs(dst)
for f in ("orders", "events"):
    lines = open(f"{src}/{f}.csv").read().splitlines()
    head = lines[0].split(",")
    perm = list(reversed(range(len(head))))
    out = []
    for k, l in enumerate(lines):
        c = l.split(",")
        c = [c[i] for i in perm]
        if k: c = [f'"{x}"' if i == perm.index(0) else x for i, x in enumerate(c)]
        out.append(",".join(c))
    open(f"{dst}/{f}.csv", "wb").write(b"\xef\xbb\xbf" + "\r\n".join(out).encode())
PY
run "$T/b" --orders "$T/q/orders.csv" --events "$T/q/events.csv" > "$T/b.out" 2> "$T/b.err" ||
    fail "quirky exports: $(cat "$T/b.err")"
cmp -s "$T/a/recommendations.csv" "$T/b/recommendations.csv" || fail "quirks changed the result"

# no look-ahead: orders and events after every contact change nothing learnt
# from the contacts, the gross-profit model's fit included (same recommendation
# day given by --as-of)
asof=$(grep -o "recommendations as of [0-9-]*" "$T/a.out" | awk '{print $4}')
{ cat "$R/orders.csv"; for u in 1 2 3 4 5 6 7 8 9; do echo "$u,2030-01-0$u,999.5"; done; } > "$T/late.csv"
cat1=$(sed -n 2p "$R/events.csv" | awk -F, '{print $NF}')
{ cat "$R/events.csv"; for u in 1 2 3 4 5 6 7 8 9; do echo "$u,2030-01-0$u,$cat1"; done; } > "$T/late_ev.csv"
head -1 "$R/events.csv" | grep -q "category$" || fail "events' last column is not the category"
run "$T/c" --orders "$T/late.csv" --events "$T/late_ev.csv" --as-of "$asof" > "$T/c.out" 2>&1 ||
    fail "late orders: $(cat "$T/c.out")"
diff <(grep "gross-profit model" "$T/a.out") <(grep "gross-profit model" "$T/c.out") > /dev/null ||
    fail "rows after the contacts changed the filter's fit"
diff <(sed -n '/^cross-fitted/,/^recommendations/p' "$T/a.out") \
    <(sed -n '/^cross-fitted/,/^recommendations/p' "$T/c.out") > /dev/null ||
    fail "orders after the contacts changed the cross-fitted estimates"
cmp -s "$T/a/recommendations.csv" "$T/c/recommendations.csv" ||
    fail "orders after --as-of changed the recommendations"

# with orders or events the trees' depth defaults to 4 (OQ_UPLIFT_HISTORY_DEPTH)
run "$T/f" --orders "$R/orders.csv" --events "$R/events.csv" --tree-depth 4 --no-crossfit \
    > /dev/null 2>&1 || fail "run --tree-depth 4"
cmp -s "$T/a/recommendations.csv" "$T/f/recommendations.csv" ||
    fail "with orders and events the default depth is not 4"
run "$T/g" --orders "$R/orders.csv" --events "$R/events.csv" --tree-depth 3 --no-crossfit \
    > /dev/null 2>&1 || fail "run --tree-depth 3"
if cmp -s "$T/a/recommendations.csv" "$T/g/recommendations.csv"; then
    fail "--tree-depth 3 gave the default's recommendations"
fi

# without orders: said, on stderr and stdout
run "$T/d" --events "$R/events.csv" > "$T/d.out" 2> "$T/d.err" || fail "events only: $(cat "$T/d.err")"
grep -q "no orders: no BG/NBD, P(alive) not used" "$T/d.err" || fail "no-orders note on stderr"
grep -q "no orders: no BG/NBD, P(alive) not used" "$T/d.out" || fail "no-orders note in the report"
if grep -q "recency_days" "$T/d.out"; then fail "recency without orders"; fi

# contacts without a date
cut -d, -f1,3- "$R/contacts.csv" > "$T/nodate.csv"
if "$B" run --contacts "$T/nodate.csv" --customers "$R/customers.csv" --offers "$R/offers.csv" \
    --orders "$R/orders.csv" --out-dir "$T/e" > /dev/null 2> "$T/e.err"; then
    fail "contacts without dates accepted"
fi
grep -q "nodate.csv:1: the contacts have no date column" "$T/e.err" || fail "no-date message: $(cat "$T/e.err")"

# bad cells named by file:line:column
{ head -3 "$R/orders.csv"; echo "5,2025-02-30,10"; } > "$T/bad_orders.csv"
if run "$T/f" --orders "$T/bad_orders.csv" > /dev/null 2> "$T/f.err"; then fail "bad date accepted"; fi
grep -q "bad_orders.csv:4:2: column 2 (date): got \"2025-02-30\", expected a date" "$T/f.err" ||
    fail "bad order date message: $(cat "$T/f.err")"
{ head -3 "$R/orders.csv"; echo "5,2025-02-03,abc"; } > "$T/bad_orders2.csv"
if run "$T/f" --orders "$T/bad_orders2.csv" > /dev/null 2> "$T/f.err"; then fail "bad value accepted"; fi
grep -q "bad_orders2.csv:4:3: column 3 (value)" "$T/f.err" || fail "bad value message: $(cat "$T/f.err")"
printf 'user_id,date\n1,2025-01-01\n' > "$T/bad_events.csv"
if run "$T/f" --events "$T/bad_events.csv" > /dev/null 2> "$T/f.err"; then fail "events without category"; fi
grep -q "bad_events.csv:1" "$T/f.err" && grep -q "category" "$T/f.err" ||
    fail "events header message: $(cat "$T/f.err")"
echo "cli_rawtables: ok"
