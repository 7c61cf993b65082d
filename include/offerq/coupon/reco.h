/* reco.h - the daily recommendation list: one coupon per customer.
 *
 * This is the meeting point of the nightly job (`offerq run`, issue 5, which
 * writes DIR/recommendations.csv) and the production path (issue 6: stored in
 * PostgreSQL, published to Redis, served over HTTP). File format, one row per
 * customer, header required, columns in any order:
 *
 *   user_id,snapshot_date,state,coupon,expected_profit,p_alive
 *
 *   user_id          integer, unique in the file
 *   snapshot_date    YYYY-MM-DD, the day the list is for
 *   state            opaque label of the discretised state (< 64 bytes)
 *   coupon           none, 5, 10, 20 (0 is accepted for none)
 *   expected_profit  finite number (net of the coupon)
 *   p_alive          number in [0, 1]
 *
 * and optionally (offerq run writes them) the expected profit of every coupon
 * for that customer, from which the extra profit of the chosen coupon over
 * sending none follows:
 *
 *   expected_profit_none,expected_profit_5,expected_profit_10,expected_profit_20
 *
 * (finite numbers; a list without them reads them as NAN).
 * Rows are kept sorted by user_id so a lookup is a binary search.
 */
#ifndef OFFERQ_RECO_H
#define OFFERQ_RECO_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

#define OQ_RECO_HEADER "user_id,snapshot_date,state,coupon,expected_profit,p_alive"
/* The optional columns, as offerq run appends them. */
#define OQ_RECO_HEADER_VALUES                                                                      \
    ",expected_profit_none,expected_profit_5,expected_profit_10,expected_profit_20"
#define OQ_RECO_STATE_MAX 64 /* bytes with the NUL */
#define OQ_RECO_FILE "recommendations.csv"

typedef struct oq_reco_row {
    int64_t user_id;
    int32_t day;    /* snapshot_date, days since 1970-01-01 */
    uint8_t coupon; /* OQ_COUPON_* index (data.h) */
    double expected_profit;
    double p_alive;                /* [0, 1] */
    char state[OQ_RECO_STATE_MAX]; /* NUL-terminated */
    double value[4]; /* expected profit of none, 5, 10, 20; NAN when the list has none */
} oq_reco_row;

typedef struct oq_reco {
    size_t n, cap;
    oq_reco_row *rows; /* (n) sorted by user_id once read or after oq_reco_sort */
} oq_reco;

/* Expected profit of the chosen coupon over sending none (NAN if unknown). */
double oq_reco_row_extra(const oq_reco_row *w);
/* 1 when the list carries every coupon's expected profit (its first row has them). */
int oq_reco_has_values(const oq_reco *r);

/* Empty list (oq_reco_free). NULL if out of memory. */
oq_reco *oq_reco_new(void);
void oq_reco_free(oq_reco *r);

/* Append a copy of row (state is truncated to OQ_RECO_STATE_MAX - 1 bytes by
 * the caller's own choice: longer is OQ_EINVAL). OQ_ENOMEM on failure. */
int oq_reco_push(oq_reco *r, const oq_reco_row *row, oq_error *err) OQ_WUR;

/* Sort by user_id; OQ_EINVAL (err names the user) if a user appears twice. */
int oq_reco_sort(oq_reco *r, oq_error *err) OQ_WUR;

/* Read a recommendations CSV (format above), validated field by field; the
 * first bad field stops the read with OQ_EPARSE and file:line:column. A
 * duplicate user_id is OQ_EPARSE naming both lines. *out is the caller's
 * (oq_reco_free), NULL on error. */
int oq_reco_read(const char *path, oq_reco **out, oq_error *err) OQ_WUR;
int oq_reco_read_mem(const char *name, const char *data, size_t len, oq_reco **out,
                     oq_error *err) OQ_WUR;

/* Write r to path atomically (oq_afile), header first, rows in r's order,
 * numbers with 17 significant digits. */
int oq_reco_write(const char *path, const oq_reco *r, oq_error *err) OQ_WUR;

/* Row of user u, or NULL (binary search; r must be sorted). */
const oq_reco_row *oq_reco_find(const oq_reco *r, int64_t u);

#endif
