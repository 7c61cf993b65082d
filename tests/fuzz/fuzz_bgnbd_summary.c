/* fuzz_bgnbd_summary.c - libFuzzer target: the BG/NBD summary reader
 * (bgnbd.h). Accepted rows satisfy the documented checks, and the model's
 * outputs on them are finite: P(alive) in [0, 1], E[X(t)] >= 0, the
 * per-customer log-likelihood finite (a valid summary must never produce
 * NaN/Inf downstream). */
#include "offerq/coupon/bgnbd.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_bgnbd_summary *s = NULL;
    oq_error err = {0};
    int rc = oq_bgnbd_summary_read_mem("fuzz.csv", (const char *)data, size, &s, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) {
        if (s) abort();
        return 0;
    }
    /* CDNOW's fit (FHL 2005) and an extreme one. */
    static const oq_bgnbd_params ps[2] = {{0.243, 4.414, 0.793, 2.426}, {1e-3, 1e4, 50, 1e-3}};
    for (size_t i = 0; i < s->n; i++) {
        double x = s->x[i], tx = s->tx[i], T = s->T[i];
        if (!(x >= 0 && x == floor(x) && tx >= 0 && tx <= T && T > 0 && (x > 0 || tx == 0)))
            abort();
        if (s->x_holdout && !(s->x_holdout[i] >= 0 && s->t_holdout[i] >= 0)) abort();
        for (int k = 0; k < 2; k++) {
            double pa = oq_bgnbd_p_alive(&ps[k], x, tx, T);
            if (!(pa >= 0 && pa <= 1)) abort();
            if (!isfinite(oq_bgnbd_loglik_one(&ps[k], x, tx, T))) abort();
            double e = NAN;
            if (oq_bgnbd_expected(&ps[k], 30, x, tx, T, &e) == 0 && !(e >= 0 && isfinite(e)))
                abort();
        }
    }
    oq_bgnbd_summary_free(s);
    return 0;
}
