/* nightly_conf.h - the configuration file of `offerq nightly` (INI, read by
 * libinih) and its environment overrides.
 *
 *   [source]     where the log comes from: pg (a PostgreSQL URL; load = the
 *                CSV files loaded into it first) or log (a CSV file), and
 *                orders, events, pg_keep_runs
 *   [run]        any option of `offerq run` (seed, budget, reward, epochs...)
 *   [crosssell]  any option of `offerq crosssell learn` (items, rules, ...);
 *                no key: no cross-selling
 *   [publish]    redis (URL), password, prefix, timeout_ms; no redis: no
 *                publish
 *   [output]     dir (the run folder, a link into DIR.runs), keep_runs, lock,
 *                status
 *
 * Keys are written with '_' or '-' (plan_k = plan-k). An empty value leaves
 * the key unset (the default). Relative paths in the file are relative to
 * the file's folder. Every value is checked when the file is read: an
 * unknown section or key, a key set twice or a bad value is reported as
 * FILE:LINE with the key, and the file is refused.
 *
 * Environment (applied in this order over the file):
 *   OFFERQ_PG, OFFERQ_REDIS, OFFERQ_REDIS_PASSWORD
 *                 [source] pg, [publish] redis, [publish] password
 *   OFFERQ_<SECTION>_<KEY>
 *                 any key, e.g. OFFERQ_RUN_SEED=7, OFFERQ_OUTPUT_KEEP_RUNS=5
 *                 (a variable OFFERQ_<SECTION>_... that names no key is an
 *                 error: a typo would otherwise be ignored in silence)
 */
#ifndef OQ_NIGHTLY_CONF_H
#define OQ_NIGHTLY_CONF_H

#include <stddef.h>
#include "offerq/coupon/pipeline.h"

/* One key's value and where it came from. */
typedef struct nightly_entry {
    char section[16];
    char key[40];
    char *value;       /* owned; "" = unset */
    char *origin;      /* owned: "offerq.conf:12" or "$OFFERQ_RUN_SEED" */
    char *file_origin; /* owned: the file's line an environment variable overrode, or NULL */
} nightly_entry;

typedef struct nightly_conf {
    char path[4096]; /* the file as given */
    char base[4096]; /* its folder: relative paths in it start here */
    nightly_entry *e;
    size_t n, cap;
    int errors; /* problems reported while reading */

    /* The checked values (point into e[] or the buffers below). */
    const char *pg, *log, *orders, *events;
    char **load; /* patterns (glob(3)) of CSV files loaded into pg; n_load of them */
    size_t n_load;
    long pg_keep_runs; /* 0: keep every run in PostgreSQL */
    const char *redis, *password, *prefix;
    long redis_timeout_ms;
    long wait_replicas, wait_timeout_ms; /* [publish]: 0 = no WAIT (publish.h) */
    const char *dir;
    long keep_runs;
    char lock[4096], status[4096];
    /* `offerq run` and `crosssell learn` options from [run] / [crosssell]:
     * argv[0] is the command, then --key value ... (strings owned here). */
    char **run_argv, **xsell_argv;
    int run_argc, xsell_argc;
    oq_pipeline_opts run; /* run_argv parsed (its strings point into run_argv) */
} nightly_conf;

/* Read and check path, then the environment. Prints every problem on
 * stderr (FILE:LINE: [section] key: what is wrong) and returns nonzero if
 * there was any; *c is then still to be freed. */
int nightly_conf_load(nightly_conf *c, const char *path);
void nightly_conf_free(nightly_conf *c);

/* The effective entries, one a line ("[run] seed = 7  (offerq.conf:12)"),
 * passwords shown as ***. */
void nightly_conf_print(const nightly_conf *c, FILE *fp);

/* Build `crosssell learn`'s argument vector for outputs table and summary
 * (the [crosssell] keys after them). *argv: free with free() (its strings
 * belong to c). Returns 0 or -1 (out of memory). */
int nightly_conf_xsell_argv(const nightly_conf *c, const char *table, const char *summary,
                            int quiet, char ***argv, int *argc);

/* The key list of --help: sections and their keys, one section a line. */
void nightly_conf_help_keys(FILE *fp);

#endif
