/* profit_io.c - see profit_io.h. */
#include "cli/coupon/profit_io.h"
#include "cli/cli.h"
#include "offerq/core/io.h"

#include <stdio.h>
#include <string.h>

int profit_input_open(profit_input *in, const char *log_path, const char *events_path, int quiet)
{
    memset(in, 0, sizeof *in);
    oq_error err = {0};
    if (oq_log_read(log_path, &in->log, &err)) return cli_fail(&err, "fix the log and run again");
    if (oq_log_index_build(in->log, &in->ix, &err)) {
        profit_input_close(in);
        return cli_fail(&err, NULL);
    }
    if (events_path) {
        snprintf(in->ev_path, sizeof in->ev_path, "%s", events_path);
    } else if (oq_sidecar_path(log_path, ".events.csv", in->ev_path, sizeof in->ev_path) ||
               !oq_file_exists(in->ev_path)) {
        in->ev_path[0] = 0;
    }
    if (in->ev_path[0]) {
        if (oq_events_read(in->ev_path, &in->log->cats, &in->ev, &err)) {
            profit_input_close(in);
            return cli_fail(&err, "fix the events file, or pass another with --events");
        }
        if (!quiet)
            fprintf(stderr, "offerq: category stream from %s (%zu events)\n", in->ev_path,
                    in->ev->n);
    } else if (!quiet) {
        fprintf(stderr,
                "offerq: no events file (%s): the category history falls back to the "
                "customers' earlier log rows\n",
                events_path ? events_path : "<stem>.events.csv not found");
    }
    return 0;
}

void profit_input_close(profit_input *in)
{
    oq_events_free(in->ev);
    oq_log_index_free(in->ix);
    oq_log_free(in->log);
    memset(in, 0, sizeof *in);
}
