/* reward.c - the reward models' names and dispatch (reward.h). */
#include "offerq/coupon/reward.h"
#include "offerq/core/comm.h"

#include <string.h>

const char *oq_reward_name(int reward)
{
    switch (reward) {
    case OQ_REWARD_TRANSFORMER:
        return "transformer";
    case OQ_REWARD_RESPONSE:
        return "response";
    case OQ_REWARD_SEQUENCE:
        return "sequence";
    default:
        return "empirical";
    }
}

int oq_reward_parse(const char *name)
{
    for (int r = 0; r < OQ_N_REWARDS; r++)
        if (!strcmp(name, oq_reward_name(r))) return r;
    return -1;
}

int oq_reward_fit(int kind, const oq_reward_input *in, oq_reward **out, oq_error *err)
{
    *out = NULL;
    if (kind != OQ_REWARD_RESPONSE && oq_comm_size(in->comm) > 1)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the %s reward model is not fitted in parts yet: a partitioned run "
                            "needs --reward response (docs/readme/mpi.md)",
                            oq_reward_name(kind));
    switch (kind) {
    case OQ_REWARD_RESPONSE:
        return oq_reward_response_fit(in, out, err);
    case OQ_REWARD_TRANSFORMER:
        return oq_reward_transformer_fit(in, out, err);
    case OQ_REWARD_EMPIRICAL:
        return oq_reward_empirical_fit(in, out, err);
    case OQ_REWARD_SEQUENCE:
        return oq_reward_sequence_fit(in, out, err);
    default:
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "unknown reward model %d", kind);
    }
}

void oq_reward_free(oq_reward *m)
{
    if (m) m->ops->free(m);
}
