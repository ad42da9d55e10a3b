// dataset_info.c - the description of an open dataset (dataset.h): path, name, schema, seed,
// split sizes, classes, modalities, vocabulary and meta columns, as validated by dataset_open.
// Strings are owned by the Dataset; every index is CHECKed.
#include "data/dataset.h"

#include <string.h>

#include "core/die.h"
#include "data/dataset_impl.h"

const char *dataset_path(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->path;
}
const char *dataset_sha256(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->sha256;
}
const char *dataset_name(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->name;
}
int dataset_schema(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->schema;
}
uint64_t dataset_seed(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->seed;
}

int64_t dataset_n(const Dataset *ds, DsSplit split) {
    CHECK_PTR(ds);
    CHECK(split == DS_TRAIN || split == DS_TEST, "%s: split %d", ds->path, (int)split);
    return ds->split[split].n;
}

int dataset_n_classes(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->n_classes;
}
const char *dataset_class_name(const Dataset *ds, int c) {
    CHECK_PTR(ds);
    CHECK(c >= 0 && c < ds->n_classes, "%s: class %d outside [0, %d)", ds->path, c, ds->n_classes);
    return ds->classes[c];
}
int dataset_n_modalities(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->n_mod;
}
const DatasetModality *dataset_modality(const Dataset *ds, int m) {
    CHECK_PTR(ds);
    CHECK(m >= 0 && m < ds->n_mod, "%s: modality %d outside [0, %d)", ds->path, m, ds->n_mod);
    return &ds->mod[m];
}
int dataset_modality_index(const Dataset *ds, const char *name) {
    CHECK_PTR(ds);
    CHECK_PTR(name);
    for (int m = 0; m < ds->n_mod; m++)
        if (!strcmp(ds->mod_names[m], name)) return m;
    return -1;
}
int dataset_vocab_size(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->vocab_size;
}
const char *dataset_vocab_word(const Dataset *ds, int i) {
    CHECK_PTR(ds);
    CHECK(i >= 0 && i < ds->vocab_size, "%s: token %d outside [0, %d)", ds->path, i,
          ds->vocab_size);
    return ds->vocab[i];
}
const char *const *dataset_vocab_words(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->vocab_size ? (const char *const *)ds->vocab : NULL;
}
const char *const *dataset_class_names(const Dataset *ds) {
    CHECK_PTR(ds);
    return (const char *const *)ds->classes;
}
int dataset_pad_id(const Dataset *ds) {
    CHECK_PTR(ds);
    for (int i = 0; i < ds->vocab_size; i++)
        if (strcmp(ds->vocab[i], DATASET_PAD_WORD) == 0) return i;
    return -1;
}
int dataset_n_meta(const Dataset *ds) {
    CHECK_PTR(ds);
    return ds->n_meta;
}
const char *dataset_meta_name(const Dataset *ds, int k) {
    CHECK_PTR(ds);
    CHECK(k >= 0 && k < ds->n_meta, "%s: meta column %d outside [0, %d)", ds->path, k, ds->n_meta);
    return ds->meta_names[k];
}
int dataset_meta_index(const Dataset *ds, const char *name) {
    CHECK_PTR(ds);
    CHECK_PTR(name);
    for (int k = 0; k < ds->n_meta; k++)
        if (!strcmp(ds->meta_names[k], name)) return k;
    return -1;
}
