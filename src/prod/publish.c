/* publish.c - versioned, atomically switched publication to Redis (publish.h).
 *
 * hiredis 0.14: every reply is freed (freeReplyObject); a context whose
 * ->err is set is unusable and is freed by its owner. */
#include "offerq/prod/publish.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/coupon/dynaq.h"
#include "util/json.h"

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

int oq_redis_connect(const char *url, int timeout_ms, redisContext **out, oq_error *err)
{
    *out = NULL;
    if (timeout_ms <= 0) timeout_ms = OQ_REDIS_TIMEOUT_MS;
    struct timeval tv = {timeout_ms / 1000, (timeout_ms % 1000) * 1000};
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
    /* The same bound on every read and write after connecting: a frozen or
     * misaddressed server is an error after timeout_ms, not a hang. */
    if (c->err || redisSetTimeout(c, tv) != REDIS_OK) {
        int rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "cannot connect to %s: %s%s", url,
                              c->errstr[0] ? c->errstr : "cannot set the timeout",
                              timed_out(c) ? " (no answer in time; see --redis-timeout-ms)" : "");
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
    if (!r && timed_out(c))
        return oq_error_set(err, OQ_EIO, WHERE, 0, 0,
                            "%s: Redis did not answer in time (frozen or overloaded? the "
                            "limit is --redis-timeout-ms)",
                            what);
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
static int owner_of(redisContext *c, char *out, size_t len, oq_error *err)
{
    redisReply *r = redisCommand(c, "INFO server");
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
    r = redisCommand(c, "CLIENT ID");
    if ((rc = reply_ok(c, r, "CLIENT ID", err))) return rc;
    snprintf(out, len, "%s:%lld", run, r->integer);
    freeReplyObject(r);
    return 0;
}

/* Claim the next version: number it, register it (so that nothing it writes
 * can be lost track of) and record its writer, in one atomic step.
 * KEYS: P:seq P:versions P:writing; ARGV: owner. */
static const char *claim_lua = "local v = redis.call('INCR', KEYS[1])\n"
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

static int drop_version(redisContext *c, const char *p, long long v, const char *dead,
                        oq_error *err)
{
    return cmd(c, err, "drop version",
               "EVAL %s 4 %s:current %s:previous %s:writing %s:versions %s %lld %s", drop_lua, p, p,
               p, p, p, v, dead);
}

static void pause_ms(int ms)
{
    if (ms <= 0) return;
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Write every key of version v (not yet visible to readers). side[i] is the
 * text of side_name[i] (NULL: absent). */
static int write_version(redisContext *c, const char *p, long long v, const char *dir,
                         const oq_reco *r, const char *qt, size_t qlen, char *const side[],
                         const size_t side_len[], const oq_publish_opts *o, oq_error *err)
{
    int rc = cmd(c, err, "SET qtable", "SET %s:v:%lld:qtable %b", p, v, qt, qlen);
    if (rc) return rc;
    if (o) pause_ms(o->pause_before_list_ms);
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
    /* Side files for the dashboard (validated by the caller). */
    for (size_t i = 0; i < OQ_N_SIDE; i++) {
        if (!side[i]) continue;
        rc = cmd(c, err, "HSET files", "HSET %s:v:%lld:files %s %b", p, v, side_name[i], side[i],
                 side_len[i]);
        if (rc) goto cleanup;
    }
    /* meta last: the switch refuses a version without it. */
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
static int collect(redisContext *c, const char *p, const char *me, oq_error *err)
{
    redisReply *w = NULL, *cl = NULL, *vs = NULL, *sc = NULL;
    char run[80], pat[600];
    snprintf(run, sizeof run, "%.*s", (int)strcspn(me, ":"), me);
    int rc = 0;
    w = redisCommand(c, "HGETALL %s:writing", p);
    if ((rc = reply_ok(c, w, "HGETALL writing", err))) {
        w = NULL;
        goto cleanup;
    }
    /* After the writers: a writer in w is either in this list or dead. */
    cl = redisCommand(c, "CLIENT LIST TYPE normal");
    if ((rc = reply_ok(c, cl, "CLIENT LIST", err))) {
        cl = NULL;
        goto cleanup;
    }
    vs = redisCommand(c, "SMEMBERS %s:versions", p);
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
        sc = redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, pat);
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
            rc = cmd(c, err, "sweep", "EVAL %s 2 %s %s:versions %lld", sweep_lua, k, p, n);
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

int oq_publish_dir(const char *url, const char *dir_arg, const oq_publish_opts *opts,
                   oq_publish_info *info, oq_error *err)
{
    const char *p = pfx(opts);
    char dir[4096], me[128];
    run_files f = {0};
    redisContext *c = NULL;
    long long v = 0;
    if (info) memset(info, 0, sizeof *info);
    /* DIR may be a link that a run switches meanwhile (io.h): resolve it once
     * so every file published comes from the same run. */
    int rc = oq_rundir_resolve(dir_arg, dir, sizeof dir, err);
    if (rc) goto cleanup;
    if ((rc = read_run(dir, &f, err))) goto cleanup;
    if ((rc = oq_redis_connect(url, opts ? opts->timeout_ms : 0, &c, err))) goto cleanup;
    if ((rc = owner_of(c, me, sizeof me, err))) goto cleanup;
    redisReply *rep =
        redisCommand(c, "EVAL %s 3 %s:seq %s:versions %s:writing %s", claim_lua, p, p, p, me);
    if ((rc = reply_ok(c, rep, "claim a version", err))) goto cleanup;
    v = rep->integer;
    freeReplyObject(rep);
    if ((rc = write_version(c, p, v, dir, f.reco, f.qt, f.qlen, f.side, f.side_len, opts, err)))
        goto cleanup;
    if (opts) pause_ms(opts->pause_before_switch_ms);
    rep = redisCommand(
        c, "EVAL %s 5 %s:current %s:previous %s:writing %s:v:%lld:meta %s:v:%lld:qtable %lld %s",
        switch_lua, p, p, p, p, v, p, v, v, me);
    if ((rc = reply_ok(c, rep, "switch", err))) goto cleanup;
    long long old = rep->integer, live = v;
    freeReplyObject(rep);
    v = 0; /* live now: not ours to drop on failure */
    /* Set before collecting: if that fails, the caller can still tell that
     * the switch happened. */
    if (info) *info = (oq_publish_info){live, old, f.reco->n, f.qlen};
    if ((rc = collect(c, p, me, err))) goto cleanup;
cleanup:
    /* A failed publish drops its own version if Redis still answers; if not,
     * the next publish finds its writer gone and drops it. */
    if (rc && v && c && !c->err) (void)drop_version(c, p, v, me, NULL);
    if (c) redisFree(c);
    run_files_free(&f);
    return rc;
}

int oq_publish_status(const char *url, const oq_publish_opts *opts, oq_publish_info *info,
                      oq_error *err)
{
    const char *p = pfx(opts);
    redisContext *c;
    char key[512];
    memset(info, 0, sizeof *info);
    int rc = oq_redis_connect(url, opts ? opts->timeout_ms : 0, &c, err);
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
    int rc = oq_redis_connect(url, opts ? opts->timeout_ms : 0, &c, err);
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
