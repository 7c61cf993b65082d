/* test_bgnbd_plot.c - BG/NBD diagnostics (btyd_plot.c): the grids equal the
 * scoring functions cell by cell; the period counts against a Monte Carlo
 * simulation of the BG/NBD story itself (independent of FHL eq. 8, which the
 * counts use) and against hand-counted actuals; the tracking series against a
 * direct per-customer sum and hand-counted repeat days; the SVGs hold one
 * mark per number. Named test_bgnbd_* so that `ctest -R bgnbd` runs it. */
#include "testutil.h"

#include "offerq/coupon/btyd.h"

#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const oq_bgnbd_params CDNOW = {0.2426, 4.4136, 0.7930, 2.4259}; /* FHL 2005, weeks */

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void test_grids(void **state)
{
    (void)state;
    enum { MX = 12, MT = 30 };
    double *g = malloc((MX + 1) * (MT + 1) * sizeof *g),
           *e = malloc((MX + 1) * (MT + 1) * sizeof *e);
    oq_error err = {0};
    assert_int_equal(oq_bgnbd_grid(&CDNOW, OQ_BGNBD_GRID_ALIVE, MX, MT, MT, 0, g, &err), 0);
    assert_int_equal(oq_bgnbd_grid(&CDNOW, OQ_BGNBD_GRID_EXPECTED, MX, MT, MT, 2.5, e, &err), 0);
    for (int x = 0; x <= MX; x++)
        for (int tx = 0; tx <= MT; tx++) {
            double want;
            assert_int_equal(oq_bgnbd_expected(&CDNOW, 2.5, x, tx, MT, &want), 0);
            assert_float_equal(g[x * (MT + 1) + tx], oq_bgnbd_p_alive(&CDNOW, x, tx, MT), 0);
            assert_float_equal(e[x * (MT + 1) + tx], want, 0);
        }
    /* the shape lifetimes' chart shows: a frequent buyer silent for long is
     * likely gone, a recent one alive */
    assert_true(g[10 * (MT + 1) + 2] < 0.05 && g[10 * (MT + 1) + MT] > 0.9);
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    oq_bgnbd_grid_svg(g, MX, MT, "P(alive) <test>", "P(alive)", fp);
    fclose(fp);
    assert_int_equal(count(buf, "<rect class=\"cell\""), (MX + 1) * (MT + 1));
    assert_non_null(strstr(buf, "P(alive) &lt;test&gt;"));
    assert_non_null(strstr(buf, "</svg>"));
    free(buf);
    /* bad arguments: T below the recency range, an unknown kind */
    assert_int_equal(oq_bgnbd_grid(&CDNOW, OQ_BGNBD_GRID_ALIVE, MX, MT, MT - 1, 0, g, &err),
                     OQ_EINVAL);
    assert_int_equal(oq_bgnbd_grid(&CDNOW, 7, MX, MT, MT, 0, g, &err), OQ_EINVAL);
    free(g);
    free(e);
}

/* Customers of ages T simulated as BG/NBD describes them: lambda ~ Gamma(r,
 * alpha), p ~ Beta(a, b), purchases a Poisson process of rate lambda, after
 * each purchase a coin of probability p says the customer left. */
static void test_period_counts(void **state)
{
    (void)state;
    enum { N = 4000, MAXX = 7, SIMS = 50 };
    oq_bgnbd_summary s = {.n = N, .unit_days = 7};
    s.x = calloc(N, sizeof *s.x);
    s.tx = calloc(N, sizeof *s.tx);
    s.T = calloc(N, sizeof *s.T);
    for (int i = 0; i < N; i++) {
        s.T[i] = 27 + (i % 12); /* CDNOW's ages: 27..38 weeks */
        s.x[i] = i % 11;        /* actuals: 0..10 */
    }
    double act[MAXX + 1], ex[MAXX + 1];
    oq_error err = {0};
    assert_int_equal(oq_bgnbd_period_counts(&CDNOW, &s, MAXX, act, ex, &err), 0);
    double sa = 0, se = 0;
    for (int k = 0; k <= MAXX; k++) {
        sa += act[k];
        se += ex[k];
        /* x = i % 11: each of 0..6 occurs N/11 (+1) times, >= 7: the rest */
        if (k < MAXX) assert_float_equal(act[k], k < N % 11 ? N / 11 + 1 : N / 11, 0);
    }
    assert_float_equal(sa, N, 0);
    assert_float_equal(se, N, 1e-6);
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 42);
    double sim[MAXX + 1] = {0};
    for (int rep = 0; rep < SIMS; rep++)
        for (int i = 0; i < N; i++) {
            double lam = gsl_ran_gamma(rng, CDNOW.r, 1 / CDNOW.alpha);
            double p = gsl_ran_beta(rng, CDNOW.a, CDNOW.b), t = 0;
            int x = 0;
            for (;;) {
                t += gsl_ran_exponential(rng, 1 / lam);
                if (t > s.T[i]) break;
                x++;
                if (gsl_rng_uniform(rng) < p) break;
            }
            sim[x >= MAXX ? MAXX : x] += 1.0 / SIMS;
        }
    gsl_rng_free(rng);
    for (int k = 0; k <= MAXX; k++) {
        /* binomial sd of a count over N x SIMS draws, in per-replicate units */
        double q = ex[k] / N, sd = sqrt(N * q * (1 - q) / SIMS);
        if (fabs(sim[k] - ex[k]) > 4 * sd + 1e-9)
            fail_msg("x=%d: simulated %.2f, expected %.2f (sd %.2f)", k, sim[k], ex[k], sd);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    oq_bgnbd_period_svg(act, ex, MAXX, "period", fp);
    fclose(fp);
    assert_int_equal(count(buf, "<rect class=\"actual\""), MAXX + 1);
    assert_int_equal(count(buf, "<rect class=\"model\""), MAXX + 1);
    free(buf);
    free(s.x);
    free(s.tx);
    free(s.T);
}

static void test_tracking(void **state)
{
    (void)state;
    /* customer 1: first day 0, repeats on days 3, 3 (same day: once), 9;
     * customer 2: first day 2, repeat on day 5; customer 3: first day 8
     * (after the calibration end 6: left out, with its repeat on day 9). */
    oq_bgnbd_tx tx = {0};
    const int64_t u[] = {1, 1, 1, 1, 2, 2, 3, 3};
    const int32_t d[] = {20000, 20003, 20003, 20009, 20002, 20005, 20008, 20009};
    for (size_t i = 0; i < 8; i++)
        assert_int_equal(oq_bgnbd_tx_push(&tx, u[i], d[i]), 0);
    oq_bgnbd_tracking t;
    oq_error err = {0};
    assert_int_equal(oq_bgnbd_tracking_build(&CDNOW, &tx, 7, 20006, &t, &err), 0);
    assert_int_equal(t.first_day, 20000);
    assert_int_equal(t.n_days, 10);
    assert_float_equal(t.customers, 2, 0);
    const double want_act[10] = {0, 0, 0, 1, 1, 2, 2, 2, 2, 3};
    for (int k = 0; k < 10; k++) {
        assert_float_equal(t.actual[k], want_act[k], 0);
        /* the direct sum over the two customers of E[X(age in weeks)] */
        double e1, e2 = 0;
        assert_int_equal(oq_bgnbd_expected_pop(&CDNOW, k / 7.0, &e1), 0);
        if (k >= 2) assert_int_equal(oq_bgnbd_expected_pop(&CDNOW, (k - 2) / 7.0, &e2), 0);
        assert_float_equal(t.expected[k], e1 + e2, 1e-12);
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *fp = open_memstream(&buf, &len);
    oq_bgnbd_tracking_svg(&t, "tracking", fp);
    fclose(fp);
    assert_non_null(strstr(buf, "class=\"calibration-end\""));
    assert_int_equal(count(buf, "<polyline"), 2);
    free(buf);
    oq_bgnbd_tracking_free(&t);
    oq_bgnbd_tx empty = {0};
    assert_int_equal(oq_bgnbd_tracking_build(&CDNOW, &empty, 7, 0, &t, &err), OQ_EINVAL);
    free(tx.user);
    free(tx.day);
    free(tx.value);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grids),
        cmocka_unit_test(test_period_counts),
        cmocka_unit_test(test_tracking),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
