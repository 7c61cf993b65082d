/* tables.h - a shop's own tables, read as real exports come (issue 17):
 *
 *   offers     offer,redeem_cost,contact_cost          the catalogue, any names
 *   contacts   user_id,[date,]offer,ordered,value[,propensity]
 *                                                      one row per contact shown
 *   customers  user_id + any attribute columns         numeric, or text (categorical)
 *
 * Columns may come in any order and other columns are ignored (contacts,
 * offers) or become attributes (customers). Header names can be remapped
 * (oq_table_map: a real export never uses our names). Files may have a
 * UTF-8 byte-order mark, CRLF line ends, RFC 4180 quoted fields and no
 * newline after the last line: unlike offerq's own files (csv.h), where a
 * missing final newline is refused as a file cut off mid-write, a user's
 * export is accepted as it is.
 *
 * Cells:
 *   user_id      any non-empty UTF-8 text without control characters, at
 *                most 256 bytes ("6001", "C-17", ...); compared as text
 *   date         YYYY-MM-DD (optional column; needed for the features of
 *                orders and events, rawfeat.h)
 *   offer        a name from the offers file
 *   ordered      0 or 1, or a count of orders (an integer >= 0; > 0 means
 *                an order in the response window)
 *   value        a finite number: the gross profit of the contact's orders
 *                (0 when none)
 *   propensity   the probability in (0, 1] the logging policy had of
 *                showing this offer
 *   costs        finite numbers >= 0
 *   attributes   numbers; a column with any other non-missing cell is text,
 *                a categorical feature. Missing: "", NA, N/A, NaN, null
 *                (any case).
 * A bad cell stops the read with OQ_EPARSE naming file:line:column and what
 * was expected. Ownership: every oq_x_read returns a table the caller frees
 * with the NULL-safe oq_x_free.
 */
#ifndef OFFERQ_TABLES_H
#define OFFERQ_TABLES_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

#define OQ_TABLES_MAX_OFFERS 64
#define OQ_TABLES_MAX_ATTRS 1024
#define OQ_TABLES_MAX_LEVELS 100000 /* distinct values of one text attribute */
#define OQ_TABLES_MAX_ID 256        /* bytes of a user id or offer name */

/* Header names of the standard columns in the user's files; NULL keeps our
 * name. ignore: NULL or a comma-separated list of customers-file columns
 * that are not attributes (e.g. an outcome column). In a customers file the
 * columns of the contacts (date, offer, ordered, value, propensity, under
 * their mapped names) are never attributes either: a randomised test's
 * export of one row per customer can then serve as both files. */
typedef struct oq_table_map {
    const char *user_id, *date, *offer, *ordered, *value, *propensity;
    const char *ignore;
} oq_table_map;

/* Parse "user_id=id,offer=test_coupon,..." into map (names point into spec,
 * which must outlive map). OQ_EINVAL naming the bad item. */
int oq_table_map_parse(char *spec, oq_table_map *map, oq_error *err) OQ_WUR;

typedef struct oq_offers {
    size_t n;
    char **name;          /* (n) */
    double *redeem_cost;  /* (n) cost when the offer is redeemed (an order) */
    double *contact_cost; /* (n) cost of showing it */
} oq_offers;

/* At least 2 offers, at most OQ_TABLES_MAX_OFFERS, names unique. */
int oq_offers_read(const char *path, oq_offers **out, oq_error *err) OQ_WUR;
/* Index of the offer named s[0..len), or -1. */
int oq_offers_find(const oq_offers *o, const char *s, size_t len);
void oq_offers_free(oq_offers *o);

typedef struct oq_contacts {
    size_t n;
    char **user;        /* (n) */
    long *line;         /* (n) line of the row in the file (for messages) */
    int32_t *date;      /* (n) days since 1970-01-01; NULL without a date column */
    int *offer;         /* (n) index into the offers */
    uint8_t *ordered;   /* (n) 0/1 */
    double *value;      /* (n) */
    double *propensity; /* (n); NULL without a propensity column */
    char path[512];     /* the file, for messages */
    int user_col;       /* 1-based column of user_id, for messages */
    /* NULL, or (n) the row of each contact in the customers table the model
     * reads (rawfeat.h: one row per contact, features as of its date); the
     * readers leave it NULL, the customers are then found by user id */
    size_t *xrow;
} oq_contacts;

/* offers: the catalogue the offer names must come from (borrowed). map may
 * be NULL. At least one row. */
int oq_contacts_read(const char *path, const oq_table_map *map, const oq_offers *offers,
                     oq_contacts **out, oq_error *err) OQ_WUR;
void oq_contacts_free(oq_contacts *c);

typedef struct oq_customers {
    size_t n, nattr;
    char **user;          /* (n) */
    char **attr;          /* (nattr) attribute column names */
    int *is_text;         /* (nattr) 1: categorical */
    size_t *nlevels;      /* (nattr) distinct values of a text attribute (0 for numbers) */
    char ***levels;       /* (nattr) sorted values of a text attribute (NULL for numbers) */
    double *x;            /* (n, nattr) the number, or a text value's index into levels;
                             NAN when missing (or, in a file read like another, a text
                             value that file never had) */
    struct oq_idmap *ids; /* user -> row */
} oq_customers;

/* At least one row; user ids unique. */
int oq_customers_read(const char *path, const oq_table_map *map, oq_customers **out,
                      oq_error *err) OQ_WUR;
/* Read a second customers file (e.g. the next campaign's) with ref's
 * attributes, typed and coded as in ref: every attribute of ref must be a
 * column; a numeric attribute must hold numbers (else file:line:col); other
 * columns are ignored. */
int oq_customers_read_like(const char *path, const oq_table_map *map, const oq_customers *ref,
                           oq_customers **out, oq_error *err) OQ_WUR;
/* A new table of n rows: row i is base's row rows[i] (its user id and
 * attributes) followed by nextra more attributes, named name[k], text
 * (is_text[k], coded as indices into levels[k][0..nlevels[k])) or numbers,
 * with values xextra (n, nextra). Everything is copied. index_ids: 1 builds
 * the id index (user ids must then be unique: OQ_EINVAL otherwise); 0 leaves
 * it out (a row per contact: ids repeat, oq_customers_find answers -1). A
 * name that is already an attribute of base is OQ_EINVAL. */
int oq_customers_extend(const oq_customers *base, const size_t *rows, size_t n, size_t nextra,
                        const char *const *name, const int *is_text, const size_t *nlevels,
                        char *const *const *levels, const double *xextra, int index_ids,
                        oq_customers **out, oq_error *err) OQ_WUR;
/* Row of user id s, or -1. */
long oq_customers_find(const oq_customers *c, const char *s);
void oq_customers_free(oq_customers *c);

/* Orders (user_id,date,value[,category]: every purchase) or events
 * (user_id,date,category: the browsing stream), read as the tables above
 * (exports as they come, any column order, other columns ignored, user_id
 * and date remapped by oq_table_map). Cells: user_id as above; date
 * YYYY-MM-DD; value a finite number (orders); category any non-empty UTF-8
 * text of at most 256 bytes (missing: the cell is empty or NA etc.; an
 * events file needs the column, an orders file may lack it). Zero rows are
 * allowed (a header alone). Ownership: oq_txtab_free (NULL-safe). */
typedef struct oq_txtab {
    size_t n;
    char **user;   /* (n) */
    long *line;    /* (n) line of the row (for messages) */
    int32_t *date; /* (n) days since 1970-01-01 */
    double *value; /* (n); NULL in an events table */
    char **cat;    /* (n) the category, NULL when missing; cat itself NULL
                      without a category column */
    char path[512];
} oq_txtab;

int oq_orders_table_read(const char *path, const oq_table_map *map, oq_txtab **out,
                         oq_error *err) OQ_WUR;
int oq_events_table_read(const char *path, const oq_table_map *map, oq_txtab **out,
                         oq_error *err) OQ_WUR;
void oq_txtab_free(oq_txtab *t);

/* A 64-bit hash of a user id mixed with seed (FNV-1a, then splitmix64):
 * the customer-level split of cross-fitting and hold-out tests. */
uint64_t oq_user_hash(const char *s, uint64_t seed);

#endif
