/* seq_data.c - the sequence model's samples from a customer log, its events
 * stream and its purchases (seq.h, "samples"): one token per day of the T
 * days before a row's day, each day's browsing category, order value band
 * and earlier contact, plus the row's state features. */
#include "offerq/coupon/seq.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/gross.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct ord_rec {
    size_t c; /* customer position in the index */
    int32_t day;
    double value;
} ord_rec;

struct oq_seq_data {
    const oq_log *log;
    const oq_log_index *ix;
    const oq_events *ev;  /* or NULL */
    oq_events_ix *evx;    /* or NULL */
    uint16_t *tok_of_cat; /* (log->cats.n) browse token of each log category */
    ord_rec *ord;         /* (n_ord) sorted by (customer, day) */
    size_t n_ord;
    size_t *ord_lo; /* (n_customers + 1) */
    double edge[OQ_SEQ_MAX_BANDS];
    int n_bands, T;
};

void oq_seq_data_free(oq_seq_data *d)
{
    if (!d) return;
    oq_events_ix_free(d->evx);
    free(d->tok_of_cat);
    free(d->ord);
    free(d->ord_lo);
    free(d);
}

static int cmp_ord(const void *a, const void *b)
{
    const ord_rec *x = a, *y = b;
    if (x->c != y->c) return x->c < y->c ? -1 : 1;
    return (x->day > y->day) - (x->day < y->day);
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The purchases by customer and day: the orders file's, or the log's order
 * rows with their gross profit as the value. */
static int collect_orders(oq_seq_data *d, const oq_orders *orders, oq_error *err)
{
    const oq_log *log = d->log;
    const oq_log_index *ix = d->ix;
    size_t n = orders ? orders->n : log->n, k = 0;
    d->ord = malloc((n ? n : 1) * sizeof *d->ord);
    d->ord_lo = calloc(ix->n_customers + 1, sizeof *d->ord_lo);
    if (!d->ord || !d->ord_lo) return oq_error_oom(err, NULL, NULL);
    for (size_t i = 0; i < n; i++) {
        long c;
        if (orders) {
            c = oq_log_index_find(ix, orders->user_id[i]);
            if (c < 0) continue;
            d->ord[k++] = (ord_rec){(size_t)c, orders->day[i], orders->value[i]};
        } else if (log->order[i] && log->profit[i] > 0) {
            c = oq_log_index_find(ix, log->user_id[i]);
            if (c < 0) continue;
            d->ord[k++] = (ord_rec){(size_t)c, log->day[i], log->profit[i]};
        }
    }
    d->n_ord = k;
    qsort(d->ord, k, sizeof *d->ord, cmp_ord);
    for (size_t i = 0; i < k; i++)
        d->ord_lo[d->ord[i].c + 1]++;
    for (size_t c = 0; c < ix->n_customers; c++)
        d->ord_lo[c + 1] += d->ord_lo[c];
    return 0;
}

int oq_seq_data_new(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                    const oq_orders *orders, const oq_seq *model, int seq_len, int n_bands,
                    double *edges, oq_seq_data **out, oq_error *err)
{
    *out = NULL;
    if (model) {
        seq_len = model->cfg.seq_len;
        n_bands = model->cfg.n_bands;
    }
    if (seq_len < 1 || seq_len > OQ_SEQ_MAX_SEQ)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "history length %d out of [1, %d]", seq_len,
                            OQ_SEQ_MAX_SEQ);
    if (n_bands < 1 || n_bands > OQ_SEQ_MAX_BANDS)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "order value bands %d out of [1, %d]",
                            n_bands, OQ_SEQ_MAX_BANDS);
    int rc = 0;
    oq_seq_data *d = calloc(1, sizeof *d);
    size_t nc = log->cats.n ? log->cats.n : 1;
    if (!d || !(d->tok_of_cat = malloc(nc * sizeof *d->tok_of_cat))) {
        free(d);
        return oq_error_oom(err, NULL, NULL);
    }
    d->log = log;
    d->ix = ix;
    d->ev = ev;
    d->T = seq_len;
    d->n_bands = n_bands;
    for (uint32_t k = 0; k < log->cats.n; k++)
        d->tok_of_cat[k] = model ? OQ_SEQ_TOK_UNKNOWN : (uint16_t)(OQ_SEQ_TOK_CAT0 + k);
    if (model)
        for (uint32_t k = 0; k < model->n_cats; k++) {
            long id = oq_dict_find(&log->cats, model->cat_names[k]);
            if (id >= 0) d->tok_of_cat[id] = (uint16_t)(OQ_SEQ_TOK_CAT0 + k);
        }
    if (ev) {
        for (size_t k = 0; k < ev->n; k++)
            if (ev->category[k] >= log->cats.n) {
                rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                  "events were not read with the log's category dictionary");
                goto cleanup;
            }
        if ((rc = oq_events_ix_build(ev, ix, &d->evx, err))) goto cleanup;
    }
    if ((rc = collect_orders(d, orders, err))) goto cleanup;
    if (model) {
        memcpy(d->edge, model->band_edge, sizeof d->edge);
    } else {
        /* bands at the quantiles k / n_bands of the order values */
        double *v = malloc((d->n_ord ? d->n_ord : 1) * sizeof *v);
        if (!v) {
            rc = oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
        for (size_t i = 0; i < d->n_ord; i++)
            v[i] = d->ord[i].value;
        qsort(v, d->n_ord, sizeof *v, cmp_dbl);
        for (int k = 0; k + 1 < n_bands; k++)
            d->edge[k] =
                d->n_ord ? v[(size_t)((double)(k + 1) / n_bands * (double)(d->n_ord - 1))] : 0;
        free(v);
        if (edges) memcpy(edges, d->edge, (size_t)(n_bands - 1) * sizeof *edges);
    }
    *out = d;
    d = NULL;
cleanup:
    oq_seq_data_free(d);
    return rc;
}

static uint16_t band_of(const oq_seq_data *d, double v)
{
    int b = 0;
    while (b + 1 < d->n_bands && v >= d->edge[b])
        b++;
    return (uint16_t)(1 + b);
}

void oq_seq_data_tokens(const oq_seq_data *d, size_t c, int32_t day, uint16_t *tok)
{
    int T = d->T;
    int32_t first = day - T;
    memset(tok, 0, (size_t)T * OQ_SEQ_NTOK * sizeof *tok);
    if (c >= d->ix->n_customers) return;
    const oq_log *log = d->log;
    const oq_log_index *ix = d->ix;
    if (d->ev) {
        const oq_events *ev = d->ev;
        for (size_t j = oq_events_ix_seek(ev, d->evx, c, first); j < d->evx->hi[c]; j++) {
            size_t e = oq_events_ix_at(d->evx, j);
            if (ev->day[e] >= day) break;
            tok[(size_t)(ev->day[e] - first) * OQ_SEQ_NTOK] = d->tok_of_cat[ev->category[e]];
        }
    }
    /* orders: binary search for the first on or after `first`; a day's
     * orders are summed */
    size_t lo = d->ord_lo[c], hi = d->ord_lo[c + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (d->ord[mid].day < first)
            lo = mid + 1;
        else
            hi = mid;
    }
    for (size_t j = lo; j < d->ord_lo[c + 1] && d->ord[j].day < day;) {
        int32_t dd = d->ord[j].day;
        double v = 0;
        for (; j < d->ord_lo[c + 1] && d->ord[j].day == dd; j++)
            v += d->ord[j].value;
        tok[(size_t)(dd - first) * OQ_SEQ_NTOK + 1] = band_of(d, v);
    }
    /* earlier contacts: the coupon shown and whether the customer ordered;
     * without events the contact day's category is its browsing */
    for (size_t k = ix->start[c]; k < ix->start[c + 1]; k++) {
        size_t r = ix->row[k];
        if (log->day[r] >= day) break;
        if (log->day[r] < first) continue;
        uint16_t *t = tok + (size_t)(log->day[r] - first) * OQ_SEQ_NTOK;
        t[2] = (uint16_t)(1 + 2 * log->coupon[r] + (log->order[r] ? 1 : 0));
        if (!d->ev) t[0] = d->tok_of_cat[log->category[r]];
    }
}

/* The whole history before day, beyond the window (state features 5-7):
 * log(1 + days since the first event), events per day since then, and the
 * share of consecutive events on the same category, (same + 0.3) /
 * (pairs + 1). Without events: 0, 0, 0.3. */
static void history_features(const oq_seq_data *d, size_t c, int32_t day, float *f)
{
    f[0] = f[1] = 0;
    f[2] = 0.3f;
    if (!d->ev || c >= d->ix->n_customers) return;
    const oq_events *ev = d->ev;
    size_t n = 0, same = 0;
    int32_t first = 0;
    long prev = -1;
    for (size_t j = d->evx->lo[c]; j < d->evx->hi[c]; j++) {
        size_t e = oq_events_ix_at(d->evx, j);
        if (ev->day[e] >= day) break;
        if (!n) first = ev->day[e];
        n++;
        same += prev == (long)ev->category[e];
        prev = ev->category[e];
    }
    if (!n) return;
    double span = (double)(day - first);
    f[0] = (float)log1p(span);
    f[1] = (float)(n / (span > 1 ? span : 1));
    f[2] = (float)((same + 0.3) / (double)n);
}

int oq_seq_data_build(const oq_seq_data *d, const oq_log *rows, const oq_alive *alive,
                      const double *g, oq_seq_samples **out, oq_error *err)
{
    oq_seq_samples *s;
    int rc = oq_seq_samples_new(rows->n, d->T, &s, err);
    if (rc || !s) return rc ? rc : OQ_ENOMEM;
    size_t tt = (size_t)d->T * OQ_SEQ_NTOK;
    long n = (long)rows->n;
#pragma omp parallel for schedule(dynamic, 1024)
    for (long ii = 0; ii < n; ii++) {
        size_t i = (size_t)ii;
        long c = oq_log_index_find(d->ix, rows->user_id[i]);
        oq_seq_data_tokens(d, c < 0 ? d->ix->n_customers : (size_t)c, rows->day[i],
                           s->tok + i * tt);
        float *f = s->state + i * OQ_SEQ_NSTATE;
        f[0] = (float)log1p((double)rows->days_since[i]);
        f[1] = (float)rows->purchases_30d[i];
        f[2] = (float)log1p(rows->aov[i]);
        f[3] = rows->budget[i];
        f[4] = alive ? (float)oq_alive_p(alive, rows->user_id[i], rows->day[i]) : 1.0f;
        history_features(d, c < 0 ? d->ix->n_customers : (size_t)c, rows->day[i], f + 5);
        s->coupon[i] = rows->coupon[i];
        s->order[i] = rows->order[i];
        s->reward[i] = (float)oq_log_reward(rows, i);
        s->g[i] = g ? (float)g[i] : 0.0f;
        s->user_id[i] = rows->user_id[i];
    }
    *out = s;
    return 0;
}
