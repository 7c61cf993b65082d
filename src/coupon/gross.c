/* gross.c - the purchases-file reader and the category-aware model of the
 * gross profit of a customer's next order (gross.h: the formulas, steps
 * 1-7). Shrinkage of the customer level is the normal-normal posterior
 * with known variances (Gelman et al., Bayesian Data Analysis, 3rd ed.,
 * section 2.5); sa2 by the method of moments. */
#include "offerq/coupon/gross.h"
#include "offerq/core/comm.h"
#include "offerq/core/csv.h"
#include "util/num.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- reader -------------------------------------------------------------------- */

enum { O_USER, O_DATE, O_VALUE, NOCOL };
static const oq_csv_col ocols[NOCOL] = {
    {"user_id", 1, NULL}, {"date", 1, NULL}, {"value", 1, NULL}};

typedef struct ord_ctx {
    const char *name;
    oq_orders *o;
    int header_done;
    int map[NOCOL];
    size_t nfields;
    const oq_part *part; /* keep only this part's customers (comm.h); NULL: all */
    oq_day_hist days;    /* with a part: every row's date, for the horizon */
} ord_ctx;

static int ord_header(ord_ctx *c, char **f, size_t n, long line, oq_error *err)
{
    int rc = oq_csv_header_map(c->name, line, f, n, ocols, NOCOL, 0, c->map, err);
    if (rc) return rc;
    c->nfields = n;
    c->header_done = 1;
    return 0;
}

static int ord_bad(const ord_ctx *c, oq_error *err, long line, int k, const char *got,
                   const char *expected)
{
    int field = c->map[k];
    return oq_error_set(err, OQ_EPARSE, c->name, line, field + 1,
                        "column %d (%s): got \"%.40s\", expected %s", field + 1, ocols[k].name, got,
                        expected);
}

static int ord_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    ord_ctx *c = ctx;
    if (!c->header_done) return ord_header(c, f, n, line, err);
    if (n < c->nfields)
        return oq_error_set(err, OQ_EPARSE, c->name, line, (long)n,
                            "missing columns: %zu fields, expected %zu", n, c->nfields);
    if (n > c->nfields)
        return oq_error_set(err, OQ_EPARSE, c->name, line, (long)c->nfields + 1,
                            "extra columns: %zu fields, expected %zu", n, c->nfields);
    oq_orders *o = c->o;
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4096;
        int64_t *u = realloc(o->user_id, cap * sizeof *u);
        if (u) o->user_id = u;
        int32_t *d = realloc(o->day, cap * sizeof *d);
        if (d) o->day = d;
        double *v = realloc(o->value, cap * sizeof *v);
        if (v) o->value = v;
        if (!u || !d || !v) return oq_error_oom(err, c->name, NULL);
        o->cap = cap;
    }
    const int *m = c->map;
    int64_t id;
    int32_t day;
    double v;
    if (oq_parse_i64(f[m[O_USER]], lens[m[O_USER]], &id))
        return ord_bad(c, err, line, O_USER, f[m[O_USER]], "an integer customer id");
    if (oq_date_parse(f[m[O_DATE]], lens[m[O_DATE]], &day))
        return ord_bad(c, err, line, O_DATE, f[m[O_DATE]], "a date YYYY-MM-DD");
    if (oq_parse_f64(f[m[O_VALUE]], lens[m[O_VALUE]], &v) || !isfinite(v) || !(v > 0))
        return ord_bad(c, err, line, O_VALUE, f[m[O_VALUE]], "a finite number > 0");
    if (c->part && c->part->size > 1) {
        int rc = oq_day_hist_add(&c->days, day);
        if (rc)
            return rc == OQ_ENOMEM ? oq_error_oom(err, c->name, NULL)
                                   : oq_error_set(err, rc, c->name, 0, 0, "a date out of range");
        if (!oq_part_keeps(c->part, id)) return 0;
    }
    o->user_id[o->n] = id;
    o->day[o->n] = day;
    o->value[o->n] = v;
    o->n++;
    return 0;
}

static int ord_run(const char *name, const char *path, const char *data, size_t len,
                   const oq_part *part, oq_orders **out, oq_error *err)
{
    *out = NULL;
    ord_ctx c = {.name = name, .part = part};
    int split = part && part->size > 1;
    if (!(c.o = calloc(1, sizeof *c.o))) return oq_error_oom(err, name, NULL);
    int rc = path ? oq_csv_read(path, NULL, ord_row, &c, err)
                  : oq_csv_read_mem(name, data, len, NULL, ord_row, &c, err);
    if (!rc && !c.header_done)
        rc = oq_error_set(err, OQ_EPARSE, name, 1, 1, "empty file: expected the header %s",
                          OQ_ORDERS_HEADER);
    if (!rc) /* BG/NBD's calibration end defaults to the last order (data.h) */
        rc = split ? oq_day_hist_check(&c.days, name, c.map[O_DATE] + 1, err)
                   : oq_date_horizon_check(c.o->day, c.o->n, NULL, name, data, len,
                                           c.map[O_DATE] + 1, err);
    oq_day_hist_free(&c.days);
    if (rc) {
        oq_orders_free(c.o);
        return rc;
    }
    *out = c.o;
    return 0;
}

int oq_orders_read(const char *path, oq_orders **out, oq_error *err)
{
    return ord_run(path, path, NULL, 0, NULL, out, err);
}

int oq_orders_read_part(const char *path, const oq_part *part, oq_orders **out, oq_error *err)
{
    return ord_run(path, path, NULL, 0, part, out, err);
}

int oq_orders_read_mem(const char *name, const char *data, size_t len, oq_orders **out,
                       oq_error *err)
{
    return ord_run(name, NULL, data, len, NULL, out, err);
}

void oq_orders_free(oq_orders *o)
{
    if (!o) return;
    free(o->user_id);
    free(o->day);
    free(o->value);
    free(o);
}

/* ---- orders grouped by customer ---------------------------------------------------
 * The orders the model uses (from the orders file, or the log's order rows
 * in step 7), customer c's at [lo[c], lo[c+1]) sorted by (day, file order). */

typedef struct otab {
    size_t n, nc;
    size_t *lo;   /* (nc + 1) */
    int32_t *day; /* (n) */
    double *v;    /* (n) value (profit in step 7) */
    double *lv;   /* (n) log value */
    int32_t *cat; /* (n) category id, -1 unknown */
} otab;

static void otab_free(otab *t)
{
    free(t->lo);
    free(t->day);
    free(t->v);
    free(t->lv);
    free(t->cat);
    memset(t, 0, sizeof *t);
}

static int otab_alloc(otab *t, size_t n, size_t nc)
{
    t->n = n;
    t->nc = nc;
    t->lo = calloc(nc + 1, sizeof *t->lo);
    t->day = malloc((n ? n : 1) * sizeof *t->day);
    t->v = malloc((n ? n : 1) * sizeof *t->v);
    t->lv = malloc((n ? n : 1) * sizeof *t->lv);
    t->cat = malloc((n ? n : 1) * sizeof *t->cat);
    return t->lo && t->day && t->v && t->lv && t->cat ? 0 : OQ_ENOMEM;
}

typedef struct okey {
    size_t c;
    int32_t day;
    size_t i;
} okey;

static int cmp_okey(const void *a, const void *b)
{
    const okey *x = a, *y = b;
    if (x->c != y->c) return x->c < y->c ? -1 : 1;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i;
}

/* Step 1: category of customer c's event on day (the last row that day), or -1. */
static int32_t event_cat(const oq_events *ev, const oq_events_ix *evx, size_t c, int32_t day)
{
    if (!evx) return -1;
    int32_t k = -1;
    for (size_t j = oq_events_ix_seek(ev, evx, c, day);
         j < evx->hi[c] && ev->day[oq_events_ix_at(evx, j)] == day; j++)
        k = ev->category[oq_events_ix_at(evx, j)];
    return k;
}

static int otab_from_orders(otab *t, const oq_orders *o, const oq_log_index *ix,
                            const oq_events *ev, const oq_events_ix *evx)
{
    okey *k = malloc((o->n ? o->n : 1) * sizeof *k);
    if (!k) return OQ_ENOMEM;
    size_t n = 0;
    for (size_t i = 0; i < o->n; i++) {
        long c = oq_log_index_find(ix, o->user_id[i]);
        if (c >= 0) k[n++] = (okey){(size_t)c, o->day[i], i};
    }
    qsort(k, n, sizeof *k, cmp_okey);
    if (otab_alloc(t, n, ix->n_customers)) {
        free(k);
        return OQ_ENOMEM;
    }
    for (size_t j = 0; j < n; j++) {
        t->lo[k[j].c + 1]++;
        t->day[j] = k[j].day;
        t->v[j] = o->value[k[j].i];
        t->lv[j] = log(t->v[j]);
        t->cat[j] = event_cat(ev, evx, k[j].c, k[j].day);
    }
    for (size_t c = 0; c < ix->n_customers; c++)
        t->lo[c + 1] += t->lo[c];
    free(k);
    return 0;
}

/* Step 7: the log's order rows with a profit > 0 (ix rows are in day order). */
static int otab_from_log(otab *t, const oq_log *lg, const oq_log_index *ix)
{
    size_t n = 0;
    for (size_t i = 0; i < lg->n; i++)
        n += lg->order[i] && lg->profit[i] > 0;
    if (otab_alloc(t, n, ix->n_customers)) return OQ_ENOMEM;
    size_t j = 0;
    for (size_t c = 0; c < ix->n_customers; c++) {
        for (size_t q = ix->start[c]; q < ix->start[c + 1]; q++) {
            size_t r = ix->row[q];
            if (!(lg->order[r] && lg->profit[r] > 0)) continue;
            t->day[j] = lg->day[r];
            t->v[j] = lg->profit[r];
            t->lv[j] = log(lg->profit[r]);
            t->cat[j] = lg->category[r];
            j++;
        }
        t->lo[c + 1] = j;
    }
    return 0;
}

static int otab_build(otab *t, const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                      const oq_events_ix *evx, const oq_orders *orders, oq_error *err)
{
    memset(t, 0, sizeof *t);
    int rc = orders ? otab_from_orders(t, orders, ix, ev, evx) : otab_from_log(t, log, ix);
    if (rc) {
        otab_free(t);
        oq_error_oom(err, NULL, NULL);
        return OQ_ENOMEM; /* explicit: the analyzer cannot see oq_error_set's result */
    }
    return 0;
}

/* ---- fit ------------------------------------------------------------------------- */

void oq_gross_opts_default(oq_gross_opts *o)
{
    o->sweeps = 20;
    o->margin_min_rows = 5;
    o->mix = OQ_GROSS_MIX_FILTER;
}

void oq_gross_free(oq_gross *m)
{
    if (!m) return;
    free(m->b); /* b, margin, pop and f are one allocation */
    free(m);
}

static int check_inputs(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                        const oq_events_ix *evx, oq_error *err)
{
    if (!log || !ix) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no log or no log index");
    if (ix->start[ix->n_customers] != log->n)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "log index of another log");
    if (!ev != !evx)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "events given without their index");
    if (evx && evx->n_customers != ix->n_customers)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "events index of another log");
    for (size_t i = 0; ev && i < ev->n; i++)
        if (ev->category[i] >= log->cats.n)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "event %zu: category id %u outside the log's %u categories "
                                "(read the events with the log's dictionary)",
                                i, (unsigned)ev->category[i], (unsigned)log->cats.n);
    return 0;
}

/* Step 2: alternating least squares for b (K) over the known-category
 * orders; a (nc) is scratch. cnt (K) = known orders per category. */
static int fit_effects(const otab *t, int sweeps, const double *cnt, double *a, double *b,
                       double *sum, size_t K, oq_comm *comm, oq_error *err)
{
    long nc = (long)t->nc;
    for (int s = 0; s < sweeps; s++) {
#pragma omp parallel for schedule(static)
        for (long c = 0; c < nc; c++) {
            double acc = 0;
            size_t m = 0;
            for (size_t j = t->lo[c]; j < t->lo[c + 1]; j++)
                if (t->cat[j] >= 0) {
                    acc += t->lv[j] - b[t->cat[j]];
                    m++;
                }
            a[c] = m ? acc / (double)m : 0;
        }
        memset(sum, 0, K * sizeof *sum);
        for (size_t c = 0; c < t->nc; c++)
            for (size_t j = t->lo[c]; j < t->lo[c + 1]; j++)
                if (t->cat[j] >= 0) sum[t->cat[j]] += t->lv[j] - a[c];
        int rc = oq_comm_sum(comm, sum, K, err); /* every part's orders of each category */
        if (rc) return rc;
        double mean = 0, used = 0;
        for (size_t k = 0; k < K; k++)
            if (cnt[k] > 0) {
                b[k] = sum[k] / cnt[k];
                mean += b[k];
                used++;
            }
        if (used > 0) mean /= used;
        for (size_t k = 0; k < K; k++)
            if (cnt[k] > 0) b[k] -= mean;
    }
    return 0;
}

/* Step 3: levels over all orders, se2, m0, sa2. */
static int fit_levels(const otab *t, const double *b, size_t n_cats_used, oq_gross *m, double *a,
                      oq_comm *comm, oq_error *err)
{
    double sse = 0, sum_a = 0, sum_a2 = 0, sum_ratio_n = 0;
    size_t U = 0;
    int rc;
    for (size_t c = 0; c < t->nc; c++) {
        size_t n = t->lo[c + 1] - t->lo[c];
        if (!n) continue;
        double acc = 0;
        for (size_t j = t->lo[c]; j < t->lo[c + 1]; j++)
            acc += t->lv[j] - (t->cat[j] >= 0 ? b[t->cat[j]] : 0);
        a[c] = acc / (double)n;
        for (size_t j = t->lo[c]; j < t->lo[c + 1]; j++) {
            double e = t->lv[j] - a[c] - (t->cat[j] >= 0 ? b[t->cat[j]] : 0);
            sse += e * e;
        }
        sum_a += a[c];
        sum_ratio_n += 1.0 / (double)n;
        U++;
    }
    /* the parts' sums (one part: as they are) */
    double sums[3] = {sse, sum_a, sum_ratio_n};
    uint64_t counts[2] = {U, t->n};
    if ((rc = oq_comm_sum(comm, sums, 3, err)) || (rc = oq_comm_sum_u64(comm, counts, 2, err)))
        return rc;
    sse = sums[0], sum_a = sums[1], sum_ratio_n = sums[2];
    U = (size_t)counts[0];
    double dof = (double)counts[1] - (double)U - (double)n_cats_used;
    m->se2 = sse / (dof > 1 ? dof : 1);
    m->m0 = sum_a / (double)U;
    for (size_t c = 0; c < t->nc; c++)
        if (t->lo[c + 1] > t->lo[c]) sum_a2 += (a[c] - m->m0) * (a[c] - m->m0);
    if ((rc = oq_comm_sum(comm, &sum_a2, 1, err))) return rc;
    double var = sum_a2 / (double)U, noise = m->se2 * sum_ratio_n / (double)U;
    m->sa2 = var - noise > 1e-3 ? var - noise : 1e-3;
    m->n_customers = U;
    return 0;
}

/* Step 4: margins from the log's order rows matched to the orders file. */
static int fit_margins(const otab *t, const oq_log *log, const oq_log_index *ix,
                       const oq_gross_opts *o, oq_gross *m, oq_comm *comm, oq_error *err)
{
    size_t K = m->n_cats;
    /* one buffer, so that the parts add it in one collective: profit and
     * value sums (K each), matched rows (K), then the pooled sums and count */
    double *buf = calloc(3 * K + 3, sizeof *buf);
    if (!buf) return oq_error_oom(err, NULL, NULL);
    double *sp = buf, *sv = buf + K, *rows = buf + 2 * K;
    double all_p = 0, all_v = 0;
    size_t matched = 0;
    for (size_t c = 0; c < ix->n_customers; c++)
        for (size_t q = ix->start[c]; q < ix->start[c + 1]; q++) {
            size_t r = ix->row[q];
            if (!log->order[r]) continue;
            double v = 0;
            int found = 0;
            for (size_t j = t->lo[c]; j < t->lo[c + 1] && t->day[j] <= log->day[r]; j++)
                if (t->day[j] == log->day[r]) {
                    v += t->v[j];
                    found = 1;
                }
            if (!found) continue;
            uint16_t k = log->category[r];
            sp[k] += log->profit[r];
            sv[k] += v;
            rows[k]++;
            all_p += log->profit[r];
            all_v += v;
            matched++;
        }
    buf[3 * K] = all_p;
    buf[3 * K + 1] = all_v;
    buf[3 * K + 2] = (double)matched;
    int rc = oq_comm_sum(comm, buf, 3 * K + 3, err);
    if (rc) {
        free(buf);
        return rc;
    }
    all_p = buf[3 * K];
    all_v = buf[3 * K + 1];
    matched = (size_t)buf[3 * K + 2];
    m->n_margin_rows = matched;
    if (!matched) {
        free(buf);
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "no order row of the log has an order of the same customer and day "
                            "in the orders file, so no margin can be estimated (is it the "
                            "log's orders file? without one the model is fitted on the log)");
    }
    m->pooled_margin = all_p / all_v;
    for (size_t k = 0; k < K; k++)
        m->margin[k] =
            rows[k] >= (double)o->margin_min_rows && sv[k] > 0 ? sp[k] / sv[k] : m->pooled_margin;
    free(buf);
    return 0;
}

/* Step 5: the favourite-category filter. The posterior over the favourite,
 * pi_k = u + w_k, is kept sparse: u is common to every category, w_k > 0 is
 * held for at most OQ_GROSS_FAV_CAP categories the customer browsed (when
 * the list is full the smallest w_k is spread over all K categories, which
 * keeps sum_k pi_k = 1). The w_k share one scale, w_k = sc v_k, so that a
 * day's move and an event's update rescale them in O(1). */
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

static void favp_init(favp *p, size_t K, double drift, double conc)
{
    p->inv_k = 1.0 / (double)K;
    p->conc = conc;
    p->bg = (1 - conc) / (double)K;
    p->cbg = conc / p->bg;
    p->log_stay = drift > 0 ? log1p(-drift) : 0;
    for (int d = 0; d < FAV_NKEEP; d++)
        p->keep[d] = exp(p->log_stay * (double)d);
}

static void fav_init(fav *s, const favp *p)
{
    s->u = p->inv_k;
    s->sc = 1;
    s->n = 0;
    s->last = INT32_MIN;
}

/* The favourite's days from s->last to day: redrawn uniformly each day with
 * probability drift, so pi <- keep pi + (1 - keep) / K, keep = (1 - drift)^days. */
static void fav_move(fav *s, int32_t day, const favp *p)
{
    if (s->last == INT32_MIN || day <= s->last) return;
    int64_t gap = (int64_t)day - s->last;
    double keep = gap < FAV_NKEEP ? p->keep[gap] : exp(p->log_stay * (double)gap);
    s->u = keep * s->u + (1 - keep) * p->inv_k;
    s->sc *= keep;
    s->last = day;
}

static int fav_find(const fav *s, int32_t e)
{
    for (int i = 0; i < s->n; i++)
        if (s->k[i] == e) return i;
    return -1;
}

/* Bayes update on an event on category e: P(e | favourite k) =
 * conc [e = k] + (1 - conc) / K. */
static void fav_observe(fav *s, int32_t day, int32_t e, const favp *p)
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

static double fav_pi(const fav *s, int32_t k)
{
    int i = fav_find(s, k);
    return i < 0 ? s->u : s->u + s->sc * s->v[i];
}

/* sum_k pi_k f_k */
static double fav_mean_f(const fav *s, const double *f, double sum_f)
{
    double r = 0;
    for (int i = 0; i < s->n; i++)
        r += s->v[i] * f[s->k[i]];
    return s->u * sum_f + s->sc * r;
}

static const double fav_drifts[OQ_GROSS_NDRIFT] = OQ_GROSS_DRIFTS;
static const double fav_concs[OQ_GROSS_NCONC] = OQ_GROSS_CONCS;

/* Whether customer c (user id u) is in the fit's sample: all when stride
 * is 1, else those whose id hashes to 0 mod stride. */
static int fav_sampled(int64_t u, uint64_t stride)
{
    return stride <= 1 || (((uint64_t)u * 0x9E3779B97F4A7C15ULL) >> 32) % stride == 0;
}

/* One (drift, conc): pi of the order's category just before each
 * known-category order's day of the sampled customers (rec (n); -1 for the
 * others). */
static void fav_record(const otab *t, const oq_log_index *ix, const oq_events *ev,
                       const oq_events_ix *evx, size_t K, uint64_t stride, double drift,
                       double conc, double *rec)
{
    long nc = (long)t->nc;
    favp p;
    favp_init(&p, K, drift, conc);
#pragma omp parallel for schedule(dynamic, 256)
    for (long c = 0; c < nc; c++) {
        fav s;
        fav_init(&s, &p);
        size_t e = evx->lo[c];
        int in = fav_sampled(ix->user_id[c], stride);
        for (size_t j = t->lo[c]; j < t->lo[c + 1]; j++) {
            rec[j] = -1;
            if (t->cat[j] < 0 || !in) continue;
            for (; e < evx->hi[c] && ev->day[oq_events_ix_at(evx, e)] < t->day[j]; e++) {
                size_t x = oq_events_ix_at(evx, e);
                fav_observe(&s, ev->day[x], (int32_t)ev->category[x], &p);
            }
            fav_move(&s, t->day[j], &p);
            rec[j] = fav_pi(&s, t->cat[j]);
        }
    }
}

static int fit_category(const otab *t, const oq_log_index *ix, const oq_events *ev,
                        const oq_events_ix *evx, size_t K, oq_gross *m, oq_comm *comm,
                        oq_error *err)
{
    double *rec = malloc((t->n ? t->n : 1) * sizeof *rec);
    if (!rec) return oq_error_oom(err, NULL, NULL);
    double best = -INFINITY;
    int rc = 0;
    if (!evx) { /* no browsing: the population's shares (alpha 0) */
        m->loglik = 0;
        for (size_t j = 0; j < t->n; j++)
            if (t->cat[j] >= 0) m->loglik += log(m->pop[t->cat[j]]);
        free(rec);
        return oq_comm_sum(comm, &m->loglik, 1, err);
    }
    uint64_t stride = (m->n_known + OQ_GROSS_FIT_ORDERS - 1) / OQ_GROSS_FIT_ORDERS;
    m->fit_stride = stride ? (size_t)stride : 1;
    /* the alpha sums in fixed chunks of orders, added in chunk order: the
       same result whatever the number of threads */
    enum { CH = 4096 };
    size_t nch = (t->n + CH - 1) / CH;
    double *part = malloc((nch ? nch : 1) * OQ_GROSS_NALPHA * sizeof *part);
    if (!part) {
        free(rec);
        return oq_error_oom(err, NULL, NULL);
    }
    for (int di = 0; di < OQ_GROSS_NDRIFT; di++)
        for (int ci = 0; ci < OQ_GROSS_NCONC; ci++) {
            fav_record(t, ix, ev, evx, K, stride, fav_drifts[di], fav_concs[ci], rec);
            long nchl = (long)nch;
#pragma omp parallel for schedule(static)
            for (long b = 0; b < nchl; b++) {
                double *pp = part + (size_t)b * OQ_GROSS_NALPHA;
                for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++)
                    pp[ai] = 0;
                size_t j1 = ((size_t)b + 1) * CH < t->n ? ((size_t)b + 1) * CH : t->n;
                for (size_t j = (size_t)b * CH; j < j1; j++) {
                    if (rec[j] < 0) continue;
                    double pk = m->pop[t->cat[j]];
                    for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++) {
                        double al = (ai + 1) / 10.0;
                        pp[ai] += log(al * rec[j] + (1 - al) * pk);
                    }
                }
            }
            /* this part's sums (its chunks in order), then the parts' in rank order */
            double lla[OQ_GROSS_NALPHA];
            for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++) {
                lla[ai] = 0;
                for (size_t b = 0; b < nch; b++)
                    lla[ai] += part[b * OQ_GROSS_NALPHA + (size_t)ai];
            }
            if ((rc = oq_comm_sum(comm, lla, OQ_GROSS_NALPHA, err))) goto done;
            for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++) {
                double al = (ai + 1) / 10.0, ll = lla[ai];
                m->loglik_grid[di][ci][ai] = ll;
                if (ll > best) {
                    best = ll;
                    m->drift = fav_drifts[di];
                    m->conc = fav_concs[ci];
                    m->alpha = al;
                }
            }
        }
    m->loglik = best;
done:
    free(part);
    free(rec);
    return rc;
}

int oq_gross_fit(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                 const oq_events_ix *evx, const oq_orders *orders, const oq_gross_opts *opts,
                 oq_gross **out, oq_error *err)
{
    return oq_gross_fit_part(log, ix, ev, evx, orders, opts, NULL, out, err);
}

int oq_gross_fit_part(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                      const oq_events_ix *evx, const oq_orders *orders, const oq_gross_opts *opts,
                      oq_comm *comm, oq_gross **out, oq_error *err)
{
    *out = NULL;
    oq_gross_opts dflt;
    if (!opts) {
        oq_gross_opts_default(&dflt);
        opts = &dflt;
    }
    int rc = check_inputs(log, ix, ev, evx, err);
    if (rc) return rc;
    if (opts->sweeps < 1)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "sweeps must be >= 1 (got %d)",
                            opts->sweeps);
    if (opts->mix != OQ_GROSS_MIX_FILTER && opts->mix != OQ_GROSS_MIX_ORDERS)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "unknown category mix %d", opts->mix);
    otab t;
    oq_gross *m = NULL;
    double *a = NULL, *scratch = NULL;
    if ((rc = otab_build(&t, log, ix, ev, evx, orders, err))) return rc;
    size_t K = log->cats.n;
    m = calloc(1, sizeof *m);
    if (m) m->b = calloc(4 * (K ? K : 1), sizeof *m->b);
    a = calloc(ix->n_customers ? ix->n_customers : 1, sizeof *a);
    scratch = calloc(2 * (K ? K : 1), sizeof *scratch);
    if (!m || !m->b || !a || !scratch) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    m->margin = m->b + K;
    m->pop = m->b + 2 * K;
    m->f = m->b + 3 * K;
    m->n_cats = K;
    m->from_orders = orders != NULL;
    uint64_t n_all = t.n; /* every part's orders */
    if ((rc = oq_comm_sum_u64(comm, &n_all, 1, err))) goto cleanup;
    m->n_orders = (size_t)n_all;
    if (n_all == 0) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                          orders ? "no order of a customer in the log: nothing to fit"
                                 : "no order row with a profit > 0 in the log: nothing to fit");
        goto cleanup;
    }
    /* pop_k and the counts of step 2 (cnt = scratch[0..K)) */
    double *cnt = scratch;
    for (size_t j = 0; j < t.n; j++)
        if (t.cat[j] >= 0) {
            cnt[t.cat[j]]++;
            m->n_known++;
        }
    uint64_t n_known = m->n_known;
    if ((rc = oq_comm_sum(comm, cnt, K, err)) || (rc = oq_comm_sum_u64(comm, &n_known, 1, err)))
        goto cleanup;
    m->n_known = (size_t)n_known;
    for (size_t k = 0; k < K; k++) {
        m->n_cats_used += cnt[k] > 0;
        m->pop[k] = m->n_known ? cnt[k] / (double)m->n_known : 0;
    }
    double *sum = malloc((K ? K : 1) * sizeof *sum);
    if (!sum) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if (m->n_known) rc = fit_effects(&t, opts->sweeps, cnt, a, m->b, sum, K, comm, err);
    free(sum);
    if (rc || (rc = fit_levels(&t, m->b, m->n_cats_used, m, a, comm, err))) goto cleanup;
    if (orders) {
        if ((rc = fit_margins(&t, log, ix, opts, m, comm, err))) goto cleanup;
    } else {
        m->pooled_margin = 1;
        for (size_t k = 0; k < K; k++)
            m->margin[k] = 1;
    }
    for (size_t k = 0; k < K; k++) {
        m->f[k] = exp(m->b[k]) * m->margin[k];
        m->sum_f += m->f[k];
    }
    m->mix = opts->mix;
    if (m->n_known) {
        if (m->mix != OQ_GROSS_MIX_ORDERS && (rc = fit_category(&t, ix, ev, evx, K, m, comm, err)))
            goto cleanup;
        m->pop_f = 0;
        for (size_t k = 0; k < K; k++)
            if (m->pop[k] > 0) m->pop_f += m->pop[k] * m->f[k];
    } else {
        m->pop_f = m->pooled_margin;
    }
    int finite = isfinite(m->m0) && isfinite(m->sa2) && isfinite(m->se2) && isfinite(m->pop_f);
    for (size_t k = 0; k < K; k++)
        finite = finite && isfinite(m->b[k]) && isfinite(m->margin[k]);
    if (!finite) {
        rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0,
                          "non-finite gross-profit model (m0 %g, sa2 %g, se2 %g, pop_f %g)", m->m0,
                          m->sa2, m->se2, m->pop_f);
        goto cleanup;
    }
    *out = m;
    m = NULL;
cleanup:
    oq_gross_free(m);
    free(a);
    free(scratch);
    otab_free(&t);
    return rc;
}

/* ---- predict ---------------------------------------------------------------------- */

/* Step 6: g from the level posterior (n orders, sum_dev = n abar) and the
 * favourite filter s already moved to the day; with OQ_GROSS_MIX_ORDERS the
 * mix of the customer's nk earlier known-category orders (sf = their sum of
 * f_k) instead. */
static double g_of(const oq_gross *m, const fav *s, size_t n, double sum_dev, size_t nk, double sf)
{
    double mu, pv;
    if (n) {
        double P = 1 / m->sa2 + (double)n / m->se2;
        mu = (m->m0 / m->sa2 + sum_dev / m->se2) / P; /* n abar = sum_dev */
        pv = 1 / P;
    } else {
        mu = m->m0;
        pv = m->sa2;
    }
    double S = m->pop_f;
    if (m->mix == OQ_GROSS_MIX_ORDERS)
        S = (sf + m->pop_f) / ((double)nk + 1);
    else if (s && m->alpha > 0)
        S = m->alpha * fav_mean_f(s, m->f, m->sum_f) + (1 - m->alpha) * m->pop_f;
    return exp(mu + pv / 2 + m->se2 / 2) * S;
}

static void predict_customer(const oq_gross *m, const favp *p, const otab *t, const oq_log *log,
                             const oq_log_index *ix, const oq_events *ev, const oq_events_ix *evx,
                             size_t c, int32_t tomorrow, double *g_row, double *g_tom)
{
    size_t j = t->lo[c], n = 0, nk = 0;
    double sum_dev = 0, sf = 0;
    size_t s = ix->start[c], e = ix->start[c + 1];
    fav fs;
    fav_init(&fs, p);
    size_t x = evx ? evx->lo[c] : 0;
    for (size_t q = s; q <= e; q++) {
        if (q == e && !g_tom) break;
        int32_t day = q < e ? log->day[ix->row[q]] : tomorrow;
        for (; j < t->lo[c + 1] && t->day[j] < day; j++, n++) {
            sum_dev += t->lv[j] - (t->cat[j] >= 0 ? m->b[t->cat[j]] : 0);
            if (t->cat[j] >= 0) {
                sf += m->f[t->cat[j]];
                nk++;
            }
        }
        if (evx && m->mix != OQ_GROSS_MIX_ORDERS) {
            for (; x < evx->hi[c] && ev->day[oq_events_ix_at(evx, x)] < day; x++) {
                size_t y = oq_events_ix_at(evx, x);
                fav_observe(&fs, ev->day[y], (int32_t)ev->category[y], p);
            }
            fav_move(&fs, day, p);
        }
        double g = g_of(m, evx ? &fs : NULL, n, sum_dev, nk, sf);
        if (q < e)
            g_row[ix->row[q]] = g;
        else
            g_tom[c] = g;
    }
}

int oq_gross_predict(const oq_gross *m, const oq_log *log, const oq_log_index *ix,
                     const oq_events *ev, const oq_events_ix *evx, const oq_orders *orders,
                     int32_t tomorrow, double *g_row, double *g_tom, oq_error *err)
{
    if (!m || !g_row) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no model or no output");
    int rc = check_inputs(log, ix, ev, evx, err);
    if (rc) return rc;
    if ((orders != NULL) != (m->from_orders != 0))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            m->from_orders ? "the model was fitted on an orders file: pass it"
                                           : "the model was fitted without an orders file: "
                                             "pass none");
    if (log->cats.n > m->n_cats)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the log has %u categories, the model %zu: another log",
                            (unsigned)log->cats.n, m->n_cats);
    otab t;
    if ((rc = otab_build(&t, log, ix, ev, evx, orders, err))) return rc;
    long nc = (long)ix->n_customers;
    favp p; /* once: its table of (1 - drift)^d is 64 exp() */
    favp_init(&p, m->n_cats, m->drift, m->conc);
#pragma omp parallel for schedule(dynamic, 256)
    for (long c = 0; c < nc; c++)
        predict_customer(m, &p, &t, log, ix, ev, evx, (size_t)c, tomorrow, g_row, g_tom);
    otab_free(&t);
    return 0;
}

/* ---- browse concentration evidence (gross.h) ----------------------------------- */

/* log P(e | history) under the filter s (already moved to e's day), then the
 * update: the predictive probability of an event is (1 - conc)/K + conc pi_e. */
static double fav_observe_ll(fav *s, int32_t day, int32_t e, const favp *p)
{
    if (s->last != INT32_MIN) fav_move(s, day, p);
    double pe = fav_pi(s, e);
    fav_observe(s, day, e, p);
    return log(p->bg + p->conc * pe);
}

int oq_gross_evidence(const oq_gross *m, const oq_log *log, const oq_log_index *ix,
                      const oq_events *ev, const oq_events_ix *evx, int32_t tomorrow, float *x_row,
                      float *x_tom, size_t stride, oq_error *err)
{
    if (!m || !x_row || stride < 1)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no model, no output or stride 0");
    int rc = check_inputs(log, ix, ev, evx, err);
    if (rc) return rc;
    if (log->cats.n > m->n_cats)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the log has %u categories, the model %zu: another log",
                            (unsigned)log->cats.n, m->n_cats);
    long nc = (long)ix->n_customers;
    /* without events or a fitted drift there is no evidence: 0 */
    const int use = evx && m->drift > 0;
    favp ph, pl;
    favp_init(&ph, m->n_cats, m->drift, OQ_GROSS_EVIDENCE_HI);
    favp_init(&pl, m->n_cats, m->drift, OQ_GROSS_EVIDENCE_LO);
#pragma omp parallel for schedule(dynamic, 256)
    for (long c = 0; c < nc; c++) {
        fav hi, lo;
        fav_init(&hi, &ph);
        fav_init(&lo, &pl);
        double llr = 0;
        size_t x = evx ? evx->lo[c] : 0, s = ix->start[c], e = ix->start[c + 1];
        for (size_t q = s; q <= e; q++) {
            if (q == e && !x_tom) break;
            int32_t day = q < e ? log->day[ix->row[q]] : tomorrow;
            for (; use && x < evx->hi[c] && ev->day[oq_events_ix_at(evx, x)] < day; x++) {
                size_t y = oq_events_ix_at(evx, x);
                int32_t k = (int32_t)ev->category[y];
                llr += fav_observe_ll(&hi, ev->day[y], k, &ph) -
                       fav_observe_ll(&lo, ev->day[y], k, &pl);
            }
            if (q < e)
                x_row[ix->row[q] * stride] = (float)llr;
            else
                x_tom[(size_t)c * stride] = (float)llr;
        }
    }
    return 0;
}
