/* offerq.h - the whole public API in one include. Each layer is its own
 * library; include a layer's headers alone (and link only that layer and the
 * ones below it) when you need less:
 *
 *   core    offerq/core/    errors, I/O, CSV, random numbers, log readers
 *                           (pkg-config offerq-core)
 *   coupon  offerq/coupon/  BG/NBD, the reward models, Dyna-Q, the nightly job,
 *                           the generator and the evaluation (pkg-config offerq)
 *   xsell   offerq/xsell/   association rules, ROCK, cross-selling MDP and
 *                           K-Q-learning (pkg-config offerq-xsell)
 *   prod    offerq/prod/    PostgreSQL, Redis, HTTP service (pkg-config offerq-prod)
 */
#ifndef OFFERQ_H
#define OFFERQ_H

#include "offerq/version.h"

#include "offerq/core/error.h"
#include "offerq/core/io.h"
#include "offerq/core/csv.h"
#include "offerq/core/rng.h"
#include "offerq/core/data.h"

#include "offerq/coupon/bgnbd.h"
#include "offerq/coupon/response.h"
#include "offerq/coupon/gross.h"
#include "offerq/coupon/pmodel.h"
#include "offerq/coupon/profit.h"
#include "offerq/coupon/dynaq.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/reward.h"
#include "offerq/coupon/pipeline.h"
#include "offerq/coupon/gen.h"
#include "offerq/coupon/evaluate.h"
#include "offerq/coupon/reco.h"

#include "offerq/xsell/rules.h"
#include "offerq/xsell/rock.h"
#include "offerq/xsell/crosssell.h"
#include "offerq/xsell/learn.h"

#include "offerq/prod/db.h"
#include "offerq/prod/publish.h"
#include "offerq/prod/serve.h"

#endif
