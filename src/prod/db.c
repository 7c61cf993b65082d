/* db.c - customer log and daily lists in PostgreSQL (db.h), with libpq.
 *
 * Bulk paths use COPY in text format (PostgreSQL docs, "COPY", File Formats:
 * tab-separated, backslash escapes for tab, newline, carriage return and
 * backslash). Protocol per libpq docs 34.10: PQputCopyData ... PQputCopyEnd,
 * then PQgetResult until NULL; PQgetCopyData returns one whole row a call. */
#include "offerq/prod/db.h"
#include "db_int.h"
#include "offerq/core/comm.h"
#include "offerq/core/csv.h"
#include "util/num.h"

#include <jansson.h>
#include <libpq-fe.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* customer_log's columns and checks; LOG_TABLE_PLAIN and the partitioned
 * form (log_table_sql) add the key. */
#define LOG_TABLE_COLS                                                                             \
    "  user_id bigint NOT NULL,\n"                                                                 \
    "  snapshot_date date NOT NULL,\n"                                                             \
    "  days_since_last_purchase integer NOT NULL CHECK (days_since_last_purchase >= 0),\n"         \
    "  purchases_last_30d integer NOT NULL CHECK (purchases_last_30d >= 0),\n"                     \
    "  avg_order_value double precision NOT NULL CHECK (avg_order_value >= 0),\n"                  \
    "  category text NOT NULL CHECK (category <> ''),\n"                                           \
    "  remaining_budget_pct real NOT NULL CHECK (remaining_budget_pct BETWEEN 0 AND 1),\n"         \
    "  coupon_offered text NOT NULL CHECK (coupon_offered IN ('none','5','10','20')),\n"           \
    "  order_placed smallint NOT NULL CHECK (order_placed IN (0, 1)),\n"                           \
    "  order_profit double precision NOT NULL,\n"

static const char *log_table_plain = "CREATE TABLE IF NOT EXISTS customer_log (\n" LOG_TABLE_COLS
                                     "  PRIMARY KEY (user_id, snapshot_date));\n";

static const char *schema_sql =
    "CREATE TABLE IF NOT EXISTS runs (\n"
    "  run_id bigserial PRIMARY KEY,\n"
    "  started_at timestamptz NOT NULL,\n"
    "  finished_at timestamptz NOT NULL DEFAULT now(),\n"
    "  source text,\n"
    "  log_rows bigint NOT NULL DEFAULT 0,\n"
    "  recommendations bigint NOT NULL DEFAULT 0,\n"
    "  report jsonb);\n"
    "CREATE TABLE IF NOT EXISTS recommendations (\n"
    "  run_id bigint NOT NULL REFERENCES runs ON DELETE CASCADE,\n"
    "  user_id bigint NOT NULL,\n"
    "  snapshot_date date NOT NULL,\n"
    "  state text NOT NULL,\n"
    "  coupon text NOT NULL CHECK (coupon IN ('none','5','10','20')),\n"
    "  expected_profit double precision NOT NULL,\n"
    "  p_alive double precision NOT NULL CHECK (p_alive BETWEEN 0 AND 1),\n"
    "  PRIMARY KEY (run_id, user_id));\n";

#define LOG_COLS                                                                                   \
    "user_id, snapshot_date, days_since_last_purchase, purchases_last_30d, "                       \
    "avg_order_value, category, remaining_budget_pct, coupon_offered, order_placed, "              \
    "order_profit"

static void quiet_notice(void *arg, const char *msg)
{
    (void)arg;
    (void)msg;
}

/* Server message (+ detail) without the trailing newline. */
int oq_dbi_fail(oq_error *err, PGconn *c, const PGresult *res, const char *what)
{
    const char *msg = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    char buf[400];
    snprintf(buf, sizeof buf, "%s", msg ? msg : (c ? PQerrorMessage(c) : "no connection"));
    size_t n = strlen(buf);
    while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
        buf[--n] = 0;
    return oq_error_set(err, OQ_EIO, WHERE, 0, 0, "%s: %s%s%s", what, buf, detail ? " - " : "",
                        detail ? detail : "");
}

static PGconn *db_connect(const char *url, oq_error *err, int *rc)
{
    /* Defaults before the URL, so that its own connect_timeout or options win
     * (PQconnectdbParams, expand_dbname: later keywords override earlier ones);
     * NULL leaves the libpq environment ($PGCONNECT_TIMEOUT, $PGOPTIONS) in
     * charge when it is set. Without a connect timeout a frozen postmaster or
     * a port that is not PostgreSQL hangs the command for ever. */
    const char *kw[] = {"connect_timeout", "options", "dbname", NULL};
    const char *val[] = {
        getenv("PGCONNECT_TIMEOUT") ? NULL : OQ_DB_CONNECT_TIMEOUT,
        getenv("PGOPTIONS") ? NULL : "-c statement_timeout=" OQ_DB_STATEMENT_TIMEOUT, url, NULL};
    PGconn *c = PQconnectdbParams(kw, val, 1);
    if (!c) {
        *rc = oq_error_oom(err, WHERE, NULL);
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        *rc =
            oq_dbi_fail(err, c, NULL,
                        strstr(PQerrorMessage(c), "timeout expired")
                            ? "cannot connect (no answer within connect_timeout; a frozen server, "
                              "or not PostgreSQL on that port?)"
                            : "cannot connect");
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, quiet_notice, NULL);
    /* Dates as YYYY-MM-DD and floats in their shortest exact form (the
     * default since PostgreSQL 12; said here so older servers agree). */
    PGresult *res = PQexec(c, "SET DateStyle = 'ISO, YMD'; SET extra_float_digits = 1; "
                              "SET client_encoding = 'UTF8'");
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        *rc = oq_dbi_fail(err, c, res, "session setup");
        PQclear(res);
        PQfinish(c);
        return NULL;
    }
    PQclear(res);
    *rc = 0;
    return c;
}

int oq_dbi_exec(PGconn *c, const char *sql, const char *what, oq_error *err)
{
    PGresult *res = PQexec(c, sql);
    ExecStatusType st = PQresultStatus(res);
    int rc = (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) ? 0 : oq_dbi_fail(err, c, res, what);
    PQclear(res);
    return rc;
}

/* ---- shard lists ------------------------------------------------------------- */

static int is_scheme(const char *p)
{
    return !strncmp(p, "postgresql://", 13) || !strncmp(p, "postgres://", 11);
}

static int is_blank(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r';
}

void oq_dbi_shards_free(oq_dbi_shards *s)
{
    free(s->buf);
    s->buf = NULL;
    s->n = 0;
}

/* Cut spec into URLs: at every newline, and at commas and blanks that come
 * right before a URI scheme (a URI's own commas, its several hosts, are
 * followed by a host, never by a scheme). Empty pieces are skipped. */
int oq_dbi_shards_split(const char *spec, oq_dbi_shards *s, oq_error *err)
{
    memset(s, 0, sizeof *s);
    size_t len = spec ? strlen(spec) : 0;
    if (!(s->buf = malloc(len + 1))) return oq_error_oom(err, WHERE, NULL);
    memcpy(s->buf, spec ? spec : "", len + 1);
    char *start = s->buf;
    for (char *p = s->buf;; p++) {
        int end = *p == 0, cut = end || *p == '\n';
        if (!cut && (*p == ',' || is_blank(*p))) {
            const char *q = p;
            while (*q == ',' || is_blank(*q))
                q++;
            cut = is_scheme(q);
        }
        if (!cut) continue;
        *p = 0;
        while (is_blank(*start))
            start++;
        char *e = start + strlen(start);
        while (e > start && is_blank(e[-1]))
            *--e = 0;
        if (*start) {
            if (s->n == OQ_DB_MAX_SHARDS) {
                oq_dbi_shards_free(s);
                return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                    "more than %d PostgreSQL URLs (one per shard) in the list",
                                    OQ_DB_MAX_SHARDS);
            }
            s->url[s->n++] = start;
        }
        if (end) break;
        start = p + 1;
    }
    if (!s->n) {
        oq_dbi_shards_free(s);
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "no PostgreSQL URL given");
    }
    return 0;
}

int oq_db_shard_count(const char *url, oq_error *err)
{
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    if (rc) return rc;
    int n = s.n;
    oq_dbi_shards_free(&s);
    return n;
}

/* Put which server of a list failed in front of err's message. */
int oq_dbi_shard_fail(oq_error *err, const oq_dbi_shards *s, int k, int rc)
{
    if (s->n <= 1 || !err) return rc;
    char shown[512];
    oq_db_url_redact(s->url[k], shown, sizeof shown);
    return oq_error_set(err, rc, err->file, err->line, err->col, "shard %d (URL %d of %d, %s): %s",
                        k, k + 1, s->n, shown, err->msg);
}

PGconn *oq_dbi_shard_connect(const oq_dbi_shards *s, int k, oq_error *err, int *rc)
{
    PGconn *c = db_connect(s->url[k], err, rc);
    if (!c) *rc = oq_dbi_shard_fail(err, s, k, *rc);
    return c;
}

/* The first server of url: where runs and recommendations live. */
PGconn *oq_dbi_first_connect(const char *url, oq_error *err, int *rc)
{
    oq_dbi_shards s;
    if ((*rc = oq_dbi_shards_split(url, &s, err))) return NULL;
    PGconn *c = oq_dbi_shard_connect(&s, 0, err, rc);
    oq_dbi_shards_free(&s);
    return c;
}

/* A single count(*)-like number of a query. */
int oq_dbi_query_i64(PGconn *c, const char *sql, const char *what, int64_t *out, oq_error *err)
{
    PGresult *res = PQexec(c, sql);
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = oq_dbi_fail(err, c, res, what);
    else
        *out = PQgetisnull(res, 0, 0) ? 0 : strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    return rc;
}

/* table on this server: LAYOUT_ABSENT, LAYOUT_PLAIN, or partitioned by
 * offerq's shard into *layout (>= 0) partitions. table is one of offerq's
 * own names (not quoted). */
int oq_dbi_layout(PGconn *c, const char *table, int *layout, oq_error *err)
{
    char sql[600];
    snprintf(sql, sizeof sql,
             "SELECT CASE WHEN to_regclass('%s') IS NULL THEN -2 ELSE "
             "coalesce((SELECT (SELECT count(*) FROM pg_catalog.pg_inherits i "
             "WHERE i.inhparent = p.partrelid) FROM pg_catalog.pg_partitioned_table p "
             "WHERE p.partrelid = to_regclass('%s')), -1) END",
             table, table);
    int64_t v = LAYOUT_ABSENT;
    int rc = oq_dbi_query_i64(c, sql, "reading a table's layout", &v, err);
    *layout = (int)v;
    return rc;
}

/* customer_log partitioned by LIST on the column shard = oq_shard_of(user_id,
 * m), which offerq computes when it loads (PostgreSQL's own hash partitioning
 * hashes user_id its own way, which a rank could not select by). The key
 * must hold the partition column; shard is a function of user_id, so the key
 * is (user_id, snapshot_date) all the same. */
static char *log_table_partitioned(int m)
{
    size_t cap = 2048 + (size_t)m * 96, o;
    char *q = malloc(cap);
    if (!q) return NULL;
    o = (size_t)snprintf(
        q, cap,
        "CREATE TABLE customer_log (\n" LOG_TABLE_COLS
        "  shard smallint NOT NULL CHECK (shard >= 0 AND shard < %d),\n"
        "  PRIMARY KEY (user_id, snapshot_date, shard)) PARTITION BY LIST (shard);\n",
        m);
    for (int k = 0; k < m && o < cap; k++)
        o += (size_t)snprintf(q + o, cap - o,
                              "CREATE TABLE customer_log_p%d PARTITION OF customer_log "
                              "FOR VALUES IN (%d);\n",
                              k, k);
    return q;
}

static int init_one(PGconn *c, int partitions, oq_error *err)
{
    int layout, rc;
    if ((rc = oq_dbi_exec(c, "BEGIN", "BEGIN", err)) ||
        (rc = oq_dbi_layout(c, "customer_log", &layout, err)))
        return rc;
    if (layout == LAYOUT_ABSENT && partitions > 0) {
        char *q = log_table_partitioned(partitions);
        if (!q) return oq_error_oom(err, WHERE, NULL);
        rc = oq_dbi_exec(c, q, "creating the partitioned customer_log", err);
        free(q);
    } else if (layout == LAYOUT_ABSENT) {
        rc = oq_dbi_exec(c, log_table_plain, "creating customer_log", err);
    } else if (partitions > 0 && layout != partitions) {
        char has[64];
        if (layout == LAYOUT_PLAIN)
            snprintf(has, sizeof has, "is a plain table");
        else
            snprintf(has, sizeof has, "has %d partitions", layout);
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                            "--partitions %d: customer_log already exists and %s; to change its "
                            "layout, save it (offerq db dump), DROP TABLE customer_log, init "
                            "again and load it back",
                            partitions, has);
    }
    if (!rc) rc = oq_dbi_exec(c, schema_sql, "creating the schema", err);
    /* the raw tables take customer_log's layout */
    if (!rc)
        rc = oq_dbi_raw_init(c,
                             partitions > 0 ? partitions
                             : layout > 0   ? layout
                                            : 0,
                             partitions > 0, err);
    if (!rc) rc = oq_dbi_exec(c, "COMMIT", "COMMIT", err);
    return rc;
}

int oq_db_init_layout(const char *url, int partitions, oq_error *err)
{
    if (partitions < 0 || partitions > OQ_DB_MAX_PARTITIONS)
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                            "--partitions: expected 0 (a plain table) to %d, got %d",
                            OQ_DB_MAX_PARTITIONS, partitions);
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    for (int k = 0; !rc && k < s.n; k++) {
        PGconn *c = oq_dbi_shard_connect(&s, k, err, &rc);
        if (!c) break;
        if ((rc = init_one(c, partitions, err))) rc = oq_dbi_shard_fail(err, &s, k, rc);
        PQfinish(c); /* without COMMIT: rolled back */
    }
    oq_dbi_shards_free(&s);
    return rc;
}

int oq_db_init(const char *url, oq_error *err)
{
    return oq_db_init_layout(url, 0, err);
}

/* ---- COPY FROM STDIN ------------------------------------------------------- */

void oq_dbi_flush(oq_dbi_copybuf *b)
{
    if (b->n && !b->failed && PQputCopyData(b->c, b->buf, (int)b->n) != 1) b->failed = 1;
    b->n = 0;
}

void oq_dbi_put(oq_dbi_copybuf *b, const char *s, size_t len)
{
    if (b->n + len > COPY_CHUNK) oq_dbi_flush(b);
    if (len > COPY_CHUNK) { /* never for our rows; keep it correct anyway */
        if (!b->failed && PQputCopyData(b->c, s, (int)len) != 1) b->failed = 1;
        return;
    }
    memcpy(b->buf + b->n, s, len);
    b->n += len;
}

/* Text-format escaping of a field (COPY docs: backslash, tab, LF, CR). */
void oq_dbi_put_text(oq_dbi_copybuf *b, const char *s)
{
    char tmp[2 * 256];
    size_t k = 0;
    for (; *s; s++) {
        if (k + 2 > sizeof tmp) {
            oq_dbi_put(b, tmp, k);
            k = 0;
        }
        switch (*s) {
        case '\\':
            tmp[k++] = '\\';
            tmp[k++] = '\\';
            break;
        case '\t':
            tmp[k++] = '\\';
            tmp[k++] = 't';
            break;
        case '\n':
            tmp[k++] = '\\';
            tmp[k++] = 'n';
            break;
        case '\r':
            tmp[k++] = '\\';
            tmp[k++] = 'r';
            break;
        default:
            tmp[k++] = *s;
        }
    }
    oq_dbi_put(b, tmp, k);
}

void oq_dbi_printf(oq_dbi_copybuf *b, const char *fmt, ...)
{
    char tmp[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    if (n > 0) oq_dbi_put(b, tmp, (size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1);
}

/* End the COPY and collect its result. On a server error *bad_row receives
 * the 1-based row of the COPY stream it names (0 if none). */
int oq_dbi_copy_end(oq_dbi_copybuf *b, const char *what, long *bad_row, oq_error *err)
{
    int rc = 0;
    oq_dbi_flush(b);
    if (PQputCopyEnd(b->c, b->failed ? "client write failed" : NULL) != 1)
        return oq_dbi_fail(err, b->c, NULL, what);
    PGresult *res;
    while ((res = PQgetResult(b->c))) {
        if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK) {
            rc = oq_dbi_fail(err, b->c, res, what);
            const char *ctx = PQresultErrorField(res, PG_DIAG_CONTEXT);
            const char *ln = ctx ? strstr(ctx, ", line ") : NULL;
            if (ln && bad_row) *bad_row = strtol(ln + 7, NULL, 10);
        }
        PQclear(res);
    }
    return rc;
}

/* Find the file line of data record k (1-based, header excluded). */
typedef struct line_find {
    long want, seen, line;
} line_find;

static int line_cb(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    (void)f, (void)lens, (void)n, (void)err;
    line_find *lf = ctx;
    if (lf->seen++ == lf->want) {
        lf->line = line;
        return OQ_ELIMIT; /* found: stop reading */
    }
    return 0;
}

long oq_dbi_file_line(const char *path, long k)
{
    line_find lf = {.want = k, .seen = 0, .line = 0}; /* record 0 is the header */
    oq_error e = {0};
    if (oq_csv_read(path, NULL, line_cb, &lf, &e) == OQ_ELIMIT) return lf.line;
    return 0;
}

/* The merge of load_log into customer_log: a row that is there as it is
 * stays untouched (no new row version), so a file loaded again changes
 * nothing. The conflict target is the table's key (with shard when the
 * table is partitioned). */
#define MERGE_SQL(cols, key)                                                                       \
    "INSERT INTO customer_log (" cols ") SELECT " cols " FROM load_log "                           \
    "ON CONFLICT " key " DO UPDATE SET "                                                           \
    "days_since_last_purchase = EXCLUDED.days_since_last_purchase, "                               \
    "purchases_last_30d = EXCLUDED.purchases_last_30d, "                                           \
    "avg_order_value = EXCLUDED.avg_order_value, "                                                 \
    "category = EXCLUDED.category, "                                                               \
    "remaining_budget_pct = EXCLUDED.remaining_budget_pct, "                                       \
    "coupon_offered = EXCLUDED.coupon_offered, "                                                   \
    "order_placed = EXCLUDED.order_placed, order_profit = EXCLUDED.order_profit "                  \
    "WHERE (customer_log.days_since_last_purchase, customer_log.purchases_last_30d, "              \
    "customer_log.avg_order_value, customer_log.category, "                                        \
    "customer_log.remaining_budget_pct, customer_log.coupon_offered, "                             \
    "customer_log.order_placed, customer_log.order_profit) IS DISTINCT FROM "                      \
    "(EXCLUDED.days_since_last_purchase, EXCLUDED.purchases_last_30d, "                            \
    "EXCLUDED.avg_order_value, EXCLUDED.category, EXCLUDED.remaining_budget_pct, "                 \
    "EXCLUDED.coupon_offered, EXCLUDED.order_placed, EXCLUDED.order_profit)"

/* Does row i of log go to server k of n? */
static int on_server(const oq_log *log, size_t i, int k, int n)
{
    return n <= 1 || oq_shard_of(log->user_id[i], n) == (unsigned)k;
}

/* The log row of server k's COPY row r (1-based), or -1. */
static long log_row_of(const oq_log *log, int k, int n, long r)
{
    for (size_t i = 0; i < log->n; i++)
        if (on_server(log, i, k, n) && --r == 0) return (long)i;
    return -1;
}

/* Server k of n's rows of log, in its open transaction (left open: the
 * caller commits every server once all have their rows). */
static int load_one(PGconn *c, const oq_log *log, const char *csv_path, int k, int n, char *buf,
                    oq_db_load_info *info, oq_error *err)
{
    oq_dbi_copybuf b = {.c = c, .buf = buf};
    int layout, rc;
    if ((rc = oq_dbi_exec(c, "BEGIN", "BEGIN", err)) ||
        (rc = oq_dbi_layout(c, "customer_log", &layout, err)))
        return rc;
    if (layout == LAYOUT_ABSENT || layout == 0)
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "%s (run offerq db init first)",
                            layout ? "there is no table customer_log"
                                   : "customer_log is partitioned but has no partitions");
    int parts = layout > 0 ? layout : 0; /* the shard column's modulus; 0: none */
    /* Rows go to a staging table with customer_log's constraints first (so a
     * refused row is named by its line), then into customer_log, replacing
     * the rows of the same (user_id, snapshot_date): loading a file again, or
     * tomorrow's log that repeats earlier days, updates instead of failing. */
    if ((rc = oq_dbi_exec(c,
                          "CREATE TEMP TABLE load_log (LIKE customer_log INCLUDING DEFAULTS "
                          "INCLUDING CONSTRAINTS INCLUDING INDEXES) ON COMMIT DROP",
                          "CREATE TEMP TABLE", err)))
        return rc;
    PGresult *res = PQexec(c, parts ? "COPY load_log (" LOG_COLS ", shard) FROM STDIN"
                                    : "COPY load_log (" LOG_COLS ") FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = oq_dbi_fail(err, c, res, "COPY customer_log");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    size_t sent = 0;
    for (size_t i = 0; i < log->n && !b.failed; i++) {
        if (!on_server(log, i, k, n)) continue;
        char date[11];
        oq_date_format(log->day[i], date);
        oq_dbi_printf(&b, "%lld\t%s\t%d\t%d\t%.17g\t", (long long)log->user_id[i], date,
                      log->days_since[i], log->purchases_30d[i], log->aov[i]);
        oq_dbi_put_text(&b, log->cats.names[log->category[i]]);
        oq_dbi_printf(&b, "\t%.9g\t%s\t%d\t%.17g", (double)log->budget[i],
                      oq_coupon_name(log->coupon[i]), log->order[i], log->profit[i]);
        if (parts) oq_dbi_printf(&b, "\t%u", oq_shard_of(log->user_id[i], parts));
        oq_dbi_put(&b, "\n", 1);
        sent++;
    }
    long bad_row = 0;
    if ((rc = oq_dbi_copy_end(&b, "loading customer_log", &bad_row, err))) {
        /* Name the file line of the refused row (COPY counts rows from 1). */
        long i = bad_row > 0 ? log_row_of(log, k, n, bad_row) : -1;
        long line = i >= 0 ? oq_dbi_file_line(csv_path, i + 1) : 0;
        if (line > 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            rc = oq_error_set(err, OQ_EPARSE, csv_path, line, 0,
                              "row refused by the database, nothing loaded: %s", msg);
        }
        return rc;
    }
    /* Rows of the file already in the table (same key), then the merge. Its
     * count is the rows inserted plus the rows updated. */
    int64_t existing = 0;
    if ((rc = oq_dbi_query_i64(c,
                               "SELECT count(*) FROM load_log JOIN customer_log "
                               "USING (user_id, snapshot_date)",
                               "comparing with customer_log", &existing, err)))
        return rc;
    res = PQexec(c, parts ? MERGE_SQL(LOG_COLS ", shard", "(user_id, snapshot_date, shard)")
                          : MERGE_SQL(LOG_COLS, "(user_id, snapshot_date)"));
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = oq_dbi_fail(err, c, res, "INSERT INTO customer_log");
        PQclear(res);
        return rc;
    }
    oq_dbi_merge_counts(info, sent, (size_t)existing, strtoull(PQcmdTuples(res), NULL, 10));
    PQclear(res);
    return 0;
}

void oq_dbi_info_add(oq_db_load_info *sum, const oq_db_load_info *one)
{
    sum->rows += one->rows;
    sum->inserted += one->inserted;
    sum->updated += one->updated;
    sum->unchanged += one->unchanged;
}

int oq_dbi_commit_all(PGconn **c, int n, const oq_dbi_shards *s, oq_error *err)
{
    for (int k = 0; k < n; k++) {
        int rc = oq_dbi_exec(c[k], "COMMIT", "COMMIT", err);
        if (!rc) continue;
        rc = oq_dbi_shard_fail(err, s, k, rc);
        if (k > 0 && err)
            rc = oq_error_set(err, rc, err->file, err->line, err->col,
                              "%s (shards 0-%d were committed: load the file again)", err->msg,
                              k - 1);
        return rc;
    }
    return 0;
}

void oq_dbi_merge_counts(oq_db_load_info *info, size_t sent, size_t existing,
                         unsigned long long merged)
{
    info->rows = sent;
    info->inserted = sent - existing;
    info->updated = merged > info->inserted ? (size_t)merged - info->inserted : 0;
    info->unchanged = existing - info->updated;
}

int oq_db_load_log(const char *url, const char *csv_path, oq_db_load_info *info, oq_error *err)
{
    if (info) memset(info, 0, sizeof *info);
    oq_log *log = NULL;
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    if (rc) return rc;
    PGconn *c[OQ_DB_MAX_SHARDS] = {0};
    char *buf = NULL;
    oq_db_load_info sum = {0};
    if ((rc = oq_log_read(csv_path, &log, err))) goto cleanup; /* validated first: nothing sent */
    if (!(buf = malloc(COPY_CHUNK))) {
        rc = oq_error_oom(err, WHERE, NULL);
        goto cleanup;
    }
    /* Each server's rows in its own transaction, all opened before any
     * commits: a refused row or a server that cannot be reached leaves every
     * server as it was. */
    for (int k = 0; k < s.n; k++) {
        oq_db_load_info one = {0};
        if (!(c[k] = oq_dbi_shard_connect(&s, k, err, &rc))) goto cleanup;
        if ((rc = load_one(c[k], log, csv_path, k, s.n, buf, &one, err))) {
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
        oq_dbi_info_add(&sum, &one);
    }
    /* Then the commits, one server after the other (no two-phase commit: a
     * server lost between two commits leaves the earlier ones loaded; a load
     * is idempotent, so loading the file again completes it). */
    if ((rc = oq_dbi_commit_all(c, s.n, &s, err))) goto cleanup;
    if (info) *info = sum;
cleanup:
    /* Closing without COMMIT rolls a transaction back. */
    for (int k = 0; k < s.n; k++)
        if (c[k]) PQfinish(c[k]);
    oq_dbi_shards_free(&s);
    free(buf);
    oq_log_free(log);
    return rc;
}

/* ---- COPY TO STDOUT ---------------------------------------------------------- */

/* Undo text-format escapes in place; returns the new length. */
size_t oq_dbi_unescape(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] != '\\' || i + 1 == len) {
            s[o++] = s[i];
            continue;
        }
        char e = s[++i];
        s[o++] = e == 't'   ? '\t'
                 : e == 'n' ? '\n'
                 : e == 'r' ? '\r'
                 : e == 'b' ? '\b'
                 : e == 'f' ? '\f'
                 : e == 'v' ? '\v'
                            : e;
    }
    s[o] = 0;
    return o;
}

/* Parse one COPY text row (no trailing newline) into row r of l. */
static int parse_row(oq_log *l, char *line, size_t len, size_t r)
{
    char *f[10];
    size_t fl[10];
    size_t nf = 0;
    char *p = line, *end = line + len;
    while (nf < 10) {
        char *t = memchr(p, '\t', (size_t)(end - p));
        if (!t) t = end;
        f[nf] = p;
        fl[nf] = (size_t)(t - p);
        *t = 0;
        nf++;
        if (t == end) break;
        p = t + 1;
    }
    if (nf != 10) return -1;
    int64_t iv;
    double dv;
    if (oq_parse_i64(f[0], fl[0], &iv)) return -1;
    l->user_id[r] = iv;
    if (oq_date_parse(f[1], fl[1], &l->day[r])) return -1;
    if (oq_parse_i64(f[2], fl[2], &iv) || iv < 0 || iv > INT32_MAX) return -1;
    l->days_since[r] = (int32_t)iv;
    if (oq_parse_i64(f[3], fl[3], &iv) || iv < 0 || iv > INT32_MAX) return -1;
    l->purchases_30d[r] = (int32_t)iv;
    if (oq_parse_f64(f[4], fl[4], &dv) || dv < 0) return -1;
    l->aov[r] = dv;
    uint32_t cat;
    size_t cl = oq_dbi_unescape(f[5], fl[5]);
    if (cl == 0 || oq_dict_intern(&l->cats, f[5], cl, &cat)) return -1;
    l->category[r] = (uint16_t)cat;
    if (oq_parse_f64(f[6], fl[6], &dv) || !(dv >= 0 && dv <= 1)) return -1;
    l->budget[r] = (float)dv;
    int cp = oq_coupon_parse(f[7]);
    if (cp < 0) return -1;
    l->coupon[r] = (uint8_t)cp;
    if (fl[8] != 1 || (f[8][0] != '0' && f[8][0] != '1')) return -1;
    l->order[r] = (uint8_t)(f[8][0] - '0');
    if (oq_parse_f64(f[9], fl[9], &dv)) return -1;
    l->profit[r] = dv;
    return 0;
}

/* Stream one server's rows of sql (a COPY ... TO STDOUT) into l. Every row
 * must be where offerq db load puts it: on server oq_shard_of(user_id, n)
 * of the list, and, for a part, one of the part's customers. */
static int read_one(PGconn *c, const char *sql, oq_log *l, int k, int n, const oq_part *part,
                    oq_error *err)
{
    int rc = 0;
    PGresult *res = PQexec(c, sql);
    if (PQresultStatus(res) != PGRES_COPY_OUT) {
        rc = oq_dbi_fail(err, c, res, "reading customer_log");
        PQclear(res);
        return rc;
    }
    PQclear(res);
    char *row;
    int len;
    while ((len = PQgetCopyData(c, &row, 0)) > 0) {
        if (!rc) {
            size_t m = (size_t)len;
            if (m && row[m - 1] == '\n') m--;
            if (oq_log_reserve(l, l->n + 1))
                rc = oq_error_oom(err, WHERE, NULL);
            else if (parse_row(l, row, m, l->n))
                rc =
                    oq_error_set(err, OQ_EPARSE, "customer_log", (long)l->n + 1, 0,
                                 "row %zu from the database does not fit the log schema", l->n + 1);
            else if (!on_server(l, l->n, k, n))
                rc = oq_error_set(err, OQ_EINVAL, "customer_log", 0, 0,
                                  "user_id %lld is on this server but belongs to shard %u of the "
                                  "%d servers: give the servers in the order offerq db load had",
                                  (long long)l->user_id[l->n], oq_shard_of(l->user_id[l->n], n), n);
            else if (!oq_part_keeps(part, l->user_id[l->n]))
                rc = oq_error_set(err, OQ_EINVAL, "customer_log", 0, 0,
                                  "user_id %lld was read for part %d of %d but belongs to part "
                                  "%u: its shard column is not the one offerq db load writes",
                                  (long long)l->user_id[l->n], part->rank, part->size,
                                  oq_shard_of(l->user_id[l->n], part->size));
            else
                l->n++;
        }
        PQfreemem(row); /* keep draining so the connection ends cleanly */
    }
    if (len == -2 && !rc) rc = oq_dbi_fail(err, c, NULL, "reading customer_log");
    while ((res = PQgetResult(c))) {
        if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK)
            rc = oq_dbi_fail(err, c, res, "reading customer_log");
        PQclear(res);
    }
    return rc;
}

/* The query that reads part's rows from a server: every row when the server
 * holds only part's customers (no part, or the servers' shards refine the
 * parts), else those of the partitions that hold part's customers. */
static int read_sql(PGconn *c, const oq_part *part, int filter, char **out, oq_error *err)
{
    int rc = 0, layout = LAYOUT_PLAIN;
    if (filter && (rc = oq_dbi_layout(c, "customer_log", &layout, err))) return rc;
    if (filter && (layout <= 0 || layout % part->size))
        return oq_error_set(
            err, OQ_EINVAL, WHERE, 0, 0,
            "part %d of %d cannot read only its customers: %d parts do not divide the %d "
            "servers, and customer_log here %s; use as many servers as parts (or a multiple), "
            "or partition customer_log into a multiple of %d (offerq db init --partitions)",
            part->rank, part->size, part->size, filter,
            layout == LAYOUT_ABSENT ? "does not exist"
            : layout <= 0           ? "is not partitioned"
                                    : "has a number of partitions that it does not divide",
            part->size);
    size_t cap = 512 + (size_t)(layout > 0 ? layout : 0) * 8, o;
    char *q = malloc(cap);
    if (!q) return oq_error_oom(err, WHERE, NULL);
    o = (size_t)snprintf(q, cap, "COPY (SELECT " LOG_COLS " FROM customer_log");
    /* shard = h mod layout and size divides layout, so h mod size is
     * shard mod size: list the partitions of this part (pruned to them) */
    for (int v = filter ? part->rank : layout; v < layout && o < cap; v += part->size)
        o += (size_t)snprintf(q + o, cap - o, "%s%d", v == part->rank ? " WHERE shard IN (" : ", ",
                              v);
    if (o < cap)
        snprintf(q + o, cap - o, "%s ORDER BY user_id, snapshot_date) TO STDOUT",
                 filter ? ")" : "");
    *out = q;
    return 0;
}

int oq_db_read_log_part(const char *url, const oq_part *part, oq_log **out, oq_error *err)
{
    *out = NULL;
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    if (rc) return rc;
    if (part && part->size <= 1) part = NULL;
    oq_log *l = calloc(1, sizeof *l);
    if (!l) {
        oq_dbi_shards_free(&s);
        return oq_error_oom(err, WHERE, NULL);
    }
    for (int k = 0; !rc && k < s.n; k++) {
        /* n servers, size parts: customer u is on server h mod n and in part
         * h mod size. When size divides n, server k holds part k mod size's
         * customers only; otherwise every server holds some of them. */
        int whole = !part || s.n % part->size == 0;
        if (part && whole && k % part->size != part->rank) continue;
        char *sql = NULL;
        PGconn *c = oq_dbi_shard_connect(&s, k, err, &rc);
        if (!c) break;
        if (!(rc = read_sql(c, part, whole ? 0 : s.n, &sql, err)))
            rc = read_one(c, sql, l, k, s.n, part, err);
        if (rc) rc = oq_dbi_shard_fail(err, &s, k, rc);
        free(sql);
        PQfinish(c);
    }
    /* The same category ids and row order as the CSV reader gives (rows of
     * several servers are interleaved by user again; a customer found on
     * two servers is a duplicate row). */
    if (!rc) rc = oq_log_canonical(l, "customer_log", err);
    oq_dbi_shards_free(&s);
    if (rc) {
        oq_log_free(l);
        return rc;
    }
    *out = l;
    return 0;
}

int oq_db_read_log(const char *url, oq_log **out, oq_error *err)
{
    return oq_db_read_log_part(url, NULL, out, err);
}

/* ---- runs and recommendations -------------------------------------------------- */

int oq_db_save_run(const char *url, const oq_reco *reco, const oq_db_run *run, int64_t *run_id,
                   oq_error *err)
{
    if (run_id) *run_id = 0;
    /* A monotonic clock (seconds since boot) passed for Unix time would be
     * stored as a day in 1970: refuse anything before 2000 but 0 (= now). */
    if (run->started_at != 0 &&
        !(run->started_at >= OQ_DB_MIN_STARTED_AT && run->started_at < 1e11))
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                            "started_at %.0f is not Unix time (a monotonic clock?)",
                            run->started_at);
    if (run->report_json) {
        json_error_t je;
        json_t *j = json_loads(run->report_json, 0, &je);
        if (!j)
            return oq_error_set(err, OQ_EINVAL, "report", je.line, je.column,
                                "report is not JSON: %s", je.text);
        json_decref(j);
    }
    int rc;
    PGconn *c = oq_dbi_first_connect(url, err, &rc);
    oq_dbi_copybuf b = {.c = c};
    if (!c) return rc;
    if (!(b.buf = malloc(COPY_CHUNK))) {
        rc = oq_error_oom(err, WHERE, NULL);
        goto cleanup;
    }
    if ((rc = oq_dbi_exec(c, "BEGIN", "BEGIN", err))) goto cleanup;
    char started[64], rows[32], nreco[32], want[32];
    snprintf(started, sizeof started, "%.6f", run->started_at);
    snprintf(rows, sizeof rows, "%zu", run->log_rows);
    snprintf(nreco, sizeof nreco, "%zu", reco->n);
    snprintf(want, sizeof want, "%lld", (long long)(run->run_id > 0 ? run->run_id : 0));
    const char *params[6] = {started, run->source, rows, nreco, run->report_json, want};
    /* run_id 0: the column's default (the sequence's next value). */
    PGresult *res = PQexecParams(
        c,
        "INSERT INTO runs (run_id, started_at, source, log_rows, recommendations, report) "
        "VALUES (CASE WHEN $6::bigint > 0 THEN $6::bigint "
        "ELSE nextval(pg_get_serial_sequence('runs', 'run_id')) END, "
        "CASE WHEN $1::float8 = 0 THEN now() ELSE to_timestamp($1::float8) END, $2, $3, $4, "
        "$5::jsonb) RETURNING run_id",
        6, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1) {
        rc = oq_dbi_fail(err, c, res, "recording the run");
        PQclear(res);
        goto cleanup;
    }
    long long id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    res = PQexec(c, "COPY recommendations (run_id, user_id, snapshot_date, state, coupon, "
                    "expected_profit, p_alive) FROM STDIN");
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = oq_dbi_fail(err, c, res, "COPY recommendations");
        PQclear(res);
        goto cleanup;
    }
    PQclear(res);
    for (size_t i = 0; i < reco->n && !b.failed; i++) {
        const oq_reco_row *w = &reco->rows[i];
        char date[11];
        oq_date_format(w->day, date);
        oq_dbi_printf(&b, "%lld\t%lld\t%s\t", id, (long long)w->user_id, date);
        oq_dbi_put_text(&b, w->state);
        oq_dbi_printf(&b, "\t%s\t%.17g\t%.17g\n", oq_coupon_name(w->coupon), w->expected_profit,
                      w->p_alive);
    }
    if ((rc = oq_dbi_copy_end(&b, "saving recommendations", NULL, err))) goto cleanup;
    if ((rc = oq_dbi_exec(c, "COMMIT", "COMMIT", err))) goto cleanup;
    if (run_id) *run_id = id;
cleanup:
    PQfinish(c);
    free(b.buf);
    return rc;
}

int oq_db_counts(const char *url, int64_t *log_rows, int64_t *runs, int64_t *recos, oq_error *err)
{
    int64_t sum = 0, r = 0, k = 0;
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    /* customer_log on every server; runs and recommendations on the first */
    for (int i = 0; !rc && i < s.n; i++) {
        PGconn *c = oq_dbi_shard_connect(&s, i, err, &rc);
        if (!c) break;
        int64_t v = 0;
        if (!(rc = oq_dbi_query_i64(c, "SELECT count(*) FROM customer_log", "counting rows", &v,
                                    err)) &&
            i == 0 &&
            !(rc = oq_dbi_query_i64(c, "SELECT count(*) FROM runs", "counting rows", &r, err)))
            rc = oq_dbi_query_i64(c, "SELECT count(*) FROM recommendations", "counting rows", &k,
                                  err);
        if (rc) rc = oq_dbi_shard_fail(err, &s, i, rc);
        sum += v;
        PQfinish(c);
    }
    oq_dbi_shards_free(&s);
    if (rc) return rc;
    if (log_rows) *log_rows = sum;
    if (runs) *runs = r;
    if (recos) *recos = k;
    return 0;
}

int oq_db_reserve_run_id(const char *url, int64_t floor, int64_t *run_id, oq_error *err)
{
    *run_id = 0;
    char fl[32];
    snprintf(fl, sizeof fl, "%lld", (long long)(floor > 0 ? floor : 0));
    const char *params[1] = {fl};
    int rc;
    PGconn *c = oq_dbi_first_connect(url, err, &rc);
    if (!c) return rc;
    /* nextval first (never handed out again), then setval only raises: the
     * sequence's next value is past every id taken, whoever took it. */
    PGresult *res = PQexecParams(c,
                                 "SELECT setval(pg_get_serial_sequence('runs', 'run_id'), "
                                 "greatest(nextval(pg_get_serial_sequence('runs', 'run_id')), "
                                 "$1::bigint))",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK || PQntuples(res) != 1)
        rc = oq_dbi_fail(err, c, res, "taking a run id");
    else
        *run_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
    PQclear(res);
    PQfinish(c);
    return rc;
}

int oq_db_prune_runs(const char *url, int64_t keep, int64_t *deleted, oq_error *err)
{
    if (deleted) *deleted = 0;
    if (keep < 1) return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "keep at least one run");
    char k[32];
    snprintf(k, sizeof k, "%lld", (long long)keep);
    const char *params[1] = {k};
    int rc;
    PGconn *c = oq_dbi_first_connect(url, err, &rc);
    if (!c) return rc;
    /* recommendations go with their runs (ON DELETE CASCADE) */
    PGresult *res = PQexecParams(c,
                                 "DELETE FROM runs WHERE run_id NOT IN (SELECT run_id FROM runs "
                                 "ORDER BY run_id DESC LIMIT $1::bigint)",
                                 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_COMMAND_OK)
        rc = oq_dbi_fail(err, c, res, "deleting old runs");
    else if (deleted)
        *deleted = strtoll(PQcmdTuples(res), NULL, 10);
    PQclear(res);
    PQfinish(c);
    return rc;
}

/* One server of oq_db_check: has_schema, and log_rows (+ the runs' counts
 * on the first). */
static int check_one(PGconn *c, int first, oq_db_info *info, oq_error *err)
{
    int64_t tables = 0, rows = 0;
    int rc = oq_dbi_query_i64(c,
                              "SELECT count(*) FROM pg_catalog.pg_tables WHERE tablename IN "
                              "('customer_log', 'runs', 'recommendations') "
                              "AND schemaname = ANY (current_schemas(false))",
                              "looking for the tables", &tables, err);
    if (rc || tables != 3) {
        info->has_schema = 0;
        return rc;
    }
    if ((rc =
             oq_dbi_query_i64(c, "SELECT count(*) FROM customer_log", "counting rows", &rows, err)))
        return rc;
    info->log_rows += rows;
    if (!first) return 0;
    if (!(rc = oq_dbi_query_i64(c, "SELECT count(*) FROM runs", "counting rows", &info->runs,
                                err)) &&
        !(rc = oq_dbi_query_i64(c, "SELECT count(*) FROM recommendations", "counting rows",
                                &info->recommendations, err)))
        rc = oq_dbi_query_i64(c, "SELECT max(run_id) FROM runs", "counting rows",
                              &info->last_run_id, err);
    return rc;
}

int oq_db_check(const char *url, oq_db_info *info, oq_error *err)
{
    memset(info, 0, sizeof *info);
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    if (rc) return rc;
    info->has_schema = 1;
    info->shards = s.n;
    for (int k = 0; !rc && k < s.n; k++) {
        PGconn *c = oq_dbi_shard_connect(&s, k, err, &rc);
        if (!c) break;
        if (k == 0) {
            const char *v = PQparameterStatus(c, "server_version");
            snprintf(info->server_version, sizeof info->server_version, "%s", v ? v : "?");
        }
        if ((rc = check_one(c, k == 0, info, err))) rc = oq_dbi_shard_fail(err, &s, k, rc);
        PQfinish(c);
    }
    oq_dbi_shards_free(&s);
    if (!info->has_schema) info->log_rows = info->runs = info->recommendations = 0;
    return rc;
}

/* Copy s to out (len), replacing the value of every "password=" keyword (a
 * keyword/value string, or a URI's query parameter) by ***. */
static void redact_keyword(const char *s, char *out, size_t len)
{
    size_t o = 0;
    const char *p = s;
    while (*p && o + 1 < len) {
        int at_word = p == s || p[-1] == ' ' || p[-1] == '?' || p[-1] == '&' || p[-1] == '\t';
        if (at_word && !strncmp(p, "password", 8)) {
            const char *q = p + 8;
            while (*q == ' ')
                q++;
            if (*q == '=') {
                for (q++; *q == ' ';)
                    q++;
                size_t n = (size_t)(q - p);
                if (o + n + 4 >= len) break;
                memcpy(out + o, p, n);
                memcpy(out + o + n, "***", 3);
                o += n + 3;
                if (*q == '\'') { /* 'quoted \' value' */
                    for (q++; *q && *q != '\''; q++)
                        if (*q == '\\' && q[1]) q++;
                    if (*q) q++;
                } else {
                    while (*q && *q != ' ' && *q != '&' && *q != '\t')
                        q++;
                }
                p = q;
                continue;
            }
        }
        out[o++] = *p++;
    }
    out[o] = 0;
}

void oq_db_url_redact(const char *url, char *out, size_t len)
{
    if (!len) return;
    char tmp[4096];
    const char *src = url;
    /* URI form: scheme://user:password@host... */
    const char *scheme = strstr(url, "://");
    if (scheme) {
        const char *auth = scheme + 3;
        const char *end = auth + strcspn(auth, "/?#");
        const char *at = memchr(auth, '@', (size_t)(end - auth));
        const char *colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
        if (colon) {
            snprintf(tmp, sizeof tmp, "%.*s:***%s", (int)(colon - url), url, at);
            src = tmp;
        }
    }
    redact_keyword(src, out, len);
}
