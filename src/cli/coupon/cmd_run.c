/* cmd_run.c - `offerq run`: the nightly coupon job (include/offerq/coupon/pipeline.h). */
#include "cli/cli.h"
#include "cli/mpi_comm.h"
#include "offerq/core/comm.h"
#include "offerq/prod/db.h"
#include "offerq/core/io.h"
#include "offerq/coupon/reward.h"
#include "offerq/coupon/pipeline.h"
#include "offerq/coupon/seq.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static void help(FILE *fp)
{
    fprintf(
        fp,
        "Usage: offerq run --log LOG.csv --out-dir DIR [options]\n"
        "       offerq run --pg URL [--orders ORDERS.csv] [--out-dir DIR] [options]\n"
        "       offerq run --contacts C.csv --customers U.csv --offers O.csv [--orders R.csv]\n"
        "                  [--events E.csv] --out-dir DIR [--budget X] [--seed S]\n"
        "       offerq run --pg URL --contacts-from-db --out-dir DIR [--budget X] [--seed S]\n\n"
        "With --contacts, a shop's own raw tables: the same as `offerq uplift` (see\n"
        "`offerq uplift --help`; every option of it applies; DIR is written directly).\n"
        "With --pg URL --contacts-from-db the raw tables come from PostgreSQL (offerq db\n"
        "load --table): contacts, customers and offers, and orders and events when those\n"
        "tables have rows (--orders FILE / --events FILE override them); each table is\n"
        "streamed into a private temporary CSV in the order it was loaded and read by\n"
        "the same readers, so the run equals `run --contacts` on the loaded files\n"
        "(--columns, --ignore: given at db load). One process: not split under mpirun.\n"
        "Nothing is written back to PostgreSQL on this path (DIR only).\n\n"
        "The nightly job: reads the customer log, scores every row and coupon with r~,\n"
        "the expected net reward (from BG/NBD P(alive) and a reward model r^), learns\n"
        "Q(s, a) with Dyna-Q (real steps from the log + 20 planning steps each), and\n"
        "plans tomorrow's coupon for every customer: the most profitable within the\n"
        "budget. Writes a run folder, switched into place whole when complete (DIR is\n"
        "a link to the newest run in DIR.runs/, which keeps the last --keep-runs runs;\n"
        "one run at a time per DIR: a second one fails at once, exit 1):\n"
        "  DIR/recommendations.csv  user_id,snapshot_date,state,coupon,expected_profit,p_alive\n"
        "  DIR/qtable.ofq           the Q table\n"
        "  DIR/params.json          the settings\n"
        "  DIR/report.json          timings per stage, Dyna-Q losses, epsilon schedule, spend\n"
        "  DIR/learning_curve.svg   mean |TD error| over training\n"
        "  DIR/bgnbd.json           the BG/NBD fit (per day), for `offerq serve --dir`\n"
        "With --pg the log is read from PostgreSQL (table customer_log of `offerq db`)\n"
        "and the day's list is written back with the run's report in one transaction\n"
        "(tables runs, recommendations); --out-dir is then optional.\n"
        "P(alive) comes from a BG/NBD fit on the purchases. r^ (--reward) comes by default\n"
        "from the response model: P(order | the customer's own history and P(alive),\n"
        "coupon) from gradient-boosted trees (XGBoost) on the log's contact rows and\n"
        "browsing stream, times the expected gross profit of the order (from the\n"
        "purchases' values, the customer's likely next category - a favourite that\n"
        "drifts, followed through the browsing - and its margin) minus the coupon\n"
        "(seconds; then r~ = r^). --reward transformer uses the profit Transformer\n"
        "instead (r~ = P(alive) x r^), trained on the log and its events stream (saved\n"
        "as DIR/model.ofq; minutes) or reused with --model. --reward sequence uses the\n"
        "sequence response model: P(order | the customer's daily browsing, orders and\n"
        "earlier contacts, coupon) from a Transformer whose coupon query attends over\n"
        "the history, times the same expected gross profit minus the coupon (trained\n"
        "with early stopping on its held-out doubly-robust value, saved as\n"
        "DIR/model.ofq).\n\n"
        "Options:\n"
        "  --pg URL        read the log from PostgreSQL, save the list there; one --pg\n"
        "                  per server when the log is sharded over several (or one list\n"
        "                  URL1,URL2 of postgresql:// URLs): customer u's rows on server\n"
        "                  shard(u) as `offerq db load` put them; the run is saved on\n"
        "                  the first server\n"
        "  --orders FILE   purchases for BG/NBD and, with values, for the order's gross\n"
        "                  profit (user_id,date[,value]); default: the log's\n"
        "                  LOG.orders.csv sidecar if it exists, else its order rows\n"
        "                  (with --pg: the orders table of `offerq db load --table\n"
        "                  orders` when it has rows, else the log's order rows)\n"
        "  --reward NAME   where r^ comes from: response (default), sequence, transformer,\n"
        "                  empirical\n"
        "  --events FILE   browsing stream for the r^ models (user_id,date,category);\n"
        "                  default: the log's LOG.events.csv sidecar if it exists (with\n"
        "                  --pg: the events table when it has rows)\n"
        "  --model FILE    reuse a trained profit or sequence model (offerq train)\n"
        "                  instead of training (implies --reward transformer unless\n"
        "                  --reward sequence)\n"
        "  --profit-epochs N  training epochs of the profit model (default 3; implies\n"
        "                  --reward transformer), or the sequence model's most epochs\n"
        "                  (default 10, early stopping on the held-out DR value)\n"
        "  --seq-len N     days of history of the sequence model (default 30)\n"
        "  --seq-state SET the sequence model's state features: base (default: recency,\n"
        "                  frequency, value, budget, P(alive), browsing beyond the\n"
        "                  window) or full (also the response model's 12 features of\n"
        "                  --features all; an ablation, docs/readme/worlds.md)\n"
        "  --warm-start DIR  the sequence model: start from yesterday's model (DIR/model.ofq\n"
        "                  of an earlier run, or a model file) and train it briefly (one\n"
        "                  epoch of 16,384 rows at lr 2e-5: the rows after its last day\n"
        "                  and a replay sample of older ones; kept only if it raises the\n"
        "                  held-out DR value) instead of from scratch;\n"
        "                  saved as DIR/model.ofq. A model of another shape (days of\n"
        "                  history, architecture, categories) is an error (offerq nightly\n"
        "                  warm-starts from its last run by itself)\n"
        "  --warm-fallback train from scratch when the --warm-start model (or offerq\n"
        "                  nightly's) is missing or of another shape, instead of failing\n"
        "  --cold-start    train the sequence model from scratch (the default here; in\n"
        "                  offerq nightly it turns the warm start from its last run off)\n"
        "  --p-model NAME  the response model's P(order) learner: boost (default:\n"
        "                  gradient-boosted trees) or logistic (one ridge logistic\n"
        "                  regression per coupon)\n"
        "  --trees N       boosting rounds (default 400)\n"
        "  --tree-depth D  depth of each tree (default 4)\n"
        "  --features SET  the response model's features: all (default), no-evidence\n"
        "                  (without the browse concentration evidence) or raw (no\n"
        "                  feature built around the generator's story: no evidence,\n"
        "                  and g's category mix from the customer's earlier orders\n"
        "                  instead of the favourite-category filter;\n"
        "                  docs/readme/worlds.md)\n"
        "  --seq-features  give the response model's trees 4 more inputs: the sequence\n"
        "                  model's logit of P(order | history, c) per coupon,\n"
        "                  cross-fitted (a model per half of the customers scores the\n"
        "                  other half; docs/readme/worlds.md). Trains two sequence\n"
        "                  models (--seq-len and --seq-state apply); boosted trees,\n"
        "                  one part\n"
        "  --interim       the same as --reward empirical: the logged mean reward per\n"
        "                  state x coupon, a baseline (for comparison)\n"
        "  --budget X      money for tomorrow's coupons (expected spend); default: no limit\n"
        "  --seed S        random seed (default 1)\n"
        "  --epochs N      Dyna-Q epochs (default 4)\n"
        "  --plan-k K      planning updates per real step (default 20)\n"
        "  --shards N      run in N parts, one per hash shard of user_id, as threads:\n"
        "                  every fit is a sum over the parts and Dyna-Q trains one\n"
        "                  learner per part, merged (default 1; results depend on N,\n"
        "                  not on the number of threads, and equal those of\n"
        "                  `mpirun -np N offerq run` in an MPI build; with --reward\n"
        "                  transformer or empirical only Dyna-Q is split)\n"
        "  --gamma G       discount (default 0.95)\n"
        "  --w-days W --w-p30 W --w-aov W --budget-levels L\n"
        "                  state buckets (default 10 2 20 10, the source's)\n"
        "  --continuation  plan on tomorrow's r~ plus Dyna-Q's gamma E[V(s')] (default:\n"
        "                  tomorrow's r~ alone; see docs/readme/dynaq.md)\n"
        "  --clv-weight W  add W x (P(order | coupon) - P(order | none)) x V to each\n"
        "                  coupon's value: V the change in the customer's discounted\n"
        "                  future gross profit that one order caused tomorrow brings\n"
        "                  under BG/NBD (an extra purchase is one more dropout chance,\n"
        "                  so V <= 0) with Gamma-Gamma profit per order; W 1 = the\n"
        "                  whole term (default 0: off; docs/readme/bgnbd.md)\n"
        "  --clv-model M   where that future comes from: bgnbd (default, the above) or\n"
        "                  log: later purchases per order a coupon caused, measured on\n"
        "                  the log's contacts (needs coupons drawn at random, as the\n"
        "                  logging policy of offerq gen; may be > 0)\n"
        "  --clv-days D    horizon of that future value in days (default 30)\n"
        "  --clv-discount R  its discount rate per 30 days (default 0.01)\n"
        "  --faithful      the seed's simplified loop instead of Dyna-Q (for comparison)\n"
        "  --keep-runs N   runs kept in DIR.runs/ (default 3; DIR links to the newest)\n"
        "  --quiet         no progress on stderr\n\n"
        "Under MPI (a build with -DOQ_MPI=ON, started by mpirun) each rank is one part,\n"
        "keeps only its customers' rows, and rank 0 writes DIR (docs/readme/mpi.md).\n"
        "With --pg each rank reads only its customers' rows: from its own servers when\n"
        "the ranks divide the number of servers, else from the partitions of its shard\n"
        "(offerq db init --partitions M, M a multiple of the ranks). For example:\n"
        "  mpirun -np 2 offerq run --pg postgresql://offerq@10.0.0.1/offerq \\\n"
        "      --pg postgresql://offerq@10.0.0.2/offerq\n"
        "(the orders and events tables too: each rank streams its own customers' rows).\n"
        "With --log each rank parses the whole file and keeps its rows; with --parts it\n"
        "reads only its part, STEM.part-R-of-N.csv (and that part's .orders.csv and\n"
        ".events.csv sidecars) as `offerq split --log LOG --parts N` wrote them:\n"
        "  offerq split --log example/log.csv --parts 2\n"
        "  mpirun -np 2 offerq run --log example/log.csv --parts --out-dir example/run\n"
        "(--parts N, as split's, also checks that N is the number of ranks).\n\n"
        "Example:\n  offerq gen --seed 1 --out example/log.csv\n"
        "  offerq run --log example/log.csv --out-dir example/run --budget 5000\n"
        "  offerq run --pg postgresql://offerq@127.0.0.1:5432/offerq --out-dir example/run\n"
        "  # and, after offerq db load --table offers|contacts|customers|...:\n"
        "  #   offerq run --pg URL --contacts-from-db --out-dir example/rawrun\n");
}

enum {
    O_LOG = 256,
    O_OUT,
    O_KEEP,
    O_BUDGET,
    O_SEED,
    O_EPOCHS,
    O_PLANK,
    O_FAITHFUL,
    O_QUIET,
    O_GAMMA,
    O_WD,
    O_WP,
    O_WA,
    O_BL,
    O_PG,
    O_ORDERS,
    O_EVENTS,
    O_MODEL,
    O_PEPOCHS,
    O_EMPIRICAL,
    O_REWARD,
    O_CONT,
    O_SHARDS,
    O_PMODEL,
    O_TREES,
    O_TDEPTH,
    O_FEATURES,
    O_SEQLEN,
    O_CLVW,
    O_CLVD,
    O_CLVR,
    O_CLVM,
    O_WARM,
    O_WARMFB,
    O_COLD,
    O_SEQFEAT,
    O_SEQSTATE
};

const struct option cli_run_options[] = {{"help", no_argument, 0, 'h'},
                                         {"log", required_argument, 0, O_LOG},
                                         {"out-dir", required_argument, 0, O_OUT},
                                         {"keep-runs", required_argument, 0, O_KEEP},
                                         {"budget", required_argument, 0, O_BUDGET},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"epochs", required_argument, 0, O_EPOCHS},
                                         {"plan-k", required_argument, 0, O_PLANK},
                                         {"faithful", no_argument, 0, O_FAITHFUL},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"gamma", required_argument, 0, O_GAMMA},
                                         {"w-days", required_argument, 0, O_WD},
                                         {"w-p30", required_argument, 0, O_WP},
                                         {"w-aov", required_argument, 0, O_WA},
                                         {"budget-levels", required_argument, 0, O_BL},
                                         {"pg", required_argument, 0, O_PG},
                                         {"orders", required_argument, 0, O_ORDERS},
                                         {"events", required_argument, 0, O_EVENTS},
                                         {"model", required_argument, 0, O_MODEL},
                                         {"profit-epochs", required_argument, 0, O_PEPOCHS},
                                         {"interim", no_argument, 0, O_EMPIRICAL},
                                         {"reward", required_argument, 0, O_REWARD},
                                         {"continuation", no_argument, 0, O_CONT},
                                         {"shards", required_argument, 0, O_SHARDS},
                                         {"p-model", required_argument, 0, O_PMODEL},
                                         {"trees", required_argument, 0, O_TREES},
                                         {"tree-depth", required_argument, 0, O_TDEPTH},
                                         {"features", required_argument, 0, O_FEATURES},
                                         {"seq-len", required_argument, 0, O_SEQLEN},
                                         {"clv-weight", required_argument, 0, O_CLVW},
                                         {"clv-days", required_argument, 0, O_CLVD},
                                         {"clv-discount", required_argument, 0, O_CLVR},
                                         {"clv-model", required_argument, 0, O_CLVM},
                                         {"warm-start", required_argument, 0, O_WARM},
                                         {"warm-fallback", no_argument, 0, O_WARMFB},
                                         {"cold-start", no_argument, 0, O_COLD},
                                         {"seq-features", no_argument, 0, O_SEQFEAT},
                                         {"seq-state", required_argument, 0, O_SEQSTATE},
                                         {0, 0, 0, 0}};

/* *list (malloc'ed, or NULL) += "\n" url. */
static int add_url(char **list, const char *url)
{
    size_t a = *list ? strlen(*list) : 0, b = strlen(url);
    char *p = realloc(*list, a + b + 2);
    if (!p) return cli_usage_error("run", "out of memory");
    if (a) p[a++] = '\n';
    memcpy(p + a, url, b + 1);
    *list = p;
    return 0;
}

int cli_clv_option(const char *cmd, int k, const char *arg, oq_clv_opts *o)
{
    static const char *name[3] = {"--clv-weight", "--clv-days", "--clv-discount"};
    static const double lo[3] = {0, 1, 0}, hi[3] = {100, 36500, 10};
    double *v[3] = {&o->weight, &o->days, &o->discount};
    if (k >= 0 && k < 3) return cli_double(cmd, name[k], arg, lo[k], hi[k], v[k]) ? 2 : 0;
    if ((o->model = oq_clv_model_parse(arg)) < 0)
        return cli_usage_error(cmd, "--clv-model: expected bgnbd or log, got '%s'", arg);
    return 0;
}

int cli_clv_check(const char *cmd, const oq_clv_opts *o)
{
    oq_pipeline_opts d;
    oq_pipeline_opts_default(&d);
    if (o->weight == 0 &&
        (o->model != d.clv.model || o->days != d.clv.days || o->discount != d.clv.discount))
        return cli_usage_error(cmd, "--clv-model, --clv-days and --clv-discount shape the CLV "
                                    "term: give --clv-weight W > 0 too");
    return 0;
}

int cli_run_parse(int argc, char **argv, oq_pipeline_opts *o, char **pg)
{
    return cli_run_parse_check(argc, argv, o, pg, CLI_DO);
}

int cli_run_parse_check(int argc, char **argv, oq_pipeline_opts *o, char **pg, int check)
{
    oq_pipeline_opts_default(o);
    *pg = NULL;
    long lv;
    int c, reward = -1, pepochs = 0, seqlen = 0, warmfb = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", cli_run_options, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return -1;
        case O_LOG:
            o->log_path = optarg;
            break;
        case O_OUT:
            if (cli_out_path("run", "--out-dir", optarg, 1)) return 2;
            o->out_dir = optarg;
            break;
        case O_KEEP: {
            long v;
            if (cli_long("run", "--keep-runs", optarg, 1, 1000, &v)) return 2;
            o->keep_runs = (int)v;
            break;
        }
        case O_PG:
            if (add_url(pg, optarg)) return 2;
            break;
        case O_ORDERS:
            o->orders_path = optarg;
            break;
        case O_EVENTS:
            o->events_path = optarg;
            break;
        case O_MODEL:
            o->model_path = optarg;
            break;
        case O_EMPIRICAL:
            reward = OQ_REWARD_EMPIRICAL;
            break;
        case O_REWARD:
            if ((reward = oq_reward_parse(optarg)) < 0)
                return cli_usage_error("run",
                                       "--reward: expected response, sequence, transformer or "
                                       "empirical, got '%s'",
                                       optarg);
            break;
        case O_PEPOCHS:
            if (cli_long("run", "--profit-epochs", optarg, 1, 100, &lv)) return 2;
            o->profit_epochs = (int)lv;
            pepochs = 1;
            break;
        case O_SEQLEN:
            if (cli_long("run", "--seq-len", optarg, 1, OQ_SEQ_MAX_SEQ, &lv)) return 2;
            seqlen = (int)lv;
            break;
        case O_WARM:
            if (!*optarg) return cli_usage_error("run", "--warm-start: expected a run folder");
            o->warm_start = optarg;
            break;
        case O_WARMFB:
            warmfb = 1;
            break;
        case O_COLD:
            o->cold_start = 1;
            break;
        case O_BUDGET:
            if (cli_double("run", "--budget", optarg, 0, 1e15, &o->budget)) return 2;
            break;
        case O_SEED:
            if (cli_u64("run", "--seed", optarg, &o->dq.seed)) return 2;
            break;
        case O_EPOCHS:
            if (cli_long("run", "--epochs", optarg, 1, OQ_DYNAQ_MAX_EPOCHS, &lv)) return 2;
            o->dq.epochs = (int)lv;
            break;
        case O_PLANK:
            if (cli_long("run", "--plan-k", optarg, 0, 1000, &lv)) return 2;
            o->dq.plan_k = (int)lv;
            break;
        case O_GAMMA:
            if (cli_double("run", "--gamma", optarg, 0, 1, &o->dq.gamma)) return 2;
            break;
        case O_WD:
            if (cli_double("run", "--w-days", optarg, 1e-3, 1e6, &o->disc.w_days)) return 2;
            break;
        case O_WP:
            if (cli_double("run", "--w-p30", optarg, 1e-3, 1e6, &o->disc.w_p30)) return 2;
            break;
        case O_WA:
            if (cli_double("run", "--w-aov", optarg, 1e-3, 1e9, &o->disc.w_aov)) return 2;
            break;
        case O_BL:
            if (cli_double("run", "--budget-levels", optarg, 1, 255, &o->disc.budget_levels))
                return 2;
            break;
        case O_FAITHFUL:
            o->dq.faithful = 1;
            break;
        case O_CONT:
            o->continuation = 1;
            break;
        case O_CLVW:
        case O_CLVD:
        case O_CLVR:
        case O_CLVM:
            if (cli_clv_option("run", c - O_CLVW, optarg, &o->clv)) return 2;
            break;
        case O_SHARDS:
            if (cli_long("run", "--shards", optarg, 1, OQ_DYNAQ_MAX_SHARDS, &lv)) return 2;
            o->shards = (int)lv;
            break;
        case O_PMODEL:
            if ((o->pmodel.kind = oq_pmodel_parse(optarg)) < 0)
                return cli_usage_error("run", "--p-model: expected boost or logistic, got '%s'",
                                       optarg);
            break;
        case O_TREES:
            if (cli_long("run", "--trees", optarg, 1, 100000, &lv)) return 2;
            o->pmodel.trees = (int)lv;
            break;
        case O_TDEPTH:
            if (cli_long("run", "--tree-depth", optarg, 1, 16, &lv)) return 2;
            o->pmodel.depth = (int)lv;
            break;
        case O_SEQFEAT:
            o->seq_features = 1;
            break;
        case O_SEQSTATE:
            if (strcmp(optarg, "base") != 0 && strcmp(optarg, "full") != 0)
                return cli_usage_error("run", "--seq-state: expected base or full, got '%s'",
                                       optarg);
            o->seq_state_full = strcmp(optarg, "full") == 0;
            break;
        case O_FEATURES:
            if ((o->features = oq_resp_features_parse(optarg)) < 0)
                return cli_usage_error(
                    "run", "--features: expected all, no-evidence or raw, got '%s'", optarg);
            break;
        case O_QUIET:
            o->quiet = 1;
            break;
        default:
            return cli_bad_option("run");
        }
    }
    if (optind != argc) return cli_usage_error("run", "unexpected argument '%s'", argv[optind]);
    if (check == CLI_CHECK_VALUES) return 0; /* one option alone: its value */
    int want_tf = o->model_path || pepochs;
    if (want_tf && reward >= 0 && reward != OQ_REWARD_TRANSFORMER && reward != OQ_REWARD_SEQUENCE)
        return cli_usage_error("run", "--model and --profit-epochs are for the profit "
                                      "Transformer or the sequence model: they need --reward "
                                      "transformer or sequence");
    if (pepochs && reward != OQ_REWARD_SEQUENCE && o->profit_epochs > 8)
        return cli_usage_error("run", "--profit-epochs: at most 8 for the profit Transformer");
    if ((seqlen || o->seq_state_full) && reward != OQ_REWARD_SEQUENCE && !o->seq_features)
        return cli_usage_error("run", "--seq-len and --seq-state are for the sequence model: "
                                      "they need --reward sequence or --seq-features");
    if (o->clv.weight > 0 && o->dq.faithful)
        return cli_usage_error("run", "--clv-weight adds to the plan's values; the seed-faithful "
                                      "loop (--faithful) has no plan");
    if ((o->warm_start || warmfb || o->cold_start) && reward != OQ_REWARD_SEQUENCE)
        return cli_usage_error("run", "--warm-start, --warm-fallback and --cold-start are for the "
                                      "sequence model: they need --reward sequence");
    if (o->warm_start && (o->model_path || o->cold_start))
        return cli_usage_error("run", "--warm-start trains the model it starts from: not with "
                                      "--model or --cold-start");
    o->warm_fallback = warmfb;
    o->reward = reward >= 0 ? reward : want_tf ? OQ_REWARD_TRANSFORMER : OQ_REWARD_RESPONSE;
    o->seq_len = seqlen;
    if (cli_clv_check("run", &o->clv)) return 2;
    if (o->seq_features && (o->reward != OQ_REWARD_RESPONSE || o->pmodel.kind != OQ_PMODEL_BOOST ||
                            oq_pipeline_parts(o) > 1))
        return cli_usage_error("run", "--seq-features feeds the response model's boosted trees: "
                                      "not with another --reward, --p-model logistic or "
                                      "--shards N > 1");
    if (o->clv.weight > 0 && oq_pipeline_parts(o) > 1)
        return cli_usage_error("run", "--clv-weight needs the whole log in one part: not with "
                                      "--shards N > 1 (the Gamma-Gamma fit is not done in parts)");
    return 0;
}

static int run_local(oq_pipeline_opts *o, const char *pg);
static int run_mpi(oq_pipeline_opts *o, const char *pg, int parts, oq_comm *mc);
static void print_done(const oq_pipeline_opts *o, const oq_pipeline_result *r);

/* A private temporary folder for tables read from PostgreSQL, and its
 * files (removed by tmp_done). */
typedef struct tmpdir {
    char dir[64];
    char path[5][96];
    int n;
} tmpdir;

static int tmp_start(tmpdir *t)
{
    snprintf(t->dir, sizeof t->dir, "/tmp/offerq-pg-XXXXXX");
    t->n = 0;
    if (mkdtemp(t->dir)) return 0;
    fprintf(stderr, "offerq: error: cannot create a temporary folder in /tmp\n");
    t->dir[0] = 0;
    return 1;
}

static const char *tmp_file(tmpdir *t, const char *name)
{
    char dir[sizeof t->dir];
    int k = t->n < 5 ? t->n++ : 4; /* one file per table: at most 5 */
    memcpy(dir, t->dir, sizeof dir);
    snprintf(t->path[k], sizeof t->path[k], "%s/%s.csv", dir, name);
    return t->path[k];
}

static void tmp_done(tmpdir *t)
{
    for (int k = 0; k < t->n; k++)
        remove(t->path[k]);
    if (t->dir[0]) rmdir(t->dir);
    t->dir[0] = 0;
    t->n = 0;
}

/* Table t into a file of tmp when it has rows: *path set (else left). */
static int table_file(const char *pg, oq_db_table t, const oq_part *part, int seed, tmpdir *tmp,
                      const char **path, size_t *rows, oq_error *err)
{
    int64_t n = 0;
    int rc = oq_db_table_rows(pg, t, &n, err);
    if (rc || n == 0) return rc;
    const char *p = tmp_file(tmp, oq_db_table_name(t));
    if ((rc = oq_db_export_table(pg, t, part, seed, p, rows, err))) return rc;
    *path = p;
    return 0;
}

/* `run --pg URL --contacts-from-db [options]`: the raw tables from
 * PostgreSQL into temporary CSVs, then the --contacts path on them. */
static int run_raw_db(int argc, char **argv)
{
    char *pg = NULL;
    const char *orders = NULL, *events = NULL, *bad = NULL;
    char **av = calloc((size_t)argc + 12, sizeof *av);
    int ac = 0, rc = 1, quiet = 0;
    tmpdir tmp = {.n = 0};
    oq_error err = {0};
    if (!av) return cli_usage_error("run", "out of memory");
    av[ac++] = argv[0];
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (!strcmp(a, "--contacts-from-db")) continue;
        if (!strcmp(a, "--pg") || !strncmp(a, "--pg=", 5)) {
            const char *v = a[4] == '=' ? a + 5 : k + 1 < argc ? argv[++k] : NULL;
            if (!v) {
                bad = "--pg needs a URL";
                break;
            }
            if (add_url(&pg, v)) goto cleanup;
            continue;
        }
        if (!strcmp(a, "--quiet")) quiet = 1;
        /* --orders F or --orders=F: the user's file wins over the table */
        if (!strcmp(a, "--orders") && k + 1 < argc) orders = argv[k + 1];
        if (!strncmp(a, "--orders=", 9)) orders = a + 9;
        if (!strcmp(a, "--events") && k + 1 < argc) events = argv[k + 1];
        if (!strncmp(a, "--events=", 9)) events = a + 9;
        static const char *const own[] = {"--contacts", "--customers", "--offers",
                                          "--columns",  "--ignore",    "--log"};
        for (size_t j = 0; j < sizeof own / sizeof *own; j++) {
            size_t l = strlen(own[j]);
            if (!strncmp(a, own[j], l) && (a[l] == 0 || a[l] == '='))
                bad = "--contacts-from-db reads contacts, customers and offers from PostgreSQL "
                      "with the column names given at db load: drop --contacts, --customers, "
                      "--offers, --columns, --ignore and --log";
        }
        av[ac++] = argv[k];
    }
    if (!bad && !pg) bad = "--contacts-from-db needs --pg URL";
    if (bad) {
        rc = cli_usage_error("run", "%s", bad);
        goto cleanup;
    }
    if (oq_db_shard_count(pg, &err) < 0) {
        rc = cli_usage_error("run", "--pg: %s", err.msg);
        goto cleanup;
    }
    const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
    if (ws && atoi(ws) > 1) {
        rc = cli_usage_error("run", "--contacts-from-db runs in one process: the raw-table path "
                                    "is not split over MPI ranks; run it without mpirun");
        goto cleanup;
    }
    if (tmp_start(&tmp)) goto cleanup;
    const char *path[OQ_DB_NTABLES] = {0};
    size_t n[OQ_DB_NTABLES] = {0};
    for (int t = 0; t < OQ_DB_NTABLES; t++) {
        if ((t == OQ_DB_ORDERS && orders) || (t == OQ_DB_EVENTS && events)) continue;
        if (table_file(pg, (oq_db_table)t, NULL, 0, &tmp, &path[t], &n[t], &err)) {
            rc = cli_fail(&err, "is the database up and loaded (offerq db init, db load --table)?");
            goto cleanup;
        }
    }
    for (int t = OQ_DB_CONTACTS; t <= OQ_DB_CUSTOMERS; t++)
        if (!path[t]) {
            fprintf(stderr,
                    "offerq: error: the %s table is empty\nofferq: load it: offerq db load --pg "
                    "URL --table %s FILE\n",
                    oq_db_table_name((oq_db_table)t), oq_db_table_name((oq_db_table)t));
            goto cleanup;
        }
    if (!path[OQ_DB_OFFERS]) {
        fprintf(stderr, "offerq: error: the offers table is empty\nofferq: load it: offerq db "
                        "load --pg URL --table offers FILE\n");
        goto cleanup;
    }
    static const char *const opt[OQ_DB_NTABLES] = {"--contacts", "--customers", "--orders",
                                                   "--events", "--offers"};
    for (int t = 0; t < OQ_DB_NTABLES; t++)
        if (path[t]) {
            av[ac++] = (char *)opt[t];
            av[ac++] = (char *)path[t];
        }
    if (!quiet)
        fprintf(stderr,
                "offerq run: read from PostgreSQL %zu contacts, %zu customers, %zu offers, %zu "
                "orders, %zu events\n",
                n[OQ_DB_CONTACTS], n[OQ_DB_CUSTOMERS], n[OQ_DB_OFFERS], n[OQ_DB_ORDERS],
                n[OQ_DB_EVENTS]);
    rc = cmd_uplift(ac, av);
cleanup:
    tmp_done(&tmp);
    free(av);
    free(pg);
    return rc;
}

static int run_cmd(int argc, char **argv, char **pg)
{
    /* a shop's raw tables: the uplift path (cmd_uplift.c), from files or
     * from PostgreSQL */
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--contacts-from-db")) return run_raw_db(argc, argv);
    for (int k = 1; k < argc; k++)
        if (!strcmp(argv[k], "--contacts") || !strncmp(argv[k], "--contacts=", 11))
            return cmd_uplift(argc, argv);
    /* --parts: a flag of the MPI run alone (not a pipeline option) */
    int parts = 0, n = 1;
    long parts_n = 0; /* --parts N (as split's) or --parts=N: N must be the ranks */
    for (int k = 1; k < argc; k++) {
        const char *a = argv[k];
        if (strcmp(a, "--parts") != 0 && strncmp(a, "--parts=", 8) != 0) {
            argv[n++] = argv[k];
            continue;
        }
        parts = 1;
        const char *v = a[7] == '=' ? a + 8
                        : k + 1 < argc &&
                                strspn(argv[k + 1], "0123456789") == strlen(argv[k + 1]) &&
                                argv[k + 1][0]
                            ? argv[++k]
                            : NULL;
        if (v && cli_long("run", "--parts", v, 1, OQ_COMM_MAX, &parts_n)) return 2;
    }
    argc = n;
    argv[argc] = NULL;
    oq_pipeline_opts o;
    int prc = cli_run_parse(argc, argv, &o, pg);
    if (prc) return prc < 0 ? 0 : prc;
    if (!!o.log_path == !!*pg)
        return cli_usage_error("run", "give exactly one of --log LOG.csv or --pg URL");
    if (parts && !o.log_path) return cli_usage_error("run", "--parts needs --log LOG.csv");
    const char *ws0 = getenv("OMPI_COMM_WORLD_SIZE");
    if (parts && !cli_mpi_launched() && !(ws0 && atoi(ws0) > 1))
        return cli_usage_error("run", "--parts is for mpirun -np N (each rank reads its part); "
                                      "one process reads the whole log: leave --parts out");
    if (!o.out_dir && !*pg) return cli_usage_error("run", "--out-dir DIR is required");
    oq_error err = {0};
    if (*pg && oq_db_shard_count(*pg, &err) < 0) return cli_usage_error("run", "--pg: %s", err.msg);
    if (!cli_mpi_launched()) {
        const char *ws = getenv("OMPI_COMM_WORLD_SIZE");
        if (ws && atoi(ws) > 1) {
            fprintf(stderr,
                    "offerq: error: started by mpirun with %s ranks, but this offerq was "
                    "built without MPI\nofferq: build with cmake -DOQ_MPI=ON "
                    "(docs/readme/mpi.md)\n",
                    ws);
            return 1;
        }
        return run_local(&o, *pg);
    }
    oq_comm mc;
    if (cli_mpi_start(&argc, &argv, &mc)) return 1;
    if (parts && mc.size < 2) {
        cli_mpi_stop();
        return cli_usage_error("run", "--parts is for mpirun -np N with N > 1 (one process reads "
                                      "the whole log: leave --parts out)");
    }
    if (parts_n && parts_n != mc.size) {
        if (mc.rank == 0)
            cli_usage_error("run",
                            "--parts %ld: the log was split for %ld ranks, this is "
                            "mpirun -np %d",
                            parts_n, parts_n, mc.size);
        cli_mpi_stop();
        return 2;
    }
    int rc = mc.size > 1 ? run_mpi(&o, *pg, parts, &mc) : run_local(&o, *pg); /* -np 1 */
    cli_mpi_stop();
    return rc;
}

int cmd_run(int argc, char **argv)
{
    char *pg = NULL; /* the --pg URLs, one per shard (db.h) */
    int rc = run_cmd(argc, argv, &pg);
    free(pg);
    return rc;
}

/* The day's list and the report into PostgreSQL (the first server of pg),
 * in one transaction (db.h). */
static int save_pg(const oq_pipeline_opts *o, const oq_pipeline_result *r, const char *pg,
                   double started_at, size_t log_rows)
{
    oq_error err = {0};
    oq_reco *reco = NULL;
    char *report = oq_pipeline_report_text(o, r);
    int64_t run_id = 0;
    int rc = 0;
    oq_db_run run = {.source = "offerq run --pg",
                     .started_at = started_at,
                     .log_rows = log_rows,
                     .report_json = report};
    if (!report) {
        fprintf(stderr, "offerq: error: out of memory\n");
        rc = 1;
    } else if (oq_pipeline_reco(r, &reco, &err) || oq_db_save_run(pg, reco, &run, &run_id, &err)) {
        rc = cli_fail(&err, "nothing was saved to the database");
    } else {
        printf("run %lld: %zu recommendations saved\n", (long long)run_id, reco->n);
    }
    oq_reco_free(reco);
    free(report);
    return rc;
}

/* With --pg: the orders and events tables, when they have rows and no
 * --orders / --events file is given, as the log path's files (part's
 * customers' rows only: a rank streams its own shard). */
static int pg_tables(oq_pipeline_opts *o, const char *pg, const oq_part *part, tmpdir *tmp,
                     oq_error *err)
{
    size_t n = 0, m = 0;
    int rc = 0;
    if ((!o->orders_path || !o->events_path) && (rc = tmp_start(tmp) ? OQ_EIO : 0))
        return oq_error_set(err, rc, "/tmp", 0, 0, "cannot create a temporary folder");
    if (!o->orders_path &&
        (rc = table_file(pg, OQ_DB_ORDERS, part, 1, tmp, &o->orders_path, &n, err)))
        return rc;
    if (!o->events_path &&
        (rc = table_file(pg, OQ_DB_EVENTS, part, 0, tmp, &o->events_path, &m, err)))
        return rc;
    if (!o->quiet && (n || m) && (!part || part->rank == 0))
        fprintf(stderr, "offerq run: read %zu orders and %zu events rows from PostgreSQL%s\n", n, m,
                part && part->size > 1 ? " (this rank's customers)" : "");
    return 0;
}

/* One rank of `mpirun -np N offerq run`: one part of the run (pipeline.h).
 * With --pg the rank reads only its customers' rows (oq_db_read_log_part)
 * and the ranks agree on the categories; rank 0 saves the run. */
static int run_mpi(oq_pipeline_opts *o_in, const char *pg, int parts, oq_comm *mc)
{
    /* a copy: the paths set below (temporary tables, a part's sidecars) live
     * in this frame and must not outlive it in the caller's options */
    oq_pipeline_opts oo = *o_in, *o = &oo;
    const char *why = NULL;
    if (o->reward != OQ_REWARD_RESPONSE)
        why = "a run under MPI needs --reward response (the default): the other reward models "
              "are not fitted in parts yet";
    else if (o->shards != 1 && o->shards != mc->size)
        why = "--shards N under MPI must be the number of ranks (or be left out)";
    else if (o->clv.weight > 0)
        why = "--clv-weight needs the whole log in one part: not under mpirun (the Gamma-Gamma "
              "fit is not done in parts)";
    if (why) {
        if (mc->rank == 0) fprintf(stderr, "offerq run: %s\n", why);
        return 2;
    }
    o->shards = mc->size; /* params.json names the parts, as --shards N does */
    /* No rank holds the whole list: it is merged into the file. Except with
     * --pg: rank 0 saves the whole list into PostgreSQL, so it gathers it. */
    o->stream_list = !pg;
    oq_error err = {0};
    oq_pipeline_result *r = NULL;
    oq_log *log = NULL;
    double started_at = oq_unix_now(); /* stored in runs.started_at: wall clock */
    int failed = 0;
    tmpdir tmp = {.n = 0};
    char part_path[4200], part_orders[4300], part_events[4300];
    struct stat st_log, st_part;
    if (pg) {
        oq_part part = oq_comm_part(mc);
        if (!(failed = oq_db_read_log_part(pg, &part, &log, &err)))
            failed = oq_log_share_cats(log, mc, &err);
        if (!failed) failed = pg_tables(o, pg, &part, &tmp, &err);
    } else if (parts) {
        /* this rank's part of the log (offerq split): its rows only, the
         * ranks agree on the category ids (as with --pg); the sidecars are
         * the part's own (STEM.part-R-of-N.orders.csv, ...) */
        if (cli_part_path(o->log_path, mc->rank, mc->size, part_path, sizeof part_path)) {
            failed = oq_error_set(&err, OQ_EINVAL, o->log_path, 0, 0, "path too long");
        } else if (!oq_file_exists(part_path)) {
            failed = oq_error_set(&err, OQ_EIO, part_path, 0, 0,
                                  "no such part: --parts reads the files of `offerq split --log "
                                  "%s --parts %d`",
                                  o->log_path, mc->size);
        } else if (stat(o->log_path, &st_log) == 0 && stat(part_path, &st_part) == 0 &&
                   st_log.st_mtime > st_part.st_mtime) {
            failed = oq_error_set(&err, OQ_EINVAL, part_path, 0, 0,
                                  "older than %s: split again (offerq split --log %s --parts %d)",
                                  o->log_path, o->log_path, mc->size);
        } else if (!(failed = oq_log_read(part_path, &log, &err))) {
            failed = oq_log_share_cats(log, mc, &err);
            /* the part's sidecars, unless --orders/--events name files (which
             * every rank then reads by part); params.json keeps --log */
            o->orders_path = cli_sidecar_or(o->orders_path, part_path, ".orders.csv", part_orders,
                                            sizeof part_orders);
            o->events_path = cli_sidecar_or(o->events_path, part_path, ".events.csv", part_events,
                                            sizeof part_events);
        }
    }
    if (!failed) failed = oq_pipeline_run_part(o, mc, log, &r, &err);
    tmp_done(&tmp);
    oq_log_free(log);
    if (failed) {
        oq_comm_fail(mc, failed, &err); /* MPI_Abort: every rank stops */
        return 1;
    }
    int rc = 0;
    if (mc->rank == 0) {
        print_done(o, r);
        if (pg) rc = save_pg(o, r, pg, started_at, r->log_rows);
    }
    oq_pipeline_result_free(r);
    return rc;
}

/* The summary line on stderr. */
static void print_done(const oq_pipeline_opts *o, const oq_pipeline_result *r)
{
    double total = 0;
    for (int k = 0; k < OQ_N_STAGES; k++)
        total += r->stage_s[k];
    const size_t *cnt = r->per_coupon; /* every part's customers */
    fprintf(stderr,
            "offerq run: %zu customers, coupons none/5/10/20 = %zu/%zu/%zu/%zu, expected spend "
            "%.2f%s, %.2fs%s%s%s\n",
            r->n_all, cnt[0], cnt[1], cnt[2], cnt[3], r->plan_spend,
            isfinite(o->budget) ? " (budget-limited)" : "", total, o->out_dir ? "; wrote " : "",
            o->out_dir ? o->out_dir : "", o->out_dir ? "/" : "");
    if (r->baseline)
        fprintf(stderr, "offerq run: note: r^ is the empirical baseline (%s)\n", r->scorer_name);
}

/* The one-process job (--shards N: N parts as threads). */
static int run_local(oq_pipeline_opts *op, const char *pg)
{
    oq_pipeline_opts o = *op;
    oq_error err = {0};
    oq_pipeline_result *r = NULL;
    oq_log *log = NULL;
    double started_at = oq_unix_now(); /* stored in runs.started_at: wall clock */
    tmpdir tmp = {.n = 0};
    if (pg) {
        int rc = oq_db_read_log(pg, &log, &err);
        if (!rc && !o.quiet)
            fprintf(stderr, "offerq run: read %zu log rows from PostgreSQL\n", log->n);
        if (!rc) rc = pg_tables(&o, pg, NULL, &tmp, &err);
        if (rc) {
            tmp_done(&tmp);
            oq_log_free(log);
            return cli_fail(&err, rc == OQ_EIO ? "is the database up and loaded "
                                                 "(offerq db init, db load)?"
                                               : NULL);
        }
    }
    int failed = oq_pipeline_run(&o, log, &r, &err);
    tmp_done(&tmp);
    size_t log_rows = log ? log->n : 0;
    oq_log_free(log);
    if (failed) return cli_fail(&err, NULL);
    print_done(&o, r);
    int rc = pg ? save_pg(&o, r, pg, started_at, log_rows) : 0;
    oq_pipeline_result_free(r);
    return rc;
}
