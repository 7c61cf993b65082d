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
#include <gsl/gsl_rng.h>
#include "offerq/core/error.h"

enum {
    OQ_GEN_SURE = 0,
    OQ_GEN_PERSUADABLE = 1,
    OQ_GEN_LOST = 2,
    OQ_GEN_SLEEPING = 3,
    OQ_GEN_NTYPES = 4
};

/* Categories: up to OQ_GEN_MAX_CATS. The first OQ_GEN_NAMED_CATS have their
 * own name, value multiplier and margin (the world's categories.value and
 * .margin); category k beyond them repeats category k mod OQ_GEN_NAMED_CATS's
 * value and margin under the name "<name>-<k / OQ_GEN_NAMED_CATS + 1>"
 * ("electronics-2"), so that a world of many categories (bench/worlds/cat64)
 * needs no table of 64. */
#define OQ_GEN_MAX_CATS 64
#define OQ_GEN_NAMED_CATS 16
#define OQ_GEN_MAX_LEAD 30 /* types.persuadable.lead_days at most */

/* Lasting effects of coupons and orders (the world's "lasting" object; each
 * 0 switches its effect off, and with all of them 0 the generator writes the
 * bytes it wrote before they existed). docs/readme/gen.md cites the
 * literature behind each one.
 *   lapse, lapse_days  re-engagement: on a day without an order a living
 *                      customer lapses for good with probability
 *                      lapse (1 - exp(-t / lapse_days)), t = days since the
 *                      last order; any order, coupon-induced or not, resets t
 *   deal, deal_days    deal-proneness: each redeemed coupon adds 1 to a deal
 *                      stock that decays by exp(-1 / deal_days) a day; the
 *                      full-price (natural) order rate is multiplied by
 *                      exp(-deal x stock)
 *   weekly             order rates vary by weekday: lambda x (1 + weekly
 *                      sin(2 pi (day mod 7) / 7))
 *   campaign_budget    money per customer for a campaign after the log
 *                      (closed-loop evaluation, evaluate.h): redeemed coupons
 *                      spend it, a coupon is not shown once it cannot be paid,
 *                      and what is left at the end is lost; 0 = no limit
 *   contact_rate       daily probability that a customer is reached after the
 *                      log (a contact day, where the day's offer is shown);
 *                      0 = the log's own rate, snapshots / (days after birth) */
typedef struct oq_gen_lasting {
    double lapse, lapse_days;
    double deal, deal_days;
    double weekly;
    double campaign_budget;
    double contact_rate;
} oq_gen_lasting;

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
    /* The shop's story (world file; defaults are the seed-era constants). */
    double cat_value[OQ_GEN_NAMED_CATS];  /* order value multiplier per category */
    double cat_margin[OQ_GEN_NAMED_CATS]; /* gross margin per category */
    double order_in_favourite;            /* P(an order is in the favourite category), 0.8 */
    double aov_median, aov_sigma;         /* base order value ~ median exp(sigma N(0,1)) */
    double intent[OQ_GEN_NTYPES];         /* contact-day intent without a coupon */
    double sleeping_factor;               /* sleeping: intent x this with any coupon, 0.3 */
    double qmax_lo, qmax_width;           /* persuadable: max intent ~ lo + width U(0,1) */
    double sens_lo, sens_width;           /* persuadable: coupon value scale ~ lo + width U */
    double conc[OQ_GEN_NTYPES];           /* browsing concentration on the favourite */
    double visit[OQ_GEN_NTYPES];          /* daily browsing probability while alive */
    /* persuadable: a coupon moves them only on a contact day lead_days after a
     * day they browsed (the browsing signal in the order of events,
     * bench/worlds/order.json); 0 = on every contact day (off) */
    int lead_days;
    oq_gen_lasting lasting;
    int write_events; /* write <stem>.events.csv, 1 */
    int write_orders; /* write <stem>.orders.csv, 1 */
    int quiet;        /* no progress on stderr */
} oq_gen_config;

/* Defaults: the seed's scale (10,000 customers x 7 snapshots = 70,000 rows),
 * the default world with its lasting effects on. */
void oq_gen_config_default(oq_gen_config *cfg);
/* Every lasting effect off (the world before they existed). */
void oq_gen_lasting_off(oq_gen_lasting *l);

/* The world (every field of cfg but seed, outputs and quiet) as a JSON
 * object; NULL if out of memory. The caller json_decref()s it. */
struct json_t *oq_gen_world_json(const oq_gen_config *cfg);
/* Overlay the world object at `root` onto cfg: fields present replace
 * cfg's, fields absent keep theirs. OQ_EPARSE naming `file` and the field's
 * path (lasting.deal) for an unknown field, a wrong type or a value out of
 * range. */
int oq_gen_world_apply(const struct json_t *root, const char *file, oq_gen_config *cfg,
                       oq_error *err) OQ_WUR;
/* Read a world file (JSON) onto cfg as oq_gen_world_apply. */
int oq_gen_world_load(const char *path, oq_gen_config *cfg, oq_error *err) OQ_WUR;
/* Validate cfg (also done by oq_gen_write). OQ_EINVAL with what is wrong. */
int oq_gen_config_check(const oq_gen_config *cfg, oq_error *err) OQ_WUR;

/* Name of category k (k < OQ_GEN_MAX_CATS; beyond OQ_GEN_NAMED_CATS,
 * "<name>-2", ...). */
const char *oq_gen_category_name(int k);

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
    double deal_stock;     /* deal stock on end_day + 1 (lasting.deal) */
    uint64_t browsed;      /* browsing days before end_day + 1: bit j = day end_day - j */
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

/* ---- after the log: the world going forward (closed-loop evaluation) ---- */

/* A customer's true state at the start of a day after the log. */
typedef struct oq_gen_live {
    oq_gen_customer cu; /* latent truth (rate, type, ...) */
    int alive;
    int32_t last;       /* day of the latest order */
    int nbuys;          /* orders so far, the first one included */
    double sum_value;   /* their total value */
    int32_t recent[64]; /* ring of the latest order days (purchases_last_30d) */
    int nrecent;
    int fav;           /* favourite category today */
    double deal_stock; /* lasting.deal */
    uint64_t browsed;  /* browsing days before today: bit j = j + 1 days ago (lead_days) */
} oq_gen_live;

/* What one day brought. The row features are those a log row of a contact
 * on that day has (before the day's order). */
typedef struct oq_gen_outcome {
    int contact;    /* the customer was reached: a log row */
    int coupon;     /* coupon shown (OQ_COUPON_NONE when not reached) */
    int order;      /* an order that day */
    double value;   /* its value */
    double profit;  /* its gross profit */
    int browsed;    /* a browsing event that day, in category bcat */
    int bcat;       /* the day's category: the order's when there was one */
    int days_since; /* row features */
    int p30;
    double aov;
} oq_gen_outcome;

/* Customer idx's state at the start of end_day + 1 (the log's tomorrow). */
int oq_gen_live_init(const oq_gen_config *cfg, long idx, oq_gen_live *out) OQ_WUR;
/* Daily probability that a customer is reached after the log. */
double oq_gen_contact_rate(const oq_gen_config *cfg);
/* Whether customer idx is reached on day (a day after the log). The same for
 * every policy: every random number of a (customer, day) comes from its own
 * stream (common random numbers), drawn whatever the policy did. rng is
 * scratch (oq_rng_new). */
int oq_gen_live_contacted(const oq_gen_config *cfg, long idx, int32_t day, gsl_rng *rng);
/* True expected order probability, net reward (gross profit - coupon when
 * ordered) and coupon spend of showing coupon c to live on day; c < 0: the
 * customer is not reached (natural orders only). */
void oq_gen_live_expected(const oq_gen_config *cfg, const oq_gen_live *live, int32_t day, int c,
                          double *p_order, double *reward, double *spend);
/* Play day for customer idx: reached or not (`contact`, normally
 * oq_gen_live_contacted's answer; a rollout may force it), shown coupon c
 * when reached; live moves to the start of day + 1. */
void oq_gen_live_step(const oq_gen_config *cfg, long idx, oq_gen_live *live, int32_t day,
                      int contact, int c, gsl_rng *rng, oq_gen_outcome *out);

/* Write the log to log_path and its sidecars (<stem>.events.csv,
 * <stem>.orders.csv, <stem>.truth.json), each atomically. */
int oq_gen_write(const oq_gen_config *cfg, const char *log_path, oq_error *err) OQ_WUR;

/* Rebuild the config from a truth file written by oq_gen_write. */
int oq_gen_config_load(const char *truth_path, oq_gen_config *cfg, oq_error *err) OQ_WUR;

#endif
