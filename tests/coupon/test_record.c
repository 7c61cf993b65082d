/* test_record.c - record.h: a run's recommendations and the orders of the
 * response window as contacts (issue 17 item 3). Table-driven: each order's
 * day against the window's edges; the written and appended bytes; the
 * refusals by file:line:column. */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/core/tables.h"
#include "offerq/coupon/record.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *RECO = "user_id,offer,expected_profit,propensity\n"
                          "a,none,1.0,0.950000\n"
                          "\"b,2\",5,2.0,0.016667\n"
                          "c,10,3.0,0.5\n";

static oq_record *read_reco(const char *dir)
{
    oq_record *r = NULL;
    oq_error err = {0};
    assert_int_equal(oq_record_read(tu_put(dir, "reco.csv", RECO), &r, &err), 0);
    assert_int_equal(r->n, 3);
    return r;
}

static char *slurp(const char *path)
{
    char *s = NULL;
    size_t n;
    oq_error err = {0};
    assert_int_equal(oq_read_file(path, 1 << 20, &s, &n, &err), 0);
    return s;
}

/* One order of customer a on day (2025-03-01 + off) with window w: counted? */
static void test_window_edges(void **state)
{
    (void)state;
    static const struct {
        int off, window, counted;
    } cases[] = {{-1, 1, 0}, {0, 1, 1}, {1, 1, 0}, {1, 2, 1}, {2, 2, 0}, {6, 7, 1}, {7, 7, 0}};
    char *dir = tu_tmpdir();
    oq_record *r = read_reco(dir);
    int32_t d0;
    assert_int_equal(oq_date_parse("2025-03-01", 10, &d0), 0);
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        char day[11], csv[256];
        oq_date_format(d0 + cases[k].off, day);
        snprintf(csv, sizeof csv,
                 "user_id,date,value\na,%s,4.25\nc,2025-03-01,1\nzz,2025-03-01,9\n", day);
        oq_txtab *o = NULL;
        oq_error err = {0};
        assert_int_equal(oq_orders_table_read(tu_put(dir, "o.csv", csv), NULL, &o, &err), 0);
        assert_int_equal(oq_record_outcomes(r, o, d0, cases[k].window, &err), 0);
        assert_int_equal(r->ordered[0], cases[k].counted);
        assert_true(r->value[0] == (cases[k].counted ? 4.25 : 0.0));
        assert_int_equal(r->ordered[1], 0); /* "b,2": no order */
        assert_int_equal(r->ordered[2], 1);
        assert_int_equal(r->orders_used, 1 + (size_t)cases[k].counted);
        assert_int_equal(r->orders_else, 2 - (size_t)cases[k].counted); /* zz never counts */
        oq_txtab_free(o);
    }
    oq_error err = {0};
    assert_int_equal(oq_record_outcomes(r, NULL, d0, 0, &err), OQ_EINVAL);
    oq_record_free(r);
    tu_rmdir(dir);
    free(dir);
}

static void test_write_append(void **state)
{
    (void)state;
    char *dir = tu_tmpdir();
    oq_record *r = read_reco(dir);
    oq_txtab *o = NULL;
    oq_error err = {0};
    int32_t d0;
    assert_int_equal(oq_date_parse("2025-03-01", 10, &d0), 0);
    assert_int_equal(oq_orders_table_read(tu_put(dir, "o.csv",
                                                 "user_id,date,value\n"
                                                 "b,2,2025-03-01,10.1\n"
                                                 "c,2025-03-01,0.2\nc,2025-03-01,0.1\n"),
                                          NULL, &o, &err),
                     OQ_EPARSE); /* "b,2" unquoted: an extra field */
    assert_int_equal(oq_orders_table_read(tu_put(dir, "o.csv",
                                                 "user_id,date,value\n"
                                                 "\"b,2\",2025-03-01,10.1\n"
                                                 "c,2025-03-01,0.2\nc,2025-03-01,0.1\n"),
                                          NULL, &o, &err),
                     0);
    assert_int_equal(oq_record_outcomes(r, o, d0, 1, &err), 0);
    char out[4200];
    snprintf(out, sizeof out, "%s/new.csv", dir);
    assert_int_equal(oq_record_write(r, out, &err), 0);
    static const char *want = "user_id,date,offer,ordered,value,propensity\n"
                              "a,2025-03-01,none,0,0,0.950000\n"
                              "\"b,2\",2025-03-01,5,1,10.1,0.016667\n"
                              "c,2025-03-01,10,1,0.3,0.5\n";
    char *got = slurp(out);
    assert_string_equal(got, want);
    free(got);
    /* append to an export without a final newline (CRLF) */
    const char *old = "user_id,date,offer,ordered,value,propensity\r\nx,2025-02-28,none,0,0,1";
    const char *app = tu_put(dir, "all.csv", old);
    assert_int_equal(oq_record_append(r, app, &err), 0);
    got = slurp(app);
    assert_int_equal(strncmp(got, old, strlen(old)), 0);
    assert_string_equal(got + strlen(old), "\n" /* then the rows */
                                           "a,2025-03-01,none,0,0,0.950000\n"
                                           "\"b,2\",2025-03-01,5,1,10.1,0.016667\n"
                                           "c,2025-03-01,10,1,0.3,0.5\n");
    /* the same day again: refused by file:line, the file unchanged */
    assert_int_equal(oq_record_append(r, app, &err), OQ_EPARSE);
    assert_int_equal(err.line, 3);
    assert_non_null(strstr(err.msg, "already has a contact on 2025-03-01"));
    char *again = slurp(app);
    assert_string_equal(again, got);
    free(again);
    free(got);
    /* a header that is not ours */
    const char *bad = tu_put(dir, "bad.csv", "user_id,date,offer,ordered,value\n");
    assert_int_equal(oq_record_append(r, bad, &err), OQ_EPARSE);
    assert_int_equal(err.col, 6);
    oq_txtab_free(o);
    oq_record_free(r);
    tu_rmdir(dir);
    free(dir);
}

static void test_read_bad(void **state)
{
    (void)state;
    static const struct {
        const char *csv;
        int rc;
        long line, col;
        const char *msg;
    } cases[] = {
        {"user_id,offer,expected_profit\na,none,1\n", OQ_EINVAL, 1, 0, "no propensity column"},
        {"user_id,offer,propensity\na,none,0\n", OQ_EPARSE, 2, 3, "probability in (0, 1]"},
        {"user_id,offer,propensity\na,none,x\n", OQ_EPARSE, 2, 3, "probability"},
        {"user_id,offer,propensity\na,none,1\nb,5,0.5\na,5,0.5\n", OQ_EPARSE, 4, 1,
         "recommended twice (first on line 2)"},
        {"user_id,offer,propensity\n,none,1\n", OQ_EPARSE, 2, 1, "non-empty id"},
        {"user_id,offer,propensity\na,none\n", OQ_EPARSE, 2, 2, "missing fields"},
        {"user_id,offer,propensity\n", OQ_EPARSE, 2, 0, "no recommendations"},
    };
    char *dir = tu_tmpdir();
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        oq_record *r = NULL;
        oq_error err = {0};
        int rc = oq_record_read(tu_put(dir, "r.csv", cases[k].csv), &r, &err);
        assert_int_equal(rc, cases[k].rc);
        assert_null(r);
        assert_int_equal(err.line, cases[k].line);
        assert_int_equal(err.col, cases[k].col);
        if (!strstr(err.msg, cases[k].msg)) fail_msg("case %zu: %s", k, err.msg);
    }
    /* --contacted: a stranger is refused, the others kept */
    oq_record *r = read_reco(dir);
    oq_error err = {0};
    assert_int_equal(oq_record_keep(r, tu_put(dir, "k.csv", "id\nc\nzz\n"), NULL, &err),
                     OQ_EPARSE); /* no user_id column */
    oq_table_map map = {.user_id = "id"};
    assert_int_equal(oq_record_keep(r, tu_put(dir, "k.csv", "id\nc\nzz\n"), &map, &err), OQ_EPARSE);
    assert_int_equal(err.line, 3);
    assert_int_equal(oq_record_keep(r, tu_put(dir, "k.csv", "id\nc\nc\n"), &map, &err), 0);
    assert_int_equal(r->n, 1);
    assert_string_equal(r->user[0], "c");
    assert_string_equal(r->propensity[0], "0.5");
    oq_record_free(r);
    oq_record_free(NULL);
    tu_rmdir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_window_edges),
        cmocka_unit_test(test_write_append),
        cmocka_unit_test(test_read_bad),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
