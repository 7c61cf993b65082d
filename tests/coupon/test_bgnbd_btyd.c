/* test_bgnbd_btyd.c - standard errors, MBG/NBD, Pareto/NBD, Gamma-Gamma, CLV and the
 * conditional P(n) of BG/NBD against independent references: the published
 * CDNOW estimates (Fader, Hardie & Lee's Pareto/NBD note and RFM/CLV paper;
 * BTYDplus' MBG/NBD as lifetimes' tests quote it), and mpmath values of
 * lifetimes' formulas without offerq's transformations (tools/btyd_golden.py
 * -> tests/golden/bgnbd/btyd_*.csv). Named test_bgnbd_* so that
 * `ctest -R bgnbd` runs it with the BG/NBD tests. */
#include "testutil.h"

#include "offerq/core/csv.h"
#include "offerq/core/io.h"
#include "offerq/coupon/btyd.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double relerr(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-300);
}

/* ---- golden CSV reading ------------------------------------------------------ */

typedef struct rows {
    double v[1024][20];
    int n, cols;
} rows;

static int row_cb(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    (void)lens;
    (void)err;
    rows *r = ctx;
    if (line == 1 || r->n >= 1024) return 0;
    for (size_t i = 0; i < n && i < 20; i++)
        r->v[r->n][i] = strtod(f[i], NULL);
    r->cols = (int)n;
    r->n++;
    return 0;
}

static rows *read_golden(const char *name)
{
    rows *r = calloc(1, sizeof *r);
    assert_non_null(r);
    char rel[256];
    snprintf(rel, sizeof rel, "tests/golden/bgnbd/%s", name);
    oq_error err = {0};
    assert_int_equal(oq_csv_read(tu_source(rel), NULL, row_cb, r, &err), 0);
    assert_true(r->n > 0);
    return r;
}

static oq_bgnbd_summary *cdnow(void)
{
    oq_error err = {0};
    oq_bgnbd_summary *s = NULL;
    assert_int_equal(oq_bgnbd_summary_read(tu_shared("data/cdnow_summary.csv"), &s, &err), 0);
    assert_int_equal(s->n, 2357);
    return s;
}

/* CDNOW with lifetimes' monetary values: sample ids (field 2), values (field
 * 5), weeks, calibration end 1997-09-30. */
static oq_bgnbd_summary *cdnow_money(void)
{
    oq_error err = {0};
    oq_bgnbd_tx *tx = NULL;
    assert_int_equal(oq_bgnbd_tx_read_value(tu_shared("data/cdnow_sample.txt"), 2, 0, 5, &tx, &err),
                     0);
    assert_non_null(tx->value);
    oq_bgnbd_split sp = {.unit_days = 7, .observation_end = OQ_BGNBD_NO_DATE};
    assert_int_equal(oq_date_parse("1997-09-30", 10, &sp.calibration_end), 0);
    oq_bgnbd_summary *s = NULL;
    assert_int_equal(oq_bgnbd_summary_build(tx, &sp, &s, &err), 0);
    oq_bgnbd_tx_free(tx);
    assert_non_null(s->monetary);
    return s;
}

/* ---- standard errors ------------------------------------------------------------ */

static void test_stderr_basic(void **state)
{
    (void)state;
    /* Independent parameters: se = 1/sqrt(-h_ii). */
    const double est[2] = {2.0, 0.5}, H[4] = {-4, 0, 0, -100};
    double se[2], lo[2], hi[2];
    assert_int_equal(oq_btyd_stderr(2, est, H, se, lo, hi), 0);
    assert_true(fabs(se[0] - 0.5) < 1e-15 && fabs(se[1] - 0.1) < 1e-15);
    /* Log scale: est / f and est * f, f = exp(1.96 se / est). */
    double f = exp(1.959963984540054 * 0.5 / 2.0);
    assert_true(relerr(lo[0], 2.0 / f) < 1e-14 && relerr(hi[0], 2.0 * f) < 1e-14);
    assert_true(relerr(lo[1] * hi[1], 0.25) < 1e-14);
    /* Correlated: cov = inverse of -H. */
    const double H2[4] = {-2, -1, -1, -2}; /* (-H)^-1 = [[2, -1], [-1, 2]] / 3 */
    assert_int_equal(oq_btyd_stderr(2, est, H2, se, lo, hi), 0);
    assert_true(fabs(se[0] - sqrt(2.0 / 3)) < 1e-14);
    /* Not a maximum: no standard errors. */
    const double H3[4] = {-1, 0, 0, 1};
    assert_int_equal(oq_btyd_stderr(2, est, H3, se, lo, hi), OQ_ENUM);
    assert_true(isnan(se[0]) && isnan(lo[1]) && isnan(hi[1]));
}

typedef struct llctx {
    const oq_bgnbd_summary *s;
    oq_btyd_kind kind;
    int gg;
} llctx;

static double total_ll(const double *p, void *vc)
{
    const llctx *c = vc;
    double ll = 0;
    if (c->gg) {
        oq_ggamma_params g = {p[0], p[1], p[2]};
        for (size_t i = 0; i < c->s->n; i++)
            if (c->s->x[i] > 0) ll += oq_ggamma_loglik_one(&g, c->s->x[i], c->s->monetary[i]);
        return ll;
    }
    oq_btyd_model m = {c->kind, {p[0], p[1], p[2], p[3]}};
    for (size_t i = 0; i < c->s->n; i++)
        ll += oq_btyd_loglik_one(&m, c->s->x[i], c->s->tx[i], c->s->T[i]);
    return ll;
}

/* The central-difference Hessian (used for the standard errors of MBG/NBD,
 * Pareto/NBD and Gamma-Gamma) against BG/NBD's analytic one. */
static void test_fd_hessian(void **state)
{
    (void)state;
    oq_bgnbd_summary *s = cdnow();
    oq_error err = {0};
    oq_bgnbd_data *d = NULL;
    assert_int_equal(oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err), 0);
    const double p[4] = {0.3, 5.0, 0.9, 2.0};
    oq_bgnbd_params bp = {p[0], p[1], p[2], p[3]};
    double Ha[16], Hf[16];
    (void)oq_bgnbd_data_loglik(d, &bp, NULL, Ha);
    llctx c = {s, OQ_BTYD_BGNBD, 0};
    oq_btyd_fd_hessian(4, p, total_ll, &c, Hf);
    for (int i = 0; i < 16; i++) {
        double scale = sqrt(fabs(Ha[5 * (i / 4)] * Ha[5 * (i % 4)]));
        if (fabs(Hf[i] - Ha[i]) > 1e-5 * scale)
            fprintf(stderr, "H[%d]: fd %.10g analytic %.10g\n", i, Hf[i], Ha[i]);
        assert_true(fabs(Hf[i] - Ha[i]) <= 1e-5 * scale);
    }
    oq_bgnbd_data_free(d);
    oq_bgnbd_summary_free(s);
}

/* Standard errors on CDNOW at fixed points against mpmath (40-digit
 * differences of lifetimes' log-likelihoods), and those the fits report. */
static void test_se_golden(void **state)
{
    (void)state;
    rows *g = read_golden("btyd_se.csv");
    assert_int_equal(g->n, 4);
    oq_bgnbd_summary *s = cdnow(), *sm = cdnow_money();
    oq_error err = {0};
    for (int k = 0; k < 4; k++) {
        const double *v = g->v[k];
        int np = k == 3 ? 3 : 4;
        double H[16], se[4], lo[4], hi[4];
        if (k == 0) { /* BG/NBD: the analytic Hessian */
            oq_bgnbd_data *d = NULL;
            assert_int_equal(oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err), 0);
            oq_bgnbd_params bp = {v[1], v[2], v[3], v[4]};
            (void)oq_bgnbd_data_loglik(d, &bp, NULL, H);
            oq_bgnbd_data_free(d);
        } else {
            llctx c = {k == 3 ? sm : s, k == 1 ? OQ_BTYD_MBGNBD : OQ_BTYD_PARETONBD, k == 3};
            oq_btyd_fd_hessian(np, v + 1, total_ll, &c, H);
        }
        assert_int_equal(oq_btyd_stderr(np, v + 1, H, se, lo, hi), 0);
        for (int i = 0; i < np; i++) {
            fprintf(stderr, "se model %d param %d: %.8g (mpmath %.8g)\n", k, i, se[i], v[5 + i]);
            /* analytic: rounding only; differences: ~h^2 and eps/h^2 */
            assert_true(relerr(se[i], v[5 + i]) <= (k == 0 ? 1e-9 : 1e-4));
            assert_true(lo[i] < v[1 + i] && v[1 + i] < hi[i]);
        }
    }
    /* What the fits report, at their own optimum (within 1e-6 of these points). */
    oq_bgnbd_data *d = NULL;
    oq_bgnbd_fit_report br;
    assert_int_equal(oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err), 0);
    assert_int_equal(oq_bgnbd_fit(d, NULL, &br, &err), 0);
    assert_true(br.se_ok);
    for (int i = 0; i < 4; i++)
        assert_true(relerr(br.se[i], g->v[0][5 + i]) <= 1e-4);
    oq_bgnbd_data_free(d);
    oq_ggamma_fit_report gr;
    assert_int_equal(oq_ggamma_fit(sm->x, sm->monetary, sm->n, NULL, &gr, &err), 0);
    assert_true(gr.se_ok);
    for (int i = 0; i < 3; i++)
        assert_true(relerr(gr.se[i], g->v[3][5 + i]) <= 1e-3);
    oq_bgnbd_summary_free(s);
    oq_bgnbd_summary_free(sm);
    free(g);
}

/* ---- published estimates ------------------------------------------------------------ */

/* Fader, Hardie & Lee, "A Note on Implementing the Pareto/NBD Model in
 * MATLAB" (2005), CDNOW in weeks: r 0.55, alpha 10.58, s 0.61, beta 11.67,
 * LL -9595.0. To 2 decimals: the estimate rounds to the published value. */
static void test_pareto_published(void **state)
{
    (void)state;
    oq_bgnbd_summary *s = cdnow();
    oq_btyd_fit_report r;
    oq_error err = {0};
    assert_int_equal(oq_btyd_fit(OQ_BTYD_PARETONBD, s->x, s->tx, s->T, s->n, NULL, &r, &err), 0);
    fprintf(stderr, "paretonbd: %.6f %.6f %.6f %.6f ll %.4f it %d grad %.2g\n", r.m.par[0],
            r.m.par[1], r.m.par[2], r.m.par[3], r.ll, r.iterations, r.grad_norm);
    assert_true(r.converged);
    const double pub[4] = {0.55, 10.58, 0.61, 11.67};
    for (int i = 0; i < 4; i++)
        assert_true(fabs(r.m.par[i] - pub[i]) <= 0.005);
    assert_true(fabs(r.ll - (-9595.0)) <= 0.05);
    assert_true(r.grad_norm < 1e-5);
    assert_true(r.se_ok && r.n_groups == 1016);
    for (int i = 0; i < 4; i++)
        assert_true(r.ci_lo[i] < r.m.par[i] && r.m.par[i] < r.ci_hi[i]);
    oq_bgnbd_summary_free(s);
}

/* BTYDplus' MBG/NBD on CDNOW, as lifetimes' test_params_out_is_close_to_BTYDplus
 * quotes it (3 decimals): r 0.525, alpha 6.183, a 0.891, b 1.614. */
static void test_mbg_published(void **state)
{
    (void)state;
    oq_bgnbd_summary *s = cdnow();
    oq_btyd_fit_report r;
    oq_error err = {0};
    assert_int_equal(oq_btyd_fit(OQ_BTYD_MBGNBD, s->x, s->tx, s->T, s->n, NULL, &r, &err), 0);
    fprintf(stderr, "mbgnbd: %.6f %.6f %.6f %.6f ll %.4f\n", r.m.par[0], r.m.par[1], r.m.par[2],
            r.m.par[3], r.ll);
    assert_true(r.converged);
    const double pub[4] = {0.525, 6.183, 0.891, 1.614};
    for (int i = 0; i < 4; i++)
        assert_true(fabs(r.m.par[i] - pub[i]) <= 0.0005);
    /* lifetimes' "Hardie excel sheet" check: E[X(39) | 2, 30.43, 38.86] = 1.226 (within 0.05). */
    double e;
    assert_int_equal(oq_btyd_expected(&r.m, 39, 2, 30.43, 38.86, &e), 0);
    assert_true(fabs(e - 1.226) < 0.05);
    /* A penalizer shrinks the parameters (lifetimes' test_penalizer_term_will_shrink_coefs_to_0).
     */
    oq_btyd_fit_report rp;
    oq_btyd_fit_opts o = {.penalizer = 0.1};
    assert_int_equal(oq_btyd_fit(OQ_BTYD_MBGNBD, s->x, s->tx, s->T, s->n, &o, &rp, &err), 0);
    double s1 = 0, s2 = 0;
    for (int i = 0; i < 4; i++) {
        s1 += r.m.par[i] * (i == 1 ? 1 / 38.86 : 1);
        s2 += rp.m.par[i] * (i == 1 ? 1 / 38.86 : 1);
    }
    assert_true(s2 < s1);
    oq_bgnbd_summary_free(s);
}

/* Fader, Hardie & Lee (2005, RFM and CLV) / Hardie's note 025: p 6.25,
 * q 3.74, gamma 15.44 on the 946 CDNOW sample customers with repeat
 * purchases in weeks 1-39 (mean spend of the repeat purchases, $35.08). The
 * monetary values are first checked customer by customer against mpmath's
 * reading of lifetimes' definition. */
static void test_gammagamma_published(void **state)
{
    (void)state;
    oq_bgnbd_summary *s = cdnow_money();
    rows *g = read_golden("btyd_cdnow_monetary.csv");
    assert_int_equal(g->n, 946);
    int j = 0;
    double sum = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->x[i] == 0) {
            assert_true(s->monetary[i] == 0);
            continue;
        }
        assert_true(j < g->n);
        assert_true(s->id[i] == (int64_t)g->v[j][0] && s->x[i] == g->v[j][1]);
        assert_true(relerr(s->monetary[i], g->v[j][2]) <= 1e-12);
        sum += s->monetary[i];
        j++;
    }
    assert_int_equal(j, 946);
    assert_true(fabs(sum / 946 - 35.08) < 0.005);
    oq_ggamma_fit_report r;
    oq_error err = {0};
    assert_int_equal(oq_ggamma_fit(s->x, s->monetary, s->n, NULL, &r, &err), 0);
    fprintf(stderr, "gammagamma: p %.6f q %.6f v %.6f ll %.4f\n", r.g.p, r.g.q, r.g.v, r.ll);
    assert_true(r.converged);
    assert_int_equal(r.n_customers, 946);
    assert_true(fabs(r.g.p - 6.25) <= 0.005);
    assert_true(fabs(r.g.q - 3.74) <= 0.005);
    assert_true(fabs(r.g.v - 15.44) <= 0.005);
    /* The population mean spend p v / (q - 1) is near the sample mean. */
    double mean = oq_ggamma_expected_profit(&r.g, 0, 0);
    assert_true(fabs(mean - 35.08) < 0.5);
    free(g);
    oq_bgnbd_summary_free(s);
}

/* ---- per-customer functions against mpmath ------------------------------------------- */

static void test_golden_predict(void **state)
{
    (void)state;
    rows *g = read_golden("btyd_predict.csv");
    assert_true(g->n >= 50);
    for (int k = 0; k < g->n; k++) {
        const double *v = g->v[k];
        oq_btyd_model m = {(int)v[0] == 1 ? OQ_BTYD_MBGNBD : OQ_BTYD_PARETONBD,
                           {v[1], v[2], v[3], v[4]}};
        double x = v[5], tx = v[6], T = v[7], t = v[8];
        double ll = oq_btyd_loglik_one(&m, x, tx, T), pa = oq_btyd_p_alive(&m, x, tx, T), e;
        int rc = oq_btyd_expected(&m, t, x, tx, T, &e);
        int bad = rc || fabs(ll - v[9]) > 1e-10 * fmax(fabs(v[9]), 1) ||
                  relerr(pa, v[10]) > 1e-10 || relerr(e, v[11]) > 1e-9;
        if (bad)
            fprintf(stderr, "row %d: rc %d ll %.17g/%.17g p %.17g/%.17g e %.17g/%.17g\n", k + 2, rc,
                    ll, v[9], pa, v[10], e, v[11]);
        assert_false(bad);
    }
    free(g);
}

static void test_golden_pn_cond(void **state)
{
    (void)state;
    rows *g = read_golden("btyd_pn_cond.csv");
    assert_true(g->n >= 80);
    for (int k = 0; k < g->n; k++) {
        const double *v = g->v[k];
        oq_bgnbd_params p = {v[0], v[1], v[2], v[3]};
        double pn = oq_bgnbd_p_n_cond(&p, v[7], (int)v[8], v[4], v[5], v[6]);
        if (relerr(pn, v[9]) > 1e-9) fprintf(stderr, "row %d: %.17g vs %.17g\n", k + 2, pn, v[9]);
        assert_true(relerr(pn, v[9]) <= 1e-9);
    }
    free(g);
    /* A distribution over n whose mean is the conditional expectation (FHL eq. 10). */
    oq_bgnbd_params p = {0.243, 4.414, 0.793, 2.426};
    double tot = 0, mean = 0, e;
    for (int n = 0; n < 3000; n++) {
        double pn = oq_bgnbd_p_n_cond(&p, 39, n, 2, 30.43, 38.86);
        tot += pn;
        mean += n * pn;
    }
    assert_int_equal(oq_bgnbd_expected(&p, 39, 2, 30.43, 38.86, &e), 0);
    assert_true(fabs(tot - 1) < 1e-9);
    assert_true(relerr(mean, e) < 1e-7);
}

static void test_golden_clv(void **state)
{
    (void)state;
    rows *g = read_golden("btyd_clv.csv");
    assert_int_equal(g->n, 5);
    for (int k = 0; k < g->n; k++) {
        const double *v = g->v[k];
        oq_ggamma_params gg = {v[0], v[1], v[2]};
        double x = v[3], m = v[4];
        if (x > 0) assert_true(fabs(oq_ggamma_loglik_one(&gg, x, m) - v[5]) <= 1e-11 * fabs(v[5]));
        assert_true(relerr(oq_ggamma_expected_profit(&gg, x, m), v[6]) <= 1e-13);
        oq_btyd_model bm = {OQ_BTYD_BGNBD, {v[7], v[8], v[9], v[10]}};
        double clv;
        assert_int_equal(oq_btyd_clv(&bm, &gg, x, v[11], v[12], m, (int)v[13], v[14], v[15], &clv),
                         0);
        if (relerr(clv, v[16]) > 1e-9)
            fprintf(stderr, "row %d: %.17g vs %.17g\n", k + 2, clv, v[16]);
        assert_true(relerr(clv, v[16]) <= 1e-9);
    }
    free(g);
    /* Discounting only lowers the value; 0 months is worth 0. */
    oq_ggamma_params gg = {6.25, 3.74, 15.44};
    oq_btyd_model bm = {OQ_BTYD_BGNBD, {0.243, 4.414, 0.793, 2.426}};
    double c0, c1, cz;
    assert_int_equal(oq_btyd_clv(&bm, &gg, 2, 30.43, 38.86, 22.35, 12, 0, 7, &c0), 0);
    assert_int_equal(oq_btyd_clv(&bm, &gg, 2, 30.43, 38.86, 22.35, 12, 0.05, 7, &c1), 0);
    assert_int_equal(oq_btyd_clv(&bm, &gg, 2, 30.43, 38.86, 22.35, 0, 0.05, 7, &cz), 0);
    assert_true(c1 < c0 && cz == 0);
    /* Undiscounted: profit x E[X(12 months)]. */
    double e;
    assert_int_equal(oq_btyd_expected(&bm, 12 * 4.345, 2, 30.43, 38.86, &e), 0);
    assert_true(relerr(c0, e * oq_ggamma_expected_profit(&gg, 2, 22.35)) < 1e-12);
}

/* ---- files and bad input ------------------------------------------------------------------ */

static void test_files_and_errors(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/p.json", dir);
    oq_error err = {0};
    oq_btyd_fit_report r = {.m = {OQ_BTYD_PARETONBD, {0.5, 10, 0.6, 11}}, .ll = -1, .se_ok = 1};
    for (int i = 0; i < 4; i++) {
        r.se[i] = 0.1;
        r.ci_lo[i] = 0.4;
        r.ci_hi[i] = 20;
    }
    assert_int_equal(oq_btyd_params_save(path, &r, 0, 7, &err), 0);
    oq_btyd_model m;
    double u;
    assert_int_equal(oq_btyd_params_load(path, &m, &u, &err), 0);
    assert_true(m.kind == OQ_BTYD_PARETONBD && m.par[3] == 11 && u == 7);
    oq_ggamma_params gg;
    assert_int_equal(oq_ggamma_params_load(path, &gg, &err), OQ_EPARSE);
    oq_ggamma_fit_report gr = {.g = {6, 3, 15}, .se_ok = 0};
    assert_int_equal(oq_ggamma_params_save(path, &gr, 0, &err), 0);
    assert_int_equal(oq_ggamma_params_load(path, &gg, &err), 0);
    assert_true(gg.p == 6 && gg.q == 3 && gg.v == 15);
    assert_int_equal(oq_btyd_params_load(path, &m, &u, &err), OQ_EPARSE);
    assert_non_null(strstr(err.msg, "not a transaction model"));
    /* Bad summaries and spends. */
    double x[2] = {1, 0}, tx[2] = {5, 1}, T[2] = {10, 10}, mv[2] = {0, 0};
    oq_btyd_fit_report rr;
    assert_int_equal(oq_btyd_fit(OQ_BTYD_PARETONBD, x, tx, T, 2, NULL, &rr, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "customer 1"));
    assert_int_equal(oq_btyd_fit(OQ_BTYD_BGNBD, x, tx, T, 2, NULL, &rr, &err), OQ_EINVAL);
    assert_int_equal(oq_ggamma_fit(x, mv, 2, NULL, &gr, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "customer 0"));
    /* A summary CSV with lifetimes' monetary_value column. */
    const char *csv = "id,frequency,recency,T,monetary_value\n1,2,10,20,12.5\n2,0,0,20,0\n";
    oq_bgnbd_summary *s = NULL;
    assert_int_equal(oq_bgnbd_summary_read_mem("m.csv", csv, strlen(csv), &s, &err), 0);
    assert_true(s->monetary && s->monetary[0] == 12.5 && s->monetary[1] == 0);
    oq_bgnbd_summary_free(s);
    const char *bad = "id,frequency,recency,T,monetary_value\n1,2,10,20,-3\n";
    assert_int_equal(oq_bgnbd_summary_read_mem("m.csv", bad, strlen(bad), &s, &err), OQ_EPARSE);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 5);
    /* A transactions file with a bad value names line and column. */
    snprintf(path, sizeof path, "%s/tx.txt", dir);
    const char *txt = "5 0001 19970101 1 10.0\n6 0002 19970102 1 abc\n";
    assert_int_equal(oq_write_file_atomic(path, txt, strlen(txt), &err), 0);
    oq_bgnbd_tx *t = NULL;
    assert_int_equal(oq_bgnbd_tx_read_value(path, 1, 0, 5, &t, &err), OQ_EPARSE);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 19);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stderr_basic),   cmocka_unit_test(test_fd_hessian),
        cmocka_unit_test(test_se_golden),      cmocka_unit_test(test_pareto_published),
        cmocka_unit_test(test_mbg_published),  cmocka_unit_test(test_gammagamma_published),
        cmocka_unit_test(test_golden_predict), cmocka_unit_test(test_golden_pn_cond),
        cmocka_unit_test(test_golden_clv),     cmocka_unit_test(test_files_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
