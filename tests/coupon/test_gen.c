/* test_gen.c - the ground-truth generator: schema, determinism, truth file
 * round trip, and that the simulated population matches its parameters. */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/coupon/evaluate.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *slurp(const char *path, size_t *len)
{
    char *buf = NULL;
    oq_error err = {0};
    if (oq_read_file(path, (size_t)1 << 30, &buf, len, &err)) return NULL;
    return buf;
}

static void test_schema_and_determinism(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char a[512], b[512], c[512], truth[512];
    snprintf(a, sizeof a, "%s/a.csv", dir);
    snprintf(b, sizeof b, "%s/b.csv", dir);
    snprintf(c, sizeof c, "%s/c.csv", dir);
    snprintf(truth, sizeof truth, "%s/a.truth.json", dir);
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    cfg.n_customers = 2000;
    cfg.quiet = 1;
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&cfg, a, &err), 0);
    assert_int_equal(oq_gen_write(&cfg, b, &err), 0);
    cfg.seed = 2;
    assert_int_equal(oq_gen_write(&cfg, c, &err), 0);
    size_t la, lb, lc;
    char *da = slurp(a, &la), *db = slurp(b, &lb), *dc = slurp(c, &lc);
    assert_non_null(da);
    assert_true(la == lb && memcmp(da, db, la) == 0); /* same seed, same bytes */
    assert_false(la == lc && memcmp(da, dc, la) == 0);
    assert_memory_equal(da, OQ_LOG_HEADER "\n", strlen(OQ_LOG_HEADER) + 1);

    oq_log *log = NULL;
    assert_int_equal(oq_log_read(a, &log, &err), 0);
    assert_int_equal(log->n, 2000 * 7);
    /* Coupons follow the logging propensities (0.4, 0.2, 0.2, 0.2) within 4 sigma. */
    size_t cnt[4] = {0};
    for (size_t i = 0; i < log->n; i++)
        cnt[log->coupon[i]]++;
    for (int k = 0; k < 4; k++) {
        double p = cfg.p_log[k], n = (double)log->n;
        assert_true(fabs((double)cnt[k] / n - p) < 4 * sqrt(p * (1 - p) / n));
    }
    /* The budget only goes down over time and ends near budget_left_end. */
    oq_log_index *ix = NULL;
    assert_int_equal(oq_log_index_build(log, &ix, &err), 0);
    assert_int_equal(ix->n_customers, 2000);
    float lo = 1;
    for (size_t i = 0; i < log->n; i++)
        lo = log->budget[i] < lo ? log->budget[i] : lo;
    assert_true(lo > 0.1 && lo < 0.3);
    oq_log_index_free(ix);

    /* Sidecars: the events stream parses with the log's dictionary. */
    char ev[512];
    snprintf(ev, sizeof ev, "%s/a.events.csv", dir);
    oq_events *events = NULL;
    assert_int_equal(oq_events_read(ev, &log->cats, &events, &err), 0);
    assert_true(events->n > log->n);
    oq_events_free(events);

    /* The truth file rebuilds the config. */
    oq_gen_config back;
    assert_int_equal(oq_gen_config_load(truth, &back, &err), 0);
    assert_int_equal(back.seed, 1);
    assert_int_equal(back.n_customers, 2000);
    assert_float_equal(back.alpha, cfg.alpha, 0);
    assert_int_equal(back.start_day, cfg.start_day);

    /* A customer's truth agrees with its log rows: an order on a row means the
     * customer was alive that day, and days_since counts from a real purchase. */
    for (size_t i = 0; i < log->n; i++) {
        if (!log->order[i]) continue;
        oq_gen_customer cu;
        back.seed = 1;
        assert_int_equal(oq_gen_customer_truth(&back, (long)log->user_id[i] - 1, &cu), 0);
        assert_true(log->day[i] < cu.death_day);
        assert_true(log->day[i] > cu.birth_day);
        assert_true(log->day[i] - log->days_since[i] >= cu.birth_day);
    }
    oq_log_free(log);
    free(da);
    free(db);
    free(dc);
    tu_rmdir(dir);
    free(dir);
}

/* The latent population matches its parameters: E[lambda] = r/alpha,
 * Var = r/alpha^2, E[p] = a/(a+b), and the type mix. */
static void test_population(void **state)
{
    (void)state;
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    int n = 20000;
    double s = 0, s2 = 0, sp = 0;
    int types[OQ_GEN_NTYPES] = {0};
    for (int i = 0; i < n; i++) {
        oq_gen_customer cu;
        assert_int_equal(oq_gen_customer_truth(&cfg, i, &cu), 0);
        s += cu.lambda;
        s2 += cu.lambda * cu.lambda;
        sp += cu.p;
        types[cu.type]++;
        assert_true(cu.last_purchase >= cu.birth_day && cu.last_purchase <= cfg.end_day);
        assert_true(cu.n_purchases >= 1);
    }
    double mean = s / n, var = s2 / n - mean * mean;
    double m_true = cfg.r / cfg.alpha, v_true = cfg.r / (cfg.alpha * cfg.alpha);
    assert_true(fabs(mean - m_true) < 4 * sqrt(v_true / n));
    assert_true(fabs(var / v_true - 1) < 0.1);
    double pm = cfg.a / (cfg.a + cfg.b);
    double pv = cfg.a * cfg.b / ((cfg.a + cfg.b) * (cfg.a + cfg.b) * (cfg.a + cfg.b + 1));
    assert_true(fabs(sp / n - pm) < 4 * sqrt(pv / n));
    for (int t = 0; t < OQ_GEN_NTYPES; t++) {
        double p = cfg.type_mix[t];
        assert_true(fabs(types[t] / (double)n - p) < 4 * sqrt(p * (1 - p) / n));
    }
}

/* The truth of tomorrow's offer: dead customers yield nothing; SURE customers
 * lose exactly the coupon on their orders; persuadable ones respond. */
static void test_expected(void **state)
{
    (void)state;
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    int seen_dead = 0, seen_sure = 0, seen_pers = 0;
    for (int i = 0; i < 3000; i++) {
        oq_gen_customer cu;
        assert_int_equal(oq_gen_customer_truth(&cfg, i, &cu), 0);
        double p[4], r[4], sp[4];
        for (int c = 0; c < 4; c++) {
            oq_gen_expected(&cfg, &cu, c, &p[c], &r[c], &sp[c]);
            assert_true(p[c] >= 0 && p[c] <= 1);
            assert_float_equal(sp[c], p[c] * oq_coupon_value(c), 1e-12);
        }
        if (cu.death_day <= cfg.end_day + 1) {
            seen_dead++;
            for (int c = 0; c < 4; c++)
                assert_float_equal(r[c], 0, 0);
        } else if (cu.type == OQ_GEN_SURE) {
            seen_sure++;
            assert_float_equal(p[3], p[0], 1e-12);
            assert_true(r[3] < r[0]);
        } else if (cu.type == OQ_GEN_PERSUADABLE) {
            seen_pers++;
            assert_true(p[3] > p[2] && p[2] > p[1] && p[1] > p[0]);
        }
    }
    assert_true(seen_dead > 100 && seen_sure > 100 && seen_pers > 100);
}

static void test_bad_config(void **state)
{
    (void)state;
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    cfg.p_log[0] = 0.5; /* no longer sums to 1 */
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&cfg, "/tmp/never-written.csv", &err), OQ_EINVAL);
    assert_false(oq_file_exists("/tmp/never-written.csv"));
    /* a folder that cannot be created (its parent is a file) */
    char *t = tu_tmpdir(), bad[4096];
    snprintf(bad, sizeof bad, "%s/file", t);
    FILE *fp = fopen(bad, "w");
    assert_non_null(fp);
    fclose(fp);
    snprintf(bad, sizeof bad, "%s/file/dir/x.csv", t);
    oq_gen_config_default(&cfg);
    assert_int_equal(oq_gen_write(&cfg, bad, &err), OQ_EIO);
    assert_non_null(strstr(err.msg, "cannot create folder"));
    tu_rmdir(t);
    free(t);
}

/* types.persuadable.lead_days: a persuadable customer answers a coupon only
 * on a day lead_days after a day they browsed. The browsing history the
 * truth keeps (oq_gen_customer.browsed) is the events file's; tomorrow's
 * truth moves a ready persuadable customer and leaves an unready one at q0
 * whatever the coupon; the range is [0, OQ_GEN_MAX_LEAD]; the closed loop's
 * live state keeps the same history. */
static void test_lead_days(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), path[512], evp[512];
    snprintf(path, sizeof path, "%s/l.csv", dir);
    snprintf(evp, sizeof evp, "%s/l.events.csv", dir);
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    cfg.lead_days = 2;
    cfg.n_customers = 400;
    cfg.quiet = 1;
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&cfg, path, &err), 0);
    oq_log *log = NULL;
    oq_events *ev = NULL;
    assert_int_equal(oq_log_read(path, &log, &err), 0);
    assert_int_equal(oq_events_read(evp, &log->cats, &ev, &err), 0);
    /* Browsing days of each customer from the events file (the last 64 days). */
    uint64_t *bits = calloc((size_t)cfg.n_customers, sizeof *bits);
    assert_non_null(bits);
    for (size_t i = 0; i < ev->n; i++) {
        int32_t ago = cfg.end_day - ev->day[i];
        if (ago >= 0 && ago < 64) bits[ev->user_id[i] - 1] |= (uint64_t)1 << ago;
    }
    int ready = 0, unready = 0;
    for (long i = 0; i < cfg.n_customers; i++) {
        oq_gen_customer cu;
        assert_int_equal(oq_gen_customer_truth(&cfg, i, &cu), 0);
        assert_true(cu.browsed == bits[i]);
        if (cu.type != OQ_GEN_PERSUADABLE || cu.death_day <= cfg.end_day + 1) continue;
        double p[4], r[4], sp[4];
        for (int c = 0; c < 4; c++)
            oq_gen_expected(&cfg, &cu, c, &p[c], &r[c], &sp[c]);
        if (cu.browsed >> 1 & 1) { /* browsed on end_day - 1: two days before tomorrow */
            ready++;
            assert_true(p[3] > p[2] && p[2] > p[1] && p[1] > p[0]);
        } else {
            unready++;
            assert_float_equal(p[3], p[0], 1e-15);
            assert_float_equal(p[1], p[0], 1e-15);
        }
        /* The closed loop's live state starts from the same history and
         * adds one bit a day. */
        oq_gen_live lv;
        assert_int_equal(oq_gen_live_init(&cfg, i, &lv), 0);
        assert_true(lv.browsed == cu.browsed);
        gsl_rng *rng = oq_rng_new(cfg.seed, 0);
        oq_gen_outcome out;
        oq_gen_live_step(&cfg, i, &lv, cfg.end_day + 1, 1, 3, rng, &out);
        assert_true(lv.browsed == (cu.browsed << 1 | (uint64_t)out.browsed));
        gsl_rng_free(rng);
    }
    assert_true(ready > 5 && unready > 5);
    /* The contact-day truth explains the log it generated (per coupon, the
     * mean true reward of the logged coupon within 4 standard errors of the
     * mean logged reward), with readiness on each contact day. */
    double *tr = malloc(log->n * 4 * sizeof *tr);
    assert_non_null(tr);
    assert_int_equal(oq_truth_contacts(&cfg, log, tr, &err), 0);
    for (int c = 0; c < 4; c++) {
        double se = 0, sl = 0, s2 = 0;
        size_t m = 0;
        for (size_t i = 0; i < log->n; i++) {
            if (log->coupon[i] != c) continue;
            double r = oq_log_reward(log, i);
            se += tr[i * 4 + c];
            sl += r;
            s2 += r * r;
            m++;
        }
        double mean = sl / (double)m, sd = sqrt(s2 / (double)m - mean * mean);
        assert_true(fabs(se / (double)m - mean) < 4 * sd / sqrt((double)m));
    }
    free(tr);
    /* Without the knob every persuadable customer is ready: the default truth. */
    oq_gen_config off = cfg;
    off.lead_days = 0;
    for (long i = 0; i < 200; i++) {
        oq_gen_customer cu;
        assert_int_equal(oq_gen_customer_truth(&off, i, &cu), 0);
        if (cu.type != OQ_GEN_PERSUADABLE || cu.death_day <= cfg.end_day + 1) continue;
        double p0, p3, r, sp;
        oq_gen_expected(&off, &cu, 0, &p0, &r, &sp);
        oq_gen_expected(&off, &cu, 3, &p3, &r, &sp);
        assert_true(p3 > p0);
    }
    /* Range. */
    cfg.lead_days = OQ_GEN_MAX_LEAD;
    assert_int_equal(oq_gen_config_check(&cfg, &err), 0);
    cfg.lead_days = OQ_GEN_MAX_LEAD + 1;
    assert_int_equal(oq_gen_config_check(&cfg, &err), OQ_EINVAL);
    cfg.lead_days = -1;
    assert_int_equal(oq_gen_config_check(&cfg, &err), OQ_EINVAL);
    free(bits);
    oq_events_free(ev);
    oq_log_free(log);
    tu_rmdir(dir);
    free(dir);
}

/* Up to OQ_GEN_MAX_CATS categories: those past the named 16 repeat their
 * value and margin under their own name; more are refused. */
static void test_many_categories(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/c.csv", dir);
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    cfg.n_cats = OQ_GEN_MAX_CATS;
    cfg.n_customers = 1500;
    cfg.quiet = 1;
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&cfg, path, &err), 0);
    oq_log *log = NULL;
    assert_int_equal(oq_log_read(path, &log, &err), 0);
    assert_true(log->cats.n > 48 && log->cats.n <= OQ_GEN_MAX_CATS);
    assert_string_equal(oq_gen_category_name(16), "electronics-2");
    assert_string_equal(oq_gen_category_name(OQ_GEN_MAX_CATS - 1), "travel-4");
    for (int k = 0; k < OQ_GEN_MAX_CATS; k++)
        for (int j = 0; j < k; j++)
            assert_true(strcmp(oq_gen_category_name(k), oq_gen_category_name(j)) != 0);
    /* A customer whose favourite is category 16 + k expects the gross of one
     * whose favourite is k (same value and margin). */
    oq_gen_customer cu;
    assert_int_equal(oq_gen_customer_truth(&cfg, 0, &cu), 0);
    cu.death_day = INT32_MAX;
    double p, r16, r0, sp;
    cu.favourite_next = 16 + 3;
    oq_gen_expected(&cfg, &cu, 0, &p, &r16, &sp);
    cu.favourite_next = 3;
    oq_gen_expected(&cfg, &cu, 0, &p, &r0, &sp);
    assert_float_equal(r16, r0, 1e-12);
    cfg.n_cats = OQ_GEN_MAX_CATS + 1;
    assert_int_equal(oq_gen_config_check(&cfg, &err), OQ_EINVAL);
    oq_log_free(log);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_schema_and_determinism),
        cmocka_unit_test(test_population),
        cmocka_unit_test(test_expected),
        cmocka_unit_test(test_bad_config),
        cmocka_unit_test(test_lead_days),
        cmocka_unit_test(test_many_categories),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
