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
 *   - The objective (oq_xsell_mdp.objective) is what a season's rewards sum:
 *     profit (margin = price - cost of every unit sold; the default of
 *     oq_xsell_sim_default and of the command line) or revenue (the paper's).
 *   - The season ends after each period with probability 1 - gamma (gamma =
 *     "survival"): the horizon is geometric with mean 1/(1 - gamma) periods,
 *     so the inventory is a sufficient state (the paper's T split in periods,
 *     made stationary; see docs/readme/crosssell.md) and the undiscounted
 *     expected reward of a season is exactly the discounted MDP value.
 *
 * K-Q-learning as the paper describes it (section 3.3, our reading of
 * (9)-(15)); OQ_XSELL_KQ_TABULAR, the baseline "tabular K-Q"
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
 *        r = reward of the period, (s', e') the next decision epoch (the
 *        next period with a request for an item in stock), the max term 0
 *        when the season ends first; alpha_m = (1 + m)^-omega, m the number
 *        of earlier updates of (s, e, d) (Even-Dar & Mansour polynomial
 *        step; a known pitfall: a constant alpha only reaches a neighbourhood).
 *   Plain Q-learning (OQ_XSELL_QLEARN, the paper's baseline): the same
 *   update, epsilon-greedy on Q with epsilon(n) = eps_min + (eps_0 - eps_min)
 *   * kappa / (kappa + n), no rules.
 *   Both keep one Q value per (inventory, request, decision): 805,255
 *   (state, request) pairs on the paper's setting, most of them seen a
 *   handful of times in 10,000 seasons, which is why they stay far from the
 *   optimum (docs/readme/crosssell.md, "why the paper's K-Q falls short").
 *
 * K-Q-learning with a factored Q (OQ_XSELL_KQ, the default)
 *   The same event-driven MDP, the same lookup Q(s, e, d), the same
 *   exploration (9)-(14), but Q is not a free number per (s, e, d). With
 *   y = x - 1_e the inventory after selling e (the post-decision state,
 *   Powell's "post-decision state", Sutton & Barto's "afterstate"):
 *     Q(x, e, none)  = r_e + W(y)
 *     Q(x, e, (j,k)) = r_e + W(y) + a(e,j,k) [r_jk - (W(y) - W(y - 1_j))]
 *   r_e the reward of selling e (p_e, or p_e - c_e for profit), r_jk that of
 *   the add-on ((1 - delta_k) p_j, minus c_j for profit), a(e,j,k) the
 *   probability that a buyer of e takes the bundle, W(y) the expected reward
 *   of the rest of the season from the post-decision inventory y.
 *   - a(e,j,k) does not depend on the inventory (the buyer does not see it):
 *     it is learned as accepted / offered per (e, j, k), with a Beta prior
 *     of n0 pseudo-offers (OQ_XSELL_KNOW_PRIOR: mean = the rule's c+ for a
 *     positive rule e => j, 1 - c- for a negative one, 1/2 without a rule).
 *     Exploration (9), (14) runs on Q with each acceptance at its posterior
 *     mean plus one posterior sd (optimism: a bundle unlucky in its first
 *     offers is tried again). A bundle offered fewer than min_offers (10)
 *     times is explored but not answered: its estimate is still mostly the
 *     prior, and a bundle the rules keep from being explored would otherwise
 *     be answered on an optimistic estimate.
 *   - W is separable over items (the state aggregation: the value of item
 *     j's stock depends on j's own stock, not on the others'):
 *     W(y) = sum_i W_i(y_i), W_i(0) = 0, W_i piecewise linear between at
 *     most OQ_XSELL_KQ_MAX_KNOTS knots per item (one knot per unit when
 *     M_i <= OQ_XSELL_KQ_MAX_KNOTS, i.e. a free value per stock level).
 *     W(y) - W(y - 1_j) is the marginal value of one unit of j (a bid price
 *     in revenue management).
 *   - W is fitted by least-squares temporal differences on the policy that
 *     is greedy in Q (LSTD, Bradtke & Barto 1996; LSPI, Lagoudakis & Parr
 *     2003): each decision epoch (x', e') reached k periods after the
 *     post-decision state y = x' is a sample of
 *       W(y) = E[gamma^k max_d Q(x', e', d)];
 *     samples are kept aggregated per (x', e') (count, sum of gamma^k): the
 *     table's entries. Solving: policy evaluation A w = b by LU (a ridge of
 *     1e-6 per feature), then the greedy decisions of every entry; repeated
 *     until no entry changes its decision (at most 8 times). Solved after
 *     each of the first 16 seasons, then whenever the seasons have grown by
 *     a tenth (oq_xsell_qtable_solve solves at any time).
 *   - An honest learner: it uses prices, costs, discounts, its own inventory,
 *     gamma (the season's mean length, the discount of the objective) and
 *     what it observes (which item is asked for, whether the bundle is
 *     taken); never lambda, the buyer's interest or reservation prices, nor
 *     the DP solution.
 *   - Every inventory state gets an answer: Q is defined for any x, seen in
 *     training or not (the aggregation above is the generalisation).
 *   Knowledge (association rules) can shape learning three ways
 *   (oq_xsell_learn_opts.knowledge): OQ_XSELL_KNOW_EXPLORE biases the
 *   exploration (10)-(14) (the paper's mechanism), OQ_XSELL_KNOW_PRIOR sets
 *   the acceptance prior (initialisation), OQ_XSELL_KNOW_PRUNE removes the
 *   bundles of a negative rule from H (action pruning). Default: the prior
 *   only. Measured with mined rules (docs/readme/crosssell.md): biasing the
 *   exploration keeps the bundles the rules discourage from ever being
 *   tried, and a mined rule's confidence is not the bundle's worth, so it
 *   lowered the learned profit (most with few positive rules) and slowed
 *   convergence; pruning removes good bundles behind spurious negative
 *   rules; the prior neither helped nor hurt measurably.
 *
 * Answers of a tabular table for a state never seen in training: the
 * nearest seen state (L1 distance of the inventory vectors, same request;
 * ties: the smaller state index), its best tried decision among those
 * admissible in the requested state; none only when no such decision
 * exists there.
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
/* Knots of a factored table's per-item value W_i (one per unit up to this
 * capacity, evenly spread beyond). */
#define OQ_XSELL_KQ_MAX_KNOTS 32

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
    int objective;                  /* OQ_XSELL_OBJ_*: what a season's rewards sum */
} oq_xsell_mdp;

/* The objective: revenue (0, what a zeroed mdp means; the paper's) or profit
 * (price - cost of every unit sold; the default of oq_xsell_sim_default). */
enum { OQ_XSELL_OBJ_REVENUE = 0, OQ_XSELL_OBJ_PROFIT = 1 };
/* "revenue" / "profit" -> OQ_XSELL_OBJ_*, -1 for anything else; and back. */
int oq_xsell_objective_parse(const char *name);
const char *oq_xsell_objective_name(int objective);
/* Reward (in the mdp's objective) of selling the requested item e alone,
 * and of the add-on j at discount level k. */
double oq_xsell_reward_item(const oq_xsell_mdp *m, int e);
double oq_xsell_reward_addon(const oq_xsell_mdp *m, int j, int k);

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
 * discounts, the objective, names (valid UTF-8 without control characters) and that the
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

/* Learning methods (file comment): K-Q with a factored Q (the default),
 * plain tabular Q-learning (the paper's baseline) and tabular K-Q (the
 * paper's K-Q as written, one Q value per (s, e, d)). */
enum { OQ_XSELL_KQ = 0, OQ_XSELL_QLEARN = 1, OQ_XSELL_KQ_TABULAR = 2, OQ_XSELL_N_METHODS = 3 };
/* "kq", "qlearning", "kq-tabular" -> method, -1 otherwise; and back. */
int oq_xsell_method_parse(const char *name);
const char *oq_xsell_method_name(int method);

/* How association rules shape K-Q (bit flags; file comment). */
enum { OQ_XSELL_KNOW_EXPLORE = 1, OQ_XSELL_KNOW_PRIOR = 2, OQ_XSELL_KNOW_PRUNE = 4 };
#define OQ_XSELL_KNOW_DEFAULT OQ_XSELL_KNOW_PRIOR
#define OQ_XSELL_KNOW_ALL (OQ_XSELL_KNOW_EXPLORE | OQ_XSELL_KNOW_PRIOR | OQ_XSELL_KNOW_PRUNE)
/* "prior", "explore,prior", "all", "none" ... -> flags, -1 when a word is unknown;
 * and the flags written as such a list into buf. */
int oq_xsell_knowledge_parse(const char *list);
void oq_xsell_knowledge_format(int flags, char *buf, size_t len);

typedef struct oq_xsell_qtable oq_xsell_qtable;

/* New empty table for mdp m (copied). Its method is set by its first
 * learning episode (oq_xsell_learn_episode). OQ_EINVAL if m fails the
 * check. */
int oq_xsell_qtable_new(const oq_xsell_mdp *m, oq_xsell_qtable **out, oq_error *err) OQ_WUR;
void oq_xsell_qtable_free(oq_xsell_qtable *t);
const oq_xsell_mdp *oq_xsell_qtable_mdp(const oq_xsell_qtable *t);
/* OQ_XSELL_KQ, _QLEARN, _KQ_TABULAR, or -1 for a table that never learned. */
int oq_xsell_qtable_method(const oq_xsell_qtable *t);
/* Number of (state, event) entries (pairs seen in training). */
size_t oq_xsell_qtable_size(const oq_xsell_qtable *t);
/* Seasons the table learned from. */
long oq_xsell_qtable_episodes(const oq_xsell_qtable *t);
/* A tabular table's Q values (D) of (state, e), or NULL if never visited
 * or if the table is factored (use oq_xsell_qtable_answer); visits OUT (may
 * be NULL): times (state, e) was visited, for every method. The pointer is
 * valid until the next insertion. */
const double *oq_xsell_qtable_find(const oq_xsell_qtable *t, uint64_t state, int e,
                                   uint32_t *visits);
/* Update counts (D) of (state, e): how often each decision was tried
 * there; NULL if never visited. Valid until the next insertion. */
const uint32_t *oq_xsell_qtable_counts(const oq_xsell_qtable *t, uint64_t state, int e);

/* How a table answered a request. */
enum {
    OQ_XSELL_ANS_SEEN = 0,    /* (inventory, request) was seen in training */
    OQ_XSELL_ANS_MODEL = 1,   /* unseen; a factored table's Q, defined everywhere */
    OQ_XSELL_ANS_NEAREST = 2, /* unseen; a tabular table's nearest seen state */
    OQ_XSELL_ANS_NONE = 3     /* unseen and nothing to go by: the empty table */
};

typedef struct oq_xsell_answer {
    int d;             /* the decision, in H(inv, e) */
    double q;          /* its Q (the nearest state's for ANS_NEAREST; 0 for ANS_NONE) */
    int how;           /* OQ_XSELL_ANS_* */
    uint32_t visits;   /* training visits of (inventory, request) */
    uint32_t distance; /* ANS_NEAREST: L1 distance to the state answering */
    uint64_t from;     /* ANS_NEAREST: that state's index */
} oq_xsell_answer;

/* The table's answer for inventory inv and request e (inv[e] > 0):
 * argmax_{d in H} Q. Factored: over every admissible decision, for any
 * inventory. Tabular: over the decisions tried at least once (an untried one
 * holds only its initial value), none when none was tried; an unseen state
 * answers from its nearest seen state (file comment; a scan of the table's
 * entries). H here is the decision set of the table: in stock, not below
 * cost, within the candidate sets it learned with, minus pruned bundles. */
void oq_xsell_qtable_answer(const oq_xsell_qtable *t, const uint32_t *inv, int e,
                            oq_xsell_answer *out /* OUT */);
/* Q values (D) of a factored table for inventory inv and request e: q[d]
 * for d in the table's H(inv, e), -INFINITY elsewhere. Returns the argmax.
 * For a tabular table: the stored values of a seen state (-INFINITY for
 * untried or inadmissible decisions), or -1 with q all -INFINITY when
 * unseen. */
int oq_xsell_qtable_qvalues(const oq_xsell_qtable *t, const uint32_t *inv, int e,
                            double *q /* OUT: (D) */);
/* oq_xsell_qtable_answer's decision and Q; returns 1 when (state, e) was
 * seen in training, 0 when the answer generalised. */
int oq_xsell_qtable_decide(const oq_xsell_qtable *t, const uint32_t *inv, int e, int *d,
                           double *q_out);
/* Answers of the whole table as a dense array dec (S, N) (S =
 * oq_xsell_n_states); caller allocates S*N bytes. Unseen states are
 * answered as oq_xsell_qtable_answer does (tabular: an L1 distance
 * transform from the seen states, O(S N) per request item, not a scan per
 * state).
 * OQ_ENOMEM. */
int oq_xsell_qtable_greedy(const oq_xsell_qtable *t, uint8_t *dec, oq_error *err) OQ_WUR;
/* Re-fit a factored table's W on all its samples now (no-op for tabular
 * tables and tables without samples). OQ_ENOMEM, OQ_ENUM (singular system). */
int oq_xsell_qtable_solve(oq_xsell_qtable *t, oq_error *err) OQ_WUR;
/* A factored table's learned acceptance probability of decision d for a
 * request of e (posterior mean, prior included) and the number of times it
 * was offered in training; NaN and 0 for a tabular table or d = none. */
double oq_xsell_qtable_accept(const oq_xsell_qtable *t, int e, int d, double *offered);
/* A factored table's marginal value of the y-th unit of item j,
 * W_j(y) - W_j(y - 1) (1 <= y <= capacity); NaN for a tabular table. */
double oq_xsell_qtable_unit_value(const oq_xsell_qtable *t, int j, uint32_t y);
/* Binary table file "OQXQTAB1", version 2: magic, version, mdp (with the
 * objective), method, candidate mask, the factored model (knots, W's
 * weights, acceptance counts) when factored, entries (key, visits, then Q
 * values and update counts for a tabular table, update counts and the sum
 * of gamma^k for a factored one), CRC-32 at the end; written atomically.
 * Load also reads version 1 (tabular, revenue, every item a candidate);
 * checks magic, version, sizes, the CRC, the items (oq_xsell_mdp_check),
 * that every number is finite and in range (OQ_EFORMAT). *out is the
 * caller's to free. */
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
    int how;             /* OQ_XSELL_ANS_*: how the table answered */
    uint32_t distance;   /* OQ_XSELL_ANS_NEAREST: L1 distance of the state used */
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
 * learned, visits, answered ("seen", "model", "nearest" or "none"),
 * distance (for "nearest") and below_cost when set. m gives the names. Returns 0,
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
 * F = U[0.5, 1.1] p, base interest 0.05, no rules planted; the profit
 * objective. */
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

/* revenue or profit, as the objective of m says. */
double oq_xsell_objective_value(const oq_xsell_mdp *m, double revenue, double profit);

/* Exact expected revenue and profit of a season from full capacity under the
 * dense policy dec (S, N) (invalid entries act as none). One pass over the
 * states in index order: every sale lowers the index. OQ_ELIMIT when S >
 * OQ_XSELL_DP_MAX_STATES, OQ_ENOMEM. */
int oq_xsell_evaluate(const oq_xsell_sim *s, const uint8_t *dec, double *revenue, double *profit,
                      oq_error *err) OQ_WUR;

/* The optimum by dynamic programming over the inventory states:
 * V(x) = [sum_{e: x_e>0} lambda_e max_{d in H} sum_o P(o)(r_o + gamma V(x - sold_o))]
 *        / (1 - gamma (1 - sum_{e: x_e>0} lambda_e)).
 * with r_o the rewards of the objective of s->mdp. *dec_out (S, N) the
 * optimal decisions (malloc'ed, caller frees; may be NULL), *revenue and
 * *profit (may be NULL) the expected revenue and profit of that policy from
 * full capacity (the one of the objective is the optimum). OQ_ELIMIT /
 * OQ_ENOMEM. */
int oq_xsell_dp_solve(const oq_xsell_sim *s, uint8_t **dec_out, double *revenue, double *profit,
                      oq_error *err) OQ_WUR;

/* ---- learning ------------------------------------------------------------- */

typedef struct oq_xsell_learn_opts {
    int method;           /* OQ_XSELL_KQ (default), OQ_XSELL_QLEARN, OQ_XSELL_KQ_TABULAR */
    int knowledge;        /* OQ_XSELL_KNOW_* flags, for the factored K-Q (default
                           * OQ_XSELL_KNOW_DEFAULT, the prior); the tabular K-Q
                           * always explores with the rules (the paper's) */
    double tau0, tau_min; /* K-Q temperature schedule (14) */
    double eps0, eps_min; /* plain Q epsilon schedule */
    double kappa;         /* tabular: visits of (s, e) at which the schedule is half-way */
    double omega;         /* tabular: step size exponent (15), in (0.5, 1] */
    double kq_kappa;      /* factored: requests of e at which tau is half-way (default 50) */
    double prior_n;       /* factored: pseudo-offers of the acceptance prior (default 2) */
    double min_offers;    /* factored: a bundle competes in the table's answer once it
                           * was offered this many times (default 10); before, its
                           * acceptance is mostly the prior and it is only explored */
    double explore_z;     /* factored: the exploration (14) sees each acceptance at its
                           * mean + explore_z posterior sd (optimism; default 1) */
    /* Candidate bundle items (N, N), borrowed: cand[e * N + j] != 0 lets item
     * j be bundled with a request of e; the others are removed from H(s, e)
     * while learning, so the table never tries them and never answers them
     * (the paper's ROCK cluster C, include/offerq/xsell/learn.h). NULL (the
     * default): every item is a candidate. Used by a table's first episode
     * (later episodes keep the table's). */
    const uint8_t *cand;
} oq_xsell_learn_opts;

void oq_xsell_learn_opts_default(oq_xsell_learn_opts *o, int method);

/* Run one training season in simulator s, updating t (which must have been
 * made for s->mdp, with the same objective). The first episode of a new
 * table sets its method, candidate mask and (factored, with
 * OQ_XSELL_KNOW_PRIOR or _PRUNE) what the rules in kb say; later episodes
 * must use the same method (OQ_EINVAL). kb may be NULL (no rules). A
 * factored table re-fits W on the schedule of the file comment. out (may
 * be NULL) gets the season's outcome under the exploring policy.
 * OQ_ENOMEM, OQ_EINVAL, OQ_ENUM. */
int oq_xsell_learn_episode(oq_xsell_qtable *t, const oq_xsell_sim *s, const oq_xsell_kb *kb,
                           const oq_xsell_learn_opts *o, gsl_rng *r, oq_xsell_episode *out,
                           oq_error *err) OQ_WUR;

/* ---- the experiment (paper figures 2a, 2b) ------------------------------ */

#define OQ_XSELL_EXP_MAX_POINTS 16

/* Policies compared: the learners first (OQ_XSELL_ARM_N_LEARN of them). */
enum {
    OQ_XSELL_ARM_KQ = 0,     /* factored K-Q with the rules (OQ_XSELL_KNOW_DEFAULT) */
    OQ_XSELL_ARM_KQ_NORULES, /* the same learner without rules: the knowledge's effect */
    OQ_XSELL_ARM_KQ_TABULAR, /* the paper's K-Q, one Q per (s, e, d) */
    OQ_XSELL_ARM_QLEARN,     /* plain tabular Q-learning, no rules */
    OQ_XSELL_ARM_N_LEARN,
    OQ_XSELL_ARM_STATIC = OQ_XSELL_ARM_N_LEARN, /* the rules' best bundle, fixed discount */
    OQ_XSELL_ARM_NONE,                          /* no cross-selling */
    OQ_XSELL_ARM_DP,                            /* the optimum */
    OQ_XSELL_N_ARMS
};
/* Knowledge ablation (positive scenario, when oq_xsell_exp_config.ablation):
 * the factored K-Q using the rules in other ways than the default prior. */
enum {
    OQ_XSELL_ABL_EXPLORE = 0,   /* rules bias exploration only (the paper's way) */
    OQ_XSELL_ABL_EXPLORE_PRIOR, /* exploration bias and the prior */
    OQ_XSELL_ABL_PRIOR_PRUNE,   /* the prior, and negative rules prune bundles */
    OQ_XSELL_N_ABL
};
/* Where the rules come from. */
enum { OQ_XSELL_RULES_MINED = 0, OQ_XSELL_RULES_PLANTED = 1 };

typedef struct oq_xsell_exp_config {
    oq_xsell_sim sim; /* items, prices, arrival, objective; interest planted per seed */
    int n_seeds;      /* runs per point (default 20) */
    uint64_t seed;
    int n_points;
    int n_rules[OQ_XSELL_EXP_MAX_POINTS]; /* x axis: planted associations */
    long episodes;                        /* training seasons per run (both figures) */
    double grid_ratio;                    /* fig 2a: evaluate the greedy policy at seasons
                                           * 1, 2, .., growing by this ratio (default 2^(1/4)) */
    double conv_share; /* fig 2a: converged = captures this share of the DP gain */
    int static_level;  /* discount level of the static bundle rule; -1 (default): in each
                        * run the level whose static policy earns the most, found by exact
                        * evaluation of every level (an oracle's choice, generous to the
                        * baseline: the objective changes which discount pays) */
    int threads;       /* OpenMP threads (<= 0: default) */
    int quiet;
    int ablation;  /* 1: the knowledge ablation arms (positive scenario) */
    int conv_only; /* 1: fig 2a of the factored K-Q only (with and without rules, and
                    * the ablation arms when asked), each run stopped at the mark:
                    * the knowledge's effect on convergence over many runs, cheaply;
                    * what is not measured is NaN */
    /* The rules the learners and the static rule get: mined (default) by
     * oq_rules_mine from n_baskets baskets of the simulator's purchase
     * history (learn.h, oq_xsell_learn_sim_baskets, with basket_noise), at
     * min_support / min_confidence, positive and negative single-item rules;
     * or planted (the true rules, perfect knowledge: the old experiment). */
    int rules;
    size_t n_baskets;
    double basket_noise;
    double min_support, min_confidence;
    /* K-Q within ROCK clusters (include/offerq/xsell/learn.h), an extra arm
     * of fig 2b: the same baskets clustered with ROCK (rock_theta, rock_k);
     * rock = 0 (default) leaves the arm out. */
    int rock;
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
    /* fig 2b: per scenario, point and arm, over seeds: the objective's value
     * per season, revenue, profit, and the share of the DP gain (per run
     * (v - none) / (dp - none), in %) */
    oq_xsell_stat value[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_N_ARMS];
    oq_xsell_stat revenue[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_N_ARMS];
    oq_xsell_stat profit[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_N_ARMS];
    oq_xsell_stat share[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_N_ARMS];
    oq_xsell_stat kq_rock[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];    /* value, rock = 1 */
    oq_xsell_stat rock_share[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS]; /* % of the DP gain */
    oq_xsell_stat rock_cand[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];  /* candidates per item */
    /* fig 2a (positive scenario): seasons until the greedy policy first
     * captures conv_share of the DP gain; a run that never does within
     * `episodes` is censored and counts as `episodes` in the mean */
    oq_xsell_stat conv[OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_ARM_N_LEARN];
    int censored[OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_ARM_N_LEARN];
    /* the knowledge's effect: per run, seasons of K-Q without rules minus
     * seasons of K-Q with them (paired on the same world) */
    oq_xsell_stat conv_saved[OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat conv_abl[OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_N_ABL];
    int censored_abl[OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_N_ABL];
    oq_xsell_stat share_abl[OQ_XSELL_EXP_MAX_POINTS][OQ_XSELL_N_ABL]; /* after `episodes` */
    /* the rules the learners got, per scenario and point (means over
     * seeds): positive / negative rules, and the share of positive rules
     * that are planted positive pairs (precision) and of planted positive
     * pairs found (recall), in % */
    oq_xsell_stat rules_pos[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat rules_neg[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat precision[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    oq_xsell_stat recall[OQ_XSELL_N_SC][OQ_XSELL_EXP_MAX_POINTS];
    double none_revenue, none_profit; /* no cross-selling: one number */
    double seconds;
} oq_xsell_exp_result;

/* Short names of the arms ("kq", "kq_norules", "kq_tabular", "qlearning",
 * "static", "none", "dp"), of the ablation arms and of the scenarios. */
const char *oq_xsell_arm_name(int arm);
const char *oq_xsell_abl_name(int abl);
const char *oq_xsell_scenario_name(int sc);

/* The full configuration of docs/readme/crosssell.md (quick = 0) or a small
 * fast one for tests (quick = 1: 4 items of 4 units). */
void oq_xsell_exp_default(oq_xsell_exp_config *c, int quick);
/* Run both figures. out_dir (may be NULL: nothing written) receives
 * fig2a.csv, fig2a.svg, fig2b.csv, fig2b.svg (value per season, axis
 * broken), fig2b_share.svg (% of the DP gain, from 0), fig2b_scenarios.svg
 * (the paper's positive / mixed / negative comparison), results.md and
 * summary.json, each written atomically. res OUT. */
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
