// seal.h - integrity before parsing: a whole-file SHA-256 beside a file, written when the file is
// published and checked before any parser (HDF5) reads a byte of it.
//
// HDF5 does not defend itself against damaged metadata (a flipped byte can crash the library or
// make it allocate without bound), so a reader first proves the file is the one a writer finished:
//
//   <path>.sha256   one line in sha256sum's format, "<64 hex>  <basename of path>\n"
//                   (`cd dir && sha256sum -c file.h5.sha256` checks it by hand)
//
// Publication is crash-safe: seal_publish fsyncs the finished temporary file, writes the sidecar
// (tmp + fsync + rename), renames the file to its final name and fsyncs the directory. A crash at
// any moment leaves either the previous pair or the new one, or a sidecar whose digest does not
// match the file under the final name (refused, never trusted).
//
// All functions are local (no MPI) and return 0, or -1 with a message naming the path in err.
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "core/sha256.h"

#define SEAL_SUFFIX ".sha256"
#define SEAL_PATH_MAX 4096

// Publishes tmp as final: fsync(tmp), "<final>.sha256" = SHA-256 of tmp's bytes (atomically), then
// rename(tmp, final) and fsync of final's directory. hex (SHA256_HEX_LEN + 1, may be NULL) receives
// the digest. On failure tmp is left in place and final untouched (or its old sidecar replaced by
// one that does not match it: the old file is then refused, never misread).
int seal_publish(const char *tmp, const char *final, char *hex, char *err, size_t cap);

// Checks path before anything parses it: a regular file (opened without blocking: a FIFO or a
// device under the name is refused, never read), whose SHA-256 equals the one in "<path>.sha256",
// and whose sidecar names it. hex (may be NULL) receives the digest; *bytes (may be NULL) the size.
int seal_check(const char *path, char *hex, int64_t *bytes, char *err, size_t cap);

// 1 when "<path>.sha256" exists (whatever its content), else 0.
int seal_present(const char *path);

// The SHA-256 of a regular file (refusing FIFOs and devices without blocking). hex gets
// SHA256_HEX_LEN + 1 bytes; *bytes (may be NULL) the size.
int seal_hash_file(const char *path, char *hex, int64_t *bytes, char *err, size_t cap);

// tmp (complete) becomes final durably, without a digest: fsync(tmp), rename, directory fsync.
int seal_replace(const char *tmp, const char *final, char *err, size_t cap);

// Writes text to path crash-safely: "<path>.tmp", fsync, rename, fsync of the directory.
int seal_write_text(const char *path, const char *text, char *err, size_t cap);

// fsync of the directory that holds path (its parent; "." for a bare name).
int seal_sync_dir(const char *path, char *err, size_t cap);
