/* xsell_int.h - internals shared by the cross-selling table's files:
 * qtable.c (the hash, the file, answers), kq.c (the factored Q and its
 * least-squares fit) and qlearn.c (the learning seasons). The model is
 * written out in include/offerq/xsell/crosssell.h. */
#ifndef OFFERQ_XSELL_INT_H
#define OFFERQ_XSELL_INT_H

#include "offerq/xsell/crosssell.h"

#include <stddef.h>
#include <stdint.h>

#define XS_EMPTY UINT64_MAX

/* Open addressing with linear probing on key = state * N + e (XS_EMPTY marks
 * a free slot), load factor <= 1/2. Per slot: the key, the visits of
 * (s, e), the update counts (D), and the Q values (D, tabular) or the sum
 * of gamma^k of the samples (factored). */
struct oq_xsell_qtable {
    oq_xsell_mdp mdp;
    int D;
    int method;    /* OQ_XSELL_KQ, _QLEARN, _KQ_TABULAR; -1 before learning */
    int knowledge; /* OQ_XSELL_KNOW_* it learned with (recorded, not used to answer) */
    long episodes;
    /* (N, N) [e * N + j]: j may be bundled with a request of e (the
     * candidate sets, minus pruned bundles) */
    uint8_t allow[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS];
    size_t cap, n;
    uint64_t *keys;   /* (cap) */
    uint32_t *visits; /* (cap) */
    uint32_t *cnt;    /* (cap, D) */
    double *q;        /* (cap, D) tabular; NULL when factored */
    double *g;        /* (cap) factored; NULL when tabular */
    /* Nearest-state index of a tabular table (built by xs_index_build, at
     * load; dropped by any insertion): the seen inventories of request e
     * are nn_inv[nn_off[e] .. nn_off[e + 1]) (N counts each), in increasing
     * state index, with their slots in nn_slot. */
    uint16_t *nn_inv;
    size_t *nn_slot;
    size_t nn_off[OQ_XSELL_MAX_ITEMS + 1];
    /* the factored model (method OQ_XSELL_KQ) */
    int F;                                               /* features: sum of knots */
    int knots[OQ_XSELL_MAX_ITEMS];                       /* L_i = min(M_i, OQ_XSELL_KQ_MAX_KNOTS) */
    int off[OQ_XSELL_MAX_ITEMS];                         /* first feature of item i */
    double *w;                                           /* (F) W_i at knots 1..L_i; W_i(0) = 0 */
    double acc_n[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_DEC]; /* (N, D) offers made */
    double acc_y[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_DEC]; /* (N, D) of them accepted */
    double prior_m[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_DEC]; /* (N, D) prior mean of a(e, d) */
    double prior_n;                                        /* pseudo-offers of the prior, > 0 */
    double min_offers;              /* a bundle is answered once offered this many times */
    double req[OQ_XSELL_MAX_ITEMS]; /* requests of e so far (exploration) */
    long next_solve;                /* re-fit W when episodes reaches this */
};

/* Hash. xs_slot: the slot of key (its own or the free one it would take).
 * xs_upsert: slot of key, inserting a zeroed entry if absent; (size_t)-1
 * when out of memory. */
size_t xs_slot(const oq_xsell_qtable *t, uint64_t key);
size_t xs_upsert(oq_xsell_qtable *t, uint64_t key, int *created);
/* Build the nearest-state index of a tabular table; OQ_ENOMEM. */
int xs_index_build(oq_xsell_qtable *t);
/* Allocate the slabs of a tabular (factored = 0) or factored table of
 * capacity cap (a power of two); OQ_ENOMEM. */
int xs_alloc(oq_xsell_qtable *t, size_t cap, int factored);

/* The table's decision set: oq_xsell_valid minus the bundles its allow mask
 * forbids. Returns |H|. */
int xs_valid(const oq_xsell_qtable *t, const uint32_t *inv, int e, uint8_t *valid);

/* Factored model (kq.c). */
/* Knots and features of t's mdp (sets knots, off, F) and allocate w;
 * OQ_ENOMEM. */
int kq_init(oq_xsell_qtable *t);
/* W(y) = sum_i W_i(y_i). */
double kq_W(const oq_xsell_qtable *t, const uint32_t *y);
/* W_i(y). */
double kq_Wi(const oq_xsell_qtable *t, int i, uint32_t y);
/* W_j(y) - W_j(y - 1), y >= 1: the marginal value of the y-th unit of j. */
double kq_unit(const oq_xsell_qtable *t, int j, uint32_t y);
/* The answers of every (state, request) as kq_qvalues gives them, into
 * dec (S, N) (entries of requests out of stock left as they are), by a
 * table per (request, bundle item, its stock). OQ_ENOMEM. */
int kq_dense(const oq_xsell_qtable *t, uint8_t *dec);
/* Posterior mean of the acceptance of d for a request of e. */
double kq_accept(const oq_xsell_qtable *t, int e, int d);
/* Q (D) of (inv, e) over valid (others -INFINITY); returns the argmax. */
int kq_qvalues(const oq_xsell_qtable *t, const uint32_t *inv, int e, const uint8_t *valid,
               double *q);
/* Q (D) for exploring: the acceptance at its mean + z posterior sd. */
void kq_qvalues_explore(const oq_xsell_qtable *t, const uint32_t *inv, int e, const uint8_t *valid,
                        double z, double *q);
/* The least-squares policy iteration of crosssell.h. OQ_ENOMEM, OQ_ENUM. */
int kq_solve(oq_xsell_qtable *t, oq_error *err);

#endif
