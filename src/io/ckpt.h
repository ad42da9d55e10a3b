// ckpt.h - checkpoints: written collectively with parallel HDF5, verified, atomically published.
//
// Layout of <dir>/round_NNNNNN.h5 (docs/conventions.md §11):
//   /            attributes round (int64), checksum (string "fnv1a64:<16 hex>"), schema
//   /config      one string attribute per option (opts_format text), compared on resume
//   /meta        what the run was computed under and a resume must check (ckpt_write_meta): the
//                data file's SHA-256, the BLAS core and threads (fl/state.c)
//   /<name>...   the caller's fields (CkptField): one dataset each, of one row's shape, or stacked
//                over rows (parties, slots) as (rows, shape...), each rank writing its block of
//                rows (the parties it hosts, in party-id order) or nothing; a model tensor carries
//                its float offset in the model's buffer as attribute "offset"
//
// Writing: ckpt_create first claims the file's estimated size on disk (rank 0; a full or read-only
// disk stops every rank there together, with the previous checkpoint intact: a collective HDF5
// write that meets a full disk would instead leave the ranks in different collectives), then opens
// "<file>.tmp" with the MPI-IO driver on every rank; ckpt_write is collective; ckpt_commit closes
// it, then rank 0 adds a content checksum over every dataset and attribute (names,
// shapes, bytes, in name order), seals the file (io/seal.h: "<file>.sha256" beside it, fsync,
// rename to the final name, directory fsync), rewrites "latest" the same way and removes
// checkpoints beyond the newest `keep`. Every rank follows rank 0's verdict. A crash at any moment
// leaves either the previous state or the new one, never a half file under a final name. The
// writer's MPI traffic (its agreement, and HDF5's) runs on a duplicate of comm: I/O coordination,
// not counted in the run's mpi_bytes.
//
// Reading: ckpt_verify checks the whole-file digest BEFORE HDF5 parses the file (HDF5 does not
// defend itself against damaged metadata), then the content checksum with every read bounded by the
// file's size. One rank verifies (ckpt_find_valid) and the others follow its verdict; ckpt_open
// trusts a verified file. Readers open files serially (every rank reads its own rows).
#pragma once
#include <mpi.h>
#include <stddef.h>
#include <stdint.h>

#include "core/options.h"

#define CKPT_SCHEMA 2 // 2: one dataset per named tensor (issue 10)
#define CKPT_NAME_MAX 160

typedef enum { CKPT_F32 = 0, CKPT_F64 = 1, CKPT_I64 = 2, CKPT_U32 = 3, CKPT_U8 = 4 } CkptType;

typedef struct Ckpt Ckpt;

// Collective over comm. dir must exist; reserve = the file's expected size in bytes
// (ckpt_bytes_estimate), claimed on disk before anything is written. Owned; ends with ckpt_commit.
Ckpt *ckpt_create(const char *dir, int round, int64_t reserve, MPI_Comm comm);
// Collective: stores every option of the set but those with any of skip_flags as a string
// attribute under /config.
void ckpt_write_config(Ckpt *c, const OptSet *opts, unsigned skip_flags);
// Collective: a string attribute key=value under /meta (the same value on every rank).
void ckpt_write_meta(Ckpt *c, const char *key, const char *value);
// Collective: publish as described above. Frees c. A failure on rank 0 (disk full, rename) stops
// every rank, naming the file.
void ckpt_commit(Ckpt *c, int keep);

// "<dir>/round_NNNNNN.h5"
void ckpt_path(char *buf, size_t cap, const char *dir, int round);
// How many round_NNNNNN.h5 files dir holds (0 when dir does not exist). Local.
int ckpt_count(const char *dir);
// Verifies a checkpoint file: its digest file, then its content checksum. 0 when valid, else -1
// with the reason (naming the file) in err. Local; never hangs on a FIFO, never parses a file whose
// digest does not match.
int ckpt_verify(const char *path, char *err, size_t cap);
// The newest valid checkpoint in dir: its round (path in path), or 0 when there is none. Files that
// fail verification are skipped with a warning naming them and the reason. Local: call it on one
// rank and broadcast the verdict.
int ckpt_find_valid(const char *dir, char *path, size_t cap);

// ---- state as a field list: one list drives both the write and the read ----

typedef enum {
    CKPT_SHARED = 0, // rank 0 writes all rows; every rank reads them all
    CKPT_CLOUD = 1,  // rank 0 writes all rows and alone reads them (others: data may be NULL)
    CKPT_OWN = 2,    // each rank writes and reads its rows [row0, row0 + nrows)
} CkptScope;

typedef struct {
    char name[CKPT_NAME_MAX]; // "parties/model/enc_image/w": groups made as needed
    CkptType type;
    CkptScope scope;
    int64_t rows;        // > 0: stacked, the dataset is (rows, dims...); 0: one row, (dims...)
    int ndim;            // 1..4
    int64_t dims[4];     // one row's shape
    int64_t row0, nrows; // CKPT_OWN only: this rank's rows (stacked fields)
    int64_t stride;      // elements from one row to the next in memory; 0 = a row's size
    void *data;          // the first row this rank writes or reads (row row0 for CKPT_OWN)
    int64_t offset;      // the "offset" attribute (a tensor's offset in its model); -1 = none
} CkptField;

// A growable list of fields. Owned (ckpt_list_free).
typedef struct {
    CkptField *f;
    int n, cap;
} CkptList;

// Appends a field: a 1-D array of n elements (rows 0), or stacked (rows > 0) rows of n elements
// each. Returns it, to adjust (dims for a shaped row, stride, offset). CHECKs the name's length.
CkptField *ckpt_list_add(CkptList *l, const char *name, CkptType type, CkptScope scope,
                         int64_t rows, int64_t n, void *data);
void ckpt_list_free(CkptList *l);
// A size to pass to ckpt_create for a checkpoint of these fields: the data's bytes plus generous
// metadata margins. It does not grow with the round: the metric history is in the run files.
int64_t ckpt_bytes_estimate(const CkptList *l);

// Collective: every field as a dataset, by its scope; rank is this rank in the communicator.
void ckpt_write(Ckpt *c, const CkptList *l, int rank);

typedef struct CkptReader CkptReader;
// Opens a checkpoint read-only (serial) that ckpt_verify accepted (on this rank or on the rank
// whose verdict this one follows). NULL with err on failure (also for another schema). Owned.
CkptReader *ckpt_open(const char *path, char *err, size_t cap);
void ckpt_close(CkptReader *r);
int ckpt_round(const CkptReader *r);
// Calls on_kv(ctx, key, value, "<path>", err, cap) for every /config attribute, in name order;
// stops at and returns the first non-zero return.
int ckpt_read_config(const CkptReader *r, OptKvFn on_kv, void *ctx, char *err, size_t cap);
// The /meta attribute key into value (cap bytes): 0, or -1 when the checkpoint has none (written
// before the attribute existed) or it does not fit (value left "").
int ckpt_read_meta(const CkptReader *r, const char *key, char *value, size_t cap);
// Every field this rank reads by its scope (CHECKs names, types and shapes, naming the file).
void ckpt_read(const CkptReader *r, const CkptList *l, int rank);
