#!/usr/bin/env bash
# summarize.sh DIR - a Markdown table of the runs under DIR (each directory with a metrics.csv):
# ranks and parties from run.h5, the last row of metrics.csv, and the mean round_ms over rounds 2..N
# (round 1 pays the start-up). Reads run files only, never logs. Exit 1 if DIR holds no run.
set -euo pipefail
attr() { h5dump -a "$2" "$1" 2>/dev/null | sed -n 's/^ *(0): "\{0,1\}\([^"]*\)"\{0,1\}$/\1/p' | head -1; }
runs=$(find "$1" -name metrics.csv -printf '%h\n' | sort)
[ -n "$runs" ] || { echo "summarize.sh: no metrics.csv under $1" >&2; exit 1; }
echo "| run | method | ranks | parties | rounds | test_loss | test_acc | party_test_acc_mean | round_ms (mean 2..N) |"
echo "|---|---|---|---|---|---|---|---|---|"
for d in $runs; do
  awk -F, -v run="${d#"$1"/}" -v method="$(attr "$d/run.h5" /config/method)" \
      -v ranks="$(attr "$d/run.h5" /meta/world_size)" -v parties="$(attr "$d/run.h5" /config/parties)" '
    NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { last = $0; if ($1 > 1) { ms += $c["round_ms"]; n++ } }
    function f(x) { return x ~ /^[0-9.eE+-]+$/ ? sprintf("%.4f", x) : "-" } # not evaluated that round
    END { split(last, v, ","); printf "| %s | %s | %s | %s | %d | %s | %s | %s | %.2f |\n", run, method, ranks,
          parties, v[c["round"]], f(v[c["test_loss"]]), f(v[c["test_acc"]]), f(v[c["party_test_acc_mean"]]),
          n ? ms / n : 0 }' "$d/metrics.csv"
done
