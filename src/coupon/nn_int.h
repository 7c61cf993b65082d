/* nn_int.h - the neural-network layers the profit Transformer (profit.c) and
 * the sequence response model (seq.c) share, llm.c-style: each layer an
 * explicit forward and backward over plain float arrays (private to the
 * coupon layer).
 *
 * Conventions: row-major; Linear weights are (out, in) as PyTorch stores
 * them; backward functions ACCUMULATE into parameter gradients (the caller
 * zeroes them once per step) and overwrite or accumulate input gradients as
 * each says. Loops over samples run on OpenMP threads; matrix products go
 * through oq_nn_sgemm (OpenBLAS, dlopen'ed on first use, GSL's reference
 * CBLAS as the fallback).
 */
#ifndef OFFERQ_NN_INT_H
#define OFFERQ_NN_INT_H

#include <stddef.h>
#include <stdint.h>

#define OQ_NN_LN_EPS 1e-5f

/* C = alpha op(A) op(B) + beta C, row-major, as cblas_sgemm (trans: 0/1). */
void oq_nn_sgemm(int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                 const float *b, int ldb, float beta, float *c, int ldc);

/* out (N, OC) = inp (N, IC) @ w^T + b;  w (OC, IC), b (OC) or NULL. */
void oq_nn_matmul_forward(float *out, const float *inp, const float *w, const float *b, int N,
                          int IC, int OC);
/* dinp (N, IC) (+)= dout @ w (dinp may be NULL; accumulate: add to it);
 * dw (OC, IC) += dout^T inp; db (OC) += sum_n dout (db may be NULL). */
void oq_nn_matmul_backward(float *dinp, int accumulate, float *dw, float *db, const float *dout,
                           const float *inp, const float *w, int N, int IC, int OC);

/* Layer normalisation over C of N rows (Ba, Kiros & Hinton 2016; eps as
 * torch's 1e-5); mean/rstd (N) kept for the backward. */
void oq_nn_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w,
                             const float *b, int N, int C);
/* dinp (overwritten), dw/db (accumulated). */
void oq_nn_layernorm_backward(float *dinp, float *dw, float *db, const float *dout,
                              const float *inp, const float *w, const float *mean,
                              const float *rstd, int N, int C);

/* exp(x) to ~2e-7 relative in arithmetic that vectorises (x <= 88; below
 * -87 it returns ~1e-38, not 0). The attention softmaxes use it. */
float oq_nn_expf(float x);

/* ---- the post-LN Transformer encoder (torch.nn.TransformerEncoderLayer,
 * norm_first=False, ReLU):
 *   r1 = x + Drop(MHA(x)),  h1 = LN1(r1)
 *   r2 = h1 + Drop(W2 Drop(ReLU(W1 h1 + b1)) + b2),  out = LN2(r2)
 * with dropout on the attention weights too (as torch does). */

typedef struct oq_nn_enc_dims {
    int T, C, NH, L, F; /* positions, width, heads, layers, feed-forward width */
} oq_nn_enc_dims;

/* The L layers' tensors, each stacked over layers (pytorch names). */
typedef struct oq_nn_enc_params {
    float *qkvw;    /* (L, 3C, C) in_proj_weight */
    float *qkvb;    /* (L, 3C) */
    float *projw;   /* (L, C, C) out_proj */
    float *projb;   /* (L, C) */
    float *ln1w;    /* (L, C) */
    float *ln1b;    /* (L, C) */
    float *fcw;     /* (L, F, C) linear1 */
    float *fcb;     /* (L, F) */
    float *fcprojw; /* (L, C, F) linear2 */
    float *fcprojb; /* (L, C) */
    float *ln2w;    /* (L, C) */
    float *ln2b;    /* (L, C) */
} oq_nn_enc_params;

/* Activations of a batch of capacity B (every array stacked over layers,
 * layer l of sample i at offset (l B + i) x per-sample size). */
typedef struct oq_nn_enc_acts {
    int B;        /* capacity */
    int training; /* masks and backward scratch allocated */
    float *mem;
    float *qkv;     /* (L, B, T, 3C) */
    float *att;     /* (L, B, NH, T, T) softmax */
    float *atty;    /* (L, B, T, C) */
    float *r1;      /* (L, B, T, C) */
    float *h1;      /* (L, B, T, C) LN1 output */
    float *mean1;   /* (L, B, T) */
    float *rstd1;   /* (L, B, T) */
    float *f;       /* (L, B, T, F) before ReLU */
    float *g;       /* (L, B, T, F) after ReLU and dropout */
    float *r2;      /* (L, B, T, C) */
    float *xo;      /* (L, B, T, C) LN2 output = layer output */
    float *mean2;   /* (L, B, T) */
    float *rstd2;   /* (L, B, T) */
    float *scratch; /* (B, oq_nn_attention_scratch) */
    /* training only: dropout scales (0 or 1/(1-p)) and backward scratch */
    float *attm;              /* (L, B, NH, T, T) */
    float *m1;                /* (L, B, T, C) */
    float *m2;                /* (L, B, T, F) */
    float *m3;                /* (L, B, T, C) */
    float *dA, *dB, *dC, *dD; /* (B, T, C) each */
    float *dF;                /* (B, T, F) */
    float *dQKV;              /* (B, T, 3C) */
} oq_nn_enc_acts;

/* Allocate (NULL when out of memory) and free the activations. */
oq_nn_enc_acts *oq_nn_enc_acts_new(const oq_nn_enc_dims *d, int B, int training);
void oq_nn_enc_acts_free(oq_nn_enc_acts *a);
/* Output of the last layer, (B, T, C). */
float *oq_nn_enc_out(const oq_nn_enc_dims *d, const oq_nn_enc_acts *a);

/* Draw the dropout scales of sample i (0 <= i < b) from (seed, first + i):
 * a counter-based hash of a per-sample, per-part key and the element's
 * position, each 16-bit half a uniform, an element dropped when its uniform
 * is below round(p 2^16). */
void oq_nn_enc_draw_masks(const oq_nn_enc_dims *d, oq_nn_enc_acts *a, int b, float dropout,
                          uint64_t seed, uint64_t first);
/* Forward of b samples from x0 (b, T, C); masks: apply a's dropout scales. */
void oq_nn_enc_forward(const oq_nn_enc_dims *d, const oq_nn_enc_params *p, oq_nn_enc_acts *a,
                       const float *x0, int b, int masks);
/* Backward: dxo (b, T, C) is d loss / d output of the last layer on entry
 * (it is used as scratch) and d loss / d x0 on return; g accumulates. It
 * must be one of a's own buffers (a->dA). */
void oq_nn_enc_backward(const oq_nn_enc_dims *d, const oq_nn_enc_params *p,
                        const oq_nn_enc_params *g, oq_nn_enc_acts *a, const float *x0, float *dxo,
                        int b, int masks);
/* FLOPs of one sample through the encoder, forward only (2 per
 * multiply-add of the products and attention). */
double oq_nn_enc_flops(const oq_nn_enc_dims *d);

/* ---- AdamW ------------------------------------------------------------- */

/* Global gradient norm of g (n); clip it to `clip` (0 = none) and take one
 * AdamW step (Loshchilov & Hutter 2019, alg. 2; bias-corrected as
 * torch.optim.AdamW) of w with moments m, v; *step is incremented. Returns
 * the norm before clipping; a non-finite norm is returned without an
 * update. */
double oq_nn_adamw(float *w, const float *g, float *m, float *v, size_t n, long *step, double lr,
                   double beta1, double beta2, double eps, double weight_decay, double clip);

#endif
