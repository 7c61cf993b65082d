/* src/xsell/sim.c - the transaction simulator of the paper's section 4.2, the
 * exact evaluation of a policy, baselines and the optimum by dynamic
 * programming over the inventory states. The model is written out in
 * include/offerq/xsell/crosssell.h. */
#include "offerq/xsell/crosssell.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oq_xsell_sim_default(oq_xsell_sim *s)
{
    memset(s, 0, sizeof *s);
    oq_xsell_mdp *m = &s->mdp;
    static const double price[5] = {40, 25, 60, 15, 30};
    static const double cost[5] = {22, 15, 39, 7.5, 21.6}; /* 55%..72% of the price */
    static const double lambda[5] = {0.15, 0.12, 0.10, 0.13, 0.10};
    m->n_items = 5;
    for (int i = 0; i < 5; i++) {
        snprintf(m->items[i].name, sizeof m->items[i].name, "item%d", i + 1);
        m->items[i].price = price[i];
        m->items[i].cost = cost[i];
        m->items[i].capacity = 10;
        s->arrival[i] = lambda[i];
    }
    m->n_disc = 4;
    for (int k = 0; k < 4; k++)
        m->disc[k] = 0.1 * k;
    m->objective = OQ_XSELL_OBJ_PROFIT;
    s->survival = 0.98;
    s->rho_lo = 0.5;
    s->rho_hi = 1.1;
    s->base_interest = 0.05;
    for (int i = 0; i < OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS; i++)
        s->interest[i] = s->base_interest;
}

int oq_xsell_sim_check(const oq_xsell_sim *s, oq_error *err)
{
    int rc = oq_xsell_mdp_check(&s->mdp, err);
    if (rc) return rc;
    double sum = 0;
    for (int i = 0; i < s->mdp.n_items; i++) {
        if (!(s->arrival[i] >= 0 && s->arrival[i] <= 1))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "arrival probability of '%s' not in [0, 1]", s->mdp.items[i].name);
        sum += s->arrival[i];
    }
    if (sum > 1 + 1e-12)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "arrival probabilities sum to %g: at most one buyer per period means "
                            "the sum must be <= 1",
                            sum);
    if (!(s->survival > 0 && s->survival < 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "survival must be in (0, 1)");
    if (!(s->rho_lo >= 0 && s->rho_hi > s->rho_lo))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "reservation prices need 0 <= rho_lo < rho_hi");
    for (int i = 0; i < s->mdp.n_items; i++)
        for (int j = 0; j < s->mdp.n_items; j++) {
            double p = s->interest[i * OQ_XSELL_MAX_ITEMS + j];
            if (!(p >= 0 && p <= 1))
                return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "interest (%d, %d) not in [0, 1]",
                                    i, j);
        }
    return 0;
}

int oq_xsell_sim_plant(oq_xsell_sim *s, const oq_xsell_rule *rules, size_t n_rules, oq_error *err)
{
    oq_xsell_kb kb;
    int rc = oq_xsell_kb_build(&s->mdp, rules, n_rules, &kb, err);
    if (rc) return rc;
    for (int i = 0; i < OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS; i++) {
        double v = s->base_interest;
        if (kb.pos[i] > 0) v = kb.pos[i];
        if (kb.neg[i] > 0) v *= 1.0 - kb.neg[i];
        s->interest[i] = v;
    }
    return 0;
}

double oq_xsell_accept_prob(const oq_xsell_sim *s, int e, int d)
{
    if (d <= 0) return 0;
    int j = (d - 1) / s->mdp.n_disc, k = (d - 1) % s->mdp.n_disc;
    /* P(R_j >= (1 - delta_k) p_j), R_j / p_j ~ U[rho_lo, rho_hi] */
    double f = (s->rho_hi - (1.0 - s->mdp.disc[k])) / (s->rho_hi - s->rho_lo);
    if (f < 0) f = 0;
    if (f > 1) f = 1;
    return s->interest[e * OQ_XSELL_MAX_ITEMS + j] * f;
}

int oq_xsell_sim_arrival(const oq_xsell_sim *s, gsl_rng *r)
{
    double u = gsl_rng_uniform(r), c = 0;
    for (int i = 0; i < s->mdp.n_items; i++) {
        c += s->arrival[i];
        if (u < c) return i;
    }
    return -1;
}

void oq_xsell_sim_episode(const oq_xsell_sim *s, oq_xsell_policy_fn fn, void *ctx, gsl_rng *r,
                          oq_xsell_episode *out)
{
    const oq_xsell_mdp *m = &s->mdp;
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    long stock = 0;
    for (int i = 0; i < m->n_items; i++) {
        inv[i] = m->items[i].capacity;
        stock += inv[i];
    }
    memset(out, 0, sizeof *out);
    while (stock > 0) {
        out->periods++;
        int e = oq_xsell_sim_arrival(s, r);
        if (e >= 0 && inv[e] > 0) {
            out->requests++;
            oq_xsell_valid(m, inv, e, valid);
            int d = fn ? fn(ctx, inv, e, valid, r) : 0;
            if (d < 0 || d >= oq_xsell_n_decisions(m) || !valid[d]) d = 0; /* never out of H */
            out->revenue += m->items[e].price;
            out->profit += m->items[e].price - m->items[e].cost;
            inv[e]--;
            stock--;
            if (d > 0) {
                out->offers++;
                int j = (d - 1) / m->n_disc, k = (d - 1) % m->n_disc;
                if (gsl_rng_uniform(r) < oq_xsell_accept_prob(s, e, d)) {
                    double pj = oq_xsell_addon_price(m, j, k);
                    out->revenue += pj;
                    out->profit += pj - m->items[j].cost;
                    inv[j]--;
                    stock--;
                    out->bundles_sold++;
                }
            }
        }
        if (gsl_rng_uniform(r) >= s->survival) break;
    }
}

/* Visit every state index in order with its inventory vector: fn(s, inv). */
static void next_inv(const oq_xsell_mdp *m, uint32_t *inv)
{
    for (int i = 0; i < m->n_items; i++) {
        if (inv[i] < m->items[i].capacity) {
            inv[i]++;
            return;
        }
        inv[i] = 0;
    }
}

void oq_xsell_policy_none(const oq_xsell_mdp *m, uint8_t *dec)
{
    memset(dec, 0, oq_xsell_n_states(m) * (size_t)m->n_items);
}

void oq_xsell_policy_static(const oq_xsell_mdp *m, const oq_xsell_kb *kb, int level, uint8_t *dec)
{
    int N = m->n_items;
    uint64_t S = oq_xsell_n_states(m);
    int partner[OQ_XSELL_MAX_ITEMS];
    for (int i = 0; i < N; i++) {
        partner[i] = -1;
        double best = 0;
        for (int j = 0; j < N; j++)
            if (j != i && kb->pos[i * OQ_XSELL_MAX_ITEMS + j] > best) {
                best = kb->pos[i * OQ_XSELL_MAX_ITEMS + j];
                partner[i] = j;
            }
        if (partner[i] >= 0 &&
            oq_xsell_addon_price(m, partner[i], level) < m->items[partner[i]].cost)
            partner[i] = -1; /* the fixed discount would sell below cost */
    }
    uint32_t inv[OQ_XSELL_MAX_ITEMS] = {0};
    for (uint64_t s = 0; s < S; s++, next_inv(m, inv))
        for (int e = 0; e < N; e++) {
            int j = partner[e];
            dec[s * (uint64_t)N + (uint64_t)e] =
                (uint8_t)((j >= 0 && inv[e] > 0 && inv[j] > 0) ? 1 + j * m->n_disc + level : 0);
        }
}

/* The exact pass shared by evaluation (dec given) and DP (dec chosen).
 * V(x) = [sum_{e: x_e > 0} lambda_e (r + gamma E V(x'))] / (1 - gamma (1 - Lambda(x))),
 * Lambda(x) = sum_{e: x_e > 0} lambda_e: a period with no sale leaves x as it
 * is, so the self-loop is summed as a geometric series. Revenue (V) and
 * profit (P) are carried together; the DP maximises the mdp's objective. */
static int sweep(const oq_xsell_sim *s, uint8_t *dec, int optimise, double *revenue, double *profit,
                 oq_error *err)
{
    const oq_xsell_mdp *m = &s->mdp;
    int N = m->n_items, D = oq_xsell_n_decisions(m), K = m->n_disc;
    uint64_t S = oq_xsell_n_states(m);
    if (S > OQ_XSELL_DP_MAX_STATES)
        return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0,
                            "%llu inventory states: exact evaluation is limited to %llu",
                            (unsigned long long)S, (unsigned long long)OQ_XSELL_DP_MAX_STATES);
    double *V = malloc(S * sizeof *V), *P = malloc(S * sizeof *P); /* (S) revenue, profit */
    double *acc = malloc((size_t)N * (size_t)D * sizeof *acc);     /* (N, D) a(e, d) */
    if (!V || !P || !acc) {
        free(V);
        free(P);
        free(acc);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory (%llu states)",
                            (unsigned long long)S);
    }
    for (int e = 0; e < N; e++)
        for (int d = 0; d < D; d++)
            acc[e * D + d] = oq_xsell_accept_prob(s, e, d);
    uint64_t stride[OQ_XSELL_MAX_ITEMS];
    stride[0] = 1;
    for (int i = 1; i < N; i++)
        stride[i] = stride[i - 1] * ((uint64_t)m->items[i - 1].capacity + 1);
    double g = s->survival;
    int prof_obj = m->objective == OQ_XSELL_OBJ_PROFIT;
    uint32_t inv[OQ_XSELL_MAX_ITEMS] = {0};
    for (uint64_t x = 0; x < S; x++, next_inv(m, inv)) {
        double nv = 0, np = 0, lam = 0;
        for (int e = 0; e < N; e++) {
            if (inv[e] == 0 || s->arrival[e] <= 0) continue;
            const oq_xsell_item *ie = &m->items[e];
            uint64_t x1 = x - stride[e];
            lam += s->arrival[e];
            /* none: sell e only */
            double best_v = ie->price + g * V[x1], best_p = ie->price - ie->cost + g * P[x1];
            double best_o = prof_obj ? best_p : best_v;
            int best_d = 0;
            int d0 = optimise ? 1 : dec[x * (uint64_t)N + (uint64_t)e];
            int d1 = optimise ? D : d0 + 1;
            for (int d = d0 > 0 ? d0 : 1; d < d1; d++) {
                int j = (d - 1) / K, k = (d - 1) % K;
                double pj = oq_xsell_addon_price(m, j, k);
                if (j == e || inv[j] == 0 || pj < m->items[j].cost) continue; /* not in H */
                double a = acc[e * D + d];
                uint64_t x2 = x1 - stride[j];
                double v = ie->price + a * pj + g * (a * V[x2] + (1 - a) * V[x1]);
                double p = ie->price - ie->cost + a * (pj - m->items[j].cost) +
                           g * (a * P[x2] + (1 - a) * P[x1]);
                double o = prof_obj ? p : v;
                if (!optimise || o > best_o) {
                    best_v = v;
                    best_p = p;
                    best_o = o;
                    best_d = d;
                }
            }
            if (optimise) dec[x * (uint64_t)N + (uint64_t)e] = (uint8_t)best_d;
            nv += s->arrival[e] * best_v;
            np += s->arrival[e] * best_p;
        }
        double den = 1.0 - g * (1.0 - lam);
        V[x] = nv / den;
        P[x] = np / den;
    }
    if (revenue) *revenue = V[S - 1];
    if (profit) *profit = P[S - 1];
    free(V);
    free(P);
    free(acc);
    return 0;
}

int oq_xsell_evaluate(const oq_xsell_sim *s, const uint8_t *dec, double *revenue, double *profit,
                      oq_error *err)
{
    return sweep(s, (uint8_t *)dec, 0, revenue, profit, err); /* dec is only read */
}

int oq_xsell_dp_solve(const oq_xsell_sim *s, uint8_t **dec_out, double *revenue, double *profit,
                      oq_error *err)
{
    if (dec_out) *dec_out = NULL;
    uint64_t S = oq_xsell_n_states(&s->mdp);
    if (S > OQ_XSELL_DP_MAX_STATES)
        return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0,
                            "%llu inventory states: the DP is limited to %llu",
                            (unsigned long long)S, (unsigned long long)OQ_XSELL_DP_MAX_STATES);
    uint8_t *dec = calloc(S, (size_t)s->mdp.n_items);
    if (!dec) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = sweep(s, dec, 1, revenue, profit, err);
    if (rc || !dec_out)
        free(dec);
    else
        *dec_out = dec;
    return rc;
}
