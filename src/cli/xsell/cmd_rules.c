/* cmd_rules.c - `offerq rules`: frequent itemsets and association rules,
 * with arules' interest measures, sorting and filters. */
#include "cli/cli.h"
#include "offerq/core/io.h"
#include "offerq/xsell/rules.h"

#include <ctype.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq rules --baskets FILE --min-support S --min-confidence C\n"
                "                    [--max-len K] [--min-len K] [--negative] [--sort MEASURE]\n"
                "                    [--lhs ITEMS] [--rhs ITEMS] [--prune-redundant]\n"
                "                    [--max-itemsets N] --out rules.csv\n\n"
                "Mines frequent itemsets with FP-growth and writes association rules X => y\n"
                "(and, with --negative, X => not y) as CSV:\n"
                "  type,lhs,rhs,support,confidence,lift,count,coverage,leverage,conviction,chisq\n"
                "type is positive or negative, lhs is the items of X joined by \" & \", rhs is y.\n"
                "Same conventions as R's arules apriori(): one item on the right, support =\n"
                "s(X u y), no rules with an empty lhs. The measures (as arules' interestMeasure):\n"
                "  confidence = s(X u y) / s(X)          lift     = confidence / s(y)\n"
                "  coverage   = s(X)                     leverage = s(X u y) - s(X) s(y)\n"
                "  conviction = (1 - s(y)) / (1 - confidence), Inf when confidence = 1\n"
                "  chisq      = chi-squared of the 2x2 table X/not X by y/not y on basket\n"
                "               counts, no continuity correction (0 when a margin is empty)\n"
                "For X => not y, \"not y\" is the rhs: s(not y) = 1 - s(y).\n\n"
                "Baskets: one per line, items separated by commas (names may contain spaces;\n"
                "surrounding spaces are trimmed, RFC 4180 quotes allowed).\n\n"
                "Options:\n"
                "  --baskets FILE        basket file (required; - = stdin)\n"
                "  --min-support S       minimum support in (0, 1] (required)\n"
                "  --min-confidence C    minimum confidence in [0, 1] (required)\n"
                "  --max-len K           largest rule |X| + 1 (default 10, as arules' maxlen)\n"
                "  --min-len K           smallest rule |X| + 1 (default 1: all; arules' minlen)\n"
                "  --min-lift L          keep rules with lift >= L (default 0)\n"
                "  --sort MEASURE        order, descending: lift (default), support, confidence,\n"
                "                        coverage, leverage, conviction or chisq; ties by lift,\n"
                "                        support, confidence, positive first, then item names\n"
                "  --lhs ITEMS           keep rules whose lhs items are all in ITEMS\n"
                "  --rhs ITEMS           keep rules whose rhs is in ITEMS (for X => not y: y)\n"
                "                        ITEMS: item names separated by commas, spaces around a\n"
                "                        name trimmed; the option may be repeated; an unknown\n"
                "                        name is an error. The lists select rules; an item may\n"
                "                        be in both. Measures stay those of the whole data.\n"
                "  --prune-redundant     drop X => y when a rule X' => y of the same type with\n"
                "                        X' a non-empty proper subset of X has confidence >= its\n"
                "                        (arules' is.redundant), judged before the other filters\n"
                "  --negative            also mine negative rules X => not y: X and y frequent,\n"
                "                        s(X) s(y) >= S, lift(X => y) <= --neg-max-lift,\n"
                "                        s(X u not y) >= S, confidence(X => not y) >= C\n"
                "  --neg-max-lift M      (default 0.5)\n"
                "  --max-itemsets N      stop with an error beyond N frequent itemsets\n"
                "                        (default 1000000; 0: no bound)\n"
                "  --quiet               no summary on stderr\n"
                "  --out FILE            output CSV (required)\n\n"
                "Frequent, closed and maximal itemsets: offerq itemsets.\n\n"
                "Example:\n"
                "  offerq rules --baskets ../shared/data/groceries.csv --min-support 0.001 \\\n"
                "      --min-confidence 0.5 --out example/rules.csv      # 5668 rules, as arules\n"
                "  offerq rules --baskets ../shared/data/groceries.csv --min-support 0.001 \\\n"
                "      --min-confidence 0.5 --rhs 'whole milk' --prune-redundant \\\n"
                "      --sort conviction --out example/milk.csv\n");
}

/* Item names of a comma-separated list, appended to *v (each malloc'ed). */
static int add_items(const char *opt, const char *arg, char ***v, size_t *n)
{
    const char *p = arg;
    for (;;) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        const char *s = p;
        while (len && isspace((unsigned char)*s))
            s++, len--;
        while (len && isspace((unsigned char)s[len - 1]))
            len--;
        if (!len) {
            cli_usage_error("rules", "%s: empty item name in '%s'", opt, arg);
            return -1;
        }
        char **nv = realloc(*v, (*n + 1) * sizeof *nv);
        char *item = malloc(len + 1);
        if (!nv || !item) {
            free(item);
            if (nv) *v = nv;
            cli_usage_error("rules", "out of memory");
            return -1;
        }
        *v = nv;
        memcpy(item, s, len);
        item[len] = 0;
        (*v)[(*n)++] = item;
        if (!e) return 0;
        p = e + 1;
    }
}

static void free_items(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

int cmd_rules(int argc, char **argv)
{
    enum {
        O_BASKETS = 256,
        O_SUP,
        O_CONF,
        O_MAXLEN,
        O_MINLEN,
        O_MINLIFT,
        O_SORT,
        O_LHS,
        O_RHS,
        O_PRUNE,
        O_NEG,
        O_NEGLIFT,
        O_MAXSETS,
        O_QUIET,
        O_OUT
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"baskets", required_argument, 0, O_BASKETS},
                                         {"min-support", required_argument, 0, O_SUP},
                                         {"min-confidence", required_argument, 0, O_CONF},
                                         {"max-len", required_argument, 0, O_MAXLEN},
                                         {"min-len", required_argument, 0, O_MINLEN},
                                         {"min-lift", required_argument, 0, O_MINLIFT},
                                         {"sort", required_argument, 0, O_SORT},
                                         {"lhs", required_argument, 0, O_LHS},
                                         {"rhs", required_argument, 0, O_RHS},
                                         {"prune-redundant", no_argument, 0, O_PRUNE},
                                         {"negative", no_argument, 0, O_NEG},
                                         {"neg-max-lift", required_argument, 0, O_NEGLIFT},
                                         {"max-itemsets", required_argument, 0, O_MAXSETS},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"out", required_argument, 0, O_OUT},
                                         {0, 0, 0, 0}};
    oq_rules_params p;
    oq_rules_params_default(&p);
    const char *baskets = NULL, *out = NULL;
    int have_sup = 0, have_conf = 0, have_lhs = 0, have_rhs = 0, quiet = 0;
    char **lhs = NULL, **rhs = NULL;
    size_t nlhs = 0, nrhs = 0;
    long lv;
    int c, ret = 0;
    oq_error err = {0};
    oq_baskets *b = NULL;
    oq_ruleset *r = NULL;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            goto cleanup;
        case O_BASKETS:
            baskets = optarg;
            break;
        case O_SUP:
            if (cli_double("rules", "--min-support", optarg, 1e-12, 1, &p.min_support)) {
                ret = 2;
                goto cleanup;
            }
            have_sup = 1;
            break;
        case O_CONF:
            if (cli_double("rules", "--min-confidence", optarg, 0, 1, &p.min_confidence)) {
                ret = 2;
                goto cleanup;
            }
            have_conf = 1;
            break;
        case O_MAXLEN:
            if (cli_long("rules", "--max-len", optarg, 2, 64, &lv)) {
                ret = 2;
                goto cleanup;
            }
            p.max_len = (int)lv;
            break;
        case O_MINLEN:
            if (cli_long("rules", "--min-len", optarg, 1, 64, &lv)) {
                ret = 2;
                goto cleanup;
            }
            p.min_len = (int)lv;
            break;
        case O_MINLIFT:
            if (cli_double("rules", "--min-lift", optarg, 0, 1e12, &p.min_lift)) {
                ret = 2;
                goto cleanup;
            }
            break;
        case O_SORT:
            p.sort = oq_rules_sort_parse(optarg);
            if (p.sort < 0) {
                ret = cli_usage_error("rules",
                                      "--sort expects support, confidence, lift, coverage, "
                                      "leverage, conviction or chisq, got '%s'",
                                      optarg);
                goto cleanup;
            }
            break;
        case O_LHS:
        case O_RHS:
            if (c == O_LHS ? add_items("--lhs", optarg, &lhs, &nlhs)
                           : add_items("--rhs", optarg, &rhs, &nrhs)) {
                ret = 2;
                goto cleanup;
            }
            *(c == O_LHS ? &have_lhs : &have_rhs) = 1;
            break;
        case O_PRUNE:
            p.prune_redundant = 1;
            break;
        case O_NEG:
            p.negative = 1;
            break;
        case O_NEGLIFT:
            if (cli_double("rules", "--neg-max-lift", optarg, 0, 1, &p.neg_max_lift)) {
                ret = 2;
                goto cleanup;
            }
            break;
        case O_MAXSETS: {
            uint64_t v;
            if (cli_u64("rules", "--max-itemsets", optarg, &v)) {
                ret = 2;
                goto cleanup;
            }
            p.max_itemsets = (size_t)v;
            break;
        }
        case O_QUIET:
            quiet = 1;
            break;
        case O_OUT:
            if (cli_out_path("rules", "--out", optarg, 0)) {
                ret = 2;
                goto cleanup;
            }
            out = optarg;
            break;
        default:
            ret = cli_bad_option("rules");
            goto cleanup;
        }
    }
    if (optind != argc)
        ret = cli_usage_error("rules", "unexpected argument '%s'", argv[optind]);
    else if (!baskets)
        ret = cli_usage_error("rules", "--baskets FILE is required");
    else if (!have_sup)
        ret = cli_usage_error("rules", "--min-support S is required");
    else if (!have_conf)
        ret = cli_usage_error("rules", "--min-confidence C is required");
    else if (!out)
        ret = cli_usage_error("rules", "--out FILE is required");
    else if (p.max_len > 0 && p.min_len > p.max_len)
        ret = cli_usage_error("rules", "--min-len %d is above --max-len %d: no rule can pass",
                              p.min_len, p.max_len);
    if (ret) goto cleanup;
    if (have_lhs) {
        p.lhs_items = (const char *const *)lhs;
        p.n_lhs_items = nlhs;
    }
    if (have_rhs) {
        p.rhs_items = (const char *const *)rhs;
        p.n_rhs_items = nrhs;
    }

    double t0 = oq_now();
    if (oq_baskets_read(baskets, &b, &err)) {
        ret = cli_fail(&err, "fix the basket file and run again");
        goto cleanup;
    }
    double t1 = oq_now();
    int rc = oq_rules_mine(b, &p, &r, &err);
    double t2 = oq_now();
    if (!rc) rc = oq_rules_write_csv(r, &b->items, out, &err);
    if (rc) {
        ret = cli_fail(&err, rc == OQ_EINVAL && (have_lhs || have_rhs)
                                 ? "check the names given to --lhs / --rhs"
                                 : NULL);
        goto cleanup;
    }
    if (!quiet) {
        fprintf(stderr,
                "offerq rules: %zu baskets, %u items, %zu frequent itemsets -> %zu rules "
                "(%zu positive, %zu negative) in %s  [read %.3f s, mine %.3f s]\n",
                b->n, b->items.n, r->n_itemsets, r->n, r->n_positive, r->n_negative, out, t1 - t0,
                t2 - t1);
        if (p.prune_redundant)
            fprintf(stderr, "offerq rules: %zu redundant rules dropped\n", r->n_redundant);
    }
cleanup:
    oq_ruleset_free(r);
    oq_baskets_free(b);
    free_items(lhs, nlhs);
    free_items(rhs, nrhs);
    return ret;
}
