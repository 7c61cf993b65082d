/* bgnbd.c - BG/NBD likelihood, fit, per-customer predictions and the
 * calibration/holdout report. Formulas: Fader, Hardie & Lee (2005) (FHL),
 * Hardie's notes 021 (P(alive)) and 027 (the log-likelihood in a form that
 * cannot overflow). See include/offerq/coupon/bgnbd.h. */
#include "util/json.h"
#include "offerq/coupon/bgnbd.h"
#include "offerq/coupon/btyd.h"
#include "bgnbd_int.h"
#include "offerq/core/comm.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_multimin.h>
#include <gsl/gsl_sf_gamma.h>
#include <gsl/gsl_sf_hyperg.h>
#include <gsl/gsl_sf_psi.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

int oq_bgnbd_params_check(const oq_bgnbd_params *p, oq_error *err)
{
    const double v[4] = {p->r, p->alpha, p->a, p->b};
    static const char *nm[4] = {"r", "alpha", "a", "b"};
    for (int i = 0; i < 4; i++)
        if (!(isfinite(v[i]) && v[i] > 0))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "BG/NBD parameter %s = %g: must be finite and > 0", nm[i], v[i]);
    return 0;
}

/* ln Gamma without touching the global signgam (arguments here are > 0). */
static double lngamma(double x)
{
    int sign;
    return lgamma_r(x, &sign);
}

/* ln(e^u + e^v) and the weight e^v / (e^u + e^v), without overflow. */
static double lse2(double u, double v, double *wv)
{
    double d = v - u;
    if (d > 0) {
        double e = exp(-d);
        *wv = 1 / (1 + e);
        return v + log1p(e);
    }
    double e = exp(d);
    *wv = e / (1 + e);
    return u + log1p(e);
}

/* FHL eq. 6 as Hardie's note 027 eq. 4: with A = ((alpha+t_x)/(alpha+T))^(r+x) <= 1,
 * LL = lnG(r+x) - lnG(r) + r ln(alpha) + lnB(a, b+x) - lnB(a, b)
 *      - (r+x) ln(alpha+t_x) + ln(A + [x>0] a/(b+x-1)),
 * evaluated as a log-sum-exp of -(r+x) ln(alpha+T) and ln(a/(b+x-1)) - (r+x) ln(alpha+t_x). */
double oq_bgnbd_loglik_one(const oq_bgnbd_params *p, double x, double tx, double T)
{
    double r = p->r, al = p->alpha, a = p->a, b = p->b;
    double c = lngamma(r + x) - lngamma(r) + r * log(al) + lngamma(b + x) - lngamma(b) -
               lngamma(a + b + x) + lngamma(a + b);
    double lnA = -(r + x) * log(al + T);
    if (x <= 0) return c + lnA;
    double lnB = log(a) - log(b + x - 1) - (r + x) * log(al + tx);
    double w;
    return c + lse2(lnA, lnB, &w);
}

/* ---- grouped data --------------------------------------------------------- */

struct oq_bgnbd_data {
    size_t n_groups, n_x, n_t;
    double W;      /* sum of weights (this part's) */
    double WX;     /* sum of weights * x (for the time-scale shift of the LL) */
    double Wg;     /* W over every part (= W with one part) */
    double WXg;    /* WX over every part */
    oq_comm *comm; /* the parts whose sums make the likelihood; NULL: one */
    int comm_rc;   /* the first failed collective (the fit returns it) */
    oq_error comm_err;
    double scale;  /* 1 / max T */
    double *xv;    /* (n_x) distinct x */
    double *wx;    /* (n_x) weight of each distinct x */
    double *tv;    /* (n_t) distinct scaled times (t_x and T) */
    uint32_t *gx;  /* (n_groups) index into xv */
    uint32_t *gtx; /* (n_groups) index into tv */
    uint32_t *gT;  /* (n_groups) index into tv */
    double *gw;    /* (n_groups) weight */
    double *L, *R; /* (n_t) scratch: ln(alpha+t), 1/(alpha+t) */
    double *lax;   /* (n_x) scratch: ln(a/(b+x-1)) */
};

/* Open-addressing map from a key of 1..3 64-bit words to a dense index
 * (insertion order); grows by rehashing when half full. */
typedef struct imap {
    uint64_t *keys; /* (cap * width) */
    uint32_t *val;  /* (cap) index + 1, 0 = empty */
    size_t cap, n;
    int width;
} imap;

static int imap_init(imap *m, size_t cap, int width)
{
    m->cap = cap;
    m->n = 0;
    m->width = width;
    m->keys = malloc(cap * (size_t)width * sizeof *m->keys);
    m->val = calloc(cap, sizeof *m->val);
    return m->keys && m->val ? 0 : OQ_ENOMEM;
}

static void imap_free(imap *m)
{
    free(m->keys);
    free(m->val);
}

static size_t imap_slot(const imap *m, const uint64_t *k)
{
    uint64_t h = 0;
    for (int i = 0; i < m->width; i++)
        h = oq_mix64(h ^ k[i]);
    size_t mask = m->cap - 1, s = (size_t)h & mask;
    while (m->val[s] &&
           memcmp(m->keys + s * (size_t)m->width, k, (size_t)m->width * sizeof *k) != 0)
        s = (s + 1) & mask;
    return s;
}

/* Index of key k, inserted if new (*is_new = 1). UINT32_MAX when out of memory. */
static uint32_t imap_get(imap *m, const uint64_t *k, int *is_new)
{
    size_t s = imap_slot(m, k);
    if (m->val[s]) {
        *is_new = 0;
        return m->val[s] - 1;
    }
    if (2 * (m->n + 1) > m->cap) {
        imap nm;
        if (imap_init(&nm, m->cap * 2, m->width)) {
            imap_free(&nm);
            return UINT32_MAX;
        }
        for (size_t i = 0; i < m->cap; i++) {
            if (!m->val[i]) continue;
            const uint64_t *key = m->keys + i * (size_t)m->width;
            size_t t = imap_slot(&nm, key);
            memcpy(nm.keys + t * (size_t)nm.width, key, (size_t)nm.width * sizeof *key);
            nm.val[t] = m->val[i];
        }
        nm.n = m->n;
        imap_free(m);
        *m = nm;
        s = imap_slot(m, k);
    }
    memcpy(m->keys + s * (size_t)m->width, k, (size_t)m->width * sizeof *k);
    m->val[s] = (uint32_t)++m->n;
    *is_new = 1;
    return m->val[s] - 1;
}

static uint64_t dbits(double v)
{
    uint64_t u;
    v += 0.0; /* -0 -> +0 */
    memcpy(&u, &v, sizeof u);
    return u;
}

typedef struct xw {
    double x, w;
    uint32_t old;
} xw;

static int cmp_xw(const void *a, const void *b)
{
    double u = ((const xw *)a)->x, v = ((const xw *)b)->x;
    return (u > v) - (u < v);
}

/* Sort the distinct x ascending (eval_scaled walks them with recurrences). */
static int sort_x(oq_bgnbd_data *d)
{
    size_t nx = d->n_x ? d->n_x : 1;
    xw *t = malloc(nx * sizeof *t);
    uint32_t *pos = calloc(nx, sizeof *pos);
    if (!t || !pos) {
        free(t);
        free(pos);
        return OQ_ENOMEM;
    }
    for (size_t j = 0; j < d->n_x; j++)
        t[j] = (xw){d->xv[j], d->wx[j], (uint32_t)j};
    qsort(t, d->n_x, sizeof *t, cmp_xw);
    for (size_t j = 0; j < d->n_x; j++) {
        d->xv[j] = t[j].x;
        d->wx[j] = t[j].w;
        pos[t[j].old] = (uint32_t)j;
    }
    for (size_t k = 0; k < d->n_groups; k++)
        d->gx[k] = pos[d->gx[k]]; // NOLINT(clang-analyzer-core.uninitialized.ArraySubscript): gx[k]
                                  // < n_x, pos is calloc'ed
    free(t);
    free(pos);
    return 0;
}

void oq_bgnbd_data_free(oq_bgnbd_data *d)
{
    if (!d) return;
    free(d->xv);
    free(d->wx);
    free(d->tv);
    free(d->gx);
    free(d->gtx);
    free(d->gT);
    free(d->gw);
    free(d->L);
    free(d->R);
    free(d->lax);
    free(d);
}

size_t oq_bgnbd_data_groups(const oq_bgnbd_data *d)
{
    return d->n_groups;
}

double oq_bgnbd_data_scale(const oq_bgnbd_data *d)
{
    return d->scale;
}

int oq_bgnbd_data_new(const double *x, const double *tx, const double *T, const double *w, size_t n,
                      oq_bgnbd_data **out, oq_error *err)
{
    return oq_bgnbd_data_new_part(x, tx, T, w, n, NULL, out, err);
}

int oq_bgnbd_data_new_part(const double *x, const double *tx, const double *T, const double *w,
                           size_t n, oq_comm *comm, oq_bgnbd_data **out, oq_error *err)
{
    *out = NULL;
    int parts = oq_comm_size(comm) > 1;
    if (n == 0 && !parts) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no customers to fit");
    if (n > (size_t)UINT32_MAX / 4)
        return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0, "more than %u customers", UINT32_MAX / 4);
    double maxT = 0;
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (!(x[i] >= 0 && x[i] == floor(x[i]) && x[i] < 1e9 && tx[i] >= 0 && tx[i] <= T[i] &&
              isfinite(T[i]) && (x[i] > 0 || tx[i] == 0) && wi >= 0 && isfinite(wi)))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "customer %zu: x=%g t_x=%g T=%g w=%g is not a valid summary "
                                "(x whole >= 0, 0 <= t_x <= T, t_x = 0 when x = 0)",
                                i, x[i], tx[i], T[i], wi);
        if (T[i] > maxT) maxT = T[i];
    }
    int rc = 0;
    /* The time scale is the whole population's (every part's max T). */
    if (parts && (rc = oq_comm_max(comm, &maxT, 1, err))) return rc;
    if (!(maxT > 0))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            parts ? "no customers to fit, or every customer has age T = 0"
                                  : "every customer has age T = 0");
    imap mx = {0}, mt = {0}, mg = {0};
    oq_bgnbd_data *d = calloc(1, sizeof *d);
    if (!d || imap_init(&mx, 64, 1) || imap_init(&mt, 1024, 1) || imap_init(&mg, 4096, 3)) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    d->scale = 1 / maxT;
    d->comm = comm;
    /* Sized for the worst case (all distinct), trimmed below. */
    size_t n1 = n ? n : 1;
    d->xv = malloc(n1 * sizeof *d->xv);
    d->wx = malloc(n1 * sizeof *d->wx);
    d->tv = malloc(2 * n1 * sizeof *d->tv);
    d->gx = malloc(n1 * sizeof *d->gx);
    d->gtx = malloc(n1 * sizeof *d->gtx);
    d->gT = malloc(n1 * sizeof *d->gT);
    d->gw = malloc(n1 * sizeof *d->gw);
    if (!d->xv || !d->wx || !d->tv || !d->gx || !d->gtx || !d->gT || !d->gw) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        double wi = w ? w[i] : 1;
        if (wi == 0) continue;
        int nw, nw2, nw3, nwg;
        uint64_t kx = dbits(x[i]);
        double ts = tx[i] * d->scale, Ts = T[i] * d->scale;
        uint64_t kt = dbits(ts), kT = dbits(Ts);
        uint32_t ix = imap_get(&mx, &kx, &nw);
        uint32_t it = imap_get(&mt, &kt, &nw2);
        if (nw2 && it != UINT32_MAX) d->tv[it] = ts;
        uint32_t iT = imap_get(&mt, &kT, &nw3);
        uint64_t kg[3] = {ix, it, iT};
        uint32_t g = imap_get(&mg, kg, &nwg);
        if (ix == UINT32_MAX || it == UINT32_MAX || iT == UINT32_MAX || g == UINT32_MAX) {
            rc = oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
        if (nw) {
            d->xv[ix] = x[i];
            d->wx[ix] = 0;
        }
        d->wx[ix] += wi;
        if (nw3) d->tv[iT] = Ts;
        if (nwg) {
            d->gx[g] = ix;
            d->gtx[g] = it;
            d->gT[g] = iT;
            d->gw[g] = 0;
        }
        d->gw[g] += wi;
        d->W += wi;
        d->WX += wi * x[i];
    }
    d->Wg = d->W;
    d->WXg = d->WX;
    if (parts) {
        double tot[2] = {d->W, d->WX};
        if ((rc = oq_comm_sum(comm, tot, 2, err))) goto cleanup;
        d->Wg = tot[0];
        d->WXg = tot[1];
    }
    if (!(d->Wg > 0)) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "all weights are 0");
        goto cleanup;
    }
    d->n_groups = mg.n;
    d->n_x = mx.n;
    d->n_t = mt.n;
    if ((rc = sort_x(d))) {
        oq_error_set(err, rc, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    /* Give back the worst-case room (shrinking reallocs do not fail in practice;
     * if one does, the larger block is kept). */
#define TRIM(f, m)                                                                                 \
    do {                                                                                           \
        void *q = realloc(d->f, ((m) ? (m) : 1) * sizeof *d->f);                                   \
        if (q) d->f = q;                                                                           \
    } while (0)
    TRIM(xv, d->n_x);
    TRIM(wx, d->n_x);
    TRIM(tv, d->n_t);
    TRIM(gx, d->n_groups);
    TRIM(gtx, d->n_groups);
    TRIM(gT, d->n_groups);
    TRIM(gw, d->n_groups);
#undef TRIM
    size_t nt1 = d->n_t ? d->n_t : 1;
    d->L = malloc(nt1 * sizeof *d->L);
    d->R = malloc(nt1 * sizeof *d->R);
    d->lax = malloc((d->n_x ? d->n_x : 1) * sizeof *d->lax);
    if (!d->L || !d->R || !d->lax) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    *out = d;
    d = NULL;
cleanup:
    imap_free(&mx);
    imap_free(&mt);
    imap_free(&mg);
    oq_bgnbd_data_free(d);
    return rc;
}

/* Sum over customers of w * ll in scaled time at natural parameters
 * (r, as = alpha * scale, a, b); its gradient d/d(r, as, a, b) into g and
 * Hessian into H (row-major 4x4) when not NULL (H needs g).
 * Per group ll = c(x) + r ln(as) + lse(u, v) with u = -(r+x) ln(as+T) and
 * v = ln(a/(b+x-1)) - (r+x) ln(as+t_x) (v absent when x = 0); the lse's
 * Hessian is wA Hu + wB Hv + wA wB (du - dv)(du - dv)^T.
 * Uses d's scratch arrays: not for concurrent calls on one oq_bgnbd_data. */
static double eval_scaled(const oq_bgnbd_data *dc, double r, double as, double a, double b,
                          double g[4], double H[16])
{
    oq_bgnbd_data *d = (oq_bgnbd_data *)dc; /* scratch only */
    double ll = 0, gr = 0, gal = 0, ga = 0, gb = 0;
    /* Hessian entries (natural parameters, index 0 r, 1 alpha, 2 a, 3 b). */
    double hrr = 0, hra = 0, haa = 0, hAA = 0, hAB = 0, hBB = 0, hrA = 0, hrB = 0, haA = 0, haB = 0;
    for (size_t k = 0; k < d->n_t; k++) {
        d->L[k] = log(as + d->tv[k]);
        d->R[k] = 1 / (as + d->tv[k]);
    }
    /* Terms that depend on x only: lnG(r+x) - lnG(r) + lnB(a,b+x) - lnB(a,b) and
     * their derivatives. x is a whole number and xv is sorted, so these follow
     * from lnG(y+1) = lnG(y) + ln y, psi(y+1) = psi(y) + 1/y and
     * psi'(y+1) = psi'(y) - 1/y^2, restarted from lgamma/psi when the next x is far. */
    double cr = 0, cb = 0, cab = 0; /* lnG(r+x)-lnG(r), lnG(b+x)-lnG(b), lnG(a+b+x)-lnG(a+b) */
    double pr = 0, pb = 0, pab = 0; /* the same for psi */
    double qr = 0, qb = 0, qab = 0; /* the same for psi' */
    double lg_r = lngamma(r), lg_b = lngamma(b), lg_ab = lngamma(a + b);
    double xcur = 0;
    for (size_t j = 0; j < d->n_x; j++) {
        double x = d->xv[j], w = d->wx[j];
        d->lax[j] = x > 0 ? log(a) - log(b + x - 1) : 0;
        if (x == 0) continue;
        if (x - xcur > 64) {
            cr = lngamma(r + x) - lg_r;
            cb = lngamma(b + x) - lg_b;
            cab = lngamma(a + b + x) - lg_ab;
            if (g) {
                pr = gsl_sf_psi(r + x) - gsl_sf_psi(r);
                pb = gsl_sf_psi(b + x) - gsl_sf_psi(b);
                pab = gsl_sf_psi(a + b + x) - gsl_sf_psi(a + b);
            }
            if (H) {
                qr = gsl_sf_psi_1(r + x) - gsl_sf_psi_1(r);
                qb = gsl_sf_psi_1(b + x) - gsl_sf_psi_1(b);
                qab = gsl_sf_psi_1(a + b + x) - gsl_sf_psi_1(a + b);
            }
        } else {
            for (double k = xcur; k < x; k++) { // NOLINT(clang-analyzer-security.FloatLoopCounter):
                                                // k is a whole number below 2^53
                cr += log(r + k);
                cb += log(b + k);
                cab += log(a + b + k);
                if (g) {
                    double ir = 1 / (r + k), ib = 1 / (b + k), iab = 1 / (a + b + k);
                    pr += ir;
                    pb += ib;
                    pab += iab;
                    qr -= ir * ir;
                    qb -= ib * ib;
                    qab -= iab * iab;
                }
            }
        }
        xcur = x;
        ll += w * (cr + cb - cab);
        if (g) {
            gr += w * pr;
            ga -= w * pab;
            gb += w * (pb - pab);
        }
        if (H) {
            hrr += w * qr;
            hAA -= w * qab;
            hAB -= w * qab;
            hBB += w * (qb - qab);
        }
    }
    double lnal = log(as);
    ll += d->W * r * lnal;
    gr += d->W * lnal;
    gal += d->W * r / as;
    hra += d->W / as;
    haa -= d->W * r / (as * as);
    const double *L = d->L, *R = d->R;
    for (size_t k = 0; k < d->n_groups; k++) {
        uint32_t j = d->gx[k];
        double x = d->xv[j], w = d->gw[k], rx = r + x;
        double L2 = L[d->gT[k]], R2 = R[d->gT[k]];
        if (x == 0) {
            ll -= w * rx * L2;
            gr -= w * L2;
            gal -= w * rx * R2;
            if (H) {
                hra -= w * R2;
                haa += w * rx * R2 * R2;
            }
            continue;
        }
        double L1 = L[d->gtx[k]], R1 = R[d->gtx[k]], wB;
        ll += w * lse2(-rx * L2, d->lax[j] - rx * L1, &wB);
        double wA = 1 - wB, ib = 1 / (b + x - 1);
        gr -= w * (wA * L2 + wB * L1);
        gal -= w * rx * (wA * R2 + wB * R1);
        ga += w * wB / a;
        gb -= w * wB * ib;
        if (H) {
            /* du - dv = (L1 - L2, rx (R1 - R2), -1/a, ib). */
            double e0 = L1 - L2, e1 = rx * (R1 - R2), e2 = -1 / a, e3 = ib;
            double c = w * wA * wB;
            hrr += c * e0 * e0;
            hra += c * e0 * e1 - w * (wA * R2 + wB * R1);
            haa += c * e1 * e1 + w * rx * (wA * R2 * R2 + wB * R1 * R1);
            hrA += c * e0 * e2;
            hrB += c * e0 * e3;
            haA += c * e1 * e2;
            haB += c * e1 * e3;
            hAA += c * e2 * e2 - w * wB / (a * a);
            hAB += c * e2 * e3;
            hBB += c * e3 * e3 + w * wB * ib * ib;
        }
    }
    if (g) {
        g[0] = gr;
        g[1] = gal;
        g[2] = ga;
        g[3] = gb;
    }
    if (H) {
        const double h[16] = {hrr, hra, hrA, hrB, hra, haa, haA, haB,
                              hrA, haA, hAA, hAB, hrB, haB, hAB, hBB};
        memcpy(H, h, sizeof h);
    }
    return ll;
}

/* eval_scaled summed over the parts (comm.h: partial sums added in rank
 * order; one part: eval_scaled itself). A failed collective is remembered
 * in d->comm_rc and reads as NaN, which every caller treats as a bad point. */
static double eval_all(const oq_bgnbd_data *dc, double r, double as, double a, double b,
                       double g[4], double H[16])
{
    oq_bgnbd_data *d = (oq_bgnbd_data *)dc;
    double ll = eval_scaled(d, r, as, a, b, g, H);
    if (oq_comm_size(d->comm) <= 1) return ll;
    double buf[21] = {ll};
    size_t m = 1;
    if (g) {
        memcpy(buf + 1, g, 4 * sizeof *g);
        m = 5;
    }
    if (H) {
        memcpy(buf + 5, H, 16 * sizeof *H);
        m = 21;
    }
    int rc = d->comm_rc ? d->comm_rc : oq_comm_sum(d->comm, buf, m, &d->comm_err);
    if (rc) {
        d->comm_rc = rc;
        return NAN;
    }
    if (g) memcpy(g, buf + 1, 4 * sizeof *g);
    if (H) memcpy(H, buf + 5, 16 * sizeof *H);
    return buf[0];
}

/* The objective and its derivatives in log-parameters th (see
 * oq_bgnbd_objective); Hh (may be NULL, needs gh) is the Hessian:
 * d2f/dth_i dth_j = v_i v_j d2f/dv_i dv_j + [i=j] v_i df/dv_i with v = e^th. */
static double objective_full(const oq_bgnbd_data *d, const double th[4], double pen, double gh[4],
                             double Hh[16])
{
    double v[4], g[4], H[16];
    for (int i = 0; i < 4; i++)
        v[i] = exp(th[i]);
    double ll = eval_all(d, v[0], v[1], v[2], v[3], gh ? g : NULL, Hh ? H : NULL);
    double f = -ll / d->Wg;
    for (int i = 0; i < 4; i++)
        f += pen * v[i] * v[i];
    if (gh)
        for (int i = 0; i < 4; i++)
            gh[i] = -g[i] * v[i] / d->Wg + 2 * pen * v[i] * v[i];
    if (Hh)
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Hh[4 * i + j] = -H[4 * i + j] * v[i] * v[j] / d->Wg +
                                (i == j ? gh[i] + 2 * pen * v[i] * v[i] : 0);
    return f;
}

void oq_bgnbd_objective(const oq_bgnbd_data *d, const double th[4], double pen, double *f,
                        double grad[4])
{
    *f = objective_full(d, th, pen, grad, NULL);
}

void oq_bgnbd_objective_hessian(const oq_bgnbd_data *d, const double th[4], double pen, double *f,
                                double grad[4], double hess[16])
{
    *f = objective_full(d, th, pen, grad, hess);
}

/* With t' = s t and alpha' = s alpha: ll'(r, alpha', a, b) = ll(r, alpha, a, b) - x ln s. */
double oq_bgnbd_data_loglik(const oq_bgnbd_data *d, const oq_bgnbd_params *p, double grad[4],
                            double hess[16])
{
    double g[4], H[16];
    double ll = eval_all(d, p->r, p->alpha * d->scale, p->a, p->b, grad || hess ? g : NULL,
                         hess ? H : NULL);
    /* alpha = alpha' / s: each alpha index carries one factor s. */
    const double f[4] = {1, d->scale, 1, 1};
    if (grad)
        for (int i = 0; i < 4; i++)
            grad[i] = g[i] * f[i];
    if (hess)
        for (int i = 0; i < 16; i++)
            hess[i] = H[i] * f[i / 4] * f[i % 4];
    return ll + d->WXg * log(d->scale);
}

/* ---- fit ------------------------------------------------------------------ */

typedef struct fit_ctx {
    const oq_bgnbd_data *d;
    double pen;
    int evals;
} fit_ctx;

/* Objective for GSL; parameters far outside any sensible range read as +inf
 * so that line searches and the simplex back off. */
static double fit_f(const gsl_vector *v, void *p)
{
    fit_ctx *c = p;
    double th[4], f;
    for (int i = 0; i < 4; i++) {
        th[i] = gsl_vector_get(v, (size_t)i);
        if (!(fabs(th[i]) < 30)) return OQ_NM_WALL;
    }
    c->evals++;
    oq_bgnbd_objective(c->d, th, c->pen, &f, NULL);
    return isfinite(f) && f < OQ_NM_WALL ? f : OQ_NM_WALL;
}

static void fit_fdf(const gsl_vector *v, void *p, double *f, gsl_vector *grad)
{
    fit_ctx *c = p;
    double th[4], g[4] = {0};
    int ok = 1;
    for (int i = 0; i < 4; i++) {
        th[i] = gsl_vector_get(v, (size_t)i);
        ok &= fabs(th[i]) < 30;
    }
    if (ok) {
        c->evals++;
        oq_bgnbd_objective(c->d, th, c->pen, f, g);
    }
    if (!ok || !isfinite(*f)) {
        *f = GSL_POSINF;
        for (int i = 0; i < 4; i++)
            g[i] = th[i]; /* points back toward the origin */
    }
    for (int i = 0; i < 4; i++)
        gsl_vector_set(grad, (size_t)i, g[i]);
}

static void fit_df(const gsl_vector *v, void *p, gsl_vector *grad)
{
    double f;
    fit_fdf(v, p, &f, grad);
}

static double inf_norm(const gsl_vector *g)
{
    double m = 0;
    for (size_t i = 0; i < g->size; i++)
        m = fmax(m, fabs(gsl_vector_get(g, i)));
    return m;
}

/* Solve (H + mu I) p = -g for a symmetric 4x4 H by Cholesky; -1 if H + mu I
 * is not positive definite. */
static int solve_damped(const double H[16], const double g[4], double mu, double p[4])
{
    double Lm[16] = {0}, y[4] = {0};
    for (int i = 0; i < 4; i++) {
        for (int j = 0; j <= i; j++) {
            double sum = H[4 * i + j] + (i == j ? mu : 0);
            for (int k = 0; k < j; k++)
                sum -= Lm[4 * i + k] * Lm[4 * j + k];
            if (i == j) {
                if (!(sum > 0)) return -1;
                Lm[4 * i + i] = sqrt(sum);
            } else {
                Lm[4 * i + j] = sum / Lm[4 * j + j];
            }
        }
    }
    for (int i = 0; i < 4; i++) {
        double sum = -g[i];
        for (int k = 0; k < i; k++)
            sum -= Lm[4 * i + k] * y[k];
        y[i] = sum / Lm[4 * i + i];
    }
    for (int i = 3; i >= 0; i--) {
        double sum = y[i];
        for (int k = i + 1; k < 4; k++)
            sum -= Lm[4 * k + i] * p[k];
        p[i] = sum / Lm[4 * i + i];
    }
    return 0;
}

/* Damped Newton on the objective with the analytic Hessian: the step solves
 * (H + mu I) p = -g (mu = 0 when H is positive definite, else the smallest
 * power of ten that makes it so), at most 3 in any log-parameter, then
 * halved until the Armijo condition holds. Converges in a handful of
 * iterations where BFGS needs dozens (r and alpha are strongly correlated).
 * th (4): start in, end point out. Returns 1 if |g|_inf < gtol. */
static int newton(fit_ctx *c, double th[4], int max_iter, double gtol, double *f_out,
                  double *gn_out, int *iters)
{
    double f, g[4], H[16];
    *iters = 0;
    *f_out = GSL_POSINF;
    *gn_out = GSL_POSINF;
    for (int i = 0; i < 4; i++)
        if (!(fabs(th[i]) < 30)) return 0;
    f = objective_full(c->d, th, c->pen, g, H);
    c->evals++;
    int conv = 0;
    *iters = 0;
    for (int it = 0; it < max_iter && isfinite(f); it++) {
        double gn = 0;
        for (int i = 0; i < 4; i++)
            gn = fmax(gn, fabs(g[i]));
        if (gn < gtol) {
            conv = 1;
            break;
        }
        (*iters)++;
        double dmax = 0;
        for (int i = 0; i < 4; i++)
            dmax = fmax(dmax, fabs(H[5 * i]));
        int moved = 0;
        for (double mu = 0; mu < 1e12 * (1 + dmax) && !moved;
             mu = mu > 0 ? mu * 10 : 1e-8 * (1 + dmax)) {
            double p[4] = {0};
            if (solve_damped(H, g, mu, p)) continue;
            double pmax = 0, slope = 0;
            for (int i = 0; i < 4; i++) {
                pmax = fmax(pmax, fabs(p[i]));
                slope += g[i] * p[i];
            }
            if (!(slope < 0)) continue;
            /* Newton decrement at the rounding level of f: as converged as
             * doubles allow (with 1e5+ groups the gradient's own rounding can
             * exceed gtol). */
            if (mu == 0 && -slope < 1e-15 * (1 + fabs(f))) {
                conv = 1;
                break;
            }
            double t = pmax > 3 ? 3 / pmax : 1;
            for (int ls = 0; ls < 40; ls++, t *= 0.5) {
                double tn[4], fn, gnw[4], Hn[16];
                int ok = 1;
                for (int i = 0; i < 4; i++) {
                    tn[i] = th[i] + t * p[i];
                    ok &= fabs(tn[i]) < 30;
                }
                if (!ok) continue;
                fn = objective_full(c->d, tn, c->pen, gnw, Hn);
                c->evals++;
                if (isfinite(fn) && fn <= f + 1e-4 * t * slope) {
                    memcpy(th, tn, sizeof tn);
                    memcpy(g, gnw, sizeof gnw);
                    memcpy(H, Hn, sizeof Hn);
                    f = fn;
                    moved = 1;
                    break;
                }
            }
        }
        if (conv || !moved) break; /* converged, or no descent from a bad region */
    }
    double gn = 0;
    for (int i = 0; i < 4; i++)
        gn = fmax(gn, fabs(g[i]));
    *f_out = isfinite(f) ? f : GSL_POSINF;
    *gn_out = gn;
    return conv || gn < gtol;
}

/* One start: BFGS2, then Nelder-Mead + BFGS2 again if BFGS2 stalls short of
 * gtol. th (4) is the start in, the end point out. */
static int run_start(fit_ctx *c, double th[4], int max_iter, double gtol, double *fbest,
                     double *gnorm, int *iters, int *used_nm)
{
    int rc = 0;
    gsl_multimin_function_fdf fdf = {fit_f, fit_df, fit_fdf, 4, c};
    gsl_multimin_fdfminimizer *m =
        gsl_multimin_fdfminimizer_alloc(gsl_multimin_fdfminimizer_vector_bfgs2, 4);
    gsl_multimin_fminimizer *nm = NULL;
    gsl_vector *v = gsl_vector_alloc(4), *step = gsl_vector_alloc(4);
    if (!m || !v || !step) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    *iters = 0;
    *used_nm = 0;
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 4; i++)
            gsl_vector_set(v, (size_t)i, th[i]);
        gsl_multimin_fdfminimizer_set(m, &fdf, v, 0.1, 0.1);
        if (!isfinite(m->f)) break;
        for (int it = 0; it < max_iter; it++) {
            if (inf_norm(m->gradient) < gtol) break;
            (*iters)++;
            if (gsl_multimin_fdfminimizer_iterate(m)) break; /* no progress */
        }
        for (int i = 0; i < 4; i++)
            th[i] = gsl_vector_get(m->x, (size_t)i);
        *fbest = m->f;
        *gnorm = inf_norm(m->gradient);
        /* Stalled close to a stationary point is rounding, not failure. */
        if (*gnorm < 1e-4 || round == 1) break;
        /* BFGS2 stalled far from it: a derivative-free simplex, then BFGS2 once more. */
        *used_nm = 1;
        if (!nm) nm = gsl_multimin_fminimizer_alloc(gsl_multimin_fminimizer_nmsimplex2, 4);
        if (!nm) {
            rc = OQ_ENOMEM;
            goto cleanup;
        }
        gsl_multimin_function ff = {fit_f, 4, c};
        gsl_vector_set_all(step, 0.1);
        /* A start where the objective is not finite leaves th at BFGS2's point. */
        if (gsl_multimin_fminimizer_set(nm, &ff, m->x, step) || !(nm->fval < OQ_NM_WALL)) break;
        for (int it = 0; it < 20 * max_iter; it++) {
            if (gsl_multimin_fminimizer_iterate(nm)) break;
            if (gsl_multimin_test_size(gsl_multimin_fminimizer_size(nm), 1e-10) == GSL_SUCCESS)
                break;
        }
        for (int i = 0; i < 4; i++)
            th[i] = gsl_vector_get(nm->x, (size_t)i);
    }
cleanup:
    gsl_multimin_fdfminimizer_free(m);
    gsl_multimin_fminimizer_free(nm);
    gsl_vector_free(v);
    gsl_vector_free(step);
    return rc;
}

int oq_bgnbd_fit(const oq_bgnbd_data *d, const oq_bgnbd_fit_opts *opts, oq_bgnbd_fit_report *rep,
                 oq_error *err)
{
    oq_bgnbd_fit_opts o = {0};
    if (opts) o = *opts;
    if (!(o.penalizer >= 0 && isfinite(o.penalizer)))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "penalizer must be >= 0");
    int n_starts = o.n_starts > 0 ? (o.n_starts > 8 ? 8 : o.n_starts) : 4;
    int max_iter = o.max_iter > 0 ? o.max_iter : 500;
    double gtol = o.gtol > 0 ? o.gtol : 1e-9;
    memset(rep, 0, sizeof *rep);
    /* Starts in scaled time: lifetimes' (1,1,1,1), then rate-matched ones with
     * alpha/r = mean T / mean x (a Gamma mean equal to the observed purchase rate). */
    double sxT[2] = {0, 0};
    for (size_t k = 0; k < d->n_groups; k++) {
        sxT[0] += d->gw[k] * d->xv[d->gx[k]];
        sxT[1] += d->gw[k] * d->tv[d->gT[k]];
    }
    uint64_t ngroups = d->n_groups;
    int crc;
    if ((crc = oq_comm_sum(d->comm, sxT, 2, err)) ||
        (crc = oq_comm_sum_u64(d->comm, &ngroups, 1, err)))
        return crc;
    double sx = sxT[0], sT = sxT[1];
    double inv_rate = sx > 0 ? sT / sx : 1;
    if (!(inv_rate > 1e-6 && inv_rate < 1e6)) inv_rate = 1;
    const double starts[8][4] = {{1, inv_rate, 1, 3},           {1, 1, 1, 1},
                                 {0.3, 0.3 * inv_rate, 0.7, 2}, {3, 3 * inv_rate, 3, 10},
                                 {0.1, 0.1 * inv_rate, 0.3, 1}, {1, inv_rate, 0.2, 0.5},
                                 {10, 10 * inv_rate, 1, 1},     {0.5, 5 * inv_rate, 5, 5}};
    fit_ctx c = {d, o.penalizer, 0};
    double best = GSL_POSINF, best_th[4] = {0}, best_g = 0;
    int best_it = 0, agree = 0, ran = 0, any_nm = 0, any_bfgs = 0, best_conv = 0;
    for (int s = 0; s < n_starts; s++) {
        double th[4], f = GSL_POSINF, gn = 0;
        int it, nmu;
        for (int i = 0; i < 4; i++)
            th[i] = log(starts[s][i]);
        nmu = 0;
        int conv = newton(&c, th, max_iter, gtol, &f, &gn, &it);
        if (!conv) {
            /* Newton failed from here: BFGS2 (and Nelder-Mead) from the start. */
            int it2;
            for (int i = 0; i < 4; i++)
                th[i] = log(starts[s][i]);
            if (run_start(&c, th, max_iter, gtol, &f, &gn, &it2, &nmu))
                return oq_error_oom(err, NULL, NULL);
            it += it2;
            any_bfgs = 1;
            conv = gn < gtol;
        }
        ran++;
        any_nm |= nmu;
        if (!isfinite(f)) continue;
        if (!isfinite(best) || f < best - 1e-8 * fabs(best)) {
            agree = isfinite(best) && fabs(f - best) <= 1e-8 * fabs(f) ? agree + 1 : 1;
            best = f;
            memcpy(best_th, th, sizeof th);
            best_g = gn;
            best_it = it;
            best_conv = conv;
        } else if (fabs(f - best) <= 1e-8 * fabs(best)) {
            agree++;
        }
        /* Two converged starts at the same optimum: the others would agree too. */
        if (agree >= 2 && best_conv) break;
    }
    if (d->comm_rc) {
        if (err) *err = d->comm_err;
        return d->comm_rc;
    }
    if (!isfinite(best))
        return oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                            "no starting point gave a finite likelihood; try a penalizer > 0");
    rep->p.r = exp(best_th[0]);
    rep->p.alpha = exp(best_th[1]) / d->scale;
    rep->p.a = exp(best_th[2]);
    rep->p.b = exp(best_th[3]);
    rep->ll = oq_bgnbd_data_loglik(d, &rep->p, NULL, NULL);
    rep->objective = best;
    rep->grad_norm = best_g;
    rep->iterations = best_it;
    rep->evaluations = c.evals;
    rep->converged = best_conv;
    rep->starts = ran;
    rep->starts_agree = agree;
    rep->method = any_nm ? "newton+bfgs2+nelder-mead" : any_bfgs ? "newton+bfgs2" : "newton";
    rep->n_customers = (size_t)llround(d->Wg);
    rep->n_groups = (size_t)ngroups; /* summed over the parts' groups */
    /* Standard errors from the analytic Hessian of the total LL (observed
     * information) at the estimate; with a penalizer the estimate is not the
     * LL's maximum and these describe the curvature there only. */
    double H[16];
    (void)oq_bgnbd_data_loglik(d, &rep->p, NULL, H);
    if (d->comm_rc) {
        if (err) *err = d->comm_err;
        return d->comm_rc;
    }
    const double est[4] = {rep->p.r, rep->p.alpha, rep->p.a, rep->p.b};
    rep->se_ok = oq_btyd_stderr(4, est, H, rep->se, rep->ci_lo, rep->ci_hi) == 0;
    return 0;
}

/* ---- parameter files ------------------------------------------------------ */

int oq_bgnbd_params_save(const char *path, const oq_bgnbd_fit_report *rep, double penalizer,
                         double unit_days, oq_error *err)
{
    const char *unit = unit_days == 1 ? "days" : unit_days == 7 ? "weeks" : "unknown";
    json_t *root = json_pack(
        "{s:s, s:f, s:f, s:f, s:f, s:f, s:i, s:I, s:I, s:f, s:b, s:f, s:s, s:f, s:s, s:i, s:i}",
        "model", "bgnbd", "r", rep->p.r, "alpha", rep->p.alpha, "a", rep->p.a, "b", rep->p.b, "ll",
        rep->ll, "iterations", rep->iterations, "n_customers", (json_int_t)rep->n_customers,
        "n_groups", (json_int_t)rep->n_groups, "grad_norm", rep->grad_norm, "converged",
        rep->converged, "penalizer", penalizer, "time_unit", unit, "unit_days", unit_days, "method",
        rep->method ? rep->method : "", "starts", rep->starts, "starts_agree", rep->starts_agree);
    static const char *const names[4] = {"r", "alpha", "a", "b"};
    if (!root || oq_btyd_json_add_se(root, 4, names, rep->se, rep->ci_lo, rep->ci_hi, rep->se_ok)) {
        json_decref(root);
        return oq_error_oom(err, path, NULL);
    }
    int rc = oq_json_write_atomic(path, root, err);
    json_decref(root);
    return rc;
}

int oq_bgnbd_params_load(const char *path, oq_bgnbd_params *p, double *unit_days, oq_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "%s", je.text);
    double u = 0;
    int rc = json_unpack_ex(root, &je, 0, "{s:F, s:F, s:F, s:F, s?F}", "r", &p->r, "alpha",
                            &p->alpha, "a", &p->a, "b", &p->b, "unit_days", &u);
    json_decref(root);
    if (rc)
        return oq_error_set(err, OQ_EPARSE, path, je.line, je.column,
                            "not a BG/NBD parameter file (needs numbers r, alpha, a, b): %s",
                            je.text);
    if (unit_days) *unit_days = u;
    rc = oq_bgnbd_params_check(p, err);
    if (rc && err) snprintf(err->file, sizeof err->file, "%s", path);
    return rc;
}

/* ---- per customer ----------------------------------------------------------- */

/* ln of the odds of being dead: ln(a/(b+x-1)) + (r+x) ln((alpha+T)/(alpha+t_x)). */
static double log_dead_odds(const oq_bgnbd_params *p, double x, double tx, double T)
{
    return log(p->a / (p->b + x - 1)) + (p->r + x) * log((p->alpha + T) / (p->alpha + tx));
}

static double expit_neg(double z) /* 1 / (1 + e^z) */
{
    if (z > 0) {
        double e = exp(-z);
        return e / (1 + e);
    }
    return 1 / (1 + exp(z));
}

double oq_bgnbd_p_alive(const oq_bgnbd_params *p, double x, double tx, double T)
{
    if (x <= 0) return 1.0;
    return expit_neg(log_dead_odds(p, x, tx, T));
}

int oq_bgnbd_p_alive_batch(const oq_bgnbd_params *p, const double *x, const double *tx,
                           const double *T, size_t n, double *out)
{
    if (oq_bgnbd_params_check(p, NULL)) return OQ_EINVAL;
    const double r = p->r, al = p->alpha, a = p->a, b = p->b;
    long nn = (long)n;
#ifdef _OPENMP
#pragma omp parallel for schedule(static) if (nn > 100000)
#endif
    for (long i = 0; i < nn; i++) {
        double xi = x[i];
        out[i] =
            xi <= 0 ? 1.0
                    : expit_neg(log(a / (b + xi - 1)) + (r + xi) * log((al + T[i]) / (al + tx[i])));
    }
    return 0;
}

/* 1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) for z in [0, 1). By Euler's
 * transformation (A&S 15.3.3) (1-z)^A 2F1(A,B;C;z) = (1-z)^(C-B) 2F1(C-A, C-B; C; z)
 * with C-A = a+b-1-r and C-B = a-1: small numerator parameters, so the terms
 * never grow much and the series converges for any x (like k^(a-r-x-2) z^k).
 * Summed directly (the 1 kept apart so that 1 - G is exact for small t);
 * when it needs more than SERIES_MAX terms (z very close to 1) GSL's 2F1,
 * which transforms z -> 1-z there, takes over. */
#define SERIES_MAX 20000
int oq_bgnbd_one_minus_g(double r, double a, double b, double x, double z, double *out)
{
    if (z <= 0) {
        *out = 0;
        return 0;
    }
    double p1 = a + b - 1 - r, q = a - 1, c = a + b + x - 1;
    double term = 1, sm1 = 0, prev = 1;
    int ok = 0;
    for (int k = 0; k < SERIES_MAX; k++) {
        double den = (c + k) * (k + 1);
        if (den == 0) break; /* c a non-positive integer: undefined */
        term *= (p1 + k) * (q + k) / den * z;
        sm1 += term;
        if (term == 0) {
            ok = 1;
            break;
        }
        double rho = fabs(term / prev);
        prev = term;
        /* Geometric bound of the tail once the terms shrink steadily. */
        if (k > 2 && rho < 1 && fabs(term) * rho / (1 - rho) <= 1e-17 * fabs(1 + sm1)) {
            ok = 1;
            break;
        }
    }
    /* F = 2F1(C-A, C-B; C; z). It can be negative when C < 0 (x = 0 and
     * a + b < 1); then G = (1-z)^q F < 0 and 1 - G = 1 + |G|. GSL's 2F1 is
     * used only for C > 0: for C in (-1, 0) and z near 1 it returned values
     * of the wrong sign (e.g. a = b = r = 1e-4: +4.9e-5 where mpmath gives
     * -4.9e-5), which made E[X(t)] negative; there we answer OQ_ENUM. */
    double F;
    if (ok) {
        F = 1 + sm1;
    } else {
        gsl_sf_result res;
        if (!(c > 0)) return OQ_ENUM;
        int st = gsl_sf_hyperg_2F1_e(p1, q, c, z, &res);
        if (st != GSL_SUCCESS || !isfinite(res.val)) return OQ_ENUM;
        F = res.val;
    }
    if (F > 0)
        *out = -expm1(q * log1p(-z) + log(F));
    else
        *out = 1 + exp(q * log1p(-z) + log(-F));
    return isfinite(*out) ? 0 : OQ_ENUM;
}

/* FHL eq. 10: (a+b+x-1)/(a-1) [1 - G] / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x)). */
int oq_bgnbd_expected(const oq_bgnbd_params *p, double t, double x, double tx, double T,
                      double *out)
{
    *out = NAN;
    if (!(t >= 0) || !isfinite(t)) return OQ_EINVAL;
    double omg;
    int rc = oq_bgnbd_one_minus_g(p->r, p->a, p->b, x, t / (p->alpha + T + t), &omg);
    if (rc) return rc;
    double e = (p->a + p->b + x - 1) / (p->a - 1) * omg * oq_bgnbd_p_alive(p, x, tx, T);
    if (!isfinite(e) || e < 0) return OQ_ENUM; /* never a wrong number: *out stays NaN */
    *out = e;
    return 0;
}

int oq_bgnbd_expected_batch(const oq_bgnbd_params *p, double t0, const double *t, const double *x,
                            const double *tx, const double *T, size_t n, double *out)
{
    if (oq_bgnbd_params_check(p, NULL)) return OQ_EINVAL;
    int bad = 0;
    long nn = (long)n;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 4096) reduction(| : bad) if (nn > 20000)
#endif
    for (long i = 0; i < nn; i++)
        bad |= oq_bgnbd_expected(p, t ? t[i] : t0, x[i], tx[i], T[i], &out[i]) != 0;
    return bad ? OQ_ENUM : 0;
}

/* FHL eq. 9 is eq. 10 for x = t_x = T = 0. */
int oq_bgnbd_expected_pop(const oq_bgnbd_params *p, double t, double *out)
{
    return oq_bgnbd_expected(p, t, 0, 0, 0, out);
}

/* FHL eq. 8. The finite sum 1 - sum_{j<n} NB(j; r, q) is the negative binomial
 * tail P(J >= n) = I_q(n, r), q = t/(alpha+t) (regularised incomplete beta). */
double oq_bgnbd_p_n(const oq_bgnbd_params *p, double t, int n)
{
    double r = p->r, al = p->alpha, a = p->a, b = p->b;
    if (n < 0) return 0;
    if (t <= 0) return n == 0 ? 1 : 0;
    double lq = log(t / (al + t)), l1q = log(al / (al + t));
    double lbab = gsl_sf_lnbeta(a, b);
    double first = exp(gsl_sf_lnbeta(a, b + n) - lbab + lngamma(r + n) - lngamma(r) -
                       lngamma(n + 1.0) + r * l1q + n * lq);
    if (n == 0) return first;
    gsl_sf_result res;
    double tail;
    if (gsl_sf_beta_inc_e(n, r, t / (al + t), &res) == GSL_SUCCESS) {
        tail = res.val;
    } else {
        double s = 0, lt = r * l1q; /* ln NB(0) */
        for (int j = 0; j < n; j++) {
            s += exp(lt);
            lt += log((r + j) / (j + 1.0)) + lq;
        }
        tail = 1 - s;
    }
    return first + exp(gsl_sf_lnbeta(a + 1, b + n - 1) - lbab) * tail;
}

/* ---- calibration / holdout ------------------------------------------------- */

int oq_bgnbd_holdout_report(const oq_bgnbd_params *p, const oq_bgnbd_summary *s, int max_freq,
                            oq_bgnbd_holdout *h, double *pred, oq_error *err)
{
    memset(h, 0, sizeof *h);
    if (!s->x_holdout || !s->t_holdout)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the summary has no holdout period (give an observation end or "
                            "frequency_holdout,duration_holdout columns)");
    if (max_freq < 1 || max_freq > 63)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "max_freq must be in [1, 63]");
    int rc = oq_bgnbd_params_check(p, err);
    if (rc) return rc;
    h->n_rows = max_freq + 1;
    for (int k = 0; k <= max_freq; k++)
        h->rows[k].freq = k;
    double sp = 0, sa = 0, spp = 0, saa = 0, spa = 0, sabs = 0;
    for (size_t i = 0; i < s->n; i++) {
        double e;
        if (oq_bgnbd_expected(p, s->t_holdout[i], s->x[i], s->tx[i], s->T[i], &e))
            return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "customer %lld: E[X(t)] did not converge",
                                (long long)s->id[i]);
        if (pred) pred[i] = e;
        double y = s->x_holdout[i];
        int k = s->x[i] >= max_freq ? max_freq : (int)s->x[i];
        h->rows[k].n++;
        h->rows[k].actual += y;
        h->rows[k].predicted += e;
        sp += e;
        sa += y;
        spp += e * e;
        saa += y * y;
        spa += e * y;
        sabs += fabs(e - y);
    }
    for (int k = 0; k <= max_freq; k++)
        if (h->rows[k].n) {
            h->rows[k].actual /= (double)h->rows[k].n;
            h->rows[k].predicted /= (double)h->rows[k].n;
        }
    double n = (double)s->n;
    h->mae = sabs / n;
    double cov = spa / n - sp / n * sa / n, vp = spp / n - sp / n * sp / n,
           va = saa / n - sa / n * sa / n;
    h->corr = vp > 0 && va > 0 ? cov / sqrt(vp * va) : NAN;
    h->total_actual = sa;
    h->total_predicted = sp;
    return 0;
}

void oq_bgnbd_holdout_print(const oq_bgnbd_holdout *h, FILE *fp)
{
    fprintf(fp, "calibration  customers  holdout actual  holdout predicted\n");
    for (int k = 0; k < h->n_rows; k++) {
        const oq_bgnbd_holdout_row *r = &h->rows[k];
        fprintf(fp, "%s%-10d %10zu %15.4f %18.4f\n", k == h->n_rows - 1 ? ">=" : "  ", r->freq,
                r->n, r->actual, r->predicted);
    }
    fprintf(fp,
            "total holdout purchases: actual %.1f, predicted %.1f; per customer MAE %.4f, "
            "correlation %.4f\n",
            h->total_actual, h->total_predicted, h->mae, h->corr);
}

void oq_bgnbd_holdout_svg(const oq_bgnbd_holdout *h, const char *title, FILE *fp)
{
    const double W = 640, H = 420, L = 60, R = 20, T = 40, B = 60;
    double ymax = 0;
    for (int k = 0; k < h->n_rows; k++)
        ymax = fmax(ymax, fmax(h->rows[k].actual, h->rows[k].predicted));
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    int nr = h->n_rows > 1 ? h->n_rows : 2;
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">",
            W, H, W / 2);
    oq_svg_text(fp, title);
    fprintf(fp, "</text>\n");
    fprintf(fp, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L,
            H - B, W - R, H - B);
    fprintf(fp, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L, T,
            L, H - B);
    for (int i = 0; i <= 4; i++) {
        double v = ymax * i / 4, y = H - B - (H - B - T) * i / 4;
        fprintf(fp, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", L - 6, y + 4,
                v);
        fprintf(fp, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L,
                y, W - R, y);
    }
    for (int s = 0; s < 2; s++) {
        fprintf(fp, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                s ? "#d62728" : "#1f77b4", s ? " stroke-dasharray=\"6 4\"" : "");
        for (int k = 0; k < h->n_rows; k++) {
            double v = s ? h->rows[k].predicted : h->rows[k].actual;
            fprintf(fp, "%.1f,%.1f ", L + (W - L - R) * k / (nr - 1),
                    H - B - (H - B - T) * v / ymax);
        }
        fprintf(fp, "\"/>\n");
    }
    for (int k = 0; k < h->n_rows; k++)
        fprintf(fp, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s%d</text>\n",
                L + (W - L - R) * k / (nr - 1), H - B + 18, k == h->n_rows - 1 ? "&gt;=" : "",
                h->rows[k].freq);
    fprintf(fp,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">purchases in the calibration "
            "period</text>\n"
            "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
            "text-anchor=\"middle\">mean purchases in the holdout</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">actual</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">BG/NBD prediction</text>\n</svg>\n",
            (L + W - R) / 2, H - 18, (T + H - B) / 2, (T + H - B) / 2, L + 10, T + 14, L + 10,
            T + 30);
}
