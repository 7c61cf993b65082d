/* utf8.h - UTF-8 validation for names read from input files (private to the
 * offerq libraries). */
#ifndef OQ_UTIL_UTF8_H
#define OQ_UTIL_UTF8_H

#include <stddef.h>

/* 1 if s[0..len) is well-formed UTF-8 (RFC 3629: no overlong forms, no
 * surrogates, nothing above U+10FFFF) without control characters (U+0000 to
 * U+001F and U+007F); else 0. */
int oq_utf8_name_ok(const char *s, size_t len);

#endif
