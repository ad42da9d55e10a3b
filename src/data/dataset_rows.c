// dataset_rows.c - the row readers of an open dataset (dataset.h): labels, entities, meta and the
// features of a modality, for a range of rows or gathered by index (sorted, consecutive runs read
// together, written back in the caller's order). Bad arguments CHECK; a failed read dies naming the
// file.
#include "data/dataset.h"

#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/die.h"
#include "core/xalloc.h"
#include "data/dataset_impl.h"

#define GATHER_MAX_SPAN 1024 // rows read at once by the _idx variants

typedef struct {
    int64_t row, pos;
} IdxPos;

static int cmp_idxpos(const void *a, const void *b) {
    const IdxPos *x = a, *y = b;
    return x->row < y->row ? -1 : x->row > y->row ? 1 : (x->pos > y->pos) - (x->pos < y->pos);
}

// A read that failed after a good open: the file changed under the reader, or a chunk of a file
// read unverified (its digest never checked) fails its checksum. Tier 2, naming the file.
static _Noreturn void read_failed(const Dataset *ds, DsSplit split, const char *what, int64_t start,
                                  int64_t n) {
    H5Eprint2(H5E_DEFAULT, stderr);
    die_at(__FILE__, __LINE__, __func__,
           "%s: cannot read /%s/%s rows [%lld, %lld): a damaged chunk (its checksum fails) or an "
           "I/O error",
           ds->path, ds_split_name[split], what, (long long)start, (long long)(start + n));
}

// Rows [start, start + n) (idx NULL) or rows idx[0..n) of d into out, row_bytes per row of mtype.
static void read_rows(const Dataset *ds, DsSplit split, hid_t d, const char *what, hid_t mtype,
                      size_t row_bytes, int64_t start, const int64_t *idx, int64_t n, void *out) {
    CHECK(split == DS_TRAIN || split == DS_TEST, "%s: split %d", ds->path, (int)split);
    int64_t N = ds->split[split].n;
    CHECK(n >= 0, "%s: /%s/%s: n = %lld", ds->path, ds_split_name[split], what, (long long)n);
    if (n == 0) return;
    CHECK_PTR(out);
    if (!idx) {
        CHECK(start >= 0 && start + n <= N, "%s: /%s/%s: rows [%lld, %lld) outside [0, %lld)",
              ds->path, ds_split_name[split], what, (long long)start, (long long)(start + n),
              (long long)N);
        if (ds_read_block(d, mtype, start, n, out) < 0) read_failed(ds, split, what, start, n);
        return;
    }
    IdxPos *ip = xmalloc((size_t)n * sizeof *ip);
    for (int64_t i = 0; i < n; i++) {
        CHECK(idx[i] >= 0 && idx[i] < N, "%s: /%s/%s: idx[%lld] = %lld outside [0, %lld)", ds->path,
              ds_split_name[split], what, (long long)i, (long long)idx[i], (long long)N);
        ip[i] = (IdxPos){idx[i], i};
    }
    qsort(ip, (size_t)n, sizeof *ip, cmp_idxpos);
    unsigned char *tmp = xmalloc(GATHER_MAX_SPAN * row_bytes);
    for (int64_t a = 0; a < n;) {
        int64_t lo = ip[a].row, b = a + 1;
        while (b < n && ip[b].row - ip[b - 1].row <= 1 && ip[b].row - lo < GATHER_MAX_SPAN)
            b++;
        int64_t span = ip[b - 1].row - lo + 1;
        if (ds_read_block(d, mtype, lo, span, tmp) < 0) read_failed(ds, split, what, lo, span);
        for (int64_t k = a; k < b; k++)
            memcpy((unsigned char *)out + (size_t)ip[k].pos * row_bytes,
                   tmp + (size_t)(ip[k].row - lo) * row_bytes, row_bytes);
        a = b;
    }
    xfree(tmp);
    xfree(ip);
}

void dataset_read_labels(const Dataset *ds, DsSplit split, int64_t start, int64_t n, int32_t *out) {
    CHECK_PTR(ds);
    read_rows(ds, split, ds->split[split & 1].label, "label", H5T_NATIVE_INT32, 4, start, NULL, n,
              out);
}
void dataset_read_labels_idx(const Dataset *ds, DsSplit split, const int64_t *idx, int64_t n,
                             int32_t *out) {
    CHECK_PTR(ds);
    CHECK(n == 0 || idx != NULL, "idx is NULL");
    read_rows(ds, split, ds->split[split & 1].label, "label", H5T_NATIVE_INT32, 4, 0, idx, n, out);
}
void dataset_read_entities(const Dataset *ds, DsSplit split, int64_t start, int64_t n,
                           int64_t *out) {
    CHECK_PTR(ds);
    read_rows(ds, split, ds->split[split & 1].entity, "entity", H5T_NATIVE_INT64, 8, start, NULL, n,
              out);
}
void dataset_read_entities_idx(const Dataset *ds, DsSplit split, const int64_t *idx, int64_t n,
                               int64_t *out) {
    CHECK_PTR(ds);
    CHECK(n == 0 || idx != NULL, "idx is NULL");
    read_rows(ds, split, ds->split[split & 1].entity, "entity", H5T_NATIVE_INT64, 8, 0, idx, n,
              out);
}
void dataset_read_meta(const Dataset *ds, DsSplit split, int64_t start, int64_t n, int32_t *out) {
    CHECK_PTR(ds);
    CHECK(ds->n_meta > 0, "%s has no meta columns", ds->path);
    read_rows(ds, split, ds->split[split & 1].meta, "meta", H5T_NATIVE_INT32,
              4 * (size_t)ds->n_meta, start, NULL, n, out);
}
void dataset_read_meta_idx(const Dataset *ds, DsSplit split, const int64_t *idx, int64_t n,
                           int32_t *out) {
    CHECK_PTR(ds);
    CHECK(ds->n_meta > 0, "%s has no meta columns", ds->path);
    CHECK(n == 0 || idx != NULL, "idx is NULL");
    read_rows(ds, split, ds->split[split & 1].meta, "meta", H5T_NATIVE_INT32,
              4 * (size_t)ds->n_meta, 0, idx, n, out);
}

static const DatasetModality *mod_checked(const Dataset *ds, int m) {
    CHECK_PTR(ds);
    CHECK(m >= 0 && m < ds->n_mod, "%s: modality %d outside [0, %d)", ds->path, m, ds->n_mod);
    return &ds->mod[m];
}

// HDF5 converts the stored type to float exactly (uint8, and int32 ids below 2^24); then
// dequantise.
static void features(const Dataset *ds, DsSplit split, int m, int64_t start, const int64_t *idx,
                     int64_t n, float *out) {
    const DatasetModality *md = mod_checked(ds, m);
    read_rows(ds, split, ds->split[split & 1].mod[m], md->name, H5T_NATIVE_FLOAT,
              4 * (size_t)md->row_elems, start, idx, n, out);
    if (md->dtype != DS_U8) return;
    size_t total = (size_t)n * (size_t)md->row_elems;
    if (md->scale != 0) {
        for (size_t i = 0; i < total; i++)
            out[i] = md->offset + md->scale * out[i];
    } else {
        for (size_t i = 0; i < total; i++)
            out[i] /= 255.0f;
    }
}
void dataset_read_features(const Dataset *ds, DsSplit split, int m, int64_t start, int64_t n,
                           float *out) {
    features(ds, split, m, start, NULL, n, out);
}
void dataset_read_features_idx(const Dataset *ds, DsSplit split, int m, const int64_t *idx,
                               int64_t n, float *out) {
    CHECK(n == 0 || idx != NULL, "idx is NULL");
    features(ds, split, m, 0, idx, n, out);
}

static void tokens(const Dataset *ds, DsSplit split, int m, int64_t start, const int64_t *idx,
                   int64_t n, int32_t *out) {
    const DatasetModality *md = mod_checked(ds, m);
    CHECK(md->dtype == DS_I32, "%s: modality %s is %s, not int32 tokens", ds->path, md->name,
          ds_dtype_str(md->dtype));
    read_rows(ds, split, ds->split[split & 1].mod[m], md->name, H5T_NATIVE_INT32,
              4 * (size_t)md->row_elems, start, idx, n, out);
}
void dataset_read_tokens(const Dataset *ds, DsSplit split, int m, int64_t start, int64_t n,
                         int32_t *out) {
    tokens(ds, split, m, start, NULL, n, out);
}
void dataset_read_tokens_idx(const Dataset *ds, DsSplit split, int m, const int64_t *idx, int64_t n,
                             int32_t *out) {
    CHECK(n == 0 || idx != NULL, "idx is NULL");
    tokens(ds, split, m, 0, idx, n, out);
}

static hid_t native(DsDtype t) {
    return t == DS_U8 ? H5T_NATIVE_UINT8 : t == DS_I32 ? H5T_NATIVE_INT32 : H5T_NATIVE_FLOAT;
}
void dataset_read_raw(const Dataset *ds, DsSplit split, int m, int64_t start, int64_t n,
                      void *out) {
    const DatasetModality *md = mod_checked(ds, m);
    size_t rb = (md->dtype == DS_U8 ? 1 : 4) * (size_t)md->row_elems;
    read_rows(ds, split, ds->split[split & 1].mod[m], md->name, native(md->dtype), rb, start, NULL,
              n, out);
}
void dataset_read_raw_idx(const Dataset *ds, DsSplit split, int m, const int64_t *idx, int64_t n,
                          void *out) {
    const DatasetModality *md = mod_checked(ds, m);
    CHECK(n == 0 || idx != NULL, "idx is NULL");
    size_t rb = (md->dtype == DS_U8 ? 1 : 4) * (size_t)md->row_elems;
    read_rows(ds, split, ds->split[split & 1].mod[m], md->name, native(md->dtype), rb, 0, idx, n,
              out);
}
