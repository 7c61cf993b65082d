/* response.c - coupon response model (response.h): history features, one
 * ridge logistic regression per coupon fitted by Newton's method, and
 * r^ = P(order | x, c) (g(x) - value(c)). */
#include "offerq/coupon/response.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <gsl/gsl_sort.h>
#include <gsl/gsl_statistics_double.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define F OQ_RESP_NFEAT
#define NI OQ_RESP_NIN
#define P (OQ_RESP_NIN + 1)

const char *oq_resp_features_name(int mode)
{
    return mode == OQ_RESP_FEATURES_RAW           ? "raw"
           : mode == OQ_RESP_FEATURES_NO_EVIDENCE ? "no-evidence"
                                                  : "all";
}

int oq_resp_features_parse(const char *s)
{
    if (!strcmp(s, "all")) return OQ_RESP_FEATURES_ALL;
    if (!strcmp(s, "no-evidence")) return OQ_RESP_FEATURES_NO_EVIDENCE;
    if (!strcmp(s, "raw")) return OQ_RESP_FEATURES_RAW;
    return -1;
}

void oq_resp_opts_default(oq_resp_opts *o)
{
    o->ridge = 1e-3;
    o->max_iter = 50;
    o->tol = 1e-10;
}

/* ---- features ---------------------------------------------------------------- */

typedef struct hist {
    long n_ev, same; /* active days seen, consecutive pairs on the same category */
    int last_cat;
    int32_t first_day, last_day;
    double cnt[4]; /* contacts without coupon, their orders, with coupon, their orders */
} hist;

static void put_features(const hist *h, size_t n30, int32_t t, double days_since, double p30,
                         double aov, oq_resp_feat *f)
{
    double pairs = h->n_ev > 1 ? (double)(h->n_ev - 1) : 0;
    int32_t span = t - h->first_day;
    f[0] = (oq_resp_feat)(((double)h->same + 0.3) / (pairs + 1));
    f[1] = (oq_resp_feat)(h->n_ev ? (double)h->n_ev / (span > 1 ? span : 1) : 0);
    f[2] = (oq_resp_feat)((double)n30 / 30.0);
    f[3] = (oq_resp_feat)((h->cnt[1] + 0.2) / (h->cnt[0] + 1));
    f[4] = (oq_resp_feat)((h->cnt[3] + 0.2) / (h->cnt[2] + 1));
    f[5] = (oq_resp_feat)(h->cnt[0]);
    f[6] = (oq_resp_feat)(h->cnt[2]);
    f[7] = (oq_resp_feat)(log1p(days_since));
    f[8] = (oq_resp_feat)(p30);
    f[9] = (oq_resp_feat)(log1p(aov));
    f[10] = 1; /* P(alive): filled by the caller */
    f[11] = 0; /* browse concentration evidence: filled by the caller */
}

/* One customer: its rows in day order, then (tom_f) tomorrow. Two cursors
 * walk the events: ej (first event on or after the query day) and w (first
 * event inside the 30-day window). */
static void customer_features(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                              const oq_events_ix *evx, size_t c, int32_t tomorrow,
                              oq_resp_feat *row_f, oq_resp_feat *tom_f)
{
    size_t s = ix->start[c], e = ix->start[c + 1];
    size_t ej = evx ? evx->lo[c] : 0, eh = evx ? evx->hi[c] : 0, w = ej, k = s;
    hist h;
    memset(&h, 0, sizeof h);
    h.last_cat = -1;
    h.last_day = INT32_MIN;
    for (size_t q = s; q <= e; q++) {
        int tom = q == e;
        if (tom && (!tom_f || e == s)) break;
        int32_t t = tom ? tomorrow : log->day[ix->row[q]];
        for (; ej < eh && ev->day[oq_events_ix_at(evx, ej)] < t; ej++) {
            size_t id = oq_events_ix_at(evx, ej);
            if (ev->day[id] == h.last_day) continue; /* one active day, counted once */
            if (h.n_ev == 0)
                h.first_day = ev->day[id];
            else
                h.same += ev->category[id] == h.last_cat;
            h.last_cat = ev->category[id];
            h.last_day = ev->day[id];
            h.n_ev++;
        }
        size_t n30 = 0;
        while (w < ej && ev->day[oq_events_ix_at(evx, w)] < t - 30)
            w++;
        for (size_t j = w; j < ej; j++) /* distinct days, as above */
            n30 +=
                j == w || ev->day[oq_events_ix_at(evx, j)] != ev->day[oq_events_ix_at(evx, j - 1)];
        for (; k < e && log->day[ix->row[k]] < t; k++) {
            size_t r = ix->row[k];
            int a = log->coupon[r] ? 2 : 0;
            h.cnt[a] += 1;
            h.cnt[a + 1] += log->order[r];
        }
        if (!tom) {
            size_t r = ix->row[q];
            put_features(&h, n30, t, log->days_since[r], log->purchases_30d[r], log->aov[r],
                         row_f + r * F);
        } else {
            size_t r = ix->row[e - 1];
            double gap = (double)tomorrow - log->day[r];
            double ds = log->order[r] ? gap : log->days_since[r] + gap;
            put_features(&h, n30, t, ds < 0 ? 0 : ds, log->purchases_30d[r], log->aov[r],
                         tom_f + c * F);
        }
    }
}

int oq_resp_features(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                     const oq_events_ix *evx, int32_t tomorrow, oq_resp_feat *row_f,
                     oq_resp_feat *tom_f, oq_error *err)
{
    if (!ev != !evx)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "events given without their index");
    if (evx && evx->n_customers != ix->n_customers)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "events index of another log");
    if (tom_f) memset(tom_f, 0, ix->n_customers * F * sizeof *tom_f);
    long nc = (long)ix->n_customers;
#pragma omp parallel for schedule(dynamic, 256)
    for (long c = 0; c < nc; c++)
        customer_features(log, ix, ev, evx, (size_t)c, tomorrow, row_f, tom_f);
    return 0;
}

/* ---- fit ---------------------------------------------------------------------- */

/* Raw model inputs of features x: x, then the hinges on x[0]. */
static void inputs(const oq_resp *m, const oq_resp_feat *x, double *u)
{
    for (int j = 0; j < F; j++)
        u[j] = x[j];
    for (int k = 0; k < OQ_RESP_NKNOT; k++)
        u[F + k] = x[0] > m->knot[k] ? x[0] - m->knot[k] : 0;
}

static double softplus(double x)
{
    return x > 0 ? x + log1p(exp(-x)) : log1p(exp(x));
}

static double sigmoid(double x)
{
    return x >= 0 ? 1 / (1 + exp(-x)) : exp(x) / (1 + exp(x));
}

/* Penalty weight of coefficient j (the intercept is barely penalised). */
static double pen(double ridge, int j)
{
    return j ? ridge : ridge * 1e-4;
}

/* The arm's rows: the rows of X with coupon c, as standardised inputs with a
 * leading 1 (computed on the fly: nothing of size n is allocated). */
typedef struct arm {
    const oq_resp *m;
    const oq_resp_feat *X;
    const uint8_t *coupon, *order;
    size_t n;
    int c;
    size_t rows; /* number of rows with coupon c */
} arm;

static void arm_z(const arm *a, size_t i, double *z)
{
    double u[NI];
    inputs(a->m, a->X + i * F, u);
    z[0] = 1;
    for (int j = 0; j < NI; j++)
        z[1 + j] = (u[j] - a->m->mean[j]) / a->m->std[j];
}

/* Objective at w: mean negative log-likelihood + penalty. */
static double objective(const arm *a, const double *w, double ridge)
{
    double s = 0, z[P];
    for (size_t i = 0; i < a->n; i++) {
        if (a->coupon[i] != a->c) continue;
        arm_z(a, i, z);
        double eta = 0;
        for (int j = 0; j < P; j++)
            eta += z[j] * w[j];
        s += softplus(eta) - a->order[i] * eta;
    }
    s /= (double)a->rows;
    for (int j = 0; j < P; j++)
        s += 0.5 * pen(ridge, j) * w[j] * w[j];
    return s;
}

static int fit_arm(const arm *a, const oq_resp_opts *o, double *w, double *loss, int *iters,
                   int *converged, oq_error *err)
{
    double g[P], H[P * P], dw[P], wn[P], z[P];
    double m = (double)a->rows;
    memset(w, 0, P * sizeof *w);
    double L = objective(a, w, o->ridge);
    *converged = 0;
    int it;
    for (it = 0; it < o->max_iter; it++) {
        memset(g, 0, sizeof g);
        memset(H, 0, sizeof H);
        for (size_t i = 0; i < a->n; i++) {
            if (a->coupon[i] != a->c) continue;
            arm_z(a, i, z);
            double eta = 0;
            for (int j = 0; j < P; j++)
                eta += z[j] * w[j];
            double p = sigmoid(eta), r = p - a->order[i], v = p * (1 - p);
            for (int j = 0; j < P; j++) {
                g[j] += r * z[j];
                for (int l = 0; l <= j; l++)
                    H[j * P + l] += v * z[j] * z[l];
            }
        }
        for (int j = 0; j < P; j++) {
            g[j] = g[j] / m + pen(o->ridge, j) * w[j];
            for (int l = 0; l <= j; l++) {
                H[j * P + l] /= m;
                H[l * P + j] = H[j * P + l];
            }
            H[j * P + j] += pen(o->ridge, j);
        }
        gsl_matrix_view Hm = gsl_matrix_view_array(H, P, P);
        gsl_vector_view gv = gsl_vector_view_array(g, P), dv = gsl_vector_view_array(dw, P);
        if (gsl_linalg_cholesky_decomp1(&Hm.matrix) ||
            gsl_linalg_cholesky_solve(&Hm.matrix, &gv.vector, &dv.vector))
            return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "response model: Newton solve failed");
        double dec = 0; /* Newton decrement^2 = g' H^-1 g; the step is -dw */
        for (int j = 0; j < P; j++)
            dec += g[j] * dw[j];
        if (!isfinite(dec))
            return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "response model: non-finite gradient");
        if (dec / 2 < o->tol) {
            *converged = 1;
            break;
        }
        double t = 1, Ln = L;
        for (int b = 0; b < 40; b++, t /= 2) {
            for (int j = 0; j < P; j++)
                wn[j] = w[j] - t * dw[j];
            Ln = objective(a, wn, o->ridge);
            if (Ln <= L - 0.25 * t * dec) break;
        }
        if (!(Ln <= L)) { /* no decrease even for a tiny step: at the optimum numerically */
            *converged = 1;
            break;
        }
        memcpy(w, wn, sizeof wn);
        L = Ln;
    }
    *loss = L;
    *iters = it;
    return 0;
}

int oq_resp_fit(const oq_resp_feat *X, const uint8_t *coupon, const uint8_t *order,
                const double *profit, const double *aov, size_t n, const oq_resp_opts *o,
                oq_resp *out, oq_error *err)
{
    oq_resp_opts def;
    if (!o) {
        oq_resp_opts_default(&def);
        o = &def;
    }
    memset(out, 0, sizeof *out);
    if (n == 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "response model: no rows");
    for (size_t i = 0; i < n * F; i++)
        if (!isfinite(X[i]))
            return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "response model: non-finite feature");
    int rc = 0;
    double *x0 = malloc(n * sizeof *x0); /* feature 0, sorted for its deciles */
    if (!x0) return oq_error_oom(err, NULL, NULL);
    for (size_t i = 0; i < n; i++)
        x0[i] = X[i * F];
    gsl_sort(x0, 1, n);
    for (int k = 0; k < OQ_RESP_NKNOT; k++)
        out->knot[k] = gsl_stats_quantile_from_sorted_data(x0, 1, n, (k + 1) / 10.0);
    double s1[NI] = {0}, s2[NI] = {0}, u[NI];
    for (size_t i = 0; i < n; i++) { /* two-pass mean and variance */
        inputs(out, X + i * F, u);
        for (int j = 0; j < NI; j++)
            s1[j] += u[j];
    }
    for (int j = 0; j < NI; j++)
        out->mean[j] = s1[j] / (double)n;
    for (size_t i = 0; i < n; i++) {
        inputs(out, X + i * F, u);
        for (int j = 0; j < NI; j++)
            s2[j] += (u[j] - out->mean[j]) * (u[j] - out->mean[j]);
    }
    for (int j = 0; j < NI; j++) {
        double sd = sqrt(s2[j] / (double)n);
        out->std[j] = sd > 1e-12 ? sd : 1;
    }
    double gm = 0, no = 0, sx = 0, sy = 0, nl = 0;
    for (size_t i = 0; i < n; i++) {
        if (coupon[i] > 3) {
            rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "response model: coupon %d", coupon[i]);
            goto cleanup;
        }
        out->n_rows[coupon[i]]++;
        out->orders[coupon[i]] += order[i];
        if (order[i]) {
            gm += profit[i];
            no++;
            if (aov[i] > 0 && profit[i] > 0) {
                sx += log(aov[i]);
                sy += log(profit[i]);
                nl++;
            }
        }
    }
    out->gross_mean = no > 0 ? gm / no : 0;
    /* g: OLS of log gross profit on log avg_order_value over the orders
     * (two passes), E[g] = exp(b0 + b1 log aov + s2 / 2) (lognormal mean). */
    if (nl >= 2) {
        double mx = sx / nl, my = sy / nl, sxx = 0, sxy = 0, see = 0;
        for (size_t i = 0; i < n; i++)
            if (order[i] && aov[i] > 0 && profit[i] > 0) {
                double dx = log(aov[i]) - mx;
                sxx += dx * dx;
                sxy += dx * (log(profit[i]) - my);
            }
        out->gross_b1 = sxx > 0 ? sxy / sxx : 0;
        out->gross_b0 = my - out->gross_b1 * mx;
        for (size_t i = 0; i < n; i++)
            if (order[i] && aov[i] > 0 && profit[i] > 0) {
                double e = log(profit[i]) - out->gross_b0 - out->gross_b1 * log(aov[i]);
                see += e * e;
            }
        out->gross_s2 = see / nl;
        out->gross_n = (size_t)nl;
    }
    for (int c = 0; c < 4 && !rc; c++) {
        if (!out->n_rows[c]) continue;
        arm am = {.m = out,
                  .X = X,
                  .coupon = coupon,
                  .order = order,
                  .n = n,
                  .c = c,
                  .rows = out->n_rows[c]};
        rc = fit_arm(&am, o, out->w[c], &out->loss[c], &out->iters[c], &out->converged[c], err);
    }
    /* A coupon never offered has no data: it borrows the weights of the
     * nearest cheaper coupon that has (else the nearest dearer one), i.e. it
     * is assumed to move nobody, so it costs more for the same orders and the
     * plan never picks it. */
    for (int c = 0; c < 4 && !rc; c++) {
        if (out->n_rows[c]) continue;
        int from = -1;
        for (int d = c - 1; d >= 0 && from < 0; d--)
            if (out->n_rows[d]) from = d;
        for (int d = c + 1; d < 4 && from < 0; d++)
            if (out->n_rows[d]) from = d;
        memcpy(out->w[c], out->w[from], sizeof out->w[c]); /* n > 0: some arm has rows */
        out->converged[c] = out->converged[from];
    }
cleanup:
    free(x0);
    return rc;
}

void oq_resp_p_order(const oq_resp *m, const oq_resp_feat *x, double p[4])
{
    double u[NI];
    inputs(m, x, u);
    for (int c = 0; c < 4; c++) {
        double eta = m->w[c][0];
        for (int j = 0; j < NI; j++)
            eta += m->w[c][1 + j] * (u[j] - m->mean[j]) / m->std[j];
        p[c] = sigmoid(eta);
    }
}

double oq_resp_gross(const oq_resp *m, const oq_resp_feat *x)
{
    double aov = expm1(x[9]);
    return aov > 0 && m->gross_n >= 2
               ? exp(m->gross_b0 + m->gross_b1 * log(aov) + 0.5 * m->gross_s2)
               : m->gross_mean;
}

void oq_resp_rhat(const oq_resp *m, const oq_resp_feat *x, double rhat[4])
{
    double p[4];
    oq_resp_p_order(m, x, p);
    double g = oq_resp_gross(m, x);
    for (int c = 0; c < 4; c++)
        rhat[c] = p[c] * (g - oq_coupon_value(c));
}
