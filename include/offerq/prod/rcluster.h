/* rcluster.h - one Redis connection that is either a single server or a
 * Redis Cluster (hiredis 0.14 has no cluster client: this is the routing).
 *
 * Implements the client side of the Redis Cluster specification
 * (https://redis.io/docs/reference/cluster-spec/): a key's slot is
 * CRC16-XMODEM(key) mod 16384, where only the part between the first '{' and
 * the next '}' is hashed when that part is not empty (a hash tag); the slot
 * map comes from CLUSTER SLOTS; a "MOVED slot host:port" reply updates the map
 * (and asks for a full refresh before the next command) and the command is
 * sent again there; an "ASK slot host:port" reply sends ASKING then the
 * command to that node once, without changing the map; a TRYAGAIN reply (a
 * multi-key command while its slot moves) is sent again after a wait, up to
 * the command timeout. A node whose
 * connection fails is closed, the map is refreshed (from any node that
 * answers, else the seeds of the URL) and the command is tried once more;
 * a timeout is not retried (a frozen node would double it).
 *
 * URLs: "redis://..." and "unix:..." open a single server exactly as
 * oq_redis_connect (publish.h); "redis+cluster://[[user]:password@]host:port
 * [,host:port...]" opens a cluster from one or more seed nodes (port 6379
 * when left out; the password, %XX-escaped, or $OFFERQ_REDIS_PASSWORD is
 * sent to every node).
 *
 * A handle is not thread-safe: one per thread. Ownership: oq_redis_open's
 * handle is the caller's (oq_redis_free, NULL-safe); replies are the
 * caller's (freeReplyObject). */
#ifndef OFFERQ_RCLUSTER_H
#define OFFERQ_RCLUSTER_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

struct redisReply;
struct redisContext;

#define OQ_REDIS_CLUSTER_SCHEME "redis+cluster://"
#define OQ_REDIS_SLOTS 16384
#define OQ_REDIS_MAX_NODES 64 /* nodes a handle keeps track of */
#define OQ_REDIS_MAX_SEEDS 16 /* host:port entries in a cluster URL */

typedef struct oq_redis oq_redis;

/* CRC16-CCITT (XMODEM: polynomial 0x1021, initial value 0, no reflection),
 * the checksum of the cluster spec; "123456789" gives 0x31C3. */
uint16_t oq_redis_crc16(const void *buf, size_t len);

/* The cluster slot of key[0..len) (hash tags honoured), 0..16383. */
unsigned oq_redis_keyslot(const char *key, size_t len);

/* Is url a cluster URL (OQ_REDIS_CLUSTER_SCHEME)? */
int oq_redis_url_is_cluster(const char *url);

/* Open url (above). timeout_ms (<= 0: OQ_REDIS_TIMEOUT_MS of publish.h)
 * bounds every connect and every command on every node. A cluster is opened
 * by reading its slot map from the first seed that answers; OQ_EINVAL for a
 * malformed URL, OQ_EIO when no seed answers or a seed is not a cluster
 * (named in the message, password shown as ***). */
int oq_redis_open(const char *url, int timeout_ms, oq_redis **out, oq_error *err) OQ_WUR;

void oq_redis_free(oq_redis *r);

/* 1 for a cluster handle. */
int oq_redis_is_cluster(const oq_redis *r);

/* For pipelining: the hiredis context of the single server, or of the node
 * that the slot map names for key (connected now if need be; NULL when it
 * cannot be reached). Borrowed (oq_redis_free frees it). Replies read from
 * it are not routed: on a cluster they may be MOVED, ASK or TRYAGAIN errors
 * (the command was not run), which the caller sends again through
 * oq_redis_command; a context left with ->err set is replaced by the
 * handle at its next command. */
struct redisContext *oq_redis_context_for(oq_redis *r, const char *key);

/* Run a command (hiredis format) on the node that serves key's slot (key
 * NULL: any node; on a single server key is ignored). Returns the reply
 * (caller frees; an error reply is a reply) or NULL when no node could be
 * reached: oq_redis_errstr says why. */
struct redisReply *oq_redis_command(oq_redis *r, const char *key, const char *fmt, ...);

/* The same with a va_list. */
struct redisReply *oq_redis_vcommand(oq_redis *r, const char *key, const char *fmt, va_list ap);

/* The same with an argument vector (binary safe). */
struct redisReply *oq_redis_command_argv(oq_redis *r, const char *key, int argc, const char **argv,
                                         const size_t *lens);

/* After a NULL reply: the reason ("" if none), whether it was a timeout, and
 * whether the server closed the connection (EOF, reset, broken pipe: a
 * restarted server, worth one retry on a new connection). */
const char *oq_redis_errstr(const oq_redis *r);
int oq_redis_timed_out(const oq_redis *r);
int oq_redis_closed(const oq_redis *r);

/* Did the last command fail at the connection level (NULL reply)? A single
 * server's handle is then unusable (open a new one); a cluster handle
 * reconnects by itself at the next command. */
int oq_redis_failed(const oq_redis *r);

/* Prefix for keys: prefix itself on a single server; on a cluster "{prefix}"
 * (a hash tag, so that every key of offerq lives in one slot and the Lua
 * scripts of publish.c stay atomic), or prefix unchanged when it already
 * holds a '{'. Written to out (len bytes); returns out. */
const char *oq_redis_key_prefix(const oq_redis *r, const char *prefix, char *out, size_t len);

#endif
