/* bgnbd_summary.c - per-customer (x, t_x, T) summaries for BG/NBD: from
 * transactions (our orders sidecar, the log's order rows, CDNOW-style files)
 * with a calibration/holdout split, or read from a summary CSV.
 * See include/offerq/coupon/bgnbd.h. */
#include "offerq/coupon/bgnbd.h"
#include "offerq/core/csv.h"
#include "util/num.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* A transactions line longer than this is an error (curl's rule: a cap on
 * every buffer fed by input). */
#define TX_MAX_LINE (1 << 20)
#define TX_MAX_FIELDS 64

/* ---- transactions -------------------------------------------------------- */

void oq_bgnbd_tx_free(oq_bgnbd_tx *t)
{
    if (!t) return;
    free(t->user);
    free(t->day);
    free(t->value);
    free(t);
}

int oq_bgnbd_tx_push(oq_bgnbd_tx *t, int64_t user, int32_t day)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 4096;
        int64_t *u = realloc(t->user, cap * sizeof *u);
        if (!u) return OQ_ENOMEM;
        t->user = u;
        int32_t *d = realloc(t->day, cap * sizeof *d);
        if (!d) return OQ_ENOMEM;
        t->day = d;
        t->cap = cap;
    }
    t->user[t->n] = user;
    t->day[t->n] = day;
    t->n++;
    return 0;
}

int oq_bgnbd_tx_push_value(oq_bgnbd_tx *t, int64_t user, int32_t day, double value)
{
    size_t cap0 = t->value ? t->cap : 0;
    int rc = oq_bgnbd_tx_push(t, user, day);
    if (rc) return rc;
    if (!t->value || t->cap != cap0) {
        double *v = realloc(t->value, t->cap * sizeof *v);
        if (!v) {
            t->n--;
            return OQ_ENOMEM;
        }
        t->value = v;
    }
    t->value[t->n - 1] = value;
    return 0;
}

int oq_bgnbd_tx_from_log(const oq_log *log, oq_bgnbd_tx **out, oq_error *err)
{
    *out = NULL;
    oq_bgnbd_tx *t = calloc(1, sizeof *t);
    if (!t) return oq_error_oom(err, NULL, NULL);
    for (size_t i = 0; i < log->n; i++) {
        if (!log->order[i]) continue;
        if (oq_bgnbd_tx_push(t, log->user_id[i], log->day[i])) {
            oq_bgnbd_tx_free(t);
            return oq_error_oom(err, NULL, NULL);
        }
    }
    *out = t;
    return 0;
}

/* "YYYYMMDD" or "YYYY-MM-DD" into days since the epoch; 0 or -1. */
static int parse_any_date(const char *s, size_t len, int32_t *day)
{
    if (len == 10) return oq_date_parse(s, len, day);
    if (len != 8) return -1;
    for (size_t i = 0; i < 8; i++)
        if (!isdigit((unsigned char)s[i])) return -1;
    char buf[10] = {s[0], s[1], s[2], s[3], '-', s[4], s[5], '-', s[6], s[7]};
    return oq_date_parse(buf, 10, day);
}

/* Split line (modified in place) into fields on delim (',' or ' ' for runs of
 * blanks). Returns the field count, or -1 past TX_MAX_FIELDS. */
static int split_line(char *line, char delim, char **f, size_t *lens, long *cols)
{
    int n = 0;
    char *p = line;
    if (delim == ',') {
        for (;;) {
            if (n == TX_MAX_FIELDS) return -1;
            char *e = strchr(p, ',');
            char *end = e ? e : p + strlen(p);
            char *a = p, *b = end;
            while (a < b && (*a == ' ' || *a == '\t'))
                a++;
            while (b > a && (b[-1] == ' ' || b[-1] == '\t'))
                b--;
            *b = 0;
            f[n] = a;
            lens[n] = (size_t)(b - a);
            cols[n] = (long)(a - line) + 1;
            n++;
            if (!e) break;
            p = e + 1;
        }
        return n;
    }
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        if (!*p) break;
        if (n == TX_MAX_FIELDS) return -1;
        char *a = p;
        while (*p && *p != ' ' && *p != '\t')
            p++;
        f[n] = a;
        lens[n] = (size_t)(p - a);
        cols[n] = (long)(a - line) + 1;
        n++;
        if (*p) *p++ = 0;
    }
    return n;
}

int oq_bgnbd_tx_read(const char *path, int id_column, int date_column, oq_bgnbd_tx **out,
                     oq_error *err)
{
    return oq_bgnbd_tx_read_value(path, id_column, date_column, 0, out, err);
}

int oq_bgnbd_tx_read_value(const char *path, int id_column, int date_column, int value_column,
                           oq_bgnbd_tx **out, oq_error *err)
{
    *out = NULL;
    if (id_column < 1 || id_column > TX_MAX_FIELDS || date_column < 0 ||
        date_column > TX_MAX_FIELDS || date_column == id_column || value_column < 0 ||
        value_column > TX_MAX_FIELDS ||
        (value_column && (value_column == id_column || value_column == date_column)))
        return oq_error_set(err, OQ_EINVAL, path, 0, 0,
                            "id column %d / date column %d / value column %d out of range or "
                            "equal",
                            id_column, date_column, value_column);
    int rc = 0;
    char *line = NULL;
    size_t cap = 0, ncap = 0;
    long *lines = NULL;
    oq_bgnbd_tx *t = calloc(1, sizeof *t);
    FILE *fp = fopen(path, "rb");
    if (!t) {
        rc = oq_error_oom(err, path, NULL);
        goto cleanup;
    }
    if (!fp) {
        rc = oq_error_set(err, OQ_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
        goto cleanup;
    }
    char delim = 0;
    int dcol = date_column - 1; /* 0-based; -1 until known */
    long lineno = 0;
    ssize_t got;
    char *f[TX_MAX_FIELDS];
    size_t lens[TX_MAX_FIELDS];
    long cols[TX_MAX_FIELDS];
    while ((got = getline(&line, &cap, fp)) != -1) {
        lineno++;
        if ((size_t)got > TX_MAX_LINE) {
            rc = oq_error_set(err, OQ_ELIMIT, path, lineno, 0, "line longer than %d bytes",
                              TX_MAX_LINE);
            goto cleanup;
        }
        while (got > 0 && (line[got - 1] == '\n' || line[got - 1] == '\r'))
            line[--got] = 0;
        if (lineno == 1 && (unsigned char)line[0] == 0xEF && got >= 3 &&
            (unsigned char)line[1] == 0xBB && (unsigned char)line[2] == 0xBF)
            memmove(line, line + 3, (size_t)got - 2);
        if (!delim) delim = strchr(line, ',') ? ',' : ' ';
        int nf = split_line(line, delim, f, lens, cols);
        if (nf < 0) {
            rc =
                oq_error_set(err, OQ_ELIMIT, path, lineno, 0, "more than %d fields", TX_MAX_FIELDS);
            goto cleanup;
        }
        if (nf == 0) continue; /* blank line */
        int dc = dcol;
        if (dc < 0) { /* find the date column on the first line that has one */
            int32_t dd;
            for (int k = id_column; k < nf && dc < 0; k++)
                if (!parse_any_date(f[k], lens[k], &dd)) dc = k;
            if (dc < 0 && lineno == 1 && t->n == 0) continue; /* a header line */
        } else if (lineno == 1 && dc < nf) {
            int32_t dd;
            if (parse_any_date(f[dc], lens[dc], &dd)) continue; /* a header line */
        }
        if (dc < 0 || nf <= dc || nf < id_column) {
            rc = oq_error_set(err, OQ_EPARSE, path, lineno, 0,
                              "%d fields; expected a customer id in field %d and a date "
                              "(YYYYMMDD or YYYY-MM-DD) %s%d",
                              nf, id_column, dc < 0 ? "after it" : "in field ",
                              dc < 0 ? id_column + 1 : dc + 1);
            goto cleanup;
        }
        dcol = dc;
        int64_t uid;
        int32_t day;
        int ic = id_column - 1;
        if (oq_parse_i64(f[ic], lens[ic], &uid)) {
            rc = oq_error_set(err, OQ_EPARSE, path, lineno, cols[ic],
                              "field %d: got \"%.40s\", expected an integer customer id", id_column,
                              f[ic]);
            goto cleanup;
        }
        if (parse_any_date(f[dc], lens[dc], &day)) {
            rc = oq_error_set(err, OQ_EPARSE, path, lineno, cols[dc],
                              "field %d: got \"%.40s\", expected a date YYYYMMDD or YYYY-MM-DD",
                              dc + 1, f[dc]);
            goto cleanup;
        }
        if (t->n == ncap) { /* the line of every row, for the horizon check */
            ncap = ncap ? 2 * ncap : 4096;
            long *nl = realloc(lines, ncap * sizeof *nl);
            if (!nl) {
                rc = oq_error_oom(err, path, NULL);
                goto cleanup;
            }
            lines = nl;
        }
        lines[t->n] = lineno;
        double val = 0;
        if (value_column) {
            int vc = value_column - 1;
            if (vc >= nf || oq_parse_f64(f[vc], lens[vc], &val) || !isfinite(val)) {
                rc = oq_error_set(err, OQ_EPARSE, path, lineno, vc < nf ? cols[vc] : 0,
                                  "field %d: got \"%.40s\", expected a purchase value (a number)",
                                  value_column, vc < nf ? f[vc] : "");
                goto cleanup;
            }
        }
        if (value_column ? oq_bgnbd_tx_push_value(t, uid, day, val)
                         : oq_bgnbd_tx_push(t, uid, day)) {
            rc = oq_error_oom(err, path, NULL);
            goto cleanup;
        }
    }
    if (ferror(fp)) {
        rc = oq_error_set(err, OQ_EIO, path, 0, 0, "read failed: %s", strerror(errno));
        goto cleanup;
    }
    if (t->n == 0) {
        rc = oq_error_set(err, OQ_EPARSE, path, lineno, 0, "no transactions in the file");
        goto cleanup;
    }
    /* the calibration end defaults to the last date (data.h, the horizon) */
    if ((rc = oq_date_horizon_check(t->day, t->n, lines, path, NULL, 0, 0, err))) goto cleanup;
    *out = t;
    t = NULL;
cleanup:
    if (fp) fclose(fp);
    free(line);
    free(lines);
    oq_bgnbd_tx_free(t);
    return rc;
}

/* ---- building summaries --------------------------------------------------- */

void oq_bgnbd_summary_free(oq_bgnbd_summary *s)
{
    if (!s) return;
    free(s->id);
    free(s->x);
    free(s->tx);
    free(s->T);
    free(s->x_holdout);
    free(s->t_holdout);
    free(s->monetary);
    free(s);
}

static oq_bgnbd_summary *summary_alloc(size_t n, int holdout, int money)
{
    oq_bgnbd_summary *s = calloc(1, sizeof *s);
    if (!s) return NULL;
    size_t m = n ? n : 1;
    s->id = malloc(m * sizeof *s->id);
    s->x = malloc(m * sizeof *s->x);
    s->tx = malloc(m * sizeof *s->tx);
    s->T = malloc(m * sizeof *s->T);
    if (holdout) {
        s->x_holdout = malloc(m * sizeof *s->x_holdout);
        s->t_holdout = malloc(m * sizeof *s->t_holdout);
    }
    if (money) s->monetary = malloc(m * sizeof *s->monetary);
    if (!s->id || !s->x || !s->tx || !s->T || (holdout && (!s->x_holdout || !s->t_holdout)) ||
        (money && !s->monetary)) {
        oq_bgnbd_summary_free(s);
        return NULL;
    }
    return s;
}

typedef struct txrow {
    int64_t user;
    int32_t day;
    double v;
} txrow;

static int cmp_txrow(const void *a, const void *b)
{
    const txrow *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    return (x->day > y->day) - (x->day < y->day);
}

int oq_bgnbd_summary_build(const oq_bgnbd_tx *tx, const oq_bgnbd_split *split,
                           oq_bgnbd_summary **out, oq_error *err)
{
    *out = NULL;
    double unit = split->unit_days;
    if (!(unit > 0 && isfinite(unit)))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "time unit must be > 0 days");
    if (tx->n == 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no transactions");
    int32_t cal = split->calibration_end, obs = split->observation_end;
    if (cal == OQ_BGNBD_NO_DATE) {
        if (obs != OQ_BGNBD_NO_DATE)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "an observation end needs a calibration end");
        cal = tx->day[0];
        for (size_t i = 1; i < tx->n; i++)
            if (tx->day[i] > cal) cal = tx->day[i];
    }
    if (obs != OQ_BGNBD_NO_DATE && obs <= cal)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the observation end must be after the calibration end");
    int holdout = obs != OQ_BGNBD_NO_DATE;
    int rc = 0;
    oq_bgnbd_summary *s = NULL;
    txrow *rows = malloc(tx->n * sizeof *rows);
    if (!rows) return oq_error_oom(err, NULL, NULL);
    size_t m = 0;
    for (size_t i = 0; i < tx->n; i++)
        if (tx->day[i] <= (holdout ? obs : cal))
            rows[m++] = (txrow){tx->user[i], tx->day[i], tx->value ? tx->value[i] : 0};
    qsort(rows, m, sizeof *rows, cmp_txrow);
    size_t ncust = 0;
    for (size_t i = 0; i < m; i++)
        if ((i == 0 || rows[i].user != rows[i - 1].user) && rows[i].day <= cal) ncust++;
    if (ncust == 0) {
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                          "no customer has a purchase on or before the calibration end");
        goto cleanup;
    }
    if (!(s = summary_alloc(ncust, holdout, tx->value != NULL))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    s->unit_days = unit;
    size_t c = 0;
    for (size_t i = 0; i < m;) {
        size_t j = i;
        while (j < m && rows[j].user == rows[i].user)
            j++;
        int32_t first = rows[i].day;
        if (first <= cal) {
            long ncal = 0, nhold = 0;
            int32_t last = first;
            double money = 0; /* calibration value after the first day (lifetimes) */
            for (size_t k = i; k < j; k++) {
                if (rows[k].day <= cal && rows[k].day != first) money += rows[k].v;
                if (k > i && rows[k].day == rows[k - 1].day) continue; /* same day: once */
                if (rows[k].day <= cal) {
                    ncal++;
                    last = rows[k].day;
                } else {
                    nhold++;
                }
            }
            s->id[c] = rows[i].user;
            s->x[c] = (double)(ncal - 1);
            s->tx[c] = (double)(last - first) / unit;
            s->T[c] = (double)(cal - first) / unit;
            if (s->monetary) s->monetary[c] = ncal > 1 ? money / (double)(ncal - 1) : 0;
            if (holdout) {
                s->x_holdout[c] = (double)nhold;
                s->t_holdout[c] = (double)(obs - cal) / unit;
            }
            c++;
        }
        i = j;
    }
    s->n = c;
    *out = s;
    s = NULL;
cleanup:
    free(rows);
    oq_bgnbd_summary_free(s);
    return rc;
}

/* ---- summary CSV ------------------------------------------------------------ */

enum { S_ID, S_FREQ, S_REC, S_T, S_FH, S_DH, S_MON, S_NCOL };
/* lifetimes' names (frequency_cal, ...) are accepted too; other columns (the
 * p_alive, expected_purchases that `offerq bgnbd` adds) are ignored. The
 * first four are required, checked below: the reader names column 1 when
 * one is missing. */
static const oq_csv_col s_cols[S_NCOL] = {{"id", 0, "customer_id|user_id"},
                                          {"frequency", 0, "frequency_cal"},
                                          {"recency", 0, "recency_cal"},
                                          {"T", 0, "T_cal"},
                                          {"frequency_holdout", 0, NULL},
                                          {"duration_holdout", 0, NULL},
                                          {"monetary_value", 0, "monetary_value_cal"}};

typedef struct sum_ctx {
    const char *name;
    int header_done;
    int map[S_NCOL];
    size_t nfields;
    size_t n, cap;
    oq_bgnbd_summary *s;
} sum_ctx;

static int sum_reserve(sum_ctx *c)
{
    if (c->n < c->cap) return 0;
    size_t cap = c->cap ? c->cap * 2 : 4096;
    oq_bgnbd_summary *s = c->s;
#define GROW(f)                                                                                    \
    do {                                                                                           \
        void *p = realloc(s->f, cap * sizeof *s->f);                                               \
        if (!p) return OQ_ENOMEM;                                                                  \
        s->f = p;                                                                                  \
    } while (0)
    GROW(id);
    GROW(x);
    GROW(tx);
    GROW(T);
    if (c->map[S_FH] >= 0) {
        GROW(x_holdout);
        GROW(t_holdout);
    }
    if (c->map[S_MON] >= 0) GROW(monetary);
#undef GROW
    c->cap = cap;
    return 0;
}

static int sum_header(sum_ctx *c, char **f, size_t n, long line, oq_error *err)
{
    int rc = oq_csv_header_map(c->name, line, f, n, s_cols, S_NCOL, 1, c->map, err);
    if (rc) return rc;
    for (int k = 0; k < S_T + 1; k++)
        if (c->map[k] < 0)
            return oq_error_set(err, OQ_EPARSE, c->name, line, 1,
                                "missing column \"%s\" in header; expected "
                                "id,frequency,recency,T[,frequency_holdout,duration_holdout]",
                                s_cols[k].name);
    if ((c->map[S_FH] < 0) != (c->map[S_DH] < 0))
        return oq_error_set(err, OQ_EPARSE, c->name, line, 1,
                            "frequency_holdout and duration_holdout come together");
    c->nfields = n;
    c->header_done = 1;
    return 0;
}

static int sum_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    sum_ctx *c = ctx;
    if (!c->header_done) return sum_header(c, f, n, line, err);
    if (n != c->nfields)
        return oq_error_set(err, OQ_EPARSE, c->name, line,
                            (long)(n < c->nfields ? n : c->nfields + 1),
                            "%zu fields, expected %zu as in the header", n, c->nfields);
    if (sum_reserve(c)) return oq_error_oom(err, c->name, NULL);
    const int *m = c->map;
    double v[S_NCOL] = {0};
    int64_t id;
#define COL(k) ((long)m[k] + 1)
    if (oq_parse_i64(f[m[S_ID]], lens[m[S_ID]], &id))
        return oq_error_set(err, OQ_EPARSE, c->name, line, COL(S_ID),
                            "id: got \"%.40s\", expected an integer customer id", f[m[S_ID]]);
    for (int k = S_FREQ; k < S_NCOL; k++) {
        if (m[k] < 0) continue;
        if (oq_parse_f64(f[m[k]], lens[m[k]], &v[k]) || v[k] < 0)
            return oq_error_set(err, OQ_EPARSE, c->name, line, COL(k),
                                "%s: got \"%.40s\", expected a number >= 0", s_cols[k].name,
                                f[m[k]]);
    }
    if (v[S_FREQ] != floor(v[S_FREQ]) || v[S_FREQ] > 1e9)
        return oq_error_set(err, OQ_EPARSE, c->name, line, COL(S_FREQ),
                            "frequency: got %g, expected a whole number of repeat purchases",
                            v[S_FREQ]);
    if (!(v[S_T] > 0))
        return oq_error_set(err, OQ_EPARSE, c->name, line, COL(S_T),
                            "T: got %g, expected a customer age > 0", v[S_T]);
    if (v[S_REC] > v[S_T])
        return oq_error_set(err, OQ_EPARSE, c->name, line, COL(S_REC),
                            "recency %g is larger than T %g (the last purchase cannot come after "
                            "the end of the calibration period)",
                            v[S_REC], v[S_T]);
    if (v[S_FREQ] == 0 && v[S_REC] > 0)
        return oq_error_set(err, OQ_EPARSE, c->name, line, COL(S_REC),
                            "frequency 0 with recency %g: a customer without repeat purchases "
                            "has recency 0",
                            v[S_REC]);
    if (m[S_FH] >= 0 && v[S_FH] != floor(v[S_FH]))
        return oq_error_set(err, OQ_EPARSE, c->name, line, COL(S_FH),
                            "frequency_holdout: got %g, expected a whole number", v[S_FH]);
#undef COL
    oq_bgnbd_summary *s = c->s;
    s->id[c->n] = id;
    s->x[c->n] = v[S_FREQ];
    s->tx[c->n] = v[S_REC];
    s->T[c->n] = v[S_T];
    if (m[S_FH] >= 0) {
        s->x_holdout[c->n] = v[S_FH];
        s->t_holdout[c->n] = v[S_DH];
    }
    if (m[S_MON] >= 0) s->monetary[c->n] = v[S_MON];
    c->n++;
    s->n = c->n;
    return 0;
}

static int sum_run(const char *name, const char *path, const char *data, size_t len,
                   oq_bgnbd_summary **out, oq_error *err)
{
    *out = NULL;
    sum_ctx c = {.name = name};
    if (!(c.s = calloc(1, sizeof *c.s))) return oq_error_oom(err, name, NULL);
    int rc = path ? oq_csv_read(path, NULL, sum_row, &c, err)
                  : oq_csv_read_mem(name, data, len, NULL, sum_row, &c, err);
    if (!rc && !c.header_done)
        rc = oq_error_set(err, OQ_EPARSE, name, 1, 1, "empty file: expected a header line");
    if (!rc && c.n == 0)
        rc = oq_error_set(err, OQ_EPARSE, name, 2, 1, "no customers after the header");
    if (rc) {
        oq_bgnbd_summary_free(c.s);
        return rc;
    }
    *out = c.s;
    return 0;
}

int oq_bgnbd_summary_read(const char *path, oq_bgnbd_summary **out, oq_error *err)
{
    return sum_run(path, path, NULL, 0, out, err);
}

int oq_bgnbd_summary_read_mem(const char *name, const char *data, size_t len,
                              oq_bgnbd_summary **out, oq_error *err)
{
    return sum_run(name, NULL, data, len, out, err);
}
