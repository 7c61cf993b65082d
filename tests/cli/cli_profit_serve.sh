#!/usr/bin/env bash
# cli_profit_serve.sh - POST /v1/profit answers what `offerq predict` computes
# for the same customer and day: the request's sequence is the categories of
# the customer's earlier log rows (predict's fallback without an events
# stream), its features the row's five state features.
set -u
BIN=${OQ_BIN:?OQ_BIN must point at the offerq binary}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
SPID=""
trap '[ -n "$SPID" ] && kill $SPID 2>/dev/null; rm -rf "$T"' EXIT
fail() { echo "FAIL $*"; echo "0 passed, 1 failed"; exit 1; }
"$BIN" gen --customers 200 --quiet --seed 4 --no-events --out "$T/log.csv" 2>/dev/null || fail gen
"$BIN" train --log "$T/log.csv" --out "$T/model.ofq" --epochs 1 --quiet 2>/dev/null || fail train
"$BIN" predict --model "$T/model.ofq" --log "$T/log.csv" --out "$T/pred.csv" 2>/dev/null || fail predict
"$BIN" run --log "$T/log.csv" --out-dir "$T/run" --interim --quiet 2>/dev/null || fail run
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
"$BIN" serve --port "$port" --bind 127.0.0.1 --dir "$T/run" --profit "$T/model.ofq" 2>"$T/serve.err" &
SPID=$!
for i in $(seq 50); do curl -s "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
python3 - "$T" "$port" <<'PY' || fail "/v1/profit vs predict"
import csv, json, sys, urllib.request
T, port = sys.argv[1], sys.argv[2]
rows = list(csv.DictReader(open(T + "/log.csv")))
# Category ids follow the sorted names (the log reader's canonical order).
cats = {c: i for i, c in enumerate(sorted({r["category"] for r in rows}))}
pred = {(p["user_id"], p["snapshot_date"], p["coupon"]): float(p["predicted_reward"])
        for p in csv.DictReader(open(T + "/pred.csv"))}
by_user = {}
for r in rows:
    by_user.setdefault(r["user_id"], []).append(r)
checked = 0
for u in list(by_user)[:25]:
    hist = sorted(by_user[u], key=lambda r: r["snapshot_date"])
    for k in range(1, len(hist), 2):
        r = hist[k]
        seq = [h["category"] for h in hist[:k]]
        feat = [float(r["days_since_last_purchase"]), float(r["purchases_last_30d"]),
                float(r["avg_order_value"]), float(r["remaining_budget_pct"]), cats[r["category"]]]
        for coupon in ["none", "5", "10", "20"]:
            body = json.dumps({"sequence": seq, "features": feat, "coupon": coupon}).encode()
            req = urllib.request.Request(f"http://127.0.0.1:{port}/v1/profit", data=body, method="POST")
            got = json.load(urllib.request.urlopen(req))["r_hat"]
            want = pred[(u, r["snapshot_date"], coupon)]
            assert abs(got - want) <= 1e-3 + 1e-4 * abs(want), (u, r["snapshot_date"], coupon, got, want)
            checked += 1
assert checked >= 200, checked
print(f"/v1/profit matched offerq predict on {checked} (row, coupon) pairs")
PY
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$port/v1/profit" -d '{"sequence":["x"],"features":[1,2,3],"coupon":5}')
[ "$code" = 400 ] || fail "short features must answer 400, got $code"
echo "2 passed, 0 failed"
