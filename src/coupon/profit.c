/* profit.c - the profit Transformer (see profit.h): parameters, forward and
 * backward per layer (llm.c-style), MSE, AdamW, gradient clipping, training,
 * batched inference and the checkpoint file.
 *
 * The encoder layer is torch.nn.TransformerEncoderLayer(norm_first=False):
 *   r1 = x + Drop(MHA(x)),  h1 = LN1(r1)
 *   r2 = h1 + Drop(W2 Drop(ReLU(W1 h1 + b1)) + b2),  out = LN2(r2)
 * MHA = scaled dot-product attention (Vaswani et al. 2017, eq. 1) with
 * dropout on the attention weights (as torch does), LN eps 1e-5 (torch's).
 */
/* The hot loops below are short (T = 30, head size 8) and need GCC's loop
 * vectoriser, which -O2 (the project's flags) only runs in its "very cheap"
 * mode that skips loops of unknown trip count. O3 for this file only; still
 * IEEE arithmetic (no -ffast-math, no FMA contraction in ISO C mode). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC optimize("O3")
#endif
#include "offerq/coupon/profit.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "util/rbuf.h"
#include "util/wbuf.h"

/* GSL's CBLAS declarations (the standard CBLAS ABI, as OpenBLAS's cblas.h):
 * cblas_sgemm below is GSL's reference one, the fallback of sgemm(). */
#include <gsl/gsl_cblas.h>
#include <gsl/gsl_randist.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#define OMP_FOR _Pragma("omp parallel for schedule(static)")
#else
#define OMP_FOR
#endif

#define LN_EPS 1e-5f

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
    float *mem;
    float *x0;    /* (B, T, C) embeddings */
    float *qkv;   /* (L, B, T, 3C) */
    float *att;   /* (L, B, NH, T, T) softmax */
    float *atty;  /* (L, B, T, C) */
    float *r1;    /* (L, B, T, C) */
    float *h1;    /* (L, B, T, C) LN1 output */
    float *mean1; /* (L, B, T) */
    float *rstd1; /* (L, B, T) */
    float *f;     /* (L, B, T, F) before ReLU */
    float *g;     /* (L, B, T, F) after ReLU and dropout */
    float *r2;    /* (L, B, T, C) */
    float *xo;    /* (L, B, T, C) LN2 output = layer output */
    float *mean2; /* (L, B, T) */
    float *rstd2; /* (L, B, T) */
    float *z;     /* (B, C + 6) head input */
    float *a1;    /* (B, H) before ReLU */
    float *a1r;   /* (B, H) */
    float *out;   /* (B) */
    float *y;     /* (B) targets of the last forward */
    /* training only: dropout scales (0 or 1/(1-p)) and backward scratch */
    float *attm;              /* (L, B, NH, T, T) */
    float *m1;                /* (L, B, T, C) */
    float *m2;                /* (L, B, T, F) */
    float *m3;                /* (L, B, T, C) */
    float *dA, *dB, *dC, *dD; /* (B, T, C) each */
    float *dF;                /* (B, T, F) */
    float *dQKV;              /* (B, T, 3C) */
    float *dz;                /* (B, C + 6) */
    float *da1;               /* (B, H) */
    float *dout;              /* (B) */
    float *scratch;           /* (B, scratch_per_sample) attention work space */
    uint16_t *tok;            /* (B, T) tokens of the last forward */
    gsl_rng **rng;            /* (B) dropout streams */
};

/* Floats of attention scratch per sample (padded per-head copies, see
 * attention_backward1, the larger user). */
static size_t scratch_per_sample(const oq_profit_config *c)
{
    size_t Tp = ((size_t)c->seq_len + 7) & ~(size_t)7,
           hp = ((size_t)(c->d / c->heads) + 7) & ~(size_t)7;
    return 3 * Tp * hp + hp * Tp + 2 * Tp * Tp + Tp;
}

static void acts_free(oq_profit_acts *a)
{
    if (!a) return;
    if (a->rng)
        for (int i = 0; i < a->B; i++)
            gsl_rng_free(a->rng[i]);
    free(a->rng);
    free(a->tok);
    free(a->mem);
    free(a);
}

static oq_profit_acts *acts_new(const oq_profit_config *c, int B, int training)
{
    oq_profit_acts *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->B = B;
    a->training = training;
    size_t b = (size_t)B, T = (size_t)c->seq_len, C = (size_t)c->d, L = (size_t)c->layers,
           F = (size_t)c->ff, H = (size_t)c->hidden, NH = (size_t)c->heads,
           Z = C + OQ_PROFIT_NZ_EXTRA;
    size_t BTC = b * T * C, BTF = b * T * F, BT = b * T, ATT = b * NH * T * T;
    struct {
        float **p;
        size_t n;
        int train;
    } parts[] = {
        {&a->x0, BTC, 0},       {&a->qkv, L * 3 * BTC, 0},
        {&a->att, L * ATT, 0},  {&a->atty, L * BTC, 0},
        {&a->r1, L * BTC, 0},   {&a->h1, L * BTC, 0},
        {&a->mean1, L * BT, 0}, {&a->rstd1, L * BT, 0},
        {&a->f, L * BTF, 0},    {&a->g, L * BTF, 0},
        {&a->r2, L * BTC, 0},   {&a->xo, L * BTC, 0},
        {&a->mean2, L * BT, 0}, {&a->rstd2, L * BT, 0},
        {&a->z, b * Z, 0},      {&a->a1, b * H, 0},
        {&a->a1r, b * H, 0},    {&a->out, b, 0},
        {&a->y, b, 0},          {&a->scratch, b * scratch_per_sample(c), 0},
        {&a->attm, L * ATT, 1}, {&a->m1, L * BTC, 1},
        {&a->m2, L * BTF, 1},   {&a->m3, L * BTC, 1},
        {&a->dA, BTC, 1},       {&a->dB, BTC, 1},
        {&a->dC, BTC, 1},       {&a->dD, BTC, 1},
        {&a->dF, BTF, 1},       {&a->dQKV, 3 * BTC, 1},
        {&a->dz, b * Z, 1},     {&a->da1, b * H, 1},
        {&a->dout, b, 1},
    };
    size_t np = sizeof parts / sizeof *parts, total = 0;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].train || training) total += parts[i].n;
    a->mem = malloc(total * sizeof(float));
    a->tok = malloc(BT * sizeof *a->tok);
    if (training)
        a->rng =
            calloc(b, sizeof *a->rng); // NOLINT(bugprone-sizeof-expression): one pointer per sample
    if (!a->mem || !a->tok || (training && !a->rng)) goto fail;
    float *q = a->mem;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].train || training) {
            *parts[i].p = q;
            q += parts[i].n;
        }
    if (training)
        for (size_t i = 0; i < b; i++)
            if (!(a->rng[i] = oq_rng_new(0, i))) goto fail;
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

/* ---- matrix products: OpenBLAS, loaded on first use ----------------------- */

/* OpenBLAS is not linked: it is dlopen'ed the first time a product is needed.
 * Its constructor maps a 128 MB buffer per thread and retries for ever when
 * the address space is limited (ulimit -v under ~340 MB hung every command,
 * `offerq --help` included, issue 21 item 15); loaded here, only the commands
 * that multiply matrices (train, predict, run with a profit model, serve
 * --profit) pay its start-up. If it cannot be loaded, or would not fit in
 * the address space left (openblas_fits), GSL's reference CBLAS (already
 * linked by GSL) computes the same products, slower. The resolved
 * function is process-wide state, set once under pthread_once. */
typedef void (*sgemm_fn)(enum CBLAS_ORDER, enum CBLAS_TRANSPOSE, enum CBLAS_TRANSPOSE, int, int,
                         int, float, const float *, int, const float *, int, float, float *, int);
static pthread_once_t sgemm_once = PTHREAD_ONCE_INIT;
static sgemm_fn sgemm_impl;

/* Would OpenBLAS's start-up fit in the address space left? It maps a
 * 128 MB buffer per processor (BUFFER_SIZE of Debian's x86-64 build) and
 * spins for ever when a map fails, so under a tight ulimit -v we take GSL's
 * CBLAS instead of hanging. 1: room enough, or no limit. */
static int openblas_fits(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) != 0 || rl.rlim_cur == RLIM_INFINITY) return 1;
    unsigned long pages = 0;
    FILE *fp = fopen("/proc/self/statm", "r");
    if (fp) {
        if (fscanf(fp, "%lu", &pages) != 1) pages = 0;
        fclose(fp);
    }
    double used = (double)pages * (double)sysconf(_SC_PAGESIZE);
    long cpus = sysconf(_SC_NPROCESSORS_CONF);
    double need = (double)(cpus > 0 ? cpus + 1 : 2) * 136.0 * 1048576.0;
    return (double)rl.rlim_cur - used >= need;
}

static void sgemm_load(void)
{
    static const char *const names[] = {"libopenblas.so.0", "libopenblas.so"};
    for (size_t i = 0; openblas_fits() && !sgemm_impl && i < sizeof names / sizeof *names; i++) {
        void *h = dlopen(names[i], RTLD_NOW | RTLD_LOCAL);
        if (h) *(void **)&sgemm_impl = dlsym(h, "cblas_sgemm"); /* kept open for good */
    }
    if (!sgemm_impl) sgemm_impl = cblas_sgemm;
}

static void sgemm(enum CBLAS_ORDER order, enum CBLAS_TRANSPOSE ta, enum CBLAS_TRANSPOSE tb, int m,
                  int n, int k, float alpha, const float *a, int lda, const float *b, int ldb,
                  float beta, float *c, int ldc)
{
    pthread_once(&sgemm_once, sgemm_load);
    sgemm_impl(order, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- layers: forward ------------------------------------------------------ */

/* out (N, OC) = inp (N, IC) @ w^T + b;  w (OC, IC), b (OC) or NULL. */
static void matmul_forward(float *out, const float *inp, const float *w, const float *b, int N,
                           int IC, int OC)
{
    if (b) {
        OMP_FOR
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof *b);
    }
    sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, N, OC, IC, 1.0f, inp, IC, w, IC, b ? 1.0f : 0.0f,
          out, OC);
}

/* dinp (N, IC) (+)= dout @ w; dw (OC, IC) += dout^T inp; db (OC) += sum_n dout. */
static void matmul_backward(float *dinp, int accumulate, float *dw, float *db, const float *dout,
                            const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp)
        sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, N, IC, OC, 1.0f, dout, OC, w, IC,
              accumulate ? 1.0f : 0.0f, dinp, IC);
    sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw,
          IC);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++)
                db[o] += d[o];
        }
}

/* Layer normalisation over C (Ba, Kiros & Hinton 2016) of N rows. */
static void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                              const float *w, const float *b, int N, int C)
{
    OMP_FOR
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C;
        float *o = out + (size_t)n * C;
        float mu = 0, var = 0;
        for (int i = 0; i < C; i++)
            mu += x[i];
        mu /= (float)C;
        for (int i = 0; i < C; i++)
            var += (x[i] - mu) * (x[i] - mu);
        var /= (float)C;
        float s = 1.0f / sqrtf(var + LN_EPS);
        for (int i = 0; i < C; i++)
            o[i] = (x[i] - mu) * s * w[i] + b[i];
        mean[n] = mu;
        rstd[n] = s;
    }
}

static void layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                               const float *inp, const float *w, const float *mean,
                               const float *rstd, int N, int C)
{
    OMP_FOR
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        float *dx = dinp + (size_t)n * C;
        float mu = mean[n], s = rstd[n], dm = 0, dnm = 0;
        for (int i = 0; i < C; i++) {
            float dn = d[i] * w[i];
            dm += dn;
            dnm += dn * (x[i] - mu) * s;
        }
        dm /= (float)C;
        dnm /= (float)C;
        for (int i = 0; i < C; i++) {
            float nrm = (x[i] - mu) * s;
            dx[i] = (d[i] * w[i] - dm - nrm * dnm) * s;
        }
    }
    for (int n = 0; n < N; n++) {
        const float *x = inp + (size_t)n * C, *d = dout + (size_t)n * C;
        float mu = mean[n], s = rstd[n];
        for (int i = 0; i < C; i++) {
            dw[i] += d[i] * (x[i] - mu) * s;
            db[i] += d[i];
        }
    }
}

/* The attention loops work on contiguous per-head copies, padded to
 * multiples of 8, with fixed 8-wide inner blocks whose accumulators stay in
 * a vector register; target_clones builds an AVX2 version next to the
 * portable one, picked at load time (no -march=native needed; no FMA
 * contraction in ISO C mode, so both give the same IEEE operations). */
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__) && !defined(OQ_NO_CLONES)
#define VEC_CLONES __attribute__((target_clones("avx2", "default")))
#else
#define VEC_CLONES
#endif
#define PAD8(x) (((x) + 7) & ~7)

/* Multi-head attention core for one sample: y (T, C) from qkv (T, 3C);
 * p (NH, T, T) gets the softmax, pm the dropout scales (or NULL).
 * w: scratch_per_sample floats. */
VEC_CLONES
static void attention_forward1(float *y, float *p, const float *pm, const float *qkv, int T, int C,
                               int NH, float *w)
{
    int hs = C / NH, C3 = 3 * C, Tp = PAD8(T), hp = PAD8(hs);
    float scale = 1.0f / sqrtf((float)hs);
    float *q = w, *kt = q + (size_t)T * hp, *v = kt + (size_t)hp * Tp, *row = v + (size_t)T * hp;
    memset(w, 0, ((size_t)T * hp * 2 + (size_t)hp * Tp + Tp) * sizeof *w);
    for (int h = 0; h < NH; h++) {
        for (int t = 0; t < T; t++)
            for (int i = 0; i < hs; i++) {
                q[t * hp + i] = qkv[(size_t)t * C3 + h * hs + i] * scale;
                kt[i * Tp + t] = qkv[(size_t)t * C3 + C + h * hs + i];
                v[t * hp + i] = qkv[(size_t)t * C3 + 2 * C + h * hs + i];
            }
        for (int t = 0; t < T; t++) {
            float *pr = p + ((size_t)h * T + t) * T;
            for (int s0 = 0; s0 < Tp; s0 += 8) {
                float acc[8] = {0};
                for (int i = 0; i < hs; i++) {
                    float qi = q[t * hp + i];
                    const float *kr = kt + i * Tp + s0;
                    for (int j = 0; j < 8; j++)
                        acc[j] += qi * kr[j];
                }
                for (int j = 0; j < 8; j++)
                    row[s0 + j] = acc[j];
            }
            float mx = row[0];
            for (int s = 1; s < T; s++)
                mx = row[s] > mx ? row[s] : mx;
            float sum = 0;
            for (int s = 0; s < T; s++) {
                pr[s] = expf(row[s] - mx);
                sum += pr[s];
            }
            float inv = 1.0f / sum;
            for (int s = 0; s < T; s++)
                pr[s] *= inv;
            const float *pmr = pm ? pm + ((size_t)h * T + t) * T : NULL;
            for (int s = 0; s < T; s++)
                row[s] = pmr ? pr[s] * pmr[s] : pr[s];
            for (int i0 = 0; i0 < hp; i0 += 8) {
                float acc[8] = {0};
                for (int s = 0; s < T; s++) {
                    float a = row[s];
                    const float *vs = v + s * hp + i0;
                    for (int j = 0; j < 8; j++)
                        acc[j] += a * vs[j];
                }
                for (int j = 0; j < 8 && i0 + j < hs; j++)
                    y[(size_t)t * C + h * hs + i0 + j] = acc[j];
            }
        }
    }
}

/* Backward of attention_forward1: dqkv (T, 3C) (overwritten) from dy (T, C).
 * w: scratch_per_sample floats. */
VEC_CLONES
static void attention_backward1(float *dqkv, const float *dy, const float *p, const float *pm,
                                const float *qkv, int T, int C, int NH, float *w)
{
    int hs = C / NH, C3 = 3 * C, Tp = PAD8(T), hp = PAD8(hs);
    size_t n = (size_t)T * hp;
    float scale = 1.0f / sqrtf((float)hs);
    float *q = w, *k = q + n, *dyh = k + n, *vt = dyh + n, *ds = vt + (size_t)hp * Tp,
          *a = ds + (size_t)T * Tp;
    memset(w, 0, (3 * n + (size_t)hp * Tp + 2 * (size_t)T * Tp) * sizeof *w);
    for (int h = 0; h < NH; h++) {
        for (int t = 0; t < T; t++)
            for (int i = 0; i < hs; i++) {
                q[t * hp + i] = qkv[(size_t)t * C3 + h * hs + i];
                k[t * hp + i] = qkv[(size_t)t * C3 + C + h * hs + i];
                vt[i * Tp + t] = qkv[(size_t)t * C3 + 2 * C + h * hs + i];
                dyh[t * hp + i] = dy[(size_t)t * C + h * hs + i];
            }
        for (int t = 0; t < T; t++) {
            const float *pr = p + ((size_t)h * T + t) * T;
            const float *pmr = pm ? pm + ((size_t)h * T + t) * T : NULL;
            float *dsr = ds + (size_t)t * Tp, *ar = a + (size_t)t * Tp;
            /* y_t = sum_s a_ts v_s with a = p m: d a_ts = dy_t . v_s */
            for (int s0 = 0; s0 < Tp; s0 += 8) {
                float acc[8] = {0};
                for (int i = 0; i < hs; i++) {
                    float d = dyh[t * hp + i];
                    const float *vr = vt + i * Tp + s0;
                    for (int j = 0; j < 8; j++)
                        acc[j] += d * vr[j];
                }
                for (int j = 0; j < 8; j++)
                    dsr[s0 + j] = acc[j];
            }
            for (int s = 0; s < T; s++) {
                ar[s] = pmr ? pr[s] * pmr[s] : pr[s];
                if (pmr) dsr[s] *= pmr[s];
            }
            /* softmax: ds = p (dp - sum p dp), times the score scale */
            float acc = 0;
            for (int s = 0; s < T; s++)
                acc += pr[s] * dsr[s];
            for (int s = 0; s < T; s++)
                dsr[s] = pr[s] * (dsr[s] - acc) * scale;
        }
        /* dq_t = sum_s ds_ts k_s;  dk_s = sum_t ds_ts q_t;  dv_s = sum_t a_ts dy_t */
        for (int t = 0; t < T; t++)
            for (int i0 = 0; i0 < hp; i0 += 8) {
                float aq[8] = {0}, ak[8] = {0}, av[8] = {0};
                for (int u = 0; u < T; u++) {
                    float x = ds[(size_t)t * Tp + u], y2 = ds[(size_t)u * Tp + t];
                    float z = a[(size_t)u * Tp + t];
                    const float *ku = k + u * hp + i0, *qu = q + u * hp + i0,
                                *du = dyh + u * hp + i0;
                    for (int j = 0; j < 8; j++) {
                        aq[j] += x * ku[j];
                        ak[j] += y2 * qu[j];
                        av[j] += z * du[j];
                    }
                }
                for (int j = 0; j < 8 && i0 + j < hs; j++) {
                    dqkv[(size_t)t * C3 + h * hs + i0 + j] = aq[j];
                    dqkv[(size_t)t * C3 + C + h * hs + i0 + j] = ak[j];
                    dqkv[(size_t)t * C3 + 2 * C + h * hs + i0 + j] = av[j];
                }
            }
    }
}

/* ---- the network ------------------------------------------------------------ */

/* Draw the dropout scales of sample i from stream (seed, i). */
static void draw_masks(const oq_profit_config *c, oq_profit_acts *a, int b, uint64_t seed)
{
    size_t T = (size_t)c->seq_len, C = (size_t)c->d, F = (size_t)c->ff, NH = (size_t)c->heads;
    size_t L = (size_t)c->layers, B = (size_t)a->B;
    /* Each 32-bit draw gives two 16-bit uniforms: an element is dropped when
     * its uniform is below round(p 2^16) (p resolved to 1/65536). */
    uint32_t thr = (uint32_t)lround(c->dropout * 65536.0);
    float keep = (float)(1.0 / (1.0 - c->dropout));
    OMP_FOR
    for (int i = 0; i < b; i++) {
        gsl_rng *r = a->rng[i];
        oq_rng_seed(r, seed, (uint64_t)i);
        for (size_t l = 0; l < L; l++) {
            struct {
                float *x;
                size_t n;
            } part[4] = {{a->attm + (l * B + i) * NH * T * T, NH * T * T},
                         {a->m1 + (l * B + i) * T * C, T * C},
                         {a->m2 + (l * B + i) * T * F, T * F},
                         {a->m3 + (l * B + i) * T * C, T * C}};
            for (int k = 0; k < 4; k++) {
                float *x = part[k].x;
                size_t n = part[k].n, j = 0;
                for (; j + 1 < n; j += 2) {
                    uint32_t u = (uint32_t)gsl_rng_get(r);
                    x[j] = (u & 0xffff) < thr ? 0.0f : keep;
                    x[j + 1] = (u >> 16) < thr ? 0.0f : keep;
                }
                if (j < n) x[j] = ((uint32_t)gsl_rng_get(r) & 0xffff) < thr ? 0.0f : keep;
            }
        }
    }
}

/* The encoder on b samples (tokens in a->tok): leaves every layer's
 * activations in a. masks: apply a->attm/m1/m2/m3. */
static void encoder_forward(const oq_profit *m, oq_profit_acts *a, int b, int masks)
{
    const oq_profit_config *c = &m->cfg;
    const oq_profit_params *p = &m->p;
    int T = c->seq_len, C = c->d, F = c->ff, NH = c->heads, L = c->layers, N = b * T;
    size_t B = (size_t)a->B, BTC = B * T * C, BTF = B * T * F, BT = B * T;
    size_t ATT = B * NH * T * T;
    OMP_FOR
    for (int n = 0; n < N; n++) {
        const float *e = p->wte + (size_t)a->tok[n] * C, *pe = p->wpe + (size_t)(n % T) * C;
        float *x = a->x0 + (size_t)n * C;
        for (int i = 0; i < C; i++)
            x[i] = e[i] + pe[i];
    }
    for (int l = 0; l < L; l++) {
        const float *x = l == 0 ? a->x0 : a->xo + (l - 1) * BTC;
        float *qkv = a->qkv + l * 3 * BTC, *att = a->att + l * ATT, *atty = a->atty + l * BTC;
        float *r1 = a->r1 + l * BTC, *h1 = a->h1 + l * BTC, *f = a->f + l * BTF;
        float *g = a->g + l * BTF, *r2 = a->r2 + l * BTC, *xo = a->xo + l * BTC;
        const float *attm = masks ? a->attm + l * ATT : NULL;
        const float *m1 = masks ? a->m1 + l * BTC : NULL, *m2 = masks ? a->m2 + l * BTF : NULL;
        const float *m3 = masks ? a->m3 + l * BTC : NULL;
        matmul_forward(qkv, x, p->qkvw + (size_t)l * 3 * C * C, p->qkvb + (size_t)l * 3 * C, N, C,
                       3 * C);
        OMP_FOR
        for (int i = 0; i < b; i++) {
            float *w = a->scratch + (size_t)i * scratch_per_sample(c);
            attention_forward1(atty + (size_t)i * T * C, att + (size_t)i * NH * T * T,
                               attm ? attm + (size_t)i * NH * T * T : NULL,
                               qkv + (size_t)i * T * 3 * C, T, C, NH, w);
        }
        matmul_forward(r1, atty, p->projw + (size_t)l * C * C, p->projb + (size_t)l * C, N, C, C);
        OMP_FOR
        for (int n = 0; n < N * C; n++)
            r1[n] = x[n] + (m1 ? r1[n] * m1[n] : r1[n]);
        layernorm_forward(h1, a->mean1 + l * BT, a->rstd1 + l * BT, r1, p->ln1w + (size_t)l * C,
                          p->ln1b + (size_t)l * C, N, C);
        matmul_forward(f, h1, p->fcw + (size_t)l * F * C, p->fcb + (size_t)l * F, N, C, F);
        OMP_FOR
        for (int n = 0; n < N * F; n++) {
            float v = f[n] > 0 ? f[n] : 0.0f;
            g[n] = m2 ? v * m2[n] : v;
        }
        matmul_forward(r2, g, p->fcprojw + (size_t)l * C * F, p->fcprojb + (size_t)l * C, N, F, C);
        OMP_FOR
        for (int n = 0; n < N * C; n++)
            r2[n] = h1[n] + (m3 ? r2[n] * m3[n] : r2[n]);
        layernorm_forward(xo, a->mean2 + l * BT, a->rstd2 + l * BT, r2, p->ln2w + (size_t)l * C,
                          p->ln2b + (size_t)l * C, N, C);
    }
}

/* Copy the pooled output (position 0 of the last layer) into z[:, :C]. */
static void pool(const oq_profit *m, oq_profit_acts *a, int b)
{
    int T = m->cfg.seq_len, C = m->cfg.d, Z = C + OQ_PROFIT_NZ_EXTRA;
    const float *xl = a->xo + (size_t)(m->cfg.layers - 1) * a->B * T * C;
    for (int i = 0; i < b; i++)
        memcpy(a->z + (size_t)i * Z, xl + (size_t)i * T * C, (size_t)C * sizeof(float));
}

/* The head on z (b, C+6) -> a->out (b). */
static void head_forward(const oq_profit *m, oq_profit_acts *a, int b)
{
    int C = m->cfg.d, H = m->cfg.hidden, Z = C + OQ_PROFIT_NZ_EXTRA;
    const oq_profit_params *p = &m->p;
    matmul_forward(a->a1, a->z, p->h1w, p->h1b, b, Z, H);
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
    if (a->dropped) draw_masks(c, a, b, drop_seed);
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
    int b = a->b, T = c->seq_len, C = c->d, F = c->ff, NH = c->heads, L = c->layers, H = c->hidden,
        Z = C + OQ_PROFIT_NZ_EXTRA, N = b * T;
    size_t B = (size_t)a->B, BTC = B * T * C, BTF = B * T * F, BT = B * T;
    size_t ATT = B * NH * T * T;
    int masks = a->dropped;

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
    matmul_backward(a->dz, 0, g->h1w, g->h1b, a->da1, a->z, p->h1w, b, Z, H);
    /* only position 0 of the last layer feeds the head */
    float *dxo = a->dA;
    memset(dxo, 0, (size_t)N * C * sizeof *dxo);
    for (int i = 0; i < b; i++)
        memcpy(dxo + (size_t)i * T * C, a->dz + (size_t)i * Z, (size_t)C * sizeof(float));

    float *dr = a->dB, *dh1 = a->dC, *dd = a->dD, *dff = a->dF, *dqkv = a->dQKV;
    for (int l = L - 1; l >= 0; l--) {
        const float *x = l == 0 ? a->x0 : a->xo + (l - 1) * BTC;
        const float *qkv = a->qkv + l * 3 * BTC, *att = a->att + l * ATT;
        const float *atty = a->atty + l * BTC, *r1 = a->r1 + l * BTC, *h1 = a->h1 + l * BTC;
        const float *f = a->f + l * BTF, *gg = a->g + l * BTF, *r2 = a->r2 + l * BTC;
        const float *attm = masks ? a->attm + l * ATT : NULL;
        const float *m1 = masks ? a->m1 + l * BTC : NULL, *m2 = masks ? a->m2 + l * BTF : NULL;
        const float *m3 = masks ? a->m3 + l * BTC : NULL;
        size_t lC = (size_t)l * C, lF = (size_t)l * F;
        /* out = LN2(r2) */
        layernorm_backward(dr, g->ln2w + lC, g->ln2b + lC, dxo, r2, p->ln2w + lC, a->mean2 + l * BT,
                           a->rstd2 + l * BT, N, C);
        /* r2 = h1 + m3 * (g W2^T + b2) */
        OMP_FOR
        for (int n = 0; n < N * C; n++) {
            dh1[n] = dr[n];
            dd[n] = m3 ? dr[n] * m3[n] : dr[n];
        }
        matmul_backward(dff, 0, g->fcprojw + lC * F, g->fcprojb + lC, dd, gg, p->fcprojw + lC * F,
                        N, F, C);
        /* g = m2 * relu(f) */
        OMP_FOR
        for (int n = 0; n < N * F; n++) {
            float v = f[n] > 0 ? dff[n] : 0.0f;
            dff[n] = m2 ? v * m2[n] : v;
        }
        matmul_backward(dh1, 1, g->fcw + lF * C, g->fcb + lF, dff, h1, p->fcw + lF * C, N, C, F);
        /* h1 = LN1(r1) */
        layernorm_backward(dr, g->ln1w + lC, g->ln1b + lC, dh1, r1, p->ln1w + lC, a->mean1 + l * BT,
                           a->rstd1 + l * BT, N, C);
        /* r1 = x + m1 * (atty Wo^T + bo) */
        OMP_FOR
        for (int n = 0; n < N * C; n++) {
            dxo[n] = dr[n];
            dd[n] = m1 ? dr[n] * m1[n] : dr[n];
        }
        matmul_backward(dh1, 0, g->projw + lC * C, g->projb + lC, dd, atty, p->projw + lC * C, N, C,
                        C);
        /* dh1 now holds d atty */
        OMP_FOR
        for (int i = 0; i < b; i++) {
            float *w = a->scratch + (size_t)i * scratch_per_sample(c);
            attention_backward1(dqkv + (size_t)i * T * 3 * C, dh1 + (size_t)i * T * C,
                                att + (size_t)i * NH * T * T,
                                attm ? attm + (size_t)i * NH * T * T : NULL,
                                qkv + (size_t)i * T * 3 * C, T, C, NH, w);
        }
        matmul_backward(dxo, 1, g->qkvw + lC * 3 * C, g->qkvb + lC * 3, dqkv, x,
                        p->qkvw + lC * 3 * C, N, C, 3 * C);
    }
    /* x0 = wte[tok] + wpe[t] */
    for (int n = 0; n < N; n++) {
        const float *d = dxo + (size_t)n * C;
        float *dw = g->wte + (size_t)a->tok[n] * C, *dp = g->wpe + (size_t)(n % T) * C;
        for (int i = 0; i < C; i++) {
            dw[i] += d[i];
            dp[i] += d[i];
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
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)m->gmem[i] * m->gmem[i];
    double norm = sqrt(ss);
    if (!isfinite(norm)) return norm; /* no step: the caller stops */
    /* torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when < 1 */
    float gs = 1.0f;
    if (clip > 0 && clip / (norm + 1e-6) < 1) gs = (float)(clip / (norm + 1e-6));
    m->step++;
    double bc1 = 1 - pow(beta1, (double)m->step), bc2 = 1 - pow(beta2, (double)m->step);
    float fl = (float)lr, b1 = (float)beta1, b2 = (float)beta2, fe = (float)eps;
    float decay = (float)(1 - lr * weight_decay), step = (float)(lr / bc1);
    float sbc2 = (float)sqrt(bc2);
    (void)fl;
    for (size_t i = 0; i < n; i++) {
        float gr = m->gmem[i] * gs;
        m->mem[i] *= decay;
        m->m[i] = b1 * m->m[i] + (1 - b1) * gr;
        m->v[i] = b2 * m->v[i] + (1 - b2) * gr * gr;
        m->mem[i] -= step * m->m[i] / (sqrtf(m->v[i]) / sbc2 + fe);
    }
    return norm;
}

double oq_profit_flops(const oq_profit_config *c, int training)
{
    double T = c->seq_len, C = c->d, F = c->ff, H = c->hidden, L = c->layers;
    double layer = 2 * T * C * 3 * C + 2 * T * T * C * 2 + 2 * T * C * C + 2 * T * C * F * 2;
    double fwd = L * layer + 2 * H * (C + OQ_PROFIT_NZ_EXTRA) + 2 * H;
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
