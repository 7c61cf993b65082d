/* fuzz_orders.c - libFuzzer target: the purchases-file reader
 * (oq_orders_read_mem, gross.h). Accepted files must hold only what the
 * reader promises: values finite and > 0, n <= cap. */
#include "offerq/coupon/gross.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_orders *o = NULL;
    oq_error err = {0};
    int rc = oq_orders_read_mem("fuzz.orders.csv", (const char *)data, size, &o, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) {
        if (o) abort();
        return 0;
    }
    if (o->n > o->cap && o->cap) abort();
    for (size_t i = 0; i < o->n; i++)
        if (!(isfinite(o->value[i]) && o->value[i] > 0)) abort();
    oq_orders_free(o);
    return 0;
}
