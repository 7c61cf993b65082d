/* test_learn.c - the cross-selling learning job (include/offerq/xsell/learn.h):
 * ROCK candidate sets on a planted example, learning restricted to them, the
 * library job equal to the plain loop, and the simulated purchase history. */
#include "offerq/xsell/learn.h"
#include "offerq/core/rng.h"
#include "testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Baskets with three planted groups: {a, b, c} bought together, {x, y}
 * bought together, z always alone; no basket mixes two groups. */
static oq_baskets *planted_baskets(void)
{
    static const char *g[] = {"a,b", "a,c", "b,c", "a,b,c", "a", "b", "c",
                              "x,y", "x",   "y",   "x,y",   "z", "z"};
    char txt[4096] = "";
    for (int rep = 0; rep < 6; rep++)
        for (size_t i = 0; i < sizeof g / sizeof *g; i++) {
            strcat(txt, g[i]);
            strcat(txt, "\n");
        }
    oq_baskets *b = NULL;
    assert_int_equal(oq_baskets_read_mem("planted", txt, strlen(txt), &b, NULL), 0);
    return b;
}

/* An mdp whose items are named in another order than the baskets', plus w,
 * which no basket holds. */
static void planted_sim(oq_xsell_sim *s)
{
    static const char *names[7] = {"x", "a", "z", "b", "y", "c", "w"};
    oq_xsell_sim_default(s);
    s->mdp.n_items = 7;
    for (int i = 0; i < 7; i++) {
        snprintf(s->mdp.items[i].name, sizeof s->mdp.items[i].name, "%s", names[i]);
        s->mdp.items[i].price = 10 + i;
        s->mdp.items[i].cost = 5;
        s->mdp.items[i].capacity = 1;
        s->arrival[i] = 0.1;
    }
}

static int group_of(const char *name)
{
    return strchr("abc", name[0]) ? 1 : strchr("xy", name[0]) ? 2 : name[0] == 'z' ? 3 : 0;
}

static void test_candidates_are_rock_clusters(void **state)
{
    (void)state;
    oq_baskets *b = planted_baskets();
    oq_xsell_sim s;
    planted_sim(&s);
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.theta = 0.5;
    p.k = 3;
    oq_xsell_candidates c;
    oq_error err = {0};
    assert_int_equal(oq_xsell_learn_candidates_rock(&s.mdp, b, &p, &c, &err), 0);
    /* ROCK finds the three groups among the baskets, nothing left out */
    assert_int_equal(c.basket_clusters, 3);
    assert_int_equal(c.basket_outliers, 0);
    assert_int_equal(c.n_baskets, b->n);
    assert_int_equal(c.n_clusters, 3);
    int N = s.mdp.n_items;
    for (int e = 0; e < N; e++) {
        int ge = group_of(s.mdp.items[e].name);
        /* w is in no basket: no cluster, no candidates */
        assert_int_equal(c.cluster[e] == 0, ge == 0);
        for (int j = 0; j < N; j++) {
            int gj = group_of(s.mdp.items[j].name);
            assert_int_equal(c.allow[e * N + j], ge && j != e && ge == gj);
            if (ge && gj) assert_int_equal(c.cluster[e] == c.cluster[j], ge == gj);
        }
    }
    /* clusters numbered in item order: x first, then a, then z */
    assert_int_equal(c.cluster[0], 1);
    assert_int_equal(c.cluster[1], 2);
    assert_int_equal(c.cluster[2], 3);
    /* all items: one cluster, everything but the item itself */
    oq_xsell_learn_candidates_all(&s.mdp, &c);
    for (int e = 0; e < N; e++)
        for (int j = 0; j < N; j++)
            assert_int_equal(c.allow[e * N + j], e != j);
    /* no baskets */
    assert_int_equal(oq_xsell_learn_candidates_rock(&s.mdp, NULL, &p, &c, &err), OQ_EINVAL);
    oq_baskets_free(b);
}

/* Sum over every (state, event) of the table of the update counts of the
 * decisions that bundle j with e, for each pair (e, j): counts (N, N). */
static void bundle_counts(const oq_xsell_qtable *t, uint64_t *counts)
{
    const oq_xsell_mdp *m = oq_xsell_qtable_mdp(t);
    int N = m->n_items, K = m->n_disc;
    memset(counts, 0, sizeof *counts * (size_t)N * N);
    uint64_t S = oq_xsell_n_states(m);
    for (uint64_t st = 0; st < S; st++)
        for (int e = 0; e < N; e++) {
            const uint32_t *cnt = oq_xsell_qtable_counts(t, st, e);
            for (int j = 0; cnt && j < N; j++)
                for (int k = 0; k < K; k++)
                    counts[e * N + j] += cnt[1 + j * K + k];
        }
}

static void test_learning_restricted_to_clusters(void **state)
{
    (void)state;
    oq_baskets *b = planted_baskets();
    oq_xsell_sim s;
    planted_sim(&s);
    /* positive rules across the groups too: only the candidate sets keep
     * K-Q from trying a -> x or x -> z */
    oq_xsell_rule rules[] = {{1, 0, 0.9, 0}, {0, 2, 0.9, 0}, {1, 3, 0.6, 0}, {0, 4, 0.7, 0}};
    oq_xsell_learn_config cfg;
    oq_xsell_learn_config_default(&cfg);
    cfg.episodes = 3000;
    cfg.seed = 3;
    cfg.quiet = 1;
    cfg.candidates = OQ_XSELL_CAND_ROCK;
    cfg.rock.theta = 0.5;
    cfg.rock.k = 3;
    oq_xsell_learn_result *res = NULL, *all = NULL;
    oq_error err = {0};
    assert_int_equal(oq_xsell_learn_run(&s, rules, 4, b, &cfg, &res, &err), 0);
    cfg.candidates = OQ_XSELL_CAND_ALL;
    assert_int_equal(oq_xsell_learn_run(&s, rules, 4, b, &cfg, &all, &err), 0);
    int N = s.mdp.n_items;
    uint64_t cr[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS],
        ca[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS];
    bundle_counts(res->table, cr);
    bundle_counts(all->table, ca);
    long inside = 0, outside_all = 0;
    for (int e = 0; e < N; e++)
        for (int j = 0; j < N; j++) {
            if (!res->cand.allow[e * N + j]) {
                assert_int_equal(cr[e * N + j], 0); /* never tried outside the cluster */
                outside_all += (long)ca[e * N + j];
            } else {
                inside += (long)cr[e * N + j];
            }
        }
    assert_true(inside > 0);      /* within the clusters it did learn */
    assert_true(outside_all > 0); /* and without the sets it would have gone outside */
    /* every answer of the restricted table bundles within the cluster */
    uint64_t S = oq_xsell_n_states(&s.mdp);
    uint8_t *dec = malloc(S * (size_t)N);
    assert_non_null(dec);
    assert_int_equal(oq_xsell_qtable_greedy(res->table, dec, NULL), 0);
    for (uint64_t q = 0; q < S * (uint64_t)N; q++) {
        int j, k, e = (int)(q % (uint64_t)N);
        oq_xsell_decision_decode(&s.mdp, dec[q], &j, &k);
        if (j >= 0) assert_true(res->cand.allow[e * N + j]);
    }
    free(dec);
    /* the restriction is an option: ROCK without baskets is refused */
    oq_xsell_learn_result *none = NULL;
    cfg.candidates = OQ_XSELL_CAND_ROCK;
    assert_int_equal(oq_xsell_learn_run(&s, rules, 4, NULL, &cfg, &none, &err), OQ_EINVAL);
    assert_null(none);
    oq_xsell_learn_result_free(res);
    oq_xsell_learn_result_free(all);
    oq_xsell_learn_result_free(NULL);
    oq_baskets_free(b);
}

/* With every item a candidate the library job is the loop the CLI ran:
 * the same seasons on stream (seed, 0) give the same table, value for value. */
static void test_run_equals_plain_loop(void **state)
{
    (void)state;
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    s.mdp.n_items = 3;
    for (int i = 0; i < 3; i++)
        s.mdp.items[i].capacity = 3;
    oq_xsell_rule rules[] = {{0, 1, 0.8, 0}, {2, 0, 0.7, 1}};
    oq_xsell_learn_config cfg;
    oq_xsell_learn_config_default(&cfg);
    cfg.episodes = 500;
    cfg.seed = 9;
    cfg.quiet = 1;
    oq_xsell_learn_result *res = NULL;
    assert_int_equal(oq_xsell_learn_run(&s, rules, 2, NULL, &cfg, &res, NULL), 0);
    oq_xsell_sim ps = s;
    oq_xsell_kb kb;
    oq_xsell_qtable *t = NULL;
    assert_int_equal(oq_xsell_sim_plant(&ps, rules, 2, NULL), 0);
    assert_int_equal(oq_xsell_kb_build(&ps.mdp, rules, 2, &kb, NULL), 0);
    assert_int_equal(oq_xsell_qtable_new(&ps.mdp, &t, NULL), 0);
    gsl_rng *r = oq_rng_new(9, 0);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, OQ_XSELL_KQ);
    double sum = 0;
    for (int ep = 0; ep < 500; ep++) {
        oq_xsell_episode e;
        assert_int_equal(oq_xsell_learn_episode(t, &ps, &kb, &o, r, &e, NULL), 0);
        sum += e.revenue;
    }
    assert_int_equal(oq_xsell_qtable_solve(t, NULL), 0); /* the job fits W at the end too */
    assert_int_equal(oq_xsell_qtable_size(t), oq_xsell_qtable_size(res->table));
    int D = oq_xsell_n_decisions(&ps.mdp);
    uint64_t S = oq_xsell_n_states(&ps.mdp);
    for (uint64_t st = 0; st < S; st++) {
        uint32_t inv[3];
        oq_xsell_state_decode(&ps.mdp, st, inv);
        for (int e = 0; e < 3; e++) {
            uint32_t v1, v2;
            oq_xsell_qtable_find(t, st, e, &v1);
            oq_xsell_qtable_find(res->table, st, e, &v2);
            assert_int_equal(v1, v2);
            const uint32_t *a = oq_xsell_qtable_counts(t, st, e);
            const uint32_t *b = oq_xsell_qtable_counts(res->table, st, e);
            assert_int_equal(a == NULL, b == NULL);
            for (int d = 0; a && d < D; d++)
                assert_int_equal(a[d], b[d]);
            if (!inv[e]) continue;
            double qa[OQ_XSELL_MAX_DEC], qb[OQ_XSELL_MAX_DEC];
            assert_int_equal(oq_xsell_qtable_qvalues(t, inv, e, qa),
                             oq_xsell_qtable_qvalues(res->table, inv, e, qb));
            for (int d = 0; d < D; d++)
                assert_true(qa[d] == qb[d]);
        }
    }
    assert_true(sum / 500 == res->mean_training_revenue);
    /* evaluated exactly: nothing above the DP optimum, none below learned */
    assert_true(isfinite(res->dp_revenue));
    assert_true(res->learned_revenue <= res->dp_revenue + 1e-9);
    assert_int_equal(res->cand.n_clusters, 1);
    gsl_rng_free(r);
    oq_xsell_qtable_free(t);
    oq_xsell_learn_result_free(res);
}

/* The simulated purchase history follows the arrival rates and the interest
 * of the planted rules. */
static void test_sim_baskets(void **state)
{
    (void)state;
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    /* 3 => 4: a pair away from item 0 (the interest matrix's stride is
     * OQ_XSELL_MAX_ITEMS; the generator once read it with stride N, and then
     * only item 0's rules reached the baskets) */
    oq_xsell_rule rules[] = {{0, 1, 0.8, 0}, {3, 4, 0.8, 0}};
    assert_int_equal(oq_xsell_sim_plant(&s, rules, 2, NULL), 0);
    gsl_rng *r = oq_rng_new(4, 0);
    oq_baskets *b = NULL;
    assert_int_equal(oq_xsell_learn_sim_baskets(&s, 20000, 0, r, &b, NULL), 0);
    assert_int_equal(b->n, 20000);
    long n0 = 0, n01 = 0, n2 = 0, n23 = 0, n3 = 0, n34 = 0;
    for (size_t t = 0; t < b->n; t++) {
        int has[5] = {0};
        for (uint64_t q = b->off[t]; q < b->off[t + 1]; q++)
            has[b->item[q]] = 1;
        n0 += has[0];
        n01 += has[0] && has[1];
        n2 += has[2];
        n23 += has[2] && has[3];
        n3 += has[3];
        n34 += has[3] && has[4];
    }
    /* item 1 joins a request of item 0 with the rule's 0.8 (item 0 also comes
     * as an add-on, 5% of the other requests: ~0.70 in all); a pair without
     * a rule: ~0.05. Bounds are wide for thousands of draws. */
    assert_true((double)n01 / n0 > 0.6 && (double)n01 / n0 < 0.85);
    assert_true((double)n34 / n3 > 0.6 && (double)n34 / n3 < 0.85);
    assert_true((double)n23 / n2 < 0.15);
    oq_baskets_free(b);
    /* noise: every basket noise, 2 items on average over 5, none empty */
    assert_int_equal(oq_xsell_learn_sim_baskets(&s, 20000, 1, r, &b, NULL), 0);
    assert_true(fabs((double)b->nnz / (double)b->n - 2.0 - 0.08) < 0.1);
    for (size_t t = 0; t < b->n; t++)
        assert_true(b->off[t + 1] > b->off[t]);
    oq_baskets_free(b);
    assert_int_equal(oq_xsell_learn_sim_baskets(&s, 100, 1.5, r, &b, NULL), OQ_EINVAL);
    assert_int_equal(oq_xsell_learn_sim_baskets(&s, 0, 0, r, &b, NULL), OQ_EINVAL);
    assert_null(b);
    gsl_rng_free(r);
}

/* Rules mined from the simulated purchase history: the planted pairs come
 * back as positive rules, so do their reverses (co-occurrence is symmetric:
 * spurious for the add-on decision), and unassociated pairs as negative
 * rules; the rules name the mdp's items whatever the baskets' order. */
static void test_mine_rules(void **state)
{
    (void)state;
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    oq_xsell_rule planted[] = {{0, 2, 0.8, 0}, {3, 1, 0.8, 0}};
    assert_int_equal(oq_xsell_sim_plant(&s, planted, 2, NULL), 0);
    gsl_rng *r = oq_rng_new(6, 0);
    oq_baskets *b = NULL;
    assert_int_equal(oq_xsell_learn_sim_baskets(&s, 3000, 0.1, r, &b, NULL), 0);
    oq_rules_params p;
    oq_rules_params_default(&p);
    p.min_support = 0.02;
    p.min_confidence = 0.3;
    p.max_len = 2;
    p.negative = 1;
    oq_xsell_rule *ru = NULL;
    size_t n = 0, npos = 0, nneg = 0;
    assert_int_equal(oq_xsell_learn_mine_rules(&s.mdp, b, &p, &ru, &n, &npos, &nneg, NULL), 0);
    assert_int_equal(n, npos + nneg);
    oq_xsell_kb kb;
    assert_int_equal(oq_xsell_kb_build(&s.mdp, ru, n, &kb, NULL), 0);
#define POS(i, j) kb.pos[(i)*OQ_XSELL_MAX_ITEMS + (j)]
#define NEG(i, j) kb.neg[(i)*OQ_XSELL_MAX_ITEMS + (j)]
    assert_true(POS(0, 2) > 0.55 && POS(0, 2) < 0.85); /* 0.8 diluted by add-on baskets */
    assert_true(POS(3, 1) > 0.55 && POS(3, 1) < 0.85);
    assert_true(POS(2, 0) > 0.3);                   /* the reverse: spurious */
    assert_true(POS(1, 4) == 0 && NEG(1, 4) > 0.7); /* an unassociated pair */
    assert_true(nneg >= 6);
#undef POS
#undef NEG
    free(ru);
    oq_baskets_free(b);
    gsl_rng_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_candidates_are_rock_clusters),
        cmocka_unit_test(test_learning_restricted_to_clusters),
        cmocka_unit_test(test_run_equals_plain_loop),
        cmocka_unit_test(test_sim_baskets),
        cmocka_unit_test(test_mine_rules),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
