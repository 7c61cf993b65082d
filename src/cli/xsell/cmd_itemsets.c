/* cmd_itemsets.c - `offerq itemsets`: frequent, closed and maximal itemsets.
 * A command of its own rather than `rules --itemsets`: its output is not a
 * rule table (items,size,support,count), it has no confidence to ask for,
 * and arules too returns itemsets (target "frequent", "closed", "maximally
 * frequent itemsets") as a class apart from rules. */
#include "cli/cli.h"
#include "offerq/core/io.h"
#include "offerq/xsell/rules.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq itemsets --baskets FILE --min-support S\n"
                "                       [--type frequent|closed|maximal] [--max-len K]\n"
                "                       [--min-len K] [--max-itemsets N] --out itemsets.csv\n\n"
                "Mines the frequent itemsets of a basket file with FP-growth (the same miner\n"
                "as offerq rules) and writes them, or only the closed or the maximal ones,\n"
                "as CSV:\n"
                "  items,size,support,count\n"
                "items joined by \" & \" in name order; support = count / baskets. Sorted by\n"
                "support (descending), then size, then item names.\n"
                "  frequent  count >= ceil(S * baskets)\n"
                "  closed    frequent, and no proper superset has the same count\n"
                "  maximal   frequent, and no proper superset is frequent\n"
                "Baskets: as for offerq rules (one per line, items separated by commas).\n\n"
                "Options:\n"
                "  --baskets FILE        basket file (required; - = stdin)\n"
                "  --min-support S       minimum support in (0, 1] (required)\n"
                "  --type T              frequent (default), closed or maximal\n"
                "  --max-len K           largest itemset mined (default 0: no limit; with a\n"
                "                        limit, closed and maximal are judged among the sets\n"
                "                        of at most K items)\n"
                "  --min-len K           write only sets of at least K items (default 1)\n"
                "  --max-itemsets N      stop with an error beyond N frequent itemsets\n"
                "                        (default 1000000; 0: no bound)\n"
                "  --quiet               no summary on stderr\n"
                "  --out FILE            output CSV (required)\n\n"
                "Example:\n"
                "  offerq itemsets --baskets ../shared/data/groceries.csv --min-support 0.001 \\\n"
                "      --type closed --out example/closed.csv\n");
}

int cmd_itemsets(int argc, char **argv)
{
    enum { O_BASKETS = 256, O_SUP, O_TYPE, O_MAXLEN, O_MINLEN, O_MAXSETS, O_QUIET, O_OUT };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"baskets", required_argument, 0, O_BASKETS},
                                         {"min-support", required_argument, 0, O_SUP},
                                         {"type", required_argument, 0, O_TYPE},
                                         {"max-len", required_argument, 0, O_MAXLEN},
                                         {"min-len", required_argument, 0, O_MINLEN},
                                         {"max-itemsets", required_argument, 0, O_MAXSETS},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"out", required_argument, 0, O_OUT},
                                         {0, 0, 0, 0}};
    const char *baskets = NULL, *out = NULL;
    double min_support = 0;
    int have_sup = 0, quiet = 0, kind = OQ_ITEMSETS_FREQUENT, max_len = 0, min_len = 1;
    uint64_t max_sets = OQ_RULES_MAX_ITEMSETS;
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
            if (cli_double("itemsets", "--min-support", optarg, 1e-12, 1, &min_support)) return 2;
            have_sup = 1;
            break;
        case O_TYPE:
            kind = oq_itemsets_kind_parse(optarg);
            if (kind < 0)
                return cli_usage_error(
                    "itemsets", "--type expects frequent, closed or maximal, got '%s'", optarg);
            break;
        case O_MAXLEN:
            if (cli_long("itemsets", "--max-len", optarg, 0, 64, &lv)) return 2;
            max_len = (int)lv;
            break;
        case O_MINLEN:
            if (cli_long("itemsets", "--min-len", optarg, 1, 64, &lv)) return 2;
            min_len = (int)lv;
            break;
        case O_MAXSETS:
            if (cli_u64("itemsets", "--max-itemsets", optarg, &max_sets)) return 2;
            break;
        case O_QUIET:
            quiet = 1;
            break;
        case O_OUT:
            if (cli_out_path("itemsets", "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        default:
            return cli_bad_option("itemsets");
        }
    }
    if (optind != argc)
        return cli_usage_error("itemsets", "unexpected argument '%s'", argv[optind]);
    if (!baskets) return cli_usage_error("itemsets", "--baskets FILE is required");
    if (!have_sup) return cli_usage_error("itemsets", "--min-support S is required");
    if (!out) return cli_usage_error("itemsets", "--out FILE is required");

    int ret = 0;
    oq_error err = {0};
    oq_baskets *b = NULL;
    oq_itemsets *all = NULL, *sel = NULL;
    double t0 = oq_now();
    if (oq_baskets_read(baskets, &b, &err)) {
        ret = cli_fail(&err, "fix the basket file and run again");
        goto cleanup;
    }
    double t1 = oq_now();
    int rc = oq_itemsets_mine_max(b, min_support, max_len, (size_t)max_sets, &all, &err);
    /* --min-len only shortens the output: closedness is judged on all sets */
    if (!rc) rc = oq_itemsets_select(all, kind, min_len, &sel, &err);
    double t2 = oq_now();
    if (!rc) rc = oq_itemsets_write_csv(sel, &b->items, out, &err);
    if (rc) {
        ret = cli_fail(&err, NULL);
        goto cleanup;
    }
    if (!quiet)
        fprintf(stderr,
                "offerq itemsets: %zu baskets, %u items, %zu frequent itemsets, %zu %s "
                "written to %s  [read %.3f s, mine %.3f s]\n",
                b->n, b->items.n, all->n, sel->n,
                kind == OQ_ITEMSETS_CLOSED    ? "closed"
                : kind == OQ_ITEMSETS_MAXIMAL ? "maximal"
                                              : "frequent",
                out, t1 - t0, t2 - t1);
cleanup:
    oq_itemsets_free(sel);
    oq_itemsets_free(all);
    oq_baskets_free(b);
    return ret;
}
