#!/usr/bin/env bash
# bench_parties.sh - how the pipeline scales with the number of parties (issue 4, item 13).
#
# Runs fedavg for ROUNDS rounds with RANKS ranks (1 cloud + RANKS-1 hosts) on one SynMM file for
# each P in PARTIES and prints, per P, exactly
#   bench parties=<P> ranks=<R> s_per_round=<x> rss_mib_rank0=<a> rss_mib_max_host=<b>
# then the per-party costs: least-squares slopes of peak RSS (bytes per party) and of seconds per
# round (microseconds per party) against P. Figures come from each run's run.h5 (never the log):
# s_per_round is the mean of /metrics/round_ms, the RSS figures are /meta/peak_rss_kib (getrusage
# high-water marks, setup included).
#
# The total row count is fixed (TRAIN + TEST rows), so the data a host holds is the same for every
# P and the RSS slope is the per-party overhead on top of the data. The default file is sized for
# the largest P: the iid scenario apportions each label on its own and hands a label's remainder
# to the lowest-numbered parties, so party P-1 gets a row only when some label has at least P
# units in the role. With 10 SynMM labels that takes ~10 P rows in each role: 1,200,000 train rows
# (of which --val-fraction's 10% are held out: ~108,000 a label) and 1,100,000 test rows (~110,000 a
# label) give each of 100,000 parties ~10 training and ~11 test rows. A smaller file leaves the
# highest-numbered parties without rows (a 1,100,000-row train split left 375 of them empty); they
# then skip training and the per-party cost is understated. ROWS_PER_PARTY=N switches to a
# file per P with N training rows per party (weak scaling); the data then grows with P and its
# exact size (rows x row bytes) is subtracted from the slope, but the HDF5 chunk caches (up to
# 4 MiB per dataset and split, kept while the file is open) still grow with the file until they
# saturate, so that slope is an upper bound at small P.
#
# Usage: tests/bench/bench_parties.sh BIN_DIR   (make bench-parties)
# Environment: PARTIES ("100 1000 10000 100000"), RANKS (2), ROUNDS (3), TRAIN (1200000),
#   TEST (1100000),
#   ROWS_PER_PARTY (0 = off), SCENARIO (iid), WORK (build/bench/parties), MPIRUN.
set -euo pipefail

BIN=${1:?usage: bench_parties.sh BIN_DIR}
PARTIES=${PARTIES:-"100 1000 10000 100000"}
RANKS=${RANKS:-2}
ROUNDS=${ROUNDS:-3}
TRAIN=${TRAIN:-1200000}
TEST=${TEST:-1100000}
ROWS_PER_PARTY=${ROWS_PER_PARTY:-0}
SCENARIO=${SCENARIO:-iid}
WORK=${WORK:-build/bench/parties}
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
# SynMM's layout, fixed here so that the row size below is exact: two float32 vector modalities
# and int32 text, plus the int32 label and the uint8 modality mask a party keeps per row.
DIMS_A=32 DIMS_B=64 TEXT_LEN=8
ROW_BYTES=$(( 4 * DIMS_A + 4 * DIMS_B + 4 * TEXT_LEN + 4 + 1 ))

mkdir -p "$WORK"

# The values of the first DATA block of one dataset (attributes have DATA blocks too).
h5vals() {
  h5dump -y -w 0 -d "$2" "$1" |
    awk '/DATA \{/ && !done { f = 1; next } f && /\}/ { f = 0; done = 1 } f { gsub(/,/, " "); printf "%s ", $0 }'
}

synmm() { # train test -> path (built once, reused by later runs)
  local f="$WORK/synmm_tr$1_te$2.h5"
  if [ ! -f "$f" ]; then
    "$BIN/build_synmm" --out "$f" --train "$1" --test "$2" --dims "$DIMS_A,$DIMS_B" \
      --text-len "$TEXT_LEN" --per-entity 1 >/dev/null
  fi
  echo "$f"
}

# Seconds per round are wall-clock: on a shared machine read them with the load beside them.
echo "  (host $(hostname), $(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg))"
results=()
for P in $PARTIES; do
  if [ "$ROWS_PER_PARTY" -gt 0 ]; then
    train=$(( ROWS_PER_PARTY * P )); test=$(( train / 10 > P ? train / 10 : P ))
  else
    train=$TRAIN; test=$TEST
  fi
  data=$(synmm "$train" "$test")
  out="$WORK/run_p$P"
  rm -rf "$out"
  t0=$(date +%s.%N)
  if ! $MPIRUN -np "$RANKS" "$BIN/mmcollab" --data="$data" --scenario="$SCENARIO" --method=fedavg \
      --parties="$P" --rounds="$ROUNDS" --out="$out" >"$out.log" 2>&1; then
    echo "bench_parties: P=$P failed; the end of $out.log:" >&2
    tail -20 "$out.log" >&2
    exit 1
  fi
  t1=$(date +%s.%N)
  read -r s a b < <(echo "$(h5vals "$out/run.h5" /metrics/round_ms) | $(h5vals "$out/run.h5" /meta/peak_rss_kib)" |
    awk -F'|' '{ n = split($1, ms, " "); t = 0; for (i = 1; i <= n; i++) t += ms[i];
                 m = split($2, kib, " "); h = 0; for (i = 2; i <= m; i++) if (kib[i] > h) h = kib[i];
                 printf "%.3f %.1f %.1f\n", t / n / 1e3, kib[1] / 1024, h / 1024 }')
  echo "bench parties=$P ranks=$RANKS s_per_round=$s rss_mib_rank0=$a rss_mib_max_host=$b"
  awk -v P="$P" -v w="$t0" -v w1="$t1" -v tr="$train" -v te="$test" -v rb="$ROW_BYTES" \
    'BEGIN { printf "  (P=%d: wall %.1f s with setup and run-file/checkpoint writes; data %d+%d rows x %d B = %.1f MiB)\n",
             P, w1 - w, tr, te, rb, (tr + te) * rb / 1048576 }'
  # the rows of one host: parties are placed in equal blocks on RANKS-1 hosts
  results+=("$P $s $a $b $(( (train + test) * ROW_BYTES / (RANKS - 1) ))")
done

# Least-squares slopes against P (two or more sizes).
if [ "${#results[@]}" -ge 2 ]; then
  printf '%s\n' "${results[@]}" | awk '
    { n++; x[n] = $1; t[n] = $2; r0[n] = $3 * 1048576; h[n] = $4 * 1048576 - $5; d[n] = $5 }
    function slope(y,   i, mx, my, sxy, sxx) {
      mx = my = 0; for (i = 1; i <= n; i++) { mx += x[i]; my += y[i] } mx /= n; my /= n
      sxy = sxx = 0; for (i = 1; i <= n; i++) { sxy += (x[i] - mx) * (y[i] - my); sxx += (x[i] - mx) ^ 2 }
      icpt = my - sxy / sxx * mx
      return sxy / sxx }
    END {
      b = slope(h); printf "per-party host memory beyond its data rows: %.0f bytes/party (target <= 1024; fedavg parties hold no model)\n", b
      b = slope(r0); printf "per-party cloud (rank 0) memory: %.0f bytes/party\n", b
      if (n >= 3) { # the largest two sizes alone: the cost per party where it matters most
        printf "between P=%d and P=%d: host %.0f B/party, cloud %.0f B/party, %.1f us/party per round\n",
          x[n-1], x[n], (h[n] - h[n-1]) / (x[n] - x[n-1]), (r0[n] - r0[n-1]) / (x[n] - x[n-1]),
          (t[n] - t[n-1]) / (x[n] - x[n-1]) * 1e6 }
      b = slope(t); printf "time per round: %.3f s + %.1f us/party (fit over P)\n", icpt, b * 1e6
      for (i = 1; i <= n; i++) printf "  P=%d: s_per_round %.3f, linear fit %.3f\n", x[i], t[i], icpt + b * x[i]
    }'
fi
