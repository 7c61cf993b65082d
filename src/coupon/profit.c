/* profit.c - the profit Transformer (see profit.h): parameters, forward and
 * backward per layer (llm.c-style), MSE, AdamW, gradient clipping, training,
 * batched inference and the checkpoint file.
 *
 * The encoder layer is torch.nn.TransformerEncoderLayer(norm_first=False):
 *   r1 = x + Drop(MHA(x)),  h1 = LN1(r1)
 *   r2 = h1 + Drop(W2 Drop(ReLU(W1 h1 + b1)) + b2),  out = LN2(r2)
 * MHA = scaled dot-product attention (Vaswani et al. 2017, eq. 1) with
 * dropout on the attention weights (as torch does), LN eps 1e-5 (torch's).
 * The layers themselves are nn.c's (nn_int.h), shared with seq.c.
 */
#include "offerq/coupon/profit.h"
#include "nn_int.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "util/rbuf.h"
#include "util/wbuf.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#define OMP_FOR _Pragma("omp parallel for schedule(static)")
#else
#define OMP_FOR
#endif

static const char *tensor_names[OQ_PROFIT_NTENSORS] = {
    "wte", "wpe",     "qkvw",    "qkvb", "projw", "projb", "ln1w", "ln1b", "fcw",
    "fcb", "fcprojw", "fcprojb", "ln2w", "ln2b",  "h1w",   "h1b",  "h2w",  "h2b"};

const char *oq_profit_tensor_name(int i)
{
    return (i >= 0 && i < OQ_PROFIT_NTENSORS) ? tensor_names[i] : "?";
}

float *oq_profit_tensor(oq_profit_params *p, int i)
{
    float **t = &p->wte; /* the struct is OQ_PROFIT_NTENSORS float pointers in order */
    return (i >= 0 && i < OQ_PROFIT_NTENSORS) ? t[i] : NULL;
}

void oq_profit_config_default(oq_profit_config *cfg)
{
    *cfg = (oq_profit_config){.seq_len = 30,
                              .d = 32,
                              .heads = 4,
                              .layers = 2,
                              .ff = 64,
                              .hidden = 64,
                              .vocab = 0,
                              .dropout = 0.1f};
}

static void tensor_sizes(const oq_profit_config *c, size_t *sz)
{
    size_t V = (size_t)c->vocab, T = (size_t)c->seq_len, C = (size_t)c->d, L = (size_t)c->layers,
           F = (size_t)c->ff, H = (size_t)c->hidden;
    size_t s[OQ_PROFIT_NTENSORS] = {V * C,     T * C,     L * 3 * C * C,
                                    L * 3 * C, L * C * C, L * C,
                                    L * C,     L * C,     L * F * C,
                                    L * F,     L * C * F, L * C,
                                    L * C,     L * C,     H * (C + OQ_PROFIT_NZ_EXTRA),
                                    H,         H,         1};
    memcpy(sz, s, sizeof s);
}

static void point_params(oq_profit_params *p, float *mem, const size_t *sz)
{
    float **t = &p->wte;
    for (int i = 0; i < OQ_PROFIT_NTENSORS; i++) {
        t[i] = mem;
        mem += sz[i];
    }
}

static int check_config(const oq_profit_config *c, oq_error *err)
{
    if (c->seq_len < 1 || c->seq_len > OQ_PROFIT_MAX_SEQ || c->d < 1 || c->d > 4096 ||
        c->heads < 1 || c->d % c->heads || c->layers < 1 || c->layers > 64 || c->ff < 1 ||
        c->ff > 65536 || c->hidden < 1 || c->hidden > 65536 || c->vocab < 2 || c->vocab > 65536 ||
        !(c->dropout >= 0 && c->dropout < 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "bad profit model configuration (T=%d C=%d heads=%d L=%d F=%d H=%d "
                            "V=%d dropout=%g): heads must divide C, dropout in [0, 1)",
                            c->seq_len, c->d, c->heads, c->layers, c->ff, c->hidden, c->vocab,
                            (double)c->dropout);
    return 0;
}

/* Allocate the model shell for cfg (weights uninitialised, n_cats names NULL). */
static int model_alloc(const oq_profit_config *cfg, oq_profit **out, oq_error *err)
{
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc) return rc;
    oq_profit *m = calloc(1, sizeof *m);
    if (!m) return oq_error_oom(err, NULL, NULL);
    m->cfg = *cfg;
    tensor_sizes(cfg, m->tensor_size);
    for (int i = 0; i < OQ_PROFIT_NTENSORS; i++)
        m->n_params += m->tensor_size[i];
    m->mem = calloc(m->n_params, sizeof *m->mem);
    m->n_cats = (uint32_t)(cfg->vocab - OQ_PROFIT_TOK_CAT0);
    m->cat_names = calloc(m->n_cats ? m->n_cats : 1, sizeof *m->cat_names);
    if (!m->mem || !m->cat_names) {
        oq_profit_free(m);
        return oq_error_oom(err, NULL, NULL);
    }
    point_params(&m->p, m->mem, m->tensor_size);
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        m->feat_std[k] = 1;
    m->y_std = 1;
    *out = m;
    return 0;
}

static void fill_uniform(gsl_rng *r, float *w, size_t n, double bound)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2 * gsl_rng_uniform(r) - 1) * bound);
}

int oq_profit_new(const oq_profit_config *cfg0, const oq_dict *cats, uint64_t seed, oq_profit **out,
                  oq_error *err)
{
    oq_profit_config cfg = *cfg0;
    cfg.vocab = (int)cats->n + OQ_PROFIT_TOK_CAT0;
    oq_profit *m = NULL;
    gsl_rng *r = NULL;
    int rc = model_alloc(&cfg, &m, err);
    if (rc || !m) return rc ? rc : OQ_ENOMEM;
    for (uint32_t k = 0; k < m->n_cats; k++)
        if (!(m->cat_names[k] = strdup(cats->names[k]))) {
            rc = oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
    if (!(r = oq_rng_new(seed, 0))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    /* PyTorch's default initialisation of each module (see profit.h). */
    size_t C = (size_t)cfg.d, F = (size_t)cfg.ff, H = (size_t)cfg.hidden, L = (size_t)cfg.layers;
    oq_profit_params *p = &m->p;
    for (size_t i = 0; i < m->tensor_size[0]; i++)
        p->wte[i] = (float)gsl_ran_gaussian(r, 1.0);
    for (size_t i = 0; i < m->tensor_size[1]; i++)
        p->wpe[i] = (float)gsl_ran_gaussian(r, 1.0);
    for (size_t l = 0; l < L; l++) {
        fill_uniform(r, p->qkvw + l * 3 * C * C, 3 * C * C, sqrt(6.0 / (double)(4 * C)));
        fill_uniform(r, p->projw + l * C * C, C * C, 1 / sqrt((double)C));
        fill_uniform(r, p->fcw + l * F * C, F * C, 1 / sqrt((double)C));
        fill_uniform(r, p->fcb + l * F, F, 1 / sqrt((double)C));
        fill_uniform(r, p->fcprojw + l * C * F, C * F, 1 / sqrt((double)F));
        fill_uniform(r, p->fcprojb + l * C, C, 1 / sqrt((double)F));
        for (size_t i = 0; i < C; i++)
            p->ln1w[l * C + i] = p->ln2w[l * C + i] = 1;
    }
    size_t Z = C + OQ_PROFIT_NZ_EXTRA;
    fill_uniform(r, p->h1w, H * Z, 1 / sqrt((double)Z));
    fill_uniform(r, p->h1b, H, 1 / sqrt((double)Z));
    fill_uniform(r, p->h2w, H, 1 / sqrt((double)H));
    fill_uniform(r, p->h2b, 1, 1 / sqrt((double)H));
    *out = m;
    m = NULL;
cleanup:
    gsl_rng_free(r);
    oq_profit_free(m);
    return rc;
}

/* ---- activations ---------------------------------------------------------- */

struct oq_profit_acts {
    int B;        /* capacity */
    int training; /* masks and backward scratch allocated */
    int b;        /* size of the last forward's batch */
    int dropped;  /* last forward applied dropout */
    oq_nn_enc_acts *enc;
    float *mem;
    float *x0;     /* (B, T, C) embeddings */
    float *z;      /* (B, C + 6) head input */
    float *a1;     /* (B, H) before ReLU */
    float *a1r;    /* (B, H) */
    float *out;    /* (B) */
    float *y;      /* (B) targets of the last forward */
    float *dz;     /* (B, C + 6) training only */
    float *da1;    /* (B, H) */
    float *dout;   /* (B) */
    uint16_t *tok; /* (B, T) tokens of the last forward */
};

static oq_nn_enc_dims enc_dims(const oq_profit_config *c)
{
    return (oq_nn_enc_dims){c->seq_len, c->d, c->heads, c->layers, c->ff};
}

static oq_nn_enc_params enc_params(const oq_profit_params *p)
{
    return (oq_nn_enc_params){p->qkvw, p->qkvb, p->projw,   p->projb,   p->ln1w, p->ln1b,
                              p->fcw,  p->fcb,  p->fcprojw, p->fcprojb, p->ln2w, p->ln2b};
}

static void acts_free(oq_profit_acts *a)
{
    if (!a) return;
    free(a->tok);
    free(a->mem);
    oq_nn_enc_acts_free(a->enc);
    free(a);
}

static oq_profit_acts *acts_new(const oq_profit_config *c, int B, int training)
{
    oq_profit_acts *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->B = B;
    a->training = training;
    oq_nn_enc_dims d = enc_dims(c);
    size_t b = (size_t)B, T = (size_t)c->seq_len, C = (size_t)c->d, H = (size_t)c->hidden,
           Z = C + OQ_PROFIT_NZ_EXTRA;
    struct {
        float **p;
        size_t n;
        int train;
    } parts[] = {
        {&a->x0, b * T * C, 0}, {&a->z, b * Z, 0},   {&a->a1, b * H, 0},
        {&a->a1r, b * H, 0},    {&a->out, b, 0},     {&a->y, b, 0},
        {&a->dz, b * Z, 1},     {&a->da1, b * H, 1}, {&a->dout, b, 1},
    };
    size_t np = sizeof parts / sizeof *parts, total = 0;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].train || training) total += parts[i].n;
    a->enc = oq_nn_enc_acts_new(&d, B, training);
    a->mem = malloc(total * sizeof(float));
    a->tok = malloc(b * T * sizeof *a->tok);
    if (!a->enc || !a->mem || !a->tok) goto fail;
    float *q = a->mem;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].train || training) {
            *parts[i].p = q;
            q += parts[i].n;
        }
    return a;
fail:
    acts_free(a);
    return NULL;
}

void oq_profit_free(oq_profit *m)
{
    if (!m) return;
    if (m->cat_names)
        for (uint32_t k = 0; k < m->n_cats; k++)
            free(m->cat_names[k]);
    free(m->cat_names);
    acts_free(m->acts);
    free(m->mem);
    free(m->gmem);
    free(m->m);
    free(m->v);
    free(m);
}

/* ---- the network ------------------------------------------------------------ */

/* The encoder on b samples (tokens in a->tok): embeddings into a->x0, then
 * every layer's activations in a->enc. masks: apply the dropout scales. */
static void encoder_forward(const oq_profit *m, oq_profit_acts *a, int b, int masks)
{
    const oq_profit_config *c = &m->cfg;
    const oq_profit_params *p = &m->p;
    int T = c->seq_len, C = c->d, N = b * T;
    OMP_FOR
    for (int n = 0; n < N; n++) {
        const float *e = p->wte + (size_t)a->tok[n] * C, *pe = p->wpe + (size_t)(n % T) * C;
        float *x = a->x0 + (size_t)n * C;
        for (int i = 0; i < C; i++)
            x[i] = e[i] + pe[i];
    }
    oq_nn_enc_dims d = enc_dims(c);
    oq_nn_enc_params ep = enc_params(p);
    oq_nn_enc_forward(&d, &ep, a->enc, a->x0, b, masks);
}

/* Copy the pooled output (position 0 of the last layer) into z[:, :C]. */
static void pool(const oq_profit *m, oq_profit_acts *a, int b)
{
    int T = m->cfg.seq_len, C = m->cfg.d, Z = C + OQ_PROFIT_NZ_EXTRA;
    oq_nn_enc_dims d = enc_dims(&m->cfg);
    const float *xl = oq_nn_enc_out(&d, a->enc);
    for (int i = 0; i < b; i++)
        memcpy(a->z + (size_t)i * Z, xl + (size_t)i * T * C, (size_t)C * sizeof(float));
}

/* The head on z (b, C+6) -> a->out (b). */
static void head_forward(const oq_profit *m, oq_profit_acts *a, int b)
{
    int C = m->cfg.d, H = m->cfg.hidden, Z = C + OQ_PROFIT_NZ_EXTRA;
    const oq_profit_params *p = &m->p;
    oq_nn_matmul_forward(a->a1, a->z, p->h1w, p->h1b, b, Z, H);
    for (int i = 0; i < b; i++) {
        const float *x = a->a1 + (size_t)i * H;
        float *xr = a->a1r + (size_t)i * H, s = p->h2b[0];
        for (int j = 0; j < H; j++) {
            xr[j] = x[j] > 0 ? x[j] : 0.0f;
            s += xr[j] * p->h2w[j];
        }
        a->out[i] = s;
    }
}

int oq_profit_forward(oq_profit *m, const uint16_t *tok, const float *zfeat, int b, int training,
                      uint64_t drop_seed, const float *y, float *out, double *loss, oq_error *err)
{
    const oq_profit_config *c = &m->cfg;
    if (b < 1) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "empty batch");
    if (!m->acts || m->acts->B < b) {
        acts_free(m->acts);
        if (!(m->acts = acts_new(c, b, 1))) return oq_error_oom(err, NULL, "activations");
    }
    oq_profit_acts *a = m->acts;
    int T = c->seq_len, Z = c->d + OQ_PROFIT_NZ_EXTRA;
    for (size_t i = 0; i < (size_t)b * T; i++) {
        if (tok[i] >= c->vocab)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "token %u out of range (vocab %d)",
                                tok[i], c->vocab);
        a->tok[i] = tok[i];
    }
    a->b = b;
    a->dropped = training && c->dropout > 0;
    if (a->dropped) {
        oq_nn_enc_dims d = enc_dims(c);
        oq_nn_enc_draw_masks(&d, a->enc, b, c->dropout, drop_seed, 0);
    }
    encoder_forward(m, a, b, a->dropped);
    pool(m, a, b);
    for (int i = 0; i < b; i++)
        memcpy(a->z + (size_t)i * Z + c->d, zfeat + (size_t)i * OQ_PROFIT_NZ_EXTRA,
               OQ_PROFIT_NZ_EXTRA * sizeof(float));
    head_forward(m, a, b);
    if (out) memcpy(out, a->out, (size_t)b * sizeof *out);
    if (y) {
        double s = 0;
        for (int i = 0; i < b; i++) {
            a->y[i] = y[i];
            double d = (double)a->out[i] - y[i];
            s += d * d;
        }
        if (loss) *loss = s / b;
    } else {
        memset(a->y, 0, (size_t)b * sizeof *a->y);
        if (loss) *loss = NAN;
    }
    return 0;
}

int oq_profit_backward(oq_profit *m, oq_error *err)
{
    oq_profit_acts *a = m->acts;
    if (!a || a->b < 1) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "backward before forward");
    if (!m->gmem) {
        if (!(m->gmem = calloc(m->n_params, sizeof *m->gmem))) return oq_error_oom(err, NULL, NULL);
        point_params(&m->g, m->gmem, m->tensor_size);
    }
    memset(m->gmem, 0, m->n_params * sizeof *m->gmem);
    const oq_profit_config *c = &m->cfg;
    const oq_profit_params *p = &m->p;
    oq_profit_params *g = &m->g;
    int b = a->b, T = c->seq_len, C = c->d, H = c->hidden, Z = C + OQ_PROFIT_NZ_EXTRA, N = b * T;

    /* MSE = mean (out - y)^2 */
    for (int i = 0; i < b; i++)
        a->dout[i] = 2.0f * (a->out[i] - a->y[i]) / (float)b;
    /* head: out = relu(a1) . h2w + h2b, a1 = z h1w^T + h1b */
    for (int i = 0; i < b; i++) {
        const float *xr = a->a1r + (size_t)i * H, *x = a->a1 + (size_t)i * H;
        float *d = a->da1 + (size_t)i * H, dout = a->dout[i];
        g->h2b[0] += dout;
        for (int j = 0; j < H; j++) {
            g->h2w[j] += xr[j] * dout;
            d[j] = x[j] > 0 ? p->h2w[j] * dout : 0.0f;
        }
    }
    oq_nn_matmul_backward(a->dz, 0, g->h1w, g->h1b, a->da1, a->z, p->h1w, b, Z, H);
    /* only position 0 of the last layer feeds the head */
    float *dxo = a->enc->dA;
    memset(dxo, 0, (size_t)N * C * sizeof *dxo);
    for (int i = 0; i < b; i++)
        memcpy(dxo + (size_t)i * T * C, a->dz + (size_t)i * Z, (size_t)C * sizeof(float));
    oq_nn_enc_dims d = enc_dims(c);
    oq_nn_enc_params ep = enc_params(p), eg = enc_params(g);
    oq_nn_enc_backward(&d, &ep, &eg, a->enc, a->x0, dxo, b, a->dropped);
    /* x0 = wte[tok] + wpe[t] */
    for (int n = 0; n < N; n++) {
        const float *dx = dxo + (size_t)n * C;
        float *dw = g->wte + (size_t)a->tok[n] * C, *dp = g->wpe + (size_t)(n % T) * C;
        for (int i = 0; i < C; i++) {
            dw[i] += dx[i];
            dp[i] += dx[i];
        }
    }
    return 0;
}

double oq_profit_adamw(oq_profit *m, double lr, double beta1, double beta2, double eps,
                       double weight_decay, double clip)
{
    size_t n = m->n_params;
    if (!m->gmem) return 0;
    if (!m->m) {
        m->m = calloc(n, sizeof *m->m);
        m->v = calloc(n, sizeof *m->v);
        if (!m->m || !m->v) {
            free(m->m);
            free(m->v);
            m->m = m->v = NULL;
            return NAN;
        }
    }
    return oq_nn_adamw(m->mem, m->gmem, m->m, m->v, n, &m->step, lr, beta1, beta2, eps,
                       weight_decay, clip);
}

double oq_profit_flops(const oq_profit_config *c, int training)
{
    double C = c->d, H = c->hidden;
    oq_nn_enc_dims d = enc_dims(c);
    double fwd = oq_nn_enc_flops(&d) + 2 * H * (C + OQ_PROFIT_NZ_EXTRA) + 2 * H;
    /* backward: two products per forward product (input and weight grads) */
    return training ? 3 * fwd : fwd;
}

/* ---- inference ------------------------------------------------------------- */

/* A standardised feature beyond this many standard deviations is outside
 * any training distribution; clamping it keeps the head's output finite for
 * extreme raw values (days_since 1e30 would otherwise become inf, then NaN). */
#define Z_CLAMP 1e4

/* z features of sample i: standardised state features (clamped to
 * +-Z_CLAMP; NaN to 0) and coupon/20. */
static void zfeat_of(const oq_profit *m, const oq_profit_samples *s, size_t i, int coupon, float *z)
{
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++) {
        double v = (s->feat[i * OQ_PROFIT_NFEAT + k] - m->feat_mean[k]) / m->feat_std[k];
        z[k] = (float)(v > Z_CLAMP ? Z_CLAMP : v < -Z_CLAMP ? -Z_CLAMP : v == v ? v : 0);
    }
    z[OQ_PROFIT_NFEAT] = (float)(oq_coupon_value(coupon) / 20.0);
}

static int predict_impl(const oq_profit *m, const oq_profit_samples *s, float *out, int all,
                        oq_error *err)
{
    const oq_profit_config *c = &m->cfg;
    if (s->seq_len != c->seq_len)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "samples have %d days of history, the model expects %d", s->seq_len,
                            c->seq_len);
    if (s->n == 0) return 0;
    int B = s->n < 256 ? (int)s->n : 256, T = c->seq_len, C = c->d;
    int Z = C + OQ_PROFIT_NZ_EXTRA;
    oq_profit_acts *a = acts_new(c, B, 0);
    if (!a) return oq_error_oom(err, NULL, "activations");
    for (size_t i0 = 0; i0 < s->n; i0 += (size_t)B) {
        int b = (int)(s->n - i0 < (size_t)B ? s->n - i0 : (size_t)B);
        for (size_t j = 0; j < (size_t)b * T; j++) {
            uint16_t t = s->tok[i0 * T + j];
            a->tok[j] = t < c->vocab ? t : OQ_PROFIT_TOK_EMPTY;
        }
        encoder_forward(m, a, b, 0);
        pool(m, a, b);
        int nc = all ? OQ_N_COUPONS : 1;
        for (int cp = 0; cp < nc; cp++) {
            for (int i = 0; i < b; i++)
                zfeat_of(m, s, i0 + i, all ? cp : s->coupon[i0 + i], a->z + (size_t)i * Z + C);
            head_forward(m, a, b);
            for (int i = 0; i < b; i++) {
                float r = (float)(m->y_mean + m->y_std * a->out[i]);
                if (!isfinite(r)) {
                    acts_free(a);
                    return oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                                        "non-finite prediction for sample %zu (model weights or "
                                        "scaling out of range)",
                                        i0 + (size_t)i);
                }
                if (all)
                    out[(i0 + i) * OQ_N_COUPONS + cp] = r;
                else
                    out[i0 + i] = r;
            }
        }
    }
    acts_free(a);
    return 0;
}

int oq_profit_predict(const oq_profit *m, const oq_profit_samples *s, float *out, oq_error *err)
{
    return predict_impl(m, s, out, 0, err);
}

int oq_profit_predict_all(const oq_profit *m, const oq_profit_samples *s, float *out, oq_error *err)
{
    return predict_impl(m, s, out, 1, err);
}

/* ---- training -------------------------------------------------------------- */

void oq_profit_train_opts_default(oq_profit_train_opts *o)
{
    *o = (oq_profit_train_opts){.epochs = 3,
                                .batch = 256,
                                .lr = 2e-3,
                                .weight_decay = 0.01,
                                .beta1 = 0.9,
                                .beta2 = 0.999,
                                .eps = 1e-8,
                                .clip = 1.0,
                                .val_frac = 0.2,
                                .seed = 1,
                                .quiet = 0};
}

int oq_profit_is_val(uint64_t seed, int64_t user_id, double val_frac)
{
    uint64_t h = oq_mix64(oq_mix64(seed ^ 0x70726f666974ull) ^ (uint64_t)user_id);
    return (double)(h >> 11) * 0x1.0p-53 < val_frac;
}

/* Mean squared error of the model on samples idx (n), reward units, and of
 * the constant prediction `mean`. */
static int eval_mse(const oq_profit *m, const oq_profit_samples *s, const size_t *idx, size_t n,
                    double mean, double *mse, double *mse_mean, oq_error *err)
{
    *mse = *mse_mean = NAN;
    if (n == 0) return 0;
    oq_profit_samples sub = *s;
    int T = s->seq_len, rc = 0;
    sub.n = n;
    sub.tok = malloc(n * T * sizeof *sub.tok);
    sub.feat = malloc(n * OQ_PROFIT_NFEAT * sizeof *sub.feat);
    sub.coupon = malloc(n);
    float *pred = malloc(n * sizeof *pred);
    if (!sub.tok || !sub.feat || !sub.coupon || !pred) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t j = 0; j < n; j++) {
        size_t i = idx[j];
        memcpy(sub.tok + j * T, s->tok + i * T, T * sizeof *sub.tok);
        memcpy(sub.feat + j * OQ_PROFIT_NFEAT, s->feat + i * OQ_PROFIT_NFEAT,
               OQ_PROFIT_NFEAT * sizeof *sub.feat);
        sub.coupon[j] = s->coupon[i];
    }
    if ((rc = oq_profit_predict(m, &sub, pred, err))) goto cleanup;
    double a = 0, b = 0;
    for (size_t j = 0; j < n; j++) {
        double y = s->target[idx[j]];
        a += (pred[j] - y) * (pred[j] - y);
        b += (mean - y) * (mean - y);
    }
    *mse = a / n;
    *mse_mean = b / n;
cleanup:
    free(sub.tok);
    free(sub.feat);
    free(sub.coupon);
    free(pred);
    return rc;
}

int oq_profit_train(oq_profit *m, const oq_profit_samples *s, const oq_profit_train_opts *o,
                    oq_profit_epoch *hist, oq_error *err)
{
    const oq_profit_config *c = &m->cfg;
    int T = c->seq_len, rc = 0;
    size_t *tr = NULL, *va = NULL, ntr = 0, nva = 0;
    uint16_t *btok = NULL;
    float *bz = NULL, *by = NULL;
    gsl_rng *r = NULL;
    if (s->seq_len != T)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "samples have %d days of history, the model expects %d", s->seq_len, T);
    if (o->epochs < 1 || o->batch < 1 || !(o->lr > 0))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "epochs, batch and lr must be positive");
    tr = malloc((s->n + 1) * sizeof *tr);
    va = malloc((s->n + 1) * sizeof *va);
    btok = malloc((size_t)o->batch * T * sizeof *btok);
    bz = malloc((size_t)o->batch * OQ_PROFIT_NZ_EXTRA * sizeof *bz);
    by = malloc((size_t)o->batch * sizeof *by);
    r = oq_rng_new(o->seed, 1);
    if (!tr || !va || !btok || !bz || !by || !r) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (oq_profit_is_val(o->seed, s->user_id[i], o->val_frac))
            va[nva++] = i;
        else
            tr[ntr++] = i;
    }
    if (ntr == 0) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no training samples");
        goto cleanup;
    }
    /* Feature and target scaling from the training part: two passes (no
     * cancellation in E[v^2] - E[v]^2, so a constant column gets variance 0
     * and std 1, not the rounding noise of a large mean). */
    for (int k = 0; k <= OQ_PROFIT_NFEAT; k++) {
        static const char *names[OQ_PROFIT_NFEAT + 1] = {
            "days_since_last_purchase", "purchases_last_30d", "avg_order_value",
            "remaining_budget_pct",     "category_idx",       "reward (target)"};
        double sum = 0, sq = 0;
        for (size_t j = 0; j < ntr; j++)
            sum += k < OQ_PROFIT_NFEAT ? s->feat[tr[j] * OQ_PROFIT_NFEAT + k] : s->target[tr[j]];
        double mean = sum / ntr;
        for (size_t j = 0; j < ntr; j++) {
            double v =
                k < OQ_PROFIT_NFEAT ? s->feat[tr[j] * OQ_PROFIT_NFEAT + k] : s->target[tr[j]];
            sq += (v - mean) * (v - mean);
        }
        double var = sq / ntr;
        if (!isfinite(mean) || !isfinite(var)) {
            rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                              "%s has non-finite or overflowing values in the training set "
                              "(mean %g, variance %g)",
                              names[k], mean, var);
            goto cleanup;
        }
        double sd = var > 1e-12 * (1 + mean * mean) ? sqrt(var) : 1.0;
        if (k < OQ_PROFIT_NFEAT) {
            m->feat_mean[k] = mean;
            m->feat_std[k] = sd;
        } else {
            m->y_mean = mean;
            m->y_std = sd;
        }
    }
    size_t nb = (ntr + o->batch - 1) / o->batch;
    for (int e = 0; e < o->epochs; e++) {
        double t0 = oq_now(), sum = 0;
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", e + 1, o->epochs);
        oq_progress prog;
        oq_progress_start(&prog, label, (double)nb, o->quiet);
        oq_rng_seed(r, o->seed, 2 + (uint64_t)e);
        gsl_ran_shuffle(r, tr, ntr, sizeof *tr);
        for (size_t k = 0; k < nb; k++) {
            size_t i0 = k * o->batch, b = ntr - i0 < (size_t)o->batch ? ntr - i0 : (size_t)o->batch;
            for (size_t j = 0; j < b; j++) {
                size_t i = tr[i0 + j];
                memcpy(btok + j * T, s->tok + i * T, T * sizeof *btok);
                zfeat_of(m, s, i, s->coupon[i], bz + j * OQ_PROFIT_NZ_EXTRA);
                by[j] = (float)((s->target[i] - m->y_mean) / m->y_std);
            }
            double loss;
            uint64_t dseed = oq_mix64(o->seed ^ oq_mix64((uint64_t)m->step + 1));
            if ((rc = oq_profit_forward(m, btok, bz, (int)b, 1, dseed, by, NULL, &loss, err)))
                goto cleanup;
            if (!isfinite(loss)) {
                rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                                  "training loss is not finite (epoch %d, batch %zu): try a "
                                  "smaller --lr",
                                  e + 1, k + 1);
                goto cleanup;
            }
            if ((rc = oq_profit_backward(m, err))) goto cleanup;
            double gnorm =
                oq_profit_adamw(m, o->lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->clip);
            if (!m->m) {
                rc = oq_error_oom(err, NULL, "optimiser");
                goto cleanup;
            }
            if (!isfinite(gnorm)) {
                rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                                  "training gradient is not finite (epoch %d, batch %zu): try a "
                                  "smaller --lr",
                                  e + 1, k + 1);
                goto cleanup;
            }
            sum += loss * b;
            oq_progress_update(&prog, (double)k + 1);
        }
        oq_progress_done(&prog);
        oq_profit_epoch ep = {.train_mse = sum / ntr * m->y_std * m->y_std};
        if ((rc = eval_mse(m, s, va, nva, m->y_mean, &ep.val_mse, &ep.val_mse_mean, err)))
            goto cleanup;
        ep.seconds = oq_now() - t0;
        if (hist) hist[e] = ep;
        if (!o->quiet)
            fprintf(stderr,
                    "epoch %d/%d: train MSE %.4f, validation MSE %.4f (predict-the-mean %.4f), "
                    "%.1f s\n",
                    e + 1, o->epochs, ep.train_mse, ep.val_mse, ep.val_mse_mean, ep.seconds);
    }
cleanup:
    free(tr);
    free(va);
    free(btok);
    free(bz);
    free(by);
    gsl_rng_free(r);
    return rc;
}

/* ---- checkpoint ------------------------------------------------------------ */

static const char MAGIC[8] = {'O', 'Q', 'P', 'R', 'O', 'F', 'I', 'T'};

int oq_profit_save(const oq_profit *m, const char *path, oq_error *err)
{
    oq_wbuf w = {0};
    const oq_profit_config *c = &m->cfg;
    oq_wb_bytes(&w, MAGIC, 8);
    oq_wb_u32(&w, OQ_PROFIT_VERSION);
    int dims[7] = {c->seq_len, c->d, c->heads, c->layers, c->ff, c->hidden, c->vocab};
    for (int i = 0; i < 7; i++)
        oq_wb_u32(&w, (uint32_t)dims[i]);
    oq_wb_f32(&w, c->dropout);
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        oq_wb_f64(&w, m->feat_mean[k]);
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        oq_wb_f64(&w, m->feat_std[k]);
    oq_wb_f64(&w, m->y_mean);
    oq_wb_f64(&w, m->y_std);
    oq_wb_u32(&w, m->n_cats);
    for (uint32_t k = 0; k < m->n_cats; k++) {
        size_t len = strlen(m->cat_names[k]);
        oq_wb_u16(&w, (uint16_t)len);
        oq_wb_bytes(&w, m->cat_names[k], len);
    }
    oq_wb_u64(&w, m->n_params);
    for (size_t i = 0; i < m->n_params; i++)
        oq_wb_f32(&w, m->mem[i]);
    oq_wb_crc32(&w);
    int rc = w.bad ? oq_error_oom(err, path, NULL) : oq_write_file_atomic(path, w.p, w.n, err);
    oq_wb_free(&w);
    return rc;
}

static int truncated(oq_error *err, const char *path)
{
    return oq_error_set(err, OQ_EFORMAT, path, 0, 0, "model file is truncated");
}

int oq_profit_load(const char *path, oq_profit **out, oq_error *err)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    oq_profit *m = NULL;
    int rc = oq_read_file(path, (size_t)1 << 32, &data, &len, err);
    if (rc) return rc;
    oq_rbuf r = {(const unsigned char *)data, len, 0, 0};
    const unsigned char *mg = oq_rb_take(&r, 8);
    if (!mg || memcmp(mg, MAGIC, 8) != 0) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "not an offerq profit model (bad magic; expected a file written by "
                          "'offerq train')");
        goto cleanup;
    }
    if (len < 16) {
        rc = truncated(err, path);
        goto cleanup;
    }
    uint32_t ver = oq_rb_u32(&r);
    if (ver != OQ_PROFIT_VERSION) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "profit model format version %u, this offerq reads version %d: "
                          "retrain with 'offerq train'",
                          ver, OQ_PROFIT_VERSION);
        goto cleanup;
    }
    {
        const unsigned char *sb = (const unsigned char *)data + len - 4;
        uint32_t stored =
            (uint32_t)sb[0] | (uint32_t)sb[1] << 8 | (uint32_t)sb[2] << 16 | (uint32_t)sb[3] << 24;
        if (oq_crc32(0, data, len - 4) != stored) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                              "checksum mismatch: the model file is corrupt or truncated");
            goto cleanup;
        }
    }
    r.len = len - 4;
    oq_profit_config c;
    int dims[7];
    for (int i = 0; i < 7; i++)
        dims[i] = (int)oq_rb_u32(&r);
    c = (oq_profit_config){.seq_len = dims[0],
                           .d = dims[1],
                           .heads = dims[2],
                           .layers = dims[3],
                           .ff = dims[4],
                           .hidden = dims[5],
                           .vocab = dims[6]};
    c.dropout = oq_rb_f32(&r);
    if (r.bad) {
        rc = truncated(err, path);
        goto cleanup;
    }
    {
        oq_error why = {0}; /* its own buffer: err->msg cannot format itself */
        if (check_config(&c, &why)) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "bad configuration in model file: %s",
                              why.msg);
            goto cleanup;
        }
    }
    {
        /* The weights must be in the file before they are allocated: the
         * configuration alone may ask for up to 10^11 parameters. */
        size_t sz[OQ_PROFIT_NTENSORS], np = 0;
        tensor_sizes(&c, sz);
        for (int i = 0; i < OQ_PROFIT_NTENSORS; i++)
            np += sz[i];
        if (np > (r.len - r.pos) / sizeof(float)) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                              "model file too short for its configuration (%zu parameters)", np);
            goto cleanup;
        }
    }
    if ((rc = model_alloc(&c, &m, err))) goto cleanup;
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        m->feat_mean[k] = oq_rb_f64(&r);
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        m->feat_std[k] = oq_rb_f64(&r);
    m->y_mean = oq_rb_f64(&r);
    m->y_std = oq_rb_f64(&r);
    if (oq_rb_u32(&r) != m->n_cats) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "category count does not match vocab");
        goto cleanup;
    }
    for (uint32_t k = 0; k < m->n_cats; k++) {
        const unsigned char *lb = oq_rb_take(&r, 2);
        size_t n = lb ? (size_t)lb[0] | (size_t)lb[1] << 8 : 0;
        const unsigned char *s = oq_rb_take(&r, n);
        if (!s) {
            rc = truncated(err, path);
            goto cleanup;
        }
        if (!(m->cat_names[k] = strndup((const char *)s, n))) {
            rc = oq_error_oom(err, path, NULL);
            goto cleanup;
        }
    }
    if (oq_rb_u64(&r) != m->n_params) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "parameter count does not match the configuration");
        goto cleanup;
    }
    for (size_t i = 0; i < m->n_params; i++)
        m->mem[i] = oq_rb_f32(&r);
    if (r.bad) {
        rc = truncated(err, path);
        goto cleanup;
    }
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->mem[i])) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                              "non-finite weight (parameter %zu): the model file is corrupt", i);
            goto cleanup;
        }
    if (r.pos != r.len) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "trailing bytes after the weights");
        goto cleanup;
    }
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        if (!(m->feat_std[k] > 0) || !isfinite(m->feat_std[k]) || !isfinite(m->feat_mean[k])) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "invalid feature scaling in model file");
            goto cleanup;
        }
    if (!(m->y_std > 0) || !isfinite(m->y_std) || !isfinite(m->y_mean)) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "invalid target scaling in model file");
        goto cleanup;
    }
    *out = m;
    m = NULL;
cleanup:
    oq_profit_free(m);
    free(data);
    return rc;
}
