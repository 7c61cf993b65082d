/* clv.c - the future value of an order caused tomorrow, under BG/NBD with a
 * Gamma-Gamma spend per order; see include/offerq/coupon/clv.h for the
 * derivation. */
#include "offerq/coupon/clv.h"
#include "bgnbd_int.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/btyd.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void oq_clv_opts_default(oq_clv_opts *o)
{
    o->weight = 0;
    o->model = OQ_CLV_BGNBD;
    o->days = 30;
    o->discount = 0.01;
}

/* dE(t) = -(1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x; z)), z = t/(alpha+T+t).
 * oq_bgnbd_one_minus_g computes 1 - (1-z)^(r+x) 2F1(r+x, b+x; a'+b+x-1; z)
 * (Euler's transformation with C-A = a'+b-1-r, C-B = a'-1): a' = a + 1 gives
 * the third parameter a+b+x. */
static int delta_e(const oq_bgnbd_params *p, double x, double T, double t, double *out)
{
    double omg;
    int rc = oq_bgnbd_one_minus_g(p->r, p->a + 1, p->b, x, t / (p->alpha + T + t), &omg);
    *out = -omg;
    return rc;
}

int oq_clv_order_delta(const oq_bgnbd_params *p, double x, double T, double days, double discount,
                       double *out)
{
    *out = NAN;
    if (oq_bgnbd_params_check(p, NULL) || !(x >= 0) || !(T >= 0) || !isfinite(T) ||
        !(days >= 0 && days <= 36500) || !(discount > -1 && isfinite(discount)))
        return OQ_EINVAL;
    double prev = 0, d = 0;
    for (int k = 1; 30.0 * (k - 1) < days; k++) {
        double t = fmin(30.0 * k, days), e;
        int rc = delta_e(p, x, T, t, &e);
        if (rc) return rc;
        d += (e - prev) / pow(1 + discount, t / 30.0);
        prev = e;
    }
    if (!(d <= 0 && d >= -1)) return OQ_ENUM;
    *out = d;
    return 0;
}

const char *oq_clv_model_name(int model)
{
    return model == OQ_CLV_LOG ? "log" : "bgnbd";
}

int oq_clv_model_parse(const char *name)
{
    return !strcmp(name, "bgnbd") ? OQ_CLV_BGNBD : !strcmp(name, "log") ? OQ_CLV_LOG : -1;
}

/* Purchase days of u before day d. */
static double purchases_before(const oq_alive *alive, int64_t u, int32_t d)
{
    double x, tx, T;
    return oq_alive_rft(alive, u, d, &x, &tx, &T) ? x + 1 : 0;
}

int oq_clv_log_delta(const oq_alive *alive, const oq_log *log, int32_t day_end, double days,
                     double *wald, double *se, size_t *n_out, oq_error *err)
{
    /* sums per arm (0 none, 1 a coupon): n, y, o, y^2, o^2, y o */
    double s[2][6] = {{0}};
    int h = (int)ceil(days);
    for (size_t i = 0; i < log->n; i++) {
        int32_t d = log->day[i];
        if (d + h >= day_end) continue;
        double y = purchases_before(alive, log->user_id[i], d + h + 1) -
                   purchases_before(alive, log->user_id[i], d + 1);
        double o = log->order[i];
        double *a = s[log->coupon[i] != OQ_COUPON_NONE];
        a[0] += 1;
        a[1] += y;
        a[2] += o;
        a[3] += y * y;
        a[4] += o * o;
        a[5] += y * o;
    }
    *wald = *se = NAN;
    *n_out = (size_t)(s[0][0] + s[1][0]);
    if (s[0][0] < 50 || s[1][0] < 50)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "--clv-model log: %g contacts without and %g with a coupon have "
                            "%g days of the log after them; it needs 50 of each",
                            s[0][0], s[1][0], days);
    double my[2], mo[2], vy = 0, vo = 0, c = 0;
    for (int k = 0; k < 2; k++) {
        double n = s[k][0];
        my[k] = s[k][1] / n;
        mo[k] = s[k][2] / n;
        /* variances and covariance of the arm's means */
        vy += (s[k][3] - n * my[k] * my[k]) / (n - 1) / n;
        vo += (s[k][4] - n * mo[k] * mo[k]) / (n - 1) / n;
        c += (s[k][5] - n * my[k] * mo[k]) / (n - 1) / n;
    }
    double dy = my[1] - my[0], dox = mo[1] - mo[0];
    if (!(fabs(dox) > 2 * sqrt(vo)))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "--clv-model log: the log's coupons do not move the day's orders "
                            "(%+.4f, standard error %.4f): no caused orders to learn from",
                            dox, sqrt(vo));
    double w = dy / dox;
    *wald = w;
    *se = sqrt(fmax(0, vy - 2 * w * c + w * w * vo)) / fabs(dox);
    return 0;
}

/* Gamma-Gamma on the log's order rows: x = a customer's order rows with a
 * profit > 0, m their mean profit; g (ix->n_customers) the expected profit
 * of a customer's next order (the population mean for those without). */
static int order_profit(const oq_log *log, const oq_log_index *ix, double *g, oq_clv_report *rep,
                        oq_error *err)
{
    size_t nc = ix->n_customers;
    double *x = calloc(nc ? nc : 1, sizeof *x), *m = calloc(nc ? nc : 1, sizeof *m);
    int rc = 0;
    if (!x || !m) {
        rc = oq_error_oom(err, NULL, "the CLV term");
        goto cleanup;
    }
    for (size_t c = 0; c < nc; c++) {
        for (size_t k = ix->start[c]; k < ix->start[c + 1]; k++) {
            size_t i = ix->row[k];
            if (log->order[i] && log->profit[i] > 0) {
                x[c] += 1;
                m[c] += log->profit[i];
            }
        }
        if (x[c] > 0) m[c] /= x[c];
    }
    oq_ggamma_fit_report f;
    if ((rc = oq_ggamma_fit(x, m, nc, NULL, &f, err))) goto cleanup;
    if (!(f.g.q > 1)) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                          "the Gamma-Gamma fit of the log's order profits has q = %g <= 1 "
                          "(no finite mean spend); the CLV term needs q > 1",
                          f.g.q);
        goto cleanup;
    }
    for (size_t c = 0; c < nc; c++)
        g[c] = oq_ggamma_expected_profit(&f.g, x[c], m[c]);
    rep->gg_p = f.g.p;
    rep->gg_q = f.g.q;
    rep->gg_v = f.g.v;
    rep->gg_customers = f.n_customers;
cleanup:
    free(x);
    free(m);
    return rc;
}

int oq_clv_values(const oq_alive *alive, const oq_log *log, const oq_log_index *ix, int32_t day,
                  const oq_clv_opts *o, double *V, oq_clv_report *rep_out, oq_error *err)
{
    oq_clv_report rep = {0};
    size_t nc = ix->n_customers;
    int rc = order_profit(log, ix, V, &rep, err);
    if (rc) return rc;
    const oq_bgnbd_params *p = &oq_alive_bgnbd(alive)->p;
    double sg = 0, sd = 0, sv = 0, wald = 0;
    if (o->model == OQ_CLV_LOG && (rc = oq_clv_log_delta(alive, log, day, o->days, &wald,
                                                         &rep.wald_se, &rep.wald_contacts, err)))
        return rc;
    for (size_t c = 0; c < nc; c++) {
        double x = 0, tx = 0, T = 0, d = wald;
        if (!oq_alive_rft(alive, ix->user_id[c], day, &x, &tx, &T)) x = T = 0;
        if (o->model != OQ_CLV_LOG && (rc = oq_clv_order_delta(p, x, T, o->days, o->discount, &d)))
            return oq_error_set(err, rc, NULL, 0, 0,
                                "the CLV term of customer %lld (x %g, T %g days) is not a number",
                                (long long)ix->user_id[c], x, T);
        sg += V[c];
        sd += d;
        V[c] *= d;
        sv += V[c];
    }
    double n = nc ? (double)nc : 1;
    rep.mean_profit = sg / n;
    rep.mean_delta = sd / n;
    rep.mean_value = sv / n;
    if (rep_out) *rep_out = rep;
    return 0;
}

void oq_clv_add(size_t n, const double *V, const double *p_order, double weight, double *val)
{
    for (size_t i = 0; i < n; i++)
        for (int a = 0; a < OQ_N_COUPONS; a++)
            val[i * 4 + a] += weight * (p_order[i * 4 + a] - p_order[i * 4]) * V[i];
}
