/* pipeline.h - the nightly coupon job (`offerq run`) as explicit stages over
 * one job context:
 *
 *   ingest        read the log, index it by customer, derive every customer's
 *                 snapshot of tomorrow (oq_log_tomorrow, data.h)
 *   alive         BG/NBD P(alive) on the purchases (alive.h)
 *   reward_fit    the reward model r^ (reward.h: response, transformer or
 *                 empirical)
 *   reward_score  r~ = P(alive) x r^ of every log row and of every customer
 *                 tomorrow, and tomorrow's P(order | coupon) for the spend
 *   value         Dyna-Q over the log's rows with r~ as the reward (dynaq.h)
 *   plan          the budget plan over tomorrow's r~ (oq_budget_plan)
 *   write         the run's files
 *
 * Each stage adds its own section to report.json.
 *
 * Outputs of oq_pipeline_run with out_dir set, written into a fresh folder
 * that is switched into place whole when the last file is written (out_dir
 * becomes a link to out_dir.runs/<run>, oq_rundir in io.h), so readers and
 * crashes see the previous run or this one, never a mix:
 *   recommendations.csv  user_id,snapshot_date,state,coupon,expected_profit,p_alive
 *   qtable.ofq           the Q table (oq_qtable_save)
 *   params.json          every setting of the run
 *   report.json          timings per stage, Dyna-Q losses, epsilon schedule, spend
 *   learning_curve.svg   mean |TD error| of real steps over training
 *   bgnbd.json           the BG/NBD fit (oq_bgnbd_params_save, per day): what
 *                        `offerq serve --dir` answers /v1/alive with
 *   model.ofq            the profit Transformer or the sequence model, when this
 *                        run trained one (from scratch or warm-started)
 */
#ifndef OFFERQ_PIPELINE_H
#define OFFERQ_PIPELINE_H

#include <stddef.h>
#include <stdint.h>
#include "offerq/core/data.h"
#include "offerq/core/error.h"
#include "offerq/coupon/clv.h"
#include "offerq/coupon/dynaq.h"
#include "offerq/coupon/pmodel.h"
#include "offerq/coupon/reco.h"
#include "offerq/coupon/reward.h"

struct json_t; /* jansson's */
struct oq_pipeline_result;

/* ---- the run ------------------------------------------------------------------------- */

typedef struct oq_pipeline_opts {
    const char *log_path;    /* read when no log is passed to oq_pipeline_run */
    const char *out_dir;     /* NULL: compute in memory, write nothing */
    int keep_runs;           /* runs kept in out_dir.runs (the newest); 0: 3 */
    const char *orders_path; /* purchases for BG/NBD; NULL: log_path's sidecar rule (alive.h) */
    int reward;              /* OQ_REWARD_* (reward.h): RESPONSE (default), TRANSFORMER,
                                SEQUENCE, EMPIRICAL (the logged mean per state x coupon) */
    const char *events_path; /* events for the profit model; NULL: log_path's sidecar rule */
    const char *model_path;  /* reuse this profit or sequence model; NULL: train one (saved
                                as DIR/model.ofq) */
    const char *warm_start;  /* sequence model: warm-start from this model (yesterday's
                                run's model.ofq) with a short training, saved as
                                DIR/model.ofq; NULL: train from scratch */
    int warm_fallback;       /* 1: train from scratch when warm_start cannot be used */
    int cold_start;          /* 1: no warm start (offerq nightly's own is then off) */
    int profit_epochs;       /* 0: the model's default (Transformer 3 epochs, the sequence
                                model at most 10 with early stopping) */
    const struct oq_seq_opts *seq; /* the sequence model's options; NULL: defaults (seq.h)
                                      with seq_len */
    int seq_len;           /* the sequence model's days of history when seq is NULL; 0: 30 */
    int seq_state_full;    /* 1: the sequence model's state features also hold the response
                              model's 12 (`offerq run --seq-state full`; seq.h n_extra_state)
                              when seq is NULL */
    int shards;            /* 1. N > 1 with the response reward: the run in N parts,
                              threads of this process (oq_pipeline_run_part); with
                              another reward: N Dyna-Q shards trained in parallel and
                              merged (oq_dynaq_train_sharded), the rest on the whole log */
    int continuation;      /* 0 (default): plan on tomorrow's r~; 1: add Dyna-Q's
                              gamma E[V(s') | s, a] (see oq_pipeline_run) */
    oq_clv_opts clv;       /* clv.weight != 0: add the future value of the orders a
                              coupon causes (clv.h) to the plan's values; default 0 */
    double budget;         /* money available for tomorrow's coupons; INFINITY = none */
    oq_pmodel_opts pmodel; /* the response model's P(order) learner (pmodel.h); its seed
                              and quiet are taken from dq.seed and quiet */
    int features;          /* the response model's features, OQ_RESP_FEATURES_* (response.h):
                              ALL (0, default), NO_EVIDENCE or RAW (without the features
                              built around the generator's story) */
    int seq_features;      /* response: the sequence model's cross-fitted logits as 4 more
                              inputs of the trees (reward.h, oq_reward_input.seq_features) */
    oq_dynaq_disc disc;
    oq_dynaq_config dq; /* dq.seed, dq.faithful, ... */
    int quiet;
    long run_seq; /* > 0: the run folder's number (oq_rundir.seq, io.h), e.g. a run id
                     shared with PostgreSQL and Redis; 0: the next free number */
    /* Called (when set, with out_dir) once every file of the run is written,
     * before the folder is switched into place: it may add files to the
     * folder run_path (a cross-selling table, ...) or record the run
     * elsewhere (a database). An error from it aborts the run: the folder
     * is removed, out_dir is unchanged, oq_pipeline_run returns that error. */
    int (*before_commit)(void *ctx, const struct oq_pipeline_result *r, const char *run_path,
                         oq_error *err);
    void *before_commit_ctx;
    /* A run in parts (oq_pipeline_run_part) with 1: part 0's result keeps
     * only its own customers (r->n; r->n_all and r->per_coupon count every
     * part's) and recommendations.csv is written by a merge of the parts'
     * lists streamed to part 0 in chunks of OQ_PIPELINE_MERGE_ROWS rows a
     * part, so no part holds the whole list (MPI ranks). 0: part 0's result
     * holds every customer (threads, whose callers use the list). */
    int stream_list;
} oq_pipeline_opts;

#define OQ_PIPELINE_MERGE_ROWS 4096

void oq_pipeline_opts_default(oq_pipeline_opts *o);

enum {
    OQ_STAGE_INGEST,
    OQ_STAGE_ALIVE,
    OQ_STAGE_REWARD_FIT,
    OQ_STAGE_REWARD_SCORE,
    OQ_STAGE_VALUE,
    OQ_STAGE_PLAN,
    OQ_STAGE_WRITE,
    OQ_N_STAGES
};

typedef struct oq_pipeline_result {
    size_t n;                      /* customers (part 0 of a streamed run: its own) */
    size_t n_all;                  /* customers of every part */
    size_t per_coupon[4];          /* customers of every part given each coupon */
    int64_t *user_id;              /* (n) */
    uint64_t *state;               /* (n) tomorrow's state key */
    int *coupon;                   /* (n) recommended coupon (OQ_COUPON_*) */
    double *expected_profit;       /* (n) r~ of the recommended coupon, tomorrow */
    double *values;                /* (n, 4) r~ of each coupon (none, 5, 10, 20), tomorrow */
    double *p_alive;               /* (n) */
    double *clv_term;              /* (n, 4) what --clv-weight added to each coupon's value
                                      (clv.h; 0 for none); NULL without it */
    int from_q;                    /* customers whose state was in the Q table */
    int32_t tomorrow;              /* last log day + 1 */
    double plan_value, plan_spend; /* objective and expected spend of the plan */
    double stage_s[OQ_N_STAGES];
    double started_at; /* Unix time the run began (report.json "run") */
    size_t log_rows;   /* rows of the log read */
    char scorer_name[256];
    int baseline;          /* 1: r^ is the empirical baseline, not a fitted model */
    int reward;            /* OQ_REWARD_* used */
    struct json_t *report; /* report.json without the timings (owned) */
    struct json_t *comm;   /* report.json's "parts" of a partitioned run, or NULL (owned) */
    oq_dynaq_stats stats;
    oq_qtable *q; /* owned */
} oq_pipeline_result;

const char *oq_pipeline_stage_name(int stage);

/* Run the job. log may be NULL (then o->log_path is read). Tomorrow's state
 * of each customer is derived from its latest snapshot (days since the last
 * purchase advanced to tomorrow; other features carried over). The plan
 * maximises sum over customers of value_i(c) = r~_i(c), tomorrow's expected
 * reward of customer i under coupon c, or with o->continuation
 * r~_i(c) + gamma E[max_a Q(s', a) | s_i, c] (the mean over the log's real
 * steps from state s_i with coupon c; 0 at a customer's last row), subject
 * to expected coupon spend sum_i P(order | c) c <= budget (oq_budget_plan;
 * P(order) from the reward model, else P(alive) x the empirical estimate).
 * The continuation is off by default: on the generated logs coupons have no
 * lasting effect, and Dyna-Q's state-level continuation credits the coupon
 * with the value of being a recent buyer (docs/readme/dynaq.md measures it).
 * Seed-faithful runs plan with argmax Q (0 for unseen states) as the seed.
 * *out owned by the caller (oq_pipeline_result_free). */
int oq_pipeline_run(const oq_pipeline_opts *o, const oq_log *log, oq_pipeline_result **out,
                    oq_error *err) OQ_WUR;
void oq_pipeline_result_free(oq_pipeline_result *r);

/* The parts oq_pipeline_run splits o's job into: o->shards with the response
 * reward, else 1. */
int oq_pipeline_parts(const oq_pipeline_opts *o);

/* One part of a partitioned run (comm.h; collective: every part calls it
 * with the same o). The part holds the customers of hash shard rank of
 * size (the log's rows: read from o->log_path keeping only its own, or
 * taken from log when given) and every fit is a sum over the parts added
 * in rank order (docs/readme/mpi.md), so a run in N parts gives the same
 * files whether the parts are threads (oq_pipeline_run with o->shards = N)
 * or the ranks of `mpirun -np N`. Part 0 writes the run folder, after every
 * part is done; *out on part 0 holds every customer, on the others their
 * own. comm NULL: the one-process job. A part that fails must call
 * oq_comm_fail (the thread runner and the MPI front end do). Only the
 * response reward runs in parts (OQ_EINVAL otherwise). */
struct oq_comm;
int oq_pipeline_run_part(const oq_pipeline_opts *o, struct oq_comm *comm, const oq_log *log,
                         oq_pipeline_result **out, oq_error *err) OQ_WUR;

/* The day's list of a result as an oq_reco (the rows of recommendations.csv,
 * in full precision), sorted by user. *out: oq_reco_free. OQ_ENOMEM. */
int oq_pipeline_reco(const oq_pipeline_result *r, oq_reco **out, oq_error *err) OQ_WUR;
/* report.json's text of a result (malloc'ed, caller frees); NULL if out of
 * memory. */
char *oq_pipeline_report_text(const oq_pipeline_opts *o, const oq_pipeline_result *r);

#endif
