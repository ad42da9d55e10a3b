// blas.c - see blas.h.
#include "tensor/blas.h"

#include <cblas.h>

#include "core/common.h"
#include "core/die.h"

// OpenBLAS extensions (declared in its cblas.h on Debian, repeated here for other CBLAS headers).
char *openblas_get_corename(void);
int openblas_get_num_threads(void);
void openblas_set_num_threads(int n);

// fn names the public caller in messages (the static helper's own name would say nothing).
static void check_gemm_args(const char *fn, int ta, int tb, int M, int N, int K, const float *A,
                            int lda, const float *B, int ldb, const float *C, int ldc) {
    CHECK(M >= 0 && N >= 0 && K >= 0, "%s: negative size M=%d N=%d K=%d", fn, M, N, K);
    CHECK((A && B && C) || M == 0 || N == 0, "%s: NULL buffer (A=%p B=%p C=%p)", fn,
          (const void *)A, (const void *)B, (const void *)C);
    CHECK(lda >= MAX(1, ta ? M : K), "%s: lda=%d too small for op(A) (%d, %d), ta=%d", fn, lda, M,
          K, ta);
    CHECK(ldb >= MAX(1, tb ? K : N), "%s: ldb=%d too small for op(B) (%d, %d), tb=%d", fn, ldb, K,
          N, tb);
    CHECK(ldc >= MAX(1, N), "%s: ldc=%d too small for C (%d, %d)", fn, ldc, M, N);
}

void sgemm_rm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc) {
    check_gemm_args(__func__, ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
    if (M == 0 || N == 0) return;
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans, M, N,
                K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_rm_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc) {
    check_gemm_args(__func__, ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++) {
                double a = ta ? A[(size_t)k * lda + i] : A[(size_t)i * lda + k];
                double b = tb ? B[(size_t)j * ldb + k] : B[(size_t)k * ldb + j];
                acc += a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * acc + (beta == 0.0f ? 0.0 : (double)beta * *c));
        }
}

const char *blas_core_name(void) { return openblas_get_corename(); }
int blas_num_threads(void) { return openblas_get_num_threads(); }
void blas_set_num_threads(int n) { openblas_set_num_threads(n); }
