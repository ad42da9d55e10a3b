#!/usr/bin/python3
"""torch_steps.py - the PyTorch twin of bench_train.c (issue 2 item 7): the same three models,
shapes, ops and optimizer, timed the same way (warm-up, then whole steps for min_time seconds).

Runs under Debian's /usr/bin/python3 with python3-torch (the `python3` on PATH is another
interpreter without torch). Prints, per model:
  train model=<m> threads=<t> steps_per_s=<x> steps=<n> loss=<a>-><b> cpu_steps_per_s=<c>
        params=<p> torch=<version>
(c: steps per process CPU-second, a diagnostic that is stable while the machine is shared).

  /usr/bin/python3 tests/bench/torch_steps.py [model=mlp|cnn|transformer|all] [threads=T]
                                              [min_time=S]
"""
import math
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

B, IMG, NCLS = 64, 28, 10
T, D, NH, PATCH, L = 16, 128, 4, 7, 2


class Mlp(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1, self.fc2, self.fc3 = nn.Linear(784, 256), nn.Linear(256, 128), nn.Linear(128, NCLS)

    def forward(self, x):
        x = F.relu(self.fc1(x.view(B, 784)))
        x = F.relu(self.fc2(x))
        return self.fc3(x)


class Cnn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 16, 3, padding=1)
        self.c2 = nn.Conv2d(16, 32, 3, padding=1)
        self.fc = nn.Linear(32 * 7 * 7, NCLS)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.c1(x)), 2)
        x = F.max_pool2d(F.relu(self.c2(x)), 2)
        return self.fc(x.reshape(B, -1))


class Block(nn.Module):
    """Pre-LN block: x + proj(attn(ln1 x)); then + fc2(gelu(fc1(ln2 x))). qkv is one linear, as
    in the C side (llm.c layout)."""

    def __init__(self):
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(D), nn.LayerNorm(D)
        self.qkv, self.proj = nn.Linear(D, 3 * D), nn.Linear(D, D)
        self.fc1, self.fc2 = nn.Linear(D, 4 * D), nn.Linear(4 * D, D)

    def forward(self, x):
        q, k, v = self.qkv(self.ln1(x)).split(D, dim=2)
        q, k, v = (t.view(B, T, NH, D // NH).transpose(1, 2) for t in (q, k, v))
        # torch 1.13 (Debian 12) has no F.scaled_dot_product_attention: the plain formulation.
        att = torch.softmax((q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(D // NH)), dim=-1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + self.proj(y)
        return x + self.fc2(F.gelu(self.fc1(self.ln2(x)), approximate="tanh"))


class Transformer(nn.Module):
    def __init__(self):
        super().__init__()
        self.patch = nn.Linear(PATCH * PATCH, D)
        self.pos = nn.Parameter(torch.randn(1, T, D) * 0.02)
        self.blocks = nn.ModuleList(Block() for _ in range(L))
        self.lnf = nn.LayerNorm(D)
        self.head = nn.Linear(D, NCLS)

    def forward(self, x):
        # 4×4 grid of 7×7 patches, row-major inside a patch (bench_train.c's patchify).
        p = x.view(B, 4, PATCH, 4, PATCH).permute(0, 1, 3, 2, 4).reshape(B, T, PATCH * PATCH)
        h = self.patch(p) + self.pos
        for blk in self.blocks:
            h = blk(h)
        return self.head(self.lnf(h).mean(dim=1))


MODELS = {"mlp": Mlp, "cnn": Cnn, "transformer": Transformer}


def measure(name, min_time):
    torch.manual_seed(42)
    model = MODELS[name]()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-2, foreach=True)
    x = torch.rand(B, 1, IMG, IMG)
    y = torch.randint(0, NCLS, (B,))

    def step():
        opt.zero_grad(set_to_none=True)
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        return loss.item()

    loss0 = step()
    for _ in range(4):
        step()
    steps, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        loss1 = step()
        steps += 1
        t1 = time.perf_counter()
        if t1 - t0 >= min_time and steps >= 5:
            break
    cpu_sps = steps / (time.process_time() - c0)
    return steps / (t1 - t0), steps, loss0, loss1, cpu_sps, sum(p.numel() for p in model.parameters())


def main(argv):
    opts = {"model": "all", "threads": "1", "min_time": "0.5"}
    for a in argv:
        k, sep, v = a.partition("=")
        if not sep or k not in opts:
            sys.exit(__doc__)
        opts[k] = v
    threads = int(opts["threads"])
    torch.set_num_threads(threads)
    names = list(MODELS) if opts["model"] == "all" else [opts["model"]]
    for name in names:
        if name not in MODELS:
            sys.exit(f"torch_steps.py: unknown model '{name}' (mlp, cnn, transformer, all)")
        sps, steps, l0, l1, cpu_sps, n_params = measure(name, float(opts["min_time"]))
        print(f"train model={name} threads={threads} steps_per_s={sps:.2f} steps={steps} "
              f"loss={l0:.4f}->{l1:.4f} cpu_steps_per_s={cpu_sps:.2f} params={n_params} "
              f"torch={torch.__version__}", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
