#!/usr/bin/env bash
# blas_core.sh CHECK_BIN [-- CMD...] - run CMD under the fastest OpenBLAS core type that computes
# right on this CPU, for `make run`, `make bench` and the tables (never for `make check`, which runs
# under the core type the machine's environment sets).
#
# OpenBLAS 0.3.21 takes AVX-512 CPUs it does not know for AVX2 ones (and some hosts preset
# OPENBLAS_CORETYPE=Haswell because older builds misbehave on their CPUs), so its AVX-512 kernels,
# about twice as fast, go unused. Each candidate core type is tried first in a process of its own,
# CHECK_BIN (build/bin/blas_check: sgemm and dgemm against a triple loop on random matrices; the
# kernels are chosen when the library loads, hence a separate process); the first that passes is
# used, else the environment's own setting is left as it was. Candidates: $MMC_BLAS_CANDIDATES
# (space-separated) when set, else SkylakeX on a CPU with avx512f. One line on stderr says what
# was chosen and why:
#   # OpenBLAS core type: SkylakeX (self-check passed: blas_check core=SkylakeX cases=480 worst=0.002 ok)
# Without CMD, prints the chosen OPENBLAS_CORETYPE value on stdout ("" = unset) and exits.
set -uo pipefail
check=${1:?usage: scripts/blas_core.sh CHECK_BIN [-- CMD...]}; shift
[ "${1:-}" = "--" ] && shift
[ -x "$check" ] || { echo "blas_core.sh: $check is not built (make $check)" >&2; exit 2; }

preset_set=${OPENBLAS_CORETYPE+x}
preset=${OPENBLAS_CORETYPE-}
if [ -n "${MMC_BLAS_CANDIDATES+x}" ]; then candidates=$MMC_BLAS_CANDIDATES
elif grep -qw avx512f /proc/cpuinfo 2>/dev/null; then candidates=SkylakeX
else candidates=""; fi

chosen=$preset chosen_set=$preset_set
why="the environment's ${preset_set:+OPENBLAS_CORETYPE=$preset}${preset_set:-default (OPENBLAS_CORETYPE unset)}"
why="$why; no faster candidate for this CPU"
for c in $candidates; do
  [ "$c" = "$preset" ] && [ -n "$preset_set" ] && { why="the environment's OPENBLAS_CORETYPE=$c"; break; }
  out=$(OPENBLAS_CORETYPE=$c OPENBLAS_NUM_THREADS=1 "$check" 2>&1); rc=$?
  if [ $rc -eq 0 ]; then
    chosen=$c chosen_set=x why="self-check passed: $out"; break
  fi
  sig=""; [ $rc -gt 128 ] && sig=" (killed by signal $((rc - 128))$([ $rc -eq 132 ] && echo ": illegal instruction"))"
  why="$c failed its self-check${sig}: ${out:-no output}; keeping the environment's ${preset_set:+OPENBLAS_CORETYPE=$preset}${preset_set:-default (OPENBLAS_CORETYPE unset)}"
done

# What the library will actually load under the choice (blas_check prints it as core=...).
loaded=$(if [ -n "$chosen_set" ]; then OPENBLAS_CORETYPE=$chosen "$check"; else env -u OPENBLAS_CORETYPE "$check"; fi 2>/dev/null |
         sed -n 's/.*core=\([^ ]*\).*/\1/p')
echo "# OpenBLAS core type: ${loaded:-?} (${why})" >&2
if [ $# -eq 0 ]; then
  [ -n "$chosen_set" ] && echo "$chosen" || echo ""
  exit 0
fi
if [ -n "$chosen_set" ]; then exec env OPENBLAS_CORETYPE="$chosen" "$@"; else exec env -u OPENBLAS_CORETYPE "$@"; fi
