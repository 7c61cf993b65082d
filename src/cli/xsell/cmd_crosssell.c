/* cmd_crosssell.c - `offerq crosssell experiment|learn|offer`: dynamic
 * cross-selling with K-Q-learning (include/offerq/xsell/crosssell.h). */
#include "cli/cli.h"
#include "offerq/xsell/crosssell.h"
#include "offerq/xsell/learn.h"
#include "offerq/xsell/rules.h"
#include "util/json.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static void help(FILE *fp)
{
    fprintf(
        fp,
        "Usage: offerq crosssell experiment --out DIR [--seed S] [--quick] [--seeds R]\n"
        "       offerq crosssell learn --items ITEMS.csv (--rules RULES.csv | --baskets B.csv)\n"
        "                              --out TABLE.oxq\n"
        "       offerq crosssell offer --table TABLE.oxq --item NAME --inventory 6,10,4,5,7\n\n"
        "Dynamic cross-selling (K-Q-learning, docs/readme/crosssell.md): when a buyer\n"
        "asks for item i, offer one item j bundled at a discount, given the inventory.\n"
        "The lookup table Q(s, e, d) is learned by K-Q-learning: association rules set\n"
        "the prior of how often a bundle is taken (or, on request, bias the Boltzmann\n"
        "exploration or prune bundles: --knowledge); Q\n"
        "is factored (acceptance per bundle and discount, a value per unit of each\n"
        "item's stock), so every inventory gets an answer. Out-of-stock items and\n"
        "prices below cost are never offered. The objective is profit (price - cost)\n"
        "unless --objective revenue.\n\n"
        "experiment   the paper's figures 2a (seasons until the learned policy earns a\n"
        "             share of the DP optimum's gain, vs number of rules) and 2b (profit\n"
        "             or revenue of every policy: K-Q with and without rules, the paper's\n"
        "             tabular K-Q, plain Q-learning, a static bundle rule, none, the DP\n"
        "             optimum) in its simulator, with rules mined from simulated baskets;\n"
        "             writes DIR/fig2a.{csv,svg}, fig2b.{csv,svg}, fig2b_share.svg,\n"
        "             fig2b_scenarios.svg,"
        " results.md, summary.json.\n"
        "  --seed S     random seed (default 1)    --seeds R   runs per point (default 20)\n"
        "  --quick      small fast configuration (4 items x 4 units)\n"
        "  --episodes N training seasons per run (default 10000; quick 2000)\n"
        "  --objective profit|revenue   (default profit)\n"
        "  --conv-share X   fig 2a's mark: share of the DP gain (default 0.9)\n"
        "  --rules mined|planted   rules mined from the simulated purchase history of each\n"
        "               run's world (default) or the planted rules themselves\n"
        "  --baskets B --basket-noise F --min-support S --min-confidence C\n"
        "               the mining (default 1000 baskets (quick 500), 0.1 of them noise,\n"
        "               support 0.02, confidence 0.3)\n"
        "  --static-level best|L   the static rule's discount level (0 = none off,\n"
        "               1 = 10 %%, ..): best (default) evaluates every level in each\n"
        "               run's world and keeps the one that earns the most\n"
        "  --ablation   also fig 2a for K-Q using the rules one way at a time\n"
        "  --convergence-only   fig 2a of K-Q with and without rules alone (and the\n"
        "               ablation), each run stopped at the mark: cheap, for many --seeds\n"
        "  --rock       also K-Q within ROCK clusters of the baskets (--rock-theta T\n"
        "               --rock-k K, default 0.5, 3)\n"
        "  --threads T  OpenMP threads             --quiet     no progress\n\n"
        "learn        trains a table in the section 4.2 simulator built from the items\n"
        "             (item,price,cost,inventory[,arrival]) and the rules of `offerq rules`\n"
        "             (type,lhs,rhs,support,confidence,lift,count; single-item rules are\n"
        "             used, the rule confidence is the buyer's interest in the add-on).\n"
        "  --baskets FILE      mine the rules from baskets instead (one basket a line,\n"
        "                      items comma-separated), positive and negative, and write\n"
        "                      them beside the table as TABLE.rules.csv\n"
        "  --min-support S --min-confidence C   for --baskets (default 0.01, 0.3)\n"
        "  --episodes N        training seasons (default 20000)\n"
        "  --objective profit|revenue   what the table maximises (default profit)\n"
        "  --method kq|qlearning|kq-tabular   (default kq: factored K-Q; kq-tabular:\n"
        "                      the paper's K-Q, one Q value per inventory state)\n"
        "  --knowledge LIST    how K-Q uses the rules: explore, prior, prune, all, none\n"
        "                      (default prior)\n"
        "  --discounts LIST    discount levels (default 0,0.1,0.2,0.3)\n"
        "  --survival G        P(season goes on after a period) (default 0.98)\n"
        "  --arrival-total A   buyer probability per period shared by items without an\n"
        "                      arrival column (default 0.6)\n"
        "  --candidates all|rock  items K-Q may bundle with a request (default all):\n"
        "                      rock = the other items of its ROCK cluster, computed\n"
        "                      from the --baskets (the paper's section 2)\n"
        "  --rock-theta T --rock-k K   ROCK's neighbour threshold and clusters over\n"
        "                      the baskets (default 0.5, 2)\n"
        "  --seed S   --quiet\n"
        "  --summary FILE.json JSON for the dashboard (put it in the run directory as\n"
        "                      crosssell.json): the decision for each item at full stock,\n"
        "                      the items, and the exact expected revenue per season\n\n"
        "offer        looks a decision up: the bundle item and discount for a request.\n"
        "             An inventory never seen in training is answered too: by the\n"
        "             factored Q of a kq table, by the nearest seen inventory of a\n"
        "             tabular one (the output says which).\n"
        "  --item NAME         requested item (name, or position counted from 1)\n"
        "  --inventory LIST    current stock of every item, in the table's item order\n"
        "  --json              print JSON\n\n"
        "Examples:\n"
        "  offerq crosssell experiment --quick --out example/xsell --seed 1\n"
        "  offerq crosssell learn --items examples/items.csv --baskets examples/baskets.csv \\\n"
        "      --out example/table.oxq\n"
        "  offerq crosssell offer --table example/table.oxq --item bread --inventory 6,10,4,5,7\n"
        "(examples/: 5 items and 1,500 baskets; without --quick the experiment runs\n"
        "the paper's full setting, about half an hour on two cores)\n");
}

/* "0,0.1,0.2" -> values; returns count or -1. */
static int parse_list(const char *s, double *out, int max)
{
    int n = 0;
    const char *p = s;
    while (*p) {
        char *end;
        errno = 0;
        double v = strtod(p, &end);
        if (end == p || errno || n == max) return -1;
        out[n++] = v;
        if (*end == ',')
            p = end + 1;
        else if (*end == 0)
            p = end;
        else
            return -1;
        if (*end == ',' && *p == 0) return -1;
    }
    return n;
}

static int cmd_experiment(int argc, char **argv)
{
    enum {
        O_OUT = 256,
        O_SEED,
        O_QUICK,
        O_SEEDS,
        O_THREADS,
        O_QUIET,
        O_ROCK,
        O_RT,
        O_RK,
        O_EPIS,
        O_OBJ,
        O_CONV,
        O_RULES,
        O_BASK,
        O_NOISE,
        O_SUP,
        O_CONF,
        O_ABL,
        O_RB,
        O_CONVONLY,
        O_STATIC
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"out", required_argument, 0, O_OUT},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"quick", no_argument, 0, O_QUICK},
                                         {"seeds", required_argument, 0, O_SEEDS},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"rock", no_argument, 0, O_ROCK},
                                         {"rock-theta", required_argument, 0, O_RT},
                                         {"rock-k", required_argument, 0, O_RK},
                                         {"episodes", required_argument, 0, O_EPIS},
                                         {"objective", required_argument, 0, O_OBJ},
                                         {"conv-share", required_argument, 0, O_CONV},
                                         {"rules", required_argument, 0, O_RULES},
                                         {"baskets", required_argument, 0, O_BASK},
                                         {"basket-noise", required_argument, 0, O_NOISE},
                                         {"min-support", required_argument, 0, O_SUP},
                                         {"min-confidence", required_argument, 0, O_CONF},
                                         {"ablation", no_argument, 0, O_ABL},
                                         {"rock-baskets", required_argument, 0, O_RB},
                                         {"convergence-only", no_argument, 0, O_CONVONLY},
                                         {"static-level", required_argument, 0, O_STATIC},
                                         {0, 0, 0, 0}};
    const char *cmd = "crosssell experiment", *out = NULL;
    uint64_t seed = 1;
    long seeds = -1, threads = 0, rock_k = -1, episodes = -1, baskets = -1, rock_b = -1;
    double rock_theta = -1, conv = -1, noise = -1, sup = -1, conf = -1;
    int quick = 0, quiet = 0, rock = 0, obj = OQ_XSELL_OBJ_PROFIT, rules = -1, ablation = 0, c;
    int conv_only = 0;
    long static_level = -2; /* -2: the default, -1: best */
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_OUT:
            if (cli_out_path(cmd, "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        case O_SEED:
            if (cli_u64(cmd, "--seed", optarg, &seed)) return 2;
            break;
        case O_QUICK:
            quick = 1;
            break;
        case O_SEEDS:
            if (cli_long(cmd, "--seeds", optarg, 2, 1000, &seeds)) return 2;
            break;
        case O_THREADS:
            if (cli_long(cmd, "--threads", optarg, 1, 256, &threads)) return 2;
            break;
        case O_QUIET:
            quiet = 1;
            break;
        case O_ROCK:
            rock = 1;
            break;
        case O_RB: /* the old spelling: a number of baskets, 0 = no ROCK arm */
            if (cli_long(cmd, "--rock-baskets", optarg, 0, 1000000, &rock_b)) return 2;
            rock = rock_b > 0;
            if (rock_b > 0) baskets = rock_b;
            break;
        case O_RT:
            if (cli_double(cmd, "--rock-theta", optarg, 0, 0.999999, &rock_theta)) return 2;
            break;
        case O_RK:
            if (cli_long(cmd, "--rock-k", optarg, 1, OQ_XSELL_MAX_ITEMS, &rock_k)) return 2;
            break;
        case O_EPIS:
            if (cli_long(cmd, "--episodes", optarg, 1, 100000000, &episodes)) return 2;
            break;
        case O_OBJ:
            obj = oq_xsell_objective_parse(optarg);
            if (obj < 0)
                return cli_usage_error(cmd, "--objective expects profit or revenue, got '%s'",
                                       optarg);
            break;
        case O_CONV:
            if (cli_double(cmd, "--conv-share", optarg, 0.01, 1, &conv)) return 2;
            break;
        case O_RULES:
            if (!strcmp(optarg, "mined"))
                rules = OQ_XSELL_RULES_MINED;
            else if (!strcmp(optarg, "planted"))
                rules = OQ_XSELL_RULES_PLANTED;
            else
                return cli_usage_error(cmd, "--rules expects mined or planted, got '%s'", optarg);
            break;
        case O_BASK:
            if (cli_long(cmd, "--baskets", optarg, 1, 1000000, &baskets)) return 2;
            break;
        case O_NOISE:
            if (cli_double(cmd, "--basket-noise", optarg, 0, 1, &noise)) return 2;
            break;
        case O_SUP:
            if (cli_double(cmd, "--min-support", optarg, 1e-9, 1, &sup)) return 2;
            break;
        case O_CONF:
            if (cli_double(cmd, "--min-confidence", optarg, 0, 1, &conf)) return 2;
            break;
        case O_ABL:
            ablation = 1;
            break;
        case O_CONVONLY:
            conv_only = 1;
            break;
        case O_STATIC:
            if (!strcmp(optarg, "best"))
                static_level = -1;
            else if (cli_long(cmd, "--static-level", optarg, 0, OQ_XSELL_MAX_DISC - 1,
                              &static_level))
                return 2;
            break;
        default:
            return cli_bad_option(cmd);
        }
    }
    if (optind != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out DIR is required");
    {
        /* the folder and its parents (out/xsell before out/ exists) */
        char sub[4096];
        oq_error merr = {0};
        if (snprintf(sub, sizeof sub, "%s/x", out) >= (int)sizeof sub)
            return cli_usage_error(cmd, "--out path too long");
        if (oq_make_parents(sub, &merr)) return cli_fail(&merr, NULL);
    }
    oq_xsell_exp_config cfg;
    oq_xsell_exp_default(&cfg, quick);
    cfg.seed = seed;
    cfg.sim.mdp.objective = obj;
    if (seeds > 0) cfg.n_seeds = (int)seeds;
    if (episodes > 0) cfg.episodes = episodes;
    if (conv > 0) cfg.conv_share = conv;
    if (rules >= 0) cfg.rules = rules;
    if (baskets > 0) cfg.n_baskets = (size_t)baskets;
    if (noise >= 0) cfg.basket_noise = noise;
    if (sup > 0) cfg.min_support = sup;
    if (conf >= 0) cfg.min_confidence = conf;
    cfg.ablation = ablation;
    cfg.conv_only = conv_only;
    if (static_level > -2) {
        if (static_level >= cfg.sim.mdp.n_disc)
            return cli_usage_error(cmd, "--static-level expects best or a level 0..%d, got %ld",
                                   cfg.sim.mdp.n_disc - 1, static_level);
        cfg.static_level = (int)static_level;
    }
    cfg.threads = (int)threads;
    cfg.quiet = quiet;
    cfg.rock = rock;
    if (rock_theta >= 0) cfg.rock_theta = rock_theta;
    if (rock_k > 0) cfg.rock_k = (size_t)rock_k;
    oq_xsell_exp_result res;
    oq_error err = {0};
    if (oq_xsell_experiment(&cfg, out, &res, &err)) return cli_fail(&err, NULL);
    printf("no cross-selling: expected revenue %.2f, profit %.2f per season (objective: %s)\n",
           res.none_revenue, res.none_profit, oq_xsell_objective_name(obj));
    printf("share of the DP optimum's gain (%%, mean over %d runs), positive planted rules:\n",
           cfg.n_seeds);
    printf("%8s %10s %10s %10s %10s %10s | %12s %12s\n", "n_rules", "K-Q", "K-Q-norule", "K-Q-tab",
           "plain-Q", "static", "K-Q seasons", "no-rules s.");
    for (int p = 0; p < cfg.n_points; p++) {
        const oq_xsell_stat *sh = res.share[OQ_XSELL_SC_POS][p];
        printf("%8d %10.1f %10.1f %10.1f %10.1f %10.1f | %12.0f %12.0f\n", cfg.n_rules[p],
               sh[OQ_XSELL_ARM_KQ].mean, sh[OQ_XSELL_ARM_KQ_NORULES].mean,
               sh[OQ_XSELL_ARM_KQ_TABULAR].mean, sh[OQ_XSELL_ARM_QLEARN].mean,
               sh[OQ_XSELL_ARM_STATIC].mean, res.conv[p][OQ_XSELL_ARM_KQ].mean,
               res.conv[p][OQ_XSELL_ARM_KQ_NORULES].mean);
    }
    fprintf(stderr,
            "offerq crosssell: wrote %s/fig2a.csv, fig2a.svg, fig2b.csv, fig2b.svg, "
            "fig2b_share.svg, fig2b_scenarios.svg, results.md, summary.json (%.1f s)\n",
            out, res.seconds);
    return 0;
}

/* Mine positive and negative single-item rules from the baskets and write
 * them beside the table (so a user sees what steered the learning). */
static int mine_rules(const oq_baskets *b, double min_sup, double min_conf, const char *path,
                      oq_error *err)
{
    oq_ruleset *rs = NULL;
    oq_rules_params rp;
    oq_rules_params_default(&rp);
    rp.min_support = min_sup;
    rp.min_confidence = min_conf;
    rp.max_len = 2; /* single-item rules are what the MDP uses */
    rp.negative = 1;
    int rc = oq_rules_mine(b, &rp, &rs, err);
    if (!rc) rc = oq_rules_write_csv(rs, &b->items, path, err);
    if (!rc)
        fprintf(stderr,
                "offerq crosssell: mined %zu positive and %zu negative rules from %zu "
                "baskets into %s\n",
                rs->n_positive, rs->n_negative, b->n, path);
    oq_ruleset_free(rs);
    return rc;
}

enum { /* crosssell learn */
       O_ITEMS = 256,
       O_RULES,
       O_EPISODES,
       O_OUT,
       O_SEED,
       O_DISC,
       O_SURV,
       O_ARR,
       O_METHOD,
       O_QUIET,
       O_BASKETS,
       O_MINSUP,
       O_MINCONF,
       O_SUMMARY,
       O_CAND,
       O_THETA,
       O_K,
       O_OBJ,
       O_KNOW
};

const struct option cli_xsell_learn_options[] = {
    {"help", no_argument, 0, 'h'},
    {"items", required_argument, 0, O_ITEMS},
    {"rules", required_argument, 0, O_RULES},
    {"episodes", required_argument, 0, O_EPISODES},
    {"out", required_argument, 0, O_OUT},
    {"seed", required_argument, 0, O_SEED},
    {"discounts", required_argument, 0, O_DISC},
    {"survival", required_argument, 0, O_SURV},
    {"arrival-total", required_argument, 0, O_ARR},
    {"method", required_argument, 0, O_METHOD},
    {"quiet", no_argument, 0, O_QUIET},
    {"baskets", required_argument, 0, O_BASKETS},
    {"min-support", required_argument, 0, O_MINSUP},
    {"min-confidence", required_argument, 0, O_MINCONF},
    {"summary", required_argument, 0, O_SUMMARY},
    {"candidates", required_argument, 0, O_CAND},
    {"rock-theta", required_argument, 0, O_THETA},
    {"rock-k", required_argument, 0, O_K},
    {"objective", required_argument, 0, O_OBJ},
    {"knowledge", required_argument, 0, O_KNOW},
    {0, 0, 0, 0}};

int cli_crosssell_learn(int argc, char **argv, int check)
{
    const char *cmd = "crosssell learn", *items = NULL, *rules_path = NULL, *out = NULL,
               *summary = NULL, *baskets_path = NULL;
    double min_sup = 0.01, min_conf = 0.3, arr_total = 0.6, survival = 0.98;
    double disc[OQ_XSELL_MAX_DISC] = {0, 0.1, 0.2, 0.3};
    char mined_path[4096];
    long lv;
    int n_disc = 4, c, objective = OQ_XSELL_OBJ_PROFIT;
    oq_xsell_learn_config cfg;
    oq_xsell_learn_config_default(&cfg);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", cli_xsell_learn_options, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_ITEMS:
            items = optarg;
            break;
        case O_RULES:
            rules_path = optarg;
            break;
        case O_OUT:
            if (cli_out_path(cmd, "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        case O_SUMMARY:
            summary = optarg;
            break;
        case O_EPISODES:
            if (cli_long(cmd, "--episodes", optarg, 1, 100000000, &cfg.episodes)) return 2;
            break;
        case O_SEED:
            if (cli_u64(cmd, "--seed", optarg, &cfg.seed)) return 2;
            break;
        case O_DISC:
            n_disc = parse_list(optarg, disc, OQ_XSELL_MAX_DISC);
            if (n_disc < 1)
                return cli_usage_error(cmd,
                                       "--discounts expects up to %d numbers like "
                                       "0,0.1,0.2, got '%s'",
                                       OQ_XSELL_MAX_DISC, optarg);
            break;
        case O_SURV:
            if (cli_double(cmd, "--survival", optarg, 0.5, 0.9999, &survival)) return 2;
            break;
        case O_ARR:
            if (cli_double(cmd, "--arrival-total", optarg, 0, 1, &arr_total)) return 2;
            break;
        case O_METHOD:
            cfg.method = oq_xsell_method_parse(optarg);
            if (cfg.method < 0)
                return cli_usage_error(
                    cmd, "--method expects kq, qlearning or kq-tabular, got '%s'", optarg);
            break;
        case O_OBJ:
            objective = oq_xsell_objective_parse(optarg);
            if (objective < 0)
                return cli_usage_error(cmd, "--objective expects profit or revenue, got '%s'",
                                       optarg);
            break;
        case O_KNOW:
            cfg.knowledge = oq_xsell_knowledge_parse(optarg);
            if (cfg.knowledge < 0)
                return cli_usage_error(cmd,
                                       "--knowledge expects a list of explore, prior, prune (or "
                                       "all, none), got '%s'",
                                       optarg);
            break;
        case O_QUIET:
            cfg.quiet = 1;
            break;
        case O_BASKETS:
            baskets_path = optarg;
            break;
        case O_MINSUP:
            if (cli_double(cmd, "--min-support", optarg, 1e-9, 1, &min_sup)) return 2;
            break;
        case O_MINCONF:
            if (cli_double(cmd, "--min-confidence", optarg, 0, 1, &min_conf)) return 2;
            break;
        case O_CAND:
            if (!strcmp(optarg, "all"))
                cfg.candidates = OQ_XSELL_CAND_ALL;
            else if (!strcmp(optarg, "rock"))
                cfg.candidates = OQ_XSELL_CAND_ROCK;
            else
                return cli_usage_error(cmd, "--candidates expects all or rock, got '%s'", optarg);
            break;
        case O_THETA:
            if (cli_double(cmd, "--rock-theta", optarg, 0, 0.999999, &cfg.rock.theta)) return 2;
            break;
        case O_K:
            if (cli_long(cmd, "--rock-k", optarg, 1, OQ_XSELL_MAX_ITEMS, &lv)) return 2;
            cfg.rock.k = (size_t)lv;
            break;
        default:
            return cli_bad_option(cmd);
        }
    }
    if (optind != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (check == CLI_CHECK_VALUES) return 0;
    if (!items || !out || !(rules_path || baskets_path) || (rules_path && baskets_path))
        return cli_usage_error(cmd, "--items, --out and one of --rules or --baskets are required");
    if (cfg.candidates == OQ_XSELL_CAND_ROCK && !baskets_path)
        return cli_usage_error(cmd, "--candidates rock clusters baskets: give --baskets");
    if (check == CLI_CHECK_ARGS) return 0;
    oq_error err = {0};
    oq_baskets *b = NULL;
    oq_xsell_rule *rules = NULL;
    oq_xsell_learn_result *res = NULL;
    size_t n_rules = 0, skipped = 0;
    int rc = 1;
    if (baskets_path) {
        if (oq_sidecar_path(out, ".rules.csv", mined_path, sizeof mined_path) ||
            oq_baskets_read(baskets_path, &b, &err))
            goto fail;
        if (check) { /* the baskets read; the items below */
            oq_xsell_sim sim;
            oq_xsell_sim_default(&sim);
            if (oq_xsell_items_read(items, arr_total, &sim, &err)) goto fail;
            rc = 0;
            goto cleanup;
        }
        if (mine_rules(b, min_sup, min_conf, mined_path, &err)) goto fail;
        rules_path = mined_path;
    }
    oq_xsell_sim sim;
    oq_xsell_sim_default(&sim);
    sim.survival = survival;
    sim.mdp.objective = objective;
    sim.mdp.n_disc = n_disc;
    for (int k = 0; k < n_disc; k++)
        sim.mdp.disc[k] = disc[k];
    if (oq_xsell_items_read(items, arr_total, &sim, &err) ||
        oq_xsell_rules_read(rules_path, &sim.mdp, &rules, &n_rules, &skipped, &err))
        goto fail;
    if (check) {
        rc = 0;
        goto cleanup;
    }
    fprintf(stderr, "offerq crosssell: %d items, %zu single-item rules used (%zu skipped)\n",
            sim.mdp.n_items, n_rules, skipped);
    if (oq_xsell_learn_run(&sim, rules, n_rules, b, &cfg, &res, &err)) goto fail;
    if (cfg.candidates == OQ_XSELL_CAND_ROCK) {
        const oq_xsell_candidates *cd = &res->cand;
        fprintf(stderr,
                "offerq crosssell: ROCK (theta %g, k %zu) over %zu baskets: %d item "
                "clusters:",
                cfg.rock.theta, cfg.rock.k, cd->n_baskets, cd->n_clusters);
        for (int i = 0; i < sim.mdp.n_items; i++)
            fprintf(stderr, " %s=%d", sim.mdp.items[i].name, cd->cluster[i]);
        fprintf(stderr, "\n");
    }
    if (oq_xsell_qtable_save(res->table, out, &err)) goto fail;
    printf("table: %s, %zu (inventory, request) entries\n", out, oq_xsell_qtable_size(res->table));
    printf("method %s, objective %s; mean per training season: revenue %.2f, profit %.2f\n",
           oq_xsell_method_name(res->method), oq_xsell_objective_name(objective),
           res->mean_training_revenue, res->mean_training_profit);
    if (isfinite(res->dp_revenue)) {
        const oq_xsell_mdp *rm = &res->sim.mdp;
        double vl = oq_xsell_objective_value(rm, res->learned_revenue, res->learned_profit);
        double vn = oq_xsell_objective_value(rm, res->none_revenue, res->none_profit);
        double vd = oq_xsell_objective_value(rm, res->dp_revenue, res->dp_profit);
        printf("expected revenue per season (profit): learned %.2f (%.2f), no cross-selling "
               "%.2f (%.2f), DP optimum %.2f (%.2f)\n",
               res->learned_revenue, res->learned_profit, res->none_revenue, res->none_profit,
               res->dp_revenue, res->dp_profit);
        if (vd - vn > 1e-9)
            printf("learned %s: %.1f%% of the DP optimum's gain over no cross-selling\n",
                   oq_xsell_objective_name(objective), 100 * (vl - vn) / (vd - vn));
    }
    if (summary) {
        if (oq_xsell_learn_summary_write(res, out, summary, &err)) goto fail;
        fprintf(stderr, "offerq crosssell: wrote %s\n", summary);
    }
    rc = 0;
    goto cleanup;
fail:
    rc = cli_fail(&err, NULL);
cleanup:
    oq_xsell_learn_result_free(res);
    free(rules);
    oq_baskets_free(b);
    return rc;
}

static int cmd_offer(int argc, char **argv)
{
    enum { O_TABLE = 256, O_ITEM, O_INV, O_JSON };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},          {"table", required_argument, 0, O_TABLE},
        {"item", required_argument, 0, O_ITEM}, {"inventory", required_argument, 0, O_INV},
        {"json", no_argument, 0, O_JSON},       {0, 0, 0, 0}};
    const char *cmd = "crosssell offer", *tpath = NULL, *item = NULL, *invs = NULL;
    int json = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_TABLE:
            tpath = optarg;
            break;
        case O_ITEM:
            item = optarg;
            break;
        case O_INV:
            invs = optarg;
            break;
        case O_JSON:
            json = 1;
            break;
        default:
            return cli_bad_option(cmd);
        }
    }
    if (optind != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!tpath || !item || !invs)
        return cli_usage_error(cmd, "--table, --item and --inventory are required");
    oq_error err = {0};
    oq_xsell_qtable *t = NULL;
    if (oq_xsell_qtable_load(tpath, &t, &err)) return cli_fail(&err, NULL);
    const oq_xsell_mdp *m = oq_xsell_qtable_mdp(t);
    int rc = 2, N = m->n_items;
    double vals[OQ_XSELL_MAX_ITEMS + 1];
    long inv[OQ_XSELL_MAX_ITEMS];
    int n = parse_list(invs, vals, OQ_XSELL_MAX_ITEMS + 1);
    if (oq_xsell_item_find(m, item) < 0) {
        cli_usage_error(cmd, "--item '%s' is not an item of the table", item);
        goto cleanup;
    }
    if (n != N) {
        cli_usage_error(cmd,
                        "--inventory expects %d comma-separated counts (the table's items), "
                        "got '%s'",
                        N, invs);
        goto cleanup;
    }
    for (int i = 0; i < N; i++) {
        if (vals[i] != (double)(long)vals[i]) {
            cli_usage_error(cmd, "inventory of '%s' must be an integer, got %g", m->items[i].name,
                            vals[i]);
            goto cleanup;
        }
        inv[i] = (long)vals[i];
    }
    oq_xsell_offer o;
    if (oq_xsell_offer_lookup(t, item, inv, (size_t)N, NULL, &o, &err)) {
        cli_usage_error(cmd, "%s", err.msg);
        goto cleanup;
    }
    const char *en = m->items[o.item].name;
    if (json) {
        json_t *js = json_object(), *a = json_array();
        for (int i = 0; a && i < N; i++)
            json_array_append_new(a, json_integer(inv[i]));
        int bad = !js || !a;
        if (bad)
            json_decref(a);
        else
            bad = json_object_set_new(js, "inventory", a) || oq_xsell_offer_json(m, &o, js);
        if (bad) {
            json_decref(js);
            fprintf(stderr, "offerq: error: out of memory\n");
            rc = 1;
            goto cleanup;
        }
        char *s = oq_json_dumps(js, 0);
        json_decref(js);
        if (s) puts(s);
        free(s);
    } else {
        char how[96];
        if (o.how == OQ_XSELL_ANS_SEEN)
            snprintf(how, sizeof how, "%u visits", o.visits);
        else if (o.how == OQ_XSELL_ANS_MODEL)
            snprintf(how, sizeof how, "inventory not seen in training: the factored Q");
        else if (o.how == OQ_XSELL_ANS_NEAREST)
            snprintf(how, sizeof how, "inventory not seen in training: nearest seen, %u units away",
                     o.distance);
        else
            snprintf(how, sizeof how, "the table learned nothing for this item");
        if (o.bundle < 0) {
            printf("%s: no bundle (Q = %.2f; %s)\n", en, o.q, how);
        } else {
            const char *jn = m->items[o.bundle].name;
            printf("%s: bundle with %s at %g%% off: %s %.2f + %s %.2f (list %.2f) = %.2f "
                   "(Q = %.2f; %s)\n",
                   en, jn, 100 * o.discount, en, o.item_price, jn, o.addon_price, o.addon_list,
                   o.bundle_price, o.q, how);
        }
    }
    rc = 0;
cleanup:
    oq_xsell_qtable_free(t);
    return rc;
}

int cmd_crosssell(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "experiment")) return cmd_experiment(argc - 1, argv + 1);
    if (!strcmp(argv[1], "learn")) return cli_crosssell_learn(argc - 1, argv + 1, CLI_DO);
    if (!strcmp(argv[1], "offer")) return cmd_offer(argc - 1, argv + 1);
    return cli_usage_error("crosssell", "unknown subcommand '%s' (experiment, learn, offer)",
                           argv[1]);
}
