#!/usr/bin/python3
"""Strong and weak scaling efficiency from run files that differ in world size and parties → PNG + table.

    analysis/scaling.py RUN_DIR... -o scaling.png [--md OUT.md] [--count hosts|ranks] [--phases PNG]

Per run: T = median of round_ms over rounds 2.. (round 1 pays start-up; a 1-round run uses it),
R = ranks doing party work: hosts = world_size − 1 (rank 0 is the cloud), or world_size with
--count ranks. Runs are compared only within one experiment (same config apart from parties, seed
and bookkeeping keys); runs at the same (parties, world size) are averaged.
  strong (same parties, several R):      speedup T1/T, efficiency T1·R1 / (T·R)
  weak (same parties per host, several R): efficiency T1/T
where T1, R1 belong to the smallest R of the series. The Markdown table goes to stdout (and --md);
the PNG shows time per round, speedup (strong) and efficiency against R. A method is named by
--method, and by --model where that is not the default (fedavg/mllm: FedAvg over the MLLM's LoRA).

Phases (runs that record them, analysis/README.md): the mean over rounds 2.. of the cloud's
  compute = round_ms - comm_ms   the cloud's own work (aggregation, its models, evaluation)
  comm    = comm_ms              time in MPI calls; in a collective, waiting for the slowest host
  I/O     = io_ms                writing the run file and checkpoint (after round_ms, not in it)
and host_compute_ms_max (the slowest host rank's time outside MPI). A second Markdown table
follows the first; --phases draws them as stacked bars, one per run point.
Needs Debian's python3-h5py and python3-matplotlib (scripts/deps.sh analysis).
"""
import argparse
import os
import sys
from fractions import Fraction

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402


def round_time(r):
    ms = r.metrics["round_ms"]
    ms = ms[~np.isnan(ms)]
    if len(ms) == 0:
        sys.exit(f"error: {r.path}: round_ms holds no timings")
    return float(np.median(ms[1:] if len(ms) > 1 else ms))


def experiment(config):
    """The config apart from parties and bookkeeping; a --max-train that grows with the parties (a
    fixed number of rows per party, as make scaling sets it) counts as its rows per party."""
    cfg = {k: v for k, v in config.items() if k not in rf.BOOKKEEPING and k != "parties"}
    if int(cfg.get("max-train", 0) or 0) > 0:
        cfg["max-train"] = f"{Fraction(int(cfg['max-train']), int(config['parties']))} per party"
    return tuple(sorted((k, str(v)) for k, v in cfg.items()))


def points(runs, count):
    """→ {(experiment key, parties, R, hosts): [T...]}."""
    pts = {}
    for r in runs:
        ws = int(r.meta["world_size"])
        hosts = ws - 1
        exp = experiment(r.config)
        R = hosts if count == "hosts" else ws
        pts.setdefault((exp, int(r.config["parties"]), R, hosts), []).append(round_time(r))
    return pts


def method_name(config):
    """--method, with --model appended where it is not the default (party)."""
    m, model = config.get("method", "?"), config.get("model", "party")
    return m if model in ("party", None, "") else f"{m}/{model}"


def exp_names(pts):
    """Experiment key → its method, with #2, #3 for further configs of one method."""
    names, seen = {}, {}
    for e in sorted({k[0] for k in pts}):
        m = method_name(dict(e))
        seen[m] = seen.get(m, 0) + 1
        names[e] = m if seen[m] == 1 else f"{m}#{seen[m]}"
    return names


def series(pts):
    """→ list of (kind, experiment, [(parties, R, n_runs, T)...] sorted by R) with at least two R."""
    strong, weak = {}, {}
    for (exp, p, R, hosts), ts in pts.items():
        pt = (p, R, len(ts), float(np.mean(ts)))
        strong.setdefault((exp, p), []).append(pt)
        weak.setdefault((exp, Fraction(p, max(hosts, 1))), []).append(pt)
    names = exp_names(pts)
    out = []
    for (exp, _), s in strong.items():
        if len({x[1] for x in s}) > 1:
            out.append(("strong", names[exp], sorted(s, key=lambda x: x[1])))
    for (exp, _), s in weak.items():
        if len({x[1] for x in s}) > 1 and len({x[0] for x in s}) > 1:
            out.append(("weak", names[exp], sorted(s, key=lambda x: x[1])))
    return sorted(out, key=lambda x: (x[0], x[1], x[2][0][0]))


def efficiency(kind, s):
    """→ (speedup or None, efficiency) per point of a series; the first point is the baseline."""
    _, R1, _, T1 = s[0]
    return [(T1 / T if kind == "strong" else None, T1 * R1 / (T * R) if kind == "strong" else T1 / T)
            for _, R, _, T in s]


def table(ser, count):
    head = ["kind", "method", "parties", count, "runs", "ms/round", "speedup", "efficiency"]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for kind, name, s in ser:
        for (p, R, n, T), (speed, eff) in zip(s, efficiency(kind, s)):
            sp = f"{speed:.2f}" if speed is not None else ""
            lines.append(f"| {kind} | {name} | {p} | {R} | {n} | {T:.2f} | {sp} | {eff:.3f} |")
    return "\n".join(lines) + "\n"


PHASES = ("round_ms", "comm_ms", "io_ms", "host_compute_ms_max")


def phase_rows(runs):
    """→ [(method, hosts, parties, name, {series: mean over rounds 2..})] of the runs recording the
    phases, sorted; runs at one (method, hosts, parties) are averaged."""
    acc = {}
    for r in runs:
        if not all(k in r.metrics for k in PHASES):
            continue
        hosts = int(r.meta["world_size"]) - 1
        v = {}
        for k in PHASES:
            x = r.metrics[k][1:] if len(r.metrics[k]) > 1 else r.metrics[k]
            v[k] = float(np.nanmean(x)) if np.any(~np.isnan(x)) else float("nan")
        acc.setdefault((method_name(r.config), max(hosts, 1), int(r.config["parties"])), []).append(v)
    return [(m, h, p, {k: float(np.mean([v[k] for v in vs])) for k in PHASES})
            for (m, h, p), vs in sorted(acc.items())]


def phase_table(rows):
    head = ["method", "hosts", "parties", "round_ms", "compute", "comm", "I/O", "period",
            "host compute max"]
    lines = ["Phases per round (mean over rounds 2.., ms; compute = round_ms - comm on the cloud; "
             "period = round_ms + I/O):", "",
             "| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for m, h, p, v in rows:
        c = v["round_ms"] - v["comm_ms"]
        lines.append(f"| {m} | {h} | {p} | {v['round_ms']:.2f} | {c:.2f} | {v['comm_ms']:.2f} | "
                     f"{v['io_ms']:.2f} | {v['round_ms'] + v['io_ms']:.2f} | {v['host_compute_ms_max']:.2f} |")
    return "\n".join(lines) + "\n"


def plot_phases(rows, path, plt):
    methods = sorted({r[0] for r in rows})
    fig, axes = plt.subplots(1, len(methods), figsize=(4 * len(methods), 4), squeeze=False)
    for ax, m in zip(axes[0], methods):
        rs = [r for r in rows if r[0] == m]
        x = np.arange(len(rs))
        comp = np.array([max(v["round_ms"] - v["comm_ms"], 0) for *_, v in rs])
        comm = np.array([v["comm_ms"] for *_, v in rs])
        io = np.nan_to_num(np.array([v["io_ms"] for *_, v in rs]))
        ax.bar(x, comp, label="compute (cloud)", color="tab:blue")
        ax.bar(x, comm, bottom=comp, label="communication", color="tab:orange")
        ax.bar(x, io, bottom=comp + comm, label="I/O", color="tab:gray")
        ax.plot(x, [v["host_compute_ms_max"] for *_, v in rs], "k_", ms=18, mew=2,
                label="slowest host's compute")
        ax.set_xticks(x)
        ax.set_xticklabels([f"{h}h\n{p}p" for _, h, p, _ in rs], fontsize=8)
        ax.set(title=m, xlabel="host ranks, parties", ylabel="ms per round (mean, rounds 2..)")
        ax.grid(alpha=0.3, axis="y")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    print(f"wrote {path}", file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("-o", "--out", required=True, help="PNG path")
    ap.add_argument("--md", help="also write the Markdown table here")
    ap.add_argument("--count", choices=["hosts", "ranks"], default="hosts",
                    help="R = party-hosting ranks (world_size-1, default) or all ranks (world_size)")
    ap.add_argument("--phases", metavar="PNG", help="also draw the phases per round as stacked bars")
    a = ap.parse_args()
    runs = rf.load_all(a.runs)
    ser = series(points(runs, a.count))
    if not ser:
        sys.exit("error: no scaling series: need runs of one config at two or more world sizes "
                 "(same parties: strong; parties proportional to hosts: weak)")
    md = table(ser, a.count)
    prows = phase_rows(runs)
    if prows:
        md += "\n" + phase_table(prows)
    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    plt = rf.pyplot()
    fig, (tax, sax, eax) = plt.subplots(1, 3, figsize=(15, 4))
    for kind, name, s in ser:
        R = [x[1] for x in s]
        T = [x[3] for x in s]
        eff = [e for _, e in efficiency(kind, s)]
        label = f"{name} {kind}, " + (f"{s[0][0]} parties" if kind == "strong"
                                      else f"{s[0][0]}..{s[-1][0]} parties")
        ls = "-" if kind == "strong" else "--"
        tax.plot(R, T, ls, marker="o", label=label)
        eax.plot(R, eff, ls, marker="o", label=label)
        if kind == "strong":
            sax.plot(R, [sp for sp, _ in efficiency(kind, s)], ls, marker="o", label=label)
    tax.set(xlabel=a.count, ylabel="ms per round (median, rounds 2..)", title="time per round")
    tax.set_xscale("log", base=2)
    tax.set_yscale("log")
    ticks = sorted({x[1] for _, _, s in ser for x in s})
    sax.plot(ticks, [t / ticks[0] for t in ticks], ":", color="gray", lw=0.8, label="ideal")
    sax.set(xlabel=a.count, ylabel="speedup T1/T", title="strong scaling speedup")
    sax.set_xscale("log", base=2)
    eax.axhline(1.0, color="gray", lw=0.8)
    eax.set(xlabel=a.count, ylabel="efficiency", title="scaling efficiency")
    eax.set_xscale("log", base=2)
    eax.set_ylim(bottom=0)
    for ax in (tax, sax, eax):
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}", file=sys.stderr)
    if a.phases:
        if prows:
            plot_phases(prows, a.phases, plt)
        else:
            print(f"(no run records comm_ms/io_ms: {a.phases} not drawn)", file=sys.stderr)


if __name__ == "__main__":
    main()
