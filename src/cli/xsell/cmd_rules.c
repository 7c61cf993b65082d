/* cmd_rules.c - `offerq rules`: frequent itemsets and association rules. */
#include "cli/cli.h"
#include "offerq/core/io.h"
#include "offerq/xsell/rules.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq rules --baskets FILE --min-support S --min-confidence C\n"
            "                    [--max-len K] [--negative] --out rules.csv\n\n"
            "Mines frequent itemsets with FP-growth and writes association rules X => y\n"
            "(and, with --negative, X => not y) as CSV:\n"
            "  type,lhs,rhs,support,confidence,lift,count\n"
            "type is positive or negative, lhs is the items of X joined by \" & \", rhs is y.\n"
            "Sorted by lift, then support. Same conventions as R's arules apriori():\n"
            "one item on the right, support = s(X u y), no rules with an empty lhs.\n\n"
            "Baskets: one per line, items separated by commas (names may contain spaces;\n"
            "surrounding spaces are trimmed, RFC 4180 quotes allowed).\n\n"
            "Options:\n"
            "  --baskets FILE        basket file (required; - = stdin)\n"
            "  --min-support S       minimum support in (0, 1] (required)\n"
            "  --min-confidence C    minimum confidence in [0, 1] (required)\n"
            "  --max-len K           largest itemset |X| + 1 (default 10, as arules)\n"
            "  --min-lift L          keep rules with lift >= L (default 0)\n"
            "  --negative            also mine negative rules X => not y: X and y frequent,\n"
            "                        s(X) s(y) >= S, lift(X => y) <= --neg-max-lift,\n"
            "                        s(X u not y) >= S, confidence(X => not y) >= C\n"
            "  --neg-max-lift M      (default 0.5)\n"
            "  --quiet               no summary on stderr\n"
            "  --out FILE            output CSV (required)\n\n"
            "Example:\n"
            "  offerq rules --baskets ../shared/data/groceries.csv --min-support 0.001 \\\n"
            "      --min-confidence 0.5 --out example/rules.csv      # 5668 rules, as arules\n");
}

int cmd_rules(int argc, char **argv)
{
    enum { O_BASKETS = 256, O_SUP, O_CONF, O_MAXLEN, O_MINLIFT, O_NEG, O_NEGLIFT, O_QUIET, O_OUT };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"baskets", required_argument, 0, O_BASKETS},
                                         {"min-support", required_argument, 0, O_SUP},
                                         {"min-confidence", required_argument, 0, O_CONF},
                                         {"max-len", required_argument, 0, O_MAXLEN},
                                         {"min-lift", required_argument, 0, O_MINLIFT},
                                         {"negative", no_argument, 0, O_NEG},
                                         {"neg-max-lift", required_argument, 0, O_NEGLIFT},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"out", required_argument, 0, O_OUT},
                                         {0, 0, 0, 0}};
    oq_rules_params p;
    oq_rules_params_default(&p);
    const char *baskets = NULL, *out = NULL;
    int have_sup = 0, have_conf = 0, quiet = 0;
    long lv;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_BASKETS:
            baskets = optarg;
            break;
        case O_SUP:
            if (cli_double("rules", "--min-support", optarg, 1e-12, 1, &p.min_support)) return 2;
            have_sup = 1;
            break;
        case O_CONF:
            if (cli_double("rules", "--min-confidence", optarg, 0, 1, &p.min_confidence)) return 2;
            have_conf = 1;
            break;
        case O_MAXLEN:
            if (cli_long("rules", "--max-len", optarg, 2, 64, &lv)) return 2;
            p.max_len = (int)lv;
            break;
        case O_MINLIFT:
            if (cli_double("rules", "--min-lift", optarg, 0, 1e12, &p.min_lift)) return 2;
            break;
        case O_NEG:
            p.negative = 1;
            break;
        case O_NEGLIFT:
            if (cli_double("rules", "--neg-max-lift", optarg, 0, 1, &p.neg_max_lift)) return 2;
            break;
        case O_QUIET:
            quiet = 1;
            break;
        case O_OUT:
            out = optarg;
            break;
        default:
            return cli_bad_option("rules");
        }
    }
    if (optind != argc) return cli_usage_error("rules", "unexpected argument '%s'", argv[optind]);
    if (!baskets) return cli_usage_error("rules", "--baskets FILE is required");
    if (!have_sup) return cli_usage_error("rules", "--min-support S is required");
    if (!have_conf) return cli_usage_error("rules", "--min-confidence C is required");
    if (!out) return cli_usage_error("rules", "--out FILE is required");

    oq_error err = {0};
    oq_baskets *b = NULL;
    oq_ruleset *r = NULL;
    double t0 = oq_now();
    if (oq_baskets_read(baskets, &b, &err))
        return cli_fail(&err, "fix the basket file and run again");
    if (b->n == 0) {
        oq_baskets_free(b);
        oq_error_set(&err, OQ_EINVAL, baskets, 0, 0, "no baskets in the file");
        return cli_fail(&err, NULL);
    }
    double t1 = oq_now();
    int rc = oq_rules_mine(b, &p, &r, &err);
    double t2 = oq_now();
    if (!rc) rc = oq_rules_write_csv(r, &b->items, out, &err);
    if (rc) {
        oq_ruleset_free(r);
        oq_baskets_free(b);
        return cli_fail(&err, NULL);
    }
    if (!quiet)
        fprintf(stderr,
                "offerq rules: %zu baskets, %u items, %zu frequent itemsets -> %zu rules "
                "(%zu positive, %zu negative) in %s  [read %.3f s, mine %.3f s]\n",
                b->n, b->items.n, r->n_itemsets, r->n, r->n_positive, r->n_negative, out, t1 - t0,
                t2 - t1);
    oq_ruleset_free(r);
    oq_baskets_free(b);
    return 0;
}
