/* evaluate.h - honest evaluation of coupon policies on a generated log.
 *
 * A log written by `offerq gen` has a truth sidecar (<stem>.truth.json) from
 * which every customer can be re-simulated (gen.h). With it we compute the
 * TRUE expected next-day (end_day + 1) profit and coupon spend of any policy
 * (a coupon per customer): no coupon, each fixed coupon, the random logging
 * policy, the seed-faithful Dyna-Q, offerq's plan, and the oracle (best
 * coupon per customer under the truth).
 *
 * Off-policy evaluation from the log alone (no truth): the logging policy's
 * propensities mu(a) (truth.json "logging_propensity") let us estimate the
 * mean reward per contact of a target policy pi over the logged contexts:
 *   IPS (Horvitz & Thompson 1952): V = 1/n sum_i 1[pi_i = a_i] r_i / mu(a_i)
 *   DR  (Dudik, Langford & Li 2011, eq. 3):
 *       V = 1/n sum_i [ qhat(x_i, pi_i) + 1[pi_i = a_i] (r_i - qhat(x_i, a_i)) / mu(a_i) ]
 * next to the true value 1/n sum_i E[r | x_i, pi_i] from oq_gen_contact_truth.
 */
#ifndef OFFERQ_EVALUATE_H
#define OFFERQ_EVALUATE_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"
#include "offerq/coupon/calib.h"
#include "offerq/coupon/gen.h"

struct oq_comm;
struct oq_part;

/* Tomorrow's truth of every customer of a generated log, or of one part's
 * customers (oq_truth_build_part). Its "held" customers are its rows: every
 * array below and every policy passed to the functions here has one entry
 * per held customer, in customer order. */
typedef struct oq_truth {
    oq_gen_config cfg;
    size_t n;       /* customers; customer idx has user_id idx + 1 */
    size_t m;       /* customers held: n, or a part's */
    size_t *idx;    /* (m) the held customers' indices, ascending; NULL: every one (m = n) */
    double *reward; /* (m, 4) expected net reward of each coupon on end_day + 1 */
    double *spend;  /* (m, 4) expected coupon spend */
    int *alive;     /* (m) alive on end_day + 1 */
} oq_truth;

/* Load truth.json and re-simulate every customer (OpenMP-parallel). *out
 * owned by the caller (oq_truth_free). OQ_EPARSE / OQ_EIO / OQ_ENOMEM. */
int oq_truth_build(const char *truth_path, oq_truth **out, oq_error *err) OQ_WUR;
/* Only the customers (user_id idx + 1) that part keeps (comm.h; NULL: all). */
int oq_truth_build_part(const char *truth_path, const struct oq_part *part, oq_truth **out,
                        oq_error *err) OQ_WUR;
void oq_truth_free(oq_truth *t);
/* The row of customer user_id u in t, or -1 when t does not hold it. */
long oq_truth_row(const oq_truth *t, int64_t u);

/* True expected profit and spend of policy coupon (m) (OQ_COUPON_*), summed
 * over t's customers in their order. */
void oq_truth_value(const oq_truth *t, const int *coupon, double *profit, double *spend);
/* Of the policy that draws coupon c with probability p[c] for everyone. */
void oq_truth_value_random(const oq_truth *t, const double *p, double *profit, double *spend);
/* The oracle: best coupon per customer; coupon (m) may be NULL. */
void oq_truth_oracle(const oq_truth *t, int *coupon, double *profit, double *spend);

/* Read a recommendations CSV (needs columns user_id and coupon) into a
 * policy over n customers: coupon[uid - 1]; customers not listed get none.
 * OQ_EPARSE with file:line:col on a bad id (outside 1..n) or coupon. */
int oq_policy_read_csv(const char *path, size_t n, int *coupon, oq_error *err) OQ_WUR;
/* Same, and state[uid - 1] = a 64-bit hash of the "state" column (0 for
 * customers not listed, or when the column is missing). */
int oq_policy_read_csv_states(const char *path, size_t n, int *coupon, uint64_t *state,
                              oq_error *err) OQ_WUR;
/* The best policy that depends only on the state: for each distinct state
 * (m) the coupon with the largest total true reward over its customers. A
 * ceiling for any policy over these states. coupon (m) out. OQ_ENOMEM. */
int oq_truth_state_oracle(const oq_truth *t, const uint64_t *state, int *coupon,
                          oq_error *err) OQ_WUR;
/* The same over the customers of every part of a job (comm.h; collective;
 * NULL: oq_truth_state_oracle): each part's sums per state (over its
 * customers in order) are gathered on every part and added in rank order. */
int oq_truth_state_oracle_part(const oq_truth *t, const uint64_t *state, int *coupon,
                               struct oq_comm *comm, oq_error *err) OQ_WUR;
/* oq_policy_read_csv_states into t's rows: coupon and state (m) of the
 * customers t holds (the others' lines are checked and skipped). */
int oq_truth_read_policy(const oq_truth *t, const char *path, int *coupon, uint64_t *state,
                         oq_error *err) OQ_WUR;

/* ---- off-policy evaluation ---------------------------------------------------------- */

/* True expected reward of every log row under each coupon, (n, 4), by
 * matching the log's rows with oq_gen_contact_truth on (user_id, day).
 * OQ_EINVAL when the log does not match its truth. */
int oq_truth_contacts(const oq_gen_config *cfg, const oq_log *log, double *true_reward,
                      oq_error *err) OQ_WUR;

typedef struct oq_ope {
    size_t rows, matched; /* rows, rows whose logged coupon equals pi's */
    double truth;         /* true mean reward per contact (NAN if unknown) */
    double ips, ips_se;   /* estimate and its standard error */
    double dr, dr_se;     /* NAN when no reward model is given */
} oq_ope;

/* IPS and DR estimates of target policy pi (n rows, a coupon per log row)
 * from the logged coupons and rewards with propensities mu (4). qhat (n, 4)
 * is the DR reward model (NULL: DR skipped); true_reward (n, 4) fills
 * out->truth (NULL: NAN). OQ_EINVAL on a zero propensity of a logged coupon. */
int oq_ope_estimate(const oq_log *log, const double *mu, const int *pi, const double *qhat,
                    const double *true_reward, oq_ope *out, oq_error *err) OQ_WUR;
/* The same over the rows of every part of a job (comm.h; collective; NULL:
 * oq_ope_estimate): log, pi, qhat and true_reward are this part's rows; the
 * sums (rows, matches, and the estimates' sums and sums of squares) are
 * added over the parts in rank order. */
int oq_ope_estimate_part(const oq_log *log, const double *mu, const int *pi, const double *qhat,
                         const double *true_reward, struct oq_comm *comm, oq_ope *out,
                         oq_error *err) OQ_WUR;

/* ---- `offerq eval`: everything above on one run directory ---------------------------- */

#define OQ_EVAL_MAX_POLICIES 12
#define OQ_COMM_MAX_EVAL 64 /* OQ_COMM_MAX (comm.h) */
typedef struct oq_eval_policy {
    char name[32];
    double profit, spend;        /* true expected next-day totals */
    double pct_of_oracle_uplift; /* oq_eval_pct_of_uplift; NAN: undefined */
} oq_eval_policy;

/* 100 (profit - none) / (oracle - none): a policy's share of the oracle's
 * uplift over no coupon; NAN when the oracle gains nothing (oracle - none
 * <= 1e-9 (1 + |none|)), as on a log without a coupon effect. */
double oq_eval_pct_of_uplift(double profit, double none, double oracle);

typedef struct oq_eval_report {
    size_t customers;
    oq_eval_policy pol[OQ_EVAL_MAX_POLICIES];
    int npol;
    oq_ope ope[OQ_EVAL_MAX_POLICIES]; /* per-row policies: offerq Q-greedy, each fixed coupon */
    char ope_name[OQ_EVAL_MAX_POLICIES][32];
    int nope;
    int scorer_baseline; /* the run's r^ was the empirical baseline */
    char scorer[256];
    int log_only; /* no truth file: only the off-policy estimates, propensities = shares */
    /* a response-model run: its P(order | logged coupon) of every log row,
     * cross-fitted (2 folds by customer), binned against the orders */
    int has_calib;
    oq_calib calib;
    /* a job in parts (oq_eval_run_part): the bytes each part gave to
     * collectives in each stage (OQ_EVAL_STAGE_*; on part 0, every part's;
     * not in the JSON, which is the same whatever the transport) */
    int parts;
    uint64_t bytes[OQ_COMM_MAX_EVAL][4];
} oq_eval_report;

/* eval's stages in parts: the seed-faithful re-run (a run in parts), the
 * policies' totals (and the state oracle's per-state sums), the OPE models
 * (BG/NBD, the response model, the two cross-fitted P(order) learners, the
 * DR model), the OPE sums and the calibration's predictions. */
enum { OQ_EVAL_STAGE_RERUN, OQ_EVAL_STAGE_POLICIES, OQ_EVAL_STAGE_MODELS, OQ_EVAL_STAGE_OPE };
const char *oq_eval_stage_name(int stage);

/* Evaluate run_dir (recommendations.csv, qtable.ofq, params.json of
 * `offerq run`) on its log against the truth (truth_path NULL: the log's
 * sidecar <stem>.truth.json). Policies: none, 5, 10, 20, random (logging
 * propensities), seed-faithful (re-run in memory with the run's settings),
 * offerq (the run's recommendations), oracle. OPE of the run's Q-greedy
 * per-row policy and of each fixed coupon, DR with the empirical reward model.
 * Without a truth file (truth_path NULL and no sidecar): the off-policy
 * estimates alone, each coupon's share of the log as its propensity, and
 * out->log_only = 1. quiet: no progress. */
int oq_eval_run(const char *log_path, const char *run_dir, const char *truth_path, int quiet,
                oq_eval_report *out, oq_error *err) OQ_WUR;
/* One part of the evaluation in parts (comm.h; collective; NULL: oq_eval_run):
 * the part reads only its customers' rows of the log and their truth, re-runs
 * the seed-faithful loop as a run in parts (oq_pipeline_run_part), fits the
 * cross-fitted P(order) learners on samples gathered to part 0 (as the run's
 * response model) and the DR model by sums; every total is a sum over the
 * parts in rank order, so N parts give the same report as threads
 * (oq_eval_run_parts) or as MPI ranks. Part 0's *out is the report (the
 * calibration table only there). Only a run of the response reward (the
 * default) is evaluated in parts (OQ_EINVAL otherwise). */
int oq_eval_run_part(const char *log_path, const char *run_dir, const char *truth_path, int quiet,
                     struct oq_comm *comm, oq_eval_report *out, oq_error *err) OQ_WUR;
/* oq_eval_run_part in parts threads of this process (1..OQ_COMM_MAX; 1:
 * oq_eval_run): `offerq eval --shards N`. */
int oq_eval_run_parts(const char *log_path, const char *run_dir, const char *truth_path, int quiet,
                      int parts, oq_eval_report *out, oq_error *err) OQ_WUR;
/* Print the table of r to fp (a FILE *); an undefined percentage is "n/a". */
void oq_eval_print(const oq_eval_report *r, void *fp);
/* Write r as JSON {"policies":[{name, profit, spend, pct_of_oracle_uplift}],
 * "ope": {...}} atomically to path; a non-finite number is null (every
 * policy is written). */
int oq_eval_write_json(const oq_eval_report *r, const char *path, oq_error *err) OQ_WUR;

#endif
