/* json.h - JSON output shared by the modules (private to the offerq libraries and the CLI). */
#ifndef OQ_UTIL_JSON_H
#define OQ_UTIL_JSON_H

#include <jansson.h>
#include "offerq/core/error.h"

/* JSON text of j (borrowed) as json_dumps(j, flags) writes it (flags:
 * JSON_INDENT(n), JSON_COMPACT; objects in insertion order), except that
 * reals are the shortest text that reads back as the same double
 * (oq_fmt_double: 0.1, not jansson's 0.10000000000000001), still marked as
 * reals ("100.0", "1e300"). Any JSON value may be dumped. Returns a malloc'ed
 * string (caller frees), or NULL when out of memory or nested deeper than
 * 2048. */
char *oq_json_dumps(const json_t *j, size_t flags);

/* Write root (borrowed) indented with oq_json_dumps (shortest reals that
 * round-trip exactly), plus a final newline, atomically to path (oq_afile). */
int oq_json_write_atomic(const char *path, const json_t *root, oq_error *err) OQ_WUR;

#endif
