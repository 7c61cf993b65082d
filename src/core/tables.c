/* tables.c - readers of a shop's own offers, contacts and customers tables
 * (include/offerq/core/tables.h). */
#include "offerq/core/tables.h"
#include "offerq/core/csv.h"
#include "offerq/core/data.h"
#include "util/num.h"
#include "util/utf8.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- user id -> row: open addressing over a power-of-two table ------------ */

struct oq_idmap {
    size_t cap;  /* slots, a power of two */
    long *slot;  /* (cap) row, or -1 */
    char **keys; /* the rows' ids (borrowed from the table) */
};

uint64_t oq_user_hash(const char *s, uint64_t seed)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ull;
    uint64_t z = h + seed * 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void idmap_free(struct oq_idmap *m)
{
    if (!m) return;
    free(m->slot);
    free(m);
}

/* Index keys[0..n); *dup = the first row whose id repeats an earlier one, or -1. */
static struct oq_idmap *idmap_build(char **keys, size_t n, long *dup)
{
    struct oq_idmap *m = calloc(1, sizeof *m);
    if (!m) return NULL;
    m->cap = 16;
    while (m->cap < 2 * n)
        m->cap *= 2;
    m->slot = malloc(m->cap * sizeof *m->slot);
    if (!m->slot) {
        free(m);
        return NULL;
    }
    for (size_t i = 0; i < m->cap; i++)
        m->slot[i] = -1;
    m->keys = keys;
    *dup = -1;
    for (size_t i = 0; i < n; i++) {
        size_t h = (size_t)oq_user_hash(keys[i], 0) & (m->cap - 1);
        while (m->slot[h] >= 0 && strcmp(keys[m->slot[h]], keys[i]) != 0)
            h = (h + 1) & (m->cap - 1);
        if (m->slot[h] >= 0) {
            if (*dup < 0) *dup = (long)i;
            continue;
        }
        m->slot[h] = (long)i;
    }
    return m;
}

static long idmap_find(const struct oq_idmap *m, const char *s)
{
    size_t h = (size_t)oq_user_hash(s, 0) & (m->cap - 1);
    while (m->slot[h] >= 0) {
        if (strcmp(m->keys[m->slot[h]], s) == 0) return m->slot[h];
        h = (h + 1) & (m->cap - 1);
    }
    return -1;
}

/* ---- shared helpers ----------------------------------------------------------- */

static const oq_csv_opts user_opts = {.allow_no_final_newline = 1};

static int bad(oq_error *err, const char *file, long line, int idx, const char *col,
               const char *got, const char *what)
{
    return oq_error_set(err, OQ_EPARSE, file, line, (long)idx + 1,
                        "column %d (%s): got \"%.40s\", expected %s", idx + 1, col, got, what);
}

static int check_count(const char *name, size_t got, size_t want, long line, oq_error *err)
{
    if (got == want) return 0;
    if (got < want)
        return oq_error_set(err, OQ_EPARSE, name, line, (long)got,
                            "missing fields: %zu fields, the header has %zu", got, want);
    return oq_error_set(err, OQ_EPARSE, name, line, (long)want + 1,
                        "extra fields: %zu fields, the header has %zu", got, want);
}

/* A number cell: surrounding blanks are allowed (exports pad). */
static int parse_num(const char *s, size_t len, double *out)
{
    while (len && isspace((unsigned char)*s)) {
        s++;
        len--;
    }
    while (len && isspace((unsigned char)s[len - 1]))
        len--;
    return oq_parse_f64(s, len, out);
}

static int is_missing(const char *s, size_t len)
{
    static const char *const na[] = {"NA", "N/A", "NaN", "null"};
    if (len == 0) return 1;
    for (size_t k = 0; k < sizeof na / sizeof *na; k++)
        if (len == strlen(na[k]) && strncasecmp(s, na[k], len) == 0) return 1;
    return 0;
}

static int id_ok(const char *s, size_t len)
{
    return len > 0 && len <= OQ_TABLES_MAX_ID && oq_utf8_name_ok(s, len);
}

#define ID_WHAT "a non-empty id (UTF-8 text, no control characters, at most 256 bytes)"

/* Grow an array of n elements of size sz to hold at least need. */
static int grow(void **p, size_t *cap, size_t need, size_t sz)
{
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 256;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * sz);
    if (!q) return -1;
    *p = q;
    *cap = c;
    return 0;
}

static char *dup_n(const char *s, size_t len)
{
    char *d = malloc(len + 1);
    if (d) {
        memcpy(d, s, len);
        d[len] = 0;
    }
    return d;
}

int oq_table_map_parse(char *spec, oq_table_map *map, oq_error *err)
{
    for (char *tok = spec, *next; tok && *tok; tok = next) {
        next = strchr(tok, ',');
        if (next) *next++ = 0;
        char *eq = strchr(tok, '=');
        if (!eq || eq == tok || !eq[1])
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "column mapping \"%s\": expected OURS=THEIRS, e.g. user_id=id",
                                tok);
        *eq = 0;
        const char **slot = !strcmp(tok, "user_id")      ? &map->user_id
                            : !strcmp(tok, "date")       ? &map->date
                            : !strcmp(tok, "offer")      ? &map->offer
                            : !strcmp(tok, "ordered")    ? &map->ordered
                            : !strcmp(tok, "value")      ? &map->value
                            : !strcmp(tok, "propensity") ? &map->propensity
                                                         : NULL;
        if (!slot)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "column mapping: unknown column \"%s\"; expected one of user_id, "
                                "date, offer, ordered, value, propensity",
                                tok);
        *slot = eq + 1;
    }
    return 0;
}

static const char *mapped(const char *m, const char *ours)
{
    return m && *m ? m : ours;
}

/* ---- offers ---------------------------------------------------------------- */

typedef struct offers_ctx {
    const char *path;
    oq_offers *o;
    int idx[3];
    size_t nf;
    int header_done;
} offers_ctx;

static int offers_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    offers_ctx *c = ctx;
    static const oq_csv_col cols[3] = {
        {"offer", 1, NULL}, {"redeem_cost", 1, NULL}, {"contact_cost", 1, NULL}};
    if (!c->header_done) {
        c->header_done = 1;
        c->nf = n;
        return oq_csv_header_map(c->path, line, f, n, cols, 3, 1, c->idx, err);
    }
    if (check_count(c->path, n, c->nf, line, err)) return OQ_EPARSE;
    oq_offers *o = c->o;
    int *m = c->idx;
    if (o->n >= OQ_TABLES_MAX_OFFERS)
        return oq_error_set(err, OQ_ELIMIT, c->path, line, 0, "more than %d offers",
                            OQ_TABLES_MAX_OFFERS);
    if (!id_ok(f[m[0]], lens[m[0]]))
        return bad(err, c->path, line, m[0], "offer", f[m[0]], ID_WHAT);
    if (oq_offers_find(o, f[m[0]], lens[m[0]]) >= 0)
        return oq_error_set(err, OQ_EPARSE, c->path, line, m[0] + 1,
                            "offer \"%.60s\" is listed twice", f[m[0]]);
    double rc, cc;
    if (parse_num(f[m[1]], lens[m[1]], &rc) || rc < 0)
        return bad(err, c->path, line, m[1], "redeem_cost", f[m[1]], "a number >= 0");
    if (parse_num(f[m[2]], lens[m[2]], &cc) || cc < 0)
        return bad(err, c->path, line, m[2], "contact_cost", f[m[2]], "a number >= 0");
    size_t k = o->n;
    if (!(o->name[k] = dup_n(f[m[0]], lens[m[0]]))) return oq_error_oom(err, c->path, NULL);
    o->redeem_cost[k] = rc;
    o->contact_cost[k] = cc;
    o->n++;
    return 0;
}

int oq_offers_read(const char *path, oq_offers **out, oq_error *err)
{
    *out = NULL;
    oq_offers *o = calloc(1, sizeof *o);
    int rc = 0;
    if (!o || !(o->name = calloc(OQ_TABLES_MAX_OFFERS, sizeof *o->name)) ||
        !(o->redeem_cost = calloc(OQ_TABLES_MAX_OFFERS, sizeof *o->redeem_cost)) ||
        !(o->contact_cost = calloc(OQ_TABLES_MAX_OFFERS, sizeof *o->contact_cost))) {
        rc = oq_error_oom(err, path, NULL);
        goto cleanup;
    }
    offers_ctx c = {.path = path, .o = o};
    rc = oq_csv_read(path, &user_opts, offers_row, &c, err);
    if (!rc && o->n < 2)
        rc = oq_error_set(err, OQ_EPARSE, path, 0, 0,
                          "%zu offer(s): a catalogue needs at least 2 rows (e.g. the control "
                          "\"none\" and one offer)",
                          o->n);
cleanup:
    if (rc) {
        oq_offers_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

int oq_offers_find(const oq_offers *o, const char *s, size_t len)
{
    for (size_t k = 0; k < o->n; k++)
        if (strlen(o->name[k]) == len && memcmp(o->name[k], s, len) == 0) return (int)k;
    return -1;
}

void oq_offers_free(oq_offers *o)
{
    if (!o) return;
    if (o->name)
        for (size_t k = 0; k < o->n; k++)
            free(o->name[k]);
    free(o->name);
    free(o->redeem_cost);
    free(o->contact_cost);
    free(o);
}

/* ---- contacts -------------------------------------------------------------- */

enum { K_USER, K_DATE, K_OFFER, K_ORDERED, K_VALUE, K_PROP, K_N };

typedef struct contacts_ctx {
    const char *path;
    const oq_offers *offers;
    oq_contacts *c;
    oq_csv_col cols[K_N];
    int idx[K_N];
    size_t nf, cap;
    int header_done;
} contacts_ctx;

static int contacts_reserve(oq_contacts *c, size_t *cap, size_t need, int dates, int props)
{
    size_t c0 = *cap, c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0;
    if (grow((void **)&c->user, &c0, need, sizeof *c->user) ||
        grow((void **)&c->line, &c1, need, sizeof *c->line) ||
        grow((void **)&c->offer, &c2, need, sizeof *c->offer) ||
        grow((void **)&c->ordered, &c3, need, sizeof *c->ordered) ||
        grow((void **)&c->value, &c4, need, sizeof *c->value) ||
        (dates && grow((void **)&c->date, &c5, need, sizeof *c->date)) ||
        (props && grow((void **)&c->propensity, &c6, need, sizeof *c->propensity)))
        return -1;
    *cap = c0;
    /* every array grew to the same capacity (same start, same rule) */
    return 0;
}

static int contacts_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    contacts_ctx *x = ctx;
    oq_contacts *c = x->c;
    int *m = x->idx;
    if (!x->header_done) {
        x->header_done = 1;
        x->nf = n;
        int rc = oq_csv_header_map(x->path, line, f, n, x->cols, K_N, 1, m, err);
        c->user_col = m[K_USER] + 1;
        return rc;
    }
    if (check_count(x->path, n, x->nf, line, err)) return OQ_EPARSE;
    if (contacts_reserve(c, &x->cap, c->n + 1, m[K_DATE] >= 0, m[K_PROP] >= 0))
        return oq_error_oom(err, x->path, NULL);
    size_t r = c->n;
#define CELL(k) f[m[k]], lens[m[k]]
#define BAD(k, what) bad(err, x->path, line, m[k], x->cols[k].name, f[m[k]], what)
    if (!id_ok(CELL(K_USER))) return BAD(K_USER, ID_WHAT);
    if (m[K_DATE] >= 0 && oq_date_parse(CELL(K_DATE), &c->date[r]))
        return BAD(K_DATE, "a date YYYY-MM-DD");
    int a = oq_offers_find(x->offers, CELL(K_OFFER));
    if (a < 0) {
        char want[256];
        size_t at = 0;
        want[0] = 0;
        for (size_t k = 0; k < x->offers->n && at < sizeof want - 8; k++) {
            int w =
                snprintf(want + at, sizeof want - at, "%s%s", k ? ", " : "", x->offers->name[k]);
            if (w < 0) break;
            at += (size_t)w;
        }
        if (at >= sizeof want) memcpy(want + sizeof want - 5, "...", 4);
        char what[300];
        snprintf(what, sizeof what, "an offer of the catalogue (%s)", want);
        return BAD(K_OFFER, what);
    }
    int64_t cnt;
    if (oq_parse_i64(CELL(K_ORDERED), &cnt) || cnt < 0)
        return BAD(K_ORDERED, "0 or 1 (or a count of orders >= 0)");
    double v;
    if (parse_num(CELL(K_VALUE), &v)) return BAD(K_VALUE, "a number");
    if (m[K_PROP] >= 0) {
        double p;
        if (parse_num(CELL(K_PROP), &p) || !(p > 0 && p <= 1))
            return BAD(K_PROP, "a probability in (0, 1]");
        c->propensity[r] = p;
    }
    if (!(c->user[r] = dup_n(CELL(K_USER)))) return oq_error_oom(err, x->path, NULL);
#undef CELL
#undef BAD
    c->line[r] = line;
    c->offer[r] = a;
    c->ordered[r] = cnt > 0;
    c->value[r] = v;
    c->n++;
    return 0;
}

int oq_contacts_read(const char *path, const oq_table_map *map, const oq_offers *offers,
                     oq_contacts **out, oq_error *err)
{
    *out = NULL;
    oq_table_map none = {0};
    if (!map) map = &none;
    oq_contacts *c = calloc(1, sizeof *c);
    if (!c) return oq_error_oom(err, path, NULL);
    snprintf(c->path, sizeof c->path, "%s", path);
    contacts_ctx x = {.path = path, .offers = offers, .c = c};
    x.cols[K_USER] = (oq_csv_col){mapped(map->user_id, "user_id"), 1, NULL};
    x.cols[K_DATE] = (oq_csv_col){mapped(map->date, "date"), 0, NULL};
    x.cols[K_OFFER] = (oq_csv_col){mapped(map->offer, "offer"), 1, NULL};
    x.cols[K_ORDERED] = (oq_csv_col){mapped(map->ordered, "ordered"), 1, NULL};
    x.cols[K_VALUE] = (oq_csv_col){mapped(map->value, "value"), 1, NULL};
    x.cols[K_PROP] = (oq_csv_col){mapped(map->propensity, "propensity"), 0, NULL};
    int rc = oq_csv_read(path, &user_opts, contacts_row, &x, err);
    if (!rc && c->n == 0)
        rc =
            oq_error_set(err, OQ_EPARSE, path, 2, 1, "no contacts: expected rows after the header");
    if (rc) {
        oq_contacts_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

void oq_contacts_free(oq_contacts *c)
{
    if (!c) return;
    if (c->user)
        for (size_t i = 0; i < c->n; i++)
            free(c->user[i]);
    free(c->user);
    free(c->line);
    free(c->date);
    free(c->offer);
    free(c->ordered);
    free(c->value);
    free(c->propensity);
    free(c->xrow);
    free(c);
}

/* ---- customers ------------------------------------------------------------- */

typedef struct cust_ctx {
    const char *path;
    const oq_table_map *map;
    const oq_customers *ref; /* read_like: the attributes, typed and coded */
    oq_customers *c;
    int user_idx;
    int *attr_idx; /* (nattr) field of each attribute */
    size_t nf, cap, lcap;
    long *line; /* (n) line of each row */
    /* first read: the cells, typed after the whole file is in */
    char *cells; /* NUL-separated cell texts */
    size_t clen, ccap;
    size_t *coff; /* (n, nattr) offsets into cells */
    size_t ocap;
    int header_done;
} cust_ctx;

/* Is header name h one of a comma-separated list? */
static int in_list(const char *list, const char *h)
{
    size_t n = strlen(h);
    for (const char *p = list; p && *p;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == n && memcmp(p, h, n) == 0) return 1;
        p = comma ? comma + 1 : NULL;
    }
    return 0;
}

static int cust_header(cust_ctx *x, char **f, size_t n, long line, oq_error *err)
{
    const oq_table_map *m = x->map;
    oq_customers *c = x->c;
    const char *uname = mapped(m->user_id, "user_id");
    x->nf = n;
    x->user_idx = -1;
    x->attr_idx = malloc((n ? n : 1) * sizeof *x->attr_idx);
    if (!x->attr_idx) return oq_error_oom(err, x->path, NULL);
    if (x->ref) {
        /* every attribute of ref, by name */
        c->nattr = x->ref->nattr;
        for (size_t k = 0; k < c->nattr; k++)
            x->attr_idx[k] = -1;
    }
    for (size_t i = 0; i < n; i++) {
        for (size_t j = 0; j < i; j++)
            if (!strcmp(f[i], f[j]))
                return oq_error_set(err, OQ_EPARSE, x->path, line, (long)i + 1,
                                    "column \"%.60s\" appears twice in the header (fields %zu "
                                    "and %zu)",
                                    f[i], j + 1, i + 1);
        if (!strcmp(f[i], uname)) {
            x->user_idx = (int)i;
            continue;
        }
        if (x->ref) {
            for (size_t k = 0; k < c->nattr; k++)
                if (!strcmp(x->ref->attr[k], f[i])) x->attr_idx[k] = (int)i;
            continue;
        }
        const char *contact_cols[] = {mapped(m->date, "date"), mapped(m->offer, "offer"),
                                      mapped(m->ordered, "ordered"), mapped(m->value, "value"),
                                      mapped(m->propensity, "propensity")};
        int skip = in_list(m->ignore, f[i]);
        for (size_t k = 0; k < 5; k++)
            skip |= !strcmp(contact_cols[k], f[i]);
        if (skip) continue;
        if (!oq_utf8_name_ok(f[i], strlen(f[i])) || !f[i][0])
            return oq_error_set(err, OQ_EPARSE, x->path, line, (long)i + 1,
                                "attribute column %zu: expected a name (UTF-8 text, no "
                                "control characters)",
                                i + 1);
        if (c->nattr >= OQ_TABLES_MAX_ATTRS)
            return oq_error_set(err, OQ_ELIMIT, x->path, line, (long)i + 1,
                                "more than %d attribute columns", OQ_TABLES_MAX_ATTRS);
        x->attr_idx[c->nattr++] = (int)i;
    }
    if (x->user_idx < 0)
        return oq_error_set(err, OQ_EPARSE, x->path, line, (long)n + 1,
                            "missing column \"%s\" in header; expected %s and the attribute "
                            "columns",
                            uname, uname);
    if (x->ref) {
        for (size_t k = 0; k < c->nattr; k++)
            if (x->attr_idx[k] < 0)
                return oq_error_set(err, OQ_EPARSE, x->path, line, (long)n + 1,
                                    "missing column \"%s\": the model was learnt with this "
                                    "attribute",
                                    x->ref->attr[k]);
        return 0;
    }
    if (!(c->attr = calloc(c->nattr ? c->nattr : 1, sizeof *c->attr)))
        return oq_error_oom(err, x->path, NULL);
    for (size_t k = 0; k < c->nattr; k++)
        if (!(c->attr[k] = strdup(f[x->attr_idx[k]]))) return oq_error_oom(err, x->path, NULL);
    return 0;
}

/* Index of text s in ref's sorted levels of attribute k, or -1. */
static long level_find(char *const *levels, size_t nl, const char *s)
{
    size_t lo = 0, hi = nl;
    if (!levels) return -1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (!levels[mid]) return -1; /* a level whose copy failed (the read fails too) */
        int d = strcmp(levels[mid], s);
        if (d == 0) return (long)mid;
        if (d < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

static int cust_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    cust_ctx *x = ctx;
    oq_customers *c = x->c;
    if (!x->header_done) {
        x->header_done = 1;
        return cust_header(x, f, n, line, err);
    }
    if (check_count(x->path, n, x->nf, line, err)) return OQ_EPARSE;
    size_t r = c->n, na = c->nattr;
    size_t cap0 = x->cap, cap1 = x->cap;
    if (grow((void **)&c->user, &cap0, r + 1, sizeof *c->user) ||
        grow((void **)&x->line, &cap1, r + 1, sizeof *x->line))
        return oq_error_oom(err, x->path, NULL);
    x->cap = cap0;
    int u = x->user_idx;
    if (!id_ok(f[u], lens[u]))
        return bad(err, x->path, line, u, mapped(x->map->user_id, "user_id"), f[u], ID_WHAT);
    if (x->ref) {
        if (grow((void **)&c->x, &x->ocap, (r + 1) * (na ? na : 1), sizeof *c->x))
            return oq_error_oom(err, x->path, NULL);
        for (size_t k = 0; k < na; k++) {
            int j = x->attr_idx[k];
            double v = NAN;
            if (is_missing(f[j], lens[j])) {
            } else if (x->ref->is_text[k]) {
                long l = level_find(x->ref->levels[k], x->ref->nlevels[k], f[j]);
                if (l >= 0) v = (double)l;
            } else if (parse_num(f[j], lens[j], &v)) {
                return bad(err, x->path, line, j, x->ref->attr[k], f[j],
                           "a number (the attribute is numeric in the customers file the "
                           "model learnt from)");
            }
            c->x[r * na + k] = v;
        }
    } else {
        if (grow((void **)&x->coff, &x->ocap, (r + 1) * (na ? na : 1), sizeof *x->coff))
            return oq_error_oom(err, x->path, NULL);
        for (size_t k = 0; k < na; k++) {
            int j = x->attr_idx[k];
            if (!is_missing(f[j], lens[j]) && !oq_utf8_name_ok(f[j], lens[j]))
                return bad(err, x->path, line, j, c->attr[k], f[j],
                           "UTF-8 text without control characters, or a number");
            if (grow((void **)&x->cells, &x->ccap, x->clen + lens[j] + 1, 1))
                return oq_error_oom(err, x->path, NULL);
            x->coff[r * na + k] = x->clen;
            memcpy(x->cells + x->clen, f[j], lens[j]);
            x->clen += lens[j];
            x->cells[x->clen++] = 0;
        }
    }
    if (!(c->user[r] = dup_n(f[u], lens[u]))) return oq_error_oom(err, x->path, NULL);
    x->line[r] = line;
    c->n++;
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* First read: type each attribute (numeric if every non-missing cell is a
 * number), collect the sorted levels of text ones and code every cell. */
static int cust_type(cust_ctx *x, oq_error *err)
{
    oq_customers *c = x->c;
    size_t n = c->n, na = c->nattr;
    c->x = malloc((n * na > 0 ? n * na : 1) * sizeof *c->x);
    char **tmp = malloc((n ? n : 1) * sizeof *tmp);
    int rc = 0;
    if (!c->x || !tmp) {
        rc = oq_error_oom(err, x->path, NULL);
        goto cleanup;
    }
    for (size_t k = 0; k < na && !rc; k++) {
        int text = 0;
        for (size_t i = 0; i < n && !text; i++) {
            const char *s = x->cells + x->coff[i * na + k];
            size_t len = strlen(s);
            double v;
            if (!is_missing(s, len) && parse_num(s, len, &v)) text = 1;
            c->x[i * na + k] = is_missing(s, len) ? NAN : v;
        }
        c->is_text[k] = text;
        if (!text) continue;
        size_t m = 0;
        for (size_t i = 0; i < n; i++) {
            char *s = x->cells + x->coff[i * na + k];
            if (!is_missing(s, strlen(s))) tmp[m++] = s;
        }
        qsort(tmp, m, sizeof *tmp, cmp_str);
        size_t nl = 0;
        for (size_t i = 0; i < m; i++)
            if (i == 0 || strcmp(tmp[i], tmp[i - 1]) != 0) tmp[nl++] = tmp[i];
        if (nl > OQ_TABLES_MAX_LEVELS) {
            rc = oq_error_set(err, OQ_ELIMIT, x->path, 0, x->attr_idx[k] + 1,
                              "attribute \"%s\" has %zu distinct text values (more than %d): "
                              "is it an id? list it in --ignore",
                              c->attr[k], nl, OQ_TABLES_MAX_LEVELS);
            break;
        }
        c->nlevels[k] = nl;
        if (!(c->levels[k] = calloc(nl ? nl : 1, sizeof **c->levels))) {
            rc = oq_error_oom(err, x->path, NULL);
            break;
        }
        for (size_t l = 0; l < nl && !rc; l++)
            if (!(c->levels[k][l] = strdup(tmp[l]))) rc = oq_error_oom(err, x->path, NULL);
        for (size_t i = 0; i < n && !rc; i++) {
            const char *s = x->cells + x->coff[i * na + k];
            c->x[i * na + k] =
                is_missing(s, strlen(s)) ? NAN : (double)level_find(c->levels[k], nl, s);
        }
    }
cleanup:
    free(tmp);
    return rc;
}

static int cust_read(const char *path, const oq_table_map *map, const oq_customers *ref,
                     oq_customers **out, oq_error *err)
{
    *out = NULL;
    oq_table_map none = {0};
    if (!map) map = &none;
    oq_customers *c = calloc(1, sizeof *c);
    cust_ctx x = {.path = path, .map = map, .ref = ref, .c = c};
    int rc = 0;
    if (!c) return oq_error_oom(err, path, NULL);
    rc = oq_csv_read(path, &user_opts, cust_row, &x, err);
    if (!rc && c->n == 0)
        rc = oq_error_set(err, OQ_EPARSE, path, 2, 1,
                          "no customers: expected rows after the header");
    if (rc) goto cleanup;
    if (ref) {
        /* the attributes as ref has them (names, types, levels): copies */
        size_t na = ref->nattr;
        if (!(c->attr = calloc(na ? na : 1, sizeof *c->attr)) ||
            !(c->is_text = calloc(na ? na : 1, sizeof *c->is_text)) ||
            !(c->nlevels = calloc(na ? na : 1, sizeof *c->nlevels)) ||
            !(c->levels = calloc(na ? na : 1, sizeof *c->levels))) {
            rc = oq_error_oom(err, path, NULL);
            goto cleanup;
        }
        for (size_t k = 0; k < na && !rc; k++) {
            c->is_text[k] = ref->is_text[k];
            if (!(c->attr[k] = strdup(ref->attr[k]))) rc = oq_error_oom(err, path, NULL);
            if (rc || !ref->is_text[k]) continue;
            c->nlevels[k] = ref->nlevels[k];
            if (!(c->levels[k] =
                      calloc(ref->nlevels[k] ? ref->nlevels[k] : 1, sizeof **c->levels))) {
                rc = oq_error_oom(err, path, NULL);
                break;
            }
            for (size_t l = 0; l < ref->nlevels[k] && !rc; l++)
                if (!(c->levels[k][l] = strdup(ref->levels[k][l])))
                    rc = oq_error_oom(err, path, NULL);
        }
    } else {
        size_t na = c->nattr ? c->nattr : 1;
        if (!(c->is_text = calloc(na, sizeof *c->is_text)) ||
            !(c->nlevels = calloc(na, sizeof *c->nlevels)) ||
            !(c->levels = calloc(na, sizeof *c->levels))) {
            rc = oq_error_oom(err, path, NULL);
            goto cleanup;
        }
        rc = cust_type(&x, err);
    }
    if (rc) goto cleanup;
    long dup;
    if (!(c->ids = idmap_build(c->user, c->n, &dup))) {
        rc = oq_error_oom(err, path, NULL);
        goto cleanup;
    }
    if (dup >= 0) {
        long first = idmap_find(c->ids, c->user[dup]);
        rc = oq_error_set(err, OQ_EPARSE, path, x.line[dup], x.user_idx + 1,
                          "customer \"%.60s\" appears twice (first on line %ld): expected one "
                          "row per customer",
                          c->user[dup], x.line[first]);
    }
cleanup:
    free(x.attr_idx);
    free(x.line);
    free(x.cells);
    free(x.coff);
    if (rc) {
        oq_customers_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

int oq_customers_read(const char *path, const oq_table_map *map, oq_customers **out, oq_error *err)
{
    return cust_read(path, map, NULL, out, err);
}

int oq_customers_read_like(const char *path, const oq_table_map *map, const oq_customers *ref,
                           oq_customers **out, oq_error *err)
{
    return cust_read(path, map, ref, out, err);
}

static char **copy_levels(char *const *lv, size_t n)
{
    char **o = calloc(n ? n : 1, sizeof *o);
    for (size_t l = 0; o && l < n; l++)
        if (!(o[l] = strdup(lv[l]))) {
            for (size_t j = 0; j < l; j++)
                free(o[j]);
            free(o);
            return NULL;
        }
    return o;
}

int oq_customers_extend(const oq_customers *base, const size_t *rows, size_t n, size_t nextra,
                        const char *const *name, const int *is_text, const size_t *nlevels,
                        char *const *const *levels, const double *xextra, int index_ids,
                        oq_customers **out, oq_error *err)
{
    *out = NULL;
    for (size_t e = 0; e < nextra; e++)
        for (size_t k = 0; k < base->nattr; k++)
            if (!strcmp(name[e], base->attr[k]))
                return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                    "the customers already have a column \"%s\", the name of a "
                                    "feature offerq derives: rename it (or --ignore it)",
                                    name[e]);
    size_t na = base->nattr + nextra, a1 = na ? na : 1;
    oq_customers *c = calloc(1, sizeof *c);
    int rc = 0;
    if (!c || !(c->user = calloc(n ? n : 1, sizeof *c->user)) ||
        !(c->attr = calloc(a1, sizeof *c->attr)) ||
        !(c->is_text = calloc(a1, sizeof *c->is_text)) ||
        !(c->nlevels = calloc(a1, sizeof *c->nlevels)) ||
        !(c->levels = calloc(a1, sizeof *c->levels)) ||
        !(c->x = malloc((n ? n : 1) * a1 * sizeof *c->x))) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    c->nattr = na;
    for (size_t k = 0; k < na && !rc; k++) {
        int b = k < base->nattr;
        size_t e = k - (b ? 0 : base->nattr);
        c->is_text[k] = b ? base->is_text[k] : is_text[e];
        c->nlevels[k] = c->is_text[k] ? (b ? base->nlevels[k] : nlevels[e]) : 0;
        if (!(c->attr[k] = strdup(b ? base->attr[k] : name[e]))) rc = oq_error_oom(err, NULL, NULL);
        if (!rc && c->is_text[k] &&
            !(c->levels[k] = copy_levels(b ? base->levels[k] : levels[e], c->nlevels[k])))
            rc = oq_error_oom(err, NULL, NULL);
    }
    for (size_t i = 0; i < n && !rc; i++) {
        size_t r = rows[i];
        if (!(c->user[i] = strdup(base->user[r]))) {
            rc = oq_error_oom(err, NULL, NULL);
            break;
        }
        c->n = i + 1;
        memcpy(c->x + i * na, base->x + r * base->nattr, base->nattr * sizeof *c->x);
        memcpy(c->x + i * na + base->nattr, xextra + i * nextra, nextra * sizeof *c->x);
    }
    if (rc || !index_ids) goto cleanup;
    long dup;
    if (!(c->ids = idmap_build(c->user, c->n, &dup)))
        rc = oq_error_oom(err, NULL, NULL);
    else if (dup >= 0)
        rc = oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "customer \"%.60s\" appears twice",
                          c->user[dup]);
cleanup:
    if (rc) {
        oq_customers_free(c);
        return rc;
    }
    *out = c;
    return 0;
}

long oq_customers_find(const oq_customers *c, const char *s)
{
    return c->ids ? idmap_find(c->ids, s) : -1;
}

void oq_customers_free(oq_customers *c)
{
    if (!c) return;
    if (c->user)
        for (size_t i = 0; i < c->n; i++)
            free(c->user[i]);
    free(c->user);
    for (size_t k = 0; k < c->nattr; k++) {
        if (c->attr) free(c->attr[k]);
        if (c->levels && c->nlevels && c->levels[k]) {
            for (size_t l = 0; l < c->nlevels[k]; l++)
                free(c->levels[k][l]);
            free(c->levels[k]);
        }
    }
    free(c->attr);
    free(c->is_text);
    free(c->nlevels);
    free(c->levels);
    free(c->x);
    idmap_free(c->ids);
    free(c);
}

/* ---- orders and events ------------------------------------------------------- */

enum { T_USER, T_DATE, T_VALUE, T_CAT, T_N };

typedef struct tx_ctx {
    const char *path;
    oq_txtab *t;
    oq_csv_col cols[T_N];
    int idx[T_N];
    size_t nf, cap;
    int header_done, orders;
} tx_ctx;

static int tx_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    tx_ctx *x = ctx;
    oq_txtab *t = x->t;
    int *m = x->idx;
    if (!x->header_done) {
        x->header_done = 1;
        x->nf = n;
        return oq_csv_header_map(x->path, line, f, n, x->cols, T_N, 1, m, err);
    }
    if (check_count(x->path, n, x->nf, line, err)) return OQ_EPARSE;
    size_t r = t->n, c0 = x->cap, c1 = c0, c2 = c0, c3 = c0, c4 = c0;
    if (grow((void **)&t->user, &c0, r + 1, sizeof *t->user) ||
        grow((void **)&t->line, &c1, r + 1, sizeof *t->line) ||
        grow((void **)&t->date, &c2, r + 1, sizeof *t->date) ||
        (x->orders && grow((void **)&t->value, &c3, r + 1, sizeof *t->value)) ||
        (m[T_CAT] >= 0 && grow((void **)&t->cat, &c4, r + 1, sizeof *t->cat)))
        return oq_error_oom(err, x->path, NULL);
    x->cap = c0;
#define CELL(k) f[m[k]], lens[m[k]]
#define BAD(k, what) bad(err, x->path, line, m[k], x->cols[k].name, f[m[k]], what)
    if (!id_ok(CELL(T_USER))) return BAD(T_USER, ID_WHAT);
    if (oq_date_parse(CELL(T_DATE), &t->date[r])) return BAD(T_DATE, "a date YYYY-MM-DD");
    if (x->orders) {
        double v;
        if (parse_num(CELL(T_VALUE), &v)) return BAD(T_VALUE, "a number");
        t->value[r] = v;
    }
    char *cat = NULL;
    if (m[T_CAT] >= 0 && !is_missing(CELL(T_CAT))) {
        if (!id_ok(CELL(T_CAT)))
            return BAD(T_CAT, "a category (UTF-8 text, no control characters, at most 256 bytes)");
        if (!(cat = dup_n(CELL(T_CAT)))) return oq_error_oom(err, x->path, NULL);
    }
    if (!(t->user[r] = dup_n(CELL(T_USER)))) {
        free(cat);
        return oq_error_oom(err, x->path, NULL);
    }
#undef CELL
#undef BAD
    if (t->cat)
        t->cat[r] = cat;
    else
        free(cat);
    t->line[r] = line;
    t->n++;
    return 0;
}

static int tx_read(const char *path, const oq_table_map *map, int orders, oq_txtab **out,
                   oq_error *err)
{
    *out = NULL;
    oq_table_map none = {0};
    if (!map) map = &none;
    oq_txtab *t = calloc(1, sizeof *t);
    if (!t) return oq_error_oom(err, path, NULL);
    snprintf(t->path, sizeof t->path, "%s", path);
    tx_ctx x = {.path = path, .t = t, .orders = orders};
    x.cols[T_USER] = (oq_csv_col){mapped(map->user_id, "user_id"), 1, NULL};
    x.cols[T_DATE] = (oq_csv_col){mapped(map->date, "date"), 1, NULL};
    x.cols[T_VALUE] = (oq_csv_col){"value", orders, NULL};
    x.cols[T_CAT] = (oq_csv_col){"category", !orders, NULL};
    int rc = oq_csv_read(path, &user_opts, tx_row, &x, err);
    if (!rc && !x.header_done)
        rc = oq_error_set(err, OQ_EPARSE, path, 1, 1, "empty file: expected a header %s",
                          orders ? "user_id,date,value[,category]" : "user_id,date,category");
    if (rc) {
        oq_txtab_free(t);
        return rc;
    }
    if (!orders) { /* the value column is not ours in an events file */
        free(t->value);
        t->value = NULL;
    }
    *out = t;
    return 0;
}

int oq_orders_table_read(const char *path, const oq_table_map *map, oq_txtab **out, oq_error *err)
{
    return tx_read(path, map, 1, out, err);
}

int oq_events_table_read(const char *path, const oq_table_map *map, oq_txtab **out, oq_error *err)
{
    return tx_read(path, map, 0, out, err);
}

void oq_txtab_free(oq_txtab *t)
{
    if (!t) return;
    for (size_t i = 0; i < t->n; i++) {
        if (t->user) free(t->user[i]);
        if (t->cat) free(t->cat[i]);
    }
    free(t->user);
    free(t->line);
    free(t->date);
    free(t->value);
    free(t->cat);
    free(t);
}
