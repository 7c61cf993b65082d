/* test_rules_golden.c - offerq's rules, measures, options and itemset kinds
 * on Groceries against an independent reference: tools/golden_rules.py (a
 * pure-Python Apriori over tid-sets, the measures by their definitions,
 * redundancy by enumerating subsets), whose output is in tests/golden/rules/.
 * Published reference: R's arules, apriori(Groceries, support = 0.001,
 * confidence = 0.5) -> 5,668 rules (../shared/data/README.md); the script
 * asserts it and so does this test. For closed and maximal itemsets no
 * published count is at hand: the reference is the script.
 *
 * Tolerances (relative, |a - b| <= tol * max(|b|, 1e-300); both sides
 * compute in doubles from the same integer counts, by different formulas):
 *   support, confidence, lift, coverage  1e-12
 *   leverage                             1e-9  (a difference of products:
 *                                               cancellation in the Python)
 *   conviction, chisq                    1e-9  (conviction Inf must be Inf)
 * Counts of rules and itemsets: exact. */
#include "testutil.h"
#include "offerq/core/csv.h"
#include "offerq/xsell/rules.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- a golden CSV in memory ---------------------------------------------------- */

#define MAXF 12

typedef struct table {
    size_t n;           /* rows, header excluded */
    size_t nf;          /* fields of the header */
    char *(*row)[MAXF]; /* (n) fields, malloc'ed */
} table;

static int table_row(void *ctx, char **f, const size_t *lens, size_t nf, long line, oq_error *err)
{
    (void)lens;
    (void)err;
    table *t = ctx;
    if (line == 1) {
        t->nf = nf;
        return 0;
    }
    assert_int_equal(nf, t->nf);
    assert_true(nf <= MAXF);
    t->row = realloc(t->row, (t->n + 1) * sizeof *t->row);
    assert_non_null(t->row);
    for (size_t i = 0; i < nf; i++)
        t->row[t->n][i] = strdup(f[i]);
    t->n++;
    return 0;
}

static table load(const char *name)
{
    char path[512];
    snprintf(path, sizeof path, "tests/golden/rules/%s", name);
    table t = {0};
    oq_error err = {0};
    assert_int_equal(oq_csv_read(tu_source(path), NULL, table_row, &t, &err), 0);
    assert_true(t.n > 0);
    return t;
}

static void table_free(table *t)
{
    for (size_t i = 0; i < t->n; i++)
        for (size_t j = 0; j < t->nf; j++)
            free(t->row[i][j]);
    free(t->row);
}

/* ---- shared data ------------------------------------------------------------------- */

static oq_baskets *groceries(void)
{
    oq_error err = {0};
    oq_baskets *b = NULL;
    assert_int_equal(oq_baskets_read(tu_shared("data/groceries.csv"), &b, &err), 0);
    assert_int_equal(b->n, 9835);
    return b;
}

static const char *lhs_text(const oq_ruleset *r, const oq_rule *q, const oq_dict *d, char *buf,
                            size_t cap)
{
    size_t len = 0;
    buf[0] = 0;
    for (uint32_t j = 0; j < q->lhs_len; j++)
        len += (size_t)snprintf(buf + len, cap - len, "%s%s", j ? " & " : "",
                                d->names[r->items[q->lhs_off + j]]);
    return buf;
}

static int close_rel(double a, double b, double tol)
{
    if (isinf(a) || isinf(b)) return a == b;
    return fabs(a - b) <= tol * fmax(fabs(b), 1e-300);
}

/* ---- counts: every row of groceries_counts.csv -------------------------------------- */

/* Published counts the golden file must agree with (and so offerq). */
static const struct {
    const char *what, *options;
    double support, confidence;
    size_t count;
    const char *source;
} published[] = {
    {"rules", "", 0.001, 0.5, 5668, "arules: apriori(Groceries, support 0.001, confidence 0.5)"},
};

/* options: key[=value] separated by ';' (min_len=K, lhs=a|b, rhs=a|b,
 * prune, negative, itemsets=frequent|closed|maximal). Names are split in
 * place; *names holds pointers into opt. */
static void parse_options(char *opt, oq_rules_params *p, const char **lhs, size_t *nl,
                          const char **rhs, size_t *nr, int *kind)
{
    for (char *tok = strtok(opt, ";"); tok; tok = strtok(NULL, ";")) {
        char *v = strchr(tok, '=');
        if (v) *v++ = 0;
        if (!strcmp(tok, "min_len")) {
            p->min_len = atoi(v);
        } else if (!strcmp(tok, "prune")) {
            p->prune_redundant = 1;
        } else if (!strcmp(tok, "negative")) {
            p->negative = 1;
        } else if (!strcmp(tok, "itemsets")) {
            *kind = oq_itemsets_kind_parse(v);
            assert_true(*kind >= 0);
        } else if (!strcmp(tok, "lhs") || !strcmp(tok, "rhs")) {
            const char **names = tok[0] == 'l' ? lhs : rhs;
            size_t *n = tok[0] == 'l' ? nl : nr;
            char *save = NULL;
            for (char *s = strtok_r(v, "|", &save); s; s = strtok_r(NULL, "|", &save))
                names[(*n)++] = s;
            if (tok[0] == 'l') {
                p->lhs_items = names;
                p->n_lhs_items = *n;
            } else {
                p->rhs_items = names;
                p->n_rhs_items = *n;
            }
        } else {
            fail_msg("unknown option '%s' in groceries_counts.csv", tok);
        }
    }
}

static void test_counts(void **state)
{
    (void)state;
    table t = load("groceries_counts.csv");
    assert_int_equal(t.nf, 5); /* what,min_support,min_confidence,options,count */
    oq_baskets *b = groceries();
    size_t matched_published = 0;
    for (size_t i = 0; i < t.n; i++) {
        char **f = t.row[i];
        double sup = atof(f[1]);
        size_t want = (size_t)strtoull(f[4], NULL, 10);
        char opt[1024];
        snprintf(opt, sizeof opt, "%s", f[3]);
        for (size_t k = 0; k < sizeof published / sizeof *published; k++)
            if (!strcmp(f[0], published[k].what) && !strcmp(f[3], published[k].options) &&
                sup == published[k].support && atof(f[2]) == published[k].confidence) {
                /* the reference agrees with the published count */
                assert_int_equal(want, published[k].count);
                matched_published++;
            }
        oq_rules_params p;
        oq_rules_params_default(&p);
        const char *lhs[64], *rhs[64];
        size_t nl = 0, nr = 0;
        int kind = -1;
        parse_options(opt, &p, lhs, &nl, rhs, &nr, &kind);
        oq_error err = {0};
        size_t got;
        if (!strcmp(f[0], "itemsets")) {
            oq_itemsets *all = NULL, *sel = NULL;
            assert_int_equal(oq_itemsets_mine(b, sup, 0, &all, &err), 0);
            assert_int_equal(oq_itemsets_select(all, kind, 1, &sel, &err), 0);
            got = sel->n;
            oq_itemsets_free(sel);
            oq_itemsets_free(all);
        } else {
            p.min_support = sup;
            p.min_confidence = atof(f[2]);
            oq_ruleset *r = NULL;
            assert_int_equal(oq_rules_mine(b, &p, &r, &err), 0);
            got = r->n;
            oq_ruleset_free(r);
        }
        printf("  %-8s support %-5s %-60s offerq %6zu  reference %6zu\n", f[0], f[1], f[3], got,
               want);
        assert_int_equal(got, want);
    }
    assert_int_equal(matched_published, sizeof published / sizeof *published);
    oq_baskets_free(b);
    table_free(&t);
}

/* ---- measures: every rule of groceries_rules.csv ------------------------------------- */

static const struct {
    const char *name;
    double tol;
} measure_tol[] = {
    {"support", 1e-12}, {"confidence", 1e-12}, {"lift", 1e-12}, {"coverage", 1e-12},
    {"leverage", 1e-9}, {"conviction", 1e-9},  {"chisq", 1e-9},
};

static double measure_of(const oq_rule *q, const char *name)
{
    if (!strcmp(name, "support")) return q->support;
    if (!strcmp(name, "confidence")) return q->confidence;
    if (!strcmp(name, "lift")) return q->lift;
    if (!strcmp(name, "coverage")) return q->coverage;
    if (!strcmp(name, "leverage")) return q->leverage;
    if (!strcmp(name, "conviction")) return q->conviction;
    if (!strcmp(name, "chisq")) return q->chisq;
    fail_msg("unknown measure %s", name);
    return NAN;
}

static double golden_number(const char *s)
{
    return !strcmp(s, "Inf") ? INFINITY : strtod(s, NULL);
}

static void test_measures(void **state)
{
    (void)state;
    table t = load("groceries_rules.csv");
    /* type,lhs,rhs,count, then the measures in measure_tol's order */
    assert_int_equal(t.nf, 4 + sizeof measure_tol / sizeof *measure_tol);
    oq_baskets *b = groceries();
    oq_rules_params p;
    oq_rules_params_default(&p);
    p.min_support = 0.001;
    p.min_confidence = 0.5;
    p.negative = 1;
    oq_ruleset *r = NULL;
    oq_error err = {0};
    assert_int_equal(oq_rules_mine(b, &p, &r, &err), 0);
    char buf[1024];
    size_t n_inf = 0, n_neg = 0;
    double worst[sizeof measure_tol / sizeof *measure_tol] = {0};
    for (size_t i = 0; i < t.n; i++) {
        char **f = t.row[i];
        int type = !strcmp(f[0], "positive") ? OQ_RULE_POSITIVE : OQ_RULE_NEGATIVE;
        const oq_rule *q = NULL;
        for (size_t j = 0; j < r->n && !q; j++) {
            const oq_rule *c = &r->rule[j];
            if (c->type == type && !strcmp(b->items.names[c->rhs], f[2]) &&
                !strcmp(lhs_text(r, c, &b->items, buf, sizeof buf), f[1]))
                q = c;
        }
        if (!q) fail_msg("rule %s => %s%s not mined", f[1], type ? "not " : "", f[2]);
        assert_int_equal(q->count, strtoull(f[3], NULL, 10));
        n_neg += type == OQ_RULE_NEGATIVE;
        for (size_t m = 0; m < sizeof measure_tol / sizeof *measure_tol; m++) {
            double want = golden_number(f[4 + m]), got = measure_of(q, measure_tol[m].name);
            if (!close_rel(got, want, measure_tol[m].tol))
                fail_msg("%s => %s%s: %s %.17g, reference %.17g (tolerance %g)", f[1],
                         type ? "not " : "", f[2], measure_tol[m].name, got, want,
                         measure_tol[m].tol);
            if (isinf(want))
                n_inf++;
            else if (want != 0)
                worst[m] = fmax(worst[m], fabs(got - want) / fabs(want));
        }
    }
    printf("  %zu rules compared (%zu negative, %zu infinite convictions); largest relative "
           "differences:\n ",
           t.n, n_neg, n_inf);
    for (size_t m = 0; m < sizeof measure_tol / sizeof *measure_tol; m++)
        printf(" %s %.1e", measure_tol[m].name, worst[m]);
    printf("\n");
    assert_true(n_inf > 0 && n_neg > 0); /* the file covers both */
    oq_ruleset_free(r);
    oq_baskets_free(b);
    table_free(&t);
}

/* ---- --sort: the 20 largest values of each measure come first ------------------------ */

static void test_sort(void **state)
{
    (void)state;
    table t = load("groceries_top.csv"); /* measure,rank,value */
    oq_baskets *b = groceries();
    for (size_t i = 0; i < t.n;) {
        const char *m = t.row[i][0];
        int sort = oq_rules_sort_parse(m);
        assert_true(sort >= 0);
        oq_rules_params p;
        oq_rules_params_default(&p);
        p.min_support = 0.001;
        p.min_confidence = 0.5;
        p.sort = sort;
        oq_ruleset *r = NULL;
        oq_error err = {0};
        assert_int_equal(oq_rules_mine(b, &p, &r, &err), 0);
        size_t k = 0;
        for (; i < t.n && !strcmp(t.row[i][0], m); i++, k++) {
            assert_int_equal(atoi(t.row[i][1]), (int)k + 1);
            double want = golden_number(t.row[i][2]), got = measure_of(&r->rule[k], m);
            if (!close_rel(got, want, 1e-9))
                fail_msg("--sort %s: rule %zu has %.17g, reference %.17g", m, k + 1, got, want);
        }
        assert_int_equal(k, 20);
        oq_ruleset_free(r);
    }
    oq_baskets_free(b);
    table_free(&t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counts),
        cmocka_unit_test(test_measures),
        cmocka_unit_test(test_sort),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
