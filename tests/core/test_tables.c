/* test_tables.c - the readers of a shop's own tables (offers, contacts,
 * customers): real exports' quirks accepted, bad cells named by
 * file:line:column. */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/core/tables.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char *dir;

static int setup(void **st)
{
    (void)st;
    dir = tu_tmpdir();
    return 0;
}

static int teardown(void **st)
{
    (void)st;
    tu_rmdir(dir);
    free(dir);
    return 0;
}

/* Write bytes to dir/name (exactly: no newline added); returns the path. */
static const char *put(const char *name, const char *bytes)
{
    return tu_put(dir, name, bytes);
}

#define BOM "\xEF\xBB\xBF"

static oq_offers *offers3(void)
{
    oq_offers *o = NULL;
    const char *p = put("offers.csv", BOM "contact_cost,offer,redeem_cost\r\n"
                                          "0,none,0\r\n"
                                          "0.1,\"10% off\",4.5\r\n"
                                          "0.1,free shipping,3");
    oq_error err = {0};
    assert_int_equal(oq_offers_read(p, &o, &err), 0);
    return o;
}

/* BOM, CRLF, columns in another order, a quoted name with a comma-free
 * percent sign, and no newline after the last line. */
static void test_offers(void **st)
{
    (void)st;
    oq_offers *o = offers3();
    assert_int_equal(o->n, 3);
    assert_string_equal(o->name[1], "10% off");
    assert_string_equal(o->name[2], "free shipping");
    assert_true(o->redeem_cost[1] == 4.5 && o->contact_cost[2] == 0.1);
    assert_int_equal(oq_offers_find(o, "free shipping", 13), 2);
    assert_int_equal(oq_offers_find(o, "free", 4), -1);
    oq_offers_free(o);
    oq_offers_free(NULL);
}

static void expect_error(int rc, const oq_error *err, const char *file, long line, long col,
                         const char *needle)
{
    assert_int_equal(rc, OQ_EPARSE);
    assert_non_null(strstr(err->file, file));
    assert_int_equal(err->line, line);
    assert_int_equal(err->col, col);
    if (!strstr(err->msg, needle)) fail_msg("message \"%s\" lacks \"%s\"", err->msg, needle);
}

static void test_offers_bad(void **st)
{
    (void)st;
    oq_offers *o = NULL;
    oq_error err = {0};
    const char *p = put("bad_offers.csv", "offer,redeem_cost,contact_cost\nnone,0,0\nx,-1,0\n");
    expect_error(oq_offers_read(p, &o, &err), &err, "bad_offers.csv", 3, 2, "a number >= 0");
    assert_null(o);
    p = put("dup_offers.csv", "offer,redeem_cost,contact_cost\nnone,0,0\nnone,1,0\n");
    expect_error(oq_offers_read(p, &o, &err), &err, "dup_offers.csv", 3, 1, "listed twice");
    p = put("one_offer.csv", "offer,redeem_cost,contact_cost\nnone,0,0\n");
    assert_int_equal(oq_offers_read(p, &o, &err), OQ_EPARSE);
    assert_non_null(strstr(err.msg, "at least 2"));
    p = put("nohdr_offers.csv", "offer,redeem_cost\nnone,0\n");
    expect_error(oq_offers_read(p, &o, &err), &err, "nohdr_offers.csv", 1, 3, "contact_cost");
}

static void test_contacts(void **st)
{
    (void)st;
    oq_offers *o = offers3();
    oq_contacts *c = NULL;
    oq_error err = {0};
    /* extra column, quoted user id with a comma, a count of orders, no final newline */
    const char *p = put("contacts.csv", BOM "date,user_id,offer,ordered,value,note\r\n"
                                            "2025-03-01,u1,none,0,0,x\r\n"
                                            "2025-03-01,\"u,2\",10% off,3,42.5,\"a \"\"b\"\"\"\r\n"
                                            "2025-03-02,u3,free shipping,1,-2,");
    assert_int_equal(oq_contacts_read(p, NULL, o, &c, &err), 0);
    assert_int_equal(c->n, 3);
    assert_string_equal(c->user[1], "u,2");
    assert_int_equal(c->offer[1], 1);
    assert_int_equal(c->ordered[1], 1); /* a count > 0 is an order */
    assert_true(c->value[2] == -2);
    assert_non_null(c->date);
    assert_null(c->propensity);
    assert_int_equal(c->line[2], 4);
    oq_contacts_free(c);

    /* mapped names (a real export's), propensity */
    oq_table_map map = {0};
    char spec[] = "user_id=id,offer=arm,ordered=bought,value=profit";
    assert_int_equal(oq_table_map_parse(spec, &map, &err), 0);
    p = put("mapped.csv", "arm,id,bought,profit,propensity\nnone,7,0,0,0.5\nfree shipping,8,1,"
                          "9,0.25\n");
    assert_int_equal(oq_contacts_read(p, &map, o, &c, &err), 0);
    assert_int_equal(c->n, 2);
    assert_null(c->date);
    assert_true(c->propensity[1] == 0.25);
    oq_contacts_free(c);
    char bad_spec[] = "user=id";
    assert_int_equal(oq_table_map_parse(bad_spec, &map, &err), OQ_EINVAL);

    /* bad cells: each named by file, line and column */
    p = put("c_offer.csv", "user_id,offer,ordered,value\nu1,none,0,0\nu2,20% off,1,5\n");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_offer.csv", 3, 2,
                 "an offer of the catalogue (none, 10% off, free shipping)");
    assert_null(c);
    p = put("c_ord.csv", "user_id,offer,ordered,value\r\nu1,none,yes,0");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_ord.csv", 2, 3, "0 or 1");
    p = put("c_val.csv", "value,user_id,offer,ordered\n1e999,u1,none,1\n");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_val.csv", 2, 1, "a number");
    p = put("c_prop.csv", "user_id,offer,ordered,value,propensity\nu1,none,0,0,0\n");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_prop.csv", 2, 5,
                 "a probability in (0, 1]");
    p = put("c_date.csv", "user_id,date,offer,ordered,value\nu1,2025-02-30,none,0,0\n");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_date.csv", 2, 2, "YYYY-MM-DD");
    p = put("c_user.csv", "user_id,offer,ordered,value\nu1,none,0,0\n,none,0,0\n");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_user.csv", 3, 1,
                 "a non-empty id");
    p = put("c_fields.csv", "user_id,offer,ordered,value\nu1,none,0\n");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_fields.csv", 2, 3,
                 "missing fields");
    p = put("c_quote.csv", "user_id,offer,ordered,value\nu1,\"none,0,0\n");
    assert_int_equal(oq_contacts_read(p, NULL, o, &c, &err), OQ_EPARSE);
    assert_int_equal(err.line, 2);
    p = put("c_hdr.csv", "user_id,offer,value\nu1,none,0\n");
    expect_error(oq_contacts_read(p, NULL, o, &c, &err), &err, "c_hdr.csv", 1, 4,
                 "missing column \"ordered\"");
    p = put("c_empty.csv", "user_id,offer,ordered,value\n");
    assert_int_equal(oq_contacts_read(p, NULL, o, &c, &err), OQ_EPARSE);
    oq_offers_free(o);
}

static void test_customers(void **st)
{
    (void)st;
    oq_customers *c = NULL, *t = NULL;
    oq_error err = {0};
    /* numeric, text (with a missing cell), an outcome column left out by
     * --ignore, the contact columns left out by name; no final newline */
    const char *p = put("cust.csv", BOM "user_id,age,city,offer,churned,score\r\n"
                                        "u1,31,Paris,none,0, 1.5\r\n"
                                        "u2,NA,\"Rome\",none,1,2\r\n"
                                        "u3,45,,none,0,-1\r\n"
                                        "u4,22,Berlin,none,0,0");
    oq_table_map map = {.ignore = "churned"};
    assert_int_equal(oq_customers_read(p, &map, &c, &err), 0);
    assert_int_equal(c->n, 4);
    assert_int_equal(c->nattr, 3);
    assert_string_equal(c->attr[0], "age");
    assert_string_equal(c->attr[1], "city");
    assert_string_equal(c->attr[2], "score");
    assert_false(c->is_text[0]);
    assert_true(c->is_text[1]);
    assert_int_equal(c->nlevels[1], 3);
    assert_string_equal(c->levels[1][0], "Berlin"); /* sorted */
    assert_true(isnan(c->x[1 * 3 + 0]));            /* NA */
    assert_true(c->x[0 * 3 + 1] == 1);              /* Paris */
    assert_true(isnan(c->x[2 * 3 + 1]));            /* empty */
    assert_true(c->x[0 * 3 + 2] == 1.5);            /* padded number */
    assert_int_equal(oq_customers_find(c, "u3"), 2);
    assert_int_equal(oq_customers_find(c, "u9"), -1);

    /* a second file read like the first: other order, extra column, unseen city */
    p = put("next.csv", "city,score,extra,user_id,age\nRome,3,x,n1,50\nOslo,4,y,n2,60");
    assert_int_equal(oq_customers_read_like(p, &map, c, &t, &err), 0);
    assert_int_equal(t->n, 2);
    assert_true(t->x[0 * 3 + 1] == 2); /* Rome: the first file's code */
    assert_true(isnan(t->x[1 * 3 + 1]));
    assert_true(t->x[1 * 3 + 0] == 60);
    oq_customers_free(t);
    t = NULL;
    p = put("next_bad.csv", "user_id,age,city,score\nn1,fifty,Rome,3\n");
    expect_error(oq_customers_read_like(p, &map, c, &t, &err), &err, "next_bad.csv", 2, 2,
                 "a number");
    p = put("next_miss.csv", "user_id,age,score\nn1,5,3\n");
    expect_error(oq_customers_read_like(p, &map, c, &t, &err), &err, "next_miss.csv", 1, 4,
                 "\"city\"");
    assert_null(t);
    oq_customers_free(c);

    p = put("cust_dup.csv", "user_id,a\nu1,1\nu2,2\nu1,3\n");
    expect_error(oq_customers_read(p, NULL, &c, &err), &err, "cust_dup.csv", 4, 1,
                 "first on line 2");
    assert_null(c);
    p = put("cust_ctl.csv", "user_id,a\nu1,x\x01y\n");
    expect_error(oq_customers_read(p, NULL, &c, &err), &err, "cust_ctl.csv", 2, 2, "UTF-8");
    p = put("cust_nouser.csv", "id,a\nu1,1\n");
    expect_error(oq_customers_read(p, NULL, &c, &err), &err, "cust_nouser.csv", 1, 3,
                 "missing column \"user_id\"");
    oq_customers_free(NULL);
}

/* The same bytes, with and without the export quirks, give the same table. */
static void test_quirks_equal(void **st)
{
    (void)st;
    oq_offers *o = offers3();
    oq_contacts *a = NULL, *b = NULL;
    oq_error err = {0};
    const char *pa = put("plain.csv", "user_id,offer,ordered,value\nu1,none,0,0\nu2,10% off,1,7\n");
    const char *pb =
        put("quirky.csv", BOM "\"user_id\",offer,ordered,value\r\nu1,\"none\",0,0\r\nu2,\"10% "
                              "off\",1,\"7\"");
    assert_int_equal(oq_contacts_read(pa, NULL, o, &a, &err), 0);
    assert_int_equal(oq_contacts_read(pb, NULL, o, &b, &err), 0);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->user[i], b->user[i]);
        assert_int_equal(a->offer[i], b->offer[i]);
        assert_int_equal(a->ordered[i], b->ordered[i]);
        assert_true(a->value[i] == b->value[i]);
    }
    oq_contacts_free(a);
    oq_contacts_free(b);
    oq_offers_free(o);
}

static void test_user_hash(void **st)
{
    (void)st;
    assert_true(oq_user_hash("6001", 1) == oq_user_hash("6001", 1));
    assert_true(oq_user_hash("6001", 1) != oq_user_hash("6001", 2));
    /* about half of 10,000 ids in each fold */
    int ones = 0;
    char id[16];
    for (int i = 0; i < 10000; i++) {
        snprintf(id, sizeof id, "%d", i);
        ones += (int)(oq_user_hash(id, 1) & 1);
    }
    assert_true(ones > 4800 && ones < 5200);
}

/* Orders and events: exports' quirks, missing categories, a mapped id and
 * date, zero rows; bad cells named by file:line:column. */
static void test_txtab(void **st)
{
    (void)st;
    oq_txtab *t = NULL;
    oq_error err = {0};
    const char *p = put("orders.csv", BOM "category,value,date,user_id\r\n"
                                          "A,10.5,2025-01-02,u1\r\n"
                                          ",3,2025-01-01,\"u,2\"\r\n"
                                          "\"B \"\"x\"\"\",-1,2025-01-03,u1");
    assert_int_equal(oq_orders_table_read(p, NULL, &t, &err), 0);
    assert_int_equal(t->n, 3);
    assert_string_equal(t->user[1], "u,2");
    assert_true(t->value[0] == 10.5 && t->value[2] == -1);
    assert_non_null(t->cat);
    assert_string_equal(t->cat[0], "A");
    assert_null(t->cat[1]); /* missing */
    assert_string_equal(t->cat[2], "B \"x\"");
    int32_t d;
    assert_int_equal(oq_date_parse("2025-01-02", 10, &d), 0);
    assert_int_equal(t->date[0], d);
    assert_int_equal(t->line[2], 4);
    oq_txtab_free(t);
    /* no category column in orders: fine; mapped id and date */
    oq_table_map map = {0};
    char spec[] = "user_id=id,date=day";
    assert_int_equal(oq_table_map_parse(spec, &map, &err), 0);
    p = put("orders2.csv", "id,day,value\n7,2025-01-01,1\n");
    assert_int_equal(oq_orders_table_read(p, &map, &t, &err), 0);
    assert_int_equal(t->n, 1);
    assert_null(t->cat);
    oq_txtab_free(t);
    p = put("orders0.csv", "user_id,date,value");
    assert_int_equal(oq_orders_table_read(p, NULL, &t, &err), 0);
    assert_int_equal(t->n, 0);
    oq_txtab_free(t);
    p = put("events.csv", "user_id,date,category,value\nu1,2025-01-01,A,x\nu1,2025-01-01,NA,y");
    assert_int_equal(oq_events_table_read(p, NULL, &t, &err), 0);
    assert_int_equal(t->n, 2);
    assert_null(t->value); /* an events file's value column is not read */
    assert_null(t->cat[1]);
    oq_txtab_free(t);
    oq_txtab_free(NULL);
    /* bad */
    p = put("o_val.csv", "user_id,date,value\nu1,2025-01-01,1\nu1,2025-01-01,nan%\n");
    expect_error(oq_orders_table_read(p, NULL, &t, &err), &err, "o_val.csv", 3, 3, "a number");
    assert_null(t);
    p = put("o_date.csv", "user_id,value,date\r\nu1,1,2025-13-01");
    expect_error(oq_orders_table_read(p, NULL, &t, &err), &err, "o_date.csv", 2, 3, "YYYY-MM-DD");
    p = put("o_user.csv", "user_id,date,value\n,2025-01-01,1\n");
    expect_error(oq_orders_table_read(p, NULL, &t, &err), &err, "o_user.csv", 2, 1,
                 "a non-empty id");
    p = put("o_hdr.csv", "user_id,date\nu1,2025-01-01\n");
    expect_error(oq_orders_table_read(p, NULL, &t, &err), &err, "o_hdr.csv", 1, 3, "value");
    p = put("e_hdr.csv", "user_id,date,value\nu1,2025-01-01,1\n");
    expect_error(oq_events_table_read(p, NULL, &t, &err), &err, "e_hdr.csv", 1, 4, "category");
    p = put("e_fields.csv", "user_id,date,category\nu1,2025-01-01\n");
    expect_error(oq_events_table_read(p, NULL, &t, &err), &err, "e_fields.csv", 2, 2,
                 "missing fields");
    p = put("e_cat.csv", "user_id,date,category\nu1,2025-01-01,\"a\x01\"\n");
    expect_error(oq_events_table_read(p, NULL, &t, &err), &err, "e_cat.csv", 2, 3, "a category");
    p = put("e_empty.csv", "");
    assert_int_equal(oq_events_table_read(p, NULL, &t, &err), OQ_EPARSE);
    assert_null(t);
}

/* oq_customers_extend: rows picked and repeated, attributes appended. */
static void test_extend(void **st)
{
    (void)st;
    oq_customers *c = NULL, *x = NULL;
    oq_error err = {0};
    const char *p = put("cx.csv", "user_id,age,tier\nu1,30,gold\nu2,40,silver\n");
    assert_int_equal(oq_customers_read(p, NULL, &c, &err), 0);
    size_t rows[3] = {1, 0, 1};
    const char *names[2] = {"score", "fav"};
    int is_text[2] = {0, 1};
    size_t nl[2] = {0, 2};
    static char l0[] = "A", l1[] = "B";
    char *lv1[2] = {l0, l1};
    char *const *lv[2] = {NULL, lv1};
    double xe[6] = {1, 0, 2, NAN, 3, 1};
    assert_int_equal(oq_customers_extend(c, rows, 3, 2, names, is_text, nl, lv, xe, 0, &x, &err),
                     0);
    assert_int_equal(x->n, 3);
    assert_int_equal(x->nattr, 4);
    assert_string_equal(x->user[0], "u2");
    assert_string_equal(x->attr[3], "fav");
    assert_true(x->is_text[1] && x->is_text[3] && !x->is_text[2]);
    assert_string_equal(x->levels[3][1], "B");
    assert_true(x->x[0 * 4 + 0] == 40 && x->x[1 * 4 + 2] == 2 && isnan(x->x[1 * 4 + 3]));
    assert_int_equal(oq_customers_find(x, "u1"), -1); /* not indexed */
    oq_customers_free(x);
    /* indexed: ids must be unique */
    assert_int_equal(oq_customers_extend(c, rows, 3, 2, names, is_text, nl, lv, xe, 1, &x, &err),
                     OQ_EINVAL);
    assert_null(x);
    assert_int_equal(oq_customers_extend(c, rows, 2, 2, names, is_text, nl, lv, xe, 1, &x, &err),
                     0);
    assert_int_equal(oq_customers_find(x, "u1"), 1);
    oq_customers_free(x);
    const char *clash[1] = {"age"};
    assert_int_equal(oq_customers_extend(c, rows, 1, 1, clash, is_text, nl, lv, xe, 0, &x, &err),
                     OQ_EINVAL);
    assert_non_null(strstr(err.msg, "already have a column \"age\""));
    oq_customers_free(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_offers),       cmocka_unit_test(test_offers_bad),
        cmocka_unit_test(test_contacts),     cmocka_unit_test(test_customers),
        cmocka_unit_test(test_quirks_equal), cmocka_unit_test(test_user_hash),
        cmocka_unit_test(test_txtab),        cmocka_unit_test(test_extend),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
