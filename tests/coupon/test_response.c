/* test_response.c - the coupon response model (response.h) against golden
 * values recomputed independently with numpy by tools/response_golden.py
 * from the same CSV files (features, knots, standardisation, the Newton fit
 * of each coupon's logistic regression, r^), plus its error paths. */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/coupon/response.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct fixture {
    oq_log *log;
    oq_events *ev;
    oq_log_index *ix;
    oq_events_ix *evx;
    int32_t tomorrow;
    oq_resp_feat *X, *Xt;
} fixture;

static void load(fixture *fx)
{
    oq_error err = {0};
    memset(fx, 0, sizeof *fx);
    assert_int_equal(oq_log_read(tu_source("tests/data/response/log.csv"), &fx->log, &err), 0);
    assert_int_equal(oq_events_read(tu_source("tests/data/response/log.events.csv"), &fx->log->cats,
                                    &fx->ev, &err),
                     0);
    assert_int_equal(oq_log_index_build(fx->log, &fx->ix, &err), 0);
    assert_int_equal(oq_events_ix_build(fx->ev, fx->ix, &fx->evx, &err), 0);
    int32_t last = INT32_MIN;
    for (size_t i = 0; i < fx->log->n; i++)
        last = fx->log->day[i] > last ? fx->log->day[i] : last;
    fx->tomorrow = last + 1;
    fx->X = malloc(fx->log->n * OQ_RESP_NFEAT * sizeof *fx->X);
    fx->Xt = malloc(fx->ix->n_customers * OQ_RESP_NFEAT * sizeof *fx->Xt);
    assert_int_equal(
        oq_resp_features(fx->log, fx->ix, fx->ev, fx->evx, fx->tomorrow, fx->X, fx->Xt, &err), 0);
}

static void unload(fixture *fx)
{
    free(fx->X);
    free(fx->Xt);
    oq_events_ix_free(fx->evx);
    oq_log_index_free(fx->ix);
    oq_events_free(fx->ev);
    oq_log_free(fx->log);
}

static void assert_close(double got, double want, double tol, const char *what, size_t i, int j)
{
    if (fabs(got - want) > tol * (1 + fabs(want))) {
        fprintf(stderr, "%s[%zu][%d]: got %.17g, want %.17g\n", what, i, j, got, want);
        fail();
    }
}

static void test_features_golden(void **state)
{
    (void)state;
    fixture fx;
    load(&fx);
    double *g;
    size_t n =
        tu_read_matrix(tu_source("tests/golden/response/row_features.csv"), OQ_RESP_NFEAT, &g);
    assert_int_equal(n, fx.log->n);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < OQ_RESP_NFEAT; j++)
            assert_close(fx.X[i * OQ_RESP_NFEAT + j], g[i * OQ_RESP_NFEAT + j], 2e-7, "row", i, j);
    free(g);
    n = tu_read_matrix(tu_source("tests/golden/response/tom_features.csv"), OQ_RESP_NFEAT, &g);
    assert_int_equal(n, fx.ix->n_customers);
    for (size_t i = 0; i < n; i++)
        for (int j = 0; j < OQ_RESP_NFEAT; j++)
            assert_close(fx.Xt[i * OQ_RESP_NFEAT + j], g[i * OQ_RESP_NFEAT + j], 2e-7, "tomorrow",
                         i, j);
    free(g);
    /* Without events the browsing features are 0, the rest unchanged. */
    oq_resp_feat *X0 = malloc(fx.log->n * OQ_RESP_NFEAT * sizeof *X0);
    oq_error err = {0};
    assert_int_equal(oq_resp_features(fx.log, fx.ix, NULL, NULL, fx.tomorrow, X0, NULL, &err), 0);
    for (size_t i = 0; i < fx.log->n; i++) {
        assert_close(X0[i * OQ_RESP_NFEAT + 0], 0.3f, 0, "no-events rate", i, 0);
        assert_close(X0[i * OQ_RESP_NFEAT + 1], 0, 0, "no-events visits", i, 1);
        for (int j = 3; j < OQ_RESP_NFEAT; j++)
            assert_close(X0[i * OQ_RESP_NFEAT + j], fx.X[i * OQ_RESP_NFEAT + j], 0, "no-events", i,
                         j);
    }
    free(X0);
    /* The same events in reverse order (so the index sorts them): the same
     * features. */
    {
        FILE *f = fopen(tu_source("tests/data/response/log.events.csv"), "r");
        assert_non_null(f);
        char line[256], *lines[20000];
        size_t nl = 0, len = 0;
        while (nl < 20000 && fgets(line, sizeof line, f)) {
            lines[nl] = strdup(line);
            len += strlen(line);
            nl++;
        }
        fclose(f);
        assert_true(nl > 2 && nl < 20000);
        char *buf = malloc(len + 1), *p = buf;
        p += sprintf(p, "%s", lines[0]);
        for (size_t k = nl - 1; k >= 1; k--)
            p += sprintf(p, "%s", lines[k]);
        oq_events *rev = NULL;
        oq_events_ix *rix = NULL;
        assert_int_equal(oq_events_read_mem("reversed", buf, len, &fx.log->cats, &rev, &err), 0);
        assert_int_equal(oq_events_ix_build(rev, fx.ix, &rix, &err), 0);
        assert_non_null(rix->order);
        assert_null(fx.evx->order); /* the file was sorted: no permutation */
        oq_resp_feat *Xr = malloc(fx.log->n * OQ_RESP_NFEAT * sizeof *Xr);
        assert_int_equal(oq_resp_features(fx.log, fx.ix, rev, rix, fx.tomorrow, Xr, NULL, &err), 0);
        assert_memory_equal(Xr, fx.X, fx.log->n * OQ_RESP_NFEAT * sizeof *Xr);
        free(Xr);
        oq_events_ix_free(rix);
        oq_events_free(rev);
        free(buf);
        for (size_t k = 0; k < nl; k++)
            free(lines[k]);
    }
    /* Events without their index are refused. */
    assert_int_equal(oq_resp_features(fx.log, fx.ix, fx.ev, NULL, fx.tomorrow, fx.X, NULL, &err),
                     OQ_EINVAL);
    unload(&fx);
}

static void test_fit_golden(void **state)
{
    (void)state;
    fixture fx;
    load(&fx);
    oq_error err = {0};
    oq_resp m;
    assert_int_equal(oq_resp_fit(fx.X, fx.log->coupon, fx.log->order, fx.log->profit, fx.log->aov,
                                 fx.log->n, NULL, &m, &err),
                     0);
    double *g;
    const int NI = OQ_RESP_NIN;
    /* model.csv lines: knots, mean, std, 4 weight rows, losses, gross */
    double *knots, *mean, *std, *w, *loss, *gross;
    FILE *fp = fopen(tu_source("tests/golden/response/model.csv"), "r");
    char line[16384];
    double *rows[9] = {0};
    int widths[9] = {OQ_RESP_NKNOT, NI, NI, NI + 1, NI + 1, NI + 1, NI + 1, 4, 4};
    int r = 0;
    while (r < 9 && fgets(line, sizeof line, fp)) {
        if (line[0] == '#') continue;
        rows[r] = malloc((size_t)widths[r] * sizeof **rows);
        char *p = line;
        for (int j = 0; j < widths[r]; j++) {
            char *e;
            rows[r][j] = strtod(p, &e);
            assert_true(e != p);
            p = *e == ',' ? e + 1 : e;
        }
        r++;
    }
    fclose(fp);
    assert_int_equal(r, 9);
    knots = rows[0];
    mean = rows[1];
    std = rows[2];
    loss = rows[7];
    gross = rows[8];
    for (int k = 0; k < OQ_RESP_NKNOT; k++)
        assert_close(m.knot[k], knots[k], 1e-12, "knot", 0, k);
    for (int j = 0; j < NI; j++) {
        assert_close(m.mean[j], mean[j], 1e-10, "mean", 0, j);
        assert_close(m.std[j], std[j], 1e-10, "std", 0, j);
    }
    for (int c = 0; c < 4; c++) {
        w = rows[3 + c];
        assert_true(m.converged[c]);
        assert_close(m.loss[c], loss[c], 1e-9, "loss", (size_t)c, 0);
        for (int j = 0; j <= NI; j++)
            assert_close(m.w[c][j], w[j], 1e-6, "weight", (size_t)c, j);
    }
    assert_close(m.gross_b0, gross[0], 1e-10, "gross_b0", 0, 0);
    assert_close(m.gross_b1, gross[1], 1e-10, "gross_b1", 0, 0);
    assert_close(m.gross_s2, gross[2], 1e-10, "gross_s2", 0, 0);
    assert_close(m.gross_mean, gross[3], 1e-12, "gross_mean", 0, 0);
    size_t n = tu_read_matrix(tu_source("tests/golden/response/rhat.csv"), 4, &g);
    assert_int_equal(n, fx.ix->n_customers);
    for (size_t i = 0; i < n; i++) {
        double rh[4], p[4];
        oq_resp_rhat(&m, fx.Xt + i * OQ_RESP_NFEAT, rh);
        oq_resp_p_order(&m, fx.Xt + i * OQ_RESP_NFEAT, p);
        for (int c = 0; c < 4; c++) {
            assert_close(rh[c], g[i * 4 + c], 1e-6, "rhat", i, c);
            assert_true(p[c] > 0 && p[c] < 1);
        }
    }
    free(g);
    for (int k = 0; k < 9; k++)
        free(rows[k]);
    unload(&fx);
}

static void test_errors(void **state)
{
    (void)state;
    fixture fx;
    load(&fx);
    oq_error err = {0};
    oq_resp m;
    size_t n = fx.log->n;
    uint8_t *cp = malloc(n);
    /* A coupon never offered: it borrows the cheaper coupon's weights, so it
     * is never better than that coupon; without the no-coupon arm, none
     * borrows coupon 5's weights and is preferred to it. */
    for (size_t i = 0; i < n; i++)
        cp[i] = fx.log->coupon[i] == 3 ? 2 : fx.log->coupon[i];
    assert_int_equal(
        oq_resp_fit(fx.X, cp, fx.log->order, fx.log->profit, fx.log->aov, n, NULL, &m, &err), 0);
    assert_int_equal(m.n_rows[3], 0);
    assert_memory_equal(m.w[3], m.w[2], sizeof m.w[3]);
    for (size_t c = 0; c < fx.ix->n_customers; c++) {
        double rh[4];
        oq_resp_rhat(&m, fx.Xt + c * OQ_RESP_NFEAT, rh);
        assert_true(rh[3] < rh[2]);
    }
    for (size_t i = 0; i < n; i++)
        cp[i] = fx.log->coupon[i] == 0 ? 1 : fx.log->coupon[i];
    assert_int_equal(
        oq_resp_fit(fx.X, cp, fx.log->order, fx.log->profit, fx.log->aov, n, NULL, &m, &err), 0);
    assert_memory_equal(m.w[0], m.w[1], sizeof m.w[0]);
    for (int c = 0; c < 4; c++)
        cp[c] = 7;
    assert_int_equal(
        oq_resp_fit(fx.X, cp, fx.log->order, fx.log->profit, fx.log->aov, n, NULL, &m, &err),
        OQ_EINVAL);
    /* A non-finite feature. */
    double keep = fx.X[5];
    fx.X[5] = NAN;
    assert_int_equal(oq_resp_fit(fx.X, fx.log->coupon, fx.log->order, fx.log->profit, fx.log->aov,
                                 n, NULL, &m, &err),
                     OQ_ENUM);
    fx.X[5] = keep;
    assert_int_equal(oq_resp_fit(fx.X, fx.log->coupon, fx.log->order, fx.log->profit, fx.log->aov,
                                 0, NULL, &m, &err),
                     OQ_EINVAL);
    /* An arm where nobody ordered: the barely penalised intercept stays
     * finite and P(order) is small, never NaN. */
    uint8_t *ord = malloc(n);
    for (size_t i = 0; i < n; i++)
        ord[i] = fx.log->coupon[i] == 1 ? 0 : fx.log->order[i];
    assert_int_equal(
        oq_resp_fit(fx.X, fx.log->coupon, ord, fx.log->profit, fx.log->aov, n, NULL, &m, &err), 0);
    double p[4];
    oq_resp_p_order(&m, fx.Xt, p);
    assert_true(isfinite(m.w[1][0]) && p[1] >= 0 && p[1] < 0.01);
    free(ord);
    free(cp);
    unload(&fx);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features_golden),
        cmocka_unit_test(test_fit_golden),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
