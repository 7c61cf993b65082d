/* xsell_io.c - readers of the cross-selling items file and of the rules file
 * that `offerq rules` writes (type,lhs,rhs,support,confidence,lift,count). */
#include "offerq/xsell/crosssell.h"
#include "offerq/core/csv.h"
#include "util/num.h"
#include "util/utf8.h"

#include <stdlib.h>
#include <string.h>

typedef struct items_ctx {
    const char *path;
    oq_xsell_sim *s;
    int c_item, c_price, c_cost, c_inv, c_arr; /* fields (-1: no arrival column) */
    size_t ncol;                               /* fields of the header: every row has as many */
    int header_done;
    int have_arrival[OQ_XSELL_MAX_ITEMS];
} items_ctx;

static int bad(oq_error *err, const char *path, long line, int col, const char *what,
               const char *got)
{
    return oq_error_set(err, OQ_EPARSE, path, line, col + 1, "expected %s, got '%s'", what, got);
}

static int items_row(void *vctx, char **f, const size_t *lens, size_t nf, long line, oq_error *err)
{
    items_ctx *c = vctx;
    if (!c->header_done) {
        static const oq_csv_col cols[5] = {{"item", 1, NULL},
                                           {"price", 1, NULL},
                                           {"cost", 1, NULL},
                                           {"inventory", 1, NULL},
                                           {"arrival", 0, NULL}};
        int col[5];
        int rc = oq_csv_header_map(c->path, line, f, nf, cols, 5, 0, col, err);
        if (rc) return rc;
        c->c_item = col[0];
        c->c_price = col[1];
        c->c_cost = col[2];
        c->c_inv = col[3];
        c->c_arr = col[4];
        c->ncol = nf;
        c->header_done = 1;
        return 0;
    }
    oq_xsell_mdp *m = &c->s->mdp;
    if (nf != c->ncol)
        return oq_error_set(err, OQ_EPARSE, c->path, line, nf > c->ncol ? (long)c->ncol + 1 : 0,
                            "expected %zu fields (as the header), got %zu", c->ncol, nf);
    if (m->n_items >= OQ_XSELL_MAX_ITEMS)
        return oq_error_set(err, OQ_ELIMIT, c->path, line, 0,
                            "more than %d items: cross-sell sets are small (use ROCK clusters)",
                            OQ_XSELL_MAX_ITEMS);
    oq_xsell_item *it = &m->items[m->n_items];
    memset(it, 0, sizeof *it);
    size_t nl = lens[c->c_item];
    if (nl == 0 || nl > OQ_XSELL_NAME_MAX || !oq_utf8_name_ok(f[c->c_item], nl))
        return oq_error_set(err, OQ_EPARSE, c->path, line, c->c_item + 1,
                            "expected an item name of 1..%d bytes of valid UTF-8 without "
                            "control characters",
                            OQ_XSELL_NAME_MAX);
    memcpy(it->name, f[c->c_item], nl);
    for (int i = 0; i < m->n_items; i++)
        if (strcmp(m->items[i].name, it->name) == 0)
            return oq_error_set(err, OQ_EPARSE, c->path, line, c->c_item + 1,
                                "item '%s' appears twice", it->name);
    int64_t inv;
    if (oq_parse_f64(f[c->c_price], lens[c->c_price], &it->price) ||
        !(it->price > 0 && it->price <= OQ_XSELL_PRICE_MAX))
        return bad(err, c->path, line, c->c_price, "a price in (0, 1e9]", f[c->c_price]);
    if (oq_parse_f64(f[c->c_cost], lens[c->c_cost], &it->cost) ||
        !(it->cost >= 0 && it->cost <= it->price))
        return bad(err, c->path, line, c->c_cost, "a cost in [0, price]", f[c->c_cost]);
    if (oq_parse_i64(f[c->c_inv], lens[c->c_inv], &inv) || inv < 0 || inv > 65535)
        return bad(err, c->path, line, c->c_inv, "an inventory in [0, 65535]", f[c->c_inv]);
    it->capacity = (uint32_t)inv;
    c->have_arrival[m->n_items] = 0;
    if (c->c_arr >= 0 && lens[c->c_arr] > 0) {
        double a;
        if (oq_parse_f64(f[c->c_arr], lens[c->c_arr], &a) || !(a >= 0 && a <= 1))
            return bad(err, c->path, line, c->c_arr, "an arrival probability in [0, 1]",
                       f[c->c_arr]);
        c->s->arrival[m->n_items] = a;
        c->have_arrival[m->n_items] = 1;
    }
    m->n_items++;
    return 0;
}

int oq_xsell_items_read(const char *path, double arrival_total, oq_xsell_sim *s, oq_error *err)
{
    items_ctx c = {0};
    c.path = path;
    c.s = s;
    s->mdp.n_items = 0;
    int rc = oq_csv_read(path, NULL, items_row, &c, err);
    if (rc) return rc;
    if (s->mdp.n_items < 2)
        return oq_error_set(err, OQ_EINVAL, path, 0, 0, "at least two items are needed, got %d",
                            s->mdp.n_items);
    double given = 0;
    int missing = 0;
    for (int i = 0; i < s->mdp.n_items; i++) {
        if (c.have_arrival[i])
            given += s->arrival[i];
        else
            missing++;
    }
    for (int i = 0; i < s->mdp.n_items; i++)
        if (!c.have_arrival[i]) s->arrival[i] = arrival_total / missing;
    if (given + (missing ? arrival_total : 0) > 1 + 1e-12)
        return oq_error_set(err, OQ_EINVAL, path, 0, 0,
                            "arrival probabilities sum to more than 1 (at most one buyer per "
                            "period)");
    return oq_xsell_mdp_check(&s->mdp, err);
}

typedef struct rules_ctx {
    const char *path;
    const oq_xsell_mdp *m;
    int c_type, c_lhs, c_rhs, c_conf;
    int header_done;
    oq_xsell_rule *rules;
    size_t n, cap, skipped;
} rules_ctx;

static int item_index(const oq_xsell_mdp *m, const char *name)
{
    for (int i = 0; i < m->n_items; i++)
        if (strcmp(m->items[i].name, name) == 0) return i;
    return -1;
}

static int rules_row(void *vctx, char **f, const size_t *lens, size_t nf, long line, oq_error *err)
{
    rules_ctx *c = vctx;
    if (!c->header_done) {
        /* The columns `offerq rules` writes that a table needs; the others
         * (support, lift, count) are ignored. */
        static const oq_csv_col cols[4] = {
            {"type", 1, NULL}, {"lhs", 1, NULL}, {"rhs", 1, NULL}, {"confidence", 1, NULL}};
        int col[4];
        int rc = oq_csv_header_map(c->path, line, f, nf, cols, 4, 1, col, err);
        if (rc) return rc;
        c->c_type = col[0];
        c->c_lhs = col[1];
        c->c_rhs = col[2];
        c->c_conf = col[3];
        c->header_done = 1;
        return 0;
    }
    int need = c->c_type;
    if (c->c_lhs > need) need = c->c_lhs;
    if (c->c_rhs > need) need = c->c_rhs;
    if (c->c_conf > need) need = c->c_conf;
    if ((int)nf <= need)
        return oq_error_set(err, OQ_EPARSE, c->path, line, 0, "expected %d fields, got %zu",
                            need + 1, nf);
    int neg;
    if (strcmp(f[c->c_type], "positive") == 0)
        neg = 0;
    else if (strcmp(f[c->c_type], "negative") == 0)
        neg = 1;
    else
        return bad(err, c->path, line, c->c_type, "positive or negative", f[c->c_type]);
    double conf;
    if (oq_parse_f64(f[c->c_conf], lens[c->c_conf], &conf) || !(conf >= 0 && conf <= 1))
        return bad(err, c->path, line, c->c_conf, "a confidence in [0, 1]", f[c->c_conf]);
    int l = item_index(c->m, f[c->c_lhs]), r = item_index(c->m, f[c->c_rhs]);
    if (l < 0 || r < 0 || l == r) { /* itemsets ("a & b") and items outside the set */
        c->skipped++;
        return 0;
    }
    if (c->n == c->cap) {
        size_t nc = c->cap ? 2 * c->cap : 64;
        oq_xsell_rule *nr = realloc(c->rules, nc * sizeof *nr);
        if (!nr) return oq_error_set(err, OQ_ENOMEM, c->path, line, 0, "out of memory");
        c->rules = nr;
        c->cap = nc;
    }
    c->rules[c->n++] = (oq_xsell_rule){(uint32_t)l, (uint32_t)r, conf, neg};
    return 0;
}

int oq_xsell_rules_read(const char *path, const oq_xsell_mdp *m, oq_xsell_rule **rules,
                        size_t *n_rules, size_t *skipped, oq_error *err)
{
    rules_ctx c = {0};
    c.path = path;
    c.m = m;
    *rules = NULL;
    *n_rules = 0;
    if (skipped) *skipped = 0;
    int rc = oq_csv_read(path, NULL, rules_row, &c, err);
    if (rc) {
        free(c.rules);
        return rc;
    }
    *rules = c.rules;
    *n_rules = c.n;
    if (skipped) *skipped = c.skipped;
    return 0;
}
