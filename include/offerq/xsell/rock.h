/* rock.h - ROCK clustering of categorical records (Guha, Rastogi & Shim,
 * "ROCK: a robust clustering algorithm for categorical attributes", ICDE 1999;
 * Information Systems 25(5), 2000).
 *
 * What is implemented, step by step, and where we had to choose:
 *
 * 1. Records -> transactions. A categorical record becomes the set of items
 *    "attribute=value"; a missing value (empty field) adds no item. Sets of
 *    items (baskets) can be clustered directly.
 * 2. Neighbours: p and q are neighbours when sim(p, q) >= theta, with the
 *    Jaccard coefficient sim(T1, T2) = |T1 n T2| / |T1 u T2| of the item sets
 *    (missing values simply absent). With this reading the Congressional
 *    votes give the paper's table exactly (tests/xsell/test_rock.c).
 *    pairwise_missing = 1 is a variant that compares only the attributes
 *    present in both records, sim = a / (2 b - a) (a = equal attributes, b =
 *    attributes present in both); it does not reproduce the table, so it is
 *    off by default.
 *    A point is not its own neighbour (the paper's example: with theta = 0.5,
 *    link({1,2,6}, {1,2,7}) = 5 and link({1,2,6}, {1,2,3}) = 3; tested).
 * 3. Links: link(p, q) = number of common neighbours. The
 *    neighbour graph is kept as one bitset row per point, so
 *        link(p, q) = popcount(A_p & A_q),
 *    evaluated only for pairs that are two hops apart (candidates = OR of the
 *    rows of p's neighbours).
 * 4. Goodness measure (the paper's merge criterion), with
 *    f(theta) = (1 - theta)/(1 + theta):
 *        g(Ci, Cj) = link[Ci, Cj] /
 *            ((ni + nj)^(1 + 2 f) - ni^(1 + 2 f) - nj^(1 + 2 f)).
 * 5. Merging (the paper's procedure `cluster`): a local heap q[i] per
 *    cluster of the clusters it has links with, by goodness, and a global heap Q of clusters
 *    by the goodness of their best partner. Repeatedly the best pair (u, v)
 *    merges into w, link[x, w] = link[x, u] + link[x, v] for every x linked to
 *    u or v, and the heaps are updated. Deletions are lazy: an entry whose
 *    partner has been merged away (or a global entry older than its cluster's
 *    latest state) is dropped when it reaches the top - the merge sequence is
 *    the paper's. Ties of goodness go to the smaller cluster id (points are
 *    numbered in input order; a merged cluster gets the next unused id).
 *    Merging stops at k clusters, or earlier when no two clusters have a link.
 * 6. Outliers (the paper's handling of outliers): a point with fewer than
 *    min_neighbours neighbours (default 1: an isolated point) never enters the
 *    clustering. When the number of clusters first falls to weed_at times the
 *    number of points (default 1/3), clusters of at most weed_size points
 *    (default 0: off) are set aside as outliers - the paper's "weeding out" of
 *    clusters with very little support. When merging stops with more than k
 *    clusters because no links are left, the k largest are kept and the
 *    points of the others (groups no other cluster links to) are outliers
 *    (result->unlinked). Clusters are numbered 1, 2, ... by decreasing size
 *    (ties: smaller first point); outliers get 0. On votes this leaves 63 of
 *    435 records out, exactly the paper's 435 - 372.
 * 7. Sampling and labelling (the paper's labelling phase): with sample > 0
 *    and smaller than n, a random sample (rng stream (seed, 0)) is clustered; every other
 *    point p joins the cluster i maximising N_i / (n_i + 1)^f(theta), N_i =
 *    neighbours of p among the n_i sampled points of cluster i (all of them:
 *    the paper allows a fraction), or becomes an outlier when it has no
 *    neighbour in any cluster.
 *
 * Complexity: neighbours O(n^2 attributes), links O(n sum(deg) / 64) words,
 * merging O(n^2 log n) in the worst case; memory n^2/8 bytes of bitsets plus
 * the link pairs. Meant for up to some tens of thousands of points; sample
 * beyond that.
 */
#ifndef OFFERQ_ROCK_H
#define OFFERQ_ROCK_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"
#include "offerq/xsell/rules.h"

#define OQ_ROCK_MISSING UINT32_MAX

typedef struct oq_rock_records {
    size_t n; /* records */
    size_t nnz;
    uint64_t *off;   /* (n + 1) record r owns item[off[r] .. off[r+1]) */
    uint32_t *item;  /* (nnz) ascending item ids */
    uint32_t n_attr; /* attributes (0 for plain sets) */
    uint32_t *value; /* (n, n_attr) item id per attribute or OQ_ROCK_MISSING; NULL for sets */
    char **attr;     /* (n_attr) attribute names */
    oq_dict items;   /* item names: "attribute=value" */
    uint32_t *label; /* (n) id in labels, or NULL when no label column */
    oq_dict labels;
    size_t cap; /* private */
} oq_rock_records;

/* Read a CSV with a header line; every column but label_column (may be NULL)
 * is a categorical attribute; empty fields (after trimming spaces) are
 * missing. *out is the caller's (oq_rock_records_free). OQ_EPARSE with
 * file:line:column on a short/long row, an unknown label column or a last
 * line without its newline (a file cut off). */
int oq_rock_read_csv(const char *path, const char *label_column, oq_rock_records **out,
                     oq_error *err) OQ_WUR;
int oq_rock_read_csv_mem(const char *name, const char *data, size_t len, const char *label_column,
                         oq_rock_records **out, oq_error *err) OQ_WUR;

/* For cross-selling: items as records. Each item i with at least min_count
 * baskets becomes the record "set of baskets that contain i", so two items
 * are similar when they are bought in the same baskets (Jaccard of their
 * basket sets) and linked when they share such neighbours; ROCK then groups
 * items into cross-sell candidate sets. (*item_of)[r] is the item id of
 * record r (caller frees). *out: plain sets, no labels. */
int oq_rock_records_from_items(const oq_baskets *b, uint64_t min_count, oq_rock_records **out,
                               uint32_t **item_of, oq_error *err) OQ_WUR;
/* Baskets as records: record r is basket r (plain sets, no labels, no item
 * names copied), the transactions that the cross-selling paper clusters
 * (include/offerq/xsell/learn.h). *out is the caller's. OQ_ENOMEM. */
int oq_rock_records_from_baskets(const oq_baskets *b, oq_rock_records **out, oq_error *err) OQ_WUR;
void oq_rock_records_free(oq_rock_records *r);

typedef struct oq_rock_params {
    double theta;          /* neighbour threshold in [0, 1) */
    size_t k;              /* wanted clusters >= 1 */
    int pairwise_missing;  /* default 0: plain Jaccard of the item sets */
    size_t min_neighbours; /* default 1 */
    double weed_at;        /* default 1/3 */
    size_t weed_size;      /* default 0 (no weeding) */
    size_t sample;         /* default 0: cluster every point */
    uint64_t seed;         /* for the sample */
    int quiet;             /* no progress on stderr (default 1) */
} oq_rock_params;

void oq_rock_params_default(oq_rock_params *p);

typedef struct oq_rock_result {
    size_t n;          /* points */
    uint32_t *cluster; /* (n) 0 = outlier, else 1..n_clusters by decreasing size */
    size_t n_clusters;
    size_t *size;           /* (n_clusters + 1) size[0] = outliers */
    size_t neighbour_pairs; /* pairs with sim >= theta */
    size_t link_pairs;      /* pairs with link > 0 */
    size_t merges;
    size_t weeded;   /* points set aside by weeding */
    size_t unlinked; /* points of clusters beyond the k largest when links ran out */
    double t_neighbours, t_links, t_merge; /* seconds per phase */
} oq_rock_result;

/* sim(i, j) as used by oq_rock_cluster (rock.h, step 2). */
double oq_rock_sim(const oq_rock_records *r, const oq_rock_params *p, size_t i, size_t j);
/* link(i, j) = number of common neighbours, counted directly in O(n) (the
 * definition; the clustering uses bitsets). For tests and inspection. */
size_t oq_rock_link(const oq_rock_records *r, const oq_rock_params *p, size_t i, size_t j);

/* Cluster the records. *out is the caller's (oq_rock_result_free).
 * OQ_EINVAL (theta outside [0,1), k = 0), OQ_ENOMEM. */
int oq_rock_cluster(const oq_rock_records *r, const oq_rock_params *p, oq_rock_result **out,
                    oq_error *err) OQ_WUR;
void oq_rock_result_free(oq_rock_result *res);

/* Write `row,cluster` (row = 1-based data row) atomically to path. */
int oq_rock_write_csv(const oq_rock_result *res, const char *path, oq_error *err) OQ_WUR;
/* Cluster x label table (needs r->label): one line per cluster with its size
 * and the count of each label, outliers last. */
void oq_rock_print_table(const oq_rock_result *res, const oq_rock_records *r, FILE *fp);

#endif
