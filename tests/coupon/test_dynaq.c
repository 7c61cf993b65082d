/* test_dynaq.c - Dyna-Q update, states, Q table files, merge, trainer, planner. */
#include "testutil.h"
#include "offerq/coupon/dynaq.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The seed's worked example: P(alive) 0.82, r^ = 105 - 10 = 95, so
 * r~ = 77.9; Q(s,10) = 65, max Q(s') = 70, alpha 0.3, gamma 0.95.
 * Sutton & Barto eq. 6.8 gives 65 + 0.3 (77.9 + 0.95 x 70 - 65) = 88.82 (TD
 * error 79.4). The seed text says "about 74", which its own numbers do not
 * give: 74.0 = 65 + 0.3 (95 - 65), i.e. r^ without P(alive) and without the
 * gamma max Q(s') term. We implement eq. 6.8 and test the hand-computed value. */
static void test_worked_example(void **st)
{
    (void)st;
    double q = 65, r = 0.82 * (105 - 10);
    double td = oq_dynaq_td_update(&q, r, 70, 0, 0.3, 0.95);
    assert_true(fabs(td - 79.4) < 1e-9);
    assert_true(fabs(q - 88.82) < 1e-9);
    /* terminal: no bootstrap term */
    q = 65;
    oq_dynaq_td_update(&q, r, 70, 1, 0.3, 0.95);
    assert_true(fabs(q - 68.87) < 1e-9);
    /* the seed's printed 74 is the update with r^ = 95 and nothing else */
    q = 65;
    oq_dynaq_td_update(&q, 95, 70, 1, 0.3, 0.95);
    assert_true(fabs(q - 74.0) < 0.1);
}

static void test_keys(void **st)
{
    (void)st;
    oq_dynaq_disc d;
    oq_dynaq_disc_default(&d);
    unsigned u[5];
    /* the seed's bucket(): (7 // 10, 3 // 2, 120 // 20, int(0.7 * 10), 4) */
    uint64_t k = oq_dynaq_key(&d, 7, 3, 120, (float)0.7, 4);
    oq_dynaq_key_unpack(k, u);
    assert_int_equal(u[0], 0);
    assert_int_equal(u[1], 1);
    assert_int_equal(u[2], 6);
    assert_int_equal(u[3], 7); /* 0.7f * 10 = 6.99999988: still bucket 7 */
    assert_int_equal(u[4], 4);
    char buf[48];
    oq_dynaq_key_format(k, buf, sizeof buf);
    assert_string_equal(buf, "0|1|6|7|4");
    /* clamping at the field limits, and distinct keys for distinct states */
    k = oq_dynaq_key(&d, 1e9, 1e9, 1e12, 1.0, 70000);
    oq_dynaq_key_unpack(k, u);
    assert_int_equal(u[0], OQ_DYNAQ_MAX_DAYS);
    assert_int_equal(u[1], OQ_DYNAQ_MAX_P30);
    assert_int_equal(u[2], OQ_DYNAQ_MAX_AOV);
    assert_int_equal(u[3], 10);
    assert_int_equal(u[4], OQ_DYNAQ_MAX_CAT);
    assert_true(oq_dynaq_key(&d, 10, 0, 0, 0, 0) != oq_dynaq_key(&d, 0, 0, 0, 0, 1));
    /* configurable widths */
    d.w_days = 30;
    oq_dynaq_key_unpack(oq_dynaq_key(&d, 59, 0, 0, 0, 0), u);
    assert_int_equal(u[0], 1);
    d.w_days = 0;
    assert_int_equal(oq_dynaq_disc_check(&d, NULL), OQ_EINVAL);
}

static void test_table_and_files(void **st)
{
    (void)st;
    oq_dynaq_disc d;
    oq_dynaq_disc_default(&d);
    oq_qtable *q = NULL, *l = NULL;
    assert_int_equal(oq_qtable_new(&d, &q, NULL), 0);
    const size_t N = 50000;
    for (size_t i = 0; i < N; i++) {
        size_t e;
        assert_int_equal(oq_qtable_insert(q, oq_mix64(i) >> 2, &e), 0);
        assert_int_equal(e, i);
        for (int a = 0; a < 4; a++) {
            q->q[e * 4 + a] = (double)i + 0.25 * a;
            q->visits[e * 4 + a] = (uint32_t)(i % 7 + (size_t)a);
        }
    }
    assert_int_equal(q->n, N);
    for (size_t i = 0; i < N; i += 97)
        assert_int_equal(oq_qtable_find(q, oq_mix64(i) >> 2), (long)i);
    assert_int_equal(oq_qtable_find(q, (oq_mix64(N + 1) >> 2) | 1), -1);
    assert_int_equal(oq_qtable_argmax(q, 5), 3);

    char *dir = tu_tmpdir(), path[512];
    snprintf(path, sizeof path, "%s/q.ofq", dir);
    assert_int_equal(oq_qtable_save(q, path, NULL), 0);
    oq_error err = {0};
    assert_int_equal(oq_qtable_load(path, &l, &err), 0);
    assert_int_equal(l->n, N);
    assert_memory_equal(&l->disc, &q->disc, sizeof d);
    for (size_t i = 0; i < N; i += 13) {
        long e = oq_qtable_find(l, q->key[i]);
        assert_true(e >= 0);
        assert_memory_equal(l->q + e * 4, q->q + i * 4, 32);
        assert_memory_equal(l->visits + e * 4, q->visits + i * 4, 16);
    }
    oq_qtable_free(l);
    l = NULL;
    /* one flipped byte: checksum; cut short: size; wrong magic */
    char *buf;
    size_t len;
    assert_int_equal(oq_read_file(path, 1 << 30, &buf, &len, NULL), 0);
    buf[100] ^= 1;
    assert_int_equal(oq_write_file_atomic(path, buf, len, NULL), 0);
    assert_int_equal(oq_qtable_load(path, &l, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum"));
    buf[100] ^= 1;
    assert_int_equal(oq_write_file_atomic(path, buf, len - 9, NULL), 0);
    assert_int_equal(oq_qtable_load(path, &l, &err), OQ_EFORMAT);
    buf[0] = 'X';
    assert_int_equal(oq_write_file_atomic(path, buf, len, NULL), 0);
    assert_int_equal(oq_qtable_load(path, &l, &err), OQ_EFORMAT);
    assert_null(l);
    free(buf);
    oq_qtable_free(q);
    tu_rmdir(dir);
    free(dir);
}

static void test_merge(void **st)
{
    (void)st;
    oq_dynaq_disc d;
    oq_dynaq_disc_default(&d);
    oq_qtable *a = NULL, *b = NULL;
    assert_int_equal(oq_qtable_new(&d, &a, NULL), 0);
    assert_int_equal(oq_qtable_new(&d, &b, NULL), 0);
    size_t e;
    assert_int_equal(oq_qtable_insert(a, 11, &e), 0);
    a->q[e * 4 + 1] = 10, a->visits[e * 4 + 1] = 3;
    a->q[e * 4 + 2] = 4, a->visits[e * 4 + 2] = 0;
    assert_int_equal(oq_qtable_insert(b, 11, &e), 0);
    b->q[e * 4 + 1] = 20, b->visits[e * 4 + 1] = 1;
    b->q[e * 4 + 2] = 8, b->visits[e * 4 + 2] = 0;
    assert_int_equal(oq_qtable_insert(b, 22, &e), 0);
    b->q[e * 4 + 3] = 7, b->visits[e * 4 + 3] = 2;
    assert_int_equal(oq_qtable_merge(a, b, NULL), 0);
    long x = oq_qtable_find(a, 11), y = oq_qtable_find(a, 22);
    assert_true(fabs(a->q[x * 4 + 1] - 12.5) < 1e-12); /* (3*10 + 1*20) / 4 */
    assert_int_equal(a->visits[x * 4 + 1], 4);
    assert_true(fabs(a->q[x * 4 + 2] - 6) < 1e-12); /* no visits: plain mean */
    assert_true(fabs(a->q[y * 4 + 3] - 7) < 1e-12);
    assert_int_equal(a->visits[y * 4 + 3], 2);
    oq_qtable_free(b);
    d.w_aov = 40;
    assert_int_equal(oq_qtable_new(&d, &b, NULL), 0);
    assert_int_equal(oq_qtable_merge(a, b, NULL), OQ_EINVAL);
    oq_qtable_free(a);
    oq_qtable_free(b);
}

/* A two-step MDP as a log: every customer has a snapshot in state A, then
 * one in state B (its last: terminal). Rewards are deterministic per
 * (state, coupon), and the simulator's r~ is exact, so
 *   Q*(B, a) = rB[a],   Q*(A, a) = rA[a] + gamma max_b rB[b]. */
static const double rA[4] = {10, 12, 15, 5}, rB[4] = {20, 18, 25, 8};

static oq_log *mdp_log(void)
{
    size_t cap = 1 << 16, len = 0;
    char *s = malloc(cap);
    len += (size_t)snprintf(s + len, cap - len, "%s\n", OQ_LOG_HEADER);
    for (int u = 1; u <= 200; u++) {
        int a = u % 4, b = (u / 4) % 4;
        len += (size_t)snprintf(s + len, cap - len, "%d,2025-03-01,5,1,100,books,0.5,%s,1,%.2f\n",
                                u, oq_coupon_name(a), rA[a] + oq_coupon_value(a));
        len += (size_t)snprintf(s + len, cap - len, "%d,2025-04-10,45,0,100,books,0.5,%s,1,%.2f\n",
                                u, oq_coupon_name(b), rB[b] + oq_coupon_value(b));
    }
    oq_log *log = NULL;
    assert_int_equal(oq_log_read_mem("mdp", s, len, &log, NULL), 0);
    free(s);
    return log;
}

/* The MDP log's index, exact r~, default states and a converging config. */
static void mdp_setup(const oq_log *log, oq_log_index **ix, double **rt, oq_dynaq_disc *d,
                      oq_dynaq_config *c)
{
    assert_int_equal(oq_log_index_build(log, ix, NULL), 0);
    *rt = malloc(log->n * 4 * sizeof **rt);
    for (size_t i = 0; i < log->n; i++)
        for (int a = 0; a < 4; a++)
            (*rt)[i * 4 + a] = log->days_since[i] == 5 ? rA[a] : rB[a];
    oq_dynaq_disc_default(d);
    oq_dynaq_config_default(c);
    c->quiet = 1;
    c->epochs = 8;
    c->alpha_mode = OQ_DYNAQ_ALPHA_DECAY;
    c->alpha0 = 0.5;
}

static void test_dynaq_converges(void **st)
{
    (void)st;
    oq_log *log = mdp_log();
    oq_log_index *ix = NULL;
    double *rt = NULL;
    oq_dynaq_disc d;
    oq_dynaq_config c;
    mdp_setup(log, &ix, &rt, &d, &c);
    oq_qtable *q = NULL;
    oq_dynaq_stats s;
    assert_int_equal(oq_qtable_new(&d, &q, NULL), 0);
    assert_int_equal(oq_dynaq_train(q, log, ix, rt, &c, &s, NULL), 0);
    assert_int_equal(q->n, 2);
    long ea = oq_qtable_find(q, oq_dynaq_key_row(&d, log, 0));
    long eb = oq_qtable_find(q, oq_dynaq_key_row(&d, log, 1));
    for (int a = 0; a < 4; a++) {
        assert_true(fabs(q->q[eb * 4 + a] - rB[a]) < 0.01 * rB[a]);
        assert_true(fabs(q->q[ea * 4 + a] - (rA[a] + 0.95 * 25)) < 0.01 * (rA[a] + 0.95 * 25));
    }
    assert_int_equal(oq_qtable_argmax(q, (size_t)ea), 2);
    assert_int_equal(s.real_steps, 8 * log->n);
    assert_int_equal(s.plan_steps, 20 * s.real_steps);
    assert_true(fabs(s.eps[0] - 0.30) < 1e-12 && fabs(s.eps[7] - 0.05) < 1e-12);
    assert_true(s.td_real[7] < 0.05 * s.td_real[0]);
    /* same seed, same table: deterministic */
    oq_qtable *q2 = NULL;
    assert_int_equal(oq_qtable_new(&d, &q2, NULL), 0);
    assert_int_equal(oq_dynaq_train(q2, log, ix, rt, &c, NULL, NULL), 0);
    assert_memory_equal(q->q, q2->q, q->n * 4 * sizeof(double));
    oq_qtable_free(q2);

    /* The seed's loop bootstraps from the same state: a discounted bandit
     * whose values head for r / (1 - gamma) = 20 r instead of Q*. */
    oq_qtable *qf = NULL;
    oq_dynaq_config_default(&c);
    c.quiet = 1;
    c.faithful = 1;
    assert_int_equal(oq_qtable_new(&d, &qf, NULL), 0);
    assert_int_equal(oq_dynaq_train(qf, log, ix, rt, &c, NULL, NULL), 0);
    ea = oq_qtable_find(qf, oq_dynaq_key_row(&d, log, 0));
    assert_true(qf->q[ea * 4 + oq_qtable_argmax(qf, (size_t)ea)] > 3 * (15 + 0.95 * 25));
    oq_qtable_free(qf);
    oq_qtable_free(q);
    free(rt);
    oq_log_index_free(ix);
    oq_log_free(log);
}

/* Data-parallel Dyna-Q: 3 shards of the two-step MDP's customers, trained
 * apart and merged, reach the same Q* (each shard sees both states); every
 * real step is counted once; the result depends on the seed and the shard
 * count only (two runs agree byte for byte). */
static void test_dynaq_sharded(void **st)
{
    (void)st;
    oq_log *log = mdp_log();
    oq_log_index *ix = NULL;
    double *rt = NULL;
    oq_dynaq_disc d;
    oq_dynaq_config c;
    mdp_setup(log, &ix, &rt, &d, &c);
    oq_qtable *q = NULL, *q2 = NULL;
    oq_dynaq_stats s;
    assert_int_equal(oq_qtable_new(&d, &q, NULL), 0);
    assert_int_equal(oq_dynaq_train_sharded(q, log, ix, rt, &c, 3, &s, NULL), 0);
    assert_int_equal(q->n, 2);
    long ea = oq_qtable_find(q, oq_dynaq_key_row(&d, log, 0));
    long eb = oq_qtable_find(q, oq_dynaq_key_row(&d, log, 1));
    uint64_t visits = 0;
    for (int a = 0; a < 4; a++) {
        assert_true(fabs(q->q[eb * 4 + a] - rB[a]) < 0.01 * rB[a]);
        assert_true(fabs(q->q[ea * 4 + a] - (rA[a] + 0.95 * 25)) < 0.01 * (rA[a] + 0.95 * 25));
        visits += q->visits[ea * 4 + a] + q->visits[eb * 4 + a];
    }
    assert_int_equal(s.real_steps, 8 * log->n);
    assert_int_equal(s.plan_steps, 20 * s.real_steps);
    assert_int_equal(visits, s.real_steps + s.plan_steps);
    assert_int_equal(oq_qtable_new(&d, &q2, NULL), 0);
    assert_int_equal(oq_dynaq_train_sharded(q2, log, ix, rt, &c, 3, NULL, NULL), 0);
    assert_memory_equal(q->q, q2->q, q->n * 4 * sizeof(double));
    oq_qtable_free(q2);
    oq_error err = {0};
    assert_int_equal(oq_dynaq_train_sharded(q, log, ix, rt, &c, 0, NULL, &err), OQ_EINVAL);
    assert_int_equal(
        oq_dynaq_train_sharded(q, log, ix, rt, &c, OQ_DYNAQ_MAX_SHARDS + 1, NULL, &err), OQ_EINVAL);
    oq_qtable_free(q);
    free(rt);
    oq_log_index_free(ix);
    oq_log_free(log);
}

/* Brute force over all 4^n plans. */
static double brute(size_t n, const double *v, const double *s, double budget)
{
    double best = -INFINITY;
    size_t total = 1;
    for (size_t i = 0; i < n; i++)
        total *= 4;
    for (size_t m = 0; m < total; m++) {
        size_t x = m;
        double tv = 0, ts = 0;
        for (size_t i = 0; i < n; i++, x /= 4) {
            tv += v[i * 4 + x % 4];
            ts += s[i * 4 + x % 4];
        }
        if (ts <= budget + 1e-12 && tv > best) best = tv;
    }
    return best;
}

static void test_planner(void **st)
{
    (void)st;
    /* hand case: two customers, budget 10 fits one 10-spend upgrade; the
     * better ratio (customer 1: +9 for 6) wins over customer 0 (+8 for 10) */
    const double v0[8] = {0, 3, 8, 1, 0, 9, 2, 2};
    const double s0[8] = {0, 5, 10, 20, 0, 6, 8, 9};
    int ch[8];
    double tv, ts;
    assert_int_equal(oq_budget_plan(2, v0, s0, 10, ch, &tv, &ts, NULL), 0);
    assert_int_equal(ch[0], 0);
    assert_int_equal(ch[1], 1);
    assert_true(fabs(tv - 9) < 1e-12 && fabs(ts - 6) < 1e-12);
    assert_true(tv == brute(2, v0, s0, 10));

    gsl_rng *rng = oq_rng_new(7, 0);
    for (int t = 0; t < 300; t++) {
        size_t n = 1 + (size_t)(t % 6);
        double v[24], s[24], maxgain = 0, free_best = 0;
        for (size_t i = 0; i < n; i++) {
            double row_max = -INFINITY;
            for (int a = 0; a < 4; a++) {
                s[i * 4 + a] = a == 0 ? 0 : 10 * gsl_rng_uniform(rng);
                v[i * 4 + a] = 20 * gsl_rng_uniform(rng) - 5;
                if (v[i * 4 + a] > row_max) row_max = v[i * 4 + a];
            }
            free_best += row_max;
            for (int a = 0; a < 4; a++)
                for (int b = 0; b < 4; b++)
                    if (v[i * 4 + b] - v[i * 4 + a] > maxgain)
                        maxgain = v[i * 4 + b] - v[i * 4 + a];
        }
        double budget = 30 * gsl_rng_uniform(rng);
        assert_int_equal(oq_budget_plan(n, v, s, budget, ch, &tv, &ts, NULL), 0);
        double opt = brute(n, v, s, budget);
        assert_true(ts <= budget + 1e-9);
        assert_true(tv <= opt + 1e-9);
        assert_true(tv >= opt - maxgain - 1e-9); /* LP bound of the greedy */
        /* no binding budget: each customer's best option */
        assert_int_equal(oq_budget_plan(n, v, s, INFINITY, ch, &tv, &ts, NULL), 0);
        assert_true(fabs(tv - free_best) < 1e-9);
    }
    gsl_rng_free(rng);
    /* errors */
    double bad[4] = {0, NAN, 0, 0};
    assert_int_equal(oq_budget_plan(1, bad, s0, 10, ch, NULL, NULL, NULL), OQ_EINVAL);
    const double pos[4] = {1, 1, 1, 1};
    assert_int_equal(oq_budget_plan(1, v0, pos, 0.5, ch, NULL, NULL, NULL), OQ_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_worked_example),  cmocka_unit_test(test_keys),
        cmocka_unit_test(test_table_and_files), cmocka_unit_test(test_merge),
        cmocka_unit_test(test_dynaq_converges), cmocka_unit_test(test_dynaq_sharded),
        cmocka_unit_test(test_planner),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
