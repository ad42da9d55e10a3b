#!/usr/bin/env bash
# test_analysis.sh BIN_DIR - end-to-end test of analysis/*.py on real run files (make test-analysis).
#
# Makes tiny runs (SynMM 800/200, 3 rounds): fedavg and local with seeds 1 and 2 at -np 3, and two
# fedavg runs at -np 2 for scaling; runs every script; checks the PNGs, recomputes the table's
# numbers (accuracies, payload and MPI bytes) straight from run.h5 with h5py (not through
# analysis/runs.py), checks the byte series (payload_*, mpi_bytes_*, /meta/mpi_bytes) and that the
# payload is the same at -np 2 and 3, reads an old-style run file (bytes_*, attribute timing; made
# by renaming a copy with h5py), checks one scaling efficiency by hand, and that a directory or
# file that is not a run is refused by name. Then a tiny
# sweep manifest through analysis/run_manifest.sh (fedavg, local, fedprox --fedprox.mu=0.1 on two
# scenarios, and a line with a bad option): the bad line fails by name while the others finish,
# finished runs are skipped, the directories are those of slurm/sweep.sbatch, and
# analysis/bomm_table.py's table equals numbers recomputed with h5py.
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
for s in curves table bytes scaling bomm_table; do
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
# Independent recomputation: final = last non-NaN value of the series; std = sample std (n-1); the
# byte columns = the mean over rounds of payload_up, payload_down, mpi_bytes_sent, mpi_bytes_recv.
if "$PY" - "$T/table.md" "$T/table.csv" "$T/runs" <<'EOF'; then ok "table rows = recomputed means ± stds (accuracies, payload and MPI bytes)"; else bad "table"; fi
import csv, glob, math, statistics, sys
import h5py
md, csvp, runs = sys.argv[1:]
BYTES = ["payload_up", "payload_down", "mpi_bytes_sent", "mpi_bytes_recv"]
S = ["test_acc", "party_test_acc_mean"] + BYTES
want = {}
for d in sorted(glob.glob(runs + "/*")):
    with h5py.File(d + "/run.h5", "r") as f:
        m = f["meta"].attrs["method"].decode()
        fin = lambda s: ([v for v in f["metrics"][s][()] if not math.isnan(v)] or [math.nan])[-1]
        want.setdefault(m, []).append((fin("test_acc"), fin("party_test_acc_mean"),
                                       *[f["metrics"][s][()].mean() for s in BYTES]))
assert sorted(want) == ["fedavg", "local"], want
lines = open(md).read().split("\n")
head = [c.strip() for c in lines[0].strip("|").split("|")]
assert head[7:] == ["payload up/round", "payload down/round", "MPI sent/round", "MPI recv/round"], head
assert any(l.startswith("Bytes: ") and "payload = what a deployment would send" in l and
           "MPI = every byte the run passed to MPI" in l for l in lines), lines[-3:]
rows = [l for l in lines if l.startswith("| ") and not l.startswith("| method")]
assert len(rows) == 2, rows
got = {r["method"]: r for r in csv.DictReader(open(csvp))}
kb = lambda b: next((f"{b / k:.1f} {u}" for u, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if b >= k), f"{b:.0f} B")
for m, vals in want.items():
    cells = [c.strip() for c in next(r for r in rows if r.startswith(f"| {m} |")).strip("|\n").split("|")]
    assert cells[3] == "2" and cells[4] == "3", cells
    for i, s in enumerate(S):
        xs = [v[i] for v in vals]
        if any(math.isnan(x) for x in xs):  # local has no global model
            assert m == "local" and s == "test_acc" and cells[5] == "—", (m, s, cells)
            continue
        mean, sd = statistics.mean(xs), statistics.stdev(xs)
        assert abs(float(got[m][s + "_mean"]) - mean) <= 1e-12 * max(1, mean), (m, s, got[m][s + "_mean"], mean)
        assert abs(float(got[m][s + "_std"]) - sd) <= 1e-9 * max(1, mean), (m, s, got[m][s + "_std"], sd)
        if i < 2:
            assert cells[5 + i] == f"{mean:.4f} ± {sd:.4f}", (m, s, cells[5 + i], mean, sd)
        else:
            assert cells[5 + i] == kb(mean), (m, s, cells[5 + i], mean)
        print(f"       {m:7s} {s:20s} {mean:.6g} ± {sd:.3g}")
assert want["fedavg"][0][0] != want["fedavg"][1][0] or want["fedavg"][0][1] != want["fedavg"][1][1], \
    "seeds 1 and 2 gave identical results: the std check would prove nothing"
assert all(v[2] > 0 and v[3] > 0 for v in want["fedavg"]), "fedavg exchanges no payload"
assert all(v[2] == 0 and v[3] == 0 for v in want["local"]), "local has a payload"
EOF

echo "== byte series"
# Straight from run.h5 with h5py: the series exist with their varies flags, MPI bytes are positive
# every round and bounded by /meta/mpi_bytes, the payload sums the parties' and does not depend on
# -np (runs/fedavg_s1 at -np 3 and scal/np2_p4 at -np 2 are one config).
if "$PY" - "$T" <<'EOF'; then ok "payload_*, party_payload_*, mpi_bytes_*, /meta/mpi_bytes consistent in all 6 runs"; else bad "byte series"; fi
import glob, sys
import h5py, numpy as np
t = sys.argv[1]
VARIES = {"payload_up": 0, "payload_down": 0, "mpi_bytes_sent": 1, "mpi_bytes_recv": 1, "round_ms": 1}
paths = sorted(glob.glob(f"{t}/runs/*/run.h5") + glob.glob(f"{t}/scal/*/run.h5"))
assert len(paths) == 6, paths
for p in paths:
    with h5py.File(p, "r") as f:
        m, ws = f["metrics"], int(f["meta"].attrs["world_size"])
        R = len(m["round"])
        for k, v in VARIES.items():
            assert m[k].shape == (R,) and int(m[k].attrs["varies"]) == v and "timing" not in m[k].attrs, (p, k)
        for k in ("bytes_up", "bytes_down", "bytes_up_wire", "party_bytes_up", "party_bytes_down_wire"):
            assert k not in m, (p, k)
        for d in ("up", "down"):
            assert np.array_equal(m[f"party_payload_{d}"][()].sum(axis=1), m[f"payload_{d}"][()]), (p, d)
        sent, recv = m["mpi_bytes_sent"][()], m["mpi_bytes_recv"][()]
        assert (sent > 0).all() and (recv > 0).all(), (p, sent, recv)
        tot = f["meta/mpi_bytes"][()]
        assert tot.shape == (ws, 2) and tot.dtype == np.uint64 and (tot > 0).all(), (p, tot)
        # The whole process includes every round's bytes (and the run's last transfers after them).
        assert tot[:, 0].sum() >= sent.sum() and tot[:, 1].sum() >= recv.sum(), \
            (p, tot.sum(axis=0), sent.sum(), recv.sum())
        for k in ("party_sampled", "party_arrived"):
            assert m[k].shape == m["party_payload_up"].shape and set(np.unique(m[k][()])) <= {0.0, 1.0}, (p, k)
        assert isinstance(f["meta"].attrs["blas_core"], bytes) and int(f["meta"].attrs["blas_threads"]) >= 1, p


def ser(d, k):
    with h5py.File(f"{t}/{d}/run.h5", "r") as f:
        return f["metrics/" + k][()]


for k in ("payload_up", "payload_down"):
    assert np.array_equal(ser("runs/fedavg_s1", k), ser("scal/np2_p4", k)), k
pay = ser("runs/fedavg_s1", "payload_up")[-1] + ser("runs/fedavg_s1", "payload_down")[-1]
print(f"       fedavg, 4 parties: payload up + down {pay:.0f} B/round at -np 3 and -np 2; MPI sent "
      f"{ser('runs/fedavg_s1', 'mpi_bytes_sent')[-1]:.0f} B/round at -np 3, "
      f"{ser('scal/np2_p4', 'mpi_bytes_sent')[-1]:.0f} B/round at -np 2")
EOF

echo "== provenance"
# /meta's provenance (git_commit, git_dirty, git_diff_sha256, build_flags, data_sha256) and
# /meta/partition read back with h5py in all 6 runs: the data digest is sha256sum's, the commit is
# one of the checkout's, and the partition is a consistent CSR of the scenario (offsets from 0 and
# monotone, rows inside their split and distinct per party, masks non-zero modality sets, and each
# party's training rows as many as its party_n_train series says).
DATA_SHA=$(sha256sum "$T/syn.h5" | cut -c1-64)
HEAD_COMMIT=$(git -C "$HERE" rev-parse --verify -q HEAD || echo unknown)
if "$PY" - "$T" "$DATA_SHA" "$HEAD_COMMIT" "$HERE" <<'EOF'; then ok "git_*, build_flags, data_sha256, /meta/partition consistent in all 6 runs"; else bad "provenance"; fi
import glob, re, subprocess, sys
import h5py, numpy as np
t, data_sha, head, here = sys.argv[1:5]
with h5py.File(f"{t}/syn.h5", "r") as d:
    n_split = {"train": len(d["train/label"]), "test": len(d["test/label"])}
    n_mod = len(d.attrs["modalities"])
paths = sorted(glob.glob(f"{t}/runs/*/run.h5") + glob.glob(f"{t}/scal/*/run.h5"))
assert len(paths) == 6, paths
s = lambda v: v.decode() if isinstance(v, bytes) else str(v)
for p in paths:
    with h5py.File(p, "r") as f:
        a = f["meta"].attrs
        commit, dirty, diff = s(a["git_commit"]), int(a["git_dirty"]), s(a["git_diff_sha256"])
        # The build's commit (a binary may be older than the checkout's HEAD, never foreign).
        if head == "unknown":
            assert commit == "unknown", (p, commit)
        else:
            assert re.fullmatch(r"[0-9a-f]{40}", commit), (p, commit)
            kind = subprocess.run(["git", "-C", here, "cat-file", "-t", commit], capture_output=True, text=True)
            assert kind.stdout.strip() == "commit", (p, commit, kind.stderr)
        assert dirty in (0, 1) and (diff == "" if dirty == 0 else re.fullmatch(r"[0-9a-f]{64}", diff)), (p, dirty, diff)
        assert s(a["git"]) and "-O" in s(a["build_flags"]), (p, s(a["build_flags"]))
        assert s(a["data_sha256"]) == data_sha, (p, s(a["data_sha256"]), data_sha)
        g = f["meta/partition"]
        P = f["metrics/party_n_train"].shape[1]
        for pre, split in (("train_", "train"), ("eval_", "test")):
            assert s(g.attrs[pre + "split"]) == split, (p, pre, s(g.attrs[pre + "split"]))
            off, rows, masks = g[pre + "offsets"][()], g[pre + "rows"][()], g[pre + "masks"][()]
            assert off.dtype == np.int64 and rows.dtype == np.int64 and masks.dtype == np.uint8, p
            assert off.shape == (P + 1,) and off[0] == 0 and (np.diff(off) >= 0).all(), (p, pre, off)
            assert off[-1] == len(rows) == len(masks) > 0, (p, pre, off[-1], len(rows), len(masks))
            assert rows.min() >= 0 and rows.max() < n_split[split], (p, pre, rows.min(), rows.max())
            assert (masks > 0).all() and (masks < 1 << n_mod).all(), (p, pre, np.unique(masks))
            for q in range(P):
                r = rows[off[q]:off[q + 1]]
                assert len(np.unique(r)) == len(r), (p, pre, q)
        counts = np.diff(g["train_offsets"][()])
        assert np.array_equal(counts, f["metrics/party_n_train"][-1].astype(np.int64)), (p, counts)
print(f"       commit {commit[:12]} dirty {dirty}; data {data_sha[:12]}; {P} parties hold "
      f"{counts.tolist()} training rows")
EOF

echo "== old-style run file"
# A run file as written before payload_*/mpi_bytes_* (mmcollab before c8810f6): payload_* renamed
# bytes_* (plus the *_wire copies), no mpi_bytes_*, and the datasets' attribute varies called timing.
OLD=$T/old/fedavg_old
mkdir -p "$OLD"
cp "$T/runs/fedavg_s1/run.h5" "$OLD/run.h5"
if "$PY" - "$T" "$A" <<'EOF'; then ok "runs.py: varies from attribute varies, and from timing in an old-style run file"; else bad "runs.py on varies/timing"; fi
import sys
import h5py, numpy as np
t, a = sys.argv[1:]
sys.path.insert(0, a)
import runs
with h5py.File(f"{t}/old/fedavg_old/run.h5", "r+") as f:
    m = f["metrics"]
    for d in ("up", "down"):
        m.move(f"payload_{d}", f"bytes_{d}")
        m.move(f"party_payload_{d}", f"party_bytes_{d}")
        for k in (f"bytes_{d}", f"party_bytes_{d}"):
            m[k + "_wire"] = m[k][()]
            m[k + "_wire"].attrs["width"] = m[k].attrs["width"]
            m[k + "_wire"].attrs["varies"] = 0
    for k in ("mpi_bytes_sent", "mpi_bytes_recv", "party_sampled", "party_arrived"):
        del m[k]
    del f["meta/mpi_bytes"]
    for k, ds in m.items():
        if "varies" in ds.attrs:
            ds.attrs["timing"] = ds.attrs["varies"]
            del ds.attrs["varies"]
new, old = runs.load(f"{t}/runs/fedavg_s1"), runs.load(f"{t}/old/fedavg_old")
assert new.varies == {"round_ms", "mpi_bytes_sent", "mpi_bytes_recv"} and not new.old_bytes, new.varies
assert old.varies == {"round_ms"} and old.timing == old.varies and old.old_bytes, (old.varies, old.old_bytes)
assert np.array_equal(old.metrics["bytes_up"], new.metrics["payload_up"])
# A file with neither kind of bytes is still refused, naming what it lacks.
with h5py.File(f"{t}/old/fedavg_old/run.h5", "r") as f, h5py.File(f"{t}/old/nobytes.h5", "w") as g:
    for k in ("config", "meta", "metrics"):
        f.copy(k, g)
    for k, v in f.attrs.items():
        g.attrs[k] = v
    del g["metrics/bytes_up"]
try:
    runs.load(f"{t}/old/nobytes.h5")
    raise SystemExit("a run file with neither bytes_up nor payload_up was accepted")
except runs.RunFileError as e:
    assert "lacks payload_up" in str(e), e
print(f"       new: varies = {sorted(new.varies)}; old-style: timing = {sorted(old.varies)}")
EOF
if "$PY" "$A/curves.py" "$OLD" -o "$T/old/c.png" >/dev/null 2>"$T/err" &&
   "$PY" "$A/scaling.py" "$OLD" "$T/scal/np2_p4" -o "$T/old/s.png" >/dev/null 2>>"$T/err"; then
  ok "curves.py and scaling.py read the old-style run file"
else bad "curves.py/scaling.py on an old-style run file: $(cat "$T/err")"; fi
for s in table bytes; do
  out=(); [ $s = bytes ] && out=(-o "$T/old/b.png")
  if "$PY" "$A/$s.py" "$OLD" "${out[@]}" >"$T/out" 2>"$T/err"; then bad "$s.py accepted an old-style run file"
  elif grep -q "fedavg_old/run.h5: /metrics lacks payload_up" "$T/err" && grep -q "before mmcollab c8810f6" "$T/err"; then
    ok "$s.py refuses it: $(sed 's/.*\(fedavg_old\)/\1/' "$T/err" | head -c 90)"
  else bad "$s.py on an old-style run file: unclear error: $(cat "$T/err")"; fi
done
# bomm_table.py falls back to bytes_up + bytes_down there, and says so.
"$PY" "$A/bomm_table.py" "$OLD" "$T/runs/local_s1" >"$T/old/b.md" 2>"$T/err" || cat "$T/err"
if "$PY" - "$T" <<'EOF'; then ok "bomm_table.py: old-style bytes/round = bytes_up + bytes_down, and the header says so"; else bad "bomm_table.py on an old-style run file"; fi
import sys
import h5py
t = sys.argv[1]
md = open(f"{t}/old/b.md").read()
with h5py.File(f"{t}/old/fedavg_old/run.h5", "r") as f:
    b = (f["metrics/bytes_up"][()] + f["metrics/bytes_down"][()]).mean()
kb = next((f"{b / k:.1f} {u}" for u, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if b >= k), f"{b:.0f} B")
row = next(l for l in md.split("\n") if l.startswith("| fedavg |"))
assert row.split("|")[5].strip() == kb, (row, kb)
assert "1 of 2 run files predate payload_*" in md and "bytes_up + bytes_down" in md, md[:1500]
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

echo "== manifest runner"
# From $T as the root: configs in $T/cfg, runs in $T/runs/bomm (a manifest called sweep.txt is named
# after its directory), logs next to the run directories.
mkdir -p "$T/cfg" "$T/bomm" "$T/fail"
for sc in random crossmodal; do
  printf 'data = %s\nscenario = bomm-%s\nparties = 4\nrounds = 3\neval-every = 2\nlog-level = warn\nckpt-keep = 1\n' \
    "$T/syn.h5" $sc >"$T/cfg/tiny-$sc.cfg"
done
{
  echo "# tiny BoMM-style sweep"
  for m in fedavg local "fedprox --fedprox.mu=0.1"; do echo "cfg/tiny-random.cfg --method=$m --seed=1"; done
  echo "cfg/tiny-random.cfg --method=fedprox --fedprox.nope=1 --seed=1" # an unknown option
  for m in fedavg "fedprox --fedprox.mu=0.1"; do echo "cfg/tiny-random.cfg --method=$m --seed=2"; done
  echo
  echo "cfg/tiny-crossmodal.cfg --method=fedavg --seed=1"
} >"$T/bomm/sweep.txt"
BINA=$(cd "$BIN" && pwd)
RM() { (cd "$T" && MPIRUN="$MPIRUN" "$A/run_manifest.sh" "$@" --bin "$BINA"); }
# First pass: the bad line fails (exit 1, named with mmcollab's message), the six others finish.
t1=$EPOCHREALTIME
if RM bomm/sweep.txt -j 2 -n 2 >"$T/rm1.out" 2>"$T/rm1.err"; then bad "a manifest with a bad option line exited 0"
elif grep -q "7 runs in runs/bomm/, 0 finished, 7 to run" "$T/rm1.out" && [ "$(grep -c '^  done ' "$T/rm1.out")" = 6 ] &&
     grep -q "bomm/sweep.txt:5: cfg/tiny-random.cfg --method=fedprox --fedprox.nope=1 --seed=1  -> exit 2" "$T/rm1.err" &&
     grep -q "unknown option 'fedprox.nope'" "$T/rm1.err" && grep -q "^run_manifest.sh: 1 of 7 runs failed" "$T/rm1.err"; then
  ok "7 lines, 2 at a time, in $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t1}") s: 6 done, exit 1 naming$(sed -n 2p "$T/rm1.err" | cut -c1-70)"
else cat "$T/rm1.out" "$T/rm1.err"; bad "run_manifest.sh on 7 lines with a bad one"; fi
sed -i '/fedprox.nope/d' "$T/bomm/sweep.txt"
# The same run directory as slurm/sweep.sbatch: run it as array task 4 with a stub run.sbatch.
mkdir -p "$T/stub/slurm"
ln -s "$HERE/slurm/sweep.sbatch" "$HERE/slurm/manifest.sh" "$T/stub/slurm/"
printf 'echo "$@"\n' >"$T/stub/slurm/run.sbatch"
cp -r "$T/bomm" "$T/stub/"
want=$(RM bomm/sweep.txt --list | sed -n 5p)
got=$(cd "$T/stub" && SLURM_ARRAY_TASK_ID=4 bash slurm/sweep.sbatch bomm/sweep.txt)
if [ "$want" = runs/bomm/tiny-random_method-fedprox_fedprox.mu-0.1_seed-2 ] &&
   [ "$got" = "cfg/tiny-random.cfg -- --out=$want --method=fedprox --fedprox.mu=0.1 --seed=2" ]; then
  ok "task 4: sweep.sbatch and run_manifest.sh agree on $want"
else bad "run directory: run_manifest.sh --list '$want', sweep.sbatch '$got'"; fi
# Every run has its rounds, so a second pass starts nothing (the logs get no new header).
heads() { cat "$T"/runs/bomm/*.log 2>/dev/null | grep -c '^== run_manifest.sh' || true; }
h1=$(heads)
if RM bomm/sweep.txt -j 2 -n 2 >"$T/rm2.out" 2>&1 && grep -q "6 runs in runs/bomm/, 6 finished, 0 to run" "$T/rm2.out" &&
   ! grep -q "start" "$T/rm2.out" && [ "$h1" = 7 ] && [ "$(heads)" = 7 ]; then
  ok "second pass: 6 finished, nothing started"
else cat "$T/rm2.out"; bad "second pass (log headers before: $h1, after: $(heads))"; fi
printf 'cfg/a.cfg --seed=1\ncfg/a.cfg --seed=1\n' >"$T/fail/dup.txt"
if RM fail/dup.txt >"$T/out" 2>"$T/err"; then bad "repeated run names accepted"
elif grep -q "same run name 'a_seed-1'" "$T/err"; then ok "repeated run names refused: $(head -c 90 "$T/err")"
else bad "repeated run names: unclear error: $(cat "$T/err")"; fi

echo "== BoMM table"
mapfile -t BR < <(RM bomm/sweep.txt --list)
(cd "$T" && "$PY" "$A/bomm_table.py" "${BR[@]}" --md "$T/bomm/RESULTS.md" --csv "$T/bomm/r.csv" \
   --curves "$T/bomm/curves" --ours "fedprox mu=0.1" >"$T/bomm/stdout.md" 2>"$T/bomm/err") ||
  { cat "$T/bomm/err"; bad "bomm_table.py failed"; }
cmp -s "$T/bomm/stdout.md" "$T/bomm/RESULTS.md" && ok "stdout = --md" || bad "stdout differs from --md"
# Independent recomputation: label = method (+ " mu=0.1" where fedprox.mu is not its default 0.01),
# final = last non-NaN value, std = sample std, best small-model accuracy bold, gap in points.
if "$PY" - "$T" <<'EOF'; then ok "BoMM table = recomputed from run.h5"; else bad "BoMM table"; fi
import csv, glob, math, re, statistics, sys
import h5py
t = sys.argv[1]
md = open(f"{t}/bomm/RESULTS.md").read()
assert "reconstruction from the paper's abstract" in md, md[:300]
assert "analysis/bomm_table.py runs/bomm/*/ --md" in md and "--ours 'fedprox mu=0.1'" in md, md[:600]
assert "bytes/round = payload bytes, up + down" in md and "predate payload_*" not in md, md[:1200]
want = {}
for p in sorted(glob.glob(f"{t}/runs/bomm/*/run.h5")):  # not the bad line's empty directory
    with h5py.File(p, "r") as f:
        c, m = f["config"].attrs, f["metrics"]
        method = f["meta"].attrs["method"].decode()
        lab = method + (" mu=0.1" if method == "fedprox" and c["fedprox.mu"] != 0.01 else "")
        fin = lambda s: ([v for v in m[s][()] if not math.isnan(v)] or [math.nan])[-1]
        want.setdefault((c["scenario"].decode(), lab), []).append(
            (fin("party_test_acc_mean"), fin("test_acc"), (m["payload_up"][()] + m["payload_down"][()]).mean(),
             int(c["seed"])))
assert len(want) == 4, sorted(want)
pct = lambda xs: (f"{100 * statistics.mean(xs):.2f} ± {100 * statistics.stdev(xs):.2f}" if len(xs) > 1
                  else f"{100 * xs[0]:.2f}")
blocks = re.split(r"^## ", md, flags=re.M)[1:]
assert [b.split("\n")[0] for b in blocks] == ["syn · bomm-random", "syn · bomm-crossmodal"], blocks
got_csv = {(r["scenario"], r["label"]): r for r in csv.DictReader(open(f"{t}/bomm/r.csv"))}
for b in blocks:
    sc = b.split("\n")[0].split(" · ")[1]
    rows = [[x.strip() for x in l.strip().strip("|").split("|")] for l in b.split("\n")
            if l.startswith("| ") and not l.startswith("| method")]
    labels = [r[0] for r in rows]
    assert labels == (["local", "fedavg", "fedprox mu=0.1"] if sc == "bomm-random" else ["fedavg"]), labels
    best = max(statistics.mean(v[0] for v in want[(sc, l)]) for l in labels)
    for r in rows:
        v = want[(sc, r[0])]
        small, glob_, byt = [x[0] for x in v], [x[1] for x in v], [x[2] for x in v]
        bold = statistics.mean(small) == best
        assert r[1] == (f"**{pct(small)}**" if bold else pct(small)), (sc, r, pct(small), bold)
        assert r[2] == "—", r  # no method here has a large model
        assert r[3] == ("—" if r[0] == "local" else pct(glob_)), (r, glob_)
        assert r[5] == str(len(v)), r
        g = got_csv[(sc, r[0])]
        assert abs(float(g["party_test_acc_mean_mean"]) - statistics.mean(small)) <= 1e-12, (g, small)
        assert abs(float(g["bytes_mean"]) - statistics.mean(byt)) <= 1e-6, (g, byt)
        if len(v) > 1:
            assert abs(float(g["party_test_acc_mean_std"]) - statistics.stdev(small)) <= 1e-12, (g, small)
        assert g["seeds"] == " ".join(str(x[3]) for x in v), g
    if sc == "bomm-random":
        mine = statistics.mean(x[0] for x in want[(sc, "fedprox mu=0.1")])
        base = max(("fedavg", "local"), key=lambda l: statistics.mean(x[0] for x in want[(sc, l)]))
        gap = 100 * (mine - statistics.mean(x[0] for x in want[(sc, base)]))
        line = f"fedprox mu=0.1 − best baseline ({base}): **{gap:+.2f} points**"
        assert line in b, (line, b)
        print(f"       {sc}: {line}")
    else:
        assert "fedprox mu=0.1 − best baseline: — (no fedprox mu=0.1 row" in b, b
    assert f"![syn · {sc}](curves/syn_{sc}.png)" in b, b
fa = [x[0] for x in want[("bomm-random", "fedavg")]]
assert fa[0] != fa[1], "seeds 1 and 2 gave identical results: the std check would prove nothing"
EOF
# The large-model column and the BoMM labels, on copies of run files edited by hand (BoMM itself is
# not needed): two fedavg runs get an mm_test_acc series; four copies of one become "bomm" runs with
# bomm.* options and their defaults, the full method and its three ablations.
mkdir -p "$T/mm"
cp -r "$T"/runs/bomm/tiny-random_method-fedavg_seed-{1,2} "$T/mm/"
for v in full gpa dpo schedule; do cp -r "$T/runs/bomm/tiny-random_method-fedavg_seed-1" "$T/mm/bomm-$v"; done
if "$PY" - "$T/mm" "$A" <<'EOF'; then ok "large-model acc = mean ± std of mm_test_acc; bomm −GPA/−DPO/−schedule rows and gap"; else bad "mm_test_acc, BoMM labels"; fi
import glob, subprocess, sys
import h5py, numpy as np
d, a = sys.argv[1:]
fedavg = []
for s, v in ((1, [np.nan, 0.5, 0.6]), (2, [np.nan, 0.7, 0.4])):
    with h5py.File(f"{d}/tiny-random_method-fedavg_seed-{s}/run.h5", "r+") as f:
        f["metrics"].create_dataset("mm_test_acc", data=np.array(v))
        fedavg.append(f["metrics/party_test_acc_mean"][-1])  # the last round is always evaluated
for v, (gpa, dpo, sched) in {"full": (1, 1, "cosine"), "gpa": (0, 1, "cosine"), "dpo": (1, 0, "cosine"),
                             "schedule": (1, 1, "none")}.items():
    with h5py.File(f"{d}/bomm-{v}/run.h5", "r+") as f:
        f["meta"].attrs["method"] = np.bytes_("bomm")
        f["config"].attrs["method"] = np.bytes_("bomm")
        for k, val, dflt in (("gpa", gpa, "1"), ("dpo", dpo, "1"), ("schedule", sched, "cosine")):
            f["config"].attrs["bomm." + k] = np.bytes_(val) if isinstance(val, str) else np.int64(val)
            f["defaults"].attrs["bomm." + k] = np.bytes_(dflt)
        # The ablations score higher: were they taken for baselines, the gap below would differ.
        f["metrics/party_test_acc_mean"][-1] += 0.05 * (v != "full")
out = subprocess.run([f"{a}/bomm_table.py", *sorted(glob.glob(f"{d}/*/")), "--curves", f"{d}/c"],
                     capture_output=True, text=True, check=True).stdout
rows = [l.split("|") for l in out.split("\n") if l.startswith("| ") and not l.startswith("| method")]
assert [r[1].strip() for r in rows] == ["bomm", "bomm −GPA", "bomm −DPO", "bomm −schedule", "fedavg"], rows
assert rows[4][3].strip() == f"{50:.2f} ± {100 * np.std([0.6, 0.4], ddof=1):.2f}", rows[4]
assert all(r[3].strip() == "—" for r in rows[:4]), rows
g = 100 * (fedavg[0] - np.mean(fedavg))  # bomm = fedavg seed 1; the ablations are not baselines
assert f"bomm − best baseline (fedavg): **{g:+.2f} points**" in out, (g, out)
EOF
"$PY" - "$T"/bomm/curves/syn_bomm-{random,crossmodal}.png "$T/mm/c/syn_bomm-random.png" >"$T/png2.out" <<'EOF' || true
import os, struct, sys
for p in sys.argv[1:]:
    b = open(p, "rb").read() if os.path.exists(p) else b""
    w, h = struct.unpack(">II", b[16:24]) if len(b) >= 24 else (0, 0)
    good = b[:8] == b"\x89PNG\r\n\x1a\n" and w >= 400 and h >= 200 and len(b) > 20000
    print("ok" if good else "bad", "/".join(p.split("/")[-3:]), f"{w}x{h}, {len(b)} bytes")
EOF
while read -r st rest; do if [ "$st" = ok ]; then ok "$rest"; else bad "$rest"; fi; done <"$T/png2.out"
[ "$(wc -l <"$T/png2.out")" = 3 ] || bad "PNG check printed $(wc -l <"$T/png2.out") lines, expected 3"

echo "== not a run"
mkdir "$T/notarun"
for s in curves table bytes scaling bomm_table; do
  out=(-o "$T/x.png"); case $s in table|bomm_table) out=() ;; esac
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
