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
    const struct field *inner; /* F_OBJ: its fields, ended by a NULL key */
    size_t off;                /* offset in oq_gen_config */
    double lo, hi;             /* accepted range (inclusive) */
    int kind;
    int n; /* F_ARR: elements */
} field;

#define OFF(m) offsetof(oq_gen_config, m)
#define NUM(k, m, lo, hi)                                                                          \
    {                                                                                              \
        k, NULL, OFF(m), lo, hi, F_NUM, 0                                                          \
    }
#define INT(k, m, lo, hi)                                                                          \
    {                                                                                              \
        k, NULL, OFF(m), lo, hi, F_INT, 0                                                          \
    }
#define LONG(k, m, lo, hi)                                                                         \
    {                                                                                              \
        k, NULL, OFF(m), lo, hi, F_LONG, 0                                                         \
    }
#define DATE(k, m)                                                                                 \
    {                                                                                              \
        k, NULL, OFF(m), 0, 0, F_DATE, 0                                                           \
    }
#define ARR(k, m, n, lo, hi)                                                                       \
    {                                                                                              \
        k, NULL, OFF(m), lo, hi, F_ARR, n                                                          \
    }
#define OBJ(k, t)                                                                                  \
    {                                                                                              \
        k, t, 0, 0, 0, F_OBJ, 0                                                                    \
    }
#define END                                                                                        \
    {                                                                                              \
        NULL, NULL, 0, 0, 0, 0, 0                                                                  \
    }

static const field f_bgnbd[] = {NUM("r", r, 1e-6, 1e6), NUM("alpha", alpha, 1e-6, 1e6),
                                NUM("a", a, 1e-6, 1e6), NUM("b", b, 1e-6, 1e6), END};
static const field f_aov[] = {NUM("median", aov_median, 1e-6, 1e9), NUM("sigma", aov_sigma, 0, 5),
                              END};
static const field f_cats[] = {INT("count", n_cats, 2, OQ_GEN_MAX_CATS),
                               ARR("value", cat_value, OQ_GEN_NAMED_CATS, 0, 1e6),
                               ARR("margin", cat_margin, OQ_GEN_NAMED_CATS, 0, 1),
                               NUM("order_in_favourite", order_in_favourite, 0, 1),
                               NUM("drift", drift, 0, 1),
                               END};
static const field f_pers[] = {NUM("qmax_lo", qmax_lo, 0, 1),
                               NUM("qmax_width", qmax_width, 0, 1),
                               NUM("sens_lo", sens_lo, 1e-6, 1e6),
                               NUM("sens_width", sens_width, 0, 1e6),
                               INT("lead_days", lead_days, 0, OQ_GEN_MAX_LEAD),
                               END};
static const field f_types[] = {ARR("mix", type_mix, OQ_GEN_NTYPES, 0, 1),
                                ARR("intent", intent, OQ_GEN_NTYPES, 0, 1),
                                NUM("sleeping_factor", sleeping_factor, 0, 10),
                                OBJ("persuadable", f_pers),
                                ARR("browse_concentration", conc, OQ_GEN_NTYPES, 0, 1),
                                ARR("visit", visit, OQ_GEN_NTYPES, 0, 0.7),
                                END};
static const field f_lasting[] = {NUM("lapse", lasting.lapse, 0, 1),
                                  NUM("lapse_days", lasting.lapse_days, 0, 1e4),
                                  NUM("deal", lasting.deal, 0, 10),
                                  NUM("deal_days", lasting.deal_days, 0, 1e4),
                                  NUM("weekly", lasting.weekly, 0, 0.99),
                                  NUM("campaign_budget", lasting.campaign_budget, 0, 1e9),
                                  NUM("contact_rate", lasting.contact_rate, 0, 1),
                                  END};
static const field f_world[] = {LONG("customers", n_customers, 1, 1e8),
                                DATE("start", start_day),
                                DATE("end", end_day),
                                INT("snapshots", snapshots, 1, 64),
                                INT("birth_window", birth_window, 1, 1e5),
                                OBJ("bgnbd", f_bgnbd),
                                OBJ("aov", f_aov),
                                OBJ("categories", f_cats),
                                OBJ("types", f_types),
                                NUM("contact_effect", contact_effect, 0, 3),
                                ARR("logging_propensity", p_log, 4, 0, 1),
                                NUM("budget_left_end", budget_left_end, 0, 0.999),
                                OBJ("lasting", f_lasting),
                                END};

/* Fields are reached by offset; memcpy keeps the types honest. */
static double get_num(const oq_gen_config *c, size_t off)
{
    double v;
    memcpy(&v, (const unsigned char *)c + off, sizeof v);
    return v;
}

static void set_num(oq_gen_config *c, size_t off, double v)
{
    memcpy((unsigned char *)c + off, &v, sizeof v);
}

static json_t *print_obj(const field *fs, const oq_gen_config *cfg)
{
    json_t *o = json_object();
    const unsigned char *base = (const unsigned char *)cfg;
    for (const field *f = fs; o && f->key; f++) {
        json_t *v = NULL;
        switch (f->kind) {
        case F_NUM:
            v = json_real(get_num(cfg, f->off));
            break;
        case F_INT: {
            int i;
            memcpy(&i, base + f->off, sizeof i);
            v = json_integer(i);
            break;
        }
        case F_LONG: {
            long l;
            memcpy(&l, base + f->off, sizeof l);
            v = json_integer(l);
            break;
        }
        case F_DATE: {
            char d[11];
            int32_t day;
            memcpy(&day, base + f->off, sizeof day);
            oq_date_format(day, d);
            v = json_string(d);
            break;
        }
        case F_ARR:
            v = json_array();
            for (int i = 0; v && i < f->n; i++)
                if (json_array_append_new(
                        v, json_real(get_num(cfg, f->off + (size_t)i * sizeof(double))))) {
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
        double x = 0;
        int rc = 0;
        switch (f->kind) {
        case F_NUM:
            if (!(rc = read_num(v, f, file, path, &x, err))) set_num(cfg, f->off, x);
            break;
        case F_INT:
        case F_LONG:
            if (!json_is_integer(v)) return bad(err, file, path, "expected an integer");
            if (!(rc = read_num(v, f, file, path, &x, err))) {
                int i = (int)x;
                long l = (long)x;
                if (f->kind == F_INT)
                    memcpy((unsigned char *)cfg + f->off, &i, sizeof i);
                else
                    memcpy((unsigned char *)cfg + f->off, &l, sizeof l);
            }
            break;
        case F_DATE: {
            const char *s = json_string_value(v);
            int32_t day;
            if (!s || oq_date_parse(s, strlen(s), &day))
                return bad(err, file, path, "expected a date \"YYYY-MM-DD\"");
            memcpy((unsigned char *)cfg + f->off, &day, sizeof day);
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
                    set_num(cfg, f->off + i * sizeof(double), x);
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
