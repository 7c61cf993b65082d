/* crosssell.c - the event-driven cross-selling MDP, the Q table Q(s, e, d)
 * and K-Q-learning. Formulas (9)-(15) as we read them are written out in
 * include/offerq/xsell/crosssell.h; the simulator is in src/xsell/sim.c. */
#include "offerq/xsell/crosssell.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "util/rbuf.h"
#include "util/wbuf.h"
#include "util/utf8.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- the decision problem ------------------------------------------------ */

int oq_xsell_mdp_check(const oq_xsell_mdp *m, oq_error *err)
{
    if (m->n_items < 2 || m->n_items > OQ_XSELL_MAX_ITEMS)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "the number of items must be in [2, %d]",
                            OQ_XSELL_MAX_ITEMS);
    if (m->n_disc < 1 || m->n_disc > OQ_XSELL_MAX_DISC)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the number of discount levels must be in [1, %d]", OQ_XSELL_MAX_DISC);
    for (int k = 0; k < m->n_disc; k++)
        if (!(m->disc[k] >= 0 && m->disc[k] < 1))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "discount level %d is %g: it must be in [0, 1)", k + 1, m->disc[k]);
    double log2s = 0;
    for (int i = 0; i < m->n_items; i++) {
        const oq_xsell_item *it = &m->items[i];
        size_t nl = strnlen(it->name, sizeof it->name);
        if (nl > OQ_XSELL_NAME_MAX || !oq_utf8_name_ok(it->name, nl))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "item %d: the name is not valid UTF-8 of at most %d bytes", i + 1,
                                OQ_XSELL_NAME_MAX);
        if (!(it->price > 0 && it->price <= OQ_XSELL_PRICE_MAX))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "item '%s': price must be in (0, %g]",
                                it->name, OQ_XSELL_PRICE_MAX);
        if (!(it->cost >= 0 && it->cost <= it->price))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "item '%s': cost must be in [0, price]",
                                it->name);
        if (it->capacity > 65535)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "item '%s': inventory must be <= 65535",
                                it->name);
        log2s += log2((double)it->capacity + 1);
    }
    /* keys are state * N + e in 64 bits; leave room for the event. */
    if (log2s > 56)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the inventory state space (2^%.1f states) is too large: use fewer "
                            "items or smaller inventories",
                            log2s);
    return 0;
}

int oq_xsell_n_decisions(const oq_xsell_mdp *m)
{
    return 1 + m->n_items * m->n_disc;
}

void oq_xsell_decision_decode(const oq_xsell_mdp *m, int d, int *item, int *level)
{
    if (d <= 0) {
        *item = -1;
        *level = -1;
        return;
    }
    *item = (d - 1) / m->n_disc;
    *level = (d - 1) % m->n_disc;
}

uint64_t oq_xsell_n_states(const oq_xsell_mdp *m)
{
    uint64_t s = 1;
    for (int i = 0; i < m->n_items; i++)
        s *= (uint64_t)m->items[i].capacity + 1;
    return s;
}

uint64_t oq_xsell_state_encode(const oq_xsell_mdp *m, const uint32_t *inv)
{
    uint64_t s = 0, stride = 1;
    for (int i = 0; i < m->n_items; i++) {
        s += (uint64_t)inv[i] * stride;
        stride *= (uint64_t)m->items[i].capacity + 1;
    }
    return s;
}

void oq_xsell_state_decode(const oq_xsell_mdp *m, uint64_t s, uint32_t *inv)
{
    for (int i = 0; i < m->n_items; i++) {
        uint64_t r = (uint64_t)m->items[i].capacity + 1;
        inv[i] = (uint32_t)(s % r);
        s /= r;
    }
}

double oq_xsell_addon_price(const oq_xsell_mdp *m, int j, int k)
{
    return (1.0 - m->disc[k]) * m->items[j].price;
}

int oq_xsell_valid(const oq_xsell_mdp *m, const uint32_t *inv, int e, uint8_t *valid)
{
    int n = 1;
    valid[0] = 1;
    for (int j = 0; j < m->n_items; j++)
        for (int k = 0; k < m->n_disc; k++) {
            /* paper 4.2 rule 4: the discounted price never goes below cost */
            int ok = j != e && inv[j] > 0 && oq_xsell_addon_price(m, j, k) >= m->items[j].cost;
            valid[1 + j * m->n_disc + k] = (uint8_t)ok;
            n += ok;
        }
    return n;
}

int oq_xsell_kb_build(const oq_xsell_mdp *m, const oq_xsell_rule *rules, size_t n_rules,
                      oq_xsell_kb *kb, oq_error *err)
{
    memset(kb, 0, sizeof *kb);
    for (size_t r = 0; r < n_rules; r++) {
        const oq_xsell_rule *ru = &rules[r];
        if (ru->lhs_item >= (uint32_t)m->n_items || ru->rhs_item >= (uint32_t)m->n_items)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "rule %zu names item %u of %d", r + 1,
                                ru->lhs_item >= (uint32_t)m->n_items ? ru->lhs_item : ru->rhs_item,
                                m->n_items);
        if (!(ru->confidence >= 0 && ru->confidence <= 1))
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "rule %zu: confidence %g is not in [0, 1]", r + 1, ru->confidence);
        if (ru->lhs_item == ru->rhs_item) continue;
        double *c =
            &(ru->negative ? kb->neg : kb->pos)[ru->lhs_item * OQ_XSELL_MAX_ITEMS + ru->rhs_item];
        if (ru->confidence > *c) *c = ru->confidence;
    }
    return 0;
}

/* ---- (9)-(14) ---------------------------------------------------------------- */

void oq_xsell_utility(const oq_xsell_mdp *m, int e, const double *q, const uint8_t *valid,
                      const oq_xsell_kb *kb, double *mu)
{
    int D = oq_xsell_n_decisions(m);
    double lo = INFINITY, hi = -INFINITY;
    for (int d = 0; d < D; d++)
        if (valid[d]) {
            if (q[d] < lo) lo = q[d];
            if (q[d] > hi) hi = q[d];
        }
    /* (9): min-max over the decision set; a flat set (a new state) is 1/2. */
    double span = hi - lo;
    int flat = !(span > 1e-12 * (fabs(hi) + fabs(lo) + 1e-300));
    for (int d = 0; d < D; d++)
        mu[d] = valid[d] ? (flat ? 0.5 : (q[d] - lo) / span) : 0.0;
    if (!kb) return;
    for (int d = 1; d < D; d++) {
        if (!valid[d]) continue;
        int j = (d - 1) / m->n_disc;
        double cp = kb->pos[e * OQ_XSELL_MAX_ITEMS + j];
        double cn = kb->neg[e * OQ_XSELL_MAX_ITEMS + j];
        if (cp > 0) mu[d] += cp * (1.0 - mu[d]); /* (10) */
        if (cn > 0) mu[d] *= 1.0 - cn;           /* (11) */
    }
}

int oq_xsell_boltzmann(const double *mu, const uint8_t *valid, int n, double tau, double *p)
{
    double mx = -INFINITY;
    int nv = 0;
    for (int i = 0; i < n; i++)
        if (!valid || valid[i]) {
            nv++;
            if (mu[i] > mx) mx = mu[i];
        }
    if (nv == 0) {
        for (int i = 0; i < n; i++)
            p[i] = 0;
        return 0;
    }
    double s = 0;
    if (isinf(tau)) {
        for (int i = 0; i < n; i++)
            p[i] = (!valid || valid[i]) ? 1.0 : 0.0;
        s = nv;
    } else if (!(tau > 1e-300)) {
        for (int i = 0; i < n; i++)
            p[i] = ((!valid || valid[i]) && mu[i] == mx) ? 1.0 : 0.0;
        for (int i = 0; i < n; i++)
            s += p[i];
    } else {
        /* (14), max-subtracted: every exponent is <= 0, the largest is 1. */
        for (int i = 0; i < n; i++) {
            p[i] = (!valid || valid[i]) ? exp((mu[i] - mx) / tau) : 0.0;
            s += p[i];
        }
    }
    for (int i = 0; i < n; i++)
        p[i] /= s;
    return nv;
}

/* ---- the Q table ---------------------------------------------------------------
 * Open addressing with linear probing on key = state * N + e (EMPTY marks a
 * free slot), load factor <= 1/2. Per slot: the key, the visit count of
 * (s, e), and D Q values and D update counts in two slabs. */

#define EMPTY UINT64_MAX

struct oq_xsell_qtable {
    oq_xsell_mdp mdp;
    int D;
    size_t cap, n;
    uint64_t *keys;   /* (cap) */
    uint32_t *visits; /* (cap) */
    double *q;        /* (cap, D) */
    uint32_t *cnt;    /* (cap, D) */
};

static int table_alloc(oq_xsell_qtable *t, size_t cap)
{
    t->keys = malloc(cap * sizeof *t->keys);
    t->visits = calloc(cap, sizeof *t->visits);
    t->q = calloc(cap * (size_t)t->D, sizeof *t->q);
    t->cnt = calloc(cap * (size_t)t->D, sizeof *t->cnt);
    if (!t->keys || !t->visits || !t->q || !t->cnt) {
        free(t->keys);
        free(t->visits);
        free(t->q);
        free(t->cnt);
        t->keys = NULL;
        t->visits = NULL;
        t->q = NULL;
        t->cnt = NULL;
        return OQ_ENOMEM;
    }
    for (size_t i = 0; i < cap; i++)
        t->keys[i] = EMPTY;
    t->cap = cap;
    return 0;
}

int oq_xsell_qtable_new(const oq_xsell_mdp *m, oq_xsell_qtable **out, oq_error *err)
{
    *out = NULL;
    int rc = oq_xsell_mdp_check(m, err);
    if (rc) return rc;
    oq_xsell_qtable *t = calloc(1, sizeof *t);
    if (!t) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    t->mdp = *m;
    t->D = oq_xsell_n_decisions(m);
    if (table_alloc(t, 1024)) {
        free(t);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    }
    *out = t;
    return 0;
}

void oq_xsell_qtable_free(oq_xsell_qtable *t)
{
    if (!t) return;
    free(t->keys);
    free(t->visits);
    free(t->q);
    free(t->cnt);
    free(t);
}

const oq_xsell_mdp *oq_xsell_qtable_mdp(const oq_xsell_qtable *t)
{
    return &t->mdp;
}

size_t oq_xsell_qtable_size(const oq_xsell_qtable *t)
{
    return t->n;
}

static inline size_t slot_of(const oq_xsell_qtable *t, uint64_t key)
{
    size_t h = (size_t)oq_mix64(key) & (t->cap - 1);
    while (t->keys[h] != key && t->keys[h] != EMPTY)
        h = (h + 1) & (t->cap - 1);
    return h;
}

static int table_grow(oq_xsell_qtable *t)
{
    oq_xsell_qtable old = *t;
    if (table_alloc(t, old.cap * 2)) {
        *t = old;
        return OQ_ENOMEM;
    }
    size_t D = (size_t)t->D;
    for (size_t i = 0; i < old.cap; i++) {
        if (old.keys[i] == EMPTY) continue;
        size_t h = slot_of(t, old.keys[i]);
        t->keys[h] = old.keys[i];
        t->visits[h] = old.visits[i];
        memcpy(t->q + h * D, old.q + i * D, D * sizeof *t->q);
        memcpy(t->cnt + h * D, old.cnt + i * D, D * sizeof *t->cnt);
    }
    t->n = old.n;
    free(old.keys);
    free(old.visits);
    free(old.q);
    free(old.cnt);
    return 0;
}

/* Slot of key, inserting a zeroed entry if absent. (size_t)-1 on ENOMEM. */
static size_t table_upsert(oq_xsell_qtable *t, uint64_t key, int *created)
{
    size_t h = slot_of(t, key);
    *created = 0;
    if (t->keys[h] == key) return h;
    *created = 1;
    if (2 * (t->n + 1) > t->cap) {
        if (table_grow(t)) return (size_t)-1;
        h = slot_of(t, key);
    }
    t->keys[h] = key;
    t->n++;
    return h;
}

const double *oq_xsell_qtable_find(const oq_xsell_qtable *t, uint64_t state, int e,
                                   uint32_t *visits)
{
    size_t h = slot_of(t, state * (uint64_t)t->mdp.n_items + (uint64_t)e);
    if (t->keys[h] == EMPTY) {
        if (visits) *visits = 0;
        return NULL;
    }
    if (visits) *visits = t->visits[h];
    return t->q + h * (size_t)t->D;
}

const uint32_t *oq_xsell_qtable_counts(const oq_xsell_qtable *t, uint64_t state, int e)
{
    size_t h = slot_of(t, state * (uint64_t)t->mdp.n_items + (uint64_t)e);
    return t->keys[h] == EMPTY ? NULL : t->cnt + h * (size_t)t->D;
}

/* argmax over the valid decisions, first index on ties (none first). */
static int argmax_valid(const double *q, const uint8_t *valid, int D)
{
    int best = 0;
    for (int d = 1; d < D; d++)
        if (valid[d] && q[d] > q[best]) best = d;
    return best;
}

/* The table's answer: argmax over the valid decisions tried at least once
 * (an untried decision only holds its initial value); none if none tried. */
static int answer(const double *q, const uint32_t *cnt, const uint8_t *valid, int D)
{
    int best = -1;
    for (int d = 0; d < D; d++)
        if (valid[d] && cnt[d] > 0 && (best < 0 || q[d] > q[best])) best = d;
    return best < 0 ? 0 : best;
}

int oq_xsell_qtable_decide(const oq_xsell_qtable *t, const uint32_t *inv, int e, int *d,
                           double *q_out)
{
    const double *q = oq_xsell_qtable_find(t, oq_xsell_state_encode(&t->mdp, inv), e, NULL);
    *d = 0;
    if (q_out) *q_out = 0;
    if (!q) return 0;
    uint8_t valid[OQ_XSELL_MAX_DEC];
    oq_xsell_valid(&t->mdp, inv, e, valid);
    *d = answer(q, t->cnt + (size_t)(q - t->q), valid, t->D);
    if (q_out) *q_out = q[*d];
    return 1;
}

void oq_xsell_qtable_greedy(const oq_xsell_qtable *t, uint8_t *dec)
{
    int N = t->mdp.n_items;
    memset(dec, 0, oq_xsell_n_states(&t->mdp) * (size_t)N);
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    for (size_t h = 0; h < t->cap; h++) {
        uint64_t key = t->keys[h];
        if (key == EMPTY) continue;
        uint64_t s = key / (uint64_t)N;
        int e = (int)(key % (uint64_t)N);
        oq_xsell_state_decode(&t->mdp, s, inv);
        if (inv[e] == 0) continue;
        oq_xsell_valid(&t->mdp, inv, e, valid);
        dec[key] = (uint8_t)answer(t->q + h * (size_t)t->D, t->cnt + h * (size_t)t->D, valid, t->D);
    }
}

/* ---- table file ----------------------------------------------------------------
 * Little-endian, packed by hand so the file does not depend on the host:
 *   "OQXQTAB1" u32 version u32 N u32 K u32 D
 *   N x { u32 capacity, f64 price, f64 cost, u8 name length, name bytes }
 *   K x f64 discount
 *   u64 entries, entries x { u64 key, u32 visits, D x f64 Q, D x u32 count }
 *   u32 CRC-32 of all the bytes before it. */

#define TAB_MAGIC "OQXQTAB1"
#define TAB_VERSION 1u

int oq_xsell_qtable_save(const oq_xsell_qtable *t, const char *path, oq_error *err)
{
    oq_wbuf b = {0};
    const oq_xsell_mdp *m = &t->mdp;
    oq_wb_bytes(&b, TAB_MAGIC, 8);
    oq_wb_u32(&b, TAB_VERSION);
    oq_wb_u32(&b, (uint32_t)m->n_items);
    oq_wb_u32(&b, (uint32_t)m->n_disc);
    oq_wb_u32(&b, (uint32_t)t->D);
    for (int i = 0; i < m->n_items; i++) {
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
    oq_wb_u64(&b, t->n);
    for (size_t h = 0; h < t->cap; h++) {
        if (t->keys[h] == EMPTY) continue;
        oq_wb_u64(&b, t->keys[h]);
        oq_wb_u32(&b, t->visits[h]);
        for (int d = 0; d < t->D; d++)
            oq_wb_f64(&b, t->q[h * (size_t)t->D + (size_t)d]);
        for (int d = 0; d < t->D; d++)
            oq_wb_u32(&b, t->cnt[h * (size_t)t->D + (size_t)d]);
    }
    oq_wb_crc32(&b);
    int rc = b.bad ? oq_error_oom(err, path, NULL) : oq_write_file_atomic(path, b.p, b.n, err);
    oq_wb_free(&b);
    return rc;
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
    if (version != TAB_VERSION) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                          "table version %u, this offerq reads version %u", version, TAB_VERSION);
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
    uint64_t n = oq_rb_u64(&r);
    size_t rec = 12 + (size_t)D * 12;
    if (r.bad || n > (r.len - r.pos) / rec || (r.len - r.pos) != n * rec) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "truncated or inconsistent table");
        goto cleanup;
    }
    oq_error why = {0}; /* its own buffer: err->msg cannot be formatted into itself */
    if (oq_xsell_qtable_new(&m, &t, &why)) {
        rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "bad item data: %s", why.msg);
        goto cleanup;
    }
    uint64_t nkeys = oq_xsell_n_states(&m) * N;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t key = oq_rb_u64(&r);
        if (key >= nkeys) {
            rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0, "entry %llu: key out of range",
                              (unsigned long long)i);
            goto cleanup;
        }
        int created;
        size_t h = table_upsert(t, key, &created);
        if (h == (size_t)-1) {
            rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
            goto cleanup;
        }
        t->visits[h] = oq_rb_u32(&r);
        for (uint32_t d = 0; d < D; d++) {
            double q = oq_rb_f64(&r);
            if (!isfinite(q)) {
                rc = oq_error_set(err, OQ_EFORMAT, path, 0, 0,
                                  "entry %llu: Q value %d is not finite (%g)",
                                  (unsigned long long)i, (int)d, q);
                goto cleanup;
            }
            t->q[h * D + d] = q;
        }
        for (uint32_t d = 0; d < D; d++)
            t->cnt[h * D + d] = oq_rb_u32(&r);
    }
    *out = t;
    t = NULL;
cleanup:
    oq_xsell_qtable_free(t);
    free(data);
    return rc;
}

/* ---- learning ---------------------------------------------------------------- */

void oq_xsell_learn_opts_default(oq_xsell_learn_opts *o, int method)
{
    memset(o, 0, sizeof *o);
    o->method = method;
    o->tau0 = 0.5;
    o->tau_min = 0.02;
    o->eps0 = 1.0;
    o->eps_min = 0.05;
    o->kappa = 4.0;
    o->omega = 0.7;
}

static int sample(const double *p, int n, gsl_rng *r)
{
    double u = gsl_rng_uniform(r), c = 0;
    int last = 0;
    for (int i = 0; i < n; i++) {
        if (p[i] <= 0) continue;
        c += p[i];
        last = i;
        if (u < c) return i;
    }
    return last;
}

/* Exploring choice of K-Q (14) or epsilon-greedy plain Q in H. */
static int choose(const oq_xsell_qtable *t, int e, const double *q, const uint8_t *valid,
                  uint32_t visits, const oq_xsell_kb *kb, const oq_xsell_learn_opts *o, gsl_rng *r)
{
    int D = t->D;
    double frac = o->kappa / (o->kappa + (double)visits);
    if (o->method == OQ_XSELL_KQ) {
        double mu[OQ_XSELL_MAX_DEC], p[OQ_XSELL_MAX_DEC];
        oq_xsell_utility(&t->mdp, e, q, valid, kb, mu);
        oq_xsell_boltzmann(mu, valid, D, o->tau_min + (o->tau0 - o->tau_min) * frac, p);
        return sample(p, D, r);
    }
    double eps = o->eps_min + (o->eps0 - o->eps_min) * frac;
    int cand[OQ_XSELL_MAX_DEC], nc = 0;
    if (gsl_rng_uniform(r) < eps) {
        for (int d = 0; d < D; d++)
            if (valid[d]) cand[nc++] = d;
    } else {
        /* greedy; ties (a new state: all Q = 0) broken at random, the same as
         * the paper's random initialisation with a vanishing spread */
        double best = -INFINITY;
        for (int d = 0; d < D; d++) {
            if (!valid[d]) continue;
            if (q[d] > best) {
                best = q[d];
                nc = 0;
            }
            if (q[d] == best) cand[nc++] = d;
        }
    }
    return cand[nc > 1 ? (int)gsl_rng_uniform_int(r, (unsigned long)nc) : 0];
}

/* (15) for the pending decision: Q += alpha_m (target - Q). */
static void update(oq_xsell_qtable *t, uint64_t key, int d, double target, double omega)
{
    size_t h = slot_of(t, key);
    double *q = t->q + h * (size_t)t->D + d;
    uint32_t *c = t->cnt + h * (size_t)t->D + d;
    *q += pow(1.0 + *c, -omega) * (target - *q);
    (*c)++;
}

/* Sum of lambda over the items in stock. */
static double in_stock_rate(const oq_xsell_sim *s, const uint32_t *inv)
{
    double l = 0;
    for (int i = 0; i < s->mdp.n_items; i++)
        if (inv[i] > 0) l += s->arrival[i];
    return l;
}

int oq_xsell_learn_episode(oq_xsell_qtable *t, const oq_xsell_sim *s, const oq_xsell_kb *kb,
                           const oq_xsell_learn_opts *o, gsl_rng *r, oq_xsell_episode *out,
                           oq_error *err)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, D = t->D;
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    long stock = 0;
    for (int i = 0; i < N; i++) {
        inv[i] = m->items[i].capacity;
        stock += inv[i];
    }
    oq_xsell_episode ep = {0};
    /* The pending decision waits for the next decision epoch (s', e'), k
     * periods later: target = r + gamma^k max_H Q(s', e', .). The season's end
     * is replaced by its expectation gamma^k (the same fixed point, far less
     * variance than a target that drops to r when the season happens to
     * end); at the end of the season we look ahead to the next epoch. */
    int pending = 0, pend_d = 0, season_over = 0;
    uint64_t pend_key = 0;
    double pend_r = 0, disc = 1;
    while (stock > 0 && in_stock_rate(s, inv) > 0) {
        if (!season_over) ep.periods++;
        disc *= s->survival;
        int e = oq_xsell_sim_arrival(s, r);
        if (e >= 0 && inv[e] > 0) {
            uint64_t key = oq_xsell_state_encode(m, inv) * (uint64_t)N + (uint64_t)e;
            int created;
            size_t h = table_upsert(t, key, &created);
            if (h == (size_t)-1) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
            oq_xsell_valid(m, inv, e, valid);
            if (o->cand) /* H restricted to e's candidate set (the paper's C) */
                for (int j = 0; j < N; j++)
                    if (!o->cand[e * N + j])
                        for (int k = 0; k < m->n_disc; k++)
                            valid[1 + j * m->n_disc + k] = 0;
            double *q = t->q + h * (size_t)D;
            (void)created; /* a new entry starts at Q = 0, visits 0 */
            if (pending)
                update(t, pend_key, pend_d, pend_r + disc * q[argmax_valid(q, valid, D)], o->omega);
            pending = 0;
            if (season_over) break;
            ep.requests++;
            int d = choose(t, e, q, valid, t->visits[h], kb, o, r);
            if (d < 0 || d >= D || !valid[d]) d = 0; /* never outside H, whatever Q holds */
            t->visits[h]++;
            double rev = m->items[e].price, prof = rev - m->items[e].cost;
            inv[e]--;
            stock--;
            if (d > 0) {
                ep.offers++;
                int j = (d - 1) / m->n_disc, k = (d - 1) % m->n_disc;
                if (gsl_rng_uniform(r) < oq_xsell_accept_prob(s, e, d)) {
                    double pj = oq_xsell_addon_price(m, j, k);
                    rev += pj;
                    prof += pj - m->items[j].cost;
                    inv[j]--;
                    stock--;
                    ep.bundles_sold++;
                }
            }
            ep.revenue += rev;
            ep.profit += prof;
            pending = 1;
            pend_key = key;
            pend_d = d;
            pend_r = rev;
            disc = 1;
        }
        if (!season_over && gsl_rng_uniform(r) >= s->survival) {
            season_over = 1;
            if (!pending) break;
        }
    }
    if (pending) update(t, pend_key, pend_d, pend_r, o->omega); /* nothing left to sell */
    if (out) *out = ep;
    return 0;
}
