/* fuzz_xsell_table.c - libFuzzer target: the cross-selling Q-table loader
 * (crosssell.h, oq_xsell_qtable_load). Odd first byte: CRC fixed up. An
 * accepted table has a valid MDP and answers a decision in the table's
 * decision set for the full-inventory state of every item and for a few
 * other inventories (seen or not: the factored Q, the nearest seen state). */
#include "offerq/xsell/crosssell.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t len;
    unsigned char *buf = fuzz_with_crc(data, size, &len);
    oq_xsell_qtable *t = NULL;
    oq_error err = {0};
    int rc = oq_xsell_qtable_load(fuzz_file(buf, len), &t, &err);
    fuzz_check_rejection(rc, &err);
    free(buf);
    if (rc) {
        if (t) abort();
        return 0;
    }
    const oq_xsell_mdp *m = oq_xsell_qtable_mdp(t);
    oq_error e2 = {0};
    if (oq_xsell_mdp_check(m, &e2)) abort();
    uint32_t inv[OQ_XSELL_MAX_ITEMS];
    for (int i = 0; i < m->n_items; i++)
        inv[i] = m->items[i].capacity;
    int D = oq_xsell_n_decisions(m);
    uint8_t valid[OQ_XSELL_MAX_DEC];
    for (int round = 0; round < 3; round++) {
        for (int i = 0; round > 0 && i < m->n_items; i++) /* half, then 1 of each */
            inv[i] = round == 1 ? (m->items[i].capacity + 1) / 2 : (m->items[i].capacity > 0);
        for (int e = 0; e < m->n_items; e++) {
            if (!inv[e]) continue;
            oq_xsell_answer a;
            oq_xsell_qtable_answer(t, inv, e, &a);
            oq_xsell_valid(m, inv, e, valid);
            if (a.d < 0 || a.d >= D || !valid[a.d] || a.how < 0 || a.how > OQ_XSELL_ANS_NONE)
                abort();
        }
    }
    oq_xsell_qtable_free(t);
    return 0;
}
