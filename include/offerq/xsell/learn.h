/* learn.h - learning a cross-selling table: the candidate item sets (ROCK
 * clusters) and the K-Q-learning job behind `offerq crosssell learn`.
 *
 * Paper: "电子商务中基于Q学习的动态交叉销售方法", 管理科学学报 2008 (3),
 * section 2 ("基于聚类分析确定交叉销售的商品集"): most items are never
 * sold together, so the items are clustered with ROCK (Guha, Rastogi & Shim)
 * and cross-selling happens within a cluster; ROCK's criterion is the number
 * of links between TRANSACTION records ("以交易记录之间联结(link)量作为簇划分
 * 的标准"), and the items of one cluster's transactions are closely
 * associated. Section 3.3, step 2(a)/(c)(1): K-Q-learning runs over that item
 * set C: a request of an item i outside C gets no bundle, and a decision
 * whose bundle item is not in C is removed from H.
 *
 * Our reading (the paper gives no more detail, "本文不给出ROCK算法的详细过程"):
 *   - the baskets are clustered by oq_rock_cluster (records = baskets,
 *     Jaccard of their item sets, parameters theta and k);
 *   - item i belongs to the basket cluster that holds most of the baskets
 *     containing i (ties: the lower cluster number; outlier baskets count
 *     for nothing); an item in no clustered basket belongs to no cluster;
 *   - the candidates of a request of i are the other items of i's cluster
 *     (none when i is in no cluster).
 * The restriction is an option (OQ_XSELL_CAND_ALL keeps every item);
 * docs/readme/crosssell.md measures both.
 *
 * Ownership: whoever allocates frees; oq_xsell_learn_result_free is
 * NULL-safe. Arguments are borrowed.
 */
#ifndef OFFERQ_XSELL_LEARN_H
#define OFFERQ_XSELL_LEARN_H

#include <stddef.h>
#include <stdint.h>
#include <gsl/gsl_rng.h>
#include "offerq/core/error.h"
#include "offerq/xsell/crosssell.h"
#include "offerq/xsell/rock.h"
#include "offerq/xsell/rules.h"

/* ---- candidate item sets -------------------------------------------------- */

enum { OQ_XSELL_CAND_ALL = 0, OQ_XSELL_CAND_ROCK = 1 };

typedef struct oq_xsell_candidates {
    int n_items;                     /* N of the mdp */
    int n_clusters;                  /* distinct clusters among the items */
    int cluster[OQ_XSELL_MAX_ITEMS]; /* 1..n_clusters in order of first item; 0: none */
    uint8_t allow[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS]; /* (N, N) [e * N + j] */
    size_t n_baskets;                                       /* baskets clustered (0 for CAND_ALL) */
    size_t basket_clusters; /* clusters ROCK found among the baskets */
    size_t basket_outliers; /* baskets ROCK left out */
} oq_xsell_candidates;

/* Every item is a candidate for every other (one cluster). */
void oq_xsell_learn_candidates_all(const oq_xsell_mdp *m, oq_xsell_candidates *c /* OUT */);

/* ROCK over the baskets b (file comment); items of m are found in b by name
 * (an item of m absent from b is in no cluster). p->theta, p->k as for
 * oq_rock_cluster. OQ_EINVAL (bad parameters, no basket), OQ_ENOMEM. */
int oq_xsell_learn_candidates_rock(const oq_xsell_mdp *m, const oq_baskets *b,
                                   const oq_rock_params *p, oq_xsell_candidates *c /* OUT */,
                                   oq_error *err) OQ_WUR;

/* Purchase history from the simulator (the paper's "交易数据生成器", 4.2):
 * n baskets; each has a requested item i drawn with probability
 * proportional to its arrival rate, plus every other item j with probability
 * interest_ij (the planted rules' confidences). With probability noise in
 * [0, 1] a basket is noise instead: every item independently with
 * probability 2/N (at least one item). Item names are m's. *out is the
 * caller's (oq_baskets_free). OQ_EINVAL (n = 0, no arrivals, noise outside
 * [0, 1]), OQ_ENOMEM. */
int oq_xsell_learn_sim_baskets(const oq_xsell_sim *s, size_t n, double noise, gsl_rng *r,
                               oq_baskets **out, oq_error *err) OQ_WUR;

/* Rules for K-Q mined from baskets: oq_rules_mine with p (single-item rules
 * are what the MDP uses: p->max_len 2 is the caller's choice, longer rules
 * are skipped), kept when both items are items of m (found by name).
 * *rules is malloc'ed (caller frees; NULL when none); *n_pos / *n_neg (may
 * be NULL) count the positive / negative rules kept. OQ_EINVAL, OQ_ENOMEM,
 * OQ_ELIMIT as oq_rules_mine. */
int oq_xsell_learn_mine_rules(const oq_xsell_mdp *m, const oq_baskets *b, const oq_rules_params *p,
                              oq_xsell_rule **rules, size_t *n_rules, size_t *n_pos, size_t *n_neg,
                              oq_error *err) OQ_WUR;

/* ---- the learning job --------------------------------------------------------- */

/* Exact evaluation (learned policy, none, DP) only up to this many states. */
#define OQ_XSELL_LEARN_EVAL_MAX_STATES 2000000ull

typedef struct oq_xsell_learn_config {
    int method;          /* OQ_XSELL_KQ (default), OQ_XSELL_QLEARN or OQ_XSELL_KQ_TABULAR */
    int knowledge;       /* OQ_XSELL_KNOW_* (default OQ_XSELL_KNOW_DEFAULT) */
    long episodes;       /* training seasons >= 1 (default 20000) */
    uint64_t seed;       /* rng stream (seed, 0) (default 1) */
    int candidates;      /* OQ_XSELL_CAND_ALL (default) or OQ_XSELL_CAND_ROCK */
    oq_rock_params rock; /* for CAND_ROCK: theta 0.5, k 2 by default */
    int evaluate;        /* 1 (default): exact evaluation when small enough */
    int quiet;           /* 1: no progress on stderr (default 0) */
} oq_xsell_learn_config;

void oq_xsell_learn_config_default(oq_xsell_learn_config *c /* OUT */);

typedef struct oq_xsell_learn_result {
    oq_xsell_qtable *table;   /* the learned table, owned by the result */
    oq_xsell_sim sim;         /* the simulator it was learned in (rules planted) */
    oq_xsell_candidates cand; /* the candidate sets used */
    int method;
    int knowledge;
    long episodes;
    size_t n_rules;
    double mean_training_revenue; /* per season, under the exploring policy */
    double mean_training_profit;
    /* exact expected revenue / profit per season; NaN when not evaluated */
    double learned_revenue, learned_profit, none_revenue, none_profit, dp_revenue, dp_profit;
} oq_xsell_learn_result;

/* Learn a table: plant the rules in a copy of sim (the rules' confidences
 * stand in for the buyer's interest, crosssell.h), build the knowledge base,
 * pick the candidates (CAND_ROCK clusters baskets, which must then not be
 * NULL), run c->episodes seasons of K-Q (or a tabular method) within them
 * in sim's objective, fit a factored table's W on all its samples, and
 * evaluate the table's answers exactly against no cross-selling and the DP
 * optimum when the state space has at most OQ_XSELL_LEARN_EVAL_MAX_STATES
 * states. Progress on stderr unless c->quiet. *out is the caller's
 * (oq_xsell_learn_result_free). OQ_EINVAL (bad sim, rules or config; ROCK
 * without baskets), OQ_ENOMEM, OQ_ELIMIT. */
int oq_xsell_learn_run(const oq_xsell_sim *sim, const oq_xsell_rule *rules, size_t n_rules,
                       const oq_baskets *baskets, const oq_xsell_learn_config *c,
                       oq_xsell_learn_result **out, oq_error *err) OQ_WUR;
void oq_xsell_learn_result_free(oq_xsell_learn_result *r);

/* The JSON summary the dashboard shows (crosssell.json), written atomically
 * to path: "decisions" (the table's answer for a request of each item at
 * full stock), "items", "discounts", "expected_per_season" (null where not
 * evaluated), the training settings (method, knowledge, objective, ...), and
 * "candidates" ("all" or "rock") with each item's cluster. table_path is recorded as "table".
 * OQ_EIO, OQ_ENOMEM. */
int oq_xsell_learn_summary_write(const oq_xsell_learn_result *r, const char *table_path,
                                 const char *path, oq_error *err) OQ_WUR;

#endif
