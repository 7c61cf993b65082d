/* reward_empirical.c - the empirical reward model: the logged mean net reward
 * and order rate per (state, coupon), shrunk along a back-off chain
 * (reward.h). */
#include "offerq/coupon/reward.h"
#include "offerq/core/comm.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Back-off levels, coarse to fine. Each is a Q-table-shaped hash from a key
 * to 4 sums (q: net reward) and 4 counts (visits); orders in a twin table. */
enum { LV_COUPON, LV_CAT, LV_NOBUDGET, LV_FULL, N_LV };

struct oq_empirical {
    oq_dynaq_disc disc;
    double prior;
    oq_qtable *reward[N_LV]; /* q = sum of net reward, visits = rows */
    oq_qtable *orders[N_LV]; /* q = orders */
};

static uint64_t level_key(int lv, uint64_t full)
{
    switch (lv) {
    case LV_COUPON:
        return 0;
    case LV_CAT:
        return full & 0xffff;
    case LV_NOBUDGET:
        return full & ~((uint64_t)0xff << 16);
    default:
        return full;
    }
}

void oq_empirical_free(oq_empirical *m)
{
    if (!m) return;
    for (int l = 0; l < N_LV; l++) {
        oq_qtable_free(m->reward[l]);
        oq_qtable_free(m->orders[l]);
    }
    free(m);
}

int oq_empirical_fit(const oq_log *log, const oq_dynaq_disc *d, double prior, oq_empirical **out,
                     oq_error *err)
{
    *out = NULL;
    oq_empirical *m = calloc(1, sizeof *m);
    if (!m) return oq_error_oom(err, NULL, NULL);
    int rc = 0;
    m->disc = *d;
    m->prior = prior > 0 ? prior : 20;
    for (int l = 0; l < N_LV; l++)
        if ((rc = oq_qtable_new(d, &m->reward[l], err)) ||
            (rc = oq_qtable_new(d, &m->orders[l], err)))
            goto cleanup;
    for (size_t i = 0; i < log->n; i++) {
        uint64_t k = oq_dynaq_key_row(d, log, i);
        int a = log->coupon[i];
        for (int l = 0; l < N_LV; l++) {
            size_t e, eo;
            if (oq_qtable_insert(m->reward[l], level_key(l, k), &e) ||
                oq_qtable_insert(m->orders[l], level_key(l, k), &eo)) {
                rc = oq_error_oom(err, NULL, NULL);
                goto cleanup;
            }
            m->reward[l]->q[e * 4 + a] += oq_log_reward(log, i);
            m->reward[l]->visits[e * 4 + a]++;
            m->orders[l]->q[eo * 4 + a] += log->order[i];
        }
    }
    *out = m;
    m = NULL;
cleanup:
    oq_empirical_free(m);
    return rc;
}

/* One entry of one level of a part's fit, as the parts exchange it. */
typedef struct eentry {
    uint64_t key;
    uint32_t level, pad;
    double reward[OQ_N_COUPONS], orders[OQ_N_COUPONS];
    uint32_t visits[OQ_N_COUPONS];
} eentry;

int oq_empirical_fit_part(const oq_log *log, const oq_dynaq_disc *d, double prior,
                          struct oq_comm *comm, oq_empirical **out, oq_error *err)
{
    int rc = oq_empirical_fit(log, d, prior, out, err);
    if (rc || oq_comm_size(comm) <= 1) return rc;
    oq_empirical *m = *out, *g = NULL;
    size_t n = 0, got = 0;
    for (int l = 0; l < N_LV; l++)
        n += m->reward[l]->n;
    eentry *mine = calloc(n ? n : 1, sizeof *mine); /* padding zeroed: the bytes travel */
    void *all = NULL;
    size_t counts[OQ_COMM_MAX];
    if (!mine) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    size_t k = 0;
    for (int l = 0; l < N_LV; l++)
        for (size_t e = 0; e < m->reward[l]->n; e++, k++) {
            /* the two tables of a level take their keys in the same order */
            mine[k].key = m->reward[l]->key[e];
            mine[k].level = (uint32_t)l;
            memcpy(mine[k].reward, m->reward[l]->q + e * 4, sizeof mine[k].reward);
            memcpy(mine[k].orders, m->orders[l]->q + e * 4, sizeof mine[k].orders);
            memcpy(mine[k].visits, m->reward[l]->visits + e * 4, sizeof mine[k].visits);
        }
    if ((rc = oq_comm_gatherv(comm, -1, mine, n * sizeof *mine, &all, counts, err))) goto cleanup;
    for (int r = 0; r < oq_comm_size(comm); r++)
        got += counts[r] / sizeof *mine;
    /* every part's sums, added in rank order (comm.h) */
    if (!(g = calloc(1, sizeof *g))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    g->disc = m->disc;
    g->prior = m->prior;
    for (int l = 0; l < N_LV; l++)
        if ((rc = oq_qtable_new(d, &g->reward[l], err)) ||
            (rc = oq_qtable_new(d, &g->orders[l], err)))
            goto cleanup;
    const eentry *a = all;
    for (size_t i = 0; i < got; i++) {
        size_t e, eo;
        int l = (int)a[i].level;
        if (l >= N_LV || oq_qtable_insert(g->reward[l], a[i].key, &e) ||
            oq_qtable_insert(g->orders[l], a[i].key, &eo)) {
            rc = l >= N_LV ? oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "a bad empirical entry")
                           : oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
        for (int c = 0; c < OQ_N_COUPONS; c++) {
            g->reward[l]->q[e * 4 + c] += a[i].reward[c];
            g->reward[l]->visits[e * 4 + c] += a[i].visits[c];
            g->orders[l]->q[eo * 4 + c] += a[i].orders[c];
        }
    }
    oq_empirical_free(m);
    *out = g;
    g = NULL;
cleanup:
    if (rc) {
        oq_empirical_free(*out);
        *out = NULL;
    }
    oq_empirical_free(g);
    free(mine);
    free(all);
    return rc;
}

/* Shrunken estimates of mean reward (r) and order rate (p) for a state key:
 * est_l = (sum_l + prior * est_{l-1}) / (n_l + prior), from coarse to fine. */
static void estimate_key(const oq_empirical *m, uint64_t key, double *r, double *p)
{
    for (int a = 0; a < OQ_N_COUPONS; a++)
        r[a] = p[a] = 0;
    for (int l = 0; l < N_LV; l++) {
        long e = oq_qtable_find(m->reward[l], level_key(l, key));
        long eo = oq_qtable_find(m->orders[l], level_key(l, key));
        if (e < 0 || eo < 0) break; /* finer levels cannot exist either */
        for (int a = 0; a < OQ_N_COUPONS; a++) {
            double n = m->reward[l]->visits[e * 4 + a];
            double w = l == LV_COUPON ? 1e-9 : m->prior; /* the top level: plain mean */
            r[a] = (m->reward[l]->q[e * 4 + a] + w * r[a]) / (n + w);
            p[a] = (m->orders[l]->q[eo * 4 + a] + w * p[a]) / (n + w);
        }
    }
}

void oq_empirical_estimate(const oq_empirical *m, const oq_log *log, const size_t *rows, size_t n,
                           double *r, double *p)
{
    double rr[OQ_N_COUPONS] = {0}, pp[OQ_N_COUPONS] = {0}; /* scratch for an output not wanted */
    for (size_t k = 0; k < n; k++) {
        size_t i = rows ? rows[k] : k;
        estimate_key(m, oq_dynaq_key_row(&m->disc, log, i), r ? r + k * 4 : rr, p ? p + k * 4 : pp);
    }
}

static int empirical_score(void *ctx, const oq_log *log, const size_t *rows, size_t n,
                           double *p_alive, double *rhat, oq_error *err)
{
    (void)err;
    oq_empirical_estimate(ctx, log, rows, n, rhat, NULL);
    for (size_t k = 0; k < n; k++)
        p_alive[k] = 1.0; /* this model has no survival part */
    return 0;
}

oq_scorer oq_empirical_scorer(oq_empirical *m)
{
    return (oq_scorer){.name = "empirical (P(alive)=1, mean reward per state x coupon)",
                       .baseline = 1,
                       .score = empirical_score,
                       .ctx = m};
}

/* ---- as a reward model ---------------------------------------------------- */

typedef struct empirical_reward {
    oq_reward base;
    oq_empirical *m;
} empirical_reward;

static int score_rows(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const empirical_reward *e = (const empirical_reward *)b;
    oq_empirical_estimate(e->m, b->in->log, NULL, b->in->log->n, rhat, NULL);
    return 0;
}

static int score_tomorrow(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const empirical_reward *e = (const empirical_reward *)b;
    oq_empirical_estimate(e->m, b->in->tomorrow, NULL, b->in->tomorrow->n, rhat, NULL);
    return 0;
}

static int p_order_tomorrow(const oq_reward *b, double *p, oq_error *err)
{
    (void)err;
    const empirical_reward *e = (const empirical_reward *)b;
    oq_empirical_estimate(e->m, b->in->tomorrow, NULL, b->in->tomorrow->n, NULL, p);
    return 0;
}

static void free_reward(oq_reward *b)
{
    empirical_reward *e = (empirical_reward *)b;
    oq_empirical_free(e->m);
    free(e);
}

static const oq_reward_ops ops = {.score_rows = score_rows,
                                  .score_tomorrow = score_tomorrow,
                                  .p_order_tomorrow = p_order_tomorrow,
                                  .report = NULL,
                                  .free = free_reward};

int oq_reward_empirical_fit(const oq_reward_input *in, oq_reward **out, oq_error *err)
{
    *out = NULL;
    empirical_reward *e = calloc(1, sizeof *e);
    if (!e) return oq_error_oom(err, NULL, NULL);
    int rc = oq_empirical_fit(in->log, in->disc, 0, &e->m, err);
    if (rc) {
        free(e);
        return rc;
    }
    e->base = (oq_reward){.ops = &ops, .kind = OQ_REWARD_EMPIRICAL, .in = in};
    snprintf(e->base.name, sizeof e->base.name,
             "BG/NBD P(alive) x empirical r^ (mean net reward per state x coupon)");
    *out = &e->base;
    return 0;
}
