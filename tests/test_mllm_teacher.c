// test_mllm_teacher.c - CD-CCA's teacher file (base_model --size=tiny-teacher, models/mllm_file.h),
// on the tiny teacher the Makefile builds (MMC_DATA_DIR/base/mllm_tiny-teacher.h5) from the tiny
// student (MMC_DATA_DIR/base/mllm_tiny.h5), both read back with the HDF5 API:
//   - its tokenizer bytes and every encoder tensor (stage "encoders" and, frozen, stage "final")
//     equal the student's bit for bit; its encoder config equals the student's;
//   - its LM is wider and deeper than the student's, with the same vocabulary and context;
//   - role "teacher" and student_sha256 = the student file's SHA-256; the student has no role;
//   - mllm_file_check_teacher accepts the pair and refuses, naming both files: the student as its
//     own teacher, a student with one weight byte changed, a teacher whose tokenizer or encoder
//     config was changed;
//   - --model=mllm loads the teacher as a base model;
//   - base_model refuses a teacher size without --student, and --student with a student size.
#include <check.h>
#include <hdf5.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/sha256.h"
#include "core/xalloc.h"
#include "helpers.h"
#include "models/mllm_file.h"
#include "train/mllm_open.h"

static char teacher[PATH_MAX], student[PATH_MAX], data[PATH_MAX], work[PATH_MAX];

static void setup(void) {
    const char *dir = getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
    snprintf(teacher, sizeof teacher, "%s/base/mllm_tiny-teacher.h5", dir);
    snprintf(student, sizeof student, "%s/base/mllm_tiny.h5", dir);
    snprintf(data, sizeof data, "%s/avfmnist_ci.h5", dir);
    snprintf(work, sizeof work, "/tmp/mmc_teacher.XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(work));
}

static void teardown(void) { run_command(NULL, 0, "rm -rf %s", work); }

static void read_config(const char *path, MllmConfig *c) {
    char err[1024];
    memset(c, 0, sizeof *c);
    ck_assert_msg(mllm_file_read_config(path, c, err, sizeof err) == 0, "%s", err);
}

// Dataset name of path into a new buffer of *n bytes (its storage size), or fails the test.
static void *read_raw(const char *path, const char *name, size_t *n) {
    hid_t f = H5Fopen(path, H5F_ACC_RDONLY, H5P_DEFAULT);
    ck_assert_msg(f >= 0, "%s: cannot open", path);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT);
    ck_assert_msg(d >= 0, "%s: no %s", path, name);
    hid_t t = H5Dget_type(d), sp = H5Dget_space(d);
    *n = (size_t)H5Sget_simple_extent_npoints(sp) * H5Tget_size(t);
    void *buf = xmalloc(*n + 1);
    ck_assert(H5Dread(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Tclose(t), H5Sclose(sp), H5Dclose(d), H5Fclose(f);
    return buf;
}

static void assert_same_dataset(const char *a, const char *na, const char *b, const char *nb) {
    size_t n1, n2;
    void *x = read_raw(a, na, &n1), *y = read_raw(b, nb, &n2);
    ck_assert_msg(n1 == n2 && !memcmp(x, y, n1), "%s:%s differs from %s:%s", a, na, b, nb);
    xfree(x), xfree(y);
}

START_TEST(test_teacher_has_the_students_tokenizer_and_encoders_bit_exact) {
    assert_same_dataset(teacher, "tokenizer", student, "tokenizer");
    MllmConfig sc, tc;
    read_config(student, &sc), read_config(teacher, &tc);
    ck_assert_int_eq(tc.n_enc, sc.n_enc);
    for (int e = 0; e < sc.n_enc; e++) {
        ck_assert_str_eq(tc.enc[e].name, sc.enc[e].name);
        ck_assert_int_eq(memcmp(&tc.enc[e].vit, &sc.enc[e].vit, sizeof sc.enc[e].vit), 0);
        ck_assert_int_eq(tc.enc[e].sh, sc.enc[e].sh);
        ck_assert_int_eq(tc.enc[e].sw, sc.enc[e].sw);
    }
    // every encoder tensor of the student's model, by the model's own names
    Mllm mm;
    sc.lm.r = 1, sc.lm.alpha = 1; // a base file has no adapter; the model needs a rank
    mllm_init(&mm, &sc);
    Model layout;
    memset(&layout, 0, sizeof layout);
    mllm_add_tensors(&mm, &layout, 1);
    int n_enc_tensors = 0;
    for (int t = 0; t < layout.n_tensors; t++) {
        const char *name = layout.tensor[t].name;
        if (strncmp(name, "enc_", 4)) continue;
        char s_name[300], t_enc[300], t_final[300];
        snprintf(s_name, sizeof s_name, "weights/encoders/%s", name);
        snprintf(t_enc, sizeof t_enc, "weights/encoders/%s", name);
        snprintf(t_final, sizeof t_final, "weights/final/%s", name);
        assert_same_dataset(teacher, t_enc, student, s_name);
        assert_same_dataset(teacher, t_final, student, s_name); // frozen through stages 3 and 4'
        n_enc_tensors++;
    }
    ck_assert_int_gt(n_enc_tensors, 4);
    model_free(&layout);
}
END_TEST

START_TEST(test_teacher_lm_is_wider_and_deeper_with_the_same_vocabulary_and_context) {
    MllmConfig sc, tc;
    read_config(student, &sc), read_config(teacher, &tc);
    ck_assert_int_gt(tc.lm.D, sc.lm.D);
    ck_assert_int_gt(tc.lm.L, sc.lm.L);
    ck_assert_int_gt(tc.lm.F, sc.lm.F);
    ck_assert_int_eq(tc.lm.V, sc.lm.V);
    ck_assert_int_eq(tc.lm.Tmax, sc.lm.Tmax);
    ck_assert_int_eq(tc.lm.tied, sc.lm.tied);
    // the projectors map the same encoder tokens to the teacher's width
    size_t n;
    char name[128];
    snprintf(name, sizeof name, "weights/final/proj_%s/p2/w", sc.enc[0].name);
    float *w = read_raw(teacher, name, &n);
    xfree(w);
    hid_t f = H5Fopen(teacher, H5F_ACC_RDONLY, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), sp = H5Dget_space(d);
    hsize_t dims[4];
    int nd = H5Sget_simple_extent_dims(sp, dims, NULL);
    ck_assert_int_eq(nd, 2);
    ck_assert_msg(dims[0] == (hsize_t)tc.lm.D || dims[1] == (hsize_t)tc.lm.D,
                  "%s is %llux%llu, the teacher's width is %d", name, (unsigned long long)dims[0],
                  (unsigned long long)dims[1], tc.lm.D);
    H5Sclose(sp), H5Dclose(d), H5Fclose(f);
}
END_TEST

START_TEST(test_teacher_records_its_role_the_students_digest_and_its_figures) {
    char role[64], want[SHA256_HEX_LEN + 1], have[SHA256_HEX_LEN + 1];
    ck_assert_int_eq(mllm_file_attr_str(teacher, "role", role, sizeof role), 0);
    ck_assert_str_eq(role, "teacher");
    ck_assert_int_eq(mllm_file_attr_str(teacher, "student_sha256", want, sizeof want), 0);
    ck_assert_int_eq(sha256_file_hex(student, have), 0);
    ck_assert_str_eq(want, have);
    ck_assert_int_eq(mllm_file_attr_str(student, "role", role, sizeof role), -1);
    ck_assert_str_eq(role, "");
    // the carve-outs as the student's, and the figures in range
    ck_assert(mllm_file_attr_f64(teacher, "val_fraction") ==
              mllm_file_attr_f64(student, "val_fraction"));
    ck_assert(mllm_file_attr_f64(teacher, "public_fraction") ==
              mllm_file_attr_f64(student, "public_fraction"));
    double acc = mllm_file_attr_f64(teacher, "items_val_acc");
    ck_assert_msg(acc >= 0 && acc <= 1, "items_val_acc %g", acc);
    ck_assert(mllm_file_attr_f64(teacher, "caption_val_perplexity") > 1);
    static const char *const secs[] = {"seconds_text", "seconds_encoders", "seconds_align",
                                       "seconds_tune", "seconds_total"};
    for (int i = 0; i < 5; i++)
        ck_assert_msg(mllm_file_attr_f64(teacher, secs[i]) >= 0, "%s", secs[i]);
}
END_TEST

// A copy of src at work/name; returns its path in out.
static void copy_file(const char *src, const char *name, char *out, size_t cap) {
    snprintf(out, cap, "%s/%s", work, name);
    ck_assert_int_eq(run_command(NULL, 0, "cp %s %s", src, out), 0);
}

// Flips one byte of dataset name of path in place.
static void flip_byte(const char *path, const char *name) {
    size_t n;
    uint8_t *buf = read_raw(path, name, &n);
    buf[n / 2] ^= 0x01;
    hid_t f = H5Fopen(path, H5F_ACC_RDWR, H5P_DEFAULT);
    hid_t d = H5Dopen2(f, name, H5P_DEFAULT), t = H5Dget_type(d);
    ck_assert(H5Dwrite(d, t, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) >= 0);
    H5Tclose(t), H5Dclose(d), H5Fclose(f);
    xfree(buf);
}

static void assert_refused(const char *t, const char *s, const char *what) {
    char err[2048] = "";
    ck_assert_msg(mllm_file_check_teacher(t, s, err, sizeof err) == -1, "%s accepted for %s", t, s);
    ck_assert_msg(strstr(err, t) && strstr(err, s) && strstr(err, what),
                  "message '%s' should name %s, %s and '%s'", err, t, s, what);
}

START_TEST(test_check_teacher_accepts_the_pair_and_refuses_others_naming_the_files) {
    char err[2048] = "";
    ck_assert_msg(mllm_file_check_teacher(teacher, student, err, sizeof err) == 0, "%s", err);
    assert_refused(student, student, "not a teacher");
    // another student: the same file with one byte of a weight changed
    char other[PATH_MAX + 64];
    copy_file(student, "other_student.h5", other, sizeof other);
    flip_byte(other, "weights/final/lm/norm");
    assert_refused(teacher, other, "another student");
    // a teacher whose tokenizer changed (its student's digest still right)
    char bad_tok[PATH_MAX + 64];
    copy_file(teacher, "bad_tok.h5", bad_tok, sizeof bad_tok);
    flip_byte(bad_tok, "tokenizer");
    assert_refused(bad_tok, student, "tokenizer");
    // a teacher whose encoder config changed
    char bad_enc[PATH_MAX + 64];
    copy_file(teacher, "bad_enc.h5", bad_enc, sizeof bad_enc);
    MllmConfig tc;
    read_config(teacher, &tc);
    tc.enc[0].vit.D += 2;
    char text[4096];
    ck_assert_int_eq(mllm_config_text(&tc, text, sizeof text), 0);
    hid_t f = H5Fopen(bad_enc, H5F_ACC_RDWR, H5P_DEFAULT);
    ck_assert(H5Adelete(f, "config") >= 0);
    hid_t ty = H5Tcopy(H5T_C_S1), sp = H5Screate(H5S_SCALAR);
    H5Tset_size(ty, strlen(text) + 1);
    hid_t a = H5Acreate2(f, "config", ty, sp, H5P_DEFAULT, H5P_DEFAULT);
    ck_assert(H5Awrite(a, ty, text) >= 0);
    H5Aclose(a), H5Sclose(sp), H5Tclose(ty), H5Fclose(f);
    assert_refused(bad_enc, student, "encoder config");
    // a missing file
    char missing[PATH_MAX + 64];
    snprintf(missing, sizeof missing, "%s/none.h5", work);
    assert_refused(missing, student, "no such");
}
END_TEST

START_TEST(test_model_mllm_loads_the_teacher_as_a_base_model) {
    MllmOpened t, s;
    mllm_open(&t, teacher, data, 0, 0, 0.0);
    mllm_open(&s, student, data, 0, 0, 0.0);
    ck_assert_uint_gt(t.m.n_params, s.m.n_params);
    ck_assert_int_eq(t.m.K, s.m.K);
    mllm_open_free(&t), mllm_open_free(&s);
}
END_TEST

START_TEST(test_base_model_refuses_a_teacher_without_student_and_student_with_one) {
    char out[4096];
    int rc = run_command(out, sizeof out,
                         "%s/base_model --size=tiny-teacher --data=%s --out=%s/t.h5 2>&1",
                         mmc_bin(), data, work);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "--student") && strstr(out, "tiny-teacher"), "%s", out);
    rc = run_command(out, sizeof out,
                     "%s/base_model --size=tiny --student=%s --data=%s --out=%s/t.h5 2>&1",
                     mmc_bin(), student, data, work);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, "--student") && strstr(out, student), "%s", out);
    rc = run_command(out, sizeof out,
                     "%s/base_model --size=tiny-teacher --student=%s --data=%s --out=%s/t.h5 2>&1",
                     mmc_bin(), teacher, data, work);
    ck_assert_int_ne(rc, 0);
    ck_assert_msg(strstr(out, teacher) && strstr(out, "teacher file"), "%s", out);
}
END_TEST

Suite *mllm_teacher_suite(void) {
    Suite *s = suite_create("mllm_teacher");
    TCase *tc = tcase_create("mllm_teacher");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_teacher_has_the_students_tokenizer_and_encoders_bit_exact);
    tcase_add_test(tc, test_teacher_lm_is_wider_and_deeper_with_the_same_vocabulary_and_context);
    tcase_add_test(tc, test_teacher_records_its_role_the_students_digest_and_its_figures);
    tcase_add_test(tc, test_check_teacher_accepts_the_pair_and_refuses_others_naming_the_files);
    tcase_add_test(tc, test_model_mllm_loads_the_teacher_as_a_base_model);
    tcase_add_test(tc, test_base_model_refuses_a_teacher_without_student_and_student_with_one);
    suite_add_tcase(s, tc);
    return s;
}
