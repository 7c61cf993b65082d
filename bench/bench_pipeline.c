/* bench_pipeline.c - wall time, CPU time and peak memory of the nightly job
 * (oq_pipeline_run, what `offerq run` calls) on generated logs.
 *
 * Usage: bench_pipeline [--customers N[,N...]] [--snapshots K] [--reward NAME]
 *                       [--shards N] [--repeat R] [--out FILE]
 *   default: 10000 customers x 7 snapshots = 70k rows (the seed's scale), the
 *   default r^ (response model), one run per size. With --repeat R the job
 *   runs R times on the same log and the run with the median wall time is
 *   reported (its CPU time, memory and stages), with the fastest and slowest
 *   wall times beside it: the machine is shared and its speed varies.
 * Each size: the log is generated (with its events and orders sidecars, as
 * `offerq gen` writes them; without them for --reward empirical) into /tmp,
 * then the job runs
 * in a forked child so that wait4() reports its own peak RSS and CPU time.
 * Results go to stdout and to bench/results/pipeline.md (or --out). */
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"
#include "offerq/coupon/pipeline.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

typedef struct result {
    long customers, rows;
    double wall, cpu, rss_mb, stage[OQ_N_STAGES];
    double wall_min, wall_max;
    int runs;
} result;

static int run_job(const char *log, const char *out, int reward, int shards, result *res);

static int cmp_wall(const void *a, const void *b)
{
    double x = ((const result *)a)->wall, y = ((const result *)b)->wall;
    return (x > y) - (x < y);
}

static int run_one(long customers, int snapshots, int reward, int shards, int repeat, result *res)
{
    char dir[] = "/tmp/offerq-bench-XXXXXX";
    if (!mkdtemp(dir)) return -1;
    char log[256], out[256], cmd[512];
    snprintf(log, sizeof log, "%s/log.csv", dir);
    snprintf(out, sizeof out, "%s/run", dir);
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    cfg.n_customers = customers;
    cfg.snapshots = snapshots;
    cfg.write_events = reward != OQ_REWARD_EMPIRICAL;
    cfg.write_orders = reward != OQ_REWARD_EMPIRICAL;
    oq_error err = {0};
    fprintf(stderr, "generating %ld customers x %d snapshots...\n", customers, snapshots);
    if (oq_gen_write(&cfg, log, &err)) {
        fprintf(stderr, "gen: %s\n", err.msg);
        return -1;
    }
    result runs[32];
    if (repeat > 32) repeat = 32;
    for (int k = 0; k < repeat; k++) {
        snprintf(cmd, sizeof cmd, "rm -rf '%s'", out);
        if (system(cmd) != 0) return -1;
        if (run_job(log, out, reward, shards, &runs[k])) return -1;
        fprintf(stderr, "run %d of %d: %.2f s\n", k + 1, repeat, runs[k].wall);
    }
    qsort(runs, (size_t)repeat, sizeof *runs, cmp_wall);
    *res = runs[repeat / 2];
    res->wall_min = runs[0].wall;
    res->wall_max = runs[repeat - 1].wall;
    res->runs = repeat;
    res->customers = customers;
    res->rows = customers * snapshots;
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
    return 0;
}

/* One run of the job on log into out, in a forked child so that wait4()
 * reports its own peak RSS and CPU time. */
static int run_job(const char *log, const char *out, int reward, int shards, result *res)
{
    oq_error err = {0};
    int fd[2];
    if (pipe(fd)) return -1;
    double t0 = oq_now();
    pid_t pid = fork();
    if (pid == 0) {
        close(fd[0]);
        oq_pipeline_opts o;
        oq_pipeline_opts_default(&o);
        o.log_path = log;
        o.out_dir = out;
        /* The Transformer's training speed is bench_train's. */
        o.reward = reward;
        o.shards = shards;
        oq_pipeline_result *r = NULL;
        if (oq_pipeline_run(&o, NULL, &r, &err)) {
            fprintf(stderr, "run: %s\n", err.msg);
            _exit(1);
        }
        double st[OQ_N_STAGES + 1];
        memcpy(st, r->stage_s, sizeof r->stage_s);
        st[OQ_N_STAGES] = 0;
        if (write(fd[1], st, sizeof st) != (ssize_t)sizeof st) _exit(1);
        oq_pipeline_result_free(r);
        _exit(0);
    }
    close(fd[1]);
    double st[OQ_N_STAGES + 1] = {0};
    ssize_t got = read(fd[0], st, sizeof st);
    close(fd[0]);
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) < 0 || !WIFEXITED(status) || WEXITSTATUS(status) ||
        got != (ssize_t)sizeof st)
        return -1;
    res->wall = oq_now() - t0;
    res->cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
               (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec;
    res->rss_mb = (double)ru.ru_maxrss / 1024.0;
    memcpy(res->stage, st, sizeof res->stage);
    return 0;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    const char *sizes = "10000", *outp = "bench/results/pipeline.md";
    int snapshots = 7, reward = OQ_REWARD_RESPONSE, shards = 1, repeat = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--customers") && i + 1 < argc)
            sizes = argv[++i];
        else if (!strcmp(argv[i], "--snapshots") && i + 1 < argc)
            snapshots = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--out") && i + 1 < argc)
            outp = argv[++i];
        else if (!strcmp(argv[i], "--reward") && i + 1 < argc && oq_reward_parse(argv[i + 1]) >= 0)
            reward = oq_reward_parse(argv[++i]);
        else if (!strcmp(argv[i], "--shards") && i + 1 < argc)
            shards = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc && atoi(argv[i + 1]) >= 1)
            repeat = atoi(argv[++i]);
        else {
            fprintf(stderr,
                    "usage: bench_pipeline [--customers N[,N...]] [--snapshots K] "
                    "[--reward response|empirical] [--shards N] [--repeat R] [--out FILE]\n");
            return 2;
        }
    }
    result res[16];
    int nres = 0;
    char buf[256];
    snprintf(buf, sizeof buf, "%s", sizes);
    for (char *tok = strtok(buf, ","); tok && nres < 16; tok = strtok(NULL, ",")) {
        if (run_one(atol(tok), snapshots, reward, shards, repeat, &res[nres])) {
            fprintf(stderr, "bench failed at %s customers\n", tok);
            return 1;
        }
        nres++;
    }
    FILE *f = fopen(outp, "w");
    FILE *outs[2] = {stdout, f};
    for (int k = 0; k < 2; k++) {
        FILE *o = outs[k];
        if (!o) continue;
        fprintf(o, "# offerq run: pipeline benchmark\n\n");
        fprintf(o,
                "r^: %s (`--reward %s`; the Transformer's training is not in these timings: "
                "see bench_train). Dyna-Q: 4 epochs, k = 20, %d shard(s). Stage \"scorer "
                "fit\" includes reading the events stream and fitting BG/NBD and the r^ "
                "model.\n\n",
                reward == OQ_REWARD_RESPONSE ? "the response model (default)" : "empirical",
                oq_reward_name(reward), shards);
        if (repeat > 1)
            fprintf(o,
                    "Each size ran %d times on the same log; the row is the run with the median "
                    "wall time, \"min-max\" the fastest and slowest.\n\n",
                    repeat);
        fprintf(
            o,
            "| rows | customers | wall s | min-max | CPU s | peak RSS MiB | ingest | scorer fit | "
            "score | dyna-q | plan | write | rows/s "
            "|\n|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (int r = 0; r < nres; r++)
            fprintf(o,
                    "| %ld | %ld | %.2f | %.2f-%.2f | %.2f | %.0f | %.2f | %.2f | %.2f | %.2f | "
                    "%.2f | %.2f | %.0f |\n",
                    res[r].rows, res[r].customers, res[r].wall, res[r].wall_min, res[r].wall_max,
                    res[r].cpu, res[r].rss_mb, res[r].stage[0], res[r].stage[1], res[r].stage[2],
                    res[r].stage[3], res[r].stage[4], res[r].stage[5], res[r].rows / res[r].wall);
        fprintf(o,
                "\nCommand: `build/bench_pipeline --customers %s --snapshots %d --reward %s "
                "--shards %d --repeat %d` (RelWithDebInfo -O2, shared 2-core machine).\n",
                sizes, snapshots, oq_reward_name(reward), shards, repeat);
    }
    if (f) fclose(f);
    return 0;
}
