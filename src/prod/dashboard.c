/* serve_dashboard.c - the JSON behind the dashboard (serve_int.h). The page
 * itself is src/web/dashboard.html, embedded as serve_dashboard_html.c. */
#include "prod/serve_int.h"
#include "offerq/core/data.h"
#include "util/json.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A side file's text parsed as JSON; not JSON -> {"error": ...}; absent -> null. */
static json_t *side(json_t *files, const char *name)
{
    const char *text = json_string_value(json_object_get(files, name));
    if (!text) return json_null();
    json_error_t je;
    json_t *j = json_loads(text, JSON_DECODE_ANY, &je);
    return j ? j : json_pack("{s:s, s:s}", "error", "not valid JSON", "file", name);
}

char *oq_serve_dashboard_json(const oq_reco *r, const char *version, const char *files_json,
                              const char *const *svgs, size_t n_svgs)
{
    json_t *files = json_loads(files_json ? files_json : "{}", 0, NULL);
    json_t *root = json_object(), *rows = json_array(), *mix = json_array(), *hist = json_array(),
           *curves = json_array();
    char *out = NULL;
    if (!files || !root || !rows || !mix || !hist || !curves) goto cleanup;
    size_t count[OQ_N_COUPONS] = {0};
    double profit[OQ_N_COUPONS] = {0}, face = 0, total = 0;
    size_t bins[10] = {0};
    size_t nrows = r->n < OQ_DASH_MAX_ROWS ? r->n : OQ_DASH_MAX_ROWS;
    for (size_t i = 0; i < r->n; i++) {
        const oq_reco_row *w = &r->rows[i];
        count[w->coupon]++;
        profit[w->coupon] += w->expected_profit;
        total += w->expected_profit;
        face += oq_coupon_value(w->coupon);
        int b = (int)(w->p_alive * 10);
        bins[b < 0 ? 0 : b > 9 ? 9 : b]++;
        if (i < nrows) {
            char date[11];
            oq_date_format(w->day, date);
            json_t *row = json_pack("[I, s, s, s, f, f]", (json_int_t)w->user_id, date, w->state,
                                    oq_coupon_name(w->coupon), w->expected_profit, w->p_alive);
            /* extra profit over none, then each coupon's expected profit */
            int known = isfinite(w->value[0]);
            json_array_append_new(row, known ? json_real(oq_reco_row_extra(w)) : json_null());
            for (int k = 0; k < OQ_N_COUPONS; k++)
                json_array_append_new(row, known ? json_real(w->value[k]) : json_null());
            json_array_append_new(rows, row);
        }
    }
    for (int k = 0; k < OQ_N_COUPONS; k++)
        json_array_append_new(
            mix, json_pack("{s:s, s:f, s:I, s:f, s:f}", "coupon", oq_coupon_name(k), "value",
                           oq_coupon_value(k), "count", (json_int_t)count[k], "face_value_total",
                           oq_coupon_value(k) * (double)count[k], "expected_profit", profit[k]));
    for (int b = 0; b < 10; b++)
        json_array_append_new(hist, json_integer((json_int_t)bins[b]));
    for (size_t i = 0; i < n_svgs; i++) {
        char u[128];
        snprintf(u, sizeof u, "/v1/files/%s", svgs[i]);
        json_array_append_new(curves, json_string(u));
    }
    json_object_set_new(root, "version", json_string(version));
    json_object_set_new(root, "users", json_integer((json_int_t)r->n));
    json_object_set_new(root, "truncated", json_boolean(nrows < r->n));
    json_object_set_new(root, "columns",
                        json_pack("[s,s,s,s,s,s,s,s,s,s,s]", "user_id", "snapshot_date", "state",
                                  "coupon", "expected_profit", "p_alive", "extra_profit",
                                  "expected_profit_none", "expected_profit_5", "expected_profit_10",
                                  "expected_profit_20"));
    json_object_set_new(root, "has_values", json_boolean(oq_reco_has_values(r)));
    json_object_set(root, "rows", rows);
    json_object_set(root, "coupon_mix", mix);
    json_object_set_new(root, "face_value_total", json_real(face));
    json_object_set_new(root, "expected_profit_total", json_real(total));
    json_object_set_new(root, "p_alive_hist",
                        json_pack("{s:[f,f,f,f,f,f,f,f,f,f,f], s:O}", "edges", 0.0, 0.1, 0.2, 0.3,
                                  0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, "counts", hist));
    json_object_set(root, "curves", curves);
    json_object_set_new(root, "report", side(files, "report.json"));
    json_object_set_new(root, "eval", side(files, "eval.json"));
    json_object_set_new(root, "crosssell", side(files, "crosssell.json"));
    /* The run before this one (its report), for "since yesterday". */
    json_object_set_new(root, "previous", side(files, OQ_DASH_PREVIOUS));
    out = oq_json_dumps(root, JSON_COMPACT);
cleanup:
    json_decref(files);
    json_decref(root);
    json_decref(rows);
    json_decref(mix);
    json_decref(hist);
    json_decref(curves);
    return out;
}
