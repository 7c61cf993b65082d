/* test_rundir.c - run folders (io.h, oq_rundir): a run appears whole or not
 * at all, the link moves only on commit, aborted and dead writers' folders
 * go away, --keep-runs is honoured, a folder that is not a run is never
 * taken over and an older offerq's plain run folder is adopted; one writer
 * at a time (the lock), dead writers' temporaries removed; a run named with
 * a number asked for (offerq nightly's run id). */
#include "testutil.h"
#include "offerq/core/io.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static void put(const oq_rundir *rd, const char *name, const char *text)
{
    char p[8192];
    oq_error err = {0};
    assert_int_equal(oq_rundir_file(rd, name, p, sizeof p, &err), 0);
    assert_int_equal(oq_write_file_atomic(p, text, strlen(text), &err), 0);
}

/* Contents of DIR/name through the link, or "" when missing. */
static const char *get(const char *dir, const char *name)
{
    static char buf[256];
    char p[8192];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "rb");
    buf[0] = 0;
    if (fp) {
        size_t n = fread(buf, 1, sizeof buf - 1, fp);
        buf[n] = 0;
        fclose(fp);
    }
    return buf;
}

/* Entries of a folder, dot entries included (not . and ..). */
static int count(const char *dir)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(d);
    return n;
}

static void commit_run(const char *dir, const char *tag, int keep)
{
    oq_rundir rd;
    oq_error err = {0};
    assert_int_equal(oq_rundir_begin(&rd, dir, &err), 0);
    put(&rd, "recommendations.csv", tag);
    put(&rd, "report.json", tag);
    /* nothing visible before the commit */
    assert_string_not_equal(get(dir, "report.json"), tag);
    assert_int_equal(oq_rundir_commit(&rd, keep, &err), 0);
    oq_rundir_abort(&rd); /* after a commit: nothing happens */
    assert_string_equal(get(dir, "recommendations.csv"), tag);
    assert_string_equal(get(dir, "report.json"), tag);
}

static void test_commit_abort_keep(void **state)
{
    (void)state;
    char *t = tu_tmpdir(), dir[4096], runs[4096];
    snprintf(dir, sizeof dir, "%s/out/run/", t); /* a parent to create, a trailing slash */
    snprintf(runs, sizeof runs, "%s/out/run.runs", t);
    commit_run(dir, "one", 2);
    struct stat st;
    snprintf(dir, sizeof dir, "%s/out/run", t);
    assert_int_equal(lstat(dir, &st), 0);
    assert_true(S_ISLNK(st.st_mode));
    /* an aborted run leaves the link and nothing in the runs folder */
    oq_rundir rd;
    oq_error err = {0};
    assert_int_equal(oq_rundir_begin(&rd, dir, &err), 0);
    put(&rd, "recommendations.csv", "aborted");
    oq_rundir_abort(&rd);
    oq_rundir_abort(&rd);
    assert_string_equal(get(dir, "recommendations.csv"), "one");
    assert_int_equal(count(runs), 1);
    /* keep 2: after four runs two remain, the newest */
    commit_run(dir, "two", 2);
    commit_run(dir, "three", 2);
    commit_run(dir, "four", 2);
    assert_int_equal(count(runs), 2);
    char real[4096];
    assert_int_equal(oq_rundir_resolve(dir, real, sizeof real, &err), 0);
    assert_non_null(strstr(real, "/out/run.runs/0000"));
    assert_string_equal(get(real, "report.json"), "four");
    tu_rmdir(t);
    free(t);
}

static void test_dead_writer_removed(void **state)
{
    (void)state;
    char *t = tu_tmpdir(), dir[4096], runs[4096], stale[8192];
    snprintf(dir, sizeof dir, "%s/run", t);
    snprintf(runs, sizeof runs, "%s/run.runs", t);
    commit_run(dir, "one", 3);
    /* a writer killed mid-run: a partial folder of a pid that is gone */
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid); /* reaped: the pid is gone */
    snprintf(stale, sizeof stale, "%s/.partial.%ld.abcdef", runs, (long)pid);
    assert_int_equal(mkdir(stale, 0755), 0);
    snprintf(stale + strlen(stale), sizeof stale - strlen(stale), "/recommendations.csv");
    FILE *fp = fopen(stale, "w");
    assert_non_null(fp);
    fclose(fp);
    /* a live process's partial folder (an older offerq without the lock: our
     * parent stands in for it) is left alone */
    char live[8192];
    snprintf(live, sizeof live, "%s/.partial.%ld.ghijkl", runs, (long)getppid());
    assert_int_equal(mkdir(live, 0755), 0);
    assert_int_equal(count(runs), 3);
    commit_run(dir, "two", 3);
    assert_int_equal(count(runs), 3); /* one, two and the live partial */
    assert_int_equal(rmdir(live), 0);
    tu_rmdir(t);
    free(t);
}

/* One writer at a time: a second begin on the same DIR fails at once while
 * the first holds the lock (flock is per open file, so this holds within one
 * process too), and succeeds after the first commits or aborts. */
static void test_one_writer(void **state)
{
    (void)state;
    char *t = tu_tmpdir(), dir[4096], want[64];
    snprintf(dir, sizeof dir, "%s/run", t);
    oq_rundir a, b;
    oq_error err = {0};
    assert_int_equal(oq_rundir_begin(&a, dir, &err), 0);
    assert_int_equal(oq_rundir_begin(&b, dir, &err), OQ_EIO);
    snprintf(want, sizeof want, "another offerq run (pid %ld) is writing", (long)getpid());
    assert_non_null(strstr(err.msg, want));
    oq_rundir_abort(&a); /* the first run of DIR failed: DIR.runs goes, the lock too */
    assert_int_equal(oq_rundir_begin(&b, dir, &err), 0);
    put(&b, "report.json", "b");
    assert_int_equal(oq_rundir_commit(&b, 3, &err), 0);
    assert_int_equal(oq_rundir_begin(&a, dir, &err), 0); /* released by the commit */
    oq_rundir_abort(&a);
    assert_string_equal(get(dir, "report.json"), "b");
    tu_rmdir(t);
    free(t);
}

/* oq_afile_open removes "<path>.tmp.<pid>" of dead writers, not of live ones
 * nor other files' temporaries. */
static void test_dead_temps_removed(void **state)
{
    (void)state;
    char *t = tu_tmpdir(), path[4096], dead[8192], live[8192], other[8192];
    snprintf(path, sizeof path, "%s/out.csv", t);
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    assert_true(pid > 0);
    assert_int_equal(waitpid(pid, NULL, 0), pid);
    snprintf(dead, sizeof dead, "%s.tmp.%ld", path, (long)pid);
    snprintf(live, sizeof live, "%s.tmp.%ld", path, (long)getppid());
    snprintf(other, sizeof other, "%s/other.csv.tmp.%ld", t, (long)pid);
    assert_int_equal(tu_system("touch '%s' '%s' '%s'", dead, live, other), 0);
    oq_error err = {0};
    assert_int_equal(oq_write_file_atomic(path, "x", 1, &err), 0);
    assert_int_equal(access(dead, F_OK), -1);
    assert_int_equal(access(live, F_OK), 0);
    assert_int_equal(access(other, F_OK), 0);
    tu_rmdir(t);
    free(t);
}

static void test_foreign_and_old_folders(void **state)
{
    (void)state;
    char *t = tu_tmpdir(), dir[4096];
    oq_rundir rd;
    oq_error err = {0};
    /* a folder with other files is refused, and left as it was */
    snprintf(dir, sizeof dir, "%s/mine", t);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(tu_system("echo x > '%s/notes.txt'", dir), 0);
    assert_int_equal(oq_rundir_begin(&rd, dir, &err), OQ_EIO);
    assert_non_null(strstr(err.msg, "not an offerq run"));
    assert_string_equal(get(dir, "notes.txt"), "x\n");
    /* a file is refused; "." is refused */
    snprintf(dir, sizeof dir, "%s/mine/notes.txt", t);
    assert_int_equal(oq_rundir_begin(&rd, dir, &err), OQ_EIO);
    assert_int_equal(oq_rundir_begin(&rd, ".", &err), OQ_EINVAL);
    /* an older offerq's plain run folder becomes the run before the new one */
    snprintf(dir, sizeof dir, "%s/old", t);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(tu_system("echo old > '%s/recommendations.csv'", dir), 0);
    commit_run(dir, "new", 3);
    char runs[4096];
    snprintf(runs, sizeof runs, "%s/old.runs", t);
    assert_int_equal(count(runs), 2);
    assert_int_equal(tu_system("grep -qx old '%s'/000001-*/recommendations.csv", runs), 0);
    tu_rmdir(t);
    free(t);
}

/* A run named with a number asked for (offerq nightly's run id): that
 * number, never one a run has already; next_seq counts past every run and
 * an older offerq's plain folder. */
static void test_given_number(void **state)
{
    (void)state;
    char *t = tu_tmpdir(), dir[4096], runs[4096];
    oq_rundir rd;
    oq_error err = {0};
    snprintf(dir, sizeof dir, "%s/run", t);
    snprintf(runs, sizeof runs, "%s/run.runs", t);
    assert_int_equal(oq_rundir_next_seq(dir), 1);
    commit_run(dir, "one", 5);
    assert_int_equal(oq_rundir_next_seq(dir), 2);
    assert_int_equal(oq_rundir_begin(&rd, dir, &err), 0);
    rd.seq = 42;
    put(&rd, "recommendations.csv", "forty-two");
    assert_int_equal(oq_rundir_commit(&rd, 5, &err), 0);
    assert_int_equal(tu_system("grep -qx forty-two '%s'/000042-*/recommendations.csv", runs), 0);
    assert_string_equal(get(dir, "recommendations.csv"), "forty-two");
    assert_int_equal(oq_rundir_next_seq(dir), 43);
    /* a number taken: refused, nothing switched, no partial folder left */
    assert_int_equal(oq_rundir_begin(&rd, dir, &err), 0);
    rd.seq = 1;
    put(&rd, "recommendations.csv", "again");
    assert_int_equal(oq_rundir_commit(&rd, 5, &err), OQ_EIO);
    assert_non_null(strstr(err.msg, "a run numbered 1 exists already"));
    assert_string_equal(get(dir, "recommendations.csv"), "forty-two");
    assert_int_equal(count(runs), 2);
    /* without a number: the next after the highest */
    commit_run(dir, "next", 5);
    assert_int_equal(tu_system("grep -qx next '%s'/000043-*/recommendations.csv", runs), 0);
    /* an older offerq's plain folder is numbered first, at commit */
    snprintf(dir, sizeof dir, "%s/old", t);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(tu_system("echo old > '%s/recommendations.csv'", dir), 0);
    assert_int_equal(oq_rundir_next_seq(dir), 2);
    assert_int_equal(oq_rundir_begin(&rd, dir, &err), 0);
    rd.seq = oq_rundir_next_seq(dir);
    put(&rd, "recommendations.csv", "new");
    assert_int_equal(oq_rundir_commit(&rd, 5, &err), 0);
    assert_int_equal(tu_system("grep -qx old '%s/old.runs'/000001-*/recommendations.csv", t), 0);
    assert_int_equal(tu_system("grep -qx new '%s/old.runs'/000002-*/recommendations.csv", t), 0);
    tu_rmdir(t);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_commit_abort_keep),       cmocka_unit_test(test_dead_writer_removed),
        cmocka_unit_test(test_foreign_and_old_folders), cmocka_unit_test(test_one_writer),
        cmocka_unit_test(test_dead_temps_removed),      cmocka_unit_test(test_given_number),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
