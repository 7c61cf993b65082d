/* db.h - the customer log and the daily lists in PostgreSQL (libpq).
 *
 * The production layout (docs/readme/prod.md): the shop's log lives in
 * PostgreSQL, the nightly job reads it from there and writes the day's
 * recommendations back, recording the run. Schema (oq_db_init):
 *
 *   customer_log     the log's 10 columns (README, "Data") with the reader's
 *                    checks as CHECK constraints; primary key
 *                    (user_id, snapshot_date)
 *   runs             run_id, started_at, finished_at, source, log_rows,
 *                    recommendations, report (jsonb or NULL)
 *   recommendations  run_id -> runs, then the reco.h columns; primary key
 *                    (run_id, user_id)
 *
 * url is a libpq connection string or URI ("postgresql://user@host:port/db",
 * "host=/tmp/x port=5433 dbname=offerq"), or a list of them, one server per
 * shard (issue 20 item 3): URLs separated by newlines, or by commas or
 * blanks right before a "postgresql://" / "postgres://" scheme (so
 * "postgresql://a/db,postgresql://b/db"; a URI's own multi-host commas are
 * not followed by a scheme). With n servers, customer u's rows live on
 * server oq_shard_of(u, n) (comm.h: the split of `--shards` and of MPI
 * ranks); runs and recommendations live on the first server only (the other
 * servers have the tables, empty). Every function opens its own
 * connections and closes them: nothing here is shared between threads. An
 * error on one server of a list names it: "shard k (URL k+1 of n, URL):".
 * Timeouts: connect_timeout OQ_DB_CONNECT_TIMEOUT seconds and the server-side
 * statement_timeout OQ_DB_STATEMENT_TIMEOUT ms, unless the URL sets
 * connect_timeout / options, or $PGCONNECT_TIMEOUT / $PGOPTIONS are set.
 * (A server frozen after the connection is made is not bounded: libpq has
 * no client-side query timeout.)
 * Errors: OQ_EIO (connection or server error; err->msg carries the server's
 * message and detail), plus the codes named per function.
 */
#ifndef OFFERQ_DB_H
#define OFFERQ_DB_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"
#include "offerq/core/tables.h"
#include "offerq/coupon/reco.h"

#define OQ_DB_CONNECT_TIMEOUT "5"        /* seconds (libpq connect_timeout) */
#define OQ_DB_STATEMENT_TIMEOUT "600000" /* ms: a COPY of a large log fits */
#define OQ_DB_MIN_STARTED_AT 946684800.0 /* 2000-01-01: earlier is not a wall clock */

#define OQ_DB_MAX_SHARDS 64       /* servers in one url list */
#define OQ_DB_MAX_PARTITIONS 1024 /* partitions of customer_log */

/* The number of servers url names (>= 1), or a negative OQ_E* (OQ_EINVAL:
 * no URL, more than OQ_DB_MAX_SHARDS). Nothing is connected. */
int oq_db_shard_count(const char *url, oq_error *err) OQ_WUR;

/* Create the three tables if they do not exist (idempotent), on every
 * server of url. */
int oq_db_init(const char *url, oq_error *err) OQ_WUR;
/* The same with customer_log partitioned (native declarative partitioning)
 * into partitions (1..OQ_DB_MAX_PARTITIONS; 0: a plain table): PARTITION BY
 * LIST on a column shard = oq_shard_of(user_id, partitions) that
 * oq_db_load_log computes (not PARTITION BY HASH: PostgreSQL's hash of
 * user_id is its own, and a part of a run could not select its customers by
 * it), partitions customer_log_p0 .. _p{partitions-1}, key (user_id,
 * snapshot_date, shard). An existing customer_log is kept when it has that
 * layout (or partitions is 0); another layout is OQ_EINVAL (what to do is in
 * the message: dump, drop, init, load). */
int oq_db_init_layout(const char *url, int partitions, oq_error *err) OQ_WUR;

/* What a load did: rows of the file, and of those the rows that were new to
 * customer_log, that replaced a different row, and that were there already
 * as they are (left untouched). rows = inserted + updated + unchanged. */
typedef struct oq_db_load_info {
    size_t rows, inserted, updated, unchanged;
} oq_db_load_info;

/* Load a log CSV into customer_log: the file is first read and validated in
 * full with oq_log_read (a bad field: OQ_EPARSE with file:line:column, and
 * nothing is sent), then streamed with COPY FROM STDIN into a staging table
 * with customer_log's constraints and merged into customer_log, all inside
 * one transaction. A row already in the table (same user_id and
 * snapshot_date) is replaced by the file's when it differs and left alone
 * when it is the same: loading a file again loads nothing twice, and a log
 * that repeats earlier days updates them. A row the server refuses (twice in
 * the file, a value a constraint rejects) rolls the whole load back and is
 * reported as OQ_EPARSE with the file line of that row and the server's
 * detail. All or nothing: on any error nothing is committed.
 * With several servers each row goes to its customer's (oq_shard_of(u, n)),
 * in one transaction per server; the commits come one after the other once
 * every server has taken its rows (no two-phase commit: a server lost
 * between two commits leaves the ones before loaded, and the message says
 * so; loading the file again completes it). Into a partitioned customer_log
 * each row goes with its shard column (oq_db_init_layout).
 * *info (may be NULL) receives the counts of what was committed. */
int oq_db_load_log(const char *url, const char *csv_path, oq_db_load_info *info,
                   oq_error *err) OQ_WUR;

/* Read the whole customer_log back into an oq_log (data.h), ordered by
 * (user_id, snapshot_date), from every server of url. Streamed with COPY TO
 * STDOUT, row by row: the table is never held as text. Category ids follow
 * the sorted names (oq_log_canonical). A row on a server that is not its
 * customer's (oq_shard_of(u, n) for n servers) is OQ_EINVAL: the list must
 * be the one the log was loaded with, in the same order.
 * *out is the caller's (oq_log_free), NULL on error. */
int oq_db_read_log(const char *url, oq_log **out, oq_error *err) OQ_WUR;

/* The rows of one part's customers (comm.h: oq_shard_of(u, size) == rank;
 * NULL or size 1: all), read without fetching the others: with n servers,
 * when size divides n, only servers k with k mod size == rank are read,
 * whole; otherwise every server is read with WHERE shard IN (the partitions
 * of the part), which needs customer_log partitioned into a multiple of
 * size partitions (oq_db_init_layout), else OQ_EINVAL saying so. The
 * dictionary holds this part's categories only: parts agree on it with
 * oq_log_share_cats (data.h). */
struct oq_part;
int oq_db_read_log_part(const char *url, const struct oq_part *part, oq_log **out,
                        oq_error *err) OQ_WUR;

/* What a run records beside its recommendations. */
typedef struct oq_db_run {
    int64_t run_id;          /* > 0: this id, reserved with oq_db_reserve_run_id; 0: the next */
    const char *source;      /* e.g. "offerq run --pg" or a directory; may be NULL */
    double started_at;       /* Unix time in seconds (oq_unix_now, not oq_now); 0 = now */
    size_t log_rows;         /* rows of the log the run read */
    const char *report_json; /* the run's report.json text, or NULL */
} oq_db_run;

/* On the first server of url, in one transaction: insert a runs row (finished_at = now) and COPY
 * the day's list into recommendations under its run_id. *run_id (may be NULL) receives the new id.
 * All or nothing. OQ_EINVAL if report_json is not JSON or started_at is neither 0 nor a Unix time
 * after OQ_DB_MIN_STARTED_AT. */
int oq_db_save_run(const char *url, const oq_reco *reco, const oq_db_run *run, int64_t *run_id,
                   oq_error *err) OQ_WUR;

/* Take a run id (on the first server of url) before the run (offerq nightly names its run folder
 * and its Redis version with it): the next value of runs.run_id's sequence, raised to floor when it
 * is below (and the sequence with it, so later runs follow on). Ids are never given twice; a run
 * that dies leaves a gap. The schema must exist (oq_db_init). */
int oq_db_reserve_run_id(const char *url, int64_t floor, int64_t *run_id, oq_error *err) OQ_WUR;

/* On the first server of url: keep the keep (>= 1) newest runs and delete the others with their
 * recommendations, in one statement. *deleted (may be NULL): runs deleted. */
int oq_db_prune_runs(const char *url, int64_t keep, int64_t *deleted, oq_error *err) OQ_WUR;

/* What offerq nightly --check reports of a server: it answered, its version,
 * whether oq_db_init's tables exist and, if so, their row counts and the
 * newest run id (0: none). */
typedef struct oq_db_info {
    char server_version[32]; /* the first server's */
    int shards;              /* servers in the list; each one answered */
    int has_schema;          /* on every server */
    int64_t log_rows, runs, recommendations, last_run_id;
} oq_db_info;

/* Connect to every server and fill *info (log_rows: the sum over the
 * servers; runs: the first's); OQ_EIO if a server cannot be reached. */
int oq_db_check(const char *url, oq_db_info *info, oq_error *err) OQ_WUR;

/* ---- a shop's raw tables (tables.h; issue 17 item 5) ----------------------
 *
 *   contacts   user_id, date (NULL: a log without dates), offer, ordered
 *              (0/1), value, propensity (NULL: none), nth, seq
 *   customers  user_id, then the attribute columns of the first file
 *              loaded, in its order, under its names: double precision
 *              for an attribute the CSV reader types numeric, text for a
 *              text one (NULL: missing), then seq
 *   orders     user_id, date, value, category (NULL: none), nth, seq
 *   events     user_id, date, category, nth, seq
 *   offers     offer, redeem_cost, contact_cost, seq (the first server)
 *
 * user_id is text (tables.h); a per-customer table's row lives on server
 * oq_shard_of_id(user_id, n) and, partitioned, in partition
 * oq_shard_of_id(user_id, M) (column shard), as customer_log's rows do.
 * nth tells identical rows of one file apart (the k-th row of the same
 * contacts (user_id, date, offer), or the same orders or events row,
 * has nth k - 1), so that the key (UNIQUE NULLS NOT DISTINCT, PostgreSQL
 * 15 or later) makes a second load of the same file change nothing.
 * seq is the row's place in the loads: a load's new rows are numbered
 * after every row already there, in file order; a read returns the rows
 * by seq, so a table loaded from one file reads back in that file's order
 * (the CSV path reads files in their order; the models see the same
 * rows in the same order). */
typedef enum oq_db_table {
    OQ_DB_CONTACTS,
    OQ_DB_CUSTOMERS,
    OQ_DB_ORDERS,
    OQ_DB_EVENTS,
    OQ_DB_OFFERS,
    OQ_DB_NTABLES
} oq_db_table;

/* "contacts" -> OQ_DB_CONTACTS ...; -1 for another name. */
int oq_db_table_parse(const char *name);
const char *oq_db_table_name(oq_db_table t);

/* Load a raw table's CSV: read and validated in full by its tables.h
 * reader (map: the file's column names, may be NULL; contacts' offers
 * must be in the database's offers table, so load the offers first), then
 * streamed with COPY FROM STDIN into a staging table and merged, in one
 * transaction per server, committed as oq_db_load_log does. A row already
 * there (same key) is updated when its other columns differ (contacts:
 * ordered, value, propensity; customers: the attributes; offers: the
 * costs) and left alone when not; orders and events rows are their own
 * key. Customers: the table takes the file's attribute columns when it is
 * empty; otherwise the file must have the same attributes (names, order,
 * numeric or text), else OQ_EINVAL saying what to do. A bad cell is
 * OQ_EPARSE with file:line:column and nothing is sent. */
int oq_db_load_table(const char *url, oq_db_table t, const char *csv_path, const oq_table_map *map,
                     oq_db_load_info *info, oq_error *err) OQ_WUR;

/* Write table t (the rows of part's customers; NULL: all) as the CSV its
 * tables.h reader takes, to path (atomically): the header, then the rows
 * by seq (several servers merged as they stream, nothing held whole).
 * Optional columns (contacts' date and propensity, orders' category) are
 * written when some row has them. seed_format: orders as the log path's
 * purchases file (user_id,date,value). Which servers and partitions a part
 * reads follows oq_db_read_log_part. *rows (may be NULL): rows written.
 * A row on a server that is not its customer's is OQ_EINVAL. */
int oq_db_export_table(const char *url, oq_db_table t, const struct oq_part *part, int seed_format,
                       const char *path, size_t *rows, oq_error *err) OQ_WUR;

/* Rows of table t (summed over the servers; 0 when the table does not
 * exist). */
int oq_db_table_rows(const char *url, oq_db_table t, int64_t *rows, oq_error *err) OQ_WUR;

/* url with its password (URI userinfo "user:password@" or a keyword
 * "password=...") replaced by *** (for messages). */
void oq_db_url_redact(const char *url, char *out, size_t len);

/* Rows in customer_log (every server's), runs and recommendations (the
 * first server's); any pointer may be NULL. */
int oq_db_counts(const char *url, int64_t *log_rows, int64_t *runs, int64_t *recos,
                 oq_error *err) OQ_WUR;

#endif
