// dataset_scan.c - the open-time content scans of the dataset reader (dataset_impl.h): every label
// in [0, classes), and unless DATASET_SKIP_SCAN, every other dataset read through (a chunk whose
// checksum fails is found here, not by a later read), no NaN/Inf in float32 features and no token
// outside the vocabulary, reading SCAN_BLOCK_BYTES at a time. Problems become ds_fail messages.
#include <hdf5.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/dataset_impl.h"

#define SCAN_BLOCK_BYTES (8 << 20) // rows read per step of the open-time scans

int ds_scan_labels(Dataset *ds, char *err, size_t cap, int sp) {
    int64_t n = ds->split[sp].n, blk = 1 << 16;
    int32_t *buf = xmalloc((size_t)(n < blk ? (n ? n : 1) : blk) * 4);
    int rc = 0;
    for (int64_t a = 0; !rc && a < n; a += blk) {
        int64_t k = n - a < blk ? n - a : blk;
        if (ds_read_block(ds->split[sp].label, H5T_NATIVE_INT32, a, k, buf) < 0) {
            rc = ds_fail(ds, err, cap, "cannot read /%s/label (corrupt file?)", ds_split_name[sp]);
            break;
        }
        for (int64_t i = 0; i < k; i++)
            if (buf[i] < 0 || buf[i] >= ds->n_classes) {
                rc = ds_fail(ds, err, cap,
                             "label %d at /%s/label[%lld] is outside [0, %d) (the class count)",
                             buf[i], ds_split_name[sp], (long long)(a + i), ds->n_classes);
                break;
            }
    }
    xfree(buf);
    return rc;
}

// Every row of d (row_bytes each, as stored) read through in blocks: 0, or -1 naming the object.
static int read_through(Dataset *ds, char *err, size_t cap, int sp, hid_t d, const char *name,
                        hid_t mtype, int64_t row_bytes) {
    int64_t n = ds->split[sp].n, blk = SCAN_BLOCK_BYTES / row_bytes;
    if (blk < 1) blk = 1;
    void *buf = xmalloc((size_t)(n < blk ? (n ? n : 1) : blk) * (size_t)row_bytes);
    int rc = 0;
    for (int64_t a = 0; !rc && a < n; a += blk)
        if (ds_read_block(d, mtype, a, n - a < blk ? n - a : blk, buf) < 0)
            rc = ds_fail(ds, err, cap,
                         "cannot read /%s/%s rows from %lld (a chunk's checksum fails: damaged)",
                         ds_split_name[sp], name, (long long)a);
    xfree(buf);
    return rc;
}

int ds_scan_rows(Dataset *ds, char *err, size_t cap, int sp) {
    const SplitH *s = &ds->split[sp];
    if (read_through(ds, err, cap, sp, s->entity, "entity", H5T_NATIVE_INT64, 8)) return -1;
    if (s->meta >= 0 &&
        read_through(ds, err, cap, sp, s->meta, "meta", H5T_NATIVE_INT32, 4 * (int64_t)ds->n_meta))
        return -1;
    return 0;
}

// NaN/Inf in float32 modalities, token ids outside the vocabulary in text modalities; the others
// read through.
int ds_scan_features(Dataset *ds, char *err, size_t cap, int sp, int m) {
    const DatasetModality *md = &ds->mod[m];
    int is_text = !strcmp(md->kind, "text");
    if (md->dtype == DS_U8)
        return read_through(ds, err, cap, sp, ds->split[sp].mod[m], md->name, H5T_NATIVE_UINT8,
                            md->row_elems);
    if (md->dtype == DS_I32 && !is_text)
        return read_through(ds, err, cap, sp, ds->split[sp].mod[m], md->name, H5T_NATIVE_INT32,
                            4 * md->row_elems);
    int64_t n = ds->split[sp].n, per = md->row_elems;
    // check_modality refused per < 1 already; the guard keeps this division safe on its own.
    if (per < 1) return ds_fail(ds, err, cap, "/%s/%s: width 0", ds_split_name[sp], md->name);
    int64_t blk = SCAN_BLOCK_BYTES / (4 * per);
    if (blk < 1) blk = 1;
    void *buf = xmalloc((size_t)(n < blk ? (n ? n : 1) : blk) * (size_t)per * 4);
    int rc = 0;
    for (int64_t a = 0; !rc && a < n; a += blk) {
        int64_t k = n - a < blk ? n - a : blk;
        hid_t mt = md->dtype == DS_F32 ? H5T_NATIVE_FLOAT : H5T_NATIVE_INT32;
        if (ds_read_block(ds->split[sp].mod[m], mt, a, k, buf) < 0) {
            rc = ds_fail(ds, err, cap, "cannot read /%s/%s (corrupt file?)", ds_split_name[sp],
                         md->name);
            break;
        }
        for (int64_t j = 0; j < k * per; j++) {
            if (md->dtype == DS_F32) {
                float v = ((const float *)buf)[j];
                if (!isfinite(v)) {
                    rc = ds_fail(ds, err, cap,
                                 "non-finite value %g (NaN/Inf) at /%s/%s row %lld element %lld", v,
                                 ds_split_name[sp], md->name, (long long)(a + j / per),
                                 (long long)(j % per));
                    break;
                }
            } else {
                int32_t v = ((const int32_t *)buf)[j];
                if (v < 0 || v >= ds->vocab_size) {
                    rc = ds_fail(ds, err, cap,
                                 "token %d at /%s/%s row %lld is outside the vocabulary [0, %d)", v,
                                 ds_split_name[sp], md->name, (long long)(a + j / per),
                                 ds->vocab_size);
                    break;
                }
            }
        }
    }
    xfree(buf);
    return rc;
}
