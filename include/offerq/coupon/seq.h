/* seq.h - the sequence response model: P(order | history, coupon) from a
 * Transformer over the customer's daily history (issue 16, items 1-3).
 *
 * Input of a row (a customer on a contact day t): one token per day of the
 * T days before t (t-T .. t-1, oldest first: nothing of day t itself), each
 * the sum of three embeddings,
 *   browse   the day's browsing category (0 = no event, 1 = a category
 *            unknown to the model, 2 + k = category k),
 *   order    an order that day, by value band (0 = none, 1 + b = band b of
 *            the order values, n_bands bands cut at the training orders'
 *            quantiles),
 *   contact  an earlier log row that day (0 = none, 1 + 2 coupon + ordered:
 *            the coupon shown and whether the customer ordered),
 * plus a learned position embedding; and OQ_SEQ_NSTATE state features of
 * the row (below), standardised with the training set's mean and std.
 *
 * Network (every layer an explicit forward and backward, llm.c-style):
 *   x0 = Eb[browse] + Eo[order] + Ec[contact] + P[t]            (B, T, C)
 *   -> L post-LN encoder layers (torch.nn.TransformerEncoderLayer, the
 *      profit Transformer's, nn_int.h)                          (B, T, C)
 *   -> coupon query pooling: the coupon c's learned embedding q_c (C) is
 *      the one query of a multi-head attention over the encoded sequence
 *      (torch.nn.MultiheadAttention(C, pool_heads), keys and values the
 *      encoder output): u_c = MHA(q_c, X, X)                    (B, 4, C)
 *   -> z = [u_c, q_c, state] (2C + NSTATE) -> Linear(H) -> ReLU -> Linear(1)
 *      -> logit of P(order | history, c)
 *   loss: binary cross-entropy with logits on the logged (row, coupon
 *   shown, ordered), mean over the batch.
 * The keys and values are projected once per row, so one encoder pass
 * scores all 4 coupons (4 queries of T dot products and a head each).
 *
 * State features (raw values; the model standardises them):
 *   0 log(1 + days_since_last_purchase)
 *   1 purchases_last_30d
 *   2 log(1 + avg_order_value)
 *   3 remaining_budget_pct
 *   4 P(alive) from BG/NBD (alive.h; 1 without a survival model): the
 *     model's P(order) is the whole order probability (as response.h's)
 *   5-7 the whole browsing history before the day, beyond the window:
 *     log(1 + days since the first event), events per day since then, and
 *     the share of consecutive events on the same category,
 *     (same + 0.3) / (pairs + 1)
 *
 * Thread safety: one thread per model at a time (calls parallelise
 * internally); training mutates the model.
 */
#ifndef OFFERQ_SEQ_H
#define OFFERQ_SEQ_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"

struct oq_orders; /* gross.h */
struct oq_alive;  /* alive.h */

#define OQ_SEQ_NSTATE 8
#define OQ_SEQ_NCONTACT 9 /* 0 + 4 coupons x ordered */
#define OQ_SEQ_NTOK 3     /* sub-tokens per day: browse, order, contact */
#define OQ_SEQ_MAX_SEQ 1024
#define OQ_SEQ_MAX_BANDS 16
#define OQ_SEQ_VERSION                                                                             \
    3                           /* 2: the last day trained on (version 1 files are read); 3: extra \
                                   state features (written only by a model with them) */
#define OQ_SEQ_MAX_STATE 24     /* OQ_SEQ_NSTATE + oq_seq_config.n_extra_state at most */
#define OQ_SEQ_NO_DAY INT32_MIN /* oq_seq.last_day: unknown */
#define OQ_SEQ_TOK_UNKNOWN 1    /* browse: a category the model does not know */
#define OQ_SEQ_TOK_CAT0 2       /* browse: category k is 2 + k */

typedef struct oq_seq_config {
    int seq_len;       /* T, days of history: 30 */
    int d;             /* C, model width: 32 */
    int heads;         /* encoder heads: 4 (must divide d) */
    int layers;        /* L: 1 */
    int ff;            /* F, feed-forward width: 64 */
    int pool_heads;    /* heads of the coupon query pooling: 4 (must divide d) */
    int hidden;        /* H, head MLP width: 64 */
    int n_bands;       /* order value bands: 4 */
    int n_browse;      /* Vb = 2 + categories (set by oq_seq_new) */
    float dropout;     /* encoder dropout: 0.1 */
    int n_extra_state; /* state features after the OQ_SEQ_NSTATE above (their caller fills
                          them, e.g. `offerq run --seq-state full`: the response model's 12,
                          response.h); 0 */
} oq_seq_config;

void oq_seq_config_default(oq_seq_config *cfg);

/* Parameter tensors, views into one block (pytorch layout: Linear weights
 * are (out, in)). Z = 2C + OQ_SEQ_NSTATE. */
typedef struct oq_seq_params {
    float *wtb;     /* (Vb, C) browse embedding */
    float *wto;     /* (1 + n_bands, C) order embedding */
    float *wtc;     /* (OQ_SEQ_NCONTACT, C) contact embedding */
    float *wpe;     /* (T, C) position embedding */
    float *qkvw;    /* (L, 3C, C) encoder, as profit.h */
    float *qkvb;    /* (L, 3C) */
    float *projw;   /* (L, C, C) */
    float *projb;   /* (L, C) */
    float *ln1w;    /* (L, C) */
    float *ln1b;    /* (L, C) */
    float *fcw;     /* (L, F, C) */
    float *fcb;     /* (L, F) */
    float *fcprojw; /* (L, C, F) */
    float *fcprojb; /* (L, C) */
    float *ln2w;    /* (L, C) */
    float *ln2b;    /* (L, C) */
    float *cq;      /* (4, C) coupon query embeddings */
    float *pqkvw;   /* (3C, C) pooling in_proj (q, k, v) */
    float *pqkvb;   /* (3C) */
    float *pow;     /* (C, C) pooling out_proj */
    float *pob;     /* (C) */
    float *h1w;     /* (H, Z) */
    float *h1b;     /* (H) */
    float *h2w;     /* (H) (1, H) */
    float *h2b;     /* (1) */
} oq_seq_params;
#define OQ_SEQ_NTENSORS 25

typedef struct oq_seq_acts oq_seq_acts; /* private */

typedef struct oq_seq {
    oq_seq_config cfg;
    size_t n_params;
    size_t tensor_size[OQ_SEQ_NTENSORS];
    oq_seq_params p; /* views into mem */
    oq_seq_params g; /* gradients, views into gmem (after the first backward) */
    float *mem, *gmem;
    float *m, *v; /* AdamW moments or NULL */
    long step;
    double state_mean[OQ_SEQ_MAX_STATE], state_std[OQ_SEQ_MAX_STATE];
    double band_edge[OQ_SEQ_MAX_BANDS]; /* (n_bands - 1) ascending value cuts */
    uint32_t n_cats;                    /* = n_browse - 2 */
    char **cat_names;                   /* (n_cats) category of browse token 2 + k */
    int32_t last_day;  /* the last log day it was trained on (set by its trainer; a warm
                          start's fresh rows come after it), or OQ_SEQ_NO_DAY */
    oq_seq_acts *acts; /* oq_seq_forward's activations (lazily allocated) */
    struct oq_seq_workers *workers; /* oq_seq_step's micro-batches (lazily allocated) */
} oq_seq;

/* New model with PyTorch's default initialisation (Embedding N(0, 1),
 * Linear U(+-1/sqrt(in)), in_proj Xavier-uniform with zero bias, out_proj
 * zero bias, LayerNorm 1/0) from oq_rng (seed, 0). Vb = 2 + cats->n, the
 * names copied; band edges all 0 (oq_seq_data_new sets them for a new
 * model). OQ_EINVAL (bad dimensions), OQ_ENOMEM. */
int oq_seq_new(const oq_seq_config *cfg, const oq_dict *cats, uint64_t seed, oq_seq **out,
               oq_error *err) OQ_WUR;
void oq_seq_free(oq_seq *m);
const char *oq_seq_tensor_name(int i);
float *oq_seq_tensor(oq_seq_params *p, int i);

/* ---- samples ------------------------------------------------------------- */

typedef struct oq_seq_samples {
    size_t n;
    int seq_len;
    uint16_t *tok;    /* (n, T, 3) browse, order band, contact; oldest day first */
    int n_state;      /* state features per sample: OQ_SEQ_NSTATE + the model's n_extra_state */
    float *state;     /* (n, n_state) raw state features */
    uint8_t *coupon;  /* (n) logged coupon */
    uint8_t *order;   /* (n) logged outcome */
    float *reward;    /* (n) logged net reward */
    float *g;         /* (n) expected gross profit of an order (gross.h), or 0 */
    int64_t *user_id; /* (n) */
} oq_seq_samples;

int oq_seq_samples_new(size_t n, int seq_len, oq_seq_samples **out, oq_error *err) OQ_WUR;
/* The same with n_state state features per sample (OQ_SEQ_NSTATE to
 * OQ_SEQ_MAX_STATE; zeros). */
int oq_seq_samples_new_ns(size_t n, int seq_len, int n_state, oq_seq_samples **out,
                          oq_error *err) OQ_WUR;
void oq_seq_samples_free(oq_seq_samples *s);

/* The sample builder: a log and its index, optionally the events stream and
 * the purchases (orders: NULL = the log's order rows with their profit as
 * the value), bound to a model's categories and bands (model NULL: the
 * log's dictionary, and band edges cut at the quantiles of all order
 * values, stored into *edges (n_bands - 1) for the new model). Events must
 * have been read with &log->cats. Everything is borrowed. */
typedef struct oq_seq_data oq_seq_data;
int oq_seq_data_new(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                    const struct oq_orders *orders, const oq_seq *model, int seq_len, int n_bands,
                    double *edges, oq_seq_data **out, oq_error *err) OQ_WUR;
void oq_seq_data_free(oq_seq_data *d);

/* Tokens (T, 3) of customer c (index position) for the T days before day. */
void oq_seq_data_tokens(const oq_seq_data *d, size_t c, int32_t day, uint16_t *tok);

/* One sample per row of `rows` (the builder's log itself, or a snapshot log
 * of the same customers such as oq_log_tomorrow's): tokens before the row's
 * day, state features from the row (P(alive) from alive, or 1 when NULL),
 * coupon, outcome, net reward, and g[i] (NULL: 0). Rows of customers not in
 * the index get an empty history. */
int oq_seq_data_build(const oq_seq_data *d, const oq_log *rows, const struct oq_alive *alive,
                      const double *g, oq_seq_samples **out, oq_error *err) OQ_WUR;

/* ---- training ------------------------------------------------------------ */

typedef struct oq_seq_train_opts {
    int epochs;               /* at most this many: 10 */
    int patience;             /* stop after this many epochs without a better DR: 3 */
    int min_epochs;           /* the first epoch that may be kept or stop training: 5 */
    int batch;                /* 256 */
    double lr;                /* peak learning rate, 2e-3 */
    double lr_min;            /* the cosine schedule's floor, as a share of lr: 0.1 */
    int warmup;               /* steps of linear warm-up: 100 */
    double weight_decay;      /* 0.01 */
    double beta1, beta2, eps; /* 0.9, 0.999, 1e-8 */
    double clip;              /* 1.0; 0 = none */
    double val_frac;          /* share of customers held out: 0.2 */
    uint64_t seed;
    int quiet;
    /* oq_seq_train_warm's short budget: */
    int warm_epochs;  /* at most this many epochs after epoch 0: 1 */
    size_t warm_rows; /* training rows per epoch: the fresh ones, then a replay
                         sample of older rows: 16384 */
    double warm_lr;   /* peak learning rate (no warm-up): 2e-5 (5e-4 and 1e-4 lost
                         true uplift on 70k rows: bench/results/warm_seq.md) */
} oq_seq_train_opts;

void oq_seq_train_opts_default(oq_seq_train_opts *o);

/* The validation report of an epoch (held-out customers). */
typedef struct oq_seq_epoch {
    double train_logloss;    /* mean over the epoch's batches */
    double val_logloss;      /* held-out log-loss of P(order | x, logged coupon) */
    double val_logloss_base; /* ... of each coupon's training order rate */
    double val_dr;           /* doubly-robust value of the greedy policy, per row */
    double val_dr_se;
    double val_ips;     /* its IPS value */
    double val_matched; /* share of held-out rows whose logged coupon it picks */
    double seconds;
} oq_seq_epoch;

/* What the training found (beside the per-epoch report). */
typedef struct oq_seq_train_report {
    int epochs_run, best_epoch; /* the model keeps best_epoch's weights */
    int first_epoch;            /* 1; 0 for a warm start (epoch 0: the model as it came) */
    size_t n_train, n_val;
    size_t n_fresh, n_replay; /* a warm start's training rows: fresh, replayed */
    double mu[4];             /* logging propensities used: the coupons' shares */
    double val_dr_fixed[4];   /* DR value of always offering each coupon */
    double val_dr_logged;     /* mean logged reward of the held-out rows */
} oq_seq_train_report;

/* Is a row of user u held out? A hash of (seed, u) below val_frac. */
int oq_seq_is_val(uint64_t seed, int64_t user_id, double val_frac);

/* Train on s: customers split by oq_seq_is_val; state scaling from the
 * training rows; up to opts->epochs of shuffled minibatches (BCE, AdamW,
 * clipping; the learning rate warms up linearly over `warmup` steps, then
 * follows a cosine from lr down to lr_min x lr at the last epoch); after
 * each epoch the held-out report into hist[e] (may be NULL; room for
 * opts->epochs): log-loss, and the doubly-robust value
 *   DR = mean_i [ r^(x_i, pi_i) + 1[a_i = pi_i] / mu(a_i) (r_i - r^(x_i, a_i)) ]
 * of the greedy policy pi_i = argmax_c r^(x_i, c), r^ = P(order | x, c)
 * (g - value(c)), with the logging propensities mu = the coupons' shares of
 * the training rows (a logging policy that ignores x, as `offerq gen`'s).
 * Early stopping on DR: from epoch min_epochs on (earlier epochs only
 * train), the weights of the epoch with the best DR are kept, and training
 * stops after `patience` such epochs without a better one (0: never). With
 * val_frac 0 every epoch runs and the last weights are kept. Errors: OQ_EINVAL, OQ_ENOMEM,
 * OQ_ENUM (non-finite loss or state features). */
int oq_seq_train(oq_seq *m, const oq_seq_samples *s, const oq_seq_train_opts *opts,
                 oq_seq_epoch *hist, oq_seq_train_report *rep, oq_error *err) OQ_WUR;

/* Warm start (the nightly job's): m, trained before (yesterday's model),
 * keeps its state scaling and bands, and is first scored as it came on the
 * held-out rows (epoch 0, hist[0]; hist needs room for warm_epochs + 1).
 * Then at most warm_epochs epochs over warm_rows training rows: every fresh
 * training row (fresh[i] != 0: rows new since m was trained; a random
 * warm_rows of them if there are more) and a random replay sample of the
 * older training rows, drawn once from seed; AdamW from zero moments, lr
 * warm_lr on a cosine to lr_min x warm_lr, no warm-up. Every epoch, epoch 0
 * included, is a candidate of the early stopping on the held-out DR, and
 * training stops at the first epoch that is not better (patience 1), so a
 * night that does not improve keeps yesterday's weights (best_epoch 0). The
 * split, the propensities and the report are oq_seq_train's. */
int oq_seq_train_warm(oq_seq *m, const oq_seq_samples *s, const uint8_t *fresh,
                      const oq_seq_train_opts *opts, oq_seq_epoch *hist, oq_seq_train_report *rep,
                      oq_error *err) OQ_WUR;

/* Can m (read from path, named in messages) be warm-started by a run whose
 * model would be `want` on a log with categories cats? The same
 * architecture (seq_len, d, heads, layers, ff, pool_heads, hidden, n_bands)
 * and the same set of category names (the model maps them by name; a
 * category it does not know, or one the log lacks, is another shape). The
 * coupons are the 4 of the format. 0, or OQ_EINVAL naming what differs. */
int oq_seq_check_shape(const oq_seq *m, const char *path, const oq_seq_config *want,
                       const oq_dict *cats, oq_error *err) OQ_WUR;

/* Everything a fit of the model takes (the reward model's and `offerq
 * train`'s): architecture and training options. */
typedef struct oq_seq_opts {
    oq_seq_config cfg;
    oq_seq_train_opts train;
} oq_seq_opts;
/* oq_seq_config_default + oq_seq_train_opts_default (reward_sequence.c). */
void oq_seq_opts_default(oq_seq_opts *o);

/* ---- inference ----------------------------------------------------------- */

/* P(order | history, coupon) of every sample and coupon into p (n, 4):
 * one encoder pass per sample. OQ_EINVAL (seq_len mismatch), OQ_ENOMEM. */
int oq_seq_predict(const oq_seq *m, const oq_seq_samples *s, double *p, oq_error *err) OQ_WUR;

/* ---- low level (tests, benchmarks) --------------------------------------- */

/* Forward of b samples in model units: tok (b, T, 3), zs (b, NSTATE)
 * standardised state features, coupon (b). training=1 applies dropout with
 * masks from oq_rng (drop_seed, i). logit (b) may be NULL; with y (b, 0/1)
 * the mean BCE into *loss. all4 != NULL: also the logits of all 4 coupons
 * (b, 4) (no gradients). Activations are kept for oq_seq_backward. */
int oq_seq_forward(oq_seq *m, const uint16_t *tok, const float *zs, const uint8_t *coupon, int b,
                   int training, uint64_t drop_seed, const float *y, float *logit, float *all4,
                   double *loss, oq_error *err) OQ_WUR;
/* The last forward's activations of one layer (tests): OQ_SEQ_ACT_X0 the
 * summed embeddings (b, T, C), OQ_SEQ_ACT_ENC the encoder output (b, T, C),
 * OQ_SEQ_ACT_POOLED the pooling's output for each sample's coupon (b, C);
 * NULL before a forward. */
enum { OQ_SEQ_ACT_X0 = 0, OQ_SEQ_ACT_ENC = 1, OQ_SEQ_ACT_POOLED = 2 };
const float *oq_seq_activation(const oq_seq *m, int which);
/* Gradients of the last forward's mean BCE into m->g (overwritten). */
int oq_seq_backward(oq_seq *m, oq_error *err) OQ_WUR;
/* One training step on a batch of b samples (what oq_seq_train does per
 * batch): forward and backward of the mean BCE in micro-batches of
 * OQ_SEQ_MICRO samples spread over the OpenMP threads (each thread runs
 * whole micro-batches; their gradients are summed in micro-batch order, so
 * the step does not depend on the number of threads), then clipping and
 * AdamW at learning rate lr. Dropout masks of sample i from (drop_seed, i).
 * *loss: the batch's mean BCE; *gnorm: the gradient norm before clipping.
 * OQ_EINVAL (bad tokens or coupons), OQ_ENOMEM, OQ_ENUM (non-finite loss or
 * gradient: no update). */
#define OQ_SEQ_MICRO 32
int oq_seq_step(oq_seq *m, const uint16_t *tok, const float *zs, const uint8_t *coupon,
                const float *y, int b, uint64_t drop_seed, double lr, const oq_seq_train_opts *o,
                double *loss, double *gnorm, oq_error *err) OQ_WUR;
/* Clip and one AdamW step (as oq_profit_adamw). */
double oq_seq_adamw(oq_seq *m, double lr, double beta1, double beta2, double eps,
                    double weight_decay, double clip);
/* FLOPs per sample: training (forward + backward of one coupon) or
 * inference (forward, all 4 coupons). */
double oq_seq_flops(const oq_seq_config *cfg, int training);

/* ---- checkpoint ---------------------------------------------------------- */

/* "OQSEQMDL" | u32 version | u32 T C NH L F NP H NB Vb | f32 dropout |
 * i32 last_day (version 2; version 1 files load with OQ_SEQ_NO_DAY) |
 * f64 state_mean[NS] state_std[NS] band_edge[NB - 1] | u32 n_cats, names as
 * u16 len + bytes | u64 n_params | f32 params | u32 CRC-32. Atomic write. */
int oq_seq_save(const oq_seq *m, const char *path, oq_error *err) OQ_WUR;
/* OQ_EFORMAT on bad magic, version, checksum, configuration, truncation or
 * non-finite values; OQ_EIO if unreadable. */
int oq_seq_load(const char *path, oq_seq **out, oq_error *err) OQ_WUR;

#endif
