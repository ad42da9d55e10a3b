// test_dsfile.c - the dataset writer: round trip through raw HDF5 (every string fixed-length),
// the digest file it publishes beside the file (sha256sum -c accepts it, the reader's gate too),
// byte-identical files whatever the append pattern, nothing left under any name when a build is
// discarded or incomplete, and the format's limits CHECKed in the spec.
#include <check.h>
#include <hdf5.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/dsfile.h"
#include "helpers.h"
#include "tmpdir.h"

enum { NTR = 300, NTE = 70, WIDE = 2048, IMG_H = 4, IMG_W = 3, TXT_L = 6, VOCAB = 7, NMETA = 2 };

static const char *const classes[3] = {"cat", "dog", "emu"};
static const char *const vocab[VOCAB] = {"<pad>", "cat", "dog", "emu", "a", "the", "big"};
static const char *const meta_names[NMETA] = {"voice", "noise_permille"};

// A spec with every feature: quantised uint8 image, a wide float vector (many chunks), text, meta.
static DsSpec test_spec(void) {
    DsSpec s = {.name = "unit",
                .version = "1",
                .source = "test",
                .licence = "CC0",
                .builder = "test_dsfile",
                .seed = 77,
                .n_classes = 3,
                .class_names = classes,
                .n_modalities = 3,
                .vocab_size = VOCAB,
                .vocab = vocab,
                .n_meta = NMETA,
                .meta_names = meta_names,
                .n = {NTR, NTE}};
    s.modalities[0] = (DsModality){"image", "image", DS_U8, 2, {IMG_H, IMG_W}, 0.5f, -1.0f};
    s.modalities[1] = (DsModality){"visible", "vector", DS_F32, 1, {WIDE}, 0, 0};
    s.modalities[2] = (DsModality){"text", "text", DS_I32, 1, {TXT_L}, 0, 0};
    return s;
}

// The rows of one split, deterministic functions of (split, row).
typedef struct {
    int32_t *label, *meta, *text;
    int64_t *entity;
    uint8_t *image;
    float *wide;
} Rows;

static Rows make_rows(int split, int64_t n) {
    Rows r = {xmalloc(n * 4), xmalloc(n * NMETA * 4),     xmalloc(n * TXT_L * 4),
              xmalloc(n * 8), xmalloc(n * IMG_H * IMG_W), xmalloc(n * WIDE * 4)};
    for (int64_t i = 0; i < n; i++) {
        r.label[i] = (int32_t)((i * 7 + split) % 3);
        r.entity[i] = 1000 * split + i / 2;
        for (int k = 0; k < NMETA; k++)
            r.meta[i * NMETA + k] = (int32_t)(i * 10 + k + split);
        for (int k = 0; k < TXT_L; k++)
            r.text[i * TXT_L + k] = (int32_t)((i + k) % VOCAB);
        for (int k = 0; k < IMG_H * IMG_W; k++)
            r.image[i * IMG_H * IMG_W + k] = (uint8_t)(i * 3 + k);
        for (int k = 0; k < WIDE; k++)
            r.wide[i * WIDE + k] = (float)((i % 17) * 0.25 - k * 0.001 + split);
    }
    return r;
}
static void free_rows(Rows *r) {
    xfree(r->label), xfree(r->meta), xfree(r->text), xfree(r->entity), xfree(r->image),
        xfree(r->wide);
}

static void append_block(DsWriter *w, int split, const Rows *r, int64_t from, int64_t n) {
    DsRows b = {
        .n = n,
        .label = r->label + from,
        .entity = r->entity + from,
        .meta = r->meta + from * NMETA,
        .data = {r->image + from * IMG_H * IMG_W, r->wide + from * WIDE, r->text + from * TXT_L}};
    dsfile_append(w, split, &b);
}

// Writes the test file appending `block` rows at a time; interleave = alternate train and test
// blocks.
static void write_file(const char *path, int64_t block, int interleave) {
    DsSpec spec = test_spec();
    Rows tr = make_rows(0, NTR), te = make_rows(1, NTE);
    DsWriter *w = dsfile_create(path, &spec);
    int64_t a = 0, b = 0;
    while (a < NTR || b < NTE) {
        if (a < NTR && (!interleave || b >= NTE || ((a / block) % 2 == 0))) {
            int64_t n = a + block > NTR ? NTR - a : block;
            append_block(w, DS_TRAIN, &tr, a, n);
            a += n;
            if (interleave) continue;
        }
        if (b < NTE && (interleave || a >= NTR)) {
            int64_t n = b + block > NTE ? NTE - b : block;
            append_block(w, DS_TEST, &te, b, n);
            b += n;
            if (interleave && a < NTR) { // one train block next
                int64_t m = a + block > NTR ? NTR - a : block;
                append_block(w, DS_TRAIN, &tr, a, m);
                a += m;
            }
        }
    }
    dsfile_close(w);
    free_rows(&tr), free_rows(&te);
}

static char tmpdir[64];
static void make_tmpdir(void) { tmpdir_make(tmpdir, sizeof tmpdir, "test_dsfile"); }
static void path_in(char *out, size_t cap, const char *name) {
    snprintf(out, cap, "%s/%s", tmpdir, name);
}
static int exists(const char *p) { return access(p, F_OK) == 0; }

static unsigned char *slurp(const char *path, long *len) {
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *b = xmalloc((size_t)*len);
    ck_assert_int_eq(fread(b, 1, (size_t)*len, f), (size_t)*len);
    fclose(f);
    return b;
}

static void read_all(hid_t f, const char *name, hid_t mtype, void *buf) {
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "no dataset %s", name);
    ck_assert_int_ge(H5Dread(d, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf), 0);
    H5Dclose(d);
}

START_TEST(test_dsfile_round_trip_through_raw_hdf5) {
    make_tmpdir();
    char path[128];
    path_in(path, sizeof path, "rt.h5");
    write_file(path, 37, 0);
    ck_assert(exists(path));
    char tmp[140];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert(!exists(tmp));

    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_int_ge(f, 0);
    int schema = 0;
    hid_t a = H5Aopen(f, "schema", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_INT, &schema);
    H5Aclose(a);
    ck_assert_int_eq(schema, DSFILE_SCHEMA);
    uint64_t seed = 0;
    a = H5Aopen(f, "seed", H5P_DEFAULT);
    H5Aread(a, H5T_NATIVE_UINT64, &seed);
    H5Aclose(a);
    ck_assert_uint_eq(seed, 77);
    // classes and vocab: fixed-length strings (nothing in the global heap), null-padded to the
    // longest; read back through a type one byte wider so that the longest keeps its last byte.
    a = H5Aopen(f, "classes", H5P_DEFAULT);
    hid_t ft = H5Aget_type(a);
    ck_assert_int_eq(H5Tget_class(ft), H5T_STRING);
    ck_assert_int_eq(H5Tis_variable_str(ft), 0);
    ck_assert_uint_eq(H5Tget_size(ft), 3); // "cat", "dog", "emu"
    H5Tclose(ft);
    hid_t st = H5Tcopy(H5T_C_S1);
    H5Tset_size(st, 4);
    H5Tset_cset(st, H5T_CSET_UTF8); // as stored
    char cls[3][4];
    ck_assert_int_ge(H5Aread(a, st, cls), 0);
    for (int c = 0; c < 3; c++)
        ck_assert_str_eq(cls[c], classes[c]);
    H5Aclose(a);
    H5Tset_size(st, 6); // the longest word, "<pad>", has 5 bytes
    char voc[VOCAB][6];
    read_all(f, "vocab", st, voc);
    for (int v = 0; v < VOCAB; v++)
        ck_assert_str_eq(voc[v], vocab[v]);
    H5Tclose(st);
    hid_t dv = H5Dopen2(f, "vocab", H5P_DEFAULT);
    ft = H5Dget_type(dv);
    ck_assert_int_eq(H5Tis_variable_str(ft), 0);
    H5Tclose(ft), H5Dclose(dv);

    for (int sp = 0; sp < 2; sp++) {
        int64_t n = sp ? NTE : NTR;
        Rows want = make_rows(sp, n), got = make_rows(sp, n);
        memset(got.label, 0xff, n * 4), memset(got.wide, 0, n * WIDE * 4),
            memset(got.image, 0, n * 12);
        char name[64];
        const char *g = sp ? "test" : "train";
        snprintf(name, sizeof name, "/%s/label", g), read_all(f, name, H5T_NATIVE_INT32, got.label);
        snprintf(name, sizeof name, "/%s/entity", g),
            read_all(f, name, H5T_NATIVE_INT64, got.entity);
        snprintf(name, sizeof name, "/%s/meta", g), read_all(f, name, H5T_NATIVE_INT32, got.meta);
        snprintf(name, sizeof name, "/%s/image", g), read_all(f, name, H5T_NATIVE_UINT8, got.image);
        snprintf(name, sizeof name, "/%s/visible", g),
            read_all(f, name, H5T_NATIVE_FLOAT, got.wide);
        snprintf(name, sizeof name, "/%s/text", g), read_all(f, name, H5T_NATIVE_INT32, got.text);
        ck_assert_mem_eq(got.label, want.label, n * 4);
        ck_assert_mem_eq(got.entity, want.entity, n * 8);
        ck_assert_mem_eq(got.meta, want.meta, n * NMETA * 4);
        ck_assert_mem_eq(got.image, want.image, n * IMG_H * IMG_W);
        ck_assert_mem_eq(got.wide, want.wide, n * WIDE * 4);
        ck_assert_mem_eq(got.text, want.text, n * TXT_L * 4);
        free_rows(&want), free_rows(&got);
        // shape, n attribute, quantisation attributes
        snprintf(name, sizeof name, "/%s/image", g);
        hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
        hid_t sp_ = H5Dget_space(d);
        hsize_t dims[3];
        ck_assert_int_eq(H5Sget_simple_extent_dims(sp_, dims, NULL), 3);
        ck_assert_uint_eq(dims[0], n);
        ck_assert_uint_eq(dims[1], IMG_H);
        ck_assert_uint_eq(dims[2], IMG_W);
        float scale = 0, offset = 0;
        a = H5Aopen(d, "scale", H5P_DEFAULT), H5Aread(a, H5T_NATIVE_FLOAT, &scale), H5Aclose(a);
        a = H5Aopen(d, "offset", H5P_DEFAULT), H5Aread(a, H5T_NATIVE_FLOAT, &offset), H5Aclose(a);
        ck_assert_float_eq(scale, 0.5f);
        ck_assert_float_eq(offset, -1.0f);
        H5Sclose(sp_), H5Dclose(d);
        hid_t grp = H5Gopen2(f, g, H5P_DEFAULT);
        int64_t nattr = 0;
        a = H5Aopen(grp, "n", H5P_DEFAULT), H5Aread(a, H5T_NATIVE_INT64, &nattr), H5Aclose(a);
        ck_assert_int_eq(nattr, n);
        H5Gclose(grp);
    }
    H5Fclose(f);
    tmpdir_remove(tmpdir);
}
END_TEST

// dsfile_close publishes the file with its digest file "<file>.sha256": sha256sum's own check
// accepts it, the reader's gate finds it sealed with the same digest, and the reader opens it.
START_TEST(test_dsfile_publishes_a_digest_file_the_gate_and_sha256sum_accept) {
    make_tmpdir();
    char path[128], side[140], err[1024], hex[65];
    path_in(path, sizeof path, "sealed.h5");
    snprintf(side, sizeof side, "%s.sha256", path);
    write_file(path, 64, 1);
    ck_assert(exists(side));
    char out[512];
    ck_assert_int_eq(run_command(out, sizeof out, "cd %s && sha256sum -c sealed.h5.sha256", tmpdir),
                     0);
    ck_assert_msg(strstr(out, "sealed.h5: OK"), "%s", out);
    int64_t bytes = 0;
    ck_assert_int_eq(dataset_gate(path, 0, hex, &bytes, err, sizeof err), DATASET_SEALED);
    char want[128];
    ck_assert_int_eq(run_command(want, sizeof want, "cut -c1-64 %s", side), 0);
    ck_assert_int_eq(strncmp(hex, want, 64), 0);
    long len;
    xfree(slurp(path, &len));
    ck_assert_int_eq(bytes, len);
    Dataset *ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    ck_assert_str_eq(dataset_sha256(ds), hex);
    ck_assert_int_eq(dataset_schema(ds), 2);
    dataset_close(ds);
    tmpdir_remove(tmpdir);
}
END_TEST

// Same spec and rows → same bytes, whether appended in blocks of 1, 37 or all at once, and whether
// train and test blocks are interleaved.
START_TEST(test_dsfile_bytes_do_not_depend_on_append_pattern) {
    make_tmpdir();
    const int64_t blocks[4] = {NTR, 37, 1, 64};
    const int inter[4] = {0, 0, 1, 1};
    unsigned char *ref = NULL;
    long ref_len = 0;
    for (int t = 0; t < 4; t++) {
        char path[128];
        snprintf(path, sizeof path, "%s/det%d.h5", tmpdir, t);
        write_file(path, blocks[t], inter[t]);
        long len;
        unsigned char *b = slurp(path, &len);
        if (!ref) {
            ref = b, ref_len = len;
            continue;
        }
        ck_assert_msg(len == ref_len, "variant %d: %ld bytes vs %ld", t, len, ref_len);
        long first = -1;
        for (long i = 0; i < len && first < 0; i++)
            if (b[i] != ref[i]) first = i;
        ck_assert_msg(first < 0, "variant %d (block %lld, interleave %d) differs at byte %ld", t,
                      (long long)blocks[t], inter[t], first);
        xfree(b);
    }
    xfree(ref);
    tmpdir_remove(tmpdir);
}
END_TEST

START_TEST(test_dsfile_discard_leaves_nothing) {
    make_tmpdir();
    char path[128], tmp[140];
    path_in(path, sizeof path, "gone.h5");
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    DsSpec spec = test_spec();
    Rows tr = make_rows(0, 10);
    DsWriter *w = dsfile_create(path, &spec);
    ck_assert(exists(tmp));
    ck_assert(!exists(path));
    append_block(w, DS_TRAIN, &tr, 0, 10);
    dsfile_discard(w);
    char side[140];
    snprintf(side, sizeof side, "%s.sha256", path);
    ck_assert(!exists(tmp));
    ck_assert(!exists(path));
    ck_assert(!exists(side));
    free_rows(&tr);
    tmpdir_remove(tmpdir);
}
END_TEST

static char incomplete_path[128];
static void close_incomplete(void *arg) {
    (void)arg;
    DsSpec spec = test_spec();
    Rows tr = make_rows(0, NTR);
    DsWriter *w = dsfile_create(incomplete_path, &spec);
    append_block(w, DS_TRAIN, &tr, 0, NTR); // train complete, test empty
    dsfile_close(w);
}

START_TEST(test_dsfile_close_of_incomplete_split_dies_and_leaves_nothing) {
    make_tmpdir();
    path_in(incomplete_path, sizeof incomplete_path, "half.h5");
    expect_die(close_incomplete, NULL, "half.h5", "/test got 0 of its 70 rows");
    char tmp[140], side[140];
    snprintf(tmp, sizeof tmp, "%s.tmp", incomplete_path);
    snprintf(side, sizeof side, "%s.sha256", incomplete_path);
    ck_assert(!exists(incomplete_path));
    ck_assert(!exists(tmp));
    ck_assert(!exists(side));
    tmpdir_remove(tmpdir);
}
END_TEST

static void append_bad_label(void *arg) {
    (void)arg;
    DsSpec spec = test_spec();
    Rows tr = make_rows(0, 5);
    tr.label[3] = 3;
    DsWriter *w = dsfile_create(incomplete_path, &spec);
    append_block(w, DS_TRAIN, &tr, 0, 5);
}
static void append_nan(void *arg) {
    (void)arg;
    DsSpec spec = test_spec();
    Rows tr = make_rows(0, 5);
    tr.wide[2 * WIDE + 9] = 0.0f / 0.0f;
    DsWriter *w = dsfile_create(incomplete_path, &spec);
    append_block(w, DS_TRAIN, &tr, 0, 5);
}
static void append_too_many(void *arg) {
    (void)arg;
    DsSpec spec = test_spec();
    Rows te = make_rows(1, NTE + 1);
    DsWriter *w = dsfile_create(incomplete_path, &spec);
    append_block(w, DS_TEST, &te, 0, NTE + 1);
}
static void append_bad_token(void *arg) {
    (void)arg;
    DsSpec spec = test_spec();
    Rows tr = make_rows(0, 5);
    tr.text[4 * TXT_L + 1] = VOCAB;
    DsWriter *w = dsfile_create(incomplete_path, &spec);
    append_block(w, DS_TRAIN, &tr, 0, 5);
}

// The format's limits (dsfile.h DS_MAX_*) are the writer's too: a spec the reader would refuse dies
// in dsfile_create, naming the file and the value.
static void create_spec(void (*edit)(DsSpec *)) {
    DsSpec spec = test_spec();
    edit(&spec);
    DsWriter *w = dsfile_create(incomplete_path, &spec);
    dsfile_discard(w);
}
static void one_class(DsSpec *s) { s->n_classes = 1; }
static void no_train_rows(DsSpec *s) { s->n[DS_TRAIN] = 0; }
static void long_class_name(DsSpec *s) {
    static char name[DS_MAX_STRING + 2];
    memset(name, 'x', DS_MAX_STRING + 1);
    static const char *names[3];
    names[0] = "a", names[1] = name, names[2] = "c";
    s->class_names = names;
}
static void huge_row(DsSpec *s) { s->modalities[0].dims[0] = s->modalities[0].dims[1] = 1 << 13; }
static void spec_one_class(void *a) { (void)a, create_spec(one_class); }
static void spec_no_train_rows(void *a) { (void)a, create_spec(no_train_rows); }
static void spec_long_class_name(void *a) { (void)a, create_spec(long_class_name); }
static void spec_huge_row(void *a) { (void)a, create_spec(huge_row); }

START_TEST(test_dsfile_create_checks_the_format_limits) {
    make_tmpdir();
    path_in(incomplete_path, sizeof incomplete_path, "limits.h5");
    expect_die(spec_one_class, NULL, "limits.h5", "n_classes = 1, need 2..1024");
    expect_die(spec_no_train_rows, NULL, "limits.h5", "n[train] = 0");
    expect_die(spec_long_class_name, NULL, "limits.h5", "class_names[1] has 4097 bytes");
    expect_die(spec_huge_row, NULL, "limits.h5", "modality image: 67108864 elements per row");
    tmpdir_remove(tmpdir);
}
END_TEST

START_TEST(test_dsfile_append_checks_rows) {
    make_tmpdir();
    path_in(incomplete_path, sizeof incomplete_path, "bad.h5");
    expect_die(append_bad_label, NULL, "bad.h5", "row 3: label 3 outside [0, 3)");
    expect_die(append_nan, NULL, "bad.h5", "/train/visible: row 2 element 9", "not finite");
    expect_die(append_too_many, NULL, "bad.h5", "/test", "exceeds n = 70");
    expect_die(append_bad_token, NULL, "bad.h5", "/train/text: row 4 token 7 outside [0, 7)");
    tmpdir_remove(tmpdir);
}
END_TEST

Suite *dsfile_suite(void) {
    Suite *s = suite_create("dsfile");
    TCase *tc = tcase_create("writer");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_dsfile_round_trip_through_raw_hdf5);
    tcase_add_test(tc, test_dsfile_publishes_a_digest_file_the_gate_and_sha256sum_accept);
    tcase_add_test(tc, test_dsfile_create_checks_the_format_limits);
    tcase_add_test(tc, test_dsfile_bytes_do_not_depend_on_append_pattern);
    tcase_add_test(tc, test_dsfile_discard_leaves_nothing);
    tcase_add_test(tc, test_dsfile_close_of_incomplete_split_dies_and_leaves_nothing);
    tcase_add_test(tc, test_dsfile_append_checks_rows);
    suite_add_tcase(s, tc);
    return s;
}
