/* bench_rules.c - association rules on Groceries and on 1M generated baskets,
 * ROCK on mushroom and votes. Prints the figures and writes
 * bench/results/rules.md (run from the source tree):
 *     ./build/bench_rules [SHARED_DIR]   (default ../shared)
 */
#include "offerq/core/io.h"
#include "offerq/core/rng.h"
#include "offerq/xsell/rock.h"
#include "offerq/xsell/rules.h"

#include <gsl/gsl_errno.h>
#include <gsl/gsl_randist.h>
#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static double median(double *v, int n)
{
    for (int i = 1; i < n; i++)
        for (int j = i; j > 0 && v[j - 1] > v[j]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    return v[n / 2];
}

static void die(const oq_error *err)
{
    char buf[1200];
    oq_error_format(err, buf, sizeof buf);
    fprintf(stderr, "bench_rules: %s\n", buf);
    exit(1);
}

/* 1M baskets over 2,000 items: Zipf-like popularity (weight 1/(rank+10)),
 * basket sizes 1 + Poisson(3), and 50 planted pairs (i, i+1) bought together
 * with probability 0.5. Written to a temporary file to time the reader too. */
static void gen_baskets(const char *path, size_t n, uint32_t ni)
{
    gsl_rng *rng = oq_rng_new(2024, 0);
    double *w = malloc(ni * sizeof *w);
    for (uint32_t i = 0; i < ni; i++)
        w[i] = 1.0 / (i + 10.0);
    gsl_ran_discrete_t *d = gsl_ran_discrete_preproc(ni, w);
    FILE *fp = fopen(path, "w");
    for (size_t t = 0; t < n; t++) {
        unsigned k = 1 + gsl_ran_poisson(rng, 3.0);
        for (unsigned j = 0; j < k; j++) {
            uint32_t it = (uint32_t)gsl_ran_discrete(rng, d);
            fprintf(fp, "%sitem %u", j ? "," : "", it);
            if (it % 40 == 0 && it < 2000 && gsl_rng_uniform(rng) < 0.5)
                fprintf(fp, ",item %u", it + 1);
        }
        fputc('\n', fp);
    }
    fclose(fp);
    gsl_ran_discrete_free(d);
    free(w);
    gsl_rng_free(rng);
}

typedef struct rules_fig {
    double read_s, mine_s;
    size_t n, items, itemsets, pos, neg;
} rules_fig;

static rules_fig bench_rules(const char *path, double sup, double conf, int negative, int reps)
{
    rules_fig f = {0};
    double tr[16], tm[16];
    for (int rep = 0; rep < reps; rep++) {
        oq_error err = {0};
        oq_baskets *b = NULL;
        double t0 = oq_now();
        if (oq_baskets_read(path, &b, &err)) die(&err);
        double t1 = oq_now();
        oq_rules_params p;
        oq_rules_params_default(&p);
        p.min_support = sup;
        p.min_confidence = conf;
        p.negative = negative;
        oq_ruleset *r = NULL;
        if (oq_rules_mine(b, &p, &r, &err)) die(&err);
        double t2 = oq_now();
        tr[rep] = t1 - t0;
        tm[rep] = t2 - t1;
        f.n = b->n;
        f.items = b->items.n;
        f.itemsets = r->n_itemsets;
        f.pos = r->n_positive;
        f.neg = r->n_negative;
        oq_ruleset_free(r);
        oq_baskets_free(b);
    }
    f.read_s = median(tr, reps);
    f.mine_s = median(tm, reps);
    return f;
}

typedef struct rock_fig {
    double total_s;
    oq_rock_result *res;
} rock_fig;

static void purity(const oq_rock_result *res, const oq_rock_records *r, size_t *impure,
                   size_t *impure_pts)
{
    *impure = *impure_pts = 0;
    uint32_t nl = r->labels.n;
    for (size_t c = 1; c <= res->n_clusters; c++) {
        size_t cnt[8] = {0};
        for (size_t i = 0; i < r->n; i++)
            if (res->cluster[i] == c && r->label[i] < 8) cnt[r->label[i]]++;
        int kinds = 0;
        for (uint32_t l = 0; l < nl && l < 8; l++)
            kinds += cnt[l] > 0;
        if (kinds > 1) (*impure)++, *impure_pts += res->size[c];
    }
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    const char *shared = argc > 1 ? argv[1] : "../shared";
    char groceries[4096], mushroom[4096], votes[4096];
    snprintf(groceries, sizeof groceries, "%s/data/groceries.csv", shared);
    snprintf(mushroom, sizeof mushroom, "%s/data/mushroom.csv", shared);
    snprintf(votes, sizeof votes, "%s/data/votes.csv", shared);

    rules_fig g = bench_rules(groceries, 0.001, 0.5, 0, 7);
    rules_fig gn = bench_rules(groceries, 0.001, 0.5, 1, 7);
    printf("groceries 0.001/0.5: %zu rules, read %.4f s, mine %.4f s (arules: 5668 rules)\n", g.pos,
           g.read_s, g.mine_s);
    printf("groceries +negative: %zu + %zu rules, mine %.4f s\n", gn.pos, gn.neg, gn.mine_s);

    const char *gpath = "/tmp/offerq-bench-baskets.csv";
    double t0 = oq_now();
    gen_baskets(gpath, 1000000, 2000);
    printf("generated 1M baskets in %.1f s\n", oq_now() - t0);
    rules_fig m = bench_rules(gpath, 0.001, 0.3, 0, 3);
    rules_fig mn = bench_rules(gpath, 0.001, 0.3, 1, 1);
    printf("1M baskets 0.001/0.3: %zu items, %zu itemsets, %zu rules, read %.3f s, mine %.3f s\n",
           m.items, m.itemsets, m.pos, m.read_s, m.mine_s);
    printf("1M baskets +negative: %zu negative rules, mine %.3f s\n", mn.neg, mn.mine_s);
    remove(gpath);

    oq_error err = {0};
    oq_rock_records *mr = NULL, *vr = NULL;
    if (oq_rock_read_csv(mushroom, "class", &mr, &err)) die(&err);
    if (oq_rock_read_csv(votes, "Class", &vr, &err)) die(&err);
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.theta = 0.8;
    p.k = 21;
    oq_rock_result *res = NULL;
    t0 = oq_now();
    if (oq_rock_cluster(mr, &p, &res, &err)) die(&err);
    double tm = oq_now() - t0;
    size_t imp, imp_pts;
    purity(res, mr, &imp, &imp_pts);
    printf("ROCK mushroom theta 0.8 k 21: %.2f s (neighbours %.2f, links %.2f, merge %.2f), "
           "%zu clusters, %zu impure (%zu points), %zu outliers, %zu neighbour pairs, %zu linked "
           "pairs\n",
           tm, res->t_neighbours, res->t_links, res->t_merge, res->n_clusters, imp, imp_pts,
           res->size[0], res->neighbour_pairs, res->link_pairs);
    oq_rock_params ps = p;
    ps.sample = 2000;
    oq_rock_result *rs = NULL;
    t0 = oq_now();
    if (oq_rock_cluster(mr, &ps, &rs, &err)) die(&err);
    double ts = oq_now() - t0;
    size_t simp, simp_pts;
    purity(rs, mr, &simp, &simp_pts);
    printf(
        "ROCK mushroom sample 2000 + labelling: %.2f s, %zu clusters, %zu impure, %zu outliers\n",
        ts, rs->n_clusters, simp, rs->size[0]);
    oq_rock_params pv;
    oq_rock_params_default(&pv);
    pv.theta = 0.73;
    pv.k = 2;
    oq_rock_result *rv = NULL;
    t0 = oq_now();
    if (oq_rock_cluster(vr, &pv, &rv, &err)) die(&err);
    double tv = oq_now() - t0;
    printf("ROCK votes theta 0.73 k 2: %.3f s, clusters %zu + %zu, outliers %zu\n", tv, rv->size[1],
           rv->size[2], rv->size[0]);

    char md[8192];
    int len = snprintf(
        md, sizeof md,
        "# Association rules and ROCK\n\n"
        "Command: `./build/bench_rules ../shared` (RelWithDebInfo, -O2, OMP_NUM_THREADS=%s),\n"
        "medians of 7 (Groceries) / 3 (1M baskets) runs; shared 2-core machine.\n\n"
        "| workload | result | read | mine / cluster |\n|---|---|---|---|\n"
        "| Groceries, support 0.001, confidence 0.5 | %zu rules (arules: 5,668), %zu itemsets | "
        "%.4f s | %.4f s |\n"
        "| Groceries, same + negative rules | %zu + %zu negative rules | | %.4f s |\n"
        "| 1M generated baskets, 2,000 items, support 0.001, confidence 0.3 | %zu itemsets, %zu "
        "rules | %.2f s | %.3f s |\n"
        "| 1M generated baskets + negative rules | %zu negative rules | | %.3f s |\n"
        "| ROCK mushroom (8,124), theta 0.8, k 21 | %zu clusters, %zu impure (%zu points), %zu "
        "outliers | | %.2f s (neighbours %.2f, links %.2f, merge %.2f) |\n"
        "| ROCK mushroom, sample 2,000 + labelling | %zu clusters, %zu impure, %zu outliers | | "
        "%.2f s |\n"
        "| ROCK votes (435), theta 0.73, k 2 | %zu + %zu, %zu outliers (paper: 206 + 166) | | %.3f "
        "s |\n\n"
        "R's arules mines Groceries at 0.001 in well under a second (its documentation); no R on\n"
        "this machine, so no same-machine ratio. Mushroom neighbour pairs: %zu, linked pairs: "
        "%zu.\n",
        getenv("OMP_NUM_THREADS") ? getenv("OMP_NUM_THREADS") : "default", g.pos, g.itemsets,
        g.read_s, g.mine_s, gn.pos, gn.neg, gn.mine_s, m.itemsets, m.pos, m.read_s, m.mine_s,
        mn.neg, mn.mine_s, res->n_clusters, imp, imp_pts, res->size[0], tm, res->t_neighbours,
        res->t_links, res->t_merge, rs->n_clusters, simp, rs->size[0], ts, rv->size[1], rv->size[2],
        rv->size[0], tv, res->neighbour_pairs, res->link_pairs);
    if (oq_write_file_atomic("bench/results/rules.md", md, (size_t)len, &err)) die(&err);
    printf("wrote bench/results/rules.md\n");
    oq_rock_result_free(res);
    oq_rock_result_free(rs);
    oq_rock_result_free(rv);
    oq_rock_records_free(mr);
    oq_rock_records_free(vr);
    return 0;
}
