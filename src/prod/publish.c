/* publish.c - versioned, atomically switched publication to Redis (publish.h).
 *
 * hiredis 0.14: every reply is freed (freeReplyObject); a context whose
 * ->err is set is unusable and is freed by its owner. */
#include "offerq/prod/publish.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHERE "Redis"
#define HSET_BATCH 1000 /* fields per HSET in the pipeline */
#define SWITCH_TRIES 20

static const char *pfx(const oq_publish_opts *o)
{
    return o && o->prefix ? o->prefix : OQ_PUBLISH_PREFIX;
}

int oq_redis_connect(const char *url, redisContext **out, oq_error *err)
{
    *out = NULL;
    struct timeval tv = {5, 0};
    redisContext *c = NULL;
    int db = 0;
    if (!strncmp(url, "unix:", 5)) {
        const char *path = url + 5;
        while (path[0] == '/' && path[1] == '/')
            path++; /* unix:///x -> /x */
        c = redisConnectUnixWithTimeout(path, tv);
    } else if (!strncmp(url, "redis://", 8)) {
        char host[256];
        const char *h = url + 8, *at = strchr(h, '@');
        if (at) h = at + 1; /* user:password@ is not supported; refuse below */
        size_t hl = strcspn(h, ":/");
        if (at || hl == 0 || hl >= sizeof host)
            return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                "bad Redis URL '%s': expected redis://host[:port][/db]", url);
        memcpy(host, h, hl);
        host[hl] = 0;
        long port = 6379;
        const char *p = h + hl;
        char *end;
        if (*p == ':') {
            port = strtol(p + 1, &end, 10);
            if (end == p + 1 || port <= 0 || port > 65535 || (*end && *end != '/'))
                return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "bad port in Redis URL '%s'", url);
            p = end;
        }
        if (*p == '/' && p[1]) {
            db = (int)strtol(p + 1, &end, 10);
            if (*end || db < 0)
                return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "bad db in Redis URL '%s'", url);
        }
        c = redisConnectWithTimeout(host, (int)port, tv);
    } else {
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                            "bad Redis URL '%s': expected redis://host[:port][/db] or unix:/path",
                            url);
    }
    if (!c) return oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
    if (c->err) {
        int rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "cannot connect to %s: %s", url, c->errstr);
        redisFree(c);
        return rc;
    }
    if (db) {
        redisReply *r = redisCommand(c, "SELECT %d", db);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        if (r) freeReplyObject(r);
        if (bad) {
            redisFree(c);
            return oq_error_set(err, OQ_EIO, WHERE, 0, 0, "SELECT %d failed", db);
        }
    }
    *out = c;
    return 0;
}

/* Check a reply: NULL (connection error) or an error reply fail. Frees r on failure. */
static int reply_ok(redisContext *c, redisReply *r, const char *what, oq_error *err)
{
    if (!r) return oq_error_set(err, OQ_EIO, WHERE, 0, 0, "%s: %s", what, c->errstr);
    if (r->type == REDIS_REPLY_ERROR) {
        int rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "%s: %s", what, r->str);
        freeReplyObject(r);
        return rc;
    }
    return 0;
}

/* Run a command and drop its reply. */
static int cmd(redisContext *c, oq_error *err, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = redisvCommand(c, fmt, ap);
    va_end(ap);
    int rc = reply_ok(c, r, what, err);
    if (!rc) freeReplyObject(r);
    return rc;
}

/* Integer value of a string/integer/nil reply (nil and "" -> 0). */
static long long reply_ll(const redisReply *r)
{
    if (r->type == REDIS_REPLY_INTEGER) return r->integer;
    if (r->type == REDIS_REPLY_STRING) return strtoll(r->str, NULL, 10);
    return 0;
}

static int get_ll(redisContext *c, const char *key, long long *v, oq_error *err)
{
    redisReply *r = redisCommand(c, "GET %s", key);
    int rc = reply_ok(c, r, "GET", err);
    if (rc) return rc;
    *v = reply_ll(r);
    freeReplyObject(r);
    return 0;
}

char *oq_reco_row_json(const oq_reco_row *w)
{
    char date[11];
    oq_date_format(w->day, date);
    json_t *o =
        json_pack("{s:s, s:f, s:f, s:f, s:s, s:s}", "coupon", oq_coupon_name(w->coupon),
                  "coupon_value", oq_coupon_value(w->coupon), "expected_profit", w->expected_profit,
                  "p_alive", w->p_alive, "snapshot_date", date, "state", w->state);
    if (!o) return NULL;
    char *s = json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(17));
    json_decref(o);
    return s;
}

int oq_reco_row_from_json(const char *json, int64_t u, oq_reco_row *row, oq_error *err)
{
    json_error_t je;
    json_t *o = json_loads(json, 0, &je);
    const char *coupon = NULL, *date = NULL, *state = NULL;
    double ep = 0, pa = 0;
    int rc = 0;
    memset(row, 0, sizeof *row);
    row->user_id = u;
    if (!o ||
        json_unpack(o, "{s:s, s:F, s:F, s:s, s:s}", "coupon", &coupon, "expected_profit", &ep,
                    "p_alive", &pa, "snapshot_date", &date, "state", &state) ||
        oq_coupon_parse(coupon) < 0 || oq_date_parse(date, strlen(date), &row->day) ||
        strlen(state) >= OQ_RECO_STATE_MAX) {
        rc =
            oq_error_set(err, OQ_EPARSE, WHERE, 0, 0, "bad list entry for user %lld", (long long)u);
        goto cleanup;
    }
    row->coupon = (uint8_t)oq_coupon_parse(coupon);
    row->expected_profit = ep;
    row->p_alive = pa;
    strcpy(row->state, state);
cleanup:
    json_decref(o);
    return rc;
}

/* Delete every key of version v and drop it from the versions set. */
static int drop_version(redisContext *c, const char *p, long long v, oq_error *err)
{
    int rc =
        cmd(c, err, "DEL", "DEL %s:v:%lld:qtable %s:v:%lld:list %s:v:%lld:meta %s:v:%lld:files", p,
            v, p, v, p, v, p, v);
    if (!rc) rc = cmd(c, err, "SREM", "SREM %s:versions %lld", p, v);
    return rc;
}

/* Write every key of version v (not yet visible to readers). */
static int write_version(redisContext *c, const char *p, long long v, const char *dir,
                         const oq_reco *r, const char *qt, size_t qlen, oq_error *err)
{
    int rc = cmd(c, err, "SET qtable", "SET %s:v:%lld:qtable %b", p, v, qt, qlen);
    if (rc) return rc;
    /* The list: pipelined HSETs of HSET_BATCH fields each. */
    char key[512];
    snprintf(key, sizeof key, "%s:v:%lld:list", p, v);
    size_t nb = 0;
    const char **argv = malloc((2 + 2 * HSET_BATCH) * sizeof *argv);
    size_t *lens = malloc((2 + 2 * HSET_BATCH) * sizeof *lens);
    char(*ids)[24] = malloc(HSET_BATCH * sizeof *ids);
    char **vals = calloc(HSET_BATCH, sizeof *vals);
    if (!argv || !lens || !ids || !vals) {
        rc = oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
        goto cleanup;
    }
    for (size_t i = 0; i < r->n; i += HSET_BATCH) {
        size_t k = r->n - i < HSET_BATCH ? r->n - i : HSET_BATCH;
        argv[0] = "HSET";
        lens[0] = 4;
        argv[1] = key;
        lens[1] = strlen(key);
        for (size_t j = 0; j < k; j++) {
            free(vals[j]);
            snprintf(ids[j], sizeof ids[j], "%lld", (long long)r->rows[i + j].user_id);
            if (!(vals[j] = oq_reco_row_json(&r->rows[i + j]))) {
                rc = oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
                goto cleanup;
            }
            argv[2 + 2 * j] = ids[j];
            lens[2 + 2 * j] = strlen(ids[j]);
            argv[3 + 2 * j] = vals[j];
            lens[3 + 2 * j] = strlen(vals[j]);
        }
        /* hiredis copies the arguments into its output buffer here. */
        if (redisAppendCommandArgv(c, (int)(2 + 2 * k), argv, lens) != REDIS_OK) {
            rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "HSET: %s", c->errstr);
            goto cleanup;
        }
        nb++;
    }
    for (; nb > 0; nb--) {
        redisReply *rep = NULL;
        if (redisGetReply(c, (void **)&rep) != REDIS_OK) rep = NULL;
        if ((rc = reply_ok(c, rep, "HSET list", err))) goto cleanup;
        freeReplyObject(rep);
    }
    /* Side files for the dashboard. */
    static const char *side[] = {"report.json", "eval.json", "crosssell.json"};
    for (size_t i = 0; i < sizeof side / sizeof *side; i++) {
        char path[8192], *text = NULL;
        size_t len;
        snprintf(path, sizeof path, "%s/%s", dir, side[i]);
        if (!oq_file_exists(path)) continue;
        if ((rc = oq_read_file(path, 16u << 20, &text, &len, err))) goto cleanup;
        rc = cmd(c, err, "HSET files", "HSET %s:v:%lld:files %s %b", p, v, side[i], text, len);
        free(text);
        if (rc) goto cleanup;
    }
    rc = cmd(
        c, err, "HSET meta",
        "HSET %s:v:%lld:meta created %lld users %llu qtable_bytes %llu qtable_crc32 %u source %s",
        p, v, (long long)time(NULL), (unsigned long long)r->n, (unsigned long long)qlen,
        oq_crc32(0, qt, qlen), dir);
cleanup:
    if (vals)
        for (size_t j = 0; j < HSET_BATCH; j++)
            free(vals[j]);
    free(vals);
    free(ids);
    free(argv);
    free(lens);
    return rc;
}

/* Atomically make v current, remembering the old current as previous.
 * WATCH makes EXEC fail if another client switched in between; retry then. */
static int switch_to(redisContext *c, const char *p, long long v, long long *old, oq_error *err)
{
    char cur[512];
    snprintf(cur, sizeof cur, "%s:current", p);
    for (int t = 0; t < SWITCH_TRIES; t++) {
        int rc = cmd(c, err, "WATCH", "WATCH %s", cur);
        if (!rc) rc = get_ll(c, cur, old, err);
        if (!rc) rc = cmd(c, err, "MULTI", "MULTI");
        if (!rc) rc = cmd(c, err, "SET", "SET %s %lld", cur, v);
        if (!rc && *old) rc = cmd(c, err, "SET", "SET %s:previous %lld", p, *old);
        if (rc) return rc;
        redisReply *r = redisCommand(c, "EXEC");
        if ((rc = reply_ok(c, r, "EXEC", err))) return rc;
        int done = r->type == REDIS_REPLY_ARRAY; /* nil: the watched key changed */
        freeReplyObject(r);
        if (done) return 0;
    }
    return oq_error_set(err, OQ_EIO, WHERE, 0, 0, "could not switch %s: it kept changing", cur);
}

/* Drop versions older than keep_min that are neither current nor previous:
 * orphans of interrupted publishes and versions rolled past. */
static int collect(redisContext *c, const char *p, long long cur, long long prev, long long below,
                   oq_error *err)
{
    redisReply *r = redisCommand(c, "SMEMBERS %s:versions", p);
    int rc = reply_ok(c, r, "SMEMBERS", err);
    if (rc) return rc;
    for (size_t i = 0; i < r->elements && !rc; i++) {
        long long w = reply_ll(r->element[i]);
        if (w != cur && w != prev && w < below) rc = drop_version(c, p, w, err);
    }
    freeReplyObject(r);
    return rc;
}

int oq_publish_dir(const char *url, const char *dir_arg, const oq_publish_opts *opts,
                   oq_publish_info *info, oq_error *err)
{
    const char *p = pfx(opts);
    char path[4096 + 64], dir[4096], *qt = NULL;
    size_t qlen = 0;
    oq_reco *r = NULL;
    redisContext *c = NULL;
    /* DIR may be a link that a run switches meanwhile (io.h): resolve it once
     * so every file published comes from the same run. */
    int rc = oq_rundir_resolve(dir_arg, dir, sizeof dir, err);
    if (rc) goto cleanup;
    snprintf(path, sizeof path, "%s/%s", dir, OQ_RECO_FILE);
    if ((rc = oq_reco_read(path, &r, err))) goto cleanup;
    snprintf(path, sizeof path, "%s/%s", dir, OQ_QTABLE_FILE);
    if ((rc = oq_read_file(path, (size_t)512 << 20, &qt, &qlen, err))) goto cleanup;
    if ((rc = oq_redis_connect(url, &c, err))) goto cleanup;
    redisReply *rep = redisCommand(c, "INCR %s:seq", p);
    if ((rc = reply_ok(c, rep, "INCR", err))) goto cleanup;
    long long v = rep->integer;
    freeReplyObject(rep);
    /* Registered before the first key is written, so an interrupted publish
     * leaves nothing the next one cannot find and remove. */
    if ((rc = cmd(c, err, "SADD", "SADD %s:versions %lld", p, v))) goto cleanup;
    if ((rc = write_version(c, p, v, dir, r, qt, qlen, err))) goto cleanup;
    if (opts && opts->pause_before_switch_ms > 0) {
        struct timespec ts = {opts->pause_before_switch_ms / 1000,
                              (long)(opts->pause_before_switch_ms % 1000) * 1000000L};
        nanosleep(&ts, NULL);
    }
    long long old = 0;
    if ((rc = switch_to(c, p, v, &old, err))) goto cleanup;
    if ((rc = collect(c, p, v, old, v, err))) goto cleanup;
    if (info) *info = (oq_publish_info){v, old, r->n, qlen};
cleanup:
    if (c) redisFree(c);
    oq_reco_free(r);
    free(qt);
    return rc;
}

int oq_publish_status(const char *url, const oq_publish_opts *opts, oq_publish_info *info,
                      oq_error *err)
{
    const char *p = pfx(opts);
    redisContext *c;
    char key[512];
    memset(info, 0, sizeof *info);
    int rc = oq_redis_connect(url, &c, err);
    if (rc) return rc;
    snprintf(key, sizeof key, "%s:current", p);
    rc = get_ll(c, key, &info->current, err);
    snprintf(key, sizeof key, "%s:previous", p);
    if (!rc) rc = get_ll(c, key, &info->previous, err);
    redisFree(c);
    return rc;
}

int oq_publish_rollback(const char *url, const oq_publish_opts *opts, oq_publish_info *info,
                        oq_error *err)
{
    const char *p = pfx(opts);
    redisContext *c;
    char cur[512], prev[512];
    snprintf(cur, sizeof cur, "%s:current", p);
    snprintf(prev, sizeof prev, "%s:previous", p);
    int rc = oq_redis_connect(url, &c, err);
    if (rc) return rc;
    for (int t = 0;; t++) {
        if (t == SWITCH_TRIES) {
            rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "could not roll back: %s kept changing",
                              cur);
            break;
        }
        long long a = 0, b = 0;
        if ((rc = cmd(c, err, "WATCH", "WATCH %s %s", cur, prev))) break;
        if ((rc = get_ll(c, cur, &a, err)) || (rc = get_ll(c, prev, &b, err))) break;
        if (!b) {
            cmd(c, NULL, "UNWATCH", "UNWATCH");
            rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "no previous version to roll back to");
            break;
        }
        redisReply *r = redisCommand(c, "EXISTS %s:v:%lld:meta", p, b);
        if ((rc = reply_ok(c, r, "EXISTS", err))) break;
        long long exists = r->integer;
        freeReplyObject(r);
        if (!exists) {
            cmd(c, NULL, "UNWATCH", "UNWATCH");
            rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "previous version %lld has no keys", b);
            break;
        }
        if ((rc = cmd(c, err, "MULTI", "MULTI")) ||
            (rc = cmd(c, err, "SET", "SET %s %lld", cur, b)) ||
            (rc = cmd(c, err, "SET", "SET %s %lld", prev, a)))
            break;
        r = redisCommand(c, "EXEC");
        if ((rc = reply_ok(c, r, "EXEC", err))) break;
        int done = r->type == REDIS_REPLY_ARRAY;
        freeReplyObject(r);
        if (done) {
            if (info) *info = (oq_publish_info){b, a, 0, 0};
            break;
        }
    }
    redisFree(c);
    return rc;
}

/* GET current and HGET the user's entry in one atomic step (Lua scripts run
 * atomically in Redis), so a switch can never fall between the two reads.
 * A missing field is Lua false -> a nil element. */
static const char *lookup_lua =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return {} end\n"
    "return {v, redis.call('HGET', ARGV[1] .. ':v:' .. v .. ':list', ARGV[2])}\n";

int oq_redis_lookup(redisContext *c, const char *prefix, int64_t u, char **json, long long *version,
                    oq_error *err)
{
    *json = NULL;
    *version = 0;
    const char *p = prefix ? prefix : OQ_PUBLISH_PREFIX;
    redisReply *r = redisCommand(c, "EVAL %s 1 %s:current %s %lld", lookup_lua, p, p, (long long)u);
    int rc = reply_ok(c, r, "lookup", err);
    if (rc) return rc;
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 2) {
        *version = reply_ll(r->element[0]);
        if (r->element[1]->type == REDIS_REPLY_STRING) {
            *json = strdup(r->element[1]->str);
            if (!*json) rc = oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
        }
    }
    freeReplyObject(r);
    return rc;
}

/* The current version's list and files, read in one MULTI so they match. */
static const char *fetch_lua =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return {} end\n"
    "local n = redis.call('HLEN', ARGV[1] .. ':v:' .. v .. ':list')\n"
    "if n > tonumber(ARGV[2]) then return {v, n} end\n"
    "return {v, n, redis.call('HGETALL', ARGV[1] .. ':v:' .. v .. ':list'),\n"
    "        redis.call('HGETALL', ARGV[1] .. ':v:' .. v .. ':files')}\n";

int oq_redis_fetch_list(redisContext *c, const char *prefix, size_t max_users, oq_reco **out,
                        char **files, long long *version, oq_error *err)
{
    *out = NULL;
    *files = NULL;
    *version = 0;
    const char *p = prefix ? prefix : OQ_PUBLISH_PREFIX;
    oq_reco *r = oq_reco_new();
    json_t *fo = json_object();
    redisReply *rep = NULL;
    int rc = 0;
    if (!r || !fo) {
        rc = oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
        goto cleanup;
    }
    /* (hiredis formats know no %zu) */
    rep = redisCommand(c, "EVAL %s 1 %s:current %s %llu", fetch_lua, p, p,
                       (unsigned long long)max_users);
    if ((rc = reply_ok(c, rep, "fetch list", err))) {
        rep = NULL;
        goto cleanup;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements >= 2) {
        *version = reply_ll(rep->element[0]);
        if (rep->elements < 4) {
            rc = oq_error_set(err, OQ_ELIMIT, WHERE, 0, 0, "list has %lld users, more than %zu",
                              reply_ll(rep->element[1]), max_users);
            goto cleanup;
        }
        const redisReply *l = rep->element[2], *f = rep->element[3];
        for (size_t i = 0; i + 1 < l->elements; i += 2) {
            oq_reco_row row;
            int64_t u = strtoll(l->element[i]->str, NULL, 10);
            if ((rc = oq_reco_row_from_json(l->element[i + 1]->str, u, &row, err)) ||
                (rc = oq_reco_push(r, &row, err)))
                goto cleanup;
        }
        for (size_t i = 0; i + 1 < f->elements; i += 2)
            json_object_set_new(fo, f->element[i]->str, json_string(f->element[i + 1]->str));
        if ((rc = oq_reco_sort(r, err))) goto cleanup;
    }
    if (!(*files = json_dumps(fo, JSON_COMPACT))) {
        rc = oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
        goto cleanup;
    }
    *out = r;
    r = NULL;
cleanup:
    if (rep) freeReplyObject(rep);
    json_decref(fo);
    oq_reco_free(r);
    return rc;
}
