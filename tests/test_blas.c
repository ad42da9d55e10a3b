// test_blas.c - the row-major sgemm helper against its naive twin, for every transpose combination,
// with leading dimensions larger than the rows and with beta accumulation; bad arguments die.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/xalloc.h"
#include "helpers.h"
#include "tensor/blas.h"

// {M, N, K}: square, odd, degenerate-1 and rectangular shapes.
static const int gemm_shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 1, 9}, {1, 33, 2}, {64, 48, 31}};

START_TEST(test_sgemm_matches_naive_twin_for_all_transposes) {
    const int M = gemm_shapes[_i][0], N = gemm_shapes[_i][1], K = gemm_shapes[_i][2];
    const int pad = 3; // leading dimensions larger than the logical row length
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            int lda = (ta ? M : K) + pad, ldb = (tb ? K : N) + pad, ldc = N + pad;
            size_t na = (size_t)(ta ? K : M) * lda, nb = (size_t)(tb ? N : K) * ldb,
                   nc = (size_t)M * ldc;
            float *A = xmalloc(na * sizeof(float)), *B = xmalloc(nb * sizeof(float));
            float *C = xmalloc(nc * sizeof(float)), *Cref = xmalloc(nc * sizeof(float));
            fill_uniform(A, na, -1, 1, 1);
            fill_uniform(B, nb, -1, 1, 2);
            fill_uniform(C, nc, -1, 1, 3);
            for (size_t i = 0; i < nc; i++)
                Cref[i] = C[i];
            sgemm_rm(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 2.0f, C, ldc);
            sgemm_rm_ref(ta, tb, M, N, K, 0.5f, A, lda, B, ldb, 2.0f, Cref, ldc);
            ck_assert_floats_near(C, Cref, nc, TOL_BLAS_REF, TOL_BLAS_REF);
            xfree(A), xfree(B), xfree(C), xfree(Cref);
        }
}
END_TEST

START_TEST(test_sgemm_beta_zero_ignores_nan_in_output) {
    // BLAS semantics: with beta = 0, C is written, not read, so stale NaN must not leak through.
    float A[2] = {1, 2}, B[2] = {3, 4}, C[4] = {NAN, NAN, NAN, NAN}, Cref[4] = {NAN, NAN, NAN, NAN};
    sgemm_rm(0, 0, 2, 2, 1, 1.0f, A, 1, B, 2, 0.0f, C, 2);
    sgemm_rm_ref(0, 0, 2, 2, 1, 1.0f, A, 1, B, 2, 0.0f, Cref, 2);
    const float want[4] = {3, 4, 6, 8};
    ck_assert_floats_near(C, want, 4, 0, 0);
    ck_assert_floats_near(Cref, want, 4, 0, 0);
}
END_TEST

static void gemm_small_lda(void *arg) {
    float buf[16] = {0};
    (void)arg;
    sgemm_rm(0, 0, 2, 2, 4, 1.0f, buf, 3, buf, 2, 0.0f, buf, 2);
}

static void gemm_null(void *arg) {
    float buf[4] = {0};
    (void)arg;
    sgemm_rm(0, 0, 2, 2, 1, 1.0f, NULL, 1, buf, 2, 0.0f, buf, 2);
}

START_TEST(test_sgemm_bad_arguments_die_with_shapes) {
    expect_die(gemm_small_lda, NULL, "sgemm_rm", "lda=3 too small", "(2, 4)");
    expect_die(gemm_null, NULL, "NULL buffer");
}
END_TEST

Suite *blas_suite(void) {
    Suite *s = suite_create("blas");
    TCase *tc = tcase_create("sgemm");
    tcase_add_loop_test(tc, test_sgemm_matches_naive_twin_for_all_transposes, 0,
                        (int)(sizeof gemm_shapes / sizeof gemm_shapes[0]));
    tcase_add_test(tc, test_sgemm_beta_zero_ignores_nan_in_output);
    tcase_add_test(tc, test_sgemm_bad_arguments_die_with_shapes);
    suite_add_tcase(s, tc);
    return s;
}
