/* fuzz_baskets.c - libFuzzer target: the basket reader (rules.h). Accepted
 * baskets are well formed (offsets ascending, ids known, ascending and unique
 * within a basket); the miner then runs on them without error. */
#include "offerq/rules.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_baskets *b = NULL;
    oq_error err = {0};
    int rc = oq_baskets_read_mem("fuzz.csv", (const char *)data, size, &b, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) {
        if (b) abort();
        return 0;
    }
    if (b->off[0] != 0 || b->off[b->n] != b->nnz) abort();
    for (size_t i = 0; i < b->n; i++) {
        if (b->off[i] > b->off[i + 1]) abort();
        for (uint64_t k = b->off[i]; k < b->off[i + 1]; k++) {
            if (b->item[k] >= b->items.n) abort();
            if (k > b->off[i] && b->item[k] <= b->item[k - 1]) abort();
        }
    }
    oq_ruleset *r = NULL;
    oq_rules_params p;
    oq_rules_params_default(&p);
    p.min_support = 0.2;
    if (b->n > 0 && b->n < 200 && b->items.n <= 12) { /* bounded: 2^12 itemsets */
        rc = oq_rules_mine(b, &p, &r, &err);
        fuzz_check_rejection(rc, &err);
        oq_ruleset_free(r);
    }
    oq_baskets_free(b);
    return 0;
}
