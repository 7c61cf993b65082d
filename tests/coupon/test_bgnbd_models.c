/* test_bgnbd_models.c - MBG/NBD and Pareto/NBD beyond the fit (btyd.h):
 * P(n purchases in (T, T+t] | history) against mpmath golden values
 * (tools/btyd_golden.py: MBG/NBD from first principles, Pareto/NBD by a 2-D
 * quadrature over the posterior rates; tests/golden/bgnbd/btyd_pn_models.csv)
 * and against the identities sum_n P = 1, sum_n n P = E[X(t) | history]; the
 * diagnostic charts' numbers (grids, period counts, tracking) for both
 * models, the period counts against Monte Carlo simulations of each model's
 * story. Named test_bgnbd_* so that `ctest -R bgnbd` runs it. */
#include "testutil.h"

#include "offerq/core/csv.h"
#include "offerq/coupon/btyd.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CDNOW fits in weeks (docs/readme/bgnbd.md) */
static const oq_btyd_model MBG = {OQ_BTYD_MBGNBD, {0.524838, 6.182992, 0.891356, 1.614000}};
static const oq_btyd_model PNBD = {OQ_BTYD_PARETONBD, {0.553276, 10.577613, 0.606214, 11.6679}};

static double relerr(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-300);
}

typedef struct rows {
    double v[256][12];
    int n;
} rows;

static int row_cb(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    (void)lens;
    (void)err;
    rows *r = ctx;
    if (line == 1 || r->n >= 256) return 0;
    for (size_t i = 0; i < n && i < 12; i++)
        r->v[r->n][i] = strtod(f[i], NULL);
    r->n++;
    return 0;
}

static void test_golden_pn(void **state)
{
    (void)state;
    rows *g = calloc(1, sizeof *g);
    assert_non_null(g);
    oq_error err = {0};
    assert_int_equal(
        oq_csv_read(tu_source("tests/golden/bgnbd/btyd_pn_models.csv"), NULL, row_cb, g, &err), 0);
    int seen[3] = {0};
    for (int k = 0; k < g->n; k++) {
        const double *v = g->v[k];
        oq_btyd_model m = {(oq_btyd_kind)v[0], {v[1], v[2], v[3], v[4]}};
        double pn = oq_btyd_p_n_cond(&m, v[8], (int)v[9], v[5], v[6], v[7]);
        /* mpmath's Pareto/NBD rows are 2-D quadratures at 20 digits */
        if (relerr(pn, v[10]) > 1e-9)
            fail_msg("row %d (%s): %.17g vs %.17g", k + 2, oq_btyd_kind_name(m.kind), pn, v[10]);
        seen[(int)v[0]]++;
    }
    assert_true(seen[1] >= 64 && seen[2] >= 14);
    free(g);
}

/* A distribution over n whose mean is the model's conditional expectation
 * (MBG/NBD: lifetimes' formula with 2F1; Pareto/NBD: note 009 eq. 41), for
 * a new customer and for histories, at horizons 1 and 39 weeks. */
static void test_identities(void **state)
{
    (void)state;
    const oq_btyd_model *ms[] = {&MBG, &PNBD};
    const double hist[][3] = {
        {0, 0, 0}, {0, 0, 38.86}, {2, 30.43, 38.86}, {7, 10, 38.86}, {12, 38, 39}};
    for (int i = 0; i < 2; i++)
        for (size_t h = 0; h < sizeof hist / sizeof *hist; h++)
            for (double t = 1; t <= 39; t += 38) {
                double tot = 0, mean = 0, e;
                for (int n = 0; n < 2000; n++) {
                    double pn = oq_btyd_p_n_cond(ms[i], t, n, hist[h][0], hist[h][1], hist[h][2]);
                    assert_true(pn >= 0 && pn <= 1);
                    tot += pn;
                    mean += n * pn;
                    if (n > 50 && pn < 1e-20) break;
                }
                assert_int_equal(oq_btyd_expected(ms[i], t, hist[h][0], hist[h][1], hist[h][2], &e),
                                 0);
                if (fabs(tot - 1) > 1e-9 || relerr(mean, e) > 1e-7)
                    fail_msg("%s x=%g t_x=%g T=%g t=%g: sum %.15g, mean %.15g vs E %.15g",
                             oq_btyd_kind_name(ms[i]->kind), hist[h][0], hist[h][1], hist[h][2], t,
                             tot, mean, e);
            }
    /* a new customer is the history x = t_x = T = 0; BG/NBD's is FHL eq. 8 */
    assert_float_equal(oq_btyd_p_n(&PNBD, 20, 3), oq_btyd_p_n_cond(&PNBD, 20, 3, 0, 0, 0), 0);
    oq_btyd_model bg = {OQ_BTYD_BGNBD, {0.243, 4.414, 0.793, 2.426}};
    oq_bgnbd_params bp = {0.243, 4.414, 0.793, 2.426};
    assert_float_equal(oq_btyd_p_n(&bg, 20, 3), oq_bgnbd_p_n(&bp, 20, 3), 0);
    assert_float_equal(oq_btyd_p_n_cond(&bg, 20, 1, 2, 30.43, 38.86),
                       oq_bgnbd_p_n_cond(&bp, 20, 1, 2, 30.43, 38.86), 0);
    assert_float_equal(oq_btyd_p_n(&MBG, 0, 0), 1, 0);
    assert_float_equal(oq_btyd_p_n(&PNBD, 5, -1), 0, 0);
    oq_error err = {0};
    oq_btyd_model bad = PNBD;
    bad.par[2] = -1;
    assert_int_equal(oq_btyd_check(&bad, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "s = -1"));
}

/* Repeat purchases of customers of ages T simulated as each model's story
 * tells it. MBG/NBD: lambda ~ Gamma(r, alpha), p ~ Beta(a, b), a coin of
 * probability p at time 0 and after each purchase. Pareto/NBD: lambda ~
 * Gamma(r, alpha), mu ~ Gamma(s, beta), death at an Exp(mu) time. */
static int simulate(const oq_btyd_model *m, gsl_rng *rng, double T)
{
    const double *p = m->par;
    double lam = gsl_ran_gamma(rng, p[0], 1 / p[1]), t = 0;
    int x = 0;
    if (m->kind == OQ_BTYD_MBGNBD) {
        double q = gsl_ran_beta(rng, p[2], p[3]);
        if (gsl_rng_uniform(rng) < q) return 0;
        for (;;) {
            t += gsl_ran_exponential(rng, 1 / lam);
            if (t > T) return x;
            x++;
            if (gsl_rng_uniform(rng) < q) return x;
        }
    }
    double mu = gsl_ran_gamma(rng, p[2], 1 / p[3]);
    double death = fmin(T, gsl_ran_exponential(rng, 1 / mu));
    for (;;) {
        t += gsl_ran_exponential(rng, 1 / lam);
        if (t > death) return x;
        x++;
    }
}

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
        s.x[i] = i % 11;
    }
    const oq_btyd_model *ms[] = {&MBG, &PNBD};
    gsl_rng *rng = gsl_rng_alloc(gsl_rng_mt19937);
    gsl_rng_set(rng, 7);
    oq_error err = {0};
    for (int mi = 0; mi < 2; mi++) {
        double act[MAXX + 1], ex[MAXX + 1], sim[MAXX + 1] = {0}, se = 0;
        assert_int_equal(oq_btyd_period_counts(ms[mi], &s, MAXX, act, ex, &err), 0);
        for (int k = 0; k <= MAXX; k++) {
            se += ex[k];
            if (k < MAXX) assert_float_equal(act[k], k < N % 11 ? N / 11 + 1 : N / 11, 0);
        }
        assert_float_equal(se, N, 1e-6);
        for (int rep = 0; rep < SIMS; rep++)
            for (int i = 0; i < N; i++) {
                int x = simulate(ms[mi], rng, s.T[i]);
                sim[x >= MAXX ? MAXX : x] += 1.0 / SIMS;
            }
        for (int k = 0; k <= MAXX; k++) {
            double q = ex[k] / N, sd = sqrt(N * q * (1 - q) / SIMS);
            if (fabs(sim[k] - ex[k]) > 4 * sd + 1e-9)
                fail_msg("%s x=%d: simulated %.2f, expected %.2f (sd %.2f)",
                         oq_btyd_kind_name(ms[mi]->kind), k, sim[k], ex[k], sd);
        }
    }
    gsl_rng_free(rng);
    free(s.x);
    free(s.tx);
    free(s.T);
}

static void test_grids_tracking(void **state)
{
    (void)state;
    enum { MX = 6, MT = 20 };
    double g[(MX + 1) * (MT + 1)], e[(MX + 1) * (MT + 1)];
    oq_error err = {0};
    const oq_btyd_model *ms[] = {&MBG, &PNBD};
    for (int mi = 0; mi < 2; mi++) {
        const oq_btyd_model *m = ms[mi];
        assert_int_equal(oq_btyd_grid(m, OQ_BGNBD_GRID_ALIVE, MX, MT, MT, 0, g, &err), 0);
        assert_int_equal(oq_btyd_grid(m, OQ_BGNBD_GRID_EXPECTED, MX, MT, MT, 2.5, e, &err), 0);
        for (int x = 0; x <= MX; x++)
            for (int tx = 0; tx <= MT; tx++) {
                double want;
                assert_int_equal(oq_btyd_expected(m, 2.5, x, tx, MT, &want), 0);
                assert_float_equal(g[x * (MT + 1) + tx], oq_btyd_p_alive(m, x, tx, MT), 0);
                assert_float_equal(e[x * (MT + 1) + tx], want, 0);
            }
        /* two customers born on days 0 and 2, calibration end day 6 */
        oq_bgnbd_tx tx = {0};
        const int64_t u[] = {1, 1, 1, 2, 2, 3};
        const int32_t d[] = {20000, 20003, 20009, 20002, 20005, 20008};
        for (size_t i = 0; i < 6; i++)
            assert_int_equal(oq_bgnbd_tx_push(&tx, u[i], d[i]), 0);
        oq_bgnbd_tracking t;
        assert_int_equal(oq_btyd_tracking_build(m, &tx, 7, 20006, &t, &err), 0);
        assert_int_equal(t.n_days, 10);
        /* the new customer's E[X(t)] in closed form: MBG/NBD b/(a+b) x FHL
         * eq. 9 with b + 1; Pareto/NBD note 009 eq. 27 */
        const double *p = m->par;
        for (int k = 0; k < 10; k++) {
            double want = 0;
            for (int born = 0; born <= 2 && born <= k; born += 2) {
                double tt = (k - born) / 7.0, ek;
                if (m->kind == OQ_BTYD_MBGNBD) {
                    oq_bgnbd_params bp = {p[0], p[1], p[2], p[3] + 1};
                    assert_int_equal(oq_bgnbd_expected_pop(&bp, tt, &ek), 0);
                    ek *= p[3] / (p[2] + p[3]);
                } else {
                    ek =
                        p[0] * p[3] / (p[1] * (p[2] - 1)) * (1 - pow(p[3] / (p[3] + tt), p[2] - 1));
                }
                want += ek;
            }
            if (fabs(t.expected[k] - want) > 1e-12 * (1 + want))
                fail_msg("%s day %d: %.17g vs %.17g", oq_btyd_kind_name(m->kind), k, t.expected[k],
                         want);
        }
        oq_bgnbd_tracking_free(&t);
        free(tx.user);
        free(tx.day);
        free(tx.value);
    }
    oq_btyd_model bad = MBG;
    bad.par[0] = NAN;
    assert_int_equal(oq_btyd_grid(&bad, OQ_BGNBD_GRID_ALIVE, MX, MT, MT, 0, g, &err), OQ_EINVAL);
}

/* The analytic gradient of the Pareto/NBD log-likelihood against central
 * differences (step 1e-5 relative, Richardson-extrapolated) of
 * oq_btyd_loglik_one: alpha < beta and alpha > beta (the two forms of A_0),
 * x = 0, large x, t_x close to T, z within 1e-5 of 1 (the numerical
 * fallback). */
static void test_pnbd_grad(void **state)
{
    (void)state;
    const double ps[][4] = {
        {0.553, 10.578, 0.606, 11.669}, {0.6, 20, 1.2, 5},  {2, 5, 0.3, 40},
        {0.8, 10, 1.3, 10.001},         {0.5, 1e5, 0.7, 1}, {0.553, 0.2706, 0.606, 0.2985}};
    const double cs[][3] = {{0, 0, 38.86},    {2, 30.43, 38.86}, {10, 35, 38.86}, {1, 0.5, 50},
                            {50, 100, 100.5}, {7, 38, 38.86},    {0, 0, 0.9},     {3, 0.7, 1}};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++)
        for (size_t j = 0; j < sizeof cs / sizeof *cs; j++) {
            double g[4], q[4];
            oq_btyd_pnbd_grad(ps[i], cs[j][0], cs[j][1], cs[j][2], g);
            for (int k = 0; k < 4; k++) {
                double fd[2];
                for (int h = 0; h < 2; h++) {
                    double step = (h ? 2e-5 : 1e-5) * ps[i][k];
                    memcpy(q, ps[i], sizeof q);
                    oq_btyd_model m = {OQ_BTYD_PARETONBD, {q[0], q[1], q[2], q[3]}};
                    m.par[k] = ps[i][k] + step;
                    double fp = oq_btyd_loglik_one(&m, cs[j][0], cs[j][1], cs[j][2]);
                    m.par[k] = ps[i][k] - step;
                    double fm = oq_btyd_loglik_one(&m, cs[j][0], cs[j][1], cs[j][2]);
                    fd[h] = (fp - fm) / (2 * step);
                }
                double want = (4 * fd[0] - fd[1]) / 3; /* Richardson: O(h^4) */
                /* compared on the log-parameter scale (d ll / d ln p), where the fit
                 * works; the floor is the rounding of the differences, and for the
                 * alpha = 1e5 beta rows (i = 4; both sides differences of GSL's
                 * 2F1 there) GSL's own accuracy */
                oq_btyd_model m0 = {OQ_BTYD_PARETONBD, {ps[i][0], ps[i][1], ps[i][2], ps[i][3]}};
                double ll = oq_btyd_loglik_one(&m0, cs[j][0], cs[j][1], cs[j][2]);
                double tol = 1e-6 * fabs(want * ps[i][k]) + (i == 4 ? 1e-5 : 1e-8) * (1 + fabs(ll));
                if (!(fabs(g[k] - want) * ps[i][k] <= tol))
                    fail_msg("params %zu customer %zu d/dp%d: analytic %.12g, differences %.12g", i,
                             j, k, g[k], want);
            }
        }
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_pn),     cmocka_unit_test(test_identities),
        cmocka_unit_test(test_period_counts), cmocka_unit_test(test_grids_tracking),
        cmocka_unit_test(test_pnbd_grad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
