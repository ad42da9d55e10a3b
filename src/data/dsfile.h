// dsfile.h - the writer of mmcollab dataset files (format in datasets/README.md).
//
// Every builder (SynMM, AV-FashionMNIST, Landsat, ...) writes through this one API, so every file
// has the same layout and the one reader (dataset.h) validates them all:
//
//   /                     attributes: schema (int, DSFILE_SCHEMA), name, version, source, licence,
//                         builder, seed (uint64), classes (string array, one per class),
//                         modalities (string array, in stored order)
//   /vocab                string dataset (V): the text modality's vocabulary (only with text)
//   /train, /test         attribute n (int64); datasets:
//     label   int32 (N)            0 <= label < classes
//     entity  int64 (N)            the identity of the underlying object (pairing; see the card)
//     meta    int32 (N, K)         optional per-sample generation facts (voice, accent, noise level
//                                  in per-mille, ...), attribute columns (string array, K names);
//                                  scenarios use them for domain-shift stages
//     <modality>  (N, d1[, d2])    uint8 | int32 | float32, chunked per sample block, deflate
//                                  attributes: kind ("image" | "audio" | "text" | "vector"),
//                                  and for quantised uint8 features: scale, offset
//                                  (value = offset + scale * q)
//
// Every string is FIXED-LENGTH UTF-8, null-padded (schema 2): variable-length strings live in
// HDF5's global heap, which no HDF5 checksum covers, and a damaged heap entry crashed the reader.
//
// Bytes are deterministic: the same spec and rows give the same file (no timestamps, fixed
// chunking). The file is written to "<path>.tmp" and published by dsfile_close only after every
// split got exactly the rows its spec announced: io/seal.h's seal_publish writes the digest file
// "<path>.sha256" (sha256sum's format) and renames the file, so a failing builder never leaves a
// half file under the final name, and every reader can check the bytes before HDF5 parses them.
#pragma once
#include <stdint.h>

#define DSFILE_SCHEMA 2 // 2: fixed-length strings and a digest file; 1 (variable-length) refused
#define DS_MAX_MODALITIES 4
#define DS_MAX_DIMS 2 // per-sample dims (image 28x28, audio frames x mels, text L)

// The format's limits, CHECKed by the writer and refused by the reader before it allocates: they
// bound what a damaged or hostile file can make a reader allocate or loop over.
#define DS_MAX_CLASSES 1024             // and at least 2: a classifier needs two classes
#define DS_MAX_VOCAB (1 << 20)          // words of /vocab
#define DS_MAX_META 64                  // meta columns
#define DS_MAX_STRING 4096              // bytes of one string (name, class, word, column, ...)
#define DS_MAX_ROW_ELEMS (1 << 24)      // elements of one sample of a modality
#define DS_MAX_ELEMS ((int64_t)1 << 31) // elements of one dataset of a split (rows x row)
#define DS_MAX_CHUNK_BYTES                                                                         \
    (64 << 20) // one stored chunk (the reader's HDF5 decompresses whole ones)

typedef enum { DS_TRAIN = 0, DS_TEST = 1 } DsSplit;
typedef enum { DS_U8 = 0, DS_I32 = 1, DS_F32 = 2 } DsDtype;

typedef struct {
    const char *name; // "image", "audio", "text", "visible", ...
    const char *kind; // "image" | "audio" | "text" | "vector"
    DsDtype dtype;
    int ndims;                 // per-sample dims: 1 or 2
    int64_t dims[DS_MAX_DIMS]; // per-sample shape
    float scale,
        offset; // uint8 quantisation of real values; scale 0 = raw integers (pixels, tokens)
} DsModality;

typedef struct {
    const char *name, *version, *source, *licence, *builder;
    uint64_t seed;
    int n_classes;
    const char *const *class_names;
    int n_modalities;
    DsModality modalities[DS_MAX_MODALITIES];
    int vocab_size; // 0 when there is no text modality
    const char *const *vocab;
    int n_meta; // 0 = no meta dataset
    const char *const *meta_names;
    int64_t n[2]; // rows per split, DS_TRAIN and DS_TEST
} DsSpec;

// A block of consecutive rows of one split; data[m] holds n * prod(dims) elements of modality m's
// dtype.
typedef struct {
    int64_t n;
    const int32_t *label;
    const int64_t *entity;
    const int32_t *meta; // n * n_meta, row-major; NULL when n_meta == 0
    const void *data[DS_MAX_MODALITIES];
} DsRows;

typedef struct DsWriter DsWriter;

// Creates "<path>.tmp" with the attributes and full-size datasets. CHECKs the spec, the format's
// limits above included (and at least one training row).
DsWriter *dsfile_create(const char *path, const DsSpec *spec);
// Appends rows to a split, in order. CHECKs labels in range and values finite.
void dsfile_append(DsWriter *w, DsSplit split, const DsRows *rows);
// Checks every split is full, closes "<path>.tmp" and publishes it as path with its digest file
// "<path>.sha256" (io/seal.h seal_publish: fsync, digest, rename, directory fsync). Frees w.
// A failed publication is fatal, naming the file.
void dsfile_close(DsWriter *w);
// Closes and removes "<path>.tmp" (error paths). Frees w.
void dsfile_discard(DsWriter *w);
