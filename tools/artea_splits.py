#!/usr/bin/env python3
"""The issue-17 bar on many held-out splits of the Artea coupon test, not just one.

    python3 tools/artea_splits.py [OFFERQ_BIN] [SPLITS]   (default build/offerq, 20)

For split s = 1..SPLITS the customers of ../shared/data/artea_ab.csv are halved by the
low bit of the first byte of MD5("s:" + id) (the file's BOM, CRLF and missing final
newline kept); `offerq uplift` (defaults) learns on half 0 and is judged on half 1.
Prints per split the learned policy's held-out IPS, the best fixed offer's IPS and
standard error, the Qini coefficient, whether each part of the bar holds, and a tally.
tests/cli/cli_artea.sh uses the unsalted MD5(id) split instead.
"""
import hashlib
import json
import os
import subprocess
import sys
import tempfile

here = os.path.dirname(os.path.abspath(__file__))
root = os.path.dirname(here)
binary = sys.argv[1] if len(sys.argv) > 1 else os.path.join(root, "build", "offerq")
splits = int(sys.argv[2]) if len(sys.argv) > 2 else 20
data = os.path.join(root, "..", "shared", "data", "artea_ab.csv")
raw = open(data, "rb").read()
lines = raw.split(b"\r\n")
met1 = met2 = both = 0
d_ips = d_dr = 0.0
with tempfile.TemporaryDirectory() as t:
    for s in range(1, splits + 1):
        halves = [[lines[0]], [lines[0]]]
        for l in lines[1:]:
            uid = l.split(b",")[0]
            halves[hashlib.md5(b"%d:" % s + uid).digest()[0] & 1].append(l)
        for k in (0, 1):
            open(os.path.join(t, "h%d.csv" % k), "wb").write(b"\r\n".join(halves[k]))
        subprocess.run([binary, "uplift", "--contacts", os.path.join(t, "h0.csv"),
                        "--holdout", os.path.join(t, "h1.csv"), "--customers", data,
                        "--offers", os.path.join(root, "examples", "artea_offers.csv"),
                        "--columns",
                        "user_id=id,offer=test_coupon,ordered=trans_after,value=revenue_after",
                        "--control", "0", "--out-dir", os.path.join(t, "run"), "--quiet",
                        "--no-crossfit"], check=True, capture_output=True)
        e = json.load(open(os.path.join(t, "run", "estimates.json")))["holdout"]
        pol = {p["policy"]: p for p in e["policies"]}
        best = max((pol["offer:0"], pol["offer:1"]), key=lambda p: p["ips"])
        learned = pol["learned"]
        b1 = learned["ips"] >= best["ips"] - best["ips_se"]
        b2 = e["qini_order"] > 0
        d_ips += learned["ips"] - best["ips"]
        d_dr += learned["dr"] - max(pol["offer:0"]["dr"], pol["offer:1"]["dr"])
        met1 += b1
        met2 += b2
        both += b1 and b2
        print("split %2d: learned IPS %.3f, best fixed %s %.3f (se %.3f): %s; Qini %+.5f: %s"
              % (s, learned["ips"], best["policy"], best["ips"], best["ips_se"],
                 "met" if b1 else "NOT met", e["qini_order"], "met" if b2 else "NOT met"))
print("IPS bar met in %d of %d splits, Qini > 0 in %d, both in %d" % (met1, splits, met2, both))
print("mean over the splits: learned minus best fixed offer, IPS %+.3f, DR %+.3f"
      % (d_ips / splits, d_dr / splits))
