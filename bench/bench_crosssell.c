/* bench_crosssell.c - cross-selling: the speed of K-Q-learning (factored),
 * the paper's tabular K-Q and plain Q-learning on the paper's setting
 * (5 items x 10 units), the DP optimum, the exact evaluation and the
 * table's answers over its 161,051 states, the quick experiment's wall
 * time; with --full DIR, also the full experiment of docs/readme/crosssell.md
 * (figures 2a/2b, 20 runs per point, the knowledge ablation: long), whose
 * results table goes into the same file. Writes bench/results/crosssell.md.
 *
 * Usage: bench_crosssell [--out OUT.md] [--full DIR | --from DIR] [--threads T]
 *                        [--objective profit|revenue]
 *        (default OUT bench/results/crosssell.md; the speed rows only
 *        without --full; --from DIR embeds the results of an earlier --full
 *        run in DIR instead of running it again) */
#include "offerq/xsell/crosssell.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct row {
    const char *what;
    double value;
    const char *unit;
} row;

static int fail(const oq_error *err)
{
    fprintf(stderr, "bench_crosssell: %s\n", err->msg);
    return 1;
}

/* Seasons of method in s: decisions per second (fits included) and the
 * table (caller frees). */
static int run_learner(const oq_xsell_sim *s, const oq_xsell_kb *kb, int method, long seasons,
                       double *per_s, oq_xsell_qtable **out, oq_error *err)
{
    oq_xsell_qtable *t = NULL;
    gsl_rng *r = oq_rng_new(1, (uint64_t)method);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, method);
    int rc = oq_xsell_qtable_new(&s->mdp, &t, err);
    long decisions = 0;
    double t0 = oq_now();
    for (long ep = 0; !rc && ep < seasons; ep++) {
        oq_xsell_episode e;
        rc = oq_xsell_learn_episode(t, s, method == OQ_XSELL_QLEARN ? NULL : kb, &o, r, &e, err);
        decisions += e.requests;
    }
    double dt = oq_now() - t0;
    gsl_rng_free(r);
    if (rc) {
        oq_xsell_qtable_free(t);
        return rc;
    }
    *per_s = (double)decisions / dt;
    printf("%s: %ld seasons, %ld decisions in %.3f s: %.3g decisions/s, %zu entries\n",
           oq_xsell_method_name(method), seasons, decisions, dt, *per_s, oq_xsell_qtable_size(t));
    *out = t;
    return 0;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    const char *out = "bench/results/crosssell.md", *full = NULL;
    int from = 0;
    int threads = 0, objective = OQ_XSELL_OBJ_PROFIT;
    for (int a = 1; a < argc; a++) {
        if (!strcmp(argv[a], "--out") && a + 1 < argc)
            out = argv[++a];
        else if ((!strcmp(argv[a], "--full") || !strcmp(argv[a], "--from")) && a + 1 < argc) {
            from = !strcmp(argv[a], "--from");
            full = argv[++a];
        } else if (!strcmp(argv[a], "--threads") && a + 1 < argc)
            threads = atoi(argv[++a]);
        else if (!strcmp(argv[a], "--objective") && a + 1 < argc &&
                 oq_xsell_objective_parse(argv[a + 1]) >= 0)
            objective = oq_xsell_objective_parse(argv[++a]);
        else {
            fprintf(stderr, "usage: bench_crosssell [--out OUT.md] [--full DIR | --from DIR] "
                            "[--threads T] [--objective profit|revenue]\n");
            return 2;
        }
    }
    oq_error err = {0};
    oq_xsell_sim s;
    oq_xsell_sim_default(&s);
    s.mdp.objective = objective;
    oq_xsell_rule ru[6] = {{0, 1, 0.8, 0},  {1, 2, 0.7, 0}, {2, 0, 0.6, 0},
                           {3, 4, 0.75, 0}, {4, 3, 0.9, 1}, {0, 3, 0.8, 1}};
    oq_xsell_kb kb;
    if (oq_xsell_sim_plant(&s, ru, 6, &err) || oq_xsell_kb_build(&s.mdp, ru, 6, &kb, &err))
        return fail(&err);
    row rows[24];
    int nr = 0;
    uint64_t S = oq_xsell_n_states(&s.mdp);
    uint8_t *dec = malloc(S * (size_t)s.mdp.n_items);
    if (!dec) return 1;
    static const int methods[3] = {OQ_XSELL_KQ, OQ_XSELL_KQ_TABULAR, OQ_XSELL_QLEARN};
    static const char *what[3] = {
        "K-Q (factored) decisions per second, fits of W included (paper setting, 6 rules)",
        "the paper's tabular K-Q, decisions (Q updates) per second",
        "plain tabular Q-learning, decisions (Q updates) per second"};
    static const char *ans[3] = {"answers of a factored table for all 805,255 (state, request)", "",
                                 ("answers of a tabular table for all 805,255 (state, request), "
                                  "unseen ones from the nearest seen state")};
    for (int m = 0; m < 3; m++) {
        oq_xsell_qtable *t = NULL;
        double ups;
        if (run_learner(&s, &kb, methods[m], methods[m] == OQ_XSELL_KQ ? 2000 : 20000, &ups, &t,
                        &err))
            return fail(&err);
        rows[nr++] = (row){what[m], ups, "/s"};
        if (methods[m] == OQ_XSELL_KQ) {
            double t0 = oq_now();
            if (oq_xsell_qtable_solve(t, &err)) return fail(&err);
            rows[nr++] = (row){"one fit of W (least-squares policy iteration) after 2,000 seasons",
                               oq_now() - t0, "s"};
        }
        if (*ans[m]) {
            double t0 = oq_now();
            if (oq_xsell_qtable_greedy(t, dec, &err)) return fail(&err);
            rows[nr++] = (row){ans[m], oq_now() - t0, "s"};
            /* one answer at a time, as `offer` and `serve` give them: from a
             * loaded table (a tabular one then has its nearest-state index),
             * at random inventories (mostly never seen) */
            oq_xsell_qtable *u = NULL;
            const char *tmp = "bench_crosssell.tmp.oxq";
            if (oq_xsell_qtable_save(t, tmp, &err) || oq_xsell_qtable_load(tmp, &u, &err))
                return fail(&err);
            remove(tmp);
            gsl_rng *r = oq_rng_new(2, 0);
            uint32_t inv[OQ_XSELL_MAX_ITEMS];
            int unseen = 0, n = 2000;
            t0 = oq_now();
            for (int k = 0; k < n; k++) {
                for (int i = 0; i < s.mdp.n_items; i++)
                    inv[i] = 1 + (uint32_t)gsl_rng_uniform_int(r, s.mdp.items[i].capacity);
                oq_xsell_answer a;
                oq_xsell_qtable_answer(u, inv, k % s.mdp.n_items, &a);
                unseen += a.how != OQ_XSELL_ANS_SEEN;
            }
            double each = (oq_now() - t0) / n;
            printf("%s: one answer %.3g ms (%d of %d inventories unseen)\n",
                   oq_xsell_method_name(methods[m]), 1e3 * each, unseen, n);
            rows[nr++] = (row){methods[m] == OQ_XSELL_KQ
                                   ? "one answer of a loaded K-Q table (random inventories, most "
                                     "never seen)"
                                   : "one answer of a loaded tabular table (random inventories, "
                                     "most answered from the nearest seen one)",
                               1e3 * each, "ms"};
            gsl_rng_free(r);
            oq_xsell_qtable_free(u);
        }
        oq_xsell_qtable_free(t);
    }
    double t0 = oq_now(), v, p;
    uint8_t *dp = NULL;
    if (oq_xsell_dp_solve(&s, &dp, &v, &p, &err)) return fail(&err);
    double dp_s = oq_now() - t0;
    t0 = oq_now();
    if (oq_xsell_evaluate(&s, dp, &v, &p, &err)) return fail(&err);
    double ev_s = oq_now() - t0;
    free(dp);
    printf("DP over 161,051 states: %.3f s; exact policy evaluation: %.4f s\n", dp_s, ev_s);
    rows[nr++] = (row){"DP optimum, 161,051 states x 5 events x 21 decisions", dp_s, "s"};
    rows[nr++] = (row){"exact evaluation of one policy (same states)", ev_s, "s"};
    oq_xsell_exp_config c;
    oq_xsell_exp_default(&c, 1);
    c.sim.mdp.objective = objective;
    c.quiet = 1;
    c.threads = 1;
    oq_xsell_exp_result res;
    t0 = oq_now();
    if (oq_xsell_experiment(&c, NULL, &res, &err)) return fail(&err);
    double ex_s = oq_now() - t0;
    printf("quick experiment (1 thread): %.2f s\n", ex_s);
    rows[nr++] = (row){"`crosssell experiment --quick` wall time, 1 thread", ex_s, "s"};
    free(dec);

    char *table = NULL;
    size_t tlen = 0;
    double full_s = 0;
    oq_xsell_exp_config fc;
    if (full) {
        oq_xsell_exp_default(&fc, 0);
        fc.sim.mdp.objective = objective;
        fc.threads = threads;
        fc.ablation = 1;
        char path[4096];
        snprintf(path, sizeof path, "%s/x", full);
        if (!from) {
            if (oq_make_parents(path, &err)) return fail(&err);
            t0 = oq_now();
            if (oq_xsell_experiment(&fc, full, &res, &err)) return fail(&err);
            full_s = oq_now() - t0;
        } else { /* the wall time the run wrote in its summary */
            snprintf(path, sizeof path, "%s/summary.json", full);
            json_error_t je;
            json_t *sj = json_load_file(path, 0, &je);
            json_t *sec = sj ? json_object_get(sj, "seconds") : NULL;
            json_t *runs = sj ? json_object_get(sj, "runs") : NULL;
            if (!sec || !runs) {
                fprintf(stderr, "bench_crosssell: %s: no seconds or runs\n", path);
                json_decref(sj);
                return 1;
            }
            full_s = json_number_value(sec);
            fc.n_seeds = (int)json_integer_value(runs);
            json_decref(sj);
        }
        snprintf(path, sizeof path, "%s/results.md", full);
        if (oq_read_file(path, (size_t)1 << 24, &table, &tlen, &err)) return fail(&err);
    }
    oq_afile af;
    if (oq_afile_open(&af, out, &err)) return fail(&err);
    fprintf(af.fp, "# bench_crosssell\n\n| measure | value |\n|---|---|\n");
    for (int i = 0; i < nr; i++)
        fprintf(af.fp, "| %s | %.4g %s |\n", rows[i].what, rows[i].value, rows[i].unit);
    fprintf(af.fp,
            "\nObjective: %s. Command: `cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo "
            "&& make -C build -j2 bench_crosssell && ./build/bench_crosssell%s`\n"
            "(RelWithDebInfo -O2, a shared 2-core machine whose load from other work "
            "varied during the runs.)\n",
            oq_xsell_objective_name(objective),
            full ? (from ? " --from DIR (an earlier --full DIR)" : " --full DIR") : "");
    if (full) {
        fprintf(af.fp,
                "\n## The experiment (figures 2a, 2b)\n\n%d runs per point, %ld training seasons "
                "per run, %.0f s wall on the shared machine (`./build/bench_crosssell --full DIR "
                "--threads 2`, the same as `offerq crosssell experiment --out DIR --ablation "
                "--threads 2`). Figures: DIR/fig2a.svg, fig2b.svg, fig2b_share.svg, "
                "fig2b_scenarios.svg (copied to docs/img/crosssell_*.svg).\n\n",
                fc.n_seeds, fc.episodes, full_s);
        fwrite(table, 1, tlen, af.fp);
    }
    free(table);
    if (oq_afile_commit(&af, &err)) return fail(&err);
    return 0;
}
