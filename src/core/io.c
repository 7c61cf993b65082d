/* io.c - atomic output files and run folders, whole-file reads, CRC-32,
 * progress. */
#include "offerq/core/io.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

int oq_make_parents(const char *path, oq_error *err)
{
    char buf[4096];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf)
        return oq_error_set(err, OQ_EINVAL, path, 0, 0, "path too long");
    for (char *p = buf + 1; *p; p++) {
        if (*p != '/') continue;
        *p = 0;
        if (mkdir(buf, 0777) != 0 && errno != EEXIST)
            return oq_error_set(err, OQ_EIO, buf, 0, 0, "cannot create folder: %s",
                                strerror(errno));
        *p = '/';
    }
    return 0;
}

/* Is the writer whose pid is written in a temporary's name gone? Only a
 * definite ESRCH counts: a live process (or one we may not signal, EPERM)
 * keeps its file. A reused pid keeps a dead writer's file: the safe side. */
static int pid_dead(const char *digits)
{
    char *end;
    errno = 0;
    long pid = strtol(digits, &end, 10);
    if (end == digits || *end || errno || pid <= 0 || pid == (long)getpid()) return 0;
    return kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

/* Remove "<path>.tmp.<pid>" files of writers that died before their rename
 * (kill -9, power cut). Best effort: a failure here costs disk only. */
static void clean_dead_temps(const char *path)
{
    char dir[4096], prefix[512];
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    if (!slash)
        snprintf(dir, sizeof dir, ".");
    else if (slash == path)
        snprintf(dir, sizeof dir, "/");
    else
        snprintf(dir, sizeof dir, "%.*s", (int)(slash - path), path);
    if (snprintf(prefix, sizeof prefix, "%s.tmp.", base) >= (int)sizeof prefix) return;
    size_t pl = strlen(prefix);
    DIR *d = opendir(dir);
    if (!d) return;
    for (struct dirent *e; (e = readdir(d));)
        if (!strncmp(e->d_name, prefix, pl) && pid_dead(e->d_name + pl))
            unlinkat(dirfd(d), e->d_name, 0);
    closedir(d);
}

int oq_afile_open(oq_afile *af, const char *path, oq_error *err)
{
    memset(af, 0, sizeof *af);
    if (snprintf(af->path, sizeof af->path, "%s", path) >= (int)sizeof af->path ||
        snprintf(af->tmp, sizeof af->tmp, "%s.tmp.%ld", path, (long)getpid()) >=
            (int)sizeof af->tmp)
        return oq_error_set(err, OQ_EINVAL, path, 0, 0, "path too long");
    int rc = oq_make_parents(path, err);
    if (rc) return rc;
    clean_dead_temps(path);
    af->fp = fopen(af->tmp, "wb");
    if (!af->fp) return oq_error_set(err, OQ_EIO, path, 0, 0, "cannot create: %s", strerror(errno));
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
    struct stat st;
    if (lstat(af->path, &st) == 0 && S_ISLNK(st.st_mode)) {
        /* renaming over a link would replace the link, not write through it */
        unlink(af->tmp);
        return oq_error_set(err, OQ_EIO, af->path, 0, 0,
                            "is a symbolic link: give the file it points to");
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

/* ---- run folders ---------------------------------------------------------------- */

/* The files an offerq run folder may hold (a plain DIR holding only these,
 * or nothing, is an older offerq's run and is moved into DIR.runs). */
static const char *const run_files[] = {
    "recommendations.csv", "qtable.ofq", "params.json", "report.json",    "learning_curve.svg",
    "bgnbd.json",          "model.ofq",  "eval.json",   "crosssell.json", NULL};

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0) return -1;
    int rc = fsync(fd);
    close(fd);
    return rc;
}

/* Remove a flat folder: its entries, then itself (run folders hold files only). */
static void remove_flat(const char *path)
{
    DIR *d = opendir(path);
    if (d) {
        char f[4096 + 256];
        for (struct dirent *e; (e = readdir(d));) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
            if (snprintf(f, sizeof f, "%s/%s", path, e->d_name) < (int)sizeof f) unlink(f);
        }
        closedir(d);
    }
    rmdir(path);
}

/* Is every entry of the plain folder path a run's file (or a writer's
 * temporary)? Sets *empty when it has no entries. */
static int is_old_run(const char *path, int *empty)
{
    DIR *d = opendir(path);
    if (!d) return 0;
    int ok = 1;
    *empty = 1;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
        *empty = 0;
        int known = strstr(e->d_name, ".tmp.") != NULL;
        for (int k = 0; !known && run_files[k]; k++)
            known = !strcmp(e->d_name, run_files[k]);
        ok = known;
    }
    closedir(d);
    return ok;
}

/* "000012-20261204T181100Z" -> 12; -1 for names that are not a run's. */
static long run_seq(const char *name)
{
    char *end;
    if (name[0] < '0' || name[0] > '9') return -1;
    long v = strtol(name, &end, 10);
    return *end == '-' && end - name >= 6 ? v : -1;
}

/* ".partial.<pid>.XXXXXX" or ".link.<pid>" of a writer that is gone? */
static int stale_temp(const char *name)
{
    const char *p = NULL;
    if (!strncmp(name, ".partial.", 9)) p = name + 9;
    if (!strncmp(name, ".link.", 6)) p = name + 6;
    if (!p) return 0;
    long pid = strtol(p, NULL, 10);
    return pid > 0 && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* The pid of a live writer's partial folder in runs (0: none seen). */
static long partial_owner(const char *runs)
{
    long owner = 0;
    DIR *d = opendir(runs);
    if (!d) return 0;
    for (struct dirent *e; !owner && (e = readdir(d));)
        if (!strncmp(e->d_name, ".partial.", 9) && !stale_temp(e->d_name))
            owner = strtol(e->d_name + 9, NULL, 10);
    closedir(d);
    return owner;
}

/* Take the writer's lock: flock(2) on the runs folder itself (no lock file,
 * so a failed first run still leaves DIR.runs empty and nothing can unlink a
 * lock file someone holds). Fails at once if another writer holds it. The
 * folder may be removed by a failed first run between open and flock; then
 * the descriptor names a dead folder, and we start over on the new one. */
static int lock_runs(oq_rundir *rd, oq_error *err)
{
    for (int tries = 0; tries < 100; tries++) {
        if (mkdir(rd->runs, 0777) != 0 && errno != EEXIST)
            return oq_error_set(err, OQ_EIO, rd->runs, 0, 0, "cannot create folder: %s",
                                strerror(errno));
        int fd = open(rd->runs, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (fd < 0) continue; /* removed meanwhile */
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            close(fd);
            if (e == EINTR) continue;
            if (e != EWOULDBLOCK)
                return oq_error_set(err, OQ_EIO, rd->runs, 0, 0, "cannot lock: %s", strerror(e));
            long owner = partial_owner(rd->runs);
            char who[48] = "";
            if (owner > 0) snprintf(who, sizeof who, " (pid %ld)", owner);
            return oq_error_set(err, OQ_EIO, rd->dir, 0, 0,
                                "another offerq run%s is writing this folder; wait for it to "
                                "finish, or choose another --out-dir",
                                who);
        }
        struct stat a, b;
        if (fstat(fd, &a) == 0 && stat(rd->runs, &b) == 0 && a.st_dev == b.st_dev &&
            a.st_ino == b.st_ino) {
            rd->lock_fd = fd;
            rd->locked = 1;
            return 0;
        }
        close(fd);
    }
    return oq_error_set(err, OQ_EIO, rd->runs, 0, 0, "cannot lock: the folder keeps changing");
}

static void unlock_runs(oq_rundir *rd)
{
    if (!rd->locked) return;
    close(rd->lock_fd); /* releases the flock */
    rd->locked = 0;
}

int oq_rundir_begin(oq_rundir *rd, const char *dir, oq_error *err)
{
    memset(rd, 0, sizeof *rd);
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0 || n + 64 >= sizeof rd->dir)
        return oq_error_set(err, OQ_EINVAL, dir, 0, 0, "output folder name empty or too long");
    memcpy(rd->dir, dir, n);
    rd->dir[n] = 0;
    const char *base = base_name(rd->dir);
    if (!*base || !strcmp(base, ".") || !strcmp(base, ".."))
        return oq_error_set(err, OQ_EINVAL, dir, 0, 0,
                            "name a folder for the run (e.g. out/run): it becomes a link to "
                            "the newest run in out/run.runs/");
    if (snprintf(rd->runs, sizeof rd->runs, "%s.runs", rd->dir) >= (int)sizeof rd->runs)
        return oq_error_set(err, OQ_EINVAL, dir, 0, 0, "path too long");
    struct stat st;
    int empty = 0;
    if (lstat(rd->dir, &st) == 0 && !S_ISLNK(st.st_mode) &&
        (!S_ISDIR(st.st_mode) || !is_old_run(rd->dir, &empty)))
        return oq_error_set(err, OQ_EIO, rd->dir, 0, 0,
                            "exists and is not an offerq run (a run folder is a link to "
                            "%s/<run>); name another folder, or move this one away",
                            base_name(rd->runs));
    int rc = oq_make_parents(rd->dir, err);
    if (rc) return rc;
    if ((rc = lock_runs(rd, err))) return rc;
    if (snprintf(rd->path, sizeof rd->path, "%s/.partial.%ld.XXXXXX", rd->runs, (long)getpid()) >=
        (int)sizeof rd->path) {
        unlock_runs(rd);
        return oq_error_set(err, OQ_EINVAL, dir, 0, 0, "path too long");
    }
    if (!mkdtemp(rd->path)) {
        rc = oq_error_set(err, OQ_EIO, rd->runs, 0, 0, "cannot create a run folder: %s",
                          strerror(errno));
        unlock_runs(rd);
        return rc;
    }
    rd->open = 1;
    chmod(rd->path, 0755); /* mkdtemp's 0700 would hide the run from a service user */
    return 0;
}

int oq_rundir_file(const oq_rundir *rd, const char *name, char *out, size_t len, oq_error *err)
{
    if (snprintf(out, len, "%s/%s", rd->path, name) >= (int)len)
        return oq_error_set(err, OQ_EINVAL, rd->path, 0, 0, "path too long");
    return 0;
}

/* Highest run number in the runs folder (0 when none). */
static long max_seq(const char *runs)
{
    long best = 0;
    DIR *d = opendir(runs);
    if (!d) return 0;
    for (struct dirent *e; (e = readdir(d));) {
        long s = run_seq(e->d_name);
        if (s > best) best = s;
    }
    closedir(d);
    return best;
}

/* Is some run in the runs folder numbered seq? */
static int seq_taken(const char *runs, long seq)
{
    int taken = 0;
    DIR *d = opendir(runs);
    if (!d) return 0;
    for (struct dirent *e; !taken && (e = readdir(d));)
        taken = run_seq(e->d_name) == seq;
    closedir(d);
    return taken;
}

/* Move the run folder src into the runs folder under number want (> 0), or
 * the next free number (0); its name into name. */
static int name_run(const oq_rundir *rd, const char *src, long want, char *name, size_t len,
                    oq_error *err)
{
    char stamp[32], dst[4096 + 64];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(stamp, sizeof stamp, "%Y%m%dT%H%M%SZ", &tm);
    /* A number asked for is that run's id elsewhere (a database, Redis):
     * never another one. Only the writer holding the lock names runs, so
     * the check and the rename cannot be raced by another offerq. */
    if (want > 0 && seq_taken(rd->runs, want))
        return oq_error_set(err, OQ_EIO, rd->runs, 0, 0,
                            "a run numbered %ld exists already; not replacing it", want);
    long seq = want > 0 ? want : max_seq(rd->runs) + 1;
    for (int tries = 0;; tries++, seq++) {
        snprintf(name, len, "%06ld-%s", seq, stamp);
        snprintf(dst, sizeof dst, "%s/%s", rd->runs, name);
        if (rename(src, dst) == 0) return 0;
        if ((errno != EEXIST && errno != ENOTEMPTY) || tries == 1000 || want > 0)
            return oq_error_set(err, OQ_EIO, dst, 0, 0, "cannot name the run: %s", strerror(errno));
    }
}

long oq_rundir_next_seq(const char *dir)
{
    char d[4096], runs[4096 + 8];
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof d) return 1;
    memcpy(d, dir, n);
    d[n] = 0;
    snprintf(runs, sizeof runs, "%s.runs", d);
    long next = max_seq(runs) + 1;
    /* An older offerq's plain folder becomes a numbered run at the next
     * commit (oq_rundir_commit): it takes this number, so the next run
     * gets the one after. */
    struct stat st;
    int empty = 0;
    if (lstat(d, &st) == 0 && S_ISDIR(st.st_mode) && is_old_run(d, &empty) && !empty) next++;
    return next;
}

static int cmp_desc(const void *a, const void *b)
{
    long x = run_seq(*(char *const *)a), y = run_seq(*(char *const *)b);
    return x < y ? 1 : x > y ? -1 : 0;
}

/* Keep the newest keep runs and the one DIR points at; drop dead writers'
 * temporaries. Failures here cost disk, not correctness: ignored. */
static void prune(const oq_rundir *rd, int keep)
{
    char live[4096] = "", f[4096 + 256];
    ssize_t ln = readlink(rd->dir, live, sizeof live - 1);
    live[ln > 0 ? ln : 0] = 0;
    const char *live_name = base_name(live);
    DIR *d = opendir(rd->runs);
    if (!d) return;
    size_t n = 0, cap = 0;
    char **names = NULL;
    for (struct dirent *e; (e = readdir(d));) {
        if (stale_temp(e->d_name)) {
            snprintf(f, sizeof f, "%s/%s", rd->runs, e->d_name);
            if (!strncmp(e->d_name, ".link.", 6))
                unlink(f);
            else
                remove_flat(f);
            continue;
        }
        if (run_seq(e->d_name) < 0) continue;
        if (n == cap) {
            size_t nc = cap ? 2 * cap : 16;
            char **nn = realloc(names, nc * sizeof *nn);
            if (!nn) break;
            names = nn;
            cap = nc;
        }
        if (!(names[n] = strdup(e->d_name))) break;
        n++;
    }
    closedir(d);
    if (n) qsort(names, n, sizeof *names, cmp_desc);
    for (size_t i = 0; i < n; i++) {
        if (i >= (size_t)keep && strcmp(names[i], live_name) != 0) {
            snprintf(f, sizeof f, "%s/%s", rd->runs, names[i]);
            remove_flat(f);
        }
        free(names[i]);
    }
    free(names);
}

int oq_rundir_commit(oq_rundir *rd, int keep, oq_error *err)
{
    if (!rd->open) return oq_error_set(err, OQ_EINVAL, rd->dir, 0, 0, "run folder not open");
    char name[128], old[128], target[4096 + 128], tmp[4096 + 64];
    struct stat st;
    int rc, empty = 0;
    if (fsync_dir(rd->path) != 0) {
        rc = oq_error_set(err, OQ_EIO, rd->path, 0, 0, "cannot sync: %s", strerror(errno));
        goto fail;
    }
    /* An older offerq's plain folder becomes the run before this one. */
    if (lstat(rd->dir, &st) == 0 && S_ISDIR(st.st_mode) && is_old_run(rd->dir, &empty)) {
        if (empty)
            rmdir(rd->dir);
        else if ((rc = name_run(rd, rd->dir, 0, old, sizeof old, err)))
            goto fail;
    }
    if ((rc = name_run(rd, rd->path, rd->seq, name, sizeof name, err))) goto fail;
    if (snprintf(rd->path, sizeof rd->path, "%s/%s", rd->runs, name) >= (int)sizeof rd->path)
        rd->path[0] = 0; /* cannot happen: runs has 64 bytes to spare */
    rd->open = 0;        /* complete now: kept even if the switch below fails */
    snprintf(target, sizeof target, "%s/%s", base_name(rd->runs), name);
    snprintf(tmp, sizeof tmp, "%s/.link.%ld", rd->runs, (long)getpid());
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, rd->dir) != 0) {
        int saved = errno;
        unlink(tmp);
        return oq_error_set(err, OQ_EIO, rd->dir, 0, 0, "cannot switch to the new run: %s",
                            strerror(saved));
    }
    fsync_dir(rd->runs);
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", rd->dir);
    char *slash = strrchr(parent, '/');
    if (slash == parent)
        parent[1] = 0;
    else if (slash)
        *slash = 0;
    else
        snprintf(parent, sizeof parent, ".");
    fsync_dir(parent);
    prune(rd, keep < 1 ? 1 : keep);
    unlock_runs(rd);
    return 0;
fail:
    oq_rundir_abort(rd);
    return rc;
}

void oq_rundir_abort(oq_rundir *rd)
{
    if (rd->open) {
        remove_flat(rd->path);
        rmdir(rd->runs); /* only if the failed run was its first: empty then */
        rd->open = 0;
    }
    unlock_runs(rd);
}

int oq_rundir_resolve(const char *dir, char *out, size_t len, oq_error *err)
{
    char buf[PATH_MAX];
    if (!realpath(dir, buf))
        return oq_error_set(err, OQ_EIO, dir, 0, 0, "cannot open: %s", strerror(errno));
    if (strlen(buf) >= len) return oq_error_set(err, OQ_EINVAL, dir, 0, 0, "path too long");
    memcpy(out, buf, strlen(buf) + 1);
    return 0;
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
        rc = oq_error_oom(err, path, NULL);
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
                rc = oq_error_oom(err, path, NULL);
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

double oq_unix_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
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
