/* test_calib.c - calibration bins (calib.h) against golden values computed
 * independently with numpy by tools/calib_golden.py (1,003 rows with ties
 * and the ends 0 and 1), plus the edges: fewer rows than bins, no row, a
 * prediction that is not a probability. */
#include "testutil.h"
#include "offerq/coupon/calib.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

static void test_golden(void **state)
{
    (void)state;
    json_error_t je;
    json_t *g = json_load_file(tu_source("tests/data/calib/golden.json"), 0, &je);
    assert_non_null(g);
    json_t *jp = json_object_get(g, "p"), *jy = json_object_get(g, "y");
    size_t n = json_array_size(jp);
    assert_int_equal(n, 1003);
    assert_int_equal(json_array_size(jy), n);
    double *p = malloc(n * sizeof *p);
    uint8_t *y = malloc(n);
    assert_non_null(p);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++) {
        p[i] = json_real_value(json_array_get(jp, i));
        y[i] = (uint8_t)json_integer_value(json_array_get(jy, i));
    }
    oq_calib c;
    oq_error err = {0};
    assert_int_equal(oq_calib_bins(p, y, n, &c, &err), 0);
    assert_int_equal(c.rows, n);
    for (int b = 0; b < OQ_CALIB_BINS; b++) {
        assert_int_equal(c.n[b], json_integer_value(json_array_get(json_object_get(g, "n"), b)));
        assert_true(fabs(c.pred[b] -
                         json_real_value(json_array_get(json_object_get(g, "pred"), b))) < 1e-12);
        assert_true(fabs(c.obs[b] - json_real_value(json_array_get(json_object_get(g, "obs"), b))) <
                    1e-12);
    }
    assert_true(fabs(c.logloss - json_real_value(json_object_get(g, "logloss"))) < 1e-12);
    assert_true(fabs(c.brier - json_real_value(json_object_get(g, "brier"))) < 1e-12);
    free(p);
    free(y);
    json_decref(g);
}

static void test_edges(void **state)
{
    (void)state;
    oq_calib c;
    oq_error err = {0};
    /* 3 rows, 10 bins: rows k = 0, 1, 2 go to bins 0, 3, 6; the others are empty */
    const double p[3] = {0.9, 0.1, 0.5};
    const uint8_t y[3] = {1, 0, 0};
    assert_int_equal(oq_calib_bins(p, y, 3, &c, &err), 0);
    assert_int_equal(c.n[0] + c.n[3] + c.n[6], 3);
    assert_true(c.pred[0] == 0.1 && c.pred[3] == 0.5 && c.pred[6] == 0.9);
    assert_true(c.obs[0] == 0 && c.obs[3] == 0 && c.obs[6] == 1);
    assert_true(isnan(c.pred[1]) && isnan(c.obs[9]));
    /* no row */
    assert_int_equal(oq_calib_bins(p, y, 0, &c, &err), 0);
    assert_int_equal(c.rows, 0);
    assert_true(isnan(c.logloss) && isnan(c.brier));
    /* not a probability: named by row */
    const double bad[3] = {0.2, NAN, 0.3};
    assert_int_equal(oq_calib_bins(bad, y, 3, &c, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "row 2"));
    const double big[2] = {0.2, 1.5};
    assert_int_equal(oq_calib_bins(big, y, 2, &c, &err), OQ_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_golden), cmocka_unit_test(test_edges)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
