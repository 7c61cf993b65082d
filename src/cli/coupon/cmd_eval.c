/* cmd_eval.c - `offerq eval`: true and off-policy values of a run's policy. */
#include "cli/cli.h"
#include "offerq/coupon/evaluate.h"

#include <getopt.h>
#include <stdio.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq eval --log LOG.csv --run DIR [--truth FILE] [--json FILE]\n\n"
            "On a log written by `offerq gen`, rebuilds the truth from its sidecar\n"
            "(LOG.truth.json, or --truth) and prints the TRUE expected next-day profit and\n"
            "coupon spend of: no coupon, each fixed coupon, the random logging policy, the\n"
            "seed-faithful loop (re-run with the run's settings), offerq's recommendations\n"
            "in DIR, and the oracle; uplift is profit minus the no-coupon profit.\n"
            "Then off-policy estimates (IPS, doubly robust) of the run's Q-greedy policy and\n"
            "of each fixed coupon from the log's logged propensities, next to the truth.\n\n"
            "Options:\n"
            "  --truth FILE   truth file (default: the log's sidecar)\n"
            "  --json FILE    also write the results as JSON\n"
            "  --quiet        no progress on stderr\n\n"
            "Example:\n  offerq run --log example/log.csv --out-dir example/run\n"
            "  offerq eval --log example/log.csv --run example/run --json example/run/eval.json\n");
}

int cmd_eval(int argc, char **argv)
{
    enum { O_LOG = 256, O_RUN, O_TRUTH, O_JSON, O_QUIET };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"log", required_argument, 0, O_LOG},
                                         {"run", required_argument, 0, O_RUN},
                                         {"truth", required_argument, 0, O_TRUTH},
                                         {"json", required_argument, 0, O_JSON},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {0, 0, 0, 0}};
    const char *log = NULL, *run = NULL, *truth = NULL, *json = NULL;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_LOG:
            log = optarg;
            break;
        case O_RUN:
            run = optarg;
            break;
        case O_TRUTH:
            truth = optarg;
            break;
        case O_JSON:
            if (cli_out_path("eval", "--json", optarg, 0)) return 2;
            json = optarg;
            break;
        case O_QUIET:
            quiet = 1;
            break;
        default:
            return cli_bad_option("eval");
        }
    }
    if (optind != argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!log || !run) return cli_usage_error("eval", "--log LOG.csv and --run DIR are required");
    oq_error err = {0};
    oq_eval_report r;
    if (!quiet)
        fprintf(stderr, "offerq eval: this re-fits models, so it takes about as long as the run:\n"
                        "  the seed-faithful loop is re-run with the run's settings (BG/NBD and\n"
                        "  the reward model: the run does not save them), and P(order) is fitted\n"
                        "  twice more, on each half of the customers, for the cross-fitted\n"
                        "  off-policy estimates (a model that saw a row would flatter it)\n");
    if (oq_eval_run(log, run, truth, quiet, &r, &err))
        return cli_fail(&err,
                        "eval needs a log from `offerq gen` and a directory from `offerq run`");
    oq_eval_print(&r, stdout);
    if (json && oq_eval_write_json(&r, json, &err)) return cli_fail(&err, NULL);
    return 0;
}
