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
