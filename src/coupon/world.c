/* world.c - the simulated shop as a JSON world file (gen.h): printed with
 * every default by `offerq gen --print-world`, read back by `--world FILE`
 * and kept in the truth sidecar, so `offerq eval` replays the same world.
 *
 * One table of fields drives printing, reading and range checks, so a field
 * cannot be printed and then refused, or read and never printed. A field
 * absent from the file keeps its value; an unknown field, a wrong type or a
 * value out of range is refused with its path (lasting.deal). */
#include "offerq/coupon/gen.h"
#include "offerq/core/data.h"

#include <jansson.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

enum { F_NUM, F_INT, F_LONG, F_DATE, F_ARR, F_OBJ };

typedef struct field {
    const char *key;
    int kind;
    size_t off;                /* offset in oq_gen_config */
    int n;                     /* F_ARR: elements */
    double lo, hi;             /* accepted range (inclusive) */
    const struct field *inner; /* F_OBJ: its fields, ended by a NULL key */
} field;

#define OFF(m) offsetof(oq_gen_config, m)

static const field f_bgnbd[] = {{"r", F_NUM, OFF(r), 0, 1e-6, 1e6, NULL},
                                {"alpha", F_NUM, OFF(alpha), 0, 1e-6, 1e6, NULL},
                                {"a", F_NUM, OFF(a), 0, 1e-6, 1e6, NULL},
                                {"b", F_NUM, OFF(b), 0, 1e-6, 1e6, NULL},
                                {NULL, 0, 0, 0, 0, 0, NULL}};
static const field f_aov[] = {{"median", F_NUM, OFF(aov_median), 0, 1e-6, 1e9, NULL},
                              {"sigma", F_NUM, OFF(aov_sigma), 0, 0, 5, NULL},
                              {NULL, 0, 0, 0, 0, 0, NULL}};
static const field f_cats[] = {
    {"count", F_INT, OFF(n_cats), 0, 2, OQ_GEN_MAX_CATS, NULL},
    {"value", F_ARR, OFF(cat_value), OQ_GEN_MAX_CATS, 0, 1e6, NULL},
    {"margin", F_ARR, OFF(cat_margin), OQ_GEN_MAX_CATS, 0, 1, NULL},
    {"order_in_favourite", F_NUM, OFF(order_in_favourite), 0, 0, 1, NULL},
    {"drift", F_NUM, OFF(drift), 0, 0, 1, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL}};
static const field f_pers[] = {{"qmax_lo", F_NUM, OFF(qmax_lo), 0, 0, 1, NULL},
                               {"qmax_width", F_NUM, OFF(qmax_width), 0, 0, 1, NULL},
                               {"sens_lo", F_NUM, OFF(sens_lo), 0, 1e-6, 1e6, NULL},
                               {"sens_width", F_NUM, OFF(sens_width), 0, 0, 1e6, NULL},
                               {NULL, 0, 0, 0, 0, 0, NULL}};
static const field f_types[] = {
    {"mix", F_ARR, OFF(type_mix), OQ_GEN_NTYPES, 0, 1, NULL},
    {"intent", F_ARR, OFF(intent), OQ_GEN_NTYPES, 0, 1, NULL},
    {"sleeping_factor", F_NUM, OFF(sleeping_factor), 0, 0, 10, NULL},
    {"persuadable", F_OBJ, 0, 0, 0, 0, f_pers},
    {"browse_concentration", F_ARR, OFF(conc), OQ_GEN_NTYPES, 0, 1, NULL},
    {"visit", F_ARR, OFF(visit), OQ_GEN_NTYPES, 0, 0.7, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL}};
static const field f_lasting[] = {
    {"lapse", F_NUM, OFF(lasting.lapse), 0, 0, 1, NULL},
    {"lapse_days", F_NUM, OFF(lasting.lapse_days), 0, 0, 1e4, NULL},
    {"deal", F_NUM, OFF(lasting.deal), 0, 0, 10, NULL},
    {"deal_days", F_NUM, OFF(lasting.deal_days), 0, 0, 1e4, NULL},
    {"weekly", F_NUM, OFF(lasting.weekly), 0, 0, 0.99, NULL},
    {"campaign_budget", F_NUM, OFF(lasting.campaign_budget), 0, 0, 1e9, NULL},
    {"contact_rate", F_NUM, OFF(lasting.contact_rate), 0, 0, 1, NULL},
    {NULL, 0, 0, 0, 0, 0, NULL}};
static const field f_world[] = {{"customers", F_LONG, OFF(n_customers), 0, 1, 1e8, NULL},
                                {"start", F_DATE, OFF(start_day), 0, 0, 0, NULL},
                                {"end", F_DATE, OFF(end_day), 0, 0, 0, NULL},
                                {"snapshots", F_INT, OFF(snapshots), 0, 1, 64, NULL},
                                {"birth_window", F_INT, OFF(birth_window), 0, 1, 1e5, NULL},
                                {"bgnbd", F_OBJ, 0, 0, 0, 0, f_bgnbd},
                                {"aov", F_OBJ, 0, 0, 0, 0, f_aov},
                                {"categories", F_OBJ, 0, 0, 0, 0, f_cats},
                                {"types", F_OBJ, 0, 0, 0, 0, f_types},
                                {"contact_effect", F_NUM, OFF(contact_effect), 0, 0, 3, NULL},
                                {"logging_propensity", F_ARR, OFF(p_log), 4, 0, 1, NULL},
                                {"budget_left_end", F_NUM, OFF(budget_left_end), 0, 0, 0.999, NULL},
                                {"lasting", F_OBJ, 0, 0, 0, 0, f_lasting},
                                {NULL, 0, 0, 0, 0, 0, NULL}};

static json_t *print_obj(const field *fs, const oq_gen_config *cfg)
{
    json_t *o = json_object();
    const char *base = (const char *)cfg;
    for (const field *f = fs; o && f->key; f++) {
        json_t *v = NULL;
        switch (f->kind) {
        case F_NUM:
            v = json_real(*(const double *)(base + f->off));
            break;
        case F_INT:
            v = json_integer(*(const int *)(base + f->off));
            break;
        case F_LONG:
            v = json_integer(*(const long *)(base + f->off));
            break;
        case F_DATE: {
            char d[11];
            oq_date_format(*(const int32_t *)(base + f->off), d);
            v = json_string(d);
            break;
        }
        case F_ARR:
            v = json_array();
            for (int i = 0; v && i < f->n; i++)
                if (json_array_append_new(v, json_real(((const double *)(base + f->off))[i]))) {
                    json_decref(v);
                    v = NULL;
                }
            break;
        default:
            v = print_obj(f->inner, cfg);
            break;
        }
        if (!v || json_object_set_new(o, f->key, v)) {
            json_decref(o);
            o = NULL;
        }
    }
    return o;
}

json_t *oq_gen_world_json(const oq_gen_config *cfg)
{
    return print_obj(f_world, cfg);
}

static int bad(oq_error *err, const char *file, const char *path, const char *what)
{
    return oq_error_set(err, OQ_EPARSE, file, 0, 0, "world field %s: %s", path, what);
}

static int read_num(const json_t *v, const field *f, const char *file, const char *path,
                    double *out, oq_error *err)
{
    if (!json_is_number(v)) return bad(err, file, path, "expected a number");
    double x = json_number_value(v);
    if (!(x >= f->lo && x <= f->hi)) {
        char msg[160];
        snprintf(msg, sizeof msg, "%g is outside [%g, %g]", x, f->lo, f->hi);
        return bad(err, file, path, msg);
    }
    *out = x;
    return 0;
}

static int apply_obj(const json_t *o, const field *fs, const char *file, const char *prefix,
                     oq_gen_config *cfg, oq_error *err)
{
    if (!json_is_object(o))
        return bad(err, file, *prefix ? prefix : "(top level)", "expected an object");
    char *base = (char *)cfg;
    const char *key;
    const json_t *v;
    json_object_foreach((json_t *)o, key, v)
    {
        char path[256];
        snprintf(path, sizeof path, "%s%s%s", prefix, *prefix ? "." : "", key);
        const field *f = fs;
        while (f->key && strcmp(f->key, key) != 0)
            f++;
        if (!f->key)
            return bad(err, file, path, "unknown field (offerq gen --print-world lists them)");
        double x;
        int rc = 0;
        switch (f->kind) {
        case F_NUM:
            if (!(rc = read_num(v, f, file, path, &x, err))) *(double *)(base + f->off) = x;
            break;
        case F_INT:
        case F_LONG:
            if (!json_is_integer(v)) return bad(err, file, path, "expected an integer");
            if (!(rc = read_num(v, f, file, path, &x, err))) {
                if (f->kind == F_INT)
                    *(int *)(base + f->off) = (int)x;
                else
                    *(long *)(base + f->off) = (long)x;
            }
            break;
        case F_DATE: {
            const char *s = json_string_value(v);
            if (!s || oq_date_parse(s, strlen(s), (int32_t *)(base + f->off)))
                return bad(err, file, path, "expected a date \"YYYY-MM-DD\"");
            break;
        }
        case F_ARR: {
            size_t n = json_array_size(v);
            if (!json_is_array(v) || n < 1 || n > (size_t)f->n) {
                char msg[96];
                snprintf(msg, sizeof msg, "expected an array of 1 to %d numbers", f->n);
                return bad(err, file, path, msg);
            }
            for (size_t i = 0; !rc && i < n; i++) {
                char ipath[300];
                snprintf(ipath, sizeof ipath, "%s[%zu]", path, i);
                if (!(rc = read_num(json_array_get(v, i), f, file, ipath, &x, err)))
                    ((double *)(base + f->off))[i] = x;
            }
            break;
        }
        default:
            rc = apply_obj(v, f->inner, file, path, cfg, err);
            break;
        }
        if (rc) return rc;
    }
    return 0;
}

int oq_gen_world_apply(const json_t *root, const char *file, oq_gen_config *cfg, oq_error *err)
{
    int rc = apply_obj(root, f_world, file, "", cfg, err);
    if (rc) return rc;
    /* Arrays of fixed meaning must be whole. */
    if (json_array_size(json_object_get(json_object_get(root, "types"), "mix")) % OQ_GEN_NTYPES ||
        json_array_size(json_object_get(root, "logging_propensity")) % 4)
        return bad(err, file, "types.mix / logging_propensity", "expected 4 numbers");
    if (cfg->end_day < cfg->start_day) return bad(err, file, "end", "before start");
    rc = oq_gen_config_check(cfg, err);
    if (rc && err) {
        char msg[sizeof err->msg];
        snprintf(msg, sizeof msg, "%s", err->msg);
        rc = oq_error_set(err, OQ_EPARSE, file, 0, 0, "world: %s", msg);
    }
    return rc;
}

int oq_gen_world_load(const char *path, oq_gen_config *cfg, oq_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) return oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "%s", je.text);
    int rc = oq_gen_world_apply(root, path, cfg, err);
    json_decref(root);
    return rc;
}
