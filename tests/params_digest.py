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

# (part, dataset) of the first checkpoint layout (schema 1): one (rows, n) array per part.
LEGACY = [("global", "cloud/global"), ("parties", "parties/params"), ("prev", "parties/prev"),
          ("large", "collab/mm_params"), ("generators", "collab/gen_params")]
# (part, group, stacked) of the named-tensor layout (schema 2): one dataset per tensor, with its
# offset in the model's buffer as attribute "offset"; stacked groups have a leading row axis.
NAMED = [("global", "cloud/global", False), ("parties", "parties/model", True),
         ("prev", "parties/prev", True), ("large", "cloud/large", False),
         ("generators", "cloud/generators", True)]


def tensors(group):
    """(offset, dataset) of every dataset under group, recursively."""
    out = []
    group.visititems(lambda name, obj: out.append((int(obj.attrs["offset"]), obj))
                     if isinstance(obj, h5py.Dataset) else None)
    return sorted(out, key=lambda t: t[0])


def parts(f):
    if int(f.attrs.get("schema", 1)) == 1:
        for part, path in LEGACY:
            if path in f:
                a = np.asarray(f[path], dtype="<f4")
                yield part, a.reshape(a.shape[0], -1)
        return
    for part, path, stacked in NAMED:
        if path not in f:
            continue
        rows = []
        for _, ds in tensors(f[path]):
            a = np.asarray(ds, dtype="<f4")
            rows.append(a.reshape(a.shape[0], -1) if stacked else a.reshape(1, -1))
        yield part, np.concatenate(rows, axis=1)


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
