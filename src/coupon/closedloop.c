/* closedloop.c - policies played forward in the true world; see
 * include/offerq/coupon/closedloop.h. */
#include "offerq/coupon/closedloop.h"
#include "offerq/core/comm.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "offerq/coupon/evaluate.h"
#include "offerq/coupon/gen.h"
#include "util/json.h"
#include "util/num.h"
#include "util/wbuf.h"

#include <errno.h>
#include <stdarg.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum { P_NONE, P_C5, P_C10, P_C20, P_RANDOM, P_MYOPIC, P_OFFERQ, P_CLV, P_TMYOPIC, P_ORACLE, P_N };
static const char *pol_name[P_N] = {"no coupon",        "5",      "10",     "20",
                                    "random (logging)", "myopic", "dyna-q", "clv",
                                    "truth-myopic",     "oracle"};

void oq_loop_opts_default(oq_loop_opts *o)
{
    memset(o, 0, sizeof *o);
    o->horizon = 30;
    o->refit_every = 1;
    o->rollouts = 32;
    oq_pipeline_opts_default(&o->job);
}

static double monotonic_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* The world after the log, shared by every policy. In a job in parts
 * (comm) a part holds its customers (idx) and their lines of the log. */
typedef struct world {
    oq_gen_config cfg;
    long n;
    long m;             /* customers held: n, or a part's */
    size_t *idx;        /* (m) their indices, ascending; NULL: every one */
    oq_comm *comm;      /* NULL: one part */
    int32_t day0;       /* the log's tomorrow */
    oq_gen_live *live0; /* (m) every held customer's state on day0 */
    /* The log and its sidecars as read, grown by each job policy. */
    char *log_text, *orders_text, *events_text;
    size_t log_len, orders_len, events_len;
} world;

/* True expected net profit of customer l's day: reached and shown c, or not
 * reached. Summing these instead of the realised orders removes the day's
 * own noise from a policy's profit (the states still follow the realised
 * world), so that two policies' totals differ by their decisions rather
 * than by luck. */
static double expected_net(const oq_gen_config *cfg, const oq_gen_live *l, int32_t day, int reached,
                           int c)
{
    double p, r, s;
    oq_gen_live_expected(cfg, l, day, reached ? c : -1, &p, &r, &s);
    return r;
}

static int truth_myopic(const oq_gen_config *cfg, const oq_gen_live *l, int32_t day)
{
    int best = 0;
    double bv = -INFINITY;
    for (int c = 0; c < OQ_N_COUPONS; c++) {
        double p, r, s;
        oq_gen_live_expected(cfg, l, day, c, &p, &r, &s);
        if (r > bv) {
            bv = r;
            best = c;
        }
    }
    return best;
}

/* The rollout oracle's coupon for customer i in state l, reached on day:
 * each coupon's mean net profit to the horizon's end over R futures
 * (truth-myopic after today), the futures common to the coupons and apart
 * from the real world's own random streams. */
static int oracle_choice(const oq_gen_config *cfg, long i, const oq_gen_live *l, int32_t day,
                         int32_t end, int R, gsl_rng *rng)
{
    double val[OQ_N_COUPONS] = {0};
    for (int r = 0; r < R; r++) {
        oq_gen_config rc = *cfg;
        rc.seed = oq_mix64(cfg->seed ^ (0x726f6c6c6f7574ULL + (uint64_t)r));
        for (int c = 0; c < OQ_N_COUPONS; c++) {
            oq_gen_live f = *l;
            oq_gen_outcome oc;
            val[c] += expected_net(&rc, &f, day, 1, c);
            oq_gen_live_step(&rc, i, &f, day, 1, c, rng, &oc);
            for (int32_t d = day + 1; d < end && f.alive; d++) {
                int reached = oq_gen_live_contacted(&rc, i, d, rng);
                int a = reached ? truth_myopic(&rc, &f, d) : 0;
                val[c] += expected_net(&rc, &f, d, reached, a);
                oq_gen_live_step(&rc, i, &f, d, reached, a, rng, &oc);
            }
        }
    }
    int best = 0;
    for (int c = 1; c < OQ_N_COUPONS; c++)
        if (val[c] > val[best]) best = c;
    return best;
}

/* ---- the nightly job on the grown log ------------------------------------------------ */

typedef struct grown {
    oq_wbuf log, orders, events;
} grown;

static void grown_free(grown *g)
{
    oq_wb_free(&g->log);
    oq_wb_free(&g->orders);
    oq_wb_free(&g->events);
}

static void wb_printf(oq_wbuf *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void wb_printf(oq_wbuf *w, const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int k = vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    if (k > 0) oq_wb_bytes(w, line, (size_t)k < sizeof line ? (size_t)k : sizeof line - 1);
}

/* What one customer's day adds to the log and its sidecars. */
static void grow(grown *g, const world *w, long i, int32_t day, const oq_gen_outcome *oc,
                 double budget_pct)
{
    char date[11];
    oq_date_format(day, date);
    long long uid = (long long)i + 1;
    if (oc->contact)
        wb_printf(&g->log, "%lld,%s,%d,%d,%.2f,%s,%.4f,%s,%d,%.2f\n", uid, date, oc->days_since,
                  oc->p30, oc->aov, oq_gen_category_name(oc->bcat), budget_pct,
                  oq_coupon_name(oc->coupon), oc->order, oc->profit);
    if (oc->order && w->orders_text) wb_printf(&g->orders, "%lld,%s,%.2f\n", uid, date, oc->value);
    if (oc->browsed && w->events_text)
        wb_printf(&g->events, "%lld,%s,%s\n", uid, date, oq_gen_category_name(oc->bcat));
}

/* The row of customer user_id u among w's held customers, or -1. */
static long held_row(const world *w, int64_t u)
{
    if (u < 1 || u > w->n) return -1;
    return w->idx ? oq_index_find(w->idx, (size_t)w->m, (size_t)(u - 1)) : (long)(u - 1);
}

static int write_two(const char *path, const char *a, size_t na, const oq_wbuf *b, oq_error *err)
{
    FILE *fp = fopen(path, "wb");
    if (!fp) return oq_error_set(err, OQ_EIO, path, 0, 0, "cannot write: %s", strerror(errno));
    int ok = fwrite(a, 1, na, fp) == na && (b->n == 0 || fwrite(b->p, 1, b->n, fp) == b->n);
    ok &= fclose(fp) == 0;
    return ok ? 0 : oq_error_set(err, OQ_EIO, path, 0, 0, "write failed");
}

/* Re-run the nightly job of policy pol on the log grown so far; coupon[i]
 * := its plan. Only dyna-q adds the continuation and only clv the CLV term
 * (o->job.clv), so myopic is the same job without either. */
static int run_job(const world *w, const grown *g, const oq_loop_opts *o, const char *dir, int pol,
                   int *coupon, oq_error *err)
{
    char lp[4096], op[4096], ep[4096];
    snprintf(lp, sizeof lp, "%s/log.csv", dir);
    snprintf(op, sizeof op, "%s/log.orders.csv", dir);
    snprintf(ep, sizeof ep, "%s/log.events.csv", dir);
    int rc = write_two(lp, w->log_text, w->log_len, &g->log, err);
    if (!rc && w->orders_text) rc = write_two(op, w->orders_text, w->orders_len, &g->orders, err);
    if (!rc && w->events_text) rc = write_two(ep, w->events_text, w->events_len, &g->events, err);
    if (rc) return rc;
    oq_pipeline_opts job = o->job;
    job.log_path = lp;
    job.out_dir = NULL;
    job.orders_path = w->orders_text ? op : NULL;
    job.events_path = w->events_text ? ep : NULL;
    job.continuation = pol == P_OFFERQ;
    if (pol != P_CLV) job.clv.weight = 0;
    job.quiet = 1;
    job.stream_list = 1; /* in parts: a part's result holds its customers */
    oq_pipeline_result *res = NULL;
    if (oq_comm_size(w->comm) > 1) {
        /* this part's file holds its customers only: the parts agree on the
         * category ids first (as with --pg), then run as `run --shards N` */
        oq_log *log = NULL;
        rc = oq_log_read(lp, &log, err);
        if (!rc) rc = oq_log_share_cats(log, w->comm, err);
        if (!rc) rc = oq_pipeline_run_part(&job, w->comm, log, &res, err);
        oq_log_free(log);
    } else {
        rc = oq_pipeline_run(&job, NULL, &res, err);
    }
    if (rc) return rc;
    for (size_t k = 0; k < res->n; k++) {
        long row = held_row(w, res->user_id[k]);
        if (row >= 0) coupon[row] = res->coupon[k];
    }
    oq_pipeline_result_free(res);
    return 0;
}

/* ---- one policy played for the horizon ----------------------------------------------- */

/* The customer index of w's held customer k. */
#define CUST(w, k) ((w)->idx ? (long)(w)->idx[k] : (k))

static int play(const world *w, int pol, const oq_loop_opts *o, const char *dir,
                oq_loop_policy *out, oq_error *err)
{
    long n = w->m; /* the customers this part plays; customer w->idx[k] (k: every one) */
    int H = o->horizon, K = o->refit_every > 0 ? o->refit_every : 1;
    int job = pol == P_MYOPIC || pol == P_OFFERQ || pol == P_CLV;
    double t0 = monotonic_s();
    oq_gen_live *live = malloc((size_t)(n ? n : 1) * sizeof *live);
    int *coupon = calloc((size_t)(n ? n : 1), sizeof *coupon);
    unsigned char *reached = malloc((size_t)(n ? n : 1));
    gsl_rng *rng = oq_rng_new(w->cfg.seed, 0);
    grown g;
    memset(&g, 0, sizeof g);
    int rc = 0;
    if (!live || !coupon || !reached || !rng) {
        rc = oq_error_oom(err, NULL, "the closed loop");
        goto cleanup;
    }
    memcpy(live, w->live0, (size_t)(n ? n : 1) * sizeof *live);
    double total = w->cfg.lasting.campaign_budget * (double)n, left = total;
    double profit = 0, spend = 0;
    int32_t end = w->day0 + H;
    for (int t = 0; t < H; t++) {
        int32_t day = w->day0 + t;
        if (job && t % K == 0 && (rc = run_job(w, &g, o, dir, pol, coupon, err))) goto cleanup;
        for (long k = 0; k < n; k++)
            reached[k] = (unsigned char)oq_gen_live_contacted(&w->cfg, CUST(w, k), day, rng);
        /* Choices of the truth policies: per customer, so in parallel. */
        if (pol == P_TMYOPIC || pol == P_ORACLE) {
#pragma omp parallel
            {
                gsl_rng *trng = oq_rng_new(w->cfg.seed, 0);
#pragma omp for schedule(dynamic, 64)
                for (long k = 0; k < n; k++) {
                    if (!reached[k] || !trng) continue;
                    coupon[k] = pol == P_TMYOPIC ? truth_myopic(&w->cfg, &live[k], day)
                                                 : oracle_choice(&w->cfg, CUST(w, k), &live[k], day,
                                                                 end, o->rollouts, trng);
                }
                gsl_rng_free(trng);
            }
        }
        double pct = total > 0 ? left / total : w->cfg.budget_left_end;
        for (long k = 0; k < n; k++) {
            long i = CUST(w, k);
            int c = 0;
            if (reached[k]) {
                switch (pol) {
                case P_C5:
                case P_C10:
                case P_C20:
                    c = pol - P_NONE;
                    break;
                case P_RANDOM: {
                    oq_rng_seed(rng, oq_mix64(w->cfg.seed + 0x72616e646f6dULL + (uint64_t)day),
                                (uint64_t)i);
                    double u = gsl_rng_uniform(rng), acc = 0;
                    for (c = 0; c < OQ_N_COUPONS - 1; c++)
                        if (u < (acc += w->cfg.p_log[c])) break;
                    break;
                }
                case P_NONE:
                    break;
                default:
                    c = coupon[k];
                    break;
                }
                /* A coupon the campaign can no longer pay is not shown. */
                if (total > 0 && oq_coupon_value(c) > left) c = 0;
            }
            oq_gen_outcome oc;
            double p, r, s;
            oq_gen_live_expected(&w->cfg, &live[k], day, reached[k] ? c : -1, &p, &r, &s);
            profit += r;
            spend += s;
            oq_gen_live_step(&w->cfg, i, &live[k], day, reached[k], c, rng, &oc);
            if (oc.order && oc.coupon) left -= oq_coupon_value(oc.coupon);
            if (job) grow(&g, w, i, day, &oc, pct);
        }
        if (g.log.bad || g.orders.bad || g.events.bad) {
            rc = oq_error_oom(err, NULL, "the grown log");
            goto cleanup;
        }
        if (!o->quiet) fprintf(stderr, "\rofferq eval: %-18s day %d/%d", pol_name[pol], t + 1, H);
    }
    if (!o->quiet) fputc('\n', stderr);
    /* the parts' totals, added in rank order (comm.h) */
    double tot[2] = {profit, spend};
    if ((rc = oq_comm_sum(w->comm, tot, 2, err))) goto cleanup;
    snprintf(out->name, sizeof out->name, "%s", pol_name[pol]);
    out->profit = tot[0];
    out->spend = tot[1];
    out->seconds = monotonic_s() - t0;
cleanup:
    free(live);
    free(coupon);
    free(reached);
    gsl_rng_free(rng);
    grown_free(&g);
    return rc;
}

/* ---- the evaluation ------------------------------------------------------------------ */

static int read_opt(const char *path, char **text, size_t *len, oq_error *err)
{
    *text = NULL;
    *len = 0;
    if (access(path, F_OK) != 0) return 0;
    return oq_read_file(path, (size_t)1 << 36, text, len, err);
}

/* Keep the header and the lines of text whose first field (user_id) is a
 * customer of part p, in place. */
static void keep_part_lines(char *text, size_t *len, const oq_part *p)
{
    size_t r = 0, wpos = 0, n = *len;
    for (int line = 0; r < n; line++) {
        char *nl = memchr(text + r, '\n', n - r);
        size_t e = nl ? (size_t)(nl - text) + 1 : n;
        int64_t u;
        const char *comma = memchr(text + r, ',', e - r);
        int keep = line == 0 || !comma ||
                   oq_parse_i64(text + r, (size_t)(comma - (text + r)), &u) ||
                   oq_part_keeps(p, u); /* a line that does not parse: its reader says so */
        if (keep) {
            memmove(text + wpos, text + r, e - r);
            wpos += e - r;
        }
        r = e;
    }
    *len = wpos;
}

int oq_loop_run(const char *log_path, const char *truth_path, const oq_loop_opts *o,
                oq_loop_report *out, oq_error *err)
{
    return oq_loop_run_part(log_path, truth_path, o, NULL, out, err);
}

int oq_loop_run_part(const char *log_path, const char *truth_path, const oq_loop_opts *o,
                     oq_comm *comm, oq_loop_report *out, oq_error *err)
{
    memset(out, 0, sizeof *out);
    oq_loop_opts oc = *o;
    if (oq_comm_rank(comm) > 0) oc.quiet = 1; /* part 0 speaks for the job */
    o = &oc;
    if (o->horizon < 1 || o->horizon > 3650)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "horizon must be in [1, 3650] days");
    char tp[4096], op[4096], ep[4096], dir[4096] = "";
    if (oq_sidecar_path(log_path, ".truth.json", tp, sizeof tp) ||
        oq_sidecar_path(log_path, ".orders.csv", op, sizeof op) ||
        oq_sidecar_path(log_path, ".events.csv", ep, sizeof ep))
        return oq_error_set(err, OQ_EINVAL, log_path, 0, 0, "path too long");
    world w;
    memset(&w, 0, sizeof w);
    oq_part part = oq_comm_part(comm);
    int parts = oq_comm_size(comm);
    int rc = oq_gen_config_load(truth_path ? truth_path : tp, &w.cfg, err);
    if (rc) return rc;
    if (parts > 1 && w.cfg.lasting.campaign_budget > 0)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the closed loop in parts needs a world without a campaign budget "
                            "(its spend is charged customer after customer, across the parts): "
                            "run it as one process");
    w.comm = comm;
    w.n = w.cfg.n_customers;
    w.m = w.n;
    if (parts > 1) {
        size_t m;
        if ((rc = oq_part_indices(&part, (size_t)w.n, &w.idx, &m, err))) return rc;
        w.m = (long)m;
    }
    w.day0 = w.cfg.end_day + 1;
    w.live0 = malloc((size_t)(w.m ? w.m : 1) * sizeof *w.live0);
    if (!w.live0) {
        free(w.idx);
        return oq_error_oom(err, NULL, "the closed loop");
    }
    int bad = 0;
#pragma omp parallel for schedule(dynamic, 256) reduction(| : bad)
    for (long k = 0; k < w.m; k++)
        bad |= oq_gen_live_init(&w.cfg, CUST(&w, k), &w.live0[k]) != 0;
    if (bad) {
        rc = oq_error_oom(err, NULL, "the closed loop");
        goto cleanup;
    }
    if (!o->skip_job) {
        if ((rc = oq_read_file(log_path, (size_t)1 << 36, &w.log_text, &w.log_len, err)) ||
            (rc = read_opt(op, &w.orders_text, &w.orders_len, err)) ||
            (rc = read_opt(ep, &w.events_text, &w.events_len, err)))
            goto cleanup;
        if (parts > 1) { /* this part's customers' lines only */
            keep_part_lines(w.log_text, &w.log_len, &part);
            if (w.orders_text) keep_part_lines(w.orders_text, &w.orders_len, &part);
            if (w.events_text) keep_part_lines(w.events_text, &w.events_len, &part);
        }
        const char *base = o->tmp_dir ? o->tmp_dir : getenv("TMPDIR");
        snprintf(dir, sizeof dir, "%s/offerq-loop.XXXXXX", base && *base ? base : "/tmp");
        if (!mkdtemp(dir)) {
            rc = oq_error_set(err, OQ_EIO, dir, 0, 0, "cannot make a folder: %s", strerror(errno));
            dir[0] = 0;
            goto cleanup;
        }
    }
    out->horizon = o->horizon;
    out->customers = w.n;
    out->budget = w.cfg.lasting.campaign_budget * (double)w.n;
    for (int p = 0; p < P_N; p++) {
        if (o->skip_job && (p == P_MYOPIC || p == P_OFFERQ || p == P_CLV)) continue;
        if (p == P_CLV && o->job.clv.weight == 0) continue;
        if ((rc = play(&w, p, o, dir, &out->pol[out->npol], err))) goto cleanup;
        out->npol++;
    }
    double none = out->pol[0].profit, oracle = out->pol[out->npol - 1].profit;
    for (int p = 0; p < out->npol; p++)
        out->pol[p].pct_of_oracle_uplift = oq_eval_pct_of_uplift(out->pol[p].profit, none, oracle);
cleanup:
    if (dir[0]) {
        const char *names[] = {"log.csv", "log.orders.csv", "log.events.csv"};
        for (int k = 0; k < 3; k++) {
            char f[4200];
            snprintf(f, sizeof f, "%s/%s", dir, names[k]);
            unlink(f);
        }
        rmdir(dir);
    }
    free(w.live0);
    free(w.idx);
    free(w.log_text);
    free(w.orders_text);
    free(w.events_text);
    return rc;
}

typedef struct loop_arg {
    const char *log_path, *truth_path;
    const oq_loop_opts *o;
    oq_loop_report rep;
} loop_arg;

static int loop_part_main(int rank, oq_comm *c, void *arg, oq_error *err)
{
    (void)rank;
    loop_arg *a = arg;
    return oq_loop_run_part(a->log_path, a->truth_path, a->o, c, &a->rep, err);
}

int oq_loop_run_parts(const char *log_path, const char *truth_path, const oq_loop_opts *o,
                      int parts, oq_loop_report *out, oq_error *err)
{
    if (parts <= 1) return oq_loop_run(log_path, truth_path, o, out, err);
    memset(out, 0, sizeof *out);
    if (parts > OQ_COMM_MAX)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "shards must be in 1..%d", OQ_COMM_MAX);
    loop_arg *a = calloc((size_t)parts, sizeof *a);
    void *args[OQ_COMM_MAX];
    if (!a) return oq_error_oom(err, NULL, NULL);
    for (int k = 0; k < parts; k++) {
        a[k] = (loop_arg){.log_path = log_path, .truth_path = truth_path, .o = o};
        args[k] = &a[k];
    }
    int rc = oq_comm_threads_run(parts, loop_part_main, args, NULL, err);
    if (!rc) *out = a[0].rep;
    free(a);
    return rc;
}

void oq_loop_print(const oq_loop_report *r, void *fpv)
{
    FILE *fp = fpv;
    fprintf(fp, "Closed loop: true net profit over %d days after the log, %ld customers",
            r->horizon, r->customers);
    if (r->budget > 0) fprintf(fp, ", campaign budget %.0f", r->budget);
    fprintf(fp, ":\n\n%-20s %12s %10s %18s %8s\n", "policy", "profit", "spend",
            "% of oracle uplift", "seconds");
    for (int p = 0; p < r->npol; p++) {
        const oq_loop_policy *q = &r->pol[p];
        char pct[32];
        if (isfinite(q->pct_of_oracle_uplift))
            snprintf(pct, sizeof pct, "%.1f%%", q->pct_of_oracle_uplift);
        else
            snprintf(pct, sizeof pct, "n/a");
        fprintf(fp, "%-20s %12.2f %10.2f %18s %8.1f\n", q->name, q->profit, q->spend, pct,
                q->seconds);
    }
}

int oq_loop_write_json(const oq_loop_report *r, const char *path, oq_error *err)
{
    json_t *pols = json_array();
    for (int p = 0; pols && p < r->npol; p++) {
        const oq_loop_policy *q = &r->pol[p];
        json_t *pct =
            isfinite(q->pct_of_oracle_uplift) ? json_real(q->pct_of_oracle_uplift) : json_null();
        json_array_append_new(pols, json_pack("{s:s, s:f, s:f, s:o, s:f}", "name", q->name,
                                              "profit", q->profit, "spend", q->spend,
                                              "pct_of_oracle_uplift", pct, "seconds", q->seconds));
    }
    json_t *root =
        pols ? json_pack("{s:i, s:I, s:f, s:o}", "horizon", r->horizon, "customers",
                         (json_int_t)r->customers, "campaign_budget", r->budget, "policies", pols)
             : NULL;
    int rc = oq_json_write_atomic(path, root, err);
    json_decref(root);
    return rc;
}
