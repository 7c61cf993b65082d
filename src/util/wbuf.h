/* wbuf.h - a little-endian byte writer into a growing buffer, for the model
 * and table file writers (private to the offerq libraries; rbuf.h reads
 * back what it writes). An allocation that fails, or a size past max, sets
 * `bad`; every later append is then a no-op, so a writer checks `bad` once
 * before it writes the buffer out. The caller frees `p` (oq_wb_free).
 *
 *     oq_wbuf w = {0};
 *     oq_wb_bytes(&w, MAGIC, 8);
 *     oq_wb_u32(&w, VERSION);
 *     ...
 *     oq_wb_crc32(&w);               // CRC-32 of everything before it
 *     if (w.bad) -> out of memory; else oq_write_file_atomic(path, w.p, w.n)
 */
#ifndef OQ_UTIL_WBUF_H
#define OQ_UTIL_WBUF_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "offerq/core/io.h"

typedef struct oq_wbuf {
    unsigned char *p;
    size_t n, cap; /* bytes written, bytes allocated */
    size_t max;    /* refuse to grow past this many bytes; 0 means SIZE_MAX / 2 */
    int bad;       /* an append failed: out of memory or past max */
} oq_wbuf;

/* Make room for n more bytes; 0, or -1 with bad set. */
static inline int oq_wb_reserve(oq_wbuf *w, size_t n)
{
    if (w->bad) return -1;
    size_t max = w->max ? w->max : SIZE_MAX / 2;
    if (n > max - w->n) {
        w->bad = 1;
        return -1;
    }
    if (w->n + n <= w->cap) return 0;
    size_t cap = w->cap ? w->cap : (max < 4096 ? max : 4096);
    while (cap < w->n + n)
        cap = cap > max / 2 ? max : cap * 2;
    unsigned char *p = realloc(w->p, cap);
    if (!p) {
        w->bad = 1;
        return -1;
    }
    w->p = p;
    w->cap = cap;
    return 0;
}

static inline void oq_wb_bytes(oq_wbuf *w, const void *src, size_t n)
{
    if (n == 0 || oq_wb_reserve(w, n)) return;
    memcpy(w->p + w->n, src, n);
    w->n += n;
}

static inline void oq_wb_u8(oq_wbuf *w, uint8_t v)
{
    oq_wb_bytes(w, &v, 1);
}

static inline void oq_wb_u16(oq_wbuf *w, uint16_t v)
{
    unsigned char b[2] = {(unsigned char)v, (unsigned char)(v >> 8)};
    oq_wb_bytes(w, b, 2);
}

static inline void oq_wb_u32(oq_wbuf *w, uint32_t v)
{
    unsigned char b[4] = {(unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 24)};
    oq_wb_bytes(w, b, 4);
}

static inline void oq_wb_u64(oq_wbuf *w, uint64_t v)
{
    oq_wb_u32(w, (uint32_t)v);
    oq_wb_u32(w, (uint32_t)(v >> 32));
}

static inline void oq_wb_f32(oq_wbuf *w, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    oq_wb_u32(w, u);
}

static inline void oq_wb_f64(oq_wbuf *w, double d)
{
    uint64_t u;
    memcpy(&u, &d, 8);
    oq_wb_u64(w, u);
}

/* Append the CRC-32 (oq_crc32) of every byte written so far: the checksum
 * that ends each offerq binary file. */
static inline void oq_wb_crc32(oq_wbuf *w)
{
    if (!w->bad) oq_wb_u32(w, oq_crc32(0, w->p, w->n));
}

static inline void oq_wb_free(oq_wbuf *w)
{
    free(w->p);
    w->p = NULL;
    w->n = w->cap = 0;
}

#endif
