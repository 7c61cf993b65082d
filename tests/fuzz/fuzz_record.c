/* fuzz_record.c - libFuzzer target: the readers of `offerq record`
 * (record.h). The first byte picks, by bit 0: (0) the input is a run's
 * recommendations (oq_record_read), then its outcomes from fixed orders;
 * (1) the input is a contacts file to append to (oq_record_check_append)
 * and a --contacted file (oq_record_keep), against a fixed run. Accepted
 * input must hold what the readers promise: at least one row, unique users,
 * propensities in (0, 1], ordered 0/1 with value 0 when 0, kept rows a
 * subset of the run's. */
#include "offerq/core/tables.h"
#include "offerq/coupon/record.h"
#include "util/num.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char RUN[] = "user_id,offer,propensity\n1,none,0.95\n2,5,0.0125\n\"u,3\",10,1\n";
static const char ORDERS[] = "user_id,date,value\n1,2025-03-01,2.5\n2,2025-02-28,1\n"
                             "\"u,3\",2025-03-01,-1\n1,2025-03-01,0.5\nzz,2025-03-01,3\n";

static void check(const oq_record *r)
{
    if (r->n == 0) abort();
    for (size_t i = 0; i < r->n; i++) {
        double p;
        if (!r->user[i][0] || !r->offer[i][0]) abort();
        if (oq_parse_f64(r->propensity[i], strlen(r->propensity[i]), &p) || !(p > 0 && p <= 1))
            abort();
        for (size_t j = 0; j < i && j < 64; j++)
            if (!strcmp(r->user[i], r->user[j])) abort();
        if (r->ordered[i] > 1 || (!r->ordered[i] && r->value[i] != 0)) abort();
    }
}

static void outcomes(oq_record *r)
{
    oq_error err = {0};
    oq_txtab *o = NULL;
    if (oq_orders_table_read(fuzz_file(ORDERS, sizeof ORDERS - 1), NULL, &o, &err)) abort();
    if (oq_record_outcomes(r, o, 20148 /* 2025-03-01 */, 1, &err)) abort();
    if (r->orders_used + r->orders_else != o->n) abort();
    check(r);
    oq_txtab_free(o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) return 0;
    oq_error err = {0};
    oq_record *r = NULL;
    if (!(data[0] & 1)) {
        int rc = oq_record_read(fuzz_file(data + 1, size - 1), &r, &err);
        fuzz_check_rejection(rc, &err);
        if (rc) {
            if (r) abort();
            return 0;
        }
        outcomes(r);
        oq_record_free(r);
        return 0;
    }
    if (oq_record_read(fuzz_file(RUN, sizeof RUN - 1), &r, &err)) abort();
    outcomes(r);
    const char *path = fuzz_file(data + 1, size - 1);
    int rc = oq_record_check_append(r, path, &err);
    fuzz_check_rejection(rc, &err);
    memset(&err, 0, sizeof err);
    size_t n = r->n;
    rc = oq_record_keep(r, path, NULL, &err);
    fuzz_check_rejection(rc, &err);
    if (rc ? r->n != n : r->n > n) abort();
    if (r->n) check(r);
    oq_record_free(r);
    return 0;
}
