/* csv.h - streaming CSV reader with exact line/column positions.
 *
 * RFC 4180 input: comma-separated, optional UTF-8 BOM (skipped), LF or CRLF
 * line ends, quoted fields (with "" escapes and embedded newlines). Lines
 * without a quote character are split in place (the fast path); lines that
 * contain quotes are handed to libcsv (Debian: libcsv-dev), which does the
 * RFC 4180 work. Fields are passed to the callback NUL-terminated and
 * untrimmed.
 *
 * Errors: the file must not be empty and must end with a newline (a missing
 * final newline usually means a file cut off while being written); a line
 * longer than max_line bytes is OQ_ELIMIT.
 */
#ifndef OFFERQ_CSV_H
#define OFFERQ_CSV_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/error.h"

/* Called once per record. fields[i] is NUL-terminated, lens[i] its length.
 * line is the 1-based physical line where the record starts. Return 0 to go
 * on, or a negative OQ_E* code (having filled err) to stop the read. */
typedef int (*oq_csv_row_fn)(void *ctx, char **fields, const size_t *lens, size_t nfields,
                             long line, oq_error *err);

typedef struct oq_csv_opts {
    char delim;                 /* ',' by default (0 means ',') */
    size_t max_line;            /* bytes; 0 means 1 MiB */
    size_t max_fields;          /* per record; 0 means 4096 */
    int allow_no_final_newline; /* 1: accept a last line without '\n' */
    size_t max_records;         /* records (header included); 0 means oq_csv_max_records() */
} oq_csv_opts;

/* Default record limit: every reader indexes rows with 32-bit ids somewhere
 * downstream, so more than 2^31 - 1 rows is refused with OQ_ELIMIT naming the
 * file and line instead of wrapping around. */
#define OQ_CSV_MAX_RECORDS ((size_t)INT32_MAX)
/* The limit in force when opts->max_records is 0: $OQ_MAX_ROWS (a positive
 * integer) if set and valid, else OQ_CSV_MAX_RECORDS. Read per call (the
 * library keeps no mutable global). */
size_t oq_csv_max_records(void);

/* Read path record by record. path "-" reads stdin. Returns 0, or the
 * callback's code, or OQ_EIO / OQ_EPARSE / OQ_ELIMIT / OQ_ENOMEM with err
 * filled (file, line, column). opts may be NULL for defaults. */
int oq_csv_read(const char *path, const oq_csv_opts *opts, oq_csv_row_fn fn, void *ctx,
                oq_error *err) OQ_WUR;

/* Same over a memory buffer (name is used in error messages). */
int oq_csv_read_mem(const char *name, const char *data, size_t len, const oq_csv_opts *opts,
                    oq_csv_row_fn fn, void *ctx, oq_error *err) OQ_WUR;

/* One column a reader knows: its header name, whether a header must have
 * it, and other accepted spellings or NULL ("frequency_cal|frequency_in"
 * separated by '|'). Messages use name. */
typedef struct oq_csv_col {
    const char *name;
    int required;     /* 1: a header without it is refused */
    const char *also; /* NULL, or alternative names separated by '|' */
} oq_csv_col;

/* Map a header record (the fields a row callback got; header names are
 * compared whole and case-sensitively) to columns: idx[k], one per cols[k],
 * becomes the field index of that column, or -1 for an absent optional one.
 * allow_unknown: 1 ignores columns not in cols, 0 refuses them.
 * Returns 0, or OQ_EPARSE with err naming file, line and column and the
 * columns expected: an unknown column (its field), a column named twice (the
 * second field) or a missing required column (column nf + 1, where it would
 * go). On failure idx holds no meaning. */
int oq_csv_header_map(const char *file, long line, char *const *fields, size_t nf,
                      const oq_csv_col *cols, size_t ncols, int allow_unknown, int *idx,
                      oq_error *err) OQ_WUR;

/* Write a field to fp with RFC 4180 quoting when it needs it. */
#include <stdio.h>
void oq_csv_write_field(FILE *fp, const char *s);

#endif
