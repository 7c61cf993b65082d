/* rng.c - xoshiro256** as a gsl_rng_type. */
#include "offerq/core/rng.h"

typedef struct xo_state {
    uint64_t s[4];
} xo_state;

uint64_t oq_mix64(uint64_t x)
{
    x += 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    return x ^ (x >> 31);
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static inline uint64_t next(xo_state *st)
{
    uint64_t *s = st->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

static void xo_set(void *vs, unsigned long seed)
{
    xo_state *st = vs;
    uint64_t x = (uint64_t)seed;
    for (int i = 0; i < 4; i++) {
        x = oq_mix64(x);
        st->s[i] = x;
    }
    if (!(st->s[0] | st->s[1] | st->s[2] | st->s[3])) st->s[0] = 1;
}

static unsigned long xo_get(void *vs)
{
    return (unsigned long)(next(vs) >> 32);
}

static double xo_get_double(void *vs)
{
    return (double)(next(vs) >> 11) * 0x1.0p-53;
}

static const gsl_rng_type xo_type = {"xoshiro256**", 0xffffffffUL,  0, sizeof(xo_state), &xo_set,
                                     &xo_get,        &xo_get_double};

void oq_rng_seed(gsl_rng *r, uint64_t seed, uint64_t stream)
{
    gsl_rng_set(r, (unsigned long)oq_mix64(seed ^ oq_mix64(stream + 0x632BE59BD9B4E019ull)));
}

gsl_rng *oq_rng_new(uint64_t seed, uint64_t stream)
{
    gsl_rng *r = gsl_rng_alloc(&xo_type);
    if (r) oq_rng_seed(r, seed, stream);
    return r;
}
