// test_landsat.c - the Landsat builder: the file read back through dataset.h (classes, sizes, both
// views, the first row against mlbench's values), byte-identical rebuilds, and CSV errors that name
// the file and line. Needs Rscript + r-cran-mlbench (scripts/deps.sh data).
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/landsat.h"
#include "helpers.h"
#include "tmpdir.h"

static int same_bytes(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    ck_assert(fa && fb);
    int ca, cb, same = 1;
    do {
        ca = fgetc(fa), cb = fgetc(fb);
        if (ca != cb) same = 0;
    } while (same && ca != EOF);
    fclose(fa), fclose(fb);
    return same;
}

START_TEST(test_landsat_builds_reads_back_and_is_deterministic) {
    char dir[64], csv[96], out1[96], out2[96], version[64], err[512];
    tmpdir_make(dir, sizeof dir, "test_landsat");
    snprintf(csv, sizeof csv, "%s/sat.csv", dir);
    snprintf(out1, sizeof out1, "%s/a.h5", dir);
    snprintf(out2, sizeof out2, "%s/b.h5", dir);
    ck_assert_msg(
        landsat_export_csv(csv, version, sizeof version) == 0,
        "Rscript/mlbench missing: scripts/deps.sh data installs r-base-core r-cran-mlbench");
    ck_assert_msg(!strncmp(version, "2.", 2), "mlbench version '%s'", version);
    LandsatData d;
    landsat_read_csv(&d, csv);
    snprintf(d.version, sizeof d.version, "%s", version);
    ck_assert_int_gt(landsat_write(&d, out1), 0);
    ck_assert_int_gt(landsat_write(&d, out2), 0);
    ck_assert_msg(same_bytes(out1, out2), "two builds differ");
    landsat_free(&d);

    Dataset *ds = dataset_open(out1, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    ck_assert_str_eq(dataset_name(ds), "landsat");
    ck_assert_int_eq(dataset_n_classes(ds), 6);
    ck_assert_str_eq(dataset_class_name(ds, 5), "very damp grey soil");
    ck_assert_int_eq(dataset_n(ds, DS_TRAIN), 4435);
    ck_assert_int_eq(dataset_n(ds, DS_TEST), 2000);
    ck_assert_int_eq(dataset_n_modalities(ds), 2);
    const char *names[2] = {"visible", "nir"};
    for (int m = 0; m < 2; m++) {
        const DatasetModality *dm = dataset_modality(ds, m);
        ck_assert_str_eq(dm->name, names[m]);
        ck_assert(dm->dtype == DS_U8 && dm->ndims == 2 && dm->dims[0] == 9 && dm->dims[1] == 2);
    }
    // UCI sat.trn class counts (the original split: first 4435 rows)
    const int64_t want[6] = {1072, 479, 961, 415, 470, 1038};
    int32_t *label = xmalloc(4435 * sizeof *label);
    dataset_read_labels(ds, DS_TRAIN, 0, 4435, label);
    int64_t got[6] = {0};
    for (int i = 0; i < 4435; i++)
        got[label[i]]++;
    for (int c = 0; c < 6; c++)
        ck_assert_int_eq(got[c], want[c]);
    free(label);
    // row 1 of data(Satellite): x.1..x.8 = 92 115 120 94 | 84 102 106 79 (pixel 0, pixel 1)
    uint8_t vis[18], nir[18];
    dataset_read_raw(ds, DS_TRAIN, 0, 0, 1, vis);
    dataset_read_raw(ds, DS_TRAIN, 1, 0, 1, nir);
    const uint8_t vis0[4] = {92, 115, 84, 102}, nir0[4] = {120, 94, 106, 79};
    ck_assert_mem_eq(vis, vis0, 4);
    ck_assert_mem_eq(nir, nir0, 4);
    // entities: the mlbench row number, test rows follow train rows
    int64_t e[2];
    dataset_read_entities(ds, DS_TEST, 0, 1, e);
    ck_assert_int_eq(e[0], 4435);
    dataset_read_entities(ds, DS_TEST, 1999, 1, e + 1);
    ck_assert_int_eq(e[1], 6434);
    dataset_close(ds);
    tmpdir_remove(dir);
}
END_TEST

typedef struct {
    const char *path;
} CsvArg;

static void read_bad(void *arg) {
    LandsatData d;
    landsat_read_csv(&d, ((CsvArg *)arg)->path);
}

START_TEST(test_landsat_csv_errors_name_file_and_line) {
    char dir[64], bad[96], cls[96], missing[96];
    tmpdir_make(dir, sizeof dir, "test_landsat");
    snprintf(bad, sizeof bad, "%s/short.csv", dir);
    snprintf(cls, sizeof cls, "%s/class.csv", dir);
    snprintf(missing, sizeof missing, "%s/none.csv", dir);
    FILE *f = fopen(bad, "w"), *g = fopen(cls, "w");
    ck_assert(f && g);
    fprintf(f, "\"x.1\",\"x.2\"\n1,2,3\n");
    fprintf(g, "\"x.1\"\n");
    for (int j = 0; j < 36; j++)
        fprintf(g, "7,");
    fprintf(g, "\"sea\"\n");
    fclose(f), fclose(g);
    CsvArg a = {bad}, b = {cls}, c = {missing};
    expect_die(read_bad, &a, "short.csv:2", "column 3");
    expect_die(read_bad, &b, "class.csv:2", "unknown class \"sea\"");
    expect_die(read_bad, &c, "cannot open", "none.csv");
    tmpdir_remove(dir);
}
END_TEST

Suite *landsat_suite(void) {
    Suite *s = suite_create("landsat");
    TCase *tc = tcase_create("core");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_landsat_builds_reads_back_and_is_deterministic);
    tcase_add_test(tc, test_landsat_csv_errors_name_file_and_line);
    suite_add_tcase(s, tc);
    return s;
}
