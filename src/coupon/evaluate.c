/* evaluate.c - true policy values on generated logs, and off-policy
 * estimates (IPS, doubly robust); see include/offerq/coupon/evaluate.h. */
#include "offerq/coupon/evaluate.h"
#include "offerq/core/comm.h"
#include "offerq/coupon/calib.h"
#include "util/json.h"
#include "offerq/core/csv.h"
#include "offerq/coupon/dynaq.h"
#include "offerq/core/io.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/reward.h"
#include "offerq/coupon/pipeline.h"
#include "util/num.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void oq_truth_free(oq_truth *t)
{
    if (!t) return;
    free(t->reward);
    free(t->spend);
    free(t->alive);
    free(t->idx);
    free(t);
}

int oq_truth_build(const char *path, oq_truth **out, oq_error *err)
{
    return oq_truth_build_part(path, NULL, out, err);
}

long oq_truth_row(const oq_truth *t, int64_t u)
{
    if (u < 1 || (uint64_t)u > t->n) return -1;
    return t->idx ? oq_index_find(t->idx, t->m, (size_t)(u - 1)) : (long)(u - 1);
}

int oq_truth_build_part(const char *path, const oq_part *part, oq_truth **out, oq_error *err)
{
    *out = NULL;
    oq_truth *t = calloc(1, sizeof *t);
    if (!t) return oq_error_oom(err, path, NULL);
    int rc = oq_gen_config_load(path, &t->cfg, err);
    if (rc) goto cleanup;
    size_t n = (size_t)t->cfg.n_customers, m = n;
    t->n = n;
    if (part && part->size > 1 && (rc = oq_part_indices(part, n, &t->idx, &m, err))) goto cleanup;
    t->m = m;
    t->reward = malloc((m ? m : 1) * 4 * sizeof *t->reward);
    t->spend = malloc((m ? m : 1) * 4 * sizeof *t->spend);
    t->alive = malloc((m ? m : 1) * sizeof *t->alive);
    if (!t->reward || !t->spend || !t->alive) {
        rc = oq_error_oom(err, path, NULL);
        goto cleanup;
    }
    int bad = 0;
    /* Customers are independent streams (gen.h), so any order gives the same truth. */
#pragma omp parallel for schedule(dynamic, 256) reduction(| : bad)
    for (long i = 0; i < (long)m; i++) {
        oq_gen_customer cu;
        if (oq_gen_customer_truth(&t->cfg, t->idx ? (long)t->idx[i] : i, &cu)) {
            bad = 1;
            continue;
        }
        t->alive[i] = cu.death_day > t->cfg.end_day + 1;
        for (int c = 0; c < OQ_N_COUPONS; c++) {
            double p;
            oq_gen_expected(&t->cfg, &cu, c, &p, &t->reward[i * 4 + c], &t->spend[i * 4 + c]);
        }
    }
    if (bad) {
        rc = oq_error_oom(err, path, NULL);
        goto cleanup;
    }
    *out = t;
    t = NULL;
cleanup:
    oq_truth_free(t);
    return rc;
}

void oq_truth_value(const oq_truth *t, const int *coupon, double *profit, double *spend)
{
    double p = 0, s = 0;
    for (size_t i = 0; i < t->m; i++) {
        p += t->reward[i * 4 + coupon[i]];
        s += t->spend[i * 4 + coupon[i]];
    }
    *profit = p;
    *spend = s;
}

void oq_truth_value_random(const oq_truth *t, const double *pr, double *profit, double *spend)
{
    double p = 0, s = 0;
    for (size_t i = 0; i < t->m; i++)
        for (int c = 0; c < OQ_N_COUPONS; c++) {
            p += pr[c] * t->reward[i * 4 + c];
            s += pr[c] * t->spend[i * 4 + c];
        }
    *profit = p;
    *spend = s;
}

void oq_truth_oracle(const oq_truth *t, int *coupon, double *profit, double *spend)
{
    double p = 0, s = 0;
    for (size_t i = 0; i < t->m; i++) {
        int b = 0;
        for (int c = 1; c < OQ_N_COUPONS; c++)
            if (t->reward[i * 4 + c] > t->reward[i * 4 + b]) b = c;
        if (coupon) coupon[i] = b;
        p += t->reward[i * 4 + b];
        s += t->spend[i * 4 + b];
    }
    *profit = p;
    *spend = s;
}

/* ---- recommendations CSV ------------------------------------------------------------- */

typedef struct pol_ctx {
    const char *path;
    size_t n;
    int *coupon;
    uint64_t *state;
    const oq_truth *t; /* coupon and state are t's rows; NULL: indexed by user_id - 1 */
    int header_done;
    int col[3]; /* field of user_id, coupon, state (-1: no state column) */
} pol_ctx;

/* A recommendations file, or any CSV with these columns (others ignored;
 * offer for coupon: `offerq uplift`'s recommendations). */
static const oq_csv_col pol_cols[3] = {
    {"user_id", 1, NULL}, {"coupon", 1, "offer"}, {"state", 0, NULL}};

static int pol_row(void *ctx, char **f, const size_t *lens, size_t nf, long line, oq_error *err)
{
    pol_ctx *c = ctx;
    if (!c->header_done) {
        c->header_done = 1;
        return oq_csv_header_map(c->path, line, f, nf, pol_cols, 3, 1, c->col, err);
    }
    const int cu = c->col[0], cc = c->col[1], cs = c->col[2];
    if ((size_t)cu >= nf || (size_t)cc >= nf)
        return oq_error_set(err, OQ_EPARSE, c->path, line, (long)nf, "missing columns");
    int64_t u;
    if (oq_parse_i64(f[cu], lens[cu], &u) || u < 1 || (uint64_t)u > c->n)
        return oq_error_set(err, OQ_EPARSE, c->path, line, cu + 1,
                            "user_id \"%.30s\": expected an id in 1..%zu of the truth file", f[cu],
                            c->n);
    int cp = oq_coupon_parse(f[cc]);
    if (cp < 0)
        return oq_error_set(err, OQ_EPARSE, c->path, line, cc + 1,
                            "coupon \"%.30s\": expected one of none, 5, 10, 20", f[cc]);
    long row = c->t ? oq_truth_row(c->t, u) : (long)u - 1;
    if (row < 0) return 0; /* another part's customer */
    c->coupon[row] = cp;
    if (c->state && cs >= 0 && (size_t)cs < nf) {
        uint64_t h = 1469598103934665603ull; /* FNV-1a */
        for (size_t k = 0; k < lens[cs]; k++)
            h = (h ^ (unsigned char)f[cs][k]) * 1099511628211ull;
        c->state[row] = h | 1;
    }
    return 0;
}

int oq_policy_read_csv_states(const char *path, size_t n, int *coupon, uint64_t *state,
                              oq_error *err)
{
    for (size_t i = 0; i < n; i++) {
        coupon[i] = OQ_COUPON_NONE;
        if (state) state[i] = 0;
    }
    pol_ctx c = {path, n, coupon, state, NULL, 0, {-1, -1, -1}};
    return oq_csv_read(path, NULL, pol_row, &c, err);
}

int oq_truth_read_policy(const oq_truth *t, const char *path, int *coupon, uint64_t *state,
                         oq_error *err)
{
    for (size_t i = 0; i < t->m; i++) {
        coupon[i] = OQ_COUPON_NONE;
        if (state) state[i] = 0;
    }
    pol_ctx c = {path, t->n, coupon, state, t, 0, {-1, -1, -1}};
    return oq_csv_read(path, NULL, pol_row, &c, err);
}

int oq_policy_read_csv(const char *path, size_t n, int *coupon, oq_error *err)
{
    return oq_policy_read_csv_states(path, n, coupon, NULL, err);
}

typedef struct keyed {
    uint64_t key;
    size_t i;
} keyed;

static int cmp_keyed(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

int oq_truth_state_oracle(const oq_truth *t, const uint64_t *state, int *coupon, oq_error *err)
{
    return oq_truth_state_oracle_part(t, state, coupon, NULL, err);
}

/* One state's true reward summed over a part's customers in it. */
typedef struct ssum {
    uint64_t key, at; /* at: place in the gathered list (rank order) */
    double sum[OQ_N_COUPONS];
} ssum;

static int cmp_ssum_key(const void *a, const void *b)
{
    const ssum *x = a, *y = b;
    return (x->key > y->key) - (x->key < y->key);
}

static int cmp_ssum(const void *a, const void *b)
{
    const ssum *x = a, *y = b;
    if (x->key != y->key) return x->key < y->key ? -1 : 1;
    return (x->at > y->at) - (x->at < y->at);
}

/* Every part's sums per state (g, ng: this part's, sorted by state)
 * replaced by the sums over the parts, added in rank order. */
static int state_sums_all(ssum *g, size_t ng, oq_comm *comm, oq_error *err)
{
    void *all = NULL;
    size_t counts[OQ_COMM_MAX], na = 0;
    int rc = oq_comm_gatherv(comm, -1, g, ng * sizeof *g, &all, counts, err);
    if (rc) return rc;
    for (int r = 0; r < oq_comm_size(comm); r++)
        na += counts[r] / sizeof *g;
    ssum *a = all;
    for (size_t i = 0; i < na; i++)
        a[i].at = i;
    qsort(a, na, sizeof *a, cmp_ssum);
    size_t nm = 0; /* a[0..nm): one entry per state, the parts' sums added in rank order */
    for (size_t i = 0; i < na; i++) {
        if (nm && a[nm - 1].key == a[i].key) {
            for (int c = 0; c < OQ_N_COUPONS; c++)
                a[nm - 1].sum[c] += a[i].sum[c];
        } else {
            a[nm++] = a[i];
        }
    }
    for (size_t j = 0; j < ng; j++) {
        ssum key = {.key = g[j].key};
        const ssum *f = bsearch(&key, a, nm, sizeof *a, cmp_ssum_key);
        if (f) memcpy(g[j].sum, f->sum, sizeof g[j].sum);
    }
    free(all);
    return 0;
}

int oq_truth_state_oracle_part(const oq_truth *t, const uint64_t *state, int *coupon, oq_comm *comm,
                               oq_error *err)
{
    size_t n = t->m, ng = 0;
    keyed *k = malloc((n ? n : 1) * sizeof *k);
    ssum *g = malloc((n ? n : 1) * sizeof *g);
    if (!k || !g) {
        free(k);
        free(g);
        return oq_error_oom(err, NULL, NULL);
    }
    for (size_t i = 0; i < n; i++)
        k[i] = (keyed){state[i], i};
    qsort(k, n, sizeof *k, cmp_keyed);
    for (size_t a = 0; a < n; ng++) {
        size_t b = a;
        ssum *s = &g[ng];
        memset(s, 0, sizeof *s); /* padding too: the bytes travel */
        s->key = k[a].key;
        for (; b < n && k[b].key == k[a].key; b++)
            for (int c = 0; c < OQ_N_COUPONS; c++)
                s->sum[c] += t->reward[k[b].i * 4 + c];
        a = b;
    }
    int rc = oq_comm_size(comm) > 1 ? state_sums_all(g, ng, comm, err) : 0;
    for (size_t a = 0, j = 0; !rc && a < n; j++) {
        size_t b = a;
        while (b < n && k[b].key == k[a].key)
            b++;
        int best = 0;
        for (int c = 1; c < OQ_N_COUPONS; c++)
            if (g[j].sum[c] > g[j].sum[best]) best = c;
        for (size_t m = a; m < b; m++)
            coupon[k[m].i] = best;
        a = b;
    }
    free(k);
    free(g);
    return rc;
}

/* ---- off-policy evaluation -------------------------------------------------------------- */

int oq_truth_contacts(const oq_gen_config *cfg, const oq_log *log, double *true_reward,
                      oq_error *err)
{
    oq_log_index *ix = NULL;
    int rc = oq_log_index_build(log, &ix, err);
    if (rc) return rc;
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 256) reduction(| : bad)
    for (long c = 0; c < (long)ix->n_customers; c++) {
        int64_t u = ix->user_id[c];
        size_t k0 = ix->start[c], m = ix->start[c + 1] - k0;
        int32_t day[64];
        double rw[64 * 4], sp[64 * 4];
        int nr = 0;
        if (u < 1 || u > cfg->n_customers ||
            oq_gen_contact_truth(cfg, (long)u - 1, day, rw, sp, &nr) || (size_t)nr != m) {
            bad = 1;
            continue;
        }
        for (size_t k = 0; k < m; k++) {
            size_t i = ix->row[k0 + k];
            if (log->day[i] != day[k]) bad = 1;
            for (int a = 0; a < OQ_N_COUPONS; a++)
                true_reward[i * 4 + a] = rw[k * 4 + a];
        }
    }
    if (bad)
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                          "the log's rows do not match its truth file (not written by `offerq "
                          "gen` with this truth?)");
    oq_log_index_free(ix);
    return rc;
}

int oq_ope_estimate(const oq_log *log, const double *mu, const int *pi, const double *qhat,
                    const double *true_reward, oq_ope *out, oq_error *err)
{
    return oq_ope_estimate_part(log, mu, pi, qhat, true_reward, NULL, out, err);
}

int oq_ope_estimate_part(const oq_log *log, const double *mu, const int *pi, const double *qhat,
                         const double *true_reward, oq_comm *comm, oq_ope *out, oq_error *err)
{
    memset(out, 0, sizeof *out);
    size_t n = log->n;
    out->rows = n;
    double si = 0, si2 = 0, sd = 0, sd2 = 0, st = 0;
    for (size_t i = 0; i < n; i++) {
        int a = log->coupon[i], p = pi[i];
        if (!(mu[a] > 0))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "coupon %s was logged but its propensity is 0", oq_coupon_name(a));
        double r = oq_log_reward(log, i), w = (a == p) / mu[a];
        out->matched += a == p;
        double xi = w * r;
        si += xi, si2 += xi * xi;
        if (qhat) {
            double xd = qhat[i * 4 + p] + w * (r - qhat[i * 4 + a]);
            sd += xd, sd2 += xd * xd;
        }
        if (true_reward) st += true_reward[i * 4 + p];
    }
    if (oq_comm_size(comm) > 1) {
        double sums[5] = {si, si2, sd, sd2, st};
        uint64_t cnt[2] = {out->rows, out->matched};
        int rc = oq_comm_sum(comm, sums, 5, err);
        if (rc || (rc = oq_comm_sum_u64(comm, cnt, 2, err))) return rc;
        si = sums[0], si2 = sums[1], sd = sums[2], sd2 = sums[3], st = sums[4];
        out->rows = n = (size_t)cnt[0];
        out->matched = (size_t)cnt[1];
    }
    double nn = n ? (double)n : 1;
    out->ips = si / nn;
    out->ips_se = n > 1 ? sqrt(fmax(0, si2 / nn - out->ips * out->ips) / (nn - 1)) : NAN;
    out->dr = qhat ? sd / nn : NAN;
    out->dr_se = qhat && n > 1 ? sqrt(fmax(0, sd2 / nn - out->dr * out->dr) / (nn - 1)) : NAN;
    out->truth = true_reward ? st / nn : NAN;
    return 0;
}

/* ---- `offerq eval` ---------------------------------------------------------------------- */

/* Settings of the run from DIR/params.json, to re-run the seed-faithful loop alike. */
static int load_params(const char *path, oq_pipeline_opts *o, oq_error *err);

/* The run's settings: defaults, then DIR/params.json. */
static int load_run_params(const char *run_dir, oq_pipeline_opts *o, oq_error *err)
{
    char path[4096];
    oq_pipeline_opts_default(o);
    if (snprintf(path, sizeof path, "%s/params.json", run_dir) >= (int)sizeof path)
        return oq_error_set(err, OQ_EINVAL, run_dir, 0, 0, "path too long");
    return load_params(path, o, err);
}

static int load_params(const char *path, oq_pipeline_opts *o, oq_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "%s", je.text);
    json_int_t seed = 1, max_rows = 0;
    json_t *budget = NULL;
    const char *kind = "boost";
    int rc = json_unpack_ex(
        root, &je, 0, "{s:I, s:o, s:{s:F, s:F, s:F, s:F}, s:{s:i, s:i, s:F, s:F, s:F, s:F}}",
        "seed", &seed, "budget", &budget, "state", "w_days", &o->disc.w_days, "w_p30",
        &o->disc.w_p30, "w_aov", &o->disc.w_aov, "budget_levels", &o->disc.budget_levels, "dynaq",
        "epochs", &o->dq.epochs, "plan_k", &o->dq.plan_k, "eps0", &o->dq.eps0, "eps_end",
        &o->dq.eps_end, "alpha0", &o->dq.alpha0, "gamma", &o->dq.gamma);
    if (rc) {
        rc = oq_error_set(err, OQ_EPARSE, path, je.line, je.column,
                          "not a params.json of `offerq run`: %s", je.text);
    } else {
        o->dq.seed = (uint64_t)seed;
        o->budget = json_is_number(budget) ? json_number_value(budget) : INFINITY;
        /* The run's r^ source; params of older runs name none: the Transformer. */
        json_t *rw = json_object_get(json_object_get(root, "scorer"), "reward");
        int reward = json_is_string(rw) ? oq_reward_parse(json_string_value(rw)) : -1;
        o->reward = reward >= 0 ? reward : OQ_REWARD_TRANSFORMER;
        /* The P(order) learner; runs before it had one used logistic regressions. */
        json_t *pm = json_object_get(json_object_get(root, "scorer"), "p_model");
        if (o->reward == OQ_REWARD_RESPONSE && !pm) o->pmodel.kind = OQ_PMODEL_LOGISTIC;
        if (pm && json_unpack_ex(pm, &je, 0, "{s:s, s:i, s:i, s:F, s:F, s:F, s:F, s:I}", "kind",
                                 &kind, "trees", &o->pmodel.trees, "depth", &o->pmodel.depth, "eta",
                                 &o->pmodel.eta, "subsample", &o->pmodel.subsample,
                                 "min_child_weight", &o->pmodel.min_child_weight, "lambda",
                                 &o->pmodel.lambda, "max_rows", &max_rows)) {
            rc = oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "scorer.p_model: %s",
                              je.text);
        } else if (pm && (o->pmodel.kind = oq_pmodel_parse(kind)) < 0) {
            rc =
                oq_error_set(err, OQ_EPARSE, path, 0, 0, "scorer.p_model.kind: unknown '%s'", kind);
        } else if (pm) {
            o->pmodel.max_rows = max_rows > 0 ? (size_t)max_rows : o->pmodel.max_rows;
        }
        /* The response model's features; runs before the switch used all. */
        json_t *fe = json_object_get(json_object_get(root, "scorer"), "features");
        if (!rc && fe &&
            (!json_is_string(fe) ||
             (o->features = oq_resp_features_parse(json_string_value(fe))) < 0))
            rc = oq_error_set(err, OQ_EPARSE, path, 0, 0,
                              "scorer.features: expected all, no-evidence or raw");
        /* --seq-features and --seq-state full (runs before them had neither) */
        json_t *sf = json_object_get(json_object_get(root, "scorer"), "seq_features");
        json_t *ss = json_object_get(json_object_get(root, "scorer"), "seq_state");
        o->seq_features = json_is_true(sf);
        o->seq_state_full = json_is_string(ss) && !strcmp(json_string_value(ss), "full");
    }
    json_decref(root);
    return rc;
}

static void add_policy(oq_eval_report *r, const char *name, double profit, double spend)
{
    if (r->npol >= OQ_EVAL_MAX_POLICIES) return;
    oq_eval_policy *p = &r->pol[r->npol++];
    snprintf(p->name, sizeof p->name, "%s", name);
    p->profit = profit;
    p->spend = spend;
}

/* Rows of log whose user_id has parity `fold` (a 2-fold split by customer). */
static int log_fold(const oq_log *log, int fold, oq_log **out, oq_error *err)
{
    *out = NULL;
    oq_log *t = calloc(1, sizeof *t);
    size_t m = 0, c;
    for (size_t i = 0; i < log->n; i++)
        m += (size_t)(log->user_id[i] & 1) == (size_t)fold;
    c = m ? m : 1;
    if (!t || !(t->user_id = malloc(c * sizeof *t->user_id)) ||
        !(t->day = malloc(c * sizeof *t->day)) ||
        !(t->days_since = malloc(c * sizeof *t->days_since)) ||
        !(t->purchases_30d = malloc(c * sizeof *t->purchases_30d)) ||
        !(t->aov = malloc(c * sizeof *t->aov)) ||
        !(t->category = malloc(c * sizeof *t->category)) ||
        !(t->budget = malloc(c * sizeof *t->budget)) || !(t->coupon = malloc(c)) ||
        !(t->order = malloc(c)) || !(t->profit = malloc(c * sizeof *t->profit))) {
        oq_log_free(t);
        return oq_error_oom(err, NULL, NULL);
    }
    for (uint32_t k = 0; k < log->cats.n; k++) {
        uint32_t id;
        if (oq_dict_intern(&t->cats, log->cats.names[k], strlen(log->cats.names[k]), &id)) {
            oq_log_free(t);
            return oq_error_oom(err, NULL, NULL);
        }
    }
    size_t j = 0;
    for (size_t i = 0; i < log->n; i++) {
        if ((size_t)(log->user_id[i] & 1) != (size_t)fold) continue;
        oq_log_copy_row(t, j++, log, i);
    }
    t->n = t->cap = m;
    *out = t;
    return 0;
}

/* Q-greedy coupon of each row of log (none for states q never trained on). */
static void q_greedy_rows(const oq_qtable *q, const oq_log *log, int fold, int *rowpol)
{
    for (size_t i = 0; i < log->n; i++) {
        if (fold >= 0 && (size_t)(log->user_id[i] & 1) != (size_t)fold) continue;
        long e = oq_qtable_find(q, oq_dynaq_key_row(&q->disc, log, i));
        const uint32_t *nv = e >= 0 ? q->visits + (size_t)e * 4 : NULL;
        rowpol[i] = nv && nv[0] + nv[1] + nv[2] + nv[3] ? oq_qtable_argmax(q, (size_t)e) : 0;
    }
}

static int argmax4(const double v[4])
{
    int b = 0;
    for (int a = 1; a < OQ_N_COUPONS; a++)
        b = v[a] > v[b] ? a : b;
    return b;
}

/* Row policies of a response-model run (its plan is per customer, not per
 * Q-table state): cross: for each fold of customers (user_id parity), the
 * P(order) learner (the run's, pmodel.h) fitted on the other fold's rows
 * picks argmax r^ = P(order) (g - value) of each row; insample: the run's
 * own r^ of every row. The features, g and the BG/NBD fit (P(alive), an
 * input) come from the whole log: they see purchases and browsing, never
 * coupon outcomes. The budget is not applied (argmax per row). pcross (n):
 * each row's cross-fitted P(order | its logged coupon), for calib.h. */
static int response_row_policies(const oq_log *log, const oq_pipeline_opts *po, oq_comm *comm,
                                 int *cross, int *insample, double *pcross, oq_error *err)
{
    oq_log_index *ix = NULL;
    oq_log *tom = NULL;
    oq_alive *alive = NULL;
    oq_reward *mods = NULL;
    oq_pmodel *pm = NULL;
    oq_resp_feat *X = NULL;
    double *p = NULL;
    size_t n = log->n;
    int rc = oq_log_index_build(log, &ix, err);
    if (rc) return rc;
    /* tomorrow: the day after the whole log's last, at that day's lowest
     * budget level (over the parts, as the run's ingest) */
    int32_t last;
    float budget;
    oq_log_tomorrow_budget(log, &last, &budget);
    int64_t last64 = last;
    if ((rc = oq_comm_max_i64(comm, &last64, 1, err))) goto cleanup;
    double nb = last64 == last ? -(double)budget : -1.0;
    if ((rc = oq_comm_max(comm, &nb, 1, err))) goto cleanup;
    int32_t day = (int32_t)last64 + 1;
    oq_pmodel_opts popt = po->pmodel;
    popt.seed = po->dq.seed;
    popt.quiet = 1;
    oq_alive_opts ao = {.log_path = po->log_path,
                        .orders_path = po->orders_path,
                        .quiet = 1,
                        .comm = comm,
                        .has_last_day = oq_comm_size(comm) > 1,
                        .last_day = day - 1};
    oq_reward_input in = {.log = log,
                          .ix = ix,
                          .day = day,
                          .disc = &po->disc,
                          .log_path = po->log_path,
                          .events_path = po->events_path,
                          .quiet = 1,
                          .keep_features = 1,
                          .features = po->features,
                          .seed = po->dq.seed,
                          .pmodel = &popt,
                          .comm = comm};
    const oq_resp_feat *F = NULL;
    const double *rall = NULL, *g = NULL;
    if ((rc = oq_log_tomorrow_at(log, ix, day, (float)-nb, &tom, err)) ||
        (rc = oq_alive_fit(log, &ao, &alive, err)))
        goto cleanup;
    in.tomorrow = tom;
    in.alive = alive;
    if ((rc = oq_reward_fit(OQ_REWARD_RESPONSE, &in, &mods, err)) ||
        (rc = oq_reward_response_rows(mods, &F, &rall, &g, err)))
        goto cleanup;
    for (size_t i = 0; i < n; i++)
        insample[i] = argmax4(rall + 4 * i);
    X = malloc((n ? n : 1) * OQ_RESP_NFEAT * sizeof *X);
    p = malloc((n ? n : 1) * 4 * sizeof *p);
    if (!X || !p) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (int f = 0; f < 2 && !rc; f++) {
        /* fitted on fold f's rows of every part (gathered to part 0 and sent
         * back as bytes, as the run's P(order) fit) */
        oq_pmodel_free(pm);
        pm = NULL;
        if ((rc = oq_pmodel_fit_log(&popt, comm, log, F, f, &pm, err))) break;
        size_t m = 0; /* the other fold's rows, then their r^ */
        for (size_t i = 0; i < n; i++)
            if ((size_t)(log->user_id[i] & 1) != (size_t)f)
                memcpy(X + m++ * OQ_RESP_NFEAT, F + i * OQ_RESP_NFEAT, OQ_RESP_NFEAT * sizeof *X);
        if ((rc = oq_pmodel_predict(pm, X, m, p, err))) break;
        m = 0;
        for (size_t i = 0; i < n; i++) {
            if ((size_t)(log->user_id[i] & 1) == (size_t)f) continue;
            double rh[4];
            for (int c = 0; c < 4; c++)
                rh[c] = p[4 * m + c] * (g[i] - oq_coupon_value(c));
            cross[i] = argmax4(rh);
            pcross[i] = p[4 * m + log->coupon[i]];
            m++;
        }
    }
cleanup:
    oq_pmodel_free(pm);
    free(X);
    free(p);
    oq_reward_free(mods);
    oq_alive_free(alive);
    oq_log_free(tom);
    oq_log_index_free(ix);
    return rc;
}

_Static_assert(OQ_COMM_MAX_EVAL == OQ_COMM_MAX, "the report holds every part's bytes");

const char *oq_eval_stage_name(int s)
{
    static const char *n[4] = {"rerun", "policies", "models", "ope"};
    return s >= 0 && s < 4 ? n[s] : "?";
}

/* The bytes this part gave to collectives since *mark, to stage. */
static void tally(oq_comm *c, oq_eval_report *out, int stage, uint64_t *mark)
{
    if (!c) return;
    out->bytes[0][stage] += c->bytes_sent - *mark;
    *mark = c->bytes_sent;
}

/* The off-policy part of eval: the run's per-row policy (cross-fitted and
 * in-sample) and each fixed coupon, IPS and DR with propensities mu (4);
 * truec (n, 4) the true reward of each row and coupon, or NULL. */
/* The calibration of the cross-fitted P(order | logged coupon) p (log->n)
 * of every part's rows: gathered on part 0 in rank order (8 + 1 bytes a
 * row), binned there (the bins are quantiles of every row's prediction). */
static int calib_all(const oq_log *log, const double *p, oq_comm *comm, oq_calib *out,
                     oq_error *err)
{
    if (oq_comm_size(comm) <= 1) return oq_calib_bins(p, log->order, log->n, out, err);
    void *pa = NULL, *ya = NULL;
    size_t cp[OQ_COMM_MAX], cy[OQ_COMM_MAX], n = 0;
    int rc = oq_comm_gatherv(comm, 0, p, log->n * sizeof *p, &pa, cp, err);
    if (!rc) rc = oq_comm_gatherv(comm, 0, log->order, log->n, &ya, cy, err);
    if (!rc && oq_comm_rank(comm) == 0) {
        for (int r = 0; r < oq_comm_size(comm); r++)
            n += cy[r];
        rc = oq_calib_bins(pa, ya, n, out, err);
    }
    free(pa);
    free(ya);
    return rc;
}

static int ope_section(const oq_log *log, const char *run_dir, const oq_pipeline_opts *po_in,
                       const double *mu, const double *truec, oq_comm *comm, oq_eval_report *out,
                       uint64_t *mark, oq_error *err)
{
    char path[4096];
    oq_pipeline_opts po = *po_in;
    oq_qtable *q = NULL;
    oq_empirical *im = NULL;
    int *rowpol = NULL, *rowin = NULL;
    double *qhat = NULL, *pa = NULL, *pcal = NULL;
    int rc = 0;
    size_t nr = log->n ? log->n : 1;
    rowpol = malloc(nr * sizeof *rowpol);
    rowin = malloc(nr * sizeof *rowin);
    qhat = malloc(nr * 4 * sizeof *qhat);
    pa = malloc(nr * sizeof *pa);
    pcal = malloc(nr * sizeof *pcal);
    if (!rowpol || !rowin || !qhat || !pa || !pcal) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if (snprintf(path, sizeof path, "%s/qtable.ofq", run_dir) >= (int)sizeof path) {
        rc = oq_error_set(err, OQ_EINVAL, run_dir, 0, 0, "path too long");
        goto cleanup;
    }
    if ((rc = oq_qtable_load(path, &q, err))) goto cleanup;
    if ((rc = oq_empirical_fit_part(log, &q->disc, 0, comm, &im, err))) goto cleanup;
    oq_scorer sc = oq_empirical_scorer(im);
    if ((rc = oq_scorer_score_all(&sc, log, 0, pa, qhat, err))) goto cleanup;
    /* Honest OPE of the training procedure: 2-fold cross-fitting by customer
     * (train on one half, estimate on the other), as a policy fitted on the
     * rows it is evaluated on picks the rows whose logged reward was lucky. */
    po.dq.faithful = 0;
    if (po.reward == OQ_REWARD_RESPONSE) {
        if ((rc = response_row_policies(log, &po, comm, rowpol, rowin, pcal, err))) goto cleanup;
        tally(comm, out, OQ_EVAL_STAGE_MODELS, mark);
        if ((rc = calib_all(log, pcal, comm, &out->calib, err))) goto cleanup;
        out->has_calib = 1;
    } else {
        q_greedy_rows(q, log, -1, rowin);
    }
    for (int f = 0; po.reward != OQ_REWARD_RESPONSE && f < 2; f++) {
        oq_log *half = NULL;
        oq_pipeline_result *hr = NULL;
        if ((rc = log_fold(log, f, &half, err))) goto cleanup;
        rc = half && half->n ? oq_pipeline_run(&po, half, &hr, err) : 0;
        if (!rc && hr) q_greedy_rows(hr->q, log, 1 - f, rowpol);
        oq_pipeline_result_free(hr);
        oq_log_free(half);
        if (rc) goto cleanup;
    }
    for (int k = -2; k < OQ_N_COUPONS; k++) {
        if (k == -1) memcpy(rowpol, rowin, log->n * sizeof *rowpol);
        if (k >= 0)
            for (size_t i = 0; i < log->n; i++)
                rowpol[i] = k;
        if ((rc = oq_ope_estimate_part(log, mu, rowpol, qhat, truec, comm, &out->ope[out->nope],
                                       err)))
            goto cleanup;
        snprintf(out->ope_name[out->nope], sizeof out->ope_name[0], "%s",
                 k == -2   ? "offerq (2-fold cross-fit)"
                 : k == -1 ? "offerq in-sample (biased)"
                 : k       ? oq_coupon_name(k)
                           : "no coupon");
        out->nope++;
    }
    tally(comm, out, OQ_EVAL_STAGE_OPE, mark);
cleanup:
    oq_qtable_free(q);
    oq_empirical_free(im);
    free(rowpol);
    free(rowin);
    free(qhat);
    free(pa);
    free(pcal);
    return rc;
}

/* The log's rows of this part's customers (every row with one part). */
static int read_log(const char *log_path, oq_comm *comm, oq_log **log, oq_error *err)
{
    oq_part part = oq_comm_part(comm);
    return oq_log_read_part(log_path, oq_comm_size(comm) > 1 ? &part : NULL, log, err);
}

/* Only a run of the response reward is evaluated in parts. */
static int parts_reward(const oq_pipeline_opts *po, oq_comm *comm, oq_error *err)
{
    if (oq_comm_size(comm) <= 1 || po->reward == OQ_REWARD_RESPONSE) return 0;
    return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                        "eval in parts (--shards N, mpirun -np N) needs a run of the response "
                        "reward (the default); this run's r^ is %s: run eval as one process",
                        oq_reward_name(po->reward));
}

/* eval without a truth file: the off-policy estimates alone, with each
 * coupon's share of the log as its propensity (right for a log whose coupons
 * were drawn at random with fixed shares, as the seed's logging policy). */
static int eval_log_only(const char *log_path, const char *run_dir, int quiet, oq_comm *comm,
                         oq_eval_report *out, oq_error *err)
{
    oq_log *log = NULL;
    int rc = read_log(log_path, comm, &log, err);
    if (rc) return rc;
    oq_pipeline_opts po;
    if ((rc = load_run_params(run_dir, &po, err))) goto cleanup;
    po.quiet = quiet;
    po.log_path = log_path;
    if (po.reward == OQ_REWARD_TRANSFORMER) po.reward = OQ_REWARD_EMPIRICAL;
    if ((rc = parts_reward(&po, comm, err))) goto cleanup;
    uint64_t cnt[OQ_N_COUPONS + 1] = {0}; /* then the rows */
    double mu[OQ_N_COUPONS];
    for (size_t i = 0; i < log->n; i++)
        cnt[log->coupon[i]]++;
    cnt[OQ_N_COUPONS] = log->n;
    if ((rc = oq_comm_sum_u64(comm, cnt, OQ_N_COUPONS + 1, err))) goto cleanup;
    for (int c = 0; c < OQ_N_COUPONS; c++)
        mu[c] = cnt[OQ_N_COUPONS] ? (double)cnt[c] / (double)cnt[OQ_N_COUPONS] : 0;
    out->log_only = 1;
    out->customers = 0;
    snprintf(out->scorer, sizeof out->scorer, "%s", oq_reward_name(po.reward));
    uint64_t mark = comm ? comm->bytes_sent : 0;
    rc = ope_section(log, run_dir, &po, mu, NULL, comm, out, &mark, err);
cleanup:
    oq_log_free(log);
    return rc;
}

/* Every part's bytes per stage to part 0's report (parts only; the bytes of
 * this collective itself are not counted). */
static int gather_bytes(oq_comm *comm, oq_eval_report *out, oq_error *err)
{
    out->parts = oq_comm_size(comm);
    if (out->parts <= 1) return 0;
    void *all = NULL;
    size_t counts[OQ_COMM_MAX];
    int rc = oq_comm_gatherv(comm, 0, out->bytes[0], sizeof out->bytes[0], &all, counts, err);
    if (!rc && oq_comm_rank(comm) == 0)
        memcpy(out->bytes, all, (size_t)out->parts * sizeof out->bytes[0]);
    free(all);
    return rc;
}

/* The policies' totals (each part's, from add_policy) summed over the
 * parts, and their shares of the oracle's uplift. */
static int policy_totals(oq_eval_report *out, oq_comm *comm, oq_error *err)
{
    double v[2 * OQ_EVAL_MAX_POLICIES];
    for (int k = 0; k < out->npol; k++) {
        v[2 * k] = out->pol[k].profit;
        v[2 * k + 1] = out->pol[k].spend;
    }
    int rc = oq_comm_sum(comm, v, 2 * (size_t)out->npol, err);
    if (rc) return rc;
    for (int k = 0; k < out->npol; k++) {
        out->pol[k].profit = v[2 * k];
        out->pol[k].spend = v[2 * k + 1];
    }
    double none = out->pol[0].profit, orc = out->pol[out->npol - 1].profit;
    for (int k = 0; k < out->npol; k++)
        out->pol[k].pct_of_oracle_uplift = oq_eval_pct_of_uplift(out->pol[k].profit, none, orc);
    return 0;
}

int oq_eval_run(const char *log_path, const char *run_arg, const char *truth_path, int quiet,
                oq_eval_report *out, oq_error *err)
{
    return oq_eval_run_part(log_path, run_arg, truth_path, quiet, NULL, out, err);
}

int oq_eval_run_part(const char *log_path, const char *run_arg, const char *truth_path, int quiet,
                     oq_comm *comm, oq_eval_report *out, oq_error *err)
{
    memset(out, 0, sizeof *out);
    char tpath[4096], path[4096], run_dir[4096] = "";
    oq_log *log = NULL;
    oq_truth *t = NULL;
    oq_pipeline_result *fr = NULL;
    int *pol = NULL;
    uint64_t *states = NULL;
    double *truec = NULL;
    int parts = oq_comm_size(comm);
    oq_part part = oq_comm_part(comm);
    if (oq_comm_rank(comm) > 0) quiet = 1; /* part 0 speaks for the job */
    /* The run folder may be a link a later run switches (io.h): resolve
     * once, on part 0 for every part. */
    uint64_t mark = comm ? comm->bytes_sent : 0;
    int rc = oq_comm_rank(comm) == 0 ? oq_rundir_resolve(run_arg, run_dir, sizeof run_dir, err) : 0;
    if (rc || (rc = oq_comm_bcast(comm, 0, run_dir, sizeof run_dir, err))) return rc;
    tally(comm, out, OQ_EVAL_STAGE_POLICIES, &mark);
    if (!truth_path) {
        if (oq_sidecar_path(log_path, ".truth.json", tpath, sizeof tpath))
            return oq_error_set(err, OQ_EINVAL, log_path, 0, 0, "path too long");
        if (!oq_file_exists(tpath))
            return (rc = eval_log_only(log_path, run_dir, quiet, comm, out, err))
                       ? rc
                       : gather_bytes(comm, out, err);
        truth_path = tpath;
    }
    if (!oq_file_exists(truth_path))
        return oq_error_set(err, OQ_EIO, truth_path, 0, 0, "no such truth file");
    if ((rc = read_log(log_path, comm, &log, err))) goto cleanup;
    if ((rc = oq_truth_build_part(truth_path, parts > 1 ? &part : NULL, &t, err))) goto cleanup;
    if (!t) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    size_t n = t->m; /* this part's customers */
    out->customers = t->n;
    pol = malloc((n ? n : 1) * sizeof *pol);
    truec = malloc((log->n ? log->n : 1) * 4 * sizeof *truec);
    if (!pol || !truec) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    double p, s;
    /* fixed coupons and the logging policy */
    for (int c = 0; c < OQ_N_COUPONS; c++) {
        for (size_t i = 0; i < n; i++)
            pol[i] = c;
        oq_truth_value(t, pol, &p, &s);
        add_policy(out, c ? oq_coupon_name(c) : "no coupon", p, s);
    }
    oq_truth_value_random(t, t->cfg.p_log, &p, &s);
    add_policy(out, "random (logging)", p, s);
    /* the seed-faithful loop, re-run in memory with the run's settings (in
     * parts: as a run in as many parts) */
    oq_pipeline_opts po;
    if ((rc = load_run_params(run_dir, &po, err))) goto cleanup;
    po.dq.faithful = 1;
    po.quiet = quiet;
    po.log_path = log_path; /* for the sidecar rules (purchases, events) */
    po.stream_list = 1;     /* a part's result: its own customers */
    /* The same r^ source as the run. A Transformer or sequence run's model
     * is reused rather than trained again (the Dyna-Q part is re-run; the
     * model itself saw every row); without it, the empirical r^. */
    char model[4096];
    if (po.reward == OQ_REWARD_TRANSFORMER || po.reward == OQ_REWARD_SEQUENCE) {
        if (snprintf(model, sizeof model, "%s/model.ofq", run_dir) < (int)sizeof model &&
            oq_file_exists(model))
            po.model_path = model;
        else
            po.reward = OQ_REWARD_EMPIRICAL;
    }
    if ((rc = parts_reward(&po, comm, err))) goto cleanup;
    tally(comm, out, OQ_EVAL_STAGE_POLICIES, &mark);
    if ((rc = parts > 1 ? oq_pipeline_run_part(&po, comm, log, &fr, err)
                        : oq_pipeline_run(&po, log, &fr, err)))
        goto cleanup;
    tally(comm, out, OQ_EVAL_STAGE_RERUN, &mark);
    for (size_t i = 0; i < n; i++)
        pol[i] = OQ_COUPON_NONE;
    for (size_t c = 0; c < fr->n; c++) {
        long row = oq_truth_row(t, fr->user_id[c]);
        if (row >= 0) pol[row] = fr->coupon[c];
    }
    oq_truth_value(t, pol, &p, &s);
    add_policy(out, "seed-faithful", p, s);
    /* offerq: the run's recommendations */
    if (snprintf(path, sizeof path, "%s/recommendations.csv", run_dir) >= (int)sizeof path) {
        rc = oq_error_set(err, OQ_EINVAL, run_dir, 0, 0, "path too long");
        goto cleanup;
    }
    if (!(states = malloc((n ? n : 1) * sizeof *states))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    if ((rc = oq_truth_read_policy(t, path, pol, states, err))) goto cleanup;
    oq_truth_value(t, pol, &p, &s);
    add_policy(out, "offerq", p, s);
    /* the ceiling of any policy over the run's states (truth per state) */
    if ((rc = oq_truth_state_oracle_part(t, states, pol, comm, err))) goto cleanup;
    oq_truth_value(t, pol, &p, &s);
    add_policy(out, "state-oracle", p, s);
    oq_truth_oracle(t, NULL, &p, &s);
    add_policy(out, "oracle", p, s);
    if ((rc = policy_totals(out, comm, err))) goto cleanup;
    tally(comm, out, OQ_EVAL_STAGE_POLICIES, &mark);

    if ((rc = oq_truth_contacts(&t->cfg, log, truec, err))) goto cleanup;
    out->scorer_baseline = fr->baseline;
    snprintf(out->scorer, sizeof out->scorer, "%s", fr->scorer_name);
    rc = ope_section(log, run_dir, &po, t->cfg.p_log, truec, comm, out, &mark, err);
    if (!rc) rc = gather_bytes(comm, out, err);
cleanup:
    oq_log_free(log);
    oq_truth_free(t);
    oq_pipeline_result_free(fr);
    free(pol);
    free(states);
    free(truec);
    return rc;
}

typedef struct eval_arg {
    const char *log_path, *run_dir, *truth_path;
    int quiet;
    oq_eval_report rep;
} eval_arg;

static int eval_part_main(int rank, oq_comm *c, void *arg, oq_error *err)
{
    (void)rank;
    eval_arg *a = arg;
    return oq_eval_run_part(a->log_path, a->run_dir, a->truth_path, a->quiet, c, &a->rep, err);
}

int oq_eval_run_parts(const char *log_path, const char *run_dir, const char *truth_path, int quiet,
                      int parts, oq_eval_report *out, oq_error *err)
{
    if (parts <= 1) return oq_eval_run(log_path, run_dir, truth_path, quiet, out, err);
    memset(out, 0, sizeof *out);
    if (parts > OQ_COMM_MAX)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "shards must be in 1..%d", OQ_COMM_MAX);
    eval_arg *a = calloc((size_t)parts, sizeof *a);
    void *args[OQ_COMM_MAX];
    if (!a) return oq_error_oom(err, NULL, NULL);
    for (int k = 0; k < parts; k++) {
        a[k] = (eval_arg){
            .log_path = log_path, .run_dir = run_dir, .truth_path = truth_path, .quiet = quiet};
        args[k] = &a[k];
    }
    int rc = oq_comm_threads_run(parts, eval_part_main, args, NULL, err);
    if (!rc) *out = a[0].rep;
    free(a);
    return rc;
}

double oq_eval_pct_of_uplift(double profit, double none, double oracle)
{
    /* An oracle that gains nothing over no coupon (a log with no coupon
     * effect, `gen --contact-effect 0`) leaves the ratio undefined; a gain
     * within rounding of the totals counts as none. */
    double gain = oracle - none;
    if (!(gain > 1e-9 * (1 + fabs(none)))) return NAN;
    return 100.0 * (profit - none) / gain;
}

/* "%*.1f%%" of pct, or "n/a" in the same width when it is not finite. */
static void print_pct(FILE *fp, int width, double pct)
{
    if (isfinite(pct))
        fprintf(fp, "%*.1f%%", width - 1, pct);
    else
        fprintf(fp, "%*s", width, "n/a");
}

static void print_calib(FILE *fp, const oq_eval_report *r)
{
    if (!r->has_calib) return;
    const oq_calib *c = &r->calib;
    fprintf(fp,
            "\nCalibration of P(order | logged coupon), cross-fitted (2 folds by customer), "
            "%zu rows in %d bins by the prediction; log-loss %.4f, Brier %.4f:\n\n",
            c->rows, OQ_CALIB_BINS, c->logloss, c->brier);
    fprintf(fp, "%-6s %10s %10s %8s\n", "bin", "predicted", "observed", "rows");
    for (int b = 0; b < OQ_CALIB_BINS; b++)
        fprintf(fp, "%-6d %10.4f %10.4f %8zu\n", b + 1, c->pred[b], c->obs[b], c->n[b]);
}

void oq_eval_print(const oq_eval_report *r, void *fpv)
{
    FILE *fp = fpv;
    if (r->log_only) {
        fprintf(fp, "No truth file: estimates from the log alone (mean net reward per logged "
                    "contact),\npropensities ESTIMATED as each coupon's share of the log (right "
                    "for a randomised log\nwith fixed shares), 95 %% intervals = estimate +- "
                    "1.96 se:\n\n");
        fprintf(fp, "%-26s %26s %26s\n", "policy", "IPS [95% interval]", "DR [95% interval]");
        for (int k = 0; k < r->nope; k++) {
            const oq_ope *o = &r->ope[k];
            fprintf(fp, "%-26s %8.3f [%7.3f, %7.3f] %8.3f [%7.3f, %7.3f]\n", r->ope_name[k], o->ips,
                    o->ips - 1.96 * o->ips_se, o->ips + 1.96 * o->ips_se, o->dr,
                    o->dr - 1.96 * o->dr_se, o->dr + 1.96 * o->dr_se);
        }
        fprintf(fp, "\nThe in-sample row is biased upwards (the model saw those rows); judge "
                    "the cross-fitted one.\n");
        print_calib(fp, r);
        return;
    }
    fprintf(fp, "True expected next-day profit and coupon spend, %zu customers:\n\n", r->customers);
    fprintf(fp, "%-20s %14s %12s %18s\n", "policy", "profit", "spend", "% of oracle uplift");
    for (int k = 0; k < r->npol; k++) {
        fprintf(fp, "%-20s %14.2f %12.2f ", r->pol[k].name, r->pol[k].profit, r->pol[k].spend);
        print_pct(fp, 18, r->pol[k].pct_of_oracle_uplift);
        fputc('\n', fp);
    }
    int undefined = 0;
    for (int k = 0; k < r->npol; k++)
        undefined |= !isfinite(r->pol[k].pct_of_oracle_uplift);
    if (undefined)
        fprintf(fp, "(n/a: the oracle gains nothing over no coupon, so no share of its uplift "
                    "is defined)\n");
    fprintf(fp, "\nOff-policy estimates from the log (mean net reward per logged contact):\n\n");
    fprintf(fp, "%-26s %9s %16s %16s %8s %8s\n", "policy", "true", "IPS (+-se)", "DR (+-se)",
            "IPS err", "DR err");
    for (int k = 0; k < r->nope; k++) {
        const oq_ope *o = &r->ope[k];
        fprintf(fp, "%-26s %9.3f %9.3f +-%5.3f %9.3f +-%5.3f ", r->ope_name[k], o->truth, o->ips,
                o->ips_se, o->dr, o->dr_se);
        print_pct(fp, 8, 100 * (o->ips - o->truth) / fabs(o->truth));
        fputc(' ', fp);
        print_pct(fp, 8, 100 * (o->dr - o->truth) / fabs(o->truth));
        fputc('\n', fp);
    }
    if (r->scorer_baseline)
        fprintf(fp,
                "\nNOTE: the run's scorer was %s; its r^ is the empirical baseline, not a "
                "fitted model.\n",
                r->scorer);
    print_calib(fp, r);
}

static json_t *json_num(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

int oq_eval_write_json(const oq_eval_report *r, const char *path, oq_error *err)
{
    /* json_pack("f") fails on a non-finite number and the element would be
     * lost; such numbers are written as null */
    json_t *root = json_object(), *pols = json_array(), *ope = json_object();
    for (int k = 0; k < r->npol; k++) {
        json_t *p = json_object();
        json_object_set_new(p, "name", json_string(r->pol[k].name));
        json_object_set_new(p, "profit", json_num(r->pol[k].profit));
        json_object_set_new(p, "spend", json_num(r->pol[k].spend));
        json_object_set_new(p, "pct_of_oracle_uplift", json_num(r->pol[k].pct_of_oracle_uplift));
        json_array_append_new(pols, p);
    }
    for (int k = 0; k < r->nope; k++) {
        const oq_ope *o = &r->ope[k];
        json_t *e = json_object();
        json_object_set_new(e, "rows", json_integer((json_int_t)o->rows));
        json_object_set_new(e, "matched", json_integer((json_int_t)o->matched));
        json_object_set_new(e, "true", json_num(o->truth));
        json_object_set_new(e, "ips", json_num(o->ips));
        json_object_set_new(e, "ips_se", json_num(o->ips_se));
        json_object_set_new(e, "dr", json_num(o->dr));
        json_object_set_new(e, "dr_se", json_num(o->dr_se));
        json_object_set_new(ope, r->ope_name[k], e);
    }
    json_object_set_new(root, "customers", json_integer((json_int_t)r->customers));
    json_object_set_new(root, "scorer",
                        json_pack("{s:s, s:b}", "name", r->scorer, "baseline", r->scorer_baseline));
    json_object_set_new(root, "policies", pols);
    json_object_set_new(root, "ope", ope);
    if (r->has_calib) {
        const oq_calib *c = &r->calib;
        json_t *cal = json_object(), *bins = json_array();
        for (int b = 0; b < OQ_CALIB_BINS; b++)
            json_array_append_new(bins,
                                  json_pack("{s:i, s:o, s:o, s:I}", "bin", b + 1, "predicted",
                                            json_num(c->pred[b]), "observed", json_num(c->obs[b]),
                                            "rows", (json_int_t)c->n[b]));
        json_object_set_new(cal, "of", json_string("P(order | logged coupon)"));
        json_object_set_new(cal, "source", json_string("cross-fitted, 2 folds by customer"));
        json_object_set_new(cal, "rows", json_integer((json_int_t)c->rows));
        json_object_set_new(cal, "logloss", json_num(c->logloss));
        json_object_set_new(cal, "brier", json_num(c->brier));
        json_object_set_new(cal, "bins", bins);
        json_object_set_new(root, "calibration", cal);
    }
    json_object_set_new(root, "log_only", json_boolean(r->log_only));
    json_object_set_new(root, "propensity",
                        json_string(r->log_only ? "estimated: coupon shares of the log"
                                                : "logged (the generator's logging policy)"));
    int rc = oq_json_write_atomic(path, root, err);
    json_decref(root);
    return rc;
}
