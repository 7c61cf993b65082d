/* reward_sequence.c - the sequence response model (seq.h) as the job's
 * reward model (reward.h), combined as the default response model combines
 * its parts: r^ = P(order | history, coupon) x (g - value), with P(order)
 * from the Transformer over the customer's daily history and g, the
 * expected gross profit of an order, from the gross-profit model (gross.h).
 * P(alive) is one of the model's state features, so r^ is the whole
 * expected reward (rhat_has_alive). */
#include "offerq/core/io.h"
#include "offerq/coupon/gross.h"
#include "offerq/coupon/response.h"
#include "offerq/coupon/reward.h"
#include "offerq/coupon/seq.h"
#include "reward_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct sequence_reward {
    oq_reward base;
    double *rhat_log;    /* (log->n, 4) */
    double *rhat_tom;    /* (n_customers, 4) */
    double *p_order_tom; /* (n_customers, 4) */
    int loaded;
    int warm;               /* 1: warm-started from in->warm_path */
    int32_t warm_last_day;  /* the warm-start model's last day trained on */
    char cold_reason[1024]; /* why a warm start fell back to a cold one, or "" */
    char warm_from[4096];   /* the warm-start model's file */
    oq_seq_config cfg;
    size_t n_params;
    oq_seq_train_report tr;
    oq_seq_epoch *hist; /* (tr.epochs_run) */
    double fit_s;
    char events[256], orders[256];
} sequence_reward;

static int score_rows(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const sequence_reward *m = (const sequence_reward *)b;
    memcpy(rhat, m->rhat_log, b->in->log->n * 4 * sizeof *rhat);
    return 0;
}

static int score_tomorrow(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const sequence_reward *m = (const sequence_reward *)b;
    memcpy(rhat, m->rhat_tom, b->in->ix->n_customers * 4 * sizeof *rhat);
    return 0;
}

static int p_order_tomorrow(const oq_reward *b, double *p, oq_error *err)
{
    (void)err;
    const sequence_reward *m = (const sequence_reward *)b;
    memcpy(p, m->p_order_tom, b->in->ix->n_customers * 4 * sizeof *p);
    return 0;
}

static json_t *num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static json_t *report(const oq_reward *b)
{
    const sequence_reward *m = (const sequence_reward *)b;
    const oq_seq_config *c = &m->cfg;
    json_t *ep = json_array(), *fixed = json_array(), *mu = json_array();
    for (int e = 0; e < m->tr.epochs_run; e++) {
        const oq_seq_epoch *h = &m->hist[e];
        json_t *o = json_object();
        json_object_set_new(o, "epoch", json_integer(e + m->tr.first_epoch));
        json_object_set_new(o, "train_logloss", num(h->train_logloss));
        json_object_set_new(o, "val_logloss", num(h->val_logloss));
        json_object_set_new(o, "val_logloss_order_rates", num(h->val_logloss_base));
        json_object_set_new(o, "val_dr", num(h->val_dr));
        json_object_set_new(o, "val_dr_se", num(h->val_dr_se));
        json_object_set_new(o, "val_ips", num(h->val_ips));
        json_object_set_new(o, "val_matched", num(h->val_matched));
        json_object_set_new(o, "seconds", num(h->seconds));
        json_array_append_new(ep, o);
    }
    for (int k = 0; k < 4; k++) {
        json_array_append_new(fixed, num(m->tr.val_dr_fixed[k]));
        json_array_append_new(mu, num(m->tr.mu[k]));
    }
    json_t *j = json_pack(
        "{s:b, s:{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:f}, s:I, s:s, s:s, s:i, s:I, s:I, "
        "s:o, s:o, s:f, s:o, s:f}",
        "loaded", m->loaded, "config", "seq_len", c->seq_len, "d", c->d, "heads", c->heads,
        "layers", c->layers, "ff", c->ff, "pool_heads", c->pool_heads, "hidden", c->hidden, "bands",
        c->n_bands, "dropout", (double)c->dropout, "parameters", (json_int_t)m->n_params, "events",
        m->events, "orders", m->orders, "best_epoch", m->tr.best_epoch, "train_rows",
        (json_int_t)m->tr.n_train, "val_rows", (json_int_t)m->tr.n_val, "epochs", ep,
        "val_dr_fixed_coupons", fixed, "val_dr_logged", m->tr.val_dr_logged, "propensities", mu,
        "seconds", m->fit_s);
    if (j)
        json_object_set_new(json_object_get(j, "config"), "state",
                            json_string(c->n_extra_state ? "full" : "base"));
    json_t *warm = json_null();
    if (m->warm) {
        char d[11] = "unknown";
        if (m->warm_last_day != OQ_SEQ_NO_DAY) oq_date_format(m->warm_last_day, d);
        warm = json_pack("{s:s, s:s, s:I, s:I, s:b}", "from", m->warm_from, "trained_to", d,
                         "fresh_rows", (json_int_t)m->tr.n_fresh, "replay_rows",
                         (json_int_t)m->tr.n_replay, "kept_unchanged", m->tr.best_epoch == 0);
    }
    if (j && (!warm || json_object_set_new(j, "warm_start", warm) ||
              json_object_set_new(j, "cold_start_reason",
                                  m->cold_reason[0] ? json_string(m->cold_reason) : json_null()))) {
        json_decref(j);
        j = NULL;
    }
    return j ? json_pack("{s:o}", "sequence_model", j) : NULL;
}

static void free_reward(oq_reward *b)
{
    sequence_reward *m = (sequence_reward *)b;
    if (!m) return;
    free(m->rhat_log);
    free(m->rhat_tom);
    free(m->p_order_tom);
    free(m->hist);
    free(m);
}

static const oq_reward_ops ops = {.score_rows = score_rows,
                                  .score_tomorrow = score_tomorrow,
                                  .p_order_tomorrow = p_order_tomorrow,
                                  .report = report,
                                  .free = free_reward};

/* The warm start's model (in->warm_path) into *sm, checked against the
 * run's configuration and the log's categories. A model that cannot be
 * used is an error, or with in->warm_fallback a cold start (*sm NULL, the
 * reason in m->cold_reason). */
static int warm_model(const oq_reward_input *in, const oq_seq_config *cfg, const oq_dict *cats,
                      sequence_reward *m, oq_seq **sm, oq_error *err)
{
    oq_error why = {0};
    struct stat st; /* a run folder: its model.ofq */
    int isdir = stat(in->warm_path, &st) == 0 && S_ISDIR(st.st_mode);
    snprintf(m->warm_from, sizeof m->warm_from, "%s%s", in->warm_path, isdir ? "/model.ofq" : "");
    int rc = oq_seq_load(m->warm_from, sm, &why);
    if (!rc) rc = oq_seq_check_shape(*sm, m->warm_from, cfg, cats, &why);
    if (!rc) {
        m->warm = 1;
        m->warm_last_day = (*sm)->last_day;
        return 0;
    }
    oq_seq_free(*sm);
    *sm = NULL;
    if (rc == OQ_ENOMEM || !in->warm_fallback) {
        if (rc == OQ_ENOMEM) {
            *err = why;
            return rc;
        }
        return oq_error_set(err, rc, why.file, why.line, why.col,
                            "%s; no warm start from it (--warm-fallback, in offerq nightly "
                            "[run] warm_fallback = true, trains from scratch instead)",
                            why.msg);
    }
    oq_error_format(&why, m->cold_reason, sizeof m->cold_reason);
    if (!in->quiet)
        fprintf(stderr, "offerq: sequence model: no warm start (%s): training from scratch\n",
                m->cold_reason);
    return 0;
}

/* Train sm on s: from scratch, or a warm start's short budget on the rows
 * after its last day and a replay sample; then save it (with the log's last
 * day) where asked. */
static int train(const oq_reward_input *in, const oq_seq_train_opts *o, sequence_reward *m,
                 oq_seq *sm, const oq_seq_samples *s, oq_error *err)
{
    const oq_log *log = in->log;
    size_t n = log->n;
    int rc = 0;
    uint8_t *fresh = NULL;
    size_t nh = (size_t)(m->warm ? o->warm_epochs + 1 : o->epochs);
    if (!(m->hist = calloc(nh ? nh : 1, sizeof *m->hist)) ||
        (m->warm && !(fresh = malloc(n ? n : 1))))
        return oq_error_oom(err, NULL, NULL);
    if (!in->quiet)
        fprintf(stderr, "offerq: sequence model: %zu rows, %d days of history, %zu parameters%s\n",
                n, sm->cfg.seq_len, sm->n_params, m->warm ? ", warm start" : "");
    if (m->warm) {
        for (size_t i = 0; i < n; i++)
            fresh[i] = sm->last_day == OQ_SEQ_NO_DAY || log->day[i] > sm->last_day;
        rc = oq_seq_train_warm(sm, s, fresh, o, m->hist, &m->tr, err);
    } else {
        rc = oq_seq_train(sm, s, o, m->hist, &m->tr, err);
    }
    free(fresh);
    if (rc) return rc;
    sm->last_day = in->day - 1;
    return in->save_model ? oq_seq_save(sm, in->save_model, err) : 0;
}

/* s as samples with n_state state features: its own, then x's nx per row
 * (the rest zero). */
static int widen(oq_seq_samples **sp, int n_state, const oq_resp_feat *x, int nx, oq_error *err)
{
    const oq_seq_samples *s = *sp;
    oq_seq_samples *w = NULL;
    int rc = oq_seq_samples_new_ns(s->n, s->seq_len, n_state, &w, err);
    if (rc) return rc;
    size_t tt = (size_t)s->seq_len * OQ_SEQ_NTOK, ns = (size_t)n_state;
    memcpy(w->tok, s->tok, s->n * tt * sizeof *w->tok);
    memcpy(w->coupon, s->coupon, s->n);
    memcpy(w->order, s->order, s->n);
    memcpy(w->reward, s->reward, s->n * sizeof *w->reward);
    memcpy(w->g, s->g, s->n * sizeof *w->g);
    memcpy(w->user_id, s->user_id, s->n * sizeof *w->user_id);
    for (size_t i = 0; i < s->n; i++) {
        memcpy(w->state + i * ns, s->state + i * (size_t)s->n_state,
               (size_t)s->n_state * sizeof *w->state);
        for (int k = 0; k < nx && s->n_state + k < n_state; k++)
            w->state[i * ns + (size_t)(s->n_state + k)] = x[i * (size_t)nx + (size_t)k];
    }
    oq_seq_samples_free(*sp);
    *sp = w;
    return 0;
}

/* With a model of extra state features (`--seq-state full`, n_extra_state =
 * OQ_RESP_NFEAT): the response model's 12 features of --features all
 * (response.h; P(alive) in 10, the browse concentration evidence of gm in
 * 11) appended to the state of the log's rows s and of tomorrow's st. */
static int full_state(const oq_reward_input *in, const oq_seq_config *cfg, const oq_gross *gm,
                      const oq_events *ev, const oq_events_ix *evx, oq_seq_samples **s,
                      oq_seq_samples **st, oq_error *err)
{
    if (cfg->n_extra_state == 0) return 0;
    if (cfg->n_extra_state != OQ_RESP_NFEAT)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "a sequence model with %d extra state features: this offerq fills "
                            "0 or %d (--seq-state full)",
                            cfg->n_extra_state, OQ_RESP_NFEAT);
    const oq_log *log = in->log;
    const oq_log_index *ix = in->ix;
    size_t n = log->n, nc = ix->n_customers;
    oq_resp_feat *X = malloc((n ? n : 1) * OQ_RESP_NFEAT * sizeof *X);
    oq_resp_feat *Xt = malloc((nc ? nc : 1) * OQ_RESP_NFEAT * sizeof *Xt);
    int rc = 0;
    if (!X || !Xt) {
        rc = oq_error_oom(err, NULL, NULL);
        goto done;
    }
    if ((rc = oq_resp_features(log, ix, ev, evx, in->day, X, Xt, err))) goto done;
    for (size_t i = 0; i < n; i++)
        X[i * OQ_RESP_NFEAT + 10] =
            in->alive ? (oq_resp_feat)oq_alive_p(in->alive, log->user_id[i], log->day[i]) : 1;
    for (size_t c = 0; c < nc; c++)
        Xt[c * OQ_RESP_NFEAT + 10] =
            in->alive ? (oq_resp_feat)oq_alive_p(in->alive, ix->user_id[c], in->day) : 1;
    if ((rc = oq_gross_evidence(gm, log, ix, ev, evx, in->day, X + 11, Xt + 11, OQ_RESP_NFEAT,
                                err)) ||
        (rc = widen(s, OQ_SEQ_NSTATE + OQ_RESP_NFEAT, X, OQ_RESP_NFEAT, err)) ||
        (rc = widen(st, OQ_SEQ_NSTATE + OQ_RESP_NFEAT, Xt, OQ_RESP_NFEAT, err)))
        goto done;
done:
    free(X);
    free(Xt);
    return rc;
}

void oq_seq_opts_default(oq_seq_opts *o)
{
    memset(o, 0, sizeof *o);
    oq_seq_config_default(&o->cfg);
    oq_seq_train_opts_default(&o->train);
}

int oq_reward_sequence_fit(const oq_reward_input *in, oq_reward **out, oq_error *err)
{
    *out = NULL;
    const oq_log *log = in->log;
    const oq_log_index *ix = in->ix;
    size_t n = log->n, nc = ix->n_customers;
    oq_events *ev = NULL;
    oq_events_ix *evx = NULL;
    oq_orders *ords = NULL;
    oq_gross *gm = NULL;
    oq_seq *sm = NULL;
    oq_seq_data *d = NULL;
    oq_seq_samples *s = NULL, *st = NULL;
    double *g = NULL, *g_tom = NULL;
    double t0 = oq_now();
    oq_seq_opts so;
    if (in->seq)
        so = *in->seq;
    else
        oq_seq_opts_default(&so);
    if (in->epochs > 0) so.train.epochs = in->epochs;
    so.train.seed = in->seed ? in->seed : 1;
    so.train.quiet = so.train.quiet || in->quiet;
    sequence_reward *m = calloc(1, sizeof *m);
    if (m) {
        m->rhat_log = malloc((n ? n : 1) * 4 * sizeof *m->rhat_log);
        m->rhat_tom = malloc((nc ? nc : 1) * 4 * sizeof *m->rhat_tom);
        m->p_order_tom = malloc((nc ? nc : 1) * 4 * sizeof *m->p_order_tom);
    }
    g = malloc((n ? n : 1) * sizeof *g);
    g_tom = malloc((nc ? nc : 1) * sizeof *g_tom);
    int rc = 0;
    if (!m || !m->rhat_log || !m->rhat_tom || !m->p_order_tom || !g || !g_tom) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    m->base = (oq_reward){.ops = &ops, .kind = OQ_REWARD_SEQUENCE, .rhat_has_alive = 1, .in = in};
    snprintf(m->base.name, sizeof m->base.name,
             "sequence model r^ (P(order | daily history, coupon) x margin)");
    if ((rc = oq_reward_read_events(in, &ev, m->events, sizeof m->events, err))) goto cleanup;
    if (ev && (rc = oq_events_ix_build(ev, ix, &evx, err))) goto cleanup;
    /* the purchases with their values: the survival model's, else its file */
    const oq_orders *use = in->alive ? oq_alive_orders(in->alive) : NULL;
    if (!use && in->alive && oq_alive_from_file(in->alive)) {
        rc = oq_orders_read(oq_alive_source(in->alive), &ords, err);
        if (rc == OQ_ENOMEM) goto cleanup;
        if (rc) memset(err, 0, sizeof *err); /* a purchases file without values */
        use = ords;
    }
    snprintf(m->orders, sizeof m->orders, "%s",
             use ? (in->alive ? oq_alive_source(in->alive) : "file") : "the log's order rows");
    /* g of every row and of tomorrow (gross.h) */
    if ((rc = oq_gross_fit(log, ix, ev, evx, use, NULL, &gm, err)) ||
        (rc = oq_gross_predict(gm, log, ix, ev, evx, use, in->day, g, g_tom, err)))
        goto cleanup;
    /* the model: loaded, warm-started from yesterday's, or new with bands
     * cut on this log's orders */
    if (in->model_path) {
        if ((rc = oq_seq_load(in->model_path, &sm, err))) goto cleanup;
        m->loaded = 1;
    } else if (in->warm_path && (rc = warm_model(in, &so.cfg, &log->cats, m, &sm, err))) {
        goto cleanup;
    }
    if (!sm && (rc = oq_seq_new(&so.cfg, &log->cats, so.train.seed, &sm, err))) goto cleanup;
    int bound = m->loaded || m->warm; /* the model's categories and bands */
    if ((rc = oq_seq_data_new(log, ix, ev, use, bound ? sm : NULL, sm->cfg.seq_len, sm->cfg.n_bands,
                              sm->band_edge, &d, err)) ||
        (rc = oq_seq_data_build(d, log, in->alive, g, &s, err)) ||
        (rc = oq_seq_data_build(d, in->tomorrow, in->alive, g_tom, &st, err)) ||
        (rc = full_state(in, &sm->cfg, gm, ev, evx, &s, &st, err)))
        goto cleanup;
    if (!m->loaded && (rc = train(in, &so.train, m, sm, s, err))) goto cleanup;
    m->cfg = sm->cfg;
    m->n_params = sm->n_params;
    /* P(order) of every row and coupon, then r^ = P (g - value) in place */
    if ((rc = oq_seq_predict(sm, s, m->rhat_log, err))) goto cleanup;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 4; c++)
            m->rhat_log[4 * i + c] *= g[i] - oq_coupon_value(c);
    oq_seq_samples_free(s);
    s = NULL;
    if ((rc = oq_seq_predict(sm, st, m->p_order_tom, err))) goto cleanup;
    for (size_t c = 0; c < nc; c++)
        for (int a = 0; a < 4; a++)
            m->rhat_tom[4 * c + a] = m->p_order_tom[4 * c + a] * (g_tom[c] - oq_coupon_value(a));
    m->fit_s = oq_now() - t0;
    if (!in->quiet)
        fprintf(stderr, "offerq: sequence model on %zu rows (events: %s, orders: %s), %.1fs\n", n,
                m->events, m->orders, m->fit_s);
    *out = &m->base;
    m = NULL;
cleanup:
    free_reward(m ? &m->base : NULL);
    oq_seq_samples_free(s);
    oq_seq_samples_free(st);
    oq_seq_data_free(d);
    oq_seq_free(sm);
    oq_gross_free(gm);
    oq_orders_free(ords);
    oq_events_ix_free(evx);
    oq_events_free(ev);
    free(g);
    free(g_tom);
    return rc;
}

/* The rows of s whose user_id has parity fold, as samples of their own. */
static int fold_samples(const oq_seq_samples *s, int fold, oq_seq_samples **out, oq_error *err)
{
    size_t m = 0, tt = (size_t)s->seq_len * OQ_SEQ_NTOK;
    for (size_t i = 0; i < s->n; i++)
        m += (int)(s->user_id[i] & 1) == fold;
    int rc = oq_seq_samples_new_ns(m, s->seq_len, s->n_state, out, err);
    if (rc) return rc;
    oq_seq_samples *f = *out;
    size_t ns = (size_t)s->n_state;
    size_t k = 0;
    for (size_t i = 0; i < s->n; i++) {
        if ((int)(s->user_id[i] & 1) != fold) continue;
        memcpy(f->tok + k * tt, s->tok + i * tt, tt * sizeof *f->tok);
        memcpy(f->state + k * ns, s->state + i * ns, ns * sizeof *f->state);
        f->coupon[k] = s->coupon[i];
        f->order[k] = s->order[i];
        f->reward[k] = s->reward[i];
        f->g[k] = s->g[i];
        f->user_id[k] = s->user_id[i];
        k++;
    }
    return 0;
}

static float logit_of(double p)
{
    p = fmin(fmax(p, 1e-6), 1 - 1e-6);
    return (float)log(p / (1 - p));
}

int oq_seq_fold_logits(const oq_reward_input *in, int gross_mix, float *row, size_t row_stride,
                       float *tom, size_t tom_stride, oq_seq_fold_info *info, oq_error *err)
{
    const oq_log *log = in->log;
    const oq_log_index *ix = in->ix;
    size_t n = log->n, nc = ix->n_customers;
    oq_events *ev = NULL;
    oq_events_ix *evx = NULL;
    oq_gross *gm = NULL;
    oq_seq *sm = NULL;
    oq_seq_data *d = NULL;
    oq_seq_samples *s = NULL, *st = NULL, *sf = NULL;
    oq_seq_epoch *hist = NULL;
    double *g = malloc((n ? n : 1) * sizeof *g), *g_tom = malloc((nc ? nc : 1) * sizeof *g_tom);
    double *p = malloc((n ? n : 1) * 4 * sizeof *p), *pt = malloc((nc ? nc : 1) * 4 * sizeof *pt);
    double t0 = oq_now();
    char used[256];
    oq_seq_opts so;
    if (in->seq)
        so = *in->seq;
    else
        oq_seq_opts_default(&so);
    if (in->epochs > 0) so.train.epochs = in->epochs;
    so.train.seed = in->seed ? in->seed : 1;
    so.train.quiet = so.train.quiet || in->quiet;
    memset(info, 0, sizeof *info);
    int rc = 0;
    if (!g || !g_tom || !p || !pt ||
        !(hist = calloc((size_t)(so.train.epochs > 0 ? so.train.epochs : 1), sizeof *hist))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if ((rc = oq_reward_read_events(in, &ev, used, sizeof used, err))) goto cleanup;
    if (ev && (rc = oq_events_ix_build(ev, ix, &evx, err))) goto cleanup;
    /* g only weighs the held-out DR value of early stopping; with the
     * response model's category mix (no favourite filter with --features raw) */
    oq_gross_opts go;
    oq_gross_opts_default(&go);
    go.mix = gross_mix;
    const oq_orders *use = in->alive ? oq_alive_orders(in->alive) : NULL;
    if ((rc = oq_gross_fit(log, ix, ev, evx, use, &go, &gm, err)) ||
        (rc = oq_gross_predict(gm, log, ix, ev, evx, use, in->day, g, g_tom, err)))
        goto cleanup;
    if ((rc = oq_seq_new(&so.cfg, &log->cats, so.train.seed, &sm, err))) goto cleanup;
    if ((rc = oq_seq_data_new(log, ix, ev, use, NULL, sm->cfg.seq_len, sm->cfg.n_bands,
                              sm->band_edge, &d, err)) ||
        (rc = oq_seq_data_build(d, log, in->alive, g, &s, err)) ||
        (rc = oq_seq_data_build(d, in->tomorrow, in->alive, g_tom, &st, err)) ||
        (rc = full_state(in, &sm->cfg, gm, ev, evx, &s, &st, err)))
        goto cleanup;
    double edge[OQ_SEQ_MAX_BANDS]; /* the order value bands cut on this log */
    memcpy(edge, sm->band_edge, sizeof edge);
    info->n_params = sm->n_params;
    for (size_t c = 0; c < nc; c++)
        for (int a = 0; a < 4; a++)
            tom[c * tom_stride + (size_t)a] = 0;
    for (int fold = 0; fold < 2; fold++) {
        /* a model of its own on one fold's customers (the same start as
         * --reward sequence's), scoring the other fold's rows */
        if (fold) {
            if ((rc = oq_seq_new(&so.cfg, &log->cats, so.train.seed, &sm, err))) goto cleanup;
            memcpy(sm->band_edge, edge, sizeof edge);
        }
        if ((rc = fold_samples(s, fold, &sf, err)) ||
            (rc = oq_seq_train(sm, sf, &so.train, hist, &info->tr[fold], err)))
            goto cleanup;
        if (!in->quiet)
            fprintf(stderr,
                    "offerq: sequence columns: fold %d model on %zu rows, best epoch %d of %d\n",
                    fold, sf->n, info->tr[fold].best_epoch, info->tr[fold].epochs_run);
        oq_seq_samples_free(sf);
        sf = NULL;
        if ((rc = oq_seq_predict(sm, s, p, err)) || (rc = oq_seq_predict(sm, st, pt, err)))
            goto cleanup;
        for (size_t i = 0; i < n; i++)
            if ((int)(log->user_id[i] & 1) != fold)
                for (int a = 0; a < 4; a++)
                    row[i * row_stride + (size_t)a] = logit_of(p[4 * i + a]);
        for (size_t c = 0; c < nc; c++)
            for (int a = 0; a < 4; a++)
                tom[c * tom_stride + (size_t)a] += 0.5f * logit_of(pt[4 * c + a]);
        oq_seq_free(sm);
        sm = NULL;
    }
    info->seconds = oq_now() - t0;
cleanup:
    oq_seq_samples_free(s);
    oq_seq_samples_free(st);
    oq_seq_samples_free(sf);
    oq_seq_data_free(d);
    oq_seq_free(sm);
    oq_gross_free(gm);
    oq_events_ix_free(evx);
    oq_events_free(ev);
    free(hist);
    free(g);
    free(g_tom);
    free(p);
    free(pt);
    return rc;
}
