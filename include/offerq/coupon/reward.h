/* reward.h - the job's reward models: r^_i(c), the predicted net reward of
 * offering coupon c on a row, behind one interface.
 *
 * A reward model is fitted on the log (and the survival model, alive.h) and
 * then scores two things: every log row (what Dyna-Q learns from) and every
 * customer's snapshot of tomorrow (tomorrow's log, oq_log_tomorrow: what the
 * plan decides on). Three implementations, each in its own file:
 *   OQ_REWARD_RESPONSE (reward_response.c, the default of `offerq run`): the
 *     coupon response model (response.h): P(order | history, coupon) from the
 *     chosen learner (pmodel.h) times the expected margin g - value (gross.h);
 *     P(alive) is one of its inputs, so its r^ already is the whole expected
 *     reward (rhat_has_alive) and it predicts P(order) for the spend; with
 *     seq_features its trees also get the sequence model's cross-fitted
 *     logits of P(order | history, c) (reward_int.h, oq_seq_fold_logits);
 *   OQ_REWARD_TRANSFORMER (reward_transformer.c): the profit Transformer
 *     (profit.h), loaded or trained on the log and its events stream;
 *   OQ_REWARD_SEQUENCE (reward_sequence.c): the sequence response model
 *     (seq.h): P(order | daily history, coupon) from a Transformer over the
 *     customer's browsing, orders and earlier contacts, times g - value as
 *     the response model (P(alive) an input: rhat_has_alive);
 *   OQ_REWARD_EMPIRICAL (reward_empirical.c): the logged mean net reward per
 *     (state, coupon), shrunk along a back-off chain: a baseline that needs
 *     nothing but the log, and the spend model of rewards without a P(order).
 */
#ifndef OFFERQ_REWARD_H
#define OFFERQ_REWARD_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/dynaq.h"
#include "offerq/coupon/pmodel.h"
#include "offerq/coupon/response.h"

struct json_t;      /* jansson's */
struct oq_seq_opts; /* seq.h */

enum {
    OQ_REWARD_EMPIRICAL = 0,
    OQ_REWARD_TRANSFORMER = 1,
    OQ_REWARD_RESPONSE = 2,
    OQ_REWARD_SEQUENCE = 3,
    OQ_N_REWARDS = 4
};
/* "empirical", "transformer", "response", "sequence"; parse returns -1 for
 * an unknown name. */
const char *oq_reward_name(int reward);
int oq_reward_parse(const char *name);

/* What a reward model is fitted on; everything is borrowed and must outlive
 * the model. */
typedef struct oq_reward_input {
    const oq_log *log;
    const oq_log_index *ix;
    int32_t day;            /* the day the plan is for (the log's last day + 1) */
    const oq_log *tomorrow; /* oq_log_tomorrow(log, ix, day): one row per customer */
    const oq_alive *alive;  /* P(alive), an input of the response model */
    const oq_dynaq_disc *disc;
    const char *log_path;          /* for the events sidecar rule; may be NULL */
    const char *events_path;       /* browsing events; NULL: the log's sidecar if present */
    const char *model_path;        /* Transformer, sequence: reuse this checkpoint; NULL: train */
    const char *save_model;        /* Transformer, sequence: write the trained model here */
    const char *warm_path;         /* sequence: warm-start from this model (yesterday's), a
                                      short training (oq_seq_train_warm); NULL: from scratch */
    int warm_fallback;             /* 1: a warm_path that cannot be used (missing, another
                                      shape) means a cold start instead of an error */
    int epochs;                    /* Transformer: training epochs (3); sequence: at most (0:
                                      its default) */
    const struct oq_seq_opts *seq; /* sequence: architecture and training; NULL: defaults */
    const oq_pmodel_opts *pmodel;  /* response: the P(order) learner; NULL: defaults */
    int keep_features;             /* response: keep row features and g (oq_reward_response_rows) */
    int features;                  /* response: OQ_RESP_FEATURES_* (response.h); 0 = all */
    int seq_features;              /* response: 1 = the sequence model's cross-fitted logits
                                      of P(order | history, c), 4 columns, as extra inputs of
                                      the trees (`offerq run --seq-features`; one part only,
                                      boosted trees only); seq and epochs as for sequence */
    int keep_seq_columns;          /* response with seq_features: keep the trees' inputs
                                      (oq_reward_response_seq_columns; tests) */
    uint64_t seed;
    int quiet;
    /* A partitioned job (comm.h; response only): log, ix, tomorrow and alive
     * are this part's; events and orders are read for its customers; the
     * gross-profit model sums over the parts (oq_gross_fit_part) and the
     * P(order) learner is fitted on part 0 on every part's rows of the
     * sample, gathered in (user, day) order, and sent to the others as
     * bytes. NULL: one part. */
    struct oq_comm *comm;
} oq_reward_input;

typedef struct oq_reward oq_reward;

typedef struct oq_reward_ops {
    /* r^ of every log row (log->n, 4) */
    int (*score_rows)(const oq_reward *m, double *rhat, oq_error *err);
    /* r^ of every customer tomorrow (n_customers, 4) */
    int (*score_tomorrow)(const oq_reward *m, double *rhat, oq_error *err);
    /* P(order | coupon) of every customer tomorrow (n_customers, 4); NULL
     * when the model has none */
    int (*p_order_tomorrow)(const oq_reward *m, double *p, oq_error *err);
    /* what the fit did, as a JSON object (new reference), NULL if none */
    struct json_t *(*report)(const oq_reward *m);
    void (*free)(oq_reward *m);
} oq_reward_ops;

struct oq_reward {
    const oq_reward_ops *ops;
    int kind;           /* OQ_REWARD_* */
    char name[256];     /* shown in reports */
    int rhat_has_alive; /* 1: r^ already is the whole expected reward: r~ = r^ */
    const oq_reward_input *in;
};

/* Fit the model of `kind` on in. *out: oq_reward_free. */
int oq_reward_fit(int kind, const oq_reward_input *in, oq_reward **out, oq_error *err) OQ_WUR;
void oq_reward_free(oq_reward *m);

/* The implementations' constructors (what oq_reward_fit calls). */
int oq_reward_response_fit(const oq_reward_input *in, oq_reward **out, oq_error *err) OQ_WUR;
int oq_reward_transformer_fit(const oq_reward_input *in, oq_reward **out, oq_error *err) OQ_WUR;
int oq_reward_empirical_fit(const oq_reward_input *in, oq_reward **out, oq_error *err) OQ_WUR;
int oq_reward_sequence_fit(const oq_reward_input *in, oq_reward **out, oq_error *err) OQ_WUR;

/* The response model's features of the log's rows ((log->n, OQ_RESP_NFEAT),
 * P(alive) filled) and its g per row ((log->n)), kept with keep_features;
 * r^ of the rows (log->n, 4). Returns 0, or OQ_EINVAL for another kind or
 * when the features were not kept. */
int oq_reward_response_rows(const oq_reward *m, const oq_resp_feat **features, const double **rhat,
                            const double **g, oq_error *err) OQ_WUR;

/* With seq_features and keep_seq_columns: the trees' inputs of the log's
 * rows (log->n, OQ_RESP_NFEAT + 4) and of tomorrow (n_customers, same), the
 * sequence model's logits for coupons none/5/10/20 in the last 4 columns.
 * OQ_EINVAL otherwise. */
int oq_reward_response_seq_columns(const oq_reward *m, const oq_resp_feat **rows,
                                   const oq_resp_feat **tomorrow, oq_error *err) OQ_WUR;

/* P(order)'s learner (pmodel.h) fitted on the rows of log (features X,
 * (log->n, OQ_RESP_NFEAT + po->n_extra)) whose user_id has parity fold (0 or 1; -1: every
 * row), over every part of a partitioned job (comm; NULL: one part): all
 * those rows, or above po->max_rows of them in the whole log the
 * deterministic sample of oq_pmodel_keep_key. One part fits on its rows in
 * log order; parts gather their rows of the sample on part 0, sorted by
 * (user, day) (the generated log's order), which fits and sends the model
 * to the others as bytes (docs/readme/mpi.md). Collective.
 * Errors: oq_pmodel_fit's. */
int oq_pmodel_fit_log(const oq_pmodel_opts *po, struct oq_comm *comm, const oq_log *log,
                      const oq_resp_feat *X, int fold, oq_pmodel **out, oq_error *err) OQ_WUR;

/* ---- the empirical model on its own (the evaluation's DR reward model) ---- */

typedef struct oq_empirical oq_empirical;

/* Fit on log: for each level of a back-off chain (coupon; category x coupon;
 * state without budget x coupon; full state x coupon) the count, sum of net
 * reward and orders. Estimates shrink each level towards the coarser one
 * with `prior` pseudo-rows (20 if 0). *out: oq_empirical_free. OQ_ENOMEM. */
int oq_empirical_fit(const oq_log *log, const oq_dynaq_disc *d, double prior, oq_empirical **out,
                     oq_error *err) OQ_WUR;
/* The same over every part of a partitioned job (comm.h; NULL: one part,
 * oq_empirical_fit): each part's counts and sums per level and key,
 * gathered on every part and added in rank order. Collective. */
int oq_empirical_fit_part(const oq_log *log, const oq_dynaq_disc *d, double prior,
                          struct oq_comm *comm, oq_empirical **out, oq_error *err) OQ_WUR;
void oq_empirical_free(oq_empirical *m);
/* Shrunken mean net reward r (n, 4) and P(order) p (n, 4; may be NULL) of
 * rows of any log with the same categories (by their state keys). */
void oq_empirical_estimate(const oq_empirical *m, const oq_log *log, const size_t *rows, size_t n,
                           double *r, double *p);
/* The scorer view (dynaq.h): P(alive) = 1, r^ = shrunken mean net reward. */
oq_scorer oq_empirical_scorer(oq_empirical *m);

#endif
