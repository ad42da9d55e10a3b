// test_linalg.c - LAPACKE wrappers by their invariants (reconstruction, orthonormal factors, order
// of the spectrum, triangular R), small hand-computed cases, Procrustes recovering a known
// rotation, tall/wide/1×1 shapes, and bad input.
#include <check.h>
#include <math.h>
#include <stdlib.h>

#include "core/common.h"
#include "core/xalloc.h"
#include "helpers.h"
#include "tensor/linalg.h"

#define TOL_RECON 1e-10 /* double, backward-stable LAPACK drivers on O(1) entries, n <= 70 */
#define TOL_ORTH 1e-10  /* UᵀU = I in double for the same sizes */
#define TOL_HAND 1e-12  /* hand-computed spectra of 2×2 matrices */

static double *rand_matrix(int M, int N, uint32_t stream) {
    size_t n = (size_t)M * N;
    float *f = xmalloc(n * sizeof(float));
    double *a = xmalloc(n * sizeof(double));
    fill_uniform(f, n, -1, 1, stream);
    for (size_t i = 0; i < n; i++)
        a[i] = f[i];
    xfree(f);
    return a;
}

// c (M, N) = op(a) · op(b), naive loops in double: the oracle does not share LAPACK's code.
static void matmul(double *c, const double *a, int ta, const double *b, int tb, int M, int N,
                   int K) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double acc = 0;
            for (int k = 0; k < K; k++)
                acc += (ta ? a[(size_t)k * M + i] : a[(size_t)i * K + k]) *
                       (tb ? b[(size_t)j * K + k] : b[(size_t)k * N + j]);
            c[(size_t)i * N + j] = acc;
        }
}

static double frob(const double *a, size_t n) {
    double s = 0;
    for (size_t i = 0; i < n; i++)
        s += a[i] * a[i];
    return sqrt(s);
}

static double rel_diff(const double *a, const double *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++)
        d += (a[i] - b[i]) * (a[i] - b[i]);
    double nb = frob(b, n);
    return sqrt(d) / (nb > 0 ? nb : 1);
}

// max |(xᵀx)_ij - δ_ij| for x (M, K) (columns orthonormal); rows=1 checks x xᵀ (rows orthonormal).
static double orth_err(const double *x, int M, int K, int rows) {
    int n = rows ? M : K;
    double *g = xmalloc((size_t)n * n * sizeof(double)), e = 0;
    if (rows)
        matmul(g, x, 0, x, 1, M, M, K);
    else
        matmul(g, x, 1, x, 0, K, K, M);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < n; j++)
            e = fmax(e, fabs(g[(size_t)i * n + j] - (i == j)));
    xfree(g);
    return e;
}

// {M, N}: 1×1, tall, wide, square, odd tall.
static const int shapes[][2] = {{1, 1}, {7, 3}, {3, 7}, {40, 40}, {65, 17}, {1, 9}, {9, 1}};

START_TEST(test_svd_reconstructs_with_orthonormal_factors) {
    const int M = shapes[_i][0], N = shapes[_i][1], K = MIN(M, N);
    double *a = rand_matrix(M, N, 20 + (uint32_t)_i);
    double *u = xmalloc((size_t)M * K * sizeof(double)),
           *vt = xmalloc((size_t)K * N * sizeof(double));
    double *s = xmalloc((size_t)K * sizeof(double)), *s2 = xmalloc((size_t)K * sizeof(double));
    double *us = xmalloc((size_t)M * K * sizeof(double)),
           *rec = xmalloc((size_t)M * N * sizeof(double));
    double *u2 = xmalloc((size_t)M * K * sizeof(double)),
           *vt2 = xmalloc((size_t)K * N * sizeof(double));
    linalg_svd_thin(u, s, vt, a, M, N);
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++)
            us[(size_t)i * K + k] = u[(size_t)i * K + k] * s[k];
    matmul(rec, us, 0, vt, 0, M, N, K);
    ck_assert_msg(rel_diff(rec, a, (size_t)M * N) < TOL_RECON, "(%d, %d): ‖A − UΣVᵀ‖/‖A‖ = %g", M,
                  N, rel_diff(rec, a, (size_t)M * N));
    ck_assert_msg(orth_err(u, M, K, 0) < TOL_ORTH, "(%d, %d): UᵀU ≠ I", M, N);
    ck_assert_msg(orth_err(vt, K, N, 1) < TOL_ORTH, "(%d, %d): VᵀV ≠ I", M, N);
    for (int k = 0; k < K; k++) {
        ck_assert_msg(s[k] >= 0, "s[%d] = %g < 0", k, s[k]);
        if (k)
            ck_assert_msg(s[k] <= s[k - 1], "s not descending at %d: %g > %g", k, s[k], s[k - 1]);
    }
    // Values only, and one factor only, give the same values and factor (up to rounding).
    linalg_svd_thin(NULL, s2, NULL, a, M, N);
    ck_assert_msg(rel_diff(s2, s, (size_t)K) < TOL_RECON, "values-only s differs");
    linalg_svd_thin(u2, s2, NULL, a, M, N);
    ck_assert_msg(rel_diff(u2, u, (size_t)M * K) < TOL_RECON, "u-only U differs");
    linalg_svd_thin(NULL, s2, vt2, a, M, N);
    ck_assert_msg(rel_diff(vt2, vt, (size_t)K * N) < TOL_RECON, "vt-only Vᵀ differs");
    xfree(a), xfree(u), xfree(vt), xfree(s), xfree(s2), xfree(us), xfree(rec), xfree(u2),
        xfree(vt2);
}
END_TEST

START_TEST(test_svd_hand_values) {
    // diag(3, -4): singular values 4, 3; the sign goes into a factor. 1×1 [-2]: s = 2, u·vt = -1.
    const double a[4] = {3, 0, 0, -4};
    double u[4], s[2], vt[4];
    linalg_svd_thin(u, s, vt, a, 2, 2);
    ck_assert_double_eq_tol(s[0], 4, TOL_HAND);
    ck_assert_double_eq_tol(s[1], 3, TOL_HAND);
    const double b = -2;
    double ub, sb, vb;
    linalg_svd_thin(&ub, &sb, &vb, &b, 1, 1);
    ck_assert_double_eq_tol(sb, 2, TOL_HAND);
    ck_assert_double_eq_tol(ub * vb, -1, TOL_HAND);
}
END_TEST

START_TEST(test_qr_reconstructs_with_upper_triangular_r) {
    const int M = shapes[_i][0], N = shapes[_i][1];
    if (M < N) return; // thin QR needs M >= N; the wide shapes are SVD-only
    double *a = rand_matrix(M, N, 40 + (uint32_t)_i);
    double *q = xmalloc((size_t)M * N * sizeof(double)),
           *r = xmalloc((size_t)N * N * sizeof(double));
    double *rec = xmalloc((size_t)M * N * sizeof(double));
    linalg_qr_thin(q, r, a, M, N);
    matmul(rec, q, 0, r, 0, M, N, N);
    ck_assert_msg(rel_diff(rec, a, (size_t)M * N) < TOL_RECON, "(%d, %d): ‖A − QR‖/‖A‖ = %g", M, N,
                  rel_diff(rec, a, (size_t)M * N));
    ck_assert_msg(orth_err(q, M, N, 0) < TOL_ORTH, "(%d, %d): QᵀQ ≠ I", M, N);
    for (int i = 0; i < N; i++) {
        ck_assert_msg(r[(size_t)i * N + i] >= 0, "r[%d][%d] = %g < 0", i, i, r[(size_t)i * N + i]);
        for (int j = 0; j < i; j++)
            ck_assert_msg(r[(size_t)i * N + j] == 0, "r[%d][%d] = %g below the diagonal", i, j,
                          r[(size_t)i * N + j]);
    }
    xfree(a), xfree(q), xfree(r), xfree(rec);
}
END_TEST

START_TEST(test_qr_hand_value) {
    // [[3], [4]] = [[0.6], [0.8]] · [5]; [[-3], [-4]] flips q, keeps r = 5 (non-negative diagonal).
    const double a[2] = {-3, -4};
    double q[2], r;
    linalg_qr_thin(q, &r, a, 2, 1);
    ck_assert_double_eq_tol(r, 5, TOL_HAND);
    ck_assert_double_eq_tol(q[0], -0.6, TOL_HAND);
    ck_assert_double_eq_tol(q[1], -0.8, TOL_HAND);
}
END_TEST

START_TEST(test_eigh_reconstructs_ascending) {
    const int sizes[] = {1, 2, 5, 33};
    for (size_t t = 0; t < ARRAY_LEN(sizes); t++) {
        const int N = sizes[t];
        double *x = rand_matrix(N, N, 60 + (uint32_t)t);
        double *a = xmalloc((size_t)N * N * sizeof(double)),
               *v = xmalloc((size_t)N * N * sizeof(double));
        double *w = xmalloc((size_t)N * sizeof(double)),
               *vw = xmalloc((size_t)N * N * sizeof(double));
        double *rec = xmalloc((size_t)N * N * sizeof(double));
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                a[(size_t)i * N + j] = x[(size_t)i * N + j] + x[(size_t)j * N + i];
        linalg_eigh(w, v, a, N);
        for (int i = 0; i < N; i++)
            for (int j = 0; j < N; j++)
                vw[(size_t)i * N + j] = v[(size_t)i * N + j] * w[j];
        matmul(rec, vw, 0, v, 1, N, N, N);
        ck_assert_msg(rel_diff(rec, a, (size_t)N * N) < TOL_RECON, "N=%d: ‖A − VWVᵀ‖/‖A‖ = %g", N,
                      rel_diff(rec, a, (size_t)N * N));
        ck_assert_msg(orth_err(v, N, N, 0) < TOL_ORTH, "N=%d: VᵀV ≠ I", N);
        for (int i = 1; i < N; i++)
            ck_assert_msg(w[i] >= w[i - 1], "w not ascending at %d", i);
        xfree(x), xfree(a), xfree(v), xfree(w), xfree(vw), xfree(rec);
    }
    // [[2, 1], [1, 2]]: eigenvalues 1 and 3, eigenvector of 3 is ±(1, 1)/√2.
    const double a2[4] = {2, 1, 1, 2};
    double w2[2], v2[4];
    linalg_eigh(w2, v2, a2, 2);
    ck_assert_double_eq_tol(w2[0], 1, TOL_HAND);
    ck_assert_double_eq_tol(w2[1], 3, TOL_HAND);
    ck_assert_double_eq_tol(fabs(v2[1]), M_SQRT1_2, TOL_HAND);
    ck_assert_double_eq_tol(v2[1] * v2[3], 0.5, TOL_HAND); // column 1: same sign in both rows
}
END_TEST

START_TEST(test_procrustes_recovers_a_known_rotation) {
    const int M = 50, K = 6;
    double *a = rand_matrix(M, K, 80), *x = rand_matrix(K, K, 81);
    double *r0 = xmalloc((size_t)K * K * sizeof(double)),
           *rr = xmalloc((size_t)K * K * sizeof(double));
    double *tri = xmalloc((size_t)K * K * sizeof(double)),
           *b = xmalloc((size_t)M * K * sizeof(double));
    linalg_qr_thin(r0, tri, x, K, K); // a random orthogonal r0
    matmul(b, a, 0, r0, 0, M, K, K);
    linalg_procrustes(rr, a, b, M, K);
    ck_assert_msg(rel_diff(rr, r0, (size_t)K * K) < TOL_RECON, "recovered R differs: %g",
                  rel_diff(rr, r0, (size_t)K * K));
    // With noise on b: r is orthogonal and fits better than the identity and than r0's transpose.
    double *noise = rand_matrix(M, K, 82), *ar = xmalloc((size_t)M * K * sizeof(double));
    for (size_t i = 0; i < (size_t)M * K; i++)
        b[i] += 0.1 * noise[i];
    linalg_procrustes(rr, a, b, M, K);
    ck_assert_msg(orth_err(rr, K, K, 0) < TOL_ORTH, "Procrustes R is not orthogonal");
    matmul(ar, a, 0, rr, 0, M, K, K);
    double fit = rel_diff(ar, b, (size_t)M * K);
    matmul(ar, a, 0, r0, 0, M, K, K);
    ck_assert_msg(fit <= rel_diff(ar, b, (size_t)M * K), "worse than the true rotation");
    ck_assert_msg(fit <= rel_diff(a, b, (size_t)M * K), "worse than the identity");
    xfree(a), xfree(x), xfree(r0), xfree(rr), xfree(tri), xfree(b), xfree(noise), xfree(ar);
}
END_TEST

static void svd_zero_rows(void *arg) {
    double a[1] = {0}, s[1];
    (void)arg;
    linalg_svd_thin(NULL, s, NULL, a, 0, 1);
}
static void qr_wide(void *arg) {
    double a[6] = {0}, q[6], r[9];
    (void)arg;
    linalg_qr_thin(q, r, a, 2, 3);
}
static void svd_nan(void *arg) {
    double a[4] = {1, NAN, 0, 1}, s[2];
    (void)arg;
    linalg_svd_thin(NULL, s, NULL, a, 2, 2);
}
static void eigh_null(void *arg) {
    double a[4] = {0}, w[2];
    (void)arg;
    linalg_eigh(w, NULL, a, 2);
}

START_TEST(test_bad_input_dies) {
    expect_die(svd_zero_rows, NULL, "linalg_svd_thin", "shape (0, 1)");
    expect_die(qr_wide, NULL, "linalg_qr_thin", "shape (2, 3)", "M >= N");
    // LAPACKE rejects NaN input as an illegal argument: LAPACK_CHECK names the call and info.
    expect_die(svd_nan, NULL, "linalg_svd_thin", "LAPACKE_dgesdd", "info=-");
    expect_die(eigh_null, NULL, "linalg_eigh", "NULL buffer");
}
END_TEST

Suite *linalg_suite(void) {
    Suite *s = suite_create("linalg");
    TCase *tc = tcase_create("lapacke");
    tcase_add_loop_test(tc, test_svd_reconstructs_with_orthonormal_factors, 0,
                        (int)ARRAY_LEN(shapes));
    tcase_add_test(tc, test_svd_hand_values);
    tcase_add_loop_test(tc, test_qr_reconstructs_with_upper_triangular_r, 0,
                        (int)ARRAY_LEN(shapes));
    tcase_add_test(tc, test_qr_hand_value);
    tcase_add_test(tc, test_eigh_reconstructs_ascending);
    tcase_add_test(tc, test_procrustes_recovers_a_known_rotation);
    tcase_add_test(tc, test_bad_input_dies);
    suite_add_tcase(s, tc);
    return s;
}
