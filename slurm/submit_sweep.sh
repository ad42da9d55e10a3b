#!/usr/bin/env bash
# submit_sweep.sh MANIFEST [--throttle N] [--results MD] [sbatch options for the tasks...] - from the
# repository root:
# submits slurm/sweep.sbatch as a job array with one task per run line of MANIFEST (at most N running
# at once: --array=0-K%N), then slurm/summary.sbatch with --dependency=afterok on the whole array.
# Everything lands in runs/<manifest name>/: one directory per run, slurm-<array>_<task>.out, and
# summary.md once every task has succeeded (a failed task cancels the summary job). With --results MD
# the summary job also writes analysis/bomm_table.py's table to MD (curves in MD's directory, curves/).
# Prints `array=<id> summary=<id> dir=<dir>`.
#   slurm/submit_sweep.sh jobs/sweeps/methods.txt --throttle 4 -n 5
#   slurm/submit_sweep.sh jobs/bomm/sweep.txt --throttle 8 --results jobs/bomm/RESULTS.md -n 5
set -euo pipefail
[ $# -ge 1 ] || { sed -n '2,12s/^# \{0,1\}//p' "$0" >&2; exit 2; }
manifest=$1; shift
throttle="" results=()
while true; do
  case ${1:-} in
    --throttle) throttle=%${2:?--throttle N}; shift 2 ;;
    --results) results=("${2:?--results MD}"); shift 2 ;;
    *) break ;;
  esac
done
# shellcheck source=slurm/manifest.sh
. "$(dirname "$0")/manifest.sh"
manifest_check "$manifest" || { echo "submit_sweep.sh: fix $manifest (run names must be unique)" >&2; exit 2; }
n=$(manifest_lines "$manifest" | wc -l)
dir=$(manifest_dir "$manifest")
mkdir -p "$dir"
ar=$(sbatch --parsable --array="0-$((n - 1))$throttle" -o "$dir/slurm-%A_%a.out" "$@" slurm/sweep.sbatch "$manifest")
ar=${ar%%;*}
su=$(sbatch --parsable --dependency="afterok:$ar" --kill-on-invalid-dep=yes -o "$dir/slurm-summary-%j.out" \
       slurm/summary.sbatch "$dir" "${results[@]}")
echo "array=$ar summary=${su%%;*} dir=$dir"
