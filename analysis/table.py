#!/usr/bin/python3
"""Results table from run files: one row per (method, scenario, dataset), Markdown (and CSV).

    analysis/table.py RUN_DIR... [--md OUT.md] [--csv OUT.csv]

Per run: the final global test accuracy and mean party test accuracy (each at the last round it was
measured, --eval-every), and the mean over rounds of bytes up/down per round (all parties, logical
and wire). Per row: the mean ± sample std (ddof=1) of those over the row's runs (seeds); seeds =
runs in the row; rounds = rounds per run. "—" = never measured (global test accuracy of method
local). The Markdown goes to stdout, and to --md; --csv writes the same numbers unrounded.
Needs Debian's python3-h5py (scripts/deps.sh analysis).
"""
import argparse
import csv
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402

ACC = [("test_acc", "test acc"), ("party_test_acc_mean", "party test acc")]
BYTES = [("bytes_up", "up/round"), ("bytes_down", "down/round"),
         ("bytes_up_wire", "up wire/round"), ("bytes_down_wire", "down wire/round")]


def rows(runs):
    """→ list of dicts: method, scenario, dataset, n, seeds, rounds, <series>_mean, <series>_std."""
    out = []
    groups = rf.group(runs, lambda r: (r.method, r.scenario, r.dataset))
    for (method, scenario, dataset), rs in sorted(groups.items(), key=lambda kv: kv[0][::-1]):
        row = {"method": method, "scenario": scenario, "dataset": dataset, "n": len(rs),
               "seeds": " ".join(str(r.seed) for r in rs),
               "rounds": "/".join(str(x) for x in sorted({r.rounds for r in rs}))}
        for s, _ in ACC:
            row[s + "_mean"], row[s + "_std"] = rf.mean_std([r.final(s) for r in rs])
        for s, _ in BYTES:
            row[s + "_mean"], row[s + "_std"] = rf.mean_std([float(r.metrics[s].mean()) for r in rs])
        out.append(row)
    return out


def fmt_acc(row, s):
    m, sd = row[s + "_mean"], row[s + "_std"]
    if math.isnan(m):
        return "—"
    return f"{m:.4f} ± {sd:.4f}" if row["n"] > 1 else f"{m:.4f}"


def fmt_bytes(b):
    for unit, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= k:
            return f"{b / k:.1f} {unit}"
    return f"{b:.0f} B"


def markdown(table):
    head = ["method", "scenario", "dataset", "seeds", "rounds"] + [t for _, t in ACC] + [t for _, t in BYTES]
    lines = ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in table:
        cells = [r["method"], r["scenario"], r["dataset"], str(r["n"]), r["rounds"]]
        cells += [fmt_acc(r, s) for s, _ in ACC] + [fmt_bytes(r[s + "_mean"]) for s, _ in BYTES]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("--md", help="also write the Markdown table here")
    ap.add_argument("--csv", help="write the table as CSV (full precision) here")
    a = ap.parse_args()
    table = rows(rf.load_all(a.runs))
    md = markdown(table)
    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    if a.csv:
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=list(table[0]))
            w.writeheader()
            for r in table:
                w.writerow({k: repr(float(v)) if hasattr(v, "dtype") or isinstance(v, float) else v
                            for k, v in r.items()})


if __name__ == "__main__":
    main()
