/* dynaq.h - Dyna-Q coupon optimiser: state discretisation, the Q table, the
 * trainer (Sutton & Barto, "Reinforcement Learning", 2nd ed., ch. 8, the
 * tabular Dyna-Q of section 8.2) and the budget planner.
 *
 * State (docs/readme/dynaq.md): s = (days_since // w_days, purchases_30d // w_p30,
 * avg_order_value // w_aov, floor(budget * budget_levels), category_idx);
 * actions = the four coupons {none, 5, 10, 20} (data.h, OQ_COUPON_*).
 *
 * The Q table maps a packed 62-bit state key to 4 action values and 4 visit
 * counts. Entries live in dense arrays (q, visits, key); an open-addressing
 * table of entry indices finds them. Files: see oq_qtable_save.
 *
 * Rewards for simulated (planning) steps come from an oq_scorer: the product
 * of P(alive) (BG/NBD) and the predicted net reward r^ (profit model) of each
 * (row, coupon), r~ = P(alive) x r^ (docs/readme/dynaq.md). Scorers are always called on
 * batches of rows.
 */
#ifndef OFFERQ_DYNAQ_H
#define OFFERQ_DYNAQ_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"

/* ---- state discretisation -------------------------------------------------- */

typedef struct oq_dynaq_disc {
    double w_days;        /* days_since bucket width, 10 */
    double w_p30;         /* purchases_30d bucket width, 2 */
    double w_aov;         /* avg_order_value bucket width, 20 */
    double budget_levels; /* budget buckets: floor(budget x levels), 10 */
} oq_dynaq_disc;

/* Field limits of the packed key; larger bucket values are clamped. */
#define OQ_DYNAQ_MAX_DAYS 16383u /* 14 bits */
#define OQ_DYNAQ_MAX_P30 1023u   /* 10 bits */
#define OQ_DYNAQ_MAX_AOV 16383u  /* 14 bits */
#define OQ_DYNAQ_MAX_BUDGET 255u /* 8 bits */
#define OQ_DYNAQ_MAX_CAT 65535u  /* 16 bits */

/* The source system's widths: 10, 2, 20, 10. */
void oq_dynaq_disc_default(oq_dynaq_disc *d);
/* Widths must be finite and > 0, budget_levels in [1, 255]. 0 or OQ_EINVAL. */
int oq_dynaq_disc_check(const oq_dynaq_disc *d, oq_error *err) OQ_WUR;

/* Packed key of a state given by raw features (clamped to the field limits). */
uint64_t oq_dynaq_key(const oq_dynaq_disc *d, double days_since, double purchases_30d, double aov,
                      double budget, unsigned category);
/* Key of log row i. */
uint64_t oq_dynaq_key_row(const oq_dynaq_disc *d, const oq_log *log, size_t i);
/* Unpack a key into its 5 bucket indices (days, p30, aov, budget, category). */
void oq_dynaq_key_unpack(uint64_t key, unsigned out[5]);
/* "days|p30|aov|budget|cat" bucket indices into buf (at least 40 bytes). */
void oq_dynaq_key_format(uint64_t key, char *buf, size_t len);

/* ---- Q table ------------------------------------------------------------------ */

typedef struct oq_qtable {
    oq_dynaq_disc disc;
    size_t n, cap;    /* entries used / allocated */
    uint64_t *key;    /* (cap) packed state */
    double *q;        /* (cap, 4) action values */
    uint32_t *visits; /* (cap, 4) updates of each (s, a) */
    uint32_t *slot;   /* (nslots) entry index + 1, 0 = empty */
    size_t nslots;    /* power of two, at least 2 x cap */
} oq_qtable;

/* Empty table for discretisation d. *out owned by the caller (oq_qtable_free).
 * OQ_EINVAL (bad d) or OQ_ENOMEM. */
int oq_qtable_new(const oq_dynaq_disc *d, oq_qtable **out, oq_error *err) OQ_WUR;
void oq_qtable_free(oq_qtable *q);
/* Entry index of key, or -1. */
long oq_qtable_find(const oq_qtable *q, uint64_t key);
/* Entry of key, inserted with Q = 0 and no visits if new. 0, OQ_ENOMEM, or
 * OQ_ELIMIT past UINT32_MAX - 2 entries (the hash slots hold 32-bit ids). */
int oq_qtable_insert(oq_qtable *q, uint64_t key, size_t *entry) OQ_WUR;
/* argmax_a Q(entry, a); ties go to the cheaper coupon. */
int oq_qtable_argmax(const oq_qtable *q, size_t entry);

/* File format (little-endian hosts only; the loader refuses others):
 *   "OFQTABLE" (8 bytes), u32 version (1), u32 reserved 0,
 *   disc: 4 x f64, u64 n,
 *   n x { u64 key, 4 x f64 q, 4 x u32 visits },
 *   u32 CRC-32 (oq_crc32) of every byte before it.
 * Written atomically (oq_afile). OQ_EIO on write failure. */
int oq_qtable_save(const oq_qtable *q, const char *path, oq_error *err) OQ_WUR;
/* Load a file written by oq_qtable_save. *out owned by the caller. OQ_EIO,
 * OQ_EFORMAT (magic, version, size or checksum), OQ_ENOMEM. */
int oq_qtable_load(const char *path, oq_qtable **out, oq_error *err) OQ_WUR;
/* Merge src into dst (shards trained on disjoint customers): for each (s, a)
 * Q = (n_dst Q_dst + n_src Q_src) / (n_dst + n_src), visits add; unvisited
 * pairs on both sides average plainly. OQ_EINVAL if the discretisations
 * differ, OQ_ENOMEM. */
int oq_qtable_merge(oq_qtable *dst, const oq_qtable *src, oq_error *err) OQ_WUR;

/* One Q-learning update (Sutton & Barto eq. 6.8):
 *   Q <- Q + alpha [r + gamma max_a' Q(s', a') - Q]   (gamma term dropped when
 * terminal). Updates *q and returns the TD error (the bracket). */
double oq_dynaq_td_update(double *q, double r, double max_next, int terminal, double alpha,
                          double gamma);

/* ---- scorer: where simulated rewards come from ---------------------------------- */

/* Score n rows of log: p_alive[k] = P(alive) of the customer of rows[k] on its
 * snapshot day, rhat[k*4 + c] = predicted net reward r^ of offering coupon c.
 * Return 0 or a negative OQ_E* with err filled. */
typedef struct oq_scorer {
    const char *name;   /* shown in reports, e.g. "empirical" */
    int baseline;       /* 1: the empirical baseline, not a fitted model */
    int rhat_has_alive; /* 1: r^ already is the whole expected reward (it was
                           predicted with P(alive) as an input): r~ = r^ */
    int (*score)(void *ctx, const oq_log *log, const size_t *rows, size_t n,
                 double *p_alive /* (n) */, double *rhat /* (n, 4) */, oq_error *err);
    void *ctx;
} oq_scorer;

/* Score every row of log in batches of `batch` rows (0: 4096) and fill
 * p_alive (n) and rtilde (n, 4) = p_alive x r^ (r^ itself when
 * rhat_has_alive). Non-finite scores are
 * OQ_ENUM. */
int oq_scorer_score_all(const oq_scorer *s, const oq_log *log, size_t batch,
                        double *p_alive /* (n) */, double *rtilde /* (n, 4) */,
                        oq_error *err) OQ_WUR;

/* ---- trainer --------------------------------------------------------------------- */

enum { OQ_DYNAQ_ALPHA_VISITS = 0, OQ_DYNAQ_ALPHA_DECAY = 1 };
#define OQ_DYNAQ_MAX_EPOCHS 32
#define OQ_DYNAQ_CURVE_PER_EPOCH 10

typedef struct oq_dynaq_config {
    int epochs;           /* 4 */
    int plan_k;           /* planning updates per real step, 20 */
    double eps0, eps_end; /* epsilon-greedy, linear 0.30 -> 0.05 over the epochs */
    double alpha0;        /* 0.3 */
    int alpha_mode;       /* VISITS: alpha = max(1/n(s,a), alpha_min); DECAY: alpha0/(1+epoch) */
    double alpha_min;     /* 0.01 */
    double gamma;         /* 0.95 */
    uint64_t seed;
    int faithful;        /* 1: the seed's simplified loop (see oq_dynaq_train) */
    int faithful_buffer; /* seed: 2000 sampled rows in the initial buffer */
    int faithful_daily;  /* seed: 1500 sampled rows per epoch */
    int quiet;           /* no progress on stderr */
} oq_dynaq_config;

void oq_dynaq_config_default(oq_dynaq_config *c);

typedef struct oq_dynaq_stats {
    int epochs;
    double eps[OQ_DYNAQ_MAX_EPOCHS];     /* epsilon used in each epoch */
    double alpha[OQ_DYNAQ_MAX_EPOCHS];   /* mean alpha of the epoch's updates */
    double td_real[OQ_DYNAQ_MAX_EPOCHS]; /* mean |TD error| of real steps */
    double td_plan[OQ_DYNAQ_MAX_EPOCHS]; /* mean |TD error| of planning steps */
    double mean_q[OQ_DYNAQ_MAX_EPOCHS];  /* mean greedy Q over visited states, end of epoch */
    /* learning curve: mean |TD error| of real steps over each tenth of an epoch */
    double curve[OQ_DYNAQ_MAX_EPOCHS * OQ_DYNAQ_CURVE_PER_EPOCH];
    int n_curve;
    size_t real_steps, plan_steps, states;
    double seconds;
} oq_dynaq_stats;

/* Train q on log (index ix) with simulated rewards rtilde (n, 4) = r~ of
 * each row and coupon (oq_scorer_score_all).
 *
 * Dyna-Q (default; S&B section 8.2, tabular Dyna-Q): per epoch, customers in
 * a random order; each real step is a logged transition (s, a, r, s') with
 * s' = the same customer's next snapshot (terminal when none), a = the
 * logged coupon and r = the logged net reward; it updates Q(s, a) (eq. 6.8)
 * and enters the model, which remembers for every (s, a) the real
 * transitions seen from it (the maximum-likelihood model of a stochastic
 * environment). Then plan_k planning steps: a previously seen real row j,
 * an epsilon-greedy coupon a for its state, the simulated reward
 * r~(j, a), and s' drawn from the model's transitions of (s_j, a) (or j's
 * own successor if (s_j, a) was never seen), then eq. 6.8.
 *
 * faithful (the seed's code, for comparison): a buffer of (s, a, r) from
 * faithful_buffer sampled rows with their logged reward; per epoch
 * faithful_daily sampled rows, epsilon-greedy a, reward r~ and the update
 * Q(s,a) += alpha (r~ + gamma max_a' Q(s, a') - Q(s,a)) that bootstraps from
 * the same state (no s'); constant alpha0; plan_k replays from the buffer.
 *
 * Deterministic given cfg->seed. stats may be NULL. OQ_EINVAL, OQ_ENOMEM. */
int oq_dynaq_train(oq_qtable *q, const oq_log *log, const oq_log_index *ix,
                   const double *rtilde /* (n, 4) */, const oq_dynaq_config *cfg,
                   oq_dynaq_stats *stats, oq_error *err) OQ_WUR;

/* Data-parallel Dyna-Q: customers are split into `shards` groups by a hash
 * of user_id; each group trains its own Q table with oq_dynaq_train (its
 * own random stream, derived from cfg->seed and the shard number) in
 * parallel (OpenMP), and the tables are merged into q in shard order with
 * oq_qtable_merge (visit-weighted averages). shards = 1 is oq_dynaq_train
 * itself. Deterministic given cfg->seed and shards (not the thread count).
 * This is the multi-node design on one machine: a shard is what a node
 * would train. stats: summed steps, step-weighted means, the merged table's
 * states; the learning curve is shard 0's. OQ_EINVAL (shards outside
 * 1..64), OQ_ENOMEM. */
#define OQ_DYNAQ_MAX_SHARDS 64
int oq_dynaq_train_sharded(oq_qtable *q, const oq_log *log, const oq_log_index *ix,
                           const double *rtilde /* (n, 4) */, const oq_dynaq_config *cfg,
                           int shards, oq_dynaq_stats *stats, oq_error *err) OQ_WUR;
/* The same across the parts of a partitioned job (comm.h; collective):
 * log holds this part's customers, which are shard `rank` of `size`; each
 * part trains its table with shard rank's seed, every part gets every
 * table and merges them in rank order into q (empty), so q and stats are
 * what oq_dynaq_train_sharded gives for the same shards' rows and r~, on
 * every part. comm NULL or one part: oq_dynaq_train. */
struct oq_comm;
int oq_dynaq_train_part(oq_qtable *q, const oq_log *log, const oq_log_index *ix,
                        const double *rtilde /* (n, 4) */, const oq_dynaq_config *cfg,
                        struct oq_comm *comm, oq_dynaq_stats *stats, oq_error *err) OQ_WUR;

/* ---- budget planner ------------------------------------------------------------------ */

/* Choose one coupon per customer to maximise sum_i value[i, c_i] subject to
 * sum_i spend[i, c_i] <= budget (a multiple-choice knapsack). Greedy by
 * marginal gain per unit of expected spend (Sinha & Zoltners 1979): each
 * customer starts at its cheapest option; the upgrades along the upper
 * convex hull of its (spend, value) points are sorted by gain / extra spend
 * and taken while they fit (an upgrade that does not fit is skipped, and
 * later steps of that customer with it). The result is within the largest
 * single upgrade gain of the optimum (LP bound), and exact when the budget
 * does not bind. budget may be INFINITY. spend must be >= 0.
 * choice (n) out; *total_value, *total_spend out (may be NULL).
 * OQ_EINVAL (negative or non-finite input, cheapest options over budget),
 * OQ_ENOMEM. */
int oq_budget_plan(size_t n, const double *value /* (n, 4) */, const double *spend /* (n, 4) */,
                   double budget, int *choice /* (n) */, double *total_value, double *total_spend,
                   oq_error *err) OQ_WUR;
/* The same plan over the customers of every part of a partitioned job
 * (comm.h; collective): this part's n customers, their keys (user ids,
 * unique across the parts; they break ties of gain per spend, as the index
 * does in oq_budget_plan; NULL: the index) and the budget of the whole job;
 * choice (n) for this part's customers, the totals over every part. The
 * greedy is computed as a Lagrange multiplier found by bisection over sums
 * of spend, then a sequential tail on the upgrades that still fit, gathered
 * to every part (dynaq.c; docs/readme/mpi.md): the same choices for a given
 * number of parts with threads or MPI ranks. comm NULL: oq_budget_plan. */
struct oq_comm;
int oq_budget_plan_part(size_t n, const double *value /* (n, 4) */,
                        const double *spend /* (n, 4) */, const int64_t *key /* (n) */,
                        double budget, struct oq_comm *comm, int *choice /* (n) */,
                        double *total_value, double *total_spend, oq_error *err) OQ_WUR;

#endif
