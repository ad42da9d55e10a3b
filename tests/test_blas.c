// test_blas.c - the row-major sgemm helper against its naive twin, for every transpose combination,
// with leading dimensions larger than the rows and with beta accumulation; bad arguments die. And
// the core-type self-check (build/bin/blas_check, scripts/blas_core.sh) that lets make run and make
// bench use faster OpenBLAS kernels: it passes under working kernels, fails under a preloaded
// sgemm that spoils one element and under kernels the CPU cannot run, and then the command runs
// under the environment's own setting. Runs from the repository root (where make test runs).
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

// The CPU's flags, from /proc/cpuinfo: 1 when the word is among them.
static int cpu_has(const char *flag) {
    char out[64];
    return run_command(out, sizeof out, "grep -qw %s /proc/cpuinfo", flag) == 0;
}

static const char *lib_dir(void) {
    return getenv("MMC_LIB_DIR") ? getenv("MMC_LIB_DIR") : "build/lib";
}

START_TEST(test_blas_check_passes_and_catches_a_wrong_sgemm) {
    char out[1024];
    int rc = run_command(out, sizeof out, "%s/blas_check 2>&1", mmc_bin());
    ck_assert_msg(rc == 0 && strstr(out, " ok\n"), "blas_check under the environment: exit %d: %s",
                  rc, out);
    ck_assert_int_eq((int)value_after(out, "cases="), 480);
    rc = run_command(out, sizeof out, "LD_PRELOAD=%s/libbadsgemm.so %s/blas_check 2>&1", lib_dir(),
                     mmc_bin());
    ck_assert_msg(rc == 1 && strstr(out, " FAIL\n"), "a spoiled sgemm passed: exit %d: %s", rc,
                  out);
    ck_assert_msg(value_after(out, "worst=") > 100, "%s", out);
}
END_TEST

START_TEST(test_blas_core_wrapper_uses_a_candidate_only_after_its_check) {
    if (!cpu_has("avx")) return; // Sandybridge's kernels need AVX
    char out[2048];
    const char *show = "sh -c 'echo CT=${OPENBLAS_CORETYPE-unset}'";
    // A candidate that works: the command runs under it, and the line says the check passed.
    int rc = run_command(out, sizeof out,
                         "env -u OPENBLAS_CORETYPE MMC_BLAS_CANDIDATES=Sandybridge "
                         "scripts/blas_core.sh %s/blas_check -- %s 2>&1",
                         mmc_bin(), show);
    ck_assert_msg(rc == 0 && strstr(out, "CT=Sandybridge\n") &&
                      strstr(out, "# OpenBLAS core type: Sandybridge (self-check passed"),
                  "exit %d: %s", rc, out);
    // No candidate: the environment's setting, set or unset, reaches the command as it was.
    rc = run_command(out, sizeof out,
                     "env -u OPENBLAS_CORETYPE MMC_BLAS_CANDIDATES= scripts/blas_core.sh "
                     "%s/blas_check -- %s 2>&1",
                     mmc_bin(), show);
    ck_assert_msg(rc == 0 && strstr(out, "CT=unset\n"), "exit %d: %s", rc, out);
    // SkylakeX: without AVX-512 its kernels die of SIGILL in the check, and the command keeps the
    // environment's Sandybridge; with AVX-512 they pass and are used.
    rc = run_command(
        out, sizeof out,
        "OPENBLAS_CORETYPE=Sandybridge MMC_BLAS_CANDIDATES=SkylakeX scripts/blas_core.sh "
        "%s/blas_check -- %s 2>&1",
        mmc_bin(), show);
    if (cpu_has("avx512f"))
        ck_assert_msg(rc == 0 && strstr(out, "CT=SkylakeX\n"), "exit %d: %s", rc, out);
    else
        ck_assert_msg(rc == 0 && strstr(out, "CT=Sandybridge\n") &&
                          strstr(out, "SkylakeX failed its self-check (killed by signal 4"),
                      "exit %d: %s", rc, out);
    // A spoiled sgemm fails every candidate: the command still runs, under the environment's.
    rc = run_command(out, sizeof out,
                     "LD_PRELOAD=%s/libbadsgemm.so OPENBLAS_CORETYPE=Sandybridge "
                     "MMC_BLAS_CANDIDATES=Haswell scripts/blas_core.sh %s/blas_check -- env -u "
                     "LD_PRELOAD %s 2>&1",
                     lib_dir(), mmc_bin(), show);
    ck_assert_msg(rc == 0 && strstr(out, "CT=Sandybridge\n") && strstr(out, "Haswell failed"),
                  "exit %d: %s", rc, out);
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
    tc = tcase_create("core_type");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_blas_check_passes_and_catches_a_wrong_sgemm);
    tcase_add_test(tc, test_blas_core_wrapper_uses_a_candidate_only_after_its_check);
    suite_add_tcase(s, tc);
    return s;
}
