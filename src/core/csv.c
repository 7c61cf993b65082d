/* csv.c - streaming CSV reader: an in-place fast path for plain lines and
 * libcsv (RFC 4180) for lines with quotes. See include/offerq/core/csv.h. */
#include "offerq/core/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

typedef struct reader {
    const char *name;
    oq_csv_opts o;
    oq_csv_row_fn fn;
    void *ctx;
    oq_error *err;
    struct csv_parser p;
    int in_csv;    /* libcsv holds a started, unfinished record */
    long line;     /* physical line being processed (1-based) */
    long rec_line; /* line where the libcsv record started */
    int rc;        /* first error, stops everything */
    char **fields; /* (fcap) */
    size_t *lens;  /* (fcap) */
    size_t nf, fcap;
    char *rowbuf; /* libcsv path: field bytes, NUL-separated */
    size_t rlen, rcap;
    size_t *offs; /* (fcap) field offsets into rowbuf */
    size_t nrec;  /* records handed to fn so far */
} reader;

/* Hand one record to the callback, counting it against max_records. */
static int deliver(reader *r, size_t nf, long line)
{
    if (r->nrec >= r->o.max_records)
        return oq_error_set(r->err, OQ_ELIMIT, r->name, line, 0,
                            "more than %zu records (the limit; set OQ_MAX_ROWS to change it)",
                            r->o.max_records);
    r->nrec++;
    return r->fn(r->ctx, r->fields, r->lens, nf, line, r->err);
}

size_t oq_csv_max_records(void)
{
    const char *e = getenv("OQ_MAX_ROWS");
    if (e && *e) {
        char *end;
        errno = 0;
        unsigned long long v = strtoull(e, &end, 10);
        if (!errno && *end == 0 && v >= 1 && e[0] != '-') return (size_t)v;
    }
    return OQ_CSV_MAX_RECORDS;
}

static int ensure_fields(reader *r, size_t n)
{
    if (n <= r->fcap) return 0;
    if (n > r->o.max_fields)
        return r->rc = oq_error_set(r->err, OQ_ELIMIT, r->name, r->line, (long)n,
                                    "more than %zu fields in one record", r->o.max_fields);
    size_t cap = r->fcap ? r->fcap * 2 : 32; /* never 0 */
    while (cap < n)
        cap *= 2;
    if (cap > r->o.max_fields + 1) cap = r->o.max_fields + 1;
    if (cap < n) cap = n; /* max_fields >= 1, so cap >= 1 */
    char **f = realloc(r->fields, cap * sizeof *f);
    if (f) r->fields = f;
    size_t *l = realloc(r->lens, cap * sizeof *l);
    if (l) r->lens = l;
    size_t *o = realloc(r->offs, cap * sizeof *o);
    if (o) r->offs = o;
    if (!f || !l || !o) return r->rc = oq_error_oom(r->err, r->name, NULL);
    r->fcap = cap;
    return 0;
}

static int nul_byte(reader *r, long col)
{
    return oq_error_set(r->err, OQ_EPARSE, r->name, r->line, col,
                        "NUL byte in a text field (is this a binary file?)");
}

/* libcsv callback: one field. */
static void cb_field(void *s, size_t len, void *data)
{
    reader *r = data;
    if (r->rc) return;
    if (len && memchr(s, 0, len)) {
        nul_byte(r, (long)r->nf + 1);
        return;
    }
    if (ensure_fields(r, r->nf + 1)) return;
    if (r->rlen + len + 1 > r->rcap) {
        size_t cap = r->rcap ? r->rcap : 256;
        while (cap < r->rlen + len + 1)
            cap *= 2;
        if (cap > r->o.max_line * 2 + 64) {
            r->rc = oq_error_set(r->err, OQ_ELIMIT, r->name, r->rec_line, (long)r->nf + 1,
                                 "record longer than %zu bytes", r->o.max_line);
            return;
        }
        char *b = realloc(r->rowbuf, cap);
        if (!b) {
            r->rc = oq_error_oom(r->err, r->name, NULL);
            return;
        }
        r->rowbuf = b;
        r->rcap = cap;
    }
    if (len) memcpy(r->rowbuf + r->rlen, s, len);
    r->offs[r->nf] = r->rlen;
    r->lens[r->nf] = len;
    r->rlen += len;
    r->rowbuf[r->rlen++] = 0;
    r->nf++;
}

/* libcsv callback: end of record. */
static void cb_row(int c, void *data)
{
    (void)c;
    reader *r = data;
    r->in_csv = 0;
    if (r->rc) return;
    for (size_t i = 0; i < r->nf; i++)
        r->fields[i] = r->rowbuf + r->offs[i];
    int rc = deliver(r, r->nf, r->rec_line);
    if (rc) r->rc = rc;
    r->nf = 0;
    r->rlen = 0;
}

static int no_space(unsigned char c)
{
    (void)c;
    return 0;
}

/* s[0..len) is one physical line without its '\n'; s[len] is writable. */
static int process_line(reader *r, char *s, size_t len)
{
    if (r->line == 1 && len >= 3 && (unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB &&
        (unsigned char)s[2] == 0xBF) {
        s += 3; /* UTF-8 byte order mark */
        len -= 3;
    }
    if (len && s[len - 1] == '\r') len--;
    if (!r->in_csv) {
        if (len == 0) return 0; /* blank line */
        /* Fast path: one pass that splits at delimiters in place; a quote
         * anywhere sends the whole line to libcsv instead. */
        size_t nf = 0;
        char *f = s, *end = s + len, delim = r->o.delim;
        int quoted = 0;
        for (char *p = s; p < end; p++) {
            char ch = *p;
            if (ch == delim) {
                if (nf + 1 >= r->fcap && ensure_fields(r, nf + 2)) return r->rc;
                r->fields[nf] = f;
                r->lens[nf++] = (size_t)(p - f);
                f = p + 1;
            } else if (ch == '"') {
                quoted = 1;
                break;
            } else if (ch == 0) {
                return r->rc = nul_byte(r, (long)nf + 1);
            }
        }
        if (!quoted) {
            if (ensure_fields(r, nf + 1)) return r->rc;
            r->fields[nf] = f;
            r->lens[nf++] = (size_t)(end - f);
            for (size_t i = 0; i < nf; i++)
                r->fields[i][r->lens[i]] = 0;
            int rc = deliver(r, nf, r->line);
            if (rc) r->rc = rc;
            return r->rc;
        }
    }
    if (!r->in_csv) {
        r->rec_line = r->line;
        r->in_csv = 1;
    }
    if (csv_parse(&r->p, s, len, cb_field, cb_row, r) != len ||
        csv_parse(&r->p, "\n", 1, cb_field, cb_row, r) != 1) {
        if (!r->rc)
            r->rc = oq_error_set(r->err, OQ_EPARSE, r->name, r->line, 0,
                                 "malformed quoted field (%s); expected RFC 4180 quoting",
                                 csv_strerror(csv_error(&r->p)));
    }
    return r->rc;
}

static int read_stream(reader *r, FILE *fp, size_t hint)
{
    /* hint: the input's size + 1 when known (memory reads, regular files),
     * so small inputs do not pay for a 1 MiB buffer. */
    size_t cap = hint && hint < (1 << 20) ? (hint < 4096 ? 4096 : hint) : 1 << 20, have = 0;
    char *buf = malloc(cap + 1);
    int any = 0, eof = 0;
    if (!buf) return r->rc = oq_error_oom(r->err, r->name, NULL);
    r->line = 1;
    while (!r->rc) {
        if (!eof && have < cap) {
            size_t got = fread(buf + have, 1, cap - have, fp);
            if (got == 0) {
                if (ferror(fp)) {
                    r->rc = oq_error_set(r->err, OQ_EIO, r->name, r->line, 0, "read failed: %s",
                                         strerror(errno));
                    break;
                }
                eof = 1;
            }
            if (got) any = 1;
            have += got;
        }
        size_t pos = 0;
        for (;;) {
            char *nl = memchr(buf + pos, '\n', have - pos);
            if (!nl) break;
            size_t len = (size_t)(nl - (buf + pos));
            if (len > r->o.max_line) {
                r->rc = oq_error_set(r->err, OQ_ELIMIT, r->name, r->line, 0,
                                     "line longer than %zu bytes", r->o.max_line);
                break;
            }
            if (process_line(r, buf + pos, len)) break;
            pos += len + 1;
            r->line++;
        }
        if (r->rc) break;
        memmove(buf, buf + pos, have - pos);
        have -= pos;
        if (eof) {
            if (have > 0) {
                if (!r->o.allow_no_final_newline) {
                    r->rc = oq_error_set(r->err, OQ_EPARSE, r->name, r->line, (long)have,
                                         "truncated last line: no newline at end of file "
                                         "(was the file cut off while being written?)");
                    break;
                }
                if (process_line(r, buf, have)) break;
            }
            break;
        }
        if (have == cap) {
            if (have > r->o.max_line) {
                r->rc = oq_error_set(r->err, OQ_ELIMIT, r->name, r->line, 0,
                                     "line longer than %zu bytes", r->o.max_line);
                break;
            }
            size_t ncap = cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                r->rc = oq_error_oom(r->err, r->name, NULL);
                break;
            }
            buf = nb;
            cap = ncap;
        }
    }
    if (!r->rc && !any)
        r->rc =
            oq_error_set(r->err, OQ_EPARSE, r->name, 1, 1, "empty file: expected a header line");
    if (!r->rc && r->in_csv)
        r->rc =
            oq_error_set(r->err, OQ_EPARSE, r->name, r->rec_line, 0,
                         "unterminated quoted field (the quote opened on this line never closes)");
    free(buf);
    return r->rc;
}

static int run(const char *name, FILE *fp, size_t hint, const oq_csv_opts *opts, oq_csv_row_fn fn,
               void *ctx, oq_error *err)
{
    reader r;
    memset(&r, 0, sizeof r);
    r.name = name;
    if (opts) r.o = *opts;
    if (!r.o.delim) r.o.delim = ',';
    if (!r.o.max_line) r.o.max_line = 1 << 20;
    if (!r.o.max_fields) r.o.max_fields = 4096;
    if (!r.o.max_records) r.o.max_records = oq_csv_max_records();
    r.fn = fn;
    r.ctx = ctx;
    r.err = err;
    if (csv_init(&r.p, CSV_STRICT | CSV_STRICT_FINI) != 0) return oq_error_oom(err, name, NULL);
    csv_set_space_func(&r.p, no_space);
    csv_set_delim(&r.p, (unsigned char)r.o.delim);
    int rc = read_stream(&r, fp, hint);
    csv_free(&r.p);
    free(r.fields);
    free(r.lens);
    free(r.offs);
    free(r.rowbuf);
    return rc;
}

int oq_csv_read(const char *path, const oq_csv_opts *opts, oq_csv_row_fn fn, void *ctx,
                oq_error *err)
{
    if (strcmp(path, "-") == 0) return run("<stdin>", stdin, 0, opts, fn, ctx, err);
    FILE *fp = fopen(path, "rb");
    if (!fp) return oq_error_set(err, OQ_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
    struct stat st;
    size_t hint = 0;
    if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
        hint = (size_t)st.st_size + 1;
    int rc = run(path, fp, hint, opts, fn, ctx, err);
    fclose(fp);
    return rc;
}

int oq_csv_read_mem(const char *name, const char *data, size_t len, const oq_csv_opts *opts,
                    oq_csv_row_fn fn, void *ctx, oq_error *err)
{
    if (len == 0)
        return oq_error_set(err, OQ_EPARSE, name, 1, 1, "empty file: expected a header line");
    FILE *fp = fmemopen((void *)data, len, "rb");
    if (!fp) return oq_error_set(err, OQ_ENOMEM, name, 0, 0, "fmemopen failed");
    int rc = run(name, fp, len + 1, opts, fn, ctx, err);
    fclose(fp);
    return rc;
}

/* Is s the column's name or one of its '|'-separated other spellings? */
static int name_is(const oq_csv_col *col, const char *s)
{
    if (strcmp(col->name, s) == 0) return 1;
    size_t n = strlen(s);
    for (const char *p = col->also; p;) {
        const char *bar = strchr(p, '|');
        size_t len = bar ? (size_t)(bar - p) : strlen(p);
        if (len == n && memcmp(p, s, n) == 0) return 1;
        p = bar ? bar + 1 : NULL;
    }
    return 0;
}

/* "a,b,c" or "a,b,c and optionally d,e": the columns a header may have. */
static void expected_columns(const oq_csv_col *cols, size_t ncols, char *buf, size_t len)
{
    size_t at = 0;
    buf[0] = 0;
    for (int pass = 1; pass >= 0; pass--) {
        int first = 1;
        for (size_t k = 0; k < ncols; k++) {
            if ((cols[k].required != 0) != pass) continue;
            const char *sep = first ? (pass || !at ? "" : " and optionally ") : ",";
            int w = snprintf(buf + at, len - at, "%s%s", sep, cols[k].name);
            if (w < 0 || (size_t)w >= len - at) return; /* cut off: still NUL-terminated */
            at += (size_t)w;
            first = 0;
        }
    }
}

int oq_csv_header_map(const char *file, long line, char *const *fields, size_t nf,
                      const oq_csv_col *cols, size_t ncols, int allow_unknown, int *idx,
                      oq_error *err)
{
    char want[384];
    int rc = 0;
    for (size_t k = 0; k < ncols; k++)
        idx[k] = -1;
    for (size_t i = 0; i < nf && !rc; i++) {
        size_t k = 0;
        while (k < ncols && !name_is(&cols[k], fields[i]))
            k++;
        if (k == ncols) {
            if (allow_unknown) continue;
            expected_columns(cols, ncols, want, sizeof want);
            rc = oq_error_set(err, OQ_EPARSE, file, line, (long)i + 1,
                              "unknown column \"%.60s\" in header; expected the columns %s",
                              fields[i], want);
        } else if (idx[k] >= 0) {
            rc = oq_error_set(err, OQ_EPARSE, file, line, (long)i + 1,
                              "column \"%s\" appears twice in the header (fields %d and %zu)",
                              cols[k].name, idx[k] + 1, i + 1);
        } else {
            idx[k] = (int)i;
        }
    }
    for (size_t k = 0; k < ncols && !rc; k++)
        if (idx[k] < 0 && cols[k].required) {
            expected_columns(cols, ncols, want, sizeof want);
            rc = oq_error_set(err, OQ_EPARSE, file, line, (long)nf + 1,
                              "missing column \"%s\" in header; expected the columns %s",
                              cols[k].name, want);
        }
    return rc;
}

void oq_csv_write_field(FILE *fp, const char *s)
{
    if (strpbrk(s, ",\"\r\n") == NULL) {
        fputs(s, fp);
        return;
    }
    fputc('"', fp);
    for (; *s; s++) {
        if (*s == '"') fputc('"', fp);
        fputc(*s, fp);
    }
    fputc('"', fp);
}
