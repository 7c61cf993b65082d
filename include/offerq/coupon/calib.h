/* calib.h - calibration of predicted probabilities: are the customers of
 * whom a model said "30 % will order" ordering 30 % of the time?
 *
 * The rows are sorted by their prediction and cut into OQ_CALIB_BINS
 * bins of (as nearly as possible) equal counts; per bin, the mean
 * prediction beside the observed rate. With the mean log-loss and the
 * Brier score (mean squared error of the probability) of all rows. Give
 * it predictions the model did not see the outcome of (cross-fitted or
 * held out): on its own training rows a tree ensemble looks calibrated
 * whether it is or not.
 */
#ifndef OFFERQ_CALIB_H
#define OFFERQ_CALIB_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

#define OQ_CALIB_BINS 10

typedef struct oq_calib {
    size_t rows;
    double pred[OQ_CALIB_BINS]; /* mean prediction of the bin (ascending bins) */
    double obs[OQ_CALIB_BINS];  /* share of its rows with y = 1 */
    size_t n[OQ_CALIB_BINS];    /* rows in the bin: n / OQ_CALIB_BINS rounded either way */
    double logloss; /* mean -[y log p + (1 - y) log(1 - p)], p clipped to [1e-12, 1 - 1e-12] */
    double brier;   /* mean (p - y)^2 */
} oq_calib;

/* Bins of predictions p (n, each in [0, 1]) against outcomes y (n, 0/1).
 * Ties in p are broken by row index, so the bins are deterministic. A bin
 * with no row (n < OQ_CALIB_BINS) has NAN pred and obs. Errors: OQ_EINVAL
 * (a prediction outside [0, 1] or NaN, named by row), OQ_ENOMEM. */
int oq_calib_bins(const double *p, const uint8_t *y, size_t n, oq_calib *out, oq_error *err) OQ_WUR;

#endif
