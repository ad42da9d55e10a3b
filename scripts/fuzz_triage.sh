#!/usr/bin/env bash
# fuzz_triage.sh - one line per input that crashes a fuzz harness (docs/fuzzing.md): the kind of
# failure (the sanitizer's SUMMARY, a broken harness contract, libFuzzer's OOM or timeout) and the
# first frame in the project's own code (src/), then the distinct signatures with their counts.
# Runs make fuzz's binary (build-fuzz/bin/fuzz_NAME; make fuzz builds it) on each file.
# Usage: scripts/fuzz_triage.sh NAME [FILE|DIR ...]   (default: tests/fuzz/crashes/NAME)
set -uo pipefail
name=$1; shift
bin=${FUZZ_BIN:-build-fuzz/bin/fuzz_$name}
[ -x "$bin" ] || { echo "fuzz_triage: $bin not built (make fuzz FUZZ_S=1 builds it)" >&2; exit 2; }
[ $# -gt 0 ] || set -- "tests/fuzz/crashes/$name"
tmp=$(mktemp -d /dev/shm/mmc-triage.XXXXXX 2>/dev/null || mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sigs=$tmp/sigs
: > "$sigs"
for arg in "$@"; do
  if [ -d "$arg" ]; then files=$(find "$arg" -maxdepth 1 -type f ! -name '.*' | sort); else files=$arg; fi
  for f in $files; do
    out=$(MMC_FUZZ_TMP=$tmp MMC_FUZZ_AVOID=${MMC_FUZZ_AVOID:-} UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
          ASAN_OPTIONS=fast_unwind_on_malloc=0 timeout 120 "$bin" -rss_limit_mb=2048 -timeout=25 "$f" 2>&1)
    rc=$?
    kind=$(grep -m1 -oE 'SUMMARY: [A-Za-z]+: [a-z-]+( on [a-z-]+)?|fuzz contract broken: [^/]*/[^ ]* .{0,50}|LeakSanitizer: detected memory leaks|ERROR: libFuzzer: [a-z-]+|out-of-memory \(malloc\([0-9]+\)\)|runtime error: .{0,60}' <<<"$out" | head -1)
    kind=$(sed -E "s#/[^ ]*/mmc-fuzz\.[^/ ]*/#<tmp>/#g" <<<"$kind")
    [ -n "$kind" ] || kind=$([ $rc -eq 0 ] && echo "no crash (fixed?)" || echo "exit $rc")
    frame=$(grep -oE ' in [a-z_0-9]+ /[^ ]*/src/[a-z]+/[a-z_0-9]+\.c:[0-9]+' <<<"$out" | grep -vE 'src/core/(xalloc|die)\.c' | head -1 | sed -E 's# in ([^ ]+) .*/(src/[^ ]+)#\2 \1#')
    echo "$(basename "$f"): $kind @ ${frame:-?}"
    echo "$kind @ ${frame:-?}" >> "$sigs"
  done
done
echo "== distinct"
sort "$sigs" | uniq -c | sort -rn
