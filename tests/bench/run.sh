#!/usr/bin/env bash
# run.sh BIN_DIR - `make bench`: training steps of the src/nn layers against PyTorch, and sgemm.
#
# For each OpenBLAS core type (the environment's preset, then SkylakeX when the CPU has AVX-512F and
# SkylakeX passes scripts/blas_core.sh's self-check: on such CPUs the Haswell kernels run at about
# half the AVX-512 speed) and threads = 1, 2:
# three rounds, each running bench_train (all three models) and then torch_steps.py under the same
# OPENBLAS_CORETYPE / OPENBLAS_NUM_THREADS / OMP_NUM_THREADS; the best of the three rounds counts.
# At 2 threads PyTorch runs under both OMP_WAIT_POLICY=PASSIVE and ACTIVE (its intra-op pool is
# libgomp's) and the better of the two is reported, with a note saying which. Output, per core type
# a header line, then exactly one line per case:
#   bench model=<m> threads=<t> mmcollab_steps_per_s=<x> pytorch_steps_per_s=<y> ratio=<x/y>
#   bench sgemm n=<n> threads=<t> gflops=<g> peak_gflops=<p> share_of_peak=<g/p>
# and the multimodal LLM (bench_mllm / torch_mllm.py, same rounds and thread settings):
#   bench model=mllm threads=<t> mmcollab_steps_per_s=<x> pytorch_steps_per_s=<y> ratio=<x/y> sgemm_share=<s>
#         ms_per_step=<best step> gflops=<g>
#   bench model=mllm_gen threads=<t> mmcollab_tokens_per_s=<x> pytorch_tokens_per_s=<y> ratio=<x/y>
# and BoMM's cloud models (bench_mm_large, no PyTorch side), then sgemm:
#   bench model=mm_large|generator threads=<t> ms_per_step=<x> gflops=<g> sgemm_share=<s>
# and last, once, the run-file writer alone (bench_runfile, no training):
#   bench runfile parties=10000 rounds=1000 ms_first=<a> ms_last=<b>
# Lines starting with # are notes. About 2.5 minutes on 2 quiet cores (+ ~1.5 for the mllm lines).
set -euo pipefail

bin=${1:?usage: tests/bench/run.sh BIN_DIR}
here=$(cd "$(dirname "$0")" && pwd)
# Debian's interpreter: the python3 on PATH may be another one without python3-torch.
py=/usr/bin/python3
rounds=${BENCH_ROUNDS:-3}
min_time=${BENCH_MIN_TIME:-0.5}
threads_list=${BENCH_THREADS:-1 2}

[ -x "$bin/bench_train" ] && [ -x "$bin/bench_sgemm" ] && [ -x "$bin/bench_mllm" ] || { echo "run.sh: build $bin/bench_train, bench_sgemm and bench_mllm first (make bench)" >&2; exit 1; }
"$py" -c 'import torch' 2>/dev/null || { echo "run.sh: $py has no torch: scripts/deps.sh bench installs python3-torch" >&2; exit 1; }

preset_set=${OPENBLAS_CORETYPE+x}
preset=${OPENBLAS_CORETYPE-}
coretypes=("${preset:-<unset>}")
# A faster core type only when it passes the self-check (scripts/blas_core.sh: SkylakeX on an
# AVX-512 CPU, sgemm/dgemm against a triple loop); its one-line verdict goes to stderr.
[ -x "$bin/blas_check" ] || { echo "run.sh: build $bin/blas_check first (make bench)" >&2; exit 1; }
faster=$("$here/../../scripts/blas_core.sh" "$bin/blas_check")
if [ -n "$faster" ] && [ "$faster" != "$preset" ]; then coretypes+=("$faster"); fi

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# best FILE MODEL [FIELD]: the largest FIELD (default steps_per_s) of MODEL over the rounds in FILE.
best() {
  awk -v m="$2" -v f="${3:-steps_per_s}=" '$1 == "train" && $2 == "model=" m {
      for (i = 3; i <= NF; i++)
        if (index($i, f) == 1) { v = substr($i, length(f) + 1) + 0; if (v > b) b = v }
    } END { printf "%.2f", b }' "$1"
}

# with_core CT CMD...: CMD under OPENBLAS_CORETYPE=CT (<unset> unsets it, as the preset was).
with_core() {
  local ct=$1; shift
  if [ "$ct" = "<unset>" ] && [ -z "$preset_set" ]; then env -u OPENBLAS_CORETYPE "$@"
  else env OPENBLAS_CORETYPE="${ct#<unset>}" "$@"; fi
}

models="mlp cnn transformer"
echo "# load average before the run: $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (other jobs distort wall-clock figures)"
for ct in "${coretypes[@]}"; do
  label=$([ "$ct" = "${preset:-<unset>}" ] && echo "preset" || echo "faster, passed the self-check")
  core=$(with_core "$ct" "$bin/bench_train" model=mlp min_time=0.01 | sed -n 's/.* core=\([^ ]*\).*/\1/p')
  echo "== OPENBLAS_CORETYPE=$ct ($label): OpenBLAS runs its $core kernels, for both sides"
  for t in $threads_list; do
    c_out=$tmp/c_${t}; p_out=$tmp/p_${t}; pa_out=$tmp/pa_${t}
    : > "$c_out"; : > "$p_out"; : > "$pa_out"
    export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t
    for ((r = 1; r <= rounds; r++)); do
      with_core "$ct" "$bin/bench_train" threads="$t" min_time="$min_time" >> "$c_out"
      if [ "$t" -gt 1 ]; then
        with_core "$ct" env OMP_WAIT_POLICY=PASSIVE "$py" "$here/torch_steps.py" threads="$t" min_time="$min_time" >> "$p_out"
        with_core "$ct" env OMP_WAIT_POLICY=ACTIVE "$py" "$here/torch_steps.py" threads="$t" min_time="$min_time" >> "$pa_out"
      else
        with_core "$ct" "$py" "$here/torch_steps.py" threads="$t" min_time="$min_time" >> "$p_out"
      fi
    done
    for m in $models; do
      # The two sides must train the same model: equal parameter counts at least.
      pc=$(best "$c_out" "$m" params); pp=$(best "$p_out" "$m" params)
      [ "$pc" = "$pp" ] || { echo "run.sh: $m has $pc parameters in C but $pp in PyTorch" >&2; exit 1; }
      x=$(best "$c_out" "$m"); y=$(best "$p_out" "$m")
      if [ "$t" -gt 1 ]; then
        ya=$(best "$pa_out" "$m")
        pick=PASSIVE
        if awk -v a="$ya" -v p="$y" 'BEGIN { exit !(a > p) }'; then pick=ACTIVE; fi
        echo "# pytorch model=$m threads=$t OMP_WAIT_POLICY: PASSIVE=$y ACTIVE=$ya steps/s -> reporting $pick"
        [ $pick = ACTIVE ] && y=$ya
      fi
      ratio=$(awk -v x="$x" -v y="$y" 'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }')
      echo "bench model=$m threads=$t mmcollab_steps_per_s=$x pytorch_steps_per_s=$y ratio=$ratio"
      if [ "$t" = 1 ]; then # per CPU-second: close to the quiet-machine figures even under load
        xc=$(best "$c_out" "$m" cpu_steps_per_s); yc=$(best "$p_out" "$m" cpu_steps_per_s)
        echo "# cpu-time model=$m threads=1 mmcollab=$xc pytorch=$yc ratio=$(awk -v x="$xc" -v y="$yc" 'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }')"
      fi
    done
  done
  # The multimodal LLM (issue 12): a LoRA fine-tuning step and 32 greedy cached tokens, both sides
  # on the weights and prompts of one file that the first bench_mllm run writes ($tmp/mllm.h5).
  for t in $threads_list; do
    c_out=$tmp/mc_${t}; p_out=$tmp/mp_${t}; pa_out=$tmp/mpa_${t}
    : > "$c_out"; : > "$p_out"; : > "$pa_out"
    export OPENBLAS_NUM_THREADS=$t OMP_NUM_THREADS=$t
    for ((r = 1; r <= rounds; r++)); do
      for m in mllm mllm_gen; do
        with_core "$ct" "$bin/bench_mllm" model=$m threads="$t" min_time="$min_time" dump="$tmp/mllm.h5" >> "$c_out"
        if [ "$t" -gt 1 ]; then
          with_core "$ct" env OMP_WAIT_POLICY=PASSIVE "$py" "$here/torch_mllm.py" model=$m threads="$t" min_time="$min_time" dump="$tmp/mllm.h5" >> "$p_out"
          with_core "$ct" env OMP_WAIT_POLICY=ACTIVE "$py" "$here/torch_mllm.py" model=$m threads="$t" min_time="$min_time" dump="$tmp/mllm.h5" >> "$pa_out"
        else
          with_core "$ct" "$py" "$here/torch_mllm.py" model=$m threads="$t" min_time="$min_time" dump="$tmp/mllm.h5" >> "$p_out"
        fi
      done
    done
    if [ "$t" = "${threads_list%% *}" ] && [ "$ct" = "${coretypes[0]}" ]; then
      echo "# mllm: $(awk '$2 == "model=mllm" { for (i = 3; i <= NF; i++) if ($i ~ /^(base|B|T|params|trainable)=/) printf "%s ", $i; exit }' "$c_out")(4 test rows of avfmnist_small.h5, image+audio+text)"
    fi
    for m in mllm mllm_gen; do
      f=steps_per_s; [ $m = mllm_gen ] && f=tokens_per_s
      pc=$(best "$c_out" "$m" params); pp=$(best "$p_out" "$m" params)
      [ "$pc" = "$pp" ] || { echo "run.sh: $m has $pc parameters in C but $pp in PyTorch" >&2; exit 1; }
      x=$(best "$c_out" "$m" $f); y=$(best "$p_out" "$m" $f)
      if [ "$t" -gt 1 ]; then
        ya=$(best "$pa_out" "$m" $f)
        pick=PASSIVE
        if awk -v a="$ya" -v p="$y" 'BEGIN { exit !(a > p) }'; then pick=ACTIVE; fi
        echo "# pytorch model=$m threads=$t OMP_WAIT_POLICY: PASSIVE=$y ACTIVE=$ya -> reporting $pick"
        [ $pick = ACTIVE ] && y=$ya
      fi
      ratio=$(awk -v x="$x" -v y="$y" 'BEGIN { printf "%.2f", (y > 0 ? x / y : 0) }')
      if [ $m = mllm ]; then
        share=$(best "$c_out" mllm sgemm_share)
        # the fastest step of the rounds (best_ms) and its GEMM rate, as the cloud models' lines
        msg=$(awk '$2 == "model=mllm" { for (i = 3; i <= NF; i++) { split($i, f, "="); v[f[1]] = f[2] }
                     if (!n++ || v["best_ms"] + 0 < b) { b = v["best_ms"] + 0; g = v["gflops"] } }
                   END { printf "ms_per_step=%.3f gflops=%s", b, g }' "$c_out")
        echo "bench model=mllm threads=$t mmcollab_steps_per_s=$x pytorch_steps_per_s=$y ratio=$ratio sgemm_share=$share $msg"
      else
        echo "bench model=mllm_gen threads=$t mmcollab_tokens_per_s=$x pytorch_tokens_per_s=$y ratio=$ratio"
        ci=$(awk '$2 == "model=mllm_gen" { for (i = 3; i <= NF; i++) if ($i ~ /^ids=/) { print $i; exit } }' "$c_out")
        pi=$(awk '$2 == "model=mllm_gen" { for (i = 3; i <= NF; i++) if ($i ~ /^ids=/) { print $i; exit } }' "$p_out")
        [ "$ci" = "$pi" ] || echo "# mllm_gen: the two sides generated different tokens: C $ci, PyTorch $pi"
      fi
    done
  done
  # BoMM's cloud models (issue 17): the MM-LM and a completion generator, one training step each
  # at BoMM's defaults (tests/bench/bench_mm_large.c), no PyTorch twin: against sgemm alone at the
  # step's GEMM shapes (sgemm_share). Per thread count, the round with the fastest step counts.
  [ -x "$bin/bench_mm_large" ] || { echo "run.sh: build $bin/bench_mm_large first (make bench)" >&2; exit 1; }
  for t in $threads_list; do
    for m in mm_large generator; do
      out=$tmp/cloud_${m}_${t}; : > "$out"
      for ((r = 1; r <= rounds; r++)); do
        with_core "$ct" env OPENBLAS_NUM_THREADS="$t" "$bin/bench_mm_large" model=$m threads="$t" min_time="$min_time" >> "$out"
      done
      awk '$1 == "bench" { split($4, f, "="); if (!n++ || f[2] + 0 < bms) { bms = f[2] + 0; line = $0 } }
           END { if (n) print line }' "$out"
    done
  done
  for t in $threads_list; do
    with_core "$ct" env OPENBLAS_NUM_THREADS="$t" "$bin/bench_sgemm" threads="$t"
  done
done

# The run-file writer alone (tests/bench/bench_runfile.c): the mean ms of one round's append at
# 10,000 parties over the first and over the last 10 of 1,000 rounds (~1.2 GB written under $tmp).
"$bin/bench_runfile" parties=10000 rounds=1000 dir="$tmp"
