/* crosssell.h - dynamic cross-selling: the event-driven MDP, K-Q-learning,
 * the transaction simulator of the paper's section 4.2, baselines and the
 * dynamic-programming optimum.
 *
 * Paper: "电子商务中基于Q学习的动态交叉销售方法" (Dynamic cross-selling in
 * e-commerce based on Q-learning), 管理科学学报 2008 (3) 106-113. Its
 * equations (9)-(15) and the simulator's parameter list were lost in the text
 * we have; what follows is OUR READING, stated once here and cited as
 * "(9)" .. "(15)" in the code.
 *
 * The MDP (paper section 1; docs/readme/crosssell.md)
 *   - N items (N <= OQ_XSELL_MAX_ITEMS), item i has list price p_i, unit cost
 *     c_i and a capacity M_i (the initial inventory).
 *   - State s = inventory vector x = (x_1..x_N), 0 <= x_i <= M_i, encoded in
 *     mixed radix: s = sum_i x_i * stride_i, stride_0 = 1,
 *     stride_{i+1} = stride_i * (M_i + 1).
 *   - Time runs in periods with at most one buyer each. A buyer requests item
 *     i with probability lambda_i (sum lambda <= 1). The request of an item in
 *     stock is the event e = i; the buyer buys i at p_i.
 *   - Decision d = (j, k): also offer item j != i at discount level delta_k
 *     (a bundle: the buyer pays p_i + (1 - delta_k) p_j), or d = none.
 *     Index: d = 0 is none, d = 1 + j*K + k. Decisions bundling an item that
 *     is out of stock (x_j = 0), the requested item itself, or pricing j below
 *     its cost ((1 - delta_k) p_j < c_j, paper 4.2 rule 4) are not in the
 *     decision set H(s, e) and are never chosen.
 *   - The season ends after each period with probability 1 - gamma (gamma =
 *     "survival"): the horizon is geometric with mean 1/(1 - gamma) periods,
 *     so the inventory is a sufficient state (the paper's T split in periods,
 *     made stationary; see docs/readme/crosssell.md) and the undiscounted
 *     expected revenue of a season is exactly the discounted MDP value.
 *
 * K-Q-learning (paper section 3.3, our reading of (9)-(15))
 *   (9)  mu(s,e,d) = (Q(s,e,d) - min_H Q) / (max_H Q - min_H Q), d in H(s,e);
 *        mu = 1/2 for all d when max_H Q = min_H Q (e.g. a new state).
 *   (10) positive rule e => j with confidence c+: mu <- mu + c+ (1 - mu) for
 *        every decision bundling j (raised towards 1).
 *   (11) negative rule e => not j with confidence c-: mu <- mu (1 - c-)
 *        (lowered towards 0). (12) both apply in turn when both exist;
 *        (13) the decision none is not changed by rules.
 *   (14) P(d) = exp((mu_d - max mu) / tau) / sum_{d' in H} exp((mu_d' - max mu) / tau)
 *        (Boltzmann / softmax, max-subtracted so it never overflows), with
 *        tau(n) = tau_min + (tau_0 - tau_min) * kappa / (kappa + n), n the
 *        number of earlier visits of (s, e).
 *   (15) Q(s,e,d) <- Q + alpha_m [r + max_{d' in H(s',e')} Q(s',e',d') - Q],
 *        r = revenue of the period, (s', e') the next decision epoch (the
 *        next period with a request for an item in stock), the max term 0
 *        when the season ends first; alpha_m = (1 + m)^-omega, m the number
 *        of earlier updates of (s, e, d) (Even-Dar & Mansour polynomial
 *        step; a known pitfall: a constant alpha only reaches a neighbourhood).
 *   Plain Q-learning (the baseline): the same update, epsilon-greedy on Q
 *   with epsilon(n) = eps_min + (eps_0 - eps_min) * kappa / (kappa + n), no
 *   rules.
 *   The learned table answers argmax_{d in H} Q(s, e, d) (paper 3.3); a
 *   state/event never visited in training answers none.
 *
 * The simulator (paper 4.2; the parameter list after F(p_i) was lost)
 *   - Reservation price of a buyer for an add-on j: R_j = p_j * U,
 *     U ~ Uniform[rho_lo, rho_hi] (F(p_j)).
 *   - Interest pi_ij in the add-on j when buying i: the planted positive
 *     rule's confidence c+ if i => j is planted, base * (1 - c-) for a planted
 *     negative rule i => not j, base otherwise (base = base_interest, small:
 *     without an association a buyer rarely wants the add-on).
 *   - The buyer accepts the bundle with probability
 *     a(i, j, k) = pi_ij * P(R_j >= (1 - delta_k) p_j).
 *   - Revenue of a period: p_i (+ (1 - delta_k) p_j if accepted); profit:
 *     revenue minus the costs of the units sold.
 *
 * Ownership: whoever allocates frees; oq_xsell_qtable_free and
 * oq_xsell_dp_free are NULL-safe. No function keeps a pointer to its
 * arguments except where stated.
 */
#ifndef OFFERQ_CROSSSELL_H
#define OFFERQ_CROSSSELL_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "offerq/core/error.h"

#define OQ_XSELL_MAX_ITEMS 16
#define OQ_XSELL_MAX_DISC 8
#define OQ_XSELL_NAME_MAX 63
/* Largest list price (and so cost) an item may have: revenues of a season
 * (at most 16 x 65535 units) then stay far from overflow, so Q values are
 * always finite. Readers and oq_xsell_mdp_check refuse more. */
#define OQ_XSELL_PRICE_MAX 1e9
#define OQ_XSELL_MAX_DEC (1 + OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_DISC)
/* Largest dense state space the DP and the exact policy evaluation accept. */
#define OQ_XSELL_DP_MAX_STATES 20000000ull

/* ---- the decision problem ------------------------------------------------ */

typedef struct oq_xsell_item {
    char name[OQ_XSELL_NAME_MAX + 1];
    double price;      /* list price p_i in (0, OQ_XSELL_PRICE_MAX] */
    double cost;       /* unit cost 0 <= c_i <= p_i */
    uint32_t capacity; /* M_i: initial (and largest) inventory, <= 65535 */
} oq_xsell_item;

typedef struct oq_xsell_mdp {
    int n_items; /* N in [2, OQ_XSELL_MAX_ITEMS] */
    oq_xsell_item items[OQ_XSELL_MAX_ITEMS];
    int n_disc;                     /* K in [1, OQ_XSELL_MAX_DISC] */
    double disc[OQ_XSELL_MAX_DISC]; /* delta_k in [0, 1) */
} oq_xsell_mdp;

/* A single-item association rule lhs => rhs (negative: lhs => not rhs), as
 * mined by `offerq rules` or planted by the simulator. Items are indices
 * into oq_xsell_mdp.items. */
typedef struct oq_xsell_rule {
    uint32_t lhs_item, rhs_item;
    double confidence; /* in [0, 1] */
    int negative;      /* 0: lhs => rhs, 1: lhs => not rhs */
} oq_xsell_rule;

/* Rules indexed by (lhs, rhs): the knowledge base of K-Q-learning. */
typedef struct oq_xsell_kb {
    double pos[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS]; /* (N, N) c+, 0 if none */
    double neg[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS]; /* (N, N) c-, 0 if none */
} oq_xsell_kb;

/* Check sizes, prices (finite, in (0, OQ_XSELL_PRICE_MAX]), costs,
 * discounts, names (valid UTF-8 without control characters) and that the
 * state space fits in 2^56. OQ_EINVAL with a message on failure. */
int oq_xsell_mdp_check(const oq_xsell_mdp *m, oq_error *err) OQ_WUR;
/* Number of decisions D = 1 + N*K (index layout in the file comment). */
int oq_xsell_n_decisions(const oq_xsell_mdp *m);
/* Decision d -> bundle item (-1 for none) and discount level (-1 for none). */
void oq_xsell_decision_decode(const oq_xsell_mdp *m, int d, int *item, int *level);
/* Number of inventory states prod (M_i + 1). */
uint64_t oq_xsell_n_states(const oq_xsell_mdp *m);
/* Mixed-radix state index of inv (N counts, each <= capacity; not checked). */
uint64_t oq_xsell_state_encode(const oq_xsell_mdp *m, const uint32_t *inv);
void oq_xsell_state_decode(const oq_xsell_mdp *m, uint64_t s, uint32_t *inv /* OUT: (N) */);
/* Price the buyer pays for add-on j at level k: (1 - delta_k) p_j. */
double oq_xsell_addon_price(const oq_xsell_mdp *m, int j, int k);
/* Fill valid[0..D) with 1 for the decisions in H(inv, e) (none always);
 * returns |H|. e must be an item with inv[e] > 0. */
int oq_xsell_valid(const oq_xsell_mdp *m, const uint32_t *inv, int e, uint8_t *valid);

/* Knowledge base from rules (the largest confidence wins when a pair repeats;
 * rules with lhs == rhs are ignored). OQ_EINVAL for an item index out of
 * range or a confidence outside [0, 1]. */
int oq_xsell_kb_build(const oq_xsell_mdp *m, const oq_xsell_rule *rules, size_t n_rules,
                      oq_xsell_kb *kb, oq_error *err) OQ_WUR;

/* (9)-(13): Q-utility of the D decisions of event e. q (D) the Q values,
 * valid (D) the decision set, kb may be NULL (no rules). mu (D) OUT; mu of
 * an invalid decision is set to 0 and must not be used. */
void oq_xsell_utility(const oq_xsell_mdp *m, int e, const double *q, const uint8_t *valid,
                      const oq_xsell_kb *kb, double *mu);
/* (14): Boltzmann probabilities p (n) OUT over the entries with valid[i]
 * (valid may be NULL: all). tau > 0; tau = 0 (or below 1e-300) gives the
 * argmax (ties shared equally); tau = +inf gives the uniform distribution.
 * Invalid entries get 0. Returns the number of valid entries (0: p all 0). */
int oq_xsell_boltzmann(const double *mu, const uint8_t *valid, int n, double tau, double *p);

/* ---- the Q table: Q(s, e, d) in a compact open-addressing hash ---------- */

typedef struct oq_xsell_qtable oq_xsell_qtable;

/* New empty table for mdp m (copied). OQ_EINVAL if m fails the check. */
int oq_xsell_qtable_new(const oq_xsell_mdp *m, oq_xsell_qtable **out, oq_error *err) OQ_WUR;
void oq_xsell_qtable_free(oq_xsell_qtable *t);
const oq_xsell_mdp *oq_xsell_qtable_mdp(const oq_xsell_qtable *t);
/* Number of (state, event) entries. */
size_t oq_xsell_qtable_size(const oq_xsell_qtable *t);
/* Q values (D) of (state, e), or NULL if never visited; visits OUT (may be
 * NULL): times (state, e) was visited. The pointer is valid until the next
 * insertion. */
const double *oq_xsell_qtable_find(const oq_xsell_qtable *t, uint64_t state, int e,
                                   uint32_t *visits);
/* Update counts (D) of (state, e): how often each decision was tried and
 * updated by (15); NULL if never visited. Valid until the next insertion. */
const uint32_t *oq_xsell_qtable_counts(const oq_xsell_qtable *t, uint64_t state, int e);
/* The table's answer for inventory inv and request e: argmax_{d in H} Q.
 * Only decisions tried at least once in training compete (an untried one
 * holds only its initial value); none when none was tried.
 * Returns 1 when (state, e) was learned, 0 when unseen (decision none).
 * *q_out (may be NULL) gets Q of the decision (0 when unseen). */
int oq_xsell_qtable_decide(const oq_xsell_qtable *t, const uint32_t *inv, int e, int *d,
                           double *q_out);
/* Greedy decisions of the whole table as a dense array dec (S, N) (S =
 * oq_xsell_n_states), 0 where unseen; caller allocates S*N bytes. */
void oq_xsell_qtable_greedy(const oq_xsell_qtable *t, uint8_t *dec);
/* Binary table file "OQXQTAB1": magic, version, mdp, entries, CRC-32 at the
 * end; written atomically. Load checks magic, version, sizes, the CRC, the
 * items (oq_xsell_mdp_check) and that every Q value is finite (OQ_EFORMAT).
 * *out is the caller's to free. */
int oq_xsell_qtable_save(const oq_xsell_qtable *t, const char *path, oq_error *err) OQ_WUR;
int oq_xsell_qtable_load(const char *path, oq_xsell_qtable **out, oq_error *err) OQ_WUR;

/* ---- answering requests with a learned table (offer, HTTP service) ------- */

/* One decision of a learned table for a request. */
typedef struct oq_xsell_offer {
    int item;            /* requested item (index) */
    int bundle;          /* add-on item (index), -1: no bundle */
    int level;           /* discount level (index), -1 with no bundle */
    double discount;     /* delta_k, 0 with no bundle */
    double item_price;   /* p_i */
    double addon_list;   /* p_j, 0 with no bundle */
    double addon_price;  /* (1 - delta_k) p_j, 0 with no bundle */
    double bundle_price; /* item_price + addon_price */
    double q;            /* Q of the table's decision (0 when unseen) */
    uint32_t visits;     /* training visits of (inventory, request) */
    int learned;         /* 1 if (inventory, request) was seen in training */
    int below_cost;      /* 1 if the table's bundle was dropped because its
                          * add-on would sell below cost at the quoted prices */
} oq_xsell_offer;

/* Index of the item called name in m; when no item has that name, a whole
 * number k in [1, N] names the k-th item. -1 if neither. */
int oq_xsell_item_find(const oq_xsell_mdp *m, const char *name);

/* OQ_EINVAL (naming the first difference) unless cur lists exactly the items
 * of the table's mdp m, by name, in the same order. */
int oq_xsell_items_match(const oq_xsell_mdp *m, const oq_xsell_mdp *cur, oq_error *err) OQ_WUR;

/* The table's decision for a buyer asking for item (name or position, see
 * oq_xsell_item_find) when the stock is inv[0..n), in the table's item
 * order. prices: NULL quotes the table's prices; else the current items
 * (checked by oq_xsell_items_match beforehand), whose prices are quoted and
 * whose costs are checked again: a bundle that would sell its add-on below
 * the current cost is not offered (out->below_cost = 1, bundle -1).
 * OQ_EINVAL with a message for an unknown item, n != N, a count outside
 * [0, capacity] or a requested item out of stock. */
int oq_xsell_offer_lookup(const oq_xsell_qtable *t, const char *item, const long *inv, size_t n,
                          const oq_xsell_mdp *prices, oq_xsell_offer *out, oq_error *err) OQ_WUR;

struct json_t;
/* Set the fields of o in the JSON object obj: item, bundle (name or null),
 * discount, item_price, addon_list_price, addon_price, bundle_price, q,
 * learned, visits (and below_cost when set). m gives the names. Returns 0,
 * OQ_ENOMEM. */
int oq_xsell_offer_json(const oq_xsell_mdp *m, const oq_xsell_offer *o, struct json_t *obj) OQ_WUR;

/* ---- the simulator (paper 4.2) ------------------------------------------- */

typedef struct oq_xsell_sim {
    oq_xsell_mdp mdp;
    double arrival[OQ_XSELL_MAX_ITEMS];                       /* lambda_i per period, sum <= 1 */
    double survival;                                          /* gamma in (0, 1): season goes on */
    double rho_lo, rho_hi;                                    /* R_j / p_j ~ U[rho_lo, rho_hi] */
    double base_interest;                                     /* interest without association */
    double interest[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS]; /* (N, N) pi_ij */
} oq_xsell_sim;

/* The paper's setting: 5 items of 10 units (prices/costs/arrival rates in
 * docs/readme/crosssell.md), discounts {0, 10, 20, 30}%, gamma 0.98,
 * F = U[0.5, 1.1] p, base interest 0.05, no rules planted. */
void oq_xsell_sim_default(oq_xsell_sim *s);
int oq_xsell_sim_check(const oq_xsell_sim *s, oq_error *err) OQ_WUR;
/* Set interest from planted rules (others get base_interest). */
int oq_xsell_sim_plant(oq_xsell_sim *s, const oq_xsell_rule *rules, size_t n_rules,
                       oq_error *err) OQ_WUR;
/* a(e, d): probability that a buyer of e accepts decision d (0 for none). */
double oq_xsell_accept_prob(const oq_xsell_sim *s, int e, int d);
/* Draw the requested item of one period: an item index, or -1 when no buyer
 * comes (a request for an out-of-stock item is returned too: the caller
 * checks inv[e] > 0). */
int oq_xsell_sim_arrival(const oq_xsell_sim *s, gsl_rng *r);

/* Outcome of a season. */
typedef struct oq_xsell_episode {
    double revenue, profit;
    long periods, requests, offers, bundles_sold;
} oq_xsell_episode;

/* A policy: decision for inventory inv and request e, given H (valid). */
typedef int (*oq_xsell_policy_fn)(void *ctx, const uint32_t *inv, int e, const uint8_t *valid,
                                  gsl_rng *r);
/* Simulate one season from full capacity with policy fn. */
void oq_xsell_sim_episode(const oq_xsell_sim *s, oq_xsell_policy_fn fn, void *ctx, gsl_rng *r,
                          oq_xsell_episode *out);

/* Dense policies (S, N) for exact evaluation: none everywhere; the static
 * bundle rule (for each i, the j of the strongest planted-or-known positive
 * rule in kb at discount level k, when in stock and not below cost; none
 * where no such rule). S*N bytes, caller allocates. */
void oq_xsell_policy_none(const oq_xsell_mdp *m, uint8_t *dec);
void oq_xsell_policy_static(const oq_xsell_mdp *m, const oq_xsell_kb *kb, int level, uint8_t *dec);

/* Exact expected revenue and profit of a season from full capacity under the
 * dense policy dec (S, N) (invalid entries act as none). One pass over the
 * states in index order: every sale lowers the index. OQ_ELIMIT when S >
 * OQ_XSELL_DP_MAX_STATES, OQ_ENOMEM. */
int oq_xsell_evaluate(const oq_xsell_sim *s, const uint8_t *dec, double *revenue, double *profit,
                      oq_error *err) OQ_WUR;

/* The optimum by dynamic programming over the inventory states:
 * V(x) = [sum_{e: x_e>0} lambda_e max_{d in H} sum_o P(o)(r_o + gamma V(x - sold_o))]
 *        / (1 - gamma (1 - sum_{e: x_e>0} lambda_e)).
 * *dec_out (S, N) the optimal decisions (malloc'ed, caller frees; may be
 * NULL), *revenue the optimal expected revenue from full capacity, *profit
 * the profit of that policy. OQ_ELIMIT / OQ_ENOMEM. */
int oq_xsell_dp_solve(const oq_xsell_sim *s, uint8_t **dec_out, double *revenue, double *profit,
                      oq_error *err) OQ_WUR;

/* ---- learning ------------------------------------------------------------- */

enum { OQ_XSELL_KQ = 0, OQ_XSELL_QLEARN = 1 };

typedef struct oq_xsell_learn_opts {
    int method;           /* OQ_XSELL_KQ or OQ_XSELL_QLEARN */
    double tau0, tau_min; /* K-Q temperature schedule (14) */
    double eps0, eps_min; /* plain Q epsilon schedule */
    double kappa;         /* visits at which the schedule is half-way */
    double omega;         /* step size exponent (15), in (0.5, 1] */
    /* Candidate bundle items (N, N), borrowed: cand[e * N + j] != 0 lets item
     * j be bundled with a request of e; the others are removed from H(s, e)
     * while learning, so the table never tries them and never answers them
     * (the paper's ROCK cluster C, include/offerq/xsell/learn.h). NULL (the
     * default): every item is a candidate. */
    const uint8_t *cand;
} oq_xsell_learn_opts;

void oq_xsell_learn_opts_default(oq_xsell_learn_opts *o, int method);

/* Run one training season in simulator s, updating t (which must have been
 * made for s->mdp). kb may be NULL (K-Q without rules). out (may be NULL)
 * gets the season's outcome under the exploring policy. OQ_ENOMEM. */
int oq_xsell_learn_episode(oq_xsell_qtable *t, const oq_xsell_sim *s, const oq_xsell_kb *kb,
                           const oq_xsell_learn_opts *o, gsl_rng *r, oq_xsell_episode *out,
                           oq_error *err) OQ_WUR;

/* ---- the experiment (paper figures 2a, 2b) ------------------------------ */

#define OQ_XSELL_EXP_MAX_POINTS 16

typedef struct oq_xsell_exp_config {
    oq_xsell_sim sim; /* items, prices, arrival; rules are planted per seed */
    int n_seeds;
    uint64_t seed;
    int n_points;
    int n_rules[OQ_XSELL_EXP_MAX_POINTS]; /* x axis of both figures */
    long max_episodes;                    /* fig 2a: training budget per run */
    long eval_every;                      /* fig 2a: evaluate the greedy policy every k seasons */
    double conv_share; /* fig 2a: converged = captures this share of the DP gain */
    long episodes_2b;  /* fig 2b: training seasons per run */
    int static_level;  /* discount level of the static bundle rule */
    int threads;       /* OpenMP threads (<= 0: default) */
    int quiet;
    /* K-Q within ROCK clusters (include/offerq/xsell/learn.h), a third arm of
     * both figures: per seed and scenario, rock_baskets baskets simulated
     * from the planted rules are clustered with ROCK (rock_theta, rock_k);
     * rock_baskets = 0 leaves the arm out. */
    size_t rock_baskets;
    double rock_theta;
    size_t rock_k;
} oq_xsell_exp_config;

/* Mean and 95% confidence interval (t quantile) over seeds. */
typedef struct oq_xsell_stat {
    double mean, lo, hi;
} oq_xsell_stat;

enum { OQ_XSELL_SC_POS = 0, OQ_XSELL_SC_MIX = 1, OQ_XSELL_SC_NEG = 2, OQ_XSELL_N_SC = 3 };

typedef struct oq_xsell_exp_result {
    int n_points;
    /* fig 2a (positive rules only): episodes to converge */
    oq_xsell_stat conv[2][OQ_XSELL_EXP_MAX_POINTS]; /* [method][point] */
    int censored[2][OQ_XSELL_EXP_MAX_POINTS];       /* runs that never converged */
    /* fig 2b: expected revenue of the policies per scenario and point */
    oq_xsell_stat kq[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat ql[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat stat_rule[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat dp[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat kq_profit[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    /* K-Q within ROCK clusters (when rock_baskets > 0): fig 2a, fig 2b, and
     * the mean number of candidate items per requested item */
    oq_xsell_stat conv_rock[OQ_XSELL_EXP_MAX_POINTS];
    int censored_rock[OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat kq_rock[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat rock_cand[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    double none_revenue, none_profit; /* no cross-selling: one number */
    double seconds;
} oq_xsell_exp_result;

/* The full configuration of docs/readme/crosssell.md (quick = 0) or a small
 * fast one for tests (quick = 1: 4 items of 4 units). */
void oq_xsell_exp_default(oq_xsell_exp_config *c, int quick);
/* Run both figures. out_dir (may be NULL: nothing written) receives
 * fig2a.csv, fig2a.svg, fig2b.csv, fig2b.svg and summary.json, each written
 * atomically. res OUT. */
int oq_xsell_experiment(const oq_xsell_exp_config *c, const char *out_dir, oq_xsell_exp_result *res,
                        oq_error *err) OQ_WUR;

/* ---- input files ------------------------------------------------------------ */

/* Items CSV with a header naming item,price,cost,inventory (any order; an
 * optional arrival column gives lambda_i per period; no other columns). Every
 * row has the header's number of fields. Bounds: a name of 1..63 bytes of
 * valid UTF-8 without control characters, price in (0, OQ_XSELL_PRICE_MAX],
 * cost in [0, price], inventory in [0, 65535], arrival in [0, 1]. Fills
 * s->mdp.items, n_items and s->arrival (items without arrival share
 * arrival_total equally among them); other fields of s are left as they are.
 * Errors name file:line:column (OQ_EPARSE), OQ_EINVAL for bad values. */
int oq_xsell_items_read(const char *path, double arrival_total, oq_xsell_sim *s,
                        oq_error *err) OQ_WUR;
/* Rules CSV as `offerq rules` writes it (type,lhs,rhs,support,confidence,
 * lift,count; type positive|negative). Only single-item rules whose lhs and
 * rhs are items of m are kept (*skipped counts the others: itemsets joined by
 * " & ", unknown items). *rules is malloc'ed (caller frees, may be NULL when
 * none kept). */
int oq_xsell_rules_read(const char *path, const oq_xsell_mdp *m, oq_xsell_rule **rules,
                        size_t *n_rules, size_t *skipped, oq_error *err) OQ_WUR;

#endif
