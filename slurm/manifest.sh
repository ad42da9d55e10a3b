# manifest.sh - the sweep-manifest conventions in one place; sourced (bash) by slurm/sweep.sbatch,
# slurm/submit_sweep.sh and analysis/run_manifest.sh, so that Slurm and the local runner agree on
# which line is run i and where it lands.
#
#   manifest_lines FILE   the run lines in order (blank and #-lines dropped); line i (from 0) = task i
#   manifest_dir FILE     the sweep's directory: runs/<manifest name>; a manifest called sweep.txt is
#                         named after its directory (jobs/bomm/sweep.txt -> runs/bomm)
#   run_name WORD...      a run line's directory name: the config's name plus the options, "--" and
#                         "/" dropped, "=" -> "-": jobs/demo.cfg --method=fedprox --seed=2 ->
#                         demo_method-fedprox_seed-2 (run_name_to VAR WORD... sets VAR instead)
#   manifest_check FILE   exits non-zero naming the lines whose run names repeat or are not plain
#                         directory names ([A-Za-z0-9._,+-], at most 200 characters)
# shellcheck shell=bash

manifest_lines() {
  grep -vE '^[[:space:]]*(#|$)' "$1"
}

manifest_dir() {
  local n
  n=$(basename "$1" .txt)
  [ "$n" = sweep ] && n=$(basename "$(dirname "$(readlink -f "$1")")")
  echo "runs/$n"
}

run_name() {
  local name
  run_name_to name "$@"
  echo "$name"
}

# run_name_to VAR WORD...: the same into VAR, without a subshell (hundreds of lines).
run_name_to() {
  local -n _rn=$1
  local o
  shift
  _rn=${1##*/}
  _rn=${_rn%.cfg}
  shift
  for o in "$@"; do o=${o#--}; o=${o//\//-}; _rn+=_${o//=/-}; done
}

manifest_check() {
  local line run name bad=0
  local -A seen=()
  local -a lines=()
  mapfile -t lines < <(manifest_lines "$1")
  [ ${#lines[@]} -gt 0 ] || { echo "$1: no run lines" >&2; return 2; }
  for line in "${lines[@]}"; do
    read -r -a run <<<"$line"
    run_name_to name "${run[@]}"
    if [[ ! $name =~ ^[A-Za-z0-9._,+-]{1,200}$ ]] || [[ $name =~ ^\.+$ ]]; then
      echo "$1: '$line': run name '$name' is not a plain directory name" >&2; bad=1
    elif [ -n "${seen[$name]:-}" ]; then
      echo "$1: '$line' and '${seen[$name]}' have the same run name '$name'" >&2; bad=1
    else
      seen[$name]=$line
    fi
  done
  return $bad
}
