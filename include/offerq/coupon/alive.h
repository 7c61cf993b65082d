/* alive.h - the job's survival model: BG/NBD P(alive) of a customer on a day.
 *
 * P(alive) of customer u on day d is the BG/NBD posterior (bgnbd.h) from u's
 * purchases strictly before d: x = distinct purchase days - 1, t_x = last -
 * first, T = d - first (days); 1 when u has no purchase before d. The model is
 * fitted once on every customer's purchases up to the last log day. Purchases
 * come from orders_path, else the log's `<stem>.orders.csv` sidecar when it
 * exists (the shop's full order stream), else the log's own order rows
 * (order_placed = 1).
 */
#ifndef OFFERQ_ALIVE_H
#define OFFERQ_ALIVE_H

#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"
#include "offerq/coupon/bgnbd.h"

typedef struct oq_alive oq_alive;

struct oq_comm;

typedef struct oq_alive_opts {
    const char *log_path;    /* for the sidecar rule; may be NULL */
    const char *orders_path; /* explicit purchases file; NULL: sidecar or log rows */
    int quiet;               /* 0: one line on stderr with the fit */
    /* A partitioned job (comm.h): log is this part's, the purchases file is
     * read for this part's customers, and the fit sums the likelihood over
     * the parts (oq_bgnbd_data_new_part). NULL: one part. */
    struct oq_comm *comm;
    int has_last_day; /* 1: calibrate up to last_day (the whole log's last day, which */
    int32_t last_day; /* a part's rows may not reach) instead of oq_log_last_day(log) */
} oq_alive_opts;

/* The purchases of a file for BG/NBD. A file whose header has a column named
 * value is an orders file (user_id,date,value, gross.h) and is read whole by
 * oq_orders_read: a bad row (a value cut off, nan, abc, -50, a missing
 * column, no final newline) is OQ_EPARSE naming file, line and column, as
 * the order values feed the gross-profit model too. Any other file is a
 * transactions file (oq_bgnbd_tx_read, id in field 1, the date found).
 * *out: oq_bgnbd_tx_free. */
int oq_alive_tx_read(const char *path, oq_bgnbd_tx **out, oq_error *err) OQ_WUR;

/* Fit on the purchases up to the log's last day. *out: oq_alive_free. */
int oq_alive_fit(const oq_log *log, const oq_alive_opts *o, oq_alive **out, oq_error *err) OQ_WUR;
void oq_alive_free(oq_alive *a);

/* P(alive) of customer u on day d (1 without an earlier purchase). */
double oq_alive_p(const oq_alive *a, int64_t u, int32_t d);
/* (x, t_x, T) in days of customer u just before day d; returns 0 if u has no
 * purchase before d. */
int oq_alive_rft(const oq_alive *a, int64_t u, int32_t d, double *x, double *tx, double *T);

/* The fit (estimates per day). */
const oq_bgnbd_fit_report *oq_alive_bgnbd(const oq_alive *a);
/* Where the purchases came from: the file's path, or "the log's order rows". */
const char *oq_alive_source(const oq_alive *a);
/* 1 when the purchases came from a file (its rows may carry order values). */
int oq_alive_from_file(const oq_alive *a);
/* NULL, or why the fit's P(alive) is not to be trusted (a boundary, no
 * convergence) and what to do; also printed on stderr by oq_alive_fit. */
const char *oq_alive_warning(const oq_alive *a);
/* The purchases file's rows with their values, as read for the fit (owned by
 * a); NULL when the file has no value column or the purchases came from the
 * log. The gross-profit model uses them rather than reading the file again. */
const struct oq_orders *oq_alive_orders(const oq_alive *a);

#endif
