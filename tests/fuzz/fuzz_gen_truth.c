/* fuzz_gen_truth.c - libFuzzer target: the generator's truth loader
 * (gen.h, oq_gen_config_load; path-only, input through a memfd). An accepted
 * config passes the generator's checks: customers in [1, 1e8], a period
 * longer than birth window + snapshots, positive BG/NBD parameters,
 * probabilities summing to 1. One customer's truth is then drawn (plausible
 * sizes only), and three days after the log are played (world file and
 * lasting effects, gen.h). */
#include "offerq/coupon/gen.h"
#include "offerq/core/rng.h"
#include "fuzz_util.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_gen_config c;
    oq_error err = {0};
    int rc = oq_gen_config_load(fuzz_file(data, size), &c, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) return 0;
    if (c.n_customers < 1 || c.n_customers > 100000000 || c.snapshots < 1 || c.birth_window < 1 ||
        c.end_day <= c.start_day || !(c.r > 0 && c.a > 0) || c.n_cats < 2 ||
        c.n_cats > OQ_GEN_MAX_CATS)
        abort();
    double s = 0;
    for (int i = 0; i < 4; i++)
        s += c.p_log[i];
    if (!(fabs(s - 1) <= 1e-9)) abort();
    /* Simulating a customer costs O(days x purchase rate): only for configs
     * of a plausible size (a truth file is our own output, not user input). */
    if (c.end_day - c.start_day <= 3660 && c.r / c.alpha <= 10) {
        oq_gen_customer cu;
        if (oq_gen_customer_truth(&c, c.n_customers - 1, &cu) != 0) abort();
        /* And a few days after the log (the closed loop's world). */
        oq_gen_live lv;
        gsl_rng *rng = oq_rng_new(c.seed, 0);
        if (!rng || oq_gen_live_init(&c, c.n_customers - 1, &lv) != 0) abort();
        for (int32_t d = c.end_day + 1; d <= c.end_day + 3; d++) {
            oq_gen_outcome oc;
            double p, r, sp;
            int reached = oq_gen_live_contacted(&c, c.n_customers - 1, d, rng);
            oq_gen_live_expected(&c, &lv, d, reached ? 2 : -1, &p, &r, &sp);
            if (!(p >= 0 && p <= 1) || !isfinite(r)) abort();
            oq_gen_live_step(&c, c.n_customers - 1, &lv, d, reached, 2, rng, &oc);
        }
        gsl_rng_free(rng);
    }
    return 0;
}
