/* test_robust.c - numerical robustness (issue 7): BG/NBD never returns NaN or
 * Inf for valid input at the extremes (recency 0 and = T, x in the
 * thousands, T in the tens of thousands), closed forms hold at the corners,
 * the fit on degenerate data gives an error or finite estimates, the budget
 * planner copes with zero and huge budgets, the nightly job with zero and
 * huge budgets writes finite numbers, and the generator's edge configs write
 * logs that read back (bad ones are refused, not overflowed). The profit
 * Transformer predicts finite numbers for extreme features and out-of-range
 * tokens, fits constant columns (std 1) and single-category logs, stops with
 * OQ_ENUM on a non-finite target or loss, and its loader refuses configs the
 * file cannot hold, non-finite weights and bad dimensions with a message. */
#include "testutil.h"

#include "offerq/coupon/bgnbd.h"
#include "offerq/core/data.h"
#include "offerq/coupon/dynaq.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"
#include "offerq/coupon/profit.h"

#include <gsl/gsl_errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* CDNOW's published fit (FHL 2005) and parameter sets at the edges of what a
 * fit can return. */
static const oq_bgnbd_params P[] = {
    {0.243, 4.414, 0.793, 2.426}, {1e-4, 1e-4, 1e-4, 1e-4}, {1e3, 1e4, 1e3, 1e3},
    {0.01, 1e4, 50, 1e-3},        {50, 1e-3, 1e-3, 50},
};
#define NP (sizeof P / sizeof *P)

static const double XS[] = {0, 1, 2, 10, 1000, 5000, 20000};
static const double TS[] = {1e-6, 1, 38.86, 365, 10000, 40000, 1e6};

/* P(alive) and E[X(t)]: finite, in range, and the corners of FHL's formulas
 * (Hardie note 021): x = 0 -> 1; t_x = T -> 1 / (1 + a / (b + x - 1)). */
static void test_bgnbd_extremes(void **state)
{
    (void)state;
    size_t checked = 0, n_enum = 0;
    for (size_t k = 0; k < NP; k++)
        for (size_t i = 0; i < sizeof XS / sizeof *XS; i++)
            for (size_t j = 0; j < sizeof TS / sizeof *TS; j++) {
                double x = XS[i], T = TS[j];
                double txs[3] = {0, T / 2, T};
                for (int m = 0; m < 3; m++) {
                    double tx = txs[m];
                    if (x == 0 && tx > 0) continue;
                    double pa = oq_bgnbd_p_alive(&P[k], x, tx, T);
                    assert_true(pa >= 0 && pa <= 1);
                    if (x == 0) assert_true(pa == 1);
                    if (x > 0 && tx == T) {
                        double want = 1 / (1 + P[k].a / (P[k].b + x - 1));
                        assert_true(fabs(pa - want) <= 1e-12 * (1 + want));
                    }
                    double ll = oq_bgnbd_loglik_one(&P[k], x, tx, T);
                    /* a density in t_x: finite, not necessarily <= 0 */
                    if (!isfinite(ll))
                        fprintf(stderr, "ll %g at k=%zu x=%g tx=%g T=%g\n", ll, k, x, tx, T);
                    assert_true(isfinite(ll));
                    double prev = 0;
                    for (double t = 1; t <= 1e4; t *= 100) {
                        double e = NAN;
                        int rc = oq_bgnbd_expected(&P[k], t, x, tx, T, &e);
                        if (rc) {
                            /* The documented hard corner: 2F1 with c = a+b+x-1
                             * near -1 and z = t/(alpha+T+t) near 1, where
                             * neither the series nor GSL converges. An error
                             * code, never a NaN passed off as a value. */
                            assert_int_equal(rc, OQ_ENUM);
                            assert_true(isnan(e) && x == 0 && P[k].a + P[k].b < 1 &&
                                        t / (P[k].alpha + T + t) > 0.999);
                            n_enum++;
                            continue;
                        }
                        assert_true(isfinite(e) && e >= 0);
                        assert_true(e >= prev * (1 - 1e-9)); /* more time, more purchases */
                        prev = e;
                    }
                    checked++;
                }
            }
    assert_true(checked > 500);
    assert_true(n_enum <= 4); /* 4 of 1995 evaluations, all with r = alpha = a = b = 1e-4 */
    /* P(alive) falls as the customer stays silent longer (FHL eq. 13). */
    double last = 1;
    for (double T = 40; T <= 40000; T *= 10) {
        double pa = oq_bgnbd_p_alive(&P[0], 3000, 40, T);
        assert_true(pa <= last);
        last = pa;
    }
    assert_true(last < 1e-6);
    /* Population quantities at long horizons. */
    for (size_t k = 0; k < NP; k++) {
        double e;
        int rc = oq_bgnbd_expected_pop(&P[k], 40000, &e);
        if (rc)
            assert_true(rc == OQ_ENUM && isnan(e) && P[k].a + P[k].b < 1); /* the corner */
        else
            assert_true(isfinite(e) && e >= 0);
        double pn = oq_bgnbd_p_n(&P[k], 40000, 0);
        assert_true(pn >= 0 && pn <= 1);
    }
}

/* Fit on n customers of the given (x, t_x, T): an error with a message, or
 * finite positive estimates and a finite log-likelihood. Returns rc. */
static int fit_or_fail(const double *x, const double *tx, const double *T, size_t n)
{
    oq_error err = {0};
    oq_bgnbd_data *d = NULL;
    int rc = oq_bgnbd_data_new(x, tx, T, NULL, n, &d, &err);
    if (rc == 0) {
        oq_bgnbd_fit_report rep;
        memset(&rep, 0, sizeof rep);
        rc = oq_bgnbd_fit(d, NULL, &rep, &err);
        if (rc == 0) {
            assert_true(isfinite(rep.p.r) && rep.p.r > 0 && isfinite(rep.p.alpha) &&
                        rep.p.alpha > 0 && isfinite(rep.p.a) && rep.p.a > 0 && isfinite(rep.p.b) &&
                        rep.p.b > 0);
            assert_true(isfinite(rep.ll) && isfinite(rep.objective));
            /* What the fit returns can be scored without NaN. */
            for (size_t i = 0; i < n; i++) {
                double pa = oq_bgnbd_p_alive(&rep.p, x[i], tx[i], T[i]);
                assert_true(pa >= 0 && pa <= 1);
            }
        }
    }
    if (rc) assert_true(err.msg[0] != 0);
    oq_bgnbd_data_free(d);
    return rc;
}

static void test_bgnbd_fit_degenerate(void **state)
{
    (void)state;
    enum { N = 200 };
    static double x[N], tx[N], T[N];
    /* All x = 0: the likelihood pushes alpha -> inf; error or finite. */
    for (int i = 0; i < N; i++)
        x[i] = 0, tx[i] = 0, T[i] = 10 + i % 30;
    (void)fit_or_fail(x, tx, T, N);
    /* A single customer, with and without repeat purchases. */
    double x1 = 3, t1 = 20, T1 = 30, z = 0;
    (void)fit_or_fail(&x1, &t1, &T1, 1);
    (void)fit_or_fail(&z, &z, &T1, 1);
    /* Identical customers. */
    for (int i = 0; i < N; i++)
        x[i] = 2, tx[i] = 15, T[i] = 30;
    (void)fit_or_fail(x, tx, T, N);
    /* Everyone bought on the last day (t_x = T), huge x, huge T. */
    for (int i = 0; i < N; i++)
        x[i] = 1000 + i, tx[i] = T[i] = 40000;
    (void)fit_or_fail(x, tx, T, N);
    /* Invalid summaries are refused before fitting, with a message. */
    double bx = 1, btx = 5, bT = 0;
    oq_bgnbd_data *d = NULL;
    oq_error err = {0};
    assert_int_not_equal(oq_bgnbd_data_new(&bx, &btx, &bT, NULL, 1, &d, &err), 0);
    assert_null(d);
    assert_true(err.msg[0] != 0);
    /* n = 0 */
    assert_int_not_equal(fit_or_fail(x, tx, T, 0), 0);
}

/* The planner at budget 0 and huge budgets: an independent reference is the
 * per-customer argmax (no binding budget) and the free option (budget 0). */
static void test_budget_extremes(void **state)
{
    (void)state;
    enum { N = 50 };
    double v[N * 4], s[N * 4];
    int ch[N];
    for (int i = 0; i < N; i++)
        for (int c = 0; c < 4; c++) {
            v[i * 4 + c] = (i % 7) * 0.5 + c * ((i % 3) - 1) + 1e6 * (i == 3);
            s[i * 4 + c] = c == 0 ? 0 : (c * 5.0 + i % 4) * 0.3;
        }
    double tv, ts;
    assert_int_equal(oq_budget_plan(N, v, s, 0, ch, &tv, &ts, NULL), 0);
    assert_true(ts == 0);
    for (int i = 0; i < N; i++)
        assert_true(s[i * 4 + ch[i]] == 0);
    double best = 0;
    for (int i = 0; i < N; i++) {
        double b = v[i * 4];
        for (int c = 1; c < 4; c++)
            b = fmax(b, v[i * 4 + c]);
        best += b;
    }
    const double huge[] = {1e300, DBL_MAX, INFINITY};
    for (int k = 0; k < 3; k++) {
        assert_int_equal(oq_budget_plan(N, v, s, huge[k], ch, &tv, &ts, NULL), 0);
        assert_true(fabs(tv - best) <= 1e-9 * fabs(best));
        assert_true(isfinite(ts));
    }
    /* NaN or negative budgets are refused. */
    oq_error err = {0};
    assert_int_equal(oq_budget_plan(N, v, s, NAN, ch, NULL, NULL, &err), OQ_EINVAL);
    assert_int_equal(oq_budget_plan(N, v, s, -1, ch, NULL, NULL, &err), OQ_EINVAL);
    /* No customers. */
    assert_int_equal(oq_budget_plan(0, v, s, 10, ch, &tv, &ts, NULL), 0);
    assert_true(tv == 0 && ts == 0);
}

/* A file's text has no nan/inf token. */
static int has_nonfinite(const char *path)
{
    char *text;
    size_t len;
    oq_error err = {0};
    if (oq_read_file(path, 1u << 26, &text, &len, &err)) return -1;
    int bad =
        strstr(text, "nan") || strstr(text, "inf") || strstr(text, "NaN") || strstr(text, "Inf");
    free(text);
    return bad;
}

/* The nightly job with budget 0 and the largest budget writes finite numbers
 * only; budgets out of range are refused. */
static void test_run_budgets(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    const char *bin = tu_bin();
    assert_int_equal(
        tu_system("'%s' gen --customers 200 --quiet --seed 5 --out '%s/x.csv'", bin, dir), 0);
    const char *budgets[] = {"0", "1e15"}; /* 1e15: the CLI's largest budget */
    for (int k = 0; k < 2; k++) {
        assert_int_equal(tu_system("'%s' run --log '%s/x.csv' --out-dir '%s/r%d' --budget %s "
                                   "--epochs 1 --interim --quiet 2>/dev/null",
                                   bin, dir, dir, k, budgets[k]),
                         0);
        const char *files[] = {"recommendations.csv", "report.json", "params.json"};
        for (int f = 0; f < 3; f++) {
            char p[4096];
            snprintf(p, sizeof p, "%s/r%d/%s", dir, k, files[f]);
            assert_int_equal(has_nonfinite(p), 0);
        }
    }
    /* Budget 0: nobody gets a coupon. */
    char p[4096];
    snprintf(p, sizeof p, "%s/r0/recommendations.csv", dir);
    assert_int_equal(
        tu_system("awk -F, 'NR > 1 && $4 != \"none\" { bad = 1 } END { exit bad }' '%s'", p), 0);
    const char *refused[] = {"-1", "1e300", "nan", "inf"};
    for (int k = 0; k < 4; k++)
        assert_int_equal(tu_system("'%s' run --log '%s/x.csv' --out-dir '%s/r9' --budget %s "
                                   "--quiet 2>/dev/null",
                                   bin, dir, dir, refused[k]),
                         2);
    tu_rmdir(dir);
    free(dir);
}

/* Edge configs of the generator write logs that read back with finite
 * values; configs that would overflow are refused. */
static void test_gen_edges(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/g.csv", dir);
    for (int k = 0; k < 6; k++) {
        oq_gen_config c;
        oq_gen_config_default(&c);
        c.quiet = 1;
        c.n_customers = 40;
        switch (k) {
        case 0:
            c.n_customers = 1;
            break;
        case 1:
            c.n_cats = 2, c.drift = 1;
            break;
        case 2:
            c.n_cats = OQ_GEN_MAX_CATS, c.drift = 0, c.budget_left_end = 0;
            break;
        case 3: /* nearly nobody buys */
            c.r = 1e-3, c.alpha = 1e4;
            break;
        case 4: /* heavy buyers who never drop out */
            c.r = 50, c.alpha = 1, c.a = 1e-3, c.b = 1e3;
            break;
        case 5: /* the shortest period: birth window + snapshots + 1 day */
            c.snapshots = 1, c.birth_window = 1, c.end_day = c.start_day + 2;
            break;
        }
        oq_error err = {0};
        int rc = oq_gen_write(&c, path, &err);
        if (rc) fprintf(stderr, "config %d: %s\n", k, err.msg);
        assert_int_equal(rc, 0);
        oq_log *log = NULL;
        assert_int_equal(oq_log_read(path, &log, &err), 0);
        assert_true(log->n >= (size_t)c.n_customers);
        for (size_t i = 0; i < log->n; i++)
            assert_true(isfinite(log->aov[i]) && isfinite(log->profit[i]) && log->budget[i] >= 0 &&
                        log->budget[i] <= 1);
        oq_log_free(log);
        oq_gen_config back;
        snprintf(path + strlen(path) - 4, 16, ".truth.json");
        assert_int_equal(oq_gen_config_load(path, &back, &err), 0);
        assert_int_equal(back.n_customers, c.n_customers);
        snprintf(path, sizeof path, "%s/g.csv", dir);
    }
    /* Refused, not overflowed: the regression the truth-file fuzzer found
     * (birth_window + snapshots wrapped around INT_MAX). */
    oq_gen_config c;
    oq_gen_config_default(&c);
    c.birth_window = INT_MAX;
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&c, path, &err), OQ_EINVAL);
    assert_true(strstr(err.msg, "birth window") != NULL);
    c.birth_window = 90;
    c.n_customers = 100000001;
    assert_int_equal(oq_gen_write(&c, path, &err), OQ_EINVAL);
    tu_rmdir(dir);
    free(dir);
}

/* ---- the profit Transformer ------------------------------------------------ */

/* n training samples of a tiny model: tokens from ncat categories (token
 * 2 + k), features either varied or constant, reward target. */
static oq_profit_samples *profit_samples(size_t n, int T, int ncat, int constant, double target)
{
    oq_profit_samples *s = NULL;
    oq_error err = {0};
    assert_int_equal(oq_profit_samples_new(n, T, &s, &err), 0);
    for (size_t i = 0; i < n; i++) {
        for (int t = 0; t < T; t++)
            s->tok[i * T + t] = (uint16_t)(OQ_PROFIT_TOK_CAT0 + (i + (size_t)t) % (size_t)ncat);
        float *f = s->feat + i * OQ_PROFIT_NFEAT;
        if (constant) { /* one customer type: every column constant */
            f[0] = 7, f[1] = 2, f[2] = 199.17f, f[3] = 0.5f, f[4] = 0;
        } else {
            f[0] = (float)(i % 40), f[1] = (float)(i % 5), f[2] = 20 + (float)(i % 97) * 3,
            f[3] = (float)(i % 10) / 10, f[4] = (float)(i % (size_t)ncat);
        }
        s->coupon[i] = (uint8_t)(i % OQ_N_COUPONS);
        s->target[i] = (float)(target * (double)(i % 3));
        s->user_id[i] = (int64_t)(i / 4);
    }
    return s;
}

static oq_profit *profit_model(int ncat)
{
    oq_dict d;
    memset(&d, 0, sizeof d);
    for (int k = 0; k < ncat; k++) {
        char name[16];
        uint32_t id;
        snprintf(name, sizeof name, "cat%d", k);
        assert_int_equal(oq_dict_intern(&d, name, strlen(name), &id), 0);
    }
    oq_profit_config cfg = {
        .seq_len = 8, .d = 8, .heads = 2, .layers = 1, .ff = 16, .hidden = 16, .dropout = 0.1f};
    oq_profit *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_profit_new(&cfg, &d, 5, &m, &err), 0);
    oq_dict_clear(&d);
    return m;
}

/* Every coupon's r^ for extreme but valid features (0, 1e6 days, 1e9
 * purchases, aov up to FLT_MAX, unknown category ids) and out-of-range
 * tokens: finite. Returns how many numbers were checked. */
static int profit_extreme_predictions(const oq_profit *m)
{
    static const float ex[][OQ_PROFIT_NFEAT] = {
        {0, 0, 0, 0, 0},
        {1e6f, 1e9f, 1e9f, 1, 65535},
        {FLT_MAX, FLT_MAX, FLT_MAX, 1, FLT_MAX},
        {FLT_MAX, 0, FLT_MAX, 0, 0},
        {0, FLT_MAX, 0, 1, FLT_MAX},
        {36500, 1000, 1e-30f, 1, 3},
    };
    size_t n = sizeof ex / sizeof *ex;
    int T = m->cfg.seq_len;
    oq_profit_samples *s = NULL;
    oq_error err = {0};
    assert_int_equal(oq_profit_samples_new(n, T, &s, &err), 0);
    memcpy(s->feat, ex, sizeof ex);
    for (size_t j = 0; j < n * (size_t)T; j++)
        s->tok[j] = (uint16_t)(j % 2 ? 65535 : j % 7);
    float *out = malloc(n * OQ_N_COUPONS * sizeof *out);
    assert_non_null(out);
    assert_int_equal(oq_profit_predict_all(m, s, out, &err), 0);
    for (size_t i = 0; i < n * OQ_N_COUPONS; i++)
        assert_true(isfinite(out[i]));
    free(out);
    oq_profit_samples_free(s);
    return (int)(n * OQ_N_COUPONS);
}

static void test_profit_extremes(void **state)
{
    (void)state;
    oq_profit_train_opts o;
    oq_profit_train_opts_default(&o);
    o.epochs = 2;
    o.batch = 64;
    o.quiet = 1;
    oq_error err = {0};
    int checked = 0;

    /* An ordinary fit, then extreme inputs. */
    oq_profit *m = profit_model(4);
    oq_profit_samples *s = profit_samples(1000, 8, 4, 0, 25);
    assert_int_equal(oq_profit_train(m, s, &o, NULL, &err), 0);
    checked += profit_extreme_predictions(m);
    oq_profit_samples_free(s);
    oq_profit_free(m);

    /* Constant columns (one customer type, ~800 training rows, aov 199.17f:
     * the one-pass variance E[v^2] - E[v]^2 gave ~6e-10 from rounding, std
     * 2.5e-5, so an aov of 200 became 33,000 standard deviations), one
     * category, all-zero targets: every std is the zero-variance fallback 1
     * and the fit is finite. */
    m = profit_model(1);
    s = profit_samples(1000, 8, 1, 1, 0);
    oq_profit_epoch hist[2];
    assert_int_equal(oq_profit_train(m, s, &o, hist, &err), 0);
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        assert_true(m->feat_std[k] == 1.0);
    assert_true(m->y_std == 1.0 && m->y_mean == 0.0);
    assert_true(isfinite(hist[1].train_mse) && isfinite(hist[1].val_mse));
    checked += profit_extreme_predictions(m);
    oq_profit_samples_free(s);

    /* Non-finite target: refused before training, naming the column. */
    s = profit_samples(200, 8, 1, 0, 1);
    s->target[3] = INFINITY;
    assert_int_equal(oq_profit_train(m, s, &o, NULL, &err), OQ_ENUM);
    assert_non_null(strstr(err.msg, "reward (target)"));
    s->target[3] = 3e38f; /* huge but finite: the double scaling copes */
    assert_int_equal(oq_profit_train(m, s, &o, NULL, &err), 0);
    assert_true(isfinite(m->y_std) && m->y_std > 1e36);
    /* (r^ = y_mean + y_std * out may now pass FLT_MAX: predict answers
     * OQ_ENUM then, never inf; the fuzz target checks that.) */
    s->target[3] = 1;
    /* An absurd learning rate without clipping: the loss overflows and
     * training stops with OQ_ENUM (not a model of NaNs). */
    o.lr = 1e30;
    o.clip = 0;
    o.batch = 16;
    assert_int_equal(oq_profit_train(m, s, &o, NULL, &err), OQ_ENUM);
    assert_non_null(strstr(err.msg, "not finite"));
    print_message("profit: lr 1e30 stops with: %s\n", err.msg);
    oq_profit_samples_free(s);
    oq_profit_free(m);
    print_message("profit: %d extreme predictions finite\n", checked);
}

/* The checkpoint loader: a config asking for more weights than the file
 * holds (the fuzzer's regress-huge-dims: 154 GB from a 1.2 KB file) is
 * refused before allocating; bad dimensions are named in the message; a
 * non-finite weight is refused. */
static void test_profit_load_bad(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/m.ofq", dir);
    oq_profit *m = profit_model(3), *back = NULL;
    oq_error err = {0};
    assert_int_equal(oq_profit_save(m, path, &err), 0);
    char *data = NULL;
    size_t len = 0;
    assert_int_equal(oq_read_file(path, 1 << 20, &data, &len, &err), 0);
    /* header: magic(8) version(4) T C NH L F H V (u32 each, at 12..40) */
    struct {
        uint32_t off, val;
        const char *msg;
    } cases[] = {
        {16, 4096, "too short"},  /* C = 4096 */
        {24, 64, "too short"},    /* L = 64 */
        {28, 65536, "too short"}, /* F = 65536 */
        {20, 3, "heads must divide"}, {12, 0, "T=0"},
    };
    for (size_t c = 0; c < sizeof cases / sizeof *cases; c++) {
        char *d2 = malloc(len);
        assert_non_null(d2);
        memcpy(d2, data, len);
        for (int b = 0; b < 4; b++)
            d2[cases[c].off + b] = (char)(cases[c].val >> (8 * b));
        uint32_t crc = oq_crc32(0, d2, len - 4);
        for (int b = 0; b < 4; b++)
            d2[len - 4 + b] = (char)(crc >> (8 * b));
        assert_int_equal(oq_write_file_atomic(path, d2, len, &err), 0);
        assert_int_equal(oq_profit_load(path, &back, &err), OQ_EFORMAT);
        assert_null(back);
        assert_non_null(strstr(err.msg, cases[c].msg));
        free(d2);
    }
    /* A NaN weight (the last one before the CRC). */
    float nan = NAN;
    memcpy(data + len - 8, &nan, 4);
    uint32_t crc = oq_crc32(0, data, len - 4);
    for (int b = 0; b < 4; b++)
        data[len - 4 + b] = (char)(crc >> (8 * b));
    assert_int_equal(oq_write_file_atomic(path, data, len, &err), 0);
    assert_int_equal(oq_profit_load(path, &back, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "non-finite weight"));
    free(data);
    oq_profit_free(m);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    gsl_set_error_handler_off();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bgnbd_extremes),  cmocka_unit_test(test_bgnbd_fit_degenerate),
        cmocka_unit_test(test_budget_extremes), cmocka_unit_test(test_run_budgets),
        cmocka_unit_test(test_gen_edges),       cmocka_unit_test(test_profit_extremes),
        cmocka_unit_test(test_profit_load_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
