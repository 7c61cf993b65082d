/* test_seqfeat.c - `offerq run --seq-features`: the sequence model's
 * cross-fitted logits as 4 more inputs of the response model's trees
 * (reward_response.c, oq_seq_fold_logits in reward_sequence.c). On a
 * generated log: the columns are there and finite, a row's columns are the
 * logits of the model trained on the other half of the customers (rebuilt
 * here from the public seq.h calls), the fit is deterministic given the
 * seed, and the trees use the columns. And `--seq-state full`, the
 * sequence model given the response model's features as state. */
#include "testutil.h"

#include "coupon/reward_int.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/gen.h"
#include "offerq/coupon/gross.h"
#include "offerq/coupon/reward.h"
#include "offerq/coupon/seq.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define W (OQ_RESP_NFEAT + 4)

typedef struct fixture {
    char *dir;
    char path[512];
    oq_log *log, *tom;
    oq_log_index *ix;
    oq_alive *alive;
    oq_seq_opts so;
    oq_pmodel_opts po;
    oq_reward_input in;
} fixture;

static void fixture_new(fixture *f)
{
    memset(f, 0, sizeof *f);
    f->dir = tu_tmpdir();
    snprintf(f->path, sizeof f->path, "%s/log.csv", f->dir);
    oq_gen_config gc;
    oq_gen_config_default(&gc);
    gc.n_customers = 600;
    gc.seed = 5;
    gc.quiet = 1;
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&gc, f->path, &err), 0);
    assert_int_equal(oq_log_read(f->path, &f->log, &err), 0);
    assert_int_equal(oq_log_index_build(f->log, &f->ix, &err), 0);
    int32_t day = oq_log_last_day(f->log) + 1;
    assert_int_equal(oq_log_tomorrow(f->log, f->ix, day, &f->tom, &err), 0);
    oq_alive_opts ao = {.log_path = f->path, .quiet = 1};
    assert_int_equal(oq_alive_fit(f->log, &ao, &f->alive, &err), 0);
    oq_seq_opts_default(&f->so);
    f->so.cfg.seq_len = 14;
    f->so.train.epochs = 2;
    f->so.train.min_epochs = 1;
    f->so.train.quiet = 1;
    oq_pmodel_opts_default(&f->po);
    f->po.trees = 40;
    f->po.seed = 3;
    f->po.quiet = 1;
    f->in = (oq_reward_input){.log = f->log,
                              .ix = f->ix,
                              .day = day,
                              .tomorrow = f->tom,
                              .alive = f->alive,
                              .log_path = f->path,
                              .seq = &f->so,
                              .pmodel = &f->po,
                              .seq_features = 1,
                              .keep_seq_columns = 1,
                              .seed = 3,
                              .quiet = 1};
}

static void fixture_free(fixture *f)
{
    oq_alive_free(f->alive);
    oq_log_free(f->tom);
    oq_log_index_free(f->ix);
    oq_log_free(f->log);
    tu_rmdir(f->dir);
    free(f->dir);
}

static void test_columns(void **state)
{
    (void)state;
    fixture f;
    fixture_new(&f);
    oq_error err = {0};
    size_t n = f.log->n, nc = f.ix->n_customers;
    oq_reward *a = NULL, *b = NULL, *plain = NULL;
    assert_int_equal(oq_reward_fit(OQ_REWARD_RESPONSE, &f.in, &a, &err), 0);
    const oq_resp_feat *X = NULL, *Xt = NULL, *X2 = NULL, *Xt2 = NULL;
    assert_int_equal(oq_reward_response_seq_columns(a, &X, &Xt, &err), 0);
    /* present and finite, and not one value for every row */
    double lo = INFINITY, hi = -INFINITY;
    for (size_t i = 0; i < n; i++)
        for (int c = 0; c < 4; c++) {
            double v = X[i * W + OQ_RESP_NFEAT + c];
            assert_true(isfinite(v));
            lo = fmin(lo, v);
            hi = fmax(hi, v);
        }
    assert_true(hi - lo > 0.1);
    for (size_t i = 0; i < nc * W; i++)
        assert_true(isfinite(Xt[i]));
    /* deterministic given the seed: the columns and r^ */
    assert_int_equal(oq_reward_fit(OQ_REWARD_RESPONSE, &f.in, &b, &err), 0);
    assert_int_equal(oq_reward_response_seq_columns(b, &X2, &Xt2, &err), 0);
    assert_memory_equal(X, X2, n * W * sizeof *X);
    assert_memory_equal(Xt, Xt2, nc * W * sizeof *Xt);
    double *r1 = malloc(n * 4 * sizeof *r1), *r2 = malloc(n * 4 * sizeof *r2);
    double *r0 = malloc(n * 4 * sizeof *r0);
    assert_int_equal(a->ops->score_rows(a, r1, &err), 0);
    assert_int_equal(b->ops->score_rows(b, r2, &err), 0);
    assert_memory_equal(r1, r2, n * 4 * sizeof *r1);
    /* the trees use the columns: r^ moves against the model without them */
    oq_reward_input in0 = f.in;
    in0.seq_features = 0;
    assert_int_equal(oq_reward_fit(OQ_REWARD_RESPONSE, &in0, &plain, &err), 0);
    assert_int_equal(oq_reward_response_seq_columns(plain, &X2, &Xt2, &err), OQ_EINVAL);
    assert_int_equal(plain->ops->score_rows(plain, r0, &err), 0);
    double diff = 0;
    for (size_t i = 0; i < n * 4; i++)
        diff = fmax(diff, fabs(r1[i] - r0[i]));
    assert_true(diff > 1e-3);
    /* the first 12 columns are the plain model's features */
    const oq_resp_feat *F0 = NULL;
    const double *rh0 = NULL, *g0 = NULL;
    oq_reward *kept = NULL;
    in0.keep_features = 1;
    assert_int_equal(oq_reward_fit(OQ_REWARD_RESPONSE, &in0, &kept, &err), 0);
    assert_int_equal(oq_reward_response_rows(kept, &F0, &rh0, &g0, &err), 0);
    for (size_t i = 0; i < n; i++)
        assert_memory_equal(X + i * W, F0 + i * OQ_RESP_NFEAT, OQ_RESP_NFEAT * sizeof *X);
    oq_reward_free(kept);
    /* only with the boosted trees */
    oq_pmodel_opts lg = f.po;
    lg.kind = OQ_PMODEL_LOGISTIC;
    oq_reward_input inl = f.in;
    inl.pmodel = &lg;
    oq_reward *bad = NULL;
    assert_int_equal(oq_reward_fit(OQ_REWARD_RESPONSE, &inl, &bad, &err), OQ_EINVAL);
    assert_null(bad);
    free(r0);
    free(r1);
    free(r2);
    oq_reward_free(a);
    oq_reward_free(b);
    oq_reward_free(plain);
    fixture_free(&f);
}

/* The cross-fit's wiring: an odd customer's rows get the logits of the model
 * trained on the even customers alone, rebuilt here step by step. */
static void test_cross_fit(void **state)
{
    (void)state;
    fixture f;
    fixture_new(&f);
    oq_error err = {0};
    size_t n = f.log->n, nc = f.ix->n_customers;
    float *row = malloc(n * W * sizeof *row), *tom = malloc(nc * W * sizeof *tom);
    oq_seq_fold_info info;
    assert_int_equal(oq_seq_fold_logits(&f.in, OQ_GROSS_MIX_FILTER, row, W, tom, W, &info, &err),
                     0);
    assert_true(info.tr[0].n_train > 0 && info.tr[1].n_train > 0);
    /* the even customers' model, as oq_seq_fold_logits trains it */
    oq_events *ev = NULL;
    oq_events_ix *evx = NULL;
    char used[256];
    assert_int_equal(oq_reward_read_events(&f.in, &ev, used, sizeof used, &err), 0);
    assert_non_null(ev);
    assert_int_equal(oq_events_ix_build(ev, f.ix, &evx, &err), 0);
    oq_gross_opts go;
    oq_gross_opts_default(&go);
    oq_gross *gm = NULL;
    const oq_orders *use = oq_alive_orders(f.alive);
    double *g = malloc(n * sizeof *g), *g_tom = malloc(nc * sizeof *g_tom);
    assert_int_equal(oq_gross_fit(f.log, f.ix, ev, evx, use, &go, &gm, &err), 0);
    assert_int_equal(oq_gross_predict(gm, f.log, f.ix, ev, evx, use, f.in.day, g, g_tom, &err), 0);
    oq_seq_train_opts to = f.so.train;
    to.seed = 3;
    oq_seq *sm = NULL;
    oq_seq_data *d = NULL;
    oq_seq_samples *s = NULL, *s0 = NULL;
    assert_int_equal(oq_seq_new(&f.so.cfg, &f.log->cats, 3, &sm, &err), 0);
    assert_int_equal(oq_seq_data_new(f.log, f.ix, ev, use, NULL, sm->cfg.seq_len, sm->cfg.n_bands,
                                     sm->band_edge, &d, &err),
                     0);
    assert_int_equal(oq_seq_data_build(d, f.log, f.alive, g, &s, &err), 0);
    size_t m = 0, tt = (size_t)s->seq_len * OQ_SEQ_NTOK, k = 0;
    for (size_t i = 0; i < n; i++)
        m += (s->user_id[i] & 1) == 0;
    assert_true(m > 0 && m < n);
    assert_int_equal(oq_seq_samples_new(m, s->seq_len, &s0, &err), 0);
    for (size_t i = 0; i < n; i++) {
        if (s->user_id[i] & 1) continue;
        memcpy(s0->tok + k * tt, s->tok + i * tt, tt * sizeof *s->tok);
        memcpy(s0->state + k * OQ_SEQ_NSTATE, s->state + i * OQ_SEQ_NSTATE,
               OQ_SEQ_NSTATE * sizeof *s->state);
        s0->coupon[k] = s->coupon[i];
        s0->order[k] = s->order[i];
        s0->reward[k] = s->reward[i];
        s0->g[k] = s->g[i];
        s0->user_id[k++] = s->user_id[i];
    }
    oq_seq_epoch hist[2];
    oq_seq_train_report rep;
    assert_int_equal(oq_seq_train(sm, s0, &to, hist, &rep, &err), 0);
    assert_int_equal(rep.n_train, info.tr[0].n_train);
    double *p = malloc(n * 4 * sizeof *p);
    assert_int_equal(oq_seq_predict(sm, s, p, &err), 0);
    size_t odd = 0;
    for (size_t i = 0; i < n; i++) {
        if (!(f.log->user_id[i] & 1)) continue;
        odd++;
        for (int c = 0; c < 4; c++) {
            double q = fmin(fmax(p[4 * i + c], 1e-6), 1 - 1e-6);
            assert_float_equal(row[i * W + c], log(q / (1 - q)), 1e-5);
        }
    }
    assert_true(odd > 0);
    free(p);
    free(g);
    free(g_tom);
    oq_seq_samples_free(s);
    oq_seq_samples_free(s0);
    oq_seq_data_free(d);
    oq_seq_free(sm);
    oq_gross_free(gm);
    oq_events_ix_free(evx);
    oq_events_free(ev);
    free(row);
    free(tom);
    fixture_free(&f);
}

/* `--seq-state full`: the sequence model with the response model's 12
 * features after its own state; its file round-trips (format version 3) and
 * refuses samples of the other width. */
static void test_full_state(void **state)
{
    (void)state;
    fixture f;
    fixture_new(&f);
    oq_error err = {0};
    char mp[600];
    snprintf(mp, sizeof mp, "%s/full.ofq", f.dir);
    f.so.cfg.n_extra_state = OQ_RESP_NFEAT;
    f.in.seq_features = 0;
    f.in.save_model = mp;
    oq_reward *r = NULL;
    assert_int_equal(oq_reward_fit(OQ_REWARD_SEQUENCE, &f.in, &r, &err), 0);
    size_t nc = f.ix->n_customers;
    double *rt = malloc(nc * 4 * sizeof *rt);
    assert_int_equal(r->ops->score_tomorrow(r, rt, &err), 0);
    for (size_t i = 0; i < nc * 4; i++)
        assert_true(isfinite(rt[i]));
    oq_seq *m = NULL;
    assert_int_equal(oq_seq_load(mp, &m, &err), 0);
    assert_int_equal(m->cfg.n_extra_state, OQ_RESP_NFEAT);
    /* the extra features were scaled from data: not the unit defaults */
    int scaled = 0;
    for (int k = OQ_SEQ_NSTATE; k < OQ_SEQ_NSTATE + OQ_RESP_NFEAT; k++)
        scaled += m->state_std[k] != 1 || m->state_mean[k] != 0;
    assert_true(scaled >= 8);
    oq_seq_samples *s8 = NULL;
    assert_int_equal(oq_seq_samples_new(3, m->cfg.seq_len, &s8, &err), 0);
    double p[12];
    assert_int_equal(oq_seq_predict(m, s8, p, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "state features"));
    oq_seq_samples_free(s8);
    oq_seq_free(m);
    free(rt);
    oq_reward_free(r);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_columns),
        cmocka_unit_test(test_cross_fit),
        cmocka_unit_test(test_full_state),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
