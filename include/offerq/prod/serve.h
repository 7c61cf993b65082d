/* serve.h - the HTTP service: recommendations, model endpoints, metrics and
 * the marketing dashboard (libmicrohttpd thread pool, jansson).
 *
 * Endpoints (all JSON unless said):
 *   GET  /v1/recommend/{user_id}  today's coupon for a user: coupon,
 *                                 coupon_value, expected_profit, p_alive,
 *                                 snapshot_date, state, version; 404 unknown user
 *   POST /v1/alive                {"x","t_x","T"[,"t"]} -> {"p_alive"[,
 *                                 "expected_purchases"]}               (BG/NBD)
 *   POST /v1/profit               {"sequence":[category, ...], "features":
 *                                 [5 numbers], "coupon": 0|5|10|20} -> {"r_hat"}
 *   GET  /v1/crosssell?item=NAME&inventory=n1,n2,...  -> the model's JSON
 *   GET  /v1/dashboard.json       data behind the dashboard
 *   GET  /v1/files/NAME.svg       SVG files of the run directory (--dir)
 *   GET  /healthz                 200 {"status":"ok",...}; with --redis 200
 *                                 {"status":"stale",...} while answering from
 *                                 the held table; 503 when nothing can be served
 *   GET  /metrics                 Prometheus text format 0.0.4
 *   GET  /                        the dashboard (HTML/JS/SVG, no external assets)
 * Errors: 400 bad JSON / missing field / out of range, 404, 405 (with Allow),
 * 413 body over the limit, 503 model not loaded or store unreachable; every
 * error body is {"error": "..."}, never with Redis's address or error text
 * (those go to stderr).
 *
 * Redis mode: the current version's whole list is also held in memory (read
 * in HSCAN batches whenever the version changes). While Redis is unreachable
 * (or restarted empty), /v1/recommend, /healthz and /v1/dashboard.json answer
 * from it with the headers X-Offerq-Stale: 1, X-Offerq-Version: N and
 * X-Offerq-Table-Age: seconds since N was published; a thread reconnects with
 * backoff (0.1 s doubling to 5 s) and answers are fresh again once it has.
 * Fresh /v1/recommend answers carry X-Offerq-Version too.
 *
 * The model endpoints validate their input here and call a function of
 * oq_serve_models; a NULL function answers 503 {"error":"model not loaded"}.
 * Wiring a model is filling one pointer (see docs/readme/prod.md).
 */
#ifndef OFFERQ_SERVE_H
#define OFFERQ_SERVE_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

struct json_t;

#define OQ_SERVE_NFEAT 5 /* features of /v1/profit, in the order of profit.h */

typedef struct oq_serve_models {
    /* P(alive) of a customer with x repeat purchases, last at t_x, age T
     * (validated: x whole >= 0, 0 <= t_x <= T, T > 0, t_x = 0 when x = 0).
     * Return a value in [0, 1]; anything else answers 500. */
    double (*p_alive)(void *ctx, double x, double t_x, double T);
    /* Expected repeat purchases in the next t (same ctx; asked for when the
     * body has "t" >= 0). Return 0, or a negative OQ_E* (answers 500).
     * NULL: a body with "t" answers 503. */
    int (*expected)(void *ctx, double t, double x, double t_x, double T, double *out);
    void *alive_ctx;
    double alive_unit_days; /* time unit of x, t_x, T, t in days (echoed); 0: unknown */
    /* Net reward r^ of offering coupon (OQ_COUPON_* index) to a customer
     * with category stream seq[0..n) (oldest first, names as in the log) and
     * the 5 raw state features. Return 0, or a negative OQ_E* with msg filled
     * (OQ_EINVAL answers 400, others 500). */
    int (*profit)(void *ctx, const char *const *seq, size_t n, const double *feat, int coupon,
                  double *r_hat, char *msg, size_t msg_len);
    void *profit_ctx;
    /* Cross-sell decision for a request of item (the query's text, non-empty,
     * < 256 bytes) given inventory[0..n) (n >= 1, each >= 0): set fields of
     * the JSON object out (e.g. "bundle", "discount"). Return 0, or a
     * negative OQ_E* with msg (OQ_EINVAL answers 400, others 500): the model
     * checks that item is one of its items and n matches them. */
    int (*crosssell)(void *ctx, const char *item, const long *inventory, size_t n,
                     struct json_t *out, char *msg, size_t msg_len);
    void *crosssell_ctx;
} oq_serve_models;

typedef struct oq_serve_config {
    const char *bind;           /* address to listen on; NULL: 127.0.0.1 */
    int port;                   /* 0: any free port (oq_serve_port tells which) */
    const char *redis_url;      /* recommendations from Redis (publish.h) ... */
    const char *redis_prefix;   /* NULL: OQ_PUBLISH_PREFIX */
    int redis_timeout_ms;       /* Redis connect/command timeout, ms; 0: 1000 (a request
                                   waits at most this, then answers from the held table) */
    const char *dir;            /* ... or from DIR/recommendations.csv (exactly one) */
    unsigned threads;           /* worker threads; 0: 2 */
    unsigned max_connections;   /* 0: 512 */
    size_t max_body;            /* bytes of a POST body; 0: 64 KiB */
    unsigned timeout_s;         /* idle connection timeout; 0: 15 */
    unsigned request_timeout_s; /* a request must arrive whole (headers and body) within
                                   this many seconds of its first byte, or of the previous
                                   answer on the connection; else it is closed; 0: 10 */
    unsigned max_per_ip;        /* open connections per client address; 0: 64 */
    const char *nightly_status; /* the status file `offerq nightly` writes ([output] status,
                                   default DIR.nightly.json), read at each look: served as
                                   /v1/nightly.json and the offerq_nightly_* metrics; NULL
                                   or a missing file: none */
    oq_serve_models models;     /* model functions (all may be NULL) */
} oq_serve_config;

typedef struct oq_serve oq_serve;

/* Load the data source (DIR files, or check Redis is reachable) and start
 * listening. *out is the caller's (oq_serve_stop). Errors: those of the
 * readers, OQ_EIO (cannot bind, Redis unreachable), OQ_EINVAL (config). */
int oq_serve_start(const oq_serve_config *cfg, oq_serve **out, oq_error *err) OQ_WUR;

/* The port actually bound. */
int oq_serve_port(const oq_serve *s);

/* Stop accepting, finish the requests in flight, free everything. NULL-safe. */
void oq_serve_stop(oq_serve *s);

#endif
