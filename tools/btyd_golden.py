#!/usr/bin/env python3
"""Golden values for tests/coupon/test_btyd.c, computed with mpmath (50 digits)
straight from lifetimes' formulas (lifetimes 0.11, MIT) and the papers, without
any of the transformations offerq uses:

- MBG/NBD: ModifiedBetaGeoFitter._negative_log_likelihood (per customer),
  conditional_probability_alive, conditional_expected_number_of_purchases_up_to_time
  (mpmath's hyp2f1 of the original arguments).
- Pareto/NBD: ParetoNBDFitter._conditional_log_likelihood with _log_A_0 (note 009
  eq. 18-20, hyp2f1 of the original arguments), conditional_probability_alive,
  conditional_expected_number_of_purchases_up_to_time (eq. 41).
- Gamma-Gamma: GammaGammaFitter._negative_log_likelihood (per customer) and
  conditional_expected_average_profit.
- CLV: utils._customer_lifetime_value with a BetaGeoFitter (its
  conditional_expected_number_of_purchases_up_to_time, FHL eq. 10 with hyp2f1)
  and the Gamma-Gamma profit.
- BG/NBD P(n purchases in (T, T+t] | x, t_x, T): from first principles, the
  joint likelihood of the history and the future count given (lambda, p)
  integrated term by term over Gamma(r, alpha) x Beta(a, b) (closed-form
  moments), divided by the likelihood of the history. offerq computes it
  another way (the posterior is a BG/NBD process again, FHL eq. 8).
- Standard errors on CDNOW: the Hessian of the total log-likelihood at fixed
  parameter points by central differences at 40 digits (step 1e-12 relative),
  inverted; for bgnbd, mbgnbd, paretonbd (cdnow_summary.csv) and gammagamma
  (the monetary values below).
- CDNOW monetary values: lifetimes' summary_data_from_transaction_data with
  monetary_value_col on cdnow_sample.txt (sample ids), calibration end
  1997-09-30: values of one day summed, first day left out, mean over the
  remaining days.

- MBG/NBD and Pareto/NBD P(n purchases in (T, T+t] | x, t_x, T): MBG/NBD from
  first principles as BG/NBD's above (coins at time 0 and after each
  purchase); Pareto/NBD as a 2-D quadrature over the posterior of (lambda,
  mu) given alive of the fixed-rate probability (btyd_pn_models.csv).

Run from the source tree:  python3 tools/btyd_golden.py [SHARED_DATA_DIR] [--only-pn]
(default ../shared/data). Writes tests/golden/bgnbd/btyd_*.csv. Takes a few minutes
(the Pareto/NBD Hessian evaluates 2F1 some 70,000 times at 40 digits).
"""
import collections
import os
import sys

import mpmath as mp

mp.mp.dps = 50
F = mp.mpf


# ---- MBG/NBD ---------------------------------------------------------------------------
def mbg_ll(r, al, a, b, x, tx, T):
    r, al, a, b, x, tx, T = map(F, (r, al, a, b, x, tx, T))
    A1 = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(al)
    A2 = mp.loggamma(a + b) + mp.loggamma(b + x + 1) - mp.loggamma(b) - mp.loggamma(a + b + x + 1)
    A3 = -(r + x) * mp.log(al + T)
    A4 = mp.log(a) - mp.log(b + x) + (r + x) * (mp.log(al + T) - mp.log(al + tx))
    return A1 + A2 + A3 + mp.log(mp.exp(A4) + 1)


def mbg_p_alive(r, al, a, b, x, tx, T):
    r, al, a, b, x, tx, T = map(F, (r, al, a, b, x, tx, T))
    return 1 / (1 + (a / (b + x)) * ((al + T) / (al + tx)) ** (r + x))


def mbg_expected(r, al, a, b, x, tx, T, t):
    r, al, a, b, x, tx, T, t = map(F, (r, al, a, b, x, tx, T, t))
    hyp = mp.hyp2f1(r + x, b + x + 1, a + b + x, t / (al + T + t))
    return ((a + b + x) / (a - 1) * (1 - hyp * ((al + T) / (al + t + T)) ** (r + x))
            / (1 + (a / (b + x)) * ((al + T) / (al + tx)) ** (r + x)))


# ---- Pareto/NBD -------------------------------------------------------------------------
def pnbd_log_a0(r, al, s, be, x, tx, T):
    if al < be:
        mn, mx, t = al, be, r + x
    else:
        mn, mx, t = be, al, s + 1
    d = mx - mn
    rsf = r + s + x
    p1 = mp.hyp2f1(rsf, t, rsf + 1, d / (mx + tx))
    q1 = mx + tx
    p2 = mp.hyp2f1(rsf, t, rsf + 1, d / (mx + T))
    q2 = mx + T
    v = p1 * q2 ** rsf - p2 * q1 ** rsf
    if v <= 0:
        return -mp.inf
    return mp.log(v) - rsf * mp.log(q1 * q2)


def pnbd_ll(r, al, s, be, x, tx, T):
    r, al, s, be, x, tx, T = map(F, (r, al, s, be, x, tx, T))
    A1 = mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(al) + s * mp.log(be)
    la0 = pnbd_log_a0(r, al, s, be, x, tx, T)
    u = -(r + x) * mp.log(al + T) - s * mp.log(be + T)
    v = mp.log(s) + la0 - mp.log(r + s + x) if la0 != -mp.inf else -mp.inf
    return A1 + (mp.log(mp.exp(u) + mp.exp(v)) if v != -mp.inf else u)


def pnbd_p_alive(r, al, s, be, x, tx, T):
    r, al, s, be, x, tx, T = map(F, (r, al, s, be, x, tx, T))
    la0 = pnbd_log_a0(r, al, s, be, x, tx, T)
    if la0 == -mp.inf:
        return F(1)
    return 1 / (1 + mp.exp(mp.log(s) - mp.log(r + s + x) + (r + x) * mp.log(al + T)
                           + s * mp.log(be + T) + la0))


def pnbd_expected(r, al, s, be, x, tx, T, t):
    ll = pnbd_ll(r, al, s, be, x, tx, T)
    r, al, s, be, x, tx, T, t = map(F, (r, al, s, be, x, tx, T, t))
    first = (mp.loggamma(r + x) - mp.loggamma(r) + r * mp.log(al) + s * mp.log(be)
             - (r + x) * mp.log(al + T) - s * mp.log(be + T))
    second = mp.log(r + x) + mp.log(be + T) - mp.log(al + T)
    third = mp.log((1 - ((be + T) / (be + T + t)) ** (s - 1)) / (s - 1))
    return mp.exp(first + second + third - ll)


# ---- BG/NBD (for CLV and P(n)) -----------------------------------------------------------
def bg_ll(r, al, a, b, x, tx, T):
    r, al, a, b, x, tx, T = map(F, (r, al, a, b, x, tx, T))
    A = mp.beta(a, b + x) / mp.beta(a, b) * mp.gamma(r + x) * al ** r / (mp.gamma(r) * (al + T) ** (r + x))
    if x > 0:
        A += mp.beta(a + 1, b + x - 1) / mp.beta(a, b) * mp.gamma(r + x) * al ** r / (mp.gamma(r) * (al + tx) ** (r + x))
    return mp.log(A)


def bg_expected(r, al, a, b, x, tx, T, t):
    r, al, a, b, x, tx, T, t = map(F, (r, al, a, b, x, tx, T, t))
    hyp = mp.hyp2f1(r + x, b + x, a + b + x - 1, t / (al + T + t))
    num = (a + b + x - 1) / (a - 1) * (1 - hyp * ((al + T) / (al + t + T)) ** (r + x))
    den = 1 + (a / (b + x - 1) * ((al + T) / (al + tx)) ** (r + x) if x > 0 else 0)
    return num / den


def bg_p_n_cond(r, al, a, b, x, tx, T, t, n):
    """P(n in (T, T+t] | x, t_x, T) = E[joint] / E[L(history)], moments in closed form."""
    r, al, a, b, x, tx, T, t = map(F, (r, al, a, b, x, tx, T, t))

    def lam(k, c):  # E[lambda^k e^(-lambda c)], lambda ~ Gamma(r, alpha)
        return mp.gamma(r + k) / mp.gamma(r) * al ** r / (al + c) ** (r + k)

    def pp(i, j):  # E[p^i (1-p)^j], p ~ Beta(a, b)
        return mp.beta(a + i, b + j) / mp.beta(a, b)

    hist = pp(0, x) * lam(x, T) + (pp(1, x - 1) * lam(x, tx) if x > 0 else 0)
    # alive at T, then n purchases in t and still alive, or n purchases then dropout
    joint = pp(0, x + n) * lam(x + n, T + t) * t ** n / mp.factorial(n)
    if n > 0:
        tail = lam(x, T) - sum(lam(x + j, T + t) * t ** j / mp.factorial(j) for j in range(n))
        joint += pp(1, x + n - 1) * tail
    if n == 0 and x > 0:
        joint += pp(1, x - 1) * lam(x, tx)  # dead at T
    return joint / hist


# ---- P(n purchases in (T, T+t] | history): MBG/NBD and Pareto/NBD ---------------------------
def mbg_p_n_cond(r, al, a, b, x, tx, T, t, n):
    """MBG/NBD from first principles: a coin of probability p at time 0 and
    after each purchase says the customer left. Joint likelihood of the
    history and n purchases in (T, T+t] given (lambda, p), integrated term by
    term over Gamma(r, alpha) x Beta(a, b) (closed-form moments), divided by
    the history's likelihood. offerq instead uses the posterior given alive
    (a BG/NBD process with b + x + 1) and FHL eq. 8."""
    r, al, a, b, x, tx, T, t = map(F, (r, al, a, b, x, tx, T, t))

    def lam(k, c):
        return mp.gamma(r + k) / mp.gamma(r) * al ** r / (al + c) ** (r + k)

    def pp(i, j):
        return mp.beta(a + i, b + j) / mp.beta(a, b)

    # alive at T: x + 1 coins survived; dead by T: left at time 0 (x = 0) or after the x-th purchase
    hist = pp(0, x + 1) * lam(x, T) + pp(1, x) * lam(x, tx)
    joint = pp(0, x + 1 + n) * lam(x + n, T + t) * t ** n / mp.factorial(n)
    if n > 0:
        tail = lam(x, T) - sum(lam(x + j, T + t) * t ** j / mp.factorial(j) for j in range(n))
        joint += pp(1, x + n) * tail
    if n == 0:
        joint += pp(1, x) * lam(x, tx)
    return joint / hist


def pnbd_p_n_cond(r, al, s, be, x, tx, T, t, n):
    """Pareto/NBD: (1 - P(alive)) [n = 0] + P(alive) E[P(n | lambda, mu, t)],
    the expectation over the posterior given alive at T, lambda ~
    Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T), as a two-dimensional mpmath
    quadrature over (lambda, mu) of the fixed-rate probability
      P(n | lambda, mu, t) = e^(-mu t) Poisson(n; lambda t)
        + mu lambda^n / (lambda+mu)^(n+1) P(Gamma(n+1, lambda+mu) <= t)
    (alive through t, or dead at tau < t after n purchases; the integral over
    tau in closed form). P(alive) is lifetimes' (hyp2f1). offerq integrates
    over tau numerically after mixing lambda and mu in closed form."""
    pa = pnbd_p_alive(r, al, s, be, x, tx, T)
    r, al, s, be, x, tx, T, t = map(F, (r, al, s, be, x, tx, T, t))
    rr, aa, bb = r + x, al + T, be + T
    lg_l = rr * mp.log(aa) - mp.loggamma(rr)
    lg_m = s * mp.log(bb) - mp.loggamma(s)

    def fixed(lm, mu):
        c = lm + mu
        alive = mp.exp(-mu * t - lm * t + n * mp.log(lm * t) - mp.loggamma(n + 1)) if n > 0 else mp.exp(-mu * t - lm * t)
        dead = mu * lm ** n / c ** (n + 1) * mp.gammainc(n + 1, 0, c * t, regularized=True)
        return alive + dead

    def dens(lm, mu):
        return mp.exp(lg_l + (rr - 1) * mp.log(lm) - aa * lm + lg_m + (s - 1) * mp.log(mu) - bb * mu)

    ml, mm = rr / aa, s / bb
    e = mp.quad(lambda lm, mu: dens(lm, mu) * fixed(lm, mu), [0, ml, 10 * ml, mp.inf], [0, mm, 10 * mm, mp.inf])
    return (1 - pa if n == 0 else 0) + pa * e


# ---- Gamma-Gamma and CLV -------------------------------------------------------------------
def gg_ll(p, q, v, x, m):
    p, q, v, x, m = map(F, (p, q, v, x, m))
    return (mp.loggamma(p * x + q) - mp.loggamma(p * x) - mp.loggamma(q) + q * mp.log(v)
            + (p * x - 1) * mp.log(m) + (p * x) * mp.log(x) - (p * x + q) * mp.log(x * m + v))


def gg_profit(p, q, v, x, m):
    p, q, v, x, m = map(F, (p, q, v, x, m))
    w = p * x / (p * x + q - 1)
    return (1 - w) * (v * p / (q - 1)) + w * m


def clv(bg, gg, x, tx, T, m, months, d, factor):
    prof = gg_profit(*gg, x, m)
    out = F(0)
    for i in range(1, months + 1):
        e = bg_expected(*bg, x, tx, T, i * factor) - (bg_expected(*bg, x, tx, T, (i - 1) * factor) if i > 1 else 0)
        out += prof * e / (1 + F(d)) ** i
    return out


# ---- standard errors --------------------------------------------------------------------------
def se_from(total, est):
    mp.mp.dps = 40
    k = len(est)
    p = [F(v) for v in est]
    h = [F("1e-12") * v for v in p]

    def f(q):
        return total(q)

    H = mp.matrix(k, k)
    f0 = f(p)
    for i in range(k):
        q = list(p)
        q[i] = p[i] + h[i]
        fp = f(q)
        q[i] = p[i] - h[i]
        fm = f(q)
        H[i, i] = (fp - 2 * f0 + fm) / h[i] ** 2
        for j in range(i):
            s = 0
            for sa in (-1, 1):
                for sb in (-1, 1):
                    q = list(p)
                    q[i] += sa * h[i]
                    q[j] += sb * h[j]
                    s += sa * sb * f(q)
            H[i, j] = H[j, i] = s / (4 * h[i] * h[j])
    cov = (-H) ** -1
    out = [mp.sqrt(cov[i, i]) for i in range(k)]
    mp.mp.dps = 50
    return out


def write_pn_models(out):
    """P(n in (T, T+t] | history) of MBG/NBD (model 1) and Pareto/NBD (model 2):
    btyd_pn_models.csv. The Pareto/NBD rows take 10-60 s of CPU each (2-D
    quadrature at 20 digits)."""
    # rows already computed (the file of an earlier run) are kept, not recomputed
    cache = {}
    path = os.path.join(out, "btyd_pn_models.csv")
    if os.path.exists(path):
        for line in open(path).read().splitlines()[1:]:
            key, _, v = line.rpartition(",")
            cache[key] = v
    with open(path + ".tmp", "w") as f:
        f.write("model,p1,p2,p3,p4,x,tx,T,t,n,p\n")
        for p in [(0.525, 6.183, 0.891, 1.614), (3.0, 50.0, 0.3, 8.0)]:
            for (x, tx, T) in [(0, 0, 38.86), (2, 30.43, 38.86), (1, 1.71, 38.86), (12, 38.0, 39.0)]:
                for t in (1.0, 39.0):
                    for n in (0, 1, 2, 5):
                        f.write("1,%r,%r,%r,%r,%r,%r,%r,%r,%d,%s\n" % (
                            *p, x, tx, T, t, n, mp.nstr(mbg_p_n_cond(*p, x, tx, T, t, n), 20)))
        mp.mp.dps = 20
        cases = [((0.553, 10.578, 0.606, 11.669), x, tx, T, t, n)
                 for (x, tx, T) in [(0, 0, 38.86), (2, 30.43, 38.86), (7, 10.0, 38.86)]
                 for t in (1.0, 39.0) for n in (0, 2)]
        cases += [((2.0, 5.0, 1.3, 40.0), 2, 30.43, 38.86, 39.0, n) for n in (0, 1)]
        for (p, x, tx, T, t, n) in cases:
            key = "2,%r,%r,%r,%r,%r,%r,%r,%r,%d" % (*p, x, tx, T, t, n)
            v = cache[key] if key in cache else mp.nstr(pnbd_p_n_cond(*p, x, tx, T, t, n), 17)
            f.write("%s,%s\n" % (key, v))
            f.flush()
    os.replace(path + ".tmp", path)
    mp.mp.dps = 50


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    data = args[0] if args else os.path.join(here, "..", "..", "shared", "data")
    out = os.path.join(here, "..", "tests", "golden", "bgnbd")
    os.makedirs(out, exist_ok=True)

    # Per-customer functions of MBG/NBD and Pareto/NBD.
    params = {
        "mbgnbd": [(0.525, 6.183, 0.891, 1.614), (0.6, 20.0, 1.7, 3.0), (3.0, 50.0, 0.3, 8.0)],
        "paretonbd": [(0.553, 10.578, 0.606, 11.669), (0.6, 20.0, 1.2, 5.0), (2.0, 5.0, 0.3, 40.0),
                      (0.8, 10.0, 1.3, 10.0 + 1e-3),
                      # alpha >> beta: z = (alpha-beta)/(alpha+t_x) within 1e-5 of 1, where
                      # offerq's series gives way to GSL's 2F1
                      (0.5, 1e5, 0.7, 1.0)],
    }
    customers = [(0, 0, 38.86, 39), (2, 30.43, 38.86, 39), (10, 35.0, 38.86, 39), (1, 0.5, 50.0, 0.001),
                 (5, 10.0, 12.0, 1000.0), (50, 100.0, 100.0, 52.0), (300, 1900.0, 2000.0, 365.0),
                 (7, 38.0, 38.86, 13.0)]
    with open(os.path.join(out, "btyd_predict.csv"), "w") as f:
        f.write("model,p1,p2,p3,p4,x,tx,T,t,ll,p_alive,expected\n")
        for code, (name, plist) in enumerate(params.items(), start=1):
            ll, pa, ex = (mbg_ll, mbg_p_alive, mbg_expected) if name == "mbgnbd" else (pnbd_ll, pnbd_p_alive, pnbd_expected)
            for p in plist:
                for (x, tx, T, t) in customers:
                    f.write("%d,%r,%r,%r,%r,%r,%r,%r,%r,%s,%s,%s\n" % (
                        code, *p, x, tx, T, t, mp.nstr(ll(*p, x, tx, T), 20),
                        mp.nstr(pa(*p, x, tx, T), 20), mp.nstr(ex(*p, x, tx, T, t), 20)))

    # BG/NBD conditional P(n).
    with open(os.path.join(out, "btyd_pn_cond.csv"), "w") as f:
        f.write("r,alpha,a,b,x,tx,T,t,n,p\n")
        for p in [(0.243, 4.414, 0.793, 2.426), (0.5, 10.0, 1.7, 3.0)]:
            for (x, tx, T) in [(0, 0, 38.86), (2, 30.43, 38.86), (1, 1.71, 38.86), (12, 38.0, 39.0)]:
                for t in (1.0, 39.0):
                    for n in (0, 1, 2, 5, 10):
                        f.write("%r,%r,%r,%r,%r,%r,%r,%r,%d,%s\n" % (
                            *p, x, tx, T, t, n, mp.nstr(bg_p_n_cond(*p, x, tx, T, t, n), 20)))

    write_pn_models(out)
    if "--only-pn" in sys.argv:
        return

    # Gamma-Gamma and CLV (BG/NBD in weeks: factor 4.345 as lifetimes' freq "W";
    # in days: 30).
    gg = (6.25, 3.74, 15.44)
    bg = (0.243, 4.414, 0.793, 2.426)
    with open(os.path.join(out, "btyd_clv.csv"), "w") as f:
        f.write("p,q,v,x,m,ll,profit,r,alpha,a,b,tx,T,months,discount,unit_days,clv\n")
        rows = [(1, 22.35, 30.43, 38.86, 12, 0.01, 7), (2, 11.77, 30.43, 38.86, 12, 0.01, 7),
                (10, 55.0, 38.0, 39.0, 24, 0.02, 7), (0, 0.0, 0.0, 38.86, 12, 0.01, 7),
                (3, 40.0, 200.0, 270.0, 6, 0.0, 1)]
        for (x, m, tx, T, months, d, unit) in rows:
            b = bg if unit == 7 else (0.243, 4.414 * 7, 0.793, 2.426)
            factor = F("4.345") if unit == 7 else F(30)
            llv = gg_ll(*gg, x, m) if x > 0 else F(0)
            f.write("%r,%r,%r,%r,%r,%s,%s,%r,%r,%r,%r,%r,%r,%d,%r,%r,%s\n" % (
                *gg, x, m, mp.nstr(llv, 20), mp.nstr(gg_profit(*gg, x, m), 20), *b, tx, T,
                months, d, unit, mp.nstr(clv(b, gg, x, tx, T, m, months, d, factor), 20)))

    # CDNOW monetary values (lifetimes' definition).
    days = collections.defaultdict(lambda: collections.defaultdict(F))
    with open(os.path.join(data, "cdnow_sample.txt")) as fin:
        for line in fin:
            fld = line.split()
            if fld[2] <= "19970930":
                days[int(fld[1])][fld[2]] += F(fld[4])
    money = {}
    for cid, dd in days.items():
        ks = sorted(dd)
        if len(ks) > 1:
            money[cid] = (len(ks) - 1, sum(dd[k] for k in ks[1:]) / (len(ks) - 1))
    with open(os.path.join(out, "btyd_cdnow_monetary.csv"), "w") as f:
        f.write("id,frequency,monetary_value\n")
        for cid in sorted(money):
            f.write("%d,%d,%s\n" % (cid, money[cid][0], mp.nstr(money[cid][1], 20)))

    # Standard errors on CDNOW at fixed points (near the estimates).
    groups = collections.Counter()
    with open(os.path.join(data, "cdnow_summary.csv")) as fin:
        next(fin)
        for line in fin:
            _, x, tx, T = line.strip().split(",")
            groups[(int(x), F(tx), F(T))] += 1

    def total(fn):
        return lambda q: sum(w * fn(*q, x, tx, T) for (x, tx, T), w in groups.items())

    gmoney = collections.Counter(money.values())
    points = [
        ("bgnbd", (0.242593, 4.413532, 0.792886, 2.425753), total(bg_ll)),
        ("mbgnbd", (0.524838, 6.182993, 0.891356, 1.613999), total(mbg_ll)),
        ("paretonbd", (0.553276, 10.577612, 0.606213, 11.667903), total(pnbd_ll)),
        ("gammagamma", (6.249572, 3.744225, 15.443522),
         lambda q: sum(w * gg_ll(*q, x, m) for (x, m), w in gmoney.items())),
    ]
    with open(os.path.join(out, "btyd_se.csv"), "w") as f:
        f.write("model,p1,p2,p3,p4,se1,se2,se3,se4\n")
        for code, (name, est, fn) in enumerate(points):
            se = se_from(fn, est)
            pad = list(est) + [0] * (4 - len(est))
            sep = [mp.nstr(v, 15) for v in se] + ["0"] * (4 - len(se))
            f.write("%d,%r,%r,%r,%r,%s\n" % (code, *pad, ",".join(sep)))
            print(name, [mp.nstr(v, 8) for v in se], flush=True)


if __name__ == "__main__":
    main()
