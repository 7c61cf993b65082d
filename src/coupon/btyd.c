/* btyd.c - standard errors, MBG/NBD, Pareto/NBD (with its analytic gradient),
 * Gamma-Gamma, CLV and the conditional P(n) of all three transaction models.
 * Formulas and references: include/offerq/coupon/btyd.h. */
#include "offerq/coupon/btyd.h"
#include "bgnbd_int.h"
#include "util/json.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_integration.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_hyperg.h>
#include <gsl/gsl_sf_psi.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ln Gamma without touching the global signgam (arguments here are > 0). */
static double lngamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* ln(e^u + e^v) without overflow; -inf terms allowed. */
static double logaddexp(double u, double v)
{
    if (u == -INFINITY) return v;
    if (v == -INFINITY) return u;
    return u > v ? u + log1p(exp(v - u)) : v + log1p(exp(u - v));
}

/* ---- standard errors ---------------------------------------------------------- */

/* The diagonal of A^-1 for a symmetric positive definite A (k x k, k <= 4)
 * by Cholesky, A = L L^T, A^-1 = L^-T L^-1, so (A^-1)_ii = sum_m (L^-1)_mi^2.
 * Written out rather than through GSL: gsl_linalg_cholesky_invert calls
 * BLAS, and OpenBLAS's first call allocates a 128 MB buffer and retries
 * forever when a memory limit refuses it (`ulimit -v`; cli_limits.sh), which
 * a 4 x 4 matrix does not need. 0, or -1 when A is not positive definite. */
static int spd_inverse_diag(int k, const double A[4][4], double *diag)
{
    double L[4][4] = {{0}}, Li[4][4] = {{0}};
    for (int j = 0; j < k; j++) {
        double d = A[j][j];
        for (int m = 0; m < j; m++)
            d -= L[j][m] * L[j][m];
        if (!(d > 0)) return -1;
        L[j][j] = sqrt(d);
        for (int i = j + 1; i < k; i++) {
            double v = A[i][j];
            for (int m = 0; m < j; m++)
                v -= L[i][m] * L[j][m];
            L[i][j] = v / L[j][j];
        }
    }
    for (int j = 0; j < k; j++) { /* L^-1, lower triangular, by columns */
        Li[j][j] = 1 / L[j][j];
        for (int i = j + 1; i < k; i++) {
            double v = 0;
            for (int m = j; m < i; m++)
                v -= L[i][m] * Li[m][j];
            Li[i][j] = v / L[i][i];
        }
    }
    for (int i = 0; i < k; i++) {
        diag[i] = 0;
        for (int m = i; m < k; m++)
            diag[i] += Li[m][i] * Li[m][i];
    }
    return 0;
}

int oq_btyd_stderr(int k, const double *est, const double *H, double *se, double *lo, double *hi)
{
    for (int i = 0; i < k; i++)
        se[i] = lo[i] = hi[i] = NAN;
    if (k < 1 || k > 4) return OQ_EINVAL;
    double A[4][4] = {{0}}, v[4];
    for (int i = 0; i < k; i++)
        for (int j = 0; j < k; j++) {
            A[i][j] = -0.5 * (H[k * i + j] + H[k * j + i]); /* symmetrise the rounding */
            if (!isfinite(A[i][j])) return OQ_ENUM;
        }
    if (spd_inverse_diag(k, A, v)) return OQ_ENUM; /* -H not positive definite: not a maximum */
    for (int i = 0; i < k; i++)
        if (!(v[i] > 0) || !(est[i] > 0)) return OQ_ENUM;
    for (int i = 0; i < k; i++) {
        se[i] = sqrt(v[i]);
        double f = exp(1.959963984540054 * se[i] / est[i]);
        lo[i] = est[i] / f;
        hi[i] = est[i] * f;
    }
    return 0;
}

int oq_btyd_json_add_se(json_t *root, int k, const char *const *names, const double *se,
                        const double *lo, const double *hi, int ok)
{
    static const char *keys[3] = {"standard_errors", "ci95_lower", "ci95_upper"};
    const double *v[3] = {se, lo, hi};
    for (int j = 0; j < 3; j++) {
        json_t *o = json_object();
        if (!o || json_object_set_new(root, keys[j], o)) return OQ_ENOMEM;
        for (int i = 0; i < k; i++) {
            json_t *x = ok && isfinite(v[j][i]) ? json_real(v[j][i]) : json_null();
            if (!x || json_object_set_new(o, names[i], x)) return OQ_ENOMEM;
        }
    }
    if (json_object_set_new(root, "ci95_scale", json_string("log"))) return OQ_ENOMEM;
    return 0;
}

void oq_btyd_fd_hessian(int k, const double *p, double (*f)(const double *p, void *ctx), void *ctx,
                        double *H)
{
    double q[4] = {0}, h[4] = {0};
    for (int i = 0; i < k; i++) {
        q[i] = p[i];
        h[i] = p[i] != 0 ? 5e-4 * fabs(p[i]) : 5e-4;
    }
    double f0 = f(q, ctx);
    for (int i = 0; i < k; i++) {
        q[i] = p[i] + h[i];
        double fp = f(q, ctx);
        q[i] = p[i] - h[i];
        double fm = f(q, ctx);
        q[i] = p[i];
        H[k * i + i] = (fp - 2 * f0 + fm) / (h[i] * h[i]);
        for (int j = 0; j < i; j++) {
            double s = 0;
            for (int a = -1; a <= 1; a += 2)
                for (int b = -1; b <= 1; b += 2) {
                    q[i] = p[i] + a * h[i];
                    q[j] = p[j] + b * h[j];
                    s += a * b * f(q, ctx);
                }
            q[i] = p[i];
            q[j] = p[j];
            H[k * i + j] = H[k * j + i] = s / (4 * h[i] * h[j]);
        }
    }
}

/* ---- names ------------------------------------------------------------------------ */

const char *oq_btyd_kind_name(oq_btyd_kind k)
{
    return k == OQ_BTYD_MBGNBD ? "mbgnbd" : k == OQ_BTYD_PARETONBD ? "paretonbd" : "bgnbd";
}

int oq_btyd_kind_parse(const char *name)
{
    if (!strcmp(name, "bgnbd")) return OQ_BTYD_BGNBD;
    if (!strcmp(name, "mbgnbd")) return OQ_BTYD_MBGNBD;
    if (!strcmp(name, "paretonbd")) return OQ_BTYD_PARETONBD;
    return -1;
}

const char *oq_btyd_param_name(oq_btyd_kind k, int i)
{
    static const char *bg[4] = {"r", "alpha", "a", "b"}, *pn[4] = {"r", "alpha", "s", "beta"};
    if (i < 0 || i > 3) return "";
    return k == OQ_BTYD_PARETONBD ? pn[i] : bg[i];
}

/* ---- Pareto/NBD ------------------------------------------------------------------ */

/* ln 2F1(A, t; A+1; z) for z in [0, 1), A = r+s+x, t = r+x or s+1 (< A+1).
 * Euler's transformation (A&S 15.3.3): 2F1(A, t; A+1; z) =
 * (1-z)^(1-t) 2F1(1, A+1-t; A+1; z), whose terms are positive with ratio
 * (A+1-t+k)/(A+1+k) z < z: summed until the geometric bound of the tail,
 * term z/(1-z), is below 1e-17 of the sum. Past SERIES_MAX terms (z within
 * ~4e-4 of 1) GSL's gsl_sf_hyperg_2F1 of the original function takes over,
 * its status checked. NaN if neither gives a finite positive value. */
#define PNBD_SERIES_MAX 100000
static double log_hyp_pnbd(double A, double t, double z)
{
    if (z <= 0) return 0;
    double bp = A + 1 - t, c = A + 1, term = 1, sum = 1;
    for (int k = 0; k < PNBD_SERIES_MAX; k++) {
        term *= (bp + k) / (c + k) * z;
        sum += term;
        if (term * z / (1 - z) <= 1e-17 * sum) return (1 - t) * log1p(-z) + log(sum);
    }
    gsl_sf_result res;
    if (gsl_sf_hyperg_2F1_e(A, t, c, z, &res) == GSL_SUCCESS && isfinite(res.val) && res.val > 0)
        return log(res.val);
    return NAN;
}

/* ln A_0 of note 009 eq. 19-20 (lifetimes' ParetoNBDFitter._log_A_0):
 * A_0 = F(z1) / (M+t_x)^A - F(z2) / (M+T)^A, M = max(alpha, beta),
 * z1 = |alpha-beta|/(M+t_x), z2 = |alpha-beta|/(M+T), A = r+s+x,
 * F = 2F1(A, t; A+1; .) with t = r+x when alpha < beta, else s+1.
 * -inf when t_x = T (A_0 = 0). */
static double log_a0(double r, double al, double s, double be, double x, double tx, double T)
{
    double M = al < be ? be : al, d = fabs(al - be), t = al < be ? r + x : s + 1, A = r + s + x;
    double u = log_hyp_pnbd(A, t, d / (M + tx)) - A * log(M + tx);
    double v = log_hyp_pnbd(A, t, d / (M + T)) - A * log(M + T);
    if (!(v < u)) return -INFINITY; /* t_x = T, or rounding there */
    return u + log1p(-exp(v - u));
}

/* Note 009 eq. 18: ln L = lnG(r+x) - lnG(r) + r ln alpha + s ln beta
 *   + ln[ (alpha+T)^-(r+x) (beta+T)^-s + s/(r+s+x) A_0 ]. */
static double pnbd_ll(const double *p, double x, double tx, double T)
{
    double r = p[0], al = p[1], s = p[2], be = p[3];
    double a1 = lngamma(r + x) - lngamma(r) + r * log(al) + s * log(be);
    double u = -(r + x) * log(al + T) - s * log(be + T);
    double v = log(s) - log(r + s + x) + log_a0(r, al, s, be, x, tx, T);
    return a1 + logaddexp(u, v);
}

/* Note 009 eq. 36-37: 1 / (1 + s/(r+s+x) (alpha+T)^(r+x) (beta+T)^s A_0). */
static double pnbd_p_alive(const double *p, double x, double tx, double T)
{
    double r = p[0], al = p[1], s = p[2], be = p[3];
    double z = log(s) - log(r + s + x) + (r + x) * log(al + T) + s * log(be + T) +
               log_a0(r, al, s, be, x, tx, T);
    return z > 0 ? exp(-z) / (1 + exp(-z)) : 1 / (1 + exp(z));
}

/* Note 009 eq. 41 (lifetimes' conditional_expected_number_of_purchases_up_to_time):
 * E = P(alive) (r+x)(beta+T) / ((alpha+T)(s-1)) [1 - ((beta+T)/(beta+T+t))^(s-1)];
 * s = 1: the bracket / (s-1) is ln((beta+T+t)/(beta+T)). */
static double pnbd_expected(const double *p, double t, double x, double tx, double T)
{
    double r = p[0], al = p[1], s = p[2], be = p[3];
    double lq = log1p(t / (be + T)); /* ln((beta+T+t)/(beta+T)) */
    double br = s != 1 ? -expm1(-(s - 1) * lq) / (s - 1) : lq;
    return pnbd_p_alive(p, x, tx, T) * (r + x) * (be + T) / (al + T) * br;
}

/* ---- Pareto/NBD: the analytic gradient of ln L ------------------------------------- */

/* d ln 2F1(A, t; A+1; z) / dA, dt, dz into d (3), from log_hyp_pnbd's series
 * differentiated term by term: with c_k = prod_{j<k} (A+1-t+j)/(A+1+j) z^k,
 * d ln c_k/dA = sum_{j<k} 1/(A+1-t+j) - 1/(A+1+j), d ln c_k/dt =
 * -sum_{j<k} 1/(A+1-t+j), d ln c_k/dz = k/z, and ln F = (1-t) ln(1-z) + ln sum c_k.
 * Summed until term (k+2)/(1-z)^2 < 1e-17 of the sum (the tail of the
 * k-weighted sums). Returns 0, or -1 past PNBD_SERIES_MAX terms (the caller
 * then differentiates numerically). At z = 0: d/dz = A t/(A+1). */
static int dlog_hyp_pnbd(double A, double t, double z, double *d)
{
    if (z <= 0) {
        d[0] = d[1] = 0;
        d[2] = A * t / (A + 1);
        return 0;
    }
    double bp = A + 1 - t, c = A + 1, term = 1, sum = 1, sA = 0, st = 0, sz = 0, lA = 0, lt = 0;
    for (int k = 0; k < PNBD_SERIES_MAX; k++) {
        lA += 1 / (bp + k) - 1 / (c + k);
        lt -= 1 / (bp + k);
        term *= (bp + k) / (c + k) * z;
        sum += term;
        sA += term * lA;
        st += term * lt;
        sz += term * (k + 1);
        if (term * (k + 2) / ((1 - z) * (1 - z)) <= 1e-17 * sum) {
            d[0] = sA / sum;
            d[1] = -log1p(-z) + st / sum;
            d[2] = (t - 1) / (1 - z) + sz / (z * sum);
            return 0;
        }
    }
    return -1;
}

/* d ln A_0 / d(r, alpha, s, beta) (log_a0) into g (4). With P = ln F(z1) -
 * A ln(M+t_x), Q = ln F(z2) - A ln(M+T): ln A_0 = P + ln(1 - e^(Q-P)), so
 * d ln A_0 = (dP - e^(Q-P) dQ) / (1 - e^(Q-P)). -1 if a series is too long. */
static int dlog_a0(double r, double al, double s, double be, double x, double tx, double T,
                   double *g)
{
    int ab = al < be; /* M = beta, t = r + x; else M = alpha, t = s + 1 */
    double M = ab ? be : al, dd = fabs(al - be), t = ab ? r + x : s + 1, A = r + s + x;
    double ends[2] = {tx, T}, dv[2][4], val[2];
    for (int e = 0; e < 2; e++) {
        double q = M + ends[e], z = dd / q, F[3];
        if (dlog_hyp_pnbd(A, t, z, F)) return -1;
        val[e] = log_hyp_pnbd(A, t, z) - A * log(q);
        /* dz/dalpha, dz/dbeta */
        double za = ab ? -1 / q : (be + ends[e]) / (q * q);
        double zb = ab ? (al + ends[e]) / (q * q) : -1 / q;
        dv[e][0] = F[0] + (ab ? F[1] : 0) - log(q);
        dv[e][2] = F[0] + (ab ? 0 : F[1]) - log(q);
        dv[e][1] = F[2] * za - (ab ? 0 : A / q);
        dv[e][3] = F[2] * zb - (ab ? A / q : 0);
    }
    double w = exp(val[1] - val[0]);
    if (!(w < 1)) return -1;
    for (int i = 0; i < 4; i++)
        g[i] = (dv[0][i] - w * dv[1][i]) / (1 - w);
    return 0;
}

/* d ln L / d(r, alpha, s, beta) of one customer (note 009 eq. 18, as
 * pnbd_ll) into g (4): ln L = a1 + logaddexp(u, v) with
 *   a1 = lnG(r+x) - lnG(r) + r ln alpha + s ln beta,
 *   u = -(r+x) ln(alpha+T) - s ln(beta+T), v = ln s - ln(r+s+x) + ln A_0.
 * Falls back to central differences of pnbd_ll when a series is too long. */
static void pnbd_ll_grad(const double *p, double x, double tx, double T, double *g)
{
    double r = p[0], al = p[1], s = p[2], be = p[3], A = r + s + x;
    double la0 = log_a0(r, al, s, be, x, tx, T);
    double u = -(r + x) * log(al + T) - s * log(be + T);
    double v = log(s) - log(A) + la0;
    double L = logaddexp(u, v), wu = exp(u - L), wv = exp(v - L);
    double da0[4] = {0};
    if (wv > 0 && dlog_a0(r, al, s, be, x, tx, T, da0)) {
        double q[4];
        memcpy(q, p, sizeof q);
        for (int i = 0; i < 4; i++) {
            double h = 1e-6 * p[i];
            q[i] = p[i] + h;
            double fp = pnbd_ll(q, x, tx, T);
            q[i] = p[i] - h;
            double fm = pnbd_ll(q, x, tx, T);
            q[i] = p[i];
            g[i] = (fp - fm) / (2 * h);
        }
        return;
    }
    g[0] = gsl_sf_psi(r + x) - gsl_sf_psi(r) + log(al) + wu * -log(al + T) + wv * (-1 / A + da0[0]);
    g[1] = r / al + wu * -(r + x) / (al + T) + wv * da0[1];
    g[2] = log(be) + wu * -log(be + T) + wv * (1 / s - 1 / A + da0[2]);
    g[3] = s / be + wu * -s / (be + T) + wv * da0[3];
}

void oq_btyd_pnbd_grad(const double *p, double x, double tx, double T, double *g)
{
    pnbd_ll_grad(p, x, tx, T, g);
}

/* ---- MBG/NBD --------------------------------------------------------------------- */

/* lifetimes' ModifiedBetaGeoFitter._negative_log_likelihood, per customer:
 *   lnG(r+x) - lnG(r) + r ln alpha + lnG(a+b) + lnG(b+x+1) - lnG(b) - lnG(a+b+x+1)
 *   - (r+x) ln(alpha+T) + ln(1 + a/(b+x) ((alpha+T)/(alpha+t_x))^(r+x)). */
static double mbg_log_odds(const double *p, double x, double tx, double T)
{
    return log(p[2] / (p[3] + x)) + (p[0] + x) * log((p[1] + T) / (p[1] + tx));
}

static double mbg_ll(const double *p, double x, double tx, double T)
{
    double r = p[0], al = p[1], a = p[2], b = p[3];
    double c = lngamma(r + x) - lngamma(r) + r * log(al) + lngamma(a + b) + lngamma(b + x + 1) -
               lngamma(b) - lngamma(a + b + x + 1) - (r + x) * log(al + T);
    return c + logaddexp(0, mbg_log_odds(p, x, tx, T));
}

static double mbg_p_alive(const double *p, double x, double tx, double T)
{
    double z = mbg_log_odds(p, x, tx, T);
    return z > 0 ? exp(-z) / (1 + exp(-z)) : 1 / (1 + exp(z));
}

/* ---- the three models --------------------------------------------------------------- */

double oq_btyd_loglik_one(const oq_btyd_model *m, double x, double tx, double T)
{
    switch (m->kind) {
    case OQ_BTYD_MBGNBD:
        return mbg_ll(m->par, x, tx, T);
    case OQ_BTYD_PARETONBD:
        return pnbd_ll(m->par, x, tx, T);
    default: {
        oq_bgnbd_params p = {m->par[0], m->par[1], m->par[2], m->par[3]};
        return oq_bgnbd_loglik_one(&p, x, tx, T);
    }
    }
}

double oq_btyd_p_alive(const oq_btyd_model *m, double x, double tx, double T)
{
    switch (m->kind) {
    case OQ_BTYD_MBGNBD:
        return mbg_p_alive(m->par, x, tx, T);
    case OQ_BTYD_PARETONBD:
        return pnbd_p_alive(m->par, x, tx, T);
    default: {
        oq_bgnbd_params p = {m->par[0], m->par[1], m->par[2], m->par[3]};
        return oq_bgnbd_p_alive(&p, x, tx, T);
    }
    }
}

int oq_btyd_expected(const oq_btyd_model *m, double t, double x, double tx, double T, double *out)
{
    *out = NAN;
    if (!(t >= 0) || !isfinite(t)) return OQ_EINVAL;
    const double *p = m->par;
    double e;
    switch (m->kind) {
    case OQ_BTYD_MBGNBD: {
        /* lifetimes: (a+b+x)/(a-1) [1 - 2F1(r+x, b+x+1; a+b+x; z) ((alpha+T)/(alpha+T+t))^(r+x)]
         * * P(alive), z = t/(alpha+T+t): FHL eq. 10's bracket with b + 1 for b. */
        double omg;
        int rc = oq_bgnbd_one_minus_g(p[0], p[2], p[3] + 1, x, t / (p[1] + T + t), &omg);
        if (rc) return rc;
        e = (p[2] + p[3] + x) / (p[2] - 1) * omg * mbg_p_alive(p, x, tx, T);
        break;
    }
    case OQ_BTYD_PARETONBD:
        e = pnbd_expected(p, t, x, tx, T);
        break;
    default: {
        oq_bgnbd_params bp = {p[0], p[1], p[2], p[3]};
        return oq_bgnbd_expected(&bp, t, x, tx, T, out);
    }
    }
    if (!isfinite(e) || e < 0) return OQ_ENUM;
    *out = e;
    return 0;
}

/* ---- fitting ------------------------------------------------------------------------- */

typedef struct grp {
    double x, tx, T, w;
} grp;

static int cmp_grp(const void *a, const void *b)
{
    const grp *u = a, *v = b;
    if (u->x != v->x) return u->x < v->x ? -1 : 1;
    if (u->tx != v->tx) return u->tx < v->tx ? -1 : 1;
    return (u->T > v->T) - (u->T < v->T);
}

typedef struct fit_ctx {
    oq_btyd_kind kind;
    int k;        /* parameters: 4, or 3 for Gamma-Gamma */
    const grp *g; /* (ng) groups; Gamma-Gamma: x, m in x, tx */
    size_t ng;
    double W;     /* sum of weights */
    double scale; /* time scale of the objective (1/max T; 1 for Gamma-Gamma) */
    double pen;
    int per_mean; /* objective is the mean (1) or the sum (0) of -ll */
    int evals;
} fit_ctx;

/* Total ll of the groups at natural parameters p, time multiplied by sc. */
static double total_ll(const fit_ctx *c, const double *p, double sc)
{
    double ll = 0;
    if (c->k == 3) {
        oq_ggamma_params gg = {p[0], p[1], p[2]};
        for (size_t i = 0; i < c->ng; i++)
            ll += c->g[i].w * oq_ggamma_loglik_one(&gg, c->g[i].x, c->g[i].tx);
        return ll;
    }
    oq_btyd_model m = {c->kind, {p[0], p[1], p[2], p[3]}};
    for (size_t i = 0; i < c->ng; i++)
        ll += c->g[i].w * oq_btyd_loglik_one(&m, c->g[i].x, c->g[i].tx * sc, c->g[i].T * sc);
    return ll;
}

/* lifetimes' objective at log-parameters th (scaled time). */
static double objective(const gsl_vector *v, void *vc)
{
    fit_ctx *c = vc;
    double p[4] = {0}, pen = 0;
    for (int i = 0; i < c->k; i++) {
        double th = gsl_vector_get(v, (size_t)i);
        if (!(fabs(th) < 30)) return OQ_NM_WALL;
        p[i] = exp(th);
        pen += p[i] * p[i];
    }
    c->evals++;
    double ll = total_ll(c, p, c->scale);
    double f = -(c->per_mean ? ll / c->W : ll) + c->pen * pen;
    return isfinite(f) && f < OQ_NM_WALL ? f : OQ_NM_WALL;
}

/* Natural (unscaled) parameters from log-parameters in scaled time: alpha
 * and beta (index 1, and 3 for Pareto/NBD) are rates per scaled time. */
static void unscale(const fit_ctx *c, const double *th, double *p)
{
    for (int i = 0; i < c->k; i++)
        p[i] = exp(th[i]);
    if (c->k == 4) {
        p[1] /= c->scale;
        if (c->kind == OQ_BTYD_PARETONBD) p[3] /= c->scale;
    }
}

static double ll_natural(const double *p, void *vc)
{
    return total_ll(vc, p, 1);
}

/* Nelder-Mead (nmsimplex2) from th, restarted at its end point until a
 * round improves the objective by less than 1e-12 relative (a simplex can
 * collapse early on the narrow r-alpha ridge). th: start in, end out. */
static int simplex(fit_ctx *c, double *th, int max_iter, double *fbest, int *iters, int *conv)
{
    int rc = 0;
    size_t k = (size_t)c->k;
    gsl_multimin_fminimizer *nm =
        gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, k);
    gsl_vector *v = gsl_vector_alloc(k), *step = gsl_vector_alloc(k);
    if (!nm || !v || !step) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    gsl_multimin_function fn = {objective, k, c};
    double f_prev = GSL_POSINF;
    *conv = 0;
    for (int round = 0; round < 20; round++) {
        for (size_t i = 0; i < k; i++)
            gsl_vector_set(v, i, th[i]);
        gsl_vector_set_all(step, round ? 0.05 : 0.5);
        if (gsl_multimin_fminimizer_set(nm, &fn, v, step) || !(nm->fval < OQ_NM_WALL)) break;
        int small = 0;
        for (int it = 0; it < max_iter; it++) {
            (*iters)++;
            if (gsl_multimin_fminimizer_iterate(nm)) break;
            if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(nm), 1e-10) == GSL_SUCCESS) {
                small = 1;
                break;
            }
        }
        for (size_t i = 0; i < k; i++)
            th[i] = gsl_vector_get(nm->x, i);
        double f = nm->fval;
        int done = isfinite(f_prev) && f_prev - f <= 1e-12 * fabs(f);
        f_prev = fmin(f, f_prev);
        if (done) {
            *conv = small;
            break;
        }
    }
    *fbest = f_prev;
cleanup:
    gsl_multimin_fminimizer_free(nm);
    gsl_vector_free(v);
    gsl_vector_free(step);
    return rc;
}

/* Pareto/NBD objective and its gradient at log-parameters v (scaled time):
 * f = -sum w ll + pen sum p^2, df/dth_i = -p_i sum w dll/dp_i + 2 pen p_i^2. */
static void pnbd_fdf(const gsl_vector *v, void *vc, double *f, gsl_vector *df)
{
    fit_ctx *c = vc;
    double p[4], ll = 0, g[4] = {0}, pen = 0;
    for (int i = 0; i < 4; i++) {
        double th = gsl_vector_get(v, (size_t)i);
        if (!(fabs(th) < 30)) {
            if (f) *f = GSL_POSINF;
            if (df) gsl_vector_set_all(df, 0);
            return;
        }
        p[i] = exp(th);
        pen += p[i] * p[i];
    }
    c->evals++;
    for (size_t j = 0; j < c->ng; j++) {
        const grp *q = &c->g[j];
        double tx = q->tx * c->scale, T = q->T * c->scale;
        if (f) ll += q->w * pnbd_ll(p, q->x, tx, T);
        if (df) {
            double gj[4];
            pnbd_ll_grad(p, q->x, tx, T, gj);
            for (int i = 0; i < 4; i++)
                g[i] += q->w * gj[i];
        }
    }
    if (f) {
        double fv = -ll + c->pen * pen;
        *f = isfinite(fv) ? fv : GSL_POSINF;
    }
    if (df)
        for (int i = 0; i < 4; i++)
            gsl_vector_set(df, (size_t)i, -p[i] * g[i] + 2 * c->pen * p[i] * p[i]);
}

static double pnbd_f(const gsl_vector *v, void *vc)
{
    double f;
    pnbd_fdf(v, vc, &f, NULL);
    return f;
}

static void pnbd_df(const gsl_vector *v, void *vc, gsl_vector *df)
{
    pnbd_fdf(v, vc, NULL, df);
}

/* BFGS (GSL's vector_bfgs2) with the analytic gradient from th until
 * |grad|_inf < 1e-7, or until the line search makes no progress with
 * |grad|_inf < 1e-4 (on CDNOW: |d ll / d ln p| / n < 5e-8). th: start in,
 * end out. *conv = 1 when one of the two held. */
static int pnbd_bfgs(fit_ctx *c, double *th, double *fbest, int *iters, int *conv)
{
    int rc = 0;
    gsl_multimin_fdfminimizer *m =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, 4);
    gsl_vector *v = gsl_vector_alloc(4);
    *conv = 0;
    *fbest = GSL_POSINF;
    if (!m || !v) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    gsl_multimin_function_fdf fn = {pnbd_f, pnbd_df, pnbd_fdf, 4, c};
    for (size_t i = 0; i < 4; i++)
        gsl_vector_set(v, i, th[i]);
    if (gsl_multimin_fdfminimizer_set(m, &fn, v, 0.1, 0.1) || !isfinite(m->f)) goto cleanup;
    for (int it = 0; it < 500; it++) {
        (*iters)++;
        int st = gsl_multimin_fdfminimizer_iterate(m);
        double gmax = 0;
        for (size_t i = 0; i < 4; i++)
            gmax = fmax(gmax, fabs(gsl_vector_get(m->gradient, i)));
        if (gmax < 1e-7) {
            *conv = 1;
            break;
        }
        if (st) {
            /* no progress: the line search has met the rounding of f (~1e-13
             * relative), where |grad| is ~1e-5 on CDNOW; accept below 1e-4,
             * else the caller goes on with the simplex */
            *conv = gmax < 1e-4;
            break;
        }
    }
    for (size_t i = 0; i < 4; i++)
        th[i] = gsl_vector_get(m->x, i);
    *fbest = m->f;
cleanup:
    gsl_multimin_fdfminimizer_free(m);
    gsl_vector_free(v);
    return rc;
}

/* Fit c from starts (k each, natural scaled parameters): best objective
 * into th_best; *bfgs = 1 if it is BFGS's (use_grad: Pareto/NBD). */
static int run_fit(fit_ctx *c, const double (*starts)[4], int n_starts, int max_iter, int use_grad,
                   double *th_best, double *f_best, int *iters, int *conv, int *bfgs, oq_error *err)
{
    *bfgs = 0;
    *f_best = GSL_POSINF;
    *iters = 0;
    *conv = 0;
    for (int s = 0; s < n_starts; s++) {
        double th[4], f;
        int cv = 0;
        for (int i = 0; i < c->k; i++)
            th[i] = log(starts[s][i]);
        /* Pareto/NBD: BFGS with the analytic gradient; where it stops
         * without meeting the gradient test, the simplex goes on from there */
        if (use_grad && pnbd_bfgs(c, th, &f, iters, &cv)) return oq_error_oom(err, NULL, NULL);
        int polished = !cv;
        if (!cv && simplex(c, th, max_iter, &f, iters, &cv)) return oq_error_oom(err, NULL, NULL);
        /* with the gradient: stop when two converged starts agree (as
         * oq_bgnbd_fit); the simplex runs all starts */
        int agree = use_grad && cv && *conv && fabs(f - *f_best) <= 1e-10 * fabs(f);
        if (isfinite(f) && f < *f_best) {
            *f_best = f;
            memcpy(th_best, th, sizeof th);
            *conv = cv;
            *bfgs = use_grad && !polished;
        }
        if (agree) break;
    }
    if (!isfinite(*f_best))
        return oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                            "no starting point gave a finite likelihood; try a penalizer > 0");
    return 0;
}

/* |d ll / d log p|_inf / W by central differences (a convergence check). */
static double grad_norm(fit_ctx *c, const double *p)
{
    double q[4], g = 0;
    memcpy(q, p, sizeof q);
    for (int i = 0; i < c->k; i++) {
        double h = 1e-6 * p[i];
        q[i] = p[i] + h;
        double fp = total_ll(c, q, 1);
        q[i] = p[i] - h;
        double fm = total_ll(c, q, 1);
        q[i] = p[i];
        g = fmax(g, fabs((fp - fm) / (2 * h) * p[i]) / c->W);
    }
    return g;
}

int oq_btyd_fit(oq_btyd_kind kind, const double *x, const double *tx, const double *T, size_t n,
                const oq_btyd_fit_opts *opts, oq_btyd_fit_report *rep, oq_error *err)
{
    memset(rep, 0, sizeof *rep);
    oq_btyd_fit_opts o = {0};
    if (opts) o = *opts;
    if (kind != OQ_BTYD_MBGNBD && kind != OQ_BTYD_PARETONBD)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "oq_btyd_fit fits mbgnbd and paretonbd; BG/NBD is oq_bgnbd_fit");
    if (!(o.penalizer >= 0 && isfinite(o.penalizer)))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "penalizer must be >= 0");
    if (n == 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no customers to fit");
    double maxT = 0, sx = 0, sT = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0 && x[i] == floor(x[i]) && x[i] < 1e9 && tx[i] >= 0 && tx[i] <= T[i] &&
              isfinite(T[i]) && (x[i] > 0 || tx[i] == 0)))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "customer %zu: x=%g t_x=%g T=%g is not a valid summary "
                                "(x whole >= 0, 0 <= t_x <= T, t_x = 0 when x = 0)",
                                i, x[i], tx[i], T[i]);
        maxT = fmax(maxT, T[i]);
        sx += x[i];
        sT += T[i];
    }
    if (!(maxT > 0)) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "every customer has T = 0");
    grp *g = malloc(n * sizeof *g);
    if (!g) return oq_error_oom(err, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        g[i] = (grp){x[i], tx[i], T[i], 1};
    qsort(g, n, sizeof *g, cmp_grp);
    size_t ng = 0;
    for (size_t i = 0; i < n; i++) {
        if (ng && !cmp_grp(&g[ng - 1], &g[i]))
            g[ng - 1].w++;
        else
            g[ng++] = g[i];
    }
    fit_ctx c = {kind, 4, g, ng, (double)n, 1 / maxT, o.penalizer, kind == OQ_BTYD_MBGNBD, 0};
    /* Starts in scaled time: lifetimes' (1, 1, 1, 1) and rate-matched ones
     * (alpha / r = mean T / mean x). */
    double ir = sx > 0 ? sT / sx / maxT : 1;
    if (!(ir > 1e-6 && ir < 1e6)) ir = 1;
    const double starts[4][4] = {
        {1, 1, 1, 1}, {1, ir, 1, 3}, {0.3, 0.3 * ir, 0.7, 2}, {0.5, 0.5 * ir, 0.5, 0.5}};
    double th[4] = {0}, f;
    int rc = run_fit(&c, starts, 4, o.max_iter > 0 ? o.max_iter : 4000,
                     kind == OQ_BTYD_PARETONBD && !o.simplex_only, th, &f, &rep->iterations,
                     &rep->converged, &rep->bfgs, err);
    if (rc) goto cleanup;
    rep->m.kind = kind;
    unscale(&c, th, rep->m.par);
    rep->ll = total_ll(&c, rep->m.par, 1);
    rep->grad_norm = grad_norm(&c, rep->m.par);
    double H[16];
    oq_btyd_fd_hessian(4, rep->m.par, ll_natural, &c, H);
    rep->se_ok = oq_btyd_stderr(4, rep->m.par, H, rep->se, rep->ci_lo, rep->ci_hi) == 0;
    rep->n_customers = n;
    rep->n_groups = ng;
cleanup:
    free(g);
    return rc;
}

/* ---- BG/NBD conditional P(n) --------------------------------------------------------- */

double oq_bgnbd_p_n_cond(const oq_bgnbd_params *p, double t, int n, double x, double tx, double T)
{
    if (n < 0) return 0;
    double pa = oq_bgnbd_p_alive(p, x, tx, T);
    oq_bgnbd_params post = {p->r + x, p->alpha + T, p->a, p->b + x};
    return (n == 0 ? 1 - pa : 0) + pa * oq_bgnbd_p_n(&post, t, n);
}

/* ---- P(n purchases in (T, T+t] | history): MBG/NBD and Pareto/NBD ------------ */

/* ln NBD(n; r, alpha, tau) = ln P(n Poisson purchases in tau), lambda ~
 * Gamma(r, alpha): lnG(r+n) - lnG(r) - ln n! - r ln(1 + tau/alpha)
 * + n ln(tau/(alpha+tau)). */
static double log_nbd(double r, double al, double tau, int n)
{
    double v = -r * log1p(tau / al);
    if (n > 0) v += lngamma(r + n) - lngamma(r) - lngamma(n + 1.0) + n * log(tau / (al + tau));
    return v;
}

typedef struct pnbd_pn_ctx {
    double r, al, s, be;
    int n;
} pnbd_pn_ctx;

/* Death at tau (density s/beta (1 + tau/beta)^-(s+1), the Pareto of
 * mu ~ Gamma(s, beta)) after n purchases in (0, tau]. */
static double pnbd_pn_integrand(double tau, void *vc)
{
    const pnbd_pn_ctx *c = vc;
    if (c->n > 0 && tau <= 0) return 0;
    return exp(log(c->s / c->be) - (c->s + 1) * log1p(tau / c->be) +
               log_nbd(c->r, c->al, tau, c->n));
}

/* P(X(t) = n) of a new Pareto/NBD customer (SMC 1987; Fader & Hardie's
 * note 012 writes it with 2F1s). Given lambda and mu the customer is alive
 * through t with probability e^(-mu t), else dies at tau in (0, t); mixing
 * lambda ~ Gamma(r, alpha) and mu ~ Gamma(s, beta) independently,
 *   P = NBD(n; r, alpha, t) (beta/(beta+t))^s
 *       + int_0^t s beta^s / (beta+tau)^(s+1) NBD(n; r, alpha, tau) dtau,
 * the integral by GSL's adaptive Gauss-Kronrod (QAG, 31 points) to 1e-12
 * relative. NaN if the quadrature fails. */
static double pnbd_p_n(const double *p, double t, int n)
{
    if (n < 0) return 0;
    if (t <= 0) return n == 0 ? 1 : 0;
    pnbd_pn_ctx c = {p[0], p[1], p[2], p[3], n};
    double alive = exp(log_nbd(c.r, c.al, t, n) - c.s * log1p(t / c.be));
    gsl_integration_workspace *ws = gsl_integration_workspace_alloc(256);
    if (!ws) return NAN;
    gsl_function fn = {pnbd_pn_integrand, &c};
    double dead = NAN, abserr;
    int st =
        gsl_integration_qag(&fn, 0, t, 1e-300, 1e-12, 256, GSL_INTEG_GAUSS31, ws, &dead, &abserr);
    gsl_integration_workspace_free(ws);
    /* GSL_EROUND: the requested 1e-12 met rounding; the estimate is still good */
    if ((st && st != GSL_EROUND) || !isfinite(dead)) return NAN;
    return alive + dead;
}

double oq_btyd_p_n_cond(const oq_btyd_model *m, double t, int n, double x, double tx, double T)
{
    if (n < 0) return 0;
    const double *p = m->par;
    switch (m->kind) {
    case OQ_BTYD_MBGNBD: {
        /* Alive at T, the customer has survived x + 1 coins (at time 0 and
         * after each purchase): p ~ Beta(a, b+x+1), lambda ~ Gamma(r+x,
         * alpha+T), and from T on the MBG/NBD story is BG/NBD's (a coin
         * after each purchase): FHL eq. 8 with those parameters. */
        double pa = mbg_p_alive(p, x, tx, T);
        oq_bgnbd_params post = {p[0] + x, p[1] + T, p[2], p[3] + x + 1};
        return (n == 0 ? 1 - pa : 0) + pa * oq_bgnbd_p_n(&post, t, n);
    }
    case OQ_BTYD_PARETONBD: {
        /* Alive at T: lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T),
         * independent (the likelihood of being alive factorises), and the
         * Pareto/NBD story again (Hardie's note 028 / lifetimes'
         * ParetoNBDFitter.conditional_probability_of_n_purchases_up_to_time
         * make the same step). */
        double pa = pnbd_p_alive(p, x, tx, T);
        const double post[4] = {p[0] + x, p[1] + T, p[2], p[3] + T};
        return (n == 0 ? 1 - pa : 0) + pa * pnbd_p_n(post, t, n);
    }
    default: {
        oq_bgnbd_params bp = {p[0], p[1], p[2], p[3]};
        return oq_bgnbd_p_n_cond(&bp, t, n, x, tx, T);
    }
    }
}

double oq_btyd_p_n(const oq_btyd_model *m, double t, int n)
{
    if (m->kind == OQ_BTYD_BGNBD) {
        oq_bgnbd_params bp = {m->par[0], m->par[1], m->par[2], m->par[3]};
        return n < 0 ? 0 : oq_bgnbd_p_n(&bp, t, n);
    }
    /* a new customer: no purchases over an age of 0 (P(alive) = b/(a+b) for
     * MBG/NBD, the coin at time 0; 1 for Pareto/NBD) */
    return oq_btyd_p_n_cond(m, t, n, 0, 0, 0);
}

int oq_btyd_check(const oq_btyd_model *m, oq_error *err)
{
    if (m->kind != OQ_BTYD_BGNBD && m->kind != OQ_BTYD_MBGNBD && m->kind != OQ_BTYD_PARETONBD)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "unknown transaction model %d",
                            (int)m->kind);
    for (int i = 0; i < 4; i++)
        if (!(m->par[i] > 0 && isfinite(m->par[i])))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "%s: %s = %g must be finite and > 0",
                                oq_btyd_kind_name(m->kind), oq_btyd_param_name(m->kind, i),
                                m->par[i]);
    return 0;
}

/* ---- Gamma-Gamma ---------------------------------------------------------------------- */

double oq_ggamma_loglik_one(const oq_ggamma_params *g, double x, double m)
{
    double px = g->p * x;
    return lngamma(px + g->q) - lngamma(px) - lngamma(g->q) + g->q * log(g->v) + (px - 1) * log(m) +
           px * log(x) - (px + g->q) * log(x * m + g->v);
}

double oq_ggamma_expected_profit(const oq_ggamma_params *g, double x, double m)
{
    if (x <= 0) return g->q > 1 ? g->p * g->v / (g->q - 1) : NAN;
    return g->p * (g->v + x * m) / (g->p * x + g->q - 1);
}

int oq_ggamma_fit(const double *x, const double *m, size_t n, const oq_btyd_fit_opts *opts,
                  oq_ggamma_fit_report *rep, oq_error *err)
{
    memset(rep, 0, sizeof *rep);
    oq_btyd_fit_opts o = {0};
    if (opts) o = *opts;
    if (!(o.penalizer >= 0 && isfinite(o.penalizer)))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "penalizer must be >= 0");
    size_t k = 0;
    double sm = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(x[i] >= 0 && x[i] == floor(x[i]) && isfinite(x[i])))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "customer %zu: frequency %g is not a whole number >= 0", i, x[i]);
        if (x[i] < 1) continue;
        if (!(m[i] > 0 && isfinite(m[i])))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "customer %zu: monetary value %g with frequency %g; the "
                                "Gamma-Gamma model needs a mean spend > 0",
                                i, m[i], x[i]);
        k++;
        sm += m[i];
    }
    if (k < 2)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "%zu customers with repeat purchases: too few to fit spend", k);
    grp *g = calloc(k, sizeof *g);
    if (!g) return oq_error_oom(err, NULL, NULL);
    size_t j = 0;
    for (size_t i = 0; i < n && j < k; i++)
        if (x[i] >= 1) g[j++] = (grp){x[i], m[i], 0, 1};
    fit_ctx c = {OQ_BTYD_BGNBD, 3, g, k, (double)k, 1, o.penalizer, 1, 0};
    double mm = sm / (double)k;
    /* lifetimes starts near (1, 1, 1); the others put the mean spend p v / (q-1) at the data's. */
    const double starts[4][4] = {
        {1, 1, 1, 0}, {1, 2, mm, 0}, {5, 3, 0.4 * mm, 0}, {2, 5, 2 * mm, 0}};
    double th[4] = {0}, f;
    int bfgs;
    int rc = run_fit(&c, starts, 4, o.max_iter > 0 ? o.max_iter : 4000, 0, th, &f, &rep->iterations,
                     &rep->converged, &bfgs, err);
    if (rc) goto cleanup;
    double p[4] = {0};
    unscale(&c, th, p);
    rep->g = (oq_ggamma_params){p[0], p[1], p[2]};
    rep->ll = total_ll(&c, p, 1);
    rep->grad_norm = grad_norm(&c, p);
    double H[9];
    oq_btyd_fd_hessian(3, p, ll_natural, &c, H);
    rep->se_ok = oq_btyd_stderr(3, p, H, rep->se, rep->ci_lo, rep->ci_hi) == 0;
    rep->n_customers = k;
cleanup:
    free(g);
    return rc;
}

/* ---- CLV ------------------------------------------------------------------------------- */

double oq_btyd_units_per_month(double unit_days)
{
    if (unit_days == 7) return 4.345; /* lifetimes' factor for freq "W" */
    return 30 / unit_days;
}

int oq_btyd_clv(const oq_btyd_model *m, const oq_ggamma_params *g, double x, double tx, double T,
                double monetary, int months, double discount_rate, double unit_days, double *out)
{
    *out = NAN;
    if (months < 0 || !(discount_rate > -1) || !(unit_days > 0)) return OQ_EINVAL;
    double profit = oq_ggamma_expected_profit(g, x, monetary);
    if (!isfinite(profit)) return OQ_ENUM;
    double f = oq_btyd_units_per_month(unit_days), prev = 0, clv = 0;
    for (int i = 1; i <= months; i++) {
        double e;
        int rc = oq_btyd_expected(m, i * f, x, tx, T, &e);
        if (rc) return rc;
        clv += profit * (e - prev) / pow(1 + discount_rate, i);
        prev = e;
    }
    *out = clv;
    return 0;
}

/* ---- parameter files ------------------------------------------------------------------- */

int oq_btyd_params_save(const char *path, const oq_btyd_fit_report *rep, double penalizer,
                        double unit_days, oq_error *err)
{
    const char *unit = unit_days == 1 ? "days" : unit_days == 7 ? "weeks" : "unknown";
    oq_btyd_kind k = rep->m.kind;
    const char *nm[4];
    for (int i = 0; i < 4; i++)
        nm[i] = oq_btyd_param_name(k, i);
    json_t *root =
        json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:I, s:I, s:f, s:b, s:f, s:s, s:f, "
                  "s:s}",
                  "model", oq_btyd_kind_name(k), nm[0], rep->m.par[0], nm[1], rep->m.par[1], nm[2],
                  rep->m.par[2], nm[3], rep->m.par[3], "ll", rep->ll, "iterations", rep->iterations,
                  "n_customers", (json_int_t)rep->n_customers, "n_groups",
                  (json_int_t)rep->n_groups, "grad_norm", rep->grad_norm, "converged",
                  rep->converged, "penalizer", penalizer, "time_unit", unit, "unit_days", unit_days,
                  "method", rep->bfgs ? "bfgs (analytic gradient)" : "nelder-mead");
    if (!root || oq_btyd_json_add_se(root, 4, nm, rep->se, rep->ci_lo, rep->ci_hi, rep->se_ok)) {
        json_decref(root);
        return oq_error_oom(err, path, NULL);
    }
    int rc = oq_json_write_atomic(path, root, err);
    json_decref(root);
    return rc;
}

int oq_btyd_params_load(const char *path, oq_btyd_model *m, double *unit_days, oq_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "%s", je.text);
    int rc = 0;
    const char *model = "bgnbd";
    json_t *jm = json_object_get(root, "model");
    if (json_is_string(jm)) model = json_string_value(jm);
    int k = oq_btyd_kind_parse(model);
    if (k < 0) {
        rc = oq_error_set(err, OQ_EPARSE, path, 0, 0,
                          "model \"%.40s\" is not a transaction model (bgnbd, mbgnbd, paretonbd)",
                          model);
        goto cleanup;
    }
    m->kind = (oq_btyd_kind)k;
    double u = 0;
    if (json_unpack_ex(root, &je, 0, "{s:F, s:F, s:F, s:F, s?F}", oq_btyd_param_name(m->kind, 0),
                       &m->par[0], oq_btyd_param_name(m->kind, 1), &m->par[1],
                       oq_btyd_param_name(m->kind, 2), &m->par[2], oq_btyd_param_name(m->kind, 3),
                       &m->par[3], "unit_days", &u)) {
        rc = oq_error_set(err, OQ_EPARSE, path, je.line, je.column,
                          "not a %s parameter file (needs numbers %s, %s, %s, %s): %s", model,
                          oq_btyd_param_name(m->kind, 0), oq_btyd_param_name(m->kind, 1),
                          oq_btyd_param_name(m->kind, 2), oq_btyd_param_name(m->kind, 3), je.text);
        goto cleanup;
    }
    for (int i = 0; i < 4; i++)
        if (!(isfinite(m->par[i]) && m->par[i] > 0)) {
            rc = oq_error_set(err, OQ_EINVAL, path, 0, 0, "%s = %g: must be finite and > 0",
                              oq_btyd_param_name(m->kind, i), m->par[i]);
            goto cleanup;
        }
    if (unit_days) *unit_days = u;
cleanup:
    json_decref(root);
    return rc;
}

int oq_ggamma_params_save(const char *path, const oq_ggamma_fit_report *rep, double penalizer,
                          oq_error *err)
{
    static const char *const nm[3] = {"p", "q", "v"};
    json_t *root = json_pack("{s:s, s:f, s:f, s:f, s:f, s:I, s:i, s:b, s:f, s:f, s:s}", "model",
                             "gammagamma", "p", rep->g.p, "q", rep->g.q, "v", rep->g.v, "ll",
                             rep->ll, "n_customers", (json_int_t)rep->n_customers, "iterations",
                             rep->iterations, "converged", rep->converged, "grad_norm",
                             rep->grad_norm, "penalizer", penalizer, "method", "nelder-mead");
    if (!root || oq_btyd_json_add_se(root, 3, nm, rep->se, rep->ci_lo, rep->ci_hi, rep->se_ok)) {
        json_decref(root);
        return oq_error_oom(err, path, NULL);
    }
    int rc = oq_json_write_atomic(path, root, err);
    json_decref(root);
    return rc;
}

int oq_ggamma_params_load(const char *path, oq_ggamma_params *g, oq_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "%s", je.text);
    const char *model = "";
    int rc = json_unpack_ex(root, &je, 0, "{s:s, s:F, s:F, s:F}", "model", &model, "p", &g->p, "q",
                            &g->q, "v", &g->v);
    if (!rc && strcmp(model, "gammagamma") != 0) rc = -1;
    if (rc) {
        rc = oq_error_set(err, OQ_EPARSE, path, je.line, je.column,
                          "not a Gamma-Gamma parameter file (needs \"model\": \"gammagamma\" "
                          "and numbers p, q, v; write it with 'offerq bgnbd fit --model "
                          "gammagamma')");
    } else if (!(g->p > 0 && g->q > 0 && g->v > 0 && isfinite(g->p + g->q + g->v))) {
        rc = oq_error_set(err, OQ_EINVAL, path, 0, 0, "p, q, v must be finite and > 0");
    }
    json_decref(root);
    return rc;
}
