/* learn.c - the cross-selling learning job: ROCK candidate sets (the
 * paper's section 2), K-Q-learning within them (section 3.3), the exact
 * evaluation, the dashboard summary. What and why: include/offerq/xsell/learn.h. */
#include "offerq/xsell/learn.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "util/json.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- candidate item sets ------------------------------------------------------ */

void oq_xsell_learn_candidates_all(const oq_xsell_mdp *m, oq_xsell_candidates *c)
{
    int N = m->n_items;
    memset(c, 0, sizeof *c);
    c->n_items = N;
    c->n_clusters = 1;
    for (int e = 0; e < N; e++) {
        c->cluster[e] = 1;
        for (int j = 0; j < N; j++)
            c->allow[e * N + j] = (uint8_t)(j != e);
    }
}

int oq_xsell_learn_candidates_rock(const oq_xsell_mdp *m, const oq_baskets *b,
                                   const oq_rock_params *p, oq_xsell_candidates *c, oq_error *err)
{
    int N = m->n_items;
    memset(c, 0, sizeof *c);
    c->n_items = N;
    if (!b || b->n == 0)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "ROCK candidates need baskets");
    oq_rock_records *rec = NULL;
    oq_rock_result *res = NULL;
    uint64_t *cnt = NULL;
    long bid[OQ_XSELL_MAX_ITEMS]; /* basket item id of each mdp item, -1 if absent */
    int rc = oq_rock_records_from_baskets(b, &rec, err);
    if (!rc) rc = oq_rock_cluster(rec, p, &res, err);
    if (rc) goto cleanup;
    size_t K = res->n_clusters;
    cnt = calloc((K + 1) * (size_t)N, sizeof *cnt); /* (K + 1, N) baskets of item i in cluster */
    if (!cnt) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    for (int i = 0; i < N; i++)
        bid[i] = oq_dict_find(&b->items, m->items[i].name);
    for (size_t t = 0; t < b->n; t++) {
        uint32_t k = res->cluster[t];
        if (k == 0) continue; /* an outlier basket votes for nothing */
        for (uint64_t q = b->off[t]; q < b->off[t + 1]; q++)
            for (int i = 0; i < N; i++)
                if (bid[i] == (long)b->item[q]) cnt[(size_t)k * N + i]++;
    }
    /* item -> the basket cluster holding most of its baskets; renumbered
     * 1, 2, ... in item order so equal partitions compare equal */
    int renum[OQ_XSELL_MAX_ITEMS + 1];
    size_t from[OQ_XSELL_MAX_ITEMS + 1];
    for (int i = 0; i < N; i++) {
        size_t best = 0;
        for (size_t k = 1; k <= K; k++)
            if (cnt[k * N + i] > (best ? cnt[best * N + i] : 0)) best = k;
        int id = 0;
        for (int q = 1; best && q <= c->n_clusters; q++)
            if (from[q] == best) id = q;
        if (best && !id) {
            id = ++c->n_clusters;
            from[id] = best;
        }
        renum[i] = id;
        c->cluster[i] = id;
    }
    for (int e = 0; e < N; e++)
        for (int j = 0; j < N; j++)
            c->allow[e * N + j] = (uint8_t)(j != e && renum[e] && renum[e] == renum[j]);
    c->n_baskets = b->n;
    c->basket_clusters = K;
    c->basket_outliers = res->size[0];
cleanup:
    free(cnt);
    oq_rock_result_free(res);
    oq_rock_records_free(rec);
    return rc;
}

int oq_xsell_learn_sim_baskets(const oq_xsell_sim *s, size_t n, double noise, gsl_rng *r,
                               oq_baskets **out, oq_error *err)
{
    *out = NULL;
    int N = s->mdp.n_items, rc = 0;
    double total = 0;
    for (int i = 0; i < N; i++)
        total += s->arrival[i];
    if (n == 0 || !(total > 0) || !(noise >= 0 && noise <= 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "simulated baskets need n > 0, an item that buyers ask for and a "
                            "noise share in [0, 1]");
    oq_baskets *b = oq_baskets_new();
    uint32_t ids[OQ_XSELL_MAX_ITEMS];
    if (!b) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    for (int i = 0; !rc && i < N; i++)
        rc = oq_dict_intern(&b->items, s->mdp.items[i].name, strlen(s->mdp.items[i].name), &ids[i]);
    if (rc) rc = oq_error_set(err, rc, NULL, 0, 0, "out of memory");
    for (size_t t = 0; !rc && t < n; t++) {
        uint32_t bk[OQ_XSELL_MAX_ITEMS];
        size_t k = 0;
        if (noise > 0 && gsl_rng_uniform(r) < noise) {
            /* a noise basket: any items, 2 on average, at least one */
            for (int j = 0; j < N; j++)
                if (gsl_rng_uniform(r) < 2.0 / N) bk[k++] = ids[j];
            if (k == 0) bk[k++] = ids[gsl_rng_uniform_int(r, (unsigned long)N)];
            rc = oq_baskets_add(b, bk, k, err);
            continue;
        }
        /* the requested item, by arrival rate */
        double u = gsl_rng_uniform(r) * total, acc = 0;
        int e = N - 1;
        for (int i = 0; i < N; i++) {
            acc += s->arrival[i];
            if (u < acc && s->arrival[i] > 0) {
                e = i;
                break;
            }
        }
        bk[k++] = ids[e];
        for (int j = 0; j < N; j++)
            if (j != e && gsl_rng_uniform(r) < s->interest[e * OQ_XSELL_MAX_ITEMS + j])
                bk[k++] = ids[j];
        rc = oq_baskets_add(b, bk, k, err);
    }
    if (rc) {
        oq_baskets_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int oq_xsell_learn_mine_rules(const oq_xsell_mdp *m, const oq_baskets *b, const oq_rules_params *p,
                              oq_xsell_rule **rules, size_t *n_rules, size_t *n_pos, size_t *n_neg,
                              oq_error *err)
{
    *rules = NULL;
    *n_rules = 0;
    if (n_pos) *n_pos = 0;
    if (n_neg) *n_neg = 0;
    oq_ruleset *rs = NULL;
    int rc = oq_rules_mine(b, p, &rs, err);
    if (rc) return rc;
    long bid[OQ_XSELL_MAX_ITEMS]; /* basket item id of each mdp item, -1 if absent */
    for (int i = 0; i < m->n_items; i++)
        bid[i] = oq_dict_find(&b->items, m->items[i].name);
    oq_xsell_rule *out = rs->n ? malloc(rs->n * sizeof *out) : NULL;
    if (rs->n && !out) {
        oq_ruleset_free(rs);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    }
    size_t k = 0;
    for (size_t q = 0; q < rs->n; q++) {
        const oq_rule *ru = &rs->rule[q];
        if (ru->lhs_len != 1) continue;
        int l = -1, r = -1;
        for (int i = 0; i < m->n_items; i++) {
            if (bid[i] == (long)rs->items[ru->lhs_off]) l = i;
            if (bid[i] == (long)ru->rhs) r = i;
        }
        if (l < 0 || r < 0 || l == r) continue;
        int neg = ru->type == OQ_RULE_NEGATIVE;
        out[k++] = (oq_xsell_rule){(uint32_t)l, (uint32_t)r, ru->confidence, neg};
        if (neg && n_neg) (*n_neg)++;
        if (!neg && n_pos) (*n_pos)++;
    }
    oq_ruleset_free(rs);
    if (k == 0) {
        free(out);
        out = NULL;
    }
    *rules = out;
    *n_rules = k;
    return 0;
}

/* ---- the learning job ------------------------------------------------------------ */

void oq_xsell_learn_config_default(oq_xsell_learn_config *c)
{
    memset(c, 0, sizeof *c);
    c->method = OQ_XSELL_KQ;
    c->knowledge = OQ_XSELL_KNOW_DEFAULT;
    c->episodes = 20000;
    c->seed = 1;
    c->candidates = OQ_XSELL_CAND_ALL;
    oq_rock_params_default(&c->rock);
    c->evaluate = 1;
}

void oq_xsell_learn_result_free(oq_xsell_learn_result *r)
{
    if (!r) return;
    oq_xsell_qtable_free(r->table);
    free(r);
}

/* Exact revenue and profit of the learned table, of no cross-selling and of
 * the DP optimum (crosssell.h: oq_xsell_evaluate, oq_xsell_dp_solve). */
static int evaluate(oq_xsell_learn_result *res, oq_error *err)
{
    const oq_xsell_sim *s = &res->sim;
    uint64_t S = oq_xsell_n_states(&s->mdp);
    uint8_t *dec = malloc(S * (size_t)s->mdp.n_items); /* (S, N) */
    if (!dec) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = oq_xsell_qtable_greedy(res->table, dec, err);
    if (!rc) rc = oq_xsell_evaluate(s, dec, &res->learned_revenue, &res->learned_profit, err);
    if (!rc) {
        oq_xsell_policy_none(&s->mdp, dec);
        rc = oq_xsell_evaluate(s, dec, &res->none_revenue, &res->none_profit, err);
    }
    if (!rc) rc = oq_xsell_dp_solve(s, NULL, &res->dp_revenue, &res->dp_profit, err);
    free(dec);
    return rc;
}

int oq_xsell_learn_run(const oq_xsell_sim *sim, const oq_xsell_rule *rules, size_t n_rules,
                       const oq_baskets *baskets, const oq_xsell_learn_config *c,
                       oq_xsell_learn_result **out, oq_error *err)
{
    *out = NULL;
    if (c->episodes < 1 || c->method < 0 || c->method >= OQ_XSELL_N_METHODS || c->knowledge < 0 ||
        c->knowledge > OQ_XSELL_KNOW_ALL ||
        (c->candidates != OQ_XSELL_CAND_ALL && c->candidates != OQ_XSELL_CAND_ROCK))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "bad learning configuration");
    if (c->candidates == OQ_XSELL_CAND_ROCK && !baskets)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "ROCK candidate sets need baskets (give the baskets, or use all "
                            "items as candidates)");
    oq_xsell_learn_result *res = calloc(1, sizeof *res);
    gsl_rng *r = NULL;
    oq_xsell_kb kb;
    if (!res) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    res->sim = *sim;
    res->method = c->method;
    res->knowledge = c->knowledge;
    res->episodes = c->episodes;
    res->n_rules = n_rules;
    res->learned_revenue = res->learned_profit = res->none_revenue = NAN;
    res->none_profit = res->dp_revenue = res->dp_profit = NAN;
    int rc = oq_xsell_sim_plant(&res->sim, rules, n_rules, err);
    if (!rc) rc = oq_xsell_kb_build(&res->sim.mdp, rules, n_rules, &kb, err);
    if (!rc) rc = oq_xsell_sim_check(&res->sim, err);
    if (!rc) rc = oq_xsell_qtable_new(&res->sim.mdp, &res->table, err);
    if (!rc && c->candidates == OQ_XSELL_CAND_ROCK)
        rc = oq_xsell_learn_candidates_rock(&res->sim.mdp, baskets, &c->rock, &res->cand, err);
    else if (!rc)
        oq_xsell_learn_candidates_all(&res->sim.mdp, &res->cand);
    if (rc) goto cleanup;
    r = oq_rng_new(c->seed, 0);
    if (!r) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, c->method);
    o.knowledge = c->knowledge;
    /* all items: no mask, so the loop is exactly the unrestricted one */
    o.cand = c->candidates == OQ_XSELL_CAND_ROCK ? res->cand.allow : NULL;
    oq_progress prog;
    oq_progress_start(&prog, "crosssell learn", (double)c->episodes, c->quiet);
    double sum = 0, sump = 0;
    for (long ep = 1; ep <= c->episodes; ep++) {
        oq_xsell_episode e;
        if ((rc = oq_xsell_learn_episode(res->table, &res->sim, &kb, &o, r, &e, err))) break;
        sum += e.revenue;
        sump += e.profit;
        if (ep % 256 == 0) oq_progress_update(&prog, (double)ep);
    }
    oq_progress_done(&prog);
    if (!rc) rc = oq_xsell_qtable_solve(res->table, err); /* W on every sample */
    if (rc) goto cleanup;
    res->mean_training_revenue = sum / (double)c->episodes;
    res->mean_training_profit = sump / (double)c->episodes;
    if (c->evaluate && oq_xsell_n_states(&res->sim.mdp) <= OQ_XSELL_LEARN_EVAL_MAX_STATES)
        rc = evaluate(res, err);
cleanup:
    gsl_rng_free(r);
    if (rc) {
        oq_xsell_learn_result_free(res);
        return rc;
    }
    *out = res;
    return 0;
}

/* ---- the dashboard summary ------------------------------------------------------ */

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

int oq_xsell_learn_summary_write(const oq_xsell_learn_result *r, const char *table_path,
                                 const char *path, oq_error *err)
{
    const oq_xsell_qtable *t = r->table;
    const oq_xsell_mdp *m = &r->sim.mdp;
    json_t *root = json_object(), *dec = json_array(), *its = json_array();
    int rc = 0;
    if (!root || !dec || !its) goto oom;
    long full[OQ_XSELL_MAX_ITEMS];
    for (int i = 0; i < m->n_items; i++)
        full[i] = (long)m->items[i].capacity;
    for (int i = 0; i < m->n_items; i++) {
        oq_xsell_offer o;
        json_t *row = json_object();
        if (!row || json_array_append_new(dec, row)) goto oom;
        if ((rc = oq_xsell_offer_lookup(t, m->items[i].name, full, (size_t)m->n_items, NULL, &o,
                                        err)) ||
            (rc = oq_xsell_offer_json(m, &o, row)))
            goto cleanup;
        json_t *it = json_pack("{s:s, s:f, s:f, s:i, s:f, s:i}", "item", m->items[i].name, "price",
                               m->items[i].price, "cost", m->items[i].cost, "capacity",
                               (int)m->items[i].capacity, "arrival", r->sim.arrival[i], "cluster",
                               r->cand.cluster[i]);
        if (!it || json_array_append_new(its, it)) goto oom;
    }
    json_t *disc = json_array();
    for (int k = 0; disc && k < m->n_disc; k++)
        json_array_append_new(disc, json_real(m->disc[k]));
    json_t *ev = json_pack(
        "{s:o, s:o, s:o, s:o, s:o, s:o}", "learned_revenue", num_or_null(r->learned_revenue),
        "learned_profit", num_or_null(r->learned_profit), "none_revenue",
        num_or_null(r->none_revenue), "none_profit", num_or_null(r->none_profit), "dp_revenue",
        num_or_null(r->dp_revenue), "dp_profit", num_or_null(r->dp_profit));
    if (json_object_set_new(root, "decisions", dec) || json_object_set_new(root, "items", its) ||
        json_object_set_new(root, "discounts", disc) ||
        json_object_set_new(root, "expected_per_season", ev)) {
        dec = its = NULL;
        goto oom;
    }
    dec = its = NULL;
    int rock = r->cand.n_baskets > 0;
    char know[64];
    oq_xsell_knowledge_format(oq_xsell_qtable_method(t) == OQ_XSELL_QLEARN ? 0 : r->knowledge, know,
                              sizeof know);
    json_t *info = json_pack(
        "{s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:f, s:s, s:s, s:i}", "table", table_path,
        "method", oq_xsell_method_name(r->method), "knowledge", know, "objective",
        oq_xsell_objective_name(m->objective), "episodes", (json_int_t)r->episodes, "rules_used",
        (json_int_t)r->n_rules, "entries", (json_int_t)oq_xsell_qtable_size(t), "survival",
        r->sim.survival, "mean_training_revenue", r->mean_training_revenue, "mean_training_profit",
        r->mean_training_profit, "decisions_at", "full stock", "candidates", rock ? "rock" : "all",
        "clusters", r->cand.n_clusters);
    if (!info || json_object_update_new(root, info)) goto oom;
    rc = oq_json_write_atomic(path, root, err);
    goto cleanup;
oom:
    rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
cleanup:
    json_decref(dec);
    json_decref(its);
    json_decref(root);
    return rc;
}
