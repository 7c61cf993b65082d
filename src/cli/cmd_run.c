/* cmd_run.c - `offerq run`: the nightly coupon job (include/offerq/pipeline.h). */
#include "cli/cli.h"
#include "offerq/pipeline.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq run --log LOG.csv --out-dir DIR [options]\n\n"
            "The nightly job: reads the customer log, scores every row and coupon with\n"
            "r~ = P(alive) x r^, learns Q(s, a) with Dyna-Q (real steps from the log + 20\n"
            "planning steps each), and plans tomorrow's coupon for every customer within the\n"
            "budget. Writes, each file only when complete:\n"
            "  DIR/recommendations.csv  user_id,snapshot_date,state,coupon,expected_profit,p_alive\n"
            "  DIR/qtable.ofq           the Q table\n"
            "  DIR/params.json          the settings\n"
            "  DIR/report.json          timings per stage, Dyna-Q losses, epsilon schedule, spend\n"
            "  DIR/learning_curve.svg   mean |TD error| over training\n"
            "NOTE: until the BG/NBD and profit models are merged, the scores come from an\n"
            "INTERIM empirical scorer (P(alive) = 1); report.json says so.\n\n"
            "Options:\n"
            "  --budget X      money for tomorrow's coupons (expected spend); default: no limit\n"
            "  --seed S        random seed (default 1)\n"
            "  --epochs N      Dyna-Q epochs (default 4)\n"
            "  --plan-k K      planning updates per real step (default 20)\n"
            "  --gamma G       discount (default 0.95)\n"
            "  --w-days W --w-p30 W --w-aov W --budget-levels L\n"
            "                  state buckets (default 10 2 20 10, SPEC.md)\n"
            "  --faithful      the seed's simplified loop instead of Dyna-Q (for comparison)\n"
            "  --quiet         no progress on stderr\n\n"
            "Example:\n  offerq gen --seed 1 --out example/log.csv\n"
            "  offerq run --log example/log.csv --out-dir example/run --budget 5000\n");
}

int cmd_run(int argc, char **argv)
{
    enum { O_LOG = 256, O_OUT, O_BUDGET, O_SEED, O_EPOCHS, O_PLANK, O_FAITHFUL, O_QUIET, O_GAMMA, O_WD, O_WP, O_WA, O_BL };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},          {"log", required_argument, 0, O_LOG},
        {"out-dir", required_argument, 0, O_OUT}, {"budget", required_argument, 0, O_BUDGET},
        {"seed", required_argument, 0, O_SEED}, {"epochs", required_argument, 0, O_EPOCHS},
        {"plan-k", required_argument, 0, O_PLANK}, {"faithful", no_argument, 0, O_FAITHFUL},
        {"quiet", no_argument, 0, O_QUIET},     {"gamma", required_argument, 0, O_GAMMA},
        {"w-days", required_argument, 0, O_WD}, {"w-p30", required_argument, 0, O_WP},
        {"w-aov", required_argument, 0, O_WA},  {"budget-levels", required_argument, 0, O_BL},
        {0, 0, 0, 0}};
    oq_pipeline_opts o;
    oq_pipeline_opts_default(&o);
    long lv;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h': help(stdout); return 0;
        case O_LOG: o.log_path = optarg; break;
        case O_OUT: o.out_dir = optarg; break;
        case O_BUDGET:
            if (cli_double("run", "--budget", optarg, 0, 1e15, &o.budget)) return 2;
            break;
        case O_SEED:
            if (cli_u64("run", "--seed", optarg, &o.dq.seed)) return 2;
            break;
        case O_EPOCHS:
            if (cli_long("run", "--epochs", optarg, 1, OQ_DYNAQ_MAX_EPOCHS, &lv)) return 2;
            o.dq.epochs = (int)lv;
            break;
        case O_PLANK:
            if (cli_long("run", "--plan-k", optarg, 0, 1000, &lv)) return 2;
            o.dq.plan_k = (int)lv;
            break;
        case O_GAMMA:
            if (cli_double("run", "--gamma", optarg, 0, 1, &o.dq.gamma)) return 2;
            break;
        case O_WD:
            if (cli_double("run", "--w-days", optarg, 1e-3, 1e6, &o.disc.w_days)) return 2;
            break;
        case O_WP:
            if (cli_double("run", "--w-p30", optarg, 1e-3, 1e6, &o.disc.w_p30)) return 2;
            break;
        case O_WA:
            if (cli_double("run", "--w-aov", optarg, 1e-3, 1e9, &o.disc.w_aov)) return 2;
            break;
        case O_BL:
            if (cli_double("run", "--budget-levels", optarg, 1, 255, &o.disc.budget_levels)) return 2;
            break;
        case O_FAITHFUL: o.dq.faithful = 1; break;
        case O_QUIET: o.quiet = 1; break;
        default: return cli_usage_error("run", "unknown option");
        }
    }
    if (optind != argc) return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    if (!o.log_path) return cli_usage_error("run", "--log LOG.csv is required");
    if (!o.out_dir) return cli_usage_error("run", "--out-dir DIR is required");
    oq_error err = {0};
    oq_pipeline_result *r = NULL;
    if (oq_pipeline_run(&o, NULL, &r, &err)) return cli_fail(&err, NULL);
    double total = 0;
    for (int k = 0; k < OQ_N_STAGES; k++) total += r->stage_s[k];
    size_t cnt[OQ_N_COUPONS] = {0};
    for (size_t i = 0; i < r->n; i++) cnt[r->coupon[i]]++;
    fprintf(stderr,
            "offerq run: %zu customers, coupons none/5/10/20 = %zu/%zu/%zu/%zu, expected spend "
            "%.2f%s, %.2fs; wrote %s/\n",
            r->n, cnt[0], cnt[1], cnt[2], cnt[3], r->plan_spend,
            isfinite(o.budget) ? " (budget-limited)" : "", total, o.out_dir);
    if (r->scorer_interim)
        fprintf(stderr, "offerq run: NOTE: INTERIM scorer (%s)\n", r->scorer_name);
    oq_pipeline_result_free(r);
    return 0;
}
