/* reco.c - the daily recommendation list (reco.h): reader, writer, lookup. */
#include "offerq/coupon/reco.h"
#include "offerq/core/csv.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "util/num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { R_USER, R_DATE, R_STATE, R_COUPON, R_PROFIT, R_PALIVE, R_V0, NRCOL = R_V0 + OQ_N_COUPONS };
static const oq_csv_col rcols[NRCOL] = {{"user_id", 1, NULL},
                                        {"snapshot_date", 1, NULL},
                                        {"state", 1, NULL},
                                        {"coupon", 1, NULL},
                                        {"expected_profit", 1, NULL},
                                        {"p_alive", 1, NULL},
                                        {"expected_profit_none", 0, NULL},
                                        {"expected_profit_5", 0, NULL},
                                        {"expected_profit_10", 0, NULL},
                                        {"expected_profit_20", 0, NULL}};
_Static_assert(sizeof((oq_reco_row *)0)->value / sizeof(double) == OQ_N_COUPONS,
               "oq_reco_row.value has one entry per coupon");

double oq_reco_row_extra(const oq_reco_row *w)
{
    return w->value[w->coupon] - w->value[OQ_COUPON_NONE];
}

int oq_reco_has_values(const oq_reco *r)
{
    return r->n > 0 && isfinite(r->rows[0].value[0]);
}

oq_reco *oq_reco_new(void)
{
    return calloc(1, sizeof(oq_reco));
}

void oq_reco_free(oq_reco *r)
{
    if (!r) return;
    free(r->rows);
    free(r);
}

int oq_reco_push(oq_reco *r, const oq_reco_row *row, oq_error *err)
{
    if (memchr(row->state, 0, OQ_RECO_STATE_MAX) == NULL)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "state label longer than %d bytes",
                            OQ_RECO_STATE_MAX - 1);
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        oq_reco_row *p = realloc(r->rows, cap * sizeof *p);
        if (!p) return oq_error_oom(err, NULL, NULL);
        r->rows = p;
        r->cap = cap;
    }
    r->rows[r->n++] = *row;
    return 0;
}

/* Sort key with the original position, so duplicates can be reported by line. */
typedef struct ukey {
    int64_t user;
    size_t pos;
} ukey;

static int cmp_ukey(const void *a, const void *b)
{
    const ukey *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    return x->pos < y->pos ? -1 : (x->pos > y->pos);
}

/* Sort r by user; lines (or NULL) gives each row's file line for messages. */
static int sort_rows(oq_reco *r, const long *lines, const char *name, oq_error *err)
{
    int rc = 0;
    if (r->n < 2) return 0; /* sorted; and rows may be NULL (memcpy(NULL, ...) is UB) */
    ukey *k = malloc(r->n * sizeof *k);
    oq_reco_row *tmp = malloc(r->n * sizeof *tmp);
    if (!k || !tmp) {
        rc = oq_error_oom(err, name, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < r->n; i++)
        k[i] = (ukey){r->rows[i].user_id, i};
    qsort(k, r->n, sizeof *k, cmp_ukey);
    for (size_t i = 1; i < r->n; i++)
        if (k[i].user == k[i - 1].user) {
            if (lines)
                rc = oq_error_set(err, OQ_EPARSE, name, lines[k[i].pos], 1,
                                  "user_id %lld appears twice (first on line %ld): one "
                                  "recommendation per customer",
                                  (long long)k[i].user, lines[k[i - 1].pos]);
            else
                rc = oq_error_set(err, OQ_EINVAL, name, 0, 0, "user_id %lld appears twice",
                                  (long long)k[i].user);
            goto cleanup;
        }
    for (size_t i = 0; i < r->n; i++)
        tmp[i] = r->rows[k[i].pos];
    memcpy(r->rows, tmp, r->n * sizeof *tmp);
cleanup:
    free(k);
    free(tmp);
    return rc;
}

int oq_reco_sort(oq_reco *r, oq_error *err)
{
    return sort_rows(r, NULL, NULL, err);
}

typedef struct rctx {
    const char *name;
    oq_reco *r;
    int header_done;
    size_t nfields;
    int map[NRCOL];
    long *lines; /* (cap) file line of each row, for duplicate messages */
    size_t lcap;
} rctx;

static int bad(oq_error *err, const char *name, long line, int field, int k, const char *got,
               const char *expected)
{
    return oq_error_set(err, OQ_EPARSE, name, line, field + 1,
                        "column %d (%s): got \"%.40s\", expected %s", field + 1, rcols[k].name, got,
                        expected);
}

static int header(rctx *c, char **f, size_t n, long line, oq_error *err)
{
    int rc = oq_csv_header_map(c->name, line, f, n, rcols, NRCOL, 0, c->map, err);
    if (rc) return rc;
    c->nfields = n;
    c->header_done = 1;
    return 0;
}

static int reco_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    rctx *c = ctx;
    if (!c->header_done) return header(c, f, n, line, err);
    if (n != c->nfields)
        return oq_error_set(err, OQ_EPARSE, c->name, line,
                            (long)(n < c->nfields ? n : c->nfields + 1), "%zu fields, expected %zu",
                            n, c->nfields);
    const int *m = c->map;
    oq_reco_row row = {0};
    int64_t iv;
#define BAD(k, what) bad(err, c->name, line, m[k], k, f[m[k]], what)
    if (oq_parse_i64(f[m[R_USER]], lens[m[R_USER]], &iv))
        return BAD(R_USER, "an integer customer id");
    row.user_id = iv;
    if (oq_date_parse(f[m[R_DATE]], lens[m[R_DATE]], &row.day))
        return BAD(R_DATE, "a date YYYY-MM-DD");
    if (lens[m[R_STATE]] >= OQ_RECO_STATE_MAX)
        return BAD(R_STATE, "a state label shorter than 64 bytes");
    memcpy(row.state, f[m[R_STATE]], lens[m[R_STATE]] + 1);
    int cp = oq_coupon_parse(f[m[R_COUPON]]);
    if (cp < 0) return BAD(R_COUPON, "one of none, 5, 10, 20");
    row.coupon = (uint8_t)cp;
    if (oq_parse_f64(f[m[R_PROFIT]], lens[m[R_PROFIT]], &row.expected_profit))
        return BAD(R_PROFIT, "a number");
    if (oq_parse_f64(f[m[R_PALIVE]], lens[m[R_PALIVE]], &row.p_alive) ||
        !(row.p_alive >= 0 && row.p_alive <= 1))
        return BAD(R_PALIVE, "a probability in [0, 1]");
    for (int k = 0; k < OQ_N_COUPONS; k++) {
        row.value[k] = NAN;
        if (m[R_V0 + k] >= 0 && (oq_parse_f64(f[m[R_V0 + k]], lens[m[R_V0 + k]], &row.value[k]) ||
                                 !isfinite(row.value[k])))
            return BAD(R_V0 + k, "a finite number");
    }
#undef BAD
    if (c->r->n == c->lcap) {
        size_t cap = c->lcap ? c->lcap * 2 : 1024;
        long *p = realloc(c->lines, cap * sizeof *p);
        if (!p) return oq_error_oom(err, c->name, NULL);
        c->lines = p;
        c->lcap = cap;
    }
    c->lines[c->r->n] = line;
    return oq_reco_push(c->r, &row, err);
}

static int finish(rctx *c, int rc, oq_reco **out, oq_error *err)
{
    if (!rc && !c->header_done)
        rc = oq_error_set(err, OQ_EPARSE, c->name, 1, 1, "empty file: expected the header %s",
                          OQ_RECO_HEADER);
    if (!rc) rc = sort_rows(c->r, c->lines, c->name, err);
    free(c->lines);
    if (rc) {
        oq_reco_free(c->r);
        return rc;
    }
    *out = c->r;
    return 0;
}

int oq_reco_read(const char *path, oq_reco **out, oq_error *err)
{
    *out = NULL;
    rctx c = {.name = path, .r = oq_reco_new()};
    if (!c.r) return oq_error_oom(err, path, NULL);
    int rc = oq_csv_read(path, NULL, reco_row, &c, err);
    return finish(&c, rc, out, err);
}

int oq_reco_read_mem(const char *name, const char *data, size_t len, oq_reco **out, oq_error *err)
{
    *out = NULL;
    rctx c = {.name = name, .r = oq_reco_new()};
    if (!c.r) return oq_error_oom(err, name, NULL);
    int rc = oq_csv_read_mem(name, data, len, NULL, reco_row, &c, err);
    return finish(&c, rc, out, err);
}

int oq_reco_write(const char *path, const oq_reco *r, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    int values = oq_reco_has_values(r);
    fputs(values ? OQ_RECO_HEADER OQ_RECO_HEADER_VALUES "\n" : OQ_RECO_HEADER "\n", af.fp);
    for (size_t i = 0; i < r->n; i++) {
        const oq_reco_row *w = &r->rows[i];
        char date[11];
        oq_date_format(w->day, date);
        fprintf(af.fp, "%lld,%s,", (long long)w->user_id, date);
        oq_csv_write_field(af.fp, w->state);
        fprintf(af.fp, ",%s,%.17g,%.17g", oq_coupon_name(w->coupon), w->expected_profit,
                w->p_alive);
        for (int k = 0; values && k < OQ_N_COUPONS; k++)
            fprintf(af.fp, ",%.17g", isfinite(w->value[k]) ? w->value[k] : 0.0);
        fputc('\n', af.fp);
    }
    return oq_afile_commit(&af, err);
}

const oq_reco_row *oq_reco_find(const oq_reco *r, int64_t u)
{
    size_t lo = 0, hi = r->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (r->rows[mid].user_id < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < r->n && r->rows[lo].user_id == u) ? &r->rows[lo] : NULL;
}
