/* fuzz_txtab.h - the orders/events reading step shared by fuzz_rawtables.c
 * (the readers alone) and fuzz_rawfeat.c (the features derived from what
 * they accept). Header-only, static. */
#ifndef OQ_FUZZ_TXTAB_H
#define OQ_FUZZ_TXTAB_H

#include "offerq/core/tables.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

/* An accepted table holds only what the readers promise. */
static inline void fuzz_check_txtab(const oq_txtab *t, int orders)
{
    for (size_t i = 0; i < t->n; i++) {
        if (!t->user[i] || !t->user[i][0]) abort();
        if (orders && !isfinite(t->value[i])) abort();
        if (t->cat && t->cat[i] && !t->cat[i][0]) abort();
    }
    if (!orders && (t->value || (t->n && !t->cat))) abort(); /* no rows: nothing grown */
}

/* The first byte picks orders (bit 0 clear, *orders = 1) or events (bit 0
 * set); the rest is the file. Returns the accepted table (checked; caller
 * frees) or NULL after checking that a refusal says why and hands nothing
 * back. */
static inline oq_txtab *fuzz_read_txtab(const uint8_t *data, size_t size, int *orders)
{
    if (size == 0) return NULL;
    *orders = !(data[0] & 1);
    const char *path = fuzz_file(data + 1, size - 1);
    oq_error err = {0};
    oq_txtab *t = NULL;
    int rc = *orders ? oq_orders_table_read(path, NULL, &t, &err)
                     : oq_events_table_read(path, NULL, &t, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) {
        if (t) abort();
        return NULL;
    }
    fuzz_check_txtab(t, *orders);
    return t;
}

#endif
