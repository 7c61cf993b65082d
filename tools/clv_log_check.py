#!/usr/bin/env python3
"""What an order caused by a coupon does to a customer's later orders, measured
causally on a randomised log (docs/readme/bgnbd.md, "Is the sign right?").

The logging policy of `offerq gen` draws each contact's coupon at random, so a
contact's coupon is an instrument: it moves the order that day and nothing
else about the customer before it. For each contact row on day d with d + H
no later than the log's last day, Y = the customer's orders (the .orders.csv
sidecar, the full stream) on days d+1 .. d+H. The Wald (instrumental
variable) estimate of the change in later orders per order caused that day is

    (E[Y | coupon] - E[Y | none]) / (P(order | coupon) - P(order | none)),

with a standard error by the delta method. It includes every way an order
(and a redeemed coupon) changes the future in the world, BG/NBD's dropout
coin and the re-engagement clock alike; the exclusion restriction fails only
through a coupon redeemed by a customer who would have ordered anyway
(deal-proneness), which biases the estimate downwards.

  /usr/bin/python3 tools/clv_log_check.py LOG.csv [H] [--golden]
An independent implementation of oq_clv_log_delta (`offerq run --clv-model
log`): report.json's clv.mean_purchases_change is this Wald estimate. With
--golden a last line H,Wald,se,contacts (tests/data/clv/log_wald.csv).
The sample log there: offerq gen --customers 500 --seed 7 --no-events
--out tests/data/clv/log.csv (its .orders.csv beside it).
"""
import csv
import sys
from collections import defaultdict
from datetime import date

import numpy as np


def day(s):
    return date.fromisoformat(s).toordinal()


def main():
    args = [a for a in sys.argv[1:] if a != "--golden"]
    log, H = args[0], int(args[1]) if len(args) > 1 else 30
    orders = defaultdict(list)
    with open(log[:-4] + ".orders.csv") as f:
        for row in csv.DictReader(f):
            orders[row["user_id"]].append(day(row["date"]))
    for u in orders:
        orders[u] = np.sort(np.array(orders[u]))
    rows = list(csv.DictReader(open(log)))
    last = max(day(r["snapshot_date"]) for r in rows)
    arm, o, y = [], [], []
    for r in rows:
        d = day(r["snapshot_date"])
        if d + H > last:
            continue
        ds = orders.get(r["user_id"], np.array([], dtype=int))
        arm.append(r["coupon_offered"] != "none")
        o.append(int(r["order_placed"]))
        y.append(int(np.sum((ds > d) & (ds <= d + H))))
    arm, o, y = np.array(arm), np.array(o, float), np.array(y, float)
    n1, n0 = arm.sum(), (~arm).sum()
    dy = y[arm].mean() - y[~arm].mean()
    do = o[arm].mean() - o[~arm].mean()
    # delta method for the ratio of two independent-arm mean differences
    cov = lambda a, b: np.cov(a, b)[0, 1]
    var_dy = y[arm].var(ddof=1) / n1 + y[~arm].var(ddof=1) / n0
    var_do = o[arm].var(ddof=1) / n1 + o[~arm].var(ddof=1) / n0
    c = cov(y[arm], o[arm]) / n1 + cov(y[~arm], o[~arm]) / n0
    w = dy / do
    se = np.sqrt((var_dy - 2 * w * c + w * w * var_do) / do ** 2)
    print(f"{log}: {len(y)} contacts with {H} days after them ({n1} coupon, {n0} none)")
    print(f"  later orders: coupon {y[arm].mean():.4f}, none {y[~arm].mean():.4f}, "
          f"difference {dy:+.4f} (se {np.sqrt(var_dy):.4f})")
    print(f"  same-day order: coupon {o[arm].mean():.4f}, none {o[~arm].mean():.4f}, "
          f"difference {do:+.4f} (se {np.sqrt(var_do):.4f})")
    print(f"  later orders per caused order (Wald): {w:+.3f} "
          f"(95% interval {w - 1.96 * se:+.3f} to {w + 1.96 * se:+.3f})")
    if "--golden" in sys.argv:  # tests/data/clv/log_wald.csv: H, Wald, se, contacts
        print(f"{H},{w!r},{se!r},{len(y)}")


if __name__ == "__main__":
    main()
