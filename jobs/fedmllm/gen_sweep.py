#!/usr/bin/python3
"""Writes the FedMLLM table's manifests (issue 12; analysis/fedmllm_table.py) to stdout.

    jobs/fedmllm/gen_sweep.py > jobs/fedmllm/sweep.txt                  # the full table
    jobs/fedmllm/gen_sweep.py --quick > jobs/fedmllm/sweep_quick.txt    # one seed, one setting per family

A line is `jobs/fedmllm/<task>.cfg --config=jobs/fedmllm/<setting>.cfg --method=M [strategy] --seed=S`.
The task config holds everything about the model and the data (switching the development model to
the MLLM is an edit of items.cfg and memes.cfg, not of this file); the setting config holds only its
--scenario preset: the presets fedmllm-cross3:7 etc. contain a colon, which a run name
(slurm/manifest.sh) may not, so the scenario cannot go on the line. mmcollab reads both files in
order (the later wins; the keys do not overlap). --seed sets every stream: split and training.

analysis/fedmllm_table.py imports ROWS from here: a row's name and its options live only here.
"""
import sys

TASKS = ["items", "memes"]  # items.cfg: AV-FashionMNIST 10-way, R = 40; memes.cfg: binary, R = 25
# The 12 presets of src/data/scenario_config.c as config-file names (":" -> "-").
SETTINGS = ["alpha5", "alpha1", "alpha0.5", "missing0.3", "missing0.4", "missing0.5",
            "cross3-7", "cross5-5", "cross7-3", "hybrid0.8", "hybrid0.7", "hybrid0.6"]
QUICK_SETTINGS = ["alpha0.5", "missing0.5", "cross5-5", "hybrid0.7"]  # one per family
SEEDS, QUICK_SEEDS = (1, 2, 3), (1,)

# The layer-selective proximal term's switch (the option name may still change: only here).
LSPROX = "--prox=adaptive"
# The adaptive rules' server learning rate, chosen on validation rows (jobs/sweeps/fedmllm_lr.md:
# 1e-2 beat FedMLLM's 1e-3 and diverged at 3e-2 and 1e-1 for fedadam); one eta for the three, as
# FedMLLM's single fedopt_eta.
ETA = "0.01"
# Row name -> the line's options. The two strategies are fedadam with the strategy switched on.
ROWS = {
    "fedavg": "--method=fedavg",
    "fedprox": "--method=fedprox",
    "fedavgm": "--method=fedavgm",
    "fedadagrad": f"--method=fedadagrad --fedadagrad.eta={ETA}",
    "fedadam": f"--method=fedadam --fedadam.eta={ETA}",
    "fedyogi": f"--method=fedyogi --fedyogi.eta={ETA}",
    "local": "--method=local",
    "zeroshot": "--method=zeroshot",
    "centralized": "--method=centralized",
    "fedadam+aug": f"--method=fedadam --fedadam.eta={ETA} --mllm.prompt=augmented",
    "fedadam+lsprox": f"--method=fedadam --fedadam.eta={ETA} " + LSPROX,
}
STRATEGIES = ["fedadam+aug", "fedadam+lsprox"]
# The strategies target modality heterogeneity: in the full table they run on the nine missing,
# cross-modal and hybrid settings, not on the three label-skew-only ones (which also keeps the full
# table within 3 hours); the quick table runs them everywhere it goes.
STRATEGY_SETTINGS = [s for s in SETTINGS if not s.startswith("alpha")]
# The centralized upper bound trains on every party's rows each round; it gets a fifth of the
# rounds, so that it takes as many training steps as a federation sampling 2 of 10 parties.
TASK_ROUNDS = {"items": 40, "memes": 25}
CENTRAL_SHARE = 5
# Methods that train nothing: their runs take a fraction of a training run.
UNTRAINED = ["zeroshot"]

# The time model of the header: seconds per training run, per untrained run, runs at a time.
RUN_S, UNTRAINED_S, PARALLEL = 30, 5, 2


def lines(quick):
    """[(task, setting, row, seed, line)] in manifest order."""
    settings, seeds = (QUICK_SETTINGS, QUICK_SEEDS) if quick else (SETTINGS, SEEDS)
    out = []
    for t in TASKS:
        for s in settings:
            for row, opts in ROWS.items():
                if row in STRATEGIES and not quick and s not in STRATEGY_SETTINGS:
                    continue
                o = opts
                if row == "centralized":
                    o += f" --rounds={TASK_ROUNDS[t] // CENTRAL_SHARE}"
                for seed in seeds:
                    out.append((t, s, row, seed,
                                f"jobs/fedmllm/{t}.cfg --config=jobs/fedmllm/{s}.cfg {o} --seed={seed}"))
    return out


def estimate(ls):
    """(training runs, untrained runs, hours at PARALLEL runs at a time)."""
    n_u = sum(1 for x in ls if x[2] in UNTRAINED)
    n_t = len(ls) - n_u
    return n_t, n_u, (n_t * RUN_S + n_u * UNTRAINED_S) / PARALLEL / 3600


def main():
    quick = sys.argv[1:] == ["--quick"]
    if sys.argv[1:] and not quick:
        sys.exit("usage: jobs/fedmllm/gen_sweep.py [--quick] > MANIFEST")
    ls = lines(quick)
    n_t, n_u, h = estimate(ls)
    name = "sweep_quick.txt" if quick else "sweep.txt"
    settings, seeds = (QUICK_SETTINGS, QUICK_SEEDS) if quick else (SETTINGS, SEEDS)
    what = (f"{len(settings)} settings (one per family) x {len(ROWS)} rows x seed 1 x {len(TASKS)} tasks"
            if quick else
            f"{len(TASKS)} tasks x 12 settings x {len(ROWS) - len(STRATEGIES)} methods x seeds 1-3 + "
            f"{len(STRATEGIES)} strategy rows x {len(STRATEGY_SETTINGS)} settings x seeds 1-3")
    print(f"""# {name} - the FedMLLM table (issue 12): {what}
# = {len(ls)} runs ({n_t} training runs, {n_u} of {", ".join(UNTRAINED)}, which trains nothing).
# Estimated time: {n_t} x {RUN_S} s + {n_u} x {UNTRAINED_S} s at {PARALLEL} runs at a time = {h:.2f} h on 2 cores.
# Generated by jobs/fedmllm/gen_sweep.py{" --quick" if quick else ""} (edit that, then: jobs/fedmllm/gen_sweep.py{" --quick" if quick else ""} > jobs/fedmllm/{name}).
# One run per line: CONFIG [--key=value ...]; line i (from 0) is array task i.
#   make fedmllm-table{"-quick" if quick else ""}                      (no Slurm: analysis/run_manifest.sh, then the table)
#   slurm/submit_sweep.sh jobs/fedmllm/{name} --throttle 8 -n 3   then the table: analysis/fedmllm_table.py
#     --manifest jobs/fedmllm/{name} --md jobs/fedmllm/RESULTS{"_quick" if quick else ""}.md (or the make goal: nothing left to run)
# Model and data: jobs/fedmllm/items.cfg, memes.cfg; scenario: jobs/fedmllm/<setting>.cfg.
# Rows: {", ".join(ROWS)}.""")
    cur = None
    for t, s, _, _, ln in ls:
        if (t, s) != cur:
            cur = (t, s)
            print(f"\n# {t} · {s}")
        print(ln)


if __name__ == "__main__":
    main()
