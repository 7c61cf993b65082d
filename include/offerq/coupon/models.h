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
 * r^ comes from one of three sources (oq_models_opts.reward):
 *   OQ_REWARD_RESPONSE (the default of `offerq run`): the coupon response
 *     model (response.h), fitted on the log's contact rows with each
 *     customer's own history and browsing features, in seconds;
 *   OQ_REWARD_TRANSFORMER: the profit Transformer (profit.h), see below;
 *   OQ_REWARD_EMPIRICAL: the rhat scorer passed in (the interim empirical
 *     mean per state x coupon).
 * The profit Transformer is
 * loaded from model_path, or trained on the log (+ its events stream, the
 * `<stem>.events.csv` sidecar or events_path) and saved to save_model. It is
 * predicted once for every log row and coupon, and for every customer on
 * `tomorrow` (the rows of the pipeline's tomorrow log, in customer index
 * order), in batches (oq_profit_predict_all). Without it, r^ is the rhat
 * scorer passed in (the interim empirical estimate), and the name says so.
 */
#ifndef OFFERQ_MODELS_H
#define OFFERQ_MODELS_H

#include "offerq/coupon/bgnbd.h"
#include "offerq/core/data.h"
#include "offerq/coupon/dynaq.h"
#include "offerq/core/error.h"
#include "offerq/coupon/pmodel.h"
#include "offerq/coupon/response.h"

typedef struct oq_models oq_models;

enum { OQ_REWARD_EMPIRICAL = 0, OQ_REWARD_TRANSFORMER = 1, OQ_REWARD_RESPONSE = 2 };
/* "empirical", "transformer", "response"; parse returns -1 for an unknown name. */
const char *oq_reward_name(int reward);
int oq_reward_parse(const char *name);

typedef struct oq_models_opts {
    const char *log_path;    /* for the sidecar rule; may be NULL */
    const char *orders_path; /* explicit purchases file; NULL: sidecar or log rows */
    int quiet;
    int reward;              /* OQ_REWARD_*: where r^ comes from */
    int keep_features;       /* keep the response model's row features for
                                oq_models_response_features (n x OQ_RESP_NFEAT floats) */
    const char *events_path; /* events for the Transformer and the response model; NULL:
                                the log's events sidecar if present, else none */
    /* the profit Transformer */
    const char *model_path; /* reuse this checkpoint; NULL: train one */
    const char *save_model; /* write the trained model here, or NULL */
    int epochs;             /* training epochs (3) */
    uint64_t seed;
    const oq_log_index *ix; /* the log's index (required unless reward is EMPIRICAL) */
    int32_t tomorrow;       /* the day the plan is for */
    /* the response model's P(order | x, coupon) learner (pmodel.h); NULL: the
       defaults (boosted trees) with `seed` */
    const oq_pmodel_opts *pmodel;
} oq_models_opts;

/* Validation MSE per epoch of the profit model trained in oq_models_fit
 * (n = 0 when it was loaded or not used): model, predict-the-mean. */
typedef struct oq_models_profit_report {
    int epochs;
    double val_mse[8], val_mse_mean[8], train_mse[8], seconds[8];
    int trained, loaded;
    char events[256];
} oq_models_profit_report;
const oq_models_profit_report *oq_models_profit(const oq_models *m);
/* The response model fitted in oq_models_fit (NULL unless reward is RESPONSE). */
const oq_resp *oq_models_response(const oq_models *m);
/* The response model's P(order | x, coupon) of tomorrow's customers (index
 * order; (n_customers, 4)), or NULL when r^ is not the response model. */
const double *oq_models_p_order_tomorrow(const oq_models *m);
/* The response model's features of the log's rows ((log->n, OQ_RESP_NFEAT),
 * P(alive) filled), or NULL when r^ is not the response model or the
 * features were not kept (oq_models_opts.keep_features). */
const oq_resp_feat *oq_models_response_features(const oq_models *m);
/* The response model's r^ of the log's rows ((log->n, 4)) and its g (the
 * expected gross profit of an order, (log->n); kept only with
 * keep_features), or NULL when r^ is not the response model. */
const double *oq_models_rhat_rows(const oq_models *m);
const double *oq_models_gross_rows(const oq_models *m);
/* The fitted g model (gross.h) in brief, or NULL. */
typedef struct oq_gross_info {
    int from_orders;
    double drift, conc, alpha, m0, sa2, se2, pop_f;
    size_t n_orders, n_cats_used;
} oq_gross_info;
const oq_gross_info *oq_models_gross(const oq_models *m);
/* What the P(order) learner's fit did, or NULL. */
const oq_pmodel_info *oq_models_pmodel(const oq_models *m);

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
