/* test_comm.c - the parts of a partitioned job (comm.h) on threads: sums in
 * rank order, a failing part releasing the others, and the fits that run
 * in parts (the budget plan's multiplier and tail, BG/NBD's summed
 * likelihood). `mpirun` itself is tests/cli/cli_mpi.sh. (No cmocka assert
 * runs in a part's thread: the parts record, the test checks.) */
#include "testutil.h"
#include "offerq/core/comm.h"
#include "offerq/core/rng.h"
#include "offerq/coupon/bgnbd.h"
#include "offerq/coupon/dynaq.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- sums: rank order, whatever thread arrives first ----------------------------- */

typedef struct sum_arg {
    double v[3], got[3];
    uint64_t u, got_u;
    int rc;
} sum_arg;

static int sum_part(int rank, oq_comm *c, void *arg, oq_error *err)
{
    sum_arg *a = arg;
    memcpy(a->got, a->v, sizeof a->v);
    a->got_u = a->u;
    (void)rank;
    int rc = 0;
    for (int k = 0; k < 50 && !rc; k++) { /* many rounds: the threads race */
        memcpy(a->got, a->v, sizeof a->v);
        rc = oq_comm_sum(c, a->got, 3, err);
    }
    if (!rc) rc = oq_comm_sum_u64(c, &a->got_u, 1, err);
    return rc;
}

static void test_sum_order(void **st)
{
    (void)st;
    /* 1e16 + 1 + 1 - 1e16 depends on the order: rank order gives 0 */
    sum_arg a[4] = {{.v = {1e16, 1, 0.5}, .u = 1},
                    {.v = {1, 2, 0.25}, .u = 2},
                    {.v = {1, 3, 0.125}, .u = 3},
                    {.v = {-1e16, 4, 0.0625}, .u = 4}};
    void *args[4] = {&a[0], &a[1], &a[2], &a[3]};
    oq_error err = {0};
    assert_int_equal(oq_comm_threads_run(4, sum_part, args, NULL, &err), 0);
    double want = ((1e16 + 1.0) + 1.0) + -1e16;
    for (int r = 0; r < 4; r++) {
        assert_true(a[r].got[0] == want);
        assert_true(a[r].got[1] == 10);
        assert_true(a[r].got[2] == 0.9375);
        assert_true(a[r].got_u == 10);
    }
    /* the split: one part keeps everything, n parts split every id once */
    oq_part one = {0, 1}, p0 = {0, 3}, p1 = {1, 3}, p2 = {2, 3};
    for (int64_t u = -50; u < 50; u++) {
        assert_true(oq_part_keeps(&one, u) && oq_part_keeps(NULL, u));
        assert_int_equal(oq_part_keeps(&p0, u) + oq_part_keeps(&p1, u) + oq_part_keeps(&p2, u), 1);
        assert_true(oq_shard_of(u, 3) < 3);
    }
}

/* ---- a failing part ------------------------------------------------------------------- */

static int fail_part(int rank, oq_comm *c, void *arg, oq_error *err)
{
    int *rc_seen = arg;
    if (rank == 2) return oq_error_set(err, OQ_EPARSE, "x.csv", 7, 3, "part 2 is broken");
    double v = 1;
    int rc = 0;
    for (int k = 0; k < 1000 && !rc; k++) /* until the failure reaches this part */
        rc = oq_comm_sum(c, &v, 1, err);
    *rc_seen = rc;
    return rc;
}

static void test_fail(void **st)
{
    (void)st;
    int seen[3] = {0};
    void *args[3] = {&seen[0], &seen[1], &seen[2]};
    int rcs[3];
    oq_error err = {0};
    assert_int_equal(oq_comm_threads_run(3, fail_part, args, rcs, &err), OQ_EPARSE);
    assert_string_equal(err.msg, "part 2 is broken"); /* the first failure, not an abort */
    assert_int_equal(err.line, 7);
    assert_int_equal(seen[0], OQ_EABORT);
    assert_int_equal(seen[1], OQ_EABORT);
    assert_int_equal(rcs[2], OQ_EPARSE);
    assert_int_equal(oq_comm_threads_run(0, fail_part, args, NULL, &err), OQ_EINVAL);
}

/* ---- the budget plan in parts ------------------------------------------------------------ */

#define NC 600

typedef struct plan_arg {
    const double *v, *s;
    double budget;
    size_t n;
    double v_part[NC * 4], s_part[NC * 4];
    int64_t key[NC];
    size_t idx[NC];
    int choice[NC];
    double tv, ts;
} plan_arg;

static int plan_part(int rank, oq_comm *c, void *arg, oq_error *err)
{
    (void)rank;
    plan_arg *a = arg;
    return oq_budget_plan_part(a->n, a->v_part, a->s_part, a->key, a->budget, c, a->choice, &a->tv,
                               &a->ts, err);
}

static void plan_in_parts(const double *v, const double *s, double budget, int parts, int *choice,
                          double *tv, double *ts)
{
    plan_arg *a = calloc((size_t)parts, sizeof *a);
    void *args[8];
    assert_non_null(a);
    for (int r = 0; r < parts; r++) {
        a[r].budget = budget;
        args[r] = &a[r];
    }
    for (size_t i = 0; i < NC; i++) {
        plan_arg *p = &a[oq_shard_of((int64_t)i, parts)];
        memcpy(p->v_part + p->n * 4, v + i * 4, 4 * sizeof *v);
        memcpy(p->s_part + p->n * 4, s + i * 4, 4 * sizeof *s);
        p->key[p->n] = (int64_t)i;
        p->idx[p->n++] = i;
    }
    oq_error err = {0};
    assert_int_equal(oq_comm_threads_run(parts, plan_part, args, NULL, &err), 0);
    for (int r = 0; r < parts; r++) {
        assert_true(a[r].tv == a[0].tv && a[r].ts == a[0].ts); /* every part has the totals */
        for (size_t k = 0; k < a[r].n; k++)
            choice[a[r].idx[k]] = a[r].choice[k];
    }
    *tv = a[0].tv;
    *ts = a[0].ts;
    free(a);
}

static void test_plan_parts(void **st)
{
    (void)st;
    static double v[NC * 4], s[NC * 4];
    static int one[NC], three[NC];
    gsl_rng *rng = oq_rng_new(11, 0);
    for (size_t i = 0; i < NC; i++)
        for (int c = 0; c < 4; c++) {
            s[i * 4 + c] = c == 0 ? 0 : 5 * c * gsl_rng_uniform(rng);
            v[i * 4 + c] = 10 * gsl_rng_uniform(rng) + 2 * c;
        }
    gsl_rng_free(rng);
    double free_best = 0, maxgain = 0;
    for (size_t i = 0; i < NC; i++) {
        double best = v[i * 4], worst = v[i * 4];
        for (int c = 1; c < 4; c++) {
            best = fmax(best, v[i * 4 + c]);
            worst = fmin(worst, v[i * 4 + c]);
        }
        free_best += best;
        maxgain = fmax(maxgain, best - worst);
    }
    const double budgets[] = {0, 37.5, 400, 2500, INFINITY};
    for (size_t b = 0; b < sizeof budgets / sizeof *budgets; b++) {
        double tv1, ts1, tv3, ts3, tvs, tss;
        int single[NC];
        assert_int_equal(oq_budget_plan(NC, v, s, budgets[b], single, &tvs, &tss, NULL), 0);
        plan_in_parts(v, s, budgets[b], 1, one, &tv1, &ts1);
        plan_in_parts(v, s, budgets[b], 3, three, &tv3, &ts3);
        /* one part is oq_budget_plan; three parts are within the budget and
         * the greedy's bound, and agree with one part but for rounding */
        assert_memory_equal(one, single, sizeof one);
        assert_true(tv1 == tvs && ts1 == tss);
        assert_true(ts3 <= budgets[b] + 1e-9);
        assert_true(fabs(tv3 - tv1) <= maxgain + 1e-9);
        size_t differ = 0;
        for (size_t i = 0; i < NC; i++)
            differ += one[i] != three[i];
        assert_true(differ <= 2);
        if (isinf(budgets[b])) assert_true(fabs(tv3 - free_best) < 1e-6);
    }
}

/* ---- BG/NBD summed over parts ------------------------------------------------------------ */

typedef struct bg_arg {
    double x[400], tx[400], T[400];
    size_t n;
    oq_bgnbd_fit_report rep;
} bg_arg;

static int bg_part(int rank, oq_comm *c, void *arg, oq_error *err)
{
    (void)rank;
    bg_arg *a = arg;
    oq_bgnbd_data *d = NULL;
    int rc = oq_bgnbd_data_new_part(a->x, a->tx, a->T, NULL, a->n, c, &d, err);
    if (!rc) rc = oq_bgnbd_fit(d, NULL, &a->rep, err);
    oq_bgnbd_data_free(d);
    return rc;
}

static void test_bgnbd_parts(void **st)
{
    (void)st;
    static bg_arg whole, part[3];
    gsl_rng *rng = oq_rng_new(3, 0);
    for (size_t i = 0; i < 400; i++) {
        double T = 30 + (double)gsl_rng_uniform_int(rng, 300);
        double x = (double)gsl_rng_uniform_int(rng, 8);
        double tx = x > 0 ? floor(T * gsl_rng_uniform(rng)) : 0;
        whole.x[i] = x, whole.tx[i] = tx, whole.T[i] = T;
        bg_arg *p = &part[oq_shard_of((int64_t)i, 3)];
        p->x[p->n] = x, p->tx[p->n] = tx, p->T[p->n] = T;
        p->n++;
    }
    whole.n = 400;
    gsl_rng_free(rng);
    oq_bgnbd_data *d = NULL;
    assert_int_equal(oq_bgnbd_data_new(whole.x, whole.tx, whole.T, NULL, 400, &d, NULL), 0);
    assert_int_equal(oq_bgnbd_fit(d, NULL, &whole.rep, NULL), 0);
    oq_bgnbd_data_free(d);
    void *args[3] = {&part[0], &part[1], &part[2]};
    oq_error err = {0};
    assert_int_equal(oq_comm_threads_run(3, bg_part, args, NULL, &err), 0);
    const double *w = &whole.rep.p.r, *p0 = &part[0].rep.p.r;
    for (int k = 0; k < 4; k++) {
        assert_true(fabs(p0[k] - w[k]) <= 1e-6 * w[k]); /* the same optimum */
        for (int r = 1; r < 3; r++)
            assert_true((&part[r].rep.p.r)[k] == p0[k]); /* bit for bit on every part */
    }
    assert_true(fabs(part[0].rep.ll - whole.rep.ll) < 1e-6 * fabs(whole.rep.ll));
    assert_int_equal(part[0].rep.n_customers, 400);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sum_order),
        cmocka_unit_test(test_fail),
        cmocka_unit_test(test_plan_parts),
        cmocka_unit_test(test_bgnbd_parts),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
