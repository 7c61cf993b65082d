/* gen.h - ground-truth log generator and its truth, for tests, benchmarks
 * and honest policy evaluation.
 *
 * The story (README, "The example log"): each customer i is born with a first
 * purchase on a day uniform in the first `birth_window` days, then buys by
 * the BG/NBD story (Fader, Hardie & Lee 2005): while alive, a purchase on a
 * day with probability 1 - exp(-lambda_i), lambda_i ~ Gamma(r, alpha) per day;
 * after each repeat purchase the customer drops out with probability
 * p_i ~ Beta(a, b). These natural purchases go to <stem>.orders.csv.
 *
 * On `snapshots` contact days (distinct, uniform over the days after birth)
 * the shop shows a coupon drawn by the logging policy (known propensities
 * p_log, saved in the truth) and the customer may also order because of the
 * contact: intent depends on the latent response type
 *   SURE        buys anyway (coupon only costs money),
 *   PERSUADABLE intent rises with the coupon value (own sensitivity),
 *   LOST        never responds,
 *   SLEEPING    put off by any coupon (intent drops to 30%),
 * scaled by contact_effect (0 = contact days are ordinary days, so the order
 * stream is exactly BG/NBD). A contact-day order's value is aov_i times the
 * category's value multiplier times LogNormal noise (mean 1); gross profit is
 * value times the category's margin; a redeemed coupon spends budget.
 *
 * Category preferences drift: a favourite category switches with probability
 * `drift` a day; the browsing stream (<stem>.events.csv) shows the favourite
 * with the customer's concentration, and orders are in the favourite with
 * probability 0.8, so the last days of the stream predict the profit of the
 * next order better than the log's single category.
 *
 * Every customer is simulated from its own random stream (seed, index), so
 * customers are independent and any one can be re-simulated alone.
 */
#ifndef OFFERQ_GEN_H
#define OFFERQ_GEN_H

#include <stdint.h>
#include "offerq/core/error.h"

enum {
    OQ_GEN_SURE = 0,
    OQ_GEN_PERSUADABLE = 1,
    OQ_GEN_LOST = 2,
    OQ_GEN_SLEEPING = 3,
    OQ_GEN_NTYPES = 4
};

#define OQ_GEN_MAX_CATS 16

typedef struct oq_gen_config {
    uint64_t seed;
    long n_customers;               /* 10000 */
    int32_t start_day;              /* 2025-01-01 */
    int32_t end_day;                /* 2025-06-30 (inclusive) */
    int snapshots;                  /* contact days per customer, 7 */
    int birth_window;               /* days, 90 */
    double r, alpha, a, b;          /* BG/NBD population, time unit = day */
    double type_mix[OQ_GEN_NTYPES]; /* shares of the response types */
    double p_log[4];                /* logging policy: P(coupon none, 5, 10, 20) */
    double contact_effect;          /* scale of contact-day intent, 1 */
    double drift;                   /* daily probability the favourite category switches */
    double budget_left_end;         /* share of the budget left at end_day, 0.15 */
    int n_cats;                     /* categories, 8 */
    int write_events;               /* write <stem>.events.csv, 1 */
    int write_orders;               /* write <stem>.orders.csv, 1 */
    int quiet;                      /* no progress on stderr */
} oq_gen_config;

/* Defaults: the seed's scale (10,000 customers x 7 snapshots = 70,000 rows). */
void oq_gen_config_default(oq_gen_config *cfg);

/* Name, value multiplier and margin of category k (k < n_cats). */
const char *oq_gen_category_name(int k);
double oq_gen_category_value(int k);
double oq_gen_category_margin(int k);

/* A customer's latent truth and state at the end of the simulation. */
typedef struct oq_gen_customer {
    int64_t user_id;       /* index + 1 */
    double lambda;         /* purchase rate per day while alive */
    double p;              /* dropout probability after a repeat purchase */
    int type;              /* OQ_GEN_* response type */
    double sens;           /* persuadable: coupon value scale of the response */
    double qmax;           /* persuadable: maximum contact intent */
    double conc;           /* browsing concentration on the favourite */
    double visit;          /* probability of browsing on a day while alive */
    double aov;            /* base order value */
    int32_t birth_day;     /* first purchase */
    int32_t death_day;     /* first day not alive; INT32_MAX if alive at the end */
    int n_purchases;       /* all purchases, the first one included */
    int32_t last_purchase; /* day of the latest purchase up to end_day */
    int favourite_next;    /* favourite category on end_day + 1 */
} oq_gen_customer;

/* Simulate customer index idx (0-based) up to end_day + 1 and return its
 * truth. Deterministic in (cfg->seed, idx, cfg). */
int oq_gen_customer_truth(const oq_gen_config *cfg, long idx, oq_gen_customer *out) OQ_WUR;

/* Truth of offering coupon c (OQ_COUPON_*) to customer cu on day end_day + 1
 * ("tomorrow"): probability of an order, expected net reward
 * (gross profit - coupon, when ordered) and expected coupon spend. */
void oq_gen_expected(const oq_gen_config *cfg, const oq_gen_customer *cu, int c, double *p_order,
                     double *reward, double *spend);

/* Truth of customer idx's contact days (its rows in the log, in day order):
 * day[k] (64) and, for each coupon c, the expected net reward reward[k*4+c]
 * (64, 4) and coupon spend spend[k*4+c] (64, 4) of that contact had c been
 * shown, given the customer's type, aliveness and favourite category that
 * day. *nrows = cfg->snapshots rows. For off-policy evaluation. OQ_ENOMEM. */
int oq_gen_contact_truth(const oq_gen_config *cfg, long idx, int32_t *day, double *reward,
                         double *spend, int *nrows) OQ_WUR;

/* Write the log to log_path and its sidecars (<stem>.events.csv,
 * <stem>.orders.csv, <stem>.truth.json), each atomically. */
int oq_gen_write(const oq_gen_config *cfg, const char *log_path, oq_error *err) OQ_WUR;

/* Rebuild the config from a truth file written by oq_gen_write. */
int oq_gen_config_load(const char *truth_path, oq_gen_config *cfg, oq_error *err) OQ_WUR;

#endif
