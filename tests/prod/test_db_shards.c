/* test_db_shards.c - the PostgreSQL shard list (db.h, issue 20 item 3) without a
 * server: how a --pg argument is cut into servers, and offerq's shard of a
 * customer (comm.h, the server a row goes to) against tools/shard_of.py,
 * splitmix64 written again in Python (values below are its output, as data).
 * The servers themselves are tests/cli/cli_pg_shards.sh. */
#include "testutil.h"
#include "offerq/core/comm.h"
#include "offerq/prod/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void test_shard_count(void **st)
{
    (void)st;
    static const struct {
        const char *spec;
        int n;
    } cases[] = {
        {"postgresql://offerq@127.0.0.1:5432/offerq", 1},
        /* a URI's own multi-host list is one server */
        {"postgresql://h1:5432,h2:5433/offerq?target_session_attrs=any", 1},
        {"postgresql://a/db,postgresql://b/db", 2},
        {"postgresql://a/db, postgres://b/db  postgresql://c/db", 3},
        {"postgresql://a/db,,postgresql://b/db,", 2},
        /* keyword/value strings: blanks are theirs; newlines separate */
        {"host=/tmp port=5433 dbname=offerq", 1},
        {"host=/tmp port=5433\nhost=/tmp port=5434\n", 2},
        {"  postgresql://a/db  ", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        oq_error err = {0};
        int n = oq_db_shard_count(cases[i].spec, &err);
        if (n != cases[i].n) fprintf(stderr, "case %zu '%s': %d\n", i, cases[i].spec, n);
        assert_int_equal(n, cases[i].n);
    }
}

static void test_shard_count_errors(void **st)
{
    (void)st;
    oq_error err = {0};
    assert_int_equal(oq_db_shard_count("", &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "no PostgreSQL URL"));
    assert_int_equal(oq_db_shard_count(" \n , ", &err), 1); /* "," is a (bad) URL of its own */
    size_t cap = (OQ_DB_MAX_SHARDS + 1) * 24 + 1, o = 0;
    char *many = malloc(cap);
    assert_non_null(many);
    for (int k = 0; k <= OQ_DB_MAX_SHARDS; k++)
        o += (size_t)snprintf(many + o, cap - o, "%spostgresql://h%d/d", k ? "," : "", k);
    memset(&err, 0, sizeof err);
    assert_int_equal(oq_db_shard_count(many, &err), OQ_EINVAL);
    assert_non_null(strstr(err.msg, "more than 64 PostgreSQL URLs"));
    many[strrchr(many, ',') - many] = 0; /* exactly the maximum */
    assert_int_equal(oq_db_shard_count(many, &err), OQ_DB_MAX_SHARDS);
    free(many);
}

/* oq_shard_of(u, n) for n = 2, 3, 4, 7, 64: python3 tools/shard_of.py N */
static void test_shard_of_reference(void **st)
{
    (void)st;
    static const int ns[5] = {2, 3, 4, 7, 64};
    static const struct {
        int64_t u;
        unsigned want[5];
    } cases[] = {
        {0, {1, 1, 3, 2, 47}},         {1, {1, 2, 1, 2, 1}},          {2, {0, 1, 2, 4, 14}},
        {42, {1, 1, 1, 5, 21}},        {-1, {0, 2, 0, 0, 32}},        {INT64_MIN, {1, 1, 3, 6, 27}},
        {INT64_MAX, {1, 0, 3, 2, 39}}, {123456789, {1, 2, 1, 5, 57}},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++)
        for (int k = 0; k < 5; k++)
            assert_int_equal(oq_shard_of(cases[i].u, ns[k]), cases[i].want[k]);
    assert_int_equal(oq_shard_of(12345, 1), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shard_count),
        cmocka_unit_test(test_shard_count_errors),
        cmocka_unit_test(test_shard_of_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
