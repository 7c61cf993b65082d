/* dynaq.c - Dyna-Q coupon optimiser: states, Q table, trainer, budget planner.
 * The algorithms and the file format are documented in include/offerq/coupon/dynaq.h;
 * the Dyna-Q loop follows Sutton & Barto (2nd ed.), section 8.2. */
#include "offerq/coupon/dynaq.h"
#include "offerq/core/comm.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "util/wbuf.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- discretisation ------------------------------------------------------------- */

void oq_dynaq_disc_default(oq_dynaq_disc *d)
{
    d->w_days = 10;
    d->w_p30 = 2;
    d->w_aov = 20;
    d->budget_levels = 10;
}

int oq_dynaq_disc_check(const oq_dynaq_disc *d, oq_error *err)
{
    if (!(isfinite(d->w_days) && d->w_days > 0 && isfinite(d->w_p30) && d->w_p30 > 0 &&
          isfinite(d->w_aov) && d->w_aov > 0))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "bucket widths must be finite and > 0");
    if (!(d->budget_levels >= 1 && d->budget_levels <= OQ_DYNAQ_MAX_BUDGET))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "budget levels must be in [1, %u]",
                            OQ_DYNAQ_MAX_BUDGET);
    return 0;
}

static uint64_t bucket(double x, double w, unsigned max)
{
    double b = floor(x / w);
    if (!(b >= 0)) return 0; /* negative or NaN */
    return b >= max ? max : (uint64_t)b;
}

uint64_t oq_dynaq_key(const oq_dynaq_disc *d, double days_since, double purchases_30d, double aov,
                      double budget, unsigned category)
{
    /* floor(budget x levels) as the seed's int(b * 10); the tiny nudge keeps
     * values stored as float (0.7f = 0.69999999) in the bucket they name. */
    double bl = floor(budget * d->budget_levels + 1e-6);
    uint64_t b = !(bl >= 0) ? 0 : bl >= OQ_DYNAQ_MAX_BUDGET ? OQ_DYNAQ_MAX_BUDGET : (uint64_t)bl;
    uint64_t c = category > OQ_DYNAQ_MAX_CAT ? OQ_DYNAQ_MAX_CAT : category;
    return bucket(days_since, d->w_days, OQ_DYNAQ_MAX_DAYS) << 48 |
           bucket(purchases_30d, d->w_p30, OQ_DYNAQ_MAX_P30) << 38 |
           bucket(aov, d->w_aov, OQ_DYNAQ_MAX_AOV) << 24 | b << 16 | c;
}

uint64_t oq_dynaq_key_row(const oq_dynaq_disc *d, const oq_log *log, size_t i)
{
    return oq_dynaq_key(d, log->days_since[i], log->purchases_30d[i], log->aov[i], log->budget[i],
                        log->category[i]);
}

void oq_dynaq_key_unpack(uint64_t key, unsigned out[5])
{
    out[0] = (unsigned)(key >> 48 & 0x3fff);
    out[1] = (unsigned)(key >> 38 & 0x3ff);
    out[2] = (unsigned)(key >> 24 & 0x3fff);
    out[3] = (unsigned)(key >> 16 & 0xff);
    out[4] = (unsigned)(key & 0xffff);
}

void oq_dynaq_key_format(uint64_t key, char *buf, size_t len)
{
    unsigned u[5];
    oq_dynaq_key_unpack(key, u);
    snprintf(buf, len, "%u|%u|%u|%u|%u", u[0], u[1], u[2], u[3], u[4]);
}

/* ---- Q table -------------------------------------------------------------------- */

int oq_qtable_new(const oq_dynaq_disc *d, oq_qtable **out, oq_error *err)
{
    *out = NULL;
    int rc = oq_dynaq_disc_check(d, err);
    if (rc) return rc;
    oq_qtable *q = calloc(1, sizeof *q);
    if (!q) return oq_error_oom(err, NULL, NULL);
    q->disc = *d;
    *out = q;
    return 0;
}

void oq_qtable_free(oq_qtable *q)
{
    if (!q) return;
    free(q->key);
    free(q->q);
    free(q->visits);
    free(q->slot);
    free(q);
}

long oq_qtable_find(const oq_qtable *q, uint64_t key)
{
    if (!q->nslots) return -1;
    size_t m = q->nslots - 1, h = oq_mix64(key) & m;
    while (q->slot[h]) {
        size_t e = q->slot[h] - 1;
        if (q->key[e] == key) return (long)e;
        h = (h + 1) & m;
    }
    return -1;
}

static int qtable_grow(oq_qtable *q)
{
    size_t cap = q->cap ? q->cap * 2 : 256;
    uint64_t *k = realloc(q->key, cap * sizeof *k);
    if (k) q->key = k;
    double *v = realloc(q->q, cap * 4 * sizeof *v);
    if (v) q->q = v;
    uint32_t *n = realloc(q->visits, cap * 4 * sizeof *n);
    if (n) q->visits = n;
    if (!k || !v || !n) return OQ_ENOMEM;
    /* Load factor <= 1/2 keeps linear probing short. */
    size_t ns = 2 * cap;
    uint32_t *slot = calloc(ns, sizeof *slot);
    if (!slot) return OQ_ENOMEM;
    for (size_t e = 0; e < q->n; e++) {
        size_t h = oq_mix64(q->key[e]) & (ns - 1);
        while (slot[h])
            h = (h + 1) & (ns - 1);
        slot[h] = (uint32_t)(e + 1);
    }
    free(q->slot);
    q->slot = slot;
    q->nslots = ns;
    q->cap = cap;
    return 0;
}

int oq_qtable_insert(oq_qtable *q, uint64_t key, size_t *entry)
{
    long e = oq_qtable_find(q, key);
    if (e >= 0) {
        *entry = (size_t)e;
        return 0;
    }
    if (q->n >= UINT32_MAX - 1) return OQ_ELIMIT;
    if (q->n == q->cap && qtable_grow(q)) return OQ_ENOMEM;
    size_t m = q->nslots - 1, h = oq_mix64(key) & m;
    while (q->slot[h])
        h = (h + 1) & m;
    size_t n = q->n++;
    q->slot[h] = (uint32_t)(n + 1);
    q->key[n] = key;
    for (int a = 0; a < OQ_N_COUPONS; a++) {
        q->q[n * 4 + a] = 0;
        q->visits[n * 4 + a] = 0;
    }
    *entry = n;
    return 0;
}

int oq_qtable_argmax(const oq_qtable *q, size_t e)
{
    const double *v = q->q + e * 4;
    int best = 0;
    for (int a = 1; a < OQ_N_COUPONS; a++)
        if (v[a] > v[best]) best = a;
    return best;
}

static double qmax(const double *v)
{
    double m = v[0];
    for (int a = 1; a < OQ_N_COUPONS; a++)
        if (v[a] > m) m = v[a];
    return m;
}

/* ---- Q table files ---------------------------------------------------------------- */

#define QT_MAGIC "OFQTABLE"
#define QT_VERSION 1u
#define QT_HEADER (8 + 4 + 4 + 4 * 8 + 8)
#define QT_ENTRY (8 + 4 * 8 + 4 * 4)

static int little_endian(void)
{
    const uint16_t one = 1;
    return *(const unsigned char *)&one == 1;
}

int oq_qtable_save(const oq_qtable *q, const char *path, oq_error *err)
{
    if (!little_endian())
        return oq_error_set(err, OQ_EINVAL, path, 0, 0, "Q table files need a little-endian host");
    oq_wbuf w = {0};
    (void)oq_wb_reserve(&w, QT_HEADER + q->n * QT_ENTRY + 4); /* the exact size: one allocation */
    const double disc[4] = {q->disc.w_days, q->disc.w_p30, q->disc.w_aov, q->disc.budget_levels};
    oq_wb_bytes(&w, QT_MAGIC, 8);
    oq_wb_u32(&w, QT_VERSION);
    oq_wb_u32(&w, 0);
    for (int k = 0; k < 4; k++)
        oq_wb_f64(&w, disc[k]);
    oq_wb_u64(&w, q->n);
    for (size_t e = 0; e < q->n; e++) {
        oq_wb_u64(&w, q->key[e]);
        for (int a = 0; a < 4; a++)
            oq_wb_f64(&w, q->q[e * 4 + (size_t)a]);
        for (int a = 0; a < 4; a++)
            oq_wb_u32(&w, q->visits[e * 4 + (size_t)a]);
    }
    oq_wb_crc32(&w);
    int rc = w.bad ? oq_error_oom(err, path, NULL) : oq_write_file_atomic(path, w.p, w.n, err);
    oq_wb_free(&w);
    return rc;
}

int oq_qtable_load(const char *path, oq_qtable **out, oq_error *err)
{
    *out = NULL;
    if (!little_endian())
        return oq_error_set(err, OQ_EINVAL, path, 0, 0, "Q table files need a little-endian host");
    char *buf = NULL;
    size_t len = 0;
    oq_qtable *q = NULL;
    int rc = oq_read_file(path, (size_t)1 << 34, &buf, &len, err);
    if (rc) return rc;
    const unsigned char *p = (const unsigned char *)buf;
    uint32_t ver, crc, want;
    uint64_t n;
    double disc[4];
    if (len < QT_HEADER + 4 || memcmp(p, QT_MAGIC, 8) != 0) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "not an offerq Q table (bad magic)");
        goto cleanup;
    }
    memcpy(&ver, p + 8, 4);
    if (ver != QT_VERSION) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "Q table version %u, this offerq reads version %u", ver, QT_VERSION);
        goto cleanup;
    }
    memcpy(disc, p + 16, sizeof disc);
    memcpy(&n, p + 48, 8);
    if (n > (len - QT_HEADER - 4) / QT_ENTRY || len != QT_HEADER + n * QT_ENTRY + 4) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "Q table size %zu does not match its %llu entries (truncated?)", len,
                          (unsigned long long)n);
        goto cleanup;
    }
    memcpy(&crc, p + len - 4, 4);
    want = oq_crc32(0, p, len - 4);
    if (crc != want) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "Q table checksum mismatch (corrupt file)");
        goto cleanup;
    }
    oq_dynaq_disc d = {disc[0], disc[1], disc[2], disc[3]};
    if ((rc = oq_qtable_new(&d, &q, err)) || !q) {
        if (rc == OQ_EINVAL || !rc) rc = rc ? OQ_EFORMAT : OQ_ENOMEM;
        goto cleanup;
    }
    const unsigned char *e = p + QT_HEADER;
    for (uint64_t i = 0; i < n; i++, e += QT_ENTRY) {
        uint64_t key;
        size_t ent;
        memcpy(&key, e, 8);
        if ((rc = oq_qtable_insert(q, key, &ent))) {
            oq_error_set(err, rc, path, 0, 0, "%s",
                         rc == OQ_ELIMIT ? "too many entries" : "out of memory");
            goto cleanup;
        }
        if (ent != i) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "duplicate state key in Q table");
            goto cleanup;
        }
        memcpy(q->q + ent * 4, e + 8, 32);
        memcpy(q->visits + ent * 4, e + 40, 16);
        for (int a = 0; a < OQ_N_COUPONS; a++)
            if (!isfinite(q->q[ent * 4 + (size_t)a])) {
                rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                                  "entry %llu: Q value of coupon %d is not finite",
                                  (unsigned long long)i, a);
                goto cleanup;
            }
    }
    *out = q;
    q = NULL;
cleanup:
    oq_qtable_free(q);
    free(buf);
    return rc;
}

int oq_qtable_merge(oq_qtable *dst, const oq_qtable *src, oq_error *err)
{
    const oq_dynaq_disc *da = &dst->disc, *db = &src->disc;
    if (da->w_days != db->w_days || da->w_p30 != db->w_p30 || da->w_aov != db->w_aov ||
        da->budget_levels != db->budget_levels)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "cannot merge Q tables with different state discretisations");
    for (size_t s = 0; s < src->n; s++) {
        long found = oq_qtable_find(dst, src->key[s]);
        size_t e;
        if (oq_qtable_insert(dst, src->key[s], &e)) return oq_error_oom(err, NULL, NULL);
        for (int a = 0; a < OQ_N_COUPONS; a++) {
            double *qd = &dst->q[e * 4 + a];
            uint32_t *nd = &dst->visits[e * 4 + a];
            double qs = src->q[s * 4 + a];
            uint32_t ns = src->visits[s * 4 + a];
            if (found < 0) {
                *qd = qs;
                *nd = ns;
            } else if (*nd + (uint64_t)ns == 0) {
                *qd = 0.5 * (*qd + qs);
            } else {
                double w = (double)*nd + (double)ns;
                *qd = ((double)*nd * *qd + (double)ns * qs) / w;
                *nd = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
            }
        }
    }
    return 0;
}

double oq_dynaq_td_update(double *q, double r, double max_next, int terminal, double alpha,
                          double gamma)
{
    /* Sutton & Barto eq. 6.8 (Q-learning), the update of Dyna-Q steps (d), (f). */
    double td = r + (terminal ? 0.0 : gamma * max_next) - *q;
    *q += alpha * td;
    return td;
}

/* ---- scorer ---------------------------------------------------------------------- */

int oq_scorer_score_all(const oq_scorer *s, const oq_log *log, size_t batch, double *p_alive,
                        double *rtilde, oq_error *err)
{
    if (!batch) batch = 4096;
    size_t *rows = malloc(batch * sizeof *rows);
    double *rhat = malloc(batch * 4 * sizeof *rhat);
    int rc = 0;
    if (!rows || !rhat) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t b0 = 0; b0 < log->n; b0 += batch) {
        size_t m = log->n - b0 < batch ? log->n - b0 : batch;
        for (size_t k = 0; k < m; k++)
            rows[k] = b0 + k;
        if ((rc = s->score(s->ctx, log, rows, m, p_alive + b0, rhat, err))) goto cleanup;
        for (size_t k = 0; k < m; k++) {
            double pa = p_alive[b0 + k];
            if (!isfinite(pa)) {
                rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0, "scorer %s: P(alive) of row %zu is %g",
                                  s->name, b0 + k, pa);
                goto cleanup;
            }
            for (int a = 0; a < OQ_N_COUPONS; a++) {
                double r = s->rhat_has_alive ? rhat[k * 4 + a] : pa * rhat[k * 4 + a];
                if (!isfinite(r)) {
                    rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0, "scorer %s: r^ of row %zu is %g",
                                      s->name, b0 + k, rhat[k * 4 + a]);
                    goto cleanup;
                }
                rtilde[(b0 + k) * 4 + a] = r;
            }
        }
    }
cleanup:
    free(rows);
    free(rhat);
    return rc;
}

/* ---- trainer --------------------------------------------------------------------- */

void oq_dynaq_config_default(oq_dynaq_config *c)
{
    memset(c, 0, sizeof *c);
    c->epochs = 4;
    c->plan_k = 20;
    c->eps0 = 0.30;
    c->eps_end = 0.05;
    c->alpha0 = 0.3;
    c->alpha_mode = OQ_DYNAQ_ALPHA_VISITS;
    c->alpha_min = 0.01;
    c->gamma = 0.95;
    c->seed = 1;
    c->faithful_buffer = 2000;
    c->faithful_daily = 1500;
}

static int egreedy(const double *v, double eps, gsl_rng *rng)
{
    if (gsl_rng_uniform(rng) < eps) return (int)gsl_rng_uniform_int(rng, OQ_N_COUPONS);
    int best = 0;
    for (int a = 1; a < OQ_N_COUPONS; a++)
        if (v[a] > v[best]) best = a;
    return best;
}

static double step_alpha(const oq_dynaq_config *c, uint32_t visits, int epoch)
{
    if (c->alpha_mode == OQ_DYNAQ_ALPHA_DECAY) return c->alpha0 / (1.0 + epoch);
    double a = 1.0 / (double)visits; /* sample-average step: converges to the mean target */
    return a < c->alpha_min ? c->alpha_min : a;
}

static void epoch_stats(const oq_qtable *q, oq_dynaq_stats *st, int ep)
{
    double s = 0;
    size_t m = 0;
    for (size_t e = 0; e < q->n; e++) {
        const uint32_t *n = q->visits + e * 4;
        if (n[0] + n[1] + n[2] + n[3] == 0) continue;
        s += qmax(q->q + e * 4);
        m++;
    }
    st->mean_q[ep] = m ? s / (double)m : 0;
    st->states = m;
}

/* The seed's loop (a known pitfall: planning bootstraps from the same
 * state), kept only to compare against. */
static int train_faithful(oq_qtable *q, const size_t *row_entry, size_t n, const oq_log *log,
                          const double *rtilde, const oq_dynaq_config *c, gsl_rng *rng,
                          oq_dynaq_stats *st, oq_error *err)
{
    size_t nb = (size_t)c->faithful_buffer < n ? (size_t)c->faithful_buffer : n;
    size_t nd = (size_t)c->faithful_daily < n ? (size_t)c->faithful_daily : n;
    size_t cap = nb + (size_t)c->epochs * nd;
    size_t *be = malloc((cap ? cap : 1) * sizeof *be);
    uint8_t *ba = malloc(cap ? cap : 1);
    double *br = malloc((cap ? cap : 1) * sizeof *br);
    size_t *perm = malloc((n ? n : 1) * sizeof *perm);
    int rc = 0;
    if (!be || !ba || !br || !perm) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        perm[i] = i;
    /* buffer = df.sample(2000): (bucket(r), coupon, logged reward) */
    gsl_ran_shuffle(rng, perm, n, sizeof *perm);
    size_t len = 0;
    for (size_t k = 0; k < nb; k++, len++) {
        be[len] = row_entry[perm[k]];
        ba[len] = log->coupon[perm[k]];
        br[len] = oq_log_reward(log, perm[k]);
    }
    for (int ep = 1; ep <= c->epochs; ep++) {
        double eps = c->eps0 * (1.0 - (double)ep / c->epochs);
        if (eps < c->eps_end) eps = c->eps_end;
        double alpha = c->alpha0, tdr = 0, tdp = 0;
        gsl_ran_shuffle(rng, perm, n, sizeof *perm); /* today = df.sample(1500) */
        for (size_t k = 0; k < nd; k++) {
            size_t i = perm[k], e = row_entry[i];
            double *v = q->q + e * 4;
            int a = egreedy(v, eps, rng);
            double r = rtilde[i * 4 + a];
            double td = fabs(oq_dynaq_td_update(&v[a], r, qmax(v), 0, alpha, c->gamma));
            tdr += td;
            q->visits[e * 4 + a]++;
            be[len] = e, ba[len] = (uint8_t)a, br[len] = r, len++;
            for (int j = 0; j < c->plan_k; j++) {
                size_t b = gsl_rng_uniform_int(rng, len);
                double *v2 = q->q + be[b] * 4;
                tdp += fabs(oq_dynaq_td_update(&v2[ba[b]], br[b], qmax(v2), 0, alpha, c->gamma));
                q->visits[be[b] * 4 + ba[b]]++;
            }
            if (st) {
                int pt = (ep - 1) * OQ_DYNAQ_CURVE_PER_EPOCH +
                         (int)(k * OQ_DYNAQ_CURVE_PER_EPOCH / (nd ? nd : 1));
                st->curve[pt] += td / ((double)nd / OQ_DYNAQ_CURVE_PER_EPOCH);
            }
        }
        if (st) {
            st->eps[ep - 1] = eps;
            st->alpha[ep - 1] = alpha;
            st->td_real[ep - 1] = nd ? tdr / (double)nd : 0;
            st->td_plan[ep - 1] = nd ? tdp / (double)(nd * (size_t)c->plan_k) : 0;
            st->real_steps += nd;
            st->plan_steps += nd * (size_t)c->plan_k;
            epoch_stats(q, st, ep - 1);
        }
    }
    if (st) st->n_curve = c->epochs * OQ_DYNAQ_CURVE_PER_EPOCH;
cleanup:
    free(be);
    free(ba);
    free(br);
    free(perm);
    return rc;
}

/* What a planning step reads about a real row, packed so that one step
 * touches few cache lines (the loop is memory-bound on big logs). */
typedef struct prow {
    double rt[OQ_N_COUPONS]; /* r~ of each coupon */
    uint32_t e;              /* Q entry of the row's state */
    uint32_t succ;           /* Q entry of its successor, or TERMINAL */
} prow;
#define TERMINAL UINT32_MAX
#define PLAN_BATCH 32 /* planning steps whose rows are drawn and prefetched together */

static int train_dynaq(oq_qtable *q, const size_t *row_entry, const oq_log *log,
                       const oq_log_index *ix, const double *rtilde, const oq_dynaq_config *c,
                       gsl_rng *rng, oq_dynaq_stats *st, oq_error *err)
{
    size_t n = log->n, nc = ix->n_customers, ng = q->n * 4;
    prow *pr = malloc((n ? n : 1) * sizeof *pr);           // (n) packed rows
    size_t *gstart = calloc(ng + 1, sizeof *gstart);       // (S*4 + 1) model groups
    uint32_t *gsucc = malloc((n ? n : 1) * sizeof *gsucc); // (n) successors by (s, a)
    size_t *seen = malloc((n ? n : 1) * sizeof *seen);     // (n) real rows seen so far
    size_t *order = malloc((nc ? nc : 1) * sizeof *order); // (C) customer order
    int rc = 0;
    if (!pr || !gstart || !gsucc || !seen || !order) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    /* Successors: the same customer's next snapshot (oq_log_index sorts by day). */
    for (size_t cu = 0; cu < nc; cu++)
        for (size_t k = ix->start[cu]; k < ix->start[cu + 1]; k++) {
            size_t i = ix->row[k];
            pr[i].e = (uint32_t)row_entry[i];
            pr[i].succ = k + 1 < ix->start[cu + 1]
                             ? (uint32_t)row_entry[ix->row[k + 1]]
                             : TERMINAL; // NOLINT(clang-analyzer-core.uninitialized.Assign):
                                         // row_entry is filled for every row above
            memcpy(pr[i].rt, rtilde + i * 4, sizeof pr[i].rt);
        }
    /* The model: the successors of the real transitions of every (s, a),
     * grouped (counting sort). */
    for (size_t i = 0; i < n; i++)
        gstart[row_entry[i] * 4 + log->coupon[i] + 1]++;
    for (size_t g = 0; g < ng; g++)
        gstart[g + 1] += gstart[g];
    for (size_t i = 0; i < n; i++)
        gsucc[gstart[row_entry[i] * 4 + log->coupon[i]]++] =
            pr[i].succ; // NOLINT(clang-analyzer-core.uninitialized.Assign)
    for (size_t g = ng; g > 0; g--)
        gstart[g] = gstart[g - 1];
    gstart[0] = 0;
    for (size_t cu = 0; cu < nc; cu++)
        order[cu] = cu;

    size_t nseen = 0, chunk = n / OQ_DYNAQ_CURVE_PER_EPOCH + 1;
    oq_progress prog;
    oq_progress_start(&prog, "dyna-q", (double)n * c->epochs, c->quiet);
    for (int ep = 0; ep < c->epochs; ep++) {
        double eps =
            c->epochs > 1 ? c->eps0 + (c->eps_end - c->eps0) * ep / (c->epochs - 1) : c->eps_end;
        double tdr = 0, tdp = 0, asum = 0, csum = 0;
        size_t steps = 0, csteps = 0, nal = 0;
        gsl_ran_shuffle(rng, order, nc, sizeof *order);
        for (size_t oc = 0; oc < nc; oc++) {
            size_t cu = order[oc];
            for (size_t k = ix->start[cu]; k < ix->start[cu + 1]; k++) {
                /* (a)-(d): a real step from the log. */
                size_t i = ix->row[k],
                       e = pr[i].e;       // NOLINT(clang-analyzer-core.uninitialized.Assign)
                uint32_t nx = pr[i].succ; // NOLINT(clang-analyzer-core.uninitialized.Assign): pr is
                                          // filled for every row above
                int a = log->coupon[i];
                uint32_t *nv = &q->visits[e * 4 + a];
                if (*nv < UINT32_MAX) (*nv)++;
                double al = step_alpha(c, *nv, ep);
                double mx = nx == TERMINAL ? 0 : qmax(q->q + (size_t)nx * 4);
                double td = fabs(oq_dynaq_td_update(&q->q[e * 4 + a], oq_log_reward(log, i), mx,
                                                    nx == TERMINAL, al, c->gamma));
                tdr += td, csum += td, asum += al, nal++;
                /* (e): the model remembers it (its group was built up front). */
                if (ep == 0) seen[nseen++] = i;
                /* (f): k planning steps on simulated experience. The k rows
                 * are drawn first and their data prefetched in stages
                 * (row ids, rows, Q entries and model groups): the steps are
                 * random accesses into tables far larger than the caches. */
                for (int p0 = 0; p0 < c->plan_k; p0 += PLAN_BATCH) {
                    int nbat = c->plan_k - p0 < PLAN_BATCH ? c->plan_k - p0 : PLAN_BATCH;
                    size_t pick[PLAN_BATCH];
                    const prow *prj[PLAN_BATCH];
                    for (int p = 0; p < nbat; p++) {
                        pick[p] = gsl_rng_uniform_int(rng, nseen);
                        __builtin_prefetch(&seen[pick[p]]);
                    }
                    for (int p = 0; p < nbat; p++) {
                        prj[p] = &pr[seen[pick[p]]];
                        __builtin_prefetch(prj[p]);
                    }
                    for (int p = 0; p < nbat; p++) {
                        __builtin_prefetch(q->q + (size_t)prj[p]->e * 4);
                        __builtin_prefetch(q->visits + (size_t)prj[p]->e * 4);
                        __builtin_prefetch(gstart + (size_t)prj[p]->e * 4);
                    }
                    for (int p = 0; p < nbat; p++) {
                        const prow *pj = prj[p];
                        size_t ej = pj->e;
                        double *v = q->q + ej * 4;
                        int b = egreedy(v, eps, rng);
                        size_t g = ej * 4 + (size_t)b, cnt = gstart[g + 1] - gstart[g];
                        uint32_t sx =
                            cnt ? gsucc[gstart[g] + gsl_rng_uniform_int(rng, cnt)] : pj->succ;
                        uint32_t *nb = &q->visits[g];
                        if (*nb < UINT32_MAX) (*nb)++;
                        double alp = step_alpha(c, *nb, ep);
                        double mxs = sx == TERMINAL ? 0 : qmax(q->q + (size_t)sx * 4);
                        tdp += fabs(oq_dynaq_td_update(&v[b], pj->rt[b], mxs, sx == TERMINAL, alp,
                                                       c->gamma));
                        asum += alp, nal++;
                    }
                }
                steps++, csteps++;
                if (csteps == chunk || steps == n) {
                    int pt = ep * OQ_DYNAQ_CURVE_PER_EPOCH + (int)((steps - 1) / chunk);
                    if (st && pt < (ep + 1) * OQ_DYNAQ_CURVE_PER_EPOCH) {
                        st->curve[pt] = csum / (double)csteps;
                        st->n_curve = pt + 1;
                    }
                    csum = 0, csteps = 0;
                }
            }
            if ((oc & 1023) == 0) oq_progress_update(&prog, (double)n * ep + (double)steps);
        }
        if (st) {
            st->eps[ep] = eps;
            st->alpha[ep] = nal ? asum / (double)nal : 0;
            st->td_real[ep] = steps ? tdr / (double)steps : 0;
            st->td_plan[ep] = steps ? tdp / ((double)steps * c->plan_k) : 0;
            st->real_steps += steps;
            st->plan_steps += steps * (size_t)c->plan_k;
            epoch_stats(q, st, ep);
        }
    }
    oq_progress_done(&prog);
cleanup:
    free(pr);
    free(gstart);
    free(gsucc);
    free(seen);
    free(order);
    return rc;
}

int oq_dynaq_train(oq_qtable *q, const oq_log *log, const oq_log_index *ix, const double *rtilde,
                   const oq_dynaq_config *c, oq_dynaq_stats *st, oq_error *err)
{
    if (c->epochs < 1 || c->epochs > OQ_DYNAQ_MAX_EPOCHS || c->plan_k < 0 ||
        !(c->gamma >= 0 && c->gamma <= 1) || !(c->alpha0 > 0 && c->alpha0 <= 1) ||
        !(c->eps0 >= 0 && c->eps0 <= 1 && c->eps_end >= 0 && c->eps_end <= 1) ||
        !(c->alpha_min >= 0 && c->alpha_min <= 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "Dyna-Q settings out of range (epochs 1..%d, gamma, alpha, epsilon "
                            "in [0, 1])",
                            OQ_DYNAQ_MAX_EPOCHS);
    if (st) memset(st, 0, sizeof *st);
    double t0 = oq_now();
    size_t n = log->n;
    size_t *row_entry = malloc((n ? n : 1) * sizeof *row_entry); // (n) Q entry of each row
    gsl_rng *rng = oq_rng_new(c->seed, 0x5eed0d1a);
    int rc = 0;
    if (!row_entry || !rng) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        if (oq_qtable_insert(q, oq_dynaq_key_row(&q->disc, log, i), &row_entry[i])) {
            rc = oq_error_oom(err, NULL, "Q table");
            goto cleanup;
        }
    if (n == 0) goto cleanup;
    rc = c->faithful ? train_faithful(q, row_entry, n, log, rtilde, c, rng, st, err)
                     : train_dynaq(q, row_entry, log, ix, rtilde, c, rng, st, err);
cleanup:
    if (st) {
        st->epochs = c->epochs;
        st->seconds = oq_now() - t0;
    }
    free(row_entry);
    gsl_rng_free(rng);
    return rc;
}

/* ---- data-parallel Dyna-Q ------------------------------------------------------------- */

/* The same split as the parts of a partitioned job (comm.h). */
static unsigned shard_of(int64_t u, int shards)
{
    return oq_shard_of(u, shards);
}

/* The seed of shard s of n (n = 1: the seed itself). */
static uint64_t shard_seed(uint64_t seed, int s, int n)
{
    return n <= 1 ? seed : seed ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(s + 1));
}

/* The merged statistics of `shards` learners (sst, in shard order) whose
 * tables were merged into q: summed steps, step-weighted means, q's states;
 * the learning curve is shard 0's. */
static void merge_stats(oq_dynaq_stats *st, const oq_dynaq_stats *sst, int shards,
                        const oq_dynaq_config *c, const oq_qtable *q)
{
    memset(st, 0, sizeof *st);
    *st = sst[0];
    st->real_steps = st->plan_steps = 0;
    for (int ep = 0; ep < c->epochs; ep++) {
        double a = 0, tr = 0, tp = 0, w = 0;
        for (int s = 0; s < shards; s++) {
            double n = (double)sst[s].real_steps / c->epochs;
            a += n * sst[s].alpha[ep];
            tr += n * sst[s].td_real[ep];
            tp += n * sst[s].td_plan[ep];
            w += n;
        }
        st->alpha[ep] = w > 0 ? a / w : 0;
        st->td_real[ep] = w > 0 ? tr / w : 0;
        st->td_plan[ep] = w > 0 ? tp / w : 0;
    }
    for (int s = 0; s < shards; s++) {
        st->real_steps += sst[s].real_steps;
        st->plan_steps += sst[s].plan_steps;
    }
    epoch_stats(q, st, c->epochs - 1);
}

/* The rows of shard s's customers (each customer's rows in day order) as a
 * log of their own with their rtilde. Category ids are kept (the state key
 * uses them); the sub-log has no dictionary. */
static int shard_log(const oq_log *log, const oq_log_index *ix, const double *rtilde, int shards,
                     unsigned s, oq_log **out, double **rt)
{
    size_t m = 0;
    for (size_t c = 0; c < ix->n_customers; c++)
        if (shard_of(ix->user_id[c], shards) == s) m += ix->start[c + 1] - ix->start[c];
    oq_log *l = calloc(1, sizeof *l);
    double *r = malloc((m ? m : 1) * 4 * sizeof *r);
    if (!l || !r || oq_log_reserve(l, m ? m : 1)) {
        oq_log_free(l);
        free(r);
        return OQ_ENOMEM;
    }
    for (size_t c = 0; c < ix->n_customers; c++) {
        if (shard_of(ix->user_id[c], shards) != s) continue;
        for (size_t k = ix->start[c]; k < ix->start[c + 1]; k++) {
            size_t i = ix->row[k], j = l->n++;
            oq_log_copy_row(l, j, log, i);
            memcpy(r + j * 4, rtilde + i * 4, 4 * sizeof *r);
        }
    }
    *out = l;
    *rt = r;
    return 0;
}

int oq_dynaq_train_sharded(oq_qtable *q, const oq_log *log, const oq_log_index *ix,
                           const double *rtilde, const oq_dynaq_config *c, int shards,
                           oq_dynaq_stats *st, oq_error *err)
{
    if (shards == 1) return oq_dynaq_train(q, log, ix, rtilde, c, st, err);
    if (shards < 1 || shards > OQ_DYNAQ_MAX_SHARDS)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "shards must be in 1..%d",
                            OQ_DYNAQ_MAX_SHARDS);
    double t0 = oq_now();
    oq_qtable *tab[OQ_DYNAQ_MAX_SHARDS] = {0};
    oq_dynaq_stats *sst = calloc((size_t)shards, sizeof *sst);
    oq_error serr[OQ_DYNAQ_MAX_SHARDS];
    int src[OQ_DYNAQ_MAX_SHARDS] = {0};
    if (!sst) return oq_error_oom(err, NULL, NULL);
#pragma omp parallel for schedule(static, 1)
    for (int s = 0; s < shards; s++) {
        oq_log *l = NULL;
        oq_log_index *lix = NULL;
        double *rt = NULL;
        oq_dynaq_config cs = *c;
        cs.seed = shard_seed(c->seed, s, shards);
        cs.quiet = c->quiet || s > 0; /* one progress bar */
        memset(&serr[s], 0, sizeof serr[s]);
        src[s] = shard_log(log, ix, rtilde, shards, (unsigned)s, &l, &rt);
        if (src[s]) {
            src[s] = oq_error_oom(&serr[s], NULL, NULL);
        } else if (!(src[s] = oq_log_index_build(l, &lix, &serr[s])) &&
                   !(src[s] = oq_qtable_new(&q->disc, &tab[s], &serr[s]))) {
            src[s] = oq_dynaq_train(tab[s], l, lix, rt, &cs, &sst[s], &serr[s]);
        }
        oq_log_index_free(lix);
        oq_log_free(l);
        free(rt);
    }
    int rc = 0;
    for (int s = 0; s < shards && !rc; s++)
        if (src[s]) {
            *err = serr[s];
            rc = src[s];
        }
    for (int s = 0; s < shards && !rc; s++)
        rc = oq_qtable_merge(q, tab[s], err);
    if (!rc && st) {
        merge_stats(st, sst, shards, c, q);
        st->seconds = oq_now() - t0;
    }
    for (int s = 0; s < shards; s++)
        oq_qtable_free(tab[s]);
    free(sst);
    return rc;
}

/* A table as bytes for the other parts: u64 n, then n keys, n x 4 Q
 * values, n x 4 visit counts (host layout: the parts run one build). */
static int qtable_bytes(const oq_qtable *q, void **out, size_t *len)
{
    if (!q) return OQ_EINVAL;
    uint64_t n = q->n;
    size_t sz = sizeof n + q->n * (sizeof *q->key + 4 * sizeof *q->q + 4 * sizeof *q->visits);
    unsigned char *b = malloc(sz), *p = b;
    if (!b) return OQ_ENOMEM;
    memcpy(p, &n, sizeof n);
    p += sizeof n;
    if (q->n) {
        memcpy(p, q->key, q->n * sizeof *q->key);
        p += q->n * sizeof *q->key;
        memcpy(p, q->q, q->n * 4 * sizeof *q->q);
        p += q->n * 4 * sizeof *q->q;
        memcpy(p, q->visits, q->n * 4 * sizeof *q->visits);
    }
    *out = b;
    *len = sz;
    return 0;
}

int oq_dynaq_train_part(oq_qtable *q, const oq_log *log, const oq_log_index *ix,
                        const double *rtilde, const oq_dynaq_config *c, oq_comm *comm,
                        oq_dynaq_stats *st, oq_error *err)
{
    int parts = oq_comm_size(comm), rank = oq_comm_rank(comm);
    if (parts <= 1) return oq_dynaq_train(q, log, ix, rtilde, c, st, err);
    double t0 = oq_now();
    oq_qtable *tab = NULL;
    oq_dynaq_stats mine = {0};
    oq_dynaq_stats *sst = calloc((size_t)parts, sizeof *sst);
    void *bytes = NULL, *all = NULL;
    size_t len = 0, counts[OQ_COMM_MAX];
    int rc = 0;
    if (!sst) return oq_error_oom(err, NULL, NULL);
    oq_dynaq_config cs = *c;
    cs.seed = shard_seed(c->seed, rank, parts);
    cs.quiet = c->quiet || rank > 0; /* one progress bar */
    if ((rc = oq_qtable_new(&q->disc, &tab, err)) ||
        (rc = oq_dynaq_train(tab, log, ix, rtilde, &cs, &mine, err)))
        goto cleanup;
    if (qtable_bytes(tab, &bytes, &len)) {
        rc = oq_error_oom(err, NULL, "the Q table's bytes");
        goto cleanup;
    }
    /* every part gets every table and merges them in rank order, as
     * oq_dynaq_train_sharded merges its shards */
    if ((rc = oq_comm_gatherv(comm, -1, bytes, len, &all, counts, err)) ||
        (rc = comm->allgather(comm, &mine, sizeof mine, sst, err)))
        goto cleanup;
    const unsigned char *p = all;
    for (int r = 0; r < parts && !rc; r++) {
        uint64_t n;
        memcpy(&n, p, sizeof n);
        if (counts[r] !=
            sizeof n + n * (sizeof *q->key + 4 * sizeof *q->q + 4 * sizeof *q->visits)) {
            rc = oq_error_set(err, OQ_EFORMAT, NULL, 0, 0, "part %d sent a malformed Q table", r);
            break;
        }
        /* a view of part r's table: what oq_qtable_merge reads of its source */
        oq_qtable v = {.disc = q->disc, .n = (size_t)n};
        size_t bn = (size_t)n;
        unsigned char *k =
            malloc((bn ? bn : 1) * (sizeof *v.key + 4 * sizeof *v.q + 4 * sizeof *v.visits));
        if (!k) {
            rc = oq_error_oom(err, NULL, NULL);
            break;
        }
        /* aligned copies of the three arrays */
        memcpy(k, p + sizeof n, counts[r] - sizeof n);
        v.key = (uint64_t *)(void *)k;
        v.q = (double *)(void *)(k + bn * sizeof *v.key);
        v.visits = (uint32_t *)(void *)(k + bn * (sizeof *v.key + 4 * sizeof *v.q));
        rc = oq_qtable_merge(q, &v, err);
        free(k);
        p += counts[r];
    }
    if (!rc && st) {
        merge_stats(st, sst, parts, c, q);
        st->epochs = c->epochs;
        st->seconds = oq_now() - t0;
    }
cleanup:
    oq_qtable_free(tab);
    free(sst);
    free(bytes);
    free(all);
    return rc;
}

/* ---- budget planner ------------------------------------------------------------------ */

/* Upper convex hull of a customer's (spend, value) options, cheapest first.
 * Returns the number of points written to h. */
static int hull(const double *v, const double *s, int *h)
{
    int idx[OQ_N_COUPONS] = {0, 1, 2, 3};
    /* insertion sort by spend ascending, value descending */
    for (int i = 1; i < OQ_N_COUPONS; i++)
        for (int j = i; j > 0; j--) {
            int a = idx[j - 1], b = idx[j];
            if (s[b] < s[a] || (s[b] == s[a] && v[b] > v[a])) {
                idx[j - 1] = b;
                idx[j] = a;
            }
        }
    int m = 0;
    for (int k = 0; k < OQ_N_COUPONS; k++) {
        int o = idx[k];
        if (m && v[o] <= v[h[m - 1]]) continue; /* dominated: no cheaper, no better */
        while (m >= 2) {
            int p = h[m - 2], c = h[m - 1];
            /* drop c if slope(p, c) <= slope(c, o): c lies on or under the chord */
            if ((v[c] - v[p]) * (s[o] - s[c]) <= (v[o] - v[c]) * (s[c] - s[p]))
                m--;
            else
                break;
        }
        h[m++] = o;
    }
    return m;
}

/* The plan is the greedy of the header, computed so that it decomposes
 * over the parts of a partitioned job (comm.h) with only sums and one
 * gather (docs/readme/mpi.md):
 *   1. every customer starts at its cheapest hull point; left0 = budget -
 *      the sum of their spend;
 *   2. the upgrades (hull steps, gain dv > 0 for extra spend ds > 0) are
 *      ordered by rho = dv / ds descending, then customer key, then step:
 *      the greedy's order. Until the first upgrade that does not fit, the
 *      greedy takes every upgrade, so that point is the largest rho* with
 *      G(rho*) = sum of ds over upgrades with rho >= rho* > left0: the
 *      Lagrange multiplier of the budget, found by bisection over the
 *      ordered bit patterns of doubles (at most 64 sums over the parts);
 *      every upgrade with rho > rho* is taken;
 *   3. the rest of the greedy is sequential (an upgrade that does not fit
 *      blocks its customer) but only upgrades cheaper than the budget left,
 *      left1 = left0 - G(> rho*), can still be taken: those (each
 *      customer's next steps while they are cheaper than left1) are
 *      gathered to every part and the greedy finishes on them, the same
 *      way on every part.
 * With one part this is the sequential greedy, with the running budget
 * formed by sums in a different order (a tie at the rounding level may go
 * the other way). */
typedef struct cand {
    uint64_t rb;    /* bit pattern of rho (positive: ordered as the doubles) */
    int64_t key;    /* customer key */
    double ds;      /* extra spend */
    int32_t from;   /* coupon the step leaves */
    int32_t to;     /* coupon it reaches */
    uint32_t first; /* index (in the sender's list) of its customer's first candidate */
    uint32_t cust;  /* the customer's index at the sender */
} cand;

static uint64_t dbl_bits(double v)
{
    uint64_t u;
    memcpy(&u, &v, sizeof u);
    return u;
}

/* rho descending, then key, then step */
static int cmp_cand(const void *x, const void *y)
{
    const cand *a = x, *b = y;
    if (a->rb != b->rb) return a->rb > b->rb ? -1 : 1;
    if (a->key != b->key) return a->key < b->key ? -1 : 1;
    return (a->from > b->from) - (a->from < b->from);
}

typedef struct pstep {
    uint64_t rb;
    double ds;
} pstep;

static int cmp_pstep(const void *x, const void *y)
{
    const pstep *a = x, *b = y;
    if (a->rb != b->rb) return a->rb > b->rb ? -1 : 1;
    return (a->ds > b->ds) - (a->ds < b->ds);
}

int oq_budget_plan_part(size_t n, const double *value, const double *spend, const int64_t *key,
                        double budget, oq_comm *comm, int *choice, double *total_value,
                        double *total_spend, oq_error *err)
{
    if (!(budget >= 0)) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "budget must be >= 0");
    for (size_t k = 0; k < n * 4; k++)
        if (!isfinite(value[k]) || !isfinite(spend[k]) || spend[k] < 0)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "customer %zu: value and spend must be finite, spend >= 0", k / 4);
    if (n > UINT32_MAX)
        return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0, "more than %u customers", UINT32_MAX);
    int(*hp)[OQ_N_COUPONS] = malloc((n ? n : 1) * sizeof *hp); /* (n) hull, cheapest first */
    uint8_t *hm = malloc(n ? n : 1);                           /* (n) hull points */
    uint8_t *at = calloc(n ? n : 1, 1);                        /* (n) position on the hull */
    pstep *ps = malloc((n ? n : 1) * 3 * sizeof *ps);
    double *pre = malloc((n * 3 + 1) * sizeof *pre);
    cand *cd = NULL;
    void *all = NULL;
    int rc = 0;
    if (!hp || !hm || !at || !ps || !pre) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    /* 1. the cheapest hull points and the steps */
    double base = 0;
    size_t np = 0;
    for (size_t i = 0; i < n; i++) {
        const double *v = value + i * 4, *sp = spend + i * 4;
        hm[i] = (uint8_t)hull(v, sp, hp[i]);
        base += sp[hp[i][0]];
        for (int k = 0; k + 1 < hm[i]; k++) {
            int a = hp[i][k], b = hp[i][k + 1];
            ps[np++] = (pstep){dbl_bits((v[b] - v[a]) / (sp[b] - sp[a])), sp[b] - sp[a]};
        }
    }
    if ((rc = oq_comm_sum(comm, &base, 1, err))) goto cleanup;
    double left0 = budget - base;
    if (left0 < -1e-9 * (1 + fabs(budget))) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                          "the cheapest coupons already spend %g over the budget", -left0);
        goto cleanup;
    }
    /* G(t) of this part: prefix sums of ds over its steps by rho descending */
    qsort(ps, np, sizeof *ps, cmp_pstep);
    pre[0] = 0;
    for (size_t k = 0; k < np; k++)
        pre[k + 1] = pre[k] + ps[k].ds;
    double g = pre[np];
    if ((rc = oq_comm_sum(comm, &g, 1, err))) goto cleanup;
    /* 2. the multiplier: every step with a bit pattern above lo is taken */
    uint64_t lo = 0x7ff0000000000001ull; /* above every rho: nothing taken */
    if (!(left0 > 0)) {
        lo = 0x7ff0000000000001ull;
    } else if (g <= left0) {
        lo = 0; /* everything fits */
    } else {
        /* invariant: G(lo) > left0 >= G(hi) */
        uint64_t l = 0, h = 0x7ff0000000000001ull;
        while (h - l > 1) {
            uint64_t mid = l + (h - l) / 2;
            size_t a = 0, b = np; /* steps with rb >= mid: ps[0..a) */
            while (a < b) {
                size_t m = a + (b - a) / 2;
                if (ps[m].rb >= mid)
                    a = m + 1;
                else
                    b = m;
            }
            double gm = pre[a];
            if ((rc = oq_comm_sum(comm, &gm, 1, err))) goto cleanup;
            if (gm > left0)
                l = mid;
            else
                h = mid;
        }
        lo = l;
    }
    double taken = 0;
    for (size_t k = 0; k < np && ps[k].rb > lo; k++)
        taken += ps[k].ds;
    if ((rc = oq_comm_sum(comm, &taken, 1, err))) goto cleanup;
    double left1 = left0 - taken;
    size_t nc = 0;
    for (size_t i = 0; i < n; i++) {
        const double *v = value + i * 4, *sp = spend + i * 4;
        while (at[i] + 1 < hm[i]) {
            int a = hp[i][at[i]], b = hp[i][at[i] + 1];
            if (dbl_bits((v[b] - v[a]) / (sp[b] - sp[a])) <= lo) break;
            at[i]++;
        }
        for (int k = at[i];
             k + 1 < hm[i] && spend[i * 4 + hp[i][k + 1]] - spend[i * 4 + hp[i][k]] <= left1; k++)
            nc++;
    }
    /* 3. the sequential tail on the steps that may still fit */
    if (!(cd = malloc((nc ? nc : 1) * sizeof *cd))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    size_t m = 0;
    for (size_t i = 0; i < n; i++) {
        const double *v = value + i * 4, *sp = spend + i * 4;
        uint32_t first = (uint32_t)m;
        for (int k = at[i]; k + 1 < hm[i]; k++) {
            int a = hp[i][k], b = hp[i][k + 1];
            if (sp[b] - sp[a] > left1) break;
            cand c;
            memset(&c, 0, sizeof c); /* padding too: the bytes travel */
            c.rb = dbl_bits((v[b] - v[a]) / (sp[b] - sp[a]));
            c.key = key ? key[i] : (int64_t)i;
            c.ds = sp[b] - sp[a];
            c.from = a;
            c.to = b;
            c.first = first;
            c.cust = (uint32_t)i;
            cd[m++] = c;
        }
    }
    size_t counts[OQ_COMM_MAX], parts = (size_t)oq_comm_size(comm);
    if ((rc = oq_comm_gatherv(comm, -1, cd, m * sizeof *cd, &all, counts, err))) goto cleanup;
    cand *ac = all;
    size_t tot = 0, mine_off = 0;
    for (size_t r = 0; r < parts; r++) {
        size_t cnt = counts[r] / sizeof *ac;
        for (size_t k = tot; k < tot + cnt; k++)
            ac[k].first += (uint32_t)tot; /* the customer's first candidate, all parts' list */
        if ((int)r == oq_comm_rank(comm)) mine_off = tot;
        tot += cnt;
    }
    if (tot > UINT32_MAX) {
        rc = oq_error_set(err, OQ_ELIMIT, NULL, 0, 0, "more than %u plan candidates", UINT32_MAX);
        goto cleanup;
    }
    /* each customer's current coupon and whether it is blocked, held at its
     * first candidate */
    int32_t *cur = malloc((tot ? tot : 1) * sizeof *cur);
    uint8_t *blk = calloc(tot ? tot : 1, 1);
    cand *sorted = malloc((tot ? tot : 1) * sizeof *sorted);
    if (!cur || !blk || !sorted) {
        free(cur);
        free(blk);
        free(sorted);
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t k = 0; k < tot; k++)
        if (ac[k].first == k) cur[k] = ac[k].from;
    memcpy(sorted, ac, tot * sizeof *ac);
    qsort(sorted, tot, sizeof *sorted, cmp_cand);
    double left = left1;
    for (size_t k = 0; k < tot; k++) {
        const cand *c = &sorted[k];
        if (blk[c->first] || cur[c->first] != c->from) continue;
        if (c->ds <= left) {
            cur[c->first] = c->to;
            left -= c->ds;
        } else {
            blk[c->first] = 1;
        }
    }
    for (size_t i = 0; i < n; i++)
        choice[i] = hp[i][at[i]];
    for (size_t k = mine_off; k < mine_off + m; k++)
        if (ac[k].first == k) choice[ac[k].cust] = cur[k];
    free(sorted);
    free(blk);
    free(cur);
    double tt[2] = {0, 0};
    for (size_t i = 0; i < n; i++) {
        tt[0] += value[i * 4 + choice[i]];
        tt[1] += spend[i * 4 + choice[i]];
    }
    if ((rc = oq_comm_sum(comm, tt, 2, err))) goto cleanup;
    if (total_value) *total_value = tt[0];
    if (total_spend) *total_spend = tt[1];
cleanup:
    free(hp);
    free(hm);
    free(at);
    free(ps);
    free(pre);
    free(cd);
    free(all);
    return rc;
}

int oq_budget_plan(size_t n, const double *value, const double *spend, double budget, int *choice,
                   double *total_value, double *total_spend, oq_error *err)
{
    return oq_budget_plan_part(n, value, spend, NULL, budget, NULL, choice, total_value,
                               total_spend, err);
}
