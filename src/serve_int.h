/* serve_int.h - internals shared by serve.c and serve_dashboard.c. */
#ifndef OQ_SERVE_INT_H
#define OQ_SERVE_INT_H

#include <stddef.h>
#include "offerq/reco.h"

/* The dashboard page: HTML + JS + SVG drawing, no external assets. */
extern const char oq_serve_dashboard_html[];

/* JSON behind the dashboard (see docs/readme/prod.md): the list (at most
 * OQ_DASH_MAX_ROWS rows, "truncated" says if cut), coupon mix, P(alive)
 * histogram, and the run's side files parsed from files_json (an object
 * name -> text, e.g. {"report.json": "..."}); svgs[0..n_svgs) are names of
 * learning-curve files served under /v1/files/. Returns a malloc'ed string
 * (caller frees) or NULL when out of memory. */
#define OQ_DASH_MAX_ROWS 200000
char *oq_serve_dashboard_json(const oq_reco *r, const char *version, const char *files_json,
                              const char *const *svgs, size_t n_svgs);

#endif
