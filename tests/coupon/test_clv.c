/* test_clv.c - the CLV term of the coupon plan (clv.h): the BG/NBD value of
 * an order caused tomorrow against golden values (tools/clv_golden.py,
 * mpmath quadrature over the posterior), the term's zero where a coupon
 * changes nothing, and the plan changed only through that term. */
#include "testutil.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/clv.h"
#include "offerq/coupon/gen.h"
#include "offerq/coupon/pipeline.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_order_delta_golden(void **st)
{
    (void)st;
    double *g;
    size_t n = tu_read_matrix(tu_source("tests/data/clv/order_delta.csv"), 9, &g);
    assert_int_equal(n, 80);
    for (size_t i = 0; i < n; i++) {
        const double *c = g + i * 9;
        oq_bgnbd_params p = {.r = c[0], .alpha = c[1], .a = c[2], .b = c[3]};
        double d;
        assert_int_equal(oq_clv_order_delta(&p, c[4], c[5], c[6], c[7], &d), 0);
        if (!(fabs(d - c[8]) <= 1e-10 * fabs(c[8]) + 1e-14)) {
            fprintf(stderr, "case %zu: %.17g, golden %.17g\n", i, d, c[8]);
            fail();
        }
    }
    free(g);
}

/* The value's shape: 0 over no time, falling with the horizon, never below
 * -1 (one future purchase), closer to -1 for frequent buyers; t_x plays no
 * part (the customer is known alive), discounting shrinks it. */
static void test_order_delta_shape(void **st)
{
    (void)st;
    oq_bgnbd_params p = {.r = 0.6, .alpha = 20, .a = 0.8, .b = 2.5};
    double prev = 0;
    for (double days = 1; days <= 3650; days *= 2) {
        double d;
        assert_int_equal(oq_clv_order_delta(&p, 2, 100, days, 0, &d), 0);
        assert_true(d < prev && d >= -1);
        prev = d;
    }
    assert_true(prev < -0.7); /* ten years: most of a purchase */
    double d0, d1, dd;
    assert_int_equal(oq_clv_order_delta(&p, 2, 100, 0, 0, &d0), 0);
    assert_true(d0 == 0);
    oq_bgnbd_params fast = p;
    fast.alpha = 2; /* ten times the purchase rate */
    assert_int_equal(oq_clv_order_delta(&p, 2, 100, 30, 0, &d0), 0);
    assert_int_equal(oq_clv_order_delta(&fast, 2, 100, 30, 0, &d1), 0);
    assert_true(d1 < d0);
    assert_int_equal(oq_clv_order_delta(&p, 2, 100, 365, 0.5, &dd), 0);
    assert_int_equal(oq_clv_order_delta(&p, 2, 100, 365, 0, &d1), 0);
    assert_true(dd > d1 && dd < 0);
    /* bad arguments */
    oq_bgnbd_params bad = p;
    bad.a = -1;
    assert_int_equal(oq_clv_order_delta(&bad, 2, 100, 30, 0, &d0), OQ_EINVAL);
    assert_true(isnan(d0));
    assert_int_equal(oq_clv_order_delta(&p, -1, 100, 30, 0, &d0), OQ_EINVAL);
    assert_int_equal(oq_clv_order_delta(&p, 2, 100, 30, -1, &d0), OQ_EINVAL);
}

/* --clv-model log: the Wald estimate on a small randomised log (500
 * customers of offerq gen, seed 7) against numpy's (tools/clv_log_check.py),
 * and the refusals. */
static void test_log_delta(void **st)
{
    (void)st;
    oq_log *log = NULL;
    oq_alive *alive = NULL;
    oq_error err = {0};
    const char *lp = tu_source("tests/data/clv/log.csv");
    assert_int_equal(oq_log_read(lp, &log, &err), 0);
    oq_alive_opts ao = {.log_path = lp, .quiet = 1};
    assert_int_equal(oq_alive_fit(log, &ao, &alive, &err), 0);
    assert_true(oq_alive_from_file(alive)); /* the .orders.csv sidecar */
    int32_t end = oq_log_last_day(log) + 1;
    double *g;
    size_t n = tu_read_matrix(tu_source("tests/data/clv/log_wald.csv"), 4, &g);
    assert_int_equal(n, 2);
    for (size_t k = 0; k < n; k++) {
        double w, se;
        size_t used;
        assert_int_equal(oq_clv_log_delta(alive, log, end, g[k * 4], &w, &se, &used, &err), 0);
        assert_int_equal(used, (size_t)g[k * 4 + 3]);
        assert_true(fabs(w - g[k * 4 + 1]) < 1e-12);
        assert_true(fabs(se - g[k * 4 + 2]) < 1e-12);
    }
    free(g);
    /* no contact with 200 days of the log after it */
    double w, se;
    size_t used;
    assert_int_equal(oq_clv_log_delta(alive, log, end, 200, &w, &se, &used, &err), OQ_EINVAL);
    assert_true(isnan(w));
    /* coupons that move nothing: every row's order set to 0 */
    memset(log->order, 0, log->n);
    assert_int_equal(oq_clv_log_delta(alive, log, end, 30, &w, &se, &used, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "do not move"));
    oq_alive_free(alive);
    oq_log_free(log);
}

/* The term is the caused change in P(order) times V: nothing for a coupon
 * that changes nothing, nothing for "none", whatever V. */
static void test_add(void **st)
{
    (void)st;
    const double V[3] = {-12.5, 40, 0};
    const double po[12] = {0.3, 0.3, 0.3, 0.3, 0.1, 0.15, 0.25, 0.05, 0.9, 0.2, 0.4, 0.6};
    double val[12] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, v0[12];
    memcpy(v0, val, sizeof val);
    oq_clv_add(3, V, po, 0.5, val);
    for (int a = 0; a < 4; a++) {
        assert_true(val[a] == v0[a]);         /* P(order) the same for every coupon */
        assert_true(val[8 + a] == v0[8 + a]); /* V = 0 */
    }
    assert_true(val[4] == v0[4]); /* none */
    assert_true(fabs(val[5] - (6 + 0.5 * 0.05 * 40)) < 1e-12);
    assert_true(fabs(val[6] - (7 + 0.5 * 0.15 * 40)) < 1e-12);
    assert_true(fabs(val[7] - (8 - 0.5 * 0.05 * 40)) < 1e-12);
}

static int argmax4(const double *v)
{
    int b = 0;
    for (int a = 1; a < 4; a++)
        if (v[a] > v[b]) b = a;
    return b;
}

/* The nightly plan with --clv-weight: without a budget each customer gets
 * the argmax of r~ + term, r~ itself is the plan's without the weight, and
 * the term is 0 for "none". Weight 0 is the plan without the option. */
static void test_plan(void **st)
{
    (void)st;
    char *dir = tu_tmpdir();
    char log_path[600];
    snprintf(log_path, sizeof log_path, "%s/log.csv", dir);
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    cfg.n_customers = 1500;
    cfg.quiet = 1;
    assert_int_equal(oq_gen_write(&cfg, log_path, NULL), 0);
    oq_pipeline_result *r[3] = {NULL, NULL, NULL};
    const double w[3] = {0, 0, 2};
    for (int k = 0; k < 3; k++) {
        oq_pipeline_opts o;
        oq_pipeline_opts_default(&o);
        o.log_path = log_path;
        o.quiet = 1;
        o.pmodel.trees = 60;
        o.dq.epochs = 1;
        if (k) o.clv.weight = w[k];
        oq_error err = {0};
        assert_int_equal(oq_pipeline_run(&o, NULL, &r[k], &err), 0);
    }
    assert_null(r[0]->clv_term);
    assert_null(r[1]->clv_term);
    assert_non_null(r[2]->clv_term);
    assert_int_equal(r[0]->n, r[2]->n);
    size_t changed = 0, neg = 0;
    for (size_t c = 0; c < r[0]->n; c++) {
        assert_int_equal(r[0]->coupon[c], r[1]->coupon[c]);
        assert_memory_equal(r[0]->values + c * 4, r[2]->values + c * 4, 4 * sizeof(double));
        const double *t = r[2]->clv_term + c * 4;
        assert_true(t[0] == 0);
        double v[4];
        for (int a = 0; a < 4; a++) {
            neg += t[a] < 0;
            v[a] = r[2]->values[c * 4 + a] + t[a];
        }
        assert_int_equal(r[0]->coupon[c], argmax4(r[0]->values + c * 4));
        assert_int_equal(r[2]->coupon[c], argmax4(v));
        changed += r[2]->coupon[c] != r[0]->coupon[c];
    }
    assert_true(neg > r[0]->n); /* coupons raise P(order): the term bites */
    assert_true(changed > 0);
    for (int k = 0; k < 3; k++)
        oq_pipeline_result_free(r[k]);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_delta_golden),
        cmocka_unit_test(test_order_delta_shape),
        cmocka_unit_test(test_log_delta),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
