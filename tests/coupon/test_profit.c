/* test_profit.c - the profit Transformer against PyTorch, finite differences,
 * its data pipeline, its checkpoint and a learning check on a generated log. */
#include "testutil.h"

#include "offerq/core/data.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"
#include "offerq/coupon/profit.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_randist.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A dictionary "c0", "c1", ... of n categories. */
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

static int close_to(double got, double want, double tol)
{
    return fabs(got - want) <= tol * (1 + fabs(want));
}

/* ---- golden values from tools/profit_golden.py (PyTorch 1.13) ------------- */

static void read_exact(FILE *fp, void *p, size_t n)
{
    assert_int_equal(fread(p, 1, n, fp), n);
}

static void test_golden_pytorch(void **state)
{
    (void)state;
    FILE *fp = fopen(tu_source("tests/golden/profit/ref.bin"), "rb");
    assert_non_null(fp);
    int32_t h[9];
    read_exact(fp, h, sizeof h);
    assert_int_equal(h[0], 0x4F515047);
    int T = h[1], B = h[8];
    oq_profit_config cfg = {.seq_len = T,
                            .d = h[2],
                            .heads = h[3],
                            .layers = h[4],
                            .ff = h[5],
                            .hidden = h[6],
                            .dropout = 0};
    oq_dict d;
    make_dict(&d, h[7] - 2);
    oq_profit *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_profit_new(&cfg, &d, 1, &m, &err), 0);
    size_t P = m->n_params;
    int32_t *tok32 = malloc(B * T * sizeof *tok32);
    uint16_t *tok = malloc(B * T * sizeof *tok);
    float *z = malloc(B * 6 * sizeof *z), *y = malloc(B * sizeof *y),
          *out = malloc(B * sizeof *out);
    float *ref_out = malloc(B * sizeof *ref_out), ref_loss;
    float *grads = malloc(P * sizeof *grads), *params2 = malloc(P * sizeof *params2);
    read_exact(fp, tok32, B * T * sizeof *tok32);
    for (int i = 0; i < B * T; i++)
        tok[i] = (uint16_t)tok32[i];
    read_exact(fp, z, B * 6 * sizeof *z);
    read_exact(fp, y, B * sizeof *y);
    read_exact(fp, m->mem, P * sizeof *m->mem);
    read_exact(fp, ref_out, B * sizeof *ref_out);
    read_exact(fp, &ref_loss, sizeof ref_loss);
    read_exact(fp, grads, P * sizeof *grads);
    read_exact(fp, params2, P * sizeof *params2);
    assert_int_equal(fgetc(fp), EOF); /* parameter count agrees with the file */
    fclose(fp);

    double loss;
    assert_int_equal(oq_profit_forward(m, tok, z, B, 1, 7, y, out, &loss, &err), 0);
    for (int i = 0; i < B; i++)
        assert_true(close_to(out[i], ref_out[i], 1e-4));
    assert_true(close_to(loss, ref_loss, 1e-4));
    assert_int_equal(oq_profit_backward(m, &err), 0);
    size_t off = 0;
    for (int t = 0; t < OQ_PROFIT_NTENSORS; t++) {
        double worst = 0;
        for (size_t i = 0; i < m->tensor_size[t]; i++) {
            double diff = fabs(m->gmem[off + i] - grads[off + i]) / (1 + fabs(grads[off + i]));
            if (diff > worst) worst = diff;
        }
        if (worst > 1e-4)
            print_error("gradient of %s: worst error %g\n", oq_profit_tensor_name(t), worst);
        assert_true(worst <= 1e-4);
        off += m->tensor_size[t];
    }
    /* two AdamW steps with clipping, as torch.optim.AdamW + clip_grad_norm_ */
    for (int s = 0; s < 2; s++) {
        assert_int_equal(oq_profit_forward(m, tok, z, B, 1, 7, y, NULL, &loss, &err), 0);
        assert_int_equal(oq_profit_backward(m, &err), 0);
        double norm = oq_profit_adamw(m, 2e-3, 0.9, 0.999, 1e-8, 0.01, 1.0);
        assert_true(norm > 0);
    }
    /* The key bias has an analytically zero gradient (softmax is invariant to
     * a shift shared by a query's scores); its float-noise gradient (~1e-9)
     * is turned by Adam's normalisation into steps of up to lr in either
     * implementation, so there only the size of the step is comparable. */
    for (size_t i = 0; i < P; i++) {
        if (fabs(grads[i]) < 1e-7)
            assert_true(fabs(m->mem[i] - params2[i]) <= 2 * 2 * 2e-3 + 1e-4);
        else
            assert_true(close_to(m->mem[i], params2[i], 1e-4));
    }
    free(tok32);
    free(tok);
    free(z);
    free(y);
    free(out);
    free(ref_out);
    free(grads);
    free(params2);
    oq_profit_free(m);
    oq_dict_clear(&d);
}

/* ---- finite differences ------------------------------------------------------ */

/* Every parameter tensor's gradient (with dropout on, fixed masks) against
 * central differences of the float32 loss, Richardson-extrapolated:
 * D = (4 D(h/2) - D(h)) / 3 cancels the O(h^2) term, leaving O(h^4) plus
 * rounding ~ 1e-7 |L| / h. With h = 4e-3 and a loss of a few units that is
 * ~1e-4 absolute, so 1e-2 relative (+1e-3 absolute) is what a correct float
 * gradient meets, while a wrong or missing term (e.g. ignoring a dropout
 * mask) is off by 5-50%. Plain central differences at h = 1e-2 are not
 * enough here: the curvature of this small, randomly perturbed network gives
 * 5-10% truncation errors. The PyTorch golden test pins the gradient to 1e-4
 * without dropout. */
static double loss_at(oq_profit *m, const uint16_t *tok, const float *z, const float *y, int B)
{
    double loss;
    oq_error err = {0};
    assert_int_equal(oq_profit_forward(m, tok, z, B, 1, 99, y, NULL, &loss, &err), 0);
    return loss;
}

/* Richardson-extrapolated central difference along u (p = save + s u). */
static double fd_dir(oq_profit *m, float *p, const float *save, const float *u, size_t n, double h,
                     const uint16_t *tok, const float *z, const float *y, int B)
{
    double d[2];
    for (int k = 0; k < 2; k++) {
        double hk = k ? h / 2 : h, l[2];
        for (int sgn = 0; sgn < 2; sgn++) {
            for (size_t i = 0; i < n; i++)
                p[i] = save[i] + (float)(sgn ? -hk : hk) * u[i];
            l[sgn] = loss_at(m, tok, z, y, B);
        }
        d[k] = (l[0] - l[1]) / (2 * hk);
    }
    memcpy(p, save, n * sizeof *p);
    return (4 * d[1] - d[0]) / 3;
}

static void test_gradcheck(void **state)
{
    (void)state;
    enum { B = 4 };
    oq_profit_config cfg = {
        .seq_len = 6, .d = 8, .heads = 2, .layers = 2, .ff = 12, .hidden = 10, .dropout = 0.3f};
    oq_dict d;
    make_dict(&d, 5);
    oq_profit *m = NULL;
    oq_error err = {0};
    assert_int_equal(oq_profit_new(&cfg, &d, 3, &m, &err), 0);
    gsl_rng *r = oq_rng_new(5, 0);
    for (size_t i = 0; i < m->n_params; i++)
        m->mem[i] += (float)gsl_ran_gaussian(r, 0.1);
    uint16_t tok[B * 6];
    float z[B * 6], y[B];
    for (int i = 0; i < B * 6; i++)
        tok[i] = (uint16_t)gsl_rng_uniform_int(r, 7);
    for (int i = 0; i < B * 6; i++)
        z[i] = (float)gsl_ran_gaussian(r, 1);
    for (int i = 0; i < B; i++)
        y[i] = (float)gsl_ran_gaussian(r, 1);
    double l0 = loss_at(m, tok, z, y, B);
    assert_true(isfinite(l0) && l0 > 0);
    assert_int_equal(oq_profit_backward(m, &err), 0);
    float *g = malloc(m->n_params * sizeof *g), *u = malloc(m->n_params * sizeof *u);
    memcpy(g, m->gmem, m->n_params * sizeof *g);
    const double h = 4e-3, tol = 3e-2;
    size_t off = 0;
    for (int t = 0; t < OQ_PROFIT_NTENSORS; t++) {
        size_t n = m->tensor_size[t];
        float *p = m->mem + off;
        /* directional derivative along a random unit direction */
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
        double fd = fd_dir(m, p, save, u, n, h, tok, z, y, B);
        if (fabs(fd - gu) > tol * fabs(gu) + 1e-3)
            print_error("%s: directional fd %g, analytic %g\n", oq_profit_tensor_name(t), fd, gu);
        assert_true(fabs(fd - gu) <= tol * fabs(gu) + 1e-3);
        /* the entry with the largest gradient */
        size_t k = 0;
        for (size_t i = 1; i < n; i++)
            if (fabs(g[off + i]) > fabs(g[off + k])) k = i;
        for (size_t i = 0; i < n; i++)
            u[i] = i == k;
        fd = fd_dir(m, p, save, u, n, h, tok, z, y, B);
        double an = g[off + k];
        if (fabs(fd - an) > tol * fabs(an) + 1e-3)
            print_error("%s[%zu]: fd %g, analytic %g\n", oq_profit_tensor_name(t), k, fd, an);
        assert_true(fabs(fd - an) <= tol * fabs(an) + 1e-3);
        assert_true(fabs(an) > 0); /* every tensor takes part */
        free(save);
        off += n;
    }
    /* dropout is on: another mask seed gives another loss */
    double l2;
    assert_int_equal(oq_profit_forward(m, tok, z, B, 1, 100, y, NULL, &l2, &err), 0);
    assert_true(fabs(l2 - l0) > 1e-6);
    free(g);
    free(u);
    gsl_rng_free(r);
    oq_profit_free(m);
    oq_dict_clear(&d);
}

/* ---- the sample builder ------------------------------------------------------ */

static const char LOG[] = OQ_LOG_HEADER "\n"
                                        "1,2025-01-10,3,1,50,toys,0.9,none,1,30\n"
                                        "1,2025-01-20,10,1,50,books,0.8,10,1,40\n"
                                        "2,2025-01-15,5,0,20,books,0.5,5,0,0\n";
static const char EVENTS[] = "user_id,date,category\n"
                             "1,2025-01-17,books\n" /* day-3 of 2025-01-20 */
                             "1,2025-01-05,toys\n"  /* out of order on purpose */
                             "1,2025-01-19,garden\n"
                             "1,2025-01-20,toys\n" /* the snapshot day itself: not used */
                             "2,2025-01-14,toys\n";

static void test_samples(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_log *log = NULL;
    oq_log_index *ix = NULL;
    oq_events *ev = NULL;
    assert_int_equal(oq_log_read_mem("log", LOG, strlen(LOG), &log, &err), 0);
    assert_int_equal(oq_log_index_build(log, &ix, &err), 0);
    assert_int_equal(oq_events_read_mem("ev", EVENTS, strlen(EVENTS), &log->cats, &ev, &err), 0);
    long toys = oq_dict_find(&log->cats, "toys"), books = oq_dict_find(&log->cats, "books");
    long garden = oq_dict_find(&log->cats, "garden");
    oq_profit_data *d = NULL;
    oq_profit_samples *s = NULL;
    /* with events, T = 16 */
    assert_int_equal(oq_profit_data_new(log, ix, ev, NULL, 16, &d, &err), 0);
    assert_int_equal(oq_profit_data_build(d, &s, &err), 0);
    assert_int_equal(s->n, 3);
    const uint16_t *t1 = s->tok + 1 * 16; /* row 1: user 1 on 2025-01-20, days 01-04 .. 01-19 */
    for (int t = 0; t < 16; t++) {
        uint16_t want = OQ_PROFIT_TOK_EMPTY;
        if (t == 1) want = (uint16_t)(2 + toys);    /* 01-05 */
        if (t == 13) want = (uint16_t)(2 + books);  /* 01-17 */
        if (t == 15) want = (uint16_t)(2 + garden); /* 01-19 */
        assert_int_equal(t1[t], want);
    }
    assert_float_equal(s->target[1], 30.0f, 1e-6); /* 40 - coupon 10 */
    assert_float_equal(s->target[0], 30.0f, 1e-6);
    assert_float_equal(s->feat[1 * 5 + 0], 10.0f, 0);
    assert_float_equal(s->feat[1 * 5 + 4], (float)books, 0);
    assert_int_equal(s->coupon[1], OQ_COUPON_10);
    assert_int_equal(s->tok[2 * 16 + 15], 2 + toys); /* user 2, 01-14 */
    oq_profit_samples_free(s);
    /* the next day: features advanced, stream up to the day before */
    assert_int_equal(oq_profit_data_day(d, log->day[1] + 2, &s, &err), 0);
    assert_int_equal(s->n, 2);
    assert_float_equal(s->feat[0], 2.0f, 0);         /* ordered on 01-20: 2 days since */
    assert_float_equal(s->feat[5 + 0], 5.0f + 7, 0); /* user 2: 5 + (01-22 - 01-15) */
    assert_int_equal(s->tok[15], 1);                 /* 01-21: no event */
    assert_int_equal(s->tok[14], 2 + toys);          /* 01-20 */
    oq_profit_samples_free(s);
    oq_profit_data_free(d);
    /* without events: the earlier log rows' categories after PAD */
    assert_int_equal(oq_profit_data_new(log, ix, NULL, NULL, 4, &d, &err), 0);
    assert_int_equal(oq_profit_data_build(d, &s, &err), 0);
    uint16_t want1[4] = {0, 0, 0, (uint16_t)(2 + toys)};
    for (int t = 0; t < 4; t++)
        assert_int_equal(s->tok[4 + t], want1[t]);
    for (int t = 0; t < 4; t++)
        assert_int_equal(s->tok[t], OQ_PROFIT_TOK_PAD);
    oq_profit_samples_free(s);
    oq_profit_data_free(d);
    oq_events_free(ev);
    oq_log_index_free(ix);
    oq_log_free(log);
}

/* ---- learning on a generated log, checkpoint, batched inference --------------- */

/* Validation MSE; shuffle_seed != 0 gives each validation sample the stream
 * of another (random) validation customer: features, coupon and target
 * stay, the link between the customer and its browsing is broken. */
static double mse_of(const oq_profit *m, const oq_profit_samples *s, const unsigned char *val,
                     uint64_t shuffle_seed)
{
    oq_error err = {0};
    int T = s->seq_len;
    oq_profit_samples *v = NULL;
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++)
        n += val[i];
    assert_int_equal(oq_profit_samples_new(n, T, &v, &err), 0);
    gsl_rng *r = oq_rng_new(shuffle_seed, 0);
    size_t j = 0, *src = malloc(n * sizeof *src);
    for (size_t i = 0; i < s->n; i++)
        if (val[i]) src[j++] = i;
    if (shuffle_seed) gsl_ran_shuffle(r, src, n, sizeof *src);
    j = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (!val[i]) continue;
        memcpy(v->tok + j * T, s->tok + src[j] * T, T * sizeof *v->tok);
        memcpy(v->feat + j * 5, s->feat + i * 5, 5 * sizeof *v->feat);
        v->coupon[j] = s->coupon[i];
        v->target[j] = s->target[i];
        j++;
    }
    float *pred = malloc(n * sizeof *pred);
    assert_int_equal(oq_profit_predict(m, v, pred, &err), 0);
    double e = 0;
    for (size_t i = 0; i < n; i++)
        e += (pred[i] - v->target[i]) * (pred[i] - v->target[i]);
    free(pred);
    free(src);
    gsl_rng_free(r);
    oq_profit_samples_free(v);
    return e / n;
}

static void test_learns_and_checkpoint(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[512], model_path[512];
    snprintf(path, sizeof path, "%s/log.csv", dir);
    snprintf(model_path, sizeof model_path, "%s/m.ofq", dir);
    oq_gen_config g;
    oq_gen_config_default(&g);
    g.n_customers = 1500;
    g.seed = 11;
    g.quiet = 1;
    g.write_orders = 0;
    /* The world this check was calibrated on: without lasting effects. In
     * the default world (lapse, deal-proneness) fewer customers live and the
     * model's edge over the mean here is 4 % (209.1 vs 217.8), under the
     * 5 % asked below; what is tested is that training learns the stream. */
    oq_gen_lasting_off(&g.lasting);
    oq_error err = {0};
    assert_int_equal(oq_gen_write(&g, path, &err), 0);
    oq_log *log = NULL;
    oq_log_index *ix = NULL;
    oq_events *ev = NULL;
    char evp[512];
    assert_int_equal(oq_log_read(path, &log, &err), 0);
    assert_int_equal(oq_log_index_build(log, &ix, &err), 0);
    assert_int_equal(oq_sidecar_path(path, ".events.csv", evp, sizeof evp), 0);
    assert_int_equal(oq_events_read(evp, &log->cats, &ev, &err), 0);
    oq_profit_data *d = NULL;
    oq_profit_samples *s = NULL;
    assert_int_equal(oq_profit_data_new(log, ix, ev, NULL, 30, &d, &err), 0);
    assert_int_equal(oq_profit_data_build(d, &s, &err), 0);

    oq_profit_config cfg;
    oq_profit_config_default(&cfg);
    oq_profit *m = NULL;
    assert_int_equal(oq_profit_new(&cfg, &log->cats, 1, &m, &err), 0);
    oq_profit_train_opts o;
    oq_profit_train_opts_default(&o);
    o.epochs = 4;
    o.quiet = 1;
    oq_profit_epoch hist[4];
    assert_int_equal(oq_profit_train(m, s, &o, hist, &err), 0);
    unsigned char *val = malloc(s->n);
    for (size_t i = 0; i < s->n; i++)
        val[i] = (unsigned char)oq_profit_is_val(o.seed, s->user_id[i], o.val_frac);
    double mse = mse_of(m, s, val, 0), mse_shuf = mse_of(m, s, val, 77);
    print_message("validation MSE %.3f, predict-the-mean %.3f, stream shuffled %.3f\n",
                  hist[3].val_mse, hist[3].val_mse_mean, mse_shuf);
    assert_true(close_to(mse, hist[3].val_mse, 1e-4));
    assert_true(hist[3].val_mse < 0.95 * hist[3].val_mse_mean);
    assert_true(mse_shuf > 1.02 * mse);

    /* predict_all agrees with predict for each coupon */
    float *all = malloc(s->n * 4 * sizeof *all), *one = malloc(s->n * sizeof *one);
    assert_int_equal(oq_profit_predict_all(m, s, all, &err), 0);
    unsigned char *saved = malloc(s->n);
    memcpy(saved, s->coupon, s->n);
    for (int c = 0; c < 4; c++) {
        memset(s->coupon, c, s->n);
        assert_int_equal(oq_profit_predict(m, s, one, &err), 0);
        for (size_t i = 0; i < s->n; i += 97)
            assert_float_equal(all[i * 4 + c], one[i], 1e-5);
    }
    memcpy(s->coupon, saved, s->n);

    /* checkpoint round trip: identical predictions */
    assert_int_equal(oq_profit_save(m, model_path, &err), 0);
    oq_profit *m2 = NULL;
    assert_int_equal(oq_profit_load(model_path, &m2, &err), 0);
    float *all2 = malloc(s->n * 4 * sizeof *all2);
    assert_int_equal(oq_profit_predict_all(m2, s, all2, &err), 0);
    assert_memory_equal(all, all2, s->n * 4 * sizeof *all);
    oq_profit_free(m2);
    /* corruptions */
    char *data;
    size_t len;
    assert_int_equal(oq_read_file(model_path, 1 << 26, &data, &len, &err), 0);
    char bad[512];
    snprintf(bad, sizeof bad, "%s/bad.ofq", dir);
    data[len / 2] ^= 1;
    assert_int_equal(oq_write_file_atomic(bad, data, len, &err), 0);
    assert_int_equal(oq_profit_load(bad, &m2, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "checksum"));
    assert_null(m2);
    data[len / 2] ^= 1;
    data[8] = 9; /* version 9 */
    assert_int_equal(oq_write_file_atomic(bad, data, len, &err), 0);
    assert_int_equal(oq_profit_load(bad, &m2, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "version 9"));
    data[8] = 1;
    assert_int_equal(oq_write_file_atomic(bad, data, len - 100, &err), 0);
    assert_int_equal(oq_profit_load(bad, &m2, &err), OQ_EFORMAT);
    data[0] = 'X';
    assert_int_equal(oq_write_file_atomic(bad, data, len, &err), 0);
    assert_int_equal(oq_profit_load(bad, &m2, &err), OQ_EFORMAT);
    assert_non_null(strstr(err.msg, "magic"));
    free(data);

    free(all);
    free(all2);
    free(one);
    free(saved);
    free(val);
    oq_profit_free(m);
    oq_profit_samples_free(s);
    oq_profit_data_free(d);
    oq_events_free(ev);
    oq_log_index_free(ix);
    oq_log_free(log);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_golden_pytorch),
        cmocka_unit_test(test_gradcheck),
        cmocka_unit_test(test_samples),
        cmocka_unit_test(test_learns_and_checkpoint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
