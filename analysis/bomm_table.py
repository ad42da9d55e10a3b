#!/usr/bin/python3
"""The BoMM results table (issue 5) from run files: one block per (dataset, scenario), one row per
method or ablation, Markdown (and CSV, and accuracy curves per block).

    analysis/bomm_table.py RUN_DIR... [--md jobs/bomm/RESULTS.md] [--csv OUT.csv] [--curves DIR]
                           [--ours bomm]

Row label = the method plus its non-default method options (run.h5 /config against /defaults):
"bomm −GPA" (--bomm.gpa=0), "bomm −DPO" (--bomm.dpo=0), "bomm −schedule" (--bomm.schedule=none),
"bomm −personal" (--bomm.personal=0: parties use the averaged model),
otherwise "<method> opt=value" ("fedprox mu=0.1"). Columns, each the mean ± sample std (ddof=1)
over the row's runs (seeds), every accuracy at the run's last evaluated round, in percent:
  small-model acc   party_test_acc_mean: the parties' small models, mean over parties
  large-model acc   mm_test_acc: the cloud's multimodal large model ("—": the method has none)
  global acc        test_acc: the global small model ("—": local, and methods without one)
  bytes/round       payload bytes per round: payload_up + payload_down (what a deployment would
                    send, all parties: the tensors' sizes, no control messages; the same at any
                    -np), mean over rounds, mean over seeds. Run files from before payload_* (mmcollab
                    before c8810f6) have bytes_up + bytes_down (logical bytes) instead, equal for most
                    methods; the Markdown says how many runs used them. MPI bytes are not shown.
  seeds             runs in the row
The best small-model accuracy of each block is bold; under each block, "BoMM − best baseline": the
row labelled --ours (default bomm) minus the best row of any other method (its ablations are not
baselines), in points. BoMM is a reconstruction from the paper's abstract (docs/methods.md §1);
the Markdown says so and records the command. --curves DIR: DIR/<dataset>_<scenario>.png, the
small-model accuracy (and the large model's, where recorded) against the round, mean over seeds
with a ±1 std band. Needs Debian's python3-h5py and python3-matplotlib (scripts/deps.sh analysis).
"""
import argparse
import csv
import datetime
import math
import os
import shlex
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402
from table import fmt_bytes  # noqa: E402

# Display order: ours and its ablations first, then the baselines in the order of jobs/bomm/sweep.txt.
METHODS = ["bomm", "local", "fedavg", "fedprox", "fedproto", "moon", "protofill", "meanfill",
           "zerofill", "fedmkt", "centralized"]
SCENARIOS = ["bomm-random", "bomm-crossmodal", "bomm-hybrid"]
DATASETS = {"avfmnist_small": "AV-FashionMNIST", "avfmnist": "AV-FashionMNIST", "landsat": "Landsat",
            "synmm": "SynMM"}
# Ablation switches spelled as the rows of the paper's ablation table.
ABLATIONS = {("bomm", "gpa", "0"): "−GPA", ("bomm", "dpo", "0"): "−DPO",
             ("bomm", "schedule", "none"): "−schedule", ("bomm", "personal", "0"): "−personal"}
COLS = [("party_test_acc_mean", "small-model acc (mean over parties)"),
        ("mm_test_acc", "large-model acc"), ("test_acc", "global small-model acc")]


def fmt_value(v):
    return f"{v:g}" if isinstance(v, float) else str(v)


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


def payload_bytes(r):
    """Payload bytes per round, up + down, all parties, mean over the run's rounds; in run files from
    before payload_* (r.old_bytes) the logical bytes_up + bytes_down instead."""
    up, down = ("bytes_up", "bytes_down") if r.old_bytes else ("payload_up", "payload_down")
    return float((r.metrics[up] + r.metrics[down]).mean())


def label(method, opts):
    parts = [method]
    for k, v in opts.items():
        parts.append(ABLATIONS.get((method, k, fmt_value(v)), f"{k}={fmt_value(v)}"))
    return " ".join(parts)


def order(xs, known):
    return sorted(xs, key=lambda x: (known.index(x) if x in known else len(known), x))


def blocks(runs):
    """→ [(dataset, scenario, [row dict...])], rows in display order. A row: label, method,
    options, n, seeds, rounds, runs, <series>_mean/_std for COLS (fractions), bytes_mean/_std
    (payload bytes per round, payload_bytes())."""
    opts = options_of(runs)
    groups = rf.group(runs, lambda r: (r.dataset, r.scenario, r.method,
                                       tuple((k, fmt_value(v)) for k, v in opts[id(r)].items())))
    out = []
    for ds in order({k[0] for k in groups}, list(DATASETS)):
        for sc in order({k[1] for k in groups if k[0] == ds}, SCENARIOS):
            keys = [k for k in groups if k[:2] == (ds, sc)]
            # Within a method: the plain method first, then the ablations in ABLATIONS' order, then
            # other variants by label.
            abl = list(ABLATIONS.values())

            def variant(k):
                first = label(k[2], dict(k[3])).split(" ")[1:2]
                return (len(k[3]) > 0, abl.index(first[0]) if first and first[0] in abl else len(abl),
                        label(k[2], dict(k[3])))
            keys.sort(key=lambda k: (METHODS.index(k[2]) if k[2] in METHODS else len(METHODS), k[2],
                                     variant(k)))
            rows = []
            for k in keys:
                rs = groups[k]
                row = {"label": label(k[2], dict(k[3])), "method": k[2],
                       "options": " ".join(f"{o}={v}" for o, v in k[3]), "n": len(rs),
                       "seeds": " ".join(str(r.seed) for r in rs),
                       "rounds": "/".join(str(x) for x in sorted({r.rounds for r in rs})), "runs": rs,
                       "unfinished": [r.name for r in rs if r.rounds < int(r.config.get("rounds", 0))]}
                for s, _ in COLS:
                    m, sd = rf.mean_std([r.final(s) for r in rs])
                    row[s + "_mean"], row[s + "_std"] = m, sd if not math.isnan(m) else math.nan
                row["bytes_mean"], row["bytes_std"] = rf.mean_std([payload_bytes(r) for r in rs])
                rows.append(row)
            out.append((ds, sc, rows))
    return out


def gap(rows, ours):
    """→ (our row, best baseline row) or None: ours = the row labelled `ours`; baselines = the rows
    of other methods with a measured small-model accuracy."""
    mine = next((r for r in rows if r["label"] == ours), None)
    if mine is None or math.isnan(mine["party_test_acc_mean_mean"]):
        return None
    base = [r for r in rows if r["method"] != mine["method"] and not math.isnan(r["party_test_acc_mean_mean"])]
    if not base:
        return None
    return mine, max(base, key=lambda r: r["party_test_acc_mean_mean"])


def fmt_acc(row, s):
    m, sd = row[s + "_mean"], row[s + "_std"]
    if math.isnan(m):
        return "—"
    return f"{100 * m:.2f} ± {100 * sd:.2f}" if row["n"] > 1 else f"{100 * m:.2f}"


def pretty(ds):
    return f"{DATASETS[ds]} ({ds})" if ds in DATASETS else ds


def command(argv, runs):
    """The command line with the run directories folded into their parent(s): the table is made
    from run files only, and hundreds of paths say less than `runs/bomm/*/`."""
    dirs = {os.path.dirname(os.path.normpath(r.dir)) or "." for r in runs}
    run_args = {os.path.normpath(r.dir) for r in runs} | {os.path.normpath(r.path) for r in runs}
    rest = [a for a in argv[1:] if os.path.normpath(a) not in run_args]
    return " ".join(["analysis/bomm_table.py"] + [shlex.quote(d) + "/*/" for d in sorted(dirs)] +
                    [shlex.quote(a) for a in rest])


def old_bytes_note(runs):
    old = sum(r.old_bytes for r in runs)
    if not old:
        return ""
    return (f" {'All' if old == len(runs) else f'{old} of {len(runs)}'} run files predate payload_* "
            "(mmcollab before c8810f6): their bytes/round is bytes_up + bytes_down, the logical bytes "
            "of that version, equal to the payload for most methods.")


def markdown(table, runs, argv, ours, curves_rel):
    gits = sorted({str(r.meta.get("git", "?")) for r in runs})
    lines = [
        "# BoMM results table",
        "",
        "**BoMM here is a reconstruction from the paper's abstract** (`docs/methods.md` §1: the "
        "authors' code and full text are not public); the baselines are our implementations in the "
        "same harness. Generated from run files only by",
        "",
        f"    {command(argv, runs)}",
        "",
        f"on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from {len(runs)} runs "
        f"(mmcollab {', '.join(gits)}). Accuracies in percent at each run's last evaluated round, "
        "mean ± sample std over seeds; small-model acc = the parties' small models, mean over parties "
        "(the best of each block in bold); large-model acc = the cloud's multimodal large model (— = "
        "the method has none); global = the global small model (— = none); bytes/round = payload "
        "bytes, up + down, all parties, mean over rounds (the tensors' sizes a deployment would send, "
        "no control messages)." + old_bytes_note(runs),
    ]
    gaps = [(ds, sc, g) for ds, sc, rows in table for g in [gap(rows, ours)] if g]
    if gaps:
        d = [(100 * (m["party_test_acc_mean_mean"] - b["party_test_acc_mean_mean"]), ds, sc)
             for ds, sc, (m, b) in gaps]
        top = max(d)
        lines += ["", f"**{ours} − best baseline** (small-model accuracy, points): ahead in "
                  f"{sum(x > 0 for x, _, _ in d)} of {len(d)} blocks; largest gap {top[0]:+.2f} ({pretty(top[1])} · "
                  f"{top[2]}), smallest {min(d)[0]:+.2f} ({pretty(min(d)[1])} · {min(d)[2]}). The paper reports "
                  "BoMM ahead of the best baseline in every scenario, by up to 6.64 points."]
    head = ["method"] + [t for _, t in COLS] + ["bytes/round", "seeds"]
    for ds, sc, rows in table:
        best = max((r["party_test_acc_mean_mean"] for r in rows
                    if not math.isnan(r["party_test_acc_mean_mean"])), default=math.nan)
        rounds = sorted({x for r in rows for x in r["rounds"].split("/")}, key=int)
        parties = sorted({str(q.config.get("parties")) for r in rows for q in r["runs"]})
        lines += ["", f"## {pretty(ds)} · {sc}", "",
                  f"{'/'.join(rounds)} rounds, {'/'.join(parties)} parties." +
                  "".join(f" **Unfinished (fewer rounds than configured): {', '.join(r['unfinished'])}.**"
                          for r in rows if r["unfinished"]), "",
                  "| " + " | ".join(head) + " |", "|---|" + "---:|" * (len(head) - 1)]
        for r in rows:
            cells = [r["label"]] + [fmt_acc(r, s) for s, _ in COLS] + [fmt_bytes(r["bytes_mean"]), str(r["n"])]
            if r["party_test_acc_mean_mean"] == best:
                cells[1] = f"**{cells[1]}**"
            lines.append("| " + " | ".join(cells) + " |")
        g = gap(rows, ours)
        if g:
            mine, base = g
            d = 100 * (mine["party_test_acc_mean_mean"] - base["party_test_acc_mean_mean"])
            lines += ["", f"{ours} − best baseline ({base['label']}): **{d:+.2f} points** of small-model "
                      "accuracy."]
        else:
            lines += ["", f"{ours} − best baseline: — (no {ours} row or no baseline with a measured "
                      "small-model accuracy)."]
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
    for ds, sc, rows in table:
        panels = [("party_test_acc_mean", "small-model test accuracy (mean over parties)")]
        if any(not math.isnan(r["mm_test_acc_mean"]) for r in rows):
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


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("--md", help="also write the Markdown here (jobs/bomm/RESULTS.md)")
    ap.add_argument("--csv", help="write the rows as CSV (fractions, full precision) here")
    ap.add_argument("--curves", metavar="DIR", help="write DIR/<dataset>_<scenario>.png per block")
    ap.add_argument("--ours", default="bomm", help="the row compared with the best baseline [bomm]")
    a = ap.parse_args()
    runs = rf.load_all(a.runs)
    table = blocks(runs)
    rel = None
    if a.curves:
        paths = draw_curves(table, a.curves)
        print(f"wrote {len(paths)} PNGs to {a.curves}/", file=sys.stderr)
        rel = os.path.relpath(a.curves, os.path.dirname(os.path.abspath(a.md)) if a.md else ".")
    md = markdown(table, runs, sys.argv, a.ours, rel)
    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    if a.csv:
        keys = ["dataset", "scenario", "label", "method", "options", "n", "seeds", "rounds"] + \
               [s + x for s, _ in COLS for x in ("_mean", "_std")] + ["bytes_mean", "bytes_std"]
        with open(a.csv, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for ds, sc, rows in table:
                for r in rows:
                    w.writerow({"dataset": ds, "scenario": sc,
                                **{k: repr(float(r[k])) if k.endswith(("_mean", "_std")) else r[k]
                                   for k in keys[2:]}})


if __name__ == "__main__":
    main()
