/* cmd_eval.c - `offerq eval`: true and off-policy values of a run's policy. */
#include "cli/cli.h"
#include "cli/mpi_comm.h"
#include "offerq/core/comm.h"
#include "offerq/coupon/closedloop.h"
#include "offerq/coupon/evaluate.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq eval --log LOG.csv --run DIR [--truth FILE] [--json FILE]\n"
            "                   [--shards N]\n"
            "       offerq eval --log LOG.csv --horizon H [--refit-every K] [--json FILE]\n"
            "                   [--shards N]\n"
            "       offerq eval --contacts C.csv --customers U.csv --offers O.csv --run DIR\n"
            "                   [--orders R.csv] [--events E.csv] [--json FILE]\n"
            "                   (a shop's raw tables: `offerq eval --contacts x --help`)\n\n"
            "On a log written by `offerq gen`, rebuilds the truth from its sidecar\n"
            "(LOG.truth.json, or --truth) and prints the TRUE expected next-day profit and\n"
            "coupon spend of: no coupon, each fixed coupon, the random logging policy, the\n"
            "seed-faithful loop (re-run with the run's settings), offerq's recommendations\n"
            "in DIR, and the oracle; uplift is profit minus the no-coupon profit.\n"
            "Then off-policy estimates (IPS, doubly robust) of the run's Q-greedy policy and\n"
            "of each fixed coupon from the log's logged propensities, next to the truth.\n"
            "A log without a truth file (a shop's own log): the off-policy estimates alone,\n"
            "each coupon's share of the log taken as its propensity (right for a\n"
            "randomised log with fixed shares), with 95%% intervals.\n\n"
            "With --horizon H, the closed loop instead: from the log's last day every\n"
            "policy plays H days in the true world (customers reached at the world's\n"
            "contact rate, the same customers on the same days with the same luck for\n"
            "every policy), the world answers, the log grows and offerq's nightly job is\n"
            "re-run on it every K days. Policies: no coupon, 5, 10, 20, random (logging),\n"
            "myopic (the one-step plan over r~, offerq's default), dyna-q (r~ plus\n"
            "Dyna-Q's continuation value), truth-myopic and the rollout oracle\n"
            "(docs/readme/dynaq.md). Profit is the true net profit over the H days.\n"
            "With --clv-weight W also clv: myopic's job with the CLV term of `offerq run\n"
            "--clv-weight W` (docs/readme/bgnbd.md).\n\n"
            "Options:\n"
            "  --horizon H      play H days forward (closed loop; no --run needed)\n"
            "  --refit-every K  re-run the nightly job every K days (default 1)\n"
            "  --rollouts R     the oracle's simulated futures per coupon (default 32)\n"
            "  --seed S         the nightly job's seed in the closed loop (default 1)\n"
            "  --no-job         closed loop without the nightly job's policies (myopic,\n"
            "                   dyna-q): the fixed, random and truth policies only, fast\n"
            "  --features SET   the closed loop's nightly job: its response model's features\n"
            "                   (all, no-evidence or raw; as `offerq run --features`)\n"
            "  --clv-weight W   add the policy clv, `offerq run --clv-weight W` (0: none)\n"
            "  --clv-model M --clv-days D --clv-discount R\n"
            "                   its model (bgnbd or log), horizon (default 30 days) and\n"
            "                   rate per 30 days (0.01), as `offerq run`\n"
            "  --truth FILE     truth file (default: the log's sidecar)\n"
            "  --json FILE      also write the results as JSON\n"
            "  --shards N       evaluate in N parts (1..64), threads of this process, each\n"
            "                   holding the customers of one hash shard; the sums go over\n"
            "                   the parts in order, so `mpirun -np N offerq eval` (a build\n"
            "                   with -DOQ_MPI=ON) gives the same numbers. The nightly job\n"
            "                   (the seed-faithful re-run, the closed loop's re-fits) runs\n"
            "                   in N parts, as `run --shards N`: it needs the response\n"
            "                   reward, and the closed loop a world without a campaign\n"
            "                   budget (docs/readme/mpi.md)\n"
            "  --quiet          no progress on stderr\n\n"
            "Example:\n  offerq run --log example/log.csv --out-dir example/run\n"
            "  offerq eval --log example/log.csv --run example/run --json example/run/eval.json\n"
            "  offerq gen --customers 2000 --quiet --out example/small.csv\n"
            "  offerq eval --log example/small.csv --horizon 14 --refit-every 7\n");
}

/* eval --run, or the closed loop (lo->horizon > 0), in shards parts
 * (threads), or as this rank of an MPI job (mc): part 0 prints and writes
 * the JSON, after every part is done; a part that fails stops the job
 * (MPI_Abort) and nothing is written. */
static int eval_job(const char *log, const char *run, const char *truth, const char *json,
                    int quiet, const oq_loop_opts *lo, int shards, oq_comm *mc)
{
    oq_error err = {0};
    int rank = oq_comm_rank(mc), rc;
    oq_eval_report r;
    oq_loop_report lr;
    if (lo->horizon > 0) {
        rc = mc ? oq_loop_run_part(log, truth, lo, mc, &lr, &err)
                : oq_loop_run_parts(log, truth, lo, shards, &lr, &err);
    } else {
        if (!quiet && rank == 0)
            fprintf(stderr,
                    "offerq eval: this re-fits models, so it takes about as long as the run:\n"
                    "  the seed-faithful loop is re-run with the run's settings (BG/NBD and\n"
                    "  the reward model: the run does not save them), and P(order) is fitted\n"
                    "  twice more, on each half of the customers, for the cross-fitted\n"
                    "  off-policy estimates (a model that saw a row would flatter it)\n");
        rc = mc ? oq_eval_run_part(log, run, truth, quiet, mc, &r, &err)
                : oq_eval_run_parts(log, run, truth, quiet, shards, &r, &err);
    }
    if (rc && mc) {
        oq_comm_fail(mc, rc, &err); /* MPI_Abort: every rank stops */
        return 1;
    }
    if (rc)
        return cli_fail(&err, lo->horizon > 0
                                  ? "the closed loop needs a log from `offerq gen`"
                                  : "eval needs a log from `offerq gen` and a directory from "
                                    "`offerq run`");
    if (rank > 0) return 0;
    if (lo->horizon > 0) {
        oq_loop_print(&lr, stdout);
        if (json && oq_loop_write_json(&lr, json, &err)) return cli_fail(&err, NULL);
        return 0;
    }
    oq_eval_print(&r, stdout);
    if (json && oq_eval_write_json(&r, json, &err)) return cli_fail(&err, NULL);
    for (int k = 0; !quiet && r.parts > 1 && k < r.parts; k++) { /* a job in parts: its traffic */
        if (!k) fprintf(stderr, "offerq eval: bytes each part gave to collectives, per stage:\n");
        fprintf(stderr, "  part %d:", k);
        for (int st = 0; st < 4; st++)
            fprintf(stderr, " %s %llu", oq_eval_stage_name(st), (unsigned long long)r.bytes[k][st]);
        fputc('\n', stderr);
    }
    return 0;
}

int cmd_eval(int argc, char **argv)
{
    /* a shop's raw tables: the log-only path of cmd_uplift.c */
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--contacts") || !strncmp(argv[k], "--contacts=", 11))
            return cmd_uplift_eval(argc, argv);
    enum {
        O_LOG = 256,
        O_RUN,
        O_TRUTH,
        O_JSON,
        O_QUIET,
        O_HORIZON,
        O_REFIT,
        O_ROLL,
        O_SEED,
        O_NOJOB,
        O_FEATURES,
        O_SHARDS,
        O_CLVW,
        O_CLVD,
        O_CLVR,
        O_CLVM
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"log", required_argument, 0, O_LOG},
                                         {"run", required_argument, 0, O_RUN},
                                         {"truth", required_argument, 0, O_TRUTH},
                                         {"json", required_argument, 0, O_JSON},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"horizon", required_argument, 0, O_HORIZON},
                                         {"refit-every", required_argument, 0, O_REFIT},
                                         {"rollouts", required_argument, 0, O_ROLL},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"no-job", no_argument, 0, O_NOJOB},
                                         {"features", required_argument, 0, O_FEATURES},
                                         {"shards", required_argument, 0, O_SHARDS},
                                         {"clv-weight", required_argument, 0, O_CLVW},
                                         {"clv-days", required_argument, 0, O_CLVD},
                                         {"clv-discount", required_argument, 0, O_CLVR},
                                         {"clv-model", required_argument, 0, O_CLVM},
                                         {0, 0, 0, 0}};
    const char *log = NULL, *run = NULL, *truth = NULL, *json = NULL;
    int quiet = 0, c, features = 0, shards = 0;
    long lv;
    oq_loop_opts lo;
    oq_loop_opts_default(&lo);
    lo.horizon = 0;
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
        case O_HORIZON:
            if (cli_long("eval", "--horizon", optarg, 1, 3650, &lv)) return 2;
            lo.horizon = (int)lv;
            break;
        case O_REFIT:
            if (cli_long("eval", "--refit-every", optarg, 1, 3650, &lv)) return 2;
            lo.refit_every = (int)lv;
            break;
        case O_ROLL:
            if (cli_long("eval", "--rollouts", optarg, 1, 100000, &lv)) return 2;
            lo.rollouts = (int)lv;
            break;
        case O_NOJOB:
            lo.skip_job = 1;
            break;
        case O_SEED:
            if (cli_u64("eval", "--seed", optarg, &lo.job.dq.seed)) return 2;
            break;
        case O_SHARDS:
            if (cli_long("eval", "--shards", optarg, 1, OQ_COMM_MAX, &lv)) return 2;
            shards = (int)lv;
            break;
        case O_FEATURES:
            if ((lo.job.features = oq_resp_features_parse(optarg)) < 0)
                return cli_usage_error(
                    "eval", "--features: expected all, no-evidence or raw, got '%s'", optarg);
            features = 1;
            break;
        case O_CLVW:
        case O_CLVD:
        case O_CLVR:
        case O_CLVM:
            if (cli_clv_option("eval", c - O_CLVW, optarg, &lo.job.clv)) return 2;
            features = 1;
            break;
        default:
            return cli_bad_option("eval");
        }
    }
    if (optind != argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (lo.horizon > 0) {
        if (!log) return cli_usage_error("eval", "--log LOG.csv is required");
        if (run) return cli_usage_error("eval", "--run and --horizon do not go together");
        if (cli_clv_check("eval", &lo.job.clv)) return 2;
        if (lo.job.clv.weight > 0 && lo.skip_job)
            return cli_usage_error("eval", "--clv-weight adds the policy clv, a nightly job's: "
                                           "not with --no-job");
        if (lo.job.clv.weight > 0 && shards > 1)
            return cli_usage_error("eval", "--clv-weight needs the whole log in one part: not "
                                           "with --shards N > 1");
        lo.quiet = quiet;
    } else {
        if (!log || !run)
            return cli_usage_error("eval", "--log LOG.csv and --run DIR are required");
        if (features)
            return cli_usage_error("eval", "--features and --clv-* are for the closed loop "
                                           "(--horizon); with --run the run's params.json says "
                                           "which");
    }
    const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
    if (ws && atoi(ws) > 1 && !cli_mpi_launched()) {
        fprintf(stderr,
                "offerq eval: error: started by mpirun with %s ranks, but this offerq was "
                "built without MPI\nofferq: build with cmake -DOQ_MPI=ON "
                "(docs/readme/mpi.md)\n",
                ws);
        return 1;
    }
    if (!cli_mpi_launched()) return eval_job(log, run, truth, json, quiet, &lo, shards, NULL);
    oq_comm mc;
    if (cli_mpi_start(&argc, &argv, &mc)) return 1;
    int rc = 0;
    if (mc.size > 1 && shards && shards != mc.size) {
        if (mc.rank == 0)
            fprintf(stderr, "offerq eval: --shards N under MPI must be the number of ranks "
                            "(or be left out)\n");
        rc = 2;
    } else if (mc.size > 1 && lo.job.clv.weight > 0) {
        if (mc.rank == 0)
            fprintf(stderr, "offerq eval: --clv-weight needs the whole log in one part: not "
                            "under mpirun\n");
        rc = 2;
    } else {
        rc = eval_job(log, run, truth, json, quiet, &lo, mc.size > 1 ? 0 : shards,
                      mc.size > 1 ? &mc : NULL); /* -np 1: one process */
    }
    cli_mpi_stop();
    return rc;
}
