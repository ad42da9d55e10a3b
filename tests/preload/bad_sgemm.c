// bad_sgemm.c - a cblas_sgemm that is wrong by a little, preloaded by test_blas.c into
// build/bin/blas_check to show that the self-check catches a kernel that computes wrong results
// (as OpenBLAS builds have on CPUs they mistook). It calls the real sgemm, then spoils one element
// per product: the last of C, by one part in a thousand, as a miscomputed edge tile would.
#define _GNU_SOURCE
#include <cblas.h>
#include <dlfcn.h>

typedef void (*SgemmFn)(CBLAS_ORDER, CBLAS_TRANSPOSE, CBLAS_TRANSPOSE, blasint, blasint, blasint,
                        float, const float *, blasint, const float *, blasint, float, float *,
                        blasint);

void cblas_sgemm(CBLAS_ORDER order, CBLAS_TRANSPOSE ta, CBLAS_TRANSPOSE tb, blasint M, blasint N,
                 blasint K, float alpha, const float *A, blasint lda, const float *B, blasint ldb,
                 float beta, float *C, blasint ldc) {
    SgemmFn real = (SgemmFn)dlsym(RTLD_NEXT, "cblas_sgemm");
    real(order, ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    if (M > 1 && N > 1) {
        float *last = &C[(order == CblasRowMajor ? (M - 1) * ldc + N - 1 : (N - 1) * ldc + M - 1)];
        *last += 1e-3f * (*last >= 0 ? 1 : -1) * (*last == 0 ? 1 : *last);
    }
}
