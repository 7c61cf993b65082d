/* cmd_serve.c - `offerq serve`: the HTTP service and dashboard (serve.h). */
#include "cli/cli.h"
#include "offerq/coupon/bgnbd.h"
#include "offerq/core/io.h"
#include "offerq/coupon/profit.h"
#include <pthread.h>
#include "offerq/xsell/crosssell.h"
#include "offerq/core/io.h"
#include "offerq/prod/publish.h"
#include "offerq/prod/serve.h"

#include <getopt.h>
#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(
        fp,
        "Usage: offerq serve --port P (--redis URL | --dir DIR) [options]\n\n"
        "Serves today's recommendations, the model endpoints, Prometheus metrics and\n"
        "the marketing dashboard until SIGINT/SIGTERM.\n\n"
        "  GET  /v1/recommend/{user_id}   coupon, expected profit, P(alive), version\n"
        "  POST /v1/alive                 {\"x\":2,\"t_x\":30,\"T\":90[,\"t\":30]} -> P(alive)\n"
        "                                 [and expected repeat purchases in the next t]\n"
        "  POST /v1/profit                {\"sequence\":[...],\"features\":[5],\"coupon\":10}\n"
        "  GET  /v1/crosssell?item=NAME&inventory=n1,n2,...  bundle, discount, price\n"
        "  GET  /v1/nightly.json          the last `offerq nightly`: status, failed stage,\n"
        "                                 error, run id, age (from --nightly-status)\n"
        "  GET  /healthz, /metrics, /v1/dashboard.json, / (dashboard)\n"
        "A model endpoint answers 503 \"model not loaded\" unless its model is given.\n\n"
        "Options:\n"
        "  --port P             TCP port (0: any free port, printed on stderr)\n"
        "  --bind ADDR          IPv4 address to listen on (default 127.0.0.1)\n"
        "  --redis URL          read the list published by `offerq publish` (or $OFFERQ_REDIS):\n"
        "                       redis://[[user]:password@]host[:port][/db], unix:/path or\n"
        "                       redis+cluster://host:port[,host:port...] (a Redis Cluster);\n"
        "                       password also from $OFFERQ_REDIS_PASSWORD. The current\n"
        "                       version is also held in memory: while Redis is away, answers\n"
        "                       come from it with headers X-Offerq-Stale: 1, X-Offerq-Version\n"
        "                       and X-Offerq-Table-Age (seconds since it was published), and\n"
        "                       serve reconnects with backoff (0.1 s doubling to 5 s)\n"
        "  --prefix P           Redis key prefix (default offerq)\n"
        "  --redis-timeout-ms MS  bound on connecting to Redis and on each command\n"
        "                       (default 1000); past it a request answers from the held\n"
        "                       table (503 if none)\n"
        "  --dir DIR            read DIR/recommendations.csv (+ report.json, eval.json,\n"
        "                       crosssell.json, *.svg, bgnbd.json) once at start\n"
        "  --nightly-status FILE  the status file of `offerq nightly` ([output] status),\n"
        "                       read at each look (default with --dir DIR: DIR.nightly.json,\n"
        "                       the nightly default); a failed night shows on the dashboard\n"
        "                       and in offerq_nightly_* metrics while yesterday's table is\n"
        "                       still served\n"
        "  --bgnbd FILE         BG/NBD parameters for /v1/alive (`offerq bgnbd fit --params`,\n"
        "                       or DIR/bgnbd.json of `offerq run`; with --dir that file is\n"
        "                       used when --bgnbd is not given). x, t_x, T, t are in the\n"
        "                       fit's time unit (days for `offerq run`; echoed as unit_days)\n"
        "  --profit MODEL       profit Transformer (`offerq train`, or DIR/model.ofq of\n"
        "                       `offerq run`, used with --dir when --profit is not given)\n"
        "                       for POST /v1/profit {sequence, features, coupon}\n"
        "  --crosssell TABLE    cross-sell table of `offerq crosssell learn` for /v1/crosssell\n"
        "                       (item: a name, or a position counted from 1; inventory: the\n"
        "                       stock of every item in the table's order)\n"
        "  --items FILE         current items (item,price,cost,inventory) for --crosssell:\n"
        "                       same items in the same order as the table; their prices are\n"
        "                       quoted and a bundle now below cost is not offered\n"
        "  --threads N          worker threads (default 2)\n"
        "  --max-connections N  concurrent connections (default 512)\n"
        "  --max-per-ip N       concurrent connections from one client address (default 64;\n"
        "                       behind a proxy every client has the proxy's address)\n"
        "  --request-timeout S  a request must arrive whole within S seconds of its first\n"
        "                       byte, else the connection is closed (default 10); the idle\n"
        "                       timeout (15 s) restarts on every byte, this one does not\n"
        "  --max-body BYTES     largest POST body (default 65536)\n\n"
        "Example:\n  offerq serve --port 8080 --redis redis://127.0.0.1:6379 \\\n"
        "      --bgnbd example/run/bgnbd.json --crosssell example/table.oxq\n"
        "  curl http://127.0.0.1:8080/v1/recommend/42\n"
        "  curl -d '{\"x\":2,\"t_x\":30,\"T\":90,\"t\":30}' http://127.0.0.1:8080/v1/alive\n"
        "  curl 'http://127.0.0.1:8080/v1/crosssell?item=bread&inventory=6,10,4,5,7'\n");
}

/* ---- the model wrappers behind oq_serve_models ------------------------------ */

typedef struct alive_model {
    oq_bgnbd_params p;
    double unit_days;
} alive_model;

static double alive_fn(void *ctx, double x, double tx, double T)
{
    const alive_model *a = ctx;
    return oq_bgnbd_p_alive(&a->p, x, tx, T);
}

static int expected_fn(void *ctx, double t, double x, double tx, double T, double *out)
{
    const alive_model *a = ctx;
    return oq_bgnbd_expected(&a->p, t, x, tx, T, out);
}

/* The profit Transformer for POST /v1/profit. A model serves one thread at
 * a time (profit.h), so requests take a mutex. */
typedef struct profit_model {
    oq_profit *m;
    oq_profit_samples *s; /* one sample, reused */
    pthread_mutex_t mu;
} profit_model;

static int profit_fn(void *ctx, const char *const *seq, size_t n, const double *feat, int coupon,
                     double *r_hat, char *msg, size_t msg_len)
{
    profit_model *pm = ctx;
    const oq_profit *m = pm->m;
    int T = m->cfg.seq_len, rc;
    pthread_mutex_lock(&pm->mu);
    oq_profit_samples *s = pm->s;
    /* The latest T days, right-aligned; PAD where the stream is shorter;
     * categories the model never saw read as EMPTY. */
    size_t take = n < (size_t)T ? n : (size_t)T;
    for (int t = 0; t < T; t++)
        s->tok[t] = OQ_PROFIT_TOK_PAD;
    for (size_t k = 0; k < take; k++) {
        const char *name = seq[n - take + k];
        uint16_t tok = OQ_PROFIT_TOK_EMPTY;
        for (uint32_t c = 0; c < m->n_cats; c++)
            if (!strcmp(m->cat_names[c], name)) tok = (uint16_t)(OQ_PROFIT_TOK_CAT0 + c);
        s->tok[(size_t)T - take + k] = tok;
    }
    /* category_idx (the last feature) names one of the model's categories. */
    double cat = feat[OQ_PROFIT_NFEAT - 1];
    if (cat != floor(cat) || cat >= (double)m->n_cats) {
        pthread_mutex_unlock(&pm->mu);
        snprintf(msg, msg_len,
                 "\"features\"[%d] (category index) must be a whole number from 0 to %u, "
                 "got %g",
                 OQ_PROFIT_NFEAT - 1, m->n_cats ? m->n_cats - 1 : 0, cat);
        return OQ_EINVAL;
    }
    for (int f = 0; f < OQ_PROFIT_NFEAT; f++)
        s->feat[f] = (float)feat[f];
    s->coupon[0] = (uint8_t)coupon;
    float out = 0;
    oq_error err = {0};
    rc = oq_profit_predict(m, s, &out, &err);
    pthread_mutex_unlock(&pm->mu);
    if (rc) {
        snprintf(msg, msg_len, "%s", err.msg);
        return rc == OQ_EINVAL ? OQ_ENUM : rc; /* the request was valid: a server error */
    }
    *r_hat = out;
    return 0;
}

/* Load the profit model (path, or DIR/model.ofq when dir has one). */
static int load_profit(const char *path, const char *dir, profit_model *pm, oq_error *err)
{
    char side[4096];
    if (!path && dir && snprintf(side, sizeof side, "%s/model.ofq", dir) < (int)sizeof side &&
        oq_file_exists(side))
        path = side;
    if (!path) return 0;
    int rc = oq_profit_load(path, &pm->m, err);
    if (!rc) rc = oq_profit_samples_new(1, pm->m->cfg.seq_len, &pm->s, err);
    if (!rc) pthread_mutex_init(&pm->mu, NULL);
    return rc;
}

typedef struct xsell_model {
    oq_xsell_qtable *t; /* read only while serving: safe from every worker */
    oq_xsell_sim items; /* current prices (--items) */
    int has_items;
} xsell_model;

static int xsell_fn(void *ctx, const char *item, const long *inv, size_t n, json_t *out, char *msg,
                    size_t msg_len)
{
    const xsell_model *x = ctx;
    oq_error err = {0};
    oq_xsell_offer o;
    int rc =
        oq_xsell_offer_lookup(x->t, item, inv, n, x->has_items ? &x->items.mdp : NULL, &o, &err);
    if (!rc) rc = oq_xsell_offer_json(oq_xsell_qtable_mdp(x->t), &o, out);
    if (rc) snprintf(msg, msg_len, "%s", err.msg[0] ? err.msg : oq_strerror(rc));
    return rc;
}

/* Load the BG/NBD parameters (path, or DIR/bgnbd.json when dir has one). */
static int load_alive(const char *path, const char *dir, alive_model *a, int *loaded, oq_error *err)
{
    char side[4096];
    *loaded = 0;
    if (!path && dir) {
        if (snprintf(side, sizeof side, "%s/bgnbd.json", dir) >= (int)sizeof side ||
            !oq_file_exists(side))
            return 0;
        path = side;
    }
    if (!path) return 0;
    int rc = oq_bgnbd_params_load(path, &a->p, &a->unit_days, err);
    if (!rc && (rc = oq_bgnbd_params_check(&a->p, err)) != 0)
        snprintf(err->file, sizeof err->file, "%.500s", path);
    if (rc) return rc;
    fprintf(stderr,
            "offerq serve: /v1/alive uses %s (r=%.4g alpha=%.4g a=%.4g b=%.4g, unit %g days)\n",
            path, a->p.r, a->p.alpha, a->p.a, a->p.b, a->unit_days);
    *loaded = 1;
    return 0;
}

static int load_xsell(const char *table, const char *items, xsell_model *x, oq_error *err)
{
    int rc = oq_xsell_qtable_load(table, &x->t, err);
    if (rc) return rc;
    if (items) {
        oq_xsell_sim_default(&x->items);
        x->items.mdp.n_items = 0;
        if ((rc = oq_xsell_items_read(items, 0.6, &x->items, err))) return rc;
        const oq_xsell_mdp *m = oq_xsell_qtable_mdp(x->t);
        if ((rc = oq_xsell_items_match(m, &x->items.mdp, err))) {
            snprintf(err->file, sizeof err->file, "%s", items);
            return rc;
        }
        /* discount levels come from the table */
        x->items.mdp.n_disc = m->n_disc;
        for (int k = 0; k < m->n_disc; k++)
            x->items.mdp.disc[k] = m->disc[k];
        x->has_items = 1;
    }
    fprintf(stderr, "offerq serve: /v1/crosssell uses %s (%d items, %zu entries)%s%s\n", table,
            oq_xsell_qtable_mdp(x->t)->n_items, oq_xsell_qtable_size(x->t),
            items ? ", prices from " : "", items ? items : "");
    return 0;
}

int cmd_serve(int argc, char **argv)
{
    enum {
        O_PORT = 256,
        O_BIND,
        O_REDIS,
        O_PREFIX,
        O_DIR,
        O_THREADS,
        O_MAXC,
        O_MAXB,
        O_BGNBD,
        O_XSELL,
        O_ITEMS,
        O_PROFIT,
        O_RTIMEOUT,
        O_PERIP,
        O_REQTIMEOUT,
        O_NIGHTLY
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"port", required_argument, 0, O_PORT},
                                         {"bind", required_argument, 0, O_BIND},
                                         {"redis", required_argument, 0, O_REDIS},
                                         {"prefix", required_argument, 0, O_PREFIX},
                                         {"redis-timeout-ms", required_argument, 0, O_RTIMEOUT},
                                         {"dir", required_argument, 0, O_DIR},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"max-connections", required_argument, 0, O_MAXC},
                                         {"max-body", required_argument, 0, O_MAXB},
                                         {"max-per-ip", required_argument, 0, O_PERIP},
                                         {"request-timeout", required_argument, 0, O_REQTIMEOUT},
                                         {"bgnbd", required_argument, 0, O_BGNBD},
                                         {"crosssell", required_argument, 0, O_XSELL},
                                         {"items", required_argument, 0, O_ITEMS},
                                         {"profit", required_argument, 0, O_PROFIT},
                                         {"nightly-status", required_argument, 0, O_NIGHTLY},
                                         {0, 0, 0, 0}};
    const char *bgnbd = NULL, *xtable = NULL, *xitems = NULL, *profit = NULL;
    oq_serve_config cfg = {0};
    long lv;
    int c, have_port = 0, redis_opt = 0;
    cfg.redis_url = getenv("OFFERQ_REDIS");
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_PORT:
            if (cli_long("serve", "--port", optarg, 0, 65535, &lv)) return 2;
            cfg.port = (int)lv;
            have_port = 1;
            break;
        case O_BIND:
            cfg.bind = optarg;
            break;
        case O_REDIS:
            cfg.redis_url = optarg;
            redis_opt = 1;
            break;
        case O_PREFIX:
            cfg.redis_prefix = optarg;
            break;
        case O_RTIMEOUT:
            if (cli_long("serve", "--redis-timeout-ms", optarg, 1, 3600000, &lv)) return 2;
            cfg.redis_timeout_ms = (int)lv;
            break;
        case O_DIR:
            cfg.dir = optarg;
            break;
        case O_THREADS:
            if (cli_long("serve", "--threads", optarg, 1, 256, &lv)) return 2;
            cfg.threads = (unsigned)lv;
            break;
        case O_MAXC:
            if (cli_long("serve", "--max-connections", optarg, 1, 100000, &lv)) return 2;
            cfg.max_connections = (unsigned)lv;
            break;
        case O_PERIP:
            if (cli_long("serve", "--max-per-ip", optarg, 1, 100000, &lv)) return 2;
            cfg.max_per_ip = (unsigned)lv;
            break;
        case O_REQTIMEOUT:
            if (cli_long("serve", "--request-timeout", optarg, 1, 3600, &lv)) return 2;
            cfg.request_timeout_s = (unsigned)lv;
            break;
        case O_MAXB:
            if (cli_long("serve", "--max-body", optarg, 16, 64L << 20, &lv)) return 2;
            cfg.max_body = (size_t)lv;
            break;
        case O_BGNBD:
            bgnbd = optarg;
            break;
        case O_XSELL:
            xtable = optarg;
            break;
        case O_ITEMS:
            xitems = optarg;
            break;
        case O_PROFIT:
            profit = optarg;
            break;
        case O_NIGHTLY:
            cfg.nightly_status = optarg;
            break;
        default:
            return cli_bad_option("serve");
        }
    }
    if (optind != argc) return cli_usage_error("serve", "unexpected argument '%s'", argv[optind]);
    if (!have_port) return cli_usage_error("serve", "--port P is required");
    if (cfg.dir && !redis_opt) cfg.redis_url = NULL; /* --dir wins over $OFFERQ_REDIS */
    if (!!cfg.dir == !!cfg.redis_url)
        return cli_usage_error("serve", "give exactly one of --redis URL or --dir DIR");
    if (xitems && !xtable) return cli_usage_error("serve", "--items needs --crosssell TABLE");
    /* nightly's default status file: [output] dir + ".nightly.json" */
    char status_path[4200];
    if (!cfg.nightly_status && cfg.dir) {
        size_t dl = strlen(cfg.dir);
        while (dl > 1 && cfg.dir[dl - 1] == '/')
            dl--;
        snprintf(status_path, sizeof status_path, "%.*s.nightly.json", (int)dl, cfg.dir);
        cfg.nightly_status = status_path;
    }
    oq_error err = {0};
    alive_model am = {0};
    xsell_model xm = {0};
    profit_model pm = {0};
    int have_alive = 0, rc = 1;
    if (load_alive(bgnbd, cfg.dir, &am, &have_alive, &err) ||
        load_profit(profit, cfg.dir, &pm, &err) ||
        (xtable && load_xsell(xtable, xitems, &xm, &err))) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    if (have_alive) {
        cfg.models.p_alive = alive_fn;
        cfg.models.expected = expected_fn;
        cfg.models.alive_ctx = &am;
        cfg.models.alive_unit_days = am.unit_days;
    }
    if (pm.m) {
        cfg.models.profit = profit_fn;
        cfg.models.profit_ctx = &pm;
    }
    if (xm.t) {
        cfg.models.crosssell = xsell_fn;
        cfg.models.crosssell_ctx = &xm;
    }
    /* Block the stop signals in every thread (the pool inherits this mask);
     * the main thread then waits for them with sigwait. */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    signal(SIGPIPE, SIG_IGN);
    oq_serve *s = NULL;
    if (oq_serve_start(&cfg, &s, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    char shown[1024] = "";
    if (cfg.redis_url) oq_redis_url_redact(cfg.redis_url, shown, sizeof shown);
    fprintf(stderr, "offerq serve: listening on http://%s:%d/ (%s %s)\n",
            cfg.bind ? cfg.bind : "127.0.0.1", oq_serve_port(s), cfg.dir ? "dir" : "redis",
            cfg.dir ? cfg.dir : shown);
    int sig = 0;
    sigwait(&set, &sig);
    fprintf(stderr, "offerq serve: stopping (signal %d)\n", sig);
    oq_serve_stop(s);
    rc = 0;
cleanup:
    oq_xsell_qtable_free(xm.t);
    if (pm.m) pthread_mutex_destroy(&pm.mu);
    oq_profit_samples_free(pm.s);
    oq_profit_free(pm.m);
    return rc;
}
