/* test_rules.c - baskets reader, FP-growth, positive and negative rules.
 * References: R's arules on Groceries (5,668 rules at support 0.001,
 * confidence 0.5, its documented top rule), a brute-force enumeration of every
 * itemset on random small data, and a hand-computed negative rule example. */
#include "testutil.h"
#include "offerq/core/rng.h"
#include "offerq/xsell/rules.h"

#include <gsl/gsl_rng.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const oq_rule *find_rule(const oq_ruleset *r, const oq_dict *d, int type, const char *lhs,
                                const char *rhs)
{
    /* lhs: names joined by " & " in name order */
    for (size_t i = 0; i < r->n; i++) {
        const oq_rule *q = &r->rule[i];
        if (q->type != type || strcmp(d->names[q->rhs], rhs)) continue;
        char buf[1024] = "";
        for (uint32_t j = 0; j < q->lhs_len; j++) {
            if (j) strcat(buf, " & ");
            strcat(buf, d->names[r->items[q->lhs_off + j]]);
        }
        if (!strcmp(buf, lhs)) return q;
    }
    return NULL;
}

/* arules: apriori(Groceries, parameter = list(support = 0.001, confidence = 0.5))
 * -> "set of 5668 rules"; the top rule by lift (arules vignette / inspect):
 * {Instant food products, soda} => {hamburger meat}, support 0.001220132,
 * confidence 0.6315789, lift 18.995654, count 12. */
static void test_groceries_arules(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_baskets *b = NULL;
    assert_int_equal(oq_baskets_read(tu_shared("data/groceries.csv"), &b, &err), 0);
    assert_int_equal(b->n, 9835);
    assert_int_equal(b->items.n, 169);
    /* trimmed like read.transactions: "cream cheese " is "cream cheese" */
    assert_true(oq_dict_find(&b->items, "cream cheese") >= 0);
    assert_true(oq_dict_find(&b->items, "cream cheese ") < 0);
    oq_rules_params p;
    oq_rules_params_default(&p);
    p.min_support = 0.001;
    p.min_confidence = 0.5;
    oq_ruleset *r = NULL;
    assert_int_equal(oq_rules_mine(b, &p, &r, &err), 0);
    assert_int_equal(r->n, 5668);
    assert_int_equal(r->n_negative, 0);
    const oq_rule *q = &r->rule[0];
    assert_ptr_equal(q, find_rule(r, &b->items, OQ_RULE_POSITIVE, "Instant food products & soda",
                                  "hamburger meat"));
    assert_int_equal(q->count, 12);
    assert_true(fabs(q->support - 0.001220132) < 1e-9);
    assert_true(fabs(q->confidence - 0.6315789) < 1e-7);
    assert_true(fabs(q->lift - 18.995654) < 1e-6);
    /* sorted by lift, then support (equal up to rounding counts as a tie) */
    for (size_t i = 1; i < r->n; i++) {
        double a = r->rule[i - 1].lift, c = r->rule[i].lift;
        assert_true(a >= c * (1 - 1e-12));
        if (fabs(a - c) <= 1e-12 * a)
            assert_true(r->rule[i - 1].support >= r->rule[i].support * (1 - 1e-12));
    }
    /* maxlen = 3 (itemsets of at most 3 items) keeps exactly the rules with |lhs| <= 2 */
    size_t small = 0;
    for (size_t i = 0; i < r->n; i++)
        small += r->rule[i].lhs_len <= 2;
    oq_ruleset *r3 = NULL;
    p.max_len = 3;
    assert_int_equal(oq_rules_mine(b, &p, &r3, &err), 0);
    assert_int_equal(r3->n, small);
    oq_ruleset_free(r3);
    oq_ruleset_free(r);
    oq_baskets_free(b);
}

/* chi-squared of a 2x2 table by its definition, sum (O - E)^2 / E over the
 * cells (arules' chiSquared), with cx = c(X), cy = c(rhs), cxy = c(X u rhs). */
static double chisq_cells(double n, double cx, double cy, double cxy)
{
    double o[4] = {cxy, cx - cxy, cy - cxy, n - cx - cy + cxy};
    double row[2] = {cx, n - cx}, col[2] = {cy, n - cy}, x2 = 0;
    for (int i = 0; i < 4; i++) {
        double e = row[i / 2] * col[i % 2] / n;
        if (e == 0) return 0; /* an empty margin: rules.h says 0 */
        x2 += (o[i] - e) * (o[i] - e) / e;
    }
    return x2;
}

static int close_rel(double a, double b, double tol)
{
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * fmax(1.0, fmax(fabs(a), fabs(b)));
}

/* Brute-force reading of a rule: masks of X and y, counts. */
static void rule_masks(const oq_ruleset *r, const oq_rule *q, uint32_t *xm, uint32_t *yb)
{
    *xm = 0;
    for (uint32_t j = 0; j < q->lhs_len; j++)
        *xm |= 1u << r->items[q->lhs_off + j];
    *yb = 1u << q->rhs;
}

/* Confidence of X => y (or X => not y) as the fraction num / den, from the
 * brute-force counts. */
static void conf_frac(const uint64_t *cnt, int type, uint32_t xm, uint32_t yb, uint64_t *num,
                      uint64_t *den)
{
    *den = cnt[xm];
    *num = type == OQ_RULE_POSITIVE ? cnt[xm | yb] : cnt[xm] - cnt[xm | yb];
}

/* arules' is.redundant by enumeration: some non-empty proper subset X' of X
 * with conf(X' => y) >= conf(X => y). */
static int redundant_brute(const uint64_t *cnt, int type, uint32_t xm, uint32_t yb)
{
    uint64_t a, ca;
    conf_frac(cnt, type, xm, yb, &a, &ca);
    for (uint32_t sub = (xm - 1) & xm; sub; sub = (sub - 1) & xm) {
        uint64_t g, cg;
        conf_frac(cnt, type, sub, yb, &g, &cg);
        if (g * ca >= a * cg) return 1;
    }
    return 0;
}

/* The measures, the options and the itemset kinds of one brute-force data
 * set; all the rule set r (mined with p) holds is checked against direct
 * counts cnt[mask] of the ni items over nb baskets. */
static void check_extras(const oq_baskets *b, const uint64_t *cnt, int ni, size_t nb,
                         const oq_rules_params *p, const oq_ruleset *r)
{
    oq_error err = {0};
    double n = (double)nb;
    /* measures of every rule */
    for (size_t i = 0; i < r->n; i++) {
        const oq_rule *q = &r->rule[i];
        uint32_t xm, yb;
        rule_masks(r, q, &xm, &yb);
        double cx = (double)cnt[xm], cy = (double)cnt[yb], cxy = (double)cnt[xm | yb];
        if (q->type == OQ_RULE_NEGATIVE) cy = n - cy, cxy = cx - cxy; /* "not y" as the rhs */
        assert_true(close_rel(q->coverage, cx / n, 1e-12));
        assert_true(close_rel(q->leverage, cxy / n - (cx / n) * (cy / n), 1e-12));
        double conf = cxy / cx;
        double conv = conf >= 1 ? INFINITY : (1 - cy / n) / (1 - conf);
        assert_true(close_rel(q->conviction, conv, 1e-9));
        assert_true(close_rel(q->chisq, chisq_cells(n, cx, cy, cxy), 1e-9));
    }
    /* --prune-redundant: exactly the rules that are not redundant */
    oq_rules_params pp = *p;
    pp.prune_redundant = 1;
    oq_ruleset *pr = NULL;
    assert_int_equal(oq_rules_mine(b, &pp, &pr, &err), 0);
    size_t nred = 0;
    for (size_t i = 0; i < r->n; i++) {
        uint32_t xm, yb;
        rule_masks(r, &r->rule[i], &xm, &yb);
        nred += redundant_brute(cnt, r->rule[i].type, xm, yb);
    }
    assert_int_equal(pr->n, r->n - nred);
    assert_int_equal(pr->n_redundant, nred);
    for (size_t i = 0; i < pr->n; i++) {
        uint32_t xm, yb;
        rule_masks(pr, &pr->rule[i], &xm, &yb);
        assert_false(redundant_brute(cnt, pr->rule[i].type, xm, yb));
    }
    oq_ruleset_free(pr);
    /* --min-len 3, --lhs A,B,D, --rhs B,C (by names "item A", ...) */
    const char *lhs[] = {"item A", "item B", "item D"}, *rhs[] = {"item B", "item C"};
    pp = *p;
    pp.min_len = 3;
    pp.lhs_items = lhs;
    pp.n_lhs_items = 3;
    pp.rhs_items = rhs;
    pp.n_rhs_items = 2;
    assert_int_equal(oq_rules_mine(b, &pp, &pr, &err), 0);
    size_t want = 0;
    uint32_t lhs_mask = 1u | 2u | 8u, rhs_mask = 2u | 4u;
    for (size_t i = 0; i < r->n; i++) {
        uint32_t xm, yb;
        rule_masks(r, &r->rule[i], &xm, &yb);
        want += __builtin_popcount(xm) + 1 >= 3 && !(xm & ~lhs_mask) && (yb & rhs_mask);
    }
    assert_int_equal(pr->n, want);
    for (size_t i = 0; i < pr->n; i++) {
        uint32_t xm, yb;
        rule_masks(pr, &pr->rule[i], &xm, &yb);
        assert_true(__builtin_popcount(xm) + 1 >= 3 && !(xm & ~lhs_mask) && (yb & rhs_mask));
    }
    oq_ruleset_free(pr);
    /* an unknown name is refused */
    const char *bad[] = {"item Z"};
    pp.rhs_items = bad;
    pp.n_rhs_items = 1;
    assert_int_equal(oq_rules_mine(b, &pp, &pr, &err), OQ_EINVAL);
    assert_null(pr);
    /* --sort: every measure descending, the same rules */
    for (int so = OQ_RULES_SORT_LIFT; so <= OQ_RULES_SORT_CHISQ; so++) {
        pp = *p;
        pp.sort = so;
        assert_int_equal(oq_rules_mine(b, &pp, &pr, &err), 0);
        assert_int_equal(pr->n, r->n);
        for (size_t i = 1; i < pr->n; i++) {
            const oq_rule *x = &pr->rule[i - 1], *y = &pr->rule[i];
            double kx[] = {x->lift,     x->support,    x->confidence, x->coverage,
                           x->leverage, x->conviction, x->chisq};
            double ky[] = {y->lift,     y->support,    y->confidence, y->coverage,
                           y->leverage, y->conviction, y->chisq};
            assert_true(kx[so] >= ky[so] || close_rel(kx[so], ky[so], 1e-12));
        }
        oq_ruleset_free(pr);
    }
    /* closed and maximal itemsets, against every superset */
    uint64_t minc = (uint64_t)ceil(p->min_support * n - 1e-9);
    int max_len = p->max_len;
    oq_itemsets *all = NULL, *cl = NULL, *mx = NULL;
    assert_int_equal(oq_itemsets_mine(b, p->min_support, max_len, &all, &err), 0);
    assert_int_equal(oq_itemsets_select(all, OQ_ITEMSETS_CLOSED, 1, &cl, &err), 0);
    assert_int_equal(oq_itemsets_select(all, OQ_ITEMSETS_MAXIMAL, 1, &mx, &err), 0);
    size_t ncl = 0, nmx = 0;
    uint32_t nsets = 1u << ni;
    for (uint32_t s = 1; s < nsets; s++) {
        int k = __builtin_popcount(s);
        if (cnt[s] < minc || (max_len > 0 && k > max_len)) continue;
        int closed = 1, maximal = 1;
        for (uint32_t t = 1; t < nsets; t++) {
            if ((t & s) != s || t == s) continue;
            if (cnt[t] < minc || (max_len > 0 && __builtin_popcount(t) > max_len)) continue;
            maximal = 0;
            if (cnt[t] == cnt[s]) closed = 0;
        }
        uint32_t ids[16];
        int m = 0;
        for (int i = 0; i < ni; i++)
            if (s >> i & 1) ids[m++] = (uint32_t)i;
        assert_int_equal(oq_itemsets_count(cl, ids, (size_t)m), closed ? (int64_t)cnt[s] : -1);
        assert_int_equal(oq_itemsets_count(mx, ids, (size_t)m), maximal ? (int64_t)cnt[s] : -1);
        ncl += closed;
        nmx += maximal;
    }
    assert_int_equal(cl->n, ncl);
    assert_int_equal(mx->n, nmx);
    assert_true(nmx < ncl && ncl <= all->n);
    oq_itemsets_free(all);
    oq_itemsets_free(cl);
    oq_itemsets_free(mx);
}

/* Random baskets over ni <= 12 items; every itemset counted by scanning. */
static void test_bruteforce(void **state)
{
    (void)state;
    for (int trial = 0; trial < 6; trial++) {
        gsl_rng *rng = oq_rng_new(42, (uint64_t)trial);
        int ni = 6 + trial; /* 6..11 items */
        size_t nb = 150 + 40 * (size_t)trial;
        oq_baskets *b = oq_baskets_new();
        assert_non_null(b);
        char nm[16];
        for (int i = 0; i < ni; i++) {
            uint32_t id;
            snprintf(nm, sizeof nm, "item %c", 'A' + i);
            assert_int_equal(oq_dict_intern(&b->items, nm, strlen(nm), &id), 0);
        }
        uint32_t *mask = malloc(nb * sizeof *mask); // (nb) basket as a bit mask
        oq_error err = {0};
        for (size_t t = 0; t < nb; t++) {
            uint32_t ids[16];
            size_t k = 0;
            uint32_t m = 0;
            for (int i = 0; i < ni; i++) {
                /* item-dependent rates plus a planted pair (0,1) and an avoided pair (2,3) */
                double pr = 0.15 + 0.5 * (double)(i % 3) / 3.0;
                if (i == 1 && (m & 1)) pr = 0.9;
                if (i == 3 && (m & 4)) pr = 0.02;
                if (gsl_rng_uniform(rng) < pr) {
                    ids[k++] = (uint32_t)i;
                    m |= 1u << i;
                }
            }
            if (k > 1 && gsl_rng_uniform(rng) < 0.2) ids[k++] = ids[0]; /* a repeat */
            mask[t] = m;
            assert_int_equal(oq_baskets_add(b, ids, k, &err), 0);
        }
        uint32_t nsets = 1u << ni;
        uint64_t *cnt = calloc(nsets, sizeof *cnt); // (2^ni) baskets containing each set
        for (uint32_t s = 1; s < nsets; s++)
            for (size_t t = 0; t < nb; t++)
                cnt[s] += (mask[t] & s) == s;
        double minsup = 0.03 + 0.01 * trial, minconf = 0.3;
        int max_len = trial % 2 ? 3 : 0;
        uint64_t minc = (uint64_t)ceil(minsup * (double)nb - 1e-9);
        /* itemsets */
        oq_itemsets *is = NULL;
        assert_int_equal(oq_itemsets_mine(b, minsup, max_len, &is, &err), 0);
        size_t expect = 0;
        for (uint32_t s = 1; s < nsets; s++) {
            int k = __builtin_popcount(s);
            if (cnt[s] < minc || (max_len > 0 && k > max_len)) continue;
            expect++;
            uint32_t ids[16];
            int m = 0;
            for (int i = 0; i < ni; i++)
                if (s >> i & 1) ids[m++] = (uint32_t)i;
            assert_int_equal(oq_itemsets_count(is, ids, (size_t)m), (int64_t)cnt[s]);
        }
        assert_int_equal(is->n, expect);
        oq_itemsets_free(is);
        /* rules, positive and negative */
        oq_rules_params p;
        oq_rules_params_default(&p);
        p.min_support = minsup;
        p.min_confidence = minconf;
        p.max_len = max_len;
        p.negative = 1;
        p.neg_max_lift = 0.8;
        oq_ruleset *r = NULL;
        assert_int_equal(oq_rules_mine(b, &p, &r, &err), 0);
        size_t npos = 0, nneg = 0;
        double n = (double)nb;
        for (uint32_t s = 1; s < nsets; s++) {
            int k = __builtin_popcount(s);
            if (max_len > 0 && k + 1 > max_len + 1) continue;
            for (int y = 0; y < ni; y++) {
                uint32_t Z = s | 1u << y;
                if (s >> y & 1) {
                    /* positive: Z = s, X = s \ y */
                    uint32_t X = s & ~(1u << y);
                    if (!X || cnt[s] < minc || (max_len > 0 && k > max_len)) continue;
                    double conf = (double)cnt[s] / (double)cnt[X];
                    if (conf < minconf - 1e-12) continue;
                    npos++;
                    continue;
                }
                /* negative: X = s (frequent, |X| <= max_len - 1), y frequent */
                if (max_len > 0 && k + 1 > max_len) continue;
                uint32_t yb = 1u << y;
                if (cnt[s] < minc || cnt[yb] < minc) continue;
                double sx = (double)cnt[s] / n, sy = (double)cnt[yb] / n;
                if (sx * sy < minsup - 1e-12) continue;
                double cpos = (double)cnt[Z] / (double)cnt[s];
                if (cpos / sy > p.neg_max_lift + 1e-12) continue;
                uint64_t cneg = 0; /* counted directly: X present, y absent */
                for (size_t t = 0; t < nb; t++)
                    cneg += (mask[t] & s) == s && !(mask[t] & yb);
                if (cneg < minc || (double)cneg / (double)cnt[s] < minconf - 1e-12) continue;
                nneg++;
                /* find it and check the negative-rule identities */
                int found = 0;
                for (size_t i = 0; i < r->n && !found; i++) {
                    const oq_rule *q = &r->rule[i];
                    if (q->type != OQ_RULE_NEGATIVE || q->rhs != (uint32_t)y) continue;
                    uint32_t xm = 0;
                    for (uint32_t j = 0; j < q->lhs_len; j++)
                        xm |= 1u << r->items[q->lhs_off + j];
                    if (xm != s) continue;
                    found = 1;
                    assert_int_equal(q->count, cneg);
                    /* s(A u not B) = s(A) - s(A u B) */
                    assert_true(fabs(q->support - (sx - (double)cnt[Z] / n)) < 1e-12);
                    /* conf(A => not B) = 1 - conf(A => B) */
                    assert_true(fabs(q->confidence - (1 - cpos)) < 1e-12);
                    assert_true(fabs(q->lift - (1 - cpos) / (1 - sy)) < 1e-12);
                }
                assert_true(found);
            }
        }
        assert_int_equal(r->n_positive, npos);
        assert_int_equal(r->n_negative, nneg);
        /* every positive rule's numbers against direct counts */
        for (size_t i = 0; i < r->n; i++) {
            const oq_rule *q = &r->rule[i];
            if (q->type != OQ_RULE_POSITIVE) continue;
            uint32_t xm = 0;
            for (uint32_t j = 0; j < q->lhs_len; j++)
                xm |= 1u << r->items[q->lhs_off + j];
            uint32_t zm = xm | 1u << q->rhs;
            assert_int_equal(q->count, cnt[zm]);
            assert_true(fabs(q->confidence - (double)cnt[zm] / (double)cnt[xm]) < 1e-12);
            assert_true(fabs(q->lift - q->confidence / ((double)cnt[1u << q->rhs] / n)) < 1e-9);
        }
        if (trial == 0) assert_true(nneg > 0); /* the avoided pair shows up */
        check_extras(b, cnt, ni, nb, &p, r);
        oq_ruleset_free(r);
        free(cnt);
        free(mask);
        oq_baskets_free(b);
        gsl_rng_free(rng);
    }
}

/* Ten baskets, worked by hand (rules.h conventions, min support 0.2,
 * confidence 0.5, neg-max-lift 0.5):
 *   4 x {a,b}, 4 x {a,c}, 1 x {b,c}, 1 x {c}
 *   s(a) = .8, s(b) = .5, s(c) = .6, s(ab) = .4, s(ac) = .4, s(bc) = .1, s(abc) = 0
 * negative:
 *   a & b => not c : s = .4 - 0 = .4, conf = 1 - 0 = 1,    lift = 1 / (1 - .6) = 2.5
 *   a & c => not b : s = .4,          conf = 1,            lift = 1 / (1 - .5) = 2
 *   b => not c     : s = .5 - .1 = .4, conf = 1 - .2 = .8, lift = .8 / .4 = 2
 *   c => not b     : s = .6 - .1 = .5, conf = 1 - 1/6,     lift = (5/6) / .5 = 5/3
 *   (a => not b: lift(a => b) = 1 > .5, not negative; same for the others)
 * positive: b => a (.8, lift 1), a => b (.5, lift 1), c => a (2/3, lift 5/6),
 *           a => c (.5, lift 5/6).
 * The other measures (rules.h), n = 10, "not y" as the rhs of a negative rule:
 *   coverage = s(X); leverage = s(X u rhs) - s(X) s(rhs);
 *   conviction = (1 - s(rhs)) / (1 - conf); chisq from the 2x2 table, e.g.
 *   c => a: observed (ca, c-a, -ca, -c-a) = (4, 2, 4, 0), expected (4.8, 1.2,
 *   3.2, .8): .64/4.8 + .64/1.2 + .64/3.2 + .64/.8 = 5/3.
 *   a & b => not c: cov .4, lev .4 - .4 x .4 = .24, conv Inf (conf 1),
 *                   table (4, 0, 0, 6) -> chisq 10
 *   a & c => not b: cov .4, lev .4 - .4 x .5 = .2, conv Inf, chisq 20/3
 *   b => not c:     cov .5, lev .4 - .5 x .4 = .2, conv .6 / .2 = 3, chisq 20/3
 *   c => not b:     cov .6, lev .5 - .6 x .5 = .2, conv .5 / (1/6) = 3, chisq 20/3
 *   b => a:         cov .5, lev .4 - .5 x .8 = 0, conv .2 / .2 = 1, chisq 0
 *   a => b:         cov .8, lev 0, conv .5 / .5 = 1, chisq 0
 *   c => a:         cov .6, lev .4 - .6 x .8 = -.08, conv .2 / (1/3) = .6, chisq 5/3
 *   a => c:         cov .8, lev -.08, conv .4 / .5 = .8, chisq 5/3 */
static void test_negative_by_hand(void **state)
{
    (void)state;
    const char *txt = "a,b\na,b\nb ,a\na,b\na,c\na,c\n\"a\",c\na, c\nb,c\nc\n";
    oq_error err = {0};
    oq_baskets *b = NULL;
    assert_int_equal(oq_baskets_read_mem("tiny", txt, strlen(txt), &b, &err), 0);
    assert_int_equal(b->n, 10);
    oq_rules_params p;
    oq_rules_params_default(&p);
    p.min_support = 0.2;
    p.min_confidence = 0.5;
    p.negative = 1;
    oq_ruleset *r = NULL;
    assert_int_equal(oq_rules_mine(b, &p, &r, &err), 0);
    assert_int_equal(r->n_negative, 4);
    assert_int_equal(r->n_positive, 4);
    static const struct {
        int type;
        const char *lhs, *rhs;
        double s, c, l;
        unsigned count;
        double cov, lev, conv, chisq;
    } want[] = {
        {OQ_RULE_NEGATIVE, "a & b", "c", 0.4, 1.0, 2.5, 4, 0.4, 0.24, INFINITY, 10},
        {OQ_RULE_NEGATIVE, "a & c", "b", 0.4, 1.0, 2.0, 4, 0.4, 0.2, INFINITY, 20.0 / 3},
        {OQ_RULE_NEGATIVE, "b", "c", 0.4, 0.8, 2.0, 4, 0.5, 0.2, 3, 20.0 / 3},
        {OQ_RULE_NEGATIVE, "c", "b", 0.5, 5.0 / 6, 5.0 / 3, 5, 0.6, 0.2, 3, 20.0 / 3},
        {OQ_RULE_POSITIVE, "b", "a", 0.4, 0.8, 1.0, 4, 0.5, 0, 1, 0},
        {OQ_RULE_POSITIVE, "a", "b", 0.4, 0.5, 1.0, 4, 0.8, 0, 1, 0},
        {OQ_RULE_POSITIVE, "c", "a", 0.4, 2.0 / 3, 5.0 / 6, 4, 0.6, -0.08, 0.6, 5.0 / 3},
        {OQ_RULE_POSITIVE, "a", "c", 0.4, 0.5, 5.0 / 6, 4, 0.8, -0.08, 0.8, 5.0 / 3},
    };
    for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
        const oq_rule *q = find_rule(r, &b->items, want[i].type, want[i].lhs, want[i].rhs);
        assert_non_null(q);
        assert_ptr_equal(q, &r->rule[i]); /* and in this order */
        assert_true(fabs(q->support - want[i].s) < 1e-12);
        assert_true(fabs(q->confidence - want[i].c) < 1e-12);
        assert_true(fabs(q->lift - want[i].l) < 1e-12);
        assert_int_equal(q->count, want[i].count);
        assert_true(fabs(q->coverage - want[i].cov) < 1e-12);
        assert_true(fabs(q->leverage - want[i].lev) < 1e-12);
        if (isinf(want[i].conv))
            assert_true(isinf(q->conviction) && q->conviction > 0);
        else
            assert_true(fabs(q->conviction - want[i].conv) < 1e-12);
        assert_true(fabs(q->chisq - want[i].chisq) < 1e-12);
    }
    /* the CSV: header, quoting, " & " joins */
    char *dir = tu_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/r.csv", dir);
    assert_int_equal(oq_rules_write_csv(r, &b->items, path, &err), 0);
    FILE *fp = fopen(path, "r");
    char line[256];
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(
        line, "type,lhs,rhs,support,confidence,lift,count,coverage,leverage,conviction,chisq\n");
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "negative,a & b,c,0.4,1,2.5,4,0.4,0.24,Inf,10\n");
    assert_non_null(fgets(line, sizeof line, fp));
    assert_non_null(fgets(line, sizeof line, fp));
    assert_string_equal(line, "negative,b,c,0.4,0.8,2,4,0.5,0.2,3,6.666666667\n");
    fclose(fp);
    oq_ruleset_free(r);
    oq_baskets_free(b);
    tu_rmdir(dir);
    free(dir);
}

static void test_reader(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_baskets *b = NULL;
    /* a last line without its newline is a file cut off: refused (issue 21) */
    const char *cut = "\"salt, coarse\", whole milk ,whole milk\n  soda  ,,\nsoda";
    assert_int_equal(oq_baskets_read_mem("m", cut, strlen(cut), &b, &err), OQ_EPARSE);
    assert_null(b);
    /* names with spaces and commas in quotes, trimming, repeats */
    const char *txt = "\"salt, coarse\", whole milk ,whole milk\n  soda  ,,\nsoda\n";
    assert_int_equal(oq_baskets_read_mem("m", txt, strlen(txt), &b, &err), 0);
    assert_int_equal(b->n, 3);
    assert_int_equal(b->items.n, 3);
    assert_true(oq_dict_find(&b->items, "salt, coarse") >= 0);
    assert_true(oq_dict_find(&b->items, "whole milk") >= 0);
    assert_int_equal(b->off[1] - b->off[0], 2); /* repeat counted once */
    assert_int_equal(b->off[2] - b->off[1], 1); /* empty items dropped */
    oq_baskets_free(b);
    /* a broken quote names the line */
    const char *bad = "a,b\nc,\"d\n";
    assert_int_not_equal(oq_baskets_read_mem("bad.csv", bad, strlen(bad), &b, &err), 0);
    assert_null(b);
    assert_string_equal(err.file, "bad.csv");
    assert_int_equal(err.line, 2);
    /* bad parameters */
    oq_baskets *e = oq_baskets_new();
    oq_rules_params p;
    oq_rules_params_default(&p);
    oq_ruleset *r = NULL;
    assert_int_equal(oq_rules_mine(e, &p, &r, &err), OQ_EINVAL); /* no baskets */
    p.min_support = 0;
    uint32_t id;
    assert_int_equal(oq_dict_intern(&e->items, "x", 1, &id), 0);
    assert_int_equal(oq_baskets_add(e, &id, 1, &err), 0);
    assert_int_equal(oq_rules_mine(e, &p, &r, &err), OQ_EINVAL);
    uint32_t badid = 7;
    assert_int_equal(oq_baskets_add(e, &badid, 1, &err), OQ_EINVAL);
    oq_baskets_free(e);
}

/* The command line: same count as the library, a usage error exits 2. */
static void test_cli(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    assert_int_equal(tu_system("'%s' rules --baskets '%s' --min-support 0.001 --min-confidence 0.5 "
                               "--quiet --out '%s/r.csv'",
                               tu_bin(), tu_shared("data/groceries.csv"), dir),
                     0);
    assert_int_equal(tu_system("test $(wc -l < '%s/r.csv') -eq 5669", dir), 0);
    assert_int_equal(
        tu_system("'%s' rules --baskets x --min-support 2 --min-confidence 0.5 --out y "
                  "2>/dev/null",
                  tu_bin()),
        2);
    /* the new options: conviction order (Inf first), header, usage errors */
    const char *g = tu_shared("data/groceries.csv");
    assert_int_equal(tu_system("'%s' rules --baskets '%s' --min-support 0.001 --min-confidence 0.5 "
                               "--sort conviction --rhs ' whole milk' --lhs 'yogurt,curd,butter, "
                               "other vegetables' --prune-redundant --min-len 3 --quiet "
                               "--out '%s/m.csv'",
                               tu_bin(), g, dir),
                     0);
    assert_int_equal(tu_system("head -1 '%s/m.csv' | grep -qx 'type,lhs,rhs,support,confidence,"
                               "lift,count,coverage,leverage,conviction,chisq'",
                               dir),
                     0);
    /* every row: rhs whole milk, lhs of at least 2 of the four items */
    assert_int_equal(
        tu_system("test $(wc -l < '%s/m.csv') -gt 2 && tail -n +2 '%s/m.csv' | awk -F, "
                  "'$3 != \"whole milk\" || $2 !~ / & / {exit 1}'",
                  dir, dir),
        0);
    assert_int_equal(tu_system("'%s' rules --baskets '%s' --min-support 0.001 --min-confidence 0.5 "
                               "--sort conviction --quiet --out '%s/c.csv' && sed -n 2p '%s/c.csv' "
                               "| grep -q ',Inf,'",
                               tu_bin(), g, dir, dir),
                     0);
    static const char *const bad[] = {"--sort bogus", "--lhs ''", "--lhs 'a,,b'",
                                      "--min-len 5 --max-len 3", "--min-len 0"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        assert_int_equal(tu_system("'%s' rules --baskets '%s' --min-support 0.01 --min-confidence "
                                   "0.5 %s --out '%s/x.csv' 2>/dev/null",
                                   tu_bin(), g, bad[i], dir),
                         2);
    /* the bound named by the too-many-itemsets message exists: 333 sets at 0.01 */
    assert_int_equal(tu_system("'%s' rules --baskets '%s' --min-support 0.01 --min-confidence 0.5 "
                               "--max-itemsets 100 --out '%s/x.csv' 2>&1 | grep -q -- "
                               "--max-itemsets",
                               tu_bin(), g, dir),
                     0);
    assert_int_equal(tu_system("'%s' rules --baskets '%s' --min-support 0.01 --min-confidence 0.5 "
                               "--max-itemsets 333 --quiet --out '%s/x.csv'",
                               tu_bin(), g, dir),
                     0);
    assert_int_equal(tu_system("'%s' rules --baskets '%s' --min-support 0.01 --min-confidence 0.5 "
                               "--rhs 'no such item' --out '%s/x.csv' 2>/dev/null",
                               tu_bin(), g, dir),
                     1);
    /* offerq itemsets: as many rows as the library's sets, in support order */
    assert_int_equal(tu_system("'%s' itemsets --baskets '%s' --min-support 0.01 --type maximal "
                               "--quiet --out '%s/i.csv'",
                               tu_bin(), g, dir),
                     0);
    {
        oq_error err = {0};
        oq_baskets *b = NULL;
        oq_itemsets *all = NULL, *mx = NULL;
        assert_int_equal(oq_baskets_read(g, &b, &err), 0);
        assert_int_equal(oq_itemsets_mine(b, 0.01, 0, &all, &err), 0);
        assert_int_equal(oq_itemsets_select(all, OQ_ITEMSETS_MAXIMAL, 1, &mx, &err), 0);
        assert_true(mx->n > 0 && mx->n < all->n);
        assert_int_equal(tu_system("head -1 '%s/i.csv' | grep -qx 'items,size,support,count' && "
                                   "test $(wc -l < '%s/i.csv') -eq %zu",
                                   dir, dir, mx->n + 1),
                         0);
        oq_itemsets_free(mx);
        oq_itemsets_free(all);
        oq_baskets_free(b);
    }
    assert_int_equal(tu_system("tail -n +2 '%s/i.csv' | awk -F, 'NR > 1 && $NF > last {exit 1} "
                               "{last = $NF}'",
                               dir),
                     0);
    assert_int_equal(tu_system("'%s' itemsets --baskets '%s' --min-support 0.01 --type open "
                               "--out '%s/i.csv' 2>/dev/null",
                               tu_bin(), g, dir),
                     2);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_groceries_arules),
        cmocka_unit_test(test_bruteforce),
        cmocka_unit_test(test_negative_by_hand),
        cmocka_unit_test(test_reader),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
