/* test_gross.c - the gross-profit model (gross.h) against golden values
 * recomputed independently with numpy by tools/gross_golden.py from the
 * same CSV files (category effects, margins, levels and variances, the
 * category model's grid, g of every log row and of every customer
 * tomorrow) in its three modes (orders file, none, no events), plus the
 * purchases reader's error messages and the model's error paths. */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/coupon/gross.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TOL 1e-9

typedef struct fixture {
    oq_log *log;
    oq_events *ev;
    oq_orders *orders;
    oq_log_index *ix;
    oq_events_ix *evx;
    int32_t tomorrow;
    json_t *golden;
} fixture;

static void load(fixture *fx)
{
    oq_error err = {0};
    memset(fx, 0, sizeof *fx);
    assert_int_equal(oq_log_read(tu_source("tests/data/gross/log.csv"), &fx->log, &err), 0);
    assert_int_equal(
        oq_events_read(tu_source("tests/data/gross/log.events.csv"), &fx->log->cats, &fx->ev, &err),
        0);
    assert_int_equal(
        oq_orders_read(tu_source("tests/data/gross/log.orders.csv"), &fx->orders, &err), 0);
    assert_int_equal(oq_log_index_build(fx->log, &fx->ix, &err), 0);
    assert_int_equal(oq_events_ix_build(fx->ev, fx->ix, &fx->evx, &err), 0);
    /* the appended event row leaves the file unsorted: the index sorts it */
    assert_non_null(fx->evx->order);
    int32_t last = INT32_MIN;
    for (size_t i = 0; i < fx->log->n; i++)
        last = fx->log->day[i] > last ? fx->log->day[i] : last;
    fx->tomorrow = last + 1;
    json_error_t je;
    fx->golden = json_load_file(tu_source("tests/golden/gross/model.json"), 0, &je);
    if (!fx->golden) fprintf(stderr, "golden: %s line %d\n", je.text, je.line);
    assert_non_null(fx->golden);
}

static void unload(fixture *fx)
{
    json_decref(fx->golden);
    oq_events_ix_free(fx->evx);
    oq_log_index_free(fx->ix);
    oq_orders_free(fx->orders);
    oq_events_free(fx->ev);
    oq_log_free(fx->log);
}

static void assert_close(double got, double want, double tol, const char *what, long i)
{
    if (!(fabs(got - want) <= tol * (1 + fabs(want)))) {
        fprintf(stderr, "%s[%ld]: got %.17g, want %.17g\n", what, i, got, want);
        fail();
    }
}

static double num(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    assert_non_null(v);
    assert_true(json_is_number(v));
    return json_number_value(v);
}

/* Per-category values by name, in the model's id order. */
static void check_cats(const json_t *g, const char *key, const double *got, const oq_log *log)
{
    json_t *o = json_object_get(g, key);
    assert_non_null(o);
    assert_int_equal(json_object_size(o), log->cats.n);
    for (uint32_t k = 0; k < log->cats.n; k++)
        assert_close(got[k], num(o, log->cats.names[k]), TOL, key, (long)k);
}

static void check_vector_tol(const json_t *g, const char *key, const double *got, size_t n,
                             double tol)
{
    json_t *a = json_object_get(g, key);
    assert_non_null(a);
    assert_int_equal(json_array_size(a), n);
    for (size_t i = 0; i < n; i++)
        assert_close(got[i], json_number_value(json_array_get(a, i)), tol, key, (long)i);
}

static void check_vector(const json_t *g, const char *key, const double *got, size_t n)
{
    check_vector_tol(g, key, got, n, TOL);
}

/* Fit and predict in one mode and compare everything with the golden file. */
static void check_mode(fixture *fx, const char *mode, const oq_events *ev, const oq_events_ix *evx,
                       const oq_orders *orders)
{
    json_t *g = json_object_get(fx->golden, mode);
    assert_non_null(g);
    oq_error err = {0};
    oq_gross *m = NULL;
    int rc = oq_gross_fit(fx->log, fx->ix, ev, evx, orders, NULL, &m, &err);
    if (rc) fprintf(stderr, "%s: %s\n", mode, err.msg);
    assert_int_equal(rc, 0);
    assert_int_equal(m->n_cats, fx->log->cats.n);
    check_cats(g, "b", m->b, fx->log);
    check_cats(g, "margin", m->margin, fx->log);
    check_cats(g, "pop", m->pop, fx->log);
    assert_close(m->m0, num(g, "m0"), TOL, "m0", 0);
    assert_close(m->sa2, num(g, "sa2"), TOL, "sa2", 0);
    assert_close(m->se2, num(g, "se2"), TOL, "se2", 0);
    assert_close(m->pooled_margin, num(g, "pooled_margin"), TOL, "pooled_margin", 0);
    assert_close(m->pop_f, num(g, "pop_f"), TOL, "pop_f", 0);
    assert_close(m->loglik, num(g, "loglik"), TOL, "loglik", 0);
    assert_close(m->drift, num(g, "drift"), 1e-15, "drift", 0);
    assert_close(m->conc, num(g, "conc"), 1e-15, "conc", 0);
    assert_close(m->alpha, num(g, "alpha"), 1e-15, "alpha", 0);
    assert_int_equal(m->n_orders, (size_t)num(g, "n_orders"));
    assert_int_equal(m->n_known, (size_t)num(g, "n_known"));
    assert_int_equal(m->n_customers, (size_t)num(g, "n_customers"));
    assert_int_equal(m->n_cats_used, (size_t)num(g, "n_cats_used"));
    assert_int_equal(m->n_margin_rows, (size_t)num(g, "n_margin_rows"));
    assert_int_equal(fx->tomorrow, (int32_t)num(g, "tomorrow"));
    if (m->alpha > 0) {
        json_t *grid = json_object_get(g, "loglik_grid");
        for (int d = 0; d < OQ_GROSS_NDRIFT; d++)
            for (int c = 0; c < OQ_GROSS_NCONC; c++)
                for (int a = 0; a < OQ_GROSS_NALPHA; a++)
                    assert_close(m->loglik_grid[d][c][a],
                                 json_number_value(
                                     json_array_get(json_array_get(json_array_get(grid, d), c), a)),
                                 TOL, "loglik_grid", (d * 10 + c) * 10 + a);
    }
    double *gr = malloc(fx->log->n * sizeof *gr), *gt = malloc(fx->ix->n_customers * sizeof *gt);
    assert_int_equal(
        oq_gross_predict(m, fx->log, fx->ix, ev, evx, orders, fx->tomorrow, gr, gt, &err), 0);
    check_vector(g, "g_row", gr, fx->log->n);
    check_vector(g, "g_tom", gt, fx->ix->n_customers);
    /* the browse concentration evidence, written with a stride of 2 into
       float columns (feature 11 of the response model) */
    float *er = malloc(2 * fx->log->n * sizeof *er),
          *et = malloc(2 * fx->ix->n_customers * sizeof *et);
    double *erd = malloc(fx->log->n * sizeof *erd),
           *etd = malloc(fx->ix->n_customers * sizeof *etd);
    assert_true(er && et && erd && etd);
    assert_int_equal(oq_gross_evidence(m, fx->log, fx->ix, ev, evx, fx->tomorrow, er, et, 2, &err),
                     0);
    for (size_t i = 0; i < fx->log->n; i++)
        erd[i] = er[2 * i];
    for (size_t c = 0; c < fx->ix->n_customers; c++)
        etd[c] = et[2 * c];
    check_vector_tol(g, "evidence_row", erd, fx->log->n, 1e-6);
    check_vector_tol(g, "evidence_tom", etd, fx->ix->n_customers, 1e-6);
    free(er);
    free(et);
    free(erd);
    free(etd);
    /* a customer without orders: the population level, exp(m0 + sa2/2 + se2/2) x S */
    json_t *none = json_object_get(g, "customers_without_orders");
    assert_true(json_array_size(none) > 0);
    long c = oq_log_index_find(fx->ix, json_integer_value(json_array_get(none, 0)));
    assert_true(c >= 0);
    if (!evx || !m->n_known)
        assert_close(gt[c], exp(m->m0 + m->sa2 / 2 + m->se2 / 2) * m->pop_f, 1e-12, "no orders", c);
    /* g_tom may be NULL; g_row is then the same */
    double *gr2 = malloc(fx->log->n * sizeof *gr2);
    assert_int_equal(
        oq_gross_predict(m, fx->log, fx->ix, ev, evx, orders, fx->tomorrow, gr2, NULL, &err), 0);
    assert_memory_equal(gr, gr2, fx->log->n * sizeof *gr);
    free(gr2);
    free(gr);
    free(gt);
    oq_gross_free(m);
}

static void test_golden_orders(void **state)
{
    (void)state;
    fixture fx;
    load(&fx);
    check_mode(&fx, "orders", fx.ev, fx.evx, fx.orders);
    unload(&fx);
}

static void test_golden_no_orders(void **state)
{
    (void)state;
    fixture fx;
    load(&fx);
    check_mode(&fx, "no_orders", fx.ev, fx.evx, NULL);
    unload(&fx);
}

static void test_golden_no_events(void **state)
{
    (void)state;
    fixture fx;
    load(&fx);
    check_mode(&fx, "no_events", NULL, NULL, fx.orders);
    unload(&fx);
}

/* Margins fall back to the pooled one below margin_min_rows; the mode of
 * the fit and of the prediction must agree. */
static void test_options_and_misuse(void **state)
{
    (void)state;
    fixture fx;
    load(&fx);
    oq_error err = {0};
    oq_gross_opts o;
    oq_gross_opts_default(&o);
    assert_int_equal(o.sweeps, 20);
    assert_int_equal(o.margin_min_rows, 5);
    o.margin_min_rows = 1000000;
    oq_gross *m = NULL;
    assert_int_equal(oq_gross_fit(fx.log, fx.ix, fx.ev, fx.evx, fx.orders, &o, &m, &err), 0);
    for (size_t k = 0; k < m->n_cats; k++)
        assert_true(m->margin[k] == m->pooled_margin);
    double *gr = malloc(fx.log->n * sizeof *gr);
    memset(&err, 0, sizeof err);
    assert_int_equal(
        oq_gross_predict(m, fx.log, fx.ix, fx.ev, fx.evx, NULL, fx.tomorrow, gr, NULL, &err),
        OQ_EINVAL);
    assert_non_null(strstr(err.msg, "orders file"));
    assert_int_equal(
        oq_gross_predict(m, fx.log, fx.ix, fx.ev, NULL, fx.orders, fx.tomorrow, gr, NULL, &err),
        OQ_EINVAL);
    oq_gross_free(m);
    m = NULL;
    o.sweeps = 0;
    assert_int_equal(oq_gross_fit(fx.log, fx.ix, fx.ev, fx.evx, fx.orders, &o, &m, &err),
                     OQ_EINVAL);
    assert_null(m);
    /* events without their index */
    assert_int_equal(oq_gross_fit(fx.log, fx.ix, fx.ev, NULL, fx.orders, NULL, &m, &err),
                     OQ_EINVAL);
    assert_null(m);
    /* an orders file that matches none of the log's order rows: no margin */
    oq_orders *other = NULL;
    const char *csv = "user_id,date,value\n1,1999-01-01,10\n";
    assert_int_equal(oq_orders_read_mem("other.csv", csv, strlen(csv), &other, &err), 0);
    memset(&err, 0, sizeof err);
    assert_int_equal(oq_gross_fit(fx.log, fx.ix, fx.ev, fx.evx, other, NULL, &m, &err), OQ_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "margin"));
    oq_orders_free(other);
    /* orders of nobody in the log */
    csv = "user_id,date,value\n424242,2025-02-01,10\n";
    assert_int_equal(oq_orders_read_mem("nobody.csv", csv, strlen(csv), &other, &err), 0);
    assert_int_equal(oq_gross_fit(fx.log, fx.ix, fx.ev, fx.evx, other, NULL, &m, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "nothing to fit"));
    oq_orders_free(other);
    free(gr);
    unload(&fx);
}

/* A log without any order row with a profit: nothing to fit (step 7). */
static void test_log_without_orders(void **state)
{
    (void)state;
    const char *csv = OQ_LOG_HEADER "\n"
                                    "1,2025-01-01,3,0,0,books,0.5,none,0,0\n"
                                    "2,2025-01-02,3,0,0,toys,0.5,5,0,0\n";
    oq_log *log = NULL;
    oq_log_index *ix = NULL;
    oq_gross *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("tiny.csv", csv, strlen(csv), &log, &err), 0);
    assert_int_equal(oq_log_index_build(log, &ix, &err), 0);
    assert_int_equal(oq_gross_fit(log, ix, NULL, NULL, NULL, NULL, &m, &err), OQ_EINVAL);
    assert_null(m);
    assert_non_null(strstr(err.msg, "nothing to fit"));
    oq_log_index_free(ix);
    oq_log_free(log);
}

/* More browsed categories than the sparse filter holds apart (customer 1
 * browses 40 in turn, one a day): g must equal the exact filter's, a
 * dense posterior over all K categories recomputed here from the model's
 * fitted parameters (step 6 with the log's order rows, step 7). */
static double dense_g(const oq_gross *m, const oq_log *lg, const oq_log_index *ix,
                      const oq_events *ev, const oq_events_ix *evx, size_t c, int32_t t)
{
    size_t K = m->n_cats, n = 0;
    double sum_dev = 0;
    for (size_t q = ix->start[c]; q < ix->start[c + 1]; q++) {
        size_t r = ix->row[q];
        if (lg->order[r] && lg->profit[r] > 0 && lg->day[r] < t) {
            sum_dev += log(lg->profit[r]) - m->b[lg->category[r]];
            n++;
        }
    }
    double P = 1 / m->sa2 + (double)n / m->se2;
    double mu = n ? (m->m0 / m->sa2 + sum_dev / m->se2) / P : m->m0, pv = n ? 1 / P : m->sa2;
    double *pi = malloc(K * sizeof *pi);
    assert_non_null(pi);
    for (size_t k = 0; k < K; k++)
        pi[k] = 1.0 / (double)K;
    int32_t last = INT32_MIN;
    for (size_t j = evx->lo[c]; j < evx->hi[c]; j++) {
        size_t x = oq_events_ix_at(evx, j);
        if (ev->day[x] >= t) break;
        double keep = last == INT32_MIN ? 1 : pow(1 - m->drift, ev->day[x] - last), z = 0;
        for (size_t k = 0; k < K; k++) {
            pi[k] = keep * pi[k] + (1 - keep) / (double)K;
            pi[k] *= (1 - m->conc) / (double)K + (k == ev->category[x] ? m->conc : 0);
            z += pi[k];
        }
        for (size_t k = 0; k < K; k++)
            pi[k] /= z;
        last = ev->day[x];
    }
    double keep = last == INT32_MIN ? 1 : pow(1 - m->drift, t - last), S = 0;
    for (size_t k = 0; k < K; k++)
        S += (keep * pi[k] + (1 - keep) / (double)K) * m->f[k];
    free(pi);
    S = m->alpha * S + (1 - m->alpha) * m->pop_f;
    return exp(mu + pv / 2 + m->se2 / 2) * S;
}

/* g with OQ_GROSS_MIX_ORDERS recomputed from its formula (gross.h): the
 * level as dense_g, the mix of the customer's earlier order rows (step 7:
 * the row's category), one pseudo-order of the population. */
static double orders_g(const oq_gross *m, const oq_log *lg, const oq_log_index *ix, size_t c,
                       int32_t t)
{
    size_t n = 0;
    double sum_dev = 0, sf = 0;
    for (size_t q = ix->start[c]; q < ix->start[c + 1]; q++) {
        size_t r = ix->row[q];
        if (lg->order[r] && lg->profit[r] > 0 && lg->day[r] < t) {
            sum_dev += log(lg->profit[r]) - m->b[lg->category[r]];
            sf += m->f[lg->category[r]];
            n++;
        }
    }
    double P = 1 / m->sa2 + (double)n / m->se2;
    double mu = n ? (m->m0 / m->sa2 + sum_dev / m->se2) / P : m->m0, pv = n ? 1 / P : m->sa2;
    return exp(mu + pv / 2 + m->se2 / 2) * (sf + m->pop_f) / ((double)n + 1);
}

static void test_many_categories(void **state)
{
    (void)state;
    enum { NCAT = 40, NU = 4, NROW = 12, NDAY = 120 };
    char *logcsv = malloc(1 << 16), *evcsv = malloc(1 << 20);
    assert_non_null(logcsv);
    assert_non_null(evcsv);
    size_t a = (size_t)sprintf(logcsv, "%s\n", OQ_LOG_HEADER),
           b = (size_t)sprintf(evcsv, "user_id,date,category\n");
    for (int u = 1; u <= NU; u++)
        for (int i = 0; i < NROW; i++) {
            int k = (u * 11 + i * 3) % NCAT, buy = (u + i) % 3 != 0;
            a += (size_t)sprintf(logcsv + a, "%d,2025-%02d-%02d,5,1,50,c%02d,0.5,%s,%d,%.2f\n", u,
                                 1 + i / 3, 1 + 9 * (i % 3), k, i % 2 ? "10" : "none", buy,
                                 buy ? 5.0 + (u * 7 + i * 5) % 11 : 0.0);
        }
    for (int d = 0; d < NDAY; d++)
        for (int u = 1; u <= NU - 1; u++) {
            int k = u == 1 ? d % NCAT : u == 2 ? 5 : (d * 7) % NCAT;
            b += (size_t)sprintf(evcsv + b, "%d,2025-%02d-%02d,c%02d\n", u, 1 + d / 28, 1 + d % 28,
                                 k);
        }
    oq_log *log = NULL;
    oq_log_index *ix = NULL;
    oq_events *ev = NULL;
    oq_events_ix *evx = NULL;
    oq_gross *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("many.csv", logcsv, a, &log, &err), 0);
    assert_int_equal(oq_events_read_mem("many.events.csv", evcsv, b, &log->cats, &ev, &err), 0);
    assert_int_equal(oq_log_index_build(log, &ix, &err), 0);
    assert_int_equal(oq_events_ix_build(ev, ix, &evx, &err), 0);
    assert_true(log->cats.n >= NCAT);
    int rc = oq_gross_fit(log, ix, ev, evx, NULL, NULL, &m, &err);
    if (rc) fprintf(stderr, "%s\n", err.msg);
    assert_int_equal(rc, 0);
    assert_true(m->alpha > 0);
    double *gr = malloc(log->n * sizeof *gr), gt[NU];
    assert_non_null(gr);
    int32_t tomorrow;
    assert_int_equal(oq_date_parse("2025-06-01", 10, &tomorrow), 0);
    assert_int_equal(oq_gross_predict(m, log, ix, ev, evx, NULL, tomorrow, gr, gt, &err), 0);
    for (size_t c = 0; c < NU; c++) {
        double want = dense_g(m, log, ix, ev, evx, c, tomorrow);
        /* customers 2-4 browse at most 32 categories: exact. Customer 1's 33rd
           to 40th fold the oldest weights into u: ~1e-14 off here (the
           folded weights are tiny after 32 other days) */
        double tol = ix->user_id[c] == 1 ? 1e-9 : 1e-12;
        if (!(fabs(gt[c] - want) <= tol * want)) {
            fprintf(stderr, "customer %lld: g %.17g, dense %.17g\n", (long long)ix->user_id[c],
                    gt[c], want);
            fail();
        }
    }
    for (size_t i = 0; i < log->n; i++) {
        size_t c = (size_t)oq_log_index_find(ix, log->user_id[i]);
        double want = dense_g(m, log, ix, ev, evx, c, log->day[i]);
        assert_true(isfinite(gr[i]) && fabs(gr[i] - want) <= 1e-9 * want);
    }
    /* The story-free mix (`offerq run --features raw`): no filter is fitted,
     * the level, category effects and margins are the filter model's, g is
     * orders_g's, and the browse evidence is 0. */
    oq_gross_opts o;
    oq_gross_opts_default(&o);
    assert_int_equal(o.mix, OQ_GROSS_MIX_FILTER);
    o.mix = OQ_GROSS_MIX_ORDERS;
    oq_gross *mo = NULL;
    assert_int_equal(oq_gross_fit(log, ix, ev, evx, NULL, &o, &mo, &err), 0);
    assert_int_equal(mo->mix, OQ_GROSS_MIX_ORDERS);
    assert_true(mo->drift == 0 && mo->conc == 0 && mo->alpha == 0);
    assert_true(mo->m0 == m->m0 && mo->sa2 == m->sa2 && mo->se2 == m->se2 && mo->pop_f == m->pop_f);
    for (size_t k = 0; k < m->n_cats; k++)
        assert_true(mo->b[k] == m->b[k] && mo->f[k] == m->f[k]);
    assert_int_equal(oq_gross_predict(mo, log, ix, ev, evx, NULL, tomorrow, gr, gt, &err), 0);
    for (size_t c = 0; c < NU; c++)
        assert_true(fabs(gt[c] - orders_g(mo, log, ix, c, tomorrow)) <= 1e-12 * gt[c]);
    for (size_t i = 0; i < log->n; i++) {
        size_t c = (size_t)oq_log_index_find(ix, log->user_id[i]);
        double want = orders_g(mo, log, ix, c, log->day[i]);
        assert_true(isfinite(gr[i]) && fabs(gr[i] - want) <= 1e-12 * want);
    }
    float *evid = malloc(log->n * sizeof *evid);
    assert_non_null(evid);
    assert_int_equal(oq_gross_evidence(mo, log, ix, ev, evx, tomorrow, evid, NULL, 1, &err), 0);
    for (size_t i = 0; i < log->n; i++)
        assert_true(evid[i] == 0);
    free(evid);
    o.mix = 7;
    oq_gross *bad = NULL;
    assert_int_equal(oq_gross_fit(log, ix, ev, evx, NULL, &o, &bad, &err), OQ_EINVAL);
    assert_null(bad);
    oq_gross_free(mo);
    free(gr);
    oq_gross_free(m);
    oq_events_ix_free(evx);
    oq_events_free(ev);
    oq_log_index_free(ix);
    oq_log_free(log);
    free(logcsv);
    free(evcsv);
}

/* ---- the purchases reader ---------------------------------------------------------- */

static void test_orders_read_ok(void **state)
{
    (void)state;
    /* columns in any order, CRLF, a quoted field */
    const char *csv = "value,user_id,date\r\n12.5,7,2025-03-01\r\n\"3e1\",-2,2024-02-29\r\n";
    oq_orders *o = NULL;
    oq_error err = {0};
    assert_int_equal(oq_orders_read_mem("ok.csv", csv, strlen(csv), &o, &err), 0);
    assert_int_equal(o->n, 2);
    int32_t d;
    assert_int_equal(oq_date_parse("2025-03-01", 10, &d), 0);
    assert_int_equal(o->user_id[0], 7);
    assert_int_equal(o->day[0], d);
    assert_true(o->value[0] == 12.5);
    assert_int_equal(o->user_id[1], -2);
    assert_true(o->value[1] == 30);
    oq_orders_free(o);
    /* header only: no orders */
    csv = "user_id,date,value\n";
    assert_int_equal(oq_orders_read_mem("empty.csv", csv, strlen(csv), &o, &err), 0);
    assert_int_equal(o->n, 0);
    oq_orders_free(o);
    oq_orders_free(NULL);
    /* the test data file */
    assert_int_equal(oq_orders_read(tu_source("tests/data/gross/log.orders.csv"), &o, &err), 0);
    assert_true(o->n > 400);
    oq_orders_free(o);
}

typedef struct bad_case {
    const char *csv;
    long line, col;
    const char *msg; /* a part of the message */
} bad_case;

static void test_orders_read_errors(void **state)
{
    (void)state;
    static const bad_case cases[] = {
        {"user_id,date,value\n1,2025-02-30,10\n", 2, 2, "expected a date YYYY-MM-DD"},
        {"user_id,date,value\n1,2025-02-03,ten\n", 2, 3, "expected a finite number > 0"},
        {"user_id,date,value\n1,2025-02-03,0\n", 2, 3, "got \"0\", expected a finite number > 0"},
        {"user_id,date,value\n1,2025-02-03,10\n1,2025-02-04,-4.5\n", 3, 3, "> 0"},
        {"user_id,date,value\n1,2025-02-03,1e999\n", 2, 3, "finite"},
        {"user_id,date,value\n1,2025-02-03,nan\n", 2, 3, "finite"},
        {"user_id,date,value\nx1,2025-02-03,3\n", 2, 1, "an integer customer id"},
        {"date,value,user_id\n2025-02-03,3,1.5\n", 2, 3, "column 3 (user_id)"},
        {"user_id,date\n1,2025-02-03\n", 1, 3, "missing column \"value\""},
        {"user_id,date,value,x\n", 1, 4, "unknown column \"x\""},
        {"user_id,date,date\n", 1, 3, "appears twice"},
        {"user_id,date,value\n1,2025-02-03\n", 2, 2, "missing columns"},
        {"user_id,date,value\n1,2025-02-03,4,5\n", 2, 4, "extra columns"},
        {"user_id,date,value\n1,2025-02-03,4", 0, 0, ""}, /* no final newline */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        oq_orders *o = (oq_orders *)&cases; /* must be reset to NULL */
        oq_error err = {0};
        int rc = oq_orders_read_mem("bad.orders.csv", cases[i].csv, strlen(cases[i].csv), &o, &err);
        char buf[1200];
        oq_error_format(&err, buf, sizeof buf);
        if (rc != OQ_EPARSE || o != NULL ||
            (cases[i].line && (err.line != cases[i].line || err.col != cases[i].col)) ||
            !strstr(buf, cases[i].msg) || !strstr(buf, "bad.orders.csv")) {
            fprintf(stderr, "case %zu: rc %d, \"%s\"\n", i, rc, buf);
            fail();
        }
    }
    /* a missing file */
    oq_orders *o = NULL;
    oq_error err = {0};
    assert_int_equal(oq_orders_read("/nonexistent/x.orders.csv", &o, &err), OQ_EIO);
    assert_null(o);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_orders_read_ok),     cmocka_unit_test(test_orders_read_errors),
        cmocka_unit_test(test_golden_orders),      cmocka_unit_test(test_golden_no_orders),
        cmocka_unit_test(test_golden_no_events),   cmocka_unit_test(test_options_and_misuse),
        cmocka_unit_test(test_log_without_orders), cmocka_unit_test(test_many_categories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
