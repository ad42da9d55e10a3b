// test_dataset.c - the validating reader: what a good file reads back as (ranges, gathers,
// dequantised features), and every rejection with a message naming the file and the problem. Bad
// files are a good file (written by dsfile) damaged with raw HDF5 calls, or not HDF5 at all.
#include <check.h>
#include <hdf5.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

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
    {"schema", dmg_schema, "schema version 2 is newer than this reader's 1", NULL},
};

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
    char err[512] = "";
    Dataset *ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(ds == NULL, "%s: the damaged file was accepted", c->what);
    ck_assert_msg(strstr(err, path) != NULL, "%s: message does not name the file: %s", c->what,
                  err);
    ck_assert_msg(strstr(err, c->needle1), "%s: message lacks \"%s\": %s", c->what, c->needle1,
                  err);
    if (c->needle2)
        ck_assert_msg(strstr(err, c->needle2), "%s: message lacks \"%s\": %s", c->what, c->needle2,
                      err);
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
    Dataset *ds = dataset_open_flags(path, DATASET_SKIP_SCAN, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    dataset_close(ds);
    f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    dmg_label_range(f);
    H5Fclose(f);
    ck_assert_ptr_null(dataset_open_flags(path, DATASET_SKIP_SCAN, err, sizeof err));
    ck_assert_ptr_nonnull(strstr(err, "label 3 at /train/label[17]"));
    tmpdir_remove(dir);
}
END_TEST

START_TEST(test_dataset_rejects_missing_not_hdf5_and_truncated_files) {
    tmpdir_make(dir, sizeof dir, "test_dataset");
    char path[128], err[512];
    snprintf(path, sizeof path, "%s/absent.h5", dir);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "No such file"), "%s", err);

    snprintf(path, sizeof path, "%s/text.h5", dir);
    FILE *t = fopen(path, "w");
    fputs("label,image\n1,2\n", t);
    fclose(t);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "not an HDF5 file"), "%s", err);

    // Truncated: the first half of a good file.
    snprintf(path, sizeof path, "%s/cut.h5", dir);
    make_good(path);
    FILE *g = fopen(path, "rb");
    fseek(g, 0, SEEK_END);
    long len = ftell(g);
    fclose(g);
    ck_assert_int_eq(truncate(path, len / 2), 0);
    ck_assert_ptr_null(dataset_open(path, err, sizeof err));
    ck_assert_msg(strstr(err, path) && strstr(err, "truncated"), "%s", err);
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
    tcase_add_test(tc, test_dataset_read_misuse_dies_naming_the_problem);
    suite_add_tcase(s, tc);
    return s;
}
