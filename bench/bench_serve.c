/* bench_serve.c - throughput and latency of GET /v1/recommend/{user_id}
 * (issue 6: "wrk against /v1/recommend on loopback; goal >= 20k req/s with
 * p99 <= 1 ms on the 2-core machine").
 *
 * Builds a list of N users, starts the service in-process (2 worker
 * threads) first with --dir (in-memory lookup), then, if redis-server is on
 * PATH, with --redis (one Lua round trip to a local Redis per request), and
 * runs wrk (Debian package wrk) against random user ids for each.
 * Prints the figures and writes bench/results/serve.md.
 *
 *   build/bench_serve [users=100000] [seconds=10] [connections=32]
 */
#include "offerq/core/io.h"
#include "offerq/prod/publish.h"
#include "offerq/coupon/reco.h"
#include "offerq/prod/serve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct result {
    const char *mode;
    double rps, p50_ms, p99_ms;
    int ok;
} result;

/* "  50%  123.00us" -> milliseconds */
static double wrk_ms(const char *line)
{
    double v = 0;
    char unit[8] = "";
    if (sscanf(line, "%*s %lf%7s", &v, unit) != 2) return -1;
    if (!strcmp(unit, "us")) return v / 1000;
    if (!strcmp(unit, "ms")) return v;
    if (!strcmp(unit, "s")) return v * 1000;
    return -1;
}

static result run_wrk(const char *mode, int port, const char *script, int secs, int conns)
{
    result r = {mode, 0, -1, -1, 0};
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "wrk -t2 -c%d -d%ds --latency -s %s http://127.0.0.1:%d/ 2>&1", conns,
             secs, script, port);
    FILE *p = popen(cmd, "r");
    if (!p) return r;
    char line[512];
    int non2xx = 0;
    while (fgets(line, sizeof line, p)) {
        fputs(line, stdout);
        if (strstr(line, "Requests/sec:")) r.rps = atof(strchr(line, ':') + 1);
        if (strstr(line, " 50%")) r.p50_ms = wrk_ms(line);
        if (strstr(line, " 99%")) r.p99_ms = wrk_ms(line);
        if (strstr(line, "Non-2xx")) non2xx = 1;
    }
    r.ok = pclose(p) == 0 && r.rps > 0 && !non2xx;
    return r;
}

int main(int argc, char **argv)
{
    long users = argc > 1 ? atol(argv[1]) : 100000;
    int secs = argc > 2 ? atoi(argv[2]) : 10, conns = argc > 3 ? atoi(argv[3]) : 32;
    if (system("command -v wrk >/dev/null") != 0) {
        fprintf(stderr, "bench_serve: wrk is not installed (apt-get install wrk)\n");
        return 1;
    }
    char dir[] = "/tmp/offerq-bench-XXXXXX";
    if (!mkdtemp(dir)) return 1;
    char path[4096];
    oq_error err = {0};
    oq_reco *r = oq_reco_new();
    for (long u = 1; u <= users; u++) {
        oq_reco_row w = {.user_id = u,
                         .day = 20270,
                         .coupon = (uint8_t)(u % 4),
                         .expected_profit = 0.01 * (double)u,
                         .p_alive = (double)(u % 100) / 100};
        snprintf(w.state, sizeof w.state, "%ld|%ld|%ld|%ld|%ld", u % 9, u % 5, u % 7, u % 10,
                 u % 8);
        if (oq_reco_push(r, &w, &err)) return 1;
    }
    snprintf(path, sizeof path, "%s/recommendations.csv", dir);
    if (oq_reco_write(path, r, &err)) return 1;
    oq_reco_free(r);
    snprintf(path, sizeof path, "%s/qtable.ofq", dir);
    if (oq_write_file_atomic(path, "OFQTABLE", 8, &err)) return 1;
    snprintf(path, sizeof path, "%s/req.lua", dir);
    FILE *f = fopen(path, "w");
    if (!f) return 1;
    fprintf(f,
            "math.randomseed(1)\nrequest = function()\n"
            "  return wrk.format(\"GET\", \"/v1/recommend/\" .. math.random(1, %ld))\nend\n",
            users);
    fclose(f);

    result res[2];
    int nres = 0;
    oq_serve_config cfg = {.port = 0, .dir = dir, .threads = 2};
    oq_serve *s = NULL;
    if (oq_serve_start(&cfg, &s, &err)) {
        fprintf(stderr, "bench_serve: %s\n", err.msg);
        return 1;
    }
    printf("== --dir (in-memory list, %ld users)\n", users);
    res[nres++] = run_wrk("dir", oq_serve_port(s), path, secs, conns);
    oq_serve_stop(s);

    if (system("command -v redis-server >/dev/null") == 0) {
        int rport = 20000 + (int)(getpid() % 20000);
        char cmd[1024], url[64];
        snprintf(
            cmd, sizeof cmd,
            "redis-server --port %d --bind 127.0.0.1 --save '' --appendonly no --daemonize yes "
            "--pidfile %s/redis.pid --dir %s --logfile %s/redis.log && sleep 0.3",
            rport, dir, dir, dir);
        snprintf(url, sizeof url, "redis://127.0.0.1:%d", rport);
        oq_publish_info info;
        if (system(cmd) == 0 && !oq_publish_dir(url, dir, NULL, &info, &err)) {
            oq_serve_config rc = {.port = 0, .redis_url = url, .threads = 2};
            if (!oq_serve_start(&rc, &s, &err)) {
                printf("== --redis (Lua GET+HGET per request, local redis-server)\n");
                res[nres++] = run_wrk("redis", oq_serve_port(s), path, secs, conns);
                oq_serve_stop(s);
            }
        } else {
            fprintf(stderr, "bench_serve: redis part skipped: %s\n", err.msg);
        }
        snprintf(cmd, sizeof cmd, "kill $(cat %s/redis.pid) 2>/dev/null", dir);
        if (system(cmd)) { /* already gone */
        }
    }

    printf("\n| source | req/s | p50 ms | p99 ms | goal (>= 20k req/s, p99 <= 1 ms) "
           "|\n|---|---|---|---|---|\n");
    FILE *md = fopen("bench/results/serve.md", "w");
    if (md)
        fprintf(md,
                "# bench_serve: GET /v1/recommend/{random user} on loopback\n\n"
                "%ld users, wrk -t2 -c%d -d%ds, server with 2 worker threads, wrk and the server\n"
                "on the same 2-core machine (shared with other jobs).\n\n"
                "| source | req/s | p50 ms | p99 ms | goal (>= 20k req/s, p99 <= 1 ms) |\n"
                "|---|---|---|---|---|\n",
                users, conns, secs);
    for (int i = 0; i < nres; i++) {
        const result *x = &res[i];
        const char *goal = !x->ok                                ? "run failed"
                           : (x->rps >= 20000 && x->p99_ms <= 1) ? "met"
                                                                 : "not met";
        printf("| %s | %.0f | %.3f | %.3f | %s |\n", x->mode, x->rps, x->p50_ms, x->p99_ms, goal);
        if (md)
            fprintf(md, "| %s | %.0f | %.3f | %.3f | %s |\n", x->mode, x->rps, x->p50_ms, x->p99_ms,
                    goal);
    }
    if (md) {
        fprintf(md, "\nCommand: `build/bench_serve %ld %d %d` (from the source root)\n", users,
                secs, conns);
        fclose(md);
    }
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    if (system(path)) {
    }
    return 0;
}
