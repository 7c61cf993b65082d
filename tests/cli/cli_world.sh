#!/usr/bin/env bash
# cli_world.sh - the world file and the closed loop (issue 15):
#   - with every "lasting" knob at 0 (a world file or --no-lasting) `offerq gen`
#     writes the bytes it wrote before the world file existed
#     (tests/data/gen/lasting_off.sha256, hashes taken at da54308);
#   - --print-world round-trips, and a bad field is refused with its path;
#   - the truth sidecar carries the world, so eval replays it;
#   - the closed loop on small logs, two seeds: every policy is listed,
#     the rollout oracle is at least truth-myopic (less a noise margin), the
#     nightly job (myopic) earns more than no coupon, and in a world without
#     a tomorrow (every lasting effect off) offerq's continuation stays
#     within reach of myopic.
set -euo pipefail
B=$(realpath "${OQ_BIN:-./offerq}")
S=${OQ_SOURCE:-$(dirname "$0")/../..}
T=$(mktemp -d /tmp/offerq-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
# shellcheck source=lib.sh
source "$(dirname "$0")/lib.sh" # fail, expect

cd "$T"
# 1. Lasting effects off: the old bytes.
"$B" gen --print-world >world.json
python3 - <<'EOF'
import json
w = json.load(open("world.json"))
assert set(w["lasting"]) == {"lapse", "lapse_days", "deal", "deal_days", "weekly",
                             "campaign_budget", "contact_rate"}, w["lasting"]
w["lasting"] = {k: 0 for k in w["lasting"]}
json.dump(w, open("off.json", "w"))
EOF
"$B" gen --world off.json --customers 3000 --seed 11 --quiet --out a.csv 2>/dev/null
"$B" gen --no-lasting --customers 2000 --seed 3 --snapshots 5 --contact-effect 0.5 --quiet \
    --out b.csv 2>/dev/null
grep -v '^#' "$S/tests/data/gen/lasting_off.sha256" | sha256sum -c --quiet ||
    fail "lasting off does not give the old bytes"
echo "ok   lasting off writes the bytes of da54308"

# 2. The default world differs (its lasting effects are on), and a world file
# that repeats the defaults gives the default bytes.
"$B" gen --customers 3000 --seed 11 --quiet --out d.csv 2>/dev/null
"$B" gen --world world.json --customers 3000 --seed 11 --quiet --out e.csv 2>/dev/null
cmp -s a.csv d.csv && fail "the default world writes the lasting-off bytes"
cmp -s d.csv e.csv || fail "--print-world does not round-trip"
python3 -c "
import json
t = json.load(open('d.truth.json'))
assert t['generator'] == 'offerq gen 2' and t['seed'] == 11, t
assert t['world']['lasting']['deal'] > 0, t['world']['lasting']
"
echo "ok   print-world round-trips; the truth file carries the world"

# 3. Bad world files, refused with the field's path.
echo '{"lasting": {"dael": 1}}' >bad1.json
expect 1 'bad1.json: world field lasting.dael: unknown field' "$B" gen --world bad1.json --out x.csv
echo '{"types": {"intent": [0.3, 2]}}' >bad2.json
expect 1 'world field types.intent\[1\]: 2 is outside \[0, 1\]' "$B" gen --world bad2.json --out x.csv
echo '{"start": 5}' >bad3.json
expect 1 'world field start: expected a date' "$B" gen --world bad3.json --out x.csv
echo '{"lasting": ' >bad4.json
expect 1 'bad4.json:[0-9]+:' "$B" gen --world bad4.json --out x.csv
echo '{"types": {"persuadable": {"lead_days": 31}}}' >bad5.json
expect 1 'world field types.persuadable.lead_days: 31 is outside \[0, 30\]' "$B" gen --world bad5.json --out x.csv
echo '{"categories": {"count": 65}}' >bad6.json
expect 1 'world field categories.count: 65 is outside \[2, 64\]' "$B" gen --world bad6.json --out x.csv
[ ! -e x.csv ] || fail "a refused world wrote a log"
echo "ok   bad world fields are refused with their path"

# 3b. The world variants of bench/worlds.sh (issue 16): each a full world
# file (every field of --print-world) that generates and differs from the
# default; cat64 writes more than 16 categories; lead_days (the order world's
# knob) changes the log, and at 0 (the default) gives the default world's
# bytes (section 2).
python3 - "$S/bench/worlds" <<'PY'
import json, os, sys
d = json.load(open("world.json"))
def keys(o, p=""):
    out = set()
    for k, v in o.items():
        out.add(p + k)
        if isinstance(v, dict):
            out |= keys(v, p + k + ".")
    return out
want = {"alike", "drift02", "cat16", "cat64", "fewpersuadable", "order", "combined"}
have = {f[:-5] for f in os.listdir(sys.argv[1]) if f.endswith(".json")}
assert want <= have, want - have
for name in sorted(have):
    w = json.load(open(os.path.join(sys.argv[1], name + ".json")))
    assert keys(w) == keys(d), (name, keys(w) ^ keys(d))
    assert w != d, name
order = json.load(open(os.path.join(sys.argv[1], "order.json")))
assert order["types"]["persuadable"]["lead_days"] == 2 and d["types"]["persuadable"]["lead_days"] == 0
assert len(set(order["types"]["browse_concentration"])) == 1 and len(set(order["types"]["visit"])) == 1
PY
for w in "$S"/bench/worlds/*.json; do
    n=$(basename "$w" .json)
    "$B" gen --world "$w" --customers 300 --seed 11 --quiet --out "w-$n.csv" 2>/dev/null ||
        fail "bench/worlds/$n.json does not generate"
done
[ "$(cut -d, -f6 w-cat64.csv | sort -u | grep -vc category)" -gt 16 ] || fail "cat64 has 16 categories or fewer"
grep -q ',electronics-2$\|,travel-4$' w-cat64.events.csv || fail "categories past 16 have no -2/-4 names"
echo '{"types": {"persuadable": {"lead_days": 2}}}' >lead.json
"$B" gen --world lead.json --customers 3000 --seed 11 --quiet --out lead.csv 2>/dev/null
cmp -s lead.csv d.csv && fail "lead_days 2 writes the default world's log"
echo "ok   bench/worlds: every variant is a full world file that generates"

# 4. The closed loop, three seeds, default world and the world without a
# tomorrow. Small logs keep it to seconds a run.
loop() { # loop LOG JSON
    "$B" eval --log "$1" --horizon 14 --refit-every 7 --rollouts 16 --seed 1 --quiet \
        --json "$2" >/dev/null
}
for seed in 1 2; do
    "$B" gen --customers 1000 --seed $seed --quiet --out on$seed.csv 2>/dev/null
    "$B" gen --customers 1000 --seed $seed --no-lasting --quiet --out off$seed.csv 2>/dev/null
    loop on$seed.csv on$seed.json
    loop off$seed.csv off$seed.json
done
python3 - <<'EOF'
import json
def load(f):
    r = json.load(open(f))
    return r, {p["name"]: p["profit"] for p in r["policies"]}
for s in (1, 2):
    for world in ("on", "off"):
        r, p = load(f"{world}{s}.json")
        names = [q["name"] for q in r["policies"]]
        assert names == ["no coupon", "5", "10", "20", "random (logging)", "myopic", "dyna-q",
                         "truth-myopic", "oracle"], names
        assert r["horizon"] == 14 and r["customers"] == 1000
        up = p["oracle"] - p["no coupon"]
        assert up > 0, (world, s, p)
        # One step of policy improvement by rollouts: not below truth-myopic
        # beyond 2 % of the oracle's uplift (rollout noise).
        assert p["oracle"] >= p["truth-myopic"] - 0.02 * up, (world, s, p)
        # The nightly job earns more than sending nothing, and more than the
        # random logging policy.
        assert p["myopic"] > p["no coupon"] + 0.3 * up, (world, s, p)
        assert p["myopic"] > p["random (logging)"], (world, s, p)
        if world == "off":
            # No tomorrow: Dyna-Q's continuation must not cost much.
            assert p["dyna-q"] >= p["myopic"] - 0.15 * up, (world, s, p)
        print(f"ok   closed loop seed {s} world {world}: myopic "
              f"{100 * (p['myopic'] - p['no coupon']) / up:.1f}% dyna-q "
              f"{100 * (p['dyna-q'] - p['no coupon']) / up:.1f}% truth-myopic "
              f"{100 * (p['truth-myopic'] - p['no coupon']) / up:.1f}% of the oracle's uplift")
EOF
expect 2 'do not go together' "$B" eval --log on1.csv --horizon 5 --run x
echo "cli_world: all passed"
