/* json.h - JSON output shared by the modules (private to the offerq libraries and the CLI). */
#ifndef OQ_UTIL_JSON_H
#define OQ_UTIL_JSON_H

#include <jansson.h>
#include "offerq/core/error.h"

/* Write root (borrowed) indented, reals with 17 significant digits (exact
 * round trips), plus a final newline, atomically to path (oq_afile). */
int oq_json_write_atomic(const char *path, const json_t *root, oq_error *err) OQ_WUR;

#endif
