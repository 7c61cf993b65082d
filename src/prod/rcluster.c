/* rcluster.c - a Redis connection that is a single server or a Redis Cluster
 * (rcluster.h). Client side of the Redis Cluster specification: key slots
 * (CRC16 with hash tags), CLUSTER SLOTS, MOVED and ASK redirections.
 *
 * hiredis 0.14: a command is formatted once (redisvFormatCommand) and the
 * same bytes are sent to whichever node a redirection names
 * (redisAppendFormattedCommand); a context whose ->err is set is freed. */
#include "offerq/prod/rcluster.h"
#include "offerq/prod/publish.h"
#include "prod/redis_int.h"

#include <hiredis/hiredis.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define WHERE "Redis Cluster"
#define MAX_HOPS 6 /* redirections and reconnections per command */

typedef struct node {
    char host[256];
    int port;
    redisContext *c; /* NULL until used, and after a failure */
} node;

struct oq_redis {
    redisContext *single; /* single server; NULL for a cluster */
    struct timeval tv;
    char user[256], pass[512];
    char shown[1024]; /* the URL with its password as *** */
    int nseeds;
    struct {
        char host[256];
        int port;
    } seed[OQ_REDIS_MAX_SEEDS];
    int nnodes;
    node nodes[OQ_REDIS_MAX_NODES];
    int16_t slot[OQ_REDIS_SLOTS]; /* node index serving each slot, -1: unknown */
    int stale;                    /* refresh the map before the next command */
    int err;                      /* hiredis error of the last failed command, 0 if none */
    char errstr[512];
};

/* ---- slots --------------------------------------------------------------------- */

uint16_t oq_redis_crc16(const void *buf, size_t len)
{
    const unsigned char *p = buf;
    uint16_t crc = 0;
    for (size_t i = 0; i < len; i++) {
        crc ^= (uint16_t)(p[i] << 8);
        for (int b = 0; b < 8; b++)
            crc = (uint16_t)(crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1);
    }
    return crc;
}

unsigned oq_redis_keyslot(const char *key, size_t len)
{
    /* The cluster spec's keyHashSlot: hash only {tag} when it is not empty. */
    const char *open = memchr(key, '{', len);
    if (open) {
        size_t s = (size_t)(open - key) + 1;
        const char *close = memchr(key + s, '}', len - s);
        if (close && close > key + s)
            return oq_redis_crc16(key + s, (size_t)(close - key - s)) & 16383;
    }
    return oq_redis_crc16(key, len) & 16383;
}

int oq_redis_url_is_cluster(const char *url)
{
    return url && !strncmp(url, OQ_REDIS_CLUSTER_SCHEME, strlen(OQ_REDIS_CLUSTER_SCHEME));
}

const char *oq_redis_key_prefix(const oq_redis *r, const char *prefix, char *out, size_t len)
{
    if (!prefix) prefix = OQ_PUBLISH_PREFIX;
    if (r && !r->single && !strchr(prefix, '{'))
        snprintf(out, len, "{%s}", prefix);
    else
        snprintf(out, len, "%s", prefix);
    return out;
}

/* ---- URL --------------------------------------------------------------------------- */

/* redis+cluster://[[user]:password@]host[:port][,host[:port]...] */
static int parse_cluster_url(oq_redis *r, const char *url, oq_error *err)
{
    const char *h = url + strlen(OQ_REDIS_CLUSTER_SCHEME), *at = strrchr(h, '@');
    if (at) {
        if (oq_redis_userinfo(h, at, r->user, sizeof r->user, r->pass, sizeof r->pass))
            return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                "bad user or password in Redis Cluster URL '%s' (write special "
                                "characters as %%XX)",
                                r->shown);
        h = at + 1;
    }
    while (*h) {
        size_t n = strcspn(h, ",");
        size_t hl = strcspn(h, ":,");
        if (r->nseeds == OQ_REDIS_MAX_SEEDS)
            return oq_error_set(err, OQ_ELIMIT, WHERE, 0, 0,
                                "Redis Cluster URL '%s' names more than %d nodes", r->shown,
                                OQ_REDIS_MAX_SEEDS);
        if (hl == 0 || hl >= sizeof r->seed[0].host || memchr(h, '/', n))
            return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                "bad Redis Cluster URL '%s': expected "
                                "redis+cluster://[[user]:password@]host:port[,host:port...] "
                                "(no /db: a cluster has only db 0)",
                                r->shown);
        memcpy(r->seed[r->nseeds].host, h, hl);
        r->seed[r->nseeds].host[hl] = 0;
        long port = 6379;
        if (hl < n) {
            char *end;
            port = strtol(h + hl + 1, &end, 10);
            if (end == h + hl + 1 || end != h + n || port <= 0 || port > 65535)
                return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                    "bad port in Redis Cluster URL '%s' (node %d)", r->shown,
                                    r->nseeds + 1);
        }
        r->seed[r->nseeds++].port = (int)port;
        h += n;
        if (*h == ',') h++;
    }
    if (!r->nseeds)
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                            "Redis Cluster URL '%s' names no node: expected "
                            "redis+cluster://host:port[,host:port...]",
                            r->shown);
    return 0;
}

/* ---- nodes ------------------------------------------------------------------------- */

static void set_err(oq_redis *r, int code, const char *host, int port, const char *why)
{
    r->err = code ? code : REDIS_ERR_OTHER;
    snprintf(r->errstr, sizeof r->errstr, "%s:%d: %s", host, port, why);
}

static void node_close(node *n)
{
    if (n->c) redisFree(n->c);
    n->c = NULL;
}

/* A connection to host:port with the timeout and AUTH; NULL with r->err set. */
static redisContext *dial(oq_redis *r, const char *host, int port)
{
    redisContext *c = redisConnectWithTimeout(host, port, r->tv);
    if (!c) {
        set_err(r, REDIS_ERR_OOM, host, port, "out of memory");
        return NULL;
    }
    if (c->err || redisSetTimeout(c, r->tv) != REDIS_OK) {
        set_err(r, c->err, host, port, c->errstr[0] ? c->errstr : "cannot set the timeout");
        redisFree(c);
        return NULL;
    }
    if (r->pass[0]) {
        const char *argv[3] = {"AUTH", r->user, r->pass};
        size_t lens[3] = {4, strlen(r->user), strlen(r->pass)};
        int with_user = r->user[0] != 0;
        if (!with_user) argv[1] = r->pass, lens[1] = lens[2];
        redisReply *a = redisCommandArgv(c, with_user ? 3 : 2, argv, lens);
        if (!a || a->type == REDIS_REPLY_ERROR) {
            char why[300];
            snprintf(why, sizeof why, "AUTH%s%s%s: %s", with_user ? " of user '" : "",
                     with_user ? r->user : "", with_user ? "'" : "", a ? a->str : c->errstr);
            set_err(r, a ? REDIS_ERR_OTHER : c->err, host, port, why);
            if (a) freeReplyObject(a);
            redisFree(c);
            return NULL;
        }
        freeReplyObject(a);
    }
    return c;
}

/* Index of node host:port, added when new; -1 when the table is full. */
static int node_find(oq_redis *r, const char *host, int port)
{
    for (int i = 0; i < r->nnodes; i++)
        if (r->nodes[i].port == port && !strcmp(r->nodes[i].host, host)) return i;
    if (r->nnodes == OQ_REDIS_MAX_NODES || strlen(host) >= sizeof r->nodes[0].host) return -1;
    node *n = &r->nodes[r->nnodes];
    snprintf(n->host, sizeof n->host, "%s", host);
    n->port = port;
    n->c = NULL;
    return r->nnodes++;
}

static redisContext *node_ctx(oq_redis *r, int i)
{
    node *n = &r->nodes[i];
    if (!n->c) n->c = dial(r, n->host, n->port);
    return n->c;
}

/* Read the slot map from c (CLUSTER SLOTS: [start, end, [ip, port, id], replicas...]).
 * host is the node asked, for entries whose ip is empty. 0, or -1 with r->err. */
static int read_slots(oq_redis *r, redisContext *c, const char *host, int port)
{
    redisReply *m = redisCommand(c, "CLUSTER SLOTS");
    if (!m) {
        set_err(r, c->err, host, port, c->errstr);
        return -1;
    }
    if (m->type != REDIS_REPLY_ARRAY) {
        set_err(r, REDIS_ERR_OTHER, host, port,
                m->type == REDIS_REPLY_ERROR ? m->str : "CLUSTER SLOTS: unexpected reply");
        freeReplyObject(m);
        return -1;
    }
    int16_t fresh[OQ_REDIS_SLOTS];
    for (int s = 0; s < OQ_REDIS_SLOTS; s++)
        fresh[s] = -1;
    for (size_t i = 0; i < m->elements; i++) {
        const redisReply *e = m->element[i];
        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3 ||
            e->element[2]->type != REDIS_REPLY_ARRAY || e->element[2]->elements < 2)
            continue;
        long long a = e->element[0]->integer, b = e->element[1]->integer;
        const redisReply *mh = e->element[2]->element[0], *mp = e->element[2]->element[1];
        const char *ip = mh->type == REDIS_REPLY_STRING && mh->len > 0 && strcmp(mh->str, "?") != 0
                             ? mh->str
                             : host;
        int ni = node_find(r, ip, (int)mp->integer);
        if (ni < 0 || a < 0 || b >= OQ_REDIS_SLOTS || a > b) continue;
        for (long long s = a; s <= b; s++)
            fresh[s] = (int16_t)ni;
    }
    freeReplyObject(m);
    memcpy(r->slot, fresh, sizeof fresh);
    r->stale = 0;
    return 0;
}

/* Refresh the slot map from the first node that answers: connected nodes,
 * then every known node, then the seeds. 0, or -1 (the old map is kept). */
static int refresh(oq_redis *r)
{
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < r->nnodes; i++) {
            if (pass == 0 && !r->nodes[i].c) continue;
            redisContext *c = node_ctx(r, i);
            if (c && !read_slots(r, c, r->nodes[i].host, r->nodes[i].port)) return 0;
            if (c && c->err) node_close(&r->nodes[i]);
        }
    for (int i = 0; i < r->nseeds; i++) {
        int ni = node_find(r, r->seed[i].host, r->seed[i].port);
        redisContext *c = ni >= 0 ? node_ctx(r, ni) : NULL;
        if (c && !read_slots(r, c, r->seed[i].host, r->seed[i].port)) return 0;
        if (c && c->err) node_close(&r->nodes[ni]);
    }
    return -1;
}

/* "MOVED 3999 127.0.0.1:6381" / "ASK ..." -> slot and node index; -1 if unparsable. */
static int parse_redirect(oq_redis *r, const char *s, int *slot)
{
    const char *sp = strchr(s, ' ');
    if (!sp) return -1;
    char *end;
    long sl = strtol(sp + 1, &end, 10);
    if (end == sp + 1 || *end != ' ' || sl < 0 || sl >= OQ_REDIS_SLOTS) return -1;
    const char *hp = end + 1, *colon = strrchr(hp, ':');
    if (!colon || colon == hp || (size_t)(colon - hp) >= 256) return -1;
    char host[256];
    memcpy(host, hp, (size_t)(colon - hp));
    host[colon - hp] = 0;
    long port = strtol(colon + 1, &end, 10);
    if (port <= 0 || port > 65535) return -1;
    *slot = (int)sl;
    return node_find(r, host, (int)port);
}

/* Send the formatted command to the node of slot (-1: any), following
 * redirections. NULL with r->err / r->errstr when no node answered. */
static redisReply *run_formatted(oq_redis *r, int slot, const char *cmd, size_t len)
{
    int ask = -1, reconnected = 0;
    long waited_ms = 0, nap_ms = 2;
    long timeout_ms = (long)r->tv.tv_sec * 1000 + r->tv.tv_usec / 1000;
    r->err = 0;
    r->errstr[0] = 0;
    for (int hop = 0; hop < MAX_HOPS; hop++) {
        if (r->stale) (void)refresh(r);
        int ni = ask;
        if (ni < 0 && slot >= 0) ni = r->slot[slot];
        if (ni < 0 && slot < 0) /* any node: the first that serves a slot */
            for (int s = 0; s < OQ_REDIS_SLOTS && ni < 0; s++)
                ni = r->slot[s];
        if (ni < 0) {
            if (!r->err)
                set_err(r, REDIS_ERR_OTHER, "cluster", 0,
                        slot >= 0 ? "no node serves the key's slot" : "no node serves any slot");
            r->stale = 1;
            if (reconnected++) return NULL;
            continue;
        }
        node *n = &r->nodes[ni];
        redisContext *c = node_ctx(r, ni);
        redisReply *rep = NULL;
        int ok = c && (ask < 0 || redisAppendCommand(c, "ASKING") == REDIS_OK) &&
                 redisAppendFormattedCommand(c, cmd, len) == REDIS_OK;
        if (ok && ask >= 0) { /* ASKING's own reply */
            ok = redisGetReply(c, (void **)&rep) == REDIS_OK;
            if (rep) freeReplyObject(rep);
            rep = NULL;
        }
        if (ok) ok = redisGetReply(c, (void **)&rep) == REDIS_OK && rep;
        if (!ok) {
            if (c) {
                set_err(r, c->err, n->host, n->port, c->errstr);
                node_close(n);
            }
            r->stale = 1;
            /* A timeout is not retried (a frozen node would double the wait). */
            if (oq_redis_timed_out(r) || reconnected++) return NULL;
            ask = -1;
            continue;
        }
        int asked = ask;
        ask = -1;
        /* TRYAGAIN: a multi-key command (a Lua script's keys) while its slot
         * is being moved and only some of the keys have arrived; nothing was
         * run. Wait (2 ms doubling to 100 ms) up to the command timeout. */
        if (rep->type == REDIS_REPLY_ERROR && !strncmp(rep->str, "TRYAGAIN", 8) &&
            waited_ms < timeout_ms) {
            freeReplyObject(rep);
            struct timespec ts = {0, (long)nap_ms * 1000000L};
            nanosleep(&ts, NULL);
            waited_ms += nap_ms;
            nap_ms = nap_ms * 2 > 100 ? 100 : nap_ms * 2;
            hop--;
            ask = asked; /* the same node again, with ASKING if it was an ASK */
            continue;
        }
        if (rep->type == REDIS_REPLY_ERROR &&
            (!strncmp(rep->str, "MOVED ", 6) || !strncmp(rep->str, "ASK ", 4))) {
            int s = -1, to = parse_redirect(r, rep->str, &s);
            int moved = rep->str[0] == 'M';
            if (to < 0) return rep; /* not understood: the caller sees the error */
            freeReplyObject(rep);
            if (moved) {
                r->slot[s] = (int16_t)to;
                r->stale = 1; /* more slots have probably moved with it */
            } else {
                ask = to;
            }
            continue;
        }
        r->err = 0;
        r->errstr[0] = 0;
        return rep;
    }
    if (!r->err) set_err(r, REDIS_ERR_OTHER, "cluster", 0, "too many redirections");
    return NULL;
}

/* ---- API --------------------------------------------------------------------------- */

int oq_redis_open(const char *url, int timeout_ms, oq_redis **out, oq_error *err)
{
    *out = NULL;
    oq_redis *r = calloc(1, sizeof *r);
    if (!r) return oq_error_set(err, OQ_ENOMEM, WHERE, 0, 0, "out of memory");
    int rc = 0;
    if (!oq_redis_url_is_cluster(url)) {
        if ((rc = oq_redis_connect(url, timeout_ms, &r->single, err))) goto cleanup;
        *out = r;
        return 0;
    }
    if (timeout_ms <= 0) timeout_ms = OQ_REDIS_TIMEOUT_MS;
    r->tv = (struct timeval){timeout_ms / 1000, (timeout_ms % 1000) * 1000};
    for (int s = 0; s < OQ_REDIS_SLOTS; s++)
        r->slot[s] = -1;
    oq_redis_url_redact(url, r->shown, sizeof r->shown);
    if ((rc = parse_cluster_url(r, url, err))) goto cleanup;
    const char *envpw = getenv("OFFERQ_REDIS_PASSWORD");
    if (!r->pass[0] && envpw && envpw[0]) snprintf(r->pass, sizeof r->pass, "%s", envpw);
    if (refresh(r)) {
        rc = oq_error_set(err, OQ_EIO, WHERE, 0, 0, "cannot read the slot map of %s: %s%s",
                          r->shown, r->errstr,
                          oq_redis_timed_out(r) ? " (no answer in time; see --redis-timeout-ms)"
                          : strstr(r->errstr, "cluster support disabled")
                              ? " (not a cluster: use redis://host:port)"
                              : "");
        goto cleanup;
    }
    *out = r;
    r = NULL;
cleanup:
    oq_redis_free(r);
    return rc;
}

void oq_redis_free(oq_redis *r)
{
    if (!r) return;
    if (r->single) redisFree(r->single);
    for (int i = 0; i < r->nnodes; i++)
        node_close(&r->nodes[i]);
    memset(r->pass, 0, sizeof r->pass);
    free(r);
}

int oq_redis_is_cluster(const oq_redis *r)
{
    return r && !r->single;
}

struct redisContext *oq_redis_context_for(oq_redis *r, const char *key)
{
    if (r->single) return r->single;
    if (r->stale) (void)refresh(r);
    int ni = r->slot[oq_redis_keyslot(key, strlen(key))];
    return ni >= 0 ? node_ctx(r, ni) : NULL;
}

struct redisReply *oq_redis_command(oq_redis *r, const char *key, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = oq_redis_vcommand(r, key, fmt, ap);
    va_end(ap);
    return rep;
}

struct redisReply *oq_redis_vcommand(oq_redis *r, const char *key, const char *fmt, va_list ap)
{
    redisReply *rep = NULL;
    if (r->single) {
        rep = redisvCommand(r->single, fmt, ap);
    } else {
        char *cmd = NULL;
        int len = redisvFormatCommand(&cmd, fmt, ap);
        if (len < 0) {
            set_err(r, REDIS_ERR_OTHER, "cluster", 0, "bad command format");
        } else {
            rep = run_formatted(r, key ? (int)oq_redis_keyslot(key, strlen(key)) : -1, cmd,
                                (size_t)len);
        }
        redisFreeCommand(cmd);
    }
    return rep;
}

struct redisReply *oq_redis_command_argv(oq_redis *r, const char *key, int argc, const char **argv,
                                         const size_t *lens)
{
    if (r->single) return redisCommandArgv(r->single, argc, argv, lens);
    char *cmd = NULL;
    int len = redisFormatCommandArgv(&cmd, argc, argv, lens);
    if (len < 0) {
        set_err(r, REDIS_ERR_OOM, "cluster", 0, "out of memory");
        return NULL;
    }
    redisReply *rep =
        run_formatted(r, key ? (int)oq_redis_keyslot(key, strlen(key)) : -1, cmd, (size_t)len);
    redisFreeCommand(cmd);
    return rep;
}

const char *oq_redis_errstr(const oq_redis *r)
{
    return r->single ? r->single->errstr : r->errstr;
}

int oq_redis_failed(const oq_redis *r)
{
    return r->single ? r->single->err != 0 : r->err != 0;
}

int oq_redis_timed_out(const oq_redis *r)
{
    /* hiredis 0.14 reports a read or write past SO_RCVTIMEO as EAGAIN's text. */
    int e = r->single ? r->single->err : r->err;
    const char *s = oq_redis_errstr(r);
    return e == REDIS_ERR_IO &&
           (strstr(s, "temporarily unavailable") || strstr(s, "imed out") || strstr(s, "imeout"));
}

int oq_redis_closed(const oq_redis *r)
{
    int e = r->single ? r->single->err : r->err;
    const char *s = oq_redis_errstr(r);
    return e == REDIS_ERR_EOF ||
           (e == REDIS_ERR_IO && (strstr(s, "reset") || strstr(s, "Broken pipe")));
}
