/* bench_ingest.c - customer-log ingest speed and peak memory.
 *
 * Generates a log of --rows rows with the generator (once; reused if the file
 * exists), then in a child process reads it with oq_log_read and reports
 * rows/s, MB/s and the child's peak RSS. The reference in the same run is the
 * raw sequential read of the same file (fread + newline count): the bound set
 * by disk and memory bandwidth. If python3 with pandas is present, run
 * bench/ingest_pandas.py for the peer figure.
 *
 *   build/bench_ingest [--rows 10000000] [--file /tmp/offerq-bench/log.csv]
 *                      [--out bench/results/ingest.md]
 */
#include "offerq/core/data.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/io.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static double raw_read(const char *path, size_t *lines)
{
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    size_t cap = 1 << 20, n = 0;
    char *buf = malloc(cap);
    double t0 = oq_now();
    size_t got;
    while ((got = fread(buf, 1, cap, fp)) > 0)
        for (char *p = buf; (p = memchr(p, '\n', (size_t)(buf + got - p))); p++)
            n++;
    double t = oq_now() - t0;
    free(buf);
    fclose(fp);
    *lines = n;
    return t;
}

int main(int argc, char **argv)
{
    gsl_set_error_handler_off();
    long rows = 10000000;
    const char *file = "/tmp/offerq-bench/log.csv", *out = "bench/results/ingest.md";
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--rows"))
            rows = atol(argv[i + 1]);
        else if (!strcmp(argv[i], "--file"))
            file = argv[i + 1];
        else if (!strcmp(argv[i], "--out"))
            out = argv[i + 1];
    }
    oq_error err = {0};
    if (!oq_file_exists(file)) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s", file);
        char *slash = strrchr(dir, '/');
        if (slash) {
            *slash = 0;
            mkdir(dir, 0755);
        }
        oq_gen_config cfg;
        oq_gen_config_default(&cfg);
        cfg.n_customers = (rows + cfg.snapshots - 1) / cfg.snapshots;
        cfg.write_events = 0;
        cfg.write_orders = 0;
        fprintf(stderr, "bench_ingest: generating %ld customers into %s\n", cfg.n_customers, file);
        if (oq_gen_write(&cfg, file, &err)) {
            fprintf(stderr, "bench_ingest: %s\n", err.msg);
            return 1;
        }
    }
    struct stat st;
    stat(file, &st);
    double mb = (double)st.st_size / 1e6;
    size_t lines = 0;
    raw_read(file, &lines); /* warm the page cache */
    double t_raw = raw_read(file, &lines);

    int pfd[2];
    if (pipe(pfd)) return 1;
    pid_t pid = fork();
    if (pid == 0) {
        close(pfd[0]);
        double t0 = oq_now();
        oq_log *log = NULL;
        int rc = oq_log_read(file, &log, &err);
        double t = oq_now() - t0;
        double res[2] = {t, rc ? -1.0 : (double)log->n};
        if (write(pfd[1], res, sizeof res) != sizeof res) _exit(2);
        oq_log_free(log);
        _exit(rc ? 1 : 0);
    }
    close(pfd[1]);
    double res[2] = {0, 0};
    if (read(pfd[0], res, sizeof res) != sizeof res) return 1;
    int status;
    struct rusage ru;
    wait4(pid, &status, 0, &ru);
    if (!WIFEXITED(status) || WEXITSTATUS(status) || res[1] < 0) {
        fprintf(stderr, "bench_ingest: read failed\n");
        return 1;
    }
    double n = res[1], t = res[0], rss_mb = (double)ru.ru_maxrss / 1024.0;
    char table[2048];
    snprintf(
        table, sizeof table,
        "| what | rows | MB | seconds | rows/s | MB/s | peak RSS |\n"
        "|---|---:|---:|---:|---:|---:|---:|\n"
        "| offerq oq_log_read (validate + columnar) | %.0f | %.0f | %.3f | %.2fM | %.0f | %.0f MB "
        "|\n"
        "| raw fread + newline count (bandwidth bound) | %zu | %.0f | %.3f | %.2fM | %.0f | - |\n\n"
        "Ratio offerq / raw read time: %.1fx; bytes per row in memory: %.1f.\n",
        n, mb, t, n / t / 1e6, mb / t, rss_mb, lines - 1, mb, t_raw,
        (double)(lines - 1) / t_raw / 1e6, mb / t_raw, t / t_raw, rss_mb * 1048576.0 / n);
    /* The peer, in the same command, when pandas is installed. */
    char cmd[8300], line[512] = "", pandas[600] = "";
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c 'import pandas' 2>/dev/null && /usr/bin/python3 "
             "bench/ingest_pandas.py '%s' 2>/dev/null",
             file);
    FILE *pp = popen(cmd, "r");
    if (pp && fgets(line, sizeof line, pp)) {
        double tp = 0;
        char *c = line;
        for (int k = 0; k < 3 && c; k++)
            c = strchr(c + 1, '|');
        if (c) tp = atof(c + 1);
        line[strcspn(line, "\n")] = 0;
        if (tp > 0)
            snprintf(pandas, sizeof pandas, "%s\n\nofferq is %.1fx faster than pandas.read_csv.\n",
                     line, tp / t);
    }
    if (pp) pclose(pp);
    size_t tl = strlen(table);
    if (pandas[0])
        snprintf(table + tl, sizeof table - tl, "\nPeer (same file, same run):\n\n%s", pandas);
    printf("%s", table);
    FILE *fp = fopen(out, "w");
    if (fp) {
        fprintf(fp,
                "# bench_ingest\n\nCommand: `build/bench_ingest --rows %ld` (one core, file in "
                "page cache)\n\n%s",
                rows, table);
        fclose(fp);
    }
    return 0;
}
