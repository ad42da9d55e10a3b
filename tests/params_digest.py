#!/usr/bin/python3
"""The digest of the model parameters a checkpoint holds, for the redesign's invariant test.

    tests/params_digest.py CKPT.h5      prints one line per part, then "digest <32 hex>"

Parts, in this order, where present: the global model, the parties' own models, the parties'
previous local models (MOON), the cloud's large model, the generators. Each part is the float32
little-endian bytes of its flat parameter vector(s) in buffer order, one row per party or slot;
the digest is SHA-256 over (part name, bytes) for every part, cut to 32 hex digits. It does not
depend on the checkpoint layout, so the digests of runs of the old build (tests/ref/digests.txt)
stay comparable after the layout changes.
"""
import hashlib
import sys

import h5py
import numpy as np

# (part, dataset) of the first checkpoint layout: one (rows, n) array per part.
LEGACY = [("global", "cloud/global"), ("parties", "parties/params"), ("prev", "parties/prev"),
          ("large", "collab/mm_params"), ("generators", "collab/gen_params")]


def parts(f):
    for part, path in LEGACY:
        if path in f:
            a = np.asarray(f[path], dtype="<f4")
            yield part, a.reshape(a.shape[0], -1)


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    with h5py.File(sys.argv[1], "r") as f:
        h = hashlib.sha256()
        for part, a in parts(f):
            h.update(part.encode())
            h.update(a.tobytes())
            print(part, "x".join(map(str, a.shape)), hashlib.sha256(a.tobytes()).hexdigest()[:16])
        print("digest", h.hexdigest()[:32])


main()
