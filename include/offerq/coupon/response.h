/* response.h - the coupon response model: r^(customer, coupon) from each
 * customer's own history, the default reward model of the nightly job.
 *
 * Why it exists. A coupon pays only on customers whom it persuades; most
 * customers order as often without one (and some less). The profit
 * Transformer (profit.h) sees a 30-day category stream and 5 state features,
 * none of which tells how THIS customer answered earlier contacts, and on
 * the generated logs its policy does not beat a fixed coupon
 * (docs/readme/profit.md). This model splits the
 * reward as the business does,
 *     r^(x, c) = P(order | x, c) x (g(x) - value(c)).
 * This header holds the features x and a ridge logistic regression per
 * coupon (a "T-learner"); the nightly job (models.c) takes P(order | x, c)
 * from the learner chosen in pmodel.h (gradient-boosted trees by default,
 * this logistic model with --p-model logistic) and g(x) from the
 * category-aware gross-profit model of gross.h. The log-log g below
 * (oq_resp_gross) is the previous release's g, kept for callers of this
 * module alone.
 *
 * Features x of a customer on day t, from history strictly before t
 * (OQ_RESP_NFEAT, in this order):
 *   0 browse repeat rate: share of consecutive active days on the same
 *     category, (same + 0.3) / (pairs + 1) (a persuadable customer browses
 *     widely; the rate needs no fixed favourite and survives drift)
 *   1 visit rate: active days / days since the first active day
 *   2 active days in the last 30 / 30
 *   3 order rate on earlier contacts without a coupon, (orders + 0.2) / (n + 1)
 *   4 order rate on earlier contacts with a coupon, same smoothing
 *   5 earlier contacts without a coupon
 *   6 earlier contacts with a coupon
 *   7 log(1 + days_since_last_purchase)
 *   8 purchases_last_30d
 *   9 log(1 + avg_order_value)
 *  10 P(alive) from BG/NBD (alive.h; oq_resp_features sets 1, the caller
 *     fills it): the model's P(order) is then the whole order probability
 *     and the nightly job uses r~ = r^ (multiplying by P(alive) again would
 *     count dropout twice)
 *  11 browse concentration evidence (gross.h, oq_gross_evidence;
 *     oq_resp_features sets 0, the caller fills it): the log-likelihood
 *     ratio of the customer's events under the favourite-category filter
 *     with a concentrated against a wide browser; it tells persuadable
 *     customers (wide browsers on the example logs) from the rest better
 *     than feature 0, as it weighs every event against the drifting
 *     favourite and grows with the evidence
 * (0-2 need the events stream; without it they are 0 for every customer.)
 * The response to the browse repeat rate is far from linear (narrow and wide
 * browsers answer coupons differently, with a threshold between them), so it
 * also enters through OQ_RESP_NKNOT hinge functions max(0, x0 - k_j) with
 * knots k_j at its deciles over the training rows (linear interpolation,
 * gsl_stats_quantile_from_sorted_data). The model's inputs are the F
 * features then the hinges, each standardised.
 * Training rows are the log's rows with the features before their day (so a
 * row never sees its own outcome); tomorrow's features use every row, with
 * days_since_last_purchase advanced as in oq_profit_data_day.
 *
 * The fit: features standardised over all rows; for each coupon c, Newton's
 * method (IRLS) on the mean negative log-likelihood of order_placed over the
 * rows with coupon c plus ridge/2 |w|^2 (intercept penalised ridge x 1e-4,
 * which keeps it finite when an arm has no order), with a backtracking line
 * search. Gradient and Hessian are sums over rows, so shards can fit one
 * model by summing them (data-parallel, as the brief asks).
 */
#ifndef OFFERQ_RESPONSE_H
#define OFFERQ_RESPONSE_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"

#define OQ_RESP_NFEAT 12

/* Which features the nightly job's response model uses (`offerq run
 * --features`, reward.h's oq_reward_input.features). Two parts of the default
 * were built around the generator's own story (issue 16): feature 11, the
 * browse concentration evidence (a contrast of a concentrated 0.8 and a wide
 * 0.2 browser, chosen where the generator's persuadable customers browse at
 * 0.35 and the rest at 0.6-0.75), and g's next-order category mix from the
 * drifting favourite-category filter (gross.h, step 5), the generator's own
 * model of browsing. docs/readme/worlds.md measures the model with and
 * without them in world variants.
 *   ALL          every feature (the default)
 *   NO_EVIDENCE  feature 11 held at 0 (the trees never split on it); g as ALL
 *   RAW          no story: feature 11 at 0 and g's category mix from the
 *                customer's own earlier orders (gross.h, OQ_GROSS_MIX_ORDERS),
 *                no favourite filter. Features 0-10 are generic summaries of
 *                the history (counts, rates, recency, the browse repeat rate)
 *                and stay. */
enum { OQ_RESP_FEATURES_ALL = 0, OQ_RESP_FEATURES_NO_EVIDENCE = 1, OQ_RESP_FEATURES_RAW = 2 };
/* "all", "no-evidence", "raw"; parse returns the mode or -1. */
const char *oq_resp_features_name(int mode);
int oq_resp_features_parse(const char *s);
#define OQ_RESP_NKNOT 9
#define OQ_RESP_NIN (OQ_RESP_NFEAT + OQ_RESP_NKNOT) /* model inputs */

/* Features are stored in single precision (10M rows x 12 = 480 MB); every
 * computation on them is in double. */
typedef float oq_resp_feat;

typedef struct oq_resp {
    double knot[OQ_RESP_NKNOT];                 /* hinge knots on feature 0 */
    double mean[OQ_RESP_NIN], std[OQ_RESP_NIN]; /* standardisation of the inputs */
    double w[4][OQ_RESP_NIN + 1];               /* per coupon: intercept, then weights */
    double gross_b0, gross_b1, gross_s2;        /* log g = b0 + b1 log aov, residual variance */
    size_t gross_n;    /* orders with aov > 0 and profit > 0 in that fit (< 2: unused) */
    double gross_mean; /* mean gross profit of an order: g where the fit is unused or
                          avg_order_value is 0 */
    size_t n_rows[4];  /* training rows per coupon */
    double orders[4];  /* orders among them */
    double loss[4];    /* final objective per coupon */
    int iters[4], converged[4];
} oq_resp;

typedef struct oq_resp_opts {
    double ridge; /* 1e-3 (on the mean log-likelihood) */
    int max_iter; /* 50 */
    double tol;   /* 1e-10: stop when the Newton decrement^2/2 falls below */
} oq_resp_opts;

void oq_resp_opts_default(oq_resp_opts *o);

/* Features of every log row (n, F) in row order, and tomorrow's features of
 * every customer of ix (n_customers, F) on day `tomorrow`. ev (grouped by
 * evx) may be NULL. Customers are independent: parallel over customers. */
int oq_resp_features(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                     const oq_events_ix *evx, int32_t tomorrow, oq_resp_feat *row_f /* (n, F) */,
                     oq_resp_feat *tom_f /* (n_customers, F) or NULL */, oq_error *err) OQ_WUR;

/* Fit on n rows: features X (n, F), coupon (n), order (n), gross profit
 * (n; used where order is 1) and avg_order_value (n). A coupon that no row
 * was offered gets the weights of the nearest cheaper coupon with rows (else
 * the nearest dearer one): it is assumed to move nobody, so r^ never prefers
 * it (n_rows[c] = 0 says so). Errors: OQ_EINVAL (no rows, a coupon index
 * over 3), OQ_ENUM (non-finite data or a failed solve). */
int oq_resp_fit(const oq_resp_feat *X, const uint8_t *coupon, const uint8_t *order,
                const double *profit, const double *aov, size_t n, const oq_resp_opts *o,
                oq_resp *out, oq_error *err) OQ_WUR;

/* P(order | x, c) for the 4 coupons. */
void oq_resp_p_order(const oq_resp *m, const oq_resp_feat *x, double p[4]);
/* r^(x, c) = P(order | x, c) (g(x) - value(c)) for the 4 coupons, with
 * g(x) = exp(gross_b0 + gross_b1 log aov + gross_s2 / 2) with aov from x[9],
 * or gross_mean where aov is 0 or the fit has fewer than 2 orders. */
void oq_resp_rhat(const oq_resp *m, const oq_resp_feat *x, double rhat[4]);
/* g(x) of oq_resp_rhat alone. */
double oq_resp_gross(const oq_resp *m, const oq_resp_feat *x);

#endif
