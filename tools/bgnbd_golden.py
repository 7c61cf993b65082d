#!/usr/bin/env python3
"""Golden values for tests/coupon/test_bgnbd.c, computed with mpmath at 50 digits
straight from the published formulas (Fader, Hardie & Lee 2005, "Counting
your customers the easy way"): eq. 6 (log-likelihood, with Gamma and Beta
functions, no log-sum-exp), eq. 10 (E[X(t) | x, t_x, T] with the Gauss
hypergeometric function in its original form, no transformation), eq. 8
(P(X(t) = n), with the finite sum) and Hardie's note 021 (P(alive)).

Run from the source tree:  python3 tools/bgnbd_golden.py
Writes tests/golden/bgnbd/predict.csv and tests/golden/bgnbd/pn.csv.
"""
import os
import mpmath as mp

mp.mp.dps = 50

PARAMS = [
    (0.243, 4.414, 0.793, 2.426),  # CDNOW, weeks (FHL section 5)
    (0.6, 20.0, 0.8, 2.5),         # offerq gen defaults, days
    (0.5, 10.0, 1.7, 3.0),         # a > 1
    (3.0, 50.0, 0.3, 8.0),         # large r, small a
]
# (x, t_x, T, t): ordinary customers, a tiny horizon, x and T in the
# thousands, and horizons that put z = t/(alpha+T+t) within 1e-4 .. 1e-6 of 1.
CUSTOMERS = [
    (0, 0, 38.86, 39),
    (2, 30.43, 38.86, 39),
    (10, 35.0, 38.86, 39),
    (1, 0.5, 50.0, 0.001),
    (5, 10.0, 12.0, 1000.0),
    (50, 100.0, 100.0, 1e5),
    (0, 0, 0, 1e6),
    (3000, 19000.0, 20000.0, 365.0),
    (1500, 9000.0, 20000.0, 30.0),
]


def ll(r, al, a, b, x, tx, T):
    r, al, a, b, x, tx, T = map(mp.mpf, (r, al, a, b, x, tx, T))
    A = mp.beta(a, b + x) / mp.beta(a, b) * mp.gamma(r + x) * al**r / (mp.gamma(r) * (al + T) ** (r + x))
    if x > 0:
        A += mp.beta(a + 1, b + x - 1) / mp.beta(a, b) * mp.gamma(r + x) * al**r / (mp.gamma(r) * (al + tx) ** (r + x))
    return mp.log(A)


def p_alive(r, al, a, b, x, tx, T):
    if x == 0:
        return mp.mpf(1)
    r, al, a, b, x, tx, T = map(mp.mpf, (r, al, a, b, x, tx, T))
    return 1 / (1 + a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x))


def expected(r, al, a, b, x, tx, T, t):
    r, al, a, b, x, tx, T, t = map(mp.mpf, (r, al, a, b, x, tx, T, t))
    z = t / (al + T + t)
    h = mp.hyp2f1(r + x, b + x, a + b + x - 1, z)
    num = (a + b + x - 1) / (a - 1) * (1 - ((al + T) / (al + T + t)) ** (r + x) * h)
    den = 1 + (a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x) if x > 0 else 0)
    return num / den


def p_n(r, al, a, b, t, n):
    r, al, a, b, t = map(mp.mpf, (r, al, a, b, t))
    q = t / (al + t)
    first = mp.beta(a, b + n) / mp.beta(a, b) * mp.gamma(r + n) / (mp.gamma(r) * mp.factorial(n)) * (al / (al + t)) ** r * q**n
    if n == 0:
        return first
    s = sum(mp.gamma(r + j) / (mp.gamma(r) * mp.factorial(j)) * q**j for j in range(n))
    return first + mp.beta(a + 1, b + n - 1) / mp.beta(a, b) * (1 - (al / (al + t)) ** r * s)


def main():
    out = os.path.join(os.path.dirname(__file__), "..", "tests", "golden", "bgnbd")
    os.makedirs(out, exist_ok=True)
    with open(os.path.join(out, "predict.csv"), "w") as f:
        f.write("r,alpha,a,b,x,tx,T,t,ll,p_alive,expected\n")
        for p in PARAMS:
            for (x, tx, T, t) in CUSTOMERS:
                f.write("%r,%r,%r,%r,%r,%r,%r,%r,%s,%s,%s\n" % (
                    *p, x, tx, T, t,
                    mp.nstr(ll(*p, x, tx, T), 20),
                    mp.nstr(p_alive(*p, x, tx, T), 20),
                    mp.nstr(expected(*p, x, tx, T, t), 20)))
    with open(os.path.join(out, "pn.csv"), "w") as f:
        f.write("r,alpha,a,b,t,n,p\n")
        for p in PARAMS:
            for t in (1.0, 39.0, 365.0):
                for n in (0, 1, 2, 5, 20):
                    f.write("%r,%r,%r,%r,%r,%d,%s\n" % (*p, t, n, mp.nstr(p_n(*p, t, n), 20)))


if __name__ == "__main__":
    main()
