/* fuzz_xsell_csv.c - libFuzzer target: the cross-selling input files
 * (crosssell.h): even first byte, the items CSV (oq_xsell_items_read); odd,
 * the rules CSV (oq_xsell_rules_read) against a fixed 3-item MDP. Accepted
 * items form a valid MDP; accepted rules name known, distinct items. */
#include "offerq/xsell/crosssell.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    const char *path = fuzz_file(data + 1, size - 1);
    oq_error err = {0};
    if ((data[0] & 1) == 0) {
        oq_xsell_sim s;
        oq_xsell_sim_default(&s);
        int rc = oq_xsell_items_read(path, 10.0, &s, &err);
        fuzz_check_rejection(rc, &err);
        if (rc == 0) {
            oq_error e2 = {0};
            if (oq_xsell_mdp_check(&s.mdp, &e2)) abort();
            for (int i = 0; i < s.mdp.n_items; i++)
                if (!(s.arrival[i] >= 0 && isfinite(s.arrival[i]))) abort();
        }
        return 0;
    }
    oq_xsell_mdp m;
    memset(&m, 0, sizeof m);
    m.n_items = 3;
    m.n_disc = 2;
    m.disc[0] = 0.1;
    m.disc[1] = 0.2;
    static const char *names[] = {"bread", "milk, whole", "butter"};
    for (int i = 0; i < 3; i++) {
        snprintf(m.items[i].name, sizeof m.items[i].name, "%s", names[i]);
        m.items[i].price = 2 + i;
        m.items[i].cost = 1;
        m.items[i].capacity = 3;
    }
    oq_xsell_rule *rules = NULL;
    size_t n = 0, skipped = 0;
    int rc = oq_xsell_rules_read(path, &m, &rules, &n, &skipped, &err);
    fuzz_check_rejection(rc, &err);
    if (rc == 0) {
        for (size_t i = 0; i < n; i++)
            if (rules[i].lhs_item >= 3 || rules[i].rhs_item >= 3 ||
                !(rules[i].confidence >= 0 && rules[i].confidence <= 1))
                abort();
    } else if (rules) {
        abort();
    }
    free(rules);
    return 0;
}
