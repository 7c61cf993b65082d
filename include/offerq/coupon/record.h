/* record.h - tomorrow's log (issue 17 item 3): a run's recommendations and
 * what the customers then did, as contact rows that keep the propensity.
 *
 * `offerq run --contacts ... --explore E` writes DIR/recommendations.csv
 * (user_id,offer,expected_profit,propensity,...: uplift.h), one row per
 * customer, with the probability the policy had of showing the offer it
 * shows. Once the offers went out on day D and the orders of the response
 * window came in, each recommended customer becomes one contact
 *
 *   user_id,date,offer,ordered,value,propensity
 *
 * (tables.h's contacts): date = D, ordered = 1 when the customer has an
 * order dated in [D, D + window) (window in days, 1: the day of the contact
 * itself, the seed log's rule: a log row's order_placed is that day's
 * order), value = the sum of those orders' values (0 when none; the orders
 * file's value, so give it the gross profit of an order when the contacts'
 * value is to be the gross profit), propensity = the run's, as written.
 * Customers whose offer is the control (e.g. "none") are contacts too: they
 * are the control group. The file then feeds `offerq eval --contacts`
 * (IPS, SNIPS and DR with the logged propensities) and the next run.
 *
 * Ownership: oq_record_read returns a table the caller frees with the
 * NULL-safe oq_record_free. Errors: OQ_EPARSE naming file:line:column, OQ_EIO,
 * OQ_ENOMEM, OQ_EINVAL as said per function.
 */
#ifndef OFFERQ_RECORD_H
#define OFFERQ_RECORD_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"
#include "offerq/core/tables.h"

#define OQ_RECORD_MAX_WINDOW 3650 /* days */

typedef struct oq_record {
    size_t n;
    char **user;          /* (n) */
    char **offer;         /* (n) the offer's name as the run wrote it */
    char **propensity;    /* (n) the run's propensity cell, verbatim (checked in (0, 1]) */
    long *line;           /* (n) line of the row in the recommendations file */
    uint8_t *ordered;     /* (n) 0/1, after oq_record_outcomes */
    double *value;        /* (n) summed order value, after oq_record_outcomes */
    int32_t date;         /* day of the contacts (days since 1970-01-01) */
    int window;           /* days */
    size_t orders_used;   /* orders of a recommended customer in the window */
    size_t orders_else;   /* other orders: outside the window or of another customer */
    int32_t orders_last;  /* latest order date of the orders table; INT32_MIN: none */
    char path[512];       /* the recommendations file, for messages */
    struct rec_index *ix; /* user -> row */
} oq_record;

/* Read a run's recommendations (user_id, offer and propensity columns;
 * others ignored; the same reader quirks as tables.h). One row per
 * customer: a user id twice is OQ_EPARSE naming both lines. No propensity
 * column: OQ_EINVAL saying the run must come from `offerq run --contacts`
 * or `offerq uplift` (their --explore). A propensity outside (0, 1] or not
 * a number: OQ_EPARSE at its cell. At least one row. */
int oq_record_read(const char *path, oq_record **out, oq_error *err) OQ_WUR;

/* Keep only the customers of the file at path (a CSV with a user_id column,
 * other columns ignored; map may be NULL): those actually reached. A user
 * not in r is OQ_EPARSE at its cell (a customer the run did not recommend
 * for cannot carry its propensity); a user twice is fine. */
int oq_record_keep(oq_record *r, const char *path, const oq_table_map *map, oq_error *err) OQ_WUR;

/* Fill ordered and value from orders (tables.h: user_id,date,value), for
 * contacts on day date with a response window of window days (1 ..
 * OQ_RECORD_MAX_WINDOW, else OQ_EINVAL). Orders of customers not in r are
 * ignored (counted in orders_else). */
int oq_record_outcomes(oq_record *r, const oq_txtab *orders, int32_t date, int window,
                       oq_error *err) OQ_WUR;

/* Write the contacts, header user_id,date,offer,ordered,value,propensity,
 * to path whole or not at all (io.h's oq_afile). */
int oq_record_write(const oq_record *r, const char *path, oq_error *err) OQ_WUR;

/* Append the contacts to the contacts file at path, atomically: its bytes,
 * then the new rows, into a temporary file that is fsync'ed and renamed over
 * path (a crash or an error leaves path as it was; the file keeps its
 * permission bits). The file's header must
 * be user_id,date,offer,ordered,value,propensity (OQ_EPARSE otherwise); a
 * row of the file for a customer of r on r's date is OQ_EPARSE naming
 * file:line and the recommendations' line (recording a day twice). A file
 * that does not exist is OQ_EIO (use oq_record_write). */
int oq_record_append(const oq_record *r, const char *path, oq_error *err) OQ_WUR;
/* The checks of oq_record_append alone (the header, no day recorded twice),
 * nothing written: a caller that writes elsewhere first checks here. */
int oq_record_check_append(const oq_record *r, const char *path, oq_error *err) OQ_WUR;

void oq_record_free(oq_record *r);

#endif
