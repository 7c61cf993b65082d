/* serve.c - the HTTP service (serve.h) on libmicrohttpd.
 *
 * libmicrohttpd calls the access handler several times per request: once
 * with the headers (we allocate the per-connection request record), once per
 * chunk of body (accumulated here, capped at max_body), and a last time with
 * *upload_data_size == 0, when we route and answer. Routes are a table; each
 * handler fills a reply (status, body) and never touches MHD itself.
 *
 * Data sources: --dir loads DIR/recommendations.csv once at start (read-only
 * afterwards, shared by all threads); --redis asks Redis per request through
 * one hiredis context per worker thread (pthread key, created lazily,
 * dropped after an error so the next request reconnects).
 *
 * Redis outages: a keeper thread holds the current version's whole table in
 * memory (read again, in HSCAN batches, each time the version changes; polled
 * every KEEP_POLL_MS). When a request finds Redis gone, the server is marked
 * down: every request then answers from the held table at once, flagged with
 * X-Offerq-Stale: 1, X-Offerq-Version and X-Offerq-Table-Age, while the keeper
 * reconnects with exponential backoff (BACKOFF_MIN_MS doubling to
 * BACKOFF_MAX_MS) and marks it up again. Clients never see Redis's address or
 * error text; stderr gets them, once per outage.
 *
 * Slow clients (slowloris): libmicrohttpd's idle timeout restarts on every
 * byte, so a client sending one header line every few seconds would hold a
 * connection for ever. Every open connection is tracked here (its socket and
 * when its current request began: at accept, or when the previous one was
 * answered); a reaper thread shuts down the socket of any connection whose
 * request has not arrived whole within request_timeout_s, and libmicrohttpd
 * then closes it. Connections per client address are capped (max_per_ip), so
 * one client cannot take every slot. libmicrohttpd's own log lines (malformed
 * requests, refused connections) go to stderr at most once per second, with a
 * count of the ones suppressed. */
#include "offerq/prod/serve.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/prod/publish.h"
#include "offerq/prod/rcluster.h"
#include "offerq/coupon/reco.h"
#include "prod/serve_int.h"
#include "util/json.h"
#include "util/num.h"

#include <dirent.h>
#include <ctype.h>
#include <errno.h>
#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#define DASH_MAX_USERS 200000 /* rows the dashboard ships; more: OQ_ELIMIT */
/* Rows held for Redis outages: 96 bytes each, ~1 GB (twice that while a new
 * version replaces the old). */
#define KEEP_MAX_USERS 10000000
#define KEEP_POLL_MS 1000   /* the keeper's look at P:current while Redis is up */
#define BACKOFF_MIN_MS 100  /* first retry after Redis went away ... */
#define BACKOFF_MAX_MS 5000 /* ... doubling up to this */
#define MAX_SVGS 32
#define REAP_POLL_MS 250 /* the reaper's look at the open connections */

/* ---- metrics ------------------------------------------------------------------ */

enum {
    EP_RECOMMEND,
    EP_ALIVE,
    EP_PROFIT,
    EP_CROSSSELL,
    EP_DASHJSON,
    EP_FILES,
    EP_NIGHTLY,
    EP_HEALTHZ,
    EP_METRICS,
    EP_DASHBOARD,
    EP_OTHER,
    N_EP
};
static const char *ep_name[N_EP] = {"recommend",      "alive",     "profit",  "crosssell",
                                    "dashboard_json", "files",     "nightly", "healthz",
                                    "metrics",        "dashboard", "other"};
static const int codes[] = {200, 400, 404, 405, 413, 500, 503};
#define N_CODE (sizeof codes / sizeof *codes + 1) /* + "other" */
static const double buckets[] = {0.0001, 0.00025, 0.0005, 0.001, 0.0025,
                                 0.005,  0.01,    0.025,  0.1,   1.0};
#define N_BUCKET (sizeof buckets / sizeof *buckets)

typedef struct metrics {
    atomic_ullong count[N_EP][N_CODE];
    atomic_ullong hist[N_EP][N_BUCKET + 1]; /* per bucket (not cumulative); last = +Inf */
    atomic_ullong sum_ns[N_EP];
    atomic_llong redis_version; /* last version seen in Redis */
} metrics;

static size_t code_index(int code)
{
    for (size_t i = 0; i < N_CODE - 1; i++)
        if (codes[i] == code) return i;
    return N_CODE - 1;
}

static void observe(metrics *m, int ep, int code, double seconds)
{
    atomic_fetch_add_explicit(&m->count[ep][code_index(code)], 1, memory_order_relaxed);
    size_t b = 0;
    while (b < N_BUCKET && seconds > buckets[b])
        b++;
    atomic_fetch_add_explicit(&m->hist[ep][b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&m->sum_ns[ep], (unsigned long long)(seconds * 1e9),
                              memory_order_relaxed);
}

/* ---- server ------------------------------------------------------------------- */

/* An open connection, for the reaper (guarded by oq_serve.mu). */
typedef struct conn_slot {
    struct conn_slot *prev, *next;
    int fd;
    double since;  /* oq_now() when the request now arriving began */
    int answering; /* 1 from the request's last handler call until it completes */
    int cut;       /* 1 once the reaper shut its socket down */
} conn_slot;

/* A published version held in memory (read-only once installed). */
/* A response body shared by every request that sends it (the dashboard
 * data of one version): libmicrohttpd sends from it without a copy and drops
 * its reference when the response is destroyed. */
typedef struct shared_body {
    atomic_int refs;
    size_t len;
    char *text;
} shared_body;

static shared_body *body_wrap(char *text)
{
    if (!text) return NULL;
    shared_body *b = malloc(sizeof *b);
    if (!b) {
        free(text);
        return NULL;
    }
    atomic_init(&b->refs, 1);
    b->len = strlen(text);
    b->text = text;
    return b;
}

static shared_body *body_ref(shared_body *b)
{
    if (b) atomic_fetch_add(&b->refs, 1);
    return b;
}

static void body_unref(void *arg)
{
    shared_body *b = arg;
    if (b && atomic_fetch_sub(&b->refs, 1) == 1) {
        free(b->text);
        free(b);
    }
}

typedef struct snapshot {
    oq_reco *reco;
    shared_body *dash; /* the dashboard data, built once by the keeper; NULL: too many users */
    char *files;       /* JSON object text: name -> text of the side files */
    long long version;
    double created; /* Unix time it was published (its meta), 0: unknown */
} snapshot;

struct oq_serve {
    oq_serve_config cfg;
    struct MHD_Daemon *d;
    int port;
    metrics m;
    /* --dir */
    oq_reco *reco;
    char version[32];
    char run_dir[4096]; /* --dir resolved once at load: the run it pointed at then */
    char *dash_json;    /* built once at start */
    char *report_text;  /* DIR/report.json (NULL: none), for the offerq_run_* metrics */
    double published;   /* Unix time of DIR/recommendations.csv (its mtime) */
    char svgs[MAX_SVGS][64];
    int n_svgs;
    /* --redis */
    pthread_key_t redis_key;
    int have_key;
    pthread_rwlock_t snap_lock; /* guards snap (the pointer; a snapshot never changes) */
    snapshot *snap;             /* the last good table, NULL until one is read */
    atomic_int redis_up;        /* 0 from a failed request until the keeper reconnects */
    atomic_ullong stale_answers;
    atomic_ullong dash_builds; /* dashboard documents built (once per version held) */
    pthread_t keeper;
    pthread_mutex_t keep_mu; /* with keep_cv and stopping: wakes the keeper to stop */
    pthread_cond_t keep_cv;
    int stopping;
    int nudged; /* with keep_mu: a request saw a version the keeper does not hold */
    int have_sync, have_keeper;
    long long skip_version; /* keeper only: a version too large to hold */
    /* slow clients and libmicrohttpd's log (see the top of the file) */
    pthread_mutex_t mu;     /* guards conns, reap_stop, log_last, log_dropped */
    pthread_cond_t reap_cv; /* CLOCK_MONOTONIC; wakes the reaper to stop */
    conn_slot *conns;
    int reap_stop, have_mu, have_reaper;
    pthread_t reaper;
    double log_last;           /* oq_now() of the last line written */
    unsigned long log_dropped; /* lines suppressed since then */
    atomic_ullong slow_closed; /* requests cut for arriving too slowly */
};

typedef struct request {
    double t0;
    char *body;
    size_t len, cap;
    int too_big;
    const char *query; /* raw query string when there is no connection (oq_serve_handle) */
} request;

typedef struct reply {
    int status;
    char *body; /* malloc'ed, or NULL when static_body or shared is set */
    const char *static_body;
    shared_body *shared; /* one reference, handed to the response */
    const char *type;    /* Content-Type */
    const char *allow;   /* Allow header for 405 */
    long long version;   /* > 0: X-Offerq-Version */
    int stale;           /* 1: answered from the held table (X-Offerq-Stale, -Table-Age) */
    double age;          /* seconds since the held table was published; < 0: unknown */
} reply;

static int reply_json(reply *r, int status, json_t *o)
{
    r->status = status;
    r->type = "application/json";
    r->body = o ? oq_json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    if (!r->body) {
        r->status = 500;
        r->static_body = "{\"error\":\"out of memory\"}";
    }
    return r->status;
}

static int reply_error(reply *r, int status, const char *fmt, ...) OQ_PRINTF(3, 4);
static int reply_error(reply *r, int status, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return reply_json(r, status, json_pack("{s:s}", "error", msg));
}

/* ---- Redis per thread ----------------------------------------------------------- */

static void free_redis(void *p)
{
    oq_redis_free(p);
}

static oq_redis *thread_redis(oq_serve *s, oq_error *err)
{
    oq_redis *c = pthread_getspecific(s->redis_key);
    if (c) return c;
    if (oq_redis_open(s->cfg.redis_url, s->cfg.redis_timeout_ms, &c, err)) return NULL;
    pthread_setspecific(s->redis_key, c);
    return c;
}

static void drop_redis(oq_serve *s)
{
    oq_redis_free(pthread_getspecific(s->redis_key));
    pthread_setspecific(s->redis_key, NULL);
}

/* oq_redis_lookup on this thread's context. A context opened before Redis
 * restarted fails on its first use (the server closed it): that is retried
 * once on a new connection, so each worker's old context does not count as
 * an outage. A timeout is not retried (a frozen Redis would double it).
 * 0, or -1 with the context dropped and err filled. */
static int lookup(oq_serve *s, int64_t u, char **js, long long *v, oq_error *err)
{
    for (int tries = 0; tries < 2; tries++) {
        int had = pthread_getspecific(s->redis_key) != NULL;
        oq_redis *c = thread_redis(s, err);
        if (!c) return -1;
        if (!oq_redis_lookup(c, s->cfg.redis_prefix, u, js, v, err)) return 0;
        int closed = oq_redis_closed(c);
        drop_redis(s);
        if (!had || !closed) break;
    }
    return -1;
}

static void snapshot_free(snapshot *sn)
{
    if (!sn) return;
    oq_reco_free(sn->reco);
    body_unref(sn->dash);
    free(sn->files);
    free(sn);
}

/* Redis failed for a request or the keeper: answer from the held table until
 * the keeper reconnects. Logged once per outage, with the reason (stderr
 * only: clients get no addresses or Redis errors). */
static void mark_down(oq_serve *s, const char *why)
{
    if (!atomic_exchange(&s->redis_up, 0)) return;
    pthread_rwlock_rdlock(&s->snap_lock);
    long long v = s->snap ? s->snap->version : 0;
    pthread_rwlock_unlock(&s->snap_lock);
    if (v)
        fprintf(stderr,
                "offerq serve: Redis unreachable (%s); answering from version %lld held in "
                "memory (X-Offerq-Stale: 1) while reconnecting\n",
                why, v);
    else
        fprintf(stderr,
                "offerq serve: Redis unreachable (%s) and no table held yet: answering 503 "
                "while reconnecting\n",
                why);
}

static void mark_up(oq_serve *s)
{
    if (!atomic_exchange(&s->redis_up, 1))
        fprintf(stderr, "offerq serve: Redis reachable again; answers are fresh\n");
}

static long long held_version(oq_serve *s)
{
    pthread_rwlock_rdlock(&s->snap_lock);
    long long v = s->snap ? s->snap->version : 0;
    pthread_rwlock_unlock(&s->snap_lock);
    return v;
}

/* files (a JSON object's text) plus the previous version's report.json
 * under OQ_DASH_PREVIOUS, as a new malloc'ed text; NULL when there is none
 * (or on any error: the dashboard then shows no comparison). */
static char *with_previous_report(oq_redis *c, const char *prefix_arg, const char *files)
{
    char pb[300];
    const char *prefix = oq_redis_key_prefix(c, prefix_arg, pb, sizeof pb);
    redisReply *r = oq_redis_command(c, prefix, "GET %s:previous", prefix);
    long long pv = 0;
    if (r && r->type == REDIS_REPLY_STRING) pv = strtoll(r->str, NULL, 10);
    if (r) freeReplyObject(r);
    if (pv <= 0) return NULL;
    r = oq_redis_command(c, prefix, "HGET %s:v:%lld:files report.json", prefix, pv);
    char *out = NULL;
    if (r && r->type == REDIS_REPLY_STRING) {
        json_t *o = json_loads(files ? files : "{}", 0, NULL);
        if (o && !json_object_set_new(o, OQ_DASH_PREVIOUS, json_stringn(r->str, r->len)))
            out = oq_json_dumps(o, JSON_COMPACT);
        json_decref(o);
    }
    if (r) freeReplyObject(r);
    return out;
}

/* One look at Redis by the keeper: is it there, and is the held table the
 * current version (else read that version and hold it)? 0, or -1 when Redis
 * cannot be reached (*cp is then closed). */
static int keep_refresh(oq_serve *s, oq_redis **cp)
{
    oq_error err = {0};
    long long v = 0;
    if (!*cp && oq_redis_open(s->cfg.redis_url, s->cfg.redis_timeout_ms, cp, &err)) goto down;
    if (oq_redis_current(*cp, s->cfg.redis_prefix, &v, &err)) goto down;
    mark_up(s);
    if (!v || v == s->skip_version || v == held_version(s)) return 0;
    snapshot *sn = calloc(1, sizeof *sn);
    if (!sn) return 0; /* out of memory: keep the old table, try at the next look */
    sn->version = v;
    int rc = oq_redis_fetch_version(*cp, s->cfg.redis_prefix, v, KEEP_MAX_USERS, &sn->reco,
                                    &sn->files, &sn->created, &err);
    if (rc) {
        snapshot_free(sn);
        if (oq_redis_failed(*cp)) goto down;
        if (rc == OQ_ELIMIT) s->skip_version = v;
        fprintf(stderr, "offerq serve: version %lld not held in memory: %s%s\n", v, err.msg,
                rc == OQ_ELIMIT ? "" : " (trying again)");
        return 0;
    }
    /* The dashboard data of this version, built here once rather than per
     * request (for 200,000 users: ~15 MB and over a second of CPU), with the
     * previous version's report for "since yesterday". */
    if (sn->reco->n <= DASH_MAX_USERS) {
        char ver[32];
        snprintf(ver, sizeof ver, "%lld", v);
        char *files = with_previous_report(*cp, s->cfg.redis_prefix, sn->files);
        sn->dash =
            body_wrap(oq_serve_dashboard_json(sn->reco, ver, files ? files : sn->files, NULL, 0));
        free(files);
        if (sn->dash) atomic_fetch_add_explicit(&s->dash_builds, 1, memory_order_relaxed);
    }
    pthread_rwlock_wrlock(&s->snap_lock);
    snapshot *old = s->snap;
    s->snap = sn;
    pthread_rwlock_unlock(&s->snap_lock);
    snapshot_free(old);
    fprintf(stderr, "offerq serve: version %lld (%zu users) held in memory for Redis outages\n", v,
            sn->reco->n);
    return 0;
down:
    oq_redis_free(*cp);
    *cp = NULL;
    mark_down(s, err.msg);
    return -1;
}

/* Sleep ms, or less if the server stops or a request nudges the keeper.
 * Returns 1 when stopping. */
static int keep_sleep(oq_serve *s, int ms)
{
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += ms / 1000;
    until.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&s->keep_mu);
    while (!s->stopping && !s->nudged &&
           pthread_cond_timedwait(&s->keep_cv, &s->keep_mu, &until) == 0) {
    }
    s->nudged = 0;
    int stop = s->stopping;
    pthread_mutex_unlock(&s->keep_mu);
    return stop;
}

static void *keeper_main(void *arg)
{
    oq_serve *s = arg;
    oq_redis *c = NULL;
    int backoff = 0; /* ms; 0 while Redis answers */
    int wait = KEEP_POLL_MS;
    while (!keep_sleep(s, wait)) {
        if (keep_refresh(s, &c) == 0) {
            backoff = 0;
            wait = KEEP_POLL_MS;
        } else {
            backoff = backoff ? backoff * 2 : BACKOFF_MIN_MS;
            if (backoff > BACKOFF_MAX_MS) backoff = BACKOFF_MAX_MS;
            wait = backoff;
        }
    }
    oq_redis_free(c);
    return NULL;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* ---- handlers -------------------------------------------------------------------- */

typedef int (*handler_fn)(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                          reply *out);

static json_t *row_json(const oq_reco_row *w, const char *version)
{
    char date[11];
    oq_date_format(w->day, date);
    json_t *o =
        json_pack("{s:I, s:s, s:f, s:f, s:f, s:s, s:s, s:s}", "user_id", (json_int_t)w->user_id,
                  "coupon", oq_coupon_name(w->coupon), "coupon_value", oq_coupon_value(w->coupon),
                  "expected_profit", w->expected_profit, "p_alive", w->p_alive, "snapshot_date",
                  date, "state", w->state, "version", version);
    /* Lists of offerq run carry every coupon's expected profit: the extra
     * profit of the chosen one over sending none, and each coupon's value. */
    if (o && isfinite(w->value[0])) {
        json_t *by = json_object();
        for (int k = 0; by && k < OQ_N_COUPONS; k++)
            json_object_set_new(by, oq_coupon_name(k), json_real(w->value[k]));
        json_object_set_new(o, "expected_profit_by_coupon", by);
        json_object_set_new(o, "extra_profit", json_real(oq_reco_row_extra(w)));
    }
    return o;
}

/* An answer from the held table sn (the caller holds snap_lock). */
static void held(oq_serve *s, const snapshot *sn, reply *out)
{
    out->stale = 1;
    out->version = sn->version;
    out->age = sn->created > 0 ? oq_unix_now() - sn->created : -1;
    atomic_fetch_add_explicit(&s->stale_answers, 1, memory_order_relaxed);
}

/* A fresh answer: user u's entry js (NULL: unknown) of version v; frees js. */
static int recommend_row(reply *out, int64_t u, char *js, long long v)
{
    oq_error err = {0};
    oq_reco_row w;
    char ver[32];
    out->version = v;
    if (!js) return reply_error(out, 404, "unknown user %lld", (long long)u);
    snprintf(ver, sizeof ver, "%lld", v);
    int bad = oq_reco_row_from_json(js, u, &w, &err);
    free(js);
    if (bad) {
        fprintf(stderr, "offerq serve: version %lld: %s\n", v, err.msg);
        return reply_error(out, 500, "corrupt entry in the store for user %lld", (long long)u);
    }
    return reply_json(out, 200, row_json(&w, ver));
}

static int h_recommend(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                       reply *out)
{
    (void)conn, (void)rq;
    const char *id = path + strlen("/v1/recommend/");
    int64_t u;
    if (oq_parse_i64(id, strlen(id), &u))
        return reply_error(out, 400, "user_id must be an integer, got \"%.40s\"", id);
    if (s->reco) {
        const oq_reco_row *w = oq_reco_find(s->reco, u);
        if (!w) return reply_error(out, 404, "unknown user %lld", (long long)u);
        return reply_json(out, 200, row_json(w, s->version));
    }
    oq_error err = {0};
    long long v = 0;
    if (atomic_load(&s->redis_up)) {
        char *js = NULL;
        if (!lookup(s, u, &js, &v, &err)) {
            atomic_store_explicit(&s->m.redis_version, v, memory_order_relaxed);
            if (v) return recommend_row(out, u, js, v);
            /* nothing published: a Redis that restarted empty; the held table if any */
        } else {
            mark_down(s, err.msg);
        }
    }
    pthread_rwlock_rdlock(&s->snap_lock);
    const snapshot *sn = s->snap;
    int st;
    if (!sn) {
        st = v == 0 && atomic_load(&s->redis_up)
                 ? reply_error(out, 503, "nothing published yet")
                 : reply_error(out, 503, "recommendation store unavailable, try again later");
    } else {
        held(s, sn, out);
        const oq_reco_row *w = oq_reco_find(sn->reco, u);
        char ver[32];
        snprintf(ver, sizeof ver, "%lld", sn->version);
        st = w ? reply_json(out, 200, row_json(w, ver))
               : reply_error(out, 404, "unknown user %lld", (long long)u);
    }
    pthread_rwlock_unlock(&s->snap_lock);
    return st;
}

/* Parse the body as a JSON object; on failure fill a 400 reply. */
static json_t *body_object(request *rq, reply *out)
{
    json_error_t je;
    json_t *o = rq->body ? json_loadb(rq->body, rq->len, 0, &je) : NULL;
    if (!o) {
        if (rq->body)
            reply_error(out, 400, "bad JSON at line %d column %d: %s", je.line, je.column, je.text);
        else
            reply_error(out, 400, "empty body: expected a JSON object");
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        reply_error(out, 400, "expected a JSON object");
        return NULL;
    }
    return o;
}

/* A finite number field in [lo, hi]; on failure fill a 400 reply, return -1. */
static int num_field(json_t *o, const char *k, double lo, double hi, double *v, reply *out)
{
    json_t *f = json_object_get(o, k);
    if (!f) return reply_error(out, 400, "missing field \"%s\"", k), -1;
    if (!json_is_number(f)) return reply_error(out, 400, "field \"%s\" must be a number", k), -1;
    *v = json_number_value(f);
    if (!isfinite(*v) || *v < lo || *v > hi)
        return reply_error(out, 400, "field \"%s\" = %g is out of range [%g, %g]", k, *v, lo, hi),
               -1;
    return 0;
}

static int model_missing(reply *out, const char *model)
{
    return reply_json(out, 503,
                      json_pack("{s:s, s:s}", "error", "model not loaded", "model", model));
}

static int h_alive(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                   reply *out)
{
    (void)path, (void)conn;
    json_t *o = body_object(rq, out);
    if (!o) return out->status;
    double x, tx, T, t = -1;
    int bad = num_field(o, "x", 0, 1e7, &x, out) || num_field(o, "t_x", 0, 1e7, &tx, out) ||
              num_field(o, "T", 0, 1e7, &T, out) ||
              (json_object_get(o, "t") && num_field(o, "t", 0, 1e7, &t, out));
    json_decref(o);
    if (bad) return out->status;
    if (x != floor(x)) return reply_error(out, 400, "x must be a whole number of repeat purchases");
    if (!(T > 0)) return reply_error(out, 400, "T must be > 0");
    if (tx > T) return reply_error(out, 400, "t_x (%g) must not exceed T (%g)", tx, T);
    if (x == 0 && tx != 0) return reply_error(out, 400, "t_x must be 0 when x = 0");
    const oq_serve_models *m = &s->cfg.models;
    if (!m->p_alive || (t >= 0 && !m->expected)) return model_missing(out, "bgnbd");
    double p = m->p_alive(m->alive_ctx, x, tx, T), ex = 0;
    if (!(p >= 0 && p <= 1)) return reply_error(out, 500, "model returned %g", p);
    if (t >= 0 && (m->expected(m->alive_ctx, t, x, tx, T, &ex) || !(ex >= 0) || !isfinite(ex)))
        return reply_error(out, 500, "model could not compute the expected purchases in t = %g", t);
    json_t *r = json_pack("{s:f}", "p_alive", p);
    if (r && t >= 0) {
        json_object_set_new(r, "t", json_real(t));
        json_object_set_new(r, "expected_purchases", json_real(ex));
    }
    if (r && m->alive_unit_days > 0)
        json_object_set_new(r, "unit_days", json_real(m->alive_unit_days));
    return reply_json(out, 200, r);
}

static int h_profit(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                    reply *out)
{
    (void)path, (void)conn;
    json_t *o = body_object(rq, out);
    if (!o) return out->status;
    const char **seq = NULL;
    int st = 0;
    json_t *js = json_object_get(o, "sequence"), *jf = json_object_get(o, "features"),
           *jc = json_object_get(o, "coupon");
    double feat[OQ_SERVE_NFEAT];
    int coupon = -1;
    if (!js || !jf || !jc) {
        st = reply_error(out, 400, "missing field \"%s\"",
                         !js   ? "sequence"
                         : !jf ? "features"
                               : "coupon");
        goto cleanup;
    }
    size_t n = json_array_size(js);
    if (!json_is_array(js) || n < 1 || n > 4096) {
        st = reply_error(out, 400, "\"sequence\" must be an array of 1 to 4096 category names");
        goto cleanup;
    }
    if (!(seq = malloc(n * sizeof *seq))) {
        st = reply_error(out, 500, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        if (!(seq[i] = json_string_value(json_array_get(js, i))) || !seq[i][0]) {
            st = reply_error(out, 400, "\"sequence\"[%zu] must be a category name", i);
            goto cleanup;
        }
    if (!json_is_array(jf) || json_array_size(jf) != OQ_SERVE_NFEAT) {
        st = reply_error(out, 400, "\"features\" must be an array of %d numbers", OQ_SERVE_NFEAT);
        goto cleanup;
    }
    for (size_t i = 0; i < OQ_SERVE_NFEAT; i++) {
        json_t *f = json_array_get(jf, i);
        feat[i] = json_is_number(f) ? json_number_value(f) : NAN;
        if (!isfinite(feat[i])) {
            st = reply_error(out, 400, "\"features\"[%zu] must be a finite number", i);
            goto cleanup;
        }
    }
    if (feat[0] < 0 || feat[1] < 0 || feat[2] < 0 || feat[3] < 0 || feat[3] > 1 || feat[4] < 0) {
        st = reply_error(out, 400,
                         "\"features\" out of range: days, purchases, order value and "
                         "category must be >= 0, budget in [0, 1]");
        goto cleanup;
    }
    if (json_is_string(jc))
        coupon = oq_coupon_parse(json_string_value(jc));
    else if (json_is_number(jc))
        for (int k = 0; k < OQ_N_COUPONS; k++)
            if (json_number_value(jc) == oq_coupon_value(k)) coupon = k;
    if (coupon < 0) {
        st = reply_error(out, 400, "\"coupon\" must be one of 0, 5, 10, 20");
        goto cleanup;
    }
    if (!s->cfg.models.profit) {
        st = model_missing(out, "profit");
        goto cleanup;
    }
    char msg[256] = "";
    double r_hat = 0;
    int rc = s->cfg.models.profit(s->cfg.models.profit_ctx, seq, n, feat, coupon, &r_hat, msg,
                                  sizeof msg);
    if (rc)
        st = reply_error(out, rc == OQ_EINVAL ? 400 : 500, "%s", msg[0] ? msg : oq_strerror(rc));
    else
        st = reply_json(
            out, 200,
            json_pack("{s:f, s:f}", "r_hat", r_hat, "coupon_value", oq_coupon_value(coupon)));
cleanup:
    free(seq);
    json_decref(o);
    return st;
}

/* Value of query argument key: from libmicrohttpd (already %-decoded) when
 * there is a connection, else parsed from rq->query into buf (%XX and '+'
 * decoded; a value that does not fit is cut). NULL if absent. */
static const char *query_arg(struct MHD_Connection *conn, const request *rq, const char *key,
                             char *buf, size_t len)
{
    if (conn) return MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND, key);
    size_t kl = strlen(key);
    for (const char *p = rq->query; p && *p;) {
        size_t l = strcspn(p, "&");
        if (l >= kl && !strncmp(p, key, kl) && (l == kl || p[kl] == '=')) {
            const char *v = p + kl + (l > kl), *end = p + l;
            size_t n = 0;
            while (v < end && n + 1 < len) {
                int hi, lo;
                if (*v == '%' && end - v >= 3 && (hi = hexval(v[1])) >= 0 &&
                    (lo = hexval(v[2])) >= 0 && (hi || lo)) { /* %00 stays, as in unescape */
                    buf[n++] = (char)(hi * 16 + lo);
                    v += 3;
                } else {
                    buf[n++] = *v == '+' ? ' ' : *v;
                    v++;
                }
            }
            buf[n] = 0;
            return buf;
        }
        p += l + (p[l] == '&');
    }
    return NULL;
}

static int h_crosssell(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                       reply *out)
{
    (void)path;
    char ibuf[64], vbuf[16384];
    const char *item = query_arg(conn, rq, "item", ibuf, sizeof ibuf);
    const char *inv = query_arg(conn, rq, "inventory", vbuf, sizeof vbuf);
    if (!item || !inv)
        return reply_error(out, 400, "missing query parameter \"%s\"",
                           !item ? "item" : "inventory");
    if (!item[0] || strlen(item) > 255)
        return reply_error(out, 400, "item must be an item name (1 to 255 bytes)");
    long levels[1024];
    size_t n = 0;
    for (const char *p = inv; *p;) {
        size_t l = strcspn(p, ",");
        int64_t v;
        if (n == 1024 || l == 0 || oq_parse_i64(p, l, &v) || v < 0 || v > 1000000000)
            return reply_error(out, 400,
                               "inventory must be up to 1024 comma-separated integers >= 0");
        levels[n++] = (long)v;
        p += l + (p[l] == ',');
    }
    if (n == 0) return reply_error(out, 400, "inventory must not be empty");
    if (!s->cfg.models.crosssell) return model_missing(out, "crosssell");
    json_t *o = json_object();
    if (!o) return reply_error(out, 500, "out of memory");
    char msg[256] = "";
    int rc =
        s->cfg.models.crosssell(s->cfg.models.crosssell_ctx, item, levels, n, o, msg, sizeof msg);
    if (rc) {
        json_decref(o);
        return reply_error(out, rc == OQ_EINVAL ? 400 : 500, "%s", msg[0] ? msg : oq_strerror(rc));
    }
    return reply_json(out, 200, o);
}

static int h_healthz(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                     reply *out)
{
    (void)path, (void)conn, (void)rq;
    if (s->reco)
        return reply_json(out, 200,
                          json_pack("{s:s, s:s, s:s, s:I}", "status", "ok", "source", "dir",
                                    "version", s->version, "users", (json_int_t)s->reco->n));
    oq_error err = {0};
    long long v = 0;
    if (atomic_load(&s->redis_up)) {
        char *js = NULL;
        if (!lookup(s, 0, &js, &v, &err)) {
            free(js);
            atomic_store_explicit(&s->m.redis_version, v, memory_order_relaxed);
            char ver[32];
            snprintf(ver, sizeof ver, "%lld", v);
            out->version = v;
            if (v)
                return reply_json(out, 200,
                                  json_pack("{s:s, s:s, s:s}", "status", "ok", "source", "redis",
                                            "version", ver));
        } else {
            mark_down(s, err.msg);
        }
    }
    /* Redis away (or empty): still able to answer from the held table. */
    pthread_rwlock_rdlock(&s->snap_lock);
    const snapshot *sn = s->snap;
    int st;
    if (!sn) {
        st = reply_json(
            out, 503,
            json_pack("{s:s}", "status",
                      v == 0 && atomic_load(&s->redis_up) ? "nothing published" : "unavailable"));
    } else {
        held(s, sn, out);
        char ver[32];
        snprintf(ver, sizeof ver, "%lld", sn->version);
        json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:I}", "status", "stale", "source", "redis",
                              "redis", atomic_load(&s->redis_up) ? "empty" : "unreachable",
                              "version", ver, "users", (json_int_t)sn->reco->n);
        if (o && out->age >= 0) json_object_set_new(o, "table_age_s", json_real(round(out->age)));
        st = reply_json(out, 200, o);
    }
    pthread_rwlock_unlock(&s->snap_lock);
    return st;
}

/* Append printf output to a growing buffer. */
typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_printf(sbuf *b, const char *fmt, ...) OQ_PRINTF(2, 3);
static void sb_printf(sbuf *b, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int k =
            b->oom ? 0 : vsnprintf(b->p ? b->p + b->n : NULL, b->p ? b->cap - b->n : 0, fmt, ap);
        va_end(ap);
        if (b->oom || k < 0) return;
        if (b->p && (size_t)k < b->cap - b->n) {
            b->n += (size_t)k;
            return;
        }
        size_t cap = (b->cap ? b->cap * 2 : 8192) + (size_t)k;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
}

/* One sample: name{labels} value, the value in the shortest form that
 * reads back exactly. */
static void sample(sbuf *b, const char *name, const char *labels, double v)
{
    char num[OQ_DBL_BUF];
    oq_fmt_double(v, num);
    sb_printf(b, "%s%s%s%s %s\n", name, labels ? "{" : "", labels ? labels : "", labels ? "}" : "",
              num);
}

static void family(sbuf *b, const char *name, const char *type, const char *help)
{
    sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* A number at key of object o; NAN if absent or not a number. */
static double num_at(const json_t *o, const char *key)
{
    const json_t *v = json_object_get(o, key);
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* A JSON key usable as a label value as it is (report.json is a published
 * file: anything else is skipped rather than escaped). */
static int plain_label(const char *k)
{
    size_t n = strlen(k);
    return n > 0 && n < 64 &&
           strspn(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                     "0123456789_.-") == n;
}

/* offerq_run_*: the run whose table is served, from its report.json (text;
 * NULL or not JSON: nothing). Only runs that completed are ever published or
 * served, so these describe the last successful run; a failed night shows as
 * offerq_run_end_timestamp_seconds (and offerq_table_age_seconds) growing. */
static void run_metrics(sbuf *b, const char *report_text)
{
    json_t *r = report_text ? json_loads(report_text, 0, NULL) : NULL;
    if (!json_is_object(r)) {
        json_decref(r);
        return;
    }
    const json_t *run = json_object_get(r, "run"), *plan = json_object_get(r, "plan"),
                 *t = json_object_get(r, "timings_s"), *cp = json_object_get(plan, "coupons");
    double v;
    const char *k;
    json_t *x;
    char lab[128];
    if (isfinite(v = num_at(run, "started_at"))) {
        family(b, "offerq_run_start_timestamp_seconds", "gauge",
               "When the run whose table is served began (Unix time).");
        sample(b, "offerq_run_start_timestamp_seconds", NULL, v);
    }
    if (isfinite(v = num_at(run, "finished_at"))) {
        family(b, "offerq_run_end_timestamp_seconds", "gauge",
               "When the run whose table is served ended (Unix time; only successful runs "
               "are served).");
        sample(b, "offerq_run_end_timestamp_seconds", NULL, v);
        family(b, "offerq_run_success", "gauge",
               "1: the served table comes from a run that completed (failed runs are never "
               "published).");
        sample(b, "offerq_run_success", NULL, 1);
    }
    if (json_is_object(t)) {
        family(b, "offerq_run_stage_seconds", "gauge", "Seconds each stage of the run took.");
        json_object_foreach((json_t *)t, k, x) if (json_is_number(x) && plain_label(k))
        {
            snprintf(lab, sizeof lab, "stage=\"%s\"", k);
            sample(b, "offerq_run_stage_seconds", lab, json_number_value(x));
        }
    }
    if (isfinite(v = num_at(run, "log_rows"))) {
        family(b, "offerq_run_log_rows", "gauge", "Rows of the customer log the run read.");
        sample(b, "offerq_run_log_rows", NULL, v);
    }
    if (isfinite(v = num_at(plan, "customers"))) {
        family(b, "offerq_run_customers", "gauge", "Customers in the run's plan.");
        sample(b, "offerq_run_customers", NULL, v);
    }
    if (json_is_object(cp)) {
        family(b, "offerq_run_coupons", "gauge", "Customers offered each coupon in the plan.");
        json_object_foreach((json_t *)cp, k, x) if (json_is_number(x) && plain_label(k))
        {
            snprintf(lab, sizeof lab, "coupon=\"%s\"", k);
            sample(b, "offerq_run_coupons", lab, json_number_value(x));
        }
    }
    double budget = num_at(plan, "budget"), spend = num_at(plan, "expected_spend");
    if (isfinite(budget)) {
        family(b, "offerq_run_budget", "gauge", "The run's coupon budget (absent: unlimited).");
        sample(b, "offerq_run_budget", NULL, budget);
    }
    if (isfinite(spend)) {
        family(b, "offerq_run_expected_spend", "gauge",
               "Expected coupon spend of the plan (sum of P(order | coupon) x coupon).");
        sample(b, "offerq_run_expected_spend", NULL, spend);
    }
    if (isfinite(spend) && isfinite(budget) && budget > 0) {
        family(b, "offerq_run_budget_used_ratio", "gauge", "Expected spend / budget.");
        sample(b, "offerq_run_budget_used_ratio", NULL, spend / budget);
    }
    json_decref(r);
}

/* offerq_table_*: the table being served (and, with --redis, held for outages). */
static void table_metrics(oq_serve *s, sbuf *b)
{
    if (s->reco) {
        family(b, "offerq_table_users", "gauge", "Rows of the table being served.");
        sample(b, "offerq_table_users", NULL, (double)s->reco->n);
        if (s->published > 0) {
            family(b, "offerq_table_age_seconds", "gauge",
                   "Seconds since the served table was written (--dir) or published (--redis).");
            sample(b, "offerq_table_age_seconds", NULL, oq_unix_now() - s->published);
        }
        run_metrics(b, s->report_text);
        return;
    }
    int up = atomic_load(&s->redis_up);
    family(b, "offerq_table_redis_up", "gauge",
           "1 while Redis answers, 0 while answers come from the table held in memory.");
    sample(b, "offerq_table_redis_up", NULL, up);
    family(b, "offerq_table_stale_answers_total", "counter",
           "Answers given from the held table while Redis was away or empty.");
    sample(b, "offerq_table_stale_answers_total", NULL, (double)atomic_load(&s->stale_answers));
    family(b, "offerq_table_dashboard_builds_total", "counter",
           "Dashboard documents built: one per version held, however many requests read it.");
    sample(b, "offerq_table_dashboard_builds_total", NULL, (double)atomic_load(&s->dash_builds));
    pthread_rwlock_rdlock(&s->snap_lock);
    const snapshot *sn = s->snap;
    family(b, "offerq_table_held_version", "gauge",
           "Version of the table held in memory for Redis outages (0: none).");
    sample(b, "offerq_table_held_version", NULL, sn ? (double)sn->version : 0);
    if (sn) {
        family(b, "offerq_table_users", "gauge", "Rows of the table being served.");
        sample(b, "offerq_table_users", NULL, (double)sn->reco->n);
        if (sn->created > 0) {
            family(b, "offerq_table_age_seconds", "gauge",
                   "Seconds since the served table was written (--dir) or published (--redis).");
            sample(b, "offerq_table_age_seconds", NULL, oq_unix_now() - sn->created);
        }
        json_t *f = json_loads(sn->files, 0, NULL);
        run_metrics(b, json_string_value(json_object_get(f, "report.json")));
        json_decref(f);
    }
    pthread_rwlock_unlock(&s->snap_lock);
}

/* The last night's status file (cfg.nightly_status), reduced to the fields
 * a dashboard or a monitor needs, or NULL (no file, unreadable, not JSON). */
static json_t *nightly_status(const oq_serve *s)
{
    if (!s->cfg.nightly_status) return NULL;
    char *text = NULL;
    size_t len = 0;
    oq_error err = {0};
    if (oq_read_file(s->cfg.nightly_status, 1u << 20, &text, &len, &err)) return NULL;
    json_t *st = json_loadb(text, len, 0, NULL), *out = NULL;
    free(text);
    if (json_is_object(st) && json_is_string(json_object_get(st, "status"))) {
        static const char *const keep[] = {"status",        "run_id",   "exit_code",  "exit_class",
                                           "failed_stage",  "error",    "started_at", "finished_at",
                                           "total_seconds", "log_rows", "customers",  "version"};
        out = json_object();
        for (size_t k = 0; out && k < sizeof keep / sizeof *keep; k++) {
            json_t *v = json_object_get(st, keep[k]);
            if (v) json_object_set(out, keep[k], v);
        }
        json_t *fin = json_object_get(out, "finished_at");
        if (json_is_number(fin))
            json_object_set_new(out, "age_seconds",
                                json_real(oq_unix_now() - json_number_value(fin)));
    }
    json_decref(st);
    return out;
}

static int h_nightly(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                     reply *out)
{
    (void)path, (void)conn, (void)rq;
    json_t *st = nightly_status(s);
    if (!st)
        return reply_error(out, 404, "%s",
                           s->cfg.nightly_status
                               ? "no status of offerq nightly (not written yet, or not JSON)"
                               : "no status file of offerq nightly was given (--nightly-status)");
    return reply_json(out, 200, st);
}

/* offerq_nightly_*: the last night, from its status file. */
static void nightly_metrics(const oq_serve *s, sbuf *b)
{
    json_t *st = nightly_status(s);
    if (!st) return;
    int ok = !strcmp(json_string_value(json_object_get(st, "status")), "ok");
    const char *stage = json_string_value(json_object_get(st, "failed_stage"));
    family(b, "offerq_nightly_last_success", "gauge",
           "1 if the last offerq nightly completed, 0 if it failed (label: the stage).");
    if (ok || !stage)
        sample(b, "offerq_nightly_last_success", NULL, ok);
    else {
        char lab[96];
        snprintf(lab, sizeof lab, "stage=\"%.40s\"", stage);
        for (char *c = lab + 7; *c && c[1]; c++)
            if (!isalnum((unsigned char)*c) && *c != '_') *c = '_';
        sample(b, "offerq_nightly_last_success", lab, 0);
    }
    json_t *v = json_object_get(st, "exit_code");
    if (json_is_integer(v)) {
        family(b, "offerq_nightly_last_exit_code", "gauge",
               "Exit code of the last offerq nightly (0 ok; 3-8 the failure class).");
        sample(b, "offerq_nightly_last_exit_code", NULL, (double)json_integer_value(v));
    }
    if (json_is_number(v = json_object_get(st, "finished_at"))) {
        family(b, "offerq_nightly_last_end_timestamp_seconds", "gauge",
               "Unix time the last offerq nightly ended (alert when it grows old).");
        sample(b, "offerq_nightly_last_end_timestamp_seconds", NULL, json_number_value(v));
    }
    if (json_is_integer(v = json_object_get(st, "run_id"))) {
        family(b, "offerq_nightly_last_run_id", "gauge", "Run id of the last offerq nightly.");
        sample(b, "offerq_nightly_last_run_id", NULL, (double)json_integer_value(v));
    }
    json_decref(st);
}

static int h_metrics(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                     reply *out)
{
    (void)path, (void)conn, (void)rq;
    sbuf b = {0};
    metrics *m = &s->m;
    sb_printf(&b, "# HELP offerq_http_requests_total HTTP requests by endpoint and status code.\n"
                  "# TYPE offerq_http_requests_total counter\n");
    for (int e = 0; e < N_EP; e++)
        for (size_t k = 0; k < N_CODE; k++) {
            unsigned long long v = atomic_load(&m->count[e][k]);
            if (!v) continue;
            if (k < N_CODE - 1)
                sb_printf(&b, "offerq_http_requests_total{endpoint=\"%s\",code=\"%d\"} %llu\n",
                          ep_name[e], codes[k], v);
            else
                sb_printf(&b, "offerq_http_requests_total{endpoint=\"%s\",code=\"other\"} %llu\n",
                          ep_name[e], v);
        }
    sb_printf(&b, "# HELP offerq_http_request_duration_seconds Time from request to reply.\n"
                  "# TYPE offerq_http_request_duration_seconds histogram\n");
    for (int e = 0; e < N_EP; e++) {
        unsigned long long cum = 0;
        for (size_t k = 0; k <= N_BUCKET; k++)
            cum += atomic_load(&m->hist[e][k]);
        if (!cum) continue;
        unsigned long long total = cum;
        cum = 0;
        for (size_t k = 0; k < N_BUCKET; k++) {
            cum += atomic_load(&m->hist[e][k]);
            sb_printf(
                &b, "offerq_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"%g\"} %llu\n",
                ep_name[e], buckets[k], cum);
        }
        sb_printf(&b,
                  "offerq_http_request_duration_seconds_bucket{endpoint=\"%s\",le=\"+Inf\"} %llu\n",
                  ep_name[e], total);
        sb_printf(&b, "offerq_http_request_duration_seconds_sum{endpoint=\"%s\"} %.9f\n",
                  ep_name[e], (double)atomic_load(&m->sum_ns[e]) * 1e-9);
        sb_printf(&b, "offerq_http_request_duration_seconds_count{endpoint=\"%s\"} %llu\n",
                  ep_name[e], total);
    }
    char ver[32];
    if (s->reco)
        snprintf(ver, sizeof ver, "%s", s->version);
    else
        snprintf(ver, sizeof ver, "%lld", (long long)atomic_load(&m->redis_version));
    sb_printf(&b,
              "# HELP offerq_model_info Version of the list being served (Redis: last seen).\n"
              "# TYPE offerq_model_info gauge\n"
              "offerq_model_info{version=\"%s\",source=\"%s\"} 1\n",
              ver, s->reco ? "dir" : "redis");
    table_metrics(s, &b);
    nightly_metrics(s, &b);
    sb_printf(&b,
              "# HELP offerq_models_loaded Model endpoints that are wired (1) or not (0).\n"
              "# TYPE offerq_models_loaded gauge\n"
              "offerq_models_loaded{model=\"bgnbd\"} %d\n"
              "offerq_models_loaded{model=\"profit\"} %d\n"
              "offerq_models_loaded{model=\"crosssell\"} %d\n",
              s->cfg.models.p_alive != NULL, s->cfg.models.profit != NULL,
              s->cfg.models.crosssell != NULL);
    if (b.oom) {
        free(b.p);
        return reply_error(out, 500, "out of memory");
    }
    out->status = 200;
    out->body = b.p;
    out->type = "text/plain; version=0.0.4; charset=utf-8";
    return 200;
}

static int h_dashboard(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                       reply *out)
{
    (void)s, (void)path, (void)conn, (void)rq;
    out->status = 200;
    out->static_body = oq_serve_dashboard_html;
    out->type = "text/html; charset=utf-8";
    return 200;
}

/* The dashboard data of the held table, built once by the keeper. stale: 1
 * when Redis is away or empty, or its current version is not held yet. */
static int dashjson_held(oq_serve *s, reply *out, int stale)
{
    pthread_rwlock_rdlock(&s->snap_lock);
    const snapshot *sn = s->snap;
    int st;
    if (!sn) {
        st = atomic_load(&s->redis_up)
                 ? reply_error(out, 503, "nothing published yet")
                 : reply_error(out, 503, "recommendation store unavailable, try again later");
    } else if (!sn->dash) {
        st = sn->reco->n > DASH_MAX_USERS
                 ? reply_error(out, 503, "list has %zu users, more than %d", sn->reco->n,
                               DASH_MAX_USERS)
                 : reply_error(out, 500, "out of memory");
    } else {
        if (stale) held(s, sn, out);
        out->version = sn->version;
        out->shared = body_ref(sn->dash);
        out->status = 200;
        out->type = "application/json";
        st = 200;
    }
    pthread_rwlock_unlock(&s->snap_lock);
    return st;
}

/* Wake the keeper now (a new version to hold), not at its next poll. */
static void keeper_nudge(oq_serve *s)
{
    pthread_mutex_lock(&s->keep_mu);
    s->nudged = 1;
    pthread_cond_signal(&s->keep_cv);
    pthread_mutex_unlock(&s->keep_mu);
}

/* --dir: built at start. --redis: one GET of the current version, then the
 * document the keeper built for the version it holds. A version published
 * since is answered from the held one, flagged stale, while the keeper is
 * woken to read it: no request ever builds the document, so many clients of
 * the dashboard cost one copy of it, not one each. */
static int h_dashjson(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                      reply *out)
{
    (void)path, (void)conn, (void)rq;
    if (s->dash_json) {
        out->status = 200;
        out->static_body = s->dash_json;
        out->type = "application/json";
        return 200;
    }
    oq_error err = {0};
    if (!atomic_load(&s->redis_up)) return dashjson_held(s, out, 1);
    oq_redis *c = thread_redis(s, &err);
    long long v = 0;
    if (!c || oq_redis_current(c, s->cfg.redis_prefix, &v, &err)) {
        if (c) drop_redis(s);
        mark_down(s, err.msg);
        return dashjson_held(s, out, 1);
    }
    if (!v) return dashjson_held(s, out, 1); /* a Redis that restarted empty */
    long long have = held_version(s);
    if (have != v) keeper_nudge(s);
    return dashjson_held(s, out, have != v);
}

static int h_files(oq_serve *s, const char *path, struct MHD_Connection *conn, request *rq,
                   reply *out)
{
    (void)conn, (void)rq;
    const char *name = path + strlen("/v1/files/");
    for (int i = 0; i < s->n_svgs; i++)
        if (!strcmp(name, s->svgs[i])) {
            char p[8192], *text;
            size_t len;
            oq_error err = {0};
            snprintf(p, sizeof p, "%s/%s", s->run_dir, name);
            if (oq_read_file(p, 16u << 20, &text, &len, &err))
                return reply_error(out, 404, "%s", err.msg);
            out->status = 200;
            out->body = text;
            out->type = "image/svg+xml";
            return 200;
        }
    return reply_error(out, 404, "no such file");
}

typedef struct route {
    const char *method;
    const char *path;
    int prefix; /* 1: path is a prefix (rest is the argument) */
    int ep;
    handler_fn fn;
} route;

/* Wiring a model endpoint is filling its function in oq_serve_models; the
 * routes themselves never change. */
static const route routes[] = {
    {"GET", "/v1/recommend/", 1, EP_RECOMMEND, h_recommend},
    {"POST", "/v1/alive", 0, EP_ALIVE, h_alive},
    {"POST", "/v1/profit", 0, EP_PROFIT, h_profit},
    {"GET", "/v1/crosssell", 0, EP_CROSSSELL, h_crosssell},
    {"GET", "/v1/dashboard.json", 0, EP_DASHJSON, h_dashjson},
    {"GET", "/v1/files/", 1, EP_FILES, h_files},
    {"GET", "/v1/nightly.json", 0, EP_NIGHTLY, h_nightly},
    {"GET", "/healthz", 0, EP_HEALTHZ, h_healthz},
    {"GET", "/metrics", 0, EP_METRICS, h_metrics},
    {"GET", "/", 0, EP_DASHBOARD, h_dashboard},
};
#define N_ROUTES (sizeof routes / sizeof *routes)

static int path_match(const route *r, const char *path)
{
    return r->prefix ? !strncmp(path, r->path, strlen(r->path)) : !strcmp(path, r->path);
}

static int dispatch(oq_serve *s, struct MHD_Connection *conn, const char *method, const char *path,
                    request *rq, reply *out, int *ep)
{
    *ep = EP_OTHER;
    const route *hit = NULL;
    for (size_t i = 0; i < N_ROUTES; i++)
        if (path_match(&routes[i], path)) {
            *ep = routes[i].ep;
            if (!strcmp(method, routes[i].method) ||
                (!strcmp(method, "HEAD") && !strcmp(routes[i].method, "GET"))) {
                hit = &routes[i];
                break;
            }
            out->allow = routes[i].method;
        }
    if (!hit) {
        if (out->allow)
            return reply_error(out, 405, "method %s not allowed on %s (use %s)", method, path,
                               out->allow);
        return reply_error(out, 404, "no such endpoint %.100s", path);
    }
    if (rq->too_big) return reply_error(out, 413, "request body over %zu bytes", s->cfg.max_body);
    return hit->fn(s, path, conn, rq, out);
}

/* ---- slow clients, URL decoding, libmicrohttpd's log ------------------------------ */

static conn_slot *conn_slot_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* Connection opened / closed: add or drop its slot. libmicrohttpd calls
 * CLOSED before it closes the socket, so a slot's fd is valid while listed. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code)
{
    oq_serve *s = cls;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        const union MHD_ConnectionInfo *ci =
            MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        conn_slot *slot = ci ? calloc(1, sizeof *slot) : NULL;
        *socket_context = slot;
        if (!slot) return; /* untracked: only the idle timeout applies */
        slot->fd = ci->connect_fd;
        slot->since = oq_now();
        pthread_mutex_lock(&s->mu);
        slot->next = s->conns;
        if (s->conns) s->conns->prev = slot;
        s->conns = slot;
        pthread_mutex_unlock(&s->mu);
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        conn_slot *slot = *socket_context;
        if (!slot) return;
        pthread_mutex_lock(&s->mu);
        if (slot->prev)
            slot->prev->next = slot->next;
        else
            s->conns = slot->next;
        if (slot->next) slot->next->prev = slot->prev;
        pthread_mutex_unlock(&s->mu);
        free(slot);
        *socket_context = NULL;
    }
}

/* Every REAP_POLL_MS: shut down the socket of each connection whose request
 * has been arriving for longer than request_timeout_s (libmicrohttpd then
 * reads end-of-file and closes it; the fd itself stays libmicrohttpd's). */
static void *reaper_main(void *arg)
{
    oq_serve *s = arg;
    double limit = (double)s->cfg.request_timeout_s;
    pthread_mutex_lock(&s->mu);
    while (!s->reap_stop) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += REAP_POLL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        pthread_cond_timedwait(&s->reap_cv, &s->mu, &ts);
        double now = oq_now();
        for (conn_slot *c = s->conns; c; c = c->next)
            if (!c->answering && !c->cut && now - c->since > limit) {
                shutdown(c->fd, SHUT_RDWR);
                c->cut = 1;
                atomic_fetch_add_explicit(&s->slow_closed, 1, memory_order_relaxed);
            }
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* libmicrohttpd's URL and argument decoding, except that %00 stays as the
 * three characters "%00": a decoded NUL would end the C string, so
 * /v1/recommend/1%00 would read as /v1/recommend/1. Returns the new length. */
static size_t unescape(void *cls, struct MHD_Connection *conn, char *str)
{
    (void)cls, (void)conn;
    char *w = str;
    for (const char *r = str; *r;) {
        int hi, lo;
        if (r[0] == '%' && (hi = hexval(r[1])) >= 0 && (lo = hexval(r[2])) >= 0 && (hi || lo)) {
            *w++ = (char)(hi * 16 + lo);
            r += 3;
        } else {
            *w++ = *r++;
        }
    }
    *w = 0;
    return (size_t)(w - str);
}

/* libmicrohttpd's log (one line per malformed request or refused connection):
 * at most one line per second on stderr; the next line written says how many
 * were suppressed before it. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    oq_serve *s = cls;
    char line[512];
    double now = oq_now();
    pthread_mutex_lock(&s->mu);
    if (s->log_last > 0 && now - s->log_last < 1.0) {
        s->log_dropped++;
        pthread_mutex_unlock(&s->mu);
        return;
    }
    unsigned long dropped = s->log_dropped;
    s->log_dropped = 0;
    s->log_last = now;
    pthread_mutex_unlock(&s->mu);
    vsnprintf(line, sizeof line, fmt, ap);
    size_t n = strlen(line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = 0;
    if (dropped)
        fprintf(stderr, "offerq serve: libmicrohttpd: %s (%lu similar lines suppressed before)\n",
                line, dropped);
    else
        fprintf(stderr, "offerq serve: libmicrohttpd: %s\n", line);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    oq_serve *s = cls;
    request *rq = *con_cls;
    if (!rq) {
        /* First call: headers only. */
        if (!(rq = calloc(1, sizeof *rq))) return MHD_NO;
        rq->t0 = oq_now();
        *con_cls = rq;
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > s->cfg.max_body) rq->too_big = 1;
        return MHD_YES;
    }
    if (*upload_data_size) {
        /* A chunk of body: keep it unless over the limit (then drain it). */
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (rq->too_big || rq->len + n > s->cfg.max_body) {
            rq->too_big = 1;
            return MHD_YES;
        }
        if (rq->len + n + 1 > rq->cap) {
            size_t cap = rq->cap ? rq->cap : 1024;
            while (cap < rq->len + n + 1)
                cap *= 2;
            char *p = realloc(rq->body, cap);
            if (!p) return MHD_NO;
            rq->body = p;
            rq->cap = cap;
        }
        memcpy(rq->body + rq->len, upload_data, n);
        rq->len += n;
        rq->body[rq->len] = 0;
        return MHD_YES;
    }
    conn_slot *slot = conn_slot_of(conn);
    if (slot) {
        pthread_mutex_lock(&s->mu);
        slot->answering = 1;
        pthread_mutex_unlock(&s->mu);
    }
    reply out = {0};
    int ep;
    dispatch(s, conn, method, url, rq, &out, &ep);
    struct MHD_Response *resp;
    if (out.shared)
        resp = MHD_create_response_from_buffer_with_free_callback_cls(
            out.shared->len, out.shared->text, body_unref, out.shared);
    else if (out.static_body)
        resp = MHD_create_response_from_buffer(strlen(out.static_body), (void *)out.static_body,
                                               MHD_RESPMEM_PERSISTENT);
    else
        resp = MHD_create_response_from_buffer(out.body ? strlen(out.body) : 0, out.body,
                                               MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(out.body);
        body_unref(out.shared);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", out.type ? out.type : "application/json");
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (out.status == 405 && out.allow) MHD_add_response_header(resp, "Allow", out.allow);
    if (out.version > 0) {
        char h[32];
        snprintf(h, sizeof h, "%lld", out.version);
        MHD_add_response_header(resp, "X-Offerq-Version", h);
    }
    if (out.stale) {
        char h[32];
        MHD_add_response_header(resp, "X-Offerq-Stale", "1");
        if (out.age >= 0) {
            snprintf(h, sizeof h, "%.0f", out.age);
            MHD_add_response_header(resp, "X-Offerq-Table-Age", h);
        }
    }
    enum MHD_Result r = MHD_queue_response(conn, (unsigned)out.status, resp);
    MHD_destroy_response(resp);
    observe(&s->m, ep, out.status, oq_now() - rq->t0);
    return r;
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)toe;
    oq_serve *s = cls;
    conn_slot *slot = conn_slot_of(conn);
    if (slot) { /* the next request on this connection starts its clock now */
        pthread_mutex_lock(&s->mu);
        slot->answering = 0;
        slot->since = oq_now();
        pthread_mutex_unlock(&s->mu);
    }
    request *rq = *con_cls;
    if (rq) {
        free(rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

/* ---- start / stop ---------------------------------------------------------------- */

/* The report.json of the run before run_dir in its runs folder (names
 * sort by sequence number: the greatest name below run_dir's), or NULL. */
static char *previous_report_dir(const char *run_dir)
{
    char parent[4096], best[256] = "", path[8192];
    const char *slash = strrchr(run_dir, '/');
    if (!slash || (size_t)(slash - run_dir) >= sizeof parent) return NULL;
    memcpy(parent, run_dir, (size_t)(slash - run_dir));
    parent[slash - run_dir] = 0;
    const char *self = slash + 1;
    DIR *d = opendir(parent);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9' || strlen(e->d_name) >= sizeof best) continue;
        if (strcmp(e->d_name, self) < 0 && strcmp(e->d_name, best) > 0)
            snprintf(best, sizeof best, "%s", e->d_name);
    }
    if (d) closedir(d);
    if (!best[0]) return NULL;
    snprintf(path, sizeof path, "%s/%s/report.json", parent, best);
    char *text = NULL;
    size_t len;
    if (!oq_file_exists(path) || oq_read_file(path, 16u << 20, &text, &len, NULL)) return NULL;
    return text;
}

static int load_dir(oq_serve *s, oq_error *err)
{
    char path[8192], *text = NULL;
    size_t len;
    /* DIR may be a link that the next run switches (io.h): every file comes
     * from the run it points at now. */
    int rc = oq_rundir_resolve(s->cfg.dir, s->run_dir, sizeof s->run_dir, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s", s->run_dir, OQ_RECO_FILE);
    if ((rc = oq_reco_read(path, &s->reco, err))) return rc;
    if (rc) return rc;
    if ((rc = oq_read_file(path, (size_t)4 << 30, &text, &len, err))) return rc;
    snprintf(s->version, sizeof s->version, "dir-%08x", oq_crc32(0, text, len));
    free(text);
    /* Side files the dashboard shows when present. */
    json_t *files = json_object();
    static const char *side[] = {"report.json", "eval.json", "crosssell.json"};
    for (size_t i = 0; files && i < sizeof side / sizeof *side; i++) {
        snprintf(path, sizeof path, "%s/%s", s->run_dir, side[i]);
        if (!oq_file_exists(path) || oq_read_file(path, 16u << 20, &text, &len, NULL)) continue;
        json_object_set_new(files, side[i], json_string(text));
        if (!strcmp(side[i], "report.json") && !s->report_text)
            s->report_text = text;
        else
            free(text);
    }
    char *prev = previous_report_dir(s->run_dir);
    if (files && prev) json_object_set_new(files, OQ_DASH_PREVIOUS, json_string(prev));
    free(prev);
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", s->run_dir, OQ_RECO_FILE);
    if (!stat(path, &st)) s->published = (double)st.st_mtime;
    DIR *d = opendir(s->run_dir);
    struct dirent *e;
    while (d && (e = readdir(d)) && s->n_svgs < MAX_SVGS) {
        size_t l = strlen(e->d_name);
        int ok = l > 4 && l < sizeof s->svgs[0] && !strcmp(e->d_name + l - 4, ".svg") &&
                 e->d_name[0] != '.';
        for (size_t k = 0; ok && k < l; k++)
            ok = e->d_name[k] != '/';
        if (ok) snprintf(s->svgs[s->n_svgs++], sizeof s->svgs[0], "%s", e->d_name);
    }
    if (d) closedir(d);
    char *ftxt = files ? json_dumps(files, JSON_COMPACT) : NULL;
    json_decref(files);
    const char *names[MAX_SVGS];
    for (int i = 0; i < s->n_svgs; i++)
        names[i] = s->svgs[i];
    s->dash_json =
        ftxt ? oq_serve_dashboard_json(s->reco, s->version, ftxt, names, (size_t)s->n_svgs) : NULL;
    free(ftxt);
    if (!s->dash_json) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    return 0;
}

int oq_serve_load(const oq_serve_config *cfg, oq_serve **out, oq_error *err)
{
    *out = NULL;
    if (!!cfg->redis_url == !!cfg->dir)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "give exactly one of a Redis URL or a DIR");
    oq_serve *s = calloc(1, sizeof *s);
    if (!s) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    s->cfg = *cfg;
    if (!s->cfg.threads) s->cfg.threads = 2;
    if (!s->cfg.max_connections) s->cfg.max_connections = 512;
    if (!s->cfg.max_body) s->cfg.max_body = 64 * 1024;
    if (!s->cfg.timeout_s) s->cfg.timeout_s = 15;
    if (!s->cfg.request_timeout_s) s->cfg.request_timeout_s = 10;
    if (!s->cfg.max_per_ip) s->cfg.max_per_ip = 64;
    if (!s->cfg.bind) s->cfg.bind = "127.0.0.1";
    /* A request waits at most this for Redis (a frozen server is a 503, not a
     * blocked worker): shorter than the command default of publish. */
    if (s->cfg.redis_timeout_ms <= 0) s->cfg.redis_timeout_ms = 1000;
    int rc = 0;
    if (cfg->dir) {
        if ((rc = load_dir(s, err))) goto fail;
    } else {
        if (pthread_key_create(&s->redis_key, free_redis)) {
            rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "pthread_key_create failed");
            goto fail;
        }
        s->have_key = 1;
        if (pthread_rwlock_init(&s->snap_lock, NULL)) {
            rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "pthread_rwlock_init failed");
            goto fail;
        }
        pthread_condattr_t ca;
        int cond_ok = !pthread_condattr_init(&ca) &&
                      !pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) &&
                      !pthread_cond_init(&s->keep_cv, &ca);
        pthread_condattr_destroy(&ca);
        if (!cond_ok || pthread_mutex_init(&s->keep_mu, NULL)) {
            if (cond_ok) pthread_cond_destroy(&s->keep_cv);
            pthread_rwlock_destroy(&s->snap_lock);
            rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "cannot create the keeper's lock");
            goto fail;
        }
        s->have_sync = 1;
        oq_redis *c; /* fail early if Redis is not there */
        if ((rc = oq_redis_open(cfg->redis_url, s->cfg.redis_timeout_ms, &c, err))) goto fail;
        /* The current table held before the first request (then the keeper). */
        atomic_store(&s->redis_up, 1);
        (void)keep_refresh(s, &c);
        oq_redis_free(c);
        if (pthread_create(&s->keeper, NULL, keeper_main, s)) {
            rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "cannot start the keeper thread");
            goto fail;
        }
        s->have_keeper = 1;
    }
    *out = s;
    return 0;
fail:
    oq_serve_stop(s);
    return rc;
}

int oq_serve_handle(oq_serve *s, const char *method, const char *path, const char *query,
                    const char *body, size_t len, char **resp, const char **type)
{
    request rq = {0};
    reply out = {0};
    int ep;
    *resp = NULL;
    rq.t0 = oq_now();
    rq.query = query;
    if (len > s->cfg.max_body) {
        rq.too_big = 1;
    } else if (body) {
        /* As on_request keeps it: a NUL-terminated copy. */
        if (!(rq.body = malloc(len + 1))) return -1;
        memcpy(rq.body, body, len);
        rq.body[len] = 0;
        rq.len = rq.cap = len;
    }
    dispatch(s, NULL, method, path, &rq, &out, &ep);
    free(rq.body);
    observe(&s->m, ep, out.status, oq_now() - rq.t0);
    *type = out.type ? out.type : "application/json";
    if (out.shared) {
        *resp = strdup(out.shared->text);
        body_unref(out.shared);
        if (!*resp) return -1;
    } else if (out.static_body) {
        *resp = strdup(out.static_body);
        if (!*resp) return -1;
    } else {
        *resp = out.body;
    }
    return out.status;
}

int oq_serve_start(const oq_serve_config *cfg, oq_serve **out, oq_error *err)
{
    oq_serve *s = NULL;
    int rc = oq_serve_load(cfg, &s, err);
    *out = NULL;
    if (rc || !s) return rc ? rc : OQ_ENOMEM;
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)cfg->port);
    if (inet_pton(AF_INET, s->cfg.bind, &sa.sin_addr) != 1) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "bad bind address '%s'", s->cfg.bind);
        goto fail;
    }
    pthread_condattr_t ca;
    int cond_ok = !pthread_condattr_init(&ca) && !pthread_condattr_setclock(&ca, CLOCK_MONOTONIC) &&
                  !pthread_cond_init(&s->reap_cv, &ca);
    pthread_condattr_destroy(&ca);
    if (!cond_ok || pthread_mutex_init(&s->mu, NULL)) {
        if (cond_ok) pthread_cond_destroy(&s->reap_cv);
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "cannot create the reaper's lock");
        goto fail;
    }
    s->have_mu = 1;
    errno = 0;
    s->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG, (uint16_t)cfg->port,
        NULL, NULL, on_request, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s, MHD_OPTION_SOCK_ADDR,
        (struct sockaddr *)&sa, MHD_OPTION_THREAD_POOL_SIZE, s->cfg.threads,
        MHD_OPTION_CONNECTION_LIMIT, s->cfg.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        s->cfg.max_per_ip, MHD_OPTION_CONNECTION_TIMEOUT, s->cfg.timeout_s,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)128 * 1024, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s,
        MHD_OPTION_UNESCAPE_CALLBACK, unescape, s, MHD_OPTION_END);
    /* No MHD_OPTION_LISTENING_ADDRESS_REUSE: on Linux it sets SO_REUSEPORT and
     * a second server on the port would start and take half the connections.
     * Without it MHD sets SO_REUSEADDR only, so bind fails on a port in use. */
    if (!s->d) {
        int e = errno;
        if (e == EADDRINUSE)
            rc = oq_error_set(err, OQ_EIO, NULL, 0, 0,
                              "cannot listen on %s:%d: the port is already in use "
                              "(another offerq serve?); choose another --port",
                              s->cfg.bind, cfg->port);
        else
            rc = oq_error_set(err, OQ_EIO, NULL, 0, 0, "cannot listen on %s:%d: %s", s->cfg.bind,
                              cfg->port, e ? strerror(e) : "unknown error");
        goto fail;
    }
    if (pthread_create(&s->reaper, NULL, reaper_main, s)) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "cannot start the reaper thread");
        goto fail;
    }
    s->have_reaper = 1;
    const union MHD_DaemonInfo *di = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    s->port = di ? di->port : cfg->port;
    *out = s;
    return 0;
fail:
    oq_serve_stop(s);
    return rc;
}

int oq_serve_port(const oq_serve *s)
{
    return s->port;
}

void oq_serve_stop(oq_serve *s)
{
    if (!s) return;
    if (s->d) MHD_stop_daemon(s->d); /* joins the pool; thread-key destructors free contexts */
    if (s->have_reaper) {
        pthread_mutex_lock(&s->mu);
        s->reap_stop = 1;
        pthread_cond_signal(&s->reap_cv);
        pthread_mutex_unlock(&s->mu);
        pthread_join(s->reaper, NULL);
    }
    if (s->have_mu) {
        if (s->log_dropped)
            fprintf(stderr, "offerq serve: libmicrohttpd: %lu more lines suppressed\n",
                    s->log_dropped);
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->reap_cv);
    }
    if (s->have_keeper) {
        pthread_mutex_lock(&s->keep_mu);
        s->stopping = 1;
        pthread_cond_signal(&s->keep_cv);
        pthread_mutex_unlock(&s->keep_mu);
        pthread_join(s->keeper, NULL);
    }
    if (s->have_sync) {
        pthread_rwlock_destroy(&s->snap_lock);
        pthread_mutex_destroy(&s->keep_mu);
        pthread_cond_destroy(&s->keep_cv);
    }
    snapshot_free(s->snap);
    if (s->have_key) pthread_key_delete(s->redis_key);
    oq_reco_free(s->reco);
    free(s->dash_json);
    free(s->report_text);
    free(s);
}
