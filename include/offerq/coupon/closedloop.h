/* closedloop.h - closed-loop evaluation: policies played forward for H days
 * in the true world of a generated log (`offerq eval --horizon H`).
 *
 * From the log's last day every customer continues in the world of the
 * truth sidecar (gen.h, oq_gen_live_*): each day a customer is reached with
 * the world's contact rate, the policy's coupon for that customer is shown,
 * the world answers, and the log, its orders and its events grow by what
 * happened. Every (customer, day) has its own random stream, drawn whatever
 * the policy did, so all policies meet the same customers on the same days
 * with the same luck (common random numbers). The lasting effects of the
 * world (lapse, deal-proneness, weekly rhythm, campaign budget) carry each
 * day's decisions into the days after.
 *
 * Policies:
 *   none, 5, 10, 20   a fixed coupon for everyone
 *   random (logging)  the log's logging propensities
 *   myopic            offerq's nightly job (pipeline.h) with the one-step plan
 *                     over tomorrow's r~ (continuation off), re-run on the
 *                     grown log every refit_every days
 *   dyna-q            the same job with Dyna-Q's continuation value added
 *                     to r~ (opts->continuation = 1): the value of a coupon
 *                     is r~ plus gamma E[V(s')] learned from the log. Not
 *                     the default: it earns less than myopic so far
 *                     (docs/readme/dynaq.md)
 *   clv               (only with opts->job.clv.weight > 0) myopic's job with
 *                     the CLV term added to r~ (clv.h): the caused change in
 *                     P(order) times the BG/NBD future value of an order
 *   truth-myopic      the coupon with the best true expected reward today
 *                     (the world's state, no look-ahead)
 *   oracle            one step of policy improvement over truth-myopic by
 *                     rollouts (Bertsekas & Tsitsiklis 1996, §6.1; Tesauro &
 *                     Galperin 1997): for a reached customer, each coupon is
 *                     scored by the mean true net profit over `rollouts`
 *                     simulated futures to the end of the horizon (truth-
 *                     myopic afterwards, its own random streams, common across
 *                     the coupons), and the best is shown. In expectation it
 *                     is at least as good as truth-myopic (policy improvement).
 * A coupon is not shown when the campaign budget left cannot pay it
 * (lasting.campaign_budget); unspent budget is lost at the end.
 * Profit = the sum over the H days and every customer of the day's true
 * expected net profit (gross profit minus redeemed coupons) given the
 * customer's state that morning and the coupon shown; states move by the
 * realised world. Expected rather than realised orders remove each day's
 * own noise, so policies differ by their decisions, not by luck. Spend is
 * the expected coupon spend the same way; the campaign budget is charged
 * with the realised redemptions.
 */
#ifndef OFFERQ_CLOSEDLOOP_H
#define OFFERQ_CLOSEDLOOP_H

#include "offerq/core/error.h"
#include "offerq/coupon/pipeline.h"

#define OQ_LOOP_MAX_POLICIES 12

typedef struct oq_loop_opts {
    int horizon;          /* days played, 30 */
    int refit_every;      /* days between re-runs of the nightly job, 1 */
    int rollouts;         /* oracle rollouts per coupon, 32 */
    int skip_job;         /* 1: leave out myopic and offerq (truth policies only) */
    oq_pipeline_opts job; /* the nightly job's settings (log_path etc. are set here) */
    const char *tmp_dir;  /* where the grown log is written; NULL: $TMPDIR or /tmp */
    int quiet;
} oq_loop_opts;

void oq_loop_opts_default(oq_loop_opts *o);

typedef struct oq_loop_policy {
    char name[32];
    double profit;               /* true net profit over the horizon */
    double spend;                /* coupons redeemed */
    double pct_of_oracle_uplift; /* oq_eval_pct_of_uplift against none and oracle */
    double seconds;              /* time the policy's loop took */
} oq_loop_policy;

typedef struct oq_loop_report {
    int horizon;
    long customers;
    double budget; /* campaign budget (0: none) */
    oq_loop_policy pol[OQ_LOOP_MAX_POLICIES];
    int npol;
} oq_loop_report;

/* Play every policy for o->horizon days after the log at log_path in the
 * world of truth_path (NULL: the log's sidecar). OQ_EPARSE / OQ_EIO /
 * OQ_ENOMEM, or the nightly job's error. */
int oq_loop_run(const char *log_path, const char *truth_path, const oq_loop_opts *o,
                oq_loop_report *out, oq_error *err) OQ_WUR;
/* One part of the closed loop in parts (comm.h; collective; NULL:
 * oq_loop_run): the part plays its customers (hash shard of user_id) and
 * keeps their lines of the log and its sidecars; the nightly job is re-run
 * as a run in parts (oq_pipeline_run_part, after oq_log_share_cats), and the
 * policies' totals are summed over the parts in rank order, so N parts give
 * the same report as threads (oq_loop_run_parts) or MPI ranks, timings
 * aside. A world with a campaign budget is refused (OQ_EINVAL): its spend is
 * charged customer after customer. Part 0's *out is the report. */
struct oq_comm;
int oq_loop_run_part(const char *log_path, const char *truth_path, const oq_loop_opts *o,
                     struct oq_comm *comm, oq_loop_report *out, oq_error *err) OQ_WUR;
/* oq_loop_run_part in parts threads of this process (1..OQ_COMM_MAX; 1:
 * oq_loop_run): `offerq eval --horizon H --shards N`. */
int oq_loop_run_parts(const char *log_path, const char *truth_path, const oq_loop_opts *o,
                      int parts, oq_loop_report *out, oq_error *err) OQ_WUR;
/* Print the table of r to fp (a FILE *). */
void oq_loop_print(const oq_loop_report *r, void *fp);
/* {"horizon": H, "customers": n, "campaign_budget": b, "policies": [{"name", "profit",
 * "spend", "pct_of_oracle_uplift", "seconds"}]} atomically to path. */
int oq_loop_write_json(const oq_loop_report *r, const char *path, oq_error *err) OQ_WUR;

#endif
