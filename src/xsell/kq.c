/* kq.c - the factored Q of K-Q-learning (OQ_XSELL_KQ): acceptance
 * probabilities per (request, bundle, discount) and a separable value of the
 * post-decision inventory, W(y) = sum_i W_i(y_i), fitted by least-squares
 * policy iteration on the samples the table aggregates. The model and its
 * references: include/offerq/xsell/crosssell.h, "K-Q-learning with a
 * factored Q". */
#include "xsell_int.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_linalg.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Ridge added to every diagonal entry of the LSTD system: keeps a knot no
 * sample reaches at 0 and the system regular; far below any count. */
#define KQ_RIDGE 1e-6
/* Policy iteration: at most this many evaluations per solve. */
#define KQ_MAX_ITERS 8

int kq_init(oq_xsell_qtable *t)
{
    const oq_xsell_mdp *m = &t->mdp;
    t->F = 0;
    for (int i = 0; i < m->n_items; i++) {
        uint32_t M = m->items[i].capacity;
        t->knots[i] = (int)(M < OQ_XSELL_KQ_MAX_KNOTS ? M : OQ_XSELL_KQ_MAX_KNOTS);
        t->off[i] = t->F;
        t->F += t->knots[i];
    }
    free(t->w);
    t->w = calloc(t->F > 0 ? (size_t)t->F : 1, sizeof *t->w);
    return t->w ? 0 : OQ_ENOMEM;
}

/* Stock level of knot u of item i: round(u M / L), strictly increasing. */
static uint32_t knot_level(const oq_xsell_qtable *t, int i, int u)
{
    uint64_t M = t->mdp.items[i].capacity, L = (uint64_t)t->knots[i];
    return (uint32_t)(((uint64_t)u * M + L / 2) / L);
}

/* Features of item i at stock y: at most two (feature, weight) pairs, the
 * linear interpolation between the knots around y (knot 0, value 0, is no
 * feature). Returns how many. */
static int feat(const oq_xsell_qtable *t, int i, uint32_t y, int *f, double *wt)
{
    int L = t->knots[i];
    if (L == 0 || y == 0) return 0;
    uint32_t M = t->mdp.items[i].capacity;
    if ((uint32_t)L == M) { /* one knot per unit */
        f[0] = t->off[i] + (int)y - 1;
        wt[0] = 1;
        return 1;
    }
    int u = (int)((uint64_t)y * (uint64_t)L / M);
    if (u > L) u = L;
    while (u > 0 && knot_level(t, i, u) > y)
        u--;
    while (u < L && knot_level(t, i, u + 1) <= y)
        u++;
    if (u == L) {
        f[0] = t->off[i] + L - 1;
        wt[0] = 1;
        return 1;
    }
    uint32_t a = knot_level(t, i, u), b = knot_level(t, i, u + 1);
    double s = (double)(y - a) / (double)(b - a);
    int n = 0;
    if (u >= 1 && s < 1) {
        f[n] = t->off[i] + u - 1;
        wt[n++] = 1 - s;
    }
    if (s > 0) {
        f[n] = t->off[i] + u;
        wt[n++] = s;
    }
    return n;
}

double kq_Wi(const oq_xsell_qtable *t, int i, uint32_t y)
{
    int f[2];
    double wt[2], v = 0;
    int n = feat(t, i, y, f, wt);
    for (int a = 0; a < n; a++)
        v += wt[a] * t->w[f[a]];
    return v;
}

double kq_W(const oq_xsell_qtable *t, const uint32_t *y)
{
    double v = 0;
    for (int i = 0; i < t->mdp.n_items; i++)
        v += kq_Wi(t, i, y[i]);
    return v;
}

double kq_accept(const oq_xsell_qtable *t, int e, int d)
{
    size_t k = (size_t)e * (size_t)t->D + (size_t)d;
    return (t->acc_y[k] + t->prior_n * t->prior_m[k]) / (t->acc_n[k] + t->prior_n);
}

/* A bundle competes in the answer once offered min_offers times. */
static int answerable(const oq_xsell_qtable *t, int e, int d)
{
    return t->acc_n[(size_t)e * (size_t)t->D + (size_t)d] >= t->min_offers;
}

/* The advantage of bundle d = (j, k) over none: a(e, d) (r_jk - unit), with
 * unit the marginal value of the unit of j it sells. Compared as such (not
 * added to the common part first), so every caller breaks ties alike. */
static double advantage(const oq_xsell_qtable *t, int e, int j, int k, double unit)
{
    int d = 1 + j * t->mdp.n_disc + k;
    return kq_accept(t, e, d) * (oq_xsell_reward_addon(&t->mdp, j, k) - unit);
}

double kq_unit(const oq_xsell_qtable *t, int j, uint32_t y)
{
    return kq_Wi(t, j, y) - kq_Wi(t, j, y - 1);
}

int kq_qvalues(const oq_xsell_qtable *t, const uint32_t *inv, int e, const uint8_t *valid,
               double *q)
{
    /* the argmax is over none and the bundles offered min_offers times */
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, K = m->n_disc, best = 0;
    uint32_t y[OQ_XSELL_MAX_ITEMS];
    memcpy(y, inv, (size_t)N * sizeof *y);
    y[e]--;
    double base = oq_xsell_reward_item(m, e) + kq_W(t, y), best_adv = 0;
    q[0] = base;
    for (int j = 0; j < N; j++) {
        int any = 0;
        for (int k = 0; k < K; k++)
            any |= valid[1 + j * K + k];
        if (!any) {
            for (int k = 0; k < K; k++)
                q[1 + j * K + k] = -INFINITY;
            continue;
        }
        double unit = kq_unit(t, j, y[j]); /* y[j] >= 1: j is in stock */
        for (int k = 0; k < K; k++) {
            int d = 1 + j * K + k;
            if (!valid[d]) {
                q[d] = -INFINITY;
                continue;
            }
            double adv = advantage(t, e, j, k, unit);
            q[d] = base + adv;
            /* a bundle offered fewer than min_offers times holds mostly its
             * prior: it is explored (its Q above), not answered */
            if (answerable(t, e, d) && adv > best_adv) {
                best_adv = adv;
                best = d;
            }
        }
    }
    return best;
}

void kq_qvalues_explore(const oq_xsell_qtable *t, const uint32_t *inv, int e, const uint8_t *valid,
                        double z, double *q)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, K = m->n_disc;
    uint32_t y[OQ_XSELL_MAX_ITEMS];
    memcpy(y, inv, (size_t)N * sizeof *y);
    y[e]--;
    double base = oq_xsell_reward_item(m, e) + kq_W(t, y);
    q[0] = base;
    for (int j = 0; j < N; j++)
        for (int k = 0; k < K; k++) {
            int d = 1 + j * K + k;
            if (!valid[d]) {
                q[d] = -INFINITY;
                continue;
            }
            size_t at = (size_t)e * (size_t)t->D + (size_t)d;
            double n = t->acc_n[at] + t->prior_n, a = kq_accept(t, e, d);
            a += z * sqrt(a * (1 - a) / (n + 1));
            if (a > 1) a = 1;
            q[d] = base + a * (oq_xsell_reward_addon(m, j, k) - kq_unit(t, j, y[j]));
        }
}

/* For a request of e: the best admissible discount level of each bundle
 * item j at each stock y of j (bd, a decision index, 0 for none) and its
 * advantage (bv, -INFINITY where nothing is admissible: y = 0, j = e, j
 * outside the candidate sets, or no level answerable). Item j's entries
 * start at at[j]. The answer at (x, e) is then the best over j of
 * bv[at[j] + x_j] if above 0, else none; the order of the comparisons is
 * that of kq_qvalues, so both give the same answers. */
static void best_tables(const oq_xsell_qtable *t, int e, const size_t *at, double *bv, uint8_t *bd)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items, K = m->n_disc;
    for (int j = 0; j < N; j++)
        for (uint32_t y = 0; y <= m->items[j].capacity; y++) {
            double best = -INFINITY;
            int bk = -1;
            if (y >= 1 && j != e && t->allow[e * N + j]) {
                double unit = kq_unit(t, j, y);
                for (int k = 0; k < K; k++) {
                    if (oq_xsell_addon_price(m, j, k) < m->items[j].cost) continue;
                    if (!answerable(t, e, 1 + j * K + k)) continue;
                    double adv = advantage(t, e, j, k, unit);
                    if (bk < 0 || adv > best) {
                        best = adv;
                        bk = k;
                    }
                }
            }
            bv[at[j] + y] = best;
            bd[at[j] + y] = (uint8_t)(bk < 0 ? 0 : 1 + j * K + bk);
        }
}

/* The answer at inventory x for request e from e's tables. */
static int best_of(int N, const size_t *at, const double *bv, const uint8_t *bd, const uint32_t *x)
{
    double best = 0;
    int d = 0;
    for (int j = 0; j < N; j++) {
        double v = bv[at[j] + x[j]];
        if (v > best) {
            best = v;
            d = bd[at[j] + x[j]];
        }
    }
    return d;
}

static void level_offsets(const oq_xsell_mdp *m, size_t *at)
{
    at[0] = 0;
    for (int j = 0; j < m->n_items; j++)
        at[j + 1] = at[j] + (size_t)m->items[j].capacity + 1;
}

int kq_dense(const oq_xsell_qtable *t, uint8_t *dec)
{
    const oq_xsell_mdp *m = &t->mdp;
    int N = m->n_items;
    size_t at[OQ_XSELL_MAX_ITEMS + 1];
    level_offsets(m, at);
    double *bv = malloc(at[N] * sizeof *bv);
    uint8_t *bd = malloc(at[N]);
    if (!bv || !bd) {
        free(bv);
        free(bd);
        return OQ_ENOMEM;
    }
    uint64_t S = oq_xsell_n_states(m);
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    for (int e = 0; e < N; e++) {
        best_tables(t, e, at, bv, bd);
        memset(inv, 0, sizeof inv);
        for (uint64_t s = 0; s < S; s++) {
            if (inv[e] > 0)
                dec[s * (uint64_t)N + (uint64_t)e] = (uint8_t)best_of(N, at, bv, bd, inv);
            for (int i = 0; i < N; i++) { /* the next state index */
                if (inv[i] < m->items[i].capacity) {
                    inv[i]++;
                    break;
                }
                inv[i] = 0;
            }
        }
    }
    free(bv);
    free(bd);
    return 0;
}

/* Sparse feature vector: up to 2 entries per item. */
typedef struct svec {
    int n;
    int f[2 * OQ_XSELL_MAX_ITEMS];
    double w[2 * OQ_XSELL_MAX_ITEMS];
} svec;

static void svec_add(svec *v, const oq_xsell_qtable *t, int i, uint32_t y, double scale)
{
    int f[2];
    double wt[2];
    int k = feat(t, i, y, f, wt);
    for (int a = 0; a < k; a++) {
        v->f[v->n] = f[a];
        v->w[v->n++] = scale * wt[a];
    }
}

/* Least-squares policy iteration (crosssell.h): for the decisions dec of
 * every entry, an entry (x, e) seen n times with discounts summing to G
 * adds to the system A w = b
 *   A += n phi(x) phi(x)^T - G phi(x) E[phi(y')]^T,   b += G phi(x) E[r]
 * with y' the post-decision inventory after the decision at (x, e) (the
 * bundle taken with the learned probability a) and r its reward. */
int kq_solve(oq_xsell_qtable *t, oq_error *err)
{
    const oq_xsell_mdp *m = &t->mdp;
    int F = t->F, N = m->n_items, K = m->n_disc, rc = 0;
    if (F == 0) return 0;
    double *A = malloc((size_t)F * (size_t)F * sizeof *A); /* (F, F) row major */
    double *b = malloc((size_t)F * sizeof *b);
    uint8_t *dec = malloc(t->cap); /* the decision of each slot */
    size_t at[OQ_XSELL_MAX_ITEMS + 1];
    level_offsets(m, at);
    double *bv = malloc((size_t)N * at[N] * sizeof *bv); /* (N, levels) per request */
    uint8_t *bd = malloc((size_t)N * at[N]);
    gsl_permutation *perm = gsl_permutation_alloc((size_t)F);
    gsl_vector *x = gsl_vector_alloc((size_t)F);
    if (!A || !b || !dec || !bv || !bd || !perm || !x) {
        rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory (value fit, %d features)", F);
        goto cleanup;
    }
    memset(dec, 0xff, t->cap);
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    for (int iter = 0; iter < KQ_MAX_ITERS; iter++) {
        /* the greedy decision of every entry, from per-request tables */
        for (int e = 0; e < N; e++)
            best_tables(t, e, at, bv + (size_t)e * at[N], bd + (size_t)e * at[N]);
        size_t changed = 0;
        for (size_t h = 0; h < t->cap; h++) {
            if (t->keys[h] == XS_EMPTY) continue;
            uint64_t key = t->keys[h];
            int e = (int)(key % (uint64_t)N);
            oq_xsell_state_decode(m, key / (uint64_t)N, inv);
            size_t o = (size_t)e * at[N];
            int d = best_of(N, at, bv + o, bd + o, inv);
            changed += dec[h] != d;
            dec[h] = (uint8_t)d;
        }
        if (iter > 0 && changed == 0) break; /* the policy evaluated last is greedy */
        memset(A, 0, (size_t)F * (size_t)F * sizeof *A);
        memset(b, 0, (size_t)F * sizeof *b);
        for (size_t h = 0; h < t->cap; h++) {
            if (t->keys[h] == XS_EMPTY) continue;
            uint64_t key = t->keys[h];
            int e = (int)(key % (uint64_t)N), d = dec[h];
            double n = t->visits[h], G = t->g[h];
            oq_xsell_state_decode(m, key / (uint64_t)N, inv);
            svec px, py;
            px.n = py.n = 0;
            for (int i = 0; i < N; i++)
                svec_add(&px, t, i, inv[i], 1.0);
            inv[e]--; /* the post-decision inventory after selling e */
            double r = oq_xsell_reward_item(m, e);
            int j = d > 0 ? (d - 1) / K : -1;
            if (j >= 0) {
                double a = kq_accept(t, e, d);
                r += a * oq_xsell_reward_addon(m, j, (d - 1) % K);
                svec_add(&py, t, j, inv[j], 1 - a);
                svec_add(&py, t, j, inv[j] - 1, a);
            }
            for (int i = 0; i < N; i++)
                if (i != j) svec_add(&py, t, i, inv[i], 1.0);
            for (int a = 0; a < px.n; a++) {
                double *row = A + (size_t)px.f[a] * (size_t)F;
                for (int c = 0; c < px.n; c++)
                    row[px.f[c]] += n * px.w[a] * px.w[c];
                for (int c = 0; c < py.n; c++)
                    row[py.f[c]] -= G * px.w[a] * py.w[c];
                b[px.f[a]] += G * px.w[a] * r;
            }
        }
        for (int f = 0; f < F; f++)
            A[(size_t)f * (size_t)F + (size_t)f] += KQ_RIDGE;
        gsl_matrix_view Av = gsl_matrix_view_array(A, (size_t)F, (size_t)F);
        gsl_vector_view bview = gsl_vector_view_array(b, (size_t)F);
        int sign;
        if (gsl_linalg_LU_decomp(&Av.matrix, perm, &sign) ||
            gsl_linalg_LU_solve(&Av.matrix, perm, &bview.vector, x)) {
            rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0, "the value fit's system is singular");
            goto cleanup;
        }
        for (int f = 0; f < F; f++)
            if (!isfinite(gsl_vector_get(x, (size_t)f))) {
                rc = oq_error_set(err, OQ_ENUM, NULL, 0, 0, "the value fit is not finite");
                goto cleanup;
            }
        for (int f = 0; f < F; f++)
            t->w[f] = gsl_vector_get(x, (size_t)f);
    }
cleanup:
    free(A);
    free(b);
    free(dec);
    free(bv);
    free(bd);
    if (perm) gsl_permutation_free(perm);
    if (x) gsl_vector_free(x);
    return rc;
}
