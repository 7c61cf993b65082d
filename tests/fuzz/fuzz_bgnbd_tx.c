/* fuzz_bgnbd_tx.c - libFuzzer target: the plain transactions reader
 * (oq_bgnbd_tx_read; path-only, so the input goes through a memfd). The
 * first byte picks the id and date columns; accepted transactions are
 * summarised, and the summary must pass the reader's own checks. */
#include "offerq/coupon/bgnbd.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    int id_col = 1 + (data[0] & 3), date_col = (data[0] >> 2) & 7;
    oq_bgnbd_tx *tx = NULL;
    oq_error err = {0};
    int rc = oq_bgnbd_tx_read(fuzz_file(data + 1, size - 1), id_col, date_col, &tx, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) {
        if (tx) abort();
        return 0;
    }
    if (tx->n > tx->cap) abort();
    if (tx->n > 0) {
        oq_bgnbd_split sp = {1 + 6 * ((data[0] >> 5) & 1), OQ_BGNBD_NO_DATE, OQ_BGNBD_NO_DATE};
        oq_bgnbd_summary *s = NULL;
        rc = oq_bgnbd_summary_build(tx, &sp, &s, &err);
        fuzz_check_rejection(rc, &err);
        for (size_t i = 0; rc == 0 && i < s->n; i++) {
            double x = s->x[i], t = s->tx[i], T = s->T[i];
            if (!(x >= 0 && x == floor(x) && t >= 0 && t <= T && (x > 0 || t == 0))) abort();
        }
        oq_bgnbd_summary_free(s);
    }
    oq_bgnbd_tx_free(tx);
    return 0;
}
