#!/usr/bin/env bash
# run.sh [BIN_DIR] - the scaling study (make scaling; docs/scaling.md). From the repository root, as root:
#  1. starts the one-machine Slurm with 4 emulated nodes (slurm/local/start.sh --nodes 4, 2 CPUs each);
#  2. the interconnect: tests/bench/bench_pingpong on 2 ranks over shared memory (one node, vader), over
#     TCP on one node (btl self,tcp) and across two emulated nodes (self,vader,tcp: TCP over loopback);
#  3. one slurm/scaling.sbatch job per method config (jobs/scaling/{fedavg,bomm,fedmllm}.cfg) on 1, 2
#     and 4 nodes (1 host rank per node, the cloud beside the first), strong ($SCALING_PARTIES parties,
#     default 8) and weak ($SCALING_PER_HOST per host, default 2), each party with a fixed number of
#     rows (80 SynMM rows; 20 for the MLLM); and on one node 32 and 64 parties (16 and 32 for the
#     MLLM): the cloud's cost per party: runs/scaling/<method>/<point>/;
#  4. analysis/scaling.py over all of them (jobs/scaling/scaling.png, phases.png) and
#     analysis/scaling_model.py (the fit, docs/scaling_projection.png), then writes
#     jobs/scaling/RESULTS.md from those outputs alone.
# Open MPI gets btl self,vader,tcp restricted to loopback through the jobs' environment: ranks on one
# emulated node use shared memory, ranks on different ones TCP (RESULTS.md shows the loopback bytes of
# every point next to its MPI bytes). Stops the daemons at the end unless they were up before (or
# MMC_SLURM_KEEP=1). Env: SCALING_TIMEOUT (s, default 780) bounds the wait for the jobs.
set -euo pipefail
BIN=${1:-build/bin}
OUT=runs/scaling
RES=jobs/scaling
PY=/usr/bin/python3
T0=$EPOCHSECONDS
DESC=$(git describe --always --dirty 2>/dev/null || echo unknown) # before this run rewrites its outputs
say() { printf '[scaling %4ds | load %s] %s\n' $(( EPOCHSECONDS - T0 )) "$(cut -d' ' -f1-3 /proc/loadavg)" "$*"; }
for f in "$BIN/mmcollab" "$BIN/bench_pingpong" "$BIN/build_synmm" data/avfmnist_ci.h5 data/base/mllm_tiny.h5; do
  [ -e "$f" ] || { echo "run.sh: $f missing (make scaling builds it)" >&2; exit 1; }
done
[ "$(id -u)" = 0 ] || { echo "run.sh: must run as root (the local Slurm)" >&2; exit 1; }

export OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_tcp_if_include=lo OMPI_MCA_oob_tcp_if_include=lo

. slurm/local/lib.sh
was_up=0; slurm_alive "$CTLD_PID" slurmctld && was_up=1
jobs=()
finish() {
  for j in "${jobs[@]}"; do scancel "$j" 2>/dev/null || true; done
  if [ "$was_up" = 0 ] && [ "${MMC_SLURM_KEEP:-0}" != 1 ]; then slurm/local/stop.sh >/dev/null || true; fi
}
trap finish EXIT
slurm/local/start.sh --nodes 4 --cpus 8 | tail -1

mkdir -p build/scaling
[ -s build/scaling/synmm.h5 ] || "$BIN/build_synmm" --out build/scaling/synmm.h5 --train 12000 --test 500 >/dev/null
rm -rf "$OUT"; mkdir -p "$OUT"

say "ping-pong: shared memory, TCP on one node, TCP across two emulated nodes"
{
  OMPI_MCA_btl=self,vader srun -N 1 -n 2 --mpi=pmix "$BIN/bench_pingpong" | sed 's/$/ path=shm/'
  OMPI_MCA_btl=self,tcp srun -N 1 -n 2 --mpi=pmix "$BIN/bench_pingpong" | sed 's/$/ path=tcp-1node/'
  OMPI_MCA_btl=self,vader,tcp srun -N 2 -n 2 --mpi=pmix "$BIN/bench_pingpong" | sed 's/$/ path=tcp-2nodes/'
} > "$OUT/pingpong.txt"
grep '^bench pingpong' "$OUT/pingpong.txt"

export OMPI_MCA_btl=self,vader,tcp
for m in fedavg bomm fedmllm; do
  rows=80 sweep="32 64"
  [ "$m" = fedmllm ] && rows=20 sweep="16 32"
  j=$(SCALING_NODES="1 2 4" SCALING_DIR="$OUT/$m" SCALING_PARTIES=${SCALING_PARTIES:-8} \
      SCALING_PER_HOST=${SCALING_PER_HOST:-2} SCALING_MODES="strong weak parties" \
      SCALING_ROWS_PER_PARTY=$rows SCALING_PARTY_SWEEP=$sweep sbatch --parsable -N 4 --ntasks-per-node=2 -J "scaling-$m" -o "$OUT/$m.log" \
        slurm/scaling.sbatch "jobs/scaling/$m.cfg")
  jobs+=("$j"); say "submitted $m: job $j"
done
state() { scontrol -o show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p'; }
end=$(( EPOCHSECONDS + ${SCALING_TIMEOUT:-780} ))
for j in "${jobs[@]}"; do
  while :; do
    s=$(state "$j")
    case "$s" in COMPLETED|FAILED|CANCELLED|TIMEOUT|NODE_FAIL|OUT_OF_MEMORY) break ;; esac
    [ "$EPOCHSECONDS" -lt "$end" ] || { echo "run.sh: job $j still $s after ${SCALING_TIMEOUT:-780} s" >&2; exit 1; }
    sleep 2
  done
  say "job $j: $s"
  [ "$s" = COMPLETED ] || { tail -30 "$OUT"/*.log >&2; echo "run.sh: job $j $s" >&2; exit 1; }
done
jobs=()

say "analysis"
$PY analysis/scaling.py "$OUT"/*/*/ -o "$RES/scaling.png" --phases "$RES/phases.png" --md "$OUT/scaling.md" >/dev/null
$PY analysis/scaling_model.py "$OUT"/*/*/ --pingpong "$OUT/pingpong.txt" -o docs/scaling_projection.png \
  --md "$OUT/model.md" >/dev/null
$PY - "$OUT" > "$OUT/loopback.md" <<'EOF'
# Loopback bytes per point (every process on the machine) against the run's MPI bytes (all ranks, sent).
import glob, os, sys
import h5py
out = sys.argv[1]
print("| method | point | nodes | ranks | loopback bytes | MPI bytes sent (all ranks) |")
print("|---|---|---|---|---|---|")
for tsv in sorted(glob.glob(f"{out}/*/loopback.tsv")):
    m = os.path.basename(os.path.dirname(tsv))
    for line in open(tsv).read().splitlines()[1:]:
        point, nodes, ranks, lo = line.split("\t")
        with h5py.File(f"{out}/{m}/{point}/run.h5", "r") as f:
            sent = int(f["meta/mpi_bytes"][:, 0].sum())
        print(f"| {m} | {point} | {nodes} | {ranks} | {int(lo):,} | {sent:,} |")
EOF
{
  cat <<EOF
# The scaling study: results

Generated by \`make scaling\` (jobs/scaling/run.sh) from the runs in \`$OUT/\`; do not edit by hand
(docs/scaling.md explains the study, the model and its limits). mmcollab $DESC (the runs' /meta/git: $(for f in "$OUT"/*/*/run.h5; do h5dump -a /meta/git "$f"; done 2>/dev/null |
  sed -n 's/^ *(0): "\(.*\)"$/\1/p' | sort -u | tr '\n' ' ' | sed 's/ $//')),
$(date -u +%FT%TZ), load average before the analysis $(cut -d' ' -f1-3 /proc/loadavg), $(( EPOCHSECONDS - T0 )) s.

**The machine has 2 cores.** Every point with more than one host rank is oversubscribed (up to 5 ranks
and 4 slurmd), so the measured speedups say how the pipeline behaves when ranks share cores, not how it
scales on a cluster; the phases and the fitted model are the useful part.

Setup: 4 emulated Slurm nodes (one slurmd each) on one machine, one host rank per node, the cloud rank
beside the first; Open MPI with \`btl=self,vader,tcp\` on loopback: ranks on one node use shared memory,
ranks on different nodes TCP. Strong: ${SCALING_PARTIES:-8} parties; weak: ${SCALING_PER_HOST:-2} per host; each party
80 rows (SynMM) or 20 (the MLLM on AV-FashionMNIST's CI file); on one node also 32 and 64 parties (16 and 32 for the MLLM).
Configs: \`jobs/scaling/{fedavg,bomm,fedmllm}.cfg\` (fedavg/mllm = FedMLLM: FedAvg over the LoRA adapters).

## Speedup and efficiency (R = host ranks = nodes)

![scaling](scaling.png)

EOF
  cat "$OUT/scaling.md"
  cat <<EOF

![phases](phases.png)

## Interconnect (tests/bench/bench_pingpong.c, 2 ranks)

\`\`\`
$(grep '^bench pingpong' "$OUT/pingpong.txt")
\`\`\`

## TCP between emulated nodes

EOF
  cat "$OUT/loopback.md"
  cat <<EOF

## The model and the projection (analysis/scaling_model.py)

![projection](../../docs/scaling_projection.png)

EOF
  cat "$OUT/model.md"
} > "$RES/RESULTS.md"
say "wrote $RES/RESULTS.md, $RES/scaling.png, $RES/phases.png, docs/scaling_projection.png"
