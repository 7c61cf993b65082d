/* main.c - the offerq command-line program: dispatch to src/cli/LAYER/cmd_*.c. */
#include "cli/cli.h"
#include "offerq/version.h"

#include <gsl/gsl_errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef OFFERQ_VERSION
#endif

typedef struct command {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"gen", cmd_gen, "generate a ground-truth example log (+ events, orders, truth)"},
    {"summary", cmd_summary, "validate a customer log and print its statistics"},
    {"rules", cmd_rules, "mine positive and negative association rules from baskets"},
    {"itemsets", cmd_itemsets, "frequent, closed and maximal itemsets of baskets"},
    {"rock", cmd_rock, "ROCK clustering of categorical records (Guha et al. 1999)"},
    {"bgnbd", cmd_bgnbd, "BG/NBD customer-alive model: fit, score (P(alive), purchases)"},
    {"run", cmd_run, "nightly coupon job: Dyna-Q + budget plan -> recommendations"},
    {"eval", cmd_eval, "true and off-policy value of a run's coupon policy"},
    {"convert", cmd_convert, "a generated log as raw tables (contacts, customers, orders, ...)"},
    {"record", cmd_record,
     "a run's offers and the orders since, as contacts keeping the propensity"},
    {"split", cmd_split, "a log and its sidecars in N parts by customer, for mpirun ... --parts"},
    {"uplift", cmd_uplift, "your own campaign log: learned offer policy + IPS/DR estimates"},
    {"db", cmd_db, "PostgreSQL: the schema, load a log or raw tables, save a run"},
    {"publish", cmd_publish, "Redis: publish a run's Q table and list atomically, or roll back"},
    {"serve", cmd_serve, "HTTP: recommendations, model endpoints, metrics and the dashboard"},
    {"nightly", cmd_nightly,
     "the whole night from a config file: ingest, run, publish, under a lock"},
    {"crosssell", cmd_crosssell, "dynamic cross-selling: K-Q-learning, simulator, offers"},
    {"train", cmd_train, "train the profit Transformer on a log (+ events stream)"},
    {"predict", cmd_predict, "predict the reward of every coupon with a trained model"},
};

static void usage(FILE *fp)
{
    fprintf(fp,
            "offerq %s - learns which offer to make to whom, from a shop's own logs\n\n"
            "Usage: offerq <command> [options]   (offerq <command> --help for details)\n\n"
            "Commands:\n",
            OFFERQ_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(fp, "  %-10s %s\n", commands[i].name, commands[i].summary);
    fprintf(fp, "\nEnvironment:\n"
                "  OMP_WAIT_POLICY   idle OpenMP threads sleep (passive) unless this or\n"
                "                    GOMP_SPINCOUNT is set; OMP_WAIT_POLICY=active spins\n"
                "  OMP_NUM_THREADS   threads of the parallel loops (default: all cores)\n");
    fprintf(fp, "\nExample:\n"
                "  offerq gen --seed 1 --out example/log.csv\n"
                "  offerq summary example/log.csv\n");
}

/* Idle OpenMP threads sleep by default instead of spinning. libgomp (also
 * OpenBLAS's threads: Debian's openblas-openmp) spins 300,000 rounds after
 * every parallel region unless OMP_WAIT_POLICY=passive; on a shared cron host
 * that burnt 8.6 s CPU for 2.8 s of work and slowed the run 3x (issue 18).
 * libgomp reads its environment once, in a constructor that runs before
 * main, so a setenv here alone would change nothing: when the user set
 * neither OMP_WAIT_POLICY nor GOMP_SPINCOUNT, set OMP_WAIT_POLICY=passive and
 * exec this same program again (same pid, arguments and environment plus the
 * variable; a few ms). If the exec fails, run on (spinning) rather than stop.
 * Setting either variable, to any value, skips this. */
static void omp_passive_by_default(char **argv)
{
    if (getenv("OMP_WAIT_POLICY") || getenv("GOMP_SPINCOUNT")) return;
    if (setenv("OMP_WAIT_POLICY", "passive", 1)) return;
    execv("/proc/self/exe", argv);
}

int main(int argc, char **argv)
{
    omp_passive_by_default(argv);
    /* GSL's default handler aborts the process; we check status codes instead. */
    gsl_set_error_handler_off();
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        printf("offerq %s\n", OFFERQ_VERSION);
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "offerq: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
