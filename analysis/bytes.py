#!/usr/bin/python3
"""Bytes per round per method from run files → one PNG.

    analysis/bytes.py RUN_DIR... -o bytes.png [--title T]

Three panels against the round: bytes up (parties → cloud) per round, bytes down (cloud → parties)
per round, and cumulative bytes up + down. Solid lines are logical bytes (bytes_up, bytes_down: the
tensors' sizes), dashed lines bytes on the wire (bytes_up_wire, bytes_down_wire: after compression).
Runs are grouped by method (and scenario/dataset where they differ); a group's line is the mean over
its runs (seeds). Needs Debian's python3-h5py and python3-matplotlib (scripts/deps.sh analysis).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402


def series(rs, name):
    rounds, v = rf.by_round(rs, name)
    return rounds, rf.mean_std(v)[0]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("-o", "--out", required=True, help="PNG path")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    runs = rf.load_all(a.runs)
    groups = rf.group(runs, rf.group_key(runs))
    plt = rf.pyplot()
    from matplotlib.ticker import MaxNLocator

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, (up, down, cum) = plt.subplots(1, 3, figsize=(15, 4))
    for i, (label, rs) in enumerate(groups.items()):
        c = colors[i % len(colors)]
        for wire, ls in (("", "-"), ("_wire", "--")):
            r, u = series(rs, "bytes_up" + wire)
            _, d = series(rs, "bytes_down" + wire)
            lab = label + (" (wire)" if wire else "")
            up.plot(r, u / 1e3, color=c, ls=ls, marker="o" if len(r) < 20 else None, ms=3, label=lab)
            down.plot(r, d / 1e3, color=c, ls=ls, marker="o" if len(r) < 20 else None, ms=3, label=lab)
            cum.plot(r, np.cumsum(u + d) / 1e6, color=c, ls=ls, label=lab)
    for ax, t, unit in ((up, "bytes up per round", "kB"), (down, "bytes down per round", "kB"),
                        (cum, "cumulative bytes up + down", "MB")):
        ax.set_title(t, fontsize=10)
        ax.set_xlabel("round")
        ax.set_ylabel(unit)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    up.legend(fontsize=8)
    fig.suptitle(a.title or "solid: logical bytes, dashed: on the wire", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
