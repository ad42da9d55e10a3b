#!/usr/bin/python3
"""A round-time model fitted to measured scaling runs, projected past one machine → PNG + tables.

    analysis/scaling_model.py RUN_DIR... -o projection.png [--md OUT.md] [--pingpong FILE]
        [--alpha-us 1] [--beta-gbps 200] [--nodes 16,...,1024] [--parties 1e4,1e5,1e6]
        [--mllm-base data/base/mllm.h5]

Fit, per method, from the phases every run records (mean over rounds 2..; analysis/README.md), with
P parties on H host ranks (rank h hosts parties [P·h/H, P·(h+1)/H)), rows = the largest sum of
party_n_train over one host's parties:
  host_compute_ms_max        = c_row · rows + c_host0      compute per training row (train + local sum)
  round_ms − comm_ms (cloud) = c_cloud · P + c_fixed       cloud work per party, fixed cost
                               (on the points with the fewest hosts, if they span several P: the
                               cloud's wall time grows with the ranks sharing the cores, not P)
  io_ms                      = c_io                        run file + checkpoint, the mean
(least squares, coefficients held ≥ 0); c_party = c_row · the median rows of a party (or
--rows-per-party). The I/O is held fixed: at 2-8 parties its growth with P
(the run file's per-party series) is below the noise, so a slope would be noise times 10^6. c_cloud / n (n = the exchanged parameters) is the cloud's
aggregation cost per parameter per party.

Projection for N nodes (one host rank each, as measured) and P parties; fabric: alpha (latency) and
beta (bandwidth), the given defaults and the measured TCP ping-pong (--pingpong, the
`bench pingpong ... path=tcp-2nodes` line of tests/bench/bench_pingpong.c):
  T = c_fixed + c_cloud·P + c_io + c_party·ceil(P/N) + c_host0 + T_down + T_up
  reduce-type methods (fedavg, fedmllm): the hosts first sum their own parties (exact int64 fixed
    point, any order gives the same bits), then
      T_up   = min(tree: ceil(log2 N)·(alpha + 8n/beta), ring: 2(N−1)·alpha + 2(N−1)/N·8n/beta)
      T_down = broadcast of the 4n-byte model, the same min over tree and ring (scatter+allgather)
  BoMM: T_up = MPI_Gatherv of every party's upload to rank 0: N·alpha + P·u/beta, all of it through
    the cloud's one link (u = the measured upload bytes per party); T_down = broadcast as above of
    the per-party download (the large model's soft labels; measured).
The cloud is the bottleneck from the node count N* where the slowest host's compute (c_party·P/N)
falls below the cloud's per-party terms (c_cloud·P + BoMM's P·u/beta):
  N* = c_party / (c_cloud + u/beta), independent of P.
Model sizes: the fedavg party model (its measured upload / 4 bytes), BoMM's upload, the tiny MLLM's
LoRA adapters (measured) and the full MLLM's (--mllm-base's config: 4 matrices q, k, v, o of D×D
per decoder layer, rank r: n = L·4·2·r·D; checked against the tiny one's measured payload).
Needs Debian's python3-h5py, python3-numpy, python3-matplotlib (scripts/deps.sh analysis).
"""
import argparse
import math
import os
import re
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402
from scaling import PHASES, method_name  # noqa: E402


def mean2(x):
    x = np.asarray(x, dtype=float)
    x = x[1:] if len(x) > 1 else x
    return float(np.nanmean(x)) if np.any(~np.isnan(x)) else float("nan")


def nnls(A, y):
    """Least squares with every coefficient ≥ 0 (small problems: drop the most negative, refit)."""
    A, y = np.asarray(A, float), np.asarray(y, float)
    keep = list(range(A.shape[1]))
    while True:
        c = np.zeros(A.shape[1])
        if keep:
            c[keep] = np.linalg.lstsq(A[:, keep], y, rcond=None)[0]
        if (c >= 0).all():
            return c
        keep.remove(int(np.argmin(c)))


def lora_params(base_h5, r):
    """LoRA parameters on q, k, v, o of every decoder layer: L · 4 · r · (D + D)."""
    import h5py
    with h5py.File(base_h5, "r") as f:
        cfg = f.attrs["config"]
    cfg = dict(line.split("=", 1) for line in (cfg.decode() if isinstance(cfg, bytes) else cfg).split("\n") if "=" in line)
    D, L = int(cfg["lm.D"]), int(cfg["lm.L"])
    return L * 4 * 2 * r * D, f"D={D}, L={L}, r={r}"


def fit(runs, rows_per_party=None):
    """→ {method: dict of fitted coefficients, payloads and the points}."""
    by = {}
    for r in runs:
        if not all(k in r.metrics for k in PHASES):
            continue
        by.setdefault(method_name(r.config), []).append(r)
    out = {}
    for m, rs in sorted(by.items()):
        pts = []
        for r in rs:
            H = max(int(r.meta["world_size"]) - 1, 1)
            P = int(r.config["parties"])
            v = {k: mean2(r.metrics[k]) for k in PHASES}
            up = r.metrics["party_payload_up"][1:] if len(r.metrics["party_payload_up"]) > 1 else r.metrics["party_payload_up"]
            down = r.metrics["party_payload_down"]
            down = down[1:] if len(down) > 1 else down
            n_train = np.asarray(r.metrics["party_n_train"][0], dtype=float)
            rows = max(n_train[P * h // H:P * (h + 1) // H].sum() for h in range(H))
            pts.append((H, P, v, float(np.nanmean(up)), float(np.nanmean(down)), r.config, rows,
                        float(np.median(n_train))))
        H = np.array([p[0] for p in pts], float)
        P = np.array([p[1] for p in pts], float)
        rows = np.array([p[6] for p in pts])
        host = np.array([p[2]["host_compute_ms_max"] for p in pts])
        cloud = np.array([p[2]["round_ms"] - p[2]["comm_ms"] for p in pts])
        io = np.array([p[2]["io_ms"] for p in pts])
        one = np.ones_like(P)
        c_row, c_host0 = nnls(np.c_[rows, one], host)
        rpp = rows_per_party or float(np.median([p[7] for p in pts]))
        # The cloud's own compute slows down when more ranks share the cores, whatever P: fit it on
        # the points with the fewest hosts where those span two or more party counts.
        sel = H == H.min()
        if len(set(P[sel])) < 2:
            sel = np.ones_like(P, dtype=bool)
        c_cloud, c_fixed = nnls(np.c_[P[sel], one[sel]], cloud[sel])
        c_io = float(np.nanmean(io))
        up, down = float(np.mean([p[3] for p in pts])), float(np.mean([p[4] for p in pts]))
        rel = lambda y, yh: float(np.sqrt(np.mean(((y - yh) / np.maximum(y, 1e-9)) ** 2)))
        out[m] = dict(c_row=c_row, rpp=rpp, c_party=c_row * rpp, c_host0=c_host0, c_cloud=c_cloud, c_fixed=c_fixed, c_io=c_io, up=up, down=down, n_points=len(pts), config=pts[0][5],
                      err_host=rel(host, c_row * rows + c_host0), err_cloud=rel(cloud[sel], c_cloud * P[sel] + c_fixed), cloud_points=int(sel.sum()),
                      gather=m.startswith("bomm"))
    return out


def coll(N, alpha, beta, nbytes):
    """A broadcast or reduce of nbytes over N ranks: the faster of a binomial tree and a ring."""
    if N <= 1:
        return 0.0
    lg = math.ceil(math.log2(N))
    tree = lg * (alpha + nbytes / beta)
    ring = 2 * (N - 1) * alpha + 2 * (N - 1) / N * nbytes / beta
    return min(tree, ring)


def round_time(f, n_params, N, P, alpha, beta):
    """Projected seconds per round → (total, parts dict); f: fitted ms coefficients."""
    ms = 1e-3
    host = (f["c_party"] * math.ceil(P / N) + f["c_host0"]) * ms
    cloud = (f["c_fixed"] + f["c_cloud"] * P) * ms
    io = f["c_io"] * ms
    if f["gather"]:
        up = N * alpha + P * f["up"] / beta
        down = coll(N, alpha, beta, f["down"])
    else:
        up = coll(N, alpha, beta, 8.0 * n_params)  # int64 fixed-point accumulators
        down = coll(N, alpha, beta, 4.0 * n_params)  # the float32 model
    parts = dict(host=host, cloud=cloud, io=io, comm=up + down)
    return sum(parts.values()), parts


def n_star(f, beta):
    """Nodes beyond which the cloud's per-party work exceeds the slowest host's (inf: never)."""
    cloud = f["c_cloud"] + (f["up"] / beta * 1e3 if f["gather"] else 0.0)
    return f["c_party"] / cloud if cloud > 0 else math.inf


def nstar_text(ns):
    if math.isinf(ns):
        return "never (no per-party cloud cost measured)"
    return "below 1: at any node count" if ns < 1 else f"{ns:,.0f}"


def read_pingpong(path):
    """→ (alpha s, beta bytes/s, label) of the path=tcp-2nodes line, else the last bench line."""
    best = None
    for line in open(path):
        m = re.match(r"bench pingpong alpha_us=([0-9.eE+-]+) beta_gbps=([0-9.eE+-]+).*?(path=\S+)?$", line.strip())
        if m:
            cur = (float(m.group(1)) * 1e-6, float(m.group(2)) * 1e9 / 8, m.group(3) or "")
            if best is None or "tcp-2nodes" in cur[2]:
                best = cur
    if best is None:
        sys.exit(f"error: {path}: no 'bench pingpong alpha_us=... beta_gbps=...' line "
                 "(tests/bench/bench_pingpong.c's output)")
    return best


def fmt_s(t):
    if t < 1e-3:
        return f"{t * 1e6:.1f} µs"
    return f"{t * 1e3:.1f} ms" if t < 1 else f"{t:.2f} s" if t < 100 else f"{t:.0f} s"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("-o", "--out", required=True, help="PNG path of the projection")
    ap.add_argument("--md", help="also write the Markdown tables here")
    ap.add_argument("--pingpong", help="bench_pingpong output: the measured TCP fabric, projected too")
    ap.add_argument("--alpha-us", type=float, default=1.0, help="fabric latency, µs (default 1)")
    ap.add_argument("--beta-gbps", type=float, default=200.0, help="fabric bandwidth, Gbit/s (default 200)")
    ap.add_argument("--nodes", default="16,32,64,128,256,512,1024", help="node counts to project")
    ap.add_argument("--parties", default="1e4,1e5,1e6", help="party counts to project")
    ap.add_argument("--rows-per-party", type=float,
                    help="training rows of a projected party (default: the measured median)")
    ap.add_argument("--mllm-base", default="data/base/mllm.h5",
                    help="the full MLLM base file, for its LoRA adapter size (skipped if missing)")
    a = ap.parse_args()
    nodes = [int(x) for x in a.nodes.split(",")]
    parties = [int(float(x)) for x in a.parties.split(",")]
    fits = fit(rf.load_all(a.runs), a.rows_per_party)
    if not fits:
        sys.exit("error: no run records the phases (comm_ms, io_ms, host_compute_ms_max): "
                 "runs from before they existed cannot be fitted")
    fabrics = [(f"{a.beta_gbps:g} Gb/s, {a.alpha_us:g} µs", a.alpha_us * 1e-6, a.beta_gbps * 1e9 / 8)]
    if a.pingpong:
        al, be, lab = read_pingpong(a.pingpong)
        fabrics.append((f"measured TCP ({be * 8 / 1e9:.1f} Gb/s, {al * 1e6:.1f} µs)", al, be))
    # Model sizes (parameters exchanged per party and round).
    cases = []  # (label, fit key, n_params)
    for m, f in fits.items():
        n = f["up"] / 4.0
        if m.endswith("/mllm"):
            r = int(f["config"].get("mllm.lora_r", 4))
            tiny_base = f["config"].get("mllm.base", "")
            if os.path.exists(tiny_base):
                nt, desc = lora_params(tiny_base, r)
                if abs(nt * 4 - f["up"]) > 64:  # the payload carries a few bytes of header at most
                    sys.exit(f"error: tiny LoRA {nt} parameters ({desc}) do not match the measured "
                             f"upload {f['up']:.0f} B of {m}")
            cases.append((f"{m} tiny LoRA", m, n))
            if os.path.exists(a.mllm_base):
                nf, desc = lora_params(a.mllm_base, r)
                cases.append((f"{m} full LoRA ({desc})", m, float(nf)))
        elif f["gather"]:
            cases.append((f"{m} upload ({f['up']:.0f} B/party)", m, n))
        else:
            cases.append((f"{m} party model", m, n))

    md = ["Fitted per method (ms per round; mean over rounds 2.. of each measured point; relative RMS "
          "error of the host and cloud fits):", "",
          "| method | points | c_row (ms/row) | rows/party | c_party (ms/party) | c_host0 | c_cloud (ms/party) | "
          "cloud ns/param/party | c_fixed | c_io | upload B/party | download B/party | fit err host, cloud |",
          "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for m, f in fits.items():
        md.append(f"| {m} | {f['n_points']} | {f['c_row']:.4f} | {f['rpp']:.0f} | {f['c_party']:.3f} | "
                  f"{f['c_host0']:.2f} | {f['c_cloud']:.4f} | "
                  f"{f['c_cloud'] * 1e6 / max(f['up'] / 4, 1):.2f} | {f['c_fixed']:.2f} | {f['c_io']:.1f} | "
                  f"{f['up']:.0f} | {f['down']:.0f} | {f['err_host']:.2f}, {f['err_cloud']:.2f} |")
    flab0, al0, be0 = fabrics[0]
    md += ["", "Fabrics: " + "; ".join(f"**{lab}**" for lab, _, _ in fabrics) + ".", "",
           f"Projected time per round on the {flab0} fabric (one host rank per node, which trains its "
           "parties one after another) and its largest part (host = the slowest host's compute, comm = "
           "reduce or gather + broadcast, cloud = the cloud's own work and I/O):", "",
           "| model | n params | parties | " + " | ".join(f"N={n}" for n in nodes) + " |",
           "|---|---|---|" + "---|" * len(nodes)]
    for lab, m, n in cases:
        for P in parties:
            cells = []
            for N in nodes:
                t, parts = round_time(fits[m], n, N, P, al0, be0)
                big = max(parts, key=parts.get)
                cells.append(f"{fmt_s(t)} ({'cloud' if big == 'io' else big})")
            md.append(f"| {lab} | {n:,.0f} | {P:,} | " + " | ".join(cells) + " |")
    Pmax, Nmax = parties[-1], nodes[-1]
    md += ["", f"Communication alone at {Pmax:,} parties (reduce or gather + broadcast), and N*: the "
           "node count beyond which the cloud's per-party work (its own compute, and for BoMM the "
           "gathered uploads through its one link) exceeds the slowest host's compute:", "",
           "| model | fabric | " + " | ".join(f"comm N={n}" for n in (nodes[0], Nmax)) + " | N* |",
           "|---|---|---|---|---|"]
    for lab, m, n in cases:
        for flab, al, be in fabrics:
            c = [round_time(fits[m], n, N, Pmax, al, be)[1]["comm"] for N in (nodes[0], Nmax)]
            ns = n_star(fits[m], be)
            md.append(f"| {lab} | {flab} | {fmt_s(c[0])} | {fmt_s(c[1])} | "
                      f"{nstar_text(ns)} |")
    text = "\n".join(md) + "\n"
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "w") as fh:
            fh.write(text)

    plt = rf.pyplot()
    fig, axes = plt.subplots(1, len(cases), figsize=(4.2 * len(cases), 4.2), squeeze=False)
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for ax, (lab, m, n) in zip(axes[0], cases):
        f = fits[m]
        for j, P in enumerate(parties):
            for (flab, al, be), ls in zip(fabrics, ("-", "--")):
                T = [round_time(f, n, N, P, al, be)[0] for N in nodes]
                ax.plot(nodes, T, ls, color=colors[j % len(colors)], marker="o", ms=3,
                        label=f"{P:.0e} parties" if ls == "-" else None)
            floor = [round_time(f, n, N, P, *fabrics[0][1:])[1] for N in nodes]
            ax.plot(nodes, [p["cloud"] + p["io"] for p in floor], ":", color=colors[j % len(colors)], lw=1)
        ns = n_star(f, fabrics[0][2])
        if nodes[0] <= ns <= nodes[-1]:
            ax.axvline(ns, color="k", lw=0.8, ls="-.")
            ax.text(ns, ax.get_ylim()[1] if False else 0.98, f" N*={ns:.0f}", transform=ax.get_xaxis_transform(),
                    va="top", fontsize=7)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set(title=f"{lab}\n{n:,.0f} params", xlabel="nodes", ylabel="s per round (projected)")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=6)
    fig.suptitle(f"Projected round time: solid {fabrics[0][0]}"
                 + (f", dashed {fabrics[1][0]}" if len(fabrics) > 1 else "")
                 + "; dotted: the cloud's serial part (fitted on 2 oversubscribed cores)", fontsize=9)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
