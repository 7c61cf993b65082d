/* cli.h - shared helpers of the offerq command-line front end.
 * Each command lives in src/cli/cmd_<name>.c and is listed in main.c. */
#ifndef OQ_CLI_H
#define OQ_CLI_H

#include <getopt.h>
#include <stdint.h>
#include "offerq/core/error.h"

/* Commands: argv[0] is the command name. Return the process exit code. */
int cmd_gen(int argc, char **argv);
int cmd_summary(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_itemsets(int argc, char **argv);
int cmd_rock(int argc, char **argv);
int cmd_bgnbd(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_db(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_nightly(int argc, char **argv);
int cmd_crosssell(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_uplift(int argc, char **argv);
int cmd_convert(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_record(int argc, char **argv);
/* `offerq eval --contacts ...` (cmd_uplift.c) */
int cmd_uplift_eval(int argc, char **argv);

/* Print "offerq: error: <formatted err>" and a hint (may be NULL); returns 1. */
int cli_fail(const oq_error *err, const char *hint);
/* Print "offerq <cmd>: <msg>" and "Try 'offerq <cmd> --help'."; returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...) OQ_PRINTF(2, 3);
/* Parse option values strictly; on failure print a usage error and return -1. */
/* After getopt reported a bad option (it prints the reason): the help hint; returns 2. */
int cli_bad_option(const char *cmd);
int cli_long(const char *cmd, const char *opt, const char *s, long lo, long hi, long *out);
int cli_double(const char *cmd, const char *opt, const char *s, double lo, double hi, double *out);
int cli_u64(const char *cmd, const char *opt, const char *s, uint64_t *out);
/* The rule for every output path option (--out, --json, --plot, --out-dir):
 * "-" and "" are refused (output files are written whole to a temp file and
 * renamed into place; none goes to standard output), and so is a symbolic
 * link unless link_ok (the rename would replace the link, not write through
 * it; `run --out-dir` is a link to the newest run by design). On failure
 * prints a usage error and returns -1. */
int cli_out_path(const char *cmd, const char *opt, const char *path, int link_ok);

/* Part k of n of a log (`offerq split`, `mpirun ... run --parts`): the log's
 * path with its extension replaced by ".part-K-of-N.csv" (out, len). Its
 * sidecars follow the usual rule (STEM.part-K-of-N.orders.csv, ...).
 * Nonzero when it does not fit. */
int cli_part_path(const char *log, int k, int n, char *out, size_t len);

/* given when not NULL (a file the user named), else log's sidecar with
 * suffix (".orders.csv", ...) written into buf when that file exists, else
 * NULL. */
const char *cli_sidecar_or(const char *given, const char *log, const char *suffix, char *buf,
                           size_t len);

/* ---- what offerq nightly (cmd_nightly.c) shares with the commands it runs ---- */
struct oq_pipeline_opts;
/* `offerq run`'s long options, {0}-terminated (a [run] key of the nightly's
 * config is one of them). */
extern const struct option cli_run_options[];
/* Parse `offerq run`'s options (argv[0] is the command name) into *o (set to
 * the defaults first) and *pg (NULL unless --pg; several --pg are joined by
 * newlines into one shard list, db.h; malloc'ed, the caller frees it, also
 * on an error). The checks between --log, --pg and --out-dir are the
 * caller's. Returns 0, 2 after printing a usage error, or -1 after printing
 * --help. o's strings point into argv. */
int cli_run_parse(int argc, char **argv, struct oq_pipeline_opts *o, char **pg);
/* The same, as far as check says (CLI_CHECK_VALUES: each option's value,
 * not the options that need or exclude each other: offerq nightly checks
 * each [run] key alone, then all of them together with CLI_DO). */
int cli_run_parse_check(int argc, char **argv, struct oq_pipeline_opts *o, char **pg, int check);
/* One of the CLV options shared by run and eval: k 0..3 = --clv-weight,
 * --clv-days, --clv-discount, --clv-model with its argument, into *o
 * (struct oq_clv_opts, clv.h). 0, or 2 after the usage error. */
struct oq_clv_opts;
int cli_clv_option(const char *cmd, int k, const char *arg, struct oq_clv_opts *o);
/* After parsing: the CLV term's shape options without --clv-weight are a
 * usage error (they would do nothing). 0, or 2 after the message. */
int cli_clv_check(const char *cmd, const struct oq_clv_opts *o);
/* `offerq crosssell learn`'s long options, {0}-terminated. */
extern const struct option cli_xsell_learn_options[];
/* How far a command goes when offerq nightly checks its options: */
enum {
    CLI_DO = 0,           /* the whole command */
    CLI_CHECK_VALUES = 1, /* each option's value, then stop */
    CLI_CHECK_ARGS = 2,   /* and the options required or excluding each other */
    CLI_CHECK_INPUTS = 3  /* and read the input files (nothing is written) */
};
/* `offerq crosssell learn` (argv[0] = "learn"), as far as check says.
 * Returns the exit code (0, 1 error, 2 usage). */
int cli_crosssell_learn(int argc, char **argv, int check);
/* While context is set (not NULL), cli_usage_error and cli_bad_option print
 * "offerq nightly: <context>: <message>" and no --help hint: the options
 * come from a config file's key, named by context. */
void cli_set_context(const char *context);

#endif
