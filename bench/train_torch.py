#!/usr/bin/python3
"""train_torch.py - the profit model of src/coupon/profit.c in PyTorch, for
bench_train.c: training/inference throughput on the same samples and the
validation MSE after the same recipe (standardised features and target,
AdamW lr 2e-3 wd 0.01, clip 1.0, batch 256, dropout 0.1).

Input: the samples file bench_train writes (little-endian):
  int32 n, T, V; int32 tok (n, T); f32 feat (n, 5); f32 coupon/20 (n);
  f32 target (n); uint8 is_val (n)
Prints one line: "torch VERSION train_sps X infer_sps Y val_mse Z mean_mse W".
Usage: train_torch.py SAMPLES --steps N --epochs E --threads K
"""
import argparse
import struct
import time

import numpy as np
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, V, T, C=32, NH=4, L=2, F=64, H=64, p=0.1):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Parameter(torch.randn(T, C))
        layer = nn.TransformerEncoderLayer(C, NH, F, dropout=p, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.Linear(C + 6, H), nn.ReLU(), nn.Linear(H, 1))

    def forward(self, tok, z):
        h = self.enc(self.wte(tok) + self.wpe)[:, 0, :]
        return self.head(torch.cat([h, z], 1)).squeeze(1)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    raw = open(a.samples, "rb").read()
    n, T, V = struct.unpack_from("<3i", raw, 0)
    off = 12
    tok = np.frombuffer(raw, "<i4", n * T, off).reshape(n, T); off += 4 * n * T
    feat = np.frombuffer(raw, "<f4", n * 5, off).reshape(n, 5); off += 4 * n * 5
    cpn = np.frombuffer(raw, "<f4", n, off); off += 4 * n
    y = np.frombuffer(raw, "<f4", n, off); off += 4 * n
    val = np.frombuffer(raw, "u1", n, off).astype(bool)
    tr = ~val
    fm, fs = feat[tr].mean(0), feat[tr].std(0)
    fs[fs < 1e-6] = 1
    ym, ys = y[tr].mean(), y[tr].std()
    z = np.concatenate([(feat - fm) / fs, cpn[:, None]], 1).astype(np.float32)
    tok_t, z_t = torch.from_numpy(tok.astype(np.int64)), torch.from_numpy(z)
    y_t = torch.from_numpy(((y - ym) / ys).astype(np.float32))
    net = Net(V, T)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
    tri = np.nonzero(tr)[0]

    def step(idx):
        opt.zero_grad()
        loss = ((net(tok_t[idx], z_t[idx]) - y_t[idx]) ** 2).mean()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    net.train()
    rng = np.random.default_rng(1)
    # throughput: a fixed number of steps
    step(torch.from_numpy(tri[:256]))
    t0 = time.time()
    for s in range(a.steps):
        step(torch.from_numpy(rng.choice(tri, 256)))
    train_sps = a.steps * 256 / (time.time() - t0)
    # quality: full epochs from a fresh model
    val_mse = mean_mse = float("nan")
    if a.epochs:
        torch.manual_seed(1)
        net = Net(V, T)
        opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
        for e in range(a.epochs):
            perm = rng.permutation(tri)
            for i in range(0, len(perm), 256):
                step(torch.from_numpy(perm[i:i + 256]))
    net.eval()
    vi = torch.from_numpy(np.nonzero(val)[0])
    with torch.no_grad():
        t0 = time.time()
        pred = torch.cat([net(tok_t[vi[i:i + 256]], z_t[vi[i:i + 256]])
                          for i in range(0, len(vi), 256)])
        infer_sps = len(vi) / (time.time() - t0)
    if a.epochs:
        r = pred.numpy() * ys + ym
        val_mse = float(((r - y[val]) ** 2).mean())
        mean_mse = float(((ym - y[val]) ** 2).mean())
    print("torch %s train_sps %.1f infer_sps %.1f val_mse %.4f mean_mse %.4f"
          % (torch.__version__, train_sps, infer_sps, val_mse, mean_mse))


if __name__ == "__main__":
    main()
