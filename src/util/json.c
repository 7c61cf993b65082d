/* json.c - see json.h. */
#include "util/json.h"
#include "offerq/core/io.h"

#include <stdlib.h>
#include <string.h>

int oq_json_write_atomic(const char *path, const json_t *root, oq_error *err)
{
    if (!root) return oq_error_oom(err, path, "JSON");
    char *text = json_dumps(root, JSON_INDENT(2) | JSON_REAL_PRECISION(17));
    if (!text) return oq_error_oom(err, path, "JSON");
    size_t len = strlen(text);
    text[len] = '\n'; /* json_dumps allocated len + 1 bytes: the NUL becomes the newline */
    int rc = oq_write_file_atomic(path, text, len + 1, err);
    free(text);
    return rc;
}
