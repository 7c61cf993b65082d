/* test_rcluster.c - the Redis Cluster client's pure parts (rcluster.h):
 * CRC16 against the cluster spec's test vector, key slots (hash tags
 * included) against a real Redis, the {prefix} hash tag of offerq's keys,
 * cluster URLs refused with their reason, and the password never shown.
 * Publishing and serving on a real cluster: tests/cli/cli_redis_cluster.sh. */
#include "testutil.h"
#include "offerq/prod/publish.h"
#include "offerq/prod/rcluster.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The Redis Cluster specification (cluster-spec, appendix A: "CRC16 reference
 * implementation"): the output for "123456789" is 0x31C3. */
static void test_crc16_spec_vector(void **state)
{
    (void)state;
    assert_int_equal(oq_redis_crc16("123456789", 9), 0x31C3);
    assert_int_equal(oq_redis_crc16("", 0), 0);
}

/* Slots printed by `redis-cli -p PORT cluster keyslot KEY` on Redis 7.0.15
 * (a 3-master cluster started by tests/cli/servers.sh rcluster_start). */
static const struct {
    const char *key;
    unsigned slot;
} slot_table[] = {
    {"123456789", 12739},
    {"offerq", 31},
    {"{offerq}:current", 31}, /* offerq's keys on a cluster: one slot */
    {"{offerq}:v:12:list", 31},
    {"offerq:current", 8530}, /* ... which the plain names would not share */
    {"ov:seq", 5483},
    {"foo", 12182},
    {"bar", 5061},
    {"user:1000", 1649},
    {"{user1000}.following", 3443}, /* the spec's own hash-tag example */
    {"{user1000}.followers", 3443},
    {"foo{}{bar}", 8363},    /* empty tag: the whole key is hashed */
    {"foo{{bar}}zap", 4015}, /* tag "{bar" */
    {"foo{bar}{zap}", 5061}, /* first tag only: "bar" */
    {"{}", 15257},
    {"{", 4092},
    {"}", 12090},
    {"a{b", 13340},
    {"x}{y}", 12222},
    {"caf\xc3\xa9", 5735}, /* bytes, not characters */
};

static void test_keyslot_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof slot_table / sizeof *slot_table; i++) {
        unsigned s = oq_redis_keyslot(slot_table[i].key, strlen(slot_table[i].key));
        if (s != slot_table[i].slot)
            fail_msg("slot of '%s': %u, Redis says %u", slot_table[i].key, s, slot_table[i].slot);
    }
}

static void test_key_prefix(void **state)
{
    (void)state;
    char b[64];
    /* no handle or a single server: unchanged (the single-node key names) */
    assert_string_equal(oq_redis_key_prefix(NULL, "offerq", b, sizeof b), "offerq");
    assert_string_equal(oq_redis_key_prefix(NULL, NULL, b, sizeof b), OQ_PUBLISH_PREFIX);
    assert_true(oq_redis_url_is_cluster("redis+cluster://127.0.0.1:7000"));
    assert_false(oq_redis_url_is_cluster("redis://127.0.0.1:7000"));
    assert_false(oq_redis_url_is_cluster("unix:/tmp/r.sock"));
}

static void expect_refused(const char *url, int code, const char *want)
{
    oq_redis *r = NULL;
    oq_error err = {0};
    int rc = oq_redis_open(url, 500, &r, &err);
    if (rc != code || !strstr(err.msg, want))
        fail_msg("%s: rc %d (want %d), message '%s' (want '%s')", url, rc, code, err.msg, want);
    assert_null(r);
    assert_null(strstr(err.msg, "s3cret")); /* the password is never shown */
}

static void test_bad_urls(void **state)
{
    (void)state;
    expect_refused("redis+cluster://", OQ_EINVAL, "names no node");
    expect_refused("redis+cluster://127.0.0.1:0", OQ_EINVAL, "bad port");
    expect_refused("redis+cluster://127.0.0.1:7000,127.0.0.1:99999", OQ_EINVAL, "(node 2)");
    expect_refused("redis+cluster://127.0.0.1:7000,:7001", OQ_EINVAL, "expected redis+cluster://");
    expect_refused("redis+cluster://127.0.0.1:7000/1", OQ_EINVAL, "only db 0");
    expect_refused("redis+cluster://u:%zz@127.0.0.1:7000", OQ_EINVAL, "bad user or password");
    expect_refused("rediss://127.0.0.1:7000", OQ_EINVAL, "redis+cluster://host:port");
    /* nothing listens on port 1: no seed answers, named, password hidden */
    expect_refused("redis+cluster://:s3cret@127.0.0.1:1", OQ_EIO, "127.0.0.1:1");
    expect_refused("redis+cluster://:s3cret@127.0.0.1:1", OQ_EIO, "cannot read the slot map of");
}

static void test_redact(void **state)
{
    (void)state;
    char b[256];
    oq_redis_url_redact("redis+cluster://app:s3cret@10.0.0.1:7000,10.0.0.2:7000", b, sizeof b);
    assert_string_equal(b, "redis+cluster://app:***@10.0.0.1:7000,10.0.0.2:7000");
    oq_redis_url_redact("redis+cluster://10.0.0.1:7000", b, sizeof b);
    assert_string_equal(b, "redis+cluster://10.0.0.1:7000");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_crc16_spec_vector),
        cmocka_unit_test(test_keyslot_table),
        cmocka_unit_test(test_key_prefix),
        cmocka_unit_test(test_bad_urls),
        cmocka_unit_test(test_redact),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
