// blas.h - row-major CBLAS helpers with shape checks, and their naive twins for tests.
#pragma once

#include <stddef.h>

// C (M, N) = alpha * op(A) * op(B) + beta * C, all row-major; op(A) is (M, K), op(B) is (K, N).
// ta / tb: 0 = as stored, 1 = transposed (A stored (K, M) / B stored (N, K)). Leading dimensions
// are the stored row lengths. CHECKs sizes >= 0, counts <= INT_MAX and non-NULL buffers. Local.
void sgemm_rm(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
              const float *B, int ldb, float beta, float *C, int ldc);
// The same with triple loops, accumulating in double. Tests only.
void sgemm_rm_ref(int ta, int tb, int M, int N, int K, float alpha, const float *A, int lda,
                  const float *B, int ldb, float beta, float *C, int ldc);

// Name of the BLAS core in use (openblas_get_corename) and its thread count, for startup logs.
const char *blas_core_name(void);
int blas_num_threads(void);
void blas_set_num_threads(int n);
