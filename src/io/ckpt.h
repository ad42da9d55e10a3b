// ckpt.h - checkpoints: written collectively with parallel HDF5, verified, atomically published.
//
// Layout of <dir>/round_NNNNNN.h5 (STYLE.md 9.11):
//   /            attributes round (int64), checksum (string "fnv1a64:<16 hex>"), schema
//   /config      one string attribute per option (opts_format text), compared on resume
//   /metrics     the MetricLog (runfile.h layout), so a resumed run rewrites identical run files
//   /<name>...   datasets written by the caller: (rows, cols) arrays, each rank writing a block of
//                rows (the parties it hosts, in party-id order) or nothing
//
// Writing: ckpt_create opens "<file>.tmp" with the MPI-IO driver on every rank; ckpt_write_rows are
// collective; ckpt_commit closes it, then rank 0 adds /metrics, computes the checksum over every
// dataset and root/config attribute (names, shapes, bytes, in name order), renames the file to its
// final name, rewrites "latest" (tmp + rename) and removes checkpoints beyond the newest `keep`.
// A crash at any moment leaves either the previous state or the new one, never a half file under a
// final name.
//
// Reading: ckpt_find_valid walks from "latest" to older files, verifying checksums, and warns about
// every file it skips. Readers open files serially (every rank reads its own rows).
#pragma once
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "cli/options.h"
#include "io/metrics.h"

#define CKPT_SCHEMA 1

typedef enum { CKPT_F32 = 0, CKPT_F64 = 1, CKPT_I64 = 2, CKPT_U32 = 3, CKPT_U8 = 4 } CkptType;

typedef struct Ckpt Ckpt;

// Collective over comm. dir must exist. Owned; ends with ckpt_commit or ckpt_abandon.
Ckpt *ckpt_create(const char *dir, int round, MPI_Comm comm);
// Collective: stores every option as a string attribute under /config.
void ckpt_write_config(Ckpt *c, const OptSpec *opts, int n_opts, const void *cfg);
// Collective: dataset `name` ("group/sub/ds", groups made as needed) of (rows, cols) elements; this
// rank writes rows [row0, row0 + nrows) from data (nrows may be 0, data then may be NULL).
void ckpt_write_rows(Ckpt *c, const char *name, CkptType type, int64_t rows, int64_t cols,
                     int64_t row0, int64_t nrows, const void *data);
// Collective: publish as described above. log is read on rank 0 only (may be NULL elsewhere).
// Frees c.
void ckpt_commit(Ckpt *c, const MetricLog *log, int keep);
// Collective: close and delete the temporary file (error paths). Frees c.
void ckpt_abandon(Ckpt *c);

// "<dir>/round_NNNNNN.h5"
void ckpt_path(char *buf, size_t cap, const char *dir, int round);
// How many round_NNNNNN.h5 files dir holds (0 when dir does not exist). Local.
int ckpt_count(const char *dir);
// Verifies a checkpoint file: 0 when valid, else -1 with the reason in err. Local.
int ckpt_verify(const char *path, char *err, size_t cap);
// The newest valid checkpoint in dir: its round (path in path), or 0 when there is none. Files that
// fail verification are skipped with a warning naming them and the reason. Local.
int ckpt_find_valid(const char *dir, char *path, size_t cap);

typedef struct CkptReader CkptReader;
// Opens a checkpoint read-only (serial). NULL with err on failure. Owned.
CkptReader *ckpt_open(const char *path, char *err, size_t cap);
void ckpt_close(CkptReader *r);
int ckpt_round(const CkptReader *r);
// Keys whose stored values differ from cfg (missing keys count), comma-separated into keys.
int ckpt_config_diff(const CkptReader *r, const OptSpec *opts, int n_opts, const void *cfg,
                     char *keys, size_t cap);
// Reads rows [row0, row0 + nrows) of a (rows, cols) dataset; CHECKs name, type and shape.
void ckpt_read_rows(const CkptReader *r, const char *name, CkptType type, int64_t rows,
                    int64_t cols, int64_t row0, int64_t nrows, void *out);
// ---- state as a field list: one table drives both the write and the read ----

typedef enum {
    CKPT_SHARED = 0, // rank 0 writes all rows; every rank reads them all
    CKPT_CLOUD = 1,  // rank 0 writes all rows and alone reads them (others: data may be NULL)
    CKPT_OWN = 2,    // each rank writes and reads its rows [row0, row0 + nrows)
} CkptScope;

typedef struct {
    const char *name;
    CkptType type;
    CkptScope scope;
    int64_t rows, cols;  // the dataset's shape (the same on every rank)
    int64_t row0, nrows; // CKPT_OWN only
    void *data;
} CkptField;

// Collective: every field as ckpt_write_rows, by its scope; rank is this rank in the comm.
void ckpt_write_fields(Ckpt *c, const CkptField *f, int n, int rank);
// Every field a rank reads by its scope (CHECKs names, types, shapes).
void ckpt_read_fields(const CkptReader *r, const CkptField *f, int n, int rank);

// Reads /metrics into a declared, empty log. 0, or -1 with err.
int ckpt_read_metrics(const CkptReader *r, MetricLog *log, char *err, size_t cap);
