#!/usr/bin/env bash
# cli_profit.sh - `offerq train` / `offerq predict` end to end on a small log.
set -euo pipefail
BIN=${OQ_BIN:-./offerq}
dir=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$dir"' EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }

"$BIN" gen --customers 300 --seed 3 --out "$dir/log.csv" --quiet
"$BIN" train --help | grep -q "Example" || fail "train --help has no example"
"$BIN" predict --help | grep -q "Example" || fail "predict --help has no example"
"$BIN" train --log "$dir/log.csv" --out "$dir/m.ofq" --epochs 1 --quiet
[ -s "$dir/m.ofq" ] || fail "no model written"
"$BIN" predict --model "$dir/m.ofq" --log "$dir/log.csv" --out "$dir/p.csv" --quiet
rows=$(($(wc -l < "$dir/log.csv") - 1))
[ "$(head -1 "$dir/p.csv")" = "user_id,snapshot_date,coupon,predicted_reward" ] || fail "header"
[ "$(($(wc -l < "$dir/p.csv") - 1))" -eq $((4 * rows)) ] || fail "expected 4 lines per log row"
# next-day predictions: one block of 4 per customer, dated the day after the log
"$BIN" predict --model "$dir/m.ofq" --log "$dir/log.csv" --out "$dir/n.csv" --next-day --quiet
[ "$(($(wc -l < "$dir/n.csv") - 1))" -eq 1200 ] || fail "next-day: expected 300 x 4 lines"
grep -q ",2025-07-01,20," "$dir/n.csv" || fail "next-day date"
# without the events sidecar the history falls back to the log rows
mv "$dir/log.events.csv" "$dir/ev.csv"
"$BIN" predict --model "$dir/m.ofq" --log "$dir/log.csv" --out "$dir/p2.csv" 2>"$dir/err" ||
  fail "predict without events"
grep -q "falls back" "$dir/err" || fail "no note about the missing events file"
"$BIN" predict --model "$dir/m.ofq" --log "$dir/log.csv" --events "$dir/ev.csv" --out "$dir/p3.csv" --quiet
cmp -s "$dir/p.csv" "$dir/p3.csv" || fail "--events gives other predictions than the sidecar"
# errors: a corrupt model, a missing option, a bad value
head -c 500 "$dir/m.ofq" > "$dir/bad.ofq"
if "$BIN" predict --model "$dir/bad.ofq" --log "$dir/log.csv" --out "$dir/x.csv" 2>"$dir/err"; then
  fail "truncated model accepted"; fi
grep -q "checksum\|truncated" "$dir/err" || fail "unclear error: $(cat "$dir/err")"
[ ! -e "$dir/x.csv" ] || fail "output written on error"
set +e
"$BIN" train --log "$dir/log.csv" 2>/dev/null; [ $? -eq 2 ] || fail "missing --out not a usage error"
"$BIN" train --log "$dir/log.csv" --out "$dir/m2.ofq" --lr abc 2>/dev/null; [ $? -eq 2 ] || fail "bad --lr"
set -e
echo "cli_profit: ok"
