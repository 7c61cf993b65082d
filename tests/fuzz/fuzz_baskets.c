/* fuzz_baskets.c - libFuzzer target: the basket reader (rules.h). Accepted
 * baskets are well formed (offsets ascending, ids known, ascending and unique
 * within a basket); on small inputs the miner then runs on them without error
 * (positive rules, and negative ones when the input's size is odd) and every
 * rule is well formed (items known, rhs not in the lhs, support, confidence in
 * [0, 1], lift finite >= 0). Mining is bounded to inputs with <= 8 distinct
 * items and itemsets of <= 4 items: one basket of 12 items gave 2^12 frequent
 * itemsets and 25k rules (60 ms under the sanitizers), and the miner took 85 %
 * of the target's time at <= 12 items (3k executions/s; 3x faster at 8). */
#include "offerq/xsell/rules.h"
#include "fuzz_util.h"

#include <math.h>
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
    p.max_len = 4;
    p.negative = (int)(size & 1);
    if (b->n > 0 && b->n < 200 && b->items.n <= 8) { /* bounded: <= 163 itemsets */
        rc = oq_rules_mine(b, &p, &r, &err);
        fuzz_check_rejection(rc, &err);
        if (rc == 0) {
            if (r->n != r->n_positive + r->n_negative || (!p.negative && r->n_negative)) abort();
            for (size_t i = 0; i < r->n; i++) {
                const oq_rule *u = &r->rule[i];
                if (u->rhs >= b->items.n || u->lhs_len < 1 || u->lhs_len + 1 > 4 ||
                    u->lhs_off + u->lhs_len > r->n_items)
                    abort();
                for (uint32_t j = 0; j < u->lhs_len; j++)
                    if (r->items[u->lhs_off + j] >= b->items.n ||
                        r->items[u->lhs_off + j] == u->rhs)
                        abort();
                if (!(u->support >= 0 && u->support <= 1 && u->confidence >= 0 &&
                      u->confidence <= 1 && u->lift >= 0 && isfinite(u->lift)))
                    abort();
            }
        } else if (r) {
            abort();
        }
        oq_ruleset_free(r);
    }
    oq_baskets_free(b);
    return 0;
}
