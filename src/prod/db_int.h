/* db_int.h - internals shared by db.c (the log, runs and lists) and
 * db_tables.c (a shop's raw tables): server lists, connections, COPY
 * streams. Not installed; the API is include/offerq/prod/db.h. */
#ifndef OFFERQ_DB_INT_H
#define OFFERQ_DB_INT_H

#include "offerq/core/error.h"
#include "offerq/prod/db.h"

#include <libpq-fe.h>
#include <stddef.h>
#include <stdint.h>

#define WHERE "PostgreSQL"
#define COPY_CHUNK (256 * 1024)

/* A table's layout on one server (oq_dbi_layout): absent, a plain table,
 * or (>= 0) partitioned by offerq's shard into that many partitions. */
enum { LAYOUT_ABSENT = -2, LAYOUT_PLAIN = -1 };

/* The servers of a url (db.h): one libpq URL, or several. */
typedef struct oq_dbi_shards {
    int n;
    char *url[OQ_DB_MAX_SHARDS];
    char *buf; /* the pieces, cut in a copy of the spec */
} oq_dbi_shards;

/* A COPY FROM STDIN in progress: rows are gathered into buf (COPY_CHUNK
 * bytes, the caller's) and sent a chunk at a time. */
typedef struct oq_dbi_copybuf {
    PGconn *c;
    char *buf; /* (COPY_CHUNK) */
    size_t n;
    int failed;
} oq_dbi_copybuf;

/* err <- "what: the server's message - detail" (OQ_EIO); returns OQ_EIO. */
int oq_dbi_fail(oq_error *err, PGconn *c, const PGresult *res, const char *what);
/* Run sql expecting no rows or rows; OQ_EIO naming what otherwise. */
int oq_dbi_exec(PGconn *c, const char *sql, const char *what, oq_error *err) OQ_WUR;
/* Cut a url list into servers (s->buf is the caller's: oq_dbi_shards_free). */
int oq_dbi_shards_split(const char *spec, oq_dbi_shards *s, oq_error *err) OQ_WUR;
void oq_dbi_shards_free(oq_dbi_shards *s);
/* Put "shard k (URL k+1 of n, URL): " before err's message (lists of >1). */
int oq_dbi_shard_fail(oq_error *err, const oq_dbi_shards *s, int k, int rc);
/* A session on server k (dates ISO, floats shortest-exact, UTF8); NULL and
 * *rc on error. The caller PQfinish()es it. */
PGconn *oq_dbi_shard_connect(const oq_dbi_shards *s, int k, oq_error *err, int *rc);
PGconn *oq_dbi_first_connect(const char *url, oq_error *err, int *rc);
/* The single number sql answers (NULL reads as 0). */
int oq_dbi_query_i64(PGconn *c, const char *sql, const char *what, int64_t *out,
                     oq_error *err) OQ_WUR;
int oq_dbi_layout(PGconn *c, const char *table, int *layout, oq_error *err) OQ_WUR;

void oq_dbi_flush(oq_dbi_copybuf *b);
void oq_dbi_put(oq_dbi_copybuf *b, const char *s, size_t len);
/* A text-format COPY field (backslash, tab, LF, CR escaped). */
void oq_dbi_put_text(oq_dbi_copybuf *b, const char *s);
void oq_dbi_printf(oq_dbi_copybuf *b, const char *fmt, ...) OQ_PRINTF(2, 3);
/* End the COPY; *bad_row (may be NULL) gets the 1-based COPY row a server
 * error names (0 if none). */
int oq_dbi_copy_end(oq_dbi_copybuf *b, const char *what, long *bad_row, oq_error *err) OQ_WUR;
/* The file line of data record k (1-based, header excluded) of a CSV, 0 if
 * not found. */
long oq_dbi_file_line(const char *path, long k);
/* A merge's counts (oq_db_load_info): sent rows, of which existing had
 * their key in the table already; merged = the rows the INSERT ... ON
 * CONFLICT DO UPDATE ... WHERE wrote (new ones and changed ones). */
void oq_dbi_merge_counts(oq_db_load_info *info, size_t sent, size_t existing,
                         unsigned long long merged);
void oq_dbi_info_add(oq_db_load_info *sum, const oq_db_load_info *one);
/* COMMIT c[0..n) one after the other (no two-phase commit): a server lost
 * between two commits leaves the earlier ones loaded, which the message
 * says (a load is idempotent: loading the file again completes it). */
int oq_dbi_commit_all(PGconn **c, int n, const oq_dbi_shards *s, oq_error *err) OQ_WUR;
/* Create the raw tables (db_tables.c) that are not there, per-customer
 * ones in partitions partitions (0: plain); forced (init --partitions):
 * an existing per-customer table of another layout is OQ_EINVAL. Servers
 * before PostgreSQL 15 are left without them. */
int oq_dbi_raw_init(PGconn *c, int partitions, int forced, oq_error *err) OQ_WUR;
/* Undo COPY text-format escapes in place; returns the new length. */
size_t oq_dbi_unescape(char *s, size_t len);

#endif
