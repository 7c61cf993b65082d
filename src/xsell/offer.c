/* xsell_offer.c - answering one cross-sell request with a learned table:
 * `offerq crosssell offer` and GET /v1/crosssell of `offerq serve` share
 * this lookup (include/offerq/xsell/crosssell.h, "answering requests"). */
#include "offerq/xsell/crosssell.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

int oq_xsell_item_find(const oq_xsell_mdp *m, const char *name)
{
    for (int i = 0; i < m->n_items; i++)
        if (strcmp(m->items[i].name, name) == 0) return i;
    char *end;
    errno = 0;
    long v = strtol(name, &end, 10);
    if (name[0] >= '0' && name[0] <= '9' && !*end && !errno && v >= 1 && v <= m->n_items)
        return (int)v - 1;
    return -1;
}

int oq_xsell_items_match(const oq_xsell_mdp *m, const oq_xsell_mdp *cur, oq_error *err)
{
    int n = m->n_items < cur->n_items ? m->n_items : cur->n_items;
    for (int i = 0; i < n; i++)
        if (strcmp(m->items[i].name, cur->items[i].name) != 0)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                                "item %d is '%s' in the table but '%s' in the items file "
                                "(same items in the same order expected)",
                                i + 1, m->items[i].name, cur->items[i].name);
    if (m->n_items != cur->n_items)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "the table has %d items, the items file %d",
                            m->n_items, cur->n_items);
    return 0;
}

int oq_xsell_offer_lookup(const oq_xsell_qtable *t, const char *item, const long *inv, size_t n,
                          const oq_xsell_mdp *prices, oq_xsell_offer *out, oq_error *err)
{
    const oq_xsell_mdp *m = oq_xsell_qtable_mdp(t);
    const oq_xsell_mdp *p = prices ? prices : m;
    int N = m->n_items;
    memset(out, 0, sizeof *out);
    out->bundle = out->level = -1;
    int e = oq_xsell_item_find(m, item);
    if (e < 0)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "unknown item '%s' (not an item of the table)", item);
    if (n != (size_t)N)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "inventory has %zu counts, the table has %d items", n, N);
    uint32_t x[OQ_XSELL_MAX_ITEMS] = {0};
    for (int i = 0; i < N; i++) {
        if (inv[i] < 0 || inv[i] > (long)m->items[i].capacity)
            return oq_error_set(
                err, OQ_EINVAL, NULL, 0, 0,
                "inventory of '%s' must be in [0, %u] (the table's capacity), got %ld",
                m->items[i].name, m->items[i].capacity, inv[i]);
        x[i] = (uint32_t)inv[i];
    }
    if (x[e] == 0)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "'%s' is out of stock: there is nothing to sell", m->items[e].name);
    int j, k;
    oq_xsell_answer a;
    out->item = e;
    oq_xsell_qtable_answer(t, x, e, &a);
    out->learned = a.how == OQ_XSELL_ANS_SEEN;
    out->how = a.how;
    out->distance = a.distance;
    out->q = a.q;
    out->visits = a.visits;
    oq_xsell_decision_decode(m, a.d, &j, &k);
    out->item_price = p->items[e].price;
    /* H(s, e) of the table excludes add-ons below the table's costs; current
     * prices may move an add-on below its current cost: then no bundle. */
    if (j >= 0 && oq_xsell_addon_price(p, j, k) < p->items[j].cost) {
        out->below_cost = 1;
        j = -1;
    }
    if (j >= 0) {
        out->bundle = j;
        out->level = k;
        out->discount = m->disc[k];
        out->addon_list = p->items[j].price;
        out->addon_price = oq_xsell_addon_price(p, j, k);
    }
    out->bundle_price = out->item_price + out->addon_price;
    return 0;
}

int oq_xsell_offer_json(const oq_xsell_mdp *m, const oq_xsell_offer *o, json_t *obj)
{
    int bad = 0;
    bad |= json_object_set_new(obj, "item", json_string(m->items[o->item].name));
    bad |= json_object_set_new(
        obj, "bundle", o->bundle >= 0 ? json_string(m->items[o->bundle].name) : json_null());
    bad |= json_object_set_new(obj, "discount", json_real(o->discount));
    bad |= json_object_set_new(obj, "item_price", json_real(o->item_price));
    bad |= json_object_set_new(obj, "addon_list_price", json_real(o->addon_list));
    bad |= json_object_set_new(obj, "addon_price", json_real(o->addon_price));
    bad |= json_object_set_new(obj, "bundle_price", json_real(o->bundle_price));
    bad |= json_object_set_new(obj, "q", json_real(o->q));
    bad |= json_object_set_new(obj, "learned", json_boolean(o->learned));
    bad |= json_object_set_new(obj, "visits", json_integer(o->visits));
    static const char *how[4] = {"seen", "model", "nearest", "none"};
    bad |= json_object_set_new(obj, "answered", json_string(how[o->how & 3]));
    if (o->how == OQ_XSELL_ANS_NEAREST)
        bad |= json_object_set_new(obj, "distance", json_integer(o->distance));
    if (o->below_cost) bad |= json_object_set_new(obj, "below_cost", json_true());
    return bad ? OQ_ENOMEM : 0;
}
