#!/usr/bin/python3
"""Strong and weak scaling efficiency from run files that differ in world size and parties → PNG + table.

    analysis/scaling.py RUN_DIR... -o scaling.png [--md OUT.md] [--count hosts|ranks]

Per run: T = median of round_ms over rounds 2.. (round 1 pays start-up; a 1-round run uses it),
R = ranks doing party work: hosts = world_size − 1 (rank 0 is the cloud), or world_size with
--count ranks. Runs are compared only within one experiment (same config apart from parties, seed
and bookkeeping keys); runs at the same (parties, world size) are averaged.
  strong (same parties, several R):      speedup T1/T, efficiency T1·R1 / (T·R)
  weak (same parties per host, several R): efficiency T1/T
where T1, R1 belong to the smallest R of the series. The Markdown table goes to stdout (and --md);
the PNG shows time per round and efficiency against R. Needs Debian's python3-h5py and
python3-matplotlib (scripts/deps.sh analysis).
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


def points(runs, count):
    """→ {(experiment key, parties, R, hosts): [T...]}."""
    pts = {}
    for r in runs:
        ws = int(r.meta["world_size"])
        hosts = ws - 1
        exp = tuple(sorted((k, str(v)) for k, v in r.config.items()
                           if k not in rf.BOOKKEEPING and k != "parties"))
        R = hosts if count == "hosts" else ws
        pts.setdefault((exp, int(r.config["parties"]), R, hosts), []).append(round_time(r))
    return pts


def exp_names(pts):
    """Experiment key → its method, with #2, #3 for further configs of one method."""
    names, seen = {}, {}
    for e in sorted({k[0] for k in pts}):
        m = dict(e).get("method", "?")
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("-o", "--out", required=True, help="PNG path")
    ap.add_argument("--md", help="also write the Markdown table here")
    ap.add_argument("--count", choices=["hosts", "ranks"], default="hosts",
                    help="R = party-hosting ranks (world_size-1, default) or all ranks (world_size)")
    a = ap.parse_args()
    ser = series(points(rf.load_all(a.runs), a.count))
    if not ser:
        sys.exit("error: no scaling series: need runs of one config at two or more world sizes "
                 "(same parties: strong; parties proportional to hosts: weak)")
    md = table(ser, a.count)
    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    plt = rf.pyplot()
    fig, (tax, eax) = plt.subplots(1, 2, figsize=(10, 4))
    for kind, name, s in ser:
        R = [x[1] for x in s]
        T = [x[3] for x in s]
        eff = [e for _, e in efficiency(kind, s)]
        label = f"{name} {kind}, " + (f"{s[0][0]} parties" if kind == "strong"
                                      else f"{s[0][0]}..{s[-1][0]} parties")
        ls = "-" if kind == "strong" else "--"
        tax.plot(R, T, ls, marker="o", label=label)
        eax.plot(R, eff, ls, marker="o", label=label)
    tax.set(xlabel=a.count, ylabel="ms per round (median, rounds 2..)", title="time per round")
    tax.set_xscale("log", base=2)
    tax.set_yscale("log")
    eax.axhline(1.0, color="gray", lw=0.8)
    eax.set(xlabel=a.count, ylabel="efficiency", title="scaling efficiency")
    eax.set_xscale("log", base=2)
    eax.set_ylim(bottom=0)
    ticks = sorted({x[1] for _, _, s in ser for x in s})
    for ax in (tax, eax):
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(t) for t in ticks])
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}", file=sys.stderr)


if __name__ == "__main__":
    main()
