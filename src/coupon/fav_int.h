/* fav_int.h - the drifting favourite-category filter (gross.h step 5) that
 * gross.c (the log path) and rawfeat.c (the raw tables' path) share: the
 * filter's state and moves, and the likelihood fit of its drift,
 * concentration and weight over the grid OQ_GROSS_DRIFTS x OQ_GROSS_CONCS x
 * alpha 0.1 .. 0.9 (private to the coupon layer; fav.c).
 *
 * The posterior over the favourite, pi_k = u + w_k, is kept sparse: u is
 * common to every category, w_k > 0 is held for at most OQ_GROSS_FAV_CAP
 * categories the customer browsed (when the list is full the smallest w_k
 * is spread over all K categories, which keeps sum_k pi_k = 1). The w_k
 * share one scale, w_k = sc v_k, so that a day's move and an event's update
 * rescale them in O(1). */
#ifndef OFFERQ_FAV_INT_H
#define OFFERQ_FAV_INT_H

#include "offerq/coupon/gross.h"

#include <math.h>
#include <stdint.h>

typedef struct fav {
    double u, sc;
    int n;
    int32_t last; /* day of the latest update; INT32_MIN: none yet */
    int32_t k[OQ_GROSS_FAV_CAP];
    double v[OQ_GROSS_FAV_CAP];
} fav;

#define FAV_NKEEP 64 /* gaps in days with a tabulated keep */

/* One filter's parameters: K categories, drift, conc. */
typedef struct favp {
    double inv_k, conc, bg, cbg, log_stay; /* bg = (1 - conc) / K, cbg = conc / bg */
    double keep[FAV_NKEEP]; /* (1 - drift)^d = exp(d log(1 - drift)), d < FAV_NKEEP */
} favp;

static inline void favp_init(favp *p, size_t K, double drift, double conc)
{
    p->inv_k = 1.0 / (double)K;
    p->conc = conc;
    p->bg = (1 - conc) / (double)K;
    p->cbg = conc / p->bg;
    p->log_stay = drift > 0 ? log1p(-drift) : 0;
    for (int d = 0; d < FAV_NKEEP; d++)
        p->keep[d] = exp(p->log_stay * (double)d);
}

static inline void fav_init(fav *s, const favp *p)
{
    s->u = p->inv_k;
    s->sc = 1;
    s->n = 0;
    s->last = INT32_MIN;
}

/* The favourite's days from s->last to day: redrawn uniformly each day with
 * probability drift, so pi <- keep pi + (1 - keep) / K, keep = (1 - drift)^days. */
static inline void fav_move(fav *s, int32_t day, const favp *p)
{
    if (s->last == INT32_MIN || day <= s->last) return;
    int64_t gap = (int64_t)day - s->last;
    double keep = gap < FAV_NKEEP ? p->keep[gap] : exp(p->log_stay * (double)gap);
    s->u = keep * s->u + (1 - keep) * p->inv_k;
    s->sc *= keep;
    s->last = day;
}

static inline int fav_find(const fav *s, int32_t e)
{
    for (int i = 0; i < s->n; i++)
        if (s->k[i] == e) return i;
    return -1;
}

/* Bayes update on an event on category e: P(e | favourite k) =
 * conc [e = k] + (1 - conc) / K. */
static inline void fav_observe(fav *s, int32_t day, int32_t e, const favp *p)
{
    if (s->last == INT32_MIN) s->last = day;
    fav_move(s, day, p);
    if (s->sc < 1e-150) { /* fold the scale in before it underflows */
        for (int i = 0; i < s->n; i++)
            s->v[i] *= s->sc;
        s->sc = 1;
    }
    int j = fav_find(s, e);
    if (j < 0) {
        if (s->n == OQ_GROSS_FAV_CAP) {
            int lo = 0;
            for (int i = 1; i < s->n; i++)
                if (s->v[i] < s->v[lo]) lo = i;
            s->u += s->sc * s->v[lo] * p->inv_k;
            s->k[lo] = s->k[s->n - 1];
            s->v[lo] = s->v[s->n - 1];
            s->n--;
        }
        j = s->n++;
        s->k[j] = e;
        s->v[j] = 0;
    }
    /* pi_k <- pi_k P(e | k) / z, z = bg + conc pi_e: u and the scale take the
       factor bg / z; w_e's new value, (pi_e (bg + conc) - u bg) / z, is
       sc' (v_e (1 + conc/bg) + (u / sc) conc/bg) with sc' = sc bg / z */
    double pe = s->u + s->sc * s->v[j];
    double r = p->bg / (p->bg + p->conc * pe);
    s->v[j] = s->v[j] * (1 + p->cbg) + s->u / s->sc * p->cbg;
    s->u *= r;
    s->sc *= r;
}

static inline double fav_pi(const fav *s, int32_t k)
{
    int i = fav_find(s, k);
    return i < 0 ? s->u : s->u + s->sc * s->v[i];
}

/* sum_k pi_k f_k (sum_f = sum_k f_k over the K categories) */
static inline double fav_mean_f(const fav *s, const double *f, double sum_f)
{
    double r = 0;
    for (int i = 0; i < s->n; i++)
        r += s->v[i] * f[s->k[i]];
    return s->u * sum_f + s->sc * r;
}

/* log P(e | history) under the filter s, then the update: the predictive
 * probability of an event is (1 - conc)/K + conc pi_e (pi moved to e's day). */
static inline double fav_observe_ll(fav *s, int32_t day, int32_t e, const favp *p)
{
    if (s->last != INT32_MIN) fav_move(s, day, p);
    double pe = fav_pi(s, e);
    fav_observe(s, day, e, p);
    return log(p->bg + p->conc * pe);
}

/* What the grid fit reads: nc customers' orders and events, each by day.
 * Customer c's orders are [olo[c], olo[c+1]) of oday/ocat (ocat -1: unknown
 * category, not scored); its events are positions at(j), j in [elo[c],
 * ehi[c]), at(j) = eord ? eord[j] : j, of eday and of ecat16 or ecat32 (one
 * of them; a category < 0 is skipped). id (nc) with stride > 1: only the
 * customers whose id hashes to 0 mod stride are scored (gross.h step 5);
 * id NULL or stride 1: all. */
typedef struct fav_data {
    size_t nc;
    const size_t *olo;   /* (nc + 1) */
    const int32_t *oday; /* (orders) */
    const int32_t *ocat; /* (orders) */
    const size_t *elo;   /* (nc) */
    const size_t *ehi;   /* (nc) */
    const size_t *eord;  /* NULL: identity */
    const int32_t *eday; /* (events) */
    const uint16_t *ecat16;
    const int *ecat32;
    const int64_t *id; /* (nc) or NULL */
    uint64_t stride;
} fav_data;

static inline int32_t fav_data_ecat(const fav_data *d, size_t x)
{
    return d->ecat16 ? (int32_t)d->ecat16[x] : (int32_t)d->ecat32[x];
}

/* Fit (drift, conc, alpha): maximise sum over the scored known-category
 * orders of log(alpha pi_k + (1 - alpha) pop_k), pi the filter from the
 * customer's events strictly before the order's day, over the grid (the
 * first maximum in (drift, conc, alpha) order wins); the sums of every part
 * of comm added in rank order (NULL: one part). grid: the log-likelihoods
 * (may be NULL). 0, OQ_ENOMEM or comm's error. */
struct oq_comm;
int oq_fav_fit_grid(const fav_data *d, size_t K, const double *pop, struct oq_comm *comm,
                    double grid[OQ_GROSS_NDRIFT][OQ_GROSS_NCONC][OQ_GROSS_NALPHA],
                    double *drift /* OUT */, double *conc /* OUT */, double *alpha /* OUT */,
                    double *loglik /* OUT */, oq_error *err) OQ_WUR;

#endif
