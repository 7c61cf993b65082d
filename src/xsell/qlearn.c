/* qlearn.c - learning seasons of the cross-selling table: K-Q-learning with
 * a factored Q (the default), and the tabular forms, plain Q-learning and
 * the paper's K-Q. Formulas: include/offerq/xsell/crosssell.h. */
#include "xsell_int.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

void oq_xsell_learn_opts_default(oq_xsell_learn_opts *o, int method)
{
    memset(o, 0, sizeof *o);
    o->method = method;
    o->knowledge = OQ_XSELL_KNOW_DEFAULT;
    o->tau0 = 0.5;
    o->tau_min = 0.02;
    o->eps0 = 1.0;
    o->eps_min = 0.05;
    o->kappa = 4.0;
    o->omega = 0.7;
    o->kq_kappa = 50.0;
    o->prior_n = 2.0;
    o->min_offers = 10.0;
    o->explore_z = 1.0;
}

static int sample(const double *p, int n, gsl_rng *r)
{
    double u = gsl_rng_uniform(r), c = 0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] <= 0) continue;
        c += p[i];
        last = i;
        if (u < c) return i;
    }
    return last;
}

/* Boltzmann exploration (9)-(14) over the Q values q of H (valid), with the
 * rules of kb (may be NULL) at temperature tau. */
static int choose_boltzmann(const oq_xsell_qtable *t, int e, const double *q, const uint8_t *valid,
                            double tau, const oq_xsell_kb *kb, gsl_rng *r)
{
    double mu[OQ_XSELL_MAX_DEC], p[OQ_XSELL_MAX_DEC], qq[OQ_XSELL_MAX_DEC];
    for (int d = 0; d < t->D; d++)
        qq[d] = valid[d] ? q[d] : 0; /* -INFINITY outside H must not reach (9) */
    oq_xsell_utility(&t->mdp, e, qq, valid, kb, mu);
    oq_xsell_boltzmann(mu, valid, t->D, tau, p);
    return sample(p, t->D, r);
}

/* Exploring choice of the tabular methods: K-Q (14) or epsilon-greedy. */
static int choose_tabular(const oq_xsell_qtable *t, int e, const double *q, const uint8_t *valid,
                          uint32_t visits, const oq_xsell_kb *kb, const oq_xsell_learn_opts *o,
                          gsl_rng *r)
{
    int D = t->D;
    double frac = o->kappa / (o->kappa + (double)visits);
    if (o->method == OQ_XSELL_KQ_TABULAR)
        return choose_boltzmann(t, e, q, valid, o->tau_min + (o->tau0 - o->tau_min) * frac, kb, r);
    double eps = o->eps_min + (o->eps0 - o->eps_min) * frac;
    int cand[OQ_XSELL_MAX_DEC], nc = 0;
    if (gsl_rng_uniform(r) < eps) {
        for (int d = 0; d < D; d++)
            if (valid[d]) cand[nc++] = d;
    } else {
        /* greedy; ties (a new state: all Q = 0) broken at random, the same as
         * the paper's random initialisation with a vanishing spread */
        double best = -INFINITY;
        for (int d = 0; d < D; d++) {
            if (!valid[d]) continue;
            if (q[d] > best) {
                best = q[d];
                nc = 0;
            }
            if (q[d] == best) cand[nc++] = d;
        }
    }
    return cand[nc > 1 ? (int)gsl_rng_uniform_int(r, (unsigned long)nc) : 0];
}

/* argmax over the valid decisions, first index on ties (none first). */
static int argmax_valid(const double *q, const uint8_t *valid, int D)
{
    int best = 0;
    for (int d = 1; d < D; d++)
        if (valid[d] && q[d] > q[best]) best = d;
    return best;
}

/* (15) for the pending decision: Q += alpha_m (target - Q). */
static void update(oq_xsell_qtable *t, uint64_t key, int d, double target, double omega)
{
    size_t h = xs_slot(t, key);
    double *q = t->q + h * (size_t)t->D + d;
    uint32_t *c = t->cnt + h * (size_t)t->D + d;
    *q += pow(1.0 + *c, -omega) * (target - *q);
    (*c)++;
}

/* Sum of lambda over the items in stock. */
static double in_stock_rate(const oq_xsell_sim *s, const uint32_t *inv)
{
    double l = 0;
    for (int i = 0; i < s->mdp.n_items; i++)
        if (inv[i] > 0) l += s->arrival[i];
    return l;
}

/* The first season of a table: its method, candidate mask and, for the
 * factored model, the knowledge it starts from. */
static int first_episode(oq_xsell_qtable *t, const oq_xsell_kb *kb, const oq_xsell_learn_opts *o,
                         oq_error *err)
{
    int N = t->mdp.n_items, K = t->mdp.n_disc, D = t->D;
    if (t->n != 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "the table is not empty");
    t->method = o->method;
    t->knowledge = o->method == OQ_XSELL_QLEARN       ? 0
                   : o->method == OQ_XSELL_KQ_TABULAR ? OQ_XSELL_KNOW_EXPLORE
                                                      : o->knowledge;
    if (!kb) t->knowledge = 0;
    for (int e = 0; e < N; e++)
        for (int j = 0; j < N; j++) {
            int ok = j != e && (!o->cand || o->cand[e * N + j]);
            if (t->method == OQ_XSELL_KQ && kb && (t->knowledge & OQ_XSELL_KNOW_PRUNE) &&
                kb->neg[e * OQ_XSELL_MAX_ITEMS + j] > 0)
                ok = 0; /* action pruning: a negative rule removes the bundle */
            t->allow[e * N + j] = (uint8_t)ok;
        }
    if (t->method != OQ_XSELL_KQ) return 0;
    /* the factored table: its own slabs (counts and discount sums), the
     * value features, and the acceptance prior */
    free(t->keys);
    free(t->visits);
    free(t->cnt);
    free(t->q);
    t->keys = NULL;
    t->visits = NULL;
    t->cnt = NULL;
    t->q = NULL;
    if (xs_alloc(t, 1024, 1) || kq_init(t))
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    t->prior_n = o->prior_n > 0 ? o->prior_n : 2.0;
    t->min_offers = o->min_offers >= 0 ? o->min_offers : 10.0;
    for (int e = 0; e < N; e++)
        for (int d = 0; d < D; d++) {
            double mean = 0.5; /* Beta(1, 1) with 2 pseudo-offers: nothing known */
            if (d > 0 && kb && (t->knowledge & OQ_XSELL_KNOW_PRIOR)) {
                int j = (d - 1) / K;
                double cp = kb->pos[e * OQ_XSELL_MAX_ITEMS + j];
                double cn = kb->neg[e * OQ_XSELL_MAX_ITEMS + j];
                if (cp > 0) mean = cp;     /* P(j | e) of the baskets */
                if (cn > 0) mean = 1 - cn; /* conf(e => not j) = 1 - conf(e => j) */
            }
            t->prior_m[e * D + d] = mean;
            t->acc_n[e * D + d] = t->acc_y[e * D + d] = 0;
        }
    t->next_solve = 1;
    return 0;
}

/* One season of a tabular method (the loop of the paper's K-Q). */
static int tabular_episode(oq_xsell_qtable *t, const oq_xsell_sim *s, const oq_xsell_kb *kb,
                           const oq_xsell_learn_opts *o, gsl_rng *r, oq_xsell_episode *out,
                           oq_error *err)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, D = t->D;
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    long stock = 0;
    for (int i = 0; i < N; i++) {
        inv[i] = m->items[i].capacity;
        stock += inv[i];
    }
    oq_xsell_episode ep = {0};
    /* The pending decision waits for the next decision epoch (s', e'), k
     * periods later: target = r + gamma^k max_H Q(s', e', .). The season's end
     * is replaced by its expectation gamma^k (the same fixed point, far less
     * variance than a target that drops to r when the season happens to
     * end); at the end of the season we look ahead to the next epoch. */
    int pending = 0, pend_d = 0, season_over = 0;
    uint64_t pend_key = 0;
    double pend_r = 0, disc = 1;
    while (stock > 0 && in_stock_rate(s, inv) > 0) {
        if (!season_over) ep.periods++;
        disc *= s->survival;
        int e = oq_xsell_sim_arrival(s, r);
        if (e >= 0 && inv[e] > 0) {
            uint64_t key = oq_xsell_state_encode(m, inv) * (uint64_t)N + (uint64_t)e;
            int created;
            size_t h = xs_upsert(t, key, &created);
            if (h == (size_t)-1) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
            xs_valid(t, inv, e, valid);
            double *q = t->q + h * (size_t)D;
            (void)created; /* a new entry starts at Q = 0, visits 0 */
            if (pending)
                update(t, pend_key, pend_d, pend_r + disc * q[argmax_valid(q, valid, D)], o->omega);
            pending = 0;
            if (season_over) break;
            ep.requests++;
            int d = choose_tabular(t, e, q, valid, t->visits[h], kb, o, r);
            if (d < 0 || d >= D || !valid[d]) d = 0; /* never outside H, whatever Q holds */
            t->visits[h]++;
            double rev = m->items[e].price, prof = rev - m->items[e].cost;
            inv[e]--;
            stock--;
            if (d > 0) {
                ep.offers++;
                int j = (d - 1) / m->n_disc, k = (d - 1) % m->n_disc;
                if (gsl_rng_uniform(r) < oq_xsell_accept_prob(s, e, d)) {
                    double pj = oq_xsell_addon_price(m, j, k);
                    rev += pj;
                    prof += pj - m->items[j].cost;
                    inv[j]--;
                    stock--;
                    ep.bundles_sold++;
                }
            }
            ep.revenue += rev;
            ep.profit += prof;
            pending = 1;
            pend_key = key;
            pend_d = d;
            pend_r = oq_xsell_objective_value(m, rev, prof);
            disc = 1;
        }
        if (!season_over && gsl_rng_uniform(r) >= s->survival) {
            season_over = 1;
            if (!pending) break;
        }
    }
    if (pending) update(t, pend_key, pend_d, pend_r, o->omega); /* nothing left to sell */
    if (out) *out = ep;
    return 0;
}

/* One season of the factored K-Q: every decision epoch (x, e) reached k
 * periods after the post-decision inventory x is a sample of W(x) with
 * discount gamma^k (kept as visits and a discount sum per entry); the
 * acceptance counts grow with every offer; W is re-fitted on schedule. */
static int kq_episode(oq_xsell_qtable *t, const oq_xsell_sim *s, const oq_xsell_kb *kb,
                      const oq_xsell_learn_opts *o, gsl_rng *r, oq_xsell_episode *out,
                      oq_error *err)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, D = t->D;
    const oq_xsell_kb *ekb = (t->knowledge & OQ_XSELL_KNOW_EXPLORE) ? kb : NULL;
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    double q[OQ_XSELL_MAX_DEC];
    long stock = 0;
    for (int i = 0; i < N; i++) {
        inv[i] = m->items[i].capacity;
        stock += inv[i];
    }
    oq_xsell_episode ep = {0};
    /* As in the tabular loop, the season's end is replaced by its
     * expectation: the sample of the last post-decision inventory looks
     * ahead to the next epoch with its discount gamma^k. */
    int season_over = 0;
    double disc = 1;
    while (stock > 0 && in_stock_rate(s, inv) > 0) {
        if (!season_over) ep.periods++;
        disc *= s->survival;
        int e = oq_xsell_sim_arrival(s, r);
        if (e >= 0 && inv[e] > 0) {
            uint64_t key = oq_xsell_state_encode(m, inv) * (uint64_t)N + (uint64_t)e;
            int created;
            size_t h = xs_upsert(t, key, &created);
            if (h == (size_t)-1) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
            t->visits[h]++;
            t->g[h] += disc;
            if (season_over) break;
            ep.requests++;
            xs_valid(t, inv, e, valid);
            kq_qvalues_explore(t, inv, e, valid, o->explore_z, q); /* optimism */
            double frac = o->kq_kappa / (o->kq_kappa + t->req[e]);
            t->req[e] += 1;
            int d = choose_boltzmann(t, e, q, valid, o->tau_min + (o->tau0 - o->tau_min) * frac,
                                     ekb, r);
            if (d < 0 || d >= D || !valid[d]) d = 0;
            t->cnt[h * (size_t)D + (size_t)d]++;
            double rev = m->items[e].price, prof = rev - m->items[e].cost;
            inv[e]--;
            stock--;
            if (d > 0) {
                ep.offers++;
                int j = (d - 1) / m->n_disc, k = (d - 1) % m->n_disc;
                int taken = gsl_rng_uniform(r) < oq_xsell_accept_prob(s, e, d);
                t->acc_n[e * D + d] += 1;
                t->acc_y[e * D + d] += taken;
                if (taken) {
                    double pj = oq_xsell_addon_price(m, j, k);
                    rev += pj;
                    prof += pj - m->items[j].cost;
                    inv[j]--;
                    stock--;
                    ep.bundles_sold++;
                }
            }
            ep.revenue += rev;
            ep.profit += prof;
            disc = 1;
        }
        if (!season_over && gsl_rng_uniform(r) >= s->survival) season_over = 1;
    }
    if (out) *out = ep;
    return 0;
}

int oq_xsell_learn_episode(oq_xsell_qtable *t, const oq_xsell_sim *s, const oq_xsell_kb *kb,
                           const oq_xsell_learn_opts *o, gsl_rng *r, oq_xsell_episode *out,
                           oq_error *err)
{
    if (o->method < 0 || o->method >= OQ_XSELL_N_METHODS)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "unknown learning method %d", o->method);
    if (s->mdp.objective != t->mdp.objective)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the simulator's objective differs from the table's");
    if (t->method < 0) {
        int rc = first_episode(t, kb, o, err);
        if (rc) return rc;
    } else if (t->method != o->method) {
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the table learned with %s, this season asks for %s",
                            oq_xsell_method_name(t->method), oq_xsell_method_name(o->method));
    }
    int rc = t->method == OQ_XSELL_KQ ? kq_episode(t, s, kb, o, r, out, err)
                                      : tabular_episode(t, s, kb, o, r, out, err);
    if (rc) return rc;
    t->episodes++;
    /* the factored table's fit: after each of the first 16 seasons, then
     * whenever the seasons have grown by a tenth */
    if (t->method == OQ_XSELL_KQ && t->episodes >= t->next_solve) {
        rc = kq_solve(t, err);
        long nx = t->episodes + 1;
        if (t->episodes >= 16) nx = (long)ceil((double)t->episodes * 1.1);
        t->next_solve = nx;
    }
    return rc;
}
