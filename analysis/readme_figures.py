#!/usr/bin/python3
"""Fills the figures README.md quotes from the results files, so that none is copied by hand.

    analysis/readme_figures.py [--readme README.md] [--bomm jobs/bomm/RESULTS.csv] [--check] [--strict]

A figure is a marked span: the text between the two comments is replaced by the value the key
gives, the comments stay:

    <!-- fig bomm:avfmnist_small/bomm-random/personal/bomm/gap|+.2f -->+0.23<!-- /fig -->

Key = SOURCE:DATASET/SCENARIO/PROTOCOL/ROW/QUANTITY[|FORMAT]. SOURCE bomm = the CSV of
analysis/bomm_table.py (jobs/bomm/RESULTS.csv); DATASET, SCENARIO, PROTOCOL and ROW are its columns
dataset, scenario, protocol and row ("bomm", "bomm[dpo=0]", "fedprox[mu=0.1]"). QUANTITY:
  acc f1 auc test_acc mm_acc splits_acc   the row's mean, in percent
  acc_std f1_std ... splits_acc_std       its sample std, in percent
  n                                       the row's runs (training seeds)
  gap          acc minus the best acc of another method in the same block and protocol, points
  gap_fed      the same without the non-federated baselines (local, centralized)
  minus(ROW2)  acc minus ROW2's acc in the same block and protocol, points
FORMAT is a Python format spec for the number (default .2f; n: d); negative numbers are written
with the minus sign "−" (U+2212), as the README does.

Without --check the README is rewritten in place with every span's value. --check changes nothing
and exits 1 listing each span whose text differs from its value (file:line, key, README's text,
the value). A key the results file does not have (a block, protocol or row not tabulated yet) is
reported as "missing" and its span left as it is; that fails only with --strict. A malformed span
or an unknown source or quantity exits 2.
"""
import argparse
import csv
import math
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SPAN = re.compile(r"<!-- fig (\S+?) -->(.*?)<!-- /fig -->", re.S)
OPEN = re.compile(r"<!-- fig\b")
STATS = ["acc", "f1", "auc", "test_acc", "mm_acc", "splits_acc"]
NOT_FEDERATED = {"local", "centralized"}


class Missing(Exception):
    pass


class BadKey(Exception):
    pass


def load_bomm(path):
    """(dataset, scenario, protocol, row) → CSV row dict; refuses a CSV without the columns."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    need = {"dataset", "scenario", "protocol", "row", "method", "acc_mean"}
    have = set(rows[0]) if rows else set()
    if not need <= have:
        return None, f"{path} has no column {', '.join(sorted(need - have))} (a table from before " \
                     "the evaluation protocols: regenerate it with analysis/bomm_table.py)"
    return {(r["dataset"], r["scenario"], r["protocol"], r["row"]): r for r in rows}, None


def num(x):
    v = float(x)
    if math.isnan(v):
        raise Missing("not measured (NaN)")
    return v


def value(key, sources):
    """The text a key gives. Raises Missing (not in the results) or BadKey (malformed)."""
    spec, _, fmt = key.partition("|")
    src, _, path = spec.partition(":")
    if src not in sources:
        raise BadKey(f"unknown source '{src}' (known: {', '.join(sorted(sources))})")
    parts = path.split("/")
    if len(parts) != 5:
        raise BadKey("expected SOURCE:DATASET/SCENARIO/PROTOCOL/ROW/QUANTITY")
    ds, sc, proto, row, q = parts
    table, why = sources[src]
    if table is None:
        raise Missing(why)
    block = {k[3]: r for k, r in table.items() if k[:3] == (ds, sc, proto)}
    if row not in block:
        raise Missing(f"no row ({ds}, {sc}, {proto}, {row}) in the {src} results")
    r = block[row]
    m = re.fullmatch(r"minus\((.+)\)", q)
    if q in STATS:
        v, fmt = 100 * num(r[q + "_mean"]), fmt or ".2f"
    elif q.endswith("_std") and q[:-4] in STATS:
        v, fmt = 100 * num(r[q[:-4] + "_std"]), fmt or ".2f"
    elif q == "n":
        v, fmt = int(r["n"]), fmt or "d"
    elif q in ("gap", "gap_fed") or m:
        if m:
            if m.group(1) not in block:
                raise Missing(f"no row ({ds}, {sc}, {proto}, {m.group(1)}) in the {src} results")
            other = num(block[m.group(1)]["acc_mean"])
        else:
            base = [float(b["acc_mean"]) for b in block.values() if b["method"] != r["method"] and
                    (q == "gap" or b["method"] not in NOT_FEDERATED) and not math.isnan(float(b["acc_mean"]))]
            if not base:
                raise Missing(f"no baseline in ({ds}, {sc}, {proto})")
            other = max(base)
        v, fmt = 100 * (num(r["acc_mean"]) - other), fmt or "+.2f"
    else:
        raise BadKey(f"unknown quantity '{q}'")
    try:
        text = format(v, fmt)
    except ValueError as e:
        raise BadKey(f"format '{fmt}': {e}") from None
    return text.replace("-", "−")


def spans(text):
    """→ [(match, line number)]; raises BadKey for an opening comment without its span."""
    out = [(m, text.count("\n", 0, m.start()) + 1) for m in SPAN.finditer(text)]
    starts = {m.start() for m, _ in out}
    for o in OPEN.finditer(text):
        if o.start() not in starts:
            raise BadKey(f"line {text.count(chr(10), 0, o.start()) + 1}: '<!-- fig' without "
                         "'KEY -->TEXT<!-- /fig -->'")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--readme", default=os.path.join(ROOT, "README.md"), help="[README.md]")
    ap.add_argument("--bomm", default=os.path.join(ROOT, "jobs", "bomm", "RESULTS.csv"),
                    help="source bomm: analysis/bomm_table.py's CSV [jobs/bomm/RESULTS.csv]")
    ap.add_argument("--check", action="store_true", help="change nothing; exit 1 if a span differs")
    ap.add_argument("--strict", action="store_true", help="a missing key fails too")
    a = ap.parse_args()
    if not os.path.exists(a.bomm):
        sys.exit(f"error: {a.bomm}: no such file (--bomm)")
    sources = {"bomm": load_bomm(a.bomm)}
    text = open(a.readme).read()
    try:
        found = spans(text)
    except BadKey as e:
        print(f"error: {a.readme}: {e}", file=sys.stderr)
        sys.exit(2)
    differ, missing, out, pos = 0, 0, [], 0
    for m, line in found:
        key, cur = m.group(1), m.group(2)
        shown = os.path.relpath(a.readme)
        where = f"{a.readme if shown.startswith('..') else shown}:{line}: fig {key}"
        try:
            new = value(key, sources)
        except BadKey as e:
            print(f"error: {where}: {e}", file=sys.stderr)
            sys.exit(2)
        except Missing as e:
            print(f"missing  {where}: {e}; left as '{cur}'", file=sys.stderr)
            missing, new = missing + 1, cur
        if new != cur:
            differ += 1
            print(f"{'differs' if a.check else 'updated'}  {where}: README '{cur}', results '{new}'",
                  file=sys.stderr)
        out += [text[pos:m.start(2)], new]
        pos = m.end(2)
    out.append(text[pos:])
    print(f"readme_figures.py: {len(found)} spans, {differ} {'differ' if a.check else 'updated'}, "
          f"{missing} missing", file=sys.stderr)
    if not a.check and differ:
        with open(a.readme, "w") as f:
            f.write("".join(out))
    sys.exit(1 if (a.check and differ) or (a.strict and missing) else 0)


if __name__ == "__main__":
    main()
