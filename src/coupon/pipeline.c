/* pipeline.c - the nightly coupon job as stages over one job context
 * (pipeline.h). */
#include "offerq/coupon/pipeline.h"
#include "offerq/core/comm.h"
#include "offerq/core/io.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/clv.h"
#include "offerq/coupon/seq.h"
#include "util/json.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

void oq_pipeline_opts_default(oq_pipeline_opts *o)
{
    memset(o, 0, sizeof *o);
    o->budget = INFINITY;
    oq_dynaq_disc_default(&o->disc);
    oq_dynaq_config_default(&o->dq);
    o->reward = OQ_REWARD_RESPONSE;
    o->profit_epochs = 0; /* each model's default */
    o->continuation = 0;
    o->shards = 1;
    oq_pmodel_opts_default(&o->pmodel);
    oq_clv_opts_default(&o->clv);
}

const char *oq_pipeline_stage_name(int s)
{
    static const char *n[OQ_N_STAGES] = {"ingest", "alive", "reward_fit", "reward_score",
                                         "value",  "plan",  "write"};
    return s >= 0 && s < OQ_N_STAGES ? n[s] : "?";
}

void oq_pipeline_result_free(oq_pipeline_result *r)
{
    if (!r) return;
    free(r->user_id);
    free(r->state);
    free(r->coupon);
    free(r->expected_profit);
    free(r->values);
    free(r->p_alive);
    free(r->clv_term);
    oq_qtable_free(r->q);
    json_decref(r->report);
    json_decref(r->comm);
    free(r);
}

/* ---- the job context ------------------------------------------------------------- */

typedef struct job {
    const oq_pipeline_opts *o;
    oq_comm *comm; /* the parts of a partitioned run (comm.h); NULL: one */
    int parts, rank;
    const oq_log *log; /* the log's rows */
    oq_log *own;       /* the log when the job read it */
    oq_log_index *ix;
    oq_log *tom; /* tomorrow's snapshot per customer (index order) */
    oq_alive *alive;
    oq_reward_input in;
    oq_reward *reward;
    oq_pmodel_opts po;
    oq_seq_opts so; /* the sequence model's options: o->seq, or defaults with o->seq_len */
    char model_save[4096];
    oq_rundir rd;     /* the run's folder while it is written (out_dir set) */
    double *rtilde;   /* (log->n, 4) r~ of the log's rows */
    double *tr, *po4; /* (nc, 4) tomorrow's r~ and P(order) */
    oq_pipeline_result *r;
    uint64_t stage_bytes[OQ_N_STAGES]; /* bytes this part gave to collectives per stage */
    uint64_t *all_bytes;               /* part 0: (parts, OQ_N_STAGES) every part's */
} job;

static void *job_alloc(size_t n, size_t size, oq_error *err, int *rc)
{
    void *p = malloc((n ? n : 1) * size);
    if (!p && !*rc) *rc = oq_error_oom(err, NULL, NULL);
    return p;
}

static int report_add(job *j, const char *key, json_t *v, oq_error *err)
{
    if (!v || json_object_set_new(j->r->report, key, v)) return oq_error_oom(err, NULL, NULL);
    return 0;
}

/* ---- stages ---------------------------------------------------------------------- */

/* ingest: the log, its index and tomorrow's snapshot of every customer. */
static int stage_ingest(job *j, const oq_log *log_in, oq_error *err)
{
    int rc = 0;
    oq_part part = oq_comm_part(j->comm);
    j->log = log_in;
    if (j->log && j->parts > 1 && !oq_log_all_in_part(log_in, &part)) {
        /* a log in memory: this part's rows of it (a log that holds only
         * them, read by part from PostgreSQL, is used as it is) */
        if ((rc = oq_log_select_part(log_in, &part, &j->own, err))) return rc;
        j->log = j->own;
    } else if (!j->log) {
        if ((rc = oq_log_read_part(j->o->log_path, &part, &j->own, err))) return rc;
        j->log = j->own;
    }
    /* the whole log's rows, last day and budget level of that day */
    uint64_t rows = j->log->n;
    int32_t last;
    float budget;
    oq_log_tomorrow_budget(j->log, &last, &budget);
    int64_t last64 = last;
    if ((rc = oq_comm_sum_u64(j->comm, &rows, 1, err)) ||
        (rc = oq_comm_max_i64(j->comm, &last64, 1, err)))
        return rc;
    double nb = last64 == last ? -(double)budget : -1.0; /* the lowest level of that day */
    if ((rc = oq_comm_max(j->comm, &nb, 1, err))) return rc;
    if (rows == 0) return oq_error_set(err, OQ_EINVAL, j->o->log_path, 0, 0, "the log has no rows");
    if ((rc = oq_log_index_build(j->log, &j->ix, err))) return rc;
    j->r->log_rows = (size_t)rows;
    j->r->tomorrow = (int32_t)last64 + 1;
    return oq_log_tomorrow_at(j->log, j->ix, j->r->tomorrow, (float)-nb, &j->tom, err);
}

/* alive: BG/NBD on the purchases. */
static int stage_alive(job *j, oq_error *err)
{
    oq_alive_opts ao = {.log_path = j->o->log_path,
                        .orders_path = j->o->orders_path,
                        .quiet = j->o->quiet,
                        .comm = j->comm,
                        .has_last_day = 1,
                        .last_day = j->r->tomorrow - 1};
    int rc = oq_alive_fit(j->log, &ao, &j->alive, err);
    if (rc) return rc;
    const oq_bgnbd_fit_report *f = oq_alive_bgnbd(j->alive);
    const char *warn = oq_alive_warning(j->alive);
    /* "converged" only for a fit that is one: a boundary is a warning */
    return report_add(j, "bgnbd",
                      json_pack("{s:f, s:f, s:f, s:f, s:f, s:b, s:s, s:s, s:o}", "r", f->p.r,
                                "alpha", f->p.alpha, "a", f->p.a, "b", f->p.b, "ll", f->ll,
                                "converged", f->converged && !warn, "time_unit", "day", "purchases",
                                oq_alive_source(j->alive), "warning",
                                warn ? json_string(warn) : json_null()),
                      err);
}

/* reward_fit: the chosen reward model on the log. */
static int stage_reward_fit(job *j, oq_error *err)
{
    const oq_pipeline_opts *o = j->o;
    int rc = 0;
    j->po = o->pmodel;
    j->po.seed = o->dq.seed;
    j->po.quiet = o->quiet;
    if (o->seq) {
        j->so = *o->seq;
    } else {
        oq_seq_opts_default(&j->so);
        if (o->seq_len > 0) j->so.cfg.seq_len = o->seq_len;
        if (o->seq_state_full) j->so.cfg.n_extra_state = OQ_RESP_NFEAT;
    }
    int save = o->out_dir && !o->model_path &&
               (o->reward == OQ_REWARD_TRANSFORMER || o->reward == OQ_REWARD_SEQUENCE);
    if (save &&
        (rc = oq_rundir_file(&j->rd, "model.ofq", j->model_save, sizeof j->model_save, err)))
        return rc;
    j->in = (oq_reward_input){.log = j->log,
                              .ix = j->ix,
                              .day = j->r->tomorrow,
                              .tomorrow = j->tom,
                              .alive = j->alive,
                              .disc = &o->disc,
                              .log_path = o->log_path,
                              .events_path = o->events_path,
                              .model_path = o->model_path,
                              .save_model = save ? j->model_save : NULL,
                              .warm_path = o->warm_start,
                              .warm_fallback = o->warm_fallback,
                              .epochs = o->profit_epochs,
                              .seq = &j->so,
                              .pmodel = &j->po,
                              .features = o->features,
                              .seq_features = o->seq_features,
                              .seed = o->dq.seed,
                              .quiet = o->quiet,
                              .comm = j->comm};
    if ((rc = oq_reward_fit(o->reward, &j->in, &j->reward, err))) return rc;
    oq_pipeline_result *r = j->r;
    snprintf(r->scorer_name, sizeof r->scorer_name, "%s", j->reward->name);
    r->baseline = o->reward == OQ_REWARD_EMPIRICAL;
    r->reward = o->reward;
    if ((rc = report_add(j, "scorer",
                         json_pack("{s:s, s:b, s:s}", "name", r->scorer_name, "baseline",
                                   r->baseline, "note",
                                   r->baseline ? "P(alive) from BG/NBD; r^ is the empirical mean "
                                                 "net reward per state x coupon, a baseline"
                                               : "models"),
                         err)))
        return rc;
    json_t *rep = j->reward->ops->report ? j->reward->ops->report(j->reward) : NULL;
    if (rep && json_object_update(r->report, rep)) rc = oq_error_oom(err, NULL, NULL);
    json_decref(rep);
    return rc;
}

/* r~ = P(alive) x r^ in place over n rows (r^ itself when the model's r^
 * already is the whole expected reward); non-finite values are OQ_ENUM. */
static int to_rtilde(const oq_reward *m, const oq_alive *alive, const oq_log *log, double *rt,
                     double *p_alive, oq_error *err)
{
    for (size_t i = 0; i < log->n; i++) {
        double pa = oq_alive_p(alive, log->user_id[i], log->day[i]);
        if (p_alive) p_alive[i] = pa;
        if (!isfinite(pa))
            return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "scorer %s: P(alive) of row %zu is %g",
                                m->name, i, pa);
        for (int a = 0; a < OQ_N_COUPONS; a++) {
            double rh = rt[i * 4 + a];
            rt[i * 4 + a] = m->rhat_has_alive ? rh : pa * rh;
            if (!isfinite(rt[i * 4 + a]))
                return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "scorer %s: r^ of row %zu is %g",
                                    m->name, i, rh);
        }
    }
    return 0;
}

/* reward_score: r~ of the log's rows and of tomorrow, and tomorrow's
 * P(order | coupon): the reward model's, or the empirical one's (fitted only
 * here, when the reward model has none) times P(alive). */
static int stage_reward_score(job *j, oq_error *err)
{
    size_t n = j->log->n, nc = j->tom->n;
    oq_pipeline_result *r = j->r;
    int rc = 0;
    j->rtilde = job_alloc(n * 4, sizeof *j->rtilde, err, &rc);
    j->tr = job_alloc(nc * 4, sizeof *j->tr, err, &rc);
    j->po4 = job_alloc(nc * 4, sizeof *j->po4, err, &rc);
    r->p_alive = job_alloc(nc, sizeof *r->p_alive, err, &rc);
    if (rc) return rc;
    const oq_reward_ops *ops = j->reward->ops;
    if ((rc = ops->score_rows(j->reward, j->rtilde, err)) ||
        (rc = to_rtilde(j->reward, j->alive, j->log, j->rtilde, NULL, err)) ||
        (rc = ops->score_tomorrow(j->reward, j->tr, err)) ||
        (rc = to_rtilde(j->reward, j->alive, j->tom, j->tr, r->p_alive, err)))
        return rc;
    if (ops->p_order_tomorrow) {
        rc = ops->p_order_tomorrow(j->reward, j->po4, err);
    } else {
        oq_empirical *em = NULL;
        if (!(rc = oq_empirical_fit(j->log, &j->o->disc, 0, &em, err)))
            oq_empirical_estimate(em, j->tom, NULL, nc, NULL, j->po4);
        oq_empirical_free(em);
    }
    if (!rc && !j->reward->rhat_has_alive)
        for (size_t c = 0; c < nc; c++)
            for (int a = 0; a < OQ_N_COUPONS; a++)
                j->po4[c * 4 + a] *= r->p_alive[c];
    return rc;
}

/* value: Dyna-Q over the log's rows with r~ as the reward. */
static int stage_value(job *j, oq_error *err)
{
    const oq_pipeline_opts *o = j->o;
    oq_pipeline_result *r = j->r;
    int rc = oq_qtable_new(&o->disc, &r->q, err);
    if (rc) return rc;
    oq_dynaq_config dq = o->dq;
    dq.quiet = o->quiet;
    /* parts: each trains its customers and the tables are merged in rank
     * order; one part: o->shards learners in threads (the same merge) */
    if ((rc = j->parts > 1 ? oq_dynaq_train_part(r->q, j->log, j->ix, j->rtilde, &dq, j->comm,
                                                 &r->stats, err)
                           : oq_dynaq_train_sharded(r->q, j->log, j->ix, j->rtilde, &dq, o->shards,
                                                    &r->stats, err)))
        return rc;
    const oq_dynaq_stats *s = &r->stats;
    json_t *ep = json_array(), *curve = json_array();
    for (int e = 0; e < s->epochs; e++)
        json_array_append_new(ep, json_pack("{s:i, s:f, s:f, s:f, s:f, s:f}", "epoch", e + 1,
                                            "epsilon", s->eps[e], "alpha_mean", s->alpha[e],
                                            "td_abs_real", s->td_real[e], "td_abs_plan",
                                            s->td_plan[e], "mean_greedy_q", s->mean_q[e]));
    for (int k = 0; k < s->n_curve; k++)
        json_array_append_new(curve, json_real(s->curve[k]));
    return report_add(j, "dynaq",
                      json_pack("{s:s, s:i, s:I, s:I, s:I, s:o, s:o}", "mode",
                                o->dq.faithful ? "seed-faithful" : "dyna-q", "epochs", s->epochs,
                                "real_steps", (json_int_t)s->real_steps, "plan_steps",
                                (json_int_t)s->plan_steps, "states", (json_int_t)s->states,
                                "per_epoch", ep, "learning_curve_td_abs", curve),
                      err);
}

/* The continuation gamma E[V(s') | s, a] (--continuation): the mean over the
 * log's real steps from s with coupon a of gamma max_a' Q(s', a') (0 at a
 * customer's last row); a coupon never logged in s gets the state's mean over
 * its steps. rbar (S, 4) sums, rcnt (S, 4) counts. */
static void continuation_sums(const job *j, double *rbar, size_t *rcnt)
{
    const oq_log *log = j->log;
    const oq_log_index *ix = j->ix;
    const oq_qtable *q = j->r->q;
    for (size_t c = 0; c < ix->n_customers; c++)
        for (size_t k = ix->start[c]; k < ix->start[c + 1]; k++) {
            size_t i = ix->row[k];
            long e = oq_qtable_find(q, oq_dynaq_key_row(&j->o->disc, log, i));
            if (e < 0) continue;
            double v = 0;
            if (k + 1 < ix->start[c + 1]) {
                long e2 = oq_qtable_find(q, oq_dynaq_key_row(&j->o->disc, log, ix->row[k + 1]));
                if (e2 >= 0) {
                    const double *q2 = q->q + (size_t)e2 * 4;
                    v = q2[0];
                    for (int a = 1; a < OQ_N_COUPONS; a++)
                        v = q2[a] > v ? q2[a] : v;
                }
            }
            rbar[(size_t)e * 4 + log->coupon[i]] += j->o->dq.gamma * v;
            rcnt[(size_t)e * 4 + log->coupon[i]]++;
        }
}

/* --clv-weight W: val += W (P(order | coupon) - P(order | none)) V_i, V_i
 * the future value of an order caused tomorrow (clv.h). The plan changes
 * only through this term; the report says what it was built from. */
static int plan_clv(job *j, double *val, oq_error *err)
{
    const oq_clv_opts *co = &j->o->clv;
    size_t nc = j->tom->n;
    if (co->weight == 0 || j->o->dq.faithful) return 0;
    if (j->parts > 1)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "--clv-weight needs the whole log in one part (not --shards N > 1 "
                            "with --reward response, nor mpirun)");
    int rc = 0;
    double *V = job_alloc(nc, sizeof *V, err, &rc);
    double *term = j->r->clv_term = calloc(nc * 4 + 1, sizeof *term);
    if (!rc && !term) rc = oq_error_oom(err, NULL, NULL);
    oq_clv_report cr;
    if (!rc && !(rc = oq_clv_values(j->alive, j->log, j->ix, j->r->tomorrow, co, V, &cr, err))) {
        oq_clv_add(nc, V, j->po4, co->weight, term);
        for (size_t k = 0; k < nc * 4; k++)
            val[k] += term[k];
        json_t *rep = json_pack(
            "{s:f, s:s, s:f, s:f, s:{s:f, s:f, s:f, s:I}, s:f, s:f, s:f}", "weight", co->weight,
            "model", oq_clv_model_name(co->model), "days", co->days, "discount_per_30_days",
            co->discount, "gamma_gamma", "p", cr.gg_p, "q", cr.gg_q, "v", cr.gg_v, "customers",
            (json_int_t)cr.gg_customers, "mean_profit_per_order", cr.mean_profit,
            "mean_purchases_change", cr.mean_delta, "mean_order_value", cr.mean_value);
        /* the log's Wald estimate and its standard error (clv.h) */
        if (rep && co->model == OQ_CLV_LOG)
            json_object_set_new(rep, "log",
                                json_pack("{s:f, s:I}", "se", cr.wald_se, "contacts",
                                          (json_int_t)cr.wald_contacts));
        rc = report_add(j, "clv", rep, err);
    }
    free(V);
    return rc;
}

/* plan: every customer's value of each coupon tomorrow (r~, plus with
 * --continuation the state's learned gamma E[V(s') | s, a]; seed-faithful:
 * argmax Q as the seed, 0 when unseen) and the budget plan over them. */
static int stage_plan(job *j, oq_error *err)
{
    const oq_pipeline_opts *o = j->o;
    oq_pipeline_result *r = j->r;
    size_t nc = j->tom->n;
    int rc = 0;
    double *val = job_alloc(nc * 4, sizeof *val, err, &rc);
    double *spend = job_alloc(nc * 4, sizeof *spend, err, &rc);
    /* The continuation is computed always, for the report's value split
     * (today's r~ against gamma E[V(s')] per coupon); the plan adds it only
     * with --continuation. */
    double *rbar = calloc(r->q->n * 4 + 1, sizeof *rbar);
    size_t *rcnt = calloc(r->q->n * 4 + 1, sizeof *rcnt);
    double split_r[OQ_N_COUPONS] = {0}, split_c[OQ_N_COUPONS] = {0};
    r->n = nc;
    r->user_id = job_alloc(nc, sizeof *r->user_id, err, &rc);
    r->state = job_alloc(nc, sizeof *r->state, err, &rc);
    r->coupon = job_alloc(nc, sizeof *r->coupon, err, &rc);
    r->expected_profit = job_alloc(nc, sizeof *r->expected_profit, err, &rc);
    r->values = job_alloc(nc * 4, sizeof *r->values, err, &rc);
    if (!rc && (!rbar || !rcnt)) rc = oq_error_oom(err, NULL, NULL);
    if (rc) goto cleanup;
    continuation_sums(j, rbar, rcnt);
    /* the continuation's sums over every part's rows (the merged table's
     * entries are the same on every part) */
    _Static_assert(sizeof(size_t) == sizeof(uint64_t), "size_t counts travel as u64");
    if (j->parts > 1 && ((rc = oq_comm_sum(j->comm, rbar, r->q->n * 4, err)) ||
                         (rc = oq_comm_sum_u64(j->comm, (uint64_t *)rcnt, r->q->n * 4, err))))
        goto cleanup;
    for (size_t c = 0; c < nc; c++) {
        uint64_t key = oq_dynaq_key_row(&o->disc, j->tom, c);
        long e = oq_qtable_find(r->q, key);
        const uint32_t *nv = e >= 0 ? r->q->visits + (size_t)e * 4 : NULL;
        int known = nv && nv[0] + nv[1] + nv[2] + nv[3] > 0;
        r->from_q += known;
        r->user_id[c] = j->tom->user_id[c];
        r->state[c] = key;
        double sv = 0, sn = 0;
        for (int b = 0; known && b < OQ_N_COUPONS; b++) {
            sv += rbar[(size_t)e * 4 + b];
            sn += (double)rcnt[(size_t)e * 4 + b];
        }
        for (int a = 0; a < OQ_N_COUPONS; a++) {
            size_t ea = (size_t)e * 4 + a;
            double cont = 0;
            if (known) cont = rcnt[ea] ? rbar[ea] / (double)rcnt[ea] : sn > 0 ? sv / sn : 0;
            split_r[a] += j->tr[c * 4 + a];
            split_c[a] += cont;
            if (o->dq.faithful)
                val[c * 4 + a] = known ? r->q->q[ea] : 0;
            else
                val[c * 4 + a] = j->tr[c * 4 + a] + (o->continuation ? cont : 0);
            spend[c * 4 + a] = j->po4[c * 4 + a] * oq_coupon_value(a);
        }
    }
    if ((rc = plan_clv(j, val, err))) goto cleanup;
    if ((rc = oq_budget_plan_part(nc, val, spend, j->tom->user_id, o->budget, j->comm, r->coupon,
                                  &r->plan_value, &r->plan_spend, err)))
        goto cleanup;
    uint64_t per_coupon[OQ_N_COUPONS + 2] = {0}; /* then customers and those from the table */
    double total[2] = {0, 0};                    /* expected profit, and with no coupons */
    for (size_t c = 0; c < nc; c++) {
        r->expected_profit[c] = j->tr[c * 4 + r->coupon[c]];
        memcpy(r->values + c * 4, j->tr + c * 4, 4 * sizeof *r->values);
        per_coupon[r->coupon[c]]++;
        total[0] += r->expected_profit[c];
        total[1] += j->tr[c * 4 + OQ_COUPON_NONE];
    }
    per_coupon[OQ_N_COUPONS] = nc;
    per_coupon[OQ_N_COUPONS + 1] = (uint64_t)r->from_q;
    if ((rc = oq_comm_sum_u64(j->comm, per_coupon, OQ_N_COUPONS + 2, err)) ||
        (rc = oq_comm_sum(j->comm, split_r, OQ_N_COUPONS, err)) ||
        (rc = oq_comm_sum(j->comm, split_c, OQ_N_COUPONS, err)) ||
        (rc = oq_comm_sum(j->comm, total, 2, err)))
        goto cleanup;
    size_t nc_all = (size_t)per_coupon[OQ_N_COUPONS];
    r->from_q = (int)per_coupon[OQ_N_COUPONS + 1];
    r->n_all = nc_all;
    for (int a = 0; a < OQ_N_COUPONS; a++)
        r->per_coupon[a] = (size_t)per_coupon[a];
    char date[11];
    oq_date_format(r->tomorrow, date);
    /* Mean over customers of each coupon's r~ tomorrow and of Dyna-Q's
     * continuation gamma E[V(s') | s, coupon] (0 for unseen states). */
    json_t *split = json_object();
    for (int a = 0; split && a < OQ_N_COUPONS; a++) {
        double d = nc_all ? (double)nc_all : 1;
        json_object_set_new(
            split, oq_coupon_name(a),
            json_pack("{s:f, s:f}", "r_tilde", split_r[a] / d, "continuation", split_c[a] / d));
    }
    if (split &&
        (rc = report_add(j, "value_split",
                         json_pack("{s:b, s:o}", "continuation_in_plan",
                                   o->continuation && !o->dq.faithful, "per_coupon", split),
                         err)))
        goto cleanup;
    if (!split) {
        rc = oq_error_oom(err, NULL, "the report");
        goto cleanup;
    }
    /* Category names by index (the state's last field), for the dashboard. */
    json_t *cats = json_array();
    for (uint32_t k = 0; cats && k < j->log->cats.n; k++)
        json_array_append_new(cats, json_string(j->log->cats.names[k]));
    if (!cats || (rc = report_add(j, "categories", cats, err))) {
        if (!rc) rc = oq_error_oom(err, NULL, "the report");
        goto cleanup;
    }
    /* How the state label "days|purchases_30d|aov|budget|category" was cut. */
    if ((rc = report_add(j, "state_widths",
                         json_pack("{s:f, s:f, s:f, s:f}", "days", o->disc.w_days, "purchases_30d",
                                   o->disc.w_p30, "aov", o->disc.w_aov, "budget_levels",
                                   o->disc.budget_levels),
                         err)))
        goto cleanup;
    rc = report_add(
        j, "plan",
        json_pack("{s:s, s:I, s:I, s:o, s:f, s:f, s:f, s:f, s:{s:I, s:I, s:I, s:I}}", "date", date,
                  "customers", (json_int_t)nc_all, "from_q_table", (json_int_t)r->from_q, "budget",
                  isfinite(o->budget) ? json_real(o->budget) : json_null(), "expected_spend",
                  r->plan_spend, "objective", r->plan_value, "expected_profit", total[0],
                  "expected_profit_no_coupons", total[1], "coupons", "none",
                  (json_int_t)per_coupon[0], "5", (json_int_t)per_coupon[1], "10",
                  (json_int_t)per_coupon[2], "20", (json_int_t)per_coupon[3]),
        err);
cleanup:
    free(val);
    free(spend);
    free(rbar);
    free(rcnt);
    return rc;
}

/* One customer's line of recommendations.csv as a part sends it to part 0. */
typedef struct orow {
    int64_t user;
    uint64_t state;
    double profit, p_alive;
    double values[OQ_N_COUPONS];
    int32_t coupon, pad;
} orow;

static int cmp_orow(const void *a, const void *b)
{
    const orow *x = a, *y = b;
    return (x->user > y->user) - (x->user < y->user);
}

/* collect (parts only): part 0 gets every part's customers, in user order
 * as one process has them, for the files (the others keep their own), and
 * every part's bytes per stage for the report. */
static void orow_of(const oq_pipeline_result *r, size_t c, orow *o)
{
    memset(o, 0, sizeof *o); /* padding too: the bytes travel */
    *o = (orow){.user = r->user_id[c],
                .state = r->state[c],
                .profit = r->expected_profit[c],
                .p_alive = r->p_alive[c],
                .coupon = r->coupon[c]};
    memcpy(o->values, r->values + c * 4, sizeof o->values);
}

static int path_in(char *path, size_t len, const job *j, const char *name, oq_error *err);

/* One line of recommendations.csv (after OQ_RECO_HEADER). */
static void reco_line(FILE *fp, const char *date, const orow *o)
{
    char st[48];
    const double *v = o->values;
    oq_dynaq_key_format(o->state, st, sizeof st);
    fprintf(fp, "%lld,%s,%s,%s,%.4f,%.4f,%.4f,%.4f,%.4f,%.4f\n", (long long)o->user, date, st,
            oq_coupon_name(o->coupon), o->profit, o->p_alive, v[0], v[1], v[2], v[3]);
}

/* The day's list of a run in parts with stream_list: part 0 writes
 * recommendations.csv at path (an oq_afile) by merging the parts' lists,
 * each sorted by user id, in user order. Rounds of two collectives: part 0
 * says which parts it needs rows from (those whose rows it has used up),
 * they send their next OQ_PIPELINE_MERGE_ROWS rows (fewer: their last);
 * part 0 writes every row below the smallest part's last row it holds.
 * Memory: parts x OQ_PIPELINE_MERGE_ROWS rows on part 0, one chunk elsewhere. */
static int merge_list(job *j, const char *path, oq_error *err)
{
    enum { M = OQ_PIPELINE_MERGE_ROWS };
    const oq_pipeline_result *r = j->r;
    int P = j->parts, me = j->rank;
    orow *mine = malloc(M * sizeof *mine), *buf[OQ_COMM_MAX] = {0};
    size_t have[OQ_COMM_MAX] = {0}, pos[OQ_COMM_MAX] = {0}, sent = 0, counts[OQ_COMM_MAX];
    unsigned char last[OQ_COMM_MAX] = {0}; /* part k has sent its last rows */
    char date[11];
    oq_afile af;
    int rc = 0, open = 0;
    oq_date_format(r->tomorrow, date);
    if (!mine) return oq_error_oom(err, NULL, "the day's list");
    for (int k = 0; me == 0 && k < P; k++)
        if (!(buf[k] = malloc(M * sizeof *buf[k]))) rc = oq_error_oom(err, NULL, "the day's list");
    if (!rc && me == 0) {
        if (!(rc = oq_afile_open(&af, path, err))) open = 1;
        if (open) fputs(OQ_RECO_HEADER OQ_RECO_HEADER_VALUES "\n", af.fp);
    }
    /* part 0 failing here returns before the rounds: its caller fails the
     * comm (MPI_Abort), which releases the others */
    for (;;) {
        uint64_t need = 0;
        for (int k = 0; me == 0 && k < P; k++)
            if (!last[k] && pos[k] == have[k]) need |= (uint64_t)1 << k;
        if (rc) break;
        if ((rc = oq_comm_bcast(j->comm, 0, &need, sizeof need, err))) break;
        if (!need) break;
        size_t m = 0;
        if (need >> me & 1) {
            m = r->n - sent < M ? r->n - sent : M;
            for (size_t i = 0; i < m; i++)
                orow_of(r, sent + i, &mine[i]);
            sent += m;
        }
        void *all = NULL;
        if ((rc = oq_comm_gatherv(j->comm, 0, mine, m * sizeof *mine, &all, counts, err))) break;
        if (me == 0) {
            size_t off = 0;
            for (int k = 0; k < P; k++) {
                size_t got = counts[k] / sizeof(orow);
                if (need >> k & 1) {
                    memcpy(buf[k], (char *)all + off, counts[k]);
                    have[k] = got;
                    pos[k] = 0;
                    last[k] = got < M;
                }
                off += counts[k];
            }
            /* write while every part that has rows left has some here */
            for (;;) {
                int best = -1, wait = 0;
                for (int k = 0; k < P; k++) {
                    if (pos[k] == have[k]) {
                        wait |= !last[k];
                        continue;
                    }
                    if (best < 0 || buf[k][pos[k]].user < buf[best][pos[best]].user) best = k;
                }
                if (wait || best < 0) break;
                reco_line(af.fp, date, &buf[best][pos[best]++]);
            }
        }
        free(all);
    }
    if (open) {
        if (rc)
            oq_afile_abort(&af);
        else
            rc = oq_afile_commit(&af, err);
    }
    for (int k = 0; k < P; k++)
        free(buf[k]);
    free(mine);
    return rc;
}

static int collect(job *j, oq_error *err)
{
    if (j->parts <= 1) return 0;
    oq_pipeline_result *r = j->r;
    void *all = NULL;
    size_t counts[OQ_COMM_MAX];
    int rc = 0;
    uint64_t b0 = j->comm->bytes_sent;
    if (j->o->stream_list) {
        char path[4096] = "";
        if (j->o->out_dir && j->rank == 0)
            rc = path_in(path, sizeof path, j, "recommendations.csv", err);
        if (!rc && j->o->out_dir) rc = merge_list(j, path, err);
        j->stage_bytes[OQ_STAGE_WRITE] += j->comm->bytes_sent - b0;
        if (rc) return rc;
        goto bytes;
    }
    orow *mine = malloc((r->n ? r->n : 1) * sizeof *mine);
    if (!mine) return oq_error_oom(err, NULL, NULL);
    for (size_t c = 0; c < r->n; c++)
        orow_of(r, c, &mine[c]);
    rc = oq_comm_gatherv(j->comm, 0, mine, r->n * sizeof *mine, &all, counts, err);
    free(mine);
    if (rc) goto done;
    j->stage_bytes[OQ_STAGE_WRITE] += j->comm->bytes_sent - b0; /* the list for part 0's files */
    if (j->rank == 0) {
        size_t n = 0;
        for (int k = 0; k < j->parts; k++)
            n += counts[k] / sizeof(orow);
        orow *a = all;
        qsort(a, n, sizeof *a, cmp_orow);
        size_t n1 = n ? n : 1;
        int64_t *u = realloc(r->user_id, n1 * sizeof *u);
        if (u) r->user_id = u;
        uint64_t *st = realloc(r->state, n1 * sizeof *st);
        if (st) r->state = st;
        int *cp = realloc(r->coupon, n1 * sizeof *cp);
        if (cp) r->coupon = cp;
        double *ep = realloc(r->expected_profit, n1 * sizeof *ep);
        if (ep) r->expected_profit = ep;
        double *pa = realloc(r->p_alive, n1 * sizeof *pa);
        if (pa) r->p_alive = pa;
        double *va = realloc(r->values, n1 * 4 * sizeof *va);
        if (va) r->values = va;
        if (!u || !st || !cp || !ep || !pa || !va) {
            rc = oq_error_oom(err, NULL, "the day's list");
            goto done;
        }
        for (size_t c = 0; c < n; c++) {
            r->user_id[c] = a[c].user;
            r->state[c] = a[c].state;
            r->coupon[c] = a[c].coupon;
            r->expected_profit[c] = a[c].profit;
            r->p_alive[c] = a[c].p_alive;
            memcpy(r->values + c * 4, a[c].values, sizeof a[c].values);
        }
        r->n = n;
    }
    free(all);
    all = NULL;
bytes:
    if (j->rank == 0 && !(j->all_bytes = malloc((size_t)j->parts * sizeof j->stage_bytes))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto done;
    }
    /* (the bytes of this collective itself are not in the figures) */
    rc = oq_comm_gatherv(j->comm, 0, j->stage_bytes, sizeof j->stage_bytes, &all, counts, err);
    if (!rc && j->rank == 0) memcpy(j->all_bytes, all, (size_t)j->parts * sizeof j->stage_bytes);
done:
    free(all);
    return rc;
}

/* Every part has done its work (parts only): part 0 switches the run into
 * place only after this, so a part that dies earlier leaves no run. */
static int all_done(job *j, oq_error *err)
{
    if (j->parts <= 1) return 0;
    unsigned char one = 1, got[OQ_COMM_MAX];
    return j->comm->allgather(j->comm, &one, 1, got, err);
}

static int write_recs(const char *path, const oq_pipeline_result *r, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    char date[11];
    orow o;
    oq_date_format(r->tomorrow, date);
    fputs(OQ_RECO_HEADER OQ_RECO_HEADER_VALUES "\n", af.fp);
    for (size_t c = 0; c < r->n; c++) {
        orow_of(r, c, &o);
        reco_line(af.fp, date, &o);
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
        "alpha_min", c->alpha_min, "gamma", c->gamma, "scorer", "name", r->scorer_name, "baseline",
        r->baseline, "reward", oq_reward_name(o->reward));
    if (j) json_object_set_new(json_object_get(j, "dynaq"), "shards", json_integer(o->shards));
    if (j)
        json_object_set_new(
            j, "plan",
            json_pack("{s:s}", "objective",
                      o->continuation ? "r~ + gamma E[V(s')] (continuation)" : "tomorrow's r~"));
    if (j && o->clv.weight != 0 && !c->faithful)
        json_object_set_new(json_object_get(j, "plan"), "clv",
                            json_pack("{s:f, s:s, s:f, s:f}", "weight", o->clv.weight, "model",
                                      oq_clv_model_name(o->clv.model), "days", o->clv.days,
                                      "discount_per_30_days", o->clv.discount));
    if (j && o->reward == OQ_REWARD_RESPONSE) {
        const oq_pmodel_opts *p = &o->pmodel;
        json_object_set_new(json_object_get(j, "scorer"), "p_model",
                            json_pack("{s:s, s:i, s:i, s:f, s:f, s:f, s:f, s:I}", "kind",
                                      oq_pmodel_name(p->kind), "trees", p->trees, "depth", p->depth,
                                      "eta", p->eta, "subsample", p->subsample, "min_child_weight",
                                      p->min_child_weight, "lambda", p->lambda, "max_rows",
                                      (json_int_t)p->max_rows));
        json_object_set_new(json_object_get(j, "scorer"), "features",
                            json_string(oq_resp_features_name(o->features)));
        json_object_set_new(json_object_get(j, "scorer"), "seq_features",
                            json_boolean(o->seq_features));
    }
    if (j && o->reward == OQ_REWARD_SEQUENCE)
        json_object_set_new(json_object_get(j, "scorer"), "warm_start",
                            o->warm_start ? json_string(o->warm_start) : json_null());
    if (j && (o->reward == OQ_REWARD_SEQUENCE || o->seq_features))
        json_object_set_new(json_object_get(j, "scorer"), "seq_state",
                            json_string(o->seq_state_full ? "full" : "base"));
    return j;
}

/* report.json: the stages' sections and the timings. */
static json_t *report_json(const oq_pipeline_result *r)
{
    json_t *rep = json_deep_copy(r->report), *t = json_object();
    double total = 0;
    for (int k = 0; k < OQ_N_STAGES; k++) {
        json_object_set_new(t, oq_pipeline_stage_name(k), json_real(r->stage_s[k]));
        total += r->stage_s[k];
    }
    json_object_set_new(t, "total", json_real(total));
    /* When and on what the run ran (serve's offerq_run_* metrics read it). */
    json_t *run = json_pack("{s:f, s:f, s:I}", "started_at", r->started_at, "finished_at",
                            oq_unix_now(), "log_rows", (json_int_t)r->log_rows);
    if (!rep) {
        json_decref(run);
        json_decref(t);
        return NULL;
    }
    /* (json_object_set_new takes its value even when it fails) */
    int bad = json_object_set_new(rep, "run", run);
    bad |= json_object_set_new(rep, "timings_s", t);
    if (r->comm) bad |= json_object_set(rep, "parts", r->comm);
    if (bad) {
        json_decref(rep);
        return NULL;
    }
    return rep;
}

/* path of a file of the run being written */
static int path_in(char *path, size_t len, const job *j, const char *name, oq_error *err)
{
    return oq_rundir_file(&j->rd, name, path, len, err);
}

/* write: the run's files into its fresh folder; report.json last (it carries
 * the write stage's time); then the folder is switched into place whole
 * (oq_rundir_commit, io.h). */
static int stage_write(job *j, double t0, oq_error *err)
{
    const oq_pipeline_opts *o = j->o;
    oq_pipeline_result *r = j->r;
    char path[4096];
    json_t *js = NULL;
    int rc = 0;
    if ((rc = path_in(path, sizeof path, j, "qtable.ofq", err)) ||
        (rc = oq_qtable_save(r->q, path, err)))
        return rc;
    if ((rc = path_in(path, sizeof path, j, "params.json", err))) return rc;
    if (!(js = params_json(o, r))) return oq_error_oom(err, NULL, NULL);
    rc = oq_json_write_atomic(path, js, err);
    json_decref(js);
    if (rc || (rc = path_in(path, sizeof path, j, "learning_curve.svg", err)) ||
        (rc = write_svg(path, &r->stats, o->dq.faithful, err)) ||
        (!(o->stream_list && j->parts > 1) &&
         ((rc = path_in(path, sizeof path, j, "recommendations.csv", err)) ||
          (rc = write_recs(path, r, err)))) ||
        (rc = path_in(path, sizeof path, j, "bgnbd.json", err)) ||
        (rc = oq_bgnbd_params_save(path, oq_alive_bgnbd(j->alive), 0, 1, err)))
        return rc;
    r->stage_s[OQ_STAGE_WRITE] = oq_now() - t0;
    if ((rc = path_in(path, sizeof path, j, "report.json", err))) return rc;
    if (!(js = report_json(r))) return oq_error_oom(err, NULL, NULL);
    rc = oq_json_write_atomic(path, js, err);
    json_decref(js);
    if (!rc) rc = all_done(j, err); /* every part is done: then the hook, then the switch */
    if (!rc && o->before_commit) rc = o->before_commit(o->before_commit_ctx, r, j->rd.path, err);
    return rc ? rc : oq_rundir_commit(&j->rd, o->keep_runs > 0 ? o->keep_runs : 3, err);
}

/* ---- the driver ------------------------------------------------------------------ */

/* The parts' figures for report.json: their number and the bytes each gave
 * to collectives per stage. */
static int parts_json(job *j, oq_error *err)
{
    json_t *pj = json_pack("{s:i}", "n", j->parts), *per = json_array();
    for (int k = 0; pj && per && k < j->parts; k++) {
        json_t *st = json_object();
        for (int s = 0; st && s < OQ_N_STAGES; s++)
            json_object_set_new(st, oq_pipeline_stage_name(s),
                                json_integer((json_int_t)j->all_bytes[k * OQ_N_STAGES + s]));
        json_array_append_new(per, st);
    }
    if (!pj || !per || json_object_set_new(pj, "bytes_sent_per_stage", per)) {
        json_decref(pj);
        return oq_error_oom(err, NULL, NULL);
    }
    j->r->comm = pj;
    return 0;
}

int oq_pipeline_run_part(const oq_pipeline_opts *opts, oq_comm *comm, const oq_log *log,
                         oq_pipeline_result **out, oq_error *err)
{
    *out = NULL;
    oq_pipeline_opts oc = *opts;
    job j = {.o = &oc,
             .comm = comm,
             .parts = oq_comm_size(comm),
             .rank = oq_comm_rank(comm),
             .r = calloc(1, sizeof *j.r)};
    if (j.rank > 0) oc.quiet = 1; /* part 0 speaks for the run */
    const oq_pipeline_opts *o = &oc;
    if (!j.r || !(j.r->report = json_object())) {
        free(j.r);
        return oq_error_oom(err, NULL, NULL);
    }
    int rc = 0;
    double *st = j.r->stage_s, t = oq_now(), t1;
    uint64_t b0 = comm ? comm->bytes_sent : 0;
    j.r->started_at = oq_unix_now();
#define STAGE(id, call)                                                                            \
    if (!rc) {                                                                                     \
        rc = (call);                                                                               \
        t1 = oq_now();                                                                             \
        st[id] = t1 - t;                                                                           \
        t = t1;                                                                                    \
        if (comm) {                                                                                \
            j.stage_bytes[id] = comm->bytes_sent - b0;                                             \
            b0 = comm->bytes_sent;                                                                 \
        }                                                                                          \
    }
    if (!(o->budget >= 0)) rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "budget must be >= 0");
    /* The run's folder first: a DIR that cannot take a run fails before the
     * work. Part 0 writes the run; the other parts write nothing. */
    if (!rc && o->out_dir && j.rank == 0 && !(rc = oq_rundir_begin(&j.rd, o->out_dir, err)))
        j.rd.seq = o->run_seq;
    STAGE(OQ_STAGE_INGEST, stage_ingest(&j, log, err));
    STAGE(OQ_STAGE_ALIVE, stage_alive(&j, err));
    STAGE(OQ_STAGE_REWARD_FIT, stage_reward_fit(&j, err));
    STAGE(OQ_STAGE_REWARD_SCORE, stage_reward_score(&j, err));
    STAGE(OQ_STAGE_VALUE, stage_value(&j, err));
    STAGE(OQ_STAGE_PLAN, stage_plan(&j, err));
    if (!rc) rc = collect(&j, err);
    if (!rc && j.parts > 1 && j.rank == 0) rc = parts_json(&j, err);
    if (!rc && o->out_dir) rc = j.rank == 0 ? stage_write(&j, t, err) : all_done(&j, err);
#undef STAGE
    if (!rc) {
        *out = j.r;
        j.r = NULL;
    }
    oq_rundir_abort(&j.rd);
    oq_pipeline_result_free(j.r);
    oq_log_free(j.own);
    oq_log_free(j.tom);
    oq_log_index_free(j.ix);
    oq_alive_free(j.alive);
    oq_reward_free(j.reward);
    free(j.rtilde);
    free(j.tr);
    free(j.po4);
    free(j.all_bytes);
    return rc;
}

typedef struct part_arg {
    const oq_pipeline_opts *o;
    const oq_log *log;
    oq_pipeline_result *res;
} part_arg;

static int part_main(int rank, oq_comm *c, void *arg, oq_error *err)
{
    (void)rank;
    part_arg *a = arg;
    return oq_pipeline_run_part(a->o, c, a->log, &a->res, err);
}

int oq_pipeline_parts(const oq_pipeline_opts *o)
{
    return o->shards > 1 && o->reward == OQ_REWARD_RESPONSE ? o->shards : 1;
}

int oq_pipeline_run(const oq_pipeline_opts *o, const oq_log *log, oq_pipeline_result **out,
                    oq_error *err)
{
    *out = NULL;
    int parts = oq_pipeline_parts(o);
    if (parts <= 1) return oq_pipeline_run_part(o, NULL, log, out, err);
    if (parts > OQ_COMM_MAX)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "shards must be in 1..%d", OQ_COMM_MAX);
    /* --shards N: the parts of an MPI run as threads of this process, with
     * the same code and the same sums (comm.h) */
    part_arg a[OQ_COMM_MAX];
    void *args[OQ_COMM_MAX];
    for (int k = 0; k < parts; k++) {
        a[k] = (part_arg){.o = o, .log = log};
        args[k] = &a[k];
    }
    int rc = oq_comm_threads_run(parts, part_main, args, NULL, err);
    if (!rc) {
        *out = a[0].res;
        a[0].res = NULL;
    }
    for (int k = 0; k < parts; k++)
        oq_pipeline_result_free(a[k].res);
    return rc;
}

int oq_pipeline_reco(const oq_pipeline_result *r, oq_reco **out, oq_error *err)
{
    *out = NULL;
    oq_reco *l = oq_reco_new();
    if (!l) return oq_error_oom(err, NULL, NULL);
    int rc = 0;
    for (size_t c = 0; c < r->n; c++) {
        oq_reco_row w = {.user_id = r->user_id[c],
                         .day = r->tomorrow,
                         .coupon = (uint8_t)r->coupon[c],
                         .expected_profit = r->expected_profit[c],
                         .p_alive = r->p_alive[c]};
        memcpy(w.value, r->values + c * 4, sizeof w.value);
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
    (void)o;
    json_t *j = report_json(r);
    char *text = j ? oq_json_dumps(j, JSON_INDENT(2)) : NULL;
    json_decref(j);
    return text;
}
