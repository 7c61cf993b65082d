/* cmd_summary.c - `offerq summary LOG`: validate a log and print its stats. */
#include "cli/cli.h"
#include "offerq/core/data.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq summary LOG.csv\n\n"
                "Reads and validates a customer log (see README, \"Data\"), then prints rows,\n"
                "customers, date span, order rate, net reward by coupon and per category.\n"
                "A bad field stops the read with file:line:column and what was expected.\n\n"
                "Example:\n  offerq summary example/log.csv\n");
}

int cmd_summary(int argc, char **argv)
{
    static const struct option opts[] = {{"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        if (c == 'h') {
            help(stdout);
            return 0;
        }
        return cli_bad_option("summary");
    }
    if (optind != argc - 1) return cli_usage_error("summary", "expects exactly one LOG file");
    const char *path = argv[optind];
    oq_error err = {0};
    oq_log *log = NULL;
    if (oq_log_read(path, &log, &err)) return cli_fail(&err, "fix the line above and run again");
    int rc = oq_log_print_summary(log, path, stdout, &err);
    oq_log_free(log);
    return rc ? cli_fail(&err, NULL) : 0;
}
