// linalg.c - see linalg.h. Row-major LAPACKE drivers on copies of the inputs (LAPACK overwrites
// its matrix argument); the high-level LAPACKE calls allocate their own workspace.
#include "tensor/linalg.h"

#include <cblas.h>
#include <lapacke.h>
#include <string.h>

#include "core/common.h"
#include "core/die.h"
#include "core/xalloc.h"

static double *copy_matrix(const double *a, size_t n) {
    double *c = xmalloc(n * sizeof(double));
    memcpy(c, a, n * sizeof(double));
    return c;
}

void linalg_svd_thin(double *u, double *s, double *vt, const double *a, int M, int N) {
    CHECK(M >= 1 && N >= 1, "linalg_svd_thin: shape (%d, %d), expected positive", M, N);
    CHECK(a && s, "linalg_svd_thin: NULL buffer (a=%p s=%p)", (const void *)a, (void *)s);
    const int K = MIN(M, N);
    double *ac = copy_matrix(a, (size_t)M * N);
    if (!u && !vt) {
        LAPACK_CHECK(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'N', M, N, ac, N, s, NULL, K, NULL, N));
    } else {
        // gesdd computes both factors in 'S' mode; a missing one goes to scratch.
        double *uu = u ? u : xmalloc((size_t)M * K * sizeof(double));
        double *vv = vt ? vt : xmalloc((size_t)K * N * sizeof(double));
        LAPACK_CHECK(LAPACKE_dgesdd(LAPACK_ROW_MAJOR, 'S', M, N, ac, N, s, uu, K, vv, N));
        if (!u) xfree(uu);
        if (!vt) xfree(vv);
    }
    xfree(ac);
}

void linalg_qr_thin(double *q, double *r, const double *a, int M, int N) {
    CHECK(N >= 1 && M >= N, "linalg_qr_thin: shape (%d, %d), expected M >= N >= 1", M, N);
    CHECK(q && r && a, "linalg_qr_thin: NULL buffer (q=%p r=%p a=%p)", (void *)q, (void *)r,
          (const void *)a);
    double *tau = xmalloc((size_t)N * sizeof(double));
    memcpy(q, a, (size_t)M * N * sizeof(double));
    LAPACK_CHECK(LAPACKE_dgeqrf(LAPACK_ROW_MAJOR, M, N, q, N, tau));
    for (int i = 0; i < N; i++)
        for (int j = 0; j < N; j++)
            r[(size_t)i * N + j] = j >= i ? q[(size_t)i * N + j] : 0.0;
    LAPACK_CHECK(LAPACKE_dorgqr(LAPACK_ROW_MAJOR, M, N, N, q, N, tau));
    // Householder QR leaves the signs of diag(r) arbitrary; flipping row i of r with column i of q
    // keeps q·r unchanged and makes the factorisation unique.
    for (int i = 0; i < N; i++) {
        if (r[(size_t)i * N + i] >= 0) continue;
        for (int j = i; j < N; j++)
            r[(size_t)i * N + j] = -r[(size_t)i * N + j];
        for (int k = 0; k < M; k++)
            q[(size_t)k * N + i] = -q[(size_t)k * N + i];
    }
    xfree(tau);
}

void linalg_eigh(double *w, double *v, const double *a, int N) {
    CHECK(N >= 1, "linalg_eigh: N = %d, expected >= 1", N);
    CHECK(w && v && a, "linalg_eigh: NULL buffer (w=%p v=%p a=%p)", (void *)w, (void *)v,
          (const void *)a);
    memcpy(v, a, (size_t)N * N * sizeof(double));
    LAPACK_CHECK(LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', N, v, N, w));
}

void linalg_procrustes(double *r, const double *a, const double *b, int M, int K) {
    CHECK(M >= 1 && K >= 1, "linalg_procrustes: shape (%d, %d), expected positive", M, K);
    CHECK(r && a && b, "linalg_procrustes: NULL buffer (r=%p a=%p b=%p)", (void *)r,
          (const void *)a, (const void *)b);
    double *c = xmalloc((size_t)K * K * sizeof(double)), *s = xmalloc((size_t)K * sizeof(double));
    double *uu = xmalloc((size_t)K * K * sizeof(double)),
           *vt = xmalloc((size_t)K * K * sizeof(double));
    // c = aᵀ b (K, K); max tr(rᵀ c) over orthogonal r is reached at r = U Vᵀ.
    cblas_dgemm(CblasRowMajor, CblasTrans, CblasNoTrans, K, K, M, 1.0, a, K, b, K, 0.0, c, K);
    linalg_svd_thin(uu, s, vt, c, K, K);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, K, K, K, 1.0, uu, K, vt, K, 0.0, r, K);
    xfree(c), xfree(s), xfree(uu), xfree(vt);
}
