/* test_bgnbd.c - BG/NBD against independent references: the published CDNOW
 * fit (FHL 2005, section 5), lifetimes' CDNOW summary, central finite
 * differences, mpmath values of the paper's own formulas
 * (tools/bgnbd_golden.py -> tests/golden/bgnbd/), recovery of the
 * generator's true parameters, and rejection of bad input. */
#include "testutil.h"

#include "offerq/coupon/bgnbd.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"
#include "offerq/core/csv.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static oq_bgnbd_summary *read_summary(const char *path)
{
    oq_error err = {0};
    oq_bgnbd_summary *s = NULL;
    int rc = oq_bgnbd_summary_read(path, &s, &err);
    if (rc) fprintf(stderr, "%s:%ld: %s\n", err.file, err.line, err.msg);
    assert_int_equal(rc, 0);
    return s;
}

static void fit_summary(const oq_bgnbd_summary *s, double pen, oq_bgnbd_fit_report *rep,
                        oq_bgnbd_data **dout)
{
    oq_error err = {0};
    oq_bgnbd_data *d = NULL;
    assert_int_equal(oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err), 0);
    oq_bgnbd_fit_opts o = {.penalizer = pen};
    assert_int_equal(oq_bgnbd_fit(d, &o, rep, &err), 0);
    if (dout)
        *dout = d;
    else
        oq_bgnbd_data_free(d);
}

/* FHL section 5: r = 0.243, alpha = 4.414, a = 0.793, b = 2.426, LL = -9582.4. */
static void test_cdnow_published(void **state)
{
    (void)state;
    oq_bgnbd_summary *s = read_summary(tu_shared("data/cdnow_summary.csv"));
    assert_int_equal(s->n, 2357);
    oq_bgnbd_fit_report rep;
    fit_summary(s, 0, &rep, NULL);
    assert_true(rep.converged);
    assert_true(rep.starts_agree >= 2);
    /* "to 3 decimals": the estimate rounds to the published value. */
    assert_true(fabs(rep.p.r - 0.243) <= 0.0005);
    assert_true(fabs(rep.p.alpha - 4.414) <= 0.0005);
    assert_true(fabs(rep.p.a - 0.793) <= 0.0005);
    assert_true(fabs(rep.p.b - 2.426) <= 0.0005);
    assert_true(fabs(rep.ll - (-9582.4)) <= 0.05);
    assert_int_equal(rep.n_customers, 2357);
    assert_true(rep.n_groups < s->n);
    oq_bgnbd_summary_free(s);
}

/* The summary built from the raw sample equals lifetimes' cdnow_summary.csv. */
static void test_cdnow_summary_from_sample(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_bgnbd_tx *tx = NULL;
    /* Field 2 holds the sample's customer id, the id of cdnow_summary.csv. */
    assert_int_equal(oq_bgnbd_tx_read(tu_shared("data/cdnow_sample.txt"), 2, 0, &tx, &err), 0);
    assert_int_equal(tx->n, 6919);
    oq_bgnbd_split sp = {.unit_days = 7, .observation_end = OQ_BGNBD_NO_DATE};
    assert_int_equal(oq_date_parse("1997-09-30", 10, &sp.calibration_end), 0);
    oq_bgnbd_summary *b = NULL;
    assert_int_equal(oq_bgnbd_summary_build(tx, &sp, &b, &err), 0);
    oq_bgnbd_summary *ref = read_summary(tu_shared("data/cdnow_summary.csv"));
    assert_int_equal(b->n, ref->n);
    for (size_t i = 0; i < ref->n; i++) {
        assert_int_equal(b->id[i], ref->id[i]); /* both sorted by id */
        assert_true(b->x[i] == ref->x[i]);
        /* The file has 2 decimals: |ours - file| <= half a unit of the last digit. */
        assert_true(fabs(b->tx[i] - ref->tx[i]) <= 0.005 + 1e-9);
        assert_true(fabs(b->T[i] - ref->T[i]) <= 0.005 + 1e-9);
    }
    /* The full-data id (field 1) gives the same rows under other ids. */
    oq_bgnbd_tx *tx1 = NULL;
    assert_int_equal(oq_bgnbd_tx_read(tu_shared("data/cdnow_sample.txt"), 1, 0, &tx1, &err), 0);
    oq_bgnbd_summary *b1 = NULL;
    assert_int_equal(oq_bgnbd_summary_build(tx1, &sp, &b1, &err), 0);
    assert_int_equal(b1->n, ref->n);
    double sx = 0, sx1 = 0;
    for (size_t i = 0; i < ref->n; i++) {
        sx += b->x[i];
        sx1 += b1->x[i];
    }
    assert_true(sx == sx1);
    oq_bgnbd_summary_free(b1);
    oq_bgnbd_tx_free(tx1);
    oq_bgnbd_summary_free(b);
    oq_bgnbd_summary_free(ref);
    oq_bgnbd_tx_free(tx);
}

/* Analytic gradient (and Hessian) against central finite differences. */
static void test_gradient_fd(void **state)
{
    (void)state;
    oq_bgnbd_summary *s = read_summary(tu_shared("data/cdnow_summary.csv"));
    oq_error err = {0};
    oq_bgnbd_data *d = NULL;
    assert_int_equal(oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err), 0);
    const double pts[3][4] = {{log(0.243), log(0.113), log(0.793), log(2.426)},
                              {0.3, -1.0, 0.5, -0.2},
                              {-1.5, 0.7, -0.8, 1.2}};
    const double pens[2] = {0, 0.1};
    for (int k = 0; k < 3; k++)
        for (int q = 0; q < 2; q++) {
            double f, g[4], H[16];
            oq_bgnbd_objective_hessian(d, pts[k], pens[q], &f, g, H);
            for (int i = 0; i < 4; i++) {
                double tp[4], tm[4], fp, fm, gp[4], gm[4], Hp[16], Hm[16];
                memcpy(tp, pts[k], sizeof tp);
                memcpy(tm, pts[k], sizeof tm);
                const double h = 1e-5;
                tp[i] += h;
                tm[i] -= h;
                oq_bgnbd_objective_hessian(d, tp, pens[q], &fp, gp, Hp);
                oq_bgnbd_objective_hessian(d, tm, pens[q], &fm, gm, Hm);
                double fd = (fp - fm) / (2 * h);
                /* Central differences have error ~h^2 f''' + eps f / h ~ 1e-10 here. */
                assert_true(fabs(fd - g[i]) <= 1e-6 * fmax(fabs(g[i]), 1e-3));
                for (int j = 0; j < 4; j++) {
                    double fdh = (gp[j] - gm[j]) / (2 * h);
                    assert_true(fabs(fdh - H[4 * i + j]) <= 1e-6 * fmax(fabs(H[4 * i + j]), 1e-2));
                }
            }
        }
    /* The unscaled total LL and its gradient in natural parameters. */
    oq_bgnbd_params p = {0.3, 5.0, 0.9, 2.0};
    double g[4];
    double ll = oq_bgnbd_data_loglik(d, &p, g, NULL);
    double ll1 = 0;
    for (size_t i = 0; i < s->n; i++)
        ll1 += oq_bgnbd_loglik_one(&p, s->x[i], s->tx[i], s->T[i]);
    assert_true(fabs(ll - ll1) <= 1e-9 * fabs(ll1));
    double *pv = &p.r;
    for (int i = 0; i < 4; i++) {
        double h = 1e-6 * pv[i], keep = pv[i];
        pv[i] = keep + h;
        double lp = oq_bgnbd_data_loglik(d, &p, NULL, NULL);
        pv[i] = keep - h;
        double lm = oq_bgnbd_data_loglik(d, &p, NULL, NULL);
        pv[i] = keep;
        assert_true(fabs((lp - lm) / (2 * h) - g[i]) <= 1e-6 * fabs(g[i]) + 1e-6);
    }
    /* The objective is lifetimes' formula: mean -ll in scaled time + pen * sum params^2. */
    double sc = oq_bgnbd_data_scale(d), th[4] = {log(0.3), log(5.0 * sc), log(0.9), log(2.0)};
    double f;
    oq_bgnbd_objective(d, th, 0.25, &f, NULL);
    oq_bgnbd_params ps = {0.3, 5.0 * sc, 0.9, 2.0};
    double ref = 0;
    for (size_t i = 0; i < s->n; i++)
        ref -= oq_bgnbd_loglik_one(&ps, s->x[i], s->tx[i] * sc, s->T[i] * sc);
    ref = ref / (double)s->n + 0.25 * (0.09 + 25 * sc * sc + 0.81 + 4.0);
    assert_true(fabs(f - ref) <= 1e-12 * fabs(ref));
    oq_bgnbd_data_free(d);
    oq_bgnbd_summary_free(s);
}

typedef struct golden {
    double v[16];
    int n;
} golden;

static int golden_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    (void)lens;
    (void)err;
    golden *g = ctx;
    if (line == 1) return 0;
    g[0].n++;
    golden *row = &g[g[0].n];
    for (size_t i = 0; i < n && i < 16; i++)
        row->v[i] = strtod(f[i], NULL);
    row->n = (int)n;
    return 0;
}

static double relerr(double got, double want)
{
    return fabs(got - want) / fmax(fabs(want), 1e-300);
}

/* ll, P(alive), E[X(t)] against mpmath (50 digits, untransformed 2F1),
 * including x and T in the thousands and z within 1e-6 of 1. */
static void test_golden_predict(void **state)
{
    (void)state;
    static golden g[128];
    memset(g, 0, sizeof g);
    oq_error err = {0};
    assert_int_equal(
        oq_csv_read(tu_source("tests/golden/bgnbd/predict.csv"), NULL, golden_row, g, &err), 0);
    assert_true(g[0].n >= 30);
    for (int k = 1; k <= g[0].n; k++) {
        const double *v = g[k].v;
        oq_bgnbd_params p = {v[0], v[1], v[2], v[3]};
        double x = v[4], tx = v[5], T = v[6], t = v[7];
        double ll = oq_bgnbd_loglik_one(&p, x, tx, T);
        double pa = oq_bgnbd_p_alive(&p, x, tx, T);
        double e;
        assert_int_equal(oq_bgnbd_expected(&p, t, x, tx, T, &e), 0);
        if (fabs(ll - v[8]) > 1e-11 * fmax(fabs(v[8]), 1) || relerr(pa, v[9]) > 1e-11 ||
            relerr(e, v[10]) > 1e-9)
            fprintf(stderr, "row %d: ll %.17g/%.17g p %.17g/%.17g e %.17g/%.17g\n", k, ll, v[8], pa,
                    v[9], e, v[10]);
        assert_true(fabs(ll - v[8]) <= 1e-11 * fmax(fabs(v[8]), 1));
        assert_true(relerr(pa, v[9]) <= 1e-11);
        assert_true(relerr(e, v[10]) <= 1e-9);
    }
}

static void test_golden_pn(void **state)
{
    (void)state;
    static golden g[128];
    memset(g, 0, sizeof g);
    oq_error err = {0};
    assert_int_equal(oq_csv_read(tu_source("tests/golden/bgnbd/pn.csv"), NULL, golden_row, g, &err),
                     0);
    assert_true(g[0].n >= 60);
    for (int k = 1; k <= g[0].n; k++) {
        const double *v = g[k].v;
        oq_bgnbd_params p = {v[0], v[1], v[2], v[3]};
        double pn = oq_bgnbd_p_n(&p, v[4], (int)v[5]);
        if (relerr(pn, v[6]) > 1e-9) fprintf(stderr, "row %d: %.17g vs %.17g\n", k, pn, v[6]);
        assert_true(relerr(pn, v[6]) <= 1e-9);
    }
}

/* Identities that tie the formulas together without any 2F1: the population
 * E[X(t)] (eq. 9) is sum_n n P(X(t) = n) (eq. 8); batch = scalar. */
static void test_identities(void **state)
{
    (void)state;
    const oq_bgnbd_params ps[2] = {{0.243, 4.414, 0.793, 2.426}, {0.5, 10.0, 1.7, 3.0}};
    for (int k = 0; k < 2; k++) {
        for (double t = 1; t <= 100; t *= 10) {
            double e, s = 0, tot = 0;
            assert_int_equal(oq_bgnbd_expected_pop(&ps[k], t, &e), 0);
            for (int n = 0; n < 4000; n++) {
                double pn = oq_bgnbd_p_n(&ps[k], t, n);
                s += n * pn;
                tot += pn;
            }
            assert_true(fabs(tot - 1) < 1e-6);
            assert_true(relerr(s, e) < 1e-5);
        }
    }
    double x[5] = {0, 1, 2, 7, 300}, tx[5] = {0, 3, 10, 20, 38}, T[5] = {5, 10, 20, 38, 39};
    double pa[5], ex[5];
    assert_int_equal(oq_bgnbd_p_alive_batch(&ps[0], x, tx, T, 5, pa), 0);
    assert_int_equal(oq_bgnbd_expected_batch(&ps[0], 13, NULL, x, tx, T, 5, ex), 0);
    for (int i = 0; i < 5; i++) {
        double e;
        assert_int_equal(oq_bgnbd_expected(&ps[0], 13, x[i], tx[i], T[i], &e), 0);
        assert_true(pa[i] == oq_bgnbd_p_alive(&ps[0], x[i], tx[i], T[i]));
        assert_true(ex[i] == e);
    }
    oq_bgnbd_params bad = {0.2, -1, 1, 1};
    assert_int_equal(oq_bgnbd_p_alive_batch(&bad, x, tx, T, 5, pa), OQ_EINVAL);
}

/* Generated data, contact effect 0: the fit is within 4 standard errors of
 * the truth. The standard errors come from the observed information (the
 * inverse of -Hessian of the total LL at the estimate), so the tolerance
 * shrinks like 1/sqrt(customers) (20,000 here: about 1.3% of r and 2% of
 * alpha); a wrong likelihood or summary shows as a bias of many standard
 * errors. 4 SE: a false alarm has probability < 1e-4 per parameter.
 *
 * The generator works in whole days: a purchase on a day with probability
 * 1 - exp(-lambda). Counting purchase days is a Bernoulli process, which is
 * BG/NBD (Poisson) only as lambda -> 0: at the default rates (mean 0.03 a
 * day, a long Gamma tail) the fit of 50,000 customers gives r 0.642 and
 * alpha 22.4 for 0.6 and 20, 7-8 standard errors off (a, b are fine). So
 * this test uses rates five times lower (alpha = 100) over a longer period,
 * where the discretisation bias is far below one standard error. */
static void test_recovery(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    assert_non_null(dir);
    char log[4200], orders[4200];
    snprintf(log, sizeof log, "%s/log.csv", dir);
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    cfg.n_customers = 20000;
    /* Low daily rates (mean r/alpha = 0.006 a day) over 3.5 years; see above. */
    cfg.alpha = 100;
    cfg.birth_window = 365;
    assert_int_equal(oq_date_parse("2022-01-01", 10, &cfg.start_day), 0);
    cfg.contact_effect = 0;
    oq_gen_lasting_off(&cfg.lasting); /* with both off the order stream is exactly BG/NBD */
    cfg.write_events = 0;
    cfg.quiet = 1;
    cfg.seed = 7;
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&cfg, log, &err), 0);
    assert_int_equal(oq_sidecar_path(log, ".orders.csv", orders, sizeof orders), 0);
    oq_bgnbd_tx *tx = NULL;
    assert_int_equal(oq_bgnbd_tx_read(orders, 1, 0, &tx, &err), 0);
    oq_bgnbd_split sp = {
        .unit_days = 1, .calibration_end = cfg.end_day, .observation_end = OQ_BGNBD_NO_DATE};
    oq_bgnbd_summary *s = NULL;
    assert_int_equal(oq_bgnbd_summary_build(tx, &sp, &s, &err), 0);
    assert_int_equal(s->n, (size_t)cfg.n_customers);
    oq_bgnbd_fit_report rep;
    oq_bgnbd_data *d = NULL;
    fit_summary(s, 0, &rep, &d);
    assert_true(rep.converged);
    double H[16];
    (void)oq_bgnbd_data_loglik(d, &rep.p, NULL, H);
    gsl_matrix *m = gsl_matrix_alloc(4, 4);
    for (int i = 0; i < 16; i++)
        gsl_matrix_set(m, (size_t)i / 4, (size_t)i % 4, -H[i]);
    assert_int_equal(gsl_linalg_cholesky_decomp1(m), 0);
    assert_int_equal(gsl_linalg_cholesky_invert(m), 0);
    const double est[4] = {rep.p.r, rep.p.alpha, rep.p.a, rep.p.b};
    const double truth[4] = {cfg.r, cfg.alpha, cfg.a, cfg.b};
    for (int i = 0; i < 4; i++) {
        double se = sqrt(gsl_matrix_get(m, (size_t)i, (size_t)i));
        fprintf(stderr, "recovery: param %d true %.4f est %.4f se %.4f (%.2f se)\n", i, truth[i],
                est[i], se, (est[i] - truth[i]) / se);
    }
    for (int i = 0; i < 4; i++) {
        double se = sqrt(gsl_matrix_get(m, (size_t)i, (size_t)i));
        assert_true(fabs(est[i] - truth[i]) <= 4 * se);
        /* Not a vacuous bound: the SE is a modest fraction of the value. */
        assert_true(se < 0.35 * truth[i]);
    }
    gsl_matrix_free(m);
    oq_bgnbd_data_free(d);
    oq_bgnbd_summary_free(s);
    oq_bgnbd_tx_free(tx);
    tu_rmdir(dir);
    free(dir);
}

/* Bad summaries are rejected with the line and column of the first bad row. */
static void test_bad_input(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        long line, col;
        const char *msg;
    } cases[] = {
        {"id,frequency,recency,T\n1,2,10,20\n2,1,30,20\n", 3, 3, "larger than T"},
        {"id,frequency,recency,T\n1,0,5,20\n", 2, 3, "frequency 0 with recency"},
        {"id,frequency,recency,T\n1,2,10,20\n2,-1,0,20\n", 3, 2, "expected a number >= 0"},
        {"id,frequency,recency,T\n1,1.5,10,20\n", 2, 2, "whole number"},
        {"id,frequency,recency,T\n1,1,-2,20\n", 2, 3, "expected a number >= 0"},
        {"id,frequency,recency,T\n1,1,2,abc\n", 2, 4, "expected a number"},
        {"id,frequency,T\n1,1,2\n", 1, 1, "missing column \"recency\""},
        {"id,frequency,recency,T,frequency_holdout\n1,1,2,3,4\n", 1, 1, "come together"},
        {"id,frequency,recency,T\n1,1,2\n", 2, 3, "expected 4"},
        {"id,frequency,recency,T\n", 2, 1, "no customers"},
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        oq_error err = {0};
        oq_bgnbd_summary *s = NULL;
        int rc =
            oq_bgnbd_summary_read_mem("bad.csv", cases[k].text, strlen(cases[k].text), &s, &err);
        if (rc != OQ_EPARSE || err.line != cases[k].line || err.col != cases[k].col ||
            !strstr(err.msg, cases[k].msg))
            fprintf(stderr, "case %zu: rc %d %ld:%ld %s\n", k, rc, err.line, err.col, err.msg);
        assert_int_equal(rc, OQ_EPARSE);
        assert_null(s);
        assert_int_equal(err.line, cases[k].line);
        assert_int_equal(err.col, cases[k].col);
        assert_non_null(strstr(err.msg, cases[k].msg));
        assert_string_equal(err.file, "bad.csv");
    }
    /* The fitter checks its arrays too. */
    double x[2] = {1, 0}, tx[2] = {5, 1}, T[2] = {10, 10};
    oq_bgnbd_data *d = NULL;
    oq_error err = {0};
    assert_int_equal(oq_bgnbd_data_new(x, tx, T, NULL, 2, &d, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "customer 1"));
    /* A good file with holdout columns and lifetimes' names reads back. */
    const char *ok =
        "customer_id,frequency_cal,recency_cal,T_cal,frequency_holdout,duration_holdout\n"
        "7,2,10.5,20,1,39\n8,0,0,3,0,39\n";
    oq_bgnbd_summary *s = NULL;
    assert_int_equal(oq_bgnbd_summary_read_mem("ok.csv", ok, strlen(ok), &s, &err), 0);
    assert_int_equal(s->n, 2);
    assert_int_equal(s->id[1], 8);
    assert_true(s->tx[0] == 10.5 && s->x_holdout[0] == 1 && s->t_holdout[1] == 39);
    oq_bgnbd_summary_free(s);
}

/* Transactions: our orders format (header, commas, YYYY-MM-DD), same-day
 * purchases counted once, the calibration/holdout split, and errors. */
static void test_transactions(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[4200];
    snprintf(path, sizeof path, "%s/orders.csv", dir);
    const char *text = "user_id,date,value\n"
                       "5,2025-01-01,10\n5,2025-01-01,12\n5,2025-01-08,3\n5,2025-01-20,4\n"
                       "5,2025-02-05,1\n9,2025-01-15,7\n11,2025-01-25,2\n";
    oq_error err = {0};
    assert_int_equal(oq_write_file_atomic(path, text, strlen(text), &err), 0);
    oq_bgnbd_tx *tx = NULL;
    assert_int_equal(oq_bgnbd_tx_read(path, 1, 0, &tx, &err), 0);
    assert_int_equal(tx->n, 7);
    oq_bgnbd_split sp = {.unit_days = 1};
    assert_int_equal(oq_date_parse("2025-01-20", 10, &sp.calibration_end), 0);
    assert_int_equal(oq_date_parse("2025-02-10", 10, &sp.observation_end), 0);
    oq_bgnbd_summary *s = NULL;
    assert_int_equal(oq_bgnbd_summary_build(tx, &sp, &s, &err), 0);
    /* Customer 11 first buys after the calibration end: left out. */
    assert_int_equal(s->n, 2);
    assert_int_equal(s->id[0], 5);
    assert_true(s->x[0] == 2 && s->tx[0] == 19 && s->T[0] == 19);
    assert_true(s->x_holdout[0] == 1 && s->t_holdout[0] == 21);
    assert_true(s->x[1] == 0 && s->tx[1] == 0 && s->T[1] == 5 && s->x_holdout[1] == 0);
    oq_bgnbd_summary_free(s);
    /* Weeks. */
    sp.unit_days = 7;
    assert_int_equal(oq_bgnbd_summary_build(tx, &sp, &s, &err), 0);
    assert_true(fabs(s->tx[0] - 19.0 / 7) < 1e-15 && s->t_holdout[0] == 3);
    oq_bgnbd_summary_free(s);
    oq_bgnbd_tx_free(tx);
    /* A bad date names line and column. */
    const char *bad = "5 0001 19970101 1 10.0\n6 0002 19971301 1 3.0\n";
    assert_int_equal(oq_write_file_atomic(path, bad, strlen(bad), &err), 0);
    assert_int_equal(oq_bgnbd_tx_read(path, 1, 3, &tx, &err), OQ_EPARSE);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 8);
    assert_non_null(strstr(err.msg, "expected a date"));
    tu_rmdir(dir);
    free(dir);
}

/* Calibration/holdout on CDNOW: weeks 1-39 to fit, weeks 40-78 to check. */
static void test_holdout_cdnow(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_bgnbd_tx *tx = NULL;
    assert_int_equal(oq_bgnbd_tx_read(tu_shared("data/cdnow_sample.txt"), 2, 0, &tx, &err), 0);
    oq_bgnbd_split sp = {.unit_days = 7};
    assert_int_equal(oq_date_parse("1997-09-30", 10, &sp.calibration_end), 0);
    assert_int_equal(oq_date_parse("1998-06-30", 10, &sp.observation_end), 0);
    oq_bgnbd_summary *s = NULL;
    assert_int_equal(oq_bgnbd_summary_build(tx, &sp, &s, &err), 0);
    oq_bgnbd_fit_report rep;
    fit_summary(s, 0, &rep, NULL);
    assert_true(fabs(rep.p.r - 0.243) <= 0.0005); /* the holdout does not leak into the fit */
    oq_bgnbd_holdout h;
    assert_int_equal(oq_bgnbd_holdout_report(&rep.p, s, 7, &h, NULL, &err), 0);
    size_t n = 0;
    for (int k = 0; k < h.n_rows; k++)
        n += h.rows[k].n;
    assert_int_equal(n, 2357);
    fprintf(stderr, "holdout: actual %.1f predicted %.1f mae %.4f corr %.4f\n", h.total_actual,
            h.total_predicted, h.mae, h.corr);
    /* A sanity bound, not a published figure: over weeks 40-78 the sample has
     * 1,882 repeat purchase days and the model predicts 1,653 (-12%; lifetimes'
     * plot of this table shows the same under-prediction at high frequency).
     * The predictions must rise with the calibration frequency. */
    assert_true(h.total_actual == 1882);
    assert_true(fabs(h.total_predicted - h.total_actual) < 0.15 * h.total_actual);
    assert_true(h.corr > 0.5);
    for (int k = 1; k < 6; k++)
        assert_true(h.rows[k].predicted > h.rows[k - 1].predicted);
    oq_bgnbd_summary_free(s);
    oq_bgnbd_tx_free(tx);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cdnow_published), cmocka_unit_test(test_cdnow_summary_from_sample),
        cmocka_unit_test(test_gradient_fd),     cmocka_unit_test(test_golden_predict),
        cmocka_unit_test(test_golden_pn),       cmocka_unit_test(test_identities),
        cmocka_unit_test(test_recovery),        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_transactions),    cmocka_unit_test(test_holdout_cdnow),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
