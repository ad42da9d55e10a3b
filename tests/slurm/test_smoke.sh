#!/usr/bin/env bash
# test_smoke.sh [BIN_DIR] - end-to-end smoke test under the real one-machine Slurm (slurm/local/).
# Starts the daemons, then checks from the files the jobs write:
#   1. a 3-task job runs BIN_DIR/rank_probe under `srun --mpi=pmix`: 3 ranks, size 3, one job;
#   2. a 3-task job array (2 ranks each) and an afterok summary job that starts only after every
#      task ended, and an afterok job behind a failing job that never starts;
#   3. `scontrol requeue` of a running job: the MPI step is killed, the job restarts
#      (SLURM_RESTART_COUNT=1) and completes; the time from requeue to the end is printed;
#   4. `scancel --signal=USR1 --batch` reaches the batch shell's trap at once (--signal=B:USR1@T
#      would arrive up to a minute early, so tests send the signal themselves).
# Stops the daemons at the end unless they were already running (or MMC_SLURM_KEEP=1). On failure
# prints the job outputs and the daemon logs and exits 1. Every wait has a timeout.
# Env: MMC_SLURM_NODES=2 runs it on two emulated nodes (the MPI job then spans both).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../slurm/local/lib.sh
. "$ROOT/slurm/local/lib.sh"
BIN=$(cd "${1:-$ROOT/build/bin}" && pwd) || { echo "test_smoke.sh: no bin dir ${1:-}" >&2; exit 2; }
PROBE=$BIN/rank_probe
[ -x "$PROBE" ] || { echo "test_smoke.sh: $PROBE missing (make build/bin/rank_probe)" >&2; exit 2; }
NODES=${MMC_SLURM_NODES:-0}
WORK=${MMC_SLURM_TEST_DIR:-$ROOT/build/test-slurm}
rm -rf "$WORK"; mkdir -p "$WORK"
# Jobs inherit the submitter's environment (sbatch --export=ALL): Open MPI as root, loopback TCP
# between emulated nodes, one BLAS thread per rank.
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_rmaps_base_oversubscribe=1 \
       OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo \
       OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1

NAME=test-slurm
# shellcheck source=testlib.sh
. "$HERE/testlib.sh"
all_equal() { # all_equal VALUE LINES: every line is VALUE
  [ -n "$2" ] && ! grep -qvxF "$1" <<<"$2"
}
ranks_ok() { # ranks_ok DIR SIZE JOBFIELD: rank_0..SIZE-1 written, each with size and allreduce sum right
  local d=$1 n=$2 r f
  [ "$(find "$d" -maxdepth 1 -name 'rank_*.txt' | wc -l)" = "$n" ] || return 1
  for r in $(seq 0 $((n - 1))); do
    f=$d/rank_$r.txt
    grep -q "^rank=$r size=$n sum=$(( n * (n - 1) / 2 )) .* job=$3 " "$f" || { echo "    bad $f: $(cat "$f" 2>/dev/null)"; return 1; }
  done
}
has_files() { [ "$(find "$1" -maxdepth 1 -name 'rank_*.txt' 2>/dev/null | wc -l)" = "$2" ]; }

# ---- daemons
say "starting the local Slurm (nodes=$NODES)"
MMC_SLURM_NODES=$NODES "$ROOT/slurm/local/start.sh" --nodes "$NODES" || { bad "slurm/local/start.sh"; exit 1; }
say "cluster up"
SPAN=""; [ "$NODES" -ge 2 ] && SPAN="--nodes=2"

# ---- 3. requeue: submitted first, because the requeued job waits cred_expire+1 s before it
# restarts; tests 1 and 2 run in that gap.
mkdir -p "$WORK/requeue"
submit RQ --ntasks=3 -o "$WORK/requeue/%x-%j.out" "$HERE/requeue.sbatch" "$PROBE" "$WORK/requeue" 120 || exit 1
up_or_ended() { has_files "$WORK/requeue/run_0" 3 || job_done "$RQ"; }
if slurm_wait_for 60 up_or_ended && has_files "$WORK/requeue/run_0" 3; then
  ok "requeue job $RQ: first run's 3 ranks are up ($(secs)s)"
else
  bad "requeue job $RQ: first run's 3 ranks did not start within 60 s (state $(job_field "$RQ" JobState))"; exit 1
fi
T_RQ=${EPOCHREALTIME/./}
scontrol requeue "$RQ" || bad "scontrol requeue $RQ"
say "requeued job $RQ"

# ---- 1. one 3-rank MPI job under srun --mpi=pmix
mkdir -p "$WORK/mpi"
T1=${EPOCHREALTIME/./}
submit J1 --ntasks=3 $SPAN -o "$WORK/mpi/%x-%j.out" "$HERE/mpi.sbatch" "$PROBE" "$WORK/mpi" || exit 1
wait_job "$J1" 120 && say "mpi job $J1 ended after $(secs "$T1") s"
check "mpi job $J1 COMPLETED with exit 0:0" test "$(job_field "$J1" JobState) $(job_field "$J1" ExitCode)" = "COMPLETED 0:0"
check "mpi job: 3 rank files, each size=3 sum=3 job=$J1" ranks_ok "$WORK/mpi" 3 "$J1"
if [ "$NODES" -ge 2 ]; then
  check "mpi job spans n1 and n2" test "$(sed -n 's/.* host=\([^ ]*\).*/\1/p' "$WORK"/mpi/rank_*.txt | sort -u | tr '\n' ' ')" = "n1 n2 "
fi

# ---- 2. a 3-task array with an afterok summary; an afterok behind a failing job never runs
array_task_ok() { # each task's ranks were one MPI world of 2 and saw their own SLURM_ARRAY_TASK_ID
  ranks_ok "$WORK/array/task_$1" 2 "[0-9]*" &&
    all_equal "array_task=$1" "$(grep -ho "array_task=[^ ]*" "$WORK/array/task_$1"/rank_*.txt)"
}
mkdir -p "$WORK/array" "$WORK/never"
T2=${EPOCHREALTIME/./}
submit AR --array=0-2 --ntasks=2 -o "$WORK/array/%x-%A_%a.out" "$HERE/array.sbatch" "$PROBE" "$WORK/array" || exit 1
submit SU --dependency=afterok:"$AR" -o "$WORK/array/%x-%j.out" "$HERE/summary.sbatch" "$WORK/array" 3 || exit 1
submit FJ -o "$WORK/never/%x-%j.out" "$HERE/fail.sbatch" || exit 1
submit NV --dependency=afterok:"$FJ" -o "$WORK/never/%x-%j.out" "$HERE/summary.sbatch" "$WORK/never" 1 || exit 1
wait_job "$AR" 120; wait_job "$SU" 120 && say "array $AR + summary $SU ended after $(secs "$T2") s"
check "array $AR: 3 tasks, all COMPLETED" all_equal COMPLETED "$(job_field "$AR" JobState)"
check "array $AR: 3 tasks" test "$(job_field "$AR" JobState | wc -l)" = 3
for i in 0 1 2; do
  check "array task $i: 2 rank files, size=2, array_task=$i" array_task_ok "$i"
done
check "summary $SU COMPLETED" test "$(job_field "$SU" JobState)" = COMPLETED
check "summary.txt lists the 6 ranks" test "$(wc -l < "$WORK/array/summary.txt" 2>/dev/null)" = 6
last_end=$(job_field "$AR" EndTime | sort | tail -1)
su_start=$(job_field "$SU" StartTime)
check "summary started ($su_start) not before the last task ended ($last_end)" test ! "$su_start" \< "$last_end"
wait_job "$FJ" 60
check "failing job $FJ: FAILED with exit 3" test "$(job_field "$FJ" JobState) $(job_field "$FJ" ExitCode)" = "FAILED 3:0"
never_blocked() { [ "$(job_field "$NV" JobState) $(job_field "$NV" Reason)" = "PENDING DependencyNeverSatisfied" ]; }
check "afterok job $NV behind the failure stays PENDING (DependencyNeverSatisfied)" slurm_wait_for 30 never_blocked
scancel "$NV" 2>/dev/null
check "afterok job $NV wrote nothing" test ! -e "$WORK/never/summary.txt"

# ---- 4. USR1 to the batch shell
mkdir -p "$WORK/signal"
submit SG -o "$WORK/signal/%x-%j.out" "$HERE/signal.sbatch" "$WORK/signal" || exit 1
ready_or_ended() { [ -e "$WORK/signal/ready" ] || job_done "$SG"; }
if slurm_wait_for 60 ready_or_ended && [ -e "$WORK/signal/ready" ]; then
  T4=${EPOCHREALTIME/./}
  scancel --signal=USR1 --batch "$SG" || bad "scancel --signal=USR1 --batch $SG"
  wait_job "$SG" 30 && say "signal job $SG ended $(secs "$T4") s after scancel --signal=USR1 --batch"
  check "signal job $SG COMPLETED with exit 0:0 (the trap ran)" test "$(job_field "$SG" JobState) $(job_field "$SG" ExitCode)" = "COMPLETED 0:0"
  check "the trap wrote signal.txt" test -s "$WORK/signal/signal.txt"
else
  bad "signal job $SG did not start within 60 s (state $(job_field "$SG" JobState))"
fi

# ---- 3. (continued) the requeued job restarts and completes
wait_job "$RQ" 180 && say "requeued job $RQ finished $(secs "$T_RQ") s after scontrol requeue"
check "requeue job $RQ COMPLETED with exit 0:0" test "$(job_field "$RQ" JobState) $(job_field "$RQ" ExitCode)" = "COMPLETED 0:0"
check "requeue job $RQ: Restarts=1" test "$(job_field "$RQ" Restarts)" = 1
rerun_ok() { ranks_ok "$WORK/requeue/run_1" 3 "$RQ" && all_equal restart=1 "$(grep -ho "restart=[0-9]*" "$WORK/requeue/run_1"/rank_*.txt)"; }
check "rerun: 3 rank files with restart=1" rerun_ok
log=$(cat "$WORK/requeue/"*.out 2>/dev/null)
check "first run was cut mid-step (no 'run 0: done' in the log)" test -z "$(grep "run 0: done" <<<"$log")"
check "rerun logged 'run 1: done' in the same (appended) log" grep -q "run 1: done" <<<"$log"
