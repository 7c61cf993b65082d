/* qtable.c - the cross-selling lookup table Q(s, e, d): an open-addressing
 * hash of the (inventory, request) pairs seen in training, the answers for
 * any inventory (seen, the factored model, or the nearest seen state), and
 * the table file. What the table holds: include/offerq/xsell/crosssell.h. */
#include "xsell_int.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "util/rbuf.h"
#include "util/wbuf.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the hash ----------------------------------------------------------------- */

static void slabs_free(oq_xsell_qtable *t)
{
    free(t->keys);
    free(t->visits);
    free(t->cnt);
    free(t->q);
    free(t->g);
    t->keys = NULL;
    t->visits = NULL;
    t->cnt = NULL;
    t->q = NULL;
    t->g = NULL;
}

int xs_alloc(oq_xsell_qtable *t, size_t cap, int factored)
{
    size_t D = (size_t)t->D;
    t->keys = malloc(cap * sizeof *t->keys);
    t->visits = calloc(cap, sizeof *t->visits);
    t->cnt = calloc(cap * D, sizeof *t->cnt);
    if (factored)
        t->g = calloc(cap, sizeof *t->g);
    else
        t->q = calloc(cap * D, sizeof *t->q);
    if (!t->keys || !t->visits || !t->cnt || (factored ? !t->g : !t->q)) {
        slabs_free(t);
        return OQ_ENOMEM;
    }
    for (size_t i = 0; i < cap; i++)
        t->keys[i] = XS_EMPTY;
    t->cap = cap;
    return 0;
}

size_t xs_slot(const oq_xsell_qtable *t, uint64_t key)
{
    size_t h = (size_t)oq_mix64(key) & (t->cap - 1);
    while (t->keys[h] != key && t->keys[h] != XS_EMPTY)
        h = (h + 1) & (t->cap - 1);
    return h;
}

static int table_grow(oq_xsell_qtable *t)
{
    oq_xsell_qtable old = *t;
    int factored = t->g != NULL;
    if (xs_alloc(t, old.cap * 2, factored)) {
        t->keys = old.keys;
        t->visits = old.visits;
        t->cnt = old.cnt;
        t->q = old.q;
        t->g = old.g;
        t->cap = old.cap;
        return OQ_ENOMEM;
    }
    size_t D = (size_t)t->D;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] == XS_EMPTY) continue;
        size_t h = xs_slot(t, old.keys[i]);
        t->keys[h] = old.keys[i];
        t->visits[h] = old.visits[i];
        memcpy(t->cnt + h * D, old.cnt + i * D, D * sizeof *t->cnt);
        if (factored)
            t->g[h] = old.g[i];
        else
            memcpy(t->q + h * D, old.q + i * D, D * sizeof *t->q);
    }
    free(old.keys);
    free(old.visits);
    free(old.cnt);
    free(old.q);
    free(old.g);
    return 0;
}

static void index_free(oq_xsell_qtable *t)
{
    free(t->nn_inv);
    free(t->nn_slot);
    t->nn_inv = NULL;
    t->nn_slot = NULL;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int xs_index_build(oq_xsell_qtable *t)
{
    index_free(t);
    if (t->q == NULL || t->n == 0) return 0; /* factored, or nothing seen */
    int N = t->mdp.n_items;
    uint64_t *keys = malloc(t->n * sizeof *keys);
    t->nn_inv = malloc(t->n * (size_t)N * sizeof *t->nn_inv);
    t->nn_slot = malloc(t->n * sizeof *t->nn_slot);
    if (!keys || !t->nn_inv || !t->nn_slot) {
        free(keys);
        index_free(t);
        return OQ_ENOMEM;
    }
    /* keys sorted by (request, state): key = state * N + e, so sort on
     * e * 2^56 + state (states < 2^56, oq_xsell_mdp_check) */
    size_t k = 0;
    for (size_t h = 0; h < t->cap; h++)
        if (t->keys[h] != XS_EMPTY)
            keys[k++] = (t->keys[h] % (uint64_t)N) << 56 | t->keys[h] / (uint64_t)N;
    qsort(keys, k, sizeof *keys, cmp_u64);
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    memset(t->nn_off, 0, sizeof t->nn_off);
    for (size_t a = 0; a < k; a++) {
        int e = (int)(keys[a] >> 56);
        uint64_t s = keys[a] & ((1ull << 56) - 1);
        t->nn_off[e + 1] = a + 1;
        oq_xsell_state_decode(&t->mdp, s, inv);
        for (int i = 0; i < N; i++)
            t->nn_inv[a * (size_t)N + (size_t)i] = (uint16_t)inv[i];
        t->nn_slot[a] = xs_slot(t, s * (uint64_t)N + (uint64_t)e);
    }
    for (int e = 1; e <= N; e++) /* requests without entries start where the last ended */
        if (t->nn_off[e] < t->nn_off[e - 1]) t->nn_off[e] = t->nn_off[e - 1];
    free(keys);
    return 0;
}

size_t xs_upsert(oq_xsell_qtable *t, uint64_t key, int *created)
{
    size_t h = xs_slot(t, key);
    *created = 0;
    if (t->keys[h] == key) return h;
    *created = 1;
    if (t->nn_inv) index_free(t); /* the table changes: the index is stale */
    if (2 * (t->n + 1) > t->cap) {
        if (table_grow(t)) return (size_t)-1;
        h = xs_slot(t, key);
    }
    t->keys[h] = key;
    t->n++;
    return h;
}

/* ---- the table ---------------------------------------------------------------- */

int oq_xsell_qtable_new(const oq_xsell_mdp *m, oq_xsell_qtable **out, oq_error *err)
{
    *out = NULL;
    int rc = oq_xsell_mdp_check(m, err);
    if (rc) return rc;
    oq_xsell_qtable *t = calloc(1, sizeof *t);
    if (!t) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    t->mdp = *m;
    t->D = oq_xsell_n_decisions(m);
    t->method = -1;
    int N = m->n_items;
    for (int e = 0; e < N; e++)
        for (int j = 0; j < N; j++)
            t->allow[e * N + j] = (uint8_t)(j != e);
    if (xs_alloc(t, 1024, 0)) {
        free(t);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    }
    *out = t;
    return 0;
}

void oq_xsell_qtable_free(oq_xsell_qtable *t)
{
    if (!t) return;
    index_free(t);
    slabs_free(t);
    free(t->w);
    free(t);
}

const oq_xsell_mdp *oq_xsell_qtable_mdp(const oq_xsell_qtable *t)
{
    return &t->mdp;
}

int oq_xsell_qtable_method(const oq_xsell_qtable *t)
{
    return t->method;
}

size_t oq_xsell_qtable_size(const oq_xsell_qtable *t)
{
    return t->n;
}

long oq_xsell_qtable_episodes(const oq_xsell_qtable *t)
{
    return t->episodes;
}

static uint64_t key_of(const oq_xsell_qtable *t, uint64_t state, int e)
{
    return state * (uint64_t)t->mdp.n_items + (uint64_t)e;
}

const double *oq_xsell_qtable_find(const oq_xsell_qtable *t, uint64_t state, int e,
                                   uint32_t *visits)
{
    size_t h = xs_slot(t, key_of(t, state, e));
    int seen = t->keys[h] != XS_EMPTY;
    if (visits) *visits = seen ? t->visits[h] : 0;
    return seen && t->q ? t->q + h * (size_t)t->D : NULL;
}

const uint32_t *oq_xsell_qtable_counts(const oq_xsell_qtable *t, uint64_t state, int e)
{
    size_t h = xs_slot(t, key_of(t, state, e));
    return t->keys[h] == XS_EMPTY ? NULL : t->cnt + h * (size_t)t->D;
}

int xs_valid(const oq_xsell_qtable *t, const uint32_t *inv, int e, uint8_t *valid)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, K = m->n_disc;
    int n = oq_xsell_valid(m, inv, e, valid);
    for (int j = 0; j < N; j++)
        if (!t->allow[e * N + j])
            for (int k = 0; k < K; k++) {
                n -= valid[1 + j * K + k];
                valid[1 + j * K + k] = 0;
            }
    return n;
}

/* A tabular entry's answer for a request in H (valid): the best decision
 * tried at least once (an untried one only holds its initial value), -1
 * when none of those is in H; ties: the lower index (none first). */
static int tab_best(const double *q, const uint32_t *cnt, const uint8_t *valid, int D)
{
    int best = -1;
    for (int d = 0; d < D; d++)
        if (valid[d] && cnt[d] > 0 && (best < 0 || q[d] > q[best])) best = d;
    return best;
}

/* The seen state nearest to inv for request e (L1, ties: smaller index):
 * its slot, or (size_t)-1 when the table has no entry for e. A scan of the
 * index (built at load), else of the table. */
static size_t nearest_slot(const oq_xsell_qtable *t, const uint32_t *inv, int e, uint32_t *dist)
{
    int N = t->mdp.n_items;
    if (t->nn_inv) {
        size_t best = (size_t)-1;
        uint32_t bd = UINT32_MAX;
        for (size_t a = t->nn_off[e]; a < t->nn_off[e + 1]; a++) {
            const uint16_t *x = t->nn_inv + a * (size_t)N;
            uint32_t d = 0;
            for (int i = 0; i < N; i++)
                d += x[i] > inv[i] ? x[i] - inv[i] : inv[i] - x[i];
            if (d < bd) { /* in increasing state index: the first of the nearest */
                bd = d;
                best = t->nn_slot[a];
            }
        }
        *dist = bd;
        return best;
    }
    size_t best = (size_t)-1;
    uint64_t best_s = 0;
    uint32_t bd = UINT32_MAX, x[OQ_XSELL_MAX_ITEMS];
    for (size_t h = 0; h < t->cap; h++) {
        uint64_t key = t->keys[h];
        if (key == XS_EMPTY || (int)(key % (uint64_t)N) != e) continue;
        uint64_t s = key / (uint64_t)N;
        oq_xsell_state_decode(&t->mdp, s, x);
        uint32_t d = 0;
        for (int i = 0; i < N; i++)
            d += x[i] > inv[i] ? x[i] - inv[i] : inv[i] - x[i];
        if (d < bd || (d == bd && s < best_s)) {
            bd = d;
            best_s = s;
            best = h;
        }
    }
    *dist = bd;
    return best;
}

void oq_xsell_qtable_answer(const oq_xsell_qtable *t, const uint32_t *inv, int e,
                            oq_xsell_answer *out)
{
    uint8_t valid[OQ_XSELL_MAX_DEC];
    double q[OQ_XSELL_MAX_DEC];
    size_t D = (size_t)t->D;
    memset(out, 0, sizeof *out);
    size_t h = xs_slot(t, key_of(t, oq_xsell_state_encode(&t->mdp, inv), e));
    int seen = t->keys[h] != XS_EMPTY;
    out->visits = seen ? t->visits[h] : 0;
    xs_valid(t, inv, e, valid);
    if (t->method == OQ_XSELL_KQ) {
        out->d = kq_qvalues(t, inv, e, valid, q);
        out->q = q[out->d];
        out->how = seen ? OQ_XSELL_ANS_SEEN : OQ_XSELL_ANS_MODEL;
        return;
    }
    if (seen) {
        int d = tab_best(t->q + h * D, t->cnt + h * D, valid, t->D);
        out->d = d < 0 ? 0 : d;
        out->q = d < 0 ? 0 : t->q[h * D + (size_t)d];
        out->how = OQ_XSELL_ANS_SEEN;
        return;
    }
    uint32_t dist;
    size_t n = nearest_slot(t, inv, e, &dist);
    if (n == (size_t)-1) {
        out->how = OQ_XSELL_ANS_NONE;
        return;
    }
    int d = tab_best(t->q + n * D, t->cnt + n * D, valid, t->D);
    out->d = d < 0 ? 0 : d;
    out->q = d < 0 ? 0 : t->q[n * D + (size_t)d];
    out->how = OQ_XSELL_ANS_NEAREST;
    out->distance = dist;
    out->from = t->keys[n] / (uint64_t)t->mdp.n_items;
}

int oq_xsell_qtable_qvalues(const oq_xsell_qtable *t, const uint32_t *inv, int e, double *q)
{
    uint8_t valid[OQ_XSELL_MAX_DEC];
    xs_valid(t, inv, e, valid);
    if (t->method == OQ_XSELL_KQ) return kq_qvalues(t, inv, e, valid, q);
    for (int d = 0; d < t->D; d++)
        q[d] = -INFINITY;
    size_t h = xs_slot(t, key_of(t, oq_xsell_state_encode(&t->mdp, inv), e));
    if (t->keys[h] == XS_EMPTY) return -1;
    size_t D = (size_t)t->D;
    for (int d = 0; d < t->D; d++)
        if (valid[d] && t->cnt[h * D + (size_t)d] > 0) q[d] = t->q[h * D + (size_t)d];
    int d = tab_best(t->q + h * D, t->cnt + h * D, valid, t->D);
    return d < 0 ? 0 : d;
}

int oq_xsell_qtable_decide(const oq_xsell_qtable *t, const uint32_t *inv, int e, int *d,
                           double *q_out)
{
    oq_xsell_answer a;
    oq_xsell_qtable_answer(t, inv, e, &a);
    *d = a.d;
    if (q_out) *q_out = a.q;
    return a.how == OQ_XSELL_ANS_SEEN;
}

/* Visit every state index in order with its inventory vector. */
static void next_inv(const oq_xsell_mdp *m, uint32_t *inv)
{
    for (int i = 0; i < m->n_items; i++) {
        if (inv[i] < m->items[i].capacity) {
            inv[i]++;
            return;
        }
        inv[i] = 0;
    }
}

/* Tabular answers for request e everywhere. The nearest seen state of every
 * state by an L1 distance transform (city-block distance is separable: a
 * forward and a backward pass along each item's axis give every state its
 * distance to the nearest source, Rosenfeld & Pfaltz 1966), carrying
 * (distance, source index) and keeping the smaller pair, so ties go to the
 * smaller source index: the rule of nearest_slot. Then each state takes its
 * source's best tried decision among those admissible here: the source's
 * best among the decisions whose admissibility does not depend on stock
 * (first) unless its add-on is out of stock here, when tab_best decides.
 * src (S), dist (S) and first (cap) are the caller's scratch. */
static void tab_fill(const oq_xsell_qtable *t, int e, uint8_t *dec, uint64_t *src, uint32_t *dist,
                     int16_t *first)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, K = m->n_disc;
    size_t D = (size_t)t->D;
    uint64_t S = oq_xsell_n_states(m), stride[OQ_XSELL_MAX_ITEMS];
    stride[0] = 1;
    for (int i = 1; i < N; i++)
        stride[i] = stride[i - 1] * ((uint64_t)m->items[i - 1].capacity + 1);
    uint8_t stat[OQ_XSELL_MAX_DEC]; /* admissible whatever the stock */
    stat[0] = 1;
    for (int d = 1; d < t->D; d++) {
        int j = (d - 1) / K, k = (d - 1) % K;
        stat[d] = (uint8_t)(j != e && t->allow[e * N + j] &&
                            oq_xsell_addon_price(m, j, k) >= m->items[j].cost);
    }
    const uint32_t FAR = UINT32_MAX / 2;
    for (uint64_t s = 0; s < S; s++) {
        dist[s] = FAR;
        src[s] = UINT64_MAX;
    }
    for (size_t h = 0; h < t->cap; h++) {
        uint64_t key = t->keys[h];
        if (key == XS_EMPTY || (int)(key % (uint64_t)N) != e) continue;
        uint64_t s = key / (uint64_t)N;
        dist[s] = 0;
        src[s] = s;
        int d = tab_best(t->q + h * D, t->cnt + h * D, stat, t->D);
        first[h] = (int16_t)(d < 0 ? 0 : d);
    }
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
#define TAKE(x, y)                                                                                 \
    do {                                                                                           \
        uint32_t nd = dist[y] + 1;                                                                 \
        if (nd < dist[x] || (nd == dist[x] && src[y] < src[x])) {                                  \
            dist[x] = nd;                                                                          \
            src[x] = src[y];                                                                       \
        }                                                                                          \
    } while (0)
    for (int k = 0; k < N; k++) {
        memset(inv, 0, sizeof inv); /* forward: from x - 1_k */
        for (uint64_t x = 0; x < S; x++, next_inv(m, inv))
            if (inv[k] > 0) TAKE(x, x - stride[k]);
        for (int i = 0; i < N; i++) /* backward: from x + 1_k */
            inv[i] = m->items[i].capacity;
        for (uint64_t x = S; x-- > 0;) {
            if (inv[k] < m->items[k].capacity) TAKE(x, x + stride[k]);
            for (int i = 0; i < N; i++) { /* the previous state index */
                if (inv[i] > 0) {
                    inv[i]--;
                    break;
                }
                inv[i] = m->items[i].capacity;
            }
        }
    }
#undef TAKE
    uint8_t valid[OQ_XSELL_MAX_DEC];
    memset(inv, 0, sizeof inv);
    for (uint64_t s = 0; s < S; s++, next_inv(m, inv)) {
        if (inv[e] == 0 || src[s] == UINT64_MAX) continue;
        size_t h = xs_slot(t, key_of(t, src[s], e));
        int d = first[h];
        if (d > 0 && inv[(d - 1) / K] == 0) { /* its add-on is out of stock here */
            xs_valid(t, inv, e, valid);
            d = tab_best(t->q + h * D, t->cnt + h * D, valid, t->D);
            if (d < 0) d = 0;
        }
        dec[s * (uint64_t)N + (uint64_t)e] = (uint8_t)d;
    }
}

int oq_xsell_qtable_greedy(const oq_xsell_qtable *t, uint8_t *dec, oq_error *err)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items;
    uint64_t S = oq_xsell_n_states(m);
    memset(dec, 0, S * (size_t)N);
    if (t->method == OQ_XSELL_KQ)
        return kq_dense(t, dec) ? oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory") : 0;
    if (t->n == 0) return 0;
    uint64_t *src = malloc(S * sizeof *src);
    uint32_t *dist = malloc(S * sizeof *dist);
    int16_t *first = malloc(t->cap * sizeof *first);
    int rc = 0;
    if (!src || !dist || !first)
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory (%llu states)",
                          (unsigned long long)S);
    else
        for (int e = 0; e < N; e++)
            tab_fill(t, e, dec, src, dist, first);
    free(first);
    free(src);
    free(dist);
    return rc;
}

int oq_xsell_qtable_solve(oq_xsell_qtable *t, oq_error *err)
{
    if (t->method != OQ_XSELL_KQ || t->n == 0) return 0;
    return kq_solve(t, err);
}

double oq_xsell_qtable_accept(const oq_xsell_qtable *t, int e, int d, double *offered)
{
    if (offered) *offered = 0;
    if (t->method != OQ_XSELL_KQ || d <= 0 || d >= t->D) return NAN;
    if (offered) *offered = t->acc_n[e * t->D + d];
    return kq_accept(t, e, d);
}

double oq_xsell_qtable_unit_value(const oq_xsell_qtable *t, int j, uint32_t y)
{
    if (t->method != OQ_XSELL_KQ || y < 1 || y > t->mdp.items[j].capacity) return NAN;
    return kq_unit(t, j, y);
}

/* ---- table file ----------------------------------------------------------------
 * Little-endian, packed by hand so the file does not depend on the host:
 *   "OQXQTAB1" u32 version (2) u32 N u32 K u32 D
 *   N x { u32 capacity, f64 price, f64 cost, u8 name length, name bytes }
 *   K x f64 discount
 *   u32 objective, u32 method, u32 knowledge, i64 episodes, N*N x u8 allow
 *   factored: u32 F, F x f64 w, f64 prior pseudo-offers, f64 min offers to
 *             answer, N*D x f64 prior means, N*D x f64 offers, N*D x f64 accepted, N x f64 requests
 *   u64 entries, entries x { u64 key, u32 visits, D x u32 count,
 *                            then D x f64 Q (tabular) or f64 sum gamma^k }
 *   u32 CRC-32 of all the bytes before it.
 * Version 1 (before the objective and the factored model): no objective to
 * knowledge/allow block, and each entry is key, visits, D x f64 Q, D x u32
 * count; read as a tabular revenue table with every item a candidate. */

#define TAB_MAGIC "OQXQTAB1"
#define TAB_VERSION 2u

int oq_xsell_qtable_save(const oq_xsell_qtable *t, const char *path, oq_error *err)
{
    oq_wbuf b = {0};
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, D = t->D, fac = t->method == OQ_XSELL_KQ;
    oq_wb_bytes(&b, TAB_MAGIC, 8);
    oq_wb_u32(&b, TAB_VERSION);
    oq_wb_u32(&b, (uint32_t)N);
    oq_wb_u32(&b, (uint32_t)m->n_disc);
    oq_wb_u32(&b, (uint32_t)D);
    for (int i = 0; i < N; i++) {
        const oq_xsell_item *it = &m->items[i];
        oq_wb_u32(&b, it->capacity);
        oq_wb_f64(&b, it->price);
        oq_wb_f64(&b, it->cost);
        unsigned char len = (unsigned char)strnlen(it->name, OQ_XSELL_NAME_MAX);
        oq_wb_u8(&b, len);
        oq_wb_bytes(&b, it->name, len);
    }
    for (int k = 0; k < m->n_disc; k++)
        oq_wb_f64(&b, m->disc[k]);
    oq_wb_u32(&b, (uint32_t)m->objective);
    oq_wb_u32(&b, t->method < 0 ? UINT32_MAX : (uint32_t)t->method);
    oq_wb_u32(&b, (uint32_t)t->knowledge);
    oq_wb_u64(&b, (uint64_t)t->episodes);
    oq_wb_bytes(&b, t->allow, (size_t)N * (size_t)N);
    if (fac) {
        oq_wb_u32(&b, (uint32_t)t->F);
        for (int f = 0; f < t->F; f++)
            oq_wb_f64(&b, t->w[f]);
        oq_wb_f64(&b, t->prior_n);
        oq_wb_f64(&b, t->min_offers);
        for (int i = 0; i < N * D; i++)
            oq_wb_f64(&b, t->prior_m[i]);
        for (int i = 0; i < N * D; i++)
            oq_wb_f64(&b, t->acc_n[i]);
        for (int i = 0; i < N * D; i++)
            oq_wb_f64(&b, t->acc_y[i]);
        for (int i = 0; i < N; i++)
            oq_wb_f64(&b, t->req[i]);
    }
    oq_wb_u64(&b, t->n);
    for (size_t h = 0; h < t->cap; h++) {
        if (t->keys[h] == XS_EMPTY) continue;
        oq_wb_u64(&b, t->keys[h]);
        oq_wb_u32(&b, t->visits[h]);
        for (int d = 0; d < D; d++)
            oq_wb_u32(&b, t->cnt[h * (size_t)D + (size_t)d]);
        if (fac)
            oq_wb_f64(&b, t->g[h]);
        else
            for (int d = 0; d < D; d++)
                oq_wb_f64(&b, t->q[h * (size_t)D + (size_t)d]);
    }
    oq_wb_crc32(&b);
    int rc = b.bad ? oq_error_oom(err, path, NULL) : oq_write_file_atomic(path, b.p, b.n, err);
    oq_wb_free(&b);
    return rc;
}

/* A finite number of the file in [lo, hi], else OQ_EFORMAT naming what. */
static int num_ok(double v, double lo, double hi, const char *path, const char *what, long i,
                  oq_error *err)
{
    if (isfinite(v) && v >= lo && v <= hi) return 0;
    return oq_error_set(err, OQ_EFORMAT, path, 0, 0, "%s %ld is out of range (%g)", what, i, v);
}

int oq_xsell_qtable_load(const char *path, oq_xsell_qtable **out, oq_error *err)
{
    *out = NULL;
    char *data = NULL;
    size_t len = 0;
    oq_xsell_qtable *t = NULL;
    int rc = oq_read_file(path, (size_t)4 << 30, &data, &len, err);
    if (rc) return rc;
    oq_rbuf r = {(const unsigned char *)data, len, 0, 0};
    if (len < 12 || memcmp(data, TAB_MAGIC, 8) != 0) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "not an offerq cross-selling table (bad magic)");
        goto cleanup;
    }
    uint32_t stored = 0;
    for (int i = 0; i < 4; i++)
        stored |= (uint32_t)(unsigned char)data[len - 4 + (size_t)i] << (8 * i);
    if (oq_crc32(0, data, len - 4) != stored) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "checksum mismatch: the file is damaged or was cut off");
        goto cleanup;
    }
    r.len = len - 4;
    oq_rb_take(&r, 8);
    uint32_t version = oq_rb_u32(&r);
    if (version != 1 && version != TAB_VERSION) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "table version %u, this offerq reads versions 1 and %u", version,
                          TAB_VERSION);
        goto cleanup;
    }
    oq_xsell_mdp m;
    memset(&m, 0, sizeof m);
    uint32_t N = oq_rb_u32(&r), K = oq_rb_u32(&r), D = oq_rb_u32(&r);
    if (N < 2 || N > OQ_XSELL_MAX_ITEMS || K < 1 || K > OQ_XSELL_MAX_DISC || D != 1 + N * K) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "bad sizes (N %u, K %u, D %u)", N, K, D);
        goto cleanup;
    }
    m.n_items = (int)N;
    m.n_disc = (int)K;
    for (uint32_t i = 0; i < N; i++) {
        m.items[i].capacity = oq_rb_u32(&r);
        m.items[i].price = oq_rb_f64(&r);
        m.items[i].cost = oq_rb_f64(&r);
        const unsigned char *l = oq_rb_take(&r, 1);
        size_t nl = l ? *l : 0;
        const unsigned char *nm = oq_rb_take(&r, nl);
        if (!r.bad && (nl == 0 || nl > OQ_XSELL_NAME_MAX)) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "item %u: name of %zu bytes", i + 1, nl);
            goto cleanup;
        }
        if (nm) memcpy(m.items[i].name, nm, nl);
    }
    for (uint32_t k = 0; k < K; k++)
        m.disc[k] = oq_rb_f64(&r);
    uint32_t method = OQ_XSELL_KQ_TABULAR, knowledge = OQ_XSELL_KNOW_EXPLORE;
    uint64_t episodes = 0;
    const unsigned char *allow = NULL;
    if (version >= 2) {
        m.objective = (int)oq_rb_u32(&r);
        method = oq_rb_u32(&r);
        knowledge = oq_rb_u32(&r);
        episodes = oq_rb_u64(&r);
        allow = oq_rb_take(&r, (size_t)N * N);
        if (!r.bad && ((method >= OQ_XSELL_N_METHODS && method != UINT32_MAX) ||
                       knowledge > OQ_XSELL_KNOW_ALL || episodes > (uint64_t)INT64_MAX)) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                              "bad method %u, knowledge %u or season count", method, knowledge);
            goto cleanup;
        }
    }
    if (r.bad) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "truncated table");
        goto cleanup;
    }
    oq_error why = {0}; /* its own buffer: err->msg cannot be formatted into itself */
    if (oq_xsell_qtable_new(&m, &t, &why)) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "bad item data: %s", why.msg);
        goto cleanup;
    }
    t->method = method == UINT32_MAX ? -1 : (int)method;
    t->knowledge = (int)knowledge;
    t->episodes = (long)episodes;
    if (allow)
        for (uint32_t e = 0; e < N; e++)
            for (uint32_t j = 0; j < N; j++) {
                if (allow[e * N + j] > 1 || (e == j && allow[e * N + j])) {
                    rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "bad candidate mask");
                    goto cleanup;
                }
                t->allow[e * N + j] = allow[e * N + j];
            }
    int fac = t->method == OQ_XSELL_KQ;
    if (fac) {
        slabs_free(t);
        if (xs_alloc(t, 1024, 1) || kq_init(t)) {
            rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
            goto cleanup;
        }
        uint32_t F = oq_rb_u32(&r);
        if (!r.bad && F != (uint32_t)t->F) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "%u value features, expected %d", F,
                              t->F);
            goto cleanup;
        }
        for (int f = 0; !rc && f < t->F; f++)
            rc = num_ok(t->w[f] = oq_rb_f64(&r), -1e300, 1e300, path, "value weight", f, err);
        if (!rc) rc = num_ok(t->prior_n = oq_rb_f64(&r), 1e-9, 1e9, path, "prior strength", 0, err);
        if (!rc)
            rc = num_ok(t->min_offers = oq_rb_f64(&r), 0, 1e18, path, "answer threshold", 0, err);
        for (uint32_t i = 0; !rc && i < N * D; i++)
            rc = num_ok(t->prior_m[i] = oq_rb_f64(&r), 0, 1, path, "prior mean", (long)i, err);
        for (uint32_t i = 0; !rc && i < N * D; i++)
            rc = num_ok(t->acc_n[i] = oq_rb_f64(&r), 0, 1e300, path, "offer count", (long)i, err);
        for (uint32_t i = 0; !rc && i < N * D; i++)
            rc = num_ok(t->acc_y[i] = oq_rb_f64(&r), 0, t->acc_n[i], path, "acceptance count",
                        (long)i, err);
        for (uint32_t i = 0; !rc && i < N; i++)
            rc = num_ok(t->req[i] = oq_rb_f64(&r), 0, 1e300, path, "request count", (long)i, err);
        if (rc) goto cleanup;
    }
    uint64_t n = oq_rb_u64(&r);
    size_t rec = 12 + (size_t)D * 4 + (fac ? 8 : (size_t)D * 8);
    if (r.bad || n > (r.len - r.pos) / rec || (r.len - r.pos) != n * rec) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "truncated or inconsistent table");
        goto cleanup;
    }
    uint64_t nkeys = oq_xsell_n_states(&m) * N;
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = oq_rb_u64(&r);
        if (key >= nkeys) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "entry %llu: key out of range",
                              (unsigned long long)i);
            goto cleanup;
        }
        oq_xsell_state_decode(&m, key / N, inv);
        if (inv[key % N] == 0) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                              "entry %llu: a request of an item out of stock",
                              (unsigned long long)i);
            goto cleanup;
        }
        int created;
        size_t h = xs_upsert(t, key, &created);
        if (h == (size_t)-1) {
            rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
            goto cleanup;
        }
        if (!created) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "entry %llu: duplicate key",
                              (unsigned long long)i);
            goto cleanup;
        }
        t->visits[h] = oq_rb_u32(&r);
        if (version == 1) {
            for (uint32_t d = 0; !rc && d < D; d++)
                rc = num_ok(t->q[h * D + d] = oq_rb_f64(&r), -1e300, 1e300, path, "Q value",
                            (long)i, err);
            for (uint32_t d = 0; d < D; d++)
                t->cnt[h * D + d] = oq_rb_u32(&r);
        } else {
            for (uint32_t d = 0; d < D; d++)
                t->cnt[h * D + d] = oq_rb_u32(&r);
            if (fac)
                rc = num_ok(t->g[h] = oq_rb_f64(&r), 0, (double)t->visits[h], path,
                            "discount sum of entry", (long)i, err);
            else
                for (uint32_t d = 0; !rc && d < D; d++)
                    rc = num_ok(t->q[h * D + d] = oq_rb_f64(&r), -1e300, 1e300, path, "Q value",
                                (long)i, err);
        }
        if (rc) goto cleanup;
    }
    if (xs_index_build(t)) {
        rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
        goto cleanup;
    }
    *out = t;
    t = NULL;
cleanup:
    oq_xsell_qtable_free(t);
    free(data);
    return rc;
}
