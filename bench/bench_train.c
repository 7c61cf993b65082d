/* bench_train.c - throughput of the profit Transformer (seed configuration:
 * T 30, d 32, 4 heads, 2 layers, FFN 64, head 64, batch 256) in training and
 * inference, achieved GFLOP/s against the FP32 peak (AVX2+FMA: 32 FLOP per
 * cycle per core, clock from /proc/cpuinfo), the validation MSE after 3
 * epochs, and the same model in PyTorch (bench/train_torch.py) on the same
 * samples when /usr/bin/python3 has torch. Writes bench/results/train.md.
 *
 * With --model sequence, the sequence response model (seq.h, its default
 * configuration) instead, beside the same network in PyTorch
 * (bench/seq_torch.py) in the same command: training samples/s (batch 256,
 * forward + backward + AdamW) and inference (row, coupon) pairs/s (one
 * encoder pass per row, all 4 coupons), each the median of --repeats runs
 * alternating C and PyTorch (a shared machine's load moves between runs),
 * per second of wall time and per CPU second, the ratios, the share of the
 * FP32 peak, and the held-out log-loss after --epochs of both. Writes
 * bench/results/train_seq.md, and with --json FILE the figures as JSON.
 *
 * Usage: bench_train [--model profit|sequence] [--customers N] [--steps N]
 *                    [--epochs E] [--repeats R] [--seq-len T] [--json FILE]
 *                    [--no-torch]
 * (OMP_NUM_THREADS sets the cores used; run from the source tree.) */
#include "offerq/core/data.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"
#include "offerq/coupon/gross.h"
#include "offerq/coupon/profit.h"
#include "offerq/coupon/seq.h"

#include <jansson.h>
#include <math.h>
#include <sys/resource.h>

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

/* ---- the sequence response model (--model sequence) ---------------------------- */

static double cpu_seconds(void)
{
    struct rusage r;
    getrusage(RUSAGE_SELF, &r);
    return (double)r.ru_utime.tv_sec + r.ru_utime.tv_usec * 1e-6 + (double)r.ru_stime.tv_sec +
           r.ru_stime.tv_usec * 1e-6;
}

static double load_avg(void)
{
    double l = NAN;
    FILE *fp = fopen("/proc/loadavg", "r");
    if (fp) {
        if (fscanf(fp, "%lf", &l) != 1) l = NAN;
        fclose(fp);
    }
    return l;
}

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* median of x (n), sorting x */
static double median(double *x, int n)
{
    qsort(x, (size_t)n, sizeof *x, cmp_dbl);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

static json_t *jnum(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

static int bench_sequence(long customers, int steps, int epochs, int repeats, int seq_len,
                          int torch, const char *json)
{
    int threads = 1;
#ifdef _OPENMP
    threads = omp_get_max_threads();
#endif
    double load0 = load_avg();
    oq_error err = {0};
    char dir[] = "/tmp/offerq-bench-XXXXXX", path[512], evp[512], orp[512], sp[512];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/log.csv", dir);
    snprintf(sp, sizeof sp, "%s/samples.bin", dir);
    oq_gen_config g;
    oq_gen_config_default(&g);
    g.n_customers = customers;
    g.quiet = 1;
    if (oq_gen_write(&g, path, &err)) die(&err);
    oq_log *log;
    oq_log_index *ix;
    oq_events *ev;
    oq_orders *ord;
    if (oq_log_read(path, &log, &err) || oq_log_index_build(log, &ix, &err)) die(&err);
    if (oq_sidecar_path(path, ".events.csv", evp, sizeof evp) ||
        oq_sidecar_path(path, ".orders.csv", orp, sizeof orp) ||
        oq_events_read(evp, &log->cats, &ev, &err) || oq_orders_read(orp, &ord, &err))
        die(&err);
    oq_seq_config cfg;
    oq_seq_config_default(&cfg);
    if (seq_len > 0) cfg.seq_len = seq_len;
    oq_seq *m = NULL;
    oq_seq_data *d = NULL;
    oq_seq_samples *s = NULL;
    if (oq_seq_new(&cfg, &log->cats, 1, &m, &err) ||
        oq_seq_data_new(log, ix, ev, ord, NULL, cfg.seq_len, cfg.n_bands, m->band_edge, &d, &err) ||
        oq_seq_data_build(d, log, NULL, NULL, &s, &err))
        die(&err);
    cfg = m->cfg; /* with the vocabulary the model took from the log */
    int T = cfg.seq_len, NS = OQ_SEQ_NSTATE, B = 256;
    size_t n = s->n, tt = (size_t)T * OQ_SEQ_NTOK, ntr = 0;
    /* standardised state (the model's scaling set to the rows' mean and sd) */
    float *zs = malloc(n * NS * sizeof *zs), *y = malloc(n * sizeof *y);
    size_t *tr = malloc(n * sizeof *tr);
    unsigned char *isval = malloc(n);
    for (int k = 0; k < NS; k++) {
        double a = 0, q = 0;
        for (size_t i = 0; i < n; i++)
            a += s->state[i * NS + k];
        a /= (double)n;
        for (size_t i = 0; i < n; i++)
            q += (s->state[i * NS + k] - a) * (s->state[i * NS + k] - a);
        double sd = sqrt(q / (double)n);
        m->state_mean[k] = a;
        m->state_std[k] = sd > 1e-9 ? sd : 1;
        for (size_t i = 0; i < n; i++)
            zs[i * NS + k] = (float)((s->state[i * NS + k] - a) / m->state_std[k]);
    }
    for (size_t i = 0; i < n; i++) {
        y[i] = s->order[i];
        isval[i] = (unsigned char)oq_seq_is_val(1, s->user_id[i], 0.2);
        if (!isval[i]) tr[ntr++] = i;
    }
    /* the same samples for PyTorch */
    if (torch) {
        FILE *fp = fopen(sp, "wb");
        int32_t hdr[11] = {(int32_t)n, T,          NS,     cfg.n_browse,   cfg.n_bands, cfg.d,
                           cfg.heads,  cfg.layers, cfg.ff, cfg.pool_heads, cfg.hidden};
        if (!fp) return 1;
        fwrite(hdr, 4, 11, fp);
        for (size_t i = 0; i < n * tt; i++) {
            int32_t v = s->tok[i];
            fwrite(&v, 4, 1, fp);
        }
        fwrite(zs, 4, n * NS, fp);
        fwrite(s->coupon, 1, n, fp);
        fwrite(s->order, 1, n, fp);
        fwrite(isval, 1, n, fp);
        fclose(fp);
    }
    uint16_t *btok = malloc((size_t)B * tt * sizeof *btok);
    float *bz = malloc((size_t)B * NS * sizeof *bz), *by = malloc(B * sizeof *by);
    uint8_t *bc = malloc(B);
    double *P = malloc(n * 4 * sizeof *P);
    double *ctr = calloc((size_t)repeats, sizeof *ctr), *ctrc = calloc((size_t)repeats, 8),
           *cin = calloc((size_t)repeats, 8), *cinc = calloc((size_t)repeats, 8),
           *ttr = calloc((size_t)repeats, 8), *ttrc = calloc((size_t)repeats, 8),
           *tin = calloc((size_t)repeats, 8), *tinc = calloc((size_t)repeats, 8);
    char tver[64] = "";
    int torch_ok = 0;
    oq_seq_train_opts o;
    oq_seq_train_opts_default(&o);
    size_t next = 0;
    for (int r = 0; r < repeats; r++) {
        /* C: training steps on consecutive batches of training rows */
        double w0 = 0, c0 = 0, loss, gn;
        for (int k = -2; k < steps; k++) { /* 2 warm-up steps */
            if (k == 0) w0 = oq_now(), c0 = cpu_seconds();
            for (int j = 0; j < B; j++) {
                size_t i = tr[next++ % ntr];
                memcpy(btok + (size_t)j * tt, s->tok + i * tt, tt * sizeof *btok);
                memcpy(bz + (size_t)j * NS, zs + i * NS, (size_t)NS * sizeof *bz);
                bc[j] = s->coupon[i];
                by[j] = y[i];
            }
            if (oq_seq_step(m, btok, bz, bc, by, B, (uint64_t)k + 5, 2e-3, &o, &loss, &gn, &err))
                die(&err);
        }
        ctr[r] = (double)steps * B / (oq_now() - w0);
        ctrc[r] = (double)steps * B / (cpu_seconds() - c0);
        /* C: inference of every row and coupon */
        w0 = oq_now(), c0 = cpu_seconds();
        if (oq_seq_predict(m, s, P, &err)) die(&err);
        cin[r] = 4.0 * (double)n / (oq_now() - w0);
        cinc[r] = 4.0 * (double)n / (cpu_seconds() - c0);
        if (!torch) continue;
        char cmd[1024], line[512] = "";
        snprintf(cmd, sizeof cmd,
                 "/usr/bin/python3 bench/seq_torch.py %s --steps %d --epochs 0 --threads %d", sp,
                 steps, threads);
        FILE *pp = popen(cmd, "r");
        double vl;
        if (pp && fgets(line, sizeof line, pp) &&
            sscanf(line,
                   "torch %63s train_sps %lf train_cpu %lf infer_pps %lf infer_cpu %lf val_logloss "
                   "%lf",
                   tver, &ttr[r], &ttrc[r], &tin[r], &tinc[r], &vl) == 6)
            torch_ok++;
        if (pp) pclose(pp);
    }
    torch = torch && torch_ok == repeats;
    double train_sps = median(ctr, repeats), train_cpu = median(ctrc, repeats),
           infer_pps = median(cin, repeats), infer_cpu = median(cinc, repeats);
    double t_train = torch ? median(ttr, repeats) : NAN,
           t_train_cpu = torch ? median(ttrc, repeats) : NAN,
           t_infer = torch ? median(tin, repeats) : NAN,
           t_infer_cpu = torch ? median(tinc, repeats) : NAN;
    /* quality: `epochs` epochs from a fresh model, both implementations */
    double val_ll = NAN, t_val_ll = NAN, train_wall = 0;
    if (epochs > 0) {
        oq_seq *m2;
        if (oq_seq_new(&cfg, &log->cats, 1, &m2, &err)) die(&err);
        memcpy(m2->band_edge, m->band_edge, sizeof m->band_edge);
        for (size_t i = 0; i < n; i++)
            s->g[i] = 40; /* a margin for the report's DR arithmetic */
        o.epochs = epochs;
        o.patience = 0;
        o.quiet = 1;
        oq_seq_epoch *hist = calloc((size_t)epochs, sizeof *hist);
        double w0 = oq_now();
        if (oq_seq_train(m2, s, &o, hist, NULL, &err)) die(&err);
        train_wall = oq_now() - w0;
        val_ll = hist[epochs - 1].val_logloss;
        free(hist);
        oq_seq_free(m2);
        if (torch) {
            char cmd[1024], line[512] = "";
            double a, b2, c2, d2;
            snprintf(cmd, sizeof cmd,
                     "/usr/bin/python3 bench/seq_torch.py %s --steps 1 --epochs %d --threads %d",
                     sp, epochs, threads);
            FILE *pp = popen(cmd, "r");
            if (!(pp && fgets(line, sizeof line, pp) &&
                  sscanf(line,
                         "torch %63s train_sps %lf train_cpu %lf infer_pps %lf infer_cpu %lf "
                         "val_logloss %lf",
                         tver, &a, &b2, &c2, &d2, &t_val_ll) == 6))
                t_val_ll = NAN;
            if (pp) pclose(pp);
        }
    }
    double load1 = load_avg();
    double ftr = oq_seq_flops(&cfg, 1), fin = oq_seq_flops(&cfg, 0) / 4; /* per pair */
    const char *wp = getenv("OMP_WAIT_POLICY");
    double mhz = cpu_mhz(), peak = mhz * 1e6 * 32 * threads;
    char md[8192];
    int len = snprintf(
        md, sizeof md,
        "# bench_train --model sequence: the sequence response model beside PyTorch\n\n"
        "Log: `offerq gen` defaults with %ld customers (%zu rows, %zu for training); model: T %d "
        "days, d %d, %d heads, %d layer(s), FFN %d, %d pooling heads, head %d, %zu parameters; "
        "batch %d, dropout %.1f. %d thread(s), %.0f MHz (from /proc/cpuinfo), FP32 peak %.1f "
        "GFLOP/s (32 FLOP/cycle/core). Load average %.1f at the start, %.1f at the end: the "
        "machine was shared, so wall-time figures are what this process got; per-CPU-second "
        "figures are the work per second of CPU actually used.\n"
        "FLOPs: %.2f M per training sample (3x forward), %.3f M per inference pair.\n"
        "Median of %d runs, C and PyTorch alternating.\n\n"
        "| measure | offerq (C) | PyTorch %s | ratio | target |\n|---|---|---|---|---|\n"
        "| training, samples/s (fwd + bwd + AdamW) | %.0f | %.0f | %.2fx | 14,000 on 2 cores |\n"
        "| training, samples per CPU second | %.0f | %.0f | %.2fx | |\n"
        "| training GFLOP/s (share of peak) | %.1f (%.1f%%) | | | |\n"
        "| inference, (row, coupon) pairs/s | %.0f | %.0f | %.2fx | 100,000 on 2 cores |\n"
        "| inference, pairs per CPU second | %.0f | %.0f | %.2fx | |\n"
        "| inference GFLOP/s (share of peak) | %.1f (%.1f%%) | | | |\n"
        "| held-out log-loss after %d epochs | %.4f | %.4f | | |\n"
        "| wall time of the %d epochs (C, incl. validation) | %.1f s | | | |\n\n"
        "Command: `%s%s%sOMP_NUM_THREADS=%d ./build/bench_train --model sequence --customers %ld "
        "--steps %d --epochs %d --repeats %d` (from the source tree)\n",
        customers, n, ntr, T, cfg.d, cfg.heads, cfg.layers, cfg.ff, cfg.pool_heads, cfg.hidden,
        m->n_params, B, (double)cfg.dropout, threads, mhz, peak / 1e9, load0, load1, ftr / 1e6,
        fin / 1e6, repeats, tver[0] ? tver : "(not run)", train_sps, t_train, train_sps / t_train,
        train_cpu, t_train_cpu, train_cpu / t_train_cpu, train_sps * ftr / 1e9,
        100 * train_sps * ftr / peak, infer_pps, t_infer, infer_pps / t_infer, infer_cpu,
        t_infer_cpu, infer_cpu / t_infer_cpu, infer_pps * fin / 1e9, 100 * infer_pps * fin / peak,
        epochs, val_ll, t_val_ll, epochs, train_wall, wp ? "OMP_WAIT_POLICY=" : "", wp ? wp : "",
        wp ? " " : "", threads, customers, steps, epochs, repeats);
    fputs(md, stdout);
    if (oq_write_file_atomic("bench/results/train_seq.md", md, (size_t)len, &err))
        fprintf(stderr, "bench_train: could not write bench/results/train_seq.md (run from the "
                        "source tree)\n");
    int rc = 0;
    if (json) {
        json_t *j = json_object();
        json_object_set_new(j, "model", json_string("sequence"));
        json_object_set_new(j, "config",
                            json_pack("{s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:I}", "seq_len", T,
                                      "d", cfg.d, "heads", cfg.heads, "layers", cfg.layers, "ff",
                                      cfg.ff, "pool_heads", cfg.pool_heads, "hidden", cfg.hidden,
                                      "batch", B, "parameters", (json_int_t)m->n_params));
        json_object_set_new(j, "threads", json_integer(threads));
        json_object_set_new(j, "rows", json_integer((json_int_t)n));
        json_object_set_new(j, "repeats", json_integer(repeats));
        json_object_set_new(j, "load_avg_start", jnum(load0));
        json_object_set_new(j, "load_avg_end", jnum(load1));
        json_object_set_new(j, "train_samples_per_s", jnum(train_sps));
        json_object_set_new(j, "infer_pairs_per_s", jnum(infer_pps));
        json_object_set_new(j, "train_samples_per_cpu_s", jnum(train_cpu));
        json_object_set_new(j, "infer_pairs_per_cpu_s", jnum(infer_cpu));
        json_object_set_new(j, "torch_version", json_string(tver[0] ? tver : ""));
        json_object_set_new(j, "torch_train_samples_per_s", jnum(t_train));
        json_object_set_new(j, "torch_infer_pairs_per_s", jnum(t_infer));
        json_object_set_new(j, "torch_train_samples_per_cpu_s", jnum(t_train_cpu));
        json_object_set_new(j, "torch_infer_pairs_per_cpu_s", jnum(t_infer_cpu));
        json_object_set_new(j, "train_ratio", jnum(train_sps / t_train));
        json_object_set_new(j, "infer_ratio", jnum(infer_pps / t_infer));
        json_object_set_new(j, "flops_per_train_sample", jnum(ftr));
        json_object_set_new(j, "flops_per_infer_pair", jnum(fin));
        json_object_set_new(j, "peak_gflops", jnum(peak / 1e9));
        json_object_set_new(j, "train_share_of_peak", jnum(train_sps * ftr / peak));
        json_object_set_new(j, "infer_share_of_peak", jnum(infer_pps * fin / peak));
        json_object_set_new(j, "epochs", json_integer(epochs));
        json_object_set_new(j, "val_logloss", jnum(val_ll));
        json_object_set_new(j, "torch_val_logloss", jnum(t_val_ll));
        json_object_set_new(
            j, "targets",
            json_pack("{s:f, s:f}", "train_samples_per_s", 14000.0, "infer_pairs_per_s", 100000.0));
        if (json_dump_file(j, json, JSON_INDENT(2)) != 0) {
            fprintf(stderr, "bench_train: could not write %s\n", json);
            rc = 1;
        }
        json_decref(j);
    }
    free(btok);
    free(bz);
    free(by);
    free(bc);
    free(P);
    free(ctr);
    free(ctrc);
    free(cin);
    free(cinc);
    free(ttr);
    free(ttrc);
    free(tin);
    free(tinc);
    free(zs);
    free(y);
    free(tr);
    free(isval);
    oq_seq_free(m);
    oq_seq_samples_free(s);
    oq_seq_data_free(d);
    oq_orders_free(ord);
    oq_events_free(ev);
    oq_log_index_free(ix);
    oq_log_free(log);
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", dir);
    if (system(rm)) return 1;
    return rc;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    long customers = 3000;
    int steps = 60, epochs = 3, torch = 1, sequence = 0, repeats = 3, seq_len = 0;
    int steps_set = 0, epochs_set = 0;
    const char *json = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--customers") && i + 1 < argc)
            customers = atol(argv[++i]);
        else if (!strcmp(argv[i], "--steps") && i + 1 < argc)
            steps = atoi(argv[++i]), steps_set = 1;
        else if (!strcmp(argv[i], "--epochs") && i + 1 < argc)
            epochs = atoi(argv[++i]), epochs_set = 1;
        else if (!strcmp(argv[i], "--repeats") && i + 1 < argc)
            repeats = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seq-len") && i + 1 < argc)
            seq_len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--json") && i + 1 < argc)
            json = argv[++i];
        else if (!strcmp(argv[i], "--model") && i + 1 < argc && !strcmp(argv[i + 1], "sequence"))
            sequence = 1, i++;
        else if (!strcmp(argv[i], "--model") && i + 1 < argc && !strcmp(argv[i + 1], "profit"))
            sequence = 0, i++;
        else if (!strcmp(argv[i], "--no-torch"))
            torch = 0;
        else {
            fprintf(stderr, "usage: bench_train [--model profit|sequence] [--customers N] "
                            "[--steps N] [--epochs E] [--repeats R] [--seq-len T] [--json FILE] "
                            "[--no-torch]\n");
            return 2;
        }
    }
    if (sequence)
        return bench_sequence(customers, steps_set ? steps : 40, epochs_set ? epochs : 2,
                              repeats < 1 ? 1 : repeats, seq_len, torch, json);
    if (json) {
        fprintf(stderr, "bench_train: --json is for --model sequence\n");
        return 2;
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
