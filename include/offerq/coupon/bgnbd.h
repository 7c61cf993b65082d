/* bgnbd.h - the BG/NBD "buy till you die" model: which customers are alive.
 *
 * Fader, Hardie & Lee (2005), "Counting your customers the easy way: an
 * alternative to the Pareto/NBD model", Marketing Science 24(2) 275-284
 * (FHL below; equation numbers are the paper's). Per customer the model sees
 * x = repeat purchases, t_x = time of the last purchase and T = age, both
 * measured from the first purchase, in one time unit (days or weeks).
 *
 * Three parts:
 *   1. summaries: (x, t_x, T) per customer from transactions (our orders
 *      sidecar, the log's order rows, a plain transactions file such as
 *      CDNOW) with a calibration/holdout split like lifetimes'
 *      calibration_and_holdout_data, or read ready-made from a summary CSV;
 *   2. the maximum-likelihood fit of (r, alpha, a, b) (FHL eq. 6), on
 *      log-parameters with analytic gradient and Hessian: damped Newton, GSL
 *      BFGS2 and Nelder-Mead as fallbacks, several starts, lifetimes' L2
 *      penalizer;
 *   3. per customer P(alive), E[X(t) | x, t_x, T] (FHL eq. 10), P(X(t) = n)
 *      (eq. 8), the population E[X(t)] (eq. 9) and a calibration/holdout report.
 *
 * All functions are reentrant; nothing here keeps global state.
 */
#ifndef OFFERQ_BGNBD_H
#define OFFERQ_BGNBD_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"

/* ---- parameters ----------------------------------------------------------- */

/* Gamma(r, alpha) purchase rates, Beta(a, b) dropout probabilities. alpha is
 * in the time unit of the data it was fitted on. */
typedef struct oq_bgnbd_params {
    double r, alpha, a, b;
} oq_bgnbd_params;

/* 0 if all four are finite and > 0, else OQ_EINVAL (err filled). */
int oq_bgnbd_params_check(const oq_bgnbd_params *p, oq_error *err) OQ_WUR;

/* ---- customer summaries --------------------------------------------------- */

/* One row per customer (columnar). Times are in units of unit_days days
 * (1 = days, 7 = weeks; 0 = unknown, e.g. read from a summary CSV). */
typedef struct oq_bgnbd_summary {
    size_t n;
    int64_t *id;       /* (n) customer id */
    double *x;         /* (n) repeat purchases (whole numbers) */
    double *tx;        /* (n) recency: last purchase - first purchase */
    double *T;         /* (n) age: end of calibration - first purchase */
    double *x_holdout; /* (n) purchases in the holdout period, or NULL */
    double *t_holdout; /* (n) length of the holdout period, or NULL */
    double *monetary;  /* (n) lifetimes' monetary_value: mean value of the repeat
                        * purchase days in the calibration period (values of one
                        * day summed, the first day left out; 0 when x = 0), or
                        * NULL when the input had no values */
    double unit_days;
} oq_bgnbd_summary;

void oq_bgnbd_summary_free(oq_bgnbd_summary *s);

/* Transactions: one (customer, day) per purchase; days since 1970-01-01. */
typedef struct oq_bgnbd_tx {
    size_t n, cap;
    int64_t *user; /* (n) */
    int32_t *day;  /* (n) */
    double *value; /* (n) purchase value, or NULL (read without a value column) */
} oq_bgnbd_tx;

void oq_bgnbd_tx_free(oq_bgnbd_tx *t);

/* Append one transaction (grows the arrays). OQ_ENOMEM on failure. */
int oq_bgnbd_tx_push(oq_bgnbd_tx *t, int64_t user, int32_t day) OQ_WUR;
/* Same with a value (t->value is kept for every row: use one of the two
 * pushes for a whole oq_bgnbd_tx). */
int oq_bgnbd_tx_push_value(oq_bgnbd_tx *t, int64_t user, int32_t day, double value) OQ_WUR;

/* The order rows (order_placed = 1) of a customer log as transactions.
 * *out is the caller's (oq_bgnbd_tx_free). */
int oq_bgnbd_tx_from_log(const oq_log *log, oq_bgnbd_tx **out, oq_error *err) OQ_WUR;

/* Read a plain transactions file: one purchase a line, fields separated by
 * commas (if the first line has one) or runs of blanks; no quoting. An
 * optional header line (its date field is not a date) is skipped. id_column
 * is the 1-based field holding the customer id (an integer); the date field
 * is date_column (1-based) or, if 0, the first field after the id that reads
 * as YYYYMMDD or YYYY-MM-DD. Other fields (value, count) are ignored. Reads
 * CDNOW's cdnow_master.txt (id 1), cdnow_sample.txt (id 1 = full-data id,
 * id 2 = sample id) and our <stem>.orders.csv (user_id,date,value).
 * Errors name file:line:column. *out is the caller's (oq_bgnbd_tx_free). */
int oq_bgnbd_tx_read(const char *path, int id_column, int date_column, oq_bgnbd_tx **out,
                     oq_error *err) OQ_WUR;
/* Same, also reading the purchase value from field value_column (1-based,
 * a number; 0 = none, as oq_bgnbd_tx_read) into (*out)->value, for the
 * Gamma-Gamma spend model (CDNOW: field 4 of cdnow_master.txt, 5 of
 * cdnow_sample.txt). */
int oq_bgnbd_tx_read_value(const char *path, int id_column, int date_column, int value_column,
                           oq_bgnbd_tx **out, oq_error *err) OQ_WUR;

/* No date given: see oq_bgnbd_split. */
#define OQ_BGNBD_NO_DATE INT32_MIN

typedef struct oq_bgnbd_split {
    double unit_days;        /* 1 (days) or 7 (weeks); any value > 0 */
    int32_t calibration_end; /* last calibration day (inclusive); NO_DATE: latest purchase */
    int32_t observation_end; /* last holdout day (inclusive); NO_DATE: no holdout */
} oq_bgnbd_split;

/* Summarise transactions like lifetimes' calibration_and_holdout_data with
 * freq 'D' (and freq_multiplier 7 for weeks): purchases on the same day count
 * once; customers whose first purchase is after calibration_end are left out;
 * x = distinct calibration days - 1, t_x = (last - first) / unit,
 * T = (calibration_end - first) / unit; with a holdout, x_holdout = distinct
 * days in (calibration_end, observation_end] and t_holdout =
 * (observation_end - calibration_end) / unit. Later purchases are ignored.
 * Rows come out sorted by customer id. OQ_EINVAL if observation_end <=
 * calibration_end or no customer is left. *out: oq_bgnbd_summary_free. */
int oq_bgnbd_summary_build(const oq_bgnbd_tx *tx, const oq_bgnbd_split *split,
                           oq_bgnbd_summary **out, oq_error *err) OQ_WUR;

/* Read a summary CSV with a header naming at least id, frequency, recency, T
 * (lifetimes' names frequency_cal, recency_cal, T_cal are accepted too),
 * optionally monetary_value (or monetary_value_cal; >= 0) and
 * optionally frequency_holdout, duration_holdout (both or neither). Every row
 * is checked: frequency a whole number >= 0, 0 <= recency <= T, T > 0,
 * recency = 0 when frequency = 0, holdout values >= 0; the first bad row stops
 * the read with OQ_EPARSE naming file:line:column. *out: oq_bgnbd_summary_free. */
int oq_bgnbd_summary_read(const char *path, oq_bgnbd_summary **out, oq_error *err) OQ_WUR;
int oq_bgnbd_summary_read_mem(const char *name, const char *data, size_t len,
                              oq_bgnbd_summary **out, oq_error *err) OQ_WUR;

/* ---- likelihood ------------------------------------------------------------ */

/* Log-likelihood of one customer (FHL eq. 6, written as in Hardie's note 027
 * eq. 4 with log-sum-exp so nothing overflows for large x or T). */
double oq_bgnbd_loglik_one(const oq_bgnbd_params *p, double x, double tx, double T);

/* Grouped data for the fit: customers with equal (x, t_x, T) share one
 * likelihood evaluation; time is scaled by 1/max(T) as lifetimes does. */
typedef struct oq_bgnbd_data oq_bgnbd_data;

/* Group n customers (w: weights, NULL = 1 each). Inputs must be valid
 * summaries (oq_bgnbd_summary_read's rules); OQ_EINVAL names the first bad
 * index. *out: oq_bgnbd_data_free. */
int oq_bgnbd_data_new(const double *x, const double *tx, const double *T, const double *w, size_t n,
                      oq_bgnbd_data **out, oq_error *err) OQ_WUR;
/* The same for one part of a partitioned population (comm.h): the time
 * scale is every part's max T, and the likelihood, its gradient and Hessian
 * are the parts' sums (added in rank order) at every evaluation, so
 * oq_bgnbd_fit on each part (collectively: every part calls it) gives the
 * same estimates everywhere. A part may hold no customer. comm NULL: as
 * oq_bgnbd_data_new. n_groups in a fit's report is then the sum of the
 * parts' groups. comm is borrowed and must outlive d. */
struct oq_comm;
int oq_bgnbd_data_new_part(const double *x, const double *tx, const double *T, const double *w,
                           size_t n, struct oq_comm *comm, oq_bgnbd_data **out,
                           oq_error *err) OQ_WUR;
void oq_bgnbd_data_free(oq_bgnbd_data *d);
size_t oq_bgnbd_data_groups(const oq_bgnbd_data *d);
/* The time scale (1/max T) that oq_bgnbd_objective works in. */
double oq_bgnbd_data_scale(const oq_bgnbd_data *d);

/* lifetimes' objective (BetaGeoFitter._negative_log_likelihood) at
 * theta = log(r, alpha * scale, a, b): -sum_i w_i ll_i / sum_i w_i +
 * penalizer * (r^2 + (alpha*scale)^2 + a^2 + b^2), ll in scaled time. *f gets
 * the value, grad (may be NULL) d f / d theta. */
void oq_bgnbd_objective(const oq_bgnbd_data *d, const double theta[4], double penalizer, double *f,
                        double grad[4]);
/* Same with the Hessian d2f / dtheta_i dtheta_j (row-major 4x4, all pointers
 * required): what the Newton steps of oq_bgnbd_fit use. */
void oq_bgnbd_objective_hessian(const oq_bgnbd_data *d, const double theta[4], double penalizer,
                                double *f, double grad[4], double hess[16]);

/* Total log-likelihood sum_i w_i ll_i in the data's own time unit, and its
 * gradient d/d(r, alpha, a, b) and Hessian (row-major 4x4) where not NULL.
 * The inverse of -hess at the estimate is the asymptotic covariance. */
double oq_bgnbd_data_loglik(const oq_bgnbd_data *d, const oq_bgnbd_params *p, double grad[4],
                            double hess[16]);

/* ---- fit ------------------------------------------------------------------- */

typedef struct oq_bgnbd_fit_opts {
    double penalizer; /* lifetimes' penalizer_coef, 0 by default */
    int n_starts;     /* starting points (1..8), 0 = 4 */
    int max_iter;     /* per start, 0 = 500 */
    double gtol;      /* stop when |grad of the objective|_inf < gtol; 0 = 1e-9 */
} oq_bgnbd_fit_opts;

typedef struct oq_bgnbd_fit_report {
    oq_bgnbd_params p;  /* estimates, in the data's time unit */
    double ll;          /* total log-likelihood at p (unpenalised) */
    double objective;   /* lifetimes' objective at the optimum */
    double grad_norm;   /* |gradient of the objective|_inf at the optimum */
    int iterations;     /* iterations of the best start */
    int evaluations;    /* objective evaluations, all starts */
    int converged;      /* 1 if grad_norm < gtol, or the Newton decrement reached
                         * the rounding level of the objective */
    int starts;         /* starts run */
    int starts_agree;   /* starts that reached the best objective (within 1e-8) */
    const char *method; /* "newton", "newton+bfgs2" or "newton+bfgs2+nelder-mead" */
    size_t n_customers; /* sum of weights, as a count */
    size_t n_groups;
    /* Standard errors of r, alpha, a, b from the observed information (the
     * inverse of -Hessian of the total LL, analytic, at p; GSL Cholesky) and
     * 95 % intervals on the log scale, where the fit works:
     * [p / exp(1.96 se/p), p * exp(1.96 se/p)] (oq_btyd_stderr). se_ok = 0
     * (and NaN) when -Hessian is not positive definite. */
    double se[4], ci_lo[4], ci_hi[4];
    int se_ok;
} oq_bgnbd_fit_report;

/* Fit by maximum likelihood. opts may be NULL. Returns 0 (also when not
 * converged: check rep->converged), OQ_ENUM if no start gives a finite
 * objective. */
int oq_bgnbd_fit(const oq_bgnbd_data *d, const oq_bgnbd_fit_opts *opts, oq_bgnbd_fit_report *rep,
                 oq_error *err) OQ_WUR;

/* Write the fit as JSON (r, alpha, a, b, ll, iterations, n_customers,
 * n_groups, grad_norm, converged, penalizer, time_unit, unit_days, and
 * "standard_errors", "ci95_lower", "ci95_upper": objects keyed r, alpha, a, b
 * (null when not available), "ci95_scale": "log"), atomically. */
int oq_bgnbd_params_save(const char *path, const oq_bgnbd_fit_report *rep, double penalizer,
                         double unit_days, oq_error *err) OQ_WUR;
/* Read r, alpha, a, b and unit_days (0 if absent) from such a file. */
int oq_bgnbd_params_load(const char *path, oq_bgnbd_params *p, double *unit_days,
                         oq_error *err) OQ_WUR;

/* ---- per customer ------------------------------------------------------------ */

/* P(alive | x, t_x, T) = 1 / (1 + [x>0] a/(b+x-1) ((alpha+T)/(alpha+t_x))^(r+x))
 * (Hardie's note 021), computed in log space. */
double oq_bgnbd_p_alive(const oq_bgnbd_params *p, double x, double tx, double T);

/* P(alive) of n customers into out (n). Parallel with OpenMP. OQ_EINVAL if
 * p is not valid. Arrays are borrowed; out may not alias the inputs. */
int oq_bgnbd_p_alive_batch(const oq_bgnbd_params *p, const double *x, const double *tx,
                           const double *T, size_t n, double *out) OQ_WUR;

/* E[X(t) | x, t_x, T]: expected repeat purchases in the next t (FHL eq. 10).
 * The Gauss function is evaluated after Euler's transformation (A&S 15.3.3),
 * 2F1(r+x, b+x; a+b+x-1; z) (1-z)^(r+x) = (1-z)^(a-1) 2F1(a+b-1-r, a-1;
 * a+b+x-1; z), z = t/(alpha+T+t), whose series has small parameters and
 * converges for any x; close to z = 1 it falls back to gsl_sf_hyperg_2F1.
 * Returns 0 (*out finite, >= 0) or OQ_ENUM (*out NaN) if neither converges:
 * the corner x = 0, a + b < 1 with z close to 1, where GSL is not trusted. */
int oq_bgnbd_expected(const oq_bgnbd_params *p, double t, double x, double tx, double T,
                      double *out) OQ_WUR;
/* Same for n customers with one horizon t each (t may be NULL: use t0). */
int oq_bgnbd_expected_batch(const oq_bgnbd_params *p, double t0, const double *t, const double *x,
                            const double *tx, const double *T, size_t n, double *out) OQ_WUR;
/* Population E[X(t)] of a new customer (FHL eq. 9). */
int oq_bgnbd_expected_pop(const oq_bgnbd_params *p, double t, double *out) OQ_WUR;
/* P(X(t) = n) for a new customer (FHL eq. 8), in log space. */
double oq_bgnbd_p_n(const oq_bgnbd_params *p, double t, int n);

/* ---- calibration / holdout report ---------------------------------------- */

typedef struct oq_bgnbd_holdout_row {
    int freq;         /* calibration frequency (the last row: >= freq) */
    size_t n;         /* customers */
    double actual;    /* mean holdout purchases */
    double predicted; /* mean E[X(t_holdout) | x, t_x, T] */
} oq_bgnbd_holdout_row;

typedef struct oq_bgnbd_holdout {
    int n_rows;
    oq_bgnbd_holdout_row rows[64];
    double mae;  /* mean |predicted - actual| over customers */
    double corr; /* Pearson correlation over customers */
    double total_actual, total_predicted;
} oq_bgnbd_holdout;

/* Compare predictions with the holdout of s (which must have one): rows by
 * calibration frequency 0 .. max_freq-1 and a last row >= max_freq
 * (max_freq in 1..63). pred (s->n, may be NULL) receives the predictions. */
int oq_bgnbd_holdout_report(const oq_bgnbd_params *p, const oq_bgnbd_summary *s, int max_freq,
                            oq_bgnbd_holdout *out, double *pred, oq_error *err) OQ_WUR;
/* Print the report as a table / draw it as an SVG chart on fp. */
void oq_bgnbd_holdout_print(const oq_bgnbd_holdout *h, FILE *fp);
void oq_bgnbd_holdout_svg(const oq_bgnbd_holdout *h, const char *title, FILE *fp);

#endif
