#!/usr/bin/env bash
# cli_seqfeat.sh - issue 16 item 4: `offerq run --seq-features` (the sequence
# model's cross-fitted logits as 4 more inputs of the response model's trees)
# names itself in params.json and report.json, gives the same list twice with
# one seed, and `offerq eval --run` scores it; `--seq-state full` (the
# sequence model with the response model's features in its state) saves a
# model that `--model` reuses; the usage errors. About 30 s.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
SRC=${OQ_SOURCE:-$(cd "$(dirname "$0")/../.." && pwd)}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap '[ -n "${KEEP_T:-}" ] && echo "kept $T" || rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$SRC/tests/cli/lib.sh"
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-2}

"$BIN" gen --customers 400 --seed 7 --quiet --out "$T/log.csv" 2>/dev/null || die "gen"
run() { "$BIN" run --log "$T/log.csv" --seed 3 --quiet "$@" >/dev/null 2>&1; }
run --seq-features --seq-len 10 --out-dir "$T/a" || die "run --seq-features"
run --seq-features --seq-len 10 --out-dir "$T/b" || die "run --seq-features again"
check "same list with the same seed" cmp -s "$T/a/recommendations.csv" "$T/b/recommendations.csv"
check "params.json names it" python3 -c "
import json, sys; p = json.load(open(sys.argv[1]))['scorer']
assert p['seq_features'] is True and p['seq_state'] == 'base', p" "$T/a/params.json"
check "report.json: two fold models, half the rows each" python3 -c "
import json, sys; r = json.load(open(sys.argv[1]))
s = r['response_model']['seq_features']; folds = s['folds']
assert [x['user_id_parity'] for x in folds] == [0, 1], folds
n = sum(x['train_rows'] + x['val_rows'] for x in folds)
assert n == 400 * 7, n
assert 'cross-fitted' in s['fit'] and s['parameters'] > 0" "$T/a/report.json"
run --out-dir "$T/plain" || die "plain run"
check "the columns change the list" bash -c "! cmp -s '$T/a/recommendations.csv' '$T/plain/recommendations.csv'"
check "eval scores the run" "$BIN" eval --log "$T/log.csv" --run "$T/a" --quiet --json "$T/e.json"
run --reward sequence --seq-state full --seq-len 10 --out-dir "$T/f" || die "run --seq-state full"
check "full state: params.json and report.json" python3 -c "
import json, sys
assert json.load(open(sys.argv[1]))['scorer']['seq_state'] == 'full'
assert '\"state\": \"full\"' in open(sys.argv[2]).read()" "$T/f/params.json" "$T/f/report.json"
run --reward sequence --seq-state full --seq-len 10 --model "$T/f/model.ofq" --out-dir "$T/g" || die "--model"
check "--model reuses the full-state model" cmp -s "$T/f/recommendations.csv" "$T/g/recommendations.csv"
expect 2 "seq-state: expected base or full" "$BIN" run --log "$T/log.csv" --seq-state wide \
  --out-dir "$T/x"
expect 2 "need --reward sequence or --seq-features" "$BIN" run --log "$T/log.csv" \
  --seq-state full --out-dir "$T/x"
expect 2 "feeds the response model's boosted trees" "$BIN" run --log "$T/log.csv" \
  --seq-features --p-model logistic --out-dir "$T/x"
expect 2 "feeds the response model's boosted trees" "$BIN" run --log "$T/log.csv" \
  --seq-features --reward sequence --out-dir "$T/x"
echo "$passes passed, $fails failed"
[ "$fails" -eq 0 ]
