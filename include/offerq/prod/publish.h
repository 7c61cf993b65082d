/* publish.h - the Q table and the daily list in Redis (hiredis), switched
 * atomically, with one version kept for rollback.
 *
 * Keys under a prefix P ("offerq" by default):
 *   P:seq               INCR counter that numbers versions
 *   P:current           version readers use
 *   P:previous          version `--rollback` returns to
 *   P:versions          set of versions that have keys (for cleaning up)
 *   P:v:N:qtable        bytes of DIR/qtable.ofq (opaque here)
 *   P:v:N:list          hash user_id -> JSON {"coupon","coupon_value",
 *                       "expected_profit","p_alive","snapshot_date","state"}
 *   P:v:N:meta          hash: created, users, qtable_bytes, qtable_crc32, source
 *   P:v:N:files         hash: name -> text of DIR/report.json, eval.json,
 *                       crosssell.json when present (for the dashboard)
 *
 * A publish writes every key of a new version N first and only then, in one
 * MULTI/EXEC guarded by WATCH P:current, sets P:previous to the old current
 * and P:current to N. A reader that asks through oq_redis_lookup (one Lua
 * script: GET P:current then HGET in the same atomic step) therefore sees the
 * old version or the new one, never a half-written one; a publish killed
 * before the switch leaves P:current as it was, and the orphan keys are
 * removed by the next publish. Versions older than P:previous are deleted
 * after a switch.
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

#define OQ_PUBLISH_PREFIX "offerq"
#define OQ_QTABLE_FILE "qtable.ofq"

/* Connect to url: "redis://host[:port][/db]" or "unix:/path/to/socket".
 * Default port 6379. *out is the caller's (redisFree). OQ_EIO with the
 * reason on failure, OQ_EINVAL for a malformed URL. */
int oq_redis_connect(const char *url, struct redisContext **out, oq_error *err) OQ_WUR;

typedef struct oq_publish_opts {
    const char *prefix;         /* NULL: OQ_PUBLISH_PREFIX */
    int pause_before_switch_ms; /* tests: sleep between writing and switching */
} oq_publish_opts;

typedef struct oq_publish_info {
    long long current;   /* version now served (0: none) */
    long long previous;  /* version kept for rollback (0: none) */
    size_t users;        /* rows in the current list (publish only) */
    size_t qtable_bytes; /* size of the current Q table (publish only) */
} oq_publish_info;

/* Publish DIR/recommendations.csv (validated with oq_reco_read) and
 * DIR/qtable.ofq as a new version and switch to it (see above). opts and info
 * may be NULL. Errors: those of the readers, OQ_EIO (Redis). */
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
int oq_redis_lookup(struct redisContext *rc, const char *prefix, int64_t u, char **json,
                    long long *version, oq_error *err) OQ_WUR;

/* The whole current list (for the dashboard): rows into *out (oq_reco_free),
 * files hash as a JSON object text in *files (caller frees; "{}" if none),
 * and the version. Refuses lists over max_users (OQ_ELIMIT). */
int oq_redis_fetch_list(struct redisContext *rc, const char *prefix, size_t max_users,
                        oq_reco **out, char **files, long long *version, oq_error *err) OQ_WUR;

/* JSON text of one recommendation (the P:v:N:list value). Caller frees. */
char *oq_reco_row_json(const oq_reco_row *row);
/* Parse such a JSON text into row (user_id is set from u). 0 or OQ_EPARSE. */
int oq_reco_row_from_json(const char *json, int64_t u, oq_reco_row *row, oq_error *err) OQ_WUR;

#endif
