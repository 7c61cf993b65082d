/* num.h - strict, fast number parsing for readers (private to the offerq libraries).
 * Each returns 0 on success, -1 if s[0..len) is not entirely the number. */
#ifndef OQ_UTIL_NUM_H
#define OQ_UTIL_NUM_H

#include <stddef.h>
#include <stdint.h>

/* Optional sign, then digits only. */
int oq_parse_i64(const char *s, size_t len, int64_t *out);
/* A finite decimal number: [+-]digits[.digits][e[+-]digits]. Plain forms up
 * to 15 significant digits are converted exactly without strtod (one
 * correctly rounded division); anything else goes through strtod. NaN, Inf
 * and hex floats are rejected. */
int oq_parse_f64(const char *s, size_t len, double *out);

#endif
