/* test_json.c - numbers as people write them (issue 18): oq_fmt_double gives
 * the shortest %g text that reads back as the same double, and oq_json_dumps
 * writes JSON exactly as jansson's json_dumps does except for those reals. */
#include "testutil.h"
#include "util/json.h"
#include "util/num.h"

#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_fmt_double_table(void **state)
{
    (void)state;
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {0.1, "0.1"},
        {1.0 / 3.0, "0.3333333333333333"},
        {2.0 / 3.0, "0.6666666666666666"},
        {1e-300, "1e-300"},
        {5e-324, "5e-324"},
        {1e300, "1e+300"},
        {-0.0, "-0"},
        {0.0, "0"},
        {100.0, "100"},
        {1e15, "1000000000000000"},
        {1e16, "1e+16"},
        {120.0, "120"},
        {0.0001, "0.0001"},
        {0.00001, "1e-05"},
        {0.3, "0.3"},
        {0.1 + 0.2, "0.30000000000000004"},
        {123456.789, "123456.789"},
        {DBL_MAX, "1.7976931348623157e+308"},
        {DBL_MIN, "2.2250738585072014e-308"},
        {-2.5, "-2.5"},
        {1e22, "1e+22"},
        {9007199254740993.0, "9007199254740992"}, /* 2^53 + 1 rounds to 2^53 */
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        char b[OQ_DBL_BUF];
        int n = oq_fmt_double(cases[i].v, b);
        const char *want = cases[i].want;
        if (strcmp(b, want)) fail_msg("case %zu: got \"%s\", want \"%s\"", i, b, want);
        assert_int_equal(n, (int)strlen(b));
        assert_true(strtod(b, NULL) == cases[i].v);
        assert_int_equal(signbit(strtod(b, NULL)), signbit(cases[i].v));
    }
}

/* Any finite double: reads back exactly, and one digit fewer would not. */
static void test_fmt_double_random(void **state)
{
    (void)state;
    uint64_t x = 0x9E3779B97F4A7C15u;
    for (int i = 0; i < 50000; i++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        double v;
        uint64_t bits = i % 2 ? x : (x >> 12) | 0x3FF0000000000000u; /* any, or in [1, 2) */
        memcpy(&v, &bits, sizeof v);
        if (!isfinite(v)) continue;
        char b[OQ_DBL_BUF], shorter[400];
        oq_fmt_double(v, b);
        if (strtod(b, NULL) != v) fail_msg("%.17g printed as %s", v, b);
        /* significant digits of b: mantissa without sign, point, leading
         * and trailing zeros */
        char m[OQ_DBL_BUF];
        size_t k = 0;
        for (const char *p = b; *p && *p != 'e'; p++)
            if (*p >= '0' && *p <= '9' && (k || *p != '0')) m[k++] = *p;
        while (k > 1 && m[k - 1] == '0')
            k--;
        int p0 = 1; /* the fewest %g digits that read back */
        while (p0 < 17) {
            snprintf(shorter, sizeof shorter, "%.*g", p0, v);
            if (strtod(shorter, NULL) == v) break;
            p0++;
        }
        if ((int)k != p0) fail_msg("%s has %zu significant digits, %d suffice", b, k, p0);
    }
}

/* Same text as json_dumps for every flag set when the reals need no more
 * than their short form (jansson's %.17g and ours agree on those). */
static void test_dumps_matches_jansson(void **state)
{
    (void)state;
    json_error_t je;
    const char *src = "{\"a\": 1, \"b\": [0.5, 100.0, 1e22, -0.0, 0.0001220703125, "
                      "3.0517578125e-05, [], {}, [1, [2]]],"
                      " \"s\": \"q\\\"\\\\\\n\\t\\u0001/\\u00e9\\u007f\", \"t\": true,"
                      " \"f\": false, \"n\": null, \"o\": {\"x\": {\"y\": -3}}, \"zz\": 1e-300}";
    json_t *j = json_loads(src, 0, &je);
    assert_non_null(j);
    size_t flags[] = {0, JSON_COMPACT, JSON_INDENT(2), JSON_INDENT(4) | JSON_COMPACT,
                      JSON_INDENT(1)};
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        char *a = json_dumps(j, flags[i] | JSON_REAL_PRECISION(17)),
             *b = oq_json_dumps(j, flags[i]);
        assert_non_null(a);
        assert_non_null(b);
        if (strcmp(a, b)) fail_msg("flags %zx:\njansson: %s\noffer q: %s", flags[i], a, b);
        free(a);
        free(b);
    }
    json_decref(j);
    /* Scalars on their own, as json_dumps with JSON_ENCODE_ANY. */
    json_t *r = json_real(1e300);
    char *t = oq_json_dumps(r, 0);
    assert_string_equal(t, "1e300");
    free(t);
    json_decref(r);
}

/* The reals the issue names, and exact round trips through jansson's reader. */
static void test_dumps_shortest(void **state)
{
    (void)state;
    double v[] = {0.1, 1.0 / 3.0, 1e-300, 5e-324, 1e300, -0.0, 0.1 + 0.2, 100.0, DBL_MAX};
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof v / sizeof *v; i++)
        json_array_append_new(a, json_real(v[i]));
    json_t *o = json_pack("{s:f, s:o}", "discount", 0.1, "v", a);
    char *t = oq_json_dumps(o, JSON_COMPACT);
    assert_string_equal(t, "{\"discount\":0.1,\"v\":[0.1,0.3333333333333333,1e-300,5e-324,1e300,"
                           "-0.0,0.30000000000000004,100.0,1.7976931348623157e308]}");
    json_error_t je;
    json_t *back = json_loads(t, 0, &je);
    assert_non_null(back);
    json_t *ba = json_object_get(back, "v");
    for (size_t i = 0; i < sizeof v / sizeof *v; i++) {
        json_t *x = json_array_get(ba, i);
        assert_true(json_is_real(x)); /* still a real (100.0, not 100) */
        assert_true(json_real_value(x) == v[i]);
        assert_int_equal(signbit(json_real_value(x)), signbit(v[i]));
    }
    free(t);
    json_decref(back);
    json_decref(o);
}

/* oq_json_write_atomic: the file is the indented text plus a newline. */
static void test_write_atomic(void **state)
{
    (void)state;
    char *dir = tu_tmpdir(), path[4096];
    snprintf(path, sizeof path, "%s/x.json", dir);
    json_t *o = json_pack("{s:f, s:[i]}", "p", 0.1, "k", 7);
    oq_error err = {0};
    assert_int_equal(oq_json_write_atomic(path, o, &err), 0);
    char buf[256] = "";
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    size_t n = fread(buf, 1, sizeof buf - 1, fp);
    buf[n] = 0;
    fclose(fp);
    assert_string_equal(buf, "{\n  \"p\": 0.1,\n  \"k\": [\n    7\n  ]\n}\n");
    json_decref(o);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fmt_double_table),      cmocka_unit_test(test_fmt_double_random),
        cmocka_unit_test(test_dumps_matches_jansson), cmocka_unit_test(test_dumps_shortest),
        cmocka_unit_test(test_write_atomic),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
