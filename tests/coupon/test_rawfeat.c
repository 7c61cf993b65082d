/* test_rawfeat.c - features of raw orders and events as of each contact's
 * date (rawfeat.h): values worked out by hand from a small shop, nothing
 * after the contact's date used, P(alive) the BG/NBD posterior of the
 * contact's own (x, t_x, T). */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/coupon/rawfeat.h"

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

static const char *put(const char *name, const char *bytes)
{
    return tu_put(dir, name, bytes);
}

/* u1's orders (2 on Jan 1, 1 on Jan 11, one AFTER the contact on Feb 1),
 * u2 none, and 300 other customers buying before the campaign so that
 * BG/NBD has something to fit; the events of u1 (one on the contact's own
 * day, not before it). The contacts: u1 and u2 on 2025-01-21. */
static void write_shop(const char *late_value, const char **orders, const char **events)
{
    size_t cap = 1 << 16, at = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    at += (size_t)snprintf(b + at, cap - at,
                           "\xEF\xBB\xBFuser_id,date,value,category\r\n"
                           "u1,2025-01-01,10,A\r\nu1,2025-01-01,20,B\r\n\"u1\",2025-01-11,30,B\r\n"
                           "u1,2025-02-01,%s,A\r\n",
                           late_value);
    /* the others buy as BG/NBD says: rate lambda ~ Exp(mean 1/20 days), after
     * each purchase gone with p ~ U(0, 0.6); first purchase uniform in 2024 */
    unsigned long long s = 12345;
#define U01()                                                                                      \
    ((double)((s = s * 6364136223846793005ull + 1442695040888963407ull) >> 11) * 0x1.0p-53)
    for (int c = 0; c < 400; c++) {
        double lam = -log(1 - U01()) / 20, pd = 0.6 * U01(), t = floor(U01() * 300);
        for (int j = 0; t <= 383; j++) {
            int day = (int)t, y = 2024, m = 1, d = day + 1;
            static const int md[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
            while (d > (y == 2024 ? md[m - 1] : (m == 2 ? 28 : md[m - 1]))) {
                d -= y == 2024 ? md[m - 1] : (m == 2 ? 28 : md[m - 1]);
                if (++m > 12) {
                    m = 1;
                    y++;
                }
            }
            at += (size_t)snprintf(b + at, cap - at, "f%d,%04d-%02d-%02d,%d,%s\r\n", c, y, m, d,
                                   5 + j % 7, j % 2 ? "A" : "C");
            if (U01() < pd || at > cap - 200) break;
            t += -log(1 - U01()) / lam;
        }
    }
#undef U01
    b[at - 2] = 0; /* no final newline */
    *orders = put("orders.csv", b);
    free(b);
    *events = put("events.csv", "user_id,category,date\n"
                                "u1,A,2024-12-20\nu1,B,2025-01-05\nu1,B,2025-01-15\n"
                                "u1,C,2025-01-20\nu1,B,2025-01-21\nzz,A,2025-01-01");
}

static void build(const char *late, oq_customers **xc, oq_contacts **ct, oq_customers **cust,
                  oq_offers **of, oq_rawfeat **rf, oq_txtab **ords, oq_txtab **evs)
{
    oq_error err = {0};
    const char *po, *pe;
    write_shop(late, &po, &pe);
    const char *pf = put("offers.csv", "offer,redeem_cost,contact_cost\nnone,0,0\npct,1,0\n");
    const char *pc = put("contacts.csv", "user_id,date,offer,ordered,value\n"
                                         "u1,2025-01-21,pct,1,50\nu2,2025-01-21,none,0,0\n");
    const char *pu = put("customers.csv", "user_id,age\nu1,30\nu2,40\n");
    assert_int_equal(oq_offers_read(pf, of, &err), 0);
    assert_int_equal(oq_contacts_read(pc, NULL, *of, ct, &err), 0);
    assert_int_equal(oq_customers_read(pu, NULL, cust, &err), 0);
    if (oq_orders_table_read(po, NULL, ords, &err) || oq_events_table_read(pe, NULL, evs, &err))
        fail_msg("%s", err.msg);
    assert_int_equal(oq_rawfeat_new(*ords, *evs, (*ct)->date[0], 30, rf, &err), 0);
    assert_int_equal(oq_rawfeat_contacts(*rf, *cust, *ct, xc, &err), 0);
}

static long col(const oq_customers *c, const char *name)
{
    for (size_t k = 0; k < c->nattr; k++)
        if (!strcmp(c->attr[k], name)) return (long)k;
    fail_msg("no column %s", name);
    return -1;
}

static double at(const oq_customers *c, size_t i, const char *name)
{
    return c->x[i * c->nattr + (size_t)col(c, name)];
}

static void test_features(void **st)
{
    (void)st;
    oq_customers *xc, *cust;
    oq_contacts *ct;
    oq_offers *of;
    oq_rawfeat *rf;
    oq_txtab *ords, *evs;
    build("100", &xc, &ct, &cust, &of, &rf, &ords, &evs);
    const oq_rawfeat_info *in = oq_rawfeat_info_get(rf);
    assert_int_equal(xc->n, 2);
    assert_non_null(ct->xrow);
    assert_int_equal(ct->xrow[1], 1);
    assert_string_equal(xc->user[0], "u1");
    assert_true(at(xc, 0, "age") == 30);
    /* u1 as of 2025-01-21: orders on Jan 1 (10, B... 20), Jan 11 (30) */
    assert_true(at(xc, 0, "recency_days") == 10);
    assert_true(at(xc, 0, "orders_before") == 3);
    assert_true(at(xc, 0, "monetary_mean") == 20);
    assert_true(at(xc, 0, "tenure_days") == 20);
    assert_true(at(xc, 0, "orders_30d") == 3); /* all three in [Dec 22, Jan 21) */
    long fc = col(xc, "fav_category");
    assert_true(xc->is_text[fc]);
    assert_string_equal(xc->levels[fc][(size_t)at(xc, 0, "fav_category")], "B");
    /* events before the day: Dec 20, Jan 5, Jan 15, Jan 20 (not Jan 21); in
     * the 30 days [Dec 22, Jan 21): the last three */
    assert_true(at(xc, 0, "visits_30d") == 3);
    assert_true(at(xc, 0, "days_since_visit") == 1);
    assert_true(at(xc, 0, "fav_share") == 0.5);
    /* u2: nothing before */
    assert_true(isnan(at(xc, 1, "recency_days")));
    assert_true(at(xc, 1, "orders_before") == 0 && at(xc, 1, "orders_30d") == 0);
    assert_true(isnan(at(xc, 1, "monetary_mean")) && isnan(at(xc, 1, "fav_category")));
    assert_true(at(xc, 1, "visits_30d") == 0 && isnan(at(xc, 1, "fav_share")));
    /* P(alive): the fit's posterior of u1's x = 1 (2 distinct days), t_x = 10, T = 20 */
    assert_true(in->fit_customers > 350);
    if (!in->alive_used) fail_msg("BG/NBD not used: %s", in->note);
    double pa = oq_bgnbd_p_alive(&in->fit.p, 1, 10, 20);
    assert_true(fabs(at(xc, 0, "p_alive") - pa) < 1e-12);
    assert_true(at(xc, 1, "p_alive") == 1);
    /* the customers as of a later day see the Feb 1 order */
    oq_customers *now = NULL;
    oq_error err = {0};
    int32_t feb2;
    assert_int_equal(oq_date_parse("2025-02-02", 10, &feb2), 0);
    assert_int_equal(oq_rawfeat_customers(rf, cust, feb2, &now, &err), 0);
    assert_int_equal(oq_customers_find(now, "u2"), 1);
    assert_true(at(now, 0, "recency_days") == 1 && at(now, 0, "orders_before") == 4);
    assert_true(at(now, 0, "monetary_mean") == 40);
    /* in the 30 days [Jan 3, Feb 2): Jan 11 and Feb 1, not the two of Jan 1 */
    assert_true(at(now, 0, "orders_30d") == 2);
    /* A and B tie at 2: the first in sorted order */
    assert_string_equal(now->levels[fc][(size_t)at(now, 0, "fav_category")], "A");
    /* no look-ahead: another value for the order after the contact changes nothing */
    oq_customers *xc2, *cust2;
    oq_contacts *ct2;
    oq_offers *of2;
    oq_rawfeat *rf2;
    oq_txtab *o2, *e2;
    build("99999", &xc2, &ct2, &cust2, &of2, &rf2, &o2, &e2);
    assert_memory_equal(xc->x, xc2->x, xc->n * xc->nattr * sizeof *xc->x);
    oq_customers_free(now);
    oq_customers_free(xc2);
    oq_customers_free(cust2);
    oq_contacts_free(ct2);
    oq_offers_free(of2);
    oq_rawfeat_free(rf2);
    oq_txtab_free(o2);
    oq_txtab_free(e2);
    oq_customers_free(xc);
    oq_customers_free(cust);
    oq_contacts_free(ct);
    oq_offers_free(of);
    oq_rawfeat_free(rf);
    oq_txtab_free(ords);
    oq_txtab_free(evs);
}

/* Without orders: no BG/NBD, said; without dates: refused. */
static void test_no_orders(void **st)
{
    (void)st;
    oq_error err = {0};
    oq_rawfeat *rf = NULL;
    const char *pe = put("ev.csv", "user_id,date,category\nu1,2025-01-01,A\n");
    oq_txtab *evs = NULL;
    assert_int_equal(oq_events_table_read(pe, NULL, &evs, &err), 0);
    assert_int_equal(oq_rawfeat_new(NULL, evs, 0, 7, &rf, &err), 0);
    const oq_rawfeat_info *in = oq_rawfeat_info_get(rf);
    assert_false(in->alive_used);
    assert_non_null(strstr(in->note, "no orders: no BG/NBD, P(alive) not used"));
    const char *pf = put("of.csv", "offer,redeem_cost,contact_cost\nnone,0,0\npct,1,0\n");
    const char *pc = put("c.csv", "user_id,offer,ordered,value\nu1,pct,1,50\n");
    const char *pu = put("u.csv", "user_id,age\nu1,30\n");
    oq_offers *of = NULL;
    oq_contacts *ct = NULL;
    oq_customers *cust = NULL, *xc = NULL;
    assert_int_equal(oq_offers_read(pf, &of, &err), 0);
    assert_int_equal(oq_contacts_read(pc, NULL, of, &ct, &err), 0);
    assert_int_equal(oq_customers_read(pu, NULL, &cust, &err), 0);
    assert_int_equal(oq_rawfeat_contacts(rf, cust, ct, &xc, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "no date column"));
    assert_null(xc);
    oq_customers_free(cust);
    oq_contacts_free(ct);
    oq_offers_free(of);
    oq_rawfeat_free(rf);
    oq_txtab_free(evs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_no_orders),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
