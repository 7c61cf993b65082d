/* gross.h - g(x), the expected gross profit of a customer's next order,
 * from the customer's own order values, the category it is likely to buy
 * and that category's value level and margin.
 *
 * Why it exists. The nightly reward is r^(x, c) = P(order | x, c) (g(x) -
 * value(c)) (response.h), where g(x) comes from a log-log regression on the
 * customer's average order value. Order values differ by category and so do
 * margins; the browsing stream says which category comes next. (What it
 * changed on the generated logs: docs/readme/dynaq.md.)
 *
 * Data. The purchases file <stem>.orders.csv (user_id,date,value; value =
 * order value before margin), the customer log (order rows give the gross
 * profit of the order on a contact day) and the events stream (one row per
 * customer and active day). Orders of users not in the log index are
 * ignored.
 *
 * The model (every parameter fitted from the data):
 *  1. Category of an order: the category of the customer's event on the
 *     order's day (several rows that day: the last one in the stream). None
 *     that day: unknown (-1), with b = 0 below.
 *  2. Value effects, log v = a_u + b_k, by alternating least squares over
 *     the orders with a known category, `sweeps` (20) times:
 *        a_u = mean over u's known orders of (log v - b_k),
 *        b_k = mean over k's orders of (log v - a_u),
 *     then b centred to mean 0 over the categories with orders. b_k = 0 for
 *     categories without orders (and for the unknown category).
 *  3. Levels and variances. Each customer's level is recomputed over ALL its
 *     orders (unknown category: b = 0), a_u = mean(log v - b_k), n_u = its
 *     orders; residuals e = log v - a_u - b_k over all orders;
 *        se2 = sum e^2 / max(N - U - K, 1)   (N orders, U customers with
 *              orders, K categories with known orders),
 *        m0  = mean of a_u over the U customers,
 *        sa2 = max(var(a_u) - mean(se2 / n_u), 1e-3)   (var: population,
 *              1/U; method of moments for the spread of the true levels).
 *  4. Margins: log rows with order_placed = 1 are matched to the customer's
 *     order(s) of that day in the orders file (several: their values are
 *     summed); margin_k = sum profit / sum value over the matched rows whose
 *     log category is k. A category with fewer than `margin_min_rows` (5)
 *     matched rows gets the pooled margin (sum over all / sum over all).
 *  5. Category of the next order on day t: a hidden favourite category
 *     followed through the customer's events strictly before t (a forward
 *     filter of a hidden Markov chain over the K categories):
 *       - before the first event the favourite is uniform over the K;
 *       - each day it is redrawn uniformly with probability `drift`, so over
 *         d days pi <- keep pi + (1 - keep) / K, keep = (1 - drift)^d;
 *       - an event on category e has P(e | favourite k) = conc [e = k] +
 *         (1 - conc) / K, and pi_k <- pi_k P(e | k) / sum_j pi_j P(e | j)
 *         (several events on one day: one update each, in stream order);
 *     then p_k = alpha pi_k + (1 - alpha) pop_k, pop_k = share of category k
 *     among the orders with a known category. (drift, conc, alpha) maximise
 *     sum over orders with a known category of log p_{k(order)} (pi from the
 *     events strictly before the order's day) on the grid OQ_GROSS_DRIFTS x
 *     OQ_GROSS_CONCS x alpha in 0.1 .. 0.9 (the first maximum in (drift,
 *     conc, alpha) order wins). Above OQ_GROSS_FIT_ORDERS known-category
 *     orders the search uses a deterministic sample of customers, those
 *     whose id u has ((u * 0x9E3779B97F4A7C15) >> 32) mod s = 0, s =
 *     ceil(known orders / OQ_GROSS_FIT_ORDERS) (fit_stride). Without events:
 *     drift = conc = alpha = 0 and p = pop.
 *     The posterior is held sparse, pi_k = u + w_k with w_k kept for at most
 *     OQ_GROSS_FAV_CAP (32) browsed categories (a new one past that folds
 *     the smallest w_k into u, keeping sum pi = 1; exact below 33 browsed
 *     categories), so that K may be 65535. A filter rather than the shares
 *     of a window's events because the favourite drifts (docs/readme/dynaq.md
 *     has the comparison).
 *  6. Prediction for customer u on day t from its orders strictly before t
 *     (n of them, abar = mean of log v - b_k): a normal-normal posterior of
 *     the level,
 *        P = 1/sa2 + n/se2, mu = (m0/sa2 + n abar/se2) / P, pv = 1/P
 *     (n = 0: mu = m0, pv = sa2), and with f_k = exp(b_k) margin_k,
 *        g = exp(mu + pv/2 + se2/2) sum_k p_k f_k,
 *        sum_k p_k f_k = alpha (u sum_f + sum_k w_k f_k) + (1 - alpha) pop_f,
 *     sum_f = sum_k f_k, pop_f = sum_k pop_k f_k.
 *  7. Without an orders file the same model is fitted on the log's own order
 *     rows with a profit > 0 (value := profit, margin := 1, category = the
 *     row's category, always known), so g is still available.
 * If no order has a known category (orders file but no events): b = 0,
 * pop_f = the pooled margin, and alpha = 0 (g uses the level only).
 *
 * Deterministic (no randomness; sums in a fixed order whatever the number
 * of threads). Customers are independent in oq_gross_predict (parallel
 * over customers, OpenMP when built with it).
 */
#ifndef OFFERQ_GROSS_H
#define OFFERQ_GROSS_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"

/* ---- the purchases file ------------------------------------------------------ */

#define OQ_ORDERS_HEADER "user_id,date,value"

/* One row per purchase, in file order. */
typedef struct oq_orders {
    size_t n, cap;
    int64_t *user_id; /* (n) */
    int32_t *day;     /* (n) days since 1970-01-01 */
    double *value;    /* (n) order value before margin, finite and > 0 */
} oq_orders;

/* Read <stem>.orders.csv (path "-" = stdin): header with the columns
 * user_id, date, value in any order; every field checked (integer id, date
 * YYYY-MM-DD, value a finite number > 0). The first bad field stops the
 * read with OQ_EPARSE naming file, line, column and what was expected.
 * *out is the caller's (oq_orders_free); NULL on error. */
int oq_orders_read(const char *path, oq_orders **out, oq_error *err) OQ_WUR;
/* Only the rows of one part's customers (comm.h; every row read and checked,
 * the date horizon the whole file's). */
struct oq_part;
int oq_orders_read_part(const char *path, const struct oq_part *part, oq_orders **out,
                        oq_error *err) OQ_WUR;
/* Same from memory (tests, fuzzing); name is used in messages. */
int oq_orders_read_mem(const char *name, const char *data, size_t len, oq_orders **out,
                       oq_error *err) OQ_WUR;
void oq_orders_free(oq_orders *o);

/* ---- the model ----------------------------------------------------------------- */

#define OQ_GROSS_NDRIFT 8
#define OQ_GROSS_DRIFTS                                                                            \
    {                                                                                              \
        0.005, 0.01, 0.02, 0.03, 0.05, 0.08, 0.13, 0.2                                             \
    } /* per day */
#define OQ_GROSS_NCONC 7
#define OQ_GROSS_CONCS                                                                             \
    {                                                                                              \
        0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8                                                          \
    }
#define OQ_GROSS_NALPHA 9          /* alpha = 0.1, 0.2, ..., 0.9 */
#define OQ_GROSS_FAV_CAP 32        /* categories held apart in a customer's filter */
#define OQ_GROSS_FIT_ORDERS 500000 /* known-category orders the grid search uses at most */

/* The next order's category mix (step 5 or its story-free alternative,
 * `offerq run --features raw`, response.h):
 *   OQ_GROSS_MIX_FILTER  the favourite-category filter of step 5 (default)
 *   OQ_GROSS_MIX_ORDERS  the categories of the customer's own earlier orders
 *                        with a known category, shrunk to the population by
 *                        one pseudo-order: p_k = (n_k + pop_k) / (n + 1), so
 *                        sum_k p_k f_k = (sum over those orders of f_k(order)
 *                        + pop_f) / (n + 1). No filter is fitted (drift = conc
 *                        = alpha = 0, and oq_gross_evidence gives 0). */
enum { OQ_GROSS_MIX_FILTER = 0, OQ_GROSS_MIX_ORDERS = 1 };

typedef struct oq_gross_opts {
    int sweeps;             /* 20: alternating least-squares sweeps (step 2) */
    size_t margin_min_rows; /* 5: fewer matched rows -> pooled margin (step 4) */
    int mix;                /* OQ_GROSS_MIX_FILTER (default) or OQ_GROSS_MIX_ORDERS */
} oq_gross_opts;

void oq_gross_opts_default(oq_gross_opts *o);

typedef struct oq_gross {
    size_t n_cats;       /* K: log->cats.n at fit time */
    double *b;           /* (K) category effect on log value, mean 0 over categories with orders */
    double *margin;      /* (K) gross profit / value (1 without an orders file) */
    double *pop;         /* (K) share of the known-category orders */
    double *f;           /* (K) f_k = exp(b_k) margin_k (step 6) */
    double m0, sa2, se2; /* level mean, level variance, residual variance (log scale) */
    double pooled_margin;
    double pop_f;  /* sum_k pop_k exp(b_k) margin_k */
    double sum_f;  /* sum_k f_k over the K categories */
    double drift;  /* daily probability that the favourite is redrawn */
    double conc;   /* weight of the favourite in an event's category */
    double alpha;  /* weight of the favourite in the next order's category (0: no
                      known category, the filter is unused) */
    double loglik; /* category log-likelihood at (drift, conc, alpha) */
    double loglik_grid[OQ_GROSS_NDRIFT][OQ_GROSS_NCONC][OQ_GROSS_NALPHA]; /* the grid */
    size_t n_orders;      /* N: orders used (customers in the log index) */
    size_t n_known;       /* ... of which with a known category */
    size_t n_customers;   /* U: customers with orders */
    size_t n_cats_used;   /* categories with known orders */
    size_t n_margin_rows; /* log order rows matched to an order (0 without orders) */
    size_t fit_stride;    /* step 5's sample: customers whose id hashes to 0 mod this (1: all) */
    int from_orders;      /* 1: fitted on an orders file; 0: on the log (step 7) */
    int mix;              /* OQ_GROSS_MIX_* of the fit's options */
} oq_gross;

/* Fit the model (steps 1-5, 7). log and ix are required; ev/evx may both be
 * NULL (no events); orders may be NULL (step 7); opts NULL = defaults.
 * *out is the caller's (oq_gross_free); NULL on error.
 * Errors: OQ_EINVAL (events without their index or of another log, a
 * category id outside the log's dictionary, no order to fit, an orders file
 * that matches none of the log's order rows (no margin)), OQ_ENOMEM,
 * OQ_ENUM (non-finite result). */
int oq_gross_fit(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                 const oq_events_ix *evx, const oq_orders *orders, const oq_gross_opts *opts,
                 oq_gross **out, oq_error *err) OQ_WUR;

/* The same fit for one part of a partitioned job (comm.h): log, ix, events
 * and orders hold this part's customers; every sum of steps 2-5 (counts,
 * effects, levels, margins, the category grid's log-likelihoods) is added
 * over the parts in rank order, so every part gets the same model (for a
 * given number of parts; one part: oq_gross_fit). Collective. */
struct oq_comm;
int oq_gross_fit_part(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                      const oq_events_ix *evx, const oq_orders *orders, const oq_gross_opts *opts,
                      struct oq_comm *comm, oq_gross **out, oq_error *err) OQ_WUR;

/* g (step 6) for every log row, from history strictly before the row's day
 * (g_row, (log->n), in row order), and for every customer of ix on day
 * `tomorrow` from all history before it (g_tom, (ix->n_customers), or NULL).
 * Pass the same log, events and orders as to the fit (orders NULL exactly
 * when the model was fitted without them). Errors: OQ_EINVAL (mismatched
 * inputs), OQ_ENOMEM. */
int oq_gross_predict(const oq_gross *m, const oq_log *log, const oq_log_index *ix,
                     const oq_events *ev, const oq_events_ix *evx, const oq_orders *orders,
                     int32_t tomorrow, double *g_row /* OUT: (log->n) */,
                     double *g_tom /* OUT: (ix->n_customers) or NULL */, oq_error *err) OQ_WUR;

/* Browse concentration evidence of every log row (x_row[i * stride], i <
 * log->n, from the customer's events strictly before the row's day) and of
 * every customer on day `tomorrow` (x_tom[c * stride], c < ix->n_customers;
 * x_tom may be NULL), in single precision (feature columns): the log-
 * likelihood ratio of the customer's events under the favourite filter of
 * step 5 with conc OQ_GROSS_EVIDENCE_HI against OQ_GROSS_EVIDENCE_LO (the
 * fitted drift; K = the model's categories),
 *     sum over events e of log p_hi(e | earlier events) - log p_lo(e | ...),
 *     p(e | earlier) = (1 - conc) / K + conc pi_e.
 * Positive: the customer keeps to a favourite that drifts; negative: browses
 * widely; its size grows with the evidence. 0 without events (or drift 0).
 * The P(order) learner's feature 11 (response.h): it weighs every event
 * against the drifting favourite where the browse repeat rate counts only
 * neighbouring days (docs/readme/dynaq.md). Errors as oq_gross_predict. */
#define OQ_GROSS_EVIDENCE_HI 0.8
#define OQ_GROSS_EVIDENCE_LO 0.2
int oq_gross_evidence(const oq_gross *m, const oq_log *log, const oq_log_index *ix,
                      const oq_events *ev, const oq_events_ix *evx, int32_t tomorrow, float *x_row,
                      float *x_tom, size_t stride, oq_error *err) OQ_WUR;

void oq_gross_free(oq_gross *m);

#endif
