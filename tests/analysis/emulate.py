#!/usr/bin/python3
"""Edits the provenance of real tiny run files (made by test_analysis.sh), so that the table
generators' tests do not depend on the state of the checkout.

    emulate.py stamp COMMIT DIRTY RUN_DIR...   /meta git_commit = COMMIT, git_dirty = DIRTY
    emulate.py unstamp RUN_DIR...              delete git_commit/git_dirty (an older run file)

stamp always overwrites: a binary built from a worktree with uncommitted changes records
git_dirty = 1, and the tests must pass there too. Everything else the tables read is the binary's
own output.
"""
import sys

import h5py
import numpy as np


def stamp(commit, dirty, dirs):
    for d in dirs:
        with h5py.File(f"{d}/run.h5", "r+") as f:
            f["meta"].attrs["git_commit"] = np.bytes_(commit)
            f["meta"].attrs["git_dirty"] = np.int64(dirty)


def unstamp(dirs):
    for d in dirs:
        with h5py.File(f"{d}/run.h5", "r+") as f:
            for k in ("git_commit", "git_dirty"):
                if k in f["meta"].attrs:
                    del f["meta"].attrs[k]



if __name__ == "__main__":
    cmd, args = sys.argv[1], sys.argv[2:]
    if cmd == "stamp":
        stamp(args[0], int(args[1]), args[2:])
    elif cmd == "unstamp":
        unstamp(args)
    else:
        sys.exit(f"emulate.py: unknown command {cmd}")
