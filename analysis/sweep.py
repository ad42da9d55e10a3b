#!/usr/bin/python3
"""A tuning sweep's table from its run files: one row per run, grouped by (dataset, scenario).

    analysis/sweep.py RUN_DIR... [--md OUT.md] [--allow-dirty] [--allow-mixed]

Each row names what the run changed: the method and every option (core or the method's) whose
value differs from its default, bookkeeping options and --eval-split left out. Columns, at the
run's last measured round: the global protocol's party accuracy (party_test_acc_mean: the shared
model on each party's evaluation rows, mean over parties), the personal protocol's
(personal_test_acc_mean), their mean ("both"), and the shared model on the whole evaluation set
(test_acc), in percent; "—" = not measured. The heading says which rows the series read (their
split attribute): a tuning sweep reads validation, never test. Within a block, the best "both" is
bold. Provenance as analysis/table.py (refuses dirty or mixed-commit runs unless allowed, and says
so at the top). Needs Debian's python3-h5py.
"""
import argparse
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402

COLS = [("party_test_acc_mean", "global"), ("personal_test_acc_mean", "personal"),
        (None, "both"), ("test_acc", "whole set")]
SKIP = rf.BOOKKEEPING | {"eval-split", "method"}


def varying(runs):
    """The options (not bookkeeping) whose value differs between runs of one (dataset, scenario)
    block: what the sweep varies, as opposed to what its configs fix."""
    keys = set()
    for rs in blocks(runs).values():
        for k in {k for r in rs for k in r.config} - SKIP:
            if len({str(r.config.get(k)) for r in rs}) > 1:
                keys.add(k)
    return sorted(keys)


def label(r, keys):
    """The method and the varied options r sets away from their defaults ('bomm bomm.kd=0.25')."""
    opts = [f"{k}={r.config[k]}" for k in keys
            if k in r.config and r.defaults and k in r.defaults and not rf.is_default(r.config[k], r.defaults[k])]
    return " ".join([r.method] + opts)


def blocks(runs):
    out = {}
    for r in runs:
        out.setdefault((r.dataset, r.scenario), []).append(r)
    return out


def pct(v):
    return "—" if math.isnan(v) else f"{100 * v:.2f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("runs", nargs="+")
    ap.add_argument("--md")
    rf.add_provenance_args(ap)
    a = ap.parse_args()
    runs = rf.load_all(a.runs)
    marks = rf.provenance(runs, "sweep.py", a.allow_dirty, a.allow_mixed)
    splits = sorted({r.meta.get("eval_split", "test") for r in runs})
    out = []
    if marks:
        out += [f"> **WARNING: {rf.provenance_warning(marks)}**", ""]
    commits = sorted({r.git_commit for r in runs})
    out += [f"Runs: {len(runs)}, commit {', '.join(c[:12] for c in commits)}; evaluation rows: "
            f"{', '.join(splits)}. Accuracies in percent at each run's last measured round.", ""]
    keys = varying(runs)
    both = {}  # label -> [both per block]
    for (ds, sc), rs in blocks(runs).items():
        rows = []
        for r in sorted(rs, key=lambda r: label(r, keys)):
            v = [r.final(s) if s else None for s, _ in COLS]
            v[2] = (v[0] + v[1]) / 2
            rows.append((label(r, keys), v))
            both.setdefault(label(r, keys), []).append(v[2])
        best = max((v[2] for _, v in rows if not math.isnan(v[2])), default=math.nan)
        out += [f"## {ds} · {sc}", "", "| run | " + " | ".join(h for _, h in COLS) + " |",
                "|---|" + "---:|" * len(COLS)]
        for lab, v in rows:
            cells = [pct(x) for x in v]
            if v[2] == best:
                cells[2] = f"**{cells[2]}**"
            out.append(f"| {lab} | " + " | ".join(cells) + " |")
        out.append("")
    # The rule of docs/methods.md §7: a candidate replaces its method's default only when its mean
    # "both" over the blocks beats the default's by more than half a point.
    n = len(blocks(runs))
    out += ["## Mean over the blocks", "",
            f"\"both\" averaged over the {n} blocks; Δ = against the method's defaults (the row that "
            "is the method's name alone), in points.", "", "| run | both | Δ |", "|---|---:|---:|"]
    for lab, xs in sorted(both.items()):
        m = sum(xs) / len(xs) if len(xs) == n else math.nan
        base = both.get(lab.split()[0])
        d = m - sum(base) / len(base) if base and len(base) == n else math.nan
        out.append(f"| {lab} | {pct(m)} | {'—' if math.isnan(d) else f'{100 * d:+.2f}'} |")
    out.append("")
    text = "\n".join(out)
    print(text)
    if a.md:
        with open(a.md, "w") as f:
            f.write(text)


if __name__ == "__main__":
    main()
