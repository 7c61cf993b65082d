/* nn.c - the layers shared by the profit Transformer and the sequence
 * response model (nn_int.h): matrix products (OpenBLAS, loaded lazily, GSL's
 * CBLAS as the fallback), LayerNorm, multi-head attention, the post-LN
 * encoder layer stack and AdamW, each an explicit forward and backward.
 *
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
#include "nn_int.h"
#include "offerq/core/rng.h"

/* GSL's CBLAS declarations (the standard CBLAS ABI, as OpenBLAS's cblas.h):
 * cblas_sgemm below is GSL's reference one, the fallback of oq_nn_sgemm(). */
#include <gsl/gsl_cblas.h>
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

void oq_nn_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc)
{
    pthread_once(&sgemm_once, sgemm_load);
    sgemm_impl(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, m, n,
               k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/* ---- layers ------------------------------------------------------------- */

/* out (N, OC) = inp (N, IC) @ w^T + b;  w (OC, IC), b (OC) or NULL. */
void oq_nn_matmul_forward(float *out, const float *inp, const float *w, const float *b, int N,
                          int IC, int OC)
{
    if (b) {
        OMP_FOR
        for (int n = 0; n < N; n++)
            memcpy(out + (size_t)n * OC, b, (size_t)OC * sizeof *b);
    }
    oq_nn_sgemm(0, 1, N, OC, IC, 1.0f, inp, IC, w, IC, b ? 1.0f : 0.0f, out, OC);
}

/* dinp (N, IC) (+)= dout @ w; dw (OC, IC) += dout^T inp; db (OC) += sum_n dout. */
void oq_nn_matmul_backward(float *dinp, int accumulate, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, int N, int IC, int OC)
{
    if (dinp)
        oq_nn_sgemm(0, 0, N, IC, OC, 1.0f, dout, OC, w, IC, accumulate ? 1.0f : 0.0f, dinp, IC);
    oq_nn_sgemm(1, 0, OC, IC, N, 1.0f, dout, OC, inp, IC, 1.0f, dw, IC);
    if (db)
        for (int n = 0; n < N; n++) {
            const float *d = dout + (size_t)n * OC;
            for (int o = 0; o < OC; o++)
                db[o] += d[o];
        }
}

/* Layer normalisation over C (Ba, Kiros & Hinton 2016) of N rows. */
void oq_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                             const float *b, int N, int C)
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
        float s = 1.0f / sqrtf(var + OQ_NN_LN_EPS);
        for (int i = 0; i < C; i++)
            o[i] = (x[i] - mu) * s * w[i] + b[i];
        mean[n] = mu;
        rstd[n] = s;
    }
}

void oq_nn_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
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

#if defined(__GNUC__) && !defined(__clang__)
/* the helpers below are static inline: no ABI is exposed */
#pragma GCC diagnostic ignored "-Wpsabi"
#endif
/* Eight floats as one vector (GCC/clang vector extensions): a ymm register
 * in the AVX2 clone, two xmm registers in the portable one. Loads and
 * stores go through memcpy (no alignment assumed). */
typedef float v8f __attribute__((vector_size(32)));
typedef int32_t v8i __attribute__((vector_size(32)));

static inline __attribute__((always_inline)) v8f ld8(const float *p)
{
    v8f v;
    memcpy(&v, p, sizeof v);
    return v;
}

static inline __attribute__((always_inline)) void st8(float *p, v8f v)
{
    memcpy(p, &v, sizeof v);
}

static inline __attribute__((always_inline)) v8f bc8(float x)
{
    return (v8f){0} + x; /* one vbroadcastss (GCC 12 builds {x, x, ...} and a
                            shuffle of {x} from 7 inserts) */
}

/* lanes of a where m is set (all ones), else of b */
static inline __attribute__((always_inline)) v8f sel8(v8i m, v8f a, v8f b)
{
    return (v8f)((m & (v8i)a) | (~m & (v8i)b));
}

static inline __attribute__((always_inline)) float hsum8(v8f v)
{
    return ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]));
}

static inline __attribute__((always_inline)) float hmax8(v8f v)
{
    float m = v[0];
    for (int j = 1; j < 8; j++)
        m = v[j] > m ? v[j] : m;
    return m;
}

/* exp of 8 lanes, x <= 88: Cody-Waite reduction x = n ln2 + r, |r| <=
 * ln2/2, Cephes' degree-6 polynomial (relative error ~2e-7), 2^n from the
 * exponent bits. Lanes below -87 give ~1e-38, not 0 (callers mask them). */
static inline __attribute__((always_inline)) v8f vexp8(v8f x)
{
    x = sel8(x < bc8(-87.0f), bc8(-87.0f), x);
    x = sel8(x > bc8(88.0f), bc8(88.0f), x);
    v8f y = x * bc8(1.44269504088896341f) + bc8(0.5f);
    v8i n = __builtin_convertvector(y, v8i); /* toward zero; floor below */
    n += (v8i)(__builtin_convertvector(n, v8f) > y);
    v8f nf = __builtin_convertvector(n, v8f);
    v8f r = x - nf * bc8(0.693359375f) + nf * bc8(2.12194440e-4f);
    v8f pl = bc8(1.9875691500e-4f);
    pl = pl * r + bc8(1.3981999507e-3f);
    pl = pl * r + bc8(8.3334519073e-3f);
    pl = pl * r + bc8(4.1665795894e-2f);
    pl = pl * r + bc8(1.6666665459e-1f);
    pl = pl * r + bc8(5.0000001201e-1f);
    pl = pl * r * r + r + bc8(1.0f);
    return pl * (v8f)((n + 127) << 23);
}

float oq_nn_expf(float x)
{
    return vexp8(bc8(x))[0];
}

/* Multi-head attention core for one sample: y (T, C) from qkv (T, 3C);
 * p (NH, T, T) gets the softmax, pm the dropout scales (or NULL).
 * w: scratch_per_sample floats. Per head: contiguous copies of q (scaled),
 * k transposed and v, padded to multiples of 8; the scores 8 keys at a time
 * for 4 queries at once (4 independent accumulators share each load of k),
 * the softmax on 8 lanes, and the outputs of 4 queries at once over the
 * keys (the accumulation is latency-bound with one chain). */
VEC_CLONES
static void attention_forward1(float *restrict y, float *restrict p, const float *restrict pm,
                               const float *restrict qkv, int T, int C, int NH, float *restrict w)
{
    int hs = C / NH, C3 = 3 * C, Tp = PAD8(T), hp = PAD8(hs), T4 = (T + 3) & ~3;
    float scale = 1.0f / sqrtf((float)hs);
    /* q (T4, hp), kt (hp, Tp), v (T, hp), a (T4, Tp): the dropped softmax */
    float *q = w, *kt = q + (size_t)T4 * hp, *v = kt + (size_t)hp * Tp, *a = v + (size_t)T * hp;
    memset(w, 0,
           ((size_t)T4 * hp + (size_t)hp * Tp + (size_t)T * hp + (size_t)T4 * Tp) * sizeof *w);
    for (int h = 0; h < NH; h++) {
        for (int t = 0; t < T; t++)
            for (int i = 0; i < hs; i++) {
                q[t * hp + i] = qkv[(size_t)t * C3 + h * hs + i] * scale;
                kt[i * Tp + t] = qkv[(size_t)t * C3 + C + h * hs + i];
                v[t * hp + i] = qkv[(size_t)t * C3 + 2 * C + h * hs + i];
            }
        /* scores of queries t .. t+3 into a's rows */
        for (int t = 0; t < T; t += 4)
            for (int s0 = 0; s0 < Tp; s0 += 8) {
                v8f a0 = bc8(0), a1 = bc8(0), a2 = bc8(0), a3 = bc8(0);
                const float *q0 = q + (size_t)t * hp;
                for (int i = 0; i < hs; i++) {
                    v8f k8 = ld8(kt + i * Tp + s0);
                    a0 += bc8(q0[i]) * k8;
                    a1 += bc8(q0[hp + i]) * k8;
                    a2 += bc8(q0[2 * hp + i]) * k8;
                    a3 += bc8(q0[3 * hp + i]) * k8;
                }
                float *r = a + (size_t)t * Tp + s0;
                st8(r, a0);
                st8(r + Tp, a1);
                st8(r + 2 * Tp, a2);
                st8(r + 3 * Tp, a3);
            }
        for (int t = 0; t < T; t++) {
            float *row = a + (size_t)t * Tp, *pr = p + ((size_t)h * T + t) * T;
            for (int s = T; s < Tp; s++)
                row[s] = -INFINITY;
            v8f m = ld8(row);
            for (int s0 = 8; s0 < Tp; s0 += 8) {
                v8f x = ld8(row + s0);
                m = sel8(x > m, x, m);
            }
            v8f mx = bc8(hmax8(m)), sm = bc8(0);
            for (int s0 = 0; s0 < Tp; s0 += 8)
                st8(row + s0, vexp8(ld8(row + s0) - mx));
            for (int s = T; s < Tp; s++)
                row[s] = 0;
            for (int s0 = 0; s0 < Tp; s0 += 8)
                sm += ld8(row + s0);
            float inv = 1.0f / hsum8(sm);
            const float *pmr = pm ? pm + ((size_t)h * T + t) * T : NULL;
            for (int s = 0; s < T; s++) {
                float x = row[s] * inv;
                pr[s] = x;
                row[s] = pmr ? x * pmr[s] : x;
            }
        }
        /* outputs of queries t .. t+3 (rows past T are zero and not stored) */
        for (int t = 0; t < T; t += 4)
            for (int i0 = 0; i0 < hp; i0 += 8) {
                v8f o0 = bc8(0), o1 = bc8(0), o2 = bc8(0), o3 = bc8(0);
                const float *r = a + (size_t)t * Tp;
                for (int s = 0; s < T; s++) {
                    v8f v8 = ld8(v + s * hp + i0);
                    o0 += bc8(r[s]) * v8;
                    o1 += bc8(r[Tp + s]) * v8;
                    o2 += bc8(r[2 * Tp + s]) * v8;
                    o3 += bc8(r[3 * Tp + s]) * v8;
                }
                v8f o[4] = {o0, o1, o2, o3};
                for (int k = 0; k < 4 && t + k < T; k++) {
                    float *yo = y + (size_t)(t + k) * C + h * hs + i0;
                    if (i0 + 8 <= hs)
                        st8(yo, o[k]);
                    else
                        for (int jj = 0; i0 + jj < hs; jj++)
                            yo[jj] = o[k][jj];
                }
            }
    }
}

/* Backward of attention_forward1: dqkv (T, 3C) (overwritten) from dy (T, C).
 * w: scratch_per_sample floats. */
VEC_CLONES
static void attention_backward1(float *restrict dqkv, const float *restrict dy,
                                const float *restrict p, const float *restrict pm,
                                const float *restrict qkv, int T, int C, int NH, float *restrict w)
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
                v8f acc = bc8(0);
                for (int i = 0; i < hs; i++)
                    acc += bc8(dyh[t * hp + i]) * ld8(vt + i * Tp + s0);
                st8(dsr + s0, acc);
            }
            float dot = 0;
            for (int s = 0; s < T; s++) {
                ar[s] = pmr ? pr[s] * pmr[s] : pr[s];
                if (pmr) dsr[s] *= pmr[s];
                dot += pr[s] * dsr[s];
            }
            /* softmax: ds = p (dp - sum p dp), times the score scale */
            for (int s = 0; s < T; s++)
                dsr[s] = pr[s] * (dsr[s] - dot) * scale;
        }
        /* dq_t = sum_s ds_ts k_s;  dk_s = sum_t ds_ts q_t;  dv_s = sum_t a_ts dy_t */
        for (int t = 0; t < T; t++)
            for (int i0 = 0; i0 < hp; i0 += 8) {
                v8f aq = bc8(0), ak = bc8(0), av = bc8(0);
                for (int u = 0; u < T; u++) {
                    aq += bc8(ds[(size_t)t * Tp + u]) * ld8(k + u * hp + i0);
                    ak += bc8(ds[(size_t)u * Tp + t]) * ld8(q + u * hp + i0);
                    av += bc8(a[(size_t)u * Tp + t]) * ld8(dyh + u * hp + i0);
                }
                float *d = dqkv + (size_t)t * C3 + h * hs + i0;
                if (i0 + 8 <= hs) {
                    st8(d, aq);
                    st8(d + C, ak);
                    st8(d + 2 * C, av);
                } else {
                    for (int j = 0; i0 + j < hs; j++) {
                        d[j] = aq[j];
                        d[C + j] = ak[j];
                        d[2 * C + j] = av[j];
                    }
                }
            }
    }
}

/* ---- the encoder ---------------------------------------------------------- */

/* Floats of attention scratch per sample (padded per-head copies, see
 * attention_backward1, the larger user). */
static size_t attention_scratch(const oq_nn_enc_dims *d)
{
    size_t Tp = ((size_t)d->T + 7) & ~(size_t)7, hp = ((size_t)(d->C / d->NH) + 7) & ~(size_t)7;
    /* the backward's need; the forward's, with T4 <= Tp rows, is smaller */
    return 3 * Tp * hp + hp * Tp + 2 * Tp * Tp + Tp;
}

void oq_nn_enc_acts_free(oq_nn_enc_acts *a)
{
    if (!a) return;
    free(a->mem);
    free(a);
}

oq_nn_enc_acts *oq_nn_enc_acts_new(const oq_nn_enc_dims *d, int B, int training)
{
    oq_nn_enc_acts *a = calloc(1, sizeof *a);
    if (!a) return NULL;
    a->B = B;
    a->training = training;
    size_t b = (size_t)B, T = (size_t)d->T, C = (size_t)d->C, L = (size_t)d->L, F = (size_t)d->F,
           NH = (size_t)d->NH;
    size_t BTC = b * T * C, BTF = b * T * F, BT = b * T, ATT = b * NH * T * T;
    struct {
        float **p;
        size_t n;
        int train;
    } parts[] = {
        {&a->qkv, L * 3 * BTC, 0}, {&a->att, L * ATT, 0},
        {&a->atty, L * BTC, 0},    {&a->r1, L * BTC, 0},
        {&a->h1, L * BTC, 0},      {&a->mean1, L * BT, 0},
        {&a->rstd1, L * BT, 0},    {&a->f, L * BTF, 0},
        {&a->g, L * BTF, 0},       {&a->r2, L * BTC, 0},
        {&a->xo, L * BTC, 0},      {&a->mean2, L * BT, 0},
        {&a->rstd2, L * BT, 0},    {&a->scratch, b * attention_scratch(d), 0},
        {&a->attm, L * ATT, 1},    {&a->m1, L * BTC, 1},
        {&a->m2, L * BTF, 1},      {&a->m3, L * BTC, 1},
        {&a->dA, BTC, 1},          {&a->dB, BTC, 1},
        {&a->dC, BTC, 1},          {&a->dD, BTC, 1},
        {&a->dF, BTF, 1},          {&a->dQKV, 3 * BTC, 1},
    };
    size_t np = sizeof parts / sizeof *parts, total = 0;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].train || training) total += parts[i].n;
    if (!(a->mem = malloc(total * sizeof(float)))) {
        free(a);
        return NULL;
    }
    float *q = a->mem;
    for (size_t i = 0; i < np; i++)
        if (!parts[i].train || training) {
            *parts[i].p = q;
            q += parts[i].n;
        }
    return a;
}

float *oq_nn_enc_out(const oq_nn_enc_dims *d, const oq_nn_enc_acts *a)
{
    return a->xo + (size_t)(d->L - 1) * a->B * d->T * d->C;
}

/* The masks' generator: a counter-based 32-bit hash (Wellons' "lowbias32"
 * finaliser) of a per-sample key plus the element's position, so that the
 * loop is plain 32-bit arithmetic the vectoriser widens; each hash gives two
 * 16-bit uniforms, for the element at j in the first half of a part and the
 * one at j + n/2 in the second. (A gsl_rng call per two elements took a
 * seventh of a training step, an inline splitmix64 as much.) */
static inline uint32_t lowbias32(uint32_t x)
{
    x ^= x >> 16;
    x *= 0x7feb352du;
    x ^= x >> 15;
    x *= 0x846ca68bu;
    x ^= x >> 16;
    return x;
}

VEC_CLONES
static void draw_part(float *restrict x, size_t n, uint32_t key, uint32_t thr, float keep)
{
    size_t h = n / 2;
    for (size_t j = 0; j < h; j++) {
        uint32_t u = lowbias32(key + (uint32_t)j * 0x9E3779B9u);
        x[j] = (u & 0xffffu) < thr ? 0.0f : keep;
        x[j + h] = (u >> 16) < thr ? 0.0f : keep;
    }
    if (n & 1)
        x[n - 1] = (lowbias32(key + (uint32_t)h * 0x9E3779B9u) & 0xffffu) < thr ? 0.0f : keep;
}

void oq_nn_enc_draw_masks(const oq_nn_enc_dims *d, oq_nn_enc_acts *a, int b, float dropout,
                          uint64_t seed, uint64_t first)
{
    size_t T = (size_t)d->T, C = (size_t)d->C, F = (size_t)d->F, NH = (size_t)d->NH;
    size_t L = (size_t)d->L, B = (size_t)a->B;
    uint32_t thr = (uint32_t)lround(dropout * 65536.0);
    float keep = (float)(1.0 / (1.0 - dropout));
    OMP_FOR
    for (int i = 0; i < b; i++) {
        uint64_t st = oq_mix64(seed ^ oq_mix64(first + (uint64_t)i + 0x6d61736b73ull));
        for (size_t l = 0; l < L; l++) {
            struct {
                float *x;
                size_t n;
            } part[4] = {{a->attm + (l * B + i) * NH * T * T, NH * T * T},
                         {a->m1 + (l * B + i) * T * C, T * C},
                         {a->m2 + (l * B + i) * T * F, T * F},
                         {a->m3 + (l * B + i) * T * C, T * C}};
            for (int k = 0; k < 4; k++) {
                st = oq_mix64(st + 0x9E3779B97F4A7C15ull);
                draw_part(part[k].x, part[k].n, (uint32_t)st, thr, keep);
            }
        }
    }
}

void oq_nn_enc_forward(const oq_nn_enc_dims *d, const oq_nn_enc_params *p, oq_nn_enc_acts *a,
                       const float *x0, int b, int masks)
{
    int T = d->T, C = d->C, F = d->F, NH = d->NH, L = d->L, N = b * T;
    size_t B = (size_t)a->B, BTC = B * T * C, BTF = B * T * F, BT = B * T;
    size_t ATT = B * NH * T * T, sps = attention_scratch(d);
    for (int l = 0; l < L; l++) {
        const float *x = l == 0 ? x0 : a->xo + (l - 1) * BTC;
        float *qkv = a->qkv + l * 3 * BTC, *att = a->att + l * ATT, *atty = a->atty + l * BTC;
        float *r1 = a->r1 + l * BTC, *h1 = a->h1 + l * BTC, *f = a->f + l * BTF;
        float *g = a->g + l * BTF, *r2 = a->r2 + l * BTC, *xo = a->xo + l * BTC;
        const float *attm = masks ? a->attm + l * ATT : NULL;
        const float *m1 = masks ? a->m1 + l * BTC : NULL, *m2 = masks ? a->m2 + l * BTF : NULL;
        const float *m3 = masks ? a->m3 + l * BTC : NULL;
        oq_nn_matmul_forward(qkv, x, p->qkvw + (size_t)l * 3 * C * C, p->qkvb + (size_t)l * 3 * C,
                             N, C, 3 * C);
        OMP_FOR
        for (int i = 0; i < b; i++)
            attention_forward1(atty + (size_t)i * T * C, att + (size_t)i * NH * T * T,
                               attm ? attm + (size_t)i * NH * T * T : NULL,
                               qkv + (size_t)i * T * 3 * C, T, C, NH, a->scratch + (size_t)i * sps);
        oq_nn_matmul_forward(r1, atty, p->projw + (size_t)l * C * C, p->projb + (size_t)l * C, N, C,
                             C);
        OMP_FOR
        for (int n = 0; n < N * C; n++)
            r1[n] = x[n] + (m1 ? r1[n] * m1[n] : r1[n]);
        oq_nn_layernorm_forward(h1, a->mean1 + l * BT, a->rstd1 + l * BT, r1,
                                p->ln1w + (size_t)l * C, p->ln1b + (size_t)l * C, N, C);
        oq_nn_matmul_forward(f, h1, p->fcw + (size_t)l * F * C, p->fcb + (size_t)l * F, N, C, F);
        OMP_FOR
        for (int n = 0; n < N * F; n++) {
            float v = f[n] > 0 ? f[n] : 0.0f;
            g[n] = m2 ? v * m2[n] : v;
        }
        oq_nn_matmul_forward(r2, g, p->fcprojw + (size_t)l * C * F, p->fcprojb + (size_t)l * C, N,
                             F, C);
        OMP_FOR
        for (int n = 0; n < N * C; n++)
            r2[n] = h1[n] + (m3 ? r2[n] * m3[n] : r2[n]);
        oq_nn_layernorm_forward(xo, a->mean2 + l * BT, a->rstd2 + l * BT, r2,
                                p->ln2w + (size_t)l * C, p->ln2b + (size_t)l * C, N, C);
    }
}

void oq_nn_enc_backward(const oq_nn_enc_dims *d, const oq_nn_enc_params *p,
                        const oq_nn_enc_params *g, oq_nn_enc_acts *a, const float *x0, float *dxo,
                        int b, int masks)
{
    int T = d->T, C = d->C, F = d->F, NH = d->NH, L = d->L, N = b * T;
    size_t B = (size_t)a->B, BTC = B * T * C, BTF = B * T * F, BT = B * T;
    size_t ATT = B * NH * T * T, sps = attention_scratch(d);
    float *dr = a->dB, *dh1 = a->dC, *dd = a->dD, *dff = a->dF, *dqkv = a->dQKV;
    for (int l = L - 1; l >= 0; l--) {
        const float *x = l == 0 ? x0 : a->xo + (l - 1) * BTC;
        const float *qkv = a->qkv + l * 3 * BTC, *att = a->att + l * ATT;
        const float *atty = a->atty + l * BTC, *r1 = a->r1 + l * BTC, *h1 = a->h1 + l * BTC;
        const float *f = a->f + l * BTF, *gg = a->g + l * BTF, *r2 = a->r2 + l * BTC;
        const float *attm = masks ? a->attm + l * ATT : NULL;
        const float *m1 = masks ? a->m1 + l * BTC : NULL, *m2 = masks ? a->m2 + l * BTF : NULL;
        const float *m3 = masks ? a->m3 + l * BTC : NULL;
        size_t lC = (size_t)l * C, lF = (size_t)l * F;
        /* out = LN2(r2) */
        oq_nn_layernorm_backward(dr, g->ln2w + lC, g->ln2b + lC, dxo, r2, p->ln2w + lC,
                                 a->mean2 + l * BT, a->rstd2 + l * BT, N, C);
        /* r2 = h1 + m3 * (g W2^T + b2) */
        OMP_FOR
        for (int n = 0; n < N * C; n++) {
            dh1[n] = dr[n];
            dd[n] = m3 ? dr[n] * m3[n] : dr[n];
        }
        oq_nn_matmul_backward(dff, 0, g->fcprojw + lC * F, g->fcprojb + lC, dd, gg,
                              p->fcprojw + lC * F, N, F, C);
        /* g = m2 * relu(f) */
        OMP_FOR
        for (int n = 0; n < N * F; n++) {
            float v = f[n] > 0 ? dff[n] : 0.0f;
            dff[n] = m2 ? v * m2[n] : v;
        }
        oq_nn_matmul_backward(dh1, 1, g->fcw + lF * C, g->fcb + lF, dff, h1, p->fcw + lF * C, N, C,
                              F);
        /* h1 = LN1(r1) */
        oq_nn_layernorm_backward(dr, g->ln1w + lC, g->ln1b + lC, dh1, r1, p->ln1w + lC,
                                 a->mean1 + l * BT, a->rstd1 + l * BT, N, C);
        /* r1 = x + m1 * (atty Wo^T + bo) */
        OMP_FOR
        for (int n = 0; n < N * C; n++) {
            dxo[n] = dr[n];
            dd[n] = m1 ? dr[n] * m1[n] : dr[n];
        }
        oq_nn_matmul_backward(dh1, 0, g->projw + lC * C, g->projb + lC, dd, atty, p->projw + lC * C,
                              N, C, C);
        /* dh1 now holds d atty */
        OMP_FOR
        for (int i = 0; i < b; i++)
            attention_backward1(
                dqkv + (size_t)i * T * 3 * C, dh1 + (size_t)i * T * C, att + (size_t)i * NH * T * T,
                attm ? attm + (size_t)i * NH * T * T : NULL, qkv + (size_t)i * T * 3 * C, T, C, NH,
                a->scratch + (size_t)i * sps);
        oq_nn_matmul_backward(dxo, 1, g->qkvw + lC * 3 * C, g->qkvb + lC * 3, dqkv, x,
                              p->qkvw + lC * 3 * C, N, C, 3 * C);
    }
}

double oq_nn_enc_flops(const oq_nn_enc_dims *d)
{
    double T = d->T, C = d->C, F = d->F, L = d->L;
    return L * (2 * T * C * 3 * C + 2 * T * T * C * 2 + 2 * T * C * C + 2 * T * C * F * 2);
}

/* ---- AdamW ------------------------------------------------------------- */

double oq_nn_adamw(float *w, const float *g, float *m, float *v, size_t n, long *step, double lr,
                   double beta1, double beta2, double eps, double weight_decay, double clip)
{
    double ss = 0;
    for (size_t i = 0; i < n; i++)
        ss += (double)g[i] * g[i];
    double norm = sqrt(ss);
    if (!isfinite(norm)) return norm; /* no step: the caller stops */
    /* torch.nn.utils.clip_grad_norm_: scale by clip / (norm + 1e-6) when < 1 */
    float gs = 1.0f;
    if (clip > 0 && clip / (norm + 1e-6) < 1) gs = (float)(clip / (norm + 1e-6));
    (*step)++;
    double bc1 = 1 - pow(beta1, (double)*step), bc2 = 1 - pow(beta2, (double)*step);
    float b1 = (float)beta1, b2 = (float)beta2, fe = (float)eps;
    float decay = (float)(1 - lr * weight_decay), st = (float)(lr / bc1);
    float sbc2 = (float)sqrt(bc2);
    for (size_t i = 0; i < n; i++) {
        float gr = g[i] * gs;
        w[i] *= decay;
        m[i] = b1 * m[i] + (1 - b1) * gr;
        v[i] = b2 * v[i] + (1 - b2) * gr * gr;
        w[i] -= st * m[i] / (sqrtf(v[i]) / sbc2 + fe);
    }
    return norm;
}
