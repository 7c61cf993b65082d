/* alive.c - BG/NBD P(alive) of a customer on a day (alive.h). */
#include "offerq/coupon/alive.h"
#include "offerq/core/comm.h"
#include "offerq/core/io.h"
#include "offerq/coupon/gross.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct oq_alive {
    oq_bgnbd_fit_report fit;
    char source[4200];
    char warning[512]; /* "" or what is wrong with the fit and what to do */
    int from_file;
    size_t nu;         /* customers with purchases */
    int64_t *user;     /* (nu) ascending */
    size_t *start;     /* (nu + 1) into day */
    int32_t *day;      /* distinct purchase days, ascending per customer */
    oq_orders *orders; /* the purchases file's rows when it has values (owned), else NULL */
};

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
static int build_histories(oq_alive *m, const oq_bgnbd_tx *tx, oq_error *err)
{
    size_t n = tx->n;
    ud *v = malloc((n ? n : 1) * sizeof *v);
    if (!v) return oq_error_oom(err, NULL, NULL);
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
        return oq_error_oom(err, NULL, NULL);
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

int oq_alive_rft(const oq_alive *m, int64_t u, int32_t d, double *x, double *tx, double *T)
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

double oq_alive_p(const oq_alive *a, int64_t u, int32_t d)
{
    double x, tx, T;
    return oq_alive_rft(a, u, d, &x, &tx, &T) ? oq_bgnbd_p_alive(&a->fit.p, x, tx, T) : 1.0;
}

/* 1 when the first line of path (a header) has a field named "value", 0 when
 * not, OQ_EIO when the file cannot be read. */
static int header_has_value(const char *path, oq_error *err)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return oq_error_set(err, OQ_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
    char line[4096];
    int has = 0;
    if (fgets(line, sizeof line, fp)) {
        char *p = line;
        if ((unsigned char)p[0] == 0xEF && (unsigned char)p[1] == 0xBB &&
            (unsigned char)p[2] == 0xBF)
            p += 3;
        for (char *save = NULL, *f = strtok_r(p, ",\r\n", &save); f && !has;
             f = strtok_r(NULL, ",\r\n", &save)) {
            while (*f == ' ' || *f == '\t')
                f++;
            size_t n = strlen(f);
            while (n && (f[n - 1] == ' ' || f[n - 1] == '\t'))
                n--;
            has = n == 5 && !memcmp(f, "value", 5);
        }
    }
    fclose(fp);
    return has;
}

/* oq_alive_tx_read, and the orders with their values in *keep (when not
 * NULL and the file has them; else *keep is NULL), so that a run reads the
 * purchases file once for BG/NBD and the gross-profit model. */
/* Keep only the part's customers' transactions (in place). */
static void tx_filter(oq_bgnbd_tx *t, const oq_part *part)
{
    size_t k = 0;
    for (size_t i = 0; i < t->n; i++) {
        if (!oq_part_keeps(part, t->user[i])) continue;
        t->user[k] = t->user[i];
        t->day[k] = t->day[i];
        if (t->value) t->value[k] = t->value[i];
        k++;
    }
    t->n = k;
}

static int tx_read(const char *path, const oq_part *part, oq_bgnbd_tx **out, oq_orders **keep,
                   oq_error *err)
{
    *out = NULL;
    if (keep) *keep = NULL;
    int split = part && part->size > 1;
    int rc = header_has_value(path, err);
    if (rc < 0) return rc;
    if (!rc) {
        /* A plain transactions file is read whole, then cut to the part. */
        if ((rc = oq_bgnbd_tx_read(path, 1, 0, out, err))) return rc;
        if (split) tx_filter(*out, part);
        return 0;
    }
    oq_orders *o = NULL;
    oq_bgnbd_tx *t = NULL;
    if ((rc = oq_orders_read_part(path, part, &o, err))) return rc;
    /* rc is set before err is filled: *out is set exactly when rc is 0;
     * a part may hold no order (the parts check the total) */
    if (o->n == 0 && !split) {
        rc = OQ_EPARSE;
        oq_error_set(err, rc, path, 2, 1, "no orders after the header");
        goto cleanup;
    }
    rc = (t = calloc(1, sizeof *t)) ? 0 : OQ_ENOMEM;
    for (size_t i = 0; !rc && i < o->n; i++)
        if (oq_bgnbd_tx_push(t, o->user_id[i], o->day[i])) rc = OQ_ENOMEM;
    if (rc) {
        oq_error_oom(err, path, NULL);
        goto cleanup;
    }
    *out = t;
    t = NULL;
    if (keep) {
        *keep = o;
        o = NULL;
    }
cleanup:
    oq_bgnbd_tx_free(t);
    oq_orders_free(o);
    return rc;
}

int oq_alive_tx_read(const char *path, oq_bgnbd_tx **out, oq_error *err)
{
    return tx_read(path, NULL, out, NULL, err);
}

int oq_alive_fit(const oq_log *log, const oq_alive_opts *o, oq_alive **out, oq_error *err)
{
    *out = NULL;
    int rc = 0;
    oq_bgnbd_tx *tx = NULL;
    oq_bgnbd_summary *s = NULL;
    oq_bgnbd_data *d = NULL;
    oq_alive *m = calloc(1, sizeof *m);
    if (!m) return oq_error_oom(err, NULL, NULL);
    char side[4096];
    const char *orders = o ? o->orders_path : NULL;
    if (!orders && o && o->log_path &&
        oq_sidecar_path(o->log_path, ".orders.csv", side, sizeof side) == 0 && oq_file_exists(side))
        orders = side;
    oq_comm *comm = o ? o->comm : NULL;
    oq_part part = oq_comm_part(comm);
    int split = part.size > 1;
    uint64_t ntx = 0;
    if (orders) {
        if ((rc = tx_read(orders, &part, &tx, &m->orders, err))) goto cleanup;
        snprintf(m->source, sizeof m->source, "%s", orders);
        m->from_file = 1;
        ntx = tx->n;
        if (split && (rc = oq_comm_sum_u64(comm, &ntx, 1, err))) goto cleanup;
        if (ntx == 0) {
            rc = oq_error_set(err, OQ_EPARSE, orders, 2, 1, "no orders after the header");
            goto cleanup;
        }
    } else {
        if ((rc = oq_bgnbd_tx_from_log(log, &tx, err))) goto cleanup;
        ntx = tx->n;
        if (split && (rc = oq_comm_sum_u64(comm, &ntx, 1, err))) goto cleanup;
        if (ntx == 0) {
            rc = oq_error_set(err, OQ_EINVAL, o ? o->log_path : NULL, 0, 0,
                              "no purchases for BG/NBD: no row of the log has order_placed = 1 "
                              "and there is no orders file (--orders, or the log's sidecar "
                              "<stem>.orders.csv)");
            goto cleanup;
        }
        snprintf(m->source, sizeof m->source, "the log's order rows");
    }
    oq_bgnbd_split sp = {.unit_days = 1,
                         .calibration_end =
                             o && o->has_last_day ? o->last_day : oq_log_last_day(log),
                         .observation_end = OQ_BGNBD_NO_DATE};
    /* A part may hold no customer with a purchase by the calibration end:
     * it then adds nothing to the sums (the parts check the whole). */
    int any = !split;
    for (size_t i = 0; !any && i < tx->n; i++)
        any = tx->day[i] <= sp.calibration_end;
    if (any && (rc = oq_bgnbd_summary_build(tx, &sp, &s, err))) goto cleanup;
    static const double none = 0;
    if ((rc = oq_bgnbd_data_new_part(s ? s->x : &none, s ? s->tx : &none, s ? s->T : &none, NULL,
                                     s ? s->n : 0, comm, &d, err)) ||
        (rc = oq_bgnbd_fit(d, NULL, &m->fit, err)))
        goto cleanup;
    if (!(o && o->quiet) && oq_comm_rank(comm) == 0)
        fprintf(stderr, "offerq: BG/NBD on %zu customers (%s): r=%.4g alpha=%.4g a=%.4g b=%.4g%s\n",
                m->fit.n_customers, m->source, m->fit.p.r, m->fit.p.alpha, m->fit.p.a, m->fit.p.b,
                m->fit.converged ? "" : " (NOT converged)");
    /* A fit that ran off to a boundary is not a fit: a + b or r beyond 1e4
     * means no spread left in the dropout or purchase rates (one value for
     * everyone), which real purchase histories never show; it comes from too
     * few purchases per customer, e.g. only the log's order rows. */
    const oq_bgnbd_params *fp = &m->fit.p;
    int degenerate = !(fp->a + fp->b < 1e4 && fp->r < 1e4 && fp->alpha < 1e7);
    if (degenerate || !m->fit.converged)
        snprintf(m->warning, sizeof m->warning,
                 "the BG/NBD fit %s (r=%.3g alpha=%.3g a=%.3g b=%.3g): P(alive) is not reliable%s",
                 degenerate ? "ran to a boundary" : "did not converge", fp->r, fp->alpha, fp->a,
                 fp->b,
                 m->from_file ? ""
                              : "; give every purchase (--orders, or the log's sidecar "
                                "<stem>.orders.csv): the log's order rows miss most of them");
    int speaks = oq_comm_rank(comm) == 0; /* part 0 speaks for the run */
    if (!m->from_file && speaks)
        fprintf(stderr,
                "offerq: warning: no orders file: BG/NBD and the order values come from the "
                "log's order rows (one row per contact day), not from every purchase; give "
                "--orders FILE or the sidecar <stem>.orders.csv. Measured on offerq's default "
                "simulated world: 91.1 %% of the oracle's uplift without it, 91.9 %% with "
                "(docs/readme/dynaq.md, \"What each input is worth\")\n");
    if (m->warning[0] && speaks) fprintf(stderr, "offerq: warning: %s\n", m->warning);
    if ((rc = build_histories(m, tx, err))) goto cleanup;
    *out = m;
    m = NULL;
cleanup:
    oq_alive_free(m);
    oq_bgnbd_tx_free(tx);
    oq_bgnbd_summary_free(s);
    oq_bgnbd_data_free(d);
    return rc;
}

void oq_alive_free(oq_alive *m)
{
    if (!m) return;
    free(m->user);
    free(m->start);
    free(m->day);
    oq_orders_free(m->orders);
    free(m);
}

const oq_orders *oq_alive_orders(const oq_alive *a)
{
    return a->orders;
}

const oq_bgnbd_fit_report *oq_alive_bgnbd(const oq_alive *a)
{
    return &a->fit;
}

const char *oq_alive_source(const oq_alive *a)
{
    return a->source;
}

const char *oq_alive_warning(const oq_alive *a)
{
    return a->warning[0] ? a->warning : NULL;
}

int oq_alive_from_file(const oq_alive *a)
{
    return a->from_file;
}
