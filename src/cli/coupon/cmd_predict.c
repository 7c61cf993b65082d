/* cmd_predict.c - `offerq predict`: r^ of every coupon for every log row. */
#include "cli/cli.h"
#include "cli/coupon/profit_io.h"
#include "offerq/core/csv.h"
#include "offerq/core/io.h"
#include "offerq/coupon/profit.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq predict --model MODEL.ofq --log LOG.csv --out PRED.csv\n\n"
                "Predicts, with a model written by 'offerq train', the net reward r^ of\n"
                "offering each coupon (none, 5, 10, 20) to the customer of every log row,\n"
                "from the 30 days of category stream before the row's snapshot day.\n"
                "Output: user_id,snapshot_date,coupon,predicted_reward (4 lines per row).\n"
                "With --next-day, one sample per customer for the day after the log's last\n"
                "day instead (features advanced from the customer's latest row).\n\n"
                "Options:\n"
                "  --model FILE   model (required)\n"
                "  --log LOG.csv  customer log (required)\n"
                "  --events FILE  category stream (default: LOG.events.csv when it exists)\n"
                "  --out FILE     CSV to write (required; written atomically)\n"
                "  --next-day     predict for the day after the last log day\n"
                "  --quiet        no messages on stderr\n\n"
                "Example:\n"
                "  offerq predict --model example/profit.ofq --log example/small.csv --out "
                "example/pred.csv\n");
}

int cmd_predict(int argc, char **argv)
{
    enum { O_MODEL = 256, O_LOG, O_EV, O_OUT, O_NEXT, O_QUIET };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},        {"model", required_argument, 0, O_MODEL},
        {"log", required_argument, 0, O_LOG}, {"events", required_argument, 0, O_EV},
        {"out", required_argument, 0, O_OUT}, {"next-day", no_argument, 0, O_NEXT},
        {"quiet", no_argument, 0, O_QUIET},   {0, 0, 0, 0}};
    const char *model_path = NULL, *log_path = NULL, *ev_path = NULL, *out = NULL;
    int next_day = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_MODEL:
            model_path = optarg;
            break;
        case O_LOG:
            log_path = optarg;
            break;
        case O_EV:
            ev_path = optarg;
            break;
        case O_OUT:
            if (cli_out_path("predict", "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        case O_NEXT:
            next_day = 1;
            break;
        case O_QUIET:
            quiet = 1;
            break;
        default:
            return cli_bad_option("predict");
        }
    }
    if (optind != argc) return cli_usage_error("predict", "unexpected argument '%s'", argv[optind]);
    if (!model_path) return cli_usage_error("predict", "--model MODEL.ofq is required");
    if (!log_path) return cli_usage_error("predict", "--log LOG.csv is required");
    if (!out) return cli_usage_error("predict", "--out PRED.csv is required");

    oq_error err = {0};
    oq_profit *m = NULL;
    if (oq_profit_load(model_path, &m, &err))
        return cli_fail(&err, "train a model with 'offerq train --log LOG --out MODEL.ofq'");
    profit_input in;
    int rc = profit_input_open(&in, log_path, ev_path, quiet);
    if (rc) {
        oq_profit_free(m);
        return rc;
    }
    oq_profit_data *d = NULL;
    oq_profit_samples *s = NULL;
    float *pred = NULL;
    oq_afile af = {0};
    rc = 1;
    if (oq_profit_data_new(in.log, in.ix, in.ev, m, 0, &d, &err)) goto fail;
    if (next_day) {
        int32_t last = in.log->day[0];
        for (size_t i = 1; i < in.log->n; i++)
            if (in.log->day[i] > last) last = in.log->day[i];
        if (oq_profit_data_day(d, last + 1, &s, &err)) goto fail;
    } else if (oq_profit_data_build(d, &s, &err)) {
        goto fail;
    }
    if (!(pred = malloc((s->n ? s->n : 1) * OQ_N_COUPONS * sizeof *pred))) {
        oq_error_oom(&err, NULL, NULL);
        goto fail;
    }
    double t0 = oq_now();
    if (oq_profit_predict_all(m, s, pred, &err)) goto fail;
    double dt = oq_now() - t0;
    if (oq_afile_open(&af, out, &err)) goto fail;
    fprintf(af.fp, "user_id,snapshot_date,coupon,predicted_reward\n");
    for (size_t i = 0; i < s->n; i++) {
        char date[11];
        oq_date_format(s->day[i], date);
        for (int k = 0; k < OQ_N_COUPONS; k++)
            fprintf(af.fp, "%lld,%s,%s,%.6g\n", (long long)s->user_id[i], date, oq_coupon_name(k),
                    (double)pred[i * OQ_N_COUPONS + k]);
    }
    if (oq_afile_commit(&af, &err)) goto fail;
    if (!quiet)
        fprintf(stderr, "offerq predict: %zu samples x 4 coupons in %.3f s, wrote %s\n", s->n, dt,
                out);
    rc = 0;
    goto cleanup;
fail:
    oq_afile_abort(&af);
    cli_fail(&err, NULL);
cleanup:
    free(pred);
    oq_profit_samples_free(s);
    oq_profit_data_free(d);
    profit_input_close(&in);
    oq_profit_free(m);
    return rc;
}
