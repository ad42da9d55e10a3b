// dataset_gate.c - the integrity gate of dataset files (dataset.h dataset_gate): the whole file's
// SHA-256 against its digest file (io/seal.h), before HDF5 reads a byte of it. A damaged byte
// anywhere (metadata, global heap, chunk index, data) is refused here, so HDF5 never parses it.
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "data/dataset.h"
#include "io/seal.h"

int dataset_gate(const char *path, int unverified, char *hex, int64_t *bytes, char *err,
                 size_t cap) {
    char why[SEAL_PATH_MAX + 256];
    hex[0] = '\0';
    if (bytes) *bytes = 0;
    // A missing file is said as such, not as a missing digest file.
    if (access(path, F_OK) != 0) {
        snprintf(err, cap, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    if (seal_present(path)) {
        if (seal_check(path, hex, bytes, why, sizeof why) == 0) return DATASET_SEALED;
        hex[0] = '\0';
        // A digest file that does not match is never bypassed, not even by --data-unverified.
        snprintf(err, cap,
                 "%s; refused before HDF5 reads it: rebuild the file with its builder (make data; "
                 "datasets/README.md)",
                 why);
        return -1;
    }
    if (!unverified) {
        snprintf(
            err, cap,
            "%s: no digest file %s" SEAL_SUFFIX " to check it against before HDF5 reads it "
            "(built before schema %d, or copied without it): rebuild it with its builder "
            "(make data), or seal a file you trust with `sha256sum FILE > FILE.sha256` in "
            "its directory, or pass --data-unverified=true to read it unchecked with every size "
            "bounded",
            path, path, DSFILE_SCHEMA);
        return -1;
    }
    // Unverified: hashed all the same, so that the run records what it read (a resume compares).
    if (seal_hash_file(path, hex, bytes, why, sizeof why) != 0) {
        snprintf(err, cap, "%s", why);
        return -1;
    }
    return DATASET_UNSEALED;
}
