#!/usr/bin/python3
"""distill_torch.py - the PyTorch twin of CD-CCA's distillation losses (src/nn/distill.h, issue 15).

For each case file DIR/case_K.in that tests/test_distill.c wrote, recomputes in float64 (from the
same float32 inputs, with torch's own autograd and nothing shared with the C code):
  1. the feature KD through a 1x1 channel map:
       ys' = F.conv1d(ys as (1, Cs, N), W (Ct, Cs, 1), b)  -> (N, Ct)
       loss = F.mse_loss(ys', yt) + sum_j F.l1_loss(hi_j(ys'), hi_j(yt))
     hi_j the detail bands of a J-level DWT along the channel axis, written here as strided
     F.conv1d over a padded signal (symmetric = half-sample reflection, or periodization) and
     checked against pywt.wavedec on the same rows before use; gradients w.r.t. ys, W, b;
  2. the logit KD: T^2 * F.kl_div(log_softmax(zs/T), log_softmax(zt/T), 'batchmean',
     log_target=True), gradient w.r.t. zs;
  3. the soft-target CE: -(q * log_softmax(zs)).sum(-1).mean(), gradient w.r.t. zs;
  4. TENT's entropy: -(p * log p).sum(-1).mean(), p = softmax(zs), gradient w.r.t. zs;
and writes them as float64 to DIR/case_K.out in that order (each loss, then its gradients). The C
test compares. Exit 0 when every case was written, 1 when the DWT disagrees with pywt.

File formats (little-endian):
  case_K.in:  int32 N, Cs, Ct, J, F (2 = db1, 12 = db6), mode (0 symmetric, 1 periodization), Nz, V;
              float32 T; float32 ys (N, Cs), yt (N, Ct), W (Ct, Cs), b (Ct), zs, zt, q (Nz, V)
  case_K.out: float64 feat loss, dys, dW, db, kd loss, dzs, soft-CE loss, dzs, entropy, dzs

  /usr/bin/python3 tests/torch/distill_torch.py DIR COUNT [--break=reflect]
--break=reflect extends the signal by whole-sample reflection (torch's 'reflect' pad) instead of
the symmetric (half-sample) one, and skips the pywt check: the C comparison must then fail.
"""
import sys
import warnings

import numpy as np
import pywt
import torch
import torch.nn.functional as F

BREAK = ""
TOL_PYWT = 1e-12  # float64 conv vs pywt's double loops: a few ulps
# pywt warns when a level is past dwt_max_level (all coefficients see the border): expected here.
warnings.filterwarnings("ignore", message="Level value")


def read_case(path):
    raw = open(path, "rb").read()
    hdr = np.frombuffer(raw, dtype="<i4", count=8)
    N, Cs, Ct, J, Fl, mode, Nz, V = (int(v) for v in hdr)
    T = float(np.frombuffer(raw, dtype="<f4", count=1, offset=32)[0])
    sizes = [N * Cs, N * Ct, Ct * Cs, Ct, Nz * V, Nz * V, Nz * V]
    vals = np.frombuffer(raw, dtype="<f4", offset=36)
    if vals.size != sum(sizes):
        sys.exit(f"distill_torch: {path}: {vals.size} floats, the header needs {sum(sizes)}")
    out, p = [], 0
    for s in sizes:
        out.append(torch.tensor(vals[p:p + s].astype(np.float64)))
        p += s
    ys, yt, W, b, zs, zt, q = out
    return dict(N=N, Cs=Cs, Ct=Ct, J=J, F=Fl, mode=mode, Nz=Nz, V=V, T=T,
                ys=ys.view(N, Cs), yt=yt.view(N, Ct), W=W.view(Ct, Cs), b=b,
                zs=zs.view(Nz, V), zt=zt.view(Nz, V), q=q.view(Nz, V))


def dwt_level(x, wav, mode):
    """One level along the last axis of x (N, L): (lo, hi), as pywt.dwt(x, wav, mode)."""
    lo_f = torch.tensor(wav.dec_lo, dtype=torch.float64)
    hi_f = torch.tensor(wav.dec_hi, dtype=torch.float64)
    Fl = lo_f.numel()
    # pywt: out[o] = sum_j f[j] x_ext[2o + 1 - j]; as a cross-correlation with the flipped filter
    # over X[i] = x_ext[i + 1 - (F - 1)] ... see below for each mode.
    filt = torch.stack([lo_f.flip(0), hi_f.flip(0)]).unsqueeze(1)  # (2, 1, F)
    xs = x.unsqueeze(1)  # (N, 1, L)
    if mode == 0:
        if BREAK == "reflect":
            X = F.pad(xs, (Fl - 1, Fl - 1), mode="reflect")
        else:
            # half-sample symmetric extension by F-1 on each side: x1 x0 | x0 .. x_{L-1} | x_{L-1} ..
            X = torch.cat([xs[..., :Fl - 1].flip(-1), xs, xs[..., -(Fl - 1):].flip(-1)], dim=-1)
        # X[i] = x_ext[i - (F-1)]; out[o] = sum_k flip(f)[k] X[2o + 1 + k]
        y = F.conv1d(X[..., 1:], filt, stride=2)
    else:
        # periodization: out[o] = sum_j f[j] x[(F/2 + 2o - j) mod L] = sum_k flip(f)[k] X[2o + k]
        # with X[i] = x[(i - (F/2 - 1)) mod L], i.e. F/2 - 1 wrapped samples on each side.
        p = Fl // 2 - 1
        X = torch.cat([xs[..., xs.shape[-1] - p:], xs, xs[..., :p]], dim=-1) if p > 0 else xs
        y = F.conv1d(X, filt, stride=2)
    return y[:, 0], y[:, 1]


def hi_bands(x, wav, mode, J):
    his, lo = [], x
    for _ in range(J):
        lo, hi = dwt_level(lo, wav, mode)
        his.append(hi)
    return his


def check_pywt(x, wav, mode, J):
    """The twin's DWT against PyWavelets on the same rows (float64)."""
    his = hi_bands(x, wav, mode, J)
    ref = pywt.wavedec(x.detach().numpy(), wav, mode="symmetric" if mode == 0 else "periodization",
                       level=J, axis=-1)
    # ref = [cA_J, cD_J, ..., cD_1]
    for j in range(J):
        r = ref[J - j]
        got = his[j].detach().numpy()
        if r.shape != got.shape:
            sys.exit(f"distill_torch: MISMATCH level {j + 1}: bands {got.shape} vs pywt {r.shape}")
        err = np.abs(r - got).max() / max(np.abs(r).max(), 1.0)
        if not err <= TOL_PYWT:
            print(f"distill_torch: MISMATCH level {j + 1} band vs pywt: rel err {err:.3g}")
            sys.exit(1)


def run_case(c):
    wav = pywt.Wavelet("db1" if c["F"] == 2 else "db6")
    ys = c["ys"].clone().requires_grad_(True)
    W = c["W"].clone().requires_grad_(True)
    b = c["b"].clone().requires_grad_(True)
    ysm = F.conv1d(ys.t().unsqueeze(0), W.unsqueeze(-1), b)[0].t()  # (N, Ct)
    if BREAK != "reflect":
        check_pywt(ysm, wav, c["mode"], c["J"])
        check_pywt(c["yt"], wav, c["mode"], c["J"])
    loss = F.mse_loss(ysm, c["yt"])
    for hs, ht in zip(hi_bands(ysm, wav, c["mode"], c["J"]), hi_bands(c["yt"], wav, c["mode"], c["J"])):
        loss = loss + F.l1_loss(hs, ht)
    loss.backward()
    res = [loss.detach().reshape(1), ys.grad.reshape(-1), W.grad.reshape(-1), b.grad.reshape(-1)]

    T = c["T"]
    zs = c["zs"].clone().requires_grad_(True)
    kd = T * T * F.kl_div(F.log_softmax(zs / T, -1), F.log_softmax(c["zt"] / T, -1),
                          reduction="batchmean", log_target=True)
    kd.backward()
    res += [kd.detach().reshape(1), zs.grad.reshape(-1).clone()]

    zs.grad = None
    sce = -(c["q"] * F.log_softmax(zs, -1)).sum(-1).mean()
    sce.backward()
    res += [sce.detach().reshape(1), zs.grad.reshape(-1).clone()]

    zs.grad = None
    logp = F.log_softmax(zs, -1)
    ent = -(logp.exp() * logp).sum(-1).mean()
    ent.backward()
    res += [ent.detach().reshape(1), zs.grad.reshape(-1).clone()]
    return torch.cat(res).numpy().astype("<f8")


def main():
    global BREAK
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    for a in sys.argv[1:]:
        if a.startswith("--break="):
            BREAK = a.split("=", 1)[1]
    if len(args) != 2:
        sys.exit(__doc__)
    d, count = args[0], int(args[1])
    for k in range(count):
        c = read_case(f"{d}/case_{k}.in")
        run_case(c).tofile(f"{d}/case_{k}.out")
    print(f"distill_torch: all {count} cases written{' (broken: ' + BREAK + ')' if BREAK else ''}")


if __name__ == "__main__":
    main()
