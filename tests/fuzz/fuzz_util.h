/* fuzz_util.h - helpers shared by the libFuzzer targets (header-only, static).
 *
 * Readers that only take a path get the input through a memfd: the bytes live
 * in memory, the reader opens /proc/self/fd/N like any file, and nothing is
 * left on disk. */
#ifndef OQ_FUZZ_UTIL_H
#define OQ_FUZZ_UTIL_H

#include "offerq/core/error.h"
#include "offerq/core/io.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

/* The input as a file: a path valid until the next call. Aborts if the
 * kernel refuses (not a finding of the target). */
static inline const char *fuzz_file(const void *data, size_t size)
{
    static int fd = -1;
    static char path[64];
    if (fd < 0) {
        fd = (int)syscall(SYS_memfd_create, "offerq-fuzz", 0u);
        if (fd < 0) abort();
        snprintf(path, sizeof path, "/proc/self/fd/%d", fd);
    }
    if (ftruncate(fd, 0) != 0) abort();
    if (size && pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    return path;
}

/* A rejection must say why (and the caller checks that nothing was handed
 * back); an acceptance must leave no error message behind being required. */
static inline void fuzz_check_rejection(int rc, const oq_error *err)
{
    if (rc > 0) abort();                     /* errors are negative OQ_E* */
    if (rc < 0 && err->msg[0] == 0) abort(); /* ... and come with a message */
}

/* Binary formats end in a CRC-32 of everything before it, which random
 * bytes almost never match. When the first input byte is odd the target
 * appends the right CRC to data[1..size) so the fuzzer reaches the parser
 * behind the check; when even it passes data[1..size) as it is. Returns a
 * malloc'ed buffer (caller frees) and its length in *len. */
static inline unsigned char *fuzz_with_crc(const uint8_t *data, size_t size, size_t *len)
{
    unsigned char *buf = malloc(size + 4);
    if (!buf) abort();
    *len = 0;
    if (size == 0) return buf;
    memcpy(buf, data + 1, size - 1);
    *len = size - 1;
    if (data[0] & 1) {
        uint32_t crc = oq_crc32(0, buf, *len);
        for (int i = 0; i < 4; i++)
            buf[(*len)++] = (unsigned char)(crc >> (8 * i));
    }
    return buf;
}

#endif
