/* serve_int.h - internals shared by serve.c and serve_dashboard.c. */
#ifndef OQ_SERVE_INT_H
#define OQ_SERVE_INT_H

#include <stddef.h>
#include "offerq/coupon/reco.h"
#include "offerq/prod/serve.h"

/* The dashboard page: HTML + JS + SVG drawing, no external assets. */
extern const char oq_serve_dashboard_html[];

/* JSON behind the dashboard (see docs/readme/prod.md): the list (at most
 * OQ_DASH_MAX_ROWS rows, "truncated" says if cut), coupon mix, P(alive)
 * histogram, and the run's side files parsed from files_json (an object
 * name -> text, e.g. {"report.json": "..."}); svgs[0..n_svgs) are names of
 * learning-curve files served under /v1/files/. Returns a malloc'ed string
 * (caller frees) or NULL when out of memory. */
#define OQ_DASH_MAX_ROWS 200000
/* Key of files_json holding the previous run's report.json text. */
#define OQ_DASH_PREVIOUS "previous/report.json"
char *oq_serve_dashboard_json(const oq_reco *r, const char *version, const char *files_json,
                              const char *const *svgs, size_t n_svgs);

/* oq_serve_start minus the socket: load the data source and models of cfg
 * into a server that never listens (for oq_serve_handle: fuzzing, tests).
 * Free with oq_serve_stop. Errors as oq_serve_start. */
int oq_serve_load(const oq_serve_config *cfg, oq_serve **out, oq_error *err) OQ_WUR;

/* Answer one request as the libmicrohttpd callback would, without a socket:
 * method, path (no query), query (raw "a=1&b=2", may be NULL), body[0..len)
 * (may be NULL). *resp is the malloc'ed reply body (caller frees; NULL when
 * empty) and *type its Content-Type (static). Returns the HTTP status, or
 * -1 when out of memory. Bodies over max_body answer 413 as on the wire. */
int oq_serve_handle(oq_serve *s, const char *method, const char *path, const char *query,
                    const char *body, size_t len, char **resp, const char **type);

#endif
