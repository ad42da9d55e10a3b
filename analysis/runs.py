"""Reads mmcollab run files (runs/<name>/run.h5, src/io/runfile.h): the shared loader of analysis/.

    import runs
    r = runs.load("runs/fedavg_s1")      # a run directory or its run.h5
    r.config["lr"], r.meta["world_size"], r.metrics["test_acc"]  # numpy arrays, NaN = not measured
    r.method_options()                   # {"gpa": 0} for --method=bomm --bomm.gpa=0

Scripts call runs.load_all(paths), which exits with a message naming the file on the first path
that is not a run file. Only run.h5 is read: never logs, never metrics.csv.
"""
import os
import sys
import warnings

import numpy as np

SCHEMA = 1  # RUNFILE_SCHEMA in src/io/runfile.h
# The series the scripts read (src/fl: every method records all of them, NaN where not measured).
# Two kinds of bytes (src/comm/comm.h): payload_up/_down = what a deployment would send per round,
# all parties (the tensors' sizes in their stated dtype, no control messages; identical at any
# -np); mpi_bytes_sent/_recv = everything the run passed to MPI since the previous round's record,
# summed over ranks, control plane included (round 1 includes the setup; depends on the rank
# layout, varies between runs).
BYTE_SERIES = ("payload_up", "payload_down", "mpi_bytes_sent", "mpi_bytes_recv")
SERIES = ("round", "train_loss", "test_acc", "party_test_acc_mean") + BYTE_SERIES + ("round_ms",)
# Run files written before mmcollab c8810f6 have, instead of BYTE_SERIES, bytes_up/bytes_down
# (logical bytes: equal to payload_up/_down for most methods, not all) and a copy of them named
# *_wire (not a measurement, never read here). load() accepts them (Run.old_bytes) so that curves,
# scaling and bomm_table still read old runs; table.py and bytes.py need BYTE_SERIES (require()).
OLD_BYTE_SERIES = ("bytes_up", "bytes_down")
# Series only some methods record: the cloud's multimodal large model's test accuracy (bomm, fedmkt).
# Absent from a run file = not measured: final() gives NaN, by_round() a NaN row.
OPTIONAL = ("mm_test_acc",)
# Config keys that do not change what a run computes: runs differing only in these (and the seed)
# are repetitions of one experiment.
BOOKKEEPING = {"out", "config", "seed", "resume", "stop-after", "log-level", "ckpt-every", "ckpt-keep",
               "seed.split", "seed.init", "seed.train", "seed.sample", "blas-threads"}
# The seed streams (--seed.<stream>, default -1 = --seed). seed.split picks the data partition; the
# others (init, train, sample) are the training seeds.
TRAIN_STREAMS = ("seed.init", "seed.train", "seed.sample")
# The evaluation protocols (docs/methods.md): the series each reads, as (accuracy, macro-F1, AUC).
# global = the shared model on each party's evaluation rows (mean over parties); personal = each
# party's own model after its final local training (NaN before the final round; method local has
# only these). test_acc (the shared model on the whole evaluation split) goes with global.
PROTOCOLS = {
    "global": ("party_test_acc_mean", "party_test_macro_f1_mean", "party_test_auc_mean"),
    "personal": ("personal_test_acc_mean", "personal_test_macro_f1_mean", "personal_test_auc_mean"),
}


class RunFileError(Exception):
    pass


def _py(v):
    """An HDF5 attribute value as a plain Python str/int/float."""
    if isinstance(v, bytes):
        return v.decode()
    if isinstance(v, np.generic):
        return v.item()
    return v


class Run:
    """One run: dir, path, config, meta (dicts of str/int/float), metrics (name → ndarray; (R) or
    (R, parties)), varies (names of the series that may differ between runs of one config: round_ms
    and mpi_bytes_*; from each dataset's attribute varies, or timing in older run files), defaults
    (option → default text, from /defaults; None for run files written before it existed),
    old_bytes (True: a run file from before payload_*/mpi_bytes_*, with bytes_up/bytes_down)."""

    def __init__(self, path, config, meta, metrics, varies, defaults=None, old_bytes=False):
        self.path = path
        self.dir = os.path.dirname(path)
        self.name = os.path.basename(os.path.normpath(self.dir)) or path
        self.config, self.meta, self.metrics, self.varies = config, meta, metrics, varies
        self.defaults = defaults
        self.old_bytes = old_bytes

    @property
    def timing(self):
        """The old name of varies."""
        return self.varies

    @property
    def method(self):
        return self.meta.get("method") or self.config.get("method", "?")

    @property
    def seed(self):
        return self.config.get("seed")

    @property
    def split_seed(self):
        """The seed of the data partition: --seed.split, or --seed where it is -1 or (run files from
        before the seed streams) absent."""
        v = self.config.get("seed.split", -1)
        return self.seed if v is None or int(v) < 0 else int(v)

    @property
    def train_seed(self):
        """The training seed: --seed, or "<seed>/<init>/<train>/<sample>" when a training stream
        is set apart from it (--seed.init, --seed.train, --seed.sample)."""
        vals = [self.config.get(k, -1) for k in TRAIN_STREAMS]
        eff = [self.seed if v is None or int(v) < 0 else int(v) for v in vals]
        return str(self.seed) if all(e == self.seed for e in eff) else "/".join(map(str, [self.seed] + eff))

    @property
    def git_commit(self):
        """/meta git_commit (40 hex digits, "unknown" outside git); "unknown" in run files written
        before it existed."""
        return str(self.meta.get("git_commit") or "unknown")

    @property
    def git_dirty(self):
        """/meta git_dirty as a bool; True (unknown counts as dirty) in run files without it."""
        v = self.meta.get("git_dirty")
        return True if v is None else bool(int(v))

    @property
    def scenario(self):
        """The preset, with its non-empty overrides: 'bomm-random[alpha=0.1]'."""
        over = [f"{k[9:]}={v}" for k, v in sorted(self.config.items())
                if k.startswith("scenario.") and v != ""]
        return self.config.get("scenario", "?") + (f"[{','.join(over)}]" if over else "")

    @property
    def dataset(self):
        base = os.path.basename(str(self.config.get("data", "?")))
        return base[:-3] if base.endswith(".h5") else base

    @property
    def rounds(self):
        return len(self.metrics["round"])

    def final(self, series):
        """The value of a scalar series at its last measured (non-NaN) round; NaN if never measured
        (or not recorded at all: OPTIONAL series)."""
        return last_measured(self.metrics[series]) if series in self.metrics else float("nan")

    def method_options(self):
        """The method's own options (config keys "<method>.<opt>") that differ from their defaults →
        {opt: value}, in key order; None when the run file has no /defaults to compare with."""
        if self.defaults is None:
            return None
        pre = self.method + "."
        return {k[len(pre):]: v for k, v in sorted(self.config.items())
                if k.startswith(pre) and k in self.defaults and not is_default(v, self.defaults[k])}


def is_default(value, text):
    """Whether a /config value equals its default as option-table text ("0.01", "true", "none")."""
    if isinstance(value, str):
        return value == text
    t = text.strip().lower()
    if t in ("true", "yes", "on"):
        t = "1"
    elif t in ("false", "no", "off"):
        t = "0"
    try:
        return float(value) == float(t)
    except ValueError:
        return False


def last_measured(a):
    ok = np.flatnonzero(~np.isnan(a))
    return float(a[ok[-1]]) if len(ok) else float("nan")


def load(path):
    """Loads a run directory (or its run.h5) → Run. Raises RunFileError naming the file."""
    f_path = os.path.join(path, "run.h5") if os.path.isdir(path) else path
    if not os.path.exists(f_path):
        what = "run directory" if os.path.isdir(path) else "run file"
        raise RunFileError(f"{f_path}: no such file: {path} is not a {what} "
                           "(expected runs/<name>/run.h5 written by build/bin/mmcollab)")
    import h5py  # here, so that --help and bad paths answer quickly

    try:
        f = h5py.File(f_path, "r")
    except OSError as e:
        raise RunFileError(f"{f_path}: not an HDF5 file ({e})") from None
    with f:
        schema = f.attrs.get("schema")
        if schema is None or _py(f.attrs.get("program", b"")) != "mmcollab":
            raise RunFileError(f"{f_path}: not an mmcollab run file (no root attributes "
                               "schema and program=mmcollab)")
        if int(schema) != SCHEMA:
            raise RunFileError(f"{f_path}: run file schema {int(schema)}, this reader knows {SCHEMA}")
        for g in ("config", "meta", "metrics"):
            if g not in f:
                raise RunFileError(f"{f_path}: run file without group /{g}")
        config = {k: _py(v) for k, v in f["config"].attrs.items()}
        meta = {k: _py(v) for k, v in f["meta"].attrs.items()}
        metrics, varies = {}, set()
        for k, ds in f["metrics"].items():
            metrics[k] = ds[()] if k == "round" else np.asarray(ds[()], dtype=np.float64)
            flag = ds.attrs.get("varies")
            if flag is None:  # run files before c8810f6 call it timing
                flag = ds.attrs.get("timing", 0)
            if int(flag):
                varies.add(k)
        missing = [k for k in SERIES if k not in metrics]
        old_bytes = (bool(missing) and set(missing) <= set(BYTE_SERIES)
                     and all(k in metrics for k in OLD_BYTE_SERIES))
        if missing and not old_bytes:
            raise RunFileError(f"{f_path}: /metrics lacks {', '.join(missing)}")
        defaults = {k: str(_py(v)) for k, v in f["defaults"].attrs.items()} if "defaults" in f else None
    return Run(f_path, config, meta, metrics, varies, defaults, old_bytes)


def load_all(paths):
    """Loads every path; on the first that is not a run file, prints the reason and exits 1."""
    if not paths:
        sys.exit("error: no run directories given")
    try:
        return [load(p) for p in paths]
    except RunFileError as e:
        sys.exit(f"error: {e}")


def require(runs, series, script):
    """Exits 1 naming the first run whose file lacks one of series (an older run file), for the
    scripts that need series load() does not insist on."""
    for r in runs:
        missing = [k for k in series if k not in r.metrics]
        if missing:
            old = (" (a run file from before mmcollab c8810f6, with the logical bytes_up/bytes_down "
                   "instead)" if r.old_bytes else "")
            sys.exit(f"error: {r.path}: /metrics lacks {', '.join(missing)}{old}; {script} needs "
                     f"{', '.join(series)}")


def provenance(runs, script, allow_dirty=False, allow_mixed=False):
    """The build behind the runs (/meta git_commit, git_dirty): exits 1 naming the run directories
    and their commits when a run comes from a dirty build (or from one that did not record it: run
    files before git_commit count as dirty, commit "unknown") or the runs come from more than one
    commit — unless allow_dirty / allow_mixed. Returns the warnings to print loudly in the table
    (empty list = every run from one clean commit): {"dirty": [runs], "mixed": {commit: [runs]}}
    with only the allowed problems present."""
    dirty = [r for r in runs if r.git_dirty]
    commits = {}
    for r in runs:
        commits.setdefault(r.git_commit, []).append(r)
    errs = []
    if dirty and not allow_dirty:
        errs.append(f"{len(dirty)} of {len(runs)} runs come from a dirty build (or one that did not "
                    "record git_commit/git_dirty: run files before them count as dirty):" +
                    "".join(f"\n  {r.dir} (commit {r.git_commit}, git_dirty "
                            f"{r.meta.get('git_dirty', 'absent')})" for r in dirty) +
                    "\n  commit the code, rebuild and rerun, or pass --allow-dirty (the table is then "
                    "marked DIRTY)")
    if len(commits) > 1 and not allow_mixed:
        main = max(commits, key=lambda c: len(commits[c]))
        errs.append(f"the runs come from {len(commits)} commits ({', '.join(f'{c}: {len(v)} runs' for c, v in commits.items())}); "
                    f"not from the most common one ({main}):" +
                    "".join(f"\n  {r.dir} (commit {c})" for c, v in commits.items() if c != main for r in v) +
                    "\n  rerun them at one commit, or pass --allow-mixed (the table is then marked MIXED)")
    if errs:
        sys.exit("".join(f"error: {script}: {e}\n" for e in errs).rstrip("\n"))
    out = {}
    if dirty:
        out["dirty"] = dirty
    if len(commits) > 1:
        out["mixed"] = commits
    return out


def provenance_warning(marks):
    """The loud line a table opens with when provenance() allowed a problem ("" when clean)."""
    parts = []
    if "dirty" in marks:
        parts.append(f"DIRTY: {len(marks['dirty'])} run(s) from a build with uncommitted changes (or "
                     "one that did not record it); their code is not in any commit (--allow-dirty)")
    if "mixed" in marks:
        parts.append(f"MIXED: the runs come from {len(marks['mixed'])} commits "
                     f"({', '.join(c[:12] for c in marks['mixed'])}) (--allow-mixed)")
    return "; ".join(parts)


def provenance_mark(rs, marks):
    """The CSV column provenance for a row of runs rs: "clean", or "dirty" (a run of the row is
    dirty) and/or "mixed" (the table's runs come from several commits), space-separated."""
    m = (["dirty"] if any(r.git_dirty for r in rs) and "dirty" in marks else []) + \
        (["mixed"] if "mixed" in marks else [])
    return " ".join(m) or "clean"


def add_provenance_args(ap):
    ap.add_argument("--allow-dirty", action="store_true",
                    help="tabulate runs from a dirty build (git_dirty = 1, or not recorded) anyway; "
                    "the table says DIRTY at the top and in the CSV column provenance")
    ap.add_argument("--allow-mixed", action="store_true",
                    help="tabulate runs from more than one commit anyway; the table says MIXED")


def group(runs, key):
    """Runs grouped by key(run), in order of first appearance → {key: [Run...]}. Warns on stderr
    when a group holds two runs with one seed or runs whose configs differ beyond the seed."""
    groups = {}
    for r in runs:
        groups.setdefault(key(r), []).append(r)
    for k, rs in groups.items():
        seeds = [(r.train_seed, r.split_seed) for r in rs]
        if len(set(seeds)) != len(seeds):
            print(f"warning: group {k}: repeated seeds {seeds}", file=sys.stderr)
        keys = set().union(*(r.config for r in rs)) - BOOKKEEPING
        differ = sorted(x for x in keys if len({str(r.config.get(x)) for r in rs}) > 1)
        if differ:
            print(f"warning: group {k}: runs differ in {', '.join(differ)}", file=sys.stderr)
    return groups


def by_round(rs, series):
    """Aligns a scalar series of several runs on round number → (rounds, values (n_runs, R)),
    NaN where a run has no such round or did not measure it (or does not record the series)."""
    rounds = np.unique(np.concatenate([r.metrics["round"] for r in rs]))
    out = np.full((len(rs), len(rounds)), np.nan)
    for i, r in enumerate(rs):
        if series in r.metrics:
            out[i, np.searchsorted(rounds, r.metrics["round"])] = r.metrics[series]
    return rounds, out


def mean_std(x, axis=0):
    """NaN-ignoring mean and sample std (ddof=1; 0 for a single value) along axis."""
    x = np.asarray(x, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN columns stay NaN
        n = np.sum(~np.isnan(x), axis=axis)
        m = np.nanmean(x, axis=axis)
        s = np.where(n > 1, np.nanstd(x, axis=axis, ddof=1), 0.0)
    return m, s


def pyplot():
    """matplotlib.pyplot on the Agg backend, imported only when a script draws (the import costs
    about a second; --help and bad paths answer without it)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt


def group_key(runs):
    """The grouping used by the plots: by method, plus scenario and dataset where the given runs
    differ in them. Returns key(run) → a label string."""
    vary = [f for f in ("scenario", "dataset") if len({getattr(r, f) for r in runs}) > 1]
    return lambda r: " ".join([r.method] + [getattr(r, f) for f in vary])
