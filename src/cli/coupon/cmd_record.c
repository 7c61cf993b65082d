/* cmd_record.c - `offerq record`: yesterday's recommendations and what the
 * customers then did, as contact rows that keep the propensity, so that
 * tomorrow's `offerq eval --contacts` can weigh them (record.h, issue 17
 * item 3). Thin over oq_record_*; --pg loads the written file with
 * `db load --table contacts`'s code (oq_db_load_table). */
#include "cli/cli.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/core/tables.h"
#include "offerq/coupon/record.h"
#include "offerq/prod/db.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq record --run DIR --date YYYY-MM-DD --orders R.csv --out NEW.csv\n"
            "                     [--window D] [--append CONTACTS.csv] [--pg URL]\n"
            "                     [--contacted C.csv] [--columns MAP] [--quiet]\n\n"
            "Turns a run's recommendations (DIR/recommendations.csv of `offerq run --contacts`\n"
            "or `offerq uplift`: user_id,offer,propensity) and the orders that followed into\n"
            "the day's contacts, one per recommended customer (the control offer's too: they\n"
            "are the control group):\n"
            "  user_id,date,offer,ordered,value,propensity\n"
            "date = --date (the day the offers went out); ordered = 1 when the customer has an\n"
            "order dated in [date, date + D days), value = those orders' summed value (0 when\n"
            "none), propensity = the run's, unchanged. The file feeds `offerq eval --contacts`\n"
            "(IPS, SNIPS, DR with the logged propensities) and the next run.\n\n"
            "Options:\n"
            "  --run DIR         the run whose recommendations went out (needs a propensity\n"
            "                    column: runs of `offerq run --log` have none)\n"
            "  --date DAY        the day of the contacts, YYYY-MM-DD\n"
            "  --orders FILE     every purchase: user_id,date,value[,category] (tables.h);\n"
            "                    value as the contacts should count it (the gross profit)\n"
            "  --window D        response window in days, 1 to %d (default 1: the contact's\n"
            "                    own day, as the seed's log and `offerq convert` count an order)\n"
            "  --out FILE        the new contacts, written whole or not at all\n"
            "  --append FILE     also append them to this contacts file (same header), via a\n"
            "                    temporary file renamed over it; a customer already recorded\n"
            "                    on the same day is refused by file:line and nothing changes\n"
            "  --pg URL          also load them into PostgreSQL's contacts table, as `offerq\n"
            "                    db load --table contacts` does (one transaction; the offers\n"
            "                    must be in the offers table; loading twice changes nothing)\n"
            "  --contacted FILE  only the customers of this file (a user_id column) were\n"
            "                    reached; default: every customer of the recommendations\n"
            "  --columns MAP     the orders' and --contacted's own names for user_id and date,\n"
            "                    e.g. user_id=customer,date=day\n"
            "  --quiet           no summary on stdout\n\n"
            "Example:\n"
            "  # after `offerq convert --help`'s example (its run explored 5 %%): the offers\n"
            "  # went out on 2025-06-24 and the week's orders are in\n"
            "  offerq record --run example/rawrun --date 2025-06-24 --window 7 \\\n"
            "      --orders example/raw/orders.csv --out example/rawrun_contacts.csv\n"
            "  offerq eval --contacts example/rawrun_contacts.csv \\\n"
            "      --customers example/raw/customers.csv --offers example/raw/offers.csv \\\n"
            "      --run example/rawrun --quiet\n",
            OQ_RECORD_MAX_WINDOW);
}

int cmd_record(int argc, char **argv)
{
    enum {
        R_RUN = 256,
        R_DATE,
        R_ORDERS,
        R_WINDOW,
        R_OUT,
        R_APPEND,
        R_PG,
        R_CONTACTED,
        R_COLUMNS,
        R_QUIET
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"run", required_argument, 0, R_RUN},
                                         {"date", required_argument, 0, R_DATE},
                                         {"orders", required_argument, 0, R_ORDERS},
                                         {"window", required_argument, 0, R_WINDOW},
                                         {"out", required_argument, 0, R_OUT},
                                         {"append", required_argument, 0, R_APPEND},
                                         {"pg", required_argument, 0, R_PG},
                                         {"contacted", required_argument, 0, R_CONTACTED},
                                         {"columns", required_argument, 0, R_COLUMNS},
                                         {"quiet", no_argument, 0, R_QUIET},
                                         {0, 0, 0, 0}};
    const char *run = NULL, *date_s = NULL, *orders_path = NULL, *out = NULL, *append = NULL;
    const char *pg = NULL, *contacted = NULL;
    char *columns = NULL;
    long window = 1;
    int quiet = 0, c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case R_RUN:
            run = optarg;
            break;
        case R_DATE:
            date_s = optarg;
            break;
        case R_ORDERS:
            orders_path = optarg;
            break;
        case R_WINDOW:
            if (cli_long("record", "--window", optarg, 1, OQ_RECORD_MAX_WINDOW, &window)) return 2;
            break;
        case R_OUT:
            if (cli_out_path("record", "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        case R_APPEND:
            if (cli_out_path("record", "--append", optarg, 0)) return 2;
            append = optarg;
            break;
        case R_PG:
            pg = optarg;
            break;
        case R_CONTACTED:
            contacted = optarg;
            break;
        case R_COLUMNS:
            columns = optarg;
            break;
        case R_QUIET:
            quiet = 1;
            break;
        default:
            return cli_bad_option("record");
        }
    }
    if (optind != argc) return cli_usage_error("record", "unexpected argument '%s'", argv[optind]);
    if (!run || !date_s || !orders_path || !out)
        return cli_usage_error("record", "--run, --date, --orders and --out are required");
    int32_t date;
    if (oq_date_parse(date_s, strlen(date_s), &date))
        return cli_usage_error("record", "--date: got \"%s\", expected a date YYYY-MM-DD", date_s);
    if (append && !strcmp(append, out))
        return cli_usage_error("record", "--append and --out name the same file");
    oq_table_map map = {0};
    oq_error err = {0};
    if (columns && oq_table_map_parse(columns, &map, &err))
        return cli_usage_error("record", "--columns: %s", err.msg);

    int rc = 1;
    oq_record *r = NULL;
    oq_txtab *orders = NULL;
    char dir[4096], path[4200];
    if (oq_rundir_resolve(run, dir, sizeof dir, &err)) {
        rc = cli_fail(&err, "--run names the folder of the run whose offers went out");
        goto cleanup;
    }
    snprintf(path, sizeof path, "%s/recommendations.csv", dir);
    if (oq_record_read(path, &r, &err)) {
        rc = cli_fail(&err, err.line == 1 ? "the run's recommendations.csv needs user_id, offer "
                                            "and propensity columns"
                                          : NULL);
        goto cleanup;
    }
    size_t nreco = r->n;
    if (contacted && oq_record_keep(r, contacted, &map, &err)) {
        rc = cli_fail(&err, "--contacted lists the customers reached (a user_id column)");
        goto cleanup;
    }
    if (r->n == 0) {
        fprintf(stderr,
                "offerq: error: %s: none of the run's %zu customers is in it: nothing "
                "to record\n",
                contacted, nreco);
        goto cleanup;
    }
    if (oq_orders_table_read(orders_path, &map, &orders, &err) ||
        oq_record_outcomes(r, orders, date, (int)window, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    if (r->orders_last < date + (int32_t)window - 1) {
        char last[11] = "none", end[11];
        if (r->orders_last != INT32_MIN) oq_date_format(r->orders_last, last);
        oq_date_format(date + (int32_t)window - 1, end);
        fprintf(stderr,
                "offerq record: warning: %s ends on %s, before the window's last day %s: a "
                "customer who orders later is recorded as not ordering (record once the "
                "window has closed)\n",
                orders_path, last, end);
    }
    /* the append's checks first: a refusal there leaves everything as it was */
    int arc = append ? oq_record_check_append(r, append, &err) : 0;
    if (arc) {
        rc = cli_fail(&err, arc == OQ_EIO ? "nothing was written; --append adds to an existing "
                                            "contacts file (the first day: --out alone)"
                                          : "nothing was written");
        goto cleanup;
    }
    if (oq_record_write(r, out, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    if (pg) {
        oq_db_load_info li = {0};
        double t = oq_now();
        if (oq_db_load_table(pg, OQ_DB_CONTACTS, out, NULL, &li, &err)) {
            rc = cli_fail(&err, append ? "the contacts are in --out, not in --pg nor --append: "
                                         "fix the above and run again"
                                       : "the contacts are in --out, not in --pg: fix the "
                                         "above and run again");
            goto cleanup;
        }
        fprintf(stderr,
                "offerq record: loaded %zu rows from %s into contacts in %.2fs: %zu new, %zu "
                "changed, %zu already there\n",
                li.rows, out, oq_now() - t, li.inserted, li.updated, li.unchanged);
    }
    if (append && oq_record_append(r, append, &err)) {
        rc = cli_fail(&err, pg ? "the contacts are in --out and --pg, not in --append"
                               : "the contacts are in --out, not in --append");
        goto cleanup;
    }
    if (!quiet) {
        size_t nord = 0;
        double val = 0;
        for (size_t i = 0; i < r->n; i++) {
            nord += r->ordered[i];
            val += r->value[i];
        }
        printf("recorded %zu contacts of %s (window %ld day%s; %zu of the run's %zu customers): "
               "%zu ordered (%.4f), value %.2f; %zu orders in the window, %zu others ignored\n",
               r->n, date_s, window, window == 1 ? "" : "s", r->n, nreco, nord,
               (double)nord / (double)r->n, val, r->orders_used, r->orders_else);
        printf("wrote %s%s%s\n", out, append ? ", appended to " : "", append ? append : "");
    }
    rc = 0;
cleanup:
    oq_record_free(r);
    oq_txtab_free(orders);
    return rc;
}
