/* error.c - oq_error helpers. */
#include "offerq/core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int oq_error_set(oq_error *err, int code, const char *file, long line, long col, const char *fmt,
                 ...)
{
    if (!err) return code;
    /* Format into buffers of our own first: a caller may pass err->file or
     * err->msg (or a pointer into them) as an argument, and snprintf into
     * the buffer it reads from is undefined behaviour. */
    char f[sizeof err->file], m[sizeof err->msg];
    snprintf(f, sizeof f, "%s", file ? file : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(m, sizeof m, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    memcpy(err->file, f, sizeof f);
    memcpy(err->msg, m, sizeof m);
    err->line = line;
    err->col = col;
    return code;
}

int oq_error_oom(oq_error *err, const char *file, const char *what)
{
    if (what) return oq_error_set(err, OQ_ENOMEM, file, 0, 0, "out of memory (%s)", what);
    return oq_error_set(err, OQ_ENOMEM, file, 0, 0, "out of memory");
}

void oq_error_format(const oq_error *err, char *buf, size_t len)
{
    if (!err) {
        snprintf(buf, len, "unknown error");
        return;
    }
    if (err->file[0] && err->line > 0 && err->col > 0)
        snprintf(buf, len, "%s:%ld:%ld: %s", err->file, err->line, err->col, err->msg);
    else if (err->file[0] && err->line > 0)
        snprintf(buf, len, "%s:%ld: %s", err->file, err->line, err->msg);
    else if (err->file[0])
        snprintf(buf, len, "%s: %s", err->file, err->msg);
    else
        snprintf(buf, len, "%s", err->msg);
}

const char *oq_strerror(int code)
{
    switch (code) {
    case OQ_OK:
        return "ok";
    case OQ_EIO:
        return "I/O error";
    case OQ_ENOMEM:
        return "out of memory";
    case OQ_EPARSE:
        return "parse error";
    case OQ_EINVAL:
        return "invalid argument";
    case OQ_EFORMAT:
        return "bad file format";
    case OQ_ELIMIT:
        return "limit exceeded";
    case OQ_ENUM:
        return "numerical failure";
    case OQ_EABORT:
        return "another part of the job failed";
    default:
        return "unknown error";
    }
}
