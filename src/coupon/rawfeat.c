/* rawfeat.c - per-contact features from raw orders and events, as of each
 * contact's date (include/offerq/coupon/rawfeat.h). */
#include "offerq/coupon/rawfeat.h"
#include "fav_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* one table's rows grouped by user, each user's rows by date */
typedef struct bytable {
    const oq_txtab *t;
    size_t *ord;    /* (t->n) row indices sorted by (user, date) */
    size_t nu;      /* distinct users */
    size_t *ustart; /* (nu + 1) each user's first index into ord */
    int *cat;       /* (t->n) level of the row's category, -1 none */
} bytable;

struct oq_rawfeat {
    bytable o, e, h;
    oq_txtab hv;       /* the contacts' history as a table (user, date: borrowed) */
    int *hoffer;       /* (hv.n) offer of each contact */
    uint8_t *hordered; /* (hv.n) */
    int control;
    int visit_days;
    char **levels; /* (ncat) sorted categories */
    oq_bgnbd_params bg;
    /* the favourite filter (fav_int.h) and the mix's per-category profit */
    double *pop; /* (ncat) share of the fit's known-category orders */
    double *fk;  /* (ncat) mean value of a contact's order of each category */
    double sum_f, pop_f;
    oq_rawfeat_info info;
    size_t nfeat;
    char names[OQ_RAWFEAT_MAX][32];
    int is_text[OQ_RAWFEAT_MAX];
};

enum {
    F_REC,
    F_NORD,
    F_MON,
    F_TEN,
    F_ORDK,
    F_ALIVE,
    F_FAV,
    F_VIS,
    F_DSV,
    F_SHARE,
    F_REPEAT,
    F_VRATE,
    F_CONC,
    F_EVID,
    F_MIX,
    F_HC,
    F_HT,
    F_HRC,
    F_HRT,
    F_N
};

/* a row's sort key: no context pointer for qsort (no mutable globals) */
typedef struct rowkey {
    const char *user;
    int32_t date;
    size_t i;
} rowkey;

static int cmp_row(const void *x, const void *y)
{
    const rowkey *a = x, *b = y;
    int c = strcmp(a->user, b->user);
    if (c) return c;
    if (a->date != b->date) return a->date < b->date ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int by_build(bytable *b, const oq_txtab *t)
{
    b->t = t;
    if (!t) return 0;
    size_t n = t->n;
    if (!(b->ord = malloc((n ? n : 1) * sizeof *b->ord)) ||
        !(b->ustart = malloc((n + 1) * sizeof *b->ustart)) ||
        !(b->cat = malloc((n ? n : 1) * sizeof *b->cat)))
        return -1;
    rowkey *keys = malloc((n ? n : 1) * sizeof *keys);
    if (!keys) return -1;
    for (size_t i = 0; i < n; i++)
        keys[i] = (rowkey){t->user[i], t->date[i], i};
    qsort(keys, n, sizeof *keys, cmp_row);
    for (size_t i = 0; i < n; i++)
        b->ord[i] = keys[i].i;
    free(keys);
    b->nu = 0;
    for (size_t k = 0; k < n; k++)
        if (k == 0 || strcmp(t->user[b->ord[k]], t->user[b->ord[k - 1]]) != 0)
            b->ustart[b->nu++] = k;
    b->ustart[b->nu] = n;
    return 0;
}

static void by_free(bytable *b)
{
    free(b->ord);
    free(b->ustart);
    free(b->cat);
}

/* The user's block [*lo, *hi) of ord; 0 if the user has no rows. */
static int by_find(const bytable *b, const char *user, size_t *lo, size_t *hi)
{
    if (!b->t || b->nu == 0) return 0;
    size_t l = 0, h = b->nu;
    while (l < h) {
        size_t m = l + (h - l) / 2;
        int c = strcmp(b->t->user[b->ord[b->ustart[m]]], user);
        if (c == 0) {
            *lo = b->ustart[m];
            *hi = b->ustart[m + 1];
            return 1;
        }
        if (c < 0)
            l = m + 1;
        else
            h = m;
    }
    return 0;
}

/* First index in [lo, hi) of ord whose date is >= d. */
static size_t by_before(const bytable *b, size_t lo, size_t hi, int32_t d)
{
    while (lo < hi) {
        size_t m = lo + (hi - lo) / 2;
        if (b->t->date[b->ord[m]] < d)
            lo = m + 1;
        else
            hi = m;
    }
    return lo;
}

/* x, t_x, T (days) of the orders ord[lo, end) as of day d; 0 without one. */
static int rft(const bytable *b, size_t lo, size_t end, int32_t d, double *x, double *tx, double *T)
{
    if (end <= lo) return 0;
    const int32_t *dt = b->t->date;
    size_t days = 1;
    for (size_t k = lo + 1; k < end; k++)
        days += dt[b->ord[k]] != dt[b->ord[k - 1]];
    int32_t first = dt[b->ord[lo]], last = dt[b->ord[end - 1]];
    *x = (double)(days - 1);
    *tx = (double)(last - first);
    *T = (double)(d - first);
    return 1;
}

static int fit_bgnbd(oq_rawfeat *rf, oq_error *err)
{
    const bytable *b = &rf->o;
    oq_rawfeat_info *in = &rf->info;
    size_t nu = b->nu, n = 0;
    double *x = malloc((nu ? nu : 1) * sizeof *x), *tx = malloc((nu ? nu : 1) * sizeof *tx);
    double *T = malloc((nu ? nu : 1) * sizeof *T);
    oq_bgnbd_data *d = NULL;
    int rc = 0;
    if (!x || !tx || !T) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t u = 0; u < nu; u++) {
        size_t lo = b->ustart[u], end = by_before(b, lo, b->ustart[u + 1], in->fit_end);
        if (rft(b, lo, end, in->fit_end, &x[n], &tx[n], &T[n])) n++;
    }
    in->fit_customers = n;
    if (n < 10) {
        snprintf(in->note, sizeof in->note,
                 "%zu customers ordered before the first contact: no BG/NBD fit, P(alive) not "
                 "used (give the orders from before the campaign)",
                 n);
        goto cleanup;
    }
    oq_error e2 = {0};
    if (oq_bgnbd_data_new(x, tx, T, NULL, n, &d, &e2) || oq_bgnbd_fit(d, NULL, &in->fit, &e2)) {
        snprintf(in->note, sizeof in->note, "BG/NBD fit failed (%.300s): P(alive) not used",
                 e2.msg);
        goto cleanup;
    }
    const oq_bgnbd_params *p = &in->fit.p;
    /* as alive.c: a fit run to a boundary is not a fit */
    int degenerate = !(p->a + p->b < 1e4 && p->r < 1e4 && p->alpha < 1e7);
    if (degenerate || !in->fit.converged) {
        snprintf(in->note, sizeof in->note,
                 "BG/NBD %s (r %.3g, alpha %.3g, a %.3g, b %.3g on %zu customers): P(alive) not "
                 "used; give a longer order history before the campaign",
                 degenerate ? "ran to a boundary" : "did not converge", p->r, p->alpha, p->a, p->b,
                 n);
        goto cleanup;
    }
    rf->bg = *p;
    in->alive_used = 1;
cleanup:
    oq_bgnbd_data_free(d);
    free(x);
    free(tx);
    free(T);
    return rc;
}

/* Sorted unique categories of orders and events; each row's level. */
static int levels_build(oq_rawfeat *rf)
{
    size_t cap = 0, n = 0;
    const bytable *bs[2] = {&rf->o, &rf->e};
    for (int k = 0; k < 2; k++)
        if (bs[k]->t && bs[k]->t->cat) cap += bs[k]->t->n;
    char **all = malloc((cap ? cap : 1) * sizeof *all);
    if (!all) return -1;
    for (int k = 0; k < 2; k++)
        if (bs[k]->t && bs[k]->t->cat)
            for (size_t i = 0; i < bs[k]->t->n; i++)
                if (bs[k]->t->cat[i]) all[n++] = bs[k]->t->cat[i];
    qsort(all, n, sizeof *all, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(all[i], all[u - 1]) != 0) all[u++] = all[i];
    rf->info.ncat = u;
    rf->levels = calloc(u ? u : 1, sizeof *rf->levels);
    if (!rf->levels) {
        free(all);
        return -1;
    }
    for (size_t i = 0; i < u; i++)
        if (!(rf->levels[i] = strdup(all[i]))) {
            free(all);
            return -1;
        }
    free(all);
    for (int k = 0; k < 2; k++) {
        bytable *b = k ? &rf->e : &rf->o;
        if (!b->t) continue;
        for (size_t i = 0; i < b->t->n; i++) {
            b->cat[i] = -1;
            if (!b->t->cat || !b->t->cat[i]) continue;
            char *const *hit = bsearch(&b->t->cat[i], rf->levels, u, sizeof *rf->levels, cmp_str);
            b->cat[i] = hit ? (int)(hit - rf->levels) : -1;
        }
    }
    return 0;
}

/* Category of user's order on day (the last row that day with one; with
 * a category column its own, else the user's last event that day, as
 * gross.h step 1), -1 when none is known. ob, oe: the user's blocks of
 * orders and events (oe NULL: no events). */
static int day_cat(const oq_rawfeat *rf, const size_t *ob, const size_t *oe, int32_t day)
{
    int k = -1;
    const bytable *o = &rf->o, *e = &rf->e;
    if (ob && o->t->cat)
        for (size_t j = by_before(o, ob[0], ob[1], day); j < ob[1] && o->t->date[o->ord[j]] == day;
             j++)
            if (o->cat[o->ord[j]] >= 0) k = o->cat[o->ord[j]];
    if (k >= 0 || !oe) return k;
    for (size_t j = by_before(e, oe[0], oe[1], day); j < oe[1] && e->t->date[e->ord[j]] == day; j++)
        if (e->cat[e->ord[j]] >= 0) k = e->cat[e->ord[j]];
    return k;
}

/* The value per category of the mix (rawfeat.h): the contacts of ct that
 * ordered, with a finite value, whose order's category (day_cat) is known. */
static void fit_mix(oq_rawfeat *rf, const oq_contacts *ct, double *sv, double *nv)
{
    oq_rawfeat_info *in = &rf->info;
    size_t K = in->ncat;
    double all = 0, nall = 0;
    for (size_t i = 0; ct && ct->date && i < ct->n; i++) {
        if (!ct->ordered[i] || !isfinite(ct->value[i])) continue;
        size_t ob[2], oe[2];
        int ho = by_find(&rf->o, ct->user[i], &ob[0], &ob[1]);
        int he = by_find(&rf->e, ct->user[i], &oe[0], &oe[1]);
        int k = day_cat(rf, ho ? ob : NULL, he ? oe : NULL, ct->date[i]);
        if (k < 0) continue;
        sv[k] += ct->value[i];
        nv[k]++;
        all += ct->value[i];
        nall++;
    }
    in->mix_rows = (size_t)nall;
    if (nall < 1) return;
    double pooled = all / nall;
    rf->pop_f = rf->sum_f = 0;
    for (size_t k = 0; k < K; k++) {
        rf->fk[k] = nv[k] >= OQ_RAWFEAT_MIX_MIN_ROWS ? sv[k] / nv[k] : pooled;
        rf->sum_f += rf->fk[k];
        rf->pop_f += rf->pop[k] * rf->fk[k];
    }
    in->mix_used = 1;
}

/* The favourite filter (fav_int.h, gross.h step 5) fitted on the orders
 * and events before the day after ct's latest contact (all without ct):
 * each order's category as day_cat, the grid fit of gross.c. */
static int fit_filter(oq_rawfeat *rf, const oq_contacts *ct, oq_error *err)
{
    oq_rawfeat_info *in = &rf->info;
    const bytable *o = &rf->o, *e = &rf->e;
    size_t nu = o->nu, K = in->ncat, n = 0;
    int32_t end = INT32_MAX;
    if (ct && ct->date && ct->n) {
        end = INT32_MIN;
        for (size_t i = 0; i < ct->n; i++)
            if (ct->date[i] >= end) end = ct->date[i] + 1;
    }
    in->filter_end = end;
    if (K == 0 || nu == 0) return 0;
    size_t *olo = malloc((nu + 1) * sizeof *olo), *elo = malloc(nu * sizeof *elo),
           *ehi = malloc(nu * sizeof *ehi);
    int32_t *oday = malloc((o->t->n ? o->t->n : 1) * sizeof *oday),
            *ocat = malloc((o->t->n ? o->t->n : 1) * sizeof *ocat);
    double *buf = calloc(2 * K, sizeof *buf);
    int64_t *uid = malloc(nu * sizeof *uid);
    rf->pop = calloc(K, sizeof *rf->pop);
    rf->fk = calloc(K, sizeof *rf->fk);
    int rc = 0;
    if (!olo || !elo || !ehi || !oday || !ocat || !buf || !uid || !rf->pop || !rf->fk) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    size_t known = 0;
    for (size_t u = 0; u < nu; u++) {
        size_t ob[2] = {o->ustart[u], 0}, oe[2] = {0, 0};
        ob[1] = by_before(o, ob[0], o->ustart[u + 1], end);
        int he = by_find(e, o->t->user[o->ord[ob[0]]], &oe[0], &oe[1]);
        if (he) oe[1] = by_before(e, oe[0], oe[1], end);
        elo[u] = he ? oe[0] : 0;
        ehi[u] = he ? oe[1] : 0;
        olo[u] = n;
        for (size_t j = ob[0]; j < ob[1]; j++, n++) {
            oday[n] = o->t->date[o->ord[j]];
            ocat[n] = -1;
            /* the category of this row itself, else the day's last event */
            if (o->t->cat && o->cat[o->ord[j]] >= 0)
                ocat[n] = o->cat[o->ord[j]];
            else if (he)
                for (size_t x = by_before(e, oe[0], oe[1], oday[n]);
                     x < oe[1] && e->t->date[e->ord[x]] == oday[n]; x++)
                    if (e->cat[e->ord[x]] >= 0) ocat[n] = e->cat[e->ord[x]];
            if (ocat[n] >= 0) {
                buf[ocat[n]]++;
                known++;
            }
        }
    }
    olo[nu] = n;
    in->filter_orders = known;
    if (!known) {
        snprintf(in->note + strlen(in->note), sizeof in->note - strlen(in->note),
                 "%sno order has a category (its own or an event on its day): no favourite "
                 "filter, browse_evidence and mix_value not used",
                 in->note[0] ? "; " : "");
        goto cleanup;
    }
    for (size_t k = 0; k < K; k++)
        rf->pop[k] = buf[k] / (double)known;
    fav_data d = {.nc = nu,
                  .olo = olo,
                  .oday = oday,
                  .ocat = ocat,
                  .elo = elo,
                  .ehi = ehi,
                  .eord = e->ord,
                  .eday = e->t->date,
                  .ecat32 = e->cat,
                  .id = uid,
                  .stride = (known + OQ_GROSS_FIT_ORDERS - 1) / OQ_GROSS_FIT_ORDERS};
    /* above OQ_GROSS_FIT_ORDERS orders the grid scores a sample of the
       customers, as gross.h step 5 (here by their index in sorted order) */
    for (size_t u = 0; u < nu; u++)
        uid[u] = (int64_t)u;
    if ((rc = oq_fav_fit_grid(&d, K, rf->pop, NULL, NULL, &in->drift, &in->conc, &in->alpha,
                              &in->filter_loglik, err)))
        goto cleanup;
    in->filter_used = 1;
    memset(buf, 0, 2 * K * sizeof *buf);
    fit_mix(rf, ct, buf, buf + K);
cleanup:
    free(olo);
    free(elo);
    free(ehi);
    free(oday);
    free(ocat);
    free(buf);
    free(uid);
    return rc;
}

/* The contacts of cts[0..k) (NULL ones skipped) as one history table. */
static int history_build(oq_rawfeat *rf, const oq_contacts *const *cts, int k)
{
    size_t n = 0, at = 0;
    for (int j = 0; j < k; j++)
        if (cts[j] && cts[j]->date) n += cts[j]->n;
    oq_txtab *t = &rf->hv;
    if (!(t->user = malloc((n ? n : 1) * sizeof *t->user)) ||
        !(t->date = malloc((n ? n : 1) * sizeof *t->date)) ||
        !(rf->hoffer = malloc((n ? n : 1) * sizeof *rf->hoffer)) ||
        !(rf->hordered = malloc(n ? n : 1)))
        return -1;
    for (int j = 0; j < k; j++)
        for (size_t i = 0; cts[j] && cts[j]->date && i < cts[j]->n; i++, at++) {
            t->user[at] = cts[j]->user[i];
            t->date[at] = cts[j]->date[i];
            rf->hoffer[at] = cts[j]->offer[i];
            rf->hordered[at] = cts[j]->ordered[i];
        }
    t->n = n;
    return by_build(&rf->h, t);
}

int oq_rawfeat_new(const oq_txtab *orders, const oq_txtab *events, int32_t fit_end, int visit_days,
                   oq_rawfeat **out, oq_error *err)
{
    return oq_rawfeat_new2(orders, events, NULL, NULL, -1, fit_end, visit_days, out, err);
}

int oq_rawfeat_new2(const oq_txtab *orders, const oq_txtab *events, const oq_contacts *ct,
                    const oq_contacts *ho, int control, int32_t fit_end, int visit_days,
                    oq_rawfeat **out, oq_error *err)
{
    *out = NULL;
    if (visit_days < 1)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "rawfeat: visit_days must be >= 1");
    oq_rawfeat *rf = calloc(1, sizeof *rf);
    int rc = 0;
    if (!rf) return oq_error_oom(err, NULL, NULL);
    rf->visit_days = visit_days;
    oq_rawfeat_info *in = &rf->info;
    in->fit_end = fit_end;
    in->have_orders = orders != NULL;
    in->have_events = events != NULL;
    in->has_category = (orders && orders->cat) || events;
    rf->control = control;
    const oq_contacts *cts[2] = {ct, ho};
    if (by_build(&rf->o, orders) || by_build(&rf->e, events) || levels_build(rf) ||
        ((ct || ho) && history_build(rf, cts, 2))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if (orders && (rc = fit_bgnbd(rf, err))) goto cleanup;
    if (orders && events && (rc = fit_filter(rf, ct, err))) goto cleanup;
    if (!orders)
        snprintf(in->note, sizeof in->note,
                 "no orders: no BG/NBD, P(alive) not used (no recency, frequency, monetary "
                 "value either; give --orders)");
    /* the feature list */
    int on[F_N] = {0};
    on[F_REC] = on[F_NORD] = on[F_MON] = on[F_TEN] = on[F_ORDK] = orders != NULL;
    on[F_ALIVE] = in->alive_used;
    on[F_FAV] = orders && orders->cat;
    on[F_VIS] = on[F_DSV] = events != NULL;
    on[F_SHARE] = on[F_REPEAT] = on[F_VRATE] = on[F_CONC] = events != NULL;
    on[F_EVID] = in->filter_used;
    on[F_MIX] = in->mix_used;
    on[F_HC] = on[F_HT] = on[F_HRC] = on[F_HRT] = rf->h.t != NULL && control >= 0;
    static const char *const nm[F_N] = {
        "recency_days",      "orders_before",    "monetary_mean",
        "tenure_days",       "orders",           "p_alive",
        "fav_category",      "visits",           "days_since_visit",
        "fav_share",         "browse_repeat",    "visit_rate",
        "browse_focus",      "browse_evidence",  "mix_value",
        "contacts_control",  "contacts_offered", "order_rate_control",
        "order_rate_offered"};
    for (int f = 0; f < F_N; f++) {
        if (!on[f]) continue;
        size_t k = rf->nfeat++;
        if (f == F_VIS)
            snprintf(rf->names[k], sizeof rf->names[k], "visits_%dd", visit_days);
        else if (f == F_ORDK)
            snprintf(rf->names[k], sizeof rf->names[k], "orders_%dd", visit_days);
        else
            snprintf(rf->names[k], sizeof rf->names[k], "%s", nm[f]);
        rf->is_text[k] = f == F_FAV;
    }
cleanup:
    if (rc) {
        oq_rawfeat_free(rf);
        return rc;
    }
    *out = rf;
    return 0;
}

const oq_rawfeat_info *oq_rawfeat_info_get(const oq_rawfeat *rf)
{
    return &rf->info;
}

void oq_rawfeat_free(oq_rawfeat *rf)
{
    if (!rf) return;
    by_free(&rf->o);
    by_free(&rf->e);
    by_free(&rf->h);
    free(rf->hv.user);
    free(rf->hv.date);
    free(rf->hoffer);
    free(rf->hordered);
    if (rf->levels)
        for (size_t i = 0; i < rf->info.ncat; i++)
            free(rf->levels[i]);
    free(rf->levels);
    free(rf->pop);
    free(rf->fk);
    free(rf);
}

/* Scratch of one query: category counts, decayed weights and their days. */
typedef struct scratch {
    unsigned *cnt; /* (ncat) zeros between queries */
    double *w;     /* (ncat) */
    int32_t *wd;   /* (ncat) */
} scratch;

#define FOCUS_DECAY 0.05 /* per day: a favourite that drifts over weeks */
#define FOCUS_HI 0.8
#define FOCUS_LO 0.2

/* Browse focus of the events ord[lo, end): the log-likelihood ratio of each
 * event's category under a concentrated (FOCUS_HI) against a wide (FOCUS_LO)
 * browser, p(e | earlier) = (1 - conc) / K + conc pi_e, pi the earlier
 * events' category shares weighted exp(-FOCUS_DECAY days ago). Positive:
 * keeps to a (drifting) favourite; negative: browses widely. */
static double focus(const bytable *e, size_t lo, size_t end, size_t K, scratch *s)
{
    double llr = 0, tot = 0;
    int32_t tday = 0;
    for (size_t j = lo; j < end; j++) {
        size_t r = e->ord[j];
        int c = e->cat[r];
        int32_t day = e->t->date[r];
        if (c < 0) continue;
        if (tot > 0) tot *= exp(-FOCUS_DECAY * (double)(day - tday));
        tday = day;
        double wc =
            s->wd[c] == INT32_MIN ? 0 : s->w[c] * exp(-FOCUS_DECAY * (double)(day - s->wd[c]));
        double pi = tot > 0 ? wc / tot : 1.0 / (double)K;
        llr += log((1 - FOCUS_HI) / (double)K + FOCUS_HI * pi) -
               log((1 - FOCUS_LO) / (double)K + FOCUS_LO * pi);
        s->w[c] = wc + 1;
        s->wd[c] = day;
        tot += 1;
    }
    for (size_t j = lo; j < end; j++) {
        int c = e->cat[e->ord[j]];
        if (c >= 0) s->wd[c] = INT32_MIN;
    }
    return llr;
}

/* browse_evidence and (with the mix) mix_value of the events ord[lo, end)
 * as of day d into f[0], f[1] (rawfeat.h). */
static void filtered(const oq_rawfeat *rf, size_t lo, size_t end, int32_t d, double *f)
{
    const oq_rawfeat_info *in = &rf->info;
    const bytable *e = &rf->e;
    favp ph, pl, pm;
    favp_init(&ph, in->ncat, in->drift, OQ_GROSS_EVIDENCE_HI);
    favp_init(&pl, in->ncat, in->drift, OQ_GROSS_EVIDENCE_LO);
    favp_init(&pm, in->ncat, in->drift, in->conc);
    fav hi, lw, mx;
    fav_init(&hi, &ph);
    fav_init(&lw, &pl);
    fav_init(&mx, &pm);
    double llr = 0;
    for (size_t j = lo; j < end; j++) {
        size_t r = e->ord[j];
        int c = e->cat[r];
        if (c < 0) continue;
        int32_t day = e->t->date[r];
        llr += fav_observe_ll(&hi, day, c, &ph) - fav_observe_ll(&lw, day, c, &pl);
        if (in->mix_used) fav_observe(&mx, day, c, &pm);
    }
    f[0] = llr;
    if (!in->mix_used) return;
    fav_move(&mx, d, &pm);
    f[1] = in->alpha * fav_mean_f(&mx, rf->fk, rf->sum_f) + (1 - in->alpha) * rf->pop_f;
}

/* The features of user on day d into f (rf->nfeat). */
static void features(const oq_rawfeat *rf, const char *user, int32_t d, scratch *sc, double *f)
{
    unsigned *cnt = sc->cnt;
    size_t k = 0, lo, hi;
    int favc = -1;
    const bytable *o = &rf->o, *e = &rf->e;
    if (o->t) {
        size_t end = 0;
        int has = by_find(o, user, &lo, &hi);
        if (has) end = by_before(o, lo, hi, d);
        if (!has || end == lo) {
            f[k++] = NAN;
            f[k++] = 0;
            f[k++] = NAN;
            f[k++] = NAN;
            f[k++] = 0;
        } else {
            double s = 0;
            size_t recent = 0;
            for (size_t j = lo; j < end; j++) {
                s += o->t->value[o->ord[j]];
                recent += o->t->date[o->ord[j]] >= d - rf->visit_days;
            }
            f[k++] = (double)(d - o->t->date[o->ord[end - 1]]);
            f[k++] = (double)(end - lo);
            f[k++] = s / (double)(end - lo);
            f[k++] = (double)(d - o->t->date[o->ord[lo]]);
            f[k++] = (double)recent;
        }
        if (rf->info.alive_used) {
            double x, tx, T;
            f[k++] =
                has && rft(o, lo, end, d, &x, &tx, &T) ? oq_bgnbd_p_alive(&rf->bg, x, tx, T) : 1.0;
        }
        if (o->t->cat) {
            unsigned best = 0;
            for (size_t j = has ? lo : 0; has && j < end; j++) {
                int c = o->cat[o->ord[j]];
                if (c >= 0 && ++cnt[c] > best) best = cnt[c];
            }
            for (size_t j = has ? lo : 0; has && j < end; j++) {
                int c = o->cat[o->ord[j]];
                if (c >= 0 && cnt[c] == best && (favc < 0 || c < favc)) favc = c;
            }
            for (size_t j = has ? lo : 0; has && j < end; j++) {
                int c = o->cat[o->ord[j]];
                if (c >= 0) cnt[c] = 0;
            }
            f[k++] = favc >= 0 ? (double)favc : NAN;
        }
    }
    if (e->t) {
        size_t end = 0;
        int has = by_find(e, user, &lo, &hi);
        if (has) end = by_before(e, lo, hi, d);
        size_t from = has ? by_before(e, lo, end, d - rf->visit_days) : 0;
        f[k++] = has ? (double)(end - from) : 0;
        f[k++] = has && end > lo ? (double)(d - e->t->date[e->ord[end - 1]]) : NAN;
        if (!has || end == lo) {
            f[k++] = NAN;
        } else {
            if (favc < 0) { /* no order category: the most viewed one */
                unsigned best = 0;
                for (size_t j = lo; j < end; j++) {
                    int c = e->cat[e->ord[j]];
                    if (c >= 0 && ++cnt[c] > best) best = cnt[c];
                }
                for (size_t j = lo; j < end; j++) {
                    int c = e->cat[e->ord[j]];
                    if (c >= 0 && cnt[c] == best && (favc < 0 || c < favc)) favc = c;
                }
                for (size_t j = lo; j < end; j++) {
                    int c = e->cat[e->ord[j]];
                    if (c >= 0) cnt[c] = 0;
                }
            }
            size_t same = 0;
            for (size_t j = lo; j < end; j++)
                same += favc >= 0 && e->cat[e->ord[j]] == favc;
            f[k++] = (double)same / (double)(end - lo);
        }
        /* browse repeat rate over consecutive events, visit rate over active days */
        if (!has || end == lo) {
            f[k++] = NAN;
            f[k++] = NAN;
        } else {
            size_t same = 0, days = 1;
            for (size_t j = lo + 1; j < end; j++) {
                same += e->cat[e->ord[j]] == e->cat[e->ord[j - 1]];
                days += e->t->date[e->ord[j]] != e->t->date[e->ord[j - 1]];
            }
            f[k++] = ((double)same + 0.3) / ((double)(end - lo - 1) + 1);
            f[k++] = (double)days / (double)(d - e->t->date[e->ord[lo]]);
        }
        f[k++] = has && end > lo ? focus(e, lo, end, rf->info.ncat ? rf->info.ncat : 1, sc) : 0;
        if (rf->info.filter_used) filtered(rf, has ? lo : 0, has ? end : 0, d, f + k);
        k += (size_t)rf->info.filter_used + (size_t)rf->info.mix_used;
    }
    const bytable *h = &rf->h;
    if (h->t && rf->control >= 0) {
        double nc = 0, nt = 0, oc = 0, ot = 0;
        if (by_find(h, user, &lo, &hi)) {
            size_t end = by_before(h, lo, hi, d);
            for (size_t j = lo; j < end; j++) {
                size_t r = h->ord[j];
                if (rf->hoffer[r] == rf->control) {
                    nc++;
                    oc += rf->hordered[r];
                } else {
                    nt++;
                    ot += rf->hordered[r];
                }
            }
        }
        f[k++] = nc;
        f[k++] = nt;
        f[k++] = (oc + 0.2) / (nc + 1);
        f[k++] = (ot + 0.2) / (nt + 1);
    }
}

/* Build the table of rows (crow into cust, day) with the features. */
static int table(const oq_rawfeat *rf, const oq_customers *cust, const size_t *crow,
                 const int32_t *day, size_t n, int index_ids, oq_customers **out, oq_error *err)
{
    size_t nf = rf->nfeat;
    size_t nc = rf->info.ncat ? rf->info.ncat : 1;
    double *xe = malloc((n ? n : 1) * (nf ? nf : 1) * sizeof *xe);
    scratch sc = {calloc(nc, sizeof *sc.cnt), malloc(nc * sizeof *sc.w),
                  malloc(nc * sizeof *sc.wd)};
    int rc = 0;
    if (!xe || !sc.cnt || !sc.w || !sc.wd) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t c = 0; c < nc; c++)
        sc.wd[c] = INT32_MIN;
    for (size_t i = 0; i < n; i++)
        features(rf, cust->user[crow[i]], day[i], &sc, xe + i * nf);
    const char *names[OQ_RAWFEAT_MAX];
    size_t nl[OQ_RAWFEAT_MAX];
    char *const *lv[OQ_RAWFEAT_MAX];
    for (size_t k = 0; k < nf; k++) {
        names[k] = rf->names[k];
        nl[k] = rf->is_text[k] ? rf->info.ncat : 0;
        lv[k] = rf->is_text[k] ? rf->levels : NULL;
    }
    rc =
        oq_customers_extend(cust, crow, n, nf, names, rf->is_text, nl, lv, xe, index_ids, out, err);
cleanup:
    free(xe);
    free(sc.cnt);
    free(sc.w);
    free(sc.wd);
    return rc;
}

int oq_rawfeat_contacts(const oq_rawfeat *rf, const oq_customers *cust, oq_contacts *ct,
                        oq_customers **out, oq_error *err)
{
    *out = NULL;
    if (!ct->date)
        return oq_error_set(err, OQ_EINVAL, ct->path, 1, 0,
                            "the contacts have no date column: with --orders or --events every "
                            "contact needs its day (date, YYYY-MM-DD) so that its features "
                            "come from what happened before it");
    size_t n = ct->n;
    size_t *crow = calloc(n ? n : 1, sizeof *crow);
    int rc = 0;
    if (!crow) return oq_error_oom(err, NULL, NULL);
    for (size_t i = 0; i < n && !rc; i++) {
        long r = oq_customers_find(cust, ct->user[i]);
        if (r < 0)
            rc = oq_error_set(err, OQ_EPARSE, ct->path, ct->line[i], ct->user_col,
                              "customer \"%.60s\" of this contact is not in the customers "
                              "file: expected every contacted customer's attributes there",
                              ct->user[i]);
        else
            crow[i] = (size_t)r;
    }
    if (!rc) rc = table(rf, cust, crow, ct->date, n, 0, out, err);
    if (!rc) {
        free(ct->xrow);
        ct->xrow = crow; /* reused: row i of the table is contact i */
        for (size_t i = 0; i < n; i++)
            crow[i] = i;
        crow = NULL;
    }
    free(crow);
    return rc;
}

int oq_rawfeat_customers(const oq_rawfeat *rf, const oq_customers *cust, int32_t asof,
                         oq_customers **out, oq_error *err)
{
    *out = NULL;
    size_t n = cust->n;
    size_t *crow = malloc((n ? n : 1) * sizeof *crow);
    int32_t *day = malloc((n ? n : 1) * sizeof *day);
    int rc = 0;
    if (!crow || !day) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        crow[i] = i;
        day[i] = asof;
    }
    rc = table(rf, cust, crow, day, n, 1, out, err);
cleanup:
    free(crow);
    free(day);
    return rc;
}
