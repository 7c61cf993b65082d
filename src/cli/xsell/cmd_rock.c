/* cmd_rock.c - `offerq rock`: ROCK clustering of a categorical CSV. */
#include "cli/cli.h"
#include "offerq/core/io.h"
#include "offerq/xsell/rock.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq rock --data FILE.csv --theta T --k K [--label COLUMN]\n"
            "                   --out clusters.csv\n\n"
            "ROCK (Guha, Rastogi & Shim 1999): each row becomes the set of its\n"
            "column=value items (empty fields are missing), rows with Jaccard similarity\n"
            ">= T are neighbours, links count common neighbours, and clusters merge by\n"
            "the goodness measure with f(T) = (1 - T)/(1 + T) until K remain.\n"
            "Writes row,cluster (row = 1-based data row, cluster 0 = outlier; clusters\n"
            "numbered by decreasing size). With --label, that column is left out of the\n"
            "attributes and a cluster x label table is printed on stdout.\n\n"
            "Options:\n"
            "  --data FILE         CSV with a header (required)\n"
            "  --theta T           neighbour threshold in [0, 1) (required)\n"
            "  --k K               clusters wanted (required)\n"
            "  --label COLUMN      class column: excluded, cross-tabulated\n"
            "  --pairwise-missing  similarity over the attributes present in both rows only\n"
            "                      (default: Jaccard of the item sets, missing values omitted)\n"
            "  --min-neighbours N  rows with fewer neighbours are outliers (default 1)\n"
            "  --weed-size S       at 1/3 of the points left, clusters of <= S points\n"
            "                      become outliers (default 0: no weeding)\n"
            "  --sample N          cluster a random sample of N rows, label the rest\n"
            "  --seed S            seed of the sample (default 1)\n"
            "  --quiet             no progress on stderr\n"
            "  --out FILE          output CSV (required)\n\n"
            "Example:\n"
            "  offerq rock --data ../shared/data/votes.csv --theta 0.73 --k 2 --label Class \\\n"
            "      --out example/c.csv\n");
}

int cmd_rock(int argc, char **argv)
{
    enum {
        O_DATA = 256,
        O_THETA,
        O_K,
        O_LABEL,
        O_PLAIN,
        O_MINN,
        O_WEED,
        O_SAMPLE,
        O_SEED,
        O_QUIET,
        O_OUT
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"data", required_argument, 0, O_DATA},
                                         {"theta", required_argument, 0, O_THETA},
                                         {"k", required_argument, 0, O_K},
                                         {"label", required_argument, 0, O_LABEL},
                                         {"pairwise-missing", no_argument, 0, O_PLAIN},
                                         {"min-neighbours", required_argument, 0, O_MINN},
                                         {"weed-size", required_argument, 0, O_WEED},
                                         {"sample", required_argument, 0, O_SAMPLE},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"out", required_argument, 0, O_OUT},
                                         {0, 0, 0, 0}};
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.quiet = 0;
    const char *data = NULL, *label = NULL, *out = NULL;
    int have_theta = 0, have_k = 0;
    long lv;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_DATA:
            data = optarg;
            break;
        case O_THETA:
            if (cli_double("rock", "--theta", optarg, 0, 0.999999, &p.theta)) return 2;
            have_theta = 1;
            break;
        case O_K:
            if (cli_long("rock", "--k", optarg, 1, 1000000000, &lv)) return 2;
            p.k = (size_t)lv;
            have_k = 1;
            break;
        case O_LABEL:
            label = optarg;
            break;
        case O_PLAIN:
            p.pairwise_missing = 1;
            break;
        case O_MINN:
            if (cli_long("rock", "--min-neighbours", optarg, 0, 1000000000, &lv)) return 2;
            p.min_neighbours = (size_t)lv;
            break;
        case O_WEED:
            if (cli_long("rock", "--weed-size", optarg, 0, 1000000000, &lv)) return 2;
            p.weed_size = (size_t)lv;
            break;
        case O_SAMPLE:
            if (cli_long("rock", "--sample", optarg, 1, 1000000000, &lv)) return 2;
            p.sample = (size_t)lv;
            break;
        case O_SEED:
            if (cli_u64("rock", "--seed", optarg, &p.seed)) return 2;
            break;
        case O_QUIET:
            p.quiet = 1;
            break;
        case O_OUT:
            if (cli_out_path("rock", "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        default:
            return cli_bad_option("rock");
        }
    }
    if (optind != argc) return cli_usage_error("rock", "unexpected argument '%s'", argv[optind]);
    if (!data) return cli_usage_error("rock", "--data FILE.csv is required");
    if (!have_theta) return cli_usage_error("rock", "--theta T is required");
    if (!have_k) return cli_usage_error("rock", "--k K is required");
    if (!out) return cli_usage_error("rock", "--out FILE is required");

    oq_error err = {0};
    oq_rock_records *r = NULL;
    oq_rock_result *res = NULL;
    if (oq_rock_read_csv(data, label, &r, &err))
        return cli_fail(&err, "fix the data file and run again");
    double t0 = oq_now();
    int rc = oq_rock_cluster(r, &p, &res, &err);
    double t1 = oq_now();
    if (!rc) rc = oq_rock_write_csv(res, out, &err);
    if (rc) {
        oq_rock_result_free(res);
        oq_rock_records_free(r);
        return cli_fail(&err, NULL);
    }
    if (!p.quiet)
        fprintf(
            stderr,
            "offerq rock: %zu rows, %u attributes, %zu neighbour pairs, %zu linked pairs, "
            "%zu merges -> %zu clusters + %zu outliers (%zu in clusters beyond k without links) "
            "in %s (%.3f s)\n",
            r->n, r->n_attr, res->neighbour_pairs, res->link_pairs, res->merges, res->n_clusters,
            res->size[0], res->unlinked, out, t1 - t0);
    if (label) oq_rock_print_table(res, r, stdout);
    oq_rock_result_free(res);
    oq_rock_records_free(r);
    return 0;
}
