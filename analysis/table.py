#!/usr/bin/python3
"""Results table from run files: one row per (method, scenario, dataset), Markdown (and CSV).

    analysis/table.py RUN_DIR... [--md OUT.md] [--csv OUT.csv] [--allow-dirty] [--allow-mixed]

Per run, each at the last round it was measured (--eval-every): under the global protocol the
shared model's accuracy on the whole evaluation set and its mean over the parties' rows, under the
personal protocol the parties' own models' mean accuracy (docs/architecture.md §2); and the mean over rounds of four byte counts per round:
  payload up/round    payload_up: what a deployment would send parties → cloud, all parties (the
                      tensors' sizes in their stated dtype, no control messages; the same at any -np)
  payload down/round  payload_down: the same, cloud → parties
  MPI sent/round      mpi_bytes_sent: every byte this run passed to MPI since the previous round,
                      summed over ranks, control plane included (round 1 includes the setup)
  MPI recv/round      mpi_bytes_recv: the same, received
MPI bytes measure this simulation, not a deployment: they depend on -np (the parties of one rank
share its messages) and vary between runs of one config; a row whose runs differ in world size is
warned about on stderr. Per row: the mean ± sample std (ddof=1) of those over the row's runs
(seeds); seeds = runs in the row; rounds = rounds per run. "—" = never measured (global test
accuracy of method local). The Markdown goes to stdout, and to --md; --csv writes the same numbers
unrounded (columns <series>_mean, <series>_std). Run files from before payload_*/mpi_bytes_* are
refused, naming the file.

Provenance: every run's /meta git_commit and git_dirty are read; runs from a dirty build (or from a
run file that predates those attributes: dirty, commit "unknown") or from more than one commit are
refused with exit 1, naming the run directories and their commits. --allow-dirty / --allow-mixed
tabulate them anyway: the Markdown then opens with a bold WARNING line and the CSV's column
provenance says dirty/mixed per row ("clean" otherwise); column commits lists the row's commits.
Needs Debian's python3-h5py (scripts/deps.sh analysis).
"""
import argparse
import csv
import glob
import hashlib
import math
import os
import re
import shlex
import subprocess
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import runs as rf  # noqa: E402

# The evaluation protocols (docs/architecture.md §2): global = the shared model, on the whole
# evaluation set and on the parties' rows; personal = each party's own model after its training.
ACC = [("test_acc", "global acc (whole set)"), ("party_test_acc_mean", "global acc (parties)"),
       ("personal_test_acc_mean", "personal acc")]
BYTES = [("payload_up", "payload up/round"), ("payload_down", "payload down/round"),
         ("mpi_bytes_sent", "MPI sent/round"), ("mpi_bytes_recv", "MPI recv/round")]


def rows(runs, marks=None):
    """→ list of dicts: method, scenario, dataset, n, seeds, rounds, <series>_mean, <series>_std,
    commits, provenance (runs.provenance_mark against marks, provenance()'s result)."""
    out = []
    groups = rf.group(runs, lambda r: (r.method, r.scenario, r.dataset))
    for (method, scenario, dataset), rs in sorted(groups.items(), key=lambda kv: kv[0][::-1]):
        row = {"method": method, "scenario": scenario, "dataset": dataset, "n": len(rs),
               "seeds": " ".join(str(r.seed) for r in rs),
               "rounds": "/".join(str(x) for x in sorted({r.rounds for r in rs}))}
        sizes = sorted({str(r.meta.get("world_size", "?")) for r in rs})
        if len(sizes) > 1:
            print(f"warning: row {method} {scenario} {dataset}: world sizes {', '.join(sizes)}: "
                  "the MPI bytes columns mix rank layouts", file=sys.stderr)
        for s, _ in ACC:
            row[s + "_mean"], row[s + "_std"] = rf.mean_std([r.final(s) for r in rs])
        for s, _ in BYTES:
            row[s + "_mean"], row[s + "_std"] = rf.mean_std([float(r.metrics[s].mean()) for r in rs])
        row["commits"] = " ".join(sorted({r.git_commit for r in rs}))
        row["provenance"] = rf.provenance_mark(rs, marks or {})
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


def markdown(table, marks=None):
    head = ["method", "scenario", "dataset", "seeds", "rounds"] + [t for _, t in ACC] + [t for _, t in BYTES]
    warn = rf.provenance_warning(marks or {})
    lines = [f"> [!CAUTION]\n> **WARNING: {warn}.**", ""] if warn else []
    lines += ["| " + " | ".join(head) + " |", "|" + "|".join("---" for _ in head) + "|"]
    for r in table:
        cells = [r["method"], r["scenario"], r["dataset"], str(r["n"]), r["rounds"]]
        cells += [fmt_acc(r, s) for s, _ in ACC] + [fmt_bytes(r[s + "_mean"]) for s, _ in BYTES]
        lines.append("| " + " | ".join(cells) + " |")
    lines += ["", "Bytes: mean per round over the run, mean over seeds. payload = what a deployment would send "
              "(all parties; tensors in their stated dtype, no control messages; the same at any -np). "
              "MPI = every byte the run passed to MPI, summed over ranks, control plane and (round 1) "
              "setup included; depends on -np."]
    return "\n".join(lines) + "\n"


# ---- shared by the generated results tables (bomm_table.py, fedmllm_table.py) ----


def payload_bytes(r):
    """Payload bytes per round, up + down, all parties, mean over the run's rounds."""
    return float((r.metrics["payload_up"] + r.metrics["payload_down"]).mean())


def command(script, argv, runs):
    """The command line with the run directories folded into their parent(s): the table is made
    from run files only, and hundreds of paths say less than `runs/bomm/*/`."""
    dirs = {os.path.dirname(os.path.normpath(r.dir)) or "." for r in runs}
    run_args = {os.path.normpath(r.dir) for r in runs} | {os.path.normpath(r.path) for r in runs}
    rest = [a for a in argv[1:] if os.path.normpath(a) not in run_args]
    return " ".join([script] + [shlex.quote(d) + "/*/" for d in sorted(dirs)] +
                    [shlex.quote(a) for a in rest])


def final_checkpoint(r):
    """The run's newest checkpoint (ckpt/round_NNNNNN.h5 with the largest N), or None."""
    cks = glob.glob(os.path.join(r.dir, "ckpt", "round_*.h5"))
    num = [(int(m.group(1)), p) for p in cks for m in [re.search(r"round_(\d+)\.h5$", p)] if m]
    return max(num)[1] if num else None


def sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def digests(runs):
    """sha256sum lines ("<hex>  <path>", paths relative to the current directory) of each run's
    run.h5 and final checkpoint, in run order; warns for a run without a checkpoint."""
    lines = []
    for r in sorted(runs, key=lambda r: r.dir):
        files = [r.path]
        ck = final_checkpoint(r)
        if ck is None:
            print(f"warning: {r.dir}: no checkpoint: RUNS.sha256 lists only its run.h5", file=sys.stderr)
        else:
            files.append(ck)
        lines += [f"{sha256(p)}  {os.path.relpath(p)}" for p in files]
    return "\n".join(lines) + "\n"


def write_digests(path, runs):
    """Writes digests(runs) to path (creating its directory)."""
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        f.write(digests(runs))
    print(f"wrote {path}", file=sys.stderr)


def data_digests(runs):
    """dataset → sorted distinct /meta data_sha256 ("unknown" where a run file lacks it)."""
    out = {}
    for r in runs:
        out.setdefault(r.dataset, set()).add(str(r.meta.get("data_sha256") or "unknown"))
    return {k: sorted(v) for k, v in sorted(out.items())}


def manifest_dirs(path, script):
    """The manifest's run directories (analysis/run_manifest.sh --list), from the current directory;
    exits naming script and the manifest when the runner refuses it."""
    runner = os.path.join(os.path.dirname(os.path.abspath(__file__)), "run_manifest.sh")
    p = subprocess.run([runner, path, "--list"], capture_output=True, text=True)
    if p.returncode:
        sys.exit(f"error: {script}: {path}: {p.stderr.strip()}")
    return p.stdout.split()


def sweep_runs(a, name, series, script):
    """The runs of the manifest a.manifest that the generator a.sweep writes (its lines(): tuples
    ending with the manifest line), checked: exits naming script when the manifest is stale or no
    run has a run file yet; the runs must carry series and pass the provenance rules (a.allow_dirty,
    a.allow_mixed). Returns (the generator module, its lines, the manifest lines, the run
    directories, [(line tuple, run)] of the runs with a file, the missing directories, runs, marks)."""
    sw = load_module(a.sweep, name)
    gen = sw.lines()
    lines = [ln.strip() for ln in open(a.manifest) if ln.strip() and not ln.lstrip().startswith("#")]
    dirs = manifest_dirs(a.manifest, script)
    if [g[-1] for g in gen] != lines:
        sys.exit(f"error: {script}: {a.manifest} is not what {a.sweep} writes: regenerate it "
                 f"({a.sweep} > {a.manifest})")
    have = [(g, d) for g, d in zip(gen, dirs) if os.path.exists(os.path.join(d, "run.h5"))]
    missing = [d for d in dirs if not os.path.exists(os.path.join(d, "run.h5"))]
    if not have:
        sys.exit(f"error: {script}: none of the {len(dirs)} runs of {a.manifest} has a run file yet")
    runs = rf.load_all([d for _, d in have])
    rf.require(runs, series, script)
    marks = rf.provenance(runs, script, a.allow_dirty, a.allow_mixed)
    return sw, gen, lines, dirs, [(g, r) for (g, _), r in zip(have, runs)], missing, runs, marks


def caution(runs, marks):
    """The CAUTION block a generated table opens with (a list of Markdown lines, empty when every run
    is from one clean commit and each dataset has one digest): provenance() allowed problems, and
    datasets read with different data_sha256."""
    warn = rf.provenance_warning(marks)
    multi = [ds for ds, v in data_digests(runs).items() if len(v) > 1]
    if not (warn or multi):
        return []
    lines = ["> [!CAUTION]"]
    if warn:
        lines += [f"> **WARNING: {warn}.**"]
    if multi:
        lines += [f"> **WARNING: the runs of {', '.join(multi)} read data files with different "
                  "digests (data_sha256 below).**"]
    return lines + [""]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("runs", nargs="+", metavar="RUN_DIR", help="run directories (or run.h5 files)")
    ap.add_argument("--md", help="also write the Markdown table here")
    ap.add_argument("--csv", help="write the table as CSV (full precision) here")
    rf.add_provenance_args(ap)
    a = ap.parse_args()
    runs = rf.load_all(a.runs)
    rf.require(runs, [s for s, _ in BYTES], "table.py")
    marks = rf.provenance(runs, "table.py", a.allow_dirty, a.allow_mixed)
    table = rows(runs, marks)
    md = markdown(table, marks)
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


def load_module(path, name):
    """The Python file at path as module name (a sweep generator whose dicts name a table's rows)."""
    import importlib.util
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def mean_std(values):
    """(mean, sample std) of the non-NaN values; std NaN for fewer than 2, both NaN for none."""
    import numpy as np
    v = np.array([x for x in values if not math.isnan(x)], dtype=float)
    if not len(v):
        return math.nan, math.nan
    return float(v.mean()), float(v.std(ddof=1)) if len(v) > 1 else math.nan


def write_outputs(md, out_csv, md_path, csv_path):
    """The Markdown lines md to stdout and to md_path (when given); the rows out_csv (dicts, floats
    unrounded as repr) to csv_path, else to RESULTS.csv beside md_path (when either is given)."""
    text = "\n".join(md) + "\n"
    sys.stdout.write(text)
    if md_path:
        with open(md_path, "w") as f:
            f.write(text)
    csv_path = csv_path or (os.path.splitext(md_path)[0] + ".csv" if md_path else None)
    if csv_path:
        keys = []
        for row in out_csv:
            keys += [k for k in row if k not in keys]
        with open(csv_path, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=keys)
            w.writeheader()
            for row in out_csv:
                w.writerow({k: repr(v) if isinstance(v, float) else v for k, v in row.items()})


if __name__ == "__main__":
    main()
