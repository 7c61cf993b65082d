/* reward_transformer.c - the profit Transformer (profit.h) as the job's
 * reward model (reward.h): loaded or trained on the log, then predicted once
 * for every log row and coupon and for every customer tomorrow, in batches. */
#include "offerq/coupon/profit.h"
#include "offerq/coupon/reward.h"
#include "reward_int.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct transformer_reward {
    oq_reward base;
    double *rhat_log; /* (log->n, 4) */
    double *rhat_tom; /* (n_customers, 4) */
    int trained, loaded, epochs;
    double val_mse[8], val_mse_mean[8], train_mse[8];
    char events[256];
} transformer_reward;

/* r^ for samples (n, 4) as doubles, in batches. */
static int predict4(const oq_profit *pm, const oq_profit_samples *s, double **out, oq_error *err)
{
    float *f = malloc((s->n ? s->n : 1) * 4 * sizeof *f);
    double *d = malloc((s->n ? s->n : 1) * 4 * sizeof *d);
    int rc = 0;
    if (!f || !d) {
        rc = oq_error_oom(err, NULL, NULL);
    } else if (!(rc = oq_profit_predict_all(pm, s, f, err))) {
        for (size_t i = 0; i < s->n * 4; i++)
            d[i] = f[i];
        *out = d;
        d = NULL;
    }
    free(f);
    free(d);
    return rc;
}

static int score_rows(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const transformer_reward *m = (const transformer_reward *)b;
    memcpy(rhat, m->rhat_log, b->in->log->n * 4 * sizeof *rhat);
    return 0;
}

static int score_tomorrow(const oq_reward *b, double *rhat, oq_error *err)
{
    (void)err;
    const transformer_reward *m = (const transformer_reward *)b;
    memcpy(rhat, m->rhat_tom, b->in->ix->n_customers * 4 * sizeof *rhat);
    return 0;
}

static json_t *report(const oq_reward *b)
{
    const transformer_reward *m = (const transformer_reward *)b;
    json_t *pe = json_array();
    for (int e = 0; e < m->epochs; e++)
        json_array_append_new(pe, json_pack("{s:i, s:f, s:f, s:f}", "epoch", e + 1, "train_mse",
                                            m->train_mse[e], "val_mse", m->val_mse[e],
                                            "val_mse_predict_mean", m->val_mse_mean[e]));
    return json_pack("{s:{s:b, s:o, s:s}}", "profit_model", "loaded", m->loaded, "epochs", pe,
                     "events", m->events);
}

static void free_reward(oq_reward *b)
{
    transformer_reward *m = (transformer_reward *)b;
    if (!m) return;
    free(m->rhat_log);
    free(m->rhat_tom);
    free(m);
}

static const oq_reward_ops ops = {.score_rows = score_rows,
                                  .score_tomorrow = score_tomorrow,
                                  .p_order_tomorrow = NULL,
                                  .report = report,
                                  .free = free_reward};

int oq_reward_transformer_fit(const oq_reward_input *in, oq_reward **out, oq_error *err)
{
    *out = NULL;
    const oq_log *log = in->log;
    oq_events *ev = NULL;
    oq_profit *pm = NULL;
    oq_profit_data *d = NULL;
    oq_profit_samples *s = NULL, *st = NULL;
    transformer_reward *m = calloc(1, sizeof *m);
    if (!m) return oq_error_oom(err, NULL, NULL);
    m->base = (oq_reward){.ops = &ops, .kind = OQ_REWARD_TRANSFORMER, .in = in};
    snprintf(m->base.name, sizeof m->base.name, "BG/NBD P(alive) x profit Transformer r^");
    int rc = oq_reward_read_events(in, &ev, m->events, sizeof m->events, err);
    if (rc) goto cleanup;
    if (!ev) snprintf(m->events, sizeof m->events, "none (categories of earlier log rows)");
    if (in->model_path) {
        if ((rc = oq_profit_load(in->model_path, &pm, err))) goto cleanup;
        m->loaded = 1;
    } else {
        oq_profit_config cfg;
        oq_profit_config_default(&cfg);
        if ((rc = oq_profit_new(&cfg, &log->cats, in->seed, &pm, err))) goto cleanup;
    }
    if ((rc = oq_profit_data_new(log, in->ix, ev, pm, pm->cfg.seq_len, &d, err))) goto cleanup;
    if ((rc = oq_profit_data_build(d, &s, err))) goto cleanup;
    if (!in->model_path) {
        oq_profit_train_opts to;
        oq_profit_train_opts_default(&to);
        to.epochs = in->epochs > 0 ? (in->epochs < 8 ? in->epochs : 8) : 3;
        to.seed = in->seed;
        to.quiet = in->quiet;
        oq_profit_epoch hist[8];
        if ((rc = oq_profit_train(pm, s, &to, hist, err))) goto cleanup;
        m->trained = 1;
        m->epochs = to.epochs;
        for (int e = 0; e < to.epochs; e++) {
            m->val_mse[e] = hist[e].val_mse;
            m->val_mse_mean[e] = hist[e].val_mse_mean;
            m->train_mse[e] = hist[e].train_mse;
        }
        if (in->save_model && (rc = oq_profit_save(pm, in->save_model, err))) goto cleanup;
    }
    if ((rc = predict4(pm, s, &m->rhat_log, err))) goto cleanup;
    if ((rc = oq_profit_data_day(d, in->day, &st, err))) goto cleanup;
    if ((rc = predict4(pm, st, &m->rhat_tom, err))) goto cleanup;
    *out = &m->base;
    m = NULL;
cleanup:
    free_reward(m ? &m->base : NULL);
    oq_profit_samples_free(s);
    oq_profit_samples_free(st);
    oq_profit_data_free(d);
    oq_profit_free(pm);
    oq_events_free(ev);
    return rc;
}
