/* fuzz_log.c - libFuzzer target: the customer-log reader must either accept
 * an input or reject it with a positioned error; never crash, leak or read
 * out of bounds. Accepted logs must satisfy the schema's invariants. */
#include "offerq/core/data.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_log *log = NULL;
    oq_error err = {0};
    int rc = oq_log_read_mem("fuzz.csv", (const char *)data, size, &log, &err);
    if (rc == 0) {
        for (size_t i = 0; i < log->n; i++) {
            if (log->days_since[i] < 0 || log->purchases_30d[i] < 0 || !(log->aov[i] >= 0) ||
                !(log->budget[i] >= 0 && log->budget[i] <= 1) || log->coupon[i] >= OQ_N_COUPONS ||
                log->order[i] > 1 || log->category[i] >= log->cats.n)
                abort();
        }
    } else if (log != NULL || err.msg[0] == 0) {
        abort(); /* a rejection must leave nothing behind and say why */
    }
    oq_log_free(log);
    return 0;
}
