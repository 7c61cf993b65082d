#!/usr/bin/env python3
"""Golden values for tests/coupon/test_gross.c: the gross-profit model of
include/offerq/coupon/gross.h (steps 1-7), recomputed independently with numpy from
the CSV files (no offerq code): category effects by alternating least
squares, levels and variances, margins, the favourite filter (a dense
posterior over all K categories) and its grid search,
and g of every log row and of every customer tomorrow.

Three fits: "orders" (log + events + orders file), "no_orders" (log +
events, step 7) and "no_events" (log + orders file, no events: every order's
category unknown).

Input: tests/data/gross/log.csv, log.events.csv, log.orders.csv, made by
    python3 tools/gross_golden.py --make-data build/offerq
which runs `offerq gen --customers 150 --seed 5 --start 2025-01-01
--end 2025-04-30` and appends to the sidecars (so that the test meets them):
three orders on days without an event (unknown category), one order of a
user who is not in the log (ignored), removes the orders of the 11th
customer (a customer without orders), and a second event row on an order's
day for customer 1 with another category (the last row of the day wins;
the events file is then no longer sorted).
Run from the source tree:  python3 tools/gross_golden.py
Writes tests/golden/gross/model.json.
"""
import csv
import datetime as dt
import json
import math
import os
import subprocess
import sys

import numpy as np

SRC = "tests/data/gross"
OUT = "tests/golden/gross"
EPOCH = dt.date(1970, 1, 1)
SWEEPS = 20
MIN_ROWS = 5
DRIFTS = [0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.13, 0.2]
CONCS = [0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8]
ALPHAS = [a / 10 for a in range(1, 10)]
EV_HI, EV_LO = 0.8, 0.2  # OQ_GROSS_EVIDENCE_HI, _LO


def day(s):
    return (dt.date.fromisoformat(s) - EPOCH).days


def read(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        next(r)
        return list(r)


def make_data(binary):
    os.makedirs(SRC, exist_ok=True)
    log = os.path.join(SRC, "log.csv")
    subprocess.run([binary, "gen", "--customers", "150", "--seed", "5", "--start", "2025-01-01",
                    "--end", "2025-04-30", "--quiet", "--out", log], check=True)
    os.remove(os.path.join(SRC, "log.truth.json"))
    events = read(os.path.join(SRC, "log.events.csv"))
    orders = read(os.path.join(SRC, "log.orders.csv"))
    active = {(r[0], r[1]) for r in events}
    users = sorted({r[0] for r in read(log)}, key=int)
    extra = []
    for u, v in zip(users[3:6], ["40.00", "55.50", "70.25"]):
        d = dt.date(2025, 2, 1)
        while (u, d.isoformat()) in active:
            d += dt.timedelta(days=1)
        extra.append((u, d.isoformat(), v))
    extra.append(("999999", "2025-03-01", "12.00"))
    # customer users[10] loses its orders (a customer without any)
    with open(os.path.join(SRC, "log.orders.csv"), "w") as f:
        f.write("user_id,date,value\n")
        for r in [r for r in orders if r[0] != users[10]] + extra:
            f.write(",".join(r) + "\n")
    o1 = [r for r in orders if r[0] == users[0]]
    e1 = [r for r in events if r[0] == users[0] and r[1] == o1[0][1]]
    other = "books" if e1[0][2] != "books" else "toys"
    with open(os.path.join(SRC, "log.events.csv"), "a") as f:
        f.write("%s,%s,%s\n" % (users[0], o1[0][1], other))


def fit_and_predict(log, events, orders):
    """Returns (params dict, g_row list, g_tom list)."""
    events_given = len(events) > 0
    # Category ids as the C dictionary interns them: the log's, then the events'.
    cats = {}
    for r in log:
        cats.setdefault(r[5], len(cats))
    for r in events:
        cats.setdefault(r[2], len(cats))
    K = len(cats)
    users = sorted({int(r[0]) for r in log})
    cidx = {u: i for i, u in enumerate(users)}
    nc = len(users)
    rows_of = [[] for _ in range(nc)]
    for i, r in enumerate(log):
        rows_of[cidx[int(r[0])]].append(i)
    for c in range(nc):
        rows_of[c].sort(key=lambda i: (day(log[i][1]), i))
    ev_of = [[] for _ in range(nc)]  # (day, cat), stable by day: file order within a day
    for r in events:
        u = int(r[0])
        if u in cidx:
            ev_of[cidx[u]].append((day(r[1]), cats[r[2]]))
    for c in range(nc):
        ev_of[c].sort(key=lambda e: e[0])

    def cat_on(c, d):  # step 1
        k = -1
        for e in ev_of[c]:
            if e[0] == d:
                k = e[1]
        return k

    # The orders: per customer, (day, value, category), by (day, file order).
    ords = [[] for _ in range(nc)]
    if orders is not None:
        for i, r in enumerate(orders):
            u = int(r[0])
            if u in cidx:
                ords[cidx[u]].append((day(r[1]), i, float(r[2])))
        for c in range(nc):
            ords[c] = [(d, v, cat_on(c, d)) for d, _, v in sorted(ords[c])]
    else:
        for c in range(nc):
            for i in rows_of[c]:
                r = log[i]
                if r[8] == "1" and float(r[9]) > 0:
                    ords[c].append((day(r[1]), float(r[9]), cats[r[5]]))
    flat = [(c, d, math.log(v), v, k) for c in range(nc) for d, v, k in ords[c]]
    N = len(flat)
    known = [o for o in flat if o[4] >= 0]
    cnt = np.zeros(K)
    for o in known:
        cnt[o[4]] += 1
    has = cnt > 0

    # step 2: alternating least squares over the known-category orders
    b = np.zeros(K)
    a = np.zeros(nc)
    if known:
        for _ in range(SWEEPS):
            acc = np.zeros(nc)
            m = np.zeros(nc)
            for c, d, lv, v, k in known:
                acc[c] += lv - b[k]
                m[c] += 1
            a = np.where(m > 0, acc / np.maximum(m, 1), 0.0)
            s = np.zeros(K)
            for c, d, lv, v, k in known:
                s[k] += lv - a[c]
            b[has] = s[has] / cnt[has]
            b[has] -= b[has].mean()

    def bb(k):
        return b[k] if k >= 0 else 0.0

    # step 3
    lev, nu = [], []
    sse = 0.0
    for c in range(nc):
        if not ords[c]:
            continue
        dev = [math.log(v) - bb(k) for d, v, k in ords[c]]
        au = sum(dev) / len(dev)
        sse += sum((x - au) ** 2 for x in dev)
        lev.append(au)
        nu.append(len(dev))
    lev, nu = np.array(lev), np.array(nu, dtype=float)
    U = len(lev)
    se2 = sse / max(N - U - int(has.sum()), 1)
    m0 = lev.mean()
    sa2 = max(lev.var() - (se2 / nu).mean(), 1e-3)

    # step 4
    margin = np.ones(K)
    pooled = 1.0
    n_margin = 0
    if orders is not None:
        sp, sv, nr = np.zeros(K), np.zeros(K), np.zeros(K)
        for c in range(nc):
            for i in rows_of[c]:
                r = log[i]
                if r[8] != "1":
                    continue
                d = day(r[1])
                vals = [v for od, v, k in ords[c] if od == d]
                if not vals:
                    continue
                k = cats[r[5]]
                sp[k] += float(r[9])
                sv[k] += sum(vals)
                nr[k] += 1
        n_margin = int(nr.sum())
        pooled = sp.sum() / sv.sum()
        margin = np.where((nr >= MIN_ROWS) & (sv > 0), sp / np.where(sv > 0, sv, 1), pooled)

    # step 5: the favourite filter, a dense posterior over the K categories
    def filt(c, t, drift, conc, ll=None):
        """Posterior over the favourite of customer c on day t, from its events
        strictly before t; with ll (a one-element list), adds to ll[0] the log
        predictive probability of each event."""
        pi = np.full(K, 1.0 / K)
        last = None
        for d, k in ev_of[c]:
            if d >= t:
                break
            if last is not None:
                keep = (1 - drift) ** (d - last)
                pi = keep * pi + (1 - keep) / K
            if ll is not None:
                ll[0] += math.log((1 - conc) / K + conc * pi[k])
            like = np.full(K, (1 - conc) / K)
            like[k] += conc
            pi = pi * like
            pi /= pi.sum()
            last = d
        if last is not None:
            keep = (1 - drift) ** (t - last)
            pi = keep * pi + (1 - keep) / K
        return pi

    pop = cnt / max(len(known), 1)
    grid = np.zeros((len(DRIFTS), len(CONCS), len(ALPHAS)))
    drift, conc, alpha, ll_best = 0.0, 0.0, 0.0, -np.inf
    f = np.exp(b) * margin
    if known and events_given:
        for di, dr in enumerate(DRIFTS):
            for ci, co in enumerate(CONCS):
                rec = [filt(c, d, dr, co)[k] for c, d, lv, v, k in known]
                for ai, al in enumerate(ALPHAS):
                    ll = sum(math.log(al * r + (1 - al) * pop[k])
                             for r, (c, d, lv, v, k) in zip(rec, known))
                    grid[di, ci, ai] = ll
                    if ll > ll_best:
                        ll_best, drift, conc, alpha = ll, dr, co, al
        pop_f = float((pop * f).sum())
    elif known:
        pop_f = float((pop * f).sum())
        ll_best = sum(math.log(pop[k]) for c, d, lv, v, k in known)
    else:
        pop_f = pooled
        ll_best = 0.0

    # step 6
    def g(c, t):
        hist = [o for o in ords[c] if o[0] < t]
        n = len(hist)
        if n:
            abar = sum(math.log(v) - bb(k) for d, v, k in hist) / n
            P = 1 / sa2 + n / se2
            mu, pv = (m0 / sa2 + n * abar / se2) / P, 1 / P
        else:
            mu, pv = m0, sa2
        S = pop_f
        if alpha > 0:
            S = alpha * float(filt(c, t, drift, conc) @ f) + (1 - alpha) * pop_f
        return math.exp(mu + pv / 2 + se2 / 2) * S

    # oq_gross_evidence: the log-likelihood ratio of the events under the
    # filter with conc 0.8 against 0.2 (the fitted drift), dense posteriors
    def evidence(c, t):
        if drift <= 0:
            return 0.0
        hi, lo = [0.0], [0.0]
        filt(c, t, drift, EV_HI, hi)
        filt(c, t, drift, EV_LO, lo)
        return hi[0] - lo[0]

    tomorrow = max(day(r[1]) for r in log) + 1
    ev_row = [0.0] * len(log)
    for c in range(nc):
        for i in rows_of[c]:
            ev_row[i] = evidence(c, day(log[i][1]))
    ev_tom = [evidence(c, tomorrow) for c in range(nc)]
    g_row = [0.0] * len(log)
    for c in range(nc):
        for i in rows_of[c]:
            g_row[i] = g(c, day(log[i][1]))
    g_tom = [g(c, tomorrow) for c in range(nc)]
    names = sorted(cats, key=cats.get)
    params = {
        "b": {n: float(b[cats[n]]) for n in names},
        "margin": {n: float(margin[cats[n]]) for n in names},
        "pop": {n: float(pop[cats[n]]) for n in names},
        "m0": float(m0), "sa2": float(sa2), "se2": float(se2),
        "pooled_margin": float(pooled), "pop_f": float(pop_f),
        "drift": float(drift), "conc": float(conc), "alpha": float(alpha),
        "loglik": float(ll_best),
        "loglik_grid": grid.tolist(),
        "n_orders": N, "n_known": len(known), "n_customers": U,
        "n_cats_used": int(has.sum()), "n_margin_rows": n_margin,
        "customers_without_orders": [users[c] for c in range(nc) if not ords[c]],
        "tomorrow": tomorrow,
        "evidence_row": ev_row, "evidence_tom": ev_tom,
    }
    return params, g_row, g_tom


def main():
    if len(sys.argv) == 3 and sys.argv[1] == "--make-data":
        make_data(sys.argv[2])
    log = read(os.path.join(SRC, "log.csv"))
    events = read(os.path.join(SRC, "log.events.csv"))
    orders = read(os.path.join(SRC, "log.orders.csv"))
    out = {}
    for name, ev, od in [("orders", events, orders), ("no_orders", events, None),
                         ("no_events", [], orders)]:
        p, gr, gt = fit_and_predict(log, ev, od)
        p["g_row"], p["g_tom"] = gr, gt
        out[name] = p
        print("%-9s drift %.3f conc %.1f alpha %.1f m0 %.4f sa2 %.4f se2 %.4f pooled %.4f N %d known %d; "
              "customers without orders %d" % (name, p["drift"], p["conc"], p["alpha"], p["m0"], p["sa2"],
                                               p["se2"], p["pooled_margin"], p["n_orders"],
                                               p["n_known"], len(p["customers_without_orders"])))
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "model.json"), "w") as f:
        json.dump(out, f, indent=0)
        f.write("\n")


if __name__ == "__main__":
    main()
