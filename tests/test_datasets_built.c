// test_datasets_built.c - the files `make test` builds from Debian's packages (the AV-FashionMNIST
// CI subset and Landsat, in MMC_DATA_DIR) pass the validating reader with the shapes their cards
// promise and open in the HDF5 tools (test_calibrate.c checks what their modalities tell).
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "data/holdout.h"
#include "models/party_model.h"
#include "train/samples.h"

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

// The text encoder reads a row's words, not its padding: AV-FashionMNIST pads its texts with
// "<pad>" (id 0), which the batches must carry as the models' padding (-1). A row of the file
// (L = 8, with pads) and the same words with 8 more pad slots (L = 16) give the same logits bit
// for bit; counting the pads as words would average them in and change them.
START_TEST(test_avfmnist_text_embedding_ignores_padding) {
    char path[512];
    Dataset *ds = open_built("avfmnist_ci.h5", path, sizeof path);
    int txt = dataset_modality_index(ds, "text");
    ck_assert_int_eq(dataset_pad_id(ds), 0);
    ck_assert_str_eq(dataset_vocab_word(ds, 0), DATASET_PAD_WORD);
    int64_t L = dataset_modality(ds, txt)->row_elems, n = 64;
    ck_assert_int_eq(L, 8);
    int32_t *rows = xmalloc((size_t)(n * L) * sizeof *rows);
    dataset_read_raw(ds, DS_TRAIN, txt, 0, n, rows);
    int64_t r = -1; // a row with at least one pad slot
    for (int64_t i = 0; i < n && r < 0; i++)
        if (rows[i * L + L - 1] == 0) r = i;
    ck_assert_msg(r >= 0, "no padded text among the first %lld rows", (long long)n);

    SampleLayout l8 = {.n_mod = 1, .dtype = {DS_I32}, .row_elems = {8}, .has_pad = {1}};
    SampleLayout l16 = l8;
    l16.row_elems[0] = 16;
    int32_t raw8[8], raw16[16];
    memcpy(raw8, rows + r * L, sizeof raw8);
    for (int e = 0; e < 16; e++)
        raw16[e] = e < 8 ? raw8[e] : 0;
    int32_t label = 0;
    uint8_t mask = 1;
    SampleSet s8 = {.n = 1, .label = &label, .mask = &mask, .raw = {raw8}};
    SampleSet s16 = {.n = 1, .label = &label, .mask = &mask, .raw = {raw16}};
    Batch b8, b16;
    batch_init(&b8, &l8, 1);
    batch_init(&b16, &l16, 1);
    sampleset_batch(&s8, &l8, NULL, 0, 1, &b8);
    sampleset_batch(&s16, &l16, NULL, 0, 1, &b16);
    for (int e = 0; e < 16; e++) // the batch carries -1 where the file has <pad>
        ck_assert_int_eq(b16.tokens[0][e], e < 8 && raw8[e] != 0 ? raw8[e] : -1);

    float logits[2][10];
    for (int k = 0; k < 2; k++) {
        PmConfig pc = {.n_mod = 1,
                       .kind = {MODEL_TOKENS},
                       .in_dim = {k ? 16 : 8},
                       .vocab = {dataset_vocab_size(ds)},
                       .D = 16,
                       .K = 10};
        PartyModel pm;
        PmWork w;
        pm_init(&pm, &pc);
        pm_work_init(&w, &pm, 1);
        float *params = xcalloc_aligned(pm.n_params * sizeof(float));
        Rng rng;
        rng_init(&rng, 5, 0, 0, RNG_TEST);
        pm_init_params(&pm, params, &rng);
        pm_forward(&pm, params, k ? &b16.in : &b8.in, &w);
        memcpy(logits[k], w.logits, sizeof logits[k]);
        pm_work_free(&w);
        xfree(params);
    }
    ck_assert_mem_eq(logits[0], logits[1], sizeof logits[0]);
    batch_free(&b8), batch_free(&b16);
    xfree(rows);
    dataset_close(ds);
}
END_TEST

// The public carve (--public-fraction) takes about its share of the non-validation entities, keeps
// validation exactly as it was, and train, validation and public tile the train split.
START_TEST(test_holdout_carves_public_after_validation) {
    char path[512];
    Dataset *ds = open_built("avfmnist_ci.h5", path, sizeof path);
    const HoldoutFractions F = {0.1, 0.2}, F0 = {0.1, 0};
    int64_t N = dataset_n(ds, DS_TRAIN), *tr, *va, *pu, *va0;
    int64_t nt = holdout_rows(ds, HOLDOUT_TRAIN, F, 0, &tr);
    int64_t nv = holdout_rows(ds, HOLDOUT_VALIDATION, F, 0, &va);
    int64_t np = holdout_rows(ds, HOLDOUT_PUBLIC, F, 0, &pu);
    ck_assert_int_eq(holdout_rows(ds, HOLDOUT_VALIDATION, F0, 0, &va0), nv);
    ck_assert_mem_eq(va, va0, (size_t)nv * sizeof *va);
    ck_assert_int_eq(nt + nv + np, N);
    ck_assert_msg(np > 0.15 * (N - nv) && np < 0.25 * (N - nv), "%lld public of %lld",
                  (long long)np, (long long)(N - nv));
    uint8_t *seen = calloc((size_t)N, 1);
    for (int64_t i = 0; i < nt; i++)
        seen[tr[i]]++;
    for (int64_t i = 0; i < nv; i++)
        seen[va[i]]++;
    for (int64_t i = 0; i < np; i++)
        seen[pu[i]]++;
    for (int64_t i = 0; i < N; i++)
        ck_assert_int_eq(seen[i], 1);
    free(seen);
    xfree(tr), xfree(va), xfree(pu), xfree(va0);
    dataset_close(ds);
}
END_TEST

// The validation carve-out: train and validation partition the train split, whole entities
// only, about the asked share, the same rows for any cap (a prefix) and every call; test is the
// test split.
START_TEST(test_holdout_carves_validation_from_train) {
    char path[512];
    Dataset *ds = open_built("avfmnist_ci.h5", path, sizeof path);
    const HoldoutFractions F = {0.1, 0};
    int64_t N = dataset_n(ds, DS_TRAIN), *tr, *va, *te, *va2, *cap;
    int64_t nt = holdout_rows(ds, HOLDOUT_TRAIN, F, 0, &tr);
    int64_t nv = holdout_rows(ds, HOLDOUT_VALIDATION, F, 0, &va);
    ck_assert_int_eq(holdout_rows(ds, HOLDOUT_TEST, F, 0, &te), dataset_n(ds, DS_TEST));
    ck_assert_int_eq(nt + nv, N);
    ck_assert_msg(nv > 0.07 * N && nv < 0.13 * N, "%lld of %lld rows carved", (long long)nv,
                  (long long)N);
    int64_t *entity = malloc((size_t)N * sizeof *entity);
    dataset_read_entities(ds, DS_TRAIN, 0, N, entity);
    uint8_t *role = calloc((size_t)N, 1);
    for (int64_t i = 0; i < nv; i++) {
        ck_assert(i == 0 || va[i] > va[i - 1]);
        role[va[i]] = 1;
        ck_assert(holdout_is_validation(entity[va[i]], 0.1));
    }
    for (int64_t i = 0; i < nt; i++) {
        ck_assert(i == 0 || tr[i] > tr[i - 1]);
        ck_assert_int_eq(role[tr[i]], 0);
        ck_assert(!holdout_is_validation(entity[tr[i]], 0.1));
    }
    ck_assert_int_eq(holdout_rows(ds, HOLDOUT_VALIDATION, F, 0, &va2), nv);
    ck_assert_mem_eq(va, va2, (size_t)nv * sizeof *va);
    ck_assert_int_eq(holdout_rows(ds, HOLDOUT_VALIDATION, F, 50, &cap), 50);
    ck_assert_mem_eq(va, cap, 50 * sizeof *va);
    int64_t *none;
    ck_assert_int_eq(holdout_rows(ds, HOLDOUT_VALIDATION, (HoldoutFractions){0, 0}, 0, &none), 0);
    xfree(none), xfree(cap), xfree(va2), xfree(te), xfree(va), xfree(tr);
    free(role), free(entity);
    dataset_close(ds);
}
END_TEST

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
    tcase_add_test(tc, test_avfmnist_text_embedding_ignores_padding);
    tcase_add_test(tc, test_holdout_carves_validation_from_train);
    tcase_add_test(tc, test_holdout_carves_public_after_validation);
    tcase_add_test(tc, test_landsat_has_two_views_of_the_original_split);
    suite_add_tcase(s, tc);
    return s;
}
