// linalg.h - dense linear algebra on one rank through LAPACKE (row-major), double precision:
// thin SVD (gesdd), thin QR (geqrf + orgqr), symmetric eigendecomposition (syevd) and orthogonal
// Procrustes. Workspace is allocated inside (these run on the server, off the hot path).
// Numerical failures (info > 0) and bad arguments are LAPACK_CHECK failures.
#pragma once

// a (M, N) = u (M, K) · diag(s (K)) · vt (K, N), K = min(M, N), s descending. u or vt may be NULL
// (values only). a is not modified. Local.
void linalg_svd_thin(double *u, double *s, double *vt, const double *a, int M, int N);
// a (M, N), M >= N: a = q (M, N) · r (N, N), r upper triangular with a non-negative diagonal (the
// sign convention makes q unique for full-rank a). Local.
void linalg_qr_thin(double *q, double *r, const double *a, int M, int N);
// Symmetric a (N, N) (upper triangle read): a = v · diag(w) · vᵀ, w (N) ascending, eigenvectors are
// the COLUMNS of v (N, N). Local.
void linalg_eigh(double *w, double *v, const double *a, int N);
// Orthogonal r (K, K) minimising ‖a · r - b‖_F for a, b (M, K): r = U Vᵀ from aᵀ b = U Σ Vᵀ. Local.
void linalg_procrustes(double *r, const double *a, const double *b, int M, int K);
