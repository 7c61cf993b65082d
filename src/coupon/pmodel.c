/* pmodel.c - P(order | x, coupon): XGBoost S-learner or per-coupon logistic
 * regressions (pmodel.h). */
#include "offerq/coupon/pmodel.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xgboost/c_api.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define F OQ_RESP_NFEAT
/* features, "a coupon is offered", the coupon's value, then the extra columns
 * (oq_pmodel_opts.n_extra) */
#define NCOL_MAX (F + 2 + OQ_PMODEL_MAX_EXTRA)
#define BATCH 65536 /* customers' rows per prediction call (x 4 coupons) */
#define PREDICT_CONFIG                                                                             \
    "{\"type\": 0, \"training\": false, \"iteration_begin\": 0, \"iteration_end\": 0, "            \
    "\"strict_shape\": false, \"missing\": NaN, \"cache_id\": 0}"

/* The fitted trees, copied out of XGBoost's JSON model, for our own
 * prediction of all 4 coupons in one walk (see predict_row). */
typedef struct fnode {
    int32_t left, right; /* child node (absolute), -1 at a leaf */
    int32_t feat;        /* split column */
    float cond;          /* split value; the leaf value at a leaf */
} fnode;                 /* 16 bytes: one cache line holds 4 */

typedef struct forest {
    size_t ntrees, nnodes;
    size_t *root;      /* (ntrees) first node of each tree */
    fnode *node;       /* (nnodes); XGBoost's default_left is unused (no NaN input) */
    float base_margin; /* logit(base_score) */
} forest;

static int forest_load(BoosterHandle b, forest *f, oq_error *err);

struct oq_pmodel {
    oq_pmodel_info info;
    BoosterHandle booster; /* boost */
    forest fo;
    oq_resp resp; /* logistic */
};

const char *oq_pmodel_name(int kind)
{
    return kind == OQ_PMODEL_LOGISTIC ? "logistic" : "boost";
}

int oq_pmodel_parse(const char *s)
{
    if (!strcmp(s, "boost")) return OQ_PMODEL_BOOST;
    if (!strcmp(s, "logistic")) return OQ_PMODEL_LOGISTIC;
    return -1;
}

void oq_pmodel_opts_default(oq_pmodel_opts *o)
{
    memset(o, 0, sizeof *o);
    o->kind = OQ_PMODEL_BOOST;
    o->trees = 400;
    o->depth = 4;
    o->eta = 0.05;
    o->subsample = 0.8;
    o->min_child_weight = 20;
    o->lambda = 1;
    o->seed = 1;
    o->max_rows = 1000000;
}

/* XGBoost's own message after a failed call. */
static int xgb_fail(oq_error *err, const char *what)
{
    return oq_error_set(err, OQ_EIO, NULL, 0, 0, "XGBoost %s: %s", what, XGBGetLastError());
}

/* Row x's inputs (F features, then nx extra columns) with coupon c into
 * out[F + 2 + nx]: the extra columns go after the coupon's two, so those
 * keep their places (F, F + 1) with or without them. */
static void put_row(const oq_resp_feat *x, int nx, int c, float *out)
{
    for (int j = 0; j < F; j++)
        out[j] = x[j];
    out[F] = c != OQ_COUPON_NONE;
    out[F + 1] = (float)oq_coupon_value(c);
    for (int e = 0; e < nx; e++)
        out[F + 2 + e] = x[F + e];
}

/* Deterministic keep/drop of row i when subsampling to a share `keep`
 * (splitmix64 of the row index and the seed). */
static int keep_row(size_t i, uint64_t seed, double keep)
{
    uint64_t z = (uint64_t)i + seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return (double)(z >> 11) * 0x1.0p-53 < keep;
}

int oq_pmodel_keep_key(int64_t user, int32_t day, uint64_t seed, double keep)
{
    if (keep >= 1) return 1;
    uint64_t k = (uint64_t)user * 0x100000001B3ull ^ (uint64_t)(uint32_t)day;
    return keep_row((size_t)oq_mix64(k), seed, keep);
}

static int check_opts(const oq_pmodel_opts *o, oq_error *err)
{
    if (o->kind != OQ_PMODEL_BOOST && o->kind != OQ_PMODEL_LOGISTIC)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "P(order) model: unknown kind %d", o->kind);
    if (o->n_extra < 0 || o->n_extra > OQ_PMODEL_MAX_EXTRA ||
        (o->n_extra && o->kind == OQ_PMODEL_LOGISTIC))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "P(order) model: %d extra columns (0 to %d, boosted trees only)",
                            o->n_extra, OQ_PMODEL_MAX_EXTRA);
    if (o->kind == OQ_PMODEL_LOGISTIC) return 0;
    if (o->trees < 1 || o->trees > 100000 || o->depth < 1 || o->depth > 16 ||
        !(o->eta > 0 && o->eta <= 1) || !(o->subsample > 0 && o->subsample <= 1) ||
        !(o->min_child_weight >= 0) || !(o->lambda >= 0) || o->threads < 0 || o->max_rows < 1)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "P(order) model: trees must be in [1, 100000], depth in [1, 16], "
                            "eta and subsample in (0, 1], min_child_weight and lambda >= 0");
    return 0;
}

static int set_params(BoosterHandle b, const oq_pmodel_opts *o, oq_error *err)
{
    char v[7][48], mono[2 * NCOL_MAX + 3];
    int ncol = F + 2 + o->n_extra;
    int threads = o->threads;
#ifdef _OPENMP
    if (threads == 0) threads = omp_get_max_threads();
#endif
    if (threads <= 0) threads = 1;
    snprintf(v[0], sizeof v[0], "%d", o->depth);
    snprintf(v[1], sizeof v[1], "%.17g", o->eta);
    snprintf(v[2], sizeof v[2], "%.17g", o->subsample);
    snprintf(v[3], sizeof v[3], "%.17g", o->min_child_weight);
    snprintf(v[4], sizeof v[4], "%.17g", o->lambda);
    snprintf(v[5], sizeof v[5], "%d", threads);
    snprintf(v[6], sizeof v[6], "%llu", (unsigned long long)(o->seed & 0x7fffffff));
    /* P(order) may not fall as the coupon grows (given that one is offered);
     * the step from no coupon to one is free (sleeping dogs). */
    char *q = mono;
    *q++ = '(';
    for (int j = 0; j < ncol; j++)
        q += sprintf(q, "%s%s", j == F + 1 ? "1" : "0", j + 1 < ncol ? "," : ")");
    const char *kv[][2] = {{"monotone_constraints", mono},
                           {"objective", "binary:logistic"},
                           {"tree_method", "hist"},
                           {"eval_metric", "logloss"},
                           {"verbosity", "0"},
                           {"max_depth", v[0]},
                           {"eta", v[1]},
                           {"subsample", v[2]},
                           {"min_child_weight", v[3]},
                           {"lambda", v[4]},
                           {"nthread", v[5]},
                           {"seed", v[6]}};
    for (size_t k = 0; k < sizeof kv / sizeof kv[0]; k++)
        if (XGBoosterSetParam(b, kv[k][0], kv[k][1])) return xgb_fail(err, "parameters");
    return 0;
}

static int fit_boost(const oq_pmodel_opts *o, const oq_resp_feat *X, const uint8_t *coupon,
                     const uint8_t *order, size_t n, oq_pmodel *m, oq_error *err)
{
    double keep = n > o->max_rows ? (double)o->max_rows / (double)n : 1.0;
    size_t used = 0;
    for (size_t i = 0; i < n; i++)
        used += keep >= 1 || keep_row(i, o->seed, keep);
    if (used == 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "P(order) model: no rows");
    int nx = o->n_extra, ncol = F + 2 + nx;
    float *M = malloc(used * (size_t)ncol * sizeof *M), *y = malloc(used * sizeof *y);
    DMatrixHandle d = NULL;
    int rc = 0;
    if (!M || !y) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (keep < 1 && !keep_row(i, o->seed, keep)) continue;
        put_row(X + i * (size_t)(F + nx), nx, coupon[i], M + k * (size_t)ncol);
        y[k++] = order[i];
    }
    if (XGDMatrixCreateFromMat(M, (bst_ulong)used, (bst_ulong)ncol, NAN, &d) ||
        XGDMatrixSetFloatInfo(d, "label", y, (bst_ulong)used)) {
        rc = xgb_fail(err, "training matrix");
        goto cleanup;
    }
    free(M); /* the DMatrix holds its own copy */
    M = NULL;
    if (XGBoosterCreate(&d, 1, &m->booster)) {
        rc = xgb_fail(err, "booster");
        goto cleanup;
    }
    if ((rc = set_params(m->booster, o, err))) goto cleanup;
    oq_progress pr;
    oq_progress_start(&pr, "response: trees", (double)o->trees, o->quiet);
    for (int t = 0; t < o->trees; t++) {
        if (XGBoosterUpdateOneIter(m->booster, t, d)) {
            rc = xgb_fail(err, "training");
            goto cleanup;
        }
        if ((t & 15) == 0) oq_progress_update(&pr, (double)t);
    }
    oq_progress_done(&pr);
    m->info.rows_used = used;
    rc = forest_load(m->booster, &m->fo, err);
cleanup:
    if (d) XGDMatrixFree(d);
    free(M);
    free(y);
    return rc;
}

static void forest_free(forest *f)
{
    free(f->root);
    free(f->node);
    memset(f, 0, sizeof *f);
}

/* Copy the trees out of XGBoost's JSON model (learner.gradient_booster.
 * model.trees[*]: left_children, right_children, split_indices,
 * split_conditions (the leaf value at a leaf), default_left; base_score). */
static int forest_load(BoosterHandle b, forest *f, oq_error *err)
{
    bst_ulong len = 0;
    const char *buf = NULL;
    if (XGBoosterSaveModelToBuffer(b, "{\"format\": \"json\"}", &len, &buf))
        return xgb_fail(err, "model export");
    json_error_t je;
    json_t *root = json_loadb(buf, (size_t)len, 0, &je);
    json_t *learner = json_object_get(root, "learner");
    json_t *trees = json_object_get(
        json_object_get(json_object_get(learner, "gradient_booster"), "model"), "trees");
    const char *bs = json_string_value(
        json_object_get(json_object_get(learner, "learner_model_param"), "base_score"));
    int rc = 0;
    if (!root || !json_is_array(trees) || !bs) {
        rc = oq_error_set(err, OQ_EFORMAT, NULL, 0, 0, "XGBoost model: unexpected JSON layout");
        goto done;
    }
    double base = strtod(bs, NULL);
    if (!(base > 0 && base < 1)) {
        rc = oq_error_set(err, OQ_EFORMAT, NULL, 0, 0, "XGBoost model: base_score %s", bs);
        goto done;
    }
    f->base_margin = (float)log(base / (1 - base));
    f->ntrees = json_array_size(trees);
    for (size_t t = 0; t < f->ntrees; t++)
        f->nnodes += json_array_size(json_object_get(json_array_get(trees, t), "left_children"));
    size_t nn = f->nnodes ? f->nnodes : 1;
    f->root = malloc((f->ntrees ? f->ntrees : 1) * sizeof *f->root);
    f->node = malloc(nn * sizeof *f->node);
    if (!f->root || !f->node) {
        rc = oq_error_oom(err, NULL, NULL);
        goto done;
    }
    size_t k = 0;
    for (size_t t = 0; t < f->ntrees && !rc; t++) {
        json_t *tr = json_array_get(trees, t);
        json_t *L = json_object_get(tr, "left_children"),
               *R = json_object_get(tr, "right_children"),
               *S = json_object_get(tr, "split_indices"),
               *C = json_object_get(tr, "split_conditions");
        size_t m = json_array_size(L);
        if (m == 0 || json_array_size(R) != m || json_array_size(S) != m ||
            json_array_size(C) != m) {
            rc = oq_error_set(err, OQ_EFORMAT, NULL, 0, 0, "XGBoost model: tree %zu is malformed",
                              t);
            break;
        }
        f->root[t] = k;
        for (size_t j = 0; j < m; j++, k++) {
            json_int_t l = json_integer_value(json_array_get(L, j)),
                       r = json_integer_value(json_array_get(R, j)),
                       c = json_integer_value(json_array_get(S, j));
            int leaf = l < 0;
            if ((!leaf && (l >= (json_int_t)m || r < 0 || r >= (json_int_t)m ||
                           l <= (json_int_t)j || r <= (json_int_t)j)) ||
                c < 0 || c >= NCOL_MAX) {
                rc = oq_error_set(err, OQ_EFORMAT, NULL, 0, 0,
                                  "XGBoost model: tree %zu node %zu is malformed", t, j);
                break;
            }
            f->node[k] = (fnode){.left = leaf ? -1 : (int32_t)(f->root[t] + (size_t)l),
                                 .right = leaf ? -1 : (int32_t)(f->root[t] + (size_t)r),
                                 .feat = (int32_t)c,
                                 .cond = (float)json_number_value(json_array_get(C, j))};
        }
    }
done:
    json_decref(root);
    if (rc) forest_free(f);
    return rc;
}

/* P(order) of one customer row x for the 4 coupons in one walk of each
 * tree: the coupons travel together as a set and part only at a split on
 * the coupon columns (F, F + 1), so most trees are walked once, not 4 times.
 * Same arithmetic as XGBoost's predictor: float sums of leaf values in tree
 * order from logit(base_score), then 1 / (1 + exp(-margin)). */
static void predict_row(const forest *f, const oq_resp_feat *x, int nx, double p[4])
{
    float in[OQ_N_COUPONS][NCOL_MAX], margin[OQ_N_COUPONS];
    for (int c = 0; c < OQ_N_COUPONS; c++) {
        put_row(x, nx, c, in[c]);
        margin[c] = f->base_margin;
    }
    for (size_t t = 0; t < f->ntrees; t++) {
        int32_t node[2 * OQ_N_COUPONS];
        unsigned mask[2 * OQ_N_COUPONS];
        int top = 0;
        node[top] = (int32_t)f->root[t];
        mask[top++] = (1u << OQ_N_COUPONS) - 1;
        while (top) {
            const fnode *nd = f->node + node[--top];
            unsigned ms = mask[top];
            while (nd->left >= 0) {
                int j = nd->feat;
                if (j != F && j != F + 1) { /* the same for every coupon */
                    nd = f->node + (in[0][j] < nd->cond ? nd->left : nd->right);
                    continue;
                }
                unsigned go_left = 0;
                for (int c = 0; c < OQ_N_COUPONS; c++)
                    if ((ms >> c & 1) && in[c][j] < nd->cond) go_left |= 1u << c;
                if (go_left && go_left != ms) { /* the set parts: walk the right part later */
                    node[top] = nd->right;
                    mask[top++] = ms & ~go_left;
                    ms = go_left;
                    nd = f->node + nd->left;
                } else {
                    nd = f->node + (go_left ? nd->left : nd->right);
                }
            }
            for (int c = 0; c < OQ_N_COUPONS; c++)
                if (ms >> c & 1) margin[c] += nd->cond;
        }
    }
    for (int c = 0; c < OQ_N_COUPONS; c++)
        p[c] = 1.0f / (1.0f + expf(-margin[c]));
}

int oq_pmodel_fit(const oq_pmodel_opts *o, const oq_resp_feat *X, const uint8_t *coupon,
                  const uint8_t *order, const double *profit, const double *aov, size_t n,
                  oq_pmodel **out, oq_error *err)
{
    *out = NULL;
    oq_pmodel_opts def;
    if (!o) {
        oq_pmodel_opts_default(&def);
        o = &def;
    }
    int rc = check_opts(o, err);
    if (rc) return rc;
    if (n == 0) return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "P(order) model: no rows");
    size_t w = (size_t)(F + o->n_extra);
    for (size_t i = 0; i < n; i++) {
        if (coupon[i] > 3)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "P(order) model: coupon %d", coupon[i]);
        for (size_t j = 0; j < w; j++)
            if (!isfinite(X[i * w + j]))
                return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "P(order) model: non-finite feature");
    }
    oq_pmodel *m = calloc(1, sizeof *m);
    if (!m) return oq_error_oom(err, NULL, NULL);
    double t0 = oq_now();
    m->info.kind = o->kind;
    m->info.n_extra = o->n_extra;
    m->info.rows = n;
    if (o->kind == OQ_PMODEL_LOGISTIC) {
        rc = oq_resp_fit(X, coupon, order, profit, aov, n, NULL, &m->resp, err);
        m->info.rows_used = n;
    } else {
        m->info.trees = o->trees;
        m->info.depth = o->depth;
        rc = fit_boost(o, X, coupon, order, n, m, err);
    }
    m->info.seconds = oq_now() - t0;
    if (rc) {
        oq_pmodel_free(m);
        return rc;
    }
    *out = m;
    return 0;
}

int oq_pmodel_predict(const oq_pmodel *m, const oq_resp_feat *X, size_t n, double *p, oq_error *err)
{
    (void)err;
    if (m->info.kind == OQ_PMODEL_LOGISTIC) {
        for (size_t i = 0; i < n; i++)
            oq_resp_p_order(&m->resp, X + i * F, p + 4 * i);
        return 0;
    }
    long nn = (long)n;
    int nx = m->info.n_extra;
    size_t w = (size_t)(F + nx);
#pragma omp parallel for schedule(static, 1024)
    for (long i = 0; i < nn; i++)
        predict_row(&m->fo, X + (size_t)i * w, nx, p + 4 * (size_t)i);
    return 0;
}

int oq_pmodel_predict_xgboost(const oq_pmodel *m, const oq_resp_feat *X, size_t n, double *p,
                              oq_error *err)
{
    if (m->info.kind == OQ_PMODEL_LOGISTIC || !m->booster)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "not a boosted P(order) model with its XGBoost booster");
    size_t cap = n < BATCH ? n : BATCH;
    int nx = m->info.n_extra, ncol = F + 2 + nx;
    float *M = malloc((cap ? cap : 1) * OQ_N_COUPONS * (size_t)ncol * sizeof *M);
    if (!M) return oq_error_oom(err, NULL, NULL);
    int rc = 0;
    for (size_t s = 0; s < n && !rc; s += BATCH) {
        size_t b = n - s < BATCH ? n - s : BATCH;
        for (size_t i = 0; i < b; i++)
            for (int c = 0; c < OQ_N_COUPONS; c++)
                put_row(X + (s + i) * (size_t)(F + nx), nx, c,
                        M + (i * OQ_N_COUPONS + (size_t)c) * (size_t)ncol);
        /* In-place prediction from our dense buffer (no DMatrix copy). */
        char arr[160];
        snprintf(arr, sizeof arr,
                 "{\"data\": [%llu, true], \"shape\": [%zu, %d], \"typestr\": \"<f4\", "
                 "\"version\": 3}",
                 (unsigned long long)(uintptr_t)M, b * OQ_N_COUPONS, ncol);
        const bst_ulong *shape = NULL;
        bst_ulong dim = 0;
        const float *pred = NULL;
        if (XGBoosterPredictFromDense(m->booster, arr, PREDICT_CONFIG, NULL, &shape, &dim, &pred) ||
            dim < 1 || shape[0] != b * OQ_N_COUPONS) {
            rc = xgb_fail(err, "prediction");
        } else {
            for (size_t i = 0; i < b * OQ_N_COUPONS; i++)
                p[s * OQ_N_COUPONS + i] = pred[i];
        }
    }
    free(M);
    return rc;
}

double oq_pmodel_logloss_sum(const double *p, const uint8_t *coupon, const uint8_t *order, size_t n)
{
    double ll = 0;
    for (size_t i = 0; i < n; i++) {
        double q = fmin(fmax(p[4 * i + coupon[i]], 1e-12), 1 - 1e-12);
        ll -= order[i] ? log(q) : log1p(-q);
    }
    return ll;
}

double oq_pmodel_logloss(const double *p, const uint8_t *coupon, const uint8_t *order, size_t n)
{
    double ll = oq_pmodel_logloss_sum(p, coupon, order, n);
    return n ? ll / (double)n : 0;
}

/* ---- the model as bytes ------------------------------------------------------------- */

#define PM_MAGIC "OFQPMOD1"

static unsigned char *put(unsigned char *p, const void *src, size_t sz)
{
    if (sz > 0) memcpy(p, src, sz);
    return p + sz;
}

int oq_pmodel_to_bytes(const oq_pmodel *m, void **out, size_t *len, oq_error *err)
{
    *out = NULL;
    *len = 0;
    const forest *f = &m->fo;
    size_t n = 8 + sizeof m->info + sizeof m->resp + 2 * sizeof(uint64_t) + sizeof f->base_margin +
               f->ntrees * sizeof(uint64_t) + f->nnodes * sizeof(fnode);
    unsigned char *b = malloc(n), *p = b;
    if (!b) return oq_error_oom(err, NULL, "the P(order) model's bytes");
    uint64_t nt = f->ntrees, nn = f->nnodes;
    p = put(p, PM_MAGIC, 8);
    p = put(p, &m->info, sizeof m->info);
    p = put(p, &m->resp, sizeof m->resp);
    p = put(p, &nt, sizeof nt);
    p = put(p, &nn, sizeof nn);
    p = put(p, &f->base_margin, sizeof f->base_margin);
    for (size_t t = 0; t < f->ntrees; t++) {
        uint64_t r = f->root[t];
        p = put(p, &r, sizeof r);
    }
    (void)put(p, f->node, f->nnodes * sizeof(fnode));
    *out = b;
    *len = n;
    return 0;
}

int oq_pmodel_from_bytes(const void *buf, size_t len, oq_pmodel **out, oq_error *err)
{
    *out = NULL;
    const unsigned char *p = buf, *end = p + len;
    oq_pmodel *m = calloc(1, sizeof *m);
    uint64_t nt = 0, nn = 0;
    if (!m) return oq_error_oom(err, NULL, NULL);
    size_t head = 8 + sizeof m->info + sizeof m->resp + 2 * sizeof nt + sizeof m->fo.base_margin;
    if (len < head || memcmp(p, PM_MAGIC, 8) != 0) goto bad;
    p += 8;
    memcpy(&m->info, p, sizeof m->info);
    p += sizeof m->info;
    memcpy(&m->resp, p, sizeof m->resp);
    p += sizeof m->resp;
    memcpy(&nt, p, sizeof nt);
    p += sizeof nt;
    memcpy(&nn, p, sizeof nn);
    p += sizeof nn;
    memcpy(&m->fo.base_margin, p, sizeof m->fo.base_margin);
    p += sizeof m->fo.base_margin;
    if (m->info.n_extra < 0 || m->info.n_extra > OQ_PMODEL_MAX_EXTRA ||
        nt > (size_t)(end - p) / sizeof(uint64_t) ||
        nn != ((size_t)(end - p) - nt * sizeof(uint64_t)) / sizeof(fnode) ||
        (size_t)(end - p) != nt * sizeof(uint64_t) + nn * sizeof(fnode))
        goto bad;
    m->fo.ntrees = nt;
    m->fo.nnodes = nn;
    m->fo.root = malloc((nt ? nt : 1) * sizeof *m->fo.root);
    m->fo.node = malloc((nn ? nn : 1) * sizeof *m->fo.node);
    if (!m->fo.root || !m->fo.node) {
        oq_pmodel_free(m);
        return oq_error_oom(err, NULL, NULL);
    }
    for (size_t t = 0; t < nt; t++) {
        uint64_t r;
        memcpy(&r, p, sizeof r);
        p += sizeof r;
        if (r >= nn) goto bad;
        m->fo.root[t] = (size_t)r;
    }
    if (nn) memcpy(m->fo.node, p, nn * sizeof(fnode));
    for (size_t k = 0; k < nn; k++) {
        const fnode *d = &m->fo.node[k];
        if (d->left >= 0 && ((uint64_t)d->left >= nn || d->right < 0 || (uint64_t)d->right >= nn ||
                             d->left <= (int32_t)k || d->right <= (int32_t)k || d->feat < 0 ||
                             d->feat >= F + 2 + m->info.n_extra))
            goto bad;
    }
    *out = m;
    return 0;
bad:
    oq_pmodel_free(m);
    return oq_error_set(err, OQ_EFORMAT, NULL, 0, 0, "a P(order) model's bytes are malformed");
}

const oq_pmodel_info *oq_pmodel_get_info(const oq_pmodel *m)
{
    return &m->info;
}

const oq_resp *oq_pmodel_logistic(const oq_pmodel *m)
{
    return m->info.kind == OQ_PMODEL_LOGISTIC ? &m->resp : NULL;
}

void oq_pmodel_free(oq_pmodel *m)
{
    if (!m) return;
    if (m->booster) XGBoosterFree(m->booster);
    forest_free(&m->fo);
    free(m);
}
