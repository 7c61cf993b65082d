/* pipeline.c - the nightly coupon job; see include/offerq/coupon/pipeline.h.
 * Includes the INTERIM scorer that stands in for BG/NBD x Transformer. */
#include "offerq/coupon/pipeline.h"
#include "offerq/coupon/models.h"
#include "util/json.h"
#include "offerq/core/io.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- interim scorer ---------------------------------------------------------------- */

/* Back-off levels, coarse to fine. Each is a Q-table-shaped hash from a key
 * to 4 sums (q: net reward) and 4 counts (visits); orders in a twin table. */
enum { LV_COUPON, LV_CAT, LV_NOBUDGET, LV_FULL, N_LV };

struct oq_interim {
    oq_dynaq_disc disc;
    double prior;
    oq_qtable *reward[N_LV]; /* q = sum of net reward, visits = rows */
    oq_qtable *orders[N_LV]; /* q = orders */
};

static uint64_t level_key(int lv, uint64_t full)
{
    switch (lv) {
    case LV_COUPON:
        return 0;
    case LV_CAT:
        return full & 0xffff;
    case LV_NOBUDGET:
        return full & ~((uint64_t)0xff << 16);
    default:
        return full;
    }
}

void oq_interim_free(oq_interim *m)
{
    if (!m) return;
    for (int l = 0; l < N_LV; l++) {
        oq_qtable_free(m->reward[l]);
        oq_qtable_free(m->orders[l]);
    }
    free(m);
}

int oq_interim_fit(const oq_log *log, const oq_dynaq_disc *d, double prior, oq_interim **out,
                   oq_error *err)
{
    *out = NULL;
    oq_interim *m = calloc(1, sizeof *m);
    if (!m) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = 0;
    m->disc = *d;
    m->prior = prior > 0 ? prior : 20;
    for (int l = 0; l < N_LV; l++)
        if ((rc = oq_qtable_new(d, &m->reward[l], err)) ||
            (rc = oq_qtable_new(d, &m->orders[l], err)))
            goto cleanup;
    for (size_t i = 0; i < log->n; i++) {
        uint64_t k = oq_dynaq_key_row(d, log, i);
        int a = log->coupon[i];
        for (int l = 0; l < N_LV; l++) {
            size_t e, eo;
            if (oq_qtable_insert(m->reward[l], level_key(l, k), &e) ||
                oq_qtable_insert(m->orders[l], level_key(l, k), &eo)) {
                rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
                goto cleanup;
            }
            m->reward[l]->q[e * 4 + a] += oq_log_reward(log, i);
            m->reward[l]->visits[e * 4 + a]++;
            m->orders[l]->q[eo * 4 + a] += log->order[i];
        }
    }
    *out = m;
    m = NULL;
cleanup:
    oq_interim_free(m);
    return rc;
}

/* Shrunken estimates of mean reward (r) and order rate (p) for a state key:
 * est_l = (sum_l + prior * est_{l-1}) / (n_l + prior), from coarse to fine. */
static void interim_estimate(const oq_interim *m, uint64_t key, double *r, double *p)
{
    for (int a = 0; a < OQ_N_COUPONS; a++)
        r[a] = p[a] = 0;
    for (int l = 0; l < N_LV; l++) {
        long e = oq_qtable_find(m->reward[l], level_key(l, key));
        long eo = oq_qtable_find(m->orders[l], level_key(l, key));
        if (e < 0 || eo < 0) break; /* finer levels cannot exist either */
        for (int a = 0; a < OQ_N_COUPONS; a++) {
            double n = m->reward[l]->visits[e * 4 + a];
            double w = l == LV_COUPON ? 1e-9 : m->prior; /* the top level: plain mean */
            r[a] = (m->reward[l]->q[e * 4 + a] + w * r[a]) / (n + w);
            p[a] = (m->orders[l]->q[eo * 4 + a] + w * p[a]) / (n + w);
        }
    }
}

static int interim_score(void *ctx, const oq_log *log, const size_t *rows, size_t n,
                         double *p_alive, double *rhat, oq_error *err)
{
    const oq_interim *m = ctx;
    double p[OQ_N_COUPONS];
    for (size_t k = 0; k < n; k++) {
        interim_estimate(m, oq_dynaq_key_row(&m->disc, log, rows[k]), rhat + k * 4, p);
        p_alive[k] = 1.0; /* INTERIM: no survival model yet */
    }
    return 0;
}

oq_scorer oq_interim_scorer(oq_interim *m)
{
    return (oq_scorer){.name = "interim-empirical (P(alive)=1, mean reward per state x coupon)",
                       .interim = 1,
                       .score = interim_score,
                       .ctx = m};
}

void oq_interim_p_order(const oq_interim *m, const oq_log *log, const size_t *rows, size_t n,
                        double *p)
{
    double r[OQ_N_COUPONS];
    for (size_t k = 0; k < n; k++)
        interim_estimate(m, oq_dynaq_key_row(&m->disc, log, rows[k]), r, p + k * 4);
}

/* ---- the run ---------------------------------------------------------------------- */

void oq_pipeline_opts_default(oq_pipeline_opts *o)
{
    memset(o, 0, sizeof *o);
    o->budget = INFINITY;
    oq_dynaq_disc_default(&o->disc);
    oq_dynaq_config_default(&o->dq);
    o->reward = OQ_REWARD_RESPONSE;
    o->profit_epochs = 3;
    o->continuation = 0;
    o->shards = 1;
    oq_pmodel_opts_default(&o->pmodel);
}

const char *oq_pipeline_stage_name(int s)
{
    static const char *n[OQ_N_STAGES] = {"ingest", "scorer_fit", "score", "dynaq", "plan", "write"};
    return s >= 0 && s < OQ_N_STAGES ? n[s] : "?";
}

void oq_pipeline_result_free(oq_pipeline_result *r)
{
    if (!r) return;
    free(r->user_id);
    free(r->state);
    free(r->coupon);
    free(r->expected_profit);
    free(r->p_alive);
    oq_qtable_free(r->q);
    free(r);
}

/* Tomorrow's snapshot of every customer, derived from its latest log row:
 * days since the last purchase advanced to `tomorrow`, purchases_last_30d
 * carried (plus the latest day's order; 0 once the last purchase is more than
 * 30 days back), aov, category and the latest budget level carried over. */
static int tomorrow_log(const oq_log *log, const oq_log_index *ix, int32_t tomorrow, oq_log **out,
                        oq_error *err)
{
    *out = NULL;
    size_t nc = ix->n_customers;
    oq_log *t = calloc(1, sizeof *t);
    if (!t) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    size_t c = nc ? nc : 1;
    t->user_id = malloc(c * sizeof *t->user_id);
    t->day = malloc(c * sizeof *t->day);
    t->days_since = malloc(c * sizeof *t->days_since);
    t->purchases_30d = malloc(c * sizeof *t->purchases_30d);
    t->aov = malloc(c * sizeof *t->aov);
    t->category = malloc(c * sizeof *t->category);
    t->budget = malloc(c * sizeof *t->budget);
    t->coupon = calloc(c, sizeof *t->coupon);
    t->order = calloc(c, sizeof *t->order);
    t->profit = calloc(c, sizeof *t->profit);
    int rc = 0;
    if (!t->user_id || !t->day || !t->days_since || !t->purchases_30d || !t->aov || !t->category ||
        !t->budget || !t->coupon || !t->order || !t->profit) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    for (uint32_t k = 0; k < log->cats.n; k++) {
        uint32_t id;
        if (oq_dict_intern(&t->cats, log->cats.names[k], strlen(log->cats.names[k]), &id)) {
            rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
            goto cleanup;
        }
    }
    /* The budget level of the latest day in the log. */
    float budget = 1;
    int32_t last_day = INT32_MIN;
    for (size_t i = 0; i < log->n; i++)
        if (log->day[i] > last_day || (log->day[i] == last_day && log->budget[i] < budget)) {
            last_day = log->day[i];
            budget = log->budget[i];
        }
    for (size_t cu = 0; cu < nc; cu++) {
        size_t i = ix->row[ix->start[cu + 1] - 1];
        int32_t last_buy = log->order[i] ? log->day[i] : log->day[i] - log->days_since[i];
        int32_t ds = tomorrow - last_buy;
        t->user_id[cu] = log->user_id[i];
        t->day[cu] = tomorrow;
        t->days_since[cu] = ds;
        t->purchases_30d[cu] = ds > 30 ? 0 : log->purchases_30d[i] + log->order[i];
        t->aov[cu] = log->aov[i];
        t->category[cu] = log->category[i];
        t->budget[cu] = budget;
    }
    t->n = t->cap = nc;
    *out = t;
    t = NULL;
cleanup:
    oq_log_free(t);
    return rc;
}

static int make_dir(const char *dir, oq_error *err)
{
    if (mkdir(dir, 0777) == 0 || errno == EEXIST) return 0;
    return oq_error_set(err, OQ_EIO, dir, 0, 0, "cannot create directory: %s", strerror(errno));
}

/* The models: P(alive) from a BG/NBD fit on the purchases (models.h); r^
 * from the empirical interim estimate until the profit Transformer is wired
 * in (the scorer's name and the interim flag say which). */
static int pipeline_scorer(const oq_pipeline_opts *o, const oq_log *log, const oq_log_index *ix,
                           int32_t tomorrow, oq_interim **interim, oq_models **models,
                           oq_scorer *out, oq_error *err)
{
    int rc = oq_interim_fit(log, &o->disc, 0, interim, err);
    if (rc) return rc;
    oq_scorer rhat = oq_interim_scorer(*interim);
    rhat.name = "interim empirical r^ (mean net reward per state x coupon)";
    char save[4096];
    int have_dir =
        o->out_dir && snprintf(save, sizeof save, "%s/model.ofq", o->out_dir) < (int)sizeof save;
    if (have_dir && (rc = make_dir(o->out_dir, err))) return rc;
    oq_pmodel_opts po = o->pmodel;
    po.seed = o->dq.seed;
    po.quiet = o->quiet;
    oq_models_opts mo = {.log_path = o->log_path,
                         .orders_path = o->orders_path,
                         .quiet = o->quiet,
                         .reward = o->reward,
                         .events_path = o->events_path,
                         .model_path = o->model_path,
                         .save_model = have_dir && !o->model_path ? save : NULL,
                         .epochs = o->profit_epochs,
                         .seed = o->dq.seed,
                         .ix = ix,
                         .tomorrow = tomorrow,
                         .pmodel = &po};
    if ((rc = oq_models_fit(log, &mo, rhat, models, err))) return rc;
    *out = oq_models_scorer(*models);
    return 0;
}

static int write_json(const char *path, json_t *root, oq_error *err)
{
    return oq_json_write_atomic(path, root, err);
}

static int write_recs(const char *path, const oq_pipeline_result *r, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    char date[11], st[48];
    oq_date_format(r->tomorrow, date);
    fputs("user_id,snapshot_date,state,coupon,expected_profit,p_alive\n", af.fp);
    for (size_t c = 0; c < r->n; c++) {
        oq_dynaq_key_format(r->state[c], st, sizeof st);
        fprintf(af.fp, "%lld,%s,%s,%s,%.4f,%.4f\n", (long long)r->user_id[c], date, st,
                oq_coupon_name(r->coupon[c]), r->expected_profit[c], r->p_alive[c]);
    }
    return oq_afile_commit(&af, err);
}

/* A small line chart of the learning curve (mean |TD error| of real steps). */
static int write_svg(const char *path, const oq_dynaq_stats *s, int faithful, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    const double W = 640, H = 360, L = 60, R = 20, T = 40, B = 50;
    double ymax = 0;
    for (int k = 0; k < s->n_curve; k++)
        if (s->curve[k] > ymax) ymax = s->curve[k];
    if (ymax <= 0) ymax = 1;
    FILE *f = af.fp;
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n",
            W, H);
    fprintf(f, "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n");
    fprintf(f,
            "<text x=\"%g\" y=\"22\" font-size=\"14\">Dyna-Q%s: mean |TD error| of real "
            "steps (%d epochs)</text>\n",
            L, faithful ? " (seed-faithful)" : "", s->epochs);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", L, H - B,
            W - R, H - B);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", L, T, L,
            H - B);
    for (int k = 0; k <= 4; k++) {
        double y = H - B - (H - B - T) * k / 4.0;
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"end\">%.3g</text>\n", L - 5, y + 4,
                ymax * k / 4);
    }
    for (int e = 0; e <= s->epochs; e++) {
        double x = L + (W - L - R) * e / (double)(s->epochs ? s->epochs : 1);
        fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%d</text>\n", x, H - B + 18, e);
    }
    fprintf(f, "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">epoch</text>\n", (W + L) / 2,
            H - 10);
    fprintf(f, "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"");
    for (int k = 0; k < s->n_curve; k++) {
        double x = L + (W - L - R) * (k + 0.5) / (double)s->n_curve;
        double y = H - B - (H - B - T) * s->curve[k] / ymax;
        fprintf(f, "%.1f,%.1f ", x, y);
    }
    fprintf(f, "\"/>\n</svg>\n");
    return oq_afile_commit(&af, err);
}

static json_t *params_json(const oq_pipeline_opts *o, const oq_pipeline_result *r)
{
    const oq_dynaq_config *c = &o->dq;
    json_t *j = json_pack(
        "{s:s?, s:o, s:I, s:b, s:{s:f, s:f, s:f, s:f}, s:{s:i, s:i, s:f, s:f, s:f, s:s, s:f, "
        "s:f}, s:{s:s, s:b, s:s}}",
        "log", o->log_path, "budget", isfinite(o->budget) ? json_real(o->budget) : json_null(),
        "seed", (json_int_t)c->seed, "faithful", c->faithful, "state", "w_days", o->disc.w_days,
        "w_p30", o->disc.w_p30, "w_aov", o->disc.w_aov, "budget_levels", o->disc.budget_levels,
        "dynaq", "epochs", c->epochs, "plan_k", c->plan_k, "eps0", c->eps0, "eps_end", c->eps_end,
        "alpha0", c->alpha0, "alpha_mode",
        c->faithful                             ? "constant"
        : c->alpha_mode == OQ_DYNAQ_ALPHA_DECAY ? "decay"
                                                : "1/n(s,a)",
        "alpha_min", c->alpha_min, "gamma", c->gamma, "scorer", "name", r->scorer_name, "interim",
        r->scorer_interim, "reward", oq_reward_name(o->reward));
    if (j) json_object_set_new(json_object_get(j, "dynaq"), "shards", json_integer(o->shards));
    if (j)
        json_object_set_new(
            j, "plan",
            json_pack("{s:s}", "objective",
                      o->continuation ? "r~ + gamma E[V(s')] (continuation)" : "tomorrow's r~"));
    if (j && o->reward == OQ_REWARD_RESPONSE) {
        const oq_pmodel_opts *p = &o->pmodel;
        json_object_set_new(json_object_get(j, "scorer"), "p_model",
                            json_pack("{s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:I}", "kind",
                                      oq_pmodel_name(p->kind), "trees", p->trees, "depth", p->depth,
                                      "eta", p->eta, "subsample", p->subsample, "min_child_weight",
                                      p->min_child_weight, "lambda", p->lambda, "max_rows",
                                      (json_int_t)p->max_rows));
    }
    return j;
}

static json_t *report_json(const oq_pipeline_opts *o, const oq_pipeline_result *r)
{
    const oq_dynaq_stats *s = &r->stats;
    json_t *t = json_object(), *ep = json_array(), *curve = json_array();
    double total = 0;
    for (int k = 0; k < OQ_N_STAGES; k++) {
        json_object_set_new(t, oq_pipeline_stage_name(k), json_real(r->stage_s[k]));
        total += r->stage_s[k];
    }
    json_object_set_new(t, "total", json_real(total));
    for (int e = 0; e < s->epochs; e++)
        json_array_append_new(ep, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "epoch", e + 1,
                                            "epsilon", s->eps[e], "alpha_mean", s->alpha[e],
                                            "td_abs_real", s->td_real[e], "td_abs_plan",
                                            s->td_plan[e], "mean_greedy_q", s->mean_q[e]));
    for (int k = 0; k < s->n_curve; k++)
        json_array_append_new(curve, json_real(s->curve[k]));
    size_t per_coupon[OQ_N_COUPONS] = {0};
    for (size_t c = 0; c < r->n; c++)
        per_coupon[r->coupon[c]]++;
    char date[11];
    oq_date_format(r->tomorrow, date);
    json_t *rep = json_pack(
        "{s:{s:s, s:b, s:s}, s:o, s:{s:s, s:i, s:I, s:I, s:I, s:o, s:o}, s:{s:s, s:I, s:I, "
        "s:o, s:f, s:f, s:{s:I, s:I, s:I, s:I}}}",
        "scorer", "name", r->scorer_name, "interim", r->scorer_interim, "note",
        r->scorer_interim ? "P(alive) from BG/NBD; r^ is the INTERIM empirical mean net reward per "
                            "state x coupon, a stand-in for the profit Transformer"
                          : "models",
        "timings_s", t, "dynaq", "mode", o->dq.faithful ? "seed-faithful" : "dyna-q", "epochs",
        s->epochs, "real_steps", (json_int_t)s->real_steps, "plan_steps", (json_int_t)s->plan_steps,
        "states", (json_int_t)s->states, "per_epoch", ep, "learning_curve_td_abs", curve, "plan",
        "date", date, "customers", (json_int_t)r->n, "from_q_table", (json_int_t)r->from_q,
        "budget", isfinite(o->budget) ? json_real(o->budget) : json_null(), "expected_spend",
        r->plan_spend, "objective", r->plan_value, "coupons", "none", (json_int_t)per_coupon[0],
        "5", (json_int_t)per_coupon[1], "10", (json_int_t)per_coupon[2], "20",
        (json_int_t)per_coupon[3]);
    if (rep && (r->profit_epochs || r->profit_loaded)) {
        json_t *pe = json_array();
        for (int e = 0; e < r->profit_epochs; e++)
            json_array_append_new(pe,
                                  json_pack("{s:i, s:f, s:f, s:f}", "epoch", e + 1, "train_mse",
                                            r->profit_train_mse[e], "val_mse", r->profit_val_mse[e],
                                            "val_mse_predict_mean", r->profit_val_mse_mean[e]));
        json_object_set_new(rep, "profit_model",
                            json_pack("{s:b, s:o, s:s}", "loaded", r->profit_loaded, "epochs", pe,
                                      "events", r->profit_events));
    }
    if (rep && r->has_resp) {
        const oq_resp *m = &r->resp;
        const oq_pmodel_info *pi = &r->pinfo;
        const oq_gross_info *gi = &r->ginfo;
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
        json_object_set_new(
            rep, "response_model",
            json_pack("{s:s, s:o, s:{s:s, s:i, s:i, s:I, s:I, s:f, s:f}, s:{s:s, s:I, s:i, s:f, "
                      "s:f, s:f, s:f, s:f, s:f, s:f}}",
                      "events", r->profit_events, "arms", arms, "p_model", "kind",
                      oq_pmodel_name(pi->kind), "trees", pi->trees, "depth", pi->depth, "rows_used",
                      (json_int_t)pi->rows_used, "rows", (json_int_t)pi->rows, "train_logloss",
                      pi->train_logloss, "seconds", pi->seconds, "gross", "source",
                      gi->from_orders ? "purchases file" : "log order rows", "orders",
                      (json_int_t)gi->n_orders, "categories", (int)gi->n_cats_used, "drift",
                      gi->drift, "concentration", gi->conc, "alpha", gi->alpha, "level_mean",
                      gi->m0, "level_var", gi->sa2, "order_var", gi->se2, "mix_factor", gi->pop_f));
    }
    if (rep && r->has_bgnbd)
        json_object_set_new(rep, "bgnbd",
                            json_pack("{s:f, s:f, s:f, s:f, s:f, s:b, s:s, s:s}", "r", r->bgnbd.r,
                                      "alpha", r->bgnbd.alpha, "a", r->bgnbd.a, "b", r->bgnbd.b,
                                      "ll", r->bgnbd_ll, "converged", r->bgnbd_converged,
                                      "time_unit", "day", "purchases", r->purchase_source));
    return rep;
}

static int write_outputs(const oq_pipeline_opts *o, const oq_pipeline_result *r, oq_error *err)
{
    char path[4096];
    int rc = make_dir(o->out_dir, err);
    json_t *j = NULL;
#define PATH(name)                                                                                 \
    if (snprintf(path, sizeof path, "%s/%s", o->out_dir, name) >= (int)sizeof path) {              \
        rc = oq_error_set(err, OQ_EINVAL, o->out_dir, 0, 0, "path too long");                      \
        goto cleanup;                                                                              \
    }
    if (rc) return rc;
    PATH("qtable.ofq");
    if ((rc = oq_qtable_save(r->q, path, err))) goto cleanup;
    PATH("params.json");
    if (!(j = params_json(o, r))) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    if ((rc = write_json(path, j, err))) goto cleanup;
    json_decref(j);
    j = NULL;
    PATH("learning_curve.svg");
    if ((rc = write_svg(path, &r->stats, o->dq.faithful, err))) goto cleanup;
    PATH("recommendations.csv");
    if ((rc = write_recs(path, r, err))) goto cleanup;
    PATH("bgnbd.json");
    if (r->has_bgnbd && (rc = oq_bgnbd_params_save(path, &r->bgnbd_fit, 0, 1, err))) goto cleanup;
cleanup:
#undef PATH
    json_decref(j);
    return rc;
}

int oq_pipeline_run(const oq_pipeline_opts *o, const oq_log *log_in, oq_pipeline_result **out,
                    oq_error *err)
{
    *out = NULL;
    oq_log *own = NULL, *tlog = NULL;
    oq_log_index *ix = NULL;
    oq_interim *interim = NULL;
    oq_models *models = NULL;
    oq_pipeline_result *r = calloc(1, sizeof *r);
    double *p_alive = NULL, *rtilde = NULL, *tp = NULL, *tr = NULL, *po = NULL, *val = NULL,
           *spend = NULL;
    size_t *rows = NULL, *rcnt = NULL;
    double *rbar = NULL;
    int rc = 0;
    if (!r) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    if (!(o->budget >= 0)) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "budget must be >= 0");
        goto cleanup;
    }
    /* 1. ingest */
    double t0 = oq_now();
    const oq_log *log = log_in;
    if (!log) {
        if ((rc = oq_log_read(o->log_path, &own, err))) goto cleanup;
        log = own;
    }
    if (log->n == 0) {
        rc = oq_error_set(err, OQ_EINVAL, o->log_path, 0, 0, "the log has no rows");
        goto cleanup;
    }
    if ((rc = oq_log_index_build(log, &ix, err))) goto cleanup;
    double t1 = oq_now();
    r->stage_s[OQ_STAGE_INGEST] = t1 - t0;
    /* 2. models (BG/NBD, profit) -> scorer; INTERIM until they are merged */
    oq_scorer scorer;
    int32_t last = INT32_MIN;
    for (size_t i = 0; i < log->n; i++)
        if (log->day[i] > last) last = log->day[i];
    r->tomorrow = last + 1;
    if ((rc = pipeline_scorer(o, log, ix, r->tomorrow, &interim, &models, &scorer, err)))
        goto cleanup;
    snprintf(r->scorer_name, sizeof r->scorer_name, "%s", scorer.name);
    r->scorer_interim = scorer.interim;
    {
        const oq_bgnbd_fit_report *f = oq_models_bgnbd(models);
        r->has_bgnbd = 1;
        r->bgnbd = f->p;
        r->bgnbd_ll = f->ll;
        r->bgnbd_converged = f->converged;
        r->bgnbd_fit = *f;
        snprintf(r->purchase_source, sizeof r->purchase_source, "%s",
                 oq_models_purchase_source(models));
        const oq_models_profit_report *pp = oq_models_profit(models);
        r->profit_epochs = pp->trained ? pp->epochs : 0;
        r->profit_loaded = pp->loaded;
        for (int e = 0; e < r->profit_epochs; e++) {
            r->profit_val_mse[e] = pp->val_mse[e];
            r->profit_val_mse_mean[e] = pp->val_mse_mean[e];
            r->profit_train_mse[e] = pp->train_mse[e];
        }
        snprintf(r->profit_events, sizeof r->profit_events, "%s", pp->events);
        r->reward = o->reward;
        const oq_resp *rm = oq_models_response(models);
        if (rm) {
            r->has_resp = 1;
            r->resp = *rm;
            r->pinfo = *oq_models_pmodel(models);
            r->ginfo = *oq_models_gross(models);
        }
    }
    double t2 = oq_now();
    r->stage_s[OQ_STAGE_FIT] = t2 - t1;
    /* 3. r~ = P(alive) x r^ of every row and coupon, in batches */
    size_t n = log->n;
    p_alive = malloc(n * sizeof *p_alive);
    rtilde = malloc(n * 4 * sizeof *rtilde);
    if (!p_alive || !rtilde) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    if ((rc = oq_scorer_score_all(&scorer, log, 0, p_alive, rtilde, err))) goto cleanup;
    double t3 = oq_now();
    r->stage_s[OQ_STAGE_SCORE] = t3 - t2;
    /* 4. Dyna-Q */
    if ((rc = oq_qtable_new(&o->disc, &r->q, err))) goto cleanup;
    oq_dynaq_config dq = o->dq;
    dq.quiet = o->quiet;
    if ((rc = oq_dynaq_train_sharded(r->q, log, ix, rtilde, &dq, o->shards, &r->stats, err)))
        goto cleanup;
    double t4 = oq_now();
    r->stage_s[OQ_STAGE_DYNAQ] = t4 - t3;
    /* 5. tomorrow's states, scores and the budget plan */
    if ((rc = tomorrow_log(log, ix, r->tomorrow, &tlog, err))) goto cleanup;
    if (!tlog) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    size_t nc = tlog->n;
    r->n = nc;
    r->user_id = malloc((nc ? nc : 1) * sizeof *r->user_id);
    r->state = malloc((nc ? nc : 1) * sizeof *r->state);
    r->coupon = malloc((nc ? nc : 1) * sizeof *r->coupon);
    r->expected_profit = malloc((nc ? nc : 1) * sizeof *r->expected_profit);
    r->p_alive = malloc((nc ? nc : 1) * sizeof *r->p_alive);
    tr = malloc((nc ? nc : 1) * 4 * sizeof *tr);
    po = malloc((nc ? nc : 1) * 4 * sizeof *po);
    val = malloc((nc ? nc : 1) * 4 * sizeof *val);
    spend = malloc((nc ? nc : 1) * 4 * sizeof *spend);
    rows = malloc((nc ? nc : 1) * sizeof *rows);
    if (!r->user_id || !r->state || !r->coupon || !r->expected_profit || !r->p_alive || !tr ||
        !po || !val || !spend || !rows) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    if ((rc = oq_scorer_score_all(&scorer, tlog, 0, r->p_alive, tr, err))) goto cleanup;
    for (size_t c = 0; c < nc; c++)
        rows[c] = c;
    /* P(order | coupon): the response model's, per customer, or else the
     * interim estimate per state (then times P(alive)). */
    const double *po_resp = oq_models_p_order_tomorrow(models);
    if (po_resp)
        memcpy(po, po_resp, nc * 4 * sizeof *po);
    else
        oq_interim_p_order(interim, tlog, rows, nc, po);
    /* The continuation gamma E[V(s') | s, a] (--continuation): the mean over
     * the log's real steps from s with coupon a of gamma max_a' Q(s', a')
     * (0 at a customer's last row); a coupon never logged in s gets the
     * state's mean over its steps. rbar (S, 4) sums, rcnt (S, 4) counts. */
    if (!(rbar = calloc(r->q->n * 4 + 1, sizeof *rbar)) ||
        !(rcnt = calloc(r->q->n * 4 + 1, sizeof *rcnt))) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    for (size_t c = 0; o->continuation && c < ix->n_customers; c++)
        for (size_t k = ix->start[c]; k < ix->start[c + 1]; k++) {
            size_t i = ix->row[k];
            long e = oq_qtable_find(r->q, oq_dynaq_key_row(&o->disc, log, i));
            if (e < 0) continue;
            double v = 0;
            if (k + 1 < ix->start[c + 1]) {
                long e2 = oq_qtable_find(r->q, oq_dynaq_key_row(&o->disc, log, ix->row[k + 1]));
                if (e2 >= 0) {
                    const double *q2 = r->q->q + (size_t)e2 * 4;
                    v = q2[0];
                    for (int a = 1; a < OQ_N_COUPONS; a++)
                        v = q2[a] > v ? q2[a] : v;
                }
            }
            rbar[(size_t)e * 4 + log->coupon[i]] += o->dq.gamma * v;
            rcnt[(size_t)e * 4 + log->coupon[i]]++;
        }
    for (size_t c = 0; c < nc; c++) {
        uint64_t key = oq_dynaq_key_row(&o->disc, tlog, c);
        long e = oq_qtable_find(r->q, key);
        const uint32_t *nv = e >= 0 ? r->q->visits + (size_t)e * 4 : NULL;
        int known = nv && nv[0] + nv[1] + nv[2] + nv[3] > 0;
        r->from_q += known;
        r->user_id[c] = tlog->user_id[c];
        r->state[c] = key;
        for (int a = 0; a < OQ_N_COUPONS; a++) {
            /* Tomorrow's expected reward of the customer, r~_c(a), plus with
             * --continuation the state's learned gamma E[V(s') | s, a] (the Q
             * table aggregates customers by state; r~ keeps what the models
             * know about each customer; unseen states: r~ alone).
             * Seed-faithful: argmax Q as the seed (defaultdict: Q = 0 when unseen). */
            size_t ea = (size_t)e * 4 + a;
            double cont = 0;
            if (known && o->continuation) {
                double sv = 0, sn = 0;
                for (int b = 0; b < OQ_N_COUPONS; b++) {
                    sv += rbar[(size_t)e * 4 + b];
                    sn += rcnt[(size_t)e * 4 + b];
                }
                cont = rcnt[ea] ? rbar[ea] / (double)rcnt[ea] : sn > 0 ? sv / sn : 0;
            }
            if (o->dq.faithful)
                val[c * 4 + a] = known ? r->q->q[ea] : 0;
            else
                val[c * 4 + a] = tr[c * 4 + a] + cont;
            spend[c * 4 + a] = (po_resp ? 1 : r->p_alive[c]) * po[c * 4 + a] * oq_coupon_value(a);
        }
    }
    if ((rc = oq_budget_plan(nc, val, spend, o->budget, r->coupon, &r->plan_value, &r->plan_spend,
                             err)))
        goto cleanup;
    for (size_t c = 0; c < nc; c++)
        r->expected_profit[c] = tr[c * 4 + r->coupon[c]];
    double t5 = oq_now();
    r->stage_s[OQ_STAGE_PLAN] = t5 - t4;
    /* 6. outputs, each atomic; report.json last (it carries the write time) */
    if (o->out_dir) {
        if ((rc = write_outputs(o, r, err))) goto cleanup;
        r->stage_s[OQ_STAGE_WRITE] = oq_now() - t5;
        char path[4096];
        if (snprintf(path, sizeof path, "%s/report.json", o->out_dir) >= (int)sizeof path) {
            rc = oq_error_set(err, OQ_EINVAL, o->out_dir, 0, 0, "path too long");
            goto cleanup;
        }
        json_t *j = report_json(o, r);
        if (!j) {
            rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
            goto cleanup;
        }
        rc = write_json(path, j, err);
        json_decref(j);
        if (rc) goto cleanup;
    }
    *out = r;
    r = NULL;
cleanup:
    oq_pipeline_result_free(r);
    oq_log_free(own);
    oq_log_free(tlog);
    oq_log_index_free(ix);
    oq_models_free(models);
    oq_interim_free(interim);
    free(p_alive);
    free(rtilde);
    free(tp);
    free(tr);
    free(po);
    free(val);
    free(spend);
    free(rows);
    free(rbar);
    free(rcnt);
    return rc;
}

int oq_pipeline_reco(const oq_pipeline_result *r, oq_reco **out, oq_error *err)
{
    *out = NULL;
    oq_reco *l = oq_reco_new();
    if (!l) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = 0;
    for (size_t c = 0; c < r->n; c++) {
        oq_reco_row w = {.user_id = r->user_id[c],
                         .day = r->tomorrow,
                         .coupon = (uint8_t)r->coupon[c],
                         .expected_profit = r->expected_profit[c],
                         .p_alive = r->p_alive[c]};
        oq_dynaq_key_format(r->state[c], w.state, sizeof w.state);
        if ((rc = oq_reco_push(l, &w, err))) goto cleanup;
    }
    if ((rc = oq_reco_sort(l, err))) goto cleanup;
    *out = l;
    l = NULL;
cleanup:
    oq_reco_free(l);
    return rc;
}

char *oq_pipeline_report_text(const oq_pipeline_opts *o, const oq_pipeline_result *r)
{
    json_t *j = report_json(o, r);
    char *text = j ? json_dumps(j, JSON_INDENT(2) | JSON_REAL_PRECISION(17)) : NULL;
    json_decref(j);
    return text;
}
