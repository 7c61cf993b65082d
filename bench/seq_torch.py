#!/usr/bin/python3
"""seq_torch.py - the sequence response model of src/coupon/seq.c in PyTorch,
for bench_train.c: the same network (tools/seq_golden.py builds it the same
way), the same samples and recipe (batch 256, BCE with logits, AdamW lr 2e-3
wd 0.01, clip 1.0, dropout 0.1 in the encoder), timed on the same machine
in the same command.

Input: the samples file bench_train writes (little-endian):
  int32 n, T, NS, Vb, NB, C, NH, L, F, NP, H
  int32 tok (n, T, 3); f32 zs (n, NS) standardised state; uint8 coupon (n);
  uint8 order (n); uint8 is_val (n)
Prints one line:
  "torch VERSION train_sps X train_cpu Y infer_pps Z infer_cpu W val_logloss V"
(training samples per second of wall time and per CPU second, inference
(row, coupon) pairs per second likewise; val_logloss after --epochs, nan
when 0). Inference runs the encoder once per row and the 4 coupon queries
together (one MultiheadAttention call with 4 queries).
Usage: seq_torch.py SAMPLES --steps N --epochs E --threads K
"""
import argparse
import math
import struct
import time

import numpy as np
import torch
import torch.nn as nn


class Net(nn.Module):
    def __init__(self, Vb, NB, T, NS, C, NH, L, F, NP, H, p=0.1):
        super().__init__()
        self.wtb = nn.Embedding(Vb, C)
        self.wto = nn.Embedding(1 + NB, C)
        self.wtc = nn.Embedding(9, C)
        self.wpe = nn.Parameter(torch.randn(T, C))
        layer = nn.TransformerEncoderLayer(C, NH, F, dropout=p, batch_first=True)
        self.enc = nn.TransformerEncoder(layer, L, enable_nested_tensor=False)
        self.cq = nn.Embedding(4, C)
        self.pool = nn.MultiheadAttention(C, NP, dropout=0.0, batch_first=True)
        self.head = nn.Sequential(nn.Linear(2 * C + NS, H), nn.ReLU(), nn.Linear(H, 1))

    def trunk(self, tok):
        x = self.wtb(tok[..., 0]) + self.wto(tok[..., 1]) + self.wtc(tok[..., 2]) + self.wpe
        return self.enc(x)

    def forward(self, tok, zs, cp):
        X = self.trunk(tok)
        q = self.cq(cp)[:, None, :]
        u, _ = self.pool(q, X, X, need_weights=False)
        return self.head(torch.cat([u[:, 0], q[:, 0], zs], 1)).squeeze(1)

    def all4(self, tok, zs):
        X = self.trunk(tok)
        B = tok.shape[0]
        q = self.cq.weight[None].expand(B, 4, -1)
        u, _ = self.pool(q, X, X, need_weights=False)
        z = torch.cat([u, q, zs[:, None, :].expand(B, 4, -1)], 2)
        return torch.sigmoid(self.head(z).squeeze(2))


def clock():
    return time.perf_counter(), time.process_time()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("samples")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--epochs", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(1)
    raw = open(a.samples, "rb").read()
    n, T, NS, Vb, NB, C, NH, L, F, NP, H = struct.unpack_from("<11i", raw, 0)
    off = 44
    tok = np.frombuffer(raw, "<i4", n * T * 3, off).reshape(n, T, 3); off += 4 * n * T * 3
    zs = np.frombuffer(raw, "<f4", n * NS, off).reshape(n, NS); off += 4 * n * NS
    cp = np.frombuffer(raw, "u1", n, off); off += n
    y = np.frombuffer(raw, "u1", n, off).astype(np.float32); off += n
    val = np.frombuffer(raw, "u1", n, off).astype(bool)
    tok_t = torch.from_numpy(tok.astype(np.int64))
    zs_t = torch.from_numpy(zs.copy())
    cp_t = torch.from_numpy(cp.astype(np.int64))
    y_t = torch.from_numpy(y)
    tri = np.nonzero(~val)[0]
    lossf = nn.BCEWithLogitsLoss()

    def fresh():
        torch.manual_seed(1)
        net = Net(Vb, NB, T, NS, C, NH, L, F, NP, H)
        return net, torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)

    def step(net, opt, idx):
        opt.zero_grad()
        loss = lossf(net(tok_t[idx], zs_t[idx], cp_t[idx]), y_t[idx])
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()

    net, opt = fresh()
    net.train()
    rng = np.random.default_rng(1)
    for _ in range(2):  # warm-up
        step(net, opt, torch.from_numpy(rng.choice(tri, 256)))
    w0, c0 = clock()
    for _ in range(a.steps):
        step(net, opt, torch.from_numpy(rng.choice(tri, 256)))
    w1, c1 = clock()
    train_sps, train_cpu = a.steps * 256 / (w1 - w0), a.steps * 256 / max(c1 - c0, 1e-9)
    net.eval()
    with torch.no_grad():
        net.all4(tok_t[:256], zs_t[:256])  # warm-up
        w0, c0 = clock()
        for i in range(0, n, 1024):
            net.all4(tok_t[i:i + 1024], zs_t[i:i + 1024])
        w1, c1 = clock()
    infer_pps, infer_cpu = 4 * n / (w1 - w0), 4 * n / max(c1 - c0, 1e-9)
    val_ll = float("nan")
    if a.epochs:
        net, opt = fresh()
        nb = math.ceil(len(tri) / 256)
        total = a.epochs * nb
        for e in range(a.epochs):
            net.train()
            perm = rng.permutation(tri)
            for k in range(nb):
                s = e * nb + k  # the C recipe: warm-up 100 steps, cosine to 0.1 lr
                lr = 2e-3 * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * s / total)))
                if s < 100:
                    lr *= (s + 1) / 101
                for g in opt.param_groups:
                    g["lr"] = lr
                step(net, opt, torch.from_numpy(perm[k * 256:(k + 1) * 256]))
        net.eval()
        vi = torch.from_numpy(np.nonzero(val)[0])
        with torch.no_grad():
            p = torch.cat([net.all4(tok_t[vi[i:i + 1024]], zs_t[vi[i:i + 1024]])
                           for i in range(0, len(vi), 1024)])
            pa = p[torch.arange(len(vi)), cp_t[vi]].clamp(1e-7, 1 - 1e-7)
            yy = y_t[vi]
            val_ll = float(-(yy * pa.log() + (1 - yy) * (1 - pa).log()).mean())
    print("torch %s train_sps %.1f train_cpu %.1f infer_pps %.1f infer_cpu %.1f val_logloss %.5f"
          % (torch.__version__, train_sps, train_cpu, infer_pps, infer_cpu, val_ll))


if __name__ == "__main__":
    main()
