/* test_rawfeat.c - features of raw orders and events as of each contact's
 * date (rawfeat.h): values worked out by hand from a small shop, nothing
 * after the contact's date used, P(alive) the BG/NBD posterior of the
 * contact's own (x, t_x, T). */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/coupon/gross.h"
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

/* Frees what build() and filter_shop() hand back. */
static void shop_free(oq_customers *xc, oq_contacts *ct, oq_customers *cust, oq_offers *of,
                      oq_rawfeat *rf, oq_txtab *ords, oq_txtab *evs)
{
    oq_customers_free(xc);
    oq_customers_free(cust);
    oq_contacts_free(ct);
    oq_offers_free(of);
    oq_rawfeat_free(rf);
    oq_txtab_free(ords);
    oq_txtab_free(evs);
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
    /* the compact set: the full set's columns less the five repeats, the
       same values (the contacts' table and the customers' as of a day) */
    const char *rest[OQ_RAWFEAT_MAX];
    assert_int_equal(oq_rawfeat_names(rf, 1, rest), 5);
    static const char *const five[5] = {"orders_before", "tenure_days", "days_since_visit",
                                        "fav_share", "browse_focus"};
    for (int k = 0; k < 5; k++)
        assert_string_equal(rest[k], five[k]);
    assert_int_equal(oq_rawfeat_set_features(rf, 7), -1);
    assert_int_equal(oq_rawfeat_set_features(rf, OQ_RAWFEAT_COMPACT), 0);
    oq_customers *xs[2] = {xc, now}, *cs[2] = {NULL, NULL};
    assert_int_equal(oq_rawfeat_contacts(rf, cust, ct, &cs[0], &err), 0);
    assert_int_equal(oq_rawfeat_customers(rf, cust, feb2, &cs[1], &err), 0);
    for (int t = 0; t < 2; t++) {
        assert_int_equal(cs[t]->nattr, xs[t]->nattr - 5);
        assert_int_equal(cs[t]->n, xs[t]->n);
        for (size_t k = 0; k < cs[t]->nattr; k++) {
            for (int j = 0; j < 5; j++)
                assert_string_not_equal(cs[t]->attr[k], five[j]);
            long f = col(xs[t], cs[t]->attr[k]);
            assert_int_equal(cs[t]->is_text[k], xs[t]->is_text[f]);
            for (size_t i = 0; i < cs[t]->n; i++) {
                double a = cs[t]->x[i * cs[t]->nattr + k], b = xs[t]->x[i * xs[t]->nattr + f];
                assert_true(a == b || (isnan(a) && isnan(b)));
            }
        }
        oq_customers_free(cs[t]);
    }
    oq_customers_free(now);
    shop_free(xc2, ct2, cust2, of2, rf2, o2, e2);
    shop_free(xc, ct, cust, of, rf, ords, evs);
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

/* ---- the gross-profit model (browse_evidence, gross_value) ------------------------
 * A dense forward filter written out here (pi over all K categories, Bayes'
 * rule as in gross.h step 5), independent of the library's sparse one. */

static const double g_drifts[OQ_GROSS_NDRIFT] = OQ_GROSS_DRIFTS;
static const double g_concs[OQ_GROSS_NCONC] = OQ_GROSS_CONCS;

typedef struct dense {
    double pi[8];
    int K, has;
    int32_t last;
    double drift, conc;
} dense;

static void d_init(dense *s, int K, double drift, double conc)
{
    s->K = K;
    s->has = 0;
    s->drift = drift;
    s->conc = conc;
    for (int k = 0; k < K; k++)
        s->pi[k] = 1.0 / K;
}

static void d_move(dense *s, int32_t day)
{
    if (!s->has || day <= s->last) return;
    double keep = pow(1 - s->drift, day - s->last);
    for (int k = 0; k < s->K; k++)
        s->pi[k] = keep * s->pi[k] + (1 - keep) / s->K;
    s->last = day;
}

/* log P(event on e | earlier), then Bayes' rule */
static double d_observe(dense *s, int32_t day, int e)
{
    if (!s->has) {
        s->has = 1;
        s->last = day;
    }
    d_move(s, day);
    double bg = (1 - s->conc) / s->K, p = bg + s->conc * s->pi[e];
    for (int k = 0; k < s->K; k++)
        s->pi[k] *= (k == e ? s->conc : 0) + bg;
    for (int k = 0; k < s->K; k++)
        s->pi[k] /= p;
    return log(p);
}

typedef struct ev3 {
    const char *user;
    int day, cat; /* day of January 2025; category 0 A, 1 B, 2 C */
} ev3;

/* January 2025, day d */
static int32_t jan(int d)
{
    int32_t x;
    char b[11];
    snprintf(b, sizeof b, "2025-01-%02d", d);
    assert_int_equal(oq_date_parse(b, 10, &x), 0);
    return x;
}

/* the shop: events (the appended ones only with late), orders (u1's Jan 4
 * order without a category: its day's event, B), contacts c1..c6 ordering A
 * on Jan 5, u2 ordering C on Jan 3, u1, u2, u3 on Jan 6 */
static const ev3 shop_ev[] = {{"u1", 1, 0}, {"u1", 2, 0}, {"u1", 4, 1}, {"u1", 6, 0},
                              {"u2", 1, 2}, {"u2", 3, 2}, {"c1", 5, 0}, {"c2", 5, 0},
                              {"c3", 5, 0}, {"c4", 5, 0}, {"c5", 5, 0}, {"c6", 5, 0}};
static const ev3 shop_ord[] = {{"u1", 2, 0}, {"u1", 4, 1}, {"u2", 3, 2}, {"c1", 5, 0}, {"c2", 5, 0},
                               {"c3", 5, 0}, {"c4", 5, 0}, {"c5", 5, 0}, {"c6", 5, 0}};

static void filter_shop(int late, oq_customers **xc, oq_contacts **ct, oq_customers **cust,
                        oq_offers **of, oq_rawfeat **rf, oq_txtab **ords, oq_txtab **evs)
{
    oq_error err = {0};
    char ob[2048], eb[2048];
    size_t o = 0, e = 0;
    o += (size_t)snprintf(ob + o, sizeof ob - o, "user_id,date,value,category\n");
    for (size_t i = 0; i < sizeof shop_ord / sizeof *shop_ord; i++)
        o += (size_t)snprintf(ob + o, sizeof ob - o, "%s,2025-01-%02d,%zu,%s\n", shop_ord[i].user,
                              shop_ord[i].day, 10 + i,
                              i == 1 ? "" : (const char *[]){"A", "B", "C"}[shop_ord[i].cat]);
    e += (size_t)snprintf(eb + e, sizeof eb - e, "user_id,date,category\n");
    for (size_t i = 0; i < sizeof shop_ev / sizeof *shop_ev; i++)
        e += (size_t)snprintf(eb + e, sizeof eb - e, "%s,2025-01-%02d,%s\n", shop_ev[i].user,
                              shop_ev[i].day, (const char *[]){"A", "B", "C"}[shop_ev[i].cat]);
    if (late) { /* after every contact: changes no contact's features, nor the fit */
        o += (size_t)snprintf(ob + o, sizeof ob - o, "u1,2025-01-09,500,C\nu3,2025-01-20,5,C\n");
        e += (size_t)snprintf(
            eb + e, sizeof eb - e,
            "u1,2025-01-07,C\nu1,2025-01-08,C\nu1,2025-01-09,C\nu3,2025-01-19,B\n");
    }
    const char *po = put("fo.csv", ob), *pe = put("fe.csv", eb);
    const char *pf = put("fof.csv", "offer,redeem_cost,contact_cost\nnone,0,0\npct,1,0\n");
    const char *pc = put("fc.csv", "user_id,date,offer,ordered,value\n"
                                   "c1,2025-01-05,pct,1,2\nc2,2025-01-05,none,1,4\n"
                                   "c3,2025-01-05,pct,1,6\nc4,2025-01-05,none,1,8\n"
                                   "c5,2025-01-05,pct,1,10\nc6,2025-01-05,none,1,12\n"
                                   "u2,2025-01-03,pct,1,9\nu1,2025-01-06,none,0,0\n"
                                   "u2,2025-01-06,pct,0,0\nu3,2025-01-06,pct,0,0\n");
    const char *pu = put("fu.csv", "user_id\nc1\nc2\nc3\nc4\nc5\nc6\nu1\nu2\nu3\n");
    assert_int_equal(oq_offers_read(pf, of, &err), 0);
    assert_int_equal(oq_contacts_read(pc, NULL, *of, ct, &err), 0);
    assert_int_equal(oq_customers_read(pu, NULL, cust, &err), 0);
    if (oq_orders_table_read(po, NULL, ords, &err) || oq_events_table_read(pe, NULL, evs, &err))
        fail_msg("%s", err.msg);
    if (oq_rawfeat_new2(*ords, *evs, *ct, NULL, 0, jan(1), 30, rf, &err)) fail_msg("%s", err.msg);
    assert_int_equal(oq_rawfeat_contacts(*rf, *cust, *ct, xc, &err), 0);
}

/* The fit of the dense filter over the grid, as gross.h step 5 on the
 * shop's orders (categories: u1's Jan 4 order takes its day's event, B). */
static void dense_fit(const double *pop, double *drift, double *conc, double *alpha, double *ll)
{
    double best = -INFINITY;
    for (int di = 0; di < OQ_GROSS_NDRIFT; di++)
        for (int ci = 0; ci < OQ_GROSS_NCONC; ci++)
            for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++) {
                double al = (ai + 1) / 10.0, sum = 0;
                for (size_t j = 0; j < sizeof shop_ord / sizeof *shop_ord; j++) {
                    dense s;
                    d_init(&s, 3, g_drifts[di], g_concs[ci]);
                    for (size_t i = 0; i < sizeof shop_ev / sizeof *shop_ev; i++)
                        if (!strcmp(shop_ev[i].user, shop_ord[j].user) &&
                            shop_ev[i].day < shop_ord[j].day)
                            d_observe(&s, shop_ev[i].day, shop_ev[i].cat);
                    d_move(&s, shop_ord[j].day);
                    int k = shop_ord[j].cat;
                    sum += log(al * s.pi[k] + (1 - al) * pop[k]);
                }
                if (sum > best + 1e-12) {
                    best = sum;
                    *drift = g_drifts[di];
                    *conc = g_concs[ci];
                    *alpha = al;
                }
            }
    *ll = best;
}

/* browse_evidence, and gross_value by gross.h step 6 from the model's
 * fitted parts, of user on January day d: the dense filter, the user's
 * orders before d (category: its day's event, gross.h step 1) */
static void dense_features(const oq_gross *m, const char *user, int d, double *evid, double *g)
{
    dense hi, lo, f;
    d_init(&hi, 3, m->drift, OQ_GROSS_EVIDENCE_HI);
    d_init(&lo, 3, m->drift, OQ_GROSS_EVIDENCE_LO);
    d_init(&f, 3, m->drift, m->conc);
    *evid = 0;
    for (size_t i = 0; i < sizeof shop_ev / sizeof *shop_ev; i++)
        if (!strcmp(shop_ev[i].user, user) && shop_ev[i].day < d) {
            *evid += d_observe(&hi, shop_ev[i].day, shop_ev[i].cat) -
                     d_observe(&lo, shop_ev[i].day, shop_ev[i].cat);
            d_observe(&f, shop_ev[i].day, shop_ev[i].cat);
        }
    d_move(&f, d);
    double n = 0, dev = 0;
    for (size_t j = 0; j < sizeof shop_ord / sizeof *shop_ord; j++)
        if (!strcmp(shop_ord[j].user, user) && shop_ord[j].day < d) {
            n++;
            dev += log(10.0 + (double)j) - m->b[shop_ord[j].cat];
        }
    double P = 1 / m->sa2 + n / m->se2;
    double mu = n ? (m->m0 / m->sa2 + dev / m->se2) / P : m->m0, pv = n ? 1 / P : m->sa2;
    double S = 0;
    for (int k = 0; k < 3; k++)
        S += f.pi[k] * exp(m->b[k]) * m->margin[k];
    double pf = 0;
    for (int k = 0; k < 3; k++)
        pf += m->pop[k] * exp(m->b[k]) * m->margin[k];
    *g = exp(mu + pv / 2 + m->se2 / 2) * (m->alpha * S + (1 - m->alpha) * pf);
}

static void test_filter(void **st)
{
    (void)st;
    oq_customers *xc, *cust;
    oq_contacts *ct;
    oq_offers *of;
    oq_rawfeat *rf;
    oq_txtab *ords, *evs;
    filter_shop(0, &xc, &ct, &cust, &of, &rf, &ords, &evs);
    const oq_rawfeat_info *in = oq_rawfeat_info_get(rf);
    const oq_gross *m = oq_rawfeat_gross(rf);
    if (!in->filter_used) fail_msg("no gross model: %s", in->note);
    assert_non_null(m);
    assert_int_equal(in->filter_end, jan(7)); /* the day after the latest contact */
    /* 9 orders, all with a category (their day's event): A 7, B 1, C 1 */
    assert_int_equal(in->filter_orders, 9);
    const double pop[3] = {7.0 / 9, 1.0 / 9, 1.0 / 9};
    for (int k = 0; k < 3; k++)
        assert_true(fabs(m->pop[k] - pop[k]) < 1e-15);
    double drift = 0, conc = 0, alpha = 0, ll = 0;
    dense_fit(pop, &drift, &conc, &alpha, &ll);
    assert_true(fabs(in->filter_loglik - ll) < 1e-9);
    assert_true(in->drift == drift && in->conc == conc && in->alpha == alpha);
    /* margins (gross.h step 4) from the contacts that ordered: c1..c6 on
       Jan 5 (profits 2..12, 42, against their orders' values 13..18, 93),
       u2 on Jan 3 (9 against 12); C has 1 row < 5: the pooled 51 / 105 */
    assert_int_equal(in->margin_rows, 7);
    assert_true(fabs(m->margin[0] - 42.0 / 93) < 1e-15);
    assert_true(fabs(m->margin[2] - 51.0 / 105) < 1e-15);
    assert_true(fabs(m->margin[1] - 51.0 / 105) < 1e-15);
    /* rows 6..9: u2 on Jan 3, u1, u2, u3 on Jan 6 (u1's Jan 6 event is not
       before it; u3 has no events: evidence 0, the filter uniform, no
       orders: the level's prior) */
    const char *who[4] = {"u2", "u1", "u2", "u3"};
    const int when[4] = {3, 6, 6, 6};
    for (size_t i = 0; i < 4; i++) {
        double ev, g;
        dense_features(m, who[i], when[i], &ev, &g);
        assert_true(fabs(at(xc, 6 + i, "browse_evidence") - ev) < 1e-5); /* float */
        assert_true(fabs(at(xc, 6 + i, "gross_value") - g) < 1e-9 * g);
    }
    assert_true(at(xc, 9, "browse_evidence") == 0);
    /* u2 kept to C (evidence for the concentrated browser), u1 left A for B
       (against it) */
    assert_true(at(xc, 8, "browse_evidence") > 0 && at(xc, 7, "browse_evidence") < 0);
    /* no look-ahead: orders and events appended after the latest contact
       change neither the fit nor any contact's features */
    oq_customers *xc2, *cust2;
    oq_contacts *ct2;
    oq_offers *of2;
    oq_rawfeat *rf2;
    oq_txtab *o2, *e2;
    filter_shop(1, &xc2, &ct2, &cust2, &of2, &rf2, &o2, &e2);
    const oq_rawfeat_info *in2 = oq_rawfeat_info_get(rf2);
    assert_true(in2->drift == in->drift && in2->conc == in->conc && in2->alpha == in->alpha &&
                in2->filter_loglik == in->filter_loglik);
    assert_int_equal(xc2->nattr, xc->nattr);
    assert_memory_equal(xc->x, xc2->x, xc->n * xc->nattr * sizeof *xc->x);
    /* ... while the customers as of a later day see them (u1's C events and
       its Jan 9 order) */
    oq_customers *now = NULL, *now2 = NULL;
    oq_error err = {0};
    assert_int_equal(oq_rawfeat_customers(rf, cust, jan(20), &now, &err), 0);
    assert_int_equal(oq_rawfeat_customers(rf2, cust2, jan(20), &now2, &err), 0);
    long u1 = oq_customers_find(now, "u1");
    assert_true(at(now2, (size_t)u1, "gross_value") != at(now, (size_t)u1, "gross_value"));
    assert_true(at(now2, (size_t)u1, "browse_evidence") != at(now, (size_t)u1, "browse_evidence"));
    oq_customers_free(now);
    oq_customers_free(now2);
    shop_free(xc2, ct2, cust2, of2, rf2, o2, e2);
    shop_free(xc, ct, cust, of, rf, ords, evs);
}

/* Without events, or without any order category (no column, no events):
 * the filter's features are absent, not zeros. */
static void test_filter_absent(void **st)
{
    (void)st;
    oq_error err = {0};
    const char *po = put("ao.csv", "user_id,date,value,category\nu1,2025-01-02,10,A\n");
    const char *pe = put("ae.csv", "user_id,date,category\nu1,2025-01-01,A\n");
    oq_txtab *ords = NULL, *evs = NULL;
    assert_int_equal(oq_orders_table_read(po, NULL, &ords, &err), 0);
    assert_int_equal(oq_events_table_read(pe, NULL, &evs, &err), 0);
    oq_rawfeat *rf = NULL;
    /* orders with a category but no events */
    assert_int_equal(oq_rawfeat_new(ords, NULL, jan(1), 30, &rf, &err), 0);
    assert_false(oq_rawfeat_info_get(rf)->filter_used);
    oq_rawfeat_free(rf);
    /* events but no orders */
    assert_int_equal(oq_rawfeat_new(NULL, evs, jan(1), 30, &rf, &err), 0);
    assert_false(oq_rawfeat_info_get(rf)->filter_used);
    oq_rawfeat_free(rf);
    /* both, no contacts: no ordered contact to give the margins, so no model
       (said) */
    assert_int_equal(oq_rawfeat_new(ords, evs, jan(1), 30, &rf, &err), 0);
    assert_false(oq_rawfeat_info_get(rf)->filter_used);
    assert_null(oq_rawfeat_gross(rf));
    assert_non_null(strstr(oq_rawfeat_info_get(rf)->note, "no margin"));
    assert_int_equal(oq_rawfeat_info_get(rf)->filter_end, INT32_MAX);
    oq_rawfeat_free(rf);
    oq_txtab_free(ords);
    /* orders without a category column, events on other days: no order has
       a category, so no filter (said in the note) */
    po = put("ao2.csv", "user_id,date,value\nu1,2025-01-02,10\n");
    assert_int_equal(oq_orders_table_read(po, NULL, &ords, &err), 0);
    assert_int_equal(oq_rawfeat_new(ords, evs, jan(1), 30, &rf, &err), 0);
    assert_false(oq_rawfeat_info_get(rf)->filter_used);
    assert_non_null(
        strstr(oq_rawfeat_info_get(rf)->note, "browse_evidence and gross_value not used"));
    const char *pu = put("au.csv", "user_id\nu1\n");
    oq_customers *cust = NULL, *now = NULL;
    assert_int_equal(oq_customers_read(pu, NULL, &cust, &err), 0);
    assert_int_equal(oq_rawfeat_customers(rf, cust, jan(5), &now, &err), 0);
    for (size_t k = 0; k < now->nattr; k++)
        assert_true(strcmp(now->attr[k], "browse_evidence") && strcmp(now->attr[k], "gross_value"));
    oq_customers_free(now);
    oq_customers_free(cust);
    oq_rawfeat_free(rf);
    oq_txtab_free(ords);
    oq_txtab_free(evs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_features),
        cmocka_unit_test(test_no_orders),
        cmocka_unit_test(test_filter),
        cmocka_unit_test(test_filter_absent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
