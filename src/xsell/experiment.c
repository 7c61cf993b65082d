/* experiment.c - the experiment of the paper's section 4 (figures 2a, 2b):
 * a planted truth per seed, rules mined from its purchase history (or the
 * planted rules), K-Q-learning against the same learner without rules, the
 * paper's tabular K-Q, plain Q-learning, the static bundle rule, no
 * cross-selling and the DP optimum, over seeds with 95% intervals; CSV,
 * SVG, markdown and JSON outputs. The design: docs/readme/crosssell.md. */
#include "util/json.h"
#include "offerq/xsell/crosssell.h"
#include "offerq/xsell/learn.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_cdf.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#define P_MAX OQ_XSELL_EXP_MAX_POINTS
#define N_SC OQ_XSELL_N_SC
#define N_ARMS OQ_XSELL_N_ARMS
#define N_LEARN OQ_XSELL_ARM_N_LEARN

void oq_xsell_exp_default(oq_xsell_exp_config *c, int quick)
{
    memset(c, 0, sizeof *c);
    oq_xsell_sim_default(&c->sim);
    c->seed = 1;
    c->static_level = -1; /* the best fixed level of each run (crosssell.h) */
    c->grid_ratio = pow(2, 0.25);
    c->rules = OQ_XSELL_RULES_MINED;
    c->n_baskets = 1000;
    c->basket_noise = 0.1;
    c->min_support = 0.02;
    c->min_confidence = 0.3;
    c->rock_theta = 0.5;
    c->rock_k = 3;
    c->conv_share = 0.9;
    if (quick) {
        /* 4 items of 4 units (625 states), shorter seasons: seconds, for tests */
        oq_xsell_sim *s = &c->sim;
        s->mdp.n_items = 4;
        for (int i = 0; i < 4; i++)
            s->mdp.items[i].capacity = 4;
        static const double lam[4] = {0.16, 0.14, 0.12, 0.13};
        for (int i = 0; i < OQ_XSELL_MAX_ITEMS; i++)
            s->arrival[i] = i < 4 ? lam[i] : 0;
        s->survival = 0.95;
        c->n_seeds = 8;
        c->n_points = 2;
        c->n_rules[0] = 2;
        c->n_rules[1] = 6;
        c->episodes = 2000;
        c->n_baskets = 500;
    } else {
        c->n_seeds = 20;
        c->n_points = 6;
        for (int p = 0; p < 6; p++)
            c->n_rules[p] = 2 * (p + 1);
        c->episodes = 10000;
    }
}

static const char *arm_names[N_ARMS] = {"kq",     "kq_norules", "kq_tabular", "qlearning",
                                        "static", "none",       "dp"};
static const char *arm_labels[N_ARMS] = {"K-Q (factored), rules",
                                         "K-Q (factored), no rules",
                                         "K-Q tabular (the paper's)",
                                         "plain Q-learning (tabular)",
                                         "static bundle rule",
                                         "no cross-selling",
                                         "DP optimum"};
static const char *abl_names[OQ_XSELL_N_ABL] = {"kq_explore", "kq_explore_prior", "kq_prior_prune"};
static const int abl_know[OQ_XSELL_N_ABL] = {OQ_XSELL_KNOW_EXPLORE,
                                             OQ_XSELL_KNOW_EXPLORE | OQ_XSELL_KNOW_PRIOR,
                                             OQ_XSELL_KNOW_PRIOR | OQ_XSELL_KNOW_PRUNE};
static const char *sc_names[N_SC] = {"positive", "mixed", "negative"};

const char *oq_xsell_arm_name(int arm)
{
    return arm >= 0 && arm < N_ARMS ? arm_names[arm] : "?";
}

const char *oq_xsell_abl_name(int abl)
{
    return abl >= 0 && abl < OQ_XSELL_N_ABL ? abl_names[abl] : "?";
}

const char *oq_xsell_scenario_name(int sc)
{
    return sc >= 0 && sc < N_SC ? sc_names[sc] : "?";
}

/* Planted rules of scenario sc with n rules for one seed: a permutation of
 * the ordered pairs drawn once per seed, so the rule sets are nested along
 * the x axis (common random numbers). Positive rules take pairs from the
 * front, negative ones from the back. Returns the number written. */
static size_t plant_rules(const oq_xsell_exp_config *c, int seed_idx, int sc, int n,
                          oq_xsell_rule *out)
{
    int N = c->sim.mdp.n_items, P = N * (N - 1);
    gsl_rng *r = oq_rng_new(c->seed, 0x5EED0000ull + (uint64_t)seed_idx);
    int pairs[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS];
    double cpos[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS],
        cneg[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS];
    int np = 0;
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            if (i != j) pairs[np++] = i * N + j;
    size_t k = 0;
    if (!r) return 0;
    for (int a = P - 1; a > 0; a--) { /* Fisher-Yates */
        int b = (int)gsl_rng_uniform_int(r, (unsigned long)a + 1);
        int t = pairs[a];
        pairs[a] = pairs[b];
        pairs[b] = t;
    }
    for (int a = 0; a < P; a++) {
        cpos[a] = 0.5 + 0.4 * gsl_rng_uniform(r);  /* c+ ~ U[0.5, 0.9] */
        cneg[a] = 0.6 + 0.35 * gsl_rng_uniform(r); /* c- ~ U[0.6, 0.95] */
    }
    gsl_rng_free(r);
    if (n > P) n = P;
    int npos = sc == OQ_XSELL_SC_POS ? n : sc == OQ_XSELL_SC_NEG ? 0 : (n + 1) / 2;
    int nneg = n - npos;
    for (int a = 0; a < npos; a++)
        out[k++] = (oq_xsell_rule){(uint32_t)(pairs[a] / N), (uint32_t)(pairs[a] % N), cpos[a], 0};
    for (int a = 0; a < nneg; a++) {
        int b = P - 1 - a;
        out[k++] = (oq_xsell_rule){(uint32_t)(pairs[b] / N), (uint32_t)(pairs[b] % N), cneg[b], 1};
    }
    return k;
}

typedef struct task_out {
    double rev[N_SC][N_ARMS], prof[N_SC][N_ARMS];
    double conv[N_LEARN];
    int cens[N_LEARN];
    double conv_abl[OQ_XSELL_N_ABL], share_abl[OQ_XSELL_N_ABL];
    int cens_abl[OQ_XSELL_N_ABL];
    double kq_rock[N_SC], rock_cand[N_SC], rock_share[N_SC];
    double rules_pos[N_SC], rules_neg[N_SC], prec[N_SC], rec[N_SC];
} task_out;

/* The next season of the evaluation grid of fig 2a. */
static long grid_next(long g, double ratio)
{
    long n = (long)ceil((double)g * ratio);
    return n > g ? n : g + 1;
}

/* Train a fresh table for c->episodes seasons with method and knowledge
 * (kb NULL: no rules). With target finite, the greedy policy is evaluated
 * on the grid until it first reaches target (*conv_at, -1 if never; with
 * stop_at_mark the training ends there). rev/prof (may be NULL) get the
 * exact revenue and profit of the final table's answers. */
static int train(const oq_xsell_exp_config *c, const oq_xsell_sim *sim, const oq_xsell_kb *kb,
                 int method, int knowledge, const uint8_t *cand, uint64_t stream, double target,
                 int stop_at_mark, uint8_t *dec, double *rev, double *prof, long *conv_at,
                 oq_error *err)
{
    oq_xsell_qtable *t = NULL;
    gsl_rng *r = oq_rng_new(c->seed, stream);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, method);
    o.knowledge = knowledge;
    o.cand = cand;
    int rc = oq_xsell_qtable_new(&sim->mdp, &t, err);
    if (!rc && !r) rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    if (conv_at) *conv_at = -1;
    long next = 1;
    int watch = isfinite(target) && conv_at;
    for (long ep = 1; !rc && ep <= c->episodes; ep++) {
        rc = oq_xsell_learn_episode(t, sim, kb, &o, r, NULL, err);
        if (rc || !watch || ep != next) continue;
        next = grid_next(next, c->grid_ratio);
        double v, vp;
        rc = oq_xsell_qtable_greedy(t, dec, err);
        if (!rc) rc = oq_xsell_evaluate(sim, dec, &v, &vp, err);
        if (!rc && oq_xsell_objective_value(&sim->mdp, v, vp) >= target) {
            *conv_at = ep;
            watch = 0;
            if (stop_at_mark) break;
        }
    }
    if (!rc && rev) {
        rc = oq_xsell_qtable_solve(t, err);
        if (!rc) rc = oq_xsell_qtable_greedy(t, dec, err);
        if (!rc) rc = oq_xsell_evaluate(sim, dec, rev, prof, err);
    }
    oq_xsell_qtable_free(t);
    gsl_rng_free(r);
    return rc;
}

/* The rules the learners get in scenario sc: mined from the purchase
 * history of the planted world (*b keeps the baskets for ROCK) or the
 * planted ones; counts and the positive rules' precision and recall
 * against the planted positive pairs into o. */
static int learner_rules(const oq_xsell_exp_config *c, const oq_xsell_sim *sim,
                         const oq_xsell_rule *planted, size_t n_planted, uint64_t stream, int sc,
                         oq_xsell_kb *kb, oq_baskets **b, task_out *o, oq_error *err)
{
    int N = sim->mdp.n_items, rc = 0;
    oq_xsell_rule *mined = NULL;
    const oq_xsell_rule *use = planted;
    size_t n_use = n_planted, npos = 0, nneg = 0;
    *b = NULL;
    if (c->rules == OQ_XSELL_RULES_MINED || c->rock) {
        gsl_rng *r = oq_rng_new(c->seed, stream);
        rc = r ? oq_xsell_learn_sim_baskets(sim, c->n_baskets, c->basket_noise, r, b, err)
               : oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
        gsl_rng_free(r);
    }
    if (!rc && c->rules == OQ_XSELL_RULES_MINED) {
        oq_rules_params p;
        oq_rules_params_default(&p);
        p.min_support = c->min_support;
        p.min_confidence = c->min_confidence;
        p.max_len = 2;
        p.negative = 1;
        rc = oq_xsell_learn_mine_rules(&sim->mdp, *b, &p, &mined, &n_use, &npos, &nneg, err);
        use = mined;
    } else {
        for (size_t q = 0; q < n_planted; q++) {
            if (planted[q].negative)
                nneg++;
            else
                npos++;
        }
    }
    if (!rc) rc = oq_xsell_kb_build(&sim->mdp, use, n_use, kb, err);
    if (!rc) {
        uint8_t truth[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS] = {0};
        int n_true = 0, hit = 0, n_found = 0;
        for (size_t q = 0; q < n_planted; q++)
            if (!planted[q].negative) {
                truth[planted[q].lhs_item * (uint32_t)N + planted[q].rhs_item] = 1;
                n_true++;
            }
        for (int q = 0; q < N * N; q++) {
            int found = kb->pos[(q / N) * OQ_XSELL_MAX_ITEMS + q % N] > 0;
            n_found += found;
            hit += found && truth[q];
        }
        o->rules_pos[sc] = (double)npos;
        o->rules_neg[sc] = (double)nneg;
        o->prec[sc] = n_found ? 100.0 * hit / n_found : NAN;
        o->rec[sc] = n_true ? 100.0 * hit / n_true : NAN;
    }
    free(mined);
    return rc;
}

/* K-Q within the ROCK clusters of the baskets (learn.h): the final value. */
static int rock_arm(const oq_xsell_exp_config *c, const oq_xsell_sim *sim, const oq_xsell_kb *kb,
                    const oq_baskets *b, int sc, uint64_t stream, uint8_t *dec, task_out *o,
                    oq_error *err)
{
    oq_xsell_candidates cand;
    oq_rock_params rp;
    oq_rock_params_default(&rp);
    rp.theta = c->rock_theta;
    rp.k = c->rock_k;
    int rc = oq_xsell_learn_candidates_rock(&sim->mdp, b, &rp, &cand, err);
    if (rc) return rc;
    int N = sim->mdp.n_items, allowed = 0;
    for (int q = 0; q < N * N; q++)
        allowed += cand.allow[q];
    o->rock_cand[sc] = (double)allowed / N;
    double rev, prof;
    rc = train(c, sim, kb, OQ_XSELL_KQ, OQ_XSELL_KNOW_DEFAULT, cand.allow, stream, NAN, 0, dec,
               &rev, &prof, NULL, err);
    o->kq_rock[sc] = oq_xsell_objective_value(&sim->mdp, rev, prof);
    return rc;
}

static int run_task(const oq_xsell_exp_config *c, int point, int seed_idx, task_out *o,
                    oq_error *err)
{
    const oq_xsell_mdp *m0 = &c->sim.mdp;
    uint8_t *dec = malloc(oq_xsell_n_states(m0) * (size_t)m0->n_items);
    if (!dec) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = 0, n = c->n_rules[point];
    /* streams: 64 per (point, seed); the learners of one scenario share one
     * (common random numbers: K-Q with and without rules see the same
     * buyers until their decisions differ) */
    uint64_t base = ((uint64_t)point * 1000 + (uint64_t)seed_idx) * 64;
    double none_rev = 0, none_prof = 0;
    oq_xsell_policy_none(m0, dec);
    rc = oq_xsell_evaluate(&c->sim, dec, &none_rev, &none_prof, err);
    if (c->conv_only) /* what is not measured is NaN: left out of every statistic */
        for (int sc = 0; sc < N_SC; sc++) {
            for (int a = 0; a < N_ARMS; a++)
                o->rev[sc][a] = o->prof[sc][a] = NAN;
            o->rules_pos[sc] = o->rules_neg[sc] = o->prec[sc] = o->rec[sc] = NAN;
            for (int a = 0; a < N_LEARN; a++)
                o->conv[a] = NAN;
            for (int a = 0; a < OQ_XSELL_N_ABL; a++)
                o->conv_abl[a] = o->share_abl[a] = NAN;
        }
    for (int sc = 0; !rc && sc < (c->conv_only ? 1 : N_SC); sc++) {
        oq_xsell_rule planted[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS];
        size_t np = plant_rules(c, seed_idx, sc, n, planted);
        oq_xsell_sim sim = c->sim;
        oq_xsell_kb kb;
        memset(&kb, 0, sizeof kb);
        oq_baskets *b = NULL;
        rc = oq_xsell_sim_plant(&sim, planted, np, err);
        if (!rc)
            rc = learner_rules(c, &sim, planted, np, base + 32 + (uint64_t)sc, sc, &kb, &b, o, err);
        double dp_rev = 0, dp_prof = 0;
        if (!rc) rc = oq_xsell_dp_solve(&sim, NULL, &dp_rev, &dp_prof, err);
        o->rev[sc][OQ_XSELL_ARM_DP] = dp_rev;
        o->prof[sc][OQ_XSELL_ARM_DP] = dp_prof;
        o->rev[sc][OQ_XSELL_ARM_NONE] = none_rev;
        o->prof[sc][OQ_XSELL_ARM_NONE] = none_prof;
        double vnone = oq_xsell_objective_value(&sim.mdp, none_rev, none_prof);
        double vdp = oq_xsell_objective_value(&sim.mdp, dp_rev, dp_prof);
        double target = sc == OQ_XSELL_SC_POS ? vnone + c->conv_share * (vdp - vnone) : NAN;
        uint64_t stream = base + (uint64_t)sc;
        for (int arm = 0; !rc && arm < N_LEARN; arm++) {
            static const int method[N_LEARN] = {OQ_XSELL_KQ, OQ_XSELL_KQ, OQ_XSELL_KQ_TABULAR,
                                                OQ_XSELL_QLEARN};
            int know = arm == OQ_XSELL_ARM_KQ ? OQ_XSELL_KNOW_DEFAULT : 0;
            const oq_xsell_kb *k =
                arm == OQ_XSELL_ARM_KQ || arm == OQ_XSELL_ARM_KQ_TABULAR ? &kb : NULL;
            long at = -1;
            if (c->conv_only && arm != OQ_XSELL_ARM_KQ && arm != OQ_XSELL_ARM_KQ_NORULES) continue;
            if (c->conv_only)
                rc = train(c, &sim, k, method[arm], know, NULL, stream, target, 1, dec, NULL, NULL,
                           &at, err);
            else
                rc = train(c, &sim, k, method[arm], know, NULL, stream, target, 0, dec,
                           &o->rev[sc][arm], &o->prof[sc][arm], &at, err);
            if (sc == OQ_XSELL_SC_POS) {
                o->cens[arm] = at < 0;
                o->conv[arm] = at < 0 ? (double)c->episodes : (double)at;
            }
        }
        for (int a = 0; !rc && c->ablation && sc == OQ_XSELL_SC_POS && a < OQ_XSELL_N_ABL; a++) {
            long at = -1;
            double r2 = NAN, p2 = NAN;
            rc = train(c, &sim, &kb, OQ_XSELL_KQ, abl_know[a], NULL, stream, target, c->conv_only,
                       dec, c->conv_only ? NULL : &r2, &p2, &at, err);
            double v2 = oq_xsell_objective_value(&sim.mdp, r2, p2);
            o->cens_abl[a] = at < 0;
            o->conv_abl[a] = at < 0 ? (double)c->episodes : (double)at;
            o->share_abl[a] = vdp - vnone > 1e-9 ? 100 * (v2 - vnone) / (vdp - vnone) : NAN;
        }
        if (!rc && !c->conv_only) {
            /* the static rule at its fixed level, or at the level that earns
             * the most in this world (every level evaluated exactly) */
            int lo = c->static_level >= 0 ? c->static_level : 0;
            int hi = c->static_level >= 0 ? c->static_level : sim.mdp.n_disc - 1;
            double best = -INFINITY;
            for (int lv = lo; !rc && lv <= hi; lv++) {
                double sr = 0, sp = 0;
                oq_xsell_policy_static(&sim.mdp, &kb, lv, dec);
                rc = oq_xsell_evaluate(&sim, dec, &sr, &sp, err);
                double v = oq_xsell_objective_value(&sim.mdp, sr, sp);
                if (!rc && v > best) {
                    best = v;
                    o->rev[sc][OQ_XSELL_ARM_STATIC] = sr;
                    o->prof[sc][OQ_XSELL_ARM_STATIC] = sp;
                }
            }
        }
        if (!rc && c->rock) {
            rc = rock_arm(c, &sim, &kb, b, sc, base + 48 + (uint64_t)sc, dec, o, err);
            o->rock_share[sc] =
                vdp - vnone > 1e-9 ? 100 * (o->kq_rock[sc] - vnone) / (vdp - vnone) : NAN;
        }
        oq_baskets_free(b);
    }
    free(dec);
    return rc;
}

/* Mean and 95% t-interval over the finite values of x (n of them). */
static oq_xsell_stat stat_of(const double *x, int n)
{
    oq_xsell_stat s = {NAN, NAN, NAN};
    double m = 0, v = 0;
    int k = 0;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) {
            m += x[i];
            k++;
        }
    if (k == 0) return s;
    m /= k;
    for (int i = 0; i < n; i++)
        if (isfinite(x[i])) v += (x[i] - m) * (x[i] - m);
    s.mean = s.lo = s.hi = m;
    if (k > 1) {
        double h = gsl_cdf_tdist_Pinv(0.975, k - 1) * sqrt(v / (k - 1) / k);
        s.lo = m - h;
        s.hi = m + h;
    }
    return s;
}

/* ---- figures --------------------------------------------------------------------
 * One helper for every chart of the experiment: a line per series with its
 * 95% interval as a bar at each point, the y axis from zero or visibly broken
 * (a zigzag on the axis and a note), censored points marked (hollow marker
 * with "k/R censored"; a point whose every run is censored sits above a
 * break at the top of the chart, at "no run reached it"), and notes under
 * the plot that say what the bars are. */

typedef struct series {
    const char *name, *color;
    const oq_xsell_stat *y; /* (nx) */
    const int *censored;    /* (nx) runs censored, or NULL */
    int dashed;
} series;

typedef struct chart {
    const char *title, *xlabel, *ylabel;
    const char *note[3];
    int nx;
    const int *x;
    const series *s;
    int ns;
    int from_zero; /* 1: y from 0; 0: 0, a break, then the data's range */
    int runs;      /* runs behind each point (for "k/R censored") */
} chart;

static double nice_step(double range, int ticks)
{
    double raw = range / ticks, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

static void zigzag(FILE *f, double x, double y)
{
    fprintf(f,
            "<polyline fill=\"white\" stroke=\"black\" points=\"%.1f,%.1f %.1f,%.1f %.1f,%.1f "
            "%.1f,%.1f %.1f,%.1f\"/>\n",
            x - 7, y + 3, x - 3, y - 3, x + 1, y + 3, x + 5, y - 3, x + 8, y + 1);
}

static int full_cens(const series *se, int i, int runs)
{
    return se->censored && se->censored[i] >= runs;
}

static int write_chart(const char *path, const chart *c, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    FILE *f = af.fp;
    const double W = 780, H = 500, L = 80, R = 230, T = 44, B = 100;
    int any_full = 0;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < c->ns; s++)
        for (int i = 0; i < c->nx; i++) {
            const oq_xsell_stat *y = &c->s[s].y[i];
            if (!isfinite(y->mean)) continue;
            if (full_cens(&c->s[s], i, c->runs)) {
                any_full = 1;
                continue;
            }
            if (y->lo < ylo) ylo = y->lo;
            if (y->hi > yhi) yhi = y->hi;
        }
    if (!(yhi >= ylo)) ylo = yhi = 0;
    if (c->from_zero) {
        if (ylo > 0) ylo = 0;
        yhi += 0.05 * (yhi - ylo);
    } else {
        double pad = 0.08 * (yhi - ylo) + 1e-9 * fabs(yhi);
        ylo -= pad;
        yhi += pad;
    }
    if (!(yhi > ylo)) yhi = ylo + 1;
    double step = nice_step(yhi - ylo, 6);
    ylo = floor(ylo / step) * step;
    yhi = ceil(yhi / step) * step;
    /* vertical layout: [top band for "censored"] [main range] [bottom band for 0] */
    double top = T, bot = H - B;
    double band_top = any_full ? 40 : 0, band_bot = c->from_zero || ylo <= 0 ? 0 : 26;
    int broken_bottom = band_bot > 0;
    double y0 = top + band_top, y1 = bot - band_bot; /* main area in pixels */
    double xlo = c->x[0], xhi = c->x[c->nx - 1];
    if (xhi <= xlo) {
        xlo -= 1;
        xhi += 1;
    }
#define PX(v) (L + 20 + ((v)-xlo) / (xhi - xlo) * (W - L - R - 40))
#define PY(v) (y1 - ((v)-ylo) / (yhi - ylo) * (y1 - y0))
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%g\" y=\"24\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n",
            W, H, (L + W - R) / 2, c->title);
    for (double v = ylo; v <= yhi + step / 2; v += step)
        fprintf(f,
                "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#e4e4e4\"/>"
                "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, PY(v), W - R, PY(v), L - 6, PY(v) + 4, v);
    /* axes; a broken axis shows 0 at the bottom and a zigzag above it */
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", L, bot, W - R,
            bot);
    fprintf(f, "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n", L, top, L,
            bot);
    if (broken_bottom) {
        fprintf(f, "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">0</text>\n", L - 6, bot + 4);
        zigzag(f, L, bot - band_bot / 2);
    }
    if (any_full) {
        fprintf(f,
                "<rect x=\"%g\" y=\"%g\" width=\"%g\" height=\"%g\" fill=\"#f6f6f6\"/>"
                "<text x=\"%g\" y=\"%g\" text-anchor=\"end\" font-size=\"10\">censored</text>\n",
                L + 1, top, W - R - L - 1, band_top - 8, L - 6, top + 14);
        zigzag(f, L, top + band_top - 4);
    }
    for (int i = 0; i < c->nx; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%d</text>\n", PX(c->x[i]),
                bot + 18, c->x[i]);
    fprintf(f,
            "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n"
            "<text x=\"18\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
            "%g)\">%s</text>\n",
            (L + W - R) / 2, bot + 38, c->xlabel, (top + bot) / 2, (top + bot) / 2, c->ylabel);
    for (int s = 0; s < c->ns; s++) {
        const series *se = &c->s[s];
        double dx = (s - (c->ns - 1) / 2.0) * 5; /* dodge the bars of one x */
        /* the line through the points not wholly censored */
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                se->color, se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (int i = 0; i < c->nx; i++)
            if (isfinite(se->y[i].mean) && !full_cens(se, i, c->runs))
                fprintf(f, "%.1f,%.1f ", PX(c->x[i]) + dx, PY(se->y[i].mean));
        fprintf(f, "\"/>\n");
        for (int i = 0; i < c->nx; i++) {
            const oq_xsell_stat *y = &se->y[i];
            double px = PX(c->x[i]) + dx;
            if (!isfinite(y->mean)) continue;
            int k = se->censored ? se->censored[i] : 0;
            if (full_cens(se, i, c->runs)) { /* in the top band: an arrow up */
                double py = top + band_top / 2 - 2;
                fprintf(f,
                        "<path d=\"M%.1f,%.1f l-5,8 h10 z\" fill=\"%s\"/>"
                        "<text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" fill=\"%s\">%d/%d</text>\n",
                        px, py - 6, se->color, px + 6, py + 2 + 9 * (s % 2), se->color, k, c->runs);
                continue;
            }
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>\n",
                    px, PY(y->lo), px, PY(y->hi), se->color, px - 3, PY(y->lo), px + 3, PY(y->lo),
                    se->color, px - 3, PY(y->hi), px + 3, PY(y->hi), se->color);
            if (k > 0)
                fprintf(f,
                        "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"4\" fill=\"white\" stroke=\"%s\" "
                        "stroke-width=\"2\"/><text x=\"%.1f\" y=\"%.1f\" font-size=\"9\" "
                        "fill=\"%s\">%d/%d cens.</text>\n",
                        px, PY(y->mean), se->color, px + 6, PY(y->mean) - 5, se->color, k, c->runs);
            else
                fprintf(f, "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n", px,
                        PY(y->mean), se->color);
        }
        double ly = T + 10 + 20 * s;
        fprintf(f,
                "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"%s/>"
                "<text x=\"%g\" y=\"%g\">%s</text>\n",
                W - R + 12, ly, W - R + 36, ly, se->color,
                se->dashed ? " stroke-dasharray=\"6 4\"" : "", W - R + 42, ly + 4, se->name);
    }
    for (int n = 0; n < 3; n++)
        if (c->note[n])
            fprintf(f, "<text x=\"%g\" y=\"%g\" font-size=\"11\" fill=\"#333\">%s</text>\n", L,
                    bot + 58 + 14 * n, c->note[n]);
#undef PX
#undef PY
    fprintf(f, "</svg>\n");
    return oq_afile_commit(&af, err);
}

/* ---- outputs -------------------------------------------------------------------- */

static const char *arm_colors[N_ARMS] = {"#d62728", "#ff7f0e", "#9467bd", "#1f77b4",
                                         "#8c564b", "#555555", "#2ca02c"};

static int write_figures(const oq_xsell_exp_config *c, const char *dir,
                         const oq_xsell_exp_result *res, oq_error *err)
{
    char path[4096], n1[256], n2[256], n3[256], t2a[256];
    int P = c->n_points, rc;
    const char *obj = oq_xsell_objective_name(c->sim.mdp.objective);
    const char *src = c->rules == OQ_XSELL_RULES_MINED ? "mined" : "planted";
    const char *Src = c->rules == OQ_XSELL_RULES_MINED ? "Mined" : "Planted";
    /* fig 2a: seasons to the mark, every learner; the tabular ones are censored */
    series s2a[N_LEARN];
    for (int a = 0; a < N_LEARN; a++)
        s2a[a] = (series){arm_labels[a], arm_colors[a], NULL, NULL, a >= OQ_XSELL_ARM_KQ_TABULAR};
    oq_xsell_stat conv[N_LEARN][P_MAX];
    int cens[N_LEARN][P_MAX];
    for (int a = 0; a < N_LEARN; a++) {
        for (int p = 0; p < P; p++) {
            conv[a][p] = res->conv[p][a];
            cens[a][p] = res->censored[p][a];
        }
        s2a[a].y = conv[a];
        s2a[a].censored = cens[a];
    }
    snprintf(t2a, sizeof t2a,
             "Fig. 2a: seasons until the greedy policy earns %.0f%% of the DP gain",
             100 * c->conv_share);
    snprintf(n1, sizeof n1,
             "Mean over %d runs; bars: 95%% t-interval. Positive planted rules; %s rules; %s.",
             c->n_seeds, src, obj);
    snprintf(n2, sizeof n2,
             "Hollow marker: k of %d runs never reached the mark in %ld seasons (counted as %ld).",
             c->n_seeds, c->episodes, c->episodes);
    snprintf(n3, sizeof n3,
             "Grey band above the break: every run censored (never reached it within %ld).",
             c->episodes);
    chart ch = {t2a,
                "number of planted positive rules",
                "training seasons",
                {n1, n2, n3},
                P,
                c->n_rules,
                s2a,
                N_LEARN,
                1,
                c->n_seeds};
    snprintf(path, sizeof path, "%s/fig2a.svg", dir);
    if ((rc = write_chart(path, &ch, err))) return rc;
    /* fig 2b: every policy in the positive scenario */
    series s2b[N_ARMS];
    oq_xsell_stat vals[N_ARMS][P_MAX];
    for (int a = 0; a < N_ARMS; a++) {
        for (int p = 0; p < P; p++)
            vals[a][p] = res->value[OQ_XSELL_SC_POS][p][a];
        s2b[a] = (series){arm_labels[a], arm_colors[a], vals[a], NULL,
                          a == OQ_XSELL_ARM_NONE || a == OQ_XSELL_ARM_DP};
    }
    char t2b[256], yl[64];
    snprintf(t2b, sizeof t2b, "Fig. 2b: expected %s per season after %ld training seasons", obj,
             c->episodes);
    snprintf(yl, sizeof yl, "expected %s per season", obj);
    snprintf(n1, sizeof n1,
             "Positive planted rules, %s rules. Mean over %d runs; bars: 95%% t-interval.", src,
             c->n_seeds);
    snprintf(n2, sizeof n2,
             "Every policy evaluated exactly (no simulation noise); the axis is broken below.");
    chart cb = {t2b, "number of planted positive rules",
                yl,  {n1, n2, NULL},
                P,   c->n_rules,
                s2b, N_ARMS,
                0,   c->n_seeds};
    snprintf(path, sizeof path, "%s/fig2b.svg", dir);
    if ((rc = write_chart(path, &cb, err))) return rc;
    /* the same as shares of the DP gain: none is 0, the optimum 100 */
    oq_xsell_stat shv[N_ARMS][P_MAX];
    for (int a = 0; a < N_ARMS; a++) {
        for (int p = 0; p < P; p++)
            shv[a][p] = res->share[OQ_XSELL_SC_POS][p][a];
        s2b[a].y = shv[a];
    }
    snprintf(t2b, sizeof t2b, "Fig. 2b as shares: %% of the DP optimum's %s gain after %ld seasons",
             obj, c->episodes);
    snprintf(n2, sizeof n2,
             "Per run (v - none) / (DP - none); none is 0, the optimum 100; the axis starts at 0.");
    chart cs2 = {t2b,
                 "number of planted positive rules",
                 "% of the DP gain",
                 {n1, n2, NULL},
                 P,
                 c->n_rules,
                 s2b,
                 N_ARMS,
                 1,
                 c->n_seeds};
    snprintf(path, sizeof path, "%s/fig2b_share.svg", dir);
    if ((rc = write_chart(path, &cs2, err))) return rc;
    snprintf(n2, sizeof n2,
             "Every policy evaluated exactly (no simulation noise); the axis is broken below.");
    /* the paper's fig 2b comparison: K-Q with positive / mixed / negative rules */
    static const char *scol[N_SC] = {"#d62728", "#ff7f0e", "#1f77b4"};
    char lab[2 * N_SC + 1][64];
    series ss[2 * N_SC + 1];
    oq_xsell_stat sv[2 * N_SC + 1][P_MAX];
    for (int sc = 0; sc < N_SC; sc++) {
        for (int p = 0; p < P; p++) {
            sv[2 * sc][p] = res->value[sc][p][OQ_XSELL_ARM_KQ];
            sv[2 * sc + 1][p] = res->value[sc][p][OQ_XSELL_ARM_DP];
        }
        snprintf(lab[2 * sc], sizeof lab[0], "K-Q, %s rules", sc_names[sc]);
        snprintf(lab[2 * sc + 1], sizeof lab[0], "DP optimum, %s", sc_names[sc]);
        ss[2 * sc] = (series){lab[2 * sc], scol[sc], sv[2 * sc], NULL, 0};
        ss[2 * sc + 1] = (series){lab[2 * sc + 1], scol[sc], sv[2 * sc + 1], NULL, 1};
    }
    for (int p = 0; p < P; p++)
        sv[2 * N_SC][p] = res->value[OQ_XSELL_SC_POS][p][OQ_XSELL_ARM_NONE];
    ss[2 * N_SC] = (series){"no cross-selling", "#555555", sv[2 * N_SC], NULL, 1};
    snprintf(t2b, sizeof t2b, "Fig. 2b (paper's comparison): K-Q by kind of planted rule");
    snprintf(n1, sizeof n1,
             "x: planted rules (mixed: half positive). %s rules. Mean over %d runs; bars: 95%% "
             "t-interval.",
             Src, c->n_seeds);
    chart cs = {t2b, "number of planted rules",
                yl,  {n1, n2, NULL},
                P,   c->n_rules,
                ss,  2 * N_SC + 1,
                0,   c->n_seeds};
    snprintf(path, sizeof path, "%s/fig2b_scenarios.svg", dir);
    return write_chart(path, &cs, err);
}

static void fmt_stat(char *buf, size_t n, oq_xsell_stat s, int digits)
{
    if (!isfinite(s.mean))
        snprintf(buf, n, "-");
    else
        snprintf(buf, n, "%.*f (%.*f-%.*f)", digits, s.mean, digits, s.lo, digits, s.hi);
}

static int write_markdown(const oq_xsell_exp_config *c, const char *path,
                          const oq_xsell_exp_result *res, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err), P = c->n_points;
    if (rc) return rc;
    FILE *f = af.fp;
    char b[128];
    const char *obj = oq_xsell_objective_name(c->sim.mdp.objective);
    fprintf(f,
            "Setting: %d items, %llu states, %s objective, %d runs per point, %ld training "
            "seasons, rules %s",
            c->sim.mdp.n_items, (unsigned long long)oq_xsell_n_states(&c->sim.mdp), obj, c->n_seeds,
            c->episodes, c->rules == OQ_XSELL_RULES_MINED ? "mined" : "planted");
    if (c->rules == OQ_XSELL_RULES_MINED)
        fprintf(f, " from %zu baskets (noise %g, support %g, confidence %g)", c->n_baskets,
                c->basket_noise, c->min_support, c->min_confidence);
    fprintf(f,
            ". No cross-selling: revenue %.2f, profit %.2f per season. Intervals: 95%% "
            "t-intervals over runs.",
            res->none_revenue, res->none_profit);
    if (c->static_level >= 0)
        fprintf(f, " The static rule bundles at discount level %d (%g%% off).\n\n", c->static_level,
                100 * c->sim.mdp.disc[c->static_level]);
    else
        fprintf(f, " The static rule bundles at the discount level that earns it the most in "
                   "each run (every level evaluated exactly: an oracle's choice).\n\n");
    fprintf(f,
            "**Share of the DP optimum's gain over no cross-selling (%%, %s), per run "
            "(v - none) / (DP - none):**\n\n| scenario | rules |",
            obj);
    for (int a = 0; a < N_ARMS; a++)
        if (a != OQ_XSELL_ARM_NONE && a != OQ_XSELL_ARM_DP) fprintf(f, " %s |", arm_labels[a]);
    fprintf(f, " DP gain |\n|---|---|");
    for (int a = 0; a < N_ARMS - 1; a++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (int sc = 0; sc < N_SC; sc++)
        for (int p = 0; p < P; p++) {
            fprintf(f, "| %s | %d |", sc_names[sc], c->n_rules[p]);
            for (int a = 0; a < N_ARMS; a++) {
                if (a == OQ_XSELL_ARM_NONE || a == OQ_XSELL_ARM_DP) continue;
                fmt_stat(b, sizeof b, res->share[sc][p][a], 1);
                fprintf(f, " %s |", b);
            }
            oq_xsell_stat g = res->value[sc][p][OQ_XSELL_ARM_DP];
            double none = res->value[sc][p][OQ_XSELL_ARM_NONE].mean;
            g.mean -= none;
            g.lo -= none;
            g.hi -= none;
            fmt_stat(b, sizeof b, g, 2);
            fprintf(f, " %s |\n", b);
        }
    fprintf(f, "\n**Expected %s per season:**\n\n| scenario | rules |", obj);
    for (int a = 0; a < N_ARMS; a++)
        fprintf(f, " %s |", arm_labels[a]);
    fprintf(f, "\n|---|---|");
    for (int a = 0; a < N_ARMS; a++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (int sc = 0; sc < N_SC; sc++)
        for (int p = 0; p < P; p++) {
            fprintf(f, "| %s | %d |", sc_names[sc], c->n_rules[p]);
            for (int a = 0; a < N_ARMS; a++) {
                fmt_stat(b, sizeof b, res->value[sc][p][a], 2);
                fprintf(f, " %s |", b);
            }
            fprintf(f, "\n");
        }
    fprintf(f,
            "\n**Seasons until the greedy policy first earns %.0f%% of the DP gain** (positive "
            "rules; evaluated at seasons 1, 2, 3, ... growing by %.3g; censored runs count as "
            "%ld; in brackets: runs censored of %d):\n\n| rules |",
            100 * c->conv_share, c->grid_ratio, c->episodes, c->n_seeds);
    for (int a = 0; a < N_LEARN; a++)
        fprintf(f, " %s |", arm_labels[a]);
    fprintf(f, " saved by the rules (paired) |");
    for (int a = 0; c->ablation && a < OQ_XSELL_N_ABL; a++)
        fprintf(f, " %s |", abl_names[a]);
    fprintf(f, "\n|---|");
    for (int a = 0; a < N_LEARN + 1 + (c->ablation ? OQ_XSELL_N_ABL : 0); a++)
        fprintf(f, "---|");
    fprintf(f, "\n");
    for (int p = 0; p < P; p++) {
        fprintf(f, "| %d |", c->n_rules[p]);
        for (int a = 0; a < N_LEARN; a++) {
            fmt_stat(b, sizeof b, res->conv[p][a], 0);
            fprintf(f, " %s [%d] |", b, res->censored[p][a]);
        }
        fmt_stat(b, sizeof b, res->conv_saved[p], 0);
        fprintf(f, " %s |", b);
        for (int a = 0; c->ablation && a < OQ_XSELL_N_ABL; a++) {
            fmt_stat(b, sizeof b, res->conv_abl[p][a], 0);
            fprintf(f, " %s [%d] |", b, res->censored_abl[p][a]);
        }
        fprintf(f, "\n");
    }
    if (c->ablation) {
        fprintf(f,
                "\n**How K-Q uses the rules** (positive rules; share of the DP gain after %ld "
                "seasons, %%; the default uses them as the acceptance prior):\n\n| rules | "
                "prior (default) | no rules |",
                c->episodes);
        for (int a = 0; a < OQ_XSELL_N_ABL; a++)
            fprintf(f, " %s |", abl_names[a]);
        fprintf(f, "\n|---|---|---|");
        for (int a = 0; a < OQ_XSELL_N_ABL; a++)
            fprintf(f, "---|");
        fprintf(f, "\n");
        for (int p = 0; p < P; p++) {
            fprintf(f, "| %d |", c->n_rules[p]);
            fmt_stat(b, sizeof b, res->share[OQ_XSELL_SC_POS][p][OQ_XSELL_ARM_KQ], 1);
            fprintf(f, " %s |", b);
            fmt_stat(b, sizeof b, res->share[OQ_XSELL_SC_POS][p][OQ_XSELL_ARM_KQ_NORULES], 1);
            fprintf(f, " %s |", b);
            for (int a = 0; a < OQ_XSELL_N_ABL; a++) {
                fmt_stat(b, sizeof b, res->share_abl[p][a], 1);
                fprintf(f, " %s |", b);
            }
            fprintf(f, "\n");
        }
    }
    fprintf(f, "\n**Rules the learners got** (mean per run; precision: mined positive rules "
               "that are planted positive pairs; recall: planted positive pairs found, %%):\n\n"
               "| scenario | rules | positive | negative | precision | recall |\n"
               "|---|---|---|---|---|---|\n");
    for (int sc = 0; sc < N_SC; sc++)
        for (int p = 0; p < P; p++) {
            char b1[64], b2[64];
            fmt_stat(b1, sizeof b1, res->precision[sc][p], 0);
            fmt_stat(b2, sizeof b2, res->recall[sc][p], 0);
            fprintf(f, "| %s | %d | %.1f | %.1f | %s | %s |\n", sc_names[sc], c->n_rules[p],
                    res->rules_pos[sc][p].mean, res->rules_neg[sc][p].mean, b1, b2);
        }
    if (c->rock) {
        fprintf(f,
                "\n**K-Q within ROCK clusters** (theta %g, k %zu; share of the DP gain, %%, "
                "against K-Q over all items; candidates per item):\n\n| scenario | rules | "
                "K-Q in ROCK sets | K-Q, all items | candidates |\n|---|---|---|---|---|\n",
                c->rock_theta, c->rock_k);
        for (int sc = 0; sc < N_SC; sc++)
            for (int p = 0; p < P; p++) {
                char b2[128];
                fmt_stat(b, sizeof b, res->rock_share[sc][p], 1);
                fmt_stat(b2, sizeof b2, res->share[sc][p][OQ_XSELL_ARM_KQ], 1);
                fprintf(f, "| %s | %d | %s | %s | %.2f |\n", sc_names[sc], c->n_rules[p], b, b2,
                        res->rock_cand[sc][p].mean);
            }
    }
    return oq_afile_commit(&af, err);
}

static json_t *jstat(oq_xsell_stat s)
{
    json_t *o = json_object();
    json_object_set_new(o, "mean", isfinite(s.mean) ? json_real(s.mean) : json_null());
    json_object_set_new(o, "ci95_lo", isfinite(s.lo) ? json_real(s.lo) : json_null());
    json_object_set_new(o, "ci95_hi", isfinite(s.hi) ? json_real(s.hi) : json_null());
    return o;
}

static int write_outputs(const oq_xsell_exp_config *c, const char *dir,
                         const oq_xsell_exp_result *res, oq_error *err)
{
    char path[4096];
    oq_afile af;
    int rc, P = c->n_points;
    /* fig 2a */
    snprintf(path, sizeof path, "%s/fig2a.csv", dir);
    if ((rc = oq_afile_open(&af, path, err))) return rc;
    fprintf(af.fp, "n_rules,policy,seasons_mean,ci95_lo,ci95_hi,censored,runs\n");
    for (int p = 0; p < P; p++) {
        for (int a = 0; a < N_LEARN; a++)
            fprintf(af.fp, "%d,%s,%.1f,%.1f,%.1f,%d,%d\n", c->n_rules[p], arm_names[a],
                    res->conv[p][a].mean, res->conv[p][a].lo, res->conv[p][a].hi,
                    res->censored[p][a], c->n_seeds);
        for (int a = 0; c->ablation && a < OQ_XSELL_N_ABL; a++)
            fprintf(af.fp, "%d,%s,%.1f,%.1f,%.1f,%d,%d\n", c->n_rules[p], abl_names[a],
                    res->conv_abl[p][a].mean, res->conv_abl[p][a].lo, res->conv_abl[p][a].hi,
                    res->censored_abl[p][a], c->n_seeds);
        fprintf(af.fp, "%d,saved_by_rules,%.1f,%.1f,%.1f,,%d\n", c->n_rules[p],
                res->conv_saved[p].mean, res->conv_saved[p].lo, res->conv_saved[p].hi, c->n_seeds);
    }
    if ((rc = oq_afile_commit(&af, err))) return rc;
    /* fig 2b */
    snprintf(path, sizeof path, "%s/fig2b.csv", dir);
    if ((rc = oq_afile_open(&af, path, err))) return rc;
    fprintf(af.fp, "scenario,n_rules,policy,value_mean,ci95_lo,ci95_hi,revenue_mean,profit_mean,"
                   "share_of_dp_gain_pct,share_ci95_lo,share_ci95_hi\n");
    for (int sc = 0; sc < N_SC; sc++)
        for (int p = 0; p < P; p++)
            for (int a = 0; a < N_ARMS; a++) {
                oq_xsell_stat v = res->value[sc][p][a], s = res->share[sc][p][a];
                fprintf(af.fp, "%s,%d,%s,%.4f,%.4f,%.4f,%.4f,%.4f,", sc_names[sc], c->n_rules[p],
                        arm_names[a], v.mean, v.lo, v.hi, res->revenue[sc][p][a].mean,
                        res->profit[sc][p][a].mean);
                if (isfinite(s.mean))
                    fprintf(af.fp, "%.2f,%.2f,%.2f\n", s.mean, s.lo, s.hi);
                else
                    fprintf(af.fp, ",,\n");
            }
    if ((rc = oq_afile_commit(&af, err))) return rc;
    if ((rc = write_figures(c, dir, res, err))) return rc;
    snprintf(path, sizeof path, "%s/results.md", dir);
    if ((rc = write_markdown(c, path, res, err))) return rc;
    /* summary */
    json_t *j = json_object();
    json_object_set_new(j, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(j, "runs", json_integer(c->n_seeds));
    json_object_set_new(j, "items", json_integer(c->sim.mdp.n_items));
    json_object_set_new(j, "states", json_integer((json_int_t)oq_xsell_n_states(&c->sim.mdp)));
    json_object_set_new(j, "objective", json_string(oq_xsell_objective_name(c->sim.mdp.objective)));
    json_object_set_new(j, "episodes", json_integer(c->episodes));
    json_object_set_new(j, "conv_share", json_real(c->conv_share));
    json_object_set_new(j, "rules",
                        json_string(c->rules == OQ_XSELL_RULES_MINED ? "mined" : "planted"));
    json_object_set_new(j, "baskets", json_integer((json_int_t)c->n_baskets));
    json_object_set_new(j, "basket_noise", json_real(c->basket_noise));
    json_object_set_new(j, "min_support", json_real(c->min_support));
    json_object_set_new(j, "min_confidence", json_real(c->min_confidence));
    json_object_set_new(j, "none_revenue", json_real(res->none_revenue));
    json_object_set_new(j, "none_profit", json_real(res->none_profit));
    json_object_set_new(j, "seconds", json_real(res->seconds));
    json_t *pts = json_array();
    for (int p = 0; p < P; p++) {
        json_t *o = json_object(), *cv = json_object();
        json_object_set_new(o, "n_rules", json_integer(c->n_rules[p]));
        for (int a = 0; a < N_LEARN; a++) {
            json_t *s = jstat(res->conv[p][a]);
            json_object_set_new(s, "censored", json_integer(res->censored[p][a]));
            json_object_set_new(cv, arm_names[a], s);
        }
        for (int a = 0; c->ablation && a < OQ_XSELL_N_ABL; a++) {
            json_t *s = jstat(res->conv_abl[p][a]);
            json_object_set_new(s, "censored", json_integer(res->censored_abl[p][a]));
            json_object_set_new(cv, abl_names[a], s);
        }
        json_object_set_new(cv, "saved_by_rules", jstat(res->conv_saved[p]));
        json_object_set_new(o, "seasons_to_mark", cv);
        for (int sc = 0; sc < N_SC; sc++) {
            json_t *s = json_object();
            for (int a = 0; a < N_ARMS; a++) {
                json_t *v = jstat(res->value[sc][p][a]);
                json_object_set_new(v, "revenue", json_real(res->revenue[sc][p][a].mean));
                json_object_set_new(v, "profit", json_real(res->profit[sc][p][a].mean));
                if (isfinite(res->share[sc][p][a].mean))
                    json_object_set_new(v, "share_of_dp_gain", jstat(res->share[sc][p][a]));
                json_object_set_new(s, arm_names[a], v);
            }
            json_object_set_new(s, "rules_positive", json_real(res->rules_pos[sc][p].mean));
            json_object_set_new(s, "rules_negative", json_real(res->rules_neg[sc][p].mean));
            if (c->rock) json_object_set_new(s, "kq_rock", jstat(res->kq_rock[sc][p]));
            json_object_set_new(o, sc_names[sc], s);
        }
        json_array_append_new(pts, o);
    }
    json_object_set_new(j, "points", pts);
    snprintf(path, sizeof path, "%s/summary.json", dir);
    rc = oq_json_write_atomic(path, j, err);
    json_decref(j);
    return rc;
}

int oq_xsell_experiment(const oq_xsell_exp_config *c, const char *out_dir, oq_xsell_exp_result *res,
                        oq_error *err)
{
    memset(res, 0, sizeof *res);
    int rc = oq_xsell_sim_check(&c->sim, err);
    if (rc) return rc;
    if (c->n_seeds < 2 || c->n_points < 1 || c->n_points > OQ_XSELL_EXP_MAX_POINTS ||
        c->episodes < 1 || !(c->grid_ratio > 1) || c->static_level < -1 ||
        c->static_level >= c->sim.mdp.n_disc || !(c->conv_share > 0 && c->conv_share <= 1) ||
        (c->rules != OQ_XSELL_RULES_MINED && c->rules != OQ_XSELL_RULES_PLANTED) ||
        ((c->rules == OQ_XSELL_RULES_MINED || c->rock) && c->n_baskets == 0) ||
        !(c->basket_noise >= 0 && c->basket_noise <= 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "bad experiment configuration");
    double t0 = oq_now();
    res->n_points = c->n_points;
    /* no cross-selling does not depend on the rules */
    uint8_t *dec = malloc(oq_xsell_n_states(&c->sim.mdp) * (size_t)c->sim.mdp.n_items);
    if (!dec) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    oq_xsell_policy_none(&c->sim.mdp, dec);
    rc = oq_xsell_evaluate(&c->sim, dec, &res->none_revenue, &res->none_profit, err);
    free(dec);
    if (rc) return rc;

    int ntask = c->n_points * c->n_seeds;
    task_out *outs = calloc((size_t)ntask, sizeof *outs);
    if (!outs) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    oq_progress prog;
    oq_progress_start(&prog, "crosssell experiment", ntask, c->quiet);
    int done = 0, first_rc = 0;
    oq_error first_err = {0};
#ifdef _OPENMP
    // read by the pragma
    // NOLINTNEXTLINE(clang-analyzer-deadcode.DeadStores)
    int nth = c->threads > 0 ? c->threads : omp_get_max_threads();
#pragma omp parallel for schedule(dynamic, 1) num_threads(nth)
#endif
    for (int k = 0; k < ntask; k++) {
        oq_error e = {0};
        int r = run_task(c, k / c->n_seeds, k % c->n_seeds, &outs[k], &e);
#ifdef _OPENMP
#pragma omp critical(xsell_progress)
#endif
        {
            if (r && !first_rc) {
                first_rc = r;
                first_err = e;
            }
            oq_progress_update(&prog, ++done);
        }
    }
    oq_progress_done(&prog);
    if (first_rc) {
        if (err) *err = first_err;
        free(outs);
        return first_rc;
    }
    double *buf = malloc((size_t)c->n_seeds * sizeof *buf);
    if (!buf) {
        free(outs);
        return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    }
    int R = c->n_seeds;
    const oq_xsell_mdp *m = &c->sim.mdp;
#define COLLECT(expr, dst)                                                                         \
    do {                                                                                           \
        for (int i = 0; i < R; i++) {                                                              \
            const task_out *o = &outs[p * R + i];                                                  \
            buf[i] = (expr);                                                                       \
        }                                                                                          \
        dst = stat_of(buf, R);                                                                     \
    } while (0)
    for (int p = 0; p < c->n_points; p++) {
        for (int sc = 0; sc < N_SC; sc++) {
            for (int a = 0; a < N_ARMS; a++) {
                COLLECT(o->rev[sc][a], res->revenue[sc][p][a]);
                COLLECT(o->prof[sc][a], res->profit[sc][p][a]);
                COLLECT(oq_xsell_objective_value(m, o->rev[sc][a], o->prof[sc][a]),
                        res->value[sc][p][a]);
                /* share of the DP gain per run; undefined where the DP gains nothing */
#define VAL(arm) oq_xsell_objective_value(m, o->rev[sc][arm], o->prof[sc][arm])
                COLLECT((VAL(OQ_XSELL_ARM_DP) - VAL(OQ_XSELL_ARM_NONE)) > 1e-9
                            ? 100 * (VAL(a) - VAL(OQ_XSELL_ARM_NONE)) /
                                  (VAL(OQ_XSELL_ARM_DP) - VAL(OQ_XSELL_ARM_NONE))
                            : NAN,
                        res->share[sc][p][a]);
#undef VAL
            }
            COLLECT(o->kq_rock[sc], res->kq_rock[sc][p]);
            COLLECT(o->rock_share[sc], res->rock_share[sc][p]);
            COLLECT(o->rock_cand[sc], res->rock_cand[sc][p]);
            COLLECT(o->rules_pos[sc], res->rules_pos[sc][p]);
            COLLECT(o->rules_neg[sc], res->rules_neg[sc][p]);
            COLLECT(o->prec[sc], res->precision[sc][p]);
            COLLECT(o->rec[sc], res->recall[sc][p]);
        }
        for (int a = 0; a < N_LEARN; a++) {
            COLLECT(o->conv[a], res->conv[p][a]);
            for (int i = 0; i < R; i++)
                res->censored[p][a] += outs[p * R + i].cens[a];
        }
        COLLECT(o->conv[OQ_XSELL_ARM_KQ_NORULES] - o->conv[OQ_XSELL_ARM_KQ], res->conv_saved[p]);
        for (int a = 0; c->ablation && a < OQ_XSELL_N_ABL; a++) {
            COLLECT(o->share_abl[a], res->share_abl[p][a]);
            COLLECT(o->conv_abl[a], res->conv_abl[p][a]);
            for (int i = 0; i < R; i++)
                res->censored_abl[p][a] += outs[p * R + i].cens_abl[a];
        }
    }
#undef COLLECT
    free(buf);
    free(outs);
    res->seconds = oq_now() - t0;
    if (out_dir) rc = write_outputs(c, out_dir, res, err);
    return rc;
}
