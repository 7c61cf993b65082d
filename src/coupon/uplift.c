/* uplift.c - targeting policy from a randomised campaign log, its off-policy
 * estimates and the recommendations (include/offerq/coupon/uplift.h). */
#include "offerq/coupon/uplift.h"
#include "offerq/core/csv.h"
#include "offerq/core/io.h"
#include "util/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define OFFER_SHARED 1 /* columns after the offer indicators: the redeem cost */

struct oq_uplift_model {
    size_t nattr, K;
    int *is_text;             /* (nattr) */
    size_t *nlevels;          /* (nattr) */
    size_t *col;              /* (nattr) first feature column of each attribute */
    size_t ncol;              /* features: attributes' columns, then K offer indicators,
                                 then OFFER_SHARED columns every offer has (encode) */
    BoosterHandle pb;         /* P(order | x, a) */
    BoosterHandle vb;         /* E[value | ordered, x, a] */
    double *redeem, *contact; /* (K) */
    int fallback;             /* -1: the model's best offer; else this offer for all */
    long vattr;               /* attribute giving V where finite (opts.value_attr); -1 */
    int ladder, control;      /* opts.ladder and the control offer (-1: none) */
};

void oq_uplift_opts_default(oq_uplift_opts *o)
{
    memset(o, 0, sizeof *o);
    o->trees = 200;
    o->depth = 3;
    o->eta = 0.05;
    o->subsample = 0.8;
    o->min_child_weight = 10;
    o->value_min_child_weight = 50;
    o->lambda = 1;
    o->seed = 1;
    o->explore = 0.05;
    o->control = -1;
}

static int xgb_fail(oq_error *err, const char *what)
{
    return oq_error_set(err, OQ_EIO, NULL, 0, 0, "XGBoost %s: %s", what, XGBGetLastError());
}

static int onehot(const oq_uplift_model *m, size_t k)
{
    return m->is_text[k] && m->nlevels[k] <= OQ_UPLIFT_ONEHOT_MAX;
}

/* Customer row i of c shown offer a, as the model's features, into out[ncol]. */
static void encode(const oq_uplift_model *m, const oq_customers *c, size_t i, size_t a, float *out)
{
    for (size_t k = 0; k < m->nattr; k++) {
        double v = c->x[i * c->nattr + k];
        float *o = out + m->col[k];
        if (onehot(m, k)) {
            for (size_t l = 0; l < m->nlevels[k]; l++)
                o[l] = isnan(v) ? NAN : (float)(v == (double)l);
        } else {
            o[0] = (float)v; /* NAN: XGBoost's missing value */
        }
    }
    size_t base = m->ncol - m->K - OFFER_SHARED;
    /* a ladder (opts.ladder): the offers are told apart by their cost alone,
     * the control by its own column too (its step is not constrained) */
    for (size_t b = 0; b < m->K; b++)
        out[base + b] = !m->ladder || (int)b == m->control ? (float)(b == a) : 0.f;
    /* the offer's redeem cost as a number too: a tree can then split cheap
     * offers from dear ones at once, and an offer with few rows shares the
     * effect of offers of similar cost instead of being lumped with the rest
     * (its one-hot column alone cannot be split on); constant (and never
     * split on) when every offer costs the same */
    out[base + m->K] = (float)m->redeem[a];
}

static int set_params(BoosterHandle b, const oq_uplift_opts *o, const char *objective,
                      double base_score, oq_error *err)
{
    char v[8][48];
    int threads = o->threads;
#ifdef _OPENMP
    if (threads == 0) threads = omp_get_max_threads();
#endif
    if (threads <= 0) threads = 1;
    snprintf(v[0], sizeof v[0], "%d", o->depth);
    snprintf(v[1], sizeof v[1], "%.17g", o->eta);
    snprintf(v[2], sizeof v[2], "%.17g", o->subsample);
    snprintf(v[3], sizeof v[3], "%.17g", o->min_child_weight);
    snprintf(v[4], sizeof v[4], "%.17g", o->lambda);
    snprintf(v[5], sizeof v[5], "%d", threads);
    snprintf(v[6], sizeof v[6], "%llu", (unsigned long long)(o->seed & 0x7fffffff));
    snprintf(v[7], sizeof v[7], "%.17g", base_score);
    const char *kv[][2] = {{"objective", objective},
                           {"tree_method", "hist"},
                           {"verbosity", "0"},
                           {"max_depth", v[0]},
                           {"eta", v[1]},
                           {"subsample", v[2]},
                           {"min_child_weight", v[3]},
                           {"lambda", v[4]},
                           {"nthread", v[5]},
                           {"seed", v[6]},
                           {"base_score", v[7]}};
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++)
        if (XGBoosterSetParam(b, kv[k][0], kv[k][1])) return xgb_fail(err, "parameters");
    return 0;
}

/* Fit one booster on X (n, ncol) and labels y (n). */
static int fit_one(const oq_uplift_opts *o, const float *X, const float *y, size_t n, size_t ncol,
                   const char *objective, double base_score, BoosterHandle *out, oq_error *err)
{
    char *mono = NULL; /* opts.ladder: P(order) non-decreasing in the cost, the last column */
    DMatrixHandle d = NULL;
    int rc = 0;
    if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)ncol, NAN, &d) ||
        XGDMatrixSetFloatInfo(d, "label", y, (bst_ulong)n)) {
        rc = xgb_fail(err, "training matrix");
        goto cleanup;
    }
    if (XGBoosterCreate(&d, 1, out)) {
        rc = xgb_fail(err, "booster");
        goto cleanup;
    }
    if ((rc = set_params(*out, o, objective, base_score, err))) goto cleanup;
    if (o->ladder && !strcmp(objective, "binary:logistic")) {
        char *q = mono = malloc(2 * ncol + 2);
        if (!mono) {
            rc = oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
        *q++ = '(';
        for (size_t j = 0; j < ncol; j++) {
            *q++ = j + 1 == ncol ? '1' : '0';
            *q++ = j + 1 < ncol ? ',' : ')';
        }
        *q = 0;
        if (XGBoosterSetParam(*out, "monotone_constraints", mono)) {
            rc = xgb_fail(err, "parameters");
            goto cleanup;
        }
    }
    for (int t = 0; t < o->trees; t++)
        if (XGBoosterUpdateOneIter(*out, t, d)) {
            rc = xgb_fail(err, "training");
            goto cleanup;
        }
cleanup:
    free(mono);
    if (d) XGDMatrixFree(d);
    return rc;
}

static int check_opts(const oq_uplift_opts *o, size_t K, oq_error *err)
{
    if (o->trees < 1 || o->trees > 100000 || o->depth < 1 || o->depth > 16 ||
        !(o->eta > 0 && o->eta <= 1) || !(o->subsample > 0 && o->subsample <= 1) ||
        !(o->min_child_weight >= 0) || !(o->value_min_child_weight >= 0) || !(o->lambda >= 0) ||
        o->threads < 0 || !(o->explore >= 0 && o->explore <= 1) || o->control >= (int)K)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "uplift: trees must be in [1, 100000], depth in [1, 16], eta and "
                            "subsample in (0, 1], explore in [0, 1]");
    return 0;
}

/* The customer row of every contact rows[0..n); OQ_EPARSE for a stranger. */
static int join(const oq_customers *cust, const oq_contacts *ct, const size_t *rows, size_t n,
                size_t *crow, oq_error *err)
{
    for (size_t j = 0; j < n; j++) {
        size_t i = rows ? rows[j] : j;
        if (ct->xrow) { /* a table of one row per contact (rawfeat.h) */
            if (ct->xrow[i] >= cust->n)
                return oq_error_set(err, OQ_EINVAL, ct->path, ct->line[i], 0,
                                    "uplift: the contact's row %zu is not in the table of %zu",
                                    ct->xrow[i], cust->n);
            crow[j] = ct->xrow[i];
            continue;
        }
        long r = oq_customers_find(cust, ct->user[i]);
        if (r < 0)
            return oq_error_set(err, OQ_EPARSE, ct->path, ct->line[i], ct->user_col,
                                "customer \"%.60s\" of this contact is not in the customers "
                                "file: expected every contacted customer's attributes there",
                                ct->user[i]);
        crow[j] = (size_t)r;
    }
    return 0;
}

int oq_uplift_fit(const oq_uplift_opts *o, const oq_customers *cust, const oq_contacts *ct,
                  const size_t *rows, size_t nrows, const oq_offers *offers, oq_uplift_model **out,
                  oq_error *err)
{
    *out = NULL;
    size_t K = offers->n, n = rows ? nrows : ct->n;
    int rc = check_opts(o, K, err);
    if (rc) return rc;
    oq_uplift_model *m = calloc(1, sizeof *m);
    size_t *crow = malloc((n ? n : 1) * sizeof *crow);
    float *X = NULL, *y = NULL, *Xv = NULL, *yv = NULL;
    if (!m || !crow) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    m->nattr = cust->nattr;
    m->K = K;
    size_t na = m->nattr ? m->nattr : 1;
    if (!(m->is_text = calloc(na, sizeof *m->is_text)) ||
        !(m->nlevels = calloc(na, sizeof *m->nlevels)) || !(m->col = calloc(na, sizeof *m->col)) ||
        !(m->redeem = calloc(K, sizeof *m->redeem)) ||
        !(m->contact = calloc(K, sizeof *m->contact))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t k = 0; k < m->nattr; k++) {
        m->is_text[k] = cust->is_text[k];
        m->nlevels[k] = cust->nlevels[k];
        m->col[k] = m->ncol;
        m->ncol += onehot(m, k) ? m->nlevels[k] : 1;
    }
    m->ncol += K + OFFER_SHARED;
    m->fallback = -1;
    m->vattr = -1;
    m->ladder = o->ladder;
    m->control = o->control;
    for (size_t a = 0; o->ladder && a < K; a++)
        for (size_t b = a + 1; b < K; b++)
            if ((int)a != o->control && (int)b != o->control &&
                offers->redeem_cost[a] == offers->redeem_cost[b]) {
                rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                  "uplift: offers \"%s\" and \"%s\" both cost %g: on a discount "
                                  "ladder (--discount-ladder) offers are told apart by their "
                                  "redeem_cost alone, so each needs its own",
                                  offers->name[a], offers->name[b], offers->redeem_cost[a]);
                goto cleanup;
            }
    for (size_t k = 0; o->value_attr && k < m->nattr; k++)
        if (!m->is_text[k] && !strcmp(cust->attr[k], o->value_attr)) m->vattr = (long)k;
    memcpy(m->redeem, offers->redeem_cost, K * sizeof *m->redeem);
    memcpy(m->contact, offers->contact_cost, K * sizeof *m->contact);
    if (n == 0) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "uplift: no contacts to learn from");
        goto cleanup;
    }
    if ((rc = join(cust, ct, rows, n, crow, err))) goto cleanup;
    size_t nord = 0, shown[OQ_TABLES_MAX_OFFERS] = {0};
    for (size_t j = 0; j < n; j++) {
        nord += ct->ordered[rows ? rows[j] : j];
        shown[ct->offer[rows ? rows[j] : j]]++;
    }
    /* an offer never shown has no effect to learn: its predictions would be
     * the trees' guess for an input they never saw */
    for (size_t a = 0; a < K; a++)
        if (shown[a] == 0) {
            rc = oq_error_set(err, OQ_EINVAL, ct->path, 0, 0,
                              "uplift: offer \"%s\" of the catalogue was never shown in the %zu "
                              "contacts learnt from: nothing to learn its effect from (remove it "
                              "from the offers file, or test it first)",
                              offers->name[a], n);
            goto cleanup;
        }
    if (nord == 0 || nord == n) {
        rc = oq_error_set(err, OQ_EINVAL, ct->path, 0, 0,
                          "uplift: %s of the %zu contacts ordered: nothing to learn P(order) from",
                          nord ? "all" : "none", n);
        goto cleanup;
    }
    X = malloc(n * m->ncol * sizeof *X);
    y = malloc(n * sizeof *y);
    Xv = malloc(nord * m->ncol * sizeof *Xv);
    yv = malloc(nord * sizeof *yv);
    if (!X || !y || !Xv || !yv) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    double vsum = 0;
    size_t kv = 0;
    for (size_t j = 0; j < n; j++) {
        size_t i = rows ? rows[j] : j;
        encode(m, cust, crow[j], (size_t)ct->offer[i], X + j * m->ncol);
        y[j] = ct->ordered[i];
        if (ct->ordered[i]) {
            memcpy(Xv + kv * m->ncol, X + j * m->ncol, m->ncol * sizeof *X);
            yv[kv++] = (float)ct->value[i];
            vsum += ct->value[i];
        }
    }
    double rate = (double)nord / (double)n;
    if ((rc = fit_one(o, X, y, n, m->ncol, "binary:logistic", rate, &m->pb, err))) goto cleanup;
    /* squared error: a leaf's hessian is its row count, so this is in rows */
    oq_uplift_opts ov = *o;
    ov.min_child_weight = o->value_min_child_weight;
    rc = fit_one(&ov, Xv, yv, nord, m->ncol, "reg:squarederror", vsum / (double)nord, &m->vb, err);
cleanup:
    free(crow);
    free(X);
    free(y);
    free(Xv);
    free(yv);
    if (rc) {
        oq_uplift_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

static int predict_one(BoosterHandle b, const float *X, size_t n, size_t ncol, double *out,
                       oq_error *err)
{
    DMatrixHandle d = NULL;
    bst_ulong len = 0;
    const float *res = NULL;
    int rc = 0;
    if (XGDMatrixCreateFromMat(X, (bst_ulong)n, (bst_ulong)ncol, NAN, &d) ||
        XGBoosterPredict(b, d, 0, 0, 0, &len, &res) || len != n)
        rc = xgb_fail(err, "prediction");
    else
        for (size_t i = 0; i < n; i++)
            out[i] = res[i];
    if (d) XGDMatrixFree(d);
    return rc;
}

int oq_uplift_predict(const oq_uplift_model *m, const oq_customers *c, const size_t *rows, size_t n,
                      double *p, double *q, oq_error *err)
{
    size_t K = m->K, nk = n * K;
    if (c->nattr != m->nattr)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "uplift: %zu attributes, the model learnt from %zu", c->nattr,
                            m->nattr);
    if (n == 0) return 0;
    float *X = malloc(nk * m->ncol * sizeof *X);
    double *v = malloc(nk * sizeof *v);
    int rc = 0;
    if (!X || !v) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t j = 0; j < n; j++)
        for (size_t a = 0; a < K; a++)
            encode(m, c, rows ? rows[j] : j, a, X + (j * K + a) * m->ncol);
    if ((rc = predict_one(m->pb, X, nk, m->ncol, p, err))) goto cleanup;
    if ((rc = predict_one(m->vb, X, nk, m->ncol, v, err))) goto cleanup;
    for (size_t j = 0; j < n; j++) {
        double g = m->vattr < 0 ? NAN : c->x[(rows ? rows[j] : j) * c->nattr + (size_t)m->vattr];
        for (size_t a = 0; a < K; a++) {
            size_t t = j * K + a;
            if (isfinite(g)) v[t] = g;
            q[t] = p[t] * (v[t] - m->redeem[a]) - m->contact[a];
        }
    }
cleanup:
    free(X);
    free(v);
    return rc;
}

void oq_uplift_free(oq_uplift_model *m)
{
    if (!m) return;
    if (m->pb) XGBoosterFree(m->pb);
    if (m->vb) XGBoosterFree(m->vb);
    free(m->is_text);
    free(m->nlevels);
    free(m->col);
    free(m->redeem);
    free(m->contact);
    free(m);
}

/* ---- estimators ---------------------------------------------------------------- */

/* Mean and standard error (sample sd / sqrt(n)) of t[0..n). */
static void mean_se(const double *t, size_t n, double *mean, double *se)
{
    double s = 0, s2 = 0;
    for (size_t i = 0; i < n; i++)
        s += t[i];
    double mu = s / (double)n;
    for (size_t i = 0; i < n; i++)
        s2 += (t[i] - mu) * (t[i] - mu);
    *mean = mu;
    *se = sqrt(s2 / (double)(n - 1) / (double)n);
}

int oq_uplift_ope(size_t n, size_t K, const int *a, const double *r, const double *mu,
                  const double *pi, const double *q, oq_uplift_est *out, oq_error *err)
{
    out->dr = out->dr_se = NAN;
    if (n < 2) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "off-policy estimate: %zu rows", n);
    double *t = malloc(n * sizeof *t);
    if (!t) return oq_error_oom(err, NULL, "off-policy estimate");
    int rc = 0;
    double sw = 0, swr = 0, matched = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(mu[i] > 0 && mu[i] <= 1) || a[i] < 0 || (size_t)a[i] >= K) {
            rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                              "off-policy estimate: row %zu has propensity %g of offer %d", i,
                              mu[i], a[i]);
            goto cleanup;
        }
        double w = pi[i * K + (size_t)a[i]] / mu[i];
        t[i] = w * r[i];
        sw += w;
        swr += w * r[i];
        matched += pi[i * K + (size_t)a[i]] > 0;
    }
    mean_se(t, n, &out->ips, &out->ips_se);
    out->matched = matched / (double)n;
    /* SNIPS and its delta-method standard error */
    out->snips = sw > 0 ? swr / sw : NAN;
    double s2 = 0;
    for (size_t i = 0; i < n; i++) {
        double w = pi[i * K + (size_t)a[i]] / mu[i];
        s2 += w * w * (r[i] - out->snips) * (r[i] - out->snips);
    }
    out->snips_se = sw > 0 ? sqrt(s2) / sw : NAN;
    if (q) {
        for (size_t i = 0; i < n; i++) {
            double dm = 0;
            for (size_t b = 0; b < K; b++)
                dm += pi[i * K + b] * q[i * K + b];
            double w = pi[i * K + (size_t)a[i]] / mu[i];
            t[i] = dm + w * (r[i] - q[i * K + (size_t)a[i]]);
        }
        mean_se(t, n, &out->dr, &out->dr_se);
    }
cleanup:
    free(t);
    return rc;
}

typedef struct ranked {
    double s;
    size_t i;
} ranked;

static int cmp_ranked(const void *x, const void *y)
{
    const ranked *a = x, *b = y;
    if (a->s != b->s) return a->s > b->s ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

int oq_uplift_qini(size_t n, const double *score, const uint8_t *treated, const double *y,
                   double *qini, double *curve, oq_error *err)
{
    *qini = NAN;
    ranked *rk = malloc((n ? n : 1) * sizeof *rk);
    if (!rk) return oq_error_oom(err, NULL, "Qini");
    size_t nt = 0;
    for (size_t i = 0; i < n; i++) {
        rk[i] = (ranked){isnan(score[i]) ? -INFINITY : score[i], i};
        nt += treated[i] != 0;
    }
    if (curve) curve[0] = 0;
    if (nt == 0 || nt == n) {
        free(rk);
        return 0;
    }
    qsort(rk, n, sizeof *rk, cmp_ranked);
    /* the curve first (Q(N) is needed for the random line) */
    double *Q = curve ? curve : malloc((n + 1) * sizeof *Q);
    if (!Q) {
        free(rk);
        return oq_error_oom(err, NULL, "Qini");
    }
    double yt = 0, yc = 0;
    size_t ct = 0, cc = 0;
    Q[0] = 0;
    for (size_t k = 1; k <= n; k++) {
        size_t i = rk[k - 1].i;
        if (treated[i]) {
            yt += y[i];
            ct++;
        } else {
            yc += y[i];
            cc++;
        }
        Q[k] = cc ? yt - yc * (double)ct / (double)cc : 0;
    }
    double area = 0, N = (double)n;
    for (size_t k = 1; k <= n; k++)
        area += Q[k] - (double)k / N * Q[n];
    *qini = area / N / N;
    if (!curve) free(Q);
    free(rk);
    return 0;
}

/* ---- a whole evaluation ---------------------------------------------------------- */

static int argmax(const double *q, size_t K)
{
    size_t b = 0;
    for (size_t a = 1; a < K; a++)
        if (q[a] > q[b]) b = a;
    return (int)b;
}

/* Estimates on rows of ct (n of them, all) with predictions p, q (n, K);
 * ext (n, may be NULL): a given policy's offer per row, estimated as "run"
 * in place of the learned policies. */
static int evaluate_rows(const oq_uplift_opts *o, const oq_contacts *ct, const oq_offers *offers,
                         const double *p, const double *q, const int *ext, oq_uplift_report *rep,
                         oq_error *err)
{
    size_t n = ct->n, K = offers->n;
    int rc = 0;
    double *r = malloc(n * sizeof *r), *mu = malloc(n * sizeof *mu);
    double *pi = malloc(n * K * sizeof *pi), *s = malloc(n * sizeof *s);
    double *y = malloc(n * sizeof *y);
    uint8_t *tr = malloc(n);
    ranked *rk = malloc(n * sizeof *rk);
    double *curve = calloc(n + 1, sizeof *curve);
    if (!r || !mu || !pi || !s || !y || !tr || !rk || !curve) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    memset(rep, 0, sizeof *rep);
    rep->rows = n;
    size_t cnt[OQ_TABLES_MAX_OFFERS] = {0};
    for (size_t i = 0; i < n; i++)
        cnt[ct->offer[i]]++;
    for (size_t a = 0; a < K; a++)
        rep->share[a] = (double)cnt[a] / (double)n;
    rep->propensity_estimated = ct->propensity == NULL;
    double rsum = 0;
    for (size_t i = 0; i < n; i++) {
        int a = ct->offer[i];
        r[i] = ct->value[i] - offers->redeem_cost[a] * ct->ordered[i] - offers->contact_cost[a];
        mu[i] = ct->propensity ? ct->propensity[i] : rep->share[a];
        rsum += r[i];
    }
    rep->mean_reward = rsum / (double)n;
    /* the learned policy, greedy and with exploration, then each fixed offer */
    if (ext) {
        for (size_t i = 0; i < n; i++)
            for (size_t a = 0; a < K; a++)
                pi[i * K + a] = (int)a == ext[i];
        oq_uplift_policy_est *pe = &rep->pol[rep->npol++];
        snprintf(pe->name, sizeof pe->name, "run");
        if ((rc = oq_uplift_ope(n, K, ct->offer, r, mu, pi, q, &pe->est, err))) goto cleanup;
    }
    for (int v = 0; v < 2 && !ext; v++) {
        if (v == 1 && !(o->explore > 0)) continue;
        double e = v ? o->explore : 0;
        for (size_t i = 0; i < n; i++) {
            int g = argmax(q + i * K, K);
            for (size_t a = 0; a < K; a++)
                pi[i * K + a] = (1 - e) * ((int)a == g) + e / (double)K;
        }
        oq_uplift_policy_est *pe = &rep->pol[rep->npol++];
        snprintf(pe->name, sizeof pe->name, "%s", v ? "learned+explore" : "learned");
        if ((rc = oq_uplift_ope(n, K, ct->offer, r, mu, pi, q, &pe->est, err))) goto cleanup;
    }
    for (size_t b = 0; b < K; b++) {
        for (size_t i = 0; i < n; i++)
            for (size_t a = 0; a < K; a++)
                pi[i * K + a] = a == b;
        oq_uplift_policy_est *pe = &rep->pol[rep->npol++];
        snprintf(pe->name, sizeof pe->name, "offer:%s", offers->name[b]);
        if ((rc = oq_uplift_ope(n, K, ct->offer, r, mu, pi, q, &pe->est, err))) goto cleanup;
    }
    /* Qini of "any offer vs the control": by order uplift, and by profit uplift */
    rep->qini_order = rep->qini_profit = NAN;
    for (int d = 0; d <= OQ_UPLIFT_DECILES; d++)
        rep->qini_curve[d] = NAN;
    if (o->control >= 0) {
        size_t c = (size_t)o->control;
        for (int v = 0; v < 2; v++) {
            const double *m = v ? q : p;
            for (size_t i = 0; i < n; i++) {
                double best = -INFINITY;
                for (size_t a = 0; a < K; a++)
                    if (a != c && m[i * K + a] > best) best = m[i * K + a];
                s[i] = best - m[i * K + c];
                tr[i] = ct->offer[i] != o->control;
                y[i] = v ? r[i] : ct->ordered[i];
            }
            if ((rc = oq_uplift_qini(n, s, tr, y, v ? &rep->qini_profit : &rep->qini_order,
                                     v ? NULL : curve, err)))
                goto cleanup;
            for (int d = 0; !v && d <= OQ_UPLIFT_DECILES; d++)
                rep->qini_curve[d] = curve[(size_t)d * n / OQ_UPLIFT_DECILES] / (double)n;
        }
    }
    /* calibration of P(order | x, logged offer): deciles of the prediction */
    double ll = 0;
    for (size_t i = 0; i < n; i++) {
        double pp = p[i * K + (size_t)ct->offer[i]];
        rk[i] = (ranked){pp, i};
        double cl = fmin(fmax(pp, 1e-12), 1 - 1e-12);
        ll -= ct->ordered[i] ? log(cl) : log1p(-cl);
    }
    rep->logloss = ll / (double)n;
    qsort(rk, n, sizeof *rk, cmp_ranked);
    for (size_t k = 0; k < n; k++) {
        size_t d = OQ_UPLIFT_DECILES - 1 - k * OQ_UPLIFT_DECILES / n; /* ascending deciles */
        rep->cal_pred[d] += rk[k].s;
        rep->cal_obs[d] += ct->ordered[rk[k].i];
        rep->cal_n[d]++;
    }
    for (int d = 0; d < OQ_UPLIFT_DECILES; d++) {
        rep->cal_pred[d] = rep->cal_n[d] ? rep->cal_pred[d] / (double)rep->cal_n[d] : NAN;
        rep->cal_obs[d] = rep->cal_n[d] ? rep->cal_obs[d] / (double)rep->cal_n[d] : NAN;
    }
cleanup:
    free(r);
    free(mu);
    free(pi);
    free(s);
    free(y);
    free(tr);
    free(rk);
    free(curve);
    return rc;
}

static int cmp_strp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Distinct customers (by id) among the contacts. */
static size_t count_customers(const oq_contacts *ct)
{
    char **u = malloc((ct->n ? ct->n : 1) * sizeof *u);
    size_t k = 0;
    if (!u) return 0;
    memcpy(u, ct->user, ct->n * sizeof *u);
    qsort(u, ct->n, sizeof *u, cmp_strp);
    for (size_t i = 0; i < ct->n; i++)
        k += i == 0 || strcmp(u[i], u[i - 1]) != 0;
    free(u);
    return k;
}

int oq_uplift_crossfit(const oq_uplift_opts *o, const oq_customers *cust, const oq_contacts *ct,
                       const oq_offers *offers, oq_uplift_report *out, oq_error *err)
{
    return oq_uplift_crossfit_policy(o, cust, ct, offers, NULL, out, err);
}

int oq_uplift_crossfit_policy(const oq_uplift_opts *o, const oq_customers *cust,
                              const oq_contacts *ct, const oq_offers *offers, const int *policy,
                              oq_uplift_report *out, oq_error *err)
{
    size_t n = ct->n, K = offers->n;
    oq_uplift_model *m = NULL;
    size_t *rows = malloc(n * sizeof *rows), *crow = malloc(n * sizeof *crow);
    size_t *test = malloc(n * sizeof *test);
    double *p = malloc(n * K * sizeof *p), *q = malloc(n * K * sizeof *q);
    double *pf = malloc(n * K * sizeof *pf), *qf = malloc(n * K * sizeof *qf);
    int rc = 0;
    if (!rows || !crow || !test || !p || !q || !pf || !qf) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if ((rc = join(cust, ct, NULL, n, crow, err))) goto cleanup;
    for (unsigned f = 0; f < 2; f++) {
        size_t ntr = 0, nte = 0;
        for (size_t i = 0; i < n; i++) {
            unsigned fold = (unsigned)(oq_user_hash(ct->user[i], o->seed) & 1);
            if (fold == f)
                test[nte++] = i;
            else
                rows[ntr++] = i;
        }
        if (nte == 0) continue;
        if ((rc = oq_uplift_fit(o, cust, ct, rows, ntr, offers, &m, err))) goto cleanup;
        for (size_t j = 0; j < nte; j++)
            rows[j] = crow[test[j]];
        if ((rc = oq_uplift_predict(m, cust, rows, nte, pf, qf, err))) goto cleanup;
        for (size_t j = 0; j < nte; j++) {
            memcpy(p + test[j] * K, pf + j * K, K * sizeof *p);
            memcpy(q + test[j] * K, qf + j * K, K * sizeof *q);
        }
        oq_uplift_free(m);
        m = NULL;
    }
    if ((rc = evaluate_rows(o, ct, offers, p, q, policy, out, err))) goto cleanup;
    out->customers = count_customers(ct);
cleanup:
    oq_uplift_free(m);
    free(rows);
    free(crow);
    free(test);
    free(p);
    free(q);
    free(pf);
    free(qf);
    return rc;
}

int oq_uplift_holdout(const oq_uplift_opts *o, const oq_uplift_model *m, const oq_customers *cust,
                      const oq_contacts *ct, const oq_offers *offers, oq_uplift_report *out,
                      oq_error *err)
{
    size_t n = ct->n, K = offers->n;
    size_t *crow = malloc(n * sizeof *crow);
    double *p = malloc(n * K * sizeof *p), *q = malloc(n * K * sizeof *q);
    int rc = 0;
    if (!crow || !p || !q) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if ((rc = join(cust, ct, NULL, n, crow, err))) goto cleanup;
    if ((rc = oq_uplift_predict(m, cust, crow, n, p, q, err))) goto cleanup;
    if ((rc = evaluate_rows(o, ct, offers, p, q, NULL, out, err))) goto cleanup;
    out->customers = count_customers(ct);
cleanup:
    free(crow);
    free(p);
    free(q);
    return rc;
}

void oq_uplift_print(const oq_uplift_report *r, const char *title, void *fpv)
{
    FILE *fp = fpv;
    fprintf(fp, "%s: %zu contacts of %zu customers, mean net reward %.4f per contact\n", title,
            r->rows, r->customers, r->mean_reward);
    if (r->propensity_estimated)
        fprintf(fp, "  propensities: ESTIMATED as each offer's share of the log (the log has no "
                    "propensity column; right only for a randomised test with fixed shares)\n");
    fprintf(fp, "  value per contact, 95 %% intervals:\n");
    fprintf(fp, "  %-24s %10s %23s %10s %23s %10s %23s\n", "policy", "IPS", "", "SNIPS", "", "DR",
            "");
    for (size_t k = 0; k < r->npol; k++) {
        const oq_uplift_est *e = &r->pol[k].est;
        fprintf(fp,
                "  %-24.24s %10.4f [%9.4f, %9.4f] %10.4f [%9.4f, %9.4f] %10.4f [%9.4f, %9.4f]\n",
                r->pol[k].name, e->ips, e->ips - OQ_UPLIFT_Z95 * e->ips_se,
                e->ips + OQ_UPLIFT_Z95 * e->ips_se, e->snips,
                e->snips - OQ_UPLIFT_Z95 * e->snips_se, e->snips + OQ_UPLIFT_Z95 * e->snips_se,
                e->dr, e->dr - OQ_UPLIFT_Z95 * e->dr_se, e->dr + OQ_UPLIFT_Z95 * e->dr_se);
    }
    fprintf(fp,
            "  Qini coefficient (any offer vs the control): %.6f orders, %.6f net reward "
            "per contact\n",
            r->qini_order, r->qini_profit);
    fprintf(fp, "  Qini curve (incremental orders per contact, top 0, 10, ..., 100 %%):");
    for (int d = 0; d <= OQ_UPLIFT_DECILES; d++)
        fprintf(fp, " %.4f", r->qini_curve[d]);
    fprintf(fp, "\n");
    fprintf(fp, "  calibration of P(order) (log-loss %.4f):\n  %-8s %10s %10s %8s\n", r->logloss,
            "decile", "predicted", "observed", "rows");
    for (int d = 0; d < OQ_UPLIFT_DECILES; d++)
        fprintf(fp, "  %-8d %10.4f %10.4f %8zu\n", d + 1, r->cal_pred[d], r->cal_obs[d],
                r->cal_n[d]);
}

static json_t *num(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

static json_t *report_json(const oq_uplift_report *r, const oq_offers *offers)
{
    json_t *o = json_object(), *pol = json_array(), *cal = json_array(), *sh = json_object();
    if (!o || !pol || !cal || !sh) {
        json_decref(o);
        json_decref(pol);
        json_decref(cal);
        json_decref(sh);
        return NULL;
    }
    json_object_set_new(o, "contacts", json_integer((json_int_t)r->rows));
    json_object_set_new(o, "customers", json_integer((json_int_t)r->customers));
    json_object_set_new(o, "mean_reward", num(r->mean_reward));
    json_object_set_new(
        o, "propensity",
        json_string(r->propensity_estimated ? "estimated: offer shares" : "logged"));
    for (size_t a = 0; a < offers->n; a++)
        json_object_set_new(sh, offers->name[a], num(r->share[a]));
    json_object_set_new(o, "offer_shares", sh);
    for (size_t k = 0; k < r->npol; k++) {
        const oq_uplift_est *e = &r->pol[k].est;
        json_t *p = json_pack("{s:s, s:o, s:o, s:o, s:o, s:o, s:o, s:o}", "policy", r->pol[k].name,
                              "ips", num(e->ips), "ips_se", num(e->ips_se), "snips", num(e->snips),
                              "snips_se", num(e->snips_se), "dr", num(e->dr), "dr_se",
                              num(e->dr_se), "matched", num(e->matched));
        if (p) {
            json_t *ci = json_pack("[o, o]", num(e->ips - OQ_UPLIFT_Z95 * e->ips_se),
                                   num(e->ips + OQ_UPLIFT_Z95 * e->ips_se));
            json_t *cs = json_pack("[o, o]", num(e->snips - OQ_UPLIFT_Z95 * e->snips_se),
                                   num(e->snips + OQ_UPLIFT_Z95 * e->snips_se));
            json_t *cd = json_pack("[o, o]", num(e->dr - OQ_UPLIFT_Z95 * e->dr_se),
                                   num(e->dr + OQ_UPLIFT_Z95 * e->dr_se));
            json_object_set_new(p, "ips_ci95", ci ? ci : json_null());
            json_object_set_new(p, "snips_ci95", cs ? cs : json_null());
            json_object_set_new(p, "dr_ci95", cd ? cd : json_null());
        }
        json_array_append_new(pol, p ? p : json_null());
    }
    json_object_set_new(o, "policies", pol);
    json_object_set_new(o, "qini_order", num(r->qini_order));
    json_object_set_new(o, "qini_profit", num(r->qini_profit));
    json_t *qc = json_array();
    for (int d = 0; qc && d <= OQ_UPLIFT_DECILES; d++)
        json_array_append_new(qc, num(r->qini_curve[d]));
    json_object_set_new(o, "qini_curve_order", qc ? qc : json_null());
    json_object_set_new(o, "logloss", num(r->logloss));
    for (int d = 0; d < OQ_UPLIFT_DECILES; d++) {
        json_t *c =
            json_pack("{s:i, s:o, s:o, s:I}", "decile", d + 1, "predicted", num(r->cal_pred[d]),
                      "observed", num(r->cal_obs[d]), "rows", (json_int_t)r->cal_n[d]);
        json_array_append_new(cal, c ? c : json_null());
    }
    json_object_set_new(o, "calibration", cal);
    return o;
}

int oq_uplift_write_json(const char *path, const oq_uplift_report *crossfit,
                         const oq_uplift_report *holdout, const oq_offers *offers,
                         const char *deployed, oq_error *err)
{
    json_t *root = json_object();
    if (!root) return oq_error_oom(err, path, "JSON");
    json_object_set_new(root, "estimator_note",
                        json_string("value per contact; 95 % intervals = estimate +- 1.96 se; "
                                    "crossfit: 2 folds by customer; qini: Radcliffe 2007, area "
                                    "between the Qini curve and random targeting, per contact"));
    if (deployed) json_object_set_new(root, "deployed", json_string(deployed));
    if (crossfit) json_object_set_new(root, "crossfit", report_json(crossfit, offers));
    if (holdout) json_object_set_new(root, "holdout", report_json(holdout, offers));
    int rc = oq_json_write_atomic(path, root, err);
    json_decref(root);
    return rc;
}

int oq_uplift_select(const oq_uplift_opts *o, const oq_customers *cust, const oq_contacts *ct,
                     const oq_offers *offers, oq_uplift_opts *best, int *which, double *dr,
                     oq_error *err)
{
    static const struct {
        int depth;
        double mcw, vmcw;
    } cand[OQ_UPLIFT_NCAND] = {{3, 10, 50}, {2, 20, 100}, {4, 5, 30}, {1, 10, 50}};
    double top = -INFINITY;
    *best = *o;
    for (int k = 0; k < OQ_UPLIFT_NCAND; k++) {
        oq_uplift_opts c = *o;
        c.depth = cand[k].depth;
        c.min_child_weight = cand[k].mcw;
        c.value_min_child_weight = cand[k].vmcw;
        oq_uplift_report r;
        int rc = oq_uplift_crossfit(&c, cust, ct, offers, &r, err);
        if (rc) return rc;
        double v = r.pol[0].est.dr;
        if (dr) dr[k] = v;
        if (v > top) {
            top = v;
            *best = c;
            if (which) *which = k;
        }
    }
    return 0;
}

int oq_uplift_guard(const oq_uplift_report *cf, int *fixed)
{
    *fixed = -1;
    double best = -INFINITY;
    for (size_t k = 0; k < cf->npol; k++)
        if (!strncmp(cf->pol[k].name, "offer:", 6) && cf->pol[k].est.dr > best) {
            best = cf->pol[k].est.dr;
            *fixed = (int)k;
        }
    if (*fixed < 0 || cf->pol[0].est.dr > best) {
        *fixed = -1;
        return -1;
    }
    /* the fixed offers follow the learned policies in catalogue order */
    size_t first = 0;
    while (first < cf->npol && strncmp(cf->pol[first].name, "offer:", 6) != 0)
        first++;
    *fixed -= (int)first;
    return *fixed;
}

void oq_uplift_set_fallback(oq_uplift_model *m, int offer)
{
    m->fallback = offer >= 0 && (size_t)offer < m->K ? offer : -1;
}

/* ---- recommendations ------------------------------------------------------------ */

typedef struct gain {
    double ratio; /* extra profit per unit of extra cost */
    size_t i;
} gain;

static int cmp_gain(const void *x, const void *y)
{
    const gain *a = x, *b = y;
    if (a->ratio != b->ratio) return a->ratio > b->ratio ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

int oq_uplift_recommend(const oq_uplift_opts *o, const oq_uplift_model *m, const oq_customers *c,
                        const oq_offers *offers, const char *path, size_t *count,
                        double *total_profit, oq_error *err)
{
    size_t n = c->n, K = offers->n;
    double *p = calloc(n * K, sizeof *p), *q = calloc(n * K, sizeof *q);
    int *pick = malloc(n * sizeof *pick);
    double *prop = malloc(n * sizeof *prop);
    gain *g = malloc(n * sizeof *g);
    oq_afile af = {0};
    int rc = 0;
    if (!p || !q || !pick || !prop || !g) {
        rc = oq_error_oom(err, path, NULL);
        goto cleanup;
    }
    if ((rc = oq_uplift_predict(m, c, NULL, n, p, q, err))) goto cleanup;
    /* the cheapest offer stands in when the budget runs out: the control if any */
    size_t cheap = o->control >= 0 ? (size_t)o->control : 0;
    if (o->control < 0)
        for (size_t a = 1; a < K; a++)
            if (offers->contact_cost[a] + offers->redeem_cost[a] <
                offers->contact_cost[cheap] + offers->redeem_cost[cheap])
                cheap = a;
    for (size_t i = 0; i < n; i++)
        pick[i] = m->fallback >= 0 ? m->fallback : argmax(q + i * K, K);
    if (o->budget > 0) {
        double spent = 0;
        size_t ng = 0;
        for (size_t i = 0; i < n; i++) {
            const double *pi = p + i * K;
            double base = offers->redeem_cost[cheap] * pi[cheap] + offers->contact_cost[cheap];
            double cost =
                offers->redeem_cost[pick[i]] * pi[pick[i]] + offers->contact_cost[pick[i]];
            spent += base;
            if ((size_t)pick[i] == cheap) continue;
            double extra = cost - base, gn = q[i * K + pick[i]] - q[i * K + cheap];
            g[ng++] = (gain){extra > 0 ? gn / extra : INFINITY, i};
        }
        qsort(g, ng, sizeof *g, cmp_gain);
        for (size_t k = 0; k < ng; k++) {
            size_t i = g[k].i;
            const double *pi = p + i * K;
            double extra = offers->redeem_cost[pick[i]] * pi[pick[i]] +
                           offers->contact_cost[pick[i]] -
                           (offers->redeem_cost[cheap] * pi[cheap] + offers->contact_cost[cheap]);
            if (spent + extra <= o->budget || extra <= 0)
                spent += extra;
            else
                pick[i] = (int)cheap;
        }
    }
    /* exploration: a draw per customer from its id and the seed */
    for (size_t i = 0; i < n; i++) {
        double u = (double)(oq_user_hash(c->user[i], o->seed ^ 0x5EEDE8B1u) >> 11) * 0x1.0p-53;
        double e = o->explore;
        int chosen = pick[i];
        if (e > 0 && u < e) {
            size_t a = (size_t)(u / e * (double)K);
            pick[i] = (int)(a < K ? a : K - 1);
        }
        prop[i] = (1 - e) * (pick[i] == chosen) + e / (double)K;
    }
    if (count) memset(count, 0, K * sizeof *count);
    double tot = 0;
    /* from here to the commit nothing fails: no abort path */
    if ((rc = oq_afile_open(&af, path, err))) goto cleanup;
    fputs("user_id,offer,expected_profit,propensity", af.fp);
    for (size_t a = 0; a < K; a++) {
        char h[OQ_TABLES_MAX_ID + 32];
        snprintf(h, sizeof h, "expected_profit_%s", offers->name[a]);
        fputc(',', af.fp);
        oq_csv_write_field(af.fp, h);
    }
    fputc('\n', af.fp);
    for (size_t i = 0; i < n; i++) {
        oq_csv_write_field(af.fp, c->user[i]);
        fputc(',', af.fp);
        oq_csv_write_field(af.fp, offers->name[pick[i]]);
        fprintf(af.fp, ",%.6f,%.6f", q[i * K + pick[i]], prop[i]);
        for (size_t a = 0; a < K; a++)
            fprintf(af.fp, ",%.6f", q[i * K + a]);
        fputc('\n', af.fp);
        tot += q[i * K + pick[i]];
        if (count) count[pick[i]]++;
    }
    rc = oq_afile_commit(&af, err);
    if (total_profit) *total_profit = tot;
cleanup:
    free(p);
    free(q);
    free(pick);
    free(prop);
    free(g);
    return rc;
}
