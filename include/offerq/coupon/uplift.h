/* uplift.h - a targeting policy learnt from a randomised campaign log, and
 * honest estimates of its value from the log alone (issue 17).
 *
 * Input: contacts (who was shown which offer, did they order, what was the
 * order worth), customers (attributes), the offers catalogue (tables.h).
 * Net reward of a contact: r = value - redeem_cost(a) * ordered - contact_cost(a).
 *
 * Model (an "S-learner" of gradient-boosted trees, XGBoost's C API): the
 * features are the customer's attributes (numbers as they are; a text
 * attribute one-hot when it has at most OQ_UPLIFT_ONEHOT_MAX values, else its
 * value's index), one indicator per offer and the offer's redeem cost (so
 * that trees can group offers by cost: an offer shown to few customers then
 * shares the effect of offers of similar cost);
 *   P(order | x, a)         binary:logistic on every contact;
 *   V(x, a) = E[value | ordered, x, a]   reg:squarederror on the ordering contacts,
 *                           or an attribute that already is that expectation
 *                           (opts.value_attr: g of the gross-profit model).
 * Expected net profit of offer a: q(x, a) = P (V - redeem_cost(a)) - contact_cost(a).
 * The policy: the offer of largest q (ties: the first in the catalogue);
 * with explore E it shows that offer with probability 1 - E + E/K and any
 * other with E/K (K offers), and records the probability of what it showed.
 *
 * Estimates (value per contact of a target policy pi over the log's rows,
 * propensities mu of the logged offers, w_i = pi(a_i | x_i) / mu_i):
 *   IPS    (Horvitz & Thompson 1952)  V = 1/n sum_i w_i r_i
 *   SNIPS  (Swaminathan & Joachims 2015)  V = sum_i w_i r_i / sum_i w_i
 *   DR     (Dudik, Langford & Li 2011, eq. 3)
 *          V = 1/n sum_i [ sum_a pi(a | x_i) q(x_i, a) + w_i (r_i - q(x_i, a_i)) ]
 * Standard errors from the per-row terms: sd / sqrt(n) for IPS and DR (sample
 * sd, n - 1), the delta method for SNIPS: sqrt(sum_i w_i^2 (r_i - V)^2) / sum_i w_i.
 * 95 % interval: V +- 1.959964 se. Cross-fitted: customers are split in two
 * folds by oq_user_hash; each fold's q and policy come from the model fitted
 * on the other fold, so no row is judged by a model that saw it.
 *
 * Qini (Radcliffe 2007, "Using control groups to target on predicted lift"):
 * rows ranked by a score, highest first (ties: log order); over the first k
 * rows, with n_t, n_c the treated (any offer but the control) and control
 * rows and Y_t, Y_c their summed outcome,
 *   Q(k) = Y_t(k) - Y_c(k) n_t(k) / n_c(k)   (0 while n_c(k) = 0);
 * the Qini coefficient is the area between this curve and the straight line
 * of random targeting, per row of the log:
 *   q = 1/N sum_{k=1..N} [Q(k) - (k/N) Q(N)] / N.
 * It is > 0 when the ranking puts the customers the offer moves most first.
 */
#ifndef OFFERQ_UPLIFT_H
#define OFFERQ_UPLIFT_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"
#include "offerq/core/tables.h"

#define OQ_UPLIFT_ONEHOT_MAX 32
#define OQ_UPLIFT_Z95 1.959963984540054

typedef struct oq_uplift_opts {
    int trees;                     /* boosting rounds, 200 */
    int depth;                     /* 3 */
    double eta;                    /* 0.05 */
    double subsample;              /* 0.8 */
    double min_child_weight;       /* P(order): hessian sum p(1 - p) in a leaf, 10 (~80 rows
                                      at a 14 % order rate) */
    double value_min_child_weight; /* the value model: rows in a leaf, 50 (orders'
                                      values are noisy: a leaf averages at least 50) */
    double lambda;                 /* 1 */
    int threads;                   /* 0: OpenMP's default */
    uint64_t seed;                 /* 1: trees, folds and exploration draws */
    double explore;                /* E in [0, 1], 0.05 */
    double budget;                 /* total expected cost of the offers shown; <= 0: none */
    int control;                   /* index of the control offer ("no offer"), -1: none */
    int quiet;
    const char *value_attr; /* NULL (the default): V from the value trees; else a numeric
                               attribute of the customers' table that is the expected value
                               of an order (rawfeat.h's gross_value): V is that attribute
                               where it is finite, the trees' elsewhere */
    int ladder; /* 0 (the default); 1: the offers other than the control are one discount at
                   different depths (`--discount-ladder`): P(order) is constrained not to fall
                   as redeem_cost grows, and those offers are told apart by their cost alone
                   (their indicator columns are held at 0; the control keeps its own, so the
                   step from no offer to one is free); each needs its own cost (OQ_EINVAL) */
} oq_uplift_opts;

void oq_uplift_opts_default(oq_uplift_opts *o);
/* The trees `offerq uplift`/`run --contacts` default to when --orders or
 * --events give every contact its own history (the log path's setting,
 * pmodel.h; measured in docs/readme/realdata.md). */
#define OQ_UPLIFT_HISTORY_TREES 400
#define OQ_UPLIFT_HISTORY_DEPTH 4
#define OQ_UPLIFT_HISTORY_MCW 20 /* P(order)'s min_child_weight */

typedef struct oq_uplift_model oq_uplift_model;

/* Fit on the contacts rows[0..nrows) (rows NULL: every contact), each
 * joined to its customer in cust by user id. OQ_EPARSE naming the contacts
 * file, line and column of a contact whose customer is missing; OQ_EINVAL
 * on options or when no contact ordered; OQ_EIO with XGBoost's message. */
int oq_uplift_fit(const oq_uplift_opts *o, const oq_customers *cust, const oq_contacts *ct,
                  const size_t *rows, size_t nrows, const oq_offers *offers, oq_uplift_model **out,
                  oq_error *err) OQ_WUR;
/* P(order) p and expected net profit q, both (n, K), of customers
 * rows[0..n) of c (coded like the customers the model learnt from:
 * oq_customers_read_like, or the same table). */
int oq_uplift_predict(const oq_uplift_model *m, const oq_customers *c, const size_t *rows, size_t n,
                      double *p, double *q, oq_error *err) OQ_WUR;
void oq_uplift_free(oq_uplift_model *m);

/* ---- estimators (no model: the per-row inputs) ------------------------------ */

typedef struct oq_uplift_est {
    double ips, ips_se, snips, snips_se, dr, dr_se; /* dr: NAN without q */
    double matched; /* share of rows whose logged offer pi can show (pi > 0) */
} oq_uplift_est;

/* n rows, K offers: logged offer a (n), reward r (n), propensity mu (n),
 * target probabilities pi (n, K), reward model q (n, K) or NULL.
 * OQ_EINVAL on n < 2 or a propensity outside (0, 1]. */
int oq_uplift_ope(size_t n, size_t K, const int *a, const double *r, const double *mu,
                  const double *pi, const double *q, oq_uplift_est *out, oq_error *err) OQ_WUR;

/* Qini coefficient (above) of ranking score (n) with treated (n, 0/1) and
 * outcome y (n); curve (n + 1) gets Q(0..n) when not NULL. NAN when one
 * group is empty. OQ_ENOMEM. */
int oq_uplift_qini(size_t n, const double *score, const uint8_t *treated, const double *y,
                   double *qini, double *curve, oq_error *err) OQ_WUR;

/* ---- a whole evaluation ------------------------------------------------------ */

#define OQ_UPLIFT_DECILES 10
typedef struct oq_uplift_policy_est {
    char name[OQ_TABLES_MAX_ID + 16]; /* "learned", "learned+explore", "offer:<name>" */
    oq_uplift_est est;
} oq_uplift_policy_est;

typedef struct oq_uplift_report {
    size_t rows, customers;
    int propensity_estimated;           /* 1: the log had none; mu = the offers' shares */
    double share[OQ_TABLES_MAX_OFFERS]; /* logged share of each offer */
    size_t npol;
    oq_uplift_policy_est pol[OQ_TABLES_MAX_OFFERS + 2];
    double qini_order;  /* ranking by predicted order uplift, outcome ordered */
    double qini_profit; /* ranking by predicted net-profit uplift, outcome r */
    /* the order Qini curve at 0, 10, ..., 100 % of the contacts ranked: the
     * incremental orders Q(k) per contact of the log (Q(k) / N) */
    double qini_curve[OQ_UPLIFT_DECILES + 1];
    double mean_reward; /* of the log */
    /* calibration of P(order | x, logged offer) by decile of the prediction */
    double cal_pred[OQ_UPLIFT_DECILES], cal_obs[OQ_UPLIFT_DECILES];
    size_t cal_n[OQ_UPLIFT_DECILES];
    double logloss;
} oq_uplift_report;

/* Cross-fitted (2 folds by customer) estimates on every contact of ct. */
int oq_uplift_crossfit(const oq_uplift_opts *o, const oq_customers *cust, const oq_contacts *ct,
                       const oq_offers *offers, oq_uplift_report *out, oq_error *err) OQ_WUR;
/* The same for a given policy (e.g. a run's recommendations): policy (ct->n)
 * is the offer index it shows each contact's customer; it is estimated as
 * "run" (IPS, SNIPS, DR with the cross-fitted model) next to every fixed
 * offer, with the model's Qini and calibration. policy NULL: as
 * oq_uplift_crossfit. */
int oq_uplift_crossfit_policy(const oq_uplift_opts *o, const oq_customers *cust,
                              const oq_contacts *ct, const oq_offers *offers, const int *policy,
                              oq_uplift_report *out, oq_error *err) OQ_WUR;
/* Estimates of model m's policy on held-out contacts ct (customers in cust,
 * coded like m's), e.g. the other half of a test. */
int oq_uplift_holdout(const oq_uplift_opts *o, const oq_uplift_model *m, const oq_customers *cust,
                      const oq_contacts *ct, const oq_offers *offers, oq_uplift_report *out,
                      oq_error *err) OQ_WUR;
/* The report as a table on fp (a FILE *). */
void oq_uplift_print(const oq_uplift_report *r, const char *title, void *fp);
/* Reports as JSON {"deployed": ..., "crossfit": ..., "holdout": ...} (either
 * report may be NULL; deployed names the policy the recommendations follow:
 * "learned" or "offer:<name>") to path, atomically; non-finite numbers are
 * null. */
int oq_uplift_write_json(const char *path, const oq_uplift_report *crossfit,
                         const oq_uplift_report *holdout, const oq_offers *offers,
                         const char *deployed, oq_error *err) OQ_WUR;

/* Model selection on the contacts alone: the candidate settings
 * (OQ_UPLIFT_NCAND: o's trees with depth 3, min_child_weight 10, value
 * min_child_weight 50 (the default); depth 2, 20, 100 (smoother); depth 4,
 * 5, 30 (richer); depth 1 (no interactions)) are each cross-fitted on ct and
 * the one whose learned policy has the largest cross-fitted DR value is
 * written to *best (o's other fields kept). which (may be NULL) gets its
 * index, dr (OQ_UPLIFT_NCAND, may be NULL) every candidate's value. The
 * estimates of the chosen candidate are then optimistic (it was chosen on
 * them); judge it on held-out contacts. */
#define OQ_UPLIFT_NCAND 4
int oq_uplift_select(const oq_uplift_opts *o, const oq_customers *cust, const oq_contacts *ct,
                     const oq_offers *offers, oq_uplift_opts *best, int *which, double *dr,
                     oq_error *err) OQ_WUR;

/* The guard against deploying noise: the learned policy is kept only if its
 * cross-fitted DR value (cf, from oq_uplift_crossfit) exceeds every fixed
 * offer's; else the fixed offer of the largest cross-fitted DR value is shown
 * to everyone. Returns -1 (keep the learned policy) or that offer's index,
 * also in *fixed. */
int oq_uplift_guard(const oq_uplift_report *cf, int *fixed);
/* Make m's policy show offer to everyone (-1: back to the model's best). */
void oq_uplift_set_fallback(oq_uplift_model *m, int offer);

/* ---- recommendations ---------------------------------------------------------- */

/* For every customer of c: the policy's offer, its expected profit and the
 * probability it was drawn with, plus each offer's expected profit, as
 *   user_id,offer,expected_profit,propensity,expected_profit_<offer>...
 * written atomically to path. With o->budget > 0 the offers' expected
 * costs (redeem_cost P(order) + contact_cost, over the control's) are kept
 * within the budget: customers keep their best offer in order of gain per
 * unit of extra cost, the others get the control (without one: the offer of
 * lowest redeem_cost + contact_cost). Exploration draws come after the
 * budget and are not counted against it. summary (may be NULL) gets the count per offer (K) and the
 * total expected profit. */
int oq_uplift_recommend(const oq_uplift_opts *o, const oq_uplift_model *m, const oq_customers *c,
                        const oq_offers *offers, const char *path, size_t *count,
                        double *total_profit, oq_error *err) OQ_WUR;

#endif
