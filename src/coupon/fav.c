/* fav.c - the likelihood fit of the favourite-category filter's drift,
 * concentration and weight over a grid (fav_int.h; gross.h step 5), shared
 * by the log path (gross.c) and the raw tables' path (rawfeat.c). */
#include "fav_int.h"
#include "offerq/core/comm.h"

#include <stdlib.h>

static const double fav_drifts[OQ_GROSS_NDRIFT] = OQ_GROSS_DRIFTS;
static const double fav_concs[OQ_GROSS_NCONC] = OQ_GROSS_CONCS;

/* Whether customer c is in the fit's sample: all when stride is 1 or
 * without ids, else those whose id hashes to 0 mod stride. */
static int fav_sampled(const fav_data *d, size_t c)
{
    return !d->id || d->stride <= 1 ||
           (((uint64_t)d->id[c] * 0x9E3779B97F4A7C15ULL) >> 32) % d->stride == 0;
}

/* One (drift, conc): pi of the order's category just before each
 * known-category order's day of the sampled customers (rec (orders); -1 for
 * the others). */
static void fav_record(const fav_data *d, size_t K, double drift, double conc, double *rec)
{
    long nc = (long)d->nc;
    favp p;
    favp_init(&p, K, drift, conc);
#pragma omp parallel for schedule(dynamic, 256)
    for (long c = 0; c < nc; c++) {
        fav s;
        fav_init(&s, &p);
        size_t e = d->elo[c];
        int in = fav_sampled(d, (size_t)c);
        for (size_t j = d->olo[c]; j < d->olo[c + 1]; j++) {
            rec[j] = -1;
            if (d->ocat[j] < 0 || !in) continue;
            for (; e < d->ehi[c] && d->eday[d->eord ? d->eord[e] : e] < d->oday[j]; e++) {
                size_t x = d->eord ? d->eord[e] : e;
                int32_t k = fav_data_ecat(d, x);
                if (k >= 0) fav_observe(&s, d->eday[x], k, &p);
            }
            fav_move(&s, d->oday[j], &p);
            rec[j] = fav_pi(&s, d->ocat[j]);
        }
    }
}

int oq_fav_fit_grid(const fav_data *d, size_t K, const double *pop, oq_comm *comm,
                    double grid[OQ_GROSS_NDRIFT][OQ_GROSS_NCONC][OQ_GROSS_NALPHA], double *drift,
                    double *conc, double *alpha, double *loglik, oq_error *err)
{
    size_t n = d->olo[d->nc];
    double *rec = malloc((n ? n : 1) * sizeof *rec);
    /* the alpha sums in fixed chunks of orders, added in chunk order: the
       same result whatever the number of threads */
    enum { CH = 4096 };
    size_t nch = (n + CH - 1) / CH;
    double *part = malloc((nch ? nch : 1) * OQ_GROSS_NALPHA * sizeof *part);
    double best = -INFINITY;
    int rc = 0;
    if (!rec || !part) {
        rc = oq_error_oom(err, NULL, NULL);
        goto done;
    }
    for (int di = 0; di < OQ_GROSS_NDRIFT; di++)
        for (int ci = 0; ci < OQ_GROSS_NCONC; ci++) {
            fav_record(d, K, fav_drifts[di], fav_concs[ci], rec);
            long nchl = (long)nch;
#pragma omp parallel for schedule(static)
            for (long b = 0; b < nchl; b++) {
                double *pp = part + (size_t)b * OQ_GROSS_NALPHA;
                for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++)
                    pp[ai] = 0;
                size_t j1 = ((size_t)b + 1) * CH < n ? ((size_t)b + 1) * CH : n;
                for (size_t j = (size_t)b * CH; j < j1; j++) {
                    if (rec[j] < 0) continue;
                    double pk = pop[d->ocat[j]];
                    for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++) {
                        double al = (ai + 1) / 10.0;
                        pp[ai] += log(al * rec[j] + (1 - al) * pk);
                    }
                }
            }
            /* this part's sums (its chunks in order), then the parts' in rank order */
            double lla[OQ_GROSS_NALPHA];
            for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++) {
                lla[ai] = 0;
                for (size_t b = 0; b < nch; b++)
                    lla[ai] += part[b * OQ_GROSS_NALPHA + (size_t)ai];
            }
            if ((rc = oq_comm_sum(comm, lla, OQ_GROSS_NALPHA, err))) goto done;
            for (int ai = 0; ai < OQ_GROSS_NALPHA; ai++) {
                double al = (ai + 1) / 10.0, ll = lla[ai];
                if (grid) grid[di][ci][ai] = ll;
                if (ll > best) {
                    best = ll;
                    *drift = fav_drifts[di];
                    *conc = fav_concs[ci];
                    *alpha = al;
                }
            }
        }
    *loglik = best;
done:
    free(part);
    free(rec);
    return rc;
}
