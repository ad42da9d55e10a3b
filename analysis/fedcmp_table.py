#!/usr/bin/python3
"""Fed-CMP's table (issue 16) from the run files of jobs/fedcmp/sweep.txt.

    analysis/fedcmp_table.py --manifest jobs/fedcmp/sweep.txt --md jobs/fedcmp/RESULTS.md

Per (scenario, row) of jobs/fedcmp/gen_sweep.py, mean ± sample std (ddof=1) over its seeds of, per
run (src/protocols/fedma.c's series):
  caption ppl    fm_caption_ppl at the last evaluation: the test caption perplexity of the global
                 projector (local: the mean over the parties' own)
  item acc       fm_item_acc at the last round: the item question's accuracy on the test rows after
                 the same short centralised tuning for every method
  sign conflict  the mean over rounds of fm_sign_conflict (the share of the projector's entries whose
                 party updates disagree in sign with their sum)
  orth err       the largest fm_orth_err of the run (OPM's basis, Fed-CMP only)
Then "Where Fed-CMP leads": per scenario, Fed-CMP's rank among the federated rules (the bounds
local-only and centralised left out) and its paired difference (by seed) from FedAvg and from the
best other rule, both computed here from those numbers; the ablations in the IID scenario; and
spectrum.png next to --md (the singular values of the stacked updates of the first projector
matrix, per round, Fed-CMP, IID, the first seed). Runs must come from one clean commit
(analysis/runs.py provenance; --allow-dirty / --allow-mixed to override, flagged). --csv (default:
RESULTS.csv next to --md) gets every number unrounded; RUNS.sha256 next to --md the digests of
every run.h5 and final checkpoint.
"""
import argparse
import math
import os
import shlex
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import runs as rf  # noqa: E402
from table import caution, data_digests, load_module, manifest_dirs, mean_std, write_digests, write_outputs  # noqa: E402

SCRIPT = "fedcmp_table.py"
SERIES = ("fm_caption_ppl", "fm_item_acc", "fm_sign_conflict", "fm_orth_err", "fm_local_loss",
          "fm_spectrum")
# (key, title, lower is better)
MEASURES = (("ppl", "caption ppl", True), ("items", "item acc (%)", False),
            ("conflict", "sign conflict (%)", True), ("orth", "orth err (max)", True))


def measures(r):
    m = r.metrics
    ppl = rf.last_measured(m["fm_caption_ppl"])
    items = rf.last_measured(m["fm_item_acc"])
    conf = m["fm_sign_conflict"]
    conf = float(np.nanmean(conf)) if np.isfinite(conf).any() else math.nan
    orth = m["fm_orth_err"]
    orth = float(np.nanmax(orth)) if np.isfinite(orth).any() else math.nan
    return {"ppl": float(ppl), "items": float(items), "conflict": conf, "orth": orth}


def fmt(key, m, s):
    if math.isnan(m):
        return "—"
    if key == "ppl":
        d, sc = 2, 1
    elif key == "orth":
        return f"{m:.1e}"
    else:
        d, sc = 1, 100
    return f"{m * sc:.{d}f}" + ("" if math.isnan(s) else f" ± {s * sc:.{d}f}")


class Row:
    def __init__(self, runs):
        self.runs = runs
        self.per = [measures(r) for r in runs]
        self.stat = {k: mean_std([x[k] for x in self.per]) for k, _, _ in MEASURES}

    def by_seed(self, key):
        return {r.seed: x[key] for r, x in zip(self.runs, self.per)}


def paired(a, b, key):
    xa, xb = a.by_seed(key), b.by_seed(key)
    seeds = sorted(s for s in xa if s in xb and not math.isnan(xa[s]) and not math.isnan(xb[s]))
    m, s = mean_std([xa[k] - xb[k] for k in seeds])
    return m, s, seeds


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True, help="jobs/fedcmp/sweep.txt")
    ap.add_argument("--sweep", default="jobs/fedcmp/gen_sweep.py", help="its generator (the rows)")
    ap.add_argument("--md", help="also write the Markdown here (and spectrum.png, RUNS.sha256 next to it)")
    ap.add_argument("--csv", help="every number, unrounded [RESULTS.csv next to --md]")
    rf.add_provenance_args(ap)
    a = ap.parse_args()
    sw = load_module(a.sweep, "fedcmp_sweep")
    gen = sw.lines()
    lines = [ln.strip() for ln in open(a.manifest) if ln.strip() and not ln.lstrip().startswith("#")]
    dirs = manifest_dirs(a.manifest, SCRIPT)
    if [g[-1] for g in gen] != lines:
        sys.exit(f"error: {SCRIPT}: {a.manifest} is not what {a.sweep} writes: regenerate it "
                 f"({a.sweep} > {a.manifest})")
    have = [(g, d) for g, d in zip(gen, dirs) if os.path.exists(os.path.join(d, "run.h5"))]
    missing = [d for d in dirs if not os.path.exists(os.path.join(d, "run.h5"))]
    if not have:
        sys.exit(f"error: {SCRIPT}: none of the {len(dirs)} runs of {a.manifest} has a run file yet")
    runs = rf.load_all([d for _, d in have])
    rf.require(runs, SERIES, SCRIPT)
    marks = rf.provenance(runs, SCRIPT, a.allow_dirty, a.allow_mixed)
    by = {}
    for (g, _), r in zip(have, runs):
        by.setdefault((g[0], g[1], g[2]), []).append(r)
    rows = {k: Row(v) for k, v in by.items()}
    scen = list(sw.SCENARIOS)
    out_csv = []
    r0 = runs[0]
    c = r0.config
    commits = sorted({r.git_commit for r in runs})
    bases = sorted({str(r.meta.get("model_sha256") or "unknown") for r in runs})
    md = ["# Fed-CMP (a reconstruction): federated pre-training of the multimodal LLM's projectors", ""]
    md += caution(runs, marks)
    md += [f"Generated by `{' '.join(['analysis/' + SCRIPT] + [shlex.quote(x) for x in sys.argv[1:]])}` from "
           f"{len(runs)} run files of `{a.manifest}` (made by `make fedcmp-table`), mmcollab commit "
           f"{', '.join(x[:12] for x in commits)}. Data: " +
           "; ".join(f"{ds} sha256 {', '.join(d[:16] for d in v)}…" for ds, v in data_digests(runs).items()) +
           f". Base model `{c.get('mllm.base', '?')}` sha256 {', '.join(b[:16] for b in bases)}…. "
           "Digests of every run file and final checkpoint: RUNS.sha256.", "",
           f"The task (`{lines[0].split()[0]}`): {c.get('parties', '?')} parties pre-train only the projectors "
           "(frozen stage-2 encoders and stage-1 LM, fresh projectors) on captions of their own image and "
           f"audio rows, one pass: {c.get('rounds', '?')} rounds of {c.get('fedcmp.chunk', '?')} rows, local SGD "
           "with momentum. Fed-CMP's CRAA and OPM are our reconstruction from the paper's abstract. "
           "Caption perplexity: the global projector on every party's test rows with an image or audio "
           "(lower is better). Item accuracy: after the same "
           f"{c.get('fedcmp.tune-steps', '?')}-step centralised tuning on the public rows for every method. "
           f"Mean ± sample std over seeds {', '.join(sorted({str(r.seed) for r in runs}))}."]
    if missing:
        md += ["", f"**{len(missing)} of {len(dirs)} runs have no run file yet** (first: `{missing[0]}`)."]

    def table(key, title):
        t = ["", f"## {title}", "", "| rule | " + " | ".join(scen) + " |", "|---|" + "---|" * len(scen)]
        for n in sw.METHODS:
            cells = []
            for sc in scen:
                row = rows.get(("method", sc, n))
                cells.append(fmt(key, *row.stat[key]) if row else "no runs")
            t.append(f"| {n} | " + " | ".join(cells) + " |")
        return t

    md += table("ppl", "Caption perplexity (test, lower is better)")
    md += table("items", "Item accuracy after the same centralised tuning (test, %)")
    md += table("conflict", "Sign conflicts between the parties' updates (mean over rounds, %)")
    # ablations
    md += ["", f"## Ablations ({sw.ABLATION_SCENARIO})", "",
           "| row | seeds | " + " | ".join(t for _, t, _ in MEASURES) + " |", "|---|---|" + "---|" * len(MEASURES)]
    for n, study in [(sw.REFERENCE, "method")] + [(x, "ablation") for x in sw.ABLATIONS]:
        row = rows.get((study, sw.ABLATION_SCENARIO, n))
        if not row:
            md.append(f"| {n} | no runs |" + " |" * len(MEASURES))
            continue
        md.append(f"| {n} | {','.join(str(r.seed) for r in row.runs)} | " +
                  " | ".join(fmt(k, *row.stat[k]) for k, _, _ in MEASURES) + " |")
    # where Fed-CMP leads
    md += ["", "## Where Fed-CMP leads", "",
           "Computed from the numbers above. Ranks among the federated rules (local-only and "
           "centralised are bounds, not ranked); differences are paired by seed (the same seed gives "
           "both rules the same partition and starting projector): mean ± sample std of the per-seed "
           "difference; a difference *exceeds the spread* when its absolute mean is larger than that "
           "std.", ""]
    for sc in scen:
        ref = rows.get(("method", sc, sw.REFERENCE))
        if not ref:
            md.append(f"- {sc}: no runs of {sw.REFERENCE}.")
            continue
        parts = []
        for key, title, lower in MEASURES[:2]:
            ranked = [(n, rows[("method", sc, n)].stat[key][0]) for n in sw.METHODS
                      if n not in sw.NOT_RANKED and ("method", sc, n) in rows
                      and not math.isnan(rows[("method", sc, n)].stat[key][0])]
            ranked.sort(key=lambda x: x[1] if lower else -x[1])
            rank = [n for n, _ in ranked].index(sw.REFERENCE) + 1 if sw.REFERENCE in dict(ranked) else 0
            best = next((n for n, _ in ranked if n != sw.REFERENCE), None)
            txt = f"{title}: rank **{rank} of {len(ranked)}**"
            for other in ("FedAvg", best):
                if other is None or ("method", sc, other) not in rows:
                    continue
                d, s, seeds = paired(ref, rows[("method", sc, other)], key)
                if math.isnan(d):
                    continue
                scale = 1 if key == "ppl" else 100
                better = d < 0 if lower else d > 0
                beyond = not math.isnan(s) and abs(d) > s
                txt += (f"; − {other}: {d * scale:+.2f}{'' if math.isnan(s) else f' ± {s * scale:.2f}'} "
                        f"({'better' if better else 'worse' if d != 0 else 'equal'}, exceeds the spread: "
                        f"{'**yes**' if beyond else '**no**'})")
                out_csv.append({"study": "leads", "scenario": sc, "row": f"{sw.REFERENCE} − {other}",
                                "measure": key, "value": d, "spread": s, "better": better, "beyond": beyond})
            parts.append(txt)
        md.append(f"- **{sc}**: " + "; ".join(parts) + ".")
    for (study, sc, n), row in rows.items():
        rec = {"study": study, "scenario": sc, "row": n, "n": len(row.runs),
               "seeds": " ".join(str(r.seed) for r in row.runs),
               "commits": " ".join(sorted({r.git_commit for r in row.runs})),
               "provenance": rf.provenance_mark(row.runs, marks)}
        for k, _, _ in MEASURES:
            rec[k + "_mean"], rec[k + "_std"] = row.stat[k]
        out_csv.append(rec)
    if a.md:
        os.makedirs(os.path.dirname(a.md) or ".", exist_ok=True)
        ref = rows.get(("method", scen[0], sw.REFERENCE))
        if ref:
            png = os.path.join(os.path.dirname(a.md), "spectrum.png")
            plot_spectrum(png, ref.runs[0])
            md += ["", f"![singular values per round]({os.path.basename(png)})", "",
                   f"spectrum.png: the singular values of the stacked updates [Δ_1 | … | Δ_K] of the first "
                   f"projector matrix per round ({sw.REFERENCE}, {scen[0]}, seed {ref.runs[0].seed}; "
                   "`fm_spectrum`)."]
        write_digests(os.path.join(os.path.dirname(a.md), "RUNS.sha256"), runs)
    write_outputs(md, out_csv, a.md, a.csv)


def plot_spectrum(png, r):
    plt = rf.pyplot()
    sv = np.atleast_2d(r.metrics["fm_spectrum"])
    fig, ax = plt.subplots(figsize=(6, 4))
    for i, row in enumerate(sv):
        v = row[np.isfinite(row)]
        if len(v):
            ax.semilogy(np.arange(1, len(v) + 1), v, marker="o", label=f"round {int(r.metrics['round'][i])}")
    ax.set_xlabel("singular value index")
    ax.set_ylabel("singular value")
    ax.set_title("stacked party updates, first projector matrix", fontsize=10)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
