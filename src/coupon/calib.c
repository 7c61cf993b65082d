/* calib.c - calibration bins of predicted probabilities (calib.h). */
#include "offerq/coupon/calib.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ranked {
    double p;
    size_t i;
} ranked;

static int cmp_ranked(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->p != y->p) return x->p < y->p ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int oq_calib_bins(const double *p, const uint8_t *y, size_t n, oq_calib *out, oq_error *err)
{
    memset(out, 0, sizeof *out);
    for (size_t i = 0; i < n; i++)
        if (!(p[i] >= 0 && p[i] <= 1))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "calibration: prediction %g of row %zu is not a probability", p[i],
                                i + 1);
    ranked *rk = malloc((n ? n : 1) * sizeof *rk);
    if (!rk) return oq_error_oom(err, NULL, "the calibration bins");
    double ll = 0, br = 0;
    for (size_t i = 0; i < n; i++) {
        rk[i] = (ranked){p[i], i};
        double c = fmin(fmax(p[i], 1e-12), 1 - 1e-12), d = p[i] - (y[i] ? 1.0 : 0.0);
        ll -= y[i] ? log(c) : log1p(-c);
        br += d * d;
    }
    qsort(rk, n, sizeof *rk, cmp_ranked);
    for (size_t k = 0; k < n; k++) {
        size_t b = k * OQ_CALIB_BINS / n;
        out->pred[b] += rk[k].p;
        out->obs[b] += y[rk[k].i] ? 1.0 : 0.0;
        out->n[b]++;
    }
    for (int b = 0; b < OQ_CALIB_BINS; b++) {
        out->pred[b] = out->n[b] ? out->pred[b] / (double)out->n[b] : NAN;
        out->obs[b] = out->n[b] ? out->obs[b] / (double)out->n[b] : NAN;
    }
    out->rows = n;
    out->logloss = n ? ll / (double)n : NAN;
    out->brier = n ? br / (double)n : NAN;
    free(rk);
    return 0;
}
