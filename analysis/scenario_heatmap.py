#!/usr/bin/python3
"""Draws a scenario summary CSV (build/bin/scenario_summary --csv=OUT) as a heat map PNG.

    analysis/scenario_heatmap.py SUMMARY.csv [-o OUT.png] [--share]

Left panel: samples per class per party; right panel: rows holding each modality per party (and
rows with no modality). --share colours each party's class counts by its share of the party's rows.
Needs Debian's python3-matplotlib (scripts/deps.sh analysis); reads only the CSV.
"""
import argparse
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def read_summary(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows or rows[0][:2] != ["party", "samples"]:
        sys.exit(f"{path}: not a scenario summary (header must start with party,samples)")
    head = rows[0]
    cls = [i for i, h in enumerate(head) if h.startswith("class:")]
    mod = [i for i, h in enumerate(head) if h.startswith("mod:")] + [head.index("empty")]
    body = [[int(v) for v in r] for r in rows[1:] if r]
    return head, cls, mod, body


def panel(ax, body, cols, labels, title, share, cmap):
    data = [[r[c] / r[1] if share and r[1] else r[c] for c in cols] for r in body]
    im = ax.imshow(data, aspect="auto", cmap=cmap, interpolation="nearest")
    ax.set_xticks(range(len(cols)))
    ax.set_xticklabels(labels, rotation=45, ha="right", fontsize=8)
    ax.set_yticks(range(len(body)))
    ax.set_yticklabels([f"party {r[0]} ({r[1]})" for r in body], fontsize=8)
    ax.set_title(title, fontsize=10)
    top = max((v for r in data for v in r), default=0) or 1
    if len(body) * len(cols) <= 400:  # numbers stay readable
        for y, row in enumerate(body):
            for x, c in enumerate(cols):
                ax.text(x, y, str(row[c]), ha="center", va="center", fontsize=6,
                        color="black" if data[y][x] > 0.5 * top else "white")
    return im


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("csv")
    ap.add_argument("-o", "--out", help="PNG path (default: the CSV path with .png)")
    ap.add_argument("--share", action="store_true", help="colour by share of the party's rows")
    ap.add_argument("--title", default=None)
    a = ap.parse_args()
    head, cls, mod, body = read_summary(a.csv)
    out = a.out or (a.csv[:-4] if a.csv.endswith(".csv") else a.csv) + ".png"
    fig, (ax1, ax2) = plt.subplots(
        1, 2, figsize=(2 + 0.55 * (len(cls) + len(mod)), 1.5 + 0.35 * len(body)),
        gridspec_kw={"width_ratios": [max(len(cls), 1), max(len(mod), 1)]})
    im1 = panel(ax1, body, cls, [head[c][6:] for c in cls], "samples per class", a.share, "viridis")
    fig.colorbar(im1, ax=ax1, fraction=0.05)
    im2 = panel(ax2, body, mod, [head[c][4:] if head[c].startswith("mod:") else head[c] for c in mod],
                "rows per modality", a.share, "magma")
    fig.colorbar(im2, ax=ax2, fraction=0.05)
    fig.suptitle(a.title or a.csv, fontsize=10)
    fig.tight_layout()
    fig.savefig(out, dpi=120)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
