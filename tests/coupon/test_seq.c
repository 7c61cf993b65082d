/* test_seq.c - the sequence response model: every layer against PyTorch
 * (tools/seq_golden.py), every parameter's gradient against finite
 * differences, the day tokens of its sample builder, and learning,
 * prediction and the checkpoint on a generated log. */
#include "testutil.h"

#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "offerq/coupon/gen.h"
#include "offerq/coupon/gross.h"
#include "offerq/coupon/seq.h"

#include <gsl/gsl_randist.h>
#ifdef _OPENMP
#include <omp.h>
#endif
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void make_dict(oq_dict *d, int n)
{
    memset(d, 0, sizeof *d);
    for (int k = 0; k < n; k++) {
        char name[16];
        uint32_t id;
        snprintf(name, sizeof name, "c%d", k);
        assert_int_equal(oq_dict_intern(d, name, strlen(name), &id), 0);
    }
}

static void read_exact(FILE *fp, void *p, size_t n)
{
    assert_int_equal(fread(p, 1, n, fp), n);
}

/* Worst |got - want| / (1 + |want|) over n values. */
static double worst_err(const float *got, const float *want, size_t n)
{
    double w = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)got[i] - want[i]) / (1 + fabs(want[i]));
        if (e > w || e != e) w = e != e ? INFINITY : e;
    }
    return w;
}

static void check_layer(const char *name, const float *got, const float *want, size_t n)
{
    double w = worst_err(got, want, n);
    if (!(w <= 1e-4)) print_error("%s: worst error %g\n", name, w);
    assert_true(w <= 1e-4);
}

/* ---- golden values from tools/seq_golden.py (PyTorch 1.13) --------------------- */

static void test_golden_pytorch(void **state)
{
    (void)state;
    FILE *fp = fopen(tu_source("tests/golden/seq/ref.bin"), "rb");
    assert_non_null(fp);
    int32_t h[12];
    read_exact(fp, h, sizeof h);
    assert_int_equal(h[0], 0x4F515347);
    int T = h[1], C = h[2], B = h[10];
    assert_int_equal(h[11], OQ_SEQ_NSTATE);
    oq_seq_config cfg = {.seq_len = T,
                         .d = C,
                         .heads = h[3],
                         .layers = h[4],
                         .ff = h[5],
                         .pool_heads = h[6],
                         .hidden = h[7],
                         .n_bands = h[8],
                         .dropout = 0};
    oq_dict d;
    make_dict(&d, h[9] - 2);
    oq_seq *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_seq_new(&cfg, &d, 1, &m, &err), 0);
    size_t P = m->n_params, nt = (size_t)B * T * OQ_SEQ_NTOK;
    int32_t *tok32 = malloc(nt * sizeof *tok32), cp32[64];
    uint16_t *tok = malloc(nt * sizeof *tok);
    uint8_t cp[64];
    float *zs = malloc((size_t)B * OQ_SEQ_NSTATE * sizeof *zs), *y = malloc(B * sizeof *y);
    float *x0 = malloc((size_t)B * T * C * sizeof *x0), *enc = malloc((size_t)B * T * C * 4);
    float *pooled = malloc((size_t)B * C * 4), *all4 = malloc((size_t)B * 4 * 4);
    float *ref_logit = malloc(B * 4), ref_loss, *logit = malloc(B * 4), *got4 = malloc(B * 16);
    float *grads = malloc(P * 4), *params2 = malloc(P * 4);
    assert_true(B <= 64);
    read_exact(fp, tok32, nt * sizeof *tok32);
    for (size_t i = 0; i < nt; i++)
        tok[i] = (uint16_t)tok32[i];
    read_exact(fp, zs, (size_t)B * OQ_SEQ_NSTATE * sizeof *zs);
    read_exact(fp, cp32, (size_t)B * sizeof *cp32);
    for (int i = 0; i < B; i++)
        cp[i] = (uint8_t)cp32[i];
    read_exact(fp, y, B * sizeof *y);
    read_exact(fp, m->mem, P * sizeof *m->mem);
    read_exact(fp, x0, (size_t)B * T * C * 4);
    read_exact(fp, enc, (size_t)B * T * C * 4);
    read_exact(fp, pooled, (size_t)B * C * 4);
    read_exact(fp, all4, (size_t)B * 4 * 4);
    read_exact(fp, ref_logit, B * 4);
    read_exact(fp, &ref_loss, 4);
    read_exact(fp, grads, P * 4);
    read_exact(fp, params2, P * 4);
    assert_int_equal(fgetc(fp), EOF); /* the parameter count agrees with the file */
    fclose(fp);

    double loss;
    assert_int_equal(oq_seq_forward(m, tok, zs, cp, B, 1, 7, y, logit, got4, &loss, &err), 0);
    /* layer by layer: embedding, encoder, coupon query pooling, head, loss */
    check_layer("embedding", oq_seq_activation(m, OQ_SEQ_ACT_X0), x0, (size_t)B * T * C);
    check_layer("encoder", oq_seq_activation(m, OQ_SEQ_ACT_ENC), enc, (size_t)B * T * C);
    check_layer("pooling", oq_seq_activation(m, OQ_SEQ_ACT_POOLED), pooled, (size_t)B * C);
    check_layer("head (all coupons)", got4, all4, (size_t)B * 4);
    check_layer("head (logged coupon)", logit, ref_logit, (size_t)B);
    assert_true(fabs(loss - ref_loss) <= 1e-4 * (1 + fabs(ref_loss)));
    assert_int_equal(oq_seq_backward(m, &err), 0);
    size_t off = 0;
    for (int t = 0; t < OQ_SEQ_NTENSORS; t++) {
        char name[64];
        snprintf(name, sizeof name, "gradient of %s", oq_seq_tensor_name(t));
        check_layer(name, m->gmem + off, grads + off, m->tensor_size[t]);
        off += m->tensor_size[t];
    }
    /* two AdamW steps with clipping, as torch.optim.AdamW + clip_grad_norm_
     * (the keys' biases have an analytically zero gradient, as in
     * test_profit.c: there only the step's size is comparable) */
    for (int s = 0; s < 2; s++) {
        assert_int_equal(oq_seq_forward(m, tok, zs, cp, B, 1, 7, y, NULL, NULL, &loss, &err), 0);
        assert_int_equal(oq_seq_backward(m, &err), 0);
        assert_true(oq_seq_adamw(m, 2e-3, 0.9, 0.999, 1e-8, 0.01, 1.0) > 0);
    }
    for (size_t i = 0; i < P; i++) {
        if (fabs(grads[i]) < 1e-7)
            assert_true(fabs(m->mem[i] - params2[i]) <= 2 * 2 * 2e-3 + 1e-4);
        else
            assert_true(fabs(m->mem[i] - params2[i]) <= 1e-4 * (1 + fabs(params2[i])));
    }
    free(tok32);
    free(tok);
    free(zs);
    free(y);
    free(x0);
    free(enc);
    free(pooled);
    free(all4);
    free(ref_logit);
    free(logit);
    free(got4);
    free(grads);
    free(params2);
    oq_seq_free(m);
    oq_dict_clear(&d);
}

/* ---- finite differences -------------------------------------------------------- */

/* Each tensor's gradient (dropout on, fixed masks) against a
 * Richardson-extrapolated central difference of the float32 loss along a
 * random direction and along its largest entry (test_profit.c says why
 * these tolerances). */
typedef struct fd_case {
    oq_seq *m;
    const uint16_t *tok;
    const float *zs, *y;
    const uint8_t *cp;
    int B;
} fd_case;

static double loss_at(const fd_case *f)
{
    double loss;
    oq_error err = {0};
    assert_int_equal(
        oq_seq_forward(f->m, f->tok, f->zs, f->cp, f->B, 1, 99, f->y, NULL, NULL, &loss, &err), 0);
    return loss;
}

static double fd_dir(const fd_case *f, float *p, const float *save, const float *u, size_t n,
                     double h)
{
    double d[2];
    for (int k = 0; k < 2; k++) {
        double hk = k ? h / 2 : h, l[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            for (size_t i = 0; i < n; i++)
                p[i] = save[i] + (float)(sgn ? -hk : hk) * u[i];
            l[sgn] = loss_at(f);
        }
        d[k] = (l[0] - l[1]) / (2 * hk);
    }
    memcpy(p, save, n * sizeof *p);
    return (4 * d[1] - d[0]) / 3;
}

static void test_gradcheck(void **state)
{
    (void)state;
    enum { B = 6, T = 7 };
    oq_seq_config cfg = {.seq_len = T,
                         .d = 8,
                         .heads = 2,
                         .layers = 2,
                         .ff = 12,
                         .pool_heads = 2,
                         .hidden = 10,
                         .n_bands = 3,
                         .dropout = 0.3f};
    oq_dict d;
    make_dict(&d, 4);
    oq_seq *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_seq_new(&cfg, &d, 3, &m, &err), 0);
    gsl_rng *r = oq_rng_new(5, 0);
    for (size_t i = 0; i < m->n_params; i++)
        m->mem[i] += (float)gsl_ran_gaussian(r, 0.1);
    uint16_t tok[B * T * 3];
    float zs[B * OQ_SEQ_NSTATE], y[B];
    uint8_t cp[B] = {0, 1, 2, 3, 1, 2};
    int lim[3] = {6, 4, 9};
    for (int i = 0; i < B * T * 3; i++)
        tok[i] = (uint16_t)gsl_rng_uniform_int(r, (unsigned long)lim[i % 3]);
    for (int i = 0; i < B * OQ_SEQ_NSTATE; i++)
        zs[i] = (float)gsl_ran_gaussian(r, 1);
    for (int i = 0; i < B; i++)
        y[i] = (float)(i % 2);
    fd_case f = {m, tok, zs, y, cp, B};
    double l0 = loss_at(&f);
    assert_true(isfinite(l0) && l0 > 0);
    assert_int_equal(oq_seq_backward(m, &err), 0);
    float *g = malloc(m->n_params * sizeof *g), *u = malloc(m->n_params * sizeof *u);
    memcpy(g, m->gmem, m->n_params * sizeof *g);
    const double h = 1e-3, tol = 3e-2;
    size_t off = 0;
    for (int t = 0; t < OQ_SEQ_NTENSORS; t++) {
        size_t n = m->tensor_size[t];
        float *p = m->mem + off;
        double nn = 0, gu = 0;
        for (size_t i = 0; i < n; i++) {
            u[i] = (float)gsl_ran_gaussian(r, 1);
            nn += (double)u[i] * u[i];
        }
        for (size_t i = 0; i < n; i++) {
            u[i] = (float)(u[i] / sqrt(nn));
            gu += (double)g[off + i] * u[i];
        }
        float *save = malloc(n * sizeof *save);
        memcpy(save, p, n * sizeof *save);
        double fd = fd_dir(&f, p, save, u, n, h);
        if (fabs(fd - gu) > tol * fabs(gu) + 1e-4)
            print_error("%s: directional fd %g, analytic %g\n", oq_seq_tensor_name(t), fd, gu);
        assert_true(fabs(fd - gu) <= tol * fabs(gu) + 1e-4);
        size_t k = 0;
        for (size_t i = 1; i < n; i++)
            if (fabs(g[off + i]) > fabs(g[off + k])) k = i;
        for (size_t i = 0; i < n; i++)
            u[i] = i == k;
        fd = fd_dir(&f, p, save, u, n, h);
        double an = g[off + k];
        if (fabs(fd - an) > tol * fabs(an) + 1e-4)
            print_error("%s[%zu]: fd %g, analytic %g\n", oq_seq_tensor_name(t), k, fd, an);
        assert_true(fabs(fd - an) <= tol * fabs(an) + 1e-4);
        assert_true(fabs(an) > 0); /* every tensor takes part */
        free(save);
        off += n;
    }
    double l2;
    assert_int_equal(oq_seq_forward(m, tok, zs, cp, B, 1, 100, y, NULL, NULL, &l2, &err), 0);
    assert_true(fabs(l2 - l0) > 1e-6); /* dropout is on */
    free(g);
    free(u);
    gsl_rng_free(r);
    oq_seq_free(m);
    oq_dict_clear(&d);
}

/* ---- the data-parallel step ------------------------------------------------------ */

/* oq_seq_step (micro-batches over the threads, gradients summed in
 * micro-batch order) against one forward, backward and AdamW of the whole
 * batch (dropout off, so both see the same network): the same update to
 * float rounding; and the same bytes whatever the number of threads. */
static void test_step(void **state)
{
    (void)state;
    enum { B = 70, T = 9 }; /* three micro-batches, the last one short */
    oq_seq_config cfg = {.seq_len = T,
                         .d = 16,
                         .heads = 4,
                         .layers = 1,
                         .ff = 24,
                         .pool_heads = 2,
                         .hidden = 12,
                         .n_bands = 3,
                         .dropout = 0};
    oq_dict d;
    make_dict(&d, 5);
    oq_error err = {0};
    oq_seq *m[3];
    for (int k = 0; k < 3; k++)
        assert_int_equal(oq_seq_new(&cfg, &d, 9, &m[k], &err), 0);
    gsl_rng *r = oq_rng_new(6, 0);
    uint16_t tok[B * T * 3];
    float zs[B * OQ_SEQ_NSTATE], y[B];
    uint8_t cp[B];
    int lim[3] = {7, 4, 9};
    for (int i = 0; i < B * T * 3; i++)
        tok[i] = (uint16_t)gsl_rng_uniform_int(r, (unsigned long)lim[i % 3]);
    for (int i = 0; i < B * OQ_SEQ_NSTATE; i++)
        zs[i] = (float)gsl_ran_gaussian(r, 1);
    for (int i = 0; i < B; i++) {
        cp[i] = (uint8_t)(i % 4);
        y[i] = (float)(gsl_rng_uniform(r) < 0.3);
    }
    oq_seq_train_opts o;
    oq_seq_train_opts_default(&o);
    double loss[3], gn[3];
    assert_int_equal(oq_seq_forward(m[0], tok, zs, cp, B, 1, 1, y, NULL, NULL, &loss[0], &err), 0);
    assert_int_equal(oq_seq_backward(m[0], &err), 0);
    gn[0] = oq_seq_adamw(m[0], 1e-3, o.beta1, o.beta2, o.eps, o.weight_decay, o.clip);
    for (int k = 1; k < 3; k++) {
#ifdef _OPENMP
        omp_set_num_threads(k);
#endif
        assert_int_equal(oq_seq_step(m[k], tok, zs, cp, y, B, 1, 1e-3, &o, &loss[k], &gn[k], &err),
                         0);
    }
    assert_true(fabs(loss[1] - loss[0]) <= 1e-6 * loss[0]);
    assert_true(fabs(gn[1] - gn[0]) <= 1e-5 * gn[0]);
    for (size_t i = 0; i < m[0]->n_params; i++)
        assert_true(fabs(m[1]->mem[i] - m[0]->mem[i]) <= 1e-6 + 1e-5 * fabs(m[0]->mem[i]));
    assert_memory_equal(m[1]->mem, m[2]->mem, m[1]->n_params * sizeof *m[1]->mem);
    assert_true(loss[1] == loss[2] && gn[1] == gn[2]);
    /* a bad token is refused, with no update */
    float *save = malloc(m[1]->n_params * sizeof *save);
    memcpy(save, m[1]->mem, m[1]->n_params * sizeof *save);
    tok[3 * T * 3 + 1] = 4; /* an order band past n_bands */
    assert_int_equal(oq_seq_step(m[1], tok, zs, cp, y, B, 1, 1e-3, &o, &loss[1], &gn[1], &err),
                     OQ_EINVAL);
    assert_memory_equal(save, m[1]->mem, m[1]->n_params * sizeof *save);
    free(save);
    gsl_rng_free(r);
    for (int k = 0; k < 3; k++)
        oq_seq_free(m[k]);
    oq_dict_clear(&d);
}

/* ---- the sample builder ----------------------------------------------------------- */

static const char LOG[] = OQ_LOG_HEADER "\n"
                                        "1,2025-01-10,3,1,50,toys,0.9,5,1,30\n"
                                        "1,2025-01-20,10,1,50,books,0.8,10,1,40\n"
                                        "2,2025-01-15,5,0,20,books,0.5,none,0,0\n";
static const char EVENTS[] = "user_id,date,category\n"
                             "1,2025-01-17,books\n"
                             "1,2025-01-05,toys\n"
                             "1,2025-01-19,garden\n"
                             "1,2025-01-20,toys\n" /* the row's own day: not used */
                             "2,2025-01-14,toys\n";
static const char ORDERS[] = "user_id,date,value\n"
                             "1,2025-01-10,60\n"
                             "1,2025-01-12,10\n"
                             "1,2025-01-12,15\n" /* the same day: summed, 25 */
                             "1,2025-01-20,80\n"
                             "2,2025-01-01,200\n";

static void test_samples(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_log *log = NULL;
    oq_log_index *ix = NULL;
    oq_events *ev = NULL;
    oq_orders *ord = NULL;
    assert_int_equal(oq_log_read_mem("log", LOG, strlen(LOG), &log, &err), 0);
    assert_int_equal(oq_log_index_build(log, &ix, &err), 0);
    assert_int_equal(oq_events_read_mem("ev", EVENTS, strlen(EVENTS), &log->cats, &ev, &err), 0);
    assert_int_equal(oq_orders_read_mem("ord", ORDERS, strlen(ORDERS), &ord, &err), 0);
    long toys = oq_dict_find(&log->cats, "toys"), books = oq_dict_find(&log->cats, "books");
    long garden = oq_dict_find(&log->cats, "garden");
    oq_seq_data *d = NULL;
    oq_seq_samples *s = NULL;
    double edges[3];
    /* 2 bands cut at the median of the 5 summed... values 60, 10, 15, 80, 200:
     * sorted 10 15 60 80 200, edge = v[(1/2) 4] = 60 */
    assert_int_equal(oq_seq_data_new(log, ix, ev, ord, NULL, 16, 2, edges, &d, &err), 0);
    assert_float_equal(edges[0], 60, 0);
    assert_int_equal(oq_seq_data_build(d, log, NULL, NULL, &s, &err), 0);
    assert_int_equal(s->n, 3);
    /* row 1: user 1 on 2025-01-20, days 01-04 .. 01-19 */
    const uint16_t *t1 = s->tok + 1 * 16 * 3;
    for (int t = 0; t < 16; t++) {
        uint16_t b = 0, o = 0, c = 0;
        if (t == 1) b = (uint16_t)(2 + toys);    /* 01-05 */
        if (t == 13) b = (uint16_t)(2 + books);  /* 01-17 */
        if (t == 15) b = (uint16_t)(2 + garden); /* 01-19 */
        if (t == 6) o = 2, c = 1 + 2 * 1 + 1;    /* 01-10: 60 >= 60; coupon 5, ordered */
        if (t == 8) o = 1;                       /* 01-12: 25 < 60 */
        assert_int_equal(t1[3 * t], b);
        assert_int_equal(t1[3 * t + 1], o);
        assert_int_equal(t1[3 * t + 2], c);
    }
    assert_float_equal(s->state[1 * OQ_SEQ_NSTATE + 0], log1p(10.0), 1e-6);
    assert_float_equal(s->state[1 * OQ_SEQ_NSTATE + 4], 1.0, 0);
    /* the whole browsing history before 01-20: 01-05 toys, 01-17 books,
     * 01-19 garden: 15 days, 3 events, no repeat */
    assert_float_equal(s->state[1 * OQ_SEQ_NSTATE + 5], log1p(15.0), 1e-6);
    assert_float_equal(s->state[1 * OQ_SEQ_NSTATE + 6], 3.0 / 15, 1e-6);
    assert_float_equal(s->state[1 * OQ_SEQ_NSTATE + 7], 0.3 / 3, 1e-6);
    assert_int_equal(s->coupon[1], 2);
    assert_int_equal(s->order[1], 1);
    assert_float_equal(s->reward[1], 30.0, 1e-6);
    /* user 2 on 01-15: the order of 01-01 and the browse of 01-14 */
    const uint16_t *t2 = s->tok + 2 * 16 * 3;
    assert_int_equal(t2[3 * 15], 2 + toys);
    assert_int_equal(t2[3 * 2 + 1], 2); /* 01-01: 200 >= 60 (day 0 is 12-30) */
    oq_seq_samples_free(s);
    oq_seq_data_free(d);
    /* without events and orders: the contact day's category, the log's order rows */
    assert_int_equal(oq_seq_data_new(log, ix, NULL, NULL, NULL, 16, 2, edges, &d, &err), 0);
    assert_int_equal(oq_seq_data_build(d, log, NULL, NULL, &s, &err), 0);
    t1 = s->tok + 1 * 16 * 3;
    assert_int_equal(t1[3 * 6], 2 + toys);
    assert_int_equal(t1[3 * 6 + 2], 4);
    assert_true(t1[3 * 6 + 1] >= 1);
    oq_seq_samples_free(s);
    oq_seq_data_free(d);
    oq_orders_free(ord);
    oq_events_free(ev);
    oq_log_index_free(ix);
    oq_log_free(log);
}

/* ---- learning, prediction and the checkpoint on a generated log ------------------ */

/* A generated log (customers, seed) in a fresh folder, with its events,
 * orders, a new model (T days) and its samples (g = 40: a constant margin is
 * enough for the report's arithmetic). */
typedef struct gen_fixture {
    char *dir;
    oq_log *log;
    oq_log_index *ix;
    oq_events *ev;
    oq_orders *ord;
    oq_seq_config cfg;
    oq_seq *m;
    oq_seq_data *d;
    oq_seq_samples *s;
    double *g;
} gen_fixture;

static void fixture_new(gen_fixture *f, int customers, uint64_t seed, int T)
{
    memset(f, 0, sizeof *f);
    f->dir = tu_tmpdir();
    char path[512], evp[512], orp[512];
    snprintf(path, sizeof path, "%s/log.csv", f->dir);
    oq_gen_config gc;
    oq_gen_config_default(&gc);
    gc.n_customers = customers;
    gc.seed = seed;
    gc.quiet = 1;
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&gc, path, &err), 0);
    assert_int_equal(oq_log_read(path, &f->log, &err), 0);
    assert_int_equal(oq_log_index_build(f->log, &f->ix, &err), 0);
    assert_int_equal(oq_sidecar_path(path, ".events.csv", evp, sizeof evp), 0);
    assert_int_equal(oq_sidecar_path(path, ".orders.csv", orp, sizeof orp), 0);
    assert_int_equal(oq_events_read(evp, &f->log->cats, &f->ev, &err), 0);
    assert_int_equal(oq_orders_read(orp, &f->ord, &err), 0);
    oq_seq_config_default(&f->cfg);
    f->cfg.seq_len = T;
    assert_int_equal(oq_seq_new(&f->cfg, &f->log->cats, 1, &f->m, &err), 0);
    assert_int_equal(oq_seq_data_new(f->log, f->ix, f->ev, f->ord, NULL, T, f->cfg.n_bands,
                                     f->m->band_edge, &f->d, &err),
                     0);
    f->g = malloc(f->log->n * sizeof *f->g);
    for (size_t i = 0; i < f->log->n; i++)
        f->g[i] = 40;
    assert_int_equal(oq_seq_data_build(f->d, f->log, NULL, f->g, &f->s, &err), 0);
}

static void fixture_free(gen_fixture *f)
{
    free(f->g);
    oq_seq_free(f->m);
    oq_seq_samples_free(f->s);
    oq_seq_data_free(f->d);
    oq_orders_free(f->ord);
    oq_events_free(f->ev);
    oq_log_index_free(f->ix);
    oq_log_free(f->log);
    tu_rmdir(f->dir);
    free(f->dir);
}

/* Training options for a test: `epochs` epochs, all of them run, quiet. */
static oq_seq_train_opts quiet_opts(int epochs)
{
    oq_seq_train_opts o;
    oq_seq_train_opts_default(&o);
    o.epochs = epochs;
    o.patience = 0;
    o.quiet = 1;
    return o;
}

static void test_learns_and_checkpoint(void **state)
{
    (void)state;
    gen_fixture f;
    fixture_new(&f, 2000, 11, 30);
    oq_seq *m = f.m;
    oq_seq_samples *s = f.s;
    const char *dir = f.dir;
    char model_path[512];
    snprintf(model_path, sizeof model_path, "%s/m.ofq", dir);
    oq_error err = {0};
    oq_seq_train_opts o = quiet_opts(4);
    oq_seq_epoch hist[4];
    oq_seq_train_report rep;
    assert_int_equal(oq_seq_train(m, s, &o, hist, &rep, &err), 0);
    print_message("held-out log-loss %.4f (order rates %.4f), DR %.3f +-%.3f, best epoch %d\n",
                  hist[rep.best_epoch - 1].val_logloss, hist[3].val_logloss_base,
                  hist[rep.best_epoch - 1].val_dr, hist[rep.best_epoch - 1].val_dr_se,
                  rep.best_epoch);
    assert_int_equal(rep.epochs_run, 4);
    assert_true(rep.best_epoch >= 1 && rep.best_epoch <= 4);
    assert_true(rep.n_val > 0 && rep.n_train > 3 * rep.n_val);
    assert_true(fabs(rep.mu[0] - 0.4) < 0.05); /* the generator's logging policy */
    /* the model learns something beyond the coupons' order rates */
    double best_ll = INFINITY;
    for (int e = 0; e < 4; e++)
        best_ll = fmin(best_ll, hist[e].val_logloss);
    assert_true(best_ll < hist[3].val_logloss_base - 0.01);
    /* predict agrees with the forward's logits of all 4 coupons */
    double *P = malloc(s->n * 4 * sizeof *P);
    assert_int_equal(oq_seq_predict(m, s, P, &err), 0);
    {
        enum { K = 5 };
        float zs[K * OQ_SEQ_NSTATE], all4[K * 4];
        uint8_t cp[K] = {0};
        for (int i = 0; i < K; i++)
            for (int k = 0; k < OQ_SEQ_NSTATE; k++)
                zs[i * OQ_SEQ_NSTATE + k] =
                    (float)((s->state[i * OQ_SEQ_NSTATE + k] - m->state_mean[k]) / m->state_std[k]);
        assert_int_equal(oq_seq_forward(m, s->tok, zs, cp, K, 0, 0, NULL, NULL, all4, NULL, &err),
                         0);
        for (int i = 0; i < K * 4; i++)
            assert_float_equal(P[i], 1 / (1 + exp(-all4[i])), 1e-5);
    }
    /* checkpoint round trip: identical predictions, the same bands */
    assert_int_equal(oq_seq_save(m, model_path, &err), 0);
    oq_seq *m2 = NULL;
    assert_int_equal(oq_seq_load(model_path, &m2, &err), 0);
    double *P2 = malloc(s->n * 4 * sizeof *P2);
    assert_int_equal(oq_seq_predict(m2, s, P2, &err), 0);
    assert_memory_equal(P, P2, s->n * 4 * sizeof *P);
    assert_memory_equal(m->band_edge, m2->band_edge, sizeof m->band_edge);
    oq_seq_free(m2);
    char *data;
    size_t len;
    assert_int_equal(oq_read_file(model_path, 1 << 26, &data, &len, &err), 0);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.ofq", dir);
    data[len / 2] ^= 1;
    assert_int_equal(oq_write_file_atomic(bad, data, len, &err), 0);
    assert_int_equal(oq_seq_load(bad, &m2, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum"));
    data[len / 2] ^= 1;
    assert_int_equal(oq_write_file_atomic(bad, data, len - 100, &err), 0);
    assert_int_equal(oq_seq_load(bad, &m2, &err), OQ_EFORMAT);
    data[0] = 'X';
    assert_int_equal(oq_write_file_atomic(bad, data, len, &err), 0);
    assert_int_equal(oq_seq_load(bad, &m2, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "magic"));
    assert_null(m2);
    free(data);
    free(P);
    free(P2);
    fixture_free(&f);
}

/* ---- the warm start: the last day, the shape check, a short training ------------- */

/* The model file at path rewritten as format version 1 (no last day). */
static void write_v1(const char *path, const char *out)
{
    char *data;
    size_t len;
    oq_error err = {0};
    assert_int_equal(oq_read_file(path, 1 << 26, &data, &len, &err), 0);
    size_t at = 8 + 4 + 9 * 4 + 4; /* magic, version, dims, dropout: then last_day */
    memmove(data + at, data + at + 4, len - at - 4);
    len -= 4;
    data[8] = 1;
    uint32_t crc = oq_crc32(0, data, len - 4);
    for (int k = 0; k < 4; k++)
        data[len - 4 + k] = (char)(crc >> (8 * k));
    assert_int_equal(oq_write_file_atomic(out, data, len, &err), 0);
    free(data);
}

static void test_warm_start(void **state)
{
    (void)state;
    gen_fixture f;
    fixture_new(&f, 1500, 12, 14);
    oq_seq *m = f.m;
    oq_seq_samples *s = f.s;
    oq_error err = {0};
    oq_seq_train_opts o = quiet_opts(2);
    oq_seq_epoch hist[3];
    oq_seq_train_report rep;
    assert_int_equal(oq_seq_train(m, s, &o, hist, &rep, &err), 0);
    assert_int_equal(rep.first_epoch, 1);
    int32_t cut;
    assert_int_equal(oq_date_parse("2025-06-10", 10, &cut), 0);
    m->last_day = cut;
    char path[512], v1[512];
    snprintf(path, sizeof path, "%s/m.ofq", f.dir);
    snprintf(v1, sizeof v1, "%s/v1.ofq", f.dir);
    assert_int_equal(oq_seq_save(m, path, &err), 0);
    /* the round trip keeps the last day and gives bit-identical predictions */
    double *P = malloc(s->n * 4 * sizeof *P), *P2 = malloc(s->n * 4 * sizeof *P2);
    assert_int_equal(oq_seq_predict(m, s, P, &err), 0);
    oq_seq *w = NULL;
    assert_int_equal(oq_seq_load(path, &w, &err), 0);
    assert_int_equal(w->last_day, cut);
    assert_int_equal(oq_seq_predict(w, s, P2, &err), 0);
    assert_memory_equal(P, P2, s->n * 4 * sizeof *P);
    /* a version 1 file: the same model, its last day unknown */
    write_v1(path, v1);
    oq_seq *w1 = NULL;
    assert_int_equal(oq_seq_load(v1, &w1, &err), 0);
    assert_int_equal(w1->last_day, OQ_SEQ_NO_DAY);
    memset(P2, 0, s->n * 4 * sizeof *P2);
    assert_int_equal(oq_seq_predict(w1, s, P2, &err), 0);
    assert_memory_equal(P, P2, s->n * 4 * sizeof *P);
    oq_seq_free(w1);
    /* the shape check: the same shape passes; each difference is named */
    assert_int_equal(oq_seq_check_shape(w, path, &f.cfg, &f.log->cats, &err), 0);
    oq_seq_config c2 = f.cfg;
    c2.seq_len = 20;
    assert_int_equal(oq_seq_check_shape(w, path, &c2, &f.log->cats, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "days of history (seq_len) 14, this run's model 20"));
    c2 = f.cfg;
    c2.n_bands = 3;
    assert_int_equal(oq_seq_check_shape(w, path, &c2, &f.log->cats, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "order value bands 4, this run's model 3"));
    oq_dict more = {0}, fewer = {0};
    uint32_t id;
    for (uint32_t k = 0; k < f.log->cats.n; k++) {
        const char *nm = f.log->cats.names[k];
        assert_int_equal(oq_dict_intern(&more, nm, strlen(nm), &id), 0);
        if (k) assert_int_equal(oq_dict_intern(&fewer, nm, strlen(nm), &id), 0);
    }
    assert_int_equal(oq_dict_intern(&more, "zzz-new", 7, &id), 0);
    assert_int_equal(oq_seq_check_shape(w, path, &f.cfg, &more, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "does not know the log's category 'zzz-new'"));
    assert_int_equal(oq_seq_check_shape(w, path, &f.cfg, &fewer, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "categories, the log"));
    oq_dict_clear(&more);
    oq_dict_clear(&fewer);
    /* the rows after the last day are fresh */
    uint8_t *fresh = malloc(s->n);
    size_t nfresh = 0;
    for (size_t i = 0; i < s->n; i++) {
        fresh[i] = f.log->day[i] > cut;
        nfresh += fresh[i] && !oq_seq_is_val(o.seed, s->user_id[i], o.val_frac);
    }
    assert_true(nfresh > 50 && nfresh < 2000);
    /* no training epoch: epoch 0 is the only candidate, the weights stay */
    o.warm_epochs = 0;
    assert_int_equal(oq_seq_train_warm(w, s, fresh, &o, hist, &rep, &err), 0);
    assert_int_equal(rep.first_epoch, 0);
    assert_int_equal(rep.best_epoch, 0);
    assert_int_equal(rep.epochs_run, 1);
    assert_true(isfinite(hist[0].val_dr) && isnan(hist[0].train_logloss));
    assert_memory_equal(w->mem, m->mem, m->n_params * sizeof *m->mem);
    /* two epochs of 2,000 rows: every fresh training row, then a replay
     * sample; the scaling is the model's; the same seed gives the same bytes */
    o.warm_epochs = 2;
    o.warm_rows = 2000;
    assert_int_equal(oq_seq_train_warm(w, s, fresh, &o, hist, &rep, &err), 0);
    assert_int_equal(rep.n_fresh, nfresh);
    assert_int_equal(rep.n_replay, 2000 - nfresh);
    /* patience 1: epoch 2 only after a better epoch 1 */
    assert_true(rep.best_epoch >= 0 && rep.best_epoch <= 2);
    assert_int_equal(rep.epochs_run, rep.best_epoch == 0 ? 2 : 3);
    assert_memory_equal(w->state_mean, m->state_mean, sizeof m->state_mean);
    assert_memory_equal(w->state_std, m->state_std, sizeof m->state_std);
    if (rep.best_epoch > 0) assert_memory_not_equal(w->mem, m->mem, m->n_params * sizeof *m->mem);
    oq_seq *w2 = NULL;
    assert_int_equal(oq_seq_load(path, &w2, &err), 0);
    assert_int_equal(oq_seq_train_warm(w2, s, fresh, &o, NULL, NULL, &err), 0);
    assert_memory_equal(w->mem, w2->mem, m->n_params * sizeof *m->mem);
    /* fewer rows than the fresh ones: a sample of them, no replay */
    o.warm_rows = 20;
    assert_int_equal(oq_seq_train_warm(w2, s, fresh, &o, NULL, &rep, &err), 0);
    assert_int_equal(rep.n_fresh, 20);
    assert_int_equal(rep.n_replay, 0);
    assert_int_equal(oq_seq_train_warm(w2, s, NULL, &o, NULL, &rep, &err), OQ_EINVAL);
    oq_seq_free(w2);
    oq_seq_free(w);
    free(fresh);
    free(P);
    free(P2);
    fixture_free(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_pytorch),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_step),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_learns_and_checkpoint),
        cmocka_unit_test(test_warm_start),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
