/* models.c - BG/NBD P(alive) x r^ scorer for the nightly job (models.h). */
#include "offerq/coupon/models.h"
#include "offerq/core/io.h"
#include "offerq/coupon/gross.h"
#include "offerq/coupon/pmodel.h"
#include "offerq/coupon/profit.h"

#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct oq_models {
    oq_bgnbd_fit_report fit;
    char source[4200];
    size_t nu;     /* customers with purchases */
    int64_t *user; /* (nu) ascending */
    size_t *start; /* (nu + 1) into day */
    int32_t *day;  /* distinct purchase days, ascending per customer */
    oq_scorer rhat;
    char name[256];
    /* profit-model r^, precomputed for the log's rows and tomorrow's customers */
    const oq_log *log;
    double *rhat_log; /* (log->n, 4) */
    double *rhat_tom; /* (n_tom, 4) */
    size_t n_tom;
    int32_t tomorrow;
    oq_models_profit_report prep;
    int has_resp;
    oq_resp resp;
    double *p_order_tom;  /* (n_tom, 4) response model's P(order), or NULL */
    oq_resp_feat *resp_x; /* (log->n, F) its features of the log's rows, or NULL */
    double *gross_log;    /* (log->n) response model's g of each row, or NULL */
    int orders_file;      /* source is a purchases file (else the log's order rows) */
    oq_gross_info ginfo;
    oq_pmodel_info pinfo;
};

const char *oq_reward_name(int reward)
{
    switch (reward) {
    case OQ_REWARD_TRANSFORMER:
        return "transformer";
    case OQ_REWARD_RESPONSE:
        return "response";
    default:
        return "empirical";
    }
}

int oq_reward_parse(const char *name)
{
    for (int r = 0; r < 3; r++)
        if (!strcmp(name, oq_reward_name(r))) return r;
    return -1;
}

static int fit_profit(oq_models *m, const oq_log *log, const oq_models_opts *o, oq_error *err);
static int fit_response(oq_models *m, const oq_log *log, const oq_models_opts *o, oq_error *err);

typedef struct ud {
    int64_t u;
    int32_t d;
} ud;

static int cmp_ud(const void *a, const void *b)
{
    const ud *x = a, *y = b;
    if (x->u != y->u) return x->u < y->u ? -1 : 1;
    return (x->d > y->d) - (x->d < y->d);
}

/* Sorted, de-duplicated purchase days per customer. */
static int build_histories(oq_models *m, const oq_bgnbd_tx *tx, oq_error *err)
{
    size_t n = tx->n;
    ud *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < n; i++)
        v[i] = (ud){tx->user[i], tx->day[i]};
    qsort(v, n, sizeof *v, cmp_ud);
    size_t k = 0, nu = 0;
    for (size_t i = 0; i < n; i++) {
        if (k && v[k - 1].u == v[i].u && v[k - 1].d == v[i].d) continue;
        if (!k || v[k - 1].u != v[i].u) nu++;
        v[k++] = v[i];
    }
    m->user = malloc((nu ? nu : 1) * sizeof *m->user);
    m->start = malloc((nu + 1) * sizeof *m->start);
    m->day = malloc((k ? k : 1) * sizeof *m->day);
    if (!m->user || !m->start || !m->day) {
        free(v);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    }
    size_t c = 0;
    for (size_t i = 0; i < k; i++) {
        if (i == 0 || v[i].u != v[i - 1].u) {
            m->user[c] = v[i].u;
            m->start[c++] = i;
        }
        m->day[i] = v[i].d;
    }
    m->start[nu] = k;
    m->nu = nu;
    free(v);
    return 0;
}

int oq_models_rft(const oq_models *m, int64_t u, int32_t d, double *x, double *tx, double *T)
{
    size_t lo = 0, hi = m->nu;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (m->user[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == m->nu || m->user[lo] != u) return 0;
    const int32_t *days = m->day + m->start[lo];
    size_t n = m->start[lo + 1] - m->start[lo], a = 0, b = n;
    while (a < b) { /* first purchase day >= d */
        size_t mid = a + (b - a) / 2;
        if (days[mid] < d)
            a = mid + 1;
        else
            b = mid;
    }
    if (a == 0) return 0;
    *x = (double)(a - 1);
    *tx = (double)(days[a - 1] - days[0]);
    *T = (double)(d - days[0]);
    return 1;
}

static int models_score(void *ctx, const oq_log *log, const size_t *rows, size_t n, double *p_alive,
                        double *rhat, oq_error *err)
{
    oq_models *m = ctx;
    if (m->rhat_log) {
        /* The profit model's r^ was predicted in batches at fit time. */
        const double *src;
        if (log == m->log) {
            src = m->rhat_log;
        } else if (log->n == m->n_tom && n && log->day[rows[0]] == m->tomorrow) {
            src = m->rhat_tom;
        } else {
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "profit scorer asked about rows it was not prepared for");
        }
        for (size_t k = 0; k < n; k++)
            memcpy(rhat + 4 * k, src + 4 * rows[k], 4 * sizeof *src);
    } else {
        int rc = m->rhat.score(m->rhat.ctx, log, rows, n, p_alive, rhat, err);
        if (rc) return rc;
    }
    for (size_t k = 0; k < n; k++) {
        size_t i = rows[k];
        double x, tx, T;
        p_alive[k] = oq_models_rft(m, log->user_id[i], log->day[i], &x, &tx, &T)
                         ? oq_bgnbd_p_alive(&m->fit.p, x, tx, T)
                         : 1.0;
    }
    return 0;
}

int oq_models_fit(const oq_log *log, const oq_models_opts *o, oq_scorer rhat, oq_models **out,
                  oq_error *err)
{
    *out = NULL;
    int rc = 0;
    oq_bgnbd_tx *tx = NULL;
    oq_bgnbd_summary *s = NULL;
    oq_bgnbd_data *d = NULL;
    oq_models *m = calloc(1, sizeof *m);
    if (!m) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    m->rhat = rhat;
    char side[4096];
    const char *orders = o ? o->orders_path : NULL;
    if (!orders && o && o->log_path &&
        oq_sidecar_path(o->log_path, ".orders.csv", side, sizeof side) == 0 && oq_file_exists(side))
        orders = side;
    if (orders) {
        if ((rc = oq_bgnbd_tx_read(orders, 1, 0, &tx, err))) goto cleanup;
        snprintf(m->source, sizeof m->source, "%s", orders);
        m->orders_file = 1;
    } else {
        if ((rc = oq_bgnbd_tx_from_log(log, &tx, err))) goto cleanup;
        snprintf(m->source, sizeof m->source, "the log's order rows");
    }
    int32_t last = INT32_MIN;
    for (size_t i = 0; i < log->n; i++)
        if (log->day[i] > last) last = log->day[i];
    oq_bgnbd_split split = {
        .unit_days = 1, .calibration_end = last, .observation_end = OQ_BGNBD_NO_DATE};
    if ((rc = oq_bgnbd_summary_build(tx, &split, &s, err))) goto cleanup;
    if ((rc = oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, err))) goto cleanup;
    if ((rc = oq_bgnbd_fit(d, NULL, &m->fit, err))) goto cleanup;
    if (!(o && o->quiet))
        fprintf(stderr, "offerq: BG/NBD on %zu customers (%s): r=%.4g alpha=%.4g a=%.4g b=%.4g%s\n",
                s->n, m->source, m->fit.p.r, m->fit.p.alpha, m->fit.p.a, m->fit.p.b,
                m->fit.converged ? "" : " (NOT converged)");
    if ((rc = build_histories(m, tx, err))) goto cleanup;
    if (o && o->reward != OQ_REWARD_EMPIRICAL) {
        if (!o->ix) {
            rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "the r^ models need the log index");
            goto cleanup;
        }
        if (o->reward == OQ_REWARD_TRANSFORMER) {
            if ((rc = fit_profit(m, log, o, err))) goto cleanup;
            snprintf(m->name, sizeof m->name, "BG/NBD P(alive) x profit Transformer r^");
        } else {
            if ((rc = fit_response(m, log, o, err))) goto cleanup;
            snprintf(m->name, sizeof m->name,
                     "BG/NBD P(alive) x response-model r^ (P(order | history, coupon) x margin)");
        }
        m->rhat.interim = 0;
    } else {
        snprintf(m->name, sizeof m->name, "BG/NBD P(alive) x %s", rhat.name);
    }
    *out = m;
    m = NULL;
cleanup:
    oq_models_free(m);
    oq_bgnbd_tx_free(tx);
    oq_bgnbd_summary_free(s);
    oq_bgnbd_data_free(d);
    return rc;
}

/* r^ for samples (n, 4) as doubles, in batches. */
static int predict4(const oq_profit *pm, const oq_profit_samples *s, double **out, oq_error *err)
{
    float *f = malloc((s->n ? s->n : 1) * 4 * sizeof *f);
    double *d = malloc((s->n ? s->n : 1) * 4 * sizeof *d);
    int rc = 0;
    if (!f || !d) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    } else if (!(rc = oq_profit_predict_all(pm, s, f, err))) {
        for (size_t i = 0; i < s->n * 4; i++)
            d[i] = f[i];
        *out = d;
        d = NULL;
    }
    free(f);
    free(d);
    return rc;
}

/* The events stream: events_path, or the log's sidecar, or none (*ev NULL). */
static int read_events(oq_models *m, const oq_log *log, const oq_models_opts *o, oq_events **ev,
                       oq_error *err)
{
    *ev = NULL;
    char side[4096];
    const char *events = o->events_path;
    if (!events && o->log_path &&
        oq_sidecar_path(o->log_path, ".events.csv", side, sizeof side) == 0 && oq_file_exists(side))
        events = side;
    if (!events) {
        snprintf(m->prep.events, sizeof m->prep.events, "none");
        return 0;
    }
    /* Events intern their categories into the log's dictionary so the ids
     * agree (a category only seen in the events gets a new id; the log's
     * rows are untouched). */
    snprintf(m->prep.events, sizeof m->prep.events, "%.200s", events);
    return oq_events_read(events, (oq_dict *)&log->cats, ev, err);
}

/* The response model's BG/NBD feature of customer u just before day d:
 * f[10] = P(alive) (1 without a purchase). (E[X(30)] as a further feature
 * was tried: no gain on seeds 1-3.) */
static void bgnbd_features(const oq_models *m, int64_t u, int32_t d, oq_resp_feat *f)
{
    double x, tx, T;
    f[10] =
        (oq_resp_feat)(oq_models_rft(m, u, d, &x, &tx, &T) ? oq_bgnbd_p_alive(&m->fit.p, x, tx, T)
                                                           : 1.0);
}

/* g, the expected gross profit of an order (gross.h), of every log row
 * (m->gross_log) and of tomorrow's customers (g_tom), from the purchases
 * file's order values when BG/NBD read one (else the log's order rows). */
static int fit_gross(oq_models *m, const oq_log *log, const oq_models_opts *o, const oq_events *ev,
                     const oq_events_ix *evx, double *g_tom, oq_resp_feat *X, oq_resp_feat *Xt,
                     oq_error *err)
{
    oq_orders *ords = NULL;
    oq_gross *gm = NULL;
    int rc = 0;
    if (m->orders_file && (rc = oq_orders_read(m->source, &ords, err))) {
        /* A purchases file without values (user_id,date: BG/NBD needs no
         * more) still gives the log-row model; say so. */
        if (rc == OQ_ENOMEM) return rc;
        if (!o->quiet) {
            char why[1200];
            oq_error_format(err, why, sizeof why);
            fprintf(stderr, "offerq: g from the log's order rows (%s)\n", why);
        }
        memset(err, 0, sizeof *err);
    }
    if (!(rc = oq_gross_fit(log, o->ix, ev, evx, ords, NULL, &gm, err)))
        rc = oq_gross_predict(gm, log, o->ix, ev, evx, ords, o->tomorrow, m->gross_log, g_tom, err);
    if (!rc) /* feature 11 (response.h): the filter's browse concentration evidence */
        rc = oq_gross_evidence(gm, log, o->ix, ev, evx, o->tomorrow, X + 11, Xt + 11, OQ_RESP_NFEAT,
                               err);
    if (!rc) {
        m->ginfo = (oq_gross_info){.from_orders = gm->from_orders,
                                   .drift = gm->drift,
                                   .conc = gm->conc,
                                   .alpha = gm->alpha,
                                   .m0 = gm->m0,
                                   .sa2 = gm->sa2,
                                   .se2 = gm->se2,
                                   .pop_f = gm->pop_f,
                                   .n_orders = gm->n_orders,
                                   .n_cats_used = gm->n_cats_used};
        if (!o->quiet)
            fprintf(stderr,
                    "offerq: g from %zu orders (%s): %zu categories, favourite "
                    "drift %.3f, conc %.2f, alpha %.1f, level sd %.3f, order sd %.3f\n",
                    gm->n_orders, gm->from_orders ? "purchases file" : "the log's order rows",
                    gm->n_cats_used, gm->drift, gm->conc, gm->alpha, sqrt(gm->sa2), sqrt(gm->se2));
    }
    oq_gross_free(gm);
    oq_orders_free(ords);
    return rc;
}

/* Fit the response model on the log's rows and predict r^ for them and for
 * tomorrow's customers (index order). */
static int fit_response(oq_models *m, const oq_log *log, const oq_models_opts *o, oq_error *err)
{
    const oq_log_index *ix = o->ix;
    oq_events *ev = NULL;
    oq_events_ix *evx = NULL;
    size_t n = log->n, nc = ix->n_customers;
    oq_resp_feat *X = malloc((n ? n : 1) * OQ_RESP_NFEAT * sizeof *X);
    oq_resp_feat *Xt = malloc((nc ? nc : 1) * OQ_RESP_NFEAT * sizeof *Xt);
    m->rhat_log = malloc((n ? n : 1) * 4 * sizeof *m->rhat_log);
    m->rhat_tom = malloc((nc ? nc : 1) * 4 * sizeof *m->rhat_tom);
    m->p_order_tom = malloc((nc ? nc : 1) * 4 * sizeof *m->p_order_tom);
    m->gross_log = malloc((n ? n : 1) * sizeof *m->gross_log);
    double *g_tom = malloc((nc ? nc : 1) * sizeof *g_tom);
    oq_pmodel *pm = NULL;
    int rc = 0;
    if (!X || !Xt || !m->rhat_log || !m->rhat_tom || !m->p_order_tom || !m->gross_log || !g_tom) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    if ((rc = read_events(m, log, o, &ev, err))) goto cleanup;
    if (ev && (rc = oq_events_ix_build(ev, ix, &evx, err))) goto cleanup;
    if ((rc = oq_resp_features(log, ix, ev, evx, o->tomorrow, X, Xt, err))) goto cleanup;
    for (size_t i = 0; i < n; i++)
        bgnbd_features(m, log->user_id[i], log->day[i], X + i * OQ_RESP_NFEAT);
    for (size_t c = 0; c < nc; c++)
        bgnbd_features(m, ix->user_id[c], o->tomorrow, Xt + c * OQ_RESP_NFEAT);
    if ((rc = fit_gross(m, log, o, ev, evx, g_tom, X, Xt, err))) goto cleanup;
    oq_events_ix_free(evx); /* the features hold what the fit needs from them */
    evx = NULL;
    oq_events_free(ev);
    ev = NULL;
    /* P(order) from the chosen learner (pmodel.h), written into rhat_log /
     * p_order_tom and turned into r^ = P (g - value) in place, g from gross.h
     * (fit_gross above). */
    oq_pmodel_opts po;
    if (o->pmodel) {
        po = *o->pmodel;
    } else {
        oq_pmodel_opts_default(&po);
        po.seed = o->seed ? o->seed : 1;
    }
    po.quiet = po.quiet || o->quiet;
    if ((rc = oq_pmodel_fit(&po, X, log->coupon, log->order, log->profit, log->aov, n, &pm, err)) ||
        (rc = oq_pmodel_predict(pm, X, n, m->rhat_log, err)) ||
        (rc = oq_pmodel_predict(pm, Xt, nc, m->p_order_tom, err)))
        goto cleanup;
    m->pinfo = *oq_pmodel_get_info(pm);
    m->pinfo.train_logloss = oq_pmodel_logloss(m->rhat_log, log->coupon, log->order, n);
    if (po.kind == OQ_PMODEL_LOGISTIC) {
        m->resp = *oq_pmodel_logistic(pm);
    } else { /* only the rows and orders per coupon, for the report */
        memset(&m->resp, 0, sizeof m->resp);
        for (size_t i = 0; i < n; i++) {
            m->resp.n_rows[log->coupon[i]]++;
            m->resp.orders[log->coupon[i]] += log->order[i];
        }
    }
    oq_pmodel_free(pm); /* XGBoost's working memory: many small blocks; give them back */
    pm = NULL;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
    m->has_resp = 1;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 4; c++)
            m->rhat_log[4 * i + c] *= m->gross_log[i] - oq_coupon_value(c);
    if (!o->keep_features) { /* only evaluate's cross-fit needs g per row again */
        free(m->gross_log);
        m->gross_log = NULL;
    }
    for (size_t c = 0; c < nc; c++)
        for (int a = 0; a < 4; a++)
            m->rhat_tom[4 * c + a] = m->p_order_tom[4 * c + a] * (g_tom[c] - oq_coupon_value(a));
    m->n_tom = nc;
    m->tomorrow = o->tomorrow;
    m->log = log;
    if (!o->quiet)
        fprintf(stderr,
                "offerq: response model on %zu rows (events: %s): P(order) by %s, log-loss "
                "%.4f, %.2fs; order rate none/5/10/20 = %.3f/%.3f/%.3f/%.3f\n",
                n, m->prep.events, oq_pmodel_name(m->pinfo.kind), m->pinfo.train_logloss,
                m->pinfo.seconds, m->resp.orders[0] / (double)m->resp.n_rows[0],
                m->resp.orders[1] / (double)m->resp.n_rows[1],
                m->resp.orders[2] / (double)m->resp.n_rows[2],
                m->resp.orders[3] / (double)m->resp.n_rows[3]);
    if (o->keep_features) {
        m->resp_x = X;
        X = NULL;
    }
cleanup:
    oq_pmodel_free(pm);
    free(g_tom);
    free(X);
    free(Xt);
    oq_events_ix_free(evx);
    oq_events_free(ev);
    return rc;
}

const oq_resp *oq_models_response(const oq_models *m)
{
    return m->has_resp ? &m->resp : NULL;
}

const double *oq_models_rhat_rows(const oq_models *m)
{
    return m->has_resp ? m->rhat_log : NULL;
}

const double *oq_models_gross_rows(const oq_models *m)
{
    return m->has_resp ? m->gross_log : NULL;
}

const oq_gross_info *oq_models_gross(const oq_models *m)
{
    return m->has_resp ? &m->ginfo : NULL;
}

const oq_pmodel_info *oq_models_pmodel(const oq_models *m)
{
    return m->has_resp ? &m->pinfo : NULL;
}

const oq_resp_feat *oq_models_response_features(const oq_models *m)
{
    return m->has_resp ? m->resp_x : NULL;
}

const double *oq_models_p_order_tomorrow(const oq_models *m)
{
    return m->has_resp ? m->p_order_tom : NULL;
}

/* Load or train the profit model and predict r^ for the log and tomorrow. */
static int fit_profit(oq_models *m, const oq_log *log, const oq_models_opts *o, oq_error *err)
{
    int rc = 0;
    oq_events *ev = NULL;
    oq_profit *pm = NULL;
    oq_profit_data *d = NULL;
    oq_profit_samples *s = NULL, *st = NULL;
    if ((rc = read_events(m, log, o, &ev, err))) goto cleanup;
    if (!ev)
        snprintf(m->prep.events, sizeof m->prep.events, "none (categories of earlier log rows)");
    if (o->model_path) {
        if ((rc = oq_profit_load(o->model_path, &pm, err))) goto cleanup;
        m->prep.loaded = 1;
    } else {
        oq_profit_config cfg;
        oq_profit_config_default(&cfg);
        if ((rc = oq_profit_new(&cfg, &log->cats, o->seed, &pm, err))) goto cleanup;
    }
    if ((rc = oq_profit_data_new(log, o->ix, ev, pm, pm->cfg.seq_len, &d, err))) goto cleanup;
    if ((rc = oq_profit_data_build(d, &s, err))) goto cleanup;
    if (!o->model_path) {
        oq_profit_train_opts to;
        oq_profit_train_opts_default(&to);
        to.epochs = o->epochs > 0 ? (o->epochs < 8 ? o->epochs : 8) : 3;
        to.seed = o->seed;
        to.quiet = o->quiet;
        oq_profit_epoch hist[8];
        if ((rc = oq_profit_train(pm, s, &to, hist, err))) goto cleanup;
        m->prep.trained = 1;
        m->prep.epochs = to.epochs;
        for (int e = 0; e < to.epochs; e++) {
            m->prep.val_mse[e] = hist[e].val_mse;
            m->prep.val_mse_mean[e] = hist[e].val_mse_mean;
            m->prep.train_mse[e] = hist[e].train_mse;
            m->prep.seconds[e] = hist[e].seconds;
        }
        if (o->save_model && (rc = oq_profit_save(pm, o->save_model, err))) goto cleanup;
    }
    if ((rc = predict4(pm, s, &m->rhat_log, err))) goto cleanup;
    if ((rc = oq_profit_data_day(d, o->tomorrow, &st, err))) goto cleanup;
    if ((rc = predict4(pm, st, &m->rhat_tom, err))) goto cleanup;
    m->n_tom = st->n;
    m->tomorrow = o->tomorrow;
    m->log = log;
cleanup:
    oq_profit_samples_free(s);
    oq_profit_samples_free(st);
    oq_profit_data_free(d);
    oq_profit_free(pm);
    oq_events_free(ev);
    return rc;
}

const oq_models_profit_report *oq_models_profit(const oq_models *m)
{
    return &m->prep;
}

void oq_models_free(oq_models *m)
{
    if (!m) return;
    free(m->rhat_log);
    free(m->rhat_tom);
    free(m->p_order_tom);
    free(m->resp_x);
    free(m->gross_log);
    free(m->user);
    free(m->start);
    free(m->day);
    free(m);
}

oq_scorer oq_models_scorer(oq_models *m)
{
    return (oq_scorer){.name = m->name,
                       .interim = m->rhat.interim,
                       .score = models_score,
                       .ctx = m,
                       .rhat_has_alive = m->has_resp};
}

const oq_bgnbd_fit_report *oq_models_bgnbd(const oq_models *m)
{
    return &m->fit;
}

const char *oq_models_purchase_source(const oq_models *m)
{
    return m->source;
}
