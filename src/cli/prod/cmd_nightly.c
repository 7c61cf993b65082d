/* cmd_nightly.c - `offerq nightly --config FILE`: the whole night in one
 * command, under one lock: ingest (CSV files into PostgreSQL, loaded
 * idempotently), run (the coupon pipeline), crosssell (when configured),
 * save (the run in PostgreSQL), publish (Redis), prune (old runs). One run
 * id names the PostgreSQL run, the run folder DIR.runs/<id>-<time> and the
 * Redis version. `--check` reads the config and asks every server it names,
 * without running anything. The configuration is nightly_conf.h; the
 * deployment (systemd units, cron) is docs/readme/prod.md and packaging/. */
#include "cli/cli.h"
#include "cli/prod/nightly_conf.h"
#include "offerq/core/io.h"
#include "offerq/coupon/pipeline.h"
#include "offerq/prod/db.h"
#include "offerq/prod/publish.h"
#include "util/json.h"

#include <errno.h>
#include <fcntl.h>
#include <glob.h>
#include <jansson.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Exit codes, one per failure class (docs/readme/prod.md has the table). */
enum {
    NQ_OK = 0,
    NQ_INTERNAL = 1, /* out of memory and the like */
    NQ_USAGE = 2,    /* the command line */
    NQ_CONFIG = 3,   /* the config file or the environment */
    NQ_LOCKED = 4,   /* another night holds the lock */
    NQ_DB = 5,       /* ingest and every other PostgreSQL step */
    NQ_RUN = 6,      /* the model run: the log, the orders, the run folder */
    NQ_XSELL = 7,    /* cross-selling */
    NQ_PUBLISH = 8   /* Redis */
};

enum { S_INGEST, S_RUN, S_XSELL, S_SAVE, S_PUBLISH, S_PRUNE, N_STAGES };
static const char *const stage_name[N_STAGES] = {"ingest", "run",     "crosssell",
                                                 "save",   "publish", "prune"};
static const int stage_exit[N_STAGES] = {NQ_DB, NQ_RUN, NQ_XSELL, NQ_DB, NQ_PUBLISH, NQ_DB};

static const char *exit_class(int code)
{
    switch (code) {
    case NQ_OK:
        return "ok";
    case NQ_USAGE:
        return "usage";
    case NQ_CONFIG:
        return "config";
    case NQ_LOCKED:
        return "locked: another night is running";
    case NQ_DB:
        return "ingest/database";
    case NQ_RUN:
        return "model run";
    case NQ_XSELL:
        return "cross-sell";
    case NQ_PUBLISH:
        return "publish/Redis";
    default:
        return "internal";
    }
}

/* --print-config: a config to start from, runnable as it is next to a log
 * (the quick start's example/log.csv): paths relative to its own folder. */
static const char config_template[] =
    "; offerq nightly's configuration (offerq nightly --help; docs/readme/prod.md,\n"
    "; \"The nightly job\"). INI: [section], key = value; ; or # start a comment.\n"
    "; Keys take _ or -; an empty value is the default; relative paths are relative\n"
    "; to this file's folder. The environment overrides any key:\n"
    "; OFFERQ_<SECTION>_<KEY> (OFFERQ_RUN_SEED=7), and OFFERQ_PG, OFFERQ_REDIS,\n"
    "; OFFERQ_REDIS_PASSWORD for [source] pg, [publish] redis, [publish] password.\n"
    "\n"
    "[source]\n"
    "; the log: a CSV file, or PostgreSQL (pg) fed by CSV exports (load)\n"
    "log = log.csv\n"
    "; pg = postgresql://offerq@127.0.0.1:5432/offerq\n"
    "; load = incoming/*.csv\n"
    "; orders = log.orders.csv\n"
    "; events = log.events.csv\n"
    "; pg_keep_runs = 0\n"
    "\n"
    "[run]\n"
    "; any option of `offerq run`; flags take true or false\n"
    "seed = 1\n"
    "budget = 5000\n"
    "; epochs = 4\n"
    "; reward = response\n"
    "\n"
    "[crosssell]\n"
    "; any option of `offerq crosssell learn`; no key: no cross-selling\n"
    "; items = items.csv\n"
    "; baskets = baskets.csv\n"
    "\n"
    "[publish]\n"
    "; no redis: no publish\n"
    "; redis = redis://127.0.0.1:6379\n"
    "; password =\n"
    "\n"
    "[output]\n"
    "dir = nightly/run\n"
    "keep_runs = 3\n"
    "; lock = nightly/run.lock\n"
    "; status = nightly/run.nightly.json\n";

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq nightly --config FILE [--verbose]\n"
                "       offerq nightly --config FILE --check\n\n"
                "The whole night in one command, under one lock: ingest the new rows (the CSV\n"
                "files of [source] load into PostgreSQL; a file loaded again loads nothing\n"
                "twice), run the coupon job, learn the cross-selling table (if [crosssell] has\n"
                "keys), save the run in PostgreSQL, publish it to Redis (if [publish] redis),\n"
                "and keep the newest runs. One run id names the PostgreSQL run, the run folder\n"
                "DIR.runs/<id>-<time> and the Redis version. A night that fails changes nothing\n"
                "that is served: the run folder and the Redis version switch whole or not at\n"
                "all. Progress lines, with each stage's time, go to stderr; the last line of\n"
                "stdout is 'run N: ok'. A status file ([output] status, default DIR.nightly.json)\n"
                "records each night's outcome, stage times and error.\n\n"
                "With [run] reward = sequence the run warm-starts the sequence model from the\n"
                "last good run's model (DIR/model.ofq) and trains it briefly (`offerq run\n"
                "--warm-start`); the first night, or one after a run without a model, trains\n"
                "it from scratch. [run] cold_start = true turns this off; a model of another\n"
                "shape fails the run (exit 6) unless [run] warm_fallback = true. The run's\n"
                "progress line and the status file say which it was.\n\n"
                "--check reads and checks the config, connects to each server it names\n"
                "(PostgreSQL, Redis: with their credentials) and checks the input files and\n"
                "the output folder, printing what it checked; it runs nothing.\n\n"
                "Options:\n"
                "  --config FILE   the configuration (INI; default $OFFERQ_CONFIG)\n"
                "  --check         check the config and the servers, run nothing\n"
                "  --print-config  print a config to start from (a CSV log beside it)\n"
                "  --verbose       also the stages' own progress (the run's, cross-selling's)\n\n"
                "Config sections and keys ('_' or '-'; an empty value = the default):\n");
    nightly_conf_help_keys(fp);
    fprintf(fp, "  [source] pg (a PostgreSQL URL) or log (a CSV file); load: CSV files or glob\n"
                "  patterns loaded into pg first (several on a line or on indented lines);\n"
                "  pg_keep_runs: runs kept in PostgreSQL (0 = all). [run]: the options of\n"
                "  `offerq run`, [crosssell]: those of `offerq crosssell learn` (true/false for\n"
                "  flags). [output] dir (required), keep_runs (3), lock (DIR.lock), status.\n"
                "  Relative paths in the file are relative to the file's folder.\n\n"
                "Environment: OFFERQ_<SECTION>_<KEY> sets any key (OFFERQ_RUN_SEED=7); OFFERQ_PG,\n"
                "OFFERQ_REDIS and OFFERQ_REDIS_PASSWORD set [source] pg, [publish] redis and\n"
                "[publish] password (the variables win over the file; OFFERQ_<SECTION>_<KEY>\n"
                "over the three). A variable OFFERQ_<SECTION>_... naming no key is an error.\n\n"
                "Exit codes: 0 ok; 2 usage; 3 config (file, key, value, environment);\n"
                "4 another night holds the lock (this one did nothing); 5 ingest/database\n"
                "(PostgreSQL: load, run id, save, prune); 6 model run (log, orders, run\n"
                "folder); 7 cross-selling; 8 publish/Redis. --check exits with the code the\n"
                "night would fail with.\n\n"
                "Example:\n"
                "  offerq nightly --print-config > example/nightly.conf\n"
                "  offerq nightly --config example/nightly.conf --check\n"
                "  offerq nightly --config example/nightly.conf\n"
                "(In production: /etc/offerq/offerq.conf, run by offerq-nightly.timer or the\n"
                "cron line 30 2 * * * offerq nightly --config /etc/offerq/offerq.conf; see\n"
                "docs/readme/prod.md, \"The nightly job\".)\n");
}

/* ---- the lock ---------------------------------------------------------------------- */

/* flock(2) on the lock file for the whole night (the kernel drops it when the
 * process dies, kill -9 included). The holder writes its pid and start time
 * into the file for the message of the one refused. Returns the descriptor,
 * -1 if another process holds it (*holder: what it wrote), -2 on an error. */
static int take_lock(const char *path, char *holder, size_t len, char *why, size_t wlen)
{
    holder[0] = 0;
    oq_error err = {0};
    if (oq_make_parents(path, &err)) {
        snprintf(why, wlen, "%s", err.msg);
        return -2;
    }
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf(why, wlen, "cannot open %s: %s", path, strerror(errno));
        return -2;
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        int e = errno;
        if (e == EWOULDBLOCK) {
            /* The holder writes its line just after it locks: a night started
             * at the same moment may look before it is there. */
            for (int tries = 0; tries < 20; tries++) {
                ssize_t n = pread(fd, holder, len - 1, 0);
                holder[n > 0 ? n : 0] = 0;
                if (strchr(holder, '\n')) break;
                struct timespec ts = {0, 10 * 1000000L};
                nanosleep(&ts, NULL);
            }
            holder[strcspn(holder, "\n")] = 0;
        } else {
            snprintf(why, wlen, "cannot lock %s: %s", path, strerror(e));
        }
        close(fd);
        return e == EWOULDBLOCK ? -1 : -2;
    }
    char buf[128], when[32];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    int n = snprintf(buf, sizeof buf, "pid %ld since %s\n", (long)getpid(), when);
    if (ftruncate(fd, 0) != 0 || pwrite(fd, buf, (size_t)n, 0) != n) {
        /* only the message of a refused night needs it */
    }
    return fd;
}

/* ---- the night ----------------------------------------------------------------------- */

typedef struct night {
    const nightly_conf *c;
    int verbose;
    int pause_ms; /* tests: a pause before each stage (--debug-pause-ms) */
    long long run_id;
    double started_at;  /* Unix time */
    double t0, t_stage; /* monotonic */
    double stage_s[N_STAGES];
    int stage_ran[N_STAGES];
    int failed;    /* the stage that failed, -1: none */
    int preflight; /* it failed before anything ran (Redis asked first) */
    char error[1400];
    oq_db_load_info load;
    size_t files, log_rows, customers;
    long long version, previous;
    oq_pipeline_opts o;
    /* the sequence model: warm-started from the last run (its folder) */
    char warm_dir[4096];
    char seq_line[1400]; /* what the run's sequence model did, "" for another reward */
    json_t *seq_status;  /* the status file's "sequence_model", or NULL */
} night;

static void say(const char *fmt, ...) OQ_PRINTF(1, 2);
static void say(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "offerq nightly: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
    va_end(ap);
    fputc('\n', stderr);
}

/* Tests (--debug-pause-ms): a pause between stages, so that a kill at a
 * random time lands in each of them. Counted in the next stage's time. */
static void pause_between(const night *n)
{
    if (n->pause_ms <= 0) return;
    struct timespec ts = {n->pause_ms / 1000, (long)(n->pause_ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void stage_begin(night *n)
{
    n->t_stage = oq_now();
}

/* End of stage s: its time, and a progress line with the details. */
static void stage_end(night *n, int s, const char *fmt, ...) OQ_PRINTF(3, 4);
static void stage_end(night *n, int s, const char *fmt, ...)
{
    double now = oq_now();
    n->stage_s[s] = now - n->t_stage;
    n->stage_ran[s] = 1;
    n->t_stage = now;
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    say("%s %.2f s: %s", stage_name[s], n->stage_s[s], msg);
}

/* Stage s failed with err: returns its exit code. */
static int stage_fail(night *n, int s, const oq_error *err)
{
    n->stage_s[s] = oq_now() - n->t_stage;
    n->stage_ran[s] = 1;
    n->failed = s;
    if (err) oq_error_format(err, n->error, sizeof n->error);
    say("%s failed after %.2f s: %s", stage_name[s], n->stage_s[s], n->error);
    return stage_exit[s];
}

/* The files the [source] load patterns name, in order (glob(3) sorts). A
 * pattern that matches nothing is an error: the export did not arrive. */
static int expand_load(const nightly_conf *c, glob_t *g, oq_error *err)
{
    memset(g, 0, sizeof *g);
    for (size_t i = 0; i < c->n_load; i++) {
        int rc = glob(c->load[i], i ? GLOB_APPEND : 0, NULL, g);
        if (rc == GLOB_NOMATCH)
            return oq_error_set(err, OQ_EIO, c->load[i], 0, 0,
                                "no file matches this [source] load pattern (did the export "
                                "arrive?)");
        if (rc)
            return oq_error_set(err, OQ_EIO, c->load[i], 0, 0, "cannot list the files: %s",
                                rc == GLOB_NOSPACE ? "out of memory" : "read error");
    }
    return 0;
}

static int ingest(night *n, oq_log **log, long long floor, oq_error *err)
{
    const nightly_conf *c = n->c;
    glob_t g = {0};
    int rc = oq_db_init(c->pg, err);
    if (!rc) rc = expand_load(c, &g, err);
    for (size_t i = 0; !rc && i < g.gl_pathc; i++) {
        oq_db_load_info li;
        if ((rc = oq_db_load_log(c->pg, g.gl_pathv[i], &li, err))) break;
        if (n->verbose)
            say("  loaded %s: %zu rows, %zu new, %zu changed, %zu already there", g.gl_pathv[i],
                li.rows, li.inserted, li.updated, li.unchanged);
        n->load.rows += li.rows;
        n->load.inserted += li.inserted;
        n->load.updated += li.updated;
        n->load.unchanged += li.unchanged;
        n->files++;
    }
    globfree(&g);
    int64_t id = 0;
    if (!rc && !(rc = oq_db_reserve_run_id(c->pg, floor, &id, err))) n->run_id = id;
    if (!rc && !(rc = oq_db_read_log(c->pg, log, err))) n->log_rows = (*log)->n;
    return rc;
}

/* The sequence model's warm start from the last good run (the folder
 * [output] dir links to), unless the run has its own model, warm start or
 * cold_start: with a model.ofq there; without one (the first night, or a
 * run of another reward) the model trains from scratch. */
static void seq_warm_start(night *n)
{
    const nightly_conf *c = n->c;
    oq_pipeline_opts *o = &n->o;
    if (o->reward != OQ_REWARD_SEQUENCE || o->model_path || o->warm_start || o->cold_start) return;
    char model[4200];
    snprintf(model, sizeof model, "%s/model.ofq", c->dir);
    if (access(model, F_OK) != 0 || !realpath(c->dir, n->warm_dir)) {
        snprintf(n->seq_line, sizeof n->seq_line,
                 "; sequence model trained from scratch (no model.ofq in %s)", c->dir);
        return;
    }
    o->warm_start = n->warm_dir;
}

/* What the run's sequence model did (report.json's "sequence_model"), for
 * the run's progress line and the status file. */
static void seq_outcome(night *n, const oq_pipeline_result *r)
{
    json_t *sm = json_object_get(r->report, "sequence_model");
    if (!sm) return;
    json_t *ws = json_object_get(sm, "warm_start");
    const char *from = json_string_value(json_object_get(ws, "from"));
    const char *why = json_string_value(json_object_get(sm, "cold_start_reason"));
    json_int_t fresh = json_integer_value(json_object_get(ws, "fresh_rows")),
               replay = json_integer_value(json_object_get(ws, "replay_rows"));
    int kept = json_is_true(json_object_get(ws, "kept_unchanged"));
    if (from)
        snprintf(n->seq_line, sizeof n->seq_line,
                 "; sequence model warm-started from %s (%lld new + %lld replayed rows; %s)", from,
                 (long long)fresh, (long long)replay,
                 kept ? "kept unchanged: training did not raise the held-out DR" : "updated");
    else if (why)
        snprintf(n->seq_line, sizeof n->seq_line, "; sequence model trained from scratch (%s)",
                 why);
    else if (!n->seq_line[0])
        snprintf(n->seq_line, sizeof n->seq_line, "; sequence model trained from scratch");
    json_decref(n->seq_status);
    n->seq_status = json_pack("{s:s, s:s?, s:s?}", "start", from ? "warm" : "cold", "warm_from",
                              from, "cold_reason", why);
}

/* Between the run's last file and its folder's switch (pipeline.h): the
 * cross-selling table into the folder, then the run into PostgreSQL. A
 * failure here leaves the run folder unswitched: nothing of this night is
 * served. */
static int before_commit(void *ctx, const oq_pipeline_result *r, const char *run_path,
                         oq_error *err)
{
    night *n = ctx;
    const nightly_conf *c = n->c;
    size_t cnt[OQ_N_COUPONS] = {0};
    for (size_t i = 0; i < r->n; i++)
        cnt[r->coupon[i]]++;
    n->customers = r->n;
    n->log_rows = r->log_rows;
    seq_outcome(n, r);
    stage_end(n, S_RUN,
              "%zu customers, coupons none/5/10/20 = %zu/%zu/%zu/%zu, expected spend %.2f%s%s",
              r->n, cnt[0], cnt[1], cnt[2], cnt[3], r->plan_spend,
              isfinite(n->o.budget) ? " (budget-limited)" : "", n->seq_line);
    int rc = 0;
    pause_between(n);
    if (c->xsell_argc > 1) {
        char table[4200], summary[4200], **argv = NULL;
        int argc = 0;
        snprintf(table, sizeof table, "%s/crosssell.oxq", run_path);
        snprintf(summary, sizeof summary, "%s/crosssell.json", run_path);
        if (nightly_conf_xsell_argv(c, table, summary, !n->verbose, &argv, &argc)) {
            rc = oq_error_oom(err, NULL, NULL);
        } else {
            /* its own messages go to stderr (and a short summary to stdout) */
            int xrc = cli_crosssell_learn(argc, argv, CLI_DO);
            free(argv);
            if (xrc)
                rc = oq_error_set(err, OQ_EIO, NULL, 0, 0,
                                  "offerq crosssell learn failed (exit %d; its message is above)",
                                  xrc);
        }
        if (rc) {
            stage_fail(n, S_XSELL, err);
            return rc;
        }
        stage_end(n, S_XSELL, "crosssell.oxq and crosssell.json written into the run");
        pause_between(n);
    }
    if (c->pg) {
        oq_reco *reco = NULL;
        char *report = oq_pipeline_report_text(&n->o, r);
        oq_db_run run = {.run_id = n->run_id,
                         .source = "offerq nightly",
                         .started_at = n->started_at,
                         .log_rows = n->log_rows,
                         .report_json = report};
        if (!report)
            rc = oq_error_oom(err, NULL, NULL);
        else if (!(rc = oq_pipeline_reco(r, &reco, err)))
            rc = oq_db_save_run(c->pg, reco, &run, NULL, err);
        oq_reco_free(reco);
        free(report);
        if (rc) {
            stage_fail(n, S_SAVE, err);
            return rc;
        }
        stage_end(n, S_SAVE, "run %lld in PostgreSQL (%zu recommendations)", n->run_id, r->n);
    }
    return 0;
}

/* The night's outcome as JSON into c->status (temp file + rename). A
 * failure to write it is reported and does not change the exit code. */
static void write_status(const night *n, int code)
{
    json_t *st = json_object(), *times = json_object();
    if (!st || !times) {
        json_decref(st);
        json_decref(times);
        return;
    }
    for (int s = 0; s < N_STAGES; s++)
        if (n->stage_ran[s]) json_object_set_new(times, stage_name[s], json_real(n->stage_s[s]));
    json_object_set_new(st, "run_id", n->run_id ? json_integer(n->run_id) : json_null());
    json_object_set_new(st, "status", json_string(code ? "failed" : "ok"));
    json_object_set_new(st, "exit_code", json_integer(code));
    json_object_set_new(st, "exit_class", json_string(exit_class(code)));
    json_object_set_new(st, "failed_stage",
                        n->failed >= 0 ? json_string(stage_name[n->failed]) : json_null());
    json_object_set_new(st, "error", n->failed >= 0 ? json_string(n->error) : json_null());
    json_object_set_new(st, "started_at", json_real(n->started_at));
    json_object_set_new(st, "finished_at", json_real(oq_unix_now()));
    json_object_set_new(st, "pid", json_integer(getpid()));
    json_object_set_new(st, "stage_seconds", times);
    json_object_set_new(st, "total_seconds", json_real(oq_now() - n->t0));
    json_object_set_new(st, "files_loaded", json_integer((json_int_t)n->files));
    json_object_set_new(st, "rows_loaded", json_integer((json_int_t)n->load.rows));
    json_object_set_new(st, "rows_new", json_integer((json_int_t)n->load.inserted));
    json_object_set_new(st, "rows_changed", json_integer((json_int_t)n->load.updated));
    json_object_set_new(st, "log_rows", json_integer((json_int_t)n->log_rows));
    json_object_set_new(st, "customers", json_integer((json_int_t)n->customers));
    json_object_set_new(st, "version", json_integer(n->version));
    json_object_set(st, "sequence_model", n->seq_status ? n->seq_status : json_null());
    oq_error err = {0};
    if (oq_json_write_atomic(n->c->status, st, &err)) {
        char buf[1200];
        oq_error_format(&err, buf, sizeof buf);
        say("warning: status file not written: %s", buf);
    }
    json_decref(st);
}

static int finish(night *n, int code)
{
    write_status(n, code);
    json_decref(n->seq_status);
    n->seq_status = NULL;
    if (code) {
        static const char *const hint[N_STAGES] = {
            "the model did not run; what is served is unchanged",
            "the run folder and what is served are unchanged",
            "the run folder and what is served are unchanged",
            "the run folder and what is served are unchanged",
            "the run is in its folder (and PostgreSQL); Redis serves the version before",
            "the run is live; only removing old runs failed"};
        char who[48] = "the night";
        if (n->run_id) snprintf(who, sizeof who, "run %lld", n->run_id);
        say("%s FAILED at %s after %.2f s (exit %d: %s); %s", who,
            n->failed >= 0 ? stage_name[n->failed] : "?", oq_now() - n->t0, code, exit_class(code),
            n->preflight     ? "Redis is asked before anything runs: nothing was run"
            : n->failed >= 0 ? hint[n->failed]
                             : "");
    } else {
        say("run %lld done in %.2f s", n->run_id, oq_now() - n->t0);
        printf("run %lld: ok\n", n->run_id);
    }
    return code;
}

static int run_night(const nightly_conf *c, int verbose, int pause_ms)
{
    night n = {.c = c, .verbose = verbose, .pause_ms = pause_ms, .failed = -1};
    oq_error err = {0};
    oq_log *log = NULL;
    oq_publish_opts po = {.prefix = c->prefix,
                          .timeout_ms = (int)c->redis_timeout_ms,
                          .wait_replicas = (int)c->wait_replicas,
                          .wait_timeout_ms = (int)c->wait_timeout_ms,
                          .pause_before_switch_ms = pause_ms};
    n.t0 = oq_now();
    n.started_at = oq_unix_now();
    stage_begin(&n);
    /* The run id: past every run folder, every Redis version and (ingest)
     * every PostgreSQL run, so that the three agree. */
    long long floor = oq_rundir_next_seq(c->dir);
    if (c->redis) {
        oq_publish_info pi;
        if (oq_publish_status(c->redis, &po, &pi, &err)) {
            n.preflight = 1;
            return finish(&n, stage_fail(&n, S_PUBLISH, &err));
        }
        if (pi.seq + 1 > floor) floor = pi.seq + 1;
        n.previous = pi.current;
    }
    if (c->pg) {
        if (ingest(&n, &log, floor, &err)) {
            oq_log_free(log);
            return finish(&n, stage_fail(&n, S_INGEST, &err));
        }
        stage_end(&n, S_INGEST,
                  "%zu file%s, %zu rows (%zu new, %zu changed, %zu already there); %zu log rows "
                  "read; run id %lld",
                  n.files, n.files == 1 ? "" : "s", n.load.rows, n.load.inserted, n.load.updated,
                  n.load.unchanged, n.log_rows, n.run_id);
    } else {
        n.run_id = floor;
        stage_end(&n, S_INGEST, "the log is %s (read by the run); run id %lld", c->log, n.run_id);
    }
    /* the run, then (before its folder switches) cross-selling and save */
    pause_between(&n);
    n.o = c->run;
    n.o.log_path = c->log;
    n.o.orders_path = c->orders;
    n.o.events_path = c->events;
    n.o.out_dir = c->dir;
    n.o.keep_runs = (int)c->keep_runs;
    n.o.quiet = !verbose;
    n.o.run_seq = (long)n.run_id;
    n.o.before_commit = before_commit;
    n.o.before_commit_ctx = &n;
    seq_warm_start(&n);
    oq_pipeline_result *r = NULL;
    int rc = oq_pipeline_run(&n.o, log, &r, &err);
    oq_log_free(log);
    oq_pipeline_result_free(r);
    if (rc) return finish(&n, n.failed >= 0 ? stage_exit[n.failed] : stage_fail(&n, S_RUN, &err));
    pause_between(&n);
    if (c->redis) {
        oq_publish_info info;
        po.run_id = n.run_id;
        if (oq_publish_dir(c->redis, c->dir, &po, &info, &err)) {
            if (info.current) { /* switched; the replicas' WAIT or the collection failed */
                n.version = info.current;
                say("version %lld is live; %s", info.current,
                    c->wait_replicas && info.acked < c->wait_replicas
                        ? "the replicas did not all acknowledge it"
                        : "removing old versions failed");
            }
            return finish(&n, stage_fail(&n, S_PUBLISH, &err));
        }
        n.version = info.current;
        stage_end(&n, S_PUBLISH, "version %lld live (%zu users; previous %lld)", info.current,
                  info.users, info.previous);
        if (info.current != n.run_id)
            say("warning: version %lld is not run %lld: something else published meanwhile",
                info.current, n.run_id);
    }
    int64_t deleted = 0;
    if (c->pg && c->pg_keep_runs > 0 && oq_db_prune_runs(c->pg, c->pg_keep_runs, &deleted, &err))
        return finish(&n, stage_fail(&n, S_PRUNE, &err));
    if (!c->pg)
        stage_end(&n, S_PRUNE, "the newest %ld run folders kept", c->keep_runs);
    else if (c->pg_keep_runs > 0)
        stage_end(&n, S_PRUNE,
                  "the newest %ld run folders kept; %lld old run%s deleted from PostgreSQL "
                  "(keeping %ld)",
                  c->keep_runs, (long long)deleted, deleted == 1 ? "" : "s", c->pg_keep_runs);
    else
        stage_end(&n, S_PRUNE,
                  "the newest %ld run folders kept; every run kept in PostgreSQL "
                  "([source] pg_keep_runs = 0)",
                  c->keep_runs);
    return finish(&n, NQ_OK);
}

/* ---- --check ---------------------------------------------------------------------------- */

typedef struct check_state {
    int code; /* the first failure's exit code */
    int fails;
} check_state;

static void checked(check_state *cs, int ok, int code, const char *fmt, ...) OQ_PRINTF(4, 5);
static void checked(check_state *cs, int ok, int code, const char *fmt, ...)
{
    va_list ap;
    char line[4800];
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized)
    va_end(ap);
    /* one line per check: a server's message may have several */
    for (char *p = line; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
    printf("%s %s\n", ok ? "ok  " : "FAIL", line);
    if (!ok) {
        cs->fails++;
        if (!cs->code) cs->code = code;
    }
}

static void check_readable(check_state *cs, const char *what, const char *path, int code)
{
    if (!path) return;
    FILE *fp = fopen(path, "r");
    checked(cs, fp != NULL, code, "%s %s %s%s", what, path,
            fp ? "readable" : "cannot be read: ", fp ? "" : strerror(errno));
    if (fp) fclose(fp);
}

/* The output folder: DIR a link (or absent) and its parent writable. */
static void check_output(check_state *cs, const nightly_conf *c)
{
    char parent[4096];
    snprintf(parent, sizeof parent, "%s", c->dir);
    char *slash = strrchr(parent, '/');
    if (!slash)
        snprintf(parent, sizeof parent, ".");
    else if (slash == parent)
        parent[1] = 0;
    else
        *slash = 0;
    struct stat st;
    char probe[4096];
    /* the nearest folder that exists must let us create the rest */
    snprintf(probe, sizeof probe, "%s", parent);
    while (stat(probe, &st) != 0) {
        char *s = strrchr(probe, '/');
        if (!s) {
            snprintf(probe, sizeof probe, ".");
            break;
        }
        if (s == probe) {
            probe[1] = 0;
            break;
        }
        *s = 0;
    }
    const char *p = probe;
    int ok = access(p, W_OK | X_OK) == 0;
    int is_link = lstat(c->dir, &st) == 0 && S_ISLNK(st.st_mode);
    int absent = lstat(c->dir, &st) != 0;
    checked(cs, ok, NQ_RUN, "output %s: %s; %s writable%s", c->dir,
            is_link  ? "a link to its newest run"
            : absent ? "no run yet"
                     : "a plain folder (an older offerq's run, or not offerq's: see the run)",
            p, ok ? "" : " NOT (the night could not write its run)");
    checked(cs, 1, 0, "next run folder number %ld, keep %ld", oq_rundir_next_seq(c->dir),
            c->keep_runs);
    /* The lock: free or held (a night is running now); neither is a
     * failure. Looked at without creating anything. */
    int fd = open(c->lock, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        checked(cs, errno == ENOENT, NQ_LOCKED, "lock %s: %s", c->lock,
                errno == ENOENT ? "free (no lock file yet)" : strerror(errno));
    } else if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
        checked(cs, 1, 0, "lock %s: free", c->lock);
    } else {
        char holder[128];
        ssize_t n = pread(fd, holder, sizeof holder - 1, 0);
        holder[n > 0 ? n : 0] = 0;
        holder[strcspn(holder, "\n")] = 0;
        checked(cs, 1, 0, "lock %s: held (%s): a night is running now", c->lock,
                holder[0] ? holder : "holder unknown");
    }
    if (fd >= 0) close(fd); /* and with it the flock: --check holds nothing */
}

static int run_check(const nightly_conf *c)
{
    check_state cs = {0};
    printf("config %s: read; the keys in effect:\n", c->path);
    nightly_conf_print(c, stdout);
    char shown[4200];
    oq_error err = {0};
    if (c->pg) {
        oq_db_url_redact(c->pg, shown, sizeof shown);
        oq_db_info di;
        if (oq_db_check(c->pg, &di, &err)) {
            char buf[1200];
            oq_error_format(&err, buf, sizeof buf);
            checked(&cs, 0, NQ_DB, "PostgreSQL %s: %s", shown, buf);
        } else if (!di.has_schema) {
            checked(&cs, 1, 0,
                    "PostgreSQL %s: server %s; no offerq tables yet (the night creates "
                    "them)",
                    shown, di.server_version);
        } else {
            char servers[64] = ""; /* a shard list (db.h): the log on all, runs on the first */
            if (di.shards > 1)
                snprintf(servers, sizeof servers, " (%d servers; runs on the first)", di.shards);
            checked(&cs, 1, 0,
                    "PostgreSQL %s: server %s%s; customer_log %lld rows, runs %lld (last %lld), "
                    "recommendations %lld",
                    shown, di.server_version, servers, (long long)di.log_rows, (long long)di.runs,
                    (long long)di.last_run_id, (long long)di.recommendations);
        }
        glob_t g;
        if (c->n_load) {
            if (expand_load(c, &g, &err)) {
                char buf[1200];
                oq_error_format(&err, buf, sizeof buf);
                checked(&cs, 0, NQ_DB, "load: %s", buf);
            } else {
                for (size_t i = 0; i < g.gl_pathc; i++)
                    check_readable(&cs, "load", g.gl_pathv[i], NQ_DB);
                globfree(&g);
            }
        }
    }
    check_readable(&cs, "log", c->log, NQ_RUN);
    check_readable(&cs, "orders", c->orders, NQ_RUN);
    check_readable(&cs, "events", c->events, NQ_RUN);
    check_readable(&cs, "model", c->run.model_path, NQ_RUN);
    if (c->xsell_argc > 1) {
        char **argv = NULL, table[4200];
        int argc = 0;
        snprintf(table, sizeof table, "%s/crosssell.oxq", c->dir);
        if (nightly_conf_xsell_argv(c, table, NULL, 1, &argv, &argc)) return NQ_INTERNAL;
        fflush(stdout);
        int rc = cli_crosssell_learn(argc, argv, CLI_CHECK_INPUTS);
        free(argv);
        checked(&cs, rc == 0, NQ_XSELL, "crosssell: the items and the rules (or baskets) %s",
                rc ? "cannot be used (above)" : "read");
    } else {
        checked(&cs, 1, 0, "crosssell: not configured (no [crosssell] key), skipped");
    }
    if (c->redis) {
        oq_redis_url_redact(c->redis, shown, sizeof shown);
        oq_publish_opts po = {.prefix = c->prefix, .timeout_ms = (int)c->redis_timeout_ms};
        oq_publish_info pi;
        if (oq_publish_status(c->redis, &po, &pi, &err)) {
            char buf[1200];
            oq_error_format(&err, buf, sizeof buf);
            checked(&cs, 0, NQ_PUBLISH, "Redis %s: %s", shown, buf);
        } else {
            checked(&cs, 1, 0,
                    "Redis %s: answered; prefix %s: current version %lld, previous %lld, last "
                    "claimed %lld",
                    shown, c->prefix ? c->prefix : OQ_PUBLISH_PREFIX, pi.current, pi.previous,
                    pi.seq);
        }
    } else {
        checked(&cs, 1, 0, "publish: no [publish] redis, the night does not publish");
    }
    check_output(&cs, c);
    if (cs.fails)
        printf("%d check%s failed: the night would fail (exit %d: %s)\n", cs.fails,
               cs.fails == 1 ? "" : "s", cs.code, exit_class(cs.code));
    else
        printf("all checks passed: the night can run\n");
    return cs.code;
}

/* A password in a file others can read is worth a word. */
static void warn_open_secrets(const nightly_conf *c)
{
    struct stat st;
    if (stat(c->path, &st) != 0 || !(st.st_mode & (S_IRGRP | S_IROTH))) return;
    for (size_t i = 0; i < c->n; i++) {
        const nightly_entry *e = &c->e[i];
        if (e->origin[0] == '$' || !e->value[0]) continue;
        char shown[4200];
        int secret = !strcmp(e->key, "password");
        if (!strcmp(e->key, "pg")) {
            oq_db_url_redact(e->value, shown, sizeof shown);
            secret = strcmp(shown, e->value) != 0;
        } else if (!strcmp(e->key, "redis")) {
            oq_redis_url_redact(e->value, shown, sizeof shown);
            secret = strcmp(shown, e->value) != 0;
        }
        if (secret) {
            say("warning: %s holds a password ([%s] %s) and others can read it (mode %03o): "
                "chmod 600 it, or give the password in the environment",
                c->path, e->section, e->key, (unsigned)(st.st_mode & 0777));
            return;
        }
    }
}

int cmd_nightly(int argc, char **argv)
{
    enum { O_CONFIG = 256, O_CHECK, O_VERBOSE, O_PAUSE, O_PRINT };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"config", required_argument, 0, O_CONFIG},
                                         {"check", no_argument, 0, O_CHECK},
                                         {"print-config", no_argument, 0, O_PRINT},
                                         {"verbose", no_argument, 0, O_VERBOSE},
                                         /* tests only: a pause before each stage */
                                         {"debug-pause-ms", required_argument, 0, O_PAUSE},
                                         {0, 0, 0, 0}};
    const char *path = getenv("OFFERQ_CONFIG");
    int check = 0, verbose = 0, c;
    long pause = 0;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_CONFIG:
            path = optarg;
            break;
        case O_CHECK:
            check = 1;
            break;
        case O_VERBOSE:
            verbose = 1;
            break;
        case O_PRINT:
            fputs(config_template, stdout);
            return fflush(stdout) || ferror(stdout) ? NQ_INTERNAL : 0;
        case O_PAUSE:
            if (cli_long("nightly", "--debug-pause-ms", optarg, 0, 600000, &pause)) return 2;
            break;
        default:
            return cli_bad_option("nightly");
        }
    }
    if (optind != argc) return cli_usage_error("nightly", "unexpected argument '%s'", argv[optind]);
    if (!path || !*path)
        return cli_usage_error("nightly", "--config FILE is required (or set OFFERQ_CONFIG)");
    nightly_conf cf;
    if (nightly_conf_load(&cf, path)) {
        say("the config %s was refused (exit %d); nothing was run", path, NQ_CONFIG);
        nightly_conf_free(&cf);
        return NQ_CONFIG;
    }
    warn_open_secrets(&cf);
    /* The password of the config reaches the Redis connection the way the
     * environment's does (publish.h); a password in the URL still wins. */
    if (cf.password && setenv("OFFERQ_REDIS_PASSWORD", cf.password, 1)) {
        nightly_conf_free(&cf);
        return NQ_INTERNAL;
    }
    /* A Redis that dies mid-publish: an error to report, not a silent death. */
    signal(SIGPIPE, SIG_IGN);
    int rc;
    if (check) {
        rc = run_check(&cf);
    } else {
        char holder[128], why[4400];
        int fd = take_lock(cf.lock, holder, sizeof holder, why, sizeof why);
        if (fd == -1) {
            say("another night is running (%s; lock %s): this one exits without doing anything "
                "(exit %d)",
                holder[0] ? holder : "holder unknown", cf.lock, NQ_LOCKED);
            rc = NQ_LOCKED;
        } else if (fd < 0) {
            say("%s (exit %d)", why, NQ_LOCKED);
            rc = NQ_LOCKED;
        } else {
            say("started, pid %ld (config %s; lock %s)", (long)getpid(), cf.path, cf.lock);
            rc = run_night(&cf, verbose, (int)pause);
            close(fd); /* the lock goes with it */
        }
    }
    nightly_conf_free(&cf);
    return rc;
}
