#!/usr/bin/python3
"""CD-CCA's table (issue 15) from the run files of jobs/cdcca/sweep.txt.

    analysis/cdcca_table.py --manifest jobs/cdcca/sweep.txt --md jobs/cdcca/RESULTS.md

Per row of jobs/cdcca/gen_sweep.py (the methods, then the ablations), mean ± sample std (ddof=1)
over its seeds of, per run (src/protocols/cdcca.c's series; the devices' accuracy is the mean over
devices of each device's accuracy on its own test rows under a stage's shift):
  avg acc        cd_avg_acc at the last round: the mean over stages of each stage's accuracy when
                 the stage ended (the diagonal of the accuracy matrix)
  final acc      the mean of cd_acc_stage1..S at the last round: every stage at the end of the stream
  forgetting     cd_forgetting at the last round (mean over the earlier stages of the drop from
                 their best accuracy), in points
  uplink         sum of cd_up_bytes / sum of cd_raw_bytes over the run (% of the stream rows' bytes)
  rows up        sum of cd_up_rows / sum of cd_rows (% of the rows the devices read)
  downlink       the mean over rounds of cd_down_share (% of the fp32 student, every device)
  round time     the median of round_ms over the run
  BLEU-1, BLEU-4 cd_avg_bleu1 / cd_avg_bleu4 at the last round: the mean over stages of the corpus
                 BLEU of each stage's test captions when the stage ended (the captions study)
Then the accuracy of each stage at the end of the stream and when it ended (method rows), a section
"Against the paper" whose sentences and verdicts are computed here from those numbers, and the plot
stages.png next to --md. The manifest's lines must be --sweep's (regenerate it after editing that).
Runs must come from one clean commit (analysis/runs.py provenance; --allow-dirty / --allow-mixed to
override, flagged). --csv (default: RESULTS.csv next to --md) gets every number unrounded;
RUNS.sha256 next to --md the digests of every run.h5 and final checkpoint.
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
from table import caution, data_digests, mean_std, sweep_runs, sha256, write_digests, write_outputs  # noqa: E402

SCRIPT = "cdcca_table.py"
SERIES = ("cd_stage", "cd_rows", "cd_up_rows", "cd_up_bytes", "cd_raw_bytes", "cd_down_share",
          "cd_stage_acc", "cd_avg_acc", "cd_forgetting", "round_ms")
# (key, column title, scale to the shown unit, unit after the number)
MEASURES = (("avg_acc", "avg acc (%)", 100), ("final_acc", "final acc (%)", 100),
            ("forgetting", "forgetting (points)", 100), ("up_share", "uplink (% of raw data)", 100),
            ("rows_share", "rows up (%)", 100), ("down_share", "downlink (% of fp32 student)", 100),
            ("round_ms", "round time (ms, median)", 1))
# The captions study's columns.
CAP_MEASURES = (("avg_acc", "avg acc (%)", 100), ("bleu1", "BLEU-1 (%)", 100), ("bleu4", "BLEU-4 (%)", 100),
                ("up_share", "uplink (% of raw data)", 100), ("rows_share", "rows up (%)", 100))
# The paper's uplink bound (% of the data) and our reading of its "a tiny fraction" of the parameters.
PAPER_UPLINK_PCT = 5.0
TINY_DOWNLINK_PCT = 1.0


def stages_of(r):
    """(S, rounds per stage) from the run's config; exits naming the run when inconsistent."""
    S, R = int(r.config.get("cdcca.stages", 0)), int(r.config.get("rounds", 0))
    if S < 1 or R % S:
        sys.exit(f"error: {SCRIPT}: {r.path}: cdcca.stages={S} and rounds={R}: not a CD-CCA run "
                 "(rounds must be a multiple of the stages)")
    missing = [f"cd_acc_stage{j}" for j in range(1, S + 1) if f"cd_acc_stage{j}" not in r.metrics]
    if missing:
        sys.exit(f"error: {r.path}: /metrics lacks {', '.join(missing)} (cdcca.stages={S})")
    return S, R // S


def measures(r):
    """One run's numbers (fractions; round_ms in ms): MEASURES' keys, plus end[j] (stage j+1 at the
    end of the stream) and diag[j] (stage j+1 when it ended), NaN where not measured."""
    m = r.metrics
    S, rps = stages_of(r)
    last = lambda s: float(m[s][-1])  # noqa: E731 - the last round, measured or not
    end = [last(f"cd_acc_stage{j}") for j in range(1, S + 1)]
    rounds = np.asarray(m["round"])
    diag = []
    for j in range(1, S + 1):
        at = np.flatnonzero(rounds == j * rps)
        diag.append(float(m["cd_stage_acc"][at[0]]) if len(at) else math.nan)
    ratio = lambda a, b: float(m[a].sum() / m[b].sum()) if m[b].sum() > 0 else math.nan  # noqa: E731
    return {"avg_acc": last("cd_avg_acc"), "final_acc": float(np.mean(end)),
            "forgetting": last("cd_forgetting"), "up_share": ratio("cd_up_bytes", "cd_raw_bytes"),
            "rows_share": ratio("cd_up_rows", "cd_rows"), "down_share": float(np.mean(m["cd_down_share"])),
            "round_ms": float(np.median(m["round_ms"])), "end": end, "diag": diag,
            "bleu1": last("cd_avg_bleu1") if "cd_avg_bleu1" in m else math.nan,
            "bleu4": last("cd_avg_bleu4") if "cd_avg_bleu4" in m else math.nan}


def decimals(m, scale):
    """Enough decimals for two significant digits of a small share, at least one."""
    x = abs(m * scale)
    return 1 if x == 0 or x >= 1 else min(4, 1 - math.floor(math.log10(x)))


def fmt(m, s, scale=100.0, digits=None):
    if math.isnan(m):
        return "—"
    d = decimals(m, scale) if digits is None else digits
    return f"{m * scale:.{d}f}" + ("" if math.isnan(s) else f" ± {s * scale:.{d}f}")


class Row:
    """A row's runs (one per seed) and their measures, mean ± std."""

    def __init__(self, study, name, runs):
        self.study, self.name, self.runs = study, name, runs
        self.per_run = [measures(r) for r in runs]
        self.stat = {k: mean_std([x[k] for x in self.per_run]) for k, _, _ in MEASURES + CAP_MEASURES}
        S = max((len(x["end"]) for x in self.per_run), default=0)
        self.S = S
        self.end = [mean_std([x["end"][j] for x in self.per_run if j < len(x["end"])]) for j in range(S)]
        self.diag = [mean_std([x["diag"][j] for x in self.per_run if j < len(x["diag"])]) for j in range(S)]

    def by_seed(self, key):
        return {r.seed: x[key] for r, x in zip(self.runs, self.per_run)}


def paired(a, b, key="avg_acc"):
    """a − b per common seed → (mean, sample std, seeds); NaN where no seed is common."""
    xa, xb = a.by_seed(key), b.by_seed(key)
    seeds = sorted(s for s in xa if s in xb and not math.isnan(xa[s]) and not math.isnan(xb[s]))
    m, s = mean_std([xa[k] - xb[k] for k in seeds])
    return m, s, seeds


def yes(b):
    return "**yes**" if b else "**no**"


def against_paper(sweep, rows):
    """The section's Markdown lines and its claims as CSV rows (every number from rows)."""
    md, out = ["", "## Against the paper", "",
               "Every sentence below is computed from the table's numbers. Accuracy differences are "
               "paired by seed (the same seed gives both rows the same stream, partition and source "
               "model): mean ± sample std over the common seeds of the per-seed difference of the "
               "average accuracy, in points; a difference *exceeds the spread* when its absolute "
               "mean is larger than that std.", ""], []
    ref = rows.get(sweep.REFERENCE)

    def claim(name, value, spread, agree, text):
        out.append({"study": "paper", "row": name, "value": value, "spread": spread,
                    "agree": "" if agree is None else bool(agree)})
        md.append(f"- {text}")

    if ref is None or not ref.runs:
        return md + [f"- No runs of the {sweep.REFERENCE} row yet: nothing to compare."], out
    for b in sweep.BASELINES:
        row = rows.get(b)
        if row is None or not row.runs:
            claim(f"{sweep.REFERENCE} − {b}", math.nan, math.nan, None,
                  f"{sweep.REFERENCE} − {b}: no runs of {b} yet.")
            continue
        d, s, seeds = paired(ref, row)
        if math.isnan(d):
            claim(f"{sweep.REFERENCE} − {b}", d, s, None, f"{sweep.REFERENCE} − {b}: no common seed.")
            continue
        beyond = not math.isnan(s) and abs(d) > s
        agree = d > 0 and beyond
        sp = "no spread (one seed)" if math.isnan(s) else f"± {s * 100:.1f}"
        claim(f"{sweep.REFERENCE} − {b}", d, s, agree,
              f"{sweep.REFERENCE} − {b}: **{d * 100:+.1f}** points average accuracy ({sp}; seeds "
              f"{', '.join(map(str, seeds))}); exceeds the spread: {yes(beyond)}. The paper: "
              f"{sweep.REFERENCE} above {b}" + (" by a few points" if b != "Source-only" else "") +
              f"; agrees (above, beyond the spread): {yes(agree)}.")
    up = ref.stat["up_share"][0] * 100
    if not math.isnan(up):
        full = rows.get("Full uplink (no UTS)")
        fu = full.stat["up_share"][0] * 100 if full and full.runs else math.nan
        claim("uplink % of raw data", up / 100, ref.stat["up_share"][1], up < PAPER_UPLINK_PCT,
              f"Uplink: {sweep.REFERENCE} sends **{up:.{decimals(up / 100, 100)}f} %** of the bytes of "
              f"the stream rows its devices read ({ref.stat['rows_share'][0] * 100:.1f} % of the rows)" +
              ("" if math.isnan(fu) else f"; every row with every token (no UTS): {fu:.{decimals(fu / 100, 100)}f} %") +
              f". The paper: < {PAPER_UPLINK_PCT:g} % of the data; agrees: {yes(up < PAPER_UPLINK_PCT)}.")
    dn = ref.stat["down_share"][0] * 100
    if not math.isnan(dn):
        full = rows.get("Full downlink (no DWC)")
        fd = full.stat["down_share"][0] * 100 if full and full.runs else math.nan
        cut = "" if math.isnan(fd) or fd == 0 else f", {dn / fd * 100:.1f} % of what the fp32 adapters need"
        claim("downlink % of fp32 student", dn / 100, ref.stat["down_share"][1], dn < TINY_DOWNLINK_PCT,
              f"Downlink: {sweep.REFERENCE} sends **{dn:.{decimals(dn / 100, 100)}f} %** of the fp32 "
              f"student per round" +
              ("" if math.isnan(fd) else f" (no DWC, the adapters in fp32: {fd:.{decimals(fd / 100, 100)}f} %{cut})") +
              f". The paper: a tiny fraction of the parameters (read here as < {TINY_DOWNLINK_PCT:g} %); "
              f"agrees: {yes(dn < TINY_DOWNLINK_PCT)}.")
    cref = rows.get(sweep.REFERENCE + sweep.CAPTION_SUFFIX)
    for b in sweep.BASELINES:
        row = rows.get(b + sweep.CAPTION_SUFFIX)
        if cref is None or row is None or not cref.runs or not row.runs:
            continue
        d, sd, seeds = paired(cref, row, "bleu4")
        if math.isnan(d):
            continue
        beyond = not math.isnan(sd) and abs(d) > sd
        sp = "no spread (one seed)" if math.isnan(sd) else f"± {sd * 100:.2f}"
        claim(f"captions: {sweep.REFERENCE} − {b} BLEU-4", d, sd, d > 0 and beyond,
              f"Captions: {sweep.REFERENCE} − {b}: **{d * 100:+.2f}** points BLEU-4 ({sp}; seeds "
              f"{', '.join(map(str, seeds))}); exceeds the spread: {yes(beyond)}. The paper: "
              f"{sweep.REFERENCE}'s captions score higher; agrees (above, beyond the spread): "
              f"{yes(d > 0 and beyond)}.")
    masks = [(r, rows[n]) for n, r in sweep.MASK_ROWS.items() if n in rows and rows[n].runs
             and not math.isnan(rows[n].stat["avg_acc"][0])]
    if len(masks) > 1:
        top = max(x.stat["avg_acc"][0] for _, x in masks)
        best = [(r, x) for r, x in masks if x.stat["avg_acc"][0] == top]  # ties: all of them
        parts = ", ".join(f"r = {r}: {x.stat['avg_acc'][0] * 100:.1f} %" for r, x in masks)
        agree = any(r == sweep.DEFAULT_MASK for r, _ in best)
        txt = (f"Mask ratio: average accuracy {parts}; best **{' and '.join(f'r = {r}' for r, _ in best)}**"
               f"{' (a tie)' if len(best) > 1 else ''}. The paper: r = {sweep.DEFAULT_MASK} best; agrees: "
               f"{yes(agree)}.")
        if not agree:
            d, s, _ = paired(best[0][1], rows[sweep.REFERENCE])
            beyond = not math.isnan(s) and abs(d) > s
            txt += (f" r = {best[0][0]} − r = {sweep.DEFAULT_MASK}: {d * 100:+.1f} points"
                    f"{'' if math.isnan(s) else f' ± {s * 100:.1f}'}; exceeds the spread: {yes(beyond)}.")
        claim("best mask ratio", float(best[0][0]), math.nan, agree, txt)
    else:
        claim("best mask ratio", math.nan, math.nan, None, "Mask ratio: fewer than two mask rows with runs yet.")
    ku = rows.get(sweep.KEEP_UNCERTAIN)
    if ku is not None and ku.runs:
        d, s, seeds = paired(ref, ku)
        beyond = not math.isnan(s) and abs(d) > s
        sp = "" if math.isnan(s) else f" ± {s * 100:.1f}"
        claim("keep certain − keep uncertain", d, s, None,
              f"Keep certain (the released code: the most uncertain tokens masked) − keep uncertain "
              f"(the paper's reading: the least uncertain masked): **{d * 100:+.1f}** points{sp}; "
              f"better: **{'keep certain' if d > 0 else 'keep uncertain' if d < 0 else 'neither (equal)'}**; exceeds the spread: {yes(beyond)}. (The paper "
              "states no comparison of the two.)")
    else:
        claim("keep certain − keep uncertain", math.nan, math.nan, None,
              "Keep certain vs keep uncertain: no runs of the keep-uncertain row yet.")
    return md, out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--manifest", required=True, help="jobs/cdcca/sweep.txt")
    ap.add_argument("--sweep", default="jobs/cdcca/gen_sweep.py", help="its generator (the rows)")
    ap.add_argument("--md", help="also write the Markdown here (and stages.png, RUNS.sha256 next to it)")
    ap.add_argument("--csv", help="every number, unrounded [RESULTS.csv next to --md]")
    rf.add_provenance_args(ap)
    a = ap.parse_args()
    sweep, gen, lines, dirs, have, missing, runs, marks = sweep_runs(a, "cdcca_sweep", SERIES, SCRIPT)
    by = {}
    for g, r in have:
        by.setdefault((g[0], g[1]), []).append(r)
    # Every row of the generator's dicts, with or without runs (a smaller manifest: "no runs").
    caps = [n + sweep.CAPTION_SUFFIX for n in sweep.CAPTION_METHODS]
    order = ([("method", n) for n in sweep.METHODS] + [("ablation", n) for n in sweep.ABLATIONS] +
             [("captions", n) for n in caps])
    rows = {name: Row(study, name, by.get((study, name), [])) for study, name in order}
    out_csv = []

    # ---- the header: what, on which rows, from which build and files ----
    r0 = runs[0]
    S, rps = stages_of(r0)
    c = r0.config
    commits = sorted({r.git_commit for r in runs})
    bases = sorted({str(r.meta.get("model_sha256") or "unknown") for r in runs})
    teachers = sorted({str(r.config.get("cdcca.teacher", "")) for r in runs})
    t_dig = [f"`{t}` sha256 {sha256(t)[:16]}… (the file now at that path: run files do not record it)"
             if os.path.exists(t) else f"`{t}` (not found here)" for t in teachers]
    n_eval = test_rows(r0)
    md = ["# CD-CCA: cloud-device continual adaptation of the multimodal LLM on a shifting stream", ""]
    md += caution(runs, marks)
    md += [f"Generated by `{' '.join(['analysis/' + SCRIPT] + [shlex.quote(x) for x in sys.argv[1:]])}` from "
           f"{len(runs)} run files of `{a.manifest}` (made by `make cdcca-table`), mmcollab commit "
           f"{', '.join(x[:12] for x in commits)}. Data: " +
           "; ".join(f"{ds} sha256 {', '.join(d[:16] for d in v)}…" for ds, v in data_digests(runs).items()) +
           f". Base model `{c.get('mllm.base', '?')}` sha256 {', '.join(b[:16] for b in bases)}…; teacher " +
           "; ".join(t_dig) + ". Digests of every run file and final checkpoint: RUNS.sha256.", "",
           f"The stream (`{lines[0].split()[0]}`): {c.get('parties', '?')} devices, {S} shift stages of {rps} "
           f"rounds, {c.get('cdcca.chunk', '?')} unlabelled stream rows per device and round; the devices' "
           f"frozen weights in {c.get('cdcca.quant', '?')}. Accuracy: after each stage, every device "
           "answers its own rows of the test split under each stage's shift so far "
           f"({n_eval}); a stage's accuracy is the mean over devices. Mean ± sample std over seeds "
           f"{', '.join(sorted({str(r.seed) for r in runs}))}. Round time: wall time, which depends on what shared the "
           "machine (`make cdcca-table` runs two at a time on 2 cores)."]
    if missing:
        md += ["", f"**{len(missing)} of {len(dirs)} runs have no run file yet** (first: `{missing[0]}`)."]

    def table(names, label=None, meas=MEASURES):
        t = ["| row | seeds | " + " | ".join(t for _, t, _ in meas) + " |", "|---|---|" + "---|" * len(meas)]
        for n in names:
            row = rows[n]
            if not row.runs:
                t.append(f"| {label.get(n, n) if label else n} | no runs |" + " |" * len(meas))
                continue
            cells = [fmt(*row.stat[k], scale=sc, digits=1 if k in ("avg_acc", "final_acc", "forgetting") else
                         0 if k == "round_ms" else 2 if k.startswith("bleu") else None) for k, _, sc in meas]
            seeds = ",".join(str(r.seed) for r in row.runs)
            t.append(f"| {label.get(n, n) if label else n} | {seeds} | " + " | ".join(cells) + " |")
        return t

    md += ["", "## Methods", "",
           "avg acc: the mean over stages of each stage's accuracy when it ended (`cd_avg_acc`); final "
           "acc: every stage's accuracy at the end of the stream, averaged (`cd_acc_stage1..S`); "
           "forgetting: the mean drop of the earlier stages from their best accuracy (`cd_forgetting`); "
           "uplink: the bytes sent up over the bytes of the stream rows read (`cd_up_bytes` / "
           "`cd_raw_bytes`, summed over the run); rows up: the share of the rows read that were "
           "uploaded; downlink: the bytes sent down per round over the fp32 student's bytes, every "
           "device (`cd_down_share`, mean over rounds). Source-only, TENT and CoTTA-lite never send.", ""]
    md += table(list(sweep.METHODS))
    abl = [sweep.REFERENCE] + list(sweep.ABLATIONS)
    md += ["", f"## Ablations ({sweep.REFERENCE} with one change)", "",
           f"The first row is {sweep.REFERENCE} itself (r = {sweep.DEFAULT_MASK}, the most uncertain tokens "
           "masked: the released code), the same runs as above.", ""]
    md += table(abl, {sweep.REFERENCE: f"{sweep.REFERENCE} (r = {sweep.DEFAULT_MASK}, keep certain)"})
    md += ["", "## Captions (the free-form task)", "",
           f"The method rows on a stream where {float(sweep.CAPTION_SHARE) * 100:g} % of the rows with an "
           "image or audio ask for a caption (`--cdcca.captions`) instead of the multiple-choice "
           "question, on the stream, the test rows and the source tuning. A device captions greedily; "
           "its confidence is the product of the generated tokens' largest probabilities, and an "
           "uncertain caption row goes up like a question row; the teacher captions it on the cloud "
           "and the device's copy trains on that caption. BLEU-1 and BLEU-4 (corpus BLEU with Chen "
           "& Cherry's smoothing method 1, on words) of each stage's test captions against every "
           "caption template of the row's modalities, averaged over the stages when each ended "
           "(`cd_avg_bleu1`, `cd_avg_bleu4`); avg acc: the multiple-choice test rows, as above.", ""]
    md += table(caps, meas=CAP_MEASURES)
    for n in list(sweep.METHODS) + list(sweep.ABLATIONS) + caps:
        row = rows[n]
        rec = {"study": row.study, "row": n, "n": len(row.runs), "seeds": " ".join(str(r.seed) for r in row.runs),
               "commits": " ".join(sorted({r.git_commit for r in row.runs})),
               "provenance": rf.provenance_mark(row.runs, marks) if row.runs else ""}
        for k, _, _ in MEASURES + CAP_MEASURES[1:3]:
            rec[k + "_mean"], rec[k + "_std"] = row.stat[k]
        for j in range(row.S):
            rec[f"stage{j + 1}_end_mean"], rec[f"stage{j + 1}_end_std"] = row.end[j]
            rec[f"stage{j + 1}_when_ended_mean"], rec[f"stage{j + 1}_when_ended_std"] = row.diag[j]
        out_csv.append(rec)

    # ---- per stage ----
    md += ["", "## Accuracy per stage", "",
           "Each stage's accuracy (%) at the end of the stream (`cd_acc_stageJ` of the last round) and, "
           "below it, when the stage ended (`cd_stage_acc` of its last round: the diagonal that avg acc "
           "averages). A stage's drop from the second number to the first is what the stream made the "
           "devices forget.", "",
           "| row | " + " | ".join(f"stage {j}" for j in range(1, S + 1)) + " |", "|---|" + "---|" * S]
    for n in sweep.METHODS:
        row = rows[n]
        if not row.runs:
            md.append(f"| {n} | no runs |" + " |" * (S - 1))
            continue
        cells = [f"{fmt(*row.end[j], digits=1)}<br><sub>{fmt(*row.diag[j], digits=1)}</sub>"
                 if j < row.S else "—" for j in range(S)]
        md.append(f"| {n} | " + " | ".join(cells) + " |")

    pmd, pcsv = against_paper(sweep, rows)
    md += pmd
    out_csv += pcsv

    if a.md:
        os.makedirs(os.path.dirname(a.md) or ".", exist_ok=True)
        plot(os.path.join(os.path.dirname(a.md), "stages.png"), [rows[n] for n in sweep.METHODS], S)
        md += ["", "![accuracy per stage](stages.png)"]
        write_digests(os.path.join(os.path.dirname(a.md), "RUNS.sha256"), runs)
    write_outputs(md, out_csv, a.md, a.csv)


def test_rows(r):
    """"N test rows per device" from the run's /meta/partition (eval_offsets), or "" when absent."""
    import h5py

    with h5py.File(r.path, "r") as f:
        if "meta/partition/eval_offsets" not in f:
            return "test rows per device not recorded"
        n = np.diff(f["meta/partition/eval_offsets"][()])
    return (f"{int(n[0])} test rows per device" if len(set(n.tolist())) == 1 else
            f"{int(n.min())} to {int(n.max())} test rows per device")


def plot(png, rows, S):
    """Accuracy per stage at the end of the stream and when each stage ended, per method row."""
    plt = rf.pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
    x = np.arange(1, S + 1)
    shown = [r for r in rows if r.runs]
    for ax, what, title in ((axes[0], "end", "at the end of the stream"),
                            (axes[1], "diag", "when the stage ended")):
        for i, row in enumerate(shown):
            v = getattr(row, what)
            m = np.array([v[j][0] if j < len(v) else np.nan for j in range(S)]) * 100
            s = np.nan_to_num(np.array([v[j][1] if j < len(v) else np.nan for j in range(S)]) * 100)
            # a small sideways offset per row so that the error bars do not hide each other
            ax.errorbar(x + (i - (len(shown) - 1) / 2) * 0.04, m, yerr=s, marker="o", capsize=3, label=row.name)
        ax.set_xticks(x)
        ax.set_xlabel("stage")
        ax.set_title(f"accuracy per stage, {title}", fontsize=10)
    axes[0].set_ylabel("accuracy (%), mean ± std over seeds")
    axes[1].legend(fontsize=8, loc="best")
    fig.tight_layout()
    fig.savefig(png, dpi=110)
    plt.close(fig)


if __name__ == "__main__":
    main()
