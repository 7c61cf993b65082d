/* fuzz_rock.c - libFuzzer target: the ROCK categorical CSV reader (rock.h).
 * The first byte picks the label column (none, "class", or a missing name);
 * accepted records hold known item/label ids, and small inputs (<= 32
 * records: the clustering is quadratic and dominated the run time at 64) are
 * clustered (every point gets a cluster in 0..n_clusters, sizes add up). */
#include "offerq/xsell/rock.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1) return 0;
    static const char *labels[] = {NULL, "class", "no-such-column", ""};
    const char *label = labels[data[0] & 3];
    oq_rock_records *r = NULL;
    oq_error err = {0};
    int rc = oq_rock_read_csv_mem("fuzz.csv", (const char *)data + 1, size - 1, label, &r, &err);
    fuzz_check_rejection(rc, &err);
    if (rc) {
        if (r) abort();
        return 0;
    }
    if (r->off[0] != 0 || r->off[r->n] != r->nnz) abort();
    for (size_t i = 0; i < r->n; i++) {
        if (r->off[i] > r->off[i + 1]) abort();
        for (uint64_t k = r->off[i]; k < r->off[i + 1]; k++) {
            if (r->item[k] >= r->items.n) abort();
            if (k > r->off[i] && r->item[k] <= r->item[k - 1]) abort();
        }
        for (uint32_t a = 0; r->value && a < r->n_attr; a++) {
            uint32_t v = r->value[i * r->n_attr + a];
            if (v != OQ_ROCK_MISSING && v >= r->items.n) abort();
        }
        if (r->label && r->label[i] >= r->labels.n) abort();
    }
    if (r->n >= 1 && r->n <= 32) {
        oq_rock_params p;
        oq_rock_params_default(&p);
        p.theta = 0.4;
        p.k = 1 + (data[0] >> 2) % 4;
        p.pairwise_missing = (data[0] >> 4) & 1;
        oq_rock_result *res = NULL;
        rc = oq_rock_cluster(r, &p, &res, &err);
        fuzz_check_rejection(rc, &err);
        if (rc == 0) {
            size_t tot = 0;
            for (size_t c = 0; c <= res->n_clusters; c++)
                tot += res->size[c];
            if (tot != r->n) abort();
            for (size_t i = 0; i < r->n; i++)
                if (res->cluster[i] > res->n_clusters) abort();
        }
        oq_rock_result_free(res);
    }
    oq_rock_records_free(r);
    return 0;
}
