#!/usr/bin/env python3
"""Golden values for tests/coupon/test_pmodel.c: the boosted-tree P(order | x, c)
learner of include/offerq/coupon/pmodel.h, fitted here through XGBoost's Python API
(Debian python3-xgboost, the same library the C code calls through its C
API) with the parameters pmodel.h documents, on a synthetic data set this
script draws. The C test refits through oq_pmodel_fit on the same rows and
must predict the same probabilities: this checks our input layout (the
features, "a coupon is offered", the coupon's value), the parameters and the
monotone constraint, not XGBoost itself.

The data: 2,000 training rows and 200 query rows, 12 features uniform on
the grid k/32 in [0, 1) (exact in a short decimal), coupons drawn
uniformly, and
    P(order | x, c) = sigmoid(-2 + 1.5 x0 + [x1 > 0.5] u(c) - 0.8 [c > 0][x2 > 0.7])
with u = (0, 0.6, 1.0, 1.4): customers with x1 > 0.5 are moved by coupons,
more by bigger ones; customers with x2 > 0.7 are put off by any coupon.

Run from the source tree:  /usr/bin/python3 tools/pmodel_golden.py
Writes tests/golden/pmodel/{train,query,pred}.csv.
"""
import os

import numpy as np
import xgboost as xgb

OUT = "tests/golden/pmodel"
VALUE = np.array([0.0, 5.0, 10.0, 20.0])
UPLIFT = np.array([0.0, 0.6, 1.0, 1.4])
F = 12


def truth(X, c):
    z = -2 + 1.5 * X[:, 0] + (X[:, 1] > 0.5) * UPLIFT[c] - 0.8 * (c > 0) * (X[:, 2] > 0.7)
    return 1 / (1 + np.exp(-z))


def inputs(X, c):
    c = np.broadcast_to(c, (len(X),))
    return np.hstack([X, (c > 0)[:, None], VALUE[c][:, None]]).astype(np.float32)


def main():
    rng = np.random.default_rng(7)
    n, nq = 2000, 200
    X = (rng.integers(0, 32, (n, F)) / 32).astype(np.float32)
    c = rng.integers(0, 4, n)
    y = (rng.random(n) < truth(X.astype(np.float64), c)).astype(np.float32)
    Xq = (rng.integers(0, 32, (nq, F)) / 32).astype(np.float32)
    params = {
        "monotone_constraints": "(" + ",".join(["0"] * (F + 1) + ["1"]) + ")",
        "objective": "binary:logistic", "tree_method": "hist", "eval_metric": "logloss",
        "verbosity": 0, "max_depth": 4, "eta": 0.05, "subsample": 0.8,
        "min_child_weight": 20, "lambda": 1, "nthread": 1, "seed": 3,
    }
    trees = 60
    bst = xgb.train(params, xgb.DMatrix(inputs(X, c), label=y), trees)
    pred = np.stack([bst.predict(xgb.DMatrix(inputs(Xq, np.full(nq, a)))) for a in range(4)], 1)
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, "train.csv"), "w") as f:
        f.write("# x0..x10,coupon,order (multiples of 1/32, exact)\n")
        for i in range(n):
            f.write(",".join("%g" % v for v in X[i]) + ",%d,%d\n" % (c[i], y[i]))
    with open(os.path.join(OUT, "query.csv"), "w") as f:
        f.write("# x0..x10\n")
        for i in range(nq):
            f.write(",".join("%g" % v for v in Xq[i]) + "\n")
    with open(os.path.join(OUT, "pred.csv"), "w") as f:
        f.write("# P(order) for coupons none,5,10,20 (xgboost %s, %d trees, seed 3, 1 thread)\n"
                % (xgb.__version__, trees))
        for i in range(nq):
            f.write(",".join("%.9g" % v for v in pred[i]) + "\n")


if __name__ == "__main__":
    main()
