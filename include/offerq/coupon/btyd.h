/* btyd.h - "buy till you die" models beside BG/NBD (bgnbd.h), for lifetimes
 * users: standard errors of fitted parameters, the Gamma-Gamma spend model
 * with customer lifetime value, Pareto/NBD and MBG/NBD (with an analytic
 * gradient for Pareto/NBD's fit), the conditional P(n purchases in (T, T+t] |
 * history) of all three, and lifetimes' diagnostic charts.
 *
 * References (equation numbers are the papers'):
 *   FHL-RFM  Fader, Hardie & Lee (2005), "RFM and CLV: Using Iso-Value Curves
 *            for Customer Base Analysis", J. Marketing Research 42, 415-430,
 *            and Hardie's note 025, "The Gamma-Gamma Model of Monetary Value"
 *            (2013): Gamma-Gamma likelihood (note eq. 1a), conditional mean
 *            spend (note eq. 5).
 *   SMC      Schmittlein, Morrison & Colombo (1987), Management Science 33,
 *            1-24 (Pareto/NBD); Fader, Hardie & Lee (2005), "A Note on
 *            Implementing the Pareto/NBD Model in MATLAB" (note 008) and
 *            Fader & Hardie, "A Note on Deriving the Pareto/NBD Model and
 *            Related Expressions" (note 009, 2005): likelihood (009 eq. 18-20),
 *            P(alive) (eq. 36-37), E[X(t)] (eq. 27), conditional E (eq. 41);
 *            Fader & Hardie, "Deriving an Expression for P(X(t) = x) Under the
 *            Pareto/NBD Model" (note 012) and note 028 (the conditional P(n)).
 *   MBG      Batislam, Denizel & Filiztekin (2007), "Empirical validation and
 *            comparison of models for customer base analysis", IJRM 24,
 *            201-209, as lifetimes' ModifiedBetaGeoFitter implements it.
 *   lifetimes  Davidson-Pilon et al., lifetimes 0.11 (Python, MIT): the
 *            objectives (time scaled by 1/max T, L2 penalizer), CLV
 *            (utils._customer_lifetime_value) and the JSON key names.
 *
 * All functions are reentrant; nothing here keeps global state.
 */
#ifndef OFFERQ_BTYD_H
#define OFFERQ_BTYD_H

#include <stddef.h>
#include <stdio.h>
#include "offerq/core/error.h"
#include "offerq/coupon/bgnbd.h"

/* ---- standard errors --------------------------------------------------------- */

/* Standard errors and 95 % intervals of k <= 4 positive parameters est (k)
 * from H (k x k, row-major), the Hessian of the total log-likelihood in the
 * natural parameters at est: cov = (-H)^-1 (observed information, inverted
 * by GSL's Cholesky; not positive definite -> OQ_ENUM), se_i = sqrt(cov_ii).
 * The intervals are Wald intervals on the log scale, where the models are
 * fitted: log est_i +- 1.96 se_i / est_i (delta method), i.e.
 * [est_i / f_i, est_i * f_i] with f_i = exp(1.96 se_i / est_i); always > 0.
 * se, lo, hi (k each) are NaN on failure. */
int oq_btyd_stderr(int k, const double *est, const double *H, double *se, double *lo,
                   double *hi) OQ_WUR;

/* ---- transaction models: BG/NBD, MBG/NBD, Pareto/NBD ------------------------- */

typedef enum oq_btyd_kind {
    OQ_BTYD_BGNBD = 0,     /* r, alpha, a, b */
    OQ_BTYD_MBGNBD = 1,    /* r, alpha, a, b (dropout also at time 0) */
    OQ_BTYD_PARETONBD = 2, /* r, alpha, s, beta */
} oq_btyd_kind;

/* "bgnbd", "mbgnbd", "paretonbd". */
const char *oq_btyd_kind_name(oq_btyd_kind k);
/* Parse such a name; -1 if unknown. */
int oq_btyd_kind_parse(const char *name);

/* The parameters in lifetimes' order and names: par[0..3] = r, alpha, a, b
 * (BG/NBD, MBG/NBD) or r, alpha, s, beta (Pareto/NBD), alpha and beta in the
 * data's time unit. */
typedef struct oq_btyd_model {
    oq_btyd_kind kind;
    double par[4];
} oq_btyd_model;

/* Names of par[i] for a kind, as lifetimes prints them. */
const char *oq_btyd_param_name(oq_btyd_kind k, int i);

/* Log-likelihood of one customer (x repeat purchases, last at t_x, age T). */
double oq_btyd_loglik_one(const oq_btyd_model *m, double x, double tx, double T);
/* P(alive | x, t_x, T). */
double oq_btyd_p_alive(const oq_btyd_model *m, double x, double tx, double T);
/* E[X(T, T+t] | x, t_x, T] (lifetimes' conditional_expected_number_of_
 * purchases_up_to_time, its `predict`). 0 or OQ_ENUM (*out NaN). */
int oq_btyd_expected(const oq_btyd_model *m, double t, double x, double tx, double T,
                     double *out) OQ_WUR;

/* d ln L / d(r, alpha, s, beta) of one Pareto/NBD customer (note 009 eq. 18
 * differentiated; the 2F1 series of A_0 differentiated term by term in its
 * parameters and argument; central differences where the series is too
 * long, z within ~4e-4 of 1) into g (4). p: r, alpha, s, beta. */
void oq_btyd_pnbd_grad(const double *p, double x, double tx, double T, double *g);

typedef struct oq_btyd_fit_opts {
    double penalizer; /* lifetimes' penalizer_coef (its objective, see oq_btyd_fit) */
    int max_iter;     /* simplex iterations per round, 0 = 4000 */
    int simplex_only; /* Pareto/NBD: 1 = the derivative-free simplex only (slower; for
                         comparison), 0 = BFGS with the analytic gradient first */
} oq_btyd_fit_opts;

typedef struct oq_btyd_fit_report {
    oq_btyd_model m; /* estimates, in the data's time unit */
    double ll;       /* total log-likelihood at the estimates (unpenalised) */
    double se[4];    /* standard errors (oq_btyd_stderr); NaN if not available */
    double ci_lo[4]; /* 95 % interval, log scale */
    double ci_hi[4];
    int se_ok;          /* 1 if the observed information was positive definite */
    double grad_norm;   /* |d ll / d log(par)|_inf / n by central differences */
    int iterations;     /* BFGS and simplex iterations, all rounds and starts */
    int converged;      /* BFGS: gradient test passed; simplex: size < 1e-10 and
                           restarts stopped improving */
    int bfgs;           /* 1 if the estimate is BFGS's (Pareto/NBD), 0 the simplex's */
    size_t n_customers; /* customers (n) */
    size_t n_groups;    /* distinct (x, t_x, T) */
} oq_btyd_fit_report;

/* Fit MBG/NBD or Pareto/NBD (kind) by maximum likelihood on n customers (for
 * BG/NBD use oq_bgnbd_fit: Newton with the analytic Hessian). The objective
 * is lifetimes': log-parameters, time scaled by 1/max T, and
 *   MBG/NBD:    -mean ll + penalizer * sum(par_scaled^2)
 *   Pareto/NBD: -sum ll + penalizer * sum(par_scaled^2) (lifetimes divides
 *               by the mean weight, 1, not by n);
 * Pareto/NBD (unless opts->simplex_only): GSL's BFGS (vector_bfgs2) with the
 * analytic gradient (oq_btyd_pnbd_grad) from up to 4 starts, stopping when
 * two converged starts agree; a start where BFGS does not converge goes on
 * with the simplex. MBG/NBD: GSL's Nelder-Mead simplex (nmsimplex2) from 4
 * starts, restarted at its end point until the objective stops improving. Standard
 * errors from the Hessian of the total ll by central differences in the
 * natural parameters. OQ_EINVAL on bad summaries, OQ_ENUM if nothing finite. */
int oq_btyd_fit(oq_btyd_kind kind, const double *x, const double *tx, const double *T, size_t n,
                const oq_btyd_fit_opts *opts, oq_btyd_fit_report *rep, oq_error *err) OQ_WUR;

/* Hessian (k x k, row-major) of f at p (k) by central differences with
 * relative steps h_i = 5e-4 |p_i| (5e-4 when p_i = 0): the smallest step above
 * the rounding of sums of thousands of lgamma terms (with 1e-4 the diagonal
 * of CDNOW's BG/NBD Hessian was off by 2e-5 relative; with 5e-4 the standard
 * errors agree with mpmath's to 3e-5 relative). f may not fail. */
void oq_btyd_fd_hessian(int k, const double *p, double (*f)(const double *p, void *ctx), void *ctx,
                        double *H);

/* Write an MBG/NBD or Pareto/NBD fit as JSON, atomically: "model"
 * ("mbgnbd"/"paretonbd"), the parameters under lifetimes' names, ll,
 * iterations, n_customers, n_groups, grad_norm, converged, penalizer,
 * time_unit, unit_days, "standard_errors", "ci95_lower", "ci95_upper"
 * (objects keyed by parameter name) and "ci95_scale": "log". */
int oq_btyd_params_save(const char *path, const oq_btyd_fit_report *rep, double penalizer,
                        double unit_days, oq_error *err) OQ_WUR;
/* Read a transaction model from a params file of any of the three kinds
 * ("model" absent = bgnbd, as older files); unit_days (may be NULL) 0 if
 * absent. Errors name the file; a "gammagamma" file is OQ_EPARSE. */
int oq_btyd_params_load(const char *path, oq_btyd_model *m, double *unit_days,
                        oq_error *err) OQ_WUR;

/* ---- BG/NBD: conditional P(n) ------------------------------------------------- */

/* P(X(T, T+t] = n | x, t_x, T): the probability that a customer with this
 * history makes exactly n repeat purchases in the next t (lifetimes'
 * BetaGeoFitter.conditional_probability_of_n_purchases_up_to_time). Given
 * alive at T the posterior is lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x),
 * a BG/NBD process again, so
 *   P = (1 - P(alive)) [n = 0] + P(alive) P_FHL8(n; r+x, alpha+T, a, b+x, t)
 * with FHL eq. 8 (oq_bgnbd_p_n). */
double oq_bgnbd_p_n_cond(const oq_bgnbd_params *p, double t, int n, double x, double tx, double T);

/* ---- all three: P(n), conditional and for a new customer ---------------------- */

/* P(X(T, T+t] = n | x, t_x, T) for any of the three models (lifetimes'
 * conditional_probability_of_n_purchases_up_to_time; it has it for
 * Pareto/NBD only). Given alive at T the posterior is the model again:
 *   BG/NBD:     oq_bgnbd_p_n_cond;
 *   MBG/NBD:    lambda ~ Gamma(r+x, alpha+T), p ~ Beta(a, b+x+1) (x + 1 coins
 *               survived), and from T on BG/NBD's story, so
 *               P = (1 - P(alive)) [n = 0] + P(alive) FHL8(n; r+x, alpha+T, a, b+x+1, t);
 *   Pareto/NBD: lambda ~ Gamma(r+x, alpha+T), mu ~ Gamma(s, beta+T), so
 *               P = (1 - P(alive)) [n = 0] + P(alive) P_PNBD(n; r+x, alpha+T, s, beta+T, t)
 *               with P_PNBD(n; r, alpha, s, beta, t) = NBD(n; r, alpha, t) (beta/(beta+t))^s
 *               + int_0^t s beta^s (beta+tau)^-(s+1) NBD(n; r, alpha, tau) dtau
 *               (death at tau; Fader & Hardie note 012 give the integral with 2F1s),
 *               by adaptive Gauss-Kronrod quadrature to 1e-12 relative.
 * 0 for n < 0; NaN if the quadrature fails (GSL's error handler must be off
 * or it aborts, as elsewhere in the library). */
double oq_btyd_p_n_cond(const oq_btyd_model *m, double t, int n, double x, double tx, double T);
/* P(X(t) = n) of a new customer: FHL eq. 8 for BG/NBD, the above at x = t_x
 * = T = 0 for the others (MBG/NBD: a/(a+b) [n = 0] + b/(a+b) FHL8(n; r,
 * alpha, a, b+1, t)). */
double oq_btyd_p_n(const oq_btyd_model *m, double t, int n);
/* OQ_EINVAL (naming the parameter) unless the kind is known and all four
 * parameters are finite and > 0. */
int oq_btyd_check(const oq_btyd_model *m, oq_error *err) OQ_WUR;

/* ---- Gamma-Gamma spend model ------------------------------------------------- */

/* p, q, v as lifetimes names them (Fader-Hardie: p, q, gamma): a customer's
 * spend per transaction z ~ Gamma(p, nu), nu ~ Gamma(q, v). */
typedef struct oq_ggamma_params {
    double p, q, v;
} oq_ggamma_params;

/* ln f(m_x | x) of a customer with x >= 1 repeat transactions of mean value
 * m > 0 (note 025 eq. 1a, lifetimes' GammaGammaFitter._negative_log_likelihood):
 *   lnG(px+q) - lnG(px) - lnG(q) + q ln v + (px-1) ln m + px ln x - (px+q) ln(xm+v). */
double oq_ggamma_loglik_one(const oq_ggamma_params *g, double x, double m);

/* E[M | x, m_x] = (q-1)/(px+q-1) * p v/(q-1) + px/(px+q-1) m_x
 * = p (v + x m_x) / (px + q - 1) (note 025 eq. 5; lifetimes'
 * conditional_expected_average_profit). With x = 0: the population mean
 * p v / (q - 1). NaN if q <= 1 and x = 0. */
double oq_ggamma_expected_profit(const oq_ggamma_params *g, double x, double m);

typedef struct oq_ggamma_fit_report {
    oq_ggamma_params g;
    double ll; /* total log-likelihood (unpenalised) */
    double se[3], ci_lo[3], ci_hi[3];
    int se_ok;
    double grad_norm;
    int iterations;
    int converged;
    size_t n_customers; /* customers used: x >= 1 and m > 0 */
} oq_ggamma_fit_report;

/* Fit p, q, v on the customers with x >= 1 (others are skipped, as lifetimes'
 * users filter frequency > 0); m must be > 0 there (else OQ_EINVAL naming
 * the index). Objective: lifetimes' -mean ll + penalizer (p^2+q^2+v^2) on
 * log-parameters (no time scaling), Nelder-Mead as oq_btyd_fit. */
int oq_ggamma_fit(const double *x, const double *m, size_t n, const oq_btyd_fit_opts *opts,
                  oq_ggamma_fit_report *rep, oq_error *err) OQ_WUR;

/* Write / read a Gamma-Gamma fit: {"model": "gammagamma", "p", "q", "v", ll,
 * n_customers, iterations, converged, grad_norm, penalizer, standard errors
 * and intervals as oq_btyd_params_save}. */
int oq_ggamma_params_save(const char *path, const oq_ggamma_fit_report *rep, double penalizer,
                          oq_error *err) OQ_WUR;
int oq_ggamma_params_load(const char *path, oq_ggamma_params *g, oq_error *err) OQ_WUR;

/* ---- customer lifetime value ---------------------------------------------------- */

/* Months to the data's time unit as lifetimes' freq factor: 30 days
 * (unit_days 1), 4.345 weeks (unit_days 7), else 30 / unit_days. */
double oq_btyd_units_per_month(double unit_days);

/* lifetimes' customer_lifetime_value (utils._customer_lifetime_value):
 *   CLV = sum_{i=1..months} profit * (E[X(i f)] - E[X((i-1) f)]) / (1 + d)^i,
 * f = oq_btyd_units_per_month(unit_days), E the model's conditional
 * expectation (oq_btyd_expected), profit = oq_ggamma_expected_profit(g, x, m)
 * and d the monthly discount rate. 0 or OQ_ENUM / OQ_EINVAL (*out NaN). */
int oq_btyd_clv(const oq_btyd_model *m, const oq_ggamma_params *g, double x, double tx, double T,
                double monetary, int months, double discount_rate, double unit_days,
                double *out) OQ_WUR;

/* ---- diagnostics (lifetimes' plotting module, as numbers and SVG) ----------- */

enum { OQ_BGNBD_GRID_EXPECTED = 0, OQ_BGNBD_GRID_ALIVE = 1 };

/* The (max_x + 1) x (max_tx + 1) grid, row x (frequency), column t_x
 * (recency, in the unit), for a customer of age T: OQ_BGNBD_GRID_EXPECTED
 * gives E[X(t) | x, t_x, T], OQ_BGNBD_GRID_ALIVE P(alive | x, t_x, T); as
 * lifetimes' plot_frequency_recency_matrix (t = 1) and
 * plot_probability_alive_matrix with T = max_tx. out: (max_x+1)(max_tx+1). */
int oq_bgnbd_grid(const oq_bgnbd_params *p, int what, int max_x, int max_tx, double T, double t,
                  double *out, oq_error *err) OQ_WUR;

/* Customers by repeat purchases in the calibration period (lifetimes'
 * plot_period_transactions), actual[k] and the model's expectation
 * expected[k] = sum over customers of P(X(T_i) = k) (FHL eq. 8: the exact
 * expectation where lifetimes simulates), k = 0..max_x - 1, the last entry
 * k = max_x holding ">= max_x". Both arrays (max_x + 1); sums equal s->n. */
int oq_bgnbd_period_counts(const oq_bgnbd_params *p, const oq_bgnbd_summary *s, int max_x,
                           double *actual, double *expected, oq_error *err) OQ_WUR;

/* Cumulative repeat purchases day by day (lifetimes' plot_cumulative_
 * transactions): the customers whose first purchase is on or before
 * calibration_end (NO_DATE: the last purchase), their actual repeat purchase
 * days (same-day purchases once) summed up to each day, and the model's
 * expectation sum over first days c of born[c] x E[X((d - c) / unit)]
 * (FHL eq. 9), for every day from the first purchase to the last. */
typedef struct oq_bgnbd_tracking {
    int32_t first_day, calibration_end;
    size_t n_days;
    double customers;
    double *actual, *expected; /* (n_days) cumulative, by the end of first_day + d */
} oq_bgnbd_tracking;

int oq_bgnbd_tracking_build(const oq_bgnbd_params *p, const oq_bgnbd_tx *tx, double unit_days,
                            int32_t calibration_end, oq_bgnbd_tracking *out, oq_error *err) OQ_WUR;
void oq_bgnbd_tracking_free(oq_bgnbd_tracking *t);

/* The same three for any transaction model (MBG/NBD, Pareto/NBD; BG/NBD
 * gives exactly the oq_bgnbd_* numbers above, which call these): the grids
 * from oq_btyd_p_alive / oq_btyd_expected, the period expectation from
 * oq_btyd_p_n (each customer's own age), the tracking expectation from a new
 * customer's E[X(t)] = oq_btyd_expected(m, t, 0, 0, 0) (MBG/NBD: b/(a+b)
 * times FHL eq. 9 with b+1; Pareto/NBD: note 009 eq. 27). */
int oq_btyd_grid(const oq_btyd_model *m, int what, int max_x, int max_tx, double T, double t,
                 double *out, oq_error *err) OQ_WUR;
int oq_btyd_period_counts(const oq_btyd_model *m, const oq_bgnbd_summary *s, int max_x,
                          double *actual, double *expected, oq_error *err) OQ_WUR;
int oq_btyd_tracking_build(const oq_btyd_model *m, const oq_bgnbd_tx *tx, double unit_days,
                           int32_t calibration_end, oq_bgnbd_tracking *out, oq_error *err) OQ_WUR;

/* The charts (SVG 1.1, self-contained). legend: what a cell holds. */
void oq_bgnbd_grid_svg(const double *grid, int max_x, int max_tx, const char *title,
                       const char *legend, FILE *fp);
void oq_bgnbd_period_svg(const double *actual, const double *expected, int max_x, const char *title,
                         FILE *fp);
void oq_bgnbd_tracking_svg(const oq_bgnbd_tracking *t, const char *title, FILE *fp);

#endif
