/* cmd_db.c - `offerq db init|load|dump|save-run|status`: the log, a shop's
 * raw tables and the daily lists in PostgreSQL (db.h). */
#include "cli/cli.h"
#include "offerq/core/csv.h"
#include "offerq/core/data.h"
#include "offerq/prod/db.h"
#include "offerq/core/io.h"
#include "offerq/coupon/reco.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq db <verb> --pg URL [args]\n\n"
            "The customer log, a shop's raw tables (contacts, customers, orders, events,\n"
            "offers) and the daily recommendation lists in PostgreSQL.\n"
            "URL is a libpq connection string or URI; without --pg, $OFFERQ_PG is used.\n"
            "Several servers (the log sharded by customer): one --pg per server, or one\n"
            "list URL1,URL2 of postgresql:// URLs; customer u's rows live on server\n"
            "shard(u) (the hash of `run --shards` and MPI ranks), runs and\n"
            "recommendations on the first server. For example, two servers, each with\n"
            "customer_log in 8 partitions:\n"
            "  offerq db init --pg postgresql://offerq@10.0.0.1/offerq \\\n"
            "      --pg postgresql://offerq@10.0.0.2/offerq --partitions 8\n"
            "  offerq db load --pg "
            "postgresql://offerq@10.0.0.1/offerq,postgresql://offerq@10.0.0.2/offerq \\\n"
            "      example/log.csv\n\n"
            "Verbs:\n"
            "  init [--partitions M]\n"
            "                       create the tables customer_log, runs, recommendations\n"
            "                       and the raw tables contacts, customers, orders, events,\n"
            "                       offers on every server (idempotent; the raw tables need\n"
            "                       PostgreSQL 15); with --partitions M, customer_log and\n"
            "                       the per-customer raw tables are partitioned by offerq's\n"
            "                       shard of user_id into M partitions (so M/N of them per\n"
            "                       rank of an `mpirun -np N` run, N dividing M)\n"
            "  load LOG.csv         validate LOG.csv in full, then COPY it into customer_log\n"
            "                       (each row to its customer's server) in one transaction\n"
            "                       per server: all rows or none; a bad row or one\n"
            "                       twice in the file is reported with its file line; rows\n"
            "                       already in the table are replaced when they differ, left\n"
            "                       alone when not (loading a file again loads nothing twice)\n"
            "  load --table T FILE  load a raw table, T = contacts, customers, orders, events\n"
            "                       or offers, from its CSV (the formats of `offerq run\n"
            "                       --contacts`; exports as they come: BOM, CRLF, quotes, no\n"
            "                       final newline), checked in full by the same reader first\n"
            "                       (a bad cell: file:line:column, nothing loaded), then\n"
            "                       streamed (COPY) in one transaction per server; rows\n"
            "                       already there are updated when they differ, left alone\n"
            "                       when not. Load the offers before the contacts. Options:\n"
            "                       --columns MAP (the file's names of our columns, e.g.\n"
            "                       user_id=id,offer=test_coupon), --ignore COLS (customers\n"
            "                       columns that are not attributes)\n"
            "  dump --out LOG.csv   read customer_log back (streamed) and write it as a log CSV\n"
            "  dump --table T --out FILE\n"
            "                       write raw table T as the CSV its reader takes (rows in\n"
            "                       the order they were loaded)\n"
            "  save-run DIR         record a run: DIR/recommendations.csv (+ DIR/report.json\n"
            "                       if present) into runs and recommendations, one transaction\n"
            "  status               rows in each table\n\n"
            "The raw tables feed `offerq run --pg URL --contacts-from-db` (see its --help);\n"
            "the orders and events tables also feed `offerq run --pg URL` on the log.\n\n"
            "Example:\n"
            "  offerq db init --pg postgresql://offerq@127.0.0.1:5432/offerq\n"
            "  offerq db load --pg postgresql://offerq@127.0.0.1:5432/offerq example/log.csv\n"
            "  offerq db load --pg postgresql://offerq@127.0.0.1:5432/offerq --table offers \\\n"
            "      example/raw/offers.csv\n");
}

/* Shortest %g form that reads back as the same double. */
static void put_num(FILE *fp, double v)
{
    char b[32];
    snprintf(b, sizeof b, "%.15g", v);
    if (strtod(b, NULL) != v) snprintf(b, sizeof b, "%.17g", v);
    fputs(b, fp);
}

/* Shortest form that reads back as the same float (budget is stored as float). */
static void put_float(FILE *fp, float v)
{
    char b[32];
    for (int prec = 6; prec <= 9; prec++) {
        snprintf(b, sizeof b, "%.*g", prec, (double)v);
        if ((float)strtod(b, NULL) == v) break;
    }
    fputs(b, fp);
}

static int dump_log(const oq_log *l, const char *path, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    fputs(OQ_LOG_HEADER "\n", af.fp);
    for (size_t i = 0; i < l->n; i++) {
        char date[11];
        oq_date_format(l->day[i], date);
        fprintf(af.fp, "%lld,%s,%d,%d,", (long long)l->user_id[i], date, l->days_since[i],
                l->purchases_30d[i]);
        put_num(af.fp, l->aov[i]);
        fputc(',', af.fp);
        oq_csv_write_field(af.fp, l->cats.names[l->category[i]]);
        fputc(',', af.fp);
        put_float(af.fp, l->budget[i]);
        fprintf(af.fp, ",%s,%d,", oq_coupon_name(l->coupon[i]), l->order[i]);
        put_num(af.fp, l->profit[i]);
        fputc('\n', af.fp);
    }
    return oq_afile_commit(&af, err);
}

static int save_run(const char *url, const char *dir_arg, oq_error *err)
{
    char path[4096 + 64], dir[4096];
    oq_reco *r = NULL;
    char *report = NULL;
    size_t len;
    double t0 = oq_unix_now();
    /* One run's files even if DIR is switched meanwhile (io.h). */
    int rc = oq_rundir_resolve(dir_arg, dir, sizeof dir, err);
    if (rc) return rc;
    snprintf(path, sizeof path, "%s/%s", dir, OQ_RECO_FILE);
    if ((rc = oq_reco_read(path, &r, err))) goto cleanup;
    snprintf(path, sizeof path, "%s/report.json", dir);
    if (oq_file_exists(path) && (rc = oq_read_file(path, 64u << 20, &report, &len, err)))
        goto cleanup;
    oq_db_run run = {.source = dir_arg, .started_at = t0, .log_rows = 0, .report_json = report};
    int64_t id;
    if ((rc = oq_db_save_run(url, r, &run, &id, err))) goto cleanup;
    printf("run %lld: %zu recommendations saved\n", (long long)id, r->n);
cleanup:
    oq_reco_free(r);
    free(report);
    return rc;
}

static int db_cmd(int argc, char **argv, char **list);

int cmd_db(int argc, char **argv)
{
    char *list = NULL; /* the --pg URLs, one per server, newline-separated (db.h) */
    int rc = db_cmd(argc, argv, &list);
    free(list);
    return rc;
}

static int db_cmd(int argc, char **argv, char **list)
{
    enum { O_PG = 256, O_OUT, O_PARTS, O_TABLE, O_COLUMNS, O_IGNORE };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"pg", required_argument, 0, O_PG},
                                         {"out", required_argument, 0, O_OUT},
                                         {"partitions", required_argument, 0, O_PARTS},
                                         {"table", required_argument, 0, O_TABLE},
                                         {"columns", required_argument, 0, O_COLUMNS},
                                         {"ignore", required_argument, 0, O_IGNORE},
                                         {0, 0, 0, 0}};
    const char *url = getenv("OFFERQ_PG"), *out = NULL;
    long parts = -1;
    int c, table = -1;
    char *columns = NULL;
    oq_table_map map = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_PG: {
            size_t a = *list ? strlen(*list) : 0, b = strlen(optarg);
            char *p = realloc(*list, a + b + 2);
            if (!p) return cli_usage_error("db", "out of memory");
            if (a) p[a++] = '\n';
            memcpy(p + a, optarg, b + 1);
            url = *list = p;
            break;
        }
        case O_PARTS:
            if (cli_long("db", "--partitions", optarg, 1, OQ_DB_MAX_PARTITIONS, &parts)) return 2;
            break;
        case O_TABLE:
            if ((table = oq_db_table_parse(optarg)) < 0)
                return cli_usage_error("db",
                                       "--table: expected contacts, customers, orders, events or "
                                       "offers, got '%s'",
                                       optarg);
            break;
        case O_COLUMNS:
            columns = optarg;
            break;
        case O_IGNORE:
            map.ignore = optarg;
            break;
        case O_OUT:
            if (cli_out_path("db", "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        default:
            return cli_bad_option("db");
        }
    }
    if (optind >= argc)
        return cli_usage_error("db", "expects a verb: init, load, dump, save-run, status");
    const char *verb = argv[optind++];
    int nargs = argc - optind;
    if (!url || !*url) return cli_usage_error("db", "--pg URL is required (or set OFFERQ_PG)");
    oq_error err = {0};
    int shards = oq_db_shard_count(url, &err);
    if (shards < 0) return cli_usage_error("db", "--pg: %s", err.msg);
    if (parts >= 0 && strcmp(verb, "init") != 0)
        return cli_usage_error("db", "--partitions is an option of init");
    if (table >= 0 && strcmp(verb, "load") != 0 && strcmp(verb, "dump") != 0)
        return cli_usage_error("db", "--table is an option of load and dump");
    if ((columns || map.ignore) && strcmp(verb, "load") != 0)
        return cli_usage_error("db", "--columns and --ignore are options of load");
    if ((columns || map.ignore) && table < 0)
        return cli_usage_error("db", "--columns and --ignore need --table (the log's columns are "
                                     "fixed)");
    if (map.ignore && table != OQ_DB_CUSTOMERS)
        return cli_usage_error("db", "--ignore is for --table customers");
    if (columns && oq_table_map_parse(columns, &map, &err))
        return cli_usage_error("db", "--columns: %s", err.msg);
    if (!strcmp(verb, "init")) {
        if (nargs) return cli_usage_error("db", "init takes no arguments");
        int rc = oq_db_init_layout(url, parts > 0 ? (int)parts : 0, &err);
        if (rc)
            return cli_fail(&err, rc == OQ_EIO ? "is the server running and the URL right?" : NULL);
        char where[96] = "";
        if (shards > 1) snprintf(where, sizeof where, " on %d servers", shards);
        if (parts > 0)
            snprintf(where + strlen(where), sizeof where - strlen(where),
                     ", customer_log in %ld partitions", parts);
        fprintf(stderr, "offerq db: schema ready%s\n", where);
        return 0;
    }
    if (!strcmp(verb, "load")) {
        if (nargs != 1)
            return cli_usage_error("db", table >= 0 ? "load --table expects exactly one FILE"
                                                    : "load expects exactly one LOG.csv");
        oq_db_load_info li;
        double t = oq_now();
        if (table >= 0 ? oq_db_load_table(url, (oq_db_table)table, argv[optind], &map, &li, &err)
                       : oq_db_load_log(url, argv[optind], &li, &err))
            return cli_fail(&err, strstr(err.msg, "were committed: load the file again")
                                      ? "the servers before it have the rows; load again"
                                      : "nothing was loaded; fix the line above and run again");
        char into[48] = ""; /* a shard list: how many servers took the rows */
        if (shards > 1 && table != OQ_DB_OFFERS)
            snprintf(into, sizeof into, " into %d servers", shards);
        fprintf(stderr,
                "offerq db: loaded %zu rows from %s%s%s%s in %.2fs: %zu new, %zu changed, "
                "%zu already there\n",
                li.rows, argv[optind], table >= 0 ? " into " : "",
                table >= 0 ? oq_db_table_name((oq_db_table)table) : "", into, oq_now() - t,
                li.inserted, li.updated, li.unchanged);
        return 0;
    }
    if (!strcmp(verb, "dump")) {
        if (nargs || !out) return cli_usage_error("db", "dump expects --out FILE and no arguments");
        if (table >= 0) {
            size_t n = 0;
            if (oq_db_export_table(url, (oq_db_table)table, NULL, 0, out, &n, &err))
                return cli_fail(&err, NULL);
            fprintf(stderr, "offerq db: wrote %zu rows of %s to %s\n", n,
                    oq_db_table_name((oq_db_table)table), out);
            return 0;
        }
        oq_log *l = NULL;
        if (oq_db_read_log(url, &l, &err)) return cli_fail(&err, NULL);
        int rc = dump_log(l, out, &err);
        size_t n = l->n;
        oq_log_free(l);
        if (rc) return cli_fail(&err, NULL);
        fprintf(stderr, "offerq db: wrote %zu rows to %s\n", n, out);
        return 0;
    }
    if (!strcmp(verb, "save-run")) {
        if (nargs != 1) return cli_usage_error("db", "save-run expects exactly one DIR");
        if (save_run(url, argv[optind], &err)) return cli_fail(&err, "nothing was saved");
        return 0;
    }
    if (!strcmp(verb, "status")) {
        if (nargs) return cli_usage_error("db", "status takes no arguments");
        int64_t a, b, k;
        if (oq_db_counts(url, &a, &b, &k, &err)) return cli_fail(&err, NULL);
        printf("customer_log     %lld\nruns             %lld\nrecommendations  %lld\n",
               (long long)a, (long long)b, (long long)k);
        for (int t = 0; t < OQ_DB_NTABLES; t++) {
            int64_t v;
            if (oq_db_table_rows(url, (oq_db_table)t, &v, &err)) return cli_fail(&err, NULL);
            printf("%-16s %lld\n", oq_db_table_name((oq_db_table)t), (long long)v);
        }
        return 0;
    }
    return cli_usage_error("db", "unknown verb '%s'", verb);
}
