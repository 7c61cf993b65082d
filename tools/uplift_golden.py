#!/usr/bin/env python3
"""Golden values for tests/coupon/test_uplift.c: the off-policy estimators and the Qini
coefficient of include/offerq/coupon/uplift.h, computed independently with numpy on a
small hand-made example (12 logged contacts, 3 offers, a partly stochastic target policy).

    /usr/bin/python3 tools/uplift_golden.py tests/golden/uplift

writes rows.csv (the inputs: a, r, mu, pi(0..2), q(0..2), score, treated, y per row) and
expected.csv (ips, ips_se, snips, snips_se, dr, dr_se, qini on one line).
Definitions (uplift.h): w = pi(a|x)/mu; IPS = mean(w r), se = sd(w r, ddof=1)/sqrt(n);
SNIPS = sum(w r)/sum(w), se = sqrt(sum(w^2 (r - SNIPS)^2))/sum(w); DR = mean(sum_b pi q +
w (r - q(a))), se likewise; Qini (Radcliffe 2007): rank by score (stable, highest first),
Q(k) = Y_t(k) - Y_c(k) n_t(k)/n_c(k) (0 while n_c = 0), q = sum_k [Q(k) - k/N Q(N)] / N^2.
"""
import os
import sys

import numpy as np

a = np.array([0, 1, 2, 0, 1, 2, 0, 1, 2, 0, 1, 1])
r = np.array([0.0, 12.5, -1.0, 3.0, 0.0, 20.0, 0.0, -2.5, 7.0, 15.0, 0.0, 9.0])
mu = np.array([0.5, 0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.25, 0.25, 0.5, 0.25, 0.25])
pi = np.array([
    [1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 1, 0], [0.1, 0.8, 0.1], [0, 0, 1],
    [1, 0, 0], [0.2, 0.3, 0.5], [0, 0, 1], [1, 0, 0], [0, 1, 0], [1 / 3, 1 / 3, 1 / 3]])
q = np.array([
    [1.0, 2.0, 0.5], [0.0, 8.0, 1.0], [0.3, 0.2, 2.0], [2.5, 1.0, 0.0], [1.0, 1.5, 1.2],
    [3.0, 4.0, 9.0], [0.0, 0.0, 0.0], [1.0, -1.0, 2.0], [0.5, 0.5, 5.0], [6.0, 2.0, 1.0],
    [0.4, 0.9, 0.1], [2.0, 3.0, 1.0]])
score = np.array([0.3, 0.9, 0.1, -0.2, 0.5, 0.9, 0.0, 0.4, 0.7, -0.5, 0.2, 0.6])
treated = (a != 0).astype(float)
y = np.array([0, 1, 0, 1, 0, 1, 0, 0, 1, 1, 0, 1], dtype=float)

n = len(a)
w = pi[np.arange(n), a] / mu
t = w * r
ips, ips_se = t.mean(), t.std(ddof=1) / np.sqrt(n)
snips = t.sum() / w.sum()
snips_se = np.sqrt(np.sum(w ** 2 * (r - snips) ** 2)) / w.sum()
d = (pi * q).sum(axis=1) + w * (r - q[np.arange(n), a])
dr, dr_se = d.mean(), d.std(ddof=1) / np.sqrt(n)

order = sorted(range(n), key=lambda i: (-score[i], i))
Q = np.zeros(n + 1)
yt = yc = nt = nc = 0.0
for k, i in enumerate(order, 1):
    if treated[i]:
        yt += y[i]; nt += 1
    else:
        yc += y[i]; nc += 1
    Q[k] = yt - yc * nt / nc if nc else 0.0
ks = np.arange(1, n + 1)
qini = np.sum(Q[1:] - ks / n * Q[n]) / n / n

out = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/uplift"
os.makedirs(out, exist_ok=True)
with open(os.path.join(out, "rows.csv"), "w") as f:
    f.write("# a,r,mu,pi0,pi1,pi2,q0,q1,q2,score,treated,y (tools/uplift_golden.py)\n")
    for i in range(n):
        vals = [a[i], r[i], mu[i], *pi[i], *q[i], score[i], treated[i], y[i]]
        f.write(",".join(repr(float(v)) for v in vals) + "\n")
with open(os.path.join(out, "expected.csv"), "w") as f:
    f.write("# ips,ips_se,snips,snips_se,dr,dr_se,qini (tools/uplift_golden.py, numpy)\n")
    f.write(",".join(repr(float(v)) for v in (ips, ips_se, snips, snips_se, dr, dr_se, qini)) + "\n")
print(ips, ips_se, snips, snips_se, dr, dr_se, qini)
