#!/usr/bin/env python3
"""calib_golden.py - golden values for the calibration bins (calib.h).

Draws 1,003 predictions (a quarter of them tied on a grid, so the tie rule
matters) and outcomes, and computes with numpy, independently of the C code:
rows ordered by (prediction, row index), row k of the order in bin
k * 10 // n, each bin's mean prediction and observed rate, the mean
log-loss (p clipped to [1e-12, 1 - 1e-12]) and the Brier score. Writes
tests/data/calib/golden.json (inputs and outputs). Run from the repository
root with Debian's python3-numpy:  /usr/bin/python3 tools/calib_golden.py
"""
import json

import numpy as np

rng = np.random.default_rng(20261205)
n = 1003
p = rng.beta(0.8, 4.0, n)
tie = rng.random(n) < 0.25
p[tie] = np.round(p[tie] * 20) / 20  # ties on a 0.05 grid
p[0], p[1] = 0.0, 1.0  # the ends of [0, 1] are probabilities too
y = (rng.random(n) < p).astype(int)
order = np.lexsort((np.arange(n), p))
bins = np.arange(n) * 10 // n
pred = [float(p[order[bins == b]].mean()) for b in range(10)]
obs = [float(y[order[bins == b]].mean()) for b in range(10)]
cnt = [int((bins == b).sum()) for b in range(10)]
c = np.clip(p, 1e-12, 1 - 1e-12)
logloss = float(-np.mean(np.where(y == 1, np.log(c), np.log1p(-c))))
brier = float(np.mean((p - y) ** 2))
out = {"p": [float(v) for v in p], "y": [int(v) for v in y], "pred": pred, "obs": obs,
       "n": cnt, "logloss": logloss, "brier": brier}
with open("tests/data/calib/golden.json", "w") as f:
    json.dump(out, f)
    f.write("\n")
print("wrote tests/data/calib/golden.json: logloss %.6f, brier %.6f" % (logloss, brier))
