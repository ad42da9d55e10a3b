// test_datasets_built.c - the files `make test` builds from Debian's packages (the AV-FashionMNIST
// CI subset and Landsat, in MMC_DATA_DIR) pass the validating reader with the shapes their cards
// promise, open in the HDF5 tools, and carry label information in every modality.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/dataset.h"

static const char *data_dir(void) {
    return getenv("MMC_DATA_DIR") ? getenv("MMC_DATA_DIR") : "data";
}

static Dataset *open_built(const char *name, char *path, size_t cap) {
    char err[1024];
    snprintf(path, cap, "%s/%s", data_dir(), name);
    Dataset *ds = dataset_open(path, err, sizeof err); // the full scan: NaN, ranges, tokens
    ck_assert_msg(ds != NULL, "%s", err);
    return ds;
}

START_TEST(test_avfmnist_ci_subset_has_the_promised_layout) {
    char path[512], cmd[1024];
    Dataset *ds = open_built("avfmnist_ci.h5", path, sizeof path);
    ck_assert_int_eq(dataset_n(ds, DS_TRAIN), 2000);
    ck_assert_int_eq(dataset_n(ds, DS_TEST), 500);
    ck_assert_int_eq(dataset_n_classes(ds), 10);
    ck_assert_str_eq(dataset_class_name(ds, 0), "T-shirt/top");
    int img = dataset_modality_index(ds, "image"), aud = dataset_modality_index(ds, "audio"),
        txt = dataset_modality_index(ds, "text");
    ck_assert(img >= 0 && aud >= 0 && txt >= 0);
    const DatasetModality *a = dataset_modality(ds, aud), *i = dataset_modality(ds, img);
    ck_assert(i->dtype == DS_U8 && i->dims[0] == 28 && i->dims[1] == 28);
    ck_assert(a->ndims == 2 && a->dims[0] == 98 && a->dims[1] == 40);
    ck_assert(dataset_vocab_size(ds) > 10);
    ck_assert_int_ge(dataset_meta_index(ds, "accent"), 0);
    dataset_close(ds);
    snprintf(cmd, sizeof cmd, "h5dump -H %s | grep -q 'DATASET \"audio\"'", path);
    ck_assert_int_eq(system(cmd), 0);
}
END_TEST

START_TEST(test_landsat_has_two_views_of_the_original_split) {
    char path[512];
    Dataset *ds = open_built("landsat.h5", path, sizeof path);
    ck_assert_int_eq(dataset_n(ds, DS_TRAIN), 4435);
    ck_assert_int_eq(dataset_n(ds, DS_TEST), 2000);
    ck_assert_int_eq(dataset_n_classes(ds), 6);
    ck_assert_int_ge(dataset_modality_index(ds, "visible"), 0);
    ck_assert_int_ge(dataset_modality_index(ds, "nir"), 0);
    dataset_close(ds);
}
END_TEST

// calibrate on the CI subset: every modality well above chance (0.1), and fusion within a few points
// of the best single modality (with 2,000 training rows the fused model overfits a little; on the
// 10,000-row subset `make calibrate` shows fusion ahead by ~7 points).
START_TEST(test_every_avfmnist_modality_carries_label_information) {
    const char *bin = getenv("MMC_BIN_DIR") ? getenv("MMC_BIN_DIR") : "build/bin";
    char cmd[1024], out[8192] = "";
    snprintf(cmd, sizeof cmd, "%s/calibrate --data=%s/avfmnist_ci.h5 --epochs=5 2>&1", bin,
             data_dir());
    FILE *p = popen(cmd, "r");
    ck_assert_ptr_nonnull(p);
    size_t len = fread(out, 1, sizeof out - 1, p);
    out[len] = 0;
    ck_assert_int_eq(pclose(p), 0);
    const char *mods[] = {"image", "audio", "text", "fused"};
    double acc[4];
    for (int m = 0; m < 4; m++) {
        char key[64];
        snprintf(key, sizeof key, "modalities=%s test_acc=", mods[m]);
        const char *at = strstr(out, key);
        ck_assert_msg(at, "no %s line:\n%.1500s", mods[m], out);
        acc[m] = atof(at + strlen(key));
        ck_assert_msg(acc[m] > 0.25, "%s alone: %.3f (chance 0.1)", mods[m], acc[m]);
    }
    double best = acc[0] > acc[1] ? acc[0] : acc[1];
    best = best > acc[2] ? best : acc[2];
    ck_assert_msg(acc[3] >= best - 0.05,
                  "fused %.3f below a single modality (%.3f %.3f %.3f)", acc[3], acc[0], acc[1],
                  acc[2]);
}
END_TEST

Suite *datasets_built_suite(void) {
    Suite *s = suite_create("datasets_built");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_avfmnist_ci_subset_has_the_promised_layout);
    tcase_add_test(tc, test_landsat_has_two_views_of_the_original_split);
    tcase_add_test(tc, test_every_avfmnist_modality_carries_label_information);
    suite_add_tcase(s, tc);
    return s;
}
