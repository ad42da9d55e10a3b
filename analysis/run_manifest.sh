#!/usr/bin/env bash
# run_manifest.sh MANIFEST [-j N] [-n RANKS] [--bin DIR] [--dry-run | --list] - a manifest without Slurm.
#
#   analysis/run_manifest.sh jobs/bomm/sweep.txt -j 1 -n 3      # from the repository root
#
# Runs every line of MANIFEST (`CONFIG [--key=value ...]`, as for slurm/submit_sweep.sh) that is not
# finished yet, N at a time (default 1), each as `$MPIRUN -np RANKS build/bin/mmcollab --config=CONFIG
# --out=DIR --resume=auto OPTIONS` (RANKS default 3; MPIRUN default `mpirun --oversubscribe --bind-to
# none`: separate mpiruns would each pin their rank 0 to core 0 and share it), into the
# same directories as slurm/sweep.sbatch: DIR = runs/<manifest name>/<run name> (slurm/manifest.sh).
# Finished = DIR/run.h5 has the configured number of rounds (the line's --rounds=, else the config's,
# else mmcollab's default); an interrupted run continues from its newest checkpoint. Each run's output
# is appended to DIR.log. --dry-run lists the lines with their state and runs nothing; --list prints
# the run directories, one per line (for analysis/bomm_table.py), and nothing else.
# Exit status: 0 when every line is finished; 1 naming the failing lines (manifest line number, text,
# exit code, log); 2 for a bad manifest (repeated or invalid run names) or bad arguments.
# SIGINT/SIGTERM are passed to the running mmcollabs, which checkpoint at the end of their round.
set -uo pipefail
usage() { sed -n '2,16s/^# \{0,1\}//p' "$0" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")/.." && pwd)
. "$HERE/slurm/manifest.sh"

manifest="" jobs=1 np=3 bin=build/bin dry=0 list=0
while [ $# -gt 0 ]; do
  case $1 in
    -j) jobs=${2:?-j N}; shift 2 ;;
    -n) np=${2:?-n RANKS}; shift 2 ;;
    --bin) bin=${2:?--bin DIR}; shift 2 ;;
    --dry-run) dry=1; shift ;;
    --list) list=1; shift ;;
    -h|--help) usage ;;
    -*) echo "run_manifest.sh: unknown option $1" >&2; usage ;;
    *) [ -z "$manifest" ] || usage; manifest=$1; shift ;;
  esac
done
[ -n "$manifest" ] || usage
die2() { echo "run_manifest.sh: $*" >&2; exit 2; }
[ -f "$manifest" ] || die2 "$manifest: no such file"
[[ $jobs =~ ^[1-9][0-9]*$ && $np =~ ^[1-9][0-9]*$ ]] || die2 "-j and -n take positive integers"
manifest_check "$manifest" || exit 2
if [ "$list" = 1 ]; then
  d=$(manifest_dir "$manifest")
  manifest_lines "$manifest" | while read -r -a run; do run_name_to name "${run[@]}"; echo "$d/$name"; done
  exit 0
fi
[ -x "$bin/mmcollab" ] || die2 "$bin/mmcollab not found (make, or --bin DIR)"
MPIRUN=${MPIRUN:-mpirun --oversubscribe --bind-to none}
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
if [ "$(id -u)" = 0 ]; then export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1; fi

dir=$(manifest_dir "$manifest")
mapfile -t lines < <(manifest_lines "$manifest")
# The file's line numbers of the run lines, for the messages.
mapfile -t lineno < <(grep -nvE '^[[:space:]]*(#|$)' "$manifest" | cut -d: -f1)

# The rounds a config file sets (top level; "" = none), read once per file.
declare -A cfg_rounds=()
file_rounds() {
  [ -n "${cfg_rounds[$1]+x}" ] && return
  cfg_rounds[$1]=""
  [ -f "$1" ] || return 0
  cfg_rounds[$1]=$(awk -F= '{ sub(/#.*/, "") } /^[[:space:]]*\[/ { sec = 1 }
                            !sec && $1 ~ /^[[:space:]]*rounds[[:space:]]*$/ { v = $2; gsub(/[[:space:]]/, "", v) }
                            END { print v }' "$1")
}
# mmcollab's default, asked only when a line sets no rounds (an MPI start-up costs about a second).
default_rounds=""
get_default_rounds() {
  [ -n "$default_rounds" ] && return
  default_rounds=$("$bin/mmcollab" --help 2>/dev/null |
    awk '/^  --rounds=/ { getline; if (match($0, /default: [0-9]+/)) print substr($0, RSTART + 9, RLENGTH - 9) }')
  [ -n "$default_rounds" ] || die2 "cannot read the default of --rounds from $bin/mmcollab --help"
}

n=${#lines[@]}
cfgs=() outs=() rounds=()
for ((i = 0; i < n; i++)); do
  read -r -a run <<<"${lines[i]}"
  # CONFIG as slurm/run.sbatch resolves it: a path, or a name in jobs/.
  cfg=${run[0]}; [ -e "$cfg" ] || cfg=jobs/${cfg%.cfg}.cfg
  cfgs[i]=$cfg
  run_name_to name "${run[@]}"
  outs[i]=$dir/$name
  # The configured rounds: the line's last --rounds=, else the config file's, else mmcollab's default.
  r=""
  for o in "${run[@]:1}"; do case $o in --rounds=*) r=${o#--rounds=} ;; esac; done
  [ -n "$r" ] || { file_rounds "$cfg"; r=${cfg_rounds[$cfg]}; }
  [ -n "$r" ] || { get_default_rounds; r=$default_rounds; }
  rounds[i]=$r
done
# One Python for all lines: "done" when run.h5 holds the configured rounds (a missing or unreadable
# file, e.g. a run that has not written its first round, is "todo").
mapfile -t state < <(for ((i = 0; i < n; i++)); do echo "${rounds[i]} ${outs[i]}"; done |
  /usr/bin/python3 -c '
import sys
import h5py
for line in sys.stdin:
    want, out = line.rstrip("\n").split(" ", 1)
    try:
        with h5py.File(out + "/run.h5", "r") as f:
            got = f["metrics/round"].shape[0]
    except Exception:
        got = 0
    print("done" if got >= int(want) else f"todo {got}/{want}")
')
[ ${#state[@]} -eq "$n" ] || die2 "could not read the run files (Debian python3-h5py: scripts/deps.sh analysis)"

todo=()
for ((i = 0; i < n; i++)); do
  if [ "$dry" = 1 ]; then printf '%-14s %s\n' "${state[i]}" "${outs[i]}"; fi
  [ "${state[i]}" = "done" ] || todo+=("$i")
done
echo "run_manifest.sh: $manifest: $n runs in $dir/, $((n - ${#todo[@]})) finished, ${#todo[@]} to run" \
     "($jobs at a time, $np ranks each)"
[ "$dry" = 1 ] && exit 0
mkdir -p "$dir"

declare -A running=() started=()
failed=() stopping=""
# mpirun passes TERM on to mmcollab, which finishes its round, checkpoints and exits 3.
stop() { echo "run_manifest.sh: SIG$1: stopping the running runs (they checkpoint at the end of their round)" >&2
         stopping=$1
         for p in "${!running[@]}"; do kill -TERM "$p" 2>/dev/null; done; }
trap 'stop INT' INT
trap 'stop TERM' TERM
k=0
# Waits for one run to end and books its result.
reap() {
  local pid rc i
  wait -n -p pid; rc=$?
  [ -n "${pid:-}" ] && [ -n "${running[$pid]+x}" ] || return 0 # a signal interrupted the wait
  i=${running[$pid]}; unset "running[$pid]"
  local secs=$((SECONDS - started[$i]))
  if [ "$rc" = 0 ]; then echo "  done  ${outs[i]} (${secs} s)"
  elif [ "$rc" = 3 ] || [ -n "$stopping" ]; then # mpirun may turn mmcollab's 3 into its own 1
    echo "  stop  ${outs[i]}: exit $rc after ${secs} s, checkpointed at the end of its round (run again to continue)"
    failed+=("$i:$rc")
  else echo "  FAIL  ${outs[i]}: exit $rc after ${secs} s (log ${outs[i]}.log)"; failed+=("$i:$rc"); fi
}
for i in "${todo[@]}"; do
  while [ ${#running[@]} -ge "$jobs" ] && [ -z "$stopping" ]; do reap; done
  [ -z "$stopping" ] || break
  read -r -a run <<<"${lines[i]}"
  k=$((k + 1))
  echo "  start ${outs[i]} [$k/${#todo[@]}] (${state[i]#todo } rounds)"
  mkdir -p "${outs[i]}"
  {
    echo "== run_manifest.sh $(date -u +%FT%TZ) | $manifest line ${lineno[i]}: ${lines[i]}"
    # shellcheck disable=SC2086 # MPIRUN is a command with options
    exec $MPIRUN -np "$np" "$bin/mmcollab" --config="${cfgs[i]}" --out="${outs[i]}" --resume=auto "${run[@]:1}"
  } >>"${outs[i]}.log" 2>&1 </dev/null &
  running[$!]=$i; started[$i]=$SECONDS
done
while [ ${#running[@]} -gt 0 ]; do reap; done

[ -z "$stopping" ] || echo "run_manifest.sh: stopped by SIG$stopping; run the same command again to continue" >&2
if [ ${#failed[@]} -gt 0 ]; then
  echo "run_manifest.sh: ${#failed[@]} of ${#todo[@]} runs failed or stopped:" >&2
  for f in "${failed[@]}"; do
    i=${f%%:*}
    echo "  $manifest:${lineno[i]}: ${lines[i]}  -> exit ${f#*:}, log ${outs[i]}.log" >&2
    # The reason: mmcollab's own message of the last attempt (mpirun's boilerplate says nothing).
    awk '/^== run_manifest.sh/ { n = 0 } /mmcollab:|error|CHECK/ && n < 3 { m[n++] = $0 }
         END { for (j = 0; j < n; j++) print "      " m[j] }' "${outs[i]}.log" >&2
  done
  exit 1
fi
echo "run_manifest.sh: all $n runs finished"
