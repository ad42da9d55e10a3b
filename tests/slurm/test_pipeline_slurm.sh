#!/usr/bin/env bash
# test_pipeline_slurm.sh [BIN_DIR] - the pipeline's own sbatch scripts under the real one-machine Slurm.
# Builds a work directory that looks like the repository root (slurm/, jobs/ linked, build/bin -> BIN_DIR,
# data/synmm_tiny.h5 built), submits from there and checks from the files the jobs write:
#   a. slurm/run.sbatch, 3 tasks, jobs/tiny_synmm.cfg with many rounds; `scancel --signal=USR1 --batch`
#      mid-run: the step checkpoints and exits 3, the script requeues the job, the rerun logs "resumed
#      from", the job COMPLETES with Restarts=1, and its last checkpoint (h5diff) and metrics.csv (minus
#      round_ms) equal those of an uninterrupted run (a second run.sbatch job, submitted meanwhile);
#   b. slurm/submit_sweep.sh over a 3-line manifest (throttle 2): 3 array tasks COMPLETED, one run
#      directory each, and the afterok summary job writes summary.md naming the 3 runs; task 1 (a longer
#      run) gets USR1 mid-run, is requeued on its own and resumes (summary still waits for it); with
#      --results the summary job also writes analysis/bomm_table.py's table and curves;
#   c. plain `scancel` (SIGTERM) of a running run.sbatch cancels it: no requeue;
#   d. slurm/scaling.sbatch at 2 and 3 ranks, strong and weak: 4 run directories and scaling.md;
#   e. plain `scancel` of run.sbatch mid-round with rounds longer than mpirun's kill delay (fedavg on
#      the CI AV-FashionMNIST file, 16 local epochs): Slurm sends TERM to the ranks and SIGKILL KillWait
#      later; with run.sbatch's --term-grace (KillWait/2) the step exits 3 before the SIGKILL, at a
#      checkpoint, the rank lines saying which; the same command submitted again resumes and ends
#      identical to a straight run (h5diff, metrics.csv). Data from MMC_DATA_DIR (default data/).
# Daemons, failure output and timeouts as in test_smoke.sh (MMC_SLURM_KEEP=1 leaves them up).
set -uo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
# shellcheck source=../../slurm/local/lib.sh
. "$ROOT/slurm/local/lib.sh"
BIN=$(cd "${1:-$ROOT/build/bin}" && pwd) || { echo "test_pipeline_slurm.sh: no bin dir ${1:-}" >&2; exit 2; }
for p in mmcollab build_synmm; do
  [ -x "$BIN/$p" ] || { echo "test_pipeline_slurm.sh: $BIN/$p missing (make)" >&2; exit 2; }
done
NODES=${MMC_SLURM_NODES:-0}
WORK=${MMC_SLURM_PIPELINE_DIR:-$ROOT/build/test-slurm-pipeline}
rm -rf "$WORK"; mkdir -p "$WORK/build" "$WORK/data"
CI_DATA=$(cd "${MMC_DATA_DIR:-$ROOT/data}" 2>/dev/null && pwd)/avfmnist_ci.h5
[ -s "$CI_DATA" ] && [ -s "$CI_DATA.sha256" ] ||
  { echo "test_pipeline_slurm.sh: $CI_DATA or its digest file missing (make data/avfmnist_ci.h5)" >&2; exit 2; }
ln -s "$CI_DATA" "$WORK/data/avfmnist_ci.h5"
ln -s "$CI_DATA.sha256" "$WORK/data/avfmnist_ci.h5.sha256" # the data's digest file travels with it
ln -s "$ROOT/slurm" "$WORK/slurm"; ln -s "$ROOT/jobs" "$WORK/jobs"; ln -s "$BIN" "$WORK/build/bin"
[ -d "$ROOT/analysis" ] && ln -s "$ROOT/analysis" "$WORK/analysis"
# Jobs inherit this environment. mpi_yield_when_idle: under srun, Open MPI does not know that the 2
# cores are oversubscribed and busy-polls (rounds 3-4x slower without it).
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMPI_MCA_mpi_yield_when_idle=1 \
       OMPI_MCA_btl=self,vader,tcp OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo \
       OMPI_MCA_btl_vader_single_copy_mechanism=none OPENBLAS_NUM_THREADS=1

NAME=test-slurm-pipeline SUBMIT_DIR=$WORK OUTPUT_FILTER='^(round|checkpoint) '
# shellcheck source=testlib.sh
. "$HERE/testlib.sh"
state_exit() { echo "$(job_field "$1" JobState) $(job_field "$1" ExitCode)"; }
in_log() { grep -q -- "$2" "$WORK/$1" 2>/dev/null; }
started_or_done() { in_log "$1" "$2" || job_done "$3"; }
# A round line of round 20 or later: past the first rounds, a run prints at most ~10 round lines a
# second, so round 20's own line may not be there.
PAST20='^round \([2-9][0-9]\|[1-9][0-9][0-9][0-9]*\)/'

# metrics.csv without the columns that vary between runs of one config (run.h5 marks them "varies":
# round_ms, and the MPI bytes, which depend on the rank layout and on a resume); nothing else may.
no_ms() { awk -F, 'NR==1{for(i=1;i<=NF;i++) if($i ~ /^(round_ms|comm_ms|io_ms|host_compute_ms_max|mpi_bytes_sent|mpi_bytes_recv)$/) c[i]=1} {s=""; for(i=1;i<=NF;i++) if(!(i in c)) s=s $i ","; print s}' "$1"; }
same_metrics() { [ "$(no_ms "$1" | wc -l)" = "$3" ] && diff <(no_ms "$1") <(no_ms "$2"); }

say "starting the local Slurm (nodes=$NODES)"
MMC_SLURM_NODES=$NODES "$ROOT/slurm/local/start.sh" --nodes "$NODES" || { bad "slurm/local/start.sh"; exit 1; }
"$BIN/build_synmm" --out "$WORK/data/synmm_tiny.h5" --train 800 --test 200 >/dev/null || { bad "build_synmm"; exit 1; }
say "cluster up, data built"

# ---- a. run.sbatch interrupted mid-run: USR1 -> checkpoint, exit 3, requeue, resume, same result
# Rounds of ~1 ms (the run files are appended): enough of them that the USR1 arrives mid-run.
ROUNDS=10000
OPTS=("--rounds=$ROUNDS" --eval-every=2500 --ckpt-every=500)
submit RJ -n 3 -o "$WORK/run-%j.out" slurm/run.sbatch tiny_synmm -- "${OPTS[@]}" || exit 1
# c. submitted now so that its wait overlaps the others
submit CJ -n 2 -o "$WORK/cancel-%j.out" slurm/run.sbatch tiny_synmm -- --out=runs/cancelled "${OPTS[@]}" --rounds=100000 || exit 1
if slurm_wait_for 90 started_or_done "run-$RJ.out" "$PAST20" "$RJ" && in_log "run-$RJ.out" "$PAST20"; then
  T_SIG=${EPOCHREALTIME/./}
  scancel --signal=USR1 --batch "$RJ" || bad "scancel --signal=USR1 --batch $RJ"
  say "run job $RJ at round 20+: sent USR1 to its batch shell"
else
  bad "run job $RJ did not reach round 20 within 90 s (state $(job_field "$RJ" JobState))"; exit 1
fi
submit REF -n 3 --no-requeue -o "$WORK/ref-%j.out" slurm/run.sbatch tiny_synmm -- --out=runs/ref "${OPTS[@]}" || exit 1

# ---- b. a 3-task sweep (throttle 2) with its afterok summary
printf '%s\n' "# test sweep" "jobs/tiny_synmm.cfg --method=local --rounds=4" "" \
  "jobs/tiny_synmm.cfg --method=fedavg --rounds=10000 --eval-every=5000 --ckpt-every=1000" \
  "jobs/tiny_synmm.cfg --method=centralized --rounds=4" > "$WORK/sw3.txt"
T_SW=${EPOCHREALTIME/./}
line=$(cd "$WORK" && slurm/submit_sweep.sh sw3.txt --throttle 2 --results res/RESULTS.md -n 2) || { bad "submit_sweep.sh: $line"; exit 1; }
AR=$(sed -n 's/.*array=\([0-9]*\).*/\1/p' <<<"$line"); SU=$(sed -n 's/.*summary=\([0-9]*\).*/\1/p' <<<"$line")
JOBS="$JOBS $AR $SU"
check "submit_sweep.sh printed array and summary ids ($line)" test -n "$AR" -a -n "$SU"
check "array $AR: throttle 2" test "$(job_field "$AR" ArrayTaskThrottle | head -1)" = 2
TASK1=runs/sw3/slurm-${AR}_1.out
if slurm_wait_for 90 started_or_done "$TASK1" "$PAST20" "${AR}_1" && in_log "$TASK1" "$PAST20"; then
  scancel --signal=USR1 --batch "${AR}_1" || bad "scancel --signal=USR1 --batch ${AR}_1"
  say "array task ${AR}_1 at round 20+: sent USR1"
else
  bad "array task ${AR}_1 did not reach round 20 within 90 s"
fi

# ---- c. plain scancel (SIGTERM) cancels: the trap still checkpoints, but the job is not requeued
if slurm_wait_for 90 started_or_done "cancel-$CJ.out" "^round 3/" "$CJ" && in_log "cancel-$CJ.out" "^round 3/"; then
  scancel "$CJ"; T_C=${EPOCHREALTIME/./}
else
  bad "cancel job $CJ did not reach round 3 within 90 s"
fi

# ---- e. plain scancel mid-round, rounds longer than mpirun's kill delay; then the same command again
# Four rounds: on a fast machine round 2 can end within the second after round 1's checkpoint, and
# the SIGTERM then lands in round 3, which must not be the last.
LONG=(--data=data/avfmnist_ci.h5 --rounds=4 --local-epochs=16 --ckpt-every=1)
submit TJ -n 3 -o "$WORK/term-%j.out" slurm/run.sbatch -- --out=runs/term "${LONG[@]}" || exit 1
if slurm_wait_for 120 started_or_done "term-$TJ.out" "round_000001.h5" "$TJ" && in_log "term-$TJ.out" "round_000001.h5"; then
  sleep 1; scancel "$TJ"; T_E=${EPOCHREALTIME/./}; say "term job $TJ: scancel 1 s after round 1's checkpoint"
else
  bad "term job $TJ did not write round 1's checkpoint within 120 s"
fi

# ---- d. scaling: 2 and 3 ranks, strong (6 parties) and weak (2 per host)
submit SC -n 3 -o "$WORK/scaling-%j.out" --export=ALL,SCALING_RANKS="2 3",SCALING_PARTIES=6,SCALING_PER_HOST=2 \
  slurm/scaling.sbatch tiny_synmm -- --rounds=3 || exit 1

# ---- b. results
wait_job "$AR" 240; wait_job "$SU" 60 && say "sweep $AR + summary $SU ended after $(secs "$T_SW") s"
check "array $AR: 3 tasks, all COMPLETED" test "$(job_field "$AR" JobState | grep -c '^COMPLETED$')" = 3
sweep_run_ok() { # sweep_run_ok NAME ROUNDS: metrics.csv with ROUNDS rows and the last checkpoint
  test "$(wc -l < "$WORK/runs/sw3/$1/metrics.csv" 2>/dev/null)" = $(($2 + 1)) -a -s "$WORK/runs/sw3/$1/ckpt/$(printf 'round_%06d.h5' "$2")"
}
for r in local_rounds-4:4 fedavg_rounds-10000_eval-every-5000_ckpt-every-1000:10000 centralized_rounds-4:4; do
  check "sweep run dir runs/sw3/tiny_synmm_method-${r%:*}: ${r#*:} rounds, last checkpoint" sweep_run_ok "tiny_synmm_method-${r%:*}" "${r#*:}"
done
check "array task ${AR}_1: Restarts=1" test "$(job_field "${AR}_1" Restarts)" = 1
for s in "mmcollab exit 3" "== requeued" "(array ${AR}_1) restart 1 " "resumed from runs/sw3/tiny_synmm_method-fedavg" "mmcollab exit 0"; do
  check "array task ${AR}_1 log: '$s'" in_log "$TASK1" "$s"
done
check "summary $SU COMPLETED 0:0" test "$(state_exit "$SU")" = "COMPLETED 0:0"
check "summary started not before the last task ended" test ! "$(job_field "$SU" StartTime)" \< "$(job_field "$AR" EndTime | sort | tail -1)"
names_in_summary() { local r; for r in local fedavg centralized; do grep -q "method-${r}_rounds-" "$WORK/runs/sw3/summary.md" || return 1; done; }
check "runs/sw3/summary.md names the 3 runs" names_in_summary
bomm_table_ok() { # --results: analysis/bomm_table.py's table (one row per method) and its curves
  grep -q "reconstruction from the paper's abstract" "$WORK/res/RESULTS.md" &&
  for r in local fedavg centralized; do grep -q "^| $r | " "$WORK/res/RESULTS.md" || return 1; done &&
  test -s "$WORK/res/curves/synmm_tiny_bomm-random.png" -a -s "$WORK/runs/sw3/results.csv"
}
check "--results: res/RESULTS.md (bomm_table.py) with the 3 methods, curves and results.csv" bomm_table_ok

# ---- c. results
if [ -n "${T_C:-}" ]; then
  wait_job "$CJ" 60
  check "scancel'd job $CJ: CANCELLED" test "$(job_field "$CJ" JobState)" = CANCELLED
  check "scancel'd job $CJ: the trap saw SIGTERM and did not requeue" in_log "cancel-$CJ.out" "not requeued"
fi

# ---- a. results
wait_job "$RJ" 240 && say "run job $RJ ended $(secs "$T_SIG") s after the USR1"
check "run job $RJ COMPLETED 0:0" test "$(state_exit "$RJ")" = "COMPLETED 0:0"
check "run job $RJ: Restarts=1" test "$(job_field "$RJ" Restarts)" = 1
for s in "stop requested (SIGUSR1): checkpoint of round" "mmcollab exit 3" "== requeued" "restart 1 " \
         "resumed from runs/tiny_synmm/ckpt/round_" "^round $ROUNDS/$ROUNDS" "mmcollab exit 0"; do
  check "run job log (one file, appended): '$s'" in_log "run-$RJ.out" "$s"
done
stopped=$(sed -n 's/.*checkpoint of round \([0-9]*\) written.*/\1/p' "$WORK/run-$RJ.out" | head -1)
check "stopped mid-run (round ${stopped:-?} of $ROUNDS)" test "${stopped:-0}" -ge 20 -a "${stopped:-$ROUNDS}" -lt "$ROUNDS"
wait_job "$REF" 240
check "reference job $REF COMPLETED 0:0" test "$(state_exit "$REF")" = "COMPLETED 0:0"
last=$(printf 'ckpt/round_%06d.h5' "$ROUNDS")
check "h5diff: the requeued run's $last equals the reference's" \
  h5diff "$WORK/runs/ref/$last" "$WORK/runs/tiny_synmm/$last"
check "metrics.csv (minus the varying columns): requeued run = reference, $ROUNDS rounds" \
  same_metrics "$WORK/runs/ref/metrics.csv" "$WORK/runs/tiny_synmm/metrics.csv" $((ROUNDS + 1))

# ---- d. results
wait_job "$SC" 120
check "scaling job $SC COMPLETED 0:0" test "$(state_exit "$SC")" = "COMPLETED 0:0"
for p in strong_r2_p6 strong_r3_p6 weak_r2_p2 weak_r3_p4; do
  check "scaling point $p: 3 rounds" test "$(wc -l < "$WORK/runs/scaling-$SC/$p/metrics.csv" 2>/dev/null)" = 4
done
check "scaling.md lists the 4 points" test "$(grep -c '_r[23]_p' "$WORK/runs/scaling-$SC/scaling.md" 2>/dev/null)" = 4

# ---- e. results: ended before KillWait's SIGKILL, exit 3 at a checkpoint; resubmitted, identical
if [ -n "${T_E:-}" ]; then
  wait_job "$TJ" 60 && say "term job $TJ ended $(secs "$T_E") s after scancel"
  check "term job $TJ: CANCELLED, not requeued" test "$(job_field "$TJ" JobState) $(job_field "$TJ" Restarts)" = "CANCELLED 0"
  check "term job $TJ: run.sbatch passed --term-grace=KillWait/2" in_log "term-$TJ.out" "| term-grace *| 2.5 "
  check "term job $TJ: mmcollab exit 3 (not killed)" in_log "term-$TJ.out" "mmcollab exit 3"
  # Either the round outlasted the grace (exit 3 at the last checkpoint) or it ended within it.
  left_or_ended() { in_log "term-$TJ.out" "did not end within --term-grace=2.5 s: exit 3 without its checkpoint; --resume=auto continues from round [12]" ||
                    in_log "term-$TJ.out" "stop requested (SIGTERM): checkpoint of round [23] written"; }
  check "term job $TJ: the ranks left by their grace or after their round's checkpoint" left_or_ended
  submit TJ2 -n 3 --no-requeue -o "$WORK/term-%j.out" slurm/run.sbatch -- --out=runs/term "${LONG[@]}" || exit 1
  submit TREF -n 3 --no-requeue -o "$WORK/term-ref-%j.out" slurm/run.sbatch -- --out=runs/term_ref "${LONG[@]}" || exit 1
  wait_job "$TJ2" 180; wait_job "$TREF" 180
  resumed_ok() { test "$(state_exit "$TJ2")" = "COMPLETED 0:0" && in_log "term-$TJ2.out" "resumed from runs/term/ckpt/round_"; }
  check "resubmitted term job $TJ2 COMPLETED 0:0, resumed" resumed_ok
  check "term reference $TREF COMPLETED 0:0" test "$(state_exit "$TREF")" = "COMPLETED 0:0"
  check "h5diff: the resumed term run's last checkpoint equals the reference's" \
    h5diff "$WORK/runs/term_ref/ckpt/round_000004.h5" "$WORK/runs/term/ckpt/round_000004.h5"
  check "metrics.csv (minus the varying columns): resumed term run = reference, 4 rounds" \
    same_metrics "$WORK/runs/term_ref/metrics.csv" "$WORK/runs/term/metrics.csv" 5
fi

# ---- c. (late) still not requeued once the credential lifetime has passed
if [ -n "${T_C:-}" ]; then
  while [ $(( (${EPOCHREALTIME/./} - T_C) / 1000000 )) -lt 20 ]; do sleep 1; done
  check "scancel'd job $CJ still CANCELLED 20 s later, Restarts=0" test "$(job_field "$CJ" JobState) $(job_field "$CJ" Restarts)" = "CANCELLED 0"
fi
