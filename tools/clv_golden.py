#!/usr/bin/env python3
"""Golden values for tests/coupon/test_clv.c: the discounted change in a living
customer's expected future purchases that one purchase caused tomorrow brings
under BG/NBD (include/offerq/coupon/clv.h, oq_clv_order_delta), computed with
mpmath (40 digits) from first principles rather than from offerq's closed form:

  Given alive with x repeat purchases at age T, lambda ~ Gamma(r + x, alpha + T)
  and p ~ Beta(a, b + x). An alive customer with (lambda, p) makes
  (1/p)(exp(-lambda p s) - exp(-lambda p t)) purchases in (s, t]; after an
  induced purchase (which flips the dropout coin once more) (1 - p) times
  that. The difference in (s, t] is -(exp(-lambda p s) - exp(-lambda p t)).
  Its expectation: the lambda integral in closed form (the Gamma Laplace
  transform (beta / (beta + p t))^(r+x)), the p integral by quadrature of
  the Beta density (mpmath.quad). offerq instead uses Euler's integral of
  2F1 and the series of oq_bgnbd_one_minus_g.

  D = sum_k (dE(t_k) - dE(t_{k-1})) / (1 + d)^(t_k / 30), t_k = min(30 k, days).

Run from the source tree:  /usr/bin/python3 tools/clv_golden.py
Writes tests/data/clv/order_delta.csv: r,alpha,a,b,x,T,days,discount,D
"""
import math
import os

import mpmath as mp

mp.mp.dps = 40


def delta_e(r, al, a, b, x, T, t):
    """-E[1 - exp(-lambda p t)] over the posterior given alive."""
    s, beta, bb = mp.mpf(r) + x, mp.mpf(al) + T, mp.mpf(b) + x
    lbeta = mp.log(mp.beta(a, bb))

    def f(p):
        dens = mp.exp((a - 1) * mp.log(p) + (bb - 1) * mp.log1p(-p) - lbeta)
        return dens * (1 - (beta / (beta + p * t)) ** s)

    return -mp.quad(f, [0, mp.mpf("1e-6"), mp.mpf("0.01"), mp.mpf("0.5"), 1])


def order_delta(r, al, a, b, x, T, days, disc):
    d, prev, k = mp.mpf(0), mp.mpf(0), 1
    while 30 * (k - 1) < days:
        t = min(30 * k, days)
        e = delta_e(r, al, a, b, x, T, mp.mpf(t))
        d += (e - prev) / mp.power(1 + mp.mpf(disc), mp.mpf(t) / 30)
        prev = e
        k += 1
    return d


CASES = []
PARAMS = [
    (0.6, 20.0, 0.8, 2.5),      # offerq gen's default world (per day)
    (0.243, 4.414, 0.793, 2.426),  # CDNOW, FHL 2005 (per week)
    (2.0, 10.0, 3.0, 1.5),      # a > 1
    (0.05, 300.0, 0.3, 8.0),    # slow buyers, rare dropout
]
for par in PARAMS:
    for x, T in ((0, 0), (0, 40), (1, 60), (4, 150), (25, 170)):
        for days, disc in ((1, 0.0), (30, 0.01), (45, 0.1), (365, 0.01)):
            CASES.append(par + (x, T, days, disc))

if __name__ == "__main__":
    here = os.path.dirname(os.path.abspath(__file__))
    out = os.path.join(here, "..", "tests", "data", "clv", "order_delta.csv")
    with open(out, "w") as f:
        f.write("# r,alpha,a,b,x,T,days,discount,D (tools/clv_golden.py)\n")
        for c in CASES:
            d = order_delta(*c)
            f.write(",".join(repr(float(v)) for v in c) + "," + mp.nstr(d, 20) + "\n")
    print(f"wrote {len(CASES)} cases to {out}")
