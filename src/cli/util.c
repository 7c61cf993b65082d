/* util.c - argument and error helpers for the CLI. */
#include "cli/cli.h"
#include "offerq/core/io.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int cli_fail(const oq_error *err, const char *hint)
{
    char buf[1200];
    oq_error_format(err, buf, sizeof buf);
    fprintf(stderr, "offerq: error: %s\n", buf);
    if (hint) fprintf(stderr, "offerq: %s\n", hint);
    return 1;
}

/* A config key being checked (cli_set_context); the CLI is one thread. */
static const char *usage_context;

void cli_set_context(const char *context)
{
    usage_context = context;
}

int cli_usage_error(const char *cmd, const char *fmt, ...)
{
    va_list ap;
    if (usage_context)
        fprintf(stderr, "offerq nightly: %s: ", usage_context);
    else
        fprintf(stderr, "offerq %s: ", cmd);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
    va_end(ap);
    if (usage_context)
        fputc('\n', stderr);
    else
        fprintf(stderr, "\nTry 'offerq %s --help'.\n", cmd);
    return 2;
}

int cli_bad_option(const char *cmd)
{
    /* getopt has printed what was wrong (unknown option, missing value) */
    if (usage_context)
        fprintf(stderr, "offerq nightly: %s: not an option of offerq %s\n", usage_context, cmd);
    else
        fprintf(stderr, "Try 'offerq %s --help'.\n", cmd);
    return 2;
}

int cli_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        cli_usage_error(cmd, "%s expects an integer in [%ld, %ld], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v) || v < lo || v > hi) {
        cli_usage_error(cmd, "%s expects a number in [%g, %g], got '%s'", opt, lo, hi, s);
        return -1;
    }
    *out = v;
    return 0;
}

int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-') {
        cli_usage_error(cmd, "%s expects a non-negative integer, got '%s'", opt, s);
        return -1;
    }
    *out = (uint64_t)v;
    return 0;
}

int cli_out_path(const char *cmd, const char *opt, const char *path, int link_ok)
{
    if (!path[0] || !strcmp(path, "-")) {
        cli_usage_error(cmd,
                        "%s '%s': output goes to files only (written whole, then renamed into "
                        "place), not to standard output; give a file path",
                        opt, path);
        return -1;
    }
    struct stat st;
    if (!link_ok && lstat(path, &st) == 0 && S_ISLNK(st.st_mode)) {
        cli_usage_error(cmd,
                        "%s %s is a symbolic link: offerq replaces an output file by renaming "
                        "a new one over it, which would replace the link, not its target; give "
                        "the path it points to, or remove the link",
                        opt, path);
        return -1;
    }
    return 0;
}

int cli_part_path(const char *log, int k, int n, char *out, size_t len)
{
    char suffix[64];
    snprintf(suffix, sizeof suffix, ".part-%d-of-%d.csv", k, n);
    return oq_sidecar_path(log, suffix, out, len);
}

const char *cli_sidecar_or(const char *given, const char *log, const char *suffix, char *buf,
                           size_t len)
{
    if (given) return given;
    return !oq_sidecar_path(log, suffix, buf, len) && oq_file_exists(buf) ? buf : NULL;
}
