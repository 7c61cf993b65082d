/* fuzz_qtable.c - libFuzzer target: the Dyna-Q table loader (dynaq.h,
 * oq_qtable_load). Odd first byte: the CRC is fixed up so the body parser is
 * reached (fuzz_util.h). An accepted table has a valid discretisation,
 * unique findable keys, and saves to a file that loads back identical. */
#include "offerq/coupon/dynaq.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    unsigned char *buf = fuzz_with_crc(data, size, &len);
    oq_qtable *q = NULL;
    oq_error err = {0};
    int rc = oq_qtable_load(fuzz_file(buf, len), &q, &err);
    fuzz_check_rejection(rc, &err);
    free(buf);
    if (rc) {
        if (q) abort();
        return 0;
    }
    oq_error e2 = {0};
    if (oq_dynaq_disc_check(&q->disc, &e2)) abort();
    for (size_t i = 0; i < q->n; i++) {
        if (oq_qtable_find(q, q->key[i]) != (long)i) abort();
        int a = oq_qtable_argmax(q, i);
        if (a < 0 || a >= 4) abort();
    }
    oq_qtable_free(q);
    return 0;
}
