/* profit.h - the profit Transformer: predicts the net reward of offering a
 * coupon to a customer (docs/readme/profit.md; the seed's WorldTransformer).
 *
 * Network (the seed's code, coupon-dynaq-article, class WorldTransformer):
 *   tokens (T = 30 days, oldest first) -> embedding (V, C) + learned position
 *   embedding (T, C)  [the seed has no position signal at all; we add one so
 *   that "recent days" can mean something]
 *   -> L post-LN encoder layers as torch.nn.TransformerEncoderLayer:
 *        x = LN1(x + Drop(MHA(x)));  x = LN2(x + Drop(W2 Drop(ReLU(W1 x))))
 *      (attention weights are dropped too, as in torch's MultiheadAttention)
 *   -> pooled = output at position 0 (the seed's `[:, 0, :]`)
 *   -> z = [pooled, standardised 5 state features, coupon/20]  (C + 6)
 *   -> Linear(C+6, H) -> ReLU -> Linear(H, 1) -> r^ (standardised units).
 * The coupon enters only through the head, as in the seed's code (the seed's
 * prose mentions a coupon token; its code has none). So the encoder runs once
 * per customer and the 4 coupons cost 4 tiny head evaluations
 * (oq_profit_predict_all).
 *
 * The 5 state features (the seed's STATE_COLS): days_since_last_purchase,
 * purchases_last_30d, avg_order_value, remaining_budget_pct, category_idx
 * (the id of the log row's category, as the seed feeds it). They are
 * standardised with the training set's mean and std, saved in the model.
 * The target (reward, README "Data") is standardised too; every prediction this
 * API returns is in reward units.
 *
 * Layout llm.c-style: one allocation of parameters carved into named tensors
 * (shapes below), one of gradients, two of AdamW moments, and activations
 * allocated per batch size. Matrix products go through cblas_sgemm
 * (OpenBLAS), the rest are plain loops parallel over the batch (OpenMP).
 *
 * Thread safety: a model may be used for prediction from one thread at a
 * time (each predict call parallelises internally); training mutates it.
 */
#ifndef OFFERQ_PROFIT_H
#define OFFERQ_PROFIT_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"

#define OQ_PROFIT_NFEAT 5     /* state features */
#define OQ_PROFIT_NZ_EXTRA 6  /* head input = C + 5 features + coupon/20 */
#define OQ_PROFIT_TOK_PAD 0   /* history shorter than T (no events fallback) */
#define OQ_PROFIT_TOK_EMPTY 1 /* a day without activity, or an unknown category */
#define OQ_PROFIT_TOK_CAT0 2  /* category k has token 2 + k */
#define OQ_PROFIT_MAX_SEQ 4096
#define OQ_PROFIT_VERSION 1 /* checkpoint format version */

typedef struct oq_profit_config {
    int seq_len;   /* T, days of history: 30 */
    int d;         /* C, model width: 32 */
    int heads;     /* NH: 4 (must divide d) */
    int layers;    /* L: 2 */
    int ff;        /* F, feed-forward width: 64 */
    int hidden;    /* H, head MLP width: 64 */
    int vocab;     /* V = 2 + number of categories (set by oq_profit_new) */
    float dropout; /* 0.1 */
} oq_profit_config;

/* The seed's configuration (vocab left 0). */
void oq_profit_config_default(oq_profit_config *cfg);

/* Parameter tensors, views into one block (pytorch layout: Linear weights
 * are (out, in)). */
typedef struct oq_profit_params {
    float *wte;     /* (V, C) token embedding */
    float *wpe;     /* (T, C) position embedding */
    float *qkvw;    /* (L, 3C, C) in_proj_weight: q, k, v stacked */
    float *qkvb;    /* (L, 3C) */
    float *projw;   /* (L, C, C) attention out_proj */
    float *projb;   /* (L, C) */
    float *ln1w;    /* (L, C) norm1 */
    float *ln1b;    /* (L, C) */
    float *fcw;     /* (L, F, C) linear1 */
    float *fcb;     /* (L, F) */
    float *fcprojw; /* (L, C, F) linear2 */
    float *fcprojb; /* (L, C) */
    float *ln2w;    /* (L, C) norm2 */
    float *ln2b;    /* (L, C) */
    float *h1w;     /* (H, C + 6) head layer 1 */
    float *h1b;     /* (H) */
    float *h2w;     /* (H) head layer 2, (1, H) */
    float *h2b;     /* (1) */
} oq_profit_params;
#define OQ_PROFIT_NTENSORS 18

typedef struct oq_profit_acts oq_profit_acts; /* private */

typedef struct oq_profit {
    oq_profit_config cfg;
    size_t n_params;
    size_t tensor_size[OQ_PROFIT_NTENSORS];
    oq_profit_params p; /* views into mem */
    oq_profit_params g; /* gradients, views into gmem (after first backward) */
    float *mem;         /* (n_params) */
    float *gmem;        /* (n_params) or NULL */
    float *m, *v;       /* AdamW moments (n_params) or NULL */
    long step;          /* AdamW steps taken */
    double feat_mean[OQ_PROFIT_NFEAT], feat_std[OQ_PROFIT_NFEAT];
    double y_mean, y_std; /* target scaling: r = y_mean + y_std * output */
    uint32_t n_cats;      /* = vocab - 2 */
    char **cat_names;     /* (n_cats) category of token 2 + k */
    oq_profit_acts *acts; /* training activations (lazily allocated) */
} oq_profit;

/* New model with freshly initialised weights (PyTorch's default init:
 * Linear U(+-1/sqrt(in)), embeddings N(0,1) / N(0,0.02) for positions,
 * in_proj Xavier-uniform, LayerNorm 1/0), drawn from oq_rng (seed, 0).
 * cfg->vocab is ignored: V = 2 + cats->n, and the category names are copied
 * (so a later log with another dictionary order maps by name).
 * Scaling starts as identity (mean 0, std 1). Free with oq_profit_free.
 * Errors: OQ_EINVAL (bad dimensions), OQ_ENOMEM. */
int oq_profit_new(const oq_profit_config *cfg, const oq_dict *cats, uint64_t seed, oq_profit **out,
                  oq_error *err) OQ_WUR;
void oq_profit_free(oq_profit *m);
/* Name of tensor i (0 .. OQ_PROFIT_NTENSORS-1), "wte", "qkvw", ... */
const char *oq_profit_tensor_name(int i);
/* Pointer to tensor i of a params struct (p or g). */
float *oq_profit_tensor(oq_profit_params *p, int i);

/* ---- samples ------------------------------------------------------------- */

/* A set of model inputs, structure of arrays. Features are raw (the model
 * standardises them). */
typedef struct oq_profit_samples {
    size_t n;
    int seq_len;
    uint16_t *tok;    /* (n, T) tokens, oldest day first */
    float *feat;      /* (n, 5) raw state features */
    uint8_t *coupon;  /* (n) OQ_COUPON_* index */
    float *target;    /* (n) reward (0 where unknown) */
    int64_t *user_id; /* (n) */
    int32_t *day;     /* (n) the day predicted for (snapshot day) */
} oq_profit_samples;

/* Allocate n zeroed samples of length seq_len. Free with oq_profit_samples_free. */
int oq_profit_samples_new(size_t n, int seq_len, oq_profit_samples **out, oq_error *err) OQ_WUR;
void oq_profit_samples_free(oq_profit_samples *s);

/* The sample builder: a log, its index, and optionally the events stream,
 * bound to a model's vocabulary (by category name) or to the log's own. */
typedef struct oq_profit_data oq_profit_data;

/* Bind log (+ index ix, + events ev or NULL) to model's vocabulary (model
 * NULL: the log's dictionary, token 2 + log category id; used to build a new
 * model's training set). Events must have been read with &log->cats.
 * seq_len is T (model->cfg.seq_len when model is given). All arguments are
 * borrowed and must outlive the builder. Free with oq_profit_data_free. */
int oq_profit_data_new(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                       const oq_profit *model, int seq_len, oq_profit_data **out,
                       oq_error *err) OQ_WUR;
void oq_profit_data_free(oq_profit_data *d);

/* Tokens of customer c (index in ix) for the T days before `day`
 * (day-T .. day-1, oldest first) into tok (T). With events: the day's
 * category, or EMPTY on days without an event. Without events: the
 * categories of the customer's log rows dated before `day`, latest T of them,
 * right-aligned after PAD. Works for any (customer, day). */
void oq_profit_data_tokens(const oq_profit_data *d, size_t c, int32_t day, uint16_t *tok);

/* One sample per log row (row order): tokens before the snapshot day, the
 * row's features, coupon and reward. */
int oq_profit_data_build(const oq_profit_data *d, oq_profit_samples **out, oq_error *err) OQ_WUR;

/* One sample per customer (index order) for day `day` (e.g. the day after
 * the last log day): tokens of the T days before `day`; features from the
 * customer's latest log row before `day`, with days_since_last_purchase
 * advanced to `day` (reset to the gap when that row had an order); coupon
 * OQ_COUPON_NONE and target 0 (the caller sets coupons or uses predict_all).
 * Customers without a row before `day` get the features of their first row. */
int oq_profit_data_day(const oq_profit_data *d, int32_t day, oq_profit_samples **out,
                       oq_error *err) OQ_WUR;

/* ---- training ------------------------------------------------------------ */

typedef struct oq_profit_train_opts {
    int epochs;               /* 3 */
    int batch;                /* 256 */
    double lr;                /* 2e-3 */
    double weight_decay;      /* 0.01 (torch.optim.AdamW's default) */
    double beta1, beta2, eps; /* 0.9, 0.999, 1e-8 */
    double clip;              /* global gradient-norm clip, 1.0; 0 = none */
    double val_frac;          /* share of customers held out, 0.2 */
    uint64_t seed;            /* split, shuffling, dropout */
    int quiet;                /* no progress bar */
} oq_profit_train_opts;

void oq_profit_train_opts_default(oq_profit_train_opts *o);

typedef struct oq_profit_epoch {
    double train_mse;    /* mean training-batch MSE, reward units */
    double val_mse;      /* validation MSE, reward units */
    double val_mse_mean; /* validation MSE of predicting the training mean */
    double seconds;
} oq_profit_epoch;

/* Is sample i's customer in the validation set? A hash of (seed, user_id)
 * below val_frac: deterministic, and all rows of a customer go together. */
int oq_profit_is_val(uint64_t seed, int64_t user_id, double val_frac);

/* Train on s: customers split by oq_profit_is_val; scaling fitted on the
 * training part; opts->epochs of shuffled minibatches (MSE, AdamW with
 * decoupled weight decay, Loshchilov & Hutter 2019, alg. 2; gradient clipping
 * by global norm); validation after each epoch into hist[epoch] (hist may be
 * NULL). Progress on stderr unless quiet. Errors: OQ_EINVAL (no training
 * samples, wrong seq_len), OQ_ENOMEM, OQ_ENUM (a feature or the target with
 * non-finite or overflowing values, or a non-finite loss). A column with
 * variance <= 1e-12 (1 + mean^2) is constant: std 1. */
int oq_profit_train(oq_profit *m, const oq_profit_samples *s, const oq_profit_train_opts *opts,
                    oq_profit_epoch *hist, oq_error *err) OQ_WUR;

/* ---- inference ----------------------------------------------------------- */

/* r^ for each sample with its own coupon into out (n). Eval mode (no
 * dropout). Standardised features are clamped to +-1e4 standard deviations
 * (NaN to 0), so extreme raw values give finite answers. Errors: OQ_EINVAL
 * (seq_len mismatch), OQ_ENOMEM, OQ_ENUM (a non-finite r^: weights or
 * scaling out of range). */
int oq_profit_predict(const oq_profit *m, const oq_profit_samples *s, float *out,
                      oq_error *err) OQ_WUR;

/* The optimiser's call: r^ for every sample and every coupon (none, 5, 10,
 * 20) into out (n, 4), row-major (out[4*i + c]); s->coupon is ignored. The
 * encoder runs once per sample, in chunks of 256 over OpenMP threads and
 * sgemm. Same clamping and errors as oq_profit_predict. */
int oq_profit_predict_all(const oq_profit *m, const oq_profit_samples *s, float *out,
                          oq_error *err) OQ_WUR;

/* ---- low level (tests, benchmarks) -------------------------------------- */

/* Forward (and, with targets, the loss) of one batch of b samples in raw
 * model units: tok (b, T), zfeat (b, 6) = standardised features + coupon/20.
 * training=1 applies dropout with masks drawn from oq_rng (drop_seed, i) for
 * sample i (so the same drop_seed reproduces the same masks). out (b) gets
 * the network output; returns the MSE against y (b) in *loss when y != NULL.
 * Activations are kept in the model for oq_profit_backward. */
int oq_profit_forward(oq_profit *m, const uint16_t *tok, const float *zfeat, int b, int training,
                      uint64_t drop_seed, const float *y, float *out, double *loss,
                      oq_error *err) OQ_WUR;
/* Gradients of the last forward's mean MSE into m->g (overwritten). */
int oq_profit_backward(oq_profit *m, oq_error *err) OQ_WUR;
/* Clip the gradient to global norm `clip` (0 = none), then one AdamW step
 * (Loshchilov & Hutter 2019, alg. 2; bias-corrected as torch.optim.AdamW).
 * Returns the norm before clipping; a non-finite norm (overflowing
 * gradients) is returned without any update, NAN when the moments cannot be
 * allocated (m->m stays NULL). */
double oq_profit_adamw(oq_profit *m, double lr, double beta1, double beta2, double eps,
                       double weight_decay, double clip);
/* FLOPs of one training sample (forward + backward) and one inference
 * sample (forward only, one coupon): counts 2 per multiply-add of the
 * matrix products and attention, the rest ignored. */
double oq_profit_flops(const oq_profit_config *cfg, int training);

/* ---- checkpoint ---------------------------------------------------------- */

/* Binary file, little-endian:
 *   "OQPROFIT" | u32 version | u32 T C NH L F H V | f32 dropout |
 *   f64 feat_mean[5] feat_std[5] y_mean y_std | u32 n_cats, n_cats x (u16 len,
 *   bytes) | u64 n_params | f32 params[n_params] | u32 CRC-32 of all before.
 * Written atomically (oq_afile). */
int oq_profit_save(const oq_profit *m, const char *path, oq_error *err) OQ_WUR;
/* Load a checkpoint; OQ_EFORMAT with a clear message on bad magic, another
 * version, a bad checksum, a truncated file, a configuration outside
 * oq_profit_new's limits or asking for more weights than the file holds
 * (checked before allocating), non-finite weights or scalings; OQ_EIO if
 * unreadable. */
int oq_profit_load(const char *path, oq_profit **out, oq_error *err) OQ_WUR;

#endif
