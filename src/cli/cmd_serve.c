/* cmd_serve.c - `offerq serve`: the HTTP service and dashboard (serve.h). */
#include "cli/cli.h"
#include "offerq/serve.h"

#include <getopt.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq serve --port P (--redis URL | --dir DIR) [options]\n\n"
            "Serves today's recommendations, the model endpoints, Prometheus metrics and\n"
            "the marketing dashboard until SIGINT/SIGTERM.\n\n"
            "  GET  /v1/recommend/{user_id}   coupon, expected profit, P(alive), version\n"
            "  POST /v1/alive                 {\"x\":2,\"t_x\":30,\"T\":90} -> P(alive)\n"
            "  POST /v1/profit                {\"sequence\":[...],\"features\":[5],\"coupon\":10}\n"
            "  GET  /v1/crosssell?item=I&inventory=n1,n2,...\n"
            "  GET  /healthz, /metrics, /v1/dashboard.json, / (dashboard)\n"
            "Model endpoints answer 503 \"model not loaded\" until a model is wired in.\n\n"
            "Options:\n"
            "  --port P             TCP port (0: any free port, printed on stderr)\n"
            "  --bind ADDR          IPv4 address to listen on (default 127.0.0.1)\n"
            "  --redis URL          read the list published by `offerq publish` (or $OFFERQ_REDIS)\n"
            "  --prefix P           Redis key prefix (default offerq)\n"
            "  --dir DIR            read DIR/recommendations.csv (+ report.json, eval.json,\n"
            "                       crosssell.json, *.svg) once at start\n"
            "  --threads N          worker threads (default 2)\n"
            "  --max-connections N  concurrent connections (default 512)\n"
            "  --max-body BYTES     largest POST body (default 65536)\n\n"
            "Example:\n  offerq serve --port 8080 --redis redis://127.0.0.1:6379\n"
            "  curl http://127.0.0.1:8080/v1/recommend/42\n");
}

int cmd_serve(int argc, char **argv)
{
    enum { O_PORT = 256, O_BIND, O_REDIS, O_PREFIX, O_DIR, O_THREADS, O_MAXC, O_MAXB };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},           {"port", required_argument, 0, O_PORT},
        {"bind", required_argument, 0, O_BIND},  {"redis", required_argument, 0, O_REDIS},
        {"prefix", required_argument, 0, O_PREFIX}, {"dir", required_argument, 0, O_DIR},
        {"threads", required_argument, 0, O_THREADS},
        {"max-connections", required_argument, 0, O_MAXC},
        {"max-body", required_argument, 0, O_MAXB}, {0, 0, 0, 0}};
    oq_serve_config cfg = {0};
    long lv;
    int c, have_port = 0, redis_opt = 0;
    cfg.redis_url = getenv("OFFERQ_REDIS");
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(stdout); return 0;
        case O_PORT:
            if (cli_long("serve", "--port", optarg, 0, 65535, &lv)) return 2;
            cfg.port = (int)lv;
            have_port = 1;
            break;
        case O_BIND: cfg.bind = optarg; break;
        case O_REDIS: cfg.redis_url = optarg; redis_opt = 1; break;
        case O_PREFIX: cfg.redis_prefix = optarg; break;
        case O_DIR: cfg.dir = optarg; break;
        case O_THREADS:
            if (cli_long("serve", "--threads", optarg, 1, 256, &lv)) return 2;
            cfg.threads = (unsigned)lv;
            break;
        case O_MAXC:
            if (cli_long("serve", "--max-connections", optarg, 1, 100000, &lv)) return 2;
            cfg.max_connections = (unsigned)lv;
            break;
        case O_MAXB:
            if (cli_long("serve", "--max-body", optarg, 16, 64L << 20, &lv)) return 2;
            cfg.max_body = (size_t)lv;
            break;
        default: return cli_usage_error("serve", "unknown option");
        }
    }
    if (optind != argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!have_port) return cli_usage_error("serve", "--port P is required");
    if (cfg.dir && !redis_opt) cfg.redis_url = NULL; /* --dir wins over $OFFERQ_REDIS */
    if (!!cfg.dir == !!cfg.redis_url)
        return cli_usage_error("serve", "give exactly one of --redis URL or --dir DIR");
    /* Block the stop signals in every thread (the pool inherits this mask);
     * the main thread then waits for them with sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    oq_error err = {0};
    oq_serve *s = NULL;
    if (oq_serve_start(&cfg, &s, &err)) return cli_fail(&err, NULL);
    fprintf(stderr, "offerq serve: listening on http://%s:%d/ (%s %s)\n",
            cfg.bind ? cfg.bind : "127.0.0.1", oq_serve_port(s), cfg.dir ? "dir" : "redis",
            cfg.dir ? cfg.dir : cfg.redis_url);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "offerq serve: stopping (signal %d)\n", sig);
    oq_serve_stop(s);
    return 0;
}
