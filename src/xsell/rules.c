/* rules.c - baskets, FP-growth frequent itemsets, positive and negative
 * association rules. Conventions and formulas: include/offerq/xsell/rules.h. */
#include "offerq/xsell/rules.h"
#include "offerq/core/csv.h"
#include "offerq/core/io.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- baskets ------------------------------------------------------------------- */

oq_baskets *oq_baskets_new(void)
{
    oq_baskets *b = calloc(1, sizeof *b);
    if (!b) return NULL;
    b->off = calloc(1, sizeof *b->off);
    if (!b->off) {
        free(b);
        return NULL;
    }
    b->cap_n = 0;
    return b;
}

void oq_baskets_free(oq_baskets *b)
{
    if (!b) return;
    free(b->off);
    free(b->item);
    oq_dict_clear(&b->items);
    free(b);
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Room for one more basket of up to k items. */
static int baskets_reserve(oq_baskets *b, size_t k)
{
    if (b->n + 2 > b->cap_n + 1) {
        size_t cap = b->cap_n ? b->cap_n * 2 : 1024;
        uint64_t *o = realloc(b->off, (cap + 1) * sizeof *o);
        if (!o) return OQ_ENOMEM;
        b->off = o;
        b->cap_n = cap;
    }
    if (b->nnz + k > b->cap_nnz) {
        size_t cap = b->cap_nnz ? b->cap_nnz * 2 : 4096;
        while (cap < b->nnz + k)
            cap *= 2;
        uint32_t *it = realloc(b->item, cap * sizeof *it);
        if (!it) return OQ_ENOMEM;
        b->item = it;
        b->cap_nnz = cap;
    }
    return 0;
}

/* Sort and de-duplicate the basket being appended at item[nnz..nnz+k). */
static void baskets_close(oq_baskets *b, size_t k)
{
    if (!k) {
        b->off[++b->n] = b->nnz;
        return;
    }
    uint32_t *s = b->item + b->nnz;
    qsort(s, k, sizeof *s, cmp_u32);
    size_t m = 0;
    for (size_t i = 0; i < k; i++)
        if (m == 0 || s[i] != s[m - 1]) s[m++] = s[i];
    b->nnz += m;
    b->off[++b->n] = b->nnz;
}

int oq_baskets_add(oq_baskets *b, const uint32_t *ids, size_t k, oq_error *err)
{
    for (size_t i = 0; i < k; i++)
        if (ids[i] >= b->items.n)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "item id %u is not in the dictionary (%u items)", ids[i],
                                b->items.n);
    if (b->n >= OQ_MAX_BASKETS)
        return oq_error_set(err, OQ_ELIMIT, NULL, 0, 0,
                            "more than %u baskets (basket ids are 32-bit)", OQ_MAX_BASKETS);
    if (baskets_reserve(b, k)) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    if (k) memcpy(b->item + b->nnz, ids, k * sizeof *ids);
    baskets_close(b, k);
    return 0;
}

typedef struct read_ctx {
    oq_baskets *b;
    const char *name;
} read_ctx;

static int basket_row(void *vctx, char **fields, const size_t *lens, size_t nf, long line,
                      oq_error *err)
{
    read_ctx *c = vctx;
    oq_baskets *b = c->b;
    if (b->n >= OQ_MAX_BASKETS)
        return oq_error_set(err, OQ_ELIMIT, c->name, line, 0,
                            "more than %u baskets (basket ids are 32-bit)", OQ_MAX_BASKETS);
    if (baskets_reserve(b, nf))
        return oq_error_set(err, OQ_ENOMEM, c->name, line, 0, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nf; i++) {
        /* arules' read.transactions: trimws() each item, drop empty ones. */
        const char *s = fields[i];
        size_t len = lens[i];
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (!len) continue;
        uint32_t id;
        int rc = oq_dict_intern(&b->items, s, len, &id);
        if (rc == OQ_ELIMIT)
            return oq_error_set(err, OQ_ELIMIT, c->name, line, 0, "more than %d distinct items",
                                OQ_MAX_CATEGORIES);
        if (rc) return oq_error_set(err, OQ_ENOMEM, c->name, line, 0, "out of memory");
        b->item[b->nnz + k++] = id;
    }
    baskets_close(b, k);
    return 0;
}

static int baskets_read_any(const char *path, const char *data, size_t len, oq_baskets **out,
                            oq_error *err)
{
    *out = NULL;
    oq_baskets *b = oq_baskets_new();
    if (!b) return oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
    read_ctx c = {b, path};
    /* A last line without its newline is refused like every reader does: it
     * is what a file cut off while being written looks like. */
    oq_csv_opts o = {.delim = ',', .max_line = 16u << 20, .max_fields = 1u << 20};
    int rc = data ? oq_csv_read_mem(path, data, len, &o, basket_row, &c, err)
                  : oq_csv_read(path, &o, basket_row, &c, err);
    if (!rc && b->n == 0)
        rc = oq_error_set(err, OQ_EPARSE, path, 0, 0, "no baskets in the file (only blank lines)");
    if (rc) {
        oq_baskets_free(b);
        return rc;
    }
    *out = b;
    return 0;
}

int oq_baskets_read(const char *path, oq_baskets **out, oq_error *err)
{
    return baskets_read_any(path, NULL, 0, out, err);
}

int oq_baskets_read_mem(const char *name, const char *data, size_t len, oq_baskets **out,
                        oq_error *err)
{
    return baskets_read_any(name, data, len, out, err);
}

/* ---- itemsets and their hash index ------------------------------------------------ */

static uint64_t hash_ids(const uint32_t *ids, size_t k)
{
    uint64_t h = 1469598103934665603ull ^ k;
    for (size_t i = 0; ids && i < k; i++) { /* an empty set may have no storage */
        h ^= ids[i];
        h *= 1099511628211ull;
        h ^= h >> 29;
    }
    return h;
}

void oq_itemsets_free(oq_itemsets *s)
{
    if (!s) return;
    free(s->off);
    free(s->item);
    free(s->count);
    free(s->slots);
    free(s);
}

static int itemsets_push(oq_itemsets *s, const uint32_t *ids, size_t k, uint64_t count)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        uint64_t *o = realloc(s->off, (cap + 1) * sizeof *o);
        if (!o) return OQ_ENOMEM;
        s->off = o;
        uint64_t *c = realloc(s->count, cap * sizeof *c);
        if (!c) return OQ_ENOMEM;
        s->count = c;
        s->cap = cap;
    }
    size_t used = s->off[s->n];
    if (used + k > s->cap_items) {
        size_t cap = s->cap_items ? s->cap_items * 2 : 4096;
        while (cap < used + k)
            cap *= 2;
        uint32_t *it = realloc(s->item, cap * sizeof *it);
        if (!it) return OQ_ENOMEM;
        s->item = it;
        s->cap_items = cap;
    }
    if (k) {
        memcpy(s->item + used, ids, k * sizeof *ids);
        qsort(s->item + used, k, sizeof *ids, cmp_u32);
    }
    s->count[s->n] = count;
    s->off[++s->n] = used + k;
    return 0;
}

static int itemsets_index(oq_itemsets *s)
{
    size_t ns = 64;
    while (ns < s->n * 2 + 2)
        ns *= 2;
    free(s->slots);
    s->slots = calloc(ns, sizeof *s->slots);
    if (!s->slots) return OQ_ENOMEM;
    s->nslots = ns;
    for (size_t i = 0; i < s->n; i++) {
        size_t h = hash_ids(s->item + s->off[i], s->off[i + 1] - s->off[i]) & (ns - 1);
        while (s->slots[h])
            h = (h + 1) & (ns - 1);
        s->slots[h] = (uint32_t)(i + 1);
    }
    return 0;
}

int64_t oq_itemsets_count(const oq_itemsets *s, const uint32_t *ids, size_t k)
{
    if (!s->nslots) return -1;
    size_t h = hash_ids(ids, k) & (s->nslots - 1);
    while (s->slots[h]) {
        size_t i = s->slots[h] - 1;
        if (s->off[i + 1] - s->off[i] == k && !memcmp(s->item + s->off[i], ids, k * sizeof *ids))
            return (int64_t)s->count[i];
        h = (h + 1) & (s->nslots - 1);
    }
    return -1;
}

/* ---- FP-growth --------------------------------------------------------------------
 * Items are renamed to ranks 0..nr-1 by decreasing count (ties by id), so a
 * basket is inserted as an ascending rank sequence and every root-to-node
 * path of any (conditional) tree is ascending too. Conditional trees keep the
 * global ranks: the tree of ranks < r built from r's prefix paths. */

typedef struct fpnode {
    uint32_t rank;    /* item rank (unused for the root) */
    uint32_t parent;  /* node index; root = 0 */
    uint32_t child;   /* first child, 0 = none */
    uint32_t sibling; /* next sibling, 0 = none */
    uint32_t next;    /* next node of the same rank, 0 = none */
    uint64_t count;
} fpnode;

typedef struct fptree {
    fpnode *node; /* (n) node 0 is the root */
    size_t n, cap;
    uint32_t nr;     /* ranks 0..nr-1 may occur */
    uint32_t *head;  /* (nr) first node of each rank, 0 = none */
    uint64_t *cnt;   /* (nr) total count of each rank in the tree */
    uint32_t *slots; /* (nslots) child index: node + 1 keyed by (parent, rank), 0 = empty */
    size_t nslots;
} fptree;

static void fptree_free(fptree *t)
{
    free(t->slots);
    free(t->node);
    free(t->head);
    free(t->cnt);
}

static int fptree_init(fptree *t, uint32_t nr, size_t cap)
{
    memset(t, 0, sizeof *t);
    t->nr = nr;
    t->cap = cap < 16 ? 16 : cap;
    t->node = malloc(t->cap * sizeof *t->node);
    t->head = calloc(nr ? nr : 1, sizeof *t->head);
    t->cnt = calloc(nr ? nr : 1, sizeof *t->cnt);
    if (!t->node || !t->head || !t->cnt) {
        fptree_free(t);
        return OQ_ENOMEM;
    }
    memset(&t->node[0], 0, sizeof t->node[0]);
    t->n = 1;
    t->nslots = 64;
    while (t->nslots < 2 * t->cap)
        t->nslots *= 2;
    t->slots = calloc(t->nslots, sizeof *t->slots);
    if (!t->slots) {
        fptree_free(t);
        return OQ_ENOMEM;
    }
    return 0;
}

static size_t child_hash(uint32_t parent, uint32_t rank)
{
    uint64_t h = ((uint64_t)parent << 32 | rank) * 0x9E3779B97F4A7C15ull;
    return (size_t)(h >> 17);
}

/* Child of parent with this rank: a hash on (parent, rank) instead of the
 * sibling list, which a root with thousands of children makes quadratic. */
static uint32_t child_find(const fptree *t, uint32_t parent, uint32_t rank)
{
    size_t m = t->nslots - 1, h = child_hash(parent, rank) & m;
    while (t->slots[h]) {
        const fpnode *nd = &t->node[t->slots[h] - 1];
        if (nd->parent == parent && nd->rank == rank) return t->slots[h] - 1;
        h = (h + 1) & m;
    }
    return 0;
}

static int child_index_grow(fptree *t)
{
    size_t ns = t->nslots * 2;
    uint32_t *sl = calloc(ns, sizeof *sl);
    if (!sl) return OQ_ENOMEM;
    for (size_t i = 1; i < t->n; i++) {
        size_t h = child_hash(t->node[i].parent, t->node[i].rank) & (ns - 1);
        while (sl[h])
            h = (h + 1) & (ns - 1);
        sl[h] = (uint32_t)i + 1;
    }
    free(t->slots);
    t->slots = sl;
    t->nslots = ns;
    return 0;
}

/* Insert the ascending rank path p[0..k) with count c. */
static int fptree_insert(fptree *t, const uint32_t *p, size_t k, uint64_t c)
{
    uint32_t cur = 0;
    for (size_t i = 0; i < k; i++) {
        uint32_t r = p[i], ch = child_find(t, cur, r);
        if (!ch) {
            if (t->n == t->cap) {
                if (t->cap > UINT32_MAX / 4) return OQ_ELIMIT;
                size_t cap = t->cap * 2;
                fpnode *nn = realloc(t->node, cap * sizeof *nn);
                if (!nn) return OQ_ENOMEM;
                t->node = nn;
                t->cap = cap;
            }
            if (2 * (t->n + 1) > t->nslots && child_index_grow(t)) return OQ_ENOMEM;
            ch = (uint32_t)t->n++;
            fpnode *nd = &t->node[ch];
            nd->rank = r;
            nd->parent = cur;
            nd->child = 0;
            nd->sibling = t->node[cur].child;
            t->node[cur].child = ch;
            nd->next = t->head[r];
            t->head[r] = ch;
            nd->count = 0;
            size_t m = t->nslots - 1, h = child_hash(cur, r) & m;
            while (t->slots[h])
                h = (h + 1) & m;
            t->slots[h] = ch + 1;
        }
        t->node[ch].count += c;
        t->cnt[r] += c;
        cur = ch;
    }
    return 0;
}

typedef struct fpmine {
    uint64_t minc;
    int max_len;               /* <= 0: unlimited */
    const uint32_t *rank_item; /* (nr) item id of each rank */
    uint32_t *prefix;          /* (nr) current prefix, as item ids */
    uint32_t *path;            /* (nr) scratch path */
    oq_itemsets *out;
    size_t max_sets; /* 0: no bound */
    int capped;      /* set when max_sets stopped the mining */
} fpmine;

static int fp_mine(fpmine *m, const fptree *t, size_t plen)
{
    for (uint32_t r = t->nr; r-- > 0;) {
        if (t->cnt[r] < m->minc) continue;
        m->prefix[plen] = m->rank_item[r];
        if (m->max_sets && m->out->n >= m->max_sets) {
            m->capped = 1;
            return OQ_ELIMIT;
        }
        if (itemsets_push(m->out, m->prefix, plen + 1, t->cnt[r])) return OQ_ENOMEM;
        if (m->max_len > 0 && (int)plen + 1 >= m->max_len) continue;
        if (r == 0) continue;
        /* Conditional pattern base of r: counts of the ranks on its prefix paths. */
        uint64_t *ccnt = calloc(r, sizeof *ccnt);
        if (!ccnt) return OQ_ENOMEM;
        size_t total = 0;
        for (uint32_t nd = t->head[r]; nd; nd = t->node[nd].next) {
            uint64_t c = t->node[nd].count;
            for (uint32_t a = t->node[nd].parent; a; a = t->node[a].parent) {
                ccnt[t->node[a].rank] += c;
                total++;
            }
        }
        int any = 0;
        for (uint32_t q = 0; q < r && !any; q++)
            any = ccnt[q] >= m->minc;
        if (!any) {
            free(ccnt);
            continue;
        }
        fptree ct;
        if (fptree_init(&ct, r, total + 1)) {
            free(ccnt);
            return OQ_ENOMEM;
        }
        int rc = 0;
        for (uint32_t nd = t->head[r]; nd && !rc; nd = t->node[nd].next) {
            size_t k = 0;
            for (uint32_t a = t->node[nd].parent; a; a = t->node[a].parent)
                if (ccnt[t->node[a].rank] >= m->minc) m->path[k++] = t->node[a].rank;
            /* collected leaf to root: reverse to ascending ranks */
            for (size_t i = 0; i < k / 2; i++) {
                uint32_t x = m->path[i];
                m->path[i] = m->path[k - 1 - i];
                m->path[k - 1 - i] = x;
            }
            if (k) rc = fptree_insert(&ct, m->path, k, t->node[nd].count);
        }
        free(ccnt);
        if (!rc) rc = fp_mine(m, &ct, plen + 1);
        fptree_free(&ct);
        if (rc) return rc;
    }
    return 0;
}

typedef struct rank_sort {
    uint64_t count;
    uint32_t item;
} rank_sort;

static int cmp_rank(const void *a, const void *b)
{
    const rank_sort *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    return (x->item > y->item) - (x->item < y->item);
}

static uint64_t min_count(double min_support, size_t n)
{
    double c = ceil(min_support * (double)n - 1e-9);
    return c < 1 ? 1 : (uint64_t)c;
}

int oq_itemsets_mine(const oq_baskets *b, double min_support, int max_len, oq_itemsets **out,
                     oq_error *err)
{
    return oq_itemsets_mine_max(b, min_support, max_len, OQ_RULES_MAX_ITEMSETS, out, err);
}

int oq_itemsets_mine_max(const oq_baskets *b, double min_support, int max_len, size_t max_itemsets,
                         oq_itemsets **out, oq_error *err)
{
    *out = NULL;
    if (!(min_support > 0 && min_support <= 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "min_support must be in (0, 1], got %g",
                            min_support);
    int rc = 0;
    uint32_t ni = b->items.n;
    uint64_t minc = min_count(min_support, b->n);
    uint64_t *icnt = calloc(ni ? ni : 1, sizeof *icnt);          // (ni)
    rank_sort *rs = malloc((ni ? ni : 1) * sizeof *rs);          // (ni)
    uint32_t *rank_of = malloc((ni ? ni : 1) * sizeof *rank_of); // (ni), UINT32_MAX = infrequent
    uint32_t *rank_item = malloc((ni ? ni : 1) * sizeof *rank_item);
    uint32_t *prefix = malloc((ni + 1) * sizeof *prefix);
    uint32_t *path = malloc((ni + 1) * sizeof *path);
    oq_itemsets *s = calloc(1, sizeof *s);
    fptree t = {0};
    int capped = 0;
    if (!icnt || !rs || !rank_of || !rank_item || !prefix || !path || !s) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    s->off = calloc(1, sizeof *s->off);
    if (!s->off) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    s->n_baskets = b->n;
    for (size_t i = 0; i < b->nnz; i++)
        icnt[b->item[i]]++;
    uint32_t nr = 0;
    for (uint32_t i = 0; i < ni; i++)
        if (icnt[i] >= minc) rs[nr++] = (rank_sort){icnt[i], i};
    qsort(rs, nr, sizeof *rs, cmp_rank);
    for (uint32_t i = 0; i < ni; i++)
        rank_of[i] = UINT32_MAX;
    for (uint32_t r = 0; r < nr; r++) {
        rank_of[rs[r].item] = r;
        rank_item[r] = rs[r].item;
    }
    if ((rc = fptree_init(&t, nr, b->nnz / 2 + 16))) goto cleanup;
    for (size_t k = 0; k < b->n; k++) {
        size_t m = 0;
        for (uint64_t j = b->off[k]; j < b->off[k + 1]; j++)
            if (rank_of[b->item[j]] != UINT32_MAX) path[m++] = rank_of[b->item[j]];
        if (!m) continue;
        qsort(path, m, sizeof *path, cmp_u32);
        if ((rc = fptree_insert(&t, path, m, 1))) goto cleanup;
    }
    fpmine mctx = {minc, max_len, rank_item, prefix, path, s, max_itemsets, 0};
    if ((rc = fp_mine(&mctx, &t, 0))) {
        capped = mctx.capped;
        goto cleanup;
    }
    if ((rc = itemsets_index(s))) goto cleanup;
cleanup:
    fptree_free(&t);
    free(icnt);
    free(rs);
    free(rank_of);
    free(rank_item);
    free(prefix);
    free(path);
    if (rc) {
        oq_itemsets_free(s);
        if (capped)
            return oq_error_set(err, rc, NULL, 0, 0,
                                "more than %zu frequent itemsets at support %g (max length %d): "
                                "raise the minimum support (--min-support), lower the longest "
                                "itemset (--max-len) or raise the bound (--max-itemsets, "
                                "0: none; about 0.1 KB an itemset plus its rules)",
                                max_itemsets, min_support, max_len);
        return oq_error_set(err, rc, NULL, 0, 0, "%s while mining frequent itemsets",
                            rc == OQ_ELIMIT ? "FP-tree too large" : "out of memory");
    }
    *out = s;
    return 0;
}

/* Merge sort with a context argument (qsort_r is a GNU extension). Stable.
 * tmp holds n * sz bytes. */
static void msort_ctx(char *base, char *tmp, size_t n, size_t sz,
                      int (*cmp)(const void *, const void *, void *), void *ctx)
{
    if (n < 2) return;
    size_t h = n / 2;
    msort_ctx(base, tmp, h, sz, cmp, ctx);
    msort_ctx(base + h * sz, tmp, n - h, sz, cmp, ctx);
    if (cmp(base + (h - 1) * sz, base + h * sz, ctx) <= 0) return;
    size_t i = 0, j = h, k = 0;
    while (i < h && j < n) {
        if (cmp(base + j * sz, base + i * sz, ctx) < 0)
            memcpy(tmp + k++ * sz, base + j++ * sz, sz);
        else
            memcpy(tmp + k++ * sz, base + i++ * sz, sz);
    }
    while (i < h)
        memcpy(tmp + k++ * sz, base + i++ * sz, sz);
    while (j < n)
        memcpy(tmp + k++ * sz, base + j++ * sz, sz);
    memcpy(base, tmp, n * sz);
}

static int cmp_name_idx(const void *a, const void *b, void *names)
{
    char *const *nm = names;
    return strcmp(nm[*(const uint32_t *)a], nm[*(const uint32_t *)b]);
}

/* ---- closed and maximal itemsets --------------------------------------------------------
 * A superset of Z in s with the same count exists iff a one-item extension
 * Z u {i} with that count does (counts only fall as sets grow), and a
 * frequent superset exists iff a frequent one-item extension does (its
 * subsets are frequent). So each set is checked against its extensions by
 * the frequent items, with the hash index. */

int oq_itemsets_kind_parse(const char *name)
{
    if (!strcmp(name, "frequent")) return OQ_ITEMSETS_FREQUENT;
    if (!strcmp(name, "closed")) return OQ_ITEMSETS_CLOSED;
    if (!strcmp(name, "maximal")) return OQ_ITEMSETS_MAXIMAL;
    return -1;
}

int oq_itemsets_select(const oq_itemsets *s, int kind, int min_len, oq_itemsets **out,
                       oq_error *err)
{
    *out = NULL;
    if (kind < OQ_ITEMSETS_FREQUENT || kind > OQ_ITEMSETS_MAXIMAL)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "unknown itemset kind %d", kind);
    int rc = 0;
    size_t maxk = 0, nsingle = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t k = s->off[i + 1] - s->off[i];
        if (k > maxk) maxk = k;
        nsingle += k == 1;
    }
    uint32_t *single = malloc((nsingle ? nsingle : 1) * sizeof *single); // frequent items
    uint32_t *ext = malloc((maxk + 1) * sizeof *ext);                    // Z u {i}, ascending
    oq_itemsets *o = calloc(1, sizeof *o);
    if (!single || !ext || !o || !(o->off = calloc(1, sizeof *o->off))) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    o->n_baskets = s->n_baskets;
    nsingle = 0;
    for (size_t i = 0; i < s->n; i++)
        if (s->off[i + 1] - s->off[i] == 1) single[nsingle++] = s->item[s->off[i]];
    for (size_t z = 0; z < s->n; z++) {
        const uint32_t *Z = s->item + s->off[z];
        size_t k = s->off[z + 1] - s->off[z];
        int keep = 1;
        for (size_t e = 0; e < nsingle && keep && kind != OQ_ITEMSETS_FREQUENT; e++) {
            uint32_t it = single[e];
            size_t m = 0, put = 0, in = 0;
            for (size_t i = 0; i < k; i++) {
                if (Z[i] == it) in = 1;
                if (!put && it < Z[i]) ext[m++] = it, put = 1;
                ext[m++] = Z[i];
            }
            if (in) continue;
            if (!put) ext[m++] = it;
            int64_t c = oq_itemsets_count(s, ext, m);
            if (c < 0) continue; /* not frequent (or beyond max_len) */
            keep = kind == OQ_ITEMSETS_CLOSED && (uint64_t)c != s->count[z];
        }
        if (keep && (int)k >= min_len && itemsets_push(o, Z, k, s->count[z])) {
            rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
            goto cleanup;
        }
    }
    if (itemsets_index(o)) rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
cleanup:
    free(single);
    free(ext);
    if (rc) {
        oq_itemsets_free(o);
        return rc;
    }
    *out = o;
    return 0;
}

/* names of ids[0..k) joined by " & " into *buf (grown as needed). */
static int join_names(const oq_dict *names, const uint32_t *ids, size_t k, char **buf, size_t *cap)
{
    size_t need = 1;
    for (size_t j = 0; j < k; j++)
        need += strlen(names->names[ids[j]]) + 3;
    if (need == 0 || need > SIZE_MAX / 2) return OQ_ENOMEM; /* wrapped around */
    if (need > *cap || !*buf) {
        char *nb = realloc(*buf, need);
        if (!nb) return OQ_ENOMEM;
        *buf = nb;
        *cap = need;
    }
    size_t len = 0;
    (*buf)[0] = 0;
    for (size_t j = 0; j < k; j++)
        len += (size_t)sprintf(*buf + len, "%s%s", j ? " & " : "", names->names[ids[j]]);
    return 0;
}

typedef struct set_sort_ctx {
    const oq_itemsets *s;
    const uint32_t *name_rank; /* (ni) */
    uint32_t *names_sorted;    /* items of all sets, each set in name order */
} set_sort_ctx;

static int cmp_set(const void *va, const void *vb, void *vc)
{
    const set_sort_ctx *c = vc;
    size_t a = *(const size_t *)va, b = *(const size_t *)vb;
    const oq_itemsets *s = c->s;
    if (s->count[a] != s->count[b]) return s->count[a] > s->count[b] ? -1 : 1;
    size_t ka = s->off[a + 1] - s->off[a], kb = s->off[b + 1] - s->off[b];
    if (ka != kb) return ka < kb ? -1 : 1;
    for (size_t i = 0; i < ka; i++) {
        uint32_t p = c->name_rank[c->names_sorted[s->off[a] + i]];
        uint32_t q = c->name_rank[c->names_sorted[s->off[b] + i]];
        if (p != q) return p < q ? -1 : 1;
    }
    return 0;
}

int oq_itemsets_write_csv(const oq_itemsets *s, const oq_dict *names, const char *path,
                          oq_error *err)
{
    int rc = 0;
    uint32_t ni = names->n;
    size_t nit = s->off[s->n];
    size_t tmpn = s->n > ni ? s->n : ni;
    uint32_t *order = malloc((ni ? ni : 1) * sizeof *order);
    uint32_t *rank = malloc((ni ? ni : 1) * sizeof *rank);
    uint32_t *byname = malloc((nit ? nit : 1) * sizeof *byname);
    size_t *idx = malloc((s->n ? s->n : 1) * sizeof *idx);
    size_t tmp_bytes = (tmpn ? tmpn : 1) * sizeof(size_t); /* msort_ctx's scratch */
    char *tmp = malloc(tmp_bytes);
    size_t cap = 0;
    char *buf = NULL;
    oq_afile af;
    int open = 0;
    if (!order || !rank || !byname || !idx || !tmp) {
        rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
        goto cleanup;
    }
    for (uint32_t i = 0; i < ni; i++)
        order[i] = i;
    msort_ctx((char *)order, tmp, ni, sizeof *order, cmp_name_idx, names->names);
    for (uint32_t i = 0; i < ni; i++)
        rank[order[i]] = i;
    if (nit) memcpy(byname, s->item, nit * sizeof *byname);
    for (size_t z = 0; z < s->n; z++) { /* each set's items in name order (insertion sort) */
        uint32_t *x = byname + s->off[z];
        size_t k = s->off[z + 1] - s->off[z];
        for (size_t a = 1; a < k; a++) {
            uint32_t v = x[a];
            size_t j = a;
            for (; j > 0 && rank[x[j - 1]] > rank[v]; j--)
                x[j] = x[j - 1];
            x[j] = v;
        }
    }
    for (size_t i = 0; i < s->n; i++)
        idx[i] = i;
    set_sort_ctx sc = {s, rank, byname};
    msort_ctx((char *)idx, tmp, s->n, sizeof *idx, cmp_set, &sc);
    if ((rc = oq_afile_open(&af, path, err))) goto cleanup;
    open = 1;
    fputs("items,size,support,count\n", af.fp);
    for (size_t i = 0; i < s->n; i++) {
        size_t z = idx[i], k = s->off[z + 1] - s->off[z];
        if ((rc = join_names(names, byname + s->off[z], k, &buf, &cap))) {
            rc = oq_error_set(err, rc, path, 0, 0, "out of memory");
            goto cleanup;
        }
        oq_csv_write_field(af.fp, buf);
        fprintf(af.fp, ",%zu,%.10g,%llu\n", k, (double)s->count[z] / (double)s->n_baskets,
                (unsigned long long)s->count[z]);
    }
    open = 0;
    rc = oq_afile_commit(&af, err);
cleanup:
    if (open) oq_afile_abort(&af);
    free(order);
    free(rank);
    free(byname);
    free(idx);
    free(tmp);
    free(buf);
    return rc;
}

/* ---- rules ---------------------------------------------------------------------------- */

void oq_rules_params_default(oq_rules_params *p)
{
    p->min_support = 0.1;
    p->min_confidence = 0.8;
    p->min_lift = 0;
    p->max_len = 10;
    p->negative = 0;
    p->neg_max_lift = 0.5;
    p->max_itemsets = OQ_RULES_MAX_ITEMSETS;
    p->min_len = 1;
    p->sort = OQ_RULES_SORT_LIFT;
    p->lhs_items = NULL;
    p->n_lhs_items = 0;
    p->rhs_items = NULL;
    p->n_rhs_items = 0;
    p->prune_redundant = 0;
}

static const char *const sort_names[] = {"lift",     "support",    "confidence", "coverage",
                                         "leverage", "conviction", "chisq"};

int oq_rules_sort_parse(const char *name)
{
    for (int i = 0; i < (int)(sizeof sort_names / sizeof *sort_names); i++)
        if (!strcmp(name, sort_names[i])) return i;
    return -1;
}

void oq_ruleset_free(oq_ruleset *r)
{
    if (!r) return;
    free(r->rule);
    free(r->items);
    free(r);
}

/* The measures of a rule (rules.h) from its 2x2 table: n baskets, cx =
 * c(X), cy = c(rhs), cxy = c(X u rhs). For X => not y the caller passes
 * cy = n - c(y) and cxy = c(X) - c(X u y). */
static void rule_measures(oq_rule *q, uint64_t n, uint64_t cx, uint64_t cy, uint64_t cxy)
{
    double dn = (double)n;
    /* n c(X u y) - c(X) c(y) = ad - bc of the table; exact in long double
     * (64-bit mantissa) for counts below 2^32 */
    long double d = (long double)n * cxy - (long double)cx * cy;
    q->coverage = (double)cx / dn;
    q->leverage = (double)(d / ((long double)n * n));
    q->conviction =
        cxy == cx ? INFINITY : (double)cx * (double)(n - cy) / (dn * (double)(cx - cxy));
    long double den = (long double)cx * (n - cx) * (long double)cy * (n - cy);
    q->chisq = den > 0 ? (double)(n * d * d / den) : 0.0;
}

static int ruleset_push(oq_ruleset *r, const oq_rule *q, const uint32_t *lhs, size_t k)
{
    if (r->n == r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 1024;
        oq_rule *nr = realloc(r->rule, cap * sizeof *nr);
        if (!nr) return OQ_ENOMEM;
        r->rule = nr;
        r->cap = cap;
    }
    if (r->n_items + k > r->cap_items) {
        size_t cap = r->cap_items ? r->cap_items * 2 : 4096;
        while (cap < r->n_items + k)
            cap *= 2;
        uint32_t *it = realloc(r->items, cap * sizeof *it);
        if (!it) return OQ_ENOMEM;
        r->items = it;
        r->cap_items = cap;
    }
    memcpy(r->items + r->n_items, lhs, k * sizeof *lhs);
    r->rule[r->n] = *q;
    r->rule[r->n].lhs_len = (uint32_t)k;
    r->rule[r->n].lhs_off = r->n_items;
    r->n++;
    r->n_items += k;
    if (q->type == OQ_RULE_POSITIVE)
        r->n_positive++;
    else
        r->n_negative++;
    return 0;
}

/* Tolerance for threshold comparisons of ratios (confidence 5/10 >= 0.5). */
#define RATIO_EPS 1e-12

static int positive_rules(const oq_itemsets *s, const oq_rules_params *p, const uint64_t *icnt,
                          size_t n, oq_ruleset *r, uint32_t *lhs)
{
    for (size_t z = 0; z < s->n; z++) {
        size_t k = s->off[z + 1] - s->off[z];
        if (k < 2) continue;
        const uint32_t *Z = s->item + s->off[z];
        for (size_t y = 0; y < k; y++) {
            size_t m = 0;
            for (size_t i = 0; i < k; i++)
                if (i != y) lhs[m++] = Z[i];
            int64_t cx = oq_itemsets_count(s, lhs, m);
            if (cx <= 0) return OQ_EINVAL; /* a subset of a frequent set is frequent */
            double conf = (double)s->count[z] / (double)cx;
            if (conf < p->min_confidence - RATIO_EPS) continue;
            double lift = conf / ((double)icnt[Z[y]] / (double)n);
            if (lift < p->min_lift - RATIO_EPS) continue;
            oq_rule q = {.type = OQ_RULE_POSITIVE,
                         .rhs = Z[y],
                         .support = (double)s->count[z] / (double)n,
                         .confidence = conf,
                         .lift = lift,
                         .count = s->count[z]};
            rule_measures(&q, n, (uint64_t)cx, icnt[Z[y]], s->count[z]);
            int rc = ruleset_push(r, &q, lhs, m);
            if (rc) return rc;
        }
    }
    return 0;
}

/* Negative rules X => not y (rules.h). The co-occurrence counts of X with
 * every item are gathered in one pass over the baskets that contain X; those
 * baskets come from intersecting the items' basket lists (vertical index). */
static int negative_rules(const oq_baskets *b, const oq_itemsets *s, const oq_rules_params *p,
                          const uint64_t *icnt, oq_ruleset *r)
{
    int rc = 0;
    size_t n = b->n;
    uint32_t ni = b->items.n;
    uint64_t minc = min_count(p->min_support, n);
    uint64_t *voff = calloc((size_t)ni + 1, sizeof *voff);         // (ni + 1)
    uint32_t *vtid = malloc((b->nnz ? b->nnz : 1) * sizeof *vtid); // (nnz) basket ids per item
    uint32_t *tid = malloc((n ? n : 1) * sizeof *tid);             // (n) baskets containing X
    uint32_t *tmp = malloc((n ? n : 1) * sizeof *tmp);
    uint64_t *co = calloc(ni ? ni : 1, sizeof *co); // (ni) count(X u {y})
    uint32_t *cand = malloc((ni ? ni : 1) * sizeof *cand);
    if (!voff || !vtid || !tid || !tmp || !co || !cand) {
        rc = OQ_ENOMEM;
        goto cleanup;
    }
    if (n > UINT32_MAX) {
        rc = OQ_ELIMIT;
        goto cleanup;
    }
    for (size_t j = 0; j < b->nnz; j++)
        voff[b->item[j] + 1]++;
    for (uint32_t i = 0; i < ni; i++)
        voff[i + 1] += voff[i];
    {
        uint64_t *fill = calloc(ni ? ni : 1, sizeof *fill);
        if (!fill) {
            rc = OQ_ENOMEM;
            goto cleanup;
        }
        for (size_t k = 0; k < n; k++)
            for (uint64_t j = b->off[k]; j < b->off[k + 1]; j++) {
                uint32_t it = b->item[j];
                vtid[voff[it] + fill[it]++] = (uint32_t)k;
            }
        free(fill);
    }
    double dn = (double)n;
    for (size_t x = 0; x < s->n; x++) {
        size_t k = s->off[x + 1] - s->off[x];
        if (p->max_len > 0 && (int)k + 1 > p->max_len) continue;
        const uint32_t *X = s->item + s->off[x];
        double sx = (double)s->count[x] / dn;
        /* candidates y: frequent, not in X, s(X) s(y) >= min_support */
        size_t nc = 0;
        for (uint32_t y = 0; y < ni; y++) {
            if (icnt[y] < minc) continue;
            if (sx * ((double)icnt[y] / dn) < p->min_support - RATIO_EPS) continue;
            int inx = 0;
            for (size_t i = 0; i < k && !inx; i++)
                inx = X[i] == y;
            if (!inx) cand[nc++] = y;
        }
        if (!nc) continue;
        /* baskets containing X: intersect the basket lists */
        size_t nt = voff[X[0] + 1] - voff[X[0]];
        memcpy(tid, vtid + voff[X[0]], nt * sizeof *tid);
        for (size_t i = 1; i < k; i++) {
            const uint32_t *l = vtid + voff[X[i]];
            size_t nl = voff[X[i] + 1] - voff[X[i]], a = 0, c = 0, m = 0;
            while (a < nt && c < nl) {
                if (tid[a] < l[c])
                    a++;
                else if (tid[a] > l[c])
                    c++;
                else {
                    tmp[m++] = tid[a];
                    a++, c++;
                }
            }
            memcpy(tid, tmp, m * sizeof *tid);
            nt = m;
        }
        if (nt != s->count[x]) {
            rc = OQ_EINVAL; /* internal inconsistency */
            goto cleanup;
        }
        for (size_t t = 0; t < nt; t++)
            for (uint64_t j = b->off[tid[t]]; j < b->off[tid[t] + 1]; j++)
                co[b->item[j]]++;
        for (size_t c = 0; c < nc && !rc; c++) {
            uint32_t y = cand[c];
            double sy = (double)icnt[y] / dn;
            double conf_pos = (double)co[y] / (double)nt;
            if (conf_pos / sy > p->neg_max_lift + RATIO_EPS) continue;
            uint64_t cneg = nt - co[y];
            if (cneg < minc) continue;
            double conf = 1.0 - conf_pos; /* conf(A => not B) = 1 - conf(A => B) */
            if (conf < p->min_confidence - RATIO_EPS) continue;
            double lift = conf / (1.0 - sy);
            if (lift < p->min_lift - RATIO_EPS) continue;
            /* s(A u not B) = s(A) - s(A u B) */
            oq_rule q = {.type = OQ_RULE_NEGATIVE,
                         .rhs = y,
                         .support = (double)cneg / dn,
                         .confidence = conf,
                         .lift = lift,
                         .count = cneg};
            rule_measures(&q, n, nt, n - icnt[y], cneg);
            rc = ruleset_push(r, &q, X, k);
        }
        for (size_t t = 0; t < nt; t++)
            for (uint64_t j = b->off[tid[t]]; j < b->off[tid[t] + 1]; j++)
                co[b->item[j]] = 0;
        if (rc) goto cleanup;
    }
cleanup:
    free(voff);
    free(vtid);
    free(tid);
    free(tmp);
    free(co);
    free(cand);
    return rc;
}

/* Sorting needs the item names: compare lhs sets by the name order of their items. */
typedef struct sort_ctx {
    const oq_ruleset *r;
    const uint32_t *name_rank; /* (ni) position of each item in name order */
    int sort;                  /* OQ_RULES_SORT_* */
} sort_ctx;

static double sort_key(const oq_rule *q, int sort)
{
    switch (sort) {
    case OQ_RULES_SORT_SUPPORT:
        return q->support;
    case OQ_RULES_SORT_CONFIDENCE:
        return q->confidence;
    case OQ_RULES_SORT_COVERAGE:
        return q->coverage;
    case OQ_RULES_SORT_LEVERAGE:
        return q->leverage;
    case OQ_RULES_SORT_CONVICTION:
        return q->conviction;
    case OQ_RULES_SORT_CHISQ:
        return q->chisq;
    default:
        return q->lift;
    }
}

static int cmp_lhs(const sort_ctx *c, const oq_rule *a, const oq_rule *b)
{
    const uint32_t *x = c->r->items + a->lhs_off, *y = c->r->items + b->lhs_off;
    if (a->lhs_len != b->lhs_len) return a->lhs_len < b->lhs_len ? -1 : 1;
    for (uint32_t i = 0; i < a->lhs_len; i++) {
        uint32_t p = c->name_rank[x[i]], q = c->name_rank[y[i]];
        if (p != q) return p < q ? -1 : 1;
    }
    return 0;
}

static int near(double x, double y)
{
    /* infinite convictions: only Inf ties with Inf (the relative test would
     * call every finite value a tie with it) */
    if (isinf(x) || isinf(y)) return x == y;
    return fabs(x - y) <= 1e-12 * fmax(fabs(x), fabs(y));
}

static int cmp_rule(const void *va, const void *vb, void *vc)
{
    const oq_rule *a = va, *b = vb;
    const sort_ctx *c = vc;
    /* values equal up to rounding (5/6 computed two ways) count as ties */
    if (c->sort != OQ_RULES_SORT_LIFT) {
        double x = sort_key(a, c->sort), y = sort_key(b, c->sort);
        if (!near(x, y)) return x > y ? -1 : 1;
    }
    if (!near(a->lift, b->lift)) return a->lift > b->lift ? -1 : 1;
    if (!near(a->support, b->support)) return a->support > b->support ? -1 : 1;
    if (!near(a->confidence, b->confidence)) return a->confidence > b->confidence ? -1 : 1;
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    int l = cmp_lhs(c, a, b);
    if (l) return l;
    uint32_t p = c->name_rank[a->rhs], q = c->name_rank[b->rhs];
    return (p > q) - (p < q);
}

/* Within a rule's lhs, item ids ascending by name rank (for output and ties). */
static void sort_lhs_by_name(oq_ruleset *r, const uint32_t *name_rank)
{
    for (size_t i = 0; i < r->n; i++) {
        uint32_t *x = r->items + r->rule[i].lhs_off;
        uint32_t k = r->rule[i].lhs_len;
        for (uint32_t a = 1; a < k; a++) { /* insertion sort: lhs is short */
            uint32_t v = x[a];
            uint32_t j = a;
            while (j > 0 && name_rank[x[j - 1]] > name_rank[v]) {
                x[j] = x[j - 1];
                j--;
            }
            x[j] = v;
        }
    }
}

/* ---- redundancy and the filters ---------------------------------------------------
 * Redundancy (rules.h, arules' is.redundant) is judged among the generated
 * rules, before any other filter. That is exact: a more general rule X' => y
 * with confidence >= that of X => y passes every threshold X => y passes.
 * Positive: s(X' u y) >= s(X u y), lift = confidence / s(y) >= X => y's.
 * Negative: conf(X' => not y) >= conf(X => not y) means conf(X' => y) <=
 * conf(X => y), so lift(X' => y) <= neg_max_lift too; s(X') >= s(X), so
 * s(X') s(y) >= min_support and s(X' u not y) = s(X') conf(X' => not y) >=
 * s(X u not y). */

static int cmp_group(const void *va, const void *vb, void *vc)
{
    const oq_ruleset *r = vc;
    const oq_rule *a = &r->rule[*(const size_t *)va], *b = &r->rule[*(const size_t *)vb];
    if (a->type != b->type) return a->type < b->type ? -1 : 1;
    if (a->rhs != b->rhs) return a->rhs < b->rhs ? -1 : 1;
    return (a->lhs_len > b->lhs_len) - (a->lhs_len < b->lhs_len);
}

/* a[0..na) a subset of b[0..nb), both ascending. */
static int is_subset(const uint32_t *a, size_t na, const uint32_t *b, size_t nb)
{
    size_t j = 0;
    for (size_t i = 0; i < na; i++) {
        while (j < nb && b[j] < a[i])
            j++;
        if (j == nb || b[j] != a[i]) return 0;
        j++;
    }
    return 1;
}

/* count(X), from coverage = count(X) / n (exact: n < 2^32). */
static uint64_t lhs_count(const oq_rule *q, size_t n)
{
    return (uint64_t)llround(q->coverage * (double)n);
}

/* red[i] = 1 when rule i is redundant. Rules are compared within groups of
 * one type and rhs, the lhs still ascending by item id. confidence =
 * count / count(X) for both types, so confidences are compared exactly as
 * count_j count(X_i) >= count_i count(X_j). */
static int mark_redundant(const oq_ruleset *r, uint8_t *red)
{
    size_t n = r->n;
    size_t *idx = malloc((n ? n : 1) * sizeof *idx);
    size_t tmp_bytes = (n ? n : 1) * sizeof *idx; /* msort_ctx's scratch */
    char *tmp = malloc(tmp_bytes);
    if (!idx || !tmp) {
        free(idx);
        free(tmp);
        return OQ_ENOMEM;
    }
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    msort_ctx((char *)idx, tmp, n, sizeof *idx, cmp_group, (void *)r);
    for (size_t g0 = 0, g1; g0 < n; g0 = g1) {
        const oq_rule *first = &r->rule[idx[g0]];
        for (g1 = g0 + 1; g1 < n; g1++) {
            const oq_rule *q = &r->rule[idx[g1]];
            if (q->type != first->type || q->rhs != first->rhs) break;
        }
        for (size_t i = g0; i < g1; i++) {
            const oq_rule *a = &r->rule[idx[i]];
            uint64_t cxa = lhs_count(a, r->n_baskets);
            /* sorted by lhs length: the more general rules come first */
            for (size_t j = g0; j < i && !red[idx[i]]; j++) {
                const oq_rule *g = &r->rule[idx[j]];
                if (g->lhs_len >= a->lhs_len) break;
                if (g->count * cxa < a->count * lhs_count(g, r->n_baskets)) continue;
                if (is_subset(r->items + g->lhs_off, g->lhs_len, r->items + a->lhs_off, a->lhs_len))
                    red[idx[i]] = 1;
            }
        }
    }
    free(idx);
    free(tmp);
    return 0;
}

static int keep_rule(const oq_ruleset *r, const oq_rule *q, const oq_rules_params *p,
                     const uint8_t *lhs_ok, const uint8_t *rhs_ok)
{
    if ((int)q->lhs_len + 1 < p->min_len) return 0;
    if (rhs_ok && !rhs_ok[q->rhs]) return 0;
    if (lhs_ok)
        for (uint32_t j = 0; j < q->lhs_len; j++)
            if (!lhs_ok[r->items[q->lhs_off + j]]) return 0;
    return 1;
}

/* Drop redundant rules (when asked) and those the length and appearance
 * filters refuse; the lhs storage is left as it is. */
static int select_rules(oq_ruleset *r, const oq_rules_params *p, const uint8_t *lhs_ok,
                        const uint8_t *rhs_ok)
{
    uint8_t *red = calloc(r->n ? r->n : 1, 1);
    if (!red) return OQ_ENOMEM;
    if (p->prune_redundant && mark_redundant(r, red)) {
        free(red);
        return OQ_ENOMEM;
    }
    size_t m = 0;
    r->n_positive = r->n_negative = r->n_redundant = 0;
    for (size_t i = 0; i < r->n; i++) {
        if (!keep_rule(r, &r->rule[i], p, lhs_ok, rhs_ok)) continue;
        r->n_redundant += red[i];
        if (red[i]) continue;
        r->rule[m++] = r->rule[i];
        if (r->rule[i].type == OQ_RULE_POSITIVE)
            r->n_positive++;
        else
            r->n_negative++;
    }
    r->n = m;
    free(red);
    return 0;
}

/* A mask over the items (*out, NULL when names is NULL) of the named items. */
static int item_mask(const oq_baskets *b, const char *const *names, size_t k, const char *side,
                     uint8_t **out, oq_error *err)
{
    *out = NULL;
    if (!names) return 0;
    uint8_t *m = calloc(b->items.n ? b->items.n : 1, 1);
    if (!m) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    for (size_t i = 0; i < k; i++) {
        long id = oq_dict_find(&b->items, names[i]);
        if (id < 0) {
            free(m);
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "%s item '%s' is not an item of the baskets (names are "
                                "compared exactly, after trimming spaces)",
                                side, names[i]);
        }
        m[id] = 1;
    }
    *out = m;
    return 0;
}

int oq_rules_mine(const oq_baskets *b, const oq_rules_params *p, oq_ruleset **out, oq_error *err)
{
    *out = NULL;
    if (!(p->min_support > 0 && p->min_support <= 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "min_support must be in (0, 1], got %g",
                            p->min_support);
    if (!(p->min_confidence >= 0 && p->min_confidence <= 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "min_confidence must be in [0, 1], got %g",
                            p->min_confidence);
    if (!(p->min_lift >= 0) || !(p->neg_max_lift >= 0))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "lift thresholds must be >= 0");
    if (b->n == 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "no baskets");
    if (p->sort < 0 || p->sort > OQ_RULES_SORT_CHISQ)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "unknown sort %d", p->sort);
    int rc;
    uint8_t *lhs_ok = NULL, *rhs_ok = NULL;
    if ((rc = item_mask(b, p->lhs_items, p->n_lhs_items, "lhs", &lhs_ok, err))) return rc;
    if ((rc = item_mask(b, p->rhs_items, p->n_rhs_items, "rhs", &rhs_ok, err))) {
        free(lhs_ok);
        return rc;
    }
    uint32_t ni = b->items.n;
    oq_itemsets *s = NULL;
    oq_ruleset *r = calloc(1, sizeof *r);
    uint64_t *icnt = calloc(ni ? ni : 1, sizeof *icnt);
    uint32_t *lhs = malloc((ni + 1) * sizeof *lhs);
    uint32_t *order = malloc((ni ? ni : 1) * sizeof *order);
    uint32_t *name_rank = malloc((ni ? ni : 1) * sizeof *name_rank);
    if (!r || !icnt || !lhs || !order || !name_rank) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    r->n_baskets = b->n;
    if ((rc = oq_itemsets_mine_max(b, p->min_support, p->max_len, p->max_itemsets, &s, err)))
        goto cleanup;
    r->n_itemsets = s->n;
    for (size_t i = 0; i < b->nnz; i++)
        icnt[b->item[i]]++;
    if ((rc = positive_rules(s, p, icnt, b->n, r, lhs))) {
        rc =
            oq_error_set(err, rc, NULL, 0, 0, "%s",
                         rc == OQ_ENOMEM ? "out of memory" : "internal error: subset not frequent");
        goto cleanup;
    }
    if (p->negative && (rc = negative_rules(b, s, p, icnt, r))) {
        rc = oq_error_set(err, rc, NULL, 0, 0, "negative rules: %s", oq_strerror(rc));
        goto cleanup;
    }
    if ((rc = select_rules(r, p, lhs_ok, rhs_ok))) {
        rc = oq_error_set(err, rc, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    r->sort = p->sort;
    size_t tmpsz = (r->n > ni ? r->n : ni) * sizeof *r->rule + 1;
    char *tmp = malloc(tmpsz);
    if (!tmp) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        goto cleanup;
    }
    for (uint32_t i = 0; i < ni; i++)
        order[i] = i;
    msort_ctx((char *)order, tmp, ni, sizeof *order, cmp_name_idx, b->items.names);
    for (uint32_t i = 0; i < ni; i++)
        name_rank[order[i]] = i;
    sort_lhs_by_name(r, name_rank);
    sort_ctx sc = {r, name_rank, p->sort};
    msort_ctx((char *)r->rule, tmp, r->n, sizeof *r->rule, cmp_rule, &sc);
    free(tmp);
cleanup:
    oq_itemsets_free(s);
    free(icnt);
    free(lhs);
    free(order);
    free(name_rank);
    free(lhs_ok);
    free(rhs_ok);
    if (rc) {
        oq_ruleset_free(r);
        return rc;
    }
    *out = r;
    return 0;
}

int oq_rules_write_csv(const oq_ruleset *r, const oq_dict *names, const char *path, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    size_t cap = 256;
    char *buf = malloc(cap);
    if (!buf) {
        oq_afile_abort(&af);
        return oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
    }
    fputs("type,lhs,rhs,support,confidence,lift,count,coverage,leverage,conviction,chisq\n", af.fp);
    for (size_t i = 0; i < r->n; i++) {
        const oq_rule *q = &r->rule[i];
        size_t len = 0;
        buf[0] = 0;
        for (uint32_t j = 0; j < q->lhs_len; j++) {
            const char *nm = names->names[r->items[q->lhs_off + j]];
            size_t need = len + strlen(nm) + 4;
            if (need > cap) {
                while (cap < need)
                    cap *= 2;
                char *nb = realloc(buf, cap);
                if (!nb) {
                    free(buf);
                    oq_afile_abort(&af);
                    return oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
                }
                buf = nb;
            }
            len += (size_t)sprintf(buf + len, "%s%s", j ? " & " : "", nm);
        }
        fputs(q->type == OQ_RULE_POSITIVE ? "positive," : "negative,", af.fp);
        oq_csv_write_field(af.fp, buf);
        fputc(',', af.fp);
        oq_csv_write_field(af.fp, names->names[q->rhs]);
        fprintf(af.fp, ",%.10g,%.10g,%.10g,%llu,%.10g,%.10g,", q->support, q->confidence, q->lift,
                (unsigned long long)q->count, q->coverage, q->leverage);
        /* R prints an infinite conviction as Inf (and reads it back) */
        if (isinf(q->conviction))
            fputs("Inf", af.fp);
        else
            fprintf(af.fp, "%.10g", q->conviction);
        fprintf(af.fp, ",%.10g\n", q->chisq);
    }
    free(buf);
    return oq_afile_commit(&af, err);
}
