#!/usr/bin/env python3
"""reduce_table.py - the exact-reduce ratios of one or more `make bench-reduce` outputs, side by side.

Usage: reduce_table.py LABEL=FILE [LABEL=FILE ...]

Each FILE holds the output of one or more runs of `make bench-reduce` (the `bench reduce ...`
lines; a line starting with `load average` starts a new run). Prints a markdown table: one row per
(ranks, op, params), one column per run (exact_ms / float_ms, as the bench printed it), and a last
row with how many points of each run are at or below 1.5.
"""
import re
import sys

LINE = re.compile(r"bench reduce params=(\d+) ranks=(\d+) op=(\w+) exact_ms=([\d.]+) "
                  r"float_ms=([\d.]+) ratio=([\d.]+)")


def runs_of(path):
    runs, cur = [], None
    with open(path) as f:
        for line in f:
            if line.startswith("load average"):
                cur = {}
                runs.append(cur)
                continue
            m = LINE.match(line)
            if not m:
                continue
            if cur is None:
                cur = {}
                runs.append(cur)
            cur[(int(m.group(2)), m.group(3), int(m.group(1)))] = float(m.group(6))
    return runs


def main(argv):
    if len(argv) < 2 or any("=" not in a for a in argv[1:]):
        sys.exit(__doc__.strip().splitlines()[2])
    cols = []
    for arg in argv[1:]:
        label, path = arg.split("=", 1)
        runs = runs_of(path)
        if not runs:
            sys.exit(f"reduce_table.py: {path}: no `bench reduce` lines")
        for i, r in enumerate(runs):
            cols.append((f"{label} {i + 1}" if len(runs) > 1 else label, r))
    keys = sorted(set().union(*(r.keys() for _, r in cols)))
    print("| ranks | op | params | " + " | ".join(c for c, _ in cols) + " |")
    print("|---:|---|---:|" + "---:|" * len(cols))
    for k in keys:
        cells = [f"{r[k]:.2f}" if k in r else "" for _, r in cols]
        print(f"| {k[0]} | {k[1]} | {k[2]:,} | " + " | ".join(cells) + " |")
    met = [f"{sum(v <= 1.5 for v in r.values())} of {len(r)}" for _, r in cols]
    print("| | | **≤ 1.5** | " + " | ".join(met) + " |")


if __name__ == "__main__":
    main(sys.argv)
