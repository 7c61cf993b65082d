/* cmd_crosssell.c - `offerq crosssell experiment|learn|offer`: dynamic
 * cross-selling with K-Q-learning (include/offerq/xsell/crosssell.h). */
#include "cli/cli.h"
#include "offerq/xsell/crosssell.h"
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
        "       offerq crosssell offer --table TABLE.oxq --item NAME --inventory 3,10,0,5,7\n\n"
        "Dynamic cross-selling (K-Q-learning, docs/readme/crosssell.md): when a buyer\n"
        "asks for item i, offer one item j bundled at a discount, given the inventory.\n"
        "The lookup table\n"
        "Q(s, e, d) is learned by K-Q-learning: association rules bias the Boltzmann\n"
        "exploration; out-of-stock items and prices below cost are never offered.\n\n"
        "experiment   reproduces the paper's figures 2a (seasons to converge vs number\n"
        "             of rules, K-Q vs plain Q) and 2b (revenue with positive / mixed /\n"
        "             negative rules vs no cross-selling) in its simulator, with the DP\n"
        "             optimum; writes DIR/fig2a.{csv,svg}, fig2b.{csv,svg}, summary.json.\n"
        "  --seed S     random seed (default 1)    --seeds R   seeds averaged (default 10)\n"
        "  --quick      small fast configuration (4 items x 4 units)\n"
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
        "  --discounts LIST    discount levels (default 0,0.1,0.2,0.3)\n"
        "  --survival G        P(season goes on after a period) (default 0.98)\n"
        "  --arrival-total A   buyer probability per period shared by items without an\n"
        "                      arrival column (default 0.6)\n"
        "  --method kq|qlearning   (default kq)   --seed S   --quiet\n"
        "  --summary FILE.json JSON for the dashboard (put it in the run directory as\n"
        "                      crosssell.json): the decision for each item at full stock,\n"
        "                      the items, and the exact expected revenue per season\n\n"
        "offer        looks a decision up: the bundle item and discount for a request.\n"
        "  --item NAME         requested item (name, or position counted from 1)\n"
        "  --inventory LIST    current stock of every item, in the table's item order\n"
        "  --json              print JSON\n\n"
        "Examples:\n"
        "  offerq crosssell experiment --out out/xsell --seed 1\n"
        "  offerq crosssell learn --items items.csv --rules rules.csv --out table.oxq\n"
        "  offerq crosssell offer --table table.oxq --item item1 --inventory 3,10,0,5,7\n");
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
    enum { O_OUT = 256, O_SEED, O_QUICK, O_SEEDS, O_THREADS, O_QUIET };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"out", required_argument, 0, O_OUT},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"quick", no_argument, 0, O_QUICK},
                                         {"seeds", required_argument, 0, O_SEEDS},
                                         {"threads", required_argument, 0, O_THREADS},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {0, 0, 0, 0}};
    const char *cmd = "crosssell experiment", *out = NULL;
    uint64_t seed = 1;
    long seeds = -1, threads = 0;
    int quick = 0, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_OUT:
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
        default:
            return cli_bad_option(cmd);
        }
    }
    if (optind != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!out) return cli_usage_error(cmd, "--out DIR is required");
    if (mkdir(out, 0777) != 0 && errno != EEXIST) {
        fprintf(stderr, "offerq: error: cannot create %s: %s\n", out, strerror(errno));
        return 1;
    }
    oq_xsell_exp_config cfg;
    oq_xsell_exp_default(&cfg, quick);
    cfg.seed = seed;
    if (seeds > 0) cfg.n_seeds = (int)seeds;
    cfg.threads = (int)threads;
    cfg.quiet = quiet;
    oq_xsell_exp_result res;
    oq_error err = {0};
    if (oq_xsell_experiment(&cfg, out, &res, &err)) return cli_fail(&err, NULL);
    printf("no cross-selling: expected revenue %.2f per season\n", res.none_revenue);
    printf("%8s %12s %12s | %10s %10s %10s %10s %10s | %9s %9s\n", "n_rules", "KQ seasons",
           "Q seasons", "KQ(pos)", "Q(pos)", "static", "DP(pos)", "KQ(neg)", "KQ(mixed)",
           "DP(mix)");
    for (int p = 0; p < cfg.n_points; p++)
        printf("%8d %12.0f %12.0f | %10.2f %10.2f %10.2f %10.2f %10.2f | %9.2f %9.2f\n",
               cfg.n_rules[p], res.conv[0][p].mean, res.conv[1][p].mean, res.kq[0][p].mean,
               res.ql[0][p].mean, res.stat_rule[0][p].mean, res.dp[0][p].mean, res.kq[2][p].mean,
               res.kq[1][p].mean, res.dp[1][p].mean);
    fprintf(stderr,
            "offerq crosssell: wrote %s/fig2a.csv, fig2a.svg, fig2b.csv, fig2b.svg, "
            "summary.json (%.1f s)\n",
            out, res.seconds);
    return 0;
}

typedef struct learn_info {
    const char *table;
    long episodes;
    int method;
    size_t n_rules;
    double mean_training_revenue;
    double ev[6]; /* learned, none, DP optimum: revenue, profit (NaN: not computed) */
} learn_info;

static json_t *num_or_null(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

/* The JSON summary the dashboard shows (DIR/crosssell.json): "decisions" (the
 * table's answer to a request of each item at full stock) first, then the
 * items, the training settings and the exact evaluation in the simulator. */
static int write_summary(const char *path, const oq_xsell_qtable *t, const oq_xsell_sim *sim,
                         const learn_info *li, oq_error *err)
{
    const oq_xsell_mdp *m = &sim->mdp;
    json_t *root = json_object(), *dec = json_array(), *its = json_array();
    int rc = 0;
    if (!root || !dec || !its) goto oom;
    long full[OQ_XSELL_MAX_ITEMS];
    for (int i = 0; i < m->n_items; i++)
        full[i] = (long)m->items[i].capacity;
    for (int i = 0; i < m->n_items; i++) {
        oq_xsell_offer o;
        json_t *row = json_object();
        if (!row || json_array_append_new(dec, row)) goto oom;
        if ((rc = oq_xsell_offer_lookup(t, m->items[i].name, full, (size_t)m->n_items, NULL, &o,
                                        err)) ||
            (rc = oq_xsell_offer_json(m, &o, row)))
            goto cleanup;
        json_t *it = json_pack("{s:s, s:f, s:f, s:i, s:f}", "item", m->items[i].name, "price",
                               m->items[i].price, "cost", m->items[i].cost, "capacity",
                               (int)m->items[i].capacity, "arrival", sim->arrival[i]);
        if (!it || json_array_append_new(its, it)) goto oom;
    }
    json_t *disc = json_array();
    for (int k = 0; disc && k < m->n_disc; k++)
        json_array_append_new(disc, json_real(m->disc[k]));
    json_t *ev =
        json_pack("{s:o, s:o, s:o, s:o, s:o, s:o}", "learned_revenue", num_or_null(li->ev[0]),
                  "learned_profit", num_or_null(li->ev[1]), "none_revenue", num_or_null(li->ev[2]),
                  "none_profit", num_or_null(li->ev[3]), "dp_revenue", num_or_null(li->ev[4]),
                  "dp_profit", num_or_null(li->ev[5]));
    if (json_object_set_new(root, "decisions", dec) || json_object_set_new(root, "items", its) ||
        json_object_set_new(root, "discounts", disc) ||
        json_object_set_new(root, "expected_per_season", ev)) {
        dec = its = NULL;
        goto oom;
    }
    dec = its = NULL;
    json_t *info =
        json_pack("{s:s, s:s, s:I, s:I, s:I, s:f, s:f, s:s}", "table", li->table, "method",
                  li->method == OQ_XSELL_KQ ? "kq" : "qlearning", "episodes",
                  (json_int_t)li->episodes, "rules_used", (json_int_t)li->n_rules, "entries",
                  (json_int_t)oq_xsell_qtable_size(t), "survival", sim->survival,
                  "mean_training_revenue", li->mean_training_revenue, "decisions_at", "full stock");
    if (!info || json_object_update_new(root, info)) goto oom;
    rc = oq_json_write_atomic(path, root, err);
    goto cleanup;
oom:
    rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
cleanup:
    json_decref(dec);
    json_decref(its);
    json_decref(root);
    return rc;
}

static int cmd_learn(int argc, char **argv)
{
    enum {
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
        O_SUMMARY
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
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
                                         {0, 0, 0, 0}};
    const char *cmd = "crosssell learn", *items = NULL, *rules_path = NULL, *out = NULL,
               *summary = NULL;
    const char *baskets = NULL;
    double min_sup = 0.01, min_conf = 0.3;
    char mined_path[4096];
    long episodes = 20000;
    uint64_t seed = 1;
    double disc[OQ_XSELL_MAX_DISC] = {0, 0.1, 0.2, 0.3}, survival = 0.98, arr_total = 0.6;
    int n_disc = 4, method = OQ_XSELL_KQ, quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
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
            out = optarg;
            break;
        case O_SUMMARY:
            summary = optarg;
            break;
        case O_EPISODES:
            if (cli_long(cmd, "--episodes", optarg, 1, 100000000, &episodes)) return 2;
            break;
        case O_SEED:
            if (cli_u64(cmd, "--seed", optarg, &seed)) return 2;
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
            if (!strcmp(optarg, "kq"))
                method = OQ_XSELL_KQ;
            else if (!strcmp(optarg, "qlearning"))
                method = OQ_XSELL_QLEARN;
            else
                return cli_usage_error(cmd, "--method expects kq or qlearning, got '%s'", optarg);
            break;
        case O_QUIET:
            quiet = 1;
            break;
        case O_BASKETS:
            baskets = optarg;
            break;
        case O_MINSUP:
            if (cli_double(cmd, "--min-support", optarg, 1e-9, 1, &min_sup)) return 2;
            break;
        case O_MINCONF:
            if (cli_double(cmd, "--min-confidence", optarg, 0, 1, &min_conf)) return 2;
            break;
        default:
            return cli_bad_option(cmd);
        }
    }
    if (optind != argc) return cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
    if (!items || !out || !(rules_path || baskets) || (rules_path && baskets))
        return cli_usage_error(cmd, "--items, --out and one of --rules or --baskets are required");
    oq_error err = {0};
    if (baskets) {
        /* Mine positive and negative rules, keep them beside the table (so a
         * user sees what steered the learning), then read them like --rules. */
        oq_baskets *b = NULL;
        oq_ruleset *rs = NULL;
        oq_rules_params rp;
        oq_rules_params_default(&rp);
        rp.min_support = min_sup;
        rp.min_confidence = min_conf;
        rp.max_len = 2; /* single-item rules are what the MDP uses */
        rp.negative = 1;
        int bad = oq_sidecar_path(out, ".rules.csv", mined_path, sizeof mined_path) ||
                  oq_baskets_read(baskets, &b, &err) || oq_rules_mine(b, &rp, &rs, &err) ||
                  oq_rules_write_csv(rs, &b->items, mined_path, &err);
        if (!bad)
            fprintf(stderr,
                    "offerq crosssell: mined %zu positive and %zu negative rules from %zu "
                    "baskets into %s\n",
                    rs->n_positive, rs->n_negative, b->n, mined_path);
        oq_ruleset_free(rs);
        oq_baskets_free(b);
        if (bad) return cli_fail(&err, NULL);
        rules_path = mined_path;
    }
    oq_xsell_sim sim;
    oq_xsell_sim_default(&sim);
    sim.survival = survival;
    sim.mdp.n_disc = n_disc;
    for (int k = 0; k < n_disc; k++)
        sim.mdp.disc[k] = disc[k];
    oq_xsell_rule *rules = NULL;
    size_t n_rules = 0, skipped = 0;
    oq_xsell_qtable *t = NULL;
    gsl_rng *r = NULL;
    uint8_t *dec = NULL;
    int rc = 1;
    oq_xsell_kb kb;
    if (oq_xsell_items_read(items, arr_total, &sim, &err) ||
        oq_xsell_rules_read(rules_path, &sim.mdp, &rules, &n_rules, &skipped, &err) ||
        oq_xsell_sim_plant(&sim, rules, n_rules, &err) ||
        oq_xsell_kb_build(&sim.mdp, rules, n_rules, &kb, &err) || oq_xsell_sim_check(&sim, &err) ||
        oq_xsell_qtable_new(&sim.mdp, &t, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    fprintf(stderr, "offerq crosssell: %d items, %zu single-item rules used (%zu skipped)\n",
            sim.mdp.n_items, n_rules, skipped);
    r = oq_rng_new(seed, 0);
    if (!r) goto cleanup;
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, method);
    oq_progress prog;
    oq_progress_start(&prog, "crosssell learn", (double)episodes, quiet);
    double sum = 0;
    for (long ep = 1; ep <= episodes; ep++) {
        oq_xsell_episode e;
        if (oq_xsell_learn_episode(t, &sim, &kb, &o, r, &e, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        sum += e.revenue;
        if (ep % 256 == 0) oq_progress_update(&prog, (double)ep);
    }
    oq_progress_done(&prog);
    if (oq_xsell_qtable_save(t, out, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    printf("table: %s, %zu (inventory, request) entries\n", out, oq_xsell_qtable_size(t));
    printf("mean revenue per training season: %.2f\n", sum / (double)episodes);
    uint64_t S = oq_xsell_n_states(&sim.mdp);
    double ev[6] = {NAN, NAN, NAN, NAN, NAN, NAN}; /* learned, none, DP: revenue, profit */
    if (S <= 2000000) {
        /* exact comparison in the simulator: learned, no cross-selling, DP optimum */
        double v_l, p_l, v_n, p_n, v_d, p_d;
        dec = malloc(S * (size_t)sim.mdp.n_items);
        if (!dec) goto cleanup;
        oq_xsell_qtable_greedy(t, dec);
        if (oq_xsell_evaluate(&sim, dec, &v_l, &p_l, &err)) goto fail;
        oq_xsell_policy_none(&sim.mdp, dec);
        if (oq_xsell_evaluate(&sim, dec, &v_n, &p_n, &err)) goto fail;
        if (oq_xsell_dp_solve(&sim, NULL, &v_d, &p_d, &err)) goto fail;
        printf("expected revenue per season (profit): learned %.2f (%.2f), no cross-selling "
               "%.2f (%.2f), DP optimum %.2f (%.2f): %.2f%% below the optimum\n",
               v_l, p_l, v_n, p_n, v_d, p_d, 100 * (v_d - v_l) / v_d);
        ev[0] = v_l, ev[1] = p_l, ev[2] = v_n, ev[3] = p_n, ev[4] = v_d, ev[5] = p_d;
    }
    if (summary) {
        learn_info li = {.table = out,
                         .episodes = episodes,
                         .method = method,
                         .n_rules = n_rules,
                         .mean_training_revenue = sum / (double)episodes};
        memcpy(li.ev, ev, sizeof ev);
        if (write_summary(summary, t, &sim, &li, &err)) goto fail;
        fprintf(stderr, "offerq crosssell: wrote %s\n", summary);
    }
    rc = 0;
    goto cleanup;
fail:
    rc = cli_fail(&err, NULL);
cleanup:
    free(dec);
    free(rules);
    gsl_rng_free(r);
    oq_xsell_qtable_free(t);
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
        char *s = json_dumps(js, JSON_REAL_PRECISION(17));
        json_decref(js);
        if (s) puts(s);
        free(s);
    } else if (!o.learned) {
        printf("%s: no bundle (this inventory state was not seen in training)\n", en);
    } else if (o.bundle < 0) {
        printf("%s: no bundle (Q = %.2f, %u visits)\n", en, o.q, o.visits);
    } else {
        const char *jn = m->items[o.bundle].name;
        printf("%s: bundle with %s at %g%% off: %s %.2f + %s %.2f (list %.2f) = %.2f "
               "(Q = %.2f, %u visits)\n",
               en, jn, 100 * o.discount, en, o.item_price, jn, o.addon_price, o.addon_list,
               o.bundle_price, o.q, o.visits);
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
    if (!strcmp(argv[1], "learn")) return cmd_learn(argc - 1, argv + 1);
    if (!strcmp(argv[1], "offer")) return cmd_offer(argc - 1, argv + 1);
    return cli_usage_error("crosssell", "unknown subcommand '%s' (experiment, learn, offer)",
                           argv[1]);
}
