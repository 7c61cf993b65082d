/* profit_data.c - training and inference samples of the profit model from a
 * customer log and its events stream (see profit.h, "samples").
 *
 * A sample is a customer on a day: the category tokens of the T days before
 * it (day-T .. day-1, oldest first: nothing of the day itself, which is what
 * is being predicted), the 5 state features of the seed's STATE_COLS, the
 * coupon and the reward (README, "Data").
 */
#include "offerq/coupon/profit.h"

#include <stdlib.h>
#include <string.h>

struct oq_profit_data {
    const oq_log *log;
    const oq_log_index *ix;
    const oq_events *ev;  /* or NULL */
    oq_events_ix *evx;    /* customer c's events in day order (data.h), or NULL */
    uint16_t *tok_of_cat; /* (log->cats.n) token of each log category */
    float *feat_of_cat;   /* (log->cats.n) its category_idx feature */
    int T;
};

void oq_profit_data_free(oq_profit_data *d)
{
    if (!d) return;
    oq_events_ix_free(d->evx);
    free(d->tok_of_cat);
    free(d->feat_of_cat);
    free(d);
}

int oq_profit_data_new(const oq_log *log, const oq_log_index *ix, const oq_events *ev,
                       const oq_profit *model, int seq_len, oq_profit_data **out, oq_error *err)
{
    *out = NULL;
    if (model) seq_len = model->cfg.seq_len;
    if (seq_len < 1 || seq_len > OQ_PROFIT_MAX_SEQ)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "history length %d out of [1, %d]", seq_len,
                            OQ_PROFIT_MAX_SEQ);
    if (!model && log->cats.n + OQ_PROFIT_TOK_CAT0 > 65535)
        return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0, "too many categories for 16-bit tokens");
    int rc = 0;
    oq_profit_data *d = calloc(1, sizeof *d);
    size_t nc = log->cats.n ? log->cats.n : 1;
    if (!d || !(d->tok_of_cat = malloc(nc * sizeof *d->tok_of_cat)) ||
        !(d->feat_of_cat = malloc(nc * sizeof *d->feat_of_cat))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    d->log = log;
    d->ix = ix;
    d->ev = ev;
    d->T = seq_len;
    for (uint32_t k = 0; k < log->cats.n; k++) {
        if (!model) {
            d->tok_of_cat[k] = (uint16_t)(OQ_PROFIT_TOK_CAT0 + k);
            d->feat_of_cat[k] = (float)k;
        } else { /* unknown to the model: EMPTY, and a neutral (mean) feature */
            d->tok_of_cat[k] = OQ_PROFIT_TOK_EMPTY;
            d->feat_of_cat[k] = (float)model->feat_mean[OQ_PROFIT_NFEAT - 1];
        }
    }
    if (model)
        for (uint32_t k = 0; k < model->n_cats; k++) {
            long id = oq_dict_find(&log->cats, model->cat_names[k]);
            if (id >= 0) {
                d->tok_of_cat[id] = (uint16_t)(OQ_PROFIT_TOK_CAT0 + k);
                d->feat_of_cat[id] = (float)k;
            }
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
    *out = d;
    d = NULL;
cleanup:
    oq_profit_data_free(d);
    return rc;
}

void oq_profit_data_tokens(const oq_profit_data *d, size_t c, int32_t day, uint16_t *tok)
{
    int T = d->T;
    const oq_log *log = d->log;
    if (d->ev) {
        const oq_events *ev = d->ev;
        for (int t = 0; t < T; t++)
            tok[t] = OQ_PROFIT_TOK_EMPTY;
        int32_t first = day - T;
        for (size_t j = oq_events_ix_seek(ev, d->evx, c, first); j < d->evx->hi[c]; j++) {
            size_t e = oq_events_ix_at(d->evx, j);
            if (ev->day[e] >= day) break;
            tok[ev->day[e] - first] = d->tok_of_cat[ev->category[e]];
        }
        return;
    }
    /* No events: the categories of the customer's earlier log rows. */
    const oq_log_index *ix = d->ix;
    size_t s = ix->start[c], e = s;
    while (e < ix->start[c + 1] && log->day[ix->row[e]] < day)
        e++;
    size_t n = e - s < (size_t)T ? e - s : (size_t)T;
    for (int t = 0; t < T - (int)n; t++)
        tok[t] = OQ_PROFIT_TOK_PAD;
    for (size_t k = 0; k < n; k++)
        tok[T - n + k] = d->tok_of_cat[log->category[ix->row[e - n + k]]];
}

static void row_features(const oq_profit_data *d, size_t r, float *f)
{
    const oq_log *log = d->log;
    f[0] = (float)log->days_since[r];
    f[1] = (float)log->purchases_30d[r];
    f[2] = (float)log->aov[r];
    f[3] = log->budget[r];
    f[4] = d->feat_of_cat[log->category[r]];
}

int oq_profit_data_build(const oq_profit_data *d, oq_profit_samples **out, oq_error *err)
{
    const oq_log *log = d->log;
    const oq_log_index *ix = d->ix;
    oq_profit_samples *s;
    int rc = oq_profit_samples_new(log->n, d->T, &s, err);
    if (rc || !s) return rc ? rc : OQ_ENOMEM;
    for (size_t c = 0; c < ix->n_customers; c++)
        for (size_t k = ix->start[c]; k < ix->start[c + 1]; k++) {
            size_t r = ix->row[k];
            oq_profit_data_tokens(d, c, log->day[r], s->tok + r * d->T);
            row_features(d, r, s->feat + r * OQ_PROFIT_NFEAT);
            s->coupon[r] = log->coupon[r];
            s->target[r] = (float)oq_log_reward(log, r);
            s->user_id[r] = log->user_id[r];
            s->day[r] = log->day[r];
        }
    *out = s;
    return 0;
}

int oq_profit_data_day(const oq_profit_data *d, int32_t day, oq_profit_samples **out, oq_error *err)
{
    const oq_log *log = d->log;
    const oq_log_index *ix = d->ix;
    oq_profit_samples *s;
    int rc = oq_profit_samples_new(ix->n_customers, d->T, &s, err);
    if (rc || !s) return rc ? rc : OQ_ENOMEM;
    for (size_t c = 0; c < ix->n_customers; c++) {
        size_t k = ix->start[c];
        while (k + 1 < ix->start[c + 1] && log->day[ix->row[k + 1]] < day)
            k++;
        size_t r = ix->row[k];
        float *f = s->feat + c * OQ_PROFIT_NFEAT;
        row_features(d, r, f);
        int32_t gap = day - log->day[r];
        if (gap > 0) f[0] = (float)(log->order[r] ? gap : log->days_since[r] + gap);
        oq_profit_data_tokens(d, c, day, s->tok + c * d->T);
        s->coupon[c] = OQ_COUPON_NONE;
        s->user_id[c] = ix->user_id[c];
        s->day[c] = day;
    }
    *out = s;
    return 0;
}

int oq_profit_samples_new(size_t n, int seq_len, oq_profit_samples **out, oq_error *err)
{
    *out = NULL;
    oq_profit_samples *s = calloc(1, sizeof *s);
    size_t m = n ? n : 1;
    if (s) {
        s->n = n;
        s->seq_len = seq_len;
        s->tok = calloc(m * (size_t)seq_len, sizeof *s->tok);
        s->feat = calloc(m * OQ_PROFIT_NFEAT, sizeof *s->feat);
        s->coupon = calloc(m, 1);
        s->target = calloc(m, sizeof *s->target);
        s->user_id = calloc(m, sizeof *s->user_id);
        s->day = calloc(m, sizeof *s->day);
    }
    if (!s || !s->tok || !s->feat || !s->coupon || !s->target || !s->user_id || !s->day) {
        oq_profit_samples_free(s);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory (%zu samples)", n);
    }
    *out = s;
    return 0;
}

void oq_profit_samples_free(oq_profit_samples *s)
{
    if (!s) return;
    free(s->tok);
    free(s->feat);
    free(s->coupon);
    free(s->target);
    free(s->user_id);
    free(s->day);
    free(s);
}
