/* clv.h - what an order tomorrow does to a customer's future under BG/NBD,
 * for the coupon plan (`offerq run --clv-weight W`, docs/readme/bgnbd.md).
 *
 * The nightly plan values coupon c for customer i by tomorrow's expected net
 * profit r~(i, c). With a CLV weight W it adds
 *
 *   W * (P(order | i, c) - P(order | i, none)) * V_i,
 *
 * the change in order probability that the coupon CAUSES (the response
 * model's, P(alive) included) times V_i, the change in the customer's
 * discounted future gross profit that one order caused tomorrow brings.
 * Being a customer who orders anyway is worth nothing here: the
 * difference of the two probabilities is zero for a coupon that changes
 * nothing, whatever the customer's future.
 *
 * V_i under BG/NBD (Fader, Hardie & Lee 2005) taken as a causal model: a
 * coupon can only make a living customer order (dead ones do not buy), so
 * the customer is alive tomorrow; the induced order tells nothing about
 * their purchase rate lambda (it was the coupon's doing, not lambda's), so
 * lambda keeps its posterior Gamma(r + x, alpha + T); and after the order
 * BG/NBD flips its dropout coin p, p ~ Beta(a, b + x) given the x coins the
 * customer has survived. With (lambda, p) an alive customer makes
 * (1/p)(1 - exp(-lambda p t)) purchases in the next t days; after an induced
 * order (1 - p) times that. The expected difference over the posterior is
 *
 *   dE(t) = -E[1 - exp(-lambda p t)] = -[1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x; z)],
 *   z = t / (alpha + T + t)
 *
 * (the lambda expectation is (beta/(beta + p t))^(r+x), beta = alpha + T;
 * the p expectation is Euler's integral of 2F1), from 0 at t = 0 down to -1
 * as t grows: in BG/NBD an extra purchase brings the customer's last one a
 * purchase closer, it never keeps anybody alive. Discounted as lifetimes'
 * customer_lifetime_value (btyd.h, oq_btyd_clv) over periods of 30 days:
 *
 *   D = sum_{k=1..K} (dE(t_k) - dE(t_{k-1})) / (1 + d)^(t_k / 30),
 *   t_k = min(30 k, days), K = ceil(days / 30), d the rate per 30 days,
 *
 * and V_i = g_i D_i with g_i the customer's expected gross profit per order
 * from a Gamma-Gamma model (btyd.h) fitted on the log's order rows
 * (order_profit; x = the customer's order rows, m their mean profit).
 *
 * OQ_CLV_LOG instead measures the future of a caused order on the log, for
 * logs whose coupons were drawn at random (offerq gen's logging policy, or
 * offerq's own exploration): each contact's coupon is an instrument for
 * that day's order, so the Wald estimate
 *
 *   D = (E[Y | a coupon] - E[Y | none]) / (P(order | a coupon) - P(order | none)),
 *
 * Y = the customer's purchase days in the `days` days after the contact
 * (contacts whose `days` days all lie in the log), is the change in later
 * purchases per order caused that day, whatever the world's mechanism
 * (BG/NBD's coin, a re-engagement clock, deal-proneness). The same D for
 * every customer, undiscounted; V_i = g_i D. It is biased where coupons were
 * targeted (the arms then differ before the contact), and it charges to the
 * caused orders what a coupon does to customers who would have ordered
 * anyway (a redeemed coupon of theirs may lower their later full-price
 * orders).
 */
#ifndef OFFERQ_CLV_H
#define OFFERQ_CLV_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"
#include "offerq/coupon/bgnbd.h"

struct oq_alive;

enum { OQ_CLV_BGNBD = 0, OQ_CLV_LOG = 1 };

typedef struct oq_clv_opts {
    double weight;   /* W; 0 (default): the plan is tomorrow's r~ alone */
    int model;       /* OQ_CLV_BGNBD (default) or OQ_CLV_LOG: where D comes from */
    double days;     /* horizon of the future value, days (default 30) */
    double discount; /* discount rate per 30 days, as lifetimes' monthly rate (0.01) */
} oq_clv_opts;

void oq_clv_opts_default(oq_clv_opts *o);

/* D above: the discounted change in the expected number of future purchases
 * in the next `days` days that one induced purchase tomorrow causes for a
 * living customer with BG/NBD history (x repeat purchases, age T; t_x does
 * not enter: the customer is known alive). Always in [-1, 0]. 0, or
 * OQ_EINVAL (bad arguments) / OQ_ENUM (*out NaN). */
int oq_clv_order_delta(const oq_bgnbd_params *p, double x, double T, double days, double discount,
                       double *out) OQ_WUR;

/* "bgnbd", "log"; oq_clv_model_parse: -1 if unknown. */
const char *oq_clv_model_name(int model);
int oq_clv_model_parse(const char *name);

/* OQ_CLV_LOG's D on the log's contacts (rows) whose day + days < day_end,
 * purchases from alive (oq_alive_rft): *wald, its delta-method standard
 * error *se and the contacts used *n. OQ_EINVAL when fewer than 50 contacts
 * of either arm have that much future or the coupons do not move P(order)
 * (the difference within two standard errors of 0). */
int oq_clv_log_delta(const struct oq_alive *alive, const oq_log *log, int32_t day_end, double days,
                     double *wald, double *se, size_t *n, oq_error *err) OQ_WUR;

typedef struct oq_clv_report {
    double wald_se;          /* OQ_CLV_LOG: the standard error of D */
    size_t wald_contacts;    /* OQ_CLV_LOG: the contacts it used */
    double gg_p, gg_q, gg_v; /* the Gamma-Gamma fit on the log's order rows */
    size_t gg_customers;     /* customers with an order row (the fit's) */
    double mean_profit;      /* mean g_i over the customers */
    double mean_delta;       /* mean D_i */
    double mean_value;       /* mean V_i */
} oq_clv_report;

/* V (ix->n_customers, the index order of tom) = g_i D_i of every customer,
 * their BG/NBD history taken from alive on `day` (oq_alive_rft; a customer
 * without an earlier purchase: x = T = 0); o->model OQ_CLV_LOG: g_i D with
 * D = oq_clv_log_delta(alive, log, day, o->days). rep may be NULL. OQ_EINVAL when
 * the log has too few order rows to fit Gamma-Gamma (or its fit has q <= 1,
 * no finite mean), OQ_ENUM, OQ_ENOMEM. */
int oq_clv_values(const struct oq_alive *alive, const oq_log *log, const oq_log_index *ix,
                  int32_t day, const oq_clv_opts *o, double *V, oq_clv_report *rep,
                  oq_error *err) OQ_WUR;

/* val[i*4 + a] += weight (p_order[i*4 + a] - p_order[i*4]) V[i] for n
 * customers and the four coupons (p_order: P(order | coupon), column 0 =
 * no coupon). */
void oq_clv_add(size_t n, const double *V, const double *p_order, double weight, double *val);

#endif
