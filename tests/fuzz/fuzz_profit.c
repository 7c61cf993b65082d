/* fuzz_profit.c - libFuzzer target: the profit Transformer's checkpoint
 * loader (profit.h, oq_profit_load; path-only, input through a memfd). Odd
 * first byte: the CRC is fixed up so the parser behind it is reached
 * (fuzz_util.h). An accepted model has a valid configuration (the limits of
 * profit.h, heads dividing the width, vocab = 2 + its category names), a
 * parameter count that matches the configuration (recomputed here from the
 * tensor shapes of profit.h), positive finite scalings; and a prediction for
 * every coupon on two hand-built samples (tokens from the input, out-of-range
 * ones included; ordinary and extreme features) gives finite numbers or an
 * error with a message. */
#include "offerq/coupon/profit.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    unsigned char *buf = fuzz_with_crc(data, size, &len);
    oq_profit *m = NULL;
    oq_error err = {0};
    int rc = oq_profit_load(fuzz_file(buf, len), &m, &err);
    fuzz_check_rejection(rc, &err);
    free(buf);
    if (rc) {
        if (m) abort();
        return 0;
    }
    const oq_profit_config *c = &m->cfg;
    if (c->seq_len < 1 || c->seq_len > OQ_PROFIT_MAX_SEQ || c->d < 1 || c->heads < 1 ||
        c->d % c->heads || c->layers < 1 || c->ff < 1 || c->hidden < 1 ||
        c->vocab != (int)m->n_cats + OQ_PROFIT_TOK_CAT0 || !(c->dropout >= 0 && c->dropout < 1))
        abort();
    for (uint32_t k = 0; k < m->n_cats; k++)
        if (!m->cat_names[k]) abort();
    /* profit.h's shapes: V C + T C + L (3C C + 3C + C C + C + 4C + F C + F + C F + C)
     * + H (C + 6) + H + H + 1 */
    size_t V = (size_t)c->vocab, T = (size_t)c->seq_len, C = (size_t)c->d, L = (size_t)c->layers,
           F = (size_t)c->ff, H = (size_t)c->hidden;
    size_t np = V * C + T * C +
                L * (3 * C * C + 3 * C + C * C + C + 4 * C + F * C + F + C * F + C) +
                H * (C + OQ_PROFIT_NZ_EXTRA) + 2 * H + 1;
    if (m->n_params != np) abort();
    for (int k = 0; k < OQ_PROFIT_NFEAT; k++)
        if (!(m->feat_std[k] > 0 && isfinite(m->feat_std[k]) && isfinite(m->feat_mean[k]))) abort();
    if (!(m->y_std > 0 && isfinite(m->y_std) && isfinite(m->y_mean))) abort();

    oq_profit_samples *s = NULL;
    if (oq_profit_samples_new(2, c->seq_len, &s, &err) == 0) {
        for (size_t j = 0; j < 2 * T; j++)
            s->tok[j] = (uint16_t)(size ? data[j % size] * 7u : 0);
        static const float feat[2][OQ_PROFIT_NFEAT] = {{3, 2, 45.5f, 0.5f, 1},
                                                       {1e6f, 1e4f, 1e9f, 1, 65535}};
        memcpy(s->feat, feat, sizeof feat);
        float out[2 * OQ_N_COUPONS];
        oq_error e2 = {0};
        rc = oq_profit_predict_all(m, s, out, &e2);
        fuzz_check_rejection(rc, &e2);
        for (int i = 0; rc == 0 && i < 2 * OQ_N_COUPONS; i++)
            if (!isfinite(out[i])) abort();
        oq_profit_samples_free(s);
    }
    oq_profit_free(m);
    return 0;
}
