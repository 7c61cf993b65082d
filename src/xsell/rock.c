/* rock.c - ROCK clustering (Guha, Rastogi & Shim 1999). What and why:
 * include/offerq/xsell/rock.h. */
#include "offerq/xsell/rock.h"
#include "offerq/core/csv.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <ctype.h>
#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- records ------------------------------------------------------------------------ */

void oq_rock_records_free(oq_rock_records *r)
{
    if (!r) return;
    free(r->off);
    free(r->item);
    free(r->value);
    for (uint32_t a = 0; a < r->n_attr; a++)
        free(r->attr ? r->attr[a] : NULL);
    free(r->attr);
    oq_dict_clear(&r->items);
    free(r->label);
    oq_dict_clear(&r->labels);
    free(r);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

typedef struct csv_ctx {
    oq_rock_records *r;
    const char *name;
    const char *label_col;
    long label_idx; /* column of the label, -1 none */
    size_t ncol;
    char **colname; /* (ncol) */
    uint32_t *tmp;  /* (ncol) */
} csv_ctx;

static void trim(const char **s, size_t *len)
{
    while (*len && isspace((unsigned char)**s))
        (*s)++, (*len)--;
    while (*len && isspace((unsigned char)(*s)[*len - 1]))
        (*len)--;
}

static int rec_reserve(oq_rock_records *r, size_t nattr)
{
    if (r->n + 1 <= r->cap) return 0;
    size_t cap = r->cap ? r->cap * 2 : 16;
    uint64_t *o = realloc(r->off, (cap + 1) * sizeof *o);
    if (!o) return OQ_ENOMEM;
    r->off = o;
    uint32_t *it = realloc(r->item, cap * (nattr ? nattr : 1) * sizeof *it);
    if (!it) return OQ_ENOMEM;
    r->item = it;
    uint32_t *v = realloc(r->value, cap * (nattr ? nattr : 1) * sizeof *v);
    if (!v) return OQ_ENOMEM;
    r->value = v;
    uint32_t *l = realloc(r->label, cap * sizeof *l);
    if (!l) return OQ_ENOMEM;
    r->label = l;
    r->cap = cap;
    return 0;
}

static int csv_row(void *vctx, char **fields, const size_t *lens, size_t nf, long line,
                   oq_error *err)
{
    csv_ctx *c = vctx;
    oq_rock_records *r = c->r;
    if (!c->colname) { /* header */
        c->ncol = nf;
        c->colname = calloc(nf, sizeof *c->colname);
        c->tmp = malloc(nf * sizeof *c->tmp);
        if (!c->colname || !c->tmp)
            return oq_error_set(err, OQ_ENOMEM, c->name, line, 0, "out of memory");
        for (size_t i = 0; i < nf; i++) {
            const char *s = fields[i];
            size_t len = lens[i];
            trim(&s, &len);
            c->colname[i] = strndup(s, len);
            if (!c->colname[i])
                return oq_error_set(err, OQ_ENOMEM, c->name, line, 0, "out of memory");
        }
        if (c->label_col) {
            const oq_csv_col label = {c->label_col, 1, NULL};
            int at;
            int rc = oq_csv_header_map(c->name, line, c->colname, nf, &label, 1, 1, &at, err);
            if (rc) return rc;
            c->label_idx = at;
        }
        r->n_attr = (uint32_t)(nf - (c->label_idx >= 0));
        if (r->n_attr == 0)
            return oq_error_set(err, OQ_EPARSE, c->name, line, 1,
                                "expected at least one attribute column");
        r->attr = calloc(r->n_attr, sizeof *r->attr);
        if (!r->attr) return oq_error_set(err, OQ_ENOMEM, c->name, line, 0, "out of memory");
        uint32_t a = 0;
        for (size_t i = 0; i < nf; i++)
            if ((long)i != c->label_idx) {
                r->attr[a] = strdup(c->colname[i]);
                if (!r->attr[a++])
                    return oq_error_set(err, OQ_ENOMEM, c->name, line, 0, "out of memory");
            }
        return 0;
    }
    if (nf != c->ncol)
        return oq_error_set(err, OQ_EPARSE, c->name, line, 0,
                            "expected %zu fields as in the header, got %zu", c->ncol, nf);
    if (rec_reserve(r, r->n_attr))
        return oq_error_set(err, OQ_ENOMEM, c->name, line, 0, "out of memory");
    uint32_t a = 0;
    size_t k = 0;
    uint64_t base = r->off[r->n];
    char buf[1024];
    for (size_t i = 0; i < nf; i++) {
        const char *s = fields[i];
        size_t len = lens[i];
        trim(&s, &len);
        if ((long)i == c->label_idx) {
            uint32_t id;
            if (oq_dict_intern(&r->labels, s, len, &id))
                return oq_error_set(err, OQ_ELIMIT, c->name, line, 0, "too many labels");
            r->label[r->n] = id;
            continue;
        }
        uint32_t *v = &r->value[r->n * r->n_attr + a];
        if (!len) {
            *v = OQ_ROCK_MISSING;
        } else {
            int m = snprintf(buf, sizeof buf, "%s=%.*s", r->attr[a], (int)len, s);
            if (m < 0 || (size_t)m >= sizeof buf)
                return oq_error_set(err, OQ_ELIMIT, c->name, line, (long)i + 1, "value too long");
            uint32_t id;
            int rc = oq_dict_intern(&r->items, buf, (size_t)m, &id);
            if (rc)
                return oq_error_set(err, rc, c->name, line, (long)i + 1, "%s",
                                    rc == OQ_ELIMIT ? "too many distinct attribute values"
                                                    : "out of memory");
            *v = id;
            r->item[base + k++] = id;
        }
        a++;
    }
    qsort(r->item + base, k, sizeof *r->item, cmp_u32);
    /* Two columns can name the same item ("a=b" + "c" and "a" + "b=c", or a
     * repeated column name): a record is a set, keep each item once (the
     * fuzzer found duplicates, which inflated |A n B| in the Jaccard). */
    size_t u = 0;
    for (size_t j = 0; j < k; j++)
        if (u == 0 || r->item[base + j] != r->item[base + u - 1])
            r->item[base + u++] = r->item[base + j];
    k = u;
    r->off[++r->n] = base + k;
    r->nnz = base + k;
    return 0;
}

static int read_any(const char *path, const char *data, size_t len, const char *label_column,
                    oq_rock_records **out, oq_error *err)
{
    *out = NULL;
    oq_rock_records *r = calloc(1, sizeof *r);
    if (!r || !(r->off = calloc(1, sizeof *r->off))) {
        free(r);
        return oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
    }
    csv_ctx c = {r, path, label_column, -1, 0, NULL, NULL};
    oq_csv_opts o = {.delim = ','}; /* no final newline: a file cut off, refused */
    int rc = data ? oq_csv_read_mem(path, data, len, &o, csv_row, &c, err)
                  : oq_csv_read(path, &o, csv_row, &c, err);
    if (!rc && r->n == 0)
        rc = oq_error_set(err, OQ_EPARSE, path, 2, 1, "expected data rows after the header");
    for (size_t i = 0; c.colname && i < c.ncol; i++)
        free(c.colname[i]);
    free(c.colname);
    free(c.tmp);
    if (!label_column) {
        free(r->label);
        r->label = NULL;
    }
    if (rc) {
        oq_rock_records_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int oq_rock_read_csv(const char *path, const char *label_column, oq_rock_records **out,
                     oq_error *err)
{
    return read_any(path, NULL, 0, label_column, out, err);
}

int oq_rock_read_csv_mem(const char *name, const char *data, size_t len, const char *label_column,
                         oq_rock_records **out, oq_error *err)
{
    return read_any(name, data, len, label_column, out, err);
}

int oq_rock_records_from_items(const oq_baskets *b, uint64_t min_count, oq_rock_records **out,
                               uint32_t **item_of, oq_error *err)
{
    *out = NULL;
    *item_of = NULL;
    uint32_t ni = b->items.n;
    if (b->n > UINT32_MAX) return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0, "too many baskets");
    oq_rock_records *r = calloc(1, sizeof *r);
    uint64_t *cnt = calloc((size_t)ni + 1, sizeof *cnt);
    uint32_t *rec_of = malloc((ni ? ni : 1) * sizeof *rec_of);
    uint32_t *io = malloc((ni ? ni : 1) * sizeof *io);
    int rc = 0;
    if (!r || !cnt || !rec_of || !io) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    for (size_t j = 0; j < b->nnz; j++)
        cnt[b->item[j]]++;
    size_t nr = 0, nnz = 0;
    for (uint32_t i = 0; i < ni; i++) {
        rec_of[i] = UINT32_MAX;
        if (cnt[i] >= min_count && cnt[i] > 0) {
            rec_of[i] = (uint32_t)nr;
            io[nr++] = i;
            nnz += cnt[i];
        }
    }
    r->n = nr;
    r->nnz = nnz;
    r->off = calloc(nr + 1, sizeof *r->off);
    r->item = malloc((nnz ? nnz : 1) * sizeof *r->item);
    uint64_t *fill = calloc(nr ? nr : 1, sizeof *fill);
    if (!r->off || !r->item || !fill) {
        free(fill);
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    for (size_t q = 0; q < nr; q++)
        r->off[q + 1] = r->off[q] + cnt[io[q]];
    /* record of item i = ascending basket ids containing i; "items" = baskets */
    for (size_t t = 0; t < b->n; t++)
        for (uint64_t j = b->off[t]; j < b->off[t + 1]; j++) {
            uint32_t q = rec_of[b->item[j]];
            if (q != UINT32_MAX) r->item[r->off[q] + fill[q]++] = (uint32_t)t;
        }
    free(fill);
cleanup:
    free(cnt);
    free(rec_of);
    if (rc) {
        free(io);
        oq_rock_records_free(r);
        return oq_error_set(err, rc, NULL, 0, 0, "out of memory");
    }
    *out = r;
    *item_of = io;
    return 0;
}

int oq_rock_records_from_baskets(const oq_baskets *b, oq_rock_records **out, oq_error *err)
{
    *out = NULL;
    oq_rock_records *r = calloc(1, sizeof *r);
    if (!r) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    r->n = b->n;
    r->nnz = b->nnz;
    r->off = malloc((b->n + 1) * sizeof *r->off);
    r->item = malloc((b->nnz ? b->nnz : 1) * sizeof *r->item);
    if (!r->off || !r->item) {
        oq_rock_records_free(r);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    }
    memcpy(r->off, b->off, (b->n + 1) * sizeof *r->off);
    if (b->nnz) memcpy(r->item, b->item, b->nnz * sizeof *r->item);
    *out = r;
    return 0;
}

/* ---- parameters, results -------------------------------------------------------------- */

void oq_rock_params_default(oq_rock_params *p)
{
    p->theta = 0.5;
    p->k = 2;
    p->pairwise_missing = 0;
    p->min_neighbours = 1;
    p->weed_at = 1.0 / 3.0;
    p->weed_size = 0;
    p->sample = 0;
    p->seed = 1;
    p->quiet = 1;
}

void oq_rock_result_free(oq_rock_result *res)
{
    if (!res) return;
    free(res->cluster);
    free(res->size);
    free(res);
}

/* ---- similarity ---------------------------------------------------------------------------- */

static double sim(const oq_rock_records *r, int pairwise, size_t i, size_t j)
{
    if (r->value && pairwise) {
        const uint32_t *a = r->value + i * r->n_attr, *b = r->value + j * r->n_attr;
        unsigned eq = 0, both = 0;
        for (uint32_t t = 0; t < r->n_attr; t++) {
            if (a[t] == OQ_ROCK_MISSING || b[t] == OQ_ROCK_MISSING) continue;
            both++;
            eq += a[t] == b[t];
        }
        return both ? (double)eq / (double)(2 * both - eq) : 0.0;
    }
    if (r->value) { /* categorical: |T1 n T2| = equal present values */
        const uint32_t *a = r->value + i * r->n_attr, *b = r->value + j * r->n_attr;
        unsigned eq = 0;
        for (uint32_t t = 0; t < r->n_attr; t++)
            eq += a[t] == b[t] && a[t] != OQ_ROCK_MISSING;
        size_t u = (r->off[i + 1] - r->off[i]) + (r->off[j + 1] - r->off[j]) - eq;
        return u ? (double)eq / (double)u : 0.0;
    }
    const uint32_t *a = r->item + r->off[i], *b = r->item + r->off[j];
    size_t na = r->off[i + 1] - r->off[i], nb = r->off[j + 1] - r->off[j], x = 0, y = 0, c = 0;
    while (x < na && y < nb) {
        if (a[x] < b[y])
            x++;
        else if (a[x] > b[y])
            y++;
        else
            c++, x++, y++;
    }
    size_t u = na + nb - c;
    return u ? (double)c / (double)u : 0.0;
}

double oq_rock_sim(const oq_rock_records *r, const oq_rock_params *p, size_t i, size_t j)
{
    return sim(r, p->pairwise_missing, i, j);
}

size_t oq_rock_link(const oq_rock_records *r, const oq_rock_params *p, size_t i, size_t j)
{
    size_t c = 0;
    for (size_t l = 0; l < r->n; l++)
        if (l != i && l != j && sim(r, p->pairwise_missing, i, l) >= p->theta &&
            sim(r, p->pairwise_missing, j, l) >= p->theta)
            c++;
    return c;
}

/* ---- heaps ------------------------------------------------------------------------------------
 * Max-heaps on goodness; ties to the smaller id, so runs are reproducible. */

typedef struct hent {
    double g;
    uint32_t id;  /* partner cluster (local heap) or cluster (global heap) */
    uint32_t aux; /* link count (local) or version (global) */
} hent;

typedef struct heap {
    hent *e;
    size_t n, cap;
} heap;

static int hbefore(const hent *a, const hent *b)
{
    // heap slots below n are initialised
    // NOLINTNEXTLINE(clang-analyzer-core.UndefinedBinaryOperatorResult)
    return a->g > b->g || (a->g == b->g && a->id < b->id);
}

static int heap_push(heap *h, hent x)
{
    if (h->n == h->cap) {
        size_t cap = h->cap ? h->cap * 2 : 8;
        hent *e = realloc(h->e, cap * sizeof *e);
        if (!e) return OQ_ENOMEM;
        h->e = e;
        h->cap = cap;
    }
    size_t i = h->n++;
    while (i > 0) {
        size_t p = (i - 1) / 2;
        if (!hbefore(&x, &h->e[p])) break;
        h->e[i] = h->e[p];
        i = p;
    }
    h->e[i] = x;
    return 0;
}

static void heap_sift_down(heap *h, size_t i)
{
    hent x = h->e[i];
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= h->n) break;
        if (c + 1 < h->n && hbefore(&h->e[c + 1], &h->e[c])) c++;
        if (!hbefore(&h->e[c], &x)) break;
        h->e[i] = h->e[c];
        i = c;
    }
    h->e[i] = x;
}

static void heap_pop(heap *h)
{
    h->e[0] = h->e[--h->n];
    if (h->n) heap_sift_down(h, 0);
}

static void heap_build(heap *h)
{
    for (size_t i = h->n / 2; i-- > 0;)
        heap_sift_down(h, i);
}

/* ---- the algorithm
 * ------------------------------------------------------------------------------- */

typedef struct rock {
    size_t m;          /* points clustered */
    double e;          /* 1 + 2 f(theta) */
    uint32_t *sz;      /* (2m) cluster sizes */
    uint8_t *alive;    /* (2m) */
    uint32_t *ver;     /* (2m) global-heap version */
    uint32_t *parent;  /* (2m) merged into, UINT32_MAX = root */
    heap *q;           /* (2m) local heaps */
    heap Q;            /* global heap */
    uint64_t *acc;     /* (2m) scratch link sums */
    uint32_t *touched; /* (2m) */
    size_t next_id;
} rock;

static double goodness(const rock *k, uint32_t link, uint32_t ni, uint32_t nj)
{
    /* g(Ci, Cj) = link / ((ni+nj)^(1+2f) - ni^(1+2f) - nj^(1+2f)) */
    double d = pow((double)ni + nj, k->e) - pow((double)ni, k->e) - pow((double)nj, k->e);
    return (double)link / d;
}

/* Drop dead partners from the top of q[x]; 1 if a live top remains. */
static int clean_top(rock *k, uint32_t x)
{
    heap *h = &k->q[x];
    while (h->n && !k->alive[h->e[0].id])
        heap_pop(h);
    return h->n > 0;
}

static int global_refresh(rock *k, uint32_t x)
{
    if (!clean_top(k, x)) return 0;
    return heap_push(&k->Q, (hent){k->q[x].e[0].g, x, ++k->ver[x]});
}

static int merge(rock *k, uint32_t u, uint32_t v)
{
    uint32_t w = (uint32_t)k->next_id++;
    k->alive[u] = k->alive[v] = 0;
    k->parent[u] = k->parent[v] = w;
    k->sz[w] = k->sz[u] + k->sz[v];
    k->alive[w] = 1;
    size_t nt = 0;
    /* link[x, w] = link[x, u] + link[x, v] */
    for (int s = 0; s < 2; s++) {
        heap *h = &k->q[s ? v : u];
        for (size_t i = 0; i < h->n; i++) {
            uint32_t x = h->e[i].id;
            if (!k->alive[x]) continue;
            if (!k->acc[x]) k->touched[nt++] = x;
            k->acc[x] += h->e[i].aux;
        }
    }
    free(k->q[u].e);
    free(k->q[v].e);
    memset(&k->q[u], 0, sizeof k->q[u]);
    memset(&k->q[v], 0, sizeof k->q[v]);
    heap *hw = &k->q[w];
    hw->e = malloc((nt ? nt : 1) * sizeof *hw->e);
    if (!hw->e) return OQ_ENOMEM;
    hw->cap = nt ? nt : 1;
    for (size_t i = 0; i < nt; i++) {
        uint32_t x = k->touched[i];
        uint32_t l = (uint32_t)k->acc[x];
        k->acc[x] = 0;
        double g = goodness(k, l, k->sz[x], k->sz[w]);
        hw->e[hw->n++] = (hent){g, x, l};
        if (heap_push(&k->q[x], (hent){g, w, l})) return OQ_ENOMEM;
        if (global_refresh(k, x)) return OQ_ENOMEM;
    }
    heap_build(hw);
    return global_refresh(k, w);
}

/* Neighbour bitsets (m, W) of the points pts[0..m). */
static int neighbours(const oq_rock_records *r, const oq_rock_params *p, const uint32_t *pts,
                      size_t m, size_t W, uint64_t *A, uint32_t *deg, size_t *npairs)
{
    size_t pairs = 0;
#ifdef _OPENMP
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : pairs)
#endif
    for (size_t i = 0; i < m; i++) {
        for (size_t j = i + 1; j < m; j++) {
            if (sim(r, p->pairwise_missing, pts[i], pts[j]) >= p->theta) {
                A[i * W + j / 64] |= 1ull << (j % 64);
                pairs++;
            }
        }
    }
    /* mirror the upper triangle */
    for (size_t i = 0; i < m; i++)
        for (size_t w = i / 64; w < W; w++) {
            uint64_t bits = A[i * W + w];
            while (bits) {
                size_t j = w * 64 + (size_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                if (j > i) A[j * W + i / 64] |= 1ull << (i % 64);
            }
        }
    for (size_t i = 0; i < m; i++) {
        uint32_t d = 0;
        for (size_t w = 0; w < W; w++)
            d += (uint32_t)__builtin_popcountll(A[i * W + w]);
        deg[i] = d;
    }
    *npairs = pairs;
    return 0;
}

/* Links of row i with every j > i two hops away: link = popcount(A_i & A_j). */
__attribute__((target_clones("popcnt", "default"))) static size_t
link_row(const uint64_t *A, size_t W, size_t i, uint64_t *cand, uint32_t *js, uint32_t *ls)
{
    memset(cand, 0, W * sizeof *cand);
    const uint64_t *Ai = A + i * W;
    for (size_t w = 0; w < W; w++) {
        uint64_t bits = Ai[w];
        while (bits) {
            size_t l = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            const uint64_t *Al = A + l * W;
            for (size_t t = 0; t < W; t++)
                cand[t] |= Al[t];
        }
    }
    size_t n = 0;
    for (size_t w = (i + 1) / 64; w < W; w++) {
        uint64_t bits = cand[w];
        if (w == (i + 1) / 64) bits &= ~0ull << ((i + 1) % 64);
        while (bits) {
            size_t j = w * 64 + (size_t)__builtin_ctzll(bits);
            bits &= bits - 1;
            const uint64_t *Aj = A + j * W;
            uint32_t c = 0;
            for (size_t t = 0; t < W; t++)
                c += (uint32_t)__builtin_popcountll(Ai[t] & Aj[t]);
            if (c) {
                js[n] = (uint32_t)j;
                ls[n++] = c;
            }
        }
    }
    return n;
}

/* Cluster the m points pts[]; out: cl[i] = root cluster id or UINT32_MAX (outlier). */
static int cluster_points(const oq_rock_records *r, const oq_rock_params *p, const uint32_t *pts,
                          size_t m, uint32_t *cl, oq_rock_result *res)
{
    int rc = 0;
    size_t W = (m + 63) / 64;
    rock k = {0};
    uint64_t *A = calloc(m * W + 1, sizeof *A);        // (m, W) neighbour bitsets
    uint32_t *deg = malloc((m ? m : 1) * sizeof *deg); // (m)
    size_t w1 = W ? W : 1;
    uint64_t *cand =
        malloc(w1 * sizeof *cand); // (W) NOLINT(clang-analyzer-optin.portability.UnixAPI)
    size_t m1 = m ? m : 1;
    uint32_t *js =
        malloc(m1 * sizeof *js); // NOLINT(clang-analyzer-optin.portability.UnixAPI): m1 >= 1
    uint32_t *ls =
        malloc(m1 * sizeof *ls); // NOLINT(clang-analyzer-optin.portability.UnixAPI): m1 >= 1
    k.m = m;
    k.e = 1.0 + 2.0 * (1.0 - p->theta) / (1.0 + p->theta);
    size_t M = 2 * m + 1;
    k.sz = calloc(M, sizeof *k.sz);
    k.alive = calloc(M, 1);
    k.ver = calloc(M, sizeof *k.ver);
    k.parent = malloc(M * sizeof *k.parent);
    k.q = calloc(M, sizeof *k.q);
    k.acc = calloc(M, sizeof *k.acc);
    k.touched = malloc(M * sizeof *k.touched);
    if (!A || !deg || !cand || !js || !ls || !k.sz || !k.alive || !k.ver || !k.parent || !k.q ||
        !k.acc || !k.touched) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    oq_progress pg;
    double t0 = oq_now();
    oq_progress_start(&pg, "rock: neighbours", 1, p->quiet);
    if ((rc = neighbours(r, p, pts, m, W, A, deg, &res->neighbour_pairs))) goto cleanup;
    oq_progress_done(&pg);
    /* points with too few neighbours are outliers from the start */
    size_t alive = 0;
    for (size_t i = 0; i < M; i++)
        k.parent[i] = UINT32_MAX;
    for (size_t i = 0; i < m; i++) {
        k.sz[i] = 1;
        k.alive[i] = deg[i] >= p->min_neighbours && deg[i] > 0;
        alive += k.alive[i];
    }
    k.next_id = m;
    /* links and the initial local heaps (both directions) */
    double t1 = oq_now();
    oq_progress_start(&pg, "rock: links", (double)m, p->quiet);
    for (size_t i = 0; i < m; i++) {
        oq_progress_update(&pg, (double)i);
        if (!k.alive[i]) continue;
        size_t nl = link_row(A, W, i, cand, js, ls);
        for (size_t t = 0; t < nl; t++) {
            uint32_t j = js[t];
            if (!k.alive[j]) continue;
            double g = goodness(&k, ls[t], 1, 1);
            if (heap_push(&k.q[i], (hent){g, j, ls[t]}) ||
                heap_push(&k.q[j], (hent){g, (uint32_t)i, ls[t]})) {
                rc = OQ_ENOMEM;
                goto cleanup;
            }
            res->link_pairs++;
        }
    }
    oq_progress_done(&pg);
    free(A);
    A = NULL;
    for (size_t i = 0; i < m; i++)
        if (k.alive[i] && (rc = global_refresh(&k, (uint32_t)i))) goto cleanup;
    /* merging (the paper's procedure cluster, figure 3) */
    size_t weed_when = (size_t)(p->weed_at * (double)alive);
    int weeded = p->weed_size == 0;
    double t2 = oq_now();
    oq_progress_start(&pg, "rock: merging", (double)alive, p->quiet);
    size_t start_alive = alive;
    while (alive > p->k) {
        oq_progress_update(&pg, (double)(start_alive - alive));
        if (!weeded && alive <= weed_when) {
            for (size_t c = 0; c < k.next_id; c++)
                if (k.alive[c] && k.sz[c] <= p->weed_size) {
                    k.alive[c] = 0;
                    res->weeded += k.sz[c];
                    alive--;
                }
            weeded = 1;
            /* the weeded clusters' partners have new tops */
            for (size_t c = 0; c < k.next_id; c++)
                if (k.alive[c] && (rc = global_refresh(&k, (uint32_t)c))) goto cleanup;
            continue;
        }
        if (!k.Q.n) break; /* no links left between clusters */
        hent top = k.Q.e[0];
        heap_pop(&k.Q);
        uint32_t u = top.id;
        if (!k.alive[u] || top.aux != k.ver[u]) continue; /* stale */
        if (!clean_top(&k, u)) continue;
        if (k.q[u].e[0].g != top.g) { /* best partner changed since: requeue */
            if ((rc = global_refresh(&k, u))) goto cleanup;
            continue;
        }
        uint32_t v = k.q[u].e[0].id;
        if ((rc = merge(&k, u, v))) goto cleanup;
        res->merges++;
        alive--;
    }
    oq_progress_done(&pg);
    res->t_neighbours = t1 - t0;
    res->t_links = t2 - t1;
    res->t_merge = oq_now() - t2;
    /* roots: alive clusters; everything else under a dead root is an outlier */
    for (size_t i = 0; i < m; i++) {
        uint32_t c = (uint32_t)i;
        while (k.parent[c] != UINT32_MAX)
            c = k.parent[c];
        cl[i] = k.alive[c] ? c : UINT32_MAX;
    }
cleanup:
    free(A);
    free(deg);
    free(cand);
    free(js);
    free(ls);
    if (k.q)
        for (size_t i = 0; i < M; i++)
            free(k.q[i].e);
    free(k.q);
    free(k.Q.e);
    free(k.sz);
    free(k.alive);
    free(k.ver);
    free(k.parent);
    free(k.acc);
    free(k.touched);
    return rc;
}

typedef struct csort {
    size_t size;
    uint32_t first; /* first point */
    uint32_t root;
} csort;

static int cmp_csort(const void *a, const void *b)
{
    const csort *x = a, *y = b;
    if (x->size != y->size) return x->size > y->size ? -1 : 1;
    return (x->first > y->first) - (x->first < y->first);
}

int oq_rock_cluster(const oq_rock_records *r, const oq_rock_params *p, oq_rock_result **out,
                    oq_error *err)
{
    *out = NULL;
    if (!(p->theta >= 0 && p->theta < 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "theta must be in [0, 1), got %g",
                            p->theta);
    if (p->k < 1) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "k must be >= 1");
    if (r->n == 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no records");
    if (r->n >= UINT32_MAX / 2) return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0, "too many records");
    int rc = 0;
    size_t n = r->n;
    size_t m = p->sample && p->sample < n ? p->sample : n;
    oq_rock_result *res = calloc(1, sizeof *res);
    uint32_t *pts = malloc(n * sizeof *pts);                     // (m) clustered points
    uint32_t *cl = malloc(n * sizeof *cl);                       // (m) root cluster of each
    uint32_t *label_of = malloc((2 * m + 1) * sizeof *label_of); // root id -> final label
    csort *cs = malloc((m ? m : 1) * sizeof *cs);
    uint8_t *in_sample = calloc(n, 1);
    gsl_rng *rng = NULL;
    if (!res || !pts || !cl || !label_of || !cs || !in_sample) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    res->n = n;
    res->cluster = calloc(n, sizeof *res->cluster);
    if (!res->cluster) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        pts[i] = (uint32_t)i;
    if (m < n) { /* uniform random sample, kept in input order */
        rng = oq_rng_new(p->seed, 0);
        if (!rng) {
            rc = OQ_ENOMEM;
            goto cleanup;
        }
        uint32_t *all = malloc(n * sizeof *all);
        if (!all) {
            rc = OQ_ENOMEM;
            goto cleanup;
        }
        memcpy(all, pts, n * sizeof *all);
        gsl_ran_choose(rng, pts, m, all, n, sizeof *pts);
        free(all);
    }
    for (size_t i = 0; i < m; i++)
        in_sample[pts[i]] = 1;
    if ((rc = cluster_points(r, p, pts, m, cl, res))) goto cleanup;
    /* number clusters by decreasing size */
    for (size_t c = 0; c < 2 * m + 1; c++)
        label_of[c] = UINT32_MAX;
    size_t nc = 0;
    for (size_t i = 0; i < m; i++) {
        if (cl[i] == UINT32_MAX) continue;
        if (label_of[cl[i]] == UINT32_MAX) {
            label_of[cl[i]] = (uint32_t)nc;
            cs[nc++] = (csort){0, (uint32_t)i, cl[i]};
        }
        cs[label_of[cl[i]]].size++;
    }
    qsort(cs, nc, sizeof *cs, cmp_csort);
    /* links ran out with more than k clusters: keep the k largest, the rest
     * (clusters no other cluster links to) are outliers */
    if (nc > p->k) {
        for (size_t c = p->k; c < nc; c++)
            res->unlinked += cs[c].size;
        for (size_t c = p->k; c < nc; c++)
            label_of[cs[c].root] = 0;
        nc = p->k;
    }
    for (size_t c = 0; c < nc; c++)
        label_of[cs[c].root] = (uint32_t)(c + 1);
    for (size_t i = 0; i < m; i++)
        res->cluster[pts[i]] = cl[i] == UINT32_MAX ? 0 : label_of[cl[i]];
    res->n_clusters = nc;
    /* labelling of the points outside the sample: max N_i / (n_i + 1)^f */
    if (m < n) {
        double f = (1.0 - p->theta) / (1.0 + p->theta);
        size_t *N = malloc((nc + 1) * sizeof *N);
        if (!N) {
            rc = OQ_ENOMEM;
            goto cleanup;
        }
        for (size_t q = 0; q < n; q++) {
            if (in_sample[q]) continue;
            memset(N, 0, (nc + 1) * sizeof *N);
            for (size_t i = 0; i < m; i++) {
                uint32_t c = res->cluster[pts[i]];
                if (c && sim(r, p->pairwise_missing, q, pts[i]) >= p->theta) N[c]++;
            }
            double best = 0;
            uint32_t bc = 0;
            for (size_t c = 1; c <= nc; c++) {
                double s = (double)N[c] / pow((double)cs[c - 1].size + 1.0, f);
                if (N[c] && s > best) best = s, bc = (uint32_t)c;
            }
            res->cluster[q] = bc;
        }
        free(N);
    }
    res->size = calloc(nc + 1, sizeof *res->size);
    if (!res->size) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    for (size_t i = 0; i < n; i++)
        res->size[res->cluster[i]]++;
cleanup:
    free(pts);
    free(cl);
    free(label_of);
    free(cs);
    free(in_sample);
    if (rng) gsl_rng_free(rng);
    if (rc) {
        oq_rock_result_free(res);
        return oq_error_set(err, rc, NULL, 0, 0, "out of memory in ROCK (%zu points)", m);
    }
    *out = res;
    return 0;
}

int oq_rock_write_csv(const oq_rock_result *res, const char *path, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    fputs("row,cluster\n", af.fp);
    for (size_t i = 0; i < res->n; i++)
        fprintf(af.fp, "%zu,%u\n", i + 1, res->cluster[i]);
    return oq_afile_commit(&af, err);
}

void oq_rock_print_table(const oq_rock_result *res, const oq_rock_records *r, FILE *fp)
{
    uint32_t nl = r->label ? r->labels.n : 0;
    size_t *t = calloc((res->n_clusters + 1) * (nl ? nl : 1), sizeof *t); // (clusters + 1, labels)
    if (!t) return;
    for (size_t i = 0; i < res->n && nl; i++)
        t[res->cluster[i] * nl + r->label[i]]++;
    fprintf(fp, "cluster,size");
    for (uint32_t l = 0; l < nl; l++) {
        fputc(',', fp);
        oq_csv_write_field(fp, r->labels.names[l]);
    }
    fputc('\n', fp);
    for (size_t c = 1; c <= res->n_clusters + 1; c++) {
        size_t cc = c % (res->n_clusters + 1); /* outliers (0) last */
        if (cc == 0 && res->size[0] == 0) continue;
        if (cc == 0)
            fprintf(fp, "outliers,%zu", res->size[0]);
        else
            fprintf(fp, "%zu,%zu", cc, res->size[cc]);
        for (uint32_t l = 0; l < nl; l++)
            fprintf(fp, ",%zu", t[cc * nl + l]);
        fputc('\n', fp);
    }
    free(t);
}
