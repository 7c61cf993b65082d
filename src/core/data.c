/* data.c - customer log and events readers, category dictionary, dates.
 * Schema: README, "Data". */
#include "offerq/core/data.h"
#include "offerq/core/comm.h"
#include "offerq/core/csv.h"
#include "util/num.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- dates ----------------------------------------------------------------
 * days_from_civil / civil_from_days: H. Hinnant, "chrono-Compatible Low-Level
 * Date Algorithms" (proleptic Gregorian calendar). */

static int32_t days_from_civil(int y, int m, int d)
{
    y -= m <= 2;
    int era = (y >= 0 ? y : y - 399) / 400;
    int yoe = y - era * 400;
    int doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

static void civil_from_days(int32_t z, int *y, int *m, int *d)
{
    z += 719468;
    int era = (z >= 0 ? z : z - 146096) / 146097;
    int doe = z - era * 146097;
    int yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int yy = yoe + era * 400;
    int doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp + (mp < 10 ? 3 : -9);
    *y = yy + (*m <= 2);
}

int oq_date_parse(const char *s, size_t len, int32_t *days)
{
    if (len != 10 || s[4] != '-' || s[7] != '-') return -1;
    int v[8], k = 0;
    for (int i = 0; i < 10; i++) {
        if (i == 4 || i == 7) continue;
        if (s[i] < '0' || s[i] > '9') return -1;
        v[k++] = s[i] - '0';
    }
    int y = v[0] * 1000 + v[1] * 100 + v[2] * 10 + v[3];
    int m = v[4] * 10 + v[5], d = v[6] * 10 + v[7];
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) return -1;
    static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap)) return -1;
    *days = days_from_civil(y, m, d);
    return 0;
}

void oq_date_format(int32_t days, char out[11])
{
    int y, m, d;
    civil_from_days(days, &y, &m, &d);
    if (y < 0 || y > 9999) y = 0; /* out of the readable range: never produced by the parser */
    out[0] = (char)('0' + y / 1000);
    out[1] = (char)('0' + y / 100 % 10);
    out[2] = (char)('0' + y / 10 % 10);
    out[3] = (char)('0' + y % 10);
    out[4] = '-';
    out[5] = (char)('0' + m / 10);
    out[6] = (char)('0' + m % 10);
    out[7] = '-';
    out[8] = (char)('0' + d / 10);
    out[9] = (char)('0' + d % 10);
    out[10] = 0;
}

/* ---- the date horizon ------------------------------------------------------ */

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

int oq_date_outliers(const int32_t *day, size_t n, int32_t *limit, size_t *count, size_t *idx,
                     size_t max)
{
    *limit = INT32_MAX;
    *count = 0;
    if (n == 0) return 0;
    int32_t lo = day[0], hi = day[0];
    for (size_t i = 1; i < n; i++) {
        if (day[i] < lo) lo = day[i];
        if (day[i] > hi) hi = day[i];
    }
    /* every date is within the horizon of the earliest: nothing to sort */
    if ((int64_t)hi - lo <= OQ_DATE_HORIZON_DAYS) return 0;
    int32_t *s = malloc(n * sizeof *s);
    if (!s) return OQ_ENOMEM;
    memcpy(s, day, n * sizeof *s);
    qsort(s, n, sizeof *s, cmp_i32);
    /* nearest rank: the ceil(q n)-th smallest date */
    size_t rank = (size_t)ceil(OQ_DATE_HORIZON_QUANTILE * (double)n);
    int32_t q = s[(rank ? rank : 1) - 1];
    free(s);
    *limit = q + OQ_DATE_HORIZON_DAYS;
    for (size_t i = 0; i < n; i++)
        if (day[i] > *limit) {
            if (*count < max) idx[*count] = i;
            (*count)++;
        }
    return 0;
}

/* Physical lines of data records rec[0..k) (ascending, 0 = the first record
 * after the header) of a CSV file, by reading it again. */
typedef struct line_ctx {
    const size_t *rec;
    size_t k, next, seen;
    long *lines;
} line_ctx;

static int line_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    (void)f, (void)lens, (void)n, (void)err;
    line_ctx *c = ctx;
    size_t r = c->seen++;
    if (r == 0) return 0; /* the header */
    while (c->next < c->k && c->rec[c->next] == r - 1)
        c->lines[c->next++] = line;
    return c->next == c->k ? 1 : 0; /* 1: found them all, stop */
}

static int horizon_error(oq_error *err, const char *file, long col, const char *d, const char *q,
                         size_t count, size_t k, const long *at, const char *list);

int oq_date_horizon_check(const int32_t *day, size_t n, const long *lines, const char *file,
                          const char *data, size_t len, long col, oq_error *err)
{
    enum { MAXLIST = 5 };
    size_t idx[MAXLIST], count;
    int32_t limit;
    if (oq_date_outliers(day, n, &limit, &count, idx, MAXLIST))
        return oq_error_oom(err, file, NULL);
    if (count == 0) return 0;
    size_t k = count < MAXLIST ? count : MAXLIST;
    long at[MAXLIST] = {0};
    for (size_t i = 0; i < k; i++)
        at[i] = lines ? lines[idx[i]] : -1;
    if (!lines && (data || (file && strcmp(file, "-") != 0))) {
        /* the reader keeps no line numbers (a quoted field may span lines):
         * find them on this rare path by reading the file again */
        line_ctx c = {.rec = idx, .k = k, .lines = at};
        oq_error e2 = {0};
        int rc = data ? oq_csv_read_mem(file, data, len, NULL, line_row, &c, &e2)
                      : oq_csv_read(file, NULL, line_row, &c, &e2);
        if (rc < 0)
            for (size_t i = 0; i < k; i++)
                at[i] = -1;
    }
    char list[200] = "", d[11], q[11];
    size_t used = 0;
    for (size_t i = 0; i < k && used < sizeof list; i++) {
        int w = at[i] > 0 ? snprintf(list + used, sizeof list - used, "%s%ld", i ? ", " : "", at[i])
                          : snprintf(list + used, sizeof list - used, "%sdata row %zu",
                                     i ? ", " : "", idx[i] + 1);
        if (w < 0) break;
        used += (size_t)w;
    }
    oq_date_format(day[idx[0]], d);
    oq_date_format(limit - OQ_DATE_HORIZON_DAYS, q);
    return horizon_error(err, file, col, d, q, count, k, at, list);
}

static int horizon_error(oq_error *err, const char *file, long col, const char *d, const char *q,
                         size_t count, size_t k, const long *at, const char *list)
{
    return oq_error_set(err, OQ_EPARSE, file, at[0] > 0 ? at[0] : 0, at[0] > 0 ? col : 0,
                        "date %s is more than %d days after %s, the 99.9th percentile of the "
                        "file's dates: %zu row%s beyond that horizon, at line%s %s%s (a mistyped "
                        "year? fix or remove them)",
                        d, OQ_DATE_HORIZON_DAYS, q, count, count == 1 ? "" : "s", k == 1 ? "" : "s",
                        list, count > k ? ", ..." : "");
}

/* ---- the date horizon of a file read in parts ------------------------------ */

int oq_day_hist_add(oq_day_hist *h, int32_t day)
{
    if (!h->count) {
        int32_t lo, hi;
        if (oq_date_parse("1900-01-01", 10, &lo) || oq_date_parse("2999-12-31", 10, &hi))
            return OQ_EINVAL;
        if (!(h->count = calloc((size_t)(hi - lo) + 1, sizeof *h->count))) return OQ_ENOMEM;
        h->lo = lo;
        h->span = (size_t)(hi - lo) + 1;
        h->min = INT32_MAX;
        h->max = INT32_MIN;
    }
    if (day < h->lo || (size_t)(day - h->lo) >= h->span) return OQ_EINVAL; /* not a parsed date */
    h->count[day - h->lo]++;
    h->n++;
    if (day < h->min) h->min = day;
    if (day > h->max) h->max = day;
    return 0;
}

void oq_day_hist_free(oq_day_hist *h)
{
    free(h->count);
    memset(h, 0, sizeof *h);
}

/* The rows beyond the horizon, found by reading the file again (the rare
 * failing path): the first k record indexes, their lines and the first's date. */
typedef struct beyond_ctx {
    long field;
    int32_t limit, first;
    size_t seen, k, idx[5];
    long lines[5];
} beyond_ctx;

static int beyond_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    (void)err;
    beyond_ctx *c = ctx;
    size_t r = c->seen++;
    int32_t day;
    if (r == 0 || (size_t)c->field >= n || oq_date_parse(f[c->field], lens[c->field], &day) ||
        day <= c->limit)
        return 0;
    if (c->k == 0) c->first = day;
    c->idx[c->k] = r - 1;
    c->lines[c->k++] = line;
    return c->k == 5 ? 1 : 0;
}

int oq_day_hist_check(const oq_day_hist *h, const char *file, long col, oq_error *err)
{
    if (h->n == 0 || (int64_t)h->max - h->min <= OQ_DATE_HORIZON_DAYS) return 0;
    /* nearest rank: the ceil(q n)-th smallest date, as oq_date_outliers */
    size_t rank = (size_t)ceil(OQ_DATE_HORIZON_QUANTILE * (double)h->n), seen = 0, i = 0;
    if (!rank) rank = 1;
    for (; i < h->span; i++)
        if ((seen += h->count[i]) >= rank) break;
    int32_t limit = h->lo + (int32_t)i + OQ_DATE_HORIZON_DAYS;
    size_t count = 0;
    for (size_t j = (size_t)(limit - h->lo) + 1; j < h->span; j++)
        count += h->count[j];
    if (count == 0) return 0;
    beyond_ctx c = {.field = col - 1, .limit = limit};
    oq_error e2 = {0};
    if (!file || strcmp(file, "-") == 0 || oq_csv_read(file, NULL, beyond_row, &c, &e2) < 0)
        c.k = 0;
    char list[200] = "", d[11] = "?", q[11];
    long at[5] = {0};
    size_t used = 0;
    for (size_t j = 0; j < c.k && used < sizeof list; j++) {
        at[j] = c.lines[j];
        int w = snprintf(list + used, sizeof list - used, "%s%ld", j ? ", " : "", c.lines[j]);
        if (w < 0) break;
        used += (size_t)w;
    }
    if (c.k) oq_date_format(c.first, d);
    oq_date_format(limit - OQ_DATE_HORIZON_DAYS, q);
    return horizon_error(err, file, col, d, q, count, c.k ? c.k : 1, at,
                         c.k ? list : "(the file could not be read again)");
}

/* ---- coupons ------------------------------------------------------------- */

const char *oq_coupon_name(int i)
{
    static const char *n[OQ_N_COUPONS] = {"none", "5", "10", "20"};
    return (i >= 0 && i < OQ_N_COUPONS) ? n[i] : "?";
}

int oq_coupon_parse(const char *s)
{
    for (int i = 0; i < OQ_N_COUPONS; i++)
        if (strcmp(s, oq_coupon_name(i)) == 0) return i;
    if (strcmp(s, "0") == 0) return OQ_COUPON_NONE;
    return -1;
}

/* ---- dictionary (open addressing, FNV-1a) ---------------------------------- */

static uint32_t hash_str(const char *s, size_t len)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < len; i++)
        h = (h ^ (unsigned char)s[i]) * 16777619u;
    return h;
}

static int dict_grow(oq_dict *d)
{
    uint32_t ns = d->nslots ? d->nslots * 2 : 64;
    uint32_t *slots = calloc(ns, sizeof *slots);
    if (!slots) return OQ_ENOMEM;
    for (uint32_t i = 0; i < d->n; i++) {
        uint32_t h = hash_str(d->names[i], strlen(d->names[i])) & (ns - 1);
        while (slots[h])
            h = (h + 1) & (ns - 1);
        slots[h] = i + 1;
    }
    free(d->slots);
    d->slots = slots;
    d->nslots = ns;
    return 0;
}

int oq_dict_intern(oq_dict *d, const char *s, size_t len, uint32_t *id)
{
    if (d->nslots) {
        uint32_t h = hash_str(s, len) & (d->nslots - 1);
        while (d->slots[h]) {
            const char *n = d->names[d->slots[h] - 1];
            if (strlen(n) == len && memcmp(n, s, len) == 0) {
                *id = d->slots[h] - 1;
                return 0;
            }
            h = (h + 1) & (d->nslots - 1);
        }
    }
    if (d->n >= OQ_MAX_CATEGORIES) return OQ_ELIMIT;
    if ((d->n + 1) * 2 > d->nslots && dict_grow(d)) return OQ_ENOMEM;
    if (d->n == d->cap) {
        uint32_t cap = d->cap ? d->cap * 2 : 16;
        char **nn = realloc(d->names, cap * sizeof *nn);
        if (!nn) return OQ_ENOMEM;
        d->names = nn;
        d->cap = cap;
    }
    char *copy = malloc(len + 1);
    if (!copy) return OQ_ENOMEM;
    memcpy(copy, s, len);
    copy[len] = 0;
    d->names[d->n] = copy;
    uint32_t h = hash_str(s, len) & (d->nslots - 1);
    while (d->slots[h])
        h = (h + 1) & (d->nslots - 1);
    d->slots[h] = d->n + 1;
    *id = d->n++;
    return 0;
}

long oq_dict_find(const oq_dict *d, const char *s)
{
    if (!d->nslots) return -1;
    size_t len = strlen(s);
    uint32_t h = hash_str(s, len) & (d->nslots - 1);
    while (d->slots[h]) {
        if (strcmp(d->names[d->slots[h] - 1], s) == 0) return (long)d->slots[h] - 1;
        h = (h + 1) & (d->nslots - 1);
    }
    return -1;
}

/* qsort of names with their old ids, by name. */
typedef struct named_id {
    const char *name;
    uint32_t id;
} named_id;

static int cmp_named(const void *a, const void *b)
{
    return strcmp(((const named_id *)a)->name, ((const named_id *)b)->name);
}

int oq_dict_sort_from(oq_dict *d, uint32_t from, uint32_t *remap)
{
    uint32_t n = d->n, k = n > from ? n - from : 0;
    for (uint32_t i = 0; i < n; i++)
        remap[i] = i;
    if (k < 2) return 0;
    named_id *v = malloc(k * sizeof *v);
    char **names = malloc(k * sizeof *names);
    if (!v || !names) {
        free(v);
        free(names);
        return OQ_ENOMEM;
    }
    for (uint32_t i = 0; i < k; i++)
        v[i] = (named_id){d->names[from + i], from + i};
    qsort(v, k, sizeof *v, cmp_named);
    for (uint32_t i = 0; i < k; i++) {
        names[i] = (char *)v[i].name;
        remap[v[i].id] = from + i;
    }
    memcpy(d->names + from, names, k * sizeof *names);
    /* Rebuild the hash slots for the new ids. */
    memset(d->slots, 0, d->nslots * sizeof *d->slots);
    for (uint32_t i = 0; i < n; i++) {
        size_t len = strlen(d->names[i]);
        uint32_t h = hash_str(d->names[i], len) & (d->nslots - 1);
        while (d->slots[h])
            h = (h + 1) & (d->nslots - 1);
        d->slots[h] = i + 1;
    }
    free(v);
    free(names);
    return 0;
}

void oq_dict_clear(oq_dict *d)
{
    for (uint32_t i = 0; i < d->n; i++)
        free(d->names[i]);
    free(d->names);
    free(d->slots);
    memset(d, 0, sizeof *d);
}

/* ---- log reader ------------------------------------------------------------ */

enum { C_USER, C_DATE, C_DAYS, C_P30, C_AOV, C_CAT, C_BUDGET, C_COUPON, C_ORDER, C_PROFIT, NCOL };
static const oq_csv_col log_cols[NCOL] = {{"user_id", 1, NULL},
                                          {"snapshot_date", 1, NULL},
                                          {"days_since_last_purchase", 1, NULL},
                                          {"purchases_last_30d", 1, NULL},
                                          {"avg_order_value", 1, NULL},
                                          {"category", 1, NULL},
                                          {"remaining_budget_pct", 1, NULL},
                                          {"coupon_offered", 1, NULL},
                                          {"order_placed", 1, NULL},
                                          {"order_profit", 1, NULL}};

int oq_log_reserve(oq_log *l, size_t n)
{
    if (n <= l->cap) return 0;
    size_t cap = l->cap ? l->cap * 2 : 4096;
    while (cap < n)
        cap *= 2;
#define GROW(f)                                                                                    \
    do {                                                                                           \
        void *p = realloc(l->f, cap * sizeof *l->f);                                               \
        if (!p) return OQ_ENOMEM;                                                                  \
        l->f = p;                                                                                  \
    } while (0)
    GROW(user_id);
    GROW(day);
    GROW(days_since);
    GROW(purchases_30d);
    GROW(aov);
    GROW(category);
    GROW(budget);
    GROW(coupon);
    GROW(order);
    GROW(profit);
#undef GROW
    l->cap = cap;
    return 0;
}

typedef struct log_ctx {
    const char *name;
    oq_log *log;
    int header_done;
    int map[NCOL]; /* map[c] = field index of column c */
    size_t nfields;
    /* A part's read (comm.h): every row's user_id, date and category are
     * parsed (the category interned, so the dictionary is the whole file's;
     * the date counted for the horizon), but only the part's customers'
     * rows are parsed further and stored. */
    const oq_part *part;
    oq_day_hist days; /* every data row's date */
    uint32_t *frow;   /* (log->n) file row of each stored row */
    size_t n_all, cap_frow;
} log_ctx;

static int part_split(const oq_part *p)
{
    return p && p->size > 1;
}

/* Count a parsed row's day; 1 when the part keeps it (its file row noted),
 * 0 when it is another part's. */
static int part_keep(log_ctx *c, int64_t user, int32_t day, size_t stored, oq_error *err)
{
    size_t at = c->n_all++;
    int rc = oq_day_hist_add(&c->days, day);
    if (rc)
        return rc == OQ_ENOMEM ? oq_error_oom(err, c->name, NULL)
                               : oq_error_set(err, rc, c->name, 0, 0, "a date out of range");
    if (!oq_part_keeps(c->part, user)) return 0;
    if (at > UINT32_MAX)
        return oq_error_set(err, OQ_ELIMIT, c->name, 0, 0, "more than %u rows", UINT32_MAX);
    if (stored == c->cap_frow) {
        size_t cap = c->cap_frow ? 2 * c->cap_frow : 4096;
        uint32_t *f = realloc(c->frow, cap * sizeof *f);
        if (!f) return oq_error_oom(err, c->name, NULL);
        c->frow = f;
        c->cap_frow = cap;
    }
    c->frow[stored] = (uint32_t)at;
    return 1;
}

static int bad(oq_error *err, const char *name, long line, int field, const char *col,
               const char *got, const char *expected)
{
    return oq_error_set(err, OQ_EPARSE, name, line, field + 1,
                        "column %d (%s): got \"%.40s\", expected %s", field + 1, col, got,
                        expected);
}

/* Map the header onto cols (every column required, no others). */
static int parse_header(log_ctx *c, char **f, size_t n, long line, oq_error *err,
                        const oq_csv_col *cols, int ncol, int *map)
{
    int rc = oq_csv_header_map(c->name, line, f, n, cols, (size_t)ncol, 0, map, err);
    if (rc) return rc;
    c->nfields = n;
    c->header_done = 1;
    return 0;
}

static int check_count(const char *name, size_t got, size_t want, long line, oq_error *err)
{
    if (got == want) return 0;
    if (got < want)
        return oq_error_set(err, OQ_EPARSE, name, line, (long)got,
                            "missing columns: %zu fields, expected %zu", got, want);
    return oq_error_set(err, OQ_EPARSE, name, line, (long)want + 1,
                        "extra columns: %zu fields, expected %zu", got, want);
}

static int log_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    log_ctx *c = ctx;
    if (!c->header_done) return parse_header(c, f, n, line, err, log_cols, NCOL, c->map);
    if (check_count(c->name, n, c->nfields, line, err)) return OQ_EPARSE;
    oq_log *l = c->log;
    const int *m = c->map;
    int64_t iv;
    double dv;
    int32_t day;
#define F(k) f[m[k]], lens[m[k]]
#define BAD(k, what) bad(err, c->name, line, m[k], log_cols[k].name, f[m[k]], what)
    if (part_split(c->part)) {
        /* every part: the fields that decide the owner, the dictionary and
         * the horizon; the rest only for the part's own rows */
        uint32_t cat;
        if (oq_parse_i64(F(C_USER), &iv)) return BAD(C_USER, "an integer customer id");
        if (oq_date_parse(F(C_DATE), &day)) return BAD(C_DATE, "a date YYYY-MM-DD");
        if (lens[m[C_CAT]] == 0) return BAD(C_CAT, "a category name");
        int rc = oq_dict_intern(&l->cats, F(C_CAT), &cat);
        if (rc == OQ_ELIMIT)
            return oq_error_set(err, OQ_ELIMIT, c->name, line, m[C_CAT] + 1,
                                "more than %d distinct categories", OQ_MAX_CATEGORIES);
        if (rc) return oq_error_oom(err, c->name, NULL);
        int keep = part_keep(c, iv, day, l->n, err);
        if (keep <= 0) return keep;
    }
    if (oq_log_reserve(l, l->n + 1)) return oq_error_oom(err, c->name, NULL);
    size_t r = l->n;
    if (oq_parse_i64(F(C_USER), &iv)) return BAD(C_USER, "an integer customer id");
    l->user_id[r] = iv;
    if (oq_date_parse(F(C_DATE), &day)) return BAD(C_DATE, "a date YYYY-MM-DD");
    l->day[r] = day;
    if (oq_parse_i64(F(C_DAYS), &iv) || iv < 0 || iv > INT32_MAX)
        return BAD(C_DAYS, "an integer >= 0");
    l->days_since[r] = (int32_t)iv;
    if (oq_parse_i64(F(C_P30), &iv) || iv < 0 || iv > INT32_MAX)
        return BAD(C_P30, "an integer >= 0");
    l->purchases_30d[r] = (int32_t)iv;
    if (oq_parse_f64(F(C_AOV), &dv) || dv < 0) return BAD(C_AOV, "a number >= 0");
    l->aov[r] = dv;
    if (lens[m[C_CAT]] == 0) return BAD(C_CAT, "a category name");
    uint32_t cat;
    int rc = oq_dict_intern(&l->cats, F(C_CAT), &cat);
    if (rc == OQ_ELIMIT)
        return oq_error_set(err, OQ_ELIMIT, c->name, line, m[C_CAT] + 1,
                            "more than %d distinct categories", OQ_MAX_CATEGORIES);
    if (rc) return oq_error_oom(err, c->name, NULL);
    l->category[r] = (uint16_t)cat;
    if (oq_parse_f64(F(C_BUDGET), &dv) || !(dv >= 0 && dv <= 1))
        return BAD(C_BUDGET, "a number in [0, 1]");
    l->budget[r] = (float)dv;
    int cp = oq_coupon_parse(f[m[C_COUPON]]);
    if (cp < 0) return BAD(C_COUPON, "one of none, 5, 10, 20");
    l->coupon[r] = (uint8_t)cp;
    if (lens[m[C_ORDER]] != 1 || (f[m[C_ORDER]][0] != '0' && f[m[C_ORDER]][0] != '1'))
        return BAD(C_ORDER, "0 or 1");
    l->order[r] = (uint8_t)(f[m[C_ORDER]][0] - '0');
    if (oq_parse_f64(F(C_PROFIT), &dv)) return BAD(C_PROFIT, "a number");
    l->profit[r] = dv;
#undef F
#undef BAD
    l->n++;
    return 0;
}

/* A row's sort key: (user, day), then its place in the file. */
typedef struct canon_key {
    int64_t user;
    int32_t day;
    uint32_t row;
} canon_key;

static int cmp_canon(const void *a, const void *b)
{
    const canon_key *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    return (x->row > y->row) - (x->row < y->row);
}

/* Reorder the n elements of size sz at col by idx (new i = old idx[i]). */
static int permute(void *col, size_t sz, const canon_key *idx, size_t n)
{
    unsigned char *tmp = malloc(n * sz), *c = col;
    if (!tmp) return OQ_ENOMEM;
    for (size_t i = 0; i < n; i++)
        memcpy(tmp + i * sz, c + (size_t)idx[i].row * sz, sz);
    memcpy(c, tmp, n * sz);
    free(tmp);
    return 0;
}

static int duplicate_rows(const char *name, const oq_log *l, size_t a, size_t b,
                          const uint32_t *frow, oq_error *err)
{
    char date[11];
    oq_date_format(l->day[a], date);
    size_t ra = a, rb = b; /* stored rows; their places in the file: */
    a = frow ? frow[ra] : ra;
    b = frow ? frow[rb] : rb;
    /* Data row k is on line k + 2 when no quoted field spans lines. */
    return oq_error_set(err, OQ_EPARSE, name, (long)(a > b ? a : b) + 2, 0,
                        "two rows for user_id %lld on %s (lines %zu and %zu): a customer has "
                        "at most one snapshot a day; remove or merge one",
                        (long long)l->user_id[ra], date, (a < b ? a : b) + 2, (a > b ? a : b) + 2);
}

/* Make the log depend on its content only, not on the order of its rows
 * (issue 21 item 11): category ids by sorted name, rows by (user, day), and
 * two rows of one customer on one day refused, as `db load` refuses them. */
static int canonical(oq_log *l, const char *name, const uint32_t *frow, oq_error *err)
{
    uint32_t *remap = malloc((l->cats.n ? l->cats.n : 1) * sizeof *remap);
    if (!remap || oq_dict_sort_from(&l->cats, 0, remap)) {
        free(remap);
        return oq_error_oom(err, name, NULL);
    }
    for (size_t i = 0; i < l->n; i++)
        l->category[i] = (uint16_t)remap[l->category[i]];
    free(remap);
    size_t unsorted = 0;
    for (size_t i = 1; i < l->n; i++) {
        if (l->user_id[i] == l->user_id[i - 1] && l->day[i] == l->day[i - 1])
            return duplicate_rows(name, l, i - 1, i, frow, err);
        unsorted |= l->user_id[i] < l->user_id[i - 1] ||
                    (l->user_id[i] == l->user_id[i - 1] && l->day[i] < l->day[i - 1]);
    }
    if (!unsorted) return 0;
    if (l->n > UINT32_MAX)
        return oq_error_set(err, OQ_ELIMIT, name, 0, 0, "more than %u rows", UINT32_MAX);
    canon_key *k = malloc(l->n * sizeof *k);
    if (!k) return oq_error_oom(err, name, NULL);
    for (size_t i = 0; i < l->n; i++)
        k[i] = (canon_key){l->user_id[i], l->day[i], (uint32_t)i};
    qsort(k, l->n, sizeof *k, cmp_canon);
    int rc = 0;
    for (size_t i = 1; !rc && i < l->n; i++)
        if (k[i].user == k[i - 1].user && k[i].day == k[i - 1].day)
            rc = duplicate_rows(name, l, k[i - 1].row, k[i].row, frow, err);
    if (!rc && (permute(l->user_id, sizeof *l->user_id, k, l->n) ||
                permute(l->day, sizeof *l->day, k, l->n) ||
                permute(l->days_since, sizeof *l->days_since, k, l->n) ||
                permute(l->purchases_30d, sizeof *l->purchases_30d, k, l->n) ||
                permute(l->aov, sizeof *l->aov, k, l->n) ||
                permute(l->category, sizeof *l->category, k, l->n) ||
                permute(l->budget, sizeof *l->budget, k, l->n) ||
                permute(l->coupon, sizeof *l->coupon, k, l->n) ||
                permute(l->order, sizeof *l->order, k, l->n) ||
                permute(l->profit, sizeof *l->profit, k, l->n)))
        rc = oq_error_oom(err, name, NULL);
    free(k);
    return rc;
}

int oq_log_canonical(oq_log *l, const char *name, oq_error *err)
{
    return canonical(l, name, NULL, err);
}

static int log_finish(log_ctx *c, int rc, const char *data, size_t len, oq_log **out, oq_error *err)
{
    int split = part_split(c->part);
    if (!rc && !c->header_done)
        rc = oq_error_set(err, OQ_EPARSE, c->name, 1, 1, "empty file: expected a header line");
    if (!rc && split) /* tomorrow is the day after the last: one mistyped year moves it */
        rc = oq_day_hist_check(&c->days, c->name, c->map[C_DATE] + 1, err);
    else if (!rc)
        rc = oq_date_horizon_check(c->log->day, c->log->n, NULL, c->name, data, len,
                                   c->map[C_DATE] + 1, err);
    if (!rc) rc = canonical(c->log, c->name, split ? c->frow : NULL, err);
    oq_day_hist_free(&c->days);
    free(c->frow);
    if (rc) {
        oq_log_free(c->log);
        return rc;
    }
    *out = c->log;
    return 0;
}

int oq_log_read(const char *path, oq_log **out, oq_error *err)
{
    return oq_log_read_part(path, NULL, out, err);
}

int oq_log_read_part(const char *path, const oq_part *part, oq_log **out, oq_error *err)
{
    *out = NULL;
    log_ctx c = {.name = path, .part = part};
    if (!(c.log = calloc(1, sizeof *c.log))) return oq_error_oom(err, path, NULL);
    int rc = oq_csv_read(path, NULL, log_row, &c, err);
    return log_finish(&c, rc, NULL, 0, out, err);
}

int oq_log_all_in_part(const oq_log *log, const oq_part *part)
{
    for (size_t i = 0; i < log->n; i++)
        if (!oq_part_keeps(part, log->user_id[i])) return 0;
    return 1;
}

int oq_log_select_part(const oq_log *log, const oq_part *part, oq_log **out, oq_error *err)
{
    *out = NULL;
    oq_log *l = calloc(1, sizeof *l);
    size_t m = 0;
    for (size_t i = 0; i < log->n; i++)
        m += oq_part_keeps(part, log->user_id[i]);
    if (!l || oq_log_reserve(l, m ? m : 1)) goto oom;
    for (uint32_t k = 0; k < log->cats.n; k++) {
        uint32_t id;
        if (oq_dict_intern(&l->cats, log->cats.names[k], strlen(log->cats.names[k]), &id)) goto oom;
    }
    for (size_t i = 0; i < log->n; i++) {
        if (!oq_part_keeps(part, log->user_id[i])) continue;
        oq_log_copy_row(l, l->n++, log, i);
    }
    *out = l;
    return 0;
oom:
    oq_log_free(l);
    return oq_error_oom(err, NULL, NULL);
}

int oq_log_share_cats(oq_log *log, oq_comm *comm, oq_error *err)
{
    if (oq_comm_size(comm) <= 1) return 0;
    /* every part's names, each with its NUL, gathered on every part */
    size_t len = 0;
    for (uint32_t k = 0; k < log->cats.n; k++)
        len += strlen(log->cats.names[k]) + 1;
    char *mine = malloc(len ? len : 1), *all = NULL;
    if (!mine) return oq_error_oom(err, NULL, NULL);
    size_t o = 0;
    for (uint32_t k = 0; k < log->cats.n; k++) {
        size_t m = strlen(log->cats.names[k]) + 1;
        memcpy(mine + o, log->cats.names[k], m);
        o += m;
    }
    size_t *counts = malloc((size_t)comm->size * sizeof *counts);
    if (!counts) {
        free(mine);
        return oq_error_oom(err, NULL, NULL);
    }
    int rc = oq_comm_gatherv(comm, -1, mine, len, (void **)&all, counts, err);
    free(mine);
    size_t total = 0;
    for (int r = 0; !rc && r < comm->size; r++)
        total += counts[r];
    for (size_t p = 0; !rc && p < total; p += strlen(all + p) + 1) {
        uint32_t id;
        if (oq_dict_intern(&log->cats, all + p, strlen(all + p), &id))
            rc = oq_error_oom(err, NULL, NULL);
        else if (log->cats.n > UINT16_MAX + 1u)
            rc = oq_error_set(err, OQ_ELIMIT, NULL, 0, 0, "more than %u categories",
                              UINT16_MAX + 1u);
    }
    free(all);
    free(counts);
    /* ids by sorted name again: the same on every part */
    return rc ? rc : oq_log_canonical(log, "the log", err);
}

int oq_log_read_mem(const char *name, const char *data, size_t len, oq_log **out, oq_error *err)
{
    *out = NULL;
    log_ctx c = {.name = name};
    if (!(c.log = calloc(1, sizeof *c.log))) return oq_error_oom(err, name, NULL);
    int rc = oq_csv_read_mem(name, data, len, NULL, log_row, &c, err);
    return log_finish(&c, rc, data, len, out, err);
}

void oq_log_free(oq_log *l)
{
    if (!l) return;
    free(l->user_id);
    free(l->day);
    free(l->days_since);
    free(l->purchases_30d);
    free(l->aov);
    free(l->category);
    free(l->budget);
    free(l->coupon);
    free(l->order);
    free(l->profit);
    oq_dict_clear(&l->cats);
    free(l);
}

/* ---- index by customer ------------------------------------------------------ */

typedef struct row_key {
    int64_t user;
    int32_t day;
    size_t row;
} row_key;

static int cmp_key(const void *a, const void *b)
{
    const row_key *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    return x->row < y->row ? -1 : (x->row > y->row);
}

int oq_log_index_build(const oq_log *log, oq_log_index **out, oq_error *err)
{
    *out = NULL;
    oq_log_index *ix = calloc(1, sizeof *ix);
    size_t n = log->n;
    if (!ix || !(ix->row = malloc((n ? n : 1) * sizeof *ix->row))) goto oom;
    for (size_t i = 0; i < n; i++)
        ix->row[i] = i;
    /* Logs are usually already sorted by (user, day): check before sorting. */
    int sorted = 1;
    for (size_t i = 1; i < n && sorted; i++)
        if (log->user_id[i] < log->user_id[i - 1] ||
            (log->user_id[i] == log->user_id[i - 1] && log->day[i] < log->day[i - 1]))
            sorted = 0;
    if (!sorted) {
        row_key *k = malloc(n * sizeof *k);
        if (!k) goto oom;
        for (size_t i = 0; i < n; i++)
            k[i] = (row_key){log->user_id[i], log->day[i], i};
        qsort(k, n, sizeof *k, cmp_key);
        for (size_t i = 0; i < n; i++)
            ix->row[i] = k[i].row;
        free(k);
    }
    size_t nc = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || log->user_id[ix->row[i]] != log->user_id[ix->row[i - 1]]) nc++;
    ix->n_customers = nc;
    if (!(ix->user_id = malloc((nc ? nc : 1) * sizeof *ix->user_id)) ||
        !(ix->start = malloc((nc + 1) * sizeof *ix->start)))
        goto oom;
    size_t c = 0;
    for (size_t i = 0; i < n; i++)
        if (i == 0 || log->user_id[ix->row[i]] != log->user_id[ix->row[i - 1]]) {
            ix->user_id[c] = log->user_id[ix->row[i]];
            ix->start[c++] = i;
        }
    ix->start[nc] = n;
    *out = ix;
    return 0;
oom:
    oq_log_index_free(ix);
    return oq_error_oom(err, NULL, NULL);
}

void oq_log_index_free(oq_log_index *ix)
{
    if (!ix) return;
    free(ix->user_id);
    free(ix->start);
    free(ix->row);
    free(ix);
}

long oq_log_index_find(const oq_log_index *ix, int64_t u)
{
    size_t lo = 0, hi = ix->n_customers;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ix->user_id[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo < ix->n_customers && ix->user_id[lo] == u) ? (long)lo : -1;
}

int32_t oq_log_last_day(const oq_log *log)
{
    int32_t last = INT32_MIN;
    for (size_t i = 0; i < log->n; i++)
        if (log->day[i] > last) last = log->day[i];
    return last;
}

void oq_log_tomorrow_budget(const oq_log *log, int32_t *last_day, float *budget)
{
    /* The budget level of the latest day in the log. */
    *budget = 1;
    *last_day = INT32_MIN;
    for (size_t i = 0; i < log->n; i++)
        if (log->day[i] > *last_day || (log->day[i] == *last_day && log->budget[i] < *budget)) {
            *last_day = log->day[i];
            *budget = log->budget[i];
        }
}

int oq_log_tomorrow(const oq_log *log, const oq_log_index *ix, int32_t day, oq_log **out,
                    oq_error *err)
{
    int32_t last_day;
    float budget;
    oq_log_tomorrow_budget(log, &last_day, &budget);
    return oq_log_tomorrow_at(log, ix, day, budget, out, err);
}

int oq_log_tomorrow_at(const oq_log *log, const oq_log_index *ix, int32_t day, float budget,
                       oq_log **out, oq_error *err)
{
    *out = NULL;
    size_t nc = ix->n_customers;
    oq_log *t = calloc(1, sizeof *t);
    int rc = 0;
    if (!t || oq_log_reserve(t, nc ? nc : 1)) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (uint32_t k = 0; k < log->cats.n; k++) {
        uint32_t id;
        if ((rc = oq_dict_intern(&t->cats, log->cats.names[k], strlen(log->cats.names[k]), &id))) {
            rc = oq_error_set(err, rc, NULL, 0, 0, "out of memory");
            goto cleanup;
        }
    }
    for (size_t c = 0; c < nc; c++) {
        size_t i = ix->row[ix->start[c + 1] - 1];
        int32_t last_buy = log->order[i] ? log->day[i] : log->day[i] - log->days_since[i];
        int32_t ds = day - last_buy;
        t->user_id[c] = log->user_id[i];
        t->day[c] = day;
        t->days_since[c] = ds;
        t->purchases_30d[c] = ds > 30 ? 0 : log->purchases_30d[i] + log->order[i];
        t->aov[c] = log->aov[i];
        t->category[c] = log->category[i];
        t->budget[c] = budget;
        t->coupon[c] = OQ_COUPON_NONE;
        t->order[c] = 0;
        t->profit[c] = 0;
    }
    t->n = nc;
    *out = t;
    t = NULL;
cleanup:
    oq_log_free(t);
    return rc;
}

/* ---- events ---------------------------------------------------------------- */

enum { E_USER, E_DATE, E_CAT, NECOL };
static const oq_csv_col ev_cols[NECOL] = {
    {"user_id", 1, NULL}, {"date", 1, NULL}, {"category", 1, NULL}};

typedef struct ev_ctx {
    log_ctx base; /* name, header state */
    int map[NECOL];
    oq_events *ev;
    oq_dict *cats;
} ev_ctx;

static int ev_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    ev_ctx *c = ctx;
    const char *name = c->base.name;
    if (!c->base.header_done)
        return parse_header(&c->base, f, n, line, err, ev_cols, NECOL, c->map);
    if (check_count(name, n, c->base.nfields, line, err)) return OQ_EPARSE;
    oq_events *e = c->ev;
    if (e->n == e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 4096;
        int64_t *u = realloc(e->user_id, cap * sizeof *u);
        if (u) e->user_id = u;
        int32_t *d = realloc(e->day, cap * sizeof *d);
        if (d) e->day = d;
        uint16_t *k = realloc(e->category, cap * sizeof *k);
        if (k) e->category = k;
        if (!u || !d || !k) return oq_error_oom(err, name, NULL);
        e->cap = cap;
    }
    const int *m = c->map;
    int64_t iv;
    int32_t day;
    if (oq_parse_i64(f[m[E_USER]], lens[m[E_USER]], &iv))
        return bad(err, name, line, m[E_USER], "user_id", f[m[E_USER]], "an integer customer id");
    if (oq_date_parse(f[m[E_DATE]], lens[m[E_DATE]], &day))
        return bad(err, name, line, m[E_DATE], "date", f[m[E_DATE]], "a date YYYY-MM-DD");
    if (lens[m[E_CAT]] == 0)
        return bad(err, name, line, m[E_CAT], "category", "", "a category name");
    uint32_t cat;
    int rc = oq_dict_intern(c->cats, f[m[E_CAT]], lens[m[E_CAT]], &cat);
    if (rc == OQ_ELIMIT)
        return oq_error_set(err, OQ_ELIMIT, name, line, m[E_CAT] + 1,
                            "more than %d distinct categories", OQ_MAX_CATEGORIES);
    if (rc) return oq_error_oom(err, name, NULL);
    if (part_split(c->base.part)) {
        int keep = part_keep(&c->base, iv, day, e->n, err);
        if (keep <= 0) return keep;
    }
    e->user_id[e->n] = iv;
    e->day[e->n] = day;
    e->category[e->n] = (uint16_t)cat;
    e->n++;
    return 0;
}

static int ev_run(const char *name, const char *path, const char *data, size_t len, oq_dict *cats,
                  const oq_part *part, oq_events **out, oq_error *err)
{
    *out = NULL;
    ev_ctx c = {.base = {.name = name, .part = part}, .cats = cats};
    int split = part_split(part);
    uint32_t known = cats->n; /* names met before this file keep their ids */
    if (!(c.ev = calloc(1, sizeof *c.ev))) return oq_error_oom(err, name, NULL);
    int rc = path ? oq_csv_read(path, NULL, ev_row, &c, err)
                  : oq_csv_read_mem(name, data, len, NULL, ev_row, &c, err);
    if (!rc && !c.base.header_done)
        rc = oq_error_set(err, OQ_EPARSE, name, 1, 1, "empty file: expected a header line");
    if (!rc && split)
        rc = oq_day_hist_check(&c.base.days, name, c.map[E_DATE] + 1, err);
    else if (!rc)
        rc = oq_date_horizon_check(c.ev->day, c.ev->n, NULL, name, data, len, c.map[E_DATE] + 1,
                                   err);
    oq_day_hist_free(&c.base.days);
    free(c.base.frow);
    if (!rc && cats->n > known + 1) {
        /* Names new in this file get ids by sorted name, not by first
         * appearance, so the file's row order does not matter. */
        uint32_t *remap = malloc(cats->n * sizeof *remap);
        if (!remap || oq_dict_sort_from(cats, known, remap)) {
            rc = oq_error_oom(err, name, NULL);
        } else {
            for (size_t i = 0; i < c.ev->n; i++)
                c.ev->category[i] = (uint16_t)remap[c.ev->category[i]];
        }
        free(remap);
    }
    if (rc) {
        oq_events_free(c.ev);
        return rc;
    }
    *out = c.ev;
    return 0;
}

int oq_events_read(const char *path, oq_dict *cats, oq_events **out, oq_error *err)
{
    return ev_run(path, path, NULL, 0, cats, NULL, out, err);
}

int oq_events_read_part(const char *path, oq_dict *cats, const oq_part *part, oq_events **out,
                        oq_error *err)
{
    return ev_run(path, path, NULL, 0, cats, part, out, err);
}

int oq_events_read_mem(const char *name, const char *data, size_t len, oq_dict *cats,
                       oq_events **out, oq_error *err)
{
    return ev_run(name, NULL, data, len, cats, NULL, out, err);
}

void oq_events_free(oq_events *ev)
{
    if (!ev) return;
    free(ev->user_id);
    free(ev->day);
    free(ev->category);
    free(ev);
}

/* ---- summary ---------------------------------------------------------------- */

int oq_log_print_summary(const oq_log *log, const char *name, void *fpv, oq_error *err)
{
    FILE *fp = fpv;
    oq_log_index *ix = NULL;
    int rc = oq_log_index_build(log, &ix, err);
    if (rc || !ix) return rc ? rc : OQ_ENOMEM;
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    size_t orders = 0;
    double profit = 0, reward = 0;
    size_t cn[OQ_N_COUPONS] = {0}, co[OQ_N_COUPONS] = {0};
    double cr[OQ_N_COUPONS] = {0};
    size_t ncat = log->cats.n;
    size_t *kn = calloc(ncat ? ncat : 1, sizeof *kn), *ko = calloc(ncat ? ncat : 1, sizeof *ko);
    double *kp = calloc(ncat ? ncat : 1, sizeof *kp);
    if (!kn || !ko || !kp) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < log->n; i++) {
        if (log->day[i] < lo) lo = log->day[i];
        if (log->day[i] > hi) hi = log->day[i];
        double rw = oq_log_reward(log, i);
        orders += log->order[i];
        profit += log->order[i] ? log->profit[i] : 0;
        reward += rw;
        int c = log->coupon[i];
        cn[c]++;
        co[c] += log->order[i];
        cr[c] += rw;
        kn[log->category[i]]++;
        ko[log->category[i]] += log->order[i];
        kp[log->category[i]] += rw;
    }
    char a[11] = "-", b[11] = "-";
    if (log->n) {
        oq_date_format(lo, a);
        oq_date_format(hi, b);
    }
    double nr = log->n ? (double)log->n : 1;
    fprintf(fp, "log        %s\n", name);
    fprintf(fp, "rows       %zu\n", log->n);
    fprintf(fp, "customers  %zu (%.2f rows each)\n", ix->n_customers,
            ix->n_customers ? (double)log->n / (double)ix->n_customers : 0.0);
    fprintf(fp, "dates      %s .. %s (%d days)\n", a, b, log->n ? hi - lo + 1 : 0);
    fprintf(fp, "orders     %zu (order rate %.2f%%)\n", orders, 100.0 * (double)orders / nr);
    fprintf(fp, "profit     %.2f gross, %.2f net of redeemed coupons (%.3f a row)\n", profit,
            reward, reward / nr);
    fprintf(fp, "\n%-10s %10s %8s %11s %12s\n", "coupon", "rows", "share", "order rate",
            "reward/row");
    for (int c = 0; c < OQ_N_COUPONS; c++)
        fprintf(fp, "%-10s %10zu %7.1f%% %10.2f%% %12.3f\n", oq_coupon_name(c), cn[c],
                100.0 * (double)cn[c] / nr, cn[c] ? 100.0 * (double)co[c] / (double)cn[c] : 0.0,
                cn[c] ? cr[c] / (double)cn[c] : 0.0);
    fprintf(fp, "\n%-16s %10s %11s %12s\n", "category", "rows", "order rate", "reward/row");
    for (size_t k = 0; k < ncat; k++)
        fprintf(fp, "%-16s %10zu %10.2f%% %12.3f\n", log->cats.names[k], kn[k],
                kn[k] ? 100.0 * (double)ko[k] / (double)kn[k] : 0.0,
                kn[k] ? kp[k] / (double)kn[k] : 0.0);
cleanup:
    free(kn);
    free(ko);
    free(kp);
    oq_log_index_free(ix);
    return rc;
}

/* ---- events by customer ---------------------------------------------------- */

typedef struct ev_key {
    int64_t user;
    int32_t day;
    size_t i;
} ev_key;

static int cmp_ev(const void *a, const void *b)
{
    const ev_key *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    if (x->day != y->day) return x->day < y->day ? -1 : 1;
    return x->i < y->i ? -1 : x->i > y->i; /* stable: a later duplicate day wins */
}

void oq_events_ix_free(oq_events_ix *x)
{
    if (!x) return;
    free(x->order);
    free(x->lo);
    free(x->hi);
    free(x);
}

int oq_events_ix_build(const oq_events *ev, const oq_log_index *ix, oq_events_ix **out,
                       oq_error *err)
{
    *out = NULL;
    oq_events_ix *x = calloc(1, sizeof *x);
    if (!x || !(x->lo = calloc(ix->n_customers + 1, sizeof *x->lo)) ||
        !(x->hi = calloc(ix->n_customers + 1, sizeof *x->hi))) {
        oq_events_ix_free(x);
        return oq_error_oom(err, NULL, NULL);
    }
    x->n_customers = ix->n_customers;
    int sorted = 1;
    for (size_t i = 1; i < ev->n && sorted; i++)
        if (ev->user_id[i] < ev->user_id[i - 1] ||
            (ev->user_id[i] == ev->user_id[i - 1] && ev->day[i] < ev->day[i - 1]))
            sorted = 0;
    /* `offerq gen` writes events sorted by (user, day): no permutation then.
     * Others get sorted (stably: within a day, file order). */
    if (!sorted) {
        ev_key *k = malloc(ev->n * sizeof *k);
        if (!k || !(x->order = malloc(ev->n * sizeof *x->order))) {
            free(k);
            oq_events_ix_free(x);
            return oq_error_oom(err, NULL, NULL);
        }
        for (size_t i = 0; i < ev->n; i++)
            k[i] = (ev_key){ev->user_id[i], ev->day[i], i};
        qsort(k, ev->n, sizeof *k, cmp_ev);
        for (size_t i = 0; i < ev->n; i++)
            x->order[i] = k[i].i;
        free(k);
    }
    /* merge: customers (ascending ids) against sorted events */
    size_t j = 0;
    for (size_t c = 0; c < ix->n_customers; c++) {
        while (j < ev->n && ev->user_id[oq_events_ix_at(x, j)] < ix->user_id[c])
            j++;
        x->lo[c] = j;
        while (j < ev->n && ev->user_id[oq_events_ix_at(x, j)] == ix->user_id[c])
            j++;
        x->hi[c] = j;
    }
    *out = x;
    return 0;
}

size_t oq_events_ix_seek(const oq_events *ev, const oq_events_ix *x, size_t c, int32_t day)
{
    size_t lo = x->lo[c], hi = x->hi[c];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ev->day[oq_events_ix_at(x, mid)] < day)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

void oq_log_copy_row(oq_log *dst, size_t j, const oq_log *src, size_t i)
{
    dst->user_id[j] = src->user_id[i];
    dst->day[j] = src->day[i];
    dst->days_since[j] = src->days_since[i];
    dst->purchases_30d[j] = src->purchases_30d[i];
    dst->aov[j] = src->aov[i];
    dst->category[j] = src->category[i];
    dst->budget[j] = src->budget[i];
    dst->coupon[j] = src->coupon[i];
    dst->order[j] = src->order[i];
    dst->profit[j] = src->profit[i];
}
