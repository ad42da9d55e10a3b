// dataset.h - the one way the pipeline reads a dataset file (format in dsfile.h and
// datasets/README.md).
//
// Integrity before parsing: HDF5 does not defend itself against damaged metadata, so before HDF5
// reads a byte, the file passes the gate (dataset_gate): a regular file whose SHA-256 equals the
// one in its digest file "<path>.sha256" (io/seal.h; dsfile writes it). A file without a digest
// file is refused unless the caller asks for DATASET_UNVERIFIED (--data-unverified); a digest file
// that does not match is refused always.
//
// dataset_open then validates the whole file before anything uses it and, on any problem, returns
// NULL with a message that names the file, the object and the problem (missing file, not HDF5 or
// truncated, missing group/dataset/attribute, wrong dtype or rank, mismatched lengths across
// label/entity/meta/modalities, a label outside [0, classes), a token outside the vocabulary,
// NaN/Inf in float features, a schema other than DSFILE_SCHEMA). Every size is bounded before
// anything is allocated or divided, whether or not the file was verified (dsfile.h's DS_MAX_*):
// string counts and widths, classes in [2, DS_MAX_CLASSES], per-sample dims >= 1 and their product,
// rows >= 1 in train, rows x row bytes against the file's size for unfiltered datasets and against
// DS_MAX_ELEMS for compressed ones, stored chunk sizes. After a successful open, reads only fail
// on I/O errors (H5_CHECK) or on the caller's bugs (CHECK: split, modality, row range or index out
// of range).
//
// Local and read-only: under MPI rank 0 passes the file through the gate and every rank follows
// its verdict (DATASET_GATED: not hashed again); every rank opens the file itself (plain serial
// HDF5 open, shared read), and reads only the rows it needs. Not thread-safe (one Dataset per
// thread).
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "data/dsfile.h"

typedef struct Dataset Dataset;

typedef struct {
    const char *name; // "image", "audio", "text", ...
    const char *kind; // "image" | "audio" | "text" | "vector"
    DsDtype dtype;    // stored dtype
    int ndims;        // per-sample dims: 1 or 2
    int64_t dims[DS_MAX_DIMS];
    int64_t row_elems;   // elements per sample, the product of dims
    float scale, offset; // uint8 quantisation: value = offset + scale * q; scale 0 = not quantised
} DatasetModality;

enum {
    DATASET_SKIP_SCAN = 1,  // skip the NaN/Inf and token scans over features (labels: always)
    DATASET_UNVERIFIED = 2, // a file without a digest file is read (--data-unverified), bounded
    DATASET_GATED = 4,      // the caller passed path through dataset_gate already: no second hash
};

// The gate's verdicts (>= 0: the file may be parsed).
enum { DATASET_SEALED = 0, DATASET_UNSEALED = 1 };

// The integrity gate, before anything parses path: DATASET_SEALED when it is a regular file whose
// SHA-256 matches "<path>.sha256"; DATASET_UNSEALED when there is no digest file and unverified is
// set (the file is hashed all the same); else -1 with "<path>: <problem>" and how to proceed in err
// (a missing file, a FIFO or device, no digest file without unverified, a digest that does not
// match, a digest file for another file). hex (SHA256_HEX_LEN + 1 bytes) receives the file's
// SHA-256 ("" on refusal), *bytes (may be NULL) its size. Local: under MPI rank 0 calls it and
// broadcasts the verdict.
int dataset_gate(const char *path, int unverified, char *hex, int64_t *bytes, char *err,
                 size_t cap);

// Opens and validates path: dataset_gate first (unless DATASET_GATED; DATASET_UNVERIFIED passes
// unverified), then the structure and bounds, then the scans. Returns NULL and writes "<path>:
// <problem>" into err (cap bytes) on any problem. dataset_open = dataset_open_flags(path, 0, ...):
// a verified file and the full scan (reads every feature once).
Dataset *dataset_open(const char *path, char *err, size_t cap);
Dataset *dataset_open_flags(const char *path, unsigned flags, char *err, size_t cap);
void dataset_close(Dataset *ds);

// ---- description (strings are owned by ds) ----
const char *dataset_path(const Dataset *ds);
// The SHA-256 (hex) the open's gate computed, "" under DATASET_GATED (the caller has it).
const char *dataset_sha256(const Dataset *ds);
const char *dataset_name(const Dataset *ds); // root attribute name, e.g. "SynMM"
int dataset_schema(const Dataset *ds);
uint64_t dataset_seed(const Dataset *ds);
int64_t dataset_n(const Dataset *ds, DsSplit split); // rows in the split
int dataset_n_classes(const Dataset *ds);
const char *dataset_class_name(const Dataset *ds, int c);
int dataset_n_modalities(const Dataset *ds);
const DatasetModality *dataset_modality(const Dataset *ds, int m);
int dataset_modality_index(const Dataset *ds, const char *name); // -1 when absent
int dataset_vocab_size(const Dataset *ds);                       // 0 without a text modality
const char *dataset_vocab_word(const Dataset *ds, int i);
// Every vocabulary word (dataset_vocab_size of them; NULL without a vocabulary) and every class
// name (dataset_n_classes), borrowed while ds is open.
const char *const *dataset_vocab_words(const Dataset *ds);
const char *const *dataset_class_names(const Dataset *ds);
// The id of the vocabulary word DATASET_PAD_WORD, or -1: token slots holding it carry no word
// (texts shorter than the row are filled with it), so readers treat them as absent.
#define DATASET_PAD_WORD "<pad>"
int dataset_pad_id(const Dataset *ds);
int dataset_n_meta(const Dataset *ds); // 0 without meta
const char *dataset_meta_name(const Dataset *ds, int k);
int dataset_meta_index(const Dataset *ds, const char *name); // -1 when absent

// ---- rows: [start, start + n) of a split, or the _idx variants: rows idx[0..n) in that order ----
// (repeats and any order allowed; consecutive runs are read together). out holds n rows.

// label: int32 per row.
void dataset_read_labels(const Dataset *ds, DsSplit split, int64_t start, int64_t n, int32_t *out);
void dataset_read_labels_idx(const Dataset *ds, DsSplit split, const int64_t *idx, int64_t n,
                             int32_t *out);
// entity: int64 per row.
void dataset_read_entities(const Dataset *ds, DsSplit split, int64_t start, int64_t n,
                           int64_t *out);
void dataset_read_entities_idx(const Dataset *ds, DsSplit split, const int64_t *idx, int64_t n,
                               int64_t *out);
// meta: n_meta int32 per row, row-major. CHECKs n_meta > 0.
void dataset_read_meta(const Dataset *ds, DsSplit split, int64_t start, int64_t n, int32_t *out);
void dataset_read_meta_idx(const Dataset *ds, DsSplit split, const int64_t *idx, int64_t n,
                           int32_t *out);
// Features of modality m as float32, row_elems per row:
//   float32 as stored; uint8 with scale != 0: offset + scale * q (dequantised);
//   uint8 with scale == 0 (pixels): q / 255, in [0, 1]; int32 (tokens): the id as a float.
void dataset_read_features(const Dataset *ds, DsSplit split, int m, int64_t start, int64_t n,
                           float *out);
void dataset_read_features_idx(const Dataset *ds, DsSplit split, int m, const int64_t *idx,
                               int64_t n, float *out);
// Token ids of an int32 modality (text), row_elems per row. CHECKs the dtype.
void dataset_read_tokens(const Dataset *ds, DsSplit split, int m, int64_t start, int64_t n,
                         int32_t *out);
void dataset_read_tokens_idx(const Dataset *ds, DsSplit split, int m, const int64_t *idx, int64_t n,
                             int32_t *out);
// The stored values of modality m, unconverted (row_elems elements of its dtype per row).
void dataset_read_raw(const Dataset *ds, DsSplit split, int m, int64_t start, int64_t n, void *out);
void dataset_read_raw_idx(const Dataset *ds, DsSplit split, int m, const int64_t *idx, int64_t n,
                          void *out);
