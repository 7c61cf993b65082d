/* fuzz_events.c - libFuzzer target: the events-stream reader. */
#include "offerq/core/data.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_dict cats = {0};
    oq_events *ev = NULL;
    oq_error err = {0};
    int rc = oq_events_read_mem("fuzz.csv", (const char *)data, size, &cats, &ev, &err);
    if (rc == 0) {
        for (size_t i = 0; i < ev->n; i++)
            if (ev->category[i] >= cats.n) abort();
    } else if (ev != NULL || err.msg[0] == 0) {
        abort();
    }
    oq_events_free(ev);
    oq_dict_clear(&cats);
    return 0;
}
