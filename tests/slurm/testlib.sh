# testlib.sh - what the Slurm end-to-end tests share: pass/fail counters, timing, job state from
# scontrol, bounded waits, sbatch that remembers its jobs, and the cleanup that cancels them, prints
# job outputs and the daemons' logs on failure, and stops daemons the test started.
# Source after slurm/local/lib.sh, with NAME (the report prefix), WORK and ROOT set. Optional:
# SUBMIT_DIR (sbatch runs there; default .), OUTPUT_FILTER (an ERE of lines left out of job outputs).
# shellcheck shell=bash

T0=${EPOCHREALTIME/./}
secs() { local us=$(( ${EPOCHREALTIME/./} - ${1:-$T0} )); printf '%d.%01d' $((us / 1000000)) $((us / 100000 % 10)); }
say() { echo "$NAME [$(secs)s] $*"; }
PASS=0; FAIL=0; JOBS=""
ok() { PASS=$((PASS + 1)); echo "  ok   $*"; }
bad() { FAIL=$((FAIL + 1)); echo "  FAIL $*"; }
check() { local what=$1; shift; if "$@"; then ok "$what"; else bad "$what"; fi; }

WAS_UP=0; slurm_alive "$CTLD_PID" slurmctld && WAS_UP=1
slurm_mark_logs "$WORK/logs.mark"   # a failure prints only what the daemons logged from here
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # shellcheck disable=SC2086 # a list of ids
  [ -n "$JOBS" ] && scancel $JOBS >/dev/null 2>&1
  if [ "$FAIL" -gt 0 ] || [ "$rc" != 0 ]; then
    echo "===== job outputs${OUTPUT_FILTER:+ (lines matching $OUTPUT_FILTER left out)}"
    if [ -n "${OUTPUT_FILTER:-}" ]; then
      find "$WORK" -name '*.out' -print -exec grep -vE "$OUTPUT_FILTER" {} \; 2>/dev/null
    else
      find "$WORK" -name '*.out' -print -exec cat {} \; 2>/dev/null
    fi
    for j in $JOBS; do scontrol -o show job "$j" 2>/dev/null; done
    slurm_print_logs 80 "$WORK/logs.mark"
  fi
  if [ "$WAS_UP" = 0 ] && [ "${MMC_SLURM_KEEP:-0}" != 1 ]; then "$ROOT/slurm/local/stop.sh"; fi
  [ "$rc" = 0 ] && [ "$FAIL" -gt 0 ] && rc=1
  echo "$NAME: $PASS passed, $FAIL failed, $(secs) s"
  exit "$rc"
}
trap cleanup EXIT
trap 'echo "$NAME: interrupted"; exit 124' INT TERM

# Job state from scontrol (one line per array task); waits that always time out.
TERMINAL='COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY|BOOT_FAIL|DEADLINE|PREEMPTED'
job_field() { scontrol -o show job "$1" 2>/dev/null | sed -n "s/.* $2=\([^ ]*\).*/\1/p"; }
job_done() { local s; s=$(job_field "$1" JobState); [ -n "$s" ] && ! grep -qvE "^($TERMINAL)\$" <<<"$s"; }
wait_job() { # wait_job JID SECONDS: every task of JID ended
  slurm_wait_for "$2" job_done "$1" || { bad "job $1 did not end within $2 s (state $(job_field "$1" JobState | tr '\n' ' '))"; return 1; }
}
submit() { # submit VAR ARGS...: sbatch --parsable in SUBMIT_DIR; VAR = the job id, remembered for cleanup
  local var=$1 id; shift
  id=$(cd "${SUBMIT_DIR:-.}" && sbatch --parsable "$@") || { bad "sbatch $*"; return 1; }
  id=${id%%;*}; JOBS="$JOBS $id"; printf -v "$var" '%s' "$id"
}
