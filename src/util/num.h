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

/* Room for any oq_fmt_double text ("-2.2250738585072014e-308" + NUL). */
#define OQ_DBL_BUF 32

/* The shortest "%.Ng" (N = 1..17) text of v that strtod reads back as
 * exactly v: 0.1 -> "0.1", 1/3 -> "0.3333333333333333", 5e-324 -> "5e-324"
 * (17 digits always round-trip, fewer mostly do: printed as people write
 * them); whole numbers below 1e16 without an exponent (100, not 1e+02).
 * Non-finite values print as %g does ("inf", "nan"). Returns the
 * length written to buf. */
int oq_fmt_double(double v, char buf[OQ_DBL_BUF]);

#endif
