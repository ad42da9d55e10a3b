// test_samples.c - train/samples.h's loaders on a real file: sampleset_load_parties (one read over
// the union of many parties' rows, one allocation) gives each party exactly what sampleset_load
// gives it alone, and lays the parties out one after the other.
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/xalloc.h"
#include "data/dataset.h"
#include "helpers.h"
#include "train/samples.h"

#define SETS 7

static size_t row_bytes(const SampleLayout *l, int m) {
    return (size_t)l->row_elems[m] * (l->dtype[m] == DS_U8 ? 1 : 4);
}

// AV-FashionMNIST's CI file (its three dtypes), and its layout into l. dataset_close it.
static Dataset *open_ci(SampleLayout *l) {
    char path[512], err[1024];
    mmc_data_path(path, "avfmnist_ci.h5");
    Dataset *ds = dataset_open(path, err, sizeof err);
    ck_assert_msg(ds != NULL, "%s", err);
    samples_layout(l, ds);
    return ds;
}

// Parties as a scenario leaves them: scattered rows, ascending within a party, some parties empty,
// one holding a single row, the last every other row of the split's tail; masks of every kind.
START_TEST(test_load_parties_matches_each_party_loaded_alone) {
    SampleLayout l;
    Dataset *ds = open_ci(&l);
    ck_assert_int_ge(l.n_mod, 3);
    const int64_t N = dataset_n(ds, DS_TRAIN);
    int64_t n[SETS] = {40, 0, 1, 17, 0, 33, 60};
    int64_t *idx[SETS];
    uint8_t *mask[SETS];
    Rng rng;
    rng_init(&rng, 5, 0, 0, RNG_TEST);
    for (int j = 0; j < SETS; j++) {
        idx[j] = xmalloc((size_t)(n[j] + 1) * sizeof *idx[j]);
        mask[j] = xmalloc((size_t)n[j] + 1);
        int64_t at = j == SETS - 1 ? N - 2 * n[j] : (int64_t)rng_below(&rng, (uint32_t)(N / 4));
        for (int64_t i = 0; i < n[j]; i++) {
            at += j == SETS - 1 ? 2 : 1 + (int64_t)rng_below(&rng, 9);
            idx[j][i] = at < N ? at : N - 1;
            mask[j][i] = (uint8_t)(1 + rng_below(&rng, 7)); // 1..7: any non-empty subset
        }
    }
    SampleSet many[SETS];
    void *pool = sampleset_load_parties(many, SETS, &l, ds, DS_TRAIN, (const int64_t *const *)idx,
                                        (const uint8_t *const *)mask, n);
    ck_assert_ptr_nonnull(pool);
    for (int j = 0; j < SETS; j++) {
        SampleSet one;
        sampleset_load(&one, &l, ds, DS_TRAIN, idx[j], mask[j], n[j]);
        ck_assert_int_eq(many[j].n, n[j]);
        if (n[j] > 0) {
            ck_assert_mem_eq(many[j].label, one.label, (size_t)n[j] * sizeof *one.label);
            ck_assert_mem_eq(many[j].mask, one.mask, (size_t)n[j]);
            for (int m = 0; m < l.n_mod; m++)
                ck_assert_msg(!memcmp(many[j].raw[m], one.raw[m], (size_t)n[j] * row_bytes(&l, m)),
                              "set %d, modality %d: rows differ from sampleset_load's", j, m);
        }
        if (j > 0) { // one allocation: each party's rows follow the previous party's
            ck_assert_ptr_eq(many[j].label, many[j - 1].label + n[j - 1]);
            ck_assert_ptr_eq(many[j].mask, many[j - 1].mask + n[j - 1]);
            for (int m = 0; m < l.n_mod; m++)
                ck_assert_ptr_eq((char *)many[j].raw[m],
                                 (char *)many[j - 1].raw[m] + (size_t)n[j - 1] * row_bytes(&l, m));
        }
        sampleset_free(&one);
    }
    ck_assert_ptr_eq(many[0].label, pool);
    // Batches read the shared arrays as they read a set of their own.
    Batch a, b;
    batch_init(&a, &l, 8), batch_init(&b, &l, 8);
    SampleSet one;
    sampleset_load(&one, &l, ds, DS_TRAIN, idx[5], mask[5], n[5]);
    sampleset_batch(&many[5], &l, NULL, 3, 8, &a);
    sampleset_batch(&one, &l, NULL, 3, 8, &b);
    ck_assert_mem_eq(a.mask, b.mask, (size_t)8 * l.n_mod);
    ck_assert_mem_eq(a.label, b.label, 8 * sizeof(int));
    for (int m = 0; m < l.n_mod; m++) {
        size_t E = (size_t)l.row_elems[m] * 8;
        if (a.dense[m]) ck_assert_mem_eq(a.dense[m], b.dense[m], E * sizeof(float));
        if (a.tokens[m]) ck_assert_mem_eq(a.tokens[m], b.tokens[m], E * sizeof(int));
    }
    batch_free(&a), batch_free(&b), sampleset_free(&one);
    xfree(pool);
    for (int j = 0; j < SETS; j++)
        xfree(idx[j]), xfree(mask[j]);
    dataset_close(ds);
}
END_TEST

// No sets, or only empty ones: an allocation all the same (freed by the caller), nothing read.
START_TEST(test_load_parties_of_no_rows) {
    SampleLayout l;
    Dataset *ds = open_ci(&l);
    void *pool = sampleset_load_parties(NULL, 0, &l, ds, DS_TEST, NULL, NULL, NULL);
    ck_assert_ptr_nonnull(pool);
    xfree(pool);
    SampleSet s[2];
    int64_t n[2] = {0, 0};
    const int64_t *idx[2] = {NULL, NULL};
    const uint8_t *mask[2] = {NULL, NULL};
    pool = sampleset_load_parties(s, 2, &l, ds, DS_TEST, idx, mask, n);
    ck_assert_int_eq(s[0].n, 0);
    ck_assert_int_eq(s[1].n, 0);
    xfree(pool);
    dataset_close(ds);
}
END_TEST

Suite *samples_suite(void) {
    Suite *s = suite_create("samples");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, test_load_parties_matches_each_party_loaded_alone);
    tcase_add_test(tc, test_load_parties_of_no_rows);
    suite_add_tcase(s, tc);
    return s;
}
