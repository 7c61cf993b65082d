/* test_pmodel.c - the P(order | x, coupon) learner (pmodel.h):
 *  - boosted trees against golden predictions of XGBoost's Python API with
 *    the same rows and parameters (tools/pmodel_golden.py): our inputs,
 *    parameters and monotone constraint are the documented ones;
 *  - behaviour on a known truth with an interaction the logistic learner
 *    cannot express: calibration, monotone in the coupon's value, better
 *    decisions than the logistic learner;
 *  - the row cap, determinism, the logistic learner's identity with
 *    oq_resp_fit, and the error paths. */
#include "testutil.h"
#include "offerq/coupon/pmodel.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define F OQ_RESP_NFEAT

static void golden_opts(oq_pmodel_opts *o)
{
    oq_pmodel_opts_default(o);
    o->trees = 60;
    o->seed = 3;
    o->threads = 1;
    o->quiet = 1;
}

static void test_golden(void **state)
{
    (void)state;
    double *tr, *q, *gp;
    size_t n = tu_read_matrix(tu_source("tests/golden/pmodel/train.csv"), F + 2, &tr);
    size_t nq = tu_read_matrix(tu_source("tests/golden/pmodel/query.csv"), F, &q);
    assert_int_equal(tu_read_matrix(tu_source("tests/golden/pmodel/pred.csv"), 4, &gp), nq);
    assert_int_equal(n, 2000);
    oq_resp_feat *X = malloc(n * F * sizeof *X), *Xq = malloc(nq * F * sizeof *Xq);
    uint8_t *cp = malloc(n), *ord = malloc(n);
    double *zero = calloc(n, sizeof *zero), *p = malloc(nq * 4 * sizeof *p);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < F; j++)
            X[i * F + j] = (oq_resp_feat)tr[i * (F + 2) + j];
        cp[i] = (uint8_t)tr[i * (F + 2) + F];
        ord[i] = (uint8_t)tr[i * (F + 2) + F + 1];
    }
    for (size_t i = 0; i < nq * F; i++)
        Xq[i] = (oq_resp_feat)q[i];
    oq_pmodel_opts o;
    golden_opts(&o);
    oq_pmodel *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_pmodel_fit(&o, X, cp, ord, zero, zero, n, &m, &err), 0);
    assert_int_equal(oq_pmodel_predict(m, Xq, nq, p, &err), 0);
    double worst = 0, worst_x = 0, *px = malloc(nq * 4 * sizeof *px);
    assert_int_equal(oq_pmodel_predict_xgboost(m, Xq, nq, px, &err), 0);
    for (size_t i = 0; i < nq * 4; i++) {
        worst = fmax(worst, fabs(p[i] - gp[i]));
        worst_x = fmax(worst_x, fabs(px[i] - gp[i]));
    }
    printf("golden: max |p - p_python| = %.3g (our walk), %.3g (XGBoost's predictor) over %zu\n",
           worst, worst_x, nq * 4);
    assert_true(worst < 1e-6);
    assert_true(worst_x < 1e-6);
    free(px);
    const oq_pmodel_info *info = oq_pmodel_get_info(m);
    assert_int_equal(info->kind, OQ_PMODEL_BOOST);
    assert_int_equal(info->trees, 60);
    assert_int_equal(info->rows_used, n);
    double *pt = malloc(n * 4 * sizeof *pt);
    assert_int_equal(oq_pmodel_predict(m, X, n, pt, &err), 0);
    double ll = oq_pmodel_logloss(pt, cp, ord, n), ll0 = 0, rate = 0;
    for (size_t i = 0; i < n; i++)
        rate += ord[i] / (double)n;
    for (size_t i = 0; i < n; i++)
        ll0 -= ord[i] ? log(rate) / (double)n : log1p(-rate) / (double)n;
    printf("golden: training log-loss %.4f, of the base rate %.4f\n", ll, ll0);
    assert_true(ll < ll0 - 0.02); /* learnt something */
    free(pt);
    assert_null(oq_pmodel_logistic(m));
    oq_pmodel_free(m);
    free(tr), free(q), free(gp), free(X), free(Xq), free(cp), free(ord), free(zero), free(p);
}

/* ---- a known truth -------------------------------------------------------- */

static const double uplift[4] = {0, 0.6, 1.0, 1.4};

static double truth(const oq_resp_feat *x, int c)
{
    double z = -2 + 1.5 * x[0] + (x[1] > 0.5) * uplift[c] - 0.8 * (c > 0) * (x[2] > 0.7);
    return 1 / (1 + exp(-z));
}

static uint64_t lcg(uint64_t *s)
{
    *s = *s * 6364136223846793005ull + 1442695040888963407ull;
    return *s >> 11;
}

static double unif(uint64_t *s)
{
    return (double)lcg(s) * 0x1.0p-53;
}

typedef struct synth {
    size_t n;
    oq_resp_feat *X;
    uint8_t *cp, *ord;
    double *zero;
} synth;

static void make(synth *d, size_t n, uint64_t seed)
{
    d->n = n;
    d->X = malloc(n * F * sizeof *d->X);
    d->cp = malloc(n);
    d->ord = malloc(n);
    d->zero = calloc(n, sizeof *d->zero);
    for (size_t i = 0; i < n; i++) {
        for (int j = 0; j < F; j++)
            d->X[i * F + j] = (oq_resp_feat)unif(&seed);
        d->cp[i] = (uint8_t)(lcg(&seed) % 4);
        d->ord[i] = unif(&seed) < truth(d->X + i * F, d->cp[i]);
    }
}

static void unmake(synth *d)
{
    free(d->X), free(d->cp), free(d->ord), free(d->zero);
}

/* Mean true value of argmax_c p(c) (g - value(c)) with g = 40, and the mean
 * absolute error of p against the truth, over the rows of q. */
static void judge(const double *p, const synth *q, double *value, double *mae)
{
    double v = 0, e = 0;
    for (size_t i = 0; i < q->n; i++) {
        int best = 0;
        for (int c = 1; c < 4; c++)
            if (p[4 * i + c] * (40 - oq_coupon_value(c)) >
                p[4 * i + best] * (40 - oq_coupon_value(best)))
                best = c;
        v += truth(q->X + i * F, best) * (40 - oq_coupon_value(best));
        for (int c = 0; c < 4; c++)
            e += fabs(p[4 * i + c] - truth(q->X + i * F, c));
    }
    *value = v / (double)q->n;
    *mae = e / (4.0 * (double)q->n);
}

static void test_truth(void **state)
{
    (void)state;
    synth d, q;
    make(&d, 40000, 11);
    make(&q, 4000, 12);
    oq_error err = {0};
    oq_pmodel_opts o;
    oq_pmodel_opts_default(&o);
    o.quiet = 1;
    oq_pmodel *mb = NULL, *ml = NULL;
    double *pb = malloc(q.n * 4 * sizeof *pb), *pl = malloc(q.n * 4 * sizeof *pl);
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &mb, &err), 0);
    assert_int_equal(oq_pmodel_predict(mb, q.X, q.n, pb, &err), 0);
    o.kind = OQ_PMODEL_LOGISTIC;
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &ml, &err), 0);
    assert_int_equal(oq_pmodel_predict(ml, q.X, q.n, pl, &err), 0);
    /* Monotone in the coupon's value, for every row (a constraint, not luck). */
    for (size_t i = 0; i < q.n; i++) {
        assert_true(pb[4 * i + 1] <= pb[4 * i + 2] + 1e-7);
        assert_true(pb[4 * i + 2] <= pb[4 * i + 3] + 1e-7);
    }
    /* The oracle's value for reference. */
    double oracle = 0, vb, eb, vl, el;
    for (size_t i = 0; i < q.n; i++) {
        double b = 0;
        for (int c = 0; c < 4; c++)
            b = fmax(b, truth(q.X + i * F, c) * (40 - oq_coupon_value(c)));
        oracle += b;
    }
    oracle /= (double)q.n;
    judge(pb, &q, &vb, &eb);
    judge(pl, &q, &vl, &el);
    printf("truth: boost MAE %.4f value %.4f; logistic MAE %.4f value %.4f; oracle %.4f\n", eb, vb,
           el, vl, oracle);
    assert_true(eb < 0.035);
    assert_true(eb < el);
    assert_true(vb > vl);
    assert_true(vb > 0.98 * oracle);
    /* Our walk of the trees against XGBoost's own predictor on every query row. */
    double *px = malloc(q.n * 4 * sizeof *px), worst = 0;
    assert_int_equal(oq_pmodel_predict_xgboost(mb, q.X, q.n, px, &err), 0);
    for (size_t i = 0; i < q.n * 4; i++)
        worst = fmax(worst, fabs(pb[i] - px[i]));
    printf("truth: max |walk - XGBoost| = %.3g over %zu predictions\n", worst, q.n * 4);
    assert_true(worst < 1e-6);
    assert_int_equal(oq_pmodel_predict_xgboost(ml, q.X, 1, px, &err), OQ_EINVAL);
    free(px);
    oq_pmodel_free(mb);
    oq_pmodel_free(ml);
    free(pb), free(pl);
    unmake(&d);
    unmake(&q);
}

static void test_cap_and_determinism(void **state)
{
    (void)state;
    synth d;
    make(&d, 20000, 5);
    oq_error err = {0};
    oq_pmodel_opts o;
    oq_pmodel_opts_default(&o);
    o.quiet = 1;
    o.trees = 30;
    o.max_rows = 5000;
    oq_pmodel *a = NULL, *b = NULL, *c = NULL;
    double *pa = malloc(d.n * 4 * sizeof *pa), *pb = malloc(d.n * 4 * sizeof *pb);
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &a, &err), 0);
    size_t used = oq_pmodel_get_info(a)->rows_used;
    assert_true(used > 4700 && used < 5300);
    assert_int_equal(oq_pmodel_get_info(a)->rows, d.n);
    o.threads = 2; /* same seed, another thread count: the same model */
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &b, &err), 0);
    assert_int_equal(oq_pmodel_predict(a, d.X, d.n, pa, &err), 0);
    assert_int_equal(oq_pmodel_predict(b, d.X, d.n, pb, &err), 0);
    assert_memory_equal(pa, pb, d.n * 4 * sizeof *pa);
    o.seed = 99; /* another seed: another subsample, other trees */
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &c, &err), 0);
    assert_int_equal(oq_pmodel_predict(c, d.X, d.n, pb, &err), 0);
    assert_memory_not_equal(pa, pb, d.n * 4 * sizeof *pa);
    oq_pmodel_free(a);
    oq_pmodel_free(b);
    oq_pmodel_free(c);
    free(pa), free(pb);
    unmake(&d);
}

static void test_logistic_is_resp(void **state)
{
    (void)state;
    synth d;
    make(&d, 3000, 8);
    oq_error err = {0};
    oq_pmodel_opts o;
    oq_pmodel_opts_default(&o);
    o.kind = OQ_PMODEL_LOGISTIC;
    oq_pmodel *m = NULL;
    oq_resp r;
    double *p = malloc(d.n * 4 * sizeof *p), q[4];
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &m, &err), 0);
    assert_int_equal(oq_resp_fit(d.X, d.cp, d.ord, d.zero, d.zero, d.n, NULL, &r, &err), 0);
    assert_int_equal(oq_pmodel_predict(m, d.X, d.n, p, &err), 0);
    for (size_t i = 0; i < d.n; i++) {
        oq_resp_p_order(&r, d.X + i * F, q);
        for (int c = 0; c < 4; c++)
            assert_true(p[4 * i + c] == q[c]);
    }
    assert_non_null(oq_pmodel_logistic(m));
    assert_string_equal(oq_pmodel_name(OQ_PMODEL_LOGISTIC), "logistic");
    assert_int_equal(oq_pmodel_parse("boost"), OQ_PMODEL_BOOST);
    assert_int_equal(oq_pmodel_parse("trees"), -1);
    oq_pmodel_free(m);
    free(p);
    unmake(&d);
}

static void test_errors(void **state)
{
    (void)state;
    synth d;
    make(&d, 100, 9);
    oq_error err = {0};
    oq_pmodel *m = (oq_pmodel *)&err; /* must come back NULL */
    oq_pmodel_opts o;
    for (int k = 0; k < 5; k++) { /* trees, depth, eta, subsample, kind out of range */
        oq_pmodel_opts_default(&o);
        o.quiet = 1;
        switch (k) {
        case 0:
            o.trees = 0;
            break;
        case 1:
            o.depth = 17;
            break;
        case 2:
            o.eta = 0;
            break;
        case 3:
            o.subsample = 1.5;
            break;
        default:
            o.kind = 7;
            break;
        }
        assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &m, &err),
                         OQ_EINVAL);
        assert_null(m);
        assert_non_null(strstr(err.msg, "P(order) model"));
    }
    oq_pmodel_opts_default(&o);
    o.quiet = 1;
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, 0, &m, &err), OQ_EINVAL);
    d.cp[3] = 4;
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &m, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "coupon 4"));
    d.cp[3] = 1;
    d.X[5 * F + 2] = NAN;
    assert_int_equal(oq_pmodel_fit(&o, d.X, d.cp, d.ord, d.zero, d.zero, d.n, &m, &err), OQ_ENUM);
    assert_null(m);
    unmake(&d);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden),
        cmocka_unit_test(test_truth),
        cmocka_unit_test(test_cap_and_determinism),
        cmocka_unit_test(test_logistic_is_resp),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
