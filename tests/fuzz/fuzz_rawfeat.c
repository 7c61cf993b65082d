/* fuzz_rawfeat.c - libFuzzer target: the features derived from a shop's
 * orders or events table (rawfeat.h) as of fixed and extreme days, for
 * three customers and four contacts. The first byte picks orders (bit 0
 * clear) or events (bit 0 set), and with bit 2 a fixed table of the other
 * kind as well (events for fuzzed orders, orders for fuzzed events), so that
 * the gross-profit model (browse_evidence, gross_value) runs on them, and
 * with bit 3 the tables hold the compact set (OQ_RAWFEAT_COMPACT); the
 * rest is the table, read by the readers that fuzz_rawtables.c fuzzes alone.
 * The features must be finite or missing (NaN), P(alive) and shares in
 * [0, 1], gross_value > 0 where present, text levels in range. Each
 * accepted table with enough customers reaches the BG/NBD fit, so this
 * target runs at tens to hundreds of inputs a second; the readers' own
 * target runs at thousands. */
#include "offerq/coupon/rawfeat.h"
#include "fuzz_txtab.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* the companion tables of bit 2 of the first byte: user 2 orders on its contact day (2025-03-03,
 * day 20150) with an event that day, so that a margin can be estimated */
static const char comp_events[] = "user_id,date,category\n1,2025-01-05,A\n1,2025-01-10,A\n"
                                  "2,2025-03-03,B\nu1,2025-02-01,A\n2,2025-03-01,C\n";
static const char comp_orders[] = "user_id,date,value,category\n1,2025-01-10,10,A\n"
                                  "2,2025-03-03,8,\nu1,2025-02-01,-3,B\n";

static void derive(const oq_txtab *t, int orders, int both, int compact)
{
    static const char cust_csv[] = "user_id,age\n1,30\n2,\nu1,7\n";
    oq_error err = {0};
    oq_customers *cust = NULL, *xc = NULL, *now = NULL;
    oq_rawfeat *rf = NULL;
    if (oq_customers_read(fuzz_file(cust_csv, sizeof cust_csv - 1), NULL, &cust, &err)) abort();
    static char u1[] = "1", u2[] = "2", u3[] = "u1";
    char *users[4] = {u1, u2, u3, u1};
    long line[4] = {2, 3, 4, 5};
    int32_t date[4] = {20100, 20150, 20150, INT32_MAX / 2};
    int offer[4] = {0, 1, 0, 1};
    uint8_t ordered[4] = {0, 1, 1, 0};
    double value[4] = {0, 5, 7, 0};
    oq_contacts ct = {.n = 4,
                      .user = users,
                      .line = line,
                      .date = date,
                      .offer = offer,
                      .ordered = ordered,
                      .value = value,
                      .user_col = 1};
    oq_txtab *other = NULL;
    if (both && (orders ? oq_events_table_read(fuzz_file(comp_events, sizeof comp_events - 1), NULL,
                                               &other, &err)
                        : oq_orders_table_read(fuzz_file(comp_orders, sizeof comp_orders - 1), NULL,
                                               &other, &err)))
        abort();
    if (oq_rawfeat_new2(orders ? t : other, orders ? other : t, &ct, NULL, 0, 20120, 30, &rf, &err))
        abort();
    if (compact && oq_rawfeat_set_features(rf, OQ_RAWFEAT_COMPACT)) abort();
    if (oq_rawfeat_contacts(rf, cust, &ct, &xc, &err)) abort();
    if (oq_rawfeat_customers(rf, cust, INT32_MIN / 2, &now, &err)) abort();
    const oq_customers *tabs[2] = {xc, now};
    for (int k = 0; k < 2; k++)
        for (size_t a = 0; a < tabs[k]->nattr; a++)
            for (size_t i = 0; i < tabs[k]->n; i++) {
                double v = tabs[k]->x[i * tabs[k]->nattr + a];
                const char *nm = tabs[k]->attr[a];
                if (isinf(v)) abort();
                if ((!strcmp(nm, "p_alive") || !strcmp(nm, "fav_share")) && !isnan(v) &&
                    !(v >= 0 && v <= 1))
                    abort();
                if (!strcmp(nm, "gross_value") && !isnan(v) && !(v > 0)) abort();
                if (!strcmp(nm, "browse_evidence") && isnan(v)) abort();
                if (tabs[k]->is_text[a] && !isnan(v) &&
                    !(v >= 0 && v < (double)tabs[k]->nlevels[a]))
                    abort();
            }
    free(ct.xrow);
    oq_customers_free(xc);
    oq_customers_free(now);
    oq_customers_free(cust);
    oq_rawfeat_free(rf);
    oq_txtab_free(other);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int orders = 0;
    oq_txtab *t = fuzz_read_txtab(data, size, &orders);
    if (!t) return 0;
    derive(t, orders, (data[0] & 4) != 0, (data[0] & 8) != 0);
    oq_txtab_free(t);
    return 0;
}
