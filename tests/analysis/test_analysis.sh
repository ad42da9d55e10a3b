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
# analysis/bomm_table.py's table equals numbers recomputed with h5py. Then jobs/fedmllm's manifests
# against their generator, and a tiny FedMLLM sweep (two settings, a failing line, the strategy rows
# by their options) whose analysis/fedmllm_table.py table equals numbers recomputed with h5py.
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
# The table generators refuse runs from a dirty build or from several commits (tested below, on
# copies): stamp these runs as one clean commit, whatever the state of this checkout
# (tests/analysis/emulate.py).
EM="$HERE/tests/analysis/emulate.py"
FAKE=0123456789abcdef0123456789abcdef01234567
mkdir -p "$T/orig" && cp -r "$T/runs" "$T/scal" "$T/orig/" # as the binary wrote them (provenance)
"$PY" "$EM" stamp $FAKE 0 "$T"/runs/* "$T"/scal/*

echo "== --help"
for s in curves table bytes scaling bomm_table fedmllm_table cdcca_table fedcmp_table readme_figures sweep; do
  if "$PY" "$A/$s.py" --help | grep -q usage; then ok "$s.py --help"; else bad "$s.py --help"; fi
done

echo "== PNGs"
"$PY" "$A/curves.py" "${RUNS[@]}" -o "$T/curves.png" >/dev/null
"$PY" "$A/bytes.py" "${RUNS[@]}" -o "$T/bytes.png" >/dev/null
"$PY" "$A/scaling.py" "$T"/runs/fedavg_* "$T"/scal/* -o "$T/scaling.png" --md "$T/scaling.md" \
  --phases "$T/phases.png" >/dev/null 2>&1
# A PNG: the 8-byte signature, an IHDR chunk with a real size, and more than a blank image's bytes.
"$PY" - "$T"/{curves,bytes,scaling,phases}.png >"$T/png.out" <<'EOF2' || true
import os, struct, sys
for p in sys.argv[1:]:
    b = open(p, "rb").read()
    w, h = struct.unpack(">II", b[16:24]) if len(b) >= 24 else (0, 0)
    good = b[:8] == b"\x89PNG\r\n\x1a\n" and b[12:16] == b"IHDR" and w >= 400 and h >= 200 and len(b) > 20000
    print("ok" if good else "bad", os.path.basename(p), f"{w}x{h}, {len(b)} bytes")
EOF2
for p in curves bytes scaling phases; do
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
ACC = ["test_acc", "party_test_acc_mean", "personal_test_acc_mean"]
S = ACC + BYTES
want = {}
for d in sorted(glob.glob(runs + "/*")):
    with h5py.File(d + "/run.h5", "r") as f:
        m = f["meta"].attrs["method"].decode()
        fin = lambda s: ([v for v in f["metrics"][s][()] if not math.isnan(v)] or [math.nan])[-1]
        want.setdefault(m, []).append((*[fin(s) for s in ACC],
                                       *[f["metrics"][s][()].mean() for s in BYTES]))
assert sorted(want) == ["fedavg", "local"], want
lines = open(md).read().split("\n")
head = [c.strip() for c in lines[0].strip("|").split("|")]
assert head[8:] == ["payload up/round", "payload down/round", "MPI sent/round", "MPI recv/round"], head
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
            assert m == "local" and s in ACC[:2] and cells[5 + i] == "—", (m, s, cells)
            continue
        mean, sd = statistics.mean(xs), statistics.stdev(xs)
        assert abs(float(got[m][s + "_mean"]) - mean) <= 1e-12 * max(1, mean), (m, s, got[m][s + "_mean"], mean)
        assert abs(float(got[m][s + "_std"]) - sd) <= 1e-9 * max(1, mean), (m, s, got[m][s + "_std"], sd)
        if i < len(ACC):
            assert cells[5 + i] == f"{mean:.4f} ± {sd:.4f}", (m, s, cells[5 + i], mean, sd)
        else:
            assert cells[5 + i] == kb(mean), (m, s, cells[5 + i], mean)
        print(f"       {m:7s} {s:20s} {mean:.6g} ± {sd:.3g}")
assert want["fedavg"][0][0] != want["fedavg"][1][0] or want["fedavg"][0][1] != want["fedavg"][1][1], \
    "seeds 1 and 2 gave identical results: the std check would prove nothing"
up, down = len(ACC), len(ACC) + 1
assert all(v[up] > 0 and v[down] > 0 for v in want["fedavg"]), "fedavg exchanges no payload"
assert all(v[up] == 0 and v[down] == 0 for v in want["local"]), "local has a payload"
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
paths = sorted(glob.glob(f"{t}/orig/runs/*/run.h5") + glob.glob(f"{t}/orig/scal/*/run.h5"))
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
    for k in ("mpi_bytes_sent", "mpi_bytes_recv", "comm_ms", "io_ms", "host_compute_ms_max", "party_sampled", "party_arrived"):
        del m[k]
    for k in list(m):  # and the evaluation protocols' series, where the binary already writes them
        if k.startswith("personal_") or "macro_f1" in k or "_auc" in k:
            del m[k]
    del f["meta/mpi_bytes"]
    for k, ds in m.items():
        if "varies" in ds.attrs:
            ds.attrs["timing"] = ds.attrs["varies"]
            del ds.attrs["varies"]
new, old = runs.load(f"{t}/runs/fedavg_s1"), runs.load(f"{t}/old/fedavg_old")
assert new.varies == {"round_ms", "comm_ms", "io_ms", "host_compute_ms_max", "mpi_bytes_sent", "mpi_bytes_recv"} and not new.old_bytes, new.varies
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
# bomm_table.py needs the evaluation protocols' series, which such a file predates: refused by name.
if "$PY" "$A/bomm_table.py" "$OLD" "$T/runs/local_s1" >"$T/out" 2>"$T/err"; then bad "bomm_table.py accepted an old-style run file"
elif grep -q "fedavg_old/run.h5: /metrics lacks .*personal_test_acc_mean.*before the global/personal evaluation protocols" "$T/err"; then
  ok "bomm_table.py refuses it: $(sed 's/.*\(fedavg_old\)/\1/' "$T/err" | head -c 90)"
else bad "bomm_table.py on an old-style run file: unclear error: $(cat "$T/err")"; fi

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

echo "== phases"
# The wall-clock phases of every round (analysis/README.md): present and marked varies; 0 <= comm_ms <=
# round_ms (the cloud's time in MPI lies inside its round); io_ms NaN in round 1 (nothing written
# before it) and > 0 after (a run file was written after every round); the slowest host computed
# something. scaling.py's phase table = the means over rounds 2.. recomputed here.
if "$PY" - "$T" <<'EOF'; then ok "phases: comm_ms <= round_ms, io_ms, host_compute_ms_max; table = recomputed"; else bad "phases"; fi
import glob, sys
import h5py, numpy as np
t = sys.argv[1]
for path in sorted(glob.glob(f"{t}/runs/*/run.h5") + glob.glob(f"{t}/scal/*/run.h5")):
    with h5py.File(path, "r") as f:
        m = f["metrics"]
        for k in ("comm_ms", "io_ms", "host_compute_ms_max"):
            assert k in m and int(m[k].attrs["varies"]) == 1, (path, k)
        rnd, comm, io, host = (m[k][()] for k in ("round_ms", "comm_ms", "io_ms", "host_compute_ms_max"))
        assert len(comm) == len(rnd) == 3, (path, len(comm))
        assert (comm >= 0).all() and (comm <= rnd).all(), (path, comm, rnd)
        assert np.isnan(io[0]) and (io[1:] > 0).all(), (path, io)
        assert (host > 0).all(), (path, host)
rows = {}
for l in open(f"{t}/scaling.md"):
    c = [x.strip() for x in l.strip("|\n").split("|")]
    if len(c) == 9 and c[0] == "fedavg" and c[1].isdigit():
        rows[(int(c[1]), int(c[2]))] = c[3:]
with h5py.File(f"{t}/scal/np2_p4/run.h5", "r") as f:
    m = f["metrics"]
    rnd, comm, io = (float(np.mean(m[k][1:])) for k in ("round_ms", "comm_ms", "io_ms"))
r = rows[(1, 4)]
assert r[:5] == [f"{x:.2f}" for x in (rnd, rnd - comm, comm, io, rnd + io)], (r, rnd, comm, io)
print(f"       np2_p4: round {rnd:.2f} ms = compute {rnd - comm:.2f} + comm {comm:.2f}; I/O {io:.2f}")
EOF

echo "== manifest runner"
# From $T as the root: configs in $T/cfg, runs in $T/runs/bomm (a manifest called sweep.txt is named
# after its directory), logs next to the run directories.
mkdir -p "$T/cfg" "$T/bomm" "$T/fail"
for sc in random crossmodal; do
  # seed.split = 1: the runs differ in --seed only and stand for training seeds on one fixed split,
  # as the table's manifest runs them (--seed.split=1 --seed=S).
  printf 'data = %s\nscenario = bomm-%s\nparties = 4\nrounds = 3\neval-every = 2\nlog-level = warn\nckpt-keep = 1\nseed.split = 1\n' \
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
# One clean commit, whatever the state of this checkout (tests/analysis/emulate.py).
"$PY" "$EM" stamp $FAKE 0 "${BR[@]/#/$T/}"
(cd "$T" && "$PY" "$A/bomm_table.py" "${BR[@]}" --md "$T/bomm/RESULTS.md" --csv "$T/bomm/r.csv" \
   --curves "$T/bomm/curves" --ours "fedprox mu=0.1" >"$T/bomm/stdout.md" 2>"$T/bomm/err") ||
  { cat "$T/bomm/err"; bad "bomm_table.py failed"; }
cmp -s "$T/bomm/stdout.md" "$T/bomm/RESULTS.md" && ok "stdout = --md" || bad "stdout differs from --md"
# Independent recomputation: label = method (+ " mu=0.1" where fedprox.mu is not its default 0.01);
# per protocol (global: party_test_*_mean and test_acc; personal: personal_test_*_mean) a row where
# the accuracy was measured; final = last non-NaN value, std = sample std, best accuracy bold, gap
# in points; local (no shared model) only under personal.
if "$PY" - "$T" <<'EOF'; then ok "BoMM table = recomputed from run.h5, per protocol"; else bad "BoMM table"; fi
import csv, glob, math, re, statistics, sys
import h5py
t = sys.argv[1]
md = open(f"{t}/bomm/RESULTS.md").read()
assert "reconstruction from the paper's abstract" in md, md[:300]
assert "analysis/bomm_table.py runs/bomm/*/ --md" in md and "--ours 'fedprox mu=0.1'" in md, md[:600]
assert "CAUTION" not in md and "WARNING" not in md, md[:600]
S = {"global": ["party_test_acc_mean", "party_test_macro_f1_mean", "party_test_auc_mean", "test_acc"],
     "personal": ["personal_test_acc_mean", "personal_test_macro_f1_mean", "personal_test_auc_mean"]}
want, data = {}, set()
for p in sorted(glob.glob(f"{t}/runs/bomm/*/run.h5")):  # not the bad line's empty directory
    with h5py.File(p, "r") as f:
        c, m = f["config"].attrs, f["metrics"]
        method = f["meta"].attrs["method"].decode()
        data.add(f["meta"].attrs["data_sha256"].decode())
        lab = method + (" mu=0.1" if method == "fedprox" and c["fedprox.mu"] != 0.01 else "")
        fin = lambda s: ([v for v in m[s][()] if not math.isnan(v)] or [math.nan])[-1]
        for proto, ss in S.items():
            if not math.isnan(fin(ss[0])):
                want.setdefault((c["scenario"].decode(), proto, lab), []).append(
                    [fin(s) for s in ss] + [(m["payload_up"][()] + m["payload_down"][()]).mean(), int(c["seed"])])
assert "of mmcollab commit `0123456789abcdef0123456789abcdef01234567`, evaluated on the test split" in md, md[:900]
assert f"syn `{data.pop()}`" in md and not data and "`bomm/RUNS.sha256`" in md, md[:1200]
assert "**6 runs**" in md, md[:900]
assert ("bomm-random", "global", "local") not in want and ("bomm-random", "personal", "local") in want, sorted(want)
pct = lambda xs: (f"{100 * statistics.mean(xs):.2f} ± {100 * statistics.stdev(xs):.2f}" if len(xs) > 1
                  else f"{100 * xs[0]:.2f}")
blocks = re.split(r"^## ", md, flags=re.M)[1:]
assert [b.split("\n")[0] for b in blocks] == ["syn · bomm-random", "syn · bomm-crossmodal"], blocks
got_csv = {(r["scenario"], r["protocol"], r["label"]): r for r in csv.DictReader(open(f"{t}/bomm/r.csv"))}
assert {k[:2] for k in got_csv} == {("bomm-random", "global"), ("bomm-random", "personal"),
                                     ("bomm-crossmodal", "global"), ("bomm-crossmodal", "personal")}, sorted(got_csv)
for b in blocks:
    sc = b.split("\n")[0].split(" · ")[1]
    assert "split seed 1." in b, b[:200]
    tables = re.split(r"^### ", b, flags=re.M)[1:]
    assert [x.split("\n")[0] for x in tables] == ["global protocol", "personal protocol"], tables
    for tab in tables:
        proto = tab.split(" ")[0]
        head = [x.strip() for x in next(l for l in tab.split("\n") if l.startswith("| method")).strip("|").split("|")]
        assert head == ["method", "acc", "macro-F1", "AUC"] + (["whole-test acc"] if proto == "global" else []) + \
            ["large-model acc", "bytes/round", "seeds"], head
        rows = [[x.strip() for x in l.strip().strip("|").split("|")] for l in tab.split("\n")
                if l.startswith("| ") and not l.startswith("| method")]
        labels = [r[0] for r in rows]
        exp = {("bomm-random", "global"): ["fedavg", "fedprox mu=0.1"],
               ("bomm-random", "personal"): ["local", "fedavg", "fedprox mu=0.1"],
               ("bomm-crossmodal", "global"): ["fedavg"], ("bomm-crossmodal", "personal"): ["fedavg"]}[(sc, proto)]
        assert labels == exp, (sc, proto, labels)
        best = max(statistics.mean(v[0] for v in want[(sc, proto, l)]) for l in labels)
        for r in rows:
            v = want[(sc, proto, r[0])]
            nser = len(S[proto])
            for i in range(nser):
                xs = [x[i] for x in v]
                cell = (f"**{pct(xs)}**" if i == 0 and statistics.mean(xs) == best else pct(xs))
                assert r[1 + i] == cell, (sc, proto, r, i, cell)
            assert r[1 + nser] == "—", r  # no method here has a large model
            assert r[3 + nser] == ",".join(str(x[-1]) for x in v), r
            g = got_csv[(sc, proto, r[0])]
            acc, byt = [x[0] for x in v], [x[-2] for x in v]
            assert abs(float(g["acc_mean"]) - statistics.mean(acc)) <= 1e-12, (g, acc)
            assert abs(float(g["f1_mean"]) - statistics.mean(x[1] for x in v)) <= 1e-12, g
            assert abs(float(g["auc_mean"]) - statistics.mean(x[2] for x in v)) <= 1e-12, g
            assert abs(float(g["bytes_mean"]) - statistics.mean(byt)) <= 1e-6, (g, byt)
            if len(v) > 1:
                assert abs(float(g["acc_std"]) - statistics.stdev(acc)) <= 1e-12, (g, acc)
            assert g["seeds"] == " ".join(str(x[-1]) for x in v) and g["provenance"] == "clean", g
            assert g["row"] == {"fedprox mu=0.1": "fedprox[mu=0.1]"}.get(r[0], r[0]), g
            if proto == "personal":
                assert g["test_acc_mean"] == "nan", g
        mine = "fedprox mu=0.1 − best baseline"
        if sc == "bomm-random":
            m_ = statistics.mean(x[0] for x in want[(sc, proto, "fedprox mu=0.1")])
            base = max((l for l in labels if l != "fedprox mu=0.1"),
                       key=lambda l: statistics.mean(x[0] for x in want[(sc, proto, l)]))
            gap = 100 * (m_ - statistics.mean(x[0] for x in want[(sc, proto, base)]))
            line = f"{mine} ({base}), {proto}: **{gap:+.2f} points**"
            assert line in tab, (line, tab)
            print(f"       {sc} {proto}: {line}")
        else:
            assert f"{mine}, {proto}: — (no fedprox mu=0.1 row" in tab, tab
    assert f"![syn · {sc}](curves/syn_{sc}.png)" in b, b
fa = [x[0] for x in want[("bomm-random", "global", "fedavg")]]
assert fa[0] != fa[1], "seeds 1 and 2 gave identical results: the std check would prove nothing"
EOF
# RUNS.sha256: each run's run.h5 and final checkpoint, paths from the root the table was made in.
if [ "$(wc -l <"$T/bomm/RUNS.sha256")" = 12 ] && [ "$(grep -c '/ckpt/round_000003.h5$' "$T/bomm/RUNS.sha256")" = 6 ] &&
   grep -q '  runs/bomm/tiny-random_method-fedavg_seed-1/run.h5$' "$T/bomm/RUNS.sha256" &&
   (cd "$T" && sha256sum --quiet -c bomm/RUNS.sha256); then
  ok "RUNS.sha256: run.h5 + final checkpoint of the 6 runs; sha256sum -c passes"
else cat "$T/bomm/RUNS.sha256"; bad "RUNS.sha256"; fi
CR=$T/runs/bomm/tiny-crossmodal_method-fedavg_seed-1
cp -r "$CR" "$T/keep" && "$PY" "$EM" stamp 1111111111111111111111111111111111111111 0 "$CR"
if (cd "$T" && sha256sum --quiet -c bomm/RUNS.sha256 >"$T/out" 2>&1); then bad "sha256sum -c missed a changed run.h5"
elif grep -q "tiny-crossmodal_method-fedavg_seed-1/run.h5: FAILED" "$T/out"; then ok "sha256sum -c names a changed run.h5"
else bad "sha256sum -c on a changed run.h5: $(cat "$T/out")"; fi
rm -rf "$CR" && mv "$T/keep" "$CR"

echo "== provenance"
# Copies of real runs with /meta git_commit and git_dirty rewritten (tests/analysis/emulate.py).
P=$T/prov
mkdir -p "$P"
for s in 1 2; do cp -r "$T/runs/bomm/tiny-random_method-fedavg_seed-$s" "$P/clean$s"; done
cp -r "$P/clean2" "$P/dirty" && "$PY" "$EM" stamp $FAKE 1 "$P/dirty"
cp -r "$P/clean2" "$P/other" && "$PY" "$EM" stamp fedcba9876543210fedcba9876543210fedcba98 0 "$P/other"
cp -r "$P/clean2" "$P/old" && "$PY" "$EM" unstamp "$P/old"
refused() { # what script want-regex run...
  local what=$1 script=$2 want=$3; shift 3
  if "$PY" "$A/$script" "$@" >"$T/out" 2>"$T/err"; then bad "$script accepted $what"
  elif grep -qE "$want" "$T/err"; then ok "$script refuses $what: $(grep -m1 -E "$want" "$T/err" | sed 's|.*/prov/|prov/|' | head -c 80)"
  else bad "$script on $what: unclear error: $(cat "$T/err")"; fi
}
for sc in bomm_table.py table.py sweep.py; do
  refused "a dirty run" $sc "prov/dirty \(commit $FAKE, git_dirty 1\)" "$P/clean1" "$P/dirty"
  refused "mixed commits" $sc "prov/other \(commit fedcba9876543210fedcba9876543210fedcba98\)" "$P/clean1" "$P/other"
done
refused "a run file without git_commit" bomm_table.py "prov/old \(commit unknown, git_dirty absent\)" "$P/clean1" "$P/old"
refused "mixed commits with --allow-dirty only" bomm_table.py "come from 2 commits" "$P/clean1" "$P/other" --allow-dirty
# Accepted with the flags, and marked: a CAUTION line at the top, the CSV's provenance column.
if "$PY" "$A/bomm_table.py" "$P"/clean1 "$P/dirty" "$P/other" --allow-dirty --allow-mixed --csv "$P/r.csv" >"$P/r.md" 2>"$T/err" &&
   "$PY" "$A/table.py" "$P/clean1" "$P/dirty" --allow-dirty --csv "$P/t.csv" >"$P/t.md" 2>>"$T/err" &&
   "$PY" - "$P" "$FAKE" <<'EOF'; then ok "--allow-dirty/--allow-mixed: tables made, marked DIRTY/MIXED at the top and per CSV row"; else cat "$T/err"; bad "--allow-dirty/--allow-mixed"; fi
import csv, sys
p, fake = sys.argv[1:]
md = open(f"{p}/r.md").read().split("\n")
assert md[2] == "> [!CAUTION]" and md[3].startswith("> **WARNING: DIRTY: 1 run(s) from a build with uncommitted"), md[:5]
assert "MIXED: the runs come from 2 commits (0123456789ab, fedcba987654)" in md[3], md[3]
rows = list(csv.DictReader(open(f"{p}/r.csv")))
assert len(rows) == 2 and all(r["provenance"] == "dirty mixed" for r in rows), rows  # fedavg, per protocol
assert rows[0]["commits"] == f"{fake} fedcba9876543210fedcba9876543210fedcba98", rows[0]["commits"]
t = open(f"{p}/t.md").read().split("\n")
assert t[0] == "> [!CAUTION]" and "WARNING: DIRTY" in t[1] and "MIXED" not in t[1], t[:3]
assert [r["provenance"] for r in csv.DictReader(open(f"{p}/t.csv"))] == ["dirty"]
EOF

# sweep.py: one row per run labelled by the options the sweep varies (here fedprox.mu and the
# method), "both" = the mean of the two protocols' party accuracy, recomputed with h5py.
if "$PY" "$A/sweep.py" "$T"/runs/bomm/tiny-random_*/run.h5 --md "$T/sw.md" >/dev/null 2>"$T/err" &&
   "$PY" - "$T/sw.md" "$T"/runs/bomm/tiny-random_*/run.h5 <<'EOF'; then ok "sweep.py rows = recomputed protocol means, labelled by what the sweep varies"; else cat "$T/err"; bad "sweep.py"; fi
import math, sys
import h5py
md, dirs = sys.argv[1], sys.argv[2:]
rows = {}
for l in open(md):
    if l.startswith("| ") and not l.startswith("| run"):
        rows.setdefault(l.split("|")[1].strip(), [c.strip().strip("*") for c in l.split("|")[2:-1]])
fin = lambda a: ([v for v in a if not math.isnan(v)] or [math.nan])[-1]
seen = 0
for d in dirs:  # run.h5 paths
    with h5py.File(d, "r") as f:
        m, c = f["metrics"], f["config"].attrs
        if int(c["seed"]) != 1:
            continue
        meth = f["meta"].attrs["method"].decode()
        lab = meth + (" fedprox.mu=0.1" if meth == "fedprox" and abs(c["fedprox.mu"] - 0.1) < 1e-12 else "")
        g, p = fin(m["party_test_acc_mean"][()]), fin(m["personal_test_acc_mean"][()])
        want = f"{100 * (g + p) / 2:.2f}" if not math.isnan(g) else "—"
        assert rows[lab][2] == want, (lab, rows[lab], want)
        seen += 1
assert seen >= 3 and "fedprox fedprox.mu=0.1" in rows, rows
EOF

echo "== seeds, ablations, large model"
# On copies of run files edited by hand (BoMM itself is not needed): two fedavg runs get an
# mm_test_acc series; four copies of one become "bomm" runs with bomm.* options and their defaults,
# the full method and its three ablations; two fedavg copies move to split seeds 2 and 3 at training
# seed 1 (the "± over splits" figure) and one to training seed 3 on the fixed split 1.
mkdir -p "$T/mm"
cp -r "$T"/runs/bomm/tiny-random_method-fedavg_seed-{1,2} "$T/mm/"
for v in full gpa dpo schedule; do cp -r "$T/runs/bomm/tiny-random_method-fedavg_seed-1" "$T/mm/bomm-$v"; done
for k in 2 3; do cp -r "$T/runs/bomm/tiny-random_method-fedavg_seed-1" "$T/mm/fedavg-split$k"; done
cp -r "$T/runs/bomm/tiny-random_method-fedavg_seed-2" "$T/mm/fedavg-seed3"
if "$PY" - "$T/mm" "$A" <<'EOF'; then ok "large-model acc; bomm −GPA/−DPO/−schedule and gap; mean ± std over training seeds 1-3 on split 1; ± over splits 1-3"; else bad "mm_test_acc, BoMM labels, seeds"; fi
import glob, statistics, subprocess, sys
import h5py, numpy as np
d, a = sys.argv[1:]
acc = {}
for s, v in ((1, [np.nan, 0.5, 0.6]), (2, [np.nan, 0.7, 0.4])):
    with h5py.File(f"{d}/tiny-random_method-fedavg_seed-{s}/run.h5", "r+") as f:
        f["metrics"].create_dataset("mm_test_acc", data=np.array(v))
        acc[s] = f["metrics/party_test_acc_mean"][-1]  # the last round is always evaluated
for name, seed, split, delta in (("fedavg-split2", 1, 2, 0.03), ("fedavg-split3", 1, 3, -0.02),
                                 ("fedavg-seed3", 3, 1, 0.04)):
    with h5py.File(f"{d}/{name}/run.h5", "r+") as f:
        f["config"].attrs["seed"], f["config"].attrs["seed.split"] = np.int64(seed), np.int64(split)
        f["metrics/party_test_acc_mean"][-1] += delta
        acc[seed if split == 1 else f"split{split}"] = f["metrics/party_test_acc_mean"][-1]
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
tab = out.split("### global protocol")[1].split("###")[0]
head = [c.strip() for c in next(l for l in tab.split("\n") if l.startswith("| method")).split("|")]
rows = [l.split("|") for l in tab.split("\n") if l.startswith("| ") and not l.startswith("| method")]
assert [r[1].strip() for r in rows] == ["bomm", "bomm −GPA", "bomm −DPO", "bomm −schedule", "fedavg"], rows
mm, seeds, sp = head.index("large-model acc"), head.index("seeds"), head.index("acc ± over splits")
assert rows[4][mm].strip() == f"{50:.2f} ± {100 * np.std([0.6, 0.4], ddof=1):.2f}", rows[4]
assert all(r[mm].strip() == "—" for r in rows[:4]), rows
pct = lambda xs: f"{100 * statistics.mean(xs):.2f} ± {100 * statistics.stdev(xs):.2f}"
train, splits = [acc[1], acc[2], acc[3]], [acc[1], acc["split2"], acc["split3"]]
assert rows[4][2].strip() == f"**{pct(train)}**" and rows[4][seeds].strip() == "1,2,3", (rows[4], train)
assert rows[4][sp].strip() == f"{pct(splits)} (splits 1,2,3, seed 1)", (rows[4], splits)
assert rows[0][sp].strip() == "—", rows[0]
g = 100 * (acc[1] - statistics.mean(train))  # bomm = fedavg seed 1; the ablations are not baselines
assert f"bomm − best baseline (fedavg), global: **{g:+.2f} points**" in out, (g, out)
assert "−personal" not in out
print(f"       fedavg: {rows[4][2].strip()} over seeds 1-3, {rows[4][sp].strip()}")
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

echo "== README figures"
RF=$A/readme_figures.py
# The committed README against the committed RESULTS.csv, number for number: no span differs or
# reads a key the table lacks (--strict), and --check writes nothing.
before=$(sha256sum <"$HERE/README.md")
if "$PY" "$RF" --check --strict --readme "$HERE/README.md" --bomm "$HERE/jobs/bomm/RESULTS.csv" >"$T/out" 2>"$T/err" &&
   ! grep -q '^differs' "$T/err" && [ "$(sha256sum <"$HERE/README.md")" = "$before" ]; then
  ok "README.md --check against jobs/bomm/RESULTS.csv: $(tail -1 "$T/err" | sed 's/readme_figures.py: //')"
else cat "$T/err"; bad "readme_figures.py --check on the committed README"; fi
# A README of our own on the tiny table's CSV: filled, then checked, then a number changed by hand.
cat >"$T/README.md" <<'EOF'
acc <!-- fig bomm:syn/bomm-random/personal/fedavg/acc -->0<!-- /fig --> points,
gap <!-- fig bomm:syn/bomm-random/personal/fedprox[mu=0.1]/gap|+.1f -->x<!-- /fig -->,
minus <!-- fig bomm:syn/bomm-random/global/fedprox[mu=0.1]/minus(fedavg) -->x<!-- /fig -->,
runs <!-- fig bomm:syn/bomm-random/personal/local/n -->x<!-- /fig -->,
not yet <!-- fig bomm:syn/bomm-hybrid/personal/bomm/acc -->77.00<!-- /fig -->.
EOF
if "$PY" "$RF" --readme "$T/README.md" --bomm "$T/bomm/r.csv" 2>"$T/err" && "$PY" - "$T" <<'EOF'; then ok "spans filled from RESULTS.csv (acc, gap, minus(ROW), n; − for negatives); the missing key left as is"; else cat "$T/err"; bad "readme_figures.py fill"; fi
import csv, re, sys
t = sys.argv[1]
rows = {(r["protocol"], r["row"]): r for r in csv.DictReader(open(f"{t}/bomm/r.csv")) if r["scenario"] == "bomm-random"}
acc = lambda p, r: 100 * float(rows[(p, r)]["acc_mean"])
sign = lambda s: s.replace("-", "−")
want = [f"{acc('personal', 'fedavg'):.2f}",
        sign(f"{acc('personal', 'fedprox[mu=0.1]') - max(acc('personal', 'fedavg'), acc('personal', 'local')):+.1f}"),
        sign(f"{acc('global', 'fedprox[mu=0.1]') - acc('global', 'fedavg'):+.2f}"), "1", "77.00"]
got = re.findall(r"-->(.*?)<!-- /fig -->", open(f"{t}/README.md").read())
assert got == want, (got, want)
print(f"       {got}")
EOF
if "$PY" "$RF" --check --readme "$T/README.md" --bomm "$T/bomm/r.csv" 2>"$T/err" &&
   grep -q "missing  .*README.md:5: fig bomm:syn/bomm-hybrid/personal/bomm/acc: no row" "$T/err"; then
  ok "--check passes on the filled copy, the missing key named"
else cat "$T/err"; bad "--check on a filled README"; fi
if "$PY" "$RF" --check --strict --readme "$T/README.md" --bomm "$T/bomm/r.csv" 2>/dev/null; then bad "--strict passed with a missing key"
else ok "--strict fails on the missing key"; fi
cp "$T/README.md" "$T/README.orig"
sed -i '1s/-->[0-9.]*<!--/-->12.34<!--/' "$T/README.md"
cp "$T/README.md" "$T/README.edited"
if "$PY" "$RF" --check --readme "$T/README.md" --bomm "$T/bomm/r.csv" 2>"$T/err"; then bad "--check missed a changed number"
elif grep -q "^differs  .*README.md:1: fig bomm:syn/bomm-random/personal/fedavg/acc: README '12.34', results '$(sed -n '1s/.*-->\([0-9.]*\)<!-- \/fig.*/\1/p' "$T/README.orig")'" "$T/err" &&
     cmp -s "$T/README.md" "$T/README.edited"; then
  ok "--check exits 1 on a changed number: $(grep '^differs' "$T/err" | sed 's/.*: README/README/')"
else cat "$T/err"; bad "--check on a changed number: unclear"; fi
printf 'a <!-- fig bomm:syn/x -->1<!-- /fig -->\n' >"$T/bad.md"
rc=0; "$PY" "$RF" --check --readme "$T/bad.md" --bomm "$T/bomm/r.csv" 2>"$T/err" || rc=$?
[ $rc = 2 ] && grep -q "expected SOURCE:DATASET/SCENARIO/PROTOCOL/ROW/QUANTITY" "$T/err" &&
  ok "a malformed key: exit 2, $(head -c 80 "$T/err")" || bad "malformed key: exit $rc, $(cat "$T/err")"

echo "== jobs/bomm/sweep.txt"
# The manifest is what its generator writes; 13 rows x 3 training seeds + 4 headline rows x 2 more
# splits, per config; every line sets both --seed and --seed.split; run names unique.
n=$(cd "$HERE" && analysis/run_manifest.sh jobs/bomm/sweep.txt --list | sort -u | wc -l)
if "$PY" "$HERE/jobs/bomm/gen_sweep.py" | cmp -s - "$HERE/jobs/bomm/sweep.txt" && [ "$n" = 282 ] &&
   [ "$(grep -c -- '--seed.split=1 --seed=[123]$' "$HERE/jobs/bomm/sweep.txt")" = 234 ] &&
   [ "$(grep -cE -- '--method=(bomm|fedavg|fedmkt|local) --seed=1 --seed.split=[23]$' "$HERE/jobs/bomm/sweep.txt")" = 48 ]; then
  ok "sweep.txt = gen_sweep.py's output: $n runs (234 on split 1 at seeds 1-3, 48 on splits 2-3)"
else bad "jobs/bomm/sweep.txt differs from jobs/bomm/gen_sweep.py or has $n runs"; fi

echo "== jobs/fedmllm manifests"
# Both manifests are what gen_sweep.py writes; 756 and 88 lines, run names unique; their headers'
# time estimates within the budgets (3 h full, 30 min quick).
FM=$HERE/jobs/fedmllm
nf=$(cd "$HERE" && analysis/run_manifest.sh jobs/fedmllm/sweep.txt --list | sort -u | wc -l)
nq=$(cd "$HERE" && analysis/run_manifest.sh jobs/fedmllm/sweep_quick.txt --list | sort -u | wc -l)
hours() { sed -n 's/^# Estimated time: .* = \([0-9.]*\) h on 2 cores\.$/\1/p' "$1"; }
if "$PY" "$FM/gen_sweep.py" | cmp -s - "$FM/sweep.txt" && "$PY" "$FM/gen_sweep.py" --quick | cmp -s - "$FM/sweep_quick.txt" &&
   [ "$nf" = 756 ] && [ "$nq" = 88 ] && awk -v h="$(hours "$FM/sweep.txt")" -v q="$(hours "$FM/sweep_quick.txt")" \
   'BEGIN { exit !(h > 0 && h <= 3 && q > 0 && q <= 0.5) }'; then
  ok "sweep.txt, sweep_quick.txt = gen_sweep.py's output: $nf and $nq runs, estimated $(hours "$FM/sweep.txt") h and $(hours "$FM/sweep_quick.txt") h"
else bad "jobs/fedmllm manifests: differ from gen_sweep.py, or $nf/$nq runs, or over budget"; fi

echo "== FedMLLM table"
# A tiny FedMLLM sweep from $T/fm as the root: gen_sweep.py (its ROWS) and two setting configs of
# jobs/fedmllm, tiny task configs on SynMM (items: 2 rounds, memes: 1), a zeroshot line with a bad
# option value (it fails by name, and the table says "no runs"), two copies of a fedadam run turned
# into the two strategy rows by their options (the strategies need the mllm model kind).
F=$T/fm
mkdir -p "$F/jobs/fedmllm"
cp "$FM/gen_sweep.py" "$FM/alpha0.5.cfg" "$FM/cross5-5.cfg" "$F/jobs/fedmllm/"
for t in items:2 memes:1; do
  printf 'parties = 4\nsample = 2\nrounds = %s\neval-every = 1\nlog-level = warn\nckpt-keep = 1\nmodel = party\ndata = %s\n' \
    "${t#*:}" "$T/syn.h5" >"$F/jobs/fedmllm/${t%:*}.cfg"
done
{
  for s in alpha0.5 cross5-5; do
    for m in "fedavg --seed=1" "fedavg --seed=2" "fedavgm --seed=1" "fedadam --fedadam.eta=0.01 --seed=1" "local --seed=1"; do
      echo "jobs/fedmllm/items.cfg --config=jobs/fedmllm/$s.cfg --method=$m"
    done
  done
  echo "jobs/fedmllm/items.cfg --config=jobs/fedmllm/alpha0.5.cfg --method=zeroshot --batch-size=0 --seed=1"
  for m in fedavg local; do echo "jobs/fedmllm/memes.cfg --config=jobs/fedmllm/alpha0.5.cfg --method=$m --seed=1"; done
} >"$F/jobs/fedmllm/sweep.txt"
FMR() { (cd "$F" && MPIRUN="$MPIRUN" "$A/run_manifest.sh" "$@" --bin "$BINA"); }
t1=$EPOCHREALTIME
if FMR jobs/fedmllm/sweep.txt -j 2 -n 2 >"$T/fm1.out" 2>"$T/fm1.err"; then bad "the zeroshot line did not fail"
elif grep -q "13 runs in runs/fedmllm/, 0 finished" "$T/fm1.out" && [ "$(grep -c '^  done ' "$T/fm1.out")" = 12 ] &&
     grep -q -- "--batch-size=0" "$T/fm1.err"; then
  ok "13 lines in $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t1}") s: 12 done, zeroshot failed by name"
else cat "$T/fm1.out" "$T/fm1.err"; bad "run_manifest.sh on the tiny FedMLLM sweep"; fi
ADAM=$F/runs/fedmllm/items_config-jobs-fedmllm-cross5-5.cfg_method-fedadam_fedadam.eta-0.01_seed-1
mkdir -p "$F/extra"
cp -r "$ADAM" "$F/extra/aug" && cp -r "$ADAM" "$F/extra/lsprox"
"$PY" - "$F/extra" <<'EOF'
import sys
import h5py, numpy as np
d = sys.argv[1]
for v, k, val, dflt in (("aug", "mllm.prompt", "augmented", "plain"), ("lsprox", "prox", "adaptive", "none")):
    with h5py.File(f"{d}/{v}/run.h5", "r+") as f:
        f["config"].attrs[k], f["defaults"].attrs[k] = np.bytes_(val), np.bytes_(dflt)
        f["metrics/test_macro_f1"][-1] += 0.01 * (v == "aug")
EOF
mapfile -t FR < <(cd "$F" && ls -d runs/fedmllm/*/ extra/*/ | grep -v zeroshot)
"$PY" "$EM" stamp $FAKE 0 "${FR[@]/#/$F/}"
(cd "$F" && "$PY" "$A/fedmllm_table.py" --manifest jobs/fedmllm/sweep.txt extra/aug extra/lsprox --md out/RESULTS.md \
   >"$F/stdout.md" 2>"$F/err") || { cat "$F/err"; bad "fedmllm_table.py failed"; }
cmp -s "$F/stdout.md" "$F/out/RESULTS.md" && ok "stdout = --md" || bad "stdout differs from --md"
# Recomputed with h5py: cells (x100, mean ± sample std over seeds; local from personal_*_mean, †),
# rows in ROWS' order with "no runs", the strategy rows, bytes, CSV, and the paragraph's numbers.
if "$PY" - "$F" <<'EOF'; then ok "FedMLLM table = recomputed from run.h5 (cells, †, strategy rows, no runs, CSV, paragraph)"; else bad "FedMLLM table"; fi
import csv, glob, math, re, statistics, sys
import h5py
f_ = sys.argv[1]
md = open(f"{f_}/out/RESULTS.md").read()
fin = lambda a: ([v for v in a if not math.isnan(v)] or [math.nan])[-1]
want, byts = {}, {}
for p in sorted(glob.glob(f"{f_}/runs/fedmllm/*/run.h5") + glob.glob(f"{f_}/extra/*/run.h5")):
    with h5py.File(p, "r") as f:
        c, m = f["config"].attrs, f["metrics"]
        task = "items" if int(c["rounds"]) == 2 else "memes"
        row = f["meta"].attrs["method"].decode()
        row += {"augmented": "+aug"}.get(c.get("mllm.prompt", b"").decode(), "")
        row += {"adaptive": "+lsprox"}.get(c.get("prox", b"").decode(), "")
        sc = c["scenario"].decode()[len("fedmllm-"):]
        for s in ("test_macro_f1", "test_auc", "test_auc_hard"):
            v, pers = fin(m[s][()]), False
            if math.isnan(v):  # no shared model: the personal series, NaN where not recorded
                pers = True
                v = fin(m[f"personal_{s}_mean"][()]) if f"personal_{s}_mean" in m else math.nan
            want.setdefault((task, s, row, sc), []).append((100 * v, pers))
        byts.setdefault((task, row), []).append((m["payload_up"][()] + m["payload_down"][()]).mean())
assert "**14 runs**" in md and "Manifest: 13 runs, 12 with a run file. **1 without one**" in md, md[:1500]
assert "`runs/fedmllm/items_config-jobs-fedmllm-alpha0.5.cfg_method-zeroshot_batch-size-0_seed-1`" in md
assert "CAUTION" not in md and f"commit `0123456789abcdef0123456789abcdef01234567`" in md
ROWS = ["fedavg", "fedprox", "fedavgm", "fedadagrad", "fedadam", "fedyogi", "local", "zeroshot", "centralized",
        "fedadam+aug", "fedadam+lsprox"]
kb = lambda b: next((f"{b / k:.1f} {u}" for u, k in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)) if b >= k), f"{b:.0f} B")
tables = re.split(r"^### ", md, flags=re.M)[1:]
assert [t.split("\n")[0] for t in tables] == ["macro-F1 (`test_macro_f1`)", "AUC (`test_auc`)",
                                              "hard-label AUC (`test_auc_hard`)"], [t.split("\n")[0] for t in tables]
n_cells = 0
for t, (task, s) in zip(tables, [("items", "test_macro_f1"), ("memes", "test_auc"), ("memes", "test_auc_hard")]):
    lines = [l for l in t.split("\n") if l.startswith("| ")]
    head = [x.strip() for x in lines[0].strip("|").split("|")]
    sets = ["alpha0.5", "cross5:5"] if task == "items" else ["alpha0.5"]
    assert head == ["method"] + sets + ["bytes/round"], head
    rows = [[x.strip() for x in l.strip().strip("|").split("|")] for l in lines[1:]]
    assert [r[0] for r in rows] == ROWS, [r[0] for r in rows]
    for r in rows:
        have = [k for k in want if k[:3] == (task, s, r[0])]
        if not have:
            assert r[1] == "no runs", r
            continue
        for i, sc in enumerate(sets):
            v = want.get((task, s, r[0], sc))
            if v is None:
                assert r[1 + i] == "—", (r, sc)
                continue
            xs = [x for x, _ in v]
            dag = "†" if v[0][1] else ""
            if any(math.isnan(x) for x in xs):
                exp = "—" + dag
            else:
                exp = (f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}" if len(xs) > 1 else f"{xs[0]:.2f}") + dag
            assert r[1 + i].split(" (n=")[0] == exp, (task, s, r, sc, exp)
            n_cells += 1
        assert r[-1] == kb(statistics.mean(byts[(task, r[0])])), (r, byts[(task, r[0])])
assert n_cells == 14, n_cells  # items 5 rows x 2 settings, less the strategies on alpha0.5; memes 2 x 2
assert want[("items", "test_macro_f1", "local", "alpha0.5")][0][1], "local should read the personal series"
assert "—†" in tables[2], "local has no personal hard-label AUC: —†"
got = list(csv.DictReader(open(f"{f_}/out/RESULTS.csv")))
for g in got:
    xs = [x for x, _ in want[(g["task"], g["metric"], g["row"], g["setting"])]]
    if not any(math.isnan(x) for x in xs):
        assert abs(float(g["mean"]) - statistics.mean(xs)) < 1e-9, (g, xs)
    assert g["protocol"] == ("personal" if g["row"] == "local" else "global") and g["provenance"] == "clean", g
assert {g["row"] for g in got} == {"fedavg", "fedavgm", "fedadam", "local", "fedadam+aug", "fedadam+lsprox"}
# The paragraph (items): federation − local per setting and FedAvgM against the others' median.
it = lambda row, sc: statistics.mean(x for x, _ in want[("items", "test_macro_f1", row, sc)])
fed = ["fedavg", "fedavgm", "fedadam"]
gaps = {sc: statistics.mean(it(m, sc) for m in fed) - it("local", sc) for sc in ("alpha0.5", "cross5:5")}
lo, hi = min(gaps, key=gaps.get), max(gaps, key=gaps.get)
line = f"ranges from {gaps[lo]:+.2f} ({lo}) to {gaps[hi]:+.2f} ({hi})"
assert line in md, (line, md[md.index("Federation beats"):][:400])
am, om = it("fedavgm", "cross5:5"), statistics.median([it("fedavg", "cross5:5"), it("fedadam", "cross5:5")])
line2 = f"FedAvgM {am:.2f} against {om:.2f} for the other federated methods (median of their means), {am - om:+.2f} points"
assert line2 in md, (line2, md[md.index("FedAvgM collapses"):][:400])
assert "*Adaptive optimisers most robust* — worst setting per method: " in md
assert "![items](curves/items.png)" in md and "![memes](curves/memes.png)" in md
print(f"       items: {line}; {line2[:60]}")
EOF
if [ -s "$F/out/curves/items.png" ] && [ -s "$F/out/curves/memes.png" ] && (cd "$F" && sha256sum --quiet -c out/RUNS.sha256) &&
   [ "$(wc -l <"$F/out/RUNS.sha256")" = 28 ]; then ok "curves/items.png, memes.png; RUNS.sha256 of the 14 runs checks"
else bad "FedMLLM curves or RUNS.sha256"; fi
cp -r "$ADAM" "$F/extra/dirty" && "$PY" "$EM" stamp $FAKE 1 "$F/extra/dirty"
if (cd "$F" && "$PY" "$A/fedmllm_table.py" --manifest jobs/fedmllm/sweep.txt extra/dirty >/dev/null 2>"$T/err"); then
  bad "fedmllm_table.py accepted a dirty run"
elif grep -q "extra/dirty (commit $FAKE, git_dirty 1)" "$T/err"; then ok "fedmllm_table.py refuses a dirty run by name"
else bad "fedmllm_table.py on a dirty run: unclear error: $(cat "$T/err")"; fi

echo "== jobs/cdcca/sweep.txt"
# The manifest is what its generator writes: 8 method rows, 3 ablation rows and 6 caption rows x 3
# seeds, run names
# unique, no second run of CD-CCA's own r = 0.5 / keep certain, the estimate within 60 minutes.
nc=$(cd "$HERE" && analysis/run_manifest.sh jobs/cdcca/sweep.txt --list | sort -u | wc -l)
mins=$(sed -n 's/^# -j 2 -n 3): \([0-9]*\) min on 2 cores\.$/\1/p' "$HERE/jobs/cdcca/sweep.txt")
if "$PY" "$HERE/jobs/cdcca/gen_sweep.py" | cmp -s - "$HERE/jobs/cdcca/sweep.txt" && [ "$nc" = 51 ] &&
   ! grep -qE -- '--cdcca.mask=0.5 |--cdcca.keep=certain' "$HERE/jobs/cdcca/sweep.txt" &&
   [ -n "$mins" ] && [ "$mins" -le 60 ]; then
  ok "sweep.txt = gen_sweep.py's output: $nc runs, estimated $mins min"
else bad "jobs/cdcca/sweep.txt differs from jobs/cdcca/gen_sweep.py, or has $nc runs, or ${mins:-no} estimate"; fi

echo "== CD-CCA table"
# A tiny CD-CCA sweep from $T/cd as the root, on the tiny base model and its teacher (the options of
# tests/test_cdcca.c's runs): a generator that keeps 3 method rows, 2 ablation rows and 1 caption
# row of jobs/cdcca/gen_sweep.py at 2 seeds; the table's numbers against metrics.csv read with csv, its
# "Against the paper" sentences recomputed, the plot, RUNS.sha256, and provenance refused by name.
DATA=${MMC_DATA_DIR:-$HERE/data}
for f in avfmnist_ci.h5 base/mllm_tiny.h5 base/mllm_tiny-teacher.h5; do
  [ -f "$DATA/$f" ] || { echo "test_analysis: $DATA/$f missing (make data/$f, or MMC_DATA_DIR)" >&2; exit 1; }
done
DATA=$(cd "$DATA" && pwd)
C=$T/cd
mkdir -p "$C/jobs/cdcca"
cat >"$C/jobs/cdcca/tiny.cfg" <<EOF2
data = $DATA/avfmnist_ci.h5
model = mllm
mllm.base = $DATA/base/mllm_tiny.h5
public-fraction = 0.3
method = cdcca
cdcca.teacher = $DATA/base/mllm_tiny-teacher.h5
parties = 2
rounds = 4
cdcca.stages = 2
cdcca.chunk = 16
batch-size = 8
max-train = 200
max-test = 40
cdcca.source-rows = 32
cdcca.source-epochs = 1
EOF2
cat >"$C/jobs/cdcca/gen_tiny.py" <<EOF2
import importlib.util
spec = importlib.util.spec_from_file_location("gen_sweep", "$HERE/jobs/cdcca/gen_sweep.py")
g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)
globals().update({k: v for k, v in vars(g).items() if k.isupper()})


def lines():
    return g.lines(config="jobs/cdcca/tiny.cfg", seeds=(1, 2), methods=("Source-only", "TENT", "CD-CCA"),
                   ablations=("mask r = 0.25", "keep uncertain (paper's reading)"), captions=("CD-CCA",))
EOF2
(cd "$C" && "$PY" -c 'import sys; sys.path.insert(0, "jobs/cdcca"); import gen_tiny
print("\n".join(x[-1] for x in gen_tiny.lines()))' >jobs/cdcca/sweep.txt)
t1=$EPOCHREALTIME
if (cd "$C" && MPIRUN="$MPIRUN" "$A/run_manifest.sh" jobs/cdcca/sweep.txt -j 2 -n 2 --bin "$BINA") >"$T/cd.out" 2>&1; then
  ok "12 tiny CD-CCA runs in $(awk "BEGIN{printf \"%.1f\", $EPOCHREALTIME - $t1}") s"
else cat "$T/cd.out"; bad "run_manifest.sh on the tiny CD-CCA sweep"; fi
mapfile -t CDR < <(cd "$C" && "$A/run_manifest.sh" jobs/cdcca/sweep.txt --list)
"$PY" "$EM" stamp $FAKE 0 "${CDR[@]/#/$C/}"
CDT() { (cd "$C" && "$PY" "$A/cdcca_table.py" --manifest jobs/cdcca/sweep.txt --sweep jobs/cdcca/gen_tiny.py "$@"); }
CDT --md out/RESULTS.md >"$C/stdout.md" 2>"$C/err" || { cat "$C/err"; bad "cdcca_table.py failed"; }
cmp -s "$C/stdout.md" "$C/out/RESULTS.md" && ok "stdout = --md" || bad "stdout differs from --md"
# Recomputed from each run's metrics.csv (the binary's other output, read with csv, not through
# analysis/runs.py or h5py): per row mean ± sample std over seeds of every measure, the Markdown
# cells, the per-stage table, "no runs", the paper section's sentences and verdicts, the digests.
if "$PY" - "$C" "$DATA" "$FAKE" "${CDR[@]}" <<'EOF2'; then ok "CD-CCA table = recomputed from metrics.csv (measures, cells, stages, paper section, digests)"; else bad "CD-CCA table"; fi
import csv, hashlib, math, statistics, sys
c, data, fake, *dirs = sys.argv[1:]
sys.path.insert(0, f"{c}/jobs/cdcca")
import gen_tiny as g
lines = g.lines()
assert len(lines) == len(dirs) == 12, (lines, dirs)
want = {}  # row -> [(seed, measures)]
for (study, row, seed, _), n in zip(lines, dirs):
    rs = list(csv.DictReader(open(f"{c}/{n}/metrics.csv")))
    f = lambda r, k: float(r[k]) if r[k] != "" else math.nan
    last = rs[-1]
    col = lambda k: [f(r, k) for r in rs]
    end = [f(last, f"cd_acc_stage{j}") for j in (1, 2)]
    diag = [f(rs[1], "cd_stage_acc"), f(rs[3], "cd_stage_acc")]  # rounds 2 and 4 end stages 1 and 2
    m = {"avg_acc": f(last, "cd_avg_acc"), "final_acc": statistics.mean(end), "forgetting": f(last, "cd_forgetting"),
         "up_share": sum(col("cd_up_bytes")) / sum(col("cd_raw_bytes")),
         "rows_share": sum(col("cd_up_rows")) / sum(col("cd_rows")),
         "down_share": statistics.mean(col("cd_down_share")), "round_ms": statistics.median(col("round_ms")),
         "stage1_end": end[0], "stage2_end": end[1], "stage1_when_ended": diag[0], "stage2_when_ended": diag[1]}
    assert abs(statistics.mean(diag) - m["avg_acc"]) < 1e-12, (n, diag, m)  # avg acc = the diagonal's mean
    if study == "captions":  # BLEU: the mean over the stage ends of each stage's BLEU
        for k in ("bleu1", "bleu4"):
            b = [f(rs[1], "cd_" + k), f(rs[3], "cd_" + k)]
            m[k] = f(last, "cd_avg_" + k)
            assert abs(statistics.mean(b) - m[k]) < 1e-12 and 0 <= m[k] <= 1, (n, k, b, m[k])
    want.setdefault(row, []).append((seed, m))
assert sorted(want) == sorted(["Source-only", "TENT", "CD-CCA", "mask r = 0.25", "keep uncertain (paper's reading)",
                               "CD-CCA + captions"])
got = {r["row"]: r for r in csv.DictReader(open(f"{c}/out/RESULTS.csv"))}
close = lambda a, b: abs(a - b) <= 1e-9 * max(1.0, abs(b))
for row, v in want.items():
    for k in v[0][1]:
        xs = [x[k] for _, x in v]
        assert close(float(got[row][k + "_mean"]), statistics.mean(xs)), (row, k, got[row][k + "_mean"], xs)
        assert close(float(got[row][k + "_std"]), statistics.stdev(xs)), (row, k, got[row][k + "_std"], xs)
    assert got[row]["seeds"] == "1 2" and got[row]["provenance"] == "clean" and got[row]["commits"] == fake, got[row]
assert all(got[r]["n"] == "0" for r in ("CoTTA-lite", "Pseudo-label", "Logit-KD", "mask r = 0.75")), got
assert got["TENT"]["up_share_mean"] == "0.0" and float(got["CD-CCA"]["up_share_mean"]) > 0, got["CD-CCA"]
md = open(f"{c}/out/RESULTS.md").read()
rows = {}
for sec in ("## Methods", "## Ablations", "## Captions", "## Accuracy per stage"):
    part = md[md.index(sec):].split("\n## ")[0]
    rows[sec] = {l.split("|")[1].strip(): [x.strip() for x in l.split("|")[2:-1]]
                 for l in part.split("\n") if l.startswith("| ") and not l.startswith("| row ")}
pm = lambda xs, sc=100, d=1: f"{statistics.mean(xs) * sc:.{d}f} ± {statistics.stdev(xs) * sc:.{d}f}"
cap = want.pop("CD-CCA + captions")
cells = rows["## Captions"]["CD-CCA + captions"]
assert cells[0] == "1,2" and cells[1] == pm([x["avg_acc"] for _, x in cap]), cells
assert cells[2] == pm([x["bleu1"] for _, x in cap], 100, 2) and cells[3] == pm([x["bleu4"] for _, x in cap], 100, 2), cells
assert rows["## Captions"]["TENT + captions"][0] == "no runs"
for row, v in want.items():
    sec = "## Methods" if row in g.METHODS else "## Ablations"
    cells = rows[sec][row]
    assert cells[0] == "1,2", cells
    for i, k in enumerate(("avg_acc", "final_acc", "forgetting")):
        assert cells[1 + i] == pm([x[k] for _, x in v]), (row, k, cells)
    assert cells[7] == pm([x["round_ms"] for _, x in v], 1, 0), (row, cells)
up = [x["up_share"] for _, x in want["CD-CCA"]]
d = min(4, 1 - math.floor(math.log10(statistics.mean(up) * 100))) if statistics.mean(up) < 0.01 else 1
assert rows["## Methods"]["CD-CCA"][4] == pm(up, 100, d), (rows["## Methods"]["CD-CCA"], up)
assert rows["## Ablations"]["CD-CCA (r = 0.5, keep certain)"] == rows["## Methods"]["CD-CCA"]
assert rows["## Methods"]["Logit-KD"][0] == "no runs" and rows["## Ablations"]["mask r = 0.75"][0] == "no runs"
st = rows["## Accuracy per stage"]["CD-CCA"]
assert st[0] == f"{pm([x['stage1_end'] for _, x in want['CD-CCA']])}<br><sub>{pm([x['stage1_when_ended'] for _, x in want['CD-CCA']])}</sub>", st
assert "mask r = 0.25" not in rows["## Accuracy per stage"], "the per-stage table holds the method rows"
# The paper section: CD-CCA − TENT paired by seed; the uplink verdict; the mask verdict.
by = lambda row: dict((s, x["avg_acc"]) for s, x in want[row])
dd = [by("CD-CCA")[s] - by("TENT")[s] for s in (1, 2)]
dm, ds = statistics.mean(dd), statistics.stdev(dd)
line = (f"CD-CCA − TENT: **{dm * 100:+.1f}** points average accuracy (± {ds * 100:.1f}; seeds 1, 2); exceeds the "
        f"spread: **{'yes' if abs(dm) > ds else 'no'}**")
assert line in md, (line, md[md.index("## Against"):])
assert "- CD-CCA − CoTTA-lite: no runs of CoTTA-lite yet." in md
u = statistics.mean(up) * 100
assert f"agrees: **{'yes' if u < 5 else 'no'}**" in md[md.index("- Uplink:"):].split("\n")[0], md[md.index("- Uplink:"):][:300]
paper = {r["row"]: r for r in csv.DictReader(open(f"{c}/out/RESULTS.csv")) if r["study"] == "paper"}
assert paper["uplink % of raw data"]["agree"] == str(u < 5) and close(float(paper["uplink % of raw data"]["value"]), u / 100)
assert paper["CD-CCA − TENT"]["agree"] == str(dm > 0 and abs(dm) > ds), paper["CD-CCA − TENT"]
a50, a25 = statistics.mean(by("CD-CCA").values()), statistics.mean(by("mask r = 0.25").values())
assert paper["best mask ratio"]["agree"] == str(a50 >= a25), (paper["best mask ratio"], a50, a25)
# The header: commit, the data's, base model's and teacher's digests (sha256 of the files).
sha = lambda p: hashlib.sha256(open(p, "rb").read()).hexdigest()[:16]
head = md[:md.index("## Methods")]
for want_s in (f"commit {fake[:12]}", f"avfmnist_ci sha256 {sha(data + '/avfmnist_ci.h5')}",
               f"mllm_tiny.h5` sha256 {sha(data + '/base/mllm_tiny.h5')}",
               f"mllm_tiny-teacher.h5` sha256 {sha(data + '/base/mllm_tiny-teacher.h5')}", "2 devices, 2 shift stages of 2 rounds"):
    assert want_s in head, (want_s, head)
assert "CAUTION" not in md and "![accuracy per stage](stages.png)" in md
print(f"       CD-CCA avg acc {pm([x['avg_acc'] for _, x in want['CD-CCA']])} %, uplink {u:.2f} % of the raw data; "
      f"CD-CCA − TENT {dm * 100:+.1f} points")
EOF2
"$PY" - "$C/out/stages.png" >"$T/png.out" <<'EOF2' || true
import struct, sys
b = open(sys.argv[1], "rb").read()
w, h = struct.unpack(">II", b[16:24]) if len(b) >= 24 else (0, 0)
print("ok" if b[:8] == b"\x89PNG\r\n\x1a\n" and w >= 400 and h >= 200 and len(b) > 20000 else "bad", f"{w}x{h}, {len(b)} bytes")
EOF2
if grep -q '^ok' "$T/png.out" && [ "$(wc -l <"$C/out/RUNS.sha256")" = 24 ] && (cd "$C" && sha256sum --quiet -c out/RUNS.sha256); then
  ok "stages.png ($(cut -d' ' -f2- "$T/png.out")); RUNS.sha256 of the 12 runs checks"
else cat "$T/png.out"; bad "CD-CCA stages.png or RUNS.sha256"; fi
# Provenance: a dirty run and a run of another commit are refused by name, flagged when allowed.
D1=${CDR[0]} M1=${CDR[1]}
OTHER=fedcba9876543210fedcba9876543210fedcba98
"$PY" "$EM" stamp $FAKE 1 "$C/$D1"
if CDT >/dev/null 2>"$T/err"; then bad "cdcca_table.py accepted a dirty run"
elif grep -q "$D1 (commit $FAKE, git_dirty 1)" "$T/err" && CDT --allow-dirty --md dirty/RESULTS.md >/dev/null 2>&1 &&
     grep -q '^> \*\*WARNING: DIRTY: 1 run(s)' "$C/dirty/RESULTS.md" &&
     [ "$(grep -c ',dirty,' "$C/dirty/RESULTS.csv")" = 1 ]; then
  ok "a dirty run: refused by name; --allow-dirty: WARNING: DIRTY, its row's provenance dirty"
else cat "$T/err"; bad "cdcca_table.py on a dirty run"; fi
"$PY" "$EM" stamp $FAKE 0 "$C/$D1" && "$PY" "$EM" stamp $OTHER 0 "$C/$M1"
if CDT >/dev/null 2>"$T/err"; then bad "cdcca_table.py accepted runs of two commits"
elif grep -q "the runs come from 2 commits" "$T/err" && grep -q "$M1 (commit $OTHER)" "$T/err" &&
     CDT --allow-mixed --md mixed/RESULTS.md >/dev/null 2>&1 && grep -q 'WARNING: MIXED: the runs come from 2 commits' "$C/mixed/RESULTS.md"; then
  ok "runs of two commits: refused naming the odd one; --allow-mixed: WARNING: MIXED"
else cat "$T/err"; bad "cdcca_table.py on mixed commits"; fi
"$PY" "$EM" stamp $FAKE 0 "$C/$M1"
sed -i '1d' "$C/jobs/cdcca/sweep.txt"
if CDT >/dev/null 2>"$T/err"; then bad "cdcca_table.py accepted a manifest its generator does not write"
elif grep -q "jobs/cdcca/sweep.txt is not what jobs/cdcca/gen_tiny.py writes" "$T/err"; then ok "a stale manifest: $(head -c 90 "$T/err")"
else cat "$T/err"; bad "cdcca_table.py on a stale manifest: unclear error"; fi

echo "== jobs/fedcmp/sweep.txt"
nf=$(cd "$HERE" && analysis/run_manifest.sh jobs/fedcmp/sweep.txt --list | sort -u | wc -l)
if "$PY" "$HERE/jobs/fedcmp/gen_sweep.py" | cmp -s - "$HERE/jobs/fedcmp/sweep.txt" && [ "$nf" = 189 ]; then
  ok "fedcmp sweep.txt = gen_sweep.py's output: $nf runs"
else bad "jobs/fedcmp/sweep.txt differs from jobs/fedcmp/gen_sweep.py, or has $nf runs"; fi

echo "== Fed-CMP table"
# A tiny Fed-CMP sweep on the tiny base model: Fed-CMP and FedAvg in the IID scenario and one
# ablation, 2 seeds; the caption perplexity cells and the paired difference against FedAvg
# recomputed from metrics.csv; spectrum.png, RUNS.sha256; a stale manifest refused by name.
F=$T/fm
mkdir -p "$F/jobs/fedcmp"
cat >"$F/jobs/fedcmp/tiny.cfg" <<EOF2
data = $DATA/avfmnist_ci.h5
model = mllm
mllm.base = $DATA/base/mllm_tiny.h5
public-fraction = 0.3
method = fedcmp
parties = 2
rounds = 2
batch-size = 8
max-train = 200
max-test = 40
fedcmp.chunk = 16
fedcmp.lr = 20
fedcmp.tune-steps = 2
eval-every = 1
EOF2
cat >"$F/jobs/fedcmp/gen_tiny.py" <<EOF2
import importlib.util
spec = importlib.util.spec_from_file_location("gen_sweep", "$HERE/jobs/fedcmp/gen_sweep.py")
g = importlib.util.module_from_spec(spec)
spec.loader.exec_module(g)
globals().update({k: v for k, v in vars(g).items() if k.isupper()})


def lines():
    return g.lines(config="jobs/fedcmp/tiny.cfg", seeds=(1, 2), methods=("Fed-CMP (CRAA + OPM)", "FedAvg"),
                   scenarios=("IID",), ablations=("CRAA without OPM",))
EOF2
(cd "$F" && "$PY" -c 'import sys; sys.path.insert(0, "jobs/fedcmp"); import gen_tiny
print("\n".join(x[-1] for x in gen_tiny.lines()))' >jobs/fedcmp/sweep.txt)
if (cd "$F" && MPIRUN="$MPIRUN" "$A/run_manifest.sh" jobs/fedcmp/sweep.txt -j 2 -n 2 --bin "$BINA") >"$T/fm.out" 2>&1; then
  ok "6 tiny Fed-CMP runs"
else cat "$T/fm.out"; bad "run_manifest.sh on the tiny Fed-CMP sweep"; fi
mapfile -t FMR < <(cd "$F" && "$A/run_manifest.sh" jobs/fedcmp/sweep.txt --list)
"$PY" "$EM" stamp $FAKE 0 "${FMR[@]/#/$F/}"
FMT() { (cd "$F" && "$PY" "$A/fedcmp_table.py" --manifest jobs/fedcmp/sweep.txt --sweep jobs/fedcmp/gen_tiny.py "$@"); }
FMT --md out/RESULTS.md >/dev/null 2>"$F/err" || { cat "$F/err"; bad "fedcmp_table.py failed"; }
if "$PY" - "$F" "${FMR[@]}" <<'EOF2'; then ok "Fed-CMP table = recomputed from metrics.csv (ppl cells, the paired difference)"; else bad "Fed-CMP table"; fi
import csv, math, statistics, sys
f, *dirs = sys.argv[1:]
sys.path.insert(0, f"{f}/jobs/fedcmp")
import gen_tiny as g
lines = g.lines()
assert len(lines) == len(dirs) == 6, (lines, dirs)
ppl = {}
for (study, sc, row, seed, _), n in zip(lines, dirs):
    rs = list(csv.DictReader(open(f"{f}/{n}/metrics.csv")))
    v = [float(r["fm_caption_ppl"]) for r in rs if r["fm_caption_ppl"] != ""]
    ppl.setdefault((study, row), {})[seed] = v[-1]
md = open(f"{f}/out/RESULTS.md").read()
part = md[md.index("## Caption perplexity"):].split("\n## ")[0]
cells = {l.split("|")[1].strip(): l.split("|")[2].strip() for l in part.split("\n") if l.startswith("| ") and not l.startswith("| rule")}
for row in ("Fed-CMP (CRAA + OPM)", "FedAvg"):
    xs = list(ppl[("method", row)].values())
    want = f"{statistics.mean(xs):.2f} ± {statistics.stdev(xs):.2f}"
    assert cells[row] == want, (row, cells[row], want)
assert cells["TIES-merging"] == "no runs", cells
d = [ppl[("method", "Fed-CMP (CRAA + OPM)")][s] - ppl[("method", "FedAvg")][s] for s in (1, 2)]
want = f"− FedAvg: {statistics.mean(d):+.2f} ± {statistics.stdev(d):.2f}"
assert want in md, (want, md[md.index("## Where"):])
assert "| CRAA without OPM | 1,2 |" in md and "![singular values per round](spectrum.png)" in md
EOF2
if [ -s "$F/out/spectrum.png" ] && [ "$(wc -l <"$F/out/RUNS.sha256")" = 12 ] && (cd "$F" && sha256sum --quiet -c out/RUNS.sha256); then
  ok "fedcmp spectrum.png; RUNS.sha256 of the 6 runs checks"
else bad "fedcmp spectrum.png or RUNS.sha256"; fi
sed -i '1d' "$F/jobs/fedcmp/sweep.txt"
if FMT >/dev/null 2>"$T/err"; then bad "fedcmp_table.py accepted a manifest its generator does not write"
elif grep -q "is not what jobs/fedcmp/gen_tiny.py writes" "$T/err"; then ok "fedcmp: a stale manifest refused"
else cat "$T/err"; bad "fedcmp_table.py on a stale manifest: unclear error"; fi

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
