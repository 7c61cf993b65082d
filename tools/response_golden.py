#!/usr/bin/env python3
"""Golden values for tests/coupon/test_response.c: the coupon response model of
include/offerq/coupon/response.h, recomputed independently with numpy from the CSV
files (no offerq code): the history features of every log row and of every
customer tomorrow, the hinge knots, the standardisation, one ridge logistic
regression per coupon fitted by Newton's method with a backtracking line
search, and r^ of tomorrow.

Input: tests/data/response/log.csv and log.events.csv (written by
`offerq gen --customers 120 --seed 11 --no-orders`).
Run from the source tree:  python3 tools/response_golden.py
Writes tests/golden/response/{row_features,tom_features,model,rhat}.csv.
"""
import csv
import datetime as dt
import os

import numpy as np

SRC = "tests/data/response"
OUT = "tests/golden/response"
EPOCH = dt.date(1970, 1, 1)
COUPON = {"none": 0, "5": 1, "10": 2, "20": 3}
VALUE = np.array([0.0, 5.0, 10.0, 20.0])
NFEAT = 12  # OQ_RESP_NFEAT
RIDGE, MAX_ITER, TOL = 1e-3, 50, 1e-10
NKNOT = 9


def day(s):
    return (dt.date.fromisoformat(s) - EPOCH).days


def read(path):
    with open(path, newline="") as f:
        r = csv.reader(f)
        next(r)
        return list(r)


def features(rows_before, events_before, t, days_since, p30, aov):
    """Features 0..10 of response.h from history strictly before day t."""
    ev = []  # one per active day (a repeated day counts once, its first row)
    for d, c in events_before:
        if ev and ev[-1][0] == d:
            continue
        ev.append((d, c))
    n = len(ev)
    same = sum(1 for a, b in zip(ev, ev[1:]) if a[1] == b[1])
    pairs = max(n - 1, 0)
    first = ev[0][0] if ev else t
    n30 = sum(1 for d, _ in ev if d >= t - 30)
    cnt = np.zeros(4)
    for coupon, order in rows_before:
        a = 2 if coupon else 0
        cnt[a] += 1
        cnt[a + 1] += order
    return [
        (same + 0.3) / (pairs + 1),
        n / max(t - first, 1) if n else 0.0,
        n30 / 30.0,
        (cnt[1] + 0.2) / (cnt[0] + 1),
        (cnt[3] + 0.2) / (cnt[2] + 1),
        cnt[0],
        cnt[2],
        np.log1p(days_since),
        p30,
        np.log1p(aov),
        1.0,  # P(alive): filled by the nightly job from BG/NBD
        0.0,  # browse concentration evidence: filled by the nightly job (gross.h)
    ]


def newton(Z, y):
    m, P = Z.shape
    D = np.full(P, RIDGE)
    D[0] = RIDGE * 1e-4
    w = np.zeros(P)

    def obj(w):
        eta = Z @ w
        return (np.logaddexp(0, eta) - y * eta).mean() + 0.5 * (D * w * w).sum()

    L = obj(w)
    for _ in range(MAX_ITER):
        p = 1 / (1 + np.exp(-(Z @ w)))
        g = Z.T @ (p - y) / m + D * w
        H = (Z * (p * (1 - p))[:, None]).T @ Z / m + np.diag(D)
        dw = np.linalg.solve(H, g)
        dec = g @ dw
        if dec / 2 < TOL:
            break
        t, Ln = 1.0, L
        for _ in range(40):
            wn = w - t * dw
            Ln = obj(wn)
            if Ln <= L - 0.25 * t * dec:
                break
            t /= 2
        if not Ln <= L:
            break
        w, L = wn, Ln
    return w, L


def main():
    log = read(os.path.join(SRC, "log.csv"))
    events = read(os.path.join(SRC, "log.events.csv"))
    by_user = {}
    for i, r in enumerate(log):
        by_user.setdefault(int(r[0]), []).append(i)
    ev_user = {}
    for r in events:
        ev_user.setdefault(int(r[0]), []).append((day(r[1]), r[2]))
    for u in ev_user:
        ev_user[u].sort(key=lambda e: e[0])  # stable: file order within a day
    n = len(log)
    d = np.array([day(r[1]) for r in log])
    coupon = np.array([COUPON[r[7]] for r in log])
    order = np.array([int(r[8]) for r in log])
    profit = np.array([float(r[9]) for r in log])
    aov = np.array([float(r[4]) for r in log])
    tomorrow = d.max() + 1
    X = np.zeros((n, NFEAT))
    users = sorted(by_user)
    Xt = np.zeros((len(users), NFEAT))
    for ci, u in enumerate(users):
        ks = sorted(by_user[u], key=lambda k: d[k])
        evs = ev_user.get(u, [])
        for j, k in enumerate(ks):
            before = [(coupon[q], order[q]) for q in ks if d[q] < d[k]]
            X[k] = features(before, [e for e in evs if e[0] < d[k]], d[k],
                            float(log[k][2]), float(log[k][3]), aov[k])
        last = ks[-1]
        gap = tomorrow - d[last]
        ds = gap if order[last] else float(log[last][2]) + gap
        Xt[ci] = features([(coupon[q], order[q]) for q in ks], evs, tomorrow, ds,
                          float(log[last][3]), aov[last])
    # features are stored as float32 (response.h: oq_resp_feat); the rest in double
    X = X.astype(np.float32).astype(np.float64)
    Xt = Xt.astype(np.float32).astype(np.float64)
    # knots, inputs, standardisation (population std; 1 where it is 0)
    knots = np.quantile(X[:, 0], np.arange(1, NKNOT + 1) / 10.0)  # linear interpolation

    def inputs(F):
        return np.hstack([F, np.maximum(F[:, :1] - knots[None, :], 0) * (F[:, :1] > knots[None, :])])

    U = inputs(X)
    mean = U.mean(0)
    std = U.std(0)
    std[std <= 1e-12] = 1.0
    W = np.zeros((4, U.shape[1] + 1))
    loss = np.zeros(4)
    for c in range(4):
        msk = coupon == c
        Z = np.hstack([np.ones((msk.sum(), 1)), (U[msk] - mean) / std])
        W[c], loss[c] = newton(Z, order[msk].astype(float))
    sel = (order == 1) & (aov > 0) & (profit > 0)
    lx, ly = np.log(aov[sel]), np.log(profit[sel])
    b1 = ((lx - lx.mean()) * (ly - ly.mean())).sum() / ((lx - lx.mean()) ** 2).sum()
    b0 = ly.mean() - b1 * lx.mean()
    s2 = ((ly - b0 - b1 * lx) ** 2).mean()
    gmean = profit[order == 1].mean()
    Ut = (inputs(Xt) - mean) / std
    p = 1 / (1 + np.exp(-(W[:, 0][None, :] + Ut @ W[:, 1:].T)))
    a = np.expm1(Xt[:, 9])
    g = np.where(a > 0, np.exp(b0 + b1 * np.log(np.where(a > 0, a, 1)) + s2 / 2), gmean)
    rhat = p * (g[:, None] - VALUE[None, :])

    os.makedirs(OUT, exist_ok=True)
    np.savetxt(os.path.join(OUT, "row_features.csv"), X, fmt="%.17g", delimiter=",")
    np.savetxt(os.path.join(OUT, "tom_features.csv"), Xt, fmt="%.17g", delimiter=",")
    np.savetxt(os.path.join(OUT, "rhat.csv"), rhat, fmt="%.17g", delimiter=",")
    with open(os.path.join(OUT, "model.csv"), "w") as f:
        f.write("# knots (9); mean, std (20 each); weights per coupon (21 each); "
                "loss (4); gross b0 b1 s2 mean\n")
        for row in [knots, mean, std, *W, loss, [b0, b1, s2, gmean]]:
            f.write(",".join("%.17g" % v for v in row) + "\n")
    print("rows %d customers %d; losses %s" % (n, len(users), loss))


if __name__ == "__main__":
    main()
