// dataset_impl.h - what the files of the dataset reader share (dataset.h is the public side):
// the opaque Dataset with its open HDF5 handles, and the internal ds_* helpers. Private to
// src/data/dataset*.c.
#pragma once

#include <hdf5.h>
#include <stdint.h>

#include "data/dataset.h"

// One split: its row count and its open HDF5 datasets (-1 = not open).
typedef struct {
    int64_t n;
    hid_t label, entity, meta;
    hid_t mod[DS_MAX_MODALITIES];
} SplitH;

// What dataset_open validated and keeps: owned strings, handles open until dataset_close.
struct Dataset {
    char *path, *name;
    char sha256[65];    // the gate's digest of the file ("" when the caller gated it)
    int64_t file_bytes; // the file's size: what unfiltered datasets and strings are bounded by
    int schema;
    uint64_t seed;
    int n_classes;
    char **classes;
    int n_mod;
    DatasetModality mod[DS_MAX_MODALITIES];
    char **mod_names;
    char *mod_kind[DS_MAX_MODALITIES];
    int vocab_size;
    char **vocab;
    int n_meta;
    char **meta_names;
    hid_t file;
    SplitH split[2];
};

// The HDF5 group of each DsSplit: "train", "test" (dataset.c).
extern const char *const ds_split_name[2];

// Writes "<path>: <message>" into err (cap bytes; none when err is NULL); returns -1 (dataset.c).
int ds_fail(const Dataset *ds, char *err, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

// ---- content scans (dataset_scan.c), after the structure checks; 0 or ds_fail's -1 ----

// Every label of split sp in [0, n_classes).
int ds_scan_labels(Dataset *ds, char *err, size_t cap, int sp);
// Modality m of split sp: no NaN/Inf in float32, every text token id in [0, vocab_size), uint8 and
// other int32 read through (a damaged chunk fails its checksum).
int ds_scan_features(Dataset *ds, char *err, size_t cap, int sp, int m);
// The entity and meta datasets of split sp read through.
int ds_scan_rows(Dataset *ds, char *err, size_t cap, int sp);

// ---- HDF5 primitives (dataset_h5.c) ----

// Frees n strings and the array; NULL is fine.
void ds_free_strs(char **s, int n);
// The HDF5 type t as "uint8", "int32", "float32", "string", ...; static storage.
const char *ds_type_name(hid_t t);
// The DsDtype t as "uint8", "int32" or "float32"; static storage.
const char *ds_dtype_str(DsDtype t);
// Why ds_read_strings refused (< 0).
enum {
    DS_STR_MISSING = -1,
    DS_STR_NOT_STRING = -2,
    DS_STR_VARIABLE = -3,
    DS_STR_SHAPE = -4,
    DS_STR_TOO_MANY = -5,
    DS_STR_TOO_LONG = -6,
    DS_STR_UNREADABLE = -7,
};
// The fixed-length strings of attribute attr of obj (attr NULL: obj is a string dataset) into *out
// (owned, free with ds_free_strs). Checks before allocating: at most max_n strings, each at most
// DS_MAX_STRING bytes wide, at most max_bytes in all; variable-length strings are refused unread.
// Returns the count or a DS_STR_* code.
int ds_read_strings(hid_t obj, const char *attr, int max_n, int64_t max_bytes, char ***out);
// A DS_STR_* code as words for messages; static storage.
const char *ds_str_problem(int rc);
// Scalar numeric attribute attr of obj read as mtype into out. 0 ok, -1 missing, -2 wrong type.
int ds_read_num(hid_t obj, const char *attr, H5T_class_t want_class, hid_t mtype, void *out);
// Rows [start, start + n) of dataset d into out as mtype. HDF5's status (< 0 on error).
herr_t ds_read_block(hid_t d, hid_t mtype, int64_t start, int64_t n, void *out);
