/* error.h - return codes and the parser error record shared by every module.
 *
 * Ownership rule for the whole API (jq-style, one rule): whoever allocates
 * frees. Every oq_x_new/_read/_load/_open has a NULL-safe oq_x_free.
 * Arguments are borrowed unless the function name says _take.
 * Functions that can fail return int: 0 on success, a negative OQ_E* code
 * on failure, and fill the caller's oq_error (may be NULL) with a message.
 */
#ifndef OFFERQ_ERROR_H
#define OFFERQ_ERROR_H

#include <stddef.h>

#if defined(__GNUC__)
#define OQ_WUR __attribute__((warn_unused_result))
#define OQ_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define OQ_WUR
#define OQ_PRINTF(a, b)
#endif

enum {
    OQ_OK = 0,
    OQ_EIO = -1,     /* open/read/write/rename failed (errno in msg) */
    OQ_ENOMEM = -2,  /* allocation failed */
    OQ_EPARSE = -3,  /* malformed input; file/line/col filled */
    OQ_EINVAL = -4,  /* bad argument or value out of range */
    OQ_EFORMAT = -5, /* binary file: bad magic, version or checksum */
    OQ_ELIMIT = -6,  /* an input limit was exceeded */
    OQ_ENUM = -7,    /* numerical failure (non-finite, no convergence) */
    OQ_EABORT = -8,  /* another part of a partitioned job failed (comm.h) */
};

/* Where and why something failed. line/col are 1-based; 0 means "not known". */
typedef struct oq_error {
    char file[512];
    long line;
    long col;
    char msg[512];
} oq_error;

/* Fill err (if not NULL) and return code. file may be NULL. file and the
 * arguments may point into err itself (e.g. err->msg): it is formatted first. */
int oq_error_set(oq_error *err, int code, const char *file, long line, long col, const char *fmt,
                 ...) OQ_PRINTF(6, 7);

/* An allocation failed: fill err (if not NULL) with "out of memory", or
 * "out of memory (what)" when what names what was being allocated, and
 * return OQ_ENOMEM. file (the input or output being handled, or NULL) is
 * named like in oq_error_set; line and column are left unknown. */
int oq_error_oom(oq_error *err, const char *file, const char *what);

/* "file:line:col: msg" (parts that are unknown are left out) into buf. */
void oq_error_format(const oq_error *err, char *buf, size_t len);

/* Short static text for a code, e.g. "parse error". */
const char *oq_strerror(int code);

#endif
