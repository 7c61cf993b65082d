/* db_tables.c - a shop's raw tables (contacts, customers, orders, events,
 * offers; tables.h) in PostgreSQL (db.h, issue 17 item 5).
 *
 * A load reads the file with its tables.h reader (the checks and messages
 * of the CSV path), then streams the rows with COPY FROM STDIN (text
 * format) into a staging table and merges them with INSERT ... ON CONFLICT
 * (PostgreSQL docs, "INSERT", ON CONFLICT DO UPDATE ... WHERE). A read
 * streams COPY (SELECT ... ORDER BY seq) TO STDOUT from each server and
 * merges the servers' streams by seq into the CSV the same reader takes,
 * so the raw-table pipeline runs on exactly the rows, order and types of
 * the files that were loaded. */
#include "db_int.h"
#include "offerq/core/comm.h"
#include "offerq/core/csv.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/core/tables.h"
#include "util/num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define PG_NAME_MAX 63 /* PostgreSQL's identifier length (NAMEDATALEN - 1) */

/* One table: its fixed columns, the data columns a load sends (nth, seq
 * and shard follow), its key and the columns a reload updates. */
typedef struct tdesc {
    const char *name;
    int per_customer; /* sharded by user_id; else on the first server */
    int has_nth;
    const char *ddl;  /* the fixed columns, comma-terminated */
    const char *cols; /* data columns (customers: user_id; attributes follow) */
    const char *key;  /* conflict key, without shard */
    const char *upd;  /* updated on conflict; NULL: the row is its own key */
    int nkey;         /* leading data fields that form the key (for nth) */
} tdesc;

#define UID "user_id text NOT NULL CHECK (user_id <> ''), "
static const tdesc tables[OQ_DB_NTABLES] = {
    {"contacts", 1, 1,
     UID "date date, offer text NOT NULL CHECK (offer <> ''), "
         "ordered smallint NOT NULL CHECK (ordered IN (0, 1)), value double precision NOT NULL, "
         "propensity double precision CHECK (propensity > 0 AND propensity <= 1), "
         "nth integer NOT NULL CHECK (nth >= 0), seq bigint NOT NULL, ",
     "user_id, date, offer, ordered, value, propensity", "user_id, date, offer, nth",
     "ordered, value, propensity", 3},
    {"customers", 1, 0, UID "seq bigint NOT NULL, ", "user_id", "user_id", NULL, 1},
    {"orders", 1, 1,
     UID "date date NOT NULL, value double precision NOT NULL, "
         "category text CHECK (category <> ''), nth integer NOT NULL CHECK (nth >= 0), "
         "seq bigint NOT NULL, ",
     "user_id, date, value, category", "user_id, date, value, category, nth", NULL, 4},
    {"events", 1, 1,
     UID "date date NOT NULL, category text NOT NULL CHECK (category <> ''), "
         "nth integer NOT NULL CHECK (nth >= 0), seq bigint NOT NULL, ",
     "user_id, date, category", "user_id, date, category, nth", NULL, 3},
    {"offers", 0, 0,
     "offer text NOT NULL CHECK (offer <> ''), "
     "redeem_cost double precision NOT NULL CHECK (redeem_cost >= 0), "
     "contact_cost double precision NOT NULL CHECK (contact_cost >= 0), seq bigint NOT NULL, ",
     "offer, redeem_cost, contact_cost", "offer", "redeem_cost, contact_cost", 1},
};

int oq_db_table_parse(const char *name)
{
    for (int t = 0; t < OQ_DB_NTABLES; t++)
        if (!strcmp(name, tables[t].name)) return t;
    return -1;
}

const char *oq_db_table_name(oq_db_table t)
{
    return (unsigned)t < OQ_DB_NTABLES ? tables[t].name : "?";
}

/* ---- a growable string ----------------------------------------------------- */

typedef struct sbuf {
    char *p;
    size_t n, cap;
    int oom;
} sbuf;

static void sb_add(sbuf *b, const char *s, size_t len)
{
    if (b->oom) return;
    if (b->n + len + 1 > b->cap) {
        size_t c = b->cap ? b->cap : 4096;
        while (c < b->n + len + 1)
            c *= 2;
        char *q = realloc(b->p, c);
        if (!q) {
            b->oom = 1;
            return;
        }
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void sb_str(sbuf *b, const char *s)
{
    sb_add(b, s, strlen(s));
}

/* A COPY text-format field (NULL: \N), escaped. */
static void sb_field(sbuf *b, const char *s)
{
    if (!s) {
        sb_add(b, "\\N", 2);
        return;
    }
    for (const char *p = s; *p; p++) {
        const char *e = *p == '\\'   ? "\\\\"
                        : *p == '\t' ? "\\t"
                        : *p == '\n' ? "\\n"
                        : *p == '\r' ? "\\r"
                                     : NULL;
        if (e)
            sb_add(b, e, 2);
        else
            sb_add(b, p, 1);
    }
}

static void sb_num(sbuf *b, double v)
{
    char d[OQ_DBL_BUF];
    sb_add(b, d, (size_t)oq_fmt_double(v, d));
}

static void sb_date(sbuf *b, int32_t day)
{
    char d[11];
    oq_date_format(day, d);
    sb_add(b, d, 10);
}

/* Each name of a comma-separated list, prefixed: "pa, pb, ...". */
static void sb_each(sbuf *b, const char *list, const char *prefix)
{
    for (const char *p = list; *p;) {
        size_t len = strcspn(p, ",");
        if (p != list) sb_str(b, ", ");
        sb_str(b, prefix);
        sb_add(b, p, len);
        p += len;
        while (*p == ',' || *p == ' ')
            p++;
    }
}

/* A quoted identifier (PQescapeIdentifier's rules: "" doubled). */
static void sb_ident(sbuf *b, const char *s)
{
    sb_add(b, "\"", 1);
    for (; *s; s++)
        sb_add(b, *s == '"' ? "\"\"" : s, *s == '"' ? 2 : 1);
    sb_add(b, "\"", 1);
}

/* ---- the file's rows as COPY text --------------------------------------------- */

/* What a load sends: each row's data fields as COPY text, its user (for the
 * shard) and its nth; for customers the attributes. */
typedef struct rows {
    size_t n;
    sbuf text;     /* the rows, each NUL-terminated */
    size_t *off;   /* (n) start of row i in text */
    uint32_t *nth; /* (n) */
    const char **user;
    const oq_customers *cust; /* customers: names and types of the attributes */
} rows;

static void rows_free(rows *r)
{
    free(r->text.p);
    free(r->off);
    free(r->nth);
    free(r->user);
}

/* A row's key: its first nkey fields as they stand in the COPY text (a
 * tab inside a field is escaped, so equal texts are equal keys). */
typedef struct keyref {
    const char *p;
    size_t len, i;
} keyref;

static int key_cmp(const void *a, const void *b)
{
    const keyref *x = a, *y = b;
    int d = memcmp(x->p, y->p, x->len < y->len ? x->len : y->len);
    if (d) return d;
    if (x->len != y->len) return x->len < y->len ? -1 : 1;
    return (x->i > y->i) - (x->i < y->i);
}

/* nth of every row: how many earlier rows of the file have the same key. */
static int rows_nth(rows *r, int nkey)
{
    keyref *k = malloc((r->n ? r->n : 1) * sizeof *k);
    if (!k) return -1;
    for (size_t i = 0; i < r->n; i++) {
        const char *p = r->text.p + r->off[i], *e = p;
        for (int f = 0; f < nkey; f++) {
            e += strcspn(e, "\t");
            if (f + 1 < nkey && *e) e++;
        }
        k[i] = (keyref){p, (size_t)(e - p), i};
    }
    qsort(k, r->n, sizeof *k, key_cmp);
    for (size_t j = 0; j < r->n; j++)
        r->nth[k[j].i] = j && k[j].len == k[j - 1].len && !memcmp(k[j].p, k[j - 1].p, k[j].len)
                             ? r->nth[k[j - 1].i] + 1
                             : 0;
    free(k);
    return 0;
}

static int rows_alloc(rows *r, size_t n)
{
    r->n = n;
    r->off = malloc((n ? n : 1) * sizeof *r->off);
    r->nth = calloc(n ? n : 1, sizeof *r->nth);
    r->user = malloc((n ? n : 1) * sizeof *r->user);
    return r->off && r->nth && r->user ? 0 : -1;
}

/* Row i begins. */
static void row_start(rows *r, size_t i, const char *user)
{
    if (i) sb_add(&r->text, "", 1); /* the NUL after row i-1 */
    r->off[i] = r->text.n;
    r->user[i] = user;
}

/* ---- reading the file ------------------------------------------------------------ */

typedef struct loaded {
    oq_offers *offers;
    oq_contacts *ct;
    oq_customers *cust;
    oq_txtab *tx;
} loaded;

static void loaded_free(loaded *l)
{
    oq_offers_free(l->offers);
    oq_contacts_free(l->ct);
    oq_customers_free(l->cust);
    oq_txtab_free(l->tx);
}

static void tab(sbuf *b)
{
    sb_add(b, "\t", 1);
}

/* Read path with t's reader (contacts against catalogue) and lay its rows
 * out as COPY text. */
static int read_rows(oq_db_table t, const char *path, const oq_table_map *map,
                     const oq_offers *catalogue, loaded *l, rows *r, oq_error *err)
{
    int rc = 0;
    switch (t) {
    case OQ_DB_OFFERS:
        if ((rc = oq_offers_read(path, &l->offers, err))) return rc;
        if (rows_alloc(r, l->offers->n)) break;
        for (size_t i = 0; i < l->offers->n; i++) {
            row_start(r, i, NULL);
            sb_field(&r->text, l->offers->name[i]);
            tab(&r->text);
            sb_num(&r->text, l->offers->redeem_cost[i]);
            tab(&r->text);
            sb_num(&r->text, l->offers->contact_cost[i]);
        }
        break;
    case OQ_DB_CONTACTS: {
        if ((rc = oq_contacts_read(path, map, catalogue, &l->ct, err))) return rc;
        const oq_contacts *c = l->ct;
        if (rows_alloc(r, c->n)) break;
        for (size_t i = 0; i < c->n; i++) {
            row_start(r, i, c->user[i]);
            sb_field(&r->text, c->user[i]);
            tab(&r->text);
            if (c->date)
                sb_date(&r->text, c->date[i]);
            else
                sb_field(&r->text, NULL);
            tab(&r->text);
            sb_field(&r->text, catalogue->name[c->offer[i]]);
            sb_str(&r->text, c->ordered[i] ? "\t1\t" : "\t0\t");
            sb_num(&r->text, c->value[i]);
            tab(&r->text);
            if (c->propensity)
                sb_num(&r->text, c->propensity[i]);
            else
                sb_field(&r->text, NULL);
        }
        break;
    }
    case OQ_DB_CUSTOMERS: {
        if ((rc = oq_customers_read(path, map, &l->cust, err))) return rc;
        const oq_customers *c = l->cust;
        r->cust = c;
        if (rows_alloc(r, c->n)) break;
        for (size_t i = 0; i < c->n; i++) {
            row_start(r, i, c->user[i]);
            sb_field(&r->text, c->user[i]);
            for (size_t k = 0; k < c->nattr; k++) {
                double v = c->x[i * c->nattr + k];
                tab(&r->text);
                if (isnan(v))
                    sb_field(&r->text, NULL);
                else if (c->is_text[k])
                    sb_field(&r->text, c->levels[k][(size_t)v]);
                else
                    sb_num(&r->text, v);
            }
        }
        break;
    }
    case OQ_DB_ORDERS:
    case OQ_DB_EVENTS: {
        if ((rc = t == OQ_DB_ORDERS ? oq_orders_table_read(path, map, &l->tx, err)
                                    : oq_events_table_read(path, map, &l->tx, err)))
            return rc;
        const oq_txtab *x = l->tx;
        if (rows_alloc(r, x->n)) break;
        for (size_t i = 0; i < x->n; i++) {
            row_start(r, i, x->user[i]);
            sb_field(&r->text, x->user[i]);
            tab(&r->text);
            sb_date(&r->text, x->date[i]);
            if (t == OQ_DB_ORDERS) {
                tab(&r->text);
                sb_num(&r->text, x->value[i]);
            }
            tab(&r->text);
            sb_field(&r->text, x->cat ? x->cat[i] : NULL);
        }
        break;
    }
    default:
        return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "unknown table");
    }
    if (!r->off || r->text.oom || (r->n && !r->text.p)) return oq_error_oom(err, path, NULL);
    if (tables[t].has_nth && rows_nth(r, tables[t].nkey)) return oq_error_oom(err, path, NULL);
    return 0;
}

/* ---- customers' attribute columns ------------------------------------------------ */

/* The attribute columns of customers on a server, "name\ttype\n" each in
 * table order (type: double precision or text). */
static int attrs_of(PGconn *c, sbuf *out, oq_error *err)
{
    PGresult *res = PQexec(c, "SELECT attname, format_type(atttypid, atttypmod) FROM "
                              "pg_catalog.pg_attribute WHERE attrelid = 'customers'::regclass "
                              "AND attnum > 0 AND NOT attisdropped AND attname NOT IN "
                              "('user_id', 'seq', 'shard') ORDER BY attnum");
    int rc = 0;
    if (PQresultStatus(res) != PGRES_TUPLES_OK)
        rc = oq_dbi_fail(err, c, res, "reading customers' columns");
    for (int i = 0; !rc && i < PQntuples(res); i++) {
        sb_str(out, PQgetvalue(res, i, 0));
        tab(out);
        sb_str(out, PQgetvalue(res, i, 1));
        sb_add(out, "\n", 1);
    }
    PQclear(res);
    if (!rc && out->oom) rc = oq_error_oom(err, WHERE, NULL);
    return rc;
}

/* The file's attributes in attrs_of's form; a name PostgreSQL cannot keep
 * whole, or one of our own columns, is OQ_EINVAL. */
static int attrs_want(const oq_customers *c, const char *path, sbuf *out, oq_error *err)
{
    for (size_t k = 0; k < c->nattr; k++) {
        const char *a = c->attr[k];
        if (strlen(a) > PG_NAME_MAX)
            return oq_error_set(err, OQ_EINVAL, path, 1, 0,
                                "attribute column \"%.70s...\" has a name longer than %d bytes, "
                                "PostgreSQL's limit: rename it",
                                a, PG_NAME_MAX);
        if (!strcmp(a, "user_id") || !strcmp(a, "seq") || !strcmp(a, "shard"))
            return oq_error_set(err, OQ_EINVAL, path, 1, 0,
                                "attribute column \"%s\" has the name of one of offerq's own "
                                "columns of the customers table (user_id, seq, shard): rename "
                                "it or --ignore it",
                                a);
        sb_str(out, a);
        sb_str(out, c->is_text[k] ? "\ttext\n" : "\tdouble precision\n");
    }
    return out->oom ? oq_error_oom(err, WHERE, NULL) : 0;
}

/* Make the customers table's attributes the file's (it is empty). */
static int attrs_set(PGconn *c, const char *have, const char *want, oq_error *err)
{
    sbuf q = {0};
    int rc = 0;
    for (const char *p = have; *p;) {
        const char *t = strchr(p, '\t'), *nl = strchr(p, '\n');
        char name[PG_NAME_MAX + 2];
        snprintf(name, sizeof name, "%.*s", (int)(t - p), p);
        sb_str(&q, "ALTER TABLE customers DROP COLUMN ");
        sb_ident(&q, name);
        sb_str(&q, ";\n");
        p = nl + 1;
    }
    for (const char *p = want; *p;) {
        const char *t = strchr(p, '\t'), *nl = strchr(p, '\n');
        char name[PG_NAME_MAX + 2];
        snprintf(name, sizeof name, "%.*s", (int)(t - p), p);
        sb_str(&q, "ALTER TABLE customers ADD COLUMN ");
        sb_ident(&q, name);
        sb_add(&q, " ", 1);
        sb_add(&q, t + 1, (size_t)(nl - t - 1));
        sb_str(&q, ";\n");
        p = nl + 1;
    }
    if (q.oom)
        rc = oq_error_oom(err, WHERE, NULL);
    else if (q.n)
        rc = oq_dbi_exec(c, q.p, "adding customers' attribute columns", err);
    free(q.p);
    return rc;
}

/* "a (text), b (number)" of attrs_of's form, for messages. */
static void attrs_show(const char *a, char *out, size_t len)
{
    size_t o = 0;
    out[0] = 0;
    for (const char *p = a; *p && o + 1 < len;) {
        const char *t = strchr(p, '\t'), *nl = strchr(p, '\n');
        int w = snprintf(out + o, len - o, "%s%.*s (%s)", o ? ", " : "", (int)(t - p), p,
                         t[1] == 't' ? "text" : "number");
        if (w < 0) break;
        o += (size_t)w;
        p = nl + 1;
    }
    if (!a[0]) snprintf(out, len, "none");
}

/* ---- load ------------------------------------------------------------------------- */

/* The COPY / INSERT column list of t (customers: user_id, the attributes),
 * then nth, seq and shard as the table has them. */
static void col_list(sbuf *q, oq_db_table t, const oq_customers *cust, int parts)
{
    sb_str(q, tables[t].cols);
    for (size_t k = 0; cust && k < cust->nattr; k++) {
        sb_str(q, ", ");
        sb_ident(q, cust->attr[k]);
    }
    if (tables[t].has_nth) sb_str(q, ", nth");
    sb_str(q, ", seq");
    if (parts) sb_str(q, ", shard");
}

/* The columns a merge updates, each prefixed: t's fixed ones (plain names)
 * then the customers' attributes, quoted (a name may hold a comma or a
 * space, so the list is built from the names, never split again). */
static void upd_list(sbuf *q, const tdesc *d, const oq_customers *cust, const char *prefix)
{
    int first = 1;
    if (d->upd) {
        sb_each(q, d->upd, prefix);
        first = 0;
    }
    for (size_t k = 0; cust && k < cust->nattr; k++) {
        if (!first) sb_str(q, ", ");
        first = 0;
        sb_str(q, prefix);
        sb_ident(q, cust->attr[k]);
    }
}

/* The merge of staging table load_t into t. */
static void merge_sql(sbuf *q, oq_db_table t, const oq_customers *cust, int parts)
{
    const tdesc *d = &tables[t];
    sbuf cols = {0}, upd = {0};
    col_list(&cols, t, cust, parts);
    upd_list(&upd, d, cust, "");
    sb_str(q, "INSERT INTO ");
    sb_str(q, d->name);
    sb_str(q, " (");
    sb_str(q, cols.p ? cols.p : "");
    sb_str(q, ") SELECT ");
    sb_str(q, cols.p ? cols.p : "");
    sb_str(q, " FROM load_t ON CONFLICT (");
    sb_str(q, d->key);
    if (parts) sb_str(q, ", shard");
    sb_str(q, ") DO ");
    if (!upd.n) {
        sb_str(q, "NOTHING");
    } else {
        /* update only what differs: a row as it is gets no new version */
        char own[32];
        snprintf(own, sizeof own, "%s.", d->name);
        sb_str(q, "UPDATE SET (");
        sb_str(q, upd.p);
        sb_str(q, ") = ROW (");
        upd_list(q, d, cust, "EXCLUDED.");
        sb_str(q, ") WHERE (");
        upd_list(q, d, cust, own);
        sb_str(q, ", NULL) IS DISTINCT FROM (");
        upd_list(q, d, cust, "EXCLUDED.");
        sb_str(q, ", NULL)");
    }
    if (cols.oom || upd.oom) q->oom = 1;
    free(cols.p);
    free(upd.p);
}

/* Rows of load_t whose key is in t already. */
static void existing_sql(sbuf *q, oq_db_table t)
{
    const tdesc *d = &tables[t];
    const char *first = d->per_customer ? "user_id" : "offer";
    sb_str(q, "SELECT count(*) FROM load_t l WHERE EXISTS (SELECT 1 FROM ");
    sb_str(q, d->name);
    sb_str(q, " x WHERE x.");
    sb_str(q, first);
    sb_str(q, " = l.");
    sb_str(q, first);
    sb_str(q, " AND (");
    sb_each(q, d->key, "x.");
    sb_str(q, ", NULL) IS NOT DISTINCT FROM (");
    sb_each(q, d->key, "l.");
    sb_str(q, ", NULL))");
}

typedef struct load_job {
    oq_db_table t;
    const char *path;
    const rows *r;
    int k, n; /* this server of n (per-customer tables) */
    int parts;
    int64_t seq0; /* the first seq of this load */
    char *buf;
} load_job;

static int on_server(const load_job *j, size_t i)
{
    return !tables[j->t].per_customer || j->n <= 1 ||
           oq_shard_of_id(j->r->user[i], j->n) == (unsigned)j->k;
}

/* Server k's rows into the staging table and merged (the transaction stays
 * open: the caller commits every server once all have their rows). */
static int load_one(PGconn *c, const load_job *j, oq_db_load_info *info, oq_error *err)
{
    const tdesc *d = &tables[j->t];
    const oq_customers *cust = j->r->cust;
    oq_dbi_copybuf b = {.c = c, .buf = j->buf};
    sbuf q = {0};
    int rc;
    sb_str(&q, "CREATE TEMP TABLE load_t (LIKE ");
    sb_str(&q, d->name);
    sb_str(&q, " INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING INDEXES) ON COMMIT DROP");
    if (q.oom) return oq_error_oom(err, WHERE, NULL);
    rc = oq_dbi_exec(c, q.p, "CREATE TEMP TABLE", err);
    q.n = 0;
    if (rc) goto cleanup;
    sb_str(&q, "COPY load_t (");
    col_list(&q, j->t, cust, j->parts);
    sb_str(&q, ") FROM STDIN");
    if (q.oom) {
        rc = oq_error_oom(err, WHERE, NULL);
        goto cleanup;
    }
    PGresult *res = PQexec(c, q.p);
    if (PQresultStatus(res) != PGRES_COPY_IN) {
        rc = oq_dbi_fail(err, c, res, "COPY");
        PQclear(res);
        goto cleanup;
    }
    PQclear(res);
    size_t sent = 0;
    for (size_t i = 0; i < j->r->n && !b.failed; i++) {
        if (!on_server(j, i)) continue;
        const char *row = j->r->text.p + j->r->off[i];
        oq_dbi_put(&b, row, strlen(row));
        if (d->has_nth) oq_dbi_printf(&b, "\t%u", j->r->nth[i]);
        int64_t seq = j->seq0 + (int64_t)i;
        oq_dbi_printf(&b, "\t%lld", (long long)seq);
        if (j->parts) oq_dbi_printf(&b, "\t%u", oq_shard_of_id(j->r->user[i], j->parts));
        oq_dbi_put(&b, "\n", 1);
        sent++;
    }
    long bad_row = 0;
    if ((rc = oq_dbi_copy_end(&b, "loading the rows", &bad_row, err))) {
        /* the file line of the refused row (COPY counts this server's rows from 1) */
        long i = -1;
        for (size_t r = 0; bad_row > 0 && r < j->r->n; r++)
            if (on_server(j, r) && --bad_row == 0) i = (long)r;
        long line = i >= 0 ? oq_dbi_file_line(j->path, i + 1) : 0;
        if (line > 0) {
            char msg[sizeof err->msg];
            snprintf(msg, sizeof msg, "%s", err ? err->msg : "");
            rc = oq_error_set(err, OQ_EPARSE, j->path, line, 0,
                              "row refused by the database, nothing loaded: %s", msg);
        }
        goto cleanup;
    }
    int64_t existing = 0;
    q.n = 0;
    existing_sql(&q, j->t);
    if (q.oom) {
        rc = oq_error_oom(err, WHERE, NULL);
        goto cleanup;
    }
    if ((rc = oq_dbi_query_i64(c, q.p, "comparing with the table", &existing, err))) goto cleanup;
    q.n = 0;
    merge_sql(&q, j->t, cust, j->parts);
    if (q.oom) {
        rc = oq_error_oom(err, WHERE, NULL);
        goto cleanup;
    }
    res = PQexec(c, q.p);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = oq_dbi_fail(err, c, res, "merging the rows");
        PQclear(res);
        goto cleanup;
    }
    oq_dbi_merge_counts(info, sent, (size_t)existing, strtoull(PQcmdTuples(res), NULL, 10));
    PQclear(res);
cleanup:
    free(q.p);
    return rc;
}

/* The offers table (first server) as a catalogue, for checking contacts. */
static int catalogue_read(const char *url, const char *dir, oq_offers **out, oq_error *err)
{
    char path[4200];
    size_t n = 0;
    snprintf(path, sizeof path, "%s/offers.csv", dir);
    int rc = oq_db_export_table(url, OQ_DB_OFFERS, NULL, 0, path, &n, err);
    if (!rc && n < 2)
        rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                          "the offers table has %zu offer(s): load the catalogue first (offerq "
                          "db load --table offers OFFERS.csv), contacts name its offers",
                          n);
    if (!rc) rc = oq_offers_read(path, out, err);
    remove(path);
    return rc;
}

/* customers: make every server's attribute columns the file's, or refuse. */
static int attrs_prepare(PGconn **c, const oq_dbi_shards *s, const oq_customers *cust,
                         const char *path, oq_error *err)
{
    sbuf want = {0}, have[OQ_DB_MAX_SHARDS] = {{0}};
    int64_t total = 0;
    int rc = attrs_want(cust, path, &want, err), same = 1;
    for (int k = 0; !rc && k < s->n; k++) {
        int64_t v = 0;
        if ((rc = attrs_of(c[k], &have[k], err)) ||
            (rc = oq_dbi_query_i64(c[k], "SELECT count(*) FROM customers", "counting customers", &v,
                                   err)))
            rc = oq_dbi_shard_fail(err, s, k, rc);
        total += v;
        same &= !strcmp(have[k].p ? have[k].p : "", want.p ? want.p : "");
    }
    if (!rc && !same && total == 0) {
        for (int k = 0; !rc && k < s->n; k++)
            if ((rc = attrs_set(c[k], have[k].p ? have[k].p : "", want.p ? want.p : "", err)))
                rc = oq_dbi_shard_fail(err, s, k, rc);
    } else if (!rc && !same) {
        char a[600], b[600];
        attrs_show(have[0].p ? have[0].p : "", a, sizeof a);
        attrs_show(want.p ? want.p : "", b, sizeof b);
        rc = oq_error_set(err, OQ_EINVAL, path, 1, 0,
                          "the customers table holds %lld customers with the attributes %s; "
                          "this file has %s: load files with the same attribute columns (to "
                          "start again: DROP TABLE customers, offerq db init, load)",
                          (long long)total, a, b);
    }
    free(want.p);
    for (int k = 0; k < s->n; k++)
        free(have[k].p);
    return rc;
}

int oq_db_load_table(const char *url, oq_db_table t, const char *csv_path, const oq_table_map *map,
                     oq_db_load_info *info, oq_error *err)
{
    if (info) memset(info, 0, sizeof *info);
    if ((unsigned)t >= OQ_DB_NTABLES) return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "table?");
    const tdesc *d = &tables[t];
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    if (rc) return rc;
    int n = d->per_customer ? s.n : 1;
    PGconn *c[OQ_DB_MAX_SHARDS] = {0};
    int parts[OQ_DB_MAX_SHARDS] = {0};
    loaded l = {0};
    rows r = {0};
    oq_offers *catalogue = NULL;
    char *buf = NULL, tmpdir[] = "/tmp/offerq-load-XXXXXX";
    oq_db_load_info sum = {0};
    if (t == OQ_DB_CONTACTS) {
        if (!mkdtemp(tmpdir)) {
            rc = oq_error_set(err, OQ_EIO, "/tmp", 0, 0, "cannot create a temporary folder");
            goto cleanup;
        }
        rc = catalogue_read(url, tmpdir, &catalogue, err);
        rmdir(tmpdir);
        if (rc) goto cleanup;
    }
    /* the whole file first: a bad cell is named and nothing is sent */
    if ((rc = read_rows(t, csv_path, map, catalogue, &l, &r, err))) goto cleanup;
    if (!(buf = malloc(COPY_CHUNK))) {
        rc = oq_error_oom(err, WHERE, NULL);
        goto cleanup;
    }
    /* every server's transaction open before any commits; the new rows are
     * numbered after every row of every server (seq) */
    int64_t seq0 = 1;
    for (int k = 0; k < n; k++) {
        int64_t top = 0;
        char sql[128];
        if (!(c[k] = oq_dbi_shard_connect(&s, k, err, &rc))) goto cleanup;
        if ((rc = oq_dbi_exec(c[k], "BEGIN", "BEGIN", err)) ||
            (rc = oq_dbi_layout(c[k], d->name, &parts[k], err))) {
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
        if (parts[k] == LAYOUT_ABSENT || parts[k] == 0) {
            rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                              "%s %s (run offerq db init first; the raw tables need PostgreSQL "
                              "15 or later)",
                              parts[k] ? "there is no table" : "no partitions in the table",
                              d->name);
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
        /* one load of a table at a time (a second waits here): the rows'
         * numbers and a first customers load's columns stay its own */
        snprintf(sql, sizeof sql, "LOCK TABLE %s IN SHARE ROW EXCLUSIVE MODE", d->name);
        if ((rc = oq_dbi_exec(c[k], sql, "locking the table", err))) {
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
        snprintf(sql, sizeof sql, "SELECT coalesce(max(seq), 0) FROM %s", d->name);
        if ((rc = oq_dbi_query_i64(c[k], sql, "numbering the rows", &top, err))) {
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
        if (top >= seq0) seq0 = top + 1;
    }
    if (t == OQ_DB_CUSTOMERS && (rc = attrs_prepare(c, &s, l.cust, csv_path, err))) goto cleanup;
    for (int k = 0; k < n; k++) {
        oq_db_load_info one = {0};
        load_job j = {.t = t,
                      .path = csv_path,
                      .r = &r,
                      .k = k,
                      .n = n,
                      .parts = parts[k] > 0 ? parts[k] : 0,
                      .seq0 = seq0,
                      .buf = buf};
        if ((rc = load_one(c[k], &j, &one, err))) {
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
        oq_dbi_info_add(&sum, &one);
    }
    if ((rc = oq_dbi_commit_all(c, n, &s, err))) goto cleanup;
    if (info) *info = sum;
cleanup:
    for (int k = 0; k < n; k++)
        if (c[k]) PQfinish(c[k]); /* without COMMIT: rolled back */
    oq_dbi_shards_free(&s);
    free(buf);
    rows_free(&r);
    loaded_free(&l);
    oq_offers_free(catalogue);
    return rc;
}

/* ---- export ------------------------------------------------------------------------ */

/* One server's COPY OUT stream, one row ahead. */
typedef struct stream {
    PGconn *c;
    char *row;   /* current row (PQfreemem), NULL at the end */
    int64_t seq; /* its first field */
    int k;       /* server */
    int len;     /* its length without the newline */
} stream;

static int stream_next(stream *st, const char *what, oq_error *err)
{
    if (st->row) PQfreemem(st->row);
    st->row = NULL;
    int len = PQgetCopyData(st->c, &st->row, 0);
    if (len > 0) {
        st->len = len;
        if (st->row[len - 1] == '\n') st->len--;
        int64_t v;
        size_t f = strcspn(st->row, "\t");
        if (f >= (size_t)st->len || oq_parse_i64(st->row, f, &v))
            return oq_error_set(err, OQ_EPARSE, what, 0, 0, "a row without its seq");
        st->seq = v;
        return 0;
    }
    if (st->row) PQfreemem(st->row);
    st->row = NULL;
    int rc = len == -2 ? oq_dbi_fail(err, st->c, NULL, what) : 0;
    PGresult *res;
    while ((res = PQgetResult(st->c))) {
        if (!rc && PQresultStatus(res) != PGRES_COMMAND_OK) rc = oq_dbi_fail(err, st->c, res, what);
        PQclear(res);
    }
    return rc;
}

/* Write a COPY row (seq first, then the fields) as a CSV line. Returns the user id's field
 * (unescaped, NUL-terminated, in the row) through *user. */
static void put_csv(FILE *fp, char *row, int len, char **user)
{
    char *p = row + strcspn(row, "\t") + 1, *end = row + len;
    int first = 1;
    *user = NULL;
    while (p <= end) {
        char *t = memchr(p, '\t', (size_t)(end - p));
        if (!t) t = end;
        *t = 0;
        if (!first) fputc(',', fp);
        if (strcmp(p, "\\N") != 0) {
            oq_dbi_unescape(p, (size_t)(t - p));
            oq_csv_write_field(fp, p);
            if (first) *user = p;
        }
        first = 0;
        p = t + 1;
    }
    fputc('\n', fp);
}

/* The WHERE of part's rows on a server of layout (cf. db.c's read_sql):
 * none when the server holds only part's customers (filter 0). */
static int part_where(sbuf *q, const char *table, const oq_part *part, int filter, int layout,
                      oq_error *err)
{
    if (!filter) return 0;
    if (layout <= 0 || layout % part->size)
        return oq_error_set(
            err, OQ_EINVAL, WHERE, 0, 0,
            "part %d of %d cannot read only its customers: %d parts do not divide the %d "
            "servers, and %s here %s; use as many servers as parts (or a multiple), or "
            "partition the tables into a multiple of %d (offerq db init --partitions)",
            part->rank, part->size, part->size, filter, table,
            layout <= 0 ? "is not partitioned"
                        : "has a number of partitions that it does not divide",
            part->size);
    char b[16];
    sb_str(q, " WHERE shard IN (");
    for (int v = part->rank; v < layout; v += part->size) {
        snprintf(b, sizeof b, "%s%d", v == part->rank ? "" : ", ", v);
        sb_str(q, b);
    }
    sb_str(q, ")");
    return 0;
}

/* Which optional columns t's export writes (every server asked). */
static int optional_cols(PGconn **c, int n, oq_db_table t, int seed_format, int *has1, int *has2,
                         const oq_dbi_shards *s, oq_error *err)
{
    *has1 = *has2 = 0;
    const char *q1 = t == OQ_DB_CONTACTS ? "SELECT count(date) FROM contacts"
                     : t == OQ_DB_ORDERS ? "SELECT count(category) FROM orders"
                                         : NULL;
    if (!q1 || (t == OQ_DB_ORDERS && seed_format)) return 0;
    int64_t dated = 0, undated = 0;
    for (int k = 0; k < n; k++) {
        int64_t a = 0, b = 0;
        int rc = oq_dbi_query_i64(c[k], q1, "looking at the optional columns", &a, err);
        if (!rc && t == OQ_DB_CONTACTS)
            rc = oq_dbi_query_i64(c[k], "SELECT count(propensity) FROM contacts",
                                  "looking at the optional columns", &b, err);
        if (!rc && t == OQ_DB_CONTACTS)
            rc = oq_dbi_query_i64(c[k], "SELECT count(*) - count(date) FROM contacts",
                                  "looking at the optional columns", &undated, err);
        if (rc) return oq_dbi_shard_fail(err, s, k, rc);
        dated += a;
        *has1 |= a > 0;
        *has2 |= b > 0;
        if (t == OQ_DB_CONTACTS && dated && undated)
            return oq_error_set(err, OQ_EINVAL, "contacts", 0, 0,
                                "the contacts table mixes rows with and without a date (files "
                                "loaded with and without a date column): every contact needs "
                                "its date, or none has one");
    }
    return 0;
}

/* The header and SELECT list of t's export. */
static void export_cols(sbuf *head, sbuf *sel, oq_db_table t, int has1, int has2, const char *attrs)
{
    switch (t) {
    case OQ_DB_CONTACTS:
        sb_str(head, has1 ? "user_id,date,offer,ordered,value" : "user_id,offer,ordered,value");
        sb_str(sel,
               has1 ? "user_id, date, offer, ordered, value" : "user_id, offer, ordered, value");
        if (has2) {
            sb_str(head, ",propensity");
            sb_str(sel, ", propensity");
        }
        break;
    case OQ_DB_CUSTOMERS: {
        sb_str(head, "user_id");
        sb_str(sel, "user_id");
        for (const char *p = attrs; *p;) {
            const char *tb = strchr(p, '\t'), *nl = strchr(p, '\n');
            char name[PG_NAME_MAX + 2];
            snprintf(name, sizeof name, "%.*s", (int)(tb - p), p);
            /* the header as the CSV reader will split it (RFC 4180 quoting) */
            int quote = strpbrk(name, ",\"\r\n") != NULL;
            sb_add(head, quote ? ",\"" : ",", quote ? 2 : 1);
            for (const char *a = name; *a; a++)
                sb_add(head, *a == '"' ? "\"\"" : a, *a == '"' ? 2 : 1);
            if (quote) sb_add(head, "\"", 1);
            sb_str(sel, ", ");
            sb_ident(sel, name);
            p = nl + 1;
        }
        break;
    }
    case OQ_DB_ORDERS:
        sb_str(head, has1 ? "user_id,date,value,category" : "user_id,date,value");
        sb_str(sel, has1 ? "user_id, date, value, category" : "user_id, date, value");
        break;
    case OQ_DB_EVENTS:
        sb_str(head, "user_id,date,category");
        sb_str(sel, "user_id, date, category");
        break;
    default:
        sb_str(head, "offer,redeem_cost,contact_cost");
        sb_str(sel, "offer, redeem_cost, contact_cost");
    }
    sb_add(head, "\n", 1);
}

int oq_db_export_table(const char *url, oq_db_table t, const oq_part *part, int seed_format,
                       const char *path, size_t *rows_out, oq_error *err)
{
    if (rows_out) *rows_out = 0;
    if ((unsigned)t >= OQ_DB_NTABLES) return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "table?");
    const tdesc *d = &tables[t];
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    if (rc) return rc;
    if (part && part->size <= 1) part = NULL;
    if (!d->per_customer) part = NULL;
    int n = d->per_customer ? s.n : 1, nst = 0, has1 = 0, has2 = 0;
    PGconn *all[OQ_DB_MAX_SHARDS] = {0};
    stream st[OQ_DB_MAX_SHARDS] = {{0}};
    sbuf head = {0}, sel = {0}, attrs = {0}, q = {0};
    oq_afile af = {0};
    int open = 0;
    size_t written = 0;
    for (int k = 0; k < n; k++) {
        int layout;
        if (!(all[k] = oq_dbi_shard_connect(&s, k, err, &rc))) goto cleanup;
        if ((rc = oq_dbi_layout(all[k], d->name, &layout, err)) ||
            (layout == LAYOUT_ABSENT &&
             (rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                "there is no table %s (offerq db init, then db load --table %s)",
                                d->name, d->name)))) {
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
    }
    if ((rc = optional_cols(all, n, t, seed_format, &has1, &has2, &s, err))) goto cleanup;
    if (t == OQ_DB_CUSTOMERS) {
        for (int k = 0; k < n && !rc; k++) {
            sbuf a = {0};
            if ((rc = attrs_of(all[k], k ? &a : &attrs, err)))
                rc = oq_dbi_shard_fail(err, &s, k, rc);
            else if (k && strcmp(a.p ? a.p : "", attrs.p ? attrs.p : "") != 0)
                rc = oq_dbi_shard_fail(
                    err, &s, k,
                    oq_error_set(err, OQ_EINVAL, "customers", 0, 0,
                                 "the customers table has other attribute columns than on the "
                                 "first server's"));
            free(a.p);
        }
        if (rc) goto cleanup;
    }
    export_cols(&head, &sel, t, has1, has2, attrs.p ? attrs.p : "");
    if (head.oom || sel.oom) {
        rc = oq_error_oom(err, WHERE, NULL);
        goto cleanup;
    }
    /* start every stream this part reads (cf. oq_db_read_log_part) */
    int whole = !part || s.n % part->size == 0;
    for (int k = 0; k < n; k++) {
        if (part && whole && k % part->size != part->rank) continue;
        int layout = 0;
        q.n = 0;
        sb_str(&q, "COPY (SELECT seq, ");
        sb_str(&q, sel.p);
        sb_str(&q, " FROM ");
        sb_str(&q, d->name);
        if ((!whole && (rc = oq_dbi_layout(all[k], d->name, &layout, err))) ||
            (rc = part_where(&q, d->name, part, whole ? 0 : s.n, layout, err))) {
            rc = oq_dbi_shard_fail(err, &s, k, rc);
            goto cleanup;
        }
        sb_str(&q, " ORDER BY seq) TO STDOUT");
        if (q.oom) {
            rc = oq_error_oom(err, WHERE, NULL);
            goto cleanup;
        }
        PGresult *res = PQexec(all[k], q.p);
        if (PQresultStatus(res) != PGRES_COPY_OUT) {
            rc = oq_dbi_shard_fail(err, &s, k, oq_dbi_fail(err, all[k], res, "reading the table"));
            PQclear(res);
            goto cleanup;
        }
        PQclear(res);
        st[nst] = (stream){.c = all[k], .k = k};
        if ((rc = stream_next(&st[nst++], d->name, err))) goto cleanup;
    }
    if ((rc = oq_afile_open(&af, path, err))) goto cleanup;
    open = 1;
    fputs(head.p, af.fp);
    /* merge the servers' streams by seq */
    for (;;) {
        int m = -1;
        for (int i = 0; i < nst; i++)
            if (st[i].row && (m < 0 || st[i].seq < st[m].seq)) m = i;
        if (m < 0) break;
        char *user;
        put_csv(af.fp, st[m].row, st[m].len, &user);
        if (d->per_customer && user && s.n > 1 && oq_shard_of_id(user, s.n) != (unsigned)st[m].k) {
            rc = oq_error_set(err, OQ_EINVAL, d->name, 0, 0,
                              "user_id %.60s is on this server but belongs to shard %u of the %d "
                              "servers: give the servers in the order offerq db load had",
                              user, oq_shard_of_id(user, s.n), s.n);
            rc = oq_dbi_shard_fail(err, &s, st[m].k, rc);
            goto cleanup;
        }
        written++;
        if ((rc = stream_next(&st[m], d->name, err))) goto cleanup;
    }
    rc = oq_afile_commit(&af, err);
    open = 0;
    if (!rc && rows_out) *rows_out = written;
cleanup:
    if (open) oq_afile_abort(&af);
    for (int i = 0; i < nst; i++)
        if (st[i].row) PQfreemem(st[i].row);
    for (int k = 0; k < n; k++)
        if (all[k]) PQfinish(all[k]);
    oq_dbi_shards_free(&s);
    free(head.p);
    free(sel.p);
    free(attrs.p);
    free(q.p);
    return rc;
}

int oq_db_table_rows(const char *url, oq_db_table t, int64_t *rows_out, oq_error *err)
{
    *rows_out = 0;
    if ((unsigned)t >= OQ_DB_NTABLES) return oq_error_set(err, OQ_EINVAL, WHERE, 0, 0, "table?");
    oq_dbi_shards s;
    int rc = oq_dbi_shards_split(url, &s, err);
    if (rc) return rc;
    int n = tables[t].per_customer ? s.n : 1;
    for (int k = 0; !rc && k < n; k++) {
        PGconn *c = oq_dbi_shard_connect(&s, k, err, &rc);
        if (!c) break;
        int layout;
        int64_t v = 0;
        char sql[96];
        snprintf(sql, sizeof sql, "SELECT count(*) FROM %s", tables[t].name);
        if (!(rc = oq_dbi_layout(c, tables[t].name, &layout, err)) && layout != LAYOUT_ABSENT)
            rc = oq_dbi_query_i64(c, sql, "counting rows", &v, err);
        if (rc) rc = oq_dbi_shard_fail(err, &s, k, rc);
        *rows_out += v;
        PQfinish(c);
    }
    oq_dbi_shards_free(&s);
    return rc;
}

/* ---- schema ------------------------------------------------------------------------ */

int oq_dbi_raw_init(PGconn *c, int partitions, int forced, oq_error *err)
{
    /* UNIQUE NULLS NOT DISTINCT: PostgreSQL 15; older servers keep the log
     * tables only (db load --table says what is missing) */
    if (PQserverVersion(c) < 150000) return 0;
    int rc = 0;
    for (int t = 0; t < OQ_DB_NTABLES && !rc; t++) {
        const tdesc *d = &tables[t];
        int layout, m = d->per_customer ? partitions : 0;
        if ((rc = oq_dbi_layout(c, d->name, &layout, err))) break;
        if (layout != LAYOUT_ABSENT) {
            if (forced && d->per_customer && layout != (m > 0 ? m : LAYOUT_PLAIN))
                rc = oq_error_set(err, OQ_EINVAL, WHERE, 0, 0,
                                  "--partitions %d: %s already exists with another layout; to "
                                  "change it, save the table, DROP TABLE %s, init again and load "
                                  "it back",
                                  partitions, d->name, d->name);
            continue;
        }
        sbuf q = {0};
        char b[160];
        sb_str(&q, "CREATE TABLE ");
        sb_str(&q, d->name);
        sb_str(&q, " (");
        sb_str(&q, d->ddl);
        if (m > 0) {
            snprintf(b, sizeof b, "shard smallint NOT NULL CHECK (shard >= 0 AND shard < %d), ", m);
            sb_str(&q, b);
        }
        sb_str(&q, "UNIQUE NULLS NOT DISTINCT (");
        sb_str(&q, d->key);
        sb_str(&q, m > 0 ? ", shard))" : "))");
        if (m > 0) sb_str(&q, " PARTITION BY LIST (shard)");
        sb_str(&q, ";\n");
        for (int k = 0; k < m; k++) {
            snprintf(b, sizeof b, "CREATE TABLE %s_p%d PARTITION OF %s FOR VALUES IN (%d);\n",
                     d->name, k, d->name, k);
            sb_str(&q, b);
        }
        rc = q.oom ? oq_error_oom(err, WHERE, NULL)
                   : oq_dbi_exec(c, q.p, "creating the raw tables", err);
        free(q.p);
    }
    return rc;
}
