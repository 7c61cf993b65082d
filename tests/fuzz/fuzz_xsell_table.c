/* fuzz_xsell_table.c - libFuzzer target: the cross-selling Q-table loader
 * (crosssell.h, oq_xsell_qtable_load). Odd first byte: CRC fixed up. An
 * accepted table has a valid MDP and answers a greedy decision for the
 * full-inventory state of every item. */
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
    for (int e = 0; e < m->n_items; e++) {
        int d = -1;
        double q = 0;
        int seen = oq_xsell_qtable_decide(t, inv, e, &d, &q);
        if (seen < 0 || d < 0 || d >= D) abort();
    }
    oq_xsell_qtable_free(t);
    return 0;
}
