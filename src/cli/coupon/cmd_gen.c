/* cmd_gen.c - `offerq gen`: write a ground-truth example log and sidecars. */
#include "cli/cli.h"
#include "offerq/core/data.h"
#include "offerq/coupon/gen.h"

#include <getopt.h>
#include <jansson.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq gen [options] --out LOG.csv\n\n"
                "Simulates customers whose purchases follow the BG/NBD story, with drifting\n"
                "category preferences and a heterogeneous coupon response, and writes:\n"
                "  LOG.csv          the customer log (one row per customer and contact day)\n"
                "  LOG.events.csv   the daily browsing stream (user_id,date,category)\n"
                "  LOG.orders.csv   every purchase (user_id,date,value), for BG/NBD\n"
                "  LOG.truth.json   the seed and the whole world (offerq eval replays it)\n"
                "The same seed, world and options give the same bytes. The world (population,\n"
                "categories, response types, logging policy and the lasting effects of coupons\n"
                "and orders) is a JSON file: --print-world prints the defaults, and\n"
                "docs/readme/gen.md explains every field.\n\n"
                "Options:\n"
                "  --world FILE        read the world from FILE (fields absent keep their\n"
                "                      defaults; options below override it)\n"
                "  --print-world       print the world as JSON and exit\n"
                "  --no-lasting        switch every lasting effect off (the world before\n"
                "                      they existed)\n"
                "  --customers N       customers (default 10000)\n"
                "  --snapshots K       contact days (log rows) per customer (default 7)\n"
                "  --start YYYY-MM-DD  first day (default 2025-01-01)\n"
                "  --end YYYY-MM-DD    last day (default 2025-06-30)\n"
                "  --seed S            random seed (default 1)\n"
                "  --r X --alpha X --a X --b X\n"
                "                      BG/NBD population in days (default 0.6 20 0.8 2.5)\n"
                "  --contact-effect X  scale of the coupon/contact response (default 1; 0 makes\n"
                "                      the order stream exactly BG/NBD)\n"
                "  --no-events         do not write LOG.events.csv\n"
                "  --no-orders         do not write LOG.orders.csv\n"
                "  --quiet             no progress on stderr\n"
                "  --out LOG.csv       output log (required)\n\n"
                "Examples:\n  offerq gen --customers 10000 --seed 1 --out example/log.csv\n"
                "  offerq gen --print-world > example/world.json\n"
                "  offerq gen --world example/world.json --seed 2 --out example/log2.csv\n");
}

int cmd_gen(int argc, char **argv)
{
    enum {
        O_CUST = 256,
        O_SNAP,
        O_START,
        O_END,
        O_SEED,
        O_R,
        O_ALPHA,
        O_A,
        O_B,
        O_CE,
        O_NOEV,
        O_NOORD,
        O_QUIET,
        O_OUT,
        O_WORLD,
        O_PRINT,
        O_NOLAST
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"customers", required_argument, 0, O_CUST},
                                         {"snapshots", required_argument, 0, O_SNAP},
                                         {"start", required_argument, 0, O_START},
                                         {"end", required_argument, 0, O_END},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"r", required_argument, 0, O_R},
                                         {"alpha", required_argument, 0, O_ALPHA},
                                         {"a", required_argument, 0, O_A},
                                         {"b", required_argument, 0, O_B},
                                         {"contact-effect", required_argument, 0, O_CE},
                                         {"no-events", no_argument, 0, O_NOEV},
                                         {"no-orders", no_argument, 0, O_NOORD},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"out", required_argument, 0, O_OUT},
                                         {"world", required_argument, 0, O_WORLD},
                                         {"print-world", no_argument, 0, O_PRINT},
                                         {"no-lasting", no_argument, 0, O_NOLAST},
                                         {0, 0, 0, 0}};
    oq_gen_config cfg;
    oq_gen_config_default(&cfg);
    const char *out = NULL;
    long lv;
    int c, print = 0;
    oq_error err = {0};
    /* The world file first, whatever its place: the options override it. */
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1)
        if (c == O_WORLD && oq_gen_world_load(optarg, &cfg, &err)) return cli_fail(&err, NULL);
    opterr = 1;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_CUST:
            if (cli_long("gen", "--customers", optarg, 1, 100000000, &lv)) return 2;
            cfg.n_customers = lv;
            break;
        case O_SNAP:
            if (cli_long("gen", "--snapshots", optarg, 1, 64, &lv)) return 2;
            cfg.snapshots = (int)lv;
            break;
        case O_START:
        case O_END: {
            int32_t *d = c == O_START ? &cfg.start_day : &cfg.end_day;
            if (oq_date_parse(optarg, strlen(optarg), d))
                return cli_usage_error("gen", "%s expects a date YYYY-MM-DD, got '%s'",
                                       c == O_START ? "--start" : "--end", optarg);
            break;
        }
        case O_SEED:
            if (cli_u64("gen", "--seed", optarg, &cfg.seed)) return 2;
            break;
        case O_R:
            if (cli_double("gen", "--r", optarg, 1e-6, 1e6, &cfg.r)) return 2;
            break;
        case O_ALPHA:
            if (cli_double("gen", "--alpha", optarg, 1e-6, 1e6, &cfg.alpha)) return 2;
            break;
        case O_A:
            if (cli_double("gen", "--a", optarg, 1e-6, 1e6, &cfg.a)) return 2;
            break;
        case O_B:
            if (cli_double("gen", "--b", optarg, 1e-6, 1e6, &cfg.b)) return 2;
            break;
        case O_CE:
            if (cli_double("gen", "--contact-effect", optarg, 0, 3, &cfg.contact_effect)) return 2;
            break;
        case O_NOEV:
            cfg.write_events = 0;
            break;
        case O_NOORD:
            cfg.write_orders = 0;
            break;
        case O_QUIET:
            cfg.quiet = 1;
            break;
        case O_WORLD:
            break;
        case O_PRINT:
            print = 1;
            break;
        case O_NOLAST:
            oq_gen_lasting_off(&cfg.lasting);
            break;
        case O_OUT:
            if (cli_out_path("gen", "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        default:
            return cli_bad_option("gen");
        }
    }
    if (optind != argc) return cli_usage_error("gen", "unexpected argument '%s'", argv[optind]);
    if (print) {
        json_t *w = oq_gen_world_json(&cfg);
        char *text = w ? json_dumps(w, JSON_INDENT(2) | JSON_REAL_PRECISION(15)) : NULL;
        json_decref(w);
        if (!text) {
            oq_error_oom(&err, NULL, "the world");
            return cli_fail(&err, NULL);
        }
        printf("%s\n", text);
        free(text);
        return 0;
    }
    if (!out) return cli_usage_error("gen", "--out LOG.csv is required");
    if (cfg.end_day - cfg.start_day + 1 <= cfg.birth_window + cfg.snapshots)
        cfg.birth_window = (cfg.end_day - cfg.start_day + 1 - cfg.snapshots) / 2;
    if (oq_gen_write(&cfg, out, &err)) return cli_fail(&err, NULL);
    fprintf(stderr, "offerq gen: wrote %s (%ld customers x %d rows) and its sidecars\n", out,
            cfg.n_customers, cfg.snapshots);
    return 0;
}
