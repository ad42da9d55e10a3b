#!/usr/bin/python3
"""The BoMM results table (issue 5) from run files: one block per (dataset, scenario), and in each
block one table per evaluation protocol, one row per method or ablation; Markdown (and CSV, the run
files' digests, accuracy curves per block).

    analysis/bomm_table.py RUN_DIR... [--md jobs/bomm/RESULTS.md] [--csv OUT.csv] [--curves DIR]
                           [--digests FILE] [--ours bomm] [--allow-dirty] [--allow-mixed]

Protocols (never compared with each other; docs/methods.md):
  global    the shared model: accuracy, macro-F1, AUC = party_test_acc_mean, party_test_macro_f1_mean,
            party_test_auc_mean (on each party's test rows with its masks, mean over parties), and
            whole-test acc = test_acc (on the whole test set, every modality)
  personal  each party's own model after its final local training: personal_test_acc_mean,
            personal_test_macro_f1_mean, personal_test_auc_mean (final round only)
A row appears under a protocol where its runs measure that protocol's accuracy: methods without a
shared model (local) only under personal. Other columns in both: large-model acc = mm_test_acc, the
cloud's multimodal large model (BoMM, FedMKT; "—" = none); bytes/round = payload_up + payload_down
(what a deployment would send, all parties, no control messages; the same at any -np), mean over
rounds, mean over runs; seeds = the training seeds of the row.

Seeds: a run's split seed is --seed.split (or --seed where -1), its training seed --seed (or the
--seed.init/train/sample it sets). In each block the fixed split is the split seed most of its
runs share (ties: the smallest); every figure is the mean ± sample std (ddof=1) over the row's runs
on that split (its training seeds), accuracies in percent at each run's last evaluated round. Rows
that also have runs on other splits at one training seed (the smallest of the row on the fixed
split) get "acc ± over splits": the mean ± std of the accuracy over those runs' split seeds.

Row label = the method plus its non-default method options (run.h5 /config against /defaults):
"bomm −GPA" (--bomm.gpa=0), "bomm −DPO" (--bomm.dpo=0), "bomm −schedule" (--bomm.schedule=none),
otherwise "<method> opt=value" ("fedprox mu=0.1"); the CSV's column row spells it without spaces:
"bomm[gpa=0]" (the keys of analysis/readme_figures.py). The best accuracy of each table is bold;
under it, "bomm − best baseline": the --ours row minus the best row of any other method (its
ablations are not baselines), in points.

Provenance: every run's /meta git_commit and git_dirty are read; runs from a dirty build (or from a
run file without them: dirty, commit "unknown") or from more than one commit are refused (exit 1,
naming the run directories and their commits) unless --allow-dirty / --allow-mixed, which mark the
Markdown (a CAUTION line at the top) and the CSV (column provenance: dirty / mixed, else clean).
The header records the commit, each dataset's data_sha256, the number of runs, the evaluation split,
and the command; BoMM is a reconstruction from the paper's abstract (docs/methods.md §1) and the
header says so. --digests FILE (default RUNS.sha256 next to --md) lists, in sha256sum's format,
each run's run.h5 and final checkpoint with paths relative to the current directory: run from the
repository root, `sha256sum -c jobs/bomm/RUNS.sha256` checks them. --curves DIR:
DIR/<dataset>_<scenario>.png, the accuracy under each protocol (and the large model's, where recorded) against
the round per row, mean over the fixed split's runs with a ±1 std band.

Run files without the protocols' series or without /config seed.split (written before them) are
refused, naming the file and what it lacks; runs evaluated on different splits (/meta eval_split)
too. Needs Debian's python3-h5py and
python3-matplotlib (scripts/deps.sh analysis).
"""
import argparse
import csv
import datetime
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402
from table import caution, command, data_digests, fmt_bytes, payload_bytes, write_digests  # noqa: E402

# Display order: ours and its ablations first, then the baselines in the order of jobs/bomm/sweep.txt.
METHODS = ["bomm", "local", "fedavg", "fedprox", "fedproto", "moon", "protofill", "meanfill",
           "zerofill", "fedmkt", "centralized"]
SCENARIOS = ["bomm-random", "bomm-crossmodal", "bomm-hybrid"]
DATASETS = {"avfmnist_small": "AV-FashionMNIST", "avfmnist": "AV-FashionMNIST", "landsat": "Landsat",
            "synmm": "SynMM"}
# Ablation switches spelled as the rows of the paper's ablation table.
ABLATIONS = {("bomm", "gpa", "0"): "−GPA", ("bomm", "dpo", "0"): "−DPO",
             ("bomm", "schedule", "none"): "−schedule"}
PROTOCOLS = ["global", "personal"]
# Per protocol: CSV column stem → (series, Markdown header). test_acc only under global.
COLS = {
    p: [("acc", rf.PROTOCOLS[p][0], "acc"), ("f1", rf.PROTOCOLS[p][1], "macro-F1"),
        ("auc", rf.PROTOCOLS[p][2], "AUC")] for p in PROTOCOLS}
COLS["global"].append(("test_acc", "test_acc", "whole-test acc"))
MM = ("mm_acc", "mm_test_acc", "large-model acc")
NEEDED = sorted({s for p in PROTOCOLS for _, s, _ in COLS[p]})
STEMS = ["acc", "f1", "auc", "test_acc", "mm_acc"]


def fmt_value(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


def check_runs(runs):
    """Exits 1 naming the first run file that cannot enter the table: one without the protocols'
    series, or without /config seed.split (written before the seed streams)."""
    for r in runs:
        missing = [s for s in NEEDED if s not in r.metrics]
        if missing:
            sys.exit(f"error: {r.path}: /metrics lacks {', '.join(missing)} (a run file from before "
                     "the global/personal evaluation protocols); bomm_table.py needs "
                     f"{', '.join(NEEDED)}: rerun it")
        if "seed.split" not in r.config:
            sys.exit(f"error: {r.path}: /config lacks seed.split (a run file from before the seed "
                     "streams, whose --seed also drew the split); bomm_table.py needs it to keep "
                     "training seeds and splits apart: rerun it")
    splits = sorted({str(r.meta.get("eval_split", "test")) for r in runs})
    if len(splits) > 1:
        bad = [f"{r.dir} ({r.meta.get('eval_split', 'test')})" for r in runs
               if str(r.meta.get("eval_split", "test")) != "test"]
        sys.exit(f"error: bomm_table.py: the runs evaluate on different splits ({', '.join(splits)}): "
                 + ", ".join(bad))
    return splits[0]


def options_of(runs):
    """run → its non-default method options {opt: value}. Run files without /defaults (written
    before it existed): the options whose value differs from the most common one among that
    method's runs, with a warning."""
    out, old = {}, [r for r in runs if r.defaults is None]
    for r in runs:
        if r.defaults is not None:
            out[id(r)] = r.method_options()
    if old:
        print(f"warning: {len(old)} run files without /defaults: labels guessed from the most common "
              "option values", file=sys.stderr)
        for r in old:
            pre = r.method + "."
            same = [q for q in runs if q.method == r.method]
            opts = {}
            for k in sorted(x for x in r.config if x.startswith(pre)):
                vals = [str(q.config.get(k)) for q in same]
                if str(r.config[k]) != max(set(vals), key=vals.count):
                    opts[k[len(pre):]] = r.config[k]
            out[id(r)] = opts
    return out


def label(method, opts):
    parts = [method]
    for k, v in opts.items():
        parts.append(ABLATIONS.get((method, k, fmt_value(v)), f"{k}={fmt_value(v)}"))
    return " ".join(parts)


def row_id(method, opts):
    """The label without spaces: "bomm", "bomm[gpa=0]", "fedprox[mu=0.1]" (CSV column row)."""
    return method + (f"[{','.join(f'{k}={fmt_value(v)}' for k, v in opts.items())}]" if opts else "")


def order(xs, known):
    return sorted(xs, key=lambda x: (known.index(x) if x in known else len(known), x))


def seed_order(x):
    return [int(t) for t in str(x).split("/")]


def stats(rs, protocol, prefix=""):
    """{<stem>_mean, <stem>_std} over rs for the protocol's columns and the large model (fractions)."""
    out = {}
    for stem, series, _ in COLS[protocol] + [MM]:
        m, sd = rf.mean_std([r.final(series) for r in rs])
        out[prefix + stem + "_mean"], out[prefix + stem + "_std"] = m, (sd if not math.isnan(m) else math.nan)
    return out


def blocks(runs, marks):
    """→ [(dataset, scenario, split, {protocol: [row dict...]})], rows in display order. A row: label,
    row, method, options, n, seeds, rounds, runs (on the fixed split), <stem>_mean/_std (fractions),
    bytes_mean/_std, splits, splits_seed, splits_n, splits_acc_mean/_std, commits, provenance."""
    opts = options_of(runs)
    groups = rf.group(runs, lambda r: (r.dataset, r.scenario, r.method,
                                       tuple((k, fmt_value(v)) for k, v in opts[id(r)].items())))
    abl = list(ABLATIONS.values())

    def variant(k):
        first = label(k[2], dict(k[3])).split(" ")[1:2]
        return (len(k[3]) > 0, abl.index(first[0]) if first and first[0] in abl else len(abl),
                label(k[2], dict(k[3])))
    out = []
    for ds in order({k[0] for k in groups}, list(DATASETS)):
        for sc in order({k[1] for k in groups if k[0] == ds}, SCENARIOS):
            keys = [k for k in groups if k[:2] == (ds, sc)]
            # Within a method: the plain method first, then the ablations in ABLATIONS' order.
            keys.sort(key=lambda k: (METHODS.index(k[2]) if k[2] in METHODS else len(METHODS), k[2],
                                     variant(k)))
            split_of = [r.split_seed for k in keys for r in groups[k]]
            split = max(sorted(set(split_of)), key=split_of.count)
            tables = {p: [] for p in PROTOCOLS}
            for k in keys:
                rs_all = groups[k]
                rs = sorted((r for r in rs_all if r.split_seed == split), key=lambda r: seed_order(r.train_seed))
                if not rs:
                    print(f"warning: {label(k[2], dict(k[3]))} in {ds} · {sc}: no run on split seed "
                          f"{split}, left out", file=sys.stderr)
                    continue
                t0 = rs[0].train_seed
                sp = sorted((r for r in rs_all if r.train_seed == t0), key=lambda r: r.split_seed)
                base = {"label": label(k[2], dict(k[3])), "row": row_id(k[2], dict(k[3])), "method": k[2],
                        "options": " ".join(f"{o}={v}" for o, v in k[3]), "n": len(rs),
                        "seeds": " ".join(r.train_seed for r in rs), "split": split,
                        "rounds": "/".join(str(x) for x in sorted({r.rounds for r in rs})), "runs": rs,
                        "unfinished": [r.name for r in rs_all if r.rounds < int(r.config.get("rounds", 0))],
                        "commits": " ".join(sorted({r.git_commit for r in rs_all})),
                        "provenance": rf.provenance_mark(rs_all, marks)}
                base["bytes_mean"], base["bytes_std"] = rf.mean_std([payload_bytes(r) for r in rs])
                for p in PROTOCOLS:
                    row = dict(base, protocol=p, **stats(rs, p))
                    if math.isnan(row["acc_mean"]):
                        continue  # the protocol's model does not exist for this method
                    if p == "personal":
                        row["test_acc_mean"] = row["test_acc_std"] = math.nan
                    if len({r.split_seed for r in sp}) > 1:
                        m, sd = rf.mean_std([r.final(COLS[p][0][1]) for r in sp])
                        row.update(splits=" ".join(str(r.split_seed) for r in sp), splits_seed=t0,
                                   splits_n=len(sp), splits_acc_mean=m, splits_acc_std=sd)
                    else:
                        row.update(splits="", splits_seed="", splits_n=0, splits_acc_mean=math.nan,
                                   splits_acc_std=math.nan)
                    tables[p].append(row)
            out.append((ds, sc, split, tables))
    return out


def gap(rows, ours):
    """→ (our row, best baseline row) or None: ours = the row labelled `ours`; baselines = the rows
    of other methods with a measured accuracy."""
    mine = next((r for r in rows if r["label"] == ours), None)
    if mine is None or math.isnan(mine["acc_mean"]):
        return None
    base = [r for r in rows if r["method"] != mine["method"] and not math.isnan(r["acc_mean"])]
    if not base:
        return None
    return mine, max(base, key=lambda r: r["acc_mean"])


def fmt_acc(row, stem, n=None):
    m, sd = row[stem + "_mean"], row[stem + "_std"]
    if math.isnan(m):
        return "—"
    return f"{100 * m:.2f} ± {100 * sd:.2f}" if (n or row["n"]) > 1 else f"{100 * m:.2f}"


def pretty(ds):
    return f"{DATASETS[ds]} ({ds})" if ds in DATASETS else ds


def markdown(table, runs, argv, ours, curves_rel, marks, eval_split, digests_rel):
    commits = sorted({r.git_commit for r in runs})
    data = data_digests(runs)
    lines = ["# BoMM results table", ""] + caution(runs, marks)
    lines += [
        "**BoMM here is a reconstruction from the paper's abstract** (`docs/methods.md` §1: the "
        "authors' code and full text are not public); the baselines are our implementations in the "
        "same harness. Generated from run files only by",
        "",
        f"    {command('analysis/bomm_table.py', argv, runs)}",
        "",
        f"on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from **{len(runs)} runs** "
        f"of mmcollab commit {', '.join(f'`{c}`' for c in commits)}"
        f"{' (DIRTY)' if 'dirty' in marks else ''}, evaluated on the {eval_split} split. Data "
        "(`data_sha256`): " + "; ".join(f"{ds} {', '.join(f'`{d}`' for d in v)}" for ds, v in data.items()) +
        "." + (f" The run files and final checkpoints behind it, with their SHA-256: `{digests_rel}` "
               "(`sha256sum -c` from the repository root)." if digests_rel else ""),
        "",
        "Two evaluation protocols, never compared with each other: **global** = the shared model on "
        "each party's test rows (mean over parties; whole-test acc = on the whole test set, every "
        "modality); **personal** = each party's own model after its final local training (mean over "
        "parties). Methods without a shared model (local) appear only under personal. Accuracy, "
        "macro-F1 and AUC in percent at each run's last evaluated round, mean ± sample std over the "
        "training seeds on the block's fixed split (the best accuracy of each table in bold); acc ± "
        "over splits = the accuracy over split seeds at one training seed, for the rows run so; "
        "large-model acc = the cloud's multimodal large model (— = the method has none); bytes/round "
        "= payload bytes, up + down, all parties, mean over rounds (the tensors' sizes a deployment "
        "would send, no control messages).",
    ]
    for p in PROTOCOLS:
        gaps = [(ds, sc, g) for ds, sc, _, t in table for g in [gap(t[p], ours)] if g]
        if gaps:
            d = [(100 * (m["acc_mean"] - b["acc_mean"]), ds, sc) for ds, sc, (m, b) in gaps]
            top, low = max(d), min(d)
            lines += ["", f"**{ours} − best baseline, {p} protocol** (accuracy, points): ahead in "
                      f"{sum(x > 0 for x, _, _ in d)} of {len(d)} blocks; largest gap {top[0]:+.2f} "
                      f"({pretty(top[1])} · {top[2]}), smallest {low[0]:+.2f} ({pretty(low[1])} · {low[2]})."]
    lines += ["", "The paper reports BoMM ahead of the best baseline in every scenario, by up to 6.64 points."]
    for ds, sc, split, tables in table:
        all_rows = [r for p in PROTOCOLS for r in tables[p]]
        rounds = sorted({x for r in all_rows for x in r["rounds"].split("/")}, key=int)
        parties = sorted({str(q.config.get("parties")) for r in all_rows for q in r["runs"]})
        unfinished = sorted({n for r in all_rows for n in r["unfinished"]})
        lines += ["", f"## {pretty(ds)} · {sc}", "",
                  f"{'/'.join(rounds)} rounds, {'/'.join(parties)} parties, split seed {split}." +
                  (f" **Unfinished (fewer rounds than configured): {', '.join(unfinished)}.**" if unfinished else "")]
        for p in PROTOCOLS:
            rows = tables[p]
            if not rows:
                continue
            cols = COLS[p] + [MM]
            show_splits = any(r["splits_n"] for r in rows)
            head = ["method"] + [t for _, _, t in cols] + ["bytes/round", "seeds"] + \
                   (["acc ± over splits"] if show_splits else [])
            best = max(r["acc_mean"] for r in rows)
            lines += ["", f"### {p} protocol", "", "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
            for r in rows:
                cells = [r["label"]] + [fmt_acc(r, stem) for stem, _, _ in cols] + \
                        [fmt_bytes(r["bytes_mean"]), r["seeds"].replace(" ", ",")]
                if show_splits:
                    cells.append(f"{fmt_acc(r, 'splits_acc', r['splits_n'])} (splits {r['splits'].replace(' ', ',')}, "
                                 f"seed {r['splits_seed']})" if r["splits_n"] else "—")
                if r["acc_mean"] == best:
                    cells[1] = f"**{cells[1]}**"
                lines.append("| " + " | ".join(cells) + " |")
            g = gap(rows, ours)
            if g:
                mine, base = g
                d = 100 * (mine["acc_mean"] - base["acc_mean"])
                lines += ["", f"{ours} − best baseline ({base['label']}), {p}: **{d:+.2f} points** of accuracy."]
            else:
                lines += ["", f"{ours} − best baseline, {p}: — (no {ours} row or no baseline with a "
                          "measured accuracy)."]
        if curves_rel:
            lines += ["", f"![{pretty(ds)} · {sc}]({curves_rel}/{ds}_{sc}.png)"]
    return "\n".join(lines) + "\n"


def draw_curves(table, out_dir):
    import curves  # the seed-band drawing of analysis/curves.py

    plt = rf.pyplot()
    from matplotlib.ticker import MaxNLocator

    cmap = plt.get_cmap("tab20")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for ds, sc, _, tables in table:
        rows = tables["global"]
        panels = [("party_test_acc_mean", "global protocol: shared model's test accuracy (mean over parties)"),
                  ("personal_test_acc_mean", "personal protocol: parties' own models (mean over parties)")]
        if any(not math.isnan(r["mm_acc_mean"]) for r in rows):
            panels.append(("mm_test_acc", "large-model test accuracy"))
        fig, axes = plt.subplots(1, len(panels), figsize=(6.5 * len(panels), 4.5), squeeze=False)
        for ax, (series, title) in zip(axes[0], panels):
            for i, r in enumerate(rows):
                # tab20's dark shades first, then the light ones: neighbours stay apart.
                curves.draw(ax, r["runs"], series, cmap((2 * i) % 20 + (2 * i // 20) % 2), r["label"])
            ax.set_title(title, fontsize=10)
            ax.set_xlabel("round")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
            if ax.has_data():
                ax.legend(fontsize=7, ncol=2)
        fig.suptitle(f"{pretty(ds)} · {sc} (BoMM: a reconstruction from the paper's abstract)", fontsize=10)
        fig.tight_layout()
        path = os.path.join(out_dir, f"{ds}_{sc}.png")
        fig.savefig(path, dpi=110)
        plt.close(fig)
        paths.append(path)
    return paths


CSV_KEYS = (["dataset", "scenario", "protocol", "row", "label", "method", "options", "split", "n", "seeds",
             "rounds"] + [s + x for s in STEMS for x in ("_mean", "_std")] + ["bytes_mean", "bytes_std"] +
            ["splits", "splits_seed", "splits_n", "splits_acc_mean", "splits_acc_std", "commits", "provenance"])


def write_csv(path, table):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_KEYS, extrasaction="ignore")
        w.writeheader()
        for ds, sc, _, tables in table:
            for p in PROTOCOLS:
                for r in tables[p]:
                    w.writerow({"dataset": ds, "scenario": sc,
                                **{k: repr(float(r[k])) if k.endswith(("_mean", "_std")) else r[k]
                                   for k in CSV_KEYS[2:]}})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("--md", help="also write the Markdown here (jobs/bomm/RESULTS.md)")
    ap.add_argument("--csv", help="write the rows as CSV (fractions, full precision) here")
    ap.add_argument("--curves", metavar="DIR", help="write DIR/<dataset>_<scenario>.png per block")
    ap.add_argument("--digests", metavar="FILE", help="write the sha256sum list of the runs' run.h5 and "
                    "final checkpoints here [RUNS.sha256 next to --md; none without --md]")
    ap.add_argument("--ours", default="bomm", help="the row compared with the best baseline [bomm]")
    rf.add_provenance_args(ap)
    a = ap.parse_args()
    runs = rf.load_all(a.runs)
    eval_split = check_runs(runs)
    marks = rf.provenance(runs, "bomm_table.py", a.allow_dirty, a.allow_mixed)
    table = blocks(runs, marks)
    rel = None
    if a.curves:
        paths = draw_curves(table, a.curves)
        print(f"wrote {len(paths)} PNGs to {a.curves}/", file=sys.stderr)
        rel = os.path.relpath(a.curves, os.path.dirname(os.path.abspath(a.md)) if a.md else ".")
    dig = a.digests or (os.path.join(os.path.dirname(a.md), "RUNS.sha256") if a.md else None)
    if dig:
        write_digests(dig, runs)
    md = markdown(table, runs, sys.argv, a.ours, rel, marks, eval_split, os.path.relpath(dig) if dig else None)
    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    if a.csv:
        write_csv(a.csv, table)


if __name__ == "__main__":
    main()
