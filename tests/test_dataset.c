// test_dataset.c - the validating reader: what a good file reads back as (ranges, gathers,
// dequantised features), and every rejection with a message naming the file and the problem. Bad
// files are a good file (written by dsfile) damaged with raw HDF5 calls, or not HDF5 at all.
//
// The integrity gate first: a damaged file whose digest file is the writer's is refused before
// HDF5 reads it (one bit flipped at every byte of a file, none gets through), a file without a
// digest file is refused unless DATASET_UNVERIFIED, a FIFO never blocks. Then, unverified, the
// hostile but well-formed files (width 0, no training rows, huge dims, huge chunks, counts past the
// file's size, variable-length strings, ...) are refused naming the file and the object, before
// anything large is allocated or divided.
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/dsfile.h"
#include "helpers.h"
#include "tmpdir.h"

enum { NTR = 40, NTE = 12, VEC = 5, TXT = 4, VOCAB = 6 };

static const char *const classes[3] = {"a", "b", "c"};
static const char *const vocab[VOCAB] = {"<pad>", "x", "y", "z", "u", "v"};
static const char *const meta_names[1] = {"voice"};
static char dir[64];

static uint8_t pix(int64_t i, int k) { return (uint8_t)(i * 5 + k); }
static uint8_t aud(int64_t i, int k) { return (uint8_t)(200 - i - k); }
static float vec(int sp, int64_t i, int k) { return (float)(sp * 100 + i) + 0.125f * (float)k; }

// Modalities: image uint8 raw 2x2 (pixels), audio uint8 quantised 3x2, vec float32 5, text int32 4.
static void make_good(const char *path) {
    DsSpec s = {.name = "good",
                .version = "1",
                .source = "test",
                .licence = "CC0",
                .builder = "test_dataset",
                .seed = 5,
                .n_classes = 3,
                .class_names = classes,
                .n_modalities = 4,
                .vocab_size = VOCAB,
                .vocab = vocab,
                .n_meta = 1,
                .meta_names = meta_names,
                .n = {NTR, NTE}};
    s.modalities[0] = (DsModality){"image", "image", DS_U8, 2, {2, 2}, 0, 0};
    s.modalities[1] = (DsModality){"audio", "audio", DS_U8, 2, {3, 2}, 0.5f, -1.0f};
    s.modalities[2] = (DsModality){"vec", "vector", DS_F32, 1, {VEC}, 0, 0};
    s.modalities[3] = (DsModality){"text", "text", DS_I32, 1, {TXT}, 0, 0};
    DsWriter *w = dsfile_create(path, &s);
    for (int sp = 0; sp < 2; sp++) {
        int64_t n = s.n[sp];
        int32_t *lab = xmalloc(n * 4), *meta = xmalloc(n * 4), *txt = xmalloc(n * TXT * 4);
        int64_t *ent = xmalloc(n * 8);
        uint8_t *img = xmalloc(n * 4), *au = xmalloc(n * 6);
        float *v = xmalloc(n * VEC * 4);
        for (int64_t i = 0; i < n; i++) {
            lab[i] = (int32_t)(i % 3), meta[i] = (int32_t)(i + 10 * sp), ent[i] = i / 2 + 1000 * sp;
            for (int k = 0; k < 4; k++)
                img[i * 4 + k] = pix(i, k);
            for (int k = 0; k < 6; k++)
                au[i * 6 + k] = aud(i, k);
            for (int k = 0; k < VEC; k++)
                v[i * VEC + k] = vec(sp, i, k);
            for (int k = 0; k < TXT; k++)
                txt[i * TXT + k] = (int32_t)((i + k) % VOCAB);
        }
        DsRows r = {n, lab, ent, meta, {img, au, v, txt}};
        dsfile_append(w, sp, &r);
        xfree(lab), xfree(meta), xfree(txt), xfree(ent), xfree(img), xfree(au), xfree(v);
    }
    dsfile_close(w);
}

START_TEST(test_dataset_reads_back_ranges_gathers_and_dequantises) {
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128];
    snprintf(path, sizeof path, "%s/good.h5", dir);
    make_good(path);
    char err[512];
    Dataset *ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(ds != NULL, "open failed: %s", err);
    ck_assert_str_eq(dataset_name(ds), "good");
    ck_assert_int_eq(dataset_schema(ds), DSFILE_SCHEMA);
    ck_assert_uint_eq(dataset_seed(ds), 5);
    ck_assert_int_eq(dataset_n(ds, DS_TRAIN), NTR);
    ck_assert_int_eq(dataset_n(ds, DS_TEST), NTE);
    ck_assert_int_eq(dataset_n_classes(ds), 3);
    ck_assert_str_eq(dataset_class_name(ds, 2), "c");
    ck_assert_int_eq(dataset_n_modalities(ds), 4);
    ck_assert_int_eq(dataset_modality_index(ds, "vec"), 2);
    ck_assert_int_eq(dataset_modality_index(ds, "nope"), -1);
    const DatasetModality *au = dataset_modality(ds, 1);
    ck_assert_str_eq(au->name, "audio");
    ck_assert_str_eq(au->kind, "audio");
    ck_assert_int_eq(au->dtype, DS_U8);
    ck_assert_int_eq(au->ndims, 2);
    ck_assert_int_eq(au->dims[0], 3);
    ck_assert_int_eq(au->dims[1], 2);
    ck_assert_int_eq(au->row_elems, 6);
    ck_assert_float_eq(au->scale, 0.5f);
    ck_assert_int_eq(dataset_vocab_size(ds), VOCAB);
    ck_assert_str_eq(dataset_vocab_word(ds, 3), "z");
    ck_assert_int_eq(dataset_n_meta(ds), 1);
    ck_assert_str_eq(dataset_meta_name(ds, 0), "voice");
    ck_assert_int_eq(dataset_meta_index(ds, "voice"), 0);

    // A range of the test split.
    int32_t lab[8], meta[8], tok[8 * TXT];
    int64_t ent[8];
    float img[8 * 4], a[8 * 6], v[8 * VEC];
    dataset_read_labels(ds, DS_TEST, 3, 8, lab);
    dataset_read_entities(ds, DS_TEST, 3, 8, ent);
    dataset_read_meta(ds, DS_TEST, 3, 8, meta);
    dataset_read_features(ds, DS_TEST, 0, 3, 8, img);
    dataset_read_features(ds, DS_TEST, 1, 3, 8, a);
    dataset_read_features(ds, DS_TEST, 2, 3, 8, v);
    dataset_read_tokens(ds, DS_TEST, 3, 3, 8, tok);
    for (int64_t r = 0; r < 8; r++) {
        int64_t i = r + 3;
        ck_assert_int_eq(lab[r], i % 3);
        ck_assert_int_eq(ent[r], i / 2 + 1000);
        ck_assert_int_eq(meta[r], i + 10);
        for (int k = 0; k < 4; k++)
            ck_assert_float_eq(img[r * 4 + k], pix(i, k) / 255.0f);
        for (int k = 0; k < 6; k++)
            ck_assert_float_eq(a[r * 6 + k], -1.0f + 0.5f * aud(i, k));
        for (int k = 0; k < VEC; k++)
            ck_assert_float_eq(v[r * VEC + k], vec(1, i, k));
        for (int k = 0; k < TXT; k++)
            ck_assert_int_eq(tok[r * TXT + k], (i + k) % VOCAB);
    }
    // A gather of the train split: any order, repeats, runs.
    const int64_t idx[8] = {39, 0, 7, 7, 8, 9, 2, 38};
    uint8_t raw[8 * 4];
    dataset_read_labels_idx(ds, DS_TRAIN, idx, 8, lab);
    dataset_read_entities_idx(ds, DS_TRAIN, idx, 8, ent);
    dataset_read_meta_idx(ds, DS_TRAIN, idx, 8, meta);
    dataset_read_features_idx(ds, DS_TRAIN, 2, idx, 8, v);
    dataset_read_features_idx(ds, DS_TRAIN, 1, idx, 8, a);
    dataset_read_tokens_idx(ds, DS_TRAIN, 3, idx, 8, tok);
    dataset_read_raw_idx(ds, DS_TRAIN, 0, idx, 8, raw);
    for (int r = 0; r < 8; r++) {
        int64_t i = idx[r];
        ck_assert_int_eq(lab[r], i % 3);
        ck_assert_int_eq(ent[r], i / 2);
        ck_assert_int_eq(meta[r], i);
        for (int k = 0; k < VEC; k++)
            ck_assert_float_eq(v[r * VEC + k], vec(0, i, k));
        for (int k = 0; k < 6; k++)
            ck_assert_float_eq(a[r * 6 + k], -1.0f + 0.5f * aud(i, k));
        for (int k = 0; k < TXT; k++)
            ck_assert_int_eq(tok[r * TXT + k], (i + k) % VOCAB);
        for (int k = 0; k < 4; k++)
            ck_assert_uint_eq(raw[r * 4 + k], pix(i, k));
    }
    dataset_close(ds);
    tmpdir_remove(dir);
}
END_TEST

// ---- damage ----

typedef void (*Damage)(hid_t f);

// Overwrites element (row, col) of a 1-D or 2-D int32 dataset (col ignored for 1-D).
static void h5_write_i32_at(hid_t f, const char *name, hsize_t row, hsize_t col, int32_t value) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    int rank = H5Sget_simple_extent_ndims(fs);
    hsize_t off[2] = {row, col}, one[2] = {1, 1};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, one, NULL);
    hid_t ms = H5Screate_simple(rank, one, NULL);
    ck_assert_int_ge(H5Dwrite(d, H5T_NATIVE_INT32, ms, fs, H5P_DEFAULT, &value), 0);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d);
}

static void replace_dataset(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims) {
    ck_assert_int_ge(H5Ldelete(f, name, H5P_DEFAULT), 0);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    H5Sclose(sp), H5Dclose(d);
}

static void dmg_no_group(hid_t f) { H5Ldelete(f, "/test", H5P_DEFAULT); }
static void dmg_no_label(hid_t f) { H5Ldelete(f, "/train/label", H5P_DEFAULT); }
static void dmg_no_modality(hid_t f) { H5Ldelete(f, "/test/vec", H5P_DEFAULT); }
static void dmg_no_vocab(hid_t f) { H5Ldelete(f, "/vocab", H5P_DEFAULT); }
static void dmg_no_classes(hid_t f) { H5Adelete(f, "classes"); }
static void dmg_no_kind(hid_t f) { H5Adelete_by_name(f, "/train/audio", "kind", H5P_DEFAULT); }
static void dmg_no_n(hid_t f) { H5Adelete_by_name(f, "/train", "n", H5P_DEFAULT); }
static void dmg_label_float(hid_t f) {
    hsize_t n = NTR;
    replace_dataset(f, "/train/label", H5T_IEEE_F32LE, 1, &n);
}
static void dmg_vec_float64(hid_t f) {
    hsize_t d[2] = {NTE, VEC};
    replace_dataset(f, "/test/vec", H5T_IEEE_F64LE, 2, d);
}
static void dmg_entity_short(hid_t f) {
    hsize_t n = NTE - 1;
    replace_dataset(f, "/test/entity", H5T_STD_I64LE, 1, &n);
}
static void dmg_image_long(hid_t f) {
    hsize_t d[3] = {NTR + 2, 2, 2};
    replace_dataset(f, "/train/image", H5T_STD_U8LE, 3, d);
}
static void dmg_label_range(hid_t f) { h5_write_i32_at(f, "/train/label", 17, 0, 3); }
static void dmg_label_negative(hid_t f) { h5_write_i32_at(f, "/test/label", 2, 0, -1); }
static void dmg_token(hid_t f) { h5_write_i32_at(f, "/test/text", 9, 2, VOCAB); }
static void dmg_nan(hid_t f) {
    hid_t d = H5Dopen2(f, "/train/vec", H5P_DEFAULT);
    hid_t fs = H5Dget_space(d);
    hsize_t off[2] = {6, 3}, cnt[2] = {1, 1};
    H5Sselect_hyperslab(fs, H5S_SELECT_SET, off, NULL, cnt, NULL);
    hid_t ms = H5Screate_simple(2, cnt, NULL);
    float nan = NAN;
    H5Dwrite(d, H5T_NATIVE_FLOAT, ms, fs, H5P_DEFAULT, &nan);
    H5Sclose(ms), H5Sclose(fs), H5Dclose(d);
}
static void dmg_schema(hid_t f) {
    hid_t a = H5Aopen(f, "schema", H5P_DEFAULT);
    int v = DSFILE_SCHEMA + 1;
    H5Awrite(a, H5T_NATIVE_INT, &v);
    H5Aclose(a);
}
// Replaces a scalar integer attribute (deleted and created again: HDF5 1.10.8 fails to rewrite
// one in place on a group of a 1.10-format file).
static void set_int_attr(hid_t f, const char *obj, const char *name, hid_t mtype, const void *v) {
    hid_t a = H5Aopen_by_name(f, obj, name, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    hid_t t = H5Aget_type(a);
    H5Aclose(a);
    ck_assert_int_ge(H5Adelete_by_name(f, obj, name, H5P_DEFAULT), 0);
    hid_t sp = H5Screate(H5S_SCALAR);
    a = H5Acreate_by_name(f, obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, mtype, v), 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}
static void dmg_schema_1(hid_t f) {
    int v = 1;
    set_int_attr(f, "/", "schema", H5T_NATIVE_INT, &v);
}
// n larger than the datasets' extent, and no training rows at all.
static void dmg_n_past_extent(hid_t f) {
    int64_t v = NTE + 5;
    set_int_attr(f, "/test", "n", H5T_NATIVE_INT64, &v);
}
static void dmg_no_train_rows(hid_t f) {
    int64_t v = 0;
    set_int_attr(f, "/train", "n", H5T_NATIVE_INT64, &v);
}
// A string attribute (fixed-length, as the format has them), n strings of width bytes each.
static void put_strs(hid_t obj, const char *name, int n, size_t width, const char *fill) {
    if (H5Aexists(obj, name) > 0) H5Adelete(obj, name);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, width);
    hsize_t dim = (hsize_t)n;
    hid_t sp = n < 0 ? H5Screate(H5S_SCALAR) : H5Screate_simple(1, &dim, NULL);
    size_t count = n < 0 ? 1 : (size_t)n;
    char *buf = xcalloc(count, width);
    for (size_t i = 0; i < count; i++)
        memcpy(buf + i * width, fill, strlen(fill) < width ? strlen(fill) : width);
    hid_t a = H5Acreate2(obj, name, t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(a, 0);
    ck_assert_int_ge(H5Awrite(a, t, buf), 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
    xfree(buf);
}
static void dmg_one_class(hid_t f) { put_strs(f, "classes", 1, 1, "a"); }
static void dmg_many_classes(hid_t f) { put_strs(f, "classes", DS_MAX_CLASSES + 1, 1, "a"); }
static void dmg_long_name(hid_t f) { put_strs(f, "name", -1, DS_MAX_STRING + 1, "long"); }
// The classes as variable-length strings (schema 1's): their bytes live in the global heap, which
// no checksum covers; refused unread.
static void dmg_vlen_classes(hid_t f) {
    H5Adelete(f, "classes");
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, H5T_VARIABLE);
    hsize_t dim = 3;
    hid_t sp = H5Screate_simple(1, &dim, NULL);
    hid_t a = H5Acreate2(f, "classes", t, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Awrite(a, t, classes), 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(t);
}
// A modality replaced by a dataset of the given shape and storage, with its kind attribute.
static void replace_modality(hid_t f, const char *name, hid_t type, int rank, const hsize_t *dims,
                             const hsize_t *chunk, int deflate) {
    ck_assert_int_ge(H5Ldelete(f, name, H5P_DEFAULT), 0);
    hid_t sp = H5Screate_simple(rank, dims, NULL);
    hid_t dcpl = H5Pcreate(H5P_DATASET_CREATE);
    if (chunk) H5Pset_chunk(dcpl, rank, chunk);
    if (deflate) H5Pset_deflate(dcpl, 1);
    hid_t d = H5Dcreate2(f, name, type, sp, H5P_DEFAULT, dcpl, H5P_DEFAULT);
    ck_assert_int_ge(d, 0);
    put_strs(d, "kind", -1, 6, "vector");
    H5Pclose(dcpl), H5Sclose(sp), H5Dclose(d);
}
static void dmg_width_0(hid_t f) {
    hsize_t d[2] = {NTR, 0};
    replace_modality(f, "/train/vec", H5T_IEEE_F32LE, 2, d, NULL, 0);
}
static void dmg_test_width_0(hid_t f) {
    hsize_t d[3] = {NTE, 3, 0};
    replace_modality(f, "/test/audio", H5T_STD_U8LE, 3, d, NULL, 0);
}
static void dmg_huge_sample(hid_t f) { // 2^20 x 2^20 elements per sample, nothing stored
    hsize_t d[3] = {NTR, 1 << 20, 1 << 20}, c[3] = {1, 1, 1 << 20};
    replace_modality(f, "/train/vec", H5T_IEEE_F32LE, 3, d, c, 1);
}
static void dmg_past_file_size(hid_t f) { // 160 MiB declared, stored uncompressed, never written
    hsize_t d[2] = {NTR, 1 << 20};
    replace_modality(f, "/train/vec", H5T_IEEE_F32LE, 2, d, NULL, 0);
}
static void dmg_huge_chunk(hid_t f) { // compressed (may exceed the file), chunks of 128 MiB
    hsize_t d[2] = {NTR, 1 << 24}, c[2] = {2, 1 << 24};
    replace_modality(f, "/train/vec", H5T_IEEE_F32LE, 2, d, c, 1);
}
static void dmg_rank_9(hid_t f) { // more dims than the reader's arrays hold
    hsize_t d[9] = {NTR, 1, 1, 1, 1, 1, 1, 1, 2};
    replace_modality(f, "/train/vec", H5T_IEEE_F32LE, 9, d, NULL, 0);
}
// The text's ids index a vocabulary of 3 words: ids 3..5 do not fit.
static void dmg_small_vocab(hid_t f) {
    ck_assert_int_ge(H5Ldelete(f, "/vocab", H5P_DEFAULT), 0);
    hid_t t = H5Tcopy(H5T_C_S1);
    H5Tset_size(t, 1);
    hsize_t n = 3;
    hid_t sp = H5Screate_simple(1, &n, NULL);
    hid_t d = H5Dcreate2(f, "/vocab", t, sp, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert_int_ge(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, "xyz"), 0);
    H5Dclose(d), H5Sclose(sp), H5Tclose(t);
}
// Every dataset of /train with 2^29 rows (compressed, never written: the file stays small), so
// that the 6 elements of an audio row make more than DS_MAX_ELEMS in the split.
static void dmg_rows_past_max_elems(hid_t f) {
    const hsize_t N = (hsize_t)1 << 29, one = 1 << 16;
    int64_t n = (int64_t)N;
    set_int_attr(f, "/train", "n", H5T_NATIVE_INT64, &n);
    hsize_t d1[1] = {N}, c1[1] = {one}, dm[2] = {N, 1}, cm[2] = {one, 1};
    hsize_t di[3] = {N, 2, 2}, ci[3] = {one, 2, 2}, da[3] = {N, 3, 2}, ca[3] = {one, 3, 2};
    replace_modality(f, "/train/label", H5T_STD_I32LE, 1, d1, c1, 1);
    replace_modality(f, "/train/entity", H5T_STD_I64LE, 1, d1, c1, 1);
    replace_modality(f, "/train/meta", H5T_STD_I32LE, 2, dm, cm, 1);
    hid_t meta = H5Dopen2(f, "/train/meta", H5P_DEFAULT);
    put_strs(meta, "columns", 1, 5, "voice");
    H5Dclose(meta);
    replace_modality(f, "/train/image", H5T_STD_U8LE, 3, di, ci, 1);
    replace_modality(f, "/train/audio", H5T_STD_U8LE, 3, da, ca, 1);
}

typedef struct {
    const char *what;
    Damage damage;
    const char *needle1, *needle2;
} Case;

static const Case cases[] = {
    {"missing group", dmg_no_group, "missing group /test", NULL},
    {"missing label", dmg_no_label, "missing dataset /train/label", NULL},
    {"missing modality", dmg_no_modality, "missing dataset /test/vec", NULL},
    {"missing vocab", dmg_no_vocab, "missing dataset /vocab", NULL},
    {"missing root attribute", dmg_no_classes, "missing attribute classes on /", NULL},
    {"missing kind", dmg_no_kind, "missing attribute kind on /train/audio", NULL},
    {"missing n", dmg_no_n, "missing attribute n on /train", NULL},
    {"label dtype", dmg_label_float, "wrong dtype for /train/label",
     "expected int32, found float32"},
    {"feature dtype", dmg_vec_float64, "wrong dtype for /test/vec", "found float64"},
    {"entity length", dmg_entity_short, "mismatched lengths",
     "/test/entity has 11 rows but /test has n = 12"},
    {"modality length", dmg_image_long, "mismatched lengths", "/train/image has 42 rows"},
    {"label range", dmg_label_range, "label 3 at /train/label[17]", "outside [0, 3)"},
    {"negative label", dmg_label_negative, "label -1 at /test/label[2]", NULL},
    {"token range", dmg_token, "token 6 at /test/text row 9", "vocabulary"},
    {"nan", dmg_nan, "non-finite value", "/train/vec row 6 element 3"},
    {"schema", dmg_schema, "schema version 3 is newer than this reader's 2", NULL},
    {"schema 1", dmg_schema_1, "schema version 1 stores variable-length strings", "rebuild"},
    {"n past the extent", dmg_n_past_extent, "mismatched lengths",
     "/test/label has 12 rows but /test has n = 17"},
    {"no training rows", dmg_no_train_rows, "/train: n = 0: the file has no training rows", NULL},
    {"one class", dmg_one_class, "attribute classes on / lists 1 classes, need 2..1024", NULL},
    {"too many classes", dmg_many_classes, "attribute classes on /: more than 1024 strings", NULL},
    {"long string", dmg_long_name, "wrong dtype for attribute name on /", "DS_MAX_STRING"},
    {"variable-length strings", dmg_vlen_classes, "wrong dtype for attribute classes on /",
     "variable-length strings"},
    {"width 0", dmg_width_0, "/train/vec: per-sample dimension 1 is 0", "(width 0)"},
    {"width 0 in test", dmg_test_width_0, "/test/audio: per-sample dimension 2 is 0", NULL},
    {"huge sample", dmg_huge_sample, "/train/vec: more than 16777216 elements per sample", NULL},
    {"past the file's size", dmg_past_file_size, "/train/vec: 40 rows of 4194304 bytes",
     "exceed the file's"},
    {"huge chunk", dmg_huge_chunk, "/train/vec: stored chunks of more than 67108864 bytes", NULL},
    {"rank 9", dmg_rank_9, "wrong rank for /train/vec: 9 dimensions", NULL},
    {"vocabulary too small for the ids", dmg_small_vocab, "token 3 at /train/text row 0",
     "outside the vocabulary [0, 3)"},
    {"rows past DS_MAX_ELEMS", dmg_rows_past_max_elems,
     "/train/audio: 536870912 rows of 6 elements exceed the format's 2147483648", NULL},
};

static void unseal(const char *path) {
    char side[160];
    snprintf(side, sizeof side, "%s.sha256", path);
    unlink(side);
}

static void assert_names(const char *what, const char *err, const char *path, const char *needle1,
                         const char *needle2) {
    ck_assert_msg(strstr(err, path) != NULL, "%s: message does not name the file: %s", what, err);
    ck_assert_msg(strstr(err, needle1), "%s: message lacks \"%s\": %s", what, needle1, err);
    if (needle2)
        ck_assert_msg(strstr(err, needle2), "%s: message lacks \"%s\": %s", what, needle2, err);
}

// Each damaged file three times: with the writer's digest file the gate refuses it before HDF5
// reads it; without one it is refused unless DATASET_UNVERIFIED; unverified, the structure and
// bounds checks refuse it naming the object (in Check's child process: a crash, a CHECK or an
// allocation of the declared sizes fails the test).
START_TEST(test_dataset_rejects_damaged_file) {
    const Case *c = &cases[_i];
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128];
    snprintf(path, sizeof path, "%s/bad_%d.h5", dir, _i);
    make_good(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    c->damage(f);
    H5Fclose(f);
    char err[1024] = "";
    ck_assert_msg(dataset_open(path, err, sizeof err) == NULL, "%s: accepted despite its digest",
                  c->what);
    assert_names(c->what, err, path, "its digest file records", "(damaged)");
    ck_assert_msg(dataset_open_flags(path, DATASET_UNVERIFIED, err, sizeof err) == NULL,
                  "%s: a digest that does not match is bypassed by DATASET_UNVERIFIED", c->what);
    unseal(path);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    assert_names(c->what, err, path, "no digest file", "--data-unverified");
    Dataset *ds = dataset_open_flags(path, DATASET_UNVERIFIED, err, sizeof err);
    ck_assert_msg(ds == NULL, "%s: the damaged file was accepted", c->what);
    assert_names(c->what, err, path, c->needle1, c->needle2);
    tmpdir_remove(dir);
}
END_TEST

// The scan can be skipped (large files opened by many ranks), but labels are always checked.
START_TEST(test_dataset_skip_scan_skips_features_only) {
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/nan.h5", dir);
    make_good(path);
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    dmg_nan(f);
    H5Fclose(f);
    unseal(path);
    const unsigned flags = DATASET_SKIP_SCAN | DATASET_UNVERIFIED;
    Dataset *ds = dataset_open_flags(path, flags, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    dataset_close(ds);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    dmg_label_range(f);
    H5Fclose(f);
    ck_assert_ptr_null(dataset_open_flags(path, flags, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "label 3 at /train/label[17]"));
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_dataset_rejects_missing_not_hdf5_and_truncated_files) {
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128], err[1024];
    snprintf(path, sizeof path, "%s/absent.h5", dir);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "No such file"), "%s", err);
    ck_assert_ptr_null(dataset_open_flags(path, DATASET_UNVERIFIED, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "No such file"), "%s", err);

    snprintf(path, sizeof path, "%s/text.h5", dir);
    FILE *t = fopen(path, "w");
    fputs("label,image\n1,2\n", t);
    fclose(t);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "no digest file"), "%s", err);
    ck_assert_ptr_null(dataset_open_flags(path, DATASET_UNVERIFIED, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "not an HDF5 file"), "%s", err);

    // Truncated: the first half of a good file (its digest file then no longer matches).
    snprintf(path, sizeof path, "%s/cut.h5", dir);
    make_good(path);
    struct stat st;
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(truncate(path, st.st_size / 2), 0);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "(damaged)"), "%s", err);
    unseal(path);
    ck_assert_ptr_null(dataset_open_flags(path, DATASET_UNVERIFIED, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "truncated"), "%s", err);
    tmpdir_remove(dir);
}
END_TEST

// The gate: a sealed file passes with the digest sha256sum computes; without its digest file it is
// refused, naming the file and how to proceed, and read under DATASET_UNVERIFIED (the digest still
// computed); a digest file of another file, and a FIFO under the name (refused without blocking:
// the test's timeout catches a block), are refused.
START_TEST(test_dataset_gate_refuses_unsealed_foreign_and_fifo) {
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128], other[128], err[1024], hex[65], out[256];
    snprintf(path, sizeof path, "%s/good.h5", dir);
    make_good(path);
    int64_t bytes = 0;
    ck_assert_int_eq(dataset_gate(path, 0, hex, &bytes, err, sizeof err), DATASET_SEALED);
    ck_assert_int_eq(run_command(out, sizeof out, "sha256sum %s | cut -c1-64", path), 0);
    ck_assert_int_eq(strncmp(hex, out, 64), 0);
    Dataset *ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    ck_assert_str_eq(dataset_sha256(ds), hex);
    dataset_close(ds);
    // DATASET_GATED: the caller's gate did it (rank 0 for every rank): no second digest.
    ds = dataset_open_flags(path, DATASET_GATED, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    ck_assert_str_eq(dataset_sha256(ds), "");
    dataset_close(ds);

    unseal(path);
    ck_assert_int_eq(dataset_gate(path, 0, hex, NULL, err, sizeof err), -1);
    ck_assert_str_eq(hex, "");
    assert_names("no digest file", err, path, "no digest file", "--data-unverified");
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    ck_assert_int_eq(dataset_gate(path, 1, hex, NULL, err, sizeof err), DATASET_UNSEALED);
    ck_assert_int_eq(strncmp(hex, out, 64), 0);
    ds = dataset_open_flags(path, DATASET_UNVERIFIED, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    ck_assert_str_eq(dataset_sha256(ds), hex);
    dataset_close(ds);

    // Another file's digest file copied beside this one.
    snprintf(other, sizeof other, "%s/other.h5", dir);
    make_good(other);
    ck_assert_int_eq(run_command(NULL, 0, "cp %s.sha256 %s.sha256", other, path), 0);
    ck_assert_int_eq(dataset_gate(path, 1, hex, NULL, err, sizeof err), -1);
    assert_names("foreign digest file", err, path, "another file's", NULL);

    // A FIFO, with and without a digest file beside it.
    snprintf(path, sizeof path, "%s/fifo.h5", dir);
    ck_assert_int_eq(mkfifo(path, 0600), 0);
    ck_assert_int_eq(dataset_gate(path, 1, hex, NULL, err, sizeof err), -1);
    assert_names("fifo", err, path, "not a regular file", NULL);
    ck_assert_int_eq(run_command(NULL, 0,
                                 "cd %s && sha256sum other.h5 | sed s/other/fifo/ > "
                                 "fifo.h5.sha256",
                                 dir),
                     0);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    assert_names("sealed fifo", err, path, "not a regular file", NULL);
    tmpdir_remove(dir);
}
END_TEST

// One bit flipped at every byte of a small file (metadata, strings, chunk indexes, data), its
// writer's digest file beside it: the gate refuses every one before HDF5 reads it, naming the
// file. In Check's child process, so a crash fails the test as well as an acceptance.
START_TEST(test_dataset_bit_flip_at_every_byte_is_refused_by_the_gate) {
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128], err[1024];
    snprintf(path, sizeof path, "%s/flip.h5", dir);
    make_good(path);
    FILE *f = fopen(path, "r+b");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fseek(f, 0, SEEK_END), 0);
    long len = ftell(f);
    ck_assert_int_gt(len, 4096);
    for (long off = 0; off < len; off++) {
        unsigned char b, bit = (unsigned char)(1u << (off % 8));
        ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
        ck_assert_int_eq(fread(&b, 1, 1, f), 1);
        b ^= bit;
        ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
        ck_assert_int_eq(fwrite(&b, 1, 1, f), 1);
        ck_assert_int_eq(fflush(f), 0);
        Dataset *ds = dataset_open(path, err, sizeof err);
        ck_assert_msg(ds == NULL, "bit %ld of byte %ld flipped: accepted", off % 8, off);
        ck_assert_msg(strstr(err, path) && strstr(err, "(damaged)"), "byte %ld: %s", off, err);
        b ^= bit;
        ck_assert_int_eq(fseek(f, off, SEEK_SET), 0);
        ck_assert_int_eq(fwrite(&b, 1, 1, f), 1);
        ck_assert_int_eq(fflush(f), 0);
    }
    fclose(f);
    Dataset *ds = dataset_open(path, err, sizeof err); // restored: accepted again
    ck_assert_msg(ds != NULL, "%s", err);
    dataset_close(ds);
    tmpdir_remove(dir);
}
END_TEST

static Dataset *open_ds;
static void read_past_end(void *arg) {
    (void)arg;
    int32_t lab[4];
    dataset_read_labels(open_ds, DS_TEST, NTE - 2, 4, lab);
}
static void gather_bad_index(void *arg) {
    (void)arg;
    const int64_t idx[2] = {1, NTR};
    float v[2 * VEC];
    dataset_read_features_idx(open_ds, DS_TRAIN, 2, idx, 2, v);
}
static void tokens_of_floats(void *arg) {
    (void)arg;
    int32_t t[VEC];
    dataset_read_tokens(open_ds, DS_TRAIN, 2, 0, 1, t);
}

START_TEST(test_dataset_read_misuse_dies_naming_the_problem) {
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/good.h5", dir);
    make_good(path);
    open_ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(open_ds != NULL, "%s", err);
    expect_die(read_past_end, NULL, "/test/label: rows [10, 14) outside [0, 12)");
    expect_die(gather_bad_index, NULL, "/train/vec: idx[1] = 40 outside [0, 40)");
    expect_die(tokens_of_floats, NULL, "modality vec is float32, not int32 tokens");
    dataset_close(open_ds);
    tmpdir_remove(dir);
}
END_TEST

Suite *dataset_suite(void) {
    Suite *s = suite_create("dataset");
    TCase *tc = tcase_create("reader");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dataset_reads_back_ranges_gathers_and_dequantises);
    tcase_add_loop_test(tc, test_dataset_rejects_damaged_file, 0,
                        (int)(sizeof cases / sizeof cases[0]));
    tcase_add_test(tc, test_dataset_skip_scan_skips_features_only);
    tcase_add_test(tc, test_dataset_rejects_missing_not_hdf5_and_truncated_files);
    tcase_add_test(tc, test_dataset_gate_refuses_unsealed_foreign_and_fifo);
    tcase_add_test(tc, test_dataset_bit_flip_at_every_byte_is_refused_by_the_gate);
    tcase_add_test(tc, test_dataset_read_misuse_dies_naming_the_problem);
    suite_add_tcase(s, tc);
    return s;
}
