#!/usr/bin/python3
"""mllm_torch.py - the PyTorch twin of the tiny multimodal LLM (src/models/mllm.h; issue 12 item 1).

Reads the file tests/probes/mllm_dump.c wrote, rebuilds the model from its spec in PyTorch (float32,
torch's own autograd, nothing shared with the C code but the weights and the inputs), recomputes
  1. the contract: the option letters' logits at each row's last position, their mean CE and the
     gradients of the selected tensors (LoRA + projectors), and
  2. the LM loss: full-vocabulary logits at the target positions, their mean CE and the gradient of
     every tensor,
and compares each with what C computed. Exit status 0 when everything is within tolerance, 1 when
not (the worst tensors are printed either way).

Error measure, per tensor: max |c - t| / max(max |t|, floor): relative to the tensor's scale, so
that near-zero entries of a gradient do not blow up an element-wise ratio. Tolerances:
  TOL_OUT 1e-5 (logits, losses): one float32 forward through ~10 layers whose sums run in another
    order (BLAS blocking, fused vs. separate ops) differs by a few ulps (~1e-6 of the scale);
  TOL_GRAD 1e-4 (gradients): the backward adds the forward's rounding, softmax-CE differences of
    nearly equal probabilities, and long accumulations (the embedding's rows, the encoders' weights
    summed over every patch and row); float32 epsilon 1.2e-7 times ~1e2-1e3 such terms.

  /usr/bin/python3 tests/torch/mllm_torch.py OUT.h5 [--break=gelu|rope|lora] [--verbose]
--break deliberately miscomputes one part (exact-erf GELU, interleaved RoPE pairs, LoRA without
α/r) to show that the comparison can fail.
"""
import math
import sys

import h5py
import numpy as np
import torch
import torch.nn.functional as F

TOL_OUT, TOL_GRAD, FLOOR = 1e-5, 1e-4, 1e-6
BREAK = ""


def parse_config(text):
    c = {}
    for line in text.splitlines():
        if "=" in line:
            k, v = line.split("=", 1)
            c[k.strip()] = v.strip()
    return c


def gelu(x):
    if BREAK == "gelu":
        return F.gelu(x)  # exact erf form: wrong on purpose
    return F.gelu(x, approximate="tanh")


def layernorm(x, w, b):
    return F.layer_norm(x, (x.shape[-1],), w, b, eps=1e-5)


def rmsnorm(x, w):
    return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + 1e-5) * w


def vit(p, pre, cfg, x):
    """x (n, H·W) → (n, Gh·Gw, D): patchify (C = 1), linear + pos, pre-LN blocks, final LN."""
    H, W, Ph, Pw = (int(cfg[k]) for k in ("H", "W", "Ph", "Pw"))
    D, L, nh = int(cfg["D"]), int(cfg["L"]), int(cfg["heads"])
    n = x.shape[0]
    patches = x.view(n, 1, H // Ph, Ph, W // Pw, Pw).permute(0, 2, 4, 1, 3, 5)
    patches = patches.reshape(n, (H // Ph) * (W // Pw), Ph * Pw)
    z = patches @ p[pre + "/patch/w"].T + p[pre + "/patch/b"] + p[pre + "/pos"]
    hd, T = D // nh, z.shape[1]
    bl = pre + "/blocks/"
    for l in range(L):
        h = layernorm(z, p[bl + "ln1w"][l], p[bl + "ln1b"][l])
        qkv = h @ p[bl + "qkvw"][l].T + p[bl + "qkvb"][l]
        q, k, v = (t.view(n, T, nh, hd).transpose(1, 2) for t in qkv.split(D, -1))
        att = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(hd), -1)
        y = (att @ v).transpose(1, 2).reshape(n, T, D)
        z = z + y @ p[bl + "attprojw"][l].T + p[bl + "attprojb"][l]
        h = layernorm(z, p[bl + "ln2w"][l], p[bl + "ln2b"][l])
        f = gelu(h @ p[bl + "fcw"][l].T + p[bl + "fcb"][l])
        z = z + f @ p[bl + "fcprojw"][l].T + p[bl + "fcprojb"][l]
    return layernorm(z, p[pre + "/lnf/w"], p[pre + "/lnf/b"])


def pixel_shuffle(t, gh, gw, sh, sw):
    n, _, C = t.shape
    t = t.view(n, gh // sh, sh, gw // sw, sw, C).permute(0, 1, 3, 2, 4, 5)
    return t.reshape(n, (gh // sh) * (gw // sw), sh * sw * C)


def rope(x, theta):
    """x (B, H, T, hd), rotate-half pairs (i, i + hd/2), positions 0..T-1."""
    T, hd = x.shape[2], x.shape[3]
    inv = theta ** (-torch.arange(0, hd // 2, dtype=torch.float64) * 2.0 / hd)
    ang = torch.arange(T, dtype=torch.float64)[:, None] * inv[None, :]
    cos, sin = ang.cos().float(), ang.sin().float()
    if BREAK == "rope":  # interleaved pairs (2i, 2i+1): wrong on purpose
        a, b = x[..., 0::2], x[..., 1::2]
        return torch.stack((a * cos - b * sin, b * cos + a * sin), -1).flatten(-2)
    a, b = x[..., : hd // 2], x[..., hd // 2:]
    return torch.cat((a * cos - b * sin, b * cos + a * sin), -1)


def llama(p, c, x):
    """x (B, T, D) → hid (B, T, D)."""
    B, T, D = x.shape
    L, nh = int(c["lm.L"]), int(c["lm.H"])
    hd, theta = D // nh, float(c["lm.theta"])
    scale = float(c["lora_alpha"]) / int(c["lora_r"])
    if BREAK == "lora":
        scale = 1.0 / int(c["lora_r"])
    mask = torch.ones(T, T, dtype=torch.bool).tril()

    def proj(h, name, l):
        a, b = p["lm/lora_%s_a" % name][l], p["lm/lora_%s_b" % name][l]
        return h @ p["lm/w" + name][l].T + scale * ((h @ a.T) @ b.T)

    for l in range(L):
        h = rmsnorm(x, p["lm/attn_norm"][l])
        q, k, v = (proj(h, n, l).view(B, T, nh, hd).transpose(1, 2) for n in "qkv")
        q, k = rope(q, theta), rope(k, theta)
        s = (q @ k.transpose(-1, -2)) / math.sqrt(hd)
        att = torch.softmax(s.masked_fill(~mask, float("-inf")), -1)
        y = (att @ v).transpose(1, 2).reshape(B, T, D)
        x = x + proj(y, "o", l)
        h2 = rmsnorm(x, p["lm/mlp_norm"][l])
        g, u = h2 @ p["lm/w1"][l].T, h2 @ p["lm/w3"][l].T
        x = x + (F.silu(g) * u) @ p["lm/w2"][l].T
    return rmsnorm(x, p["lm/norm"])


def forward(p, c, batch):
    """The hidden states (B, T, D) of the batch: embeddings with the encoders' tokens in slots."""
    ids = batch["ids"]
    x = p["lm/tok_emb"][ids].clone()
    for e in range(int(c["n_enc"])):
        ec = {k[len("enc%d." % e):]: v for k, v in c.items() if k.startswith("enc%d." % e)}
        name = ec["name"]
        slot = batch["slot_" + name]
        rows = [r for r in range(ids.shape[0]) if slot[r] >= 0]
        if not rows:
            continue
        tok = vit(p, "enc_" + name, ec, batch["enc_" + name][rows])
        gh, gw = int(ec["H"]) // int(ec["Ph"]), int(ec["W"]) // int(ec["Pw"])
        tok = pixel_shuffle(tok, gh, gw, int(ec["sh"]), int(ec["sw"]))
        pp = "proj_" + name
        tok = gelu(tok @ p[pp + "/p1/w"].T + p[pp + "/p1/b"]) @ p[pp + "/p2/w"].T + p[pp + "/p2/b"]
        for i, r in enumerate(rows):
            s = int(slot[r])
            x[r, s:s + tok.shape[1]] = tok[i]
    return llama(p, c, x)


def head(p, c):
    return p["lm/tok_emb"] if int(c["lm.tied"]) else p["lm/head"]


def datasets(group):
    """The paths of every dataset under group, relative to it (the tensor names)."""
    out = []

    def add(name, obj):
        if isinstance(obj, h5py.Dataset):
            out.append(name)

    group.visititems(add)  # a callback returning non-None would stop the walk
    return out


def err(a, b):
    """max |a - b| relative to b's scale (b: the torch value)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(float(np.max(np.abs(b))), FLOOR))


def main():
    global BREAK
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    for a in sys.argv[1:]:
        if a.startswith("--break="):
            BREAK = a[len("--break="):]
    verbose = "--verbose" in sys.argv
    if len(args) != 1 or BREAK not in ("", "gelu", "rope", "lora"):
        sys.exit(__doc__)
    torch.manual_seed(0)
    torch.set_num_threads(1)
    f = h5py.File(args[0], "r")
    c = parse_config(f.attrs["config"].decode() if isinstance(f.attrs["config"], bytes)
                     else f.attrs["config"])
    names = datasets(f["params"])
    p = {n: torch.tensor(f["params"][n][()], dtype=torch.float32, requires_grad=True)
         for n in names}
    batch = {k: (torch.tensor(f["batch"][k][()]) if k.startswith("enc_") else f["batch"][k][()])
             for k in f["batch"]}
    batch["ids"] = torch.tensor(batch["ids"], dtype=torch.long)
    lens, letters = batch["len"], torch.tensor(batch["letters"], dtype=torch.long)
    labels = torch.tensor(batch["labels"], dtype=torch.long)
    results = []  # (what, tensor name, error, tolerance)

    # 1. the contract: the option letters' logits at the last position
    hid = forward(p, c, batch)
    last = hid[torch.arange(len(lens)), torch.tensor(lens, dtype=torch.long) - 1]
    logits = last @ head(p, c)[letters].T
    loss = F.cross_entropy(logits, labels)
    gr = torch.autograd.grad(loss, [p[n] for n in names], allow_unused=True)
    results.append(("contract", "logits", err(f["contract/logits"][()], logits.detach()), TOL_OUT))
    results.append(("contract", "loss", err(f["contract/loss"][0], loss.item()), TOL_OUT))
    sel = datasets(f["contract/grad"])
    for n, g in zip(names, gr):
        if n in sel:
            t = g if g is not None else torch.zeros_like(p[n])
            results.append(("contract", "grad " + n, err(f["contract/grad"][n][()], t), TOL_GRAD))

    # 2. the LM loss over the whole vocabulary at the target positions (row-major order)
    tgt = torch.tensor(f["lm/targets"][()], dtype=torch.long)
    hid = forward(p, c, batch)
    pos = (tgt >= 0).nonzero()
    rows = hid[pos[:, 0], pos[:, 1]]
    logits = rows @ head(p, c).T
    loss = F.cross_entropy(logits, tgt[pos[:, 0], pos[:, 1]])
    gr = torch.autograd.grad(loss, [p[n] for n in names], allow_unused=True)
    results.append(("lm", "logits", err(f["lm/logits"][()], logits.detach()), TOL_OUT))
    results.append(("lm", "loss", err(f["lm/loss"][0], loss.item()), TOL_OUT))
    for n, g in zip(names, gr):
        t = g if g is not None else torch.zeros_like(p[n])
        results.append(("lm", "grad " + n, err(f["lm/grad"][n][()], t), TOL_GRAD))

    bad = [r for r in results if not r[2] <= r[3]]  # NaN fails too
    shown = results if verbose else bad
    for what, name, e, tol in shown:
        print("%s %-40s rel.err %.3g (tol %.0e)%s" % (what, name, e, tol,
                                                      "" if e <= tol else "  FAIL"))
    for kind, tol in (("logits/loss", TOL_OUT), ("gradient", TOL_GRAD)):
        part = [r for r in results if (r[3] == tol)]
        w = max(part, key=lambda r: r[2] / r[3])
        print("mllm_torch: worst %s: %s %s rel.err %.3g (tol %.0e) of %d compared" %
              (kind, w[0], w[1], w[2], w[3], len(part)))
    print("mllm_torch: %s (torch %s%s)" % ("MISMATCH in %d of %d" % (len(bad), len(results))
                                           if bad else "all %d match" % len(results),
                                           torch.__version__,
                                           ", broken on purpose: " + BREAK if BREAK else ""))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
