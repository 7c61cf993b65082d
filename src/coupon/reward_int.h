/* reward_int.h - what the reward models share (private to the coupon layer). */
#ifndef OFFERQ_REWARD_INT_H
#define OFFERQ_REWARD_INT_H

#include "offerq/coupon/reward.h"
#include "offerq/coupon/seq.h"

/* The events stream: in->events_path, or the log's sidecar, or none (*ev
 * NULL); `used` gets the path or "none". Events intern their categories into
 * the log's dictionary so the ids agree (a category only seen in the events
 * gets a new id; the log's rows are untouched). */
int oq_reward_read_events(const oq_reward_input *in, oq_events **ev, char *used, size_t len,
                          oq_error *err) OQ_WUR;

/* What the sequence columns' two fold models did (report.json). */
typedef struct oq_seq_fold_info {
    oq_seq_train_report tr[2]; /* the models on the customers of even / odd user_id */
    size_t n_params;
    double seconds;
} oq_seq_fold_info;

/* The sequence model's columns for the response model's trees (`offerq run
 * --seq-features`): the logit of P(order | history, c) for the 4 coupons,
 * cross-fitted. Two sequence models (seq.h, trained as --reward sequence's,
 * early stopping included) are trained, one on the customers of even user_id
 * and one on the odd; each log row gets the logits of the model that did
 * not see its customer (so the trees never learn from a fit on the row
 * itself), and tomorrow's rows the mean of the two models' logits (the
 * same kind of model as the rows the trees learned from). row (log->n rows,
 * stride row_stride) and tom (n_customers, stride tom_stride) get 4 values
 * each. g for the held-out DR value of early stopping is fitted with
 * category mix gross_mix (gross.h). */
int oq_seq_fold_logits(const oq_reward_input *in, int gross_mix, float *row, size_t row_stride,
                       float *tom, size_t tom_stride, oq_seq_fold_info *info, oq_error *err) OQ_WUR;

#endif
