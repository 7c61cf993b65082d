/* bgnbd_int.h - what bgnbd.c shares with btyd.c (private to the coupon layer). */
#ifndef OFFERQ_BGNBD_INT_H
#define OFFERQ_BGNBD_INT_H

#include <jansson.h>
#include <stdio.h>

/* 1 - (1-z)^(r+x) 2F1(r+x, b+x; a+b+x-1; z) for z in [0, 1) (FHL eq. 10's
 * bracket), by the Euler-transformed series with GSL's 2F1 as the fallback
 * close to z = 1. MBG/NBD's bracket is the same with b + 1 for b. 0 or
 * OQ_ENUM. */
int oq_bgnbd_one_minus_g(double r, double a, double b, double x, double z, double *out);

/* Add "standard_errors", "ci95_lower", "ci95_upper" (objects name -> number,
 * null where not finite or !ok) and "ci95_scale": "log" to root. 0 or
 * OQ_ENOMEM. */
int oq_btyd_json_add_se(json_t *root, int k, const char *const *names, const double *se,
                        const double *lo, const double *hi, int ok);

/* s written as SVG/XML text (<, >, & escaped) (btyd_plot.c). */
void oq_svg_text(FILE *fp, const char *s);

/* The value a Nelder-Mead objective (gsl nmsimplex2) returns outside the
 * parameters' domain or where the likelihood is not finite. GSL's simplex
 * refuses a non-finite value with its error handler (abort by default: the
 * library must not depend on the program having turned it off), so the
 * wall is finite: a vertex there is the worst and the simplex moves away. */
#define OQ_NM_WALL 1e300

#endif
