/* test_crosssell.c - the cross-selling MDP, K-Q-learning, the simulator, the
 * DP optimum and the experiment orderings of the paper's figures 2a/2b. */
#include "offerq/xsell/crosssell.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Boltzmann (14) ------------------------------------------------------ */

static void test_boltzmann(void **state)
{
    (void)state;
    gsl_rng *r = oq_rng_new(11, 0);
    double mu[17], p[17];
    uint8_t valid[17];
    for (int rep = 0; rep < 200; rep++) {
        int n = 2 + (int)gsl_rng_uniform_int(r, 16), nv = 0, am = -1;
        for (int i = 0; i < n; i++) {
            mu[i] = gsl_rng_uniform(r);
            valid[i] = gsl_rng_uniform(r) < 0.7;
            if (valid[i]) {
                nv++;
                if (am < 0 || mu[i] > mu[am]) am = i;
            }
        }
        if (!nv) continue;
        double tau = 0.01 + gsl_rng_uniform(r);
        assert_int_equal(oq_xsell_boltzmann(mu, valid, n, tau, p), nv);
        double s = 0, den = 0;
        for (int i = 0; i < n; i++) {
            s += p[i];
            if (valid[i]) den += exp(mu[i] / tau); /* plain softmax: fine for mu in [0,1] */
        }
        assert_true(fabs(s - 1) < 1e-12);
        for (int i = 0; i < n; i++) {
            if (!valid[i])
                assert_true(p[i] == 0);
            else
                assert_true(fabs(p[i] - exp(mu[i] / tau) / den) < 1e-12);
        }
        /* tau -> 0: the argmax; tau = 0 exactly: the argmax too */
        oq_xsell_boltzmann(mu, valid, n, 1e-6, p);
        assert_true(p[am] > 1 - 1e-9 || nv == 1);
        oq_xsell_boltzmann(mu, valid, n, 0, p);
        assert_true(p[am] == 1.0);
        /* tau -> inf: uniform over the valid entries */
        oq_xsell_boltzmann(mu, valid, n, 1e9, p);
        for (int i = 0; i < n; i++)
            assert_true(fabs(p[i] - (valid[i] ? 1.0 / nv : 0)) < 1e-8);
        oq_xsell_boltzmann(mu, valid, n, INFINITY, p);
        for (int i = 0; i < n; i++)
            assert_true(p[i] == (valid[i] ? 1.0 / nv : 0));
    }
    /* max-subtracted: Q-sized values at a small temperature do not overflow */
    double big[3] = {1e4, 1e4 - 1, 3e3};
    oq_xsell_boltzmann(big, NULL, 3, 1e-2, p);
    assert_true(isfinite(p[0]) && fabs(p[0] + p[1] + p[2] - 1) < 1e-12 && p[0] > 0.999);
    gsl_rng_free(r);
}

/* ---- the decision set and (9)-(13) -------------------------------------- */

static oq_xsell_sim small_sim(int n, uint32_t cap)
{
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    s.mdp.n_items = n;
    for (int i = 0; i < n; i++)
        s.mdp.items[i].capacity = cap;
    for (int i = n; i < OQ_XSELL_MAX_ITEMS; i++)
        s.arrival[i] = 0;
    return s;
}

static void test_valid_and_utility(void **state)
{
    (void)state;
    oq_xsell_sim s;
    oq_xsell_sim_default(&s); /* item5: price 30, cost 21.6: 30% off would be 21 < cost */
    const oq_xsell_mdp *m = &s.mdp;
    int D = oq_xsell_n_decisions(m);
    assert_int_equal(D, 1 + 5 * 4);
    uint32_t inv[5] = {3, 10, 0, 5, 7};
    uint8_t valid[OQ_XSELL_MAX_DEC];
    int nv = oq_xsell_valid(m, inv, 0, valid);
    /* none + items 2, 4 at 4 levels + item 5 at 3 levels (not 30%) */
    assert_int_equal(nv, 1 + 4 + 4 + 3);
    for (int d = 1; d < D; d++) {
        int j, k;
        oq_xsell_decision_decode(m, d, &j, &k);
        int expect = j != 0 && inv[j] > 0 && !(j == 4 && k == 3);
        assert_int_equal(valid[d], expect);
        if (valid[d]) assert_true(oq_xsell_addon_price(m, j, k) >= m->items[j].cost);
    }
    /* (9): min-max over H; (10) raise with c+; (11) lower with c- */
    double q[OQ_XSELL_MAX_DEC] = {0}, mu[OQ_XSELL_MAX_DEC];
    for (int d = 0; d < D; d++)
        q[d] = 100 + d;
    oq_xsell_rule rules[2] = {{0, 1, 0.6, 0}, {0, 3, 0.5, 1}};
    oq_xsell_kb kb;
    assert_int_equal(oq_xsell_kb_build(m, rules, 2, &kb, NULL), 0);
    oq_xsell_utility(m, 0, q, valid, NULL, mu);
    double lo = 100, hi = 100 + (1 + 4 * 4 + 2); /* best valid: item 5 at 20% */
    assert_true(fabs(mu[0] - 0) < 1e-15 && fabs(mu[1 + 4 * 4 + 2] - 1) < 1e-15);
    oq_xsell_utility(m, 0, q, valid, &kb, mu);
    for (int d = 1; d < D; d++) {
        if (!valid[d]) {
            assert_true(mu[d] == 0);
            continue;
        }
        double base = (q[d] - lo) / (hi - lo);
        int j = (d - 1) / 4;
        double expect = j == 1 ? base + 0.6 * (1 - base) : j == 3 ? base * 0.5 : base;
        assert_true(fabs(mu[d] - expect) < 1e-12);
    }
    /* a new state (all Q equal): 1/2, then the rules */
    memset(q, 0, sizeof q);
    oq_xsell_utility(m, 0, q, valid, &kb, mu);
    assert_true(mu[0] == 0.5 && fabs(mu[1 + 4] - 0.8) < 1e-15 && fabs(mu[1 + 12] - 0.25) < 1e-15);
    /* bad rules are refused */
    oq_xsell_rule bad = {0, 9, 0.5, 0};
    oq_error err = {0};
    assert_int_equal(oq_xsell_kb_build(m, &bad, 1, &kb, &err), OQ_EINVAL);
}

/* ---- the DP optimum ------------------------------------------------------ */

static void test_dp_by_hand(void **state)
{
    (void)state;
    /* 2 items of 1 unit, one discount level: every value written out by hand */
    oq_xsell_sim s = small_sim(2, 1);
    s.mdp.objective = OQ_XSELL_OBJ_REVENUE; /* the comparisons below are of revenue */
    s.mdp.n_disc = 1;
    s.mdp.disc[0] = 0.2;
    s.arrival[0] = 0.3;
    s.arrival[1] = 0.2;
    s.survival = 0.9;
    oq_xsell_rule ru = {0, 1, 0.8, 0};
    assert_int_equal(oq_xsell_sim_plant(&s, &ru, 1, NULL), 0);
    double g = 0.9, p0 = 40, p1 = 25, c0 = 22, c1 = 15, l0 = 0.3, l1 = 0.2;
    double f = (1.1 - 0.8) / 0.6;              /* P(R >= 0.8 p) under U[0.5, 1.1] p */
    double a01 = 0.8 * f, a10 = 0.05 * f;      /* planted rule; base interest */
    double V10 = l0 * p0 / (1 - g * (1 - l0)); /* only item 0 left */
    double V01 = l1 * p1 / (1 - g * (1 - l1));
    double b0 = fmax(p0 + g * V01, p0 + a01 * 0.8 * p1 + g * (1 - a01) * V01);
    double b1 = fmax(p1 + g * V10, p1 + a10 * 0.8 * p0 + g * (1 - a10) * V10);
    double V11 = (l0 * b0 + l1 * b1) / (1 - g * (1 - l0 - l1));
    double rev, prof;
    uint8_t *dec = NULL;
    assert_int_equal(oq_xsell_dp_solve(&s, &dec, &rev, &prof, NULL), 0);
    assert_true(fabs(rev - V11) < 1e-10);
    /* the decisions are the hand comparisons (d = 1 + j K + k) */
    int bund0 = p0 + a01 * 0.8 * p1 + g * (1 - a01) * V01 > p0 + g * V01;
    int bund1 = p1 + a10 * 0.8 * p0 + g * (1 - a10) * V10 > p1 + g * V10;
    assert_int_equal(dec[3 * 2 + 0], bund0 ? 2 : 0);
    assert_int_equal(dec[3 * 2 + 1], bund1 ? 1 : 0);
    /* profit of that policy, by hand */
    double P10 = l0 * (p0 - c0) / (1 - g * (1 - l0)), P01 = l1 * (p1 - c1) / (1 - g * (1 - l1));
    double q0 = bund0 ? p0 - c0 + a01 * (0.8 * p1 - c1) + g * (1 - a01) * P01 : p0 - c0 + g * P01;
    double q1 = bund1 ? p1 - c1 + a10 * (0.8 * p0 - c0) + g * (1 - a10) * P10 : p1 - c1 + g * P10;
    assert_true(fabs(prof - (l0 * q0 + l1 * q1) / (1 - g * (1 - l0 - l1))) < 1e-10);
    free(dec);
}

/* Brute force: value iteration of the Bellman equation over all states at
 * once (no ordering, no closed-form self loop), and the best of all
 * deterministic policies found by evaluating each of them exactly. */
static double bellman_vi(const oq_xsell_sim *s)
{
    const oq_xsell_mdp *m = &s->mdp;
    int N = m->n_items, D = oq_xsell_n_decisions(m);
    uint64_t S = oq_xsell_n_states(m);
    double *V = calloc(S, sizeof *V), *W = calloc(S, sizeof *W);
    uint32_t inv[OQ_XSELL_MAX_ITEMS], x1[OQ_XSELL_MAX_ITEMS];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    for (int it = 0; it < 3000; it++) {
        for (uint64_t x = 0; x < S; x++) {
            oq_xsell_state_decode(m, x, inv);
            double v = 0, lam = 0;
            for (int e = 0; e < N; e++) {
                if (!inv[e]) continue;
                lam += s->arrival[e];
                oq_xsell_valid(m, inv, e, valid);
                double best = -1;
                for (int d = 0; d < D; d++) {
                    if (!valid[d]) continue;
                    memcpy(x1, inv, sizeof x1);
                    x1[e]--;
                    double vn = V[oq_xsell_state_encode(m, x1)];
                    double q = oq_xsell_reward_item(m, e) + s->survival * vn;
                    if (d) {
                        int j = (d - 1) / m->n_disc, k = (d - 1) % m->n_disc;
                        double a = oq_xsell_accept_prob(s, e, d);
                        x1[j]--;
                        q += a * (oq_xsell_reward_addon(m, j, k) +
                                  s->survival * (V[oq_xsell_state_encode(m, x1)] - vn));
                    }
                    if (q > best) best = q;
                }
                v += s->arrival[e] * best;
            }
            W[x] = v + (1 - lam) * s->survival * V[x];
        }
        memcpy(V, W, S * sizeof *V);
    }
    double r = V[S - 1];
    free(V);
    free(W);
    return r;
}

static void test_dp_brute_force(void **state)
{
    (void)state;
    oq_xsell_sim s = small_sim(3, 2);
    s.mdp.items[1].capacity = 1;
    s.mdp.n_disc = 2;
    s.mdp.disc[0] = 0.1;
    s.mdp.disc[1] = 0.3;
    s.survival = 0.97;
    oq_xsell_rule ru[3] = {{0, 1, 0.9, 0}, {1, 2, 0.6, 0}, {2, 0, 0.7, 1}};
    assert_int_equal(oq_xsell_sim_plant(&s, ru, 3, NULL), 0);
    /* both objectives: the DP maximises the one of the mdp */
    for (int obj = 0; obj < 2; obj++) {
        s.mdp.objective = obj;
        double rev, prof;
        uint8_t *dec = NULL;
        assert_int_equal(oq_xsell_dp_solve(&s, &dec, &rev, &prof, NULL), 0);
        double best = obj == OQ_XSELL_OBJ_PROFIT ? prof : rev;
        assert_true(fabs(best - bellman_vi(&s)) < 1e-8 * best);
        /* the DP policy evaluated exactly gives the DP value */
        double ev, ep;
        assert_int_equal(oq_xsell_evaluate(&s, dec, &ev, &ep, NULL), 0);
        assert_true(fabs(ev - rev) < 1e-10 && fabs(ep - prof) < 1e-10);
        /* and no policy of a random sample of 2000 beats it */
        const oq_xsell_mdp *m = &s.mdp;
        uint64_t S = oq_xsell_n_states(m);
        int N = m->n_items, D = oq_xsell_n_decisions(m);
        uint8_t *pol = malloc(S * (size_t)N);
        gsl_rng *r = oq_rng_new(5, 0);
        for (int k = 0; k < 2000; k++) {
            for (uint64_t i = 0; i < S * (uint64_t)N; i++)
                pol[i] = (uint8_t)gsl_rng_uniform_int(r, (unsigned long)D); /* invalid: none */
            double v, vp;
            assert_int_equal(oq_xsell_evaluate(&s, pol, &v, &vp, NULL), 0);
            assert_true(oq_xsell_objective_value(m, v, vp) <= best + 1e-9);
        }
        gsl_rng_free(r);
        free(pol);
        free(dec);
    }
}

/* The simulator agrees with the exact evaluation (Monte Carlo of the DP policy). */
typedef struct dense_ctx {
    const oq_xsell_mdp *m;
    const uint8_t *dec;
} dense_ctx;

static int dense_policy(void *ctx, const uint32_t *inv, int e, const uint8_t *valid, gsl_rng *r)
{
    (void)valid;
    (void)r;
    dense_ctx *c = ctx;
    return c->dec[oq_xsell_state_encode(c->m, inv) * (uint64_t)c->m->n_items + (uint64_t)e];
}

static int bad_policy(void *ctx, const uint32_t *inv, int e, const uint8_t *valid, gsl_rng *r)
{
    /* always asks for the first out-of-stock or below-cost decision */
    (void)ctx;
    (void)inv;
    (void)e;
    (void)r;
    for (int d = 1; d < OQ_XSELL_MAX_DEC; d++)
        if (!valid[d]) return d;
    return 0;
}

static void test_simulator_matches_dp(void **state)
{
    (void)state;
    oq_xsell_sim s = small_sim(4, 4);
    s.survival = 0.95;
    oq_xsell_rule ru[3] = {{0, 1, 0.8, 0}, {1, 2, 0.7, 0}, {2, 0, 0.6, 0}};
    assert_int_equal(oq_xsell_sim_plant(&s, ru, 3, NULL), 0);
    uint8_t *dec = NULL;
    double rev, prof;
    assert_int_equal(oq_xsell_dp_solve(&s, &dec, &rev, &prof, NULL), 0);
    dense_ctx ctx = {&s.mdp, dec};
    gsl_rng *r = oq_rng_new(3, 0);
    int n = 100000;
    double sum = 0, sum2 = 0, sp = 0;
    for (int i = 0; i < n; i++) {
        oq_xsell_episode ep;
        oq_xsell_sim_episode(&s, dense_policy, &ctx, r, &ep);
        sum += ep.revenue;
        sum2 += ep.revenue * ep.revenue;
        sp += ep.profit;
    }
    double mean = sum / n, se = sqrt((sum2 / n - mean * mean) / n);
    assert_true(fabs(mean - rev) < 4 * se);
    assert_true(fabs(sp / n - prof) < 4 * se);
    /* a policy asking for invalid decisions gets none: revenue = no cross-selling */
    uint8_t *none = calloc(oq_xsell_n_states(&s.mdp), 4);
    double vnone;
    assert_int_equal(oq_xsell_evaluate(&s, none, &vnone, NULL, NULL), 0);
    sum = sum2 = 0;
    long offers = 0;
    for (int i = 0; i < n; i++) {
        oq_xsell_episode ep;
        oq_xsell_sim_episode(&s, bad_policy, NULL, r, &ep);
        sum += ep.revenue;
        sum2 += ep.revenue * ep.revenue;
        offers += ep.offers;
    }
    mean = sum / n;
    se = sqrt((sum2 / n - mean * mean) / n);
    assert_int_equal(offers, 0);
    assert_true(fabs(mean - vnone) < 4 * se);
    gsl_rng_free(r);
    free(none);
    free(dec);
}

/* ---- learning ------------------------------------------------------------ */

/* Every entry of the table: no decision outside H(s, e) was ever tried, and
 * the answer is always in H (in stock, not below cost). */
static void check_table_never_invalid(const oq_xsell_qtable *t)
{
    const oq_xsell_mdp *m = oq_xsell_qtable_mdp(t);
    int N = m->n_items, D = oq_xsell_n_decisions(m);
    uint64_t S = oq_xsell_n_states(m);
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    size_t seen = 0;
    long tried_bundles = 0;
    for (uint64_t x = 0; x < S; x++) {
        oq_xsell_state_decode(m, x, inv);
        for (int e = 0; e < N; e++) {
            const uint32_t *cnt = oq_xsell_qtable_counts(t, x, e);
            if (!cnt) continue;
            seen++;
            assert_true(inv[e] > 0);
            oq_xsell_valid(m, inv, e, valid);
            for (int d = 0; d < D; d++) {
                if (!valid[d]) assert_int_equal(cnt[d], 0);
                if (d) tried_bundles += cnt[d];
            }
            int d;
            assert_int_equal(oq_xsell_qtable_decide(t, inv, e, &d, NULL), 1);
            assert_true(valid[d]);
            if (d) {
                int j, k;
                oq_xsell_decision_decode(m, d, &j, &k);
                assert_true(inv[j] > 0 && oq_xsell_addon_price(m, j, k) >= m->items[j].cost);
            }
        }
    }
    assert_int_equal(seen, oq_xsell_qtable_size(t));
    assert_true(tried_bundles > 1000); /* the check above had something to check */
}

static void test_learning_never_invalid(void **state)
{
    (void)state;
    /* small stocks so items run out often; item 4 (cost 72%) cannot take 30% off */
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    for (int i = 0; i < 5; i++)
        s.mdp.items[i].capacity = 2;
    oq_xsell_rule ru[4] = {{0, 4, 0.9, 0}, {1, 4, 0.9, 0}, {2, 3, 0.8, 0}, {3, 2, 0.7, 1}};
    oq_xsell_kb kb;
    assert_int_equal(oq_xsell_sim_plant(&s, ru, 4, NULL), 0);
    assert_int_equal(oq_xsell_kb_build(&s.mdp, ru, 4, &kb, NULL), 0);
    for (int method = 0; method < OQ_XSELL_N_METHODS; method++) {
        oq_xsell_qtable *t = NULL;
        assert_int_equal(oq_xsell_qtable_new(&s.mdp, &t, NULL), 0);
        gsl_rng *r = oq_rng_new(9, (uint64_t)method);
        oq_xsell_learn_opts o;
        oq_xsell_learn_opts_default(&o, method);
        for (int ep = 0; ep < 3000; ep++)
            assert_int_equal(oq_xsell_learn_episode(t, &s, &kb, &o, r, NULL, NULL), 0);
        check_table_never_invalid(t);
        /* the static rule at 30% off never prices item 5 (index 4) below cost */
        uint64_t S = oq_xsell_n_states(&s.mdp);
        uint8_t *dec = malloc(S * 5);
        oq_xsell_policy_static(&s.mdp, &kb, 3, dec);
        for (uint64_t i = 0; i < S * 5; i++) {
            int j, k;
            oq_xsell_decision_decode(&s.mdp, dec[i], &j, &k);
            assert_true(j != 4);
        }
        free(dec);
        gsl_rng_free(r);
        oq_xsell_qtable_free(t);
    }
}

/* Plain Q-learning on a tiny problem reaches the DP optimum. */
static void test_qlearning_reaches_dp(void **state)
{
    (void)state;
    oq_xsell_sim s = small_sim(2, 2);
    s.mdp.objective = OQ_XSELL_OBJ_REVENUE;
    s.mdp.n_disc = 2;
    s.mdp.disc[0] = 0.1;
    s.mdp.disc[1] = 0.3;
    s.arrival[0] = 0.3;
    s.arrival[1] = 0.3;
    s.survival = 0.9;
    oq_xsell_rule ru[2] = {{0, 1, 0.9, 0}, {1, 0, 0.5, 0}};
    assert_int_equal(oq_xsell_sim_plant(&s, ru, 2, NULL), 0);
    double vstar, vnone;
    assert_int_equal(oq_xsell_dp_solve(&s, NULL, &vstar, NULL, NULL), 0);
    uint8_t dec[9 * 2];
    oq_xsell_policy_none(&s.mdp, dec);
    assert_int_equal(oq_xsell_evaluate(&s, dec, &vnone, NULL, NULL), 0);
    oq_xsell_qtable *t = NULL;
    assert_int_equal(oq_xsell_qtable_new(&s.mdp, &t, NULL), 0);
    gsl_rng *r = oq_rng_new(2, 0);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, OQ_XSELL_QLEARN);
    for (int ep = 0; ep < 20000; ep++)
        assert_int_equal(oq_xsell_learn_episode(t, &s, NULL, &o, r, NULL, NULL), 0);
    assert_int_equal(oq_xsell_qtable_greedy(t, dec, NULL), 0);
    double v;
    assert_int_equal(oq_xsell_evaluate(&s, dec, &v, NULL, NULL), 0);
    /* stated: within 0.5% of the optimum, and 95% of the gain over none */
    assert_true(v >= vstar * 0.995);
    assert_true(v - vnone >= 0.95 * (vstar - vnone));
    assert_true(vstar - vnone > 0.02 * vnone); /* there is a gain to capture */
    gsl_rng_free(r);
    oq_xsell_qtable_free(t);
}

/* ---- table file ------------------------------------------------------------ */

/* Every (inventory, request) of two tables gets the same answer and Q. */
static void assert_same_answers(const oq_xsell_qtable *t, const oq_xsell_qtable *u)
{
    const oq_xsell_mdp *m = oq_xsell_qtable_mdp(t);
    uint64_t S = oq_xsell_n_states(m);
    int N = m->n_items, D = oq_xsell_n_decisions(m);
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    for (uint64_t x = 0; x < S; x++) {
        oq_xsell_state_decode(m, x, inv);
        for (int e = 0; e < N; e++) {
            uint32_t v1, v2;
            const double *a = oq_xsell_qtable_find(t, x, e, &v1),
                         *b = oq_xsell_qtable_find(u, x, e, &v2);
            assert_true((a == NULL) == (b == NULL));
            assert_int_equal(v1, v2);
            if (a) assert_memory_equal(a, b, (size_t)D * sizeof *a);
            if (!inv[e]) continue;
            oq_xsell_answer aa, ab;
            oq_xsell_qtable_answer(t, inv, e, &aa);
            oq_xsell_qtable_answer(u, inv, e, &ab);
            assert_int_equal(aa.d, ab.d);
            assert_int_equal(aa.how, ab.how);
            assert_true(aa.q == ab.q);
        }
    }
}

static void test_table_file(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/t.oxq", dir);
    oq_xsell_sim s = small_sim(3, 3);
    strcpy(s.mdp.items[1].name, "tea, green"); /* names with commas and spaces */
    oq_xsell_rule ru = {0, 2, 0.8, 0};
    oq_xsell_kb kb;
    assert_int_equal(oq_xsell_kb_build(&s.mdp, &ru, 1, &kb, NULL), 0);
    oq_error err = {0};
    /* a factored table and a tabular one: saved, loaded, the same answers */
    for (int method = 0; method < OQ_XSELL_N_METHODS; method++) {
        oq_xsell_qtable *t = NULL, *u = NULL;
        assert_int_equal(oq_xsell_qtable_new(&s.mdp, &t, NULL), 0);
        gsl_rng *r = oq_rng_new(4, 0);
        oq_xsell_learn_opts o;
        oq_xsell_learn_opts_default(&o, method);
        for (int ep = 0; ep < 300; ep++)
            assert_int_equal(oq_xsell_learn_episode(t, &s, &kb, &o, r, NULL, NULL), 0);
        assert_int_equal(oq_xsell_qtable_save(t, path, &err), 0);
        assert_int_equal(oq_xsell_qtable_load(path, &u, &err), 0);
        assert_int_equal(oq_xsell_qtable_method(u), method);
        assert_int_equal(oq_xsell_qtable_episodes(u), 300);
        assert_int_equal(oq_xsell_qtable_mdp(u)->objective, OQ_XSELL_OBJ_PROFIT);
        assert_int_equal(oq_xsell_qtable_size(u), oq_xsell_qtable_size(t));
        assert_string_equal(oq_xsell_qtable_mdp(u)->items[1].name, "tea, green");
        assert_same_answers(t, u);
        gsl_rng_free(r);
        oq_xsell_qtable_free(u);
        oq_xsell_qtable_free(t);
    }
    oq_xsell_qtable *u = NULL;
    /* a flipped byte, a cut file, a wrong magic: OQ_EFORMAT */
    char *data;
    size_t len;
    assert_int_equal(oq_read_file(path, 1 << 26, &data, &len, NULL), 0);
    data[len / 2] ^= 1;
    assert_int_equal(oq_write_file_atomic(path, data, len, NULL), 0);
    assert_int_equal(oq_xsell_qtable_load(path, &u, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum"));
    data[len / 2] ^= 1;
    assert_int_equal(oq_write_file_atomic(path, data, len - 7, NULL), 0);
    assert_int_equal(oq_xsell_qtable_load(path, &u, &err), OQ_EFORMAT);
    data[0] = 'X';
    assert_int_equal(oq_write_file_atomic(path, data, len, NULL), 0);
    assert_int_equal(oq_xsell_qtable_load(path, &u, &err), OQ_EFORMAT);
    assert_null(u);
    free(data);
    /* a version 1 table (before the objective and the factored model) still
     * loads: tabular, revenue, every item a candidate; it answers every
     * state, unseen ones from the nearest seen state */
    /* (the fuzz corpus's first byte is the target's flag, not the file's) */
    assert_int_equal(
        oq_read_file(tu_source("tests/fuzz/corpus/xsell_table/real"), 1 << 20, &data, &len, NULL),
        0);
    assert_int_equal(oq_write_file_atomic(path, data + 1, len - 1, NULL), 0);
    free(data);
    assert_int_equal(oq_xsell_qtable_load(path, &u, &err), 0);
    assert_int_equal(oq_xsell_qtable_method(u), OQ_XSELL_KQ_TABULAR);
    const oq_xsell_mdp *m = oq_xsell_qtable_mdp(u);
    assert_int_equal(m->objective, OQ_XSELL_OBJ_REVENUE);
    assert_true(oq_xsell_qtable_size(u) > 0);
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    size_t nearest = 0;
    for (uint64_t x = 0; x < oq_xsell_n_states(m); x++) {
        oq_xsell_state_decode(m, x, inv);
        for (int e = 0; e < m->n_items; e++) {
            if (!inv[e]) continue;
            oq_xsell_answer a;
            oq_xsell_qtable_answer(u, inv, e, &a);
            assert_true(a.how == OQ_XSELL_ANS_SEEN || a.how == OQ_XSELL_ANS_NEAREST);
            nearest += a.how == OQ_XSELL_ANS_NEAREST;
        }
    }
    (void)nearest; /* a small table: it may have seen every state */
    oq_xsell_qtable_free(u);
    tu_rmdir(dir);
    free(dir);
}

/* ---- input files and the command line ------------------------------------- */

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_readers(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char items[512], rules[512];
    snprintf(items, sizeof items, "%s/items.csv", dir);
    snprintf(rules, sizeof rules, "%s/rules.csv", dir);
    write_text(items, "item,price,cost,inventory\nbread,2.5,1,6\n\"milk, whole\",1.2,0.8,5\n"
                      "butter,3,2,4\n");
    write_text(rules, "type,lhs,rhs,support,confidence,lift,count\n"
                      "positive,bread,\"milk, whole\",0.1,0.62,1.8,40\n"
                      "negative,butter,bread,0.05,0.9,0.4,20\n"
                      "positive,bread & butter,\"milk, whole\",0.02,0.7,2.1,8\n"
                      "positive,bread,jam,0.02,0.7,2.1,8\n");
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    oq_error err = {0};
    assert_int_equal(oq_xsell_items_read(items, 0.6, &s, &err), 0);
    assert_int_equal(s.mdp.n_items, 3);
    assert_string_equal(s.mdp.items[1].name, "milk, whole");
    assert_true(s.mdp.items[2].capacity == 4 && fabs(s.arrival[0] - 0.2) < 1e-15);
    oq_xsell_rule *ru = NULL;
    size_t n = 0, skipped = 0;
    assert_int_equal(oq_xsell_rules_read(rules, &s.mdp, &ru, &n, &skipped, &err), 0);
    assert_int_equal(n, 2);
    assert_int_equal(skipped, 2);
    assert_true(ru[0].lhs_item == 0 && ru[0].rhs_item == 1 && ru[0].confidence == 0.62 &&
                !ru[0].negative);
    assert_true(ru[1].lhs_item == 2 && ru[1].rhs_item == 0 && ru[1].negative);
    free(ru);
    /* errors name the line and column */
    write_text(rules, "type,lhs,rhs,support,confidence,lift,count\n"
                      "positive,bread,butter,0.1,1.7,1.8,40\n");
    assert_int_equal(oq_xsell_rules_read(rules, &s.mdp, &ru, &n, NULL, &err), OQ_EPARSE);
    assert_true(err.line == 2 && err.col == 5);
    write_text(items, "item,price,cost,inventory\nbread,2.5,3,6\nmilk,1,0.5,2\n");
    assert_int_equal(oq_xsell_items_read(items, 0.6, &s, &err), OQ_EPARSE);
    assert_true(err.line == 2 && err.col == 3);
    tu_rmdir(dir);
    free(dir);
}

static void test_cli_learn_offer(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char p[512];
    snprintf(p, sizeof p, "%s/items.csv", dir);
    write_text(p, "item,price,cost,inventory\nbread,20,10,3\nmilk,12,8,3\nbutter,30,20,3\n");
    snprintf(p, sizeof p, "%s/rules.csv", dir);
    write_text(p, "type,lhs,rhs,support,confidence,lift,count\n"
                  "positive,bread,butter,0.1,0.9,1.8,40\n");
    const char *bin = tu_bin();
    assert_int_equal(tu_system("%s crosssell learn --items %s/items.csv --rules %s/rules.csv "
                               "--episodes 3000 --quiet --out %s/t.oxq > %s/learn.txt",
                               bin, dir, dir, dir, dir),
                     0);
    assert_int_equal(tu_system("%s crosssell offer --table %s/t.oxq --item bread --inventory "
                               "3,3,3 --json > %s/offer.json",
                               bin, dir, dir),
                     0);
    char *txt;
    size_t len;
    snprintf(p, sizeof p, "%s/offer.json", dir);
    assert_int_equal(oq_read_file(p, 1 << 20, &txt, &len, NULL), 0);
    /* the strong rule bread => butter with spare stock: butter is bundled */
    assert_non_null(strstr(txt, "\"bundle\": \"butter\""));
    free(txt);
    /* usage errors: out-of-stock request, wrong inventory length, unknown item */
    assert_int_equal(tu_system("%s crosssell offer --table %s/t.oxq --item bread --inventory "
                               "0,3,3 2>/dev/null",
                               bin, dir),
                     2);
    assert_int_equal(tu_system("%s crosssell offer --table %s/t.oxq --item bread --inventory "
                               "3,3 2>/dev/null",
                               bin, dir),
                     2);
    assert_int_equal(tu_system("%s crosssell offer --table %s/t.oxq --item jam --inventory "
                               "3,3,3 2>/dev/null",
                               bin, dir),
                     2);
    tu_rmdir(dir);
    free(dir);
}

/* ---- answering requests with a learned table (offer, HTTP service) -------- */

static void test_offer_lookup(void **state)
{
    (void)state;
    /* bread 20/10, milk 12/8, butter 30/20, 3 units each; bread => butter planted */
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    s.mdp.n_items = 3;
    const char *names[3] = {"bread", "milk", "butter"};
    const double price[3] = {20, 12, 30}, cost[3] = {10, 8, 20};
    for (int i = 0; i < 3; i++) {
        snprintf(s.mdp.items[i].name, sizeof s.mdp.items[i].name, "%s", names[i]);
        s.mdp.items[i].price = price[i];
        s.mdp.items[i].cost = cost[i];
        s.mdp.items[i].capacity = 3;
        s.arrival[i] = 0.2;
    }
    oq_xsell_rule rule = {.lhs_item = 0, .rhs_item = 2, .confidence = 0.9};
    oq_xsell_kb kb;
    oq_error err = {0};
    oq_xsell_qtable *t = NULL;
    assert_int_equal(oq_xsell_sim_plant(&s, &rule, 1, &err), 0);
    assert_int_equal(oq_xsell_kb_build(&s.mdp, &rule, 1, &kb, &err), 0);
    assert_int_equal(oq_xsell_qtable_new(&s.mdp, &t, &err), 0);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, OQ_XSELL_KQ);
    gsl_rng *r = oq_rng_new(5, 0);
    for (int ep = 0; ep < 3000; ep++)
        assert_int_equal(oq_xsell_learn_episode(t, &s, &kb, &o, r, NULL, &err), 0);
    gsl_rng_free(r);

    /* item names, then positions counted from 1 */
    static const struct {
        const char *name;
        int want;
    } find[] = {{"bread", 0}, {"butter", 2}, {"1", 0}, {"3", 2},   {"0", -1}, {"4", -1},
                {"jam", -1},  {"2x", -1},    {"", -1}, {"-1", -1}, {"+2", -1}};
    for (size_t k = 0; k < sizeof find / sizeof *find; k++)
        assert_int_equal(oq_xsell_item_find(&s.mdp, find[k].name), find[k].want);

    /* every learned (inventory, request): the same decision as the table's own
     * argmax, priced by (1 - delta_k) p_j, never an out-of-stock add-on */
    int bundles = 0;
    for (uint64_t st = 0; st < oq_xsell_n_states(&s.mdp); st++) {
        uint32_t x[3];
        oq_xsell_state_decode(&s.mdp, st, x);
        long inv[3] = {x[0], x[1], x[2]};
        for (int e = 0; e < 3; e++) {
            if (!x[e]) continue;
            oq_xsell_offer of;
            int d, j, k;
            double q;
            assert_int_equal(oq_xsell_offer_lookup(t, names[e], inv, 3, NULL, &of, &err), 0);
            int learned = oq_xsell_qtable_decide(t, x, e, &d, &q);
            oq_xsell_decision_decode(&s.mdp, d, &j, &k);
            assert_int_equal(of.item, e);
            assert_int_equal(of.learned, learned);
            assert_int_equal(of.bundle, j);
            assert_int_equal(of.level, k);
            assert_true(of.q == q && !of.below_cost);
            assert_true(of.item_price == price[e]);
            if (j >= 0) {
                bundles++;
                assert_true(x[j] > 0 && j != e);
                assert_true(of.discount == s.mdp.disc[k]);
                assert_true(of.addon_price == (1 - s.mdp.disc[k]) * price[j]);
                assert_true(of.addon_price >= cost[j]);
            } else {
                assert_true(of.discount == 0 && of.addon_price == 0);
            }
            assert_true(of.bundle_price == of.item_price + of.addon_price);
        }
    }
    assert_true(bundles > 0);
    long full[3] = {3, 3, 3};
    oq_xsell_offer of;
    assert_int_equal(oq_xsell_offer_lookup(t, "bread", full, 3, NULL, &of, &err), 0);
    assert_int_equal(of.bundle, 2); /* the planted rule, stock to spare */

    /* today's prices: quoted; butter now below cost at any discount > 0 */
    oq_xsell_mdp now = s.mdp;
    now.items[0].price = 22;
    now.items[2].price = 21;
    assert_int_equal(oq_xsell_items_match(&s.mdp, &now, &err), 0);
    oq_xsell_offer o2;
    assert_int_equal(oq_xsell_offer_lookup(t, "bread", full, 3, &now, &o2, &err), 0);
    assert_true(o2.item_price == 22);
    if (of.discount > 0)
        assert_true(o2.below_cost && o2.bundle == -1 && o2.bundle_price == 22);
    else
        assert_true(!o2.below_cost && o2.bundle == 2 && o2.bundle_price == 22 + 21);

    /* the items file must list the table's items in its order */
    oq_xsell_mdp sw = s.mdp;
    sw.items[0] = s.mdp.items[1];
    sw.items[1] = s.mdp.items[0];
    assert_int_equal(oq_xsell_items_match(&s.mdp, &sw, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "item 1 is 'bread' in the table but 'milk'"));
    sw = s.mdp;
    sw.n_items = 2;
    assert_int_equal(oq_xsell_items_match(&s.mdp, &sw, &err), OQ_EINVAL);

    /* bad requests: OQ_EINVAL with a message saying what is wrong */
    static const struct {
        const char *item;
        long inv[4];
        size_t n;
        const char *msg;
    } bad[] = {{"jam", {3, 3, 3}, 3, "unknown item 'jam'"},
               {"4", {3, 3, 3}, 3, "unknown item '4'"},
               {"bread", {3, 3}, 2, "inventory has 2 counts, the table has 3 items"},
               {"bread", {3, 3, 3, 3}, 4, "inventory has 4 counts"},
               {"bread", {3, 4, 3}, 3, "inventory of 'milk' must be in [0, 3]"},
               {"bread", {3, -1, 3}, 3, "inventory of 'milk' must be in [0, 3]"},
               {"bread", {0, 3, 3}, 3, "'bread' is out of stock"}};
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
        memset(&err, 0, sizeof err);
        assert_int_equal(
            oq_xsell_offer_lookup(t, bad[k].item, bad[k].inv, bad[k].n, NULL, &of, &err),
            OQ_EINVAL);
        if (!strstr(err.msg, bad[k].msg)) fail_msg("case %zu: '%s'", k, err.msg);
    }
    oq_xsell_qtable_free(t);
}

/* ---- K-Q with a factored Q (the acceptance tests) ----------------- */

/* The quick configuration's world (4 items of 4 units) with two planted
 * positive rules. */
static oq_xsell_sim quick_world(int objective, oq_xsell_kb *kb)
{
    oq_xsell_exp_config c;
    oq_xsell_exp_default(&c, 1);
    oq_xsell_sim s = c.sim;
    s.mdp.objective = objective;
    oq_xsell_rule ru[2] = {{0, 1, 0.8, 0}, {2, 3, 0.7, 0}};
    assert_int_equal(oq_xsell_sim_plant(&s, ru, 2, NULL), 0);
    assert_int_equal(oq_xsell_kb_build(&s.mdp, ru, 2, kb, NULL), 0);
    return s;
}

/* Share of the DP optimum's gain over no cross-selling of a table's answers. */
static double gain_share(const oq_xsell_sim *s, const oq_xsell_qtable *t)
{
    uint64_t S = oq_xsell_n_states(&s->mdp);
    uint8_t *dec = malloc(S * (size_t)s->mdp.n_items);
    double r, p, vn, vd, v;
    oq_xsell_policy_none(&s->mdp, dec);
    assert_int_equal(oq_xsell_evaluate(s, dec, &r, &p, NULL), 0);
    vn = oq_xsell_objective_value(&s->mdp, r, p);
    assert_int_equal(oq_xsell_dp_solve(s, NULL, &r, &p, NULL), 0);
    vd = oq_xsell_objective_value(&s->mdp, r, p);
    assert_int_equal(oq_xsell_qtable_greedy(t, dec, NULL), 0);
    assert_int_equal(oq_xsell_evaluate(s, dec, &r, &p, NULL), 0);
    v = oq_xsell_objective_value(&s->mdp, r, p);
    free(dec);
    assert_true(vd - vn > 0.01 * vn); /* there is a gain to capture */
    assert_true(v <= vd + 1e-9);
    return (v - vn) / (vd - vn);
}

static oq_xsell_qtable *learn(const oq_xsell_sim *s, const oq_xsell_kb *kb, int method,
                              int episodes, uint64_t seed)
{
    oq_xsell_qtable *t = NULL;
    assert_int_equal(oq_xsell_qtable_new(&s->mdp, &t, NULL), 0);
    gsl_rng *r = oq_rng_new(seed, 0);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, method);
    for (int ep = 0; ep < episodes; ep++)
        assert_int_equal(oq_xsell_learn_episode(t, s, kb, &o, r, NULL, NULL), 0);
    assert_int_equal(oq_xsell_qtable_solve(t, NULL), 0);
    gsl_rng_free(r);
    return t;
}

/* K-Q reaches 95% of the DP optimum's gain within 1,000 seasons, for both
 * objectives; the paper's tabular K-Q does not come close at that budget
 * (on main, K-Q was this tabular form). */
static void test_kq_reaches_dp_gain(void **state)
{
    (void)state;
    for (int obj = 0; obj < 2; obj++) {
        oq_xsell_kb kb;
        oq_xsell_sim s = quick_world(obj, &kb);
        oq_xsell_qtable *t = learn(&s, &kb, OQ_XSELL_KQ, 1000, 3);
        double share = gain_share(&s, t);
        oq_xsell_qtable_free(t);
        t = learn(&s, &kb, OQ_XSELL_KQ_TABULAR, 1000, 3);
        double tab = gain_share(&s, t);
        oq_xsell_qtable_free(t);
        if (!(share >= 0.95 && tab < 0.8))
            fail_msg("%s: K-Q %.1f%% of the DP gain (>= 95%% expected), tabular K-Q %.1f%%",
                     oq_xsell_objective_name(obj), 100 * share, 100 * tab);
    }
}

/* Every requested item in stock gets an answer in every inventory, seen in
 * training or not: a factored table from its Q (and a bundle where one
 * pays), a tabular one from its nearest seen state; none only where no
 * bundle is admissible. The dense answers (evaluation) equal the single
 * ones (offer, serve). */
static void test_unseen_states_answered(void **state)
{
    (void)state;
    oq_xsell_kb kb;
    oq_xsell_sim s = quick_world(OQ_XSELL_OBJ_PROFIT, &kb);
    const oq_xsell_mdp *m = &s.mdp;
    uint64_t S = oq_xsell_n_states(m);
    int N = m->n_items;
    uint8_t *dec = malloc(S * (size_t)N);
    for (int method = 0; method < OQ_XSELL_N_METHODS; method++) {
        oq_xsell_qtable *t = learn(&s, &kb, method, 40, 8);
        assert_int_equal(oq_xsell_qtable_greedy(t, dec, NULL), 0);
        size_t unseen = 0, unseen_bundles = 0;
        uint32_t inv[OQ_XSELL_MAX_ITEMS];
        uint8_t valid[OQ_XSELL_MAX_DEC];
        for (uint64_t x = 0; x < S; x++) {
            oq_xsell_state_decode(m, x, inv);
            for (int e = 0; e < N; e++) {
                if (!inv[e]) continue;
                oq_xsell_answer a;
                oq_xsell_qtable_answer(t, inv, e, &a);
                int nv = oq_xsell_valid(m, inv, e, valid);
                assert_true(valid[a.d]);
                assert_int_equal(dec[x * (uint64_t)N + (uint64_t)e], a.d);
                if (oq_xsell_qtable_find(t, x, e, NULL) || oq_xsell_qtable_counts(t, x, e)) {
                    assert_int_equal(a.how, OQ_XSELL_ANS_SEEN);
                    continue;
                }
                unseen++;
                assert_int_equal(a.how,
                                 method == OQ_XSELL_KQ ? OQ_XSELL_ANS_MODEL : OQ_XSELL_ANS_NEAREST);
                if (a.how == OQ_XSELL_ANS_NEAREST) {
                    /* the nearest seen state: no seen state is closer */
                    uint32_t y[OQ_XSELL_MAX_ITEMS], dist = 0;
                    oq_xsell_state_decode(m, a.from, y);
                    for (int i = 0; i < N; i++)
                        dist += y[i] > inv[i] ? y[i] - inv[i] : inv[i] - y[i];
                    assert_true(dist == a.distance && dist >= 1);
                    assert_non_null(oq_xsell_qtable_counts(t, a.from, e));
                }
                if (a.d > 0) unseen_bundles++;
                if (nv == 1) assert_int_equal(a.d, 0); /* no bundle admissible */
            }
        }
        /* 40 seasons see a fraction of the 625 x 4 pairs; the rest is answered,
         * mostly with a bundle (the planted rules pay with stock to spare) */
        if (!(unseen > 500 && unseen_bundles > unseen / 4))
            fail_msg("%s: %zu unseen pairs, %zu answered with a bundle",
                     oq_xsell_method_name(method), unseen, unseen_bundles);
        oq_xsell_qtable_free(t);
    }
    free(dec);
}

/* The objective changes the offer: a request of a (price 10) may take b
 * (price 100, cost 95) or c (price 20, cost 5) as add-on, b more often; b
 * and c are never asked for on their own, so their stock has no other use.
 * Revenue: b (0.9 x 100 beats 0.5 x 20); profit: c (0.5 x 15 beats 0.9 x 5).
 * The DP and the learned tables agree. */
static void test_profit_changes_offer(void **state)
{
    (void)state;
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    s.mdp.n_items = 3;
    s.mdp.n_disc = 1;
    s.mdp.disc[0] = 0;
    const char *names[3] = {"a", "b", "c"};
    const double price[3] = {10, 100, 20}, cost[3] = {5, 95, 5};
    for (int i = 0; i < 3; i++) {
        snprintf(s.mdp.items[i].name, sizeof s.mdp.items[i].name, "%s", names[i]);
        s.mdp.items[i].price = price[i];
        s.mdp.items[i].cost = cost[i];
        s.mdp.items[i].capacity = 5;
        s.arrival[i] = i == 0 ? 0.5 : 0;
    }
    oq_xsell_rule ru[2] = {{0, 1, 0.9, 0}, {0, 2, 0.5, 0}};
    oq_xsell_kb kb;
    assert_int_equal(oq_xsell_sim_plant(&s, ru, 2, NULL), 0);
    assert_int_equal(oq_xsell_kb_build(&s.mdp, ru, 2, &kb, NULL), 0);
    uint32_t full[3] = {5, 5, 5};
    int want[2] = {1 + 1 * 1 + 0, 1 + 2 * 1 + 0}; /* revenue: b; profit: c */
    for (int obj = 0; obj < 2; obj++) {
        s.mdp.objective = obj;
        uint8_t *dec = NULL;
        double r, p;
        assert_int_equal(oq_xsell_dp_solve(&s, &dec, &r, &p, NULL), 0);
        uint64_t fs = oq_xsell_state_encode(&s.mdp, full);
        assert_int_equal(dec[fs * 3 + 0], want[obj]);
        free(dec);
        oq_xsell_qtable *t = learn(&s, &kb, OQ_XSELL_KQ, 300, 1);
        int d;
        oq_xsell_qtable_decide(t, full, 0, &d, NULL);
        if (d != want[obj])
            fail_msg("%s: learned decision %d, expected %d", oq_xsell_objective_name(obj), d,
                     want[obj]);
        oq_xsell_qtable_free(t);
    }
}

/* More units than knots (OQ_XSELL_KQ_MAX_KNOTS): W_i is piecewise linear
 * between knots, so a unit's value is the same at every level of one
 * segment; K-Q still gets most of the DP gain. */
/* The value fit (LSTD / LSPI of kq.c) against a closed form. Where no buyer
 * ever takes a bundle, a season's expected profit is the sum over items of
 * what each item's own stock earns (one buyer a period, the season's end
 * shared), so the separable W is exact: W(y) = gamma V(y), V the value at
 * the start of a period, and item i alone gives
 *   v_i(y) = lambda_i (m_i + gamma v_i(y - 1)) / (1 - gamma (1 - lambda_i)),
 * m_i = p_i - c_i (the DP's recursion for one item, its self-loop summed).
 * The learned marginal value of every unit, W_i(y) - W_i(y - 1), must match
 * gamma (v_i(y) - v_i(y - 1)) up to the sampling error of 20,000 seasons; a
 * fit that dropped the season's end, or counted the post-decision samples
 * without their discounts, is off by far more (the units at full stock are
 * worth about half as much as the last unit). */
static void test_kq_value_fit_closed_form(void **state)
{
    (void)state;
    oq_xsell_sim s = small_sim(2, 5);
    s.arrival[0] = 0.3;
    s.arrival[1] = 0.2;
    s.survival = 0.95;
    for (int i = 0; i < OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS; i++)
        s.interest[i] = 0; /* no buyer takes a bundle */
    oq_xsell_kb kb;
    assert_int_equal(oq_xsell_kb_build(&s.mdp, NULL, 0, &kb, NULL), 0);
    oq_xsell_qtable *t = learn(&s, &kb, OQ_XSELL_KQ, 20000, 6);
    double g = s.survival;
    for (int i = 0; i < 2; i++) {
        double lam = s.arrival[i], mi = s.mdp.items[i].price - s.mdp.items[i].cost, v0 = 0;
        double W = 0; /* the learned W_i(y), a sum of unit values */
        for (uint32_t y = 1; y <= 5; y++) {
            double v1 = lam * (mi + g * v0) / (1 - g * (1 - lam));
            double unit = oq_xsell_qtable_unit_value(t, i, y), want = g * (v1 - v0);
            W += unit;
            /* W_i(y) within 1.5 %, each unit (a difference, noisier) within 5 % */
            if (!(fabs(W - g * v1) < 0.015 * g * v1 && fabs(unit - want) < 0.05 * want))
                fail_msg("item %d, stock %u: W %.4f (closed form %.4f), unit %.4f (%.4f)", i, y, W,
                         g * v1, unit, want);
            v0 = v1;
        }
    }
    oq_xsell_qtable_free(t);
}

static void test_kq_many_units(void **state)
{
    (void)state;
    oq_xsell_sim s = small_sim(2, 4);
    s.mdp.items[0].capacity = 40; /* 32 knots over 40 units */
    s.arrival[0] = 0.4;
    s.arrival[1] = 0.3;
    s.survival = 0.99;
    oq_xsell_rule ru = {1, 0, 0.9, 0};
    oq_xsell_kb kb;
    assert_int_equal(oq_xsell_sim_plant(&s, &ru, 1, NULL), 0);
    assert_int_equal(oq_xsell_kb_build(&s.mdp, &ru, 1, &kb, NULL), 0);
    oq_xsell_qtable *t = learn(&s, &kb, OQ_XSELL_KQ, 400, 2);
    double sh = gain_share(&s, t);
    if (!(sh >= 0.9)) fail_msg("K-Q with 40 units: %.1f%% of the DP gain", 100 * sh);
    /* knot levels round(u 40 / 32): 0, 1, 3, 4, 5, 6, 8, ...; between 6 and 8
     * (one segment) the units 7 and 8 are worth the same */
    double u7 = oq_xsell_qtable_unit_value(t, 0, 7), u8 = oq_xsell_qtable_unit_value(t, 0, 8);
    assert_true(isfinite(u7) && fabs(u7 - u8) < 1e-9 * (1 + fabs(u7)));
    assert_true(isnan(oq_xsell_qtable_unit_value(t, 0, 41)));
    oq_xsell_qtable_free(t);
}

/* ---- the experiment (figures 2a, 2b) on the quick configuration ---------- */

static void test_experiment_orderings(void **state)
{
    (void)state;
    oq_xsell_exp_config c;
    oq_xsell_exp_default(&c, 1);
    c.quiet = 1;
    c.threads = 2;
    char *dir = tu_tmpdir();
    oq_xsell_exp_result res;
    oq_error err = {0};
    assert_int_equal(oq_xsell_experiment(&c, dir, &res, &err), 0);
    enum { POS = OQ_XSELL_SC_POS };
    for (int p = 0; p < c.n_points; p++) {
        const oq_xsell_stat *sh = res.share[POS][p];
        /* K-Q with mined rules: >= 95% of the DP gain, above the static rule
         * and the tabular learners (intervals apart) */
        if (!(sh[OQ_XSELL_ARM_KQ].mean >= 95)) fail_msg("K-Q %.1f%%", sh[OQ_XSELL_ARM_KQ].mean);
        assert_true(sh[OQ_XSELL_ARM_KQ].lo > sh[OQ_XSELL_ARM_STATIC].hi);
        assert_true(sh[OQ_XSELL_ARM_KQ].lo > sh[OQ_XSELL_ARM_KQ_TABULAR].hi);
        assert_true(sh[OQ_XSELL_ARM_KQ].lo > sh[OQ_XSELL_ARM_QLEARN].hi);
        /* fig 2a: K-Q reaches the mark long before the tabular learners */
        assert_true(res.conv[p][OQ_XSELL_ARM_KQ].hi < res.conv[p][OQ_XSELL_ARM_QLEARN].lo);
        assert_true(res.censored[p][OQ_XSELL_ARM_KQ] == 0);
        for (int sc = 0; sc < OQ_XSELL_N_SC; sc++)
            for (int a = 0; a < OQ_XSELL_N_ARMS; a++)
                assert_true(res.value[sc][p][a].mean <=
                            res.value[sc][p][OQ_XSELL_ARM_DP].mean + 1e-9);
        /* the miner found planted pairs */
        assert_true(res.recall[POS][p].mean > 50);
    }
    const char *files[7] = {"fig2a.csv",           "fig2a.svg",  "fig2b.csv",   "fig2b.svg",
                            "fig2b_scenarios.svg", "results.md", "summary.json"};
    for (int i = 0; i < 7; i++) {
        char p[512];
        snprintf(p, sizeof p, "%s/%s", dir, files[i]);
        assert_true(oq_file_exists(p));
    }
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_boltzmann),
        cmocka_unit_test(test_valid_and_utility),
        cmocka_unit_test(test_dp_by_hand),
        cmocka_unit_test(test_dp_brute_force),
        cmocka_unit_test(test_simulator_matches_dp),
        cmocka_unit_test(test_learning_never_invalid),
        cmocka_unit_test(test_qlearning_reaches_dp),
        cmocka_unit_test(test_table_file),
        cmocka_unit_test(test_readers),
        cmocka_unit_test(test_cli_learn_offer),
        cmocka_unit_test(test_offer_lookup),
        cmocka_unit_test(test_kq_reaches_dp_gain),
        cmocka_unit_test(test_unseen_states_answered),
        cmocka_unit_test(test_profit_changes_offer),
        cmocka_unit_test(test_kq_many_units),
        cmocka_unit_test(test_kq_value_fit_closed_form),
        cmocka_unit_test(test_experiment_orderings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
