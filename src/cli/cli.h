/* cli.h - shared helpers of the offerq command-line front end.
 * Each command lives in src/cli/cmd_<name>.c and is listed in main.c. */
#ifndef OQ_CLI_H
#define OQ_CLI_H

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
int cmd_crosssell(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_predict(int argc, char **argv);
int cmd_uplift(int argc, char **argv);

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

#endif
