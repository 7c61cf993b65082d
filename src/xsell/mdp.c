/* mdp.c - the event-driven cross-selling MDP: items, decisions, rewards of
 * the objective, the knowledge base of rules, and the Q-utility and
 * Boltzmann choice (9)-(14) as we read them (include/offerq/xsell/crosssell.h).
 * The table is in qtable.c, its factored model in kq.c, learning in
 * qlearn.c, the simulator in sim.c. */
#include "offerq/xsell/crosssell.h"
#include "util/utf8.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- the decision problem ------------------------------------------------ */

int oq_xsell_mdp_check(const oq_xsell_mdp *m, oq_error *err)
{
    if (m->n_items < 2 || m->n_items > OQ_XSELL_MAX_ITEMS)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "the number of items must be in [2, %d]",
                            OQ_XSELL_MAX_ITEMS);
    if (m->objective != OQ_XSELL_OBJ_REVENUE && m->objective != OQ_XSELL_OBJ_PROFIT)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "unknown objective %d", m->objective);
    if (m->n_disc < 1 || m->n_disc > OQ_XSELL_MAX_DISC)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the number of discount levels must be in [1, %d]", OQ_XSELL_MAX_DISC);
    for (int k = 0; k < m->n_disc; k++)
        if (!(m->disc[k] >= 0 && m->disc[k] < 1))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "discount level %d is %g: it must be in [0, 1)", k + 1, m->disc[k]);
    double log2s = 0;
    for (int i = 0; i < m->n_items; i++) {
        const oq_xsell_item *it = &m->items[i];
        size_t nl = strnlen(it->name, sizeof it->name);
        if (nl > OQ_XSELL_NAME_MAX || !oq_utf8_name_ok(it->name, nl))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "item %d: the name is not valid UTF-8 of at most %d bytes", i + 1,
                                OQ_XSELL_NAME_MAX);
        if (!(it->price > 0 && it->price <= OQ_XSELL_PRICE_MAX))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "item '%s': price must be in (0, %g]",
                                it->name, OQ_XSELL_PRICE_MAX);
        if (!(it->cost >= 0 && it->cost <= it->price))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "item '%s': cost must be in [0, price]",
                                it->name);
        if (it->capacity > 65535)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "item '%s': inventory must be <= 65535",
                                it->name);
        log2s += log2((double)it->capacity + 1);
    }
    /* keys are state * N + e in 64 bits; leave room for the event. */
    if (log2s > 56)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the inventory state space (2^%.1f states) is too large: use fewer "
                            "items or smaller inventories",
                            log2s);
    return 0;
}

int oq_xsell_n_decisions(const oq_xsell_mdp *m)
{
    return 1 + m->n_items * m->n_disc;
}

void oq_xsell_decision_decode(const oq_xsell_mdp *m, int d, int *item, int *level)
{
    if (d <= 0) {
        *item = -1;
        *level = -1;
        return;
    }
    *item = (d - 1) / m->n_disc;
    *level = (d - 1) % m->n_disc;
}

uint64_t oq_xsell_n_states(const oq_xsell_mdp *m)
{
    uint64_t s = 1;
    for (int i = 0; i < m->n_items; i++)
        s *= (uint64_t)m->items[i].capacity + 1;
    return s;
}

uint64_t oq_xsell_state_encode(const oq_xsell_mdp *m, const uint32_t *inv)
{
    uint64_t s = 0, stride = 1;
    for (int i = 0; i < m->n_items; i++) {
        s += (uint64_t)inv[i] * stride;
        stride *= (uint64_t)m->items[i].capacity + 1;
    }
    return s;
}

void oq_xsell_state_decode(const oq_xsell_mdp *m, uint64_t s, uint32_t *inv)
{
    for (int i = 0; i < m->n_items; i++) {
        uint64_t r = (uint64_t)m->items[i].capacity + 1;
        inv[i] = (uint32_t)(s % r);
        s /= r;
    }
}

double oq_xsell_addon_price(const oq_xsell_mdp *m, int j, int k)
{
    return (1.0 - m->disc[k]) * m->items[j].price;
}

int oq_xsell_objective_parse(const char *name)
{
    if (!strcmp(name, "revenue")) return OQ_XSELL_OBJ_REVENUE;
    if (!strcmp(name, "profit")) return OQ_XSELL_OBJ_PROFIT;
    return -1;
}

const char *oq_xsell_objective_name(int objective)
{
    return objective == OQ_XSELL_OBJ_PROFIT ? "profit" : "revenue";
}

double oq_xsell_reward_item(const oq_xsell_mdp *m, int e)
{
    const oq_xsell_item *it = &m->items[e];
    return m->objective == OQ_XSELL_OBJ_PROFIT ? it->price - it->cost : it->price;
}

double oq_xsell_reward_addon(const oq_xsell_mdp *m, int j, int k)
{
    double p = oq_xsell_addon_price(m, j, k);
    return m->objective == OQ_XSELL_OBJ_PROFIT ? p - m->items[j].cost : p;
}

double oq_xsell_objective_value(const oq_xsell_mdp *m, double revenue, double profit)
{
    return m->objective == OQ_XSELL_OBJ_PROFIT ? profit : revenue;
}

static const char *method_names[OQ_XSELL_N_METHODS] = {"kq", "qlearning", "kq-tabular"};

int oq_xsell_method_parse(const char *name)
{
    for (int i = 0; i < OQ_XSELL_N_METHODS; i++)
        if (!strcmp(name, method_names[i])) return i;
    return -1;
}

const char *oq_xsell_method_name(int method)
{
    return method >= 0 && method < OQ_XSELL_N_METHODS ? method_names[method] : "none";
}

/* The words of a knowledge list and their flags. */
static const struct {
    const char *word;
    int flags;
} know_words[] = {{"explore", OQ_XSELL_KNOW_EXPLORE}, {"prior", OQ_XSELL_KNOW_PRIOR},
                  {"prune", OQ_XSELL_KNOW_PRUNE},     {"none", 0},
                  {"all", OQ_XSELL_KNOW_ALL},         {"default", OQ_XSELL_KNOW_DEFAULT}};

int oq_xsell_knowledge_parse(const char *list)
{
    int flags = 0;
    const char *p = list;
    if (!*p) return -1;
    for (;;) {
        size_t n = strcspn(p, ",");
        int found = 0;
        for (size_t w = 0; w < sizeof know_words / sizeof *know_words; w++)
            if (strlen(know_words[w].word) == n && !strncmp(p, know_words[w].word, n)) {
                flags |= know_words[w].flags;
                found = 1;
            }
        if (!found) return -1;
        if (!p[n]) return flags;
        p += n + 1;
    }
}

void oq_xsell_knowledge_format(int flags, char *buf, size_t len)
{
    size_t at = 0;
    if (len) buf[0] = 0;
    for (int w = 0; w < 3; w++)
        if (flags & know_words[w].flags) {
            int k = snprintf(buf + at, at < len ? len - at : 0, "%s%s", at ? "," : "",
                             know_words[w].word);
            if (k > 0) at += (size_t)k;
        }
    if (!at) snprintf(buf, len, "none");
}

int oq_xsell_valid(const oq_xsell_mdp *m, const uint32_t *inv, int e, uint8_t *valid)
{
    int n = 1;
    valid[0] = 1;
    for (int j = 0; j < m->n_items; j++)
        for (int k = 0; k < m->n_disc; k++) {
            /* paper 4.2 rule 4: the discounted price never goes below cost */
            int ok = j != e && inv[j] > 0 && oq_xsell_addon_price(m, j, k) >= m->items[j].cost;
            valid[1 + j * m->n_disc + k] = (uint8_t)ok;
            n += ok;
        }
    return n;
}

int oq_xsell_kb_build(const oq_xsell_mdp *m, const oq_xsell_rule *rules, size_t n_rules,
                      oq_xsell_kb *kb, oq_error *err)
{
    memset(kb, 0, sizeof *kb);
    for (size_t r = 0; r < n_rules; r++) {
        const oq_xsell_rule *ru = &rules[r];
        if (ru->lhs_item >= (uint32_t)m->n_items || ru->rhs_item >= (uint32_t)m->n_items)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "rule %zu names item %u of %d", r + 1,
                                ru->lhs_item >= (uint32_t)m->n_items ? ru->lhs_item : ru->rhs_item,
                                m->n_items);
        if (!(ru->confidence >= 0 && ru->confidence <= 1))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "rule %zu: confidence %g is not in [0, 1]", r + 1, ru->confidence);
        if (ru->lhs_item == ru->rhs_item) continue;
        double *c =
            &(ru->negative ? kb->neg : kb->pos)[ru->lhs_item * OQ_XSELL_MAX_ITEMS + ru->rhs_item];
        if (ru->confidence > *c) *c = ru->confidence;
    }
    return 0;
}

/* ---- (9)-(14) ---------------------------------------------------------------- */

void oq_xsell_utility(const oq_xsell_mdp *m, int e, const double *q, const uint8_t *valid,
                      const oq_xsell_kb *kb, double *mu)
{
    int D = oq_xsell_n_decisions(m);
    double lo = INFINITY, hi = -INFINITY;
    for (int d = 0; d < D; d++)
        if (valid[d]) {
            if (q[d] < lo) lo = q[d];
            if (q[d] > hi) hi = q[d];
        }
    /* (9): min-max over the decision set; a flat set (a new state) is 1/2. */
    double span = hi - lo;
    int flat = !(span > 1e-12 * (fabs(hi) + fabs(lo) + 1e-300));
    for (int d = 0; d < D; d++)
        mu[d] = valid[d] ? (flat ? 0.5 : (q[d] - lo) / span) : 0.0;
    if (!kb) return;
    for (int d = 1; d < D; d++) {
        if (!valid[d]) continue;
        int j = (d - 1) / m->n_disc;
        double cp = kb->pos[e * OQ_XSELL_MAX_ITEMS + j];
        double cn = kb->neg[e * OQ_XSELL_MAX_ITEMS + j];
        if (cp > 0) mu[d] += cp * (1.0 - mu[d]); /* (10) */
        if (cn > 0) mu[d] *= 1.0 - cn;           /* (11) */
    }
}

int oq_xsell_boltzmann(const double *mu, const uint8_t *valid, int n, double tau, double *p)
{
    double mx = -INFINITY;
    int nv = 0;
    for (int i = 0; i < n; i++)
        if (!valid || valid[i]) {
            nv++;
            if (mu[i] > mx) mx = mu[i];
        }
    if (nv == 0) {
        for (int i = 0; i < n; i++)
            p[i] = 0;
        return 0;
    }
    double s = 0;
    if (isinf(tau)) {
        for (int i = 0; i < n; i++)
            p[i] = (!valid || valid[i]) ? 1.0 : 0.0;
        s = nv;
    } else if (!(tau > 1e-300)) {
        for (int i = 0; i < n; i++)
            p[i] = ((!valid || valid[i]) && mu[i] == mx) ? 1.0 : 0.0;
        for (int i = 0; i < n; i++)
            s += p[i];
    } else {
        /* (14), max-subtracted: every exponent is <= 0, the largest is 1. */
        for (int i = 0; i < n; i++) {
            p[i] = (!valid || valid[i]) ? exp((mu[i] - mx) / tau) : 0.0;
            s += p[i];
        }
    }
    for (int i = 0; i < n; i++)
        p[i] /= s;
    return nv;
}
