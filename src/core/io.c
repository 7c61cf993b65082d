/* io.c - atomic output files, whole-file reads, CRC-32, progress. */
#include "offerq/core/io.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int oq_afile_open(oq_afile *af, const char *path, oq_error *err)
{
    memset(af, 0, sizeof *af);
    if (snprintf(af->path, sizeof af->path, "%s", path) >= (int)sizeof af->path ||
        snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid()) >=
            (int)sizeof af->tmp)
        return oq_error_set(err, OQ_EINVAL, path, 0, 0, "path too long");
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp)
        return oq_error_set(err, OQ_EIO, path, 0, 0, "cannot create %s: %s", af->tmp,
                            strerror(errno));
    return 0;
}

int oq_afile_commit(oq_afile *af, oq_error *err)
{
    if (!af->fp) return oq_error_set(err, OQ_EIO, af->path, 0, 0, "file not open");
    int bad = ferror(af->fp);
    if (fflush(af->fp) != 0) bad = 1;
    if (!bad && fsync(fileno(af->fp)) != 0) bad = 1;
    int saved = errno;
    if (fclose(af->fp) != 0) bad = 1;
    af->fp = NULL;
    if (bad) {
        unlink(af->tmp);
        return oq_error_set(err, OQ_EIO, af->path, 0, 0, "write failed: %s", strerror(saved));
    }
    if (rename(af->tmp, af->path) != 0) {
        saved = errno;
        unlink(af->tmp);
        return oq_error_set(err, OQ_EIO, af->path, 0, 0, "rename failed: %s", strerror(saved));
    }
    return 0;
}

void oq_afile_abort(oq_afile *af)
{
    if (af->fp) {
        fclose(af->fp);
        af->fp = NULL;
        unlink(af->tmp);
    }
}

int oq_write_file_atomic(const char *path, const void *data, size_t len, oq_error *err)
{
    oq_afile af;
    int rc = oq_afile_open(&af, path, err);
    if (rc) return rc;
    if (len && fwrite(data, 1, len, af.fp) != len) {
        oq_afile_abort(&af);
        return oq_error_set(err, OQ_EIO, path, 0, 0, "write failed: %s", strerror(errno));
    }
    return oq_afile_commit(&af, err);
}

int oq_read_file(const char *path, size_t max_bytes, char **out, size_t *len, oq_error *err)
{
    *out = NULL;
    *len = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return oq_error_set(err, OQ_EIO, path, 0, 0, "cannot open: %s", strerror(errno));
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    int rc = 0;
    if (!buf) {
        rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
        goto cleanup;
    }
    for (;;) {
        if (n == cap) {
            if (cap >= max_bytes) {
                rc = oq_error_set(err, OQ_ELIMIT, path, 0, 0, "file larger than %zu bytes",
                                  max_bytes);
                goto cleanup;
            }
            size_t ncap = cap * 2 > max_bytes ? max_bytes : cap * 2;
            char *nb = realloc(buf, ncap + 1);
            if (!nb) {
                rc = oq_error_set(err, OQ_ENOMEM, path, 0, 0, "out of memory");
                goto cleanup;
            }
            buf = nb;
            cap = ncap;
        }
        size_t got = fread(buf + n, 1, cap - n, fp);
        n += got;
        if (got == 0) break;
    }
    if (ferror(fp)) {
        rc = oq_error_set(err, OQ_EIO, path, 0, 0, "read failed: %s", strerror(errno));
        goto cleanup;
    }
    buf[n] = 0;
    *out = buf;
    *len = n;
    buf = NULL;
cleanup:
    free(buf);
    fclose(fp);
    return rc;
}

uint32_t oq_crc32(uint32_t crc, const void *data, size_t len)
{
    static uint32_t table[256];
    static int init = 0; /* benign race: every thread writes the same values */
    if (!init) {
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++)
                c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            table[i] = c;
        }
        init = 1;
    }
    const unsigned char *p = data;
    crc = ~crc;
    for (size_t i = 0; i < len; i++)
        crc = table[(crc ^ p[i]) & 0xff] ^ (crc >> 8);
    return ~crc;
}

int oq_sidecar_path(const char *log_path, const char *suffix, char *out, size_t len)
{
    const char *slash = strrchr(log_path, '/');
    const char *dot = strrchr(log_path, '.');
    size_t stem = (dot && (!slash || dot > slash)) ? (size_t)(dot - log_path) : strlen(log_path);
    if (stem + strlen(suffix) + 1 > len) return OQ_EINVAL;
    snprintf(out, len, "%.*s%s", (int)stem, log_path, suffix);
    return 0;
}

int oq_file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

double oq_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void oq_progress_start(oq_progress *p, const char *label, double total, int quiet)
{
    p->label = label;
    p->total = total;
    p->start = oq_now();
    p->last_print = 0;
    p->quiet = quiet;
    p->printed = 0;
}

void oq_progress_update(oq_progress *p, double done)
{
    if (p->quiet) return;
    double t = oq_now();
    /* Quick work stays silent; on a terminal redraw 4 times a second, into a
     * log file (not a tty) write a line every 5 seconds. */
    int tty = isatty(2);
    if (t - p->start < 0.5 || t - p->last_print < (tty ? 0.25 : 5.0)) return;
    p->last_print = t;
    p->printed = 1;
    double frac = p->total > 0 ? done / p->total : 0;
    if (frac > 1) frac = 1;
    int width = 30, fill = (int)(frac * width);
    char bar[32];
    for (int i = 0; i < width; i++)
        bar[i] = i < fill ? '#' : '.';
    bar[width] = 0;
    double el = t - p->start;
    double eta = frac > 0 ? el / frac - el : 0;
    fprintf(stderr, "%s%-12s [%s] %5.1f%%  %.1fs elapsed, ~%.1fs left %s", tty ? "\r" : "",
            p->label, bar, 100 * frac, el, eta, tty ? "" : "\n");
    fflush(stderr);
}

void oq_progress_done(oq_progress *p)
{
    if (p->quiet) return;
    if (p->printed)
        fprintf(stderr, "%s%-12s done in %.2fs%40s\n", isatty(2) ? "\r" : "", p->label,
                oq_now() - p->start, "");
}
