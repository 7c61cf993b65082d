/* rawfeat.c - per-contact features from raw orders and events, as of each
 * contact's date (include/offerq/coupon/rawfeat.h). */
#include "offerq/coupon/rawfeat.h"
#include "offerq/coupon/gross.h"

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
    /* the gross-profit model (gross.h) on the raw tables */
    char **users; /* (nusers) sorted ids of orders, events and contacts (borrowed) */
    size_t nusers;
    oq_orders *gord; /* the orders with a value > 0, users as indices into users */
    oq_events *gev;  /* the events with a category, the same way */
    oq_gross *gm;    /* NULL: not fitted */
    size_t slot;     /* feature index of browse_evidence (gross_value next) */
    oq_rawfeat_info info;
    size_t nfeat;
    char names[OQ_RAWFEAT_MAX][32];
    int is_text[OQ_RAWFEAT_MAX];
    int extra[OQ_RAWFEAT_MAX]; /* 1: left out of the tables by OQ_RAWFEAT_COMPACT */
    int set;                   /* OQ_RAWFEAT_FULL (the default) or OQ_RAWFEAT_COMPACT */
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

/* Category of the user's order on day, as gross.h step 1: the user's last
 * event that day (oe: the user's block of events; NULL: none), -1 when none. */
static int day_cat(const oq_rawfeat *rf, const size_t *oe, int32_t day)
{
    int k = -1;
    const bytable *e = &rf->e;
    if (!oe) return k;
    for (size_t j = by_before(e, oe[0], oe[1], day); j < oe[1] && e->t->date[e->ord[j]] == day; j++)
        if (e->cat[e->ord[j]] >= 0) k = e->cat[e->ord[j]];
    return k;
}

/* ---- the gross-profit model of gross.h on the raw tables ------------------------
 * gross.c's own fit and prediction, on the raw tables mapped onto its inputs:
 * a user is its index in the sorted union of the ids of the orders, events
 * and contacts (a user asked about later that none of them has: past the
 * union), a category its level (< 65536), orders with a value > 0, events
 * with a category; the fit's log has one row per user and contact day of ct
 * (ordered: the contacts' summed value as the order's gross profit, its
 * category its day's event; a user without contacts one row without an order). */

/* index of user u in rf->users, or -1 */
static long user_ix(const oq_rawfeat *rf, const char *u)
{
    char *const *hit = bsearch(&u, rf->users, rf->nusers, sizeof *rf->users, cmp_str);
    return hit ? (long)(hit - rf->users) : -1;
}

static int users_build(oq_rawfeat *rf, const oq_contacts *ct, const oq_contacts *ho)
{
    const oq_txtab *t[2] = {rf->o.t, rf->e.t};
    const oq_contacts *c[2] = {ct, ho};
    size_t n = 0;
    for (int k = 0; k < 2; k++)
        n += (t[k] ? t[k]->n : 0) + (c[k] ? c[k]->n : 0);
    if (!(rf->users = malloc((n ? n : 1) * sizeof *rf->users))) return -1;
    n = 0;
    for (int k = 0; k < 2; k++) {
        for (size_t i = 0; t[k] && i < t[k]->n; i++)
            rf->users[n++] = t[k]->user[i];
        for (size_t i = 0; c[k] && i < c[k]->n; i++)
            rf->users[n++] = c[k]->user[i];
    }
    qsort(rf->users, n, sizeof *rf->users, cmp_str);
    size_t u = 0;
    for (size_t i = 0; i < n; i++)
        if (u == 0 || strcmp(rf->users[i], rf->users[u - 1]) != 0) rf->users[u++] = rf->users[i];
    rf->nusers = u;
    return 0;
}

/* The orders (value > 0) and events (with a category) of rf as gross.h's,
 * those dated before end only (INT32_MAX: all). */
static int gross_tables(const oq_rawfeat *rf, int32_t end, oq_orders **go, oq_events **ge)
{
    const bytable *o = &rf->o, *e = &rf->e;
    oq_orders *a = calloc(1, sizeof *a);
    oq_events *b = calloc(1, sizeof *b);
    *go = a;
    *ge = b;
    if (!a || !b) return -1;
    size_t no = o->t->n, ne = e->t->n;
    a->user_id = malloc((no ? no : 1) * sizeof *a->user_id);
    a->day = malloc((no ? no : 1) * sizeof *a->day);
    a->value = malloc((no ? no : 1) * sizeof *a->value);
    b->user_id = malloc((ne ? ne : 1) * sizeof *b->user_id);
    b->day = malloc((ne ? ne : 1) * sizeof *b->day);
    b->category = malloc((ne ? ne : 1) * sizeof *b->category);
    if (!a->user_id || !a->day || !a->value || !b->user_id || !b->day || !b->category) return -1;
    for (size_t j = 0; j < no; j++) { /* (user, date) order: the users' order too */
        size_t r = o->ord[j];
        double v = o->t->value[r];
        if (!(isfinite(v) && v > 0) || o->t->date[r] >= end) continue;
        a->user_id[a->n] = user_ix(rf, o->t->user[r]);
        a->day[a->n] = o->t->date[r];
        a->value[a->n++] = v;
    }
    for (size_t j = 0; j < ne; j++) {
        size_t r = e->ord[j];
        if (e->cat[r] < 0 || e->t->date[r] >= end) continue;
        b->user_id[b->n] = user_ix(rf, e->t->user[r]);
        b->day[b->n] = e->t->date[r];
        b->category[b->n++] = (uint16_t)e->cat[r];
    }
    a->cap = a->n;
    b->cap = b->n;
    return 0;
}

/* a log of n rows (user ids, days) for gross.c: only the columns it reads */
typedef struct glog {
    oq_log log;
    oq_log_index *ix;
    oq_events_ix *evx;
} glog;

static void glog_free(glog *g)
{
    free(g->log.user_id);
    free(g->log.day);
    free(g->log.category);
    free(g->log.order);
    free(g->log.profit);
    oq_log_index_free(g->ix);
    oq_events_ix_free(g->evx);
}

static int glog_alloc(glog *g, size_t n, size_t K)
{
    memset(g, 0, sizeof *g);
    g->log.n = g->log.cap = n;
    g->log.cats.n = (uint32_t)K;
    g->log.user_id = calloc(n ? n : 1, sizeof *g->log.user_id);
    g->log.day = calloc(n ? n : 1, sizeof *g->log.day);
    g->log.category = calloc(n ? n : 1, sizeof *g->log.category);
    g->log.order = calloc(n ? n : 1, 1);
    g->log.profit = calloc(n ? n : 1, sizeof *g->log.profit);
    return g->log.user_id && g->log.day && g->log.category && g->log.order && g->log.profit ? 0
                                                                                            : -1;
}

static int glog_index(glog *g, const oq_events *ev, oq_error *err)
{
    int rc = oq_log_index_build(&g->log, &g->ix, err);
    return rc ? rc : oq_events_ix_build(ev, g->ix, &g->evx, err);
}

typedef struct ckey {
    long u;
    int32_t day;
    size_t i;
} ckey;

static int cmp_ckey(const void *x, const void *y)
{
    const ckey *a = x, *b = y;
    if (a->u != b->u) return a->u < b->u ? -1 : 1;
    if (a->day != b->day) return a->day < b->day ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

/* The fit's log (see above) from the contacts ct before end. */
static int fit_log(const oq_rawfeat *rf, const oq_contacts *ct, int32_t end, glog *g)
{
    size_t n = ct && ct->date ? ct->n : 0, m = 0;
    ckey *k = malloc((n + rf->nusers + 1) * sizeof *k);
    if (!k) return -1;
    for (size_t i = 0; i < n; i++)
        if (ct->date[i] < end) k[m++] = (ckey){user_ix(rf, ct->user[i]), ct->date[i], i};
    qsort(k, m, sizeof *k, cmp_ckey);
    size_t rows = 0; /* distinct (user, day), then the users without one */
    for (size_t j = 0; j < m; j++)
        rows += j == 0 || k[j].u != k[j - 1].u || k[j].day != k[j - 1].day;
    size_t at = 0, extra = 0;
    for (size_t u = 0; u < rf->nusers; u++) {
        while (at < m && k[at].u < (long)u)
            at++;
        if (at == m || k[at].u != (long)u) k[m + extra++] = (ckey){(long)u, 0, SIZE_MAX};
    }
    if (glog_alloc(g, rows + extra, rf->info.ncat)) {
        free(k);
        return -1;
    }
    oq_log *lg = &g->log;
    size_t r = 0;
    for (size_t j = 0; j < m; j++) {
        if (j > 0 && k[j].u == k[j - 1].u && k[j].day == k[j - 1].day) {
            r--;
        } else {
            lg->user_id[r] = k[j].u;
            lg->day[r] = k[j].day;
        }
        size_t i = k[j].i;
        if (ct->ordered[i] && isfinite(ct->value[i])) {
            lg->order[r] = 1;
            lg->profit[r] += ct->value[i];
        }
        r++;
    }
    for (size_t j = 0; j < r; j++) { /* the order's category; unknown: no margin row */
        size_t oe[2];
        int he = by_find(&rf->e, rf->users[lg->user_id[j]], &oe[0], &oe[1]);
        int c = lg->order[j] ? day_cat(rf, he ? oe : NULL, lg->day[j]) : -1;
        if (c < 0 || !(lg->profit[j] > 0)) lg->order[j] = 0;
        lg->category[j] = (uint16_t)(c < 0 ? 0 : c);
    }
    for (size_t j = 0; j < extra; j++, r++) {
        lg->user_id[r] = k[m + j].u;
        lg->day[r] = end == INT32_MAX ? 0 : end - 1;
    }
    free(k);
    return 0;
}

/* gross.h's model fitted on the orders and events before the day after
 * ct's latest contact (all rows without ct); a fit that fails for want of
 * data is a note. */
static int fit_gross(oq_rawfeat *rf, const oq_contacts *ct, oq_error *err)
{
    oq_rawfeat_info *in = &rf->info;
    int32_t end = INT32_MAX;
    if (ct && ct->date && ct->n) {
        end = INT32_MIN;
        for (size_t i = 0; i < ct->n; i++)
            if (ct->date[i] >= end) end = ct->date[i] + 1;
    }
    in->filter_end = end;
    if (in->ncat > UINT16_MAX)
        snprintf(in->note + strlen(in->note), sizeof in->note - strlen(in->note),
                 "%s%zu categories, more than gross.h's 65,535: browse_evidence and gross_value "
                 "not used",
                 in->note[0] ? "; " : "", in->ncat);
    if (in->ncat == 0 || in->ncat > UINT16_MAX) return 0;
    oq_orders *fo = NULL;
    oq_events *fe = NULL;
    glog g;
    memset(&g, 0, sizeof g);
    oq_error e2 = {0};
    int rc = 0;
    if (gross_tables(rf, INT32_MAX, &rf->gord, &rf->gev) || gross_tables(rf, end, &fo, &fe) ||
        fit_log(rf, ct, end, &g)) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if ((rc = glog_index(&g, fe, err))) goto cleanup;
    rc = oq_gross_fit(&g.log, g.ix, fe, g.evx, fo, NULL, &rf->gm, &e2);
    if (rc == OQ_ENOMEM) {
        *err = e2;
        goto cleanup;
    }
    if (rc || !rf->gm->n_known) {
        snprintf(in->note + strlen(in->note), sizeof in->note - strlen(in->note),
                 "%sthe gross-profit model (gross.h): %.200s: browse_evidence and gross_value "
                 "not used",
                 in->note[0] ? "; " : "",
                 rc ? e2.msg : "no order has a category (its own or an event on its day)");
        oq_gross_free(rf->gm);
        rf->gm = NULL;
        rc = 0;
        goto cleanup;
    }
    in->filter_used = 1;
    in->filter_orders = rf->gm->n_known;
    in->margin_rows = rf->gm->n_margin_rows;
    in->drift = rf->gm->drift;
    in->conc = rf->gm->conc;
    in->alpha = rf->gm->alpha;
    in->filter_loglik = rf->gm->loglik;
cleanup:
    oq_orders_free(fo);
    oq_events_free(fe);
    glog_free(&g);
    return rc;
}

/* browse_evidence and gross_value of the n rows (crow into cust, day) into
 * xe[i * nf + slot], [... + slot + 1]: gross.c's prediction on a log of
 * these rows (each from its customer's history strictly before its day). */
static int gross_rows(const oq_rawfeat *rf, const oq_customers *cust, const size_t *crow,
                      const int32_t *day, size_t n, size_t nf, size_t slot, double *xe,
                      oq_error *err)
{
    glog g;
    memset(&g, 0, sizeof g); /* freed at cleanup even when gv or ev failed */
    double *gv = malloc((n ? n : 1) * sizeof *gv);
    float *ev = malloc((n ? n : 1) * sizeof *ev);
    int rc = 0;
    if (!gv || !ev || glog_alloc(&g, n, rf->info.ncat)) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++) {
        long u = user_ix(rf, cust->user[crow[i]]);
        g.log.user_id[i] = u >= 0 ? u : (int64_t)(rf->nusers + crow[i]);
        g.log.day[i] = day[i];
    }
    if ((rc = glog_index(&g, rf->gev, err)) ||
        (rc = oq_gross_predict(rf->gm, &g.log, g.ix, rf->gev, g.evx, rf->gord, 0, gv, NULL, err)) ||
        (rc = oq_gross_evidence(rf->gm, &g.log, g.ix, rf->gev, g.evx, 0, ev, NULL, 1, err)))
        goto cleanup;
    /* a fit without residual spread (every customer one order: se2 = 0)
       predicts 0/0: missing then, as a value that is not a number */
    for (size_t i = 0; i < n; i++) {
        xe[i * nf + slot] = isfinite(ev[i]) ? ev[i] : NAN;
        xe[i * nf + slot + 1] = isfinite(gv[i]) && gv[i] > 0 ? gv[i] : NAN;
    }
cleanup:
    free(gv);
    free(ev);
    glog_free(&g);
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
    if (orders && events) {
        if (users_build(rf, ct, ho)) {
            rc = oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
        if ((rc = fit_gross(rf, ct, err))) goto cleanup;
    }
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
    on[F_MIX] = in->filter_used;
    on[F_HC] = on[F_HT] = on[F_HRC] = on[F_HRT] = rf->h.t != NULL && control >= 0;
    static const char *const nm[F_N] = {
        "recency_days",      "orders_before",    "monetary_mean",
        "tenure_days",       "orders",           "p_alive",
        "fav_category",      "visits",           "days_since_visit",
        "fav_share",         "browse_repeat",    "visit_rate",
        "browse_focus",      "browse_evidence",  "gross_value",
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
        rf->extra[k] = f == F_NORD || f == F_TEN || f == F_DSV || f == F_SHARE || f == F_CONC;
        if (f == F_EVID) rf->slot = k;
    }
cleanup:
    if (rc) {
        oq_rawfeat_free(rf);
        return rc;
    }
    *out = rf;
    return 0;
}

int oq_rawfeat_set_features(oq_rawfeat *rf, int set)
{
    if (set != OQ_RAWFEAT_FULL && set != OQ_RAWFEAT_COMPACT) return -1;
    rf->set = set;
    return 0;
}

size_t oq_rawfeat_names(const oq_rawfeat *rf, int extra, const char **names)
{
    size_t m = 0;
    for (size_t k = 0; k < rf->nfeat; k++)
        if (rf->extra[k] == extra) names[m++] = rf->names[k];
    return m;
}

const oq_rawfeat_info *oq_rawfeat_info_get(const oq_rawfeat *rf)
{
    return &rf->info;
}

const oq_gross *oq_rawfeat_gross(const oq_rawfeat *rf)
{
    return rf->gm;
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
    free(rf->users);
    oq_orders_free(rf->gord);
    oq_events_free(rf->gev);
    oq_gross_free(rf->gm);
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
        k += 2 * (size_t)rf->info.filter_used; /* gross_rows fills them */
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
    if (rf->gm && (rc = gross_rows(rf, cust, crow, day, n, nf, rf->slot, xe, err))) goto cleanup;
    /* the columns kept, in order; the compact set's rows are moved down in
       place (column m <= k of row i never lies after column k of row i) */
    const char *names[OQ_RAWFEAT_MAX];
    size_t nl[OQ_RAWFEAT_MAX], keep[OQ_RAWFEAT_MAX], m = 0;
    int txt[OQ_RAWFEAT_MAX];
    char *const *lv[OQ_RAWFEAT_MAX];
    for (size_t k = 0; k < nf; k++) {
        if (rf->set == OQ_RAWFEAT_COMPACT && rf->extra[k]) continue;
        keep[m] = k;
        names[m] = rf->names[k];
        txt[m] = rf->is_text[k];
        nl[m] = rf->is_text[k] ? rf->info.ncat : 0;
        lv[m] = rf->is_text[k] ? rf->levels : NULL;
        m++;
    }
    if (m < nf)
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < m; j++)
                xe[i * m + j] = xe[i * nf + keep[j]];
    rc = oq_customers_extend(cust, crow, n, m, names, txt, nl, lv, xe, index_ids, out, err);
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
