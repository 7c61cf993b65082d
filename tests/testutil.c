/* testutil.c - see testutil.h. */
#include "testutil.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static const char *join(const char *env, const char *dflt, const char *rel)
{
    static char buf[8][4096];
    static int slot = 0;
    const char *base = getenv(env);
    if (!base) base = dflt;
    char *b = buf[slot++ & 7];
    snprintf(b, 4096, "%s/%s", base, rel);
    return b;
}

const char *tu_shared(const char *rel)
{
    gsl_set_error_handler_off();
    return join("OQ_SHARED", "../shared", rel);
}

const char *tu_source(const char *rel)
{
    return join("OQ_SOURCE", ".", rel);
}

char *tu_tmpdir(void)
{
    gsl_set_error_handler_off();
    char tmpl[] = "/tmp/offerq-test-XXXXXX";
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

void tu_rmdir(const char *dir)
{
    if (dir && strncmp(dir, "/tmp/offerq-test-", 17) == 0) tu_system("rm -rf '%s'", dir);
}

const char *tu_bin(void)
{
    const char *b = getenv("OQ_BIN");
    return b ? b : "./offerq";
}

int tu_system(const char *fmt, ...)
{
    char cmd[8192];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    int st = system(cmd);
    if (st == -1 || !WIFEXITED(st)) return -1;
    return WEXITSTATUS(st);
}

size_t tu_read_matrix(const char *path, int cols, double **out)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t cap = 1024, n = 0;
    double *v = malloc(cap * (size_t)cols * sizeof *v);
    char line[16384];
    while (fgets(line, sizeof line, f)) {
        if (line[0] == '#') continue;
        if (n == cap) v = realloc(v, (cap *= 2) * (size_t)cols * sizeof *v);
        assert_non_null(v);
        char *p = line;
        for (int j = 0; j < cols; j++) {
            char *e;
            v[n * (size_t)cols + (size_t)j] = strtod(p, &e);
            assert_true(e != p);
            p = *e == ',' ? e + 1 : e;
        }
        n++;
    }
    fclose(f);
    *out = v;
    return n;
}

const char *tu_put(const char *dir, const char *name, const char *bytes)
{
    static char path[8][600];
    static int slot;
    char *p = path[slot++ % 8];
    snprintf(p, 600, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fwrite(bytes, 1, strlen(bytes), f);
    fclose(f);
    return p;
}
