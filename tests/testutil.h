/* testutil.h - helpers shared by the cmocka tests. */
#ifndef OQ_TESTUTIL_H
#define OQ_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>

/* $OQ_SHARED (../shared) joined with rel, in a static buffer per call slot. */
const char *tu_shared(const char *rel);
/* $OQ_SOURCE (the source tree) joined with rel. */
const char *tu_source(const char *rel);
/* A fresh temporary directory (removed by tu_rmdir). */
char *tu_tmpdir(void);
void tu_rmdir(const char *dir);
/* Write bytes to dir/name exactly (no newline added); the path, valid until
 * 8 later calls. */
const char *tu_put(const char *dir, const char *name, const char *bytes);
/* Path of the offerq binary ($OQ_BIN). */
const char *tu_bin(void);
/* Read a CSV of numbers, `cols` per line ('#' lines skipped), into a
 * malloc'ed array (*out, the caller frees); returns the number of lines.
 * Fails the test on a missing file or a bad number. */
size_t tu_read_matrix(const char *path, int cols, double **out);
/* Run a shell command, return its exit status (or -1). */
int tu_system(const char *fmt, ...);

#endif
