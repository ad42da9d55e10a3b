#!/usr/bin/python3
"""Accuracy and training-loss curves per round, per method, from run files → one PNG.

    analysis/curves.py RUN_DIR... [-o curves.png] [--title T]

Panels against the round, one per evaluation protocol (docs/architecture.md §2) and the loss: the
shared model's accuracy on the whole evaluation set (test_acc) and on the parties' rows, mean over
parties (party_test_acc_mean) — both absent for method local, which has no shared model; the
parties' own models' mean accuracy (personal_test_acc_mean, when the run files have it); training
loss (train_loss); and the cloud's large model's accuracy (mm_test_acc) when a run has one (bomm,
fedmkt). The evaluation rows are the test split or the validation carve-out: the titles say which
(the series' split attribute).
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

PANELS = [("test_acc", "global: shared model, whole set"),
          ("party_test_acc_mean", "global: shared model, parties' rows"),
          ("personal_test_acc_mean", "personal: parties' own models"), ("train_loss", "training loss")]


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
    panels = [p for p in PANELS if any(p[0] in r.metrics for r in runs)]
    if any(not np.isnan(r.final("mm_test_acc")) for r in runs):
        panels.insert(len(panels) - 1, ("mm_test_acc", "large model accuracy"))
    split = ", ".join(sorted({r.meta.get("eval_split", "test") for r in runs}))
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4))
    for ax, (series, title) in zip(axes, panels):
        missing = []
        for i, (label, rs) in enumerate(groups.items()):
            if not draw(ax, rs, series, colors[i % len(colors)], label):
                missing.append(label)
        rows = f" ({split} rows)" if series != "train_loss" else ""
        ax.set_title(title + rows + (f"\n(not measured: {', '.join(missing)})" if missing else ""),
                     fontsize=10)
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
