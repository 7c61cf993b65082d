/* test_reco.c - the daily list format shared by `offerq run` and the
 * production path: reader validation (line:column), duplicates, sorting and
 * lookup, writer round trip, the Redis entry JSON round trip, and the
 * dashboard aggregates. */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/prod/publish.h"
#include "offerq/coupon/reco.h"
#include "prod/serve_int.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define HDR OQ_RECO_HEADER "\n"

static void test_read_sorted_lookup(void **state)
{
    (void)state;
    const char *csv = HDR "7,2025-07-01,\"a,b\",10,12.5,0.25\n"
                          "3,2025-07-01,s3,none,-1.5,1\n"
                          "5,2025-07-01,s5,0,0,0\n";
    oq_reco *r = NULL;
    oq_error err = {0};
    assert_int_equal(oq_reco_read_mem("r.csv", csv, strlen(csv), &r, &err), 0);
    assert_int_equal(r->n, 3);
    assert_int_equal(r->rows[0].user_id, 3);
    assert_int_equal(r->rows[2].user_id, 7);
    const oq_reco_row *w = oq_reco_find(r, 7);
    assert_non_null(w);
    assert_string_equal(w->state, "a,b");
    assert_int_equal(w->coupon, OQ_COUPON_10);
    assert_float_equal(w->expected_profit, 12.5, 0);
    assert_float_equal(w->p_alive, 0.25, 0);
    assert_int_equal(oq_reco_find(r, 5)->coupon, OQ_COUPON_NONE); /* "0" means none */
    assert_null(oq_reco_find(r, 4));
    assert_null(oq_reco_find(r, 8));
    oq_reco_free(r);
}

/* Every bad field names its line and column. */
static void test_bad_inputs(void **state)
{
    (void)state;
    static const struct {
        const char *csv;
        long line, col;
        const char *msg;
    } cases[] = {
        {HDR "1,2025-07-01,s,10,1,1.5\n", 2, 6, "probability"},
        {HDR "1,2025-07-01,s,15,1,0.5\n", 2, 4, "none, 5, 10, 20"},
        {HDR "x,2025-07-01,s,10,1,0.5\n", 2, 1, "integer"},
        {HDR "1,2025-02-30,s,10,1,0.5\n", 2, 2, "date"},
        {HDR "1,2025-07-01,s,10,nan,0.5\n", 2, 5, "number"},
        {HDR "1,2025-07-01,s,10,1\n", 2, 5, "fields"},
        {"user_id,snapshot_date,state,coupon,expected_profit\n", 1, 6,
         "missing column \"p_alive\""},
        {HDR "1,2025-07-01,s,10,1,0.5\n2,2025-07-01,s,10,1,0.5\n1,2025-07-01,s,5,1,0.5\n", 4, 1,
         "appears twice (first on line 2)"},
        {HDR "1,2025-07-01,ssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssssss,5,1,"
             "0.5\n",
         2, 3, "shorter than 64"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        oq_reco *r = (oq_reco *)1;
        oq_error err = {0};
        int rc = oq_reco_read_mem("r.csv", cases[i].csv, strlen(cases[i].csv), &r, &err);
        if (rc != OQ_EPARSE || err.line != cases[i].line || err.col != cases[i].col ||
            !strstr(err.msg, cases[i].msg))
            fail_msg("case %zu: rc %d at %ld:%ld: %s", i, rc, err.line, err.col, err.msg);
        assert_null(r);
    }
}

static void test_write_round_trip(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    char path[4096];
    snprintf(path, sizeof path, "%s/recommendations.csv", dir);
    oq_reco *r = oq_reco_new();
    oq_error err = {0};
    for (int i = 0; i < 50; i++) {
        oq_reco_row w = {.user_id = 1000 - 7 * i,
                         .day = 20000 + i,
                         .coupon = (uint8_t)(i % 4),
                         .expected_profit = 0.1 * i - 1.0 / 3.0,
                         .p_alive = (i % 11) / 10.0};
        for (int k = 0; k < OQ_N_COUPONS; k++)
            w.value[k] = 0.3 * i - k / 7.0;
        snprintf(w.state, sizeof w.state, "%d|%d,\"q\"", i % 3, i);
        assert_int_equal(oq_reco_push(r, &w, &err), 0);
    }
    assert_int_equal(oq_reco_write(path, r, &err), 0);
    oq_reco *b = NULL;
    assert_int_equal(oq_reco_read(path, &b, &err), 0);
    assert_int_equal(b->n, r->n);
    for (size_t i = 0; i < r->n; i++) {
        const oq_reco_row *x = &r->rows[i], *y = oq_reco_find(b, x->user_id);
        assert_non_null(y);
        assert_int_equal(x->day, y->day);
        assert_int_equal(x->coupon, y->coupon);
        assert_string_equal(x->state, y->state);
        assert_true(x->expected_profit == y->expected_profit); /* 17 digits: exact */
        assert_true(x->p_alive == y->p_alive);
        for (int k = 0; k < OQ_N_COUPONS; k++)
            assert_true(x->value[k] == y->value[k]);
        /* The Redis entry round-trips too. */
        char *js = oq_reco_row_json(x);
        oq_reco_row z;
        assert_int_equal(oq_reco_row_from_json(js, x->user_id, &z, &err), 0);
        assert_true(z.expected_profit == x->expected_profit && z.p_alive == x->p_alive);
        assert_int_equal(z.coupon, x->coupon);
        assert_int_equal(z.day, x->day);
        assert_string_equal(z.state, x->state);
        for (int k = 0; k < OQ_N_COUPONS; k++)
            assert_true(z.value[k] == x->value[k]);
        free(js);
    }
    oq_reco_free(r);
    oq_reco_free(b);
    tu_rmdir(dir);
    free(dir);
}

/* Every coupon's expected profit (offerq run appends them): read, the extra
 * profit of the chosen coupon over none, optional (an older list reads NAN),
 * refused with line:column when not a finite number. */
static void test_values(void **state)
{
    (void)state;
    const char *csv =
        OQ_RECO_HEADER OQ_RECO_HEADER_VALUES "\n"
                                             "1,2025-07-01,s,10,3.5,0.5,1.25,2,3.5,-4\n"
                                             "2,2025-07-01,s,none,1,0.5,1,0.5,0.25,0\n";
    oq_reco *r = NULL;
    oq_error err = {0};
    assert_int_equal(oq_reco_read_mem("r.csv", csv, strlen(csv), &r, &err), 0);
    assert_true(oq_reco_has_values(r));
    const oq_reco_row *w = oq_reco_find(r, 1);
    assert_float_equal(w->value[OQ_COUPON_20], -4, 0);
    assert_float_equal(oq_reco_row_extra(w), 3.5 - 1.25, 1e-15);
    assert_float_equal(oq_reco_row_extra(oq_reco_find(r, 2)), 0, 0);
    char *js = oq_reco_row_json(w);
    json_t *o = json_loads(js, 0, NULL);
    json_t *v = json_object_get(o, "values");
    assert_int_equal(json_array_size(v), 4);
    assert_float_equal(json_number_value(json_array_get(v, 0)), 1.25, 0);
    assert_float_equal(json_number_value(json_array_get(v, 3)), -4, 0);
    json_decref(o);
    free(js);
    oq_reco_free(r);
    const char *old = HDR "1,2025-07-01,s,10,3.5,0.5\n";
    assert_int_equal(oq_reco_read_mem("r.csv", old, strlen(old), &r, &err), 0);
    assert_false(oq_reco_has_values(r));
    assert_true(isnan(r->rows[0].value[0]) && isnan(oq_reco_row_extra(&r->rows[0])));
    js = oq_reco_row_json(&r->rows[0]);
    assert_null(strstr(js, "values"));
    oq_reco_row z;
    assert_int_equal(oq_reco_row_from_json(js, 1, &z, &err), 0);
    assert_true(isnan(z.value[0]));
    free(js);
    oq_reco_free(r);
    const char *bad =
        OQ_RECO_HEADER OQ_RECO_HEADER_VALUES "\n"
                                             "1,2025-07-01,s,10,3.5,0.5,1.25,2,inf,-4\n";
    r = (oq_reco *)1;
    assert_int_equal(oq_reco_read_mem("r.csv", bad, strlen(bad), &r, &err), OQ_EPARSE);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 9);
    assert_non_null(strstr(err.msg, "expected_profit_10"));
    assert_null(r);
}

/* The dashboard rows carry the extra profit and each coupon's value, and the
 * previous run's report comes through for "since yesterday". */
static void test_dashboard_values(void **state)
{
    (void)state;
    const char *csv =
        OQ_RECO_HEADER OQ_RECO_HEADER_VALUES "\n"
                                             "1,2025-07-01,s,10,3.5,0.5,1.25,2,3.5,-4\n";
    oq_reco *r = NULL;
    oq_error err = {0};
    assert_int_equal(oq_reco_read_mem("r.csv", csv, strlen(csv), &r, &err), 0);
    char *s = oq_serve_dashboard_json(
        r, "3", "{\"" OQ_DASH_PREVIOUS "\":\"{\\\"plan\\\":{\\\"customers\\\":7}}\"}", NULL, 0);
    json_t *d = json_loads(s, 0, NULL);
    assert_non_null(d);
    assert_true(json_is_true(json_object_get(d, "has_values")));
    json_t *row = json_array_get(json_object_get(d, "rows"), 0);
    assert_int_equal(json_array_size(row), json_array_size(json_object_get(d, "columns")));
    assert_float_equal(json_real_value(json_array_get(row, 6)), 2.25, 1e-15);
    assert_float_equal(json_number_value(json_array_get(row, 10)), -4, 0);
    assert_int_equal(json_integer_value(json_object_get(
                         json_object_get(json_object_get(d, "previous"), "plan"), "customers")),
                     7);
    json_decref(d);
    free(s);
    oq_reco_free(r);
}

static void test_dashboard_json(void **state)
{
    (void)state;
    const char *csv = HDR "1,2025-07-01,s,10,10,0.05\n2,2025-07-01,s,10,20,0.95\n"
                          "3,2025-07-01,s,20,-5,1\n4,2025-07-01,s,none,1,0.5\n";
    oq_reco *r = NULL;
    oq_error err = {0};
    assert_int_equal(oq_reco_read_mem("r.csv", csv, strlen(csv), &r, &err), 0);
    const char *svg[] = {"loss.svg"};
    char *s = oq_serve_dashboard_json(r, "v9",
                                      "{\"eval.json\":\"{\\\"policies\\\":[]}\","
                                      "\"report.json\":\"not json\"}",
                                      svg, 1);
    assert_non_null(s);
    json_t *d = json_loads(s, 0, NULL);
    assert_non_null(d);
    assert_string_equal(json_string_value(json_object_get(d, "version")), "v9");
    assert_int_equal(json_array_size(json_object_get(d, "rows")), 4);
    json_t *mix = json_object_get(d, "coupon_mix");
    /* none, 5, 10, 20 counts 1, 0, 2, 1; face values 0, 0, 20, 20 */
    const int cnt[4] = {1, 0, 2, 1};
    for (int k = 0; k < 4; k++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(mix, k), "count")),
                         cnt[k]);
    assert_float_equal(json_real_value(json_object_get(d, "face_value_total")), 40, 0);
    assert_float_equal(json_real_value(json_object_get(d, "expected_profit_total")), 26, 0);
    json_t *h = json_object_get(json_object_get(d, "p_alive_hist"), "counts");
    const int bins[10] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 2}; /* 1.0 falls in the last bin */
    for (int b = 0; b < 10; b++)
        assert_int_equal(json_integer_value(json_array_get(h, b)), bins[b]);
    assert_true(json_is_array(json_object_get(json_object_get(d, "eval"), "policies")));
    assert_string_equal(json_string_value(json_object_get(json_object_get(d, "report"), "error")),
                        "not valid JSON");
    assert_true(json_is_null(json_object_get(d, "crosssell")));
    assert_string_equal(json_string_value(json_array_get(json_object_get(d, "curves"), 0)),
                        "/v1/files/loss.svg");
    json_decref(d);
    free(s);
    oq_reco_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_read_sorted_lookup),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_write_round_trip),
        cmocka_unit_test(test_dashboard_json),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_dashboard_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
