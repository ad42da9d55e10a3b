#!/usr/bin/python3
"""torch_mllm.py - the PyTorch twin of bench_mllm.c (issue 12 item 2): the tiny multimodal LLM's
LoRA fine-tuning step and KV-cached greedy generation, on the weights and sequences bench_mllm wrote
(dump=FILE, tests/probes/mllm_dump.c's format), timed the same way.

  /usr/bin/python3 tests/bench/torch_mllm.py dump=FILE [model=mllm|mllm_gen] [threads=T]
                                             [min_time=S]
  → train model=mllm threads=<t> steps_per_s=<x> steps=<n> loss=<a>-><b> cpu_steps_per_s=<c>
          params=<p> trainable=<n> T=<t> torch=<version>
    train model=mllm_gen threads=<t> tokens_per_s=<x> runs=<n> prompt=<T> new=32 ids=<8 ids>
          torch=<version>

mllm: the encoders and projectors run frozen (no autograd), the embeddings are looked up, the LM
runs with PEFT-style LoRA (r, α from the file) on q, k, v, o and dropout 0.05 on each adapter's
input, the option letters' logits at each row's last position give the CE, backward (only the LoRA
tensors require grad) and torch.optim.AdamW(foreach=True, lr 1e-3, wd 1e-2) on them.
mllm_gen: row 0's embedded prompt, prefill storing every layer's rotated keys and values in a
preallocated cache, then 31 single-token steps (32 new tokens, greedy argmax), under
torch.no_grad(); tokens/s = 32 / the whole generation's time. The model's math is
tests/torch/mllm_torch.py's (checked against C there); here it is only arranged for speed.
"""
import math
import os
import sys
import time

import h5py
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "torch"))
import mllm_torch as mt  # noqa: E402  (vit, pixel_shuffle, rmsnorm, datasets, parse_config)

GEN_NEW, LORA_P = 32, 0.05


class Lm:
    """The decoder's tensors per layer and a RoPE table for up to Tmax positions."""

    def __init__(self, p, c, tmax):
        self.L, self.H, self.D = int(c["lm.L"]), int(c["lm.H"]), int(c["lm.D"])
        self.hd = self.D // self.H
        self.scale = float(c["lora_alpha"]) / int(c["lora_r"])
        self.p, self.head = p, p["lm/tok_emb"] if int(c["lm.tied"]) else p["lm/head"]
        inv = float(c["lm.theta"]) ** (-torch.arange(0, self.hd // 2, dtype=torch.float64) * 2.0
                                        / self.hd)
        ang = torch.arange(tmax, dtype=torch.float64)[:, None] * inv[None, :]
        self.cos, self.sin = ang.cos().float(), ang.sin().float()

    def proj(self, h, name, l, drop):
        p = self.p
        a = F.dropout(h, LORA_P, training=True) if drop else h
        return F.linear(h, p["lm/w" + name][l]) + self.scale * F.linear(
            F.linear(a, p["lm/lora_%s_a" % name][l]), p["lm/lora_%s_b" % name][l])

    def rope(self, x, pos0):
        T, h = x.shape[2], self.hd // 2
        cos, sin = self.cos[pos0:pos0 + T], self.sin[pos0:pos0 + T]
        a, b = x[..., :h], x[..., h:]
        return torch.cat((a * cos - b * sin, b * cos + a * sin), -1)

    def forward(self, x, drop=False, cache=None, pos0=0):
        """x (B, T, D) at positions pos0.. → hid (B, T, D); cache: per layer (K, V) to fill/read."""
        B, T, D = x.shape
        p, H, hd = self.p, self.H, self.hd
        for l in range(self.L):
            h = mt.rmsnorm(x, p["lm/attn_norm"][l])
            q, k, v = (self.proj(h, n, l, drop).view(B, T, H, hd).transpose(1, 2) for n in "qkv")
            q, k = self.rope(q, pos0), self.rope(k, pos0)
            if cache is not None:
                cache[l][0][:, :, pos0:pos0 + T] = k
                cache[l][1][:, :, pos0:pos0 + T] = v
                k, v = cache[l][0][:, :, :pos0 + T], cache[l][1][:, :, :pos0 + T]
            s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
            if T > 1:
                s = s.masked_fill(torch.ones(T, T, dtype=torch.bool).triu(1), float("-inf"))
            y = (torch.softmax(s, -1) @ v).transpose(1, 2).reshape(B, T, D)
            x = x + self.proj(y, "o", l, drop)
            h2 = mt.rmsnorm(x, p["lm/mlp_norm"][l])
            x = x + F.linear(F.silu(F.linear(h2, p["lm/w1"][l])) * F.linear(h2, p["lm/w3"][l]),
                             p["lm/w2"][l])
        return mt.rmsnorm(x, p["lm/norm"])


def embed(p, c, batch):
    """The frozen part: token embeddings with the encoders' projected tokens in their slots."""
    with torch.no_grad():
        ids = batch["ids"]
        x = p["lm/tok_emb"][ids].clone()
        for e in range(int(c["n_enc"])):
            ec = {k[len("enc%d." % e):]: v for k, v in c.items() if k.startswith("enc%d." % e)}
            name, slot = ec["name"], batch["slot_" + ec["name"]]
            rows = [r for r in range(ids.shape[0]) if slot[r] >= 0]
            if not rows:
                continue
            tok = mt.vit(p, "enc_" + name, ec, batch["enc_" + name][rows])
            gh, gw = int(ec["H"]) // int(ec["Ph"]), int(ec["W"]) // int(ec["Pw"])
            tok = mt.pixel_shuffle(tok, gh, gw, int(ec["sh"]), int(ec["sw"]))
            pp = "proj_" + name
            tok = F.linear(mt.gelu(F.linear(tok, p[pp + "/p1/w"], p[pp + "/p1/b"])),
                           p[pp + "/p2/w"], p[pp + "/p2/b"])
            for i, r in enumerate(rows):
                x[r, int(slot[r]):int(slot[r]) + tok.shape[1]] = tok[i]
    return x


def load(path):
    f = h5py.File(path, "r")
    cfg = f.attrs["config"]
    c = mt.parse_config(cfg.decode() if isinstance(cfg, bytes) else cfg)
    names = mt.datasets(f["params"])
    p = {n: torch.tensor(f["params"][n][()], dtype=torch.float32) for n in names}
    batch = {k: f["batch"][k][()] for k in f["batch"]}
    for k in batch:
        if k.startswith("enc_"):
            batch[k] = torch.tensor(batch[k])
    batch["ids"] = torch.tensor(batch["ids"], dtype=torch.long)
    return c, p, batch


def bench_step(c, p, batch, threads, min_time):
    lora = [n for n in p if "/lora_" in n]
    for n in lora:
        p[n].requires_grad_(True)
    lm = Lm(p, c, batch["ids"].shape[1])
    lens = torch.tensor(batch["len"], dtype=torch.long)
    letters = torch.tensor(batch["letters"], dtype=torch.long)
    labels = torch.tensor(batch["labels"], dtype=torch.long)
    opt = torch.optim.AdamW([p[n] for n in lora], lr=1e-3, betas=(0.9, 0.999), eps=1e-8,
                            weight_decay=1e-2, foreach=True)
    rows = torch.arange(len(lens))

    def step():
        x = embed(p, c, batch)  # the frozen encoders run every step, as in C
        hid = lm.forward(x, drop=True)
        logits = hid[rows, lens - 1] @ lm.head[letters].T
        loss = F.cross_entropy(logits, labels)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return loss.item()

    l0 = step()
    for _ in range(4):
        step()
    steps, t0, c0 = 0, time.perf_counter(), time.process_time()
    while True:
        l1 = step()
        steps += 1
        t1 = time.perf_counter()
        if t1 - t0 >= min_time and steps >= 5:
            break
    cpu = time.process_time() - c0
    print("train model=mllm threads=%d steps_per_s=%.2f steps=%d loss=%.4f->%.4f "
          "cpu_steps_per_s=%.2f params=%d trainable=%d T=%d torch=%s" %
          (threads, steps / (t1 - t0), steps, l0, l1, steps / cpu, sum(t.numel() for t in p.values()),
           sum(p[n].numel() for n in lora), batch["ids"].shape[1], torch.__version__))


def bench_gen(c, p, batch, threads, min_time):
    tp = int(batch["len"][0])
    lm = Lm(p, c, tp + GEN_NEW)
    x = embed(p, c, batch)[0:1, :tp].contiguous()
    emb = p["lm/tok_emb"]
    cache = [(torch.zeros(1, lm.H, tp + GEN_NEW, lm.hd), torch.zeros(1, lm.H, tp + GEN_NEW, lm.hd))
             for _ in range(lm.L)]

    def generate():
        out = []
        hid = lm.forward(x, cache=cache)[:, -1]
        for t in range(GEN_NEW):
            nxt = int(torch.argmax(hid @ lm.head.T, -1))
            out.append(nxt)
            if t + 1 < GEN_NEW:
                hid = lm.forward(emb[nxt].view(1, 1, -1), cache=cache, pos0=tp + t)[:, -1]
        return out

    with torch.no_grad():
        for _ in range(2):
            out = generate()
        runs, t0 = 0, time.perf_counter()
        while True:
            out = generate()
            runs += 1
            if runs >= 5 and time.perf_counter() - t0 >= min_time:
                break
        ms = (time.perf_counter() - t0) / runs * 1e3
    print("train model=mllm_gen threads=%d tokens_per_s=%.2f runs=%d prompt=%d new=%d ids=%s "
          "torch=%s" % (threads, GEN_NEW / (ms * 1e-3), runs, tp, GEN_NEW,
                        ",".join(str(i) for i in out[:8]), torch.__version__))


def main():
    a = {"model": "mllm", "threads": "1", "min_time": "0.5", "dump": ""}
    for arg in sys.argv[1:]:
        k, _, v = arg.partition("=")
        if k not in a:
            sys.exit(__doc__)
        a[k] = v
    if not a["dump"] or a["model"] not in ("mllm", "mllm_gen"):
        sys.exit(__doc__)
    threads = int(a["threads"])
    torch.set_num_threads(threads)
    torch.manual_seed(1)
    c, p, batch = load(a["dump"])
    (bench_step if a["model"] == "mllm" else bench_gen)(c, p, batch, threads,
                                                        float(a["min_time"]))


if __name__ == "__main__":
    main()
