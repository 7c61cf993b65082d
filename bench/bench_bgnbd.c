/* bench_bgnbd.c - BG/NBD fit and scoring times.
 *
 *   build/bench_bgnbd [SHARED_DIR]      (default ../shared)
 *
 * 1. fit on the CDNOW summary (2,357 customers, weeks), median of 200 runs;
 *    the reference is lifetimes' 76 ms on this machine (issue 3), not re-run here;
 * 2. fit on 1,000,000 customers drawn from the BG/NBD process in continuous
 *    time (r 0.6, alpha 20, a 0.8, b 2.5 per day, ages 90..180 days) and
 *    recorded in whole days (same-day purchases once), one thread;
 * 3. P(alive) and E[X(30)] of those 1,000,000 customers.
 * Prints the table and writes it to bench/results/bgnbd.md (run from the
 * source tree) or else ./bgnbd.md. */
#include "offerq/coupon/bgnbd.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static int cmp_d(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void die(const oq_error *err)
{
    fprintf(stderr, "bench_bgnbd: %s:%ld: %s\n", err->file, err->line, err->msg);
    exit(1);
}

/* One customer of the BG/NBD story in continuous time, seen in whole days. */
static void draw_customer(gsl_rng *g, double r, double alpha, double a, double b, double *x,
                          double *tx, double *T)
{
    double lam = gsl_ran_gamma(g, r, 1 / alpha), p = gsl_ran_beta(g, a, b);
    int age = 90 + (int)gsl_rng_uniform_int(g, 91);
    double t = 0;
    long last_day = 0, n = 0;
    for (;;) {
        t += gsl_ran_exponential(g, 1 / lam);
        if (t > age) break;
        long day = (long)floor(t);
        if (day != last_day) n++; /* same day as the previous purchase: counted once */
        last_day = day;
        if (gsl_rng_uniform(g) < p) break; /* dies after this repeat purchase */
    }
    *x = (double)n;
    *tx = n ? (double)last_day : 0;
    *T = age;
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

    /* 1. CDNOW. */
    enum { REPS = 200 };
    double times[REPS];
    oq_bgnbd_fit_report rep;
    for (int k = 0; k < REPS; k++) {
        double t0 = oq_now();
        oq_bgnbd_data *d = NULL;
        if (oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err) ||
            oq_bgnbd_fit(d, NULL, &rep, &err))
            die(&err);
        times[k] = oq_now() - t0;
        oq_bgnbd_data_free(d);
    }
    qsort(times, REPS, sizeof *times, cmp_d);
    double cdnow_ms = 1e3 * times[REPS / 2];
    printf("CDNOW (2,357 customers, %zu groups): fit %.3f ms (median of %d), r %.4f alpha %.4f "
           "a %.4f b %.4f LL %.2f, %d iterations; lifetimes 76 ms -> %.0fx\n",
           rep.n_groups, cdnow_ms, REPS, rep.p.r, rep.p.alpha, rep.p.a, rep.p.b, rep.ll,
           rep.iterations, 76 / cdnow_ms);
    oq_bgnbd_fit_report cdnow = rep;

    /* 2. 1M customers from the process. */
    const size_t N = 1000000;
    const double tr = 0.6, ta = 20, tA = 0.8, tB = 2.5;
    double *x = malloc(N * sizeof *x), *tx = malloc(N * sizeof *tx), *T = malloc(N * sizeof *T);
    double *out = malloc(N * sizeof *out);
    if (!x || !tx || !T || !out) return 1;
    gsl_rng *g = oq_rng_new(2024, 0);
    double tg = oq_now();
    for (size_t i = 0; i < N; i++) {
        oq_rng_seed(g, 2024, i);
        draw_customer(g, tr, ta, tA, tB, &x[i], &tx[i], &T[i]);
    }
    tg = oq_now() - tg;
    gsl_rng_free(g);
#ifdef _OPENMP
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
#else
    int threads = 1;
#endif
    double t0 = oq_now();
    oq_bgnbd_data *d = NULL;
    if (oq_bgnbd_data_new(x, tx, T, NULL, N, &d, &err)) die(&err);
    double t_group = oq_now() - t0;
    if (oq_bgnbd_fit(d, NULL, &rep, &err)) die(&err);
    double t_fit = oq_now() - t0;
    printf("1M customers (%zu groups, drawn in %.2f s): group %.1f ms + fit %.1f ms = %.1f ms, "
           "one thread; r %.4f alpha %.3f a %.4f b %.4f (truth 0.6 20 0.8 2.5), %d iterations, "
           "%s\n",
           rep.n_groups, tg, 1e3 * t_group, 1e3 * (t_fit - t_group), 1e3 * t_fit, rep.p.r,
           rep.p.alpha, rep.p.a, rep.p.b, rep.iterations,
           rep.converged ? "converged" : "NOT converged");

    /* 3. Scoring. */
    double t_pa1, t_pa, t_ex;
    t0 = oq_now();
    if (oq_bgnbd_p_alive_batch(&rep.p, x, tx, T, N, out)) return 1;
    t_pa1 = oq_now() - t0;
#ifdef _OPENMP
    omp_set_num_threads(threads);
#endif
    t0 = oq_now();
    if (oq_bgnbd_p_alive_batch(&rep.p, x, tx, T, N, out)) return 1;
    t_pa = oq_now() - t0;
    t0 = oq_now();
    if (oq_bgnbd_expected_batch(&rep.p, 30, NULL, x, tx, T, N, out)) return 1;
    t_ex = oq_now() - t0;
    printf("scoring 1M: P(alive) %.1f ms (1 thread), %.1f ms (%d threads); E[X(30)] %.1f ms "
           "(%d threads)\n",
           1e3 * t_pa1, 1e3 * t_pa, threads, 1e3 * t_ex, threads);

    oq_afile af;
    const char *res = "bench/results/bgnbd.md";
    if (oq_afile_open(&af, res, &err)) res = "bgnbd.md";
    if (!strcmp(res, "bgnbd.md") && oq_afile_open(&af, res, &err)) die(&err);
    {
        FILE *fp = af.fp;
        fprintf(
            fp,
            "# bench_bgnbd\n\n"
            "| what | time | goal | note |\n|---|---|---|---|\n"
            "| fit CDNOW (2,357 customers, %zu groups) | %.3f ms | <= 2.5 ms | median of %d; "
            "lifetimes 76 ms (issue 3) -> %.0fx; %d Newton iterations |\n"
            "| fit 1M generated customers (%zu groups), 1 thread | %.0f ms | <= 1000 ms | "
            "grouping %.0f ms + optimisation %.0f ms |\n"
            "| P(alive) of 1M customers | %.1f ms (1 thread), %.1f ms (%d threads) | <= 100 ms | "
            "oq_bgnbd_p_alive_batch |\n"
            "| E[X(30 days)] of 1M customers | %.0f ms (%d threads) | - | "
            "oq_bgnbd_expected_batch (2F1 series) |\n\n"
            "CDNOW estimates: r %.4f, alpha %.4f, a %.4f, b %.4f, LL %.2f.\n"
            "1M estimates: r %.4f, alpha %.3f, a %.4f, b %.4f (truth 0.6, 20, 0.8, 2.5).\n\n"
            "Command (from the source tree, RelWithDebInfo -O2 build):\n\n"
            "    build/bench_bgnbd ../shared\n",
            cdnow.n_groups, cdnow_ms, REPS, 76 / cdnow_ms, cdnow.iterations, rep.n_groups,
            1e3 * t_fit, 1e3 * t_group, 1e3 * (t_fit - t_group), 1e3 * t_pa1, 1e3 * t_pa, threads,
            1e3 * t_ex, threads, cdnow.p.r, cdnow.p.alpha, cdnow.p.a, cdnow.p.b, cdnow.ll, rep.p.r,
            rep.p.alpha, rep.p.a, rep.p.b);
        if (oq_afile_commit(&af, &err)) die(&err);
        printf("wrote %s\n", res);
    }
    oq_bgnbd_data_free(d);
    oq_bgnbd_summary_free(s);
    free(x);
    free(tx);
    free(T);
    free(out);
    return 0;
}
