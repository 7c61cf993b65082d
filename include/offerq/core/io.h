/* io.h - crash-safe output files and small I/O helpers.
 *
 * Every output offerq writes goes through oq_afile: data is written to
 * "<path>.tmp.<pid>" in the same directory, then fsync'ed and renamed over
 * <path>, so a reader (or a crash) sees either the old or the new complete
 * file, never half of one. A writer killed before its rename leaves its
 * temporary; the next oq_afile_open of the same path removes the
 * "<path>.tmp.<pid>" files whose pid is no longer running (never a live
 * writer's).
 */
#ifndef OFFERQ_IO_H
#define OFFERQ_IO_H

#include <stdio.h>
#include <stdint.h>
#include "offerq/core/error.h"

typedef struct oq_afile {
    FILE *fp;        /* write here */
    char path[4096]; /* final name */
    char tmp[4096];  /* temporary name */
} oq_afile;

/* mkdir -p of the folders above path (not path itself). OQ_EIO naming the
 * folder that could not be created. */
int oq_make_parents(const char *path, oq_error *err) OQ_WUR;

/* Open a temporary file next to path, creating path's parent folders. On
 * failure fills err (naming path, not the temporary), returns OQ_EIO. */
int oq_afile_open(oq_afile *af, const char *path, oq_error *err) OQ_WUR;
/* Flush, fsync, close and rename into place. Any earlier write error is
 * reported here (ferror), the temporary is removed and nothing replaces path. */
int oq_afile_commit(oq_afile *af, oq_error *err) OQ_WUR;
/* Close and delete the temporary; path is untouched. Safe to call twice. */
void oq_afile_abort(oq_afile *af);

/* Write a whole buffer atomically. */
int oq_write_file_atomic(const char *path, const void *data, size_t len, oq_error *err) OQ_WUR;

/* ---- run folders: a run's files appear together or not at all -------------
 *
 * A command that writes several files (offerq run --out-dir DIR) writes them
 * into a fresh folder DIR.runs/.partial.<pid>.XXXXXX, then renames it to
 * DIR.runs/<seq>-<UTC time> and switches DIR, a symbolic link, to it with one
 * rename(2). A reader that opens DIR/<file> (or resolves DIR once with
 * oq_rundir_resolve and reads every file from there) sees one complete run,
 * old or new, never a mix; a crash at any point leaves DIR at the previous
 * complete run. The newest `keep` runs stay in DIR.runs (and always the one
 * DIR points to); partial folders of dead writers are removed. One writer at
 * a time: oq_rundir_begin takes an exclusive flock(2) on DIR.runs itself,
 * held until commit or abort (the kernel drops it if the writer dies), and
 * fails at once (OQ_EIO, "another offerq run (pid N) is writing this
 * folder") when another writer holds it.
 * A DIR that is a plain folder holding only a run's files (an older offerq's
 * layout) is moved into DIR.runs on commit; any other existing DIR is an
 * error. */
typedef struct oq_rundir {
    char dir[4096];  /* DIR as named (trailing slashes removed) */
    char runs[4096]; /* DIR.runs */
    char path[4096]; /* the folder to write the run's files into */
    int open;
    int locked, lock_fd; /* the writer's lock on DIR.runs (flock), held begin..commit/abort */
    long seq;            /* the run's number: 0 (oq_rundir_begin's) names it with the next free
                            number; set between begin and commit to give it one (a run id
                            shared with a database and Redis: offerq nightly), which
                            commit refuses (OQ_EIO) if a run of DIR.runs has it already */
} oq_rundir;

/* The number the next run of DIR would get: 1 + the highest run number in
 * DIR.runs (1 when none), counting an older offerq's plain folder DIR as
 * one run more (commit numbers it first). */
long oq_rundir_next_seq(const char *dir);

/* Lock DIR.runs and create the partial folder; rd->path is where the files
 * go. OQ_EIO if DIR cannot become a link (see above) or another writer holds
 * the lock, with the reason. */
int oq_rundir_begin(oq_rundir *rd, const char *dir, oq_error *err) OQ_WUR;
/* rd->path + "/" + name into out. OQ_EINVAL if it does not fit. */
int oq_rundir_file(const oq_rundir *rd, const char *name, char *out, size_t len,
                   oq_error *err) OQ_WUR;
/* Sync the folder, name it, switch DIR to it, prune to the newest keep (>= 1)
 * runs. On failure the partial folder is removed and DIR is unchanged. */
int oq_rundir_commit(oq_rundir *rd, int keep, oq_error *err) OQ_WUR;
/* Remove the partial folder and its files; DIR is untouched. Safe to call
 * twice and after a commit (then it does nothing). */
void oq_rundir_abort(oq_rundir *rd);
/* The folder DIR names now (a link resolved to the run it points at, or DIR
 * itself if it is a plain folder), into out. Readers of several files of a
 * run resolve once, so a run switched in meanwhile cannot mix with theirs. */
int oq_rundir_resolve(const char *dir, char *out, size_t len, oq_error *err) OQ_WUR;

/* Read a whole file into a malloc'ed, NUL-terminated buffer (*out, caller
 * frees); *len excludes the NUL. Refuses files over max_bytes (OQ_ELIMIT). */
int oq_read_file(const char *path, size_t max_bytes, char **out, size_t *len, oq_error *err) OQ_WUR;

/* CRC-32 (IEEE) of a buffer, chained through crc (start with 0). Used as the
 * checksum at the end of every binary file (checkpoints, Q tables). */
uint32_t oq_crc32(uint32_t crc, const void *data, size_t len);

/* "x.csv" + ".truth.json" -> "x.truth.json": replace the extension of a log
 * path with suffix (the sidecar naming rule). Returns 0 or OQ_EINVAL if it
 * does not fit in out. */
int oq_sidecar_path(const char *log_path, const char *suffix, char *out, size_t len);

/* Does a regular file exist at path? */
int oq_file_exists(const char *path);

/* Progress on stderr for long work: prints at most every 0.25 s, ends with a
 * newline on oq_progress_done. quiet=1 prints nothing. */
typedef struct oq_progress {
    const char *label;
    double total;
    double last_print;
    double start;
    int quiet;
    int printed;
} oq_progress;

void oq_progress_start(oq_progress *p, const char *label, double total, int quiet);
void oq_progress_update(oq_progress *p, double done);
void oq_progress_done(oq_progress *p);

/* Monotonic seconds (for durations only: the origin is arbitrary, often boot). */
double oq_now(void);

/* Wall-clock Unix time in seconds (CLOCK_REALTIME), for timestamps that are
 * stored or shown (db.h's started_at). */
double oq_unix_now(void);

#endif
