#!/usr/bin/python3
"""Accuracy and training-loss curves per round, per method, from run files → one PNG.

    analysis/curves.py RUN_DIR... [-o curves.png] [--title T]

Three panels against the round: global test accuracy (test_acc; absent for method local, which has
no global model), mean party test accuracy (party_test_acc_mean) and training loss (train_loss); a
fourth, the cloud's large model's test accuracy (mm_test_acc), when a run has one (bomm, fedmkt).
Runs are grouped by method (and by scenario/dataset when the runs differ in them): a group with one
run is drawn as its line; a group of several seeds as the mean over seeds with a ±1 std band (sample
std) and each seed as a thin line. Rounds without an evaluation (NaN, --eval-every) are skipped.
Needs Debian's python3-h5py and python3-matplotlib (scripts/deps.sh analysis).
"""
import argparse
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402

PANELS = [("test_acc", "global test accuracy"), ("party_test_acc_mean", "mean party test accuracy"),
          ("train_loss", "training loss")]


def draw(ax, rs, series, color, label):
    rounds, v = rf.by_round(rs, series)
    m, s = rf.mean_std(v)
    ok = ~np.isnan(m)
    if not ok.any():
        return False
    mark = "o" if ok.sum() < 20 else None
    if len(rs) > 1:
        for row in v:
            k = ~np.isnan(row)
            ax.plot(rounds[k], row[k], color=color, lw=0.6, alpha=0.35)
        ax.fill_between(rounds[ok], (m - s)[ok], (m + s)[ok], color=color, alpha=0.2, lw=0)
        label = f"{label} (n={len(rs)})"
    ax.plot(rounds[ok], m[ok], color=color, lw=1.8, marker=mark, ms=3, label=label)
    return True


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("-o", "--out", default="curves.png", help="PNG path [curves.png]")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    runs = rf.load_all(a.runs)
    groups = rf.group(runs, rf.group_key(runs))
    plt = rf.pyplot()
    from matplotlib.ticker import MaxNLocator

    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    panels = list(PANELS)
    if any(not np.isnan(r.final("mm_test_acc")) for r in runs):
        panels.insert(2, ("mm_test_acc", "large model test accuracy"))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (series, title) in zip(axes, panels):
        missing = []
        for i, (label, rs) in enumerate(groups.items()):
            if not draw(ax, rs, series, colors[i % len(colors)], label):
                missing.append(label)
        ax.set_title(title + (f"\n(not measured: {', '.join(missing)})" if missing else ""), fontsize=10)
        ax.set_xlabel("round")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if ax.has_data():
            ax.legend(fontsize=8)
    fig.suptitle(a.title or ", ".join(sorted({f"{r.dataset} / {r.scenario}" for r in runs})), fontsize=10)
    fig.tight_layout()
    fig.savefig(a.out, dpi=110)
    plt.close(fig)
    print(f"wrote {a.out}")


if __name__ == "__main__":
    main()
