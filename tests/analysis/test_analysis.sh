#!/usr/bin/env bash
# test_analysis.sh BIN_DIR - end-to-end test of analysis/*.py on real run files (make test-analysis).
#
# Makes tiny runs (SynMM 800/200, 3 rounds): fedavg and local with seeds 1 and 2 at -np 3, and two
# fedavg runs at -np 2 for scaling; runs every script; checks the PNGs, recomputes the table's
# numbers straight from run.h5 with h5py (not through analysis/runs.py), checks one scaling
# efficiency by hand, and that a directory or file that is not a run is refused by name.
# Needs Debian's /usr/bin/python3 with python3-h5py, -matplotlib, -numpy (scripts/deps.sh analysis).
set -euo pipefail
BIN=${1:-build/bin}
PY=/usr/bin/python3
MPIRUN=${MPIRUN:-mpirun --oversubscribe}
HERE=$(cd "$(dirname "$0")/../.." && pwd)
A=$HERE/analysis
T=$(mktemp -d)
mkdir -p "$T/runs" "$T/scal" "$T/logs"
trap 'rm -rf "$T"' EXIT
fails=0
ok() { echo "  ok   $*"; }
bad() { echo "  FAIL $*"; fails=$((fails + 1)); }

"$PY" -c 'import h5py, matplotlib, numpy' || { echo "test_analysis: $PY lacks h5py/matplotlib/numpy: scripts/deps.sh analysis" >&2; exit 1; }

echo "== runs"
t0=$EPOCHREALTIME
"$BIN/build_synmm" --out "$T/syn.h5" --train 800 --test 200 >/dev/null
run() { # np name method seed parties
  $MPIRUN -np "$1" "$BIN/mmcollab" --data="$T/syn.h5" --out="$T/$2" --method="$3" --seed="$4" \
    --parties="$5" --rounds=3 --log-level=warn --ckpt-keep=1 >"$T/logs/${2//\//_}.log" 2>&1 ||
    { cat "$T/logs/${2//\//_}.log"; echo "test_analysis: run $2 failed" >&2; exit 1; }
}
for m in fedavg local; do for s in 1 2; do run 3 "runs/${m}_s$s" "$m" "$s" 4; done; done
run 2 scal/np2_p4 fedavg 1 4   # strong: 4 parties on 1 host vs runs/fedavg_s* on 2 hosts
run 2 scal/np2_p2 fedavg 1 2   # weak: 2 parties per host
RUNS=("$T"/runs/*)
ok "${#RUNS[@]} runs + 2 scaling runs in $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}") s"

echo "== --help"
for s in curves table bytes scaling; do
  if "$PY" "$A/$s.py" --help | grep -q usage; then ok "$s.py --help"; else bad "$s.py --help"; fi
done

echo "== PNGs"
"$PY" "$A/curves.py" "${RUNS[@]}" -o "$T/curves.png" >/dev/null
"$PY" "$A/bytes.py" "${RUNS[@]}" -o "$T/bytes.png" >/dev/null
"$PY" "$A/scaling.py" "$T"/runs/fedavg_* "$T"/scal/* -o "$T/scaling.png" --md "$T/scaling.md" >/dev/null 2>&1
# A PNG: the 8-byte signature, an IHDR chunk with a real size, and more than a blank image's bytes.
"$PY" - "$T"/{curves,bytes,scaling}.png >"$T/png.out" <<'EOF2' || true
import os, struct, sys
for p in sys.argv[1:]:
    b = open(p, "rb").read()
    w, h = struct.unpack(">II", b[16:24]) if len(b) >= 24 else (0, 0)
    good = b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and w >= 400 and h >= 200 and len(b) > 20000
    print("ok" if good else "bad", os.path.basename(p), f"{w}x{h}, {len(b)} bytes")
EOF2
for p in curves bytes scaling; do
  line=$(grep " $p.png " "$T/png.out" || echo "bad $p.png missing")
  case $line in ok*) ok "${line#ok }";; *) bad "${line#bad }";; esac
done

echo "== table"
"$PY" "$A/table.py" "${RUNS[@]}" --md "$T/table.md" --csv "$T/table.csv" >"$T/stdout.md"
cmp -s "$T/stdout.md" "$T/table.md" && ok "stdout = --md" || bad "stdout differs from --md"
# Independent recomputation: final = last non-NaN value of the series; std = sample std (n-1).
if "$PY" - "$T/table.md" "$T/table.csv" "$T/runs" <<'EOF'; then ok "table rows = recomputed means ± stds"; else bad "table"; fi
import csv, glob, math, statistics, sys
import h5py
md, csvp, runs = sys.argv[1:]
want = {}
for d in sorted(glob.glob(runs + "/*")):
    with h5py.File(d + "/run.h5", "r") as f:
        m = f["meta"].attrs["method"].decode()
        fin = lambda s: ([v for v in f["metrics"][s][()] if not math.isnan(v)] or [math.nan])[-1]
        want.setdefault(m, []).append((fin("test_acc"), fin("party_test_acc_mean"),
                                       f["metrics/bytes_up"][()].mean(), f["metrics/bytes_down"][()].mean()))
assert sorted(want) == ["fedavg", "local"], want
rows = [l for l in open(md) if l.startswith("| ") and not l.startswith("| method")]
assert len(rows) == 2, rows
got = {r["method"]: r for r in csv.DictReader(open(csvp))}
for m, vals in want.items():
    cells = [c.strip() for c in next(r for r in rows if r.startswith(f"| {m} |")).strip("|\n").split("|")]
    assert cells[3] == "2" and cells[4] == "3", cells
    for i, s in enumerate(["test_acc", "party_test_acc_mean", "bytes_up", "bytes_down"]):
        xs = [v[i] for v in vals]
        if any(math.isnan(x) for x in xs):  # local has no global model
            assert m == "local" and s == "test_acc" and cells[5] == "—", (m, s, cells)
            continue
        mean, sd = statistics.mean(xs), statistics.stdev(xs)
        assert abs(float(got[m][s + "_mean"]) - mean) <= 1e-12, (m, s, got[m][s + "_mean"], mean)
        assert abs(float(got[m][s + "_std"]) - sd) <= 1e-12, (m, s, got[m][s + "_std"], sd)
        if i < 2:
            assert cells[5 + i] == f"{mean:.4f} ± {sd:.4f}", (m, s, cells[5 + i], mean, sd)
        print(f"       {m:7s} {s:20s} {mean:.6g} ± {sd:.3g}")
assert want["fedavg"][0][0] != want["fedavg"][1][0] or want["fedavg"][0][1] != want["fedavg"][1][1], \
    "seeds 1 and 2 gave identical results: the std check would prove nothing"
EOF

echo "== scaling"
# Strong, 4 parties: T1 = np2_p4 on 1 host; T = mean of the two -np 3 fedavg runs on 2 hosts.
if "$PY" - "$T" <<'EOF'; then ok "scaling efficiencies = recomputed"; else bad "scaling"; fi
import statistics, sys
import h5py
t = sys.argv[1]
T = lambda d: statistics.median(h5py.File(f"{t}/{d}/run.h5", "r")["metrics/round_ms"][1:])
t1, t2 = T("scal/np2_p4"), statistics.mean([T("runs/fedavg_s1"), T("runs/fedavg_s2")])
w1 = T("scal/np2_p2")
rows = [[c.strip() for c in l.strip("|\n").split("|")] for l in open(f"{t}/scaling.md") if l.startswith("| s") or l.startswith("| w")]
strong = {int(r[3]): r for r in rows if r[0] == "strong" and r[2] == "4"}
weak = {int(r[3]): r for r in rows if r[0] == "weak"}
assert sorted(strong) == [1, 2] and sorted(weak) == [1, 2], rows
assert strong[2][7] == f"{t1 * 1 / (t2 * 2):.3f}" and strong[2][6] == f"{t1 / t2:.2f}", (strong, t1, t2)
assert weak[2][7] == f"{w1 / t2:.3f}" and weak[1][7] == "1.000", (weak, w1, t2)
print(f"       strong eff {strong[2][7]}, weak eff {weak[2][7]}")
EOF

echo "== not a run"
mkdir "$T/notarun"
for s in curves table bytes scaling; do
  out=(-o "$T/x.png"); [ $s = table ] && out=()
  if "$PY" "$A/$s.py" "$T/notarun" "${out[@]}" >"$T/out" 2>"$T/err"; then
    bad "$s.py accepted a directory without run.h5"
  elif grep -q "notarun/run.h5: no such file" "$T/err"; then ok "$s.py: $(head -c 100 "$T/err")"
  else bad "$s.py: unclear error: $(cat "$T/err")"; fi
done
check_refused() { # expected-substring path...
  local want=$1; shift
  if "$PY" "$A/table.py" "$@" >"$T/out" 2>"$T/err"; then bad "table.py accepted $*"
  elif grep -q "$want" "$T/err"; then ok "table.py: $(head -c 100 "$T/err")"
  else bad "table.py $*: unclear error: $(cat "$T/err")"; fi
}
check_refused "syn.h5: not an mmcollab run file" "$T/syn.h5"   # an HDF5 file, but a dataset
check_refused "metrics.csv: not an HDF5 file" "$T/runs/fedavg_s1/metrics.csv"
# One bad path among good ones still fails the whole command.
check_refused "notarun/run.h5: no such file" "$T/runs/fedavg_s1" "$T/notarun"

took=$(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t0}")
[ $fails -eq 0 ] && echo "test_analysis: all passed in $took s" || { echo "test_analysis: $fails failed"; exit 1; }
