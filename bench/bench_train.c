/* bench_train.c - throughput of the profit Transformer (seed configuration:
 * T 30, d 32, 4 heads, 2 layers, FFN 64, head 64, batch 256) in training and
 * inference, achieved GFLOP/s against the FP32 peak (AVX2+FMA: 32 FLOP per
 * cycle per core, clock from /proc/cpuinfo), the validation MSE after 3
 * epochs, and the same model in PyTorch (bench/train_torch.py) on the same
 * samples when /usr/bin/python3 has torch. Writes bench/results/train.md.
 *
 * Usage: bench_train [--customers N] [--steps N] [--epochs E] [--no-torch]
 * (OMP_NUM_THREADS sets the cores used; run from the source tree.) */
#include "offerq/core/data.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"
#include "offerq/coupon/profit.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

static void die(const oq_error *e)
{
    char b[1200];
    oq_error_format(e, b, sizeof b);
    fprintf(stderr, "bench_train: %s\n", b);
    exit(1);
}

static double cpu_mhz(void)
{
    FILE *fp = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0;
    while (fp && fgets(line, sizeof line, fp))
        if (!strncmp(line, "cpu MHz", 7)) {
            char *c = strchr(line, ':');
            if (c) mhz = atof(c + 1);
            break;
        }
    if (fp) fclose(fp);
    return mhz;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    long customers = 3000;
    int steps = 60, epochs = 3, torch = 1;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--customers") && i + 1 < argc)
            customers = atol(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--no-torch"))
            torch = 0;
        else {
            fprintf(stderr,
                    "usage: bench_train [--customers N] [--steps N] [--epochs E] [--no-torch]\n");
            return 2;
        }
    }
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    oq_error err = {0};
    char dir[] = "/tmp/offerq-bench-XXXXXX", path[512], evp[512], sp[512];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/log.csv", dir);
    snprintf(sp, sizeof sp, "%s/samples.bin", dir);
    oq_gen_config g;
    oq_gen_config_default(&g);
    g.n_customers = customers;
    g.quiet = 1;
    g.write_orders = 0;
    if (oq_gen_write(&g, path, &err)) die(&err);
    oq_log *log;
    oq_log_index *ix;
    oq_events *ev;
    if (oq_log_read(path, &log, &err) || oq_log_index_build(log, &ix, &err)) die(&err);
    if (oq_sidecar_path(path, ".events.csv", evp, sizeof evp) ||
        oq_events_read(evp, &log->cats, &ev, &err))
        die(&err);
    oq_profit_data *d;
    oq_profit_samples *s;
    if (oq_profit_data_new(log, ix, ev, NULL, 30, &d, &err) || oq_profit_data_build(d, &s, &err))
        die(&err);
    oq_profit_config cfg;
    oq_profit_config_default(&cfg);
    oq_profit *m;
    if (oq_profit_new(&cfg, &log->cats, 1, &m, &err)) die(&err);
    int B = 256, T = cfg.seq_len;

    /* training throughput: forward + backward + AdamW on batches of 256 */
    uint16_t *tok = malloc((size_t)B * T * sizeof *tok);
    float *z = malloc((size_t)B * 6 * sizeof *z), *y = malloc(B * sizeof *y);
    double loss, t0 = 0;
    for (int k = -2; k < steps; k++) { /* 2 warm-up steps */
        if (k == 0) t0 = oq_now();
        for (int j = 0; j < B; j++) {
            size_t i = ((size_t)(k + 2) * B + j) % s->n;
            memcpy(tok + (size_t)j * T, s->tok + i * T, T * sizeof *tok);
            for (int f = 0; f < 5; f++)
                z[j * 6 + f] = s->feat[i * 5 + f] / 50.0f;
            z[j * 6 + 5] = (float)(oq_coupon_value(s->coupon[i]) / 20);
            y[j] = s->target[i] / 15.0f;
        }
        if (oq_profit_forward(m, tok, z, B, 1, (uint64_t)k + 5, y, NULL, &loss, &err) ||
            oq_profit_backward(m, &err))
            die(&err);
        oq_profit_adamw(m, 2e-3, 0.9, 0.999, 1e-8, 0.01, 1.0);
    }
    double train_sps = (double)steps * B / (oq_now() - t0);
    /* inference: each sample with its coupon, and all 4 coupons per sample */
    float *pred = malloc(s->n * 4 * sizeof *pred);
    t0 = oq_now();
    if (oq_profit_predict(m, s, pred, &err)) die(&err);
    double infer_sps = s->n / (oq_now() - t0);
    t0 = oq_now();
    if (oq_profit_predict_all(m, s, pred, &err)) die(&err);
    double all_pps = 4.0 * s->n / (oq_now() - t0);
    double ftr = oq_profit_flops(&cfg, 1), fin = oq_profit_flops(&cfg, 0);
    double mhz = cpu_mhz(), peak = mhz * 1e6 * 32 * threads;

    /* quality: 3 epochs from a fresh model, as `offerq train` */
    oq_profit_free(m);
    if (oq_profit_new(&cfg, &log->cats, 1, &m, &err)) die(&err);
    oq_profit_train_opts o;
    oq_profit_train_opts_default(&o);
    o.epochs = epochs;
    o.quiet = 1;
    oq_profit_epoch *hist = calloc((size_t)epochs, sizeof *hist);
    t0 = oq_now();
    if (epochs > 0 && oq_profit_train(m, s, &o, hist, &err)) die(&err);
    double train_wall = oq_now() - t0;
    size_t ntr = 0;
    for (size_t i = 0; i < s->n; i++)
        ntr += !oq_profit_is_val(o.seed, s->user_id[i], o.val_frac);

    /* the same samples for PyTorch */
    char tline[512] = "";
    double tt = 0, ti = 0, tv = 0, tm = 0;
    char tver[64] = "";
    if (torch) {
        FILE *fp = fopen(sp, "wb");
        int32_t hdr[3] = {(int32_t)s->n, T, m->cfg.vocab};
        fwrite(hdr, 4, 3, fp);
        for (size_t i = 0; i < s->n * T; i++) {
            int32_t v = s->tok[i];
            fwrite(&v, 4, 1, fp);
        }
        fwrite(s->feat, 4, s->n * 5, fp);
        for (size_t i = 0; i < s->n; i++) {
            float c = (float)(oq_coupon_value(s->coupon[i]) / 20);
            fwrite(&c, 4, 1, fp);
        }
        fwrite(s->target, 4, s->n, fp);
        for (size_t i = 0; i < s->n; i++)
            fputc(oq_profit_is_val(o.seed, s->user_id[i], o.val_frac), fp);
        fclose(fp);
        char cmd[1024];
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 bench/train_torch.py %s --steps %d --epochs %d --threads %d "
                 "",
                 sp, steps / 3 > 5 ? steps / 3 : 5, epochs, threads);
        FILE *pp = popen(cmd, "r");
        if (pp && fgets(tline, sizeof tline, pp) &&
            sscanf(tline, "torch %63s train_sps %lf infer_sps %lf val_mse %lf mean_mse %lf", tver,
                   &tt, &ti, &tv, &tm) == 5) {
        } else {
            tver[0] = 0;
        }
        if (pp) pclose(pp);
    }

    char md[8192];
    int n =
        snprintf(md, sizeof md,
                 "# bench_train: profit Transformer (seed configuration)\n\n"
                 "Log: `offerq gen` defaults with %ld customers (%zu samples, %zu for training); "
                 "%d thread(s), %.0f MHz (from /proc/cpuinfo), FP32 peak %.1f GFLOP/s "
                 "(32 FLOP/cycle/core).\n"
                 "FLOPs per sample: %.2f M training (3x forward), %.2f M inference.\n\n"
                 "| measure | offerq (C) | PyTorch %s | ratio |\n|---|---|---|---|\n"
                 "| training, samples/s (batch 256, fwd+bwd+AdamW) | %.0f | %.0f | %.1fx |\n"
                 "| training GFLOP/s (share of peak) | %.1f (%.1f%%) | | |\n"
                 "| inference, samples/s (one coupon each) | %.0f | %.0f | %.1fx |\n"
                 "| inference GFLOP/s (share of peak) | %.1f (%.1f%%) | | |\n"
                 "| predict_all, (customer, coupon) pairs/s | %.0f | | |\n"
                 "| validation MSE after %d epochs | %.3f | %.3f | |\n"
                 "| predict-the-mean validation MSE | %.3f | %.3f | |\n"
                 "| wall time of the %d epochs (incl. validation) | %.1f s | | |\n\n"
                 "Command: `OMP_NUM_THREADS=%d ./build/bench_train --customers %ld --steps %d "
                 "--epochs %d` (from the source tree)\n",
                 customers, s->n, ntr, threads, mhz, peak / 1e9, ftr / 1e6, fin / 1e6,
                 tver[0] ? tver : "(not run)", train_sps, tt, tt > 0 ? train_sps / tt : 0,
                 train_sps * ftr / 1e9, 100 * train_sps * ftr / peak, infer_sps, ti,
                 ti > 0 ? infer_sps / ti : 0, infer_sps * fin / 1e9, 100 * infer_sps * fin / peak,
                 all_pps, epochs, epochs ? hist[epochs - 1].val_mse : 0, tv,
                 epochs ? hist[epochs - 1].val_mse_mean : 0, tm, epochs, train_wall, threads,
                 customers, steps, epochs);
    fputs(md, stdout);
    if (oq_write_file_atomic("bench/results/train.md", md, (size_t)n, &err))
        fprintf(stderr,
                "bench_train: could not write bench/results/train.md (run from the source tree)\n");
    free(hist);
    free(pred);
    free(tok);
    free(z);
    free(y);
    oq_profit_free(m);
    oq_profit_samples_free(s);
    oq_profit_data_free(d);
    oq_events_free(ev);
    oq_log_index_free(ix);
    oq_log_free(log);
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm)) return 1;
    return 0;
}
