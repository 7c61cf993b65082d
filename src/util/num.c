/* num.c - see num.h. */
#include "util/num.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int oq_parse_i64(const char *s, size_t len, int64_t *out)
{
    size_t i = 0;
    int neg = 0;
    if (len && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    if (i == len || len - i > 18) return -1;
    int64_t v = 0;
    for (; i < len; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (d > 9) return -1;
        v = v * 10 + (int64_t)d;
    }
    *out = neg ? -v : v;
    return 0;
}

static const double pow10_tab[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                   1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

int oq_parse_f64(const char *s, size_t len, double *out)
{
    size_t i = 0;
    int neg = 0;
    if (len && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        i = 1;
    }
    uint64_t mant = 0;
    int ndig = 0, frac = 0, seen = 0, dot = 0;
    for (; i < len; i++) {
        char c = s[i];
        if (c >= '0' && c <= '9') {
            seen = 1;
            if (mant == 0 && c == '0' && !dot) continue; /* leading zeros */
            if (ndig >= 15) goto slow;
            mant = mant * 10 + (uint64_t)(c - '0');
            if (mant) ndig++;
            if (dot) frac++;
        } else if (c == '.' && !dot) {
            dot = 1;
        } else {
            break;
        }
    }
    if (!seen) return -1;
    if (i < len) {
        if (s[i] == 'e' || s[i] == 'E') goto slow;
        return -1;
    }
    if (frac > 22) goto slow;
    /* mant < 10^15 < 2^53 and frac <= 22: exact operands, one rounding. */
    {
        double v = (double)mant / pow10_tab[frac];
        *out = neg ? -v : v;
        return 0;
    }
slow : {
    char tmp[128];
    if (len >= sizeof tmp) return -1;
    for (size_t k = 0; k < len; k++) {
        char c = s[k];
        if (!((c >= '0' && c <= '9') || c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-'))
            return -1;
    }
    memcpy(tmp, s, len);
    tmp[len] = 0;
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + len || !isfinite(v)) return -1;
    *out = v;
    return 0;
}
}

int oq_fmt_double(double v, char buf[OQ_DBL_BUF])
{
    int n = 0, prec = 1;
    if (!isfinite(v)) return snprintf(buf, OQ_DBL_BUF, "%g", v);
    /* At most 17 tries of a few hundred ns each; 17 digits always read back. */
    for (; prec <= 17; prec++) {
        n = snprintf(buf, OQ_DBL_BUF, "%.*g", prec, v);
        if (strtod(buf, NULL) == v) break;
    }
    /* Whole numbers below 1e16 as people write them: 100, not 1e+02 (%g
     * switches to an exponent when it is >= the precision). Kept only if it
     * still reads back (it does below 2^53, where v is an exact integer). */
    const char *e = strchr(buf, 'e');
    long x = e ? strtol(e + 1, NULL, 10) : -1;
    if (x >= prec && x < 16) {
        char t[OQ_DBL_BUF];
        int m = snprintf(t, sizeof t, "%.*g", (int)x + 1, v);
        if (strtod(t, NULL) == v) {
            memcpy(buf, t, (size_t)m + 1);
            n = m;
        }
    }
    return n;
}
