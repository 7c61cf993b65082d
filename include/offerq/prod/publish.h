/* publish.h - the Q table and the daily list in Redis (hiredis), switched
 * atomically, with one version kept for rollback.
 *
 * Keys under a prefix P ("offerq" by default):
 *   P:seq               counter that numbers versions: a publish takes
 *                       max(P:seq + 1, floor) (oq_publish_version_floor)
 *   P:current           version readers use
 *   P:previous          version `--rollback` returns to
 *   P:versions          set of versions that have keys (for cleaning up)
 *   P:writing           hash version -> writer ("<run_id>:<client id>") of
 *                       each version being written
 *   P:v:N:qtable        bytes of DIR/qtable.ofq (opaque here)
 *   P:v:N:list          hash user_id -> JSON {"coupon","coupon_value",
 *                       "expected_profit","p_alive","snapshot_date","state"}
 *   P:v:N:meta          hash: created, users, qtable_bytes, qtable_crc32, source
 *                       (written last: a version without it is incomplete)
 *   P:v:N:files         hash: name -> text of DIR/report.json, eval.json,
 *                       crosssell.json when present (for the dashboard)
 *
 * A publish first checks every file of the run (list, Q table CRC, JSON side
 * files), then claims N in one Lua script (INCR P:seq, SADD P:versions,
 * HSET P:writing N writer), writes every key of N, and switches in another
 * (only if P:writing still names it as N's writer and N's meta and qtable
 * exist): P:previous <- old current, P:current <- N, N leaves P:writing. A
 * reader that asks through oq_redis_lookup (one Lua script: GET P:current
 * then HGET in the same atomic step) therefore sees the old version or the
 * new one, never a half-written one. After its switch a publish deletes every
 * version that is neither current, previous, nor being written by a writer
 * still connected (CLIENT LIST; a restarted server has another run_id), so
 * overlapping publishes never delete each other's versions, and a killed
 * publish's version goes at the next publish. It also deletes P:v:N:* keys
 * whose N is not in P:versions (leaks). Publishes may overlap; the last to
 * switch is served.
 *
 * On a Redis Cluster (URL redis+cluster://..., rcluster.h) the same keys
 * are named under the hash tag {P} ({offerq}:current, ...): one slot, so
 * every script above stays atomic. The readers below take a connection from
 * oq_redis_open and the prefix as given (P, not {P}): the tag is added for a
 * cluster connection.
 *
 * hiredis contexts are not thread-safe: one per thread.
 */
#ifndef OFFERQ_PUBLISH_H
#define OFFERQ_PUBLISH_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"
#include "offerq/coupon/reco.h"

struct redisContext;
struct oq_redis;

#define OQ_PUBLISH_PREFIX "offerq"
#define OQ_QTABLE_FILE "qtable.ofq"

#define OQ_REDIS_TIMEOUT_MS 5000 /* default connect and command timeout */

/* Connect to url: "redis://[[user]:password@]host[:port][/db]" or
 * "unix:/path/to/socket". Default port 6379. With a password (in the URL,
 * %XX-escaped where needed, else $OFFERQ_REDIS_PASSWORD when set) the
 * connection sends AUTH [user] password (an ACL user of Redis 6+, or the
 * requirepass password without a user); a refusal is OQ_EIO naming the user,
 * never the password. Error messages show the URL with the password as ***. timeout_ms (<= 0:
 * OQ_REDIS_TIMEOUT_MS) bounds the connect and then every read and write on the context: a frozen
 * server is an OQ_EIO error ("did not answer in time") after it. *out is the caller's (redisFree).
 * OQ_EIO with the reason on failure, OQ_EINVAL for a malformed URL. */
int oq_redis_connect(const char *url, int timeout_ms, struct redisContext **out,
                     oq_error *err) OQ_WUR;

typedef struct oq_publish_opts {
    const char *prefix;         /* NULL: OQ_PUBLISH_PREFIX */
    int pause_before_switch_ms; /* tests: sleep between writing and switching */
    int pause_before_list_ms;   /* tests: sleep between the Q table and the list */
    int timeout_ms;             /* Redis connect/command timeout; <= 0: OQ_REDIS_TIMEOUT_MS */
    long long run_id;           /* > 0: the run's id (e.g. PostgreSQL runs.run_id): the
                                   version is at least this (oq_publish_version_floor) */
    int wait_replicas;          /* > 0: after the switch, WAIT until this many replicas of
                                   the master holding the keys have acknowledged it */
    int wait_timeout_ms;        /* bound on that wait; <= 0: half the command timeout;
                                   must be below the command timeout (OQ_EINVAL) */
} oq_publish_opts;

/* The lowest version a publish of the run in dir (resolved, io.h) takes:
 * opts->run_id when > 0, else the sequence number of a run folder
 * DIR.runs/<seq>-<time> (oq_rundir), else 0 (no floor). A publish numbers its
 * version max(P:seq + 1, floor), so versions keep increasing across a Redis
 * that restarted empty, and follow the run ids when every run is published. */
long long oq_publish_version_floor(const char *dir, const oq_publish_opts *opts);

/* url with the password of its userinfo replaced by *** (for messages). */
void oq_redis_url_redact(const char *url, char *out, size_t len);

typedef struct oq_publish_info {
    long long current;   /* version now served (0: none) */
    long long previous;  /* version kept for rollback (0: none) */
    size_t users;        /* rows in the current list (publish only) */
    size_t qtable_bytes; /* size of the current Q table (publish only) */
    long long seq;       /* P:seq, the last version claimed (status only) */
    int acked;           /* replicas that acknowledged the switch (wait_replicas > 0) */
} oq_publish_info;

/* Publish DIR/recommendations.csv (validated with oq_reco_read),
 * DIR/qtable.ofq (validated with oq_qtable_load) and the side files present
 * (valid JSON) as a new version and switch to it (see above); nothing is
 * written to Redis unless every file passes. opts and info may be NULL.
 * Errors: those of the readers (OQ_EPARSE for bad JSON, with its line and
 * column), OQ_EIO (Redis, including a timeout or a version collected while
 * this publish was stalled). An error with info->current set means the
 * switch happened and only what follows it failed: opts->wait_replicas
 * replicas did not all acknowledge it in time (info->acked says how many
 * did), or removing old versions failed.
 * Durability (opts->wait_replicas > 0): Redis replicates asynchronously, so a
 * switch made just before the master dies can be lost with it. The publish
 * sends WAIT wait_replicas wait_timeout_ms on its own connection to that
 * master after the switch; a replica applies the master's stream in order,
 * so its acknowledgement covers the switch and every key of the version
 * written before it. */
int oq_publish_dir(const char *url, const char *dir, const oq_publish_opts *opts,
                   oq_publish_info *info, oq_error *err) OQ_WUR;

/* Swap P:current and P:previous atomically (a second rollback rolls
 * forward). OQ_EINVAL if there is no previous version or its keys are gone. */
int oq_publish_rollback(const char *url, const oq_publish_opts *opts, oq_publish_info *info,
                        oq_error *err) OQ_WUR;

/* Current and previous versions. */
int oq_publish_status(const char *url, const oq_publish_opts *opts, oq_publish_info *info,
                      oq_error *err) OQ_WUR;

/* One atomic read: the current version and user u's JSON entry.
 * Returns 0 with *json (caller frees, NULL if u is not in the list) and
 * *version (0 and *json NULL if nothing is published); OQ_EIO on a Redis
 * error (the context should then be dropped and reconnected). */
int oq_redis_lookup(struct oq_redis *rc, const char *prefix, int64_t u, char **json,
                    long long *version, oq_error *err) OQ_WUR;

/* The whole current list (for the dashboard): rows into *out (oq_reco_free),
 * files hash as a JSON object text in *files (caller frees; "{}" if none),
 * and the version. Refuses lists over max_users (OQ_ELIMIT). */
int oq_redis_fetch_list(struct oq_redis *rc, const char *prefix, size_t max_users, oq_reco **out,
                        char **files, long long *version, oq_error *err) OQ_WUR;

/* The current version (GET P:current; 0: nothing published). */
int oq_redis_current(struct oq_redis *rc, const char *prefix, long long *version,
                     oq_error *err) OQ_WUR;

/* Every row of version v into *out (sorted; oq_reco_free), its files hash as
 * a JSON object text in *files (caller frees) and its publication time from
 * its meta in *created (Unix seconds). The list is read in HSCAN batches, so
 * Redis is never blocked for long, which a published version allows: it
 * never changes. OQ_ELIMIT over max_users; OQ_EIO on a Redis error, or when
 * v has no meta or came back short (dropped while read: ask again). */
int oq_redis_fetch_version(struct oq_redis *rc, const char *prefix, long long v, size_t max_users,
                           oq_reco **out, char **files, double *created, oq_error *err) OQ_WUR;

/* JSON text of one recommendation (the P:v:N:list value). Caller frees. */
char *oq_reco_row_json(const oq_reco_row *row);
/* Parse such a JSON text into row (user_id is set from u). 0 or OQ_EPARSE. */
int oq_reco_row_from_json(const char *json, int64_t u, oq_reco_row *row, oq_error *err) OQ_WUR;

#endif
