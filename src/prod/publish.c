/* publish.c - versioned, atomically switched publication to Redis (publish.h).
 *
 * hiredis 0.14: every reply is freed (freeReplyObject); a context whose
 * ->err is set is unusable and is freed by its owner. */
#include "offerq/prod/publish.h"
#include "prod/redis_int.h"
#include "offerq/prod/rcluster.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/coupon/dynaq.h"
#include "util/json.h"

#include <hiredis/hiredis.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHERE "Redis"
#define HSET_BATCH 1000 /* fields per HSET in the pipeline */
#define SWITCH_TRIES 20
#define OQ_N_SIDE 3

/* Side files for the dashboard, published when present. */
static const char *const side_name[OQ_N_SIDE] = {"report.json", "eval.json", "crosssell.json"};

static const char *pfx(const oq_publish_opts *o)
{
    return o && o->prefix ? o->prefix : OQ_PUBLISH_PREFIX;
}

/* Did the last I/O on c fail by its timeout? hiredis 0.14 reports a read or
 * write past SO_RCVTIMEO/SO_SNDTIMEO as EAGAIN's text, later versions say so. */
static int timed_out(const redisContext *c)
{
    return c && c->err == REDIS_ERR_IO &&
           (strstr(c->errstr, "temporarily unavailable") || strstr(c->errstr, "imed out") ||
            strstr(c->errstr, "imeout"));
}

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Decode %XX escapes of src[0..n) into out (a password may hold ':' '@' '/'
 * written as %3A %40 %2F). -1 if it does not fit or an escape is malformed. */
static int pct_decode(const char *src, size_t n, char *out, size_t len)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)src[i];
        if (c == '%') {
            int hi = i + 2 < n ? hex_digit(src[i + 1]) : -1;
            int lo = hi >= 0 ? hex_digit(src[i + 2]) : -1;
            if (lo < 0 || (hi == 0 && lo == 0)) return -1; /* malformed, or %00 */
            c = hi * 16 + lo;
            i += 2;
        }
        if (k + 1 >= len) return -1;
        out[k++] = (char)c;
    }
    out[k] = 0;
    return 0;
}

int oq_redis_userinfo(const char *h, const char *at, char *user, size_t ulen, char *pass,
                      size_t plen)
{
    const char *colon = memchr(h, ':', (size_t)(at - h));
    size_t ul = colon ? (size_t)(colon - h) : (size_t)(at - h);
    if (pct_decode(h, ul, user, ulen)) return -1;
    return colon ? pct_decode(colon + 1, (size_t)(at - colon - 1), pass, plen) : 0;
}

void oq_redis_url_redact(const char *url, char *out, size_t len)
{
    const char *h = !strncmp(url, "redis://", 8)                 ? url + 8
                    : !strncmp(url, OQ_REDIS_CLUSTER_SCHEME, 16) ? url + 16
                                                                 : NULL;
    const char *at = h ? strrchr(h, '@') : NULL; /* a host has no '@': the last one */
    const char *colon = at ? memchr(h, ':', (size_t)(at - h)) : NULL;
    if (!colon) {
        snprintf(out, len, "%s", url);
        return;
    }
    snprintf(out, len, "%.*s:***%s", (int)(colon - url), url, at);
}

/* The parts of redis://[[user]:password@]host[:port][/db]. */
typedef struct redis_url {
    char host[256];
    char user[256];
    char pass[512];
    long port;
    int db;
} redis_url;

static int parse_url(const char *url, redis_url *u, const char *shown, oq_error *err)
{
    memset(u, 0, sizeof *u);
    u->port = 6379;
    const char *h = url + 8, *at = strrchr(h, '@'); /* a raw '@' in a password is kept */
    if (at) {
        /* userinfo: "user:password", ":password" or "user" (no password) */
        if (oq_redis_userinfo(h, at, u->user, sizeof u->user, u->pass, sizeof u->pass))
            return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                "bad user or password in Redis URL '%s' (write special characters "
                                "as %%XX)",
                                shown);
        h = at + 1;
    }
    size_t hl = strcspn(h, ":/");
    if (hl == 0 || hl >= sizeof u->host)
        return oq_error_set(
            err, OQ_EINVAL, WHERE, 0, 0,
            "bad Redis URL '%s': expected redis://[[user]:password@]host[:port][/db]", shown);
    memcpy(u->host, h, hl);
    const char *p = h + hl;
    char *end;
    if (*p == ':') {
        u->port = strtol(p + 1, &end, 10);
        if (end == p + 1 || u->port <= 0 || u->port > 65535 || (*end && *end != '/'))
            return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "bad port in Redis URL '%s'", shown);
        p = end;
    }
    if (*p == '/' && p[1]) {
        long db = strtol(p + 1, &end, 10);
        if (*end || db < 0 || db > 1000000)
            return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "bad db in Redis URL '%s'", shown);
        u->db = (int)db;
    }
    return 0;
}

/* AUTH [user] password; the error names the user, never the password. */
static int auth(redisContext *c, const char *user, const char *pass, oq_error *err)
{
    const char *argv[3] = {"AUTH", user, pass};
    size_t lens[3] = {4, strlen(user), strlen(pass)};
    int with_user = user[0] != 0;
    if (!with_user) argv[1] = pass, lens[1] = lens[2];
    redisReply *r = redisCommandArgv(c, with_user ? 3 : 2, argv, lens);
    if (!r)
        return oq_error_set(err, OQ_EIO, WHERE, 0, 0, "AUTH: %s",
                            timed_out(c) ? "Redis did not answer in time" : c->errstr);
    int rc = 0;
    if (r->type == REDIS_REPLY_ERROR)
        rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "Redis refused the credentials%s%s%s: %s",
                          with_user ? " of user '" : "", with_user ? user : "",
                          with_user ? "'" : "", r->str);
    freeReplyObject(r);
    return rc;
}

int oq_redis_connect(const char *url, int timeout_ms, redisContext **out, oq_error *err)
{
    *out = NULL;
    if (timeout_ms <= 0) timeout_ms = OQ_REDIS_TIMEOUT_MS;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    redisContext *c = NULL;
    redis_url u;
    char shown[1024];
    int rc = 0;
    oq_redis_url_redact(url, shown, sizeof shown);
    memset(&u, 0, sizeof u);
    if (!strncmp(url, "unix:", 5)) {
        const char *path = url + 5;
        while (path[0] == '/' && path[1] == '/')
            path++; /* unix:///x -> /x */
        c = redisConnectUnixWithTimeout(path, tv);
    } else if (!strncmp(url, "redis://", 8)) {
        if ((rc = parse_url(url, &u, shown, err))) return rc;
        c = redisConnectWithTimeout(u.host, (int)u.port, tv);
    } else {
        return oq_error_set(
            err, OQ_EINVAL, WHERE, 0, 0,
            "bad Redis URL '%s': expected redis://[[user]:password@]host[:port][/db],"
            " unix:/path or redis+cluster://host:port[,host:port...]",
            shown);
    }
    /* No password in the URL: $OFFERQ_REDIS_PASSWORD (keeps it out of `ps`). */
    const char *envpw = getenv("OFFERQ_REDIS_PASSWORD");
    if (!u.pass[0] && envpw && envpw[0]) snprintf(u.pass, sizeof u.pass, "%s", envpw);
    if (!c) return oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
    /* The same bound on every read and write after connecting: a frozen or
     * misaddressed server is an error after timeout_ms, not a hang. */
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "cannot connect to %s: %s%s", shown,
                          c->errstr[0] ? c->errstr : "cannot set the timeout",
                          timed_out(c) ? " (no answer in time; see --redis-timeout-ms)" : "");
        goto cleanup;
    }
    if (u.pass[0] && (rc = auth(c, u.user, u.pass, err))) goto cleanup;
    if (u.db) {
        redisReply *r = redisCommand(c, "SELECT %d", u.db);
        int bad = !r || r->type == REDIS_REPLY_ERROR;
        if (bad)
            rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "SELECT %d failed: %s", u.db,
                              r ? r->str : c->errstr);
        if (r) freeReplyObject(r);
        if (bad) goto cleanup;
    }
    *out = c;
    c = NULL;
cleanup:
    /* the password does not outlive the call on this stack */
    memset(u.pass, 0, sizeof u.pass);
    if (c) redisFree(c);
    return rc;
}

/* Check a reply: NULL (connection error) or an error reply fail. Frees r on failure. */
static int reply_ok(oq_redis *c, redisReply *r, const char *what, oq_error *err)
{
    if (!r && oq_redis_timed_out(c))
        return oq_error_set(err, OQ_EIO, WHERE, 0, 0,
                            "%s: Redis did not answer in time (frozen or overloaded? the "
                            "limit is --redis-timeout-ms)",
                            what);
    if (!r) return oq_error_set(err, OQ_EIO, WHERE, 0, 0, "%s: %s", what, oq_redis_errstr(c));
    if (r->type == REDIS_REPLY_ERROR) {
        int noauth = !strncmp(r->str, "NOAUTH", 6);
        int rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "%s: %s%s", what, r->str,
                              noauth ? " (give the password: redis://[user]:PASSWORD@host:port "
                                       "or $OFFERQ_REDIS_PASSWORD)"
                                     : "");
        freeReplyObject(r);
        return rc;
    }
    return 0;
}

/* Run a command on the node of key's slot and drop its reply. */
static int cmd(oq_redis *c, const char *key, oq_error *err, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *r = oq_redis_vcommand(c, key, fmt, ap);
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

static int get_ll(oq_redis *c, const char *key, long long *v, oq_error *err)
{
    redisReply *r = oq_redis_command(c, key, "GET %s", key);
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
    if (o && isfinite(w->value[0]))
        json_object_set_new(
            o, "values",
            json_pack("[f, f, f, f]", w->value[0], w->value[1], w->value[2], w->value[3]));
    if (!o) return NULL;
    char *s = oq_json_dumps(o, JSON_COMPACT);
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
    for (int k = 0; k < OQ_N_COUPONS; k++)
        row->value[k] = NAN;
    json_t *vals = json_object_get(o, "values");
    if (json_is_array(vals) && json_array_size(vals) == OQ_N_COUPONS)
        for (int k = 0; k < OQ_N_COUPONS; k++)
            row->value[k] = json_is_number(json_array_get(vals, (size_t)k))
                                ? json_number_value(json_array_get(vals, (size_t)k))
                                : NAN;
    row->expected_profit = ep;
    row->p_alive = pa;
    strcpy(row->state, state);
cleanup:
    json_decref(o);
    return rc;
}

/* Who writes a version: "<run_id>:<client id>" of the publishing connection.
 * Redis never reuses a client id while it runs and its run_id changes when it
 * restarts, so an owner that CLIENT LIST no longer shows is dead for good. */
static int owner_of(oq_redis *c, const char *p, char *out, size_t len, oq_error *err)
{
    redisReply *r = oq_redis_command(c, p, "INFO server");
    int rc = reply_ok(c, r, "INFO", err);
    if (rc) return rc;
    const char *id = r->type == REDIS_REPLY_STRING ? strstr(r->str, "run_id:") : NULL;
    size_t n = id ? strcspn(id + 7, "\r\n") : 0;
    if (!id || n == 0 || n > 64) {
        freeReplyObject(r);
        return oq_error_set(err, OQ_EIO, WHERE, 0, 0, "INFO server has no run_id");
    }
    char run[65];
    memcpy(run, id + 7, n);
    run[n] = 0;
    freeReplyObject(r);
    r = oq_redis_command(c, p, "CLIENT ID");
    if ((rc = reply_ok(c, r, "CLIENT ID", err))) return rc;
    snprintf(out, len, "%s:%lld", run, r->integer);
    freeReplyObject(r);
    return 0;
}

/* Claim the next version: number it, register it (so that nothing it writes
 * can be lost track of) and record its writer, in one atomic step. The
 * number is max(P:seq + 1, floor): floor (the run id or the run folder's
 * sequence number, 0: none) keeps versions increasing after a Redis that
 * lost its data restarts P:seq at 0.
 * KEYS: P:seq P:versions P:writing; ARGV: owner floor. */
static const char *claim_lua = "local v = redis.call('INCR', KEYS[1])\n"
                               "local f = tonumber(ARGV[2]) or 0\n"
                               "if v < f then v = f; redis.call('SET', KEYS[1], v) end\n"
                               "redis.call('SADD', KEYS[2], v)\n"
                               "redis.call('HSET', KEYS[3], v, ARGV[1])\n"
                               "return v\n";

/* Make version N current if this writer still holds it and it is complete;
 * the old current becomes previous. Returns the old current (0: none).
 * KEYS: P:current P:previous P:writing P:v:N:meta P:v:N:qtable; ARGV: N owner. */
static const char *switch_lua =
    "if redis.call('HGET', KEYS[3], ARGV[1]) ~= ARGV[2] then\n"
    "  return redis.error_reply('version ' .. ARGV[1] .. ' is no longer held by this publish')\n"
    "end\n"
    "if redis.call('EXISTS', KEYS[4], KEYS[5]) ~= 2 then\n"
    "  return redis.error_reply('version ' .. ARGV[1] .. ' is incomplete')\n"
    "end\n"
    "local old = redis.call('GET', KEYS[1])\n"
    "redis.call('SET', KEYS[1], ARGV[1])\n"
    "if old and old ~= ARGV[1] then redis.call('SET', KEYS[2], old) end\n"
    "redis.call('HDEL', KEYS[3], ARGV[1])\n"
    "return tonumber(old) or 0\n";

/* Drop version N unless it is current, previous, or still being written by a
 * writer other than ARGV[3] (a writer the caller saw dead, or "").
 * KEYS: P:current P:previous P:writing P:versions; ARGV: P N dead-owner. */
static const char *drop_lua =
    "local v = ARGV[2]\n"
    "if redis.call('GET', KEYS[1]) == v or redis.call('GET', KEYS[2]) == v then return 0 end\n"
    "local w = redis.call('HGET', KEYS[3], v)\n"
    "if w and w ~= ARGV[3] then return 0 end\n"
    "local b = ARGV[1] .. ':v:' .. v\n"
    "redis.call('UNLINK', b .. ':qtable', b .. ':list', b .. ':meta', b .. ':files')\n"
    "redis.call('HDEL', KEYS[3], v)\n"
    "redis.call('SREM', KEYS[4], v)\n"
    "return 1\n";

/* Delete KEYS[1] (a P:v:N:* key) if N is not in the versions set: keys that
 * outlived their version (older publishes deleted versions still being written).
 * KEYS: the key, P:versions; ARGV: N. */
static const char *sweep_lua =
    "if redis.call('SISMEMBER', KEYS[2], ARGV[1]) == 1 then return 0 end\n"
    "return redis.call('UNLINK', KEYS[1])\n";

static int drop_version(oq_redis *c, const char *p, long long v, const char *dead, oq_error *err)
{
    return cmd(c, p, err, "drop version",
               "EVAL %s 4 %s:current %s:previous %s:writing %s:versions %s %lld %s", drop_lua, p, p,
               p, p, p, v, dead);
}

static void pause_ms(int ms)
{
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Is r an error reply of a cluster that asks the client to go elsewhere or
 * wait (the command was not run)? */
static int redirected(const redisReply *r)
{
    return r && r->type == REDIS_REPLY_ERROR &&
           (!strncmp(r->str, "MOVED ", 6) || !strncmp(r->str, "ASK ", 4) ||
            !strncmp(r->str, "TRYAGAIN", 8));
}

/* The list into key: HSETs of HSET_BATCH fields each, pipelined on pipe (the
 * single server's context, or the connection to the node that the slot map
 * names for key), else one at a time through the routing of rcluster.h. On
 * a cluster, a pipelined HSET that comes back redirected (the slot moved
 * meanwhile) or a lost connection sets *redo and the caller sends the
 * list again unpipelined (an HSET of the same fields and values is
 * idempotent). */
static int send_list(oq_redis *c, redisContext *pipe, const char *key, const oq_reco *r, int *redo,
                     oq_error *err)
{
    int rc = 0;
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
        if (!pipe) {
            redisReply *rep = oq_redis_command_argv(c, key, (int)(2 + 2 * k), argv, lens);
            if ((rc = reply_ok(c, rep, "HSET list", err))) goto cleanup;
            freeReplyObject(rep);
            continue;
        }
        /* hiredis copies the arguments into its output buffer here. */
        if (redisAppendCommandArgv(pipe, (int)(2 + 2 * k), argv, lens) != REDIS_OK) {
            rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "HSET: %s", pipe->errstr);
            goto cleanup;
        }
        nb++;
    }
    for (; nb > 0; nb--) {
        redisReply *rep = NULL;
        if (redisGetReply(pipe, (void **)&rep) != REDIS_OK) rep = NULL;
        if (!rep && oq_redis_is_cluster(c)) {
            *redo = 1; /* the node went away: routed again, one at a time */
            break;
        }
        if (oq_redis_is_cluster(c) && redirected(rep)) {
            *redo = 1; /* the other replies are read (and dropped) all the same */
            freeReplyObject(rep);
            continue;
        }
        if ((rc = reply_ok(c, rep, "HSET list", err))) goto cleanup;
        freeReplyObject(rep);
    }
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

/* Write every key of version v (not yet visible to readers). side[i] is the
 * text of side_name[i] (NULL: absent). */
static int write_version(oq_redis *c, const char *p, long long v, const char *dir, const oq_reco *r,
                         const char *qt, size_t qlen, char *const side[], const size_t side_len[],
                         const oq_publish_opts *o, oq_error *err)
{
    int rc = cmd(c, p, err, "SET qtable", "SET %s:v:%lld:qtable %b", p, v, qt, qlen);
    if (rc) return rc;
    if (o) pause_ms(o->pause_before_list_ms);
    char key[512];
    snprintf(key, sizeof key, "%s:v:%lld:list", p, v);
    int redo = 0;
    if ((rc = send_list(c, oq_redis_context_for(c, key), key, r, &redo, err))) return rc;
    if (redo && (rc = send_list(c, NULL, key, r, &redo, err))) return rc;
    /* Side files for the dashboard (validated by the caller). */
    for (size_t i = 0; i < OQ_N_SIDE; i++) {
        if (!side[i]) continue;
        rc = cmd(c, p, err, "HSET files", "HSET %s:v:%lld:files %s %b", p, v, side_name[i], side[i],
                 side_len[i]);
        if (rc) return rc;
    }
    /* meta last: the switch refuses a version without it. */
    rc = cmd(
        c, p, err, "HSET meta",
        "HSET %s:v:%lld:meta created %lld users %llu qtable_bytes %llu qtable_crc32 %u source %s",
        p, v, (long long)time(NULL), (unsigned long long)r->n, (unsigned long long)qlen,
        oq_crc32(0, qt, qlen), dir);
    return rc;
}

/* Is the client id of owner ("<run_id>:<id>") connected to this server now?
 * list is the text of CLIENT LIST, run the server's run_id. */
static int owner_alive(const char *owner, const char *run, const char *list)
{
    size_t rl = strlen(run);
    if (strncmp(owner, run, rl) != 0 || owner[rl] != ':') return 0; /* the server restarted */
    char pat[48];
    snprintf(pat, sizeof pat, "id=%s ", owner + rl + 1);
    for (const char *l = list; l && *l; l = strchr(l, '\n'), l = l ? l + 1 : NULL)
        if (!strncmp(l, pat, strlen(pat))) return 1;
    return 0;
}

/* Drop every version that is neither current, previous nor being written by a
 * live publish (orphans of dead publishes, versions rolled past), then every
 * P:v:N:* key whose N is no longer a version (leaks). me is this publish's
 * owner string (its run_id prefix names the server's run). */
static int collect(oq_redis *c, const char *p, const char *me, oq_error *err)
{
    redisReply *w = NULL, *cl = NULL, *vs = NULL, *sc = NULL;
    char run[80], pat[600];
    snprintf(run, sizeof run, "%.*s", (int)strcspn(me, ":"), me);
    int rc = 0;
    w = oq_redis_command(c, p, "HGETALL %s:writing", p);
    if ((rc = reply_ok(c, w, "HGETALL writing", err))) {
        w = NULL;
        goto cleanup;
    }
    /* After the writers: a writer in w is either in this list or dead. */
    cl = oq_redis_command(c, p, "CLIENT LIST TYPE normal");
    if ((rc = reply_ok(c, cl, "CLIENT LIST", err))) {
        cl = NULL;
        goto cleanup;
    }
    vs = oq_redis_command(c, p, "SMEMBERS %s:versions", p);
    if ((rc = reply_ok(c, vs, "SMEMBERS", err))) {
        vs = NULL;
        goto cleanup;
    }
    for (size_t i = 0; i < vs->elements && !rc; i++) {
        const char *ver = vs->element[i]->str, *dead = "";
        for (size_t j = 0; j + 1 < w->elements; j += 2)
            if (!strcmp(w->element[j]->str, ver)) {
                dead = w->element[j + 1]->str;
                if (owner_alive(dead, run, cl->str)) dead = NULL;
                break;
            }
        if (dead) rc = drop_version(c, p, strtoll(ver, NULL, 10), dead, err);
    }
    /* Leaked keys. */
    snprintf(pat, sizeof pat, "%s:v:*", p);
    char cursor[32] = "0";
    do {
        sc = oq_redis_command(c, p, "SCAN %s MATCH %s COUNT 1000", cursor, pat);
        if ((rc = reply_ok(c, sc, "SCAN", err))) {
            sc = NULL;
            goto cleanup;
        }
        if (sc->type != REDIS_REPLY_ARRAY || sc->elements != 2) {
            rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "SCAN: unexpected reply");
            goto cleanup;
        }
        snprintf(cursor, sizeof cursor, "%s", sc->element[0]->str);
        const redisReply *keys = sc->element[1];
        size_t pl = strlen(p) + 3;
        for (size_t i = 0; i < keys->elements && !rc; i++) {
            const char *k = keys->element[i]->str;
            char *end;
            long long n = strtoll(k + pl, &end, 10);
            if (end == k + pl || *end != ':') continue;
            rc = cmd(c, p, err, "sweep", "EVAL %s 2 %s %s:versions %lld", sweep_lua, k, p, n);
        }
        freeReplyObject(sc);
        sc = NULL;
    } while (!rc && strcmp(cursor, "0") != 0);
cleanup:
    if (w) freeReplyObject(w);
    if (cl) freeReplyObject(cl);
    if (vs) freeReplyObject(vs);
    if (sc) freeReplyObject(sc);
    return rc;
}

/* Everything a publish sends, read and checked before Redis is touched. */
typedef struct run_files {
    oq_reco *reco;
    char *qt;
    size_t qlen;
    char *side[OQ_N_SIDE];
    size_t side_len[OQ_N_SIDE];
} run_files;

static void run_files_free(run_files *f)
{
    oq_reco_free(f->reco);
    free(f->qt);
    for (size_t i = 0; i < OQ_N_SIDE; i++)
        free(f->side[i]);
}

/* Read and validate every file of the run in dir: the list with its reader,
 * the Q table with its loader (magic, size, CRC, finite values) and the side
 * files as JSON. Nothing is published unless all pass. */
static int read_run(const char *dir, run_files *f, oq_error *err)
{
    char path[4096 + 64];
    oq_qtable *q = NULL;
    snprintf(path, sizeof path, "%s/%s", dir, OQ_RECO_FILE);
    int rc = oq_reco_read(path, &f->reco, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s", dir, OQ_QTABLE_FILE);
    if ((rc = oq_qtable_load(path, &q, err))) return rc;
    oq_qtable_free(q);
    if ((rc = oq_read_file(path, (size_t)512 << 20, &f->qt, &f->qlen, err))) return rc;
    /* The bytes sent are the bytes checked (a run folder does not change,
     * but a file could be replaced by hand between the two reads). */
    uint32_t crc = 0;
    if (f->qlen >= 4) memcpy(&crc, f->qt + f->qlen - 4, 4);
    if (f->qlen < 4 || crc != oq_crc32(0, f->qt, f->qlen - 4))
        return oq_error_set(err, OQ_EFORMAT, path, 0, 0, "Q table changed while being read");
    for (size_t i = 0; i < OQ_N_SIDE; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, side_name[i]);
        if (!oq_file_exists(path)) continue;
        if ((rc = oq_read_file(path, 16u << 20, &f->side[i], &f->side_len[i], err))) return rc;
        json_error_t je;
        json_t *j = json_loadb(f->side[i], f->side_len[i], 0, &je);
        if (!j)
            return oq_error_set(err, OQ_EPARSE, path, je.line > 0 ? je.line : 0,
                                je.column > 0 ? je.column : 0, "not valid JSON: %s", je.text);
        json_decref(j);
    }
    return 0;
}

long long oq_publish_version_floor(const char *dir, const oq_publish_opts *opts)
{
    if (opts && opts->run_id > 0) return opts->run_id;
    /* DIR.runs/<seq>-<UTC time> (io.h): the digits before the first '-'. */
    const char *base = strrchr(dir, '/');
    base = base ? base + 1 : dir;
    size_t n = strspn(base, "0123456789");
    if (n == 0 || n > 15 || base[n] != '-') return 0;
    return strtoll(base, NULL, 10);
}

/* WAIT n ms on the connection that made the switch (the master of the keys'
 * slot on a cluster): Redis answers with the number of replicas whose
 * acknowledged offset covers this client's last write, at most after ms. */
static int wait_replicas(oq_redis *c, const char *p, long long live, int n, int ms,
                         oq_publish_info *info, oq_error *err)
{
    redisReply *rep = oq_redis_command(c, p, "WAIT %d %d", n, ms);
    int rc = reply_ok(c, rep, "wait for replicas", err);
    if (rc) return rc;
    long long got = reply_ll(rep);
    freeReplyObject(rep);
    if (info) info->acked = (int)(got < 0 ? 0 : got);
    if (got >= n) return 0;
    return oq_error_set(err, OQ_EIO, WHERE, 0, 0,
                        "version %lld is live but only %lld of %d replicas acknowledged it "
                        "within %d ms: a failover now could lose it",
                        live, got, n, ms);
}

int oq_publish_dir(const char *url, const char *dir_arg, const oq_publish_opts *opts,
                   oq_publish_info *info, oq_error *err)
{
    char pb[300];
    const char *p = pfx(opts);
    char dir[4096], me[128];
    run_files f = {0};
    oq_redis *c = NULL;
    long long v = 0;
    if (info) memset(info, 0, sizeof *info);
    int cmd_ms = opts && opts->timeout_ms > 0 ? opts->timeout_ms : OQ_REDIS_TIMEOUT_MS;
    /* never 0: WAIT n 0 blocks for ever */
    int wait_ms = opts && opts->wait_timeout_ms > 0 ? opts->wait_timeout_ms
                  : cmd_ms / 2 > 0                  ? cmd_ms / 2
                                                    : 1;
    if (opts && opts->wait_replicas > 0 && wait_ms >= cmd_ms)
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                            "the wait for replicas (%d ms) must be shorter than the Redis "
                            "command timeout (%d ms), which bounds the WAIT's answer",
                            wait_ms, cmd_ms);
    /* DIR may be a link that a run switches meanwhile (io.h): resolve it once
     * so every file published comes from the same run. */
    int rc = oq_rundir_resolve(dir_arg, dir, sizeof dir, err);
    if (rc) goto cleanup;
    if ((rc = read_run(dir, &f, err))) goto cleanup;
    if ((rc = oq_redis_open(url, opts ? opts->timeout_ms : 0, &c, err))) goto cleanup;
    p = oq_redis_key_prefix(c, p, pb, sizeof pb);
    if ((rc = owner_of(c, p, me, sizeof me, err))) goto cleanup;
    long long floor = oq_publish_version_floor(dir, opts);
    redisReply *rep = oq_redis_command(c, p, "EVAL %s 3 %s:seq %s:versions %s:writing %s %lld",
                                       claim_lua, p, p, p, me, floor);
    if ((rc = reply_ok(c, rep, "claim a version", err))) goto cleanup;
    v = rep->integer;
    freeReplyObject(rep);
    if ((rc = write_version(c, p, v, dir, f.reco, f.qt, f.qlen, f.side, f.side_len, opts, err)))
        goto cleanup;
    if (opts) pause_ms(opts->pause_before_switch_ms);
    rep = oq_redis_command(
        c, p, "EVAL %s 5 %s:current %s:previous %s:writing %s:v:%lld:meta %s:v:%lld:qtable %lld %s",
        switch_lua, p, p, p, p, v, p, v, v, me);
    if ((rc = reply_ok(c, rep, "switch", err))) goto cleanup;
    long long old = rep->integer, live = v;
    freeReplyObject(rep);
    v = 0; /* live now: not ours to drop on failure */
    /* Set before collecting: if that fails, the caller can still tell that
     * the switch happened. */
    if (info) *info = (oq_publish_info){live, old, f.reco->n, f.qlen, live, 0};
    if (opts && opts->wait_replicas > 0 &&
        (rc = wait_replicas(c, p, live, opts->wait_replicas, wait_ms, info, err)))
        goto cleanup;
    if ((rc = collect(c, p, me, err))) goto cleanup;
cleanup:
    /* A failed publish drops its own version if Redis still answers; if not,
     * the next publish finds its writer gone and drops it. */
    if (rc && v && c && !oq_redis_failed(c)) (void)drop_version(c, p, v, me, NULL);
    oq_redis_free(c);
    run_files_free(&f);
    return rc;
}

int oq_publish_status(const char *url, const oq_publish_opts *opts, oq_publish_info *info,
                      oq_error *err)
{
    char pb[300];
    oq_redis *c;
    char key[512];
    memset(info, 0, sizeof *info);
    int rc = oq_redis_open(url, opts ? opts->timeout_ms : 0, &c, err);
    if (rc) return rc;
    const char *p = oq_redis_key_prefix(c, pfx(opts), pb, sizeof pb);
    snprintf(key, sizeof key, "%s:current", p);
    rc = get_ll(c, key, &info->current, err);
    snprintf(key, sizeof key, "%s:previous", p);
    if (!rc) rc = get_ll(c, key, &info->previous, err);
    snprintf(key, sizeof key, "%s:seq", p);
    if (!rc) rc = get_ll(c, key, &info->seq, err);
    oq_redis_free(c);
    return rc;
}

int oq_publish_rollback(const char *url, const oq_publish_opts *opts, oq_publish_info *info,
                        oq_error *err)
{
    char pb[300];
    oq_redis *c;
    char cur[512], prev[512];
    int rc = oq_redis_open(url, opts ? opts->timeout_ms : 0, &c, err);
    if (rc) return rc;
    const char *p = oq_redis_key_prefix(c, pfx(opts), pb, sizeof pb);
    snprintf(cur, sizeof cur, "%s:current", p);
    snprintf(prev, sizeof prev, "%s:previous", p);
    for (int t = 0;; t++) {
        if (t == SWITCH_TRIES) {
            rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "could not roll back: %s kept changing",
                              cur);
            break;
        }
        long long a = 0, b = 0;
        if ((rc = cmd(c, p, err, "WATCH", "WATCH %s %s", cur, prev))) break;
        if ((rc = get_ll(c, cur, &a, err)) || (rc = get_ll(c, prev, &b, err))) break;
        if (!b) {
            cmd(c, p, NULL, "UNWATCH", "UNWATCH");
            rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "no previous version to roll back to");
            break;
        }
        redisReply *r = oq_redis_command(c, p, "EXISTS %s:v:%lld:meta", p, b);
        if ((rc = reply_ok(c, r, "EXISTS", err))) break;
        long long exists = r->integer;
        freeReplyObject(r);
        if (!exists) {
            cmd(c, p, NULL, "UNWATCH", "UNWATCH");
            rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "previous version %lld has no keys", b);
            break;
        }
        if ((rc = cmd(c, p, err, "MULTI", "MULTI")) ||
            (rc = cmd(c, p, err, "SET", "SET %s %lld", cur, b)) ||
            (rc = cmd(c, p, err, "SET", "SET %s %lld", prev, a)))
            break;
        r = oq_redis_command(c, p, "EXEC");
        if ((rc = reply_ok(c, r, "EXEC", err))) break;
        int done = r->type == REDIS_REPLY_ARRAY;
        freeReplyObject(r);
        if (done) {
            if (info) *info = (oq_publish_info){.current = b, .previous = a};
            break;
        }
    }
    oq_redis_free(c);
    return rc;
}

/* GET current and HGET the user's entry in one atomic step (Lua scripts run
 * atomically in Redis), so a switch can never fall between the two reads.
 * A missing field is Lua false -> a nil element. */
static const char *lookup_lua =
    "local v = redis.call('GET', KEYS[1])\n"
    "if not v then return {} end\n"
    "return {v, redis.call('HGET', ARGV[1] .. ':v:' .. v .. ':list', ARGV[2])}\n";

int oq_redis_lookup(oq_redis *c, const char *prefix, int64_t u, char **json, long long *version,
                    oq_error *err)
{
    *json = NULL;
    *version = 0;
    char pb[300];
    const char *p = oq_redis_key_prefix(c, prefix, pb, sizeof pb);
    redisReply *r =
        oq_redis_command(c, p, "EVAL %s 1 %s:current %s %lld", lookup_lua, p, p, (long long)u);
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

int oq_redis_fetch_list(oq_redis *c, const char *prefix, size_t max_users, oq_reco **out,
                        char **files, long long *version, oq_error *err)
{
    *out = NULL;
    *files = NULL;
    *version = 0;
    char pb[300];
    const char *p = oq_redis_key_prefix(c, prefix, pb, sizeof pb);
    oq_reco *r = oq_reco_new();
    json_t *fo = json_object();
    redisReply *rep = NULL;
    int rc = 0;
    if (!r || !fo) {
        rc = oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
        goto cleanup;
    }
    /* (hiredis formats know no %zu) */
    rep = oq_redis_command(c, p, "EVAL %s 1 %s:current %s %llu", fetch_lua, p, p,
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

int oq_redis_current(oq_redis *c, const char *prefix, long long *version, oq_error *err)
{
    char key[512], pb[300];
    *version = 0;
    snprintf(key, sizeof key, "%s:current", oq_redis_key_prefix(c, prefix, pb, sizeof pb));
    return get_ll(c, key, version, err);
}

static int cmp_user(const void *a, const void *b)
{
    int64_t x = ((const oq_reco_row *)a)->user_id, y = ((const oq_reco_row *)b)->user_id;
    return (x > y) - (x < y);
}

int oq_redis_fetch_version(oq_redis *c, const char *prefix, long long v, size_t max_users,
                           oq_reco **out, char **files, double *created, oq_error *err)
{
    char pb[300];
    const char *p = oq_redis_key_prefix(c, prefix, pb, sizeof pb);
    oq_reco *r = oq_reco_new();
    json_t *fo = json_object();
    redisReply *rep = NULL;
    long long users = -1;
    char cursor[32] = "0";
    int rc = 0;
    *out = NULL;
    *files = NULL;
    *created = 0;
    if (!r || !fo) {
        rc = oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
        goto cleanup;
    }
    rep = oq_redis_command(c, p, "HMGET %s:v:%lld:meta users created", p, v);
    if ((rc = reply_ok(c, rep, "HMGET meta", err))) {
        rep = NULL;
        goto cleanup;
    }
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_STRING) {
        users = reply_ll(rep->element[0]);
        *created = (double)reply_ll(rep->element[1]);
    }
    freeReplyObject(rep);
    rep = NULL;
    if (users < 0) {
        rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "version %lld has no meta (dropped?)", v);
        goto cleanup;
    }
    if ((unsigned long long)users > max_users) {
        rc = oq_error_set(err, OQ_ELIMIT, WHERE, 0, 0, "version %lld has %lld users, more than %zu",
                          v, users, max_users);
        goto cleanup;
    }
    /* The list in batches: a version's list never changes once published,
     * so a full HSCAN sees every row (a row may come twice: deduplicated). */
    do {
        rep = oq_redis_command(c, p, "HSCAN %s:v:%lld:list %s COUNT 10000", p, v, cursor);
        if ((rc = reply_ok(c, rep, "HSCAN list", err))) {
            rep = NULL;
            goto cleanup;
        }
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING) {
            rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "HSCAN: unexpected reply");
            goto cleanup;
        }
        snprintf(cursor, sizeof cursor, "%s", rep->element[0]->str);
        const redisReply *l = rep->element[1];
        for (size_t i = 0; i + 1 < l->elements; i += 2) {
            oq_reco_row row;
            int64_t u = strtoll(l->element[i]->str, NULL, 10);
            if ((rc = oq_reco_row_from_json(l->element[i + 1]->str, u, &row, err)) ||
                (rc = oq_reco_push(r, &row, err)))
                goto cleanup;
            if (r->n > 2 * (size_t)users + 4000) { /* HSCAN repeats a few rows at most */
                rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "HSCAN returned too many rows");
                goto cleanup;
            }
        }
        freeReplyObject(rep);
        rep = NULL;
    } while (strcmp(cursor, "0") != 0);
    if (r->n > 1) {
        qsort(r->rows, r->n, sizeof *r->rows, cmp_user);
        size_t k = 1;
        for (size_t i = 1; i < r->n; i++)
            if (r->rows[i].user_id != r->rows[k - 1].user_id) r->rows[k++] = r->rows[i];
        r->n = k;
    }
    /* A version dropped while it was read (two publishes meanwhile) comes
     * back short: refuse it rather than hold half a list. */
    if ((long long)r->n != users) {
        rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0,
                          "version %lld changed while read (%zu of %lld rows)", v, r->n, users);
        goto cleanup;
    }
    if ((rc = oq_reco_sort(r, err))) goto cleanup;
    rep = oq_redis_command(c, p, "HGETALL %s:v:%lld:files", p, v);
    if ((rc = reply_ok(c, rep, "HGETALL files", err))) {
        rep = NULL;
        goto cleanup;
    }
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements; i += 2)
        json_object_set_new(fo, rep->element[i]->str, json_string(rep->element[i + 1]->str));
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
