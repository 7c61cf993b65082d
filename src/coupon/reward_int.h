/* reward_int.h - what the reward models share (private to the coupon layer). */
#ifndef OFFERQ_REWARD_INT_H
#define OFFERQ_REWARD_INT_H

#include "offerq/coupon/reward.h"

/* The events stream: in->events_path, or the log's sidecar, or none (*ev
 * NULL); `used` gets the path or "none". Events intern their categories into
 * the log's dictionary so the ids agree (a category only seen in the events
 * gets a new id; the log's rows are untouched). */
int oq_reward_read_events(const oq_reward_input *in, oq_events **ev, char *used, size_t len,
                          oq_error *err) OQ_WUR;

#endif
