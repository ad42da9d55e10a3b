// test_datasets_built.c - the files `make test` builds from Debian's packages (the AV-FashionMNIST
// CI subset and Landsat, in MMC_DATA_DIR) pass the validating reader with the shapes their cards
// promise and open in the HDF5 tools (test_calibrate.c checks what their modalities tell).
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
    // h5py (Debian's python3-h5py, for /usr/bin/python3) reads it too.
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import h5py; f = h5py.File('%s', 'r'); "
             "assert f['train/audio'].shape == (2000, 98, 40); "
             "assert f['test/image'].shape == (500, 28, 28)\"",
             path);
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

Suite *datasets_built_suite(void) {
    Suite *s = suite_create("datasets_built");
    TCase *tc = tcase_create("files");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_avfmnist_ci_subset_has_the_promised_layout);
    tcase_add_test(tc, test_landsat_has_two_views_of_the_original_split);
    suite_add_tcase(s, tc);
    return s;
}
