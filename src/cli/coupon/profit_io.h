/* profit_io.h - loading a log, its index and its events stream for the
 * profit commands (`offerq train`, `offerq predict`). */
#ifndef OQ_CLI_PROFIT_IO_H
#define OQ_CLI_PROFIT_IO_H

#include "offerq/core/data.h"

typedef struct profit_input {
    oq_log *log;
    oq_log_index *ix;
    oq_events *ev; /* NULL when there is no events stream */
    char ev_path[4096];
} profit_input;

/* Read log_path, index it and read the events stream: events_path if not
 * NULL, else the sidecar <stem>.events.csv when it exists, else none (the
 * history falls back to the customer's earlier log rows). Prints a note on
 * stderr about which stream is used unless quiet. Returns 0 or an exit code
 * (error already printed). */
int profit_input_open(profit_input *in, const char *log_path, const char *events_path, int quiet);
void profit_input_close(profit_input *in);

#endif
