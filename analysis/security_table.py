#!/usr/bin/python3
"""The security tables (issue 14) from the run files of jobs/security/sweep.txt.

    analysis/security_table.py --manifest jobs/security/sweep.txt --md jobs/security/RESULTS.md

Four blocks, each from its study's runs (jobs/security/gen_sweep.py says which line is which):
  attack     final test accuracy (the global model on the whole test set, at the last evaluated
             round; mean ± std over seeds) of every defence against every attack, and the updates
             each cell left out per round (party_verdict not kept or clipped);
  secagg     the plain runs (defence none, no attack) against secure aggregation: accuracy,
             whether the global model's accuracy series is identical, payload up per round,
             median round time, rounds whose secure sum succeeded;
  straggler  the round deadline against the share of sampled updates that arrived and accuracy;
  dp         the noise multiplier against the final (epsilon, delta) and accuracy, and the curve
             dp_curve.png (accuracy against epsilon) next to --md;
  dp-mllm    the same for FedMLLM on the tiny multimodal LLM (accuracy and macro-F1).
The manifest's lines must be gen_sweep.py's (regenerate it after editing that). Runs must come from
one clean commit (analysis/runs.py provenance; --allow-dirty / --allow-mixed to override, flagged).
--csv (default: RESULTS.csv next to --md) gets every cell unrounded; RUNS.sha256 next to --md the
digests of every run.h5 and final checkpoint.
"""
import argparse
import csv
import importlib.util
import math
import os
import shlex
import subprocess
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import runs as rf  # noqa: E402
from table import caution, data_digests, write_digests  # noqa: E402


def load_sweep(path):
    spec = importlib.util.spec_from_file_location("security_sweep", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def manifest(path):
    """(lines, run directories) of the manifest, in order."""
    lines = [ln.strip() for ln in open(path) if ln.strip() and not ln.lstrip().startswith("#")]
    p = subprocess.run([os.path.join(HERE, "run_manifest.sh"), path, "--list"], capture_output=True,
                       text=True)
    if p.returncode:
        sys.exit(f"error: security_table.py: {path}: {p.stderr.strip()}")
    return lines, p.stdout.split()


def final(r, series="test_acc"):
    return rf.last_measured(r.metrics[series]) if series in r.metrics else math.nan


def ms(values):
    v = np.array([x for x in values if not math.isnan(x)], dtype=float)
    if not len(v):
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def fmt(m, s, scale=100.0, digits=1):
    if math.isnan(m):
        return "—"
    return f"{m * scale:.{digits}f}" + ("" if math.isnan(s) else f" ± {s * scale:.{digits}f}")


def left_out(r):
    """Updates per round not used as sent (verdicts other than kept 0 and clipped 4; NaN = none sent)."""
    v = r.metrics["party_verdict"]
    bad = np.sum(~np.isnan(v) & (v != 0) & (v != 4), axis=1)
    return float(bad.mean())


def arrived_share(r):
    s, a = r.metrics["party_sampled"], r.metrics["party_arrived"]
    return float(a.sum() / s.sum())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True, help="jobs/security/sweep.txt")
    ap.add_argument("--sweep", default="jobs/security/gen_sweep.py", help="its generator (the rows)")
    ap.add_argument("--md", help="also write the Markdown here")
    ap.add_argument("--csv", help="every cell, unrounded [RESULTS.csv next to --md]")
    rf.add_provenance_args(ap)
    a = ap.parse_args()
    sweep = load_sweep(a.sweep)
    gen = sweep.lines()
    lines, dirs = manifest(a.manifest)
    if [g[-1] for g in gen] != lines:
        sys.exit(f"error: security_table.py: {a.manifest} is not what {a.sweep} writes: regenerate it "
                 f"({a.sweep} > {a.manifest})")
    have = [(g, d) for g, d in zip(gen, dirs) if os.path.exists(os.path.join(d, "run.h5"))]
    missing = [d for g, d in zip(gen, dirs) if not os.path.exists(os.path.join(d, "run.h5"))]
    if not have:
        sys.exit(f"error: security_table.py: none of the {len(dirs)} runs of {a.manifest} has a run file yet")
    runs = rf.load_all([d for _, d in have])
    rf.require(runs, ["party_verdict", "party_update_norm"], "security_table.py")
    marks = rf.provenance(runs, "security_table.py", a.allow_dirty, a.allow_mixed)
    cells = {}  # (study, row, column) -> [run]
    for (g, _), r in zip(have, runs):
        cells.setdefault(g[:3], []).append(r)
    out_csv = []

    def cell(study, row, col=""):
        return cells.get((study, row, col), [])

    md = ["# Security of the federation: attacks and defences, secure aggregation, stragglers, DP", ""]
    md += caution(runs, marks)
    commits = sorted({str(r.meta.get("git_commit", "unknown")) for r in runs})
    md += [f"Generated by `{' '.join(['analysis/security_table.py'] + [shlex.quote(x) for x in sys.argv[1:]])}` "
           f"from {len(runs)} run files of `{a.manifest}` (made by `make security-table`), mmcollab "
           f"commit {', '.join(c[:12] for c in commits)}. Data: " +
           "; ".join(f"{ds} sha256 {', '.join(d[:16] for d in v)}…" for ds, v in data_digests(runs).items()) +
           ". Digests of every run file and final checkpoint: RUNS.sha256."]
    if missing:
        md += ["", f"**{len(missing)} of {len(dirs)} runs have no run file yet** (first: `{missing[0]}`)."]

    # ---- attack × defence ----
    atk = list(sweep.ATTACKS)
    md += ["", "## Accuracy under attack", "",
           f"FedAvg, AV-FashionMNIST (`jobs/security/attack.cfg`: 10 parties, all in every round, 20 rounds), "
           f"{sweep.ATTACKERS} of the 10 parties attacking in every round (the same ones throughout). Cells: "
           f"test accuracy (%) of the global model at round 20, mean ± std over seeds {', '.join(map(str, sweep.SEEDS))}; "
           "below it, the updates per round the defence left out (rejected, or not selected by Krum). "
           "Attacks: signflip sends −3× its update, scale 10×, noise replaces it by N(0, 1) per "
           f"coordinate, nan puts NaN into it. reject/clip bound: L2 norm {sweep.NORM} (just above the "
           "largest honest update of the clean run); trimmed mean cuts 30 % at each end; Krum assumes "
           "f = 3 (multi-Krum averages the best 4). Non-finite and out-of-range updates are left out "
           "under every rule, `none` included.", ""]
    md += ["| defence | " + " | ".join(atk) + " |", "|---|" + "---|" * len(atk)]
    for d in sweep.DEFENCES:
        accs, outs = [], []
        for c in atk:
            rs = cell("attack", d, c)
            m, s = ms([final(r) for r in rs])
            lo = ms([left_out(r) for r in rs])[0]
            accs.append(fmt(m, s))
            outs.append("—" if math.isnan(lo) else f"{lo:.1f} out")
            out_csv.append({"study": "attack", "row": d, "column": c, "n": len(rs), "acc_mean": m,
                            "acc_std": s, "left_out_per_round": lo})
        md += [f"| {d} | " + " | ".join(f"{x}<br><sub>{y}</sub>" for x, y in zip(accs, outs)) + " |"]

    # ---- secure aggregation ----
    md += ["", "## Secure aggregation", "",
           "The same configuration without attack. The parties mask their fixed-point terms "
           "(X25519 pairwise keys, ChaCha20 masks in Z/2^64), the cloud sums the masked vectors and "
           "removes the masks; members that vanish after sharing their keys are recovered from Shamir "
           "shares (threshold: a strict majority). Payload: what a deployment sends per round, all "
           "parties (masked 8-byte terms instead of 4-byte floats, plus the key exchange). Round "
           "time: median over the run's rounds, two runs sharing the 2 cores.", "",
           "| aggregation | test acc (%) | accuracy series identical to plain | payload up / round | "
           "round time (ms) | rounds with a successful secure sum |", "|---|---|---|---|---|---|"]
    plain = cell("attack", "none", "none")
    rows = [("plain", plain)] + [(n, cell("secagg", n)) for n in sweep.SECAGG]
    for name, rs in rows:
        m, s = ms([final(r) for r in rs])
        up = ms([float(r.metrics["payload_up"].mean()) for r in rs])[0]
        t = ms([float(np.median(r.metrics["round_ms"])) for r in rs])[0]
        same = "—"
        if name != "plain" and rs and plain:
            by_seed = {r.seed: r for r in plain}
            eq = [np.array_equal(r.metrics["test_acc"], by_seed[r.seed].metrics["test_acc"], equal_nan=True)
                  for r in rs if r.seed in by_seed]
            same = f"{sum(eq)} of {len(eq)} seeds"
        ok = (f"{np.mean([np.mean(r.metrics['secagg_ok']) for r in rs]) * 100:.0f} %"
              if rs and "secagg_ok" in rs[0].metrics else "—")
        up_s = "—" if math.isnan(up) else f"{up / 1e6:.2f} MB"
        t_s = "—" if math.isnan(t) else f"{t:.0f}"
        md += [f"| {name} | {fmt(m, s)} | {same} | {up_s} | {t_s} | {ok} |"]
        out_csv.append({"study": "secagg", "row": name, "column": "", "n": len(rs), "acc_mean": m,
                        "acc_std": s, "payload_up_per_round": up, "round_ms_median": t})

    # ---- stragglers ----
    md += ["", "## Stragglers", "",
           "The same configuration without attack; each party's time in a round is its rows over the "
           "mean party's, times a log-normal speed (σ 0.5) drawn per party and round; updates later "
           "than the deadline (in units of the mean party's time at nominal speed) are dropped and the "
           "mean renormalises over the rest.", "",
           "| deadline | updates arrived | test acc (%) |", "|---|---|---|"]
    for dl in sweep.DEADLINES:
        rs = plain if dl == "0" else cell("straggler", dl)
        m, s = ms([final(r) for r in rs])
        share = ms([arrived_share(r) for r in rs])[0]
        md += [f"| {'none (wait for all)' if dl == '0' else dl} | "
               f"{'—' if math.isnan(share) else f'{share * 100:.0f} %'} | {fmt(m, s)} |"]
        out_csv.append({"study": "straggler", "row": dl, "column": "", "n": len(rs), "acc_mean": m,
                        "acc_std": s, "arrived_share": share})

    # ---- DP ----
    md += ["", "## Client-level differential privacy (DP-FedAvg)", "",
           f"FedAvg on Landsat (`jobs/security/dp.cfg`: 200 parties, Poisson sampling at rate 0.2, 300 "
           f"rounds, the 1,238-parameter party model). Each update clipped to L2 norm C = {sweep.DP_CLIP}, "
           "the sum divided by the expected 40 parties, Gaussian noise of std σ·C/40 on the mean. ε at "
           "δ = 1e-5 after 300 rounds from the RDP accountant of the Poisson-subsampled Gaussian "
           f"mechanism. Test accuracy (%) at round 300, mean ± std over seeds {', '.join(map(str, sweep.DP_SEEDS))}.",
           "", "| noise multiplier σ | ε (δ = 1e-5) | test acc (%) |", "|---|---|---|"]
    curve = []
    for sg in sweep.SIGMAS:
        rs = cell("dp", sg)
        m, s = ms([final(r) for r in rs])
        eps = ms([final(r, "dp_epsilon") for r in rs])[0] if sg != "0" else math.inf
        eps_s = "∞" if math.isinf(eps) else "—" if math.isnan(eps) else f"{eps:.2f}"
        md += [f"| {'— (no DP)' if sg == '0' else sg} | {eps_s} | {fmt(m, s)} |"]
        out_csv.append({"study": "dp", "row": sg, "column": "", "n": len(rs), "acc_mean": m, "acc_std": s,
                        "epsilon": eps})
        curve.append((sg, eps, m, s))
    md += ["", "### FedMLLM: LoRA federation of the tiny multimodal LLM", "",
           "The FedMLLM task `items` (`jobs/fedmllm/items.cfg`: AV-FashionMNIST's 10 classes as a multiple "
           "choice, LoRA r 4 on q, k, v, o, 40 rounds) with `jobs/security/dp_mllm.cfg`: 100 parties of ~15 "
           f"rows, Poisson sampling at rate 0.2 (20 expected a round), label skew α 5; clip C = {sweep.DP_CLIP} "
           "on the adapters' update, noise σ·C/20 on the mean. Test accuracy and macro-F1 (%) at round 40, "
           f"mean ± std over seeds {', '.join(map(str, sweep.MLLM_SEEDS))}.", "",
           "| noise multiplier σ | ε (δ = 1e-5) | test acc (%) | test macro-F1 (%) |", "|---|---|---|---|"]
    curve_mllm = []
    for sg in sweep.MLLM_SIGMAS:
        rs = cell("dp-mllm", sg)
        m, s = ms([final(r) for r in rs])
        f1 = ms([final(r, "test_macro_f1") for r in rs])
        eps = ms([final(r, "dp_epsilon") for r in rs])[0] if sg != "0" else math.inf
        eps_s = "∞" if math.isinf(eps) else "—" if math.isnan(eps) else f"{eps:.2f}"
        md += [f"| {'— (no DP)' if sg == '0' else sg} | {eps_s} | {fmt(m, s)} | {fmt(*f1)} |"]
        out_csv.append({"study": "dp-mllm", "row": sg, "column": "", "n": len(rs), "acc_mean": m,
                        "acc_std": s, "macro_f1_mean": f1[0], "macro_f1_std": f1[1], "epsilon": eps})
        curve_mllm.append((sg, eps, m, s))
    if a.md:
        os.makedirs(os.path.dirname(a.md) or ".", exist_ok=True)
        png = os.path.join(os.path.dirname(a.md), "dp_curve.png")
        plt = rf.pyplot()
        fig, axes = plt.subplots(1, 2, figsize=(10, 3.6))
        for ax, cv, title, rounds in ((axes[0], curve, "FedAvg, Landsat: 200 parties, rate 0.2", 300),
                                      (axes[1], curve_mllm, "FedMLLM, tiny MLLM: 100 parties, rate 0.2", 40)):
            pts = [(e, m * 100, s * 100) for sg, e, m, s in cv if not math.isinf(e) and not math.isnan(m)]
            if pts:
                e, m, s = map(np.array, zip(*pts))
                ax.errorbar(e, m, yerr=np.nan_to_num(s), marker="o", capsize=3, label="with DP")
            nodp = [m for sg, e, m, s in cv if math.isinf(e) and not math.isnan(m)]
            if nodp:
                ax.axhline(nodp[0] * 100, color="gray", ls="--", label="without DP")
            ax.set_xscale("log")
            ax.set_xlabel(f"ε at δ = 1e-5 after {rounds} rounds")
            ax.set_ylabel("test accuracy (%)")
            ax.set_title(title, fontsize=10)
            if pts or nodp:
                ax.legend()
        fig.tight_layout()
        fig.savefig(png, dpi=110)
        md += ["", "![accuracy against epsilon](dp_curve.png)"]
        write_digests(os.path.join(os.path.dirname(a.md), "RUNS.sha256"), runs)
    text = "\n".join(md) + "\n"
    sys.stdout.write(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)
    csv_path = a.csv or (os.path.splitext(a.md)[0] + ".csv" if a.md else None)
    if csv_path:
        keys = []
        for row in out_csv:
            keys += [k for k in row if k not in keys]
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for row in out_csv:
                w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


if __name__ == "__main__":
    main()
