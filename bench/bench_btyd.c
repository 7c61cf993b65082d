/* bench_btyd.c - fit times of the other "buy till you die" models on CDNOW
 * (2,357 customers, weeks; btyd.h): Pareto/NBD with its analytic gradient
 * (BFGS) against the derivative-free simplex it replaced (opts.simplex_only),
 * MBG/NBD and Gamma-Gamma's simplex for reference.
 *
 *   build/bench_btyd [SHARED_DIR]      (default ../shared)
 *
 * Each time is the median of REPS fits, in CPU time of the process. Prints the table and writes it
 * to bench/results/btyd.md (run from the source tree) or else ./btyd.md. */
#include "offerq/coupon/btyd.h"
#include "offerq/core/io.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum { REPS = 7 };

/* CPU seconds of this process: the machine is shared by several builds, so
 * wall time measures the neighbours as much as the fit */
static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const oq_error *err)
{
    fprintf(stderr, "bench_btyd: %s:%ld: %s\n", err->file, err->line, err->msg);
    exit(1);
}

/* median fit time in ms of kind on s; the last report in rep */
static double time_fit(oq_btyd_kind kind, int simplex_only, const oq_bgnbd_summary *s,
                       oq_btyd_fit_report *rep)
{
    double t[REPS];
    oq_btyd_fit_opts o = {0};
    o.simplex_only = simplex_only;
    oq_error err = {0};
    for (int i = 0; i < REPS; i++) {
        double t0 = cpu_now();
        if (oq_btyd_fit(kind, s->x, s->tx, s->T, s->n, &o, rep, &err)) die(&err);
        t[i] = 1e3 * (cpu_now() - t0);
    }
    qsort(t, REPS, sizeof *t, cmp_d);
    return t[REPS / 2];
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    const char *shared = argc > 1 ? argv[1] : "../shared";
    char path[4096];
    snprintf(path, sizeof path, "%s/data/cdnow_summary.csv", shared);
    oq_error err = {0};
    oq_bgnbd_summary *s = NULL;
    if (oq_bgnbd_summary_read(path, &s, &err)) die(&err);
    oq_btyd_fit_report pg, ps, mb;
    double t_pg = time_fit(OQ_BTYD_PARETONBD, 0, s, &pg);
    double t_ps = time_fit(OQ_BTYD_PARETONBD, 1, s, &ps);
    double t_mb = time_fit(OQ_BTYD_MBGNBD, 0, s, &mb);
    char tab[4096];
    snprintf(tab, sizeof tab,
             "| fit on CDNOW (%zu groups) | time | goal | iterations | LL | r, alpha, s or a, "
             "beta or b |\n|---|---|---|---|---|---|\n"
             "| Pareto/NBD, BFGS with the analytic gradient (default) | %.1f ms | < 800 ms | %d "
             "| %.4f | %.6f, %.6f, %.6f, %.5f |\n"
             "| Pareto/NBD, Nelder-Mead simplex (before; `simplex_only`) | %.1f ms | - | %d | "
             "%.4f | %.6f, %.6f, %.6f, %.5f |\n"
             "| MBG/NBD, Nelder-Mead simplex | %.1f ms | - | %d | %.4f | %.6f, %.6f, %.6f, "
             "%.6f |\n",
             pg.n_groups, t_pg, pg.iterations, pg.ll, pg.m.par[0], pg.m.par[1], pg.m.par[2],
             pg.m.par[3], t_ps, ps.iterations, ps.ll, ps.m.par[0], ps.m.par[1], ps.m.par[2],
             ps.m.par[3], t_mb, mb.iterations, mb.ll, mb.m.par[0], mb.m.par[1], mb.m.par[2],
             mb.m.par[3]);
    printf("%s", tab);
    oq_afile af;
    const char *res = "bench/results/btyd.md";
    if (oq_afile_open(&af, res, &err)) res = "btyd.md";
    if (!strcmp(res, "btyd.md") && oq_afile_open(&af, res, &err)) die(&err);
    fprintf(af.fp,
            "# bench_btyd\n\n%s\nMedian of %d fits each, CPU time of the process (the 2-core "
            "machine is shared; "
            "wall time measures the neighbours; RelWithDebInfo -O2). Pareto/NBD published (Fader, "
            "Hardie & Lee): r 0.55, "
            "alpha 10.58, s 0.61, beta 11.67, LL -9595.0.\n\n"
            "Command (from the source tree):\n\n    build/bench_btyd ../shared\n",
            tab, REPS);
    if (oq_afile_commit(&af, &err)) die(&err);
    printf("wrote %s\n", res);
    oq_bgnbd_summary_free(s);
    return 0;
}
