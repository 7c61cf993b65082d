/* cmd_convert.c - `offerq convert`: a seed-format log (offerq gen's) as a
 * shop's raw tables (contacts, customers, offers, orders, events), so the
 * raw-table path (`offerq uplift`, `offerq run --contacts`) can be measured
 * against the log path on the same data (issue 17). */
#include "cli/cli.h"
#include "offerq/core/csv.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq convert --log LOG.csv --out-dir DIR [--orders F] [--events F]\n\n"
                "Writes a seed-format customer log (offerq gen's) as a shop's raw tables:\n"
                "  DIR/contacts.csv   user_id,date,offer,ordered,value: one row per log row\n"
                "                     (offer = coupon_offered, ordered = order_placed, value =\n"
                "                     order_profit, the gross profit); no propensity column\n"
                "  DIR/customers.csv  user_id (the log's other columns are the day's state,\n"
                "                     which the raw path derives from orders and events)\n"
                "  DIR/offers.csv     offer,redeem_cost,contact_cost: none 0, 5 5, 10 10, 20 20\n"
                "  DIR/orders.csv     every purchase, user_id,date,value: --orders, else the\n"
                "                     log's LOG.orders.csv sidecar, else the log's order rows\n"
                "  DIR/events.csv     the browsing stream: --events, else LOG.events.csv (left\n"
                "                     out when neither exists)\n"
                "Then `offerq run --contacts` (or `offerq uplift`) learns from them.\n\n"
                "Example:\n"
                "  offerq gen --customers 2000 --seed 1 --quiet --out example/small_raw.csv\n"
                "  offerq convert --log example/small_raw.csv --out-dir example/raw\n"
                "  offerq run --contacts example/raw/contacts.csv \\\n"
                "      --customers example/raw/customers.csv --offers example/raw/offers.csv \\\n"
                "      --orders example/raw/orders.csv --events example/raw/events.csv \\\n"
                "      --out-dir example/rawrun --quiet\n");
}

static int copy_file(const char *from, const char *to, oq_error *err)
{
    FILE *in = fopen(from, "rb");
    if (!in) return oq_error_set(err, OQ_EIO, from, 0, 0, "cannot open for reading");
    oq_afile af = {0};
    int rc = oq_afile_open(&af, to, err);
    char buf[1 << 16];
    size_t k;
    while (!rc && (k = fread(buf, 1, sizeof buf, in)) > 0)
        if (fwrite(buf, 1, k, af.fp) != k) rc = oq_error_set(err, OQ_EIO, to, 0, 0, "write failed");
    if (!rc && ferror(in)) rc = oq_error_set(err, OQ_EIO, from, 0, 0, "read failed");
    fclose(in);
    if (rc) {
        oq_afile_abort(&af);
        return rc;
    }
    return oq_afile_commit(&af, err);
}

static int write_tables(const oq_log *log, const char *dir, const char *orders, const char *events,
                        oq_error *err)
{
    char path[4200], d[11];
    oq_afile af = {0};
    int rc;
    snprintf(path, sizeof path, "%s/contacts.csv", dir);
    if ((rc = oq_afile_open(&af, path, err))) return rc;
    fputs("user_id,date,offer,ordered,value\n", af.fp);
    for (size_t i = 0; i < log->n; i++) {
        oq_date_format(log->day[i], d);
        fprintf(af.fp, "%lld,%s,%s,%d,%.2f\n", (long long)log->user_id[i], d,
                oq_coupon_name(log->coupon[i]), log->order[i], log->order[i] ? log->profit[i] : 0);
    }
    if ((rc = oq_afile_commit(&af, err))) return rc;
    snprintf(path, sizeof path, "%s/customers.csv", dir);
    if ((rc = oq_afile_open(&af, path, err))) return rc;
    fputs("user_id\n", af.fp);
    for (size_t i = 0; i < log->n; i++)
        if (i == 0 || log->user_id[i] != log->user_id[i - 1])
            fprintf(af.fp, "%lld\n", (long long)log->user_id[i]);
    if ((rc = oq_afile_commit(&af, err))) return rc;
    snprintf(path, sizeof path, "%s/offers.csv", dir);
    if ((rc = oq_afile_open(&af, path, err))) return rc;
    fputs("offer,redeem_cost,contact_cost\n", af.fp);
    for (int c = 0; c < OQ_N_COUPONS; c++)
        fprintf(af.fp, "%s,%g,0\n", oq_coupon_name(c), oq_coupon_value(c));
    if ((rc = oq_afile_commit(&af, err))) return rc;
    snprintf(path, sizeof path, "%s/orders.csv", dir);
    if (orders) {
        if ((rc = copy_file(orders, path, err))) return rc;
    } else {
        if ((rc = oq_afile_open(&af, path, err))) return rc;
        fputs("user_id,date,value\n", af.fp);
        for (size_t i = 0; i < log->n; i++)
            if (log->order[i]) {
                oq_date_format(log->day[i], d);
                fprintf(af.fp, "%lld,%s,%.2f\n", (long long)log->user_id[i], d, log->aov[i]);
            }
        if ((rc = oq_afile_commit(&af, err))) return rc;
    }
    snprintf(path, sizeof path, "%s/events.csv", dir);
    if (events && (rc = copy_file(events, path, err))) return rc;
    return 0;
}

int cmd_convert(int argc, char **argv)
{
    enum { O_LOG = 256, O_OUT, O_ORDERS, O_EVENTS };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"log", required_argument, 0, O_LOG},
                                         {"out-dir", required_argument, 0, O_OUT},
                                         {"orders", required_argument, 0, O_ORDERS},
                                         {"events", required_argument, 0, O_EVENTS},
                                         {0, 0, 0, 0}};
    const char *log_path = NULL, *out = NULL, *orders = NULL, *events = NULL;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_LOG:
            log_path = optarg;
            break;
        case O_OUT:
            if (cli_out_path("convert", "--out-dir", optarg, 0)) return 2;
            out = optarg;
            break;
        case O_ORDERS:
            orders = optarg;
            break;
        case O_EVENTS:
            events = optarg;
            break;
        default:
            return cli_bad_option("convert");
        }
    }
    if (optind != argc) return cli_usage_error("convert", "unexpected argument '%s'", argv[optind]);
    if (!log_path || !out) return cli_usage_error("convert", "--log and --out-dir are required");
    char so[4200], se[4200];
    orders = cli_sidecar_or(orders, log_path, ".orders.csv", so, sizeof so);
    events = cli_sidecar_or(events, log_path, ".events.csv", se, sizeof se);
    oq_error err = {0};
    oq_log *log = NULL;
    int rc = 0;
    if (oq_log_read(log_path, &log, &err) || write_tables(log, out, orders, events, &err))
        rc = cli_fail(&err, NULL);
    else
        printf("offerq convert: %zu contacts -> %s/{contacts,customers,offers,orders%s}.csv "
               "(orders from %s)\n",
               log->n, out, events ? ",events" : "", orders ? orders : "the log's order rows");
    oq_log_free(log);
    return rc;
}
