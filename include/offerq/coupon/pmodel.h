/* pmodel.h - the order-probability learner P(order | x, coupon) of the
 * response model (response.h), behind one small interface.
 *
 * Two learners:
 *   OQ_PMODEL_BOOST     gradient-boosted trees (XGBoost, Debian
 *                       libxgboost-dev, through its C API) fitted as one
 *                       "S-learner": the inputs are the history features x
 *                       (response.h, OQ_RESP_NFEAT of them), then "a coupon
 *                       is offered" (0/1) and the coupon's face
 *                       value, so the trees find for themselves which
 *                       customers a coupon moves and which it puts off.
 *                       P(order) is constrained to be non-decreasing in
 *                       the face value (XGBoost's monotone_constraints):
 *                       a bigger coupon never lowers the chance of an
 *                       order, while the step from none to a coupon is
 *                       free (a "sleeping dog" is put off by any coupon).
 *                       Objective binary:logistic, histogram trees
 *                       (tree_method hist), 400 trees of depth 4, eta
 *                       0.05, row subsample 0.8. The default.
 *   OQ_PMODEL_LOGISTIC  one ridge logistic regression per coupon
 *                       (oq_resp_fit), the model of the previous release.
 * Why trees: the response is an interaction (a narrow browser with no
 * reaction to earlier coupons vs. a wide browser who ordered when given
 * one), which the additive logistic model cannot express. The policies
 * each learner and setting gave: docs/readme/dynaq.md.
 *
 * Data-parallel: XGBoost's hist method sums gradient histograms over rows,
 * so a multi-node fit (its collective/rabit allreduce) is the same model.
 * Deterministic for a given seed, with any number of threads (test_pmodel
 * compares 1 and 2).
 *
 * Large logs: the fit uses at most max_rows rows (a deterministic subsample
 * by row hash when the log has more); prediction covers every row.
 */
#ifndef OFFERQ_PMODEL_H
#define OFFERQ_PMODEL_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"
#include "offerq/coupon/response.h"

enum { OQ_PMODEL_BOOST = 0, OQ_PMODEL_LOGISTIC = 1 };
/* Most extra input columns after the history features (oq_pmodel_opts.n_extra). */
#define OQ_PMODEL_MAX_EXTRA 4

/* "boost" / "logistic"; parse returns the kind or -1. */
const char *oq_pmodel_name(int kind);
int oq_pmodel_parse(const char *s);

typedef struct oq_pmodel_opts {
    int kind;                /* OQ_PMODEL_BOOST */
    int trees;               /* boosting rounds, 300 */
    int depth;               /* max tree depth, 4 */
    double eta;              /* learning rate, 0.05 */
    double subsample;        /* row subsample per tree, 0.8 */
    double min_child_weight; /* minimum hessian sum in a leaf, 20 */
    double lambda;           /* L2 on leaf weights, 1 */
    int threads;             /* XGBoost's threads; 0: OpenMP's default (OMP_NUM_THREADS).
                                Like every OpenMP loop here, its threads spin at barriers:
                                when another busy process shares the cores, two threads
                                can be slower than one (docs/readme/dynaq.md); set
                                OMP_NUM_THREADS=1 on a shared box */
    uint64_t seed;           /* 1 */
    size_t max_rows;         /* rows used for the fit, 1,000,000 */
    int quiet;               /* no progress on stderr */
    int n_extra;             /* extra input columns (boost only, at most
                                OQ_PMODEL_MAX_EXTRA): each row of X is then the
                                OQ_RESP_NFEAT history features and n_extra more
                                (the sequence model's logits with `offerq run
                                --seq-features`, reward.h); 0 */
} oq_pmodel_opts;

void oq_pmodel_opts_default(oq_pmodel_opts *o);

typedef struct oq_pmodel oq_pmodel;

/* What the fit did (for report.json). */
typedef struct oq_pmodel_info {
    int kind, trees, depth;
    int n_extra;            /* the fit's extra columns: X's rows are OQ_RESP_NFEAT + n_extra */
    size_t rows_used, rows; /* rows fitted / rows given */
    double train_logloss;   /* 0 here; the nightly job fills in the log-loss of the
                               log's rows (oq_pmodel_logloss) from its predictions */
    double seconds;
} oq_pmodel_info;

/* Fit on n rows: features X (n, OQ_RESP_NFEAT + o->n_extra), coupon (n, 0..3), order
 * (n, 0/1); profit and aov (n) feed the logistic learner's g (response.h)
 * and are otherwise unused. Errors: OQ_EINVAL (no rows, coupon > 3, bad
 * options), OQ_ENUM (non-finite feature), OQ_ENOMEM, OQ_EIO (XGBoost
 * failed; its message is in err). */
int oq_pmodel_fit(const oq_pmodel_opts *o, const oq_resp_feat *X, const uint8_t *coupon,
                  const uint8_t *order, const double *profit, const double *aov, size_t n,
                  oq_pmodel **out, oq_error *err) OQ_WUR;

/* P(order | x_i, c) for n rows (X as the fit's: OQ_RESP_NFEAT + n_extra
 * columns) and the 4 coupons into p (n, 4). The trees
 * are copied out of XGBoost after the fit and walked here, all 4 coupons of
 * a row in one walk (they part only at splits on the coupon columns):
 * about 3x fewer node visits than 4 separate predictions; parallel over
 * rows. */
int oq_pmodel_predict(const oq_pmodel *m, const oq_resp_feat *X, size_t n, double *p,
                      oq_error *err) OQ_WUR;
/* The same through XGBoost's own predictor (XGBoosterPredictFromDense),
 * the reference for tests and benchmarks. The logistic learner: OQ_EINVAL. */
int oq_pmodel_predict_xgboost(const oq_pmodel *m, const oq_resp_feat *X, size_t n, double *p,
                              oq_error *err) OQ_WUR;

const oq_pmodel_info *oq_pmodel_get_info(const oq_pmodel *m);
/* Mean log-loss of predictions p (n, 4) of rows with coupon (n) and order (n). */
double oq_pmodel_logloss(const double *p, const uint8_t *coupon, const uint8_t *order, size_t n);
/* Its sum (the mean is the sum / n), for sums over the parts of a job. */
double oq_pmodel_logloss_sum(const double *p, const uint8_t *coupon, const uint8_t *order,
                             size_t n);

/* Whether the row of customer user on day is in a deterministic sample of
 * share keep (1 when keep >= 1): a hash of (user, day, seed), so a part of a
 * partitioned job (comm.h) picks its rows of the sample alone. The nightly
 * job fits on the rows it keeps with keep = max_rows / rows when the log has
 * more than max_rows rows. */
int oq_pmodel_keep_key(int64_t user, int32_t day, uint64_t seed, double keep);

/* A fitted model as bytes (what predictions need: the trees copied out of
 * XGBoost, or the logistic fit, and the info; not XGBoost's booster), for
 * the parts of a job to share one fit. *out malloc'ed (the caller frees). */
int oq_pmodel_to_bytes(const oq_pmodel *m, void **out, size_t *len, oq_error *err) OQ_WUR;
/* A model from such bytes (same build): predicts as the original with
 * oq_pmodel_predict; oq_pmodel_predict_xgboost is unavailable (no booster).
 * OQ_EFORMAT, OQ_ENOMEM. */
int oq_pmodel_from_bytes(const void *buf, size_t len, oq_pmodel **out, oq_error *err) OQ_WUR;
/* The logistic learner's fit (weights, and its log-log g), or NULL. */
const oq_resp *oq_pmodel_logistic(const oq_pmodel *m);

void oq_pmodel_free(oq_pmodel *m);

#endif
