#!/usr/bin/python3
"""profit_golden.py - golden values of the profit Transformer from PyTorch.

Builds the network of src/coupon/profit.c (the seed's WorldTransformer + a learned
position embedding) with torch.nn.TransformerEncoderLayer (post-LN, ReLU),
sets fixed random weights (every tensor perturbed, so zero-initialised biases
and LayerNorm parameters are exercised too), runs one batch and writes:

  tests/golden/profit/ref.bin  (little-endian)
    int32  magic 0x4f515047, T, C, NH, L, F, H, V, B
    int32  tok (B, T)
    f32    z (B, 6)        standardised features + coupon/20
    f32    y (B)           targets
    f32    params (P)      in profit.h's tensor order
    f32    out (B)         forward output (train mode, dropout 0)
    f32    loss            mean squared error
    f32    grads (P)       d loss / d params
    f32    params2 (P)     after 2 x (forward, backward, clip_grad_norm_(1.0),
                           AdamW(lr 2e-3, wd 0.01)) on the same batch

Dropout is 0 here (PyTorch's dropout masks cannot be reproduced); the C test
checks dropout separately by finite differences.

Usage: /usr/bin/python3 tools/profit_golden.py [OUT_DIR]   (torch 1.13, Debian)
"""
import struct
import sys

import torch
import torch.nn as nn

T, C, NH, L, F, H, V, B = 10, 32, 4, 2, 64, 64, 9, 6


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.wte = nn.Embedding(V, C)
        self.wpe = nn.Parameter(torch.randn(T, C))
        layer = nn.TransformerEncoderLayer(d_model=C, nhead=NH, dim_feedforward=F, dropout=0.0,
                                           batch_first=True)
        self.enc = nn.TransformerEncoder(layer, num_layers=L, enable_nested_tensor=False)
        self.head = nn.Sequential(nn.Linear(C + 6, H), nn.ReLU(), nn.Linear(H, 1))

    def forward(self, tok, z):
        x = self.wte(tok) + self.wpe
        h = self.enc(x)[:, 0, :]  # the seed's [:, 0, :] pooling
        return self.head(torch.cat([h, z], dim=1)).squeeze(1)

    def tensors(self):
        ls = self.enc.layers
        st = lambda f: torch.stack([f(l) for l in ls])
        return [
            self.wte.weight, self.wpe,
            st(lambda l: l.self_attn.in_proj_weight), st(lambda l: l.self_attn.in_proj_bias),
            st(lambda l: l.self_attn.out_proj.weight), st(lambda l: l.self_attn.out_proj.bias),
            st(lambda l: l.norm1.weight), st(lambda l: l.norm1.bias),
            st(lambda l: l.linear1.weight), st(lambda l: l.linear1.bias),
            st(lambda l: l.linear2.weight), st(lambda l: l.linear2.bias),
            st(lambda l: l.norm2.weight), st(lambda l: l.norm2.bias),
            self.head[0].weight, self.head[0].bias, self.head[2].weight, self.head[2].bias,
        ]

    def grads(self):
        ls = self.enc.layers
        st = lambda f: torch.stack([f(l).grad for l in ls])
        g = lambda p: p.grad
        return [
            g(self.wte.weight), g(self.wpe),
            st(lambda l: l.self_attn.in_proj_weight), st(lambda l: l.self_attn.in_proj_bias),
            st(lambda l: l.self_attn.out_proj.weight), st(lambda l: l.self_attn.out_proj.bias),
            st(lambda l: l.norm1.weight), st(lambda l: l.norm1.bias),
            st(lambda l: l.linear1.weight), st(lambda l: l.linear1.bias),
            st(lambda l: l.linear2.weight), st(lambda l: l.linear2.bias),
            st(lambda l: l.norm2.weight), st(lambda l: l.norm2.bias),
            g(self.head[0].weight), g(self.head[0].bias), g(self.head[2].weight),
            g(self.head[2].bias),
        ]


def flat(ts):
    return torch.cat([t.detach().reshape(-1) for t in ts])


def f32(x):
    x = x.detach().reshape(-1).float().tolist()
    return struct.pack("<%df" % len(x), *x)


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "tests/golden/profit"
    torch.manual_seed(1234)
    net = Net()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.1 * torch.randn_like(p))
    net.train()
    tok = torch.randint(0, V, (B, T))
    z = torch.randn(B, 6)
    z[:, 5] = torch.tensor([0, 0.25, 0.5, 1, 0.5, 0])
    y = torch.randn(B)
    params = flat(net.tensors())
    out = net(tok, z)
    loss = ((out - y) ** 2).mean()
    loss.backward()
    grads = flat(net.grads())
    out0, loss0 = out.detach().clone(), loss.detach().clone()
    opt = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=0.01)
    net.zero_grad()
    for _ in range(2):
        opt.zero_grad()
        l2 = ((net(tok, z) - y) ** 2).mean()
        l2.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
    params2 = flat(net.tensors())
    with open(out_dir + "/ref.bin", "wb") as fp:
        fp.write(struct.pack("<9i", 0x4F515047, T, C, NH, L, F, H, V, B))
        fp.write(struct.pack("<%di" % (B * T), *tok.reshape(-1).tolist()))
        for t in (z, y, params, out0, loss0, grads, params2):
            fp.write(f32(t))
    print("wrote %s/ref.bin: %d parameters, loss %.6f, torch %s" %
          (out_dir, params.numel(), loss0.item(), torch.__version__))


if __name__ == "__main__":
    main()
