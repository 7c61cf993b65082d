/* seq.c - the sequence response model (seq.h): parameters, the forward and
 * backward of each layer (llm.c-style: summed day embeddings, the shared
 * encoder of nn.c, coupon query pooling, the head and the binary
 * cross-entropy), AdamW, training with the held-out doubly-robust value and
 * early stopping on it, batched inference of all 4 coupons, checkpoint. */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "offerq/coupon/seq.h"
#include "nn_int.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "util/rbuf.h"
#include "util/wbuf.h"

#include <gsl/gsl_randist.h>
#include <stdint.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#define OMP_FOR _Pragma("omp parallel for schedule(static)")
#else
#define OMP_FOR
#endif

#define NSC(cfg) (OQ_SEQ_NSTATE + (cfg)->n_extra_state) /* state features */

static const char *tensor_names[OQ_SEQ_NTENSORS] = {
    "wtb",   "wto", "wtc", "wpe",     "qkvw",    "qkvb", "projw", "projb", "ln1w",
    "ln1b",  "fcw", "fcb", "fcprojw", "fcprojb", "ln2w", "ln2b",  "cq",    "pqkvw",
    "pqkvb", "pow", "pob", "h1w",     "h1b",     "h2w",  "h2b"};

const char *oq_seq_tensor_name(int i)
{
    return (i >= 0 && i < OQ_SEQ_NTENSORS) ? tensor_names[i] : "?";
}

float *oq_seq_tensor(oq_seq_params *p, int i)
{
    float **t = &p->wtb; /* the struct is OQ_SEQ_NTENSORS float pointers in order */
    return (i >= 0 && i < OQ_SEQ_NTENSORS) ? t[i] : NULL;
}

void oq_seq_config_default(oq_seq_config *cfg)
{
    *cfg = (oq_seq_config){.seq_len = 30,
                           .d = 32,
                           .heads = 4,
                           .layers = 1,
                           .ff = 64,
                           .pool_heads = 4,
                           .hidden = 64,
                           .n_bands = 4,
                           .n_browse = 0,
                           .dropout = 0.1f};
}

static void tensor_sizes(const oq_seq_config *c, size_t *sz)
{
    size_t Vb = (size_t)c->n_browse, Vo = 1 + (size_t)c->n_bands, T = (size_t)c->seq_len,
           C = (size_t)c->d, L = (size_t)c->layers, F = (size_t)c->ff, H = (size_t)c->hidden,
           Z = 2 * C + (size_t)NSC(c);
    size_t s[OQ_SEQ_NTENSORS] = {Vb * C,
                                 Vo * C,
                                 OQ_SEQ_NCONTACT * C,
                                 T * C,
                                 L * 3 * C * C,
                                 L * 3 * C,
                                 L * C * C,
                                 L * C,
                                 L * C,
                                 L * C,
                                 L * F * C,
                                 L * F,
                                 L * C * F,
                                 L * C,
                                 L * C,
                                 L * C,
                                 4 * C,
                                 3 * C * C,
                                 3 * C,
                                 C * C,
                                 C,
                                 H * Z,
                                 H,
                                 H,
                                 1};
    memcpy(sz, s, sizeof s);
}

static void point_params(oq_seq_params *p, float *mem, const size_t *sz)
{
    float **t = &p->wtb;
    for (int i = 0; i < OQ_SEQ_NTENSORS; i++) {
        t[i] = mem;
        mem += sz[i];
    }
}

static int check_config(const oq_seq_config *c, oq_error *err)
{
    if (c->seq_len < 1 || c->seq_len > OQ_SEQ_MAX_SEQ || c->d < 1 || c->d > 4096 || c->heads < 1 ||
        c->d % c->heads || c->pool_heads < 1 || c->d % c->pool_heads || c->layers < 1 ||
        c->layers > 64 || c->ff < 1 || c->ff > 65536 || c->hidden < 1 || c->hidden > 65536 ||
        c->n_bands < 1 || c->n_bands > OQ_SEQ_MAX_BANDS || c->n_browse < 2 || c->n_browse > 65537 ||
        !(c->dropout >= 0 && c->dropout < 1) || c->n_extra_state < 0 ||
        c->n_extra_state > OQ_SEQ_MAX_STATE - OQ_SEQ_NSTATE)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "bad sequence model configuration (T=%d C=%d heads=%d L=%d F=%d "
                            "pool heads=%d H=%d bands=%d Vb=%d dropout=%g): heads must divide C",
                            c->seq_len, c->d, c->heads, c->layers, c->ff, c->pool_heads, c->hidden,
                            c->n_bands, c->n_browse, (double)c->dropout);
    return 0;
}

static int model_alloc(const oq_seq_config *cfg, oq_seq **out, oq_error *err)
{
    *out = NULL;
    int rc = check_config(cfg, err);
    if (rc) return rc;
    oq_seq *m = calloc(1, sizeof *m);
    if (!m) return oq_error_oom(err, NULL, NULL);
    m->cfg = *cfg;
    tensor_sizes(cfg, m->tensor_size);
    for (int i = 0; i < OQ_SEQ_NTENSORS; i++)
        m->n_params += m->tensor_size[i];
    m->mem = calloc(m->n_params, sizeof *m->mem);
    m->n_cats = (uint32_t)(cfg->n_browse - OQ_SEQ_TOK_CAT0);
    m->cat_names = calloc(m->n_cats ? m->n_cats : 1, sizeof *m->cat_names);
    if (!m->mem || !m->cat_names) {
        oq_seq_free(m);
        return oq_error_oom(err, NULL, NULL);
    }
    point_params(&m->p, m->mem, m->tensor_size);
    for (int k = 0; k < OQ_SEQ_MAX_STATE; k++)
        m->state_std[k] = 1;
    m->last_day = OQ_SEQ_NO_DAY;
    *out = m;
    return 0;
}

static void fill_uniform(gsl_rng *r, float *w, size_t n, double bound)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)((2 * gsl_rng_uniform(r) - 1) * bound);
}

static void fill_gauss(gsl_rng *r, float *w, size_t n)
{
    for (size_t i = 0; i < n; i++)
        w[i] = (float)gsl_ran_gaussian(r, 1.0);
}

int oq_seq_new(const oq_seq_config *cfg0, const oq_dict *cats, uint64_t seed, oq_seq **out,
               oq_error *err)
{
    oq_seq_config cfg = *cfg0;
    cfg.n_browse = (int)cats->n + OQ_SEQ_TOK_CAT0;
    oq_seq *m = NULL;
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
    size_t C = (size_t)cfg.d, F = (size_t)cfg.ff, H = (size_t)cfg.hidden, L = (size_t)cfg.layers,
           Z = 2 * C + (size_t)NSC(&cfg);
    oq_seq_params *p = &m->p;
    for (int t = 0; t < 4; t++)
        fill_gauss(r, oq_seq_tensor(p, t), m->tensor_size[t]);
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
    fill_gauss(r, p->cq, 4 * C);
    fill_uniform(r, p->pqkvw, 3 * C * C, sqrt(6.0 / (double)(4 * C)));
    fill_uniform(r, p->pow, C * C, 1 / sqrt((double)C));
    fill_uniform(r, p->h1w, H * Z, 1 / sqrt((double)Z));
    fill_uniform(r, p->h1b, H, 1 / sqrt((double)Z));
    fill_uniform(r, p->h2w, H, 1 / sqrt((double)H));
    fill_uniform(r, p->h2b, 1, 1 / sqrt((double)H));
    *out = m;
    m = NULL;
cleanup:
    gsl_rng_free(r);
    oq_seq_free(m);
    return rc;
}

int oq_seq_check_shape(const oq_seq *m, const char *path, const oq_seq_config *want,
                       const oq_dict *cats, oq_error *err)
{
    const oq_seq_config *h = &m->cfg;
    static const char *const what[] = {
        "days of history (seq_len)", "width (d)",     "encoder heads", "layers",
        "feed-forward width",        "pooling heads", "head width",    "order value bands",
        "extra state features"};
    int have[] = {h->seq_len,    h->d,      h->heads,   h->layers,       h->ff,
                  h->pool_heads, h->hidden, h->n_bands, h->n_extra_state};
    int need[] = {want->seq_len,    want->d,      want->heads,   want->layers,       want->ff,
                  want->pool_heads, want->hidden, want->n_bands, want->n_extra_state};
    for (size_t k = 0; k < sizeof have / sizeof *have; k++)
        if (have[k] != need[k])
            return oq_error_set(err, OQ_EINVAL, path, 0, 0,
                                "the warm-start model has another shape: %s %d, this run's "
                                "model %d",
                                what[k], have[k], need[k]);
    for (uint32_t k = 0; k < cats->n; k++) {
        uint32_t j = 0;
        while (j < m->n_cats && strcmp(m->cat_names[j], cats->names[k]) != 0)
            j++;
        if (j == m->n_cats)
            return oq_error_set(err, OQ_EINVAL, path, 0, 0,
                                "the warm-start model has another shape: it does not know the "
                                "log's category '%s' (%u categories, the log %u)",
                                cats->names[k], m->n_cats, cats->n);
    }
    if (m->n_cats != cats->n)
        return oq_error_set(err, OQ_EINVAL, path, 0, 0,
                            "the warm-start model has another shape: %u categories, the log %u",
                            m->n_cats, cats->n);
    return 0;
}

/* ---- activations ------------------------------------------------------------ */

struct oq_seq_acts {
    int B, training, b, dropped;
    oq_nn_enc_acts *enc;
    float *mem;
    float *x0;     /* (B, T, C) summed embeddings */
    float *kv;     /* (B, T, 2C) pooling keys and values */
    float *qc;     /* (4, C) projected coupon queries */
    float *qin;    /* (B, C) coupon embedding of each sample's coupon */
    float *pa;     /* (B, NP, T) pooling attention of the sample's coupon */
    float *u;      /* (B, C) attention output (heads concatenated) */
    float *po;     /* (B, C) after out_proj */
    float *z;      /* (B, Z) head input */
    float *a1;     /* (B, H) */
    float *a1r;    /* (B, H) */
    float *logit;  /* (B) */
    float *y;      /* (B) */
    float *dz;     /* (B, Z) training only */
    float *da1;    /* (B, H) */
    float *du;     /* (B, C) */
    float *dq;     /* (B, C) d projected query */
    float *dqin;   /* (B, C) */
    float *dkv;    /* (B, T, 2C) */
    uint16_t *tok; /* (B, T, 3) */
    uint8_t *cp;   /* (B) */
};

static oq_nn_enc_dims enc_dims(const oq_seq_config *c)
{
    return (oq_nn_enc_dims){c->seq_len, c->d, c->heads, c->layers, c->ff};
}

static oq_nn_enc_params enc_params(const oq_seq_params *p)
{
    return (oq_nn_enc_params){p->qkvw, p->qkvb, p->projw,   p->projb,   p->ln1w, p->ln1b,
                              p->fcw,  p->fcb,  p->fcprojw, p->fcprojb, p->ln2w, p->ln2b};
}

static void acts_free(oq_seq_acts *a)
{
    if (!a) return;
    free(a->tok);
    free(a->cp);
    free(a->mem);
    oq_nn_enc_acts_free(a->enc);
    free(a);
}

static oq_seq_acts *acts_new(const oq_seq_config *c, int B, int training)
{
    oq_seq_acts *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->B = B;
    a->training = training;
    oq_nn_enc_dims d = enc_dims(c);
    size_t b = (size_t)B, T = (size_t)c->seq_len, C = (size_t)c->d, H = (size_t)c->hidden,
           NP = (size_t)c->pool_heads, Z = 2 * C + (size_t)NSC(c);
    struct {
        float **p;
        size_t n;
        int train;
    } parts[] = {
        {&a->x0, b * T * C, 0}, {&a->kv, b * T * 2 * C, 0}, {&a->qc, 4 * C, 0},
        {&a->qin, b * C, 0},    {&a->pa, b * NP * T, 0},    {&a->u, b * C, 0},
        {&a->po, b * C, 0},     {&a->z, b * Z, 0},          {&a->a1, b * H, 0},
        {&a->a1r, b * H, 0},    {&a->logit, b, 0},          {&a->y, b, 0},
        {&a->dz, b * Z, 1},     {&a->da1, b * H, 1},        {&a->du, b * C, 1},
        {&a->dq, b * C, 1},     {&a->dqin, b * C, 1},       {&a->dkv, b * T * 2 * C, 1},
    };
    size_t np = sizeof parts / sizeof *parts, total = 0;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].train || training) total += parts[i].n;
    a->enc = oq_nn_enc_acts_new(&d, B, training);
    a->mem = malloc(total * sizeof(float));
    a->tok = malloc(b * T * OQ_SEQ_NTOK * sizeof *a->tok);
    a->cp = malloc(b);
    if (!a->enc || !a->mem || !a->tok || !a->cp) goto fail;
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

static void workers_free(struct oq_seq_workers *w);

void oq_seq_free(oq_seq *m)
{
    if (!m) return;
    workers_free(m->workers);
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

/* ---- layers ------------------------------------------------------------------- */

/* Embedding: x0[n] = wtb[tok0] + wto[tok1] + wtc[tok2] + wpe[n mod T]. */
static void embed_forward(const oq_seq *m, oq_seq_acts *a, int b)
{
    const oq_seq_params *p = &m->p;
    int T = m->cfg.seq_len, C = m->cfg.d, N = b * T;
    OMP_FOR
    for (int n = 0; n < N; n++) {
        const uint16_t *t = a->tok + (size_t)n * OQ_SEQ_NTOK;
        const float *eb = p->wtb + (size_t)t[0] * C, *eo = p->wto + (size_t)t[1] * C,
                    *ec = p->wtc + (size_t)t[2] * C, *pe = p->wpe + (size_t)(n % T) * C;
        float *x = a->x0 + (size_t)n * C;
        for (int i = 0; i < C; i++)
            x[i] = eb[i] + eo[i] + ec[i] + pe[i];
    }
}

static void embed_backward(const oq_seq *m, const oq_seq_params *g, const oq_seq_acts *a,
                           const float *dx0, int b)
{
    int T = m->cfg.seq_len, C = m->cfg.d, N = b * T;
    for (int n = 0; n < N; n++) {
        const uint16_t *t = a->tok + (size_t)n * OQ_SEQ_NTOK;
        const float *d = dx0 + (size_t)n * C;
        float *gb = g->wtb + (size_t)t[0] * C, *go = g->wto + (size_t)t[1] * C,
              *gc = g->wtc + (size_t)t[2] * C, *gp = g->wpe + (size_t)(n % T) * C;
        for (int i = 0; i < C; i++) {
            gb[i] += d[i];
            go[i] += d[i];
            gc[i] += d[i];
            gp[i] += d[i];
        }
    }
}

/* One query q (C) attending over kv (T, 2C) of one sample with NP heads:
 * pa (NP, T) the softmax, u (C) the heads' outputs concatenated. */
static void pool_forward1(float *u, float *pa, const float *q, const float *kv, int T, int C,
                          int NP)
{
    int hs = C / NP, C2 = 2 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < NP; h++) {
        const float *qh = q + h * hs;
        float *ph = pa + (size_t)h * T, mx = -INFINITY, sum = 0;
        for (int t = 0; t < T; t++) {
            const float *k = kv + (size_t)t * C2 + h * hs;
            float s = 0;
            for (int j = 0; j < hs; j++)
                s += qh[j] * k[j];
            ph[t] = s * scale;
            mx = ph[t] > mx ? ph[t] : mx;
        }
        for (int t = 0; t < T; t++) {
            ph[t] = expf(ph[t] - mx);
            sum += ph[t];
        }
        float inv = 1.0f / sum;
        float *uh = u + h * hs;
        for (int j = 0; j < hs; j++)
            uh[j] = 0;
        for (int t = 0; t < T; t++) {
            ph[t] *= inv;
            const float *v = kv + (size_t)t * C2 + C + h * hs;
            for (int j = 0; j < hs; j++)
                uh[j] += ph[t] * v[j];
        }
    }
}

/* Backward of pool_forward1: dq (C) overwritten, dkv (T, 2C) overwritten. */
static void pool_backward1(float *dq, float *dkv, const float *du, const float *pa, const float *q,
                           const float *kv, int T, int C, int NP)
{
    int hs = C / NP, C2 = 2 * C;
    float scale = 1.0f / sqrtf((float)hs);
    for (int h = 0; h < NP; h++) {
        const float *ph = pa + (size_t)h * T, *duh = du + h * hs, *qh = q + h * hs;
        float *dqh = dq + h * hs, dot = 0;
        for (int j = 0; j < hs; j++)
            dqh[j] = 0;
        /* da_t = du . v_t; ds = p (da - sum p da) */
        float ds[OQ_SEQ_MAX_SEQ];
        for (int t = 0; t < T; t++) {
            const float *v = kv + (size_t)t * C2 + C + h * hs;
            float s = 0;
            for (int j = 0; j < hs; j++)
                s += duh[j] * v[j];
            ds[t] = s;
            dot += ph[t] * s;
        }
        for (int t = 0; t < T; t++) {
            float dst = ph[t] * (ds[t] - dot) * scale;
            const float *k = kv + (size_t)t * C2 + h * hs;
            float *dk = dkv + (size_t)t * C2 + h * hs, *dv = dk + C;
            for (int j = 0; j < hs; j++) {
                dqh[j] += dst * k[j];
                dk[j] = dst * qh[j];
                dv[j] = ph[t] * duh[j];
            }
        }
    }
}

/* The coupon path of b samples whose encoder output and kv are computed:
 * pooling with each sample's coupon a->cp[i] (its query row a->qc[cp]),
 * out_proj, head -> a->logit. */
static void coupon_forward(const oq_seq *m, oq_seq_acts *a, int b, const float *zs)
{
    const oq_seq_params *p = &m->p;
    int T = m->cfg.seq_len, C = m->cfg.d, NP = m->cfg.pool_heads, H = m->cfg.hidden,
        Z = 2 * C + NSC(&m->cfg);
    OMP_FOR
    for (int i = 0; i < b; i++)
        pool_forward1(a->u + (size_t)i * C, a->pa + (size_t)i * NP * T,
                      a->qc + (size_t)a->cp[i] * C, a->kv + (size_t)i * T * 2 * C, T, C, NP);
    oq_nn_matmul_forward(a->po, a->u, p->pow, p->pob, b, C, C);
    for (int i = 0; i < b; i++) {
        float *z = a->z + (size_t)i * Z;
        memcpy(z, a->po + (size_t)i * C, (size_t)C * sizeof *z);
        memcpy(z + C, p->cq + (size_t)a->cp[i] * C, (size_t)C * sizeof *z);
        memcpy(z + 2 * C, zs + (size_t)i * NSC(&m->cfg), (size_t)NSC(&m->cfg) * sizeof *z);
    }
    oq_nn_matmul_forward(a->a1, a->z, p->h1w, p->h1b, b, Z, H);
    for (int i = 0; i < b; i++) {
        const float *x = a->a1 + (size_t)i * H;
        float *xr = a->a1r + (size_t)i * H, s = p->h2b[0];
        for (int j = 0; j < H; j++) {
            xr[j] = x[j] > 0 ? x[j] : 0.0f;
            s += xr[j] * p->h2w[j];
        }
        a->logit[i] = s;
    }
}

/* Embeddings, encoder, keys/values of the pooling and the 4 projected
 * queries for the b samples in a->tok. */
static void trunk_forward(const oq_seq *m, oq_seq_acts *a, int b, int masks)
{
    const oq_seq_params *p = &m->p;
    int T = m->cfg.seq_len, C = m->cfg.d;
    oq_nn_enc_dims d = enc_dims(&m->cfg);
    oq_nn_enc_params ep = enc_params(p);
    embed_forward(m, a, b);
    oq_nn_enc_forward(&d, &ep, a->enc, a->x0, b, masks);
    oq_nn_matmul_forward(a->kv, oq_nn_enc_out(&d, a->enc), p->pqkvw + (size_t)C * C, p->pqkvb + C,
                         b * T, C, 2 * C);
    oq_nn_matmul_forward(a->qc, p->cq, p->pqkvw, p->pqkvb, 4, C, C);
}

static double bce(float logit, float y)
{
    double l = logit;
    return (l > 0 ? l : 0) - l * y + log1p(exp(-fabs(l)));
}

int oq_seq_forward(oq_seq *m, const uint16_t *tok, const float *zs, const uint8_t *coupon, int b,
                   int training, uint64_t drop_seed, const float *y, float *logit, float *all4,
                   double *loss, oq_error *err)
{
    const oq_seq_config *c = &m->cfg;
    if (b < 1) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "empty batch");
    if (!m->acts || m->acts->B < b) {
        acts_free(m->acts);
        if (!(m->acts = acts_new(c, b, 1))) return oq_error_oom(err, NULL, "activations");
    }
    oq_seq_acts *a = m->acts;
    int T = c->seq_len;
    int lim[OQ_SEQ_NTOK] = {c->n_browse, 1 + c->n_bands, OQ_SEQ_NCONTACT};
    for (size_t i = 0; i < (size_t)b * T * OQ_SEQ_NTOK; i++) {
        if (tok[i] >= lim[i % OQ_SEQ_NTOK])
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "token %u out of range (sub-token %zu, limit %d)", tok[i],
                                i % OQ_SEQ_NTOK, lim[i % OQ_SEQ_NTOK]);
        a->tok[i] = tok[i];
    }
    for (int i = 0; i < b; i++) {
        if (coupon[i] >= OQ_N_COUPONS)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "coupon %u out of range", coupon[i]);
    }
    a->b = b;
    a->dropped = training && c->dropout > 0;
    if (a->dropped) {
        oq_nn_enc_dims d = enc_dims(c);
        oq_nn_enc_draw_masks(&d, a->enc, b, c->dropout, drop_seed, 0);
    }
    trunk_forward(m, a, b, a->dropped);
    if (all4)
        for (int k = 0; k < OQ_N_COUPONS; k++) {
            for (int i = 0; i < b; i++)
                a->cp[i] = (uint8_t)k;
            coupon_forward(m, a, b, zs);
            for (int i = 0; i < b; i++)
                all4[(size_t)i * 4 + k] = a->logit[i];
        }
    memcpy(a->cp, coupon, (size_t)b);
    coupon_forward(m, a, b, zs);
    if (logit) memcpy(logit, a->logit, (size_t)b * sizeof *logit);
    if (y) {
        double s = 0;
        for (int i = 0; i < b; i++) {
            a->y[i] = y[i];
            s += bce(a->logit[i], y[i]);
        }
        if (loss) *loss = s / b;
    } else {
        memset(a->y, 0, (size_t)b * sizeof *a->y);
        if (loss) *loss = NAN;
    }
    return 0;
}

const float *oq_seq_activation(const oq_seq *m, int which)
{
    const oq_seq_acts *a = m->acts;
    if (!a || a->b < 1) return NULL;
    oq_nn_enc_dims d = enc_dims(&m->cfg);
    switch (which) {
    case OQ_SEQ_ACT_X0:
        return a->x0;
    case OQ_SEQ_ACT_ENC:
        return oq_nn_enc_out(&d, a->enc);
    case OQ_SEQ_ACT_POOLED:
        return a->po;
    default:
        return NULL;
    }
}

/* The backward of the last forward on a's b samples into g (accumulated):
 * d loss / d logit = (sigmoid - y) / n, the mean over n samples (n = b,
 * or the whole batch when a holds one micro-batch of it). */
static void backward_core(const oq_seq *m, oq_seq_acts *a, const oq_seq_params *g, int n)
{
    const oq_seq_config *c = &m->cfg;
    const oq_seq_params *p = &m->p;
    int b = a->b, T = c->seq_len, C = c->d, H = c->hidden, NP = c->pool_heads, Z = 2 * C + NSC(c),
        N = b * T;
    oq_nn_enc_dims d = enc_dims(c);

    /* BCE with logits, mean: d/dlogit = (sigmoid - y) / n; head:
     * logit = relu(a1) . h2w + h2b, a1 = z h1w^T + h1b */
    for (int i = 0; i < b; i++) {
        float l = a->logit[i], s = l >= 0 ? 1.0f / (1.0f + expf(-l)) : expf(l) / (1.0f + expf(l));
        float dl = (s - a->y[i]) / (float)n;
        const float *xr = a->a1r + (size_t)i * H, *x = a->a1 + (size_t)i * H;
        float *da = a->da1 + (size_t)i * H;
        g->h2b[0] += dl;
        for (int j = 0; j < H; j++) {
            g->h2w[j] += xr[j] * dl;
            da[j] = x[j] > 0 ? p->h2w[j] * dl : 0.0f;
        }
    }
    oq_nn_matmul_backward(a->dz, 0, g->h1w, g->h1b, a->da1, a->z, p->h1w, b, Z, H);
    /* z = [po, cq[c], zs]: po's gradient is dz[:, :C] (a strided copy) */
    float *dpo = a->dqin; /* scratch until the query's backward */
    for (int i = 0; i < b; i++) {
        memcpy(dpo + (size_t)i * C, a->dz + (size_t)i * Z, (size_t)C * sizeof *dpo);
        const float *dc = a->dz + (size_t)i * Z + C;
        float *gc = g->cq + (size_t)a->cp[i] * C;
        for (int j = 0; j < C; j++)
            gc[j] += dc[j];
    }
    oq_nn_matmul_backward(a->du, 0, g->pow, g->pob, dpo, a->u, p->pow, b, C, C);
    /* pooling: dq per sample, dkv per sample */
    OMP_FOR
    for (int i = 0; i < b; i++)
        pool_backward1(a->dq + (size_t)i * C, a->dkv + (size_t)i * T * 2 * C, a->du + (size_t)i * C,
                       a->pa + (size_t)i * NP * T, a->qc + (size_t)a->cp[i] * C,
                       a->kv + (size_t)i * T * 2 * C, T, C, NP);
    /* q = Wq cq[c] + bq, per sample */
    for (int i = 0; i < b; i++)
        memcpy(a->qin + (size_t)i * C, p->cq + (size_t)a->cp[i] * C, (size_t)C * sizeof *a->qin);
    oq_nn_matmul_backward(a->dqin, 0, g->pqkvw, g->pqkvb, a->dq, a->qin, p->pqkvw, b, C, C);
    for (int i = 0; i < b; i++) {
        const float *dq = a->dqin + (size_t)i * C;
        float *gc = g->cq + (size_t)a->cp[i] * C;
        for (int j = 0; j < C; j++)
            gc[j] += dq[j];
    }
    /* kv = X Wkv^T + bkv: d X into the encoder's output gradient */
    float *dxo = a->enc->dA;
    const float *xl = oq_nn_enc_out(&d, a->enc);
    oq_nn_matmul_backward(dxo, 0, g->pqkvw + (size_t)C * C, g->pqkvb + C, a->dkv, xl,
                          p->pqkvw + (size_t)C * C, N, C, 2 * C);
    oq_nn_enc_params ep = enc_params(p), eg = enc_params(g);
    oq_nn_enc_backward(&d, &ep, &eg, a->enc, a->x0, dxo, b, a->dropped);
    embed_backward(m, g, a, dxo, b);
}

int oq_seq_backward(oq_seq *m, oq_error *err)
{
    oq_seq_acts *a = m->acts;
    if (!a || a->b < 1) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "backward before forward");
    if (!m->gmem) {
        if (!(m->gmem = calloc(m->n_params, sizeof *m->gmem))) return oq_error_oom(err, NULL, NULL);
        point_params(&m->g, m->gmem, m->tensor_size);
    }
    memset(m->gmem, 0, m->n_params * sizeof *m->gmem);
    backward_core(m, a, &m->g, a->b);
    return 0;
}

double oq_seq_adamw(oq_seq *m, double lr, double beta1, double beta2, double eps,
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

double oq_seq_flops(const oq_seq_config *c, int training)
{
    double T = c->seq_len, C = c->d, H = c->hidden, Z = 2 * C + NSC(c);
    oq_nn_enc_dims d = enc_dims(c);
    double trunk = oq_nn_enc_flops(&d) + 2 * T * C * 2 * C; /* + keys and values */
    double coupon = 2 * T * C * 2 + 2 * C * C + 2 * Z * H + 2 * H;
    return training ? 3 * (trunk + coupon) : trunk + 4 * coupon;
}

/* ---- the data-parallel training step ------------------------------------------ */

typedef struct seq_worker {
    oq_seq_acts *a; /* capacity OQ_SEQ_MICRO */
    float *gmem;    /* (n_params) this micro-batch's gradient */
    oq_seq_params g;
    float *zs;
    double loss; /* sum of the micro-batch's BCE */
    int bad;     /* a token or coupon out of range */
} seq_worker;

struct oq_seq_workers {
    int n;
    seq_worker *w;
};

static void workers_free(struct oq_seq_workers *ws)
{
    if (!ws) return;
    for (int k = 0; k < ws->n; k++) {
        acts_free(ws->w[k].a);
        free(ws->w[k].gmem);
        free(ws->w[k].zs);
    }
    free(ws->w);
    free(ws);
}

/* Room for K micro-batches (kept in the model between steps). */
static int workers_reserve(oq_seq *m, int K)
{
    struct oq_seq_workers *ws = m->workers;
    if (ws && ws->n >= K) return 0;
    workers_free(ws);
    m->workers = ws = calloc(1, sizeof *ws);
    if (!ws || !(ws->w = calloc((size_t)K, sizeof *ws->w))) return OQ_ENOMEM;
    ws->n = K;
    for (int k = 0; k < K; k++) {
        seq_worker *w = &ws->w[k];
        w->a = acts_new(&m->cfg, OQ_SEQ_MICRO, 1);
        w->gmem = malloc(m->n_params * sizeof *w->gmem);
        w->zs = malloc((size_t)OQ_SEQ_MICRO * (size_t)NSC(&m->cfg) * sizeof *w->zs);
        if (!w->a || !w->gmem || !w->zs) return OQ_ENOMEM;
        point_params(&w->g, w->gmem, m->tensor_size);
    }
    return 0;
}

/* Forward and backward of the micro-batch of samples i0 .. i0 + bk of a
 * batch of b into worker w (its gradient of the batch's mean BCE). */
static void micro_step(const oq_seq *m, seq_worker *w, const uint16_t *tok, const float *zs,
                       const uint8_t *coupon, const float *y, int i0, int bk, int b,
                       uint64_t drop_seed)
{
    const oq_seq_config *c = &m->cfg;
    oq_seq_acts *a = w->a;
    size_t tt = (size_t)c->seq_len * OQ_SEQ_NTOK;
    int lim[OQ_SEQ_NTOK] = {c->n_browse, 1 + c->n_bands, OQ_SEQ_NCONTACT};
    w->bad = 0;
    for (size_t j = 0; j < (size_t)bk * tt; j++) {
        uint16_t t = tok[(size_t)i0 * tt + j];
        w->bad |= t >= lim[j % OQ_SEQ_NTOK];
        a->tok[j] = t;
    }
    for (int i = 0; i < bk; i++) {
        w->bad |= coupon[i0 + i] >= OQ_N_COUPONS;
        a->cp[i] = coupon[i0 + i];
        a->y[i] = y[i0 + i];
    }
    if (w->bad) return;
    memcpy(w->zs, zs + (size_t)i0 * NSC(c), (size_t)bk * (size_t)NSC(c) * sizeof *w->zs);
    a->b = bk;
    a->dropped = c->dropout > 0;
    oq_nn_enc_dims d = enc_dims(c);
    if (a->dropped) oq_nn_enc_draw_masks(&d, a->enc, bk, c->dropout, drop_seed, (uint64_t)i0);
    trunk_forward(m, a, bk, a->dropped);
    coupon_forward(m, a, bk, w->zs);
    double sl = 0;
    for (int i = 0; i < bk; i++)
        sl += bce(a->logit[i], a->y[i]);
    w->loss = sl;
    memset(w->gmem, 0, m->n_params * sizeof *w->gmem);
    backward_core(m, a, &w->g, b);
}

int oq_seq_step(oq_seq *m, const uint16_t *tok, const float *zs, const uint8_t *coupon,
                const float *y, int b, uint64_t drop_seed, double lr, const oq_seq_train_opts *o,
                double *loss, double *gnorm, oq_error *err)
{
    if (b < 1) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "empty batch");
    int K = (b + OQ_SEQ_MICRO - 1) / OQ_SEQ_MICRO;
    if (workers_reserve(m, K)) return oq_error_oom(err, NULL, "activations");
    if (!m->gmem) {
        if (!(m->gmem = calloc(m->n_params, sizeof *m->gmem))) return oq_error_oom(err, NULL, NULL);
        point_params(&m->g, m->gmem, m->tensor_size);
    }
    seq_worker *ws = m->workers->w;
#pragma omp parallel for schedule(dynamic, 1)
    for (int k = 0; k < K; k++) {
        int i0 = k * OQ_SEQ_MICRO, bk = b - i0 < OQ_SEQ_MICRO ? b - i0 : OQ_SEQ_MICRO;
        micro_step(m, &ws[k], tok, zs, coupon, y, i0, bk, b, drop_seed);
    }
    double sl = 0;
    for (int k = 0; k < K; k++) {
        if (ws[k].bad)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "a token or coupon out of range in micro-batch %d", k);
        sl += ws[k].loss;
    }
    *loss = sl / b;
    if (!isfinite(*loss))
        return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "training loss is not finite");
    /* the sum over micro-batches in their order */
    long n = (long)m->n_params;
    OMP_FOR
    for (long j = 0; j < n; j++) {
        float g = 0;
        for (int k = 0; k < K; k++)
            g += ws[k].gmem[j];
        m->gmem[j] = g;
    }
    *gnorm = oq_seq_adamw(m, lr, o->beta1, o->beta2, o->eps, o->weight_decay, o->clip);
    if (!m->m) return oq_error_oom(err, NULL, "optimiser");
    if (!isfinite(*gnorm))
        return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "training gradient is not finite");
    return 0;
}

/* ---- inference ------------------------------------------------------------------ */

#define Z_CLAMP 1e4

/* Standardised state features of sample i (clamped, NaN to 0). */
static void zstate_of(const oq_seq *m, const oq_seq_samples *s, size_t i, float *z)
{
    for (int k = 0; k < NSC(&m->cfg); k++) {
        double v =
            (s->state[i * (size_t)s->n_state + (size_t)k] - m->state_mean[k]) / m->state_std[k];
        z[k] = (float)(v > Z_CLAMP ? Z_CLAMP : v < -Z_CLAMP ? -Z_CLAMP : v == v ? v : 0);
    }
}

static double sigmoid(double l)
{
    return l >= 0 ? 1 / (1 + exp(-l)) : exp(l) / (1 + exp(l));
}

/* Chunks of samples a thread predicts at a time. */
#define PRED_CHUNK 64

int oq_seq_predict(const oq_seq *m, const oq_seq_samples *s, double *out, oq_error *err)
{
    const oq_seq_config *c = &m->cfg;
    if (s->seq_len != c->seq_len)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "samples have %d days of history, the model expects %d", s->seq_len,
                            c->seq_len);
    if (s->n_state != NSC(c))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "samples have %d state features, the model expects %d", s->n_state,
                            NSC(c));
    if (s->n == 0) return 0;
    int nt = 1;
#ifdef _OPENMP
    nt = omp_get_max_threads();
#endif
    int T = c->seq_len, rc = 0;
    long nchunk = (long)((s->n + PRED_CHUNK - 1) / PRED_CHUNK);
    if (nt > nchunk) nt = (int)nchunk;
    oq_seq_acts **acts = calloc((size_t)nt, sizeof(oq_seq_acts *));
    float *zs = malloc((size_t)nt * PRED_CHUNK * (size_t)NSC(c) * sizeof *zs);
    int oom = !acts || !zs;
    for (int t = 0; !oom && t < nt; t++)
        oom = !(acts[t] = acts_new(c, PRED_CHUNK, 0));
    if (oom) {
        for (int t = 0; acts && t < nt; t++)
            acts_free(acts[t]);
        free(acts);
        free(zs);
        return oq_error_oom(err, NULL, "activations");
    }
    int lim[OQ_SEQ_NTOK] = {c->n_browse, 1 + c->n_bands, OQ_SEQ_NCONTACT};
    uint16_t repl[OQ_SEQ_NTOK] = {OQ_SEQ_TOK_UNKNOWN, 0, 0};
    size_t tt = (size_t)T * OQ_SEQ_NTOK, bad = SIZE_MAX;
    /* one parallel region: each thread runs whole chunks (trunk, then the
     * 4 coupons) on its own activations */
#pragma omp parallel num_threads(nt) reduction(min : bad)
    {
        int t = 0;
#ifdef _OPENMP
        t = omp_get_thread_num();
#endif
        oq_seq_acts *a = acts[t];
        float *z = zs + (size_t)t * PRED_CHUNK * (size_t)NSC(c);
#pragma omp for schedule(dynamic, 1)
        for (long ch = 0; ch < nchunk; ch++) {
            size_t i0 = (size_t)ch * PRED_CHUNK;
            int b = (int)(s->n - i0 < PRED_CHUNK ? s->n - i0 : PRED_CHUNK);
            for (size_t j = 0; j < (size_t)b * tt; j++) {
                uint16_t tk = s->tok[i0 * tt + j];
                a->tok[j] = tk < lim[j % OQ_SEQ_NTOK] ? tk : repl[j % OQ_SEQ_NTOK];
            }
            for (int i = 0; i < b; i++)
                zstate_of(m, s, i0 + i, z + (size_t)i * (size_t)NSC(c));
            trunk_forward(m, a, b, 0);
            for (int k = 0; k < OQ_N_COUPONS; k++) {
                memset(a->cp, k, (size_t)b);
                coupon_forward(m, a, b, z);
                for (int i = 0; i < b; i++) {
                    if (isnan(a->logit[i]) && i0 + (size_t)i < bad) bad = i0 + (size_t)i;
                    out[(i0 + i) * 4 + k] = sigmoid(a->logit[i]);
                }
            }
        }
    }
    if (bad != SIZE_MAX)
        rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                          "non-finite prediction for sample %zu (model weights or scaling out of "
                          "range)",
                          bad);
    for (int t = 0; t < nt; t++)
        acts_free(acts[t]);
    free(acts);
    free(zs);
    return rc;
}

/* ---- training -------------------------------------------------------------------- */

void oq_seq_train_opts_default(oq_seq_train_opts *o)
{
    *o = (oq_seq_train_opts){.epochs = 10,
                             .patience = 3,
                             .min_epochs = 5,
                             .batch = 256,
                             .lr = 2e-3,
                             .lr_min = 0.1,
                             .warmup = 100,
                             .weight_decay = 0.01,
                             .beta1 = 0.9,
                             .beta2 = 0.999,
                             .eps = 1e-8,
                             .clip = 1.0,
                             .val_frac = 0.2,
                             .seed = 1,
                             .quiet = 0,
                             .warm_epochs = 1,
                             .warm_rows = 16384,
                             .warm_lr = 2e-5};
}

int oq_seq_is_val(uint64_t seed, int64_t user_id, double val_frac)
{
    uint64_t h = oq_mix64(oq_mix64(seed ^ 0x73657176616cull) ^ (uint64_t)user_id);
    return (double)(h >> 11) * 0x1.0p-53 < val_frac;
}

/* The sub-sample idx (n) of s as its own samples (for prediction). */
static int subset(const oq_seq_samples *s, const size_t *idx, size_t n, oq_seq_samples **out,
                  oq_error *err)
{
    int T = s->seq_len, rc = oq_seq_samples_new_ns(n, T, s->n_state, out, err);
    oq_seq_samples *v = *out;
    if (rc || !v) return rc ? rc : OQ_ENOMEM;
    size_t tt = (size_t)T * OQ_SEQ_NTOK, ns = (size_t)s->n_state;
    for (size_t j = 0; j < n; j++) {
        size_t i = idx[j];
        memcpy(v->tok + j * tt, s->tok + i * tt, tt * sizeof *v->tok);
        memcpy(v->state + j * ns, s->state + i * ns, ns * sizeof *v->state);
        v->coupon[j] = s->coupon[i];
        v->order[j] = s->order[i];
        v->reward[j] = s->reward[i];
        v->g[j] = s->g[i];
        v->user_id[j] = s->user_id[i];
    }
    return 0;
}

/* The held-out report: log-loss, and the DR and IPS values of the greedy
 * policy over the rows of v, from P (n, 4). */
static void val_report(const oq_seq_samples *v, const double *P, const double *mu,
                       const double *rate, oq_seq_epoch *ep)
{
    size_t n = v->n;
    double ll = 0, llb = 0, dr = 0, dr2 = 0, ips = 0, matched = 0;
    for (size_t i = 0; i < n; i++) {
        int a = v->coupon[i], y = v->order[i];
        double pa = fmin(fmax(P[i * 4 + a], 1e-7), 1 - 1e-7), pb = rate[a];
        ll -= y ? log(pa) : log1p(-pa);
        llb -= y ? log(pb) : log1p(-pb);
        double rh[4];
        int best = 0;
        for (int c = 0; c < 4; c++) {
            rh[c] = P[i * 4 + c] * (v->g[i] - oq_coupon_value(c));
            if (rh[c] > rh[best]) best = c;
        }
        double w = (a == best) / mu[a], x = rh[best] + w * (v->reward[i] - rh[a]);
        dr += x;
        dr2 += x * x;
        ips += w * v->reward[i];
        matched += a == best;
    }
    double nn = n ? (double)n : 1;
    ep->val_logloss = ll / nn;
    ep->val_logloss_base = llb / nn;
    ep->val_dr = dr / nn;
    ep->val_dr_se = n > 1 ? sqrt(fmax(0, dr2 / nn - ep->val_dr * ep->val_dr) / (nn - 1)) : NAN;
    ep->val_ips = ips / nn;
    ep->val_matched = matched / nn;
}

/* Is epoch `ep` better than the best so far? Scores the held-out rows v with
 * m, fills the report into *ep, and when it is a better candidate keeps m's
 * weights in best and each fixed coupon's DR value with this r^. */
typedef struct train_judge {
    const oq_seq_samples *v; /* held-out rows, or NULL */
    double *P;               /* (v->n, 4) */
    const double *rate;      /* each coupon's training order rate */
    float *best;             /* (n_params) the kept weights */
    double best_dr;
    oq_seq_train_report *rp;
} train_judge;

static int judge_epoch(oq_seq *m, train_judge *j, int epoch, int candidate, oq_seq_epoch *ep,
                       int *better, oq_error *err)
{
    const oq_seq_samples *v = j->v;
    oq_seq_train_report *rp = j->rp;
    int rc = 0;
    *better = 0;
    if (v) {
        if ((rc = oq_seq_predict(m, v, j->P, err))) return rc;
        val_report(v, j->P, rp->mu, j->rate, ep);
    } else {
        ep->val_logloss = ep->val_logloss_base = ep->val_dr = ep->val_dr_se = ep->val_ips =
            ep->val_matched = NAN;
    }
    *better = v && candidate && ep->val_dr > j->best_dr;
    if (!*better && v) return 0;
    j->best_dr = ep->val_dr;
    rp->best_epoch = epoch;
    memcpy(j->best, m->mem, m->n_params * sizeof *j->best);
    if (v) /* each fixed coupon's DR value with this r^ */
        for (int k = 0; k < 4; k++) {
            double x = 0;
            for (size_t i = 0; i < v->n; i++) {
                int a = v->coupon[i];
                double rk = j->P[i * 4 + k] * (v->g[i] - oq_coupon_value(k)),
                       ra = j->P[i * 4 + a] * (v->g[i] - oq_coupon_value(a));
                x += rk + (a == k) / rp->mu[a] * (v->reward[i] - ra);
            }
            rp->val_dr_fixed[k] = x / (double)v->n;
        }
    return 0;
}

static void print_epoch(const oq_seq_epoch *ep, int epoch, int epochs, int better)
{
    char head[64];
    if (epoch)
        snprintf(head, sizeof head, "train log-loss %.4f", ep->train_logloss);
    else
        snprintf(head, sizeof head, "the warm-start model before training");
    fprintf(stderr,
            "epoch %d/%d: %s, held-out log-loss %.4f (order rate per coupon %.4f), DR value of "
            "the greedy policy %.3f +-%.3f (IPS %.3f, matched %.2f)%s, %.1f s\n",
            epoch, epochs, head, ep->val_logloss, ep->val_logloss_base, ep->val_dr, ep->val_dr_se,
            ep->val_ips, ep->val_matched, better ? " *" : "", ep->seconds);
}

/* The warm start's training rows, into fresh[]: every fresh one (a random
 * `want` of them when there are more), then a random replay sample of the
 * older ones (old[], no of them) up to `want` in all. fresh[] has room for
 * nf + no rows. Returns how many. */
static size_t warm_rows(gsl_rng *r, size_t *fresh, size_t nf, size_t *old, size_t no, size_t want,
                        oq_seq_train_report *rp)
{
    gsl_ran_shuffle(r, fresh, nf, sizeof *fresh);
    gsl_ran_shuffle(r, old, no, sizeof *old);
    size_t a = nf < want ? nf : want, b = no < want - a ? no : want - a;
    memcpy(fresh + a, old, b * sizeof *old);
    rp->n_fresh = a;
    rp->n_replay = b;
    return a + b;
}

/* oq_seq_train (fresh NULL) and oq_seq_train_warm. */
static int train_impl(oq_seq *m, const oq_seq_samples *s, const uint8_t *fresh,
                      const oq_seq_train_opts *o, oq_seq_epoch *hist, oq_seq_train_report *rep,
                      oq_error *err)
{
    const oq_seq_config *c = &m->cfg;
    int T = c->seq_len, rc = 0, warm = fresh != NULL;
    size_t tt = (size_t)T * OQ_SEQ_NTOK;
    size_t *tr = NULL, *va = NULL, *fr = NULL, ntr = 0, nva = 0, nfr = 0;
    uint16_t *btok = NULL;
    float *bz = NULL, *by = NULL;
    uint8_t *bc = NULL;
    oq_seq_samples *v = NULL;
    gsl_rng *r = NULL;
    oq_seq_train_report rp;
    memset(&rp, 0, sizeof rp);
    rp.first_epoch = warm ? 0 : 1;
    train_judge jd = {.best_dr = -INFINITY, .rp = &rp};
    int epochs = warm ? o->warm_epochs : o->epochs;
    if (s->n_state != NSC(c))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "samples have %d state features, the model expects %d", s->n_state,
                            NSC(c));
    /* a warm start stops at its first epoch that is not better: on 70k
     * rows (bench/results/warm_seq.md) a second epoch never helped */
    int patience = warm ? 1 : o->patience;
    double lr0 = warm ? o->warm_lr : o->lr;
    if (s->seq_len != T)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "samples have %d days of history, the model expects %d", s->seq_len, T);
    if (epochs < (warm ? 0 : 1) || o->batch < 1 || !(lr0 > 0) || (warm && o->warm_rows < 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "epochs, batch, lr (and a warm start's rows) must be positive");
    tr = malloc((s->n + 1) * sizeof *tr);
    va = malloc((s->n + 1) * sizeof *va);
    fr = warm ? malloc((s->n + 1) * sizeof *fr) : NULL;
    btok = malloc((size_t)o->batch * tt * sizeof *btok);
    bz = malloc((size_t)o->batch * (size_t)NSC(&m->cfg) * sizeof *bz);
    by = malloc((size_t)o->batch * sizeof *by);
    bc = malloc((size_t)o->batch);
    jd.best = malloc(m->n_params * sizeof *jd.best);
    r = oq_rng_new(o->seed, 1);
    if (!tr || !va || (warm && !fr) || !btok || !bz || !by || !bc || !jd.best || !r) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < s->n; i++) {
        if (oq_seq_is_val(o->seed, s->user_id[i], o->val_frac))
            va[nva++] = i;
        else if (warm && fresh[i])
            fr[nfr++] = i;
        else
            tr[ntr++] = i;
    }
    if (ntr + nfr == 0) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no training samples");
        goto cleanup;
    }
    rp.n_train = ntr + nfr;
    rp.n_val = nva;
    /* the logging propensities / order rates from every training row */
    double cnt[4] = {0}, ords[4] = {0};
    for (size_t i = 0; i < s->n; i++)
        if (!oq_seq_is_val(o->seed, s->user_id[i], o->val_frac)) {
            cnt[s->coupon[i]]++;
            ords[s->coupon[i]] += s->order[i];
        }
    double rate[4];
    for (int k = 0; k < 4; k++) {
        rp.mu[k] = cnt[k] / (double)rp.n_train;
        rate[k] = (ords[k] + 0.5) / (cnt[k] + 1);
    }
    jd.rate = rate;
    /* state scaling (two passes) from the training rows; a warm start keeps
     * the model's, which its weights were trained with */
    for (int k = 0; k < NSC(&m->cfg) && !warm; k++) {
        double sum = 0, sq = 0;
        for (size_t j = 0; j < ntr; j++)
            sum += s->state[tr[j] * (size_t)s->n_state + (size_t)k];
        double mean = sum / ntr;
        for (size_t j = 0; j < ntr; j++) {
            double x = s->state[tr[j] * (size_t)s->n_state + (size_t)k] - mean;
            sq += x * x;
        }
        double var = sq / ntr;
        if (!isfinite(mean) || !isfinite(var)) {
            rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                              "state feature %d has non-finite values in the training set", k);
            goto cleanup;
        }
        m->state_mean[k] = mean;
        m->state_std[k] = var > 1e-12 * (1 + mean * mean) ? sqrt(var) : 1.0;
    }
    if (warm) { /* train on the fresh rows and a replay sample: fr becomes tr */
        size_t *t = tr;
        ntr = warm_rows(r, fr, nfr, tr, ntr, o->warm_rows, &rp);
        tr = fr;
        fr = t;
    }
    if (nva) {
        if ((rc = subset(s, va, nva, &v, err))) goto cleanup;
        if (!(jd.P = malloc(nva * 4 * sizeof *jd.P))) {
            rc = oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
        double lg = 0;
        for (size_t j = 0; j < nva; j++)
            lg += v->reward[j];
        rp.val_dr_logged = lg / nva;
        jd.v = v;
    }
    int since = 0, better;
    if (warm) { /* epoch 0: the model as it came is the first candidate */
        oq_seq_epoch ep = {.train_logloss = NAN};
        double t0 = oq_now();
        if ((rc = judge_epoch(m, &jd, 0, 1, &ep, &better, err))) goto cleanup;
        ep.seconds = oq_now() - t0;
        if (hist) hist[0] = ep;
        rp.epochs_run = 1;
        if (!o->quiet) print_epoch(&ep, 0, epochs, better);
    }
    size_t nb = (ntr + o->batch - 1) / o->batch;
    for (int e = 0; e < epochs; e++) {
        double t0 = oq_now(), sum = 0;
        char label[32];
        snprintf(label, sizeof label, "epoch %d/%d", e + 1, epochs);
        oq_progress prog;
        oq_progress_start(&prog, label, (double)nb, o->quiet);
        oq_rng_seed(r, o->seed, 2 + (uint64_t)e);
        gsl_ran_shuffle(r, tr, ntr, sizeof *tr);
        for (size_t k = 0; k < nb; k++) {
            size_t i0 = k * o->batch, b = ntr - i0 < (size_t)o->batch ? ntr - i0 : (size_t)o->batch;
            for (size_t j = 0; j < b; j++) {
                size_t i = tr[i0 + j];
                memcpy(btok + j * tt, s->tok + i * tt, tt * sizeof *btok);
                zstate_of(m, s, i, bz + j * (size_t)NSC(&m->cfg));
                bc[j] = s->coupon[i];
                by[j] = (float)s->order[i];
            }
            double loss, gn;
            uint64_t dseed = oq_mix64(o->seed ^ oq_mix64((uint64_t)m->step + 1));
            double step = (double)((size_t)e * nb + k), total = (double)epochs * (double)nb;
            double lr = lr0 * (o->lr_min + (1 - o->lr_min) * 0.5 * (1 + cos(M_PI * step / total)));
            if (!warm && step < o->warmup) lr *= (step + 1) / (o->warmup + 1);
            if ((rc = oq_seq_step(m, btok, bz, bc, by, (int)b, dseed, lr, o, &loss, &gn, err))) {
                if (rc == OQ_ENUM)
                    rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                                      "training loss or gradient is not finite (epoch %d, batch "
                                      "%zu): try a smaller learning rate",
                                      e + 1, k + 1);
                goto cleanup;
            }
            sum += loss * b;
            oq_progress_update(&prog, (double)k + 1);
        }
        oq_progress_done(&prog);
        oq_seq_epoch ep = {.train_logloss = sum / ntr};
        /* a cold start's first min_epochs - 1 epochs are not candidates: the
         * held-out DR is noisy (se ~0.2 per row on 14k rows) and its maximum
         * over early, undertrained epochs was a winner's curse (one seed kept
         * epoch 2); a warm start's every epoch is */
        int candidate = warm || e + 1 >= o->min_epochs || e + 1 == epochs;
        if ((rc = judge_epoch(m, &jd, e + 1, candidate, &ep, &better, err))) goto cleanup;
        ep.seconds = oq_now() - t0;
        if (hist) hist[e + warm] = ep;
        rp.epochs_run = e + 1 + warm;
        if (!better && candidate) since++;
        if (better) since = 0;
        if (!o->quiet) print_epoch(&ep, e + 1, epochs, better);
        if (nva && patience > 0 && since >= patience) break;
    }
    memcpy(m->mem, jd.best, m->n_params * sizeof *jd.best);
    if (!o->quiet && nva)
        fprintf(stderr,
                "offerq: sequence model: kept epoch %d%s (held-out DR %.3f per row; always none/"
                "5/10/20 %.3f/%.3f/%.3f/%.3f; logged %.3f)\n",
                rp.best_epoch,
                warm && rp.best_epoch == 0 ? " (the warm-start model unchanged)" : "", jd.best_dr,
                rp.val_dr_fixed[0], rp.val_dr_fixed[1], rp.val_dr_fixed[2], rp.val_dr_fixed[3],
                rp.val_dr_logged);
    if (rep) *rep = rp;
cleanup:
    free(tr);
    free(va);
    free(fr);
    free(btok);
    free(bz);
    free(by);
    free(bc);
    free(jd.best);
    free(jd.P);
    oq_seq_samples_free(v);
    gsl_rng_free(r);
    return rc;
}

int oq_seq_train(oq_seq *m, const oq_seq_samples *s, const oq_seq_train_opts *o, oq_seq_epoch *hist,
                 oq_seq_train_report *rep, oq_error *err)
{
    return train_impl(m, s, NULL, o, hist, rep, err);
}

int oq_seq_train_warm(oq_seq *m, const oq_seq_samples *s, const uint8_t *fresh,
                      const oq_seq_train_opts *o, oq_seq_epoch *hist, oq_seq_train_report *rep,
                      oq_error *err)
{
    if (!fresh) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "warm start without fresh rows");
    return train_impl(m, s, fresh, o, hist, rep, err);
}

/* ---- samples -------------------------------------------------------------------- */

int oq_seq_samples_new(size_t n, int seq_len, oq_seq_samples **out, oq_error *err)
{
    return oq_seq_samples_new_ns(n, seq_len, OQ_SEQ_NSTATE, out, err);
}

int oq_seq_samples_new_ns(size_t n, int seq_len, int n_state, oq_seq_samples **out, oq_error *err)
{
    *out = NULL;
    if (n_state < OQ_SEQ_NSTATE || n_state > OQ_SEQ_MAX_STATE)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "%d state features (%d to %d)", n_state,
                            OQ_SEQ_NSTATE, OQ_SEQ_MAX_STATE);
    oq_seq_samples *s = calloc(1, sizeof *s);
    size_t m = n ? n : 1;
    if (s) {
        s->n = n;
        s->seq_len = seq_len;
        s->n_state = n_state;
        s->tok = calloc(m * (size_t)seq_len * OQ_SEQ_NTOK, sizeof *s->tok);
        s->state = calloc(m * (size_t)n_state, sizeof *s->state);
        s->coupon = calloc(m, 1);
        s->order = calloc(m, 1);
        s->reward = calloc(m, sizeof *s->reward);
        s->g = calloc(m, sizeof *s->g);
        s->user_id = calloc(m, sizeof *s->user_id);
    }
    if (!s || !s->tok || !s->state || !s->coupon || !s->order || !s->reward || !s->g ||
        !s->user_id) {
        oq_seq_samples_free(s);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory (%zu samples)", n);
    }
    *out = s;
    return 0;
}

void oq_seq_samples_free(oq_seq_samples *s)
{
    if (!s) return;
    free(s->tok);
    free(s->state);
    free(s->coupon);
    free(s->order);
    free(s->reward);
    free(s->g);
    free(s->user_id);
    free(s);
}

/* ---- checkpoint ------------------------------------------------------------------ */

static const char MAGIC[8] = {'O', 'Q', 'S', 'E', 'Q', 'M', 'D', 'L'};

int oq_seq_save(const oq_seq *m, const char *path, oq_error *err)
{
    oq_wbuf w = {0};
    const oq_seq_config *c = &m->cfg;
    oq_wb_bytes(&w, MAGIC, 8);
    /* version 3 only with extra state features (a default model's file is
     * version 2's, byte for byte) */
    oq_wb_u32(&w, c->n_extra_state ? 3u : 2u);
    int dims[9] = {c->seq_len,    c->d,      c->heads,   c->layers,  c->ff,
                   c->pool_heads, c->hidden, c->n_bands, c->n_browse};
    for (int i = 0; i < 9; i++)
        oq_wb_u32(&w, (uint32_t)dims[i]);
    oq_wb_f32(&w, c->dropout);
    oq_wb_u32(&w, (uint32_t)m->last_day);
    if (c->n_extra_state) oq_wb_u32(&w, (uint32_t)c->n_extra_state);
    for (int k = 0; k < NSC(c); k++)
        oq_wb_f64(&w, m->state_mean[k]);
    for (int k = 0; k < NSC(c); k++)
        oq_wb_f64(&w, m->state_std[k]);
    for (int k = 0; k + 1 < c->n_bands; k++)
        oq_wb_f64(&w, m->band_edge[k]);
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

static int bad_file(oq_error *err, const char *path, const char *what)
{
    return oq_error_set(err, OQ_EFORMAT, path, 0, 0, "%s", what);
}

int oq_seq_load(const char *path, oq_seq **out, oq_error *err)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    oq_seq *m = NULL;
    int rc = oq_read_file(path, (size_t)1 << 32, &data, &len, err);
    if (rc) return rc;
    oq_rbuf r = {(const unsigned char *)data, len, 0, 0};
    const unsigned char *mg = oq_rb_take(&r, 8);
    if (!mg || memcmp(mg, MAGIC, 8) != 0) {
        rc = bad_file(err, path,
                      "not an offerq sequence model (bad magic; expected a file written by "
                      "'offerq train --reward sequence')");
        goto cleanup;
    }
    if (len < 16) {
        rc = bad_file(err, path, "model file is truncated");
        goto cleanup;
    }
    uint32_t ver = oq_rb_u32(&r);
    if (ver < 1 || ver > OQ_SEQ_VERSION) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "sequence model format version %u, this offerq reads versions 1 to %d",
                          ver, OQ_SEQ_VERSION);
        goto cleanup;
    }
    {
        const unsigned char *sb = (const unsigned char *)data + len - 4;
        uint32_t stored =
            (uint32_t)sb[0] | (uint32_t)sb[1] << 8 | (uint32_t)sb[2] << 16 | (uint32_t)sb[3] << 24;
        if (oq_crc32(0, data, len - 4) != stored) {
            rc = bad_file(err, path, "checksum mismatch: the model file is corrupt or truncated");
            goto cleanup;
        }
    }
    r.len = len - 4;
    int dims[9];
    for (int i = 0; i < 9; i++)
        dims[i] = (int)oq_rb_u32(&r);
    oq_seq_config c = {.seq_len = dims[0],
                       .d = dims[1],
                       .heads = dims[2],
                       .layers = dims[3],
                       .ff = dims[4],
                       .pool_heads = dims[5],
                       .hidden = dims[6],
                       .n_bands = dims[7],
                       .n_browse = dims[8]};
    c.dropout = oq_rb_f32(&r);
    int32_t last_day = ver >= 2 ? (int32_t)oq_rb_u32(&r) : OQ_SEQ_NO_DAY;
    c.n_extra_state = ver >= 3 ? (int)oq_rb_u32(&r) : 0;
    if (r.bad) {
        rc = bad_file(err, path, "model file is truncated");
        goto cleanup;
    }
    {
        oq_error why = {0};
        if (check_config(&c, &why)) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "bad configuration in model file: %s",
                              why.msg);
            goto cleanup;
        }
        size_t sz[OQ_SEQ_NTENSORS], np = 0;
        tensor_sizes(&c, sz);
        for (int i = 0; i < OQ_SEQ_NTENSORS; i++)
            np += sz[i];
        if (np > (r.len - r.pos) / sizeof(float)) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                              "model file too short for its configuration (%zu parameters)", np);
            goto cleanup;
        }
    }
    if ((rc = model_alloc(&c, &m, err))) goto cleanup;
    m->last_day = last_day;
    for (int k = 0; k < NSC(&c); k++)
        m->state_mean[k] = oq_rb_f64(&r);
    for (int k = 0; k < NSC(&c); k++)
        m->state_std[k] = oq_rb_f64(&r);
    for (int k = 0; k + 1 < c.n_bands; k++)
        m->band_edge[k] = oq_rb_f64(&r);
    if (oq_rb_u32(&r) != m->n_cats) {
        rc = bad_file(err, path, "category count does not match the browse vocabulary");
        goto cleanup;
    }
    for (uint32_t k = 0; k < m->n_cats; k++) {
        const unsigned char *lb = oq_rb_take(&r, 2);
        size_t n = lb ? (size_t)lb[0] | (size_t)lb[1] << 8 : 0;
        const unsigned char *s = oq_rb_take(&r, n);
        if (!s) {
            rc = bad_file(err, path, "model file is truncated");
            goto cleanup;
        }
        if (!(m->cat_names[k] = strndup((const char *)s, n))) {
            rc = oq_error_oom(err, path, NULL);
            goto cleanup;
        }
    }
    if (oq_rb_u64(&r) != m->n_params) {
        rc = bad_file(err, path, "parameter count does not match the configuration");
        goto cleanup;
    }
    for (size_t i = 0; i < m->n_params; i++)
        m->mem[i] = oq_rb_f32(&r);
    if (r.bad) {
        rc = bad_file(err, path, "model file is truncated");
        goto cleanup;
    }
    if (r.pos != r.len) {
        rc = bad_file(err, path, "trailing bytes after the weights");
        goto cleanup;
    }
    for (size_t i = 0; i < m->n_params; i++)
        if (!isfinite(m->mem[i])) {
            rc = bad_file(err, path, "non-finite weight: the model file is corrupt");
            goto cleanup;
        }
    for (int k = 0; k < NSC(&c); k++)
        if (!(m->state_std[k] > 0) || !isfinite(m->state_std[k]) || !isfinite(m->state_mean[k])) {
            rc = bad_file(err, path, "invalid state scaling in model file");
            goto cleanup;
        }
    for (int k = 0; k + 1 < c.n_bands; k++)
        if (!isfinite(m->band_edge[k]) || (k && m->band_edge[k] < m->band_edge[k - 1])) {
            rc = bad_file(err, path, "invalid order value bands in model file");
            goto cleanup;
        }
    *out = m;
    m = NULL;
cleanup:
    oq_seq_free(m);
    free(data);
    return rc;
}
