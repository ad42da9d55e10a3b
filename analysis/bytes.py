#!/usr/bin/python3
"""Bytes per round per method from run files → one PNG: payload against MPI bytes.

    analysis/bytes.py RUN_DIR... -o bytes.png [--title T]

Two kinds of bytes (run.h5 /metrics; src/comm/comm.h):
  payload    payload_up, payload_down: what a deployment would send per round, parties → cloud and
             cloud → parties, all parties: the exchanged tensors' sizes in their stated dtype, no
             control messages. Reproducible: the same at any -np and in every run of one config.
  MPI bytes  mpi_bytes_sent: everything this run passed to MPI since the previous round's record,
             summed over ranks, control plane included (round 1 includes the setup). It measures
             this simulation, not a deployment: it depends on -np (the parties a rank hosts share
             its messages; rank 0, the cloud, takes part in every collective), on how the run
             encodes transfers (exact sums travel as int64 fixed point), and varies between runs.
Two panels against the round: per round, payload up and payload down (solid; markers ^ and v) and
MPI bytes sent (dashed); cumulative, payload up + down (solid) against MPI bytes sent (dashed).
Runs are grouped by method (and scenario/dataset where they differ), one colour per group; a
group's line is the mean over its runs (seeds). Run files from before payload_*/mpi_bytes_* are
refused, naming the file. Needs Debian's python3-h5py and python3-matplotlib (scripts/deps.sh
analysis).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402

NEEDS = ("payload_up", "payload_down", "mpi_bytes_sent")


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
    rf.require(runs, NEEDS, "bytes.py")
    groups = rf.group(runs, rf.group_key(runs))
    plt = rf.pyplot()
    from matplotlib.ticker import MaxNLocator

    from matplotlib.lines import Line2D

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    fig, (per, cum) = plt.subplots(1, 2, figsize=(13, 4.5))
    handles = []
    for i, (label, rs) in enumerate(groups.items()):
        c = colors[i % len(colors)]
        r, up = series(rs, "payload_up")
        _, down = series(rs, "payload_down")
        _, mpi = series(rs, "mpi_bytes_sent")
        few = len(r) < 20
        per.plot(r, up / 1e3, color=c, ls="-", marker="^" if few else None, ms=4)
        per.plot(r, down / 1e3, color=c, ls="-", marker="v" if few else None, ms=4)
        per.plot(r, mpi / 1e3, color=c, ls="--")
        # Every round records both; nan_to_num only guards groups whose runs differ in length.
        cum.plot(r, np.cumsum(np.nan_to_num(up + down)) / 1e6, color=c, ls="-")
        cum.plot(r, np.cumsum(np.nan_to_num(mpi)) / 1e6, color=c, ls="--")
        handles.append(Line2D([], [], color=c, lw=6, label=label))
    # One legend entry per group (its colour) and one per kind of line.
    per.legend(handles=handles + [
        Line2D([], [], color="k", ls="-", marker="^", ms=4, label="payload up"),
        Line2D([], [], color="k", ls="-", marker="v", ms=4, label="payload down"),
        Line2D([], [], color="k", ls="--", label="MPI bytes sent")], fontsize=7)
    cum.legend(handles=handles + [
        Line2D([], [], color="k", ls="-", label="payload up + down"),
        Line2D([], [], color="k", ls="--", label="MPI bytes sent")], fontsize=7)
    for ax, t, unit in ((per, "per round: payload up, down (solid); MPI bytes sent, all ranks (dashed)", "kB"),
                        (cum, "cumulative: payload up + down (solid); MPI bytes sent (dashed)", "MB")):
        ax.set_title(t, fontsize=10)
        ax.set_xlabel("round")
        ax.set_ylabel(unit)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
    sizes = sorted({int(r.meta.get("world_size", 0)) for r in runs})
    fig.suptitle(a.title or "payload = what a deployment sends (any -np); MPI bytes = what this run passed to "
                 f"MPI, control plane included (-np {'/'.join(map(str, sizes))})", fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
