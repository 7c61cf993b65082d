/* bench_gross.c - fit and prediction of the gross-profit model (gross.h) on
 * a generated log, with the fitted parameters.
 *
 *   build/bench_gross LOG.csv        (reads LOG.events.csv and LOG.orders.csv
 *                                     beside it when present)
 * e.g. build/offerq gen --out /tmp/gx/ex.csv && build/bench_gross /tmp/gx/ex.csv
 * Prints reading, fit and prediction times (wall clock) and the model. */
#include "offerq/core/data.h"
#include "offerq/coupon/gross.h"

#include <math.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static void die(const oq_error *err)
{
    char buf[1200];
    oq_error_format(err, buf, sizeof buf);
    fprintf(stderr, "bench_gross: %s\n", buf);
    exit(1);
}

/* stem.csv -> stem<suffix> */
static void sidecar(const char *log, const char *suffix, char *out, size_t n)
{
    size_t len = strlen(log);
    if (len > 4 && strcmp(log + len - 4, ".csv") == 0) len -= 4;
    snprintf(out, n, "%.*s%s", (int)len, log, suffix);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: bench_gross LOG.csv\n");
        return 2;
    }
    oq_error err = {0};
    oq_log *log = NULL;
    oq_events *ev = NULL;
    oq_orders *orders = NULL;
    oq_log_index *ix = NULL;
    oq_events_ix *evx = NULL;
    char path[4096];
    double t0 = now();
    if (oq_log_read(argv[1], &log, &err)) die(&err);
    sidecar(argv[1], ".events.csv", path, sizeof path);
    if (access(path, R_OK) == 0 && oq_events_read(path, &log->cats, &ev, &err)) die(&err);
    sidecar(argv[1], ".orders.csv", path, sizeof path);
    if (access(path, R_OK) == 0 && oq_orders_read(path, &orders, &err)) die(&err);
    if (oq_log_index_build(log, &ix, &err)) die(&err);
    if (ev && oq_events_ix_build(ev, ix, &evx, &err)) die(&err);
    double t1 = now();
    oq_gross *m = NULL;
    if (oq_gross_fit(log, ix, ev, evx, orders, NULL, &m, &err)) die(&err);
    double t2 = now();
    int32_t tomorrow = INT32_MIN;
    for (size_t i = 0; i < log->n; i++)
        tomorrow = log->day[i] >= tomorrow ? log->day[i] + 1 : tomorrow;
    double *gr = malloc((log->n ? log->n : 1) * sizeof *gr);
    double *gt = malloc((ix->n_customers ? ix->n_customers : 1) * sizeof *gt);
    if (!gr || !gt) return 1;
    if (oq_gross_predict(m, log, ix, ev, evx, orders, tomorrow, gr, gt, &err)) die(&err);
    double t3 = now();
    float *er = malloc((log->n ? log->n : 1) * sizeof *er);
    float *et = malloc((ix->n_customers ? ix->n_customers : 1) * sizeof *et);
    if (!er || !et) return 1;
    if (oq_gross_evidence(m, log, ix, ev, evx, tomorrow, er, et, 1, &err)) die(&err);
    double t4 = now();
    printf("log %s: %zu rows, %zu customers, %zu events, %zu orders in the file\n", argv[1], log->n,
           ix->n_customers, ev ? ev->n : 0, orders ? orders->n : 0);
    printf("read %.3f s, fit %.3f s, predict (rows + tomorrow) %.3f s, browse evidence %.3f s\n",
           t1 - t0, t2 - t1, t3 - t2, t4 - t3);
    printf("fitted on %s: N %zu orders (%zu known category), U %zu customers, %zu categories, "
           "%zu margin rows\n",
           m->from_orders ? "the orders file" : "the log (no orders file)", m->n_orders, m->n_known,
           m->n_customers, m->n_cats_used, m->n_margin_rows);
    printf("m0 %.6f  sa2 %.6f  se2 %.6f  pooled margin %.6f  pop_f %.6f\n", m->m0, m->sa2, m->se2,
           m->pooled_margin, m->pop_f);
    printf("favourite drift %.3f  conc %.1f  alpha %.1f  loglik %.3f\n", m->drift, m->conc,
           m->alpha, m->loglik);
    printf("%-14s %10s %10s %10s %12s\n", "category", "b", "exp(b)", "margin", "pop");
    for (size_t k = 0; k < m->n_cats; k++)
        printf("%-14s %10.5f %10.5f %10.5f %12.6f\n", log->cats.names[k], m->b[k], exp(m->b[k]),
               m->margin[k], m->pop[k]);
    double s = 0;
    for (size_t c = 0; c < ix->n_customers; c++)
        s += gt[c];
    printf("mean g tomorrow %.4f\n", ix->n_customers ? s / (double)ix->n_customers : 0.0);
    free(gr);
    free(gt);
    free(er);
    free(et);
    oq_gross_free(m);
    oq_events_ix_free(evx);
    oq_log_index_free(ix);
    oq_orders_free(orders);
    oq_events_free(ev);
    oq_log_free(log);
    return 0;
}
