/* reward_response.c - the coupon response model as the job's reward model
 * (reward.h): r^ = P(order | history, coupon) x (g - value). */
#include "offerq/coupon/gross.h"
#include "offerq/coupon/reward.h"
#include "offerq/core/comm.h"
#include "offerq/core/io.h"
#include "reward_int.h"

#include <jansson.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <math.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct gross_info {
    int from_orders, mix;
    double drift, conc, alpha, m0, sa2, se2, pop_f;
    size_t n_orders, n_cats_used;
} gross_info;

typedef struct response_reward {
    oq_reward base;
    double *rhat_log;     /* (log->n, 4) */
    double *rhat_tom;     /* (n_customers, 4) */
    double *p_order_tom;  /* (n_customers, 4) */
    oq_resp_feat *resp_x; /* (log->n, F) with keep_features, else NULL */
    double *gross_log;    /* (log->n) with keep_features, else NULL */
    oq_resp resp;         /* logistic weights, or only rows and orders per coupon */
    oq_pmodel_info pinfo;
    gross_info ginfo;
    int seq_features;             /* the sequence model's columns fed the trees */
    oq_seq_fold_info seq_info;    /* ... and how its fold models trained */
    oq_resp_feat *seq_x, *seq_xt; /* the trees' inputs (n, F + 4), (nc, F + 4), with
                                     keep_seq_columns */
    char events[256];
} response_reward;

int oq_reward_read_events(const oq_reward_input *in, oq_events **ev, char *used, size_t len,
                          oq_error *err)
{
    *ev = NULL;
    char side[4096];
    const char *events = in->events_path;
    if (!events && in->log_path &&
        oq_sidecar_path(in->log_path, ".events.csv", side, sizeof side) == 0 &&
        oq_file_exists(side))
        events = side;
    if (!events) {
        snprintf(used, len, "none");
        return 0;
    }
    snprintf(used, len, "%.200s", events);
    oq_part part = oq_comm_part(in->comm);
    return oq_events_read_part(events, (oq_dict *)&in->log->cats, &part, ev, err);
}

/* g, the expected gross profit of an order (gross.h), of every log row and of
 * tomorrow's customers (g_tom), from the purchases file's order values when
 * the survival model read one (else the log's order rows); feature 11. */
static int fit_gross(response_reward *m, const oq_reward_input *in, const oq_events *ev,
                     const oq_events_ix *evx, double *g_tom, oq_resp_feat *X, oq_resp_feat *Xt,
                     oq_error *err)
{
    oq_orders *ords = NULL; /* read here, when the survival model kept none */
    const oq_orders *use = oq_alive_orders(in->alive);
    oq_gross *gm = NULL;
    int rc = 0;
    int32_t tomorrow = in->day;
    oq_part part = oq_comm_part(in->comm);
    int quiet = in->quiet || oq_comm_rank(in->comm) > 0;
    if (!use && oq_alive_from_file(in->alive) &&
        (rc = oq_orders_read_part(oq_alive_source(in->alive), &part, &ords, err))) {
        /* A purchases file without values (user_id,date: BG/NBD needs no
         * more) still gives the log-row model; say so. */
        if (rc == OQ_ENOMEM) return rc;
        if (!quiet) {
            char why[1200];
            oq_error_format(err, why, sizeof why);
            fprintf(stderr, "offerq: g from the log's order rows (%s)\n", why);
        }
        memset(err, 0, sizeof *err);
    }
    if (!use) use = ords;
    oq_gross_opts go;
    oq_gross_opts_default(&go);
    if (in->features == OQ_RESP_FEATURES_RAW) go.mix = OQ_GROSS_MIX_ORDERS; /* no filter */
    if (!(rc = oq_gross_fit_part(in->log, in->ix, ev, evx, use, &go, in->comm, &gm, err)))
        rc =
            oq_gross_predict(gm, in->log, in->ix, ev, evx, use, tomorrow, m->gross_log, g_tom, err);
    /* feature 11 (response.h): the filter's browse concentration evidence;
     * 0 (put_features) without it */
    if (!rc && in->features == OQ_RESP_FEATURES_ALL)
        rc = oq_gross_evidence(gm, in->log, in->ix, ev, evx, tomorrow, X + 11, Xt + 11,
                               OQ_RESP_NFEAT, err);
    if (!rc) {
        m->ginfo = (gross_info){.from_orders = gm->from_orders,
                                .mix = gm->mix,
                                .drift = gm->drift,
                                .conc = gm->conc,
                                .alpha = gm->alpha,
                                .m0 = gm->m0,
                                .sa2 = gm->sa2,
                                .se2 = gm->se2,
                                .pop_f = gm->pop_f,
                                .n_orders = gm->n_orders,
                                .n_cats_used = gm->n_cats_used};
        if (!quiet && gm->mix == OQ_GROSS_MIX_ORDERS)
            fprintf(stderr,
                    "offerq: g from %zu orders (%s): %zu categories, mix from the customer's "
                    "earlier orders, level sd %.3f, order sd %.3f\n",
                    gm->n_orders, gm->from_orders ? "purchases file" : "the log's order rows",
                    gm->n_cats_used, sqrt(gm->sa2), sqrt(gm->se2));
        else if (!quiet)
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

static int score_rows(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const response_reward *m = (const response_reward *)b;
    memcpy(rhat, m->rhat_log, b->in->log->n * 4 * sizeof *rhat);
    return 0;
}

static int score_tomorrow(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const response_reward *m = (const response_reward *)b;
    memcpy(rhat, m->rhat_tom, b->in->ix->n_customers * 4 * sizeof *rhat);
    return 0;
}

static int p_order_tomorrow(const oq_reward *b, double *p, oq_error *err)
{
    (void)err;
    const response_reward *m = (const response_reward *)b;
    memcpy(p, m->p_order_tom, b->in->ix->n_customers * 4 * sizeof *p);
    return 0;
}

static json_t *report(const oq_reward *b)
{
    const response_reward *r = (const response_reward *)b;
    const oq_resp *m = &r->resp;
    const oq_pmodel_info *pi = &r->pinfo;
    const gross_info *gi = &r->ginfo;
    json_t *arms = json_array();
    for (int c = 0; c < 4; c++) {
        json_t *a = json_pack("{s:s, s:I, s:f}", "coupon", oq_coupon_name(c), "rows",
                              (json_int_t)m->n_rows[c], "orders", m->orders[c]);
        if (pi->kind == OQ_PMODEL_LOGISTIC) {
            json_t *w = json_array();
            for (int j = 0; j <= OQ_RESP_NIN; j++)
                json_array_append_new(w, json_real(m->w[c][j]));
            json_object_set_new(a, "loss", json_real(m->loss[c]));
            json_object_set_new(a, "newton_iterations", json_integer(m->iters[c]));
            json_object_set_new(a, "converged", json_boolean(m->converged[c]));
            json_object_set_new(a, "weights", w);
        }
        json_array_append_new(arms, a);
    }
    json_t *j = json_pack(
        "{s:s, s:o, s:{s:s, s:i, s:i, s:I, s:I, s:f, s:f}, s:{s:s, s:I, s:i, s:f, "
        "s:f, s:f, s:f, s:f, s:f, s:f}}",
        "events", r->events, "arms", arms, "p_model", "kind", oq_pmodel_name(pi->kind), "trees",
        pi->trees, "depth", pi->depth, "rows_used", (json_int_t)pi->rows_used, "rows",
        (json_int_t)pi->rows, "train_logloss", pi->train_logloss, "seconds", pi->seconds, "gross",
        "source", gi->from_orders ? "purchases file" : "log order rows", "orders",
        (json_int_t)gi->n_orders, "categories", (int)gi->n_cats_used, "drift", gi->drift,
        "concentration", gi->conc, "alpha", gi->alpha, "level_mean", gi->m0, "level_var", gi->sa2,
        "order_var", gi->se2, "mix_factor", gi->pop_f);
    if (j && r->seq_features) {
        const oq_seq_fold_info *si = &r->seq_info;
        json_t *folds = json_array();
        for (int f = 0; f < 2; f++)
            json_array_append_new(folds, json_pack("{s:i, s:I, s:I, s:i, s:i}", "user_id_parity", f,
                                                   "train_rows", (json_int_t)si->tr[f].n_train,
                                                   "val_rows", (json_int_t)si->tr[f].n_val,
                                                   "best_epoch", si->tr[f].best_epoch, "epochs_run",
                                                   si->tr[f].epochs_run));
        json_object_set_new(
            j, "seq_features",
            json_pack("{s:s, s:s, s:I, s:o, s:f}", "columns",
                      "logit P(order | history, c) of the sequence model, c = none/5/10/20", "fit",
                      "cross-fitted: one model per user_id parity, each scoring the other's "
                      "rows; tomorrow: the mean of the two models' logits",
                      "parameters", (json_int_t)si->n_params, "folds", folds, "seconds",
                      si->seconds));
    }
    if (j) {
        json_object_set_new(j, "features", json_string(oq_resp_features_name(b->in->features)));
        json_object_set_new(
            json_object_get(j, "gross"), "mix",
            json_string(gi->mix == OQ_GROSS_MIX_ORDERS ? "earlier orders" : "favourite filter"));
    }
    return j ? json_pack("{s:o}", "response_model", j) : NULL;
}

static void free_reward(oq_reward *b)
{
    response_reward *m = (response_reward *)b;
    if (!m) return;
    free(m->rhat_log);
    free(m->rhat_tom);
    free(m->p_order_tom);
    free(m->resp_x);
    free(m->gross_log);
    free(m->seq_x);
    free(m->seq_xt);
    free(m);
}

static const oq_reward_ops ops = {.score_rows = score_rows,
                                  .score_tomorrow = score_tomorrow,
                                  .p_order_tomorrow = p_order_tomorrow,
                                  .report = report,
                                  .free = free_reward};

/* One row of the P(order) learner's training sample, as a part sends it. */
typedef struct srow {
    int64_t user;
    int32_t day;
    uint8_t coupon, order;
    oq_resp_feat x[OQ_RESP_NFEAT + OQ_PMODEL_MAX_EXTRA];
    double profit, aov;
} srow;

static int cmp_srow(const void *a, const void *b)
{
    const srow *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    return (x->day > y->day) - (x->day < y->day);
}

/* Fit on the sample gathered on part 0 (sorted: in (user, day) order, the
 * one-process log's order; else as given) and give the fit to every part
 * as bytes. */
static int fit_gathered(const oq_pmodel_opts *fo, oq_comm *comm, const srow *loc, size_t m,
                        int sorted, oq_pmodel **out, oq_error *err)
{
    size_t w = (size_t)(OQ_RESP_NFEAT + fo->n_extra);
    void *all = NULL, *bytes = NULL;
    size_t counts[OQ_COMM_MAX];
    oq_resp_feat *X = NULL;
    uint8_t *cp = NULL, *od = NULL;
    double *pf = NULL, *av = NULL;
    uint64_t blen = 0;
    int rc = oq_comm_gatherv(comm, 0, loc, m * sizeof *loc, &all, counts, err);
    if (rc) return rc;
    if (oq_comm_rank(comm) == 0) {
        size_t n = 0;
        for (int r = 0; r < oq_comm_size(comm); r++)
            n += counts[r] / sizeof(srow);
        srow *rows = all;
        if (sorted) qsort(rows, n, sizeof *rows, cmp_srow);
        X = malloc((n ? n : 1) * w * sizeof *X);
        cp = malloc(n ? n : 1);
        od = malloc(n ? n : 1);
        pf = malloc((n ? n : 1) * sizeof *pf);
        av = malloc((n ? n : 1) * sizeof *av);
        if (!X || !cp || !od || !pf || !av) {
            rc = oq_error_oom(err, NULL, "the P(order) sample");
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++) {
            memcpy(X + i * w, rows[i].x, w * sizeof *X);
            cp[i] = rows[i].coupon;
            od[i] = rows[i].order;
            pf[i] = rows[i].profit;
            av[i] = rows[i].aov;
        }
        free(all);
        all = NULL;
        size_t len = 0;
#ifdef _OPENMP
        /* the other parts wait: with threads (they sleep) the fit may use
         * every core of the process; the trees do not depend on it */
        int th = omp_get_max_threads();
        if (comm && comm->solo_threads > th) omp_set_num_threads(comm->solo_threads);
#endif
        rc = oq_pmodel_fit(fo, X, cp, od, pf, av, n, out, err);
#ifdef _OPENMP
        omp_set_num_threads(th);
#endif
        if (rc) goto cleanup;
        if (oq_comm_size(comm) > 1 && (rc = oq_pmodel_to_bytes(*out, &bytes, &len, err)))
            goto cleanup;
        blen = len;
    }
    if (oq_comm_size(comm) <= 1) goto cleanup;
    /* the fit's bytes from part 0 to the others */
    if ((rc = oq_comm_bcast(comm, 0, &blen, sizeof blen, err))) goto cleanup;
    if (oq_comm_rank(comm) > 0 && !(bytes = malloc(blen ? blen : 1))) {
        rc = oq_error_oom(err, NULL, "the P(order) model");
        goto cleanup;
    }
    if ((rc = oq_comm_bcast(comm, 0, bytes, blen, err))) goto cleanup;
    if (oq_comm_rank(comm) > 0) rc = oq_pmodel_from_bytes(bytes, blen, out, err);
cleanup:
    if (rc) {
        oq_pmodel_free(*out);
        *out = NULL;
    }
    free(all);
    free(bytes);
    free(X);
    free(cp);
    free(od);
    free(pf);
    free(av);
    return rc;
}

static int in_fold(const oq_log *log, size_t i, int fold)
{
    return fold < 0 || (int)(log->user_id[i] & 1) == fold;
}

int oq_pmodel_fit_log(const oq_pmodel_opts *po, oq_comm *comm, const oq_log *log,
                      const oq_resp_feat *X, int fold, oq_pmodel **out, oq_error *err)
{
    *out = NULL;
    size_t n = log->n;
    uint64_t nall = 0;
    for (size_t i = 0; i < n; i++)
        nall += (uint64_t)in_fold(log, i, fold);
    int rc = oq_comm_sum_u64(comm, &nall, 1, err);
    if (rc) return rc;
    double keep = nall > po->max_rows ? (double)po->max_rows / (double)nall : 1.0;
    oq_pmodel_opts fo = *po;
    fo.max_rows = SIZE_MAX; /* the sample is drawn here */
    fo.quiet = po->quiet || oq_comm_rank(comm) > 0;
    size_t wd = (size_t)(OQ_RESP_NFEAT + po->n_extra); /* X's row width */
    if (oq_comm_size(comm) <= 1 && keep >= 1 && fold < 0) {
        rc = oq_pmodel_fit(&fo, X, log->coupon, log->order, log->profit, log->aov, n, out, err);
    } else {
        size_t m = 0;
        for (size_t i = 0; i < n; i++)
            m += in_fold(log, i, fold) &&
                 oq_pmodel_keep_key(log->user_id[i], log->day[i], po->seed, keep);
        srow *loc = malloc((m ? m : 1) * sizeof *loc);
        if (!loc) return oq_error_oom(err, NULL, "the P(order) sample");
        size_t k = 0;
        for (size_t i = 0; i < n; i++) {
            if (!in_fold(log, i, fold) ||
                !oq_pmodel_keep_key(log->user_id[i], log->day[i], po->seed, keep))
                continue;
            srow *w = &loc[k++];
            memset(w, 0, sizeof *w); /* padding too: the bytes travel */
            w->user = log->user_id[i];
            w->day = log->day[i];
            w->coupon = log->coupon[i];
            w->order = log->order[i];
            memcpy(w->x, X + i * wd, wd * sizeof *X);
            w->profit = log->profit[i];
            w->aov = log->aov[i];
        }
        /* a fold's rows in one part stay in log order (the fit of a copy
         * of those rows, as before) */
        rc = fit_gathered(&fo, comm, loc, m, fold < 0 || oq_comm_size(comm) > 1, out, err);
        free(loc);
    }
    if (!rc) {
        oq_pmodel_info *pi = (oq_pmodel_info *)oq_pmodel_get_info(*out);
        pi->rows = (size_t)nall;
    }
    return rc;
}

/* Fit on the log's rows and predict r^ for them and for tomorrow's customers
 * (index order). The response model's BG/NBD feature of customer u just
 * before day d is f[10] = P(alive) (1 without a purchase). (E[X(30)] as a
 * further feature was tried: no gain on seeds 1-3.) */
int oq_reward_response_fit(const oq_reward_input *in, oq_reward **out, oq_error *err)
{
    *out = NULL;
    const oq_log *log = in->log;
    const oq_log_index *ix = in->ix;
    oq_events *ev = NULL;
    oq_events_ix *evx = NULL;
    size_t n = log->n, nc = ix->n_customers;
    int32_t tomorrow = in->day;
    response_reward *m = calloc(1, sizeof *m);
    oq_resp_feat *X = malloc((n ? n : 1) * OQ_RESP_NFEAT * sizeof *X);
    oq_resp_feat *Xt = malloc((nc ? nc : 1) * OQ_RESP_NFEAT * sizeof *Xt);
    double *g_tom = malloc((nc ? nc : 1) * sizeof *g_tom);
    oq_resp_feat *XS = NULL, *XtS = NULL; /* with --seq-features: (n, F + 4), (nc, F + 4) */
    oq_pmodel *pm = NULL;
    int rc = 0;
    if (m) {
        m->rhat_log = malloc((n ? n : 1) * 4 * sizeof *m->rhat_log);
        m->rhat_tom = malloc((nc ? nc : 1) * 4 * sizeof *m->rhat_tom);
        m->p_order_tom = malloc((nc ? nc : 1) * 4 * sizeof *m->p_order_tom);
        m->gross_log = malloc((n ? n : 1) * sizeof *m->gross_log);
    }
    if (!m || !X || !Xt || !g_tom || !m->rhat_log || !m->rhat_tom || !m->p_order_tom ||
        !m->gross_log) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    m->base = (oq_reward){.ops = &ops, .kind = OQ_REWARD_RESPONSE, .rhat_has_alive = 1, .in = in};
    snprintf(m->base.name, sizeof m->base.name,
             "BG/NBD P(alive) x response-model r^ (P(order | history, coupon) x margin)");
    if ((rc = oq_reward_read_events(in, &ev, m->events, sizeof m->events, err))) goto cleanup;
    if (ev && (rc = oq_events_ix_build(ev, ix, &evx, err))) goto cleanup;
    if ((rc = oq_resp_features(log, ix, ev, evx, tomorrow, X, Xt, err))) goto cleanup;
    for (size_t i = 0; i < n; i++)
        X[i * OQ_RESP_NFEAT + 10] =
            (oq_resp_feat)oq_alive_p(in->alive, log->user_id[i], log->day[i]);
    for (size_t c = 0; c < nc; c++)
        Xt[c * OQ_RESP_NFEAT + 10] = (oq_resp_feat)oq_alive_p(in->alive, ix->user_id[c], tomorrow);
    if ((rc = fit_gross(m, in, ev, evx, g_tom, X, Xt, err))) goto cleanup;
    oq_events_ix_free(evx); /* the features hold what the fit needs from them */
    evx = NULL;
    oq_events_free(ev);
    ev = NULL;
    /* P(order) from the chosen learner (pmodel.h), written into rhat_log /
     * p_order_tom and turned into r^ = P (g - value) in place. */
    oq_pmodel_opts po;
    if (in->pmodel) {
        po = *in->pmodel;
    } else {
        oq_pmodel_opts_default(&po);
        po.seed = in->seed ? in->seed : 1;
    }
    po.quiet = po.quiet || in->quiet;
    const oq_resp_feat *Xf = X, *Xtf = Xt; /* the trees' inputs */
    if (in->seq_features) {
        /* the history features, then the sequence model's 4 cross-fitted
         * logits (reward_int.h) */
        const size_t w = OQ_RESP_NFEAT + 4;
        if (oq_comm_size(in->comm) > 1 || po.kind != OQ_PMODEL_BOOST) {
            rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                              "--seq-features needs the boosted P(order) model and one part");
            goto cleanup;
        }
        if (!(XS = malloc((n ? n : 1) * w * sizeof *XS)) ||
            !(XtS = malloc((nc ? nc : 1) * w * sizeof *XtS))) {
            rc = oq_error_oom(err, NULL, NULL);
            goto cleanup;
        }
        for (size_t i = 0; i < n; i++)
            memcpy(XS + i * w, X + i * OQ_RESP_NFEAT, OQ_RESP_NFEAT * sizeof *X);
        for (size_t c = 0; c < nc; c++)
            memcpy(XtS + c * w, Xt + c * OQ_RESP_NFEAT, OQ_RESP_NFEAT * sizeof *Xt);
        if ((rc = oq_seq_fold_logits(
                 in,
                 in->features == OQ_RESP_FEATURES_RAW ? OQ_GROSS_MIX_ORDERS : OQ_GROSS_MIX_FILTER,
                 XS + OQ_RESP_NFEAT, w, XtS + OQ_RESP_NFEAT, w, &m->seq_info, err)))
            goto cleanup;
        m->seq_features = 1;
        po.n_extra = 4;
        Xf = XS;
        Xtf = XtS;
    }
    if ((rc = oq_pmodel_fit_log(&po, in->comm, log, Xf, -1, &pm, err)) ||
        (rc = oq_pmodel_predict(pm, Xf, n, m->rhat_log, err)) ||
        (rc = oq_pmodel_predict(pm, Xtf, nc, m->p_order_tom, err)))
        goto cleanup;
    if (in->keep_seq_columns && XS) {
        m->seq_x = XS;
        m->seq_xt = XtS;
        XS = XtS = NULL;
    }
    m->pinfo = *oq_pmodel_get_info(pm);
    /* the log-loss over every part's rows (a sum, then the mean) */
    double llsum[2] = {oq_pmodel_logloss_sum(m->rhat_log, log->coupon, log->order, n), 0};
    if ((rc = oq_comm_sum(in->comm, llsum, 1, err))) goto cleanup;
    m->pinfo.train_logloss = m->pinfo.rows ? llsum[0] / (double)m->pinfo.rows : 0;
    if (po.kind == OQ_PMODEL_LOGISTIC) {
        m->resp = *oq_pmodel_logistic(pm);
    } else { /* only the rows and orders per coupon, for the report */
        memset(&m->resp, 0, sizeof m->resp);
        for (size_t i = 0; i < n; i++) {
            m->resp.n_rows[log->coupon[i]]++;
            m->resp.orders[log->coupon[i]] += log->order[i];
        }
        uint64_t nr[4] = {m->resp.n_rows[0], m->resp.n_rows[1], m->resp.n_rows[2],
                          m->resp.n_rows[3]};
        if ((rc = oq_comm_sum_u64(in->comm, nr, 4, err)) ||
            (rc = oq_comm_sum(in->comm, m->resp.orders, 4, err)))
            goto cleanup;
        for (int c = 0; c < 4; c++)
            m->resp.n_rows[c] = (size_t)nr[c];
    }
    oq_pmodel_free(pm); /* XGBoost's working memory: many small blocks; give them back */
    pm = NULL;
#if defined(__GLIBC__) && !defined(__SANITIZE_ADDRESS__)
    /* (not under ASan: glibc's trim from a part's thread, with ASan's
     * allocator in place, trips glibc's arena check when the thread ends) */
    malloc_trim(0);
#endif
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 4; c++)
            m->rhat_log[4 * i + c] *= m->gross_log[i] - oq_coupon_value(c);
    if (!in->keep_features) { /* only evaluate's cross-fit needs g per row again */
        free(m->gross_log);
        m->gross_log = NULL;
    }
    for (size_t c = 0; c < nc; c++)
        for (int a = 0; a < 4; a++)
            m->rhat_tom[4 * c + a] = m->p_order_tom[4 * c + a] * (g_tom[c] - oq_coupon_value(a));
    if (!strcmp(m->events, "none") && oq_comm_rank(in->comm) == 0)
        fprintf(stderr, "offerq: warning: no browsing events (<stem>.events.csv or --events): "
                        "the response model sees no browsing, and the targeting that rests on "
                        "it is lost. Measured on offerq's default simulated world: 48.6 %% of "
                        "the oracle's uplift without events, 91.9 %% with; a shop loses what "
                        "its own browsing says (docs/readme/dynaq.md, \"What each input is "
                        "worth\")\n");
    if (!in->quiet && oq_comm_rank(in->comm) == 0)
        fprintf(stderr,
                "offerq: response model on %zu rows (events: %s): P(order) by %s, log-loss "
                "%.4f, %.2fs; order rate none/5/10/20 = %.3f/%.3f/%.3f/%.3f\n",
                m->pinfo.rows, m->events, oq_pmodel_name(m->pinfo.kind), m->pinfo.train_logloss,
                m->pinfo.seconds, m->resp.orders[0] / (double)m->resp.n_rows[0],
                m->resp.orders[1] / (double)m->resp.n_rows[1],
                m->resp.orders[2] / (double)m->resp.n_rows[2],
                m->resp.orders[3] / (double)m->resp.n_rows[3]);
    if (in->keep_features) {
        m->resp_x = X;
        X = NULL;
    }
    *out = &m->base;
    m = NULL;
cleanup:
    free_reward(m ? &m->base : NULL);
    oq_pmodel_free(pm);
    free(g_tom);
    free(X);
    free(Xt);
    free(XS);
    free(XtS);
    oq_events_ix_free(evx);
    oq_events_free(ev);
    return rc;
}

int oq_reward_response_seq_columns(const oq_reward *b, const oq_resp_feat **rows,
                                   const oq_resp_feat **tomorrow, oq_error *err)
{
    const response_reward *m = (const response_reward *)b;
    if (b->kind != OQ_REWARD_RESPONSE || !m->seq_x)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the response model's sequence columns were not kept");
    *rows = m->seq_x;
    *tomorrow = m->seq_xt;
    return 0;
}

int oq_reward_response_rows(const oq_reward *b, const oq_resp_feat **features, const double **rhat,
                            const double **g, oq_error *err)
{
    const response_reward *m = (const response_reward *)b;
    if (b->kind != OQ_REWARD_RESPONSE || !m->resp_x || !m->gross_log)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the response model's row features were not kept");
    *features = m->resp_x;
    *rhat = m->rhat_log;
    *g = m->gross_log;
    return 0;
}
