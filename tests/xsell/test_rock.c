/* test_rock.c - ROCK against the paper (Guha, Rastogi & Shim 1999): its link
 * example, the Congressional votes clusters (theta 0.73, k 2), mushroom on a
 * sample, items clustered from baskets, readers and the command line. */
#include "testutil.h"
#include "offerq/xsell/rock.h"
#include "offerq/xsell/rules.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Golden file of tools/rock_reference.py (naive ROCK by the definitions):
 * point,items,cluster with items space-separated integers. */
static oq_rock_records *golden(const char *rel, uint32_t **want)
{
    FILE *fp = fopen(tu_source(rel), "r");
    assert_non_null(fp);
    oq_rock_records *r = calloc(1, sizeof *r);
    size_t cap = 256;
    r->off = calloc(cap + 1, sizeof *r->off);
    r->item = malloc(cap * 16 * sizeof *r->item);
    *want = malloc(cap * sizeof **want);
    char line[512];
    assert_non_null(fgets(line, sizeof line, fp)); /* header */
    while (fgets(line, sizeof line, fp)) {
        assert_true(r->n < cap);
        char *items = strchr(line, ',') + 1, *cl = strchr(items, ',');
        *cl++ = 0;
        size_t k = 0;
        for (char *t = strtok(items, " "); t; t = strtok(NULL, " "))
            r->item[r->off[r->n] + k++] = (uint32_t)atoi(t);
        (*want)[r->n] = (uint32_t)atoi(cl);
        r->off[r->n + 1] = r->off[r->n] + k;
        r->n++;
    }
    fclose(fp);
    r->nnz = r->off[r->n];
    return r;
}

static void check_golden(const char *rel, double theta, size_t k)
{
    uint32_t *want = NULL;
    oq_rock_records *r = golden(rel, &want);
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.theta = theta;
    p.k = k;
    oq_error err = {0};
    oq_rock_result *res = NULL;
    assert_int_equal(oq_rock_cluster(r, &p, &res, &err), 0);
    for (size_t i = 0; i < r->n; i++)
        assert_int_equal(res->cluster[i], want[i]);
    oq_rock_result_free(res);
    oq_rock_records_free(r);
    free(want);
}

/* The paper's example: the ten 3-subsets of {1..5} and the four of {1,2,6,7},
 * theta 0.5: link({1,2,6},{1,2,7}) = 5 and link({1,2,6},{1,2,3}) = 3 (a point is
 * not its own neighbour). With k = 2 the merge order of the definitions
 * (tools/rock_reference.py) puts {1,2,6} and {1,2,7} with the first group. */
static void test_paper_example(void **state)
{
    (void)state;
    uint32_t *want = NULL;
    oq_rock_records *r = golden("tests/golden/rock/paper_example.csv", &want);
    assert_int_equal(r->n, 14);
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.theta = 0.5;
    assert_int_equal(oq_rock_link(r, &p, 10, 11), 5);
    assert_int_equal(oq_rock_link(r, &p, 10, 0), 3);
    oq_rock_records_free(r);
    free(want);
    check_golden("tests/golden/rock/paper_example.csv", 0.5, 2);
}

/* Heaps + bitsets against the naive reference on 90 random baskets. */
static void test_random_vs_reference(void **state)
{
    (void)state;
    check_golden("tests/golden/rock/random.csv", 0.35, 3);
}

static void crosstab(const oq_rock_result *res, const oq_rock_records *r, const char *label,
                     size_t c, size_t *out)
{
    long l = oq_dict_find(&r->labels, label);
    assert_true(l >= 0);
    *out = 0;
    for (size_t i = 0; i < r->n; i++)
        *out += res->cluster[i] == c && r->label[i] == (uint32_t)l;
}

/* The paper, table "Clustering result for Congressional voting data" (theta 0.73,
 * two clusters): 144 Republicans + 22 Democrats; 5 Republicans + 201 Democrats. */
static void test_votes(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_rock_records *r = NULL;
    assert_int_equal(oq_rock_read_csv(tu_shared("data/votes.csv"), "Class", &r, &err), 0);
    assert_int_equal(r->n, 435);
    assert_int_equal(r->n_attr, 16);
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.theta = 0.73;
    p.k = 2;
    oq_rock_result *res = NULL;
    assert_int_equal(oq_rock_cluster(r, &p, &res, &err), 0);
    assert_int_equal(res->n_clusters, 2);
    size_t rep1, dem1, rep2, dem2;
    crosstab(res, r, "republican", 1, &rep1);
    crosstab(res, r, "democrat", 1, &dem1);
    crosstab(res, r, "republican", 2, &rep2);
    crosstab(res, r, "democrat", 2, &dem2);
    /* our clusters are numbered by size: the Democrat one (206) comes first */
    assert_int_equal(rep1, 5);
    assert_int_equal(dem1, 201);
    assert_int_equal(rep2, 144);
    assert_int_equal(dem2, 22);
    assert_int_equal(res->size[0], 435 - 372);
    oq_rock_result_free(res);
    /* the other reading of missing values (only attributes present in both) is
     * not the paper's: it does not give these clusters */
    p.pairwise_missing = 1;
    assert_int_equal(oq_rock_cluster(r, &p, &res, &err), 0);
    assert_true(res->size[1] != 206 || res->n_clusters < 2 || res->size[2] != 166);
    oq_rock_result_free(res);
    oq_rock_records_free(r);
}

/* Mushroom (8,124 records) at theta 0.8: the paper finds 21 clusters, all pure but
 * one. The full run is in bench/bench_rules.c; here a 2,000-record sample plus
 * the labelling phase, which must stay nearly pure. */
static void test_mushroom_sample(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_rock_records *r = NULL;
    assert_int_equal(oq_rock_read_csv(tu_shared("data/mushroom.csv"), "class", &r, &err), 0);
    assert_int_equal(r->n, 8124);
    assert_int_equal(r->n_attr, 22);
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.theta = 0.8;
    p.k = 21;
    p.sample = 2000;
    p.seed = 7;
    oq_rock_result *res = NULL;
    assert_int_equal(oq_rock_cluster(r, &p, &res, &err), 0);
    assert_true(res->n_clusters >= 15);
    size_t impure = 0, impure_pts = 0;
    for (size_t c = 1; c <= res->n_clusters; c++) {
        size_t e, q;
        crosstab(res, r, "edible", c, &e);
        crosstab(res, r, "poisonous", c, &q);
        if (e && q) impure++, impure_pts += e + q;
    }
    assert_true(impure <= 1);
    assert_true(impure_pts <= 8124 / 50);
    assert_true(res->size[0] <= 8124 / 50); /* few outliers after labelling */
    oq_rock_result_free(res);
    oq_rock_records_free(r);
}

/* Items as records (the cross-selling use): two planted groups of items bought
 * together, {a,b,c} and {x,y,z}, plus noise baskets. */
static void test_items_from_baskets(void **state)
{
    (void)state;
    char txt[4096] = "";
    static const char *g[] = {"a,b,c", "a,b", "b,c", "a,c", "x,y,z", "x,y", "y,z", "x,z"};
    for (int rep = 0; rep < 5; rep++)
        for (int i = 0; i < 8; i++) {
            strcat(txt, g[i]);
            strcat(txt, "\n");
        }
    strcat(txt, "a,x\nq\n");
    oq_error err = {0};
    oq_baskets *b = NULL;
    assert_int_equal(oq_baskets_read_mem("planted", txt, strlen(txt), &b, &err), 0);
    oq_rock_records *r = NULL;
    uint32_t *item_of = NULL;
    assert_int_equal(oq_rock_records_from_items(b, 2, &r, &item_of, &err), 0);
    assert_int_equal(r->n, 6); /* q (1 basket) left out */
    oq_rock_params p;
    oq_rock_params_default(&p);
    p.theta = 0.3;
    p.k = 2;
    oq_rock_result *res = NULL;
    assert_int_equal(oq_rock_cluster(r, &p, &res, &err), 0);
    assert_int_equal(res->n_clusters, 2);
    uint32_t ca = 0, cx = 0;
    for (size_t i = 0; i < r->n; i++) {
        const char *nm = b->items.names[item_of[i]];
        if (!strcmp(nm, "a")) ca = res->cluster[i];
        if (!strcmp(nm, "x")) cx = res->cluster[i];
    }
    assert_true(ca && cx && ca != cx);
    for (size_t i = 0; i < r->n; i++) {
        const char *nm = b->items.names[item_of[i]];
        assert_int_equal(res->cluster[i], strchr("abc", nm[0]) ? ca : cx);
    }
    oq_rock_result_free(res);
    oq_rock_records_free(r);
    free(item_of);
    oq_baskets_free(b);
}

static void test_reader_errors(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_rock_records *r = NULL;
    const char *a = "x,y,cls\n1,2,a\n1,,b\n";
    assert_int_equal(oq_rock_read_csv_mem("a.csv", a, strlen(a), "cls", &r, &err), 0);
    assert_int_equal(r->n_attr, 2);
    assert_int_equal(r->off[2] - r->off[1], 1); /* missing value omitted */
    assert_int_equal(r->value[1 * 2 + 1], OQ_ROCK_MISSING);
    assert_true(oq_dict_find(&r->items, "x=1") >= 0);
    oq_rock_records_free(r);
    assert_int_equal(oq_rock_read_csv_mem("a.csv", a, strlen(a), "nope", &r, &err), OQ_EPARSE);
    assert_int_equal(err.line, 1);
    const char *b = "x,y\n1,2\n1,2,3\n";
    assert_int_equal(oq_rock_read_csv_mem("b.csv", b, strlen(b), NULL, &r, &err), OQ_EPARSE);
    assert_int_equal(err.line, 3);
    assert_null(r);
    assert_int_equal(oq_rock_read_csv_mem("a.csv", a, strlen(a), NULL, &r, &err), 0);
    oq_rock_params p;
    oq_rock_params_default(&p);
    oq_rock_result *res = NULL;
    p.theta = 1.0;
    assert_int_equal(oq_rock_cluster(r, &p, &res, &err), OQ_EINVAL);
    p.theta = 0.5;
    p.k = 0;
    assert_int_equal(oq_rock_cluster(r, &p, &res, &err), OQ_EINVAL);
    oq_rock_records_free(r);
}

static void test_cli(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    assert_int_equal(tu_system("'%s' rock --data '%s' --theta 0.73 --k 2 --label Class --quiet "
                               "--out '%s/c.csv' > '%s/table.txt'",
                               tu_bin(), tu_shared("data/votes.csv"), dir, dir),
                     0);
    assert_int_equal(tu_system("grep -qx '1,206,5,201' '%s/table.txt' && grep -qx '2,166,144,22' "
                               "'%s/table.txt'",
                               dir, dir),
                     0);
    assert_int_equal(
        tu_system("test $(wc -l < '%s/c.csv') -eq 436 && head -1 '%s/c.csv' | grep -qx "
                  "'row,cluster'",
                  dir, dir),
        0);
    assert_int_equal(
        tu_system("'%s' rock --data x.csv --theta 2 --k 2 --out y 2>/dev/null", tu_bin()), 2);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_paper_example),
        cmocka_unit_test(test_random_vs_reference),
        cmocka_unit_test(test_votes),
        cmocka_unit_test(test_mushroom_sample),
        cmocka_unit_test(test_items_from_baskets),
        cmocka_unit_test(test_reader_errors),
        cmocka_unit_test(test_cli),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
