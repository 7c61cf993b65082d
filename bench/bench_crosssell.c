/* bench_crosssell.c - K-Q-learning and plain Q-learning updates per second
 * on the paper's setting (5 items x 10 units), the DP optimum and the exact
 * policy evaluation over its 161,051 states, and the wall time of the quick
 * experiment. Writes bench/results/crosssell.md.
 *
 * Usage: bench_crosssell [OUT.md]   (default bench/results/crosssell.md) */
#include "offerq/xsell/crosssell.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>

typedef struct row {
    const char *what;
    double value;
    const char *unit;
} row;

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    const char *out = argc > 1 ? argv[1] : "bench/results/crosssell.md";
    oq_error err = {0};
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    oq_xsell_rule ru[6] = {{0, 1, 0.8, 0},  {1, 2, 0.7, 0}, {2, 0, 0.6, 0},
                           {3, 4, 0.75, 0}, {4, 3, 0.9, 1}, {0, 3, 0.8, 1}};
    oq_xsell_kb kb;
    if (oq_xsell_sim_plant(&s, ru, 6, &err) || oq_xsell_kb_build(&s.mdp, ru, 6, &kb, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    row rows[8];
    int nr = 0;
    double ups[2];
    for (int m = 0; m < 2; m++) {
        oq_xsell_qtable *t = NULL;
        gsl_rng *r = oq_rng_new(1, (uint64_t)m);
        oq_xsell_learn_opts o;
        oq_xsell_learn_opts_default(&o, m);
        if (oq_xsell_qtable_new(&s.mdp, &t, &err)) return 1;
        long updates = 0, episodes = 20000;
        double t0 = oq_now();
        for (long ep = 0; ep < episodes; ep++) {
            oq_xsell_episode e;
            if (oq_xsell_learn_episode(t, &s, &kb, &o, r, &e, &err)) return 1;
            updates += e.requests;
        }
        double dt = oq_now() - t0;
        ups[m] = updates / dt;
        printf("%s: %ld seasons, %ld Q updates in %.3f s: %.3g updates/s, %zu entries\n",
               m ? "plain Q" : "K-Q", episodes, updates, dt, ups[m], oq_xsell_qtable_size(t));
        oq_xsell_qtable_free(t);
        gsl_rng_free(r);
    }
    rows[nr++] = (row){"K-Q-learning Q updates per second (paper setting, 6 rules)", ups[0], "/s"};
    rows[nr++] = (row){"plain Q-learning Q updates per second", ups[1], "/s"};
    rows[nr++] = (row){"ratio K-Q / plain Q", ups[0] / ups[1], "x"};
    double t0 = oq_now(), v, p;
    uint8_t *dec = NULL;
    if (oq_xsell_dp_solve(&s, &dec, &v, &p, &err)) return 1;
    double dp_s = oq_now() - t0;
    t0 = oq_now();
    if (oq_xsell_evaluate(&s, dec, &v, &p, &err)) return 1;
    double ev_s = oq_now() - t0;
    free(dec);
    printf("DP over 161,051 states: %.3f s; exact policy evaluation: %.4f s\n", dp_s, ev_s);
    rows[nr++] = (row){"DP optimum, 161,051 states x 5 events x 21 decisions", dp_s, "s"};
    rows[nr++] = (row){"exact evaluation of one policy (same states)", ev_s, "s"};
    oq_xsell_exp_config c;
    oq_xsell_exp_default(&c, 1);
    c.quiet = 1;
    c.threads = 1;
    oq_xsell_exp_result res;
    t0 = oq_now();
    if (oq_xsell_experiment(&c, NULL, &res, &err)) return 1;
    double ex_s = oq_now() - t0;
    printf("quick experiment (1 thread): %.2f s\n", ex_s);
    rows[nr++] = (row){"`crosssell experiment --quick` wall time, 1 thread", ex_s, "s"};

    oq_afile af;
    if (oq_afile_open(&af, out, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    fprintf(af.fp, "# bench_crosssell\n\n| measure | value |\n|---|---|\n");
    for (int i = 0; i < nr; i++)
        fprintf(af.fp, "| %s | %.4g %s |\n", rows[i].what, rows[i].value, rows[i].unit);
    fprintf(af.fp, "\nCommand: `cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo && make -C "
                   "build -j2 bench_crosssell && ./build/bench_crosssell`\n"
                   "(RelWithDebInfo -O2, one core of a shared 2-core machine; the full "
                   "experiment's wall time is in docs/readme/crosssell.md.)\n");
    if (oq_afile_commit(&af, &err)) {
        fprintf(stderr, "%s\n", err.msg);
        return 1;
    }
    return 0;
}
