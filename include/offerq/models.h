/* models.h - the product's scorer for the nightly job: BG/NBD P(alive) x
 * predicted net reward r^, behind the oq_scorer interface of dynaq.h.
 *
 * P(alive) of a row (customer u, snapshot day d) is the BG/NBD posterior
 * from u's purchases strictly before d: x = distinct purchase days - 1,
 * t_x = last - first, T = d - first (days). The model is fitted once on every
 * customer's purchases up to the last log day. Purchases come from the log's
 * `<stem>.orders.csv` sidecar when it exists (the shop's full order stream),
 * else from the log's own order rows (order_placed = 1).
 *
 * r^ comes from the profit model when one is given; without one, from the
 * empirical shrunken mean reward per (state, coupon) of the interim scorer
 * (pipeline.h), and the scorer says so in its name.
 */
#ifndef OFFERQ_MODELS_H
#define OFFERQ_MODELS_H

#include "offerq/bgnbd.h"
#include "offerq/data.h"
#include "offerq/dynaq.h"
#include "offerq/error.h"

typedef struct oq_models oq_models;

typedef struct oq_models_opts {
    const char *log_path;    /* for the sidecar rule; may be NULL */
    const char *orders_path; /* explicit purchases file; NULL: sidecar or log rows */
    int quiet;
} oq_models_opts;

/* Fit BG/NBD on the purchases (see above) and prepare per-customer purchase
 * histories. rhat_ctx/rhat supply r^ (n, 4) for rows: the caller's profit
 * model or the interim scorer; borrowed, must outlive the models.
 * *out: oq_models_free. */
int oq_models_fit(const oq_log *log, const oq_models_opts *o, oq_scorer rhat, oq_models **out,
                  oq_error *err) OQ_WUR;
void oq_models_free(oq_models *m);
/* The scorer view: p_alive from BG/NBD, rhat from the r^ source. */
oq_scorer oq_models_scorer(oq_models *m);
/* The BG/NBD fit (estimates per day) and where the purchases came from. */
const oq_bgnbd_fit_report *oq_models_bgnbd(const oq_models *m);
const char *oq_models_purchase_source(const oq_models *m);
/* (x, t_x, T) in days of customer u just before day d; returns 0 if u has no
 * purchase before d (then P(alive) is taken as 1). */
int oq_models_rft(const oq_models *m, int64_t u, int32_t d, double *x, double *tx, double *T);

#endif
