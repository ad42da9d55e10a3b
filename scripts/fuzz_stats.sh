#!/usr/bin/env bash
# fuzz_stats.sh - one line of figures for a make fuzz run of one harness (docs/fuzzing.md), from
# libFuzzer's fork-mode log: executions, exec/s over the whole run, coverage, the corpus before
# and after the merge, and the crashes / OOMs / timeouts it saved.
# Usage: scripts/fuzz_stats.sh LOG CORPUS_DIR INPUTS_BEFORE CRASH_DIR CRASH_FILES_BEFORE
set -euo pipefail
log=$1 corpus=$2 before=$3 crashes=$4 found_before=$5
name=$(basename "$corpus")
# The last status line: "#N: cov: C ft: F corp: K exec/s E oom/timeout/crash: a/b/c time: Ts ..."
last=$(grep -E '^#[0-9]+: cov:' "$log" | tail -1 || true)
if [ -z "$last" ]; then
  echo "   fuzz_$name: no status line in $log (did it start?):"; tail -5 "$log" | sed 's/^/     /'
  exit 0
fi
execs=$(sed -E 's/^#([0-9]+):.*/\1/' <<<"$last")
cov=$(sed -E 's/.* cov: ([0-9]+) .*/\1/' <<<"$last")
secs=$(sed -E 's/.* time: ([0-9]+)s.*/\1/' <<<"$last")
bad=$(sed -E 's#.* oom/timeout/crash: ([0-9]+/[0-9]+/[0-9]+) .*#\1#' <<<"$last")
after=$(find "$corpus" -maxdepth 1 -type f | wc -l)
now=$(find "$crashes" -maxdepth 1 -type f ! -name '.*' | wc -l)
echo "   fuzz_$name: $execs executions in ${secs} s ($((execs / (secs > 0 ? secs : 1))) exec/s)," \
  "coverage $cov, corpus $before -> $after inputs, oom/timeout/crash $bad," \
  "$((now - found_before)) new file(s) in $crashes"
