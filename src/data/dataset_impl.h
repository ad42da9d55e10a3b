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
// Modality m of split sp: no NaN/Inf in float32, every text token id in [0, vocab_size).
int ds_scan_features(Dataset *ds, char *err, size_t cap, int sp, int m);

// ---- HDF5 primitives (dataset_h5.c) ----

// Frees n strings and the array; NULL is fine.
void ds_free_strs(char **s, int n);
// The HDF5 type t as "uint8", "int32", "float32", "string", ...; static storage.
const char *ds_type_name(hid_t t);
// The DsDtype t as "uint8", "int32" or "float32"; static storage.
const char *ds_dtype_str(DsDtype t);
// Strings of attribute attr of obj (attr NULL: obj is a string dataset) into *out (owned, free with
// ds_free_strs). Returns the count, -1 when missing, -2 when not strings, -3 when not 0-D or 1-D.
int ds_read_strings(hid_t obj, const char *attr, char ***out);
// Scalar numeric attribute attr of obj read as mtype into out. 0 ok, -1 missing, -2 wrong type.
int ds_read_num(hid_t obj, const char *attr, H5T_class_t want_class, hid_t mtype, void *out);
// Rows [start, start + n) of dataset d into out as mtype. HDF5's status (< 0 on error).
herr_t ds_read_block(hid_t d, hid_t mtype, int64_t start, int64_t n, void *out);
