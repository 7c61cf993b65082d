#!/usr/bin/env bash
# cli_input.sh - hardening round 2 (issue 21), bad input files: a corrupt
# orders file stops `run` and `bgnbd fit` (item 3); `eval` on a log
# without a coupon effect (item 16); a far-future date (item 10); the minor
# items: "no transactions" names its file, --out - and --out on a link.
set -euo pipefail
B=$(realpath "${OQ_BIN:-./offerq}")
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # fail, expect

mkdir -p "$T/g"
"$B" gen --customers 200 --snapshots 4 --no-events --quiet --out "$T/g/log.csv"
O=$T/g/log.orders.csv

# Item 3: corrupt orders files. Line 5 gets the bad value; "cut" ends the
# file in the middle of a value (no final newline).
for bad in nan abc -50 cut; do
    f=$T/o_$bad.csv
    if [ $bad = cut ]; then
        head -c "$(($(head -n 5 "$O" | wc -c) - 3))" "$O" >"$f"
        pat="o_cut.csv:5:[0-9]+: truncated last line"
    else
        awk -F, -v v="$bad" 'NR == 5 {$3 = v} 1' OFS=, "$O" >"$f"
        pat="o_$bad.csv:5:3: column 3 \(value\): got \"$bad\", expected a finite number > 0"
    fi
    expect 1 "$pat" "$B" run --log "$T/g/log.csv" --orders "$f" --out-dir "$T/r_$bad" --quiet
    [ ! -e "$T/r_$bad" ] || fail "run wrote $T/r_$bad on a bad orders file"
    [ -z "$(ls -A "$T/r_$bad.runs" 2>/dev/null)" ] || fail "run left files in r_$bad.runs"
    expect 1 "$pat" "$B" bgnbd fit --orders "$f" --out "$T/p_$bad.json" --quiet
    [ ! -e "$T/p_$bad.json" ] || fail "bgnbd fit wrote its output on a bad orders file"
    # the same file as the log's sidecar
    mkdir -p "$T/s_$bad"
    cp "$T/g/log.csv" "$T/s_$bad/log.csv"
    cp "$f" "$T/s_$bad/log.orders.csv"
    expect 1 "log.orders.csv:5:" "$B" bgnbd fit --log "$T/s_$bad/log.csv" --out "$T/q.json"
done
# a purchases file without values (user_id,date) is still a transactions file
cut -d, -f1,2 "$O" >"$T/tx.csv"
"$B" bgnbd fit --orders "$T/tx.csv" --out "$T/tx.json" --quiet || fail "user_id,date file"

# Item 10: two rows dated 2999-03-01 in a log of 2,000 rows would make
# tomorrow 2999-03-02: refused, both rows named.
mkdir -p "$T/f"
"$B" gen --customers 500 --snapshots 4 --no-events --quiet --out "$T/f/log.csv"
awk -F, 'NR == 5 || NR == 9 {$2 = "2999-03-01"} 1' OFS=, "$T/f/log.csv" >"$T/f/fut.csv"
pat="fut.csv:5:2: date 2999-03-01 is more than 366 days after 2025-0[0-9]-[0-9]+, the 99.9th "
pat+="percentile of the file's dates: 2 rows beyond that horizon, at lines 5, 9"
expect 1 "$pat" "$B" run --log "$T/f/fut.csv" --out-dir "$T/f/r" --quiet
[ ! -e "$T/f/r" ] || fail "run wrote a run on a far-future log"
expect 1 "$pat" "$B" bgnbd fit --log "$T/f/fut.csv" --out "$T/f/p.json" --quiet
# orders and transactions files: the calibration end is their last date
awk -F, 'NR == 7 {$2 = "2999-03-01"} 1' OFS=, "$T/f/log.orders.csv" >"$T/f/o.csv"
expect 1 "o.csv:7:2: date 2999-03-01 .* 1 row beyond that horizon, at line 7 " \
    "$B" bgnbd fit --orders "$T/f/o.csv" --out "$T/f/p.json" --quiet
cut -d, -f1,2 "$T/f/o.csv" >"$T/f/tx.csv"
expect 1 "tx.csv:7: date 2999-03-01 .* at line 7 " \
    "$B" bgnbd fit --transactions "$T/f/tx.csv" --out "$T/f/p.json" --quiet
[ ! -e "$T/f/p.json" ] || fail "bgnbd fit wrote its output on a far-future file"
"$B" bgnbd fit --orders "$T/f/log.orders.csv" --out "$T/f/p.json" --quiet || fail "valid orders"

# Item 16: no coupon effect, so the oracle gains nothing over no coupon: the
# share of its uplift is "n/a" (JSON null) and every policy is still there.
mkdir -p "$T/z"
"$B" gen --customers 300 --snapshots 4 --contact-effect 0 --seed 2 --quiet --out "$T/z/log.csv"
"$B" run --log "$T/z/log.csv" --out-dir "$T/z/run" --quiet
"$B" eval --log "$T/z/log.csv" --run "$T/z/run" --json "$T/z/e.json" >"$T/z/table" 2>/dev/null
! grep -qi nan "$T/z/table" || fail "eval printed nan"
grep -Eq "^no coupon +[0-9.]+ +0.00 +n/a$" "$T/z/table" || fail "eval table: no n/a"
python3 - "$T/z/e.json" <<'PY' || fail "eval json"
import json, sys
pols = json.load(open(sys.argv[1]))["policies"]
assert len(pols) >= 8, pols
assert all(p["pct_of_oracle_uplift"] is None and p["profit"] > 0 for p in pols), pols
PY

# Minor: a log without order rows and no orders file names the log.
mkdir -p "$T/n"
awk -F, 'NR == 1 {print; next} {$9 = 0; $10 = "0.00"; print}' OFS=, "$T/g/log.csv" >"$T/n/log.csv"
expect 1 "n/log.csv: no purchases" "$B" bgnbd fit --log "$T/n/log.csv" --out "$T/n/p.json"
expect 1 "n/log.csv: no purchases" "$B" run --log "$T/n/log.csv" --out-dir "$T/n/r" --quiet

# Minor: one rule for output paths: "-" is refused (no output goes to
# standard output), and so is a symbolic link (the rename would replace it).
cd "$T"
pat="output goes to files only"
expect 2 "$pat" "$B" gen --customers 10 --quiet --out -
expect 2 "$pat" "$B" bgnbd fit --orders "$O" --out -
expect 2 "$pat" "$B" bgnbd fit --orders "$O" --out p.json --plot -
expect 2 "$pat" "$B" eval --log "$T/z/log.csv" --run "$T/z/run" --json -
expect 2 "$pat" "$B" run --log "$T/g/log.csv" --out-dir - --quiet
expect 2 "$pat" "$B" train --log "$T/g/log.csv" --out -
expect 2 "$pat" "$B" predict --model m.ofq --log "$T/g/log.csv" --out -
expect 2 "$pat" "$B" rules --baskets b.csv --min-support 0.1 --min-confidence 0.5 --out -
expect 2 "$pat" "$B" itemsets --baskets b.csv --min-support 0.1 --out -
expect 2 "$pat" "$B" rock --out - b.csv
expect 2 "$pat" "$B" crosssell experiment --out -
expect 2 "$pat" "$B" db dump --pg postgresql://127.0.0.1:1/x --out -
[ ! -e "$T/-" ] || fail "a file named - was created"
echo keep >"$T/target.json"
ln -s "$T/target.json" "$T/link.json"
pat="link.json is a symbolic link"
expect 2 "$pat" "$B" bgnbd fit --orders "$O" --out "$T/link.json"
expect 2 "$pat" "$B" eval --log "$T/z/log.csv" --run "$T/z/run" --json "$T/link.json"
expect 2 "$pat" "$B" gen --customers 10 --quiet --out "$T/link.json"
expect 2 "$pat" "$B" rules --baskets b.csv --min-support 0.1 --min-confidence 0.5 --out "$T/link.json"
[ -L "$T/link.json" ] && [ "$(cat "$T/target.json")" = keep ] || fail "link or target changed"
cd - >/dev/null

# Item 11: results depend on the content only. A log, events and orders
# whose rows are shuffled (categories then first met in another order) give
# the same list and Q table; two rows of one customer on one day are refused
# by every reader of the log, naming both lines.
mkdir -p "$T/o" "$T/s"
"$B" gen --customers 300 --snapshots 5 --seed 9 --quiet --out "$T/o/log.csv" 2>/dev/null
for f in log.csv log.events.csv log.orders.csv; do
    { head -1 "$T/o/$f"; tail -n +2 "$T/o/$f" | shuf --random-source=<(yes 9); } >"$T/s/$f"
done
cp "$T/o/log.truth.json" "$T/s/"
cmp -s "$T/o/log.csv" "$T/s/log.csv" && fail "the shuffle did nothing"
"$B" run --log "$T/o/log.csv" --out-dir "$T/o/run" --seed 3 --quiet 2>/dev/null
"$B" run --log "$T/s/log.csv" --out-dir "$T/s/run" --seed 3 --quiet 2>/dev/null
for f in recommendations.csv qtable.ofq; do
    cmp -s "$T/o/run/$f" "$T/s/run/$f" || fail "shuffled rows changed $f"
done
{ head -6 "$T/o/log.csv"; sed -n 3p "$T/o/log.csv"; } >"$T/dup.csv"
pat="dup.csv:7: two rows for user_id 1 on .* \\(lines 3 and 7\\)"
expect 1 "$pat" "$B" summary "$T/dup.csv"
expect 1 "$pat" "$B" run --log "$T/dup.csv" --out-dir "$T/duprun" --quiet
[ ! -e "$T/duprun" ] || fail "a refused log left a run"

echo "cli_input: ok"
