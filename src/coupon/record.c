/* record.c - tomorrow's log: a run's recommendations plus the orders of the
 * response window, as contact rows that keep the propensity (record.h,
 * issue 17 item 3). */
#include "offerq/coupon/record.h"
#include "offerq/core/csv.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "util/num.h"
#include "util/utf8.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define HEADER "user_id,date,offer,ordered,value,propensity"

/* user id -> row: open addressing over a power of two of at least 2n slots */
struct rec_index {
    size_t mask;
    long *slot; /* row, or -1 */
};

static const oq_csv_opts user_opts = {.allow_no_final_newline = 1};

static long index_find(const oq_record *r, const char *s)
{
    if (!r->ix) return -1;
    size_t h = (size_t)oq_user_hash(s, 0) & r->ix->mask;
    for (;;) {
        long k = r->ix->slot[h];
        if (k < 0 || !strcmp(r->user[k], s)) return k;
        h = (h + 1) & r->ix->mask;
    }
}

/* Build the index; *dup = the row whose id an earlier row has, or -1. */
static int index_build(oq_record *r, long *dup)
{
    size_t cap = 16;
    while (cap < 2 * r->n + 2)
        cap *= 2;
    struct rec_index *ix = calloc(1, sizeof *ix);
    if (!ix || !(ix->slot = malloc(cap * sizeof *ix->slot))) {
        free(ix);
        return OQ_ENOMEM;
    }
    ix->mask = cap - 1;
    for (size_t i = 0; i < cap; i++)
        ix->slot[i] = -1;
    *dup = -1;
    for (size_t i = 0; i < r->n; i++) {
        size_t h = (size_t)oq_user_hash(r->user[i], 0) & ix->mask;
        while (ix->slot[h] >= 0 && strcmp(r->user[ix->slot[h]], r->user[i]) != 0)
            h = (h + 1) & ix->mask;
        if (ix->slot[h] >= 0) {
            if (*dup < 0) *dup = (long)i;
            continue;
        }
        ix->slot[h] = (long)i;
    }
    r->ix = ix;
    return 0;
}

/* ---- reading the recommendations ---------------------------------------------- */

typedef struct reco_ctx {
    oq_record *r;
    size_t cap;
    int col[3]; /* user_id, offer, propensity */
    size_t nf;  /* fields of the header */
    int header_done;
} reco_ctx;

static char *dup_n(const char *s, size_t n)
{
    char *p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

static int reco_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    reco_ctx *x = ctx;
    oq_record *r = x->r;
    static const oq_csv_col cols[3] = {
        {"user_id", 1, NULL}, {"offer", 1, NULL}, {"propensity", 0, NULL}};
    if (!x->header_done) {
        x->header_done = 1;
        x->nf = n;
        int rc = oq_csv_header_map(r->path, line, f, n, cols, 3, 1, x->col, err);
        if (rc) return rc;
        if (x->col[2] < 0)
            return oq_error_set(err, OQ_EINVAL, r->path, line, 0,
                                "the run has no propensity column: recording needs the "
                                "probability each offer had of being shown, which `offerq run "
                                "--contacts` and `offerq uplift` write (their --explore)");
        return 0;
    }
    if (n != x->nf)
        return oq_error_set(err, OQ_EPARSE, r->path, line, (long)(n < x->nf ? n : x->nf + 1),
                            "%s fields: %zu fields, the header has %zu",
                            n < x->nf ? "missing" : "extra", n, x->nf);
    int cu = x->col[0], co = x->col[1], cp = x->col[2];
    if (lens[cu] == 0 || lens[cu] > OQ_TABLES_MAX_ID || !oq_utf8_name_ok(f[cu], lens[cu]))
        return oq_error_set(err, OQ_EPARSE, r->path, line, cu + 1,
                            "column %d (user_id): got \"%.40s\", expected a non-empty id (UTF-8 "
                            "text, no control characters, at most 256 bytes)",
                            cu + 1, f[cu]);
    if (lens[co] == 0 || lens[co] > OQ_TABLES_MAX_ID || !oq_utf8_name_ok(f[co], lens[co]))
        return oq_error_set(err, OQ_EPARSE, r->path, line, co + 1,
                            "column %d (offer): got \"%.40s\", expected an offer name", co + 1,
                            f[co]);
    double p;
    if (oq_parse_f64(f[cp], lens[cp], &p) || !(p > 0 && p <= 1))
        return oq_error_set(err, OQ_EPARSE, r->path, line, cp + 1,
                            "column %d (propensity): got \"%.40s\", expected a probability in "
                            "(0, 1]",
                            cp + 1, f[cp]);
    if (r->n == x->cap) {
        size_t c = x->cap ? 2 * x->cap : 256;
        char **u = realloc(r->user, c * sizeof *u);
        if (u) r->user = u;
        char **o = realloc(r->offer, c * sizeof *o);
        if (o) r->offer = o;
        char **pp = realloc(r->propensity, c * sizeof *pp);
        if (pp) r->propensity = pp;
        long *l = realloc(r->line, c * sizeof *l);
        if (l) r->line = l;
        if (!u || !o || !pp || !l) return oq_error_oom(err, r->path, "recommendations");
        x->cap = c;
    }
    size_t i = r->n;
    r->user[i] = dup_n(f[cu], lens[cu]);
    r->offer[i] = dup_n(f[co], lens[co]);
    r->propensity[i] = dup_n(f[cp], lens[cp]);
    r->line[i] = line;
    r->n++; /* counted before the check: free releases what was copied */
    if (!r->user[i] || !r->offer[i] || !r->propensity[i])
        return oq_error_oom(err, r->path, "recommendations");
    return 0;
}

int oq_record_read(const char *path, oq_record **out, oq_error *err)
{
    *out = NULL;
    oq_record *r = calloc(1, sizeof *r);
    if (!r) return oq_error_oom(err, path, NULL);
    snprintf(r->path, sizeof r->path, "%s", path);
    r->orders_last = INT32_MIN;
    reco_ctx x = {.r = r};
    int rc = oq_csv_read(path, &user_opts, reco_row, &x, err);
    if (rc) goto cleanup;
    if (r->n == 0) {
        rc = oq_error_set(err, OQ_EPARSE, path, 2, 0, "no recommendations (a header alone)");
        goto cleanup;
    }
    r->ordered = calloc(r->n, sizeof *r->ordered);
    r->value = calloc(r->n, sizeof *r->value);
    if (!r->ordered || !r->value) {
        rc = oq_error_oom(err, path, "recommendations");
        goto cleanup;
    }
    long dup;
    if (index_build(r, &dup)) {
        rc = oq_error_oom(err, path, "index");
        goto cleanup;
    }
    if (dup >= 0) {
        long first = index_find(r, r->user[dup]);
        rc = oq_error_set(err, OQ_EPARSE, path, r->line[dup], x.col[0] + 1,
                          "customer \"%.60s\" is recommended twice (first on line %ld): "
                          "expected one row per customer",
                          r->user[dup], r->line[first]);
        goto cleanup;
    }
    *out = r;
    return 0;
cleanup:
    oq_record_free(r);
    return rc;
}

/* ---- only the customers reached ------------------------------------------------ */

typedef struct keep_ctx {
    oq_record *r;
    const char *path;
    const char *uname;
    uint8_t *keep;
    int col, header_done;
} keep_ctx;

static int keep_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    keep_ctx *x = ctx;
    if (!x->header_done) {
        oq_csv_col c = {x->uname, 1, NULL};
        x->header_done = 1;
        return oq_csv_header_map(x->path, line, f, n, &c, 1, 1, &x->col, err);
    }
    if ((size_t)x->col >= n)
        return oq_error_set(err, OQ_EPARSE, x->path, line, (long)n + 1, "missing fields");
    (void)lens;
    long k = index_find(x->r, f[x->col]);
    if (k < 0)
        return oq_error_set(err, OQ_EPARSE, x->path, line, x->col + 1,
                            "customer \"%.60s\" has no recommendation in %s: a contact needs "
                            "the propensity the run gave its offer",
                            f[x->col], x->r->path);
    x->keep[k] = 1;
    return 0;
}

int oq_record_keep(oq_record *r, const char *path, const oq_table_map *map, oq_error *err)
{
    keep_ctx x = {.r = r, .path = path, .uname = map && map->user_id ? map->user_id : "user_id"};
    if (!(x.keep = calloc(r->n, 1))) return oq_error_oom(err, path, NULL);
    int rc = oq_csv_read(path, &user_opts, keep_row, &x, err);
    if (rc) goto cleanup;
    size_t m = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (x.keep[i]) {
            r->user[m] = r->user[i];
            r->offer[m] = r->offer[i];
            r->propensity[m] = r->propensity[i];
            r->line[m] = r->line[i];
            r->ordered[m] = r->ordered[i];
            r->value[m] = r->value[i];
            m++;
        } else {
            free(r->user[i]);
            free(r->offer[i]);
            free(r->propensity[i]);
        }
    }
    r->n = m;
    free(r->ix->slot);
    free(r->ix);
    r->ix = NULL;
    long dup;
    if (index_build(r, &dup)) rc = oq_error_oom(err, path, "index");
cleanup:
    free(x.keep);
    return rc;
}

/* ---- outcomes ---------------------------------------------------------------------- */

int oq_record_outcomes(oq_record *r, const oq_txtab *orders, int32_t date, int window,
                       oq_error *err)
{
    if (window < 1 || window > OQ_RECORD_MAX_WINDOW)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "window %d days: expected 1 to %d", window,
                            OQ_RECORD_MAX_WINDOW);
    r->date = date;
    r->window = window;
    r->orders_used = r->orders_else = 0;
    r->orders_last = INT32_MIN;
    memset(r->ordered, 0, r->n * sizeof *r->ordered);
    memset(r->value, 0, r->n * sizeof *r->value);
    for (size_t j = 0; j < orders->n; j++) {
        int32_t d = orders->date[j];
        if (d > r->orders_last) r->orders_last = d;
        long k =
            d >= date && (int64_t)d < (int64_t)date + window ? index_find(r, orders->user[j]) : -1;
        if (k < 0) {
            r->orders_else++;
            continue;
        }
        r->orders_used++;
        r->ordered[k] = 1;
        r->value[k] += orders->value[j];
    }
    return 0;
}

/* ---- writing -------------------------------------------------------------------- */

static void write_rows(const oq_record *r, FILE *fp)
{
    char d[11];
    oq_date_format(r->date, d);
    for (size_t i = 0; i < r->n; i++) {
        oq_csv_write_field(fp, r->user[i]);
        fprintf(fp, ",%s,", d);
        oq_csv_write_field(fp, r->offer[i]);
        /* %.15g: a sum of cents prints as cents (17.44, not 17.439999999999998) */
        fprintf(fp, ",%d,%.15g,%s\n", r->ordered[i], r->value[i] == 0 ? 0.0 : r->value[i],
                r->propensity[i]);
    }
}

int oq_record_write(const oq_record *r, const char *path, oq_error *err)
{
    oq_afile af = {0};
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    fputs(HEADER "\n", af.fp);
    write_rows(r, af.fp);
    return oq_afile_commit(&af, err);
}

/* The existing contacts file: the header must be ours; no row of one of
 * r's customers on r's date. */
typedef struct app_ctx {
    const oq_record *r;
    const char *path;
    char date[11];
    int header_done;
} app_ctx;

static int app_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    app_ctx *x = ctx;
    static const char *const want[6] = {"user_id", "date",  "offer",
                                        "ordered", "value", "propensity"};
    if (!x->header_done) {
        x->header_done = 1;
        for (size_t k = 0; k < 6; k++)
            if (k >= n || strcmp(f[k], want[k]) != 0)
                return oq_error_set(err, OQ_EPARSE, x->path, line, (long)k + 1,
                                    "the header is not " HEADER
                                    " (column %zu: %s%.40s%s): append to a file offerq record "
                                    "wrote",
                                    k + 1, k < n ? "\"" : "", k < n ? f[k] : "missing",
                                    k < n ? "\"" : "");
        if (n > 6)
            return oq_error_set(err, OQ_EPARSE, x->path, line, 7,
                                "the header is not " HEADER
                                " (an extra column): append to a file offerq record wrote");
        return 0;
    }
    if (n != 6)
        return oq_error_set(err, OQ_EPARSE, x->path, line, (long)(n < 6 ? n : 7),
                            "%s fields: %zu fields, the header has 6", n < 6 ? "missing" : "extra",
                            n);
    int32_t d;
    if (oq_date_parse(f[1], lens[1], &d))
        return oq_error_set(err, OQ_EPARSE, x->path, line, 2,
                            "column 2 (date): got \"%.40s\", expected a date YYYY-MM-DD", f[1]);
    if (d != x->r->date) return 0;
    long k = index_find(x->r, f[0]);
    if (k >= 0)
        return oq_error_set(err, OQ_EPARSE, x->path, line, 1,
                            "customer \"%.60s\" already has a contact on %s (this day recorded "
                            "twice? the new one is from %s:%ld); nothing appended",
                            f[0], x->date, x->r->path, x->r->line[k]);
    return 0;
}

int oq_record_check_append(const oq_record *r, const char *path, oq_error *err)
{
    app_ctx x = {.r = r, .path = path};
    oq_date_format(r->date, x.date);
    return oq_csv_read(path, &user_opts, app_row, &x, err);
}

int oq_record_append(const oq_record *r, const char *path, oq_error *err)
{
    FILE *in = NULL;
    oq_afile af = {0};
    int rc = oq_record_check_append(r, path, err);
    if (rc) return rc;
    /* copy what was checked: a second read of the same file (one writer at
     * a time; the temporary is renamed over it at the end) */
    if (!(in = fopen(path, "rb")))
        return oq_error_set(err, OQ_EIO, path, 0, 0, "cannot open for reading: %s",
                            strerror(errno));
    if ((rc = oq_afile_open(&af, path, err))) goto cleanup;
    /* the file keeps its permissions (a shop's log may be group-readable only) */
    struct stat st;
    if (fstat(fileno(in), &st) == 0) (void)fchmod(fileno(af.fp), st.st_mode & 07777);
    char buf[1 << 16];
    size_t k;
    int last = '\n';
    while ((k = fread(buf, 1, sizeof buf, in)) > 0) {
        if (fwrite(buf, 1, k, af.fp) != k) {
            rc = oq_error_set(err, OQ_EIO, path, 0, 0, "write failed");
            goto cleanup;
        }
        last = (unsigned char)buf[k - 1];
    }
    if (ferror(in)) {
        rc = oq_error_set(err, OQ_EIO, path, 0, 0, "read failed");
        goto cleanup;
    }
    if (last != '\n') fputc('\n', af.fp); /* an export without a final newline */
    write_rows(r, af.fp);
    rc = oq_afile_commit(&af, err); /* closes af.fp, also on failure */
cleanup:
    if (in) fclose(in);
    if (rc && af.fp) oq_afile_abort(&af);
    return rc;
}

void oq_record_free(oq_record *r)
{
    if (!r) return;
    for (size_t i = 0; i < r->n; i++) {
        free(r->user[i]);
        free(r->offer[i]);
        free(r->propensity[i]);
    }
    free(r->user);
    free(r->offer);
    free(r->propensity);
    free(r->line);
    free(r->ordered);
    free(r->value);
    if (r->ix) free(r->ix->slot);
    free(r->ix);
    free(r);
}
