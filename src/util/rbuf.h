/* rbuf.h - a bounds-checked little-endian reader over a byte buffer, for
 * the model and table file loaders (private to the offerq libraries). A read past the end
 * sets `bad` and returns NULL / 0; every later read fails too, so a loader
 * checks `bad` once after a group of reads. */
#ifndef OQ_UTIL_RBUF_H
#define OQ_UTIL_RBUF_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

typedef struct oq_rbuf {
    const unsigned char *p;
    size_t len, pos; /* bytes readable, bytes read */
    int bad;         /* a read went past len */
} oq_rbuf;

static inline const unsigned char *oq_rb_take(oq_rbuf *r, size_t n)
{
    if (r->bad || n > r->len - r->pos) {
        r->bad = 1;
        return NULL;
    }
    const unsigned char *q = r->p + r->pos;
    r->pos += n;
    return q;
}

static inline uint32_t oq_rb_u32(oq_rbuf *r)
{
    const unsigned char *b = oq_rb_take(r, 4);
    return b ? (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24
             : 0;
}

static inline uint64_t oq_rb_u64(oq_rbuf *r)
{
    uint64_t lo = oq_rb_u32(r);
    return lo | (uint64_t)oq_rb_u32(r) << 32;
}

static inline float oq_rb_f32(oq_rbuf *r)
{
    uint32_t u = oq_rb_u32(r);
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static inline double oq_rb_f64(oq_rbuf *r)
{
    uint64_t u = oq_rb_u64(r);
    double d;
    memcpy(&d, &u, 8);
    return d;
}

#endif
