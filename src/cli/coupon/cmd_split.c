/* cmd_split.c - `offerq split`: a log and its sidecars in N parts by hash
 * shard of user_id, so that each rank of `mpirun -np N offerq run --parts`
 * reads only its own customers' rows (docs/readme/mpi.md). */
#include "cli/cli.h"
#include "offerq/core/comm.h"
#include "offerq/core/csv.h"
#include "offerq/core/io.h"

#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void help(FILE *fp)
{
    fprintf(fp,
            "Usage: offerq split --log LOG.csv --parts N [--orders F] [--events F]\n\n"
            "Writes the customers of hash shard k of N (the split of `run --shards N` and of\n"
            "`mpirun -np N offerq run`) into STEM.part-K-of-N.csv, next to LOG, for k = 0..N-1,\n"
            "and the purchases and browsing events the same way into\n"
            "STEM.part-K-of-N.orders.csv and STEM.part-K-of-N.events.csv (from --orders and\n"
            "--events, else the log's sidecars when they exist). Each part keeps the file's\n"
            "header and its rows in the file's order. Then\n"
            "  mpirun -np N offerq run --log LOG.csv --parts ...\n"
            "has each rank read only its part (its sidecars are the part's own) and writes\n"
            "the same recommendations.csv and qtable.ofq as `offerq run --log LOG.csv\n"
            "--shards N`.\n\n"
            "Every line's user_id is checked (an integer, as the readers take it); a bad one\n"
            "stops the split, named by file, line and column, and no part is written. Each\n"
            "part file is written whole (a temporary renamed into place), and all of them\n"
            "only once every line is read; a split killed while renaming them can leave\n"
            "some parts of the new split beside some of an older one: split again (`run\n"
            "--parts` refuses a part older than its log). Parts of a sidecar the log no\n"
            "longer has are removed.\n\n"
            "Options:\n"
            "  --log FILE     the log (offerq gen's format, or any CSV with a user_id column)\n"
            "  --parts N      number of parts (1..%d), the number of MPI ranks\n"
            "  --orders FILE  purchases to split too (default: LOG's .orders.csv sidecar)\n"
            "  --events FILE  browsing events to split too (default: LOG's .events.csv)\n"
            "  --quiet        no summary on stderr\n\n"
            "Example:\n"
            "  offerq gen --customers 2000 --quiet --out example/small.csv\n"
            "  offerq split --log example/small.csv --parts 2\n"
            "  mpirun -np 2 offerq run --log example/small.csv --parts --out-dir example/run2\n",
            OQ_COMM_MAX);
}

typedef struct split_ctx {
    const char *name;
    int n, user_col;
    oq_afile *out; /* n files */
    size_t *rows;  /* per part */
} split_ctx;

static void write_record(FILE *fp, char **fields, size_t nf)
{
    for (size_t i = 0; i < nf; i++) {
        if (i) fputc(',', fp);
        oq_csv_write_field(fp, fields[i]);
    }
    fputc('\n', fp);
}

static int split_row(void *vc, char **fields, const size_t *lens, size_t nf, long line,
                     oq_error *err)
{
    split_ctx *c = vc;
    if (c->user_col < 0) { /* the header: find user_id, copy it to every part */
        for (size_t i = 0; i < nf && c->user_col < 0; i++)
            if (!strcmp(fields[i], "user_id")) c->user_col = (int)i;
        if (c->user_col < 0)
            return oq_error_set(err, OQ_EPARSE, c->name, line, 1,
                                "the header has no user_id column (the column parts are split "
                                "by)");
        for (int k = 0; k < c->n; k++)
            write_record(c->out[k].fp, fields, nf);
        return 0;
    }
    if ((size_t)c->user_col >= nf)
        return oq_error_set(err, OQ_EPARSE, c->name, line, (long)nf + 1,
                            "the line ends before its user_id (column %d)", c->user_col + 1);
    const char *f = fields[c->user_col];
    char *end;
    errno = 0;
    long long u = strtoll(f, &end, 10);
    if (lens[c->user_col] == 0 || *end || errno)
        return oq_error_set(err, OQ_EPARSE, c->name, line, c->user_col + 1,
                            "user_id: expected an integer, got '%.40s'", f);
    int k = (int)oq_shard_of((int64_t)u, c->n);
    write_record(c->out[k].fp, fields, nf);
    c->rows[k]++;
    return 0;
}

/* One file in n parts, into out[0..n) (opened here; the caller commits or
 * aborts them all, so that a bad line in a later file leaves no part new). */
static int split_file(const char *path, const char *log, const char *suffix, int n, int quiet,
                      oq_afile *out, int *opened, oq_error *err)
{
    size_t *rows = calloc((size_t)n, sizeof *rows);
    if (!rows) return oq_error_oom(err, path, NULL);
    int rc = 0;
    for (int k = 0; k < n && !rc; k++) {
        char part[4200], p[4300];
        if (cli_part_path(log, k, n, part, sizeof part) ||
            oq_sidecar_path(part, suffix, p, sizeof p))
            rc = oq_error_set(err, OQ_EINVAL, log, 0, 0, "path too long");
        else if (!(rc = oq_afile_open(&out[k], p, err)))
            (*opened)++;
    }
    split_ctx c = {.name = path, .n = n, .user_col = -1, .out = out, .rows = rows};
    if (!rc) rc = oq_csv_read(path, NULL, split_row, &c, err);
    if (!rc && !quiet) {
        size_t total = 0, lo = (size_t)-1, hi = 0;
        for (int k = 0; k < n; k++) {
            total += rows[k];
            lo = rows[k] < lo ? rows[k] : lo;
            hi = rows[k] > hi ? rows[k] : hi;
        }
        fprintf(stderr, "offerq split: %s: %zu rows in %d parts (%zu to %zu a part)\n", path, total,
                n, lo, hi);
    }
    free(rows);
    return rc;
}

int cmd_split(int argc, char **argv)
{
    enum { O_LOG = 256, O_PARTS, O_ORDERS, O_EVENTS, O_QUIET };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"log", required_argument, 0, O_LOG},
                                         {"parts", required_argument, 0, O_PARTS},
                                         {"orders", required_argument, 0, O_ORDERS},
                                         {"events", required_argument, 0, O_EVENTS},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {0, 0, 0, 0}};
    const char *log = NULL, *orders = NULL, *events = NULL;
    int c, quiet = 0;
    long parts = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_LOG:
            log = optarg;
            break;
        case O_PARTS:
            if (cli_long("split", "--parts", optarg, 1, OQ_COMM_MAX, &parts)) return 2;
            break;
        case O_ORDERS:
            orders = optarg;
            break;
        case O_EVENTS:
            events = optarg;
            break;
        case O_QUIET:
            quiet = 1;
            break;
        default:
            return cli_bad_option("split");
        }
    }
    if (optind != argc) return cli_usage_error("split", "unexpected argument '%s'", argv[optind]);
    if (!log || !parts) return cli_usage_error("split", "--log and --parts are required");
    char so[4200], se[4200];
    orders = cli_sidecar_or(orders, log, ".orders.csv", so, sizeof so);
    events = cli_sidecar_or(events, log, ".events.csv", se, sizeof se);
    oq_error err = {0};
    const char *src[3] = {log, orders, events}, *suffix[3] = {".csv", ".orders.csv", ".events.csv"};
    int n = (int)parts, opened = 0, rc = 0;
    oq_afile *out = calloc((size_t)3 * (size_t)n, sizeof *out);
    if (!out) {
        oq_error_oom(&err, log, NULL);
        return cli_fail(&err, NULL);
    }
    for (int f = 0; f < 3 && !rc; f++) {
        int got = 0;
        if (src[f]) rc = split_file(src[f], log, suffix[f], n, quiet, out + opened, &got, &err);
        opened += got;
    }
    /* every part written: now they all go into place; else none does */
    int committed = 0;
    for (int k = 0; k < opened; k++) {
        if (rc) {
            oq_afile_abort(&out[k]);
        } else {
            rc = oq_afile_commit(&out[k], &err);
            committed += !rc;
        }
    }
    for (int k = 0; rc && k < opened; k++)
        oq_afile_abort(&out[k]); /* those after a failed commit (safe twice) */
    free(out);
    if (rc)
        return cli_fail(&err, committed ? "the split is incomplete (some parts were renamed into "
                                          "place, others not): split again"
                                        : "no part was written");
    /* a sidecar this log no longer has: an older split's parts of it go, or
     * `run --parts` would read them as this log's */
    for (int f = 1; f < 3; f++)
        for (int k = 0; !src[f] && k < n; k++) {
            char part[4200], p[4300];
            if (!cli_part_path(log, k, n, part, sizeof part) &&
                !oq_sidecar_path(part, suffix[f], p, sizeof p) && unlink(p) == 0 && !quiet)
                fprintf(stderr, "offerq split: removed %s (an older split's; %s has no %s)\n", p,
                        log, f == 1 ? "purchases" : "events");
        }
    return 0;
}
