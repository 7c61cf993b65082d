/* fuzz_tables.c - libFuzzer target: the readers of a shop's own tables
 * (tables.h). The first byte picks the reader: 0 offers, 1 contacts (against
 * a fixed 3-offer catalogue), 2 customers, 3 customers and then the same
 * bytes read like them (oq_customers_read_like); the rest is the file.
 * Accepted tables must hold only what the readers promise. */
#include "offerq/core/tables.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_customers(const oq_customers *c)
{
    if (c->n == 0) abort();
    for (size_t k = 0; k < c->nattr; k++)
        for (size_t i = 0; i < c->n; i++) {
            double v = c->x[i * c->nattr + k];
            if (isnan(v)) continue;
            if (!isfinite(v)) abort();
            if (c->is_text[k] && !(v >= 0 && v < (double)c->nlevels[k] && v == floor(v))) abort();
        }
    for (size_t i = 0; i < c->n; i++)
        if (oq_customers_find(c, c->user[i]) != (long)i) abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    int which = data[0] & 3;
    const char *path = fuzz_file(data + 1, size - 1);
    oq_error err = {0};
    if (which == 0) {
        oq_offers *o = NULL;
        int rc = oq_offers_read(path, &o, &err);
        fuzz_check_rejection(rc, &err);
        if (rc) {
            if (o) abort();
            return 0;
        }
        if (o->n < 2 || o->n > OQ_TABLES_MAX_OFFERS) abort();
        for (size_t k = 0; k < o->n; k++) {
            if (!(o->redeem_cost[k] >= 0 && isfinite(o->redeem_cost[k]))) abort();
            if (oq_offers_find(o, o->name[k], strlen(o->name[k])) != (int)k) abort();
        }
        oq_offers_free(o);
    } else if (which == 1) {
        static char n0[] = "none", n1[] = "10% off", n2[] = "free shipping";
        static char *names[3] = {n0, n1, n2};
        static double zero[3] = {0, 0, 0};
        const oq_offers of = {.n = 3, .name = names, .redeem_cost = zero, .contact_cost = zero};
        oq_contacts *c = NULL;
        int rc = oq_contacts_read(path, NULL, &of, &c, &err);
        fuzz_check_rejection(rc, &err);
        if (rc) {
            if (c) abort();
            return 0;
        }
        for (size_t i = 0; i < c->n; i++) {
            if (c->offer[i] < 0 || c->offer[i] > 2 || c->ordered[i] > 1) abort();
            if (!isfinite(c->value[i]) || !c->user[i][0]) abort();
            if (c->propensity && !(c->propensity[i] > 0 && c->propensity[i] <= 1)) abort();
        }
        oq_contacts_free(c);
    } else {
        oq_customers *c = NULL, *t = NULL;
        int rc = oq_customers_read(path, NULL, &c, &err);
        fuzz_check_rejection(rc, &err);
        if (rc) {
            if (c) abort();
            return 0;
        }
        check_customers(c);
        if (which == 3) {
            /* the same file read like itself: the same codes */
            rc = oq_customers_read_like(path, NULL, c, &t, &err);
            if (rc) abort();
            check_customers(t);
            if (t->n != c->n) abort();
            for (size_t i = 0; i < c->n * c->nattr; i++)
                if (!(t->x[i] == c->x[i] || (isnan(t->x[i]) && isnan(c->x[i])))) abort();
            oq_customers_free(t);
        }
        oq_customers_free(c);
    }
    return 0;
}
