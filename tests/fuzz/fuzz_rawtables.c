/* fuzz_rawtables.c - libFuzzer target: the readers of a shop's orders and
 * events (tables.h, oq_orders_table_read / oq_events_table_read). The first
 * byte picks orders (bit 0 clear) or events (bit 0 set); the rest is the
 * file. Accepted tables must hold only what the readers promise, a refusal
 * must name where and leave no table. The features derived from accepted
 * tables are fuzzed by fuzz_rawfeat.c (slower: it reaches the BG/NBD fit). */
#include "fuzz_txtab.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int orders = 0;
    oq_txtab *t = fuzz_read_txtab(data, size, &orders);
    if (!t) return 0;
    oq_txtab_free(t);
    return 0;
}
