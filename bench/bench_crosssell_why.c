/* bench_crosssell_why.c - why the paper's K-Q-learning falls short of the DP
 * optimum, measured on the paper's setting (5 items x 10 units, revenue,
 * 6 planted positive rules of the experiment's seed 1, run 0: the setting
 * of the numbers main reported before issue 19). Writes the tables of
 * docs/readme/crosssell.md, "Why the paper's K-Q falls short".
 *
 *   A. The tabular K-Q (one Q per (inventory, request, decision)) after
 *      2^k seasons: its answers as main gave them (unseen -> none), the
 *      same with every unseen pair answered by the DP (what it learned where
 *      it has been), the DP's answers where it has been and none elsewhere
 *      (what being unseen costs), and with the nearest seen state answering.
 *   B. The optimum's structure: the DP decision is argmax_d a(e, d)
 *      (r_d - gamma Delta_j(x)); a does not depend on x, and Delta_j
 *      averaged over the other items' stock (by y_j alone) keeps the
 *      optimum's decisions.
 *   C. Fitting a separable W by TD(0) with decaying steps (two exponents)
 *      against the least-squares fit of the library's K-Q.
 *   D. K-Q's exploration optimism and answer threshold on the 4 x 4 world of
 *      the tests (two planted rules, revenue), 6 runs.
 *
 * Usage: bench_crosssell_why [OUT.md] [MAX_SEASONS]   (default
 * bench/results/crosssell_why.md, 131072) */
#include "offerq/xsell/crosssell.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define N_MAX OQ_XSELL_MAX_ITEMS

static oq_xsell_sim S0;
static uint64_t NS;
static int NI, ND, NK;
static double V_NONE, V_DP;

static double value_of(const uint8_t *dec)
{
    double r, p;
    if (oq_xsell_evaluate(&S0, dec, &r, &p, NULL)) exit(1);
    return oq_xsell_objective_value(&S0.mdp, r, p);
}

static double share(double v)
{
    return 100 * (v - V_NONE) / (V_DP - V_NONE);
}

/* The experiment's planted rules of seed 1, run 0 (experiment.c). */
static size_t plant(int n, oq_xsell_rule *out)
{
    int N = S0.mdp.n_items, P = N * (N - 1), pairs[N_MAX * N_MAX], np = 0;
    double cpos[N_MAX * N_MAX];
    gsl_rng *r = oq_rng_new(1, 0x5EED0000ull);
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j) pairs[np++] = i * N + j;
    for (int a = P - 1; a > 0; a--) {
        int b = (int)gsl_rng_uniform_int(r, (unsigned long)a + 1), t = pairs[a];
        pairs[a] = pairs[b];
        pairs[b] = t;
    }
    for (int a = 0; a < P; a++) {
        cpos[a] = 0.5 + 0.4 * gsl_rng_uniform(r);
        (void)gsl_rng_uniform(r); /* the negative confidence drawn with it */
    }
    gsl_rng_free(r);
    for (int a = 0; a < n; a++)
        out[a] = (oq_xsell_rule){(uint32_t)(pairs[a] / N), (uint32_t)(pairs[a] % N), cpos[a], 0};
    return (size_t)n;
}

/* ---- C: a separable W fitted by TD(0) ------------------------------------------ */

typedef struct td_model {
    double an[N_MAX * OQ_XSELL_MAX_DEC], ay[N_MAX * OQ_XSELL_MAX_DEC];
    double w[N_MAX][64], wn[N_MAX][64], ne[N_MAX];
    double omega;
} td_model;

static double td_W(const td_model *m, const uint32_t *y)
{
    double v = 0;
    for (int i = 0; i < NI; i++)
        v += m->w[i][y[i]];
    return v;
}

static int td_q(const td_model *m, const uint32_t *x, int e, const uint8_t *valid, double *q)
{
    uint32_t y[N_MAX];
    memcpy(y, x, sizeof y);
    y[e]--;
    int best = 0;
    q[0] = oq_xsell_reward_item(&S0.mdp, e) + td_W(m, y);
    for (int d = 1; d < ND; d++) {
        if (!valid[d]) {
            q[d] = 0;
            continue;
        }
        int j = (d - 1) / NK, k = (d - 1) % NK;
        double a = m->ay[e * ND + d] / m->an[e * ND + d];
        q[d] =
            q[0] + a * (oq_xsell_reward_addon(&S0.mdp, j, k) + m->w[j][y[j] - 1] - m->w[j][y[j]]);
        if (q[d] > q[best]) best = d;
    }
    return best;
}

static void td_update(td_model *m, const uint32_t *y, double target)
{
    double err = target - td_W(m, y);
    for (int i = 0; i < NI; i++) {
        double a = pow(1 + m->wn[i][y[i]], -m->omega) / NI;
        m->w[i][y[i]] += a * err;
        m->wn[i][y[i]]++;
    }
}

static void td_season(td_model *m, const oq_xsell_kb *kb, gsl_rng *r)
{
    uint32_t inv[N_MAX], py[N_MAX];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    double q[OQ_XSELL_MAX_DEC], mu[OQ_XSELL_MAX_DEC], p[OQ_XSELL_MAX_DEC];
    long stock = 0;
    for (int i = 0; i < NI; i++)
        stock += inv[i] = S0.mdp.items[i].capacity;
    int pending = 0, over = 0;
    double disc = 1;
    while (stock > 0) {
        disc *= S0.survival;
        int e = oq_xsell_sim_arrival(&S0, r);
        if (e >= 0 && inv[e] > 0) {
            oq_xsell_valid(&S0.mdp, inv, e, valid);
            int best = td_q(m, inv, e, valid, q);
            if (pending) td_update(m, py, disc * q[best]);
            pending = 0;
            if (over) break;
            double tau = 0.02 + 0.48 * 50 / (50 + m->ne[e]++);
            oq_xsell_utility(&S0.mdp, e, q, valid, kb, mu);
            oq_xsell_boltzmann(mu, valid, ND, tau, p);
            double u = gsl_rng_uniform(r), c = 0;
            int d = 0;
            for (int k = 0; k < ND; k++) {
                if (p[k] <= 0) continue;
                c += p[k];
                d = k;
                if (u < c) break;
            }
            inv[e]--;
            stock--;
            if (d > 0) {
                int taken = gsl_rng_uniform(r) < oq_xsell_accept_prob(&S0, e, d);
                m->an[e * ND + d] += 1;
                m->ay[e * ND + d] += taken;
                if (taken) {
                    inv[(d - 1) / NK]--;
                    stock--;
                }
            }
            memcpy(py, inv, sizeof py);
            pending = 1;
            disc = 1;
        }
        if (!over && gsl_rng_uniform(r) >= S0.survival) {
            over = 1;
            if (!pending) break;
        }
    }
    if (pending) td_update(m, py, 0);
}

static void td_dense(const td_model *m, uint8_t *dec)
{
    uint32_t inv[N_MAX];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    double q[OQ_XSELL_MAX_DEC];
    for (uint64_t x = 0; x < NS; x++) {
        oq_xsell_state_decode(&S0.mdp, x, inv);
        for (int e = 0; e < NI; e++) {
            dec[x * NI + e] = 0;
            if (!inv[e]) continue;
            oq_xsell_valid(&S0.mdp, inv, e, valid);
            dec[x * NI + e] = (uint8_t)td_q(m, inv, e, valid, q);
        }
    }
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    const char *out = argc > 1 ? argv[1] : "bench/results/crosssell_why.md";
    long max_seasons = argc > 2 ? atol(argv[2]) : 131072;
    oq_error err = {0};
    oq_xsell_sim_default(&S0);
    S0.mdp.objective = OQ_XSELL_OBJ_REVENUE;
    NI = S0.mdp.n_items;
    NK = S0.mdp.n_disc;
    ND = oq_xsell_n_decisions(&S0.mdp);
    NS = oq_xsell_n_states(&S0.mdp);
    oq_xsell_rule ru[N_MAX * N_MAX];
    size_t nr = plant(6, ru);
    oq_xsell_kb kb;
    if (oq_xsell_sim_plant(&S0, ru, nr, &err) || oq_xsell_kb_build(&S0.mdp, ru, nr, &kb, &err))
        return 1;
    uint8_t *dp = NULL, *dec = malloc(NS * (size_t)NI), *mix = malloc(NS * (size_t)NI);
    double r, p;
    if (!dec || !mix || oq_xsell_dp_solve(&S0, &dp, &r, &p, &err)) return 1;
    V_DP = r;
    oq_xsell_policy_none(&S0.mdp, dec);
    V_NONE = value_of(dec);
    oq_afile af;
    if (oq_afile_open(&af, out, &err)) return 1;
    FILE *f = af.fp;
    fprintf(f,
            "# bench_crosssell_why\n\nPaper setting (5 items x 10 units, 161,051 states), "
            "revenue, the 6 planted positive rules of the experiment's seed 1, run 0. No "
            "cross-selling %.2f, DP optimum %.2f per season. Shares: %% of the DP gain.\n\n",
            V_NONE, V_DP);

    /* A */
    fprintf(f, "## A. The paper's tabular K-Q\n\n| seasons | (state, request) pairs seen of "
               "805,255 | answers as main gave them (unseen: none) | learned where seen, DP "
               "elsewhere | DP where seen, none elsewhere | unseen from the nearest seen state "
               "|\n|---|---|---|---|---|---|\n");
    oq_xsell_qtable *t = NULL;
    gsl_rng *rg = oq_rng_new(7, 0);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, OQ_XSELL_KQ_TABULAR);
    if (oq_xsell_qtable_new(&S0.mdp, &t, &err)) return 1;
    for (long ep = 1; ep <= max_seasons; ep++) {
        if (oq_xsell_learn_episode(t, &S0, &kb, &o, rg, NULL, &err)) return 1;
        if (ep < 256 || (ep & (ep - 1))) continue;
        if (oq_xsell_qtable_greedy(t, dec, &err)) return 1;
        double near = value_of(dec);
        for (uint64_t x = 0; x < NS; x++)
            for (int e = 0; e < NI; e++)
                if (!oq_xsell_qtable_counts(t, x, e)) dec[x * NI + e] = 0;
        double main_v = value_of(dec);
        for (uint64_t q = 0; q < NS * (uint64_t)NI; q++) {
            int seen = oq_xsell_qtable_counts(t, q / NI, (int)(q % NI)) != NULL;
            mix[q] = seen ? dec[q] : dp[q];
        }
        double learned_dp = value_of(mix);
        for (uint64_t q = 0; q < NS * (uint64_t)NI; q++) {
            int seen = oq_xsell_qtable_counts(t, q / NI, (int)(q % NI)) != NULL;
            mix[q] = seen ? dp[q] : 0;
        }
        double dp_none = value_of(mix);
        fprintf(f, "| %ld | %zu | %.1f | %.1f | %.1f | %.1f |\n", ep, oq_xsell_qtable_size(t),
                share(main_v), share(learned_dp), share(dp_none), share(near));
        printf("A %ld seasons done\n", ep);
        fflush(stdout);
    }
    oq_xsell_qtable_free(t);
    gsl_rng_free(rg);

    /* B */
    double *V = malloc(NS * sizeof *V), *occ = calloc(NS, sizeof *occ);
    uint64_t stride[N_MAX];
    stride[0] = 1;
    for (int i = 1; i < NI; i++)
        stride[i] = stride[i - 1] * (S0.mdp.items[i - 1].capacity + 1);
    uint32_t inv[N_MAX];
    uint8_t valid[OQ_XSELL_MAX_DEC];
    double g = S0.survival;
    for (uint64_t x = 0; x < NS; x++) { /* V of the DP policy, as in sim.c */
        oq_xsell_state_decode(&S0.mdp, x, inv);
        double nv = 0, lam = 0;
        for (int e = 0; e < NI; e++) {
            if (!inv[e]) continue;
            lam += S0.arrival[e];
            uint64_t x1 = x - stride[e];
            double v = oq_xsell_reward_item(&S0.mdp, e) + g * V[x1];
            int d = dp[x * NI + e];
            if (d) {
                int j = (d - 1) / NK, k = (d - 1) % NK;
                double a = oq_xsell_accept_prob(&S0, e, d);
                v += a * (oq_xsell_reward_addon(&S0.mdp, j, k) + g * (V[x1 - stride[j]] - V[x1]));
            }
            nv += S0.arrival[e] * v;
        }
        V[x] = nv / (1 - g * (1 - lam));
    }
    occ[NS - 1] = 1; /* expected visits under the DP policy, from full stock */
    for (uint64_t x = NS; x-- > 0;) {
        if (occ[x] == 0) continue;
        oq_xsell_state_decode(&S0.mdp, x, inv);
        double lam = 0;
        for (int e = 0; e < NI; e++)
            if (inv[e]) lam += S0.arrival[e];
        double stay = occ[x] / (1 - g * (1 - lam));
        for (int e = 0; e < NI; e++) {
            if (!inv[e]) continue;
            int d = dp[x * NI + e];
            double a = d ? oq_xsell_accept_prob(&S0, e, d) : 0, pe = S0.arrival[e] * stay * g;
            occ[x - stride[e]] += pe * (1 - a);
            if (d) occ[x - stride[e] - stride[(d - 1) / NK]] += pe * a;
        }
    }
    double dsum[N_MAX][64] = {{0}}, wsum[N_MAX][64] = {{0}};
    for (uint64_t x = 0; x < NS; x++) {
        oq_xsell_state_decode(&S0.mdp, x, inv);
        for (int j = 0; j < NI; j++)
            if (inv[j]) {
                dsum[j][inv[j]] += (occ[x] + 1e-9) * (V[x] - V[x - stride[j]]);
                wsum[j][inv[j]] += occ[x] + 1e-9;
            }
    }
    double vb[3];
    for (int variant = 0; variant < 3; variant++) { /* by y_j, exact, none (myopic) */
        for (uint64_t x = 0; x < NS; x++) {
            oq_xsell_state_decode(&S0.mdp, x, inv);
            for (int e = 0; e < NI; e++) {
                dec[x * NI + e] = 0;
                if (!inv[e]) continue;
                oq_xsell_valid(&S0.mdp, inv, e, valid);
                double best = 0;
                uint64_t x1 = x - stride[e];
                for (int d = 1; d < ND; d++) {
                    if (!valid[d]) continue;
                    int j = (d - 1) / NK, k = (d - 1) % NK;
                    double delta = variant == 0   ? dsum[j][inv[j]] / wsum[j][inv[j]]
                                   : variant == 1 ? V[x1] - V[x1 - stride[j]]
                                                  : 0;
                    double v = oq_xsell_accept_prob(&S0, e, d) *
                               (oq_xsell_reward_addon(&S0.mdp, j, k) - g * delta);
                    if (v > best) {
                        best = v;
                        dec[x * NI + e] = (uint8_t)d;
                    }
                }
            }
        }
        vb[variant] = share(value_of(dec));
    }
    fprintf(f,
            "\n## B. The optimum's structure\n\nDecisions argmax_d a(e, d) (r_d - gamma "
            "Delta_j), with the true acceptance a(e, d):\n\n| Delta_j, the marginal value of "
            "the bundle item's unit | share of the DP gain |\n|---|---|\n"
            "| exact, V(y) - V(y - 1_j) of the DP | %.2f |\n"
            "| averaged over the other items' stock: a function of y_j alone | %.2f |\n"
            "| 0 (myopic: the bundle's expected add-on revenue) | %.2f |\n\n"
            "Delta_j by y_j (occupancy-weighted; list price in brackets):\n\n",
            vb[1], vb[0], vb[2]);
    for (int j = 0; j < NI; j++) {
        fprintf(f, "- item %d (%g):", j + 1, S0.mdp.items[j].price);
        for (uint32_t y = 1; y <= S0.mdp.items[j].capacity; y++)
            fprintf(f, " %.1f", dsum[j][y] / wsum[j][y]);
        fprintf(f, "\n");
    }
    free(V);
    free(occ);

    /* C */
    long cps[] = {128, 512, 2048, 8192, 16384};
    int ncp = 5;
    fprintf(f, "\n## C. Fitting the separable W\n\nSame acceptance counts, exploration (14) with "
               "the rules; W fitted by TD(0) with steps (1 + n)^-omega per stock level, or by "
               "the library's least squares (K-Q, knowledge: explore, prior):\n\n| seasons |");
    for (int c = 0; c < ncp; c++)
        fprintf(f, " %ld |", cps[c]);
    fprintf(f, "\n|---|");
    for (int c = 0; c < ncp; c++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (int arm = 0; arm < 3; arm++) {
        static const char *name[3] = {"TD(0), omega 0.7", "TD(0), omega 0.5", "least squares"};
        fprintf(f, "| %s |", name[arm]);
        gsl_rng *r2 = oq_rng_new(7, 1);
        td_model *m = calloc(1, sizeof *m);
        oq_xsell_qtable *kq = NULL;
        oq_xsell_learn_opts ko;
        oq_xsell_learn_opts_default(&ko, OQ_XSELL_KQ);
        ko.knowledge = OQ_XSELL_KNOW_EXPLORE | OQ_XSELL_KNOW_PRIOR;
        if (arm == 2 && oq_xsell_qtable_new(&S0.mdp, &kq, &err)) return 1;
        m->omega = arm == 0 ? 0.7 : 0.5;
        for (int e = 0; e < NI; e++)
            for (int d = 1; d < ND; d++) { /* the same prior as K-Q's */
                int j = (d - 1) / NK;
                double cp = kb.pos[e * N_MAX + j];
                m->an[e * ND + d] = 2;
                m->ay[e * ND + d] = 2 * (cp > 0 ? cp : 0.5);
            }
        int c = 0;
        for (long ep = 1; ep <= cps[ncp - 1]; ep++) {
            if (arm < 2)
                td_season(m, &kb, r2);
            else if (oq_xsell_learn_episode(kq, &S0, &kb, &ko, r2, NULL, &err))
                return 1;
            if (ep != cps[c]) continue;
            if (arm < 2)
                td_dense(m, dec);
            else if (oq_xsell_qtable_greedy(kq, dec, &err))
                return 1;
            fprintf(f, " %.1f |", share(value_of(dec)));
            c++;
        }
        fprintf(f, "\n");
        printf("C arm %d done\n", arm);
        fflush(stdout);
        free(m);
        oq_xsell_qtable_free(kq);
        gsl_rng_free(r2);
    }
    /* D */
    {
        oq_xsell_exp_config qc;
        oq_xsell_exp_default(&qc, 1);
        oq_xsell_sim qs = qc.sim;
        qs.mdp.objective = OQ_XSELL_OBJ_REVENUE;
        oq_xsell_rule qr[2] = {{0, 1, 0.8, 0}, {2, 3, 0.7, 0}};
        oq_xsell_kb qkb;
        if (oq_xsell_sim_plant(&qs, qr, 2, &err) || oq_xsell_kb_build(&qs.mdp, qr, 2, &qkb, &err))
            return 1;
        int qn = qs.mdp.n_items;
        uint64_t qS = oq_xsell_n_states(&qs.mdp);
        uint8_t *qd = malloc(qS * (size_t)qn);
        double rr, pp, qnone, qdp;
        oq_xsell_policy_none(&qs.mdp, qd);
        if (!qd || oq_xsell_evaluate(&qs, qd, &rr, &pp, &err)) return 1;
        qnone = rr;
        if (oq_xsell_dp_solve(&qs, NULL, &rr, &pp, &err)) return 1;
        qdp = rr;
        static const struct {
            double z, min;
            const char *name;
        } arms[4] = {{0, 1, "no optimism, answered after 1 offer"},
                     {0, 10, "no optimism, answered after 10 offers"},
                     {1, 1, "mean + 1 sd, answered after 1 offer"},
                     {1, 10, "mean + 1 sd, answered after 10 offers (the default)"}};
        long qc_at[3] = {300, 1000, 10000};
        fprintf(f, "\n## D. K-Q's exploration optimism and answer threshold\n\nThe 4 x 4 world "
                   "of the tests (rules 1 => 2 at 0.8, 3 => 4 at 0.7 planted), revenue, K-Q with "
                   "the rules as prior; mean share of the DP gain over 6 runs:\n\n| K-Q | 300 "
                   "| 1,000 | 10,000 |\n|---|---|---|---|\n");
        for (int a = 0; a < 4; a++) {
            double sum[3] = {0};
            for (int run = 0; run < 6; run++) {
                oq_xsell_qtable *qt = NULL;
                gsl_rng *qrng = oq_rng_new(3 + (uint64_t)run, 0);
                oq_xsell_learn_opts qo;
                oq_xsell_learn_opts_default(&qo, OQ_XSELL_KQ);
                qo.explore_z = arms[a].z;
                qo.min_offers = arms[a].min;
                if (oq_xsell_qtable_new(&qs.mdp, &qt, &err)) return 1;
                int c = 0;
                for (long ep = 1; ep <= qc_at[2]; ep++) {
                    if (oq_xsell_learn_episode(qt, &qs, &qkb, &qo, qrng, NULL, &err)) return 1;
                    if (ep != qc_at[c]) continue;
                    if (oq_xsell_qtable_solve(qt, &err) || oq_xsell_qtable_greedy(qt, qd, &err) ||
                        oq_xsell_evaluate(&qs, qd, &rr, &pp, &err))
                        return 1;
                    sum[c++] += 100 * (rr - qnone) / (qdp - qnone) / 6;
                }
                oq_xsell_qtable_free(qt);
                gsl_rng_free(qrng);
            }
            fprintf(f, "| %s | %.1f | %.1f | %.1f |\n", arms[a].name, sum[0], sum[1], sum[2]);
        }
        free(qd);
        printf("D done\n");
    }
    fprintf(f, "\nCommand: `./build/bench_crosssell_why` (%ld seasons at most).\n", max_seasons);
    free(dp);
    free(dec);
    free(mix);
    return oq_afile_commit(&af, &err);
}
