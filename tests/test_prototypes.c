// test_prototypes.c - prototype sums and counts by hand: masks honoured (absent rows skipped
// whatever their label), accumulation across calls; bad labels die. (The means are formed by the
// exact reduction, tests/mpi/test_mpi_proto_reduce.c.)
#include <check.h>
#include <string.h>

#include "helpers.h"
#include "protocols/prototypes.h"

enum { K = 3, M = 2, D = 2 };

START_TEST(test_sums_and_counts_by_hand) {
    // Modality 0: rows 0, 1, 3 present; row 2 absent (its label 2 must not matter).
    // Modality 1: rows 1, 2 present.
    const float emb0[4 * D] = {1, 2, 3, 4, 100, 100, -1, 0.5f};
    const float emb1[4 * D] = {9, 9, 2, -2, 6, 0, 9, 9};
    const int labels[4] = {0, 0, 2, 1};
    const uint8_t mask[4 * M] = {1, 0, 1, 1, 0, 1, 1, 0};
    double sums[K * M * D] = {0};
    int64_t counts[K * M] = {0};
    proto_accumulate(sums, counts, emb0, labels, mask, 4, D, K, M, 0);
    proto_accumulate(sums, counts, emb1, labels, mask, 4, D, K, M, 1);
    // [class][modality][d]
    const double want_sums[K * M * D] = {4,
                                         6,
                                         2,
                                         -2,
                                         /* class 1 */ -1,
                                         0.5,
                                         0,
                                         0,
                                         /* class 2 */ 0,
                                         0,
                                         6,
                                         0};
    const int64_t want_counts[K * M] = {2, 1, 1, 0, 0, 1};
    ck_assert_mem_eq(sums, want_sums, sizeof sums);
    ck_assert_mem_eq(counts, want_counts, sizeof counts);
}
END_TEST

START_TEST(test_null_mask_is_all_present_and_calls_accumulate) {
    const float emb[3 * D] = {1, 1, 2, 4, 0.25f, -3};
    const int labels[3] = {1, 1, 1};
    double sums[K * M * D] = {0};
    int64_t counts[K * M] = {0};
    // Twice the same rows: sums and counts double (+=), the mean stays.
    proto_accumulate(sums, counts, emb, labels, NULL, 3, D, K, M, 1);
    proto_accumulate(sums, counts, emb, labels, NULL, 3, D, K, M, 1);
    ck_assert_int_eq(counts[1 * M + 1], 6);
    ck_assert(sums[(1 * M + 1) * D + 0] == 2 * 3.25 && sums[(1 * M + 1) * D + 1] == 2 * 2.0);
    for (int i = 0; i < K * M * D; i++) // nothing else was touched
        if (i / D != 1 * M + 1) ck_assert_msg(sums[i] == 0, "sums[%d] = %g", i, sums[i]);
}
END_TEST

// A 1-row call whose only present row has label K.
static void bad_label(void *arg) {
    (void)arg;
    const float emb[D] = {1, 2};
    const int labels[1] = {K};
    double sums[K * M * D] = {0};
    int64_t counts[K * M] = {0};
    proto_accumulate(sums, counts, emb, labels, NULL, 1, D, K, M, 0);
}

static void bad_modality(void *arg) {
    (void)arg;
    double sums[K * M * D] = {0};
    int64_t counts[K * M] = {0};
    proto_accumulate(sums, counts, NULL, NULL, NULL, 0, D, K, M, M);
}

START_TEST(test_bad_label_or_modality_dies_with_the_values) {
    expect_die(bad_label, NULL, "proto_accumulate", "label 3", "K=3");
    expect_die(bad_modality, NULL, "proto_accumulate", "m=2", "M=2");
    // An absent row's label is never read: out of range there is fine.
    const float emb[D] = {1, 2};
    const int labels[1] = {-7};
    const uint8_t mask[M] = {0, 1};
    double sums[K * M * D] = {0};
    int64_t counts[K * M] = {0};
    proto_accumulate(sums, counts, emb, labels, mask, 1, D, K, M, 0);
    for (int i = 0; i < K * M; i++)
        ck_assert_int_eq(counts[i], 0);
}
END_TEST

Suite *prototypes_suite(void) {
    Suite *s = suite_create("prototypes");
    TCase *tc = tcase_create("accumulate");
    tcase_add_test(tc, test_sums_and_counts_by_hand);
    tcase_add_test(tc, test_null_mask_is_all_present_and_calls_accumulate);
    tcase_add_test(tc, test_bad_label_or_modality_dies_with_the_values);
    suite_add_tcase(s, tc);
    return s;
}
