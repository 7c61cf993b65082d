#!/usr/bin/python3
"""seq_golden.py - golden values of the sequence response model from PyTorch.

Builds the network of src/coupon/seq.c (include/offerq/coupon/seq.h) from
torch modules: three nn.Embedding summed per day plus a learned position
embedding, nn.TransformerEncoder (post-LN, ReLU), the coupon's nn.Embedding
row as the one query of an nn.MultiheadAttention over the encoded sequence,
and the head Linear -> ReLU -> Linear on [pooled, coupon embedding, state],
trained with BCEWithLogitsLoss. Every tensor is perturbed (so zero biases
and LayerNorm parameters are exercised), one batch is run and it writes:

  tests/golden/seq/ref.bin  (little-endian)
    int32  magic 0x4f515347, T, C, NH, L, F, NP, H, NB, Vb, B, NS
    int32  tok (B, T, 3)   browse, order band, contact
    f32    zs (B, NS)      standardised state features
    int32  coupon (B)
    f32    y (B)           orders (0/1)
    f32    params (P)      in seq.h's tensor order
    f32    x0 (B, T, C)    summed embeddings       (layer: embedding)
    f32    enc (B, T, C)   encoder output          (layers: encoder)
    f32    pooled (B, C)   MHA output of the logged coupon's query (layer: pooling)
    f32    all4 (B, 4)     logits of every coupon  (layer: head)
    f32    logit (B)       logit of the logged coupon
    f32    loss            mean BCE with logits    (layer: loss)
    f32    grads (P)       d loss / d params
    f32    params2 (P)     after 2 x (forward, backward, clip_grad_norm_(1.0),
                           AdamW(lr 2e-3, wd 0.01)) on the same batch

Dropout is 0 (torch's masks cannot be reproduced); the C test checks
dropout by finite differences.

Usage: /usr/bin/python3 tools/seq_golden.py [OUT_DIR]   (torch 1.13, Debian's python3-torch)
"""
import struct
import sys

import torch
import torch.nn as nn

T, C, NH, L, F, NP, H, NB, Vb, B, NS = 12, 16, 2, 2, 24, 4, 20, 4, 7, 8, 8


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.wtb = nn.Embedding(Vb, C)
        self.wto = nn.Embedding(1 + NB, C)
        self.wtc = nn.Embedding(9, C)
        self.wpe = nn.Parameter(torch.randn(T, C))
        layer = nn.TransformerEncoderLayer(d_model=C, nhead=NH, dim_feedforward=F, dropout=0.0,
                                           batch_first=True)
        self.enc = nn.TransformerEncoder(layer, num_layers=L, enable_nested_tensor=False)
        self.cq = nn.Embedding(4, C)
        self.pool = nn.MultiheadAttention(C, NP, dropout=0.0, batch_first=True)
        self.head = nn.Sequential(nn.Linear(2 * C + NS, H), nn.ReLU(), nn.Linear(H, 1))

    def embed(self, tok):
        return self.wtb(tok[..., 0]) + self.wto(tok[..., 1]) + self.wtc(tok[..., 2]) + self.wpe

    def coupon(self, X, zs, cp):
        q = self.cq(cp)[:, None, :]
        u, _ = self.pool(q, X, X, need_weights=False)
        z = torch.cat([u[:, 0], q[:, 0], zs], 1)
        return u[:, 0], self.head(z).squeeze(1)

    def forward(self, tok, zs, cp):
        x0 = self.embed(tok)
        X = self.enc(x0)
        u, logit = self.coupon(X, zs, cp)
        return x0, X, u, logit

    def tensors(self, grad=False):
        ls = self.enc.layers
        g = (lambda p: p.grad) if grad else (lambda p: p)
        st = lambda f: torch.stack([g(f(l)) for l in ls])
        return [
            g(self.wtb.weight), g(self.wto.weight), g(self.wtc.weight), g(self.wpe),
            st(lambda l: l.self_attn.in_proj_weight), st(lambda l: l.self_attn.in_proj_bias),
            st(lambda l: l.self_attn.out_proj.weight), st(lambda l: l.self_attn.out_proj.bias),
            st(lambda l: l.norm1.weight), st(lambda l: l.norm1.bias),
            st(lambda l: l.linear1.weight), st(lambda l: l.linear1.bias),
            st(lambda l: l.linear2.weight), st(lambda l: l.linear2.bias),
            st(lambda l: l.norm2.weight), st(lambda l: l.norm2.bias),
            g(self.cq.weight), g(self.pool.in_proj_weight), g(self.pool.in_proj_bias),
            g(self.pool.out_proj.weight), g(self.pool.out_proj.bias),
            g(self.head[0].weight), g(self.head[0].bias), g(self.head[2].weight),
            g(self.head[2].bias),
        ]


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts])


def f32(x):
    x = x.detach().reshape(-1).float().tolist()
    return struct.pack("<%df" % len(x), *x)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/seq"
    torch.manual_seed(4321)
    net = Net()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    net.train()
    tok = torch.stack([torch.randint(0, Vb, (B, T)), torch.randint(0, 1 + NB, (B, T)),
                       torch.randint(0, 9, (B, T))], 2)
    zs = torch.randn(B, NS)
    cp = torch.tensor([0, 1, 2, 3, 0, 3, 1, 0])
    y = torch.tensor([0., 1., 0., 1., 1., 0., 0., 1.])
    lossf = nn.BCEWithLogitsLoss()
    params = flat(net.tensors())
    x0, X, u, logit = net(tok, zs, cp)
    loss = lossf(logit, y)
    loss.backward()
    grads = flat(net.tensors(grad=True))
    with torch.no_grad():
        all4 = torch.stack([net.coupon(X, zs, torch.full((B,), k))[1] for k in range(4)], 1)
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
    for _ in range(2):
        opt.zero_grad()
        l2 = lossf(net(tok, zs, cp)[3], y)
        l2.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    params2 = flat(net.tensors())
    with open(out_dir + "/ref.bin", "wb") as fp:
        fp.write(struct.pack("<12i", 0x4F515347, T, C, NH, L, F, NP, H, NB, Vb, B, NS))
        fp.write(struct.pack("<%di" % (B * T * 3), *tok.reshape(-1).tolist()))
        fp.write(f32(zs))
        fp.write(struct.pack("<%di" % B, *cp.tolist()))
        for t in (y, params, x0, X, u, all4, logit, loss, grads, params2):
            fp.write(f32(t))
    print("wrote %s/ref.bin: %d parameters, loss %.6f, torch %s" %
          (out_dir, params.numel(), loss.item(), torch.__version__))


if __name__ == "__main__":
    main()
