#!/usr/bin/env bash
# submit_sweep.sh MANIFEST [--throttle N] [sbatch options for the tasks...] - from the repository root:
# submits slurm/sweep.sbatch as a job array with one task per run line of MANIFEST (at most N running
# at once: --array=0-K%N), then slurm/summary.sbatch with --dependency=afterok on the whole array.
# Everything lands in runs/<manifest name>/: one directory per run, slurm-<array>_<task>.out, and
# summary.md once every task has succeeded (a failed task cancels the summary job).
# Prints `array=<id> summary=<id> dir=<dir>`.
#   slurm/submit_sweep.sh jobs/sweeps/methods.txt --throttle 4 -n 5
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,8s/^# \{0,1\}//p' "$0" >&2; exit 2; }
manifest=$1; shift
throttle=""
if [ "${1:-}" = --throttle ]; then throttle=%${2:?--throttle N}; shift 2; fi
. "$(dirname "$0")/manifest.sh"
manifest_check "$manifest" || { echo "submit_sweep.sh: fix $manifest (run names must be unique)" >&2; exit 2; }
n=$(manifest_lines "$manifest" | wc -l)
dir=$(manifest_dir "$manifest")
mkdir -p "$dir"
ar=$(sbatch --parsable --array="0-$((n - 1))$throttle" -o "$dir/slurm-%A_%a.out" "$@" slurm/sweep.sbatch "$manifest")
ar=${ar%%;*}
su=$(sbatch --parsable --dependency="afterok:$ar" --kill-on-invalid-dep=yes -o "$dir/slurm-summary-%j.out" \
       slurm/summary.sbatch "$dir")
echo "array=$ar summary=${su%%;*} dir=$dir"
