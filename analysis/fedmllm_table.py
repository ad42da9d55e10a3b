#!/usr/bin/python3
"""The FedMLLM results table (issue 12) from run files: one block per task, rows = methods (and the
two strategies), columns = the twelve heterogeneity settings; Markdown (and CSV, the run files'
digests, curves per task), and a paragraph that compares the numbers with FedMLLM's reported pattern.

    analysis/fedmllm_table.py --manifest jobs/fedmllm/sweep.txt --md jobs/fedmllm/RESULTS.md
    analysis/fedmllm_table.py RUN_DIR... [--md OUT.md] [--csv OUT.csv] [--curves DIR] [--digests FILE]
                              [--allow-dirty] [--allow-mixed]

--manifest FILE: the run directories of FILE's lines (analysis/run_manifest.sh --list); lines whose
directory has no run.h5 yet (not run, or failed: e.g. a method the binary does not know) are counted
and named in the table, not refused. With --md, the CSV (RESULTS.csv), RUNS.sha256 and curves/ go
next to it unless --csv / --digests / --curves say otherwise.

Tasks, settings, rows: the rows and their options are jobs/fedmllm/gen_sweep.py's ROWS (imported:
the one place that spells them); a run is in the row whose options it carries, the most specific
first (fedadam with --mllm.prompt=augmented is "fedadam+aug", not "fedadam"); a run matching none is
labelled by its method and non-default method options, with a warning. A run's task is the task
config (jobs/fedmllm/<task>.cfg; --jobs DIR reads DIR/ instead) whose every key it has with that
value; none: its dataset's name, with a warning. Its setting is its --scenario (fedmllm-<setting>). Every row of ROWS is listed in
every task: a row without runs says "no runs".

Cells: the task's metric (items: macro-F1 = test_macro_f1; memes: AUC = test_auc and hard-label AUC
= test_auc_hard, one table each) under the global protocol (the shared model on the whole test
split) at each run's last evaluated round, in points (x100), mean ± sample std (ddof=1) over the
runs' seeds; "(n=K)" where a cell has fewer runs than the table's most common count. A row without a
global model (local) takes the personal protocol's series (personal_test_<metric>_mean: each party's
own model on its own rows, mean over parties) and is marked †; "—" = not measured. bytes/round =
payload_up + payload_down per round (all parties), mean over rounds and over the row's runs.

Provenance and refusals as analysis/bomm_table.py: runs from a dirty build or from more than one
commit are refused naming them (--allow-dirty / --allow-mixed mark the table); run files without
the metric series are refused by name; runs evaluated on different splits too.
Needs Debian's python3-h5py and python3-matplotlib (scripts/deps.sh analysis).
"""
import argparse
import csv
import datetime
import importlib.util
import math
import os
import shlex
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import runs as rf  # noqa: E402
from table import caution, command, data_digests, fmt_bytes, manifest_dirs, payload_bytes, write_digests  # noqa: E402

# Per task: (series, header); the first is the one the paragraph and the curves read.
METRICS = {"items": [("test_macro_f1", "macro-F1")],
           "memes": [("test_auc", "AUC"), ("test_auc_hard", "hard-label AUC")]}
NEEDED = ("test_macro_f1", "test_auc", "test_auc_hard")
# FedMLLM's pattern, as the comparison reads it.
FEDERATED = ["fedavg", "fedprox", "fedavgm", "fedadagrad", "fedadam", "fedyogi"]
ADAPTIVE = ["fedadagrad", "fedadam", "fedyogi"]
LOCAL_GAP = (5.0, 25.0)  # federation ahead of local by 5-25 points
COLLAPSE = -10.0  # FedAvgM "collapses": at least 10 points below the other federated methods' median


def load_sweep(jobs):
    """JOBS/gen_sweep.py as a module (ROWS, SETTINGS, TASKS)."""
    path = os.path.join(jobs, "gen_sweep.py")
    if not os.path.exists(path):
        sys.exit(f"error: fedmllm_table.py: {path}: no such file (run from the repository root, or --jobs DIR)")
    spec = importlib.util.spec_from_file_location("fedmllm_sweep", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def parse_opts(text):
    """"--method=fedadam --prox=adaptive" → {"method": "fedadam", "prox": "adaptive"}."""
    return dict(o[2:].split("=", 1) for o in text.split())


def read_cfg(path):
    """A config file's keys → value text ([section] prefixes keys, # starts a comment)."""
    out, sec = {}, ""
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line.startswith("[") and line.endswith("]"):
            sec = line[1:-1].strip() + "."
        elif "=" in line:
            k, v = (x.strip() for x in line.split("=", 1))
            out[sec + k] = v
    return out


def matches(r, opts):
    return all(k in r.config and rf.is_default(r.config[k], v) for k, v in opts.items())


def classify(runs, sweep, tasks):
    """→ {id(run): (task, setting, row)}. tasks: {task: its cfg's keys}."""
    rows = sorted(((name, parse_opts(o)) for name, o in sweep.ROWS.items()), key=lambda x: -len(x[1]))
    out = {}
    for r in runs:
        # the task is its data file (a line may override other keys of the task config: the
        # centralized row its rounds, the prompt-augmentation row mllm.prompt); all keys when
        # tasks share their data
        datas = [keys.get("data") for keys in tasks.values()]
        by_data = len(set(datas)) == len(datas) and None not in datas
        task = next((t for t, keys in tasks.items()
                     if matches(r, {"data": keys["data"]} if by_data else keys)), None)
        if task is None:
            print(f"warning: {r.dir}: matches no task config of jobs/fedmllm/ ({', '.join(tasks)}); "
                  f"task = its dataset {r.dataset}", file=sys.stderr)
            task = r.dataset
        row = next((n for n, o in rows if r.method == o["method"] and matches(r, {k: v for k, v in o.items()
                                                                                  if k != "method"})), None)
        if row is None:
            opts = r.method_options() or {}
            row = r.method + (f"[{','.join(f'{k}={v}' for k, v in opts.items())}]" if opts else "")
            print(f"warning: {r.dir}: in no row of jobs/fedmllm/gen_sweep.py's ROWS; row {row}", file=sys.stderr)
        sc = str(r.config.get("scenario", "?"))
        out[id(r)] = (task, sc[len("fedmllm-"):] if sc.startswith("fedmllm-") else r.scenario, row)
    return out


def check_runs(runs):
    for r in runs:
        missing = [s for s in NEEDED if s not in r.metrics]
        if missing:
            sys.exit(f"error: {r.path}: /metrics lacks {', '.join(missing)}; fedmllm_table.py needs "
                     f"{', '.join(NEEDED)}: rerun it")
    splits = sorted({str(r.meta.get("eval_split", "test")) for r in runs})
    if len(splits) > 1:
        sys.exit(f"error: fedmllm_table.py: the runs evaluate on different splits ({', '.join(splits)}): "
                 + ", ".join(f"{r.dir} ({r.meta.get('eval_split', 'test')})" for r in runs))
    return splits[0]


def cell(rs, series):
    """{mean, std, n, seeds, personal, runs} in points, or None without runs. The global series, or
    (no run measured it: no shared model) the personal protocol's mean over parties."""
    if not rs:
        return None
    rs = sorted(rs, key=lambda r: int(r.seed))
    vals, personal = [r.final(series) for r in rs], False
    if all(math.isnan(v) for v in vals):
        vals, personal = [r.final(f"personal_{series}_mean") for r in rs], True
    m, sd = rf.mean_std(vals)
    return {"mean": 100 * float(m), "std": 100 * float(sd), "n": len(rs), "personal": personal, "runs": rs,
            "seeds": " ".join(str(r.seed) for r in rs)}


def build(runs, sweep, tasks):
    """→ [(task, settings, {row: {"cells": {(series, setting): cell}, "bytes": (mean, std), ...}})]."""
    where = classify(runs, sweep, tasks)
    order_s = [s.replace("-", ":") if s.startswith("cross") else s for s in sweep.SETTINGS]
    out = []
    for task in sorted({w[0] for w in where.values()} | set(sweep.TASKS),
                       key=lambda t: (sweep.TASKS.index(t) if t in sweep.TASKS else 99, t)):
        mine = [r for r in runs if where[id(r)][0] == task]
        seen = {where[id(r)][1] for r in mine}
        settings = [s for s in order_s if s in seen or not mine] + sorted(seen - set(order_s))
        rows = list(sweep.ROWS) + sorted({where[id(r)][2] for r in mine} - set(sweep.ROWS))
        table = {}
        for row in rows:
            rs = [r for r in mine if where[id(r)][2] == row]
            groups = rf.group(rs, lambda r: where[id(r)][1]) if rs else {}
            cells = {(s, sc): cell(groups.get(sc, []), s) for s, _ in metrics_of(task) for sc in settings}
            b = rf.mean_std([payload_bytes(r) for r in rs]) if rs else (math.nan, math.nan)
            table[row] = {"cells": cells, "bytes": b, "runs": rs,
                          "unfinished": [r.name for r in rs if r.rounds < int(r.config.get("rounds", 0))]}
        out.append((task, settings, table))
    return out


def metrics_of(task):
    return METRICS.get(task, METRICS["items"])


def fmt_cell(c, n_mode):
    if c is None:
        return "—"
    if math.isnan(c["mean"]):
        return "—" + ("†" if c["personal"] else "")
    s = f"{c['mean']:.2f} ± {c['std']:.2f}" if c["n"] > 1 else f"{c['mean']:.2f}"
    return s + ("†" if c["personal"] else "") + (f" (n={c['n']})" if c["n"] < n_mode else "")


def setting_mean(table, row, series, settings):
    """{setting: mean} of a row's measured cells."""
    cs = table.get(row, {"cells": {}})["cells"]
    return {sc: cs[(series, sc)]["mean"] for sc in settings
            if cs.get((series, sc)) and not math.isnan(cs[(series, sc)]["mean"])}


def paragraph(task, settings, table):
    """The comparison with FedMLLM's reported pattern, from the numbers of the task's first metric."""
    series, name = metrics_of(task)[0]
    fed = {m: setting_mean(table, m, series, settings) for m in FEDERATED}
    fed = {m: v for m, v in fed.items() if v}
    out = [f"**{task}: ours against FedMLLM's reported pattern** ({name}, global protocol, points)."]
    # 1. Adaptive server optimisers most robust: the highest worst setting.
    if len(fed) >= 2:
        worst = sorted(((min(v.values()), m, min(v, key=v.get)) for m, v in fed.items()), reverse=True)
        top, adaptive = worst[0][1], [m for _, m, _ in worst if m in ADAPTIVE]
        verdict = ("ours agrees." if top in ADAPTIVE else
                   f"ours does not agree (best adaptive: {adaptive[0]})." if adaptive else
                   "not comparable: no adaptive method measured.")
        out.append("*Adaptive optimisers most robust* — worst setting per method: " +
                   ", ".join(f"{m} {w:.2f} ({sc})" for w, m, sc in worst) + f". The most robust is {top}: {verdict}")
    else:
        out.append("*Adaptive optimisers most robust* — not comparable: fewer than two federated methods measured.")
    # 2. FedAvgM collapses under missing and cross-modal data.
    hard = [sc for sc in settings if sc.startswith(("missing", "cross"))]
    easy = [sc for sc in settings if sc.startswith("alpha")]
    others = [m for m in fed if m != "fedavgm"]
    if "fedavgm" in fed and others and any(sc in fed["fedavgm"] for sc in hard):
        def mean_over(m, scs):
            xs = [fed[m][sc] for sc in scs if sc in fed[m]]
            return float(np.mean(xs)) if xs else math.nan
        am, om = mean_over("fedavgm", hard), float(np.median([mean_over(m, hard) for m in others]))
        ae, oe = mean_over("fedavgm", easy), float(np.median([mean_over(m, easy) for m in others]))
        gap = am - om
        out.append(f"*FedAvgM collapses under missing and cross-modal data* — over the missing and cross-modal "
                   f"settings FedAvgM {am:.2f} against {om:.2f} for the other federated methods (median of their "
                   f"means), {gap:+.2f} points" +
                   (f"; on label skew alone {ae:.2f} against {oe:.2f} ({ae - oe:+.2f})" if not math.isnan(ae) else "") +
                   f". Ours {'agrees' if gap <= COLLAPSE else 'does not agree'} (collapse read as at least "
                   f"{-COLLAPSE:.0f} points below).")
    else:
        out.append("*FedAvgM collapses under missing and cross-modal data* — not comparable: no FedAvgM or no "
                   "other federated method measured on those settings.")
    # 3. Federation beats local by 5-25 points.
    loc = setting_mean(table, "local", series, settings)
    gaps = {sc: float(np.mean([fed[m][sc] for m in fed if sc in fed[m]])) - loc[sc] for sc in settings
            if sc in loc and any(sc in fed[m] for m in fed)}
    if gaps:
        lo, hi = LOCAL_GAP
        inside = [sc for sc, g in gaps.items() if lo <= g <= hi]
        mn, mx = min(gaps, key=gaps.get), max(gaps, key=gaps.get)
        verdict = ("agrees" if len(inside) == len(gaps) else "agrees in part" if inside else "does not agree")
        out.append(f"*Federation beats local by {lo:.0f}–{hi:.0f} points* — the federated methods' mean minus "
                   f"local (local under the personal protocol, †) ranges from {gaps[mn]:+.2f} ({mn}) to "
                   f"{gaps[mx]:+.2f} ({mx}); inside {lo:.0f}–{hi:.0f} in {len(inside)} of {len(gaps)} settings, "
                   f"below in {sum(g < lo for g in gaps.values())}, above in {sum(g > hi for g in gaps.values())}. "
                   f"Ours {verdict}.")
    else:
        out.append(f"*Federation beats local by {LOCAL_GAP[0]:.0f}–{LOCAL_GAP[1]:.0f} points* — not comparable: "
                   "no setting with both local and a federated method measured.")
    return " ".join(out[:1]) + "\n\n" + "\n".join(f"- {x}" for x in out[1:])


def markdown(blocks, runs, cmd, marks, eval_split, curves_rel, digests_rel, missing, n_manifest):
    commits = sorted({r.git_commit for r in runs})
    data = data_digests(runs)
    lines = ["# FedMLLM results table", ""] + caution(runs, marks)
    lines += [
        "FedMLLM's benchmark (docs/methods.md §3) in this harness: its server rules, its twelve "
        "heterogeneity settings and its rows, with our model and data. Generated from run files only by",
        "",
        f"    {cmd}",
        "",
        f"on {datetime.datetime.now(datetime.timezone.utc):%Y-%m-%d %H:%M} UTC from **{len(runs)} runs** "
        f"of mmcollab commit {', '.join(f'`{c}`' for c in commits)}"
        f"{' (DIRTY)' if 'dirty' in marks else ''}, evaluated on the {eval_split} split. Data "
        "(`data_sha256`): " + "; ".join(f"{ds} {', '.join(f'`{d}`' for d in v)}" for ds, v in data.items()) +
        ". Base model (`model_sha256`): " + ", ".join(f"`{d}`" for d in base_digests(runs)) +
        "." + (f" The run files and final checkpoints behind it, with their SHA-256: `{digests_rel}` "
               "(`sha256sum -c` from the repository root)." if digests_rel else ""),
    ]
    if n_manifest:
        lines += ["", f"Manifest: {n_manifest} runs, {n_manifest - len(missing)} with a run file." +
                  (f" **{len(missing)} without one** (not run yet, or failed: see their .log): "
                   + ", ".join(f"`{m}`" for m in missing[:8]) + (", …" if len(missing) > 8 else "") + "."
                   if missing else "")]
    lines += ["", "Cells: the task's metric of the shared model on the whole test split (global protocol) at "
              "each run's last evaluated round, in points, mean ± sample std over seeds; (n=K) = fewer runs "
              "than the others; † = no shared model (local): each party's own model on its own test rows, "
              "mean over parties (personal protocol); — = not run or not measured; no runs = the row has "
              "none in this task. bytes/round = payload up + down, all parties, mean over rounds and runs."]
    for task, settings, table in blocks:
        all_runs = [r for v in table.values() for r in v["runs"]]
        if not all_runs:
            lines += ["", f"## {task}", "", "No runs."]
            continue
        rounds = sorted({str(r.rounds) for r in all_runs}, key=int)
        parties = sorted({str(r.config.get("parties")) for r in all_runs})
        sample = sorted({str(r.config.get("sample")) for r in all_runs})
        unfinished = sorted({n for v in table.values() for n in v["unfinished"]})
        lines += ["", f"## {task}", "",
                  f"{'/'.join(rounds)} rounds, {'/'.join(parties)} parties, {'/'.join(sample)} sampled per round; "
                  f"data {', '.join(sorted({r.dataset for r in all_runs}))}; model "
                  f"{', '.join(sorted({str(r.config.get('model', '?')) for r in all_runs}))}." +
                  (f" **Unfinished (fewer rounds than configured): {', '.join(unfinished)}.**" if unfinished else "")]
        counts = [c["n"] for v in table.values() for c in v["cells"].values() if c]
        n_mode = max(set(counts), key=counts.count) if counts else 0
        for series, name in metrics_of(task):
            head = ["method"] + settings + ["bytes/round"]
            lines += ["", f"### {name} (`{series}`)", "", "| " + " | ".join(head) + " |",
                      "|---|" + "---:|" * (len(head) - 1)]
            for row, v in table.items():
                if not v["runs"]:
                    lines.append(f"| {row} | no runs |" + " |" * (len(head) - 2))
                    continue
                cells = [fmt_cell(v["cells"][(series, sc)], n_mode) for sc in settings]
                lines.append("| " + " | ".join([row] + cells + [fmt_bytes(v["bytes"][0])]) + " |")
        lines += ["", paragraph(task, settings, table)]
        if curves_rel:
            lines += ["", f"![{task}]({curves_rel}/{task}.png)"]
    return "\n".join(lines) + "\n"


def base_digests(runs):
    """The distinct /meta model_sha256 of the runs (the base model each started from)."""
    return sorted({str(r.meta.get("model_sha256") or "none") for r in runs})


def draw_curves(blocks, out_dir):
    import curves  # the seed-band drawing of analysis/curves.py

    plt = rf.pyplot()
    from matplotlib.ticker import MaxNLocator

    cmap = plt.get_cmap("tab20")
    os.makedirs(out_dir, exist_ok=True)
    paths = []
    for task, settings, table in blocks:
        if not any(v["runs"] for v in table.values()):
            continue
        series, name = metrics_of(task)[0]
        ncol = min(4, len(settings))
        nrow = -(-len(settings) // ncol)
        fig, axes = plt.subplots(nrow, ncol, figsize=(4.2 * ncol, 3.4 * nrow), squeeze=False)
        for ax, sc in zip(axes.flat, settings):
            for i, (row, v) in enumerate(table.items()):
                c = v["cells"][(series, sc)]
                if c:
                    s = f"personal_{series}_mean" if c["personal"] else series
                    curves.draw(ax, c["runs"], s, cmap((2 * i) % 20), row + ("†" if c["personal"] else ""))
            ax.set_title(sc, fontsize=9)
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.grid(alpha=0.3)
        for ax in list(axes.flat)[len(settings):]:
            ax.axis("off")
        legend = {}  # every panel's rows, once each (a row may be absent from the first panel)
        for ax in axes.flat:
            for h, lab in zip(*ax.get_legend_handles_labels()):
                legend.setdefault(lab.split(" (n=")[0], h)
        handles, labels = list(legend.values()), list(legend)
        if handles:
            fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=min(6, len(labels)))
        fig.suptitle(f"{task}: {name} against the round (global protocol; † personal)", fontsize=10)
        fig.tight_layout(rect=(0, 0.06, 1, 1))
        path = os.path.join(out_dir, f"{task}.png")
        fig.savefig(path, dpi=100)
        plt.close(fig)
        paths.append(path)
    return paths


CSV_KEYS = ["task", "metric", "setting", "row", "method", "protocol", "n", "seeds", "mean", "std",
            "bytes_mean", "rounds", "commits", "provenance"]


def write_csv(path, blocks, marks):
    with open(path, "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=CSV_KEYS)
        w.writeheader()
        for task, settings, table in blocks:
            for series, _ in metrics_of(task):
                for row, v in table.items():
                    for sc in settings:
                        c = v["cells"][(series, sc)]
                        if not c:
                            continue
                        w.writerow({"task": task, "metric": series, "setting": sc, "row": row,
                                    "method": c["runs"][0].method, "protocol": "personal" if c["personal"] else "global",
                                    "n": c["n"], "seeds": c["seeds"], "mean": repr(c["mean"]), "std": repr(c["std"]),
                                    "bytes_mean": repr(float(v["bytes"][0])),
                                    "rounds": "/".join(sorted({str(r.rounds) for r in c["runs"]})),
                                    "commits": " ".join(sorted({r.git_commit for r in c["runs"]})),
                                    "provenance": rf.provenance_mark(c["runs"], marks)})


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="*", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("--manifest", help="tabulate this manifest's run directories (missing ones are named)")
    ap.add_argument("--jobs", default="jobs/fedmllm", metavar="DIR",
                    help="where gen_sweep.py (the rows) and the task configs are [jobs/fedmllm]")
    ap.add_argument("--md", help="also write the Markdown here (jobs/fedmllm/RESULTS.md)")
    ap.add_argument("--csv", help="write the cells as CSV here [RESULTS.csv next to --md]")
    ap.add_argument("--curves", metavar="DIR", help="write DIR/<task>.png [curves/ next to --md]")
    ap.add_argument("--digests", metavar="FILE", help="write the sha256sum list of the runs' run.h5 and "
                    "final checkpoints here [RUNS.sha256 next to --md]")
    rf.add_provenance_args(ap)
    a = ap.parse_args()
    paths, missing, dirs = list(a.runs), [], []
    if a.manifest:
        dirs = manifest_dirs(a.manifest, "fedmllm_table.py")
        missing = [d for d in dirs if not os.path.exists(os.path.join(d, "run.h5"))]
        paths += [d for d in dirs if d not in missing]
        if not paths:
            sys.exit(f"error: fedmllm_table.py: none of the {len(dirs)} runs of {a.manifest} has a run file yet")
    runs = rf.load_all(paths)
    eval_split = check_runs(runs)
    marks = rf.provenance(runs, "fedmllm_table.py", a.allow_dirty, a.allow_mixed)
    sweep = load_sweep(a.jobs)
    tasks = {t: read_cfg(os.path.join(a.jobs, f"{t}.cfg")) for t in sweep.TASKS}
    blocks = build(runs, sweep, tasks)
    side = os.path.dirname(a.md) if a.md else None
    csv_path = a.csv or (os.path.splitext(a.md)[0] + ".csv" if a.md else None)
    curves_dir = a.curves or (os.path.join(side, "curves") if a.md else None)
    dig = a.digests or (os.path.join(side, "RUNS.sha256") if a.md else None)
    rel = None
    if curves_dir:
        print(f"wrote {len(draw_curves(blocks, curves_dir))} PNGs to {curves_dir}/", file=sys.stderr)
        rel = os.path.relpath(curves_dir, os.path.dirname(os.path.abspath(a.md)) if a.md else ".")
    if dig:
        write_digests(dig, runs)
    # With --manifest the command is the one given; by hand, the run directories folded (table.py).
    cmd = (" ".join(["analysis/fedmllm_table.py"] + [shlex.quote(x) for x in sys.argv[1:]]) if a.manifest
           else command("analysis/fedmllm_table.py", sys.argv, runs))
    md = markdown(blocks, runs, cmd, marks, eval_split, rel, os.path.relpath(dig) if dig else None,
                  missing, len(dirs))
    sys.stdout.write(md)
    if a.md:
        with open(a.md, "w") as f:
            f.write(md)
    if csv_path:
        write_csv(csv_path, blocks, marks)


if __name__ == "__main__":
    main()
