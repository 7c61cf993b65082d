/* data.h - the customer log, the events stream and the category dictionary.
 *
 * The customer log (README, "Data") is read into a columnar table: one array
 * per column, categories interned to small ints, dates as days since
 * 1970-01-01. Reading streams the file (it is never held whole in memory):
 * a 10M-row log takes about 48 bytes a row.
 *
 * Validation: every field is checked; the first bad one stops the read with
 * OQ_EPARSE and an oq_error naming file, line, column and what was expected.
 * Columns may come in any order; missing or unknown columns are errors.
 */
#ifndef OFFERQ_DATA_H
#define OFFERQ_DATA_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

/* ---- dates --------------------------------------------------------------- */

/* Parse "YYYY-MM-DD" (exactly that form, a real calendar day, years
 * 1900..2999) into days since 1970-01-01. Returns 0 or -1. */
int oq_date_parse(const char *s, size_t len, int32_t *days);
/* Format days as "YYYY-MM-DD" into out (11 bytes with the NUL). */
void oq_date_format(int32_t days, char out[11]);

/* ---- coupons ------------------------------------------------------------- */

enum { OQ_COUPON_NONE = 0, OQ_COUPON_5 = 1, OQ_COUPON_10 = 2, OQ_COUPON_20 = 3, OQ_N_COUPONS = 4 };
/* Face value of coupon index i: 0, 5, 10, 20. */
static inline double oq_coupon_value(int i)
{
    static const double v[OQ_N_COUPONS] = {0, 5, 10, 20};
    return v[i];
}
/* Log spelling of coupon index i: "none", "5", "10", "20". */
const char *oq_coupon_name(int i);
/* Parse a coupon spelling; returns the index or -1. */
int oq_coupon_parse(const char *s);

/* ---- category dictionary -------------------------------------------------- */

#define OQ_MAX_CATEGORIES 65535

typedef struct oq_dict {
    char **names; /* (n) owned strings */
    uint32_t n, cap;
    uint32_t *slots; /* open-addressing table of id+1, 0 = empty */
    uint32_t nslots;
} oq_dict;

/* Intern s[0..len) and return its id in *id; OQ_ELIMIT past
 * OQ_MAX_CATEGORIES, OQ_ENOMEM on allocation failure. */
int oq_dict_intern(oq_dict *d, const char *s, size_t len, uint32_t *id) OQ_WUR;
/* Id of s, or -1. */
long oq_dict_find(const oq_dict *d, const char *s);
/* Frees the contents (not d itself); d is left empty and reusable. */
void oq_dict_clear(oq_dict *d);
/* Sort the names with ids >= from by strcmp, so that ids follow the names,
 * not the order they were met in; remap (d->n) receives every old id's new
 * one (identity below from). OQ_ENOMEM leaves d as it was. */
int oq_dict_sort_from(oq_dict *d, uint32_t from, uint32_t *remap) OQ_WUR;

/* ---- the customer log ----------------------------------------------------- */

#define OQ_LOG_HEADER                                                                              \
    "user_id,snapshot_date,days_since_last_purchase,purchases_last_30d,avg_order_value,"           \
    "category,remaining_budget_pct,coupon_offered,order_placed,order_profit"

typedef struct oq_log {
    size_t n; /* rows */
    size_t cap;
    int64_t *user_id;       /* (n) */
    int32_t *day;           /* (n) snapshot_date, days since epoch */
    int32_t *days_since;    /* (n) days_since_last_purchase >= 0 */
    int32_t *purchases_30d; /* (n) purchases_last_30d >= 0 */
    double *aov;            /* (n) avg_order_value >= 0 */
    uint16_t *category;     /* (n) id in cats */
    float *budget;          /* (n) remaining_budget_pct in [0,1] */
    uint8_t *coupon;        /* (n) OQ_COUPON_* index */
    uint8_t *order;         /* (n) order_placed 0/1 */
    double *profit;         /* (n) order_profit (gross, before the coupon) */
    oq_dict cats;           /* category names */
} oq_log;

/* Read a log CSV (path "-" = stdin). *out is owned by the caller
 * (oq_log_free). On error *out is NULL and err says where and why. */
int oq_log_read(const char *path, oq_log **out, oq_error *err) OQ_WUR;
struct oq_part; /* comm.h */
/* The rows of one part's customers (comm.h, oq_part_keeps; NULL: all).
 * Memory is the part's rows plus a constant: every line of the file is
 * split into fields, but another part's row is dropped after its user_id,
 * date and category (interned, so the dictionary is the whole file's and
 * every part's agrees; the date counted for the horizon, oq_day_hist).
 * The part's own rows are checked field by field as by oq_log_read, and
 * duplicates of (user, day) found exactly (both rows are the same part's);
 * a bad field in another part's row is that part's error. Line numbers in
 * messages are the file's. */
int oq_log_read_part(const char *path, const struct oq_part *part, oq_log **out,
                     oq_error *err) OQ_WUR;
/* 1 when part keeps every row of log (oq_part_keeps), else 0. */
int oq_log_all_in_part(const oq_log *log, const struct oq_part *part);
/* A copy of the rows of log that part keeps, with log's dictionary. */
int oq_log_select_part(const oq_log *log, const struct oq_part *part, oq_log **out,
                       oq_error *err) OQ_WUR;
/* Make the parts of a partitioned job agree on the category dictionary of
 * their logs when each read only its own rows (oq_db_read_log_part): every
 * part's names are gathered on every part (collective) and interned, and
 * the ids renumbered by sorted name (oq_log_canonical), so a category has
 * the id it has in the whole log. One part (or NULL comm): nothing to do. */
struct oq_comm;
int oq_log_share_cats(oq_log *log, struct oq_comm *comm, oq_error *err) OQ_WUR;
/* Same from memory (tests, fuzzing); name is used in messages. */
int oq_log_read_mem(const char *name, const char *data, size_t len, oq_log **out,
                    oq_error *err) OQ_WUR;
void oq_log_free(oq_log *log);
/* Make a log depend on its content only, not on the order of its rows:
 * category ids follow the sorted names, rows are sorted by (user_id, day),
 * and two rows of one customer on one day are OQ_EPARSE naming both lines
 * (counted as data row + 1, exact when no quoted field spans lines). The
 * readers call it; a writer that fills a log row by row (a database) calls
 * it when done. name is used in messages. OQ_ENOMEM, OQ_ELIMIT. */
int oq_log_canonical(oq_log *log, const char *name, oq_error *err) OQ_WUR;

/* Copy row i of src into row j of dst (every column; dst has room and the
 * same category ids). For the logs cut from a log: parts, shards, folds. */
void oq_log_copy_row(oq_log *dst, size_t j, const oq_log *src, size_t i);
/* Grow every column of log to hold at least n rows (for writers that fill a
 * log row by row, e.g. from a database). OQ_ENOMEM leaves log as it was. */
int oq_log_reserve(oq_log *log, size_t n) OQ_WUR;

/* reward of row i: order_profit - coupon value when an order was placed, else 0. */
static inline double oq_log_reward(const oq_log *log, size_t i)
{
    return log->order[i] ? log->profit[i] - oq_coupon_value(log->coupon[i]) : 0.0;
}

/* Rows grouped by customer: customer c owns rows row[start[c] .. start[c+1]),
 * sorted by day. user_id[c] ascending. Built by oq_log_index_build. */
typedef struct oq_log_index {
    size_t n_customers;
    int64_t *user_id; /* (n_customers) */
    size_t *start;    /* (n_customers + 1) */
    size_t *row;      /* (log->n) */
} oq_log_index;

int oq_log_index_build(const oq_log *log, oq_log_index **out, oq_error *err) OQ_WUR;
void oq_log_index_free(oq_log_index *ix);
/* Customer position of user id u, or -1 (binary search). */
long oq_log_index_find(const oq_log_index *ix, int64_t u);

/* ---- the date horizon ------------------------------------------------------
 * "Tomorrow" is the day after a file's last date, so one mistyped year
 * (2999-03-01 among 2025 rows) would move every recommendation to 2999. A
 * date more than OQ_DATE_HORIZON_DAYS after the file's 99.9th percentile date
 * (nearest rank: the ceil(0.999 n)-th smallest of its n dates) is beyond the
 * horizon, and the log, events and orders readers refuse the file, naming
 * the rows. The rule looks only at the file's own dates: the bulk may span
 * any period, and a period after it of up to a year is accepted; it catches
 * stray dates when they are at most 0.1% of the rows (rounded down: none in
 * a file of fewer than 1,000 rows). */
#define OQ_DATE_HORIZON_DAYS 366
#define OQ_DATE_HORIZON_QUANTILE 0.999

/* Dates of day[0..n) beyond the horizon: *count of them, the first
 * min(count, max) indexes in idx (ascending), the last date within it in
 * *limit (INT32_MAX when none is computed). Returns 0 or OQ_ENOMEM. */
int oq_date_outliers(const int32_t *day, size_t n, int32_t *limit, size_t *count, size_t *idx,
                     size_t max) OQ_WUR;
/* 0, or OQ_EPARSE naming file, the first row's line and column col and the
 * lines of up to five rows beyond the horizon. day[i] is data row i; its line
 * is lines[i], or (lines NULL) found by reading the CSV file again (data:
 * from memory, len bytes). OQ_ENOMEM. */
int oq_date_horizon_check(const int32_t *day, size_t n, const long *lines, const char *file,
                          const char *data, size_t len, long col, oq_error *err) OQ_WUR;

/* A file's dates counted by day, in constant memory (1.6 MB, the days of
 * years 1900..2999): a part's read of a log, events or orders file checks
 * the horizon of every row's date while it keeps only its own rows. Zero it
 * to start. */
typedef struct oq_day_hist {
    uint32_t *count; /* (span) rows per day from lo */
    int32_t lo, min, max;
    size_t span, n;
} oq_day_hist;
/* Count day (a date oq_date_parse accepted). 0, OQ_ENOMEM, OQ_EINVAL. */
int oq_day_hist_add(oq_day_hist *h, int32_t day) OQ_WUR;
/* 0, or OQ_EPARSE as oq_date_horizon_check (the same rule and message), the
 * rows beyond the horizon found by reading file again, whose date is in
 * 1-based column col. */
int oq_day_hist_check(const oq_day_hist *h, const char *file, long col, oq_error *err) OQ_WUR;
void oq_day_hist_free(oq_day_hist *h);

/* The log's last snapshot day (INT32_MIN when the log is empty). */
int32_t oq_log_last_day(const oq_log *log);

/* The one rule that advances a customer to a later day, used by every model
 * and by the evaluation: customer c's snapshot on `day` (after its rows) from
 * its latest row r: days since the last purchase counted to `day` from the
 * last purchase (r's day when r has an order), purchases_last_30d = r's plus
 * r's order (0 once the last purchase is more than 30 days back), average
 * order value and category carried over, the budget level of the log's
 * latest day (its lowest remaining share), no coupon, no order. *out holds
 * one row per customer in index order (oq_log_free). OQ_ENOMEM. */
int oq_log_tomorrow(const oq_log *log, const oq_log_index *ix, int32_t day, oq_log **out,
                    oq_error *err) OQ_WUR;
/* The same in two steps, for a log held in parts: the latest day of log and
 * its lowest budget level (INT32_MIN, 1 when empty), then the snapshot with
 * the budget level the parts agreed on. */
void oq_log_tomorrow_budget(const oq_log *log, int32_t *last_day, float *budget);
int oq_log_tomorrow_at(const oq_log *log, const oq_log_index *ix, int32_t day, float budget,
                       oq_log **out, oq_error *err) OQ_WUR;

/* ---- the events stream ---------------------------------------------------- */

/* user_id,date,category: one row per customer and active day. */
typedef struct oq_events {
    size_t n, cap;
    int64_t *user_id;   /* (n) */
    int32_t *day;       /* (n) */
    uint16_t *category; /* (n) id in the dictionary passed to the reader */
} oq_events;

/* Read an events CSV, interning categories into cats (pass the log's
 * dictionary so ids agree). Same validation rules as the log. */
int oq_events_read(const char *path, oq_dict *cats, oq_events **out, oq_error *err) OQ_WUR;
/* Only the events of one part's customers (every row read and checked, its
 * category interned, as oq_log_read_part). */
int oq_events_read_part(const char *path, oq_dict *cats, const struct oq_part *part,
                        oq_events **out, oq_error *err) OQ_WUR;
int oq_events_read_mem(const char *name, const char *data, size_t len, oq_dict *cats,
                       oq_events **out, oq_error *err) OQ_WUR;
void oq_events_free(oq_events *ev);

/* Events grouped by the customers of a log index: customer c's events, in
 * day order, are at positions oq_events_ix_at(x, j) for j in [lo[c], hi[c]).
 * Events of users not in the index are skipped. Errors: OQ_ENOMEM. */
typedef struct oq_events_ix {
    size_t n_customers;
    size_t *order;   /* (ev->n) event positions sorted by (user, day); NULL when the
                        events already were (what `offerq gen` writes) */
    size_t *lo, *hi; /* (n_customers) */
} oq_events_ix;
static inline size_t oq_events_ix_at(const oq_events_ix *x, size_t j)
{
    return x->order ? x->order[j] : j;
}
int oq_events_ix_build(const oq_events *ev, const oq_log_index *ix, oq_events_ix **out,
                       oq_error *err) OQ_WUR;
void oq_events_ix_free(oq_events_ix *x);
/* Position in [lo[c], hi[c]] of customer c's first event on or after day. */
size_t oq_events_ix_seek(const oq_events *ev, const oq_events_ix *x, size_t c, int32_t day);

/* ---- summary ------------------------------------------------------------- */

/* Print the human summary of `offerq summary` (rows, customers, date span,
 * order rate, profit by coupon, per category) to fp. */
int oq_log_print_summary(const oq_log *log, const char *name, void *fp, oq_error *err) OQ_WUR;

#endif
