/* rng.h - deterministic random streams.
 *
 * xoshiro256** (Blackman & Vigna) exposed as a GSL generator type, so the
 * GSL samplers (gsl_ran_gamma, gsl_ran_beta, ...) draw from it. A stream is
 * named by (seed, stream id): customer i of a run uses stream i, so work on
 * one customer never depends on any other and can move to another machine.
 */
#ifndef OFFERQ_RNG_H
#define OFFERQ_RNG_H

#include <stdint.h>
#include <gsl/gsl_rng.h>

/* New generator on stream (seed, stream); NULL if out of memory.
 * Free with gsl_rng_free. */
gsl_rng *oq_rng_new(uint64_t seed, uint64_t stream);
/* Restart r on stream (seed, stream). */
void oq_rng_seed(gsl_rng *r, uint64_t seed, uint64_t stream);
/* splitmix64 finaliser: a well-mixed 64-bit hash. */
uint64_t oq_mix64(uint64_t x);

#endif
