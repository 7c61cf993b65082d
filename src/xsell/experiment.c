/* xsell_exp.c - the experiment of the paper's section 4 (figures 2a, 2b):
 * planted rules, K-Q-learning against plain Q-learning, the static bundle
 * rule, no cross-selling and the DP optimum, averaged over seeds with 95%
 * confidence intervals; CSV, SVG and JSON outputs. */
#include "util/json.h"
#include "offerq/xsell/crosssell.h"
#include "offerq/xsell/learn.h"
#include "offerq/core/csv.h"
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

void oq_xsell_exp_default(oq_xsell_exp_config *c, int quick)
{
    memset(c, 0, sizeof *c);
    oq_xsell_sim_default(&c->sim);
    c->seed = 1;
    c->static_level = 2; /* 20% off */
    c->rock_baskets = 500;
    c->rock_theta = 0.5;
    c->rock_k = 3;
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
        c->conv_share = 0.6;
        c->max_episodes = 4000;
        c->eval_every = 20;
        c->episodes_2b = 3000;
    } else {
        c->n_seeds = 10;
        c->n_points = 6;
        for (int p = 0; p < 6; p++)
            c->n_rules[p] = 2 * (p + 1);
        c->conv_share = 0.5;
        c->max_episodes = 20000;
        c->eval_every = 250;
        c->episodes_2b = 10000;
    }
}

/* Rules of scenario sc with n rules for one seed: a permutation of the
 * ordered pairs drawn once per seed, so the rule sets are nested along the
 * x axis (common random numbers). Positive rules take pairs from the front,
 * negative ones from the back. Returns the number written. */
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
    double conv[2];
    int censored[2];
    double kq[OQ_XSELL_N_SC], ql[OQ_XSELL_N_SC], st[OQ_XSELL_N_SC], dp[OQ_XSELL_N_SC];
    double kq_profit[OQ_XSELL_N_SC];
    double conv_rock;
    int censored_rock;
    double kq_rock[OQ_XSELL_N_SC], rock_cand[OQ_XSELL_N_SC];
} task_out;

/* Train a fresh table for `episodes` seasons (or until the greedy policy
 * reaches `target` when eval_every > 0); returns its exact revenue. */
static int train(const oq_xsell_sim *sim, const oq_xsell_kb *kb, int method, const uint8_t *cand,
                 uint64_t seed, uint64_t stream, long episodes, long eval_every, double target,
                 uint8_t *dec, double *revenue, double *profit, long *conv_at, oq_error *err)
{
    oq_xsell_qtable *t = NULL;
    gsl_rng *r = oq_rng_new(seed, stream);
    oq_xsell_learn_opts o;
    oq_xsell_learn_opts_default(&o, method);
    o.cand = cand;
    int rc = oq_xsell_qtable_new(&sim->mdp, &t, err);
    if (!rc && !r) rc = oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    if (conv_at) *conv_at = -1;
    for (long ep = 1; !rc && ep <= episodes; ep++) {
        rc = oq_xsell_learn_episode(t, sim, method == OQ_XSELL_KQ ? kb : NULL, &o, r, NULL, err);
        if (rc || eval_every <= 0 || ep % eval_every) continue;
        oq_xsell_qtable_greedy(t, dec);
        double v;
        rc = oq_xsell_evaluate(sim, dec, &v, NULL, err);
        if (!rc && v >= target) {
            *conv_at = ep;
            break;
        }
    }
    if (!rc && revenue) {
        oq_xsell_qtable_greedy(t, dec);
        rc = oq_xsell_evaluate(sim, dec, revenue, profit, err);
    }
    oq_xsell_qtable_free(t);
    gsl_rng_free(r);
    return rc;
}

/* The third arm: K-Q within the ROCK clusters of baskets simulated from the
 * planted rules (the paper's section 2 before section 3; learn.h). The
 * streams are new ones, so the other arms draw exactly what they did. */
static int rock_arm(const oq_xsell_exp_config *c, const oq_xsell_sim *sim, const oq_xsell_kb *kb,
                    int sc, uint64_t base, double target, uint8_t *dec, task_out *o, oq_error *err)
{
    oq_baskets *b = NULL;
    oq_xsell_candidates cand;
    oq_rock_params rp;
    oq_rock_params_default(&rp);
    rp.theta = c->rock_theta;
    rp.k = c->rock_k;
    gsl_rng *r = oq_rng_new(c->seed, base + 3 + 4 * (uint64_t)sc); /* 3, 7, 11 */
    int rc = r ? oq_xsell_learn_sim_baskets(sim, c->rock_baskets, r, &b, err)
               : oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    gsl_rng_free(r);
    if (!rc) rc = oq_xsell_learn_candidates_rock(&sim->mdp, b, &rp, &cand, err);
    oq_baskets_free(b);
    if (rc) return rc;
    int N = sim->mdp.n_items, allowed = 0;
    for (int q = 0; q < N * N; q++)
        allowed += cand.allow[q];
    o->rock_cand[sc] = (double)allowed / N;
    if (sc == OQ_XSELL_SC_POS) {
        long at;
        rc = train(sim, kb, OQ_XSELL_KQ, cand.allow, c->seed, base + 2, c->max_episodes,
                   c->eval_every, target, dec, NULL, NULL, &at, err);
        o->censored_rock = at < 0;
        o->conv_rock = at < 0 ? (double)c->max_episodes : (double)at;
    }
    if (!rc)
        rc = train(sim, kb, OQ_XSELL_KQ, cand.allow, c->seed, base + 12 + (uint64_t)sc,
                   c->episodes_2b, 0, 0, dec, &o->kq_rock[sc], NULL, NULL, err);
    return rc;
}

static int run_task(const oq_xsell_exp_config *c, int point, int seed_idx, double none_rev,
                    task_out *o, oq_error *err)
{
    uint8_t *dec = malloc(oq_xsell_n_states(&c->sim.mdp) * (size_t)c->sim.mdp.n_items);
    if (!dec) return oq_error_set(err, OQ_ENOMEM, NULL, 0, 0, "out of memory");
    int rc = 0, n = c->n_rules[point];
    uint64_t base = ((uint64_t)point * 1000 + (uint64_t)seed_idx) * 16;
    for (int sc = 0; !rc && sc < OQ_XSELL_N_SC; sc++) {
        oq_xsell_rule rules[OQ_XSELL_MAX_ITEMS * OQ_XSELL_MAX_ITEMS];
        size_t nr = plant_rules(c, seed_idx, sc, n, rules);
        oq_xsell_sim sim = c->sim;
        oq_xsell_kb kb;
        rc = oq_xsell_sim_plant(&sim, rules, nr, err);
        if (!rc) rc = oq_xsell_kb_build(&sim.mdp, rules, nr, &kb, err);
        double vstar = 0;
        if (!rc) rc = oq_xsell_dp_solve(&sim, NULL, &vstar, NULL, err);
        if (rc) break;
        o->dp[sc] = vstar;
        if (sc == OQ_XSELL_SC_POS) {
            /* fig 2a: seasons until the greedy policy captures conv_share of
             * the gain that the optimum makes over no cross-selling */
            double target = none_rev + c->conv_share * (vstar - none_rev);
            for (int m = 0; !rc && m < 2; m++) {
                long at;
                rc = train(&sim, &kb, m, NULL, c->seed, base + (uint64_t)m, c->max_episodes,
                           c->eval_every, target, dec, NULL, NULL, &at, err);
                o->censored[m] = at < 0;
                o->conv[m] = at < 0 ? (double)c->max_episodes : (double)at;
            }
        }
        /* fig 2b: revenue after a fixed training budget */
        if (!rc)
            rc = train(&sim, &kb, OQ_XSELL_KQ, NULL, c->seed, base + 4 + (uint64_t)sc,
                       c->episodes_2b, 0, 0, dec, &o->kq[sc], &o->kq_profit[sc], NULL, err);
        if (!rc)
            rc = train(&sim, &kb, OQ_XSELL_QLEARN, NULL, c->seed, base + 8 + (uint64_t)sc,
                       c->episodes_2b, 0, 0, dec, &o->ql[sc], NULL, NULL, err);
        if (!rc) {
            oq_xsell_policy_static(&sim.mdp, &kb, c->static_level, dec);
            rc = oq_xsell_evaluate(&sim, dec, &o->st[sc], NULL, err);
        }
        if (!rc && c->rock_baskets > 0)
            rc = rock_arm(c, &sim, &kb, sc, base, none_rev + c->conv_share * (vstar - none_rev),
                          dec, o, err);
    }
    free(dec);
    return rc;
}

static oq_xsell_stat stat_of(const double *x, int n)
{
    oq_xsell_stat s = {0, 0, 0};
    double m = 0, v = 0;
    for (int i = 0; i < n; i++)
        m += x[i];
    m /= n;
    for (int i = 0; i < n; i++)
        v += (x[i] - m) * (x[i] - m);
    s.mean = s.lo = s.hi = m;
    if (n > 1) {
        double h = gsl_cdf_tdist_Pinv(0.975, n - 1) * sqrt(v / (n - 1) / n);
        s.lo = m - h;
        s.hi = m + h;
    }
    return s;
}

/* ---- output ---------------------------------------------------------------- */

typedef struct series {
    const char *name, *color;
    const oq_xsell_stat *y; /* (n_points) */
    int dashed;
} series;

static double nice_step(double range, int ticks)
{
    double raw = range / ticks, p = pow(10, floor(log10(raw))), f = raw / p;
    return (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * p;
}

/* A line chart with 95% CI bars: x = number of rules. */
static int write_svg(const char *path, const char *title, const char *xlabel, const char *ylabel,
                     int nx, const int *x, const series *ser, int ns, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    FILE *f = af.fp;
    const double W = 640, H = 420, L = 80, R = 170, T = 40, B = 60;
    double ylo = INFINITY, yhi = -INFINITY;
    for (int s = 0; s < ns; s++)
        for (int i = 0; i < nx; i++) {
            if (ser[s].y[i].lo < ylo) ylo = ser[s].y[i].lo;
            if (ser[s].y[i].hi > yhi) yhi = ser[s].y[i].hi;
        }
    if (!(yhi > ylo)) {
        yhi = ylo + 1;
        ylo -= 1;
    }
    double pad = 0.06 * (yhi - ylo);
    ylo -= pad;
    yhi += pad;
    double step = nice_step(yhi - ylo, 6);
    ylo = floor(ylo / step) * step;
    yhi = ceil(yhi / step) * step;
    double xlo = x[0], xhi = x[nx - 1];
    if (xhi <= xlo) {
        xlo -= 1;
        xhi += 1;
    }
#define PX(v) (L + ((v)-xlo) / (xhi - xlo) * (W - L - R))
#define PY(v) (H - B - ((v)-ylo) / (yhi - ylo) * (H - T - B))
    fprintf(f,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%g\" height=\"%g\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%g\" y=\"22\" font-size=\"14\" text-anchor=\"middle\">%s</text>\n",
            W, H, (L + W - R) / 2, title);
    for (double v = ylo; v <= yhi + step / 2; v += step)
        fprintf(f,
                "<line x1=\"%g\" y1=\"%.1f\" x2=\"%g\" y2=\"%.1f\" stroke=\"#ddd\"/>"
                "<text x=\"%g\" y=\"%.1f\" text-anchor=\"end\">%g</text>\n",
                L, PY(v), W - R, PY(v), L - 6, PY(v) + 4, v);
    for (int i = 0; i < nx; i++)
        fprintf(f, "<text x=\"%.1f\" y=\"%g\" text-anchor=\"middle\">%d</text>\n", PX(x[i]),
                H - B + 18, x[i]);
    fprintf(f,
            "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>"
            "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"black\"/>\n"
            "<text x=\"%g\" y=\"%g\" text-anchor=\"middle\">%s</text>\n"
            "<text x=\"18\" y=\"%g\" text-anchor=\"middle\" transform=\"rotate(-90 18 "
            "%g)\">%s</text>\n",
            L, H - B, W - R, H - B, L, T, L, H - B, (L + W - R) / 2, H - 18, xlabel,
            (T + H - B) / 2, (T + H - B) / 2, ylabel);
    for (int s = 0; s < ns; s++) {
        const series *se = &ser[s];
        fprintf(f, "<polyline fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                se->color, se->dashed ? " stroke-dasharray=\"6 4\"" : "");
        for (int i = 0; i < nx; i++)
            fprintf(f, "%.1f,%.1f ", PX(x[i]), PY(se->y[i].mean));
        fprintf(f, "\"/>\n");
        for (int i = 0; i < nx; i++)
            fprintf(f,
                    "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"%s\"/>"
                    "<circle cx=\"%.1f\" cy=\"%.1f\" r=\"3\" fill=\"%s\"/>\n",
                    PX(x[i]), PY(se->y[i].lo), PX(x[i]), PY(se->y[i].hi), se->color, PX(x[i]),
                    PY(se->y[i].mean), se->color);
        double ly = T + 16 + 20 * s;
        fprintf(f,
                "<line x1=\"%g\" y1=\"%g\" x2=\"%g\" y2=\"%g\" stroke=\"%s\" stroke-width=\"2\"%s/>"
                "<text x=\"%g\" y=\"%g\">%s</text>\n",
                W - R + 12, ly, W - R + 36, ly, se->color,
                se->dashed ? " stroke-dasharray=\"6 4\"" : "", W - R + 42, ly + 4, se->name);
    }
#undef PX
#undef PY
    fprintf(f, "</svg>\n");
    return oq_afile_commit(&af, err);
}

static const char *sc_name[OQ_XSELL_N_SC] = {"positive", "mixed", "negative"};

static int write_outputs(const oq_xsell_exp_config *c, const char *dir,
                         const oq_xsell_exp_result *res, oq_error *err)
{
    char path[4096];
    oq_afile af;
    int rc, P = c->n_points;
    /* fig 2a */
    snprintf(path, sizeof path, "%s/fig2a.csv", dir);
    if ((rc = oq_afile_open(&af, path, err))) return rc;
    fprintf(af.fp, "n_rules,method,episodes_mean,ci95_lo,ci95_hi,censored,runs\n");
    for (int p = 0; p < P; p++)
        for (int m = 0; m < 2; m++)
            fprintf(af.fp, "%d,%s,%.1f,%.1f,%.1f,%d,%d\n", c->n_rules[p], m ? "qlearning" : "kq",
                    res->conv[m][p].mean, res->conv[m][p].lo, res->conv[m][p].hi,
                    res->censored[m][p], c->n_seeds);
    for (int p = 0; c->rock_baskets && p < P; p++)
        fprintf(af.fp, "%d,kq_rock,%.1f,%.1f,%.1f,%d,%d\n", c->n_rules[p], res->conv_rock[p].mean,
                res->conv_rock[p].lo, res->conv_rock[p].hi, res->censored_rock[p], c->n_seeds);
    if ((rc = oq_afile_commit(&af, err))) return rc;
    series s2a[3] = {{"K-Q-learning", "#d62728", res->conv[0], 0},
                     {"plain Q-learning", "#1f77b4", res->conv[1], 1},
                     {"K-Q in ROCK sets", "#9467bd", res->conv_rock, 0}};
    snprintf(path, sizeof path, "%s/fig2a.svg", dir);
    if ((rc = write_svg(path, "Fig. 2a: seasons to converge (positive rules)",
                        "number of planted positive rules", "training seasons", P, c->n_rules, s2a,
                        c->rock_baskets ? 3 : 2, err)))
        return rc;
    /* fig 2b */
    snprintf(path, sizeof path, "%s/fig2b.csv", dir);
    if ((rc = oq_afile_open(&af, path, err))) return rc;
    fprintf(af.fp, "scenario,n_rules,policy,revenue_mean,ci95_lo,ci95_hi,gap_to_dp_pct,"
                   "share_of_dp_gain_pct\n");
    for (int sc = 0; sc < OQ_XSELL_N_SC; sc++)
        for (int p = 0; p < P; p++) {
            const oq_xsell_stat none = {res->none_revenue, res->none_revenue, res->none_revenue};
            const oq_xsell_stat *pol[6] = {&res->kq[sc][p], &res->ql[sc][p], &res->stat_rule[sc][p],
                                           &none,           &res->dp[sc][p], &res->kq_rock[sc][p]};
            static const char *pname[6] = {"kq", "qlearning", "static", "none", "dp", "kq_rock"};
            double dp = res->dp[sc][p].mean, gain = dp - res->none_revenue;
            for (int k = 0; k < (c->rock_baskets ? 6 : 5); k++) {
                fprintf(af.fp, "%s,%d,%s,%.4f,%.4f,%.4f,%.3f,", sc_name[sc], c->n_rules[p],
                        pname[k], pol[k]->mean, pol[k]->lo, pol[k]->hi,
                        100 * (dp - pol[k]->mean) / dp);
                if (gain > 1e-6 * dp)
                    fprintf(af.fp, "%.1f\n", 100 * (pol[k]->mean - res->none_revenue) / gain + 0.0);
                else
                    fprintf(af.fp, "\n");
            }
        }
    if ((rc = oq_afile_commit(&af, err))) return rc;
    oq_xsell_stat none_line[OQ_XSELL_EXP_MAX_POINTS];
    for (int p = 0; p < P; p++)
        none_line[p] = (oq_xsell_stat){res->none_revenue, res->none_revenue, res->none_revenue};
    series s2b[6] = {{"K-Q, positive", "#d62728", res->kq[OQ_XSELL_SC_POS], 0},
                     {"K-Q, mixed", "#ff7f0e", res->kq[OQ_XSELL_SC_MIX], 0},
                     {"K-Q, negative", "#1f77b4", res->kq[OQ_XSELL_SC_NEG], 0},
                     {"no cross-selling", "#555555", none_line, 1},
                     {"DP optimum, positive", "#2ca02c", res->dp[OQ_XSELL_SC_POS], 1},
                     {"K-Q in ROCK sets, pos.", "#9467bd", res->kq_rock[OQ_XSELL_SC_POS], 0}};
    snprintf(path, sizeof path, "%s/fig2b.svg", dir);
    if ((rc = write_svg(path, "Fig. 2b: expected revenue per season", "number of planted rules",
                        "expected revenue", P, c->n_rules, s2b, c->rock_baskets ? 6 : 5, err)))
        return rc;
    /* summary */
    json_t *j = json_object();
    json_object_set_new(j, "seed", json_integer((json_int_t)c->seed));
    json_object_set_new(j, "seeds", json_integer(c->n_seeds));
    json_object_set_new(j, "items", json_integer(c->sim.mdp.n_items));
    json_object_set_new(j, "states", json_integer((json_int_t)oq_xsell_n_states(&c->sim.mdp)));
    json_object_set_new(j, "max_episodes", json_integer(c->max_episodes));
    json_object_set_new(j, "episodes_2b", json_integer(c->episodes_2b));
    json_object_set_new(j, "conv_share", json_real(c->conv_share));
    json_object_set_new(j, "rock_baskets", json_integer((json_int_t)c->rock_baskets));
    json_object_set_new(j, "rock_theta", json_real(c->rock_theta));
    json_object_set_new(j, "rock_k", json_integer((json_int_t)c->rock_k));
    json_object_set_new(j, "none_revenue", json_real(res->none_revenue));
    json_object_set_new(j, "none_profit", json_real(res->none_profit));
    json_object_set_new(j, "seconds", json_real(res->seconds));
    json_t *pts = json_array();
    for (int p = 0; p < P; p++) {
        json_t *o = json_object();
        json_object_set_new(o, "n_rules", json_integer(c->n_rules[p]));
        json_object_set_new(o, "kq_episodes", json_real(res->conv[0][p].mean));
        json_object_set_new(o, "qlearning_episodes", json_real(res->conv[1][p].mean));
        if (c->rock_baskets)
            json_object_set_new(o, "kq_rock_episodes", json_real(res->conv_rock[p].mean));
        for (int sc = 0; sc < OQ_XSELL_N_SC; sc++) {
            json_t *s = json_object();
            json_object_set_new(s, "kq", json_real(res->kq[sc][p].mean));
            json_object_set_new(s, "kq_profit", json_real(res->kq_profit[sc][p].mean));
            json_object_set_new(s, "qlearning", json_real(res->ql[sc][p].mean));
            json_object_set_new(s, "static", json_real(res->stat_rule[sc][p].mean));
            json_object_set_new(s, "dp", json_real(res->dp[sc][p].mean));
            if (c->rock_baskets) {
                json_object_set_new(s, "kq_rock", json_real(res->kq_rock[sc][p].mean));
                json_object_set_new(s, "rock_candidates_per_item",
                                    json_real(res->rock_cand[sc][p].mean));
            }
            json_object_set_new(
                s, "kq_gap_to_dp_pct",
                json_real(100 * (res->dp[sc][p].mean - res->kq[sc][p].mean) / res->dp[sc][p].mean));
            json_object_set_new(o, sc_name[sc], s);
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
    if (c->n_seeds < 1 || c->n_points < 1 || c->n_points > OQ_XSELL_EXP_MAX_POINTS ||
        c->max_episodes < 1 || c->episodes_2b < 1 || c->eval_every < 1 || c->static_level < 0 ||
        c->static_level >= c->sim.mdp.n_disc || !(c->conv_share > 0 && c->conv_share <= 1))
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
        int r = run_task(c, k / c->n_seeds, k % c->n_seeds, res->none_revenue, &outs[k], &e);
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
#define COLLECT(expr, dst)                                                                         \
    do {                                                                                           \
        for (int i = 0; i < R; i++) {                                                              \
            const task_out *o = &outs[p * R + i];                                                  \
            buf[i] = (expr);                                                                       \
        }                                                                                          \
        dst = stat_of(buf, R);                                                                     \
    } while (0)
    for (int p = 0; p < c->n_points; p++) {
        for (int m = 0; m < 2; m++) {
            COLLECT(o->conv[m], res->conv[m][p]);
            for (int i = 0; i < R; i++)
                res->censored[m][p] += outs[p * R + i].censored[m];
        }
        for (int sc = 0; sc < OQ_XSELL_N_SC; sc++) {
            COLLECT(o->kq[sc], res->kq[sc][p]);
            COLLECT(o->ql[sc], res->ql[sc][p]);
            COLLECT(o->st[sc], res->stat_rule[sc][p]);
            COLLECT(o->dp[sc], res->dp[sc][p]);
            COLLECT(o->kq_profit[sc], res->kq_profit[sc][p]);
            COLLECT(o->kq_rock[sc], res->kq_rock[sc][p]);
            COLLECT(o->rock_cand[sc], res->rock_cand[sc][p]);
        }
        COLLECT(o->conv_rock, res->conv_rock[p]);
        for (int i = 0; i < R; i++)
            res->censored_rock[p] += outs[p * R + i].censored_rock;
    }
#undef COLLECT
    free(buf);
    free(outs);
    res->seconds = oq_now() - t0;
    if (out_dir) rc = write_outputs(c, out_dir, res, err);
    return rc;
}
